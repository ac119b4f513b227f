//! The `signals` table: trading signals, inserted once per (symbol, kind, timeframe, time) and
//! listed newest first with keyset pagination.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use finstage_domain::Symbol;

use crate::error::{QueryErrorKind, StoreError};
use crate::repo::{Exec, db_now, db_time, utc};
use crate::schema::{signal_outcomes, signals};

/// Trading signals.
pub struct Signals<'a> {
    pub(crate) exec: Exec<'a>,
}

/// The longest `kind`, in characters (`[a-z0-9_]`).
pub const SIGNAL_KIND_MAX_LEN: usize = 48;
/// The longest `timeframe`, in characters (printable ASCII, no spaces).
pub const SIGNAL_TIMEFRAME_MAX_LEN: usize = 8;
/// The longest `values` as JSON text, in bytes (MySQL's `TEXT`).
pub const SIGNAL_VALUES_MAX_BYTES: usize = 65_535;
/// The most signals one page holds.
pub const SIGNAL_PAGE_MAX: u32 = 1_000;

/// A signal to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSignal {
    /// The symbol it fired on.
    pub symbol: Symbol,
    /// What fired, e.g. `rsi_oversold`: 1 to 48 characters of `[a-z0-9_]`.
    pub kind: String,
    /// The bars it was computed on, e.g. `1d`: 1 to 8 printable ASCII characters, no spaces.
    pub timeframe: String,
    /// When it fired (stored to the microsecond).
    pub triggered_at: DateTime<Utc>,
    /// The price then (finite).
    pub price: f64,
    /// The indicator values behind it (stored as JSON text, at most 65,535 bytes).
    pub values: serde_json::Value,
}

/// A stored signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Its id.
    pub id: i64,
    /// The symbol it fired on.
    pub symbol: Symbol,
    /// What fired.
    pub kind: String,
    /// The bars it was computed on.
    pub timeframe: String,
    /// When it fired.
    pub triggered_at: DateTime<Utc>,
    /// The price then.
    pub price: f64,
    /// The indicator values behind it.
    pub values: serde_json::Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl Signal {
    /// The cursor of a page that ends with this signal: the next page starts after it.
    pub fn cursor(&self) -> SignalCursor {
        SignalCursor {
            triggered_at: db_time(self.triggered_at),
            id: self.id,
        }
    }
}

/// Which signals [`Signals::list`] returns; every field left `None` matches all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalFilter {
    /// Only this symbol's.
    pub symbol: Option<Symbol>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this timeframe.
    pub timeframe: Option<String>,
    /// Only those triggered at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only those triggered before this time (excluded).
    pub until: Option<DateTime<Utc>>,
}

/// One page to fetch: up to `limit` signals after the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// The most signals to return, 1 to 1,000.
    pub limit: u32,
    /// Where the previous page ended (`None` for the first page).
    pub after: Option<SignalCursor>,
}

/// One page of signals, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalPage {
    /// The signals.
    pub items: Vec<Signal>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<SignalCursor>,
}

/// Where a page of signals ended: the position (time, id) of its last signal.
///
/// Opaque to clients: it travels as a short string ([`Display`](fmt::Display) and
/// [`FromStr`] round trip); parsing a string that no cursor printed is
/// [`StoreError::InvalidInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalCursor {
    triggered_at: NaiveDateTime,
    id: i64,
}

impl fmt::Display for SignalCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.triggered_at.and_utc().timestamp_micros().cast_unsigned();
        write!(f, "{micros:x}.{:x}", self.id.cast_unsigned())
    }
}

impl FromStr for SignalCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let malformed = || StoreError::InvalidInput("malformed signal cursor".into());
        // Lower-case hex without leading zeros: the one form `Display` writes.
        let part = |p: &str| -> Result<i64, StoreError> {
            let canonical = (1..=16).contains(&p.len())
                && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && (p == "0" || !p.starts_with('0'));
            if !canonical {
                return Err(malformed());
            }
            u64::from_str_radix(p, 16)
                .map(u64::cast_signed)
                .map_err(|_| malformed())
        };
        let (time, id) = s.split_once('.').ok_or_else(malformed)?;
        let (micros, id) = (part(time)?, part(id)?);
        let triggered_at = DateTime::from_timestamp_micros(micros)
            .ok_or_else(malformed)?
            .naive_utc();
        if id < 1 {
            return Err(malformed());
        }
        Ok(Self { triggered_at, id })
    }
}

#[derive(Insertable)]
#[diesel(table_name = signals)]
struct NewSignalRow<'a> {
    symbol: &'a str,
    kind: &'a str,
    timeframe: &'a str,
    triggered_at: NaiveDateTime,
    price: f64,
    values_json: String,
    created_at: NaiveDateTime,
}

