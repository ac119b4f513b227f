//! [`RedisUrl`]: a Redis URL whose password never prints.

use std::fmt;
use std::str::FromStr;

use redis::IntoConnectionInfo;

use crate::error::CacheError;

/// A `redis://` or `rediss://` URL. `Display` and `Debug` show it with the password replaced by
/// `***` (`redis://:***@host:6379/0`); only [`expose_secret`](Self::expose_secret) gives the real one.
///
/// ```
/// use finstage_cache::RedisUrl;
///
/// let url: RedisUrl = "redis://:hunter2@cache.internal:6379/0".parse()?;
/// assert_eq!(url.to_string(), "redis://:***@cache.internal:6379/0");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// assert_eq!(url.expose_secret(), "redis://:hunter2@cache.internal:6379/0");
/// # Ok::<(), finstage_cache::CacheError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    raw: String,
    redacted: String,
    /// The password as written and percent-decoded, to scrub from any text that might quote it.
    secrets: Vec<String>,
}

impl RedisUrl {
    /// The URL with its password, for handing to the Redis client. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.raw
    }

    /// Whether the URL asks for TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.raw.get(..9).is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
    }

    /// `text` with every occurrence of the password (as written and as percent-decoded)
    /// replaced by `***`: for error texts of Redis clients, which may quote the URL.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }

    pub(crate) fn localhost() -> Self {
        let raw = "redis://127.0.0.1:6379/0".to_owned();
        RedisUrl {
            redacted: raw.clone(),
            raw,
            secrets: Vec::new(),
        }
    }
}

impl FromStr for RedisUrl {
    type Err = CacheError;

    /// Parses a `redis://[user[:password]@]host[:port][/db]` or `rediss://…` URL. Errors are
    /// [`CacheError::Config`] and never contain the password.
    fn from_str(raw: &str) -> Result<Self, CacheError> {
        let scheme_len = if raw.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("redis://")) {
            8
        } else if raw.get(..9).is_some_and(|s| s.eq_ignore_ascii_case("rediss://")) {
            9
        } else {
            return Err(CacheError::Config(
                "a Redis URL must start with redis:// or rediss://".into(),
            ));
        };
        let (scheme, rest) = raw.split_at(scheme_len);
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let (redacted_userinfo, secrets) = match userinfo.map(|u| u.split_once(':')) {
            None => (String::new(), Vec::new()),
            Some(None) => (format!("{}@", userinfo.unwrap_or_default()), Vec::new()),
            Some(Some((user, password))) => {
                let mut secrets = vec![password.to_owned()];
                let decoded = percent_decode(password);
                if decoded != password {
                    secrets.push(decoded);
                }
                secrets.retain(|s| !s.is_empty());
                (format!("{user}:***@"), secrets)
            }
        };
        let redacted = format!("{scheme}{redacted_userinfo}{host}{tail}");
        let url = RedisUrl {
            raw: raw.to_owned(),
            redacted,
            secrets,
        };
        if host.is_empty() || host.starts_with(':') {
            return Err(CacheError::Config(format!("the Redis URL {url} has no host")));
        }
        // Let the client check the rest (port, database, query). It cannot parse rediss:// without
        // its TLS feature, which is checked when connecting: check the same URL as redis:// here.
        let plain = format!("redis://{}", &raw[scheme_len..]);
        if let Err(e) = plain.as_str().into_connection_info() {
            return Err(CacheError::Config(format!(
                "invalid Redis URL {url}: {}",
                url.scrub(&e.to_string())
            )));
        }
        Ok(url)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as written; invalid UTF-8 is replaced).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_every_shape() {
        let cases = [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
            ("redis://user:pw@host", "redis://user:***@host"),
            (
                "rediss://user:p%40ss@host:6380/2?protocol=resp3",
                "rediss://user:***@host:6380/2?protocol=resp3",
            ),
            ("redis://user@host", "redis://user@host"),
            ("REDIS://:pw@host", "REDIS://:***@host"),
        ];
        for (raw, shown) in cases {
            let url: RedisUrl = raw.parse().unwrap();
            assert_eq!(url.to_string(), shown);
            assert_eq!(format!("{url:?}"), format!("RedisUrl({shown:?})"));
            assert_eq!(url.expose_secret(), raw);
        }
    }

    #[test]
    fn scrubs_the_password_as_written_and_decoded() {
        let url: RedisUrl = "redis://:p%40ss@host".parse().unwrap();
        assert_eq!(url.scrub("auth p@ss and p%40ss failed"), "auth *** and *** failed");
    }

    #[test]
    fn rejects_bad_urls_without_quoting_the_password() {
        for raw in [
            "http://:hunter2@host",
            "redis://:hunter2@",
            "redis://:hunter2@host:notaport",
            "redis://:hunter2@host/db",
        ] {
            let err = raw.parse::<RedisUrl>().unwrap_err();
            assert!(matches!(err, CacheError::Config(_)), "{raw}: {err:?}");
            assert!(!err.to_string().contains("hunter2"), "{raw}: {err}");
        }
    }

    #[test]
    fn knows_tls() {
        assert!("rediss://host".parse::<RedisUrl>().unwrap().is_tls());
        assert!(!"redis://host".parse::<RedisUrl>().unwrap().is_tls());
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%41%zz%4"), "aA%zz%4");
    }
}
