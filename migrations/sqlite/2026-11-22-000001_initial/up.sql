-- Finstage schema, SQLite dialect (types by affinity: DATE and TIMESTAMP as ISO-8601 text).
-- Tables keyed by (symbol, date) are WITHOUT ROWID: stored in their key's order, one B-tree
-- instead of a table and an index.. The MySQL and SQLite migrations create the same tables
-- and columns (finstage-store's tests compare the three). Timestamps are UTC, without a zone.
-- Each index names the repository queries it serves.

CREATE TABLE symbols (
    symbol      VARCHAR(32)  NOT NULL PRIMARY KEY,
    name        VARCHAR(200),
    category    VARCHAR(16)  NOT NULL,
    currency    VARCHAR(8),
    exchange    VARCHAR(32),
    timezone    VARCHAR(64),
    active      BOOLEAN      NOT NULL DEFAULT 1,
    added_at    TIMESTAMP    NOT NULL
);
-- SymbolRepo::active: the watchlist.
CREATE INDEX symbols_active ON symbols (active, symbol);

-- Daily bars. The key (symbol, date) serves the upsert's conflict target, the range query
-- (symbol = ? AND date BETWEEN ? AND ?, ordered by date), the latest-N query (symbol = ?
-- ORDER BY date DESC LIMIT n) and the latest bar of many symbols (a lookup of the largest date
-- per symbol): no other index is needed.
CREATE TABLE daily_bars (
    symbol      VARCHAR(32)      NOT NULL,
    date        DATE             NOT NULL,
    open        DOUBLE PRECISION NOT NULL,
    high        DOUBLE PRECISION NOT NULL,
    low         DOUBLE PRECISION NOT NULL,
    close       DOUBLE PRECISION NOT NULL,
    adj_close   DOUBLE PRECISION,
    volume      BIGINT           NOT NULL,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

-- Intraday bars; the key serves the upsert and the range query per (symbol, interval).
CREATE TABLE intraday_bars (
    symbol       VARCHAR(32)      NOT NULL,
    bar_interval VARCHAR(4)       NOT NULL,
    ts           TIMESTAMP        NOT NULL,
    open         DOUBLE PRECISION NOT NULL,
    high         DOUBLE PRECISION NOT NULL,
    low          DOUBLE PRECISION NOT NULL,
    close        DOUBLE PRECISION NOT NULL,
    volume       BIGINT           NOT NULL,
    PRIMARY KEY (symbol, bar_interval, ts)
) WITHOUT ROWID;

-- The latest quote of each symbol (one row per symbol, overwritten).
CREATE TABLE quotes_latest (
    symbol          VARCHAR(32)      NOT NULL PRIMARY KEY,
    price           DOUBLE PRECISION NOT NULL,
    previous_close  DOUBLE PRECISION,
    open            DOUBLE PRECISION,
    day_high        DOUBLE PRECISION,
    day_low         DOUBLE PRECISION,
    volume          BIGINT,
    currency        VARCHAR(8),
    quoted_at       TIMESTAMP        NOT NULL,
    updated_at      TIMESTAMP        NOT NULL
);

-- The all-time high of each symbol, with its date.
CREATE TABLE price_high_records (
    symbol      VARCHAR(32)      NOT NULL PRIMARY KEY,
    high        DOUBLE PRECISION NOT NULL,
    high_date   DATE             NOT NULL,
    updated_at  TIMESTAMP        NOT NULL
);

-- Every new all-time high, in order; the key serves HighRepo::history (symbol = ? ORDER BY date).
CREATE TABLE price_high_history (
    symbol         VARCHAR(32)      NOT NULL,
    date           DATE             NOT NULL,
    high           DOUBLE PRECISION NOT NULL,
    previous_high  DOUBLE PRECISION,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

-- The previous session's close, high and low, per symbol and day.
CREATE TABLE price_snapshots (
    symbol          VARCHAR(32)      NOT NULL,
    date            DATE             NOT NULL,
    previous_close  DOUBLE PRECISION NOT NULL,
    previous_high   DOUBLE PRECISION NOT NULL,
    previous_low    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

CREATE TABLE signals (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    symbol        VARCHAR(32)      NOT NULL,
    kind          VARCHAR(48)      NOT NULL,
    timeframe     VARCHAR(8)       NOT NULL,
    triggered_at  TIMESTAMP        NOT NULL,
    price         DOUBLE PRECISION NOT NULL,
    values_json   TEXT             NOT NULL,
    created_at    TIMESTAMP        NOT NULL,
    CONSTRAINT signals_unique UNIQUE (symbol, kind, timeframe, triggered_at)
);
-- SignalRepo::list: newest first, optionally by symbol, kind, since; the cursor is
-- (triggered_at, id). Per-symbol lists use the first index, the others the second.
CREATE INDEX signals_symbol_time ON signals (symbol, triggered_at, id);
CREATE INDEX signals_time ON signals (triggered_at, id);

-- One outcome per signal, deleted with it.
CREATE TABLE signal_outcomes (
    signal_id     BIGINT           NOT NULL PRIMARY KEY REFERENCES signals (id) ON DELETE CASCADE,
    price_1h      DOUBLE PRECISION,
    return_1h     DOUBLE PRECISION,
    success_1h    BOOLEAN,
    price_4h      DOUBLE PRECISION,
    return_4h     DOUBLE PRECISION,
    success_4h    BOOLEAN,
    price_1d      DOUBLE PRECISION,
    return_1d     DOUBLE PRECISION,
    success_1d    BOOLEAN,
    price_1w      DOUBLE PRECISION,
    return_1w     DOUBLE PRECISION,
    success_1w    BOOLEAN,
    price_1m      DOUBLE PRECISION,
    return_1m     DOUBLE PRECISION,
    success_1m    BOOLEAN,
    completed     BOOLEAN          NOT NULL DEFAULT 0,
    updated_at    TIMESTAMP        NOT NULL
);
-- OutcomeRepo::pending: the outcomes still to complete.
CREATE INDEX signal_outcomes_pending ON signal_outcomes (completed, signal_id);

-- Alerts sent, for deduplication: AlertRepo::sent_since (dedupe_key = ? AND sent_at >= ?).
CREATE TABLE alert_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    dedupe_key  VARCHAR(191) NOT NULL,
    sent_at     TIMESTAMP    NOT NULL
);
CREATE INDEX alert_log_key_time ON alert_log (dedupe_key, sent_at);

-- Notifications and their delivery: NotificationRepo::by_status (status = ? ORDER BY created_at).
CREATE TABLE notification_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    channel     VARCHAR(32)  NOT NULL,
    status      VARCHAR(16)  NOT NULL,
    attempts    INTEGER      NOT NULL,
    error       TEXT,
    created_at  TIMESTAMP    NOT NULL,
    updated_at  TIMESTAMP    NOT NULL
);
CREATE INDEX notification_log_status ON notification_log (status, created_at);

-- Statements slower than the threshold: their kind and duration, never their bound values.
CREATE TABLE slow_queries (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind         VARCHAR(64)      NOT NULL,
    duration_ms  DOUBLE PRECISION NOT NULL,
    occurred_at  TIMESTAMP        NOT NULL
);
CREATE INDEX slow_queries_time ON slow_queries (occurred_at);
