//! Fixed windows over a stream: a ring buffer, and windowed minimum/maximum in amortised O(1)
//! with monotonic deques.

/// A ring buffer of the last `capacity` values.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    /// The slot the next push writes: once full, also the oldest value.
    next: usize,
    len: usize,
}

impl Ring {
    /// An empty ring holding up to `capacity` values (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
        }
    }

    /// Appends `value`, overwriting the oldest value once full.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: f64) {
        let cap = self.buf.len();
        self.buf[self.next] = value;
        self.next += 1;
        if self.next == cap {
            self.next = 0;
        }
        if self.len < cap {
            self.len += 1;
        }
    }

    /// Whether the ring holds `capacity` values.
    #[inline(always)]
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// The oldest value held, when full.
    #[inline(always)]
    pub(crate) fn oldest(&self) -> f64 {
        self.buf[self.next]
    }

    /// The values held, oldest first.
    #[inline]
    pub(crate) fn chronological(&self) -> impl Iterator<Item = f64> + '_ {
        let (older, newer) = if self.is_full() {
            (&self.buf[self.next..], &self.buf[..self.next])
        } else {
            (&self.buf[..self.len], &[][..])
        };
        older.iter().chain(newer).copied()
    }

    /// The slots in memory order (not age order), as TA-Lib's circular buffers sum them.
    #[inline(always)]
    pub(crate) fn slots(&self) -> &[f64] {
        &self.buf
    }

    pub(crate) fn clear(&mut self) {
        self.buf.fill(0.0);
        self.next = 0;
        self.len = 0;
    }
}

/// A deque of (position, value) pairs kept monotonic, for the extreme of a sliding window.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct MonotonicDeque {
    values: Box<[f64]>,
    positions: Box<[u64]>,
    head: usize,
    len: usize,
}

impl MonotonicDeque {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            values: vec![0.0; capacity].into_boxed_slice(),
            positions: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn slot(&self, offset: usize) -> usize {
        let i = self.head + offset;
        if i >= self.values.len() {
            i - self.values.len()
        } else {
            i
        }
    }

    /// Drops entries older than `first_position`, then appends `(position, value)` after dropping
    /// every entry that `dominated(entry, value)` says can never be the extreme again.
    ///
    /// The window never holds more than `capacity` positions, so neither does the deque.
    #[inline(always)]
    fn push(&mut self, position: u64, value: f64, first_position: u64, dominated: impl Fn(f64, f64) -> bool) {
        while self.len > 0 && self.positions[self.head] < first_position {
            self.head = self.slot(1);
            self.len -= 1;
        }
        while self.len > 0 && dominated(self.values[self.slot(self.len - 1)], value) {
            self.len -= 1;
        }
        if self.len == self.values.len() {
            // Only reachable when positions are not consecutive; keep the newest.
            self.head = self.slot(1);
            self.len -= 1;
        }
        let tail = self.slot(self.len);
        self.values[tail] = value;
        self.positions[tail] = position;
        self.len += 1;
    }

    #[inline(always)]
    fn front(&self) -> f64 {
        self.values[self.head]
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// The highest high and the lowest low over the last `period` bars, in amortised O(1) per bar.
///
/// Non-finite inputs never panic: a NaN is never dominated and never dominates, so it stays in
/// the deque until it leaves the window, and may or may not be reported as the extreme.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct MinMaxWindow {
    period: usize,
    seen: u64,
    highs: MonotonicDeque,
    lows: MonotonicDeque,
}

impl MinMaxWindow {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            seen: 0,
            highs: MonotonicDeque::new(period),
            lows: MonotonicDeque::new(period),
        }
    }

    /// Adds one bar; returns `(highest high, lowest low)` once `period` bars have been seen.
    #[inline(always)]
    pub(crate) fn step(&mut self, high: f64, low: f64) -> Option<(f64, f64)> {
        let position = self.seen;
        self.seen += 1;
        let first = self.seen.saturating_sub(self.period as u64);
        self.highs.push(position, high, first, |kept, new| kept <= new);
        self.lows.push(position, low, first, |kept, new| kept >= new);
        if self.seen >= self.period as u64 {
            Some((self.highs.front(), self.lows.front()))
        } else {
            None
        }
    }

    pub(crate) fn reset(&mut self) {
        self.seen = 0;
        self.highs.clear();
        self.lows.clear();
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
        assert_eq!(ring.slots(), &[4.0, 2.0, 3.0]);
        assert_eq!(ring.chronological().collect::<Vec<_>>(), [2.0, 3.0, 4.0]);
        let mut partial = Ring::new(3);
        partial.push(7.0);
        assert_eq!(partial.chronological().collect::<Vec<_>>(), [7.0]);
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
