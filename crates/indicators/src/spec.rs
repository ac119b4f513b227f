//! The spec grammar: one string names an indicator, its parameters and optionally one output.
//!
//! ```text
//! spec   = name [":" param]* ["." output]
//! list   = spec ["," spec]*
//! ```
//!
//! Parameters are separated by colons so that specs can be listed with commas
//! (`sma:20,rsi:14,macd:12:26:9`). Missing trailing parameters take their defaults (`rsi` is
//! `rsi:14`, `bbands:10` is `bbands:10:2`); [`Display`](fmt::Display) always prints the full
//! form, and parsing what it prints gives back the same spec. Names and outputs are ASCII
//! case-insensitive. Every mistake is a typed [`IndicatorError`] that says what is wrong.
//!
//! | spec | indicator | parameters (defaults) | outputs |
//! |---|---|---|---|
//! | `sma` | [`Sma`] | period (20) | |
//! | `ema` | [`Ema`] | period (20) | |
//! | `wma` | [`Wma`] | period (20) | |
//! | `dema` | [`Dema`] | period (20) | |
//! | `tema` | [`Tema`] | period (20) | |
//! | `rsi` | [`Rsi`] | period (14) | |
//! | `macd` | [`Macd`] | fast (12), slow (26), signal (9) | `macd`, `signal`, `hist` |
//! | `bbands` | [`BBands`] | period (20), k (2) | `upper`, `middle`, `lower` |
//! | `stddev` | [`StdDev`] | period (20) | |
//! | `atr` | [`Atr`] | period (14) | |
//! | `natr` | [`Natr`] | period (14) | |
//! | `trange` | [`TRange`] | | |
//! | `stoch` | [`Stoch`] | k period (14), k slowing (3), d period (3) | `k`, `d` |
//! | `stochrsi` | [`StochRsi`] | rsi period (14), k period (14), d period (3) | `k`, `d` |
//! | `adx`, `plus_di`, `minus_di`, `dx` | [`Adx`], [`PlusDi`], [`MinusDi`], [`Dx`] | period (14) | |
//! | `cci` | [`Cci`] | period (20) | |
//! | `mfi` | [`Mfi`] | period (14) | |
//! | `willr` | [`WillR`] | period (14) | |
//! | `roc` | [`Roc`] | period (10) | |
//! | `mom` | [`Mom`] | period (10) | |
//! | `obv` | [`Obv`] | | |
//! | `vwap` | [`Vwap`] | anchor: `session` or `anchored` (`session`) | |
//!
//! ```
//! use finstage_indicators::{IndicatorSpec, OutputSpec, parse_specs};
//!
//! let spec: OutputSpec = "MACD.signal".parse()?;
//! assert_eq!(spec.to_string(), "macd:12:26:9.signal");
//!
//! let list = parse_specs("sma:20, rsi, bbands:20:2.5.upper")?;
//! let names: Vec<String> = list.iter().map(ToString::to_string).collect();
//! assert_eq!(names, ["sma:20", "rsi:14", "bbands:20:2.5.upper"]);
//!
//! let err = "macd:26:12:9".parse::<IndicatorSpec>().unwrap_err();
//! assert_eq!(err.to_string(), "invalid fast period \"26\" for macd: expected a period shorter than the slow period 12");
//! # Ok::<(), finstage_indicators::IndicatorError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{IndicatorError, check_period};
use crate::{
    Adx, Atr, BBands, Cci, Dema, Dx, Ema, Macd, Mfi, MinusDi, Mom, Natr, Obv, PlusDi, Roc, Rsi, Sma, StdDev, Stoch,
    StochRsi, TRange, Tema, Vwap, VwapAnchor, WillR, Wma,
};

/// An indicator with its parameters: what a spec string without an output names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // Each variant is the indicator of the same name.
pub enum IndicatorSpec {
    Sma(Sma),
    Ema(Ema),
    Wma(Wma),
    Dema(Dema),
    Tema(Tema),
    Rsi(Rsi),
    Macd(Macd),
    BBands(BBands),
    StdDev(StdDev),
    Atr(Atr),
    Natr(Natr),
    TRange(TRange),
    Stoch(Stoch),
    StochRsi(StochRsi),
    Adx(Adx),
    PlusDi(PlusDi),
    MinusDi(MinusDi),
    Dx(Dx),
    Cci(Cci),
    Mfi(Mfi),
    WillR(WillR),
    Roc(Roc),
    Mom(Mom),
    Obv(Obv),
    Vwap(Vwap),
}

