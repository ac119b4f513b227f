//! Momentum and oscillators: RSI, MACD, Stochastic, StochRSI, ADX and ±DI, CCI, MFI, Williams %R,
//! ROC, MOM.

pub mod adx;
pub mod cci;
pub mod macd;
pub mod mfi;
pub mod mom;
pub mod roc;
pub mod rsi;
pub mod stoch;
pub mod stochrsi;
pub mod willr;
