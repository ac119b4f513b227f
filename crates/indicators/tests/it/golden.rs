//! Every indicator against TA-Lib 0.8 (tools/golden/make_golden.py): the same leading NaNs and
//! every value within 1e-9 relative, or 1e-12 absolute near zero. (Where the exact value of a
//! bounded oscillator is 0, TA-Lib's running sums can leave a residue such as −1.1e-13, outside
//! the range; this crate clamps it to 0.)

use finstage_indicators::{OutputSpec, compute};

use crate::support::{batch, golden_path, load_bars, load_golden, repo_path};

const RELATIVE: f64 = 1e-9;
const ABSOLUTE_FLOOR: f64 = 1e-12;

fn close_enough(ours: f64, theirs: f64) -> bool {
    if theirs.is_nan() || ours.is_nan() {
        return theirs.is_nan() && ours.is_nan();
    }
    (ours - theirs).abs() <= (RELATIVE * ours.abs().max(theirs.abs())).max(ABSOLUTE_FLOOR)
}

fn check(input: &std::path::Path, golden: &str) {
    let (dates, bars) = load_bars(input);
    let (golden_dates, columns) = load_golden(&golden_path(golden));
    assert_eq!(dates, golden_dates, "{golden}: dates differ from the input");
    let view = bars.view();
    let specs: Vec<OutputSpec> = columns.iter().map(|(name, _)| name.parse().unwrap()).collect();
    let computed = compute(&specs, &view).unwrap();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    let mut inexact = Vec::new();
    for ((name, expected), spec) in columns.iter().zip(&specs) {
        assert_eq!(name, &spec.to_string(), "the header is in the canonical spec form");
        let from_compute = computed.get(name).unwrap();
        let index = spec.indicator().column_names().iter().position(|n| n == name).unwrap();
        let from_batch = &batch(spec.indicator(), &view)[index];
        for (path, ours) in [("compute", from_compute), ("batch", from_batch.as_slice())] {
            let leading = |v: &[f64]| v.iter().take_while(|x| x.is_nan()).count();
            if leading(ours) != leading(expected) {
                failures.push(format!(
                    "{name} ({path}): {} leading NaN, TA-Lib {}",
                    leading(ours),
                    leading(expected)
                ));
                continue;
            }
            let mismatches: Vec<usize> = (0..expected.len())
                .filter(|&i| !close_enough(ours[i], expected[i]))
                .collect();
            if let Some(&first) = mismatches.first() {
                failures.push(format!(
                    "{name} ({path}): {} rows differ, first {} ({}): ours {:e}, TA-Lib {:e}",
                    mismatches.len(),
                    first,
                    dates[first],
                    ours[first],
                    expected[first]
                ));
            }
            let differing = ours
                .iter()
                .zip(expected)
                .filter(|(o, e)| o.to_bits() != e.to_bits() && !(o.is_nan() && e.is_nan()))
                .count();
            if path == "batch" && differing > 0 {
                inexact.push(format!("{name} {differing}"));
            }
            for (o, e) in ours.iter().zip(expected) {
                if e.is_finite() && e.abs() > 1e-3 {
                    let relative = ((o - e) / e).abs();
                    if relative > worst.0 {
                        worst = (relative, name.clone());
                    }
                }
            }
        }
    }
    println!(
        "{golden}: {} columns, worst relative difference {:e} ({})",
        columns.len(),
        worst.0,
        worst.1
    );
    println!(
        "{golden}: not bit-identical to TA-Lib (column: values): {}",
        inexact.join(", ")
    );
    assert!(
        failures.is_empty(),
        "{golden}: {} columns differ from TA-Lib:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn aapl_matches_ta_lib_on_the_full_parameter_grid() {
    check(&repo_path("data/seed/AAPL.csv"), "AAPL.csv");
}

#[test]
fn msft_matches_ta_lib() {
    check(&repo_path("data/seed/MSFT.csv"), "MSFT.csv");
}

#[test]
fn ibm_matches_ta_lib() {
    check(&repo_path("data/seed/IBM.csv"), "IBM.csv");
}

#[test]
fn synthetic_edge_cases_match_ta_lib() {
    check(&golden_path("synthetic_input.csv"), "synthetic.csv");
}
