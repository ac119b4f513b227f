//! Alert rules evaluated periodically over the process's metrics, emitting [`AlertEvent`]s into a
//! channel that the notifier routes.
//!
//! # Semantics
//! - Every `interval`, the engine takes one [`MetricsSnapshot`] from its [`MetricSource`] and
//!   evaluates every rule on it.
//! - A rule whose condition holds becomes *pending*; once it has held for the rule's
//!   `pending_for` (zero by default) it *fires*: a [`AlertState::Firing`] event.
//! - **Cooldown**: a rule emits at most one firing event per `cooldown`. While it keeps firing, it
//!   is emitted again each time the cooldown has passed (a reminder); if it clears and fires again
//!   within the cooldown, the second firing is not emitted (flapping is not news).
//! - When a rule whose firing was emitted stops holding, a [`AlertState::Resolved`] event is
//!   emitted, once. So events alternate firing, resolved, firing… for each rule.
//! - A condition without data (no such series yet, too few requests in the window) does not hold.
//! - Events go out with `try_send`: a full or closed channel never stalls the evaluation; lost
//!   events are counted in `finstage_alerts_dropped_total` and logged.
//!
//! Durations (pending time, cooldown, rate windows) run on tokio's clock; the wall-clock time of
//! events and job ages come from a [`Clock`].

mod snapshot;
mod source;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use metrics::{Counter, Gauge};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub use snapshot::{LabelMatch, MetricsSnapshot, Sample, Selector};
pub use source::{MetricSource, SharedValues};

use crate::catalog;
use crate::clock::{Clock, SystemClock, unix_seconds};
use crate::error::{MonitoringError, check_finite, check_name, check_nonzero};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look today.
    Warning,
    /// Someone should look now.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a condition found at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The value compared (bytes, a ratio, an age in seconds).
    pub value: f64,
    /// Whether the condition holds.
    pub firing: bool,
    /// A sentence for the notification.
    pub message: String,
}

type CustomFn = dyn Fn(&MetricsSnapshot, SystemTime) -> Option<Reading> + Send + Sync;

