//! The rules' parameters: [`RulesConfig`], every part serde-readable with defaults, validated
//! into typed errors that name the key.

use serde::{Deserialize, Serialize};

use crate::error::AnalysisError;
use crate::thresholds::Thresholds;

/// Moving-average breakouts and breakdowns: the close crosses SMA(n) for each n.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The SMA periods (default 5, 20, 50, 60, 120, 200).
    pub periods: Vec<u16>,
}

impl Default for MaRule {
    fn default() -> Self {
        Self {
            enabled: true,
            periods: vec![5, 20, 50, 60, 120, 200],
        }
    }
}

/// Golden and dead crosses: SMA(fast) crosses SMA(slow), for each pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The `[fast, slow]` pairs (default `[[50, 200]]`); fast < slow.
    pub pairs: Vec<[u16; 2]>,
}

impl Default for CrossRule {
    fn default() -> Self {
        Self {
            enabled: true,
            pairs: vec![[50, 200]],
        }
    }
}

/// RSI zones and the midline.
///
/// The overbought zone is RSI ≥ `overbought`, the oversold zone RSI ≤ `oversold`. *Entering* a
/// zone is a bar inside it after a bar outside it; *leaving* is a bar outside after a bar
/// inside. The midline cross is a cross of 50 (see [`crosses_above`](super::crosses_above)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RsiRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// RSI's period (default 14).
    pub period: u16,
    /// The overbought level (default 70).
    pub overbought: f64,
    /// The oversold level (default 30).
    pub oversold: f64,
    /// Whether crosses of 50 are signals (default true).
    pub midline: bool,
}

impl Default for RsiRule {
    fn default() -> Self {
        Self {
            enabled: true,
            period: 14,
            overbought: 70.0,
            oversold: 30.0,
            midline: true,
        }
    }
}

/// Bollinger band breaks and touches.
///
/// A *break* is a close beyond a band after a close that was not. A *touch* is a close within
/// `touch_pct` percent of a band on its inner side (`upper × (1 − touch) ≤ close ≤ upper`, or
/// `lower ≤ close ≤ lower × (1 + touch)`) after a close that was neither within that distance
/// nor beyond the band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BollingerRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The bands' period (default 20).
    pub period: u16,
    /// Their width in standard deviations (default 2).
    pub k: f64,
    /// The touch distance, in percent of the band (default 1).
    pub touch_pct: f64,
}

impl Default for BollingerRule {
    fn default() -> Self {
        Self {
            enabled: true,
            period: 20,
            k: 2.0,
            touch_pct: 1.0,
        }
    }
}

/// MACD crosses of its signal line and of zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MacdRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The fast EMA's period (default 12).
    pub fast: u16,
    /// The slow EMA's period (default 26).
    pub slow: u16,
    /// The signal line's period (default 9).
    pub signal: u16,
    /// Whether zero-line crosses are signals (default true).
    pub zero_line: bool,
}

impl Default for MacdRule {
    fn default() -> Self {
        Self {
            enabled: true,
            fast: 12,
            slow: 26,
            signal: 9,
            zero_line: true,
        }
    }
}

/// Stochastic crosses in a zone: %K crosses above %D while %D ≤ `oversold`, or below it while
/// %D ≥ `overbought` (%D of the crossing bar).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StochRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// %K's look-back (default 14).
    pub k_period: u16,
    /// %K's slowing (default 3).
    pub k_slowing: u16,
    /// %D's period (default 3).
    pub d_period: u16,
    /// The overbought level (default 80).
    pub overbought: f64,
    /// The oversold level (default 20).
    pub oversold: f64,
}

impl Default for StochRule {
    fn default() -> Self {
        Self {
            enabled: true,
            k_period: 14,
            k_slowing: 3,
            d_period: 3,
            overbought: 80.0,
            oversold: 20.0,
        }
    }
}

