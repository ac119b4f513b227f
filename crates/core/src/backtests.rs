//! Backtests over stored daily history, run as tasks of kind [`BACKTEST_KIND`].
//!
//! A [`BacktestRequest`] (serde: the task's payload) names symbols, strategies
//! ([`StrategyConfig`]) and an optional date range. [`run_backtest`] loads each symbol's stored
//! daily bars, detects the signals of the rules in force over them (with the indicators warmed
//! up on the bars before the range, so a range gives the signals a whole-history run gives on
//! it) and backtests every strategy ([`finstage_analysis::backtest::run`]). A symbol without
//! stored bars in the range is an error entry of its own ([`SymbolError`]), not a failure of
//! the run.
//!
//! The full [`BacktestResult`] holds every trade and one equity point per bar: large for ten
//! years of fifty symbols. [`BacktestResult::summary`] keeps the figures, the latest
//! [`MAX_TRADES`] trades and the equity curves sampled to at most [`MAX_EQUITY_POINTS`]: that
//! is what a task stores (at most [`MAX_RUNS`] runs of a few tens of kilobytes each).

use std::fmt::Write as _;

use chrono::NaiveDate;
use finstage_analysis::backtest::{
    self, BacktestReport, EquityPoint, Metrics, SignalIndex, Strategy, StrategyConfig, Trade, Trigger,
};
use finstage_analysis::{AnalysisError, Plan, RulesConfig, Signal, Timeframe};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_store::Store;
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The task kind backtests run as.
pub const BACKTEST_KIND: &str = "backtest";
/// The most symbols one request names.
pub const MAX_SYMBOLS: usize = 50;
/// The most strategies one request names.
pub const MAX_STRATEGIES: usize = 10;
/// The most runs (symbols × strategies) one request asks for.
pub const MAX_RUNS: usize = 100;
/// The most trades a [summary](BacktestResult::summary) keeps per run (the latest ones).
pub const MAX_TRADES: usize = 100;
/// The most points a [summary](BacktestResult::summary) keeps of an equity curve.
pub const MAX_EQUITY_POINTS: usize = 200;

/// What to backtest: the task's payload (unknown keys are rejected).
///
/// ```
/// use finstage_core::backtests::BacktestRequest;
///
/// let request: BacktestRequest = serde_json::from_str(r#"{
///     "symbols": ["msft", "AAPL"],
///     "strategies": [{"entry": {"any": ["macd_cross_up"]}, "exit": {"any": ["macd_cross_down"]}}],
///     "from": "2010-01-01"
/// }"#)?;
/// request.validate()?;
/// let normal = request.normalized();
/// assert_eq!(normal.symbols[0].as_str(), "AAPL");
/// assert_eq!(normal.unique_key(), request.normalized().unique_key());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// The symbols, 1 to [`MAX_SYMBOLS`].
    pub symbols: Vec<Symbol>,
    /// The strategies, 1 to [`MAX_STRATEGIES`]; results name them by their index here.
    pub strategies: Vec<StrategyConfig>,
    /// The first day backtested (default: each symbol's first stored bar).
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// The last day backtested, included (default: each symbol's last stored bar).
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest {
        field: field.into(),
        message: message.into(),
    }
}

