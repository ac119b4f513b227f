//! The task queue's tables — `tasks`, `task_attempts` and `task_schedule_slots` — behind
//! [`Tasks`] (whose docs describe the lifecycle, the delivery guarantee and what each backend
//! does), and [`Store::listen_tasks`] for PostgreSQL's enqueue notifications.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, SmallInt, Text, Timestamp};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::{Stream, StreamExt};

use crate::config::Backend;
use crate::error::{QueryErrorKind, StoreError};
use crate::repo::{Exec, check_len, db_time, utc};
use crate::schema::{task_attempts, task_schedule_slots, tasks};
use crate::store::{Conn, Store};

/// [`run!`] for a statement that only `$backend` runs (the caller checked the backend; on
/// another one it fails rather than panics).
macro_rules! run_only {
    ($conn:expr, $op:expr, $backend:ident $c:ident => $e:expr) => {{
        let timer = $conn.timer($op);
        let result = match $conn.as_mut() {
            $crate::store::ConnMut::$backend($c) => $e,
            _ => Err(diesel::result::Error::QueryBuilderError(
                concat!("a ", stringify!($backend), " statement on another backend").into(),
            )),
        };
        timer.finish();
        result.map_err(|e| $crate::error::StoreError::query($op, e))
    }};
}

/// The durable task queue: the database half of finstage-tasks, which builds the workers,
/// handlers and schedules on top. Reached through [`Store::tasks`] (a connection per call) or
/// [`Conn::tasks`] (inside the caller's transaction).
///
/// # Lifecycle
/// A task is enqueued `pending`, due at its `run_at`. [`claim`](Tasks::claim) moves due tasks
/// to `running` under a lease: `lease_owner` (the worker) until `lease_expires_at`, which
/// [`heartbeat`](Tasks::heartbeat) renews. The owner ends it with
/// [`complete`](Tasks::complete) (`succeeded`), [`fail`](Tasks::fail) (`pending` again at the
/// retry time while attempts remain, else `dead`), [`mark_cancelled`](Tasks::mark_cancelled),
/// or gives it back with [`release`](Tasks::release) (`pending`, the attempt not counted).
/// Each claim opens a row in `task_attempts`; each end closes it with its outcome and error, in
/// the same transaction. Finished tasks (`succeeded`, `dead`, `cancelled`) are kept, with
/// their attempts.
///
/// # Delivery is at least once
/// A worker that dies or stalls keeps its tasks only until their leases expire:
/// [`reap_expired`](Tasks::reap_expired) then closes the open attempt as `lease_expired` and
/// makes the task pending again (dead when its attempts are spent). A stalled worker may still
/// be running it, so a handler must tolerate running twice. Every end (complete, fail,
/// mark_cancelled, release) checks the lease in the statement or transaction that writes it:
/// a worker whose lease was taken over learns it ([`Completion::LeaseLost`]) and changes
/// nothing. Leases are held by worker id: give every worker process its own.
///
/// # Claiming, per backend
/// - **PostgreSQL**: one statement — the batch picked with `SELECT … ORDER BY priority, run_at,
///   id LIMIT n FOR UPDATE SKIP LOCKED`, moved to running by an `UPDATE … FROM`, its attempts
///   inserted, as data-modifying CTEs: one round trip and one commit per batch.
/// - **MySQL/MariaDB**: one transaction — the same `SELECT … FOR UPDATE SKIP LOCKED`, one
///   `UPDATE … WHERE id IN (…)`, one multi-row `INSERT` of the attempts. (A claim filtered by
///   kinds reads the due tasks of those kinds through the `(kind, state, id)` index and sorts
///   them, locking all of them for its short transaction: concurrent claimers of the same kinds
///   skip them meanwhile.)
/// - **SQLite** has no row locks and one writer at a time: the same statements in one
///   `BEGIN IMMEDIATE` transaction, which takes the writer lock before reading, so claimers
///   (threads or processes) queue on it (up to the busy timeout) and each sees the tasks the
///   previous one claimed. Claims are serialised rather than concurrent: right for the
///   embedded, one-process shape, not for many busy workers. Every method here that writes
///   more than one statement does so in an IMMEDIATE transaction (a savepoint inside the
///   caller's transaction, which then must not have read before it writes).
///
/// On PostgreSQL and MySQL a row locked by another claimer is skipped, and a row is checked
/// again (still pending) once locked: two claimers never get the same task. (PostgreSQL and
/// SQLite also hold at most one open attempt per task in a partial unique index, so a second
/// claim of a running task could not commit.)
///
/// # Dedupe by unique key
/// At most one pending or running task holds a unique key; enqueueing with a held key returns
/// the holder's id (`created: false`), and a finished task frees its key. The database
/// enforces it, so concurrent enqueues on any number of connections agree: PostgreSQL and
/// SQLite have a partial unique index on `unique_key` (`WHERE state IN ('pending',
/// 'running')`) and insert with `ON CONFLICT DO NOTHING`; MySQL, without partial indexes, a
/// unique index on a generated column (`active_unique_key`: the key while pending or running,
/// else NULL), where a duplicate-key error on insert is the dedupe path, not an error.
///
/// # Periodic schedules
/// [`claim_slot`](Tasks::claim_slot) and [`enqueue_for_slot`](Tasks::enqueue_for_slot) fire
/// each (schedule, slot) once across every scheduler instance: the slot is a primary key, and
/// the insert that creates it is the claim.
///
/// # Time
/// Every method takes the current time as `now`: the repository never reads the clock, so
/// callers (and tests) control it. Times are stored to the microsecond.
///
/// # Notifications
/// On PostgreSQL an enqueue notifies the channel [`TASKS_CHANNEL`] with the task's kind, in
/// the same statement (delivered when it commits); [`Store::listen_tasks`] listens.
///
/// Every operation is timed as `tasks.<method>` (slow ones are logged, counted and recorded).
pub struct Tasks<'a> {
    pub(crate) exec: Exec<'a>,
}

/// The longest task kind, in characters (printable ASCII, no spaces).
pub const TASK_KIND_MAX_LEN: usize = 200;
/// The longest unique key, in characters.
pub const TASK_UNIQUE_KEY_MAX_LEN: usize = 200;
/// The longest worker id, in characters.
pub const TASK_WORKER_ID_MAX_LEN: usize = 200;
/// The longest schedule name, in characters.
pub const TASK_SCHEDULE_MAX_LEN: usize = 200;
/// The largest payload or result, JSON text, in bytes.
pub const TASK_PAYLOAD_MAX_BYTES: usize = 1 << 20;
/// The largest backoff policy, JSON text, in bytes.
pub const TASK_BACKOFF_MAX_BYTES: usize = 4_096;
/// The longest error text kept, in characters; a longer one is cut there.
pub const TASK_ERROR_MAX_LEN: usize = 4_000;
/// The most tasks one call claims, heartbeats, completes or lists.
pub const TASK_BATCH_MAX: u32 = 1_000;
/// The PostgreSQL channel an enqueue notifies, with the task's kind as the payload.
pub const TASKS_CHANNEL: &str = "finstage_tasks";

/// The error kept for an attempt whose lease expired.
const LEASE_EXPIRED: &str = "lease expired";
/// Expired leases reaped per transaction.
const REAP_BATCH: i64 = 500;
/// Times a transaction of our own that the server rolled back (deadlock, serialization) runs
/// again.
const RETRIES: u32 = 3;

// The states as SQL literals: PostgreSQL and SQLite use a partial index only when the query
// spells its condition with the same constants (a bound parameter does not qualify).
const PENDING_SQL: &str = "state = 'pending'";
const RUNNING_SQL: &str = "state = 'running'";
const ACTIVE_SQL: &str = "state IN ('pending', 'running')";

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting for its `run_at`, or due and waiting for a worker (also after a failed attempt
    /// with a retry scheduled).
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Done (finished).
    Succeeded,
    /// Failed for good: no retry asked or attempts spent (finished, kept).
    Dead,
    /// Cancelled (finished).
    Cancelled,
}

impl TaskState {
    /// Every state.
    pub const ALL: [TaskState; 5] = [
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Dead,
        Self::Cancelled,
    ];

    /// The stored text: `pending`, `running`, `succeeded`, `dead` or `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the task is over (succeeded, dead or cancelled): it never changes again and
    /// its unique key is free.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Cancelled)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StoreError::InvalidInput("unknown task state".into()))
    }
}

/// How urgent a task is. Stored as a small integer, lower first: critical 0, high 1, normal 2,
/// low 3; claims take the most urgent due tasks first. Ordered the same way
/// (`Critical < Low`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Before everything else.
    Critical,
    /// Before normal tasks.
    High,
    /// The default.
    #[default]
    Normal,
    /// After everything else.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [Self::Critical, Self::High, Self::Normal, Self::Low];

    /// The stored rank: 0 (critical) to 3 (low).
    pub const fn rank(self) -> i16 {
        match self {
            Self::Critical => 0,
            Self::High => 1,
            Self::Normal => 2,
            Self::Low => 3,
        }
    }

    /// The priority of a stored rank.
    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.rank() == rank)
    }

    /// Its name: `critical`, `high`, `normal` or `low`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| StoreError::InvalidInput("unknown task priority".into()))
    }
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The task completed.
    Succeeded,
    /// The handler failed (the attempt's error says why).
    Failed,
    /// The attempt ran past the task's timeout.
    TimedOut,
    /// The worker's lease expired before it ended the attempt; the reaper closed it.
    LeaseExpired,
    /// The worker stopped it after a cancel request.
    Cancelled,
    /// The worker gave the task back (shutting down); the attempt does not count.
    Released,
}

