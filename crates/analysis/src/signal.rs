//! What a signal is: its [`SignalKind`], [`Direction`], [`Timeframe`], the values behind it, and
//! the [`Signal`] itself.

use std::fmt;
use std::str::FromStr;

use finstage_domain::{BarTime, Interval, Symbol};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AnalysisError;

/// Which way a signal points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The price is expected to rise.
    Bullish,
    /// The price is expected to fall.
    Bearish,
    /// No expectation either way (for example a volume dry-up): it has no success or failure.
    Neutral,
}

impl Direction {
    /// `bullish`, `bearish` or `neutral`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bullish => "bullish",
            Self::Bearish => "bearish",
            Self::Neutral => "neutral",
        }
    }

    /// `+1` for bullish, `-1` for bearish, `0` for neutral.
    pub const fn sign(self) -> i8 {
        match self {
            Self::Bullish => 1,
            Self::Bearish => -1,
            Self::Neutral => 0,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which dedupe window an alert of a kind falls into (see [`DedupePolicy`](crate::DedupePolicy)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindFamily {
    /// Moves against the previous close and breaks of the previous day's range.
    Price,
    /// New all-time highs and drops from the high.
    High,
    /// Everything computed from indicators on closed bars (crosses, bands, RSI, volume).
    Technical,
}

/// What fired.
///
/// Every kind has one name, written by `Display` and read by `FromStr` (they round-trip): lower
/// snake case, at most 48 characters, the name the store, the API and the alerts use.
/// Parameterised kinds carry their parameters in the name (`ma_breakout_20`, `golden_cross` for
/// the default SMA(50)/SMA(200) pair and `golden_cross_20_60` for another), so that two rules
/// firing on one bar never share a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SignalKind {
    /// The close crosses above SMA(`period`).
    MaBreakout {
        /// The SMA's period.
        period: u16,
    },
    /// The close crosses below SMA(`period`).
    MaBreakdown {
        /// The SMA's period.
        period: u16,
    },
    /// SMA(`fast`) crosses above SMA(`slow`).
    GoldenCross {
        /// The fast SMA's period.
        fast: u16,
        /// The slow SMA's period.
        slow: u16,
    },
    /// SMA(`fast`) crosses below SMA(`slow`).
    DeadCross {
        /// The fast SMA's period.
        fast: u16,
        /// The slow SMA's period.
        slow: u16,
    },
    /// RSI enters the overbought zone (from below the level to at or above it).
    RsiOverboughtEnter,
    /// RSI leaves the overbought zone (from at or above the level to below it).
    RsiOverboughtLeave,
    /// RSI enters the oversold zone (from above the level to at or below it).
    RsiOversoldEnter,
    /// RSI leaves the oversold zone (from at or below the level to above it).
    RsiOversoldLeave,
    /// RSI crosses above the midline (50).
    RsiCrossAbove50,
    /// RSI crosses below the midline (50).
    RsiCrossBelow50,
    /// The close breaks above the upper Bollinger band.
    BollingerBreakUpper,
    /// The close breaks below the lower Bollinger band.
    BollingerBreakLower,
    /// The close comes within the touch distance below the upper band.
    BollingerTouchUpper,
    /// The close comes within the touch distance above the lower band.
    BollingerTouchLower,
    /// MACD crosses above its signal line.
    MacdCrossUp,
    /// MACD crosses below its signal line.
    MacdCrossDown,
    /// MACD crosses above zero.
    MacdZeroCrossUp,
    /// MACD crosses below zero.
    MacdZeroCrossDown,
    /// Stochastic %K crosses above %D in the oversold zone.
    StochCrossUpOversold,
    /// Stochastic %K crosses below %D in the overbought zone.
    StochCrossDownOverbought,
    /// Volume spikes on a rising close.
    VolumeSpikeUp,
    /// Volume spikes on a falling close.
    VolumeSpikeDown,
    /// Volume dries up.
    VolumeDryUp,
    /// The price rises beyond the symbol's threshold against the previous close.
    PriceRise,
    /// The price drops beyond the symbol's threshold against the previous close.
    PriceDrop,
    /// The price surges beyond the surge threshold against the previous close.
    PriceSurge,
    /// The price plunges beyond the plunge threshold against the previous close.
    PricePlunge,
    /// A new all-time high.
    NewAllTimeHigh,
    /// The price is more than the symbol's threshold below its all-time high.
    DropFromHigh,
    /// The price breaks above the previous session's high.
    PrevHighBreak,
    /// The price breaks below the previous session's low.
    PrevLowBreak,
}

/// The default golden/dead cross pair, written without its periods.
const DEFAULT_CROSS: (u16, u16) = (50, 200);

/// The kinds without parameters, with their names.
const PLAIN_KINDS: [(SignalKind, &str); 27] = [
    (SignalKind::RsiOverboughtEnter, "rsi_overbought_enter"),
    (SignalKind::RsiOverboughtLeave, "rsi_overbought_leave"),
    (SignalKind::RsiOversoldEnter, "rsi_oversold_enter"),
    (SignalKind::RsiOversoldLeave, "rsi_oversold_leave"),
    (SignalKind::RsiCrossAbove50, "rsi_cross_above_50"),
    (SignalKind::RsiCrossBelow50, "rsi_cross_below_50"),
    (SignalKind::BollingerBreakUpper, "bollinger_break_upper"),
    (SignalKind::BollingerBreakLower, "bollinger_break_lower"),
    (SignalKind::BollingerTouchUpper, "bollinger_touch_upper"),
    (SignalKind::BollingerTouchLower, "bollinger_touch_lower"),
    (SignalKind::MacdCrossUp, "macd_cross_up"),
    (SignalKind::MacdCrossDown, "macd_cross_down"),
    (SignalKind::MacdZeroCrossUp, "macd_zero_cross_up"),
    (SignalKind::MacdZeroCrossDown, "macd_zero_cross_down"),
    (SignalKind::StochCrossUpOversold, "stoch_cross_up_oversold"),
    (SignalKind::StochCrossDownOverbought, "stoch_cross_down_overbought"),
    (SignalKind::VolumeSpikeUp, "volume_spike_up"),
    (SignalKind::VolumeSpikeDown, "volume_spike_down"),
    (SignalKind::VolumeDryUp, "volume_dry_up"),
    (SignalKind::PriceRise, "price_rise"),
    (SignalKind::PriceDrop, "price_drop"),
    (SignalKind::PriceSurge, "price_surge"),
    (SignalKind::PricePlunge, "price_plunge"),
    (SignalKind::NewAllTimeHigh, "new_all_time_high"),
    (SignalKind::DropFromHigh, "drop_from_high"),
    (SignalKind::PrevHighBreak, "prev_high_break"),
    (SignalKind::PrevLowBreak, "prev_low_break"),
];

impl SignalKind {
    /// Every kind without parameters, and the parameterised kinds with their default
    /// parameters (the SMA periods of the default rules and the SMA(50)/SMA(200) cross).
    pub fn defaults() -> Vec<SignalKind> {
        let mut kinds = Vec::with_capacity(PLAIN_KINDS.len() + 14);
        for period in [5, 20, 50, 60, 120, 200] {
            kinds.push(Self::MaBreakout { period });
            kinds.push(Self::MaBreakdown { period });
        }
        let (fast, slow) = DEFAULT_CROSS;
        kinds.push(Self::GoldenCross { fast, slow });
        kinds.push(Self::DeadCross { fast, slow });
        kinds.extend(PLAIN_KINDS.iter().map(|&(kind, _)| kind));
        kinds
    }

    /// The way this kind points.
    pub const fn direction(self) -> Direction {
        use SignalKind::*;
        match self {
            MaBreakout { .. }
            | GoldenCross { .. }
            | RsiOversoldEnter
            | RsiOversoldLeave
            | RsiCrossAbove50
            | BollingerBreakLower
            | BollingerTouchLower
            | MacdCrossUp
            | MacdZeroCrossUp
            | StochCrossUpOversold
            | VolumeSpikeUp
            | PriceRise
            | PriceSurge
            | NewAllTimeHigh
            | PrevHighBreak => Direction::Bullish,
            MaBreakdown { .. }
            | DeadCross { .. }
            | RsiOverboughtEnter
            | RsiOverboughtLeave
            | RsiCrossBelow50
            | BollingerBreakUpper
            | BollingerTouchUpper
            | MacdCrossDown
            | MacdZeroCrossDown
            | StochCrossDownOverbought
            | VolumeSpikeDown
            | PriceDrop
            | PricePlunge
            | DropFromHigh
            | PrevLowBreak => Direction::Bearish,
            VolumeDryUp => Direction::Neutral,
        }
    }

    /// The dedupe family of this kind.
    pub const fn family(self) -> KindFamily {
        use SignalKind::*;
        match self {
            PriceRise | PriceDrop | PriceSurge | PricePlunge | PrevHighBreak | PrevLowBreak => KindFamily::Price,
            NewAllTimeHigh | DropFromHigh => KindFamily::High,
            _ => KindFamily::Technical,
        }
    }

    fn plain_name(self) -> Option<&'static str> {
        PLAIN_KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map(|&(_, name)| name)
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::MaBreakout { period } => format!("ma_breakout_{period}"),
            Self::MaBreakdown { period } => format!("ma_breakdown_{period}"),
            Self::GoldenCross { fast, slow } if (fast, slow) == DEFAULT_CROSS => return f.pad("golden_cross"),
            Self::GoldenCross { fast, slow } => format!("golden_cross_{fast}_{slow}"),
            Self::DeadCross { fast, slow } if (fast, slow) == DEFAULT_CROSS => return f.pad("dead_cross"),
            Self::DeadCross { fast, slow } => format!("dead_cross_{fast}_{slow}"),
            plain => return f.pad(plain.plain_name().unwrap_or("unknown")),
        };
        f.pad(&name)
    }
}

