//! [`RedisBus`]: the bus across processes, on Redis pub/sub.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use finstage_cache::RedisUrl;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::{Cmd, ErrorKind as RedisErrorKind, RedisError};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::stats::{BusMetrics, ErrorKind, SubscriptionMetrics};
use super::{BusError, BusReceiver, DEFAULT_CAPACITY, Envelope, EventBus};
use crate::CoreError;

/// The `backend` label of the Redis bus.
const BACKEND: &str = "redis";

/// Most envelopes in one Redis message; [`EventBus::publish_batch`] splits longer batches.
pub const MAX_BATCH: usize = 1_000;

/// Wait before subscribing again after the subscription was lost or an attempt failed; it
/// doubles after each failed attempt, up to [`MAX_RECONNECT_DELAY`].
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(50);
/// Longest wait between two subscription attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Where and how to reach Redis, and how the bus behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisBusConfig {
    /// The server (`redis://…`; `rediss://` needs TLS support, which this build does not
    /// include). The same URL as the cache's.
    pub url: RedisUrl,
    /// The Redis channel is `{namespace}:events`. Non-empty, at most 128 bytes, no `:`, no
    /// whitespace. Instances share events exactly when they share the namespace.
    pub namespace: String,
    /// Longest wait for one connection attempt (publishing and subscribing).
    pub connect_timeout: Duration,
    /// Longest wait for a whole publish, reconnecting included: past it the publish fails with
    /// [`BusError::Timeout`]. Also the deadline of the subscription's `SUBSCRIBE` and `PING`.
    pub publish_timeout: Duration,
    /// How often the subscription connection is checked with a `PING` (a connection that stops
    /// answering without closing is replaced after at most this plus `publish_timeout`).
    pub ping_interval: Duration,
    /// Events held for a local receiver that is behind (see [`LocalBus`](super::LocalBus)).
    pub capacity: usize,
}