/// Every spec name, in the order of the table in the module docs.
pub const NAMES: &[&str] = &[
    "sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "stddev", "atr", "natr", "trange", "stoch",
    "stochrsi", "adx", "plus_di", "minus_di", "dx", "cci", "mfi", "willr", "roc", "mom", "obv", "vwap",
];

impl IndicatorSpec {
    /// The spec name, e.g. `"macd"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sma(_) => "sma",
            Self::Ema(_) => "ema",
            Self::Wma(_) => "wma",
            Self::Dema(_) => "dema",
            Self::Tema(_) => "tema",
            Self::Rsi(_) => "rsi",
            Self::Macd(_) => "macd",
            Self::BBands(_) => "bbands",
            Self::StdDev(_) => "stddev",
            Self::Atr(_) => "atr",
            Self::Natr(_) => "natr",
            Self::TRange(_) => "trange",
            Self::Stoch(_) => "stoch",
            Self::StochRsi(_) => "stochrsi",
            Self::Adx(_) => "adx",
            Self::PlusDi(_) => "plus_di",
            Self::MinusDi(_) => "minus_di",
            Self::Dx(_) => "dx",
            Self::Cci(_) => "cci",
            Self::Mfi(_) => "mfi",
            Self::WillR(_) => "willr",
            Self::Roc(_) => "roc",
            Self::Mom(_) => "mom",
            Self::Obv(_) => "obv",
            Self::Vwap(_) => "vwap",
        }
    }

    /// The names of the outputs of a multi-output indicator; empty for a single output.
    pub fn outputs(&self) -> &'static [&'static str] {
        outputs_of(self.name())
    }

    /// Inputs before the first output.
    pub fn lookback(&self) -> usize {
        match self {
            Self::Sma(i) => i.lookback(),
            Self::Ema(i) => i.lookback(),
            Self::Wma(i) => i.lookback(),
            Self::Dema(i) => i.lookback(),
            Self::Tema(i) => i.lookback(),
            Self::Rsi(i) => i.lookback(),
            Self::Macd(i) => i.lookback(),
            Self::BBands(i) => i.lookback(),
            Self::StdDev(i) => i.lookback(),
            Self::Atr(i) => i.lookback(),
            Self::Natr(i) => i.lookback(),
            Self::TRange(i) => i.lookback(),
            Self::Stoch(i) => i.lookback(),
            Self::StochRsi(i) => i.lookback(),
            Self::Adx(i) => i.lookback(),
            Self::PlusDi(i) => i.lookback(),
            Self::MinusDi(i) => i.lookback(),
            Self::Dx(i) => i.lookback(),
            Self::Cci(i) => i.lookback(),
            Self::Mfi(i) => i.lookback(),
            Self::WillR(i) => i.lookback(),
            Self::Roc(i) => i.lookback(),
            Self::Mom(i) => i.lookback(),
            Self::Obv(i) => i.lookback(),
            Self::Vwap(i) => i.lookback(),
        }
    }

    /// Every indicator with its default parameters (what `--specs all` means), in the order of
    /// [`NAMES`]; `vwap` appears as both `vwap:session` and `vwap:anchored`.
    pub fn all_defaults() -> Vec<IndicatorSpec> {
        let mut all: Vec<IndicatorSpec> = NAMES
            .iter()
            .map(|name| default_of(name).expect("every name has a default"))
            .collect();
        all.push(Self::Vwap(Vwap::new(VwapAnchor::Anchored)));
        all
    }

    /// The full names of this indicator's output columns: `["sma:20"]`,
    /// `["macd:12:26:9.macd", "macd:12:26:9.signal", "macd:12:26:9.hist"]`.
    pub fn column_names(&self) -> Vec<String> {
        match self.outputs() {
            [] => vec![self.to_string()],
            outputs => outputs.iter().map(|o| format!("{self}.{o}")).collect(),
        }
    }
}

/// One indicator output, or all of them: a full spec string such as `macd:12:26:9.signal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputSpec {
    indicator: IndicatorSpec,
    output: Option<&'static str>,
}

impl OutputSpec {
    /// Every output of `indicator`.
    pub fn all(indicator: IndicatorSpec) -> Self {
        Self {
            indicator,
            output: None,
        }
    }

