//! [`Interval`]: the span of one bar, named as Yahoo's chart API names it.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;
use crate::error::echo;

/// The span of one bar.
///
/// Text form (`Display`, `FromStr`, serde) uses Yahoo's names: `1m`, `5m`, `15m`, `1h`, `1d`,
/// `1wk`, `1mo`. Parsing also accepts Yahoo's alias `60m` for `1h`, and is case-sensitive:
/// `1M` is an error, not a month.
///
/// Variants are ordered from shortest to longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// One minute (`1m`).
    M1,
    /// Five minutes (`5m`).
    M5,
    /// Fifteen minutes (`15m`).
    M15,
    /// One hour (`1h`; `60m` is accepted when parsing).
    H1,
    /// One trading day (`1d`).
    D1,
    /// One week (`1wk`).
    W1,
    /// One calendar month (`1mo`).
    Mo1,
}

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: &'static [Interval] = &[Self::M1, Self::M5, Self::M15, Self::H1, Self::D1, Self::W1, Self::Mo1];

    /// Yahoo's name for the interval (`1m`, `5m`, `15m`, `1h`, `1d`, `1wk`, `1mo`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
            Self::D1 => "1d",
            Self::W1 => "1wk",
            Self::Mo1 => "1mo",
        }
    }

    /// `true` for intervals shorter than a day, whose bars carry a
    /// [`BarTime::Timestamp`](crate::BarTime::Timestamp); daily and longer bars carry a
    /// [`BarTime::Date`](crate::BarTime::Date).
    pub const fn is_intraday(self) -> bool {
        matches!(self, Self::M1 | Self::M5 | Self::M15 | Self::H1)
    }

    /// The interval's length, or `None` for `1mo`, whose months differ in length.
    ///
    /// `1d` is 24 hours and `1wk` is 7 days of calendar time, not trading time.
    pub const fn fixed_duration(self) -> Option<TimeDelta> {
        match self {
            Self::M1 => Some(TimeDelta::minutes(1)),
            Self::M5 => Some(TimeDelta::minutes(5)),
            Self::M15 => Some(TimeDelta::minutes(15)),
            Self::H1 => Some(TimeDelta::hours(1)),
            Self::D1 => Some(TimeDelta::days(1)),
            Self::W1 => Some(TimeDelta::weeks(1)),
            Self::Mo1 => None,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1m" => Ok(Self::M1),
            "5m" => Ok(Self::M5),
            "15m" => Ok(Self::M15),
            "1h" | "60m" => Ok(Self::H1),
            "1d" => Ok(Self::D1),
            "1wk" => Ok(Self::W1),
            "1mo" => Ok(Self::Mo1),
            _ => Err(DomainError::UnknownInterval { input: echo(s) }),
        }
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize(
            deserializer,
            "one of 1m, 5m, 15m, 1h, 60m, 1d, 1wk, 1mo",
            Interval::from_str,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let names: Vec<String> = Interval::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["1m", "5m", "15m", "1h", "1d", "1wk", "1mo"]);
        for &i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>().unwrap(), i);
        }
    }

    #[test]
    fn sixty_minutes_is_one_hour() {
        let i: Interval = "60m".parse().unwrap();
        assert_eq!(i, Interval::H1);
        assert_eq!(i.to_string(), "1h");
    }

    #[test]
    fn parsing_is_case_sensitive_and_strict() {
        for bad in [
            "1M", "1H", "1D", "1Wk", "1MO", "1w", "1mon", "", " 1d", "1d ", "2m", "30m",
        ] {
            assert_eq!(
                bad.parse::<Interval>(),
                Err(DomainError::UnknownInterval { input: echo(bad) }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn intraday_and_durations() {
        let intraday: Vec<Interval> = Interval::ALL.iter().copied().filter(|i| i.is_intraday()).collect();
        assert_eq!(intraday, [Interval::M1, Interval::M5, Interval::M15, Interval::H1]);
        assert_eq!(Interval::M15.fixed_duration(), Some(TimeDelta::seconds(900)));
        assert_eq!(Interval::H1.fixed_duration(), Some(TimeDelta::seconds(3600)));
        assert_eq!(Interval::D1.fixed_duration(), Some(TimeDelta::seconds(86_400)));
        assert_eq!(Interval::W1.fixed_duration(), Some(TimeDelta::days(7)));
        assert_eq!(Interval::Mo1.fixed_duration(), None);
        // Shortest first, and the order agrees with the durations.
        let mut sorted = Interval::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Interval::ALL);
        let durations: Vec<TimeDelta> = Interval::ALL.iter().filter_map(|i| i.fixed_duration()).collect();
        assert!(durations.windows(2).all(|w| w[0] < w[1]));
    }
}
