//! What became of a signal: the price and return at +1h, +4h, +1d, +1w and +1m, each taken
//! from the first bar at or after the horizon (never the price whenever a tracker happened to
//! run), whether the move matched the signal's direction, and statistics per kind.
//!
//! A bar stands at its start time ([`BarTime::to_utc`](finstage_domain::BarTime::to_utc): a
//! daily bar at its date's midnight UTC) with its close as its price. So a daily signal (at its
//! bar's date) is measured at +1d by the next session's close, and its +1h and +4h by the first
//! bar after it: the next session's close on daily data, the hour's bar on intraday data.

use chrono::{DateTime, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::signal::{Direction, SignalKind};

/// How long after a signal its outcome is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Horizon {
    /// One hour.
    #[serde(rename = "1h")]
    H1,
    /// Four hours.
    #[serde(rename = "4h")]
    H4,
    /// One day.
    #[serde(rename = "1d")]
    D1,
    /// One week (seven days).
    #[serde(rename = "1w")]
    W1,
    /// One calendar month (the same day of the next month, or its last day).
    #[serde(rename = "1m")]
    M1,
}

impl Horizon {
    /// Every horizon, shortest first.
    pub const ALL: [Horizon; 5] = [Self::H1, Self::H4, Self::D1, Self::W1, Self::M1];

    /// `1h`, `4h`, `1d`, `1w` or `1m`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
            Self::W1 => "1w",
            Self::M1 => "1m",
        }
    }

    /// The position in [`Horizon::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The instant this horizon after `from` (saturating at the end of time).
    pub fn after(self, from: DateTime<Utc>) -> DateTime<Utc> {
        let later = match self {
            Self::H1 => from.checked_add_signed(TimeDelta::hours(1)),
            Self::H4 => from.checked_add_signed(TimeDelta::hours(4)),
            Self::D1 => from.checked_add_signed(TimeDelta::days(1)),
            Self::W1 => from.checked_add_signed(TimeDelta::days(7)),
            Self::M1 => from.checked_add_months(Months::new(1)),
        };
        later.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// One price at one instant: a bar's close at its start time, or a quote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PricePoint {
    /// The instant.
    pub time: DateTime<Utc>,
    /// The price.
    pub price: f64,
}

/// The outcome at one horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonOutcome {
    /// The price of the first bar at or after the horizon.
    pub price: f64,
    /// `price / signal price − 1`.
    pub ret: f64,
    /// Whether the move matched the direction (a rise for bullish, a fall for bearish);
    /// `None` for neutral signals. An unchanged price is not a success.
    pub success: Option<bool>,
}

/// What became of one signal: each horizon once measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Per horizon, in the order of [`Horizon::ALL`].
    pub horizons: [Option<HorizonOutcome>; 5],
}

impl Outcome {
    /// The outcome at `horizon`, once measured.
    pub fn at(&self, horizon: Horizon) -> Option<&HorizonOutcome> {
        self.horizons[horizon.index()].as_ref()
    }

    /// Whether every horizon is measured.
    pub fn is_complete(&self) -> bool {
        self.horizons.iter().all(Option::is_some)
    }
}

/// The outcome of a signal at `time` and `price` pointing `direction`, from `points` (in time
/// order): each horizon from the first point at or after it, the horizons with no such point
/// yet left `None`. Horizons already measured in `known` are kept as they are, so a tracker
/// that runs again never rewrites them.
///
/// `points` not in time order give unspecified (but never panicking) results; a point with a
/// price that is not finite and positive is skipped.
pub fn track(time: DateTime<Utc>, price: f64, direction: Direction, known: &Outcome, points: &[PricePoint]) -> Outcome {
    let mut outcome = *known;
    for horizon in Horizon::ALL {
        let slot = &mut outcome.horizons[horizon.index()];
        if slot.is_some() {
            continue;
        }
        let due = horizon.after(time);
        let first = points.partition_point(|p| p.time < due);
        let Some(point) = points[first..].iter().find(|p| p.price.is_finite() && p.price > 0.0) else {
            continue;
        };
        let ret = point.price / price - 1.0;
        let success = match direction {
            Direction::Bullish => Some(ret > 0.0),
            Direction::Bearish => Some(ret < 0.0),
            Direction::Neutral => None,
        };
        *slot = Some(HorizonOutcome {
            price: point.price,
            ret,
            success,
        });
    }
    outcome
}

