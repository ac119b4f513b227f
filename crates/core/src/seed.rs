//! The daily history bundled with the binaries (public-domain Quandl WIKI prices of AAPL, MSFT
//! and IBM, 2000–2013; see `data/seed/README.md`), imported on first start so that every
//! endpoint and job has data offline.

use chrono::Utc;
use finstage_analysis::RulesConfig;
use finstage_domain::{Category, Symbol};
use finstage_store::Store;

use crate::{CoreError, analyze_stored_history};

/// The bundled files, by symbol.
pub const BUNDLED_HISTORY: [(&str, &str); 3] = [
    ("AAPL", include_str!("../../../data/seed/AAPL.csv")),
    ("MSFT", include_str!("../../../data/seed/MSFT.csv")),
    ("IBM", include_str!("../../../data/seed/IBM.csv")),
];

/// Imports each bundled symbol whose daily history is empty, with its all-time high, snapshot
/// and signals under `rules` ([`analyze_stored_history`]: none alerted), so that the signal
/// endpoints and the report have data offline too; returns how many bars were imported. Run
/// again, it imports nothing.
///
/// # Errors
/// [`CoreError::Store`] when the store refuses a file (nothing of that file is kept) or the
/// signals of an imported one; [`CoreError::Analysis`] when `rules` do not validate.
pub async fn import_bundled_history(store: &Store, rules: &RulesConfig) -> Result<u64, CoreError> {
    let mut imported = 0;
    for (name, csv) in BUNDLED_HISTORY {
        let symbol = Symbol::parse(name).map_err(|e| CoreError::Start {
            part: "the bundled history",
            message: e.to_string(),
        })?;
        if store.daily_bars().count(&symbol).await? > 0 {
            continue;
        }
        let summary = store
            .import_csv_reader(&format!("bundled {name}.csv"), csv.as_bytes(), &symbol)
            .await?;
        let analysis = analyze_stored_history(store, rules, symbol, Category::infer(&symbol), Utc::now()).await?;
        tracing::info!(
            symbol = name,
            bars = summary.bars,
            signals = analysis.signals,
            "bundled history imported"
        );
        imported += summary.bars;
    }
    Ok(imported)
}
