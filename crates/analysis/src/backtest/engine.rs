//! The backtest loop: fills, stops, the equity curve and the trade list, and buy-and-hold.

use finstage_domain::{Bar, BarTime};
use serde::Serialize;

use super::index::{CompiledTrigger, SignalIndex};
use super::metrics::{self, Metrics};
use super::strategy::{Mode, Strategy};
use crate::error::AnalysisError;

/// Which way a position is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Bought first, sold to close: profits when the price rises.
    Long,
    /// Sold first, bought back to close: profits when the price falls.
    Short,
}

/// Why a trade was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// An exit signal (or, short, an entry signal) on the previous bar: filled at the open.
    Signal,
    /// `max_hold_bars` reached: filled at the open.
    Time,
    /// The stop-loss level was touched: filled at the level, or at the open when the open
    /// gapped through it.
    StopLoss,
    /// The take-profit level was touched: filled at the level, or at the open when the open
    /// gapped through it.
    TakeProfit,
    /// Still open after the last bar: closed at the last close (a fill like any other, with
    /// slippage and fee).
    End,
}

/// One closed trade.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trade {
    /// Long or short.
    pub side: Side,
    /// The index of the bar it was entered on (at that bar's open).
    pub entry_bar: usize,
    /// That bar's time.
    pub entry_time: BarTime,
    /// The entry fill price, slippage included.
    pub entry_price: f64,
    /// The index of the bar it was closed on.
    pub exit_bar: usize,
    /// That bar's time.
    pub exit_time: BarTime,
    /// The exit fill price, slippage included.
    pub exit_price: f64,
    /// Shares (positive for both sides; fractional).
    pub quantity: f64,
    /// Fees of both fills.
    pub fees: f64,
    /// Net profit: `quantity × (exit_price − entry_price)` for a long
    /// (`quantity × (entry_price − exit_price)` for a short) minus both fees.
    pub pnl: f64,
    /// `pnl / committed`, where `committed = fraction × equity` at entry (the entry
    /// notional plus its fee).
    pub net_return: f64,
    /// Why it was closed.
    pub reason: ExitReason,
}

/// The equity at one bar's close.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EquityPoint {
    /// The bar's time.
    pub time: BarTime,
    /// Cash plus the open position marked to the close (after any fill at that close).
    pub equity: f64,
}

/// Buy-and-hold over the same bars, beside the strategy.
///
/// It invests the whole initial equity (fee included) at the first bar's open, with the
/// strategy's slippage and fee, and holds to the last close, where it is marked without a sale:
/// its fees are charged once. Its one trade (reason [`ExitReason::End`]) is that holding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Benchmark {
    /// The equity at each close.
    pub equity: Vec<EquityPoint>,
    /// The same figures as the strategy's.
    pub metrics: Metrics,
}

/// What one backtest produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestReport {
    /// Every trade, in order; one still open after the last bar is closed there
    /// ([`ExitReason::End`]).
    pub trades: Vec<Trade>,
    /// The equity at each bar's close, one point per bar.
    pub equity: Vec<EquityPoint>,
    /// The strategy's figures.
    pub metrics: Metrics,
    /// Buy-and-hold over the same bars.
    pub buy_and_hold: Benchmark,
}

/// An open position.
#[derive(Clone, Copy, Debug)]
struct Position {
    side: Side,
    quantity: f64,
    entry_bar: usize,
    entry_price: f64,
    entry_fee: f64,
    committed: f64,
}

/// What the close of a bar decided for the next open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    None,
    Open(Side),
    Close(ExitReason),
    /// Close the position and open the other side at the same open.
    Reverse(Side),
}

/// The running account of one backtest.
struct Account<'a> {
    strategy: &'a Strategy,
    cash: f64,
    position: Option<Position>,
    trades: Vec<Trade>,
}

