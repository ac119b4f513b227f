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
    assert_eq!(import_bundled_history(&store).await.unwrap(), 0);

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