/// A signal as stored (also read by the outcomes' `pending`).
#[derive(Queryable, Selectable)]
#[diesel(table_name = signals)]
pub(crate) struct SignalRow {
    id: i64,
    symbol: String,
    kind: String,
    timeframe: String,
    triggered_at: NaiveDateTime,
    price: f64,
    values_json: String,
    created_at: NaiveDateTime,
}

impl SignalRow {
    pub(crate) fn into_signal(self) -> Result<Signal, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "signals",
            message,
        };
        Ok(Signal {
            id: self.id,
            symbol: Symbol::parse(&self.symbol).map_err(|e| invalid(e.to_string()))?,
            kind: self.kind,
            timeframe: self.timeframe,
            triggered_at: utc(self.triggered_at),
            price: self.price,
            values: serde_json::from_str(&self.values_json)
                .map_err(|e| invalid(format!("values_json of signal {} is not JSON: {e}", self.id)))?,
            created_at: utc(self.created_at),
        })
    }
}

/// `Err(InvalidInput)` unless `kind` is 1 to 48 characters of `[a-z0-9_]`.
fn check_kind(kind: &str) -> Result<(), StoreError> {
    let valid = (1..=SIGNAL_KIND_MAX_LEN).contains(&kind.len())
        && kind.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "a signal kind is 1 to {SIGNAL_KIND_MAX_LEN} characters of [a-z0-9_], not {:?}",
            kind.chars().take(SIGNAL_KIND_MAX_LEN + 1).collect::<String>()
        )))
    }
}

/// `Err(InvalidInput)` unless `timeframe` is 1 to 8 printable ASCII characters without spaces.
fn check_timeframe(timeframe: &str) -> Result<(), StoreError> {
    let valid =
        (1..=SIGNAL_TIMEFRAME_MAX_LEN).contains(&timeframe.len()) && timeframe.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "a signal timeframe is 1 to {SIGNAL_TIMEFRAME_MAX_LEN} printable ASCII characters, not {:?}",
            timeframe.chars().take(SIGNAL_TIMEFRAME_MAX_LEN + 1).collect::<String>()
        )))
    }
}

