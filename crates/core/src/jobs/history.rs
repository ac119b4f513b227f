//! `daily_update` and `backfill`: daily bars from the provider into the store — only the
//! missing days, a symbol's whole span again when it has gaps, ten years for a new symbol —,
//! then the all-time high, the previous-session snapshot and the signal rules over the new
//! bars only (never ten years recomputed for a day's bar).

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use finstage_domain::{Bar, BarTime, Category, Interval, Symbol};
use finstage_marketdata::HistoryRequest;
use finstage_tasks::TaskContext;
use serde::{Deserialize, Serialize};

use super::run::{JobReport, Step, for_each_symbol, measure};
use super::{BACKFILL, Counts, DAILY_UPDATE, DEFAULT_BACKFILL_YEARS, JobContext};
use crate::CoreError;
use crate::bus::{Envelope, SignalEvent};
use crate::market::Market;

/// Days fetched again before the newest stored bar (late corrections, a missed day).
pub const OVERLAP_DAYS: i64 = 7;
/// A span holding fewer bars than this share of its weekdays has gaps (holidays are about 4 %
/// of weekdays) and is fetched whole again.
pub const GAP_RATIO: f64 = 0.95;
/// The most years a backfill fetches.
pub const MAX_BACKFILL_YEARS: u32 = 30;

/// The payload of a `daily_update` task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DailyUpdatePayload {
    /// Only the watchlist's symbols on this market (`us`, `kr`, …); all when absent.
    pub market: Option<String>,
    /// Only these symbols (of any market); the watchlist when empty.
    pub symbols: Vec<String>,
}

/// The payload of a `backfill` task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillPayload {
    /// The symbol.
    pub symbol: String,
    /// Years of history (default 10, at most 30).
    #[serde(default = "default_years")]
    pub years: u32,
}

fn default_years() -> u32 {
    DEFAULT_BACKFILL_YEARS
}

fn bar_date(bar: &Bar) -> NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

/// Weekdays from `first` to `last`, both included.
fn weekdays_between(first: NaiveDate, last: NaiveDate) -> i64 {
    let days = (last - first).num_days() + 1;
    if days <= 0 {
        return 0;
    }
    let full_weeks = days / 7;
    let mut count = full_weeks * 5;
    let mut day = first + TimeDelta::days(full_weeks * 7);
    while day <= last {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
        day = day.succ_opt().unwrap_or(last + TimeDelta::days(1));
    }
    count
}

fn invalid(message: String) -> CoreError {
    CoreError::Config {
        key: "payload".to_owned(),
        message,
    }
}

impl JobContext {
    /// Brings the daily history of a market's symbols (or the payload's) up to date.
    ///
    /// # Errors
    /// [`CoreError::Config`] for an unknown market or symbol in the payload (not retried);
    /// [`CoreError`] when every symbol failed.
    pub async fn daily_update(
        &self,
        payload: DailyUpdatePayload,
        task: Option<TaskContext>,
    ) -> Result<JobReport, CoreError> {
        measure(DAILY_UPDATE, async {
            let mut watchlist = self.watchlist().await?;
            if let Some(market) = &payload.market {
                if Market::by_name(market).is_none() {
                    return Err(invalid(format!("unknown market {market:?}")));
                }
                watchlist.retain(|(s, c)| Market::of(s, *c).name == market);
            }
            if !payload.symbols.is_empty() {
                let mut wanted = Vec::with_capacity(payload.symbols.len());
                for text in &payload.symbols {
                    let symbol = Symbol::parse(text).map_err(|e| invalid(format!("symbol {text:?}: {e}")))?;
                    let category = watchlist
                        .iter()
                        .find(|(s, _)| *s == symbol)
                        .map_or_else(|| Category::infer(&symbol), |(_, c)| *c);
                    wanted.push((symbol, category));
                }
                watchlist = wanted;
            }
            let mut report = JobReport::new(DAILY_UPDATE);
            let mut task = task;
            let now = self.now();
            for_each_symbol(
                &mut report,
                watchlist,
                self.scheduler.concurrency,
                task.as_mut(),
                |s, c| self.update_symbol(s, c, None, now),
            )
            .await?;
            Ok(report)
        })
        .await
    }

    /// Fetches `years` of one symbol's history and runs the rules over it (storing its signals,
    /// alerting none of them: they are history).
    ///
    /// # Errors
    /// [`CoreError::Config`] for a bad symbol or number of years (not retried); the
    /// provider's or the store's error otherwise.
    pub async fn backfill(&self, payload: BackfillPayload, task: Option<TaskContext>) -> Result<JobReport, CoreError> {
        measure(BACKFILL, async {
            let symbol =
                Symbol::parse(&payload.symbol).map_err(|e| invalid(format!("symbol {:?}: {e}", payload.symbol)))?;
            if payload.years == 0 || payload.years > MAX_BACKFILL_YEARS {
                return Err(invalid(format!(
                    "years must be 1 to {MAX_BACKFILL_YEARS}, not {}",
                    payload.years
                )));
            }
            let category = match self.services.store.symbols().get(&symbol).await? {
                Some(record) => record.category,
                None => self
                    .watchlist
                    .iter()
                    .find(|w| w.symbol == symbol)
                    .map_or_else(|| Category::infer(&symbol), |w| w.category),
            };
            let mut report = JobReport::new(BACKFILL);
            let mut task = task;
            let now = self.now();
            for_each_symbol(&mut report, vec![(symbol, category)], 1, task.as_mut(), |s, c| {
                self.update_symbol(s, c, Some(payload.years), now)
            })
            .await?;
            Ok(report)
        })
        .await
    }

