//! [`WorkerPool`]: claims due tasks, runs their handlers with a per-kind concurrency, keeps their
//! leases alive, passes cancellation on, retries failures with backoff, and shuts down
//! gracefully.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::queue::validate_kind;
use crate::{AttemptOutcome, Clock, Finish, Task, TaskBackend, TaskError, TaskId};

/// Why a handler did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// A failure worth another attempt (after the task's backoff, while attempts remain).
    #[error("{0}")]
    Retry(String),
    /// A failure no retry can cure (bad input): the task is dead at once.
    #[error("{0}")]
    Fatal(String),
    /// The handler stopped because cancellation was asked for.
    #[error("cancelled")]
    Cancelled,
}

/// What a handler knows about the task it runs.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The task.
    pub id: TaskId,
    /// Its kind.
    pub kind: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    cancel: watch::Receiver<bool>,
}

impl TaskContext {
    /// `true` once cancellation was asked for (or the lease was lost).
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves when cancellation is asked for: `select!` on it beside the work to stop
    /// cooperatively, then return [`HandlerError::Cancelled`].
    pub async fn cancelled(&mut self) {
        // An error means the worker is gone; nothing will ask again.
        let _ = self.cancel.wait_for(|c| *c).await;
    }
}

type BoxHandler = Arc<dyn Fn(TaskContext, String) -> BoxFuture<'static, Result<String, HandlerError>> + Send + Sync>;

struct Registered {
    handler: BoxHandler,
    slots: Arc<Semaphore>,
    concurrency: usize,
}

