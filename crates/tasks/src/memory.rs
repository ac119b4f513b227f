//! [`MemoryBackend`]: tasks in this process's memory, for tests and ephemeral work. Everything
//! is lost when the process ends; the database backend is the durable one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::{
    Attempt, AttemptOutcome, CancelOutcome, Depth, Enqueued, Finish, LeaseStatus, NewTask, PageRequest, Task,
    TaskBackend, TaskError, TaskFilter, TaskId, TaskPage, TaskState,
};

/// The claim order: priority rank, run time, id.
type ReadyKey = (i16, DateTime<Utc>, i64);

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    tasks: BTreeMap<i64, Task>,
    attempts: HashMap<i64, Vec<Attempt>>,
    /// Pending tasks in claim order.
    ready: BTreeSet<ReadyKey>,
    /// Unique keys of pending and running tasks.
    unique: HashMap<String, i64>,
    slots: HashSet<(String, DateTime<Utc>)>,
}

/// Tasks in memory behind one mutex (held for microseconds, never across an `.await`).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
    work: Notify,
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX)
}

impl MemoryBackend {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn insert(&mut self, task: NewTask, now: DateTime<Utc>) -> Enqueued {
        if let Some(key) = &task.unique_key
            && let Some(id) = self.unique.get(key)
        {
            return Enqueued {
                id: TaskId(*id),
                created: false,
            };
        }
        self.next_id += 1;
        let id = self.next_id;
        if let Some(key) = &task.unique_key {
            self.unique.insert(key.clone(), id);
        }
        self.ready.insert((task.priority.rank(), task.run_at, id));
        self.tasks.insert(
            id,
            Task {
                id: TaskId(id),
                kind: task.kind,
                payload: task.payload,
                priority: task.priority,
                state: TaskState::Pending,
                attempts: 0,
                max_attempts: task.max_attempts,
                timeout: task.timeout,
                run_at: task.run_at,
                unique_key: task.unique_key,
                backoff: task.backoff,
                created_at: now,
                started_at: None,
                finished_at: None,
                result: None,
                last_error: None,
                cancel_requested: false,
                lease_owner: None,
                lease_expires_at: None,
            },
        );
        Enqueued {
            id: TaskId(id),
            created: true,
        }
    }

    /// The running task `id` if `worker` holds its lease.
    fn owned(&mut self, id: TaskId, worker: &str) -> Option<&mut Task> {
        self.tasks
            .get_mut(&id.0)
            .filter(|t| t.state == TaskState::Running && t.lease_owner.as_deref() == Some(worker))
    }

    fn close_attempt(&mut self, id: i64, outcome: AttemptOutcome, error: Option<String>, now: DateTime<Utc>) {
        if let Some(attempt) = self.attempts.get_mut(&id).and_then(|a| a.last_mut()) {
            attempt.finished_at = Some(now);
            attempt.outcome = Some(outcome);
            attempt.error = error;
        }
    }

    /// Ends a task in a final state.
    fn finish(&mut self, id: i64, state: TaskState, now: DateTime<Utc>) {
        if let Some(task) = self.tasks.get_mut(&id) {
            self.ready.remove(&(task.priority.rank(), task.run_at, id));
            task.state = state;
            task.finished_at = Some(now);
            task.lease_owner = None;
            task.lease_expires_at = None;
            if let Some(key) = &task.unique_key
                && self.unique.get(key) == Some(&id)
            {
                self.unique.remove(key);
            }
        }
    }

    /// Puts a task back in the pending set at `run_at`.
    fn requeue(&mut self, id: i64, run_at: DateTime<Utc>) {
        if let Some(task) = self.tasks.get_mut(&id) {
            task.state = TaskState::Pending;
            task.run_at = run_at;
            task.lease_owner = None;
            task.lease_expires_at = None;
            task.cancel_requested = false;
            self.ready.insert((task.priority.rank(), run_at, id));
        }
    }

    /// Records `worker`'s success on `id`, if it still holds the lease.
    fn succeed(&mut self, id: TaskId, worker: &str, result: String, now: DateTime<Utc>) -> Finish {
        let Some(task) = self.owned(id, worker) else {
            return Finish::LeaseLost;
        };
        task.result = Some(result);
        self.close_attempt(id.0, AttemptOutcome::Succeeded, None, now);
        self.finish(id.0, TaskState::Succeeded, now);
        Finish::Done
    }