impl Signals<'_> {
    /// Stores `signal` unless a signal with the same symbol, kind, timeframe and time exists:
    /// returns the id of the stored signal and whether this call inserted it (an existing
    /// signal is left as it is). A new signal gets an empty, not completed outcome in the same
    /// transaction. Safe to repeat and to run concurrently.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a kind that is not 1 to 48 characters of `[a-z0-9_]`,
    /// a timeframe that is not 1 to 8 printable ASCII characters, a price that is not finite,
    /// or values longer than 65,535 bytes as JSON; [`StoreError::Query`] from the database.
    pub async fn insert(mut self, signal: &NewSignal) -> Result<(i64, bool), StoreError> {
        const OP: &str = "signals.insert";
        check_kind(&signal.kind)?;
        check_timeframe(&signal.timeframe)?;
        if !signal.price.is_finite() {
            return Err(StoreError::InvalidInput(format!(
                "a signal's price must be finite, not {}",
                signal.price
            )));
        }
        let values_json = serde_json::to_string(&signal.values)
            .map_err(|e| StoreError::InvalidInput(format!("signal values: {e}")))?;
        if values_json.len() > SIGNAL_VALUES_MAX_BYTES {
            return Err(StoreError::InvalidInput(format!(
                "signal values are {} bytes as JSON, more than {SIGNAL_VALUES_MAX_BYTES}",
                values_json.len()
            )));
        }
        let row = NewSignalRow {
            symbol: signal.symbol.as_str(),
            kind: &signal.kind,
            timeframe: &signal.timeframe,
            triggered_at: db_time(signal.triggered_at),
            price: signal.price,
            values_json,
            created_at: db_now(),
        };
        // The signal and its (empty) outcome row together: `outcomes().pending()` then finds
        // the signals to follow up through an index on the outcomes alone. A transaction of our
        // own that the server chose as a deadlock victim is tried again.
        let mut attempt = 0;
        loop {
            let result = self.exec.transaction(async |conn| {
                // Duplicates of the unique key are skipped (MySQL: INSERT IGNORE, whose count is
                // 0 for a duplicate even with CLIENT_FOUND_ROWS; the values are checked above, so
                // IGNORE has nothing else to hide).
                let inserted = run_each!(conn, OP,
                    postgres c => diesel::insert_into(signals::table).values(&row).on_conflict_do_nothing().execute(c).await,
                    mysql c => diesel::insert_or_ignore_into(signals::table).values(&row).execute(c).await,
                    sqlite c => diesel::insert_into(signals::table).values(&row).on_conflict_do_nothing().execute(c).await,
                )? == 1;
                let by_key = signals::table
                    .select(signals::id)
                    .filter(signals::symbol.eq(row.symbol))
                    .filter(signals::kind.eq(row.kind))
                    .filter(signals::timeframe.eq(row.timeframe))
                    .filter(signals::triggered_at.eq(row.triggered_at));
                // On MySQL a duplicate INSERT IGNORE waited for the other insert to commit, so a
                // plain read sees its row, unless the caller's transaction took its snapshot
                // earlier: then a locking read, which sees the latest committed row. (Locking
                // first would make concurrent inserts of one key upgrade their shared locks into
                // a deadlock.)
                let id: i64 = match run_each!(conn, OP,
                    postgres c => by_key.first(c).await.optional(),
                    mysql c => by_key.first(c).await.optional(),
                    sqlite c => by_key.first(c).await.optional(),
                )? {
                    Some(id) => id,
                    None => run_each!(conn, OP,
                        postgres c => by_key.first(c).await,
                        mysql c => by_key.for_update().first(c).await,
                        sqlite c => by_key.first(c).await,
                    )?,
                };
                if inserted {
                    let outcome = (
                        signal_outcomes::signal_id.eq(id),
                        signal_outcomes::completed.eq(false),
                        signal_outcomes::updated_at.eq(row.created_at),
                    );
                    run!(conn, OP, c => diesel::insert_into(signal_outcomes::table).values(outcome).execute(c).await)?;
                }
                Ok((id, inserted))
            })
            .await;
            match result {
                Err(e)
                    if e.query_kind() == Some(QueryErrorKind::Retryable)
                        && self.exec.owns_transaction()
                        && attempt < 3 =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The signal `id`, if it exists.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn get(mut self, id: i64) -> Result<Option<Signal>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<SignalRow> = run!(conn, "signals.get", c => signals::table
            .select(SignalRow::as_select())
            .filter(signals::id.eq(id))
            .first(c)
            .await
            .optional())?;
        row.map(SignalRow::into_signal).transpose()
    }

    /// Deletes the signal `id` and its outcome; `false` when it did not exist.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn delete(mut self, id: i64) -> Result<bool, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // The outcome goes with it: ON DELETE CASCADE (SQLite connections enforce foreign keys).
        let delete = diesel::delete(signals::table.filter(signals::id.eq(id)));
        let n = run!(conn, "signals.delete", c => delete.execute(c).await)?;
        Ok(n > 0)
    }

    /// One page of the signals matching `filter`, newest first (by time, then id), starting
    /// after `page.after`. Keyset pagination: each page is one index range scan, however deep,
    /// and signals inserted meanwhile neither repeat nor shift the following pages.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a limit outside 1 to 1,000 or a malformed kind or
    /// timeframe in the filter; [`StoreError::Query`] from the database;
    /// [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn list(mut self, filter: &SignalFilter, page: PageRequest) -> Result<SignalPage, StoreError> {
        if !(1..=SIGNAL_PAGE_MAX).contains(&page.limit) {
            return Err(StoreError::InvalidInput(format!(
                "a page holds 1 to {SIGNAL_PAGE_MAX} signals, not {}",
                page.limit
            )));
        }
        if let Some(kind) = &filter.kind {
            check_kind(kind)?;
        }
        if let Some(timeframe) = &filter.timeframe {
            check_timeframe(timeframe)?;
        }
        let symbol = filter.symbol.as_ref().map(Symbol::as_str);
        let kind = filter.kind.as_deref();
        let timeframe = filter.timeframe.as_deref();
        let since = filter.since.map(db_time);
        let until = filter.until.map(db_time);
        let after = page.after;
        // One more than asked: whether it comes back tells whether there is a next page.
        let fetch = i64::from(page.limit) + 1;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by signals_symbol_time (symbol, triggered_at, id) with a symbol, by
        // signals_time (triggered_at, id) without.
        let rows: Vec<SignalRow> = run!(conn, "signals.list", c => {
            let mut query = signals::table.select(SignalRow::as_select()).into_boxed();
            if let Some(symbol) = symbol {
                query = query.filter(signals::symbol.eq(symbol));
            }
            if let Some(kind) = kind {
                query = query.filter(signals::kind.eq(kind));
            }
            if let Some(timeframe) = timeframe {
                query = query.filter(signals::timeframe.eq(timeframe));
            }
            if let Some(since) = since {
                query = query.filter(signals::triggered_at.ge(since));
            }
            if let Some(until) = until {
                query = query.filter(signals::triggered_at.lt(until));
            }
            if let Some(after) = after {
                // (triggered_at, id) < (cursor): the first term bounds the index range.
                query = query
                    .filter(signals::triggered_at.le(after.triggered_at))
                    .filter(
                        signals::triggered_at
                            .lt(after.triggered_at)
                            .or(signals::id.lt(after.id)),
                    );
            }
            query
                .order((signals::triggered_at.desc(), signals::id.desc()))
                .limit(fetch)
                .load(c)
                .await
        })?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .into_iter()
            .take(page.limit as usize)
            .map(SignalRow::into_signal)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more { items.last().map(Signal::cursor) } else { None };
        Ok(SignalPage { items, next })
    }
}
