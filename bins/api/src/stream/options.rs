//! [`StreamOptions`]: the limits and timings of the WebSocket stream, checked before the hub starts.

use std::time::Duration;

/// The longest dead-client timeout accepted: a client that stops answering is reaped within a
/// minute at most.
pub const MAX_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// How the stream behaves: limits per connection and the heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// Most channels (subscriptions, `signals:*` included) one connection may hold; a
    /// `subscribe` that would go past it is refused with an `error` frame
    /// (`too_many_channels`) and changes nothing.
    pub max_channels: usize,
    /// The largest frame a client may send, in bytes (continuations included): a larger one
    /// closes the connection with 1009.
    pub max_frame_size: usize,
    /// Frames queued for one connection. When the queue is full, quotes and indicator values
    /// are conflated (the latest per channel is kept and sent, marked `"conflated":true`, when
    /// there is room); a signal or an answer that does not fit closes the connection (1013).
    pub send_queue: usize,
    /// Events a connection may lose to conflation before it catches up (its queue drains): past
    /// it the connection is closed with 1013 `too slow`.
    pub max_conflated: u64,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// A client from which nothing (a pong or any frame) arrived for this long is closed and
    /// forgotten. At most [`MAX_CLIENT_TIMEOUT`], and above `ping_interval`.
    pub client_timeout: Duration,
    /// How long the server waits for a closing connection's last frames and close frame to be
    /// written before it drops the connection anyway (a client that does not read).
    pub close_timeout: Duration,
    /// How many of a symbol's latest signals the snapshot of `signals:SYM` holds.
    pub snapshot_signals: usize,
}

impl Default for StreamOptions {
    /// 100 channels, 64 KiB frames, 1,024 queued frames, 10,000 conflated events, a ping every
    /// 15 s, reaped after 45 s of silence, 5 s to close, 10 signals per snapshot.
    fn default() -> Self {
        Self {
            max_channels: 100,
            max_frame_size: 64 * 1024,
            send_queue: 1024,
            max_conflated: 10_000,
            ping_interval: Duration::from_secs(15),
            client_timeout: Duration::from_secs(45),
            close_timeout: Duration::from_secs(5),
            snapshot_signals: 10,
        }
    }
}

/// An unusable [`StreamOptions`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream option {option}: {problem}")]
pub struct StreamOptionsError {
    /// The option's field name.
    pub option: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl StreamOptions {
    /// Checks every limit.
    ///
    /// # Errors
    /// [`StreamOptionsError`] naming the first bad option: a zero limit or interval, a client
    /// timeout not above the ping interval or above [`MAX_CLIENT_TIMEOUT`], a frame size under
    /// 128 bytes.
    pub fn validate(&self) -> Result<(), StreamOptionsError> {
        let bad = |option: &'static str, problem: &str| {
            Err(StreamOptionsError {
                option,
                problem: problem.to_owned(),
            })
        };
        if self.max_channels == 0 {
            return bad("max_channels", "must be at least 1");
        }
        if self.max_frame_size < 128 {
            return bad("max_frame_size", "must be at least 128 bytes");
        }
        if self.send_queue == 0 {
            return bad("send_queue", "must be at least 1");
        }
        if self.ping_interval.is_zero() {
            return bad("ping_interval", "must be above zero");
        }
        if self.client_timeout <= self.ping_interval {
            return bad("client_timeout", "must be longer than ping_interval");
        }
        if self.client_timeout > MAX_CLIENT_TIMEOUT {
            return bad("client_timeout", "must be at most 60 s");
        }
        if self.close_timeout.is_zero() {
            return bad("close_timeout", "must be above zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(StreamOptions::default().validate(), Ok(()));
        let err = StreamOptions {
            client_timeout: Duration::from_secs(61),
            ..StreamOptions::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.option, "client_timeout");
        let err = StreamOptions {
            send_queue: 0,
            ..StreamOptions::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.option, "send_queue");
    }
}
