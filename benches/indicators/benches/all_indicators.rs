//! Every default indicator (`IndicatorSpec::all_defaults()`) over 500 symbols × 2,520 daily bars
//! on one thread: one criterion iteration is all 500 symbols.
//!
//! - `compute`: `finstage_indicators::compute` over each symbol's bars (planning included, as a
//!   caller pays it);
//! - `computation_push`: one `Computation` per symbol (planned outside the timing) fed bar by
//!   bar with `push`;
//! - `states`: one streaming state per indicator and symbol (made outside the timing), each
//!   bar fed to every state, as a caller without the engine would do.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use finstage_indicators::{Columns, Computation, IndicatorSpec, OutputSpec, compute};
use finstage_indicators_bench::all::{BARS, COMPUTE, GROUP, PUSH, REUSED, STATES, SYMBOLS};
use finstage_indicators_bench::data::Series;
use finstage_indicators_bench::streaming::{Feed, state_of};

/// The first symbol's seed; symbol `i` uses `SEED + i`.
const SEED: u64 = 1_000;

fn all_indicators(c: &mut Criterion) {
    let indicators = IndicatorSpec::all_defaults();
    let specs: Vec<OutputSpec> = indicators.iter().copied().map(OutputSpec::all).collect();
    let symbols: Vec<Series> = (0..SYMBOLS as u64)
        .map(|i| Series::random_walk(BARS, SEED + i))
        .collect();
    let views: Vec<_> = symbols.iter().map(|s| s.view().expect("one length")).collect();
    let new_states = || -> Vec<Vec<Box<dyn Feed>>> {
        symbols
            .iter()
            .map(|_| {
                indicators
                    .iter()
                    .map(|spec| state_of(spec).unwrap_or_else(|| panic!("no streaming state for {spec}")))
                    .collect()
            })
            .collect()
    };
    let columns = compute(&specs, &views[0]).expect("bars have times");
    println!(
        "{} indicators, {} columns, {SYMBOLS} symbols × {BARS} bars",
        indicators.len(),
        columns.width()
    );

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements((SYMBOLS * BARS) as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function(COMPUTE, |b| {
        b.iter(|| {
            for view in &views {
                black_box(compute(&specs, view).expect("bars have times"));
            }
        });
    });

    group.bench_function(REUSED, |b| {
        let mut computation = Computation::new(&specs);
        let mut columns = Columns::default();
        b.iter(|| {
            for view in &views {
                computation.reset();
                computation.extend_into(view, &mut columns).expect("bars have times");
                black_box(&columns);
            }
        });
    });

    group.bench_function(STATES, |b| {
        b.iter_batched_ref(
            new_states,
            |states| {
                for (symbol, states) in symbols.iter().zip(states.iter_mut()) {
                    for bar in symbol.candles() {
                        for state in states.iter_mut() {
                            state.feed(bar);
                        }
                    }
                }
            },
            BatchSize::PerIteration,
        );
    });

    // The slowest path last, with the time it needs for ten samples.
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(PUSH, |b| {
        b.iter_batched_ref(
            || symbols.iter().map(|_| Computation::new(&specs)).collect::<Vec<_>>(),
            |computations| {
                for (symbol, computation) in symbols.iter().zip(computations.iter_mut()) {
                    for bar in symbol.candles() {
                        black_box(computation.push(bar));
                    }
                }
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let mut criterion = Criterion::default().configure_from_args();
    all_indicators(&mut criterion);
    criterion.final_summary();
}
