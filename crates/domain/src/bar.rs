//! [`Bar`]: one validated OHLCV bar.

use serde::{Deserialize, Serialize};

use crate::{BarErrorKind, BarField, BarTime, DomainError};

/// One open-high-low-close-volume bar, valid by construction.
///
/// Built only by [`Bar::new`] (and [`Bar::with_adj_close`]), which reject, never repair:
/// - a price that is NaN or infinite ([`BarErrorKind::NonFinite`], naming the field);
/// - a price that is zero or negative ([`BarErrorKind::NonPositive`]). Yahoo sends `0` as a
///   placeholder for a missing value, and a zero must never be stored as if it were a price.
///   This also rejects the negative-price bars of WTI crude futures (`CL=F`) of 20 April 2020:
///   prices here are strictly positive;
/// - `low > high` ([`BarErrorKind::LowAboveHigh`]);
/// - an open or close outside `[low, high]` ([`BarErrorKind::OpenOutOfRange`],
///   [`BarErrorKind::CloseOutOfRange`]).
///
/// The volume may be zero (Yahoo reports 0 for indices). The adjusted close is checked only for
/// being finite and positive: it is on another scale than the raw prices after splits and
/// dividends, so it need not lie within `[low, high]`.
///
/// JSON (serde): `{"time":"2020-01-02","open":..,"high":..,"low":..,"close":..,"adj_close":..,"volume":..}`
/// with `adj_close` left out when absent; deserializing runs the same validation, so a JSON bar
/// with `low > high` is a deserialization error.
///
/// ```
/// use chrono::NaiveDate;
/// use finstage_domain::{Bar, BarErrorKind, DomainError};
///
/// let day = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
/// let bar = Bar::new(day, 74.06, 75.15, 73.80, 75.09, 135_480_400)?.with_adj_close(73.06)?;
/// assert_eq!(bar.adj_close(), Some(73.06));
///
/// let missing = Bar::new(day, 0.0, 75.15, 73.80, 75.09, 0);
/// assert!(matches!(missing, Err(DomainError::InvalidBar(BarErrorKind::NonPositive { .. }))));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBar")]
pub struct Bar {
    time: BarTime,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    adj_close: Option<f64>,
    volume: u64,
}

impl Bar {
    /// Builds a bar after checking every rule listed on [`Bar`], in this order: each price finite
    /// (open, high, low, close), each positive (same order), `low <= high`, the open within
    /// `[low, high]`, the close within `[low, high]`.
    ///
    /// # Errors
    /// [`DomainError::InvalidBar`] naming the first rule broken.
    pub fn new(
        time: impl Into<BarTime>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: u64,
    ) -> Result<Self, DomainError> {
        let prices = [
            (BarField::Open, open),
            (BarField::High, high),
            (BarField::Low, low),
            (BarField::Close, close),
        ];
        for (field, value) in prices {
            check_finite(field, value)?;
        }
        for (field, value) in prices {
            check_positive(field, value)?;
        }
        let fail = |kind| Err(DomainError::InvalidBar(kind));
        if low > high {
            return fail(BarErrorKind::LowAboveHigh { low, high });
        }
        if !(low..=high).contains(&open) {
            return fail(BarErrorKind::OpenOutOfRange { open, low, high });
        }
        if !(low..=high).contains(&close) {
            return fail(BarErrorKind::CloseOutOfRange { close, low, high });
        }
        Ok(Self {
            time: time.into(),
            open,
            high,
            low,
            close,
            adj_close: None,
            volume,
        })
    }

    /// Sets the split- and dividend-adjusted close.
    ///
    /// # Errors
    /// [`DomainError::InvalidBar`] with [`BarErrorKind::NonFinite`] or
    /// [`BarErrorKind::NonPositive`] naming [`BarField::AdjClose`].
    pub fn with_adj_close(mut self, adj_close: f64) -> Result<Self, DomainError> {
        check_finite(BarField::AdjClose, adj_close)?;
        check_positive(BarField::AdjClose, adj_close)?;
        self.adj_close = Some(adj_close);
        Ok(self)
    }

