//! Splitting a long Telegram HTML message into parts that each fit the Bot API's limit and each
//! parse on their own.

use crate::NotifyError;
use crate::html::{Token, shown_text, tokenize};

/// The most UTF-16 code units of visible text (after entity parsing) Telegram accepts in one
/// message.
pub const TELEGRAM_MAX_UNITS: usize = 4_096;

/// Splits the Telegram HTML message `html` into parts of at most `limit` UTF-16 code units of
/// visible text each (tags do not count, an entity counts as the character it shows).
///
/// - Parts end on line boundaries (after a `\n`) wherever a line fits: lines are packed into a
///   part while they fit.
/// - A single line longer than `limit` is cut between two visible characters, never inside a
///   tag or an entity.
/// - Tags open at a cut are closed at the end of the part and opened again (as written, with
///   their attributes) at the start of the next, so every part is well-formed on its own.
/// - A message that fits is one part, unchanged. Parts without visible text (a cut just before
///   closing tags) are left out, since Telegram refuses empty messages.
///
/// Concatenating the parts' visible texts gives the message's visible text.
///
/// ```
/// use finstage_notify::{TELEGRAM_MAX_UNITS, split_html};
///
/// let parts = split_html("<b>one\ntwo\nthree</b>", 8)?;
/// assert_eq!(parts, ["<b>one\ntwo\n</b>", "<b>three</b>"]);
/// assert_eq!(split_html("short", TELEGRAM_MAX_UNITS)?, ["short"]);
/// # Ok::<(), finstage_notify::NotifyError>(())
/// ```
///
/// # Errors
/// [`NotifyError::InvalidMessage`] when `html` is not well-formed (an unescaped `<` or `&`, an
/// unsupported entity, tags that do not nest), or `limit` is 0.
pub fn split_html(html: &str, limit: usize) -> Result<Vec<String>, NotifyError> {
    if limit == 0 {
        return Err(NotifyError::InvalidMessage(
            "the part limit must be at least 1".to_owned(),
        ));
    }
    let tokens = tokenize(html).map_err(NotifyError::InvalidMessage)?;
    let total: usize = tokens.iter().map(Token::units).sum();
    if total <= limit {
        return Ok(vec![html.to_owned()]);
    }
    let mut splitter = Splitter::new(limit);
    for line in lines(&tokens) {
        let units: usize = line.iter().map(Token::units).sum();
        if splitter.units > 0 && splitter.units + units > limit {
            splitter.cut();
        }
        if units <= limit {
            line.iter().for_each(|token| splitter.push(token));
        } else {
            for token in line {
                if splitter.units > 0 && splitter.units + token.units() > limit {
                    splitter.cut();
                }
                splitter.push(token);
            }
        }
    }
    Ok(splitter.finish())
}

/// The visible text of `html` (tags removed, entities decoded), as Telegram shows it.
///
/// ```
/// use finstage_notify::visible_text;
///
/// assert_eq!(visible_text("<b>AT&amp;T</b> &lt;3")?, "AT&T <3");
/// # Ok::<(), finstage_notify::NotifyError>(())
/// ```
///
/// # Errors
/// [`NotifyError::InvalidMessage`] when `html` is not well-formed (see [`split_html`]).
pub fn visible_text(html: &str) -> Result<String, NotifyError> {
    tokenize(html)
        .map(|tokens| shown_text(&tokens))
        .map_err(NotifyError::InvalidMessage)
}

/// The tokens cut into lines, each ending with its `\n` (the last one maybe without).
fn lines<'t, 'a>(tokens: &'t [Token<'a>]) -> impl Iterator<Item = &'t [Token<'a>]> {
    tokens.split_inclusive(|token| matches!(token, Token::Char { shown: '\n', .. }))
}

/// Builds the parts, tracking the tags open at each point.
struct Splitter<'a> {
    limit: usize,
    parts: Vec<String>,
    current: String,
    /// Visible units in `current`.
    units: usize,
    /// Start tags open at the end of `current`, outermost first.
    open: Vec<Token<'a>>,
}

impl<'a> Splitter<'a> {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            parts: Vec::new(),
            current: String::new(),
            units: 0,
            open: Vec::new(),
        }
    }

    fn push(&mut self, token: &Token<'a>) {
        match *token {
            Token::Open { raw, .. } => {
                self.open.push(*token);
                self.current.push_str(raw);
            }
            Token::Close { raw, .. } => {
                self.open.pop();
                self.current.push_str(raw);
            }
            Token::Char { raw, .. } => {
                self.units += token.units();
                self.current.push_str(raw);
            }
        }
        debug_assert!(self.units <= self.limit || self.units == token.units());
    }

    /// Ends the current part (closing the open tags) and starts the next (reopening them).
    fn cut(&mut self) {
        for token in self.open.iter().rev() {
            if let Token::Open { name, .. } = token {
                self.current.push_str("</");
                self.current.push_str(name);
                self.current.push('>');
            }
        }
        let mut next = String::new();
        for token in &self.open {
            if let Token::Open { raw, .. } = token {
                next.push_str(raw);
            }
        }
        let part = std::mem::replace(&mut self.current, next);
        if self.units > 0 {
            self.parts.push(part);
        }
        self.units = 0;
    }

    fn finish(mut self) -> Vec<String> {
        if self.units > 0 {
            self.parts.push(self.current);
        }
        self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_packed_while_they_fit() {
        let parts = split_html("aaa\nbbb\nccc\nddd", 8).unwrap();
        assert_eq!(parts, ["aaa\nbbb\n", "ccc\nddd"]);
    }

    #[test]
    fn a_long_line_is_cut_between_characters_never_inside_an_entity() {
        let parts = split_html("&lt;&lt;&lt;&lt;&lt;", 2).unwrap();
        assert_eq!(parts, ["&lt;&lt;", "&lt;&lt;", "&lt;"]);
    }

    #[test]
    fn open_tags_are_closed_and_reopened_with_their_attributes() {
        let html = r#"<b>bold <a href="https://x.y/?q=&quot;1&quot;">link text</a></b> end"#;
        let parts = split_html(html, 8).unwrap();
        assert_eq!(
            parts,
            [
                r#"<b>bold <a href="https://x.y/?q=&quot;1&quot;">lin</a></b>"#,
                r#"<b><a href="https://x.y/?q=&quot;1&quot;">k text</a></b> e"#,
                "nd",
            ]
        );
        for part in &parts {
            tokenize(part).unwrap();
        }
    }

    #[test]
    fn astral_characters_count_two_units() {
        let parts = split_html("😀😀😀", 4).unwrap();
        assert_eq!(parts, ["😀😀", "😀"]);
        let parts = split_html("😀", 1).unwrap();
        assert_eq!(parts, ["😀"], "a character wider than the limit still goes alone");
    }

    #[test]
    fn bad_markup_and_a_zero_limit_are_invalid() {
        assert!(matches!(split_html("a < b", 10), Err(NotifyError::InvalidMessage(_))));
        assert!(matches!(split_html("ab", 0), Err(NotifyError::InvalidMessage(_))));
    }
}
