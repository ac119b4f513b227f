//! Retention: the prunes of intraday bars, the notification and slow-statement logs and
//! finished tasks delete what is older than the cut-off and nothing else.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use finstage_domain::{Bar, Interval, Symbol};
use finstage_store::{Backend, NewTask, NotificationStatus, TaskState};

use crate::support::{TestDb, backend_tests};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).unwrap() + TimeDelta::minutes(minutes)
}

async fn rows(db: &TestDb, table: &str) -> u64 {
    db.store.conn().await.unwrap().count_rows(table).await.unwrap()
}

async fn intraday_bars_before_the_cut_off_go(backend: Backend) {
    let db = TestDb::new(backend).await;
    let aapl = Symbol::parse("AAPL").unwrap();
    let bars: Vec<Bar> = (0..10)
        .map(|n| Bar::new(at(n), 10.0, 11.0, 9.0, 10.5, 100).unwrap())
        .collect();
    db.store
        .intraday_bars()
        .upsert(&aapl, Interval::M1, &bars)
        .await
        .unwrap();
    db.store
        .intraday_bars()
        .upsert(&aapl, Interval::M5, &bars[..2])
        .await
        .unwrap();

    assert_eq!(
        db.store.intraday_bars().prune(at(0)).await.unwrap(),
        0,
        "nothing before the first"
    );
    // Bars 0..4 of 1m and 0..1 of 5m start before minute 4.
    assert_eq!(db.store.intraday_bars().prune(at(4)).await.unwrap(), 6);
    let left = db
        .store
        .intraday_bars()
        .range(&aapl, Interval::M1, at(0), at(100))
        .await
        .unwrap();
    assert_eq!(left, bars[4..]);
    assert_eq!(rows(&db, "intraday_bars").await, 6);
}

async fn log_entries_before_the_cut_off_go(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.store
        .notifications()
        .insert("telegram", NotificationStatus::Sent, 1, None)
        .await
        .unwrap();
    db.store.slow_queries().record("bars.range", 250.0).await.unwrap();
    // The log stamps its rows with the database's clock: an hour ago nothing was written yet.
    let hour_ago = Utc::now() - TimeDelta::hours(1);
    assert_eq!(db.store.notifications().prune(hour_ago).await.unwrap(), 0);
    assert_eq!(db.store.slow_queries().prune(hour_ago).await.unwrap(), 0);
    assert_eq!(
        (rows(&db, "notification_log").await, rows(&db, "slow_queries").await),
        (1, 1)
    );
    let in_an_hour = Utc::now() + TimeDelta::hours(1);
    assert_eq!(db.store.notifications().prune(in_an_hour).await.unwrap(), 1);
    assert_eq!(db.store.slow_queries().prune(in_an_hour).await.unwrap(), 1);
    assert_eq!(
        (rows(&db, "notification_log").await, rows(&db, "slow_queries").await),
        (0, 0)
    );
}

async fn only_finished_tasks_before_the_cut_off_go(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let lease = Duration::from_secs(30);
    let mut ids = Vec::new();
    for kind in ["done", "cancelled", "running", "pending", "late"] {
        ids.push(tasks().enqueue(&NewTask::new(kind, "{}"), at(0)).await.unwrap().id);
    }
    // `done` succeeds at minute 1, `late` at minute 20; `cancelled` is cancelled while pending;
    // `running` is claimed and left running.
    let claimed = tasks().claim("w", &["done"], 1, lease, at(1)).await.unwrap();
    tasks()
        .complete(claimed[0].task.id, "w", Some("{}"), at(1))
        .await
        .unwrap();
    tasks().cancel(ids[1], at(2)).await.unwrap();
    tasks().claim("w", &["running"], 1, lease, at(3)).await.unwrap();
    let late = tasks().claim("w", &["late"], 1, lease, at(20)).await.unwrap();
    tasks().complete(late[0].task.id, "w", None, at(20)).await.unwrap();
    assert_eq!(rows(&db, "task_attempts").await, 3);

    // Everything old enough, but only finished tasks go, with their attempts.
    assert_eq!(tasks().prune_finished(at(10)).await.unwrap(), 2);
    let mut left = Vec::new();
    for id in &ids {
        if let Some(task) = tasks().get(*id).await.unwrap() {
            left.push((task.kind, task.state));
        }
    }
    assert_eq!(
        left,
        [
            ("running".to_owned(), TaskState::Running),
            ("pending".to_owned(), TaskState::Pending),
            ("late".to_owned(), TaskState::Succeeded),
        ]
    );
    assert_eq!(
        rows(&db, "task_attempts").await,
        2,
        "the pruned task's attempt went with it"
    );
}

backend_tests!(
    intraday_bars_before_the_cut_off_go,
    log_entries_before_the_cut_off_go,
    only_finished_tasks_before_the_cut_off_go,
);
