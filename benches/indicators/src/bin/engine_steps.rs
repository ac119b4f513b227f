//! What each default indicator costs inside the multi-indicator engine: for each spec alone,
//! then for all of them together, one `Computation` is reset and extended into the same
//! `Columns` for each of 500 symbols × 2,520 bars (the `computation_reused` benchmark's path).
//! Best of five runs; a diagnostic to find where the all-indicators time goes, not a
//! comparison (criterion's `all_indicators` is the figure of record).
//!
//! `cargo run --release -p finstage-indicators-bench --bin engine_steps [-- SPECS]`, where SPECS
//! is a comma-separated spec list measured as one computation (default: each default spec).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use finstage_indicators::{Columns, Computation, IndicatorSpec, Ohlcv, OutputSpec, parse_specs};
use finstage_indicators_bench::all::{BARS, SYMBOLS};
use finstage_indicators_bench::data::Series;

/// The seeds of `all_indicators`' symbols.
const SEED: u64 = 1_000;
const RUNS: usize = 5;

fn main() -> ExitCode {
    let lists: Vec<(String, Vec<OutputSpec>)> = match std::env::args().nth(1) {
        Some(text) => match parse_specs(&text) {
            Ok(specs) => vec![(text, specs)],
            Err(e) => {
                eprintln!("engine_steps: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            let defaults = IndicatorSpec::all_defaults();
            let mut lists: Vec<_> = defaults
                .iter()
                .map(|&spec| (spec.to_string(), vec![OutputSpec::all(spec)]))
                .collect();
            lists.push((
                "every default together".to_owned(),
                defaults.into_iter().map(OutputSpec::all).collect(),
            ));
            lists
        }
    };
    let symbols: Vec<Series> = (0..SYMBOLS as u64)
        .map(|i| Series::random_walk(BARS, SEED + i))
        .collect();
    let views: Vec<Ohlcv<'_>> = match symbols.iter().map(Series::view).collect() {
        Ok(views) => views,
        Err(e) => {
            eprintln!("engine_steps: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("| Specs | ms per run | ns per bar |");
    println!("|---|---:|---:|");
    for (name, specs) in &lists {
        let mut computation = Computation::new(specs);
        let mut columns = Columns::default();
        let mut best = f64::INFINITY;
        for _ in 0..RUNS {
            let start = Instant::now();
            for view in &views {
                computation.reset();
                if let Err(e) = computation.extend_into(view, &mut columns) {
                    eprintln!("engine_steps: {e}");
                    return ExitCode::FAILURE;
                }
                black_box(&columns);
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        let bars = (SYMBOLS * BARS) as f64;
        println!("| `{name}` | {:.1} | {:.1} |", best * 1e3, best * 1e9 / bars);
    }
    ExitCode::SUCCESS
}
