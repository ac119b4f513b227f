//! `finstage-wsload`: a load generator for the WebSocket stream `/v1/stream`, loopback only.
//!
//! ```text
//! finstage-wsload serve   [--addr 127.0.0.1:9300] [--symbols 500] [--tick-ms 1000] [--slices 1] [--workers 2]
//!                         [--redis redis://127.0.0.1:6379 --namespace NS [--publish false]]
//!                         [--send-queue 1024] [--duration 600]
//! finstage-wsload publish --redis redis://127.0.0.1:6379 --namespace NS [--symbols 500] [--tick-ms 1000]
//!                         [--slices 1] [--duration 60]
//! finstage-wsload run     [--url ws://127.0.0.1:9300/v1/stream] [--connections 1000] [--channels 10]
//!                         [--symbols 500] [--duration 30] [--ramp 200]
//! finstage-wsload yahoo   [--symbols 50] [--bars 260] [--duration 600] [--url-file PATH]
//! ```
//!
//! - `serve` runs the stream hub of `finstage-api` behind a minimal actix server with only
//!   `/v1/stream`, on an in-process bus with a ticker publishing `--symbols` quotes every
//!   `--tick-ms` (or on a Redis bus, fed by `publish` or by the ticker), and prints its RSS every
//!   5 s. `--slices N` spreads each tick's quotes over the tick in N equal batches (as quotes
//!   arrive in production) instead of one burst of all of them.
//! - `publish` ticks the quotes into a Redis bus (the bus's own envelope format).
//! - `run` opens `--connections` connections (at most `--ramp` handshakes at a time), each
//!   subscribed to `--channels` quote channels spread over `--symbols` symbols, waits until all
//!   are subscribed, then for `--duration` seconds measures publish-to-receive latency from each
//!   event's `published_at`, and prints p50/p90/p99/max, messages per second, sequence gaps and
//!   errors. It reads only the fields it measures from each frame (a borrowing parse), since it
//!   shares the machine with the server.
//! - `yahoo` starts the mock Yahoo chart server of `finstage-test-support` (`MockYahoo`) on
//!   `127.0.0.1` (a free port) serving `--symbols` synthetic symbols `S0000`, `S0001`, … with
//!   `--bars` daily bars each (a seeded random walk per symbol, ending on the newest weekday), for
//!   `finstage-api` to use as its provider (`FINSTAGE_YAHOO_BASE_URL`): it prints the base URL, and
//!   writes it to `--url-file` when given, then serves until `--duration` ends or Ctrl-C.
//!
//! Durations are in seconds; every count and duration is bounded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc, Weekday};
use finstage_api::stream::{StreamHub, StreamOptions, configure_actix};
use finstage_core::bus::{Envelope, EventBus, InstanceId, LocalBus, QuoteEvent, RedisBus, RedisBusConfig};
use finstage_domain::Symbol;
use finstage_test_support::{MockYahoo, fixtures};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const USAGE: &str = "usage: finstage-wsload serve|publish|run|yahoo [--option value]… (see the crate documentation)";

/// Most samples kept over all connections (4 bytes each).
const MAX_SAMPLES: usize = 50_000_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or(USAGE)?;
    let options = Options::parse(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match mode.as_str() {
        "serve" => runtime.block_on(serve(&options)),
        "publish" => runtime.block_on(publish(&options)),
        "run" => runtime.block_on(run(&options)),
        "yahoo" => runtime.block_on(yahoo(&options)),
        _ => Err(USAGE.into()),
    }
}

/// `--key value` pairs.
struct Options(HashMap<String, String>);

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self> {
        let mut map = HashMap::new();
        while let Some(key) = args.next() {
            let name = key
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected {key:?}; {USAGE}"))?;
            let value = args.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_owned(), value);
        }
        Ok(Self(map))
    }

    fn text(&self, key: &str, default: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, key: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64> {
        let value = match self.0.get(key) {
            Some(text) => text.parse().map_err(|_| format!("--{key} {text:?} is not a number"))?,
            None => default,
        };
        if !range.contains(&value) {
            return Err(format!("--{key} must be in {}..={}", range.start(), range.end()).into());
        }
        Ok(value)
    }

    fn duration(&self, default: u64) -> Result<Duration> {
        Ok(Duration::from_secs(self.number("duration", default, 1..=3600)?))
    }
}

