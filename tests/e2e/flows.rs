//! The flows an operator relies on, across real processes, each on PostgreSQL and on SQLite:
//! - a backfill by the scheduler is served by the API;
//! - a quote polled by the scheduler reaches a WebSocket client of another process, through Redis;
//! - a golden cross in fetched history is stored and alerted to Telegram once, and not again when
//!   the job runs again after a restart; in replayed time (`scheduler.clock_start`), its outcome
//!   fills in once its horizons have passed;
//! - a scheduler killed with SIGKILL mid-backfill: after a restart the task is re-delivered and
//!   completes, nothing written twice.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use finstage_analysis::{RulesConfig, SignalKind, Timeframe, detect};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_store::{Backend, NewTask, Store, TaskState};
use finstage_test_support::db::TestDb;
use finstage_test_support::{MockTelegram, MockYahoo, fixtures};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Process, command, text};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The database of a test, as the processes' environment names it.
fn database(db: &TestDb) -> (&'static str, String) {
    let url = match db.url().sqlite_path() {
        Some(path) => format!("sqlite://{}", path.display()),
        None => db.url().expose_secret().to_owned(),
    };
    ("FINSTAGE_DATABASE_URL", url)
}

async fn backfill_is_served_by_the_api(backend: Backend) {
    let yahoo = MockYahoo::start().await;
    let bars = fixtures::synthetic_daily_bars(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(), 400, 11);
    yahoo.add_symbol("NVDA", bars.clone());
    let db = TestDb::new(backend, "finstage_e2e");
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        database(&db),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "AAPL".to_owned()),
        ("FINSTAGE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("FINSTAGE_EMBEDDED_JOBS", "false".to_owned()),
    ];
    let output = command("finstage-scheduler", dir.path(), &vars)
        .args(["backfill", "--symbols", "NVDA", "--years", "5"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));

    let mut api = Process::start(command("finstage-api", dir.path(), &vars), dir.path().join("api.log"));
    let port = api.api_port().await;
    let body = client()
        .get(format!("http://127.0.0.1:{port}/v1/symbols/NVDA/history?limit=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_str(&body.text().await.unwrap()).unwrap();
    let served = body["bars"].as_array().unwrap();
    assert_eq!(served.len(), bars.len());
    assert_eq!(
        served.last().unwrap()["close"].as_f64(),
        Some(bars.last().unwrap().close())
    );
    assert!(api.terminate().success());
}

async fn next_text(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("a frame within 60 s")
            .expect("the stream is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn a_polled_quote_reaches_a_websocket_client_of_another_process(backend: Backend) {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::seed_bars("AAPL"));
    let db = TestDb::new(backend, "finstage_e2e");
    let dir = tempfile::tempdir().unwrap();
    // Its own namespace: the same flow on the other backend runs at the same time.
    let namespace = format!("e2e{}{}", std::process::id(), backend.name());
    let vars = vec![
        database(&db),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "AAPL".to_owned()),
        ("FINSTAGE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("FINSTAGE_EMBEDDED_JOBS", "false".to_owned()),
        (
            "FINSTAGE_REDIS_URL",
            std::env::var("FINSTAGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
        ),
        ("FINSTAGE_CACHE__REDIS__NAMESPACE", namespace),
    ];
    let mut api = Process::start(command("finstage-api", dir.path(), &vars), dir.path().join("api.log"));
    let port = api.api_port().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/v1/stream"))
        .await
        .unwrap();
    ws.send(Message::text(r#"{"op":"subscribe","channels":["quotes:AAPL"]}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "subscribed");
    assert_eq!(next_text(&mut ws).await["type"], "snapshot");

    // The scheduler polls (forced: the market may be closed now) in its own process.
    let output = command("finstage-scheduler", dir.path(), &vars)
        .args(["once", "quote_poll", "--payload", r#"{"force":true}"#])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let frame = next_text(&mut ws).await;
    assert_eq!(frame["type"], "quote", "{frame}");
    assert_eq!(frame["channel"], "quotes:AAPL");
    let close = fixtures::seed_bars("AAPL").last().unwrap().close();
    assert_eq!(frame["data"]["price"].as_f64(), Some(close), "{frame}");
    assert!(api.terminate().success());
}

/// Daily bars whose last one (dated today) is the first golden cross of SMA 50 over SMA 200: a
/// long decline, then a rise until the averages cross.
fn golden_cross_series() -> Vec<Bar> {
    let today = Utc::now().date_naive();
    let closes: Vec<f64> = (0..400)
        .map(|i| {
            if i < 250 {
                200.0 - 0.4 * f64::from(i)
            } else {
                100.0 + 1.5 * f64::from(i - 250)
            }
        })
        .collect();
    let make = |closes: &[f64]| -> Vec<Bar> {
        let n = closes.len();
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let date = today - TimeDelta::days((n - 1 - i) as i64);
                let open = if i == 0 { c } else { closes[i - 1] };
                Bar::new(date, open, open.max(c) + 0.5, open.min(c) - 0.5, c, 1_000_000).unwrap()
            })
            .collect()
    };
    let all = make(&closes);
    let signals = detect(
        &RulesConfig::default(),
        sym("GCX"),
        Category::Stock,
        Timeframe::DAILY,
        &all,
    )
    .unwrap();
    let cross = signals
        .iter()
        .find(|s| s.kind == SignalKind::GoldenCross { fast: 50, slow: 200 })
        .expect("the series crosses");
    let at = all.iter().position(|b| b.time() == cross.time).unwrap();
    make(&closes[..=at])
}

async fn a_golden_cross_is_stored_and_alerted_once_across_runs(backend: Backend) {
    let yahoo = MockYahoo::start().await;
    let bars = golden_cross_series();
    yahoo.add_symbol("GCX", bars.clone());
    let telegram = MockTelegram::start("123456:e2e-token").await;
    let db = TestDb::new(backend, "finstage_e2e");
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        database(&db),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "GCX".to_owned()),
        ("FINSTAGE_TELEGRAM_BOT_TOKEN", telegram.token().to_owned()),
        ("FINSTAGE_TELEGRAM_CHAT_ID", "-100123".to_owned()),
        ("FINSTAGE_TELEGRAM_API_URL", telegram.api_url()),
    ];
    let title = "Golden cross (SMA 50 over SMA 200)";
    let crosses = || telegram.plain_texts().iter().filter(|t| t.contains(title)).count();
    for run in 0..2 {
        // Each run is a new process: the second one is the restart.
        let output = command("finstage-scheduler", dir.path(), &vars)
            .args(["once", "daily_update", "--payload", r#"{"symbols":["GCX"]}"#])
            .output()
            .unwrap();
        assert!(output.status.success(), "run {run}: {}", text(&output));
        assert_eq!(crosses(), 1, "run {run}: {:?}", telegram.plain_texts());
    }
    let store = db.store().await;
    let page = store
        .signals()
        .list(
            &finstage_store::SignalFilter {
                symbol: Some(sym("GCX")),
                kind: Some("golden_cross".to_owned()),
                ..finstage_store::SignalFilter::default()
            },
            finstage_store::PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "stored once");
    assert_eq!(page.items[0].triggered_at.date_naive(), Utc::now().date_naive());
    // Its outcome is pending: no bar after it yet.
    assert!(
        store
            .outcomes()
            .get(page.items[0].id)
            .await
            .unwrap()
            .is_none_or(|o| !o.completed)
    );
    assert_eq!(store.daily_bars().count(&sym("GCX")).await.unwrap(), bars.len() as u64);
}

/// Closes that fall for 250 bars, then rise: SMA 50 crosses over SMA 200 on the way up.
fn decline_then_rise(count: u32) -> Vec<f64> {
    (0..count)
        .map(|i| {
            if i < 250 {
                200.0 - 0.4 * f64::from(i)
            } else {
                100.0 + 1.5 * f64::from(i - 250)
            }
        })
        .collect()
}

/// Bars of `closes` on consecutive weekdays, bar `anchor` dated `anchor_day`.
fn weekday_bars(closes: &[f64], anchor: usize, anchor_day: NaiveDate) -> Vec<Bar> {
    let is_weekday = |d: &NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let mut first = anchor_day;
    for _ in 0..anchor {
        first = first.pred_opt().unwrap();
        while !is_weekday(&first) {
            first = first.pred_opt().unwrap();
        }
    }
    let days = first.iter_days().filter(is_weekday);
    closes
        .iter()
        .zip(days)
        .enumerate()
        .map(|(i, (&c, day))| {
            let open = if i == 0 { c } else { closes[i - 1] };
            Bar::new(day, open, open.max(c) + 0.5, open.min(c) - 0.5, c, 1_000_000).unwrap()
        })
        .collect()
}

fn day_of(time: BarTime) -> NaiveDate {
    match time {
        BarTime::Date(d) => d,
        BarTime::Timestamp(t) => t.date_naive(),
    }
}

async fn in_replayed_time_a_golden_cross_is_alerted_once_and_its_outcome_fills_in_after_its_horizon(backend: Backend) {
    // Where the cross falls does not depend on the dates: find it on any weekdays.
    let closes = decline_then_rise(450);
    let probe = weekday_bars(&closes, 0, NaiveDate::from_ymd_opt(2020, 1, 6).unwrap());
    let signals = detect(
        &RulesConfig::default(),
        sym("GCR"),
        Category::Stock,
        Timeframe::DAILY,
        &probe,
    )
    .unwrap();
    let cross = signals
        .iter()
        .find(|s| s.kind == SignalKind::GoldenCross { fast: 50, slow: 200 })
        .expect("the series crosses");
    let at = probe.iter().position(|b| b.time() == cross.time).unwrap();
    // The cross on a Friday ten weeks ago; bars continue after it.
    let today = Utc::now().date_naive();
    let friday =
        today - TimeDelta::days(i64::from((today.weekday().num_days_from_monday() + 3) % 7)) - TimeDelta::weeks(10);
    assert_eq!(friday.weekday(), Weekday::Fri);
    let bars = weekday_bars(&closes, at, friday);
    assert_eq!(day_of(bars[at].time()), friday);
    assert!(bars.len() > at + 30, "a month of bars after the cross");

    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("GCR", bars.clone());
    let telegram = MockTelegram::start("123456:e2e-replay").await;
    let db = TestDb::new(backend, "finstage_e2e");
    let dir = tempfile::tempdir().unwrap();
    let vars = |clock: DateTime<Utc>| {
        vec![
            database(&db),
            ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
            ("FINSTAGE_WATCHLIST", "GCR".to_owned()),
            ("FINSTAGE_TELEGRAM_BOT_TOKEN", telegram.token().to_owned()),
            ("FINSTAGE_TELEGRAM_CHAT_ID", "-100123".to_owned()),
            ("FINSTAGE_TELEGRAM_API_URL", telegram.api_url()),
            ("FINSTAGE_SCHEDULER__CLOCK_START", clock.to_rfc3339()),
        ]
    };
    let once = |clock: DateTime<Utc>, job: &str, payload: &str| {
        let output = command("finstage-scheduler", dir.path(), &vars(clock))
            .args(["once", job, "--payload", payload])
            .output()
            .unwrap();
        assert!(output.status.success(), "{job} at {clock}: {}", text(&output));
    };
    let title = "Golden cross (SMA 50 over SMA 200)";
    let crosses = || telegram.plain_texts().iter().filter(|t| t.contains(title)).count();
    let update = r#"{"symbols":["GCR"]}"#;

    // The evening of the cross, twice (the second process is the restart).
    let evening = friday.and_hms_opt(22, 0, 0).unwrap().and_utc();
    for run in 0..2 {
        once(evening, "daily_update", update);
        assert_eq!(crosses(), 1, "run {run}: {:?}", telegram.plain_texts());
    }
    let store = db.store().await;
    assert_eq!(
        store.daily_bars().count(&sym("GCR")).await.unwrap(),
        at as u64 + 1,
        "nothing after the replayed clock"
    );
    let filter = finstage_store::SignalFilter {
        symbol: Some(sym("GCR")),
        kind: Some("golden_cross".to_owned()),
        ..finstage_store::SignalFilter::default()
    };
    let page = |store: Store| {
        let filter = filter.clone();
        async move {
            store
                .signals()
                .list(&filter, finstage_store::PageRequest { limit: 10, after: None })
                .await
                .unwrap()
                .items
        }
    };
    let stored = page(store.clone()).await;
    assert_eq!(stored.len(), 1, "stored once");
    assert_eq!(stored[0].triggered_at.date_naive(), friday);
    once(evening, "outcomes", "{}");
    let pending = store.outcomes().get(stored[0].id).await.unwrap();
    assert!(
        pending.is_none_or(|o| !o.completed),
        "no bar after the cross yet: {pending:?}"
    );

    // Five weeks later: the update brings the bars since, and the outcome fills in.
    let later = evening + TimeDelta::weeks(5);
    once(later, "daily_update", update);
    once(later, "outcomes", "{}");
    assert_eq!(
        crosses(),
        1,
        "the cross is not alerted again: {:?}",
        telegram.plain_texts()
    );
    let outcome = store.outcomes().get(stored[0].id).await.unwrap().expect("an outcome");
    assert!(outcome.completed, "{outcome:?}");
    let triggered = stored[0].triggered_at;
    let horizons = [
        triggered + TimeDelta::hours(1),
        triggered + TimeDelta::hours(4),
        triggered + TimeDelta::days(1),
        triggered + TimeDelta::weeks(1),
        triggered.checked_add_months(chrono::Months::new(1)).unwrap(),
    ];
    for (measured, due) in outcome.horizons.iter().zip(horizons) {
        let first_after = bars.iter().find(|b| b.time().to_utc() >= due).unwrap();
        assert_eq!(measured.price, Some(first_after.close()), "at {due}: {outcome:?}");
        assert_eq!(
            measured.success,
            Some(true),
            "the price rose after the cross: {outcome:?}"
        );
    }
    assert_eq!(page(store.clone()).await.len(), 1, "still stored once");
}

async fn task_state(store: &Store, id: i64) -> (TaskState, u32) {
    let task = store.tasks().get(id).await.unwrap().unwrap();
    (task.state, task.attempts)
}

async fn a_scheduler_killed_mid_backfill_finishes_after_a_restart(backend: Backend) {
    let yahoo = MockYahoo::start().await;
    let bars = fixtures::synthetic_daily_bars(NaiveDate::from_ymd_opt(2022, 1, 3).unwrap(), 900, 5);
    yahoo.add_symbol("NVDA", bars.clone());
    // Slow enough to be caught mid-request.
    yahoo.set_latency(Duration::from_secs(3));
    let db = TestDb::new(backend, "finstage_e2e");
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        database(&db),
        ("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url()),
        ("FINSTAGE_WATCHLIST", "AAPL".to_owned()),
        ("FINSTAGE_METRICS_ADDR", "127.0.0.1:0".to_owned()),
    ];
    let id = store
        .tasks()
        .enqueue(&NewTask::new("backfill", r#"{"symbol":"NVDA","years":5}"#), Utc::now())
        .await
        .unwrap()
        .id;

    let daemon = || {
        let mut daemon = command("finstage-scheduler", dir.path(), &vars);
        daemon.args(["run", "--no-schedules"]);
        daemon
    };
    let mut first = Process::start(daemon(), dir.path().join("first.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while task_state(&store, id).await.0 != TaskState::Running {
        assert!(Instant::now() < deadline, "never claimed:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_hard();
    assert_eq!(
        store.daily_bars().count(&sym("NVDA")).await.unwrap(),
        0,
        "killed before writing"
    );
    yahoo.set_latency(Duration::ZERO);

    // The restarted scheduler re-delivers the task once its lease (30 s) expires.
    let second = Process::start(daemon(), dir.path().join("second.log"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let (state, attempts) = loop {
        let (state, attempts) = task_state(&store, id).await;
        if matches!(state, TaskState::Succeeded | TaskState::Dead | TaskState::Cancelled) {
            break (state, attempts);
        }
        assert!(Instant::now() < deadline, "not finished:\n{}", second.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(state, TaskState::Succeeded, "{}", second.log());
    assert_eq!(attempts, 2, "the killed attempt and the one that finished");
    let stored = store.daily_bars().count(&sym("NVDA")).await.unwrap();
    let expected = bars
        .iter()
        .filter(|b| b.time().to_utc() >= Utc::now() - TimeDelta::days(5 * 365 + 1))
        .count() as u64;
    assert_eq!(stored, expected, "every bar once");
    assert!(second.terminate().success());
}

/// Each flow as a test on PostgreSQL and on SQLite.
macro_rules! on_both_backends {
    ($($flow:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $flow() {
                    super::$flow(finstage_store::Backend::Postgres).await;
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $flow() {
                    super::$flow(finstage_store::Backend::Sqlite).await;
                }
            )*
        }
    };
}

on_both_backends!(
    backfill_is_served_by_the_api,
    a_polled_quote_reaches_a_websocket_client_of_another_process,
    a_golden_cross_is_stored_and_alerted_once_across_runs,
    in_replayed_time_a_golden_cross_is_alerted_once_and_its_outcome_fills_in_after_its_horizon,
    a_scheduler_killed_mid_backfill_finishes_after_a_restart,
);
