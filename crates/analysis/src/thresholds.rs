//! Alert thresholds: how far a price must move against the previous close, or fall below its
//! all-time high, before it is news; per category, with per-symbol overrides.

use std::collections::BTreeMap;

use finstage_domain::{Category, Symbol};
use serde::{Deserialize, Serialize};

use crate::error::AnalysisError;

/// The thresholds of one category, in percent (`3.0` is 3 %), all positive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryThresholds {
    /// A rise against the previous close of at least this much is a `price_rise`.
    pub rise_pct: f64,
    /// A drop against the previous close of at least this much is a `price_drop`.
    pub drop_pct: f64,
    /// A fall below the all-time high of at least this much is a `drop_from_high`.
    pub drop_from_high_pct: f64,
}

/// What one symbol changes of its category's thresholds; every field left out keeps the
/// category's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SymbolThresholds {
    /// Replaces [`CategoryThresholds::rise_pct`].
    pub rise_pct: Option<f64>,
    /// Replaces [`CategoryThresholds::drop_pct`].
    pub drop_pct: Option<f64>,
    /// Replaces [`Thresholds::surge_pct`].
    pub surge_pct: Option<f64>,
    /// Replaces [`CategoryThresholds::drop_from_high_pct`].
    pub drop_from_high_pct: Option<f64>,
}

/// The thresholds of one symbol, resolved from its category and its overrides.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    /// `price_rise` from this rise, in percent.
    pub rise_pct: f64,
    /// `price_drop` from this drop, in percent.
    pub drop_pct: f64,
    /// `price_surge` / `price_plunge` from this move either way, in percent.
    pub surge_pct: f64,
    /// `drop_from_high` from this fall below the all-time high, in percent.
    pub drop_from_high_pct: f64,
}

/// Every threshold: per category, the surge/plunge level, and per-symbol overrides.
///
/// Defaults: rise and drop ±1 % for indices and FX, ±3 % for stocks and ETFs, ±5 % for futures
/// and crypto; surge and plunge ±5 %; drop from the high −2 % for indices and FX, −5 % for
/// stocks and ETFs, −10 % for futures and crypto.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Indices.
    pub index: CategoryThresholds,
    /// Futures.
    pub future: CategoryThresholds,
    /// Stocks.
    pub stock: CategoryThresholds,
    /// ETFs.
    pub etf: CategoryThresholds,
    /// Currency pairs.
    pub fx: CategoryThresholds,
    /// Crypto currencies.
    pub crypto: CategoryThresholds,
    /// A move of at least this much against the previous close, either way, is a surge or a
    /// plunge (and then not also a rise or a drop), in percent.
    pub surge_pct: f64,
    /// Per-symbol overrides.
    pub symbols: BTreeMap<Symbol, SymbolThresholds>,
}

const fn category(rise_drop: f64, drop_from_high: f64) -> CategoryThresholds {
    CategoryThresholds {
        rise_pct: rise_drop,
        drop_pct: rise_drop,
        drop_from_high_pct: drop_from_high,
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            index: category(1.0, 2.0),
            future: category(5.0, 10.0),
            stock: category(3.0, 5.0),
            etf: category(3.0, 5.0),
            fx: category(1.0, 2.0),
            crypto: category(5.0, 10.0),
            surge_pct: 5.0,
            symbols: BTreeMap::new(),
        }
    }
}

fn check_pct(key: &str, value: f64) -> Result<(), AnalysisError> {
    if value.is_finite() && value > 0.0 && value < 100.0 {
        Ok(())
    } else {
        Err(AnalysisError::config(
            key,
            format!("a percentage above 0 and below 100, not {value}"),
        ))
    }
}

impl Thresholds {
    /// The thresholds of `category`.
    pub const fn of(&self, category: Category) -> &CategoryThresholds {
        match category {
            Category::Index => &self.index,
            Category::Future => &self.future,
            Category::Stock => &self.stock,
            Category::Etf => &self.etf,
            Category::Fx => &self.fx,
            Category::Crypto => &self.crypto,
        }
    }

