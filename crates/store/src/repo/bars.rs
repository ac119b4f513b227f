//! The `daily_bars` table.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Double, Nullable, Text};
use diesel_async::RunQueryDsl;
use finstage_domain::{Bar, Symbol};

use crate::error::StoreError;
use crate::repo::{Exec, MysqlValues};
use crate::schema::daily_bars;
use crate::store::{Conn, ConnMut};

/// Daily bars of every symbol, one per symbol and date.
pub struct DailyBars<'a> {
    pub(crate) exec: Exec<'a>,
}

/// One row, as stored.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = daily_bars, treat_none_as_default_value = false)]
pub(crate) struct BarRow {
    #[diesel(sql_type = Text)]
    pub(crate) symbol: String,
    #[diesel(sql_type = Date)]
    pub(crate) date: NaiveDate,
    #[diesel(sql_type = Double)]
    pub(crate) open: f64,
    #[diesel(sql_type = Double)]
    pub(crate) high: f64,
    #[diesel(sql_type = Double)]
    pub(crate) low: f64,
    #[diesel(sql_type = Double)]
    pub(crate) close: f64,
    #[diesel(sql_type = Nullable<Double>)]
    pub(crate) adj_close: Option<f64>,
    #[diesel(sql_type = BigInt)]
    pub(crate) volume: i64,
}

impl BarRow {
    fn new(symbol: &Symbol, bar: &Bar) -> Result<Self, StoreError> {
        Ok(Self {
            symbol: symbol.as_str().to_owned(),
            date: bar.time().to_utc().date_naive(),
            open: bar.open(),
            high: bar.high(),
            low: bar.low(),
            close: bar.close(),
            adj_close: bar.adj_close(),
            volume: i64::try_from(bar.volume())
                .map_err(|_| StoreError::InvalidInput(format!("volume {} exceeds a BIGINT", bar.volume())))?,
        })
    }

    fn into_bar(self) -> Result<(Symbol, Bar), StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "daily_bars",
            message,
        };
        let symbol = Symbol::parse(&self.symbol).map_err(|e| invalid(e.to_string()))?;
        let volume = u64::try_from(self.volume).map_err(|_| invalid(format!("negative volume {}", self.volume)))?;
        let mut bar = Bar::new(self.date, self.open, self.high, self.low, self.close, volume)
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(adj_close) = self.adj_close {
            bar = bar.with_adj_close(adj_close).map_err(|e| invalid(e.to_string()))?;
        }
        Ok((symbol, bar))
    }
}

/// A bar's values, without its symbol (which the query fixed).
#[derive(Queryable, Selectable)]
#[diesel(table_name = daily_bars)]
struct BarValues {
    date: NaiveDate,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    adj_close: Option<f64>,
    volume: i64,
}

impl BarValues {
    fn into_bar(self) -> Result<Bar, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "daily_bars",
            message,
        };
        let volume = u64::try_from(self.volume).map_err(|_| invalid(format!("negative volume {}", self.volume)))?;
        let bar = Bar::new(self.date, self.open, self.high, self.low, self.close, volume)
            .map_err(|e| invalid(e.to_string()))?;
        match self.adj_close {
            Some(adj_close) => bar.with_adj_close(adj_close).map_err(|e| invalid(e.to_string())),
            None => Ok(bar),
        }
    }
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertSummary {
    /// Bars written (inserted or replaced), after duplicates in the input were folded.
    pub rows: u64,
    /// Statements executed (chunks).
    pub statements: u64,
}

