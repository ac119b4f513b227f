//! Streaming states for a list of specs, fed whole bars: the bar-by-bar path of the
//! all-indicators bench, one state per indicator, as a user would keep them without the engine.

use std::hint::black_box;

use finstage_indicators::{Candle, Indicator, IndicatorSpec};

/// One indicator's streaming state, fed one bar at a time.
pub trait Feed {
    /// Feeds one bar (the close, or the whole bar, as the indicator takes) and makes its output
    /// observable to the optimiser.
    fn feed(&mut self, bar: Candle);
}

/// A state of an indicator of closes.
struct OnClose<S>(S);

impl<S: Indicator<Input = f64>> Feed for OnClose<S> {
    #[inline]
    fn feed(&mut self, bar: Candle) {
        black_box(self.0.update(bar.close));
    }
}

/// A state of an indicator of bars.
struct OnBar<S>(S);

impl<S: Indicator<Input = Candle>> Feed for OnBar<S> {
    #[inline]
    fn feed(&mut self, bar: Candle) {
        black_box(self.0.update(bar));
    }
}

fn close<S: Indicator<Input = f64> + 'static>(state: S) -> Box<dyn Feed> {
    Box::new(OnClose(state))
}

fn bar<S: Indicator<Input = Candle> + 'static>(state: S) -> Box<dyn Feed> {
    Box::new(OnBar(state))
}

/// A fresh streaming state for `spec`, or `None` for an indicator added to the crate after this
/// list was written.
pub fn state_of(spec: &IndicatorSpec) -> Option<Box<dyn Feed>> {
    Some(match spec {
        IndicatorSpec::Sma(c) => close(c.state()),
        IndicatorSpec::Ema(c) => close(c.state()),
        IndicatorSpec::Wma(c) => close(c.state()),
        IndicatorSpec::Dema(c) => close(c.state()),
        IndicatorSpec::Tema(c) => close(c.state()),
        IndicatorSpec::Rsi(c) => close(c.state()),
        IndicatorSpec::Macd(c) => close(c.state()),
        IndicatorSpec::BBands(c) => close(c.state()),
        IndicatorSpec::StdDev(c) => close(c.state()),
        IndicatorSpec::Atr(c) => bar(c.state()),
        IndicatorSpec::Natr(c) => bar(c.state()),
        IndicatorSpec::TRange(c) => bar(c.state()),
        IndicatorSpec::Stoch(c) => bar(c.state()),
        IndicatorSpec::StochRsi(c) => close(c.state()),
        IndicatorSpec::Adx(c) => bar(c.state()),
        IndicatorSpec::PlusDi(c) => bar(c.state()),
        IndicatorSpec::MinusDi(c) => bar(c.state()),
        IndicatorSpec::Dx(c) => bar(c.state()),
        IndicatorSpec::Cci(c) => bar(c.state()),
        IndicatorSpec::Mfi(c) => bar(c.state()),
        IndicatorSpec::WillR(c) => bar(c.state()),
        IndicatorSpec::Roc(c) => close(c.state()),
        IndicatorSpec::Mom(c) => close(c.state()),
        IndicatorSpec::Obv(c) => bar(c.state()),
        IndicatorSpec::Vwap(c) => bar(c.state()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_indicator_has_a_state() {
        for spec in IndicatorSpec::all_defaults() {
            assert!(state_of(&spec).is_some(), "{spec}");
        }
    }
}
