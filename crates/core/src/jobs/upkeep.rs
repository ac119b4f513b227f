//! The jobs without symbols to fetch: `outcomes` (what became of stored signals),
//! `daily_report` (the watchlist's report to the notifier), `retention` (old rows pruned, the
//! store maintained) and `backtest`.

use chrono::TimeDelta;

use super::run::{JobReport, measure};
use super::{DAILY_REPORT, JobContext, OUTCOMES, RETENTION};
use crate::CoreError;
use crate::backtests::{BacktestRequest, BacktestResult, StrategySummary, run_backtest};
use crate::reports::{build_daily_report, send_daily_report};

/// What a `backtest` task answers: the result's summary (every figure, the latest trades, a
/// sampled equity curve), the shape `GET /v1/backtests/{id}/result` documents.
pub type BacktestOutput = BacktestResult<StrategySummary>;

fn cut_off(now: chrono::DateTime<chrono::Utc>, keep: std::time::Duration) -> chrono::DateTime<chrono::Utc> {
    TimeDelta::from_std(keep)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

impl JobContext {
    /// Fills in the outcomes of stored signals whose horizons have passed.
    ///
    /// # Errors
    /// [`CoreError::Store`] from the store.
    pub async fn track_outcomes(&self) -> Result<JobReport, CoreError> {
        measure(OUTCOMES, async {
            let summary = self.tracker.run(self.now()).await?;
            let mut report = JobReport::new(OUTCOMES);
            report.add("examined", summary.examined as u64);
            report.add("updated", summary.updated as u64);
            report.add("completed", summary.completed as u64);
            report.add("expired", summary.expired as u64);
            report.add("unknown_kind", summary.unknown_kind as u64);
            Ok(report)
        })
        .await
    }

    /// Builds the watchlist's daily report from stored data and sends it.
    ///
    /// # Errors
    /// [`CoreError::Store`] from the store; [`CoreError::Notify`] when it cannot be sent.
    pub async fn send_report(&self) -> Result<JobReport, CoreError> {
        measure(DAILY_REPORT, async {
            let watchlist = self.watchlist().await?;
            let report = build_daily_report(&self.services.store, &watchlist, &self.rules, self.now()).await?;
            send_daily_report(self.services.notifier.as_ref(), &report).await?;
            let mut out = JobReport::new(DAILY_REPORT);
            out.symbols = watchlist.len();
            out.succeeded = watchlist.len();
            out.add("sent", 1);
            Ok(out)
        })
        .await
    }

    /// Deletes intraday bars, log rows and finished tasks older than their retention, and
    /// maintains the store.
    ///
    /// # Errors
    /// [`CoreError::Store`] from the store.
    pub async fn prune(&self) -> Result<JobReport, CoreError> {
        measure(RETENTION, async {
            let now = self.now();
            let keep = self.retention();
            let store = &self.services.store;
            let mut report = JobReport::new(RETENTION);
            report.add(
                "intraday_bars",
                store.intraday_bars().prune(cut_off(now, keep.intraday_bars)).await?,
            );
            let logs = cut_off(now, keep.logs);
            report.add("notifications", store.notifications().prune(logs).await?);
            report.add("slow_queries", store.slow_queries().prune(logs).await?);
            report.add("alerts", store.alerts().prune(logs).await?);
            let tasks = cut_off(now, keep.finished_tasks);
            report.add("tasks", store.tasks().prune_finished(tasks).await?);
            report.add("schedule_slots", store.tasks().prune_slots(tasks).await?);
            store.maintain().await?;
            Ok(report)
        })
        .await
    }

    /// Runs a backtest over stored history (`finstage-scheduler once backtest`; the queue's
    /// tasks go through [`register_handler`](crate::backtests::register_handler)).
    ///
    /// # Errors
    /// [`CoreError`] from [`run_backtest`].
    pub async fn backtest(&self, request: BacktestRequest) -> Result<BacktestOutput, CoreError> {
        let started = std::time::Instant::now();
        let result = run_backtest(&self.services.store, &self.rules, &request).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("finstage_job_runs_total", "job_name" => super::BACKTEST, "outcome" => outcome).increment(1);
        metrics::histogram!("finstage_job_duration_seconds", "job_name" => super::BACKTEST)
            .record(started.elapsed().as_secs_f64());
        tracing::info!(
            job = super::BACKTEST,
            duration_ms = started.elapsed().as_millis() as u64,
            symbols = request.symbols.len(),
            ok = result.is_ok(),
            "job finished"
        );
        result.map(|full| full.summary())
    }
}