/// A period in a kind's name: 1 to 9999, decimal without leading zeros.
fn period(text: &str) -> Option<u16> {
    let canonical = (1..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

fn pair(text: &str) -> Option<(u16, u16)> {
    let (fast, slow) = text.split_once('_')?;
    let (fast, slow) = (period(fast)?, period(slow)?);
    // The default pair has one name only: the one without periods.
    (fast < slow && (fast, slow) != DEFAULT_CROSS).then_some((fast, slow))
}

impl FromStr for SignalKind {
    type Err = AnalysisError;

    fn from_str(s: &str) -> Result<Self, AnalysisError> {
        if let Some(&(kind, _)) = PLAIN_KINDS.iter().find(|(_, name)| *name == s) {
            return Ok(kind);
        }
        let (fast, slow) = DEFAULT_CROSS;
        let parsed = match s {
            "golden_cross" => Some(Self::GoldenCross { fast, slow }),
            "dead_cross" => Some(Self::DeadCross { fast, slow }),
            _ => {
                if let Some(rest) = s.strip_prefix("ma_breakout_") {
                    period(rest).map(|period| Self::MaBreakout { period })
                } else if let Some(rest) = s.strip_prefix("ma_breakdown_") {
                    period(rest).map(|period| Self::MaBreakdown { period })
                } else if let Some(rest) = s.strip_prefix("golden_cross_") {
                    pair(rest).map(|(fast, slow)| Self::GoldenCross { fast, slow })
                } else if let Some(rest) = s.strip_prefix("dead_cross_") {
                    pair(rest).map(|(fast, slow)| Self::DeadCross { fast, slow })
                } else {
                    None
                }
            }
        };
        parsed.ok_or_else(|| AnalysisError::UnknownKind(crate::error::echo(s)))
    }
}

impl Serialize for SignalKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SignalKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The bars (or the live quotes) a signal was computed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timeframe {
    /// Closed bars of this interval (`1d`, `1h`, …).
    Bars(Interval),
    /// Live quotes (`live`).
    Live,
}

impl Timeframe {
    /// Daily bars.
    pub const DAILY: Timeframe = Timeframe::Bars(Interval::D1);
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bars(interval) => fmt::Display::fmt(interval, f),
            Self::Live => f.pad("live"),
        }
    }
}

