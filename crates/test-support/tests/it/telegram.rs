//! The mock Telegram Bot API through a real HTTP client: JSON and form bodies, the token, the
//! HTML parse mode and Telegram's limits, answers shaped like the real API, every fault, and
//! the records.

use std::time::Duration;

use finstage_test_support::{MockTelegram, TelegramFault};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::client_builder;

const TOKEN: &str = "42:mock-token";

async fn post_json(telegram: &MockTelegram, body: Value) -> (u16, Value) {
    let response = client_builder()
        .build()
        .unwrap()
        .post(telegram.send_message_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

fn html(text: &str) -> Value {
    json!({"chat_id": -1001, "text": text, "parse_mode": "HTML", "disable_web_page_preview": true})
}

#[tokio::test]
async fn a_json_message_is_recorded_and_answered_like_telegram() {
    let telegram = MockTelegram::start(TOKEN).await;
    let (status, body) = post_json(&telegram, html("<b>AAPL</b> &lt; 150 &amp; <i>falling</i>")).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"]["message_id"], 1);
    assert_eq!(body["result"]["chat"]["id"], -1001);
    assert_eq!(body["result"]["text"], "AAPL < 150 & falling");
    assert!(body["result"]["date"].as_i64().is_some_and(|d| d > 1_700_000_000));
    let sent = telegram.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, "-1001");
    assert_eq!(sent[0].text, "<b>AAPL</b> &lt; 150 &amp; <i>falling</i>");
    assert_eq!(sent[0].plain_text, "AAPL < 150 & falling");
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].disable_web_page_preview, Some(true));
    let (_, second) = post_json(&telegram, html("again")).await;
    assert_eq!(second["result"]["message_id"], 2);
}

#[tokio::test]
async fn a_form_message_is_accepted_too() {
    let telegram = MockTelegram::start(TOKEN).await;
    let response = client_builder()
        .build()
        .unwrap()
        .post(telegram.send_message_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=%40finstage&text=%3Cb%3E1+%26lt%3B+2%3C%2Fb%3E&parse_mode=HTML")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let sent = telegram.messages();
    assert_eq!(sent[0].chat_id, "@finstage");
    assert_eq!(sent[0].plain_text, "1 < 2");
    assert_eq!(sent[0].disable_web_page_preview, None);
}

#[tokio::test]
async fn a_wrong_token_is_401_and_other_paths_404() {
    let telegram = MockTelegram::start(TOKEN).await;
    let client = client_builder().build().unwrap();
    let wrong = client
        .post(format!("{}/bot42:other/sendMessage", telegram.api_url()))
        .header("content-type", "application/json")
        .body(html("x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = serde_json::from_slice(&wrong.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    for path in ["/sendMessage".to_owned(), format!("/bot{TOKEN}/getMe")] {
        let response = client
            .get(format!("{}{path}", telegram.api_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    assert!(telegram.messages().is_empty());
    let requests = telegram.requests();
    assert_eq!(requests.len(), 3);
    assert!(!requests[0].token_ok && requests[2].token_ok);
    assert_eq!(requests[2].bot_method.as_deref(), Some("getMe"));
}

#[tokio::test]
async fn bad_text_gets_telegrams_400s() {
    let telegram = MockTelegram::start(TOKEN).await;
    let long = "é".repeat(4_097);
    let fits = format!("<b>{}</b>", "&amp;".repeat(4_096));
    for (body, description) in [
        (
            html("AT&T"),
            "Bad Request: can't parse entities: Unsupported entity at byte offset 2",
        ),
        (
            html("<b>x"),
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            html("a<br/>"),
            "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 1",
        ),
        (html(""), "Bad Request: message text is empty"),
        (html(" <b> </b>\n"), "Bad Request: message text is empty"),
        (json!({"chat_id": 1}), "Bad Request: message text is empty"),
        (json!({"text": "x"}), "Bad Request: chat_id is empty"),
        (html(&long), "Bad Request: message is too long"),
        (
            json!({"chat_id": 1, "text": "x", "parse_mode": "MarkdownV2"}),
            "Bad Request: unsupported parse_mode",
        ),
    ] {
        let (status, answer) = post_json(&telegram, body).await;
        assert_eq!((status, answer["description"].as_str()), (400, Some(description)));
        assert_eq!(answer["error_code"], 400);
        assert_eq!(answer["ok"], false);
    }
    assert!(telegram.messages().is_empty());
    // 4,096 units after parsing fit, however long the HTML; without a parse mode, tags are text.
    assert_eq!(post_json(&telegram, html(&fits)).await.0, 200);
    let (status, _) = post_json(&telegram, json!({"chat_id": 1, "text": "<b>AT&T"})).await;
    assert_eq!(status, 200);
    assert_eq!(telegram.messages()[1].plain_text, "<b>AT&T");
}

#[tokio::test]
async fn faults_answer_like_telegram_then_service_resumes() {
    let telegram = MockTelegram::start(TOKEN).await;
    telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 9 }, 1);
    telegram.push_fault(TelegramFault::BadRequest("chat not found".into()), 1);
    telegram.push_fault(TelegramFault::Forbidden, 1);
    telegram.push_fault(TelegramFault::ServerError(500), 1);
    assert_eq!(telegram.pending_faults(), 4);
    let expected = [
        (
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 9", "parameters": {"retry_after": 9}}),
        ),
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
        ),
        (
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
        ),
        (
            500,
            json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
        ),
    ];
    for (status, body) in expected {
        assert_eq!(post_json(&telegram, html("x")).await, (status, body));
    }
    assert!(telegram.messages().is_empty());
    assert_eq!(post_json(&telegram, html("x")).await.0, 200);

    telegram.set_fault(Some(TelegramFault::BadGateway));
    for _ in 0..2 {
        let response = client_builder()
            .build()
            .unwrap()
            .post(telegram.send_message_url())
            .body("chat_id=1&text=x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 502);
        assert!(String::from_utf8_lossy(&response.bytes().await.unwrap()).contains("502 Bad Gateway"));
    }
    telegram.set_fault(None);
    let statuses: Vec<u16> = telegram.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 400, 403, 500, 200, 502, 502]);
    assert_eq!(
        telegram.requests()[0].fault,
        Some(TelegramFault::TooManyRequests { retry_after: 9 })
    );
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error() {
    let telegram = MockTelegram::start(TOKEN).await;
    telegram.push_fault(TelegramFault::Disconnect, 1);
    let result = client_builder()
        .build()
        .unwrap()
        .post(telegram.send_message_url())
        .header("content-type", "application/json")
        .body(html("x").to_string())
        .send()
        .await;
    assert!(result.is_err());
    assert_eq!(telegram.requests()[0].status, 0);
    assert!(telegram.messages().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_delay_delays_a_normal_answer() {
    let telegram = MockTelegram::start(TOKEN).await;
    telegram.push_fault(TelegramFault::Delay(Duration::from_secs(30)), 1);
    let started = Instant::now();
    let (status, _) = post_json(&telegram, html("late")).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert_eq!(telegram.plain_texts(), ["late"]);
    telegram.reset();
    assert!(telegram.requests().is_empty() && telegram.messages().is_empty());
}
