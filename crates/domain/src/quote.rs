//! [`Quote`]: the latest validated price of a symbol, with optional session details.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Currency, DomainError, QuoteErrorKind, QuoteField, Symbol};

/// The latest price of a symbol, valid by construction.
///
/// Built by [`Quote::new`] and the chainable `with_*` methods, each of which validates what it
/// adds and returns `Result`, so a builder chain reads `Quote::new(..)?.with_open(..)?...`.
/// Every price is finite and strictly positive (zero is Yahoo's placeholder for a missing value)
/// and `day_low <= day_high`. The price is *not* required to lie within the day's range, nor the
/// open: upstream snapshots of these fields are not always taken at the same moment.
///
/// JSON (serde): `{"symbol":"AAPL","price":..,"time":"2024-05-01T14:30:00Z","previous_close":..,
/// "open":..,"day_high":..,"day_low":..,"volume":..,"currency":"USD"}`, optional fields left out
/// when absent; `time` is RFC 3339 in UTC (any offset is accepted when reading). Deserializing
/// validates like the builder, and `day_low` and `day_high` must come together.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use finstage_domain::{Quote, Symbol};
///
/// let time = Utc.with_ymd_and_hms(2024, 5, 1, 14, 30, 0).unwrap();
/// let q = Quote::new(Symbol::parse("AAPL")?, 110.0, time)?
///     .with_previous_close(100.0)?
///     .with_day_range(99.5, 111.0)?
///     .with_currency("usd")?;
/// assert_eq!(q.change(), Some(10.0));
/// assert_eq!(q.change_percent(), Some(10.0));
/// assert_eq!(q.currency().map(|c| c.to_string()).as_deref(), Some("USD"));
/// # Ok::<(), finstage_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawQuote")]
pub struct Quote {
    symbol: Symbol,
    price: f64,
    #[serde(serialize_with = "crate::time::rfc3339::serialize")]
    time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_close: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<Currency>,
}

impl Quote {
    /// A quote of `price` for `symbol` at `time`, with no optional details.
    ///
    /// # Errors
    /// [`DomainError::InvalidQuote`] when `price` is not finite
    /// ([`QuoteErrorKind::NonFinite`]) or not positive ([`QuoteErrorKind::NonPositive`]).
    pub fn new(symbol: Symbol, price: f64, time: DateTime<Utc>) -> Result<Self, DomainError> {
        check_price(QuoteField::Price, price)?;
        Ok(Self {
            symbol,
            price,
            time,
            previous_close: None,
            open: None,
            day_high: None,
            day_low: None,
            volume: None,
            currency: None,
        })
    }

    /// Sets the previous session's close, the base of [`change`](Self::change).
    ///
    /// # Errors
    /// [`DomainError::InvalidQuote`] when it is not finite or not positive.
    pub fn with_previous_close(mut self, previous_close: f64) -> Result<Self, DomainError> {
        check_price(QuoteField::PreviousClose, previous_close)?;
        self.previous_close = Some(previous_close);
        Ok(self)
    }

    /// Sets the session's opening price.
    ///
    /// # Errors
    /// [`DomainError::InvalidQuote`] when it is not finite or not positive.
    pub fn with_open(mut self, open: f64) -> Result<Self, DomainError> {
        check_price(QuoteField::Open, open)?;
        self.open = Some(open);
        Ok(self)
    }

    /// Sets the session's low and high.
    ///
    /// # Errors
    /// [`DomainError::InvalidQuote`] when either is not finite or not positive (low checked
    /// first), or with [`QuoteErrorKind::DayLowAboveHigh`] when `low > high`.
    pub fn with_day_range(mut self, low: f64, high: f64) -> Result<Self, DomainError> {
        check_finite(QuoteField::DayLow, low)?;
        check_finite(QuoteField::DayHigh, high)?;
        check_positive(QuoteField::DayLow, low)?;
        check_positive(QuoteField::DayHigh, high)?;
        if low > high {
            return Err(DomainError::InvalidQuote(QuoteErrorKind::DayLowAboveHigh { low, high }));
        }
        self.day_low = Some(low);
        self.day_high = Some(high);
        Ok(self)
    }

