//! The event bus: channel names, the envelope's JSON, the local bus (order, fan-out, lag) and
//! the Redis bus against a real Redis (two instances, own publishes, namespaces, batches, an
//! outage and a hung server through a TCP proxy, malformed messages, the password).
//!
//! The Redis tests need a Redis server: `redis://127.0.0.1:6379/0`, or `FINSTAGE_TEST_REDIS_URL`.
//! They fail (never skip) when it is unreachable. Each uses its own namespace (pub/sub leaves no
//! keys behind).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use finstage_analysis::{Signal, SignalKind, SignalValues, Timeframe};
use finstage_core::CoreError;
use finstage_core::bus::{
    BusError, BusMessage, BusReceiver, Channel, ChannelError, ChannelKind, Envelope, Event, EventBus, IndicatorEvent,
    InstanceId, LocalBus, MAX_BATCH, QuoteEvent, RedisBus, RedisBusConfig, SignalEvent, Subscription,
};
use finstage_domain::{BarTime, Quote, Symbol};
use finstage_indicators::OutputSpec;
use finstage_test_support::proxy::TcpProxy;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use redis::{ConnectionAddr, IntoConnectionInfo};

// ---------------------------------------------------------------------------------------------
// Channels

#[test]
fn channels_print_their_canonical_form_and_read_it_back() {
    let cases = [
        ("quotes:AAPL", "quotes:AAPL"),
        ("quotes:aapl", "quotes:AAPL"),
        ("signals:^GSPC", "signals:^GSPC"),
        ("signals:brk-b", "signals:BRK-B"),
        ("quotes:005930.KS", "quotes:005930.KS"),
        ("quotes:ES=F", "quotes:ES=F"),
        ("indicators:AAPL:rsi:14", "indicators:AAPL:rsi:14"),
        ("indicators:AAPL:rsi", "indicators:AAPL:rsi:14"),
        (
            "indicators:msft:macd:12:26:9.signal",
            "indicators:MSFT:macd:12:26:9.signal",
        ),
        ("indicators:MSFT:macd.hist", "indicators:MSFT:macd:12:26:9.hist"),
        ("indicators:IBM:sma:20", "indicators:IBM:sma:20"),
        ("indicators:IBM:obv", "indicators:IBM:obv"),
    ];
    for (input, canonical) in cases {
        let channel: Channel = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(channel.to_string(), canonical, "{input}");
        let again: Channel = canonical.parse().unwrap();
        assert_eq!(
            again, channel,
            "{input}: the canonical form reads back as the same channel"
        );
        assert_eq!(again.to_string(), canonical);
        // serde: a JSON string, the canonical form.
        let json = serde_json::to_string(&channel).unwrap();
        assert_eq!(json, format!("\"{canonical}\""));
        assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), channel);
        // Every channel is also a subscription, with the same text.
        let subscription: Subscription = input.parse().unwrap();
        assert_eq!(subscription, Subscription::Channel(channel));
        assert_eq!(subscription.to_string(), canonical);
    }
    let channel: Channel = "indicators:aapl:bbands.upper".parse().unwrap();
    assert_eq!(channel.kind(), ChannelKind::Indicators);
    assert_eq!(channel.symbol(), Symbol::parse("AAPL").unwrap());
    assert_eq!(
        channel,
        Channel::Indicators(Symbol::parse("AAPL").unwrap(), "bbands.upper".parse().unwrap())
    );
}

