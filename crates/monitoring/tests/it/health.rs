//! Health: timeouts, concurrency, aggregation, the reusable checks, the status gauge — on tokio's
//! paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use finstage_monitoring::health::{FnCheck, Freshness, Threshold};
use finstage_monitoring::{
    CheckOptions, CheckResult, Clock, HealthRegistry, ManualClock, MonitoringError, Status, catalog,
};
use tokio::time::Instant;

use crate::support::{self, value};

/// A check that answers `result` at once.
fn fixed(name: &str, result: CheckResult) -> FnCheck<impl Fn() -> std::future::Ready<CheckResult> + use<>> {
    FnCheck::new(name.to_owned(), move || std::future::ready(result.clone()))
}

#[tokio::test(start_paused = true)]
async fn a_hung_check_is_down_at_its_own_timeout_and_does_not_hang_readiness() {
    support::metrics();
    let health = HealthRegistry::new();
    health
        .register(
            FnCheck::new("it-hung.database", || async {
                std::future::pending::<CheckResult>().await
            }),
            CheckOptions::critical(Duration::from_secs(2)),
        )
        .unwrap();
    health
        .register(
            FnCheck::new("it-hung.cache", || async { CheckResult::ok("pong") }),
            CheckOptions::non_critical(Duration::from_secs(30)),
        )
        .unwrap();

    let started = Instant::now();
    let report = health.readiness().await;
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "readiness returns at the hung check's timeout"
    );

    assert_eq!(report.status, Status::Down);
    assert_eq!(report.http_status(), 503);
    let database = &report.checks[0];
    assert_eq!(database.name, "it-hung.database");
    assert_eq!(database.status, Status::Down);
    assert_eq!(database.detail, "timed out after 2s");
    assert_eq!(database.duration_ms, 2000.0);
    assert_eq!(report.checks[1].status, Status::Ok);
    assert_eq!(report.checks[1].duration_ms, 0.0);

    assert_eq!(
        value(catalog::HEALTH_STATUS.name, &[("check", "it-hung.database")]),
        2.0
    );
    assert_eq!(value(catalog::HEALTH_STATUS.name, &[("check", "it-hung.cache")]), 0.0);
}