    /// Sets the session's traded volume (0 for indices).
    ///
    /// # Errors
    /// None today: every `u64` is a valid volume. It returns `Result` so that a builder chain
    /// reads the same with or without it, and so that a future rule is not a breaking change.
    pub fn with_volume(mut self, volume: u64) -> Result<Self, DomainError> {
        self.volume = Some(volume);
        Ok(self)
    }

    /// Sets the currency the prices are in, parsed as a [`Currency`] (`usd` becomes `USD`,
    /// Yahoo's `GBp` for pence becomes `GBX`).
    ///
    /// # Errors
    /// [`DomainError::InvalidCurrency`] when `currency` is not 3 to 8 ASCII letters.
    pub fn with_currency(mut self, currency: &str) -> Result<Self, DomainError> {
        self.currency = Some(Currency::parse(currency)?);
        Ok(self)
    }

    /// The symbol quoted.
    pub const fn symbol(&self) -> Symbol {
        self.symbol
    }

    /// The latest price.
    pub const fn price(&self) -> f64 {
        self.price
    }

    /// When the price was observed (UTC).
    pub const fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The previous session's close.
    pub const fn previous_close(&self) -> Option<f64> {
        self.previous_close
    }

    /// The session's opening price.
    pub const fn open(&self) -> Option<f64> {
        self.open
    }

    /// The session's highest price.
    pub const fn day_high(&self) -> Option<f64> {
        self.day_high
    }

    /// The session's lowest price.
    pub const fn day_low(&self) -> Option<f64> {
        self.day_low
    }

    /// The session's traded volume.
    pub const fn volume(&self) -> Option<u64> {
        self.volume
    }

    /// The currency the prices are in.
    pub const fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// `price - previous_close`, when the previous close is known.
    pub fn change(&self) -> Option<f64> {
        self.previous_close.map(|base| self.price - base)
    }

    /// The change in percent of the previous close (`10.0` for +10 %), when the previous close
    /// is known. Never divides by zero: the previous close is positive.
    pub fn change_percent(&self) -> Option<f64> {
        self.previous_close.map(|base| (self.price - base) / base * 100.0)
    }
}

fn check_finite(field: QuoteField, value: f64) -> Result<(), DomainError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(DomainError::InvalidQuote(QuoteErrorKind::NonFinite { field, value }))
    }
}

fn check_positive(field: QuoteField, value: f64) -> Result<(), DomainError> {
    if value > 0.0 {
        Ok(())
    } else {
        Err(DomainError::InvalidQuote(QuoteErrorKind::NonPositive { field, value }))
    }
}

fn check_price(field: QuoteField, value: f64) -> Result<(), DomainError> {
    check_finite(field, value)?;
    check_positive(field, value)
}

/// The unchecked JSON shape of a [`Quote`], validated by `TryFrom`.
#[derive(Deserialize)]
struct RawQuote {
    symbol: Symbol,
    price: f64,
    #[serde(deserialize_with = "crate::time::rfc3339::deserialize")]
    time: DateTime<Utc>,
    #[serde(default)]
    previous_close: Option<f64>,
    #[serde(default)]
    open: Option<f64>,
    #[serde(default)]
    day_high: Option<f64>,
    #[serde(default)]
    day_low: Option<f64>,
    #[serde(default)]
    volume: Option<u64>,
    #[serde(default)]
    currency: Option<Currency>,
}

impl TryFrom<RawQuote> for Quote {
    type Error = DomainError;

