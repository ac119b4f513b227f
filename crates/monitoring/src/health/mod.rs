//! Health: components register checks; readiness runs them all at once, each under its own
//! timeout, and aggregates; liveness stays trivial.
//!
//! # Readiness semantics
//! - Each check answers [`Status::Ok`], [`Status::Degraded`] or [`Status::Down`] with a detail.
//! - A check that has not answered within its own timeout is `Down` with the detail
//!   `timed out after …`; one that panics is `Down` with `check panicked`. A hung database
//!   check therefore delays readiness by its timeout at most, never more: checks run
//!   concurrently, so readiness takes as long as the slowest check (bounded by the largest
//!   timeout), not the sum.
//! - The aggregate is `Down` if a **critical** check is down, `Degraded` if any check is
//!   degraded or a non-critical check is down, `Ok` otherwise (and with no checks).
//! - `/health/ready` answers 200 for `Ok` and `Degraded` (the instance can still serve, from the
//!   cache for instance), 503 for `Down` ([`HealthReport::http_status`]).
//! - Each run sets `finstage_health_status{check}` (0 ok, 1 degraded, 2 down).
//!
//! Checks must not block their thread: blocking work goes to `spawn_blocking`, or the timeout
//! cannot interrupt it.

mod checks;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::Gauge;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use checks::{FnCheck, Freshness, Threshold};

use crate::catalog;
use crate::error::{MonitoringError, check_name, check_nonzero};

/// A boxed, sendable future, the return type of [`HealthCheck::check`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The state of a component, or of the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working.
    Ok,
    /// Working, but worse than it should (slow, stale, a fallback in use).
    Degraded,
    /// Not working.
    Down,
}

impl Status {
    /// `ok`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }

    /// The value of `finstage_health_status`: 0, 1 or 2.
    pub fn as_gauge(self) -> f64 {
        match self {
            Status::Ok => 0.0,
            Status::Degraded => 1.0,
            Status::Down => 2.0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The verdict.
    pub status: Status,
    /// A short explanation for operators (never a secret).
    pub detail: String,
}

impl CheckResult {
    /// `Ok` with a detail.
    pub fn ok(detail: impl Into<String>) -> Self {
        CheckResult {
            status: Status::Ok,
            detail: detail.into(),
        }
    }

    /// `Degraded` with a detail.
    pub fn degraded(detail: impl Into<String>) -> Self {
        CheckResult {
            status: Status::Degraded,
            detail: detail.into(),
        }
    }

    /// `Down` with a detail.
    pub fn down(detail: impl Into<String>) -> Self {
        CheckResult {
            status: Status::Down,
            detail: detail.into(),
        }
    }
}

/// A component's health check (object-safe: registered as `Arc<dyn HealthCheck>`).
pub trait HealthCheck: Send + Sync {
    /// The check's name: the `check` label and the name in the report (`database`, `cache`,
    /// `provider.yahoo`, `job.refresh_quotes`).
    fn name(&self) -> &str;

    /// Looks at the component. It need not time itself out: the registry does.
    fn check(&self) -> BoxFuture<'_, CheckResult>;
}

/// How a registered check is run and weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// How long the check may take before it counts as down.
    pub timeout: Duration,
    /// Whether this check being down makes the whole `Down` (otherwise `Degraded`).
    pub critical: bool,
}

impl CheckOptions {
    /// A critical check with this timeout.
    pub fn critical(timeout: Duration) -> Self {
        CheckOptions {
            timeout,
            critical: true,
        }
    }

    /// A non-critical check with this timeout.
    pub fn non_critical(timeout: Duration) -> Self {
        CheckOptions {
            timeout,
            critical: false,
        }
    }
}

impl Default for CheckOptions {
    /// Critical, two seconds.
    fn default() -> Self {
        CheckOptions::critical(Duration::from_secs(2))
    }
}

/// One check's line in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The check's name.
    pub name: String,
    /// Its verdict.
    pub status: Status,
    /// Whether it is critical.
    pub critical: bool,
    /// Its explanation.
    pub detail: String,
    /// How long it took, in milliseconds (its timeout when it timed out).
    pub duration_ms: f64,
}

/// The body of `/health/ready` and `/health/live`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The aggregate.
    pub status: Status,
    /// Each check, in registration order.
    pub checks: Vec<CheckReport>,
}

impl HealthReport {
    /// 200 unless the aggregate is `Down` (503).
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Ok | Status::Degraded => 200,
            Status::Down => 503,
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and enums: serialization cannot fail, but a non-finite
        // duration would become `null`, never an error.
        serde_json::to_string(self).unwrap_or_else(|error| format!(r#"{{"status":"down","error":"{error}"}}"#))
    }

    /// The aggregate of check reports: down if a critical check is down, degraded if any check is
    /// degraded or a non-critical one is down, ok otherwise.
    pub fn aggregate(checks: &[CheckReport]) -> Status {
        checks
            .iter()
            .map(|check| match (check.status, check.critical) {
                (Status::Down, false) => Status::Degraded,
                (status, _) => status,
            })
            .max()
            .unwrap_or(Status::Ok)
    }
}

struct Entry {
    check: Arc<dyn HealthCheck>,
    options: CheckOptions,
    gauge: Gauge,
}

/// The checks of one process. Cheap to clone; clones share the checks, so each component can
/// register its own.
#[derive(Clone, Default)]
pub struct HealthRegistry {
    entries: Arc<RwLock<Vec<Arc<Entry>>>>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry").field("checks", &self.names()).finish()
    }
}

