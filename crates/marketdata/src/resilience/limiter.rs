//! [`RateLimiter`]: a token bucket shared by every task calling one provider.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::MarketDataError;

/// How fast a provider may be called.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may go at once after a quiet spell (the bucket's size). With a burst of
    /// `b`, any one-second window holds at most `b - 1 + per_second` requests; to stay under
    /// an upstream limit of N requests in any second, use `per_second < N` and `burst = 1`.
    pub burst: u32,
}

impl RateLimit {
    /// Checks the limit admits something.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] when the rate is not a positive finite number or the burst is 0.
    pub fn validate(&self) -> Result<(), MarketDataError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(MarketDataError::Config(format!(
                "rate_limit.per_second must be positive, got {}",
                self.per_second
            )));
        }
        if self.burst == 0 {
            return Err(MarketDataError::Config(
                "rate_limit.burst must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A token bucket in its "virtual scheduling" form (GCRA): each caller reserves the next free
/// slot under one short lock and then waits, outside the lock, until that slot. Callers are
/// served in the order they arrive, a slot costs O(1), and nothing polls.
///
/// [`penalize`](Self::penalize) pushes every future slot back, so that one task's HTTP 429
/// makes every task sharing the limiter wait, instead of each finding out for itself.
///
/// Time is tokio's clock: tests run it paused.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two slots.
    interval: Duration,
    /// How far ahead of the theoretical schedule a caller may go (the burst).
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter admitting `limit`.
    ///
    /// # Errors
    /// As [`RateLimit::validate`].
    pub fn new(limit: RateLimit) -> Result<Self, MarketDataError> {
        limit.validate()?;
        let interval = Duration::from_secs_f64(1.0 / limit.per_second);
        Ok(Self {
            interval,
            tolerance: interval.saturating_mul(limit.burst - 1),
            tat: Mutex::new(Instant::now()),
        })
    }

    /// Reserves the next slot and returns when it comes. Dropping the future gives the slot up
    /// unused (the schedule stays conservative: never faster than the limit).
    pub async fn acquire(&self) {
        let at = self.reserve(Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Reserves a slot for a request made at `now`, returning when it may go.
    fn reserve(&self, now: Instant) -> Instant {
        let mut tat = self.tat.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let earliest = tat.checked_sub(self.tolerance).unwrap_or(now);
        let at = now.max(earliest);
        *tat = (*tat).max(at) + self.interval;
        at
    }

    /// Makes every request wait until at least `wait` from now (an upstream's `Retry-After`).
    pub fn penalize(&self, wait: Duration) {
        let mut tat = self.tat.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A slot before `until` is not free: the next one is `until` itself (plus the burst
        // tolerance, so a burst does not follow the pause).
        let until = Instant::now() + wait + self.tolerance;
        *tat = (*tat).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_rate_after_the_burst() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3,
        })
        .unwrap();
        let start = Instant::now();
        let slots: Vec<Duration> = (0..6).map(|_| limiter.reserve(start) - start).collect();
        let ms: Vec<u128> = slots.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_one_admits_at_most_rate_per_second_in_any_window() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 50.0,
            burst: 1,
        })
        .unwrap();
        let start = Instant::now();
        let slots: Vec<Instant> = (0..500).map(|_| limiter.reserve(start)).collect();
        for (i, slot) in slots.iter().enumerate() {
            let in_window = slots[i..]
                .iter()
                .take_while(|s| **s < *slot + Duration::from_secs(1))
                .count();
            assert!(in_window <= 50, "{in_window} slots in the second after slot {i}");
        }
        assert_eq!(*slots.last().unwrap() - start, Duration::from_millis(20 * 499));
    }

    #[tokio::test(start_paused = true)]
    async fn a_penalty_pushes_every_later_slot_back() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 100.0,
            burst: 5,
        })
        .unwrap();
        limiter.penalize(Duration::from_secs(30));
        let start = Instant::now();
        let first = limiter.reserve(start);
        assert!(first - start >= Duration::from_secs(30), "{:?}", first - start);
        let before = Instant::now();
        limiter.acquire().await;
        assert!(Instant::now() - before >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_spell_refills_the_bucket_but_no_further() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 2,
        })
        .unwrap();
        let start = Instant::now();
        let later = start + Duration::from_secs(3600);
        let slots: Vec<u128> = (0..4).map(|_| (limiter.reserve(later) - later).as_millis()).collect();
        assert_eq!(slots, [0, 0, 1000, 2000]);
    }

    #[test]
    fn invalid_limits_are_refused() {
        for (per_second, burst) in [(0.0, 1), (-1.0, 1), (f64::NAN, 1), (f64::INFINITY, 1), (1.0, 0)] {
            assert!(
                RateLimiter::new(RateLimit { per_second, burst }).is_err(),
                "{per_second} {burst}"
            );
        }
    }
}
