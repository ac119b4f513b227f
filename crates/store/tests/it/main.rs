//! Integration tests of finstage-store. Every repository test runs on PostgreSQL, MariaDB/MySQL
//! and SQLite, each in a database of its own created for the test and dropped after it.

mod alerts;
mod bars;
mod faults;
mod highs;
mod import;
mod intraday;
mod notifications;
mod outcomes;
mod pool;
mod quotes;
mod retention;
mod schema;
mod signals;
mod snapshots;
mod support;
mod symbols;
mod tasks;
mod transactions;
