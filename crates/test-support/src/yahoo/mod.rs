//! A mock of Yahoo Finance's v8 chart API: [`MockYahoo`] serves stored [`Bar`]s as real-shaped
//! chart JSON and misbehaves on demand ([`Fault`], latency, a request limit).
//!
//! # Route
//! `GET /v8/finance/chart/{symbol}`; the symbol is percent-decoded and upper-cased
//! (`%5Esox` is `^SOX`). Query parameters:
//! - `interval`: `1m`, `5m`, `15m`, `60m` or `1h`, `1d`, `1wk`, `1mo` (default `1d`; case-sensitive);
//! - `range`: `1d`, `5d`, `1mo`, `3mo`, `6mo`, `1y`, `2y`, `5y`, `10y`, `ytd`, `max` (default `1d`),
//!   or `period1`/`period2` in epoch seconds, which win over `range` when either is present;
//! - `events`: `div`, `split` or both (`div|split`, `div,splits`, …): events are sent only when
//!   asked for, like Yahoo;
//! - `includeAdjustedClose=false` leaves `adjclose` out (it is never sent for intraday intervals).
//!
//! Any other path is a plain-text 404; another method on the chart path is a 405. A symbol that
//! was never given bars is Yahoo's JSON 404 (whatever the query); a bad interval, range or period
//! on a listed symbol is a 422 with a Yahoo-like `chart.error`
//! (`Invalid input - interval=2h is not supported. …`).
//!
//! # What is served
//! - **Ranges count back from the newest bar held, never from the wall clock**, so answers are
//!   deterministic: `1d` and `5d` are the last 1 and 5 trading dates held; `1mo` … `10y` are the
//!   trading dates *after* the newest one minus that many calendar months (as in the real
//!   capture: `1mo` ending 2026-10-05 starts on 2026-09-08, the first trading day after
//!   2026-09-05); `ytd` is the newest date's calendar year; `max` is everything.
//!   `period1`/`period2` select the bars whose Yahoo timestamp `t` has `period1 <= t < period2`.
//! - **Timestamps**: a daily bar is stamped with its date's market open (09:30 local) converted to
//!   UTC, as Yahoo does: 13:30 UTC in New York summer, 14:30 UTC in winter. By default the offset
//!   follows New York's daylight saving rules date by date; a [`MockMeta::gmtoffset`] replaces
//!   them with one fixed offset. Intraday bars keep their own instants.
//! - **Intervals**: `1d` serves the daily bars; `1wk` and `1mo` aggregate the selected daily bars
//!   by ISO week (Monday to Sunday) or calendar month (first open, highest high, lowest low, last
//!   close and adjusted close, summed volume, stamped with the first day's timestamp; a range
//!   that starts mid-week gives a partial first week). Intraday intervals serve the bars given to
//!   [`MockYahoo::add_intraday`] for that interval, else the intraday bars given to
//!   [`MockYahoo::add_symbol`], as stored (no resampling).
//! - `adjclose` is each bar's adjusted close, or its close when it has none.
//! - A range holding no bar gets Yahoo's empty shape (see [`Fault::EmptyResult`]).
//! - `meta` is described on [`MockMeta`]. `previousClose` is sent only for `range=1d`, like Yahoo;
//!   `chartPreviousClose` always when bars are held.
//!
//! # Order of the checks
//! For each request, under one lock: it is counted (in [`MockYahoo::total_requests`], and for its
//! symbol in [`MockYahoo::requests`]); the request limit may refuse it (429); the user-agent check
//! may reject it; a fault may replace the answer ([`Fault`] explains precedence); the answer is
//! decided and logged. The answer is then built outside the lock and sent after the latency.

mod chart;
mod fault;
mod handler;
mod limit;
mod log;
mod market_time;
mod meta;
mod query;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use chrono::NaiveDate;
use finstage_domain::{Bar, Interval};

pub use self::fault::{Fault, FaultScope};
pub use self::handler::is_browser_user_agent;
pub use self::log::RecordedRequest;
pub use self::meta::MockMeta;

use self::handler::Shared;
use self::limit::SlidingWindow;
use self::state::{State, merge};
use crate::http::{Server, lock};

/// A running mock Yahoo chart server on `127.0.0.1` and a handle to configure and inspect it.
///
/// Clones share one server; it stops when the last clone is dropped or on
/// [`shutdown`](Self::shutdown). Every setter takes effect for the next request. Symbols are
/// ASCII case-insensitive everywhere (`"aapl"` is `"AAPL"`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use chrono::NaiveDate;
/// use finstage_domain::Bar;
/// use finstage_test_support::{Fault, FaultScope, MockYahoo};
///
/// let yahoo = MockYahoo::start().await;
/// let day = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
/// yahoo.add_symbol("AAPL", vec![Bar::new(day, 74.06, 75.15, 73.80, 75.09, 135_480_400).unwrap()]);
/// yahoo.push_fault(FaultScope::Any, Fault::Status(503), 2); // the next two chart requests fail
/// assert!(yahoo.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(yahoo.chart_url("^SOX"), format!("{}/v8/finance/chart/%5ESOX", yahoo.base_url()));
/// # }
/// ```
#[derive(Clone)]
pub struct MockYahoo {
    inner: Arc<Inner>,
}