    /// One named output of `indicator`.
    ///
    /// # Errors
    /// [`IndicatorError::UnknownOutput`] when the indicator has no such output.
    pub fn select(indicator: IndicatorSpec, output: &str) -> Result<Self, IndicatorError> {
        let outputs = indicator.outputs();
        match outputs.iter().find(|o| o.eq_ignore_ascii_case(output)) {
            Some(found) => Ok(Self {
                indicator,
                output: Some(found),
            }),
            None => Err(IndicatorError::UnknownOutput {
                indicator: indicator.name(),
                output: output.to_string(),
                expected: outputs,
            }),
        }
    }

    /// The indicator.
    pub fn indicator(&self) -> IndicatorSpec {
        self.indicator
    }

    /// The selected output, if one is.
    pub fn output(&self) -> Option<&'static str> {
        self.output
    }

    /// The full names of the columns this spec selects.
    pub fn column_names(&self) -> Vec<String> {
        match self.output {
            Some(output) => vec![format!("{}.{output}", self.indicator)],
            None => self.indicator.column_names(),
        }
    }
}

impl From<IndicatorSpec> for OutputSpec {
    fn from(indicator: IndicatorSpec) -> Self {
        Self::all(indicator)
    }
}

/// Parses a comma-separated list of specs; whitespace around each item is ignored.
///
/// # Errors
/// The first item's error; [`IndicatorError::EmptySpec`] for an empty item.
pub fn parse_specs(list: &str) -> Result<Vec<OutputSpec>, IndicatorError> {
    list.split(',').map(str::parse).collect()
}

fn outputs_of(name: &str) -> &'static [&'static str] {
    match name {
        "macd" => &["macd", "signal", "hist"],
        "bbands" => &["upper", "middle", "lower"],
        "stoch" | "stochrsi" => &["k", "d"],
        _ => &[],
    }
}

fn default_of(name: &str) -> Option<IndicatorSpec> {
    parse_indicator(name, &[]).ok()
}

fn parse_indicator(name: &str, params: &[&str]) -> Result<IndicatorSpec, IndicatorError> {
    let lower = name.to_ascii_lowercase();
    let Some(&name) = NAMES.iter().find(|n| **n == lower) else {
        return Err(IndicatorError::UnknownIndicator { name: name.to_string() });
    };
    let p = Params {
        indicator: name,
        params,
    };
    Ok(match name {
        "sma" => IndicatorSpec::Sma(Sma::new(p.period(0, "period", Sma::DEFAULT_PERIOD)?)?),
        "ema" => IndicatorSpec::Ema(Ema::new(p.period(0, "period", Ema::DEFAULT_PERIOD)?)?),
        "wma" => IndicatorSpec::Wma(Wma::new(p.period(0, "period", Wma::DEFAULT_PERIOD)?)?),
        "dema" => IndicatorSpec::Dema(Dema::new(p.period(0, "period", Dema::DEFAULT_PERIOD)?)?),
        "tema" => IndicatorSpec::Tema(Tema::new(p.period(0, "period", Tema::DEFAULT_PERIOD)?)?),
        "rsi" => IndicatorSpec::Rsi(Rsi::new(p.period(0, "period", Rsi::DEFAULT_PERIOD)?)?),
        "macd" => {
            let (fast, slow, signal) = Macd::DEFAULT_PERIODS;
            IndicatorSpec::Macd(Macd::new(
                p.period(0, "fast period", fast)?,
                p.period(1, "slow period", slow)?,
                p.period(2, "signal period", signal)?,
            )?)
        }
        "bbands" => IndicatorSpec::BBands(BBands::new(
            p.period(0, "period", BBands::DEFAULT_PERIOD)?,
            p.number(1, "k", BBands::DEFAULT_K)?,
        )?),
        "stddev" => IndicatorSpec::StdDev(StdDev::new(p.period(0, "period", StdDev::DEFAULT_PERIOD)?)?),
        "atr" => IndicatorSpec::Atr(Atr::new(p.period(0, "period", Atr::DEFAULT_PERIOD)?)?),
        "natr" => IndicatorSpec::Natr(Natr::new(p.period(0, "period", Natr::DEFAULT_PERIOD)?)?),
        "trange" => {
            p.at_most(0)?;
            IndicatorSpec::TRange(TRange)
        }
        "stoch" => {
            let (k, slowing, d) = Stoch::DEFAULT_PERIODS;
            IndicatorSpec::Stoch(Stoch::new(
                p.period(0, "k period", k)?,
                p.period(1, "k slowing", slowing)?,
                p.period(2, "d period", d)?,
            )?)
        }
        "stochrsi" => {
            let (rsi, k, d) = StochRsi::DEFAULT_PERIODS;
            IndicatorSpec::StochRsi(StochRsi::new(
                p.period(0, "rsi period", rsi)?,
                p.period(1, "k period", k)?,
                p.period(2, "d period", d)?,
            )?)
        }
        "adx" => IndicatorSpec::Adx(Adx::new(p.period(0, "period", Adx::DEFAULT_PERIOD)?)?),
        "plus_di" => IndicatorSpec::PlusDi(PlusDi::new(p.period(0, "period", PlusDi::DEFAULT_PERIOD)?)?),
        "minus_di" => IndicatorSpec::MinusDi(MinusDi::new(p.period(0, "period", MinusDi::DEFAULT_PERIOD)?)?),
        "dx" => IndicatorSpec::Dx(Dx::new(p.period(0, "period", Dx::DEFAULT_PERIOD)?)?),
        "cci" => IndicatorSpec::Cci(Cci::new(p.period(0, "period", Cci::DEFAULT_PERIOD)?)?),
        "mfi" => IndicatorSpec::Mfi(Mfi::new(p.period(0, "period", Mfi::DEFAULT_PERIOD)?)?),
        "willr" => IndicatorSpec::WillR(WillR::new(p.period(0, "period", WillR::DEFAULT_PERIOD)?)?),
        "roc" => IndicatorSpec::Roc(Roc::new(p.period(0, "period", Roc::DEFAULT_PERIOD)?)?),
        "mom" => IndicatorSpec::Mom(Mom::new(p.period(0, "period", Mom::DEFAULT_PERIOD)?)?),
        "obv" => {
            p.at_most(0)?;
            IndicatorSpec::Obv(Obv)
        }
        "vwap" => {
            p.at_most(1)?;
            let anchor = match params.first().map(|a| a.to_ascii_lowercase()) {
                None => VwapAnchor::Session,
                Some(a) if a == "session" => VwapAnchor::Session,
                Some(a) if a == "anchored" => VwapAnchor::Anchored,
                Some(_) => {
                    return Err(IndicatorError::InvalidParameter {
                        indicator: "vwap",
                        parameter: "anchor",
                        value: params[0].to_string(),
                        expected: "session or anchored".into(),
                    });
                }
            };
            IndicatorSpec::Vwap(Vwap::new(anchor))
        }
        _ => return Err(IndicatorError::UnknownIndicator { name: name.to_string() }),
    })
}

