//! One indicator at a time: finstage (batch and streaming) against TA-Lib's C library, `ta`,
//! `yata` and `kand`, over 2,520 and 1,000,000 random-walk bars.
//!
//! Every function of a group computes the same indicator over the same data into outputs
//! allocated before the timing starts; states are made fresh for each iteration, outside the
//! timing (`iter_batched_ref`). Run with `tools/bench/indicators.sh`, which also sets
//! `FINSTAGE_TALIB_LIB` so that the `talib` functions run.
//!
//! The 2,520-bar groups repeat one short series thousands of times, and the branch predictor
//! learns it: indicators with data-dependent branches (the min/max window of STOCH, ta's RSI)
//! look much cheaper there than on fresh data. The 1,000,000-bar groups give the realistic cost
//! per point; the short ones show the per-call overhead.
//!
//! Which results equal TA-Lib's (measured on this data over TA-Lib's output range, relative to
//! max(1, |value|); speed is compared regardless, but a reader should know which rows do the same
//! arithmetic):
//! - finstage: all seven, within 1e-9 (the bench checks it before timing when TA-Lib is loaded,
//!   and prints a WARNING line for any difference).
//! - kand: SMA, EMA, RSI, BBANDS, ATR and STOCH equal TA-Lib's (within 1e-12); its MACD does not
//!   (seeded differently, it is off by up to 3e-2 near the start, then converges). kand also fills auxiliary columns (RSI's average gain and loss, MACD's two EMAs,
//!   BBANDS' mean, variance and sums, STOCH's fast %K): more stores per point.
//! - ta: SMA and BBANDS equal; EMA and MACD seed with the first value rather than an SMA and
//!   only converge; **RSI and ATR never converge** (they smooth with α = 2/(n+1) instead of
//!   Wilder's 1/n); its slow stochastic is %K smoothed by an EMA(3), with no %D, so it is not
//!   TA-Lib's STOCH either.
//! - yata: SMA and STOCH (scaled to [0, 1]) equal; EMA and MACD seed with the first value and
//!   converge; **RSI never converges** (yata's default EMA(14), α = 2/15); BBANDS use the sample
//!   standard deviation (n − 1), so the bands stay off by about 1e-3 relative; yata has no ATR,
//!   so its row is its true range fed to its Wilder average (`TR` then `RMA(14)`), which
//!   converges. Its indicators also compute trading signals at every step, and it calls
//!   `f64::mul_add`, a slow library call on a build without the FMA target feature.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use finstage_indicators::{
    Atr, BBands, BBandsSeries, Candle, Ema, Indicator, IndicatorOutput, Macd, MacdSeries, Rsi, Sma, Stoch, StochSeries,
};
use finstage_indicators_bench::data::Series;
use finstage_indicators_bench::talib::{TaLib, Written};
use finstage_indicators_bench::{CASES, Case, SIZES, group_name};
use ta::Next as _;
use yata::core::{IndicatorConfig as _, IndicatorInstance as _, Method as _, OHLCV};

/// The seed of every series: the same data for every library and every run.
const SEED: u64 = 20_261_101;

/// Everything one group needs.
struct Context<'a> {
    data: &'a Series,
    talib: Option<&'a TaLib>,
    /// Whether to compare finstage's values with TA-Lib's before timing (done on the short
    /// series only: the arithmetic is the same on the long one).
    check: bool,
}

fn compare(c: &mut Criterion) {
    let talib = match TaLib::from_env() {
        Ok(Some(talib)) => {
            println!("TA-Lib {} from {}", talib.version(), talib.path());
            Some(talib)
        }
        Ok(None) => {
            println!("{}", TaLib::skipped_message());
            None
        }
        Err(e) => panic!("{e}"),
    };
    for bars in SIZES {
        let data = Series::random_walk(bars, SEED);
        let cx = Context {
            data: &data,
            talib: talib.as_ref(),
            check: bars == SIZES[0],
        };
        for case in &CASES {
            let mut group = c.benchmark_group(group_name(case, bars));
            group.throughput(Throughput::Elements(bars as u64));
            group.warm_up_time(Duration::from_secs(1));
            if bars >= 100_000 {
                // Milliseconds per iteration: a few equal samples rather than a linear ramp.
                group.sampling_mode(SamplingMode::Flat);
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(3));
            } else {
                group.sample_size(50);
                group.measurement_time(Duration::from_secs(2));
            }
            run_case(case, &mut group, &cx);
            group.finish();
        }
    }
}

