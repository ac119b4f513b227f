//! Durations in the configuration: [`finstage_analysis::duration`]'s `"90s"`, `"3m"`, `"6h"`,
//! `"1d"`, `"2w"` (or a whole number of seconds), plus milliseconds (`"200ms"`) for the short
//! timeouts of the store, the cache and the retry loops.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Parses `"<n>ms"` or anything [`finstage_analysis::duration::parse`] reads.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(digits) = text.strip_suffix("ms") {
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return digits.parse().ok().map(Duration::from_millis);
    }
    finstage_analysis::duration::parse(text)
}

/// The shortest text [`parse`] reads back as `duration` (whole milliseconds): `"200ms"`,
/// `"5s"`, `"30m"`.
pub fn format(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        finstage_analysis::duration::format(duration)
    } else {
        format!("{}ms", duration.as_millis())
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"500ms\", \"90s\", \"3m\", \"6h\", \"1d\" or a number of seconds")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(&crate::config::shorten(v)), &self))
    }
}

/// `#[serde(with = "duration")]` for a `Duration` field.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// `#[serde(with = "duration")]` for a `Duration` field.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_the_analysis_units() {
        assert_eq!(parse("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("6h"), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse("45"), Some(Duration::from_secs(45)));
        for bad in ["", "ms", "1.5ms", "-1ms", "3x", "9999999999999999ms"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for d in [
            Duration::from_millis(200),
            Duration::from_millis(1500),
            Duration::from_secs(300),
        ] {
            assert_eq!(parse(&format(d)), Some(d));
        }
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_secs(5)), "5s");
    }
}
