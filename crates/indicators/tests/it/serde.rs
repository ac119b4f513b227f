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

/// Runs `state` over the bars, saving it to JSON and restoring it halfway; the outputs must be
/// those of an uninterrupted run.
fn resumes<S>(state: S, input: impl Fn(Candle) -> S::Input)
where
    S: Indicator + Clone + Serialize + DeserializeOwned,
    S::Output: PartialEq + std::fmt::Debug,
{
    let bars = bars();
    let mut whole = state.clone();
    let expected: Vec<_> = bars.iter().map(|b| whole.update(input(*b))).collect();
    for split in [0, 1, 33, 200, 399] {
        let mut first = state.clone();
        let mut got: Vec<_> = bars[..split].iter().map(|b| first.update(input(*b))).collect();
        let saved = serde_json::to_string(&first).unwrap();
        let mut restored: S = serde_json::from_str(&saved).unwrap();
        got.extend(bars[split..].iter().map(|b| restored.update(input(*b))));
        assert_eq!(got, expected, "split {split}");
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
}