impl DailyBars<'_> {
    /// Writes `bars` of `symbol`: a new date is inserted, an existing date is replaced by the
    /// new bar (a corrected bar wins), and the same bars written again change nothing. Bars are
    /// sent in statements of `bulk_chunk_size` rows, all in one transaction (a savepoint when
    /// the caller's transaction is open). Within `bars`, the last bar of a date wins. A bar with
    /// a timestamp counts for its UTC date.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a volume beyond a BIGINT (nothing is written);
    /// [`StoreError::Query`] from the database (nothing is written).
    pub async fn upsert(self, symbol: &Symbol, bars: &[Bar]) -> Result<UpsertSummary, StoreError> {
        self.upsert_many(&[(*symbol, bars)]).await
    }

    /// [`upsert`](Self::upsert) for several symbols in one transaction.
    ///
    /// # Errors
    /// As [`upsert`](Self::upsert).
    pub async fn upsert_many(mut self, symbols: &[(Symbol, &[Bar])]) -> Result<UpsertSummary, StoreError> {
        let mut rows = Vec::with_capacity(symbols.iter().map(|(_, bars)| bars.len()).sum());
        for (symbol, bars) in symbols {
            for bar in *bars {
                rows.push(BarRow::new(symbol, bar)?);
            }
        }
        let rows = last_of_each_key(rows);
        if rows.is_empty() {
            return Ok(UpsertSummary::default());
        }
        self.exec.transaction(async |conn| upsert_rows(conn, &rows).await).await
    }

    /// The bars of `symbol` from `from` to `to` (both included), oldest first.
    ///
    /// # Errors
    /// [`StoreError`] from the database; [`StoreError::InvalidRow`] for a stored row that is not
    /// a valid bar.
    pub async fn range(mut self, symbol: &Symbol, from: NaiveDate, to: NaiveDate) -> Result<Vec<Bar>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<BarValues> = run!(conn, "daily_bars.range", c => daily_bars::table
            .select(BarValues::as_select())
            .filter(daily_bars::symbol.eq(symbol.as_str()))
            .filter(daily_bars::date.between(from, to))
            .order(daily_bars::date.asc())
            .load(c)
            .await)?;
        rows.into_iter().map(BarValues::into_bar).collect()
    }

    /// The last `n` bars of `symbol`, oldest first.
    ///
    /// # Errors
    /// As [`range`](Self::range).
    pub async fn latest(mut self, symbol: &Symbol, n: u32) -> Result<Vec<Bar>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<BarValues> = run!(conn, "daily_bars.latest", c => daily_bars::table
            .select(BarValues::as_select())
            .filter(daily_bars::symbol.eq(symbol.as_str()))
            .order(daily_bars::date.desc())
            .limit(i64::from(n))
            .load(c)
            .await)?;
        let mut bars = rows
            .into_iter()
            .map(BarValues::into_bar)
            .collect::<Result<Vec<_>, _>>()?;
        bars.reverse();
        Ok(bars)
    }

    /// The latest bar of each of `symbols` that has one, in one statement, in the order of
    /// `symbols`.
    ///
    /// # Errors
    /// As [`range`](Self::range).
    pub async fn latest_of_many(mut self, symbols: &[Symbol]) -> Result<Vec<(Symbol, Bar)>, StoreError> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows = latest_rows(conn, symbols).await?;
        let mut by_symbol: HashMap<String, BarRow> = rows.into_iter().map(|row| (row.symbol.clone(), row)).collect();
        symbols
            .iter()
            .filter_map(|symbol| by_symbol.remove(symbol.as_str()))
            .map(BarRow::into_bar)
            .collect()
    }

    /// How many bars `symbol` has.
    ///
    /// # Errors
    /// [`StoreError`] from the database.
    pub async fn count(mut self, symbol: &Symbol) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let query = daily_bars::table.filter(daily_bars::symbol.eq(symbol.as_str())).count();
        let n: i64 = run!(conn, "daily_bars.count", c => query.get_result(c).await)?;
        Ok(n.unsigned_abs())
    }

    /// The first and last date of `symbol`'s bars.
    ///
    /// # Errors
    /// [`StoreError`] from the database.
    pub async fn span(mut self, symbol: &Symbol) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let query = daily_bars::table
            .filter(daily_bars::symbol.eq(symbol.as_str()))
            .select((diesel::dsl::min(daily_bars::date), diesel::dsl::max(daily_bars::date)));
        let (first, last): (Option<NaiveDate>, Option<NaiveDate>) =
            run!(conn, "daily_bars.span", c => query.get_result(c).await)?;
        Ok(first.zip(last))
    }
}

