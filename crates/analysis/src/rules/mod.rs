//! Signal rules over closed bars: [`SignalEngine`] (streaming, one bar at a time) and
//! [`detect`] (batch, a whole series), which agree signal for signal; and the rules over live
//! quotes ([`evaluate_quote`]).
//!
//! Both bar paths compute the same [`Point`] for every bar — the bar, its indicator values and
//! its running records — the streaming path from indicator states, the batch path from the
//! indicators' batch columns (which `finstage-indicators` proves equal to its states), and
//! hand each pair of consecutive points to one function, `evaluate`, that holds every rule.
//!
//! # Crossing
//! `a` crosses above `b` on a bar when `a ≤ b` on the bar before and `a > b` on this one;
//! it crosses below when `a ≥ b` before and `a < b` now ([`crosses_above`], [`crosses_below`]).
//! A value that is not there yet (an indicator still in its lookback) crosses nothing, so no
//! rule fires before its indicators are warmed up, and none fires on the first bar.
//!
//! # Order
//! The signals of one bar come in the order of the rule list of [`RulesConfig`] (and, within a
//! rule, of its configured periods or pairs).

mod config;
mod live;

pub use config::{
    BollingerRule, CrossRule, MAX_RULE_PERIOD, MaRule, MacdRule, RsiRule, RulesConfig, StochRule, Switch, VolumeRule,
};
pub use live::{QuoteContext, evaluate_quote};

use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_indicators::{
    BBands, BBandsState, Candle, Indicator, Macd, MacdState, Rsi, RsiState, Sma, SmaState, Stoch, StochState,
};

use crate::error::AnalysisError;
use crate::signal::{Signal, SignalKind, SignalValues, Timeframe};
use crate::thresholds::Resolved;

/// `a` crosses above `b`: `a ≤ b` before and `a > b` now. False when any value is NaN.
#[inline]
pub fn crosses_above(prev_a: f64, prev_b: f64, a: f64, b: f64) -> bool {
    prev_a <= prev_b && a > b
}

/// `a` crosses below `b`: `a ≥ b` before and `a < b` now. False when any value is NaN.
#[inline]
pub fn crosses_below(prev_a: f64, prev_b: f64, a: f64, b: f64) -> bool {
    prev_a >= prev_b && a < b
}

/// `|x| / scale`, the usual strength measure (clamped to `[0, 1]` by [`Signal::new`]).
#[inline]
fn ratio(x: f64, scale: f64) -> f64 {
    (x / scale).abs()
}

/// What the rules see of one bar: the bar, its indicator values (NaN during their lookbacks)
/// and its running records.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The bar's time.
    pub time: BarTime,
    /// Its close.
    pub close: f64,
    /// Its high.
    pub high: f64,
    /// Its low.
    pub low: f64,
    /// Its volume.
    pub volume: f64,
    /// SMA of the close for each period of [`Plan::sma_periods`], in that order.
    pub smas: Vec<f64>,
    /// RSI.
    pub rsi: f64,
    /// Bollinger upper band.
    pub bb_upper: f64,
    /// Bollinger middle band.
    pub bb_middle: f64,
    /// Bollinger lower band.
    pub bb_lower: f64,
    /// MACD line.
    pub macd: f64,
    /// MACD signal line.
    pub macd_signal: f64,
    /// Stochastic %K.
    pub stoch_k: f64,
    /// Stochastic %D.
    pub stoch_d: f64,
    /// The average volume of the bars before this one (NaN until there are enough).
    pub volume_avg: f64,
    /// The highest high before this bar (the seed record included; NaN when there is none).
    pub ath_before: f64,
}

impl Point {
    fn empty(time: BarTime, smas: usize) -> Self {
        Self {
            time,
            close: f64::NAN,
            high: f64::NAN,
            low: f64::NAN,
            volume: f64::NAN,
            smas: vec![f64::NAN; smas],
            rsi: f64::NAN,
            bb_upper: f64::NAN,
            bb_middle: f64::NAN,
            bb_lower: f64::NAN,
            macd: f64::NAN,
            macd_signal: f64::NAN,
            stoch_k: f64::NAN,
            stoch_d: f64::NAN,
            volume_avg: f64::NAN,
            ath_before: f64::NAN,
        }
    }

