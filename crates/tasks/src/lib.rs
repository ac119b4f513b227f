//! Finstage's task queue: it loses nothing, from one process to many machines.
//!
//! - [`Queue`] enqueues typed (serde) payloads with [`TaskOptions`] — priority, attempts,
//!   timeout, run-at or delay, unique key, backoff — and reads status, results and every
//!   attempt's error; it cancels and lists.
//! - [`WorkerPool`] runs [`Handlers`] registered per kind with a concurrency each: it claims
//!   due tasks in priority order under a lease renewed by heartbeats, ends attempts at their
//!   timeout, retries failures with jittered exponential backoff until the task is dead, passes
//!   cancellation to the handler ([`TaskContext::cancelled`]), re-delivers tasks whose worker
//!   died (expired leases), and shuts down gracefully (stop claiming, wait up to a deadline,
//!   give back the rest).
//! - [`Scheduler`] fires periodic [`Schedule`]s (cron or interval), one task per slot however
//!   many schedulers run.
//! - [`TaskBackend`] is the storage seam: [`MemoryBackend`] for tests and ephemeral work,
//!   [`DatabaseBackend`] over `finstage-store` (PostgreSQL and MySQL with `FOR UPDATE SKIP
//!   LOCKED` and leases, so many processes share one queue; SQLite with its single writer).
//!
//! Delivery is **at least once**: a handler may run again for a task whose previous attempt's
//! worker died after doing the work but before recording it. Handlers must be idempotent.
//!
//! Time comes from a [`Clock`] ([`SystemClock`], or [`TokioClock`] for tests on tokio's paused
//! clock).
//!
//! Metrics: `finstage_tasks_enqueued_total{kind}`, `finstage_tasks_wait_seconds{kind}`
//! (enqueue-or-due to start), `finstage_tasks_run_seconds{kind}`,
//! `finstage_tasks_attempts_total{kind,outcome}`, `finstage_tasks_dead_total{kind}`,
//! `finstage_tasks_depth{kind,state}`, `finstage_schedule_fired_total{schedule}`.

mod backend;
mod clock;
mod database;
mod error;
mod memory;
mod queue;
mod schedule;
mod types;
mod worker;

pub use backend::TaskBackend;
pub use clock::{Clock, SystemClock, TokioClock};
pub use database::DatabaseBackend;
pub use error::TaskError;
pub use memory::MemoryBackend;
pub use queue::{MAX_PAGE, Queue, validate_kind};
pub use schedule::{Every, NextSlot, Schedule, Scheduler};
pub use types::{
    Attempt, AttemptOutcome, Backoff, CancelOutcome, Depth, Enqueued, Finish, LeaseStatus, MAX_KEY_LEN, NewTask,
    PageRequest, Priority, Task, TaskFilter, TaskId, TaskOptions, TaskPage, TaskState,
};
pub use worker::{HandlerError, Handlers, ShutdownReport, TaskContext, WorkerConfig, WorkerPool};
