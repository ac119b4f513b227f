//! The periodic jobs, each a task kind of `finstage-tasks`, and [`Jobs`], which runs them: a
//! worker pool that handles every kind and (optionally) the schedules that enqueue them, one
//! task per slot however many processes run.
//!
//! | kind | what it does | scheduled |
//! |---|---|---|
//! | `quote_poll` | quotes of the watchlist's open markets → `quotes_latest`, the bus, price alerts | every `scheduler.quote_poll_interval` |
//! | `daily_update` | per market: new daily bars (incremental, gaps refilled), all-time highs, snapshots, signals | after each market's close |
//! | `backfill` | ten years (or `years`) of one symbol | when a symbol is added |
//! | `outcomes` | fills in the outcomes of stored signals | hourly |
//! | `daily_report` | the watchlist's report to the notifier | `scheduler.daily_report` |
//! | `retention` | prunes intraday bars, logs and finished tasks | daily, 03:00 UTC |
//! | `backtest` | a backtest over stored history | on request |
//!
//! Every job processes its symbols with bounded concurrency (`scheduler.concurrency`), behind
//! the provider's shared rate limit; one failing symbol never fails the others (the run fails,
//! and is retried, only when every symbol failed); each run records
//! `finstage_job_runs_total`, `finstage_job_duration_seconds`,
//! `finstage_job_last_success_timestamp_seconds` and `finstage_job_symbols_total`, and logs
//! one line.

mod history;
mod quotes;
mod run;
mod upkeep;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use finstage_analysis::RulesConfig;
use finstage_domain::{Category, Symbol};
use finstage_notify::Alerter;
use finstage_tasks::{
    Every, HandlerError, Handlers, Schedule, Scheduler, ShutdownReport, TaskContext, TaskOptions, WorkerConfig,
    WorkerPool,
};
use serde::Serialize;

use crate::config::{Config, Retention, SchedulerConfig, WatchedSymbol};
use crate::market::{LocalDaily, Market};
use crate::{CoreError, OutcomeTracker, Services, SignalPipeline};

pub use history::{BackfillPayload, DailyUpdatePayload, GAP_RATIO, MAX_BACKFILL_YEARS, OVERLAP_DAYS};
pub use quotes::QuotePollPayload;
pub use run::{JobReport, SymbolFailure};
pub use upkeep::BacktestOutput;

/// Polls live quotes.
pub const QUOTE_POLL: &str = "quote_poll";
/// Updates a market's daily history after its close.
pub const DAILY_UPDATE: &str = "daily_update";
/// Fetches the history of one symbol (the API enqueues it for a new symbol).
pub const BACKFILL: &str = "backfill";
/// Fills in signal outcomes.
pub const OUTCOMES: &str = "outcomes";
/// Sends the daily report.
pub const DAILY_REPORT: &str = crate::reports::DAILY_REPORT_KIND;
/// Prunes old rows.
pub const RETENTION: &str = "retention";
/// Runs a backtest.
pub const BACKTEST: &str = crate::backtests::BACKTEST_KIND;

/// Every job kind, in the order of the table above.
pub const KINDS: [&str; 7] = [
    QUOTE_POLL,
    DAILY_UPDATE,
    BACKFILL,
    OUTCOMES,
    DAILY_REPORT,
    RETENTION,
    BACKTEST,
];

/// Years of history a backfill fetches unless told otherwise.
pub const DEFAULT_BACKFILL_YEARS: u32 = 10;

/// What the jobs run on and with: the services and the parts of the configuration they read.
#[derive(Debug, Clone)]
pub struct JobContext {
    services: Services,
    watchlist: Arc<[WatchedSymbol]>,
    rules: Arc<RulesConfig>,
    scheduler: SchedulerConfig,
    pipeline: SignalPipeline,
    alerter: Alerter,
    tracker: OutcomeTracker,
}

impl JobContext {
    /// The jobs of `config` over `services`.
    ///
    /// # Errors
    /// [`CoreError::Analysis`] or [`CoreError::Notify`] when the rules or the dedupe policy do
    /// not validate.
    pub fn new(services: Services, config: &Config) -> Result<Self, CoreError> {
        let alerter = Alerter::new(
            services.notifier.clone(),
            services.store.clone(),
            config.alerts.dedupe.clone(),
        )?;
        let max_age = chrono::TimeDelta::from_std(config.alerts.max_signal_age).map_err(|_| CoreError::Config {
            key: "alerts.max_signal_age".to_owned(),
            message: "alerts.max_signal_age is too long".to_owned(),
        })?;
        let pipeline = SignalPipeline::new(services.store.clone(), config.rules.clone(), Some(alerter.clone()))?
            .with_max_alert_age(max_age);
        Ok(JobContext {
            tracker: OutcomeTracker::new(services.store.clone()),
            watchlist: config.watchlist.clone().into(),
            rules: Arc::new(config.rules.clone()),
            scheduler: config.scheduler.clone(),
            services,
            pipeline,
            alerter,
        })
    }