    /// After a failed or expired attempt: retry at `retry_at` if attempts remain, else dead.
    fn after_failure(&mut self, id: i64, retry_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let retry = self
            .tasks
            .get(&id)
            .and_then(|t| retry_at.filter(|_| t.attempts < t.max_attempts));
        match retry {
            Some(at) => self.requeue(id, at),
            None => self.finish(id, TaskState::Dead, now),
        }
    }
}

impl TaskBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn enqueue(&self, task: NewTask, now: DateTime<Utc>) -> BoxFuture<'_, Result<Enqueued, TaskError>> {
        let enqueued = self.lock().insert(task, now);
        if enqueued.created {
            self.work.notify_waiters();
        }
        Box::pin(std::future::ready(Ok(enqueued)))
    }

    fn enqueue_for_slot<'a>(
        &'a self,
        schedule: &'a str,
        slot: DateTime<Utc>,
        task: NewTask,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Option<Enqueued>, TaskError>> {
        let mut state = self.lock();
        let enqueued = state
            .slots
            .insert((schedule.to_owned(), slot))
            .then(|| state.insert(task, now));
        drop(state);
        if enqueued.is_some() {
            self.work.notify_waiters();
        }
        Box::pin(std::future::ready(Ok(enqueued)))
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        kinds: &'a [String],
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Task>, TaskError>> {
        let mut state = self.lock();
        let mut picked = Vec::new();
        for key in &state.ready {
            if picked.len() == limit {
                break;
            }
            // The set is ordered by priority first: a later key may still be due.
            if key.1 > now {
                continue;
            }
            let Some(task) = state.tasks.get(&key.2) else { continue };
            if kinds.is_empty() || kinds.contains(&task.kind) {
                picked.push(*key);
            }
        }
        let mut claimed = Vec::with_capacity(picked.len());
        for key in picked {
            state.ready.remove(&key);
            let Some(task) = state.tasks.get_mut(&key.2) else {
                continue;
            };
            task.state = TaskState::Running;
            task.attempts += 1;
            task.started_at = Some(now);
            task.lease_owner = Some(worker.to_owned());
            task.lease_expires_at = Some(lease_end(now, lease));
            let number = task.attempts;
            claimed.push(task.clone());
            state.attempts.entry(key.2).or_default().push(Attempt {
                number,
                worker: worker.to_owned(),
                started_at: now,
                finished_at: None,
                outcome: None,
                error: None,
            });
        }
        Box::pin(std::future::ready(Ok(claimed)))
    }

    fn heartbeat<'a>(
        &'a self,
        worker: &'a str,
        ids: &'a [TaskId],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<LeaseStatus>, TaskError>> {
        let mut state = self.lock();
        let statuses = ids
            .iter()
            .map(|id| match state.owned(*id, worker) {
                Some(task) => {
                    task.lease_expires_at = Some(lease_end(now, lease));
                    LeaseStatus {
                        id: *id,
                        owned: true,
                        cancel_requested: task.cancel_requested,
                    }
                }
                None => LeaseStatus {
                    id: *id,
                    owned: false,
                    cancel_requested: false,
                },
            })
            .collect();
        Box::pin(std::future::ready(Ok(statuses)))
    }

    fn complete<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        result: String,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        let finish = self.lock().succeed(id, worker, result, now);
        Box::pin(std::future::ready(Ok(finish)))
    }

    fn batches_completions(&self) -> bool {
        false
    }

    fn complete_many<'a>(
        &'a self,
        worker: &'a str,
        results: Vec<(TaskId, String)>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<(TaskId, Finish)>, TaskError>> {
        let mut state = self.lock();
        let finished = results
            .into_iter()
            .map(|(id, result)| (id, state.succeed(id, worker, result, now)))
            .collect();
        Box::pin(std::future::ready(Ok(finished)))
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
        let mut state = self.lock();
        let finish = match state.owned(id, worker) {
            Some(task) => {
                task.last_error = Some(error.clone());
                state.close_attempt(id.0, outcome, Some(error), now);
                state.after_failure(id.0, retry_at, now);
                Finish::Done
            }
            None => Finish::LeaseLost,
        };
        drop(state);
        self.work.notify_waiters();
        Box::pin(std::future::ready(Ok(finish)))
    }

    fn release<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        let mut state = self.lock();
        let finish = match state.owned(id, worker) {
            Some(task) => {
                task.attempts = task.attempts.saturating_sub(1);
                state.close_attempt(id.0, AttemptOutcome::Released, None, now);
                state.requeue(id.0, now);
                Finish::Done
            }
            None => Finish::LeaseLost,
        };
        drop(state);
        self.work.notify_waiters();
        Box::pin(std::future::ready(Ok(finish)))
    }

    fn mark_cancelled<'a>(
        &'a self,
        id: TaskId,
        worker: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Finish, TaskError>> {
        let mut state = self.lock();
        let finish = match state.owned(id, worker) {
            Some(_) => {
                state.close_attempt(id.0, AttemptOutcome::Cancelled, None, now);
                state.finish(id.0, TaskState::Cancelled, now);
                Finish::Done
            }
            None => Finish::LeaseLost,
        };
        Box::pin(std::future::ready(Ok(finish)))
    }

    fn cancel(&self, id: TaskId, now: DateTime<Utc>) -> BoxFuture<'_, Result<CancelOutcome, TaskError>> {
        let mut state = self.lock();
        let outcome = match state.tasks.get_mut(&id.0).map(|t| t.state) {
            None => CancelOutcome::NotFound,
            Some(TaskState::Pending) => {
                state.finish(id.0, TaskState::Cancelled, now);
                CancelOutcome::Cancelled
            }
            Some(TaskState::Running) => {
                if let Some(task) = state.tasks.get_mut(&id.0) {
                    task.cancel_requested = true;
                }
                CancelOutcome::Requested
            }
            Some(_) => CancelOutcome::AlreadyFinished,
        };
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn reap_expired(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<u64, TaskError>> {
        let mut state = self.lock();
        let expired: Vec<i64> = state
            .tasks
            .values()
            .filter(|t| t.state == TaskState::Running && t.lease_expires_at.is_some_and(|at| at <= now))
            .map(|t| t.id.0)
            .collect();
        for id in &expired {
            let message = "lease expired: the worker stopped renewing it".to_owned();
            if let Some(task) = state.tasks.get_mut(id) {
                task.last_error = Some(message.clone());
            }
            state.close_attempt(*id, AttemptOutcome::LeaseExpired, Some(message), now);
            state.after_failure(*id, Some(now), now);
        }
        drop(state);
        if !expired.is_empty() {
            self.work.notify_waiters();
        }
        Box::pin(std::future::ready(Ok(expired.len() as u64)))
    }

    fn get(&self, id: TaskId) -> BoxFuture<'_, Result<Option<Task>, TaskError>> {
        Box::pin(std::future::ready(Ok(self.lock().tasks.get(&id.0).cloned())))
    }

    fn attempts(&self, id: TaskId) -> BoxFuture<'_, Result<Vec<Attempt>, TaskError>> {
        Box::pin(std::future::ready(Ok(self
            .lock()
            .attempts
            .get(&id.0)
            .cloned()
            .unwrap_or_default())))
    }

    fn list<'a>(&'a self, filter: &'a TaskFilter, page: PageRequest) -> BoxFuture<'a, Result<TaskPage, TaskError>> {
        let state = self.lock();
        let upper = page.before.map_or(i64::MAX, |b| b.0);
        let mut tasks: Vec<Task> = state
            .tasks
            .range(..upper)
            .rev()
            .map(|(_, t)| t)
            .filter(|t| filter.state.is_none_or(|s| t.state == s) && filter.kind.as_ref().is_none_or(|k| *k == t.kind))
            .take(page.limit + 1)
            .cloned()
            .collect();
        let next = (tasks.len() > page.limit).then(|| {
            tasks.truncate(page.limit);
            tasks.last().map(|t| t.id)
        });
        Box::pin(std::future::ready(Ok(TaskPage {
            tasks,
            next: next.flatten(),
        })))
    }

    fn depth(&self) -> BoxFuture<'_, Result<Vec<Depth>, TaskError>> {
        let state = self.lock();
        let mut counts: BTreeMap<(String, &'static str), (TaskState, u64)> = BTreeMap::new();
        for task in state.tasks.values() {
            counts
                .entry((task.kind.clone(), task.state.as_str()))
                .or_insert((task.state, 0))
                .1 += 1;
        }
        let depth = counts
            .into_iter()
            .map(|((kind, _), (state, count))| Depth { kind, state, count })
            .collect();
        Box::pin(std::future::ready(Ok(depth)))
    }

    fn wait_for_work(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.work.notified())
    }
}
