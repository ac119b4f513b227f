//! finstage-analysis' integration tests: one binary, a module per part.

mod backtest;
mod rules;
mod support;
mod history;
mod report;
