//! The server itself: routing, the 404s, percent-decoding, keep-alive, concurrency and
//! stopping.

use std::time::Duration;

use finstage_domain::Bar;
use finstage_test_support::{MockYahoo, fixtures};
use tokio::task::JoinSet;

use crate::helpers::{chart, chart_answer, client, daily_bars, date, get, get_with, not_found_bytes, result};

#[tokio::test]
async fn an_unknown_symbol_gets_yahoos_exact_404() {
    let yahoo = MockYahoo::start().await;
    // Meta and events alone do not list a symbol.
    yahoo.add_dividend("GONE", date(2020, 1, 2), 0.5);
    for symbol in ["NOPE", "GONE", "%5EVIX"] {
        let answer = chart_answer(&yahoo, symbol, "interval=1d&range=1mo").await;
        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("content-type"), Some("application/json;charset=utf-8"));
        assert_eq!(answer.body, not_found_bytes());
    }
    // Removing a symbol makes it unknown again.
    yahoo.add_symbol("GONE", fixtures::synthetic_daily_bars(date(2020, 1, 6), 3, 1));
    assert_eq!(chart_answer(&yahoo, "GONE", "").await.status, 200);
    yahoo.remove_symbol("gone");
    assert_eq!(chart_answer(&yahoo, "GONE", "").await.status, 404);
}

#[tokio::test]
async fn percent_encoded_symbols_are_decoded() {
    let yahoo = MockYahoo::start().await;
    let bars = fixtures::synthetic_daily_bars(date(2020, 1, 6), 10, 4);
    yahoo.add_symbol("^SOX", bars.clone());
    yahoo.add_symbol("ES=F", bars.clone());
    for encoded in ["%5ESOX", "%5esox", "^SOX"] {
        let served = chart(&yahoo, encoded, "range=max").await;
        assert_eq!(result(&served)["meta"]["symbol"], "^SOX", "{encoded}");
        assert_eq!(daily_bars(result(&served)), bars);
    }
    let served = chart(&yahoo, "ES%3DF", "range=max").await;
    assert_eq!(result(&served)["meta"]["symbol"], "ES=F");
    assert_eq!(yahoo.requests("^SOX"), 3);

    // chart_url encodes for you.
    let url = yahoo.chart_url("^SOX");
    assert_eq!(url, format!("{}/v8/finance/chart/%5ESOX", yahoo.base_url()));
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn other_paths_are_plain_404_and_other_methods_405() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::synthetic_daily_bars(date(2020, 1, 6), 3, 1));
    for path in [
        "/",
        "/v8/finance/chart/",
        "/v8/finance/chart/AAPL/extra",
        "/v7/finance/quote?symbols=AAPL",
        "/v8/finance/chart",
    ] {
        let answer = get(&yahoo, path).await;
        assert_eq!((answer.status, answer.text()), (404, "Not Found"), "{path}");
        assert_eq!(answer.header("content-type"), Some("text/plain;charset=utf-8"));
    }
    let response = client().post(yahoo.chart_url("AAPL")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(yahoo.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(yahoo.base_url(), format!("http://{}", yahoo.addr()));
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::synthetic_daily_bars(date(2020, 1, 6), 3, 1));
    let client = client();
    for _ in 0..10 {
        assert_eq!(get_with(&client, &yahoo, "/v8/finance/chart/AAPL").await.status, 200);
    }
    assert_eq!(yahoo.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_ten_year_histories_of_many_symbols_concurrently() {
    let yahoo = MockYahoo::start().await;
    let symbols: Vec<String> = (0..50).map(|i| format!("S{i:03}")).collect();
    let histories: Vec<Vec<Bar>> = (0..50_u64)
        .map(|seed| fixtures::synthetic_daily_bars(date(2015, 1, 5), 2_520, seed))
        .collect();
    for (symbol, bars) in symbols.iter().zip(&histories) {
        yahoo.add_symbol(symbol, bars.clone());
    }
    let client = client();
    let mut requests = JoinSet::new();
    for (symbol, bars) in symbols.into_iter().zip(histories) {
        let (client, yahoo) = (client.clone(), yahoo.clone());
        requests.spawn(async move {
            let answer = get_with(
                &client,
                &yahoo,
                &format!("/v8/finance/chart/{symbol}?interval=1d&range=max"),
            )
            .await;
            assert_eq!(answer.status, 200);
            assert_eq!(daily_bars(result(&answer.json())), bars);
        });
    }
    requests.join_all().await;
    assert_eq!(yahoo.responses_with_status(200), 50);
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::synthetic_daily_bars(date(2020, 1, 6), 3, 1));
    let client = client();
    assert_eq!(get_with(&client, &yahoo, "/v8/finance/chart/AAPL").await.status, 200);
    yahoo.shutdown().await;
    yahoo.shutdown().await; // twice is fine
    let error = client.get(yahoo.chart_url("AAPL")).send().await.unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error}");
    assert!(tokio::net::TcpStream::connect(yahoo.addr()).await.is_err());
    assert_eq!(yahoo.total_requests(), 1, "counters stay readable");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let yahoo = MockYahoo::start().await;
    let addr = yahoo.addr();
    let clone = yahoo.clone();
    drop(yahoo);
    assert_eq!(get(&clone, "/").await.status, 404, "a clone keeps it running");
    drop(clone);
    // The accept task ends on its own: wait for the condition, bounded.
    tokio::time::timeout(Duration::from_secs(10), async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the listener closes once the last handle is gone");
}
