//! The crate's one error type.

use std::fmt;

/// What went wrong in the store. Messages never carry bound values, passwords or whole URLs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL or a pool setting is not usable.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// No connection could be made or checked out in time.
    #[error("database unavailable ({backend}): {message}")]
    Unavailable {
        /// `postgres`, `mysql` or `sqlite`.
        backend: &'static str,
        /// What the driver or the pool said (no credentials).
        message: String,
    },
    /// A statement failed.
    #[error("database error in {operation}: {message}")]
    Query {
        /// The repository operation, e.g. `daily_bars.upsert`.
        operation: &'static str,
        /// The kind of failure.
        kind: QueryErrorKind,
        /// What the database said.
        message: String,
    },
    /// Running the migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A row read back from the database breaks a domain rule (a corrupt or foreign row).
    #[error("invalid row in {table}: {message}")]
    InvalidRow {
        /// The table it came from.
        table: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A value given to the store is not acceptable (e.g. a volume beyond a BIGINT).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A CSV import failed; nothing of the file was kept.
    #[error("{file}:{line}: {message}")]
    Import {
        /// The file, as given.
        file: String,
        /// 1-based line of the file (0 for the file as a whole).
        line: u64,
        /// What is wrong there.
        message: String,
    },
}

/// Why a statement failed, for callers that react differently (retry, report, give up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// A unique or primary key already holds the value.
    UniqueViolation,
    /// A foreign key points nowhere.
    ForeignKeyViolation,
    /// A NOT NULL or CHECK constraint refused the row.
    CheckViolation,
    /// The connection broke or the server went away: retrying on a new connection may succeed.
    Connection,
    /// The transaction was rolled back by the server (serialization failure, deadlock).
    Retryable,
    /// Anything else.
    Other,
}

impl fmt::Display for QueryErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UniqueViolation => "unique violation",
            Self::ForeignKeyViolation => "foreign key violation",
            Self::CheckViolation => "check violation",
            Self::Connection => "connection lost",
            Self::Retryable => "retryable",
            Self::Other => "other",
        })
    }
}

impl StoreError {
    /// Wraps a diesel error from `operation`.
    pub(crate) fn query(operation: &'static str, error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        let kind = match &error {
            E::DatabaseError(K::UniqueViolation, _) => QueryErrorKind::UniqueViolation,
            E::DatabaseError(K::ForeignKeyViolation, _) => QueryErrorKind::ForeignKeyViolation,
            E::DatabaseError(K::NotNullViolation | K::CheckViolation, _) => QueryErrorKind::CheckViolation,
            E::DatabaseError(K::ClosedConnection, _) | E::BrokenTransactionManager => QueryErrorKind::Connection,
            E::DatabaseError(K::SerializationFailure, _) => QueryErrorKind::Retryable,
            E::DatabaseError(_, info) if looks_like_lost_connection(info.message()) => QueryErrorKind::Connection,
            // MySQL's deadlock victim (1213) and lock wait timeout (1205), which diesel reports
            // as unknown errors.
            E::DatabaseError(_, info) if is_deadlock(info.message()) => QueryErrorKind::Retryable,
            _ => QueryErrorKind::Other,
        };
        let message = match &error {
            // The driver's message, without the statement or its bound values.
            E::DatabaseError(_, info) => info.message().to_owned(),
            other => other.to_string(),
        };
        Self::Query {
            operation,
            kind,
            message,
        }
    }

    /// The kind of a query error, if this is one.
    pub fn query_kind(&self) -> Option<QueryErrorKind> {
        match self {
            Self::Query { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether trying again (on a new connection, in a new transaction) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
            || matches!(
                self.query_kind(),
                Some(QueryErrorKind::Connection | QueryErrorKind::Retryable)
            )
    }
}

fn is_deadlock(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("deadlock found")
        || message.contains("lock wait timeout exceeded")
        || message.contains("deadlock detected")
}

/// Drivers report a dropped server connection in their own words.
fn looks_like_lost_connection(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "connection closed",
        "broken pipe",
        "connection reset",
        "server has gone away",
        "terminating connection",
        "io error",
        "unexpected eof",
        "connection refused",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}
