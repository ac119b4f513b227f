//! The `intraday_bars` table.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use finstage_domain::{Bar, BarTime, Interval, Symbol};

use crate::error::StoreError;
use crate::repo::bars::UpsertSummary;
use crate::repo::{Exec, MysqlValues, db_time, utc};
use crate::schema::intraday_bars;
use crate::store::{Conn, ConnMut};

/// Intraday bars (`1m`, `5m`, `15m`, `1h`) of every symbol, one per symbol, interval and start
/// time.
pub struct IntradayBars<'a> {
    pub(crate) exec: Exec<'a>,
}

#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = intraday_bars)]
struct IntradayRow {
    symbol: String,
    bar_interval: String,
    ts: NaiveDateTime,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: i64,
}

impl IntradayRow {
    fn new(symbol: &Symbol, interval: Interval, bar: &Bar) -> Result<Self, StoreError> {
        let BarTime::Timestamp(time) = bar.time() else {
            return Err(StoreError::InvalidInput(format!(
                "an intraday bar needs a timestamp, not the date {}",
                bar.time()
            )));
        };
        Ok(Self {
            symbol: symbol.as_str().to_owned(),
            bar_interval: interval.as_str().to_owned(),
            ts: db_time(time),
            open: bar.open(),
            high: bar.high(),
            low: bar.low(),
            close: bar.close(),
            volume: i64::try_from(bar.volume())
                .map_err(|_| StoreError::InvalidInput(format!("volume {} exceeds a BIGINT", bar.volume())))?,
        })
    }

    fn into_bar(self) -> Result<Bar, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "intraday_bars",
            message,
        };
        let volume = u64::try_from(self.volume).map_err(|_| invalid(format!("negative volume {}", self.volume)))?;
        Bar::new(utc(self.ts), self.open, self.high, self.low, self.close, volume).map_err(|e| invalid(e.to_string()))
    }
}

/// `Err(InvalidInput)` unless `interval` is shorter than a day.
fn check_intraday(interval: Interval) -> Result<(), StoreError> {
    if interval.is_intraday() {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "{interval} is not an intraday interval (1m, 5m, 15m or 1h); daily bars go to daily_bars"
        )))
    }
}

