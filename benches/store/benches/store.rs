//! finstage-store on the three backends, in one run, each against its baseline:
//!
//! - bulk upsert of 100 symbols × 2,520 daily bars (252,000 rows) in one call, into an empty
//!   table and again over the same rows, against row-by-row inserts with a commit each (the
//!   Python service's "before"; timed on the first 2,520 rows: at its speed the whole set would
//!   take minutes);
//! - a ten-year range query (2,520 bars) of one symbol, p50 and p99 over 2,000 queries;
//! - one symbol's ten years of signals (4,900, as a first refresh finds) stored with
//!   `signals().insert_many` into an empty table and again over the same signals, against
//!   `signals().insert` one at a time (what `record_signals` did before), best of three each.
//!
//! `cargo bench -p finstage-store-bench --bench store [-- postgres|mysql|sqlite ...] [signals]`
//! prints a Markdown table per part (`signals`: that part only). Servers: the machine's PostgreSQL and MariaDB (override with
//! FINSTAGE_BENCH_POSTGRES_URL / FINSTAGE_BENCH_MYSQL_URL, server URLs with any database name);
//! each backend gets a fresh database, dropped afterwards. SQLite: a file in a temporary
//! directory.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection};
use finstage_domain::{Bar, Symbol};
use finstage_store::{Backend, DatabaseUrl, NewSignal, Store, StoreConfig};
use rand::{Rng, SeedableRng};

const SYMBOLS: usize = 100;
const BARS: usize = 2_520;
const RANGE_QUERIES: usize = 2_000;
const SIGNALS: usize = 4_900;

struct Row {
    backend: Backend,
    bulk_insert: f64,
    bulk_update: f64,
    row_by_row: f64,
    range_p50: Duration,
    range_p99: Duration,
}

fn history(seed: u64) -> Vec<(Symbol, Vec<Bar>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let start = NaiveDate::from_ymd_opt(2014, 1, 1).expect("a date");
    (0..SYMBOLS)
        .map(|s| {
            let symbol = Symbol::parse(&format!("SYM{s:03}")).expect("a symbol");
            let mut close = 50.0 + s as f64;
            let bars = (0..BARS)
                .map(|d| {
                    let open = close;
                    close *= 1.0 + rng.random_range(-0.02..0.02);
                    let high = open.max(close) * (1.0 + rng.random_range(0.0..0.01));
                    let low = open.min(close) * (1.0 - rng.random_range(0.0..0.01));
                    let volume = rng.random_range(100_000..10_000_000);
                    Bar::new(start + chrono::Duration::days(d as i64), open, high, low, close, volume)
                        .and_then(|b| b.with_adj_close(close * 0.5))
                        .expect("a valid bar")
                })
                .collect();
            (symbol, bars)
        })
        .collect()
}

async fn admin(url: &DatabaseUrl, sql: &str) -> Result<(), String> {
    match url.backend() {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(url.expose_secret())
                .await
                .map_err(|e| e.to_string())?;
            conn.batch_execute(sql).await.map_err(|e| e.to_string())
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(url.expose_secret())
                .await
                .map_err(|e| e.to_string())?;
            conn.batch_execute(sql).await.map_err(|e| e.to_string())
        }
        Backend::Sqlite => Ok(()),
    }
}

