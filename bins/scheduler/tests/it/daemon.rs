//! Two `finstage-scheduler run` daemons on one PostgreSQL database: every slot of the quote
//! poll (every second here) is enqueued once, however the two race, and both stop cleanly on
//! SIGTERM.

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use finstage_store::{Backend, TaskFilter, TaskPageRequest};
use finstage_test_support::db::TestDb;
use finstage_test_support::{MockYahoo, fixtures};

use crate::{database, scheduler};

fn terminate(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_never_fire_one_slot_twice() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::seed_bars("AAPL"));
    let db = TestDb::new(Backend::Postgres, "finstage_scheduler");
    let vars = [
        database(db.url()),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "AAPL".to_owned()),
        ("FINSTAGE_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("FINSTAGE_SCHEDULER__QUOTE_POLL_INTERVAL", "1s".to_owned()),
    ];
    let mut daemons: Vec<Child> = (0..2)
        .map(|_| {
            scheduler(&vars)
                .arg("run")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();

    // Wait for six polls (a condition on the queue, with a deadline).
    let store = db.store().await;
    let filter = TaskFilter {
        kind: Some("quote_poll".to_owned()),
        ..TaskFilter::default()
    };
    let page = TaskPageRequest {
        limit: 1_000,
        after: None,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let tasks = loop {
        let tasks = store.tasks().list(&filter, page).await.unwrap().items;
        if tasks.len() >= 6 {
            break tasks;
        }
        for daemon in &mut daemons {
            assert!(daemon.try_wait().unwrap().is_none(), "a daemon exited early");
        }
        assert!(Instant::now() < deadline, "only {} polls after 60 s", tasks.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Both still running when the slots fired.
    for daemon in &mut daemons {
        assert!(daemon.try_wait().unwrap().is_none(), "a daemon exited early");
    }
    // One task per slot: a second's slot enqueued twice would show as two tasks created in
    // that second.
    let seconds: HashSet<i64> = tasks.iter().map(|t| t.created_at.timestamp()).collect();
    assert_eq!(
        seconds.len(),
        tasks.len(),
        "{:?}",
        tasks.iter().map(|t| t.created_at).collect::<Vec<_>>()
    );

    for daemon in &daemons {
        terminate(daemon);
    }
    for mut daemon in daemons {
        let status = daemon.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}
