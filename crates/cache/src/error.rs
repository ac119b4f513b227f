//! The crate's one error type, [`CacheError`].

/// Everything that can go wrong in a cache call.
///
/// Callers of [`CacheExt::get_or_set`](crate::CacheExt::get_or_set) never see it (the loader runs
/// instead); callers of the raw calls treat every variant as "no cached answer" and fall back to the
/// source. No variant ever carries a cached value or a password: keys are included (quoted, and cut
/// to [`MAX_KEY_IN_ERROR`] characters), values never are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend could not serve the call: down, unreachable, no answer within the response
    /// timeout, or it refused the command. Retrying later may succeed.
    #[error("cache {cache:?} unavailable: {message}")]
    Unavailable {
        /// The name of the cache.
        cache: String,
        /// What went wrong (never contains a password or a value).
        message: String,
    },
    /// The value could not be encoded as JSON.
    #[error("cannot encode the value for key {key:?}: {message}")]
    Encode {
        /// The key the value was meant for.
        key: String,
        /// serde_json's explanation.
        message: String,
    },
    /// The stored bytes are not valid JSON for the requested type (the type changed since the value
    /// was stored, or someone else wrote the key). The message names the position, never the content.
    #[error("cannot decode the cached value for key {key:?}: {message}")]
    Decode {
        /// The key whose value did not decode.
        key: String,
        /// Where decoding failed (category, line and column; no content).
        message: String,
    },
    /// The key is empty, longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes, or contains a
    /// control character or whitespace.
    #[error("invalid cache key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key (cut to [`MAX_KEY_IN_ERROR`] characters).
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A configuration value is invalid (zero bounds, bad names, a malformed URL, …).
    #[error("invalid cache configuration: {0}")]
    Config(String),
}

/// Keys quoted in errors are cut to this many characters (followed by `…`).
pub const MAX_KEY_IN_ERROR: usize = 64;

impl CacheError {
    /// A short, stable name for the variant, used as the `kind` label of
    /// `finstage_cache_errors_total`: `unavailable`, `encode`, `decode`, `invalid_key` or `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            CacheError::Unavailable { .. } => "unavailable",
            CacheError::Encode { .. } => "encode",
            CacheError::Decode { .. } => "decode",
            CacheError::InvalidKey { .. } => "invalid_key",
            CacheError::Config(_) => "config",
        }
    }

    /// Index of [`kind`](Self::kind) in [`ERROR_KINDS`].
    pub(crate) fn kind_index(&self) -> usize {
        match self {
            CacheError::Unavailable { .. } => 0,
            CacheError::Encode { .. } => 1,
            CacheError::Decode { .. } => 2,
            CacheError::InvalidKey { .. } => 3,
            CacheError::Config(_) => 4,
        }
    }

    pub(crate) fn decode(key: &str, err: &serde_json::Error) -> Self {
        // serde_json's messages can quote the offending content ("invalid type: string \"…\""), and
        // a cached value must never reach an error or a log: keep only the category and position.
        let category = match err.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "JSON does not match the requested type",
            serde_json::error::Category::Eof => "JSON ends early",
        };
        CacheError::Decode {
            key: key_for_error(key),
            message: format!("{category} at line {}, column {}", err.line(), err.column()),
        }
    }

    pub(crate) fn encode(key: &str, err: &serde_json::Error) -> Self {
        CacheError::Encode {
            key: key_for_error(key),
            message: err.to_string(),
        }
    }
}

/// The error kinds, in [`CacheError::kind_index`] order.
pub(crate) const ERROR_KINDS: [&str; 5] = ["unavailable", "encode", "decode", "invalid_key", "config"];

/// A key as it may appear in an error: at most [`MAX_KEY_IN_ERROR`] characters.
pub(crate) fn key_for_error(key: &str) -> String {
    match key.char_indices().nth(MAX_KEY_IN_ERROR) {
        None => key.to_owned(),
        Some((cut, _)) => format!("{}…", &key[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_their_index() {
        let errors = [
            CacheError::Unavailable {
                cache: "c".into(),
                message: "m".into(),
            },
            CacheError::Encode {
                key: "k".into(),
                message: "m".into(),
            },
            CacheError::Decode {
                key: "k".into(),
                message: "m".into(),
            },
            CacheError::InvalidKey {
                key: "k".into(),
                reason: "r",
            },
            CacheError::Config("c".into()),
        ];
        for e in &errors {
            assert_eq!(ERROR_KINDS[e.kind_index()], e.kind());
        }
    }

    #[test]
    fn decode_errors_do_not_quote_the_value() {
        let err = serde_json::from_slice::<u32>(br#""top secret value""#).unwrap_err();
        assert!(err.to_string().contains("top secret"), "serde_json quotes it: {err}");
        let ours = CacheError::decode("k", &err).to_string();
        assert!(!ours.contains("top secret"), "{ours}");
        assert!(ours.contains("line 1"), "{ours}");
    }

    #[test]
    fn long_keys_are_cut_in_errors() {
        let key = "é".repeat(100);
        let cut = key_for_error(&key);
        assert_eq!(cut.chars().count(), MAX_KEY_IN_ERROR + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(key_for_error("short"), "short");
    }
}
