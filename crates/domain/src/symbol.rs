//! [`Symbol`]: a validated, upper-case ticker symbol stored inline (no heap).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{DomainError, SymbolErrorKind};

/// A ticker symbol as Yahoo Finance spells it: `AAPL`, `BRK-B`, `^GSPC`, `ES=F`, `EURUSD=X`,
/// `BTC-USD`, `005930.KS`, `M&M.NS`.
///
/// Holding a `Symbol` means the text passed [`Symbol::parse`]:
/// - 1 to [`Symbol::MAX_LEN`] characters, nothing trimmed;
/// - only ASCII letters and digits, `.`, `-`, `=`, `&`, and `^` as the first character;
/// - at least one letter or digit, and never `..` (so it is safe in a file name or URL path);
/// - ASCII letters upper-cased (`aapl` becomes `AAPL`).
///
/// It is `Copy` (32 bytes inline plus a length), and it hashes, compares and orders exactly like
/// its text, so a `HashMap<Symbol, _>` or `BTreeMap<Symbol, _>` can be looked up with a `&str`:
///
/// ```
/// use std::collections::HashMap;
/// use finstage_domain::Symbol;
///
/// let mut last = HashMap::new();
/// last.insert(Symbol::parse("aapl")?, 189.5);
/// assert_eq!(last.get("AAPL"), Some(&189.5));
/// # Ok::<(), finstage_domain::DomainError>(())
/// ```
///
/// Serde: a JSON string; deserializing parses, so invalid text is a deserialization error.
#[derive(Clone, Copy)]
pub struct Symbol {
    /// Number of bytes used in `bytes`; at most `MAX_LEN`.
    len: u8,
    /// ASCII text in `bytes[..len]`, zeros after it.
    bytes: [u8; Symbol::MAX_LEN],
}

impl Symbol {
    /// The longest symbol accepted, in characters (and bytes: symbols are ASCII).
    pub const MAX_LEN: usize = 32;

    /// Parses and normalises a ticker symbol; see [`Symbol`] for the rules.
    ///
    /// # Errors
    /// [`DomainError::InvalidSymbol`] with the first rule broken as its [`SymbolErrorKind`]:
    /// `Empty`, `TooLong`, then, scanning left to right, the first of `Whitespace`,
    /// `ControlChar`, `PathSeparator`, `DotDot`, `MisplacedCaret` or `InvalidChar`, and finally
    /// `NoAlphanumeric`. A character that is both whitespace and a control character (`\t`, `\n`)
    /// is reported as whitespace.
    ///
    /// ```
    /// use finstage_domain::{DomainError, Symbol, SymbolErrorKind};
    ///
    /// assert_eq!(Symbol::parse("005930.ks")?.as_str(), "005930.KS");
    /// assert!(matches!(
    ///     Symbol::parse("AAPL "),
    ///     Err(DomainError::InvalidSymbol { reason: SymbolErrorKind::Whitespace { position: 4, .. }, .. })
    /// ));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        use SymbolErrorKind as K;

        let fail = |reason| Err(DomainError::invalid_symbol(input, reason));
        if input.is_empty() {
            return fail(K::Empty);
        }
        // A string has no more characters than bytes, so counting is needed only past MAX_LEN bytes.
        if input.len() > Self::MAX_LEN {
            let len = input.chars().count();
            if len > Self::MAX_LEN {
                return fail(K::TooLong { len });
            }
        }

        let mut bytes = [0_u8; Self::MAX_LEN];
        let mut len = 0_u8;
        let mut has_alphanumeric = false;
        let mut previous_was_dot = false;
        // At most MAX_LEN characters (checked above), so the zip never drops one.
        for ((position, ch), slot) in input.chars().enumerate().zip(bytes.iter_mut()) {
            let problem = match ch {
                'A'..='Z' | 'a'..='z' | '0'..='9' => {
                    has_alphanumeric = true;
                    None
                }
                '.' if previous_was_dot => Some(K::DotDot {
                    position: position.saturating_sub(1),
                }),
                '.' | '-' | '=' | '&' => None,
                '^' if position == 0 => None,
                '^' => Some(K::MisplacedCaret { position }),
                '/' | '\\' => Some(K::PathSeparator { ch, position }),
                c if c.is_whitespace() => Some(K::Whitespace { ch, position }),
                c if c.is_control() => Some(K::ControlChar { ch, position }),
                _ => Some(K::InvalidChar { ch, position }),
            };
            if let Some(reason) = problem {
                return fail(reason);
            }
            previous_was_dot = ch == '.';
            // Every accepted character is ASCII, hence one byte.
            *slot = (ch as u8).to_ascii_uppercase();
            len += 1;
        }
        if !has_alphanumeric {
            return fail(K::NoAlphanumeric);
        }
        Ok(Self { len, bytes })
    }

    /// The symbol's text (upper-case ASCII).
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this never falls back to "".
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    fn as_bytes(&self) -> &[u8] {
        let (used, _) = self.bytes.split_at(usize::from(self.len).min(Self::MAX_LEN));
        used
    }
}

