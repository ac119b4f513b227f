//! [`MetricsSnapshot`]: the values of many series at one moment, read back from the exposition
//! text or built from supplied values, and [`Selector`]s that pick series out of it.

use std::fmt;

/// One series' value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (a histogram's `_bucket`, `_sum` and `_count` are series of their own).
    pub name: String,
    /// Its labels, in exposition order.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Sample {
    /// `name{a="x",b="y"}` (without the value), for alert messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, (key, value)) in self.labels.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{key}={value:?}")?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// How a [`Selector`] matches one label. A series without the label has it as `""`, as in PromQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelMatch {
    /// Equal to.
    Equal(String),
    /// Not equal to.
    NotEqual(String),
    /// Equal to one of.
    OneOf(Vec<String>),
    /// Equal to none of.
    NoneOf(Vec<String>),
    /// Starting with (`status` starting with `5`).
    Prefix(String),
}

impl LabelMatch {
    fn matches(&self, value: &str) -> bool {
        match self {
            LabelMatch::Equal(v) => value == v,
            LabelMatch::NotEqual(v) => value != v,
            LabelMatch::OneOf(vs) => vs.iter().any(|v| v == value),
            LabelMatch::NoneOf(vs) => vs.iter().all(|v| v != value),
            LabelMatch::Prefix(p) => value.starts_with(p.as_str()),
        }
    }
}

/// A series name and label matchers, like a PromQL selector (`name{status=~"5.."}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    name: String,
    matchers: Vec<(String, LabelMatch)>,
}

impl Selector {
    /// Every series called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Selector {
            name: name.into(),
            matchers: Vec::new(),
        }
    }

    /// Adds a matcher on `label`.
    pub fn with(mut self, label: impl Into<String>, matcher: LabelMatch) -> Self {
        self.matchers.push((label.into(), matcher));
        self
    }

    /// Only series whose `label` equals `value`.
    pub fn eq(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.with(label, LabelMatch::Equal(value.into()))
    }

    /// The series name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `sample` is selected.
    pub fn matches(&self, sample: &Sample) -> bool {
        sample.name == self.name
            && self
                .matchers
                .iter()
                .all(|(label, matcher)| matcher.matches(sample.label(label).unwrap_or("")))
    }
}

/// The values of many series at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    samples: Vec<Sample>,
    skipped: usize,
}

impl MetricsSnapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        MetricsSnapshot::default()
    }

    /// Adds a sample.
    pub fn push(&mut self, name: impl Into<String>, labels: &[(&str, &str)], value: f64) {
        self.samples.push(Sample {
            name: name.into(),
            labels: labels.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
            value,
        });
    }

    /// Adds a sample (builder style).
    pub fn with(mut self, name: impl Into<String>, labels: &[(&str, &str)], value: f64) -> Self {
        self.push(name, labels, value);
        self
    }

    /// Every sample.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Lines of the parsed text that were neither comments, blank nor samples.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The samples `selector` picks.
    pub fn select<'a>(&'a self, selector: &'a Selector) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |sample| selector.matches(sample))
    }

    /// The sum of the selected series, `None` when none is selected.
    pub fn sum(&self, selector: &Selector) -> Option<f64> {
        self.select(selector).map(|s| s.value).reduce(|a, b| a + b)
    }

    /// The value of the one series called `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name && s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.label(k) == Some(v))
            })
            .map(|s| s.value)
    }

    /// Reads the Prometheus text exposition format (what [`Metrics::render`](crate::Metrics::render)
    /// writes). Comments and blank lines are ignored; lines that do not parse are counted in
    /// [`skipped`](Self::skipped), never an error.
    pub fn parse(text: &str) -> Self {
        let mut snapshot = MetricsSnapshot::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some(sample) => snapshot.samples.push(sample),
                None => snapshot.skipped += 1,
            }
        }
        snapshot
    }
}

