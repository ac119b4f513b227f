//! The Finstage HTTP API and WebSocket stream.