#[test]
fn every_bad_channel_name_is_a_typed_error_naming_the_problem() {
    use ChannelError as E;
    let check = |input: &str, ok: fn(&ChannelError) -> bool, says: &str| {
        let error = input.parse::<Channel>().expect_err(input);
        assert!(ok(&error), "{input:?}: unexpected {error:?}");
        let message = error.to_string();
        assert!(message.contains(says), "{input:?}: {message:?} should mention {says:?}");
        // Through serde too, as a deserialization error.
        let json = serde_json::to_string(input).unwrap();
        assert!(serde_json::from_str::<Channel>(&json).is_err(), "{input:?}");
    };
    check("", |e| matches!(e, E::Empty), "empty");
    check(
        &format!("quotes:{}", "A".repeat(200)),
        |e| matches!(e, E::TooLong { len: 207, max: 128 }),
        "128",
    );
    check(
        "quotes:AAPL ",
        |e| {
            matches!(
                e,
                E::InvalidChar {
                    ch: ' ',
                    position: 11,
                    ..
                }
            )
        },
        "position 11",
    );
    check(
        " quotes:AAPL",
        |e| {
            matches!(
                e,
                E::InvalidChar {
                    ch: ' ',
                    position: 0,
                    ..
                }
            )
        },
        "whitespace",
    );
    check(
        "quotes:AA\nPL",
        |e| matches!(e, E::InvalidChar { ch: '\n', .. }),
        "'\\n'",
    );
    check(
        "indicators:AAPL: rsi",
        |e| matches!(e, E::InvalidChar { .. }),
        "whitespace",
    );
    check(
        "prices:AAPL",
        |e| matches!(e, E::UnknownKind { kind } if kind == "prices"),
        "prices",
    );
    check(
        "Quotes:AAPL",
        |e| matches!(e, E::UnknownKind { .. }),
        "quotes, signals or indicators",
    );
    check("AAPL", |e| matches!(e, E::UnknownKind { .. }), "AAPL");
    check(":AAPL", |e| matches!(e, E::UnknownKind { .. }), "unknown channel kind");
    check(
        "quotes",
        |e| {
            matches!(
                e,
                E::MissingSymbol {
                    kind: ChannelKind::Quotes
                }
            )
        },
        "no symbol",
    );
    check(
        "signals:",
        |e| {
            matches!(
                e,
                E::MissingSymbol {
                    kind: ChannelKind::Signals
                }
            )
        },
        "no symbol",
    );
    check(
        "indicators:",
        |e| {
            matches!(
                e,
                E::MissingSymbol {
                    kind: ChannelKind::Indicators
                }
            )
        },
        "no symbol",
    );
    check("quotes:AA/PL", |e| matches!(e, E::InvalidSymbol(_)), "symbol");
    check("quotes:^", |e| matches!(e, E::InvalidSymbol(_)), "symbol");
    check(
        "quotes:AAPL:rsi:14",
        |e| {
            matches!(
                e,
                E::TrailingPart {
                    kind: ChannelKind::Quotes,
                    ..
                }
            )
        },
        "symbol only",
    );
    check(
        "signals:AAPL:",
        |e| {
            matches!(
                e,
                E::TrailingPart {
                    kind: ChannelKind::Signals,
                    ..
                }
            )
        },
        "symbol only",
    );
    check(
        "indicators:AAPL",
        |e| matches!(e, E::MissingSpec { .. }),
        "names no indicator",
    );
    check(
        "indicators:AAPL:",
        |e| matches!(e, E::MissingSpec { .. }),
        "names no indicator",
    );
    check("indicators::rsi:14", |e| matches!(e, E::InvalidSymbol(_)), "symbol");
    check("indicators:AAPL:smaa:20", |e| matches!(e, E::InvalidSpec(_)), "smaa");
    check("indicators:AAPL:rsi:0", |e| matches!(e, E::InvalidSpec(_)), "rsi");
    check("indicators:AAPL:sma:20:5", |e| matches!(e, E::InvalidSpec(_)), "sma");
    check(
        "indicators:AAPL:macd.upper",
        |e| matches!(e, E::InvalidSpec(_)),
        "upper",
    );
    check(
        "signals:*",
        |e| matches!(e, E::PatternNotChannel { .. }),
        "subscription pattern",
    );
    check("quotes:*", |e| matches!(e, E::UnsupportedPattern { .. }), "signals:*");
    check(
        "indicators:AAPL:*",
        |e| matches!(e, E::UnsupportedPattern { .. }),
        "signals:*",
    );

    // Echoed input is shortened and escaped.
    let long = format!("{}:AAPL", "x".repeat(100));
    let message = long.parse::<Channel>().unwrap_err().to_string();
    assert!(message.contains('…') && !message.contains(&"x".repeat(41)), "{message}");
    // And the error converts into the crate's error.
    let error: CoreError = BusError::from(ChannelError::Empty).into();
    assert!(matches!(
        error,
        CoreError::Bus(BusError::InvalidChannel(ChannelError::Empty))
    ));
}