impl DailyBars<'_> {
    /// The highest high of `symbol`'s bars dated before `before` (excluded), if any: the
    /// all-time high as it stood then. One range scan of the key.
    ///
    /// # Errors
    /// [`StoreError`] from the database.
    pub async fn max_high_before(mut self, symbol: &Symbol, before: NaiveDate) -> Result<Option<f64>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let query = daily_bars::table
            .filter(daily_bars::symbol.eq(symbol.as_str()))
            .filter(daily_bars::date.lt(before))
            .select(diesel::dsl::max(daily_bars::high));
        let high: Option<f64> = run!(conn, "daily_bars.max_high_before", c => query.get_result(c).await)?;
        Ok(high)
    }

    /// Up to `n` bars of `symbol` dated before `before` (excluded), oldest first: the bars a
    /// streaming computation warms up on.
    ///
    /// # Errors
    /// [`StoreError`] from the database; [`StoreError::InvalidRow`] for a stored row that is not
    /// a valid bar.
    pub async fn before(mut self, symbol: &Symbol, before: NaiveDate, n: u32) -> Result<Vec<Bar>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<BarValues> = run!(conn, "daily_bars.before", c => daily_bars::table
            .select(BarValues::as_select())
            .filter(daily_bars::symbol.eq(symbol.as_str()))
            .filter(daily_bars::date.lt(before))
            .order(daily_bars::date.desc())
            .limit(i64::from(n))
            .load(c)
            .await)?;
        let mut bars = rows
            .into_iter()
            .map(BarValues::into_bar)
            .collect::<Result<Vec<_>, _>>()?;
        bars.reverse();
        Ok(bars)
    }
}

/// The rows with duplicate keys folded, the last one of each key kept (in first-seen order).
fn last_of_each_key(rows: Vec<BarRow>) -> Vec<BarRow> {
    let mut index: HashMap<(String, NaiveDate), usize> = HashMap::with_capacity(rows.len());
    let mut kept: Vec<BarRow> = Vec::with_capacity(rows.len());
    for row in rows {
        match index.get(&(row.symbol.clone(), row.date)) {
            Some(&at) => kept[at] = row,
            None => {
                index.insert((row.symbol.clone(), row.date), kept.len());
                kept.push(row);
            }
        }
    }
    kept
}

/// The upsert statements, chunk by chunk, on `conn`.
async fn upsert_rows(conn: &mut Conn, rows: &[BarRow]) -> Result<UpsertSummary, StoreError> {
    const OP: &str = "daily_bars.upsert";
    let chunk_size = conn.store().settings().bulk_chunk_size;
    let mut summary = UpsertSummary::default();
    for chunk in rows.chunks(chunk_size) {
        use daily_bars::dsl::{adj_close, close, high, low, open, volume};
        let timer = conn.timer(OP);
        let result = match conn.as_mut() {
            ConnMut::Postgres(c) => {
                // One array per column: eight parameters whatever the chunk's size, so the
                // statement is parsed and planned once; rows whose values are unchanged are
                // not rewritten.
                let column = |f: fn(&BarRow) -> f64| chunk.iter().map(f).collect::<Vec<f64>>();
                diesel::sql_query(POSTGRES_UPSERT)
                    .bind::<Array<Text>, _>(chunk.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>())
                    .bind::<Array<Date>, _>(chunk.iter().map(|r| r.date).collect::<Vec<_>>())
                    .bind::<Array<Double>, _>(column(|r| r.open))
                    .bind::<Array<Double>, _>(column(|r| r.high))
                    .bind::<Array<Double>, _>(column(|r| r.low))
                    .bind::<Array<Double>, _>(column(|r| r.close))
                    .bind::<Array<Nullable<Double>>, _>(chunk.iter().map(|r| r.adj_close).collect::<Vec<_>>())
                    .bind::<Array<BigInt>, _>(chunk.iter().map(|r| r.volume).collect::<Vec<_>>())
                    .execute(c)
                    .await
            }
            ConnMut::Sqlite(c) => {
                // diesel has no batch upsert for SQLite and re-parses its one-row upsert each
                // time: a multi-row statement of our own, bound row by row, all of the chunk in
                // one trip to the connection's thread.
                let owned = chunk.to_vec();
                c.spawn_blocking(move |sqlite| sqlite_upsert(sqlite, &owned)).await
            }
            ConnMut::Mysql(c) => {
                diesel::insert_into(daily_bars::table)
                    .values(chunk)
                    .on_conflict(diesel::dsl::DuplicatedKeys)
                    .do_update()
                    .set((
                        open.eq(MysqlValues(open)),
                        high.eq(MysqlValues(high)),
                        low.eq(MysqlValues(low)),
                        close.eq(MysqlValues(close)),
                        adj_close.eq(MysqlValues(adj_close)),
                        volume.eq(MysqlValues(volume)),
                    ))
                    .execute(c)
                    .await
            }
        };
        timer.finish();
        result.map_err(|e| StoreError::query(OP, e))?;
        summary.rows += chunk.len() as u64;
        summary.statements += 1;
    }
    Ok(summary)
}

