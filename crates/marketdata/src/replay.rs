//! The replay provider: stored daily bars played back as a live quote stream.
//!
//! It powers the offline demo, load tests and WebSocket tests: no network, and the same seed
//! always gives the same quotes. Each daily bar is played as `ticks_per_bar` ticks: the first
//! at the open, the last at the close, the bar's high and low each reached once in between
//! (their order and the path between them drawn from the seed), every price within
//! `[low, high]`. Each symbol plays its own series from its first bar; with `looping` it starts
//! over after the last one.
//!
//! Time is tokio's clock, so tests run a replay with the clock paused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Months, NaiveDate, NaiveTime, TimeDelta, Utc};
use finstage_domain::{Bar, BarTime, Interval, Quote, Symbol};
use futures_util::Stream;
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::{Highs, History, HistoryRequest, MarketDataError, Provider, Span, SymbolMeta};

const PROVIDER: &str = "replay";

/// The opening of the replayed session, in UTC (09:30 New York in winter).
const SESSION_OPEN: NaiveTime = match NaiveTime::from_hms_opt(14, 30, 0) {
    Some(t) => t,
    None => panic!("valid time"),
};
/// Length of the replayed session.
const SESSION: TimeDelta = TimeDelta::minutes(390);

/// How a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayConfig {
    /// Wall time between two ticks at speed 1.
    pub tick_interval: Duration,
    /// Playback speed: 2.0 plays twice as fast.
    pub speed: f64,
    /// Ticks per daily bar (at least 4: open, high, low, close).
    pub ticks_per_bar: u32,
    /// The seed of the intraday paths.
    pub seed: u64,
    /// Start over after the last bar (otherwise the last close stays the quote and the stream
    /// ends).
    pub looping: bool,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            tick_interval: Duration::from_secs(1),
            speed: 1.0,
            ticks_per_bar: 78,
            seed: 0,
            looping: true,
        }
    }
}

/// Plays daily bars back as quotes. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ReplayProvider {
    series: Arc<BTreeMap<Symbol, Arc<[Bar]>>>,
    config: ReplayConfig,
    tick: Duration,
    started: Instant,
}

impl ReplayProvider {
    /// A replay of `series` (daily bars per symbol, in any order) starting now.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] for a speed that is not positive and finite, fewer than 4
    /// ticks per bar, a zero tick interval, an empty series or intraday bars.
    pub fn new(
        series: impl IntoIterator<Item = (Symbol, Vec<Bar>)>,
        config: ReplayConfig,
    ) -> Result<Self, MarketDataError> {
        if !(config.speed.is_finite() && config.speed > 0.0) {
            return Err(MarketDataError::Config(format!(
                "replay speed must be positive, got {}",
                config.speed
            )));
        }
        if config.ticks_per_bar < 4 {
            return Err(MarketDataError::Config(
                "replay ticks_per_bar must be at least 4".to_owned(),
            ));
        }
        let tick = config.tick_interval.div_f64(config.speed);
        if tick.is_zero() {
            return Err(MarketDataError::Config(
                "replay tick interval must be positive".to_owned(),
            ));
        }
        let mut map = BTreeMap::new();
        for (symbol, mut bars) in series {
            if bars.is_empty() {
                return Err(MarketDataError::Config(format!("replay series {symbol} has no bars")));
            }
            if bars.iter().any(|b| !b.time().is_date()) {
                return Err(MarketDataError::Config(format!(
                    "replay series {symbol} must hold daily bars"
                )));
            }
            bars.sort_by_key(Bar::time);
            bars.dedup_by_key(|b| b.time());
            map.insert(symbol, Arc::from(bars));
        }
        Ok(Self {
            series: Arc::new(map),
            config,
            tick,
            started: Instant::now(),
        })
    }

    /// The symbols replayed.
    pub fn symbols(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.series.keys().copied()
    }