    /// The thresholds of `symbol`, of `category`, with its overrides applied.
    pub fn resolve(&self, symbol: &Symbol, category: Category) -> Resolved {
        let base = self.of(category);
        let over = self.symbols.get(symbol).copied().unwrap_or_default();
        Resolved {
            rise_pct: over.rise_pct.unwrap_or(base.rise_pct),
            drop_pct: over.drop_pct.unwrap_or(base.drop_pct),
            surge_pct: over.surge_pct.unwrap_or(self.surge_pct),
            drop_from_high_pct: over.drop_from_high_pct.unwrap_or(base.drop_from_high_pct),
        }
    }

    /// Checks every value; `prefix` is the configuration key these thresholds live under.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidConfig`] naming the first value that is not a percentage above 0
    /// and below 100.
    pub fn validate(&self, prefix: &str) -> Result<(), AnalysisError> {
        for (name, c) in [
            ("index", &self.index),
            ("future", &self.future),
            ("stock", &self.stock),
            ("etf", &self.etf),
            ("fx", &self.fx),
            ("crypto", &self.crypto),
        ] {
            check_pct(&format!("{prefix}.{name}.rise_pct"), c.rise_pct)?;
            check_pct(&format!("{prefix}.{name}.drop_pct"), c.drop_pct)?;
            check_pct(&format!("{prefix}.{name}.drop_from_high_pct"), c.drop_from_high_pct)?;
        }
        check_pct(&format!("{prefix}.surge_pct"), self.surge_pct)?;
        for (symbol, over) in &self.symbols {
            for (name, value) in [
                ("rise_pct", over.rise_pct),
                ("drop_pct", over.drop_pct),
                ("surge_pct", over.surge_pct),
                ("drop_from_high_pct", over.drop_from_high_pct),
            ] {
                if let Some(value) = value {
                    check_pct(&format!("{prefix}.symbols.{symbol}.{name}"), value)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_categories() {
        let t = Thresholds::default();
        let aapl = Symbol::parse("AAPL").unwrap();
        assert_eq!(t.resolve(&aapl, Category::Stock).rise_pct, 3.0);
        assert_eq!(t.resolve(&aapl, Category::Index).drop_pct, 1.0);
        assert_eq!(t.resolve(&aapl, Category::Future).drop_from_high_pct, 10.0);
        assert_eq!(t.resolve(&aapl, Category::Stock).drop_from_high_pct, 5.0);
        assert_eq!(t.resolve(&aapl, Category::Index).drop_from_high_pct, 2.0);
        assert_eq!(t.resolve(&aapl, Category::Etf).surge_pct, 5.0);
        t.validate("thresholds").unwrap();
    }

    #[test]
    fn a_symbol_override_replaces_only_what_it_names() {
        let mut t = Thresholds::default();
        let tsla = Symbol::parse("TSLA").unwrap();
        t.symbols.insert(
            tsla,
            SymbolThresholds {
                rise_pct: Some(7.0),
                ..SymbolThresholds::default()
            },
        );
        let r = t.resolve(&tsla, Category::Stock);
        assert_eq!((r.rise_pct, r.drop_pct), (7.0, 3.0));
        let other = t.resolve(&Symbol::parse("AAPL").unwrap(), Category::Stock);
        assert_eq!(other.rise_pct, 3.0);
    }

    #[test]
    fn validation_names_the_key() {
        let mut t = Thresholds::default();
        t.stock.drop_pct = -3.0;
        let err = t.validate("rules.thresholds").unwrap_err();
        assert!(err.to_string().contains("rules.thresholds.stock.drop_pct"), "{err}");
        let mut t = Thresholds::default();
        t.symbols.insert(
            Symbol::parse("AAPL").unwrap(),
            SymbolThresholds {
                surge_pct: Some(f64::NAN),
                ..SymbolThresholds::default()
            },
        );
        assert!(
            t.validate("t")
                .unwrap_err()
                .to_string()
                .contains("t.symbols.AAPL.surge_pct")
        );
    }

    #[test]
    fn deserializes_from_a_partial_table() {
        let t: Thresholds = serde_json::from_str(
            r#"{"stock":{"rise_pct":2,"drop_pct":2,"drop_from_high_pct":4},"symbols":{"tsla":{"rise_pct":6}}}"#,
        )
        .unwrap();
        assert_eq!(t.stock.rise_pct, 2.0);
        assert_eq!(t.index, Thresholds::default().index);
        assert_eq!(t.symbols[&Symbol::parse("TSLA").unwrap()].rise_pct, Some(6.0));
        assert!(serde_json::from_str::<Thresholds>(r#"{"stocks":{}}"#).is_err());
    }
}
