//! The `quotes_latest` table: the latest quote of each symbol.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use finstage_domain::{Quote, Symbol};

use crate::error::StoreError;
use crate::repo::{Exec, MysqlValues, db_now, db_time, utc};
use crate::schema::quotes_latest;

/// The latest quote of each symbol, one row per symbol.
pub struct Quotes<'a> {
    pub(crate) exec: Exec<'a>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = quotes_latest, treat_none_as_default_value = false)]
struct QuoteRow {
    symbol: String,
    price: f64,
    previous_close: Option<f64>,
    open: Option<f64>,
    day_high: Option<f64>,
    day_low: Option<f64>,
    volume: Option<i64>,
    currency: Option<String>,
    quoted_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl QuoteRow {
    fn new(quote: &Quote) -> Result<Self, StoreError> {
        let volume = quote
            .volume()
            .map(|v| i64::try_from(v).map_err(|_| StoreError::InvalidInput(format!("volume {v} exceeds a BIGINT"))))
            .transpose()?;
        Ok(Self {
            symbol: quote.symbol().as_str().to_owned(),
            price: quote.price(),
            previous_close: quote.previous_close(),
            open: quote.open(),
            day_high: quote.day_high(),
            day_low: quote.day_low(),
            volume,
            currency: quote.currency().map(|c| c.as_str().to_owned()),
            quoted_at: db_time(quote.time()),
            updated_at: db_now(),
        })
    }

    fn into_quote(self) -> Result<Quote, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "quotes_latest",
            message,
        };
        let domain = |e: finstage_domain::DomainError| invalid(e.to_string());
        let symbol = Symbol::parse(&self.symbol).map_err(domain)?;
        let mut quote = Quote::new(symbol, self.price, utc(self.quoted_at)).map_err(domain)?;
        if let Some(previous_close) = self.previous_close {
            quote = quote.with_previous_close(previous_close).map_err(domain)?;
        }
        if let Some(open) = self.open {
            quote = quote.with_open(open).map_err(domain)?;
        }
        match (self.day_low, self.day_high) {
            (Some(low), Some(high)) => quote = quote.with_day_range(low, high).map_err(domain)?,
            (None, None) => {}
            _ => return Err(invalid("day_low and day_high must be both set or both empty".into())),
        }
        if let Some(volume) = self.volume {
            let volume = u64::try_from(volume).map_err(|_| invalid(format!("negative volume {volume}")))?;
            quote = quote.with_volume(volume).map_err(domain)?;
        }
        if let Some(currency) = &self.currency {
            quote = quote.with_currency(currency).map_err(domain)?;
        }
        Ok(quote)
    }
}

impl Quotes<'_> {
    /// Stores `quote` as its symbol's latest, unless the stored quote is newer: a quote
    /// replaces the row when its time is at or after the stored quote's time, and an older
    /// quote arriving late changes nothing. `updated_at` is set to now when the row is written.
    /// Times are stored to the microsecond.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a volume beyond a BIGINT; [`StoreError::Query`] from
    /// the database.
    pub async fn upsert(mut self, quote: &Quote) -> Result<(), StoreError> {
        const OP: &str = "quotes.upsert";
        use quotes_latest::dsl::{
            currency, day_high, day_low, open, previous_close, price, quoted_at, symbol, updated_at, volume,
        };
        let row = QuoteRow::new(quote)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(quotes_latest::table).values(&row);
        let changes = (
            price.eq(excluded(price)),
            previous_close.eq(excluded(previous_close)),
            open.eq(excluded(open)),
            day_high.eq(excluded(day_high)),
            day_low.eq(excluded(day_low)),
            volume.eq(excluded(volume)),
            currency.eq(excluded(currency)),
            quoted_at.eq(excluded(quoted_at)),
            updated_at.eq(excluded(updated_at)),
        );
        // PostgreSQL and SQLite: ON CONFLICT .. DO UPDATE .. WHERE, the stored row is replaced
        // only by a quote at least as new.
        let upsert = diesel::query_dsl::methods::FilterDsl::filter(
            insert.on_conflict(symbol).do_update().set(changes),
            quoted_at.le(excluded(quoted_at)),
        );
        // MySQL has no WHERE on its upsert: each column keeps its value unless the new quote is
        // at least as new, and `quoted_at` is assigned last (MySQL assigns left to right, so the
        // conditions before it still see the stored time).
        macro_rules! if_newer {
            ($column:expr, $sql_type:ty) => {
                $column.eq(
                    case_when::<_, _, $sql_type>(MysqlValues(quoted_at).ge(quoted_at), MysqlValues($column))
                        .otherwise($column),
                )
            };
        }
        run_each!(conn, OP,
            postgres c => upsert.execute(c).await,
            mysql c => insert
                .on_conflict(diesel::dsl::DuplicatedKeys)
                .do_update()
                .set((
                    if_newer!(price, Double),
                    if_newer!(previous_close, Nullable<Double>),
                    if_newer!(open, Nullable<Double>),
                    if_newer!(day_high, Nullable<Double>),
                    if_newer!(day_low, Nullable<Double>),
                    if_newer!(volume, Nullable<BigInt>),
                    if_newer!(currency, Nullable<Text>),
                    if_newer!(updated_at, Timestamp),
                    if_newer!(quoted_at, Timestamp),
                ))
                .execute(c)
                .await,
            sqlite c => upsert.execute(c).await,
        )
        .map(drop)
    }

    /// The latest quote of `symbol`, if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a stored row
    /// that is not a valid quote.
    pub async fn get(mut self, symbol: &Symbol) -> Result<Option<Quote>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<QuoteRow> = run!(conn, "quotes.get", c => quotes_latest::table
            .select(QuoteRow::as_select())
            .filter(quotes_latest::symbol.eq(symbol.as_str()))
            .first(c)
            .await
            .optional())?;
        row.map(QuoteRow::into_quote).transpose()
    }

    /// The latest quotes of those of `symbols` that have one, in one statement, in the order of
    /// `symbols` (a symbol given twice is returned once).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn many(mut self, symbols: &[Symbol]) -> Result<Vec<Quote>, StoreError> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<QuoteRow> = run!(conn, "quotes.many", c => quotes_latest::table
            .select(QuoteRow::as_select())
            .filter(quotes_latest::symbol.eq_any(&names))
            .load(c)
            .await)?;
        let mut by_symbol: HashMap<String, QuoteRow> = rows.into_iter().map(|row| (row.symbol.clone(), row)).collect();
        symbols
            .iter()
            .filter_map(|symbol| by_symbol.remove(symbol.as_str()))
            .map(QuoteRow::into_quote)
            .collect()
    }
}
