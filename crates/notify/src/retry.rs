//! [`RetryPolicy`]: exponential backoff with full jitter, bounded in attempts and in total time.

use std::time::Duration;

use rand::Rng;

use crate::NotifyError;

/// When and how often a failed request is tried again.
///
/// Only retryable failures ([`NotifyError::is_retryable`]: 429, 5xx, timeouts, connection
/// failures) are retried. The wait before retry `n` (counting from 0) is drawn uniformly from
/// `[0, min(cap, base × 2ⁿ)]` ("full jitter"); after a 429 it is Telegram's `retry_after`
/// instead (never less). No retry starts if it would begin past `budget` after the first
/// attempt; the last error is returned then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter.
    pub base: Duration,
    /// The largest backoff, before jitter.
    pub cap: Duration,
    /// The most time one message part may take, waits included (a `retry_after` that would
    /// overrun it ends the retries at once).
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(10),
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Checks the policy can do something.
    ///
    /// # Errors
    /// [`NotifyError::Config`] when `max_attempts` is 0 or `cap < base`.
    pub fn validate(&self) -> Result<(), NotifyError> {
        if self.max_attempts == 0 {
            return Err(NotifyError::Config("retry.max_attempts must be at least 1".to_owned()));
        }
        if self.cap < self.base {
            return Err(NotifyError::Config("retry.cap must not be below retry.base".to_owned()));
        }
        Ok(())
    }

    /// The ceiling of the wait before retry `retry` (0-based): `min(cap, base × 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `retry` after `error`: Telegram's `retry_after` after a 429 that
    /// carried one, else a jittered backoff.
    pub fn delay_after(&self, retry: u32, error: &NotifyError, rng: &mut impl Rng) -> Duration {
        if let NotifyError::RateLimited {
            retry_after: Some(after),
            ..
        } = error
        {
            return *after;
        }
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()))
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
    fn retry_after_is_the_wait() {
        let policy = RetryPolicy::default();
        let error = NotifyError::RateLimited {
            channel: "telegram",
            retry_after: Some(Duration::from_secs(7)),
            description: String::new(),
        };
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(policy.delay_after(3, &error, &mut rng), Duration::from_secs(7));
    }

    #[test]
    fn invalid_policies_are_refused() {
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(zero.validate().is_err());
        let inverted = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert!(inverted.validate().is_err());
        assert!(RetryPolicy::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn backoff_never_exceeds_its_ceiling(retry in 0u32..64, seed: u64, base_ms in 0u64..10_000, extra_ms in 0u64..60_000) {
            let policy = RetryPolicy { base: Duration::from_millis(base_ms), cap: Duration::from_millis(base_ms + extra_ms), ..RetryPolicy::default() };
            let mut rng = StdRng::seed_from_u64(seed);
            let error = NotifyError::Timeout { channel: "telegram" };
            prop_assert!(policy.delay_after(retry, &error, &mut rng) <= policy.ceiling(retry));
        }
    }
}