/// Refuses anything but a loopback host.
fn check_loopback(host: &str) -> Result<()> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!("{host} is not a loopback address: this tool only targets this machine").into())
    }
}

/// The host of `scheme://host[:port]/…`.
fn url_host(url: &str) -> Result<&str> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or("a URL needs a scheme")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        return Ok(authority.split_inclusive(']').next().unwrap_or(authority));
    }
    Ok(authority.split(':').next().unwrap_or(authority))
}

fn symbols(count: u64) -> Result<Vec<Symbol>> {
    (0..count)
        .map(|i| Symbol::parse(&format!("S{i:04}")).map_err(|e| e.to_string().into()))
        .collect()
}

fn redis_bus(options: &Options) -> Result<Arc<RedisBus>> {
    let url = options.text("redis", "redis://127.0.0.1:6379");
    check_loopback(url_host(&url)?)?;
    let mut config = RedisBusConfig::new(url.parse().map_err(|e| format!("--redis: {e}"))?);
    config.namespace = options.text("namespace", "wsload");
    Ok(Arc::new(RedisBus::new(config)?))
}

/// Publishes one quote of each of `symbols` every `tick` until `until`: all at once (`slices`
/// 1, a burst per tick), or in `slices` equal batches spread evenly over the tick.
async fn tick(bus: Arc<dyn EventBus>, symbols: Vec<Symbol>, tick: Duration, slices: usize, until: Instant) {
    let origin = InstanceId::generate("wsload");
    let slices = slices.clamp(1, symbols.len().max(1));
    let mut ticks = tokio::time::interval(tick / slices as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u64;
    while Instant::now() < until {
        ticks.tick().await;
        let slice = (n % slices as u64) as usize;
        let round = n / slices as u64 + 1;
        n += 1;
        let (from, to) = (symbols.len() * slice / slices, symbols.len() * (slice + 1) / slices);
        let now = Utc::now();
        let batch = symbols[from..to]
            .iter()
            .enumerate()
            .map(|(i, symbol)| {
                let quote = QuoteEvent {
                    symbol: *symbol,
                    price: 100.0 + ((round + (from + i) as u64) % 100) as f64 / 10.0,
                    previous_close: Some(100.0),
                    change_percent: None,
                    day_high: None,
                    day_low: None,
                    volume: Some(round),
                    time: now,
                };
                Envelope::new(quote, origin.clone(), now)
            })
            .collect();
        if let Err(error) = bus.publish_batch(batch).await {
            eprintln!("publish failed: {error}");
        }
    }
}

/// The resident set size of this process, in MiB (Linux).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn serve(options: &Options) -> Result<()> {
    let addr: SocketAddr = options.text("addr", "127.0.0.1:9300").parse()?;
    check_loopback(&addr.ip().to_string())?;
    let duration = options.duration(600)?;
    let symbols = symbols(options.number("symbols", 500, 1..=10_000)?)?;
    let tick_every = Duration::from_millis(options.number("tick-ms", 1000, 10..=60_000)?);
    let slices = options.number("slices", 1, 1..=1000)? as usize;
    let workers = options.number("workers", 2, 1..=64)? as usize;
    let stream = StreamOptions {
        send_queue: options.number("send-queue", 1024, 1..=1_000_000)? as usize,
        ..StreamOptions::default()
    };
    let (bus, publish): (Arc<dyn EventBus>, bool) = if options.0.contains_key("redis") {
        let bus = redis_bus(options)?;
        bus.wait_subscribed(Duration::from_secs(5)).await?;
        (bus, options.text("publish", "false") == "true")
    } else {
        (Arc::new(LocalBus::default()), true)
    };
    let hub = StreamHub::new(bus.clone(), stream)?;
    let listener = TcpListener::bind(addr)?;
    let app_hub = hub.clone();
    let server = actix_web::HttpServer::new(move || actix_web::App::new().configure(configure_actix(app_hub.clone())))
        .listen(listener)?
        .workers(workers)
        .backlog(8192)
        .disable_signals()
        .shutdown_timeout(1)
        .run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    let until = Instant::now() + duration;
    if publish {
        tokio::spawn(tick(bus.clone(), symbols.clone(), tick_every, slices, until));
    }
    println!(
        "serving ws://{addr}/v1/stream on the {} bus ({} symbols every {tick_every:?}{}), for {duration:?}",
        bus.backend(),
        symbols.len(),
        if publish { "" } else { ", not published here" }
    );
    let mut report = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = report.tick() => {
                let stats = hub.stats();
                println!(
                    "rss {:.1} MiB, connections {}, subscriptions {}, events {}, conflated {}, slow {}",
                    rss_mib().unwrap_or(f64::NAN), stats.connections, stats.subscriptions, stats.events,
                    stats.conflated, stats.slow
                );
                if Instant::now() >= until {
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    hub.shutdown(Duration::from_secs(5)).await;
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}

async fn publish(options: &Options) -> Result<()> {
    let duration = options.duration(60)?;
    let symbols = symbols(options.number("symbols", 500, 1..=10_000)?)?;
    let tick_every = Duration::from_millis(options.number("tick-ms", 1000, 10..=60_000)?);
    let slices = options.number("slices", 1, 1..=1000)? as usize;
    let bus = redis_bus(options)?;
    println!(
        "publishing {} symbols every {tick_every:?} to {} for {duration:?}",
        symbols.len(),
        bus.redis_channel()
    );
    tick(bus, symbols, tick_every, slices, Instant::now() + duration).await;
    Ok(())
}

/// Serves synthetic daily bars for `--symbols` symbols from a mock Yahoo until the duration ends.
async fn yahoo(options: &Options) -> Result<()> {
    let duration = options.duration(600)?;
    let count = options.number("symbols", 50, 1..=10_000)?;
    let bars = options.number("bars", 260, 1..=10_000)? as usize;
    // The bars end on the newest weekday, so that the served quotes look current.
    let mut first = Utc::now().date_naive();
    let mut weekdays = 0;
    while weekdays < bars {
        first = first.pred_opt().ok_or("no date before the first bar")?;
        if !matches!(first.weekday(), Weekday::Sat | Weekday::Sun) {
            weekdays += 1;
        }
    }
    let mock = MockYahoo::start().await;
    // A long benchmark would otherwise keep the newest 100,000 requests in memory.
    mock.set_request_log_capacity(0);
    for (i, symbol) in symbols(count)?.iter().enumerate() {
        mock.add_symbol(
            symbol.as_str(),
            fixtures::synthetic_daily_bars(first, bars, i as u64 + 1),
        );
    }
    let url = mock.base_url();
    if let Some(path) = options.0.get("url-file") {
        std::fs::write(path, format!("{url}\n")).map_err(|e| format!("--url-file {path}: {e}"))?;
    }
    println!(
        "mock Yahoo at {url}: {count} symbols S0000..S{:04}, {bars} daily bars each, for {duration:?}",
        count - 1
    );
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("{} requests served", mock.total_requests());
    mock.shutdown().await;
    Ok(())
}

/// What the clients share.
struct Shared {
    measuring: AtomicBool,
    subscribed: AtomicU64,
    errors: AtomicU64,
    per_client_samples: usize,
}

/// What one client saw while measuring.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    messages: u64,
    gaps: u64,
    conflated: u64,
}

async fn run(options: &Options) -> Result<()> {
    let url = options.text("url", "ws://127.0.0.1:9300/v1/stream");
    check_loopback(url_host(&url)?)?;
    let connections = options.number("connections", 1000, 1..=20_000)? as usize;
    let channels = options.number("channels", 10, 1..=100)? as usize;
    let symbols = options.number("symbols", 500, 1..=10_000)? as usize;
    let duration = options.duration(30)?;
    let ramp = options.number("ramp", 200, 1..=5_000)? as usize;
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        subscribed: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        per_client_samples: MAX_SAMPLES / connections,
    });
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let gate = Arc::new(tokio::sync::Semaphore::new(ramp));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        let names: Vec<String> = (0..channels)
            .map(|j| format!("quotes:S{:04}", (i * channels + j) % symbols))
            .collect();
        let (url, shared, gate, stop) = (url.clone(), shared.clone(), gate.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let seen = client(&url, names, &shared, gate, stop).await;
            seen.unwrap_or_else(|error| {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("client {i}: {error}");
                Seen::default()
            })
        }));
    }
    // Wait until every client is subscribed (or failed), for at most a minute.
    let ramp_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = shared.subscribed.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed);
        if ready >= connections as u64 || Instant::now() > ramp_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{} of {connections} connections subscribed to {channels} channels each in {:.1} s; measuring for {duration:?}",
        shared.subscribed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    shared.measuring.store(true, Ordering::Relaxed);
    let measure_start = Instant::now();
    tokio::time::sleep(duration).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let measured = measure_start.elapsed();
    let _ = stop_tx.send(true);
    let mut all = Vec::new();
    let (mut messages, mut gaps, mut conflated) = (0u64, 0u64, 0u64);
    for task in tasks {
        if let Ok(seen) = task.await {
            messages += seen.messages;
            gaps += seen.gaps;
            conflated += seen.conflated;
            all.extend(seen.latencies_us);
        }
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        all[rank.clamp(1, all.len()) - 1] as f64 / 1000.0
    };
    println!(
        "events received {messages} ({:.0}/s) over {:.1} s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; \
         seq gaps {gaps}, conflated {conflated}, errors {}",
        messages as f64 / measured.as_secs_f64(),
        measured.as_secs_f64(),
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0),
        shared.errors.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The fields of a server frame the loader reads (the others are skipped unparsed).