impl RedisBusConfig {
    /// The defaults (namespace `finstage`, 1 s to connect, 500 ms per publish, a `PING` every
    /// 5 s, [`DEFAULT_CAPACITY`]) for `url`.
    pub fn new(url: RedisUrl) -> Self {
        RedisBusConfig {
            url,
            namespace: "finstage".into(),
            connect_timeout: Duration::from_secs(1),
            publish_timeout: Duration::from_millis(500),
            ping_interval: Duration::from_secs(5),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// The bus across processes: every instance that uses the same Redis and namespace receives
/// every event any of them publishes, **its own included**.
///
/// **One Redis channel per namespace**, `{namespace}:events`, for every bus channel. Every API
/// instance wants every event (it fans out to its own WebSocket clients locally), so a Redis
/// channel per bus channel would buy nothing and cost a pattern subscription (a glob match per
/// message per instance); with one channel, Redis does one hash lookup per message, the
/// receiving side subscribes once, and [`publish_batch`](EventBus::publish_batch) can carry a
/// whole job run (500 quotes) as **one** message, a JSON array: Redis' pub/sub cost is per
/// message and per subscriber, so a batch costs each instance one message instead of 500. A
/// message is one [`Envelope`] (a JSON object) or a batch (a JSON array of envelopes);
/// `redis-cli SUBSCRIBE finstage:events` shows them.
///
/// - **Publishing**: `PUBLISH` on a redis-rs `ConnectionManager` (multiplexed, reconnecting),
///   under the `publish_timeout` deadline, reconnection included. While Redis is down a publish
///   fails at once (connection refused) or at the deadline (no answer) with
///   [`BusError::Unavailable`] / [`BusError::Timeout`], and its events are **lost**: pub/sub is
///   at most once. They are counted in `finstage_bus_lost_total`.
/// - **Receiving**: a background task holds a dedicated pub/sub connection subscribed to the
///   channel and forwards every decoded envelope into a local broadcast, which
///   [`subscribe`](EventBus::subscribe) reads: one Redis subscription per instance, however
///   many local receivers. The connection is checked with a `PING` every `ping_interval`; when
///   it is lost the task reconnects and subscribes again (after 50 ms, then backing off up to 1 s),
///   and events published meanwhile are lost to this instance. A message that does not decode
///   is counted (`finstage_bus_errors_total{kind="malformed"}`) and skipped.
/// - **Own publishes** come back through Redis like everyone else's, so an API instance that
///   also runs the jobs delivers exactly what the others do, in the same order, once.
/// - **Order**: the events of one publisher (one sequence of awaited publishes) arrive in
///   publish order at every instance; publishers are not ordered with each other.
/// - **Start**: [`new`](Self::new) does not wait for Redis and does not fail when it is down;
///   [`wait_subscribed`](Self::wait_subscribed) and [`is_subscribed`](Self::is_subscribed) tell
///   when events flow. Configuration errors do fail. It must be called inside a tokio runtime.
///
/// The password never reaches a log, an error or `Debug` output. Dropping the bus stops its
/// task; its receivers then end.
pub struct RedisBus {
    publisher: Publisher,
    sender: broadcast::Sender<Arc<Envelope>>,
    subscribed: watch::Receiver<bool>,
    metrics: BusMetrics,
    task: JoinHandle<()>,
    namespace: String,
    ping_interval: Duration,
    capacity: usize,
}

impl RedisBus {
    /// A bus on Redis; see the type's documentation.
    ///
    /// # Errors
    /// [`BusError::Config`]: bad namespace, zero timeout, interval or capacity, `rediss://`, an
    /// unusable URL, or no tokio runtime.
    pub fn new(config: RedisBusConfig) -> Result<Self, CoreError> {
        let RedisBusConfig {
            url,
            namespace,
            connect_timeout,
            publish_timeout,
            ping_interval,
            capacity,
        } = config;
        check_namespace(&namespace)?;
        if connect_timeout.is_zero() || publish_timeout.is_zero() || ping_interval.is_zero() {
            return Err(config_error(
                "the Redis bus timeouts and ping interval must be above zero".into(),
            ));
        }
        if capacity == 0 || capacity > usize::MAX / 2 {
            return Err(config_error(format!(
                "the bus capacity must be in 1..={}, not {capacity}",
                usize::MAX / 2
            )));
        }
        if url.is_tls() {
            return Err(config_error(format!(
                "{url}: rediss:// (TLS) is not supported by this build; use redis:// (for example through a TLS tunnel)"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| config_error("RedisBus::new must be called inside a tokio runtime".into()))?;
        let secrets = Secrets::of(&url);
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| config_error(format!("invalid Redis URL {url}: {}", secrets.scrub(&e.to_string()))))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(publish_timeout))
            // One attempt per reconnection: a publish must fail fast while Redis is down. The next
            // publish starts another attempt, so the bus recovers as soon as Redis is back.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone()).map_err(|e| {
            config_error(format!(
                "cannot set up the Redis connection: {}",
                secrets.scrub(&e.to_string())
            ))
        })?;
        let metrics = BusMetrics::new(BACKEND);
        let channel = format!("{namespace}:events");
        let (sender, _) = broadcast::channel(capacity);
        let (state, subscribed) = watch::channel(false);
        let subscriber = Subscriber {
            client: client.clone(),
            url: url.clone(),
            secrets: secrets.clone(),
            channel: channel.clone(),
            sender: sender.clone(),
            state,
            connect_timeout,
            response_timeout: publish_timeout,
            ping_interval,
            metrics: metrics.clone(),
            subscription: SubscriptionMetrics::new(BACKEND),
        };
        let task = runtime.spawn(subscriber.run());
        Ok(RedisBus {
            publisher: Publisher {
                conn: RwLock::new(Connection { generation: 0, manager }),
                client,
                manager_config,
                url,
                secrets,
                channel,
                timeout: publish_timeout,
            },
            sender,
            subscribed,
            metrics,
            task,
            namespace,
            ping_interval,
            capacity,
        })
    }

    /// The Redis channel the bus publishes to and subscribes to: `{namespace}:events`.
    pub fn redis_channel(&self) -> &str {
        &self.publisher.channel
    }

    /// Whether the subscription is in place now (events published from now on will arrive).
    pub fn is_subscribed(&self) -> bool {
        *self.subscribed.borrow()
    }

    /// Waits until the subscription is in place, for at most `timeout`.
    ///
    /// # Errors
    /// [`BusError::Timeout`] when it is not in place by then.
    pub async fn wait_subscribed(&self, timeout: Duration) -> Result<(), CoreError> {
        let mut state = self.subscribed.clone();
        match tokio::time::timeout(timeout, state.wait_for(|up| *up)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(BusError::Timeout {
                backend: BACKEND,
                after: timeout,
            }
            .into()),
        }
    }

    /// Checks that Redis answers a `PING` on the publishing connection within the publish
    /// deadline: a readiness probe (with [`is_subscribed`](Self::is_subscribed)).
    ///
    /// # Errors
    /// [`BusError::Unavailable`] or [`BusError::Timeout`].
    pub async fn ping(&self) -> Result<(), CoreError> {
        let _: String = self.publisher.call(&redis::cmd("PING")).await?;
        Ok(())
    }

    async fn publish_payload(&self, payload: Vec<u8>, events: u64) -> Result<(), CoreError> {
        let started = Instant::now();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.publisher.channel).arg(payload);
        match self.publisher.call::<i64>(&cmd).await {
            Ok(_) => {
                self.metrics.publish_seconds.record(started.elapsed());
                self.metrics.published.increment(events);
                Ok(())
            }
            Err(error) => {
                self.metrics.error(match error {
                    BusError::Timeout { .. } => ErrorKind::Timeout,
                    _ => ErrorKind::Unavailable,
                });
                self.metrics.lost.increment(events);
                Err(error.into())
            }
        }
    }

    fn encode_error(&self, error: &serde_json::Error, events: u64) -> CoreError {
        self.metrics.error(ErrorKind::Encode);
        self.metrics.lost.increment(events);
        BusError::Encode(error.to_string()).into()
    }

    async fn publish_one(&self, envelope: Envelope) -> Result<(), CoreError> {
        let payload = serde_json::to_vec(&envelope).map_err(|e| self.encode_error(&e, 1))?;
        self.publish_payload(payload, 1).await
    }

    async fn publish_many(&self, envelopes: Vec<Envelope>) -> Result<(), CoreError> {
        for chunk in envelopes.chunks(MAX_BATCH) {
            let events = chunk.len() as u64;
            let payload = match chunk {
                [one] => serde_json::to_vec(one),
                many => serde_json::to_vec(many),
            }
            .map_err(|e| self.encode_error(&e, events))?;
            self.publish_payload(payload, events).await?;
        }
        Ok(())
    }
}

impl EventBus for RedisBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(self.publish_one(envelope))
    }

    fn publish_batch(&self, envelopes: Vec<Envelope>) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(self.publish_many(envelopes))
    }

    fn subscribe(&self) -> BusReceiver {
        BusReceiver::new(self.sender.subscribe(), self.metrics.lagged.clone())
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("url", &self.publisher.url)
            .field("namespace", &self.namespace)
            .field("channel", &self.publisher.channel)
            .field("publish_timeout", &self.publisher.timeout)
            .field("ping_interval", &self.ping_interval)
            .field("capacity", &self.capacity)
            .field("subscribed", &self.is_subscribed())
            .finish_non_exhaustive()
    }
}