#[test]
fn signals_star_is_a_subscription_pattern_only() {
    let all: Subscription = "signals:*".parse().unwrap();
    assert_eq!(all, Subscription::AllSignals);
    assert!(all.is_pattern());
    assert_eq!(all.to_string(), "signals:*");
    assert_eq!(serde_json::to_string(&all).unwrap(), "\"signals:*\"");
    assert_eq!(serde_json::from_str::<Subscription>("\"signals:*\"").unwrap(), all);
    for matching in ["signals:AAPL", "signals:^GSPC", "signals:MSFT"] {
        assert!(all.matches(&matching.parse().unwrap()), "{matching}");
    }
    for other in ["quotes:AAPL", "indicators:AAPL:rsi:14"] {
        assert!(!all.matches(&other.parse().unwrap()), "{other}");
    }
    let one: Subscription = "quotes:aapl".parse().unwrap();
    assert!(!one.is_pattern());
    assert!(one.matches(&"quotes:AAPL".parse().unwrap()));
    assert!(!one.matches(&"quotes:MSFT".parse().unwrap()));
    assert!(!one.matches(&"signals:AAPL".parse().unwrap()));
    let rsi: Subscription = "indicators:AAPL:rsi".parse().unwrap();
    assert!(rsi.matches(&"indicators:AAPL:rsi:14".parse().unwrap()));
    assert!(!rsi.matches(&"indicators:AAPL:rsi:7".parse().unwrap()));
    for bad in ["quotes:*", "*", "signals:**", "indicators:*"] {
        assert!(
            matches!(
                bad.parse::<Subscription>(),
                Err(ChannelError::UnsupportedPattern { .. } | ChannelError::UnknownKind { .. })
            ),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Events and envelopes

fn symbol(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn instance(id: &str) -> InstanceId {
    InstanceId::new(id).unwrap()
}

fn at(micros: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 14, 30, 0).unwrap() + Duration::from_micros(micros.into())
}

fn quote(sym: &str, volume: u64) -> Quote {
    Quote::new(symbol(sym), 190.25, at(0))
        .unwrap()
        .with_previous_close(188.0)
        .unwrap()
        .with_day_range(187.5, 191.0)
        .unwrap()
        .with_volume(volume)
        .unwrap()
}

/// An envelope of a quote whose volume is `seq`, to check order.
fn numbered(sym: &str, seq: u64, origin: &InstanceId) -> Envelope {
    Envelope::now(&quote(sym, seq), origin.clone())
}

fn seq_of(envelope: &Envelope) -> u64 {
    match envelope.event() {
        Event::Quote(quote) => quote.volume.expect("numbered quotes have a volume"),
        other => panic!("not a numbered quote: {other:?}"),
    }
}

fn signal() -> Signal {
    Signal::new(
        symbol("AAPL"),
        SignalKind::GoldenCross { fast: 50, slow: 200 },
        Timeframe::DAILY,
        BarTime::from(NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()),
        189.5,
        0.75,
        SignalValues::new()
            .with("sma_fast", 180.25)
            .with("sma_slow", 179.5)
            .with("undefined", f64::NAN),
    )
}

#[test]
fn envelopes_have_a_stable_json_shape() {
    let origin = instance("api-1");
    let published = at(123_456) + Duration::from_nanos(789); // sub-microsecond part dropped
    let quote = Envelope::new(&quote("AAPL", 52_000_000), origin.clone(), published);
    insta::assert_snapshot!(serde_json::to_string_pretty(&quote).unwrap(), @r#"
    {
      "channel": "quotes:AAPL",
      "event": {
        "type": "quote",
        "symbol": "AAPL",
        "price": 190.25,
        "previous_close": 188.0,
        "change_percent": 1.196808510638298,
        "day_high": 191.0,
        "day_low": 187.5,
        "volume": 52000000,
        "time": "2026-11-02T14:30:00Z"
      },
      "published_at": "2026-11-02T14:30:00.123456Z",
      "origin": "api-1"
    }
    "#);

    let signal = Envelope::new(SignalEvent::new(&signal(), Some(42)), origin.clone(), published);
    insta::assert_snapshot!(serde_json::to_string_pretty(&signal).unwrap(), @r#"
    {
      "channel": "signals:AAPL",
      "event": {
        "type": "signal",
        "id": 42,
        "symbol": "AAPL",
        "kind": "golden_cross",
        "direction": "bullish",
        "strength": 0.75,
        "price": 189.5,
        "time": "2026-10-30",
        "timeframe": "1d",
        "values": {
          "sma_fast": 180.25,
          "sma_slow": 179.5,
          "undefined": null
        }
      },
      "published_at": "2026-11-02T14:30:00.123456Z",
      "origin": "api-1"
    }
    "#);

    let spec: OutputSpec = "macd".parse().unwrap();
    let time = BarTime::Timestamp(at(0));
    let macd = IndicatorEvent::new(symbol("MSFT"), spec, time, &[1.5, 1.25, f64::NAN]).unwrap();
    let indicator = Envelope::new(macd, origin, published);
    insta::assert_snapshot!(serde_json::to_string_pretty(&indicator).unwrap(), @r#"
    {
      "channel": "indicators:MSFT:macd:12:26:9",
      "event": {
        "type": "indicator",
        "symbol": "MSFT",
        "spec": "macd:12:26:9",
        "time": "2026-11-02T14:30:00Z",
        "values": {
          "macd:12:26:9.hist": null,
          "macd:12:26:9.macd": 1.5,
          "macd:12:26:9.signal": 1.25
        }
      },
      "published_at": "2026-11-02T14:30:00.123456Z",
      "origin": "api-1"
    }
    "#);

    // Every envelope reads back as itself (NaN became null, which reads back as None).
    for envelope in [&quote, &signal, &indicator] {
        let json = envelope.to_json().unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, envelope, "{json}");
    }
    assert_eq!(quote.published_at(), at(123_456));
    assert_eq!(quote.channel(), &"quotes:AAPL".parse::<Channel>().unwrap());
    assert_eq!(signal.channel().to_string(), "signals:AAPL");
    assert_eq!(indicator.channel().to_string(), "indicators:MSFT:macd:12:26:9");
    assert_eq!(quote.age_at(at(1_123_456)), chrono::TimeDelta::seconds(1));
}

#[test]
fn an_envelope_whose_channel_is_not_its_events_does_not_decode() {
    let envelope = Envelope::new(&quote("AAPL", 1), instance("api-1"), at(0));
    let json = envelope.to_json().unwrap();
    let forged = json.replace("\"channel\":\"quotes:AAPL\"", "\"channel\":\"quotes:MSFT\"");
    assert_ne!(forged, json);
    let error = serde_json::from_str::<Envelope>(&forged).unwrap_err().to_string();
    assert!(
        error.contains("quotes:MSFT") && error.contains("quotes:AAPL"),
        "{error}"
    );
    // Unknown fields are ignored (a newer instance's envelope during a rolling upgrade).
    let newer = json.replacen('{', "{\"sequence\":7,", 1);
    assert_eq!(serde_json::from_str::<Envelope>(&newer).unwrap(), envelope);
    // A bad origin is refused.
    let bad_origin = json.replace("\"origin\":\"api-1\"", "\"origin\":\"api 1\"");
    assert!(serde_json::from_str::<Envelope>(&bad_origin).is_err());
}

#[test]
fn indicator_events_need_one_value_per_output() {
    let macd: OutputSpec = "macd".parse().unwrap();
    let time = BarTime::Timestamp(at(0));
    let error = IndicatorEvent::new(symbol("AAPL"), macd, time, &[1.0]).unwrap_err();
    assert!(
        matches!(&error, BusError::InvalidEvent(m) if m.contains("3 output(s), 1 value(s)")),
        "{error}"
    );
    let signal_only: OutputSpec = "macd.signal".parse().unwrap();
    let event = IndicatorEvent::new(symbol("AAPL"), signal_only, time, &[0.5]).unwrap();
    assert_eq!(
        event.values,
        BTreeMap::from([("macd:12:26:9.signal".to_owned(), Some(0.5))])
    );
    let rsi: OutputSpec = "rsi".parse().unwrap();
    let event = IndicatorEvent::new(symbol("AAPL"), rsi, time, &[f64::INFINITY]).unwrap();
    assert_eq!(event.values, BTreeMap::from([("rsi:14".to_owned(), None)]));
}

#[test]
fn quote_events_carry_the_quote() {
    let event = QuoteEvent::from(&quote("AAPL", 7));
    assert_eq!(event.symbol, symbol("AAPL"));
    assert_eq!(event.price, 190.25);
    assert_eq!(event.previous_close, Some(188.0));
    let change = event.change_percent.unwrap();
    assert!((change - (190.25 - 188.0) / 188.0 * 100.0).abs() < 1e-12, "{change}");
    assert_eq!(
        (event.day_low, event.day_high, event.volume),
        (Some(187.5), Some(191.0), Some(7))
    );
    assert_eq!(event.time, at(0));
    let bare = QuoteEvent::from(&Quote::new(symbol("^GSPC"), 5000.0, at(0)).unwrap());
    assert_eq!(
        (bare.previous_close, bare.change_percent, bare.volume),
        (None, None, None)
    );
}

#[test]
fn instance_ids_are_checked() {
    assert_eq!(instance("api-1").as_str(), "api-1");
    for bad in ["", "api 1", "api\n", &"x".repeat(65)] {
        assert!(matches!(InstanceId::new(bad), Err(BusError::Config(_))), "{bad:?}");
    }
    let generated = InstanceId::generate("api server");
    assert!(generated.as_str().starts_with("apiserver-"), "{generated}");
    assert!(InstanceId::new(generated.as_str()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// The local bus

/// One reading of the recorder (reading resets its counters): every series with its labels.
struct Seen(Vec<Series>);

/// A series: its name, labels and value.
type Series = (String, Vec<(String, String)>, u64);

impl Seen {
    fn take(snapshotter: &Snapshotter) -> Self {
        let series = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let value = match value {
                    DebugValue::Counter(n) => n,
                    DebugValue::Gauge(g) => g.into_inner() as u64,
                    DebugValue::Histogram(h) => h.len() as u64,
                };
                let labels = key
                    .key()
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                (key.key().name().to_owned(), labels, value)
            })
            .collect();
        Seen(series)
    }

    /// The sum of `name` over the series whose labels include `labels` (a histogram counts its
    /// observations, a gauge its value).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(.., value)| value)
            .sum()
    }

    fn total(&self, name: &str) -> u64 {
        self.get(name, &[])
    }
}

/// The next event, failing the test after 10 s or on a lag report.
async fn next_event(receiver: &mut BusReceiver) -> Arc<Envelope> {
    match tokio::time::timeout(Duration::from_secs(10), receiver.recv()).await {
        Ok(Some(BusMessage::Event(envelope))) => envelope,
        Ok(other) => panic!("expected an event, got {other:?}"),
        Err(_) => panic!("no event within 10 s"),
    }
}

#[tokio::test]
async fn the_local_bus_gives_every_subscriber_every_event_in_order_without_copies() {
    let bus = LocalBus::default();
    assert_eq!((bus.backend(), bus.capacity()), ("local", 65_536));
    let origin = instance("embedded");
    // Nobody listens: the event goes nowhere, and publishing still succeeds.
    bus.publish(numbered("AAPL", 0, &origin)).await.unwrap();
    let mut receivers: Vec<BusReceiver> = (0..3).map(|_| bus.subscribe()).collect();
    assert_eq!(bus.receiver_count(), 3);
    for seq in 1..=1_000 {
        let sym = ["AAPL", "MSFT", "IBM"][seq as usize % 3];
        bus.publish(numbered(sym, seq, &origin)).await.unwrap();
    }
    bus.publish_batch((1_001..=1_100).map(|seq| numbered("AAPL", seq, &origin)).collect())
        .await
        .unwrap();
    let mut first = Vec::new();
    for (i, receiver) in receivers.iter_mut().enumerate() {
        assert_eq!(receiver.len(), 1_100);
        for seq in 1..=1_100 {
            let envelope = next_event(receiver).await;
            assert_eq!(seq_of(&envelope), seq, "receiver {i}");
            if i == 0 {
                first.push(envelope);
            } else {
                assert!(
                    Arc::ptr_eq(&envelope, &first[seq as usize - 1]),
                    "one shared copy per event"
                );
            }
        }
        assert_eq!(receiver.try_recv(), Ok(None));
    }

    // A receiver subscribed later sees only what comes after.
    let mut late = bus.subscribe();
    bus.publish(numbered("AAPL", 2_000, &origin)).await.unwrap();
    assert_eq!(seq_of(&*next_event(&mut late).await), 2_000);

    // Dropping the bus ends every receiver once it has read what was held.
    drop(bus);
    assert_eq!(seq_of(&*next_event(&mut receivers[0]).await), 2_000);
    assert_eq!(receivers[0].recv().await, None);
    assert_eq!(late.recv().await, None);
    assert!(receivers[1].try_recv().is_ok(), "an event is still held for it");
}

#[tokio::test]
async fn a_local_receiver_that_falls_behind_is_told_how_much_it_missed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let bus = metrics::with_local_recorder(&recorder, || LocalBus::new(4)).unwrap();
    let origin = instance("embedded");
    let mut slow = bus.subscribe();
    let mut fast = bus.subscribe();
    for seq in 0..10 {
        bus.publish(numbered("AAPL", seq, &origin)).await.unwrap();
        assert_eq!(seq_of(&*next_event(&mut fast).await), seq);
    }
    // The slow one lost the 6 oldest and is told so, then reads the 4 still held.
    assert_eq!(slow.recv().await, Some(BusMessage::Lagged { missed: 6 }));
    for seq in 6..10 {
        assert_eq!(seq_of(&*next_event(&mut slow).await), seq);
    }
    assert_eq!(slow.try_recv(), Ok(None));
    // try_recv reports lag too.
    for seq in 10..15 {
        bus.publish(numbered("AAPL", seq, &origin)).await.unwrap();
    }
    assert_eq!(slow.try_recv(), Ok(Some(BusMessage::Lagged { missed: 1 })));
    let seen = Seen::take(&snapshotter);
    assert_eq!(seen.get("finstage_bus_lagged_total", &[("backend", "local")]), 7);
    assert_eq!(seen.total("finstage_bus_published_total"), 15);
    assert_eq!(seen.total("finstage_bus_received_total"), 15);
    assert_eq!(seen.total("finstage_bus_publish_seconds"), 15);
}

#[test]
fn a_local_bus_needs_room() {
    for capacity in [0, usize::MAX] {
        assert!(
            matches!(LocalBus::new(capacity), Err(CoreError::Bus(BusError::Config(_)))),
            "{capacity}"
        );
    }
    assert_eq!(LocalBus::new(1).unwrap().capacity(), 1);
}

#[tokio::test]
async fn a_bus_is_usable_as_a_trait_object_and_as_a_stream() {
    use futures_util::StreamExt;
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(16).unwrap());
    let stream = bus.subscribe().into_stream();
    let origin = instance("embedded");
    for seq in 0..3 {
        bus.publish(numbered("AAPL", seq, &origin)).await.unwrap();
    }
    drop(bus);
    let seqs: Vec<u64> = stream
        .map(|message| match message {
            BusMessage::Event(envelope) => seq_of(&envelope),
            other => panic!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(seqs, [0, 1, 2]);
}

// ---------------------------------------------------------------------------------------------
// The Redis bus

/// The Redis the tests use: `FINSTAGE_TEST_REDIS_URL`, or the local default.
fn redis_url() -> String {
    std::env::var("FINSTAGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A plain connection to the test Redis. Fails the test with instructions when Redis is
/// unreachable.
async fn raw_redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let unreachable = |why: &str| {
        format!(
            "Redis is not reachable at {url} ({why}). The bus tests need a Redis server: start one with \
             `redis-server --daemonize yes`, or set FINSTAGE_TEST_REDIS_URL."
        )
    };
    let client = redis::Client::open(url.as_str()).expect("FINSTAGE_TEST_REDIS_URL is a valid Redis URL");
    match tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection()).await {
        Ok(Ok(mut conn)) => match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(_) => conn,
            Err(e) => panic!("{}", unreachable(&e.to_string())),
        },
        Ok(Err(e)) => panic!("{}", unreachable(&e.to_string())),
        Err(_) => panic!("{}", unreachable("no answer within 5 s")),
    }
}

/// A namespace no other test (or test run) uses.
fn namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "fsbus-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn config(url: &str, namespace: &str) -> RedisBusConfig {
    RedisBusConfig {
        namespace: namespace.to_owned(),
        connect_timeout: Duration::from_secs(1),
        publish_timeout: Duration::from_millis(500),
        ping_interval: Duration::from_millis(200),
        ..RedisBusConfig::new(url.parse().expect("a valid Redis URL"))
    }
}

/// A Redis bus on the test Redis, subscribed.
async fn redis_bus(namespace: &str) -> RedisBus {
    raw_redis().await; // fails with instructions when Redis is down
    let bus = RedisBus::new(config(&redis_url(), namespace)).unwrap();
    bus.wait_subscribed(Duration::from_secs(10))
        .await
        .expect("the bus subscribes");
    bus
}

/// Collects `n` events, failing on a lag report or after 10 s without one.
async fn collect(receiver: &mut BusReceiver, n: usize) -> Vec<Arc<Envelope>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(next_event(receiver).await);
    }
    out
}

/// The sequence numbers of `events` from `origin`, in arrival order.
fn seqs_from(events: &[Arc<Envelope>], origin: &InstanceId) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.origin() == origin)
        .map(|e| seq_of(e))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_each_receive_every_publish_their_own_included_in_order_per_publisher() {
    let ns = namespace();
    // Two buses: two publishing connections and two subscriptions, like two API processes.
    let a = Arc::new(redis_bus(&ns).await);
    let b = Arc::new(redis_bus(&ns).await);
    assert_eq!(a.redis_channel(), format!("{ns}:events"));
    let mut at_a = a.subscribe();
    let mut at_b = b.subscribe();
    let (from_a, from_b) = (instance("api-a"), instance("api-b"));
    const N: u64 = 200;

    let publish = |bus: Arc<RedisBus>, origin: InstanceId, sym: &'static str| {
        tokio::spawn(async move {
            for seq in 0..N {
                bus.publish(numbered(sym, seq, &origin)).await.unwrap();
            }
        })
    };
    let (ra, rb) = tokio::join!(
        publish(a.clone(), from_a.clone(), "AAPL"),
        publish(b.clone(), from_b.clone(), "MSFT")
    );
    ra.unwrap();
    rb.unwrap();

    let expected: Vec<u64> = (0..N).collect();
    for (name, receiver) in [("a", &mut at_a), ("b", &mut at_b)] {
        let events = collect(receiver, 2 * N as usize).await;
        assert_eq!(
            seqs_from(&events, &from_a),
            expected,
            "{name} receives a's publishes in order"
        );
        assert_eq!(
            seqs_from(&events, &from_b),
            expected,
            "{name} receives b's publishes in order"
        );
        assert_eq!(receiver.try_recv(), Ok(None), "{name}: each event once");
    }
}

