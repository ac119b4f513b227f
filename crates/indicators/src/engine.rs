//! Many indicators at once: [`compute`] and [`Computation`] plan every requested spec as a graph
//! of shared steps, so that an intermediate series is computed once however many indicators use
//! it.
//!
//! What is shared, each exactly (the shared step is the very computation the indicator's own
//! streaming state does):
//! - `sma:n` is the middle band of every `bbands:n:*`; `bbands:n:*` and `stddev:n` share the
//!   windowed variance;
//! - `ema:n`, `dema:n` and `tema:n` share EMA(n), and `dema:n`/`tema:n` share EMA(EMA(n));
//!   `ema:slow` is the slow EMA of every `macd:*:slow:*`; `macd:f:s:*` share both lines whatever
//!   the signal period. (`ema:12` is *not* the fast line of `macd:12:26:9`: TA-Lib seeds that
//!   line late, aligned to the slow one, so the two differ near the start.)
//! - `rsi:n` is the RSI of every `stochrsi:n:*:*`;
//! - `trange`, `atr:n` and `natr:n` share the true range, `atr:n` and `natr:n` the ATR;
//! - `adx:n`, `plus_di:n`, `minus_di:n`, `dx:n` share one directional system;
//! - `stoch:k:*:*` and `willr:k` share the highest-high/lowest-low window, `stoch:k:s:*` the
//!   slow %K;
//! - `cci`, `mfi` and `vwap` share the typical price; `roc:n` and `mom:n` share the lag.
//!
//! Every column equals, bit for bit, what the indicator's own batch function gives.

use std::collections::HashMap;

use crate::average::dema::dema;
use crate::average::ema::{EmaState, step as ema_step};
use crate::average::sma::SmaState;
use crate::average::tema::tema;
use crate::average::wma::WmaState;
use crate::error::IndicatorError;
use crate::indicator::Indicator;
use crate::input::{Candle, Ohlcv, typical_price};
use crate::math;
use crate::momentum::adx::Directional;
use crate::momentum::cci::CciState;
use crate::momentum::mfi::MfiState;
use crate::momentum::roc::rate_of_change;
use crate::momentum::rsi::RsiState;
use crate::momentum::stoch::fast_k;
use crate::momentum::willr::williams_r;
use crate::spec::{IndicatorSpec, OutputSpec};
use crate::volatility::atr::Wilder;
use crate::volatility::bbands::{bands, sigma};
use crate::volatility::natr::natr;
use crate::volatility::stddev::Variance;
use crate::volatility::trange::TRangeState;
use crate::volume::obv::ObvState;
use crate::volume::vwap::{VwapAnchor, VwapState};
use crate::window::{Lag, MinMaxWindow, Scratch, WindowKernel};

/// Computes every column of `specs` over `bars` in one pass over a shared plan.
///
/// Columns are named by their full spec (`sma:20`, `macd:12:26:9.signal`), in the order of
/// `specs`, each once even when asked for twice; each is as long as `bars`, NaN through its
/// lookback.
///
/// ```
/// use finstage_indicators::{Bars, Candle, compute, parse_specs};
///
/// let bars: Bars = (0..60)
///     .map(|i| {
///         let close = 100.0 + (i as f64 * 0.3).sin() * 5.0;
///         Candle::new(close, close + 1.0, close - 1.0, close, 1_000.0).at(i * 86_400)
///     })
///     .collect();
/// let specs = parse_specs("ema:26,macd:12:26:9,rsi")?;
/// let columns = compute(&specs, &bars.view())?;
/// assert_eq!(columns.names().collect::<Vec<_>>(), [
///     "ema:26", "macd:12:26:9.macd", "macd:12:26:9.signal", "macd:12:26:9.hist", "rsi:14",
/// ]);
/// assert_eq!(columns.get("rsi:14").unwrap().len(), 60);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
///
/// # Errors
/// [`IndicatorError::MissingTime`] when `vwap:session` is asked for and `bars` has no timestamps.
pub fn compute(specs: &[OutputSpec], bars: &Ohlcv<'_>) -> Result<Columns, IndicatorError> {
    Computation::new(specs).extend(bars)
}

/// Named columns of indicator values, in the order they were asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
}

impl Columns {
    /// Column names, in order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The column called `name` (its full spec, e.g. `macd:12:26:9.signal`).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        let index = self.names.iter().position(|n| n == name)?;
        Some(&self.values[index])
    }

    /// `(name, values)` pairs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[f64])> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the rows of `more`, which must have the same columns (as the successive results of
    /// one [`Computation`] do).
    ///
    /// # Panics
    /// When `more` has other columns.
    pub fn append(&mut self, more: Columns) {
        if self.names.is_empty() {
            *self = more;
            return;
        }
        assert_eq!(self.names, more.names, "appending columns of another computation");
        for (mine, theirs) in self.values.iter_mut().zip(more.values) {
            mine.extend(theirs);
        }
    }

    /// The `(name, values)` pairs, consuming the columns.
    pub fn into_inner(self) -> Vec<(String, Vec<f64>)> {
        self.names.into_iter().zip(self.values).collect()
    }
}