    /// When the bar starts.
    pub const fn time(&self) -> BarTime {
        self.time
    }

    /// The opening price.
    pub const fn open(&self) -> f64 {
        self.open
    }

    /// The highest price.
    pub const fn high(&self) -> f64 {
        self.high
    }

    /// The lowest price.
    pub const fn low(&self) -> f64 {
        self.low
    }

    /// The closing price (not adjusted).
    pub const fn close(&self) -> f64 {
        self.close
    }

    /// The split- and dividend-adjusted close, when the source gave one.
    pub const fn adj_close(&self) -> Option<f64> {
        self.adj_close
    }

    /// The traded volume (0 for indices).
    pub const fn volume(&self) -> u64 {
        self.volume
    }

    /// `(high + low + close) / 3`.
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}

fn check_finite(field: BarField, value: f64) -> Result<(), DomainError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(DomainError::InvalidBar(BarErrorKind::NonFinite { field, value }))
    }
}

fn check_positive(field: BarField, value: f64) -> Result<(), DomainError> {
    if value > 0.0 {
        Ok(())
    } else {
        Err(DomainError::InvalidBar(BarErrorKind::NonPositive { field, value }))
    }
}

/// The unchecked JSON shape of a [`Bar`], validated by `TryFrom`.
#[derive(Deserialize)]
struct RawBar {
    time: BarTime,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    #[serde(default)]
    adj_close: Option<f64>,
    volume: u64,
}

impl TryFrom<RawBar> for Bar {
    type Error = DomainError;

