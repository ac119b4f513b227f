//! The daily report of the watchlist, built from stored data ([`build_daily_report`]) and sent
//! through a notifier ([`send_daily_report`]), as a task of kind [`DAILY_REPORT_KIND`].
//!
//! Per symbol, from the store: the daily bars up to the report's day (enough for SMA(200) and
//! for the rules' warm-up), the all-time high (the recorded one, else the highest stored bar),
//! and the signals of its last session; for every kind, the statistics of the stored outcomes
//! ([`kind_stats`](crate::kind_stats)). [`finstage_analysis::report::build`] makes the report.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use finstage_analysis::report::{self, DailyReport, ReportConfig, SymbolInput, WatchlistInput};
use finstage_analysis::{Plan, RulesConfig, Signal, SignalKind, SignalValues, Timeframe};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_notify::{Delivery, Notifier};
use finstage_store::{PageRequest, SIGNAL_PAGE_MAX, SignalFilter, Store};

use crate::CoreError;

/// The task kind the daily report is sent by.
pub const DAILY_REPORT_KIND: &str = "daily_report";
/// The name of the report's one watchlist.
pub const WATCHLIST_NAME: &str = "default";
/// The fewest bars read per symbol (a year: SMA(200) and MACD need 200 and 34).
pub const REPORT_BARS: u32 = 260;

/// What the store holds for one symbol of the report.
struct Gathered {
    symbol: Symbol,
    category: Category,
    bars: Vec<Bar>,
    all_time_high: Option<(f64, NaiveDate)>,
    signals: Vec<Signal>,
}

