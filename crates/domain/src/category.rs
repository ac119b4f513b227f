//! [`Category`]: the kind of instrument a symbol names, and how to guess it from the ticker.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::echo;
use crate::{DomainError, Symbol};

/// The kind of instrument a [`Symbol`] names.
///
/// Text form (`Display`, `FromStr`, serde): `index`, `future`, `stock`, `etf`, `fx`, `crypto`.
/// Parsing ignores ASCII case (`ETF` is accepted); output is always lower-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// A market index, such as `^GSPC`.
    Index,
    /// A futures contract, such as `ES=F`.
    Future,
    /// A single company's shares, such as `AAPL` or `005930.KS`.
    Stock,
    /// An exchange-traded fund, such as `SPY`.
    Etf,
    /// A currency pair, such as `EURUSD=X`.
    Fx,
    /// A crypto asset priced in a currency, such as `BTC-USD`.
    Crypto,
}

/// Quote currencies that make `BASE-QUOTE` a crypto pair in [`Category::infer`].
const CRYPTO_QUOTES: &[&str] = &[
    "USD", "USDT", "USDC", "EUR", "GBP", "JPY", "KRW", "CAD", "AUD", "CHF", "CNY", "INR", "BTC", "ETH",
];

impl Category {
    /// Every category, in declaration order.
    pub const ALL: &'static [Category] = &[
        Self::Index,
        Self::Future,
        Self::Stock,
        Self::Etf,
        Self::Fx,
        Self::Crypto,
    ];

    /// The lower-case name (`index`, `future`, `stock`, `etf`, `fx`, `crypto`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Future => "future",
            Self::Stock => "stock",
            Self::Etf => "etf",
            Self::Fx => "fx",
            Self::Crypto => "crypto",
        }
    }

    /// Guesses the category from Yahoo's ticker conventions:
    ///
    /// | ticker | category |
    /// |---|---|
    /// | starts with `^` (`^GSPC`) | [`Index`](Self::Index) |
    /// | ends with `=F` (`ES=F`) | [`Future`](Self::Future) |
    /// | ends with `=X` (`EURUSD=X`) | [`Fx`](Self::Fx) |
    /// | `BASE-QUOTE`, `BASE` 2–10 letters or digits, `QUOTE` one of USD, USDT, USDC, EUR, GBP, JPY, KRW, CAD, AUD, CHF, CNY, INR, BTC, ETH (`BTC-USD`) | [`Crypto`](Self::Crypto) |
    /// | anything else (`AAPL`, `BRK-B`, `005930.KS`) | [`Stock`](Self::Stock) |
    ///
    /// An ETF cannot be told apart from a stock by its ticker (`SPY` looks like `AAPL`), so this
    /// never returns [`Etf`](Self::Etf): the configuration file states the category of such
    /// symbols, and inference is only the fallback for symbols it does not list.
    ///
    /// ```
    /// use finstage_domain::{Category, Symbol};
    ///
    /// let infer = |s| Category::infer(&Symbol::parse(s).unwrap());
    /// assert_eq!(infer("^GSPC"), Category::Index);
    /// assert_eq!(infer("BTC-USD"), Category::Crypto);
    /// assert_eq!(infer("BRK-B"), Category::Stock);
    /// ```
    pub fn infer(symbol: &Symbol) -> Self {
        let s = symbol.as_str();
        if s.starts_with('^') {
            Self::Index
        } else if s.ends_with("=F") {
            Self::Future
        } else if s.ends_with("=X") {
            Self::Fx
        } else if is_crypto_pair(s) {
            Self::Crypto
        } else {
            Self::Stock
        }
    }
}

fn is_crypto_pair(s: &str) -> bool {
    let Some((base, quote)) = s.split_once('-') else {
        return false;
    };
    (2..=10).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_alphanumeric()) && CRYPTO_QUOTES.contains(&quote)
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Category {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::UnknownCategory { input: echo(s) })
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize(
            deserializer,
            "one of index, future, stock, etf, fx, crypto",
            Category::from_str,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(s: &str) -> Category {
        Category::infer(&Symbol::parse(s).unwrap())
    }

    #[test]
    fn infers_from_yahoo_conventions() {
        assert_eq!(infer("^GSPC"), Category::Index);
        assert_eq!(infer("^IXIC"), Category::Index);
        assert_eq!(infer("ES=F"), Category::Future);
        assert_eq!(infer("GC=F"), Category::Future);
        assert_eq!(infer("EURUSD=X"), Category::Fx);
        assert_eq!(infer("JPY=X"), Category::Fx);
        assert_eq!(infer("BTC-USD"), Category::Crypto);
        assert_eq!(infer("eth-usdt"), Category::Crypto);
        assert_eq!(infer("ETH-BTC"), Category::Crypto);
        assert_eq!(infer("1INCH-USD"), Category::Crypto);
        assert_eq!(infer("BTC-KRW"), Category::Crypto);
        assert_eq!(infer("AAPL"), Category::Stock);
        assert_eq!(infer("005930.KS"), Category::Stock);
        assert_eq!(infer("6309.T"), Category::Stock);
        assert_eq!(infer("M&M.NS"), Category::Stock);
        assert_eq!(infer("BRK.B"), Category::Stock);
        assert_eq!(infer("SPY"), Category::Stock);
    }

    #[test]
    fn share_classes_and_odd_pairs_are_stocks() {
        assert_eq!(infer("BRK-B"), Category::Stock);
        assert_eq!(infer("BF-A"), Category::Stock);
        // Base too short, too long, or not purely alphanumeric.
        assert_eq!(infer("B-USD"), Category::Stock);
        assert_eq!(infer("ABCDEFGHIJK-USD"), Category::Stock);
        assert_eq!(infer("A.B-USD"), Category::Stock);
        assert_eq!(infer("X-Y-USD"), Category::Stock);
        // Unknown quote currency.
        assert_eq!(infer("BTC-XYZ"), Category::Stock);
        assert_eq!(infer("BTC-USD-X"), Category::Stock);
    }

    #[test]
    fn text_form_round_trips() {
        for &c in Category::ALL {
            assert_eq!(c.to_string().parse::<Category>().unwrap(), c);
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!("ETF".parse::<Category>().unwrap(), Category::Etf);
        assert_eq!("Crypto".parse::<Category>().unwrap(), Category::Crypto);
    }

    #[test]
    fn unknown_category_is_typed_error() {
        assert_eq!(
            "bond".parse::<Category>(),
            Err(DomainError::UnknownCategory { input: "bond".into() })
        );
        assert!(matches!(
            "".parse::<Category>(),
            Err(DomainError::UnknownCategory { .. })
        ));
        assert!(matches!(
            " stock".parse::<Category>(),
            Err(DomainError::UnknownCategory { .. })
        ));
    }
}
