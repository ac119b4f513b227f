//! What became of each stored signal: [`OutcomeTracker`] fills its horizons from the stored
//! bars at or after each (never the price whenever the tracker happens to run), and
//! [`kind_stats`] sums them up per kind.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, TimeDelta, Utc};
use finstage_analysis::outcome::{self, Horizon, HorizonOutcome, KindStats, Outcome, PricePoint};
use finstage_analysis::{Direction, SignalKind};
use finstage_domain::{Bar, Interval, Symbol};
use finstage_store::{Signal as StoredSignal, SignalOutcome, Store};

use crate::CoreError;

/// The analysis' outcome from the stored one (a horizon without a price or return is
/// unmeasured).
pub fn from_stored(stored: &SignalOutcome) -> Outcome {
    let mut outcome = Outcome::default();
    for (slot, h) in outcome.horizons.iter_mut().zip(&stored.horizons) {
        if let (Some(price), Some(ret)) = (h.price, h.ret) {
            *slot = Some(HorizonOutcome {
                price,
                ret,
                success: h.success,
            });
        }
    }
    outcome
}

/// The stored outcome of signal `signal_id` from the analysis' one.
pub fn to_stored(signal_id: i64, outcome: &Outcome, completed: bool, now: DateTime<Utc>) -> SignalOutcome {
    let mut stored = SignalOutcome::new(signal_id, now);
    for (slot, h) in stored.horizons.iter_mut().zip(&outcome.horizons) {
        if let Some(h) = h {
            *slot = finstage_store::HorizonOutcome {
                price: Some(h.price),
                ret: Some(h.ret),
                success: h.success,
            };
        }
    }
    stored.completed = completed;
    stored
}

/// What one [`OutcomeTracker::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackSummary {
    /// Pending signals looked at.
    pub examined: usize,
    /// Outcomes written with at least one new horizon.
    pub updated: usize,
    /// Outcomes completed (every horizon measured).
    pub completed: usize,
    /// Outcomes closed incomplete: their last horizon passed long ago with no bar after it
    /// (a delisted symbol, a gap in the data).
    pub expired: usize,
    /// Signals of a kind this version does not know (left pending).
    pub unknown_kind: usize,
}

/// Fills the outcomes of pending signals from stored bars.
///
/// A horizon's price is the close of the first stored bar at or after it: hourly bars where
/// the store has them, daily bars otherwise (a daily bar stands at its date's midnight UTC, so a
/// daily signal's +1d is the next session's close). An outcome is completed when every horizon
/// is measured, or closed as it stands once `give_up_after` has passed since its last horizon.
#[derive(Debug, Clone)]
pub struct OutcomeTracker {
    store: Store,
    batch: u32,
    give_up_after: TimeDelta,
}

