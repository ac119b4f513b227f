//! Volatility: true range, ATR, NATR, standard deviation, Bollinger Bands.

pub mod atr;
pub mod bbands;
pub mod natr;
pub mod stddev;
pub mod trange;
