//! The task queue (admin): `GET /v1/tasks` (filtered by state and kind, newest first, cursor
//! pagination through [`finstage_tasks::Queue::list`]), `GET /v1/tasks/{id}` (with its attempts
//! and, once succeeded, its result) and `POST /v1/tasks/{id}/cancel` (a pending task is
//! cancelled at once, a running one is asked to stop, a finished one is a 409).

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, get, post};
use chrono::{DateTime, Utc};
use finstage_tasks::{Attempt, CancelOutcome, MAX_KEY_LEN, MAX_PAGE, PageRequest, Task, TaskFilter, TaskId, TaskState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, echo};
use crate::middleware::Admin;
use crate::routes::limit;
use crate::state::AppState;

/// Tasks per page when `limit` is absent.
pub const TASKS_PAGE_DEFAULT: u32 = 100;

/// A task as listed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskDto {
    /// Its id.
    pub id: i64,
    /// What handler runs it.
    #[schema(example = "backfill")]
    pub kind: String,
    /// `pending`, `running`, `succeeded`, `dead` or `cancelled`.
    #[schema(example = "pending")]
    pub state: String,
    /// `critical`, `high`, `normal` or `low`.
    #[schema(example = "normal")]
    pub priority: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it may (next) run.
    pub run_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// The latest attempt's error.
    pub last_error: Option<String>,
    /// Cancellation was asked for while it ran.
    pub cancel_requested: bool,
}

impl From<&Task> for TaskDto {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id.0,
            kind: t.kind.clone(),
            state: t.state.as_str().to_owned(),
            priority: t.priority.as_str().to_owned(),
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            unique_key: t.unique_key.clone(),
            created_at: t.created_at,
            run_at: t.run_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
            last_error: t.last_error.clone(),
            cancel_requested: t.cancel_requested,
        }
    }
}

/// The filters and page of a task list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TasksQuery {
    /// Only tasks in this state: `pending`, `running`, `succeeded`, `dead` or `cancelled`.
    pub state: Option<String>,
    /// Only tasks of this kind (`backfill`, …).
    pub kind: Option<String>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Tasks per page, 1 to 1,000 (default 100).
    pub limit: Option<u32>,
}

/// A page of tasks, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskPageDto {
    /// The tasks.
    pub items: Vec<TaskDto>,
    /// The `cursor` of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn parse_state(input: &str) -> Result<TaskState, ApiError> {
    input.parse::<TaskState>().map_err(|_| {
        ApiError::invalid_query(format!(
            "state must be one of pending, running, succeeded, dead, cancelled, not \"{}\"",
            echo(input)
        ))
    })
}

/// A kind filter must be a kind the queue accepts (`validate_kind`): anything else is a 400
/// `invalid_query` here, rather than a store refusal reported as a failure of the queue.
fn check_kind(kind: &str) -> Result<(), ApiError> {
    if finstage_tasks::validate_kind(kind).is_err() {
        return Err(ApiError::invalid_query(format!(
            "kind must be 1 to {MAX_KEY_LEN} bytes of ASCII letters, digits, '.', '_', '-' and ':', not \"{}\"",
            echo(kind)
        )));
    }
    Ok(())
}

fn parse_cursor(input: &str) -> Result<TaskId, ApiError> {
    match input.parse::<i64>() {
        Ok(id) if id > 0 => Ok(TaskId(id)),
        _ => Err(ApiError::invalid_query(format!("malformed cursor \"{}\"", echo(input)))),
    }
}

/// The queue's tasks (admin), newest first, filtered by state and kind, a page at a time.
#[utoipa::path(get, path = "/v1/tasks", tag = "tasks", params(TasksQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TaskPageDto),
        (status = 400, description = "`invalid_query`: bad state, kind, cursor or limit", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
    ))]
#[get("/v1/tasks")]
pub(crate) async fn list(
    _admin: Admin,
    state: Data<AppState>,
    query: Query<TasksQuery>,
) -> Result<Json<TaskPageDto>, ApiError> {
    let query = query.into_inner();
    let task_state = query.state.as_deref().map(parse_state).transpose()?;
    if let Some(kind) = &query.kind {
        check_kind(kind)?;
    }
    let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let max = u32::try_from(MAX_PAGE).unwrap_or(u32::MAX);
    let limit = limit(query.limit, TASKS_PAGE_DEFAULT.min(max), max)?;
    let filter = TaskFilter {
        state: task_state,
        kind: query.kind,
    };
    let page = state
        .queue
        .list(
            &filter,
            PageRequest {
                before,
                limit: usize::try_from(limit).unwrap_or(MAX_PAGE),
            },
        )
        .await
        .map_err(ApiError::from_tasks)?;
    Ok(Json(TaskPageDto {
        items: page.tasks.iter().map(TaskDto::from).collect(),
        next_cursor: page.next.map(|id| id.to_string()),
    }))
}