impl FromStr for Timeframe {
    type Err = AnalysisError;

    fn from_str(s: &str) -> Result<Self, AnalysisError> {
        if s == "live" {
            return Ok(Self::Live);
        }
        s.parse::<Interval>()
            .map(Self::Bars)
            .map_err(|_| AnalysisError::UnknownTimeframe(crate::error::echo(s)))
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The values behind a signal, by name, in the order the rule gives them (for example
/// `close=101.5, sma=100.2`). Serialized as a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalValues(Vec<(&'static str, f64)>);

impl SignalValues {
    /// No values.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds `name = value`.
    pub fn with(mut self, name: &'static str, value: f64) -> Self {
        self.0.push((name, value));
        self
    }

    /// The value called `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    /// Every `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.0.iter().copied()
    }

    /// The values as a JSON object (non-finite values as `null`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|&(name, value)| {
                    let number = serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, Into::into);
                    (name.to_owned(), number)
                })
                .collect(),
        )
    }
}

impl Serialize for SignalValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A signal: something happened to `symbol`'s price on the bar (or quote) at `time`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signal {
    /// The symbol it fired on.
    pub symbol: Symbol,
    /// What fired.
    pub kind: SignalKind,
    /// The bars (or live quotes) it was computed on.
    pub timeframe: Timeframe,
    /// The time of the bar (or quote) that triggered it, never the wall clock.
    pub time: BarTime,
    /// The price then: the bar's close, or the quote's price.
    pub price: f64,
    /// Which way it points (the kind's [`direction`](SignalKind::direction)).
    pub direction: Direction,
    /// How decisive it was, from 0 (barely) to 1 (as strong as the rule measures); each rule
    /// documents its measure.
    pub strength: f64,
    /// The values behind it.
    pub values: SignalValues,
}

