//! [`CircuitBreaker`]: stop calling an upstream that keeps failing, and probe it later.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::MarketDataError;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive upstream failures (see [`MarketDataError::is_upstream_failure`]) that open
    /// the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through (half-open).
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

impl BreakerConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] when the threshold is 0.
    pub fn validate(&self) -> Result<(), MarketDataError> {
        if self.failure_threshold == 0 {
            return Err(MarketDataError::Config(
                "breaker.failure_threshold must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The breaker's state, as the `finstage_upstream_breaker_state` gauge shows it (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// One probe is allowed; its outcome closes or reopens the circuit.
    HalfOpen,
    /// Calls fail at once with [`MarketDataError::CircuitOpen`].
    Open,
}

impl BreakerState {
    /// The gauge value: 0 closed, 1 half-open, 2 open.
    pub const fn as_gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// A consecutive-failure circuit breaker.
///
/// Closed: every call goes through; `failure_threshold` upstream failures in a row open it (a
/// success resets the count; answers such as "unknown symbol" count as successes, since the
/// upstream is healthy). Open: calls fail at once for `open_for`. Then half-open: one call goes
/// through as a probe while the others keep failing fast; the probe's success closes the circuit,
/// its failure opens it again for another `open_for`. A probe that is cancelled gives its turn
/// to the next caller.
#[derive(Debug)]
pub struct CircuitBreaker {
    provider: &'static str,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Permission to make one call; report how it went with [`record`](Self::record).
#[derive(Debug)]
#[must_use = "a permit reports the call's outcome with record()"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    /// A closed breaker for `provider`.
    ///
    /// # Errors
    /// As [`BreakerConfig::validate`].
    pub fn new(provider: &'static str, config: BreakerConfig) -> Result<Self, MarketDataError> {
        config.validate()?;
        let breaker = Self {
            provider,
            config,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        };
        breaker.publish(BreakerState::Closed);
        Ok(breaker)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!("finstage_upstream_breaker_state", "provider" => self.provider).set(state.as_gauge());
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() < *until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call.
    ///
    /// # Errors
    /// [`MarketDataError::CircuitOpen`] while the circuit is open, or half-open with a probe
    /// already out.
    pub fn try_acquire(&self) -> Result<Permit<'_>, MarketDataError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let probe = match &mut *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if now < *until => {
                return Err(self.rejected(*until - now));
            }
            Inner::Open { .. } => {
                *inner = Inner::HalfOpen { probing: true };
                drop(inner);
                self.publish(BreakerState::HalfOpen);
                return Ok(Permit {
                    breaker: self,
                    probe: true,
                    recorded: false,
                });
            }
            Inner::HalfOpen { probing: true } => return Err(self.rejected(Duration::ZERO)),
            Inner::HalfOpen { probing } => {
                *probing = true;
                true
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    fn rejected(&self, retry_in: Duration) -> MarketDataError {
        metrics::counter!("finstage_upstream_breaker_rejections_total", "provider" => self.provider).increment(1);
        MarketDataError::CircuitOpen {
            provider: self.provider,
            retry_in,
        }
    }

    fn on_success(&self) {
        let mut inner = self.lock();
        let was_closed = matches!(*inner, Inner::Closed { .. });
        *inner = Inner::Closed { failures: 0 };
        drop(inner);
        if !was_closed {
            tracing::info!(provider = self.provider, "circuit closed: the upstream answered again");
            self.publish(BreakerState::Closed);
        }
    }

    fn on_failure(&self, probe: bool) {
        let mut inner = self.lock();
        let open = match &mut *inner {
            Inner::Closed { failures } => {
                *failures += 1;
                *failures >= self.config.failure_threshold
            }
            Inner::HalfOpen { .. } => probe,
            // Calls started before the circuit opened finish now; they change nothing.
            Inner::Open { .. } => false,
        };
        if open {
            *inner = Inner::Open {
                until: Instant::now() + self.config.open_for,
            };
            drop(inner);
            tracing::warn!(
                provider = self.provider,
                open_for_ms = self.config.open_for.as_millis() as u64,
                "circuit opened after repeated upstream failures"
            );
            self.publish(BreakerState::Open);
        }
    }

    fn release_probe(&self) {
        if let Inner::HalfOpen { probing } = &mut *self.lock() {
            *probing = false;
        }
    }
}

impl Permit<'_> {
    /// Reports the call's outcome: upstream failures count towards opening the circuit,
    /// anything else (data or an answer about the data) closes it.
    pub fn record<T>(mut self, outcome: &Result<T, MarketDataError>) {
        self.recorded = true;
        match outcome {
            Err(e) if e.is_upstream_failure() => self.breaker.on_failure(self.probe),
            _ => self.breaker.on_success(),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            self.breaker.release_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Result<(), MarketDataError> {
        Err(MarketDataError::Timeout {
            provider: "test",
            endpoint: "quote",
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_and_recovers_through_one_probe() {
        let breaker = CircuitBreaker::new(
            "test",
            BreakerConfig {
                failure_threshold: 3,
                open_for: Duration::from_secs(10),
            },
        )
        .unwrap();
        for _ in 0..3 {
            breaker.try_acquire().unwrap().record(&failure());
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(matches!(
            breaker.try_acquire(),
            Err(MarketDataError::CircuitOpen { .. })
        ));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let probe = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_err(), "one probe at a time");
        probe.record(&Ok::<(), MarketDataError>(()));
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_and_a_dropped_probe_frees_the_turn() {
        let breaker = CircuitBreaker::new(
            "test",
            BreakerConfig {
                failure_threshold: 1,
                open_for: Duration::from_secs(5),
            },
        )
        .unwrap();
        breaker.try_acquire().unwrap().record(&failure());
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(breaker.try_acquire().unwrap());
        let probe = breaker.try_acquire().expect("the dropped probe gave its turn up");
        probe.record(&failure());
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_about_data_are_not_failures() {
        let breaker = CircuitBreaker::new(
            "test",
            BreakerConfig {
                failure_threshold: 2,
                open_for: Duration::from_secs(5),
            },
        )
        .unwrap();
        let symbol = finstage_domain::Symbol::parse("NOPE").unwrap();
        for _ in 0..10 {
            breaker
                .try_acquire()
                .unwrap()
                .record(&Err::<(), _>(MarketDataError::NotFound {
                    provider: "test",
                    symbol,
                }));
        }
        breaker.try_acquire().unwrap().record(&failure());
        breaker.try_acquire().unwrap().record(&Ok::<(), MarketDataError>(()));
        breaker.try_acquire().unwrap().record(&failure());
        assert_eq!(breaker.state(), BreakerState::Closed, "failures must be consecutive");
    }
}
