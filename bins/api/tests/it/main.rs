//! The API's integration tests: each starts the real application on port 0 with a fresh
//! database and the mock Yahoo, and calls it over HTTP.

mod backtests;
mod bootstrap;
mod errors;
mod health;
mod helpers;
mod history;
mod indicators;
mod live;
mod notifications;
mod quotes;
mod reports;
mod signals;
mod stream;
mod symbols;
mod tasks;
