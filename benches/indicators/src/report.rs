//! The Markdown summary of a benchmark run, read from criterion's
//! `<criterion dir>/<group>/<function>/new/estimates.json` files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use finstage_indicators::IndicatorSpec;

use crate::{CASES, LIBRARIES, SIZES, all, group_name};

/// Why the report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// An estimates file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An estimates file is not criterion's JSON.
    #[error("{path} is not criterion's estimates.json: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Where the estimates are, and which count.
#[derive(Clone, Debug)]
pub struct Options {
    /// Criterion's output directory, usually `target/criterion`.
    pub criterion_dir: PathBuf,
    /// Ignore estimates written before this time (left over from an earlier run), so that a
    /// library skipped in this run shows `n/a` rather than an old figure.
    pub since: Option<SystemTime>,
}

/// The time of one iteration of `group`/`function` in nanoseconds: criterion's slope estimate
/// when it has one (linear sampling), its mean otherwise (flat sampling). `None` when the
/// benchmark did not run, or ran before `options.since`.
///
/// # Errors
/// When the file exists but cannot be read or parsed.
pub fn estimate_ns(options: &Options, group: &str, function: &str) -> Result<Option<f64>, ReportError> {
    let path = options
        .criterion_dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let io = |source| ReportError::Io {
        path: path.clone(),
        source,
    };
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if let Some(since) = options.since
        && metadata.modified().map_err(io)? < since
    {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ReportError::Format {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    let point = |name: &str| json.get(name)?.get("point_estimate")?.as_f64();
    match point("slope").or_else(|| point("mean")) {
        Some(ns) => Ok(Some(ns)),
        None => Err(ReportError::Format {
            path,
            problem: "no slope or mean point_estimate".into(),
        }),
    }
}

/// The report: the `compare` table in ns per point, then the all-indicators figures.
///
/// # Errors
/// As [`estimate_ns`].
pub fn render(options: &Options) -> Result<String, ReportError> {
    let mut out = String::new();
    out.push_str(&compare_table(options)?);
    out.push('\n');
    out.push_str(&all_indicators_table(options)?);
    Ok(out)
}

fn compare_table(options: &Options) -> Result<String, ReportError> {
    let mut out = String::from("### One indicator, ns per point (lower is better)\n\n| Indicator | Bars |");
    for (_, title) in LIBRARIES {
        let _ = write!(out, " {title} |");
    }
    out.push_str(" finstage / TA-Lib | stream / batch |\n|---|---:|");
    out.push_str(&"---:|".repeat(LIBRARIES.len() + 2));
    out.push('\n');
    for case in &CASES {
        for bars in SIZES {
            let group = group_name(case, bars);
            let mut per_point = Vec::with_capacity(LIBRARIES.len());
            for (function, _) in LIBRARIES {
                per_point.push(estimate_ns(options, &group, function)?.map(|ns| ns / bars as f64));
            }
            let find = |id: &str| LIBRARIES.iter().position(|(f, _)| *f == id).and_then(|i| per_point[i]);
            let (batch, stream, talib) = (find("finstage"), find("finstage_stream"), find("talib"));
            let _ = write!(out, "| {} | {} |", case.label, thousands(bars));
            for value in &per_point {
                let _ = write!(out, " {} |", number(*value));
            }
            let _ = writeln!(out, " {} | {} |", ratio(batch, talib), ratio(stream, batch));
        }
    }
    Ok(out)
}

fn all_indicators_table(options: &Options) -> Result<String, ReportError> {
    let specs = IndicatorSpec::all_defaults();
    let columns: usize = specs.iter().map(|s| s.column_names().len()).sum();
    let bars = all::SYMBOLS * all::BARS;
    let mut out = format!(
        "### Every default indicator ({} indicators, {columns} columns), {} symbols × {} bars, one thread\n\n\
         | Path | ms per iteration | ns per bar | ns per bar and column |\n|---|---:|---:|---:|\n",
        specs.len(),
        all::SYMBOLS,
        thousands(all::BARS),
    );
    for (function, label) in all::FUNCTIONS {
        let ns = estimate_ns(options, all::GROUP, function)?;
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            number(ns.map(|ns| ns / 1e6)),
            number(ns.map(|ns| ns / bars as f64)),
            number(ns.map(|ns| ns / (bars * columns) as f64)),
        );
    }
    Ok(out)
}

/// A figure with three significant digits at least, or `n/a`.
fn number(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "n/a".into(),
    }
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}", n / d),
        _ => "n/a".into(),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Criterion's directory under a target directory: `$CARGO_TARGET_DIR/criterion`, or
