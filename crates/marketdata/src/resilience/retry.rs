//! [`RetryPolicy`]: exponential backoff with full jitter, bounded in attempts and in total time.

use std::time::Duration;

use rand::Rng;

use crate::MarketDataError;

/// When and how often a failed call is tried again.
///
/// The wait before retry `n` (counting from 0) is drawn uniformly from
/// `[0, min(cap, base × 2ⁿ)]` ("full jitter": many clients failing together spread their
/// retries out instead of returning in step). A `Retry-After` from the upstream raises the wait
/// to at least that long. No retry starts if it would end past `budget` after the first attempt
/// began; the last error is returned instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter.
    pub base: Duration,
    /// The largest backoff, before jitter.
    pub cap: Duration,
    /// The most time one call may take, waits included.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Checks the policy can do something.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] when `max_attempts` is 0 or `cap < base`.
    pub fn validate(&self) -> Result<(), MarketDataError> {
        if self.max_attempts == 0 {
            return Err(MarketDataError::Config(
                "retry.max_attempts must be at least 1".to_owned(),
            ));
        }
        if self.cap < self.base {
            return Err(MarketDataError::Config(
                "retry.cap must not be below retry.base".to_owned(),
            ));
        }
        Ok(())
    }

    /// The ceiling of the wait before retry `retry` (0-based): `min(cap, base × 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A wait before retry `retry`, drawn with full jitter.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()))
    }

    /// The wait before retry `retry` after `error`: the jittered backoff, raised to the
    /// upstream's `Retry-After` when it sent one.
    pub fn delay_after(&self, retry: u32, error: &MarketDataError, rng: &mut impl Rng) -> Duration {
        let backoff = self.backoff(retry, rng);
        match error {
            MarketDataError::RateLimited {
                retry_after: Some(after),
                ..
            } => backoff.max(*after),
            _ => backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let ceilings: Vec<_> = (0..6).map(|n| policy.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_raises_the_wait() {
        let policy = RetryPolicy::default();
        let error = MarketDataError::RateLimited {
            provider: "yahoo",
            retry_after: Some(Duration::from_secs(60)),
        };
        let mut rng = StdRng::seed_from_u64(7);
        assert!(policy.delay_after(0, &error, &mut rng) >= Duration::from_secs(60));
    }

    #[test]
    fn jitter_spreads_over_the_whole_interval() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<f64> = (0..1000).map(|_| policy.backoff(0, &mut rng).as_secs_f64()).collect();
        assert!(draws.iter().any(|d| *d < 0.1), "full jitter reaches near zero");
        assert!(draws.iter().any(|d| *d > 0.9), "and near the ceiling");
    }

    #[test]
    fn invalid_policies_are_refused() {
        assert!(
            RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            RetryPolicy {
                base: Duration::from_secs(2),
                cap: Duration::from_secs(1),
                ..RetryPolicy::default()
            }
            .validate()
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn backoff_never_exceeds_its_ceiling(retry in 0u32..64, seed: u64, base_ms in 0u64..10_000, extra_ms in 0u64..60_000) {
            let policy = RetryPolicy { base: Duration::from_millis(base_ms), cap: Duration::from_millis(base_ms + extra_ms), ..RetryPolicy::default() };
            let mut rng = StdRng::seed_from_u64(seed);
            prop_assert!(policy.backoff(retry, &mut rng) <= policy.ceiling(retry));
        }
    }
}
