//! The `signals` table: trading signals, inserted once per (symbol, kind, timeframe, time), one
//! at a time or in bulk, and listed newest first with keyset pagination.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Text, Timestamp};
use diesel_async::RunQueryDsl;
use finstage_domain::Symbol;

use crate::config::Backend;
use crate::error::{QueryErrorKind, StoreError};
use crate::repo::{Exec, db_now, db_time, utc};
use crate::schema::{signal_outcomes, signals};
use crate::store::Conn;

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
    pub(crate) triggered_at: NaiveDateTime,
    pub(crate) id: i64,
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

#[derive(Clone, Insertable)]
#[diesel(table_name = signals)]
struct NewSignalRow {
    symbol: String,
    kind: String,
    timeframe: String,
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

impl NewSignalRow {
    /// `signal` as a row, checked: `Err(InvalidInput)` for a bad kind, timeframe, price or
    /// values.
    fn new(signal: &NewSignal, created_at: NaiveDateTime) -> Result<Self, StoreError> {
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
        Ok(Self {
            symbol: signal.symbol.as_str().to_owned(),
            kind: signal.kind.clone(),
            timeframe: signal.timeframe.clone(),
            triggered_at: db_time(signal.triggered_at),
            price: signal.price,
            values_json,
            created_at,
        })
    }

    /// The unique key: symbol, kind, timeframe, time.
    fn key(&self) -> Key<'_> {
        (&self.symbol, &self.kind, &self.timeframe, self.triggered_at)
    }

    /// The key's parts in the order [`Signals::insert_many`] writes rows.
    fn lock_order(&self) -> (&str, NaiveDateTime, &str, &str) {
        (&self.symbol, self.triggered_at, &self.kind, &self.timeframe)
    }
}

/// A signal's unique key (`signals_unique`): symbol, kind, timeframe, time as stored.
type Key<'a> = (&'a str, &'a str, &'a str, NaiveDateTime);

/// A stored signal's id and key, as [`Signals::insert_many`] reads them back.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = signals)]
struct KeyRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    symbol: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    timeframe: String,
    #[diesel(sql_type = Timestamp)]
    triggered_at: NaiveDateTime,
}

impl KeyRow {
    fn key(&self) -> Key<'_> {
        (&self.symbol, &self.kind, &self.timeframe, self.triggered_at)
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
        let row = NewSignalRow::new(signal, db_now())?;
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
                    .filter(signals::symbol.eq(&row.symbol))
                    .filter(signals::kind.eq(&row.kind))
                    .filter(signals::timeframe.eq(&row.timeframe))
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