    /// Close over the all-time high including this bar, minus one (≤ 0); NaN without a record.
    fn drawdown(&self) -> f64 {
        let ath = if self.ath_before.is_nan() {
            f64::NAN
        } else {
            self.ath_before.max(self.high)
        };
        self.close / ath - 1.0
    }
}

/// The rules of [`RulesConfig`] resolved for one symbol: which SMAs to run, which of them each
/// rule reads, and the symbol's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    config: RulesConfig,
    symbol: Symbol,
    timeframe: Timeframe,
    thresholds: Resolved,
    /// Every SMA period a rule needs, ascending, once each.
    sma_periods: Vec<usize>,
    /// Per moving-average period: (period, index into `sma_periods`).
    ma: Vec<(u16, usize)>,
    /// Per cross pair: (fast, slow, index of fast, index of slow).
    cross: Vec<(u16, u16, usize, usize)>,
}

impl Plan {
    /// Resolves `config` for `symbol` of `category`, computed on `timeframe` bars.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidConfig`] when `config` does not validate (keys under `rules`).
    pub fn new(
        config: &RulesConfig,
        symbol: Symbol,
        category: Category,
        timeframe: Timeframe,
    ) -> Result<Self, AnalysisError> {
        config.validate("rules")?;
        let mut periods: Vec<usize> = Vec::new();
        if config.moving_average.enabled {
            periods.extend(config.moving_average.periods.iter().map(|&p| usize::from(p)));
        }
        if config.cross.enabled {
            periods.extend(config.cross.pairs.iter().flatten().map(|&p| usize::from(p)));
        }
        periods.sort_unstable();
        periods.dedup();
        let index = |p: u16| periods.binary_search(&usize::from(p)).unwrap_or_default();
        let ma = if config.moving_average.enabled {
            config.moving_average.periods.iter().map(|&p| (p, index(p))).collect()
        } else {
            Vec::new()
        };
        let cross = if config.cross.enabled {
            config
                .cross
                .pairs
                .iter()
                .map(|&[f, s]| (f, s, index(f), index(s)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            thresholds: config.thresholds.resolve(&symbol, category),
            config: config.clone(),
            symbol,
            timeframe,
            sma_periods: periods,
            ma,
            cross,
        })
    }

    /// The SMA periods the rules read, ascending.
    pub fn sma_periods(&self) -> &[usize] {
        &self.sma_periods
    }

    /// How many bars before the newest the rules read through their indicators: feeding a
    /// fresh [`SignalEngine`] this many bars before the next one (and the stored all-time high)
    /// gives the same signals on it as an engine that saw the whole history.
    pub fn warm_up_bars(&self) -> usize {
        let c = &self.config;
        let mut most = self.sma_periods.last().copied().unwrap_or(0);
        if c.rsi.enabled {
            // RSI's smoothing remembers every bar; TA-Lib's own unstable period convention is
            // to allow about ten times the period for it to settle.
            most = most.max(usize::from(c.rsi.period) * 10);
        }
        if c.macd.enabled {
            most = most.max((usize::from(c.macd.slow) + usize::from(c.macd.signal)) * 10);
        }
        if c.bollinger.enabled {
            most = most.max(usize::from(c.bollinger.period));
        }
        if c.stochastic.enabled {
            let s = &c.stochastic;
            most = most.max(usize::from(s.k_period) + usize::from(s.k_slowing) + usize::from(s.d_period));
        }
        if c.volume.enabled {
            most = most.max(usize::from(c.volume.period));
        }
        most + 1
    }
}

/// Every rule over one pair of consecutive bars, appending what fires to `out`.
#[allow(clippy::too_many_lines)] // one rule after another, in the documented order
fn evaluate(plan: &Plan, prev: &Point, cur: &Point, out: &mut Vec<Signal>) {
    let c = &plan.config;
    let mut emit = |kind: SignalKind, strength: f64, values: SignalValues| {
        out.push(Signal::new(
            plan.symbol,
            kind,
            plan.timeframe,
            cur.time,
            cur.close,
            strength,
            values,
        ));
    };

    // Moving averages: strength 1 at 5 % beyond the SMA.
    for &(period, i) in &plan.ma {
        let (sma0, sma1) = (prev.smas[i], cur.smas[i]);
        let values = || SignalValues::new().with("close", cur.close).with("sma", sma1);
        if crosses_above(prev.close, sma0, cur.close, sma1) {
            emit(
                SignalKind::MaBreakout { period },
                ratio(cur.close / sma1 - 1.0, 0.05),
                values(),
            );
        } else if crosses_below(prev.close, sma0, cur.close, sma1) {
            emit(
                SignalKind::MaBreakdown { period },
                ratio(cur.close / sma1 - 1.0, 0.05),
                values(),
            );
        }
    }

    // Golden and dead crosses: strength 1 at a 1 % gap.
    for &(fast, slow, fi, si) in &plan.cross {
        let (f0, s0, f1, s1) = (prev.smas[fi], prev.smas[si], cur.smas[fi], cur.smas[si]);
        let values = || SignalValues::new().with("fast", f1).with("slow", s1);
        if crosses_above(f0, s0, f1, s1) {
            emit(
                SignalKind::GoldenCross { fast, slow },
                ratio(f1 / s1 - 1.0, 0.01),
                values(),
            );
        } else if crosses_below(f0, s0, f1, s1) {
            emit(
                SignalKind::DeadCross { fast, slow },
                ratio(f1 / s1 - 1.0, 0.01),
                values(),
            );
        }
    }

    // RSI: strength 1 at 10 points past the level.
    if c.rsi.enabled && !prev.rsi.is_nan() && !cur.rsi.is_nan() {
        let (r0, r1) = (prev.rsi, cur.rsi);
        let (ob, os) = (c.rsi.overbought, c.rsi.oversold);
        let values = |level: f64| SignalValues::new().with("rsi", r1).with("level", level);
        if r0 < ob && r1 >= ob {
            emit(SignalKind::RsiOverboughtEnter, ratio(r1 - ob, 10.0), values(ob));
        } else if r0 >= ob && r1 < ob {
            emit(SignalKind::RsiOverboughtLeave, ratio(r1 - ob, 10.0), values(ob));
        }
        if r0 > os && r1 <= os {
            emit(SignalKind::RsiOversoldEnter, ratio(r1 - os, 10.0), values(os));
        } else if r0 <= os && r1 > os {
            emit(SignalKind::RsiOversoldLeave, ratio(r1 - os, 10.0), values(os));
        }
        if c.rsi.midline {
            if crosses_above(r0, 50.0, r1, 50.0) {
                emit(SignalKind::RsiCrossAbove50, ratio(r1 - 50.0, 10.0), values(50.0));
            } else if crosses_below(r0, 50.0, r1, 50.0) {
                emit(SignalKind::RsiCrossBelow50, ratio(r1 - 50.0, 10.0), values(50.0));
            }
        }
    }

    // Bollinger: a break's strength is 1 at half a band's width beyond it; a touch's is 1 on
    // the band and 0 at the touch distance.
    if c.bollinger.enabled && !prev.bb_middle.is_nan() && !cur.bb_middle.is_nan() {
        let touch = c.bollinger.touch_pct / 100.0;
        let values = || {
            SignalValues::new()
                .with("close", cur.close)
                .with("upper", cur.bb_upper)
                .with("middle", cur.bb_middle)
                .with("lower", cur.bb_lower)
        };
        let half_width = cur.bb_upper - cur.bb_middle;
        let near_upper = |p: &Point| p.close >= p.bb_upper * (1.0 - touch) && p.close <= p.bb_upper;
        let near_lower = |p: &Point| p.close <= p.bb_lower * (1.0 + touch) && p.close >= p.bb_lower;
        if cur.close > cur.bb_upper && prev.close <= prev.bb_upper {
            emit(
                SignalKind::BollingerBreakUpper,
                ratio(cur.close - cur.bb_upper, half_width / 2.0),
                values(),
            );
        } else if near_upper(cur) && !near_upper(prev) && prev.close <= prev.bb_upper {
            let distance = (cur.bb_upper - cur.close) / (cur.bb_upper * touch);
            emit(SignalKind::BollingerTouchUpper, 1.0 - distance, values());
        }
        if cur.close < cur.bb_lower && prev.close >= prev.bb_lower {
            emit(
                SignalKind::BollingerBreakLower,
                ratio(cur.bb_lower - cur.close, half_width / 2.0),
                values(),
            );
        } else if near_lower(cur) && !near_lower(prev) && prev.close >= prev.bb_lower {
            let distance = (cur.close - cur.bb_lower) / (cur.bb_lower * touch);
            emit(SignalKind::BollingerTouchLower, 1.0 - distance, values());
        }
    }

    // MACD: strength 1 at a gap of 1 % of the close.
    if c.macd.enabled {
        let (m0, s0, m1, s1) = (prev.macd, prev.macd_signal, cur.macd, cur.macd_signal);
        let values = || {
            SignalValues::new()
                .with("macd", m1)
                .with("signal", s1)
                .with("hist", m1 - s1)
        };
        let scale = cur.close * 0.01;
        if crosses_above(m0, s0, m1, s1) {
            emit(SignalKind::MacdCrossUp, ratio(m1 - s1, scale), values());
        } else if crosses_below(m0, s0, m1, s1) {
            emit(SignalKind::MacdCrossDown, ratio(m1 - s1, scale), values());
        }
        if c.macd.zero_line {
            if crosses_above(m0, 0.0, m1, 0.0) {
                emit(SignalKind::MacdZeroCrossUp, ratio(m1, scale), values());
            } else if crosses_below(m0, 0.0, m1, 0.0) {
                emit(SignalKind::MacdZeroCrossDown, ratio(m1, scale), values());
            }
        }
    }

    // Stochastic in a zone: strength 1 at a 10-point gap.
    if c.stochastic.enabled {
        let (k0, d0, k1, d1) = (prev.stoch_k, prev.stoch_d, cur.stoch_k, cur.stoch_d);
        let values = || SignalValues::new().with("k", k1).with("d", d1);
        if crosses_above(k0, d0, k1, d1) && d1 <= c.stochastic.oversold {
            emit(SignalKind::StochCrossUpOversold, ratio(k1 - d1, 10.0), values());
        } else if crosses_below(k0, d0, k1, d1) && d1 >= c.stochastic.overbought {
            emit(SignalKind::StochCrossDownOverbought, ratio(k1 - d1, 10.0), values());
        }
    }

    // Volume: a spike's strength is its ratio over twice the spike ratio; a dry-up's, how far
    // under the dry-up ratio it is.
    if c.volume.enabled && cur.volume_avg > 0.0 && prev.close > 0.0 {
        let v = &c.volume;
        let ratio_now = cur.volume / cur.volume_avg;
        let change = cur.close / prev.close - 1.0;
        let values = || {
            SignalValues::new()
                .with("volume", cur.volume)
                .with("average", cur.volume_avg)
                .with("ratio", ratio_now)
                .with("change_pct", change * 100.0)
        };
        if ratio_now >= v.spike_ratio && change.abs() * 100.0 >= v.move_pct {
            let kind = if change > 0.0 {
                SignalKind::VolumeSpikeUp
            } else {
                SignalKind::VolumeSpikeDown
            };
            emit(kind, ratio_now / (2.0 * v.spike_ratio), values());
        }
        let dry = |p: &Point| p.volume_avg > 0.0 && p.volume / p.volume_avg <= v.dry_up_ratio;
        if dry(cur) && !dry(prev) {
            emit(SignalKind::VolumeDryUp, 1.0 - ratio_now / v.dry_up_ratio, values());
        }
    }

    if c.price.enabled && prev.close > 0.0 {
        price_moves(&plan.thresholds, cur.close, prev.close, &mut emit);
    }

    // Highs: a new all-time high's strength is 1 at 5 % above the old one; a drop's, 1 at
    // twice the threshold. The drop fires when the drawdown crosses the threshold.
    if c.highs.enabled {
        if cur.high > cur.ath_before {
            let values = SignalValues::new()
                .with("high", cur.high)
                .with("previous_high", cur.ath_before);
            emit(
                SignalKind::NewAllTimeHigh,
                ratio(cur.high / cur.ath_before - 1.0, 0.05),
                values,
            );
        }
        let limit = -plan.thresholds.drop_from_high_pct / 100.0;
        let (dd0, dd1) = (prev.drawdown(), cur.drawdown());
        if dd1 <= limit && dd0 > limit {
            emit(
                SignalKind::DropFromHigh,
                ratio(dd1, 2.0 * limit),
                drop_values(
                    cur.close,
                    cur.ath_before.max(cur.high),
                    dd1,
                    plan.thresholds.drop_from_high_pct,
                ),
            );
        }
    }

    // The previous session's range: strength 1 at 2 % beyond it.
    if c.previous_day.enabled {
        if cur.close > prev.high {
            let values = SignalValues::new()
                .with("price", cur.close)
                .with("previous_high", prev.high);
            emit(
                SignalKind::PrevHighBreak,
                ratio(cur.close / prev.high - 1.0, 0.02),
                values,
            );
        } else if cur.close < prev.low {
            let values = SignalValues::new()
                .with("price", cur.close)
                .with("previous_low", prev.low);
            emit(
                SignalKind::PrevLowBreak,
                ratio(cur.close / prev.low - 1.0, 0.02),
                values,
            );
        }
    }
}

fn drop_values(price: f64, high: f64, drawdown: f64, threshold_pct: f64) -> SignalValues {
    SignalValues::new()
        .with("price", price)
        .with("high", high)
        .with("drop_pct", drawdown * 100.0)
        .with("threshold_pct", threshold_pct)
}

/// Rise, drop, surge and plunge of `price` against `previous_close`: a surge or plunge (at
/// least the surge threshold) instead of a rise or drop, never both. Strength 1 at twice the
/// threshold.
fn price_moves(
    thresholds: &Resolved,
    price: f64,
    previous_close: f64,
    emit: &mut impl FnMut(SignalKind, f64, SignalValues),
) {
    let change = price / previous_close - 1.0;
    let pct = change * 100.0;
    let values = |threshold: f64| {
        SignalValues::new()
            .with("price", price)
            .with("previous_close", previous_close)
            .with("change_pct", pct)
            .with("threshold_pct", threshold)
    };
    let t = thresholds;
    if pct >= t.surge_pct {
        emit(
            SignalKind::PriceSurge,
            ratio(pct, 2.0 * t.surge_pct),
            values(t.surge_pct),
        );
    } else if pct >= t.rise_pct {
        emit(SignalKind::PriceRise, ratio(pct, 2.0 * t.rise_pct), values(t.rise_pct));
    } else if pct <= -t.surge_pct {
        emit(
            SignalKind::PricePlunge,
            ratio(pct, 2.0 * t.surge_pct),
            values(t.surge_pct),
        );
    } else if pct <= -t.drop_pct {
        emit(SignalKind::PriceDrop, ratio(pct, 2.0 * t.drop_pct), values(t.drop_pct));
    }
}

/// The streaming rules: one [`update`](Self::update) per closed bar, O(1) per bar (plus the
/// number of SMA periods), giving exactly the signals [`detect`] gives on the same series.
///
/// Keep one engine per symbol and timeframe. To resume after a restart, seed it with the
/// stored all-time high ([`with_all_time_high`](Self::with_all_time_high)) and feed it the last
/// [`Plan::warm_up_bars`] bars before the new one.
#[derive(Clone, Debug)]
pub struct SignalEngine {
    plan: Plan,
    smas: Vec<SmaState>,
    rsi: RsiState,
    bbands: BBandsState,
    macd: MacdState,
    stoch: StochState,
    volume: SmaState,
    /// The volume average of the bars so far (the next bar's `volume_avg`).
    volume_avg: f64,
    ath: f64,
    prev: Option<Point>,
    cur: Point,
}

/// The indicators of a plan, as configurations (shared by both paths).
struct Indicators {
    smas: Vec<Sma>,
    rsi: Rsi,
    bbands: BBands,
    macd: Macd,
    stoch: Stoch,
    volume: Sma,
}

impl Indicators {
    fn new(plan: &Plan) -> Result<Self, AnalysisError> {
        let c = &plan.config;
        Ok(Self {
            smas: plan
                .sma_periods
                .iter()
                .map(|&p| Sma::new(p))
                .collect::<Result<_, _>>()?,
            rsi: Rsi::new(usize::from(c.rsi.period))?,
            bbands: BBands::new(usize::from(c.bollinger.period), c.bollinger.k)?,
            macd: Macd::new(
                usize::from(c.macd.fast),
                usize::from(c.macd.slow),
                usize::from(c.macd.signal),
            )?,
            stoch: Stoch::new(
                usize::from(c.stochastic.k_period),
                usize::from(c.stochastic.k_slowing),
                usize::from(c.stochastic.d_period),
            )?,
            volume: Sma::new(usize::from(c.volume.period))?,
        })
    }
}

fn check_order(last: Option<BarTime>, next: BarTime) -> Result<(), AnalysisError> {
    match last {
        Some(last) if next <= last => Err(AnalysisError::InvalidInput(format!(
            "bars must be in strictly increasing time: {next} after {last}"
        ))),
        _ => Ok(()),
    }
}

impl SignalEngine {
    /// An engine for `plan`'s symbol, having seen no bar.
    ///
    /// # Errors
    /// [`AnalysisError::Indicator`] when an indicator rejects a parameter that validation let
    /// through (cannot happen with the bounds of [`RulesConfig::validate`]).
    pub fn new(plan: Plan) -> Result<Self, AnalysisError> {
        let ind = Indicators::new(&plan)?;
        let cur = Point::empty(BarTime::Date(chrono::NaiveDate::MIN), plan.sma_periods.len());
        Ok(Self {
            smas: ind.smas.iter().map(Sma::state).collect(),
            rsi: ind.rsi.state(),
            bbands: ind.bbands.state(),
            macd: ind.macd.state(),
            stoch: ind.stoch.state(),
            volume: ind.volume.state(),
            volume_avg: f64::NAN,
            ath: f64::NAN,
            prev: None,
            cur,
            plan,
        })
    }

