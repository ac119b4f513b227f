//! What the store is given: a database URL and pool settings. The store reads no environment
//! and no file; `finstage-core` builds this from the configuration.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::StoreError;

/// The three backends, chosen by the URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://` (MySQL 8 or MariaDB 10.5+).
    Mysql,
    /// `sqlite://PATH`: the embedded default.
    Sqlite,
}

impl Backend {
    /// `postgres`, `mysql` or `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A database URL, parsed once. Its password never reaches `Debug`, `Display` or an error.
///
/// ```
/// use finstage_store::{Backend, DatabaseUrl};
///
/// let url: DatabaseUrl = "postgres://app:s3cret@db.internal:5432/finstage".parse()?;
/// assert_eq!(url.backend(), Backend::Postgres);
/// assert_eq!(url.to_string(), "postgres://app:***@db.internal:5432/finstage");
/// assert!(!format!("{url:?}").contains("s3cret"));
///
/// let embedded: DatabaseUrl = "sqlite://var/finstage.db".parse()?;
/// assert_eq!(embedded.sqlite_path().unwrap().to_str(), Some("var/finstage.db"));
/// # Ok::<(), finstage_store::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver gets: the URL itself, or the file path for SQLite.
    connect: String,
    /// The URL with its password masked.
    shown: String,
}

impl DatabaseUrl {
    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The file of a `sqlite://` URL (`None` for the other backends and for `:memory:`).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite && self.connect != ":memory:").then(|| PathBuf::from(&self.connect))
    }

    /// What the driver connects with: the URL with its password (or the SQLite path). For
    /// connecting only; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.connect
    }

    /// The same server with another database name (`postgres`/`mysql` only): tests and tools
    /// create and drop databases through it.
    pub fn with_database(&self, database: &str) -> Result<Self, StoreError> {
        if self.backend == Backend::Sqlite {
            return Err(StoreError::Config("a sqlite URL has no database name".into()));
        }
        let (before_query, query) = match self.connect.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.connect.as_str(), None),
        };
        let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
        let base = match before_query[scheme_end..].find('/') {
            Some(slash) => &before_query[..scheme_end + slash],
            None => before_query,
        };
        let mut url = format!("{base}/{database}");
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url.parse()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = StoreError;

    fn from_str(input: &str) -> Result<Self, StoreError> {
        let input = input.trim();
        let (scheme, rest) = input
            .split_once("://")
            .or_else(|| input.strip_prefix("sqlite:").map(|rest| ("sqlite", rest)))
            .ok_or_else(|| {
                StoreError::Config("database URL has no scheme (postgres://, mysql:// or sqlite://)".into())
            })?;
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            "sqlite" => Backend::Sqlite,
            other => {
                return Err(StoreError::Config(format!(
                    "unsupported database scheme {:?} (postgres, mysql or sqlite)",
                    truncate(other)
                )));
            }
        };
        if backend == Backend::Sqlite {
            let path = rest.split_once('?').map_or(rest, |(path, _)| path);
            if path.is_empty() {
                return Err(StoreError::Config(
                    "sqlite URL without a path (sqlite://var/finstage.db)".into(),
                ));
            }
            if path.contains('\0') {
                return Err(StoreError::Config("sqlite path contains a NUL byte".into()));
            }
            return Ok(Self {
                backend,
                connect: path.to_owned(),
                shown: format!("sqlite://{path}"),
            });
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.rsplit('@').next().is_none_or(str::is_empty) {
            return Err(StoreError::Config(format!("{backend} URL without a host")));
        }
        let shown_authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_owned(),
        };
        // The canonical scheme for the drivers.
        let canonical = match backend {
            Backend::Postgres => "postgres",
            _ => "mysql",
        };
        Ok(Self {
            backend,
            connect: format!("{canonical}://{rest}"),
            shown: format!("{canonical}://{shown_authority}{}", &rest[authority_end..]),
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.shown)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(24).collect()
}

