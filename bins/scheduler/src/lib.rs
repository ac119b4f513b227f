//! The scheduler's commands, behind a thin `main.rs`.
//!
//! - `run`: the daemon. The jobs of `finstage-core` with their schedules (one task per slot
//!   however many schedulers run), its own `/metrics` and `/health/*` on
//!   `scheduler.metrics_addr`, until SIGINT or SIGTERM (running jobs get a grace period, then
//!   their tasks go back to the queue).
//! - `once JOB`: one job now, in this process, its report printed as JSON.
//! - `backfill --symbols A,B --years 10`: history for the symbols, a progress bar on a terminal
//!   and a log line per symbol otherwise.
//! - `import FILE…`: daily bars from CSV files (`Date,Open,High,Low,Close,Volume[,Adj Close]`),
//!   each file in one transaction.
//! - `migrate`: the database's pending migrations, nothing else.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clap::{Parser, Subcommand};
use finstage_core::jobs::{BackfillPayload, JobContext, Jobs, JobsOptions, KINDS, MAX_BACKFILL_YEARS};
use finstage_core::{Config, ConfigSources, CoreError, Services, analyze_stored_history};
use finstage_domain::{Category, Symbol};
use finstage_monitoring::health::FnCheck;
use finstage_monitoring::{
    CheckOptions, CheckResult, HealthRegistry, Metrics, MetricsConfig, init_logging, serve_metrics,
};
use finstage_store::Store;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