    /// [`insert`](Self::insert) for many signals at once, with the same result for each: the id
    /// of the stored signal and whether this call inserted it, in the order of `signals`. A
    /// signal that repeats the key of one before it in `signals` is not inserted again: it gets
    /// that one's id and `false`. New signals get their empty outcomes as with `insert`.
    ///
    /// All in one transaction (a savepoint inside the caller's), in statements of at most
    /// `bulk_chunk_size` (and at most 500) signals: each chunk is inserted with one statement
    /// that skips stored keys, then its ids are read back by key. The signals are written in
    /// the order of symbol, time, kind and timeframe (new ids follow it), whatever their order
    /// in `signals`. Safe to repeat and to run concurrently; a transaction of its own that the
    /// server chose as a deadlock victim is tried again as a whole.
    ///
    /// # Errors
    /// As [`insert`](Self::insert), for any one of `signals`; nothing is written then:
    /// [`StoreError::InvalidInput`] is found before the database is touched, and a
    /// [`StoreError::Query`] rolls the whole call back.
    pub async fn insert_many(mut self, signals: &[NewSignal]) -> Result<Vec<(i64, bool)>, StoreError> {
        if signals.is_empty() {
            return Ok(Vec::new());
        }
        let created_at = db_now();
        let mut rows = signals
            .iter()
            .map(|signal| NewSignalRow::new(signal, created_at).map(Some))
            .collect::<Result<Vec<_>, _>>()?;
        // One row per distinct key, the first of each in `signals`, in the order of (symbol,
        // time, kind, timeframe): every call takes its locks in that one order, so concurrent
        // calls wait for each other instead of deadlocking whatever the order they were given,
        // and ids follow time. `place[i]`: which row signal `i` is, and whether it is that
        // row's first occurrence.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| rows[i].as_ref().map(NewSignalRow::lock_order);
            key(a).cmp(&key(b)).then(a.cmp(&b))
        });
        let mut distinct: Vec<NewSignalRow> = Vec::with_capacity(rows.len());
        let mut place = vec![(0, false); rows.len()];
        for i in order {
            let Some(row) = rows[i].take() else { continue };
            if distinct.last().is_some_and(|last| last.key() == row.key()) {
                place[i] = (distinct.len() - 1, false);
            } else {
                place[i] = (distinct.len(), true);
                distinct.push(row);
            }
        }
        let rows = distinct;
        let max_rows = self.exec.settings().bulk_chunk_size.min(INSERT_MANY_ROWS_PER_STATEMENT);
        let chunks = chunks(&rows, max_rows, INSERT_MANY_VALUES_BYTES_PER_STATEMENT);
        let mut attempt = 0;
        let stored = loop {
            let result = self
                .exec
                .write_transaction(async |conn| {
                    let mut stored = Vec::with_capacity(rows.len());
                    for range in &chunks {
                        stored.extend(insert_chunk(conn, &rows[range.clone()], created_at).await?);
                    }
                    Ok(stored)
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
                other => break other?,
            }
        };
        Ok(place
            .into_iter()
            .map(|(at, first)| {
                let (id, inserted) = stored[at];
                (id, inserted && first)
            })
            .collect())
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

/// Signals per statement of [`Signals::insert_many`] at most (also capped by
/// `bulk_chunk_size`): 7 parameters each, and about as many in the read back, far under every
/// backend's limit (SQLite's 32,766 the lowest).
const INSERT_MANY_ROWS_PER_STATEMENT: usize = 500;

/// Bytes of values JSON per statement of [`Signals::insert_many`] at most (a single signal may
/// exceed it alone): 500 signals of the largest values would exceed MySQL's default
/// `max_allowed_packet` (16 MiB in MariaDB).
const INSERT_MANY_VALUES_BYTES_PER_STATEMENT: usize = 4 << 20;

/// `rows` cut into consecutive ranges of at most `max_rows` rows and, unless a range holds a
/// single row, at most `max_bytes` bytes of values JSON.
fn chunks(rows: &[NewSignalRow], max_rows: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let len = row.values_json.len();
        if i > start && (i - start == max_rows || bytes + len > max_bytes) {
            ranges.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < rows.len() {
        ranges.push(start..rows.len());
    }
    ranges
}

/// One chunk of [`Signals::insert_many`] (rows with distinct keys), inside its transaction: the
/// id of each row's stored signal and whether this chunk inserted it, in order.
///
/// Which rows the insert wrote: on PostgreSQL the insert returns them (`ON CONFLICT DO NOTHING
/// RETURNING`, in one statement with their outcomes). MySQL's `INSERT IGNORE` and SQLite's
/// `INSERT OR IGNORE` cannot say, so the keys are read before and after it: the signals seen
/// after that were not seen before are this insert's. That holds on SQLite because the
/// transaction holds the one writer lock (or, in a caller's transaction that began as a reader,
/// its write fails when another writer came between), and on MySQL because both reads are
/// consistent reads of the transaction's snapshot (InnoDB's default REPEATABLE READ), which
/// shows its own rows and nobody's newer ones. A key that another transaction stored after that
/// snapshot (the insert skipped it) is then found with a locking read, which sees the latest
/// committed row, as in [`Signals::insert`].
async fn insert_chunk(
    conn: &mut Conn,
    rows: &[NewSignalRow],
    created_at: NaiveDateTime,
) -> Result<Vec<(i64, bool)>, StoreError> {
    const OP: &str = "signals.insert_many";
    let position: HashMap<Key<'_>, usize> = rows.iter().enumerate().map(|(i, row)| (row.key(), i)).collect();
    let mut stored: Vec<Option<(i64, bool)>> = vec![None; rows.len()];
    let returns_inserted = conn.store().backend() == Backend::Postgres;
    let before: HashSet<i64> = if returns_inserted {
        HashSet::new()
    } else {
        read_keys(conn, rows).await?.into_iter().map(|r| r.id).collect()
    };
    // Duplicates of the unique key are skipped (MySQL and SQLite: INSERT [OR] IGNORE; the
    // values are checked, so IGNORE has nothing else to hide; a row it skipped for another
    // reason would be missing below, an error).
    let inserted: Vec<KeyRow> = run_each!(conn, OP,
        postgres c => postgres_insert(rows, created_at).load(c).await,
        mysql c => diesel::insert_or_ignore_into(signals::table).values(rows).execute(c).await.map(|_| Vec::new()),
        // diesel-async cannot send a multi-row insert to SQLite; diesel itself can, on the
        // connection's thread.
        sqlite c => {
            let owned = rows.to_vec();
            c.spawn_blocking(move |sqlite| {
                let insert = diesel::insert_or_ignore_into(signals::table).values(&owned);
                diesel::RunQueryDsl::execute(insert, sqlite)
            })
            .await
            .map(|_| Vec::new())
        },
    )?;
    for row in &inserted {
        if let Some(&i) = position.get(&row.key()) {
            stored[i] = Some((row.id, true));
        }
    }
    if inserted.len() < rows.len() {
        for row in read_keys(conn, rows).await? {
            let Some(&i) = position.get(&row.key()) else {
                // Another kind or timeframe at one of the chunk's times.
                continue;
            };
            if returns_inserted {
                stored[i].get_or_insert((row.id, false));
            } else if !before.contains(&row.id) {
                stored[i] = Some((row.id, true));
            } else {
                stored[i].get_or_insert((row.id, false));
            }
        }
    }
    // Stored by a transaction that committed after this one's snapshot (MySQL), if any.
    for (i, row) in rows.iter().enumerate() {
        if stored[i].is_some() {
            continue;
        }
        let by_key = signals::table
            .select(signals::id)
            .filter(signals::symbol.eq(&row.symbol))
            .filter(signals::kind.eq(&row.kind))
            .filter(signals::timeframe.eq(&row.timeframe))
            .filter(signals::triggered_at.eq(row.triggered_at));
        let id: i64 = run_each!(conn, OP,
            postgres c => by_key.first(c).await,
            mysql c => by_key.for_update().first(c).await,
            sqlite c => by_key.first(c).await,
        )?;
        stored[i] = Some((id, false));
    }
    let stored: Vec<(i64, bool)> = stored.into_iter().flatten().collect();
    // The outcomes of the new signals (PostgreSQL's statement wrote them already: its arm below
    // is never reached).
    let outcomes: Vec<_> = stored
        .iter()
        .filter(|(_, inserted)| *inserted && !returns_inserted)
        .map(|&(id, _)| {
            (
                signal_outcomes::signal_id.eq(id),
                signal_outcomes::completed.eq(false),
                signal_outcomes::updated_at.eq(created_at),
            )
        })
        .collect();
    if !outcomes.is_empty() {
        run_each!(conn, OP,
            postgres c => diesel::insert_into(signal_outcomes::table).values(&outcomes).execute(c).await,
            mysql c => diesel::insert_into(signal_outcomes::table).values(&outcomes).execute(c).await,
            sqlite c => {
                c.spawn_blocking(move |sqlite| {
                    diesel::RunQueryDsl::execute(diesel::insert_into(signal_outcomes::table).values(&outcomes), sqlite)
                })
                .await
            },
        )?;
    }
    Ok(stored)
}

/// The PostgreSQL insert of a chunk: the signals arrive as one array per column (seven
/// parameters whatever the chunk's size: one parse and plan), the new ones get their outcomes
/// in the same statement, and it returns the new ones.
fn postgres_insert(
    rows: &[NewSignalRow],
    created_at: NaiveDateTime,
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    fn column<T>(rows: &[NewSignalRow], f: impl Fn(&NewSignalRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    diesel::sql_query(POSTGRES_INSERT)
        .into_boxed()
        .bind::<Array<Text>, _>(column(rows, |r| r.symbol.clone()))
        .bind::<Array<Text>, _>(column(rows, |r| r.kind.clone()))
        .bind::<Array<Text>, _>(column(rows, |r| r.timeframe.clone()))
        .bind::<Array<Timestamp>, _>(column(rows, |r| r.triggered_at))
        .bind::<Array<Double>, _>(column(rows, |r| r.price))
        .bind::<Array<Text>, _>(column(rows, |r| r.values_json.clone()))
        .bind::<Timestamp, _>(created_at)
}

/// See [`postgres_insert`]. The outcomes' foreign key is checked at the end of the statement,
/// when the signals are in.
const POSTGRES_INSERT: &str = "WITH inserted AS (\
     INSERT INTO signals (symbol, kind, timeframe, triggered_at, price, values_json, created_at) \
     SELECT symbol, kind, timeframe, triggered_at, price, values_json, $7 \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamp[], $5::float8[], $6::text[]) \
     AS input (symbol, kind, timeframe, triggered_at, price, values_json) \
     ON CONFLICT DO NOTHING \
     RETURNING id, symbol, kind, timeframe, triggered_at), \
     outcomes AS (INSERT INTO signal_outcomes (signal_id, completed, updated_at) \
     SELECT id, false, $7 FROM inserted) \
     SELECT id, symbol, kind, timeframe, triggered_at FROM inserted";

/// The stored signals of `rows`' symbols at `rows`' times (a superset of `rows`' keys: other
/// kinds and timeframes at those times come too), through `signals_symbol_time`: one
/// `symbol = ? AND triggered_at IN (…)` per symbol.
async fn read_keys(conn: &mut Conn, rows: &[NewSignalRow]) -> Result<Vec<KeyRow>, StoreError> {
    let mut times: Vec<(&str, Vec<NaiveDateTime>)> = Vec::new();
    for row in rows {
        match times.iter_mut().find(|(symbol, _)| *symbol == row.symbol) {
            Some((_, at)) => at.push(row.triggered_at),
            None => times.push((&row.symbol, vec![row.triggered_at])),
        }
    }
    for (_, at) in &mut times {
        at.sort_unstable();
        at.dedup();
    }
    run!(conn, "signals.insert_many", c => {
        let mut query = signals::table.select(KeyRow::as_select()).into_boxed();
        for (symbol, at) in &times {
            query = query.or_filter(signals::symbol.eq(*symbol).and(signals::triggered_at.eq_any(at)));
        }
        query.load(c).await
    })
}
