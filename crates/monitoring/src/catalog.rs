//! The catalogue of every metric Finstage exports: name, type, labels, the crate that emits it and
//! what it means. `docs/OPERATIONS.md` holds the same table (a test keeps the two equal), and the
//! crates still to come take their names from here.
//!
//! Conventions: every name starts with `finstage_` (except the standard `process_*` gauges),
//! carries its unit (`_seconds`, `_milliseconds`, `_bytes`) and, for counters, ends in `_total`.
//! Labels take values from small closed sets (route templates, provider names, task kinds, job
//! names, outcome words), never raw paths, symbols or user input; `job` and `instance` are never
//! used as label names (Prometheus attaches its own and would rename ours to `exported_job`).

use std::fmt;

/// The Prometheus type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Only goes up (until the process restarts).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into buckets, with their sum and count.
    Histogram,
}

impl MetricKind {
    /// `counter`, `gauge` or `histogram`, as in the exposition's `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The exported name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label names, in the order the emitter passes them.
    pub labels: &'static [&'static str],
    /// The crate that emits it.
    pub emitter: &'static str,
    /// `true` while the emitting crate is not written yet: the name is reserved and fixed here.
    pub planned: bool,
    /// What it means (the `# HELP` line).
    pub help: &'static str,
}

macro_rules! catalog {
    ($($id:ident: $kind:ident $name:literal [$($label:literal),*] $emitter:literal $(($planned:ident))? => $help:literal;)*) => {
        $(
            #[doc = concat!("`", $name, "`: ", $help)]
            pub const $id: MetricDef = MetricDef {
                name: $name,
                kind: MetricKind::$kind,
                labels: &[$($label),*],
                emitter: $emitter,
                planned: catalog!(@planned $($planned)?),
                help: $help,
            };
        )*
        /// Every metric, grouped as in `docs/OPERATIONS.md`.
        pub const CATALOG: &[MetricDef] = &[$($id),*];
    };
    (@planned planned) => { true };
    (@planned) => { false };
}

