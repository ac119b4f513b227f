//! The `signal_outcomes` table: what became of each signal after 1h, 4h, 1d, 1w and 1m.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::StoreError;
use crate::repo::signals::{Signal, SignalCursor, SignalRow};
use crate::repo::{Exec, db_time, utc};
use crate::schema::{signal_outcomes, signals};

/// The outcomes of signals, one row per signal, deleted with it.
pub struct Outcomes<'a> {
    pub(crate) exec: Exec<'a>,
}

/// How long after a signal its outcome is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Horizon {
    /// One hour.
    H1,
    /// Four hours.
    H4,
    /// One day.
    D1,
    /// One week.
    W1,
    /// One month.
    M1,
}

impl Horizon {
    /// Every horizon, shortest first: the order of [`SignalOutcome::horizons`].
    pub const ALL: [Horizon; 5] = [Self::H1, Self::H4, Self::D1, Self::W1, Self::M1];

    /// The horizon's name, as in the column names (`1h`, `4h`, `1d`, `1w`, `1m`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
            Self::W1 => "1w",
            Self::M1 => "1m",
        }
    }

    /// The position in [`SignalOutcome::horizons`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The outcome at one horizon; each part is `None` until measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HorizonOutcome {
    /// The price at the horizon.
    pub price: Option<f64>,
    /// The return from the signal's price to `price`, in the caller's unit.
    pub ret: Option<f64>,
    /// Whether the signal was right by then.
    pub success: Option<bool>,
}

/// What became of one signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignalOutcome {
    /// The signal.
    pub signal_id: i64,
    /// The outcome at each horizon, in the order of [`Horizon::ALL`].
    pub horizons: [HorizonOutcome; 5],
    /// Whether every horizon is measured and nothing is left to do.
    pub completed: bool,
    /// When the outcome was last written (stored to the microsecond).
    pub updated_at: DateTime<Utc>,
}

impl SignalOutcome {
    /// An outcome of `signal_id` with nothing measured yet.
    pub fn new(signal_id: i64, updated_at: DateTime<Utc>) -> Self {
        Self {
            signal_id,
            horizons: [HorizonOutcome::default(); 5],
            completed: false,
            updated_at,
        }
    }

    /// The outcome at `horizon`.
    pub fn horizon(&self, horizon: Horizon) -> &HorizonOutcome {
        &self.horizons[horizon.index()]
    }

    /// The outcome at `horizon`, to change it.
    pub fn horizon_mut(&mut self, horizon: Horizon) -> &mut HorizonOutcome {
        &mut self.horizons[horizon.index()]
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(
    table_name = signal_outcomes,
    primary_key(signal_id),
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
struct OutcomeRow {
    signal_id: i64,
    price_1h: Option<f64>,
    return_1h: Option<f64>,
    success_1h: Option<bool>,
    price_4h: Option<f64>,
    return_4h: Option<f64>,
    success_4h: Option<bool>,
    price_1d: Option<f64>,
    return_1d: Option<f64>,
    success_1d: Option<bool>,
    price_1w: Option<f64>,
    return_1w: Option<f64>,
    success_1w: Option<bool>,
    price_1m: Option<f64>,
    return_1m: Option<f64>,
    success_1m: Option<bool>,
    completed: bool,
    updated_at: NaiveDateTime,
}

impl OutcomeRow {
    fn new(outcome: &SignalOutcome) -> Result<Self, StoreError> {
        for (horizon, h) in Horizon::ALL.iter().zip(&outcome.horizons) {
            for (what, value) in [("price", h.price), ("return", h.ret)] {
                if value.is_some_and(|v| !v.is_finite()) {
                    return Err(StoreError::InvalidInput(format!(
                        "the {} {what} of signal {} is not finite",
                        horizon.as_str(),
                        outcome.signal_id
                    )));
                }
            }
        }
        let [h1, h4, d1, w1, m1] = outcome.horizons;
        Ok(Self {
            signal_id: outcome.signal_id,
            price_1h: h1.price,
            return_1h: h1.ret,
            success_1h: h1.success,
            price_4h: h4.price,
            return_4h: h4.ret,
            success_4h: h4.success,
            price_1d: d1.price,
            return_1d: d1.ret,
            success_1d: d1.success,
            price_1w: w1.price,
            return_1w: w1.ret,
            success_1w: w1.success,
            price_1m: m1.price,
            return_1m: m1.ret,
            success_1m: m1.success,
            completed: outcome.completed,
            updated_at: db_time(outcome.updated_at),
        })
    }

    fn into_outcome(self) -> SignalOutcome {
        let horizon = |price, ret, success| HorizonOutcome { price, ret, success };
        SignalOutcome {
            signal_id: self.signal_id,
            horizons: [
                horizon(self.price_1h, self.return_1h, self.success_1h),
                horizon(self.price_4h, self.return_4h, self.success_4h),
                horizon(self.price_1d, self.return_1d, self.success_1d),
                horizon(self.price_1w, self.return_1w, self.success_1w),
                horizon(self.price_1m, self.return_1m, self.success_1m),
            ],
            completed: self.completed,
            updated_at: utc(self.updated_at),
        }
    }
}

impl Outcomes<'_> {
    /// Writes the outcome of `outcome.signal_id`, replacing the signal's earlier one (every
    /// column, `None` included, and `updated_at` as given).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a price or return that is not finite;
    /// [`StoreError::Query`] with [`QueryErrorKind::ForeignKeyViolation`](crate::QueryErrorKind)
    /// when the signal does not exist, or another failure of the database.
    pub async fn upsert(mut self, outcome: &SignalOutcome) -> Result<(), StoreError> {
        const OP: &str = "outcomes.upsert";
        let row = OutcomeRow::new(outcome)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(signal_outcomes::table).values(&row);
        run_each!(conn, OP,
            postgres c => insert.on_conflict(signal_outcomes::signal_id).do_update().set(&row).execute(c).await,
            mysql c => insert.on_conflict(diesel::dsl::DuplicatedKeys).do_update().set(&row).execute(c).await,
            sqlite c => insert.on_conflict(signal_outcomes::signal_id).do_update().set(&row).execute(c).await,
        )
        .map(drop)
    }

    /// The outcome of signal `signal_id`, if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn get(mut self, signal_id: i64) -> Result<Option<SignalOutcome>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<OutcomeRow> = run!(conn, "outcomes.get", c => signal_outcomes::table
            .select(OutcomeRow::as_select())
            .filter(signal_outcomes::signal_id.eq(signal_id))
            .first(c)
            .await
            .optional())?;
        Ok(row.map(OutcomeRow::into_outcome))
    }

