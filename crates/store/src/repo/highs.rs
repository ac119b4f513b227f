//! The `price_high_records` and `price_high_history` tables: the all-time high of each symbol
//! and every new high in order.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use finstage_domain::Symbol;

use crate::error::StoreError;
use crate::repo::{Exec, MysqlValues, check_price, db_now, utc};
use crate::schema::{price_high_history, price_high_records};
use crate::store::Conn;

/// All-time highs: the record of each symbol, and the history of new highs.
pub struct Highs<'a> {
    pub(crate) exec: Exec<'a>,
}

/// The all-time high of a symbol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HighRecord {
    /// The highest price.
    pub high: f64,
    /// The day it was reached.
    pub date: NaiveDate,
    /// When the record was last written.
    pub updated_at: DateTime<Utc>,
}

/// A new all-time high, as [`Highs::record`] stored it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewHigh {
    /// The record it beat and that record's day (`None` for a symbol's first record).
    pub previous: Option<(f64, NaiveDate)>,
    /// The new high.
    pub high: f64,
    /// The day it was reached.
    pub date: NaiveDate,
}

#[derive(Insertable)]
#[diesel(table_name = price_high_records)]
struct RecordRow<'a> {
    symbol: &'a str,
    high: f64,
    high_date: NaiveDate,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = price_high_history, treat_none_as_default_value = false)]
struct HistoryRow<'a> {
    symbol: &'a str,
    date: NaiveDate,
    high: f64,
    previous_high: Option<f64>,
}

/// The high (any value not positive) of a record row that [`Highs::record`] has just created in its transaction, before
/// it writes the real value. Real highs are positive, and the row is locked (or, in SQLite,
/// the database is) until the transaction ends, so no other session ever reads it.
const PLACEHOLDER: f64 = -1.0;

impl Highs<'_> {
    /// Records `high`, reached on `date`, if it beats the stored all-time high of `symbol` (or
    /// the symbol has none): the record is updated and the history gains a row (a second new
    /// high on the same day replaces that day's high and keeps its previous high), all in one
    /// transaction, and the new high is returned. A high that does not exceed the record
    /// returns `None` and writes nothing.
    ///
    /// Safe under concurrency: the record row is locked (`SELECT … FOR UPDATE` on PostgreSQL
    /// and MySQL; SQLite has one writer) while it is compared and updated, so concurrent calls
    /// serialise and the highest value wins.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] unless `high` is finite and positive; [`StoreError::Query`]
    /// from the database (nothing is written).
    pub async fn record(mut self, symbol: &Symbol, date: NaiveDate, high: f64) -> Result<Option<NewHigh>, StoreError> {
        check_price("high", high)?;
        let symbol = symbol.as_str();
        self.exec
            .transaction(async |conn| record_in(conn, symbol, date, high).await)
            .await
    }

    /// The all-time high of `symbol`, if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn get(mut self, symbol: &Symbol) -> Result<Option<HighRecord>, StoreError> {
        use price_high_records::dsl;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<(f64, NaiveDate, NaiveDateTime)> = run!(conn, "highs.get", c => dsl::price_high_records
            .select((dsl::high, dsl::high_date, dsl::updated_at))
            .filter(dsl::symbol.eq(symbol.as_str()))
            .first(c)
            .await
            .optional())?;
        Ok(row.map(|(high, date, updated_at)| HighRecord {
            high,
            date,
            updated_at: utc(updated_at),
        }))
    }

    /// Every new high of `symbol` as `(date, high, previous high)`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn history(mut self, symbol: &Symbol) -> Result<Vec<(NaiveDate, f64, Option<f64>)>, StoreError> {
        use price_high_history::dsl;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        run!(conn, "highs.history", c => dsl::price_high_history
            .select((dsl::date, dsl::high, dsl::previous_high))
            .filter(dsl::symbol.eq(symbol.as_str()))
            .order(dsl::date.asc())
            .load(c)
            .await)
    }
}

/// [`Highs::record`] inside its transaction.
async fn record_in(conn: &mut Conn, symbol: &str, date: NaiveDate, high: f64) -> Result<Option<NewHigh>, StoreError> {
    use price_high_records::dsl as records;
    let now = db_now();
    // 1. Make sure the record row exists, as a placeholder when it is new. The statement
    //    writes nothing for an existing row; on MySQL (`ON DUPLICATE KEY UPDATE symbol = symbol`)
    //    it locks it, without the gap lock a locking read of a missing key takes, and in SQLite
    //    it takes the database's write lock before anything is read.
    let placeholder = RecordRow {
        symbol,
        high: PLACEHOLDER,
        high_date: date,
        updated_at: now,
    };
    let insert = diesel::insert_into(records::price_high_records).values(&placeholder);
    run!(conn, "highs.record", c => insert.on_conflict_do_nothing().execute(c).await)?;
    // 2. Read it, locked until the transaction ends.
    let (stored, stored_date): (f64, NaiveDate) = run_each!(conn, "highs.record",
        postgres c => records::price_high_records
            .select((records::high, records::high_date))
            .filter(records::symbol.eq(symbol))
            .for_update()
            .first(c)
            .await,
        mysql c => records::price_high_records
            .select((records::high, records::high_date))
            .filter(records::symbol.eq(symbol))
            .for_update()
            .first(c)
            .await,
        sqlite c => records::price_high_records
            .select((records::high, records::high_date))
            .filter(records::symbol.eq(symbol))
            .first(c)
            .await,
    )?;
    let previous = if stored <= 0.0 {
        None
    } else if high > stored {
        Some((stored, stored_date))
    } else {
        return Ok(None);
    };
    // 3. The new record, and its line in the history.
    let update = diesel::update(records::price_high_records.filter(records::symbol.eq(symbol))).set((
        records::high.eq(high),
        records::high_date.eq(date),
        records::updated_at.eq(now),
    ));
    run!(conn, "highs.record", c => update.execute(c).await)?;
    let line = HistoryRow {
        symbol,
        date,
        high,
        previous_high: previous.map(|(previous_high, _)| previous_high),
    };
    {
        use price_high_history::dsl as history;
        let insert = diesel::insert_into(history::price_high_history).values(&line);
        run_each!(conn, "highs.record",
            postgres c => insert
                .on_conflict((history::symbol, history::date))
                .do_update()
                .set(history::high.eq(excluded(history::high)))
                .execute(c)
                .await,
            mysql c => insert
                .on_conflict(diesel::dsl::DuplicatedKeys)
                .do_update()
                .set(history::high.eq(MysqlValues(history::high)))
                .execute(c)
                .await,
            sqlite c => insert
                .on_conflict((history::symbol, history::date))
                .do_update()
                .set(history::high.eq(excluded(history::high)))
                .execute(c)
                .await,
        )?;
    }
    Ok(Some(NewHigh { previous, high, date }))
}