catalog! {
    // HTTP, served by the API.
    HTTP_REQUESTS_TOTAL: Counter "finstage_http_requests_total" ["method", "route", "status"] "finstage-api"
        => "HTTP requests answered, by method, route template (never the raw path) and status code.";
    HTTP_REQUEST_DURATION_MILLISECONDS: Histogram "finstage_http_request_duration_milliseconds" ["method", "route"] "finstage-api"
        => "Time from receiving a request to sending its response, in milliseconds.";
    HTTP_REQUESTS_IN_FLIGHT: Gauge "finstage_http_requests_in_flight" [] "finstage-api"
        => "HTTP requests being served now.";
    // WebSocket streaming.
    WS_CONNECTIONS: Gauge "finstage_ws_connections" [] "finstage-api"
        => "Open WebSocket connections.";
    WS_SUBSCRIPTIONS: Gauge "finstage_ws_subscriptions" [] "finstage-api"
        => "Channel subscriptions held by the open WebSocket connections.";
    WS_MESSAGES_SENT_TOTAL: Counter "finstage_ws_messages_sent_total" ["kind"] "finstage-api"
        => "Frames sent to WebSocket clients, by kind (snapshot, quote, signal, indicator, subscribed, unsubscribed, pong, error).";
    WS_MESSAGES_RECEIVED_TOTAL: Counter "finstage_ws_messages_received_total" ["op"] "finstage-api"
        => "Frames received from WebSocket clients, by operation (subscribe, unsubscribe, ping, invalid).";
    WS_DISCONNECTS_TOTAL: Counter "finstage_ws_disconnects_total" ["reason"] "finstage-api"
        => "WebSocket connections ended, by reason (client, slow, abusive, timeout, shutdown).";
    WS_CONFLATED_TOTAL: Counter "finstage_ws_conflated_total" [] "finstage-api"
        => "Events not delivered to a slow WebSocket client because a later event of the same channel replaced them.";
    WS_DELIVERY_MILLISECONDS: Histogram "finstage_ws_delivery_milliseconds" [] "finstage-api"
        => "Time from publishing an event to writing it to a client, in milliseconds.";
    // Upstream providers.
    UPSTREAM_REQUESTS_TOTAL: Counter "finstage_upstream_requests_total" ["provider", "endpoint", "status"] "finstage-marketdata"
        => "Requests made to a provider, by endpoint and HTTP status or failure kind (timeout, connect, malformed).";
    UPSTREAM_REQUEST_DURATION_SECONDS: Histogram "finstage_upstream_request_duration_seconds" ["provider", "endpoint"] "finstage-marketdata"
        => "Duration of one request to a provider, in seconds.";
    UPSTREAM_RETRIES_TOTAL: Counter "finstage_upstream_retries_total" ["provider", "reason"] "finstage-marketdata"
        => "Calls retried after a retryable failure, by failure kind.";
    UPSTREAM_RATE_LIMITED_TOTAL: Counter "finstage_upstream_rate_limited_total" ["provider"] "finstage-marketdata"
        => "HTTP 429 answers from a provider.";
    UPSTREAM_BREAKER_STATE: Gauge "finstage_upstream_breaker_state" ["provider"] "finstage-marketdata"
        => "Circuit breaker state: 0 closed, 1 half-open, 2 open.";
    UPSTREAM_BREAKER_REJECTIONS_TOTAL: Counter "finstage_upstream_breaker_rejections_total" ["provider"] "finstage-marketdata"
        => "Calls refused without a request because the breaker was open.";
    UPSTREAM_ROWS_SKIPPED_TOTAL: Counter "finstage_upstream_rows_skipped_total" ["provider"] "finstage-marketdata"
        => "Rows of a provider's answer left out because they did not make a valid bar.";
    // Cache.
    CACHE_HITS_TOTAL: Counter "finstage_cache_hits_total" ["cache"] "finstage-cache"
        => "Cache lookups that found a live value.";
    CACHE_MISSES_TOTAL: Counter "finstage_cache_misses_total" ["cache"] "finstage-cache"
        => "Cache lookups that found nothing or an expired value.";
    CACHE_SETS_TOTAL: Counter "finstage_cache_sets_total" ["cache"] "finstage-cache"
        => "Values stored in the cache.";
    CACHE_EVICTIONS_TOTAL: Counter "finstage_cache_evictions_total" ["cache"] "finstage-cache"
        => "Live values evicted to respect the cache's bounds.";
    CACHE_EXPIRATIONS_TOTAL: Counter "finstage_cache_expirations_total" ["cache"] "finstage-cache"
        => "Expired values removed from the memory cache.";
    CACHE_REJECTED_TOTAL: Counter "finstage_cache_rejected_total" ["cache"] "finstage-cache"
        => "Values not stored because they exceed the byte budget.";
    CACHE_LOADS_TOTAL: Counter "finstage_cache_loads_total" ["cache"] "finstage-cache"
        => "Loader calls made by get_or_set.";
    CACHE_COALESCED_TOTAL: Counter "finstage_cache_coalesced_total" ["cache"] "finstage-cache"
        => "get_or_set callers served by another caller's load.";
    CACHE_ERRORS_TOTAL: Counter "finstage_cache_errors_total" ["cache", "kind"] "finstage-cache"
        => "Cache errors, by kind (unavailable, encode, decode, invalid_key, config).";
    CACHE_ENTRIES: Gauge "finstage_cache_entries" ["cache"] "finstage-cache"
        => "Entries held by the memory cache.";
    CACHE_BYTES: Gauge "finstage_cache_bytes" ["cache"] "finstage-cache"
        => "Approximate bytes held by the memory cache.";
    // Event bus.
    BUS_PUBLISHED_TOTAL: Counter "finstage_bus_published_total" ["backend"] "finstage-core"
        => "Events published to the event bus (accepted by Redis, or handed to the local broadcast), by backend (local, redis).";
    BUS_RECEIVED_TOTAL: Counter "finstage_bus_received_total" ["backend"] "finstage-core"
        => "Events delivered to this instance's bus receivers: decoded from the Redis subscription, or published locally while a receiver was subscribed.";
    BUS_LAGGED_TOTAL: Counter "finstage_bus_lagged_total" ["backend"] "finstage-core"
        => "Events a bus receiver missed because it fell more than the bus capacity behind.";
    BUS_LOST_TOTAL: Counter "finstage_bus_lost_total" ["backend"] "finstage-core"
        => "Events lost because their publish failed (Redis unreachable or too slow): pub/sub is at most once.";
    BUS_ERRORS_TOTAL: Counter "finstage_bus_errors_total" ["backend", "kind"] "finstage-core"
        => "Event bus errors, by kind (unavailable, timeout, encode, malformed, subscription).";
    BUS_PUBLISH_SECONDS: Histogram "finstage_bus_publish_seconds" ["backend"] "finstage-core"
        => "Duration of one successful publish (one event or one batch), in seconds.";
    BUS_SUBSCRIBED: Gauge "finstage_bus_subscribed" ["backend"] "finstage-core"
        => "1 while the Redis bus subscription is in place, else 0.";
    BUS_RECONNECTS_TOTAL: Counter "finstage_bus_reconnects_total" ["backend"] "finstage-core"
        => "Times the Redis bus subscription was set up again after it was lost.";
    // Database.
    DB_POOL_CONNECTIONS: Gauge "finstage_db_pool_connections" ["backend", "state"] "finstage-store"
        => "Pooled database connections, by state (in_use, idle).";
    DB_POOL_WAITING: Gauge "finstage_db_pool_waiting" ["backend"] "finstage-store"
        => "Callers waiting for a pooled connection.";
    DB_SLOW_QUERIES_TOTAL: Counter "finstage_db_slow_queries_total" ["backend", "kind"] "finstage-store"
        => "Statements slower than the slow-statement threshold, by operation (e.g. daily_bars.upsert).";
    // Task queue.
    TASKS_ENQUEUED_TOTAL: Counter "finstage_tasks_enqueued_total" ["kind"] "finstage-tasks"
        => "Tasks added to the queue, by task kind.";
    TASK_WAIT_SECONDS: Histogram "finstage_tasks_wait_seconds" ["kind"] "finstage-tasks"
        => "Time from a task being enqueued (or due) to its attempt starting, in seconds.";
    TASK_RUN_SECONDS: Histogram "finstage_tasks_run_seconds" ["kind"] "finstage-tasks"
        => "Duration of one task attempt, in seconds.";
    TASK_ATTEMPTS_TOTAL: Counter "finstage_tasks_attempts_total" ["kind", "outcome"] "finstage-tasks"
        => "Task attempts finished, by kind and outcome (succeeded, failed, timed_out, cancelled).";
    TASKS_DEAD_TOTAL: Counter "finstage_tasks_dead_total" ["kind"] "finstage-tasks"
        => "Tasks given up after their last attempt failed.";
    TASKS_DEPTH: Gauge "finstage_tasks_depth" ["kind", "state"] "finstage-tasks"
        => "Tasks held by the queue, by kind and state (pending, running, succeeded, dead, cancelled).";
    SCHEDULE_FIRED_TOTAL: Counter "finstage_schedule_fired_total" ["schedule"] "finstage-tasks"
        => "Slots of a periodic schedule fired (one task per slot across all schedulers).";
    // Scheduled jobs.
    JOB_RUNS_TOTAL: Counter "finstage_job_runs_total" ["job_name", "outcome"] "finstage-core"
        => "Runs of a periodic job, by outcome (ok, error, cancelled).";
    JOB_DURATION_SECONDS: Histogram "finstage_job_duration_seconds" ["job_name"] "finstage-core"
        => "Duration of one run of a periodic job, in seconds.";
    JOB_LAST_SUCCESS_TIMESTAMP_SECONDS: Gauge "finstage_job_last_success_timestamp_seconds" ["job_name"] "finstage-core"
        => "When a periodic job last succeeded, in seconds since the Unix epoch.";
    JOB_SYMBOLS_TOTAL: Counter "finstage_job_symbols_total" ["job_name", "outcome"] "finstage-core"
        => "Symbols a job processed, by outcome (ok, skipped, error).";
    SIGNALS_DETECTED_TOTAL: Counter "finstage_signals_detected_total" ["kind"] "finstage-core" (planned)
        => "Signals detected, by signal kind.";
    // Notifications.
    NOTIFY_MESSAGES_TOTAL: Counter "finstage_notify_messages_total" ["channel", "outcome"] "finstage-notify"
        => "Notifications, by channel and outcome (sent, failed); a split message counts once.";
    NOTIFY_ATTEMPTS_TOTAL: Counter "finstage_notify_attempts_total" ["channel", "outcome"] "finstage-notify"
        => "Requests to a notification channel, retries included, by outcome (ok, rate_limited, server_error, timeout, connect, rejected, malformed).";
    NOTIFY_SEND_SECONDS: Histogram "finstage_notify_send_seconds" ["channel"] "finstage-notify"
        => "Time to deliver one notification (every part, rate-limit waits and retries included), in seconds.";
    // Health and alerts.
    HEALTH_STATUS: Gauge "finstage_health_status" ["check"] "finstage-monitoring"
        => "Result of a readiness check at its last run: 0 ok, 1 degraded, 2 down.";
    ALERTS_FIRED_TOTAL: Counter "finstage_alerts_fired_total" ["rule", "severity"] "finstage-monitoring"
        => "Firing alert events emitted, by rule.";
    ALERT_ACTIVE: Gauge "finstage_alert_active" ["rule"] "finstage-monitoring"
        => "1 while an alert rule is firing (after its pending time), else 0.";
    ALERTS_DROPPED_TOTAL: Counter "finstage_alerts_dropped_total" [] "finstage-monitoring"
        => "Alert events lost because the notifier's channel was full or closed.";
    // The process.
    PROCESS_UPTIME_SECONDS: Gauge "finstage_process_uptime_seconds" [] "finstage-monitoring"
        => "Seconds since the process started.";
    PROCESS_RESIDENT_MEMORY_BYTES: Gauge "process_resident_memory_bytes" [] "finstage-monitoring"
        => "Resident memory size (RSS) in bytes.";
    PROCESS_VIRTUAL_MEMORY_BYTES: Gauge "process_virtual_memory_bytes" [] "finstage-monitoring"
        => "Virtual memory size in bytes.";
    PROCESS_VIRTUAL_MEMORY_MAX_BYTES: Gauge "process_virtual_memory_max_bytes" [] "finstage-monitoring"
        => "Limit of the virtual memory size in bytes (0: unlimited).";
    PROCESS_CPU_SECONDS_TOTAL: Gauge "process_cpu_seconds_total" [] "finstage-monitoring"
        => "User and system CPU time used, in seconds (a gauge, so that fractions of a second are kept).";
    PROCESS_OPEN_FDS: Gauge "process_open_fds" [] "finstage-monitoring"
        => "Open file descriptors.";
    PROCESS_MAX_FDS: Gauge "process_max_fds" [] "finstage-monitoring"
        => "Limit of open file descriptors (0: unlimited).";
    PROCESS_THREADS: Gauge "process_threads" [] "finstage-monitoring"
        => "Operating-system threads of the process.";
    PROCESS_START_TIME_SECONDS: Gauge "process_start_time_seconds" [] "finstage-monitoring"
        => "When the process started, in seconds since the Unix epoch.";
}

