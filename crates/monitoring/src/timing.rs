//! Timing: a duration histogram and an outcome counter for any call, cheap enough for hot paths
//! (the Rust answer to the Python service's `@measure_time`).
//!
//! Build a [`Measured`] once (it registers its metric handles), then time each call with a
//! [`Timer`] guard or [`Measured::run`]:
//!
//! ```
//! use finstage_monitoring::{Measured, catalog};
//!
//! let refresh = Measured::new(
//!     catalog::JOB_DURATION_SECONDS.name,
//!     catalog::JOB_RUNS_TOTAL.name,
//!     &[("job_name", "refresh_quotes")],
//! );
//! {
//!     let _timer = refresh.start(); // recorded as `ok` when dropped
//! }
//! let result: Result<u32, String> = Err("upstream down".into());
//! refresh.start().finish(&result); // recorded as `error`
//! # let _ = async { refresh.run(async { Ok::<_, String>(1) }).await };
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram, IntoLabels, Label};

/// How a measured call ended: the `outcome` label of the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It finished and succeeded.
    Ok,
    /// It finished with an error (or panicked).
    Error,
    /// Its future was dropped before it finished (a timeout, a shutdown, a client gone).
    Cancelled,
}

impl Outcome {
    /// `ok`, `error` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Every outcome, in label order.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Error, Outcome::Cancelled];
}

/// The unit a duration histogram records in, read from its name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    Seconds,
    Milliseconds,
    Microseconds,
}

impl Scale {
    fn of(name: &str) -> Scale {
        if name.ends_with("_milliseconds") {
            Scale::Milliseconds
        } else if name.ends_with("_microseconds") {
            Scale::Microseconds
        } else {
            Scale::Seconds
        }
    }

    #[inline]
    fn convert(self, elapsed: Duration) -> f64 {
        match self {
            Scale::Seconds => elapsed.as_secs_f64(),
            Scale::Milliseconds => elapsed.as_secs_f64() * 1e3,
            Scale::Microseconds => elapsed.as_secs_f64() * 1e6,
        }
    }
}

/// The metric handles for one measured operation: a duration histogram and one counter per
/// [`Outcome`], created once with their labels so that each measurement is two clock reads, one
/// histogram sample and one counter increment, with no lookup.
///
/// The histogram's unit follows its name: `…_milliseconds` records milliseconds,
/// `…_microseconds` microseconds, anything else seconds. The counter gets the same labels plus
/// `outcome`. Every call goes into the histogram, whatever its outcome.
#[derive(Debug, Clone)]
pub struct Measured {
    duration: Histogram,
    scale: Scale,
    outcomes: [Counter; 3],
}

impl Measured {
    /// Registers `duration{labels}` and `outcomes{labels, outcome}` with the installed recorder.
    ///
    /// Label values must come from a small closed set (see the catalogue's conventions).
    pub fn new(duration: &'static str, outcomes: &'static str, labels: impl IntoLabels) -> Measured {
        let labels: Vec<Label> = labels.into_labels();
        let counter = |outcome: Outcome| {
            let mut labels = labels.clone();
            labels.push(Label::new("outcome", outcome.as_str()));
            metrics::counter!(outcomes, labels)
        };
        Measured {
            duration: metrics::histogram!(duration, labels.clone()),
            scale: Scale::of(duration),
            outcomes: Outcome::ALL.map(counter),
        }
    }

    /// Starts timing; the returned guard records when it is dropped, as [`Outcome::Ok`] unless
    /// told otherwise ([`Timer::fail`], [`Timer::finish`]) or dropped while panicking
    /// ([`Outcome::Error`]).
    #[inline]
    pub fn start(&self) -> Timer<'_> {
        Timer {
            measured: self,
            started: Instant::now(),
            outcome: Outcome::Ok,
        }
    }

    /// Runs `future`, recording its duration and its outcome: [`Outcome::Ok`] or
    /// [`Outcome::Error`] from its `Result`, [`Outcome::Cancelled`] if the returned future is
    /// dropped before `future` completes.
    pub async fn run<T, E, F>(&self, future: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut timer = Timer {
            measured: self,
            started: Instant::now(),
            outcome: Outcome::Cancelled,
        };
        let result = future.await;
        timer.set_outcome(if result.is_ok() { Outcome::Ok } else { Outcome::Error });
        result
    }

    /// Records one call that took `elapsed`.
    #[inline]
    pub fn record(&self, elapsed: Duration, outcome: Outcome) {
        self.duration.record(self.scale.convert(elapsed));
        let index = match outcome {
            Outcome::Ok => 0,
            Outcome::Error => 1,
            Outcome::Cancelled => 2,
        };
        self.outcomes[index].increment(1);
    }
}

/// Times one call of a [`Measured`] operation; records when dropped.
#[must_use = "the timer records when it is dropped: bind it (`let _timer = …`), not `let _ = …`"]
#[derive(Debug)]
pub struct Timer<'a> {
    measured: &'a Measured,
    started: Instant,
    outcome: Outcome,
}

impl Timer<'_> {
    /// Sets the outcome recorded at drop.
    #[inline]
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Records the call now, as failed.
    #[inline]
    pub fn fail(mut self) {
        self.outcome = Outcome::Error;
    }

    /// Records the call now, with the outcome of `result`.
    #[inline]
    pub fn finish<T, E>(mut self, result: &Result<T, E>) {
        self.outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Error };
    }

    /// Time since the timer started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Timer<'_> {
    #[inline]
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Outcome::Error
        } else {
            self.outcome
        };
        self.measured.record(self.started.elapsed(), outcome);
    }
}

/// Times one call of `f` on a cold path, looking the metrics up by name (a registry lookup and a
/// few allocations per call: build a [`Measured`] once for anything frequent).
pub fn measure<T, E>(
    duration: &'static str,
    outcomes: &'static str,
    labels: impl IntoLabels,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let measured = Measured::new(duration, outcomes, labels);
    let timer = measured.start();
    let result = f();
    timer.finish(&result);
    result
}

/// The async form of [`measure`]: [`Measured::run`] on handles looked up by name.
pub async fn measure_future<T, E>(
    duration: &'static str,
    outcomes: &'static str,
    labels: impl IntoLabels,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    Measured::new(duration, outcomes, labels).run(future).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_follows_the_name() {
        let second = Duration::from_millis(1500);
        assert_eq!(Scale::of("x_seconds").convert(second), 1.5);
        assert_eq!(Scale::of("x_milliseconds").convert(second), 1500.0);
        assert_eq!(Scale::of("x_microseconds").convert(second), 1_500_000.0);
        assert_eq!(Scale::of("x").convert(second), 1.5);
    }
}
