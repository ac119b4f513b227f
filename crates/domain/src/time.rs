//! [`BarTime`], when a bar starts, and the RFC 3339 text form used for every timestamp.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;
use crate::error::echo;

/// When a bar starts.
///
/// - [`Date`](Self::Date) for daily and longer bars: the exchange's trading date, with no time
///   zone (Apple's bar for 2 January 2020 is `2020-01-02` whatever zone the reader is in).
/// - [`Timestamp`](Self::Timestamp) for intraday bars: the instant the bar opens, in UTC.
///
/// Text form (`Display`, `FromStr`, serde): `"2020-01-02"` for a date; RFC 3339 in UTC with `Z`
/// for a timestamp (`"2020-01-02T14:30:00Z"`, with 3, 6 or 9 fractional digits only when the
/// instant has them). Parsing tries a strict `YYYY-MM-DD` date first, then RFC 3339 with any
/// offset, converted to UTC. Years 0000 to 9999 round-trip.
///
/// Ordering places a date at its midnight UTC; a date and a timestamp at that same instant are
/// different values, and the date sorts first.
///
/// ```
/// use chrono::NaiveDate;
/// use finstage_domain::BarTime;
///
/// let day: BarTime = "2020-01-02".parse()?;
/// assert_eq!(day, BarTime::from(NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()));
/// assert_eq!(day.unix_seconds(), 1_577_923_200);
/// let open: BarTime = "2020-01-02T09:30:00-05:00".parse()?;
/// assert_eq!(open.to_string(), "2020-01-02T14:30:00Z");
/// assert!(day < open);
/// # Ok::<(), finstage_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarTime {
    /// The trading date of a daily, weekly or monthly bar.
    Date(NaiveDate),
    /// The opening instant of an intraday bar.
    Timestamp(DateTime<Utc>),
}

impl BarTime {
    /// The instant the bar starts: the timestamp itself, or the date's midnight UTC.
    pub fn to_utc(self) -> DateTime<Utc> {
        match self {
            Self::Date(date) => date.and_time(NaiveTime::MIN).and_utc(),
            Self::Timestamp(ts) => ts,
        }
    }

    /// Seconds since the Unix epoch of [`to_utc`](Self::to_utc) (a date counts from its
    /// midnight UTC).
    pub fn unix_seconds(self) -> i64 {
        self.to_utc().timestamp()
    }

    /// `true` for [`BarTime::Date`].
    pub const fn is_date(self) -> bool {
        matches!(self, Self::Date(_))
    }
}

impl From<NaiveDate> for BarTime {
    fn from(date: NaiveDate) -> Self {
        Self::Date(date)
    }
}

impl From<DateTime<Utc>> for BarTime {
    fn from(ts: DateTime<Utc>) -> Self {
        Self::Timestamp(ts)
    }
}

impl PartialOrd for BarTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BarTime {
    fn cmp(&self, other: &Self) -> Ordering {
        // Tie-break on the variant so that `Ord` agrees with `Eq`.
        (self.to_utc(), !self.is_date()).cmp(&(other.to_utc(), !other.is_date()))
    }
}

impl fmt::Display for BarTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Self::Timestamp(ts) => f.write_str(&format_rfc3339(ts)),
        }
    }
}

impl FromStr for BarTime {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_date_shaped(s) {
            if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(Self::Date(date));
            }
        } else if let Some(ts) = parse_rfc3339(s) {
            return Ok(Self::Timestamp(ts));
        }
        Err(DomainError::InvalidBarTime { input: echo(s) })
    }
}

impl Serialize for BarTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BarTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize(
            deserializer,
            "a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            BarTime::from_str,
        )
    }
}

/// Exactly `DDDD-DD-DD` (ASCII digits), so that chrono's lenient `%Y`/`%m`/`%d` cannot accept
/// `2020-1-2` or a signed year.
fn is_date_shaped(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// RFC 3339 in UTC with `Z`, and fractional seconds only when there are some.
pub(crate) fn format_rfc3339(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// RFC 3339 with any offset, converted to UTC.
pub(crate) fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|ts| ts.with_timezone(&Utc))
}

/// `#[serde(with = "rfc3339")]` for a `DateTime<Utc>`: RFC 3339 with `Z` out, any offset in.
pub(crate) mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serializer};

    use crate::error::echo;

    pub(crate) fn serialize<S: Serializer>(ts: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_rfc3339(ts))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        crate::serde_str::deserialize(deserializer, "an RFC 3339 timestamp", |s| {
            super::parse_rfc3339(s).ok_or_else(|| format!("invalid timestamp \"{}\": expected RFC 3339", echo(s)))
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn text_form() {
        assert_eq!(BarTime::from(date(2020, 1, 2)).to_string(), "2020-01-02");
        assert_eq!(BarTime::from(date(987, 12, 31)).to_string(), "0987-12-31");
        let ts = Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap();
        assert_eq!(BarTime::from(ts).to_string(), "2020-01-02T14:30:00Z");
        let ms = ts + chrono::TimeDelta::milliseconds(250);
        assert_eq!(BarTime::from(ms).to_string(), "2020-01-02T14:30:00.250Z");
    }

    #[test]
    fn parses_dates_then_rfc3339() {
        assert_eq!(
            "2020-01-02".parse::<BarTime>().unwrap(),
            BarTime::Date(date(2020, 1, 2))
        );
        let expected = BarTime::Timestamp(Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap());
        for s in [
            "2020-01-02T14:30:00Z",
            "2020-01-02T14:30:00+00:00",
            "2020-01-02T09:30:00-05:00",
            "2020-01-02T23:30:00+09:00",
        ] {
            assert_eq!(s.parse::<BarTime>().unwrap(), expected, "{s}");
        }
    }

    #[test]
    fn rejects_other_text() {
        for s in [
            "",
            "2020-1-2",
            "2020-02-30",
            "20200102",
            "+020-01-02",
            " 2020-01-02",
            "2020-01-02 ",
            "2020-01-02T14:30:00",
            "1577975400",
            "yesterday",
        ] {
            assert_eq!(
                s.parse::<BarTime>(),
                Err(DomainError::InvalidBarTime { input: echo(s) }),
                "{s:?}"
            );
        }
    }

    #[test]
    fn orders_dates_at_midnight_utc() {
        let day = BarTime::from(date(2020, 1, 2));
        let midnight = BarTime::from(Utc.with_ymd_and_hms(2020, 1, 2, 0, 0, 0).unwrap());
        let before = BarTime::from(Utc.with_ymd_and_hms(2020, 1, 1, 23, 59, 59).unwrap());
        let after = BarTime::from(Utc.with_ymd_and_hms(2020, 1, 2, 0, 0, 1).unwrap());
        assert!(before < day && day < after);
        assert_ne!(day, midnight);
        assert!(day < midnight, "same instant: the date sorts first");
        assert_eq!(day.unix_seconds(), midnight.unix_seconds());
        assert_eq!(day.unix_seconds(), 1_577_923_200);
        assert_eq!(day.to_utc(), midnight.to_utc());
        assert!(day.is_date() && !midnight.is_date());
        assert!(BarTime::from(date(2020, 1, 1)) < BarTime::from(date(2020, 1, 2)));
    }
}
