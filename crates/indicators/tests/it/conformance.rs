//! One math path: for random bars and random specs (periods of 1 and very large included),
//! the batch function, the streaming state, the incremental extension and [`compute`] give the
//! same bits; lookbacks are TA-Lib's; bounded indicators stay in range; hostile input (NaN,
//! infinities, empty and short series, constant series) never panics and behaves as documented.

use finstage_indicators::{
    Bars, Candle, Computation, Indicator, IndicatorSpec, OutputSpec, Sma, compute, parse_specs, spec,
};
use proptest::prelude::*;

use crate::support::{batch, extended, same, stream};

/// Random-walk bars: positive prices, low ≤ open, close ≤ high, volumes (zeros allowed when
/// `zero_volume`), times a few hours apart so sessions change now and then.
fn bars_strategy(max_len: usize, zero_volume: bool) -> impl Strategy<Value = Bars> {
    let step = (
        -0.05f64..0.05,
        0.0f64..0.03,
        0.0f64..0.03,
        0.0f64..1.0,
        0u32..3,
        1i64..30,
    );
    (1.0f64..1000.0, prop::collection::vec(step, 0..max_len)).prop_map(move |(start, steps)| {
        let mut close = start;
        let mut time = 1_600_000_000i64;
        steps
            .into_iter()
            .map(|(change, up, down, open_at, volume_kind, hours)| {
                let open = close;
                close *= 1.0 + change;
                let high = open.max(close) * (1.0 + up);
                let low = open.min(close) * (1.0 - down);
                let open = low + (high - low) * open_at;
                let volume = match volume_kind {
                    0 if zero_volume => 0.0,
                    0 | 1 => 1_000.0 + (close * 7.0).floor(),
                    _ => 1e6 * (1.0 + change.abs()),
                };
                time += hours * 3_600;
                Candle::new(open, high, low, close, volume).at(time)
            })
            .collect()
    })
}

fn period() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 1usize..40, 1 => Just(1usize), 1 => Just(2usize), 1 => 200usize..400, 1 => Just(100_000usize)]
}

/// A random spec string of any indicator, with random parameters, parsed.
fn spec_strategy() -> impl Strategy<Value = IndicatorSpec> {
    (0..spec::NAMES.len(), period(), period(), period(), 1u32..40).prop_filter_map(
        "parameters the indicator rejects",
        |(name, p1, p2, p3, k)| {
            let name = spec::NAMES[name];
            let text = match name {
                "macd" | "stoch" | "stochrsi" => format!("{name}:{p1}:{p2}:{p3}"),
                "bbands" => format!("{name}:{p1}:{}", f64::from(k) / 8.0),
                "trange" | "obv" => name.to_string(),
                "vwap" => format!("{name}:{}", if p1 % 2 == 0 { "session" } else { "anchored" }),
                _ => format!("{name}:{p1}"),
            };
            text.parse::<IndicatorSpec>().ok()
        },
    )
}

fn check_paths(spec: IndicatorSpec, bars: &Bars, split: usize) -> Result<Vec<Vec<f64>>, TestCaseError> {
    let view = bars.view();
    let names = spec.column_names();
    let batched = batch(spec, &view);
    prop_assert_eq!(batched.len(), names.len());
    for column in &batched {
        prop_assert_eq!(column.len(), bars.len());
    }

    // Streaming, one bar at a time.
    let mut state = stream(spec);
    for (i, bar) in view.candles().enumerate() {
        let row = state(bar);
        for (c, name) in names.iter().enumerate() {
            let streamed = row.as_ref().map_or(f64::NAN, |r| r[c]);
            prop_assert!(
                same(streamed, batched[c][i]),
                "{} row {}: stream {} batch {}",
                name,
                i,
                streamed,
                batched[c][i]
            );
        }
    }

    // The typed state extended in two parts (the incremental API).
    let pieced = extended(spec, &view, split);
    for (c, name) in names.iter().enumerate() {
        for i in 0..bars.len() {
            prop_assert!(
                same(pieced[c][i], batched[c][i]),
                "{} row {}: extend {} batch {}",
                name,
                i,
                pieced[c][i],
                batched[c][i]
            );
        }
    }

    // compute(), and the incremental Computation over two parts.
    let specs = [OutputSpec::all(spec)];
    let computed = compute(&specs, &view).unwrap();
    let mut incremental = Computation::new(&specs);
    let mut parts = incremental.extend(&view.slice(0..split)).unwrap();
    parts.append(incremental.extend(&view.slice(split..bars.len())).unwrap());
    // The same computation, reset after it has seen every bar, writing into reused columns.
    let mut reused_computation = incremental.clone();
    reused_computation.reset();
    let mut reused = parts.clone();
    reused_computation.extend_into(&view, &mut reused).unwrap();
    prop_assert_eq!(reused.width(), parts.width());
    prop_assert_eq!(reused.len(), bars.len());
    for (c, name) in names.iter().enumerate() {
        let whole = computed.get(name).unwrap();
        let pieced = parts.get(name).unwrap();
        let again = reused.get(name).unwrap();
        for i in 0..bars.len() {
            prop_assert!(
                same(whole[i], batched[c][i]),
                "{} row {}: compute {} batch {}",
                name,
                i,
                whole[i],
                batched[c][i]
            );
            prop_assert!(
                same(pieced[i], batched[c][i]),
                "{} row {}: incremental {} batch {}",
                name,
                i,
                pieced[i],
                batched[c][i]
            );
            prop_assert!(
                same(again[i], batched[c][i]),
                "{} row {}: after reset {} batch {}",
                name,
                i,
                again[i],
                batched[c][i]
            );
        }
    }
    Ok(batched)
}