fn config_error(message: String) -> CoreError {
    BusError::Config(message).into()
}

fn check_namespace(namespace: &str) -> Result<(), CoreError> {
    let problem = if namespace.is_empty() {
        "is empty"
    } else if namespace.len() > 128 {
        "is longer than 128 bytes"
    } else if namespace.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "contains a control character or whitespace"
    } else if namespace.contains(':') {
        "contains ':', the separator of Redis names"
    } else {
        return Ok(());
    };
    let shown: String = namespace.chars().take(40).collect();
    Err(config_error(format!("the bus namespace {shown:?} {problem}")))
}

/// What scrubs the password of the bus' Redis URL out of error texts (the URL's own
/// [`RedisUrl::scrub`]).
#[derive(Clone)]
struct Secrets(RedisUrl);

impl Secrets {
    fn of(url: &RedisUrl) -> Self {
        Self(url.clone())
    }

    fn scrub(&self, text: &str) -> String {
        self.0.scrub(text)
    }
}

/// Describes a Redis error for a log or an error message, without the password and without
/// quoting reply data.
fn describe(url: &RedisUrl, secrets: &Secrets, e: &RedisError) -> String {
    let detail = if e.kind() == RedisErrorKind::AuthenticationFailed {
        "authentication failed (check the user and password of the Redis URL)".to_owned()
    } else if e.is_io_error() || e.code().is_some() {
        secrets.scrub(&e.to_string())
    } else {
        format!("unexpected reply ({:?})", e.kind())
    };
    format!("Redis at {url}: {detail}")
}

