//! Integration tests of finstage-indicators: TA-Lib golden files, the agreement of the batch,
//! streaming, incremental and multi-indicator paths, and behaviour on hostile input.

mod allocations;
mod conformance;
mod golden;
#[cfg(feature = "serde")]
mod serde;
mod support;
