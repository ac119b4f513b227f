//! Integration tests of finstage-marketdata: the resilience layer on a scripted provider, and the
//! Yahoo client against the mock Yahoo server of finstage-test-support.

mod fake;
mod resilient;
mod yahoo;