fn bounds(name: &str) -> Option<(f64, f64)> {
    match name {
        "rsi" | "stoch" | "stochrsi" | "mfi" | "adx" | "dx" | "plus_di" | "minus_di" => Some((0.0, 100.0)),
        "willr" => Some((-100.0, 0.0)),
        "atr" | "natr" | "trange" | "stddev" => Some((0.0, f64::INFINITY)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn batch_stream_incremental_and_compute_agree(
        spec in spec_strategy(),
        bars in bars_strategy(300, true),
        split in 0usize..300,
    ) {
        let split = split.min(bars.len());
        check_paths(spec, &bars, split)?;
    }

    /// Several specs planned together (sharing steps, EMAs run side by side) give each spec's
    /// columns exactly as computed alone, in one call and fed in two parts.
    #[test]
    fn specs_planned_together_equal_each_alone(
        specs in prop::collection::vec(spec_strategy(), 1..7),
        bars in bars_strategy(700, true),
        split in 0usize..700,
    ) {
        let split = split.min(bars.len());
        let view = bars.view();
        let all: Vec<OutputSpec> = specs.iter().copied().map(OutputSpec::all).collect();
        let together = compute(&all, &view).unwrap();
        let mut running = Computation::new(&all);
        let mut parts = running.extend(&view.slice(0..split)).unwrap();
        parts.append(running.extend(&view.slice(split..bars.len())).unwrap());
        for spec in &all {
            let alone = compute(std::slice::from_ref(spec), &view).unwrap();
            for (name, expected) in alone.iter() {
                for (path, columns) in [("together", &together), ("in two parts", &parts)] {
                    let got = columns.get(name).unwrap();
                    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
                        prop_assert!(same(*g, *e), "{} row {} {}: {} alone {}", name, i, path, g, e);
                    }
                }
            }
        }
    }

    #[test]
    fn lookbacks_are_exact_and_ranges_hold(spec in spec_strategy(), bars in bars_strategy(300, false)) {
        let columns = check_paths(spec, &bars, bars.len() / 2)?;
        let lookback = spec.lookback().min(bars.len());
        for (name, column) in spec.column_names().iter().zip(&columns) {
            prop_assert!(column[..lookback].iter().all(|v| v.is_nan()), "{}: a value inside the lookback", name);
            prop_assert!(column[lookback..].iter().all(|v| v.is_finite()), "{}: NaN after the lookback", name);
            if let Some((low, high)) = bounds(spec.name()) {
                for v in &column[lookback..] {
                    prop_assert!((low..=high).contains(v), "{} = {} outside [{}, {}]", name, v, low, high);
                }
            }
        }
    }

    #[test]
    fn non_finite_input_never_panics_nor_changes_earlier_outputs(
        spec in spec_strategy(),
        bars in bars_strategy(120, true),
        at in 0usize..120,
        field in 0usize..5,
        poison in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        prop_assume!(!bars.is_empty());
        let at = at % bars.len();
        let clean = check_paths(spec, &bars, at)?;
        let mut candles: Vec<Candle> = bars.view().candles().collect();
        let target = &mut candles[at];
        *[&mut target.open, &mut target.high, &mut target.low, &mut target.close, &mut target.volume][field] = poison;
        let poisoned: Bars = candles.into_iter().collect();
        let dirty = check_paths(spec, &poisoned, at)?;
        for (c, d) in clean.iter().zip(&dirty) {
            for i in 0..at {
                prop_assert!(same(c[i], d[i]), "{} row {} changed by a later {}", spec, i, poison);
            }
        }
    }

    #[test]
    fn any_spec_text_parses_or_fails_cleanly(text in "\\PC{0,40}") {
        if let Ok(spec) = text.parse::<OutputSpec>() {
            prop_assert_eq!(spec.to_string().parse::<OutputSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn display_round_trips(spec in spec_strategy()) {
        let text = spec.to_string();
        prop_assert_eq!(text.parse::<IndicatorSpec>().unwrap(), spec);
        for name in spec.column_names() {
            prop_assert_eq!(name.parse::<OutputSpec>().unwrap().to_string(), name);
        }
    }
}

#[test]
fn empty_and_short_inputs_give_nan_of_the_right_length() {
    let all: Vec<OutputSpec> = finstage_indicators::IndicatorSpec::all_defaults()
        .into_iter()
        .map(OutputSpec::all)
        .collect();
    let bars: Bars = (0..5)
        .map(|i| Candle::new(10.0, 11.0, 9.0, 10.0 + i as f64, 100.0).at(i * 60))
        .collect();
    let empty = Bars::new();
    let columns = compute(&all, &empty.view()).unwrap();
    assert!(columns.width() > 25);
    assert!(columns.iter().all(|(_, values)| values.is_empty()));
    let columns = compute(&all, &bars.view()).unwrap();
    for (name, values) in columns.iter() {
        assert_eq!(values.len(), 5, "{name}");
        let spec: OutputSpec = name.parse().unwrap();
        let lookback = spec.indicator().lookback();
        if lookback >= 5 {
            assert!(values.iter().all(|v| v.is_nan()), "{name}");
        }
    }
    assert!(Sma::new(20).unwrap().batch(&[]).is_empty());
}

#[test]
fn constant_series_give_the_textbook_values() {
    let bars: Bars = (0..60)
        .map(|i| Candle::new(42.5, 43.0, 42.0, 42.5, 1_000.0).at(i * 86_400))
        .collect();
    let specs = parse_specs(
        "sma:10,ema:10,wma:10,dema:10,tema:10,stddev:10,bbands:10:2,rsi:10,roc:10,mom:10,trange,atr:10,\
         willr:10,stoch:10:3:3,cci:10,mfi:10,obv,vwap:anchored,macd:5:10:3",
    )
    .unwrap();
    let columns = compute(&specs, &bars.view()).unwrap();
    let last = |name: &str| *columns.get(name).unwrap().last().unwrap();
    for name in [
        "sma:10",
        "ema:10",
        "wma:10",
        "dema:10",
        "tema:10",
        "bbands:10:2.upper",
        "bbands:10:2.lower",
    ] {
        assert!((last(name) - 42.5).abs() < 1e-12, "{name} = {}", last(name));
    }
    for name in ["stddev:10", "rsi:10", "roc:10", "mom:10", "cci:10", "mfi:10"] {
        assert!(last(name).abs() < 1e-12, "{name} = {}", last(name));
    }
    for name in ["macd:5:10:3.macd", "macd:5:10:3.signal", "macd:5:10:3.hist"] {
        assert!(last(name).abs() < 1e-12, "{name} = {}", last(name));
    }
    // The close sits mid-range: %R −50, %K 50.
    assert!((last("willr:10") + 50.0).abs() < 1e-12);
    assert!((last("stoch:10:3:3.k") - 50.0).abs() < 1e-12);
    assert_eq!(last("trange"), 1.0);
    assert!((last("atr:10") - 1.0).abs() < 1e-12);
    assert_eq!(last("obv"), 1_000.0);
    assert!((last("vwap:anchored") - (43.0 + 42.0 + 42.5) / 3.0).abs() < 1e-12);
}

#[test]
fn typed_state_extension_equals_batch() {
    let input: Vec<f64> = (0..500).map(|i| 100.0 + (i as f64 * 0.13).sin() * 9.0).collect();
    let sma = Sma::new(30).unwrap();
    let whole = sma.batch(&input);
    for split in [0, 1, 29, 30, 250, 499, 500] {
        let mut state = sma.state();
        let mut pieced = Vec::new();
        state.extend(input[..split].iter().copied(), &mut pieced);
        let saved = state.clone();
        state.extend(input[split..].iter().copied(), &mut pieced);
        assert!(whole.iter().zip(&pieced).all(|(a, b)| same(*a, *b)), "split {split}");
        // The state resumes from a clone as well as from itself.
        let mut resumed = saved;
        let mut tail = Vec::new();
        resumed.extend(input[split..].iter().copied(), &mut tail);
        assert!(
            whole[split..].iter().zip(&tail).all(|(a, b)| same(*a, *b)),
            "split {split}"
        );
    }
}
