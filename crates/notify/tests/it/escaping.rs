//! Any text survives escaping: the mock Telegram's HTML parser gives back exactly the text.

use finstage_notify::{Message, Notifier, escape_html, escape_html_attr, visible_text};
use finstage_test_support::telegram::parse_html;
use proptest::prelude::*;

use crate::support::{fast, mock};

/// Text heavy in what HTML cares about, and in characters outside the Basic Multilingual Plane.
fn nasty_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("&".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("&amp;".to_owned()),
        Just("&lt;b&gt;".to_owned()),
        Just("<b>".to_owned()),
        Just("</a>".to_owned()),
        Just("&#128512;".to_owned()),
        Just("😀".to_owned()),
        Just("\n".to_owned()),
        any::<char>().prop_map(String::from),
        "[a-zA-Z0-9 ]{1,8}",
    ];
    proptest::collection::vec(pieces, 1..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn escaped_text_parses_back_to_itself(text in nasty_text()) {
        prop_assert_eq!(parse_html(&escape_html(&text)), Ok(text.clone()));
        prop_assert_eq!(visible_text(&escape_html(&text)), Ok(text.clone()));
        let attribute = format!("<a href=\"{}\">{}</a>", escape_html_attr(&text), escape_html(&text));
        prop_assert_eq!(parse_html(&attribute), Ok(text));
    }

    #[test]
    fn any_string_at_all_survives(text in any::<String>()) {
        prop_assert_eq!(parse_html(&escape_html(&text)), Ok(text));
    }
}

#[tokio::test(start_paused = true)]
async fn escaped_text_arrives_as_written_over_http() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    let text = "if a<b && c>d: \"quoted\" 'single' &amp; <b>not bold</b> 😀 &#128512; done";
    let message = Message::html("test", format!("<b>{}</b>", escape_html(text)));
    notifier.send(&message).await.unwrap();
    assert_eq!(telegram.plain_texts(), [text]);
}