#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, borrow)]
    published_at: Option<Cow<'a, str>>,
    #[serde(default)]
    conflated: bool,
}

/// Records `seq` as the channel's latest; returns the previous one.
fn set_seq(seqs: &mut HashMap<String, u64>, channel: &str, seq: u64) -> Option<u64> {
    match seqs.get_mut(channel) {
        Some(last) => Some(std::mem::replace(last, seq)),
        None => seqs.insert(channel.to_owned(), seq),
    }
}

async fn client(
    url: &str,
    channels: Vec<String>,
    shared: &Shared,
    gate: Arc<tokio::sync::Semaphore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Seen> {
    let mut ws = {
        let _permit = gate.acquire().await?;
        let (mut ws, _) = tokio::time::timeout(Duration::from_secs(30), tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "no handshake within 30 s")??;
        let subscribe = serde_json::json!({"op": "subscribe", "channels": channels});
        ws.send(Message::text(subscribe.to_string())).await?;
        ws
    };
    let mut seen = Seen::default();
    let mut seqs: HashMap<String, u64> = HashMap::with_capacity(channels.len());
    let mut snapshots = 0;
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = stop.changed() => break,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(close))) => return Err(format!("closed by the server: {close:?}").into()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => return Err("the connection ended".into()),
        };
        let received = Utc::now();
        // Only the fields measured, borrowed from the text: the loader shares the machine with
        // the server, so its own cost per frame is kept small.
        let frame: Incoming<'_> = serde_json::from_str(&text)?;
        let channel = frame.channel.as_deref().unwrap_or_default();
        let seq = frame.seq.unwrap_or(0);
        match frame.kind.as_ref() {
            "snapshot" => {
                set_seq(&mut seqs, channel, seq);
                snapshots += 1;
                if snapshots == channels.len() {
                    shared.subscribed.fetch_add(1, Ordering::Relaxed);
                }
            }
            "quote" | "signal" | "indicator" => {
                if let Some(last) = set_seq(&mut seqs, channel, seq)
                    && seq != last + 1
                    && shared.measuring.load(Ordering::Relaxed)
                {
                    seen.gaps += 1;
                }
                if !shared.measuring.load(Ordering::Relaxed) {
                    continue;
                }
                seen.messages += 1;
                if frame.conflated {
                    seen.conflated += 1;
                }
                let published = frame
                    .published_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .ok_or("an event without published_at")?;
                let micros = (received - published.with_timezone(&Utc))
                    .num_microseconds()
                    .unwrap_or(0);
                if seen.latencies_us.len() < shared.per_client_samples {
                    seen.latencies_us.push(micros.clamp(0, i64::from(u32::MAX)) as u32);
                }
            }
            "error" => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("error frame: {text}");
            }
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(check_loopback(url_host("ws://127.0.0.1:9300/v1/stream").unwrap()).is_ok());
        assert!(check_loopback(url_host("ws://localhost/v1/stream").unwrap()).is_ok());
        assert!(check_loopback(url_host("ws://[::1]:80/").unwrap()).is_ok());
        assert!(check_loopback(url_host("redis://:pw@127.0.0.1:6379/0").unwrap()).is_ok());
        assert!(check_loopback(url_host("ws://example.com/v1/stream").unwrap()).is_err());
        assert!(check_loopback(url_host("ws://10.0.0.1:9300/").unwrap()).is_err());
    }
}
