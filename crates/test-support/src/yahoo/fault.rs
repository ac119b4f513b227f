//! [`Fault`]s the mock Yahoo server injects on demand, the [`FaultScope`] they apply to, and the
//! bookkeeping of one-shot and persistent faults.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A way for the mock to misbehave on one chart request.
///
/// "Chart request" means a request routed to `/v8/finance/chart/{symbol}` (known symbol or not).
/// "The normal answer" is what the mock would have sent without the fault.
///
/// | fault | status | body |
/// |---|---|---|
/// | `Status(s)` | `s` | a short HTML page naming the status (`text/html`) |
/// | `TooManyRequests { retry_after }` | 429 | `Edge: Too Many Requests` (`text/plain`), `Retry-After: N` when `Some(N)` |
/// | `Malformed` | 200 | an HTML "Will be right back" page sent as `application/json` |
/// | `Truncated` | the normal answer's | the normal answer's first `len / 2` bytes; `Content-Length` is that length |
/// | `Nulls` | 200 | the normal chart with nulls, see [`Fault::Nulls`] |
/// | `NotFound` | 404 | `{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}` |
/// | `EmptyResult` | 200 | the normal chart's `meta`, no `timestamp` or `events`, `"indicators":{"quote":[{}]}` (plus `"adjclose":[{}]` for daily and longer intervals) |
/// | `InvalidRange` | 422 | `{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"1d data not available for startTime=… and endTime=…. The requested range must be within the last 60 days."}}}` |
/// | `Delay(d)` | the normal answer's | the normal answer, sent `d` later (on top of any latency) |
/// | `ZeroPrices` | 200 | the normal chart with zeros, see [`Fault::ZeroPrices`] |
/// | `Disconnect` | none | the connection is closed without a response |
///
/// `Nulls`, `ZeroPrices` and `EmptyResult` change a chart: on a request whose normal answer is an
/// error (unknown symbol, bad query) they are used up and the normal error goes out unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// This HTTP status (100 to 999) with a short HTML body, as Yahoo's edge sends for 5xx.
    Status(u16),
    /// HTTP 429, body `Edge: Too Many Requests` (`text/plain;charset=utf-8`), and a
    /// `Retry-After: N` header (seconds) when `retry_after` is `Some(N)`.
    TooManyRequests {
        /// The `Retry-After` header's value in seconds; `None` sends no header.
        retry_after: Option<u64>,
    },
    /// HTTP 200, `Content-Type: application/json;charset=utf-8`, and a body that is an HTML page,
    /// not JSON.
    Malformed,
    /// The normal answer (for a known symbol, the 200 chart JSON) cut to its first half: the
    /// first `len / 2` bytes, with a `Content-Length` matching the cut body, so the HTTP exchange
    /// is complete and only the JSON is broken.
    Truncated,
    /// HTTP 200 with the normal chart, except that, counting the served bars from 0 (oldest
    /// first), bar `i` has
    /// - `i % 3 == 0`: `open`, `high`, `low`, `close`, `volume` and `adjclose` all `null`;
    /// - `i % 3 == 1`: `close` alone `null` (the other values, `adjclose` included, intact);
    /// - `i % 3 == 2`: nothing changed.
    ///
    /// The `timestamp` array is complete. So only the bars with `i % 3 == 2` are usable.
    Nulls,
    /// HTTP 404 with Yahoo's exact body for an unknown symbol.
    NotFound,
    /// HTTP 200 with what Yahoo sends for a range without trading: the result has its `meta` but
    /// no `timestamp` and no `events`, and `indicators` is `{"quote":[{}]}` (with
    /// `"adjclose":[{}]` for `1d`, `1wk` and `1mo` unless `includeAdjustedClose=false`).
    EmptyResult,
    /// HTTP 422 with Yahoo's chart error for an intraday range that is too old: code
    /// `Unprocessable Entity`, description `{interval} data not available for startTime={s} and
    /// endTime={e}. The requested range must be within the last 60 days.`, where `{s}`/`{e}`
    /// are `period1`/`period2` when given, otherwise the first and last timestamps the normal
    /// answer would have held (0 when it holds none).
    InvalidRange,
    /// The normal answer, delayed by this much on top of the latency (for client timeouts).
    Delay(Duration),
    /// HTTP 200 with the normal chart, except that, counting the served bars from 0, bar `i` has
    /// - `i % 3 == 0`: `open` = `0.0` (Yahoo's placeholder for a missing price), the rest intact;
    /// - `i % 3 == 1`: `open`, `high`, `low`, `close` and `adjclose` = `0.0` and `volume` = `0`;
    /// - `i % 3 == 2`: nothing changed.
    ZeroPrices,
    /// The mock closes the connection without sending a response (logged with status 0).
    Disconnect,
}

impl Fault {
    /// One instance of every fault (with a `Retry-After` and without, 500/502/503, a 100 ms delay),
    /// for tests that run a client through each failure mode.
    pub fn examples() -> Vec<Fault> {
        vec![
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::TooManyRequests { retry_after: None },
            Fault::TooManyRequests { retry_after: Some(1) },
            Fault::Malformed,
            Fault::Truncated,
            Fault::Nulls,
            Fault::NotFound,
            Fault::EmptyResult,
            Fault::InvalidRange,
            Fault::Delay(Duration::from_millis(100)),
            Fault::ZeroPrices,
            Fault::Disconnect,
        ]
    }

