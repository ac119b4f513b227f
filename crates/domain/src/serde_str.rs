//! Serde helper for types that travel as a single string and are parsed from it.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Deserializes a string (borrowed or owned) and parses it with `parse`; a parse failure becomes
/// a serde error carrying the parse error's message (for us, a `DomainError`'s, which is safe to
/// show).
pub(crate) fn deserialize<'de, D, T, E>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    deserializer.deserialize_str(ParseVisitor { expecting, parse })
}

struct ParseVisitor<T, E> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
}

impl<T, E: fmt::Display> Visitor<'_> for ParseVisitor<T, E> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<DeE: de::Error>(self, v: &str) -> Result<T, DeE> {
        (self.parse)(v).map_err(DeE::custom)
    }
}
