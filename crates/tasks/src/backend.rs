//! [`TaskBackend`]: the storage seam. The worker pool and the queue speak only to it; the
//! memory backend and the database backend implement it.
//!
//! Every method takes `now` from the caller's [`Clock`](crate::Clock): backends never read the
//! time themselves, so a test moves time by moving its clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::{
    Attempt, AttemptOutcome, CancelOutcome, Depth, Enqueued, Finish, LeaseStatus, NewTask, PageRequest, Task,
    TaskError, TaskFilter, TaskId, TaskPage,
};

/// Where tasks are kept and how they are claimed. Object-safe: used as `Arc<dyn TaskBackend>`.
///
/// Delivery is at least once: a task whose worker stops renewing its lease is handed to
/// another worker by [`reap_expired`](Self::reap_expired), so a handler may see a task again
/// after a crash and must be idempotent.
pub trait TaskBackend: Send + Sync + std::fmt::Debug + 'static {
    /// A short name (`memory`, `postgres`, ...).
    fn name(&self) -> &'static str;

    /// Stores a task, unless its unique key is held by a pending or running task: then that
    /// task's id comes back with `created: false`.
    fn enqueue(&self, task: NewTask, now: DateTime<Utc>) -> BoxFuture<'_, Result<Enqueued, TaskError>>;

    /// Enqueues `task` for the slot `slot` of schedule `schedule`, exactly once across every
    /// caller: `None` when the slot was already taken.
    fn enqueue_for_slot<'a>(
        &'a self,
        schedule: &'a str,
        slot: DateTime<Utc>,
        task: NewTask,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Option<Enqueued>, TaskError>>;

    /// Moves up to `limit` due pending tasks of `kinds` (all kinds when empty) to running under
    /// `worker`'s lease, most urgent first (priority, then run time, then id), and starts an
    /// attempt of each.
    fn claim<'a>(
        &'a self,
        worker: &'a str,
        kinds: &'a [String],
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Task>, TaskError>>;

    /// Renews `worker`'s leases on `ids`, and tells which it still holds and which are to be
    /// cancelled.
    fn heartbeat<'a>(
        &'a self,
        worker: &'a str,
        ids: &'a [TaskId],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<LeaseStatus>, TaskError>>;

    /// Records success with `result` (JSON).
    fn complete<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        result: String,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>>;

    /// Records the success of several tasks of `worker` at once (one transaction where the
    /// backend has them), answering for each in the order given. The default records them one
    /// by one.
    fn complete_many<'a>(
        &'a self,
        worker: &'a str,
        results: Vec<(TaskId, String)>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<(TaskId, Finish)>, TaskError>> {
        Box::pin(async move {
            let mut finished = Vec::with_capacity(results.len());
            for (id, result) in results {
                finished.push((id, self.complete(id, worker, result, now).await?));
            }
            Ok(finished)
        })
    }

    /// `true` when recording successes in batches ([`complete_many`](Self::complete_many)) is
    /// cheaper than one by one (a database: one commit per batch). The worker pool then gathers
    /// them; the memory backend records each at once.
    fn batches_completions(&self) -> bool {
        true
    }

    /// Records a failed attempt: the task goes back to pending at `retry_at` when it is `Some`
    /// and attempts remain, and is dead otherwise.
    fn fail<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        outcome: AttemptOutcome,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>>;

    /// Gives a running task back (worker shutting down): pending at once, the attempt not
    /// counted.
    fn release<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>>;

    /// Records that a running task stopped on a cancellation request.
    fn mark_cancelled<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>>;

    /// Cancels a pending task at once, or asks a running task's worker to stop.
    fn cancel(&self, id: TaskId, now: DateTime<Utc>) -> BoxFuture<'_, Result<CancelOutcome, TaskError>>;

    /// Re-delivers the running tasks whose lease has expired (pending again, or dead when no
    /// attempt is left); returns how many.
    fn reap_expired(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<u64, TaskError>>;

    /// One task.
    fn get(&self, id: TaskId) -> BoxFuture<'_, Result<Option<Task>, TaskError>>;

    /// A task's attempts, first first.
    fn attempts(&self, id: TaskId) -> BoxFuture<'_, Result<Vec<Attempt>, TaskError>>;

    /// Tasks by descending id.
    fn list<'a>(&'a self, filter: &'a TaskFilter, page: PageRequest) -> BoxFuture<'a, Result<TaskPage, TaskError>>;

    /// Task counts by kind and state.
    fn depth(&self) -> BoxFuture<'_, Result<Vec<Depth>, TaskError>>;

    /// Resolves when new work may have arrived (an enqueue, here or — where the backend can
    /// hear it — in another process). Backends that cannot tell never resolve; workers poll
    /// them.
    fn wait_for_work(&self) -> BoxFuture<'_, ()>;
}