struct Inner {
    // Dropped with the last handle, which stops the server.
    server: Server,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MockYahoo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockYahoo")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl MockYahoo {
    /// Starts the server on `127.0.0.1:0` (a free port) with no symbols, no latency, no limit
    /// and no faults.
    ///
    /// # Panics
    /// Outside a tokio runtime, or when no local port can be bound.
    pub async fn start() -> MockYahoo {
        let shared = Arc::new(Shared::default());
        let server = Server::start("mock Yahoo", Arc::clone(&shared)).await;
        MockYahoo {
            inner: Arc::new(Inner { server, shared }),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash; clients append
    /// `/v8/finance/chart/{symbol}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.server.addr()
    }

    /// The chart URL of `symbol`, percent-encoded (`^SOX` becomes `%5ESOX`), without a query.
    pub fn chart_url(&self, symbol: &str) -> String {
        format!(
            "{}{}{}",
            self.base_url(),
            query::CHART_PREFIX,
            query::percent_encode(symbol)
        )
    }

    /// Stops the server: the listener is closed and open connections are dropped when this
    /// returns. Every handle then refers to a stopped server; counters stay readable.
    pub async fn shutdown(&self) {
        self.inner.server.shutdown().await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.shared.state)
    }

    // ---- data ----

    /// Adds bars to `symbol` and lists it (it is served from now on, even with no bars).
    ///
    /// Bars with a [`BarTime::Date`](finstage_domain::BarTime::Date) join the daily history
    /// (served for `1d`, aggregated for `1wk`/`1mo`); bars with a
    /// [`BarTime::Timestamp`](finstage_domain::BarTime::Timestamp) join the intraday bars served
    /// for every intraday interval without a series of its own (see [`add_intraday`](Self::add_intraday)).
    /// Bars are kept sorted, one per time: a bar at a time already held replaces the stored one.
    /// Sorting costs O(n log n); serving never re-sorts.
    pub fn add_symbol(&self, symbol: &str, bars: impl IntoIterator<Item = Bar>) {
        let (daily, intraday): (Vec<Bar>, Vec<Bar>) = bars.into_iter().partition(|bar| bar.time().is_date());
        let mut state = self.state();
        let data = state.symbol(symbol);
        data.listed = true;
        if !daily.is_empty() {
            data.daily = merge(&data.daily, daily);
        }
        if !intraday.is_empty() {
            data.intraday = merge(&data.intraday, intraday);
        }
    }

    /// Adds the bars served for one intraday `interval` of `symbol` and lists the symbol (merged
    /// like [`add_symbol`](Self::add_symbol)). Bars are served as given, so they should carry
    /// timestamps.
    ///
    /// # Panics
    /// When `interval` is not intraday (`1d`, `1wk` and `1mo` come from the daily history).
    pub fn add_intraday(&self, symbol: &str, interval: Interval, bars: impl IntoIterator<Item = Bar>) {
        assert!(
            interval.is_intraday(),
            "MockYahoo::add_intraday({symbol}, {interval}): {interval} is not intraday; daily bars go to add_symbol"
        );
        let bars: Vec<Bar> = bars.into_iter().collect();
        let mut state = self.state();
        let data = state.symbol(symbol);
        data.listed = true;
        let stored = data.by_interval.entry(interval).or_default();
        *stored = merge(stored, bars);
    }

    /// Forgets `symbol`'s bars, meta and events: it answers 404 again (counters stay).
    pub fn remove_symbol(&self, symbol: &str) {
        self.state().symbols.remove(&symbol.to_ascii_uppercase());
    }

    /// Sets `symbol`'s meta overrides (replacing earlier ones). Does not list the symbol.
    pub fn set_meta(&self, symbol: &str, meta: MockMeta) {
        self.state().symbol(symbol).meta = meta;
    }

    /// Records a dividend of `amount` per share on `date` (replacing one on the same date), sent
    /// in `events.dividends` when asked for and within the served dates. Does not list the symbol.
    pub fn add_dividend(&self, symbol: &str, date: NaiveDate, amount: f64) {
        self.state().symbol(symbol).dividends.insert(date, amount);
    }

    /// Records a `numerator:denominator` split on `date` (`4, 1` for a 4-for-1 split; replacing
    /// one on the same date), sent in `events.splits` when asked for and within the served dates.
    /// Does not list the symbol.
    ///
    /// # Panics
    /// When `numerator` or `denominator` is 0.
    pub fn add_split(&self, symbol: &str, date: NaiveDate, numerator: u32, denominator: u32) {
        assert!(
            numerator > 0 && denominator > 0,
            "MockYahoo::add_split({symbol}, {date}, {numerator}, {denominator}): both terms must be positive"
        );
        self.state()
            .symbol(symbol)
            .splits
            .insert(date, (numerator, denominator));
    }