/// A running multi-indicator computation: the incremental form of [`compute`].
///
/// [`extend`](Computation::extend) appends bars and returns the new rows of every column,
/// exactly as a full recomputation over all the bars would give them, in O(new bars); the
/// computation keeps only the state it needs (windows, running sums), never the history. It is
/// `Clone`: fork it to compute a what-if without disturbing the original.
#[derive(Clone, Debug)]
pub struct Computation {
    nodes: Vec<Node>,
    outputs: Vec<OutputColumn>,
    needs_time: bool,
    rows: usize,
    slots: usize,
    scratch: Vec<Vec<f64>>,
    /// The row [`Computation::push`] returns.
    row: Vec<f64>,
}

/// Rows per block of [`Computation::extend`]: the scratch columns of a block of all the steps
/// of a large plan fit in the L2 cache.
const BLOCK: usize = 512;

#[derive(Clone, Debug)]
struct OutputColumn {
    name: String,
    source: Source,
    lookback: usize,
}

impl Computation {
    /// Plans the computation of `specs`.
    pub fn new(specs: &[OutputSpec]) -> Self {
        // Plan once to learn which EMAs the specs need, then again with those that can run
        // side by side gathered into one step.
        let mut planner = Planner::default();
        for spec in specs {
            planner.plan(spec.indicator());
        }
        let mut planner = Planner::with_ema_group(&planner.nodes);
        let mut outputs: Vec<OutputColumn> = Vec::new();
        for spec in specs {
            let indicator = spec.indicator();
            let sources = planner.plan(indicator);
            let lookback = indicator.lookback();
            for (name, (output, source)) in indicator.column_names().into_iter().zip(sources) {
                let selected = spec.output().is_none_or(|o| o == output);
                if selected && !outputs.iter().any(|c| c.name == name) {
                    outputs.push(OutputColumn { name, source, lookback });
                }
            }
        }
        let needs_time = planner
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Vwap(ref s) if s.anchor() == VwapAnchor::Session));
        Self {
            nodes: planner.nodes,
            outputs,
            needs_time,
            rows: 0,
            slots: planner.slots,
            scratch: Vec::new(),
            row: Vec::new(),
        }
    }

    /// The output column names, in order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.outputs.iter().map(|c| c.name.as_str())
    }

    /// Bars processed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of shared steps in the plan (what sharing saves shows here).
    pub fn steps(&self) -> usize {
        self.nodes.len()
    }

    /// Forgets every bar, as if the computation were new, keeping its plan and its buffers:
    /// the way to run one computation over many symbols without allocating per symbol.
    ///
    /// ```
    /// use finstage_indicators::{Bars, Candle, Columns, Computation, parse_specs};
    ///
    /// let symbols: Vec<Bars> = (1..=3)
    ///     .map(|s| (0..50).map(|i| Candle::new(1.0, 2.0, 0.5, f64::from(s * 10 + i % 7), 100.0)).collect())
    ///     .collect();
    /// let mut computation = Computation::new(&parse_specs("sma:5,rsi:14")?);
    /// let mut columns = Columns::default();
    /// for bars in &symbols {
    ///     computation.reset();
    ///     computation.extend_into(&bars.view(), &mut columns)?;
    ///     assert_eq!(columns.len(), 50);
    ///     // … store `columns` before the next symbol overwrites them.
    /// }
    /// # Ok::<(), finstage_indicators::IndicatorError>(())
    /// ```
    pub fn reset(&mut self) {
        for node in &mut self.nodes {
            node.op.reset();
        }
        self.rows = 0;
    }

    /// Feeds `bars` and returns the rows they add to every column.
    ///
    /// # Errors
    /// [`IndicatorError::MissingTime`] when a session VWAP is planned and `bars` has no
    /// timestamps; nothing is consumed then.
    pub fn extend(&mut self, bars: &Ohlcv<'_>) -> Result<Columns, IndicatorError> {
        let mut columns = Columns::default();
        self.extend_into(bars, &mut columns)?;
        Ok(columns)
    }

    /// Feeds `bars` and writes the rows they add to every column into `columns`, replacing what
    /// it held but reusing its allocations: with [`reset`](Computation::reset), a batch job over
    /// many symbols allocates nothing after the first.
    ///
    /// # Errors
    /// [`IndicatorError::MissingTime`] when a session VWAP is planned and `bars` has no
    /// timestamps; nothing is consumed and `columns` is left as it was.
    pub fn extend_into(&mut self, bars: &Ohlcv<'_>, columns: &mut Columns) -> Result<(), IndicatorError> {
        if self.needs_time && bars.time().is_none() && !bars.is_empty() {
            return Err(IndicatorError::MissingTime {
                indicator: "vwap:session",
            });
        }
        if !columns.names.iter().eq(self.outputs.iter().map(|c| &c.name)) {
            columns.names.clear();
            columns.names.extend(self.outputs.iter().map(|c| c.name.clone()));
        }
        columns.values.resize_with(self.outputs.len(), Vec::new);
        for column in &mut columns.values {
            column.clear();
            column.reserve(bars.len());
        }
        // Block by block, so that the scratch columns of every step stay in the cache.
        let mut from = 0;
        while from < bars.len() {
            let block = bars.slice(from..from + BLOCK);
            self.run_block(&block, &mut columns.values);
            from += BLOCK;
        }
        Ok(())
    }

    /// Runs every step over `bars` and appends their rows to the output columns `values`.
    fn run_block(&mut self, bars: &Ohlcv<'_>, values: &mut [Vec<f64>]) {
        let offset = self.rows;
        for node in 0..self.nodes.len() {
            let (node, done, out) = self.step_parts(node, bars.len());
            node.run(bars, done, out, offset);
        }
        self.collect(bars, values);
    }

    /// Step `node`, the scratch columns it reads, and its own, sized for `len` rows.
    fn step_parts(&mut self, node: usize, len: usize) -> (&mut Node, &[Vec<f64>], &mut [Vec<f64>]) {
        self.scratch.resize_with(self.slots, Vec::new);
        let node = &mut self.nodes[node];
        let (done, rest) = self.scratch.split_at_mut(node.first_slot);
        let out = &mut rest[..node.outputs];
        for column in out.iter_mut() {
            column.resize(len, f64::NAN);
        }
        (node, done, out)
    }

    /// Appends the block's rows of every output column to `values`.
    fn collect(&mut self, bars: &Ohlcv<'_>, values: &mut [Vec<f64>]) {
        let len = bars.len();
        for (column, values) in self.outputs.iter().zip(values) {
            let start = values.len();
            values.extend_from_slice(read(column.source, bars, &self.scratch));
            let masked = column.lookback.saturating_sub(self.rows).min(len);
            values[start..start + masked].fill(f64::NAN);
        }
        self.rows += len;
    }

    /// Feeds one bar and returns its row: one value per column, in the order of
    /// [`names`](Computation::names). The row lives in the computation and is overwritten by the
    /// next push: no allocation per bar.
    pub fn push(&mut self, bar: Candle) -> &[f64] {
        let columns = ([bar.time], [bar.open], [bar.high], [bar.low], [bar.close], [bar.volume]);
        let view = Ohlcv::of_one(&columns);
        let offset = self.rows;
        for node in 0..self.nodes.len() {
            let (node, done, out) = self.step_parts(node, 1);
            node.run(&view, done, out, offset);
        }
        self.row.resize(self.outputs.len(), f64::NAN);
        for (column, value) in self.outputs.iter().zip(self.row.iter_mut()) {
            *value = if column.lookback > offset {
                f64::NAN
            } else {
                read(column.source, &view, &self.scratch)[0]
            };
        }
        self.rows += 1;
        &self.row
    }
}

