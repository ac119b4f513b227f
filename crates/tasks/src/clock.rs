//! [`Clock`]: where the queue reads the time, so that tests run it on tokio's paused clock.

use std::fmt::Debug;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

/// A source of the current UTC time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }
}

/// UTC time that moves with tokio's clock from a fixed start: paused in a test, it moves only
/// when the test (or tokio's auto-advance) moves it.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            start,
            origin: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.origin.elapsed()).unwrap_or(TimeDelta::MAX);
        self.start.checked_add_signed(elapsed).unwrap_or(self.start)
    }
}
