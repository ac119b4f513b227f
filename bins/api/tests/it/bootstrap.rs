//! The application put together from the configuration alone, as `finstage-api` starts: the
//! database created and seeded with the bundled history (offline, on first start only), the
//! replay provider, the admin token, the live stream.

use finstage_api::Application;
use finstage_api::bootstrap::{BUNDLED_HISTORY, from_config, import_bundled_history};
use finstage_core::config::{Config, ConfigSources};
use finstage_monitoring::{Metrics, MetricsConfig};

use crate::helpers::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_configuration_alone_every_endpoint_has_data_offline() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: it is created.
    let db = dir.path().join("var").join("finstage.db");
    let sources = ConfigSources::new()
        .without_file()
        .with_var("FINSTAGE_DATABASE_URL", format!("sqlite://{}", db.display()))
        .with_var("FINSTAGE_HTTP_ADDR", "127.0.0.1:0")
        .with_var("FINSTAGE_PROVIDER", "replay")
        .with_var("FINSTAGE_WATCHLIST", "AAPL,MSFT,IBM")
        .with_var("FINSTAGE_ADMIN_TOKEN", "bootstrap-admin-token-0123");
    let config = Config::load(&sources).unwrap();
    let metrics = Metrics::install(&MetricsConfig::default()).unwrap();
    let (state, options) = from_config(&config, metrics).await.unwrap();
    let store = state.store.clone();
    for (name, _) in BUNDLED_HISTORY {
        let symbol = name.parse().unwrap();
        assert_eq!(store.daily_bars().count(&symbol).await.unwrap(), 3_270, "{name}");
    }
    // Only on first start.
    assert_eq!(import_bundled_history(&store, &config.rules).await.unwrap(), 0);

    let app = Application::build(state, options).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| client.get(format!("{base}{path}")).send();

    let history = json(get("/v1/symbols/MSFT/history?limit=5").await.unwrap(), 200).await;
    assert_eq!(history["bars"].as_array().map(Vec::len), Some(5), "{history}");
    let indicators = json(get("/v1/symbols/IBM/indicators?specs=rsi:14").await.unwrap(), 200).await;
    assert!(indicators.to_string().contains("rsi:14"), "{indicators}");
    // The bundled history's signals are stored (and too old to have been alerted).
    let signals = json(get("/v1/signals?symbol=AAPL&limit=5").await.unwrap(), 200).await;
    assert_eq!(signals["items"].as_array().map(Vec::len), Some(5), "{signals}");
    // The replay provider quotes from the bundled bars.
    let quote = json(get("/v1/quotes/AAPL").await.unwrap(), 200).await;
    assert!(quote["price"].as_f64().is_some_and(|p| p > 0.0), "{quote}");
    // The configured admin token opens the admin endpoints.
    let response = client
        .post(format!("{base}/v1/symbols"))
        .bearer_auth("bootstrap-admin-token-0123")
        .header("content-type", "application/json")
        .body(r#"{"symbol":"IBM"}"#)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let response = client
        .post(format!("{base}/v1/symbols"))
        .header("content-type", "application/json")
        .body(r#"{"symbol":"IBM"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // The live stream is served (a plain GET is not an upgrade: 400, not 503).
    assert_eq!(get("/v1/stream").await.unwrap().status().as_u16(), 400);
    stop.stop().await;
}

/// The embedded shape: `finstage-api` runs the scheduler's jobs in-process. A symbol added
/// through the API is backfilled by them (from the mock Yahoo) and its history is served; a
/// with the jobs turned off the backfill waits in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_jobs_backfill_a_symbol_added_through_the_api() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let yahoo = finstage_test_support::yahoo::MockYahoo::start().await;
    let bars = finstage_test_support::fixtures::synthetic_daily_bars(
        chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap(),
        700,
        7,
    );
    yahoo.add_symbol("NVDA", bars.clone());
    let dir = tempfile::tempdir().unwrap();
    let sources = |jobs: bool| {
        ConfigSources::new()
            .without_file()
            .with_var(
                "FINSTAGE_DATABASE_URL",
                format!("sqlite://{}", dir.path().join(format!("jobs-{jobs}.db")).display()),
            )
            .with_var("FINSTAGE_HTTP_ADDR", "127.0.0.1:0")
            .with_var("FINSTAGE_YAHOO_BASE_URL", yahoo.base_url())
            .with_var("FINSTAGE_WATCHLIST", "AAPL")
            .with_var("FINSTAGE_EMBEDDED_JOBS", jobs.to_string())
            .with_var("FINSTAGE_ADMIN_TOKEN", "bootstrap-admin-token-0123")
    };
    let metrics = Metrics::install(&MetricsConfig::default()).unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    for jobs_on in [true, false] {
        let config = Config::load(&sources(jobs_on)).unwrap();
        let process = finstage_api::bootstrap::start(&config, metrics.clone()).await.unwrap();
        assert_eq!(process.jobs.is_some(), jobs_on);
        let queue = process.state.queue.clone();
        let store = process.state.store.clone();
        let app = Application::build(process.state, process.options).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = app.stop_handle();
        tokio::spawn(app.run_until_stopped());

        let added = client
            .post(format!("{base}/v1/symbols"))
            .bearer_auth("bootstrap-admin-token-0123")
            .header("content-type", "application/json")
            .body(r#"{"symbol":"NVDA","category":"stock"}"#)
            .send()
            .await
            .unwrap();
        let added = json(added, 201).await;
        let task = finstage_tasks::TaskId(added["backfill"]["task_id"].as_i64().unwrap());
        if jobs_on {
            // Wait on the task's state (the queue's, not a clock).
            let mut state = None;
            for _ in 0..600 {
                let t = queue.status(task).await.unwrap().unwrap();
                if t.state.is_final() {
                    state = Some(t.state);
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(state, Some(finstage_tasks::TaskState::Succeeded));
            let history = json(
                client
                    .get(format!("{base}/v1/symbols/NVDA/history?limit=1000"))
                    .send()
                    .await
                    .unwrap(),
                200,
            )
            .await;
            assert_eq!(
                history["bars"].as_array().map(Vec::len),
                Some(bars.len()),
                "every bar served"
            );
        } else {
            let t = queue.status(task).await.unwrap().unwrap();
            assert_eq!(t.state, finstage_tasks::TaskState::Pending, "no worker runs it");
            let nvda = "NVDA".parse().unwrap();
            assert_eq!(
                store.daily_bars().count(&nvda).await.unwrap(),
                0,
                "nothing was backfilled"
            );
        }
        stop.stop().await;
        if let Some(jobs) = process.jobs {
            jobs.shutdown(std::time::Duration::from_secs(5)).await;
        }
    }
}
