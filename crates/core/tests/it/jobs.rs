//! The jobs over a real store, the mock Yahoo and the in-process bus: incremental daily
//! updates, gap fills and backfills, quote polls that respect market hours and publish,
//! per-symbol failures that never fail the others, retention, and the schedules.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use finstage_cache::MemoryCache;
use finstage_core::bus::{BusMessage, Event, EventBus, InstanceId, LocalBus};
use finstage_core::jobs::{BackfillPayload, DailyUpdatePayload, JobContext, QuotePollPayload, schedules};
use finstage_core::{Config, ConfigSources, CoreError, Services};
use finstage_domain::{Bar, BarTime, Symbol};
use finstage_marketdata::{Provider, ResilienceConfig, Resilient, YahooConfig, YahooProvider};
use finstage_notify::RecordingNotifier;
use finstage_store::{Backend, Store};
use finstage_tasks::{DatabaseBackend, Queue, TokioClock};
use finstage_test_support::db::TestDb;
use finstage_test_support::fixtures;
use finstage_test_support::yahoo::{Fault, FaultScope, MockYahoo};

use crate::backend_tests;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn date(bar: &Bar) -> NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

/// Monday 4 March 2013, 12:00 UTC: the bundled history ends on Friday 1 March.
fn monday_noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 3, 4, 12, 0, 0).unwrap()
}

struct Harness {
    _db: TestDb,
    yahoo: MockYahoo,
    store: Store,
    bus: Arc<LocalBus>,
    ctx: JobContext,
}

async fn harness(backend: Backend, watchlist: &str, now: DateTime<Utc>) -> Harness {
    harness_with(backend, watchlist, now, |yahoo| yahoo).await
}

/// [`harness`] with the mock's provider wrapped by `wrap`.
async fn harness_with(
    backend: Backend,
    watchlist: &str,
    now: DateTime<Utc>,
    wrap: impl FnOnce(Arc<dyn Provider>) -> Arc<dyn Provider>,
) -> Harness {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let yahoo = MockYahoo::start().await;
    for name in ["AAPL", "MSFT", "IBM"] {
        yahoo.add_symbol(name, fixtures::seed_bars(name));
    }
    let provider = YahooProvider::new(&YahooConfig {
        base_url: yahoo.base_url(),
        ..YahooConfig::default()
    })
    .unwrap();
    let clock = Arc::new(TokioClock::starting_at(now));
    let bus = Arc::new(LocalBus::new(1_024).unwrap());
    let services = Services {
        store: store.clone(),
        cache: Arc::new(MemoryCache::new("test", finstage_cache::MemoryConfig::default()).unwrap()),
        provider: wrap(Arc::new(provider)),
        queue: Queue::new(Arc::new(DatabaseBackend::new(store.clone())), clock.clone()),
        bus: bus.clone(),
        notifier: Arc::new(RecordingNotifier::new()),
        clock,
        instance: InstanceId::new("test-jobs").unwrap(),
    };
    let config = Config::load(&ConfigSources::new().with_var("FINSTAGE_WATCHLIST", watchlist)).unwrap();
    let ctx = JobContext::new(services, &config).unwrap();
    Harness {
        _db: db,
        yahoo,
        store,
        bus,
        ctx,
    }
}

fn update(symbols: &[&str]) -> DailyUpdatePayload {
    DailyUpdatePayload {
        market: None,
        symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
    }
}

