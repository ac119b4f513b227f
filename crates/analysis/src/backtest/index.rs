//! [`SignalIndex`]: one symbol's signals placed on its bars, built once and shared by every
//! strategy backtested over them.

use std::collections::HashMap;

use finstage_domain::{Bar, BarTime};

use super::strategy::Trigger;
use crate::error::AnalysisError;
use crate::signal::{Signal, SignalKind};

/// The signal kinds that fired on each bar of one symbol's history.
///
/// Building it checks the inputs once (bars strictly increasing in time, every signal on a
/// bar, one symbol) and numbers the distinct kinds that fired; each bar then holds the set of
/// its kinds as a bitset (one `u64` word per 64 distinct kinds), so that a strategy's trigger
/// is one mask test per bar ([`CompiledTrigger`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalIndex {
    /// The distinct kinds, numbered by position.
    table: Vec<SignalKind>,
    /// Words per bar: `max(1, ⌈table.len() / 64⌉)`.
    words: usize,
    /// `sets[i * words..(i + 1) * words]` is bar `i`'s set.
    sets: Vec<u64>,
    first: Option<BarTime>,
    last: Option<BarTime>,
}

/// Checks that `bars` are in strictly increasing time.
///
/// # Errors
/// [`AnalysisError::InvalidInput`] naming the first bar out of order.
pub(crate) fn check_bars(bars: &[Bar]) -> Result<(), AnalysisError> {
    for (i, pair) in bars.windows(2).enumerate() {
        if pair[0].time() >= pair[1].time() {
            return Err(AnalysisError::InvalidInput(format!(
                "bars must be in strictly increasing time: bar {} ({}) is not after bar {i} ({})",
                i + 1,
                pair[1].time(),
                pair[0].time(),
            )));
        }
    }
    Ok(())
}

/// A time as a key that orders as [`BarTime`]'s `Ord` does, cheap to compare.
fn key(time: BarTime) -> (i64, u32, bool) {
    let utc = time.to_utc();
    (utc.timestamp(), utc.timestamp_subsec_nanos(), !time.is_date())
}

impl SignalIndex {
    /// Places `signals` (in any order; time order is fastest) on `bars` (strictly increasing
    /// in time).
    ///
    /// # Errors
    /// [`AnalysisError::InvalidInput`] when the bars are not in strictly increasing time, a
    /// signal's time is the time of no bar, or the signals are of more than one symbol.
    pub fn new(bars: &[Bar], signals: &[Signal]) -> Result<Self, AnalysisError> {
        check_bars(bars)?;
        if let Some(first) = signals.first()
            && let Some(other) = signals.iter().find(|signal| signal.symbol != first.symbol)
        {
            return Err(AnalysisError::InvalidInput(format!(
                "signals of one symbol expected, got {} and {}",
                first.symbol, other.symbol
            )));
        }
        let keys: Vec<(i64, u32, bool)> = bars.iter().map(|bar| key(bar.time())).collect();
        let mut numbers: HashMap<SignalKind, usize> = HashMap::new();
        let mut table = Vec::new();
        let mut placed = Vec::with_capacity(signals.len());
        // Signals usually come in time order: look at the previous signal's bar first.
        let mut cursor = 0;
        for signal in signals {
            let at = if bars.get(cursor).is_some_and(|bar| bar.time() == signal.time) {
                cursor
            } else {
                keys.binary_search(&key(signal.time)).map_err(|_| {
                    AnalysisError::InvalidInput(format!("signal {} at {} is on no bar", signal.kind, signal.time))
                })?
            };
            cursor = at;
            let number = *numbers.entry(signal.kind).or_insert_with(|| {
                table.push(signal.kind);
                table.len() - 1
            });
            placed.push((at, number));
        }
        let words = table.len().div_ceil(64).max(1);
        let mut sets = vec![0_u64; bars.len() * words];
        for (at, number) in placed {
            sets[at * words + number / 64] |= 1 << (number % 64);
        }
        Ok(Self {
            table,
            words,
            sets,
            first: bars.first().map(Bar::time),
            last: bars.last().map(Bar::time),
        })
    }

    /// The number of bars it was built over.
    pub fn bars(&self) -> usize {
        self.sets.len() / self.words
    }

    /// The distinct kinds that fired on bar `i` (empty past the end), in the order the index
    /// numbered them.
    pub fn kinds_at(&self, i: usize) -> Vec<SignalKind> {
        self.table
            .iter()
            .enumerate()
            .filter(|&(number, _)| {
                self.set(i)
                    .get(number / 64)
                    .is_some_and(|word| word >> (number % 64) & 1 == 1)
            })
            .map(|(_, &kind)| kind)
            .collect()
    }