/// When a rule holds.
#[derive(Clone)]
pub enum Condition {
    /// The sum of the selected series is above `threshold` (a gauge: memory, backlog).
    Above {
        /// The series.
        selector: Selector,
        /// The level.
        threshold: f64,
    },
    /// The increase of `numerator` divided by the increase of `denominator` over the last
    /// `window` is above `threshold` (an error rate from two counters), once `denominator` grew
    /// by at least `min_events` in the window. Until the engine has seen a full window, the
    /// increase since its first evaluation is used. A counter that went down (a restart) counts
    /// from zero.
    RatioAbove {
        /// The failures.
        numerator: Selector,
        /// All attempts.
        denominator: Selector,
        /// The window.
        window: Duration,
        /// The ratio, in `[0, 1]`.
        threshold: f64,
        /// Fewer attempts than this in the window never fire (1 error in 1 request is not 100 %).
        min_events: f64,
    },
    /// The oldest of the selected series, read as a time in seconds since the Unix epoch, is more
    /// than `max_age` ago (a job's last success).
    OlderThan {
        /// The timestamp series.
        selector: Selector,
        /// The age allowed.
        max_age: Duration,
    },
    /// Anything else: a function of the snapshot and the wall-clock time (`None`: no data).
    Custom(Arc<CustomFn>),
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Above { selector, threshold } => f
                .debug_struct("Above")
                .field("selector", selector)
                .field("threshold", threshold)
                .finish(),
            Condition::RatioAbove {
                numerator,
                denominator,
                window,
                threshold,
                min_events,
            } => f
                .debug_struct("RatioAbove")
                .field("numerator", numerator)
                .field("denominator", denominator)
                .field("window", window)
                .field("threshold", threshold)
                .field("min_events", min_events)
                .finish(),
            Condition::OlderThan { selector, max_age } => f
                .debug_struct("OlderThan")
                .field("selector", selector)
                .field("max_age", max_age)
                .finish(),
            Condition::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl Condition {
    fn validate(&self) -> Result<(), MonitoringError> {
        match self {
            Condition::Above { threshold, .. } => check_finite("alert threshold", *threshold),
            Condition::RatioAbove {
                window,
                threshold,
                min_events,
                ..
            } => {
                check_nonzero("alert window", *window)?;
                check_finite("alert ratio", *threshold)?;
                check_finite("alert minimum events", *min_events)?;
                if !(0.0..=1.0).contains(threshold) {
                    return Err(MonitoringError::InvalidConfig {
                        what: "alert ratio",
                        reason: format!("{threshold} is not between 0 and 1"),
                    });
                }
                Ok(())
            }
            Condition::OlderThan { max_age, .. } => check_nonzero("alert age", *max_age),
            Condition::Custom(_) => Ok(()),
        }
    }
}

/// A named condition with a severity, a cooldown and an optional pending time.
#[derive(Debug, Clone)]
pub struct AlertRule {
    name: String,
    severity: Severity,
    cooldown: Duration,
    pending_for: Duration,
    condition: Condition,
}

/// The default cooldown: a firing rule is repeated every hour.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(3600);

impl AlertRule {
    /// A rule called `name` (the `rule` label: 1 to 64 of `a-z 0-9 _ - .`), severity warning,
    /// [`DEFAULT_COOLDOWN`], no pending time.
    ///
    /// # Errors
    /// A bad name, a threshold that is not finite, a ratio outside `[0, 1]`, a zero window or age.
    pub fn new(name: impl Into<String>, condition: Condition) -> Result<Self, MonitoringError> {
        let name = name.into();
        check_name("alert rule", &name)?;
        condition.validate()?;
        Ok(AlertRule {
            name,
            severity: Severity::Warning,
            cooldown: DEFAULT_COOLDOWN,
            pending_for: Duration::ZERO,
            condition,
        })
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the cooldown (zero: every evaluation that holds emits).
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The condition must hold this long before the rule fires.
    pub fn with_pending_for(mut self, pending_for: Duration) -> Self {
        self.pending_for = pending_for;
        self
    }

    /// The same rule under another name (two memory rules, a warning and a critical one).
    ///
    /// # Errors
    /// A bad name.
    pub fn renamed(mut self, name: impl Into<String>) -> Result<Self, MonitoringError> {
        let name = name.into();
        check_name("alert rule", &name)?;
        self.name = name;
        Ok(self)
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// `memory_high`, critical: resident memory above `bytes`.
    pub fn memory_above(bytes: u64) -> AlertRule {
        AlertRule {
            name: "memory_high".to_owned(),
            severity: Severity::Critical,
            cooldown: DEFAULT_COOLDOWN,
            pending_for: Duration::ZERO,
            condition: Condition::Above {
                selector: Selector::new(catalog::PROCESS_RESIDENT_MEMORY_BYTES.name),
                threshold: bytes as f64,
            },
        }
    }

    /// `http_error_rate`: more than `ratio` of the HTTP requests of the last `window` answered
    /// 5xx (at least 20 requests in the window).
    pub fn http_error_rate_above(ratio: f64, window: Duration) -> Result<AlertRule, MonitoringError> {
        let total = Selector::new(catalog::HTTP_REQUESTS_TOTAL.name);
        AlertRule::new(
            "http_error_rate",
            Condition::RatioAbove {
                numerator: total.clone().with("status", LabelMatch::Prefix("5".into())),
                denominator: total,
                window,
                threshold: ratio,
                min_events: 20.0,
            },
        )
    }

    /// `upstream_failure_rate`: more than `ratio` of the provider requests of the last `window`
    /// failed (anything but 200, 404 and 422, which are answers: 5xx, 429, timeouts, connection
    /// failures, malformed bodies), at least 10 requests in the window.
    pub fn upstream_failure_rate_above(ratio: f64, window: Duration) -> Result<AlertRule, MonitoringError> {
        let total = Selector::new(catalog::UPSTREAM_REQUESTS_TOTAL.name);
        let answers = ["200", "404", "422"].map(String::from).to_vec();
        AlertRule::new(
            "upstream_failure_rate",
            Condition::RatioAbove {
                numerator: total.clone().with("status", LabelMatch::NoneOf(answers)),
                denominator: total,
                window,
                threshold: ratio,
                min_events: 10.0,
            },
        )
    }

    /// `job_stale`: some job's last success is more than `max_age` ago.
    pub fn stale_job(max_age: Duration) -> Result<AlertRule, MonitoringError> {
        AlertRule::new(
            "job_stale",
            Condition::OlderThan {
                selector: Selector::new(catalog::JOB_LAST_SUCCESS_TIMESTAMP_SECONDS.name),
                max_age,
            },
        )
    }
}

/// Whether an event opens or closes an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The rule holds (first time, or a reminder after the cooldown).
    Firing,
    /// The rule held and no longer does.
    Resolved,
}

/// One alert notification, for the notifier to route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The rule's name.
    pub rule: String,
    /// The rule's severity.
    pub severity: Severity,
    /// Firing or resolved.
    pub state: AlertState,
    /// The value that was compared (for a resolved event, the value that no longer holds).
    pub value: f64,
    /// A sentence saying what is wrong (or that it no longer is).
    pub message: String,
    /// When the event was produced (wall clock).
    pub at: SystemTime,
}

struct RuleState {
    rule: AlertRule,
    /// (when, numerator, denominator) of past evaluations, for ratio windows.
    history: VecDeque<(Instant, f64, f64)>,
    pending_since: Option<Instant>,
    /// A firing event was emitted and not yet resolved.
    active: bool,
    last_fired: Option<Instant>,
    active_gauge: Gauge,
    fired: Counter,
}

impl RuleState {
    fn new(rule: AlertRule) -> Self {
        let active_gauge = metrics::gauge!(catalog::ALERT_ACTIVE.name, "rule" => rule.name.clone());
        let fired = metrics::counter!(
            catalog::ALERTS_FIRED_TOTAL.name,
            "rule" => rule.name.clone(),
            "severity" => rule.severity.as_str()
        );
        active_gauge.set(0.0);
        RuleState {
            rule,
            history: VecDeque::new(),
            pending_since: None,
            active: false,
            last_fired: None,
            active_gauge,
            fired,
        }
    }

