//! The rules over live quotes: conditions on the latest price against the previous session
//! and the all-time high. Unlike the bar rules, which fire on the bar where something changes,
//! these hold for as long as the price stays where it is; the dedupe windows
//! ([`DedupePolicy`](crate::DedupePolicy)) decide how often a holding condition is sent.

use chrono::{DateTime, Utc};
use finstage_domain::{BarTime, Category, Symbol};

use super::config::RulesConfig;
use super::{drop_values, price_moves, ratio};
use crate::error::AnalysisError;
use crate::signal::{Signal, SignalKind, SignalValues, Timeframe};

/// One live quote with what the rules compare it to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuoteContext {
    /// The symbol quoted.
    pub symbol: Symbol,
    /// Its category (for its thresholds).
    pub category: Category,
    /// The price.
    pub price: f64,
    /// When it was quoted (the signal's time; never the wall clock).
    pub time: DateTime<Utc>,
    /// The previous session's close.
    pub previous_close: Option<f64>,
    /// The previous session's high.
    pub previous_high: Option<f64>,
    /// The previous session's low.
    pub previous_low: Option<f64>,
    /// The stored all-time high (before this quote).
    pub all_time_high: Option<f64>,
}

/// Every live rule over `quote`, in the order price moves, highs, previous session.
///
/// - `price_rise` / `price_drop` / `price_surge` / `price_plunge`: the price against the
///   previous close, beyond the symbol's thresholds (a surge or plunge instead of a rise or
///   drop, never both);
/// - `new_all_time_high`: the price above the stored all-time high;
/// - `drop_from_high`: the price at least the threshold below the all-time high;
/// - `prev_high_break` / `prev_low_break`: the price above the previous session's high, or
///   below its low.
///
/// # Errors
/// [`AnalysisError::InvalidConfig`] for a configuration that does not validate;
/// [`AnalysisError::InvalidInput`] for a price that is not finite and positive.
pub fn evaluate_quote(config: &RulesConfig, quote: &QuoteContext) -> Result<Vec<Signal>, AnalysisError> {
    config.validate("rules")?;
    let price = quote.price;
    if !(price.is_finite() && price > 0.0) {
        return Err(AnalysisError::InvalidInput(format!(
            "a quote's price must be finite and positive, not {price}"
        )));
    }
    let positive = |v: Option<f64>| v.filter(|v| v.is_finite() && *v > 0.0);
    let thresholds = config.thresholds.resolve(&quote.symbol, quote.category);
    let mut out = Vec::new();
    let mut emit = |kind: SignalKind, strength: f64, values: SignalValues| {
        out.push(Signal::new(
            quote.symbol,
            kind,
            Timeframe::Live,
            BarTime::Timestamp(quote.time),
            price,
            strength,
            values,
        ));
    };
    if config.price.enabled
        && let Some(previous_close) = positive(quote.previous_close)
    {
        price_moves(&thresholds, price, previous_close, &mut emit);
    }
    if config.highs.enabled
        && let Some(high) = positive(quote.all_time_high)
    {
        if price > high {
            let values = SignalValues::new().with("high", price).with("previous_high", high);
            emit(SignalKind::NewAllTimeHigh, ratio(price / high - 1.0, 0.05), values);
        } else {
            let drawdown = price / high - 1.0;
            let limit = -thresholds.drop_from_high_pct / 100.0;
            if drawdown <= limit {
                let values = drop_values(price, high, drawdown, thresholds.drop_from_high_pct);
                emit(SignalKind::DropFromHigh, ratio(drawdown, 2.0 * limit), values);
            }
        }
    }
    if config.previous_day.enabled {
        if let Some(high) = positive(quote.previous_high)
            && price > high
        {
            let values = SignalValues::new().with("price", price).with("previous_high", high);
            emit(SignalKind::PrevHighBreak, ratio(price / high - 1.0, 0.02), values);
        } else if let Some(low) = positive(quote.previous_low)
            && price < low
        {
            let values = SignalValues::new().with("price", price).with("previous_low", low);
            emit(SignalKind::PrevLowBreak, ratio(price / low - 1.0, 0.02), values);
        }
    }
    Ok(out)
}
