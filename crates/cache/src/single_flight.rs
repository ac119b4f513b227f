//! Request coalescing: concurrent calls for one key share one execution.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// Coalesces concurrent work by key: while one caller (the leader) runs `f` for a key, every other
/// caller of [`run`](Self::run) with an equal key waits for the leader's result instead of running its
/// own `f`, and receives a clone of it.
///
/// - Only concurrent calls are coalesced: once the leader has finished, the next call runs `f` again
///   (there is no caching here; put a [`Cache`](crate::Cache) in front for that).
/// - Cancel-safe: if the leader's future is dropped (or `f` panics) before it finishes, the waiters do
///   not hang: one of them takes over and runs its own `f`, and the others wait for that one.
/// - The internal lock is a `std::sync::Mutex` held only to look up or remove the key, never across an
///   `.await`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use finstage_cache::SingleFlight;
///
/// let flights: SingleFlight<&str, u32> = SingleFlight::new();
/// let (a, b) = tokio::join!(
///     flights.run("answer", || async {
///         tokio::task::yield_now().await; // still running when the second call arrives
///         42
///     }),
///     flights.run("answer", || async { unreachable!("coalesced into the first call") }),
/// );
/// assert_eq!((a, b), (42, 42));
/// assert_eq!(flights.in_flight(), 0);
/// # });
/// ```
pub struct SingleFlight<K, V> {
    calls: Mutex<HashMap<K, watch::Sender<Option<V>>>>,
}

/// What a caller does for its key: lead the work, or wait for the leader.
pub(crate) enum Turn<'a, K: Hash + Eq, V> {
    /// No call in flight: this caller runs the work and must [`Leader::finish`] (or drop) the guard.
    Lead(Leader<'a, K, V>),
    /// Another caller is running the work.
    Wait(Waiter<V>),
}

/// The leader's guard. Dropping it without [`finish`](Self::finish) (cancellation, panic) removes the
/// flight, which wakes the waiters so that one of them takes over.
pub(crate) struct Leader<'a, K: Hash + Eq, V> {
    calls: &'a Mutex<HashMap<K, watch::Sender<Option<V>>>>,
    key: Option<K>,
}

/// A caller waiting for a leader.
pub(crate) struct Waiter<V> {
    rx: watch::Receiver<Option<V>>,
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
{
    /// An empty group.
    pub fn new() -> Self {
        SingleFlight {
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` for `key`, unless a call for an equal key is already in flight, in which case waits
    /// for that call and returns a clone of its result. See the type's documentation for
    /// cancellation.
    pub async fn run<F, Fut>(&self, key: K, f: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        loop {
            match self.turn(&key) {
                Turn::Lead(leader) => {
                    let value = f().await;
                    leader.finish(|| value.clone());
                    return value;
                }
                Turn::Wait(waiter) => {
                    if let Some(value) = waiter.wait().await {
                        return value;
                    }
                    // The leader was cancelled: try again, maybe as the new leader.
                }
            }
        }
    }

    /// Number of keys with a call in flight.
    pub fn in_flight(&self) -> usize {
        lock(&self.calls).len()
    }

    /// Number of callers currently waiting for the in-flight call for `key` (0 when none is in
    /// flight). Lets tests and diagnostics see that callers have joined a call.
    pub fn waiters<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        lock(&self.calls).get(key).map_or(0, watch::Sender::receiver_count)
    }

    /// Sum of [`waiters`](Self::waiters) over the keys matching `select`.
    pub(crate) fn waiters_where(&self, mut select: impl FnMut(&K) -> bool) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|(k, _)| select(k))
            .map(|(_, tx)| tx.receiver_count())
            .sum()
    }

    /// Joins the call in flight for `key`, or becomes its leader.
    pub(crate) fn turn(&self, key: &K) -> Turn<'_, K, V> {
        let mut calls = lock(&self.calls);
        if let Some(tx) = calls.get(key) {
            return Turn::Wait(Waiter { rx: tx.subscribe() });
        }
        calls.insert(key.clone(), watch::channel(None).0);
        Turn::Lead(Leader {
            calls: &self.calls,
            key: Some(key.clone()),
        })
    }
}

impl<K: Hash + Eq, V> Leader<'_, K, V> {
    /// Ends the flight and hands the value to the waiters. `value` is only called when someone waits.
    pub(crate) fn finish(mut self, value: impl FnOnce() -> V) {
        if let Some(tx) = self.remove() {
            // Removed from the map first: nobody can subscribe any more, so a receiver count of zero
            // means the clone would go nowhere.
            if tx.receiver_count() > 0 {
                tx.send_replace(Some(value()));
            }
        }
    }

    fn remove(&mut self) -> Option<watch::Sender<Option<V>>> {
        let key = self.key.take()?;
        lock(self.calls).remove(&key)
    }
}

impl<K: Hash + Eq, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        // Not finished: dropping the sender without a value wakes every waiter with "closed".
        drop(self.remove());
    }
}

impl<V: Clone> Waiter<V> {
    /// The leader's value, or `None` if the leader went away without one.
    pub(crate) async fn wait(mut self) -> Option<V> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(value) => value.clone(),
            Err(_) => None,
        }
    }
}

impl<K, V> Default for SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("in_flight", &lock(&self.calls).len())
            .finish()
    }
}

/// Locks, ignoring poisoning: the map stays consistent whatever panicked while it was held.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