    /// The services the jobs run on.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The configured watchlist, then the symbols added through the API (active in the store),
    /// each once.
    ///
    /// # Errors
    /// [`CoreError::Store`] when the stored symbols cannot be read.
    pub async fn watchlist(&self) -> Result<Vec<(Symbol, Category)>, CoreError> {
        let mut out: Vec<(Symbol, Category)> = self.watchlist.iter().map(|w| (w.symbol, w.category)).collect();
        for record in self.services.store.symbols().active().await? {
            if !out.iter().any(|(s, _)| *s == record.symbol) {
                out.push((record.symbol, record.category));
            }
        }
        Ok(out)
    }

    fn now(&self) -> DateTime<Utc> {
        self.services.clock.now()
    }

    fn retention(&self) -> Retention {
        self.scheduler.retention
    }

    /// Runs one job now, in this task, without the queue (`finstage-scheduler once`); the
    /// payload as the queue would pass it (`{}` when the job takes none).
    ///
    /// # Errors
    /// [`CoreError::Start`] for an unknown kind or a payload that does not decode; the job's
    /// own failure otherwise.
    pub async fn run_once(&self, kind: &str, payload: &str) -> Result<serde_json::Value, CoreError> {
        let decode = |e: serde_json::Error| CoreError::Start {
            part: "the job's payload",
            message: format!("{kind}: {e}"),
        };
        let value = match kind {
            QUOTE_POLL => to_value(
                self.poll_quotes(serde_json::from_str(payload).map_err(decode)?, None)
                    .await,
            )?,
            DAILY_UPDATE => to_value(
                self.daily_update(serde_json::from_str(payload).map_err(decode)?, None)
                    .await,
            )?,
            BACKFILL => to_value(
                self.backfill(serde_json::from_str(payload).map_err(decode)?, None)
                    .await,
            )?,
            OUTCOMES => to_value(self.track_outcomes().await)?,
            DAILY_REPORT => to_value(self.send_report().await)?,
            RETENTION => to_value(self.prune().await)?,
            BACKTEST => to_value(self.backtest(serde_json::from_str(payload).map_err(decode)?).await)?,
            other => {
                return Err(CoreError::Start {
                    part: "the job",
                    message: format!("unknown job {other:?}; the jobs are {}", KINDS.join(", ")),
                });
            }
        };
        Ok(value)
    }
}

fn to_value<T: Serialize>(result: Result<T, CoreError>) -> Result<serde_json::Value, CoreError> {
    let report = result?;
    serde_json::to_value(report).map_err(|e| CoreError::Start {
        part: "the job's report",
        message: e.to_string(),
    })
}

/// A job's failure as the queue sees it: bad input is fatal, anything else is retried.
fn handler_error(error: CoreError) -> HandlerError {
    match error {
        CoreError::Cancelled => HandlerError::Cancelled,
        CoreError::Config { .. } | CoreError::InvalidRequest { .. } | CoreError::Analysis(_) => {
            HandlerError::Fatal(error.to_string())
        }
        other => HandlerError::Retry(other.to_string()),
    }
}

/// The handlers of every job kind over `ctx`, each with its concurrency.
///
/// # Errors
/// [`CoreError::Tasks`] only if a kind were registered twice (a bug).
pub fn handlers(ctx: &Arc<JobContext>) -> Result<Handlers, CoreError> {
    let mut handlers = Handlers::new();
    let c = ctx.clone();
    handlers.register(QUOTE_POLL, 1, move |task: TaskContext, payload: QuotePollPayload| {
        let c = c.clone();
        async move { c.poll_quotes(payload, Some(task)).await.map_err(handler_error) }
    })?;
    let c = ctx.clone();
    handlers.register(
        DAILY_UPDATE,
        2,
        move |task: TaskContext, payload: DailyUpdatePayload| {
            let c = c.clone();
            async move { c.daily_update(payload, Some(task)).await.map_err(handler_error) }
        },
    )?;
    let c = ctx.clone();
    handlers.register(BACKFILL, 2, move |task: TaskContext, payload: BackfillPayload| {
        let c = c.clone();
        async move { c.backfill(payload, Some(task)).await.map_err(handler_error) }
    })?;
    let c = ctx.clone();
    handlers.register(OUTCOMES, 1, move |_: TaskContext, _: serde_json::Value| {
        let c = c.clone();
        async move { c.track_outcomes().await.map_err(handler_error) }
    })?;
    let c = ctx.clone();
    handlers.register(DAILY_REPORT, 1, move |_: TaskContext, _: serde_json::Value| {
        let c = c.clone();
        async move { c.send_report().await.map_err(handler_error) }
    })?;
    let c = ctx.clone();
    handlers.register(RETENTION, 1, move |_: TaskContext, _: serde_json::Value| {
        let c = c.clone();
        async move { c.prune().await.map_err(handler_error) }
    })?;
    crate::backtests::register_handler(&mut handlers, ctx.services.store.clone(), ctx.rules.clone(), 1)?;
    Ok(handlers)
}

