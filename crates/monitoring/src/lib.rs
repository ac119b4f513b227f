//! Finstage's observability: logging, metrics, timing, process gauges, health and alerts, the
//! one place every other crate reports into.
//!
//! - [`logging`]: the `tracing` subscriber (text or JSON lines, EnvFilter syntax, an injectable
//!   sink), and [`Secret`], which never prints.
//! - [`Metrics`]: the Prometheus recorder, installed once per process
//!   ([`Metrics::install`] is idempotent), rendered by the API's `/metrics`; [`serve_metrics`] is
//!   the scheduler's own listener. Bucket bounds per histogram family in [`MetricsConfig`].
//! - [`catalog`]: every metric's name, type, labels and meaning (`docs/OPERATIONS.md` holds the
//!   same table).
//! - [`Measured`] / [`Timer`]: a duration histogram and an ok/error/cancelled counter for any
//!   call, from handles created once.
//! - [`ProcessSampler`]: RSS, virtual memory, CPU, file descriptors, threads and uptime, sampled
//!   off the runtime's workers.
//! - [`health`]: checks with their own timeouts, aggregated for readiness.
//! - [`alerts`]: rules over the metrics with cooldowns, emitting events to a channel.
//!
//! ```
//! use finstage_monitoring::{Measured, Metrics, MetricsConfig, catalog};
//!
//! let metrics = Metrics::install(&MetricsConfig::default())?;
//! let refresh = Measured::new(
//!     catalog::JOB_DURATION_SECONDS.name,
//!     catalog::JOB_RUNS_TOTAL.name,
//!     &[("job_name", "doc_example")],
//! );
//! drop(refresh.start());
//! let text = metrics.render();
//! assert!(text.contains(r#"finstage_job_runs_total{job_name="doc_example",outcome="ok"} 1"#));
//! # Ok::<(), finstage_monitoring::MonitoringError>(())
//! ```
//!
//! Nothing here reads environment variables or files: `finstage-core` maps `FINSTAGE_LOG`,
//! `FINSTAGE_LOG_FORMAT` and `FINSTAGE_METRICS_ADDR` onto the config structs.

pub mod alerts;
pub mod catalog;
pub mod clock;
mod error;
pub mod health;
pub mod logging;
mod process;
mod recorder;
mod secret;
mod serve;
mod timing;

pub use alerts::{AlertEngine, AlertEvent, AlertRule, AlertState, Severity};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{MAX_QUOTED, MonitoringError};
pub use health::{CheckOptions, CheckResult, HealthCheck, HealthRegistry, HealthReport, Status};
pub use logging::{LogConfig, LogFormat, init_logging};
pub use process::{ProcessConfig, ProcessSample, ProcessSampler};
pub use recorder::{BucketRule, CONTENT_TYPE, MetricMatcher, Metrics, MetricsConfig, buckets};
pub use secret::{REDACTED, Secret};
pub use serve::{MetricsServer, serve_metrics};
pub use timing::{Measured, Outcome, Timer, measure, measure_future};
