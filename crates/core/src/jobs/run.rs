//! What every job run shares: processing symbols with bounded concurrency where one failure
//! never fails the others, cooperative cancellation, the run's report, its metrics and its
//! one log line.

use std::future::Future;
use std::time::Instant;

use finstage_domain::{Category, Symbol};
use finstage_tasks::TaskContext;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Counts;
use crate::CoreError;

/// One symbol a run could not process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolFailure {
    /// The symbol.
    pub symbol: String,
    /// Why (never a secret).
    pub error: String,
}

/// What one run of a job did: the task's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    /// The job's kind.
    pub job: String,
    /// Symbols it looked at.
    pub symbols: usize,
    /// Of those, processed.
    pub succeeded: usize,
    /// Of those, skipped (market closed, nothing new).
    pub skipped: usize,
    /// Of those, failed, with why.
    pub failed: Vec<SymbolFailure>,
    /// What it did, counted (`bars`, `quotes`, `signals`, `alerts`, …).
    pub counts: Counts,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl JobReport {
    pub(crate) fn new(job: &str) -> Self {
        JobReport {
            job: job.to_owned(),
            ..JobReport::default()
        }
    }

    /// Adds `n` to the count `name`.
    pub(crate) fn add(&mut self, name: &str, n: u64) {
        if n > 0 {
            *self.counts.entry(name.to_owned()).or_default() += n;
        }
    }

    /// The count `name` (0 when never added to).
    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }
}

/// The result of one symbol's step.
pub(crate) enum Step {
    /// Processed, with what it did.
    Done(Counts),
    /// Nothing to do.
    Skipped,
}

/// Runs `step` for every symbol, `concurrency` at once, and folds the results into `report`.
/// Stops early with [`CoreError::Cancelled`] when the task is cancelled.
pub(crate) async fn for_each_symbol<F, Fut>(
    report: &mut JobReport,
    symbols: Vec<(Symbol, Category)>,
    concurrency: usize,
    task: Option<&mut TaskContext>,
    step: F,
) -> Result<(), CoreError>
where
    F: Fn(Symbol, Category) -> Fut,
    Fut: Future<Output = Result<Step, CoreError>>,
{
    report.symbols += symbols.len();
    let job = report.job.clone();
    let mut results = futures_util::stream::iter(symbols)
        .map(|(symbol, category)| {
            let run = step(symbol, category);
            async move { (symbol, run.await) }
        })
        .buffer_unordered(concurrency.max(1));
    let mut cancel = task;
    loop {
        let next = match cancel.as_deref_mut() {
            Some(task) => tokio::select! {
                next = results.next() => next,
                () = task.cancelled() => return Err(CoreError::Cancelled),
            },
            None => results.next().await,
        };
        let Some((symbol, result)) = next else { break };
        let outcome = match result {
            Ok(Step::Done(counts)) => {
                report.succeeded += 1;
                for (name, n) in counts {
                    report.add(&name, n);
                }
                "ok"
            }
            Ok(Step::Skipped) => {
                report.skipped += 1;
                "skipped"
            }
            Err(error) => {
                tracing::warn!(job = %job, %symbol, %error, "symbol failed");
                report.failed.push(SymbolFailure {
                    symbol: symbol.to_string(),
                    error: error.to_string(),
                });
                "error"
            }
        };
        metrics::counter!("finstage_job_symbols_total", "job_name" => job.clone(), "outcome" => outcome).increment(1);
    }
    Ok(())
}

/// Times a run and records its metrics and its log line. A run whose every symbol failed is a
/// failure (so the queue retries it); some failures among successes are not.
pub(crate) async fn measure<Fut>(job: &'static str, run: Fut) -> Result<JobReport, CoreError>
where
    Fut: Future<Output = Result<JobReport, CoreError>>,
{
    let started = Instant::now();
    let result = run.await.and_then(|report| {
        if !report.failed.is_empty() && report.succeeded == 0 && report.skipped == 0 {
            let first = &report.failed[0];
            return Err(CoreError::Start {
                part: "every symbol of the job",
                message: format!(
                    "{job}: all {} symbols failed (first: {}: {})",
                    report.failed.len(),
                    first.symbol,
                    first.error
                ),
            });
        }
        Ok(report)
    });
    let elapsed = started.elapsed();
    metrics::histogram!("finstage_job_duration_seconds", "job_name" => job).record(elapsed.as_secs_f64());
    let outcome = match &result {
        Ok(_) => "ok",
        Err(CoreError::Cancelled) => "cancelled",
        Err(_) => "error",
    };
    metrics::counter!("finstage_job_runs_total", "job_name" => job, "outcome" => outcome).increment(1);
    match result {
        Ok(mut report) => {
            report.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            #[allow(clippy::cast_precision_loss)]
            let now = chrono::Utc::now().timestamp() as f64;
            metrics::gauge!("finstage_job_last_success_timestamp_seconds", "job_name" => job).set(now);
            tracing::info!(
                job,
                duration_ms = report.duration_ms,
                symbols = report.symbols,
                succeeded = report.succeeded,
                skipped = report.skipped,
                failed = report.failed.len(),
                counts = ?report.counts,
                "job finished"
            );
            Ok(report)
        }
        Err(error) => {
            tracing::warn!(job, duration_ms = elapsed.as_millis() as u64, %error, "job failed");
            Err(error)
        }
    }
}
