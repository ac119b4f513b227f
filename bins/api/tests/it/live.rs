//! The live stream as the application serves it: `/v1/stream` mounted beside the HTTP routes,
//! events from the bus to a client, 1001 to every client when the application stops, and 503
//! where the instance has no stream.

use chrono::Utc;
use finstage_core::bus::{Envelope, EventBus, InstanceId, QuoteEvent};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Setup, error_code, json as body_of, spawn_app, spawn_with, sym};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON, skipping pings; `None` when the stream ends or closes.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_streams_the_bus_and_says_goodbye_on_stop() {
    let app = spawn_app().await;
    let url = app.url("/v1/stream").replacen("http", "ws", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let subscribe = json!({"op": "subscribe", "channels": ["quotes:AAPL"]}).to_string();
    ws.send(Message::Text(subscribe.into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "subscribed");
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "snapshot");

    let quote = QuoteEvent {
        symbol: sym("AAPL"),
        price: 431.5,
        previous_close: Some(430.0),
        change_percent: None,
        day_high: None,
        day_low: None,
        volume: Some(7),
        time: Utc::now(),
    };
    app.bus
        .publish(Envelope::now(quote, InstanceId::new("live-test").unwrap()))
        .await
        .unwrap();
    let frame = next_json(&mut ws).await.unwrap();
    assert_eq!(
        (frame["type"].as_str(), frame["seq"].as_u64()),
        (Some("quote"), Some(1))
    );
    assert_eq!(frame["data"]["price"], 431.5);

    // Stopping the application closes the stream's clients with 1001 (going away) first.
    let stop = app.stop.clone();
    let stopping = tokio::spawn(async move { stop.stop().await });
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Away));
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_the_stream_says_so() {
    let app = spawn_with(Setup {
        stream: false,
        ..Setup::default()
    })
    .await;
    let body = body_of(app.get("/v1/stream").await, 503).await;
    assert_eq!(error_code(&body), "stream_unavailable");
}
