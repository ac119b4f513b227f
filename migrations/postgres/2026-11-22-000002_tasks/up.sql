-- The durable task queue (finstage-tasks' database backend), PostgreSQL dialect. The MySQL and
-- SQLite migrations create the same tables and columns, except MySQL's generated column
-- `tasks.active_unique_key` (see there); finstage-store's tests compare the three. Timestamps
-- are UTC, without a zone. Each index names the repository queries it serves (`Tasks::…`).

-- One row per task. `state`: pending → running → succeeded | pending again (retry) | dead |
-- cancelled. `priority`: 0 critical, 1 high, 2 normal, 3 low (lower runs first). The lease
-- columns are set while the task runs; `payload`, `result` and `backoff` are JSON text.
CREATE TABLE tasks (
    id                BIGSERIAL    PRIMARY KEY,
    kind              VARCHAR(200) NOT NULL,
    payload           TEXT         NOT NULL,
    state             VARCHAR(16)  NOT NULL,
    priority          SMALLINT     NOT NULL,
    run_at            TIMESTAMP    NOT NULL,
    attempts          INTEGER      NOT NULL DEFAULT 0,
    max_attempts      INTEGER      NOT NULL,
    timeout_ms        BIGINT       NOT NULL,
    unique_key        VARCHAR(200),
    backoff           TEXT,
    lease_owner       VARCHAR(200),
    lease_expires_at  TIMESTAMP,
    cancel_requested  BOOLEAN      NOT NULL DEFAULT FALSE,
    last_error        TEXT,
    result            TEXT,
    created_at        TIMESTAMP    NOT NULL,
    updated_at        TIMESTAMP    NOT NULL,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    CONSTRAINT tasks_state_known CHECK (state IN ('pending', 'running', 'succeeded', 'dead', 'cancelled')),
    CONSTRAINT tasks_priority_known CHECK (priority BETWEEN 0 AND 3)
);
-- Tasks::claim (state = 'pending' AND run_at <= now ORDER BY priority, run_at, id LIMIT n FOR
-- UPDATE SKIP LOCKED): an ordered scan of the pending tasks only, stopping at the batch size;
-- finished tasks never enter it. Also Tasks::oldest_pending_run_at.
CREATE INDEX tasks_claim ON tasks (priority, run_at, id) WHERE state = 'pending';
-- Tasks::reap_expired (state = 'running' AND lease_expires_at <= now).
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE state = 'running';
-- Tasks::enqueue's dedupe: one pending or running task per unique key (the conflict target of
-- its INSERT … ON CONFLICT DO NOTHING, and the lookup of the task holding the key); a
-- finished task frees its key.
CREATE UNIQUE INDEX tasks_active_key ON tasks (unique_key) WHERE state IN ('pending', 'running');
-- Tasks::list by state (state = ? ORDER BY id DESC, the cursor an id).
CREATE INDEX tasks_state ON tasks (state, id);
-- Tasks::list by kind, or kind and state (kind = ? [AND state = ?] ORDER BY id DESC), and
-- Tasks::counts (GROUP BY kind, state: an index-only scan).
CREATE INDEX tasks_kind ON tasks (kind, state, id);

-- Every attempt of every task, kept with its error; deleted with its task. `outcome` is NULL
-- while the attempt runs; a task has at most one such attempt. An attempt given back
-- (`released`, a worker shutting down) does not count: the next claim takes its number again,
-- so the key is an id of its own, in the order attempts start.
-- task_attempts_task serves Tasks::attempts (task_id = ? ORDER BY id) and the cascade.
CREATE TABLE task_attempts (
    id           BIGSERIAL    PRIMARY KEY,
    task_id      BIGINT       NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt      INTEGER      NOT NULL,
    worker_id    VARCHAR(200) NOT NULL,
    started_at   TIMESTAMP    NOT NULL,
    finished_at  TIMESTAMP,
    outcome      VARCHAR(16),
    error        TEXT,
    CONSTRAINT task_attempts_outcome_known
        CHECK (outcome IS NULL OR outcome IN ('succeeded', 'failed', 'timed_out', 'lease_expired', 'cancelled', 'released'))
);
CREATE INDEX task_attempts_task ON task_attempts (task_id, id);
-- At most one open attempt per task (the claim opens it, every end closes it): a second claim of
-- a running task could not commit. Also serves the closing of a task's open attempt.
CREATE UNIQUE INDEX task_attempts_open ON task_attempts (task_id) WHERE finished_at IS NULL;

-- Slots of periodic schedules, each claimed once across every scheduler instance: the key is
-- the claim (Tasks::claim_slot, Tasks::enqueue_for_slot insert and check the affected rows).
-- `task_id` is the task enqueued for the slot, if any (no foreign key: tasks may be purged).
CREATE TABLE task_schedule_slots (
    schedule    VARCHAR(200) NOT NULL,
    slot_at     TIMESTAMP    NOT NULL,
    claimed_at  TIMESTAMP    NOT NULL,
    task_id     BIGINT,
    PRIMARY KEY (schedule, slot_at)
);
-- Tasks::prune_slots (slot_at < ?).
CREATE INDEX task_schedule_slots_time ON task_schedule_slots (slot_at);