    /// Bar `i`'s set (empty past the end).
    fn set(&self, i: usize) -> &[u64] {
        self.sets.get(i * self.words..(i + 1) * self.words).unwrap_or(&[])
    }

    /// `trigger` as masks over this index's numbering.
    pub(crate) fn compile(&self, trigger: &Trigger) -> CompiledTrigger {
        let mut mask = vec![0_u64; self.words];
        let mut possible = true;
        for kind in trigger.kinds() {
            match self.table.iter().position(|k| k == kind) {
                Some(number) => mask[number / 64] |= 1 << (number % 64),
                None => possible = false,
            }
        }
        match trigger {
            Trigger::Any(_) => CompiledTrigger::Any(mask),
            // A combination with a kind that never fired never fires.
            Trigger::All(_) if possible => CompiledTrigger::All(mask),
            Trigger::All(_) => CompiledTrigger::Never,
        }
    }

    /// Whether `trigger` fires on bar `i`.
    #[inline]
    pub(crate) fn fires(&self, trigger: &CompiledTrigger, i: usize) -> bool {
        let set = self.set(i);
        match trigger {
            CompiledTrigger::Any(mask) => set.iter().zip(mask).any(|(s, m)| s & m != 0),
            CompiledTrigger::All(mask) => set.iter().zip(mask).all(|(s, m)| s & m == *m),
            CompiledTrigger::Never => false,
        }
    }

    /// Whether this index was built over `bars` (same length, same first and last time): a
    /// cheap guard against handing a backtest another symbol's index.
    pub(crate) fn check_fits(&self, bars: &[Bar]) -> Result<(), AnalysisError> {
        let fits = self.bars() == bars.len()
            && self.first == bars.first().map(Bar::time)
            && self.last == bars.last().map(Bar::time);
        if fits {
            Ok(())
        } else {
            Err(AnalysisError::InvalidInput(
                "the signal index was built over other bars".to_owned(),
            ))
        }
    }
}

/// A [`Trigger`] as bit masks over one [`SignalIndex`]'s numbering of kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CompiledTrigger {
    /// Fires when the bar's set meets the mask.
    Any(Vec<u64>),
    /// Fires when the bar's set holds the whole mask.
    All(Vec<u64>),
    /// A combination including a kind that never fired.
    Never,
}

#[cfg(test)]
mod tests {
    use chrono::{Days, NaiveDate};
    use finstage_domain::Symbol;

    use super::*;
    use crate::signal::{SignalValues, Timeframe};

    /// 70 distinct kinds (two words per bar): the masks agree with [`Trigger::fires`] on the
    /// kinds of every bar.
    #[test]
    fn compiled_triggers_agree_with_the_kinds_over_several_words() {
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let bars: Vec<Bar> = (0..40)
            .map(|i| Bar::new(first + Days::new(i), 10.0, 10.0, 10.0, 10.0, 0).unwrap())
            .collect();
        let symbol = Symbol::parse("X").unwrap();
        let kind = |p: u16| SignalKind::MaBreakout { period: p };
        let mut signals = Vec::new();
        for p in 1..=70_u16 {
            for at in [usize::from(p) % 40, usize::from(p * 7) % 40, 39 - usize::from(p) % 13] {
                let time = bars[at].time();
                signals.push(Signal::new(
                    symbol,
                    kind(p),
                    Timeframe::DAILY,
                    time,
                    10.0,
                    1.0,
                    SignalValues::new(),
                ));
            }
        }
        let index = SignalIndex::new(&bars, &signals).unwrap();
        assert_eq!(index.words, 2);
        let triggers = [
            Trigger::Any(vec![kind(3), kind(68)]),
            Trigger::Any(vec![kind(200)]),
            Trigger::All(vec![kind(1), kind(66)]),
            Trigger::All(vec![kind(5), kind(200)]),
            Trigger::All(vec![kind(65)]),
        ];
        for trigger in &triggers {
            let compiled = index.compile(trigger);
            for i in 0..bars.len() {
                assert_eq!(
                    index.fires(&compiled, i),
                    trigger.fires(&index.kinds_at(i)),
                    "{trigger:?} at {i}"
                );
            }
        }
        let fired = (0..bars.len())
            .filter(|&i| index.fires(&index.compile(&triggers[0]), i))
            .count();
        assert!(fired > 0);
        assert_eq!(index.kinds_at(40), []);
    }
}