/// Where a step reads a column from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    High,
    Low,
    Close,
    Volume,
    /// Output column `slot` of the scratch space.
    Slot(usize),
}

fn read<'a>(source: Source, bars: &Ohlcv<'a>, scratch: &'a [Vec<f64>]) -> &'a [f64] {
    match source {
        Source::High => bars.high(),
        Source::Low => bars.low(),
        Source::Close => bars.close(),
        Source::Volume => bars.volume(),
        Source::Slot(slot) => &scratch[slot],
    }
}

/// An elementwise formula over already computed columns: the same functions the streaming
/// states call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Formula {
    Dema,
    Tema,
    Difference,
    /// The square root of a variance: STDDEV.
    Sqrt,
    /// The square root of a variance as BBANDS takes it.
    Sigma,
    /// Upper band, `k` as bits.
    Upper(u64),
    /// Lower band, `k` as bits.
    Lower(u64),
    Natr,
    FastK,
    WillR,
    Roc,
    ClampPercent,
}

impl Formula {
    /// Applies the formula row by row, with the dispatch outside the loop.
    fn apply_all(self, out: &mut [f64], a: &[f64], b: &[f64], c: &[f64]) {
        macro_rules! rows {
            ($f:expr) => {
                for (o, ((a, b), c)) in out.iter_mut().zip(a.iter().zip(b).zip(c)) {
                    *o = $f(*a, *b, *c);
                }
            };
        }
        match self {
            Self::Dema => rows!(|a, b, _| dema(a, b)),
            Self::Tema => rows!(tema),
            Self::Difference => rows!(|a: f64, b: f64, _| a - b),
            Self::Sqrt => rows!(|a: f64, _, _| a.sqrt()),
            Self::Sigma => rows!(|a, _, _| sigma(a)),
            Self::Upper(k) => rows!(|a, b, _| bands(a, b, f64::from_bits(k)).0),
            Self::Lower(k) => rows!(|a, b, _| bands(a, b, f64::from_bits(k)).1),
            Self::Natr => rows!(|a, b, _| natr(a, b)),
            Self::FastK => rows!(fast_k),
            Self::WillR => rows!(williams_r),
            Self::Roc => rows!(|a, b, _| rate_of_change(a, b)),
            Self::ClampPercent => rows!(|a, _, _| math::clamp_percent(a)),
        }
    }
}

/// What a step does; the key it is shared under is this plus its inputs and start.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Typical,
    Sma(usize),
    Variance(usize),
    Ema(usize),
    Wma(usize),
    Rsi(usize),
    TRange,
    Wilder(usize),
    Directional(usize),
    MinMax(usize),
    Cci(usize),
    Mfi(usize),
    Obv,
    Vwap(VwapAnchor),
    Lag(usize),
    Map(Formula),
}

