//! finstage-analysis' integration tests: one binary, a module per part.

mod backtest;
mod history;
mod report;
mod rules;
mod support;
