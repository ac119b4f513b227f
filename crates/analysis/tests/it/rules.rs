//! Each rule on a crafted series: it fires on exactly the bar it should, not one early or late,
//! and the streaming engine agrees with the batch detector on every case (`support::run`).

use chrono::{TimeZone, Utc};
use finstage_analysis::{
    AnalysisError, Direction, Plan, QuoteContext, RulesConfig, SignalEngine, SignalKind, Timeframe, detect,
    evaluate_quote,
};
use finstage_domain::{Bar, Category};

use crate::support::{day, flat, hlcv, names, run, run_as, symbol};

fn only(change: impl FnOnce(&mut RulesConfig)) -> RulesConfig {
    let mut config = RulesConfig::none();
    change(&mut config);
    config
}

#[test]
fn ma_breakout_and_breakdown_fire_on_the_crossing_bar() {
    let config = only(|c| {
        c.moving_average.enabled = true;
        c.moving_average.periods = vec![3];
    });
    // SMA(3) from bar 2: 10, 10, 11, 12, 13, 11.33. Bar 4 closes 13 above 11 after 10 ≤ 10;
    // bar 6 is level with its SMA (no cross); bar 7 closes 8 below 11.33 after 13 ≥ 13.
    let bars = flat(&[10.0, 10.0, 10.0, 10.0, 13.0, 13.0, 13.0, 8.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[(4, "ma_breakout_3"), (7, "ma_breakdown_3")])
    );
    let signals = detect(&config, symbol(), Category::Stock, Timeframe::DAILY, &bars).unwrap();
    assert_eq!(signals[0].direction, Direction::Bullish);
    assert_eq!(signals[0].values.get("sma"), Some(11.0));
    assert_eq!(signals[0].price, 13.0);
    assert_eq!(signals[1].direction, Direction::Bearish);
    // Strength: 13 / 11 − 1 = 18 % beyond, past the 5 % that measures 1.
    assert_eq!(signals[0].strength, 1.0);
}

#[test]
fn golden_and_dead_cross_of_a_configured_pair() {
    let config = only(|c| {
        c.cross.enabled = true;
        c.cross.pairs = vec![[2, 4]];
    });
    // SMA(2): …, 10, 12, 14, 10, 6; SMA(4): …, 10, 11, 12, 11, 10 (bars 4 to 8).
    let bars = flat(&[10.0, 10.0, 10.0, 10.0, 10.0, 14.0, 14.0, 6.0, 6.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[(5, "golden_cross_2_4"), (7, "dead_cross_2_4")])
    );
}

#[test]
fn the_default_cross_is_sma50_over_sma200() {
    let config = only(|c| c.cross.enabled = true);
    // 200 bars at 100, then 30 bars at 110: SMA(50) rises above SMA(200) on the first of them.
    let mut closes = vec![100.0; 200];
    closes.extend([110.0; 30]);
    assert_eq!(run(&config, &flat(&closes)), names(&[(200, "golden_cross")]));
}

#[test]
fn rsi_enters_and_leaves_its_zones() {
    let config = only(|c| {
        c.rsi.enabled = true;
        c.rsi.period = 3;
    });
    // RSI(3): 100 on bars 3 to 5 (gains only; bar 3 is its first value, which enters nothing);
    // bar 6 drops 6: gains 0.667, losses 2 → 25: leaves overbought, enters oversold, crosses
    // below 50. Bar 7 gains 11: 4.11 against 1.33 → 75.5: the mirror images. Flat bars after
    // keep the ratio, so nothing more fires.
    let bars = flat(&[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 9.0, 20.0, 20.0, 20.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[
            (6, "rsi_overbought_leave"),
            (6, "rsi_oversold_enter"),
            (6, "rsi_cross_below_50"),
            (7, "rsi_overbought_enter"),
            (7, "rsi_oversold_leave"),
            (7, "rsi_cross_above_50"),
        ])
    );
    let signals = detect(&config, symbol(), Category::Stock, Timeframe::DAILY, &bars).unwrap();
    assert!((signals[0].values.get("rsi").unwrap() - 25.0).abs() < 1e-9);
    assert_eq!(signals[0].values.get("level"), Some(70.0));
}

