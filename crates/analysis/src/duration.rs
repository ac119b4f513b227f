//! Durations in configuration: `"500ms"`, `"90s"`, `"3m"`, `"6h"`, `"1d"`, `"2w"`, or a whole
//! number of seconds; written back as the largest whole unit.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const UNITS: [(&str, u64); 5] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// Parses `"<n><unit>"` (units `ms`, `s`, `m`, `h`, `d`, `w`) or a bare number of seconds.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    if unit == "ms" {
        return Some(Duration::from_millis(n));
    }
    let scale = match unit {
        "" => 1,
        _ => UNITS.iter().find(|(u, _)| *u == unit)?.1,
    };
    n.checked_mul(scale).map(Duration::from_secs)
}

/// The shortest text [`parse`] reads back as `duration` (whole milliseconds): `"200ms"`,
/// `"5s"`, `"3m"`.
pub fn format(duration: Duration) -> String {
    if duration.subsec_nanos() != 0 {
        return format!("{}ms", duration.as_millis());
    }
    let secs = duration.as_secs();
    for (unit, scale) in UNITS {
        if secs > 0 && secs.is_multiple_of(scale) {
            return format!("{}{unit}", secs / scale);
        }
    }
    "0s".to_owned()
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
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(&crate::error::echo(v)), &self))
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

/// `#[serde(with = "duration::map")]` for a map of durations.
pub mod map {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Text(#[serde(with = "super")] Duration);

    /// Serializes every duration as text.
    pub fn serialize<K: Serialize + Ord, S: Serializer>(
        map: &BTreeMap<K, Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(k, &v)| (k, Text(v))))
    }

    /// Reads every duration as [`super::deserialize`] does.
    pub fn deserialize<'de, K: Deserialize<'de> + Ord, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<K, Duration>, D::Error> {
        let map = BTreeMap::<K, Text>::deserialize(deserializer)?;
        Ok(map.into_iter().map(|(k, Text(v))| (k, v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("3m"), Some(Duration::from_secs(180)));
        assert_eq!(parse("6h"), Some(Duration::from_secs(21_600)));
        assert_eq!(parse("2w"), Some(Duration::from_secs(1_209_600)));
        assert_eq!(parse("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse("200ms"), Some(Duration::from_millis(200)));
        for bad in [
            "",
            "m",
            "ms",
            "3x",
            "-3m",
            "3.5h",
            "1.5ms",
            "3mm",
            "999999999999999w",
            "9999999999999999s",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for secs in [0, 1, 59, 60, 90, 3_600, 86_400, 604_800, 1_209_601] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse(&format(d)), Some(d));
        }
        for millis in [1, 200, 1_500, 59_999] {
            let d = Duration::from_millis(millis);
            assert_eq!(parse(&format(d)), Some(d));
        }
        assert_eq!(format(Duration::from_millis(200)), "200ms");
        assert_eq!(format(Duration::from_secs(180)), "3m");
    }
}
