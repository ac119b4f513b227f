//! Fixed windows over a stream: a ring buffer, and windowed minimum/maximum in amortised O(1)
//! with monotonic deques.

/// Where a ring buffer stands: the slot the next value goes to, and how many values it holds.
///
/// The cursor is `Copy` and kept apart from the slots, so that a loop over many values holds it
/// (and the running sums next to it) in registers: the optimiser cannot otherwise prove that the
/// stores into the slots leave them alone, and reloads them from memory at every value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Cursor {
    /// The slot the next push writes: once full, also the oldest value.
    next: usize,
    len: usize,
}

impl Cursor {
    /// Appends `value` to the ring `slots`, overwriting the oldest value once full.
    #[inline(always)]
    pub(crate) fn push(&mut self, slots: &mut [f64], value: f64) {
        slots[self.next] = value;
        self.next += 1;
        if self.next == slots.len() {
            self.next = 0;
        }
        if self.len < slots.len() {
            self.len += 1;
        }
    }

    /// The slot the next push writes.
    #[inline(always)]
    pub(crate) fn next_slot(&self) -> usize {
        self.next
    }

    /// Whether the ring holds as many values as it has slots.
    #[inline(always)]
    pub(crate) fn is_full(&self, slots: &[f64]) -> bool {
        self.len == slots.len()
    }

    /// The oldest value held, when full.
    #[inline(always)]
    pub(crate) fn oldest(&self, slots: &[f64]) -> f64 {
        slots[self.next]
    }

    /// The values held, oldest first.
    #[inline]
    pub(crate) fn chronological<'a>(&self, slots: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        let (older, newer) = if self.is_full(slots) {
            (&slots[self.next..], &slots[..self.next])
        } else {
            (&slots[..self.len], &[][..])
        };
        older.iter().chain(newer).copied()
    }
}

/// A windowed step from one series to another, split into a `Copy` core (running sums, cursor)
/// and the window it indexes, so that batch loops keep the core in registers (see [`Cursor`]).
/// The window's length is the period.
pub(crate) trait WindowKernel {
    /// The running values.
    type Core: Copy;

    /// The core and the window, borrowed apart.
    fn parts(&mut self) -> (&mut Self::Core, &mut [f64]);

    /// Adds `x`; the output once the window is full.
    fn advance(core: &mut Self::Core, window: &mut [f64], x: f64) -> Option<f64>;

    /// Replaces every value of `values` by its output, NaN while warming up. (Not inlined: in a
    /// function of its own the loop gets every register it needs.)
    #[inline(never)]
    fn run_in_place(&mut self, values: &mut [f64]) {
        let (core, window) = self.parts();
        let mut local = *core;
        for value in values {
            *value = Self::advance(&mut local, window, *value).unwrap_or(f64::NAN);
        }
        *core = local;
    }
}

/// Slots for a ring of `capacity` values (at least one).
pub(crate) fn slots(capacity: usize) -> Box<[f64]> {
    vec![0.0; capacity.max(1)].into_boxed_slice()
}

/// A ring buffer of the last `capacity` values.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Ring {
    slots: Box<[f64]>,
    cursor: Cursor,
}

impl Ring {
    /// An empty ring holding up to `capacity` values (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: slots(capacity),
            cursor: Cursor::default(),
        }
    }

    /// Appends `value`, overwriting the oldest value once full.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: f64) {
        self.cursor.push(&mut self.slots, value);
    }

    /// Whether the ring holds `capacity` values.
    #[inline(always)]
    pub(crate) fn is_full(&self) -> bool {
        self.cursor.is_full(&self.slots)
    }

    /// The oldest value held, when full.
    #[inline(always)]
    pub(crate) fn oldest(&self) -> f64 {
        self.cursor.oldest(&self.slots)
    }

    pub(crate) fn clear(&mut self) {
        self.slots.fill(0.0);
        self.cursor = Cursor::default();
    }
}

/// Where a monotonic deque stands in its slots: `Copy`, for the same reason as [`Cursor`].
/// `head` and `tail` count pushes and pops; masked, they index the slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct DequeCursor {
    head: u64,
    tail: u64,
}

/// The slots of a deque of (position, value) pairs: a power of two of them, at least the window.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct DequeSlots {
    values: Box<[f64]>,
    positions: Box<[u64]>,
}

impl DequeSlots {
    fn new(window: usize) -> Self {
        let capacity = window.max(1).next_power_of_two();
        Self {
            values: vec![0.0; capacity].into_boxed_slice(),
            positions: vec![0; capacity].into_boxed_slice(),
        }
    }
}

impl DequeCursor {
    /// Drops the entry older than `first_position` (one at most, as positions are consecutive),
    /// then appends `(position, value)` after dropping every entry that `dominated(entry, value)`
    /// says can never be the extreme again. Returns the front: the extreme of the window.
    ///
    /// The window never holds more positions than there are slots, so neither does the deque.
    #[inline(always)]
    fn push(
        &mut self,
        slots: &mut DequeSlots,
        position: u64,
        value: f64,
        first_position: u64,
        dominated: impl Fn(f64, f64) -> bool,
    ) -> f64 {
        let mask = slots.values.len() as u64 - 1;
        let at = |counter: u64| (counter & mask) as usize;
        if self.head < self.tail && slots.positions[at(self.head)] < first_position {
            self.head += 1;
        }
        while self.head < self.tail && dominated(slots.values[at(self.tail - 1)], value) {
            self.tail -= 1;
        }
        slots.values[at(self.tail)] = value;
        slots.positions[at(self.tail)] = position;
        self.tail += 1;
        slots.values[at(self.head)]
    }
}

/// The running part of a [`MinMaxWindow`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct MinMaxCore {
    seen: u64,
    highs: DequeCursor,
    lows: DequeCursor,
}

