//! With the `serde` feature: specs travel as their spec strings, and a running state saved in
//! the middle of a series resumes exactly where it stopped.

use finstage_indicators::{Candle, Indicator, IndicatorSpec, OutputSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[test]
fn specs_serialize_as_their_strings() {
    let spec: OutputSpec = "macd.signal".parse().unwrap();
    assert_eq!(serde_json::to_string(&spec).unwrap(), "\"macd:12:26:9.signal\"");
    let back: OutputSpec = serde_json::from_str("\"MACD:12:26:9.signal\"").unwrap();
    assert_eq!(back, spec);
    let list: Vec<IndicatorSpec> = serde_json::from_str(r#"["sma:20", "bbands:20:2.5", "vwap"]"#).unwrap();
    assert_eq!(list[2].to_string(), "vwap:session");
    let err = serde_json::from_str::<IndicatorSpec>("\"rsi:0\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid period \\\"0\\\" for rsi") || err.contains("invalid period \"0\" for rsi"),
        "{err}"
    );
}

fn bars() -> Vec<Candle> {
    (0..400)
        .map(|i| {
            let x = f64::from(i);
            let close = 80.0 + (x * 0.17).sin() * 7.0 + (x * 0.031).cos() * 4.0;
            Candle::new(
                close - 0.2,
                close + 1.1,
                close - 0.9,
                close,
                5_000.0 + (x * 37.0) % 900.0,
            )
            .at(i64::from(i) * 3_600)
        })
        .collect()
}

/// The bars of [`bars`] with NaN and infinite prices and volumes here and there.
fn bars_with_non_finite_values() -> Vec<Candle> {
    let mut bars = bars();
    for (i, bar) in bars.iter_mut().enumerate() {
        match i % 97 {
            13 => bar.close = f64::NAN,
            41 => bar.high = f64::INFINITY,
            60 => bar.low = f64::NEG_INFINITY,
            77 => bar.volume = f64::INFINITY,
            90 => (bar.high, bar.low) = (f64::NAN, f64::NAN),
            _ => {}
        }
    }
    bars
}

/// Runs `state` over the bars, saving it to JSON and restoring it at several points; the outputs
/// must be those of an uninterrupted run (compared through `Debug`, so that NaN equals NaN and
/// every finite value is compared exactly).
fn resumes<S>(state: S, input: impl Fn(Candle) -> S::Input)
where
    S: Indicator + Clone + Serialize + DeserializeOwned,
    S::Output: std::fmt::Debug,
{
    for bars in [bars(), bars_with_non_finite_values()] {
        let mut whole = state.clone();
        let expected: Vec<_> = bars.iter().map(|b| whole.update(input(*b))).collect();
        let expected = format!("{expected:?}");
        for split in [0, 1, 14, 33, 42, 61, 91, 200, 399] {
            let mut first = state.clone();
            let mut got: Vec<_> = bars[..split].iter().map(|b| first.update(input(*b))).collect();
            let saved = serde_json::to_string(&first).unwrap();
            let mut restored: S =
                serde_json::from_str(&saved).unwrap_or_else(|e| panic!("split {split}: {e}\n{saved}"));
            got.extend(bars[split..].iter().map(|b| restored.update(input(*b))));
            assert_eq!(format!("{got:?}"), expected, "split {split}");
        }
    }
}

#[test]
fn saved_states_resume_exactly() {
    let close = |b: Candle| b.close;
    let bar = |b: Candle| b;
    resumes(finstage_indicators::Rsi::new(14).unwrap().state(), close);
    resumes(finstage_indicators::Macd::new(12, 26, 9).unwrap().state(), close);
    resumes(finstage_indicators::Wma::new(20).unwrap().state(), close);
    resumes(finstage_indicators::BBands::new(20, 2.0).unwrap().state(), close);
    resumes(finstage_indicators::StochRsi::new(14, 14, 3).unwrap().state(), close);
    resumes(finstage_indicators::Stoch::new(14, 3, 3).unwrap().state(), bar);
    resumes(finstage_indicators::Adx::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::Cci::new(20).unwrap().state(), bar);
    resumes(finstage_indicators::Mfi::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::Vwap::default().state(), bar);
    resumes(
        finstage_indicators::Vwap::new(finstage_indicators::VwapAnchor::Anchored).state(),
        bar,
    );
    resumes(finstage_indicators::Sma::new(20).unwrap().state(), close);
    resumes(finstage_indicators::Ema::new(20).unwrap().state(), close);
    resumes(finstage_indicators::Dema::new(20).unwrap().state(), close);
    resumes(finstage_indicators::Tema::new(20).unwrap().state(), close);
    resumes(finstage_indicators::StdDev::new(20).unwrap().state(), close);
    resumes(finstage_indicators::Mom::new(10).unwrap().state(), close);
    resumes(finstage_indicators::Roc::new(10).unwrap().state(), close);
    resumes(finstage_indicators::Atr::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::Natr::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::TRange.state(), bar);
    resumes(finstage_indicators::Obv.state(), bar);
    resumes(finstage_indicators::WillR::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::PlusDi::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::MinusDi::new(14).unwrap().state(), bar);
    resumes(finstage_indicators::Dx::new(14).unwrap().state(), bar);
}
