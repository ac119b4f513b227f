//! The scheduler's own listener: `/metrics`, health, errors, port 0, bind failures, shutdown.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use finstage_monitoring::health::FnCheck;
use finstage_monitoring::{CONTENT_TYPE, CheckOptions, CheckResult, HealthRegistry, MonitoringError, serve_metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support;

/// One HTTP/1.1 request on a fresh connection; the status, the headers (lower-cased) and the body.
async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn local() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

#[tokio::test]
async fn serves_metrics_and_health_on_a_chosen_port() {
    let metrics = support::metrics();
    metrics::counter!("finstage_it_server_total", "kind" => "probe").increment(5);
    let health = HealthRegistry::new();
    health
        .register(
            FnCheck::new("it-server.database", || async {
                CheckResult::down("connection refused")
            }),
            CheckOptions::critical(Duration::from_secs(1)),
        )
        .unwrap();
    let server = serve_metrics(local(), metrics, Some(health)).await.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let (status, head, body) = request(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(head.contains(&format!("content-type: {CONTENT_TYPE}")), "{head}");
    assert!(body.contains(r#"finstage_it_server_total{kind="probe"} 5"#), "{body}");

    let (status, head, body) = request(addr, "HEAD", "/metrics").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-length: "), "{head}");
    assert_eq!(body, "", "no body for HEAD");

    let (status, _, body) = request(addr, "GET", "/health/ready").await;
    assert_eq!(status, 503);
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["status"], "down");
    assert_eq!(report["checks"][0]["detail"], "connection refused");

    let (status, head, body) = request(addr, "GET", "/health/live").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(body, r#"{"status":"ok","checks":[]}"#);

    assert_eq!(request(addr, "GET", "/metrics/../secret").await.0, 404);
    assert_eq!(request(addr, "GET", "/").await.0, 404);
    let (status, head, _) = request(addr, "POST", "/metrics").await;
    assert_eq!(status, 405);
    assert!(head.contains("allow: get, head"), "{head}");

    server.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn without_a_registry_only_metrics_are_served() {
    let server = serve_metrics(local(), support::metrics(), None).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(request(addr, "GET", "/metrics").await.0, 200);
    assert_eq!(request(addr, "GET", "/health/ready").await.0, 404);
    drop(server);
}

#[tokio::test]
async fn an_address_in_use_is_a_typed_error_naming_it() {
    let first = serve_metrics(local(), support::metrics(), None).await.unwrap();
    let taken = first.local_addr();
    let error = serve_metrics(taken, support::metrics(), None).await.unwrap_err();
    match &error {
        MonitoringError::Bind { addr, source } => {
            assert_eq!(*addr, taken);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(error.to_string().contains(&taken.to_string()), "{error}");
    first.shutdown().await;
}
