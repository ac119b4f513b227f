//! Timing guards and the future wrapper: outcomes, cancellation, units.

use std::time::{Duration, Instant};

use finstage_monitoring::{Measured, Outcome, measure, measure_future};

use crate::support::{self, value};

fn outcome(counter: &str, labels: &[(&str, &str)], outcome: &str) -> f64 {
    let mut labels = labels.to_vec();
    labels.push(("outcome", outcome));
    value(counter, &labels)
}

#[test]
fn the_guard_counts_ok_error_and_panics() {
    support::metrics();
    let labels = [("op", "guard")];
    let measured = Measured::new("finstage_it_guard_seconds", "finstage_it_guard_total", &labels);
    drop(measured.start());
    {
        let _timer = measured.start();
    }
    measured.start().fail();
    measured.start().finish(&Err::<(), _>("boom"));
    measured.start().finish(&Ok::<_, ()>(1));
    let mut timer = measured.start();
    timer.set_outcome(Outcome::Cancelled);
    drop(timer);
    // A guard dropped by a panic counts as an error.
    let panicked = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let _timer = measured.start();
                panic!("inside a measured call");
            })
            .join()
    });
    assert!(panicked.is_err());

    let count = |o| outcome("finstage_it_guard_total", &labels, o);
    assert_eq!((count("ok"), count("error"), count("cancelled")), (3.0, 3.0, 1.0));
    assert_eq!(value("finstage_it_guard_seconds_count", &labels), 7.0);
}

#[tokio::test(start_paused = true)]
async fn the_future_wrapper_counts_results_and_cancellation() {
    support::metrics();
    let labels = [("op", "future")];
    let measured = Measured::new("finstage_it_future_seconds", "finstage_it_future_total", &labels);
    assert_eq!(measured.run(async { Ok::<_, String>(7) }).await, Ok(7));
    assert!(measured.run(async { Err::<(), _>("no") }).await.is_err());
    // Dropped before it completes: a timeout around a call that never ends.
    let timed_out = tokio::time::timeout(
        Duration::from_secs(5),
        measured.run(std::future::pending::<Result<(), ()>>()),
    )
    .await;
    assert!(timed_out.is_err());
    // A future that is never polled is not counted at all: nothing started.
    drop(measured.run(async { Ok::<_, ()>(()) }));

    let count = |o| outcome("finstage_it_future_total", &labels, o);
    assert_eq!((count("ok"), count("error"), count("cancelled")), (1.0, 1.0, 1.0));
    assert_eq!(value("finstage_it_future_seconds_count", &labels), 3.0);
}

/// Spins until `at_least` has passed (the measured call must take a known minimum).
fn busy(at_least: Duration) {
    let started = Instant::now();
    while started.elapsed() < at_least {
        std::hint::spin_loop();
    }
}

#[test]
fn durations_are_recorded_in_the_unit_the_name_says() {
    support::metrics();
    let ms = Measured::new(
        "finstage_it_unit_milliseconds",
        "finstage_it_unit_ms_total",
        &[("op", "unit")],
    );
    let s = Measured::new(
        "finstage_it_unit_seconds",
        "finstage_it_unit_s_total",
        &[("op", "unit")],
    );
    {
        let _ms = ms.start();
        let _s = s.start();
        busy(Duration::from_millis(3));
    }
    let snapshot = support::snapshot();
    // 3 ms or more: above the 2.5 bucket in milliseconds, below the 0.005 s one... if in seconds.
    let ms_sum = snapshot
        .get("finstage_it_unit_milliseconds_sum", &[("op", "unit")])
        .unwrap();
    assert!(ms_sum >= 3.0, "{ms_sum}");
    let ms_buckets = support::buckets(&snapshot, "finstage_it_unit_milliseconds", &[("op", "unit")]);
    assert_eq!(ms_buckets.iter().find(|(le, _)| *le == 2.5).map(|b| b.1), Some(0.0));
    let s_sum = snapshot.get("finstage_it_unit_seconds_sum", &[("op", "unit")]).unwrap();
    assert!((0.003..1.0).contains(&s_sum), "{s_sum}");
    let s_buckets = support::buckets(&snapshot, "finstage_it_unit_seconds", &[("op", "unit")]);
    assert_eq!(s_buckets.iter().find(|(le, _)| *le == 0.0025).map(|b| b.1), Some(0.0));
    assert_eq!(s_buckets.iter().find(|(le, _)| *le == 1.0).map(|b| b.1), Some(1.0));
}

#[tokio::test]
async fn cold_path_helpers_look_up_by_name() {
    support::metrics();
    let labels = [("op", "cold")];
    assert_eq!(
        measure("finstage_it_cold_seconds", "finstage_it_cold_total", &labels, || Ok::<
            _,
            (),
        >(
            1
        )),
        Ok(1)
    );
    assert!(
        measure("finstage_it_cold_seconds", "finstage_it_cold_total", &labels, || Err::<
            (),
            _,
        >(
            ()
        ))
        .is_err()
    );
    let result = measure_future("finstage_it_cold_seconds", "finstage_it_cold_total", &labels, async {
        Ok::<_, ()>("x")
    })
    .await;
    assert_eq!(result, Ok("x"));
    let count = |o| outcome("finstage_it_cold_total", &labels, o);
    assert_eq!((count("ok"), count("error")), (2.0, 1.0));
}
