//! Logging: the text and JSON formats, the filter, secrets, installation.

use finstage_monitoring::logging::{self, Capture, LogConfig, LogFormat};
use finstage_monitoring::{MonitoringError, REDACTED, Secret, init_logging};

fn capture(config: &LogConfig, f: impl FnOnce()) -> Capture {
    let capture = Capture::new();
    let subscriber = logging::subscriber(config, capture.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, f);
    capture
}

fn config(filter: &str, format: LogFormat) -> LogConfig {
    LogConfig {
        filter: filter.to_owned(),
        format,
        ..LogConfig::default()
    }
}

#[test]
fn text_lines_are_human_readable_without_colours() {
    let capture = capture(&LogConfig::default(), || {
        tracing::info!(target: "finstage_marketdata", symbol = "AAPL", rows = 3, "refreshed");
    });
    let lines = capture.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    for part in ["INFO", "finstage_marketdata", "refreshed", "symbol=\"AAPL\"", "rows=3"] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    assert!(!line.contains('\u{1b}'), "no ANSI escapes: {line:?}");
}

#[test]
fn the_filter_selects_by_level_and_target() {
    let capture = capture(&config("warn, finstage_store=debug", LogFormat::Text), || {
        tracing::debug!(target: "finstage_store", "store debug");
        tracing::trace!(target: "finstage_store", "store trace");
        tracing::info!(target: "finstage_cache", "cache info");
        tracing::warn!(target: "finstage_cache", "cache warn");
    });
    let text = capture.contents();
    assert!(text.contains("store debug") && text.contains("cache warn"), "{text}");
    assert!(!text.contains("store trace") && !text.contains("cache info"), "{text}");
}

#[test]
fn json_lines_carry_timestamp_level_target_message_fields_and_span() {
    let capture = capture(&config("info", LogFormat::Json), || {
        let span = tracing::info_span!("refresh", job_name = "quotes");
        let _entered = span.enter();
        tracing::info!(target: "finstage_core", symbol = "MSFT", rows = 7_u64, ok = true, "stored bars");
        tracing::warn!(target: "finstage_core", "second line");
    });
    let lines = capture.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("a JSON object per line");
    let timestamp = first["timestamp"].as_str().expect("a timestamp");
    assert!(
        timestamp.contains('T') && timestamp.ends_with('Z'),
        "RFC 3339 UTC: {timestamp}"
    );
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["target"], "finstage_core");
    assert_eq!(first["message"], "stored bars");
    assert_eq!(first["symbol"], "MSFT");
    assert_eq!(first["rows"], 7);
    assert_eq!(first["ok"], true);
    assert_eq!(first["span"]["name"], "refresh");
    assert_eq!(first["span"]["job_name"], "quotes");
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["level"], "WARN");
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Settings {
    database_url: String,
    admin_token: Secret<String>,
}

#[test]
fn secrets_never_reach_the_output_in_either_format() {
    let settings = Settings {
        database_url: "postgres://db/finstage".into(),
        admin_token: Secret::new("hunter2-admin-token".into()),
    };
    for format in [LogFormat::Text, LogFormat::Json] {
        let capture = capture(&config("info", format), || {
            tracing::info!(?settings, "settings loaded");
            tracing::info!(token = %settings.admin_token, token_debug = ?settings.admin_token, "token field");
            let span = tracing::info_span!("request", token = ?settings.admin_token);
            let _entered = span.enter();
            tracing::warn!("inside a span holding the token");
        });
        let text = capture.contents();
        assert_eq!(capture.lines().len(), 3, "{text}");
        assert!(!text.contains("hunter2"), "{format}: {text}");
        assert!(text.contains(REDACTED), "{format}: {text}");
        assert!(text.contains("postgres://db/finstage"), "{format}: {text}");
    }
}

#[test]
fn an_invalid_filter_is_a_typed_error_naming_the_directive() {
    let bad = config("info,finstage_store=debug,hyper=chatty", LogFormat::Text);
    let error = init_logging(&bad, std::io::sink).unwrap_err();
    match &error {
        MonitoringError::InvalidLogFilter { directive, .. } => assert_eq!(directive, "hyper=chatty"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(error.to_string().contains("hyper=chatty"), "{error}");
    assert!(logging::subscriber(&bad, Capture::new()).is_err());
}

/// The only test of this binary that installs a global subscriber.
#[test]
fn init_logging_installs_once_and_a_second_call_is_an_error() {
    let capture = Capture::new();
    init_logging(&config("info", LogFormat::Json), capture.clone()).expect("the first installation succeeds");
    let again = init_logging(&LogConfig::default(), Capture::new());
    assert!(
        matches!(again, Err(MonitoringError::LoggingAlreadyInstalled(_))),
        "{again:?}"
    );
    // A thread without a scoped subscriber logs through the global one.
    std::thread::spawn(|| tracing::info!(marker = "global-install-check", "through the global subscriber"))
        .join()
        .unwrap();
    let line = capture
        .lines()
        .into_iter()
        .find(|line| line.contains("global-install-check"))
        .expect("the event reached the installed sink");
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["message"], "through the global subscriber");
}
