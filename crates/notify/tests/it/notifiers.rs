//! The notifiers without a network: the log-only one and the recording fake, through
//! `Arc<dyn Notifier>`.

use std::sync::Arc;

use finstage_monitoring::logging::{self, Capture, LogConfig, LogFormat};
use finstage_notify::{LogNotifier, Message, Notifier, NotifyError, RecordingNotifier};

#[tokio::test]
async fn the_log_notifier_logs_the_kind_and_text() {
    let capture = Capture::new();
    let config = LogConfig {
        format: LogFormat::Json,
        ..LogConfig::default()
    };
    let _guard = tracing::subscriber::set_default(logging::subscriber(&config, capture.clone()).unwrap());
    let notifier: Arc<dyn Notifier> = Arc::new(LogNotifier);
    let delivery = notifier
        .send(&Message::html("alert", "<b>AAPL</b> &lt; 150"))
        .await
        .unwrap();
    assert_eq!((delivery.parts, delivery.attempts), (1, 1));
    assert_eq!(notifier.channel(), "log");
    let line: serde_json::Value = serde_json::from_str(capture.contents().trim()).unwrap();
    assert_eq!(line["kind"], "alert");
    assert_eq!(line["text"], "<b>AAPL</b> &lt; 150");
    assert_eq!(line["level"], "INFO");
}

#[tokio::test]
async fn the_recorder_keeps_messages_and_scripted_failures() {
    let recorder = RecordingNotifier::new();
    let notifier: Arc<dyn Notifier> = Arc::new(recorder.clone());
    let waiting = tokio::spawn({
        let recorder = recorder.clone();
        async move { recorder.wait_for(2).await }
    });
    recorder.fail_next(NotifyError::Rejected {
        channel: "recording",
        status: 403,
        description: "Forbidden: bot was blocked by the user".to_owned(),
    });
    let error = notifier.send(&Message::plain("alert", "one")).await.unwrap_err();
    assert!(error.is_permanent());
    notifier.send(&Message::plain("alert", "two")).await.unwrap();
    notifier.send(&Message::plain("report", "three")).await.unwrap();
    waiting.await.unwrap();
    let kinds: Vec<(String, String)> = recorder
        .messages()
        .iter()
        .map(|m| (m.kind().to_owned(), m.text().to_owned()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("alert".to_owned(), "two".to_owned()),
            ("report".to_owned(), "three".to_owned())
        ]
    );
    assert_eq!(recorder.attempts(), 3);
    recorder.clear();
    assert!(recorder.messages().is_empty());
    assert_eq!(notifier.channel(), "recording");
}

#[test]
fn kinds_are_cut_to_their_limit() {
    let message = Message::html("é".repeat(40), "x");
    assert!(message.kind().len() <= finstage_notify::KIND_MAX_LEN);
    assert!(message.kind().chars().all(|c| c == 'é'));
}