/// How long running jobs may finish after a stop signal before their tasks are released.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Finstage's scheduler: the periodic jobs and the operator's commands. Configured like
/// `finstage-api`: defaults < `finstage.toml` (or `FINSTAGE_CONFIG`) < `FINSTAGE_*` variables.
#[derive(Debug, Parser)]
#[command(name = "finstage-scheduler", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The scheduler's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the jobs on their schedules until SIGINT or SIGTERM.
    Run {
        /// Handle queued tasks but fire no schedules (another process schedules).
        #[arg(long)]
        no_schedules: bool,
    },
    /// Run one job now, in this process, and print its report as JSON.
    Once {
        /// The job: quote_poll, daily_update, backfill, outcomes, daily_report, retention or
        /// backtest.
        job: String,
        /// The job's payload as JSON (`{"market":"us"}`, `{"symbol":"NVDA"}`, …).
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Fetch the daily history of symbols.
    Backfill {
        /// The symbols, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        symbols: Vec<String>,
        /// Years of history (1 to 30).
        #[arg(long, default_value_t = 10)]
        years: u32,
    },
    /// Import daily bars from CSV files (`Date,Open,High,Low,Close,Volume[,Adj Close]`), then
    /// compute each symbol's all-time high, snapshot and signals over its stored bars (none
    /// alerted).
    Import {
        /// The files; the symbol is each file's name without its extension (`AAPL.csv`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The symbol of every file (instead of their names).
        #[arg(long)]
        symbol: Option<String>,
    },
    /// Run the database's pending migrations.
    Migrate,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// A service of the core failed or refused its configuration.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] finstage_store::StoreError),
    /// Logging or metrics could not start.
    #[error("monitoring: {0}")]
    Monitoring(#[from] finstage_monitoring::MonitoringError),
    /// The command's arguments are invalid.
    #[error("{0}")]
    Usage(String),
    /// Some of the work failed (the message says which).
    #[error("{0}")]
    Failed(String),
}

/// Runs `cli`'s command with `config`.
///
/// # Errors
/// [`SchedulerError`] saying what failed.
pub async fn run(cli: Cli, config: &Config, sources: &ConfigSources) -> Result<(), SchedulerError> {
    // Logs go to standard error: `once` prints its report on standard output.
    init_logging(&config.log, std::io::stderr)?;
    for variable in sources.unused_variables() {
        tracing::warn!(variable, "unknown FINSTAGE_ variable ignored");
    }
    match cli.command {
        Command::Run { no_schedules } => daemon(config, !no_schedules).await,
        Command::Once { job, payload } => {
            let report = once(config, &job, &payload).await?;
            println!("{report}");
            Ok(())
        }
        Command::Backfill { symbols, years } => backfill(config, &symbols, years).await,
        Command::Import { files, symbol } => import(config, &files, symbol.as_deref()).await,
        Command::Migrate => {
            let store = Store::connect(config.store.clone()).await?;
            let applied = store.migrate().await?;
            tracing::info!(applied, backend = %store.backend(), "migrations done");
            Ok(())
        }
    }
}

async fn context(config: &Config) -> Result<Arc<JobContext>, SchedulerError> {
    let services = Services::build(config, "finstage-scheduler").await?;
    Ok(Arc::new(JobContext::new(services, config)?))
}

/// The daemon: jobs, schedules, `/metrics`, until a stop signal.
async fn daemon(config: &Config, schedules: bool) -> Result<(), SchedulerError> {
    let metrics = Metrics::install(&MetricsConfig::default())?;
    let ctx = context(config).await?;
    let health = HealthRegistry::new();
    let store = ctx.services().store.clone();
    let check = FnCheck::new("store", move || {
        let store = store.clone();
        async move {
            match store.conn().await {
                Ok(mut conn) => match conn.execute_batch("SELECT 1").await {
                    Ok(()) => CheckResult::ok(format!("{} answers", store.backend())),
                    Err(e) => CheckResult::down(e.to_string()),
                },
                Err(e) => CheckResult::down(e.to_string()),
            }
        }
    });
    health
        .register(check, CheckOptions::default())
        .map_err(|e| SchedulerError::Usage(e.to_string()))?;
    let server = serve_metrics(config.scheduler.metrics_addr, metrics, Some(health)).await?;
    let jobs = Jobs::start(
        ctx,
        JobsOptions {
            worker_id: format!("finstage-scheduler-{}", std::process::id()),
            schedules,
        },
    )?;
    tracing::info!(metrics = %server.local_addr(), schedules, "finstage-scheduler running");
    shutdown_signal().await;
    tracing::info!("shutting down");
    let report = jobs.shutdown(SHUTDOWN_GRACE).await;
    tracing::info!(finished = report.finished, released = report.released, "jobs stopped");
    server.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One job now; its report as pretty JSON.
async fn once(config: &Config, job: &str, payload: &str) -> Result<String, SchedulerError> {
    if !KINDS.contains(&job) {
        return Err(SchedulerError::Usage(format!(
            "unknown job {job:?}; the jobs are {}",
            KINDS.join(", ")
        )));
    }
    let ctx = context(config).await?;
    let report = ctx.run_once(job, payload).await?;
    serde_json::to_string_pretty(&report).map_err(|e| SchedulerError::Failed(e.to_string()))
}

async fn backfill(config: &Config, symbols: &[String], years: u32) -> Result<(), SchedulerError> {
    if years == 0 || years > MAX_BACKFILL_YEARS {
        return Err(SchedulerError::Usage(format!(
            "--years must be 1 to {MAX_BACKFILL_YEARS}, not {years}"
        )));
    }
    let mut parsed = Vec::with_capacity(symbols.len());
    for text in symbols {
        let symbol = Symbol::parse(text.trim()).map_err(|e| SchedulerError::Usage(format!("--symbols: {e}")))?;
        if !parsed.contains(&symbol) {
            parsed.push(symbol);
        }
    }
    let ctx = context(config).await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(parsed.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let total = parsed.len();
    let mut failures = Vec::new();
    let mut done = 0usize;
    let mut results = futures_util::stream::iter(parsed)
        .map(|symbol| {
            let ctx = ctx.clone();
            async move {
                let payload = BackfillPayload {
                    symbol: symbol.to_string(),
                    years,
                };
                (symbol, ctx.backfill(payload, None).await)
            }
        })
        .buffer_unordered(config.scheduler.concurrency.max(1));
    while let Some((symbol, result)) = results.next().await {
        done += 1;
        match &result {
            Ok(report) => {
                let bars = report.count("bars");
                match &bar {
                    Some(bar) => bar.set_message(format!("{symbol}: {bars} bars")),
                    None => tracing::info!(%symbol, bars, done, total, "backfilled"),
                }
            }
            Err(error) => {
                match &bar {
                    Some(bar) => bar.println(format!("{symbol}: {error}")),
                    None => tracing::warn!(%symbol, %error, done, total, "backfill failed"),
                }
                failures.push(symbol.to_string());
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_with_message("done");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(SchedulerError::Failed(format!(
            "{} of {total} symbols failed: {}",
            failures.len(),
            failures.join(", ")
        )))
    }
}

async fn import(config: &Config, files: &[PathBuf], symbol: Option<&str>) -> Result<(), SchedulerError> {
    let symbol = symbol
        .map(|s| Symbol::parse(s).map_err(|e| SchedulerError::Usage(format!("--symbol: {e}"))))
        .transpose()?;
    let store = Store::open(config.store.clone()).await?;
    let mut failed = Vec::new();
    for file in files {
        let summary = match store.import_csv(file, symbol.as_ref()).await {
            Ok(summary) => summary,
            Err(error) => {
                tracing::error!(file = %file.display(), %error, "not imported (nothing of it kept)");
                eprintln!("{error}");
                failed.push(file.display().to_string());
                continue;
            }
        };
        // The jobs analyse only the bars they fetch: the imported ones get their all-time
        // high, snapshot and signals here.
        let category = config
            .watchlist
            .iter()
            .find(|w| w.symbol == summary.symbol)
            .map_or_else(|| Category::infer(&summary.symbol), |w| w.category);
        match analyze_stored_history(&store, &config.rules, summary.symbol, category, Utc::now()).await {
            Ok(analysis) => tracing::info!(
                file = %file.display(),
                symbol = %summary.symbol,
                bars = summary.bars,
                signals = analysis.signals,
                new_high = analysis.new_high,
                "imported"
            ),
            Err(error) => {
                tracing::error!(file = %file.display(), %error, "imported, but its signals were not computed");
                eprintln!(
                    "{}: imported, but its signals were not computed: {error}",
                    file.display()
                );
                failed.push(format!("{} (signals)", file.display()));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(SchedulerError::Failed(format!("not imported: {}", failed.join(", "))))
    }
}
