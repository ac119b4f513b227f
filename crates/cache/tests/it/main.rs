//! Integration tests of finstage-cache: one generic suite run against both backends, then what is
//! specific to each backend and to `SingleFlight`.
//!
//! The Redis tests need a Redis server: `redis://127.0.0.1:6379/0`, or `FINSTAGE_TEST_REDIS_URL`.
//! They fail (never skip) when it is unreachable. Each uses its own namespace and removes its keys.

mod get_or_set;
mod memory;
mod redis;
mod single_flight;
mod suite;
mod support;
