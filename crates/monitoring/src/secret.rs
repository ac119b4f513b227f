//! [`Secret`]: a token or password that never prints.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "[redacted]";

/// A value (a token, a password, a URL with credentials) that must never reach a log, an error
/// body or a metric.
///
/// `Debug` and `Display` print [`REDACTED`], so a `Secret` inside a struct that is logged with
/// `?config` or `%config` stays hidden; [`expose_secret`](Self::expose_secret) is the one way to
/// the value, easy to find in a review.
///
/// It deserializes like the value it holds (so configuration can hold one), and deliberately does
/// **not** implement `Serialize`: a struct holding a secret cannot be written out by accident
/// (mark the field `#[serde(skip_serializing)]` to serialize the rest). `PartialEq` is not
/// implemented either; compare with [`matches`](Self::matches), which does not stop at the first
/// differing byte.
///
/// ```
/// use finstage_monitoring::Secret;
///
/// let token = Secret::new("s3cr3t".to_owned());
/// assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
/// assert_eq!(token.expose_secret(), "s3cr3t");
/// assert!(token.matches(b"s3cr3t"));
/// ```
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself: use it where it is needed (an `Authorization` header), nowhere else.
    pub fn expose_secret(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T: AsRef<[u8]>> Secret<T> {
    /// Whether `candidate` equals the secret, comparing every byte whatever the first difference
    /// (a bearer token check that does not leak how much of a guess was right through its timing).
    /// Lengths are compared first: the length of a secret is not hidden.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let secret = self.0.as_ref();
        if secret.len() != candidate.len() {
            return false;
        }
        let difference = secret.iter().zip(candidate).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }

    /// Whether the secret is empty (an unset token read as an empty string).
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_empty()
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // read through Debug only
    struct Config {
        user: String,
        password: Secret<String>,
    }

    #[test]
    fn debug_and_display_hide_the_value_even_inside_structs() {
        let config: Config = serde_json::from_str(r#"{"user":"ops","password":"hunter2"}"#).unwrap();
        assert_eq!(config.password.expose_secret(), "hunter2");
        let printed = format!("{config:?} {config:#?} {}", config.password);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("ops") && printed.contains(REDACTED), "{printed}");
    }

    #[test]
    fn matches_compares_whole_values() {
        let token = Secret::new("abcdef");
        assert!(token.matches(b"abcdef"));
        assert!(!token.matches(b"abcdeg"));
        assert!(!token.matches(b"abcde"));
        assert!(!token.matches(b"abcdefg"));
        assert!(!token.is_empty());
        assert!(Secret::new("").is_empty());
        assert_eq!(Secret::from(String::from("x")).into_exposed(), "x");
    }
}
