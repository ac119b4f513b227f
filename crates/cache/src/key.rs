//! Key and name validation shared by both backends.

use crate::error::{CacheError, key_for_error};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Checks a key: non-empty, at most [`MAX_KEY_LEN`] bytes, no control character, no whitespace.
///
/// Both backends call it first, so a key is accepted or rejected the same way everywhere.
pub fn validate_key(key: &str) -> Result<(), CacheError> {
    let reason = if key.is_empty() {
        "the key is empty"
    } else if key.len() > MAX_KEY_LEN {
        "the key is longer than 512 bytes"
    } else if key.bytes().all(|b| b.is_ascii_graphic()) {
        // The common case: printable ASCII, no space. Nothing more to check.
        return Ok(());
    } else if key.chars().any(char::is_control) {
        "the key contains a control character"
    } else if key.chars().any(char::is_whitespace) {
        "the key contains whitespace"
    } else {
        return Ok(());
    };
    Err(CacheError::InvalidKey {
        key: key_for_error(key),
        reason,
    })
}

/// A fast, non-cryptographic hash of a key (FxHash over 8-byte words, then a final multiply so that
/// the top bits depend on every input bit), for picking a shard or a stripe. Collisions only
/// unbalance shards or cause a spare re-read; the maps inside use hashbrown's seeded hasher.
pub(crate) fn key_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
}

/// Checks a cache name or a namespace: non-empty, at most 128 bytes, no control character, no
/// whitespace, and (when `colon_allowed` is false) no `:`.
pub(crate) fn validate_name(what: &str, name: &str, colon_allowed: bool) -> Result<(), CacheError> {
    let problem = if name.is_empty() {
        "is empty"
    } else if name.len() > 128 {
        "is longer than 128 bytes"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "contains a control character or whitespace"
    } else if !colon_allowed && name.contains(':') {
        "contains ':', the separator of Redis keys"
    } else {
        return Ok(());
    };
    Err(CacheError::Config(format!(
        "the {what} {:?} {problem}",
        key_for_error(name)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "quote:AAPL",
            "history:AAPL:1d:2024-01-01",
            "日本株:7203",
            "a",
            &"k".repeat(512),
        ] {
            assert_eq!(validate_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn rejects_bad_keys_with_a_reason() {
        let cases: [(&str, &str); 7] = [
            ("", "empty"),
            (&"k".repeat(513), "longer"),
            ("a b", "whitespace"),
            ("a\u{3000}b", "whitespace"),
            ("a\nb", "control"),
            ("a\u{7f}", "control"),
            ("a\u{85}b", "control"),
        ];
        for (key, why) in cases {
            match validate_key(key) {
                Err(CacheError::InvalidKey { reason, .. }) => assert!(reason.contains(why), "{key:?}: {reason}"),
                other => panic!("{key:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_may_forbid_colons() {
        assert!(validate_name("namespace", "finstage", false).is_ok());
        assert!(validate_name("namespace", "a:b", false).is_err());
        assert!(validate_name("name", "a:b", true).is_ok());
        assert!(validate_name("name", "", true).is_err());
        assert!(validate_name("name", "a b", true).is_err());
    }
}