#[test]
fn rsi_zone_edges_belong_to_the_zone() {
    let config = only(|c| {
        c.rsi.enabled = true;
        c.rsi.period = 3;
        c.rsi.midline = false;
        c.rsi.overbought = 75.0;
        c.rsi.oversold = 25.0;
    });
    // Exactly 25 is inside the oversold zone: bar 6 enters it. Bar 7 (75.5) leaves it and enters
    // overbought.
    let bars = flat(&[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 9.0, 20.0]);
    let fired = run(&config, &bars);
    assert_eq!(
        fired,
        names(&[
            (6, "rsi_overbought_leave"),
            (6, "rsi_oversold_enter"),
            (7, "rsi_overbought_enter"),
            (7, "rsi_oversold_leave"),
        ])
    );
}

#[test]
fn bollinger_breaks_each_band_once() {
    let config = only(|c| {
        c.bollinger.enabled = true;
        c.bollinger.period = 3;
        c.bollinger.k = 1.0;
    });
    // Bar 4: window 10, 10, 13: middle 11, σ √2, upper 12.41 < 13 after a flat band at 10.
    // Bar 5: window 10, 13, 7: middle 10, σ √6, lower 7.55 > 7.
    // Bar 6: 7 again, window 13, 7, 7: lower 6.17 < 7, not a break; a second 7 is no touch (1 %
    // of 6.17 is 0.06).
    let bars = flat(&[10.0, 10.0, 10.0, 10.0, 13.0, 7.0, 7.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[(4, "bollinger_break_upper"), (5, "bollinger_break_lower")])
    );
}

#[test]
fn bollinger_touches_fire_on_entering_the_touch_distance() {
    let config = only(|c| {
        c.bollinger.enabled = true;
        c.bollinger.period = 4;
        c.bollinger.k = 1.5;
        c.bollinger.touch_pct = 1.0;
    });
    // Window 10, 12, 10, 12.3 (bar 3): middle 11.075, σ 1.0779, upper 12.692: 12.3 is 3.1 %
    // under it, no touch. Bar 4, window 12, 10, 12.3, 12.6: middle 11.725, σ 1.0353, upper
    // 13.278 — 5 % under, no. Bar 5, window 10, 12.3, 12.6, 13.2: middle 12.025, σ 1.2050,
    // upper 13.833: 4.6 % under, no. Bar 6 at 13.0, window 12.3, 12.6, 13.2, 13.0: middle
    // 12.775, σ 0.3491, upper 13.299: 2.2 % under, no. Bar 7 at 13.35, window 12.6, 13.2,
    // 13.0, 13.35: middle 13.0375, σ 0.2858, upper 13.466: 0.86 % under: a touch.
    // Bar 8 repeats it inside the distance: no second touch.
    let bars = flat(&[10.0, 12.0, 10.0, 12.3, 12.6, 13.2, 13.0, 13.35, 13.4]);
    assert_eq!(run(&config, &bars), names(&[(7, "bollinger_touch_upper")]));
    // The mirror image, under the lower band.
    let mirrored: Vec<f64> = [10.0, 12.0, 10.0, 12.3, 12.6, 13.2, 13.0, 13.35, 13.4]
        .iter()
        .map(|c| 30.0 - c)
        .collect();
    let fired = run(&config, &flat(&mirrored));
    assert!(fired.iter().all(|(_, k)| k == "bollinger_touch_lower"), "{fired:?}");
    assert_eq!(fired.first().map(|f| f.0), Some(7), "{fired:?}");
}

