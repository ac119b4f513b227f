//! Finstage's database layer: one crate for PostgreSQL, MySQL/MariaDB and SQLite, chosen by the
//! URL, through diesel-async and deadpool.
//!
//! - [`Store`]: the pool (sizes, timeouts, lifetimes and a check on checkout, all
//!   configurable), the embedded migrations ([`Store::migrate`]) and transactions
//!   ([`Store::transaction`]: commit on `Ok`, roll back on `Err`, on panic and on cancellation).
//! - Typed repositories on the store or on a connection inside a transaction:
//!   [`Store::daily_bars`], …
//! - Statements slower than a threshold are logged (kind and duration, never values), counted
//!   and recorded in `slow_queries`; pool gauges go through the `metrics` facade.
//!
//! The store reads no environment variable and no file but its database: it takes a
//! [`StoreConfig`].

mod config;
mod error;
#[macro_use]
pub mod repo;
mod schema;
mod store;

pub use config::{Backend, DatabaseUrl, PoolConfig, StoreConfig};
pub use error::{QueryErrorKind, StoreError};
pub use repo::bars::UpsertSummary;
pub use repo::slow::SlowQuery;
pub use repo::{DailyBars, SlowQueries};
pub use schema::TABLES;
pub use store::{Conn, PoolStatus, Store};
