//! The Finstage HTTP API and WebSocket stream.

pub mod stream;
