//! Volume-weighted average price (VWAP), anchored or per session.

use std::fmt;

use crate::error::{IndicatorError, check_lengths};
use crate::indicator::{Indicator, run};
use crate::input::{Candle, typical_price};

/// Where a [`Vwap`] starts accumulating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum VwapAnchor {
    /// Restart at every UTC calendar day, read from the bar timestamps (spec `vwap:session`).
    ///
    /// A UTC day holds the whole regular session of every major equity market (New York
    /// 13:30–21:00 UTC, London, Frankfurt, Tokyo 00:00–06:00 UTC, Seoul, Hong Kong), and is the
    /// usual daily reset for instruments that trade around the clock.
    #[default]
    Session,
    /// Accumulate from the first bar given, never restart (spec `vwap:anchored`): anchor the
    /// VWAP at an event by starting the input (or the streaming state) at that bar.
    Anchored,
}

/// Volume-weighted average price of the typical price `(high + low + close) / 3`.
///
/// `VWAP[t] = Σ tp·volume / Σ volume` over the bars since the anchor: the start of the current
/// UTC day for [`VwapAnchor::Session`], the first bar for [`VwapAnchor::Anchored`]. TA-Lib has no
/// VWAP; this is the textbook definition.
///
/// - Parameters: the anchor (spec `vwap:session` or `vwap:anchored`; `vwap` is `vwap:session`).
/// - Lookback: 0. Where no volume has traded yet since the anchor (an index reports volume 0),
///   the VWAP is undefined and the value is NaN.
/// - Session VWAP needs bar timestamps ([`Candle::time`], seconds since the Unix epoch).
///
/// ```
/// use finstage_indicators::{Vwap, VwapAnchor};
///
/// let high = [11.0, 12.0, 13.0];
/// let low = [9.0, 10.0, 11.0];
/// let close = [10.0, 11.0, 12.0];
/// let volume = [100.0, 300.0, 100.0];
/// let day = 86_400;
/// let time = [0, 60, day]; // the third bar opens a new session
///
/// let session = Vwap::new(VwapAnchor::Session).batch(&high, &low, &close, &volume, Some(&time))?;
/// assert_eq!(session, [10.0, (10.0 * 100.0 + 11.0 * 300.0) / 400.0, 12.0]);
///
/// let anchored = Vwap::new(VwapAnchor::Anchored).batch(&high, &low, &close, &volume, None)?;
/// assert_eq!(anchored[2], (10.0 * 100.0 + 11.0 * 300.0 + 12.0 * 100.0) / 500.0);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vwap {
    anchor: VwapAnchor,
}

impl Vwap {
    /// Seconds in a session (a UTC day).
    pub const SESSION_SECONDS: i64 = 86_400;

    /// A VWAP anchored as given.
    pub const fn new(anchor: VwapAnchor) -> Self {
        Self { anchor }
    }

    /// Where the VWAP starts accumulating.
    pub fn anchor(&self) -> VwapAnchor {
        self.anchor
    }

    /// Inputs before the first output: 0.
    pub fn lookback(&self) -> usize {
        0
    }

    /// A fresh streaming state.
    pub fn state(&self) -> VwapState {
        VwapState::new(self.anchor)
    }

    /// The VWAP at every bar.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length;
    /// [`IndicatorError::MissingTime`] for a session VWAP without timestamps.
    pub fn batch(
        &self,
        high: &[f64],
        low: &[f64],
        close: &[f64],
        volume: &[f64],
        time: Option<&[i64]>,
    ) -> Result<Vec<f64>, IndicatorError> {
        let len = check_lengths(&[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
        ])?;
        let time = match (time, self.anchor) {
            (Some(time), _) => {
                check_lengths(&[("close", len), ("time", time.len())])?;
                Some(time)
            }
            (None, VwapAnchor::Session) => {
                return Err(IndicatorError::MissingTime {
                    indicator: "vwap:session",
                });
            }
            (None, VwapAnchor::Anchored) => None,
        };
        let bars = (0..len).map(|i| Candle {
            time: time.map_or(0, |t| t[i]),
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
            ..Candle::default()
        });
        Ok(run(self.state(), bars))
    }
}

impl fmt::Display for Vwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.anchor {
            VwapAnchor::Session => f.write_str("vwap:session"),
            VwapAnchor::Anchored => f.write_str("vwap:anchored"),
        }
    }
}

/// Streaming state of a [`Vwap`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VwapState {
    anchor: VwapAnchor,
    session: Option<i64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    price_volume: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    volume: f64,
}

impl VwapState {
    pub(crate) fn new(anchor: VwapAnchor) -> Self {
        Self {
            anchor,
            session: None,
            price_volume: 0.0,
            volume: 0.0,
        }
    }

    pub(crate) fn anchor(&self) -> VwapAnchor {
        self.anchor
    }

    /// Adds one bar given its typical price, volume and time.
    #[inline(always)]
    pub(crate) fn update_typical(&mut self, typical: f64, volume: f64, time: i64) -> f64 {
        if self.anchor == VwapAnchor::Session {
            let session = time.div_euclid(Vwap::SESSION_SECONDS);
            if self.session != Some(session) {
                self.session = Some(session);
                self.price_volume = 0.0;
                self.volume = 0.0;
            }
        }
        self.price_volume += typical * volume;
        self.volume += volume;
        if self.volume > 0.0 {
            self.price_volume / self.volume
        } else {
            f64::NAN
        }
    }
}

impl Indicator for VwapState {
    type Input = Candle;
    type Output = f64;

    /// Always `Some`: NaN while no volume has traded since the anchor.
    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        Some(self.update_typical(typical_price(bar.high, bar.low, bar.close), bar.volume, bar.time))
    }

    fn reset(&mut self) {
        *self = Self::new(self.anchor);
    }

    fn lookback(&self) -> usize {
        0
    }
}