impl Account<'_> {
    /// Opens `side` at the reference `price` on bar `at`: commits `fraction × cash` (the
    /// account is flat, so cash is the equity), of which `notional = committed / (1 + fee)`
    /// buys (or sells short) `notional / fill` shares. Skipped when the equity is not positive.
    fn open(&mut self, side: Side, price: f64, at: usize) {
        let strategy = self.strategy;
        let committed = strategy.config().fraction * self.cash;
        if committed <= 0.0 {
            return;
        }
        let fill = match side {
            Side::Long => price * (1.0 + strategy.slippage),
            Side::Short => price * (1.0 - strategy.slippage),
        };
        let notional = committed / (1.0 + strategy.fee_rate);
        let fee = notional * strategy.fee_rate;
        match side {
            Side::Long => self.cash -= notional + fee,
            Side::Short => self.cash += notional - fee,
        }
        self.position = Some(Position {
            side,
            quantity: notional / fill,
            entry_bar: at,
            entry_price: fill,
            entry_fee: fee,
            committed,
        });
    }

    /// Closes the position (if any) at the reference `price` on bar `at`.
    fn close(&mut self, price: f64, at: usize, bars: &[Bar], reason: ExitReason) {
        let Some(position) = self.position.take() else {
            return;
        };
        let strategy = self.strategy;
        let quantity = position.quantity;
        let (fill, gross) = match position.side {
            Side::Long => {
                let fill = price * (1.0 - strategy.slippage);
                (fill, quantity * (fill - position.entry_price))
            }
            Side::Short => {
                let fill = price * (1.0 + strategy.slippage);
                (fill, quantity * (position.entry_price - fill))
            }
        };
        let notional = quantity * fill;
        let fee = notional * strategy.fee_rate;
        match position.side {
            Side::Long => self.cash += notional - fee,
            Side::Short => self.cash -= notional + fee,
        }
        let pnl = gross - position.entry_fee - fee;
        self.trades.push(Trade {
            side: position.side,
            entry_bar: position.entry_bar,
            entry_time: bars[position.entry_bar].time(),
            entry_price: position.entry_price,
            exit_bar: at,
            exit_time: bars[at].time(),
            exit_price: fill,
            quantity,
            fees: position.entry_fee + fee,
            pnl,
            net_return: pnl / position.committed,
            reason,
        });
    }

    /// Cash plus the position marked at `price`.
    fn equity(&self, price: f64) -> f64 {
        match self.position {
            None => self.cash,
            Some(Position {
                side: Side::Long,
                quantity,
                ..
            }) => self.cash + quantity * price,
            Some(Position {
                side: Side::Short,
                quantity,
                ..
            }) => self.cash - quantity * price,
        }
    }
}

/// The stop-loss or take-profit exit on `bar`, if any, as (reference price, reason).
///
/// Levels are taken from the entry fill price. A level the open gapped through fills at the
/// open (the open is the bar's first price, so it came first); otherwise a level inside the
/// bar's range fills at the level; when both levels are inside the range, the stop is assumed
/// to have come first (the conservative reading).
fn stop_exit(position: &Position, strategy: &Strategy, bar: &Bar) -> Option<(f64, ExitReason)> {
    let config = strategy.config();
    let entry = position.entry_price;
    let (open, high, low) = (bar.open(), bar.high(), bar.low());
    match position.side {
        Side::Long => {
            let stop = config.stop_loss.map(|s| entry * (1.0 - s));
            let take = config.take_profit.map(|t| entry * (1.0 + t));
            if stop.is_some_and(|stop| open <= stop) {
                Some((open, ExitReason::StopLoss))
            } else if take.is_some_and(|take| open >= take) {
                Some((open, ExitReason::TakeProfit))
            } else if let Some(stop) = stop.filter(|&stop| low <= stop) {
                Some((stop, ExitReason::StopLoss))
            } else {
                take.filter(|&take| high >= take)
                    .map(|take| (take, ExitReason::TakeProfit))
            }
        }
        Side::Short => {
            let stop = config.stop_loss.map(|s| entry * (1.0 + s));
            let take = config.take_profit.map(|t| entry * (1.0 - t));
            if stop.is_some_and(|stop| open >= stop) {
                Some((open, ExitReason::StopLoss))
            } else if take.is_some_and(|take| open <= take) {
                Some((open, ExitReason::TakeProfit))
            } else if let Some(stop) = stop.filter(|&stop| high >= stop) {
                Some((stop, ExitReason::StopLoss))
            } else {
                take.filter(|&take| low <= take)
                    .map(|take| (take, ExitReason::TakeProfit))
            }
        }
    }
}

