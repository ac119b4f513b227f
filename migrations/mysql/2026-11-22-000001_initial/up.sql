-- Finstage schema, MySQL/MariaDB dialect (InnoDB, utf8mb4). The MySQL and SQLite migrations create the same tables
-- and columns (finstage-store's tests compare the three). Timestamps are UTC, without a zone.
-- Each index names the repository queries it serves.

CREATE TABLE symbols (
    symbol      VARCHAR(32)  NOT NULL PRIMARY KEY,
    name        VARCHAR(200),
    category    VARCHAR(16)  NOT NULL,
    currency    VARCHAR(8),
    exchange    VARCHAR(32),
    timezone    VARCHAR(64),
    active      TINYINT(1)      NOT NULL DEFAULT 1,
    added_at    DATETIME(6)    NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- SymbolRepo::active: the watchlist.
CREATE INDEX symbols_active ON symbols (active, symbol);

-- Daily bars. The key (symbol, date) serves the upsert's conflict target, the range query
-- (symbol = ? AND date BETWEEN ? AND ?, ordered by date), the latest-N query (symbol = ?
-- ORDER BY date DESC LIMIT n) and the latest bar of many symbols (a lookup of the largest date
-- per symbol): no other index is needed.
CREATE TABLE daily_bars (
    symbol      VARCHAR(32)      NOT NULL,
    date        DATE             NOT NULL,
    open        DOUBLE NOT NULL,
    high        DOUBLE NOT NULL,
    low         DOUBLE NOT NULL,
    close       DOUBLE NOT NULL,
    adj_close   DOUBLE,
    volume      BIGINT           NOT NULL,
    PRIMARY KEY (symbol, date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Intraday bars; the key serves the upsert and the range query per (symbol, interval).
CREATE TABLE intraday_bars (
    symbol       VARCHAR(32)      NOT NULL,
    bar_interval VARCHAR(4)       NOT NULL,
    ts           DATETIME(6)        NOT NULL,
    open         DOUBLE NOT NULL,
    high         DOUBLE NOT NULL,
    low          DOUBLE NOT NULL,
    close        DOUBLE NOT NULL,
    volume       BIGINT           NOT NULL,
    PRIMARY KEY (symbol, bar_interval, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The latest quote of each symbol (one row per symbol, overwritten).
CREATE TABLE quotes_latest (
    symbol          VARCHAR(32)      NOT NULL PRIMARY KEY,
    price           DOUBLE NOT NULL,
    previous_close  DOUBLE,
    open            DOUBLE,
    day_high        DOUBLE,
    day_low         DOUBLE,
    volume          BIGINT,
    currency        VARCHAR(8),
    quoted_at       DATETIME(6)        NOT NULL,
    updated_at      DATETIME(6)        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The all-time high of each symbol, with its date.
CREATE TABLE price_high_records (
    symbol      VARCHAR(32)      NOT NULL PRIMARY KEY,
    high        DOUBLE NOT NULL,
    high_date   DATE             NOT NULL,
    updated_at  DATETIME(6)        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every new all-time high, in order; the key serves HighRepo::history (symbol = ? ORDER BY date).
CREATE TABLE price_high_history (
    symbol         VARCHAR(32)      NOT NULL,
    date           DATE             NOT NULL,
    high           DOUBLE NOT NULL,
    previous_high  DOUBLE,
    PRIMARY KEY (symbol, date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The previous session's close, high and low, per symbol and day.
CREATE TABLE price_snapshots (
    symbol          VARCHAR(32)      NOT NULL,
    date            DATE             NOT NULL,
    previous_close  DOUBLE NOT NULL,
    previous_high   DOUBLE NOT NULL,
    previous_low    DOUBLE NOT NULL,
    PRIMARY KEY (symbol, date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE signals (
    id            BIGINT           NOT NULL AUTO_INCREMENT PRIMARY KEY,
    symbol        VARCHAR(32)      NOT NULL,
    kind          VARCHAR(48)      NOT NULL,
    timeframe     VARCHAR(8)       NOT NULL,
    triggered_at  DATETIME(6)        NOT NULL,
    price         DOUBLE NOT NULL,
    values_json   TEXT             NOT NULL,
    created_at    DATETIME(6)        NOT NULL,
    CONSTRAINT signals_unique UNIQUE (symbol, kind, timeframe, triggered_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- SignalRepo::list: newest first, optionally by symbol, kind, since; the cursor is
-- (triggered_at, id). Per-symbol lists use the first index, the others the second.
CREATE INDEX signals_symbol_time ON signals (symbol, triggered_at, id);
CREATE INDEX signals_time ON signals (triggered_at, id);

-- One outcome per signal, deleted with it.
CREATE TABLE signal_outcomes (
    signal_id     BIGINT           NOT NULL PRIMARY KEY,
    price_1h      DOUBLE,
    return_1h     DOUBLE,
    success_1h    TINYINT(1),
    price_4h      DOUBLE,
    return_4h     DOUBLE,
    success_4h    TINYINT(1),
    price_1d      DOUBLE,
    return_1d     DOUBLE,
    success_1d    TINYINT(1),
    price_1w      DOUBLE,
    return_1w     DOUBLE,
    success_1w    TINYINT(1),
    price_1m      DOUBLE,
    return_1m     DOUBLE,
    success_1m    TINYINT(1),
    completed     TINYINT(1)          NOT NULL DEFAULT 0,
    updated_at    DATETIME(6)        NOT NULL,
    CONSTRAINT signal_outcomes_signal FOREIGN KEY (signal_id) REFERENCES signals (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- OutcomeRepo::pending: the outcomes still to complete.
CREATE INDEX signal_outcomes_pending ON signal_outcomes (completed, signal_id);

-- Alerts sent, for deduplication: AlertRepo::sent_since (dedupe_key = ? AND sent_at >= ?).
CREATE TABLE alert_log (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    dedupe_key  VARCHAR(191) NOT NULL,
    sent_at     DATETIME(6)    NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX alert_log_key_time ON alert_log (dedupe_key, sent_at);

-- Notifications and their delivery: NotificationRepo::by_status (status = ? ORDER BY created_at).
CREATE TABLE notification_log (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel     VARCHAR(32)  NOT NULL,
    status      VARCHAR(16)  NOT NULL,
    attempts    INTEGER      NOT NULL,
    error       TEXT,
    created_at  DATETIME(6)    NOT NULL,
    updated_at  DATETIME(6)    NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX notification_log_status ON notification_log (status, created_at);

-- Statements slower than the threshold: their kind and duration, never their bound values.
CREATE TABLE slow_queries (
    id           BIGINT           NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind         VARCHAR(64)      NOT NULL,
    duration_ms  DOUBLE NOT NULL,
    occurred_at  DATETIME(6)        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX slow_queries_time ON slow_queries (occurred_at);
