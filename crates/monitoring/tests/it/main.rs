//! Integration tests of `finstage-monitoring`, one binary.
//!
//! The Prometheus recorder is process-wide, so every test here shares it: each test uses metric
//! names or label values of its own (`finstage_it_<test>_…`, `check="it-<test>.…"`).

mod alerts;
mod docs;
mod exposition;
mod health;
mod logging;
mod process;
mod server;
mod support;
mod timing;
