//! [`TelegramFault`]s the mock Telegram server injects on demand, and the bookkeeping of
//! one-shot and persistent faults.

use std::collections::VecDeque;
use std::time::Duration;

/// A way for the mock to misbehave on one `sendMessage` request with the right token (a wrong
/// token is always a 401, and uses up no fault). The message of a faulted request is not
/// recorded as sent.
///
/// | fault | status | body |
/// |---|---|---|
/// | `TooManyRequests { retry_after: n }` | 429 | `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after n","parameters":{"retry_after":n}}` |
/// | `BadRequest(d)` | 400 | `{"ok":false,"error_code":400,"description":"Bad Request: d"}` |
/// | `Forbidden` | 403 | `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}` |
/// | `ServerError(s)` | `s` | `{"ok":false,"error_code":s,"description":"<reason phrase>"}` |
/// | `BadGateway` | 502 | nginx's HTML page, as Telegram's front end sends when the API is down |
/// | `Delay(d)` | the normal answer's | the normal answer (the message is recorded), sent `d` later |
/// | `Disconnect` | none | the connection is closed without a response |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TelegramFault {
    /// HTTP 429 with Telegram's body and `parameters.retry_after` (seconds).
    TooManyRequests {
        /// The wait asked for, in seconds.
        retry_after: u64,
    },
    /// HTTP 400 with the description `Bad Request: {0}`.
    BadRequest(String),
    /// HTTP 403: `Forbidden: bot was blocked by the user`.
    Forbidden,
    /// This HTTP status (500 to 599) with a Bot API JSON error body.
    ServerError(u16),
    /// HTTP 502 with an HTML body (not JSON).
    BadGateway,
    /// The normal answer, this much later (for client timeouts).
    Delay(Duration),
    /// The connection is closed without a response.
    Disconnect,
}

impl TelegramFault {
    /// Panics with a clear message for a fault that cannot be sent (a `ServerError` outside
    /// 500..=599).
    pub(crate) fn validate(&self) {
        if let TelegramFault::ServerError(status) = self {
            assert!(
                (500..=599).contains(status),
                "TelegramFault::ServerError({status}): the status must be within 500..=599"
            );
        }
    }
}

/// The faults waiting to be served: pushed one-shot faults first, in push order, then the
/// persistent one.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    one_shot: VecDeque<(TelegramFault, usize)>,
    persistent: Option<TelegramFault>,
}

impl Faults {
    pub(crate) fn push(&mut self, fault: TelegramFault, times: usize) {
        fault.validate();
        if times > 0 {
            self.one_shot.push_back((fault, times));
        }
    }

    pub(crate) fn set(&mut self, fault: Option<TelegramFault>) {
        if let Some(fault) = &fault {
            fault.validate();
        }
        self.persistent = fault;
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn pending(&self) -> usize {
        self.one_shot.iter().map(|(_, times)| times).sum()
    }

    pub(crate) fn take(&mut self) -> Option<TelegramFault> {
        if let Some((fault, times)) = self.one_shot.front_mut() {
            let fault = fault.clone();
            *times -= 1;
            if *times == 0 {
                self.one_shot.pop_front();
            }
            return Some(fault);
        }
        self.persistent.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shots_in_order_then_persistent() {
        let mut faults = Faults::default();
        faults.set(Some(TelegramFault::Forbidden));
        faults.push(TelegramFault::ServerError(500), 2);
        faults.push(TelegramFault::Disconnect, 1);
        faults.push(TelegramFault::BadGateway, 0);
        assert_eq!(faults.pending(), 3);
        assert_eq!(faults.take(), Some(TelegramFault::ServerError(500)));
        assert_eq!(faults.take(), Some(TelegramFault::ServerError(500)));
        assert_eq!(faults.take(), Some(TelegramFault::Disconnect));
        assert_eq!(faults.take(), Some(TelegramFault::Forbidden));
        faults.clear();
        assert_eq!(faults.take(), None);
    }

    #[test]
    #[should_panic(expected = "within 500..=599")]
    fn a_server_error_must_be_5xx() {
        Faults::default().push(TelegramFault::ServerError(404), 1);
    }
}
