//! Volume: on-balance volume, VWAP.

pub mod obv;
pub mod vwap;