impl HealthRegistry {
    /// A registry without checks.
    pub fn new() -> Self {
        HealthRegistry::default()
    }

    /// Adds a check.
    ///
    /// # Errors
    /// An invalid name (it becomes a label value: 1 to 64 of `a-z 0-9 _ - .`), a name already
    /// registered, a zero timeout.
    pub fn register(&self, check: impl HealthCheck + 'static, options: CheckOptions) -> Result<(), MonitoringError> {
        self.register_arc(Arc::new(check), options)
    }

    /// [`register`](Self::register) for a shared check.
    pub fn register_arc(&self, check: Arc<dyn HealthCheck>, options: CheckOptions) -> Result<(), MonitoringError> {
        let name = check.name().to_owned();
        check_name("health check", &name)?;
        check_nonzero("health check timeout", options.timeout)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|entry| entry.check.name() == name) {
            return Err(MonitoringError::Duplicate {
                what: "health check",
                name,
            });
        }
        let gauge = metrics::gauge!(catalog::HEALTH_STATUS.name, "check" => name);
        entries.push(Arc::new(Entry { check, options, gauge }));
        Ok(())
    }

    /// The registered checks' names, in order.
    pub fn names(&self) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.iter().map(|entry| entry.check.name().to_owned()).collect()
    }

    /// Runs every check concurrently, each under its own timeout, and aggregates. Returns within
    /// the largest timeout (plus scheduling). Needs a tokio runtime (checks run as tasks).
    pub async fn readiness(&self) -> HealthReport {
        let entries: Vec<Arc<Entry>> = self.entries.read().unwrap_or_else(PoisonError::into_inner).clone();
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let mut order = std::collections::HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let entry = Arc::clone(entry);
            let handle = tasks.spawn(async move { run_one(&entry).await });
            order.insert(handle.id(), index);
        }
        let mut reports: Vec<Option<CheckReport>> = vec![None; entries.len()];
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, report)) => {
                    if let Some(&index) = order.get(&id) {
                        reports[index] = Some(report);
                    }
                }
                Err(error) => {
                    if let Some(&index) = order.get(&error.id()) {
                        let entry = &entries[index];
                        let detail = if error.is_panic() {
                            "check panicked"
                        } else {
                            "check cancelled"
                        };
                        entry.gauge.set(Status::Down.as_gauge());
                        reports[index] = Some(CheckReport {
                            name: entry.check.name().to_owned(),
                            status: Status::Down,
                            critical: entry.options.critical,
                            detail: detail.to_owned(),
                            duration_ms: started.elapsed().as_secs_f64() * 1e3,
                        });
                    }
                }
            }
        }
        let checks: Vec<CheckReport> = reports.into_iter().flatten().collect();
        HealthReport {
            status: HealthReport::aggregate(&checks),
            checks,
        }
    }

    /// Liveness: the process answers. Always `Ok`, runs no check (a database outage must not
    /// get the process restarted).
    pub fn liveness(&self) -> HealthReport {
        HealthReport {
            status: Status::Ok,
            checks: Vec::new(),
        }
    }
}

async fn run_one(entry: &Entry) -> CheckReport {
    let started = Instant::now();
    let timeout = entry.options.timeout;
    let result = match tokio::time::timeout(timeout, entry.check.check()).await {
        Ok(result) => result,
        Err(_) => CheckResult::down(format!("timed out after {timeout:?}")),
    };
    let duration = started.elapsed().min(timeout);
    entry.gauge.set(result.status.as_gauge());
    CheckReport {
        name: entry.check.name().to_owned(),
        status: result.status,
        critical: entry.options.critical,
        detail: result.detail,
        duration_ms: duration.as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: Status, critical: bool) -> CheckReport {
        CheckReport {
            name: "x".into(),
            status,
            critical,
            detail: String::new(),
            duration_ms: 0.0,
        }
    }

    #[test]
    fn aggregation_rules() {
        use Status::*;
        let cases = [
            (vec![], Ok),
            (vec![(Ok, true), (Ok, false)], Ok),
            (vec![(Ok, true), (Degraded, true)], Degraded),
            (vec![(Ok, true), (Degraded, false)], Degraded),
            (vec![(Ok, true), (Down, false)], Degraded),
            (vec![(Down, true), (Ok, false)], Down),
            (vec![(Degraded, false), (Down, true)], Down),
        ];
        for (checks, expected) in cases {
            let reports: Vec<_> = checks.iter().map(|&(s, c)| report(s, c)).collect();
            assert_eq!(HealthReport::aggregate(&reports), expected, "{checks:?}");
        }
    }

    #[test]
    fn http_status_and_json() {
        let report = HealthReport {
            status: Status::Degraded,
            checks: vec![report(Status::Down, false)],
        };
        assert_eq!(report.http_status(), 200);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["checks"][0]["status"], "down");
        assert_eq!(json["checks"][0]["critical"], false);
        let down = HealthReport {
            status: Status::Down,
            checks: vec![],
        };
        assert_eq!(down.http_status(), 503);
    }
}
