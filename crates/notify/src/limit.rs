//! The sender-side rate limit: at most so many messages per second to one chat and overall,
//! as token buckets (GCRA) on tokio's clock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::NotifyError;

/// How fast messages may go, as a token bucket: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub per_second: f64,
    /// Messages that may go at once after a quiet spell (the bucket's size). With a burst of 1,
    /// any one-second window holds at most `per_second` messages.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` messages a second, no burst.
    pub const fn per_second(per_second: f64) -> Self {
        Self { per_second, burst: 1 }
    }

    fn validate(&self, what: &str) -> Result<(), NotifyError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(NotifyError::Config(format!(
                "{what}.per_second must be positive, got {}",
                self.per_second
            )));
        }
        if self.burst == 0 {
            return Err(NotifyError::Config(format!("{what}.burst must be at least 1")));
        }
        Ok(())
    }

    /// (emission interval, burst tolerance) of the GCRA.
    fn gcra(&self) -> (Duration, Duration) {
        let interval = Duration::from_secs_f64(1.0 / self.per_second);
        (interval, interval.saturating_mul(self.burst - 1))
    }
}

/// Both limits of a sender: per chat and overall.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Messages to any one chat (Telegram: about one a second).
    pub per_chat: RateLimit,
    /// Messages to all chats together (Telegram: about 30 a second).
    pub global: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_chat: RateLimit::per_second(1.0),
            global: RateLimit::per_second(30.0),
        }
    }
}

/// Chats whose schedule is in the past are forgotten once this many are tracked.
const PRUNE_ABOVE: usize = 1_024;

/// A per-chat and a global token bucket in GCRA form, under one short lock.
///
/// A caller reserves the first instant both buckets admit (each keeps the theoretical arrival
/// time of its next message) and then sleeps, outside the lock, until then; sending exactly at
/// the reserved instant keeps every chat and the total within their limits whatever the
/// interleaving. [`penalize`](Self::penalize) pushes one chat's schedule back (a 429's
/// `retry_after`). Time is tokio's clock, so tests run it paused.
#[derive(Debug)]
pub(crate) struct ChatLimiter {
    chat: (Duration, Duration),
    global: (Duration, Duration),
    state: Mutex<Schedule>,
}

#[derive(Debug)]
struct Schedule {
    global_tat: Instant,
    chats: HashMap<String, Instant>,
}

impl ChatLimiter {
    pub(crate) fn new(limits: RateLimits) -> Result<Self, NotifyError> {
        limits.per_chat.validate("rate_limit.per_chat")?;
        limits.global.validate("rate_limit.global")?;
        Ok(Self {
            chat: limits.per_chat.gcra(),
            global: limits.global.gcra(),
            state: Mutex::new(Schedule {
                global_tat: Instant::now(),
                chats: HashMap::new(),
            }),
        })
    }

    /// Waits for the next slot of `chat`. Dropping the future gives the slot up unused (the
    /// schedule stays conservative).
    pub(crate) async fn acquire(&self, chat: &str) {
        let at = self.reserve(chat, Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Reserves the first instant at or after `now` that both buckets admit.
    fn reserve(&self, chat: &str, now: Instant) -> Instant {
        let mut schedule = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (chat_interval, chat_tolerance) = self.chat;
        let (global_interval, global_tolerance) = self.global;
        if schedule.chats.len() > PRUNE_ABOVE {
            schedule.chats.retain(|_, tat| *tat > now);
        }
        let chat_tat = schedule.chats.get(chat).copied().unwrap_or(now);
        let earliest = |tat: Instant, tolerance| tat.checked_sub(tolerance).unwrap_or(now);
        let at = now
            .max(earliest(chat_tat, chat_tolerance))
            .max(earliest(schedule.global_tat, global_tolerance));
        schedule.global_tat = schedule.global_tat.max(at) + global_interval;
        schedule.chats.insert(chat.to_owned(), chat_tat.max(at) + chat_interval);
        at
    }

    /// Makes the next message to `chat` wait until at least `wait` from now.
    pub(crate) fn penalize(&self, chat: &str, wait: Duration) {
        let mut schedule = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = Instant::now() + wait + self.chat.1;
        let tat = schedule.chats.entry(chat.to_owned()).or_insert(until);
        *tat = (*tat).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(slots: &[Instant], start: Instant) -> Vec<u128> {
        slots.iter().map(|s| (*s - start).as_millis()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn one_chat_is_spaced_by_its_rate_and_chats_share_the_global_rate() {
        let limiter = ChatLimiter::new(RateLimits {
            per_chat: RateLimit::per_second(1.0),
            global: RateLimit::per_second(10.0),
        })
        .unwrap();
        let start = Instant::now();
        let a: Vec<Instant> = (0..3).map(|_| limiter.reserve("a", start)).collect();
        assert_eq!(ms(&a, start), [0, 1000, 2000]);
        let others: Vec<Instant> = (0..4).map(|i| limiter.reserve(&format!("c{i}"), start)).collect();
        // Chat "a"'s last reservation (2.0 s) moved the global schedule to 2.1 s: a GCRA never
        // hands out a slot before one it has already given.
        assert_eq!(ms(&others, start), [2100, 2200, 2300, 2400]);
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_and_penalties() {
        let limiter = ChatLimiter::new(RateLimits {
            per_chat: RateLimit {
                per_second: 1.0,
                burst: 2,
            },
            global: RateLimit::per_second(1_000.0),
        })
        .unwrap();
        let start = Instant::now();
        let slots: Vec<Instant> = (0..3).map(|_| limiter.reserve("a", start)).collect();
        assert_eq!(ms(&slots, start), [0, 1, 1000]);
        limiter.penalize("a", Duration::from_secs(30));
        assert_eq!(
            limiter.reserve("b", start) - start,
            Duration::from_millis(1_001),
            "another chat is not held back"
        );
        let next = limiter.reserve("a", start);
        assert_eq!(next - start, Duration::from_secs(30));
    }

    #[test]
    fn impossible_limits_are_refused() {
        for limit in [
            RateLimit::per_second(0.0),
            RateLimit::per_second(f64::NAN),
            RateLimit::per_second(-1.0),
            RateLimit {
                per_second: 1.0,
                burst: 0,
            },
        ] {
            let limits = RateLimits {
                per_chat: limit,
                ..RateLimits::default()
            };
            assert!(
                matches!(ChatLimiter::new(limits), Err(NotifyError::Config(_))),
                "{limit:?}"
            );
        }
    }
}
