//! [`TaskError`]: the queue's one error type.

/// A queue operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// Bad input: options, a kind, a payload that does not serialize, a page size.
    #[error("invalid task: {0}")]
    Invalid(String),
    /// No handler is registered for the kind.
    #[error("no handler for task kind {0:?}")]
    UnknownKind(String),
    /// A stored payload or result did not decode into the type asked for.
    #[error("task {id}: {what} does not decode: {message}")]
    Decode {
        /// The task.
        id: i64,
        /// `payload` or `result`.
        what: &'static str,
        /// What serde said.
        message: String,
    },
    /// The backend failed (the database is down, a query failed).
    #[error("task backend: {0}")]
    Backend(String),
}