    /// The kind and outcome of every signal triggered at or after `since` (all when `None`)
    /// that has at least its first horizon measured, oldest first: the input of the statistics
    /// per kind. One join over the outcomes; the caller aggregates.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn measured(mut self, since: Option<DateTime<Utc>>) -> Result<Vec<(String, SignalOutcome)>, StoreError> {
        let since = since.map(db_time);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<(String, OutcomeRow)> = run!(conn, "outcomes.measured", c => {
            let mut query = signal_outcomes::table
                .inner_join(signals::table)
                .select((signals::kind, OutcomeRow::as_select()))
                .filter(signal_outcomes::price_1h.is_not_null())
                .into_boxed();
            if let Some(since) = since {
                query = query.filter(signals::triggered_at.ge(since));
            }
            query
                .order((signals::triggered_at.asc(), signals::id.asc()))
                .load(c)
                .await
        })?;
        Ok(rows.into_iter().map(|(kind, row)| (kind, row.into_outcome())).collect())
    }

    /// Up to `limit` signals whose outcome is not completed, oldest first (by time, then id).
    /// Every signal gets its outcome row when it is inserted, so the pending ones are found
    /// through the index `signal_outcomes_pending (completed, signal_id)`: the cost follows the
    /// pending signals, not the history.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn pending(self, limit: u32) -> Result<Vec<Signal>, StoreError> {
        self.pending_after(None, limit).await
    }

    /// As [`pending`](Self::pending), starting after `after` (the
    /// [`cursor`](Signal::cursor) of the last signal of the previous page): walks every pending
    /// signal a page at a time, however many of them stay pending.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a corrupt row.
    pub async fn pending_after(mut self, after: Option<SignalCursor>, limit: u32) -> Result<Vec<Signal>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let rows: Vec<SignalRow> = run!(conn, "outcomes.pending", c => {
            let mut query = signal_outcomes::table
                .inner_join(signals::table)
                .select(SignalRow::as_select())
                .filter(signal_outcomes::completed.eq(false))
                .into_boxed();
            if let Some(after) = after {
                // (triggered_at, id) > (cursor).
                query = query
                    .filter(signals::triggered_at.ge(after.triggered_at))
                    .filter(
                        signals::triggered_at
                            .gt(after.triggered_at)
                            .or(signals::id.gt(after.id)),
                    );
            }
            query
                .order((signals::triggered_at.asc(), signals::id.asc()))
                .limit(i64::from(limit))
                .load(c)
                .await
        })?;
        rows.into_iter().map(SignalRow::into_signal).collect()
    }
}
