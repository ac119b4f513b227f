//! `CoreError`, the crate's one error type.

/// Every way a service of the core can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] finstage_store::StoreError),
    /// An analysis refused its input or configuration.
    #[error("analysis: {0}")]
    Analysis(#[from] finstage_analysis::AnalysisError),
    /// A notification could not be sent.
    #[error("notify: {0}")]
    Notify(#[from] finstage_notify::NotifyError),
    /// The configuration is invalid: `key` is the dotted key (`api.http_addr`; empty when the
    /// file as a whole is at fault), `message` says what is wrong, naming the key and, when the
    /// value came from the environment, the variable. Never a secret.
    #[error("invalid configuration: {message}")]
    Config {
        /// The dotted key.
        key: String,
        /// What is wrong, for people.
        message: String,
    },
    /// The event bus refused a publish, a channel name or its configuration.
    #[error("bus: {0}")]
    Bus(#[from] crate::bus::BusError),
    /// The market-data provider failed (after its retries).
    #[error("market data: {0}")]
    MarketData(#[from] finstage_marketdata::MarketDataError),
    /// The task queue failed.
    #[error("tasks: {0}")]
    Tasks(#[from] finstage_tasks::TaskError),
    /// The work was cancelled before it finished (a job's task was cancelled or its process
    /// is stopping).
    #[error("cancelled")]
    Cancelled,
    /// A part of the application could not start (the message says why, never a secret).
    #[error("{part}: {message}")]
    Start {
        /// The part (`the Redis cache`, `the Telegram notifier`, …).
        part: &'static str,
        /// Why.
        message: String,
    },
    /// A request to a service is invalid: `field` names the bad field as the request spells it
    /// (`symbols`, `strategies[1].stop_loss`, `to`), `message` says what is wrong.
    #[error("invalid {field}: {message}")]
    InvalidRequest {
        /// The field, dotted and indexed as in the request.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
}
