//! The rendered exposition: types, labels, bucket bounds, descriptions; the recorder installed
//! once whoever asks.

use std::sync::{Arc, Barrier};

use finstage_monitoring::{Measured, Metrics, MetricsConfig, buckets, catalog};

use crate::support::{self, type_of};

#[test]
fn rendered_series_have_their_types_labels_and_buckets() {
    let metrics = support::metrics();
    let route = "/v1/quotes/{symbol}";
    metrics::counter!("finstage_it_expo_requests_total", "route" => route, "status" => "200").increment(3);
    metrics::counter!("finstage_it_expo_requests_total", "route" => route, "status" => "503").increment(1);
    metrics::gauge!("finstage_it_expo_backlog", "priority" => "high").set(42.5);
    let http = metrics::histogram!("finstage_it_expo_duration_milliseconds", "route" => route);
    http.record(3.0);
    http.record(700.0);
    metrics::histogram!("finstage_it_expo_wait_seconds").record(0.02);
    metrics::histogram!(catalog::UPSTREAM_REQUEST_DURATION_SECONDS.name, "provider" => "it-expo", "endpoint" => "chart")
        .record(0.3);
    let call = Measured::new(
        "finstage_it_expo_call_milliseconds",
        "finstage_it_expo_calls_total",
        &[("op", "load")],
    );
    drop(call.start());
    call.start().fail();

    let text = metrics.render();
    let snapshot = finstage_monitoring::alerts::MetricsSnapshot::parse(&text);
    assert_eq!(snapshot.skipped(), 0, "every line parses:\n{text}");

    // Types.
    for (name, kind) in [
        ("finstage_it_expo_requests_total", "counter"),
        ("finstage_it_expo_backlog", "gauge"),
        ("finstage_it_expo_duration_milliseconds", "histogram"),
        ("finstage_it_expo_wait_seconds", "histogram"),
        ("finstage_it_expo_call_milliseconds", "histogram"),
        ("finstage_it_expo_calls_total", "counter"),
        (catalog::UPSTREAM_REQUEST_DURATION_SECONDS.name, "histogram"),
    ] {
        assert_eq!(type_of(&text, name), Some(kind), "{name} in:\n{text}");
    }
    // Label sets, exactly.
    let get = |name: &str, labels: &[(&str, &str)]| snapshot.get(name, labels);
    assert_eq!(
        get(
            "finstage_it_expo_requests_total",
            &[("route", route), ("status", "200")]
        ),
        Some(3.0)
    );
    assert_eq!(
        get(
            "finstage_it_expo_requests_total",
            &[("route", route), ("status", "503")]
        ),
        Some(1.0)
    );
    assert_eq!(get("finstage_it_expo_backlog", &[("priority", "high")]), Some(42.5));
    assert_eq!(
        get("finstage_it_expo_calls_total", &[("op", "load"), ("outcome", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        get("finstage_it_expo_calls_total", &[("op", "load"), ("outcome", "error")]),
        Some(1.0)
    );
    assert_eq!(
        get(
            "finstage_it_expo_calls_total",
            &[("op", "load"), ("outcome", "cancelled")]
        ),
        Some(0.0)
    );

    // Milliseconds histograms get the HTTP bounds, cumulative counts, a sum and a count.
    let ms = support::buckets(&snapshot, "finstage_it_expo_duration_milliseconds", &[("route", route)]);
    let bounds: Vec<f64> = ms.iter().map(|&(le, _)| le).collect();
    let mut expected: Vec<f64> = buckets::HTTP_MILLISECONDS.to_vec();
    expected.push(f64::INFINITY);
    assert_eq!(bounds, expected);
    let count_at = |le: f64| ms.iter().find(|&&(b, _)| b == le).map(|&(_, c)| c);
    assert_eq!(count_at(2.5), Some(0.0));
    assert_eq!(count_at(5.0), Some(1.0));
    assert_eq!(count_at(500.0), Some(1.0));
    assert_eq!(count_at(1000.0), Some(2.0));
    assert_eq!(count_at(f64::INFINITY), Some(2.0));
    assert_eq!(
        get("finstage_it_expo_duration_milliseconds_sum", &[("route", route)]),
        Some(703.0)
    );
    assert_eq!(
        get("finstage_it_expo_duration_milliseconds_count", &[("route", route)]),
        Some(2.0)
    );

    // Seconds histograms get second bounds; the upstream duration its own.
    let seconds = support::buckets(&snapshot, "finstage_it_expo_wait_seconds", &[]);
    assert_eq!(seconds.len(), buckets::SECONDS.len() + 1);
    assert_eq!(seconds[0].0, buckets::SECONDS[0]);
    let upstream = support::buckets(
        &snapshot,
        catalog::UPSTREAM_REQUEST_DURATION_SECONDS.name,
        &[("provider", "it-expo"), ("endpoint", "chart")],
    );
    let bounds: Vec<f64> = upstream.iter().map(|&(le, _)| le).collect();
    assert_eq!(&bounds[..bounds.len() - 1], buckets::UPSTREAM_SECONDS);
    let timer_buckets = support::buckets(&snapshot, "finstage_it_expo_call_milliseconds", &[("op", "load")]);
    assert_eq!(timer_buckets.last(), Some(&(f64::INFINITY, 2.0)));

    // The catalogue's descriptions are the HELP lines.
    assert!(
        text.contains(&format!(
            "# HELP {} {}",
            catalog::UPSTREAM_REQUEST_DURATION_SECONDS.name,
            catalog::UPSTREAM_REQUEST_DURATION_SECONDS.help
        )),
        "{text}"
    );
}

#[test]
fn install_is_idempotent_across_threads() {
    const THREADS: usize = 16;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                // Half ask with another configuration: the first one stays, no error.
                let config = if i % 2 == 0 {
                    MetricsConfig::default()
                } else {
                    MetricsConfig {
                        default_buckets: vec![1.0, 2.0],
                        ..MetricsConfig::default()
                    }
                };
                let metrics = Metrics::install(&config).expect("every call succeeds");
                metrics::counter!("finstage_it_idempotent_total").increment(1);
                metrics
            })
        })
        .collect();
    let all: Vec<Metrics> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // One recorder: each handle renders every thread's increment.
    for metrics in &all {
        let snapshot = finstage_monitoring::alerts::MetricsSnapshot::parse(&metrics.render());
        assert_eq!(snapshot.get("finstage_it_idempotent_total", &[]), Some(THREADS as f64));
    }
    assert!(Metrics::installed().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_from_many_tasks_returns_the_same_recorder() {
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            tokio::spawn(async {
                let metrics = Metrics::install(&MetricsConfig::default()).unwrap();
                metrics::counter!("finstage_it_tasks_total").increment(1);
                metrics
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(support::value("finstage_it_tasks_total", &[]), 32.0);
}

#[test]
fn invalid_configurations_are_refused_even_after_install() {
    support::metrics();
    let config = MetricsConfig {
        default_buckets: vec![2.0, 1.0],
        ..MetricsConfig::default()
    };
    let error = Metrics::install(&config).unwrap_err();
    assert!(error.to_string().contains("strictly increasing"), "{error}");
}
