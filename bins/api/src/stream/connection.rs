//! One WebSocket connection: its reader (client requests, heartbeat, protocol errors) and its
//! writer (the outbox drained into the socket), run together in one task.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Closed, Message, ProtocolError, Session,
};
use chrono::Utc;
use tokio::time::{Instant, MissedTickBehavior};

use super::hub::StreamHub;
use super::metrics::{Op, Reason};
use super::outbox::{Close, Outbox, Outgoing};
use super::protocol::{self, FrameKind, Refusal, Request};

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(hub: StreamHub, session: Session, mut messages: AggregatedMessageStream) {
    let Some(outbox) = hub.register() else {
        let _ = session.close(Some(close_reason(&Close::shutdown()))).await;
        return;
    };
    let close_timeout = hub.options().close_timeout;
    let writer = write(&hub, session, &outbox);
    let reader = read(&hub, &mut messages, &outbox);
    tokio::pin!(writer, reader);
    let reason = tokio::select! {
        reason = &mut writer => reason,
        () = &mut reader => match tokio::time::timeout(close_timeout, &mut writer).await {
            Ok(reason) => reason,
            // The client does not read: its close frame cannot be written. Drop the connection.
            Err(_) => closing_reason(&outbox),
        },
    };
    hub.unregister(&outbox, reason);
}

fn close_reason(close: &Close) -> CloseReason {
    CloseReason {
        code: close.code,
        description: (!close.message.is_empty()).then(|| close.message.clone()),
    }
}

/// The reason of the close under way, or `client` (the connection went away by itself).
fn closing_reason(outbox: &Outbox) -> Reason {
    outbox.closing_reason().unwrap_or(Reason::Client)
}

/// Sends a shared text frame without copying it.
async fn send_text(session: &mut Session, text: Bytes) -> Result<(), Closed> {
    let message = match text.try_into() {
        Ok(text) => Message::Text(text),
        // Every frame is rendered from JSON text: always UTF-8.
        Err(_) => return Ok(()),
    };
    match message {
        Message::Text(text) => session.text(text).await,
        _ => Ok(()),
    }
}

/// Drains the outbox into the socket until the close frame is sent or the socket is gone;
/// returns why the connection ended.
async fn write(hub: &StreamHub, mut session: Session, outbox: &Outbox) -> Reason {
    let metrics = hub.metrics();
    let mut batch = Vec::new();
    let mut sent = [0u64; FrameKind::ALL.len()];
    loop {
        let close = outbox.take(&mut batch);
        if batch.is_empty() {
            if let Some(close) = close {
                let _ = session.close(Some(close_reason(&close))).await;
                return close.reason;
            }
            outbox.wait().await;
            continue;
        }
        let mut oldest = None;
        for item in batch.drain(..) {
            let result = match item {
                Outgoing::Text(frame) => {
                    if let Some(i) = FrameKind::ALL.iter().position(|k| *k == frame.kind)
                        && let Some(count) = sent.get_mut(i)
                    {
                        *count += 1;
                    }
                    if let Some(at) = frame.published_at {
                        oldest = Some(oldest.map_or(at, |o: chrono::DateTime<Utc>| o.min(at)));
                    }
                    send_text(&mut session, frame.text).await
                }
                Outgoing::Ping => session.ping(b"").await,
                Outgoing::Pong(bytes) => session.pong(&bytes).await,
            };
            if result.is_err() {
                outbox.close(Close::new(CloseCode::Normal, Reason::Client, "", true));
                return closing_reason(outbox);
            }
        }
        for (kind, count) in FrameKind::ALL.iter().zip(sent.iter_mut()) {
            if *count > 0 {
                metrics.sent(*kind, *count);
                *count = 0;
            }
        }
        if let Some(oldest) = oldest {
            let age = (Utc::now() - oldest).num_microseconds().unwrap_or(0).max(0);
            metrics.delivery_ms.record(age as f64 / 1000.0);
        }
    }
}

/// Reads the client's frames and keeps the heartbeat until the connection is to close.
async fn read(hub: &StreamHub, messages: &mut AggregatedMessageStream, outbox: &Arc<Outbox>) {
    let options = hub.options();
    let metrics = hub.metrics();
    let mut heartbeat = tokio::time::interval_at(Instant::now() + options.ping_interval, options.ping_interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    loop {
        let message = tokio::select! {
            () = outbox.wait_closing() => return,
            _ = heartbeat.tick() => {
                if last_seen.elapsed() >= options.client_timeout {
                    outbox.close(Close::new(
                        CloseCode::Policy,
                        Reason::Timeout,
                        format!("no answer to ping within {}", seconds(options.client_timeout)),
                        true,
                    ));
                    return;
                }
                outbox.push_control(Outgoing::Ping);
                continue;
            }
            message = messages.recv() => message,
        };
        last_seen = Instant::now();
        let close = match message {
            None => Close::new(CloseCode::Normal, Reason::Client, "", true),
            Some(Ok(AggregatedMessage::Text(text))) => {
                handle_text(hub, outbox, &text);
                continue;
            }
            Some(Ok(AggregatedMessage::Binary(_))) => {
                metrics.received(Op::Invalid);
                outbox.push_answer(protocol::error(&Refusal::new(
                    "binary_not_supported",
                    "frames are JSON text; binary frames are not supported",
                )));
                continue;
            }
            Some(Ok(AggregatedMessage::Ping(bytes))) => {
                outbox.push_control(Outgoing::Pong(bytes));
                continue;
            }
            Some(Ok(AggregatedMessage::Pong(_))) => continue,
            Some(Ok(AggregatedMessage::Close(reason))) => {
                Close::new(reason.map_or(CloseCode::Normal, |r| r.code), Reason::Client, "", true)
            }
            Some(Err(error)) => protocol_close(&error, options.max_frame_size),
        };
        outbox.close(close);
        return;
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// The close of a connection whose client broke the WebSocket protocol.
fn protocol_close(error: &ProtocolError, max_frame_size: usize) -> Close {
    let oversized = match error {
        ProtocolError::Overflow => true,
        ProtocolError::Io(io) => io.to_string().contains("maximum continuation size"),
        _ => false,
    };
    if oversized {
        return Close::new(
            CloseCode::Size,
            Reason::Abusive,
            format!("frame larger than {max_frame_size} bytes"),
            true,
        );
    }
    if let ProtocolError::Io(io) = error
        && io.kind() == std::io::ErrorKind::InvalidData
    {
        return Close::new(CloseCode::Invalid, Reason::Abusive, "text frame is not UTF-8", true);
    }
    Close::new(CloseCode::Protocol, Reason::Abusive, "WebSocket protocol error", true)
}

/// Answers one text frame.
fn handle_text(hub: &StreamHub, outbox: &Arc<Outbox>, text: &str) {
    let metrics = hub.metrics();
    let refusal = match protocol::parse_request(text) {
        Ok(Request::Ping) => {
            metrics.received(Op::Ping);
            outbox.push_answer(protocol::pong());
            return;
        }
        Ok(Request::Subscribe(channels)) => {
            metrics.received(Op::Subscribe);
            match hub.subscribe(outbox, &channels) {
                Ok(()) => return,
                Err(refusal) => refusal,
            }
        }
        Ok(Request::Unsubscribe(channels)) => {
            metrics.received(Op::Unsubscribe);
            hub.unsubscribe(outbox, &channels);
            return;
        }
        Err(refusal) => {
            metrics.received(Op::Invalid);
            refusal
        }
    };
    outbox.push_answer(protocol::error(&refusal));
}
