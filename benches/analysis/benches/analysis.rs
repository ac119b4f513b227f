//! Backtests over 500 symbols × 2,520 daily bars × 10 strategies: the backtests alone (one
//! signal index per symbol shared by its ten strategies, and, beside it, an index per
//! strategy), signal detection alone, and detection plus backtests.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::Criterion;
use finstage_analysis::backtest::{Mode, SignalIndex, Strategy, StrategyConfig, Trigger, backtest, run};
use finstage_analysis::{RulesConfig, Signal, SignalKind, Timeframe, detect};
use finstage_domain::{Bar, Category, Symbol};
use finstage_test_support::fixtures::synthetic_daily_bars;

const SYMBOLS: usize = 500;
const BARS: usize = 2_520;

struct Universe {
    symbols: Vec<(Symbol, Vec<Bar>)>,
    signals: Vec<Vec<Signal>>,
}

fn universe() -> Universe {
    let first = NaiveDate::from_ymd_opt(2015, 1, 2).expect("a date");
    let symbols: Vec<(Symbol, Vec<Bar>)> = (0..SYMBOLS)
        .map(|i| {
            let symbol = Symbol::parse(&format!("S{i:03}")).expect("a symbol");
            (symbol, synthetic_daily_bars(first, BARS, i as u64 + 1))
        })
        .collect();
    let signals = symbols
        .iter()
        .map(|(symbol, bars)| detect_signals(*symbol, bars))
        .collect();
    Universe { symbols, signals }
}

fn detect_signals(symbol: Symbol, bars: &[Bar]) -> Vec<Signal> {
    detect(&RulesConfig::default(), symbol, Category::Stock, Timeframe::DAILY, bars).expect("the default rules")
}

/// Ten strategies over the default rules' kinds: crosses, MACD, RSI, breakouts, Bollinger,
/// stochastics; long-only and long/short; stops, take-profits, time limits, costs, sizing.
fn strategies() -> Vec<Strategy> {
    use SignalKind::*;
    let make = |entry: Trigger, exit: Vec<SignalKind>, edit: &dyn Fn(&mut StrategyConfig)| {
        let mut config = StrategyConfig::new(entry);
        config.exit = Some(Trigger::Any(exit));
        config.fee_bps = 5.0;
        config.slippage_bps = 5.0;
        edit(&mut config);
        Strategy::new(config).expect("a valid strategy")
    };
    let (gc, dc) = (GoldenCross { fast: 50, slow: 200 }, DeadCross { fast: 50, slow: 200 });
    vec![
        make(Trigger::Any(vec![gc]), vec![dc], &|_| {}),
        make(Trigger::Any(vec![gc]), vec![dc], &|c| c.mode = Mode::LongShort),
        make(Trigger::Any(vec![MacdCrossUp]), vec![MacdCrossDown], &|_| {}),
        make(Trigger::Any(vec![RsiOversoldLeave]), vec![RsiOverboughtEnter], &|c| {
            c.stop_loss = Some(0.08);
        }),
        make(
            Trigger::Any(vec![MaBreakout { period: 20 }]),
            vec![MaBreakdown { period: 20 }],
            &|c| {
                c.stop_loss = Some(0.05);
                c.take_profit = Some(0.10);
            },
        ),
        make(
            Trigger::Any(vec![BollingerBreakLower]),
            vec![BollingerBreakUpper],
            &|c| {
                c.max_hold_bars = Some(10);
            },
        ),
        make(
            Trigger::All(vec![MacdCrossUp, RsiCrossAbove50]),
            vec![MacdCrossDown],
            &|_| {},
        ),
        make(
            Trigger::Any(vec![MaBreakout { period: 50 }, NewAllTimeHigh]),
            vec![MaBreakdown { period: 50 }],
            &|c| c.fraction = 0.5,
        ),
        make(
            Trigger::Any(vec![StochCrossUpOversold]),
            vec![StochCrossDownOverbought],
            &|c| c.mode = Mode::LongShort,
        ),
        make(
            Trigger::Any(vec![MaBreakout { period: 5 }]),
            vec![MaBreakdown { period: 5 }],
            &|c| {
                c.stop_loss = Some(0.03);
                c.max_hold_bars = Some(5);
            },
        ),
    ]
}

fn analysis(c: &mut Criterion) {
    let universe = universe();
    let strategies = strategies();
    let signal_count: usize = universe.signals.iter().map(Vec::len).sum();
    let trades: usize = universe
        .symbols
        .iter()
        .zip(&universe.signals)
        .flat_map(|((_, bars), signals)| {
            let index = SignalIndex::new(bars, signals).expect("signals on bars");
            strategies
                .iter()
                .map(move |s| run(bars, &index, s).expect("a backtest").trades.len())
                .collect::<Vec<_>>()
        })
        .sum();
    eprintln!("{SYMBOLS} symbols × {BARS} bars: {signal_count} signals; 10 strategies: {trades} trades");

    let mut group = c.benchmark_group(format!("analysis/{SYMBOLS}x{BARS}x10"));
    group.sample_size(10);
    group.bench_function("backtests (index shared per symbol)", |b| {
        b.iter(|| {
            for ((_, bars), signals) in universe.symbols.iter().zip(&universe.signals) {
                let index = SignalIndex::new(bars, signals).expect("signals on bars");
                for strategy in &strategies {
                    black_box(run(bars, &index, strategy).expect("a backtest"));
                }
            }
        });
    });
    group.bench_function("backtests (index per strategy)", |b| {
        b.iter(|| {
            for ((_, bars), signals) in universe.symbols.iter().zip(&universe.signals) {
                for strategy in &strategies {
                    black_box(backtest(bars, signals, strategy).expect("a backtest"));
                }
            }
        });
    });
    group.bench_function("detection", |b| {
        b.iter(|| {
            for (symbol, bars) in &universe.symbols {
                black_box(detect_signals(*symbol, bars));
            }
        });
    });
    group.bench_function("detection + backtests", |b| {
        b.iter(|| {
            for (symbol, bars) in &universe.symbols {
                let signals = detect_signals(*symbol, bars);
                let index = SignalIndex::new(bars, &signals).expect("signals on bars");
                for strategy in &strategies {
                    black_box(run(bars, &index, strategy).expect("a backtest"));
                }
            }
        });
    });
    group.finish();
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let mut criterion = Criterion::default().configure_from_args();
    analysis(&mut criterion);
    criterion.final_summary();
}