fn options(attempts: u32, timeout: Duration) -> TaskOptions {
    TaskOptions::default().max_attempts(attempts).timeout(timeout)
}

/// The schedules of `config`: the quote poll, each market's daily update (weekdays, local
/// time), outcomes hourly, the daily report (weekdays, local time) and retention daily.
///
/// # Errors
/// [`CoreError::Config`] naming the key of an unknown market or time zone.
pub fn schedules(config: &SchedulerConfig) -> Result<Vec<Schedule>, CoreError> {
    let every = |e: Result<Every, finstage_tasks::TaskError>| e.map_err(CoreError::from);
    let poll = config.quote_poll_interval;
    let mut out = vec![Schedule {
        name: QUOTE_POLL.to_owned(),
        every: every(Every::interval(poll))?,
        kind: QUOTE_POLL.to_owned(),
        payload: serde_json::json!({}),
        // A missed poll is not worth a retry: the next slot comes soon.
        options: options(1, poll.max(Duration::from_secs(1))),
    }];
    for (market, at) in &config.daily_update {
        let key = format!("scheduler.daily_update.{market}");
        if Market::by_name(market).is_none() {
            return Err(CoreError::Config {
                message: format!(
                    "{key}: unknown market {market:?}; the markets are {}",
                    crate::market::MARKETS.map(|m| m.name).join(", ")
                ),
                key,
            });
        }
        out.push(Schedule {
            name: format!("{DAILY_UPDATE}:{market}"),
            every: Every::Custom(Arc::new(LocalDaily::from_config(at, &key, true)?)),
            kind: DAILY_UPDATE.to_owned(),
            payload: serde_json::to_value(DailyUpdatePayload {
                market: Some(market.clone()),
                symbols: Vec::new(),
            })
            .unwrap_or_default(),
            options: options(3, Duration::from_secs(3_600)),
        });
    }
    out.push(Schedule {
        name: OUTCOMES.to_owned(),
        every: every(Every::interval(Duration::from_secs(3_600)))?,
        kind: OUTCOMES.to_owned(),
        payload: serde_json::json!({}),
        options: options(3, Duration::from_secs(600)),
    });
    out.push(Schedule {
        name: DAILY_REPORT.to_owned(),
        every: Every::Custom(Arc::new(LocalDaily::from_config(
            &config.daily_report,
            "scheduler.daily_report",
            true,
        )?)),
        kind: DAILY_REPORT.to_owned(),
        payload: serde_json::json!({}),
        options: options(3, Duration::from_secs(300)),
    });
    out.push(Schedule {
        name: RETENTION.to_owned(),
        every: every(Every::cron("0 3 * * *"))?,
        kind: RETENTION.to_owned(),
        payload: serde_json::json!({}),
        options: options(3, Duration::from_secs(1_800)),
    });
    Ok(out)
}

/// How [`Jobs`] run.
#[derive(Debug, Clone)]
pub struct JobsOptions {
    /// This worker's id (lease owner), unique among the processes.
    pub worker_id: String,
    /// Also fire the schedules (else only handle the tasks others enqueue).
    pub schedules: bool,
}

impl Default for JobsOptions {
    fn default() -> Self {
        JobsOptions {
            worker_id: format!("jobs-{}", std::process::id()),
            schedules: true,
        }
    }
}

/// The jobs running: a worker pool handling every kind and the schedules.
#[derive(Debug)]
pub struct Jobs {
    pool: WorkerPool,
    scheduler: Option<Scheduler>,
}

impl Jobs {
    /// Starts the worker pool and, when asked, the schedules of `ctx`'s configuration.
    ///
    /// # Errors
    /// [`CoreError::Config`] for an unknown market or time zone in the schedules;
    /// [`CoreError::Tasks`] when the pool or the scheduler refuse their settings.
    pub fn start(ctx: Arc<JobContext>, options: JobsOptions) -> Result<Jobs, CoreError> {
        let backend = ctx.services.queue.backend().clone();
        let clock = ctx.services.clock.clone();
        let schedules = if options.schedules {
            Some(schedules(&ctx.scheduler)?)
        } else {
            None
        };
        let worker = WorkerConfig {
            id: options.worker_id,
            // Jobs are few and long: poll the queue at most every second when idle.
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(1),
            claim_batch: 8,
            ..WorkerConfig::default()
        };
        let pool = WorkerPool::start(backend.clone(), clock.clone(), handlers(&ctx)?, worker)?;
        let scheduler = match schedules {
            Some(schedules) => Some(Scheduler::start(backend, clock, schedules)?),
            None => None,
        };
        Ok(Jobs { pool, scheduler })
    }

    /// Stops the schedules, then the workers: running jobs get `grace` to finish, then are
    /// cancelled and their tasks released for another worker.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        if let Some(scheduler) = self.scheduler {
            scheduler.shutdown().await;
        }
        self.pool.shutdown(grace).await
    }
}

/// Counts of one job run, by name (`bars`, `signals`, `alerts`, …).
pub type Counts = BTreeMap<String, u64>;