impl BacktestRequest {
    /// Checks every field and validates the strategies, in order.
    ///
    /// # Errors
    /// [`CoreError::InvalidRequest`] naming the first bad field: `symbols` (none, more than
    /// [`MAX_SYMBOLS`]), `strategies` (none, more than [`MAX_STRATEGIES`], more than
    /// [`MAX_RUNS`] runs), `strategies[i].entry` … `strategies[i].risk_free_rate` (as
    /// [`Strategy::new`] says), `from` (after `to`).
    pub fn validate(&self) -> Result<Vec<Strategy>, CoreError> {
        if self.symbols.is_empty() {
            return Err(invalid("symbols", "needs at least one symbol"));
        }
        if self.symbols.len() > MAX_SYMBOLS {
            return Err(invalid(
                "symbols",
                format!("at most {MAX_SYMBOLS} symbols, not {}", self.symbols.len()),
            ));
        }
        if self.strategies.is_empty() {
            return Err(invalid("strategies", "needs at least one strategy"));
        }
        if self.strategies.len() > MAX_STRATEGIES {
            return Err(invalid(
                "strategies",
                format!("at most {MAX_STRATEGIES} strategies, not {}", self.strategies.len()),
            ));
        }
        let runs = self.symbols.len() * self.strategies.len();
        if runs > MAX_RUNS {
            return Err(invalid(
                "strategies",
                format!(
                    "at most {MAX_RUNS} runs (symbols × strategies), not {} × {} = {runs}",
                    self.symbols.len(),
                    self.strategies.len()
                ),
            ));
        }
        let strategies = self
            .strategies
            .iter()
            .enumerate()
            .map(|(i, config)| {
                Strategy::new(config.clone()).map_err(|error| match error {
                    AnalysisError::InvalidConfig { key, message } => {
                        let field = key.strip_prefix("strategy.").unwrap_or(&key);
                        invalid(format!("strategies[{i}].{field}"), message)
                    }
                    other => invalid(format!("strategies[{i}]"), other.to_string()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(invalid("from", format!("{from} is after to ({to})")));
        }
        Ok(strategies)
    }

    /// The same request in one canonical form: symbols sorted and each once, the kinds of
    /// every trigger sorted and each once. Requests that mean the same have the same normal
    /// form (and [`unique_key`](Self::unique_key)); results list the symbols in this order.
    #[must_use]
    pub fn normalized(&self) -> Self {
        let mut symbols = self.symbols.clone();
        symbols.sort_unstable();
        symbols.dedup();
        let strategies = self
            .strategies
            .iter()
            .map(|config| {
                let mut config = config.clone();
                config.entry = normal_trigger(&config.entry);
                config.exit = config.exit.as_ref().map(normal_trigger);
                config
            })
            .collect();
        Self {
            symbols,
            strategies,
            from: self.from,
            to: self.to,
        }
    }

    /// A key naming this request exactly: `backtest:` and 32 hex digits of a 128-bit FNV-1a
    /// hash of its JSON. Stable across processes and versions of Rust (no random seed), so
    /// equal [`normalized`](Self::normalized) requests share one queued task.
    pub fn unique_key(&self) -> String {
        // Serializing plain data (symbols, numbers, enums, dates) cannot fail; the Debug form
        // is a stable fallback all the same.
        let text = serde_json::to_string(self).unwrap_or_else(|_| format!("{self:?}"));
        let mut key = format!("{BACKTEST_KIND}:");
        let _ = write!(key, "{:032x}", fnv1a_128(text.as_bytes()));
        key
    }
}

fn normal_trigger(trigger: &Trigger) -> Trigger {
    let sorted = |kinds: &[finstage_analysis::SignalKind]| {
        let mut kinds = kinds.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    };
    match trigger {
        Trigger::Any(kinds) => Trigger::Any(sorted(kinds)),
        Trigger::All(kinds) => Trigger::All(sorted(kinds)),
    }
}

/// FNV-1a over 128 bits.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u128::from(b)).wrapping_mul(PRIME))
}

/// Why a symbol has no backtest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolError {
    /// `no_data` (no stored daily bars, or none in the range) or `invalid_data` (the stored
    /// bars or signals did not fit together).
    pub code: String,
    /// What happened, for people.
    pub message: String,
}

/// One symbol's backtests: one entry per strategy, in request order, or an error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SymbolBacktest<R = BacktestReport> {
    /// The symbol.
    pub symbol: Symbol,
    /// The date of the first bar backtested.
    pub from: Option<NaiveDate>,
    /// The date of the last bar backtested.
    pub to: Option<NaiveDate>,
    /// The bars backtested.
    pub bars: usize,
    /// The signals the rules detected on them.
    pub signals: usize,
    /// Per strategy, in request order (empty with an error).
    pub strategies: Vec<R>,
    /// Why there is no backtest.
    pub error: Option<SymbolError>,
}

/// What [`run_backtest`] produced: per symbol, in request order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestResult<R = BacktestReport> {
    /// Per symbol.
    pub symbols: Vec<SymbolBacktest<R>>,
}

/// The equity curve of buy-and-hold beside a run, in a [`StrategySummary`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchmarkSummary {
    /// Its figures.
    pub metrics: Metrics,
    /// Its equity, sampled like the strategy's.
    pub equity: Vec<EquityPoint>,
}

/// One strategy's backtest of one symbol, with its trades and equity curve bounded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySummary {
    /// The strategy's index in the request.
    pub strategy: usize,
    /// The figures, over every trade.
    pub metrics: Metrics,
    /// The latest [`MAX_TRADES`] trades, in order.
    pub trades: Vec<Trade>,
    /// The earlier trades left out.
    pub trades_omitted: usize,
    /// The equity at the close of at most [`MAX_EQUITY_POINTS`] bars, evenly spread, the first
    /// and last included.
    pub equity: Vec<EquityPoint>,
    /// Buy-and-hold over the same bars.
    pub buy_and_hold: BenchmarkSummary,
}