#[derive(Clone, Debug)]
enum Op {
    Typical,
    Sma(SmaState),
    Variance(Variance),
    Ema(EmaState),
    Wma(WmaState),
    Rsi(RsiState),
    TRange(TRangeState),
    Wilder(Wilder),
    Directional(Directional),
    /// The window, and its working memory kept from block to block.
    MinMax(MinMaxWindow, Scratch),
    Cci(CciState),
    Mfi(MfiState),
    Obv(ObvState),
    Vwap(VwapState),
    Lag(Lag),
    Map(Formula),
    Emas(EmaGroup),
}

impl Op {
    /// Forgets every row, keeping the buffers.
    fn reset(&mut self) {
        match self {
            Self::Typical | Self::Map(_) => {}
            Self::Sma(s) => s.reset(),
            Self::Variance(v) => v.reset(),
            Self::Ema(e) => e.reset(),
            Self::Wma(w) => w.reset(),
            Self::Rsi(r) => r.reset(),
            Self::TRange(t) => t.reset(),
            Self::Wilder(w) => w.reset(),
            Self::Directional(d) => d.reset(),
            Self::MinMax(m, _) => m.reset(),
            Self::Cci(c) => c.reset(),
            Self::Mfi(m) => m.reset(),
            Self::Obv(o) => o.reset(),
            Self::Vwap(v) => v.reset(),
            Self::Lag(l) => l.reset(),
            Self::Emas(g) => g.members.iter_mut().for_each(|m| m.state.reset()),
        }
    }

    fn new(kind: &Kind) -> (Self, usize) {
        match *kind {
            Kind::Typical => (Self::Typical, 1),
            Kind::Sma(n) => (Self::Sma(SmaState::new(n)), 1),
            Kind::Variance(n) => (Self::Variance(Variance::new(n)), 1),
            Kind::Ema(n) => (Self::Ema(EmaState::new(n)), 1),
            Kind::Wma(n) => (Self::Wma(WmaState::new(n)), 1),
            Kind::Rsi(n) => (Self::Rsi(RsiState::new(n)), 1),
            Kind::TRange => (Self::TRange(TRangeState::default()), 1),
            Kind::Wilder(n) => (Self::Wilder(Wilder::new(n)), 1),
            Kind::Directional(n) => (Self::Directional(Directional::new(n)), 4),
            Kind::MinMax(n) => (Self::MinMax(MinMaxWindow::new(n), Scratch::default()), 2),
            Kind::Cci(n) => (Self::Cci(CciState::new(n)), 1),
            Kind::Mfi(n) => (Self::Mfi(MfiState::new(n)), 1),
            Kind::Obv => (Self::Obv(ObvState::default()), 1),
            Kind::Vwap(anchor) => (Self::Vwap(VwapState::new(anchor)), 1),
            Kind::Lag(n) => (Self::Lag(Lag::new(n)), 1),
            Kind::Map(formula) => (Self::Map(formula), 1),
        }
    }
}

/// One shared step of the plan.
#[derive(Clone, Debug)]
struct Node {
    op: Op,
    inputs: [Source; 3],
    /// The first row this step consumes; earlier rows are NaN and never reach its state.
    start: usize,
    first_slot: usize,
    outputs: usize,
}

impl Node {
    /// Rows of `bars` (whose first row is `offset`) before this step's start row.
    fn skip(&self, bars: &Ohlcv<'_>, offset: usize) -> usize {
        self.start.saturating_sub(offset).min(bars.len())
    }

