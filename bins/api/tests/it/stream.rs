//! The WebSocket stream `/v1/stream` with a real client (tokio-tungstenite) against a minimal
//! actix server holding only the stream route, on a `LocalBus` (or two `RedisBus`es).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use chrono::Utc;
use finstage_analysis::{Signal, SignalKind, SignalValues, Timeframe};
use finstage_api::stream::{StreamHub, StreamOptions, StreamStats, configure_actix};
use finstage_core::LocalBus;
use finstage_core::bus::{
    Envelope, EventBus, IndicatorEvent, InstanceId, QuoteEvent, RedisBus, RedisBusConfig, SignalEvent,
};
use finstage_domain::{BarTime, Symbol};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any wait of these tests may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// A stream server on port 0.
struct Server {
    url: String,
    hub: StreamHub,
    handle: ServerHandle,
}

impl Server {
    async fn start(bus: Arc<dyn EventBus>, options: StreamOptions) -> Self {
        let hub = StreamHub::new(bus, options).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let app_hub = hub.clone();
        let server = HttpServer::new(move || App::new().configure(configure_actix(app_hub.clone())))
            .listen(listener)
            .unwrap()
            .workers(1)
            .shutdown_timeout(1)
            .disable_signals()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("ws://127.0.0.1:{port}/v1/stream"),
            hub,
            handle,
        }
    }

    async fn connect(&self) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(self.url.as_str()).await.unwrap();
        Client { ws }
    }

    /// A client whose socket holds little: the server's writes back up soon when it does not read.
    async fn connect_small(&self) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket
            .connect(self.url[5..].split('/').next().unwrap().parse().unwrap())
            .await
            .unwrap();
        let (ws, _) = tokio_tungstenite::client_async(self.url.as_str(), MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        Client { ws }
    }

    async fn wait_for(&self, what: &str, condition: impl FnMut(&StreamStats) -> bool) -> StreamStats {
        match self.hub.wait_for(DEADLINE, condition).await {
            Ok(stats) => stats,
            Err(stats) => panic!("{what}: not within {DEADLINE:?}; stats {stats:?}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    async fn send(&mut self, frame: Value) {
        self.ws.send(Message::text(frame.to_string())).await.unwrap();
    }

    async fn subscribe(&mut self, channels: &[&str]) -> Value {
        self.send(json!({"op": "subscribe", "channels": channels})).await;
        self.next().await
    }

    /// The next message that is not a ping or a pong.
    async fn message(&mut self) -> Message {
        loop {
            let message = tokio::time::timeout(DEADLINE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no frame within {DEADLINE:?}"))
                .expect("the connection is open")
                .expect("a valid frame");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    /// The next JSON text frame.
    async fn next(&mut self) -> Value {
        match self.message().await {
            Message::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("not a text frame: {other:?}"),
        }
    }

    /// The next close frame's code and reason, after any text frames (returned too).
    async fn until_close(&mut self) -> (Vec<Value>, CloseCode, String) {
        let mut frames = Vec::new();
        loop {
            match self.message().await {
                Message::Text(text) => frames.push(serde_json::from_str(&text).unwrap()),
                Message::Close(Some(close)) => return (frames, close.code, close.reason.to_string()),
                other => panic!("neither text nor a close with a reason: {other:?}"),
            }
        }
    }
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn origin() -> InstanceId {
    InstanceId::new("stream-test").unwrap()
}

/// A quote of `symbol` whose volume is `n` (to tell them apart).
fn quote(symbol: &str, n: u64) -> Envelope {
    Envelope::now(
        QuoteEvent {
            symbol: sym(symbol),
            price: 100.0 + n as f64,
            previous_close: Some(100.0),
            change_percent: None,
            day_high: None,
            day_low: None,
            volume: Some(n),
            time: Utc::now(),
        },
        origin(),
    )
}

fn signal(symbol: &str) -> Envelope {
    let signal = Signal::new(
        sym(symbol),
        SignalKind::GoldenCross { fast: 50, slow: 200 },
        Timeframe::DAILY,
        BarTime::from(chrono::NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()),
        189.5,
        0.75,
        SignalValues::new().with("sma_fast", 180.25),
    );
    Envelope::now(SignalEvent::new(&signal, Some(1)), origin())
}

fn rsi(symbol: &str, value: f64) -> Envelope {
    let event = IndicatorEvent::new(
        sym(symbol),
        "rsi:14".parse().unwrap(),
        BarTime::Timestamp(Utc::now()),
        &[value],
    )
    .unwrap();
    Envelope::now(event, origin())
}

fn local_bus() -> Arc<LocalBus> {
    Arc::new(LocalBus::new(1 << 16).unwrap())
}

/// Publishes and waits until the hub has handled every event so far.
async fn publish(server: &Server, bus: &LocalBus, envelope: Envelope) {
    let before = server.hub.stats().events;
    bus.publish(envelope).await.unwrap();
    server.wait_for("the hub reads the event", |s| s.events > before).await;
}

#[tokio::test]
async fn subscribe_gives_a_snapshot_then_ordered_updates_until_unsubscribed() {
    let bus = local_bus();
    let server = Server::start(bus.clone(), StreamOptions::default()).await;
    publish(&server, &bus, quote("AAPL", 1)).await;
    let mut client = server.connect().await;

    let answer = client.subscribe(&["quotes:aapl", "indicators:aapl:rsi"]).await;
    assert_eq!(
        answer,
        json!({"type": "subscribed", "channels": ["quotes:AAPL", "indicators:AAPL:rsi:14"]})
    );
    let snapshot = client.next().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["channel"], "quotes:AAPL");
    assert_eq!(snapshot["seq"], 1);
    assert_eq!(snapshot["data"]["volume"], 1);
    assert_eq!(snapshot["data"]["symbol"], "AAPL");
    assert!(snapshot["published_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        client.next().await,
        json!({"type": "snapshot", "channel": "indicators:AAPL:rsi:14", "seq": 0, "data": null, "published_at": null})
    );

    for n in 2..=6 {
        bus.publish(quote("AAPL", n)).await.unwrap();
    }
    bus.publish(quote("MSFT", 99)).await.unwrap();
    for n in 2..=6 {
        let update = client.next().await;
        assert_eq!(update["type"], "quote");
        assert_eq!(update["channel"], "quotes:AAPL");
        assert_eq!(update["seq"], n, "{update}");
        assert_eq!(update["data"]["volume"], n);
        assert!(update.get("conflated").is_none());
    }
    bus.publish(rsi("AAPL", 55.5)).await.unwrap();
    let value = client.next().await;
    assert_eq!(value["type"], "indicator", "no MSFT quote in between: {value}");
    assert_eq!(value["seq"], 1);
    assert_eq!(value["data"]["values"]["rsi:14"], 55.5);

    client
        .send(json!({"op": "unsubscribe", "channels": ["quotes:AAPL", "quotes:IBM"]}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"type": "unsubscribed", "channels": ["quotes:AAPL"]})
    );
    bus.publish(quote("AAPL", 7)).await.unwrap();
    bus.publish(rsi("AAPL", 56.0)).await.unwrap();
    let next = client.next().await;
    assert_eq!(
        next["type"], "indicator",
        "the quote published before it is not delivered: {next}"
    );
    assert_eq!(next["seq"], 2);

    // A second client gets the latest of each channel, with its number.
    let mut late = server.connect().await;
    late.subscribe(&["quotes:AAPL", "indicators:AAPL:rsi:14"]).await;
    let quote_snapshot = late.next().await;
    assert_eq!(
        (
            quote_snapshot["seq"].as_u64(),
            quote_snapshot["data"]["volume"].as_u64()
        ),
        (Some(7), Some(7))
    );
    let rsi_snapshot = late.next().await;
    assert_eq!(rsi_snapshot["seq"], 2);
    assert_eq!(rsi_snapshot["data"]["values"]["rsi:14"], 56.0);
    assert_eq!(server.hub.stats().subscriptions, 3);
}

#[tokio::test]
async fn signals_star_receives_every_signal_once() {
    let bus = local_bus();
    let server = Server::start(bus.clone(), StreamOptions::default()).await;
    publish(&server, &bus, signal("IBM")).await;
    let mut all = server.connect().await;
    assert_eq!(
        all.subscribe(&["signals:*"]).await,
        json!({"type": "subscribed", "channels": ["signals:*"]})
    );
    let snapshot = all.next().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["channel"], "signals:IBM");
    assert_eq!(snapshot["seq"], 1);
    assert_eq!(snapshot["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        snapshot["data"][0]["kind"],
        json!(serde_json::to_value(SignalKind::GoldenCross { fast: 50, slow: 200 }).unwrap())
    );

    // Subscribed to both the pattern and one symbol: each signal arrives once.
    let mut both = server.connect().await;
    both.subscribe(&["signals:*", "signals:AAPL"]).await;
    assert_eq!(both.next().await["channel"], "signals:IBM");
    assert_eq!(
        both.next().await,
        json!({"type": "snapshot", "channel": "signals:AAPL", "seq": 0, "data": [], "published_at": null})
    );

    bus.publish(signal("AAPL")).await.unwrap();
    bus.publish(signal("MSFT")).await.unwrap();
    bus.publish(quote("AAPL", 1)).await.unwrap();
    bus.publish(signal("AAPL")).await.unwrap();
    for client in [&mut all, &mut both] {
        let got: Vec<(String, u64)> = [client.next().await, client.next().await, client.next().await]
            .iter()
            .map(|f| {
                assert_eq!(f["type"], "signal");
                (f["channel"].as_str().unwrap().to_owned(), f["seq"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("signals:AAPL".into(), 1),
                ("signals:MSFT".into(), 1),
                ("signals:AAPL".into(), 2)
            ]
        );
    }
    // Nothing more: a ping is answered next.
    all.send(json!({"op": "ping"})).await;
    assert_eq!(all.next().await, json!({"type": "pong"}));
    both.send(json!({"op": "ping"})).await;
    assert_eq!(both.next().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_usable() {
    let bus = local_bus();
    let server = Server::start(bus.clone(), StreamOptions::default()).await;
    let mut client = server.connect().await;
    let cases: [(Message, &str); 8] = [
        (Message::text("{not json"), "malformed_json"),
        (Message::text("[1,2]"), "invalid_frame"),
        (Message::text(r#"{"op":"dance"}"#), "unknown_op"),
        (Message::text(r#"{"op":"subscribe"}"#), "invalid_frame"),
        (
            Message::text(r#"{"op":"subscribe","channels":["quotes:AAPL","quotes:"]}"#),
            "invalid_channel",
        ),
        (
            Message::text(r#"{"op":"subscribe","channels":["prices:AAPL"]}"#),
            "unknown_channel",
        ),
        (
            Message::text(r#"{"op":"subscribe","channels":["indicators:AAPL:nope"]}"#),
            "invalid_channel",
        ),
        (Message::binary(vec![1u8, 2, 3]), "binary_not_supported"),
    ];
    for (frame, code) in cases {
        client.ws.send(frame).await.unwrap();
        let error = client.next().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["code"], code, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    // Nothing was subscribed by the refused frames, and the connection works.
    client.send(json!({"op": "ping"})).await;
    assert_eq!(client.next().await, json!({"type": "pong"}));
    assert_eq!(server.hub.stats().subscriptions, 0);
    assert_eq!(client.subscribe(&["quotes:AAPL"]).await["type"], "subscribed");
    assert_eq!(client.next().await["type"], "snapshot");
    bus.publish(quote("AAPL", 1)).await.unwrap();
    assert_eq!(client.next().await["seq"], 1);
    // A WebSocket ping is answered with a pong.
    client.ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(Ok(Message::Pong(payload))) = client.ws.next().await {
                return payload;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], b"hi");
}

#[tokio::test]
async fn the_channel_limit_is_enforced_per_connection() {
    let bus = local_bus();
    let options = StreamOptions {
        max_channels: 2,
        ..StreamOptions::default()
    };
    let server = Server::start(bus, options).await;
    let mut client = server.connect().await;
    let refused = client.subscribe(&["quotes:A", "quotes:B", "quotes:C"]).await;
    assert_eq!(refused["code"], "too_many_channels", "{refused}");
    assert_eq!(client.subscribe(&["quotes:A", "signals:*"]).await["type"], "subscribed");
    client.next().await;
    let refused = client.subscribe(&["quotes:B"]).await;
    assert_eq!(refused["code"], "too_many_channels", "{refused}");
    // Channels already held do not count again (a resubscription resends the snapshot).
    assert_eq!(client.subscribe(&["quotes:A"]).await["type"], "subscribed");
    assert_eq!(client.next().await["type"], "snapshot");
    client
        .send(json!({"op": "unsubscribe", "channels": ["signals:*"]}))
        .await;
    assert_eq!(client.next().await["type"], "unsubscribed");
    assert_eq!(client.subscribe(&["quotes:B"]).await["type"], "subscribed");
    assert_eq!(server.hub.stats().subscriptions, 2);
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let options = StreamOptions {
        max_frame_size: 1024,
        ..StreamOptions::default()
    };
    let server = Server::start(local_bus(), options).await;
    let mut client = server.connect().await;
    let long = json!({"op": "subscribe", "channels": ["quotes:AAPL"], "pad": "x".repeat(2000)});
    client.send(long).await;
    let (frames, code, reason) = client.until_close().await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(code, CloseCode::Size);
    assert!(reason.contains("1024"), "{reason}");
    let stats = server.wait_for("the connection is gone", |s| s.connections == 0).await;
    assert_eq!(stats.closed_abusive, 1);
}

#[tokio::test]
async fn a_slow_client_gets_conflated_quotes_then_is_closed_with_1013() {
    let bus = local_bus();
    let options = StreamOptions {
        send_queue: 4,
        max_conflated: 50,
        close_timeout: DEADLINE,
        ..StreamOptions::default()
    };
    let server = Server::start(bus.clone(), options).await;
    let mut client = server.connect_small().await;
    client.subscribe(&["quotes:AAPL"]).await;
    assert_eq!(client.next().await["type"], "snapshot");

    // The client reads nothing now: the socket's buffers fill, then the send queue, then quotes
    // are conflated until there are too many.
    let mut published = 0u64;
    while server.hub.stats().slow == 0 {
        assert!(published < 2_000_000, "never found too slow: {:?}", server.hub.stats());
        for _ in 0..100 {
            published += 1;
            bus.publish(quote("AAPL", published)).await.unwrap();
        }
        server
            .wait_for("the hub keeps up", |s| s.events + s.bus_lagged >= published)
            .await;
    }
    let stats = server.hub.stats();
    assert!(stats.conflated >= 50, "{stats:?}");

    let (frames, code, reason) = client.until_close().await;
    assert_eq!(code, CloseCode::Again);
    assert!(reason.starts_with("too slow"), "{reason}");
    let mut last = 0u64;
    let mut marked = 0;
    for frame in &frames {
        let seq = frame["seq"].as_u64().unwrap();
        assert_eq!(
            frame["data"]["volume"], seq,
            "quotes are numbered as published: {frame}"
        );
        if frame["conflated"] == true {
            marked += 1;
            assert!(seq > last + 1, "a conflated quote follows a gap: {last} → {seq}");
        } else {
            assert_eq!(seq, last + 1, "consecutive unless marked: {frame}");
        }
        last = seq;
    }
    assert!(marked >= 1, "no conflated quote among {} frames", frames.len());
    server.wait_for("the slow client is gone", |s| s.closed_slow == 1).await;
}

#[tokio::test]
async fn pings_are_answered_and_a_dead_client_is_reaped() {
    let options = StreamOptions {
        ping_interval: Duration::from_millis(50),
        client_timeout: Duration::from_millis(200),
        ..StreamOptions::default()
    };
    let server = Server::start(local_bus(), options).await;
    let mut live = server.connect().await;
    let mut dead = server.connect().await;
    dead.send(json!({"op": "ping"})).await;
    assert_eq!(dead.next().await, json!({"type": "pong"}));

    // The live client reads (and so answers pings) for longer than the timeout.
    let mut pings = 0;
    while pings < 8 {
        match tokio::time::timeout(DEADLINE, live.ws.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("expected pings only: {other:?}"),
        }
    }
    live.send(json!({"op": "ping"})).await;
    assert_eq!(live.next().await, json!({"type": "pong"}));

    // The other one has read nothing since: it is reaped, and the live one stays.
    let stats = server
        .wait_for("the dead client is reaped", |s| s.closed_timeout == 1)
        .await;
    assert_eq!(stats.connections, 1);
    let (_, code, reason) = dead.until_close().await;
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("ping"), "{reason}");
}

#[tokio::test]
async fn shutdown_closes_every_client_with_1001() {
    let bus = local_bus();
    let server = Server::start(bus.clone(), StreamOptions::default()).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    first.subscribe(&["quotes:AAPL"]).await;
    second.send(json!({"op": "ping"})).await;
    second.next().await;
    server.wait_for("both connected", |s| s.connections == 2).await;

    assert_eq!(server.hub.shutdown(DEADLINE).await, 0);
    for client in [&mut first, &mut second] {
        let (_, code, reason) = client.until_close().await;
        assert_eq!(code, CloseCode::Away);
        assert_eq!(reason, "server shutting down");
    }
    assert_eq!(server.hub.stats().closed_shutdown, 2);
    // A connection after the shutdown is closed the same way at once.
    let mut late = server.connect().await;
    let (_, code, _) = late.until_close().await;
    assert_eq!(code, CloseCode::Away);
}

/// The Redis the tests use: `FINSTAGE_TEST_REDIS_URL`, or the local default.
fn redis_url() -> String {
    std::env::var("FINSTAGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A namespace no other test run uses.
fn namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "fsstream-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_subsec_nanos(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn redis_bus(namespace: &str) -> Arc<RedisBus> {
    let url = redis_url();
    let mut config = RedisBusConfig::new(url.parse().expect("FINSTAGE_TEST_REDIS_URL is a Redis URL"));
    config.namespace = namespace.to_owned();
    let bus = RedisBus::new(config).unwrap();
    if bus.wait_subscribed(Duration::from_secs(10)).await.is_err() {
        panic!(
            "Redis is not reachable at {url}. These tests need a Redis server: start one with \
             `redis-server --daemonize yes`, or set FINSTAGE_TEST_REDIS_URL."
        );
    }
    Arc::new(bus)
}

#[tokio::test]
async fn two_instances_on_redis_both_deliver_a_publish() {
    let namespace = namespace();
    let (bus_a, bus_b) = (redis_bus(&namespace).await, redis_bus(&namespace).await);
    let server_a = Server::start(bus_a.clone(), StreamOptions::default()).await;
    let server_b = Server::start(bus_b.clone(), StreamOptions::default()).await;
    let mut on_a = server_a.connect().await;
    let mut on_b = server_b.connect().await;
    for client in [&mut on_a, &mut on_b] {
        client.subscribe(&["quotes:AAPL"]).await;
        assert_eq!(client.next().await["seq"], 0);
    }
    bus_a.publish(quote("AAPL", 42)).await.unwrap();
    for client in [&mut on_a, &mut on_b] {
        let update = client.next().await;
        assert_eq!(update["type"], "quote");
        assert_eq!(update["seq"], 1);
        assert_eq!(update["data"]["volume"], 42);
    }
    // And the other way round.
    bus_b.publish(quote("AAPL", 43)).await.unwrap();
    for client in [&mut on_a, &mut on_b] {
        assert_eq!(client.next().await["data"]["volume"], 43);
    }
}