/// Statistics of one horizon over many signals of a kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HorizonStats {
    /// Signals measured at this horizon.
    pub measured: u64,
    /// Of those with a direction, how many succeeded.
    pub wins: u64,
    /// `wins / directional measured`; `None` when none was directional.
    pub win_rate: Option<f64>,
    /// The mean return; `None` when none was measured.
    pub mean_return: Option<f64>,
    /// The median return (the mean of the two middle ones for an even count); `None` when
    /// none was measured.
    pub median_return: Option<f64>,
}

/// Statistics of one signal kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// The kind.
    pub kind: SignalKind,
    /// Its signals.
    pub count: u64,
    /// Per horizon, in the order of [`Horizon::ALL`].
    pub horizons: [HorizonStats; 5],
}

impl KindStats {
    /// The statistics at `horizon`.
    pub fn at(&self, horizon: Horizon) -> &HorizonStats {
        &self.horizons[horizon.index()]
    }
}

/// Statistics per kind over `(kind, outcome)` of many signals, sorted by kind. Win rates count
/// the directional outcomes only (neutral signals have no success).
pub fn stats<'a, I>(outcomes: I) -> Vec<KindStats>
where
    I: IntoIterator<Item = (SignalKind, &'a Outcome)>,
{
    use std::collections::BTreeMap;
    struct Acc {
        count: u64,
        returns: [Vec<f64>; 5],
        directional: [u64; 5],
        wins: [u64; 5],
    }
    let mut by_kind: BTreeMap<SignalKind, Acc> = BTreeMap::new();
    for (kind, outcome) in outcomes {
        let acc = by_kind.entry(kind).or_insert_with(|| Acc {
            count: 0,
            returns: Default::default(),
            directional: [0; 5],
            wins: [0; 5],
        });
        acc.count += 1;
        for (i, h) in outcome.horizons.iter().enumerate() {
            let Some(h) = h else { continue };
            if !h.ret.is_finite() {
                continue;
            }
            acc.returns[i].push(h.ret);
            if let Some(success) = h.success {
                acc.directional[i] += 1;
                acc.wins[i] += u64::from(success);
            }
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, mut acc)| {
            let mut horizons = [HorizonStats::default(); 5];
            for (i, stats) in horizons.iter_mut().enumerate() {
                let returns = &mut acc.returns[i];
                returns.sort_by(f64::total_cmp);
                let n = returns.len();
                #[allow(clippy::cast_precision_loss)] // counts far below 2^53
                let mean = (n > 0).then(|| returns.iter().sum::<f64>() / n as f64);
                let median = match n {
                    0 => None,
                    _ if n % 2 == 1 => Some(returns[n / 2]),
                    _ => Some(f64::midpoint(returns[n / 2 - 1], returns[n / 2])),
                };
                #[allow(clippy::cast_precision_loss)]
                let win_rate = (acc.directional[i] > 0).then(|| acc.wins[i] as f64 / acc.directional[i] as f64);
                *stats = HorizonStats {
                    measured: n as u64,
                    wins: acc.wins[i],
                    win_rate,
                    mean_return: mean,
                    median_return: median,
                };
            }
            KindStats {
                kind,
                count: acc.count,
                horizons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, day, hour, 0, 0).unwrap()
    }

    fn hourly(prices: &[(u32, u32, f64)]) -> Vec<PricePoint> {
        prices
            .iter()
            .map(|&(d, h, price)| PricePoint { time: t(d, h), price })
            .collect()
    }

    #[test]
    fn each_horizon_takes_the_first_point_at_or_after_it() {
        // Signal at Jan 2 10:00 at 100. Points: 10:30 (before +1h), 11:00 (exactly +1h),
        // 15:00 (after +4h: 14:00 has no point), Jan 3 10:00 (+1d), Jan 9 09:00 (before +1w),
        // Jan 9 12:00 (first after +1w), Feb 2 10:00 (+1m).
        let points = hourly(&[
            (2, 10, 100.5),
            (2, 11, 101.0),
            (2, 15, 99.0),
            (3, 10, 103.0),
            (9, 9, 104.0),
            (9, 12, 97.0),
        ]);
        let mut points = points;
        points.push(PricePoint {
            time: Utc.with_ymd_and_hms(2024, 2, 2, 10, 0, 0).unwrap(),
            price: 110.0,
        });
        let o = track(t(2, 10), 100.0, Direction::Bullish, &Outcome::default(), &points);
        let got: Vec<(f64, bool)> = o
            .horizons
            .iter()
            .map(|h| h.map(|h| (h.price, h.success.unwrap())).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (101.0, true),
                (99.0, false),
                (103.0, true),
                (97.0, false),
                (110.0, true)
            ]
        );
        assert!(o.is_complete());
        assert!((o.at(Horizon::D1).unwrap().ret - 0.03).abs() < 1e-12);
    }

    #[test]
    fn unreached_horizons_stay_open_and_known_ones_are_kept() {
        let points = hourly(&[(2, 11, 101.0), (3, 10, 98.0)]);
        let o = track(t(2, 10), 100.0, Direction::Bearish, &Outcome::default(), &points);
        assert_eq!(o.at(Horizon::H1).unwrap().success, Some(false));
        assert_eq!(o.at(Horizon::H4).unwrap().price, 98.0); // the first point after +4h
        assert_eq!(o.at(Horizon::D1).unwrap().success, Some(true));
        assert!(o.at(Horizon::W1).is_none() && o.at(Horizon::M1).is_none() && !o.is_complete());
        // Later data fills the rest; a corrected earlier point does not rewrite what was known.
        let later = hourly(&[(2, 11, 50.0), (3, 10, 98.0), (9, 10, 90.0)]);
        let o2 = track(t(2, 10), 100.0, Direction::Bearish, &o, &later);
        assert_eq!(o2.at(Horizon::H1).unwrap().price, 101.0);
        assert_eq!(o2.at(Horizon::W1).unwrap().price, 90.0);
    }

    #[test]
    fn a_month_is_a_calendar_month() {
        let jan31 = Utc.with_ymd_and_hms(2024, 1, 31, 0, 0, 0).unwrap();
        assert_eq!(
            Horizon::M1.after(jan31),
            Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).unwrap()
        );
        assert_eq!(Horizon::M1.after(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn neutral_signals_have_no_success_and_flat_is_no_win() {
        let points = hourly(&[(2, 11, 100.0)]);
        let neutral = track(t(2, 10), 100.0, Direction::Neutral, &Outcome::default(), &points);
        assert_eq!(neutral.at(Horizon::H1).unwrap().success, None);
        let flat = track(t(2, 10), 100.0, Direction::Bullish, &Outcome::default(), &points);
        assert_eq!(flat.at(Horizon::H1).unwrap().success, Some(false));
    }

    #[test]
    fn stats_count_win_rates_means_and_medians() {
        let one = |ret: f64, success| Outcome {
            horizons: [
                Some(HorizonOutcome {
                    price: 100.0 * (1.0 + ret),
                    ret,
                    success,
                }),
                None,
                None,
                None,
                None,
            ],
        };
        let a = [
            one(0.02, Some(true)),
            one(-0.01, Some(false)),
            one(0.04, Some(true)),
            one(0.01, Some(true)),
        ];
        let b = [one(0.05, None)];
        let rows = stats(
            a.iter()
                .map(|o| (SignalKind::GoldenCross { fast: 50, slow: 200 }, o))
                .chain(b.iter().map(|o| (SignalKind::VolumeDryUp, o))),
        );
        assert_eq!(rows.len(), 2);
        let golden = rows
            .iter()
            .find(|r| r.kind == SignalKind::GoldenCross { fast: 50, slow: 200 })
            .unwrap();
        let h1 = golden.at(Horizon::H1);
        assert_eq!((golden.count, h1.measured, h1.wins), (4, 4, 3));
        assert_eq!(h1.win_rate, Some(0.75));
        assert!((h1.mean_return.unwrap() - 0.015).abs() < 1e-15);
        assert!((h1.median_return.unwrap() - 0.015).abs() < 1e-15); // (0.01 + 0.02) / 2
        assert_eq!(golden.at(Horizon::D1).measured, 0);
        assert_eq!(golden.at(Horizon::D1).mean_return, None);
        let dry = rows.iter().find(|r| r.kind == SignalKind::VolumeDryUp).unwrap();
        assert_eq!(dry.at(Horizon::H1).win_rate, None);
        assert_eq!(dry.at(Horizon::H1).median_return, Some(0.05));
    }
}