/// Volume spikes and dry-ups against the average volume of the `period` bars *before* the bar
/// (the bar itself would inflate its own average).
///
/// A spike is volume ≥ `spike_ratio` × average on a close that moved at least `move_pct`
/// percent against the previous close (up or down: the direction of the signal); it fires on
/// every such bar. A dry-up is volume ≤ `dry_up_ratio` × average after a bar that was not one.
/// Bars whose average volume is zero (indices) give no volume signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The average's period (default 20).
    pub period: u16,
    /// The spike ratio (default 2).
    pub spike_ratio: f64,
    /// The least close-to-close move of a spike, in percent (default 1).
    pub move_pct: f64,
    /// The dry-up ratio (default 0.5).
    pub dry_up_ratio: f64,
}

impl Default for VolumeRule {
    fn default() -> Self {
        Self {
            enabled: true,
            period: 20,
            spike_ratio: 2.0,
            move_pct: 1.0,
            dry_up_ratio: 0.5,
        }
    }
}

/// A switch for a rule without parameters of its own (its thresholds are in
/// [`Thresholds`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switch {
    /// Whether the rule runs (default true).
    pub enabled: bool,
}

impl Default for Switch {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Every rule's parameters. `Default` is the documented default of each rule; a configuration
/// file names only what it changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Moving-average breakouts and breakdowns.
    pub moving_average: MaRule,
    /// Golden and dead crosses.
    pub cross: CrossRule,
    /// RSI zones and midline.
    pub rsi: RsiRule,
    /// Bollinger breaks and touches.
    pub bollinger: BollingerRule,
    /// MACD crosses.
    pub macd: MacdRule,
    /// Stochastic crosses in a zone.
    pub stochastic: StochRule,
    /// Volume spikes and dry-ups.
    pub volume: VolumeRule,
    /// Rises, drops, surges and plunges against the previous close.
    pub price: Switch,
    /// New all-time highs and drops from the high.
    pub highs: Switch,
    /// Breaks of the previous session's high and low.
    pub previous_day: Switch,
    /// The thresholds of the price and high rules.
    pub thresholds: Thresholds,
}

/// The largest period any rule takes (as [`finstage_indicators::MAX_PERIOD`] allows far more,
/// this bound is about sense: ten years of daily bars).
pub const MAX_RULE_PERIOD: u16 = 2_520;

fn check_period(key: &str, period: u16, min: u16) -> Result<(), AnalysisError> {
    if (min..=MAX_RULE_PERIOD).contains(&period) {
        Ok(())
    } else {
        Err(AnalysisError::config(
            key,
            format!("a period from {min} to {MAX_RULE_PERIOD}, not {period}"),
        ))
    }
}

fn check_range(key: &str, value: f64, low: f64, high: f64) -> Result<(), AnalysisError> {
    if value.is_finite() && value > low && value < high {
        Ok(())
    } else {
        Err(AnalysisError::config(
            key,
            format!("a number above {low} and below {high}, not {value}"),
        ))
    }
}

impl RulesConfig {
    /// Every rule switched off: a starting point for a configuration that names the few rules
    /// it wants.
    pub fn none() -> Self {
        let mut config = Self::default();
        config.moving_average.enabled = false;
        config.cross.enabled = false;
        config.rsi.enabled = false;
        config.bollinger.enabled = false;
        config.macd.enabled = false;
        config.stochastic.enabled = false;
        config.volume.enabled = false;
        config.price.enabled = false;
        config.highs.enabled = false;
        config.previous_day.enabled = false;
        config
    }