#[tokio::test]
async fn an_instance_receives_its_own_publishes_through_redis() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let ns = namespace();
    raw_redis().await;
    let bus = metrics::with_local_recorder(&recorder, || RedisBus::new(config(&redis_url(), &ns))).unwrap();
    bus.wait_subscribed(Duration::from_secs(10)).await.unwrap();
    assert!(bus.is_subscribed());
    let mut receiver = bus.subscribe();
    let mut second = bus.subscribe();
    let origin = instance("api-and-jobs");
    let published = Envelope::now(SignalEvent::new(&signal(), Some(7)), origin.clone());
    bus.publish(published.clone()).await.unwrap();
    let received = next_event(&mut receiver).await;
    assert_eq!(*received, published, "the envelope comes back whole");
    assert_eq!(received.origin(), &origin);
    let again = next_event(&mut second).await;
    assert!(
        Arc::ptr_eq(&received, &again),
        "one decoded copy for every local receiver"
    );

    let seen = Seen::take(&snapshotter);
    assert_eq!(seen.get("finstage_bus_published_total", &[("backend", "redis")]), 1);
    assert_eq!(seen.total("finstage_bus_received_total"), 1);
    assert_eq!(seen.total("finstage_bus_publish_seconds"), 1);
    assert_eq!(seen.total("finstage_bus_subscribed"), 1);
    assert_eq!(seen.total("finstage_bus_errors_total"), 0);
    assert_eq!(seen.total("finstage_bus_reconnects_total"), 0);
}

