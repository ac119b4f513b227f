//! What the mock Yahoo server counts and records: requests per symbol, responses per status,
//! and a log of [`RecordedRequest`]s.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::fault::Fault;
use super::query::parse_params;

/// One request as the mock saw and answered it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method (`GET`).
    pub method: String,
    /// The path as sent (still percent-encoded: `/v8/finance/chart/%5ESOX`).
    pub path: String,
    /// The raw query string, without `?` (`None` when there was none).
    pub query: Option<String>,
    /// The chart symbol, percent-decoded and upper-cased; `None` for other paths.
    pub symbol: Option<String>,
    /// The `User-Agent` header (`None` when absent; invalid UTF-8 replaced by U+FFFD).
    pub user_agent: Option<String>,
    /// The status answered; `0` when the mock closed the connection without answering
    /// ([`Fault::Disconnect`]).
    pub status: u16,
    /// The fault that shaped the answer (a pushed or set fault, or the user-agent check's
    /// rejection), if any.
    pub fault: Option<Fault>,
    /// `true` when the request limit refused it (the answer is then 429).
    pub rate_limited: bool,
    /// When the request arrived, on tokio's clock (so a paused clock shows in it).
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of a query parameter, percent-decoded (`+` as a space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_params(self.query.as_deref()?)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// `true` when the request carried a browser `User-Agent` (see
    /// [`is_browser_user_agent`](super::is_browser_user_agent)).
    pub fn has_browser_user_agent(&self) -> bool {
        self.user_agent.as_deref().is_some_and(super::is_browser_user_agent)
    }
}

/// The log keeps at most this many requests unless told otherwise (the newest ones).
pub(crate) const DEFAULT_LOG_CAPACITY: usize = 100_000;

/// Counters and the request log.
#[derive(Debug)]
pub(crate) struct Stats {
    total: u64,
    per_symbol: HashMap<String, u64>,
    per_status: HashMap<u16, u64>,
    log: VecDeque<RecordedRequest>,
    log_capacity: usize,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            total: 0,
            per_symbol: HashMap::new(),
            per_status: HashMap::new(),
            log: VecDeque::new(),
            log_capacity: DEFAULT_LOG_CAPACITY,
        }
    }
}

impl Stats {
    /// Counts an arriving request (for its symbol too, when it is a chart request).
    pub(crate) fn arrived(&mut self, symbol: Option<&str>) {
        self.total += 1;
        if let Some(symbol) = symbol {
            match self.per_symbol.get_mut(symbol) {
                Some(count) => *count += 1,
                None => {
                    self.per_symbol.insert(symbol.to_owned(), 1);
                }
            }
        }
    }

    /// Counts the answer decided for a request and logs the request.
    pub(crate) fn answered(&mut self, request: RecordedRequest) {
        *self.per_status.entry(request.status).or_default() += 1;
        if self.log_capacity == 0 {
            return;
        }
        if self.log.len() >= self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(request);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn for_symbol(&self, symbol: &str) -> u64 {
        self.per_symbol.get(&symbol.to_ascii_uppercase()).copied().unwrap_or(0)
    }

    pub(crate) fn with_status(&self, status: u16) -> u64 {
        self.per_status.get(&status).copied().unwrap_or(0)
    }

    pub(crate) fn log(&self) -> Vec<RecordedRequest> {
        self.log.iter().cloned().collect()
    }

    pub(crate) fn set_log_capacity(&mut self, capacity: usize) {
        self.log_capacity = capacity;
        while self.log.len() > capacity {
            self.log.pop_front();
        }
    }

    /// Zeroes every counter and empties the log (the capacity stays).
    pub(crate) fn reset(&mut self) {
        *self = Self {
            log_capacity: self.log_capacity,
            ..Self::default()
        };
    }
}
