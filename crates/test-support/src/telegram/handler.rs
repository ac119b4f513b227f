//! How the mock Telegram server answers one request: route it, check the token, apply a fault,
//! read the parameters (JSON or form), parse the text, record and answer.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::fault::{Faults, TelegramFault};
use super::html::parse_html;
use super::{MAX_MESSAGE_UNITS, SentMessage, TelegramRequest};
use crate::http::{Handler, Reply, lock, response};

const JSON: &str = "application/json";

/// The mock's state, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) faults: Faults,
    pub(crate) messages: Vec<SentMessage>,
    pub(crate) requests: Vec<TelegramRequest>,
    pub(crate) next_message_id: i64,
}

/// What the server tasks and every handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) token: String,
    pub(crate) state: Mutex<State>,
}

/// The answer decided for a request.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

impl Answer {
    fn error(status: StatusCode, description: &str) -> Self {
        Self::error_with(status, description, None)
    }

    fn error_with(status: StatusCode, description: &str, parameters: Option<Value>) -> Self {
        let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
        if let Some(parameters) = parameters {
            body["parameters"] = parameters;
        }
        Self {
            status,
            content_type: JSON,
            body: body.to_string(),
        }
    }

    fn bad_request(description: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, &format!("Bad Request: {description}"))
    }

    fn from_fault(fault: &TelegramFault) -> Option<Self> {
        Some(match fault {
            TelegramFault::TooManyRequests { retry_after } => Self::error_with(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {retry_after}"),
                Some(json!({ "retry_after": retry_after })),
            ),
            TelegramFault::BadRequest(description) => Self::bad_request(description),
            TelegramFault::Forbidden => Self::error(StatusCode::FORBIDDEN, "Forbidden: bot was blocked by the user"),
            TelegramFault::ServerError(status) => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Self::error(status, status.canonical_reason().unwrap_or("Internal Server Error"))
            }
            TelegramFault::BadGateway => Self {
                status: StatusCode::BAD_GATEWAY,
                content_type: "text/html",
                body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n".to_owned(),
            },
            TelegramFault::Delay(_) | TelegramFault::Disconnect => return None,
        })
    }
}

/// The parameters of a `sendMessage` call, from a JSON or form body.
#[derive(Debug, Default)]
struct Params {
    chat_id: Option<String>,
    text: Option<String>,
    parse_mode: Option<String>,
    disable_web_page_preview: Option<bool>,
}

impl Params {
    fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, String> {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/json") => {
                let value: Value =
                    serde_json::from_slice(body).map_err(|_| "can't parse JSON request body".to_owned())?;
                let text_of = |value: &Value| match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
                Ok(Self {
                    chat_id: value.get("chat_id").and_then(text_of),
                    text: value.get("text").and_then(text_of),
                    parse_mode: value.get("parse_mode").and_then(text_of),
                    disable_web_page_preview: value.get("disable_web_page_preview").and_then(|v| match v {
                        Value::Bool(b) => Some(*b),
                        Value::String(s) => Some(s == "true"),
                        _ => None,
                    }),
                })
            }
            Some("application/x-www-form-urlencoded") | None => {
                let mut params = Self::default();
                for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
                    let (key, value) = match pair.iter().position(|b| *b == b'=') {
                        Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                        None => (pair, &b""[..]),
                    };
                    let key = form_decode(key)?;
                    let value = form_decode(value)?;
                    match key.as_str() {
                        "chat_id" => params.chat_id = Some(value),
                        "text" => params.text = Some(value),
                        "parse_mode" => params.parse_mode = Some(value),
                        "disable_web_page_preview" => params.disable_web_page_preview = Some(value == "true"),
                        _ => {}
                    }
                }
                Ok(params)
            }
            Some(other) => Err(format!("unsupported Content-Type {other} in the mock")),
        }
    }
}

/// Percent-decodes a form field (`+` is a space) into UTF-8.
fn form_decode(raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "strings must be encoded in UTF-8".to_owned())
}

/// `/bot<token>/<method>`: the token and the method.
fn route(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/bot")?;
    let (token, method) = rest.split_once('/')?;
    Some((token, method))
}

