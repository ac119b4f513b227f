//! Telegram's HTML parse mode: escaping text for it, and reading a formatted message back into
//! tags and visible characters (what [`split_html`](crate::split_html) and the length check
//! count).

/// Escapes `text` for the body of a Telegram HTML message: `&` → `&amp;`, `<` → `&lt;`,
/// `>` → `&gt;`. Everything else (quotes included) stays as it is, since Telegram shows it
/// literally outside tags. For a value inside a tag's attribute, use [`escape_html_attr`].
///
/// ```
/// use finstage_notify::escape_html;
///
/// assert_eq!(escape_html("AT&T < 5 > 3 \"q\""), "AT&amp;T &lt; 5 &gt; 3 \"q\"");
/// ```
pub fn escape_html(text: &str) -> String {
    escape(text, false)
}

/// Escapes `text` for an attribute value in double quotes (`<a href="…">`): as
/// [`escape_html`], and `"` → `&quot;` too.
///
/// ```
/// use finstage_notify::escape_html_attr;
///
/// let href = escape_html_attr("https://example.com/?a=1&b=\"2\"");
/// assert_eq!(href, "https://example.com/?a=1&amp;b=&quot;2&quot;");
/// ```
pub fn escape_html_attr(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// One piece of a formatted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A start tag, as written (`<a href="…">`), and its name (`a`).
    Open { name: &'a str, raw: &'a str },
    /// An end tag, as written (`</a>`), and its name.
    Close { name: &'a str, raw: &'a str },
    /// One visible character: a literal one or an entity (`&lt;`), as written, with the
    /// character it shows.
    Char { raw: &'a str, shown: char },
}

impl Token<'_> {
    /// UTF-16 code units this token shows (what Telegram's length limit counts).
    pub(crate) fn units(&self) -> usize {
        match self {
            Token::Char { shown, .. } => shown.len_utf16(),
            _ => 0,
        }
    }
}

/// `html` read as Telegram reads a message in HTML mode: tags (which must nest properly) and
/// visible characters (entities decoded).
///
/// Only the structure is checked here, not which tags Telegram supports: Telegram itself
/// answers for those. The supported entities are `&lt;`, `&gt;`, `&amp;`, `&quot;` and numeric
/// ones; any other `&` or a `<` that does not open a tag is an error naming its byte offset.
pub(crate) fn tokenize(html: &str) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::with_capacity(html.len());
    let mut open: Vec<&str> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        let offset = html.len() - rest.len();
        let (token, len) = match c {
            '<' => tag(rest).ok_or_else(|| format!("unexpected '<' at byte offset {offset}"))?,
            '&' => entity(rest).ok_or_else(|| format!("unsupported entity at byte offset {offset}"))?,
            c => (
                Token::Char {
                    raw: &rest[..c.len_utf8()],
                    shown: c,
                },
                c.len_utf8(),
            ),
        };
        match token {
            Token::Open { name, .. } => open.push(name),
            Token::Close { name, .. } => match open.pop() {
                Some(top) if top.eq_ignore_ascii_case(name) => {}
                Some(top) => {
                    return Err(format!(
                        "end tag \"{name}\" at byte offset {offset} does not close \"{top}\""
                    ));
                }
                None => return Err(format!("unexpected end tag \"{name}\" at byte offset {offset}")),
            },
            Token::Char { .. } => {}
        }
        tokens.push(token);
        rest = &rest[len..];
    }
    match open.last() {
        Some(name) => Err(format!("start tag \"{name}\" is never closed")),
        None => Ok(tokens),
    }
}

/// The visible text of `html` (entities decoded, tags removed).
pub(crate) fn shown_text(tokens: &[Token<'_>]) -> String {
    tokens
        .iter()
        .filter_map(|token| match token {
            Token::Char { shown, .. } => Some(*shown),
            _ => None,
        })
        .collect()
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// The tag at the start of `text` (which starts with `<`) and its length in bytes.
fn tag(text: &str) -> Option<(Token<'_>, usize)> {
    let bytes = text.as_bytes();
    let closing = bytes.get(1) == Some(&b'/');
    let name_start = if closing { 2 } else { 1 };
    let name_len = bytes[name_start..].iter().take_while(|b| is_name_byte(**b)).count();
    if name_len == 0 {
        return None;
    }
    let name = &text[name_start..name_start + name_len];
    // Find the `>` that ends the tag, skipping over quoted attribute values.
    let mut quote = None;
    let mut end = None;
    for (i, &b) in bytes.iter().enumerate().skip(name_start + name_len) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') if !closing => quote = Some(b),
            (None, b'>') => {
                end = Some(i);
                break;
            }
            (None, b'<') => return None,
            (None, b) if closing && !b.is_ascii_whitespace() => return None,
            (None, _) => {}
        }
    }
    let end = end?;
    let raw = &text[..=end];
    let token = if closing {
        Token::Close { name, raw }
    } else {
        Token::Open { name, raw }
    };
    Some((token, end + 1))
}

/// The entity at the start of `text` (which starts with `&`) and its length in bytes.
fn entity(text: &str) -> Option<(Token<'_>, usize)> {
    // The longest supported entity is `&#x10FFFF;` / `&#1114111;`.
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let body = &text[1..end];
    let shown = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((
        Token::Char {
            raw: &text[..=end],
            shown,
        },
        end + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_entities_and_characters() {
        let html = r#"<b>AT&amp;T</b> &lt;<a href="https://x.y/?a=1&amp;b=&quot;>&quot;">link</a>&#128512;&#x41;"#;
        let tokens = tokenize(html).unwrap();
        assert_eq!(shown_text(&tokens), "AT&T <link😀A");
        // Eleven characters of the Basic Multilingual Plane and one emoji (a surrogate pair).
        assert_eq!(tokens.iter().map(Token::units).sum::<usize>(), 11 + 2);
        assert!(matches!(tokens[0], Token::Open { name: "b", raw: "<b>" }));
        assert!(
            tokens
                .iter()
                .any(|t| matches!(t, Token::Open { name: "a", raw } if raw.ends_with("\">")))
        );
    }

    #[test]
    fn structural_errors_name_the_offset() {
        for (bad, needle) in [
            ("a < b", "'<' at byte offset 2"),
            ("a & b", "entity at byte offset 2"),
            ("&nbsp;", "entity at byte offset 0"),
            ("&#0;", "entity"),
            ("<b>x", "never closed"),
            ("x</b>", "unexpected end tag"),
            ("<b><i>x</b></i>", "does not close"),
            ("<b x=\"y>", "'<' at byte offset 0"),
        ] {
            let error = tokenize(bad).unwrap_err();
            assert!(error.contains(needle), "{bad}: {error}");
        }
    }

    #[test]
    fn escaped_text_reads_back_as_itself() {
        let text = "if a<b && c>d then \"x\" & 'y' &amp; <b>";
        for escaped in [escape_html(text), escape_html_attr(text)] {
            assert_eq!(shown_text(&tokenize(&escaped).unwrap()), text);
        }
    }
}
