//! Benchmarks of finstage-monitoring, each beside a baseline measured in the same run, with the
//! Prometheus recorder installed as in the services:
//!
//! - `measured_call`: one timed call through a [`Timer`] guard (start + drop: two clock reads,
//!   a histogram sample, an outcome counter) against the bare `Instant::now()` pair it is built
//!   on; the recording alone; the cold-path `measure` that looks handles up by name; and the
//!   guard on two threads at once (one `Measured` shared, as request handlers would).
//! - `measured_future`: `Measured::run` around a ready future, against the bare future, both
//!   polled once with a no-op waker.
//! - `exposition`: rendering about 1,000 series (`Metrics::render`, what each scrape costs),
//!   against formatting the same lines by hand; and reading the text back
//!   (`MetricsSnapshot::parse`, what each alert evaluation costs).
//!
//! Run: `CARGO_TARGET_DIR=/tmp/bench-target cargo bench -p finstage-monitoring-bench`.

use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use finstage_monitoring::alerts::MetricsSnapshot;
use finstage_monitoring::{Measured, Metrics, MetricsConfig, Outcome, measure};

/// Polls a future that is ready at once.
fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future is always ready"),
    }
}

fn measured_call(c: &mut Criterion, _metrics: &Metrics) {
    let seconds = Measured::new(
        "finstage_bench_call_seconds",
        "finstage_bench_calls_total",
        &[("op", "bench")],
    );
    let millis = Measured::new(
        "finstage_bench_call_milliseconds",
        "finstage_bench_calls_ms_total",
        &[("op", "bench")],
    );
    let mut group = c.benchmark_group("measured_call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_instant_pair", |b| {
        b.iter(|| {
            let started = Instant::now();
            black_box(started.elapsed())
        });
    });
    group.bench_function("timer_guard_seconds", |b| b.iter(|| drop(black_box(&seconds).start())));
    group.bench_function("timer_guard_milliseconds", |b| {
        b.iter(|| drop(black_box(&millis).start()));
    });
    group.bench_function("timer_finish_result", |b| {
        b.iter(|| black_box(&seconds).start().finish(black_box(&Ok::<u32, ()>(1))));
    });
    group.bench_function("record_only", |b| {
        b.iter(|| seconds.record(black_box(Duration::from_micros(250)), Outcome::Ok));
    });
    group.bench_function("cold_measure_by_name", |b| {
        b.iter(|| {
            measure(
                "finstage_bench_cold_seconds",
                "finstage_bench_cold_total",
                &[("op", "bench")],
                || Ok::<_, ()>(black_box(1)),
            )
        });
    });
    // Two threads timing calls through one shared `Measured` (the handlers of a 2-core server):
    // nanoseconds per call per thread.
    let shared = Arc::new(seconds.clone());
    group.bench_function("timer_guard_two_threads", |b| {
        b.iter_custom(|iters| {
            let barrier = Arc::new(Barrier::new(2));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let shared = Arc::clone(&shared);
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        barrier.wait();
                        let started = Instant::now();
                        for _ in 0..iters {
                            drop(black_box(&*shared).start());
                        }
                        started.elapsed()
                    })
                })
                .collect();
            let elapsed: Vec<Duration> = threads
                .into_iter()
                .map(|t| t.join().expect("the benchmark thread ends"))
                .collect();
            elapsed.into_iter().max().unwrap_or_default()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("measured_future");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_ready_future", |b| {
        b.iter(|| poll_ready(async { Ok::<_, ()>(black_box(1)) }));
    });
    group.bench_function("run_ready_future", |b| {
        b.iter(|| poll_ready(seconds.run(async { Ok::<_, ()>(black_box(1)) })));
    });
    group.finish();
}

/// About 1,000 series in the shapes the services export: 600 counters, 300 gauges, 100 HTTP
/// histograms (ms buckets).
fn fill_exposition() {
    let methods = ["GET", "POST"];
    let statuses = ["200", "400", "404", "500", "503"];
    for route in 0..60 {
        let route = format!("/v1/bench/route{route}/{{symbol}}");
        for method in methods {
            for status in statuses {
                metrics::counter!("finstage_bench_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
                    .increment(route.len() as u64);
            }
        }
    }
    for cache in 0..300 {
        metrics::gauge!("finstage_bench_cache_entries", "cache" => format!("cache{cache}")).set(f64::from(cache) * 1.5);
    }
    for route in 0..50 {
        for method in methods {
            let histogram = metrics::histogram!(
                "finstage_bench_http_request_duration_milliseconds",
                "method" => method,
                "route" => format!("/v1/bench/route{route}/{{symbol}}")
            );
            for sample in 0..20 {
                histogram.record(f64::from(sample) * 0.7);
            }
        }
    }
}

/// The lines of a snapshot formatted by hand: the least any exposition writer must do.
fn format_by_hand(snapshot: &MetricsSnapshot, out: &mut String) {
    out.clear();
    for sample in snapshot.samples() {
        out.push_str(&sample.name);
        out.push('{');
        for (i, (key, value)) in sample.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{value}\"");
        }
        let _ = writeln!(out, "}} {}", sample.value);
    }
}

fn exposition(c: &mut Criterion, metrics: &Metrics) {
    fill_exposition();
    let text = metrics.render();
    let snapshot = MetricsSnapshot::parse(&text);
    let bench_series = snapshot
        .samples()
        .iter()
        .filter(|s| s.name.starts_with("finstage_bench_") && !s.name.ends_with("_bucket"))
        .count();
    println!(
        "exposition: {} lines, {} bytes, {} samples ({bench_series} benchmark series, histograms counted once)",
        text.lines().count(),
        text.len(),
        snapshot.samples().len()
    );
    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Elements(snapshot.samples().len() as u64));
    group.bench_function("render_1000_series", |b| b.iter(|| black_box(metrics.render())));
    let mut out = String::with_capacity(text.len());
    group.bench_function("baseline_format_by_hand", |b| {
        b.iter(|| {
            format_by_hand(black_box(&snapshot), &mut out);
            black_box(out.len())
        });
    });
    group.bench_function("parse_snapshot", |b| {
        b.iter(|| black_box(MetricsSnapshot::parse(black_box(&text))));
    });
    group.finish();
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let metrics = Metrics::install(&MetricsConfig::default()).expect("the recorder installs");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    measured_call(&mut criterion, &metrics);
    exposition(&mut criterion, &metrics);
    criterion.final_summary();
}
