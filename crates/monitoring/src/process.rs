//! Process gauges (memory, CPU, file descriptors, threads, uptime), sampled in the background.
//!
//! The names are the standard `process_*` ones that Prometheus' client libraries (the Python
//! service's included) export and that ready-made dashboards and alerts expect, plus
//! `finstage_process_uptime_seconds`. `process_cpu_seconds_total` is exported as a gauge: the
//! `metrics` facade's counters hold integers and would truncate CPU time to whole seconds, which
//! makes `rate()` over a minute useless for a mostly idle process; PromQL's `rate()` reads the
//! gauge the same way.

use std::time::{Duration, SystemTime};

use metrics::Gauge;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::catalog;
use crate::clock::unix_seconds;
use crate::error::{MonitoringError, check_nonzero};

/// How the process is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Time between two samples (the first is taken at once). Default: 15 s, a usual scrape
    /// interval.
    pub interval: Duration,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            interval: Duration::from_secs(15),
        }
    }
}

/// One reading of the process's resources. A figure the platform cannot give is `None` (and its
/// gauge is not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub resident_memory_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_memory_bytes: Option<u64>,
    /// Limit of the virtual memory size, bytes (0: unlimited).
    pub virtual_memory_max_bytes: Option<u64>,
    /// User and system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Limit of open file descriptors (0: unlimited).
    pub max_fds: Option<u64>,
    /// Operating-system threads.
    pub threads: Option<u64>,
    /// Process start, seconds since the Unix epoch (whole seconds).
    pub start_time_seconds: Option<u64>,
    /// Seconds since the process started.
    pub uptime_seconds: Option<f64>,
}

impl ProcessSample {
    /// Reads the figures now (a few reads under `/proc` on Linux: call it off the async runtime's
    /// workers, as [`ProcessSampler`] does).
    pub fn collect() -> ProcessSample {
        let raw = metrics_process::collector::collect();
        let now = unix_seconds(SystemTime::now());
        ProcessSample {
            resident_memory_bytes: raw.resident_memory_bytes,
            virtual_memory_bytes: raw.virtual_memory_bytes,
            virtual_memory_max_bytes: raw.virtual_memory_max_bytes,
            cpu_seconds: raw.cpu_seconds_total,
            open_fds: raw.open_fds,
            max_fds: raw.max_fds,
            threads: raw.threads,
            start_time_seconds: raw.start_time_seconds,
            uptime_seconds: raw.start_time_seconds.map(|start| (now - start as f64).max(0.0)),
        }
    }
}

/// The gauges a sample is written to, registered once.
struct Gauges {
    resident: Gauge,
    virtual_memory: Gauge,
    virtual_max: Gauge,
    cpu: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    threads: Gauge,
    start_time: Gauge,
    uptime: Gauge,
}

impl Gauges {
    fn new() -> Gauges {
        let gauge = |def: catalog::MetricDef| metrics::gauge!(def.name);
        Gauges {
            resident: gauge(catalog::PROCESS_RESIDENT_MEMORY_BYTES),
            virtual_memory: gauge(catalog::PROCESS_VIRTUAL_MEMORY_BYTES),
            virtual_max: gauge(catalog::PROCESS_VIRTUAL_MEMORY_MAX_BYTES),
            cpu: gauge(catalog::PROCESS_CPU_SECONDS_TOTAL),
            open_fds: gauge(catalog::PROCESS_OPEN_FDS),
            max_fds: gauge(catalog::PROCESS_MAX_FDS),
            threads: gauge(catalog::PROCESS_THREADS),
            start_time: gauge(catalog::PROCESS_START_TIME_SECONDS),
            uptime: gauge(catalog::PROCESS_UPTIME_SECONDS),
        }
    }

    fn record(&self, sample: &ProcessSample) {
        let set = |gauge: &Gauge, value: Option<f64>| {
            if let Some(value) = value {
                gauge.set(value);
            }
        };
        let float = |value: Option<u64>| value.map(|v| v as f64);
        set(&self.resident, float(sample.resident_memory_bytes));
        set(&self.virtual_memory, float(sample.virtual_memory_bytes));
        set(&self.virtual_max, float(sample.virtual_memory_max_bytes));
        set(&self.cpu, sample.cpu_seconds);
        set(&self.open_fds, float(sample.open_fds));
        set(&self.max_fds, float(sample.max_fds));
        set(&self.threads, float(sample.threads));
        set(&self.start_time, float(sample.start_time_seconds));
        set(&self.uptime, sample.uptime_seconds);
    }
}

/// Samples the process every [`ProcessConfig::interval`] on a background task and sets the
/// gauges; the reads run on tokio's blocking pool, never on a runtime worker. Dropping the
/// sampler stops it.
#[derive(Debug)]
pub struct ProcessSampler {
    task: JoinHandle<()>,
    latest: watch::Receiver<Option<ProcessSample>>,
}

impl ProcessSampler {
    /// Starts sampling (the first sample at once).
    ///
    /// # Errors
    /// A zero interval; no tokio runtime.
    pub fn spawn(config: &ProcessConfig) -> Result<ProcessSampler, MonitoringError> {
        check_nonzero("process sampling interval", config.interval)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| MonitoringError::NoRuntime("the process sampler"))?;
        let (sender, latest) = watch::channel(None);
        let interval = config.interval;
        let task = runtime.spawn(async move {
            let gauges = Gauges::new();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Ok(sample) = tokio::task::spawn_blocking(ProcessSample::collect).await else {
                    // The blocking pool is shutting down with the runtime.
                    return;
                };
                gauges.record(&sample);
                sender.send_replace(Some(sample));
            }
        });
        Ok(ProcessSampler { task, latest })
    }

    /// The last sample, if one was taken.
    pub fn latest(&self) -> Option<ProcessSample> {
        *self.latest.borrow()
    }

    /// A receiver that sees each new sample (for waiting on the first one, or for alert rules).
    pub fn subscribe(&self) -> watch::Receiver<Option<ProcessSample>> {
        self.latest.clone()
    }

    /// Stops sampling.
    pub fn stop(self) {
        // Drop does it.
    }
}

impl Drop for ProcessSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_of_this_process_has_its_resources() {
        let sample = ProcessSample::collect();
        if cfg!(target_os = "linux") {
            assert!(sample.resident_memory_bytes.unwrap() > 0);
            assert!(sample.threads.unwrap() >= 1);
            assert!(sample.open_fds.unwrap() >= 1);
            let uptime = sample.uptime_seconds.unwrap();
            assert!((0.0..86_400.0 * 365.0).contains(&uptime), "{uptime}");
        }
    }

    #[test]
    fn spawning_needs_a_runtime_and_an_interval() {
        assert!(matches!(
            ProcessSampler::spawn(&ProcessConfig::default()),
            Err(MonitoringError::NoRuntime(_))
        ));
        let zero = ProcessConfig {
            interval: Duration::ZERO,
        };
        assert!(matches!(
            ProcessSampler::spawn(&zero),
            Err(MonitoringError::InvalidConfig { .. })
        ));
    }
}