#[tokio::test]
async fn a_batch_is_delivered_whole_and_in_order() {
    let ns = namespace();
    let bus = redis_bus(&ns).await;
    let mut receiver = bus.subscribe();
    let origin = instance("scheduler-1");
    let n = 2 * MAX_BATCH as u64 + 500; // three Redis messages
    let batch: Vec<Envelope> = (0..n)
        .map(|seq| numbered(["AAPL", "MSFT"][seq as usize % 2], seq, &origin))
        .collect();
    bus.publish_batch(batch).await.unwrap();
    bus.publish_batch(vec![numbered("IBM", n, &origin)]).await.unwrap(); // a batch of one
    bus.publish_batch(Vec::new()).await.unwrap(); // nothing
    let events = collect(&mut receiver, n as usize + 1).await;
    assert_eq!(seqs_from(&events, &origin), (0..=n).collect::<Vec<_>>());
}

#[tokio::test]
async fn namespaces_isolate_buses() {
    let (ns1, ns2) = (namespace(), namespace());
    let one = redis_bus(&ns1).await;
    let two = redis_bus(&ns2).await;
    let mut at_one = one.subscribe();
    let mut at_two = two.subscribe();
    let origin = instance("api-1");
    one.publish(numbered("AAPL", 1, &origin)).await.unwrap();
    // Redis runs commands one at a time: the first publish was done before the second was sent,
    // so had `two` received the first, it would have come before the second.
    two.publish(numbered("AAPL", 2, &origin)).await.unwrap();
    assert_eq!(seq_of(&*next_event(&mut at_two).await), 2, "two never sees one's event");
    assert_eq!(seq_of(&*next_event(&mut at_one).await), 1);
    one.publish(numbered("AAPL", 3, &origin)).await.unwrap();
    assert_eq!(seq_of(&*next_event(&mut at_one).await), 3, "one never sees two's event");
    assert_eq!(at_two.try_recv(), Ok(None));
}