/// The parameters of one spec, read positionally with defaults for the missing ones.
struct Params<'a> {
    indicator: &'static str,
    params: &'a [&'a str],
}

impl Params<'_> {
    fn max_params(&self) -> usize {
        match self.indicator {
            "macd" | "stoch" | "stochrsi" => 3,
            "bbands" => 2,
            "trange" | "obv" => 0,
            _ => 1,
        }
    }

    fn at_most(&self, max: usize) -> Result<(), IndicatorError> {
        if self.params.len() > max {
            Err(IndicatorError::TooManyParameters {
                indicator: self.indicator,
                max,
                found: self.params.len(),
            })
        } else {
            Ok(())
        }
    }

    fn period(&self, index: usize, parameter: &'static str, default: usize) -> Result<usize, IndicatorError> {
        self.at_most(self.max_params())?;
        let Some(text) = self.params.get(index) else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(value) => check_period(self.indicator, parameter, value, 1),
            // A whole number too large for usize, or negative: out of range rather than garbled.
            Err(_) if is_integer(text) => Err(IndicatorError::InvalidParameter {
                indicator: self.indicator,
                parameter,
                value: text.to_string(),
                expected: format!("a whole number from 1 to {}", crate::MAX_PERIOD),
            }),
            Err(_) => Err(IndicatorError::InvalidNumber {
                indicator: self.indicator,
                parameter,
                text: text.to_string(),
            }),
        }
    }

    fn number(&self, index: usize, parameter: &'static str, default: f64) -> Result<f64, IndicatorError> {
        self.at_most(self.max_params())?;
        let Some(text) = self.params.get(index) else {
            return Ok(default);
        };
        // Only plain decimal numbers: `inf`, `nan` and friends are not parameters.
        let plain = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
            && text.chars().any(|c| c.is_ascii_digit());
        match text.parse::<f64>() {
            Ok(value) if plain => Ok(value),
            _ => Err(IndicatorError::InvalidNumber {
                indicator: self.indicator,
                parameter,
                text: text.to_string(),
            }),
        }
    }
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `spec` into the indicator part and an output suffix. The output is what follows the
/// last `.` when it starts with a letter, so `bbands:20:2.5` keeps its decimal point.
fn split_output(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('.') {
        Some((head, tail)) if tail.starts_with(|c: char| c.is_ascii_alphabetic()) => (head, Some(tail)),
        _ => (spec, None),
    }
}

