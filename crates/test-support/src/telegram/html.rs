//! Telegram's HTML parse mode as the mock applies it: the tags and entities Telegram accepts,
//! the visible text they leave, and Telegram's error descriptions for the rest.

/// The start tags Telegram's HTML mode accepts (`span` only with `class="tg-spoiler"`).
pub const ALLOWED_TAGS: [&str; 16] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
];

/// The visible text of `text` read in Telegram's HTML parse mode: tags removed, entities
/// decoded.
///
/// Accepted: the [`ALLOWED_TAGS`] (names ASCII case-insensitive, attributes quoted with `"` or
/// `'` or unquoted, their values entity-decoded), properly nested; the entities `&lt;`, `&gt;`,
/// `&amp;`, `&quot;` and numeric ones (`&#60;`, `&#x3C;`). A bare `>` is text, as in Telegram.
///
/// # Errors
/// The part of Telegram's description after `can't parse entities: `, naming the byte offset:
/// `Unsupported start tag "br" at byte offset 3`, `Unexpected end tag at byte offset 7`,
/// `Can't find end tag corresponding to start tag "b"`, `Unsupported entity at byte offset 0`,
/// `Unclosed start tag at byte offset 5`, `Tag "span" must have class "tg-spoiler" at byte offset 0`,
/// `Unmatched end tag at byte offset 9, expected "</i>", found "</b>"`.
///
/// ```
/// use finstage_test_support::telegram::parse_html;
///
/// assert_eq!(parse_html("<b>AT&amp;T</b> &lt;3 &#128512;").unwrap(), "AT&T <3 😀");
/// assert!(parse_html("1 < 2").unwrap_err().starts_with("Unsupported start tag"));
/// ```
pub fn parse_html(text: &str) -> Result<String, String> {
    let mut plain = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let offset = text.len() - rest.len();
        let consumed = match c {
            '<' if rest.as_bytes().get(1) == Some(&b'/') => {
                let (name, len) = end_tag(rest).ok_or_else(|| format!("Unclosed end tag at byte offset {offset}"))?;
                match open.pop() {
                    Some(top) if top.eq_ignore_ascii_case(name) => {}
                    Some(top) => {
                        return Err(format!(
                            "Unmatched end tag at byte offset {offset}, expected \"</{top}>\", found \"</{name}>\""
                        ));
                    }
                    None => return Err(format!("Unexpected end tag at byte offset {offset}")),
                }
                len
            }
            '<' => {
                let (name, attributes, len) = start_tag(rest, offset)?;
                let lower = name.to_ascii_lowercase();
                if lower == "span"
                    && !attributes
                        .iter()
                        .any(|(key, value)| key.eq_ignore_ascii_case("class") && value == "tg-spoiler")
                {
                    return Err(format!(
                        "Tag \"span\" must have class \"tg-spoiler\" at byte offset {offset}"
                    ));
                }
                open.push(lower);
                len
            }
            '&' => {
                let (shown, len) = entity(rest).ok_or_else(|| format!("Unsupported entity at byte offset {offset}"))?;
                plain.push(shown);
                len
            }
            c => {
                plain.push(c);
                c.len_utf8()
            }
        };
        rest = &rest[consumed..];
    }
    match open.last() {
        Some(name) => Err(format!("Can't find end tag corresponding to start tag \"{name}\"")),
        None => Ok(plain),
    }
}

fn name_len(text: &str) -> usize {
    text.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
        .count()
}

/// `</name>` (spaces before `>` allowed): the name and the tag's length.
fn end_tag(text: &str) -> Option<(&str, usize)> {
    let len = name_len(&text[2..]);
    let name = &text[2..2 + len];
    let after = &text[2 + len..];
    let spaces = after.bytes().take_while(u8::is_ascii_whitespace).count();
    (len > 0 && after.as_bytes().get(spaces) == Some(&b'>')).then_some((name, 2 + len + spaces + 1))
}

type Attributes = Vec<(String, String)>;

/// `<name attr="value" …>`: the name, the attributes (values decoded) and the tag's length.
fn start_tag(text: &str, offset: usize) -> Result<(&str, Attributes, usize), String> {
    let unclosed = || format!("Unclosed start tag at byte offset {offset}");
    let len = name_len(&text[1..]);
    let name = &text[1..1 + len];
    if !ALLOWED_TAGS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("Unsupported start tag \"{name}\" at byte offset {offset}"));
    }
    let mut attributes = Vec::new();
    let mut i = 1 + len;
    let bytes = text.as_bytes();
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match bytes.get(i) {
            None | Some(b'<') => return Err(unclosed()),
            Some(b'>') => return Ok((name, attributes, i + 1)),
            Some(_) => {}
        }
        let key_len = name_len(&text[i..]);
        if key_len == 0 {
            return Err(format!(
                "Expected equal sign in declaration of an attribute of the tag at byte offset {offset}"
            ));
        }
        let key = text[i..i + key_len].to_owned();
        i += key_len;
        if bytes.get(i) != Some(&b'=') {
            // An attribute without a value (`<blockquote expandable>`).
            attributes.push((key, String::new()));
            continue;
        }
        i += 1;
        let raw = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let end = text[i + 1..].find(char::from(quote)).ok_or_else(unclosed)?;
                let raw = &text[i + 1..i + 1 + end];
                i += end + 2;
                raw
            }
            _ => {
                let end = text[i..]
                    .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '<')
                    .ok_or_else(unclosed)?;
                let raw = &text[i..i + end];
                i += end;
                raw
            }
        };
        let value =
            parse_html(raw).map_err(|_| format!("Unsupported entity in an attribute at byte offset {offset}"))?;
        attributes.push((key, value));
    }
}

/// An entity at the start of `text`: the character it shows and its length.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let shown = match &text[1..end] {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        body => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((shown, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_tag_and_entity() {
        let html = "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike>\
                    <del>d</del><code>c</code><pre><code class=\"language-rust\">p</code></pre>\
                    <a href=\"https://x.y/?a=1&amp;b=&quot;2&quot;\">a</a><tg-spoiler>t</tg-spoiler>\
                    <span class=\"tg-spoiler\">S</span><blockquote expandable>q</blockquote><B>B</B>\
                    &lt;&gt;&amp;&quot;&#65;&#x42;>";
        assert_eq!(parse_html(html).unwrap(), "bsieunskdcpatSqB<>&\"AB>");
    }

    #[test]
    fn errors_are_telegrams() {
        for (bad, expected) in [
            ("a<br>b", "Unsupported start tag \"br\" at byte offset 1"),
            ("1 < 2", "Unsupported start tag \"\" at byte offset 2"),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("<b>x", "Can't find end tag corresponding to start tag \"b\""),
            (
                "<b><i>x</b></i>",
                "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"",
            ),
            ("AT&T", "Unsupported entity at byte offset 2"),
            ("&nbsp;", "Unsupported entity at byte offset 0"),
            (
                "<span>x</span>",
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
            ),
            ("<a href=\"x", "Unclosed start tag at byte offset 0"),
        ] {
            assert_eq!(parse_html(bad).unwrap_err(), expected, "{bad}");
        }
    }
}
