//! Helpers shared by the tests.

use finstage_monitoring::alerts::MetricsSnapshot;
use finstage_monitoring::{Metrics, MetricsConfig};

/// The process's recorder (installed by whichever test comes first).
pub(crate) fn metrics() -> Metrics {
    Metrics::install(&MetricsConfig::default()).expect("the recorder installs")
}

/// The current exposition, read back.
pub(crate) fn snapshot() -> MetricsSnapshot {
    MetricsSnapshot::parse(&metrics().render())
}

/// The value of one series, panicking with the exposition when it is missing.
pub(crate) fn value(name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = metrics().render();
    MetricsSnapshot::parse(&text)
        .get(name, labels)
        .unwrap_or_else(|| panic!("no series {name}{labels:?} in:\n{text}"))
}

/// The `# TYPE` of `name` in `text`.
pub(crate) fn type_of<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("# TYPE ")?;
        let (metric, kind) = rest.split_once(' ')?;
        (metric == name).then_some(kind)
    })
}

/// The `le` bounds of a histogram series with `labels` (without `le`), in order, and their
/// cumulative counts.
pub(crate) fn buckets(snapshot: &MetricsSnapshot, name: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
    let bucket = format!("{name}_bucket");
    snapshot
        .samples()
        .iter()
        .filter(|s| {
            s.name == bucket && s.labels.len() == labels.len() + 1 && labels.iter().all(|(k, v)| s.label(k) == Some(v))
        })
        .map(|s| {
            let le = s.label("le").expect("a bucket has `le`");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("a numeric bound")
            };
            (bound, s.value)
        })
        .collect()
}