#[test]
fn macd_crosses_its_signal_and_zero() {
    let config = only(|c| {
        c.macd.enabled = true;
        (c.macd.fast, c.macd.slow, c.macd.signal) = (2, 3, 2);
    });
    // Flat at 10, every line at 0. Bar 5 jumps to 12: EMA(2) 11.333, EMA(3) 11, MACD 0.333,
    // signal 0.222: MACD crosses above its signal and above zero. Held at 12: bar 6 MACD 0.278
    // over signal 0.259; bar 7 MACD 0.176 under signal 0.204: the cross down. MACD then decays
    // towards zero from above, under its signal: nothing more.
    let bars = flat(&[10.0, 10.0, 10.0, 10.0, 10.0, 12.0, 12.0, 12.0, 12.0, 12.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[(5, "macd_cross_up"), (5, "macd_zero_cross_up"), (7, "macd_cross_down")])
    );
}

#[test]
fn stochastic_crosses_only_in_their_zones() {
    let config = only(|c| {
        c.stochastic.enabled = true;
        (c.stochastic.k_period, c.stochastic.k_slowing, c.stochastic.d_period) = (3, 1, 2);
    });
    // Falling: %K 0 from bar 2. Bar 5 (6.2 in 7, 6, 6.2): %K 20 over %D 10, in oversold.
    // Bar 6: %K 100, %D 60, already above. Bars 7, 8: %K = %D = 100. Bar 9 (9.8 in 9, 10,
    // 9.8): %K 80 under %D 90, in overbought. Bar 11 (9.5 in 9.8, 9.9, 9.5): %K 75 after 100,
    // %D 87.5: crosses down? Bar 10 was %K 100/%D 90 — so bar 11 crosses from 100 ≥ 90 to
    // 0 < 50 … see the numbers: bar 10 closes 9.9 in 10, 9.8, 9.9: %K 50, %D 65; bar 11 at 12:
    // %K 100 over %D 75 but %D is not oversold: no signal.
    let bars = flat(&[10.0, 9.0, 8.0, 7.0, 6.0, 6.2, 8.0, 9.0, 10.0, 9.8, 9.9, 12.0]);
    assert_eq!(
        run(&config, &bars),
        names(&[(5, "stoch_cross_up_oversold"), (9, "stoch_cross_down_overbought")])
    );
}

#[test]
fn volume_spikes_need_a_move_and_dry_ups_fire_on_entry() {
    let config = only(|c| {
        c.volume.enabled = true;
        c.volume.period = 3;
    });
    // Average of the three bars before: bar 3: 100 (ratio 1). Bar 4: 300 on +2 %: a spike up.
    // Bar 5: 40 against 166.7 (0.24): dry-up. Bar 6: 40 against 146.7: still dry, no repeat.
    // Bar 7: 500 against 126.7 (3.9) on −3 %: a spike down. Bar 8: 1,500 against 193 (7.8) on
    // +0.5 %: no move, no spike.
    let bars = hlcv(&[
        (100.0, 100.0, 100.0, 100),
        (100.0, 100.0, 100.0, 100),
        (100.0, 100.0, 100.0, 100),
        (100.0, 100.0, 100.0, 100),
        (102.0, 102.0, 102.0, 300),
        (102.0, 102.0, 102.0, 40),
        (102.0, 102.0, 102.0, 40),
        (98.94, 98.94, 98.94, 500),
        (99.43, 99.43, 99.43, 1_500),
    ]);
    assert_eq!(
        run(&config, &bars),
        names(&[(4, "volume_spike_up"), (5, "volume_dry_up"), (7, "volume_spike_down")])
    );
    // An index's volume is zero: no volume signal at all.
    let index: Vec<Bar> = bars
        .iter()
        .map(|b| Bar::new(b.time(), b.open(), b.high(), b.low(), b.close(), 0).unwrap())
        .collect();
    assert!(run(&config, &index).is_empty());
}