/// One attempt of a task.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptDto {
    /// 1 for the first attempt.
    pub number: u32,
    /// The worker that made it.
    pub worker: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`null` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// `succeeded`, `failed`, `timed_out`, `lease_expired`, `cancelled` or `released`
    /// (`null` while running).
    pub outcome: Option<String>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl From<Attempt> for AttemptDto {
    fn from(a: Attempt) -> Self {
        Self {
            number: a.number,
            worker: a.worker,
            started_at: a.started_at,
            finished_at: a.finished_at,
            outcome: a.outcome.map(|o| o.as_str().to_owned()),
            error: a.error,
        }
    }
}

/// A task with its payload, attempts and result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    /// The task.
    #[serde(flatten)]
    pub task: TaskDto,
    /// Its input.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every attempt, oldest first, with its error.
    pub attempts_made: Vec<AttemptDto>,
    /// The handler's result, once succeeded (`null` before).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
}

/// Stored JSON as a value; text that is not JSON is kept as a string.
fn json_value(id: TaskId, what: &str, raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or_else(|error| {
        tracing::warn!(task = %id, what, %error, "stored task JSON does not parse");
        serde_json::Value::String(raw.to_owned())
    })
}

fn unknown_task(id: i64) -> ApiError {
    ApiError::NotFound(format!("unknown task {id}"))
}

/// One task (admin): its state, kind, attempts with their errors and, once succeeded, its result.
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "The task's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TaskDetail),
        (status = 400, description = "`invalid_path`: not an integer id", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 404, description = "Unknown task", body = ErrorBody),
    ))]
#[get("/v1/tasks/{id}")]
pub(crate) async fn one(_admin: Admin, state: Data<AppState>, path: Path<i64>) -> Result<Json<TaskDetail>, ApiError> {
    let id = TaskId(path.into_inner());
    let task = state
        .queue
        .status(id)
        .await
        .map_err(ApiError::from_tasks)?
        .ok_or_else(|| unknown_task(id.0))?;
    let attempts = state.queue.attempts(id).await.map_err(ApiError::from_tasks)?;
    let result = match task.state {
        TaskState::Succeeded => task.result.as_deref().map(|raw| json_value(id, "result", raw)),
        _ => None,
    };
    Ok(Json(TaskDetail {
        task: TaskDto::from(&task),
        payload: json_value(id, "payload", &task.payload),
        attempts_made: attempts.into_iter().map(AttemptDto::from).collect(),
        result,
    }))
}

/// What a cancellation did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelDto {
    /// The task.
    pub id: i64,
    /// `cancelled` (it was pending and is now cancelled) or `requested` (it is running and its
    /// worker has been asked to stop).
    #[schema(example = "cancelled")]
    pub outcome: String,
}

/// Cancels a task (admin): a pending task is cancelled at once (200); a running task's worker is
/// asked to stop (202); a finished task cannot be (409 `conflict`).
#[utoipa::path(post, path = "/v1/tasks/{id}/cancel", tag = "tasks",
    params(("id" = i64, Path, description = "The task's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Was pending: cancelled", body = CancelDto),
        (status = 202, description = "Is running: cancellation requested", body = CancelDto),
        (status = 400, description = "`invalid_path`: not an integer id", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 404, description = "Unknown task", body = ErrorBody),
        (status = 409, description = "`conflict`: already finished", body = ErrorBody),
    ))]
#[post("/v1/tasks/{id}/cancel")]
pub(crate) async fn cancel(_admin: Admin, state: Data<AppState>, path: Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let outcome = state.queue.cancel(TaskId(id)).await.map_err(ApiError::from_tasks)?;
    match outcome {
        CancelOutcome::Cancelled => Ok(HttpResponse::Ok().json(CancelDto {
            id,
            outcome: "cancelled".to_owned(),
        })),
        CancelOutcome::Requested => Ok(HttpResponse::Accepted().json(CancelDto {
            id,
            outcome: "requested".to_owned(),
        })),
        CancelOutcome::AlreadyFinished => Err(ApiError::Conflict(format!("task {id} has already finished"))),
        CancelOutcome::NotFound => Err(unknown_task(id)),
    }
}
