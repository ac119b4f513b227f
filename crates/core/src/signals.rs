//! Signals into the store, once each, and the rules run over a symbol's newest stored bars.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use finstage_analysis::{Plan, RulesConfig, Signal, SignalEngine, Timeframe};
use finstage_domain::{BarTime, Category, Symbol};
use finstage_notify::{AlertOutcome, Alerter};
use finstage_store::{NewSignal, Store};

use crate::CoreError;

/// A signal as the store keeps it.
pub fn to_new_signal(signal: &Signal) -> NewSignal {
    NewSignal {
        symbol: signal.symbol,
        kind: signal.kind.to_string(),
        timeframe: signal.timeframe.to_string(),
        triggered_at: signal.time.to_utc(),
        price: signal.price,
        values: signal.values.to_json(),
    }
}

/// A signal after [`record_signals`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The stored signal's id.
    pub id: i64,
    /// Whether this call stored it (`false`: it was stored before).
    pub inserted: bool,
}

/// Stores every signal unless stored before (same symbol, kind, timeframe and time): safe to
/// repeat after a crash or on another instance. Returns one [`Recorded`] per signal, in order.
///
/// # Errors
/// [`CoreError::Store`] when the store refuses any of the signals; then none of them is stored
/// by this call (they go in one transaction, through
/// [`Signals::insert_many`](finstage_store::Signals::insert_many)).
pub async fn record_signals(store: &Store, signals: &[Signal]) -> Result<Vec<Recorded>, CoreError> {
    let new: Vec<NewSignal> = signals.iter().map(to_new_signal).collect();
    let stored = store.signals().insert_many(&new).await?;
    Ok(stored
        .into_iter()
        .map(|(id, inserted)| Recorded { id, inserted })
        .collect())
}

/// What one run of [`SignalPipeline::run`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineSummary {
    /// New bars the rules ran on.
    pub bars: usize,
    /// Signals the rules found on them.
    pub found: usize,
    /// Of those, stored now (the others were stored by an earlier run).
    pub stored: usize,
    /// Alerts sent.
    pub alerted: usize,
    /// Alerts held back by their dedupe window.
    pub deduplicated: usize,
    /// Newly stored signals too old to alert (a backfill's history).
    pub too_old: usize,
    /// Alerts that failed (logged; their claims were given back, so a later run retries them).
    pub failed: usize,
    /// The newly stored signals recent enough to alert, with their ids: what the live stream
    /// is told about.
    pub recent: Vec<(i64, Signal)>,
}

/// The signal rules over a symbol's newest daily bars: warms a [`SignalEngine`] on the bars
/// before them (seeded with the all-time high from before the warm-up), stores what fires on
/// the new bars, and alerts each newly stored signal through the [`Alerter`] — if its bar is
/// recent: a ten-year backfill stores ten years of signals and alerts none of them. A run reads
/// the warm-up and the new bars only, never the whole history.
#[derive(Debug, Clone)]
pub struct SignalPipeline {
    store: Store,
    rules: RulesConfig,
    alerter: Option<Alerter>,
    max_alert_age: TimeDelta,
}

impl SignalPipeline {
    /// A pipeline over `store` with `rules`, alerting through `alerter` when given, signals of
    /// bars up to four days old (a weekend and a holiday).
    ///
    /// # Errors
    /// [`CoreError::Analysis`] when `rules` do not validate.
    pub fn new(store: Store, rules: RulesConfig, alerter: Option<Alerter>) -> Result<Self, CoreError> {
        rules.validate("rules")?;
        Ok(Self {
            store,
            rules,
            alerter,
            max_alert_age: TimeDelta::days(4),
        })
    }

    /// Alerts signals whose bar is at most `age` before the run's `now`.
    #[must_use]
    pub fn with_max_alert_age(mut self, age: TimeDelta) -> Self {
        self.max_alert_age = age;
        self
    }