    /// The step's input columns, from row `skip` of the block on.
    fn input_columns<'a>(&self, bars: &Ohlcv<'a>, done: &'a [Vec<f64>], skip: usize) -> [&'a [f64]; 3] {
        self.inputs.map(|source| match source {
            Source::Slot(slot) => &done[slot][skip..],
            other => &read(other, bars, &[])[skip..],
        })
    }

    /// Runs the step over the rows of `bars`, `offset` being the index of their first row. Writes
    /// every row of every output: NaN before the step's start row and while it warms up.
    fn run(&mut self, bars: &Ohlcv<'_>, done: &[Vec<f64>], out: &mut [Vec<f64>], offset: usize) {
        let skip = self.skip(bars, offset);
        let [a, b, c] = self.input_columns(bars, done, skip);
        for column in out.iter_mut() {
            column[..skip].fill(f64::NAN);
        }
        if let Op::Emas(group) = &mut self.op {
            group.run(a, out, offset);
            return;
        }
        let [first, rest @ ..] = out else {
            unreachable!("every step has an output")
        };
        let out0 = &mut first[skip..];
        // Windowed steps run over slices with their running values in registers; the others run
        // a local copy of their state (small, without buffers) for the same reason.
        match &mut self.op {
            Op::Typical => {
                for (o, ((h, l), c)) in out0.iter_mut().zip(a.iter().zip(b).zip(c)) {
                    *o = typical_price(*h, *l, *c);
                }
            }
            Op::Sma(s) => {
                out0.copy_from_slice(a);
                s.run_in_place(out0);
            }
            Op::Variance(v) => {
                out0.copy_from_slice(a);
                v.run_in_place(out0);
            }
            Op::Wma(w) => {
                out0.copy_from_slice(a);
                w.run_in_place(out0);
            }
            Op::Cci(s) => {
                out0.copy_from_slice(a);
                s.run_in_place(out0);
            }
            Op::Mfi(s) => s.run(a, b, out0),
            Op::Lag(l) => l.run(a, out0),
            Op::MinMax(w, scratch) => w.run(scratch, a, b, out0, &mut rest[0][skip..]),
            Op::Ema(e) => {
                out0.copy_from_slice(a);
                e.run_in_place(out0);
            }
            Op::Rsi(r) => series(r, a, out0),
            Op::TRange(t) => {
                each(t, out0, a, |t, i| {
                    t.update(Candle {
                        high: a[i],
                        low: b[i],
                        close: c[i],
                        ..Candle::default()
                    })
                });
            }
            Op::Wilder(w) => {
                let mut local = w.clone();
                for (o, &x) in out0.iter_mut().zip(a) {
                    *o = local.update(x).unwrap_or(f64::NAN);
                }
                *w = local;
            }
            Op::Obv(s) => each(s, out0, a, |s, i| Some(s.update_close(a[i], b[i]))),
            Op::Vwap(s) => {
                let time = bars.time().map(|t| &t[skip..]);
                each(s, out0, a, |s, i| {
                    Some(s.update_typical(a[i], b[i], time.map_or(0, |t| t[i])))
                });
            }
            Op::Directional(d) => {
                let [minus, dx, adx] = rest else {
                    unreachable!("four outputs")
                };
                let (minus, dx, adx) = (&mut minus[skip..], &mut dx[skip..], &mut adx[skip..]);
                let mut state = d.clone();
                for i in 0..out0.len() {
                    let v = state.update(a[i], b[i], c[i]);
                    out0[i] = v.plus_di.unwrap_or(f64::NAN);
                    minus[i] = v.minus_di.unwrap_or(f64::NAN);
                    dx[i] = v.dx.unwrap_or(f64::NAN);
                    adx[i] = v.adx.unwrap_or(f64::NAN);
                }
                *d = state;
            }
            Op::Map(formula) => formula.apply_all(out0, a, b, c),
            // Run above, with every output column.
            Op::Emas(_) => {}
        }
    }
}

/// EMAs of the close and of each other, run side by side in one loop: each EMA's recursion is a
/// chain of dependent operations, and independent chains overlap in the processor only when
/// they are in the same loop (TEMA's three EMAs and MACD's two lines, run one after the other,
/// cost 2.5 times as much).
#[derive(Clone, Debug)]
struct EmaGroup {
    members: Vec<EmaMember>,
    /// The batch loop's running values, one per member, kept here so that a run allocates
    /// nothing (`Computation::push` runs one for every bar).
    values: Vec<f64>,
    /// Per member: the member whose value it smooths (`None`: the close), and its coefficients.
    inputs: Vec<(Option<usize>, f64, f64)>,
}

#[derive(Clone, Debug)]
struct EmaMember {
    state: EmaState,
    /// The member whose EMA this one smooths; `None` for the close.
    of: Option<usize>,
    /// The first row it consumes.
    start: usize,
}

impl EmaGroup {
    fn new(members: Vec<EmaMember>) -> Self {
        let inputs = members
            .iter()
            .map(|m| {
                let (decay, minus_k) = m.state.coefficients();
                (m.of, decay, minus_k)
            })
            .collect();
        Self {
            values: vec![0.0; members.len()],
            members,
            inputs,
        }
    }

    /// Writes every member's column for the rows of `close`, the first of which is row `offset`.
    fn run(&mut self, close: &[f64], out: &mut [Vec<f64>], offset: usize) {
        let mut row = 0;
        // Row by row, through `update`, until every member is seeded.
        while row < close.len() && !self.members.iter().all(|m| m.state.is_seeded()) {
            for (i, member) in self.members.iter_mut().enumerate() {
                let x = member.of.map_or(close[row], |of| out[of][row]);
                out[i][row] = if offset + row < member.start {
                    f64::NAN
                } else {
                    member.state.update(x).unwrap_or(f64::NAN)
                };
            }
            row += 1;
        }
        if row == close.len() {
            return;
        }
        // Then the recursions side by side: `update`'s arithmetic for a seeded EMA, so the same
        // bits.
        let values = &mut self.values[..];
        for (value, member) in values.iter_mut().zip(&self.members) {
            *value = member.state.value();
        }
        for (row, &x) in close.iter().enumerate().skip(row) {
            for (i, &(input, decay, minus_k)) in self.inputs.iter().enumerate() {
                let input = input.map_or(x, |of| values[of]);
                values[i] = ema_step(values[i], decay, minus_k * input);
                out[i][row] = values[i];
            }
        }
        for (member, &value) in self.members.iter_mut().zip(values.iter()) {
            member.state.set_value(value);
        }
    }
}

