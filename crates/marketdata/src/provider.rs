//! The [`Provider`] trait: the one seam between Finstage and a source of prices.

use std::sync::Arc;

use finstage_domain::{Quote, Symbol};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};

use crate::{Highs, History, HistoryRequest, MarketDataError, SymbolMeta};

/// Concurrency of the default [`Provider::quotes`]: how many single-quote calls run at once.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 16;

/// A source of quotes, bars and instrument metadata.
///
/// Object-safe, so a service holds an `Arc<dyn Provider>` and does not care whether it talks to
/// Yahoo, replays stored bars, or goes through the [`Resilient`](crate::Resilient) layer (which
/// is itself a `Provider` wrapping another one).
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// A short, stable name (`yahoo`, `replay`), used in errors and metric labels.
    fn name(&self) -> &'static str;

    /// The latest quote of `symbol`.
    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>>;

    /// The latest quote of each symbol, in the order given; one symbol's failure does not fail
    /// the others. The default runs [`quote`](Self::quote) for up to
    /// [`DEFAULT_BATCH_CONCURRENCY`] symbols at once.
    fn quotes<'a>(&'a self, symbols: &'a [Symbol]) -> BoxFuture<'a, Vec<(Symbol, Result<Quote, MarketDataError>)>> {
        Box::pin(async move {
            stream::iter(symbols.iter().copied())
                .map(|symbol| async move { (symbol, self.quote(symbol).await) })
                .buffered(DEFAULT_BATCH_CONCURRENCY)
                .collect()
                .await
        })
    }

    /// Bars for a request (interval and range, or from/to).
    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>>;

    /// What the upstream says about the instrument.
    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>>;

    /// 52-week and all-time highs.
    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>>;
}

impl<P: Provider + ?Sized> Provider for Arc<P> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>> {
        (**self).quote(symbol)
    }

    fn quotes<'a>(&'a self, symbols: &'a [Symbol]) -> BoxFuture<'a, Vec<(Symbol, Result<Quote, MarketDataError>)>> {
        (**self).quotes(symbols)
    }

    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>> {
        (**self).history(request)
    }

    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>> {
        (**self).metadata(symbol)
    }

    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>> {
        (**self).highs(symbol)
    }
}
