//! Where alert rules read values from: the [`MetricSource`] trait and its implementations.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use super::snapshot::MetricsSnapshot;
use crate::recorder::Metrics;

/// Gives the current values of the series alert rules look at.
pub trait MetricSource: Send + Sync {
    /// The values now. Called once per evaluation, for all rules.
    fn snapshot(&self) -> MetricsSnapshot;
}

/// The installed recorder: renders the exposition and reads it back (every series of the
/// process, as Prometheus would scrape it; about a millisecond for a thousand series).
impl MetricSource for Metrics {
    fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot::parse(&self.render())
    }
}

/// Any closure returning a snapshot.
impl<F> MetricSource for F
where
    F: Fn() -> MetricsSnapshot + Send + Sync,
{
    fn snapshot(&self) -> MetricsSnapshot {
        self()
    }
}

type SeriesKey = (String, Vec<(String, String)>);

/// Values set by hand (components that keep their own figures, and tests). Clones share the
/// values.
#[derive(Clone, Default)]
pub struct SharedValues {
    values: Arc<Mutex<BTreeMap<SeriesKey, f64>>>,
}

impl fmt::Debug for SharedValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("SharedValues").field("series", &values.len()).finish()
    }
}

impl SharedValues {
    /// No values.
    pub fn new() -> Self {
        SharedValues::default()
    }

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        let mut labels: Vec<(String, String)> = labels.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect();
        labels.sort();
        (name.to_owned(), labels)
    }

    /// Sets a series (a gauge).
    pub fn set(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.insert(Self::key(name, labels), value);
    }

    /// Adds to a series (a counter), starting from zero.
    pub fn add(&self, name: &str, labels: &[(&str, &str)], delta: f64) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        *values.entry(Self::key(name, labels)).or_insert(0.0) += delta;
    }

    /// Removes a series.
    pub fn remove(&self, name: &str, labels: &[(&str, &str)]) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.remove(&Self::key(name, labels));
    }
}

impl MetricSource for SharedValues {
    fn snapshot(&self) -> MetricsSnapshot {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let mut snapshot = MetricsSnapshot::new();
        for ((name, labels), value) in values.iter() {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            snapshot.push(name.as_str(), &labels, *value);
        }
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_and_closures_are_sources() {
        let values = SharedValues::new();
        values.set("g", &[("b", "2"), ("a", "1")], 5.0);
        values.add("c_total", &[], 2.0);
        values.add("c_total", &[], 3.0);
        let snapshot = values.clone().snapshot();
        assert_eq!(snapshot.get("g", &[("a", "1"), ("b", "2")]), Some(5.0));
        assert_eq!(snapshot.get("c_total", &[]), Some(5.0));
        values.remove("g", &[("a", "1"), ("b", "2")]);
        assert_eq!(values.snapshot().samples().len(), 1);
        let closure = || MetricsSnapshot::new().with("x", &[], 1.0);
        assert_eq!(closure.snapshot().get("x", &[]), Some(1.0));
    }
}