/// Runs a local copy of a single-series `state` over `input` (not inlined, so that the loop gets
/// every register it needs).
#[inline(never)]
fn series<S: Indicator<Input = f64, Output = f64>>(state: &mut S, input: &[f64], out: &mut [f64]) {
    let mut local = state.clone();
    let mut row = 0;
    while row < out.len() {
        out[row] = local.update(input[row]).unwrap_or(f64::NAN);
        row += 1;
    }
    *state = local;
}

/// Runs a local copy of `state` over the rows, writing what `step` gives (NaN for `None`).
#[inline(never)]
fn each<S: Clone>(state: &mut S, out: &mut [f64], rows: &[f64], mut step: impl FnMut(&mut S, usize) -> Option<f64>) {
    let mut local = state.clone();
    for (i, o) in out.iter_mut().enumerate().take(rows.len()) {
        *o = step(&mut local, i).unwrap_or(f64::NAN);
    }
    *state = local;
}

/// Builds the plan, sharing every step that two indicators both need.
#[derive(Default)]
struct Planner {
    nodes: Vec<Node>,
    index: HashMap<(Kind, [Source; 3], usize), usize>,
    /// EMAs computed by the EMA group: the slot of each.
    grouped: HashMap<(Kind, [Source; 3], usize), Source>,
    slots: usize,
}

const NONE: Source = Source::Close;

impl Planner {
    /// A planner whose first step is one [`EmaGroup`] of the EMAs in `nodes` (a plan) that
    /// smooth the close or each other, when there are two or more of them.
    fn with_ema_group(nodes: &[Node]) -> Self {
        let mut planner = Self::default();
        // Where each grouped EMA of `nodes` is: its slot there, and its member index.
        let mut members: Vec<EmaMember> = Vec::new();
        let mut keys = Vec::new();
        let mut member_of_slot: HashMap<usize, usize> = HashMap::new();
        for node in nodes {
            let Op::Ema(state) = &node.op else { continue };
            if state.period() < 2 {
                // Period 1 copies its input: nothing to overlap.
                continue;
            }
            let of = match node.inputs[0] {
                Source::Close => None,
                Source::Slot(slot) => match member_of_slot.get(&slot) {
                    Some(&member) => Some(member),
                    None => continue,
                },
                _ => continue,
            };
            member_of_slot.insert(node.first_slot, members.len());
            members.push(EmaMember {
                state: state.clone(),
                of,
                start: node.start,
            });
            keys.push((Kind::Ema(state.period()), node.start));
        }
        if members.len() < 2 {
            return planner;
        }
        let outputs = members.len();
        for (i, ((kind, start), member)) in keys.into_iter().zip(&members).enumerate() {
            let input = member.of.map_or(Source::Close, Source::Slot);
            planner
                .grouped
                .insert((kind, [input, NONE, NONE], start), Source::Slot(i));
        }
        planner.nodes.push(Node {
            op: Op::Emas(EmaGroup::new(members)),
            inputs: [Source::Close, NONE, NONE],
            start: 0,
            first_slot: 0,
            outputs,
        });
        planner.slots = outputs;
        planner
    }

