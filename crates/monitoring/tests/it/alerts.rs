//! Alert rules: cooldown, resolution, pending time, rate windows, job age, the recorder as a
//! source — on tokio's paused clock.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use finstage_monitoring::alerts::{Condition, LabelMatch, Selector, SharedValues};
use finstage_monitoring::{AlertEngine, AlertEvent, AlertRule, AlertState, Clock, ManualClock, Severity, catalog};
use tokio::sync::mpsc;
use tokio::time::{Instant, advance, timeout};

use crate::support::{self, value};

const RSS: &str = "process_resident_memory_bytes";

fn engine(rules: Vec<AlertRule>, values: &SharedValues) -> (AlertEngine, mpsc::Receiver<AlertEvent>) {
    let (sink, events) = mpsc::channel(64);
    let engine = AlertEngine::new(rules, Arc::new(values.clone()), sink).unwrap();
    (engine, events)
}

fn states(events: &[AlertEvent]) -> Vec<AlertState> {
    events.iter().map(|e| e.state).collect()
}

#[tokio::test(start_paused = true)]
async fn a_rule_that_stays_firing_emits_once_per_cooldown_then_resolves() {
    let values = SharedValues::new();
    values.set(RSS, &[], 900e6);
    let rule = AlertRule::memory_above(800_000_000).with_cooldown(Duration::from_secs(600));
    let (engine, mut events) = engine(vec![rule], &values);
    let started = Instant::now();
    let _task = engine.spawn(Duration::from_secs(60)).unwrap();

    let first = events.recv().await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(
        (first.rule.as_str(), first.severity, first.state, first.value),
        ("memory_high", Severity::Critical, AlertState::Firing, 900e6)
    );
    assert!(first.message.contains(RSS), "{}", first.message);

    // Nine more evaluations that hold: nothing during the cooldown...
    assert!(timeout(Duration::from_secs(599), events.recv()).await.is_err());
    // ...and a reminder when it has passed.
    let reminder = events.recv().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(600));
    assert_eq!(reminder.state, AlertState::Firing);

    values.set(RSS, &[], 100e6);
    let resolved = events.recv().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(660));
    assert_eq!((resolved.state, resolved.value), (AlertState::Resolved, 100e6));
    assert!(resolved.message.starts_with("resolved: "), "{}", resolved.message);

    // Quiet while it holds no more.
    assert!(timeout(Duration::from_secs(3600), events.recv()).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn flapping_within_the_cooldown_is_not_emitted_again() {
    let values = SharedValues::new();
    let rule = AlertRule::memory_above(1000).with_cooldown(Duration::from_secs(600));
    let (mut engine, _events) = engine(vec![rule], &values);
    let started = Instant::now();
    let mut seen = Vec::new();
    for (minute, rss) in [
        (0, 2000.0),
        (1, 10.0),
        (2, 2000.0),
        (3, 10.0),
        (4, 2000.0),
        (10, 2000.0),
        (11, 10.0),
    ] {
        advance(Duration::from_secs(minute * 60) - started.elapsed()).await;
        values.set(RSS, &[], rss);
        seen.push((minute, states(&engine.evaluate())));
    }
    use AlertState::*;
    assert_eq!(
        seen,
        [
            (0, vec![Firing]),
            (1, vec![Resolved]),
            (2, vec![]), // fires again within 10 minutes of the last firing: suppressed
            (3, vec![]), // nothing to resolve
            (4, vec![]),
            (10, vec![Firing]), // the cooldown has passed and it still holds
            (11, vec![Resolved]),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rule_with_a_pending_time_fires_only_after_holding_that_long() {
    support::metrics();
    let values = SharedValues::new();
    let rule = AlertRule::new(
        "it-alerts.pending",
        Condition::Above {
            selector: Selector::new("finstage_it_alerts_backlog"),
            threshold: 100.0,
        },
    )
    .unwrap()
    .with_pending_for(Duration::from_secs(120));
    let (mut engine, _events) = engine(vec![rule], &values);
    let active = || value(catalog::ALERT_ACTIVE.name, &[("rule", "it-alerts.pending")]);
    let mut seen = Vec::new();
    for backlog in [500.0, 500.0, 50.0, 500.0, 500.0, 500.0] {
        values.set("finstage_it_alerts_backlog", &[], backlog);
        seen.push(states(&engine.evaluate()));
        assert_eq!(
            active(),
            if seen.last() == Some(&vec![AlertState::Firing]) {
                1.0
            } else {
                0.0
            }
        );
        advance(Duration::from_secs(60)).await;
    }
    // Held 0 s, 60 s, cleared (the pending time restarts), 0 s, 60 s, 120 s: fires.
    assert_eq!(seen, [vec![], vec![], vec![], vec![], vec![], vec![AlertState::Firing]]);
    assert_eq!(
        value(
            catalog::ALERTS_FIRED_TOTAL.name,
            &[("rule", "it-alerts.pending"), ("severity", "warning")]
        ),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_rate_is_computed_over_the_window_not_since_start() {
    const TOTAL: &str = "finstage_http_requests_total";
    let values = SharedValues::new();
    let ok = [("method", "GET"), ("route", "/v1/quotes/{symbol}"), ("status", "200")];
    let failed = [("method", "GET"), ("route", "/v1/quotes/{symbol}"), ("status", "503")];
    values.set(TOTAL, &ok, 1000.0);
    values.set(TOTAL, &failed, 0.0);
    let rule = AlertRule::http_error_rate_above(0.10, Duration::from_secs(300)).unwrap();
    let (mut engine, _events) = engine(vec![rule], &values);

    let mut seen = Vec::new();
    for minute in 0..=7 {
        if minute == 1 {
            // A burst: 100 of 200 requests fail (8 % of all requests since start).
            values.add(TOTAL, &ok, 100.0);
            values.add(TOTAL, &failed, 100.0);
        } else if minute > 1 {
            values.add(TOTAL, &ok, 100.0);
        }
        let events = engine.evaluate();
        seen.push((
            minute,
            events.first().map(|e| (e.state, (e.value * 1000.0).round() / 1000.0)),
        ));
        advance(Duration::from_secs(60)).await;
    }
    use AlertState::*;
    assert_eq!(
        seen,
        [
            (0, None),                // one sample: no rate yet
            (1, Some((Firing, 0.5))), // 100 / 200 in the last minute
            (2, None),                // 100 / 300: still firing, within the cooldown
            (3, None),
            (4, None),
            (5, None),                  // base 0 min: 100 / 600 = 16.7 %
            (6, Some((Resolved, 0.0))), // base 1 min: the burst left the window
            (7, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn too_few_requests_never_fire_a_rate() {
    let values = SharedValues::new();
    let failed = [("provider", "yahoo"), ("endpoint", "chart"), ("status", "503")];
    let rule = AlertRule::upstream_failure_rate_above(0.5, Duration::from_secs(300)).unwrap();
    let (mut engine, _events) = engine(vec![rule], &values);
    values.set(catalog::UPSTREAM_REQUESTS_TOTAL.name, &failed, 0.0);
    assert!(engine.evaluate().is_empty());
    advance(Duration::from_secs(60)).await;
    values.add(catalog::UPSTREAM_REQUESTS_TOTAL.name, &failed, 9.0);
    assert!(
        engine.evaluate().is_empty(),
        "9 failures of 9 are below the 10-request minimum"
    );
    advance(Duration::from_secs(60)).await;
    values.add(catalog::UPSTREAM_REQUESTS_TOTAL.name, &failed, 1.0);
    assert_eq!(states(&engine.evaluate()), [AlertState::Firing]);
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_last_success_is_too_old_fires_naming_the_job() {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(2_000_000_000)));
    let now = clock.unix_seconds();
    let values = SharedValues::new();
    let name = catalog::JOB_LAST_SUCCESS_TIMESTAMP_SECONDS.name;
    values.set(name, &[("job_name", "refresh_quotes")], now - 100.0);
    values.set(name, &[("job_name", "backfill")], now - 50.0);
    let rule = AlertRule::stale_job(Duration::from_secs(3600)).unwrap();
    let (engine, _events) = engine(vec![rule], &values);
    let mut engine = engine.with_clock(clock.clone());
    assert!(engine.evaluate().is_empty());
    clock.advance(Duration::from_secs(3550));
    let events = engine.evaluate();
    assert_eq!(states(&events), [AlertState::Firing]);
    assert_eq!(events[0].value, 3650.0);
    assert!(
        events[0].message.contains(r#"job_name="refresh_quotes""#),
        "{}",
        events[0].message
    );
    assert_eq!(events[0].at, clock.now());
    values.set(name, &[("job_name", "refresh_quotes")], clock.unix_seconds());
    assert_eq!(states(&engine.evaluate()), [AlertState::Resolved]);
}

#[tokio::test(start_paused = true)]
async fn rules_read_the_installed_recorder() {
    let metrics = support::metrics();
    let requests = |status: &'static str| metrics::counter!(catalog::UPSTREAM_REQUESTS_TOTAL.name, "provider" => "it-alerts", "endpoint" => "chart", "status" => status);
    requests("200").increment(100);
    let total = Selector::new(catalog::UPSTREAM_REQUESTS_TOTAL.name).eq("provider", "it-alerts");
    let rule = AlertRule::new(
        "it-alerts.recorder",
        Condition::RatioAbove {
            numerator: total.clone().with("status", LabelMatch::NoneOf(vec!["200".into()])),
            denominator: total,
            window: Duration::from_secs(300),
            threshold: 0.2,
            min_events: 10.0,
        },
    )
    .unwrap();
    let (sink, mut events) = mpsc::channel(4);
    let mut engine = AlertEngine::new(vec![rule], Arc::new(metrics), sink).unwrap();
    assert!(engine.evaluate().is_empty());
    advance(Duration::from_secs(30)).await;
    requests("200").increment(10);
    requests("429").increment(5);
    requests("timeout").increment(5);
    let fired = engine.evaluate();
    assert_eq!(states(&fired), [AlertState::Firing]);
    assert_eq!(fired[0].value, 0.5);
    assert_eq!(events.recv().await.unwrap(), fired[0]);
}

#[tokio::test(start_paused = true)]
async fn events_that_do_not_fit_the_channel_are_counted_not_waited_for() {
    support::metrics();
    // Registered by the first engine: absent before.
    let before = support::snapshot()
        .get(catalog::ALERTS_DROPPED_TOTAL.name, &[])
        .unwrap_or(0.0);
    let values = SharedValues::new();
    values.set(RSS, &[], 5000.0);
    let rules = vec![
        AlertRule::memory_above(1000).renamed("it-alerts.drop-a").unwrap(),
        AlertRule::memory_above(2000).renamed("it-alerts.drop-b").unwrap(),
    ];
    let (sink, mut events) = mpsc::channel(1);
    let mut engine = AlertEngine::new(rules, Arc::new(values), sink).unwrap();
    assert_eq!(engine.evaluate().len(), 2);
    assert_eq!(events.recv().await.unwrap().rule, "it-alerts.drop-a");
    assert!(events.try_recv().is_err());
    assert_eq!(value(catalog::ALERTS_DROPPED_TOTAL.name, &[]), before + 1.0);
}

#[tokio::test(start_paused = true)]
async fn the_engine_stops_when_nobody_listens() {
    let values = SharedValues::new();
    let (engine, events) = engine(vec![AlertRule::memory_above(1)], &values);
    let task = engine.spawn(Duration::from_secs(10)).unwrap();
    drop(events);
    // The next tick sees the closed channel and ends the task.
    let started = Instant::now();
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            started.elapsed() <= Duration::from_secs(20),
            "the engine is still running"
        );
    }
}