/// A migrated store on a fresh database, and what to drop afterwards.
async fn fresh(backend: Backend, dir: &tempfile::TempDir, tag: &str) -> (Store, Option<(DatabaseUrl, String)>) {
    let (url, cleanup) = match backend {
        Backend::Sqlite => {
            let url: DatabaseUrl = format!("sqlite://{}", dir.path().join(format!("{tag}.db")).display())
                .parse()
                .expect("a sqlite URL");
            (url, None)
        }
        server => {
            let (var, default) = match server {
                Backend::Postgres => (
                    "FINSTAGE_BENCH_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/postgres",
                ),
                _ => ("FINSTAGE_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
            };
            let admin_url: DatabaseUrl = std::env::var(var)
                .unwrap_or_else(|_| default.to_owned())
                .parse()
                .expect("a server URL");
            let name = format!("finstage_bench_{tag}_{:08x}", rand::rng().random::<u32>());
            if let Err(e) = admin(&admin_url, &format!("CREATE DATABASE {name}")).await {
                panic!("{server} at {admin_url} is not reachable: {e}");
            }
            (admin_url.with_database(&name).expect("a URL"), Some((admin_url, name)))
        }
    };
    let mut config = StoreConfig::new(url);
    config.pool.max_size = 4;
    let store = Store::open(config).await.expect("the store opens");
    (store, cleanup)
}

async fn drop_database(cleanup: Option<(DatabaseUrl, String)>) {
    if let Some((admin_url, name)) = cleanup {
        let sql = match admin_url.backend() {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        if let Err(e) = admin(&admin_url, &sql).await {
            eprintln!("could not drop {name}: {e}");
        }
    }
}

async fn bench(backend: Backend, history: &[(Symbol, Vec<Bar>)]) -> Row {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rows = (SYMBOLS * BARS) as f64;
    let all: Vec<(Symbol, &[Bar])> = history.iter().map(|(s, b)| (*s, b.as_slice())).collect();

    // Bulk: best of three, each into a fresh, empty database, then the same rows again.
    let mut bulk_insert = f64::INFINITY;
    let mut bulk_update = f64::INFINITY;
    for run in 0..3 {
        let (store, cleanup) = fresh(backend, &dir, &format!("bulk{run}")).await;
        let start = Instant::now();
        store.daily_bars().upsert_many(&all).await.expect("bulk upsert");
        bulk_insert = bulk_insert.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        store.daily_bars().upsert_many(&all).await.expect("bulk upsert again");
        bulk_update = bulk_update.min(start.elapsed().as_secs_f64());
        let (symbol, _) = &history[0];
        assert_eq!(store.daily_bars().count(symbol).await.expect("count"), BARS as u64);
        drop(store);
        drop_database(cleanup).await;
    }

    // Row by row, a commit each, over one symbol's 2,520 bars.
    let (store, cleanup) = fresh(backend, &dir, "rows").await;
    let (symbol, bars) = &history[0];
    let start = Instant::now();
    for bar in bars {
        store
            .daily_bars()
            .upsert(symbol, std::slice::from_ref(bar))
            .await
            .expect("one row");
    }
    let row_by_row = BARS as f64 / start.elapsed().as_secs_f64();

    // Ten-year range queries over the full table.
    store.daily_bars().upsert_many(&all).await.expect("bulk upsert");
    let (from, to) = (
        bars[0].time().to_utc().date_naive(),
        bars[BARS - 1].time().to_utc().date_naive(),
    );
    let mut latencies = Vec::with_capacity(RANGE_QUERIES);
    for i in 0..RANGE_QUERIES + 100 {
        let (symbol, _) = &history[i % SYMBOLS];
        let start = Instant::now();
        let got = store.daily_bars().range(symbol, from, to).await.expect("range");
        let elapsed = start.elapsed();
        assert_eq!(got.len(), BARS);
        if i >= 100 {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    drop(store);
    drop_database(cleanup).await;
    Row {
        backend,
        bulk_insert: rows / bulk_insert,
        bulk_update: rows / bulk_update,
        row_by_row,
        range_p50: percentile(0.50),
        range_p99: percentile(0.99),
    }
}

/// One symbol's ten years of signals: about two a trading day, of a dozen kinds, with a few
/// indicator values each (as `finstage-analysis` writes them).
fn signals(seed: u64) -> Vec<NewSignal> {
    const KINDS: [&str; 12] = [
        "ma_breakout_20",
        "ma_breakdown_20",
        "ma_breakout_50",
        "ma_breakdown_50",
        "prev_high_break",
        "prev_low_break",
        "rsi_oversold",
        "rsi_overbought",
        "macd_cross_up",
        "macd_cross_down",
        "bb_upper_break",
        "bb_lower_break",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let symbol = Symbol::parse("SIG000").expect("a symbol");
    let start = NaiveDate::from_ymd_opt(2014, 1, 1)
        .expect("a date")
        .and_hms_opt(0, 0, 0)
        .expect("a time")
        .and_utc();
    (0..SIGNALS)
        .map(|i| {
            let price = 50.0 + rng.random_range(0.0..100.0);
            NewSignal {
                symbol,
                kind: KINDS[i % KINDS.len()].to_owned(),
                timeframe: "1d".to_owned(),
                // Two or three a day over 2,520 days, in time order as the pipeline finds them.
                triggered_at: start + chrono::Duration::days((i * BARS / SIGNALS) as i64),
                price,
                values: serde_json::json!({
                    "close": price,
                    "sma": price * rng.random_range(0.95..1.05),
                    "rsi": rng.random_range(0.0..100.0),
                }),
            }
        })
        .collect()
}

struct SignalRow {
    backend: Backend,
    bulk_new: f64,
    bulk_again: f64,
    one_by_one: f64,
}

async fn bench_signals(backend: Backend, signals: &[NewSignal]) -> SignalRow {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let n = signals.len() as f64;
    let (mut bulk_new, mut bulk_again, mut one_by_one) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for run in 0..3 {
        let (store, cleanup) = fresh(backend, &dir, &format!("signals{run}")).await;
        let start = Instant::now();
        let stored = store.signals().insert_many(signals).await.expect("insert_many");
        bulk_new = bulk_new.min(start.elapsed().as_secs_f64());
        assert!(stored.iter().all(|(_, inserted)| *inserted));
        let start = Instant::now();
        let again = store.signals().insert_many(signals).await.expect("insert_many again");
        bulk_again = bulk_again.min(start.elapsed().as_secs_f64());
        assert!(again.iter().all(|(_, inserted)| !*inserted));
        drop(store);
        drop_database(cleanup).await;

        let (store, cleanup) = fresh(backend, &dir, &format!("signal_rows{run}")).await;
        let start = Instant::now();
        for signal in signals {
            store.signals().insert(signal).await.expect("insert");
        }
        one_by_one = one_by_one.min(start.elapsed().as_secs_f64());
        drop(store);
        drop_database(cleanup).await;
    }
    SignalRow {
        backend,
        bulk_new: n / bulk_new,
        bulk_again: n / bulk_again,
        one_by_one: n / one_by_one,
    }
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let only_signals = wanted.iter().any(|w| w == "signals");
    let backends: Vec<Backend> = [Backend::Postgres, Backend::Mysql, Backend::Sqlite]
        .into_iter()
        .filter(|b| wanted.iter().all(|w| w == "signals") || wanted.iter().any(|w| w == b.name()))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if !only_signals {
        let history = history(20_261_122);
        println!(
            "| Backend | bulk upsert, new rows (rows/s) | bulk upsert, same rows again (rows/s) | row by row, commit each (rows/s) | bulk / row by row | 10-year range p50 | p99 |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for &backend in &backends {
            let row = runtime.block_on(bench(backend, &history));
            println!(
                "| {} | {:.0} | {:.0} | {:.0} | {:.0}× | {:.2} ms | {:.2} ms |",
                row.backend,
                row.bulk_insert,
                row.bulk_update,
                row.row_by_row,
                row.bulk_insert.min(row.bulk_update) / row.row_by_row,
                row.range_p50.as_secs_f64() * 1e3,
                row.range_p99.as_secs_f64() * 1e3,
            );
        }
        println!();
    }
    let signals = signals(20_261_206);
    println!(
        "| Backend | signals insert_many, new (signals/s) | insert_many, same signals again (signals/s) | insert one at a time (signals/s) | insert_many / one at a time |"
    );
    println!("|---|---:|---:|---:|---:|");
    for &backend in &backends {
        let row = runtime.block_on(bench_signals(backend, &signals));
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0}× |",
            row.backend,
            row.bulk_new,
            row.bulk_again,
            row.one_by_one,
            row.bulk_new / row.one_by_one,
        );
    }
}