impl AttemptOutcome {
    /// Every outcome.
    pub const ALL: [AttemptOutcome; 6] = [
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::LeaseExpired,
        Self::Cancelled,
        Self::Released,
    ];

    /// The stored text: `succeeded`, `failed`, `timed_out`, `lease_expired`, `cancelled` or
    /// `released`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::LeaseExpired => "lease_expired",
            Self::Cancelled => "cancelled",
            Self::Released => "released",
        }
    }
}

/// Why an attempt failed, for [`Tasks::fail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The handler returned an error: the attempt closes as [`AttemptOutcome::Failed`].
    Failed,
    /// The attempt ran past the task's timeout: [`AttemptOutcome::TimedOut`].
    TimedOut,
}

impl FailureKind {
    /// The outcome its attempt closes with.
    pub const fn outcome(self) -> AttemptOutcome {
        match self {
            Self::Failed => AttemptOutcome::Failed,
            Self::TimedOut => AttemptOutcome::TimedOut,
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for AttemptOutcome {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| StoreError::InvalidInput("unknown attempt outcome".into()))
    }
}

/// A task to enqueue. [`NewTask::new`] fills in the defaults; change the fields as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    /// What to run (the handler's name): 1 to 64 printable ASCII characters, no spaces.
    pub kind: String,
    /// The handler's input, JSON text (at most [`TASK_PAYLOAD_MAX_BYTES`]).
    pub payload: String,
    /// How urgent (default normal).
    pub priority: Priority,
    /// When it is due; `None` (the default) means at once (`now` of the enqueue). A delay is
    /// the caller's `now + delay`.
    pub run_at: Option<DateTime<Utc>>,
    /// Attempts allowed, at least 1 (default 3). A lease that expires counts as one.
    pub max_attempts: u32,
    /// How long one attempt may run, more than zero, stored in whole milliseconds (default
    /// 60 s). The worker enforces it.
    pub timeout: Duration,
    /// At most one pending or running task per key (1 to 191 characters); `None` (the
    /// default): no dedupe.
    pub unique_key: Option<String>,
    /// The retry policy, JSON text (at most [`TASK_BACKOFF_MAX_BYTES`]), stored as given: the
    /// worker reads it to compute the retry time it passes to [`Tasks::fail`].
    pub backoff: Option<String>,
}

impl NewTask {
    /// A task of `kind` with `payload` (JSON text), due at once, normal priority, 3 attempts,
    /// a 60 s timeout, no unique key and no backoff policy.
    pub fn new(kind: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            payload: payload.into(),
            priority: Priority::Normal,
            run_at: None,
            max_attempts: 3,
            timeout: Duration::from_secs(60),
            unique_key: None,
            backoff: None,
        }
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Enqueued {
    /// The task's id: the new task's, or the pending or running task's that holds the unique
    /// key.
    pub id: i64,
    /// Whether this call created the task (`false`: deduplicated by its unique key).
    pub created: bool,
}

/// A stored task, every column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its id.
    pub id: i64,
    /// What it runs.
    pub kind: String,
    /// The handler's input, JSON text.
    pub payload: String,
    /// Where it stands.
    pub state: TaskState,
    /// How urgent.
    pub priority: Priority,
    /// When it is (or was last) due.
    pub run_at: DateTime<Utc>,
    /// Attempts started so far (claims).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// How long one attempt may run.
    pub timeout: Duration,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// Its retry policy, JSON text, as given.
    pub backoff: Option<String>,
    /// The worker holding it, while running.
    pub lease_owner: Option<String>,
    /// When the lease runs out, while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Whether a cancel was asked while it ran (the worker sees it through heartbeats).
    pub cancel_requested: bool,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
    /// The result given on completion, JSON text.
    pub result: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (succeeded, dead or cancelled).
    pub finished_at: Option<DateTime<Utc>>,
}

impl Task {
    /// The cursor of a page that ends with this task: the next page starts after it.
    pub fn cursor(&self) -> TaskCursor {
        TaskCursor { id: self.id }
    }
}

/// A task a worker claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedTask {
    /// The task as the claim left it: running, leased to the worker, its attempts counted up,
    /// `started_at` the claim's `now` (and `last_error` the previous attempt's, if any).
    pub task: Task,
    /// This attempt's number, from 1 (the task's `attempts`).
    pub attempt: u32,
    /// When the lease runs out unless renewed by [`Tasks::heartbeat`] (the task's
    /// `lease_expires_at`).
    pub lease_expires_at: DateTime<Utc>,
}

/// One attempt of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskAttempt {
    /// The task.
    pub task_id: i64,
    /// Its number, from 1.
    pub attempt: u32,
    /// The worker that claimed it.
    pub worker_id: String,
    /// When it was claimed.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended; `None` while it runs.
    pub outcome: Option<AttemptOutcome>,
    /// Its error, if it failed or its lease expired.
    pub error: Option<String>,
}

/// Where a heartbeat found a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseStatus {
    /// Still the worker's: the lease was renewed.
    Held,
    /// Still the worker's (renewed), but a cancel was asked: stop it and call
    /// [`Tasks::mark_cancelled`].
    CancelRequested,
    /// No longer the worker's (reaped, taken over, finished, or no such task): stop working
    /// on it; nothing it writes will count.
    Lost,
}

/// What [`Tasks::complete`], [`Tasks::mark_cancelled`] and [`Tasks::release`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Completion {
    /// Written: the task changed as asked and its attempt is closed.
    Done,
    /// The worker no longer held the task: nothing was written.
    LeaseLost,
}

/// What [`Tasks::fail`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailOutcome {
    /// The task is pending again, due at `run_at`.
    Retrying {
        /// When the next attempt is due.
        run_at: DateTime<Utc>,
    },
    /// No retry asked, or its attempts are spent: the task is dead.
    Dead,
    /// A cancel had been asked meanwhile: the task is cancelled rather than retried.
    Cancelled,
    /// The worker no longer held the task: nothing was written.
    LeaseLost,
}

/// What [`Tasks::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelOutcome {
    /// It was pending: now cancelled.
    Cancelled,
    /// It is running: its worker is asked to stop (it sees it through its next heartbeat).
    CancelRequested,
    /// It had already finished, in this state: nothing changed.
    AlreadyFinished(TaskState),
    /// No such task.
    NotFound,
}

/// Which tasks [`Tasks::list`] returns; `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only tasks of this kind.
    pub kind: Option<String>,
}

/// One page to fetch: up to `limit` tasks after the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskPageRequest {
    /// The most tasks to return, 1 to 1,000.
    pub limit: u32,
    /// Where the previous page ended (`None` for the first page).
    pub after: Option<TaskCursor>,
}

/// One page of tasks, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPage {
    /// The tasks.
    pub items: Vec<Task>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<TaskCursor>,
}

/// Where a page of tasks ended (its last task).
///
/// Opaque to clients: it travels as a short string ([`Display`](fmt::Display) and
/// [`FromStr`] round trip); parsing a string that no cursor printed is
/// [`StoreError::InvalidInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskCursor {
    id: i64,
}

impl TaskCursor {
    /// The cursor of a page that ended with task `id` (for callers that keep ids).
    pub const fn from_last_id(id: i64) -> Self {
        Self { id }
    }

    /// The id of the last task of the page it ended.
    pub const fn last_id(self) -> i64 {
        self.id
    }
}

impl fmt::Display for TaskCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{:x}", self.id)
    }
}

impl FromStr for TaskCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let malformed = || StoreError::InvalidInput("malformed task cursor".into());
        let hex = s.strip_prefix('t').ok_or_else(malformed)?;
        // Lower-case hex without leading zeros: the one form `Display` writes.
        let canonical = (1..=16).contains(&hex.len())
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && !hex.starts_with('0');
        if !canonical {
            return Err(malformed());
        }
        let id = i64::from_str_radix(hex, 16).map_err(|_| malformed())?;
        Ok(Self { id })
    }
}

/// How many tasks of one kind are in one state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskCount {
    /// The kind.
    pub kind: String,
    /// The state.
    pub state: TaskState,
    /// How many.
    pub count: u64,
}

/// A stored task row.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = tasks)]
struct TaskRow {
    id: i64,
    kind: String,
    payload: String,
    state: String,
    priority: i16,
    run_at: NaiveDateTime,
    attempts: i32,
    max_attempts: i32,
    timeout_ms: i64,
    unique_key: Option<String>,
    backoff: Option<String>,
    lease_owner: Option<String>,
    lease_expires_at: Option<NaiveDateTime>,
    cancel_requested: bool,
    last_error: Option<String>,
    result: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
}

