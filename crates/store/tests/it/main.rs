//! Integration tests of finstage-store. Every repository test runs on PostgreSQL, MariaDB/MySQL
//! and SQLite, each in a database of its own created for the test and dropped after it.

mod bars;
mod schema;
mod support;
mod transactions;