#[tokio::test]
async fn malformed_messages_are_counted_and_skipped() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let ns = namespace();
    let mut raw = raw_redis().await;
    let bus = metrics::with_local_recorder(&recorder, || RedisBus::new(config(&redis_url(), &ns))).unwrap();
    bus.wait_subscribed(Duration::from_secs(10)).await.unwrap();
    let mut receiver = bus.subscribe();
    let origin = instance("api-1");
    let good = numbered("AAPL", 1, &origin).to_json().unwrap();
    let garbage: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"".to_vec(),
        vec![0xff, 0xfe, b'{'],
        b"{\"channel\":\"quotes:AAPL\"}".to_vec(),
        b"[1, 2, 3]".to_vec(),
        format!("[{good}, 17]").into_bytes(), // a batch is decoded whole or not at all
        good.replace("quotes:AAPL", "quotes:MSFT").into_bytes(),
        good.replace("\"type\":\"quote\"", "\"type\":\"trade\"").into_bytes(),
        b"{\"channel\":\"signals:*\",\"event\":{}}".to_vec(),
    ];
    // As `redis-cli PUBLISH {ns}:events <garbage>` would.
    for payload in &garbage {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(bus.redis_channel())
            .arg(payload)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let _: i64 = redis::cmd("PUBLISH")
        .arg(bus.redis_channel())
        .arg(&good)
        .query_async(&mut raw)
        .await
        .unwrap();
    bus.publish(numbered("AAPL", 2, &origin)).await.unwrap();
    // The subscription survived every bad message, and the good ones arrive.
    assert_eq!(seq_of(&*next_event(&mut receiver).await), 1);
    assert_eq!(seq_of(&*next_event(&mut receiver).await), 2);
    assert_eq!(receiver.try_recv(), Ok(None));
    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.get(
            "finstage_bus_errors_total",
            &[("backend", "redis"), ("kind", "malformed")]
        ),
        garbage.len() as u64
    );
    assert_eq!(seen.total("finstage_bus_errors_total"), garbage.len() as u64);
    assert_eq!(seen.total("finstage_bus_received_total"), 2);
    assert!(bus.is_subscribed());
}

