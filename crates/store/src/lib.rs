//! Finstage's database layer: one crate for PostgreSQL, MySQL/MariaDB and SQLite, chosen by the
//! URL, through diesel-async and deadpool.
//!
//! - [`Store`]: the pool (sizes, timeouts, lifetimes and a check on checkout, all
//!   configurable), the embedded migrations ([`Store::migrate`]) and transactions
//!   ([`Store::transaction`]: commit on `Ok`, roll back on `Err`, on panic and on cancellation).
//! - Typed repositories, on the store (a connection per call) or on a [`Conn`] inside a
//!   transaction: [`Store::symbols`], [`Store::daily_bars`] (chunked idempotent bulk upserts,
//!   range and latest queries), [`Store::intraday_bars`], [`Store::quotes`], [`Store::highs`]
//!   (all-time highs and their history), [`Store::snapshots`], [`Store::signals`] (idempotent
//!   inserts, filters, keyset pagination), [`Store::outcomes`], [`Store::alerts`] (dedupe),
//!   [`Store::notifications`], [`Store::slow_queries`], [`Store::tasks`] (the durable task
//!   queue: enqueue with dedupe, batched claims under leases, retries, cancellation, reaping,
//!   schedule slots; [`Store::listen_tasks`] on PostgreSQL).
//! - [`Store::import_csv`]: a CSV file of daily bars in one transaction, or nothing of it.
//! - Statements slower than a threshold are logged (kind and duration, never values), counted
//!   and recorded in `slow_queries`; pool gauges go through the `metrics` facade.
//!
//! The store reads no environment variable and no file but its database: it takes a
//! [`StoreConfig`].

mod config;
mod error;
mod import;
#[macro_use]
pub mod repo;
mod schema;
mod store;

pub use config::{Backend, DatabaseUrl, PoolConfig, StoreConfig};
pub use error::{QueryErrorKind, StoreError};
pub use import::{ImportSummary, parse_bars_csv};
pub use repo::alerts::DEDUPE_KEY_MAX_LEN;
pub use repo::bars::UpsertSummary;
pub use repo::highs::{HighRecord, NewHigh};
pub use repo::notifications::{
    CHANNEL_MAX_LEN, NOTIFICATION_ERROR_MAX_LEN, NOTIFICATION_EXCERPT_MAX_LEN, NOTIFICATION_KIND_MAX_LEN,
    NOTIFICATION_RECIPIENT_MAX_LEN, Notification, NotificationStatus,
};
pub use repo::outcomes::{Horizon, HorizonOutcome, SignalOutcome};
pub use repo::signals::{
    NewSignal, PageRequest, SIGNAL_KIND_MAX_LEN, SIGNAL_PAGE_MAX, SIGNAL_TIMEFRAME_MAX_LEN, SIGNAL_VALUES_MAX_BYTES,
    Signal, SignalCursor, SignalFilter, SignalPage,
};
pub use repo::slow::SlowQuery;
pub use repo::snapshots::PriceSnapshot;
pub use repo::symbols::SymbolRecord;
pub use repo::tasks::{
    AttemptOutcome, CancelOutcome, ClaimedTask, Completion, Enqueued, FailOutcome, FailureKind, LeaseStatus, NewTask,
    Priority, TASK_BACKOFF_MAX_BYTES, TASK_BATCH_MAX, TASK_ERROR_MAX_LEN, TASK_KIND_MAX_LEN, TASK_PAYLOAD_MAX_BYTES,
    TASK_SCHEDULE_MAX_LEN, TASK_UNIQUE_KEY_MAX_LEN, TASK_WORKER_ID_MAX_LEN, TASKS_CHANNEL, Task, TaskAttempt,
    TaskCount, TaskCursor, TaskFilter, TaskListener, TaskPage, TaskPageRequest, TaskState,
};
pub use repo::{Alerts, Highs, IntradayBars, Notifications, Outcomes, Quotes, Signals, Snapshots, Symbols, Tasks};
pub use repo::{DailyBars, SlowQueries};
pub use schema::TABLES;
pub use store::{Conn, PoolStatus, Store};
