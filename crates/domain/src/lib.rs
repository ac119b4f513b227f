//! Domain types shared by every Finstage crate: [`Symbol`], [`Category`], [`Interval`],
//! [`BarTime`], [`Bar`], [`Quote`] and [`Currency`], with the one error type [`DomainError`].
//!
//! Values are parsed once and valid thereafter ("parse, don't validate"): constructors check
//! every rule and return `Result`, fields are private, and deserialization runs the same checks.
//! The crate does no I/O, never reads the clock and never reads environment variables.
//!
//! ```
//! use chrono::NaiveDate;
//! use finstage_domain::{Bar, Category, Interval, Symbol};
//!
//! let symbol: Symbol = "brk-b".parse()?;
//! assert_eq!(symbol.as_str(), "BRK-B");
//! assert_eq!(Category::infer(&symbol), Category::Stock);
//! assert!(!"1d".parse::<Interval>()?.is_intraday());
//!
//! let day = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
//! let bar = Bar::new(day, 10.0, 12.0, 9.0, 11.0, 1_000)?;
//! assert!(Bar::new(day, 10.0, 9.0, 12.0, 11.0, 1_000).is_err()); // low > high
//! assert_eq!(bar.typical_price(), 32.0 / 3.0);
//! # Ok::<(), finstage_domain::DomainError>(())
//! ```

mod bar;
mod category;
mod currency;
mod error;
mod interval;
mod quote;
mod serde_str;
mod symbol;
mod time;

pub use bar::Bar;
pub use category::Category;
pub use currency::Currency;
pub use error::{BarErrorKind, BarField, DomainError, ECHO_MAX_CHARS, QuoteErrorKind, QuoteField, SymbolErrorKind};
pub use interval::Interval;
pub use quote::Quote;
pub use symbol::Symbol;
pub use time::BarTime;
