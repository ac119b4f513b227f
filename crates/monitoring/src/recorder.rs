//! The process's Prometheus recorder: installed once, rendered by `/metrics`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::{MonitoringError, check_nonzero};

/// The `Content-Type` of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram bucket bounds chosen per use. Each histogram's name says its unit, and its bounds are
/// in that unit.
pub mod buckets {
    /// HTTP request durations, in milliseconds: fine below the 5 ms p99 target of the cached
    /// endpoints, coarse up to ten seconds.
    pub const HTTP_MILLISECONDS: &[f64] = &[
        0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
    ];
    /// Upstream (provider) requests, in seconds: tens of milliseconds to the request timeout.
    pub const UPSTREAM_SECONDS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    /// Periodic jobs, in seconds: a tenth of a second to ten minutes (a 500-symbol refresh at a
    /// provider's rate limit takes minutes).
    pub const JOB_SECONDS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
    /// Task attempts, in seconds: a millisecond (no-op tasks) to five minutes.
    pub const TASK_SECONDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];
    /// Any other `_seconds` histogram (and the fallback for histograms named without a unit).
    pub const SECONDS: &[f64] = &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ];
}

/// Which histograms a [`BucketRule`] applies to. When several rules match a name, a `Full` rule
/// wins over a `Prefix` rule, which wins over a `Suffix` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricMatcher {
    /// Exactly this name.
    Full(String),
    /// Names starting with this.
    Prefix(String),
    /// Names ending with this (`_milliseconds`).
    Suffix(String),
}

/// Bucket bounds for the histograms a matcher selects.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRule {
    /// Which histograms.
    pub matcher: MetricMatcher,
    /// Upper bounds, strictly increasing and finite (`+Inf` is always added).
    pub bounds: Vec<f64>,
}

impl BucketRule {
    fn new(matcher: MetricMatcher, bounds: &[f64]) -> Self {
        BucketRule {
            matcher,
            bounds: bounds.to_vec(),
        }
    }
}

/// How the recorder is built.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Bucket bounds per histogram family.
    pub buckets: Vec<BucketRule>,
    /// Bounds for histograms no rule matches.
    pub default_buckets: Vec<f64>,
    /// How often a background thread drains recorded histogram samples into their buckets when
    /// nothing scrapes (rendering does it too).
    pub upkeep_interval: Duration,
}

impl Default for MetricsConfig {
    /// `_milliseconds` histograms get [`buckets::HTTP_MILLISECONDS`], `_seconds` histograms
    /// [`buckets::SECONDS`], except the upstream, job and task durations, which have their own.
    fn default() -> Self {
        use crate::catalog::{JOB_DURATION_SECONDS, TASK_RUN_SECONDS, UPSTREAM_REQUEST_DURATION_SECONDS};
        MetricsConfig {
            buckets: vec![
                BucketRule::new(
                    MetricMatcher::Suffix("_milliseconds".into()),
                    buckets::HTTP_MILLISECONDS,
                ),
                BucketRule::new(MetricMatcher::Suffix("_seconds".into()), buckets::SECONDS),
                BucketRule::new(
                    MetricMatcher::Full(UPSTREAM_REQUEST_DURATION_SECONDS.name.into()),
                    buckets::UPSTREAM_SECONDS,
                ),
                BucketRule::new(
                    MetricMatcher::Full(JOB_DURATION_SECONDS.name.into()),
                    buckets::JOB_SECONDS,
                ),
                BucketRule::new(MetricMatcher::Full(TASK_RUN_SECONDS.name.into()), buckets::TASK_SECONDS),
            ],
            default_buckets: buckets::SECONDS.to_vec(),
            upkeep_interval: Duration::from_secs(5),
        }
    }
}

impl MetricsConfig {
    /// Checks every bucket list (non-empty, finite, strictly increasing) and the interval.
    pub fn validate(&self) -> Result<(), MonitoringError> {
        check_nonzero("metrics upkeep interval", self.upkeep_interval)?;
        check_bounds("default buckets", &self.default_buckets)?;
        for rule in &self.buckets {
            check_bounds("histogram buckets", &rule.bounds).map_err(|error| match error {
                MonitoringError::InvalidConfig { what, reason } => MonitoringError::InvalidConfig {
                    what,
                    reason: format!("{:?}: {reason}", rule.matcher),
                },
                other => other,
            })?;
        }
        Ok(())
    }