#[tokio::test(start_paused = true)]
async fn checks_run_concurrently_so_readiness_takes_the_longest_not_the_sum() {
    let health = HealthRegistry::new();
    for secs in [1, 3, 2] {
        let name = format!("it-concurrent.check{secs}");
        let check = FnCheck::new(name, move || async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            CheckResult::ok(format!("{secs}s"))
        });
        health
            .register(check, CheckOptions::critical(Duration::from_secs(10)))
            .unwrap();
    }
    let started = Instant::now();
    let report = health.readiness().await;
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(report.status, Status::Ok);
    // Registration order, each with its own duration.
    let seen: Vec<(&str, f64)> = report.checks.iter().map(|c| (c.name.as_str(), c.duration_ms)).collect();
    assert_eq!(
        seen,
        [
            ("it-concurrent.check1", 1000.0),
            ("it-concurrent.check3", 3000.0),
            ("it-concurrent.check2", 2000.0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn aggregation_weighs_critical_and_non_critical_checks() {
    support::metrics();
    let cases = [
        // (critical result, non-critical result, aggregate)
        (Status::Ok, Status::Ok, Status::Ok),
        (Status::Ok, Status::Degraded, Status::Degraded),
        (Status::Ok, Status::Down, Status::Degraded),
        (Status::Degraded, Status::Ok, Status::Degraded),
        (Status::Down, Status::Ok, Status::Down),
    ];
    for (i, (critical, optional, expected)) in cases.into_iter().enumerate() {
        let health = HealthRegistry::new();
        let result = |status| CheckResult {
            status,
            detail: String::new(),
        };
        let critical_name = format!("it-agg{i}.database");
        let optional_name = format!("it-agg{i}.provider");
        health
            .register(
                fixed(&critical_name, result(critical)),
                CheckOptions::critical(Duration::from_secs(1)),
            )
            .unwrap();
        health
            .register(
                fixed(&optional_name, result(optional)),
                CheckOptions::non_critical(Duration::from_secs(1)),
            )
            .unwrap();
        let report = health.readiness().await;
        assert_eq!(report.status, expected, "case {i}");
        assert_eq!(report.http_status(), if expected == Status::Down { 503 } else { 200 });
        assert_eq!(
            value(catalog::HEALTH_STATUS.name, &[("check", &optional_name)]),
            optional.as_gauge()
        );
        // Liveness stays trivial whatever the checks say.
        let live = health.liveness();
        assert_eq!((live.status, live.checks.len()), (Status::Ok, 0));
    }
    // No checks: ready.
    assert_eq!(HealthRegistry::new().readiness().await.status, Status::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_check_is_down_and_the_others_still_report() {
    let health = HealthRegistry::new();
    health
        .register(
            FnCheck::new("it-panic.broken", || async { panic!("check bug") }),
            CheckOptions::non_critical(Duration::from_secs(1)),
        )
        .unwrap();
    health
        .register(
            FnCheck::new("it-panic.fine", || async { CheckResult::ok("") }),
            CheckOptions::default(),
        )
        .unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Degraded);
    assert_eq!(
        (report.checks[0].status, report.checks[0].detail.as_str()),
        (Status::Down, "check panicked")
    );
    assert_eq!(report.checks[1].status, Status::Ok);
}

#[tokio::test(start_paused = true)]
async fn freshness_and_threshold_checks_through_the_registry() {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000_000)));
    let last_success = Arc::new(AtomicU64::new(1_000_000));
    let backlog = Arc::new(AtomicU64::new(10));
    let health = HealthRegistry::new();
    let seen = Arc::clone(&last_success);
    let freshness = Freshness::new(
        "it-fresh.job.refresh",
        Duration::from_secs(120),
        Duration::from_secs(600),
        move || Some(UNIX_EPOCH + Duration::from_secs(seen.load(Ordering::SeqCst))),
    )
    .unwrap()
    .with_clock(clock.clone());
    health
        .register(freshness, CheckOptions::critical(Duration::from_secs(1)))
        .unwrap();
    let depth = Arc::clone(&backlog);
    let threshold = Threshold::new("it-fresh.tasks.backlog", 1_000.0, 10_000.0, move || {
        Some(depth.load(Ordering::SeqCst) as f64)
    })
    .unwrap();
    health
        .register(threshold, CheckOptions::non_critical(Duration::from_secs(1)))
        .unwrap();

    let statuses = |report: &finstage_monitoring::HealthReport| -> Vec<Status> {
        report.checks.iter().map(|c| c.status).collect()
    };
    let report = health.readiness().await;
    assert_eq!(
        (report.status, statuses(&report)),
        (Status::Ok, vec![Status::Ok, Status::Ok])
    );

    clock.advance(Duration::from_secs(300));
    backlog.store(5_000, Ordering::SeqCst);
    let report = health.readiness().await;
    assert_eq!(
        (report.status, statuses(&report)),
        (Status::Degraded, vec![Status::Degraded, Status::Degraded])
    );

    clock.advance(Duration::from_secs(301));
    backlog.store(20_000, Ordering::SeqCst);
    let report = health.readiness().await;
    assert_eq!(
        (report.status, statuses(&report)),
        (Status::Down, vec![Status::Down, Status::Down])
    );
    assert_eq!(
        report.checks[0].detail,
        "last success 601s ago (degraded after 120s, down after 600s)"
    );

    // The job succeeds again.
    last_success.store(
        clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
        Ordering::SeqCst,
    );
    backlog.store(0, Ordering::SeqCst);
    assert_eq!(health.readiness().await.status, Status::Ok);
}

#[test]
fn registration_refuses_bad_names_duplicates_and_zero_timeouts() {
    let health = HealthRegistry::new();
    let ok = || async { CheckResult::ok("") };
    health
        .register(FnCheck::new("it-reg.db", ok), CheckOptions::default())
        .unwrap();
    let duplicate = health.register(FnCheck::new("it-reg.db", ok), CheckOptions::default());
    assert!(
        matches!(duplicate, Err(MonitoringError::Duplicate { .. })),
        "{duplicate:?}"
    );
    let bad = health.register(FnCheck::new("Data Base", ok), CheckOptions::default());
    assert!(matches!(bad, Err(MonitoringError::InvalidName { .. })), "{bad:?}");
    let zero = health.register(FnCheck::new("it-reg.zero", ok), CheckOptions::critical(Duration::ZERO));
    assert!(matches!(zero, Err(MonitoringError::InvalidConfig { .. })), "{zero:?}");
    assert_eq!(health.names(), ["it-reg.db"]);
    // Clones share the checks.
    let clone = health.clone();
    clone
        .register(FnCheck::new("it-reg.cache", ok), CheckOptions::default())
        .unwrap();
    assert_eq!(health.names(), ["it-reg.db", "it-reg.cache"]);
}