/// The handlers of a worker pool, one per task kind, each with its concurrency.
#[derive(Default)]
pub struct Handlers {
    map: HashMap<String, Registered>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind`, running at most `concurrency` tasks of it at once. The
    /// payload is decoded into `P` (a payload that does not decode makes the task dead: no retry
    /// can fix it), the result encoded from `R`.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a bad kind, a kind registered twice, or a zero concurrency.
    pub fn register<P, R, F, Fut>(&mut self, kind: &str, concurrency: usize, handler: F) -> Result<&mut Self, TaskError>
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(TaskContext, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, HandlerError>> + Send + 'static,
    {
        validate_kind(kind)?;
        if concurrency == 0 {
            return Err(TaskError::Invalid(format!("{kind}: concurrency must be at least 1")));
        }
        if self.map.contains_key(kind) {
            return Err(TaskError::Invalid(format!("{kind}: a handler is already registered")));
        }
        let handler = Arc::new(handler);
        let erased: BoxHandler = Arc::new(move |ctx: TaskContext, payload: String| {
            let handler = handler.clone();
            Box::pin(async move {
                let input: P = serde_json::from_str(&payload)
                    .map_err(|e| HandlerError::Fatal(format!("payload does not decode: {e}")))?;
                let output = handler(ctx, input).await?;
                serde_json::to_string(&output).map_err(|e| HandlerError::Fatal(format!("result does not encode: {e}")))
            })
        });
        self.map.insert(
            kind.to_owned(),
            Registered {
                handler: erased,
                slots: Arc::new(Semaphore::new(concurrency)),
                concurrency,
            },
        );
        Ok(self)
    }
}

/// How a worker pool runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's id, unique among workers (lease owner).
    pub id: String,
    /// How long a claim holds a task without a heartbeat.
    pub lease: Duration,
    /// How often leases are renewed (well under `lease`).
    pub heartbeat: Duration,
    /// How often expired leases of any worker are re-delivered.
    pub reap_every: Duration,
    /// First wait when there is no work (doubles up to `poll_max`).
    pub poll_min: Duration,
    /// Longest wait between polls when idle.
    pub poll_max: Duration,
    /// Most tasks claimed in one call.
    pub claim_batch: usize,
    /// Under load (a kind's slots mostly taken), how long the pool waits for more slots to free
    /// before claiming for a few: a claim is a commit on the databases, so claiming one task per
    /// freed slot costs one commit per task. Zero claims at once.
    pub claim_linger: Duration,
    /// How often the depth gauges are refreshed.
    pub depth_every: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: format!("worker-{}", std::process::id()),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            reap_every: Duration::from_secs(5),
            // Idle workers pick up a task within ~10 ms where no notification reaches them
            // (MySQL, SQLite, another process's enqueue): one indexed claim query per 10 ms.
            poll_min: Duration::from_millis(1),
            poll_max: Duration::from_millis(10),
            claim_batch: 64,
            claim_linger: Duration::from_millis(2),
            depth_every: Duration::from_secs(15),
        }
    }
}

/// What a shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Tasks that finished within the grace period.
    pub finished: usize,
    /// Tasks still running at the deadline: stopped and given back (released).
    pub released: usize,
}

struct Shared {
    backend: Arc<dyn TaskBackend>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    handlers: HashMap<String, Registered>,
    /// Cancellation senders of the running tasks.
    running: Mutex<HashMap<TaskId, watch::Sender<bool>>>,
    slot_freed: Notify,
    /// Successes waiting to be recorded together.
    completions: mpsc::UnboundedSender<Completion>,
}

/// A success to record, and where to say how that went.
type Completion = (TaskId, String, oneshot::Sender<Result<Finish, TaskError>>);

/// A running pool of workers; stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct WorkerPool {
    stop: watch::Sender<Option<Duration>>,
    main: tokio::task::JoinHandle<ShutdownReport>,
    upkeep: tokio::task::JoinHandle<()>,
    completer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("worker", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl WorkerPool {
    /// Starts claiming and running tasks of the registered kinds.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] when no handler is registered, the heartbeat is not shorter than
    /// the lease, or a period is zero.
    pub fn start(
        backend: Arc<dyn TaskBackend>,
        clock: Arc<dyn Clock>,
        handlers: Handlers,
        config: WorkerConfig,
    ) -> Result<Self, TaskError> {
        if handlers.map.is_empty() {
            return Err(TaskError::Invalid(
                "a worker pool needs at least one handler".to_owned(),
            ));
        }
        if config.heartbeat >= config.lease || config.heartbeat.is_zero() {
            return Err(TaskError::Invalid(
                "heartbeat must be positive and shorter than the lease".to_owned(),
            ));
        }
        if config.reap_every.is_zero()
            || config.poll_min.is_zero()
            || config.poll_max < config.poll_min
            || config.claim_batch == 0
            || config.depth_every.is_zero()
        {
            return Err(TaskError::Invalid(
                "worker periods and batch size must be positive".to_owned(),
            ));
        }
        let (completions, queued) = mpsc::unbounded_channel();
        let completer = tokio::spawn(complete_loop(backend.clone(), clock.clone(), config.id.clone(), queued));
        let shared = Arc::new(Shared {
            backend,
            clock,
            config,
            handlers: handlers.map,
            running: Mutex::new(HashMap::new()),
            slot_freed: Notify::new(),
            completions,
        });
        let (stop, stop_rx) = watch::channel(None);
        let main = tokio::spawn(claim_loop(shared.clone(), stop_rx.clone()));
        let upkeep = tokio::spawn(upkeep_loop(shared, stop_rx));
        Ok(Self {
            stop,
            main,
            upkeep,
            completer,
        })
    }

    /// Stops claiming, lets running tasks finish for up to `grace`, then stops the rest and
    /// gives their tasks back so that another worker runs them at once.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        let _ = self.stop.send(Some(grace));
        let report = self.main.await.unwrap_or_default();
        let _ = self.upkeep.await;
        // The last handle on the completion queue went with the loops: the completer records
        // what is left and ends.
        let _ = self.completer.await;
        report
    }
}

fn running(shared: &Shared) -> std::sync::MutexGuard<'_, HashMap<TaskId, watch::Sender<bool>>> {
    shared.running.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn claim_loop(shared: Arc<Shared>, mut stop: watch::Receiver<Option<Duration>>) -> ShutdownReport {
    let mut tasks = JoinSet::new();
    let mut poll = shared.config.poll_min;
    let kinds: Vec<String> = shared.handlers.keys().cloned().collect();
    let mut last_claim = Instant::now();
    loop {
        if stop.borrow().is_some() {
            break;
        }
        // Made before the claims, so that an enqueue during them still wakes us.
        let work = shared.backend.wait_for_work();
        let freed = shared.slot_freed.notified();
        let mut claimed_any = false;
        let mut full = false;
        let mut linger: Option<Duration> = None;
        for kind in &kinds {
            let registered = &shared.handlers[kind];
            let free = registered.slots.available_permits();
            if free == 0 {
                full = true;
                continue;
            }
            let busy = registered.concurrency - free;
            let worth = shared.config.claim_batch.min(registered.concurrency) / 2;
            let waited = last_claim.elapsed();
            if busy > 0 && free < worth && waited < shared.config.claim_linger {
                linger = Some(shared.config.claim_linger - waited);
                full = true;
                continue;
            }
            let limit = free.min(shared.config.claim_batch);
            let claimed = match shared
                .backend
                .claim(
                    &shared.config.id,
                    std::slice::from_ref(kind),
                    limit,
                    shared.config.lease,
                    shared.clock.now(),
                )
                .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(worker = %shared.config.id, %kind, %error, "claiming failed");
                    Vec::new()
                }
            };
            for task in claimed {
                claimed_any = true;
                let Ok(permit) = registered.slots.clone().try_acquire_owned() else {
                    // Cannot happen (we claimed no more than the free slots), but never run a
                    // task without its slot: give it back.
                    let _ = shared
                        .backend
                        .release(task.id, &shared.config.id, shared.clock.now())
                        .await;
                    continue;
                };
                let (tx, rx) = watch::channel(task.cancel_requested);
                running(&shared).insert(task.id, tx);
                tasks.spawn(run_task(shared.clone(), task, rx, permit));
            }
        }
        // Reap finished runs so the set does not grow.
        while tasks.try_join_next().is_some() {}
        if claimed_any {
            poll = shared.config.poll_min;
            last_claim = Instant::now();
            continue;
        }
        tokio::select! {
            () = work => {}
            () = freed, if full && linger.is_none() => {}
            () = tokio::time::sleep(linger.unwrap_or_default()), if linger.is_some() => {}
            () = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
        poll = (poll * 2).min(shared.config.poll_max);
    }
    let grace = stop.borrow().unwrap_or(Duration::ZERO);
    let deadline = Instant::now() + grace;
    let mut finished = 0;
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(_)) => finished += 1,
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    // Tasks stopped at the deadline are still in the running map: give them back.
    let left: Vec<TaskId> = running(&shared).drain().map(|(id, _)| id).collect();
    for id in &left {
        if let Err(error) = shared.backend.release(*id, &shared.config.id, shared.clock.now()).await {
            tracing::warn!(task = %id, %error, "could not release a task at shutdown; its lease will expire");
        }
    }
    ShutdownReport {
        finished,
        released: left.len(),
    }
}

async fn run_task(shared: Arc<Shared>, task: Task, cancel: watch::Receiver<bool>, permit: OwnedSemaphorePermit) {
    let mut permit = Some(permit);
    let kind = task.kind.clone();
    let Some(registered) = shared.handlers.get(&kind) else {
        return;
    };
    if let Some(started) = task.started_at {
        let waited = (started - task.run_at.max(task.created_at))
            .to_std()
            .unwrap_or(Duration::ZERO);
        metrics::histogram!("finstage_tasks_wait_seconds", "kind" => kind.clone()).record(waited.as_secs_f64());
    }
    let ctx = TaskContext {
        id: task.id,
        kind: kind.clone(),
        attempt: task.attempts,
        cancel,
    };
    let started = Instant::now();
    let outcome = tokio::time::timeout(task.timeout, (registered.handler)(ctx, task.payload.clone())).await;
    metrics::histogram!("finstage_tasks_run_seconds", "kind" => kind.clone()).record(started.elapsed().as_secs_f64());
    let now = shared.clock.now();
    let worker = shared.config.id.as_str();
    let retry_at = || {
        (task.attempts < task.max_attempts).then(|| {
            let delay = task.backoff.delay(task.attempts, &mut rand::rng());
            now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX)
        })
    };
    // Whether a failure leaves no attempt (the backend then marks the task dead).
    let mut dead = false;
    let (label, report) = match outcome {
        Ok(Ok(result)) if shared.backend.batches_completions() => {
            // The handler is done: its slot is free while the success waits for its batch (the
            // lease stays renewed until it is recorded).
            let recorded = complete(&shared, task.id, result);
            if let Some(permit) = permit.take() {
                free_slot(&shared, permit);
            }
            ("succeeded", recorded.await)
        }
        Ok(Ok(result)) => ("succeeded", shared.backend.complete(task.id, worker, result, now).await),
        Ok(Err(HandlerError::Cancelled)) => ("cancelled", shared.backend.mark_cancelled(task.id, worker, now).await),
        Ok(Err(HandlerError::Retry(error))) => {
            let retry = retry_at();
            dead = retry.is_none();
            (
                "failed",
                shared
                    .backend
                    .fail(task.id, worker, AttemptOutcome::Failed, error, retry, now)
                    .await,
            )
        }
        Ok(Err(HandlerError::Fatal(error))) => {
            dead = true;
            (
                "failed",
                shared
                    .backend
                    .fail(task.id, worker, AttemptOutcome::Failed, error, None, now)
                    .await,
            )
        }
        Err(_) => {
            let error = format!("timed out after {} ms", task.timeout.as_millis());
            let retry = retry_at();
            dead = retry.is_none();
            (
                "timed_out",
                shared
                    .backend
                    .fail(task.id, worker, AttemptOutcome::TimedOut, error, retry, now)
                    .await,
            )
        }
    };
    metrics::counter!("finstage_tasks_attempts_total", "kind" => kind.clone(), "outcome" => label).increment(1);
    match report {
        Ok(Finish::Done) => {
            // A task whose cancellation was asked for is cancelled, not dead, by the backend;
            // the count errs towards dead only for failures with no attempt left.
            if dead && !task.cancel_requested {
                metrics::counter!("finstage_tasks_dead_total", "kind" => kind.clone()).increment(1);
            }
        }
        Ok(Finish::LeaseLost) => {
            tracing::warn!(task = %task.id, %kind, "lease lost before the outcome was recorded; the task was re-delivered");
        }
        Err(error) => {
            tracing::warn!(task = %task.id, %kind, %error, "could not record the outcome; the lease will expire");
        }
    }
    running(&shared).remove(&task.id);
    if let Some(permit) = permit {
        free_slot(&shared, permit);
    }
}

/// Gives a slot back and wakes the claim loop.
fn free_slot(shared: &Shared, permit: OwnedSemaphorePermit) {
    drop(permit);
    shared.slot_freed.notify_one();
}

/// Hands a success to the completer (now) and returns the wait until it is recorded.
fn complete(shared: &Shared, id: TaskId, result: String) -> impl Future<Output = Result<Finish, TaskError>> + use<> {
    let (tx, rx) = oneshot::channel();
    let sent = shared.completions.send((id, result, tx)).is_ok();
    async move {
        if !sent {
            return Err(TaskError::Backend("the worker pool is stopping".to_owned()));
        }
        rx.await
            .unwrap_or_else(|_| Err(TaskError::Backend("the completer stopped".to_owned())))
    }
}

/// Records successes in batches: whatever has queued up while the previous batch was being
/// written goes in the next one (one transaction, one commit), so completions cost one commit
/// per batch rather than one per task under load, and no wait when idle.
async fn complete_loop(
    backend: Arc<dyn TaskBackend>,
    clock: Arc<dyn Clock>,
    worker: String,
    mut queued: mpsc::UnboundedReceiver<Completion>,
) {
    const MOST: usize = 500;
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST {
            match queued.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (results, replies): (Vec<(TaskId, String)>, Vec<_>) = batch
            .into_iter()
            .map(|(id, result, reply)| ((id, result), (id, reply)))
            .unzip();
        match backend.complete_many(&worker, results, clock.now()).await {
            Ok(finished) => {
                let by_id: HashMap<TaskId, Finish> = finished.into_iter().collect();
                for (id, reply) in replies {
                    let _ = reply.send(Ok(by_id.get(&id).copied().unwrap_or(Finish::LeaseLost)));
                }
            }
            Err(error) => {
                for (_, reply) in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Heartbeats, reaping and depth gauges, until the pool stops.
async fn upkeep_loop(shared: Arc<Shared>, mut stop: watch::Receiver<Option<Duration>>) {
    let start = Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + shared.config.heartbeat, shared.config.heartbeat);
    let mut reap = tokio::time::interval_at(start, shared.config.reap_every);
    let mut depth = tokio::time::interval_at(start, shared.config.depth_every);
    for interval in [&mut heartbeat, &mut reap, &mut depth] {
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = heartbeat.tick() => beat(&shared).await,
            _ = reap.tick() => {
                match shared.backend.reap_expired(shared.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(reaped = n, "re-delivered tasks whose lease expired"),
                    Err(error) => tracing::warn!(%error, "reaping expired leases failed"),
                }
            }
            _ = depth.tick() => {
                if let Ok(depth) = shared.backend.depth().await {
                    for d in depth {
                        metrics::gauge!("finstage_tasks_depth", "kind" => d.kind, "state" => d.state.as_str()).set(d.count as f64);
                    }
                }
            }
            _ = stop.changed() => {
                // Keep the leases of tasks finishing in the grace period alive until the
                // claim loop has given back what it could not finish.
                if stop.borrow().is_some() {
                    let grace = stop.borrow().unwrap_or(Duration::ZERO);
                    let until = Instant::now() + grace;
                    while Instant::now() < until && !running(&shared).is_empty() {
                        tokio::select! {
                            _ = heartbeat.tick() => beat(&shared).await,
                            () = tokio::time::sleep_until(until) => {}
                        }
                    }
                    return;
                }
            }
        }
    }
}

async fn beat(shared: &Shared) {
    let ids: Vec<TaskId> = running(shared).keys().copied().collect();
    if ids.is_empty() {
        return;
    }
    match shared
        .backend
        .heartbeat(&shared.config.id, &ids, shared.config.lease, shared.clock.now())
        .await
    {
        Ok(statuses) => {
            let running = running(shared);
            for status in statuses {
                if (status.cancel_requested || !status.owned)
                    && let Some(tx) = running.get(&status.id)
                {
                    let _ = tx.send(true);
                }
            }
        }
        Err(error) => tracing::warn!(worker = %shared.config.id, %error, "heartbeat failed"),
    }
}