    fn read(&mut self, snapshot: &MetricsSnapshot, now: Instant, wall: SystemTime) -> Option<Reading> {
        match &self.rule.condition {
            Condition::Above { selector, threshold } => {
                let value = snapshot.sum(selector)?;
                Some(Reading {
                    value,
                    firing: value > *threshold,
                    message: format!("{} is {value}, above {threshold}", selector.name()),
                })
            }
            Condition::RatioAbove {
                numerator,
                denominator,
                window,
                threshold,
                min_events,
            } => {
                let total = snapshot.sum(denominator)?;
                let failed = snapshot.sum(numerator).unwrap_or(0.0);
                self.history.push_back((now, failed, total));
                // Keep the newest evaluation at or before the window's start as the base.
                while self.history.len() > 1 && now.duration_since(self.history[1].0) >= *window {
                    self.history.pop_front();
                }
                let &(since, failed_then, total_then) = self.history.front()?;
                if since == now {
                    return None;
                }
                let increase = |now: f64, then: f64| if now >= then { now - then } else { now };
                let attempts = increase(total, total_then);
                if attempts < *min_events || attempts <= 0.0 {
                    return None;
                }
                let ratio = increase(failed, failed_then) / attempts;
                Some(Reading {
                    value: ratio,
                    firing: ratio > *threshold,
                    message: format!(
                        "{:.1} % of {} failed over the last {}s (threshold {:.1} %)",
                        ratio * 100.0,
                        denominator.name(),
                        now.duration_since(since).as_secs(),
                        threshold * 100.0
                    ),
                })
            }
            Condition::OlderThan { selector, max_age } => {
                let now = unix_seconds(wall);
                let oldest = snapshot.select(selector).min_by(|a, b| a.value.total_cmp(&b.value))?;
                let age = now - oldest.value;
                Some(Reading {
                    value: age,
                    firing: age > max_age.as_secs_f64(),
                    message: format!("{oldest} is {age:.0}s old, more than {}s", max_age.as_secs()),
                })
            }
            Condition::Custom(f) => f(snapshot, wall),
        }
    }