/// The PostgreSQL upsert: the rows arrive as one array per column.
const POSTGRES_UPSERT: &str = "INSERT INTO daily_bars (symbol, date, open, high, low, close, adj_close, volume) \
     SELECT * FROM unnest($1::text[], $2::date[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], \
     $7::float8[], $8::int8[]) \
     ON CONFLICT (symbol, date) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low, \
     close = excluded.close, adj_close = excluded.adj_close, volume = excluded.volume \
     WHERE (daily_bars.open, daily_bars.high, daily_bars.low, daily_bars.close, daily_bars.adj_close, daily_bars.volume) \
     IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.adj_close, excluded.volume)";

/// Rows per SQLite upsert statement: 8 parameters each, under SQLite's limit of 32,766.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// `rows` upserted into SQLite with multi-row statements (`INSERT … VALUES (…), (…) ON
/// CONFLICT … DO UPDATE`), on the connection's own thread.
fn sqlite_upsert(conn: &mut diesel::SqliteConnection, rows: &[BarRow]) -> QueryResult<usize> {
    let mut written = 0;
    for part in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(64 + part.len() * 20 + 200);
        sql.push_str("INSERT INTO daily_bars (symbol, date, open, high, low, close, adj_close, volume) VALUES ");
        for i in 0..part.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?, ?, ?)"
            });
        }
        sql.push_str(
            " ON CONFLICT (symbol, date) DO UPDATE SET open = excluded.open, high = excluded.high, \
             low = excluded.low, close = excluded.close, adj_close = excluded.adj_close, volume = excluded.volume \
             WHERE daily_bars.open IS NOT excluded.open OR daily_bars.high IS NOT excluded.high \
             OR daily_bars.low IS NOT excluded.low OR daily_bars.close IS NOT excluded.close \
             OR daily_bars.adj_close IS NOT excluded.adj_close OR daily_bars.volume IS NOT excluded.volume",
        );
        let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
        for row in part {
            query = query
                .bind::<Text, _>(row.symbol.as_str())
                .bind::<Date, _>(row.date)
                .bind::<Double, _>(row.open)
                .bind::<Double, _>(row.high)
                .bind::<Double, _>(row.low)
                .bind::<Double, _>(row.close)
                .bind::<Nullable<Double>, _>(row.adj_close)
                .bind::<BigInt, _>(row.volume);
        }
        written += diesel::RunQueryDsl::execute(query, conn)?;
    }
    Ok(written)
}

/// The latest row of each symbol, in one statement written for each backend's planner: a
/// lateral index lookup per symbol on PostgreSQL, a union of index lookups on MySQL, and
/// SQLite's min/max optimisation with bare columns.
async fn latest_rows(conn: &mut Conn, symbols: &[Symbol]) -> Result<Vec<BarRow>, StoreError> {
    const OP: &str = "daily_bars.latest_of_many";
    const COLUMNS: &str = "symbol, date, open, high, low, close, adj_close, volume";
    let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
    let timer = conn.timer(OP);
    let result = match conn.as_mut() {
        ConnMut::Postgres(c) => {
            let sql = format!(
                "SELECT b.{} FROM unnest($1::text[]) AS s(symbol) \
                 CROSS JOIN LATERAL (SELECT {COLUMNS} FROM daily_bars d WHERE d.symbol = s.symbol \
                 ORDER BY d.date DESC LIMIT 1) AS b",
                COLUMNS.replace(", ", ", b.")
            );
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Array<Text>, _>(&names)
                .load::<BarRow>(c)
                .await
        }
        ConnMut::Mysql(c) => {
            let branch = format!("(SELECT {COLUMNS} FROM daily_bars WHERE symbol = ? ORDER BY date DESC LIMIT 1)");
            let sql = vec![branch; names.len()].join(" UNION ALL ");
            let mut query = diesel::sql_query(sql).into_boxed();
            for name in &names {
                query = query.bind::<Text, _>(*name);
            }
            query.load::<BarRow>(c).await
        }
        ConnMut::Sqlite(c) => {
            let placeholders = vec!["?"; names.len()].join(", ");
            // SQLite takes the bare columns of a MAX() aggregate from the row holding the maximum.
            let sql = format!(
                "SELECT symbol, MAX(date) AS date, open, high, low, close, adj_close, volume \
                 FROM daily_bars WHERE symbol IN ({placeholders}) GROUP BY symbol"
            );
            let mut query = diesel::sql_query(sql).into_boxed();
            for name in &names {
                query = query.bind::<Text, _>(*name);
            }
            query.load::<BarRow>(c).await
        }
    };
    timer.finish();
    result.map_err(|e| StoreError::query(OP, e))
}