/// The highest high and the lowest low over the last `period` bars, in amortised O(1) per bar.
///
/// Non-finite inputs never panic: a NaN is never dominated and never dominates, so it stays in
/// the deque until it leaves the window, and may or may not be reported as the extreme.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct MinMaxWindow {
    period: u64,
    core: MinMaxCore,
    highs: DequeSlots,
    lows: DequeSlots,
}

impl MinMaxWindow {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period: period as u64,
            core: MinMaxCore::default(),
            highs: DequeSlots::new(period),
            lows: DequeSlots::new(period),
        }
    }

    #[inline(always)]
    fn advance(
        period: u64,
        core: &mut MinMaxCore,
        highs: &mut DequeSlots,
        lows: &mut DequeSlots,
        high: f64,
        low: f64,
    ) -> Option<(f64, f64)> {
        let position = core.seen;
        core.seen += 1;
        let first = core.seen.saturating_sub(period);
        let highest = core.highs.push(highs, position, high, first, |kept, new| kept <= new);
        let lowest = core.lows.push(lows, position, low, first, |kept, new| kept >= new);
        if core.seen >= period {
            Some((highest, lowest))
        } else {
            None
        }
    }

    /// Adds one bar; returns `(highest high, lowest low)` once `period` bars have been seen.
    #[inline(always)]
    pub(crate) fn step(&mut self, high: f64, low: f64) -> Option<(f64, f64)> {
        Self::advance(self.period, &mut self.core, &mut self.highs, &mut self.lows, high, low)
    }

    /// Adds every bar; writes the extremes (NaN while warming up).
    #[inline(never)]
    pub(crate) fn run(&mut self, high: &[f64], low: &[f64], highest: &mut [f64], lowest: &mut [f64]) {
        let mut core = self.core;
        for (((&h, &l), hh), ll) in high.iter().zip(low).zip(highest.iter_mut()).zip(lowest.iter_mut()) {
            (*hh, *ll) = Self::advance(self.period, &mut core, &mut self.highs, &mut self.lows, h, l)
                .unwrap_or((f64::NAN, f64::NAN));
        }
        self.core = core;
    }

    pub(crate) fn reset(&mut self) {
        self.core = MinMaxCore::default();
    }
}

/// The value `period` steps back: `x[t - period]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Lag {
    ring: Ring,
}

impl Lag {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            ring: Ring::new(period),
        }
    }

    /// Adds `value`; returns the value `period` steps back once there is one.
    #[inline(always)]
    pub(crate) fn step(&mut self, value: f64) -> Option<f64> {
        let old = if self.ring.is_full() {
            Some(self.ring.oldest())
        } else {
            None
        };
        self.ring.push(value);
        old
    }

    /// Adds every value of `input`; writes the value `period` steps back (NaN while there is none).
    #[inline(never)]
    pub(crate) fn run(&mut self, input: &[f64], earlier: &mut [f64]) {
        let mut cursor = self.ring.cursor;
        let slots = &mut self.ring.slots[..];
        for (&x, e) in input.iter().zip(earlier) {
            *e = if cursor.is_full(slots) {
                cursor.oldest(slots)
            } else {
                f64::NAN
            };
            cursor.push(slots, x);
        }
        self.ring.cursor = cursor;
    }

    pub(crate) fn reset(&mut self) {
        self.ring.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_reports_its_oldest_value_once_full() {
        let mut ring = Ring::new(3);
        for x in [1.0, 2.0] {
            ring.push(x);
        }
        assert!(!ring.is_full());
        ring.push(3.0);
        assert!(ring.is_full());
        assert_eq!(ring.oldest(), 1.0);
        ring.push(4.0);
        assert_eq!(ring.oldest(), 2.0);
        assert_eq!(&ring.slots[..], &[4.0, 2.0, 3.0]);
        assert_eq!(
            ring.cursor.chronological(&ring.slots).collect::<Vec<_>>(),
            [2.0, 3.0, 4.0]
        );
        let mut partial = Ring::new(3);
        partial.push(7.0);
        assert_eq!(partial.cursor.chronological(&partial.slots).collect::<Vec<_>>(), [7.0]);
    }

    #[test]
    fn min_max_window_matches_naive_scan() {
        let highs: Vec<f64> = (0..200).map(|i| ((i * 7919) % 101) as f64).collect();
        let lows: Vec<f64> = highs.iter().map(|h| h - ((*h as i64 % 5) as f64)).collect();
        for period in [1, 2, 3, 5, 14, 50, 250] {
            let mut window = MinMaxWindow::new(period);
            for i in 0..highs.len() {
                let got = window.step(highs[i], lows[i]);
                if i + 1 < period {
                    assert_eq!(got, None);
                } else {
                    let from = i + 1 - period;
                    let hh = highs[from..=i].iter().copied().fold(f64::MIN, f64::max);
                    let ll = lows[from..=i].iter().copied().fold(f64::MAX, f64::min);
                    assert_eq!(got, Some((hh, ll)), "period {period} at {i}");
                }
            }
        }
    }

    #[test]
    fn min_max_window_survives_nan() {
        let mut window = MinMaxWindow::new(3);
        for x in [1.0, f64::NAN, 3.0, f64::NAN, f64::NAN, f64::NAN, 2.0, 1.0, 0.5] {
            window.step(x, x);
        }
        assert_eq!(window.step(4.0, 4.0), Some((4.0, 0.5)));
    }

    #[test]
    fn lag_returns_the_value_period_steps_back() {
        let mut lag = Lag::new(2);
        assert_eq!(lag.step(1.0), None);
        assert_eq!(lag.step(2.0), None);
        assert_eq!(lag.step(3.0), Some(1.0));
        assert_eq!(lag.step(4.0), Some(2.0));
    }
}