    fn try_from(raw: RawQuote) -> Result<Self, Self::Error> {
        let mut quote = Self::new(raw.symbol, raw.price, raw.time)?;
        if let Some(previous_close) = raw.previous_close {
            quote = quote.with_previous_close(previous_close)?;
        }
        if let Some(open) = raw.open {
            quote = quote.with_open(open)?;
        }
        match (raw.day_low, raw.day_high) {
            (Some(low), Some(high)) => quote = quote.with_day_range(low, high)?,
            (None, None) => {}
            _ => {
                return Err(DomainError::InvalidQuote(QuoteErrorKind::IncompleteDayRange));
            }
        }
        if let Some(volume) = raw.volume {
            quote = quote.with_volume(volume)?;
        }
        quote.currency = raw.currency;
        Ok(quote)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn base() -> Quote {
        Quote::new(
            Symbol::parse("AAPL").unwrap(),
            110.0,
            Utc.with_ymd_and_hms(2024, 5, 1, 14, 30, 0).unwrap(),
        )
        .unwrap()
    }

    fn kind(r: Result<Quote, DomainError>) -> QuoteErrorKind {
        match r {
            Err(DomainError::InvalidQuote(kind)) => kind,
            other => panic!("expected an invalid quote, got {other:?}"),
        }
    }

    #[test]
    fn builder_sets_everything() {
        let q = base()
            .with_previous_close(100.0)
            .unwrap()
            .with_open(101.0)
            .unwrap()
            .with_day_range(99.0, 112.0)
            .unwrap()
            .with_volume(42)
            .unwrap()
            .with_currency("usd")
            .unwrap();
        assert_eq!(q.symbol(), "AAPL");
        assert_eq!(q.price(), 110.0);
        assert_eq!(q.time(), Utc.with_ymd_and_hms(2024, 5, 1, 14, 30, 0).unwrap());
        assert_eq!(q.previous_close(), Some(100.0));
        assert_eq!(q.open(), Some(101.0));
        assert_eq!((q.day_low(), q.day_high()), (Some(99.0), Some(112.0)));
        assert_eq!(q.volume(), Some(42));
        assert_eq!(q.currency(), Some(Currency::parse("USD").unwrap()));
        assert_eq!(q.change(), Some(10.0));
        assert_eq!(q.change_percent(), Some(10.0));
    }

    #[test]
    fn change_needs_previous_close() {
        let q = base();
        assert_eq!(q.change(), None);
        assert_eq!(q.change_percent(), None);
        let down = base().with_previous_close(137.5).unwrap();
        assert_eq!(down.change(), Some(-27.5));
        assert_eq!(down.change_percent(), Some(-20.0));
    }

    #[test]
    fn rejects_bad_price() {
        let sym = Symbol::parse("AAPL").unwrap();
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 14, 30, 0).unwrap();
        assert!(matches!(
            kind(Quote::new(sym, f64::NAN, t)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::Price,
                ..
            }
        ));
        assert!(matches!(
            kind(Quote::new(sym, f64::INFINITY, t)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::Price,
                ..
            }
        ));
        assert_eq!(
            kind(Quote::new(sym, 0.0, t)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::Price,
                value: 0.0
            }
        );
        assert_eq!(
            kind(Quote::new(sym, -1.0, t)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::Price,
                value: -1.0
            }
        );
    }

    #[test]
    fn rejects_bad_optional_prices() {
        assert_eq!(
            kind(base().with_previous_close(0.0)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::PreviousClose,
                value: 0.0
            }
        );
        assert!(matches!(
            kind(base().with_previous_close(f64::NAN)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::PreviousClose,
                ..
            }
        ));
        assert_eq!(
            kind(base().with_open(-5.0)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::Open,
                value: -5.0
            }
        );
        assert!(matches!(
            kind(base().with_open(f64::NEG_INFINITY)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::Open,
                ..
            }
        ));
    }

    #[test]
    fn rejects_bad_day_range() {
        assert_eq!(
            kind(base().with_day_range(112.0, 99.0)),
            QuoteErrorKind::DayLowAboveHigh { low: 112.0, high: 99.0 }
        );
        assert!(matches!(
            kind(base().with_day_range(f64::NAN, 99.0)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::DayLow,
                ..
            }
        ));
        assert!(matches!(
            kind(base().with_day_range(99.0, f64::INFINITY)),
            QuoteErrorKind::NonFinite {
                field: QuoteField::DayHigh,
                ..
            }
        ));
        assert_eq!(
            kind(base().with_day_range(0.0, 99.0)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::DayLow,
                value: 0.0
            }
        );
        assert_eq!(
            kind(base().with_day_range(1.0, -99.0)),
            QuoteErrorKind::NonPositive {
                field: QuoteField::DayHigh,
                value: -99.0
            }
        );
        // Equal is a valid (flat) range, and the price need not be inside it.
        let q = base().with_day_range(50.0, 50.0).unwrap();
        assert_eq!((q.day_low(), q.day_high()), (Some(50.0), Some(50.0)));
    }

    #[test]
    fn rejects_bad_currency() {
        assert!(matches!(
            base().with_currency("dollars!"),
            Err(DomainError::InvalidCurrency { .. })
        ));
        assert_eq!(base().with_currency("GBp").unwrap().currency().unwrap().as_str(), "GBX");
    }
}
