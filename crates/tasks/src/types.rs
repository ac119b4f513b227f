//! The vocabulary of the queue: ids, priorities, states, options, tasks and their attempts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::TaskError;

/// A task's id, unique within its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How urgent a task is: a more urgent due task is always claimed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Before everything else.
    Critical,
    /// Before normal work.
    High,
    /// The default.
    #[default]
    Normal,
    /// When nothing else is due.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [Self::Critical, Self::High, Self::Normal, Self::Low];

    /// The stored rank: 0 (critical) to 3 (low); lower is more urgent.
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

    /// The lower-case name (`critical`, `high`, `normal`, `low`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }
}

impl FromStr for Priority {
    type Err = TaskError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| TaskError::Invalid(format!("unknown priority {s:?} (critical, high, normal or low)")))
    }
}

/// Where a task is in its life.
///
/// ```text
/// pending ──claim──▶ running ──ok──▶ succeeded
///    ▲                  │ error, attempts left (retry at a later run_at)
///    └──────────────────┤
///                       ├─ error, no attempts left ──▶ dead (kept for inspection)
///                       └─ cancelled ──▶ cancelled   (pending tasks are cancelled at once)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for its run time and a worker.
    Pending,
    /// Claimed by a worker holding its lease.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Failed on every attempt it had.
    Dead,
    /// Cancelled before it finished.
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

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// `true` for the states a task never leaves.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Cancelled)
    }
}

impl FromStr for TaskState {
    type Err = TaskError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| TaskError::Invalid(format!("unknown task state {s:?}")))
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wait before a failed task's next attempt: `min(cap, base × 2^(attempt−1))`, of which a
/// random half is taken off ("equal jitter": retries of tasks that failed together spread out,
/// and no wait is shorter than half its step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The wait after the first failure, before jitter.
    pub base: Duration,
    /// The longest wait, before jitter.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait after failed attempt number `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// A wait after failed attempt `attempt`, in `[ceiling / 2, ceiling]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl rand::Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + Duration::from_secs_f64(rng.random_range(0.0..=1.0) * (ceiling - half).as_secs_f64())
    }
}

/// How a task is to run. Build with [`TaskOptions::default`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// Its priority.
    pub priority: Priority,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// How long one attempt may run before it is ended and counted as failed.
    pub timeout: Duration,
    /// When it may run first (`None`: now, or `now + delay`).
    pub run_at: Option<DateTime<Utc>>,
    /// How long after enqueueing it may run first (ignored when `run_at` is set).
    pub delay: Duration,
    /// A key no other pending or running task may hold: enqueueing again returns that task.
    pub unique_key: Option<String>,
    /// Waits between attempts.
    pub backoff: Backoff,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            priority: Priority::Normal,
            max_attempts: 3,
            timeout: Duration::from_secs(300),
            run_at: None,
            delay: Duration::ZERO,
            unique_key: None,
            backoff: Backoff::default(),
        }
    }
}

impl TaskOptions {
    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the number of attempts.
    #[must_use]
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs first at `at`.
    #[must_use]
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Runs first `delay` after enqueueing.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the unique key.
    #[must_use]
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Sets the backoff.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for zero attempts, a zero timeout, an empty or over-long unique
    /// key, or a backoff whose cap is below its base.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.max_attempts == 0 {
            return Err(TaskError::Invalid("max_attempts must be at least 1".to_owned()));
        }
        if self.timeout.is_zero() {
            return Err(TaskError::Invalid("timeout must be positive".to_owned()));
        }
        if let Some(key) = &self.unique_key
            && (key.is_empty() || key.len() > MAX_KEY_LEN)
        {
            return Err(TaskError::Invalid(format!(
                "unique_key must be 1 to {MAX_KEY_LEN} bytes"
            )));
        }
        if self.backoff.cap < self.backoff.base {
            return Err(TaskError::Invalid("backoff cap must not be below its base".to_owned()));
        }
        Ok(())
    }
}

/// Longest task kind and unique key, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// A task as handed to a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// What handler runs it.
    pub kind: String,
    /// Its input, as JSON.
    pub payload: String,
    /// Its priority.
    pub priority: Priority,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// When it may first run.
    pub run_at: DateTime<Utc>,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// Waits between attempts.
    pub backoff: Backoff,
}

/// A task as a backend holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// What handler runs it.
    pub kind: String,
    /// Its input, as JSON.
    pub payload: String,
    /// Its priority.
    pub priority: Priority,
    /// Where it is.
    pub state: TaskState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// When it may (next) run.
    pub run_at: DateTime<Utc>,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// The handler's result, as JSON, once succeeded.
    pub result: Option<String>,
    /// The latest attempt's error.
    pub last_error: Option<String>,
    /// Cancellation was asked for while it ran.
    pub cancel_requested: bool,
    /// The worker holding its lease, while running.
    pub lease_owner: Option<String>,
    /// When that lease ends unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The handler returned a result.
    Succeeded,
    /// The handler returned an error.
    Failed,
    /// The attempt ran past the task's timeout.
    TimedOut,
    /// The worker stopped renewing its lease (it died or hung); the task was re-delivered.
    LeaseExpired,
    /// The task was cancelled while it ran.
    Cancelled,
    /// The worker shut down and gave the task back; it does not count as an attempt.
    Released,
}

impl AttemptOutcome {
    /// The stored name.
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

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// The worker that made it.
    pub worker: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`None` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Option<AttemptOutcome>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// What [`enqueue`](crate::TaskBackend::enqueue) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The task's id: the new task's, or that of the pending or running task holding the key.
    pub id: TaskId,
    /// `false` when the unique key matched an existing task.
    pub created: bool,
}

/// What a worker's report (complete, fail, release, mark cancelled) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Recorded.
    Done,
    /// The worker no longer held the lease (it expired and the task was re-delivered): nothing
    /// was recorded.
    LeaseLost,
}

/// What [`cancel`](crate::TaskBackend::cancel) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The task was pending and is now cancelled.
    Cancelled,
    /// The task is running; its worker has been asked to stop.
    Requested,
    /// The task had already finished.
    AlreadyFinished,
    /// No such task.
    NotFound,
}

/// A running task's lease after a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseStatus {
    /// The task.
    pub id: TaskId,
    /// The worker still holds the lease (renewed).
    pub owned: bool,
    /// Someone asked for the task to be cancelled.
    pub cancel_requested: bool,
}

/// Which tasks a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only tasks of this kind.
    pub kind: Option<String>,
}

/// A page of a listing: tasks by descending id, after the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The last id of the previous page (`None` for the first page).
    pub before: Option<TaskId>,
    /// Page size (1 to 1,000).
    pub limit: usize,
}

/// One page of tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPage {
    /// The tasks, newest first.
    pub tasks: Vec<Task>,
    /// The cursor of the next page, if there is one.
    pub next: Option<TaskId>,
}

/// How many tasks of a kind are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    /// The kind.
    pub kind: String,
    /// The state.
    pub state: TaskState,
    /// How many.
    pub count: u64,
}
