//! Logging: the `tracing` subscriber, human-readable or JSON lines, filtered in EnvFilter syntax,
//! written to an injectable sink.
//!
//! ```
//! use finstage_monitoring::logging::{self, Capture, LogConfig, LogFormat};
//!
//! let capture = Capture::new();
//! let config = LogConfig { filter: "info,finstage_store=debug".into(), format: LogFormat::Json, ..LogConfig::default() };
//! let subscriber = logging::subscriber(&config, capture.clone())?;
//! tracing::subscriber::with_default(subscriber, || tracing::info!(symbol = "AAPL", "refreshed"));
//! let line: serde_json::Value = serde_json::from_str(capture.contents().trim())?;
//! assert_eq!(line["message"], "refreshed");
//! assert_eq!(line["symbol"], "AAPL");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tracing::Subscriber;
use tracing_subscriber::filter::{Directive, EnvFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::error::{MonitoringError, quoted};

/// The filter used when [`LogConfig::filter`] is empty.
pub const DEFAULT_FILTER: &str = "info";

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event: timestamp, level, target, message, fields.
    #[default]
    Text,
    /// One JSON object per line, with `timestamp` (RFC 3339, UTC), `level`, `target`, `message`,
    /// the event's fields at the top level, and `span` (the current span and its fields) when
    /// there is one.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = MonitoringError;

    /// `text` or `json`, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(MonitoringError::InvalidLogFormat { value: quoted(s) }),
        }
    }
}

/// What to log and how (`finstage-core` fills it from `FINSTAGE_LOG` and `FINSTAGE_LOG_FORMAT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Which events pass, in `tracing_subscriber`'s EnvFilter syntax: comma-separated directives
    /// such as `info`, `finstage_store=debug`, `hyper=warn`, `finstage_api[request]=trace`.
    /// Empty means [`DEFAULT_FILTER`]. Whitespace around directives is ignored.
    pub filter: String,
    /// Text (the default) or JSON lines.
    pub format: LogFormat,
    /// Colours in the text format (set it when the output is a terminal; never in files or
    /// tests). The JSON format has none.
    pub ansi: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: DEFAULT_FILTER.to_owned(),
            format: LogFormat::Text,
            ansi: false,
        }
    }
}

impl LogConfig {
    /// Checks the filter without building anything: the error names the first bad directive.
    pub fn validate(&self) -> Result<(), MonitoringError> {
        parse_filter(&self.filter).map(drop)
    }
}

/// Parses a filter, checking each directive on its own so that the error can name it.
fn parse_filter(filter: &str) -> Result<EnvFilter, MonitoringError> {
    let directives: Vec<&str> = filter.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    for directive in &directives {
        if let Err(error) = Directive::from_str(directive) {
            return Err(MonitoringError::InvalidLogFilter {
                directive: quoted(directive),
                reason: error.to_string(),
            });
        }
    }
    let normalized = if directives.is_empty() {
        DEFAULT_FILTER.to_owned()
    } else {
        directives.join(",")
    };
    EnvFilter::builder()
        .parse(&normalized)
        .map_err(|error| MonitoringError::InvalidLogFilter {
            directive: quoted(&normalized),
            reason: error.to_string(),
        })
}

/// The formatting layer for `config`, with its filter, writing to `writer`, to be stacked on any
/// subscriber built on a [`Registry`] (with other layers beside it, each with its own filter).
pub fn layer<S, W>(config: &LogConfig, writer: W) -> Result<Box<dyn Layer<S> + Send + Sync + 'static>, MonitoringError>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = parse_filter(&config.filter)?;
    let format = match config.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(config.ansi)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
    };
    Ok(format.with_filter(filter).boxed())
}

/// A complete subscriber for `config` writing to `writer`: for
/// `tracing::subscriber::with_default` in tests, or [`init_logging`] for the process.
pub fn subscriber<W>(config: &LogConfig, writer: W) -> Result<impl Subscriber + Send + Sync + 'static, MonitoringError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Ok(Registry::default().with(layer(config, writer)?))
}

/// Installs the subscriber for `config` as the process-wide default, writing to `writer`
/// (`std::io::stdout` in the binaries), and routes the `log` crate's records into it.
///
/// Call it once, first thing in `main`. An invalid filter is an error naming the directive; a
/// second call (or a call after anything else installed a global subscriber) returns
/// [`MonitoringError::LoggingAlreadyInstalled`] and changes nothing. It never panics.
pub fn init_logging<W>(config: &LogConfig, writer: W) -> Result<(), MonitoringError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber(config, writer)?
        .try_init()
        .map_err(|error| MonitoringError::LoggingAlreadyInstalled(error.to_string()))
}

/// An in-memory log sink for tests: a [`MakeWriter`] whose output can be read back.
///
/// Clones share the same buffer.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    /// An empty sink.
    pub fn new() -> Self {
        Capture::default()
    }

    /// Everything written so far (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// Everything written so far, one entry per line.
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_owned).collect()
    }
}

/// The writer a [`Capture`] hands to the formatter for one event.
#[derive(Debug)]
pub struct CaptureWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter {
            buffer: Arc::clone(&self.buffer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_ignoring_case_and_others_are_typed_errors() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!(" Text ".parse::<LogFormat>().unwrap(), LogFormat::Text);
        let error = "yaml".parse::<LogFormat>().unwrap_err();
        assert!(matches!(&error, MonitoringError::InvalidLogFormat { value } if value == "yaml"));
        assert_eq!(LogFormat::Json.to_string(), "json");
    }

    #[test]
    fn the_bad_directive_is_named() {
        let error = parse_filter("info, finstage_store=debug ,hyper=loud").unwrap_err();
        match error {
            MonitoringError::InvalidLogFilter { directive, reason } => {
                assert_eq!(directive, "hyper=loud");
                assert!(!reason.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_filter("info,finstage_store=debug,hyper[conn]=warn").is_ok());
        assert!(parse_filter("").is_ok());
        assert!(LogConfig::default().validate().is_ok());
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let config: LogConfig = serde_json::from_str(r#"{"format":"json"}"#).unwrap();
        assert_eq!(config.format, LogFormat::Json);
        assert_eq!(config.filter, DEFAULT_FILTER);
        assert!(!config.ansi);
    }
}
