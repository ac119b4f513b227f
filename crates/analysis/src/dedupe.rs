//! Alert dedupe: an alert of one (symbol, kind) is sent at most once per window. The policy is
//! pure ([`DedupePolicy::allows`]); the caller keeps the record of what was sent (the store's
//! `alert_log`, so that a restart does not send it again) under [`DedupePolicy::key`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use finstage_domain::Symbol;
use serde::{Deserialize, Serialize};

use crate::duration;
use crate::error::AnalysisError;
use crate::signal::{KindFamily, SignalKind};

/// How long an alert of each kind silences the next one of the same symbol and kind.
///
/// Defaults: 3 minutes for price moves and breaks of the previous session's range (they follow
/// live quotes), 6 hours for all-time highs and drops from the high, 6 hours for the technical
/// signals of closed bars (which fire once per bar anyway). Durations read as `"90s"`, `"3m"`,
/// `"6h"`, `"1d"` or a number of seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupePolicy {
    /// The window of [`KindFamily::Price`] kinds.
    #[serde(with = "duration")]
    pub price: Duration,
    /// The window of [`KindFamily::High`] kinds.
    #[serde(with = "duration")]
    pub high: Duration,
    /// The window of [`KindFamily::Technical`] kinds.
    #[serde(with = "duration")]
    pub technical: Duration,
    /// Windows of single kinds, by name, in place of their family's.
    #[serde(with = "duration::map")]
    pub kinds: BTreeMap<SignalKind, Duration>,
}

impl Default for DedupePolicy {
    fn default() -> Self {
        Self {
            price: Duration::from_secs(3 * 60),
            high: Duration::from_secs(6 * 3600),
            technical: Duration::from_secs(6 * 3600),
            kinds: BTreeMap::new(),
        }
    }
}

/// The longest window: a year.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);

impl DedupePolicy {
    /// The window of `kind`.
    pub fn window(&self, kind: SignalKind) -> Duration {
        if let Some(&window) = self.kinds.get(&kind) {
            return window;
        }
        match kind.family() {
            KindFamily::Price => self.price,
            KindFamily::High => self.high,
            KindFamily::Technical => self.technical,
        }
    }

    /// The record key of alerts of `kind` on `symbol`: `SYMBOL:kind` (at most 81 characters).
    pub fn key(symbol: &Symbol, kind: SignalKind) -> String {
        format!("{symbol}:{kind}")
    }

    /// Whether an alert of `kind` at `now` may be sent, the last one of its key having been
    /// sent at `last_sent`: when there was none, or the window has passed since
    /// (`now − last_sent ≥ window`). A `last_sent` after `now` (clocks apart) silences it.
    pub fn allows(&self, kind: SignalKind, last_sent: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let Some(last) = last_sent else { return true };
        let window = TimeDelta::from_std(self.window(kind)).unwrap_or(TimeDelta::MAX);
        now.signed_duration_since(last) >= window
    }

    /// The earliest time at which an alert sent at `sent_at` no longer silences `kind`.
    pub fn silenced_until(&self, kind: SignalKind, sent_at: DateTime<Utc>) -> DateTime<Utc> {
        TimeDelta::from_std(self.window(kind))
            .ok()
            .and_then(|w| sent_at.checked_add_signed(w))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Checks every window; `prefix` is the key the policy lives under.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidConfig`] for a window longer than a year.
    pub fn validate(&self, prefix: &str) -> Result<(), AnalysisError> {
        let check = |key: String, window: Duration| {
            if window <= MAX_WINDOW {
                Ok(())
            } else {
                Err(AnalysisError::config(
                    key,
                    format!("at most a year, not {}s", window.as_secs()),
                ))
            }
        };
        check(format!("{prefix}.price"), self.price)?;
        check(format!("{prefix}.high"), self.high)?;
        check(format!("{prefix}.technical"), self.technical)?;
        for (kind, &window) in &self.kinds {
            check(format!("{prefix}.kinds.{kind}"), window)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(minute: u32, second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 15, minute, second).unwrap()
    }

    #[test]
    fn windows_by_family_and_kind() {
        let mut policy = DedupePolicy::default();
        assert_eq!(policy.window(SignalKind::PriceRise), Duration::from_secs(180));
        assert_eq!(policy.window(SignalKind::PrevLowBreak), Duration::from_secs(180));
        assert_eq!(policy.window(SignalKind::NewAllTimeHigh), Duration::from_secs(6 * 3600));
        assert_eq!(policy.window(SignalKind::DropFromHigh), Duration::from_secs(6 * 3600));
        policy.kinds.insert(SignalKind::PriceRise, Duration::from_secs(60));
        assert_eq!(policy.window(SignalKind::PriceRise), Duration::from_secs(60));
        assert_eq!(policy.window(SignalKind::PriceDrop), Duration::from_secs(180));
    }

    #[test]
    fn allows_once_per_window_edges_included() {
        let policy = DedupePolicy::default();
        let kind = SignalKind::PriceDrop;
        assert!(policy.allows(kind, None, at(0, 0)));
        assert!(!policy.allows(kind, Some(at(0, 0)), at(0, 0)));
        assert!(!policy.allows(kind, Some(at(0, 0)), at(2, 59)));
        assert!(policy.allows(kind, Some(at(0, 0)), at(3, 0)));
        // A record from the future (another instance's clock ahead) silences.
        assert!(!policy.allows(kind, Some(at(5, 0)), at(0, 0)));
        assert_eq!(policy.silenced_until(kind, at(0, 0)), at(3, 0));
    }

    #[test]
    fn keys_name_symbol_and_kind() {
        let symbol = Symbol::parse("^GSPC").unwrap();
        assert_eq!(
            DedupePolicy::key(&symbol, SignalKind::MaBreakout { period: 20 }),
            "^GSPC:ma_breakout_20"
        );
    }

    #[test]
    fn reads_durations_and_kind_names() {
        let policy: DedupePolicy =
            serde_json::from_str(r#"{"price":"90s","high":"1d","kinds":{"price_surge":"10m","golden_cross":3600}}"#)
                .unwrap();
        assert_eq!(policy.price, Duration::from_secs(90));
        assert_eq!(policy.high, Duration::from_secs(86_400));
        assert_eq!(policy.technical, DedupePolicy::default().technical);
        assert_eq!(policy.window(SignalKind::PriceSurge), Duration::from_secs(600));
        assert_eq!(
            policy.window(SignalKind::GoldenCross { fast: 50, slow: 200 }),
            Duration::from_secs(3600)
        );
        for bad in [
            r#"{"price":"3 parsecs"}"#,
            r#"{"kinds":{"price_soar":"1m"}}"#,
            r#"{"price":-1}"#,
        ] {
            assert!(serde_json::from_str::<DedupePolicy>(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<DedupePolicy>(&json).unwrap(), policy);
        let long = DedupePolicy {
            high: Duration::from_secs(400 * 86_400),
            ..DedupePolicy::default()
        };
        assert!(
            long.validate("alerts.dedupe")
                .unwrap_err()
                .to_string()
                .contains("alerts.dedupe.high")
        );
    }
}
