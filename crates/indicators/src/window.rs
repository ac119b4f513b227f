//! Fixed windows over a stream: a ring buffer, and windowed minimum/maximum in amortised O(1)
//! with van Herk/Gil-Werman blocks.

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

    /// How many values the ring holds.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
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
    pub(crate) fn chronological<'a>(&self, slots: &'a [f64]) -> impl DoubleEndedIterator<Item = f64> + 'a {
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
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
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

/// Whether `older` stays the window's highest against `newer`: strictly greater (ties go to the
/// newer value). A plain comparison, so that the choice compiles to a `max` instruction; NaN is
/// handled apart.
#[inline(always)]
fn older_is_higher(older: f64, newer: f64) -> bool {
    older > newer
}

/// Whether `older` stays the window's lowest against `newer`.
#[inline(always)]
fn older_is_lower(older: f64, newer: f64) -> bool {
    older < newer
}

/// The streaming side of [`MinMaxWindow`] for one extreme: the running extreme of the current
/// block, and the extremes of the previous block from each offset to its end.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct BlockSide {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    prefix: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    suffix: Box<[f64]>,
}

impl BlockSide {
    fn new(period: usize) -> Self {
        Self {
            prefix: f64::NAN,
            suffix: vec![f64::NAN; period.max(1)].into_boxed_slice(),
        }
    }

    /// Recomputes the suffix extremes at offsets `from..` from the previous block's values at
    /// those offsets (`block`, oldest first).
    #[inline(never)]
    fn suffixes(
        &mut self,
        block: impl DoubleEndedIterator<Item = f64>,
        from: usize,
        older_wins: impl Fn(f64, f64) -> bool,
    ) {
        let mut running: Option<f64> = None;
        for (offset, value) in (from..self.suffix.len()).rev().zip(block.rev()) {
            let extreme = match running {
                Some(newer) if !older_wins(value, newer) => newer,
                _ => value,
            };
            running = Some(extreme);
            self.suffix[offset] = extreme;
        }
    }
}

/// The running part of a [`MinMaxWindow`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct MinMaxCore {
    seen: u64,
    /// One past the position of the latest NaN high (0: none yet).
    nan_high_end: u64,
    /// One past the position of the latest NaN low (0: none yet).
    nan_low_end: u64,
}

/// The highest high and the lowest low over the last `period` bars, in amortised O(1) per bar
/// and O(period) memory, by the block method of van Herk and Gil-Werman.
///
/// The bars fall in blocks of `period` aligned on the first bar. A window spans the tail of one
/// block and the head of the next, so its extreme is the better of the previous block's extreme
/// from the window's first offset on (kept per offset, recomputed once per block: O(1) amortised)
/// and the current block's running extreme. No branch depends on the prices, unlike a monotonic
/// deque's pops, which the processor mispredicts on real prices (a deque made streaming STOCH
/// cost 2.2 times its batch loop; see `docs/PERFORMANCE.md`). The batch loop
/// ([`MinMaxWindow::run`]) runs the same method over whole columns. Both give the extreme of the
/// window, the newest of equal values (which matters only for the sign of a zero), and NaN while
/// a NaN is in the window.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct MinMaxWindow {
    period: u64,
    core: MinMaxCore,
    /// The last `period` highs and lows, oldest first through the cursor.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    history: (Box<[f64]>, Box<[f64]>),
    history_cursor: Cursor,
    highs: BlockSide,
    lows: BlockSide,
}

/// Working memory of [`MinMaxWindow::run`], which a caller running it again and again (the
/// engine) keeps so as not to allocate per run. Not part of any state's value: always equal,
/// cloned empty.
#[derive(Default)]
pub(crate) struct Scratch(Vec<f64>);

impl Scratch {
    /// Room for `len` values, reusing the buffer; what it holds is left over from earlier runs
    /// (every caller writes a value before reading it). A new buffer comes zeroed from the
    /// allocator, which is cheaper than filling it.
    fn room(&mut self, len: usize) -> &mut [f64] {
        if self.0.len() < len {
            self.0 = vec![0.0; len];
        }
        &mut self.0[..len]
    }
}

