//! Finstage's core: the services the binaries run, composed from the library crates.
//!
//! - [`signals`]: signals of `finstage-analysis` stored once each ([`record_signals`]) and the
//!   rules run over a symbol's newest stored bars ([`SignalPipeline`]): new signals are stored
//!   and alerted once.
//! - [`outcomes`]: what became of each stored signal ([`OutcomeTracker`]), from the stored bars
//!   at or after each horizon, and the statistics per kind ([`kind_stats`]).

pub mod allocator;
pub mod backtests;
pub mod bus;
pub mod config;
mod error;
pub mod jobs;
pub mod market;
pub mod outcomes;
pub mod reports;
pub mod seed;
pub mod services;
pub mod signals;

pub use bus::{Envelope, Event, EventBus, LocalBus, RedisBus};
pub use config::{Config, ConfigSources, Settings};
pub use error::CoreError;
pub use jobs::{JobContext, JobReport, Jobs, JobsOptions};
pub use outcomes::{OutcomeTracker, TrackSummary, kind_stats};
pub use services::Services;
pub use signals::{
    PipelineSummary, Recorded, SignalPipeline, StoredAnalysis, analyze_stored_history, record_signals, to_new_signal,
};
