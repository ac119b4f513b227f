//! Technical indicators for market data, equal to TA-Lib's, with no dependencies.
//!
//! Every indicator comes three ways, all computing the same values bit for bit:
//!
//! - **batch** over slices: `Sma::new(20)?.batch(&closes)` gives a vector as long as the input,
//!   NaN through the indicator's lookback (TA-Lib's alignment);
//! - **streaming**: `state.update(x)` takes one new bar in O(1) time and memory and gives `None`
//!   until the lookback is over;
//! - **incremental**: keep a state (it is `Clone`, and serializable with the `serde` feature) and
//!   [`extend`](Indicator::extend) a stored series with new bars only, exactly as a full
//!   recomputation would.
//!
//! A [spec string grammar](spec) names indicators and their outputs (`sma:20`, `macd:12:26:9.signal`,
//! `bbands:20:2`), and [`compute`] evaluates a list of them over bars in one pass that shares
//! intermediate series ([`Computation`] is its incremental form).
//!
//! # Quick start
//! ```
//! use finstage_indicators::{Bars, Candle, Indicator, Rsi, compute, parse_specs};
//!
//! let closes: Vec<f64> = (0..100).map(|i| 100.0 + (i as f64 * 0.2).sin() * 10.0).collect();
//!
//! // Batch.
//! let rsi = Rsi::new(14)?;
//! let values = rsi.batch(&closes);
//! assert!(values[13].is_nan() && (0.0..=100.0).contains(&values[14]));
//!
//! // Streaming gives the same values, one bar at a time.
//! let mut state = rsi.state();
//! let streamed: Vec<f64> = closes.iter().map(|&x| state.update(x).unwrap_or(f64::NAN)).collect();
//! assert_eq!(streamed[14..], values[14..]);
//!
//! // Incremental: a stored series extended by new bars equals a full recomputation.
//! let mut state = rsi.state();
//! let mut series = Vec::new();
//! state.extend(closes[..60].iter().copied(), &mut series);
//! state.extend(closes[60..].iter().copied(), &mut series);
//! assert_eq!(series[14..], values[14..]);
//!
//! // Many indicators by spec, sharing what they have in common.
//! let bars: Bars = closes.iter().enumerate()
//!     .map(|(i, &c)| Candle::new(c, c + 1.0, c - 1.0, c, 1e6).at(i as i64 * 86_400))
//!     .collect();
//! let columns = compute(&parse_specs("sma:20,bbands:20:2,macd,atr")?, &bars.view())?;
//! assert_eq!(columns.width(), 1 + 3 + 3 + 1);
//! assert_eq!(columns.get("sma:20").unwrap()[19..], columns.get("bbands:20:2.middle").unwrap()[19..]);
//! # Ok::<(), finstage_indicators::IndicatorError>(())
//! ```
//!
//! # Exactness
//! Values are TA-Lib 0.8's: the same lookbacks, seeds, guards and order of operations. On the
//! golden files (every indicator over ten years of AAPL, MSFT and IBM, and a synthetic series of
//! edge cases) every indicator is bit-identical to TA-Lib except those TA-Lib computes with a
//! fused multiply-add (EMA, DEMA, TEMA, MACD, ATR, NATR), which are within 5e-11 relative: this
//! crate does not fuse, so that its values are the same on every processor and build. The
//! bounded oscillators are clamped into their ranges, where TA-Lib's running sums can leave a
//! residue of about 1e-13 outside them. VWAP is not in TA-Lib and follows the textbook
//! definition.
//!
//! # Non-finite inputs
//! Inputs are not checked (clean them first; `finstage-domain`'s `Bar` cannot hold a non-finite
//! price). A NaN or infinite input never panics and never changes an earlier output; it
//! propagates through the arithmetic, so outputs that depend on it are NaN or infinite: a
//! windowed extreme (Stochastic, Williams %R) is NaN while a NaN is in its window; indicators
//! with running sums or recursive smoothing (SMA, EMA, RSI, ATR, …) stay non-finite afterwards,
//! except the variance and the WMA, which rebuild their sums from the window periodically (as
//! TA-Lib does) and recover once the NaN has left it. Start over with
//! [`reset`](Indicator::reset).
//!
//! # The `serde` feature
//! Specs serialize as their spec strings. States serialize exactly: a state saved and restored
//! resumes bit for bit where it stopped, in any format. In human-readable formats (JSON), the
//! non-finite numbers a state may hold after non-finite input are written as the strings
//! `"NaN"`, `"inf"` and `"-inf"`, since JSON has no numbers for them. Output values
//! ([`MacdOutput`], …) and [`Candle`]s are plain data: their NaN is JSON's `null`.

#![forbid(unsafe_code)]

pub mod average;
mod engine;
mod error;
mod indicator;
mod input;
mod math;
pub mod momentum;
#[cfg(feature = "serde")]
mod serde_float;
pub mod spec;
pub mod volatility;
pub mod volume;
mod window;

pub use average::dema::{Dema, DemaState};
pub use average::ema::{Ema, EmaState};
pub use average::sma::{Sma, SmaState};
pub use average::tema::{Tema, TemaState};
pub use average::wma::{Wma, WmaState};
pub use engine::{Columns, Computation, compute};
pub use error::{IndicatorError, MAX_PERIOD};
pub use indicator::{Indicator, IndicatorOutput};
pub use input::{Bars, Candle, Ohlcv};
pub use momentum::adx::{Adx, AdxState, Dx, DxState, MinusDi, MinusDiState, PlusDi, PlusDiState};
pub use momentum::cci::{Cci, CciState};
pub use momentum::macd::{Macd, MacdOutput, MacdSeries, MacdState};
pub use momentum::mfi::{Mfi, MfiState};
pub use momentum::mom::{Mom, MomState};
pub use momentum::roc::{Roc, RocState};
pub use momentum::rsi::{Rsi, RsiState};
pub use momentum::stoch::{Stoch, StochOutput, StochSeries, StochState};
pub use momentum::stochrsi::{StochRsi, StochRsiState};
pub use momentum::willr::{WillR, WillRState};
pub use spec::{IndicatorSpec, OutputSpec, parse_specs};
pub use volatility::atr::{Atr, AtrState};
pub use volatility::bbands::{BBands, BBandsOutput, BBandsSeries, BBandsState};
pub use volatility::natr::{Natr, NatrState};
pub use volatility::stddev::{StdDev, StdDevState};
pub use volatility::trange::{TRange, TRangeState};
pub use volume::obv::{Obv, ObvState};
pub use volume::vwap::{Vwap, VwapAnchor, VwapState};