impl Clone for Scratch {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl MinMaxWindow {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period: period as u64,
            core: MinMaxCore::default(),
            history: (slots(period), slots(period)),
            history_cursor: Cursor::default(),
            highs: BlockSide::new(period),
            lows: BlockSide::new(period),
        }
    }

    /// How many of the next bars give no extremes yet.
    pub(crate) fn warming(&self) -> usize {
        (self.period - 1).saturating_sub(self.core.seen) as usize
    }

    /// Adds one bar; returns `(highest high, lowest low)` once `period` bars have been seen.
    #[inline(always)]
    pub(crate) fn step(&mut self, high: f64, low: f64) -> Option<(f64, f64)> {
        let period = self.period as usize;
        let offset = (self.core.seen % self.period) as usize;
        if offset == 0 && self.core.seen > 0 && period > 1 {
            // A block is complete: its suffix extremes serve the next `period − 1` windows.
            self.start_block();
        }
        let position = self.core.seen;
        self.core.seen += 1;
        if high.is_nan() {
            self.core.nan_high_end = self.core.seen;
        }
        if low.is_nan() {
            self.core.nan_low_end = self.core.seen;
        }
        let mut cursor = self.history_cursor;
        cursor.push(&mut self.history.0, high);
        self.history_cursor.push(&mut self.history.1, low);
        let pick_high = |older: f64, newer: f64| if older_is_higher(older, newer) { older } else { newer };
        let pick_low = |older: f64, newer: f64| if older_is_lower(older, newer) { older } else { newer };
        self.highs.prefix = if offset == 0 {
            high
        } else {
            pick_high(self.highs.prefix, high)
        };
        self.lows.prefix = if offset == 0 {
            low
        } else {
            pick_low(self.lows.prefix, low)
        };
        if self.core.seen < self.period {
            return None;
        }
        let (highest, lowest) = if offset + 1 == period {
            (self.highs.prefix, self.lows.prefix)
        } else {
            (
                pick_high(self.highs.suffix[offset + 1], self.highs.prefix),
                pick_low(self.lows.suffix[offset + 1], self.lows.prefix),
            )
        };
        let first = position + 1 - self.period;
        let highest = if self.core.nan_high_end > first {
            f64::NAN
        } else {
            highest
        };
        let lowest = if self.core.nan_low_end > first {
            f64::NAN
        } else {
            lowest
        };
        Some((highest, lowest))
    }

    /// The history holds the block just completed (`period` values): keep its suffix extremes.
    #[cold]
    fn start_block(&mut self) {
        self.highs
            .suffixes(self.history_cursor.chronological(&self.history.0), 0, older_is_higher);
        self.lows
            .suffixes(self.history_cursor.chronological(&self.history.1), 0, older_is_lower);
    }

    /// Adds every bar; writes the extremes (NaN while warming up).
    #[inline(never)]
    pub(crate) fn run(
        &mut self,
        scratch: &mut Scratch,
        high: &[f64],
        low: &[f64],
        highest: &mut [f64],
        lowest: &mut [f64],
    ) {
        let period = self.period as usize;
        let rows = high.len().min(low.len()).min(highest.len()).min(lowest.len());
        if rows < 2 * period {
            // Too few rows for whole columns to pay: one bar at a time.
            for row in 0..rows {
                (highest[row], lowest[row]) = self.step(high[row], low[row]).unwrap_or((f64::NAN, f64::NAN));
            }
            return;
        }
        // The window of the first new rows reaches back into the history: one scratch buffer
        // holds the sequence and the two running extremes.
        let past = self.history_cursor.len().min(period - 1);
        let skip = self.history_cursor.len() - past;
        let len = past + rows;
        let (sequence, runs) = scratch.room(3 * len).split_at_mut(len);
        for (side, (column, out)) in [(high, &mut *highest), (low, &mut *lowest)].into_iter().enumerate() {
            let history = if side == 0 { &self.history.0 } else { &self.history.1 };
            for (slot, value) in sequence
                .iter_mut()
                .zip(self.history_cursor.chronological(history).skip(skip))
            {
                *slot = value;
            }
            sequence[past..].copy_from_slice(&column[..rows]);
            if side == 0 {
                block_extremes(sequence, runs, period, past, &mut out[..rows], older_is_higher);
            } else {
                block_extremes(sequence, runs, period, past, &mut out[..rows], older_is_lower);
            }
        }
        let warm = self.warming().min(rows);
        highest[..warm].fill(f64::NAN);
        lowest[..warm].fill(f64::NAN);
        let before = self.core.seen;
        if let Some(at) = high[..rows].iter().rposition(|x| x.is_nan()) {
            self.core.nan_high_end = before + at as u64 + 1;
        }
        if let Some(at) = low[..rows].iter().rposition(|x| x.is_nan()) {
            self.core.nan_low_end = before + at as u64 + 1;
        }
        self.core.seen = before + rows as u64;
        for row in rows - period..rows {
            let mut cursor = self.history_cursor;
            cursor.push(&mut self.history.0, high[row]);
            self.history_cursor.push(&mut self.history.1, low[row]);
        }
        self.resume(scratch);
    }

    /// After the batch loop, restores what streaming keeps: the previous block's suffix
    /// extremes for the offsets still in the window, and the current block's running extreme.
    fn resume(&mut self, scratch: &mut Scratch) {
        let period = self.period as usize;
        let offset = (self.core.seen % self.period) as usize;
        if period == 1 || offset == 0 {
            return;
        }
        // The history holds the last `period` bars: the previous block's last `period − offset`
        // values, then the current block's `offset` values.
        let pick_high = |older: f64, newer: f64| if older_is_higher(older, newer) { older } else { newer };
        let pick_low = |older: f64, newer: f64| if older_is_lower(older, newer) { older } else { newer };
        let values = scratch.room(period);
        for (slot, value) in values
            .iter_mut()
            .zip(self.history_cursor.chronological(&self.history.0))
        {
            *slot = value;
        }
        let (old, new) = values.split_at(period - offset);
        self.highs.suffixes(old.iter().copied(), offset, older_is_higher);
        self.highs.prefix = new.iter().copied().reduce(pick_high).unwrap_or(f64::NAN);
        for (slot, value) in values
            .iter_mut()
            .zip(self.history_cursor.chronological(&self.history.1))
        {
            *slot = value;
        }
        let (old, new) = values.split_at(period - offset);
        self.lows.suffixes(old.iter().copied(), offset, older_is_lower);
        self.lows.prefix = new.iter().copied().reduce(pick_low).unwrap_or(f64::NAN);
    }

    /// Back to the state of [`MinMaxWindow::new`], keeping the buffers.
    pub(crate) fn reset(&mut self) {
        self.core = MinMaxCore::default();
        self.history.0.fill(0.0);
        self.history.1.fill(0.0);
        self.history_cursor = Cursor::default();
        for side in [&mut self.highs, &mut self.lows] {
            side.prefix = f64::NAN;
            side.suffix.fill(f64::NAN);
        }
    }
}

