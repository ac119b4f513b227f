//! TA-Lib's C library, loaded at run time: the classic `TA_*` batch functions behind safe
//! wrappers, for the benches to call directly (no Python, no build script, nothing at compile time).
//!
//! The library is the one bundled by the PyPI wheel `TA-Lib` (for example
//! `site-packages/ta_lib.libs/libta-lib-*.so*`); [`TaLib::from_env`] loads the path in
//! [`ENV_VAR`]. The signatures below are declared by hand from TA-Lib's `ta_func.h`:
//! `TA_RetCode TA_X(int startIdx, int endIdx, const double in…[], params…, int *outBegIdx,
//! int *outNBElement, double out…[])`, where `TA_RetCode` is an `int` and 0 is success.

// FFI cannot be written without `unsafe`; it is confined to this module.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int};
use std::fmt;

use libloading::Library;

/// The environment variable holding the path of TA-Lib's shared library.
pub const ENV_VAR: &str = "FINSTAGE_TALIB_LIB";

/// `TA_MAType_SMA`: the moving-average type 0, TA-Lib's default for BBANDS and STOCH.
const MA_TYPE_SMA: c_int = 0;

type Initialize = unsafe extern "C" fn() -> c_int;
type VersionString = unsafe extern "C" fn() -> *const c_char;
/// `TA_SMA`, `TA_EMA`, `TA_RSI`: one series in, one period, one series out.
type Period1 = unsafe extern "C" fn(c_int, c_int, *const f64, c_int, *mut c_int, *mut c_int, *mut f64) -> c_int;
type Macd = unsafe extern "C" fn(
    c_int,
    c_int,
    *const f64,
    c_int,
    c_int,
    c_int,
    *mut c_int,
    *mut c_int,
    *mut f64,
    *mut f64,
    *mut f64,
) -> c_int;
type BBands = unsafe extern "C" fn(
    c_int,
    c_int,
    *const f64,
    c_int,
    f64,
    f64,
    c_int,
    *mut c_int,
    *mut c_int,
    *mut f64,
    *mut f64,
    *mut f64,
) -> c_int;
type Atr = unsafe extern "C" fn(
    c_int,
    c_int,
    *const f64,
    *const f64,
    *const f64,
    c_int,
    *mut c_int,
    *mut c_int,
    *mut f64,
) -> c_int;
type Stoch = unsafe extern "C" fn(
    c_int,
    c_int,
    *const f64,
    *const f64,
    *const f64,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    *mut c_int,
    *mut c_int,
    *mut f64,
    *mut f64,
) -> c_int;

/// Why TA-Lib could not be loaded or a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaLibError {
    /// The library or one of its symbols could not be loaded.
    #[error("cannot load TA-Lib from {path}: {source}")]
    Load {
        /// The path tried.
        path: String,
        /// What the dynamic loader said.
        source: libloading::Error,
    },
    /// A TA-Lib function returned a non-zero `TA_RetCode`.
    #[error("{function} returned TA_RetCode {code}")]
    Call {
        /// The C function.
        function: &'static str,
        /// Its return code.
        code: i32,
    },
    /// Inputs of different lengths, an output shorter than the input, or more than `i32::MAX`
    /// values.
    #[error("{function}: {problem}")]
    BadLength {
        /// The C function that would have been called.
        function: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// Which outputs a call wrote: `len` values from index 0 of each output buffer, for the inputs
/// from index `begin` on (TA-Lib's `outBegIdx` and `outNBElement`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The input index of the first output value: the lookback.
    pub begin: usize,
    /// How many output values were written.
    pub len: usize,
}

/// TA-Lib's C library, initialised, with the functions the benches call.
pub struct TaLib {
    initialize: Initialize,
    version: VersionString,
    sma: Period1,
    ema: Period1,
    rsi: Period1,
    macd: Macd,
    bbands: BBands,
    atr: Atr,
    stoch: Stoch,
    path: String,
    // The function pointers above point into this library: it lives as long as they do.
    _library: Library,
}