/// Backtests `strategy` over one symbol's `bars` with its signals placed by `index` (built by
/// [`SignalIndex::new`] over the same bars; one index serves any number of strategies).
///
/// The rules, bar by bar (no look-ahead: what happens at a bar's open depends only on earlier
/// bars):
/// 1. **Open.** The order decided at the previous close is filled at this open: open a
///    position, close one (reason [`Signal`](ExitReason::Signal) or
///    [`Time`](ExitReason::Time)), or close and open the other side (long/short).
/// 2. **During the bar**, from the bar after entry on: stop-loss and take-profit against the
///    bar's low and high (see [`ExitReason::StopLoss`]; the stop wins when both are touched).
/// 3. **Close.** On the last bar an open position is closed at the close
///    ([`ExitReason::End`]). The equity is marked at the close.
/// 4. **Decide** from the signals of this bar (fired on its close): with `E` the entry trigger
///    and `X` the exit trigger (both firing on one bar cancel out: nothing is done), flat →
///    `E` opens a long, `X` (long/short) a short; long → `X` closes (long/short: reverses to
///    short), otherwise the time limit closes when due; short → `E` reverses to long,
///    otherwise the time limit. Signals of the last bar act on nothing.
///
/// Every fill's price is worsened by the slippage and pays the fee on its notional.
///
/// # Errors
/// [`AnalysisError::InvalidInput`] when `bars` is empty or `index` was built over other bars.
pub fn run(bars: &[Bar], index: &SignalIndex, strategy: &Strategy) -> Result<BacktestReport, AnalysisError> {
    if bars.is_empty() {
        return Err(AnalysisError::InvalidInput(
            "a backtest needs at least one bar".to_owned(),
        ));
    }
    index.check_fits(bars)?;
    let config = strategy.config();
    let long_short = config.mode == Mode::LongShort;
    let max_hold = config.max_hold_bars.map(|n| n as usize);
    let entry = index.compile(&config.entry);
    let exit_trigger = config
        .exit
        .as_ref()
        .map_or(CompiledTrigger::Never, |exit| index.compile(exit));
    let mut account = Account {
        strategy,
        cash: config.initial_equity,
        position: None,
        trades: Vec::new(),
    };
    let mut equity = Vec::with_capacity(bars.len());
    let mut order = Order::None;
    let mut in_market = 0;
    let last = bars.len() - 1;
    for (t, bar) in bars.iter().enumerate() {
        // 1. The open.
        match order {
            Order::None => {}
            Order::Open(side) => account.open(side, bar.open(), t),
            Order::Close(reason) => account.close(bar.open(), t, bars, reason),
            Order::Reverse(side) => {
                account.close(bar.open(), t, bars, ExitReason::Signal);
                account.open(side, bar.open(), t);
            }
        }
        // 2. During the bar.
        if let Some(position) = account.position {
            in_market += 1;
            if position.entry_bar < t
                && let Some((price, reason)) = stop_exit(&position, strategy, bar)
            {
                account.close(price, t, bars, reason);
            }
        }
        // 3. The close.
        if t == last {
            account.close(bar.close(), t, bars, ExitReason::End);
        }
        equity.push(EquityPoint {
            time: bar.time(),
            equity: account.equity(bar.close()),
        });
        // 4. Decide the next open.
        if t == last {
            break;
        }
        let (mut enter, mut exit) = (index.fires(&entry, t), index.fires(&exit_trigger, t));
        if enter && exit {
            (enter, exit) = (false, false);
        }
        let due = |position: &Position| max_hold.is_some_and(|n| t + 1 - position.entry_bar >= n);
        order = match account.position {
            None if enter => Order::Open(Side::Long),
            None if exit && long_short => Order::Open(Side::Short),
            None => Order::None,
            Some(position) => match position.side {
                Side::Long if exit && long_short => Order::Reverse(Side::Short),
                Side::Long if exit => Order::Close(ExitReason::Signal),
                Side::Short if enter => Order::Reverse(Side::Long),
                _ if due(&position) => Order::Close(ExitReason::Time),
                _ => Order::None,
            },
        };
    }
    let metrics = metrics::compute(
        config.initial_equity,
        &equity,
        &account.trades,
        in_market,
        strategy.daily_risk_free,
    );
    Ok(BacktestReport {
        trades: account.trades,
        equity,
        metrics,
        buy_and_hold: buy_and_hold(bars, strategy),
    })
}

/// Buy-and-hold over `bars` with `strategy`'s costs (see [`Benchmark`]); `bars` not empty.
fn buy_and_hold(bars: &[Bar], strategy: &Strategy) -> Benchmark {
    let config = strategy.config();
    let initial = config.initial_equity;
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Benchmark {
            equity: Vec::new(),
            metrics: metrics::compute(initial, &[], &[], 0, strategy.daily_risk_free),
        };
    };
    let fill = first.open() * (1.0 + strategy.slippage);
    let notional = initial / (1.0 + strategy.fee_rate);
    let fee = notional * strategy.fee_rate;
    let quantity = notional / fill;
    let cash = initial - notional - fee;
    let equity: Vec<EquityPoint> = bars
        .iter()
        .map(|bar| EquityPoint {
            time: bar.time(),
            equity: cash + quantity * bar.close(),
        })
        .collect();
    let pnl = quantity * (last.close() - fill) - fee;
    let holding = Trade {
        side: Side::Long,
        entry_bar: 0,
        entry_time: first.time(),
        entry_price: fill,
        exit_bar: bars.len() - 1,
        exit_time: last.time(),
        exit_price: last.close(),
        quantity,
        fees: fee,
        pnl,
        net_return: pnl / initial,
        reason: ExitReason::End,
    };
    let metrics = metrics::compute(
        initial,
        &equity,
        std::slice::from_ref(&holding),
        bars.len(),
        strategy.daily_risk_free,
    );
    Benchmark { equity, metrics }
}
