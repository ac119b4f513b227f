//! Moving averages: SMA, EMA, WMA, DEMA, TEMA.

pub mod dema;
pub mod ema;
pub mod sma;
pub mod tema;
pub mod wma;