fn bar_date(time: BarTime) -> NaiveDate {
    match time {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

/// Builds the daily report of `watchlist` (each symbol once, in order) as of `now`.
///
/// - **The day** is the latest date of the symbols' last bars on or before `now`'s UTC date
///   (the latest session with data: a report made on a Saturday, or from bundled history, is
///   about the last session stored), or `now`'s date when no symbol has bars.
/// - **Bars**: each symbol's last [`REPORT_BARS`] bars (more when the rules warm up longer)
///   dated on or before `now`'s date.
/// - **All-time high**: the recorded high when there is one up to the last bar, else the
///   highest stored bar.
/// - **Signals**: those of the symbol's last bar that `rules` detect over the stored bars (the
///   ones the signal pipeline stores, with their strength), plus the signals stored on that
///   bar's date that the bars do not give (live signals, older rules). The store keeps no
///   strength: those are listed with strength 0.
/// - **Rankings**: [`kind_stats`](crate::kind_stats) over every stored outcome, ranked with
///   [`ReportConfig::default`].
///
/// # Errors
/// [`CoreError::Analysis`] when `rules` do not validate; [`CoreError::Store`] when the store
/// fails.
pub async fn build_daily_report(
    store: &Store,
    watchlist: &[(Symbol, Category)],
    rules: &RulesConfig,
    now: DateTime<Utc>,
) -> Result<DailyReport, CoreError> {
    rules.validate("rules")?;
    let today = now.date_naive();
    let mut seen = HashSet::new();
    let mut gathered = Vec::with_capacity(watchlist.len());
    for &(symbol, category) in watchlist {
        if seen.insert(symbol) {
            gathered.push(gather(store, symbol, category, rules, today).await?);
        }
    }
    let date = gathered
        .iter()
        .filter_map(|g| g.bars.last().map(|b| bar_date(b.time())))
        .max()
        .unwrap_or(today);
    let stats = crate::kind_stats(store, None).await?;
    let inputs = WatchlistInput {
        name: WATCHLIST_NAME.to_owned(),
        symbols: gathered
            .iter()
            .map(|g| SymbolInput {
                symbol: g.symbol,
                category: g.category,
                bars: &g.bars,
                all_time_high: g.all_time_high,
                signals: &g.signals,
            })
            .collect(),
    };
    Ok(report::build(
        date,
        std::slice::from_ref(&inputs),
        &stats,
        &ReportConfig::default(),
    ))
}

async fn gather(
    store: &Store,
    symbol: Symbol,
    category: Category,
    rules: &RulesConfig,
    today: NaiveDate,
) -> Result<Gathered, CoreError> {
    let plan = Plan::new(rules, symbol, category, Timeframe::DAILY)?;
    let wanted = u32::try_from(plan.warm_up_bars().saturating_add(1))
        .unwrap_or(u32::MAX)
        .max(REPORT_BARS);
    let bars = match today.succ_opt() {
        Some(tomorrow) => store.daily_bars().before(&symbol, tomorrow, wanted).await?,
        None => store.daily_bars().latest(&symbol, wanted).await?,
    };
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Ok(Gathered {
            symbol,
            category,
            bars,
            all_time_high: None,
            signals: Vec::new(),
        });
    };
    let (first_date, last_date) = (bar_date(first.time()), bar_date(last.time()));
    let high_before = store.daily_bars().max_high_before(&symbol, first_date).await?;
    let all_time_high = match store.highs().get(&symbol).await? {
        Some(record) if record.date <= last_date => Some((record.high, record.date)),
        _ => highest_before(store, &symbol, first_date, high_before, &bars).await?,
    };
    let mut signals: Vec<Signal> =
        finstage_analysis::rules::detect_with(&plan, high_before.unwrap_or(f64::NAN), &bars)?
            .into_iter()
            .filter(|s| s.time == last.time())
            .collect();
    signals.extend(stored_signals(store, symbol, last_date, &signals).await?);
    Ok(Gathered {
        symbol,
        category,
        bars,
        all_time_high,
        signals,
    })
}

/// The highest stored bar before `first` and its date, when it is above every bar of `bars`
/// (otherwise the report finds the high in `bars` itself).
async fn highest_before(
    store: &Store,
    symbol: &Symbol,
    first: NaiveDate,
    high_before: Option<f64>,
    bars: &[Bar],
) -> Result<Option<(f64, NaiveDate)>, CoreError> {
    let Some(high) = high_before else {
        return Ok(None);
    };
    if bars.iter().any(|b| b.high() >= high) {
        return Ok(None);
    }
    let Some((start, _)) = store.daily_bars().span(symbol).await? else {
        return Ok(None);
    };
    let Some(end) = first.pred_opt() else {
        return Ok(None);
    };
    let earlier = store.daily_bars().range(symbol, start, end).await?;
    // The earliest bar of the highest high.
    Ok(earlier
        .iter()
        .fold(None::<&Bar>, |best, bar| match best {
            Some(b) if b.high() >= bar.high() => Some(b),
            _ => Some(bar),
        })
        .map(|b| (b.high(), bar_date(b.time()))))
}

/// The signals stored for `symbol` on `day` that are not among `detected` (same kind,
/// timeframe and time), as analysis signals of strength 0; stored kinds or timeframes this
/// version does not know are left out.
async fn stored_signals(
    store: &Store,
    symbol: Symbol,
    day: NaiveDate,
    detected: &[Signal],
) -> Result<Vec<Signal>, CoreError> {
    let since = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let filter = SignalFilter {
        symbol: Some(symbol),
        since: Some(since),
        until: Some(since + TimeDelta::days(1)),
        ..SignalFilter::default()
    };
    let page = store
        .signals()
        .list(
            &filter,
            PageRequest {
                limit: SIGNAL_PAGE_MAX,
                after: None,
            },
        )
        .await?;
    let mut out = Vec::new();
    for stored in page.items.iter().rev() {
        let (Ok(kind), Ok(timeframe)) = (stored.kind.parse::<SignalKind>(), stored.timeframe.parse::<Timeframe>())
        else {
            continue;
        };
        let time = if timeframe == Timeframe::DAILY {
            BarTime::Date(stored.triggered_at.date_naive())
        } else {
            BarTime::Timestamp(stored.triggered_at)
        };
        let known = detected
            .iter()
            .chain(&out)
            .any(|s| s.kind == kind && s.timeframe == timeframe && s.time == time);
        if !known {
            out.push(Signal::new(
                symbol,
                kind,
                timeframe,
                time,
                stored.price,
                0.0,
                SignalValues::new(),
            ));
        }
    }
    Ok(out)
}

/// Sends `report` through `notifier`, formatted by [`finstage_notify::format::daily_report`]
/// (one message, split into parts by the notifier when it is long).
///
/// # Errors
/// [`CoreError::Notify`] when it is not delivered.
pub async fn send_daily_report(notifier: &dyn Notifier, report: &DailyReport) -> Result<Delivery, CoreError> {
    let message = finstage_notify::format::daily_report(report);
    Ok(notifier.send(&message).await?)
}