impl OutcomeTracker {
    /// A tracker over `store`, reading 500 pending signals at a time, giving up 14 days after
    /// the last horizon.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            batch: 500,
            give_up_after: TimeDelta::days(14),
        }
    }

    /// Reads the pending signals `batch` at a time (at least 1).
    #[must_use]
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Closes outcomes `give_up_after` past their last horizon.
    #[must_use]
    pub fn with_give_up_after(mut self, give_up_after: TimeDelta) -> Self {
        self.give_up_after = give_up_after;
        self
    }

    /// Looks at every pending signal, oldest first and a batch at a time, as of `now`, and
    /// writes what their bars tell. All of them, not the oldest batch: a backfill or an import
    /// stores years of signals at once, and the recent ones must not wait behind them (nor
    /// behind signals that stay pending, of a kind this version does not know).
    ///
    /// # Errors
    /// [`CoreError::Store`] from the store; the outcomes written before the failure are kept.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<TrackSummary, CoreError> {
        let mut summary = TrackSummary::default();
        let mut after = None;
        loop {
            let pending = self.store.outcomes().pending_after(after, self.batch).await?;
            let Some(last) = pending.last() else {
                break;
            };
            after = Some(last.cursor());
            summary.examined += pending.len();
            self.track_batch(&pending, now, &mut summary).await?;
            if pending.len() < self.batch as usize {
                break;
            }
        }
        Ok(summary)
    }

    async fn track_batch(
        &self,
        pending: &[StoredSignal],
        now: DateTime<Utc>,
        summary: &mut TrackSummary,
    ) -> Result<(), CoreError> {
        let mut by_symbol: BTreeMap<Symbol, Vec<&StoredSignal>> = BTreeMap::new();
        for signal in pending {
            by_symbol.entry(signal.symbol).or_default().push(signal);
        }
        for (symbol, signals) in by_symbol {
            let points = self.points(&symbol, &signals, now).await?;
            for signal in signals {
                let Ok(kind) = signal.kind.parse::<SignalKind>() else {
                    summary.unknown_kind += 1;
                    continue;
                };
                self.track_one(signal, kind.direction(), &points, now, summary).await?;
            }
        }
        Ok(())
    }

    async fn track_one(
        &self,
        signal: &StoredSignal,
        direction: Direction,
        points: &[PricePoint],
        now: DateTime<Utc>,
        summary: &mut TrackSummary,
    ) -> Result<(), CoreError> {
        let known = match self.store.outcomes().get(signal.id).await? {
            Some(stored) => from_stored(&stored),
            None => Outcome::default(),
        };
        let outcome = outcome::track(signal.triggered_at, signal.price, direction, &known, points);
        let last_due = Horizon::M1.after(signal.triggered_at);
        let expired = !outcome.is_complete()
            && last_due
                .checked_add_signed(self.give_up_after)
                .is_some_and(|limit| now >= limit);
        let completed = outcome.is_complete() || expired;
        if outcome != known || completed {
            self.store
                .outcomes()
                .upsert(&to_stored(signal.id, &outcome, completed, now))
                .await?;
            summary.updated += usize::from(outcome != known);
            summary.completed += usize::from(outcome.is_complete());
            summary.expired += usize::from(expired);
        }
        Ok(())
    }

    /// The prices after `signals`, in time order: hourly bars and daily bars from the first
    /// signal's day to a few days past the last one's month, up to `now`.
    async fn points(
        &self,
        symbol: &Symbol,
        signals: &[&StoredSignal],
        now: DateTime<Utc>,
    ) -> Result<Vec<PricePoint>, CoreError> {
        let from = signals.iter().map(|s| s.triggered_at).min().unwrap_or(now);
        let latest = signals.iter().map(|s| s.triggered_at).max().unwrap_or(now);
        let to = Horizon::M1
            .after(latest)
            .checked_add_days(Days::new(10))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .min(now);
        if to < from {
            return Ok(Vec::new());
        }
        let point = |bar: &Bar| PricePoint {
            time: bar.time().to_utc(),
            price: bar.close(),
        };
        let daily = self
            .store
            .daily_bars()
            .range(symbol, from.date_naive(), to.date_naive())
            .await?;
        let hourly = self.store.intraday_bars().range(symbol, Interval::H1, from, to).await?;
        let mut points: Vec<PricePoint> = daily.iter().chain(&hourly).map(point).collect();
        points.retain(|p| p.time <= now);
        points.sort_by_key(|p| p.time);
        Ok(points)
    }
}

/// Statistics per signal kind over the stored outcomes of signals triggered at or after
/// `since` (all when `None`); stored kinds this version does not know are left out.
///
/// # Errors
/// [`CoreError::Store`] from the store.
pub async fn kind_stats(store: &Store, since: Option<DateTime<Utc>>) -> Result<Vec<KindStats>, CoreError> {
    let measured = store.outcomes().measured(since).await?;
    let outcomes: Vec<(SignalKind, Outcome)> = measured
        .iter()
        .filter_map(|(kind, stored)| Some((kind.parse().ok()?, from_stored(stored))))
        .collect();
    Ok(outcome::stats(outcomes.iter().map(|(kind, o)| (*kind, o))))
}