impl FromStr for IndicatorSpec {
    type Err = IndicatorError;

    /// Parses a spec without an output selector, e.g. `macd:12:26:9`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let spec: OutputSpec = s.parse()?;
        match spec.output {
            None => Ok(spec.indicator),
            Some(output) => Err(IndicatorError::UnknownOutput {
                indicator: spec.indicator.name(),
                output: output.to_string(),
                expected: &[],
            }),
        }
    }
}

impl FromStr for OutputSpec {
    type Err = IndicatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(IndicatorError::EmptySpec);
        }
        let (head, output) = split_output(s);
        let mut parts = head.split(':');
        let name = parts.next().unwrap_or_default();
        if name.is_empty() {
            return Err(IndicatorError::EmptySpec);
        }
        let params: Vec<&str> = parts.collect();
        let indicator = parse_indicator(name, &params)?;
        match output {
            None => Ok(Self::all(indicator)),
            Some(output) => Self::select(indicator, output),
        }
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sma(i) => i.fmt(f),
            Self::Ema(i) => i.fmt(f),
            Self::Wma(i) => i.fmt(f),
            Self::Dema(i) => i.fmt(f),
            Self::Tema(i) => i.fmt(f),
            Self::Rsi(i) => i.fmt(f),
            Self::Macd(i) => i.fmt(f),
            Self::BBands(i) => i.fmt(f),
            Self::StdDev(i) => i.fmt(f),
            Self::Atr(i) => i.fmt(f),
            Self::Natr(i) => i.fmt(f),
            Self::TRange(i) => i.fmt(f),
            Self::Stoch(i) => i.fmt(f),
            Self::StochRsi(i) => i.fmt(f),
            Self::Adx(i) => i.fmt(f),
            Self::PlusDi(i) => i.fmt(f),
            Self::MinusDi(i) => i.fmt(f),
            Self::Dx(i) => i.fmt(f),
            Self::Cci(i) => i.fmt(f),
            Self::Mfi(i) => i.fmt(f),
            Self::WillR(i) => i.fmt(f),
            Self::Roc(i) => i.fmt(f),
            Self::Mom(i) => i.fmt(f),
            Self::Obv(i) => i.fmt(f),
            Self::Vwap(i) => i.fmt(f),
        }
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.output {
            Some(output) => write!(f, "{}.{output}", self.indicator),
            None => self.indicator.fmt(f),
        }
    }
}

/// `From<Config> for IndicatorSpec` for every indicator configuration.
macro_rules! spec_from {
    ($($variant:ident),+ $(,)?) => {
        $(
            impl From<$variant> for IndicatorSpec {
                fn from(config: $variant) -> Self {
                    Self::$variant(config)
                }
            }
        )+
    };
}

spec_from!(
    Sma, Ema, Wma, Dema, Tema, Rsi, Macd, BBands, StdDev, Atr, Natr, TRange, Stoch, StochRsi, Adx, PlusDi, MinusDi, Dx,
    Cci, Mfi, WillR, Roc, Mom, Obv, Vwap
);

#[cfg(feature = "serde")]
mod serde_impls {
    //! Specs serialize as their spec strings.

    use super::{IndicatorSpec, OutputSpec};

