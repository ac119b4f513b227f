//! Shared pieces of the `finstage-indicators` benchmarks: deterministic data, TA-Lib's C library
//! loaded at run time, the cases the benches run, and the report that reads criterion's results.
//!
//! The benches live in `benches/` (`compare`: one indicator at a time against TA-Lib, `ta`,
//! `yata` and `kand`; `all_indicators`: every default indicator over 500 symbols);
//! `tools/bench/indicators.sh` runs them and prints the report (`src/bin/report.rs`).

pub mod data;
pub mod report;
pub mod streaming;
pub mod talib;

/// One indicator of the `compare` bench: its criterion group prefix and its label in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The group prefix, e.g. `sma` (the groups are `sma_2520`, `sma_1000000`).
    pub id: &'static str,
    /// How the report names it, e.g. `SMA(20)`.
    pub label: &'static str,
}

/// The indicators of the `compare` bench, in report order.
pub const CASES: [Case; 7] = [
    Case {
        id: "sma",
        label: "SMA(20)",
    },
    Case {
        id: "ema",
        label: "EMA(20)",
    },
    Case {
        id: "rsi",
        label: "RSI(14)",
    },
    Case {
        id: "macd",
        label: "MACD(12,26,9)",
    },
    Case {
        id: "bbands",
        label: "BBANDS(20,2)",
    },
    Case {
        id: "atr",
        label: "ATR(14)",
    },
    Case {
        id: "stoch",
        label: "STOCH(14,3,3)",
    },
];

/// Series lengths of the `compare` bench: ten years of daily bars, and a million bars.
pub const SIZES: [usize; 2] = [data::TEN_YEARS_DAILY, data::ONE_MILLION];

/// The benchmark functions of each `compare` group (criterion function ids) with their report
/// column titles: finstage's batch and streaming paths, then the other libraries.
pub const LIBRARIES: [(&str, &str); 6] = [
    ("finstage", "finstage"),
    ("finstage_stream", "finstage stream"),
    ("talib", "TA-Lib"),
    ("ta", "ta"),
    ("yata", "yata"),
    ("kand", "kand"),
];

/// The criterion group of `case` over `bars` bars, e.g. `macd_2520`.
pub fn group_name(case: &Case, bars: usize) -> String {
    format!("{}_{bars}", case.id)
}

/// The `all_indicators` bench: its group, and its functions with their report labels.
pub mod all {
    /// Symbols per iteration.
    pub const SYMBOLS: usize = 500;
    /// Bars per symbol.
    pub const BARS: usize = crate::data::TEN_YEARS_DAILY;
    /// The criterion group.
    pub const GROUP: &str = "all_indicators";
    /// `compute` over each symbol's bars.
    pub const COMPUTE: &str = "compute";
    /// One `Computation`, `reset` and `extend_into` the same `Columns` for each symbol.
    pub const REUSED: &str = "computation_reused";
    /// One `Computation` per symbol fed bar by bar with `push`.
    pub const PUSH: &str = "computation_push";
    /// One streaming state per indicator and symbol, fed bar by bar.
    pub const STATES: &str = "states";
    /// The functions with their report labels.
    pub const FUNCTIONS: [(&str, &str); 4] = [
        (COMPUTE, "batch: `compute` per symbol"),
        (REUSED, "batch: one `Computation`, `reset` + `extend_into` per symbol"),
        (PUSH, "streaming: `Computation::push` per bar"),
        (STATES, "streaming: one state per indicator, `update` per bar"),
    ];
}