#[tokio::test]
async fn while_redis_is_down_publishes_fail_fast_and_the_subscription_resumes_after() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut proxy = Proxy::start().await;
    let ns = namespace();
    let publish_timeout = Duration::from_millis(500);
    let bus = metrics::with_local_recorder(&recorder, || {
        RedisBus::new(RedisBusConfig {
            publish_timeout,
            ..config(proxy.url(), &ns)
        })
    })
    .unwrap();
    bus.wait_subscribed(Duration::from_secs(10)).await.unwrap();
    let mut receiver = bus.subscribe();
    let origin = instance("api-1");
    bus.publish(numbered("AAPL", 1, &origin)).await.unwrap();
    assert_eq!(seq_of(&*next_event(&mut receiver).await), 1);

    // Down: every connection closed, new ones refused.
    proxy.stop().await;
    for seq in 2..5 {
        let started = Instant::now();
        let result = bus.publish(numbered("AAPL", seq, &origin)).await;
        let elapsed = started.elapsed();
        match result {
            Err(CoreError::Bus(BusError::Unavailable {
                backend: "redis",
                message,
            })) => {
                assert!(
                    message.contains(&proxy.redacted_url()),
                    "the error names the server: {message}"
                );
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(
            elapsed < publish_timeout,
            "a publish took {elapsed:?} to fail, more than {publish_timeout:?}"
        );
    }
    let started = Instant::now();
    let batch = (5..15).map(|seq| numbered("AAPL", seq, &origin)).collect();
    assert!(matches!(
        bus.publish_batch(batch).await,
        Err(CoreError::Bus(BusError::Unavailable { .. }))
    ));
    assert!(started.elapsed() < publish_timeout);
    assert!(bus.ping().await.is_err());
    wait_until("the bus notices the lost subscription", || !bus.is_subscribed()).await;
    let seen = Seen::take(&snapshotter);
    assert_eq!(seen.get("finstage_bus_lost_total", &[("backend", "redis")]), 3 + 10);
    assert_eq!(seen.get("finstage_bus_errors_total", &[("kind", "unavailable")]), 4);
    assert!(seen.get("finstage_bus_errors_total", &[("kind", "subscription")]) >= 1);
    assert_eq!(
        seen.total("finstage_bus_published_total"),
        1,
        "the one before the outage"
    );

    // Back: the subscription resumes by itself, on the same receiver; events flow again.
    proxy.restart().await;
    bus.wait_subscribed(Duration::from_secs(30))
        .await
        .expect("the subscription resumes");
    bus.ping().await.unwrap();
    bus.publish(numbered("AAPL", 100, &origin)).await.unwrap();
    assert_eq!(
        seq_of(&*next_event(&mut receiver).await),
        100,
        "nothing published while down arrives"
    );
    assert_eq!(receiver.try_recv(), Ok(None));
    let seen = Seen::take(&snapshotter);
    assert_eq!(seen.get("finstage_bus_reconnects_total", &[("backend", "redis")]), 1);
    assert_eq!(
        seen.total("finstage_bus_published_total"),
        1,
        "the one after the outage"
    );
    assert_eq!(seen.total("finstage_bus_lost_total"), 0);
}

#[tokio::test]
async fn a_redis_that_stops_answering_fails_publishes_at_the_deadline_and_is_left_for_a_new_connection() {
    let proxy = Proxy::start().await;
    let ns = namespace();
    let publish_timeout = Duration::from_millis(300);
    let bus = RedisBus::new(RedisBusConfig {
        publish_timeout,
        ..config(proxy.url(), &ns)
    })
    .unwrap();
    bus.wait_subscribed(Duration::from_secs(10)).await.unwrap();
    let mut receiver = bus.subscribe();
    let origin = instance("api-1");

    // A black hole: connections stay open, nothing comes back.
    proxy.freeze(true);
    let started = Instant::now();
    let result = bus.publish(numbered("AAPL", 1, &origin)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(CoreError::Bus(BusError::Timeout { backend: "redis", after })) if after == publish_timeout),
        "{result:?}"
    );
    assert!(
        elapsed >= publish_timeout && elapsed < publish_timeout + Duration::from_secs(1),
        "{elapsed:?}"
    );
    // The subscription's PING goes unanswered: the bus gives the connection up.
    wait_until("the bus gives up the silent subscription", || !bus.is_subscribed()).await;

    proxy.freeze(false);
    bus.wait_subscribed(Duration::from_secs(30))
        .await
        .expect("the subscription resumes");
    bus.publish(numbered("AAPL", 2, &origin)).await.unwrap();
    // The frozen publish may or may not have reached Redis; the new one arrives, last.
    let event = next_event(&mut receiver).await;
    let event = if seq_of(&event) == 1 {
        next_event(&mut receiver).await
    } else {
        event
    };
    assert_eq!(seq_of(&event), 2);
}

const PASSWORD: &str = "hunter2-Sup3rSecret";