    macro_rules! as_string {
        ($($ty:ty),+) => {
            $(
                impl serde::Serialize for $ty {
                    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        serializer.collect_str(self)
                    }
                }

                impl<'de> serde::Deserialize<'de> for $ty {
                    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                        text.parse().map_err(serde::de::Error::custom)
                    }
                }
            )+
        };
    }

    as_string!(IndicatorSpec, OutputSpec);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> IndicatorError {
        spec.parse::<OutputSpec>().unwrap_err()
    }

    #[test]
    fn names_alone_take_the_defaults() {
        for (short, full) in [
            ("sma", "sma:20"),
            ("rsi", "rsi:14"),
            ("macd", "macd:12:26:9"),
            ("bbands", "bbands:20:2"),
            ("stoch", "stoch:14:3:3"),
            ("stochrsi", "stochrsi:14:14:3"),
            ("vwap", "vwap:session"),
            ("obv", "obv"),
            ("trange", "trange"),
            ("bbands:10", "bbands:10:2"),
            ("macd:5", "macd:5:26:9"),
        ] {
            assert_eq!(short.parse::<IndicatorSpec>().unwrap().to_string(), full);
        }
    }

    #[test]
    fn every_name_parses_and_round_trips() {
        for spec in IndicatorSpec::all_defaults() {
            let text = spec.to_string();
            assert_eq!(text.parse::<IndicatorSpec>().unwrap(), spec, "{text}");
        }
        assert_eq!(IndicatorSpec::all_defaults().len(), NAMES.len() + 1);
    }

    #[test]
    fn outputs_are_selected_by_name() {
        let spec: OutputSpec = "macd:12:26:9.signal".parse().unwrap();
        assert_eq!(spec.output(), Some("signal"));
        assert_eq!(spec.column_names(), ["macd:12:26:9.signal"]);
        let all: OutputSpec = "bbands:20:2.5".parse().unwrap();
        assert_eq!(all.output(), None);
        assert_eq!(
            all.column_names(),
            ["bbands:20:2.5.upper", "bbands:20:2.5.middle", "bbands:20:2.5.lower"]
        );
        assert_eq!(
            "STOCH:5:3:3.K".parse::<OutputSpec>().unwrap().to_string(),
            "stoch:5:3:3.k"
        );
    }

    #[test]
    fn mistakes_are_typed() {
        assert!(matches!(
            err("rsi:0"),
            IndicatorError::InvalidParameter { indicator: "rsi", .. }
        ));
        assert!(matches!(
            err("macd:26:12:9"),
            IndicatorError::InvalidParameter {
                indicator: "macd",
                parameter: "fast period",
                ..
            }
        ));
        assert!(matches!(
            err("macd:12:12:9"),
            IndicatorError::InvalidParameter { indicator: "macd", .. }
        ));
        assert!(matches!(
            err("sma:abc"),
            IndicatorError::InvalidNumber { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("sma:20.5"),
            IndicatorError::InvalidNumber { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("sma:"),
            IndicatorError::InvalidNumber { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("sma:99999999999"),
            IndicatorError::InvalidParameter { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("sma:999999999999999999999999999999"),
            IndicatorError::InvalidParameter { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("sma:-5"),
            IndicatorError::InvalidParameter { indicator: "sma", .. }
        ));
        assert!(matches!(err("smaa:20"), IndicatorError::UnknownIndicator { .. }));
        assert!(matches!(
            err("sma:20:5"),
            IndicatorError::TooManyParameters {
                indicator: "sma",
                max: 1,
                found: 2
            }
        ));
        assert!(matches!(
            err("obv:1"),
            IndicatorError::TooManyParameters {
                indicator: "obv",
                max: 0,
                found: 1
            }
        ));
        assert!(matches!(
            err("macd.upper"),
            IndicatorError::UnknownOutput { indicator: "macd", .. }
        ));
        assert!(matches!(
            err("sma:20.k"),
            IndicatorError::UnknownOutput { indicator: "sma", .. }
        ));
        assert!(matches!(
            err("bbands:20:nan"),
            IndicatorError::InvalidNumber {
                indicator: "bbands",
                ..
            }
        ));
        assert!(matches!(
            err("bbands:20:inf"),
            IndicatorError::InvalidNumber {
                indicator: "bbands",
                ..
            }
        ));
        assert!(matches!(
            err("bbands:20:0"),
            IndicatorError::InvalidParameter {
                indicator: "bbands",
                ..
            }
        ));
        assert!(matches!(
            err("vwap:weekly"),
            IndicatorError::InvalidParameter { indicator: "vwap", .. }
        ));
        assert_eq!(err(""), IndicatorError::EmptySpec);
        assert_eq!(err("  "), IndicatorError::EmptySpec);
        assert_eq!(err(":20"), IndicatorError::EmptySpec);
        assert!(parse_specs("sma:20,,rsi").is_err());
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            err("rsi:0").to_string(),
            "invalid period \"0\" for rsi: expected a whole number from 1 to 100000"
        );
        assert_eq!(err("sma:abc").to_string(), "sma period \"abc\" is not a valid number");
        assert_eq!(err("smaa:20").to_string(), "unknown indicator \"smaa\"");
        assert_eq!(
            err("sma:20.k").to_string(),
            "sma has a single output, so output \"k\" cannot be selected"
        );
        assert_eq!(
            err("macd.upper").to_string(),
            "macd has no output \"upper\": expected one of macd, signal, hist"
        );
    }
}