    /// Checks every parameter (of disabled rules too, so that switching one on cannot fail
    /// later); `prefix` is the key these rules live under in the configuration (`rules`).
    ///
    /// # Errors
    /// [`AnalysisError::InvalidConfig`] naming the first bad key.
    pub fn validate(&self, prefix: &str) -> Result<(), AnalysisError> {
        let key = |name: &str| format!("{prefix}.{name}");
        for (i, &p) in self.moving_average.periods.iter().enumerate() {
            check_period(&key(&format!("moving_average.periods[{i}]")), p, 2)?;
        }
        for (i, &[fast, slow]) in self.cross.pairs.iter().enumerate() {
            check_period(&key(&format!("cross.pairs[{i}][0]")), fast, 2)?;
            check_period(&key(&format!("cross.pairs[{i}][1]")), slow, 2)?;
            if fast >= slow {
                return Err(AnalysisError::config(
                    key(&format!("cross.pairs[{i}]")),
                    format!("the fast period must be below the slow one, not [{fast}, {slow}]"),
                ));
            }
        }
        let rsi = &self.rsi;
        check_period(&key("rsi.period"), rsi.period, 2)?;
        check_range(&key("rsi.overbought"), rsi.overbought, 50.0, 100.0)?;
        check_range(&key("rsi.oversold"), rsi.oversold, 0.0, 50.0)?;
        let bb = &self.bollinger;
        check_period(&key("bollinger.period"), bb.period, 2)?;
        check_range(&key("bollinger.k"), bb.k, 0.0, 10.0)?;
        check_range(&key("bollinger.touch_pct"), bb.touch_pct, 0.0, 50.0)?;
        let macd = &self.macd;
        check_period(&key("macd.fast"), macd.fast, 2)?;
        check_period(&key("macd.slow"), macd.slow, 2)?;
        check_period(&key("macd.signal"), macd.signal, 1)?;
        if macd.fast >= macd.slow {
            return Err(AnalysisError::config(
                key("macd"),
                format!("fast ({}) must be below slow ({})", macd.fast, macd.slow),
            ));
        }
        let st = &self.stochastic;
        check_period(&key("stochastic.k_period"), st.k_period, 1)?;
        check_period(&key("stochastic.k_slowing"), st.k_slowing, 1)?;
        check_period(&key("stochastic.d_period"), st.d_period, 1)?;
        check_range(&key("stochastic.overbought"), st.overbought, 50.0, 100.0)?;
        check_range(&key("stochastic.oversold"), st.oversold, 0.0, 50.0)?;
        let vol = &self.volume;
        check_period(&key("volume.period"), vol.period, 1)?;
        check_range(&key("volume.spike_ratio"), vol.spike_ratio, 1.0, 1_000.0)?;
        check_range(&key("volume.move_pct"), vol.move_pct, 0.0, 100.0)?;
        check_range(&key("volume.dry_up_ratio"), vol.dry_up_ratio, 0.0, 1.0)?;
        self.thresholds.validate(&key("thresholds"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let config = RulesConfig::default();
        config.validate("rules").unwrap();
        assert_eq!(config.moving_average.periods, [5, 20, 50, 60, 120, 200]);
        assert_eq!(config.cross.pairs, [[50, 200]]);
        assert_eq!((config.rsi.overbought, config.rsi.oversold), (70.0, 30.0));
        RulesConfig::none().validate("rules").unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        type Change = fn(&mut RulesConfig);
        let cases: [(&str, Change); 6] = [
            ("rules.moving_average.periods[1]", |c| {
                c.moving_average.periods = vec![5, 0];
            }),
            ("rules.cross.pairs[0]", |c| c.cross.pairs = vec![[200, 50]]),
            ("rules.rsi.overbought", |c| c.rsi.overbought = 120.0),
            ("rules.macd", |c| c.macd.fast = 30),
            ("rules.volume.dry_up_ratio", |c| c.volume.dry_up_ratio = f64::NAN),
            ("rules.thresholds.index.rise_pct", |c| c.thresholds.index.rise_pct = 0.0),
        ];
        for (key, change) in cases {
            let mut config = RulesConfig::default();
            change(&mut config);
            let err = config.validate("rules").unwrap_err();
            assert!(
                matches!(&err, AnalysisError::InvalidConfig { key: k, .. } if k == key),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn a_file_names_only_what_it_changes() {
        let config: RulesConfig =
            serde_json::from_str(r#"{"rsi":{"overbought":80},"volume":{"enabled":false}}"#).unwrap();
        assert_eq!(config.rsi.overbought, 80.0);
        assert_eq!(config.rsi.period, 14);
        assert!(!config.volume.enabled);
        assert!(serde_json::from_str::<RulesConfig>(r#"{"rsi":{"overbougth":80}}"#).is_err());
    }
}
