//! finstage-api integration tests.

mod stream;