/// `name{label="value",…} value [timestamp]`.
fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    if name_end == 0 {
        return None;
    }
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = parse_value(fields.next()?)?;
    // An optional timestamp, then nothing.
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().ok()?;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` and returns what follows the `}`.
fn parse_labels<'a>(mut rest: &'a str, labels: &mut Vec<(String, String)>) -> Option<&'a str> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Some(after);
        }
        let key_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        if key_end == 0 {
            return None;
        }
        let key = &rest[..key_end];
        rest = rest[key_end..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start()
            .strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                },
                c => value.push(c),
            }
        };
        labels.push((key.to_owned(), value));
        rest = rest[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_the_exposition_format() {
        let text = r#"
# HELP finstage_x_total Things.
# TYPE finstage_x_total counter
finstage_x_total{route="/v1/quotes/{symbol}",status="200"} 12
finstage_x_total{route="/v1/odd",status="500"} 3 1700000000000
finstage_y 1.5e3
finstage_z{a="quote \" back \\ slash \n line",b="x,}y"} -Inf
finstage_h_bucket{le="+Inf"} 7
not a sample
finstage_bad{a="unterminated} 1
"#;
        let snapshot = MetricsSnapshot::parse(text);
        assert_eq!(snapshot.skipped(), 2);
        assert_eq!(snapshot.samples().len(), 5);
        assert_eq!(
            snapshot.get(
                "finstage_x_total",
                &[("route", "/v1/quotes/{symbol}"), ("status", "200")]
            ),
            Some(12.0)
        );
        assert_eq!(snapshot.get("finstage_y", &[]), Some(1500.0));
        assert_eq!(
            snapshot.get("finstage_z", &[("a", "quote \" back \\ slash \n line"), ("b", "x,}y")]),
            Some(f64::NEG_INFINITY)
        );
        assert_eq!(snapshot.get("finstage_h_bucket", &[("le", "+Inf")]), Some(7.0));
        let all = Selector::new("finstage_x_total");
        assert_eq!(snapshot.sum(&all), Some(15.0));
        let errors = Selector::new("finstage_x_total").with("status", LabelMatch::Prefix("5".into()));
        assert_eq!(snapshot.sum(&errors), Some(3.0));
        let not_ok = Selector::new("finstage_x_total").with("status", LabelMatch::NoneOf(vec!["200".into()]));
        assert_eq!(snapshot.sum(&not_ok), Some(3.0));
        assert_eq!(
            snapshot.sum(&Selector::new("finstage_x_total").eq("status", "404")),
            None
        );
        // A label the series lacks reads as "".
        assert_eq!(
            snapshot.sum(&Selector::new("finstage_y").eq("status", "")),
            Some(1500.0)
        );
        assert_eq!(
            snapshot.samples()[0].to_string(),
            r#"finstage_x_total{route="/v1/quotes/{symbol}",status="200"}"#
        );
    }

    proptest! {
        /// Whatever label values the application records, the rendered text reads back to the
        /// same values (the exporter's backslash handling is its own: values without one
        /// round-trip exactly), and nothing panics.
        #[test]
        fn rendered_label_values_read_back(
            value in "[^\\\\]{0,24}",
            other in ".{0,24}",
            count in 0u64..1_000_000,
        ) {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::with_local_recorder(&recorder, || {
                metrics::counter!("finstage_prop_total", "v" => value.clone()).absolute(count);
                metrics::gauge!("finstage_prop_gauge", "v" => other.clone()).set(1.0);
            });
            let snapshot = MetricsSnapshot::parse(&handle.render());
            prop_assert_eq!(snapshot.skipped(), 0);
            prop_assert_eq!(snapshot.get("finstage_prop_total", &[("v", value.as_str())]), Some(count as f64));
            prop_assert_eq!(snapshot.sum(&Selector::new("finstage_prop_gauge")), Some(1.0));
        }

        #[test]
        fn parsing_garbage_never_panics(text in "\\PC{0,200}") {
            let _ = MetricsSnapshot::parse(&text);
        }
    }
}
