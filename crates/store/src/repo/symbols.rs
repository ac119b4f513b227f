//! The `symbols` table: the instruments Finstage follows.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use finstage_domain::{Category, Currency, Symbol};

use crate::error::StoreError;
use crate::repo::{Exec, MysqlValues, check_len, db_time, utc};
use crate::schema::symbols;

/// The symbols Finstage follows, one row per symbol.
pub struct Symbols<'a> {
    pub(crate) exec: Exec<'a>,
}

/// One followed symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolRecord {
    /// The ticker.
    pub symbol: Symbol,
    /// The instrument's name (at most 200 characters).
    pub name: Option<String>,
    /// The kind of instrument.
    pub category: Category,
    /// The currency its prices are in.
    pub currency: Option<Currency>,
    /// The exchange it trades on (at most 32 characters).
    pub exchange: Option<String>,
    /// The exchange's time zone, e.g. `America/New_York` (at most 64 characters).
    pub timezone: Option<String>,
    /// Whether it is on the watchlist.
    pub active: bool,
    /// When it was first added (stored to the microsecond).
    pub added_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = symbols, treat_none_as_default_value = false)]
struct SymbolRow {
    symbol: String,
    name: Option<String>,
    category: String,
    currency: Option<String>,
    exchange: Option<String>,
    timezone: Option<String>,
    active: bool,
    added_at: NaiveDateTime,
}

impl SymbolRow {
    fn new(record: &SymbolRecord) -> Result<Self, StoreError> {
        let optional = |what: &str, value: &Option<String>, max: usize| -> Result<Option<String>, StoreError> {
            if let Some(value) = value {
                check_len(what, value, max)?;
            }
            Ok(value.clone())
        };
        Ok(Self {
            symbol: record.symbol.as_str().to_owned(),
            name: optional("symbol name", &record.name, 200)?,
            category: record.category.as_str().to_owned(),
            currency: record.currency.map(|c| c.as_str().to_owned()),
            exchange: optional("exchange", &record.exchange, 32)?,
            timezone: optional("time zone", &record.timezone, 64)?,
            active: record.active,
            added_at: db_time(record.added_at),
        })
    }

    fn into_record(self) -> Result<SymbolRecord, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "symbols",
            message,
        };
        Ok(SymbolRecord {
            symbol: Symbol::parse(&self.symbol).map_err(|e| invalid(e.to_string()))?,
            name: self.name,
            category: self
                .category
                .parse()
                .map_err(|e: finstage_domain::DomainError| invalid(e.to_string()))?,
            currency: self
                .currency
                .map(|c| Currency::parse(&c))
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            exchange: self.exchange,
            timezone: self.timezone,
            active: self.active,
            added_at: utc(self.added_at),
        })
    }
}

impl Symbols<'_> {
    /// Adds `record`, or updates the symbol's row: every field is replaced but `added_at`,
    /// which keeps the time the symbol was first added.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty or too long name, exchange or time zone;
    /// [`StoreError::Query`] from the database.
    pub async fn upsert(mut self, record: &SymbolRecord) -> Result<(), StoreError> {
        const OP: &str = "symbols.upsert";
        use symbols::dsl::{active, category, currency, exchange, name, symbol, timezone};
        let row = SymbolRow::new(record)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(symbols::table).values(&row);
        let changes = (
            name.eq(excluded(name)),
            category.eq(excluded(category)),
            currency.eq(excluded(currency)),
            exchange.eq(excluded(exchange)),
            timezone.eq(excluded(timezone)),
            active.eq(excluded(active)),
        );
        run_each!(conn, OP,
            postgres c => insert.on_conflict(symbol).do_update().set(changes).execute(c).await,
            mysql c => insert
                .on_conflict(diesel::dsl::DuplicatedKeys)
                .do_update()
                .set((
                    name.eq(MysqlValues(name)),
                    category.eq(MysqlValues(category)),
                    currency.eq(MysqlValues(currency)),
                    exchange.eq(MysqlValues(exchange)),
                    timezone.eq(MysqlValues(timezone)),
                    active.eq(MysqlValues(active)),
                ))
                .execute(c)
                .await,
            sqlite c => insert.on_conflict(symbol).do_update().set(changes).execute(c).await,
        )
        .map(drop)
    }

    /// The row of `symbol`, if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn get(mut self, symbol: &Symbol) -> Result<Option<SymbolRecord>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<SymbolRow> = run!(conn, "symbols.get", c => symbols::table
            .select(SymbolRow::as_select())
            .filter(symbols::symbol.eq(symbol.as_str()))
            .first(c)
            .await
            .optional())?;
        row.map(SymbolRow::into_record).transpose()
    }

    /// The active symbols (the watchlist), ordered by symbol.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn active(mut self) -> Result<Vec<SymbolRecord>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by the index symbols_active (active, symbol).
        let rows: Vec<SymbolRow> = run!(conn, "symbols.active", c => symbols::table
            .select(SymbolRow::as_select())
            .filter(symbols::active.eq(true))
            .order(symbols::symbol.asc())
            .load(c)
            .await)?;
        rows.into_iter().map(SymbolRow::into_record).collect()
    }

    /// Puts `symbol` on the watchlist or takes it off; `false` when the symbol has no row.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn set_active(mut self, symbol: &Symbol, active: bool) -> Result<bool, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let update =
            diesel::update(symbols::table.filter(symbols::symbol.eq(symbol.as_str()))).set(symbols::active.eq(active));
        // MySQL connections report matched rows (CLIENT_FOUND_ROWS), so an unchanged row counts.
        let n = run!(conn, "symbols.set_active", c => update.execute(c).await)?;
        Ok(n > 0)
    }

    /// Deletes the row of `symbol`; `false` when it had none. Its bars, quotes and signals are
    /// kept.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn remove(mut self, symbol: &Symbol) -> Result<bool, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(symbols::table.filter(symbols::symbol.eq(symbol.as_str())));
        let n = run!(conn, "symbols.remove", c => delete.execute(c).await)?;
        Ok(n > 0)
    }
}
