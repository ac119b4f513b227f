//! Property tests of `Symbol::parse`: never panics, and what it accepts round-trips.

use finstage_domain::{DomainError, Symbol};
use proptest::prelude::*;

/// An independent statement of the rules, to compare `Symbol::parse` against.
fn model_accepts(s: &str) -> bool {
    let n = s.chars().count();
    (1..=Symbol::MAX_LEN).contains(&n)
        && s.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '=' | '&') || (c == '^' && i == 0))
        && !s.contains("..")
        && s.chars().any(|c| c.is_ascii_alphanumeric())
}

fn check(input: &str) -> Result<(), TestCaseError> {
    match Symbol::parse(input) {
        Ok(symbol) => {
            let shown = symbol.to_string();
            prop_assert_eq!(&shown, &input.to_ascii_uppercase(), "normalised, nothing else");
            prop_assert_eq!(&shown, &shown.to_ascii_uppercase());
            prop_assert!(!shown.is_empty() && shown.len() <= Symbol::MAX_LEN);
            prop_assert_eq!(symbol.as_str(), shown.as_str());
            prop_assert_eq!(Symbol::parse(&shown), Ok(symbol));
            prop_assert!(model_accepts(input), "accepted {:?}", input);
        }
        Err(err) => {
            prop_assert!(!model_accepts(input), "rejected {:?}: {}", input, err);
            let DomainError::InvalidSymbol { input: echoed, .. } = &err else {
                return Err(TestCaseError::fail(format!("wrong variant: {err:?}")));
            };
            // At most 40 characters echoed, each escaped to at most 10 (`\u{10ffff}`), plus `…`.
            prop_assert!(echoed.chars().count() <= 40 * 10 + 1);
            let message = err.to_string();
            prop_assert!(
                !message.chars().any(char::is_control),
                "control character in message {:?}",
                message
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_string_parses_or_fails_cleanly(input in any::<String>()) {
        check(&input)?;
    }

    /// Mostly-valid alphabet, so that the accepting path is exercised as much as the rejecting one.
    #[test]
    fn ticker_like_strings_follow_the_rules(input in "\\^?[A-Za-z0-9.=&^ /_-]{0,34}") {
        check(&input)?;
    }

    #[test]
    fn long_strings_are_rejected(input in "[A-Z]{33,200}") {
        prop_assert!(Symbol::parse(&input).is_err());
    }

    #[test]
    fn parse_agrees_with_model_on_valid_alphabet(input in "[A-Za-z0-9.=&-]{1,32}") {
        prop_assert_eq!(Symbol::parse(&input).is_ok(), model_accepts(&input));
    }
}