async fn a_daily_update_fetches_only_the_missing_days(backend: Backend) {
    let h = harness(backend, "AAPL", monday_noon()).await;
    let bars = fixtures::seed_bars("AAPL");
    let (old, new) = bars.split_at(bars.len() - 5);
    h.store.daily_bars().upsert(&sym("AAPL"), old).await.unwrap();

    let report = h.ctx.daily_update(update(&["AAPL"]), None).await.unwrap();
    assert_eq!(
        (report.symbols, report.succeeded, report.failed.len()),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        h.store.daily_bars().count(&sym("AAPL")).await.unwrap(),
        bars.len() as u64
    );
    // One request, from a week before the newest stored bar: not ten years.
    let log = h.yahoo.request_log();
    assert_eq!(log.len(), 1);
    let from: i64 = log[0].query_param("period1").unwrap().parse().unwrap();
    let from = DateTime::from_timestamp(from, 0).unwrap().date_naive();
    let newest_before = date(old.last().unwrap());
    assert_eq!(from, newest_before - chrono::TimeDelta::days(7));
    // The new bars are written (with the overlap unchanged rows are not rewritten).
    assert!(report.count("bars") >= new.len() as u64, "{report:?}");
    // The snapshot of the next session is the newest bar.
    let snap = h.store.snapshots().latest(&sym("AAPL")).await.unwrap().unwrap();
    assert_eq!(snap.date, date(new.last().unwrap()));
    assert_eq!(snap.previous_close, new.last().unwrap().close());

    // Up to date: the next run asks nothing.
    let again = h.ctx.daily_update(update(&["AAPL"]), None).await.unwrap();
    assert_eq!((again.succeeded, again.skipped), (0, 1), "{again:?}");
    assert_eq!(h.yahoo.total_requests(), 1);
}