    /// Ticks elapsed since the replay started.
    pub fn position(&self) -> u64 {
        let elapsed = self.started.elapsed().as_nanos();
        u64::try_from(elapsed / self.tick.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// The bar index and the tick within it for `position`, or `None` past the end without
    /// looping (the last close then stands).
    fn locate(&self, bars: usize, position: u64) -> (usize, u32) {
        let per_bar = u64::from(self.config.ticks_per_bar);
        let bar = position / per_bar;
        let len = bars as u64;
        if bar >= len && !self.config.looping {
            return (bars - 1, self.config.ticks_per_bar - 1);
        }
        #[allow(clippy::cast_possible_truncation)]
        ((bar % len) as usize, (position % per_bar) as u32)
    }

    /// The quote of `symbol` at tick `position` — the same for the same seed, always.
    pub fn quote_at(&self, symbol: Symbol, position: u64) -> Option<Quote> {
        let bars = self.series.get(&symbol)?;
        let (index, step) = self.locate(bars.len(), position);
        let bar = &bars[index];
        let path = Path::new(self.config.seed, symbol, index, bar, self.config.ticks_per_bar);
        let price = path.price(step);
        let (low, high) = (0..=step)
            .map(|k| path.price(k))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p), hi.max(p)));
        let time = bar_date(bar).and_time(SESSION_OPEN).and_utc()
            + SESSION * i32::try_from(step).unwrap_or(0) / i32::try_from(self.config.ticks_per_bar - 1).unwrap_or(1);
        let traded = bar.volume() / u64::from(self.config.ticks_per_bar) * u64::from(step + 1);
        let mut quote = Quote::new(symbol, price, time)
            .ok()?
            .with_open(bar.open())
            .ok()?
            .with_day_range(low, high)
            .ok()?
            .with_volume(traded)
            .ok()?;
        if index > 0 {
            quote = quote.with_previous_close(bars[index - 1].close()).ok()?;
        }
        Some(quote)
    }

    /// The index of the bar being played for `symbol` now.
    fn current_index(&self, bars: &[Bar]) -> usize {
        self.locate(bars.len(), self.position()).0
    }

    /// A stream of quote batches, one per tick: the quote of every symbol in `symbols` that the
    /// replay has. It ends after the last bar unless the replay loops.
    pub fn stream(&self, symbols: Vec<Symbol>) -> impl Stream<Item = Vec<Quote>> + Send + 'static {
        let replay = self.clone();
        let per_bar = u64::from(self.config.ticks_per_bar);
        let end = self
            .series
            .values()
            .map(|b| b.len() as u64 * per_bar)
            .max()
            .unwrap_or(0);
        futures_util::stream::unfold(self.position(), move |position| {
            let replay = replay.clone();
            let symbols = symbols.clone();
            async move {
                if !replay.config.looping && position >= end {
                    return None;
                }
                let due = replay.started + replay.tick.saturating_mul(u32::try_from(position).unwrap_or(u32::MAX));
                tokio::time::sleep_until(due).await;
                let batch = symbols.iter().filter_map(|s| replay.quote_at(*s, position)).collect();
                Some((batch, position + 1))
            }
        })
    }

    fn bars(&self, symbol: Symbol) -> Result<&Arc<[Bar]>, MarketDataError> {
        self.series.get(&symbol).ok_or(MarketDataError::NotFound {
            provider: PROVIDER,
            symbol,
        })
    }
}

fn bar_date(bar: &Bar) -> NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(t) => t.date_naive(),
    }
}

/// The deterministic intraday path of one bar.
struct Path {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    high_at: u32,
    low_at: u32,
    last: u32,
    noise_seed: u64,
}

impl Path {
    fn new(seed: u64, symbol: Symbol, index: usize, bar: &Bar, ticks: u32) -> Self {
        let noise_seed = mix(seed, symbol, index as u64);
        let mut rng = StdRng::seed_from_u64(noise_seed);
        let last = ticks - 1;
        let first = rng.random_range(1..last);
        let mut second = rng.random_range(1..last - 1);
        if second >= first {
            second += 1;
        }
        let (high_at, low_at) = if rng.random_bool(0.5) {
            (first, second)
        } else {
            (second, first)
        };
        Self {
            open: bar.open(),
            high: bar.high(),
            low: bar.low(),
            close: bar.close(),
            high_at,
            low_at,
            last,
            noise_seed,
        }
    }

