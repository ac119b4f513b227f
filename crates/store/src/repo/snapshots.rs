//! The `price_snapshots` table: the previous session's close, high and low, per symbol and day.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use finstage_domain::Symbol;

use crate::error::StoreError;
use crate::repo::{Exec, MysqlValues, check_price};
use crate::schema::price_snapshots;

/// The previous session's prices of each symbol, one row per symbol and day.
pub struct Snapshots<'a> {
    pub(crate) exec: Exec<'a>,
}

/// The previous session's prices, as seen on `date`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceSnapshot {
    /// The symbol.
    pub symbol: Symbol,
    /// The day the snapshot is for.
    pub date: NaiveDate,
    /// The previous session's close.
    pub previous_close: f64,
    /// The previous session's high.
    pub previous_high: f64,
    /// The previous session's low.
    pub previous_low: f64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = price_snapshots)]
struct SnapshotRow {
    symbol: String,
    date: NaiveDate,
    previous_close: f64,
    previous_high: f64,
    previous_low: f64,
}

impl SnapshotRow {
    fn into_snapshot(self) -> Result<PriceSnapshot, StoreError> {
        let symbol = Symbol::parse(&self.symbol).map_err(|e| StoreError::InvalidRow {
            table: "price_snapshots",
            message: e.to_string(),
        })?;
        Ok(PriceSnapshot {
            symbol,
            date: self.date,
            previous_close: self.previous_close,
            previous_high: self.previous_high,
            previous_low: self.previous_low,
        })
    }
}

impl Snapshots<'_> {
    /// Stores the snapshot of `symbol` for `date`, replacing the day's earlier one.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] unless the three prices are finite and positive with the
    /// low not above the high; [`StoreError::Query`] from the database.
    pub async fn upsert(
        mut self,
        symbol: &Symbol,
        date: NaiveDate,
        previous_close: f64,
        previous_high: f64,
        previous_low: f64,
    ) -> Result<(), StoreError> {
        use price_snapshots::dsl;
        check_price("previous close", previous_close)?;
        check_price("previous high", previous_high)?;
        check_price("previous low", previous_low)?;
        if previous_low > previous_high {
            return Err(StoreError::InvalidInput(format!(
                "previous low {previous_low} is above previous high {previous_high}"
            )));
        }
        let row = SnapshotRow {
            symbol: symbol.as_str().to_owned(),
            date,
            previous_close,
            previous_high,
            previous_low,
        };
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(dsl::price_snapshots).values(&row);
        let changes = (
            dsl::previous_close.eq(excluded(dsl::previous_close)),
            dsl::previous_high.eq(excluded(dsl::previous_high)),
            dsl::previous_low.eq(excluded(dsl::previous_low)),
        );
        run_each!(conn, "snapshots.upsert",
            postgres c => insert.on_conflict((dsl::symbol, dsl::date)).do_update().set(changes).execute(c).await,
            mysql c => insert
                .on_conflict(diesel::dsl::DuplicatedKeys)
                .do_update()
                .set((
                    dsl::previous_close.eq(MysqlValues(dsl::previous_close)),
                    dsl::previous_high.eq(MysqlValues(dsl::previous_high)),
                    dsl::previous_low.eq(MysqlValues(dsl::previous_low)),
                ))
                .execute(c)
                .await,
            sqlite c => insert.on_conflict((dsl::symbol, dsl::date)).do_update().set(changes).execute(c).await,
        )
        .map(drop)
    }

    /// The snapshot of `symbol` for `date`, if there is one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn get(mut self, symbol: &Symbol, date: NaiveDate) -> Result<Option<PriceSnapshot>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<SnapshotRow> = run!(conn, "snapshots.get", c => price_snapshots::table
            .select(SnapshotRow::as_select())
            .filter(price_snapshots::symbol.eq(symbol.as_str()))
            .filter(price_snapshots::date.eq(date))
            .first(c)
            .await
            .optional())?;
        row.map(SnapshotRow::into_snapshot).transpose()
    }

    /// The most recent snapshot of `symbol`, if it has any.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn latest(mut self, symbol: &Symbol) -> Result<Option<PriceSnapshot>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<SnapshotRow> = run!(conn, "snapshots.latest", c => price_snapshots::table
            .select(SnapshotRow::as_select())
            .filter(price_snapshots::symbol.eq(symbol.as_str()))
            .order(price_snapshots::date.desc())
            .first(c)
            .await
            .optional())?;
        row.map(SnapshotRow::into_snapshot).transpose()
    }
}
