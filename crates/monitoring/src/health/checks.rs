//! Reusable checks: [`FnCheck`] (any async closure), [`Freshness`] (a job's last success against
//! its allowed age) and [`Threshold`] (a reading against warning and critical levels).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{BoxFuture, CheckResult, HealthCheck, Status};
use crate::clock::{Clock, SystemClock};
use crate::error::{MonitoringError, check_finite, check_nonzero};

/// A check made of a name and an async closure (a database ping, a cache round trip).
///
/// ```
/// use finstage_monitoring::health::{CheckResult, FnCheck};
///
/// let cache = FnCheck::new("cache", || async { CheckResult::ok("round trip 0.2 ms") });
/// ```
pub struct FnCheck<F> {
    name: String,
    f: F,
}

impl<F, Fut> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    /// A check called `name` that runs `f`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnCheck { name: name.into(), f }
    }
}

impl<F> fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin((self.f)())
    }
}

type LastSuccess = Arc<dyn Fn() -> Option<SystemTime> + Send + Sync>;

/// Whether something that should happen periodically (a job, a quote refresh) happened recently:
/// `Ok` while its last success is younger than `degraded_after`, `Degraded` until `down_after`,
/// `Down` beyond. Never succeeded: `Degraded` by default (a fresh start is not an outage; see
/// [`when_never`](Self::when_never)).
pub struct Freshness {
    name: String,
    last_success: LastSuccess,
    degraded_after: Duration,
    down_after: Duration,
    never: Status,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Freshness")
            .field("name", &self.name)
            .field("degraded_after", &self.degraded_after)
            .field("down_after", &self.down_after)
            .field("never", &self.never)
            .finish_non_exhaustive()
    }
}

impl Freshness {
    /// A check called `name` reading the last success from `last_success`.
    ///
    /// # Errors
    /// A zero age, or `degraded_after` above `down_after`.
    pub fn new(
        name: impl Into<String>,
        degraded_after: Duration,
        down_after: Duration,
        last_success: impl Fn() -> Option<SystemTime> + Send + Sync + 'static,
    ) -> Result<Self, MonitoringError> {
        check_nonzero("freshness age", degraded_after)?;
        if degraded_after > down_after {
            return Err(MonitoringError::InvalidConfig {
                what: "freshness ages",
                reason: format!("degraded after {degraded_after:?} is later than down after {down_after:?}"),
            });
        }
        Ok(Freshness {
            name: name.into(),
            last_success: Arc::new(last_success),
            degraded_after,
            down_after,
            never: Status::Degraded,
            clock: Arc::new(SystemClock),
        })
    }

    /// The status when there has been no success yet.
    pub fn when_never(mut self, status: Status) -> Self {
        self.never = status;
        self
    }

    /// Reads the time from `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn evaluate(&self) -> CheckResult {
        let Some(last) = (self.last_success)() else {
            return CheckResult {
                status: self.never,
                detail: "no success yet".to_owned(),
            };
        };
        // A last success in the future (clock steps) counts as just now.
        let age = self.clock.now().duration_since(last).unwrap_or(Duration::ZERO);
        let status = if age > self.down_after {
            Status::Down
        } else if age > self.degraded_after {
            Status::Degraded
        } else {
            Status::Ok
        };
        CheckResult {
            status,
            detail: format!(
                "last success {:.0}s ago (degraded after {}s, down after {}s)",
                age.as_secs_f64(),
                self.degraded_after.as_secs(),
                self.down_after.as_secs()
            ),
        }
    }
}

impl HealthCheck for Freshness {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        let result = self.evaluate();
        Box::pin(async move { result })
    }
}

type Reading = Arc<dyn Fn() -> Option<f64> + Send + Sync>;

/// A reading where more is worse (the task backlog, the pool's waiting callers): `Ok` below
/// `degraded_at`, `Degraded` from it, `Down` from `down_at`. No reading is `Degraded`; a reading
/// that is not a number is `Down`.
pub struct Threshold {
    name: String,
    reading: Reading,
    degraded_at: f64,
    down_at: f64,
}

