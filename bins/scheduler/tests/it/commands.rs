//! The operator's commands: `--help`, `migrate`, `import`, `backfill`, `once`, and bad input
//! refused with a message and a non-zero exit code.

use finstage_domain::Symbol;
use finstage_store::Backend;
use finstage_test_support::db::TestDb;
use finstage_test_support::{MockYahoo, fixtures};

use crate::{database, scheduler, text};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

#[test]
fn every_command_has_help() {
    for command in [&[][..], &["run"], &["once"], &["backfill"], &["import"], &["migrate"]] {
        let output = scheduler(&[]).args(command).arg("--help").output().unwrap();
        assert!(output.status.success(), "{command:?}: {}", text(&output));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage:"), "{command:?}: {help}");
    }
    let backfill = scheduler(&[]).args(["backfill", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&backfill.stdout);
    assert!(help.contains("--symbols") && help.contains("--years"), "{help}");
    // A command that does not exist is a usage error.
    let output = scheduler(&[]).arg("frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn bad_configuration_stops_with_the_key_named() {
    let output = scheduler(&[("FINSTAGE_SCHEDULER__CONCURRENCY", "lots".into())])
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("scheduler.concurrency"),
        "{}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_import_keeps_good_files_and_nothing_of_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("var/finstage.db").display());
    std::fs::create_dir_all(dir.path().join("var")).unwrap();
    let db = [("FINSTAGE_DATABASE_URL", url.clone())];
    let output = scheduler(&db).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{}", text(&output));

    let good = dir.path().join("IBM.csv");
    std::fs::copy(fixtures::seed_csv_path("IBM"), &good).unwrap();
    let bad = dir.path().join("BAD.csv");
    std::fs::write(
        &bad,
        "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,oops,0.5,1.5,100\n",
    )
    .unwrap();
    let output = scheduler(&db).arg("import").arg(&good).arg(&bad).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BAD.csv:3") && stderr.contains("\"oops\""),
        "{}",
        text(&output)
    );

    let store = finstage_store::Store::connect(finstage_store::StoreConfig::new(url.parse().unwrap()))
        .await
        .unwrap();
    let ibm = fixtures::seed_bars("IBM");
    assert_eq!(store.daily_bars().count(&sym("IBM")).await.unwrap(), ibm.len() as u64);
    assert_eq!(
        store.daily_bars().count(&sym("BAD")).await.unwrap(),
        0,
        "nothing of the bad file"
    );
    // The imported history is analysed as a fetched one would be: its high, its newest
    // session, its signals (stored once: importing the file again adds none).
    let best = ibm.iter().map(finstage_domain::Bar::high).fold(f64::MIN, f64::max);
    let high = store.highs().get(&sym("IBM")).await.unwrap().expect("an all-time high");
    assert!((high.high - best).abs() < 1e-9, "{} vs {best}", high.high);
    let snapshot = store
        .snapshots()
        .latest(&sym("IBM"))
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snapshot.previous_close, ibm.last().unwrap().close());
    let signals = || async {
        store
            .signals()
            .list(
                &finstage_store::SignalFilter {
                    symbol: Some(sym("IBM")),
                    ..finstage_store::SignalFilter::default()
                },
                finstage_store::PageRequest {
                    limit: 1_000,
                    after: None,
                },
            )
            .await
            .unwrap()
            .items
    };
    let first = signals().await;
    assert!(first.len() > 100, "ten years of IBM fire signals: {}", first.len());
    let output = scheduler(&db).arg("import").arg(&good).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let again = signals().await;
    assert_eq!(
        again.iter().map(|s| s.id).collect::<Vec<_>>(),
        first.iter().map(|s| s.id).collect::<Vec<_>>(),
        "a second import stores no signal twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fetches_history_and_once_runs_a_job() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol(
        "NVDA",
        fixtures::synthetic_daily_bars(chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(), 400, 3),
    );
    let db = TestDb::new(Backend::Postgres, "finstage_scheduler");
    let vars = [
        database(db.url()),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "NVDA".to_owned()),
    ];
    let output = scheduler(&vars)
        .args(["backfill", "--symbols", "NVDA,GONE", "--years", "5"])
        .output()
        .unwrap();
    // GONE is unknown upstream: the command fails naming it, NVDA is stored all the same.
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 of 2 symbols failed: GONE"), "{}", text(&output));
    // Not a terminal: a log line per symbol, no progress bar.
    assert!(stderr.contains("backfilled"), "{}", text(&output));
    let store = db.store().await;
    assert_eq!(store.daily_bars().count(&sym("NVDA")).await.unwrap(), 400);

    // One job now: its report on standard output, as JSON.
    let output = scheduler(&vars).args(["once", "outcomes"]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["job"], "outcomes", "{report}");
    let output = scheduler(&vars)
        .args(["once", "daily_update", "--payload", r#"{"symbols":["NVDA"]}"#])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["symbols"], 1, "{report}");

    // Unknown jobs and bad payloads are refused.
    let output = scheduler(&vars).args(["once", "nope"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("quote_poll"),
        "{}",
        text(&output)
    );
    let output = scheduler(&vars)
        .args(["once", "backfill", "--payload", r#"{"symbol":5}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let output = scheduler(&vars)
        .args(["backfill", "--symbols", "NVDA", "--years", "99"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--years"),
        "{}",
        text(&output)
    );
}
