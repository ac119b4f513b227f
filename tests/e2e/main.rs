//! End-to-end: the real `finstage-api` and `finstage-scheduler` binaries, built by this test's
//! first use and started as processes, against the mock Yahoo and Telegram servers of
//! `finstage-test-support` and the machine's PostgreSQL, SQLite and Redis.

mod flows;
mod support;