    fn builder(&self) -> Result<PrometheusBuilder, MonitoringError> {
        self.validate()?;
        let invalid = |error: metrics_exporter_prometheus::BuildError| MonitoringError::InvalidConfig {
            what: "histogram buckets",
            reason: error.to_string(),
        };
        let mut builder = PrometheusBuilder::new()
            .set_buckets(&self.default_buckets)
            .map_err(invalid)?;
        for rule in &self.buckets {
            let matcher = match &rule.matcher {
                MetricMatcher::Full(name) => Matcher::Full(name.clone()),
                MetricMatcher::Prefix(prefix) => Matcher::Prefix(prefix.clone()),
                MetricMatcher::Suffix(suffix) => Matcher::Suffix(suffix.clone()),
            };
            builder = builder.set_buckets_for_metric(matcher, &rule.bounds).map_err(invalid)?;
        }
        Ok(builder)
    }
}

fn check_bounds(what: &'static str, bounds: &[f64]) -> Result<(), MonitoringError> {
    let reason = if bounds.is_empty() {
        Some("no bounds".to_owned())
    } else if let Some(bad) = bounds.iter().find(|b| !b.is_finite()) {
        Some(format!("bound {bad} is not finite"))
    } else if bounds.windows(2).any(|w| w[0] >= w[1]) {
        Some("bounds must be strictly increasing".to_owned())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MonitoringError::InvalidConfig { what, reason }),
        None => Ok(()),
    }
}

/// The installed Prometheus recorder: every `metrics::counter!`, `gauge!` and `histogram!` of
/// every crate in the process lands in it, and [`render`](Self::render) writes them all in the
/// text exposition format for `/metrics`.
///
/// Cheap to clone (a reference count).
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
}

/// The process's one recorder, once installed.
static INSTALLED: Mutex<Option<(Metrics, MetricsConfig)>> = Mutex::new(None);

impl Metrics {
    /// Installs the Prometheus recorder as the process's global `metrics` recorder, the first
    /// time; afterwards returns the same recorder (whatever `config` says: the first
    /// configuration stays, and a different one is logged as a warning). Thread-safe: of many
    /// concurrent first calls, one installs and all get the same recorder.
    ///
    /// Install it before building the components whose metric handles are created once (caches,
    /// providers, [`Measured`](crate::Measured)s): a handle made before any recorder exists
    /// records nothing.
    ///
    /// Also registers the catalogue's descriptions and starts the upkeep thread.
    ///
    /// # Errors
    /// [`MonitoringError::InvalidConfig`] for bad buckets or a zero upkeep interval (checked on
    /// every call); [`MonitoringError::RecorderInstall`] when another global recorder was
    /// installed first.
    pub fn install(config: &MetricsConfig) -> Result<Metrics, MonitoringError> {
        let builder = config.builder()?;
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((metrics, first)) = installed.as_ref() {
            if first != config {
                tracing::warn!(
                    "the metrics recorder is already installed with another configuration; keeping the first"
                );
            }
            return Ok(metrics.clone());
        }
        let recorder = builder.build_recorder();
        let metrics = Metrics {
            handle: recorder.handle(),
        };
        metrics::set_global_recorder(recorder).map_err(|error| MonitoringError::RecorderInstall(error.to_string()))?;
        crate::catalog::describe_all();
        spawn_upkeep(metrics.handle.clone(), config.upkeep_interval);
        *installed = Some((metrics.clone(), config.clone()));
        Ok(metrics)
    }

    /// The recorder, if [`install`](Self::install) has succeeded in this process.
    pub fn installed() -> Option<Metrics> {
        let installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        installed.as_ref().map(|(metrics, _)| metrics.clone())
    }

    /// Every series in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains recorded histogram samples into their buckets (the upkeep thread does it
    /// periodically).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The exporter's own handle.
    pub fn prometheus_handle(&self) -> &PrometheusHandle {
        &self.handle
    }
}

/// A thread of its own, so that upkeep runs whichever runtimes come and go (tests start many).
fn spawn_upkeep(handle: PrometheusHandle, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("finstage-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        // Rendering drains histograms too; without the thread they wait for the next scrape.
        tracing::warn!(%error, "cannot start the metrics upkeep thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_buckets_are_valid_and_bad_ones_are_named() {
        MetricsConfig::default().validate().unwrap();
        let mut config = MetricsConfig::default();
        config
            .buckets
            .push(BucketRule::new(MetricMatcher::Prefix("x_".into()), &[1.0, 1.0]));
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("Prefix(\"x_\")"), "{error}");
        for bad in [&[][..], &[f64::NAN], &[2.0, 1.0], &[1.0, f64::INFINITY]] {
            assert!(check_bounds("b", bad).is_err(), "{bad:?}");
        }
        config = MetricsConfig {
            upkeep_interval: Duration::ZERO,
            ..MetricsConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