    /// One symbol's update. With `years`, the whole span back that far is fetched (a
    /// backfill); else the days after the newest stored bar (with an overlap), the symbol's
    /// whole span when it has gaps, or ten years when it has no bars yet.
    async fn update_symbol(
        &self,
        symbol: Symbol,
        category: Category,
        years: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<Step, CoreError> {
        let store = &self.services.store;
        let span = store.daily_bars().span(&symbol).await?;
        let years_back = |years: u32| now - TimeDelta::days(i64::from(years) * 365 + i64::from(years / 4));
        let to = now + TimeDelta::days(1);
        let (from, why) = match (years, span) {
            (Some(years), _) => (years_back(years), "backfill"),
            (None, None) => (years_back(DEFAULT_BACKFILL_YEARS), "first"),
            (None, Some((first, last))) => {
                let count = store.daily_bars().count(&symbol).await?;
                #[allow(clippy::cast_precision_loss)]
                let gappy = (count as f64) < weekdays_between(first, last) as f64 * GAP_RATIO
                    && !matches!(category, Category::Crypto);
                if gappy {
                    (first.and_time(chrono::NaiveTime::MIN).and_utc(), "gaps")
                } else {
                    let market = Market::of(&symbol, category);
                    if last >= market.last_closed_session(now) {
                        return Ok(Step::Skipped);
                    }
                    (
                        (last - TimeDelta::days(OVERLAP_DAYS))
                            .and_time(chrono::NaiveTime::MIN)
                            .and_utc(),
                        "new",
                    )
                }
            }
        };
        // The store keeps the bars: a window ending at this run's now is never asked for again.
        let request = HistoryRequest::between(symbol, Interval::D1, from, to)?.uncached();
        let history = self.services.provider.history(request).await?;
        let mut counts = Counts::new();
        let previous_last = span.map(|(_, last)| last);
        if history.bars.is_empty() {
            counts.insert("empty".to_owned(), 1);
            return Ok(Step::Done(counts));
        }
        let written = store.daily_bars().upsert(&symbol, &history.bars).await?;
        counts.insert("bars".to_owned(), written.rows);
        if why == "gaps" {
            counts.insert("gap_fills".to_owned(), 1);
        }
        // The all-time high: the highest bar fetched against the stored record.
        if let Some(top) = history.bars.iter().max_by(|a, b| a.high().total_cmp(&b.high()))
            && store
                .highs()
                .record(&symbol, bar_date(top), top.high())
                .await?
                .is_some()
        {
            counts.insert("new_highs".to_owned(), 1);
        }
        // The previous session of the next one: the newest bar.
        if let Some(last) = store.daily_bars().latest(&symbol, 1).await?.pop() {
            store
                .snapshots()
                .upsert(&symbol, bar_date(&last), last.close(), last.high(), last.low())
                .await?;
        }
        // Signals on the bars after the newest one stored before (all of them for a first
        // fetch or a backfill), alerted when recent.
        let after = if years.is_some() { None } else { previous_last };
        let summary = self.pipeline.run(symbol, category, after, now).await?;
        counts.insert("signals".to_owned(), summary.stored as u64);
        counts.insert("alerts".to_owned(), summary.alerted as u64);
        let events: Vec<Envelope> = summary
            .recent
            .iter()
            .map(|(id, signal)| Envelope::new(SignalEvent::new(signal, Some(*id)), self.services.instance.clone(), now))
            .collect();
        if !events.is_empty() {
            let mut sink = super::run::JobReport::new(DAILY_UPDATE);
            self.publish(events, &mut sink).await;
            counts.insert("published".to_owned(), sink.count("published"));
        }
        counts.retain(|_, n| *n > 0);
        Ok(Step::Done(counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_are_counted_across_weekends() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        // Monday 6 July to Sunday 12 July: five weekdays.
        assert_eq!(weekdays_between(d(7, 6), d(7, 12)), 5);
        // Friday to Monday: two.
        assert_eq!(weekdays_between(d(7, 10), d(7, 13)), 2);
        // A Saturday alone: none; one day: one.
        assert_eq!(weekdays_between(d(7, 11), d(7, 11)), 0);
        assert_eq!(weekdays_between(d(7, 8), d(7, 8)), 1);
        // A whole year of 2026: 261 weekdays.
        assert_eq!(
            weekdays_between(d(1, 1), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
            261
        );
        assert_eq!(weekdays_between(d(7, 13), d(7, 10)), 0, "an empty span");
    }
}