fn invalid_row(table: &'static str, message: String) -> StoreError {
    StoreError::InvalidRow { table, message }
}

/// A stored count (attempts) as `u32`.
fn stored_count(table: &'static str, id: i64, what: &str, value: i32) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| invalid_row(table, format!("task {id} has {value} {what}")))
}

impl TaskRow {
    fn into_task(self) -> Result<Task, StoreError> {
        let id = self.id;
        let state = self.state.parse().map_err(|_| {
            invalid_row(
                "tasks",
                format!(
                    "task {id} has the unknown state {:?}",
                    self.state.chars().take(16).collect::<String>()
                ),
            )
        })?;
        let priority = Priority::from_rank(self.priority)
            .ok_or_else(|| invalid_row("tasks", format!("task {id} has the unknown priority {}", self.priority)))?;
        let timeout_ms = u64::try_from(self.timeout_ms)
            .map_err(|_| invalid_row("tasks", format!("task {id} has a negative timeout")))?;
        Ok(Task {
            id,
            kind: self.kind,
            payload: self.payload,
            state,
            priority,
            run_at: utc(self.run_at),
            attempts: stored_count("tasks", id, "attempts", self.attempts)?,
            max_attempts: stored_count("tasks", id, "max attempts", self.max_attempts)?,
            timeout: Duration::from_millis(timeout_ms),
            unique_key: self.unique_key,
            backoff: self.backoff,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(utc),
            cancel_requested: self.cancel_requested,
            last_error: self.last_error,
            result: self.result,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            started_at: self.started_at.map(utc),
            finished_at: self.finished_at.map(utc),
        })
    }

    /// The claimed task of a row as the claim left it.
    fn into_claimed(self) -> Result<ClaimedTask, StoreError> {
        let task = self.into_task()?;
        let lease_expires_at = task
            .lease_expires_at
            .ok_or_else(|| invalid_row("tasks", format!("claimed task {} has no lease", task.id)))?;
        Ok(ClaimedTask {
            attempt: task.attempts,
            lease_expires_at,
            task,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = tasks, treat_none_as_default_value = false)]
struct NewTaskRow<'a> {
    kind: &'a str,
    payload: &'a str,
    state: &'static str,
    priority: i16,
    run_at: NaiveDateTime,
    attempts: i32,
    max_attempts: i32,
    timeout_ms: i64,
    unique_key: Option<&'a str>,
    backoff: Option<&'a str>,
    cancel_requested: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = task_attempts)]
struct AttemptRow {
    task_id: i64,
    attempt: i32,
    worker_id: String,
    started_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    outcome: Option<String>,
    error: Option<String>,
}

impl AttemptRow {
    fn into_attempt(self) -> Result<TaskAttempt, StoreError> {
        let outcome = self
            .outcome
            .map(|o| {
                o.parse().map_err(|_| {
                    invalid_row(
                        "task_attempts",
                        format!(
                            "an attempt of task {} has the unknown outcome {:?}",
                            self.task_id,
                            o.chars().take(16).collect::<String>()
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(TaskAttempt {
            task_id: self.task_id,
            attempt: stored_count("task_attempts", self.task_id, "as attempt number", self.attempt)?,
            worker_id: self.worker_id,
            started_at: utc(self.started_at),
            finished_at: self.finished_at.map(utc),
            outcome,
            error: self.error,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = task_attempts, treat_none_as_default_value = false)]
struct NewAttemptRow<'a> {
    task_id: i64,
    attempt: i32,
    worker_id: &'a str,
    started_at: NaiveDateTime,
}

/// The attempt rows a claim opens: `(task id, attempt number)` each.
fn attempt_rows<'a>(opened: &[(i64, i32)], worker_id: &'a str, now: NaiveDateTime) -> Vec<NewAttemptRow<'a>> {
    opened
        .iter()
        .map(|(task_id, attempt)| NewAttemptRow {
            task_id: *task_id,
            attempt: *attempt,
            worker_id,
            started_at: now,
        })
        .collect()
}

#[derive(Insertable)]
#[diesel(table_name = task_schedule_slots, treat_none_as_default_value = false)]
struct SlotRow<'a> {
    schedule: &'a str,
    slot_at: NaiveDateTime,
    claimed_at: NaiveDateTime,
    task_id: Option<i64>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `Err(InvalidInput)` unless `kind` is 1 to 64 printable ASCII characters.
fn check_kind(kind: &str) -> Result<(), StoreError> {
    if (1..=TASK_KIND_MAX_LEN).contains(&kind.len()) && kind.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "a task kind is 1 to {TASK_KIND_MAX_LEN} printable ASCII characters without spaces, not {:?}",
            kind.chars().take(TASK_KIND_MAX_LEN + 1).collect::<String>()
        )))
    }
}

fn check_kinds(kinds: &[&str]) -> Result<(), StoreError> {
    kinds.iter().try_for_each(|kind| check_kind(kind))
}

/// `Err(InvalidInput)` unless `text` is JSON of at most `max` bytes.
fn check_json(what: &str, text: &str, max: usize) -> Result<(), StoreError> {
    if text.len() > max {
        return Err(StoreError::InvalidInput(format!(
            "{what} is {} bytes, more than {max}",
            text.len()
        )));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| StoreError::InvalidInput(format!("{what} is not JSON: {e}")))
}

fn check_worker(worker_id: &str) -> Result<(), StoreError> {
    check_len("a worker id", worker_id, TASK_WORKER_ID_MAX_LEN)
}

/// `Err(InvalidInput)` unless `count` ids fit in one batch.
fn check_batch(what: &str, count: usize) -> Result<(), StoreError> {
    if count > TASK_BATCH_MAX as usize {
        return Err(StoreError::InvalidInput(format!(
            "at most {TASK_BATCH_MAX} {what} per call, not {count}"
        )));
    }
    Ok(())
}

/// `now + lease`, as stored.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<NaiveDateTime, StoreError> {
    let bad = || StoreError::InvalidInput(format!("a lease must be positive and reasonable, not {lease:?}"));
    if lease.is_zero() {
        return Err(bad());
    }
    let lease = TimeDelta::from_std(lease).map_err(|_| bad())?;
    now.checked_add_signed(lease).map(db_time).ok_or_else(bad)
}

/// The error text as kept: at most [`TASK_ERROR_MAX_LEN`] characters.
fn error_column(error: &str) -> &str {
    match error.char_indices().nth(TASK_ERROR_MAX_LEN) {
        Some((cut, _)) => &error[..cut],
        None => error,
    }
}

/// A stored attempt count.
fn attempts_column(value: u32, what: &str) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::InvalidInput(format!("{what} {value} exceeds an INTEGER")))
}