/// At most `max` points of `curve`, evenly spread, the first and the last included.
fn sample(curve: &[EquityPoint], max: usize) -> Vec<EquityPoint> {
    let n = curve.len();
    if n <= max {
        return curve.to_vec();
    }
    if max < 2 {
        return curve.last().into_iter().take(max).copied().collect();
    }
    let mut out: Vec<EquityPoint> = Vec::with_capacity(max);
    for k in 0..max {
        // k × (n − 1) / (max − 1), rounded: 0 for the first point, n − 1 for the last.
        let index = (k * (n - 1) + (max - 1) / 2) / (max - 1);
        if let Some(point) = curve.get(index) {
            out.push(*point);
        }
    }
    out
}

fn summarize(strategy: usize, report: &BacktestReport) -> StrategySummary {
    let omitted = report.trades.len().saturating_sub(MAX_TRADES);
    StrategySummary {
        strategy,
        metrics: report.metrics.clone(),
        trades: report.trades[omitted..].to_vec(),
        trades_omitted: omitted,
        equity: sample(&report.equity, MAX_EQUITY_POINTS),
        buy_and_hold: BenchmarkSummary {
            metrics: report.buy_and_hold.metrics.clone(),
            equity: sample(&report.buy_and_hold.equity, MAX_EQUITY_POINTS),
        },
    }
}

impl BacktestResult {
    /// The result with every run's trades and equity curves bounded (see [`StrategySummary`]):
    /// what a backtest task stores.
    pub fn summary(&self) -> BacktestResult<StrategySummary> {
        BacktestResult {
            symbols: self
                .symbols
                .iter()
                .map(|s| SymbolBacktest {
                    symbol: s.symbol,
                    from: s.from,
                    to: s.to,
                    bars: s.bars,
                    signals: s.signals,
                    strategies: s
                        .strategies
                        .iter()
                        .enumerate()
                        .map(|(i, report)| summarize(i, report))
                        .collect(),
                    error: s.error.clone(),
                })
                .collect(),
        }
    }
}