#[test]
fn price_moves_follow_the_category_threshold() {
    let config = only(|c| c.price.enabled = true);
    // Stock: ±3 %, surge/plunge ±5 %. +3.5 %, flat, +5.3 %, −3.7 %, −5.7 %, +1.5 %.
    let closes = [100.0, 103.5, 103.5, 109.0, 105.0, 99.0, 100.5];
    let bars = flat(&closes);
    assert_eq!(
        run(&config, &bars),
        names(&[
            (1, "price_rise"),
            (3, "price_surge"),
            (4, "price_drop"),
            (5, "price_plunge")
        ])
    );
    // An index's threshold is ±1 %: the +1.5 % of the last bar counts there.
    let fired = run_as(&config, Category::Index, &bars);
    assert_eq!(fired.last(), Some(&(6, "price_rise".to_owned())));
    // A per-symbol override wins over the category.
    let mut config = config;
    config.thresholds.symbols.insert(
        symbol(),
        finstage_analysis::thresholds::SymbolThresholds {
            rise_pct: Some(4.0),
            ..Default::default()
        },
    );
    assert_eq!(run(&config, &bars)[0], (3, "price_surge".to_owned()));
}

#[test]
fn all_time_highs_and_drops_from_the_high() {
    let config = only(|c| c.highs.enabled = true);
    // (high, low, close). The first bar sets the record without firing. Bar 2 makes a new high
    // (110 > 105); bar 3 does not (109). Drawdowns from 110: bar 4 −4 %, bar 5 −5.5 % (crosses
    // the stock's −5 %), bar 6 −8 % (still below: no repeat), bar 7 −3 % (back above), bar 8
    // −6 % (crosses again).
    let bars = hlcv(&[
        (105.0, 99.0, 100.0, 1),
        (104.0, 99.0, 103.0, 1),
        (110.0, 103.0, 109.0, 1),
        (109.0, 105.0, 106.0, 1),
        (106.0, 105.0, 105.6, 1),
        (106.0, 103.0, 103.95, 1),
        (104.0, 101.0, 101.2, 1),
        (107.0, 101.0, 106.7, 1),
        (107.0, 103.0, 103.4, 1),
    ]);
    assert_eq!(
        run(&config, &bars),
        names(&[(2, "new_all_time_high"), (5, "drop_from_high"), (8, "drop_from_high")])
    );
    // A stored record above every bar: no new high, and the drawdown counts from it.
    let plan = Plan::new(&config, symbol(), Category::Stock, Timeframe::DAILY).unwrap();
    let seeded = finstage_analysis::rules::detect_with(&plan, 200.0, &bars).unwrap();
    assert!(seeded.iter().all(|s| s.kind != SignalKind::NewAllTimeHigh));
    let mut engine = SignalEngine::new(plan).unwrap().with_all_time_high(200.0);
    let mut streamed = Vec::new();
    for bar in &bars {
        engine.update(bar, &mut streamed).unwrap();
    }
    assert_eq!(streamed, seeded);
    assert_eq!(engine.all_time_high(), 200.0);
}

#[test]
fn breaks_of_the_previous_session() {
    let config = only(|c| c.previous_day.enabled = true);
    let bars = hlcv(&[
        (102.0, 98.0, 100.0, 1),
        (103.0, 99.0, 101.0, 1),  // inside 98..102
        (104.0, 100.0, 103.5, 1), // above 103
        (104.0, 97.0, 99.5, 1),   // below 100
        (101.0, 98.0, 100.0, 1),  // inside 97..104
    ]);
    assert_eq!(
        run(&config, &bars),
        names(&[(2, "prev_high_break"), (3, "prev_low_break")])
    );
}

