//! The rules on real and random histories: streaming equals batch signal for signal, and a
//! snapshot of what the default rules find in ten-plus years of AAPL, MSFT and IBM.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use finstage_analysis::{Plan, RulesConfig, SignalEngine, Timeframe, detect};
use finstage_domain::{Bar, Category, Symbol};
use finstage_test_support::fixtures;
use proptest::prelude::*;

use crate::support::{day, stream, symbol};

/// Small periods, so that a few hundred random bars exercise every rule many times.
fn busy() -> RulesConfig {
    let mut c = RulesConfig::default();
    c.moving_average.periods = vec![2, 5, 9];
    c.cross.pairs = vec![[3, 8], [5, 13]];
    c.rsi.period = 5;
    c.bollinger.period = 6;
    c.bollinger.touch_pct = 3.0;
    (c.macd.fast, c.macd.slow, c.macd.signal) = (3, 7, 4);
    (c.stochastic.k_period, c.stochastic.k_slowing, c.stochastic.d_period) = (5, 2, 3);
    c.volume.period = 4;
    c.volume.spike_ratio = 1.3;
    c.volume.dry_up_ratio = 0.8;
    c
}

fn random_bars() -> impl Strategy<Value = Vec<Bar>> {
    prop::collection::vec((-0.06..0.06f64, 0.0..0.03f64, 0.0..0.03f64, 0u64..5_000), 0..300).prop_map(|steps| {
        let mut close = 100.0_f64;
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (ret, up, down, volume))| {
                let open = close;
                close = (close * (1.0 + ret)).max(0.01);
                let high = open.max(close) * (1.0 + up);
                let low = open.min(close) * (1.0 - down);
                Bar::new(day(i), open, high, low, close, volume).unwrap()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn streaming_equals_batch_on_random_bars(bars in random_bars(), ath in prop::option::of(50.0..200.0f64)) {
        for config in [busy(), RulesConfig::default()] {
            let plan = Plan::new(&config, symbol(), Category::Stock, Timeframe::DAILY).unwrap();
            let batch = finstage_analysis::rules::detect_with(&plan, ath.unwrap_or(f64::NAN), &bars).unwrap();
            let mut engine = SignalEngine::new(plan).unwrap();
            if let Some(ath) = ath {
                engine = engine.with_all_time_high(ath);
            }
            let mut streamed = Vec::new();
            for bar in &bars {
                engine.update(bar, &mut streamed).unwrap();
            }
            prop_assert_eq!(&streamed, &batch);
            // Every signal at a bar's time and close, strength in [0, 1], in time order.
            for s in &batch {
                let bar = bars.iter().find(|b| b.time() == s.time).unwrap();
                prop_assert_eq!(s.price, bar.close());
                prop_assert!((0.0..=1.0).contains(&s.strength));
                prop_assert_eq!(s.direction, s.kind.direction());
            }
            prop_assert!(batch.windows(2).all(|w| w[0].time <= w[1].time));
        }
    }

    #[test]
    fn a_bar_never_changes_the_signals_before_it(bars in random_bars(), cut in 0usize..300) {
        let cut = cut.min(bars.len());
        let all = detect(&busy(), symbol(), Category::Stock, Timeframe::DAILY, &bars).unwrap();
        let head = detect(&busy(), symbol(), Category::Stock, Timeframe::DAILY, &bars[..cut]).unwrap();
        let before: Vec<_> = all.into_iter().filter(|s| bars[..cut].iter().any(|b| b.time() == s.time)).collect();
        prop_assert_eq!(before, head);
    }
}

fn summary(name: &str, category: Category) -> String {
    let bars = fixtures::seed_bars(name);
    let symbol = Symbol::parse(name).unwrap();
    let signals = detect(&RulesConfig::default(), symbol, category, Timeframe::DAILY, &bars).unwrap();
    assert_eq!(stream(&RulesConfig::default(), category, &bars).len(), signals.len());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in &signals {
        *counts.entry(s.kind.to_string()).or_default() += 1;
    }
    let mut out = String::new();
    let first = bars.first().unwrap().time();
    let last = bars.last().unwrap().time();
    writeln!(
        out,
        "{name}: {} bars {first}..{last}, {} signals",
        bars.len(),
        signals.len()
    )
    .unwrap();
    for (kind, n) in &counts {
        writeln!(out, "  {kind:<28} {n:>4}").unwrap();
    }
    writeln!(out, "golden and dead crosses:").unwrap();
    for s in signals.iter().filter(|s| s.kind.to_string().ends_with("_cross")) {
        writeln!(out, "  {} {:<12} {:>8.2} {:.3}", s.time, s.kind, s.price, s.strength).unwrap();
    }
    writeln!(out, "the last 15 signals:").unwrap();
    for s in &signals[signals.len().saturating_sub(15)..] {
        let values: Vec<String> = s.values.iter().map(|(k, v)| format!("{k}={v:.2}")).collect();
        writeln!(
            out,
            "  {} {:<26} {:<7} {:.3} {}",
            s.time,
            s.kind,
            s.direction,
            s.strength,
            values.join(" ")
        )
        .unwrap();
    }
    out
}

#[test]
fn default_rules_on_real_history() {
    // Stock thresholds for all three; the prices are unadjusted, so AAPL's 7:1 split of 2014 is
    // after the data, and its 2:1 of 2005 shows as a plunge.
    for name in fixtures::SEED_SYMBOLS {
        insta::assert_snapshot!(format!("history_{name}"), summary(name, Category::Stock));
    }
}