/// The catalogue's entry for `name`.
pub fn lookup(name: &str) -> Option<&'static MetricDef> {
    CATALOG.iter().find(|def| def.name == name)
}

/// Registers every catalogue entry's description with the installed recorder (the `# HELP`
/// lines). [`Metrics::install`](crate::Metrics::install) calls it.
pub fn describe_all() {
    for def in CATALOG {
        match def.kind {
            MetricKind::Counter => metrics::describe_counter!(def.name, def.help),
            MetricKind::Gauge => metrics::describe_gauge!(def.name, def.help),
            MetricKind::Histogram => metrics::describe_histogram!(def.name, def.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let mut seen = HashSet::new();
        for def in CATALOG {
            assert!(seen.insert(def.name), "{} twice", def.name);
            assert!(
                def.name.starts_with("finstage_") || def.name.starts_with("process_"),
                "{}",
                def.name
            );
            assert!(
                def.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                def.name
            );
            match def.kind {
                MetricKind::Counter => assert!(def.name.ends_with("_total"), "{}", def.name),
                MetricKind::Histogram => assert!(
                    def.name.ends_with("_seconds") || def.name.ends_with("_milliseconds"),
                    "{}",
                    def.name
                ),
                // The one standard exception: see PROCESS_CPU_SECONDS_TOTAL.
                MetricKind::Gauge => assert!(
                    !def.name.ends_with("_total") || def.name == PROCESS_CPU_SECONDS_TOTAL.name,
                    "{}",
                    def.name
                ),
            }
            for label in def.labels {
                assert!(
                    !["symbol", "path", "url", "le", "quantile", "instance", "job"].contains(label),
                    "{}: unbounded or reserved label {label}",
                    def.name
                );
            }
            assert!(def.help.ends_with('.'), "{}", def.name);
        }
        assert_eq!(lookup("finstage_job_runs_total"), Some(&JOB_RUNS_TOTAL));
        assert_eq!(lookup("nope"), None);
    }
}
