//! What the documentation promises about allocation, counted: `Computation::push` and streaming
//! `update`s allocate nothing, and a reset `Computation` writing into reused columns allocates
//! nothing after the first symbol.
//!
//! The test binary's allocator counts the allocations of the current thread only, so tests
//! running in parallel do not disturb each other.

#![allow(unsafe_code)] // a counting global allocator must implement the unsafe `GlobalAlloc`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use finstage_indicators::{Columns, Computation, Indicator, IndicatorSpec, OutputSpec};

use crate::support::{golden_path, load_bars, repo_path};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the thread-local counter
// is const-initialised, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn every_default() -> Vec<OutputSpec> {
    IndicatorSpec::all_defaults().into_iter().map(OutputSpec::all).collect()
}

#[test]
fn push_allocates_nothing_once_warm() {
    let (_, bars) = load_bars(&golden_path("synthetic_input.csv"));
    let candles: Vec<_> = bars.view().candles().collect();
    let mut computation = Computation::new(&every_default());
    // The first push sizes the scratch columns and the row.
    computation.push(candles[0]);
    let mut sum = 0.0;
    let counted = allocations(|| {
        for &bar in &candles[1..] {
            sum += computation.push(bar).iter().filter(|v| v.is_finite()).sum::<f64>();
        }
    });
    assert!(sum.is_finite() && sum != 0.0);
    assert_eq!(counted, 0, "{} pushes allocated {counted} times", candles.len() - 1);
}

#[test]
fn reused_computation_allocates_nothing_after_the_first_symbol() {
    let symbols: Vec<_> = ["AAPL.csv", "MSFT.csv", "IBM.csv"]
        .iter()
        .map(|file| load_bars(&repo_path(&format!("data/seed/{file}"))).1)
        .collect();
    let mut computation = Computation::new(&every_default());
    let mut columns = Columns::default();
    // The longest symbol first: the columns then have room for every other.
    let mut order: Vec<_> = symbols.iter().collect();
    order.sort_by_key(|bars| std::cmp::Reverse(bars.len()));
    computation.extend_into(&order[0].view(), &mut columns).unwrap();
    let counted = allocations(|| {
        for bars in &order {
            computation.reset();
            computation.extend_into(&bars.view(), &mut columns).unwrap();
            assert_eq!(columns.len(), bars.len());
        }
    });
    assert_eq!(counted, 0);
}

#[test]
fn streaming_updates_allocate_nothing() {
    let (_, bars) = load_bars(&golden_path("synthetic_input.csv"));
    let candles: Vec<_> = bars.view().candles().collect();
    let mut stoch = finstage_indicators::Stoch::default().state();
    let mut cci = finstage_indicators::Cci::default().state();
    let mut macd = finstage_indicators::Macd::default().state();
    let counted = allocations(|| {
        for bar in &candles {
            std::hint::black_box((stoch.update(*bar), cci.update(*bar), macd.update(bar.close)));
        }
    });
    assert_eq!(counted, 0);
}