fn bar_date(time: BarTime) -> NaiveDate {
    match time {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

fn failed(symbol: Symbol, code: &str, message: String) -> SymbolBacktest {
    SymbolBacktest {
        symbol,
        from: None,
        to: None,
        bars: 0,
        signals: 0,
        strategies: Vec::new(),
        error: Some(SymbolError {
            code: code.to_owned(),
            message,
        }),
    }
}

/// Backtests every strategy of `request` on each of its symbols' stored daily bars, with the
/// signals `rules` detect on them.
///
/// Per symbol: the bars from `from` to `to` (each defaulting to the stored span), the signals
/// of the rules over them — the indicators warmed up on the bars before `from` and seeded with
/// the all-time high from before those, as the signal pipeline does — and one
/// [`BacktestReport`] per strategy. The symbol's category is the stored one, else inferred. A
/// symbol with no stored bars in the range gets an error entry (`no_data`), the others their
/// reports.
///
/// # Errors
/// [`CoreError::InvalidRequest`] from [`BacktestRequest::validate`];
/// [`CoreError::Analysis`] when `rules` do not validate; [`CoreError::Store`] when the store
/// fails (nothing is returned: a task retries the whole run).
pub async fn run_backtest(
    store: &Store,
    rules: &RulesConfig,
    request: &BacktestRequest,
) -> Result<BacktestResult, CoreError> {
    let strategies = request.validate()?;
    rules.validate("rules")?;
    let mut symbols = Vec::with_capacity(request.symbols.len());
    for &symbol in &request.symbols {
        symbols.push(backtest_symbol(store, rules, request, symbol, &strategies).await?);
        // Each symbol is CPU work between awaits: let the runtime's other tasks in.
        tokio::task::yield_now().await;
    }
    Ok(BacktestResult { symbols })
}

async fn backtest_symbol(
    store: &Store,
    rules: &RulesConfig,
    request: &BacktestRequest,
    symbol: Symbol,
    strategies: &[Strategy],
) -> Result<SymbolBacktest, CoreError> {
    let Some((first, last)) = store.daily_bars().span(&symbol).await? else {
        return Ok(failed(symbol, "no_data", format!("no stored daily bars for {symbol}")));
    };
    let from = request.from.map_or(first, |from| from.max(first));
    let to = request.to.map_or(last, |to| to.min(last));
    let bars = if from <= to {
        store.daily_bars().range(&symbol, from, to).await?
    } else {
        Vec::new()
    };
    let (Some(first_bar), Some(last_bar)) = (bars.first(), bars.last()) else {
        return Ok(failed(
            symbol,
            "no_data",
            format!("no stored daily bars for {symbol} between {from} and {to} (stored: {first} to {last})"),
        ));
    };
    let (start, end) = (bar_date(first_bar.time()), bar_date(last_bar.time()));
    let category = match store.symbols().get(&symbol).await? {
        Some(record) => record.category,
        None => Category::infer(&symbol),
    };
    let plan = Plan::new(rules, symbol, category, Timeframe::DAILY)?;
    let warm_up = u32::try_from(plan.warm_up_bars()).unwrap_or(u32::MAX);
    let mut series = store.daily_bars().before(&symbol, start, warm_up).await?;
    let warm = series.len();
    let seed_before = series.first().map_or(start, |b| bar_date(b.time()));
    let ath = store
        .daily_bars()
        .max_high_before(&symbol, seed_before)
        .await?
        .unwrap_or(f64::NAN);
    series.extend_from_slice(&bars);
    let outcome = signals_and_reports(&plan, ath, &series, warm, strategies);
    Ok(match outcome {
        Ok((signals, reports)) => SymbolBacktest {
            symbol,
            from: Some(start),
            to: Some(end),
            bars: bars.len(),
            signals,
            strategies: reports,
            error: None,
        },
        Err(error) => {
            tracing::warn!(%symbol, %error, "backtest of stored bars failed");
            failed(symbol, "invalid_data", error.to_string())
        }
    })
}

/// Detects the signals over `series` (the first `warm` bars only warm the indicators up) and
/// backtests each strategy over the rest.
fn signals_and_reports(
    plan: &Plan,
    ath: f64,
    series: &[Bar],
    warm: usize,
    strategies: &[Strategy],
) -> Result<(usize, Vec<BacktestReport>), AnalysisError> {
    let bars = series.get(warm..).unwrap_or_default();
    let Some(start) = bars.first().map(Bar::time) else {
        return Ok((0, Vec::new()));
    };
    let signals: Vec<Signal> = finstage_analysis::rules::detect_with(plan, ath, series)?
        .into_iter()
        .filter(|s| s.time >= start)
        .collect();
    let index = SignalIndex::new(bars, &signals)?;
    let reports = strategies
        .iter()
        .map(|strategy| backtest::run(bars, &index, strategy))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((signals.len(), reports))
}

/// Registers the handler of [`BACKTEST_KIND`] tasks on `handlers`: it runs
/// [`run_backtest`] over `store` with `rules` and stores the result's summary, at most
/// `concurrency` at once. An invalid request (or invalid rules) makes the task fail at once; a
/// store failure is retried. The error a task keeps is shown by the public status endpoint, so
/// store failures keep a plain message (their detail goes to the log).
///
/// # Errors
/// As [`finstage_tasks::Handlers::register`]: a zero concurrency, or a handler already registered.
pub fn register_handler(
    handlers: &mut finstage_tasks::Handlers,
    store: Store,
    rules: std::sync::Arc<RulesConfig>,
    concurrency: usize,
) -> Result<&mut finstage_tasks::Handlers, finstage_tasks::TaskError> {
    handlers.register(
        BACKTEST_KIND,
        concurrency,
        move |mut ctx: finstage_tasks::TaskContext, request: BacktestRequest| {
            let (store, rules) = (store.clone(), rules.clone());
            async move {
                let id = ctx.id;
                tokio::select! {
                    outcome = run_backtest(&store, &rules, &request) => match outcome {
                        Ok(full) => Ok(full.summary()),
                        Err(error @ (CoreError::InvalidRequest { .. } | CoreError::Analysis(_))) => {
                            Err(finstage_tasks::HandlerError::Fatal(error.to_string()))
                        }
                        Err(error) => {
                            tracing::warn!(task = %id, %error, "backtest failed");
                            Err(finstage_tasks::HandlerError::Retry("the backtest could not read the stored data".to_owned()))
                        }
                    },
                    () = ctx.cancelled() => Err(finstage_tasks::HandlerError::Cancelled),
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: u32, equity: f64) -> EquityPoint {
        EquityPoint {
            time: BarTime::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(day))),
            equity,
        }
    }

    #[test]
    fn sampling_keeps_the_ends_and_at_most_max_points() {
        let curve: Vec<EquityPoint> = (0..1_000).map(|i| point(i, f64::from(i))).collect();
        let sampled = sample(&curve, 200);
        assert_eq!(sampled.len(), 200);
        assert_eq!(sampled.first(), curve.first());
        assert_eq!(sampled.last(), curve.last());
        assert!(sampled.windows(2).all(|w| w[0].time < w[1].time));
        let short = &curve[..50];
        assert_eq!(sample(short, 200), short);
        assert!(sample(&[], 200).is_empty());
    }

    #[test]
    fn the_hash_is_fnv_1a_128() {
        // The published test vectors of FNV-1a, 128 bits.
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
        assert_eq!(fnv1a_128(b"foobar"), 0x343e_1662_793c_64bf_6f0d_3597_ba44_6f18);
    }
}
