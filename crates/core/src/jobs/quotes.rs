//! `quote_poll`: the latest quote of every watched symbol whose market is open → the store's
//! `quotes_latest`, the event bus (so every instance's live stream sees it) and the live price
//! rules, whose alerts fire once per dedupe window.

use chrono::{DateTime, Utc};
use finstage_analysis::QuoteContext;
use finstage_domain::{Category, Quote, Symbol};
use finstage_notify::AlertOutcome;
use finstage_tasks::TaskContext;
use serde::{Deserialize, Serialize};

use super::run::{JobReport, SymbolFailure, measure};
use super::{JobContext, QUOTE_POLL};
use crate::bus::{Envelope, QuoteEvent, SignalEvent};
use crate::market::Market;
use crate::{CoreError, record_signals};

/// The payload of a `quote_poll` task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotePollPayload {
    /// Poll closed markets too (an operator's `once quote_poll --force`).
    pub force: bool,
}

impl JobContext {
    /// Polls the quotes of the watchlist's open markets.
    ///
    /// # Errors
    /// [`CoreError`] when the watchlist cannot be read, or every symbol failed.
    pub async fn poll_quotes(
        &self,
        payload: QuotePollPayload,
        task: Option<TaskContext>,
    ) -> Result<JobReport, CoreError> {
        measure(QUOTE_POLL, async {
            let now = self.now();
            let mut report = JobReport::new(QUOTE_POLL);
            let watchlist = self.watchlist().await?;
            report.symbols = watchlist.len();
            let (open, closed): (Vec<_>, Vec<_>) = watchlist
                .into_iter()
                .partition(|(symbol, category)| payload.force || Market::of(symbol, *category).is_open(now));
            report.skipped = closed.len();
            if open.is_empty() {
                return Ok(report);
            }
            let symbols: Vec<Symbol> = open.iter().map(|(s, _)| *s).collect();
            let answers = tokio::select! {
                answers = self.services.provider.quotes(&symbols) => answers,
                () = cancelled(task) => return Err(CoreError::Cancelled),
            };
            let mut events = Vec::with_capacity(answers.len());
            let mut fresh = Vec::with_capacity(answers.len());
            for ((symbol, answer), (_, category)) in answers.into_iter().zip(&open) {
                let stored = match answer {
                    Ok(quote) => self
                        .services
                        .store
                        .quotes()
                        .upsert(&quote)
                        .await
                        .map(|()| quote)
                        .map_err(CoreError::from),
                    Err(e) => Err(CoreError::from(e)),
                };
                match stored {
                    Ok(quote) => {
                        report.succeeded += 1;
                        events.push(Envelope::new(
                            QuoteEvent::from(&quote),
                            self.services.instance.clone(),
                            now,
                        ));
                        fresh.push((quote, *category));
                    }
                    Err(error) => {
                        tracing::warn!(job = QUOTE_POLL, %symbol, %error, "quote failed");
                        report.failed.push(SymbolFailure {
                            symbol: symbol.to_string(),
                            error: error.to_string(),
                        });
                    }
                }
            }
            report.add("quotes", fresh.len() as u64);
            self.publish(events, &mut report).await;
            for (quote, category) in &fresh {
                match self.price_alerts(quote, *category, now).await {
                    Ok(alerts) => report.add("alerts", alerts),
                    Err(error) => {
                        report.add("alert_errors", 1);
                        tracing::warn!(job = QUOTE_POLL, symbol = %quote.symbol(), %error, "price rules failed");
                    }
                }
            }
            Ok(report)
        })
        .await
    }

    /// Publishes `events` as one batch; a bus failure is counted and logged, never fatal (the
    /// quotes are stored; the next poll publishes again).
    pub(crate) async fn publish(&self, events: Vec<Envelope>, report: &mut JobReport) {
        if events.is_empty() {
            return;
        }
        let n = events.len() as u64;
        match self.services.bus.publish_batch(events).await {
            Ok(()) => report.add("published", n),
            Err(error) => {
                report.add("publish_errors", 1);
                tracing::warn!(job = %report.job, %error, "events not published");
            }
        }
    }

    /// The live rules over one quote: each signal that wins its dedupe window is alerted,
    /// stored and published. Returns how many were alerted.
    async fn price_alerts(&self, quote: &Quote, category: Category, now: DateTime<Utc>) -> Result<u64, CoreError> {
        let symbol = quote.symbol();
        let market = Market::of(&symbol, category);
        let session = quote.time().with_timezone(&market.time_zone).date_naive();
        let previous = self.services.store.daily_bars().before(&symbol, session, 1).await?;
        let previous = previous.last();
        let high = self.services.store.highs().get(&symbol).await?;
        let context = QuoteContext {
            symbol,
            category,
            price: quote.price(),
            time: quote.time(),
            previous_close: quote.previous_close().or(previous.map(finstage_domain::Bar::close)),
            previous_high: previous.map(finstage_domain::Bar::high),
            previous_low: previous.map(finstage_domain::Bar::low),
            all_time_high: high.map(|h| h.high),
        };
        let signals = finstage_analysis::evaluate_quote(&self.rules, &context)?;
        let mut alerted = 0;
        let mut events = Vec::new();
        for signal in signals {
            match self.alerter.alert(&signal, now).await {
                Ok(AlertOutcome::Sent(_)) => {
                    alerted += 1;
                    let recorded = record_signals(&self.services.store, std::slice::from_ref(&signal)).await?;
                    let id = recorded.first().map(|r| r.id);
                    events.push(Envelope::new(
                        SignalEvent::new(&signal, id),
                        self.services.instance.clone(),
                        now,
                    ));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%symbol, kind = %signal.kind, %error, "price alert not sent"),
            }
        }
        if !events.is_empty()
            && let Err(error) = self.services.bus.publish_batch(events).await
        {
            tracing::warn!(%symbol, %error, "signal events not published");
        }
        Ok(alerted)
    }
}

/// Resolves when `task` is cancelled; never without a task.
pub(crate) async fn cancelled(task: Option<TaskContext>) {
    match task {
        Some(mut task) => task.cancelled().await,
        None => std::future::pending().await,
    }
}