fn run_case(case: &Case, group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    match case.id {
        "sma" => sma(group, cx),
        "ema" => ema(group, cx),
        "rsi" => rsi(group, cx),
        "macd" => macd(group, cx),
        "bbands" => bbands(group, cx),
        "atr" => atr(group, cx),
        "stoch" => stoch(group, cx),
        other => panic!("no benchmark for case {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the cases.

/// Clears every column of a finstage batch output, keeping its capacity.
trait ClearColumns {
    fn clear_columns(&mut self);
}

impl ClearColumns for Vec<f64> {
    fn clear_columns(&mut self) {
        self.clear();
    }
}

impl ClearColumns for MacdSeries {
    fn clear_columns(&mut self) {
        self.macd.clear();
        self.signal.clear();
        self.hist.clear();
    }
}

impl ClearColumns for BBandsSeries {
    fn clear_columns(&mut self) {
        self.upper.clear();
        self.middle.clear();
        self.lower.clear();
    }
}

impl ClearColumns for StochSeries {
    fn clear_columns(&mut self) {
        self.k.clear();
        self.d.clear();
    }
}

/// finstage's two paths: `finstage` extends a fresh state over the inputs into a cleared output
/// that already has the capacity (what `batch` does, minus the allocation), and
/// `finstage_stream` calls `update` once per point.
fn finstage<S, I>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    make: impl Fn() -> S,
    inputs: impl Fn() -> I,
) -> <S::Output as IndicatorOutput>::Series
where
    S: Indicator,
    I: Iterator<Item = S::Input>,
    <S::Output as IndicatorOutput>::Series: ClearColumns,
{
    let mut out = <S::Output as IndicatorOutput>::Series::default();
    make().extend(inputs(), &mut out);
    group.bench_function("finstage", |b| {
        b.iter_batched_ref(
            &make,
            |state| {
                out.clear_columns();
                state.extend(inputs(), &mut out);
                black_box(&mut out);
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("finstage_stream", |b| {
        b.iter_batched_ref(
            &make,
            |state| {
                for input in inputs() {
                    black_box(state.update(black_box(input)));
                }
            },
            BatchSize::SmallInput,
        );
    });
    out
}

/// Bars as finstage's HLC indicators take them (`Atr::batch` builds the same candles).
fn hlc_candles(data: &Series) -> impl Iterator<Item = Candle> + '_ {
    data.high
        .iter()
        .zip(&data.low)
        .zip(&data.close)
        .map(|((&high, &low), &close)| Candle::new(0.0, high, low, close, 0.0))
}

/// `K` preallocated output columns of `n` values.
fn columns<const K: usize>(n: usize) -> [Vec<f64>; K] {
    std::array::from_fn(|_| vec![0.0; n])
}

/// Runs a per-element state over `inputs`, writing each step's `K` values into `out`.
#[inline(always)]
fn fill<T, const K: usize>(
    inputs: impl Iterator<Item = T>,
    out: &mut [Vec<f64>; K],
    mut step: impl FnMut(T) -> [f64; K],
) {
    for (i, input) in inputs.enumerate() {
        let row = step(input);
        for (column, value) in out.iter_mut().zip(row) {
            column[i] = value;
        }
    }
}

/// A per-element library (`ta`, `yata`): a fresh state per iteration (made outside the timing)
/// run over the inputs into preallocated columns.
fn per_element<S, T, I, const K: usize>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    n: usize,
    make: impl Fn() -> S,
    inputs: impl Fn() -> I,
    step: impl Fn(&mut S, T) -> [f64; K],
) where
    I: Iterator<Item = T>,
{
    let mut out = columns::<K>(n);
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            &make,
            |state| {
                fill(inputs(), &mut out, |x| step(state, x));
                black_box(&mut out);
            },
            BatchSize::SmallInput,
        );
    });
}

/// A batch library (`kand`, TA-Lib): one call over the inputs into preallocated columns.
fn batch<const K: usize>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    n: usize,
    call: impl Fn(&mut [Vec<f64>; K]),
) {
    let mut out = columns::<K>(n);
    group.bench_function(name, |b| {
        b.iter(|| {
            call(&mut out);
            black_box(&mut out);
        });
    });
}