    // ---- misbehaviour ----

    /// Delays every response by `latency` (zero by default), measured from the moment the answer
    /// is decided, on tokio's clock: under a paused clock, time advances instead of waiting.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Limits the server to `per_second` requests in any sliding one-second window, all paths
    /// and symbols together (like Yahoo's per-IP limit); `None` (the default) removes the limit.
    ///
    /// Precisely: a request arriving at instant `t` (tokio's clock, taken when the request is
    /// handled, before any latency) is admitted when fewer than `per_second` requests were
    /// admitted in `(t − 1 s, t]`; otherwise it gets 429 with the plain-text body
    /// `Edge: Too Many Requests` and no `Retry-After` (unless
    /// [`set_rate_limit_retry_after`](Self::set_rate_limit_retry_after)). An admission at `a`
    /// stops counting at exactly `a + 1 s`; refused requests never count; `Some(0)` refuses
    /// everything. Refused requests still count as requests, and a refusal uses up no fault.
    /// Each call starts a fresh window.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.state().limiter = per_second.map(|limit| SlidingWindow::new(limit, Duration::from_secs(1)));
    }

    /// The `Retry-After` header (seconds) of the limit's 429s; `None` (the default) sends none.
    pub fn set_rate_limit_retry_after(&self, seconds: Option<u64>) {
        self.state().limit_retry_after = seconds;
    }

    /// Rejects requests without a browser `User-Agent` ([`is_browser_user_agent`]) with
    /// `rejection` (e.g. `Fault::Status(403)`, or `Fault::TooManyRequests { retry_after: None }`
    /// as Yahoo often answers); `None` (the default) accepts any user agent. Checked after the
    /// limit and before any fault, on every path; a rejection uses up no fault.
    pub fn set_user_agent_check(&self, rejection: Option<Fault>) {
        if let Some(fault) = &rejection {
            fault.validate();
        }
        self.state().user_agent_check = rejection;
    }

    /// Gives `fault` to the next `times` chart requests matching `scope`, then normal service
    /// resumes (`times == 0` does nothing).
    ///
    /// One-shot faults are served in the order pushed: a request takes the oldest pushed one
    /// whose scope matches it, before any persistent fault ([`set_fault`](Self::set_fault)).
    /// A request refused by the limit or the user-agent check uses none.
    ///
    /// # Panics
    /// For a `Fault::Status` outside 100..=999.
    pub fn push_fault(&self, scope: FaultScope, fault: Fault, times: usize) {
        self.state().faults.push(scope, fault, times);
    }

    /// Sets (`Some`) or clears (`None`) a fault given to every chart request matching `scope`
    /// until cleared. A symbol's persistent fault wins over the one for [`FaultScope::Any`];
    /// pushed one-shot faults win over both.
    ///
    /// # Panics
    /// For a `Fault::Status` outside 100..=999.
    pub fn set_fault(&self, scope: FaultScope, fault: Option<Fault>) {
        self.state().faults.set(scope, fault);
    }

    /// Removes every pushed and persistent fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// How many pushed one-shot faults are still to be served (a push of `times` counts `times`).
    pub fn pending_faults(&self) -> usize {
        self.state().faults.pending()
    }

    // ---- inspection ----

    /// TCP connections accepted so far (keep-alive makes one connection serve many requests).
    /// Not reset by [`reset_counts`](Self::reset_counts).
    pub fn connections(&self) -> u64 {
        self.inner.server.connections()
    }

    /// Requests received for `symbol` on the chart path, whatever their outcome (429 and 404
    /// included), since the start or the last [`reset_counts`](Self::reset_counts).
    pub fn requests(&self, symbol: &str) -> u64 {
        self.state().stats.for_symbol(symbol)
    }

    /// Requests received on any path, whatever their outcome.
    pub fn total_requests(&self) -> u64 {
        self.state().stats.total()
    }

    /// Responses decided with this status (`0`: connections closed by [`Fault::Disconnect`]).
    /// A response counts when decided, before its latency: a client that gave up during a delay
    /// still sees it counted.
    pub fn responses_with_status(&self, status: u16) -> u64 {
        self.state().stats.with_status(status)
    }

    /// 429 responses sent, from the limit, the user-agent check or a fault.
    pub fn too_many_requests(&self) -> u64 {
        self.responses_with_status(429)
    }

    /// The logged requests, oldest first (the newest 100,000 unless
    /// [`set_request_log_capacity`](Self::set_request_log_capacity) says otherwise).
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        self.state().stats.log()
    }

    /// Keeps at most `capacity` requests in the log, dropping the oldest (0 logs nothing;
    /// counters are never dropped).
    pub fn set_request_log_capacity(&self, capacity: usize) {
        self.state().stats.set_log_capacity(capacity);
    }

    /// Zeroes every counter and empties the request log. Bars, faults, latency and the limit's
    /// window are untouched.
    pub fn reset_counts(&self) {
        self.state().stats.reset();
    }
}