    /// Panics with a clear message when the fault cannot be sent (a status outside 100..=999).
    pub(crate) fn validate(&self) {
        if let Fault::Status(status) = self {
            assert!(
                (100..=999).contains(status),
                "Fault::Status({status}): an HTTP status must be within 100..=999"
            );
        }
    }
}

/// Which chart requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultScope {
    /// Every chart request, whatever its symbol (known or not).
    Any,
    /// Chart requests for this symbol (compared after percent-decoding, ASCII case-insensitively:
    /// `Symbol("^sox".into())` matches `/v8/finance/chart/%5ESOX`).
    Symbol(String),
}

impl FaultScope {
    /// `FaultScope::Symbol(symbol.to_owned())`.
    pub fn symbol(symbol: &str) -> Self {
        Self::Symbol(symbol.to_owned())
    }

    fn matches(&self, symbol: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Symbol(s) => s.eq_ignore_ascii_case(symbol),
        }
    }
}

/// The faults waiting to be served.
///
/// A chart request takes, in this order: the oldest pushed one-shot fault whose scope matches
/// it (one-shot faults are served in the order they were pushed, whatever their scope); else
/// the persistent fault of its symbol; else the persistent fault for any symbol.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    one_shot: VecDeque<OneShot>,
    persistent_any: Option<Fault>,
    persistent_symbol: HashMap<String, Fault>,
}

#[derive(Debug)]
struct OneShot {
    scope: FaultScope,
    fault: Fault,
    remaining: usize,
}

impl Faults {
    pub(crate) fn push(&mut self, scope: FaultScope, fault: Fault, times: usize) {
        fault.validate();
        if times > 0 {
            self.one_shot.push_back(OneShot {
                scope,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn set(&mut self, scope: FaultScope, fault: Option<Fault>) {
        if let Some(fault) = &fault {
            fault.validate();
        }
        match (scope, fault) {
            (FaultScope::Any, fault) => self.persistent_any = fault,
            (FaultScope::Symbol(symbol), Some(fault)) => {
                self.persistent_symbol.insert(symbol.to_ascii_uppercase(), fault);
            }
            (FaultScope::Symbol(symbol), None) => {
                self.persistent_symbol.remove(&symbol.to_ascii_uppercase());
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// How many one-shot faults are still to be served (each push counts `times`).
    pub(crate) fn pending(&self) -> usize {
        self.one_shot.iter().map(|entry| entry.remaining).sum()
    }

    /// The fault for a chart request for `symbol` (upper-case), used up if it is a one-shot.
    pub(crate) fn take(&mut self, symbol: &str) -> Option<Fault> {
        if let Some(index) = self.one_shot.iter().position(|entry| entry.scope.matches(symbol)) {
            let entry = &mut self.one_shot[index];
            entry.remaining -= 1;
            let fault = entry.fault.clone();
            if entry.remaining == 0 {
                self.one_shot.remove(index);
            }
            return Some(fault);
        }
        self.persistent_symbol
            .get(symbol)
            .or(self.persistent_any.as_ref())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shots_in_push_order_then_persistent() {
        let mut faults = Faults::default();
        faults.set(FaultScope::Any, Some(Fault::Status(503)));
        faults.set(FaultScope::symbol("msft"), Some(Fault::NotFound));
        faults.push(FaultScope::Any, Fault::Malformed, 1);
        faults.push(FaultScope::symbol("aapl"), Fault::Truncated, 2);
        assert_eq!(faults.pending(), 3);

        assert_eq!(faults.take("AAPL"), Some(Fault::Malformed));
        assert_eq!(
            faults.take("MSFT"),
            Some(Fault::NotFound),
            "the AAPL one-shot does not match"
        );
        assert_eq!(faults.take("AAPL"), Some(Fault::Truncated));
        assert_eq!(faults.take("AAPL"), Some(Fault::Truncated));
        assert_eq!(faults.pending(), 0);
        assert_eq!(faults.take("AAPL"), Some(Fault::Status(503)));

        faults.set(FaultScope::Any, None);
        assert_eq!(faults.take("AAPL"), None);
        assert_eq!(faults.take("MSFT"), Some(Fault::NotFound));
        faults.set(FaultScope::symbol("MSFT"), None);
        assert_eq!(faults.take("MSFT"), None);
    }

    #[test]
    fn zero_times_is_nothing_and_clear_clears() {
        let mut faults = Faults::default();
        faults.push(FaultScope::Any, Fault::Malformed, 0);
        assert_eq!(faults.take("AAPL"), None);
        faults.push(FaultScope::Any, Fault::Malformed, 5);
        faults.set(FaultScope::Any, Some(Fault::NotFound));
        faults.clear();
        assert_eq!(faults.pending(), 0);
        assert_eq!(faults.take("AAPL"), None);
    }

    #[test]
    #[should_panic(expected = "within 100..=999")]
    fn rejects_impossible_status() {
        Faults::default().push(FaultScope::Any, Fault::Status(42), 1);
    }
}