    fn evaluate(&mut self, snapshot: &MetricsSnapshot, now: Instant, wall: SystemTime) -> Option<AlertEvent> {
        let reading = self.read(snapshot, now, wall);
        let event = |state, reading: &Reading| AlertEvent {
            rule: self.rule.name.clone(),
            severity: self.rule.severity,
            state,
            value: reading.value,
            message: reading.message.clone(),
            at: wall,
        };
        match reading {
            Some(reading) if reading.firing => {
                let since = *self.pending_since.get_or_insert(now);
                if now.duration_since(since) < self.rule.pending_for {
                    return None;
                }
                let cooled = self
                    .last_fired
                    .is_none_or(|last| now.duration_since(last) >= self.rule.cooldown);
                if !cooled {
                    return None;
                }
                self.last_fired = Some(now);
                self.active = true;
                self.active_gauge.set(1.0);
                self.fired.increment(1);
                Some(event(AlertState::Firing, &reading))
            }
            reading => {
                self.pending_since = None;
                if !self.active {
                    return None;
                }
                self.active = false;
                self.active_gauge.set(0.0);
                let reading = reading.unwrap_or_else(|| Reading {
                    value: f64::NAN,
                    firing: false,
                    message: "no data".to_owned(),
                });
                let mut resolved = event(AlertState::Resolved, &reading);
                resolved.message = format!("resolved: {}", reading.message);
                Some(resolved)
            }
        }
    }
}

/// Evaluates rules over a [`MetricSource`] and sends their events to a channel.
pub struct AlertEngine {
    rules: Vec<RuleState>,
    source: Arc<dyn MetricSource>,
    sink: mpsc::Sender<AlertEvent>,
    clock: Arc<dyn Clock>,
    dropped: Counter,
}

impl fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.rules.iter().map(|state| state.rule.name()).collect();
        f.debug_struct("AlertEngine")
            .field("rules", &names)
            .finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// An engine over `rules`, reading `source`, sending to `sink`.
    ///
    /// # Errors
    /// Two rules with the same name.
    pub fn new(
        rules: Vec<AlertRule>,
        source: Arc<dyn MetricSource>,
        sink: mpsc::Sender<AlertEvent>,
    ) -> Result<Self, MonitoringError> {
        let mut names = HashSet::new();
        for rule in &rules {
            if !names.insert(rule.name.clone()) {
                return Err(MonitoringError::Duplicate {
                    what: "alert rule",
                    name: rule.name.clone(),
                });
            }
        }
        Ok(AlertEngine {
            rules: rules.into_iter().map(RuleState::new).collect(),
            source,
            sink,
            clock: Arc::new(SystemClock),
            dropped: metrics::counter!(catalog::ALERTS_DROPPED_TOTAL.name),
        })
    }

    /// Reads wall-clock time from `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Evaluates every rule once, now; sends the events and returns them.
    pub fn evaluate(&mut self) -> Vec<AlertEvent> {
        let snapshot = self.source.snapshot();
        let now = Instant::now();
        let wall = self.clock.now();
        let events: Vec<AlertEvent> = self
            .rules
            .iter_mut()
            .filter_map(|state| state.evaluate(&snapshot, now, wall))
            .collect();
        for event in &events {
            if let Err(error) = self.sink.try_send(event.clone()) {
                self.dropped.increment(1);
                tracing::warn!(rule = %event.rule, state = ?event.state, %error, "alert event dropped");
            }
        }
        events
    }

    /// Evaluates every `interval` (the first at once) on a background task, until the returned
    /// handle is dropped or the channel's receiver is.
    ///
    /// # Errors
    /// A zero interval; no tokio runtime.
    pub fn spawn(mut self, interval: Duration) -> Result<AlertTask, MonitoringError> {
        check_nonzero("alert evaluation interval", interval)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| MonitoringError::NoRuntime("the alert engine"))?;
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if self.sink.is_closed() {
                    return;
                }
                self.evaluate();
            }
        });
        Ok(AlertTask { task })
    }
}

/// The running [`AlertEngine`]; dropping it stops the evaluations.
#[derive(Debug)]
pub struct AlertTask {
    task: JoinHandle<()>,
}

impl AlertTask {
    /// Whether the task has ended (its channel closed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for AlertTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_validated() {
        assert!(AlertRule::http_error_rate_above(1.5, Duration::from_secs(60)).is_err());
        assert!(AlertRule::http_error_rate_above(0.05, Duration::ZERO).is_err());
        assert!(AlertRule::stale_job(Duration::ZERO).is_err());
        let above = |threshold| Condition::Above {
            selector: Selector::new("x"),
            threshold,
        };
        assert!(AlertRule::new("Bad Name", above(1.0)).is_err());
        assert!(AlertRule::new("ok", above(f64::NAN)).is_err());
        let rule = AlertRule::new("ok", above(1.0)).unwrap().with_severity(Severity::Info);
        assert_eq!((rule.name(), rule.severity()), ("ok", Severity::Info));
        assert_eq!(AlertRule::memory_above(1).severity(), Severity::Critical);
    }

    #[test]
    fn duplicate_rule_names_are_refused() {
        let (sink, _events) = mpsc::channel(1);
        let rules = vec![AlertRule::memory_above(1), AlertRule::memory_above(2)];
        let error = AlertEngine::new(rules, Arc::new(SharedValues::new()), sink).unwrap_err();
        assert!(matches!(error, MonitoringError::Duplicate { .. }), "{error}");
    }
}
