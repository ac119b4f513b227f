-- The durable task queue (finstage-tasks' database backend), MySQL/MariaDB dialect (InnoDB,
-- utf8mb4). The PostgreSQL and SQLite migrations create the same tables and columns, except
-- `tasks.active_unique_key` below; finstage-store's tests compare the three. Timestamps are UTC,
-- without a zone. Each index names the repository queries it serves (`Tasks::…`).

-- One row per task. `state`: pending → running → succeeded | pending again (retry) | dead |
-- cancelled. `priority`: 0 critical, 1 high, 2 normal, 3 low (lower runs first). The lease
-- columns are set while the task runs; `payload`, `result` and `backoff` are JSON text.
--
-- MySQL has no partial indexes. One pending or running task per unique key is enforced by a
-- UNIQUE index on the generated column `active_unique_key`: the key while the task is pending
-- or running, NULL once it is finished (a UNIQUE index holds any number of NULLs), so a
-- finished task frees its key. STORED rather than VIRTUAL: the index then never evaluates the
-- expression itself. Nothing writes it (diesel's schema does not declare it); Tasks::enqueue
-- reads it to find the task holding a key.
CREATE TABLE tasks (
    id                BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind              VARCHAR(200) NOT NULL,
    payload           MEDIUMTEXT   NOT NULL,
    state             VARCHAR(16)  NOT NULL,
    priority          SMALLINT     NOT NULL,
    run_at            DATETIME(6)  NOT NULL,
    attempts          INTEGER      NOT NULL DEFAULT 0,
    max_attempts      INTEGER      NOT NULL,
    timeout_ms        BIGINT       NOT NULL,
    unique_key        VARCHAR(200),
    backoff           TEXT,
    lease_owner       VARCHAR(200),
    lease_expires_at  DATETIME(6),
    cancel_requested  TINYINT(1)   NOT NULL DEFAULT 0,
    last_error        TEXT,
    result            MEDIUMTEXT,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    started_at        DATETIME(6),
    finished_at       DATETIME(6),
    active_unique_key VARCHAR(200) GENERATED ALWAYS AS
        (CASE WHEN state IN ('pending', 'running') THEN unique_key END) STORED,
    CONSTRAINT tasks_state_known CHECK (state IN ('pending', 'running', 'succeeded', 'dead', 'cancelled')),
    CONSTRAINT tasks_priority_known CHECK (priority BETWEEN 0 AND 3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- Tasks::claim (state = 'pending' AND run_at <= now ORDER BY priority, run_at, id LIMIT n FOR
-- UPDATE SKIP LOCKED): an ordered range scan of the pending tasks, stopping at the batch size.
-- Also Tasks::oldest_pending_run_at.
CREATE INDEX tasks_claim ON tasks (state, priority, run_at, id);
-- Tasks::reap_expired (state = 'running' AND lease_expires_at <= now).
CREATE INDEX tasks_lease ON tasks (state, lease_expires_at);
-- Tasks::enqueue's dedupe: one pending or running task per unique key (see above).
CREATE UNIQUE INDEX tasks_active_key ON tasks (active_unique_key);
-- Tasks::list by state (state = ? ORDER BY id DESC, the cursor an id).
CREATE INDEX tasks_state ON tasks (state, id);
-- Tasks::list by kind, or kind and state (kind = ? [AND state = ?] ORDER BY id DESC),
-- Tasks::counts (GROUP BY kind, state: a scan of this index alone), and a claim filtered by
-- kinds (kind IN (…) AND state = 'pending', then sorted: the due tasks of those kinds).
CREATE INDEX tasks_kind ON tasks (kind, state, id);

-- Every attempt of every task, kept with its error; deleted with its task. `outcome` is NULL
-- while the attempt runs; a task has at most one such attempt. An attempt given back
-- (`released`, a worker shutting down) does not count: the next claim takes its number again,
-- so the key is an id of its own, in the order attempts start.
-- task_attempts_task serves Tasks::attempts (task_id = ? ORDER BY id), the closing of a task's
-- open attempt (task_id = ? AND finished_at IS NULL) and the cascade. (PostgreSQL and SQLite
-- also enforce one open attempt per task with a partial unique index; MySQL has none, and
-- relies on the claim's row locks alone.)
CREATE TABLE task_attempts (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    task_id      BIGINT       NOT NULL,
    attempt      INTEGER      NOT NULL,
    worker_id    VARCHAR(200) NOT NULL,
    started_at   DATETIME(6)  NOT NULL,
    finished_at  DATETIME(6),
    outcome      VARCHAR(16),
    error        TEXT,
    CONSTRAINT task_attempts_task FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT task_attempts_outcome_known
        CHECK (outcome IS NULL OR outcome IN ('succeeded', 'failed', 'timed_out', 'lease_expired', 'cancelled', 'released'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX task_attempts_task ON task_attempts (task_id, id);

-- Slots of periodic schedules, each claimed once across every scheduler instance: the key is
-- the claim (Tasks::claim_slot, Tasks::enqueue_for_slot insert and check the affected rows).
-- `task_id` is the task enqueued for the slot, if any (no foreign key: tasks may be purged).
CREATE TABLE task_schedule_slots (
    schedule    VARCHAR(200) NOT NULL,
    slot_at     DATETIME(6)  NOT NULL,
    claimed_at  DATETIME(6)  NOT NULL,
    task_id     BIGINT,
    PRIMARY KEY (schedule, slot_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- Tasks::prune_slots (slot_at < ?).
CREATE INDEX task_schedule_slots_time ON task_schedule_slots (slot_at);