/// The publishing side: a connection manager replaced when it cannot recover by itself.
struct Publisher {
    conn: RwLock<Connection>,
    client: redis::Client,
    manager_config: ConnectionManagerConfig,
    url: RedisUrl,
    secrets: Secrets,
    channel: String,
    timeout: Duration,
}

/// The connection manager in use, and how many times it was replaced.
struct Connection {
    generation: u64,
    manager: ConnectionManager,
}

impl Publisher {
    fn connection(&self) -> (u64, ConnectionManager) {
        let conn = self.conn.read().unwrap_or_else(PoisonError::into_inner);
        (conn.generation, conn.manager.clone())
    }

    /// Replaces the connection manager that failed (unless another call already did): after a
    /// failed connection attempt other than an I/O error (refused credentials) the manager would
    /// return that failure forever.
    fn renew(&self, failed: u64) -> ConnectionManager {
        let mut conn = self.conn.write().unwrap_or_else(PoisonError::into_inner);
        if conn.generation == failed
            && let Ok(manager) =
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager_config.clone())
        {
            conn.manager = manager;
            conn.generation += 1;
        }
        conn.manager.clone()
    }

    /// Runs one command under the deadline, retrying once on a fresh connection if the
    /// connection turned out broken (Redis restarted, or closed an idle connection). A `PUBLISH`
    /// whose connection broke after it was sent may then, rarely, be delivered twice; losing it
    /// instead would lose a signal to a routine reconnection.
    async fn call<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, BusError> {
        let attempt = async {
            let (generation, mut conn) = self.connection();
            match cmd.query_async::<T>(&mut conn).await {
                // The connection could not be set up: start from a new manager.
                Err(e) if e.kind() == RedisErrorKind::AuthenticationFailed => {
                    cmd.query_async::<T>(&mut self.renew(generation)).await
                }
                // The manager has started a new connection.
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => cmd.query_async::<T>(&mut conn).await,
                other => other,
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(BusError::Unavailable {
                backend: BACKEND,
                message: describe(&self.url, &self.secrets, &e),
            }),
            Err(_) => Err(BusError::Timeout {
                backend: BACKEND,
                after: self.timeout,
            }),
        }
    }
}

/// The receiving side: the background task that keeps one subscription and forwards its
/// messages.
struct Subscriber {
    client: redis::Client,
    url: RedisUrl,
    secrets: Secrets,
    channel: String,
    sender: broadcast::Sender<Arc<Envelope>>,
    state: watch::Sender<bool>,
    connect_timeout: Duration,
    response_timeout: Duration,
    ping_interval: Duration,
    metrics: BusMetrics,
    subscription: SubscriptionMetrics,
}