/// A bar whose every price is `close`: what yata's close-sourced indicators read.
fn yata_close(close: f64) -> (f64, f64, f64, f64, f64) {
    (close, close, close, close, 1.0)
}

/// yata's bars: (open, high, low, close, volume).
fn yata_bars(data: &Series) -> impl Iterator<Item = (f64, f64, f64, f64, f64)> + '_ {
    data.high
        .iter()
        .zip(&data.low)
        .zip(&data.close)
        .map(|((&high, &low), &close)| (close, high, low, close, 1.0))
}

/// ta's bars.
#[derive(Clone, Copy)]
struct TaBar {
    high: f64,
    low: f64,
    close: f64,
}

impl ta::High for TaBar {
    fn high(&self) -> f64 {
        self.high
    }
}

impl ta::Low for TaBar {
    fn low(&self) -> f64 {
        self.low
    }
}

impl ta::Close for TaBar {
    fn close(&self) -> f64 {
        self.close
    }
}

fn ta_bars(data: &Series) -> impl Iterator<Item = TaBar> + '_ {
    data.high
        .iter()
        .zip(&data.low)
        .zip(&data.close)
        .map(|((&high, &low), &close)| TaBar { high, low, close })
}

/// Prints where finstage's columns differ from TA-Lib's by more than 1e-9 relative.
fn check(label: &str, lookback: usize, finstage: &[&[f64]], talib: &[&[f64]], written: Written) {
    let n = finstage[0].len();
    if written.begin != lookback || written.begin + written.len != n {
        println!(
            "WARNING {label}: TA-Lib wrote {} values from index {}, finstage's lookback is {lookback} of {n}",
            written.len, written.begin
        );
        return;
    }
    let mut worst = (0.0_f64, 0, 0);
    for (column, (ours, theirs)) in finstage.iter().zip(talib).enumerate() {
        for i in 0..written.len {
            let (a, b) = (ours[written.begin + i], theirs[i]);
            let error = (a - b).abs() / a.abs().max(b.abs()).max(1.0);
            let error = if error.is_nan() { f64::INFINITY } else { error };
            if error > worst.0 {
                worst = (error, column, written.begin + i);
            }
        }
    }
    if worst.0 > 1e-9 {
        println!(
            "WARNING {label}: finstage differs from TA-Lib by {:.3e} (relative) in column {} at bar {}",
            worst.0, worst.1, worst.2
        );
    }
}

fn closes<'a>(data: &'a Series) -> impl Fn() -> std::iter::Copied<std::slice::Iter<'a, f64>> {
    move || data.close.iter().copied()
}

// ---------------------------------------------------------------------------------------------
// The cases.

