//! [`Currency`]: a validated, upper-case currency code stored inline.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;
use crate::error::echo;

/// The currency a price is quoted in: 3 to 8 ASCII letters, upper-cased (`usd` becomes `USD`).
///
/// Usually an ISO 4217 code (`USD`, `KRW`), but longer codes such as `USDT` are accepted.
///
/// One exception to plain upper-casing: Yahoo writes `GBp` for prices in pence sterling (London
/// listings), a hundredth of `GBP`. Upper-casing it would silently inflate those prices a
/// hundredfold, so `GBp` becomes `GBX`, the usual code for pence. (Yahoo's `ZAc`, South African
/// cents, becomes `ZAC`, which already is the usual code; `ILA`, Israeli agorot, is unchanged.)
///
/// Serde: a JSON string; deserializing parses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    // `bytes` first and zero-padded, so the derived order is the order of the text.
    bytes: [u8; Currency::MAX_LEN],
    len: u8,
}

impl Currency {
    /// The shortest code accepted.
    pub const MIN_LEN: usize = 3;
    /// The longest code accepted.
    pub const MAX_LEN: usize = 8;

    /// Parses and normalises a currency code; see [`Currency`].
    ///
    /// # Errors
    /// [`DomainError::InvalidCurrency`] when `input` is not 3 to 8 ASCII letters (nothing is
    /// trimmed).
    ///
    /// ```
    /// use finstage_domain::Currency;
    ///
    /// assert_eq!(Currency::parse("usd")?.as_str(), "USD");
    /// assert_eq!(Currency::parse("GBp")?.as_str(), "GBX");
    /// assert!(Currency::parse("US$").is_err());
    /// # Ok::<(), finstage_domain::DomainError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let valid =
            (Self::MIN_LEN..=Self::MAX_LEN).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_alphabetic());
        if !valid {
            return Err(DomainError::InvalidCurrency { input: echo(input) });
        }
        let text = if input == "GBp" { "GBX" } else { input };
        let mut bytes = [0_u8; Self::MAX_LEN];
        for (slot, b) in bytes.iter_mut().zip(text.bytes()) {
            *slot = b.to_ascii_uppercase();
        }
        Ok(Self {
            bytes,
            // At most MAX_LEN (8), checked above.
            len: u8::try_from(text.len()).unwrap_or(0),
        })
    }

    /// The code's text (upper-case ASCII).
    pub fn as_str(&self) -> &str {
        let (used, _) = self.bytes.split_at(usize::from(self.len).min(Self::MAX_LEN));
        // Only ASCII letters are ever stored, so this never falls back to "".
        std::str::from_utf8(used).unwrap_or_default()
    }
}

impl FromStr for Currency {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Currency").field(&self.as_str()).finish()
    }
}

impl AsRef<str> for Currency {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize(deserializer, "a currency code such as \"USD\"", Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        for (input, expected) in [
            ("USD", "USD"),
            ("usd", "USD"),
            ("Krw", "KRW"),
            ("USDT", "USDT"),
            ("ABCDEFGH", "ABCDEFGH"),
            ("GBP", "GBP"),
            ("gbp", "GBP"),
            ("GBp", "GBX"),
            ("ZAc", "ZAC"),
            ("ILA", "ILA"),
        ] {
            let c = Currency::parse(input).unwrap();
            assert_eq!(c.as_str(), expected, "{input}");
            assert_eq!(c.to_string(), expected);
        }
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in ["", "US", "ABCDEFGHI", "US$", "U5D", " USD", "USD ", "ÜSD", "US\nD"] {
            assert_eq!(
                Currency::parse(bad),
                Err(DomainError::InvalidCurrency { input: echo(bad) }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn orders_like_text() {
        let usd = Currency::parse("USD").unwrap();
        let usdt = Currency::parse("USDT").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        assert!(eur < usd && usd < usdt);
        assert_eq!(format!("{usd:?}"), "Currency(\"USD\")");
    }
}