/// Connection pool settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Most connections open at once (SQLite: readers share them; one writes at a time).
    pub max_size: usize,
    /// Connections opened at start and kept by [`Store::maintain`](crate::Store::maintain).
    pub min_idle: usize,
    /// How long a checkout waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// Connections older than this are closed instead of reused.
    pub max_lifetime: Option<Duration>,
    /// Run a check query on every checkout (`SELECT 1`), so that a connection the server
    /// dropped is replaced before the caller sees it.
    pub verify_on_checkout: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 16,
            min_idle: 1,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            verify_on_checkout: true,
        }
    }
}

/// Everything the store needs.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Which database, where.
    pub url: DatabaseUrl,
    /// The pool.
    pub pool: PoolConfig,
    /// Statements slower than this are logged and counted (default 200 ms).
    pub slow_query_threshold: Duration,
    /// Rows per statement in bulk upserts (default 1,000).
    pub bulk_chunk_size: usize,
    /// SQLite's busy timeout: how long a writer waits for the lock (default 5 s).
    pub sqlite_busy_timeout: Duration,
}

impl StoreConfig {
    /// Defaults for everything but the URL.
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            pool: PoolConfig::default(),
            slow_query_threshold: Duration::from_millis(200),
            bulk_chunk_size: 1_000,
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }

    /// Checks the settings against each other.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if self.pool.max_size == 0 {
            return Err(StoreError::Config("pool max_size must be at least 1".into()));
        }
        if self.pool.min_idle > self.pool.max_size {
            return Err(StoreError::Config(format!(
                "pool min_idle ({}) exceeds max_size ({})",
                self.pool.min_idle, self.pool.max_size
            )));
        }
        if self.bulk_chunk_size == 0 {
            return Err(StoreError::Config("bulk_chunk_size must be at least 1".into()));
        }
        if self.pool.acquire_timeout.is_zero() || self.pool.connect_timeout.is_zero() {
            return Err(StoreError::Config("pool timeouts must be positive".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DatabaseUrl, StoreError> {
        s.parse()
    }

    #[test]
    fn backends_come_from_the_scheme() {
        assert_eq!(parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(parse("postgresql://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(
            parse("mysql://root@127.0.0.1:3306/x").unwrap().backend(),
            Backend::Mysql
        );
        assert_eq!(parse("mariadb://root@127.0.0.1/x").unwrap().backend(), Backend::Mysql);
        assert_eq!(parse("sqlite://var/f.db").unwrap().backend(), Backend::Sqlite);
        assert_eq!(
            parse("sqlite:///tmp/f.db").unwrap().sqlite_path(),
            Some(PathBuf::from("/tmp/f.db"))
        );
        assert_eq!(parse("sqlite::memory:").unwrap().sqlite_path(), None);
    }

    #[test]
    fn passwords_never_show() {
        let url = parse("mysql://root:hunter2@db:3306/finstage?ssl-mode=required").unwrap();
        assert_eq!(url.to_string(), "mysql://root:***@db:3306/finstage?ssl-mode=required");
        assert!(!format!("{url:?}").contains("hunter2"));
        let other = url.with_database("other").unwrap();
        assert_eq!(other.to_string(), "mysql://root:***@db:3306/other?ssl-mode=required");
        assert!(other.expose_secret().contains("hunter2"));
    }

    #[test]
    fn bad_urls_are_typed_errors() {
        for bad in [
            "",
            "localhost/db",
            "oracle://x/y",
            "postgres:///db",
            "sqlite://",
            "mysql://",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, StoreError::Config(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let mut config = StoreConfig::new(parse("sqlite://x.db").unwrap());
        assert!(config.validate().is_ok());
        config.pool.min_idle = 40;
        assert!(config.validate().is_err());
        config.pool.min_idle = 0;
        config.bulk_chunk_size = 0;
        assert!(config.validate().is_err());
    }
}
