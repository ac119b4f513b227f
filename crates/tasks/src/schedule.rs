//! Periodic schedules: cron expressions or fixed intervals that enqueue exactly one task per
//! slot, however many scheduler processes run.
//!
//! A slot is the instant a schedule fires (interval slots are multiples of the interval since
//! the Unix epoch, so every process agrees on them). Each process computes the same slots and
//! hands each to [`TaskBackend::enqueue_for_slot`], which claims the slot and enqueues its task
//! in one step: the first process wins, the others get `None`. A scheduler starts with the
//! first slot after it starts: slots missed while no scheduler ran are not caught up (a
//! backfill is a task of its own).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::queue::new_task;
use crate::{Clock, TaskBackend, TaskError, TaskOptions};

/// When a schedule fires.
#[derive(Debug, Clone)]
pub enum Every {
    /// At every multiple of the interval since the Unix epoch (so `1h` fires on the hour).
    Interval(Duration),
    /// At the times of a cron expression, in UTC. Five fields (`min hour day month weekday`) or
    /// six with seconds first.
    Cron(Box<cron::Schedule>),
    /// At the times another calendar gives (a time of day in a time zone, market days only,
    /// …): anything that can say which instant comes next.
    Custom(Arc<dyn NextSlot>),
}

/// A calendar of slots, for schedules that cron in UTC cannot express (a local time of day
/// across daylight-saving changes).
pub trait NextSlot: Send + Sync + std::fmt::Debug + 'static {
    /// The first slot strictly after `after`; `None` when there is none.
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

impl Every {
    /// A cron schedule.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the expression when it does not parse.
    pub fn cron(expression: &str) -> Result<Self, TaskError> {
        let fields = expression.split_whitespace().count();
        let full = if fields == 5 {
            format!("0 {expression}")
        } else {
            expression.to_owned()
        };
        cron::Schedule::from_str(&full)
            .map(|s| Self::Cron(Box::new(s)))
            .map_err(|e| TaskError::Invalid(format!("cron expression {expression:?}: {e}")))
    }

    /// An interval schedule.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for an interval under one second or not a whole number of
    /// seconds.
    pub fn interval(every: Duration) -> Result<Self, TaskError> {
        if every < Duration::from_secs(1) || every.subsec_nanos() != 0 {
            return Err(TaskError::Invalid(
                "a schedule interval must be whole seconds, at least 1".to_owned(),
            ));
        }
        Ok(Self::Interval(every))
    }

    /// The first slot strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Interval(every) => {
                let step = i64::try_from(every.as_secs()).ok()?;
                let next = (after.timestamp().div_euclid(step) + 1).checked_mul(step)?;
                DateTime::from_timestamp(next, 0)
            }
            Self::Cron(schedule) => schedule.after(&after).next(),
            Self::Custom(calendar) => calendar.next_after(after).filter(|next| *next > after),
        }
    }
}

/// A task enqueued at every slot of `every`.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The schedule's name: slots are claimed under it.
    pub name: String,
    /// When it fires.
    pub every: Every,
    /// The task kind enqueued.
    pub kind: String,
    /// The payload of every task.
    pub payload: Value,
    /// The options of every task.
    pub options: TaskOptions,
}

/// Runs schedules until stopped.
#[derive(Debug)]
pub struct Scheduler {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts one loop per schedule.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a bad kind or options in a schedule, or two schedules with
    /// one name.
    pub fn start(
        backend: Arc<dyn TaskBackend>,
        clock: Arc<dyn Clock>,
        schedules: Vec<Schedule>,
    ) -> Result<Self, TaskError> {
        let mut names = std::collections::HashSet::new();
        for schedule in &schedules {
            new_task(&schedule.kind, &schedule.payload, schedule.options.clone(), clock.now())?;
            if !names.insert(schedule.name.clone()) {
                return Err(TaskError::Invalid(format!(
                    "schedule {:?} is defined twice",
                    schedule.name
                )));
            }
        }
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(async move {
            let mut loops = tokio::task::JoinSet::new();
            for schedule in schedules {
                loops.spawn(run_schedule(backend.clone(), clock.clone(), schedule, stop_rx.clone()));
            }
            while loops.join_next().await.is_some() {}
        });
        Ok(Self { stop, handle })
    }

    /// Stops every schedule and waits for their loops to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

async fn run_schedule(
    backend: Arc<dyn TaskBackend>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = clock.now();
    while let Some(slot) = schedule.every.next_after(last) {
        let wait = (slot - clock.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // The clock may lag the timer by rounding; never fire a slot early.
        let late = clock.now();
        if late < slot {
            let lag = (slot - late).to_std().unwrap_or(Duration::ZERO);
            tokio::time::sleep(lag + Duration::from_millis(1)).await;
        }
        let now = clock.now();
        let fired = match new_task(&schedule.kind, &schedule.payload, schedule.options.clone(), now) {
            Ok(task) => backend.enqueue_for_slot(&schedule.name, slot, task, now).await,
            Err(error) => Err(error),
        };
        match fired {
            Ok(Some(_)) => {
                metrics::counter!("finstage_schedule_fired_total", "schedule" => schedule.name.clone()).increment(1);
                tracing::debug!(schedule = %schedule.name, %slot, "slot fired");
            }
            Ok(None) => tracing::debug!(schedule = %schedule.name, %slot, "slot already fired by another scheduler"),
            Err(error) => tracing::warn!(schedule = %schedule.name, %slot, %error, "could not fire the slot"),
        }
        last = slot;
    }
}