impl FromStr for Symbol {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Symbol {
    type Error = DomainError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Symbol").field(&self.as_str()).finish()
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Symbol {}

impl PartialEq<str> for Symbol {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Symbol {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Symbol {
    /// Hashes exactly like the symbol's `str`, as [`Borrow<str>`] requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Symbol {
    /// Orders like the symbol's `str` (byte-wise), as [`Borrow<str>`] requires.
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize(deserializer, "a ticker symbol such as \"AAPL\"", Symbol::parse)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    fn reason(input: &str) -> SymbolErrorKind {
        match Symbol::parse(input) {
            Err(DomainError::InvalidSymbol { reason, .. }) => reason,
            other => panic!("{input:?} should be an invalid symbol, got {other:?}"),
        }
    }

    #[test]
    fn accepts_real_yahoo_tickers_unchanged() {
        for t in [
            "AAPL",
            "BRK-B",
            "BRK.B",
            "^GSPC",
            "^IXIC",
            "ES=F",
            "EURUSD=X",
            "BTC-USD",
            "005930.KS",
            "6309.T",
            "M&M.NS",
        ] {
            let s = Symbol::parse(t).unwrap();
            assert_eq!(s.as_str(), t);
            assert_eq!(s.to_string(), t);
        }
    }

    #[test]
    fn normalises_ascii_case_to_upper() {
        assert_eq!(Symbol::parse("aapl").unwrap().as_str(), "AAPL");
        assert_eq!(Symbol::parse("005930.ks").unwrap().as_str(), "005930.KS");
        assert_eq!(Symbol::parse("brk-b").unwrap(), Symbol::parse("BRK-B").unwrap());
        assert_eq!(Symbol::parse("^gspc").unwrap().as_str(), "^GSPC");
        assert_eq!(Symbol::parse("eurusd=x").unwrap().as_str(), "EURUSD=X");
        assert_eq!(Symbol::parse("m&m.ns").unwrap().as_str(), "M&M.NS");
    }

    #[test]
    fn accepts_exactly_max_len() {
        let t = "A".repeat(32);
        assert_eq!(Symbol::parse(&t).unwrap().as_str(), t);
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(reason(""), SymbolErrorKind::Empty);
    }

    #[test]
    fn rejects_too_long_and_reports_length() {
        assert_eq!(reason(&"A".repeat(33)), SymbolErrorKind::TooLong { len: 33 });
        assert_eq!(reason(&"é".repeat(40)), SymbolErrorKind::TooLong { len: 40 });
        // 20 two-byte characters: 40 bytes but 20 characters, so the character itself is the fault.
        assert_eq!(
            reason(&"é".repeat(20)),
            SymbolErrorKind::InvalidChar { ch: 'é', position: 0 }
        );
    }

    #[test]
    fn rejects_whitespace_without_trimming() {
        assert_eq!(reason(" AAPL"), SymbolErrorKind::Whitespace { ch: ' ', position: 0 });
        assert_eq!(reason("AAPL "), SymbolErrorKind::Whitespace { ch: ' ', position: 4 });
        assert_eq!(reason("AA PL"), SymbolErrorKind::Whitespace { ch: ' ', position: 2 });
        assert_eq!(reason("AAPL\n"), SymbolErrorKind::Whitespace { ch: '\n', position: 4 });
        assert_eq!(reason("\tAAPL"), SymbolErrorKind::Whitespace { ch: '\t', position: 0 });
        assert_eq!(
            reason("A\u{a0}B"),
            SymbolErrorKind::Whitespace {
                ch: '\u{a0}',
                position: 1
            }
        );
    }

    #[test]
    fn rejects_control_characters() {
        assert_eq!(reason("AA\0PL"), SymbolErrorKind::ControlChar { ch: '\0', position: 2 });
        assert_eq!(
            reason("AAPL\u{7f}"),
            SymbolErrorKind::ControlChar {
                ch: '\u{7f}',
                position: 4
            }
        );
        assert_eq!(
            reason("\u{1b}[0m"),
            SymbolErrorKind::ControlChar {
                ch: '\u{1b}',
                position: 0
            }
        );
    }

    #[test]
    fn rejects_path_separators() {
        assert_eq!(
            reason("AAPL/X"),
            SymbolErrorKind::PathSeparator { ch: '/', position: 4 }
        );
        assert_eq!(reason("A\\B"), SymbolErrorKind::PathSeparator { ch: '\\', position: 1 });
        assert_eq!(reason("/etc"), SymbolErrorKind::PathSeparator { ch: '/', position: 0 });
    }