#[test]
fn nothing_fires_during_lookbacks_or_on_the_first_bar() {
    // Every rule on, three bars of wild moves: the indicators are not warmed up and the price
    // rules have only two pairs of bars.
    let bars = flat(&[100.0, 150.0, 90.0]);
    let fired = run(&RulesConfig::default(), &bars);
    assert!(fired.iter().all(|(i, _)| *i > 0));
    assert!(
        fired.iter().all(|(_, k)| [
            "price_surge",
            "price_plunge",
            "prev_high_break",
            "prev_low_break",
            "new_all_time_high",
            "drop_from_high"
        ]
        .contains(&k.as_str())),
        "{fired:?}"
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut bars = flat(&[1.0, 2.0, 3.0]);
    bars.swap(1, 2);
    let err = detect(
        &RulesConfig::default(),
        symbol(),
        Category::Stock,
        Timeframe::DAILY,
        &bars,
    )
    .unwrap_err();
    assert!(matches!(err, AnalysisError::InvalidInput(_)), "{err}");
    let plan = Plan::new(&RulesConfig::default(), symbol(), Category::Stock, Timeframe::DAILY).unwrap();
    let mut engine = SignalEngine::new(plan).unwrap();
    let mut out = Vec::new();
    engine.update(&bars[0], &mut out).unwrap();
    engine.update(&bars[1], &mut out).unwrap();
    assert!(matches!(
        engine.update(&bars[2], &mut out),
        Err(AnalysisError::InvalidInput(_))
    ));
    // The engine is unchanged by the refused bar: the next good one is taken.
    let next = Bar::new(day(10), 4.0, 4.0, 4.0, 4.0, 1).unwrap();
    engine.update(&next, &mut out).unwrap();

    let mut config = RulesConfig::default();
    config.rsi.oversold = 60.0;
    let err = detect(&config, symbol(), Category::Stock, Timeframe::DAILY, &bars).unwrap_err();
    assert!(err.to_string().contains("rules.rsi.oversold"), "{err}");
}

fn quote(price: f64) -> QuoteContext {
    QuoteContext {
        symbol: symbol(),
        category: Category::Stock,
        price,
        time: Utc.with_ymd_and_hms(2026, 12, 4, 15, 30, 0).unwrap(),
        previous_close: Some(100.0),
        previous_high: Some(102.0),
        previous_low: Some(97.0),
        all_time_high: Some(104.0),
    }
}

fn kinds(price: f64) -> Vec<String> {
    evaluate_quote(&RulesConfig::default(), &quote(price))
        .unwrap()
        .iter()
        .map(|s| s.kind.to_string())
        .collect()
}

#[test]
fn live_quotes_against_the_previous_session_and_the_high() {
    assert_eq!(kinds(101.0), Vec::<String>::new());
    assert_eq!(kinds(103.0), ["price_rise", "prev_high_break"]);
    assert_eq!(kinds(106.0), ["price_surge", "new_all_time_high", "prev_high_break"]);
    // 96.5 is 7.2 % under the high of 104 (the stock's limit is 5 %).
    assert_eq!(kinds(96.5), ["price_drop", "drop_from_high", "prev_low_break"]);
    // 4.9 % under the high is not yet a drop from it; 5.1 % is.
    assert_eq!(kinds(98.9), Vec::<String>::new());
    assert_eq!(kinds(98.7), ["drop_from_high"]);
    let signals = evaluate_quote(&RulesConfig::default(), &quote(103.0)).unwrap();
    assert_eq!(signals[0].timeframe, Timeframe::Live);
    assert_eq!(signals[0].time.to_utc(), quote(1.0).time);
    assert!((signals[0].values.get("change_pct").unwrap() - 3.0).abs() < 1e-9);
    // Missing context: only what can be compared is.
    let bare = QuoteContext {
        previous_close: None,
        previous_high: None,
        previous_low: None,
        all_time_high: None,
        ..quote(150.0)
    };
    assert!(evaluate_quote(&RulesConfig::default(), &bare).unwrap().is_empty());
    for bad in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        assert!(matches!(
            evaluate_quote(&RulesConfig::default(), &quote(bad)),
            Err(AnalysisError::InvalidInput(_))
        ));
    }
}