impl Signal {
    /// A signal of `kind`, its direction the kind's; `strength` is clamped into `[0, 1]` (NaN
    /// reads as 0).
    pub fn new(
        symbol: Symbol,
        kind: SignalKind,
        timeframe: Timeframe,
        time: BarTime,
        price: f64,
        strength: f64,
        values: SignalValues,
    ) -> Self {
        let strength = if strength.is_nan() {
            0.0
        } else {
            strength.clamp(0.0, 1.0)
        };
        Self {
            symbol,
            kind,
            timeframe,
            time,
            price,
            direction: kind.direction(),
            strength,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_name_round_trips_and_fits_the_store() {
        let mut kinds = SignalKind::defaults();
        kinds.push(SignalKind::GoldenCross { fast: 20, slow: 60 });
        kinds.push(SignalKind::DeadCross { fast: 5, slow: 9999 });
        kinds.push(SignalKind::MaBreakout { period: 9999 });
        for kind in kinds {
            let name = kind.to_string();
            assert!(name.len() <= 48 && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')));
            assert_eq!(name.parse::<SignalKind>().unwrap(), kind, "{name}");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<SignalKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn names_have_one_spelling() {
        for bad in [
            "",
            "ma_breakout_",
            "ma_breakout_0",
            "ma_breakout_020",
            "ma_breakout_10000",
            "ma_breakout_+5",
            "golden_cross_50_200",
            "golden_cross_60_20",
            "golden_cross_20",
            "Golden_cross",
            "rsi_overbought",
        ] {
            assert!(bad.parse::<SignalKind>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timeframes_round_trip() {
        for text in ["1d", "1h", "5m", "1wk", "live"] {
            assert_eq!(text.parse::<Timeframe>().unwrap().to_string(), text);
        }
        assert!("2d".parse::<Timeframe>().is_err());
    }

    #[test]
    fn values_serialize_as_an_object_in_order() {
        let values = SignalValues::new().with("close", 101.5).with("sma", 100.25);
        assert_eq!(
            serde_json::to_string(&values).unwrap(),
            r#"{"close":101.5,"sma":100.25}"#
        );
        assert_eq!(values.get("sma"), Some(100.25));
        assert_eq!(values.to_json()["close"], 101.5);
        assert!(SignalValues::new().with("x", f64::NAN).to_json()["x"].is_null());
    }
}
