//! [`Queue`]: the producer's side — enqueue typed payloads, read status and results, cancel,
//! list.

use std::sync::Arc;

use chrono::TimeDelta;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Attempt, CancelOutcome, Clock, Enqueued, MAX_KEY_LEN, NewTask, PageRequest, Task, TaskBackend, TaskError,
    TaskFilter, TaskId, TaskOptions, TaskPage,
};

/// Largest page of a listing.
pub const MAX_PAGE: usize = 1_000;

/// A handle on a backend for producing and inspecting tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    backend: Arc<dyn TaskBackend>,
    clock: Arc<dyn Clock>,
}

/// Checks a task kind: 1 to [`MAX_KEY_LEN`] bytes of ASCII letters, digits, `.`, `_`, `-`, `:`.
///
/// # Errors
/// [`TaskError::Invalid`] naming what is wrong.
pub fn validate_kind(kind: &str) -> Result<(), TaskError> {
    if kind.is_empty() || kind.len() > MAX_KEY_LEN {
        return Err(TaskError::Invalid(format!(
            "task kind must be 1 to {MAX_KEY_LEN} bytes"
        )));
    }
    if !kind
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
    {
        return Err(TaskError::Invalid(format!(
            "task kind {kind:?} may hold only ASCII letters, digits, '.', '_', '-' and ':'"
        )));
    }
    Ok(())
}

/// Builds the stored form of a task.
pub(crate) fn new_task<P: Serialize + ?Sized>(
    kind: &str,
    payload: &P,
    options: TaskOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<NewTask, TaskError> {
    validate_kind(kind)?;
    options.validate()?;
    let payload = serde_json::to_string(payload).map_err(|e| TaskError::Invalid(format!("payload: {e}")))?;
    let run_at = match options.run_at {
        Some(at) => at,
        None => {
            now + TimeDelta::from_std(options.delay).map_err(|_| TaskError::Invalid("delay too long".to_owned()))?
        }
    };
    Ok(NewTask {
        kind: kind.to_owned(),
        payload,
        priority: options.priority,
        max_attempts: options.max_attempts,
        timeout: options.timeout,
        run_at,
        unique_key: options.unique_key,
        backoff: options.backoff,
    })
}

impl Queue {
    /// A queue on `backend`, reading the time from `clock`.
    pub fn new(backend: Arc<dyn TaskBackend>, clock: Arc<dyn Clock>) -> Self {
        Self { backend, clock }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn TaskBackend> {
        &self.backend
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Enqueues a task of `kind` with `payload` (serialized as JSON).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a bad kind, bad options or a payload that does not serialize;
    /// [`TaskError::Backend`] when the backend fails.
    pub async fn enqueue<P: Serialize + ?Sized>(
        &self,
        kind: &str,
        payload: &P,
        options: TaskOptions,
    ) -> Result<Enqueued, TaskError> {
        let now = self.clock.now();
        let task = new_task(kind, payload, options, now)?;
        let enqueued = self.backend.enqueue(task, now).await?;
        if enqueued.created {
            metrics::counter!("finstage_tasks_enqueued_total", "kind" => kind.to_owned()).increment(1);
        }
        Ok(enqueued)
    }

    /// A task's current state and details.
    ///
    /// # Errors
    /// [`TaskError::Backend`] when the backend fails.
    pub async fn status(&self, id: TaskId) -> Result<Option<Task>, TaskError> {
        self.backend.get(id).await
    }

    /// A succeeded task's result, decoded; `None` while it has none.
    ///
    /// # Errors
    /// [`TaskError::Decode`] when the result is not an `R`; [`TaskError::Backend`].
    pub async fn result<R: DeserializeOwned>(&self, id: TaskId) -> Result<Option<R>, TaskError> {
        let Some(task) = self.backend.get(id).await? else {
            return Ok(None);
        };
        task.result
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| TaskError::Decode {
                    id: id.0,
                    what: "result",
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    /// Every attempt of a task with its error.
    ///
    /// # Errors
    /// [`TaskError::Backend`].
    pub async fn attempts(&self, id: TaskId) -> Result<Vec<Attempt>, TaskError> {
        self.backend.attempts(id).await
    }

    /// Cancels a pending task at once; asks a running one to stop (its handler sees
    /// [`TaskContext::cancelled`](crate::TaskContext::cancelled) at the worker's next heartbeat).
    ///
    /// # Errors
    /// [`TaskError::Backend`].
    pub async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, TaskError> {
        self.backend.cancel(id, self.clock.now()).await
    }

    /// Tasks by descending id, filtered, a page at a time.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a page size outside 1..=[`MAX_PAGE`]; [`TaskError::Backend`].
    pub async fn list(&self, filter: &TaskFilter, page: PageRequest) -> Result<TaskPage, TaskError> {
        if !(1..=MAX_PAGE).contains(&page.limit) {
            return Err(TaskError::Invalid(format!("page size must be 1 to {MAX_PAGE}")));
        }
        self.backend.list(filter, page).await
    }
}
