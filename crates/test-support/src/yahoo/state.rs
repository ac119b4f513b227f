//! The mock Yahoo server's state: stored bars, meta and events per symbol, the configured
//! misbehaviour (latency, limit, faults, user-agent check), and the counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use finstage_domain::{Bar, Interval};

use super::chart::Snapshot;
use super::fault::{Fault, Faults};
use super::limit::SlidingWindow;
use super::log::Stats;
use super::meta::MockMeta;
use super::query::ChartQuery;

/// Everything behind the mock's one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) symbols: HashMap<String, SymbolData>,
    pub(crate) latency: Duration,
    pub(crate) limiter: Option<SlidingWindow>,
    pub(crate) limit_retry_after: Option<u64>,
    pub(crate) user_agent_check: Option<Fault>,
    pub(crate) faults: Faults,
    pub(crate) stats: Stats,
}

/// One symbol's data.
#[derive(Debug, Default)]
pub(crate) struct SymbolData {
    /// Served at all (else a 404): set by adding bars, not by meta or events alone.
    pub(crate) listed: bool,
    /// Daily bars, sorted by date, one per date.
    pub(crate) daily: Arc<[Bar]>,
    /// Intraday bars given without an interval: served for every intraday interval that has no
    /// series of its own.
    pub(crate) intraday: Arc<[Bar]>,
    /// Intraday bars per interval.
    pub(crate) by_interval: HashMap<Interval, Arc<[Bar]>>,
    pub(crate) meta: MockMeta,
    pub(crate) dividends: BTreeMap<NaiveDate, f64>,
    pub(crate) splits: BTreeMap<NaiveDate, (u32, u32)>,
}

impl State {
    /// The symbol's entry (upper-cased), created empty and unlisted when new.
    pub(crate) fn symbol(&mut self, symbol: &str) -> &mut SymbolData {
        self.symbols.entry(symbol.to_ascii_uppercase()).or_default()
    }

    /// What a chart answer for `symbol` needs, or `None` when the symbol is not listed.
    pub(crate) fn snapshot(&self, symbol: &str, query: &ChartQuery) -> Option<Snapshot> {
        let data = self.symbols.get(symbol).filter(|data| data.listed)?;
        let series = if query.interval.is_intraday() {
            data.by_interval.get(&query.interval).unwrap_or(&data.intraday)
        } else {
            &data.daily
        };
        let reference = if data.daily.is_empty() { series } else { &data.daily };
        Some(Snapshot {
            symbol: symbol.to_owned(),
            series: Arc::clone(series),
            reference: Arc::clone(reference),
            meta: data.meta.clone(),
            dividends: if query.dividends {
                data.dividends.iter().map(|(&date, &amount)| (date, amount)).collect()
            } else {
                Vec::new()
            },
            splits: if query.splits {
                data.splits.iter().map(|(&date, &(n, d))| (date, n, d)).collect()
            } else {
                Vec::new()
            },
        })
    }
}

/// `existing` with `new` merged in: sorted by time, one bar per time, a new bar replacing a
/// stored one at the same time (and the last of several new ones at the same time winning).
/// O((n + m) log(n + m)).
pub(crate) fn merge(existing: &[Bar], mut new: Vec<Bar>) -> Arc<[Bar]> {
    // After a stable sort, equal times keep this order: new ones (last given first), then stored.
    new.reverse();
    new.extend_from_slice(existing);
    new.sort_by_key(Bar::time);
    new.dedup_by_key(|bar| bar.time());
    new.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(day: u32, close: f64) -> Bar {
        let date = NaiveDate::from_ymd_opt(2020, 1, day).unwrap();
        Bar::new(date, close, close, close, close, 0).unwrap()
    }

    #[test]
    fn merge_sorts_and_new_bars_win() {
        let stored = merge(&[], vec![bar(3, 3.0), bar(1, 1.0), bar(2, 2.0)]);
        let closes: Vec<f64> = stored.iter().map(Bar::close).collect();
        assert_eq!(closes, [1.0, 2.0, 3.0]);
        let merged = merge(&stored, vec![bar(2, 20.0), bar(4, 4.0), bar(2, 21.0)]);
        let closes: Vec<f64> = merged.iter().map(Bar::close).collect();
        assert_eq!(closes, [1.0, 21.0, 3.0, 4.0]);
    }
}