    fn price(&self, step: u32) -> f64 {
        let anchors = self.anchors();
        if let Some((_, p)) = anchors.iter().find(|(at, _)| *at == step) {
            return *p;
        }
        let i = anchors
            .iter()
            .position(|(at, _)| *at > step)
            .unwrap_or(anchors.len() - 1)
            .max(1);
        let (a, pa) = anchors[i - 1];
        let (b, pb) = anchors[i];
        let t = f64::from(step - a) / f64::from(b - a);
        let line = pa + (pb - pa) * t;
        let mut rng = StdRng::seed_from_u64(self.noise_seed ^ u64::from(step).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let noise = (self.high - self.low) * 0.15 * rng.random_range(-1.0..=1.0);
        // Strictly inside the range: the extremes belong to their anchors.
        (line + noise).clamp(self.low, self.high)
    }

    fn anchors(&self) -> [(u32, f64); 4] {
        let (x, px, y, py) = if self.high_at < self.low_at {
            (self.high_at, self.high, self.low_at, self.low)
        } else {
            (self.low_at, self.low, self.high_at, self.high)
        };
        [(0, self.open), (x, px), (y, py), (self.last, self.close)]
    }
}

/// A stable mix of the seed, the symbol and the bar index (FNV-1a, then a splitmix finaliser):
/// the same on every machine and every run.
fn mix(seed: u64, symbol: Symbol, index: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in symbol.as_str().bytes().chain(index.to_le_bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Provider for ReplayProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>> {
        let quote = self.bars(symbol).and_then(|_| {
            self.quote_at(symbol, self.position()).ok_or(MarketDataError::NoData {
                provider: PROVIDER,
                symbol,
            })
        });
        Box::pin(std::future::ready(quote))
    }

    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>> {
        let result = (|| {
            let symbol = request.symbol;
            if request.interval != Interval::D1 {
                return Err(MarketDataError::InvalidRequest(format!(
                    "the replay provider has daily bars only, not {}",
                    request.interval
                )));
            }
            let bars = self.bars(symbol)?;
            // Only what has been played: no bar from the replay's future.
            let played = &bars[..=self.current_index(bars)];
            let selected: Vec<Bar> = match request.span {
                Span::Range(range) => {
                    let last = bar_date(&played[played.len() - 1]);
                    let start = range.start(last);
                    played
                        .iter()
                        .filter(|b| start.is_none_or(|s| bar_date(b) >= s))
                        .copied()
                        .collect()
                }
                Span::Between { from, to } => played
                    .iter()
                    .filter(|b| (from..to).contains(&b.time().to_utc()))
                    .copied()
                    .collect(),
            };
            if selected.is_empty() {
                return Err(MarketDataError::NoData {
                    provider: PROVIDER,
                    symbol,
                });
            }
            Ok(History {
                meta: meta(symbol, &bars[0]),
                interval: Interval::D1,
                bars: selected,
                dividends: Vec::new(),
                splits: Vec::new(),
                skipped: 0,
            })
        })();
        Box::pin(std::future::ready(result))
    }

    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>> {
        Box::pin(std::future::ready(self.bars(symbol).map(|bars| meta(symbol, &bars[0]))))
    }

    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>> {
        let result = self.bars(symbol).map(|bars| {
            let played = &bars[..=self.current_index(bars)];
            let last = bar_date(&played[played.len() - 1]);
            let year_ago = last.checked_sub_months(Months::new(12)).unwrap_or(NaiveDate::MIN);
            let year = played.iter().filter(|b| bar_date(b) > year_ago);
            let high = year.clone().map(Bar::high).fold(f64::NEG_INFINITY, f64::max);
            let low = year.map(Bar::low).fold(f64::INFINITY, f64::min);
            let ath = played
                .iter()
                .max_by(|a, b| a.high().total_cmp(&b.high()))
                .map(|b| (b.high(), bar_date(b)));
            Highs {
                symbol,
                fifty_two_week_high: Some(high),
                fifty_two_week_low: Some(low),
                all_time_high: ath,
            }
        });
        Box::pin(std::future::ready(result))
    }
}

fn meta(symbol: Symbol, first: &Bar) -> SymbolMeta {
    SymbolMeta {
        symbol,
        name: None,
        currency: None,
        exchange: Some("REPLAY".to_owned()),
        full_exchange_name: Some("Finstage replay".to_owned()),
        instrument_type: None,
        timezone: Some("UTC".to_owned()),
        gmt_offset_seconds: 0,
        first_trade: Some(DateTime::<Utc>::from_naive_utc_and_offset(
            bar_date(first).and_time(SESSION_OPEN),
            Utc,
        )),
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn series() -> Vec<(Symbol, Vec<Bar>)> {
        let day = |d| NaiveDate::from_ymd_opt(2020, 1, d).unwrap();
        let bars = vec![
            Bar::new(day(2), 100.0, 110.0, 95.0, 105.0, 1_000).unwrap(),
            Bar::new(day(3), 105.0, 108.0, 101.0, 102.0, 2_000).unwrap(),
            Bar::new(day(6), 102.0, 120.0, 100.0, 119.0, 3_000).unwrap(),
        ];
        vec![(Symbol::parse("AAPL").unwrap(), bars)]
    }

    fn config() -> ReplayConfig {
        ReplayConfig {
            tick_interval: Duration::from_millis(100),
            ticks_per_bar: 10,
            seed: 42,
            ..ReplayConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_bar_plays_from_open_to_close_through_its_high_and_low() {
        let replay = ReplayProvider::new(series(), config()).unwrap();
        let aapl = Symbol::parse("AAPL").unwrap();
        let (_, bars) = &series()[0];
        for (i, bar) in bars.iter().enumerate() {
            let prices: Vec<f64> = (0..10)
                .map(|k| replay.quote_at(aapl, i as u64 * 10 + k).unwrap().price())
                .collect();
            assert_eq!(prices[0], bar.open());
            assert_eq!(prices[9], bar.close());
            assert!(
                prices.contains(&bar.high()) && prices.contains(&bar.low()),
                "{prices:?}"
            );
            assert!(prices.iter().all(|p| (bar.low()..=bar.high()).contains(p)));
        }
        let last = replay.quote_at(aapl, 19).unwrap();
        assert_eq!(last.previous_close(), Some(105.0));
        assert_eq!((last.day_low(), last.day_high()), (Some(101.0), Some(108.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_seed_replays_the_same_quotes_and_another_does_not() {
        let aapl = Symbol::parse("AAPL").unwrap();
        let a = ReplayProvider::new(series(), config()).unwrap();
        let b = ReplayProvider::new(series(), config()).unwrap();
        let c = ReplayProvider::new(series(), ReplayConfig { seed: 43, ..config() }).unwrap();
        let run = |r: &ReplayProvider| {
            (0..30)
                .map(|p| r.quote_at(aapl, p).unwrap().price())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&a), run(&b));
        assert_ne!(run(&a), run(&c));
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_ticks_at_the_configured_speed_and_ends_without_looping() {
        let aapl = Symbol::parse("AAPL").unwrap();
        let replay = ReplayProvider::new(
            series(),
            ReplayConfig {
                looping: false,
                speed: 2.0,
                ..config()
            },
        )
        .unwrap();
        let start = Instant::now();
        let batches: Vec<Vec<Quote>> = replay.stream(vec![aapl]).collect().await;
        assert_eq!(batches.len(), 30);
        // 30 ticks at 100 ms / 2: the last one at 29 × 50 ms.
        assert_eq!(Instant::now() - start, Duration::from_millis(29 * 50));
        assert_eq!(batches[29][0].price(), 119.0);
    }

    #[tokio::test(start_paused = true)]
    async fn history_holds_only_what_has_been_played() {
        let aapl = Symbol::parse("AAPL").unwrap();
        let replay = ReplayProvider::new(series(), config()).unwrap();
        let request = HistoryRequest::range(aapl, Interval::D1, crate::Range::Max);
        assert_eq!(replay.history(request).await.unwrap().bars.len(), 1);
        tokio::time::advance(Duration::from_millis(1_000)).await;
        assert_eq!(replay.history(request).await.unwrap().bars.len(), 2);
        let unknown = Symbol::parse("MSFT").unwrap();
        assert!(matches!(
            replay.quote(unknown).await,
            Err(MarketDataError::NotFound { .. })
        ));
        let hourly = HistoryRequest::range(aapl, Interval::H1, crate::Range::D5);
        assert!(matches!(
            replay.history(hourly).await,
            Err(MarketDataError::InvalidRequest(_))
        ));
    }

    #[test]
    fn bad_configurations_are_refused() {
        for bad in [
            ReplayConfig { speed: 0.0, ..config() },
            ReplayConfig {
                speed: f64::NAN,
                ..config()
            },
            ReplayConfig {
                ticks_per_bar: 3,
                ..config()
            },
            ReplayConfig {
                tick_interval: Duration::ZERO,
                ..config()
            },
        ] {
            assert!(matches!(
                ReplayProvider::new(series(), bad),
                Err(MarketDataError::Config(_))
            ));
        }
        assert!(ReplayProvider::new(vec![(Symbol::parse("X").unwrap(), vec![])], config()).is_err());
    }
}
