//! The mock's request limit: at most N requests admitted in any sliding window (one second for
//! Yahoo), on tokio's clock so that tests can pause and advance it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// At most `limit` admissions in any window of length `window`.
///
/// A request at instant `t` is admitted when fewer than `limit` requests were admitted in
/// `(t − window, t]`; an admission at `a` thus stops counting at exactly `a + window`. Refused
/// requests are not admissions and never count.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: u32,
    window: Duration,
    admitted: VecDeque<Instant>,
}

impl SlidingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            admitted: VecDeque::with_capacity(usize::try_from(limit).unwrap_or(0).min(4096)),
        }
    }

    /// Admits (and records) a request at `now`, or refuses it. `now` must not go backwards.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.admitted.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() < self.limit as usize {
            self.admitted.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn admits_at_most_n_per_window() {
        let t0 = Instant::now();
        let mut limit = SlidingWindow::new(3, ms(1000));
        assert!(limit.admit(t0));
        assert!(limit.admit(t0));
        assert!(limit.admit(t0 + ms(600)));
        assert!(!limit.admit(t0 + ms(600)));
        assert!(!limit.admit(t0 + ms(999)));
        // The two admissions at t0 leave the window at exactly t0 + 1 s.
        assert!(limit.admit(t0 + ms(1000)));
        assert!(limit.admit(t0 + ms(1000)));
        assert!(!limit.admit(t0 + ms(1000)));
        // The one at 600 ms leaves at 1600 ms.
        assert!(!limit.admit(t0 + ms(1599)));
        assert!(limit.admit(t0 + ms(1600)));
    }

    #[test]
    fn refusals_do_not_count() {
        let t0 = Instant::now();
        let mut limit = SlidingWindow::new(1, ms(1000));
        assert!(limit.admit(t0));
        for i in 1..100 {
            assert!(!limit.admit(t0 + ms(i * 5)));
        }
        assert!(limit.admit(t0 + ms(1000)));
    }

    #[test]
    fn zero_refuses_everything() {
        let t0 = Instant::now();
        let mut limit = SlidingWindow::new(0, ms(1000));
        assert!(!limit.admit(t0));
        assert!(!limit.admit(t0 + ms(5000)));
    }

    #[test]
    fn every_window_holds_at_most_n_admissions() {
        // Requests every 7 ms for 5 s against 50/s: check every window of admissions.
        let t0 = Instant::now();
        let mut limit = SlidingWindow::new(50, ms(1000));
        let admitted: Vec<Duration> = (0..715)
            .map(|i| ms(i * 7))
            .filter(|&offset| limit.admit(t0 + offset))
            .collect();
        for (i, &start) in admitted.iter().enumerate() {
            let in_window = admitted[i..].iter().take_while(|&&t| t < start + ms(1000)).count();
            assert!(in_window <= 50, "{in_window} admissions in the window from {start:?}");
        }
        // And the limit is reached, not just respected: 50 in the first second, then 50 a second.
        assert_eq!(admitted.iter().filter(|&&t| t < ms(1000)).count(), 50);
        assert!(admitted.len() >= 250, "{}", admitted.len());
    }
}
