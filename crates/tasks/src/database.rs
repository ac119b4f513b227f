//! [`DatabaseBackend`]: the durable backend, over `finstage-store`'s task tables on
//! PostgreSQL, MySQL/MariaDB or SQLite.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL, so any number of worker
//! processes share one queue; SQLite has one writer, so claims there are serialised (right for
//! the embedded, one-process shape). Idle workers wake on PostgreSQL's `LISTEN`/`NOTIFY` when any
//! process enqueues; on MySQL and SQLite they wake at once for enqueues of their own process and
//! otherwise poll with backoff (the pool's `poll_min`..`poll_max`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use finstage_store::{self as store, Store, StoreError};
use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::{
    Attempt, AttemptOutcome, Backoff, CancelOutcome, Depth, Enqueued, Finish, LeaseStatus, NewTask, PageRequest,
    Priority, Task, TaskBackend, TaskError, TaskFilter, TaskId, TaskPage, TaskState,
};

/// Tasks in the database behind a [`Store`].
#[derive(Debug)]
pub struct DatabaseBackend {
    store: Store,
    work: Arc<Notify>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for DatabaseBackend {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

fn backend_error(error: StoreError) -> TaskError {
    match error {
        StoreError::InvalidInput(message) => TaskError::Invalid(message),
        other => TaskError::Backend(other.to_string()),
    }
}

impl DatabaseBackend {
    /// A backend on `store` (migrated). On PostgreSQL it also listens for enqueues of every
    /// process, reconnecting the listener when its connection drops.
    pub fn new(store: Store) -> Self {
        let work = Arc::new(Notify::new());
        let listener =
            (store.backend() == store::Backend::Postgres).then(|| tokio::spawn(listen(store.clone(), work.clone())));
        Self { store, work, listener }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

async fn listen(store: Store, work: Arc<Notify>) {
    let mut wait = Duration::from_millis(100);
    loop {
        match store.listen_tasks().await {
            Ok(Some(mut listener)) => {
                wait = Duration::from_millis(100);
                // A listener that (re)connects may have missed enqueues: look once.
                work.notify_waiters();
                while let Some(message) = listener.recv().await {
                    if let Err(error) = message {
                        tracing::warn!(%error, "task notifications failed");
                        break;
                    }
                    work.notify_waiters();
                }
            }
            Ok(None) => return,
            Err(error) => tracing::warn!(%error, "cannot listen for task notifications; workers poll meanwhile"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

fn priority(p: Priority) -> store::Priority {
    match p {
        Priority::Critical => store::Priority::Critical,
        Priority::High => store::Priority::High,
        Priority::Normal => store::Priority::Normal,
        Priority::Low => store::Priority::Low,
    }
}

fn from_priority(p: store::Priority) -> Priority {
    match p {
        store::Priority::Critical => Priority::Critical,
        store::Priority::High => Priority::High,
        store::Priority::Normal => Priority::Normal,
        store::Priority::Low => Priority::Low,
    }
}

fn state(s: TaskState) -> store::TaskState {
    match s {
        TaskState::Pending => store::TaskState::Pending,
        TaskState::Running => store::TaskState::Running,
        TaskState::Succeeded => store::TaskState::Succeeded,
        TaskState::Dead => store::TaskState::Dead,
        TaskState::Cancelled => store::TaskState::Cancelled,
    }
}

fn from_state(s: store::TaskState) -> TaskState {
    match s {
        store::TaskState::Pending => TaskState::Pending,
        store::TaskState::Running => TaskState::Running,
        store::TaskState::Succeeded => TaskState::Succeeded,
        store::TaskState::Dead => TaskState::Dead,
        store::TaskState::Cancelled => TaskState::Cancelled,
    }
}

fn from_outcome(o: store::AttemptOutcome) -> AttemptOutcome {
    match o {
        store::AttemptOutcome::Succeeded => AttemptOutcome::Succeeded,
        store::AttemptOutcome::Failed => AttemptOutcome::Failed,
        store::AttemptOutcome::TimedOut => AttemptOutcome::TimedOut,
        store::AttemptOutcome::LeaseExpired => AttemptOutcome::LeaseExpired,
        store::AttemptOutcome::Cancelled => AttemptOutcome::Cancelled,
        store::AttemptOutcome::Released => AttemptOutcome::Released,
    }
}

fn from_task(t: store::Task) -> Task {
    let backoff = t
        .backoff
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    Task {
        id: TaskId(t.id),
        kind: t.kind,
        payload: t.payload,
        priority: from_priority(t.priority),
        state: from_state(t.state),
        attempts: t.attempts,
        max_attempts: t.max_attempts,
        timeout: t.timeout,
        run_at: t.run_at,
        unique_key: t.unique_key,
        backoff,
        created_at: t.created_at,
        started_at: t.started_at,
        finished_at: t.finished_at,
        result: t.result,
        last_error: t.last_error,
        cancel_requested: t.cancel_requested,
        lease_owner: t.lease_owner,
        lease_expires_at: t.lease_expires_at,
    }
}

fn to_new(task: NewTask) -> Result<store::NewTask, TaskError> {
    let backoff: &Backoff = &task.backoff;
    let mut new = store::NewTask::new(task.kind, task.payload);
    new.priority = priority(task.priority);
    new.run_at = Some(task.run_at);
    new.max_attempts = task.max_attempts;
    new.timeout = task.timeout;
    new.unique_key = task.unique_key;
    new.backoff = Some(serde_json::to_string(backoff).map_err(|e| TaskError::Invalid(format!("backoff: {e}")))?);
    Ok(new)
}

fn finish(c: store::Completion) -> Finish {
    match c {
        store::Completion::Done => Finish::Done,
        store::Completion::LeaseLost => Finish::LeaseLost,
    }
}

impl TaskBackend for DatabaseBackend {
    fn name(&self) -> &'static str {
        match self.store.backend() {
            store::Backend::Postgres => "postgres",
            store::Backend::Mysql => "mysql",
            store::Backend::Sqlite => "sqlite",
        }
    }

    fn enqueue(&self, task: NewTask, now: DateTime<Utc>) -> BoxFuture<'_, Result<Enqueued, TaskError>> {
        Box::pin(async move {
            let new = to_new(task)?;
            let enqueued = self.store.tasks().enqueue(&new, now).await.map_err(backend_error)?;
            if enqueued.created {
                self.work.notify_waiters();
            }
            Ok(Enqueued {
                id: TaskId(enqueued.id),
                created: enqueued.created,
            })
        })
    }

    fn enqueue_for_slot<'a>(
        &'a self,
        schedule: &'a str,
        slot: DateTime<Utc>,
        task: NewTask,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Option<Enqueued>, TaskError>> {
        Box::pin(async move {
            let new = to_new(task)?;
            let enqueued = self
                .store
                .tasks()
                .enqueue_for_slot(schedule, slot, &new, now)
                .await
                .map_err(backend_error)?;
            if enqueued.is_some() {
                self.work.notify_waiters();
            }
            Ok(enqueued.map(|e| Enqueued {
                id: TaskId(e.id),
                created: e.created,
            }))
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        kinds: &'a [String],
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Task>, TaskError>> {
        Box::pin(async move {
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            let limit = u32::try_from(limit).unwrap_or(u32::MAX).min(store::TASK_BATCH_MAX);
            let claimed = self
                .store
                .tasks()
                .claim(worker, &kinds, limit, lease, now)
                .await
                .map_err(backend_error)?;
            Ok(claimed.into_iter().map(|c| from_task(c.task)).collect())
        })
    }

    fn heartbeat<'a>(
        &'a self,
        worker: &'a str,
        ids: &'a [TaskId],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<LeaseStatus>, TaskError>> {
        Box::pin(async move {
            let raw: Vec<i64> = ids.iter().map(|id| id.0).collect();
            let mut statuses = Vec::with_capacity(raw.len());
            for chunk in raw.chunks(store::TASK_BATCH_MAX as usize) {
                let answered = self
                    .store
                    .tasks()
                    .heartbeat(worker, chunk, lease, now)
                    .await
                    .map_err(backend_error)?;
                statuses.extend(answered.into_iter().map(|(id, status)| LeaseStatus {
                    id: TaskId(id),
                    owned: status != store::LeaseStatus::Lost,
                    cancel_requested: status == store::LeaseStatus::CancelRequested,
                }));
            }
            Ok(statuses)
        })
    }

    fn complete<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        result: String,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        Box::pin(async move {
            let done = self
                .store
                .tasks()
                .complete(id.0, worker, Some(&result), now)
                .await
                .map_err(backend_error)?;
            Ok(finish(done))
        })
    }

    fn complete_many<'a>(
        &'a self,
        worker: &'a str,
        results: Vec<(TaskId, String)>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<(TaskId, Finish)>, TaskError>> {
        Box::pin(async move {
            let mut finished = Vec::with_capacity(results.len());
            for chunk in results.chunks(store::TASK_BATCH_MAX as usize) {
                let batch: Vec<(i64, Option<&str>)> = chunk.iter().map(|(id, r)| (id.0, Some(r.as_str()))).collect();
                let done = self
                    .store
                    .tasks()
                    .complete_many(worker, &batch, now)
                    .await
                    .map_err(backend_error)?;
                finished.extend(done.into_iter().map(|(id, c)| (TaskId(id), finish(c))));
            }
            Ok(finished)
        })
    }

    fn fail<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        outcome: AttemptOutcome,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        Box::pin(async move {
            let kind = if outcome == AttemptOutcome::TimedOut {
                store::FailureKind::TimedOut
            } else {
                store::FailureKind::Failed
            };
            let failed = self
                .store
                .tasks()
                .fail(id.0, worker, kind, &error, retry_at, now)
                .await
                .map_err(backend_error)?;
            let finish = match failed {
                store::FailOutcome::LeaseLost => Finish::LeaseLost,
                _ => Finish::Done,
            };
            if matches!(failed, store::FailOutcome::Retrying { .. }) {
                self.work.notify_waiters();
            }
            Ok(finish)
        })
    }

    fn release<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        Box::pin(async move {
            Ok(finish(
                self.store
                    .tasks()
                    .release(id.0, worker, now)
                    .await
                    .map_err(backend_error)?,
            ))
        })
    }

    fn mark_cancelled<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        Box::pin(async move {
            Ok(finish(
                self.store
                    .tasks()
                    .mark_cancelled(id.0, worker, now)
                    .await
                    .map_err(backend_error)?,
            ))
        })
    }

    fn cancel(&self, id: TaskId, now: DateTime<Utc>) -> BoxFuture<'_, Result<CancelOutcome, TaskError>> {
        Box::pin(async move {
            Ok(
                match self.store.tasks().cancel(id.0, now).await.map_err(backend_error)? {
                    store::CancelOutcome::Cancelled => CancelOutcome::Cancelled,
                    store::CancelOutcome::CancelRequested => CancelOutcome::Requested,
                    store::CancelOutcome::AlreadyFinished(_) => CancelOutcome::AlreadyFinished,
                    store::CancelOutcome::NotFound => CancelOutcome::NotFound,
                },
            )
        })
    }

    fn reap_expired(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(async move {
            let reaped = self.store.tasks().reap_expired(now).await.map_err(backend_error)?;
            if reaped > 0 {
                self.work.notify_waiters();
            }
            Ok(reaped)
        })
    }

    fn get(&self, id: TaskId) -> BoxFuture<'_, Result<Option<Task>, TaskError>> {
        Box::pin(async move {
            Ok(self
                .store
                .tasks()
                .get(id.0)
                .await
                .map_err(backend_error)?
                .map(from_task))
        })
    }

    fn attempts(&self, id: TaskId) -> BoxFuture<'_, Result<Vec<Attempt>, TaskError>> {
        Box::pin(async move {
            let attempts = self.store.tasks().attempts(id.0).await.map_err(backend_error)?;
            Ok(attempts
                .into_iter()
                .map(|a| Attempt {
                    number: a.attempt,
                    worker: a.worker_id,
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    outcome: a.outcome.map(from_outcome),
                    error: a.error,
                })
                .collect())
        })
    }

    fn list<'a>(&'a self, filter: &'a TaskFilter, page: PageRequest) -> BoxFuture<'a, Result<TaskPage, TaskError>> {
        Box::pin(async move {
            let filter = store::TaskFilter {
                state: filter.state.map(state),
                kind: filter.kind.clone(),
            };
            let request = store::TaskPageRequest {
                limit: u32::try_from(page.limit).unwrap_or(u32::MAX),
                after: page.before.map(|id| store::TaskCursor::from_last_id(id.0)),
            };
            let page = self.store.tasks().list(&filter, request).await.map_err(backend_error)?;
            Ok(TaskPage {
                tasks: page.items.into_iter().map(from_task).collect(),
                next: page.next.map(|c| TaskId(c.last_id())),
            })
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<Vec<Depth>, TaskError>> {
        Box::pin(async move {
            let counts = self.store.tasks().counts().await.map_err(backend_error)?;
            Ok(counts
                .into_iter()
                .map(|c| Depth {
                    kind: c.kind,
                    state: from_state(c.state),
                    count: c.count,
                })
                .collect())
        })
    }

    fn wait_for_work(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.work.notified())
    }
}
