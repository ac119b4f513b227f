//! The wall clock seam: health freshness checks and alert events read the time through a
//! [`Clock`], so tests can set it.
//!
//! Durations (check timeouts, alert cooldowns, rate windows) use tokio's clock instead, which
//! tests pause and advance.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the current wall-clock time comes from.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Now, in seconds since the Unix epoch (negative before it).
    fn unix_seconds(&self) -> f64 {
        unix_seconds(self.now())
    }
}

/// `time` in seconds since the Unix epoch (negative before it).
pub fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// Sets the time.
    pub fn set(&self, now: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_when_told() {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(clock.unix_seconds(), 100.0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.unix_seconds(), 101.5);
        clock.set(UNIX_EPOCH - Duration::from_secs(2));
        assert_eq!(clock.unix_seconds(), -2.0);
        assert!(SystemClock.unix_seconds() > 1.7e9);
    }
}
