//! Shared helpers: an HTTP client, requests to the mock, the real captures, and parsing chart
//! JSON back into bars.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Once;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use finstage_domain::Bar;
use finstage_test_support::MockYahoo;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A desktop browser's user agent, as a Yahoo client must send.
pub(crate) const BROWSER_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";

/// A client with a browser user agent, and no idle-connection timer (so that a paused tokio
/// clock only moves when the mock's own timers make it).
pub(crate) fn client() -> reqwest::Client {
    client_builder().user_agent(BROWSER_UA).build().unwrap()
}

/// A client builder without a user agent and without an idle-connection timer.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // reqwest is built without a TLS provider; it wants one even for plain http://.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().pool_idle_timeout(None)
}

/// An answer from the mock.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// GETs `path_and_query` (starting with `/`) with `client`.
pub(crate) async fn get_with(client: &reqwest::Client, yahoo: &MockYahoo, path_and_query: &str) -> Answer {
    let response = client
        .get(format!("{}{path_and_query}", yahoo.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    Answer { status, headers, body }
}

/// GETs `path_and_query` with a fresh browser client.
pub(crate) async fn get(yahoo: &MockYahoo, path_and_query: &str) -> Answer {
    get_with(&client(), yahoo, path_and_query).await
}

/// GETs `/v8/finance/chart/{symbol}?{query}` (the symbol as given, so encode it yourself).
pub(crate) async fn chart_answer(yahoo: &MockYahoo, symbol: &str, query: &str) -> Answer {
    get(yahoo, &format!("/v8/finance/chart/{symbol}?{query}")).await
}

/// The chart JSON of a request that must succeed.
pub(crate) async fn chart(yahoo: &MockYahoo, symbol: &str, query: &str) -> Value {
    let answer = chart_answer(yahoo, symbol, query).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json;charset=utf-8"));
    answer.json()
}

/// `chart.result[0]`.
pub(crate) fn result(json: &Value) -> &Value {
    &json["chart"]["result"][0]
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/yahoo")
}

/// The real capture of `^SOX`, `interval=1d&range=1mo`, as bytes.
pub(crate) fn capture_bytes() -> Vec<u8> {
    std::fs::read(data_dir().join("chart_SOX_1d_1mo_captured-2026-10-05.json")).unwrap()
}

/// The real capture of `^SOX`, parsed.
pub(crate) fn capture() -> Value {
    serde_json::from_slice(&capture_bytes()).unwrap()
}

/// The real 404 body.
pub(crate) fn not_found_bytes() -> Vec<u8> {
    std::fs::read(data_dir().join("chart_error_404_not_found.json")).unwrap()
}

/// The keys of a JSON object.
pub(crate) fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn numbers(value: &Value) -> Vec<Option<f64>> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(Value::as_f64)
        .collect()
}

/// The epoch seconds of `timestamp`.
pub(crate) fn timestamps(result: &Value) -> Vec<i64> {
    result["timestamp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect()
}

/// A daily chart result back into bars, as a client would parse it: the date of each timestamp
/// shifted by `meta.gmtoffset`, every value present, `adjclose` when sent.
pub(crate) fn daily_bars(result: &Value) -> Vec<Bar> {
    let offset = result["meta"]["gmtoffset"].as_i64().unwrap();
    let quote = &result["indicators"]["quote"][0];
    let [open, high, low, close, volume] = ["open", "high", "low", "close", "volume"].map(|k| numbers(&quote[k]));
    let adjclose = result["indicators"]["adjclose"][0]["adjclose"]
        .as_array()
        .map(|_| numbers(&result["indicators"]["adjclose"][0]["adjclose"]));
    timestamps(result)
        .into_iter()
        .enumerate()
        .map(|(i, ts)| {
            let day = DateTime::from_timestamp(ts + offset, 0).unwrap().date_naive();
            let bar = Bar::new(
                day,
                open[i].unwrap(),
                high[i].unwrap(),
                low[i].unwrap(),
                close[i].unwrap(),
                quote["volume"][i]
                    .as_u64()
                    .unwrap_or_else(|| panic!("volume {:?}", volume[i])),
            )
            .unwrap();
            match &adjclose {
                Some(adj) => bar.with_adj_close(adj[i].unwrap()).unwrap(),
                None => bar,
            }
        })
        .collect()
}