fn sma(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Sma::new(20).expect("valid period");
    let ours = finstage(group, || config.state(), closes(data));
    if let Some(talib) = cx.talib {
        if cx.check {
            let mut out = vec![0.0; n];
            let written = talib.sma(&data.close, 20, &mut out).expect("TA_SMA");
            check("SMA(20)", config.lookback(), &[&ours], &[&out], written);
        }
        batch(group, "talib", n, |[out]| {
            talib.sma(&data.close, 20, out).expect("TA_SMA");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::SimpleMovingAverage::new(20).expect("valid period"),
        closes(data),
        |s, x| [s.next(x)],
    );
    per_element(
        group,
        "yata",
        n,
        || yata::methods::SMA::new(20, &data.close[0]).expect("valid period"),
        closes(data),
        |s, x| [s.next(&x)],
    );
    batch(group, "kand", n, |[out]| {
        kand::ohlcv::sma::sma(&data.close, 20, out).expect("kand sma");
    });
}

fn ema(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Ema::new(20).expect("valid period");
    let ours = finstage(group, || config.state(), closes(data));
    if let Some(talib) = cx.talib {
        if cx.check {
            let mut out = vec![0.0; n];
            let written = talib.ema(&data.close, 20, &mut out).expect("TA_EMA");
            check("EMA(20)", config.lookback(), &[&ours], &[&out], written);
        }
        batch(group, "talib", n, |[out]| {
            talib.ema(&data.close, 20, out).expect("TA_EMA");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::ExponentialMovingAverage::new(20).expect("valid period"),
        closes(data),
        |s, x| [s.next(x)],
    );
    per_element(
        group,
        "yata",
        n,
        || yata::methods::EMA::new(20, &data.close[0]).expect("valid period"),
        closes(data),
        |s, x| [s.next(&x)],
    );
    batch(group, "kand", n, |[out]| {
        kand::ohlcv::ema::ema(&data.close, 20, None, out).expect("kand ema");
    });
}

fn rsi(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Rsi::new(14).expect("valid period");
    let ours = finstage(group, || config.state(), closes(data));
    if let Some(talib) = cx.talib {
        if cx.check {
            let mut out = vec![0.0; n];
            let written = talib.rsi(&data.close, 14, &mut out).expect("TA_RSI");
            check("RSI(14)", config.lookback(), &[&ours], &[&out], written);
        }
        batch(group, "talib", n, |[out]| {
            talib.rsi(&data.close, 14, out).expect("TA_RSI");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::RelativeStrengthIndex::new(14).expect("valid period"),
        closes(data),
        |s, x| [s.next(x)],
    );
    per_element(
        group,
        "yata",
        n,
        || {
            yata::indicators::RSI::default()
                .init(&yata_close(data.close[0]))
                .expect("valid config")
        },
        closes(data),
        |s, x| [s.next(&yata_close(x)).value(0)],
    );
    batch(group, "kand", n, |[rsi, gain, loss]| {
        kand::ohlcv::rsi::rsi(&data.close, 14, rsi, gain, loss).expect("kand rsi");
    });
}

fn macd(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Macd::new(12, 26, 9).expect("valid periods");
    let ours = finstage(group, || config.state(), closes(data));
    if let Some(talib) = cx.talib {
        if cx.check {
            let [mut m, mut s, mut h] = columns(n);
            let written = talib
                .macd(&data.close, (12, 26, 9), [&mut m, &mut s, &mut h])
                .expect("TA_MACD");
            let ours = [&ours.macd[..], &ours.signal, &ours.hist];
            check("MACD(12,26,9)", config.lookback(), &ours, &[&m, &s, &h], written);
        }
        batch(group, "talib", n, |[m, s, h]| {
            talib.macd(&data.close, (12, 26, 9), [m, s, h]).expect("TA_MACD");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::MovingAverageConvergenceDivergence::new(12, 26, 9).expect("valid periods"),
        closes(data),
        |s, x| {
            let o = s.next(x);
            [o.macd, o.signal, o.histogram]
        },
    );
    per_element(
        group,
        "yata",
        n,
        || {
            yata::indicators::MACD::default()
                .init(&yata_close(data.close[0]))
                .expect("valid config")
        },
        closes(data),
        |s, x| {
            let r = s.next(&yata_close(x));
            // yata gives the MACD and signal lines; the histogram is their difference.
            [r.value(0), r.value(1), r.value(0) - r.value(1)]
        },
    );
    batch(group, "kand", n, |[m, s, h, fast, slow]| {
        kand::ohlcv::macd::macd(&data.close, 12, 26, 9, m, s, h, fast, slow).expect("kand macd");
    });
}

fn bbands(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = BBands::new(20, 2.0).expect("valid parameters");
    let ours = finstage(group, || config.state(), closes(data));
    if let Some(talib) = cx.talib {
        if cx.check {
            let [mut u, mut m, mut l] = columns(n);
            let written = talib
                .bbands(&data.close, (20, 2.0), [&mut u, &mut m, &mut l])
                .expect("TA_BBANDS");
            let ours = [&ours.upper[..], &ours.middle, &ours.lower];
            check("BBANDS(20,2)", config.lookback(), &ours, &[&u, &m, &l], written);
        }
        batch(group, "talib", n, |[u, m, l]| {
            talib.bbands(&data.close, (20, 2.0), [u, m, l]).expect("TA_BBANDS");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::BollingerBands::new(20, 2.0).expect("valid parameters"),
        closes(data),
        |s, x| {
            let o = s.next(x);
            [o.upper, o.average, o.lower]
        },
    );
    per_element(
        group,
        "yata",
        n,
        || {
            yata::indicators::BollingerBands::default()
                .init(&yata_close(data.close[0]))
                .expect("valid config")
        },
        closes(data),
        |s, x| {
            let r = s.next(&yata_close(x));
            [r.value(0), r.value(1), r.value(2)]
        },
    );
    batch(group, "kand", n, |[u, m, l, sma, var, sum, sum_sq]| {
        kand::ohlcv::bbands::bbands(&data.close, 20, 2.0, 2.0, u, m, l, sma, var, sum, sum_sq).expect("kand bbands");
    });
}

fn atr(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Atr::new(14).expect("valid period");
    let ours = finstage(group, || config.state(), || hlc_candles(data));
    let hlc = [&data.high[..], &data.low[..], &data.close[..]];
    if let Some(talib) = cx.talib {
        if cx.check {
            let mut out = vec![0.0; n];
            let written = talib.atr(hlc, 14, &mut out).expect("TA_ATR");
            check("ATR(14)", config.lookback(), &[&ours], &[&out], written);
        }
        batch(group, "talib", n, |[out]| {
            talib.atr(hlc, 14, out).expect("TA_ATR");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::AverageTrueRange::new(14).expect("valid period"),
        || ta_bars(data),
        |s, bar| [s.next(&bar)],
    );
    // yata has no ATR indicator: its true range method fed to its Wilder average.
    per_element(
        group,
        "yata",
        n,
        || {
            let first = yata_bars(data).next().expect("data");
            let tr = yata::methods::TR::new(&first as &dyn OHLCV).expect("valid");
            let rma = yata::methods::RMA::new(14, &(first.high() - first.low())).expect("valid period");
            (tr, rma)
        },
        || yata_bars(data),
        |(tr, rma), bar| [rma.next(&tr.next(&bar as &dyn OHLCV))],
    );
    batch(group, "kand", n, |[out]| {
        kand::ohlcv::atr::atr(&data.high, &data.low, &data.close, 14, out).expect("kand atr");
    });
}

fn stoch(group: &mut BenchmarkGroup<'_, WallTime>, cx: &Context<'_>) {
    let (data, n) = (cx.data, cx.data.len());
    let config = Stoch::new(14, 3, 3).expect("valid periods");
    let ours = finstage(group, || config.state(), || hlc_candles(data));
    let hlc = [&data.high[..], &data.low[..], &data.close[..]];
    if let Some(talib) = cx.talib {
        if cx.check {
            let [mut k, mut d] = columns(n);
            let written = talib.stoch(hlc, (14, 3, 3), [&mut k, &mut d]).expect("TA_STOCH");
            check(
                "STOCH(14,3,3)",
                config.lookback(),
                &[&ours.k, &ours.d],
                &[&k, &d],
                written,
            );
        }
        batch(group, "talib", n, |[k, d]| {
            talib.stoch(hlc, (14, 3, 3), [k, d]).expect("TA_STOCH");
        });
    }
    per_element(
        group,
        "ta",
        n,
        || ta::indicators::SlowStochastic::new(14, 3).expect("valid periods"),
        || ta_bars(data),
        |s, bar| [s.next(&bar)],
    );
    per_element(
        group,
        "yata",
        n,
        || {
            let config = yata::indicators::StochasticOscillator {
                period: 14,
                ma: yata::helpers::MA::SMA(3),
                signal: yata::helpers::MA::SMA(3),
                zone: 0.2,
            };
            config
                .init(&yata_bars(data).next().expect("data"))
                .expect("valid config")
        },
        || yata_bars(data),
        |s, bar| {
            let r = s.next(&bar);
            [r.value(0), r.value(1)]
        },
    );
    batch(group, "kand", n, |[fast_k, k, d]| {
        kand::ohlcv::stoch::stoch(&data.high, &data.low, &data.close, 14, 3, 3, fast_k, k, d).expect("kand stoch");
    });
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let mut criterion = Criterion::default().configure_from_args();
    compare(&mut criterion);
    criterion.final_summary();
}