    /// Seeds the all-time high with a stored record (the highest high before the first bar
    /// this engine will see); a higher high among the bars replaces it.
    #[must_use]
    pub fn with_all_time_high(mut self, high: f64) -> Self {
        if high.is_finite() && (self.ath.is_nan() || high > self.ath) {
            self.ath = high;
        }
        self
    }

    /// The plan this engine runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The all-time high so far (NaN before any bar or seed).
    pub fn all_time_high(&self) -> f64 {
        self.ath
    }

    /// The newest bar's point, once a bar was seen.
    pub fn last_point(&self) -> Option<&Point> {
        self.prev.as_ref()
    }

    /// Takes the next closed bar and appends the signals it triggers to `out`.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidInput`] for a bar not after the previous one; the engine is left
    /// as it was.
    pub fn update(&mut self, bar: &Bar, out: &mut Vec<Signal>) -> Result<(), AnalysisError> {
        check_order(self.prev.as_ref().map(|p| p.time), bar.time())?;
        let (close, high, low) = (bar.close(), bar.high(), bar.low());
        #[allow(clippy::cast_precision_loss)] // volumes beyond 2^53 are not real
        let volume = bar.volume() as f64;
        let nan = f64::NAN;
        let cur = &mut self.cur;
        cur.time = bar.time();
        (cur.close, cur.high, cur.low, cur.volume) = (close, high, low, volume);
        for (slot, state) in cur.smas.iter_mut().zip(&mut self.smas) {
            *slot = state.update(close).unwrap_or(nan);
        }
        // Disabled rules' indicators are not run (their values stay NaN and no rule reads them).
        let c = &self.plan.config;
        if c.rsi.enabled {
            cur.rsi = self.rsi.update(close).unwrap_or(nan);
        }
        if c.bollinger.enabled {
            let bb = self.bbands.update(close);
            (cur.bb_upper, cur.bb_middle, cur.bb_lower) = bb.map_or((nan, nan, nan), |b| (b.upper, b.middle, b.lower));
        }
        if c.macd.enabled {
            let macd = self.macd.update(close);
            (cur.macd, cur.macd_signal) = macd.map_or((nan, nan), |m| (m.macd, m.signal));
        }
        if c.stochastic.enabled {
            let stoch = self.stoch.update(Candle::new(bar.open(), high, low, close, volume));
            (cur.stoch_k, cur.stoch_d) = stoch.map_or((nan, nan), |s| (s.k, s.d));
        }
        if c.volume.enabled {
            cur.volume_avg = self.volume_avg;
            self.volume_avg = self.volume.update(volume).unwrap_or(nan);
        }
        cur.ath_before = self.ath;
        if self.ath.is_nan() || high > self.ath {
            self.ath = high;
        }
        if let Some(prev) = &self.prev {
            evaluate(&self.plan, prev, &self.cur, out);
        }
        // The point just made becomes the previous one; the old previous one's buffers are
        // reused for the next bar.
        match &mut self.prev {
            Some(prev) => std::mem::swap(prev, &mut self.cur),
            None => self.prev = Some(self.cur.clone()),
        }
        Ok(())
    }
}

/// The batch rules: every signal over `bars` (oldest first), in time order, exactly those a
/// fresh [`SignalEngine`] gives bar by bar.
///
/// # Errors
/// [`AnalysisError::InvalidConfig`] for a configuration that does not validate;
/// [`AnalysisError::InvalidInput`] for bars not in strictly increasing time.
pub fn detect(
    config: &RulesConfig,
    symbol: Symbol,
    category: Category,
    timeframe: Timeframe,
    bars: &[Bar],
) -> Result<Vec<Signal>, AnalysisError> {
    let plan = Plan::new(config, symbol, category, timeframe)?;
    detect_with(&plan, f64::NAN, bars)
}

/// [`detect`] with a resolved plan and an all-time high from before the first bar (NaN for
/// none).
///
/// # Errors
/// [`AnalysisError::InvalidInput`] for bars not in strictly increasing time.
pub fn detect_with(plan: &Plan, all_time_high: f64, bars: &[Bar]) -> Result<Vec<Signal>, AnalysisError> {
    for pair in bars.windows(2) {
        check_order(Some(pair[0].time()), pair[1].time())?;
    }
    let ind = Indicators::new(plan)?;
    let n = bars.len();
    let close: Vec<f64> = bars.iter().map(Bar::close).collect();
    let high: Vec<f64> = bars.iter().map(Bar::high).collect();
    let low: Vec<f64> = bars.iter().map(Bar::low).collect();
    #[allow(clippy::cast_precision_loss)] // volumes beyond 2^53 are not real
    let volume: Vec<f64> = bars.iter().map(|b| b.volume() as f64).collect();
    let c = &plan.config;
    let nan_column = || vec![f64::NAN; n];
    let smas: Vec<Vec<f64>> = ind.smas.iter().map(|s| s.batch(&close)).collect();
    let rsi = if c.rsi.enabled {
        ind.rsi.batch(&close)
    } else {
        nan_column()
    };
    let bb = if c.bollinger.enabled {
        ind.bbands.batch(&close)
    } else {
        finstage_indicators::BBandsSeries {
            upper: nan_column(),
            middle: nan_column(),
            lower: nan_column(),
        }
    };
    let macd = if c.macd.enabled {
        ind.macd.batch(&close)
    } else {
        finstage_indicators::MacdSeries {
            macd: nan_column(),
            signal: nan_column(),
            hist: nan_column(),
        }
    };
    let stoch = if c.stochastic.enabled {
        ind.stoch.batch(&high, &low, &close)?
    } else {
        finstage_indicators::StochSeries {
            k: nan_column(),
            d: nan_column(),
        }
    };
    let volume_sma = if c.volume.enabled {
        ind.volume.batch(&volume)
    } else {
        nan_column()
    };

    let mut out = Vec::new();
    let mut ath = if all_time_high.is_finite() {
        all_time_high
    } else {
        f64::NAN
    };
    let mut prev = Point::empty(BarTime::Date(chrono::NaiveDate::MIN), smas.len());
    let mut cur = prev.clone();
    for t in 0..n {
        cur.time = bars[t].time();
        (cur.close, cur.high, cur.low, cur.volume) = (close[t], high[t], low[t], volume[t]);
        for (slot, column) in cur.smas.iter_mut().zip(&smas) {
            *slot = column[t];
        }
        cur.rsi = rsi[t];
        (cur.bb_upper, cur.bb_middle, cur.bb_lower) = (bb.upper[t], bb.middle[t], bb.lower[t]);
        (cur.macd, cur.macd_signal) = (macd.macd[t], macd.signal[t]);
        (cur.stoch_k, cur.stoch_d) = (stoch.k[t], stoch.d[t]);
        cur.volume_avg = if t == 0 { f64::NAN } else { volume_sma[t - 1] };
        cur.ath_before = ath;
        if ath.is_nan() || high[t] > ath {
            ath = high[t];
        }
        if t > 0 {
            evaluate(plan, &prev, &cur, &mut out);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(out)
}