    /// The step `kind` over `inputs` from row `start`, created unless it exists; returns the
    /// source of each of its outputs.
    fn step(&mut self, kind: Kind, inputs: &[Source], start: usize) -> Vec<Source> {
        let mut padded = [NONE; 3];
        padded[..inputs.len()].copy_from_slice(inputs);
        let key = (kind, padded, start);
        if let Some(&source) = self.grouped.get(&key) {
            return vec![source];
        }
        let node = match self.index.get(&key) {
            Some(&node) => node,
            None => {
                let (op, outputs) = Op::new(&key.0);
                self.nodes.push(Node {
                    op,
                    inputs: padded,
                    start,
                    first_slot: self.slots,
                    outputs,
                });
                self.slots += outputs;
                self.index.insert(key, self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        let node = &self.nodes[node];
        (0..node.outputs).map(|o| Source::Slot(node.first_slot + o)).collect()
    }

    fn one(&mut self, kind: Kind, inputs: &[Source], start: usize) -> Source {
        self.step(kind, inputs, start)[0]
    }

    fn map(&mut self, formula: Formula, inputs: &[Source], start: usize) -> Source {
        self.one(Kind::Map(formula), inputs, start)
    }

    fn typical(&mut self) -> Source {
        self.one(Kind::Typical, &[Source::High, Source::Low, Source::Close], 0)
    }

    /// The sources of `indicator`'s outputs, in the order of its column names, each paired with
    /// its output name ("" for a single output).
    fn plan(&mut self, indicator: IndicatorSpec) -> Vec<(&'static str, Source)> {
        use IndicatorSpec as S;
        let close = Source::Close;
        let single = |source: Source| vec![("", source)];
        match indicator {
            S::Sma(i) => single(self.one(Kind::Sma(i.period()), &[close], 0)),
            S::Ema(i) => single(self.one(Kind::Ema(i.period()), &[close], 0)),
            S::Wma(i) => single(self.one(Kind::Wma(i.period()), &[close], 0)),
            S::Dema(i) => {
                let n = i.period();
                let e1 = self.one(Kind::Ema(n), &[close], 0);
                let e2 = self.one(Kind::Ema(n), &[e1], n - 1);
                single(self.map(Formula::Dema, &[e1, e2], 0))
            }
            S::Tema(i) => {
                let n = i.period();
                let e1 = self.one(Kind::Ema(n), &[close], 0);
                let e2 = self.one(Kind::Ema(n), &[e1], n - 1);
                let e3 = self.one(Kind::Ema(n), &[e2], 2 * (n - 1));
                single(self.map(Formula::Tema, &[e1, e2, e3], 0))
            }
            S::Rsi(i) => single(self.one(Kind::Rsi(i.period()), &[close], 0)),
            S::Macd(i) => {
                let fast = self.one(Kind::Ema(i.fast()), &[close], i.slow() - i.fast());
                let slow = self.one(Kind::Ema(i.slow()), &[close], 0);
                let line = self.map(Formula::Difference, &[fast, slow], 0);
                let signal = self.one(Kind::Ema(i.signal()), &[line], i.slow() - 1);
                let hist = self.map(Formula::Difference, &[line, signal], 0);
                vec![("macd", line), ("signal", signal), ("hist", hist)]
            }
            S::BBands(i) => {
                let n = i.period();
                let mean = self.one(Kind::Sma(n), &[close], 0);
                let variance = self.one(Kind::Variance(n), &[close], 0);
                let sigma = self.map(Formula::Sigma, &[variance], 0);
                let k = i.k().to_bits();
                let upper = self.map(Formula::Upper(k), &[mean, sigma], 0);
                let lower = self.map(Formula::Lower(k), &[mean, sigma], 0);
                vec![("upper", upper), ("middle", mean), ("lower", lower)]
            }
            S::StdDev(i) => {
                let variance = self.one(Kind::Variance(i.period()), &[close], 0);
                single(self.map(Formula::Sqrt, &[variance], 0))
            }
            S::TRange(_) => single(self.true_range()),
            S::Atr(i) => single(self.atr(i.period())),
            S::Natr(i) => {
                let atr = self.atr(i.period());
                single(self.map(Formula::Natr, &[atr, close], 0))
            }
            S::Stoch(i) => {
                let window = self.step(Kind::MinMax(i.k_period()), &[Source::High, Source::Low], 0);
                let fast = self.map(Formula::FastK, &[close, window[0], window[1]], 0);
                let k = self.one(Kind::Sma(i.k_slowing()), &[fast], i.k_period() - 1);
                let d = self.one(Kind::Sma(i.d_period()), &[k], i.k_period() + i.k_slowing() - 2);
                vec![
                    ("k", self.map(Formula::ClampPercent, &[k], 0)),
                    ("d", self.map(Formula::ClampPercent, &[d], 0)),
                ]
            }
            S::StochRsi(i) => {
                let n = i.rsi_period();
                let rsi = self.one(Kind::Rsi(n), &[close], 0);
                let window = self.step(Kind::MinMax(i.k_period()), &[rsi, rsi], n);
                let k = self.map(Formula::FastK, &[rsi, window[0], window[1]], 0);
                let d = self.one(Kind::Sma(i.d_period()), &[k], n + i.k_period() - 1);
                vec![
                    ("k", self.map(Formula::ClampPercent, &[k], 0)),
                    ("d", self.map(Formula::ClampPercent, &[d], 0)),
                ]
            }
            S::Adx(i) => single(self.directional(i.period())[3]),
            S::PlusDi(i) => single(self.directional(i.period())[0]),
            S::MinusDi(i) => single(self.directional(i.period())[1]),
            S::Dx(i) => single(self.directional(i.period())[2]),
            S::Cci(i) => {
                let tp = self.typical();
                single(self.one(Kind::Cci(i.period()), &[tp], 0))
            }
            S::Mfi(i) => {
                let tp = self.typical();
                single(self.one(Kind::Mfi(i.period()), &[tp, Source::Volume], 0))
            }
            S::WillR(i) => {
                let window = self.step(Kind::MinMax(i.period()), &[Source::High, Source::Low], 0);
                single(self.map(Formula::WillR, &[close, window[0], window[1]], 0))
            }
            S::Roc(i) => {
                let lag = self.one(Kind::Lag(i.period()), &[close], 0);
                single(self.map(Formula::Roc, &[close, lag], 0))
            }
            S::Mom(i) => {
                let lag = self.one(Kind::Lag(i.period()), &[close], 0);
                single(self.map(Formula::Difference, &[close, lag], 0))
            }
            S::Obv(_) => single(self.one(Kind::Obv, &[close, Source::Volume], 0)),
            S::Vwap(i) => {
                let tp = self.typical();
                single(self.one(Kind::Vwap(i.anchor()), &[tp, Source::Volume], 0))
            }
        }
    }

    fn true_range(&mut self) -> Source {
        self.one(Kind::TRange, &[Source::High, Source::Low, Source::Close], 0)
    }

    fn atr(&mut self, period: usize) -> Source {
        let tr = self.true_range();
        self.one(Kind::Wilder(period), &[tr], 1)
    }

    fn directional(&mut self, period: usize) -> Vec<Source> {
        self.step(
            Kind::Directional(period),
            &[Source::High, Source::Low, Source::Close],
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_specs;

    fn bars(n: usize) -> crate::Bars {
        (0..n)
            .map(|i| {
                let x = i as f64;
                let close = 50.0 + (x * 0.21).sin() * 6.0 + (x * 0.05).cos() * 3.0;
                let high = close + 0.5 + (x * 0.7).sin().abs();
                let low = close - 0.5 - (x * 0.3).cos().abs();
                Candle::new(close, high, low, close, 1_000.0 + (x * 13.0) % 500.0).at(i as i64 * 3_600)
            })
            .collect()
    }

    #[test]
    fn emas_of_the_close_and_of_each_other_are_one_step() {
        let steps = |specs: &str| Computation::new(&parse_specs(specs).unwrap()).steps();
        // The three EMAs in one step, then the formula.
        assert_eq!(steps("tema:20"), 2);
        // The two lines in one step; the signal (an EMA of their difference) apart.
        assert_eq!(steps("macd:12:26:9"), 4);
        // All five EMAs of the close and of each other in one step.
        assert_eq!(steps("ema:20,tema:20,macd:12:26:9"), 5);
        // A lone EMA, and EMAs of period 1 (copies), are steps of their own.
        assert_eq!(steps("ema:20"), 1);
        assert_eq!(steps("ema:1,dema:1"), 3);
    }

    #[test]
    fn shared_steps_are_planned_once() {
        let alone = Computation::new(&parse_specs("macd:12:26:9").unwrap()).steps();
        let with_ema = Computation::new(&parse_specs("macd:12:26:9,ema:26").unwrap()).steps();
        assert_eq!(alone, with_ema, "ema:26 is the slow line of the MACD");
        let family = Computation::new(&parse_specs("adx:14,plus_di:14,minus_di:14,dx:14").unwrap()).steps();
        assert_eq!(family, 1);
        let bands = Computation::new(&parse_specs("sma:20,stddev:20,bbands:20:2,bbands:20:1").unwrap()).steps();
        // sma, variance, the two square roots (stddev's and the bands'), an upper and a lower
        // band per width
        assert_eq!(bands, 4 + 2 * 2);
    }

    #[test]
    fn duplicate_columns_appear_once() {
        let c = compute(&parse_specs("rsi,rsi:14,macd.signal,macd").unwrap(), &bars(50).view()).unwrap();
        assert_eq!(
            c.names().collect::<Vec<_>>(),
            [
                "rsi:14",
                "macd:12:26:9.signal",
                "macd:12:26:9.macd",
                "macd:12:26:9.hist"
            ]
        );
    }

    #[test]
    fn session_vwap_needs_time() {
        let b = bars(5);
        let v = b.view();
        let no_time = Ohlcv::new(v.open(), v.high(), v.low(), v.close(), v.volume()).unwrap();
        let specs = parse_specs("vwap").unwrap();
        assert_eq!(
            compute(&specs, &no_time),
            Err(IndicatorError::MissingTime {
                indicator: "vwap:session"
            })
        );
        assert!(compute(&parse_specs("vwap:anchored").unwrap(), &no_time).is_ok());
        assert!(compute(&specs, &v).is_ok());
    }

    #[test]
    fn push_gives_the_rows_of_extend() {
        let b = bars(80);
        let specs = parse_specs("stoch,willr,atr,natr,cci,mfi,obv,vwap,adx,roc,mom").unwrap();
        let whole = compute(&specs, &b.view()).unwrap();
        let mut running = Computation::new(&specs);
        for (i, bar) in b.view().candles().enumerate() {
            let row = running.push(bar);
            for ((name, column), value) in whole.iter().zip(row) {
                assert_eq!(column[i].to_bits(), value.to_bits(), "{name} row {i}");
            }
        }
    }

    #[test]
    fn extend_into_replaces_the_columns_of_another_computation() {
        let b = bars(300);
        let specs = parse_specs("stoch,cci,vwap:session,macd.hist").unwrap();
        let mut columns = compute(&parse_specs("sma:3,rsi").unwrap(), &bars(40).view()).unwrap();
        let mut running = Computation::new(&specs);
        running.extend(&bars(120).view()).unwrap();
        running.reset();
        running.extend_into(&b.view(), &mut columns).unwrap();
        let expected = compute(&specs, &b.view()).unwrap();
        let bits = |c: &Columns| {
            c.iter()
                .map(|(name, values)| (name.to_owned(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&columns), bits(&expected));
    }

    #[test]
    fn extend_into_without_times_leaves_the_columns_alone() {
        let b = bars(50);
        let specs = parse_specs("vwap:session").unwrap();
        let mut columns = compute(&specs, &b.view()).unwrap();
        let before = columns.clone();
        let view = b.view();
        let timeless = Ohlcv::new(view.open(), view.high(), view.low(), view.close(), view.volume()).unwrap();
        let mut running = Computation::new(&specs);
        assert!(matches!(
            running.extend_into(&timeless, &mut columns),
            Err(IndicatorError::MissingTime { .. })
        ));
        assert_eq!(columns.names().collect::<Vec<_>>(), before.names().collect::<Vec<_>>());
        assert_eq!(columns.len(), before.len());
        assert_eq!(running.rows(), 0);
    }
}
