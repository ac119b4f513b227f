//! Long messages: every part fits, parses on its own in the mock, and together they show the
//! original text; over HTTP, parts go in order and a failed part stops the rest.

use std::time::Duration;

use finstage_notify::{Message, Notifier, NotifyError, TELEGRAM_MAX_UNITS, escape_html, split_html};
use finstage_test_support::TelegramFault;
use finstage_test_support::telegram::parse_html;
use proptest::prelude::*;

use crate::support::{fast, mock};

/// One line of formatted text: escaped words, some wrapped in tags (with attributes), some
/// entities, sometimes very long.
fn line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[a-z]{1,12}".prop_map(|w| escape_html(&w)),
        "[<>&\"é😀 ]{1,6}".prop_map(|w| escape_html(&w)),
        Just("&#128200;".to_owned()),
        "[a-z <&]{1,30}".prop_map(|w| format!("<b>{}</b>", escape_html(&w))),
        "[a-z]{1,30}".prop_map(|w| format!("<a href=\"https://x.y/?q=1&amp;r=&quot;2&quot;\"><i>{w}</i></a>")),
        "[a-z ]{1,20}".prop_map(|w| format!("<span class=\"tg-spoiler\">x{w}</span>")),
        "[a-z]{200,400}".prop_map(|w| format!("<code>{w}</code>")),
    ];
    proptest::collection::vec(word, 1..12).prop_map(|words| format!("x{}", words.join(" ")))
}

/// A message of lines, some inside a `<blockquote>` spanning several lines.
fn message() -> impl Strategy<Value = String> {
    proptest::collection::vec((line(), any::<bool>()), 1..30).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(line, quoted)| {
                if quoted {
                    format!("<blockquote>{line}\n{line}</blockquote>")
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parts_fit_parse_alone_and_join_to_the_original(html in message(), limit in 2usize..600) {
        let original = parse_html(&html).expect("the generated message is valid");
        let parts = split_html(&html, limit).unwrap();
        let mut joined = String::new();
        for part in &parts {
            let shown = parse_html(part).map_err(|e| TestCaseError::fail(format!("{part:?}: {e}")))?;
            prop_assert!(units(&shown) <= limit, "{} > {limit}: {part:?}", units(&shown));
            prop_assert!(!shown.is_empty());
            joined.push_str(&shown);
        }
        prop_assert_eq!(joined, original);
        if units(&parse_html(&html).unwrap()) <= limit {
            prop_assert_eq!(parts, vec![html]);
        }
    }
}

#[test]
fn a_real_sized_message_splits_on_lines_under_4096_units() {
    let line = format!("<b>{}</b> {}\n", escape_html("AAPL & co"), "é".repeat(90));
    let html = line.repeat(100);
    let parts = split_html(&html, TELEGRAM_MAX_UNITS).unwrap();
    // 101 units a line: 40 lines fill a part.
    let lines: Vec<usize> = parts.iter().map(|p| p.matches('\n').count()).collect();
    assert_eq!(lines, [40, 40, 20]);
    for part in &parts {
        assert!(part.starts_with("<b>") && part.ends_with('\n'), "whole lines: {part}");
        assert!(units(&parse_html(part).unwrap()) <= TELEGRAM_MAX_UNITS);
    }
}

#[tokio::test(start_paused = true)]
async fn parts_are_sent_in_order_and_each_is_accepted() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    let lines: Vec<String> = (0..300).map(|i| format!("line {i:03} {}", "x".repeat(40))).collect();
    let html = format!("<i>{}</i>", lines.join("\n"));
    let delivery = notifier.send(&Message::html("report", html)).await.unwrap();
    assert_eq!(delivery.parts, 4);
    assert_eq!(delivery.message_ids, [1, 2, 3, 4]);
    assert_eq!(telegram.plain_texts().concat(), lines.join("\n"));
    assert!(
        telegram
            .messages()
            .iter()
            .all(|m| m.text.starts_with("<i>") && m.text.ends_with("</i>"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_part_stops_the_rest_and_is_reported() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    // The first part goes through (a delay of nothing), the second is refused for good.
    telegram.push_fault(TelegramFault::Delay(Duration::ZERO), 1);
    telegram.push_fault(TelegramFault::Forbidden, 1);
    let html = format!("{}\n", "y".repeat(3_000)).repeat(3);
    let error = notifier.send(&Message::html("report", html)).await.unwrap_err();
    match &error {
        NotifyError::Part { part, parts, error } => {
            assert_eq!((*part, *parts), (2, 3));
            assert!(matches!(**error, NotifyError::Rejected { status: 403, .. }), "{error}");
        }
        other => panic!("expected a part failure, got {other:?}"),
    }
    assert!(error.is_permanent());
    assert_eq!(telegram.messages().len(), 1);
    assert_eq!(telegram.request_count(), 2, "part 3 was never sent");
}
