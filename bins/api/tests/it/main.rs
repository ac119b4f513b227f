//! finstage-api integration tests.