    fn try_from(raw: RawBar) -> Result<Self, Self::Error> {
        let bar = Self::new(raw.time, raw.open, raw.high, raw.low, raw.close, raw.volume)?;
        match raw.adj_close {
            Some(adj_close) => bar.with_adj_close(adj_close),
            None => Ok(bar),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()
    }

    fn kind(r: Result<Bar, DomainError>) -> BarErrorKind {
        match r {
            Err(DomainError::InvalidBar(kind)) => kind,
            other => panic!("expected an invalid bar, got {other:?}"),
        }
    }

    #[test]
    fn valid_bar_and_getters() {
        let bar = Bar::new(day(), 10.0, 12.0, 9.0, 11.0, 1_000)
            .unwrap()
            .with_adj_close(5.5)
            .unwrap();
        assert_eq!(bar.time(), BarTime::Date(day()));
        assert_eq!(
            (bar.open(), bar.high(), bar.low(), bar.close()),
            (10.0, 12.0, 9.0, 11.0)
        );
        assert_eq!(bar.adj_close(), Some(5.5));
        assert_eq!(bar.volume(), 1_000);
        assert!((bar.typical_price() - 32.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn intraday_bar_takes_a_timestamp() {
        let ts = Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap();
        let bar = Bar::new(ts, 1.0, 1.0, 1.0, 1.0, 0).unwrap();
        assert_eq!(bar.time(), BarTime::Timestamp(ts));
        assert_eq!(bar.adj_close(), None);
        assert_eq!(bar.volume(), 0);
    }

    #[test]
    fn boundaries_are_inclusive() {
        assert!(Bar::new(day(), 9.0, 12.0, 9.0, 12.0, 0).is_ok());
        assert!(Bar::new(day(), 12.0, 12.0, 9.0, 9.0, 0).is_ok());
        assert!(Bar::new(day(), f64::MIN_POSITIVE, f64::MAX, f64::MIN_POSITIVE, f64::MAX, 0).is_ok());
    }

    #[test]
    fn rejects_non_finite_prices_naming_the_field() {
        let cases = [
            (Bar::new(day(), f64::NAN, 12.0, 9.0, 11.0, 0), BarField::Open),
            (Bar::new(day(), 10.0, f64::INFINITY, 9.0, 11.0, 0), BarField::High),
            (Bar::new(day(), 10.0, 12.0, f64::NEG_INFINITY, 11.0, 0), BarField::Low),
            (Bar::new(day(), 10.0, 12.0, 9.0, f64::NAN, 0), BarField::Close),
        ];
        for (result, expected) in cases {
            match kind(result) {
                BarErrorKind::NonFinite { field, value } => {
                    assert_eq!(field, expected);
                    assert!(!value.is_finite());
                }
                other => panic!("{expected:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_zero_and_negative_prices() {
        assert_eq!(
            kind(Bar::new(day(), 0.0, 12.0, 9.0, 11.0, 0)),
            BarErrorKind::NonPositive {
                field: BarField::Open,
                value: 0.0
            }
        );
        assert_eq!(
            kind(Bar::new(day(), 10.0, 0.0, 9.0, 11.0, 0)),
            BarErrorKind::NonPositive {
                field: BarField::High,
                value: 0.0
            }
        );
        assert_eq!(
            kind(Bar::new(day(), 10.0, 12.0, -0.0, 11.0, 0)),
            BarErrorKind::NonPositive {
                field: BarField::Low,
                value: 0.0
            }
        );
        assert_eq!(
            kind(Bar::new(day(), 10.0, 12.0, 9.0, 0.0, 0)),
            BarErrorKind::NonPositive {
                field: BarField::Close,
                value: 0.0
            }
        );
        // WTI crude, 20 April 2020: settled at -37.63.
        let wti = NaiveDate::from_ymd_opt(2020, 4, 20).unwrap();
        assert_eq!(
            kind(Bar::new(wti, 17.73, 17.85, -40.32, -37.63, 247_947)),
            BarErrorKind::NonPositive {
                field: BarField::Low,
                value: -40.32
            }
        );
    }

    #[test]
    fn finiteness_is_checked_before_sign() {
        assert!(matches!(
            kind(Bar::new(day(), -1.0, f64::NAN, 9.0, 11.0, 0)),
            BarErrorKind::NonFinite {
                field: BarField::High,
                ..
            }
        ));
    }

    #[test]
    fn rejects_low_above_high() {
        assert_eq!(
            kind(Bar::new(day(), 10.0, 9.0, 12.0, 10.0, 0)),
            BarErrorKind::LowAboveHigh { low: 12.0, high: 9.0 }
        );
    }

    #[test]
    fn rejects_open_outside_range() {
        assert_eq!(
            kind(Bar::new(day(), 12.5, 12.0, 9.0, 11.0, 0)),
            BarErrorKind::OpenOutOfRange {
                open: 12.5,
                low: 9.0,
                high: 12.0
            }
        );
        assert_eq!(
            kind(Bar::new(day(), 8.0, 12.0, 9.0, 11.0, 0)),
            BarErrorKind::OpenOutOfRange {
                open: 8.0,
                low: 9.0,
                high: 12.0
            }
        );
    }

    #[test]
    fn rejects_close_outside_range() {
        assert_eq!(
            kind(Bar::new(day(), 10.0, 12.0, 9.0, 12.01, 0)),
            BarErrorKind::CloseOutOfRange {
                close: 12.01,
                low: 9.0,
                high: 12.0
            }
        );
        assert_eq!(
            kind(Bar::new(day(), 10.0, 12.0, 9.0, 8.99, 0)),
            BarErrorKind::CloseOutOfRange {
                close: 8.99,
                low: 9.0,
                high: 12.0
            }
        );
    }

    #[test]
    fn rejects_bad_adj_close() {
        let bar = Bar::new(day(), 10.0, 12.0, 9.0, 11.0, 0).unwrap();
        assert!(matches!(
            kind(bar.with_adj_close(f64::NAN)),
            BarErrorKind::NonFinite {
                field: BarField::AdjClose,
                ..
            }
        ));
        assert_eq!(
            kind(bar.with_adj_close(0.0)),
            BarErrorKind::NonPositive {
                field: BarField::AdjClose,
                value: 0.0
            }
        );
        assert_eq!(
            kind(bar.with_adj_close(-3.0)),
            BarErrorKind::NonPositive {
                field: BarField::AdjClose,
                value: -3.0
            }
        );
        // Outside [low, high] is fine: adjusted prices are on another scale.
        assert_eq!(bar.with_adj_close(0.25).unwrap().adj_close(), Some(0.25));
    }
}