/// `target/criterion` below `workspace` when the variable is unset.
pub fn default_criterion_dir(workspace: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("criterion"),
        _ => workspace.join("target").join("criterion"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("finstage-bench-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn write_estimate(dir: &Path, group: &str, function: &str, json: &str) {
        let path = dir.join(group).join(function).join("new");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("estimates.json"), json).unwrap();
    }

    fn estimate(slope: Option<f64>, mean: f64) -> String {
        let slope = slope.map_or("null".to_string(), |s| format!(r#"{{"point_estimate":{s}}}"#));
        format!(r#"{{"mean":{{"point_estimate":{mean}}},"slope":{slope}}}"#)
    }

    #[test]
    fn slope_then_mean_then_nothing() {
        let dir = scratch_dir("estimates");
        write_estimate(&dir, "g", "linear", &estimate(Some(2.0), 3.0));
        write_estimate(&dir, "g", "flat", &estimate(None, 3.0));
        write_estimate(&dir, "g", "broken", "{}");
        let options = Options {
            criterion_dir: dir.clone(),
            since: None,
        };
        assert_eq!(estimate_ns(&options, "g", "linear").unwrap(), Some(2.0));
        assert_eq!(estimate_ns(&options, "g", "flat").unwrap(), Some(3.0));
        assert_eq!(estimate_ns(&options, "g", "absent").unwrap(), None);
        assert!(matches!(
            estimate_ns(&options, "g", "broken"),
            Err(ReportError::Format { .. })
        ));
        let later = Options {
            criterion_dir: dir.clone(),
            since: Some(SystemTime::now() + std::time::Duration::from_secs(60)),
        };
        assert_eq!(estimate_ns(&later, "g", "linear").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_table_shows_ratios_and_gaps() {
        let dir = scratch_dir("table");
        let sma = group_name(&CASES[0], 2_520);
        write_estimate(&dir, &sma, "finstage", &estimate(Some(2_520.0 * 2.0), 0.0));
        write_estimate(&dir, &sma, "finstage_stream", &estimate(Some(2_520.0 * 3.0), 0.0));
        write_estimate(&dir, &sma, "talib", &estimate(Some(2_520.0 * 2.5), 0.0));
        write_estimate(&dir, all::GROUP, all::COMPUTE, &estimate(None, 50e6));
        let report = render(&Options {
            criterion_dir: dir.clone(),
            since: None,
        })
        .unwrap();
        assert!(
            report.contains("| SMA(20) | 2,520 | 2.00 | 3.00 | 2.50 | n/a | n/a | n/a | 0.80 | 1.50 |"),
            "{report}"
        );
        assert!(report.contains("| SMA(20) | 1,000,000 | n/a |"), "{report}");
        assert!(
            report.contains("| batch: `compute` per symbol | 50.0 | 39.7 |"),
            "{report}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(2_520), "2,520");
        assert_eq!(thousands(500), "500");
        assert_eq!(number(Some(1.234)), "1.23");
        assert_eq!(number(Some(12.34)), "12.3");
        assert_eq!(number(Some(1234.5)), "1234");
        assert_eq!(ratio(Some(1.0), None), "n/a");
    }
}