#[tokio::test]
async fn the_password_never_reaches_debug_errors_or_logs() {
    let logs = LogCapture::default();
    let _capture = logs.install();
    let mut proxy = Proxy::start_with_password(Some(PASSWORD)).await;
    proxy.stop().await;
    let ns = namespace();
    let config = config(proxy.url(), &ns);
    assert!(
        config.url.expose_secret().contains(PASSWORD),
        "the test must use a password"
    );
    assert_no_password("RedisBusConfig Debug", &format!("{config:?}"));

    // Down, with a password.
    let bus = RedisBus::new(config).unwrap();
    assert_no_password("RedisBus Debug", &format!("{bus:?}"));
    assert!(format!("{bus:?}").contains(":***@"), "{bus:?}");
    let error = bus.publish(numbered("AAPL", 1, &instance("api-1"))).await.unwrap_err();
    assert_no_password("a publish error", &error.to_string());
    assert_no_password("a publish error's Debug", &format!("{error:?}"));
    wait_until("the subscription attempt is logged", || {
        logs.text().contains("cannot subscribe")
    })
    .await;

    // Up, refusing the password.
    proxy.restart().await;
    let error = bus.ping().await.unwrap_err();
    assert!(
        matches!(error, CoreError::Bus(BusError::Unavailable { .. })),
        "{error:?}"
    );
    assert_no_password("an authentication error", &error.to_string());

    // A bad URL with a password.
    let bad = RedisBus::new(RedisBusConfig {
        url: format!("rediss://:{PASSWORD}@127.0.0.1:1/0").parse().unwrap(),
        ..RedisBusConfig::new("redis://127.0.0.1:1/0".parse().unwrap())
    })
    .unwrap_err();
    assert!(matches!(bad, CoreError::Bus(BusError::Config(_))), "{bad:?}");
    assert_no_password("a configuration error", &bad.to_string());

    drop(bus);
    let logs = logs.text();
    assert!(logs.contains(":***@"), "the warnings name the redacted URL: {logs}");
    assert_no_password("the logs", &logs);
}

fn assert_no_password(what: &str, text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked into {what}: {text}");
}

#[tokio::test]
async fn bad_configurations_are_config_errors() {
    let ok = config(&redis_url(), &namespace());
    let cases = [
        RedisBusConfig {
            namespace: String::new(),
            ..ok.clone()
        },
        RedisBusConfig {
            namespace: "a:b".into(),
            ..ok.clone()
        },
        RedisBusConfig {
            namespace: "a b".into(),
            ..ok.clone()
        },
        RedisBusConfig {
            publish_timeout: Duration::ZERO,
            ..ok.clone()
        },
        RedisBusConfig {
            connect_timeout: Duration::ZERO,
            ..ok.clone()
        },
        RedisBusConfig {
            ping_interval: Duration::ZERO,
            ..ok.clone()
        },
        RedisBusConfig {
            capacity: 0,
            ..ok.clone()
        },
    ];
    for config in cases {
        match RedisBus::new(config.clone()) {
            Err(CoreError::Bus(BusError::Config(message))) => assert!(!message.is_empty()),
            other => panic!("{config:?}: expected a config error, got {other:?}"),
        }
    }
    let defaults = RedisBusConfig::new("redis://127.0.0.1:6379/0".parse().unwrap());
    assert_eq!(defaults.namespace, "finstage");
    assert_eq!(
        (
            defaults.connect_timeout,
            defaults.publish_timeout,
            defaults.ping_interval,
            defaults.capacity
        ),
        (
            Duration::from_secs(1),
            Duration::from_millis(500),
            Duration::from_secs(5),
            65_536
        )
    );
}

#[test]
fn a_redis_bus_needs_a_runtime() {
    let ok = config(&redis_url(), &namespace());
    assert!(matches!(RedisBus::new(ok), Err(CoreError::Bus(BusError::Config(m))) if m.contains("runtime")));
}

#[tokio::test]
async fn dropping_a_redis_bus_ends_its_receivers() {
    let bus = redis_bus(&namespace()).await;
    let mut receiver = bus.subscribe();
    drop(bus);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), receiver.recv()).await,
        Ok(None)
    );
}

// ---------------------------------------------------------------------------------------------
// Test plumbing: a condition wait, a TCP proxy that takes "Redis" down, a log capture.

/// Waits until `cond` holds (yielding to other tasks between checks), failing after 30 s of real
/// time.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::task::yield_now().await;
    }
}

/// A [`TcpProxy`] in front of the test Redis, with the Redis URL that goes through it.
struct Proxy {
    inner: TcpProxy,
    url: String,
}

impl Proxy {
    async fn start() -> Proxy {
        raw_redis().await; // fail early, with instructions, if Redis is down
        Self::start_with_password(None).await
    }

    /// A proxy whose URL carries `password` instead of the test URL's.
    async fn start_with_password(password: Option<&str>) -> Proxy {
        let info = redis_url().as_str().into_connection_info().unwrap();
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            panic!("the proxy tests need a TCP Redis URL")
        };
        let inner = TcpProxy::start(&host, port).await;
        let redis = info.redis_settings();
        let password = password
            .map(str::to_owned)
            .or_else(|| redis.password().map(str::to_owned));
        let auth = match (redis.username(), password) {
            (user, Some(pw)) => format!("{}:{pw}@", user.unwrap_or_default()),
            (Some(user), None) => format!("{user}@"),
            (None, None) => String::new(),
        };
        let url = format!("redis://{auth}127.0.0.1:{}/{}", inner.port(), redis.db());
        Proxy { inner, url }
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn redacted_url(&self) -> String {
        self.url.parse::<finstage_cache::RedisUrl>().unwrap().to_string()
    }
}

impl std::ops::Deref for Proxy {
    type Target = TcpProxy;

    fn deref(&self) -> &TcpProxy {
        &self.inner
    }
}

impl std::ops::DerefMut for Proxy {
    fn deref_mut(&mut self) -> &mut TcpProxy {
        &mut self.inner
    }
}

/// Collects every tracing event (all levels, all fields) emitted on this thread while installed.
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<String>>);

impl LogCapture {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

struct FieldWriter<'a>(&'a mut String);

impl tracing::field::Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "{}", event.metadata().level());
        event.record(&mut FieldWriter(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