impl Handler for Shared {
    async fn handle(&self, request: Request<Bytes>) -> Reply {
        let received_at = Instant::now();
        let path = request.uri().path().to_owned();
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let routed = route(&path);
        let token_ok = routed.is_some_and(|(token, _)| token == self.token);
        let bot_method = routed.map(|(_, method)| method.to_owned());
        let params = Params::parse(content_type.as_deref(), request.body());

        let (answer, fault, delay) = {
            let mut state = lock(&self.state);
            let mut fault = None;
            let mut delay = Duration::ZERO;
            let answer = if routed.is_none() {
                Some(Answer::error(StatusCode::NOT_FOUND, "Not Found"))
            } else if !token_ok {
                Some(Answer::error(StatusCode::UNAUTHORIZED, "Unauthorized"))
            } else if !bot_method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("sendMessage"))
            {
                Some(Answer::error(StatusCode::NOT_FOUND, "Not Found: method not found"))
            } else {
                fault = state.faults.take();
                match &fault {
                    Some(TelegramFault::Disconnect) => None,
                    Some(TelegramFault::Delay(d)) => {
                        delay = *d;
                        Some(accept(&mut state, &params, received_at))
                    }
                    Some(other) => Answer::from_fault(other),
                    None => Some(accept(&mut state, &params, received_at)),
                }
            };
            state.requests.push(TelegramRequest {
                http_method: request.method().to_string(),
                bot_method,
                token_ok,
                content_type,
                chat_id: params.as_ref().ok().and_then(|p| p.chat_id.clone()),
                status: answer.as_ref().map_or(0, |a| a.status.as_u16()),
                fault: fault.clone(),
                received_at,
            });
            (answer, fault, delay)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match answer {
            Some(answer) => Reply::Respond(response(answer.status, answer.content_type, answer.body)),
            None => {
                debug_assert_eq!(fault, Some(TelegramFault::Disconnect));
                Reply::Disconnect
            }
        }
    }
}

/// Checks a `sendMessage` call as Telegram does; records and answers it when it is valid.
fn accept(state: &mut State, params: &Result<Params, String>, received_at: Instant) -> Answer {
    let params = match params {
        Ok(params) => params,
        Err(description) => return Answer::bad_request(description),
    };
    let Some(chat_id) = params.chat_id.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Answer::bad_request("chat_id is empty");
    };
    let Some(text) = params.text.as_deref() else {
        return Answer::bad_request("message text is empty");
    };
    let plain = match params.parse_mode.as_deref() {
        None | Some("") => text.to_owned(),
        Some(mode) if mode.eq_ignore_ascii_case("html") => match parse_html(text) {
            Ok(plain) => plain,
            Err(description) => return Answer::bad_request(&format!("can't parse entities: {description}")),
        },
        Some(_) => return Answer::bad_request("unsupported parse_mode"),
    };
    if plain.trim().is_empty() {
        return Answer::bad_request("message text is empty");
    }
    if plain.encode_utf16().count() > MAX_MESSAGE_UNITS {
        return Answer::bad_request("message is too long");
    }
    state.next_message_id += 1;
    let message_id = state.next_message_id;
    // The wall clock, as Telegram stamps messages (0 if the clock is before 1970).
    let date = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let chat = match chat_id.parse::<i64>() {
        Ok(id) => json!({"id": id, "type": if id < 0 { "supergroup" } else { "private" }}),
        Err(_) => json!({"id": -1_001_000_000_001_i64, "type": "channel", "username": chat_id.trim_start_matches('@')}),
    };
    let body = json!({
        "ok": true,
        "result": {
            "message_id": message_id,
            "from": {"id": 1, "is_bot": true, "first_name": "Finstage", "username": "finstage_mock_bot"},
            "chat": chat,
            "date": date,
            "text": plain,
        }
    });
    state.messages.push(SentMessage {
        message_id,
        chat_id: chat_id.to_owned(),
        text: text.to_owned(),
        parse_mode: params.parse_mode.clone(),
        disable_web_page_preview: params.disable_web_page_preview,
        plain_text: plain,
        received_at,
    });
    Answer {
        status: StatusCode::OK,
        content_type: JSON,
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_percent_and_plus() {
        assert_eq!(form_decode(b"a+b%26c%3D%E2%82%AC%").unwrap(), "a b&c=€%");
        assert!(form_decode(b"%FF").is_err());
        let params = Params::parse(
            Some("application/x-www-form-urlencoded"),
            b"chat_id=42&text=%3Cb%3Ehi%3C%2Fb%3E&parse_mode=HTML&disable_web_page_preview=true",
        )
        .unwrap();
        assert_eq!(params.chat_id.as_deref(), Some("42"));
        assert_eq!(params.text.as_deref(), Some("<b>hi</b>"));
        assert_eq!(params.disable_web_page_preview, Some(true));
    }

    #[test]
    fn routes() {
        assert_eq!(route("/bot123:abc/sendMessage"), Some(("123:abc", "sendMessage")));
        assert_eq!(route("/sendMessage"), None);
    }
}