    #[test]
    fn rejects_dot_dot_anywhere() {
        assert_eq!(reason(".."), SymbolErrorKind::DotDot { position: 0 });
        assert_eq!(reason("..A"), SymbolErrorKind::DotDot { position: 0 });
        assert_eq!(reason("A..B"), SymbolErrorKind::DotDot { position: 1 });
        assert_eq!(reason("AB..."), SymbolErrorKind::DotDot { position: 2 });
        assert_eq!(reason("../AAPL"), SymbolErrorKind::DotDot { position: 0 });
        // A single dot between letters is fine.
        assert!(Symbol::parse("A.B.C").is_ok());
    }

    #[test]
    fn rejects_caret_not_first() {
        assert_eq!(reason("GS^PC"), SymbolErrorKind::MisplacedCaret { position: 2 });
        assert_eq!(reason("^^GSPC"), SymbolErrorKind::MisplacedCaret { position: 1 });
        assert_eq!(reason("AAPL^"), SymbolErrorKind::MisplacedCaret { position: 4 });
    }

    #[test]
    fn rejects_other_characters_with_char_and_position() {
        assert_eq!(reason("AA_PL"), SymbolErrorKind::InvalidChar { ch: '_', position: 2 });
        assert_eq!(reason("AAPL:"), SymbolErrorKind::InvalidChar { ch: ':', position: 4 });
        assert_eq!(reason("ÄPFEL"), SymbolErrorKind::InvalidChar { ch: 'Ä', position: 0 });
        assert_eq!(reason("A%2e"), SymbolErrorKind::InvalidChar { ch: '%', position: 1 });
        assert_eq!(
            reason("A\u{202e}B"),
            SymbolErrorKind::InvalidChar {
                ch: '\u{202e}',
                position: 1
            }
        );
        assert_eq!(
            reason("1\u{ff10}"),
            SymbolErrorKind::InvalidChar {
                ch: '\u{ff10}',
                position: 1
            }
        );
    }

    #[test]
    fn rejects_no_alphanumeric() {
        for input in ["^", ".", "-", "=", "&", "-.-", "^=&"] {
            assert_eq!(reason(input), SymbolErrorKind::NoAlphanumeric, "{input:?}");
        }
    }

    #[test]
    fn error_echoes_input_truncated_and_escaped() {
        let input = format!("{}\n{}", "A".repeat(38), "B".repeat(100));
        let err = Symbol::parse(&input).unwrap_err();
        let DomainError::InvalidSymbol { input: echoed, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(echoed, &format!("{}\\nB…", "A".repeat(38)));
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.starts_with("invalid symbol \"AAAA"), "{msg}");
    }

    #[test]
    fn lookup_by_str_in_hash_and_btree_maps() {
        let mut h = HashMap::new();
        h.insert(Symbol::parse("aapl").unwrap(), 1);
        assert_eq!(h.get("AAPL"), Some(&1));
        assert_eq!(h.get("aapl"), None);
        let mut b = BTreeMap::new();
        b.insert(Symbol::parse("MSFT").unwrap(), 2);
        assert_eq!(b.get("MSFT"), Some(&2));
    }

    #[test]
    fn hashes_like_str() {
        fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
            let mut h = DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        }
        for t in ["AAPL", "^GSPC", "A", "005930.KS"] {
            assert_eq!(hash_of(&Symbol::parse(t).unwrap()), hash_of(t));
        }
    }

    #[test]
    fn orders_like_str() {
        let mut v: Vec<Symbol> = ["MSFT", "AAPL", "^GSPC", "AA", "BRK-B", "BRK.B"]
            .iter()
            .map(|s| Symbol::parse(s).unwrap())
            .collect();
        v.sort();
        let texts: Vec<&str> = v.iter().map(Symbol::as_str).collect();
        let mut expected = vec!["MSFT", "AAPL", "^GSPC", "AA", "BRK-B", "BRK.B"];
        expected.sort_unstable();
        assert_eq!(texts, expected);
        // Length must not dominate: "AB" < "B".
        assert!(Symbol::parse("AB").unwrap() < Symbol::parse("B").unwrap());
    }

    #[test]
    fn conversions_and_formatting() {
        let s: Symbol = "ibm".parse().unwrap();
        assert_eq!(s, "IBM");
        assert_eq!(&s, &Symbol::try_from("IBM").unwrap());
        assert_eq!(AsRef::<str>::as_ref(&s), "IBM");
        assert_eq!(format!("{s:?}"), "Symbol(\"IBM\")");
        assert_eq!(format!("[{s:>5}]"), "[  IBM]");
        assert_eq!(std::mem::size_of::<Symbol>(), 33);
    }
}
