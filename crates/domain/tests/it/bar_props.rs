//! Property tests of `Bar`: valid bars construct and round-trip through JSON exactly; bars that
//! break a rule never construct.

use chrono::{DateTime, NaiveDate, Utc};
use finstage_domain::{Bar, BarErrorKind, BarField, BarTime, DomainError};
use proptest::prelude::*;

fn bar_time() -> impl Strategy<Value = BarTime> {
    prop_oneof![
        // 1900-01-01 .. 2199-12-31 as days since the Common Era.
        (693_596_i32..803_533).prop_map(|days| { BarTime::from(NaiveDate::from_num_days_from_ce_opt(days).unwrap()) }),
        // 1900 .. 2200, whole seconds or any nanosecond.
        (
            -2_208_988_800_i64..7_258_118_400,
            prop_oneof![Just(0_u32), 0_u32..1_000_000_000]
        )
            .prop_map(|(secs, nanos)| BarTime::from(DateTime::<Utc>::from_timestamp(secs, nanos).unwrap())),
    ]
}

/// A strictly positive, finite price over many orders of magnitude.
fn price() -> impl Strategy<Value = f64> {
    prop_oneof![
        1e-6_f64..1e7,
        (1_u64..10_000_000).prop_map(|cents| cents as f64 / 100.0),
        Just(f64::MIN_POSITIVE),
    ]
}

/// Values that make a valid bar: `low <= open, close <= high`, all positive and finite.
#[derive(Debug, Clone, Copy)]
struct Parts {
    time: BarTime,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    adj_close: Option<f64>,
    volume: u64,
}

fn valid_parts() -> impl Strategy<Value = Parts> {
    (
        bar_time(),
        price(),
        0.0_f64..1.0,
        0.0_f64..=1.0,
        0.0_f64..=1.0,
        proptest::option::of(price()),
        any::<u64>(),
    )
        .prop_map(|(time, low, spread, o, c, adj_close, volume)| {
            let high = low * (1.0 + spread);
            let within = |t: f64| (low + t * (high - low)).clamp(low, high);
            Parts {
                time,
                open: within(o),
                high,
                low,
                close: within(c),
                adj_close,
                volume,
            }
        })
}

fn build(p: Parts) -> Result<Bar, DomainError> {
    let bar = Bar::new(p.time, p.open, p.high, p.low, p.close, p.volume)?;
    match p.adj_close {
        Some(adj) => bar.with_adj_close(adj),
        None => Ok(bar),
    }
}

fn set(p: &mut Parts, field: BarField, value: f64) {
    match field {
        BarField::Open => p.open = value,
        BarField::High => p.high = value,
        BarField::Low => p.low = value,
        BarField::Close => p.close = value,
        _ => p.adj_close = Some(value),
    }
}

fn field() -> impl Strategy<Value = BarField> {
    prop_oneof![
        Just(BarField::Open),
        Just(BarField::High),
        Just(BarField::Low),
        Just(BarField::Close),
        Just(BarField::AdjClose),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn valid_bars_construct_and_round_trip_exactly(p in valid_parts()) {
        let bar = build(p)?;
        prop_assert_eq!(bar.time(), p.time);
        prop_assert_eq!(bar.open().to_bits(), p.open.to_bits());
        prop_assert_eq!(bar.high().to_bits(), p.high.to_bits());
        prop_assert_eq!(bar.low().to_bits(), p.low.to_bits());
        prop_assert_eq!(bar.close().to_bits(), p.close.to_bits());
        prop_assert_eq!(bar.adj_close().map(f64::to_bits), p.adj_close.map(f64::to_bits));
        prop_assert_eq!(bar.volume(), p.volume);
        prop_assert!(bar.low() <= bar.typical_price() * (1.0 + 1e-12));
        prop_assert!(bar.typical_price() <= bar.high() * (1.0 + 1e-12));

        let json = serde_json::to_string(&bar).unwrap();
        let back: Bar = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, bar, "through {}", json);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn low_above_high_always_fails(p in valid_parts(), gap in 1e-9_f64..1.0) {
        let mut p = p;
        p.low = p.high * (1.0 + gap);
        prop_assume!(p.low > p.high && p.low.is_finite());
        let err = build(p).unwrap_err();
        prop_assert_eq!(err, DomainError::InvalidBar(BarErrorKind::LowAboveHigh { low: p.low, high: p.high }));

        // The same values as JSON are a deserialization error too.
        let json = serde_json::json!({
            "time": p.time, "open": p.open, "high": p.high, "low": p.low, "close": p.close, "volume": p.volume,
        });
        let de = serde_json::from_value::<Bar>(json).unwrap_err();
        prop_assert!(de.to_string().contains("is above high"), "{}", de);
    }

    #[test]
    fn non_finite_prices_always_fail(
        p in valid_parts(),
        field in field(),
        bad in prop_oneof![Just(f64::NAN), Just(-f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        let mut p = p;
        set(&mut p, field, bad);
        match build(p) {
            Err(DomainError::InvalidBar(BarErrorKind::NonFinite { field: f, value })) => {
                prop_assert_eq!(f, field);
                prop_assert!(!value.is_finite());
            }
            other => prop_assert!(false, "{:?} = {} gave {:?}", field, bad, other),
        }
    }

    #[test]
    fn non_positive_prices_always_fail(
        p in valid_parts(),
        field in field(),
        bad in prop_oneof![Just(0.0_f64), Just(-0.0_f64), -1e7_f64..0.0, Just(-f64::MIN_POSITIVE)],
    ) {
        let mut p = p;
        set(&mut p, field, bad);
        match build(p) {
            Err(DomainError::InvalidBar(BarErrorKind::NonPositive { field: f, value })) => {
                prop_assert_eq!(f, field);
                prop_assert_eq!(value.to_bits(), bad.to_bits());
            }
            other => prop_assert!(false, "{:?} = {} gave {:?}", field, bad, other),
        }
    }

    #[test]
    fn open_or_close_outside_range_always_fails(p in valid_parts(), above in any::<bool>(), close in any::<bool>(), gap in 1e-6_f64..1.0) {
        let mut p = p;
        let out = if above { p.high * (1.0 + gap) } else { p.low * (1.0 - gap) };
        prop_assume!(out > 0.0 && (out > p.high || out < p.low));
        if close { p.close = out } else { p.open = out }
        let is_expected = matches!(
            (close, build(p)),
            (false, Err(DomainError::InvalidBar(BarErrorKind::OpenOutOfRange { .. })))
                | (true, Err(DomainError::InvalidBar(BarErrorKind::CloseOutOfRange { .. })))
        );
        prop_assert!(is_expected);
    }
}