    /// Runs the rules on the daily bars of `symbol` dated after `after` (all of them when
    /// `None`), alerting as of `now`.
    ///
    /// # Errors
    /// [`CoreError::Store`] when bars cannot be read or signals stored; a failed alert is not
    /// an error (see [`PipelineSummary::failed`]).
    pub async fn run(
        &self,
        symbol: Symbol,
        category: Category,
        after: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<PipelineSummary, CoreError> {
        let plan = Plan::new(&self.rules, symbol, category, Timeframe::DAILY)?;
        let Some((first, last)) = self.store.daily_bars().span(&symbol).await? else {
            return Ok(PipelineSummary::default());
        };
        let start = match after {
            Some(after) => after.succ_opt().unwrap_or(after).max(first),
            None => first,
        };
        if start > last {
            return Ok(PipelineSummary::default());
        }
        let warm_up = u32::try_from(plan.warm_up_bars()).unwrap_or(u32::MAX);
        let warm = self.store.daily_bars().before(&symbol, start, warm_up).await?;
        let warm_start = warm.first().map_or(start, |b| bar_date(b.time()));
        let ath = self
            .store
            .daily_bars()
            .max_high_before(&symbol, warm_start)
            .await?
            .unwrap_or(f64::NAN);
        let new_bars = self.store.daily_bars().range(&symbol, start, last).await?;
        let mut engine = SignalEngine::new(plan)?.with_all_time_high(ath);
        let mut found = Vec::new();
        for bar in &warm {
            engine.update(bar, &mut found)?;
        }
        found.clear();
        for bar in &new_bars {
            engine.update(bar, &mut found)?;
        }
        let recorded = record_signals(&self.store, &found).await?;
        let mut summary = PipelineSummary {
            bars: new_bars.len(),
            found: found.len(),
            stored: recorded.iter().filter(|r| r.inserted).count(),
            ..PipelineSummary::default()
        };
        for (signal, rec) in found.iter().zip(&recorded).filter(|(_, r)| r.inserted) {
            if now.signed_duration_since(signal.time.to_utc()) > self.max_alert_age {
                summary.too_old += 1;
                continue;
            }
            summary.recent.push((rec.id, signal.clone()));
            let Some(alerter) = &self.alerter else {
                continue;
            };
            match alerter.alert(signal, now).await {
                Ok(AlertOutcome::Sent(_)) => summary.alerted += 1,
                Ok(_) => summary.deduplicated += 1,
                Err(e) => {
                    summary.failed += 1;
                    tracing::warn!(signal = rec.id, kind = %signal.kind, error = %e, "alert not sent");
                }
            }
        }
        Ok(summary)
    }
}

/// What [`analyze_stored_history`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredAnalysis {
    /// Daily bars of the symbol the rules ran over.
    pub bars: usize,
    /// Signals stored now (those stored before are not counted).
    pub signals: usize,
    /// Whether the all-time high record rose.
    pub new_high: bool,
}

/// Analyses a symbol's stored daily bars as a job analyses the bars it fetches, for bars
/// written outside the jobs (a CSV import), which the jobs would otherwise never look at: the
/// all-time high over every bar, the previous-session snapshot from the newest, and the signal
/// rules over all of them. Signals are stored once each (a second run stores none) and never
/// alerted: they are history.
///
/// # Errors
/// [`CoreError::Analysis`] when `rules` do not validate; [`CoreError::Store`] from the store.
pub async fn analyze_stored_history(
    store: &Store,
    rules: &RulesConfig,
    symbol: Symbol,
    category: Category,
    now: DateTime<Utc>,
) -> Result<StoredAnalysis, CoreError> {
    let mut analysis = StoredAnalysis::default();
    let Some((first, last)) = store.daily_bars().span(&symbol).await? else {
        return Ok(analysis);
    };
    let bars = store.daily_bars().range(&symbol, first, last).await?;
    if let Some(top) = bars.iter().max_by(|a, b| a.high().total_cmp(&b.high())) {
        analysis.new_high = store
            .highs()
            .record(&symbol, bar_date(top.time()), top.high())
            .await?
            .is_some();
    }
    if let Some(newest) = bars.last() {
        store
            .snapshots()
            .upsert(
                &symbol,
                bar_date(newest.time()),
                newest.close(),
                newest.high(),
                newest.low(),
            )
            .await?;
    }
    drop(bars);
    let summary = SignalPipeline::new(store.clone(), rules.clone(), None)?
        .run(symbol, category, None, now)
        .await?;
    analysis.bars = summary.bars;
    analysis.signals = summary.stored;
    Ok(analysis)
}

fn bar_date(time: BarTime) -> NaiveDate {
    match time {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}
