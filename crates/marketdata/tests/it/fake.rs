//! A scripted in-memory provider: answers from a queue, counts calls, can hold calls at a gate.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate};
use finstage_domain::{Bar, Interval, Quote, Symbol};
use finstage_marketdata::{Highs, History, HistoryRequest, MarketDataError, Provider, SymbolMeta};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

/// Answers `quote` from a script (then with a default quote), everything else from fixed data.
#[derive(Debug, Default)]
pub(crate) struct Fake {
    script: Mutex<VecDeque<Result<(), MarketDataError>>>,
    calls: AtomicUsize,
    /// When set, every call waits for a permit (tests release them to control overlap).
    gate: Option<Semaphore>,
}

pub(crate) fn aapl() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

pub(crate) fn quote(symbol: Symbol) -> Quote {
    Quote::new(symbol, 123.5, DateTime::from_timestamp(1_700_000_000, 0).unwrap()).unwrap()
}

impl Fake {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn gated() -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::default()
        }
    }

    /// The next calls fail with these errors, in order.
    pub(crate) fn then_fail(self, errors: impl IntoIterator<Item = MarketDataError>) -> Self {
        self.script.lock().unwrap().extend(errors.into_iter().map(Err));
        self
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn open_gate(&self, permits: usize) {
        self.gate.as_ref().expect("a gated fake").add_permits(permits);
    }

    async fn answer(&self) -> Result<(), MarketDataError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

impl Provider for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>> {
        Box::pin(async move { self.answer().await.map(|()| quote(symbol)) })
    }

    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>> {
        Box::pin(async move {
            self.answer().await?;
            let day = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
            Ok(History {
                meta: meta(request.symbol),
                interval: Interval::D1,
                bars: vec![Bar::new(day, 1.0, 2.0, 0.5, 1.5, 10).unwrap()],
                dividends: vec![],
                splits: vec![],
                skipped: 0,
            })
        })
    }

    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>> {
        Box::pin(async move { self.answer().await.map(|()| meta(symbol)) })
    }

    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>> {
        Box::pin(async move {
            self.answer().await?;
            Ok(Highs {
                symbol,
                fifty_two_week_high: Some(2.0),
                fifty_two_week_low: Some(1.0),
                all_time_high: None,
            })
        })
    }
}

fn meta(symbol: Symbol) -> SymbolMeta {
    SymbolMeta {
        symbol,
        name: Some("Fake Inc.".to_owned()),
        currency: Some("USD".to_owned()),
        exchange: None,
        full_exchange_name: None,
        instrument_type: Some("EQUITY".to_owned()),
        timezone: None,
        gmt_offset_seconds: 0,
        first_trade: None,
    }
}