impl fmt::Debug for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Threshold")
            .field("name", &self.name)
            .field("degraded_at", &self.degraded_at)
            .field("down_at", &self.down_at)
            .finish_non_exhaustive()
    }
}

impl Threshold {
    /// A check called `name` comparing `reading` with the two levels.
    ///
    /// # Errors
    /// A level that is not finite, or `degraded_at` above `down_at`.
    pub fn new(
        name: impl Into<String>,
        degraded_at: f64,
        down_at: f64,
        reading: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) -> Result<Self, MonitoringError> {
        check_finite("threshold", degraded_at)?;
        check_finite("threshold", down_at)?;
        if degraded_at > down_at {
            return Err(MonitoringError::InvalidConfig {
                what: "thresholds",
                reason: format!("degraded at {degraded_at} is above down at {down_at}"),
            });
        }
        Ok(Threshold {
            name: name.into(),
            reading: Arc::new(reading),
            degraded_at,
            down_at,
        })
    }

    fn evaluate(&self) -> CheckResult {
        let Some(value) = (self.reading)() else {
            return CheckResult::degraded("no reading");
        };
        let status = if value.is_nan() || value >= self.down_at {
            Status::Down
        } else if value >= self.degraded_at {
            Status::Degraded
        } else {
            Status::Ok
        };
        CheckResult {
            status,
            detail: format!("{value} (degraded at {}, down at {})", self.degraded_at, self.down_at),
        }
    }
}

impl HealthCheck for Threshold {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        let result = self.evaluate();
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn freshness_goes_degraded_then_down_with_age() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
        let last = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&last);
        let check = Freshness::new(
            "job.refresh",
            Duration::from_secs(60),
            Duration::from_secs(300),
            move || *shared.lock().unwrap(),
        )
        .unwrap()
        .with_clock(clock.clone());
        assert_eq!(check.evaluate().status, Status::Degraded);
        assert_eq!(check.evaluate().detail, "no success yet");
        *last.lock().unwrap() = Some(clock.now());
        let mut seen = vec![];
        for step in [0, 60, 1, 239, 1] {
            clock.advance(Duration::from_secs(step));
            seen.push(check.evaluate().status);
        }
        use Status::*;
        assert_eq!(seen, [Ok, Ok, Degraded, Degraded, Down]);
        assert_eq!(
            check.evaluate().detail,
            "last success 301s ago (degraded after 60s, down after 300s)"
        );
        *last.lock().unwrap() = Some(clock.now() + Duration::from_secs(5));
        assert_eq!(check.evaluate().status, Ok);
        let never_down = Freshness::new("x", Duration::from_secs(1), Duration::from_secs(1), || None)
            .unwrap()
            .when_never(Down);
        assert_eq!(never_down.evaluate().status, Down);
        assert!(Freshness::new("x", Duration::from_secs(2), Duration::from_secs(1), || None).is_err());
        assert!(Freshness::new("x", Duration::ZERO, Duration::from_secs(1), || None).is_err());
    }

    #[test]
    fn threshold_levels() {
        let value = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&value);
        let check = Threshold::new("tasks.backlog", 1000.0, 5000.0, move || *shared.lock().unwrap()).unwrap();
        let mut seen = vec![];
        for reading in [
            None,
            Some(0.0),
            Some(999.0),
            Some(1000.0),
            Some(4999.0),
            Some(5000.0),
            Some(f64::NAN),
        ] {
            *value.lock().unwrap() = reading;
            seen.push(check.evaluate().status);
        }
        use Status::*;
        assert_eq!(seen, [Degraded, Ok, Ok, Degraded, Degraded, Down, Down]);
        assert!(Threshold::new("x", 2.0, 1.0, || None).is_err());
        assert!(Threshold::new("x", f64::NAN, 1.0, || None).is_err());
    }
}