impl Subscriber {
    /// Subscribes, forwards until the connection is lost, and again, for ever (the bus aborts it).
    async fn run(self) {
        let mut delay = Duration::ZERO;
        let mut ever_subscribed = false;
        let mut failing = false;
        loop {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match self.subscribe().await {
                Ok(pubsub) => {
                    if ever_subscribed {
                        self.subscription.reconnects.increment(1);
                        tracing::info!(url = %self.url, channel = %self.channel, "the event bus subscription is back");
                    }
                    ever_subscribed = true;
                    failing = false;
                    self.state.send_replace(true);
                    self.subscription.subscribed.set(1.0);
                    let why = self.forward(pubsub).await;
                    // Not at once: a connection that Redis accepts and drops straight away must
                    // not make this a busy loop.
                    delay = MIN_RECONNECT_DELAY;
                    self.state.send_replace(false);
                    self.subscription.subscribed.set(0.0);
                    self.metrics.error(ErrorKind::Subscription);
                    tracing::warn!(
                        url = %self.url, channel = %self.channel, reason = %why,
                        "lost the event bus subscription; events published until it is back are lost to this instance"
                    );
                }
                Err(why) => {
                    self.metrics.error(ErrorKind::Subscription);
                    if failing {
                        tracing::debug!(url = %self.url, reason = %why, "the event bus subscription still fails");
                    } else {
                        failing = true;
                        tracing::warn!(
                            url = %self.url, channel = %self.channel, reason = %why,
                            "cannot subscribe to the event bus; retrying until Redis answers"
                        );
                    }
                    delay = (delay * 2).clamp(MIN_RECONNECT_DELAY, MAX_RECONNECT_DELAY);
                }
            }
        }
    }

    /// A new pub/sub connection subscribed to the channel.
    async fn subscribe(&self) -> Result<PubSub, String> {
        let attempt = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, RedisError>(pubsub)
        };
        let deadline = self.connect_timeout + self.response_timeout;
        match tokio::time::timeout(deadline, attempt).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(e)) => Err(describe(&self.url, &self.secrets, &e)),
            Err(_) => Err(format!("Redis at {} did not subscribe within {deadline:?}", self.url)),
        }
    }

    /// Forwards the subscription's messages until the connection closes or stops answering
    /// `PING`; returns why it stopped.
    async fn forward(&self, pubsub: PubSub) -> String {
        let (mut sink, mut stream) = pubsub.split();
        let pinger = async {
            let mut ticks = tokio::time::interval(self.ping_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match tokio::time::timeout(self.response_timeout, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return describe(&self.url, &self.secrets, &e),
                    Err(_) => return format!("no answer to PING within {:?}", self.response_timeout),
                }
            }
        };
        tokio::pin!(pinger);
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => self.deliver(message.get_payload_bytes()),
                    None => return "the connection was closed".to_owned(),
                },
                why = &mut pinger => return why,
            }
        }
    }

    /// Decodes one message (an envelope or an array of them) and hands its envelopes to the local
    /// receivers; a message that does not decode is counted and skipped.
    fn deliver(&self, payload: &[u8]) {
        let batch = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        let decoded = if batch {
            serde_json::from_slice::<Vec<Envelope>>(payload).map(|envelopes| {
                for envelope in envelopes {
                    self.forward_one(envelope);
                }
            })
        } else {
            serde_json::from_slice::<Envelope>(payload).map(|envelope| self.forward_one(envelope))
        };
        if let Err(error) = decoded {
            self.metrics.error(ErrorKind::Malformed);
            tracing::warn!(
                channel = %self.channel, bytes = payload.len(), %error,
                "skipped an event bus message that does not decode"
            );
        }
    }

    fn forward_one(&self, envelope: Envelope) {
        self.metrics.received.increment(1);
        // No local receiver is not an error: nobody here is listening.
        let _ = self.sender.send(Arc::new(envelope));
    }
}