impl fmt::Debug for TaLib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaLib")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TaLib {
    /// Loads the library named by [`ENV_VAR`]: `None` when the variable is unset or empty.
    ///
    /// # Errors
    /// [`TaLibError::Load`] when the variable names something that is not a loadable TA-Lib, or
    /// [`TaLibError::Call`] when `TA_Initialize` fails.
    pub fn from_env() -> Result<Option<Self>, TaLibError> {
        match std::env::var(ENV_VAR) {
            Ok(path) if !path.is_empty() => Self::load(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// The line benches print when TA-Lib is not configured.
    pub fn skipped_message() -> String {
        format!(
            "TA-Lib rows are skipped: set {ENV_VAR} to TA-Lib's shared library, e.g. the one in the \
             TA-Lib wheel's site-packages/ta_lib.libs/ (tools/bench/indicators.sh finds it)"
        )
    }

    /// Loads TA-Lib from `path` and calls `TA_Initialize`.
    ///
    /// # Errors
    /// As [`TaLib::from_env`].
    pub fn load(path: &str) -> Result<Self, TaLibError> {
        let load_error = |source| TaLibError::Load {
            path: path.to_string(),
            source,
        };
        // SAFETY: loading a shared library runs its initialisers; TA-Lib's only set up its own
        // globals. The path is the user's explicit choice of a TA-Lib build.
        let library = unsafe { Library::new(path) }.map_err(load_error)?;
        // SAFETY: each symbol is declared with the type of its C prototype in ta_func.h /
        // ta_common.h (TA-Lib 0.4 to 0.8 share these classic signatures); the copied function
        // pointers are stored next to `library`, which is dropped last and never unloaded before.
        let talib = unsafe {
            Self {
                initialize: *library.get::<Initialize>(b"TA_Initialize\0").map_err(load_error)?,
                version: *library
                    .get::<VersionString>(b"TA_GetVersionString\0")
                    .map_err(load_error)?,
                sma: *library.get::<Period1>(b"TA_SMA\0").map_err(load_error)?,
                ema: *library.get::<Period1>(b"TA_EMA\0").map_err(load_error)?,
                rsi: *library.get::<Period1>(b"TA_RSI\0").map_err(load_error)?,
                macd: *library.get::<Macd>(b"TA_MACD\0").map_err(load_error)?,
                bbands: *library.get::<BBands>(b"TA_BBANDS\0").map_err(load_error)?,
                atr: *library.get::<Atr>(b"TA_ATR\0").map_err(load_error)?,
                stoch: *library.get::<Stoch>(b"TA_STOCH\0").map_err(load_error)?,
                path: path.to_string(),
                _library: library,
            }
        };
        // SAFETY: TA_Initialize takes no arguments; calling it more than once is allowed.
        let code = unsafe { (talib.initialize)() };
        check("TA_Initialize", code)?;
        Ok(talib)
    }

    /// Where the library was loaded from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `TA_GetVersionString()`, e.g. `0.8.1 (Oct 12 2026 17:59:00)`.
    pub fn version(&self) -> String {
        // SAFETY: TA_GetVersionString returns a pointer to a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr((self.version)()) };
        text.to_string_lossy().into_owned()
    }

    /// `TA_SMA(period)` of `input` into `out` (at least as long as `input`).
    ///
    /// # Errors
    /// [`TaLibError::BadLength`] or [`TaLibError::Call`].
    pub fn sma(&self, input: &[f64], period: i32, out: &mut [f64]) -> Result<Written, TaLibError> {
        self.period1("TA_SMA", self.sma, input, period, out)
    }

    /// `TA_EMA(period)`, as [`TaLib::sma`].
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn ema(&self, input: &[f64], period: i32, out: &mut [f64]) -> Result<Written, TaLibError> {
        self.period1("TA_EMA", self.ema, input, period, out)
    }

    /// `TA_RSI(period)`, as [`TaLib::sma`].
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn rsi(&self, input: &[f64], period: i32, out: &mut [f64]) -> Result<Written, TaLibError> {
        self.period1("TA_RSI", self.rsi, input, period, out)
    }

    fn period1(
        &self,
        function: &'static str,
        f: Period1,
        input: &[f64],
        period: i32,
        out: &mut [f64],
    ) -> Result<Written, TaLibError> {
        let end = end_index(function, &[input], &[&*out])?;
        let (mut begin, mut len) = (0, 0);
        if let Some(end) = end {
            // SAFETY: `input` holds `end + 1` values and `out` at least as many (checked by
            // `end_index`); TA-Lib reads inputs 0..=end and writes at most end + 1 outputs.
            let code = unsafe { f(0, end, input.as_ptr(), period, &mut begin, &mut len, out.as_mut_ptr()) };
            check(function, code)?;
        }
        written(begin, len)
    }

    /// `TA_MACD(fast, slow, signal)` into the three outputs.
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn macd(
        &self,
        input: &[f64],
        (fast, slow, signal): (i32, i32, i32),
        [macd, signal_out, hist]: [&mut [f64]; 3],
    ) -> Result<Written, TaLibError> {
        let end = end_index("TA_MACD", &[input], &[&*macd, &*signal_out, &*hist])?;
        let (mut begin, mut len) = (0, 0);
        if let Some(end) = end {
            // SAFETY: as in `period1`, for one input and three outputs.
            let code = unsafe {
                (self.macd)(
                    0,
                    end,
                    input.as_ptr(),
                    fast,
                    slow,
                    signal,
                    &mut begin,
                    &mut len,
                    macd.as_mut_ptr(),
                    signal_out.as_mut_ptr(),
                    hist.as_mut_ptr(),
                )
            };
            check("TA_MACD", code)?;
        }
        written(begin, len)
    }

    /// `TA_BBANDS(period, k, k, SMA)` into upper, middle and lower.
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn bbands(
        &self,
        input: &[f64],
        (period, k): (i32, f64),
        [upper, middle, lower]: [&mut [f64]; 3],
    ) -> Result<Written, TaLibError> {
        let end = end_index("TA_BBANDS", &[input], &[&*upper, &*middle, &*lower])?;
        let (mut begin, mut len) = (0, 0);
        if let Some(end) = end {
            // SAFETY: as in `period1`, for one input and three outputs.
            let code = unsafe {
                (self.bbands)(
                    0,
                    end,
                    input.as_ptr(),
                    period,
                    k,
                    k,
                    MA_TYPE_SMA,
                    &mut begin,
                    &mut len,
                    upper.as_mut_ptr(),
                    middle.as_mut_ptr(),
                    lower.as_mut_ptr(),
                )
            };
            check("TA_BBANDS", code)?;
        }
        written(begin, len)
    }

    /// `TA_ATR(period)` of high, low and close.
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn atr(&self, [high, low, close]: [&[f64]; 3], period: i32, out: &mut [f64]) -> Result<Written, TaLibError> {
        let end = end_index("TA_ATR", &[high, low, close], &[&*out])?;
        let (mut begin, mut len) = (0, 0);
        if let Some(end) = end {
            // SAFETY: as in `period1`, for three inputs of one length and one output.
            let code = unsafe {
                (self.atr)(
                    0,
                    end,
                    high.as_ptr(),
                    low.as_ptr(),
                    close.as_ptr(),
                    period,
                    &mut begin,
                    &mut len,
                    out.as_mut_ptr(),
                )
            };
            check("TA_ATR", code)?;
        }
        written(begin, len)
    }

    /// `TA_STOCH(k period, SMA(k slowing), SMA(d period))` of high, low and close into %K and %D.
    ///
    /// # Errors
    /// As [`TaLib::sma`].
    pub fn stoch(
        &self,
        [high, low, close]: [&[f64]; 3],
        (k_period, k_slowing, d_period): (i32, i32, i32),
        [k, d]: [&mut [f64]; 2],
    ) -> Result<Written, TaLibError> {
        let end = end_index("TA_STOCH", &[high, low, close], &[&*k, &*d])?;
        let (mut begin, mut len) = (0, 0);
        if let Some(end) = end {
            // SAFETY: as in `period1`, for three inputs of one length and two outputs.
            let code = unsafe {
                (self.stoch)(
                    0,
                    end,
                    high.as_ptr(),
                    low.as_ptr(),
                    close.as_ptr(),
                    k_period,
                    k_slowing,
                    MA_TYPE_SMA,
                    d_period,
                    MA_TYPE_SMA,
                    &mut begin,
                    &mut len,
                    k.as_mut_ptr(),
                    d.as_mut_ptr(),
                )
            };
            check("TA_STOCH", code)?;
        }
        written(begin, len)
    }
}

/// TA-Lib's `endIdx` for inputs that must share one length and outputs at least that long:
/// `None` for empty inputs (no call is made then).
fn end_index(function: &'static str, inputs: &[&[f64]], outputs: &[&[f64]]) -> Result<Option<c_int>, TaLibError> {
    let bad = |problem: String| Err(TaLibError::BadLength { function, problem });
    let len = inputs.first().map_or(0, |i| i.len());
    if inputs.iter().any(|i| i.len() != len) {
        return bad("inputs of different lengths".into());
    }
    if let Some(short) = outputs.iter().find(|o| o.len() < len) {
        return bad(format!("an output of {} values for {len} inputs", short.len()));
    }
    if len == 0 {
        return Ok(None);
    }
    match c_int::try_from(len - 1) {
        Ok(end) => Ok(Some(end)),
        Err(_) => bad(format!("{len} values is more than TA-Lib's int indices can address")),
    }
}

fn check(function: &'static str, code: c_int) -> Result<(), TaLibError> {
    if code == 0 {
        Ok(())
    } else {
        Err(TaLibError::Call { function, code })
    }
}

fn written(begin: c_int, len: c_int) -> Result<Written, TaLibError> {
    // TA-Lib never reports negative indices on success; treat one as a broken binding.
    match (usize::try_from(begin), usize::try_from(len)) {
        (Ok(begin), Ok(len)) => Ok(Written { begin, len }),
        _ => Err(TaLibError::Call {
            function: "TA-Lib output range",
            code: -1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_before_any_call() {
        let a = [1.0; 4];
        let short = [0.0; 3];
        assert!(matches!(
            end_index("TA_ATR", &[&a, &a, &short], &[&a]),
            Err(TaLibError::BadLength { .. })
        ));
        assert!(matches!(
            end_index("TA_SMA", &[&a], &[&short]),
            Err(TaLibError::BadLength { .. })
        ));
        assert_eq!(end_index("TA_SMA", &[&a], &[&a]).unwrap(), Some(3));
        assert_eq!(end_index("TA_SMA", &[&[]], &[&[]]).unwrap(), None);
    }

    #[test]
    fn a_missing_library_is_a_load_error() {
        let err = TaLib::load("/nonexistent/libta-lib.so").unwrap_err();
        assert!(matches!(err, TaLibError::Load { .. }));
        assert!(err.to_string().contains("/nonexistent/libta-lib.so"));
    }
}