impl<'a> NewTaskRow<'a> {
    fn new(task: &'a NewTask, now: DateTime<Utc>) -> Result<Self, StoreError> {
        check_kind(&task.kind)?;
        check_json("a task payload", &task.payload, TASK_PAYLOAD_MAX_BYTES)?;
        if let Some(backoff) = &task.backoff {
            check_json("a task backoff policy", backoff, TASK_BACKOFF_MAX_BYTES)?;
        }
        if let Some(key) = &task.unique_key {
            check_len("a task unique key", key, TASK_UNIQUE_KEY_MAX_LEN)?;
        }
        if task.max_attempts == 0 {
            return Err(StoreError::InvalidInput("a task needs at least one attempt".into()));
        }
        let timeout_ms = i64::try_from(task.timeout.as_millis())
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                StoreError::InvalidInput(format!(
                    "a task timeout is at least 1 ms and fits a BIGINT of milliseconds, not {:?}",
                    task.timeout
                ))
            })?;
        let now = db_time(now);
        Ok(Self {
            kind: &task.kind,
            payload: &task.payload,
            state: TaskState::Pending.as_str(),
            priority: task.priority.rank(),
            run_at: task.run_at.map_or(now, db_time),
            attempts: 0,
            max_attempts: attempts_column(task.max_attempts, "max attempts")?,
            timeout_ms,
            unique_key: task.unique_key.as_deref(),
            backoff: task.backoff.as_deref(),
            cancel_requested: false,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Runs the body in a write transaction of `$exec` (`async |conn| { … }`); when the transaction
/// is our own and the server rolled it back (deadlock victim, serialization failure), runs it
/// again. (A macro rather than a function taking an `AsyncFn`: the compiler then proves the
/// futures `Send`, which callers spawning them need.)
macro_rules! write_retrying {
    ($exec:expr, async |$conn:ident| $body:expr) => {{
        let mut retries = 0;
        loop {
            match $exec.write_transaction(async |$conn: &mut Conn| $body).await {
                Err(e)
                    if e.query_kind() == Some(QueryErrorKind::Retryable)
                        && $exec.owns_transaction()
                        && retries < RETRIES =>
                {
                    retries += 1;
                }
                other => break other,
            }
        }
    }};
}

/// The PostgreSQL enqueue: insert unless a pending or running task holds the key, and notify
/// the workers in the same statement. Returns the new id, or nothing when the key is held.
const POSTGRES_ENQUEUE: &str = "WITH inserted AS (\
     INSERT INTO tasks (kind, payload, state, priority, run_at, attempts, max_attempts, timeout_ms, \
     unique_key, backoff, cancel_requested, created_at, updated_at) \
     VALUES ($1, $2, 'pending', $3, $4, 0, $5, $6, $7, $8, FALSE, $9, $9) \
     ON CONFLICT (unique_key) WHERE state IN ('pending', 'running') DO NOTHING \
     RETURNING id, kind) \
     SELECT inserted.id FROM inserted \
     CROSS JOIN LATERAL (SELECT pg_notify('finstage_tasks', inserted.kind)) AS notified";

/// The PostgreSQL enqueue of a batch without unique keys: one array per column, inserted in
/// input order (`WITH ORDINALITY … ORDER BY`), each new task notified.
const POSTGRES_ENQUEUE_MANY: &str = "WITH inserted AS (\
     INSERT INTO tasks (kind, payload, state, priority, run_at, attempts, max_attempts, timeout_ms, \
     backoff, cancel_requested, created_at, updated_at) \
     SELECT kind, payload, 'pending', priority, run_at, 0, max_attempts, timeout_ms, backoff, FALSE, $8, $8 \
     FROM unnest($1::text[], $2::text[], $3::int2[], $4::timestamp[], $5::int4[], $6::int8[], $7::text[]) \
     WITH ORDINALITY AS input(kind, payload, priority, run_at, max_attempts, timeout_ms, backoff, n) \
     ORDER BY n \
     RETURNING id, kind) \
     SELECT inserted.id FROM inserted \
     CROSS JOIN LATERAL (SELECT pg_notify('finstage_tasks', inserted.kind)) AS notified";

/// Inserts `row` unless a pending or running task holds its unique key: the new id, or `None`.
async fn insert_task(conn: &mut Conn, row: &NewTaskRow<'_>) -> Result<Option<i64>, StoreError> {
    const OP: &str = "tasks.enqueue";
    use diesel::result::{DatabaseErrorKind, Error};
    run_each!(conn, OP,
        postgres c => diesel::sql_query(POSTGRES_ENQUEUE)
            .bind::<Text, _>(row.kind)
            .bind::<Text, _>(row.payload)
            .bind::<SmallInt, _>(row.priority)
            .bind::<Timestamp, _>(row.run_at)
            .bind::<Integer, _>(row.max_attempts)
            .bind::<BigInt, _>(row.timeout_ms)
            .bind::<Nullable<Text>, _>(row.unique_key)
            .bind::<Nullable<Text>, _>(row.backoff)
            .bind::<Timestamp, _>(row.created_at)
            .get_result::<IdRow>(c)
            .await
            .optional()
            .map(|r| r.map(|r| r.id)),
        // The generated column's unique index refuses a held key: that error is the dedupe.
        mysql c => match diesel::insert_into(tasks::table).values(row).execute(&mut *c).await {
            Ok(_) => diesel::select(sql::<BigInt>("CAST(LAST_INSERT_ID() AS SIGNED)")).get_result(c).await.map(Some),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
            Err(e) => Err(e),
        },
        sqlite c => match diesel::insert_into(tasks::table).values(row).on_conflict_do_nothing().execute(&mut *c).await {
            Ok(1) => diesel::select(sql::<BigInt>("last_insert_rowid()")).get_result(c).await.map(Some),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        },
    )
}

/// The pending or running task holding `key`, if any.
async fn holder_of(conn: &mut Conn, key: &str) -> Result<Option<i64>, StoreError> {
    const OP: &str = "tasks.enqueue";
    let by_key = tasks::table
        .select(tasks::id)
        .filter(tasks::unique_key.eq(key))
        .filter(sql::<Bool>(ACTIVE_SQL));
    let found = run_each!(conn, OP,
        postgres c => by_key.first(c).await.optional(),
        mysql c => diesel::sql_query("SELECT id FROM tasks WHERE active_unique_key = ?")
            .bind::<Text, _>(key)
            .get_result::<IdRow>(c)
            .await
            .optional()
            .map(|r| r.map(|r| r.id)),
        sqlite c => by_key.first(c).await.optional(),
    )?;
    if found.is_some() || conn.store().backend() != Backend::Mysql {
        return Ok(found);
    }
    // MySQL's plain read uses the snapshot of the caller's transaction, which may predate the
    // holder's commit: a locking read sees the latest committed row. (Locking first would make
    // concurrent enqueues of one key, which share a lock on it, deadlock upgrading it.)
    run_only!(conn, OP, Mysql c => diesel::sql_query("SELECT id FROM tasks WHERE active_unique_key = ? FOR UPDATE")
        .bind::<Text, _>(key)
        .get_result::<IdRow>(c)
        .await
        .optional()
        .map(|r| r.map(|r| r.id)))
}

/// Enqueues on `conn` (see [`Tasks::enqueue`]).
async fn enqueue_on(conn: &mut Conn, task: &NewTask, now: DateTime<Utc>) -> Result<Enqueued, StoreError> {
    let row = NewTaskRow::new(task, now)?;
    // The holder of the key may finish between the refused insert and the lookup: then the
    // key is free and the insert is tried again.
    for _ in 0..5 {
        if let Some(id) = insert_task(conn, &row).await? {
            return Ok(Enqueued { id, created: true });
        }
        let Some(key) = row.unique_key else {
            break;
        };
        if let Some(id) = holder_of(conn, key).await? {
            return Ok(Enqueued { id, created: false });
        }
    }
    Err(StoreError::Query {
        operation: "tasks.enqueue",
        kind: QueryErrorKind::Retryable,
        message: "the task holding the unique key kept changing; try again".into(),
    })
}

/// Inserts the slot unless it is claimed: whether this call claimed it.
async fn insert_slot(conn: &mut Conn, op: &'static str, slot: &SlotRow<'_>) -> Result<bool, StoreError> {
    let n = run_each!(conn, op,
        postgres c => diesel::insert_into(task_schedule_slots::table).values(slot).on_conflict_do_nothing().execute(c).await,
        // A duplicate counts 0 rows (the values are checked, so IGNORE hides nothing else).
        mysql c => diesel::insert_or_ignore_into(task_schedule_slots::table).values(slot).execute(c).await,
        sqlite c => diesel::insert_into(task_schedule_slots::table).values(slot).on_conflict_do_nothing().execute(c).await,
    )?;
    Ok(n == 1)
}

/// The PostgreSQL claim, in one statement: pick, move to running, open the attempts. `{kinds}`
/// becomes the kind filter or nothing.
const POSTGRES_CLAIM: &str = "WITH picked AS (\
     SELECT id FROM tasks WHERE state = 'pending' AND run_at <= $1{kinds} \
     ORDER BY priority, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED), \
     claimed AS (\
     UPDATE tasks t SET state = 'running', lease_owner = $3, lease_expires_at = $4, \
     attempts = t.attempts + 1, started_at = $1, updated_at = $1 \
     FROM picked WHERE t.id = picked.id RETURNING t.*), \
     opened AS (\
     INSERT INTO task_attempts (task_id, attempt, worker_id, started_at) \
     SELECT id, attempts, $3, $1 FROM claimed) \
     SELECT * FROM claimed ORDER BY priority, run_at, id";

/// The PostgreSQL completion of a batch, in one statement; returns the ids completed.
const POSTGRES_COMPLETE: &str = "WITH input AS (\
     SELECT * FROM unnest($1::int8[], $2::text[]) AS i(id, result)), \
     done AS (\
     UPDATE tasks t SET state = 'succeeded', result = input.result, lease_owner = NULL, \
     lease_expires_at = NULL, finished_at = $3, updated_at = $3 \
     FROM input WHERE t.id = input.id AND t.state = 'running' AND t.lease_owner = $4 \
     RETURNING t.id), \
     closed AS (\
     UPDATE task_attempts a SET finished_at = $3, outcome = 'succeeded' \
     FROM done WHERE a.task_id = done.id AND a.finished_at IS NULL) \
     SELECT id FROM done";

/// Ends tasks that `worker_id` holds, in `state`, closing their open attempts with `outcome`:
/// the ids ended (the others were not held). Each item is a task id and its result. Runs in
/// the caller's transaction.
async fn finish_held(
    conn: &mut Conn,
    op: &'static str,
    worker_id: &str,
    items: &[(i64, Option<&str>)],
    state: TaskState,
    outcome: AttemptOutcome,
    now: NaiveDateTime,
) -> Result<Vec<i64>, StoreError> {
    let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
    let held_query = tasks::table
        .select(tasks::id)
        .filter(tasks::id.eq_any(&ids))
        .filter(tasks::state.eq(TaskState::Running.as_str()))
        .filter(tasks::lease_owner.eq(worker_id));
    let held: Vec<i64> = run_each!(conn, op,
        postgres c => held_query.for_update().load(c).await,
        mysql c => held_query.for_update().load(c).await,
        sqlite c => held_query.load(c).await,
    )?;
    if held.is_empty() {
        return Ok(held);
    }
    let held_set: HashSet<i64> = held.iter().copied().collect();
    let mut results: Vec<(i64, Option<&str>)> = Vec::with_capacity(held.len());
    let mut seen = HashSet::with_capacity(held.len());
    for (id, result) in items {
        if held_set.contains(id) && seen.insert(*id) {
            results.push((*id, *result));
        }
    }
    let base = (
        tasks::state.eq(state.as_str()),
        tasks::lease_owner.eq(None::<&str>),
        tasks::lease_expires_at.eq(None::<NaiveDateTime>),
        tasks::finished_at.eq(Some(now)),
        tasks::updated_at.eq(now),
    );
    if results.iter().all(|(_, result)| result.is_none()) {
        let update = diesel::update(tasks::table.filter(tasks::id.eq_any(&held))).set(base);
        run!(conn, op, c => update.execute(c).await)?;
    } else {
        for (id, result) in &results {
            let update = diesel::update(tasks::table.filter(tasks::id.eq(*id))).set((base, tasks::result.eq(*result)));
            run!(conn, op, c => update.execute(c).await)?;
        }
    }
    close_attempts(conn, op, &held, outcome, None, now).await?;
    Ok(held)
}

/// Closes the open attempt of each of `task_ids`.
async fn close_attempts(
    conn: &mut Conn,
    op: &'static str,
    task_ids: &[i64],
    outcome: AttemptOutcome,
    error: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    // One open attempt per task at most: the claim opens it, every end closes it.
    let update = diesel::update(
        task_attempts::table
            .filter(task_attempts::task_id.eq_any(task_ids))
            .filter(task_attempts::finished_at.is_null()),
    )
    .set((
        task_attempts::finished_at.eq(Some(now)),
        task_attempts::outcome.eq(Some(outcome.as_str())),
        task_attempts::error.eq(error),
    ));
    run!(conn, op, c => update.execute(c).await)?;
    Ok(())
}

impl Tasks<'_> {
    /// Enqueues `task` at `now` (its `created_at`, and its `run_at` unless it has one). With a
    /// unique key that a pending or running task holds, nothing is inserted and that task's
    /// id comes back with `created: false`; atomic however many connections enqueue the same
    /// key at once. On PostgreSQL the workers listening on [`TASKS_CHANNEL`] are notified
    /// with the kind when the insert commits. One statement on PostgreSQL (two on MySQL and
    /// SQLite, which read back the generated id).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a kind that is not 1 to 64 printable ASCII characters,
    /// a payload or backoff that is not JSON or too long, an empty or too long unique key, zero
    /// attempts, a zero timeout; [`StoreError::Query`] from the database.
    pub async fn enqueue(mut self, task: &NewTask, now: DateTime<Utc>) -> Result<Enqueued, StoreError> {
        NewTaskRow::new(task, now)?;
        let owned = self.exec.owns_transaction();
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let mut retries = 0;
        loop {
            match enqueue_on(conn, task, now).await {
                // A deadlock victim (MySQL, when the inserter of the same key rolled back) on a
                // connection of our own, outside any transaction: nothing was written.
                Err(e) if e.query_kind() == Some(QueryErrorKind::Retryable) && owned && retries < RETRIES => {
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    /// Enqueues `tasks` in one transaction (each as [`enqueue`](Self::enqueue), in order): all
    /// of them, or none when one fails. What each enqueue did comes back in the same order. On
    /// PostgreSQL a batch without unique keys is one statement.
    ///
    /// # Errors
    /// As [`enqueue`](Self::enqueue); also more than 1,000 tasks.
    pub async fn enqueue_many(mut self, tasks: &[NewTask], now: DateTime<Utc>) -> Result<Vec<Enqueued>, StoreError> {
        const OP: &str = "tasks.enqueue";
        check_batch("tasks", tasks.len())?;
        let rows = tasks
            .iter()
            .map(|task| NewTaskRow::new(task, now))
            .collect::<Result<Vec<_>, _>>()?;
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        if self.exec.backend() == Backend::Postgres && rows.iter().all(|row| row.unique_key.is_none()) {
            // Nothing to dedupe: one insert of every row, one array per column.
            let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
            let payloads: Vec<&str> = rows.iter().map(|r| r.payload).collect();
            let priorities: Vec<i16> = rows.iter().map(|r| r.priority).collect();
            let run_ats: Vec<NaiveDateTime> = rows.iter().map(|r| r.run_at).collect();
            let max_attempts: Vec<i32> = rows.iter().map(|r| r.max_attempts).collect();
            let timeouts: Vec<i64> = rows.iter().map(|r| r.timeout_ms).collect();
            let backoffs: Vec<Option<&str>> = rows.iter().map(|r| r.backoff).collect();
            let mut slot = None;
            let conn = self.exec.conn(&mut slot).await?;
            let inserted: Vec<IdRow> = run_only!(conn, OP, Postgres c => diesel::sql_query(POSTGRES_ENQUEUE_MANY)
                .bind::<Array<Text>, _>(&kinds)
                .bind::<Array<Text>, _>(&payloads)
                .bind::<Array<SmallInt>, _>(&priorities)
                .bind::<Array<Timestamp>, _>(&run_ats)
                .bind::<Array<Integer>, _>(&max_attempts)
                .bind::<Array<BigInt>, _>(&timeouts)
                .bind::<Array<Nullable<Text>>, _>(&backoffs)
                .bind::<Timestamp, _>(db_time(now))
                .load(c)
                .await)?;
            let mut ids: Vec<i64> = inserted.into_iter().map(|r| r.id).collect();
            if ids.len() != rows.len() {
                return Err(invalid_row(
                    "tasks",
                    format!("{} of {} tasks came back from a bulk insert", ids.len(), rows.len()),
                ));
            }
            // The rows were inserted in input order, drawing ascending ids from the sequence.
            ids.sort_unstable();
            return Ok(ids.into_iter().map(|id| Enqueued { id, created: true }).collect());
        }
        write_retrying!(self.exec, async |conn| {
            let mut enqueued = Vec::with_capacity(tasks.len());
            for task in tasks {
                enqueued.push(enqueue_on(conn, task, now).await?);
            }
            Ok(enqueued)
        })
    }

    /// Claims up to `limit` due tasks (pending, `run_at <= now`) for `worker_id`, of the given
    /// `kinds` (empty: any kind), most urgent first, then by `run_at`, then by id: each moves to
    /// running, its attempts counted up, its lease held by the worker until `now + lease`, and
    /// its attempt row opened — all in one transaction (one statement on PostgreSQL). Returns
    /// them in that order; fewer (or none) when fewer are due. Two claimers never get the same
    /// task (see the module docs for how each backend ensures it).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id, a malformed kind, a
    /// limit above 1,000, a zero or enormous lease; [`StoreError::Query`] from the database.
    pub async fn claim(
        mut self,
        worker_id: &str,
        kinds: &[&str],
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedTask>, StoreError> {
        const OP: &str = "tasks.claim";
        check_worker(worker_id)?;
        check_kinds(kinds)?;
        check_batch("tasks", limit as usize)?;
        let expires = lease_end(now, lease)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = db_time(now);
        let kinds: Vec<&str> = kinds.to_vec();
        if self.exec.backend() == Backend::Postgres {
            let mut slot = None;
            let conn = self.exec.conn(&mut slot).await?;
            let filter = if kinds.is_empty() { "" } else { " AND kind = ANY($5)" };
            let sql = POSTGRES_CLAIM.replace("{kinds}", filter);
            let rows: Vec<TaskRow> = run_only!(conn, OP, Postgres c => {
                let query = diesel::sql_query(sql)
                    .into_boxed()
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(i64::from(limit))
                    .bind::<Text, _>(worker_id)
                    .bind::<Timestamp, _>(expires);
                let query = if kinds.is_empty() { query } else { query.bind::<Array<Text>, _>(&kinds) };
                query.load(c).await
            })?;
            return rows.into_iter().map(TaskRow::into_claimed).collect();
        }
        write_retrying!(self.exec, async |conn| {
            // The due tasks in claim order (served by tasks_claim); MySQL locks them, skipping
            // those another claimer holds; SQLite's IMMEDIATE transaction holds the writer lock.
            macro_rules! due {
                () => {
                    tasks::table
                        .select(TaskRow::as_select())
                        .filter(sql::<Bool>(PENDING_SQL))
                        .filter(tasks::run_at.le(now))
                        .order((tasks::priority.asc(), tasks::run_at.asc(), tasks::id.asc()))
                        .limit(i64::from(limit))
                };
            }
            let mut rows: Vec<TaskRow> = run_each!(conn, OP,
                postgres c => if kinds.is_empty() {
                    due!().for_update().skip_locked().load(c).await
                } else {
                    due!().filter(tasks::kind.eq_any(&kinds)).for_update().skip_locked().load(c).await
                },
                mysql c => if kinds.is_empty() {
                    due!().for_update().skip_locked().load(c).await
                } else {
                    due!().filter(tasks::kind.eq_any(&kinds)).for_update().skip_locked().load(c).await
                },
                sqlite c => if kinds.is_empty() {
                    due!().load(c).await
                } else {
                    due!().filter(tasks::kind.eq_any(&kinds)).load(c).await
                },
            )?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let update = diesel::update(tasks::table.filter(tasks::id.eq_any(&ids))).set((
                tasks::state.eq(TaskState::Running.as_str()),
                tasks::lease_owner.eq(worker_id),
                tasks::lease_expires_at.eq(expires),
                tasks::attempts.eq(tasks::attempts + 1),
                tasks::started_at.eq(now),
                tasks::updated_at.eq(now),
            ));
            run!(conn, OP, c => update.execute(c).await)?;
            for row in &mut rows {
                row.state = TaskState::Running.as_str().to_owned();
                row.lease_owner = Some(worker_id.to_owned());
                row.lease_expires_at = Some(expires);
                row.attempts = row.attempts.saturating_add(1);
                row.started_at = Some(now);
                row.updated_at = now;
            }
            let opened: Vec<(i64, i32)> = rows.iter().map(|row| (row.id, row.attempts)).collect();
            run_each!(conn, OP,
                postgres c => diesel::insert_into(task_attempts::table)
                    .values(attempt_rows(&opened, worker_id, now))
                    .execute(c)
                    .await,
                mysql c => diesel::insert_into(task_attempts::table)
                    .values(attempt_rows(&opened, worker_id, now))
                    .execute(c)
                    .await,
                // diesel-async has no multi-row insert for SQLite; diesel's own runs on the
                // connection's thread.
                sqlite c => {
                    let (opened, worker_id) = (opened.clone(), worker_id.to_owned());
                    c.spawn_blocking(move |sqlite| {
                        let insert = diesel::insert_into(task_attempts::table)
                            .values(attempt_rows(&opened, &worker_id, now));
                        diesel::RunQueryDsl::execute(insert, sqlite)
                    })
                    .await
                },
            )?;
            rows.into_iter().map(TaskRow::into_claimed).collect()
        })
    }

    /// Renews, until `now + lease`, the leases that `worker_id` still holds among `task_ids`
    /// (running tasks it claimed), and tells for each of `task_ids`, in order, whether the
    /// worker still holds it, holds it but a cancel was asked, or lost it (reaped and perhaps
    /// claimed by another worker, finished, or unknown). A lease past its expiry that was not
    /// reaped yet is still held, and renewed.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id, more than 1,000 ids, a
    /// zero or enormous lease; [`StoreError::Query`] from the database.
    pub async fn heartbeat(
        mut self,
        worker_id: &str,
        task_ids: &[i64],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, LeaseStatus)>, StoreError> {
        const OP: &str = "tasks.heartbeat";
        check_worker(worker_id)?;
        check_batch("task ids", task_ids.len())?;
        let expires = lease_end(now, lease)?;
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = db_time(now);
        let held = || {
            tasks::table
                .filter(tasks::id.eq_any(task_ids))
                .filter(tasks::state.eq(TaskState::Running.as_str()))
                .filter(tasks::lease_owner.eq(worker_id))
        };
        let renewed: Vec<(i64, bool)> = if self.exec.backend() == Backend::Postgres {
            let mut slot = None;
            let conn = self.exec.conn(&mut slot).await?;
            let update = diesel::update(held())
                .set((tasks::lease_expires_at.eq(expires), tasks::updated_at.eq(now)))
                .returning((tasks::id, tasks::cancel_requested));
            run_only!(conn, OP, Postgres c => update.load(c).await)?
        } else {
            write_retrying!(self.exec, async |conn| {
                let update =
                    diesel::update(held()).set((tasks::lease_expires_at.eq(expires), tasks::updated_at.eq(now)));
                run!(conn, OP, c => update.execute(c).await)?;
                let select = held().select((tasks::id, tasks::cancel_requested));
                run!(conn, OP, c => select.load(c).await)
            })?
        };
        let renewed: HashMap<i64, bool> = renewed.into_iter().collect();
        Ok(task_ids
            .iter()
            .map(|id| {
                let status = match renewed.get(id) {
                    Some(true) => LeaseStatus::CancelRequested,
                    Some(false) => LeaseStatus::Held,
                    None => LeaseStatus::Lost,
                };
                (*id, status)
            })
            .collect())
    }

    /// Completes task `task_id` with `result` (JSON text, or none) if `worker_id` still holds
    /// it: the task succeeds and its attempt closes as succeeded, in one transaction (one
    /// statement on PostgreSQL). A cancel asked meanwhile does not stop a completion.
    ///
    /// # Errors
    /// As [`complete_many`](Self::complete_many).
    pub async fn complete(
        self,
        task_id: i64,
        worker_id: &str,
        result: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Completion, StoreError> {
        let done = self.complete_many(worker_id, &[(task_id, result)], now).await?;
        Ok(done.into_iter().next().map_or(Completion::LeaseLost, |(_, c)| c))
    }

    /// [`complete`](Self::complete) for a batch of `(task id, result)`, in one transaction (one
    /// statement on PostgreSQL): what became of each, in order.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id, more than 1,000 tasks, a
    /// result that is not JSON or too long; [`StoreError::Query`] from the database.
    pub async fn complete_many(
        mut self,
        worker_id: &str,
        items: &[(i64, Option<&str>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, Completion)>, StoreError> {
        const OP: &str = "tasks.complete";
        check_worker(worker_id)?;
        check_batch("tasks", items.len())?;
        for (_, result) in items {
            if let Some(result) = result {
                check_json("a task result", result, TASK_PAYLOAD_MAX_BYTES)?;
            }
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let now = db_time(now);
        let done: Vec<i64> = if self.exec.backend() == Backend::Postgres {
            let mut slot = None;
            let conn = self.exec.conn(&mut slot).await?;
            let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
            let results: Vec<Option<&str>> = items.iter().map(|(_, r)| *r).collect();
            let rows: Vec<IdRow> = run_only!(conn, OP, Postgres c => diesel::sql_query(POSTGRES_COMPLETE)
                .bind::<Array<BigInt>, _>(&ids)
                .bind::<Array<Nullable<Text>>, _>(&results)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(worker_id)
                .load(c)
                .await)?;
            rows.into_iter().map(|r| r.id).collect()
        } else {
            write_retrying!(self.exec, async |conn| {
                finish_held(
                    conn,
                    OP,
                    worker_id,
                    items,
                    TaskState::Succeeded,
                    AttemptOutcome::Succeeded,
                    now,
                )
                .await
            })?
        };
        let done: HashSet<i64> = done.into_iter().collect();
        Ok(items
            .iter()
            .map(|(id, _)| {
                let completion = if done.contains(id) {
                    Completion::Done
                } else {
                    Completion::LeaseLost
                };
                (*id, completion)
            })
            .collect())
    }

    /// Records a failed attempt of task `task_id` if `worker_id` still holds it: the attempt
    /// closes as `failure` says (failed or timed out) with `error` (cut to 4,000 characters,
    /// also kept as the task's `last_error`), and the task becomes pending again at `retry_at`
    /// when one is given and attempts remain, else dead — or cancelled when a cancel was asked
    /// meanwhile. One transaction.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id; [`StoreError::Query`]
    /// from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn fail(
        mut self,
        task_id: i64,
        worker_id: &str,
        failure: FailureKind,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<FailOutcome, StoreError> {
        const OP: &str = "tasks.fail";
        check_worker(worker_id)?;
        let error = error_column(error);
        let now = db_time(now);
        let retry_at = retry_at.map(db_time);
        write_retrying!(self.exec, async |conn| {
            let held = tasks::table
                .select((tasks::attempts, tasks::max_attempts, tasks::cancel_requested))
                .filter(tasks::id.eq(task_id))
                .filter(tasks::state.eq(TaskState::Running.as_str()))
                .filter(tasks::lease_owner.eq(worker_id));
            let found: Option<(i32, i32, bool)> = run_each!(conn, OP,
                postgres c => held.for_update().first(c).await.optional(),
                mysql c => held.for_update().first(c).await.optional(),
                sqlite c => held.first(c).await.optional(),
            )?;
            let Some((attempts, max_attempts, cancel_requested)) = found else {
                return Ok(FailOutcome::LeaseLost);
            };
            let (state, run_at, outcome) = match retry_at {
                _ if cancel_requested => (TaskState::Cancelled, None, FailOutcome::Cancelled),
                Some(at) if attempts < max_attempts => {
                    (TaskState::Pending, Some(at), FailOutcome::Retrying { run_at: utc(at) })
                }
                _ => (TaskState::Dead, None, FailOutcome::Dead),
            };
            let finished_at = if state.is_finished() { Some(now) } else { None };
            let target = tasks::table.filter(tasks::id.eq(task_id));
            let update = diesel::update(target).set((
                tasks::state.eq(state.as_str()),
                tasks::lease_owner.eq(None::<&str>),
                tasks::lease_expires_at.eq(None::<NaiveDateTime>),
                tasks::last_error.eq(Some(error)),
                tasks::finished_at.eq(finished_at),
                tasks::updated_at.eq(now),
            ));
            run!(conn, OP, c => update.execute(c).await)?;
            if let Some(run_at) = run_at {
                let reschedule = diesel::update(target).set(tasks::run_at.eq(run_at));
                run!(conn, OP, c => reschedule.execute(c).await)?;
            }
            close_attempts(conn, OP, &[task_id], failure.outcome(), Some(error), now).await?;
            Ok(outcome)
        })
    }

    /// Cancels task `task_id`: a pending task is cancelled at once; for a running task a
    /// cancel is asked (`cancel_requested`), which its worker sees through
    /// [`heartbeat`](Self::heartbeat) and ends with [`mark_cancelled`](Self::mark_cancelled)
    /// (if the worker fails it instead, or its lease expires, it is cancelled rather than
    /// retried; if it completes, it succeeds). A finished task is left as it is.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn cancel(mut self, task_id: i64, now: DateTime<Utc>) -> Result<CancelOutcome, StoreError> {
        const OP: &str = "tasks.cancel";
        let now = db_time(now);
        write_retrying!(self.exec, async |conn| {
            let current = tasks::table.select(tasks::state).filter(tasks::id.eq(task_id));
            let state: Option<String> = run_each!(conn, OP,
                postgres c => current.for_update().first(c).await.optional(),
                mysql c => current.for_update().first(c).await.optional(),
                sqlite c => current.first(c).await.optional(),
            )?;
            let Some(state) = state else {
                return Ok(CancelOutcome::NotFound);
            };
            let state: TaskState = state
                .parse()
                .map_err(|_| invalid_row("tasks", format!("task {task_id} has an unknown state")))?;
            let target = tasks::table.filter(tasks::id.eq(task_id));
            match state {
                TaskState::Pending => {
                    let update = diesel::update(target).set((
                        tasks::state.eq(TaskState::Cancelled.as_str()),
                        tasks::finished_at.eq(Some(now)),
                        tasks::updated_at.eq(now),
                    ));
                    run!(conn, OP, c => update.execute(c).await)?;
                    Ok(CancelOutcome::Cancelled)
                }
                TaskState::Running => {
                    let update =
                        diesel::update(target).set((tasks::cancel_requested.eq(true), tasks::updated_at.eq(now)));
                    run!(conn, OP, c => update.execute(c).await)?;
                    Ok(CancelOutcome::CancelRequested)
                }
                finished => Ok(CancelOutcome::AlreadyFinished(finished)),
            }
        })
    }

    /// Gives task `task_id`, which `worker_id` holds, back (the worker is shutting down): its
    /// attempt closes as released and does not count (`attempts` goes back down; the next
    /// claim takes the same number), and the task is pending again, due at `now` — or
    /// cancelled, when a cancel was asked meanwhile. One transaction.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id; [`StoreError::Query`]
    /// from the database.
    pub async fn release(
        mut self,
        task_id: i64,
        worker_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Completion, StoreError> {
        const OP: &str = "tasks.release";
        check_worker(worker_id)?;
        let now = db_time(now);
        write_retrying!(self.exec, async |conn| {
            let held = tasks::table
                .select(tasks::cancel_requested)
                .filter(tasks::id.eq(task_id))
                .filter(tasks::state.eq(TaskState::Running.as_str()))
                .filter(tasks::lease_owner.eq(worker_id));
            let found: Option<bool> = run_each!(conn, OP,
                postgres c => held.for_update().first(c).await.optional(),
                mysql c => held.for_update().first(c).await.optional(),
                sqlite c => held.first(c).await.optional(),
            )?;
            let Some(cancel_requested) = found else {
                return Ok(Completion::LeaseLost);
            };
            let (state, finished_at) = if cancel_requested {
                (TaskState::Cancelled, Some(now))
            } else {
                (TaskState::Pending, None)
            };
            let update = diesel::update(tasks::table.filter(tasks::id.eq(task_id))).set((
                tasks::state.eq(state.as_str()),
                tasks::run_at.eq(now),
                tasks::attempts.eq(tasks::attempts - 1),
                tasks::lease_owner.eq(None::<&str>),
                tasks::lease_expires_at.eq(None::<NaiveDateTime>),
                tasks::finished_at.eq(finished_at),
                tasks::updated_at.eq(now),
            ));
            run!(conn, OP, c => update.execute(c).await)?;
            close_attempts(conn, OP, &[task_id], AttemptOutcome::Released, None, now).await?;
            Ok(Completion::Done)
        })
    }

    /// Marks task `task_id`, which `worker_id` holds, cancelled (the worker stopped it after a
    /// cancel request), closing its attempt as cancelled, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long worker id; [`StoreError::Query`]
    /// from the database.
    pub async fn mark_cancelled(
        mut self,
        task_id: i64,
        worker_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Completion, StoreError> {
        const OP: &str = "tasks.mark_cancelled";
        check_worker(worker_id)?;
        let now = db_time(now);
        let done = write_retrying!(self.exec, async |conn| {
            finish_held(
                conn,
                OP,
                worker_id,
                &[(task_id, None)],
                TaskState::Cancelled,
                AttemptOutcome::Cancelled,
                now,
            )
            .await
        })?;
        Ok(if done.is_empty() {
            Completion::LeaseLost
        } else {
            Completion::Done
        })
    }

    /// Re-delivers the running tasks whose lease expired by `now` (`lease_expires_at <= now`):
    /// each open attempt closes as `lease_expired`, and the task becomes pending again, due at
    /// `now`, while attempts remain — else dead; cancelled instead when a cancel was asked.
    /// Works in transactions of up to 500 tasks, skipping rows other transactions lock; returns
    /// how many tasks it reaped. Delivery is therefore at least once (see the module docs).
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn reap_expired(mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const OP: &str = "tasks.reap_expired";
        let now = db_time(now);
        let mut reaped = 0_u64;
        loop {
            let n = write_retrying!(self.exec, async |conn| {
                let expired = tasks::table
                    .select((tasks::id, tasks::attempts, tasks::max_attempts, tasks::cancel_requested))
                    .filter(sql::<Bool>(RUNNING_SQL))
                    .filter(tasks::lease_expires_at.le(now))
                    .order(tasks::lease_expires_at.asc())
                    .limit(REAP_BATCH);
                let rows: Vec<(i64, i32, i32, bool)> = run_each!(conn, OP,
                    postgres c => expired.for_update().skip_locked().load(c).await,
                    mysql c => expired.for_update().skip_locked().load(c).await,
                    sqlite c => expired.load(c).await,
                )?;
                let (mut retry, mut dead, mut cancelled) = (Vec::new(), Vec::new(), Vec::new());
                for (id, attempts, max_attempts, cancel_requested) in &rows {
                    if *cancel_requested {
                        cancelled.push(*id);
                    } else if attempts < max_attempts {
                        retry.push(*id);
                    } else {
                        dead.push(*id);
                    }
                }
                for (ids, state) in [
                    (&retry, TaskState::Pending),
                    (&dead, TaskState::Dead),
                    (&cancelled, TaskState::Cancelled),
                ] {
                    if ids.is_empty() {
                        continue;
                    }
                    let finished_at = if state.is_finished() { Some(now) } else { None };
                    let update = diesel::update(tasks::table.filter(tasks::id.eq_any(ids))).set((
                        tasks::state.eq(state.as_str()),
                        tasks::lease_owner.eq(None::<&str>),
                        tasks::lease_expires_at.eq(None::<NaiveDateTime>),
                        tasks::last_error.eq(Some(LEASE_EXPIRED)),
                        tasks::finished_at.eq(finished_at),
                        tasks::updated_at.eq(now),
                    ));
                    run!(conn, OP, c => update.execute(c).await)?;
                    if state == TaskState::Pending {
                        let due = diesel::update(tasks::table.filter(tasks::id.eq_any(ids))).set(tasks::run_at.eq(now));
                        run!(conn, OP, c => due.execute(c).await)?;
                    }
                }
                let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
                if !ids.is_empty() {
                    close_attempts(conn, OP, &ids, AttemptOutcome::LeaseExpired, Some(LEASE_EXPIRED), now).await?;
                }
                Ok(rows.len())
            })?;
            reaped += n as u64;
            if (n as i64) < REAP_BATCH {
                return Ok(reaped);
            }
        }
    }

    /// The task `id`, if it exists.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn get(mut self, id: i64) -> Result<Option<Task>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<TaskRow> = run!(conn, "tasks.get", c => tasks::table
            .select(TaskRow::as_select())
            .filter(tasks::id.eq(id))
            .first(c)
            .await
            .optional())?;
        row.map(TaskRow::into_task).transpose()
    }

    /// Every attempt of task `id`, in the order they started (empty for an unknown task). A
    /// released attempt's number comes again in the next one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn attempts(mut self, id: i64) -> Result<Vec<TaskAttempt>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<AttemptRow> = run!(conn, "tasks.attempts", c => task_attempts::table
            .select(AttemptRow::as_select())
            .filter(task_attempts::task_id.eq(id))
            .order(task_attempts::id.asc())
            .load(c)
            .await)?;
        rows.into_iter().map(AttemptRow::into_attempt).collect()
    }

    /// One page of the tasks matching `filter`, newest first (by id), starting after
    /// `page.after`: keyset pagination, one index range scan per page however deep.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a limit outside 1 to 1,000 or a malformed kind;
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn list(mut self, filter: &TaskFilter, page: TaskPageRequest) -> Result<TaskPage, StoreError> {
        if !(1..=TASK_BATCH_MAX).contains(&page.limit) {
            return Err(StoreError::InvalidInput(format!(
                "a page holds 1 to {TASK_BATCH_MAX} tasks, not {}",
                page.limit
            )));
        }
        if let Some(kind) = &filter.kind {
            check_kind(kind)?;
        }
        let state = filter.state.map(TaskState::as_str);
        let kind = filter.kind.as_deref();
        let after = page.after.map(|c| c.id);
        let fetch = i64::from(page.limit) + 1;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by tasks_kind (kind, state, id) with a kind, tasks_state (state, id) with a
        // state alone, the key otherwise.
        let rows: Vec<TaskRow> = run!(conn, "tasks.list", c => {
            let mut query = tasks::table.select(TaskRow::as_select()).into_boxed();
            if let Some(state) = state {
                query = query.filter(tasks::state.eq(state));
            }
            if let Some(kind) = kind {
                query = query.filter(tasks::kind.eq(kind));
            }
            if let Some(after) = after {
                query = query.filter(tasks::id.lt(after));
            }
            query.order(tasks::id.desc()).limit(fetch).load(c).await
        })?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .into_iter()
            .take(page.limit as usize)
            .map(TaskRow::into_task)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more { items.last().map(Task::cursor) } else { None };
        Ok(TaskPage { items, next })
    }

    /// How many tasks there are per kind and state (the states with none left out), by kind
    /// then state: the queue-depth metrics. Counts every stored task, finished ones too (a scan
    /// of the `(kind, state)` index).
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for an unknown state.
    pub async fn counts(mut self) -> Result<Vec<TaskCount>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<(String, String, i64)> = run!(conn, "tasks.counts", c => tasks::table
            .group_by((tasks::kind, tasks::state))
            .select((tasks::kind, tasks::state, diesel::dsl::count_star()))
            .order((tasks::kind.asc(), tasks::state.asc()))
            .load(c)
            .await)?;
        rows.into_iter()
            .map(|(kind, state, count)| {
                let state = state
                    .parse()
                    .map_err(|_| invalid_row("tasks", format!("tasks of kind {kind:?} have an unknown state")))?;
                Ok(TaskCount {
                    kind,
                    state,
                    count: count.unsigned_abs(),
                })
            })
            .collect()
    }

    /// The earliest `run_at` of the pending tasks of `kinds` (empty: any kind), due or not:
    /// when the next task is due (a worker with nothing to do can sleep until then), and how far
    /// behind the queue is (`now` minus it, when in the past). `None` when nothing is pending.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a malformed kind; [`StoreError::Query`] from the
    /// database.
    pub async fn oldest_pending_run_at(mut self, kinds: &[&str]) -> Result<Option<DateTime<Utc>>, StoreError> {
        check_kinds(kinds)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // A scan of tasks_claim: the pending tasks only.
        let earliest: Option<NaiveDateTime> = run!(conn, "tasks.oldest_pending_run_at", c => {
            let mut query = tasks::table
                .select(diesel::dsl::min(tasks::run_at))
                .filter(sql::<Bool>(PENDING_SQL))
                .into_boxed();
            if !kinds.is_empty() {
                query = query.filter(tasks::kind.eq_any(kinds));
            }
            query.get_result(c).await
        })?;
        Ok(earliest.map(utc))
    }

    /// Claims the slot `slot` of the periodic schedule `schedule` at `now`: `true` for exactly
    /// one call per (schedule, slot), across any number of connections and processes; `false`
    /// when it was claimed already. Prefer [`enqueue_for_slot`](Self::enqueue_for_slot), which
    /// cannot lose the slot's task.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long schedule name;
    /// [`StoreError::Query`] from the database.
    pub async fn claim_slot(
        mut self,
        schedule: &str,
        slot: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check_len("a schedule name", schedule, TASK_SCHEDULE_MAX_LEN)?;
        let row = SlotRow {
            schedule,
            slot_at: db_time(slot),
            claimed_at: db_time(now),
            task_id: None,
        };
        let mut conn_slot = None;
        let conn = self.exec.conn(&mut conn_slot).await?;
        insert_slot(conn, "tasks.claim_slot", &row).await
    }

    /// Claims the slot `slot` of `schedule` (as [`claim_slot`](Self::claim_slot)) and, if this
    /// call claimed it, enqueues `task` (as [`enqueue`](Self::enqueue)) in the same
    /// transaction, so that a crash between the two loses neither: `None` when the slot was
    /// claimed already (nothing enqueued), else what the enqueue did. The slot records the
    /// task's id.
    ///
    /// # Errors
    /// As [`claim_slot`](Self::claim_slot) and [`enqueue`](Self::enqueue).
    pub async fn enqueue_for_slot(
        mut self,
        schedule: &str,
        slot: DateTime<Utc>,
        task: &NewTask,
        now: DateTime<Utc>,
    ) -> Result<Option<Enqueued>, StoreError> {
        const OP: &str = "tasks.enqueue_for_slot";
        check_len("a schedule name", schedule, TASK_SCHEDULE_MAX_LEN)?;
        NewTaskRow::new(task, now)?;
        let row = SlotRow {
            schedule,
            slot_at: db_time(slot),
            claimed_at: db_time(now),
            task_id: None,
        };
        write_retrying!(self.exec, async |conn| {
            if !insert_slot(conn, OP, &row).await? {
                return Ok(None);
            }
            let enqueued = enqueue_on(conn, task, now).await?;
            let record = diesel::update(
                task_schedule_slots::table
                    .filter(task_schedule_slots::schedule.eq(row.schedule))
                    .filter(task_schedule_slots::slot_at.eq(row.slot_at)),
            )
            .set(task_schedule_slots::task_id.eq(Some(enqueued.id)));
            run!(conn, OP, c => record.execute(c).await)?;
            Ok(Some(enqueued))
        })
    }

    /// Deletes the claimed slots older than `older_than` (`slot_at < older_than`), of every
    /// schedule; returns how many. Keep the slots a late or restarted scheduler could still
    /// fire.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune_slots(mut self, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete =
            diesel::delete(task_schedule_slots::table.filter(task_schedule_slots::slot_at.lt(db_time(older_than))));
        let n = run!(conn, "tasks.prune_slots", c => delete.execute(c).await)?;
        Ok(n as u64)
    }

    /// Deletes the finished tasks (succeeded, dead or cancelled) that finished before `before`,
    /// with their attempts; returns how many tasks. Pending and running tasks are never
    /// touched, whatever their age.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune_finished(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(
            tasks::table
                .filter(tasks::state.eq_any(["succeeded", "dead", "cancelled"]))
                .filter(tasks::finished_at.lt(db_time(before))),
        );
        // The attempts go with their task (ON DELETE CASCADE on every backend).
        let n = run!(conn, "tasks.prune_finished", c => delete.execute(c).await)?;
        Ok(n as u64)
    }
}

/// Enqueue notifications from PostgreSQL: the kinds of the tasks enqueued (and committed) on
/// any connection, as they come. See [`Store::listen_tasks`].
///
/// A [`Stream`] of kinds; [`TaskListener::recv`] awaits the next one without `StreamExt`. It
/// ends (or yields an error) when its connection breaks: listen again, and claim meanwhile, as
/// notifications are a hint to wake up — never the only way to find work.
pub struct TaskListener {
    inner: Pin<Box<dyn Stream<Item = Result<String, StoreError>> + Send>>,
}

impl fmt::Debug for TaskListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskListener")
    }
}

impl TaskListener {
    /// The kind of the next task enqueued; `None` once the connection is gone.
    pub async fn recv(&mut self) -> Option<Result<String, StoreError>> {
        self.inner.next().await
    }
}

impl Stream for TaskListener {
    type Item = Result<String, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Store {
    /// Listens for enqueued tasks on PostgreSQL (`LISTEN finstage_tasks` on a connection of its
    /// own, outside the pool): idle workers wake up when a task arrives instead of polling
    /// often. `None` on MySQL and SQLite, which have no such notifications: poll there (on
    /// SQLite in one process, the enqueuer can wake its workers directly).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the connection cannot be made; [`StoreError::Query`]
    /// when `LISTEN` fails.
    pub async fn listen_tasks(&self) -> Result<Option<TaskListener>, StoreError> {
        const OP: &str = "tasks.listen";
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = AsyncPgConnection::establish(self.config().url.expose_secret())
            .await
            .map_err(|e| StoreError::Unavailable {
                backend: Backend::Postgres.name(),
                message: e.to_string(),
            })?;
        conn.batch_execute(&format!("LISTEN {TASKS_CHANNEL}"))
            .await
            .map_err(|e| StoreError::query(OP, e))?;
        let stream = futures_util::stream::unfold(conn, |mut conn| async move {
            let next = {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                notifications.next().await
            };
            next.map(|item| {
                let kind = item.map(|n| n.payload).map_err(|e| StoreError::query(OP, e));
                (kind, conn)
            })
        });
        Ok(Some(TaskListener {
            inner: Box::pin(stream),
        }))
    }
}