/// The extreme of every window of `period` values ending at `sequence[past..]`, written to
/// `out`, by van Herk and Gil-Werman's method: within blocks of `period` values, running extremes
/// from each block's start (forward) and to its end (backward); a window spans the tail of one
/// block and the head of the next, so its extreme is the better of the two. Three comparisons
/// per value, no data-dependent branch. `older_wins(older, newer)` orders two values (ties go to
/// the newer); a window holding a NaN gives NaN. Windows reaching before `sequence[0]` are
/// computed over what there is (the caller blanks the warm-up rows). `runs` is scratch room for
/// twice the sequence.
fn block_extremes(
    sequence: &[f64],
    runs: &mut [f64],
    period: usize,
    past: usize,
    out: &mut [f64],
    older_wins: impl Fn(f64, f64) -> bool,
) {
    let pick = |older: f64, newer: f64| if older_wins(older, newer) { older } else { newer };
    let len = sequence.len();
    let (forward, backward) = runs.split_at_mut(len);
    for block in (0..len).step_by(period) {
        let end = (block + period).min(len);
        let mut running = sequence[block];
        forward[block] = running;
        for i in block + 1..end {
            running = pick(running, sequence[i]);
            forward[i] = running;
        }
        let mut running = sequence[end - 1];
        backward[end - 1] = running;
        for i in (block..end - 1).rev() {
            running = pick(sequence[i], running);
            backward[i] = running;
        }
    }
    // `offset` is the place of the window's first position in its block; `nan_end` is one past
    // the latest NaN so far.
    let mut offset = (past + 1) % period;
    let mut nan_end = sequence[..past].iter().rposition(|x| x.is_nan()).map_or(0, |at| at + 1);
    for (row, slot) in out.iter_mut().enumerate() {
        let last = past + row;
        if sequence[last].is_nan() {
            nan_end = last + 1;
        }
        let extreme = if last + 1 < period {
            // A window cut short by the start of the sequence: all of it is in the first block.
            forward[last]
        } else if offset == 0 {
            forward[last]
        } else {
            pick(backward[last + 1 - period], forward[last])
        };
        *slot = if nan_end + period > last + 1 { f64::NAN } else { extreme };
        offset += 1;
        if offset == period {
            offset = 0;
        }
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

    /// The naive extremes of the window ending at `t`: NaN if it holds a NaN, else the maximum
    /// (minimum), the newest of equal values.
    fn naive(values: &[f64], period: usize, t: usize, higher: bool) -> f64 {
        let window = &values[t + 1 - period..=t];
        if window.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        window
            .iter()
            .copied()
            .reduce(|older, newer| {
                if (higher && older > newer) || (!higher && older < newer) {
                    older
                } else {
                    newer
                }
            })
            .unwrap_or(f64::NAN)
    }

    proptest::proptest! {
        /// Streaming steps and batch runs, mixed in any order, give the naive extremes bit for bit:
        /// signed zeros, ties and NaN included.
        #[test]
        fn steps_and_runs_in_any_mix_match_the_naive_scan(
            period in 1usize..40,
            values in proptest::collection::vec(
                proptest::prop_oneof![8 => -3i8..4, 1 => proptest::strategy::Just(i8::MIN)],
                0..400,
            ),
            cuts in proptest::collection::vec((0usize..150, proptest::bool::ANY), 1..8),
        ) {
            // Zeros of both signs, so that ties between equal values show which one is kept.
            let values: Vec<f64> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| match v {
                    i8::MIN => f64::NAN,
                    0 if i % 3 == 0 => -0.0,
                    v => f64::from(v),
                })
                .collect();
            let lows: Vec<f64> = values.iter().enumerate().map(|(i, v)| if i % 2 == 0 { -v } else { *v }).collect();
            let mut window = MinMaxWindow::new(period);
            let mut at = 0;
            let mut cuts = cuts.into_iter().cycle();
            while at < values.len() {
                let (length, batch) = cuts.next().unwrap_or((1, false));
                let end = (at + length.max(1)).min(values.len());
                let (mut highest, mut lowest) = (vec![0.0; end - at], vec![0.0; end - at]);
                if batch {
                    window.run(&mut Scratch::default(), &values[at..end], &lows[at..end], &mut highest, &mut lowest);
                } else {
                    for t in at..end {
                        (highest[t - at], lowest[t - at]) =
                            window.step(values[t], lows[t]).unwrap_or((f64::NAN, f64::NAN));
                    }
                }
                for t in at..end {
                    let (h, l) = (highest[t - at], lowest[t - at]);
                    if t + 1 < period {
                        proptest::prop_assert!(h.is_nan() && l.is_nan());
                    } else {
                        let (nh, nl) = (naive(&values, period, t, true), naive(&lows, period, t, false));
                        proptest::prop_assert!(h.to_bits() == nh.to_bits() || (h.is_nan() && nh.is_nan()), "high at {}: {} vs {}", t, h, nh);
                        proptest::prop_assert!(l.to_bits() == nl.to_bits() || (l.is_nan() && nl.is_nan()), "low at {}: {} vs {}", t, l, nl);
                    }
                }
                at = end;
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
