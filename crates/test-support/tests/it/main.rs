//! Integration tests of finstage-test-support: the mock Yahoo server driven through a real HTTP
//! client (reqwest), and the fixtures.

mod chart;
mod counting;
mod faults;
mod fixtures;
mod helpers;
mod limits;
mod ranges;
mod server;
mod telegram;