impl IntradayBars<'_> {
    /// Writes `bars` of `symbol` at `interval`: a new start time is inserted, an existing one is
    /// replaced by the new bar, and the same bars written again change nothing. Bars are sent in
    /// statements of `bulk_chunk_size` rows, all in one transaction (a savepoint inside the
    /// caller's). Within `bars`, the last bar of a start time wins. Times are stored to the
    /// microsecond; the adjusted close is not stored (intraday bars have none).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a daily or longer `interval`, a bar with a date instead
    /// of a timestamp, or a volume beyond a BIGINT (nothing is written);
    /// [`StoreError::Query`] from the database (nothing is written).
    pub async fn upsert(
        mut self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertSummary, StoreError> {
        check_intraday(interval)?;
        let mut rows: Vec<IntradayRow> = Vec::with_capacity(bars.len());
        let mut index: HashMap<NaiveDateTime, usize> = HashMap::with_capacity(bars.len());
        for bar in bars {
            let row = IntradayRow::new(symbol, interval, bar)?;
            match index.get(&row.ts) {
                Some(&at) => rows[at] = row,
                None => {
                    index.insert(row.ts, rows.len());
                    rows.push(row);
                }
            }
        }
        if rows.is_empty() {
            return Ok(UpsertSummary::default());
        }
        self.exec.transaction(async |conn| upsert_rows(conn, &rows).await).await
    }

    /// The bars of `symbol` at `interval` starting from `from` to `to` (both included), oldest
    /// first.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a daily or longer `interval`; [`StoreError::Query`]
    /// from the database; [`StoreError::InvalidRow`] for a stored row that is not a valid bar.
    pub async fn range(
        mut self,
        symbol: &Symbol,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Bar>, StoreError> {
        check_intraday(interval)?;
        let (from, to) = (db_time(from), db_time(to));
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<IntradayRow> = run!(conn, "intraday_bars.range", c => intraday_bars::table
            .select(IntradayRow::as_select())
            .filter(intraday_bars::symbol.eq(symbol.as_str()))
            .filter(intraday_bars::bar_interval.eq(interval.as_str()))
            .filter(intraday_bars::ts.between(from, to))
            .order(intraday_bars::ts.asc())
            .load(c)
            .await)?;
        rows.into_iter().map(IntradayRow::into_bar).collect()
    }

    /// The last `n` bars of `symbol` at `interval`, oldest first.
    ///
    /// # Errors
    /// As [`range`](Self::range).
    pub async fn latest(mut self, symbol: &Symbol, interval: Interval, n: u32) -> Result<Vec<Bar>, StoreError> {
        check_intraday(interval)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<IntradayRow> = run!(conn, "intraday_bars.latest", c => intraday_bars::table
            .select(IntradayRow::as_select())
            .filter(intraday_bars::symbol.eq(symbol.as_str()))
            .filter(intraday_bars::bar_interval.eq(interval.as_str()))
            .order(intraday_bars::ts.desc())
            .limit(i64::from(n))
            .load(c)
            .await)?;
        let mut bars = rows
            .into_iter()
            .map(IntradayRow::into_bar)
            .collect::<Result<Vec<_>, _>>()?;
        bars.reverse();
        Ok(bars)
    }

    /// Deletes the bars of every symbol and interval that start before `before`; returns how
    /// many. Daily bars are another table and are kept for good.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(intraday_bars::table.filter(intraday_bars::ts.lt(db_time(before))));
        let n = run!(conn, "intraday.prune", c => delete.execute(c).await)?;
        Ok(n as u64)
    }
}

/// The upsert statements, chunk by chunk, on `conn`.
async fn upsert_rows(conn: &mut Conn, rows: &[IntradayRow]) -> Result<UpsertSummary, StoreError> {
    const OP: &str = "intraday_bars.upsert";
    use intraday_bars::dsl::{bar_interval, close, high, low, open, symbol, ts, volume};
    let chunk_size = conn.store().settings().bulk_chunk_size;
    let mut summary = UpsertSummary::default();
    for chunk in rows.chunks(chunk_size) {
        let changes = (
            open.eq(excluded(open)),
            high.eq(excluded(high)),
            low.eq(excluded(low)),
            close.eq(excluded(close)),
            volume.eq(excluded(volume)),
        );
        let timer = conn.timer(OP);
        let result = match conn.as_mut() {
            ConnMut::Postgres(c) => {
                diesel::insert_into(intraday_bars::table)
                    .values(chunk)
                    .on_conflict((symbol, bar_interval, ts))
                    .do_update()
                    .set(changes)
                    .execute(c)
                    .await
            }
            ConnMut::Sqlite(c) => {
                // diesel has no single-statement batch upsert for SQLite: one statement per row,
                // prepared once, the whole chunk in one trip to the connection's thread.
                let owned = chunk.to_vec();
                c.spawn_blocking(move |sqlite| {
                    let mut written = 0;
                    for row in &owned {
                        written += diesel::RunQueryDsl::execute(
                            diesel::insert_into(intraday_bars::table)
                                .values(row)
                                .on_conflict((symbol, bar_interval, ts))
                                .do_update()
                                .set(changes),
                            sqlite,
                        )?;
                    }
                    Ok(written)
                })
                .await
            }
            ConnMut::Mysql(c) => {
                diesel::insert_into(intraday_bars::table)
                    .values(chunk)
                    .on_conflict(diesel::dsl::DuplicatedKeys)
                    .do_update()
                    .set((
                        open.eq(MysqlValues(open)),
                        high.eq(MysqlValues(high)),
                        low.eq(MysqlValues(low)),
                        close.eq(MysqlValues(close)),
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
