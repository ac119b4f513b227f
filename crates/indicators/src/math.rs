//! TA-Lib's numeric conventions, shared by every indicator that follows them.

/// TA-Lib's `TA_EPSILON`, the width of its zero tests.
pub(crate) const EPSILON: f64 = 1e-14;

/// TA-Lib's `TA_IS_ZERO`: `|x| < 1e-14`. DX outputs no new value for a sum of the two DI this
/// small, as TA-Lib does.
#[inline(always)]
pub(crate) fn is_zero(x: f64) -> bool {
    -EPSILON < x && x < EPSILON
}

/// TA-Lib's `TA_IS_ZERO_SCALED`: `|x| <= 1e-14·scale`, a zero test relative to the magnitude of
/// the operands `x` is the difference of (a window flat to 14 significant digits is flat,
/// whatever the price level).
#[inline(always)]
pub(crate) fn is_zero_scaled(x: f64, scale: f64) -> bool {
    x.abs() <= EPSILON * scale
}

/// Clamps an oscillator into `[0, 100]`: running sums can leave a value a few units in the last
/// place outside its range, and users compare against the bounds. NaN stays NaN.
#[inline(always)]
pub(crate) fn clamp_percent(x: f64) -> f64 {
    x.clamp(0.0, 100.0)
}

/// `value` where `keep` holds, `+0.0` elsewhere, by masking its bits: no branch for the
/// processor to mispredict when `keep` follows the prices (up or down bars, which a random walk
/// makes a coin toss).
#[inline(always)]
pub(crate) fn keep_if(keep: bool, value: f64) -> f64 {
    f64::from_bits(value.to_bits() & u64::from(keep).wrapping_neg())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_if_keeps_or_zeroes() {
        assert_eq!(keep_if(true, -2.5), -2.5);
        assert!(keep_if(true, f64::NAN).is_nan());
        assert_eq!(keep_if(false, -2.5).to_bits(), 0.0f64.to_bits());
        assert_eq!(keep_if(false, f64::INFINITY).to_bits(), 0.0f64.to_bits());
        assert_eq!(keep_if(false, f64::NAN).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn thresholds_follow_ta_lib() {
        assert!(is_zero(0.0) && is_zero(9e-15) && is_zero(-9e-15));
        assert!(!is_zero(1e-14) && !is_zero(-1e-14));
        assert!(!is_zero(f64::NAN));
        assert!(is_zero_scaled(1e-12, 200.0) && !is_zero_scaled(1e-11, 200.0));
        assert!(!is_zero_scaled(f64::NAN, 1.0));
    }

    #[test]
    fn clamp_keeps_nan() {
        assert_eq!(clamp_percent(100.00000000000001), 100.0);
        assert_eq!(clamp_percent(-1e-15), 0.0);
        assert_eq!(clamp_percent(42.0), 42.0);
        assert!(clamp_percent(f64::NAN).is_nan());
    }
}