async fn a_new_symbol_gets_its_history_and_a_gappy_one_is_refilled(backend: Backend) {
    let h = harness(backend, "MSFT,IBM", monday_noon()).await;
    // MSFT has nothing: ten years are fetched, signals found on them are stored (and too old to
    // alert).
    let report = h
        .ctx
        .backfill(
            BackfillPayload {
                symbol: "MSFT".into(),
                years: 10,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.succeeded, 1, "{report:?}");
    let stored = h.store.daily_bars().count(&sym("MSFT")).await.unwrap();
    assert!((2_400..=2_600).contains(&stored), "ten years of bars, not {stored}");
    assert!(report.count("signals") > 0, "{report:?}");
    assert_eq!(report.count("alerts"), 0, "history is not alerted");
    let high = h.store.highs().get(&sym("MSFT")).await.unwrap().unwrap();
    let best = fixtures::seed_bars("MSFT")
        .iter()
        .filter(|b| date(b) >= NaiveDate::from_ymd_opt(2003, 3, 1).unwrap())
        .map(Bar::high)
        .fold(f64::MIN, f64::max);
    assert!((high.high - best).abs() < 1e-9, "{} vs {best}", high.high);

    // IBM with a hole of a year in the middle: its whole span is fetched again.
    let ibm = fixtures::seed_bars("IBM");
    let (first, rest) = ibm.split_at(1_000);
    h.store.daily_bars().upsert(&sym("IBM"), first).await.unwrap();
    h.store.daily_bars().upsert(&sym("IBM"), &rest[252..]).await.unwrap();
    let report = h.ctx.daily_update(update(&["IBM"]), None).await.unwrap();
    assert_eq!(report.count("gap_fills"), 1, "{report:?}");
    assert_eq!(h.store.daily_bars().count(&sym("IBM")).await.unwrap(), ibm.len() as u64);
}

async fn the_updates_keep_no_history_in_the_provider_cache(backend: Backend) {
    let cache = Arc::new(MemoryCache::new("market", finstage_cache::MemoryConfig::default()).unwrap());
    let shared = cache.clone();
    let h = harness_with(backend, "MSFT", monday_noon(), move |yahoo| {
        let config = ResilienceConfig {
            rate_limit: None,
            ..ResilienceConfig::default()
        };
        Arc::new(Resilient::new(yahoo, config).unwrap().with_cache(shared))
    })
    .await;
    let report = h.ctx.daily_update(update(&["MSFT"]), None).await.unwrap();
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert!(h.store.daily_bars().count(&sym("MSFT")).await.unwrap() > 2_000);
    // The store keeps the ten years; the cache, shared with the API's requests, keeps none.
    let stats = finstage_cache::Cache::stats(&*cache);
    assert_eq!(stats.entries, Some(0), "{stats:?}");
    assert_eq!(h.yahoo.total_requests(), 1);
}

async fn one_failing_symbol_never_fails_the_others(backend: Backend) {
    let h = harness(backend, "AAPL,MSFT,IBM", monday_noon()).await;
    h.yahoo.set_fault(FaultScope::symbol("MSFT"), Some(Fault::NotFound));
    let report = h.ctx.daily_update(update(&[]), None).await.unwrap();
    assert_eq!(report.succeeded, 2, "{report:?}");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].symbol, "MSFT");
    assert!(h.store.daily_bars().count(&sym("AAPL")).await.unwrap() > 0);
    assert!(h.store.daily_bars().count(&sym("IBM")).await.unwrap() > 0);

    // When every symbol fails the run fails (and its task is retried).
    h.yahoo.set_fault(FaultScope::Any, Some(Fault::NotFound));
    let err = h
        .ctx
        .backfill(
            BackfillPayload {
                symbol: "MSFT".into(),
                years: 1,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MSFT"), "{err}");
    // Bad input is refused before anything is fetched.
    let requests = h.yahoo.total_requests();
    let err = h
        .ctx
        .backfill(
            BackfillPayload {
                symbol: "A B".into(),
                years: 10,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Config { .. }), "{err:?}");
    let err = h
        .ctx
        .daily_update(
            DailyUpdatePayload {
                market: Some("mars".into()),
                symbols: vec![],
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mars"), "{err}");
    assert_eq!(h.yahoo.total_requests(), requests);
}

async fn quotes_are_polled_while_markets_trade_and_published(backend: Backend) {
    // Saturday: New York is closed, nothing is asked.
    let saturday = Utc.with_ymd_and_hms(2013, 3, 2, 16, 0, 0).unwrap();
    let h = harness(backend, "AAPL,MSFT", saturday).await;
    let report = h.ctx.poll_quotes(QuotePollPayload::default(), None).await.unwrap();
    assert_eq!(
        (report.symbols, report.skipped, report.succeeded),
        (2, 2, 0),
        "{report:?}"
    );
    assert_eq!(h.yahoo.total_requests(), 0);

    // Forced (an operator's run): the quotes are stored and published, one event each.
    let mut rx = h.bus.subscribe();
    let report = h.ctx.poll_quotes(QuotePollPayload { force: true }, None).await.unwrap();
    assert_eq!((report.succeeded, report.count("published")), (2, 2), "{report:?}");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match rx.recv().await {
            Some(BusMessage::Event(envelope)) => {
                if let Event::Quote(q) = envelope.event() {
                    seen.push((q.symbol.to_string(), q.price));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let close = |s: &str| fixtures::seed_bars(s).last().unwrap().close();
    assert_eq!(
        seen,
        [("AAPL".to_owned(), close("AAPL")), ("MSFT".to_owned(), close("MSFT"))]
    );
    let stored = h.store.quotes().get(&sym("AAPL")).await.unwrap().unwrap();
    assert_eq!(stored.price(), close("AAPL"));
}

async fn retention_prunes_what_is_old_enough(backend: Backend) {
    let h = harness(backend, "AAPL", Utc::now()).await;
    h.store
        .notifications()
        .insert("telegram", finstage_store::NotificationStatus::Sent, 1, None)
        .await
        .unwrap();
    // Logs are kept 90 days by default: a row written now stays.
    let report = h.ctx.prune().await.unwrap();
    assert_eq!(report.count("notifications"), 0, "{report:?}");
    assert_eq!(
        h.store
            .conn()
            .await
            .unwrap()
            .count_rows("notification_log")
            .await
            .unwrap(),
        1
    );
}

backend_tests!(
    a_daily_update_fetches_only_the_missing_days,
    a_new_symbol_gets_its_history_and_a_gappy_one_is_refilled,
    the_updates_keep_no_history_in_the_provider_cache,
    one_failing_symbol_never_fails_the_others,
    quotes_are_polled_while_markets_trade_and_published,
    retention_prunes_what_is_old_enough,
);

#[test]
fn every_configured_job_has_a_schedule_and_bad_markets_are_named() {
    let config = Config::load(&ConfigSources::new()).unwrap();
    let names: Vec<String> = schedules(&config.scheduler)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        ["quote_poll", "daily_update:us", "outcomes", "daily_report", "retention"]
    );

    let file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(
        file.path(),
        "[scheduler.daily_update.mars]\nat = \"16:30\"\ntime_zone = \"UTC\"\n",
    )
    .unwrap();
    let config = Config::load(&ConfigSources::new().with_file(file.path())).unwrap();
    let err = schedules(&config.scheduler).unwrap_err();
    assert!(err.to_string().contains("scheduler.daily_update.mars"), "{err}");
}
