//! [`Alerter`]: sends a signal as an alert at most once per dedupe window of its symbol and
//! kind, across restarts and across every instance sharing the database.
//!
//! The window comes from [`DedupePolicy`]; the claim is the store's `alert_claims` row of the
//! key (`Alerts::claim`: one winner among concurrent claimers), so a restarted process, or a
//! second scheduler, finds it and stays silent. An alert that could not be delivered gives its
//! claim back, so the next evaluation tries again: nothing is lost to a Telegram outage. One
//! that may have been delivered in part keeps it: nothing is sent twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use finstage_analysis::{DedupePolicy, Signal};
use finstage_store::Store;

use crate::NotifyError;
use crate::format::signal_alert;
use crate::notifier::{Delivery, Notifier};

/// What became of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertOutcome {
    /// Sent now.
    Sent(Delivery),
    /// Not sent: an alert of the same symbol and kind was sent within the window.
    Deduplicated,
}

/// Sends signals as alerts through a [`Notifier`], deduplicated per (symbol, kind) window.
#[derive(Debug, Clone)]
pub struct Alerter {
    notifier: Arc<dyn Notifier>,
    store: Store,
    policy: DedupePolicy,
}

/// Whether a failed send may have reached the chat (then its claim is kept).
fn maybe_delivered(error: &NotifyError) -> bool {
    match error {
        NotifyError::Part { part, .. } => *part > 1,
        NotifyError::Malformed { .. } => true,
        _ => false,
    }
}

impl Alerter {
    /// An alerter sending through `notifier`, keeping its claims in `store`.
    ///
    /// # Errors
    /// [`NotifyError::Config`] when `policy` does not validate.
    pub fn new(notifier: Arc<dyn Notifier>, store: Store, policy: DedupePolicy) -> Result<Self, NotifyError> {
        policy
            .validate("alerts.dedupe")
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        Ok(Self {
            notifier,
            store,
            policy,
        })
    }

    /// The dedupe policy.
    pub fn policy(&self) -> &DedupePolicy {
        &self.policy
    }

    /// Sends `signal` as an alert unless one of its symbol and kind went out within the window
    /// before `now` (the caller's clock). A sent alert is also recorded in `alert_log`.
    ///
    /// # Errors
    /// [`NotifyError::AlertLog`] when the claim cannot be read or written (nothing was sent);
    /// the notifier's error when sending failed (the claim is given back unless part of the
    /// message may have arrived).
    pub async fn alert(&self, signal: &Signal, now: DateTime<Utc>) -> Result<AlertOutcome, NotifyError> {
        let key = DedupePolicy::key(&signal.symbol, signal.kind);
        let window = self.policy.window(signal.kind);
        let store_error = |e: finstage_store::StoreError| NotifyError::AlertLog(e.to_string());
        if !self
            .store
            .alerts()
            .claim(&key, now, window)
            .await
            .map_err(store_error)?
        {
            tracing::debug!(key, "alert deduplicated");
            return Ok(AlertOutcome::Deduplicated);
        }
        match self.notifier.send(&signal_alert(signal)).await {
            Ok(delivery) => {
                if let Err(e) = self.store.alerts().record(&key, now).await {
                    // The claim holds; only the history misses a line.
                    tracing::warn!(key, error = %e, "alert sent but not recorded in alert_log");
                }
                Ok(AlertOutcome::Sent(delivery))
            }
            Err(error) => {
                if !maybe_delivered(&error)
                    && let Err(e) = self.store.alerts().release(&key, now).await
                {
                    tracing::warn!(key, error = %e, "alert claim not given back; it lapses with its window");
                }
                Err(error)
            }
        }
    }
}
