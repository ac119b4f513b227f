//! `SingleFlight` on its own: coalescing, independence of keys, and cancel safety.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use finstage_cache::SingleFlight;
use tokio::sync::Notify;

use crate::support::wait_until;

type Flights = Arc<SingleFlight<String, Result<u32, String>>>;

/// Spawns a `run` whose `f` counts its call, waits for `release`, then returns `value`.
fn spawn_run(
    flights: &Flights,
    key: &str,
    calls: &Arc<AtomicUsize>,
    release: &Arc<Notify>,
    value: Result<u32, String>,
) -> tokio::task::JoinHandle<Result<u32, String>> {
    let (flights, key, calls, release) = (flights.clone(), key.to_owned(), calls.clone(), release.clone());
    tokio::spawn(async move {
        flights
            .run(key, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                release.notified().await;
                value
            })
            .await
    })
}

#[tokio::test]
async fn concurrent_calls_share_one_execution() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..100)
        .map(|i| spawn_run(&flights, "k", &calls, &release, Ok(i)))
        .collect();
    wait_until("one runs, 99 wait", || {
        calls.load(Ordering::SeqCst) == 1 && flights.waiters("k") == 99
    })
    .await;
    assert_eq!(flights.in_flight(), 1);
    release.notify_one();
    let results: Vec<_> = futures_join(tasks).await;
    // Everyone has the leader's value (whichever task led).
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert!(results[0].is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!((flights.in_flight(), flights.waiters("k")), (0, 0));
}

#[tokio::test]
async fn errors_are_shared_like_values() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..10)
        .map(|_| spawn_run(&flights, "k", &calls, &release, Err("down".into())))
        .collect();
    wait_until("one runs, 9 wait", || {
        flights.waiters("k") == 9 && calls.load(Ordering::SeqCst) == 1
    })
    .await;
    release.notify_one();
    for result in futures_join(tasks).await {
        assert_eq!(result, Err("down".to_owned()));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn different_keys_run_independently_and_nothing_is_cached() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let a = spawn_run(&flights, "a", &calls, &release, Ok(1));
    let b = spawn_run(&flights, "b", &calls, &release, Ok(2));
    wait_until("both keys run at once", || calls.load(Ordering::SeqCst) == 2).await;
    assert_eq!(flights.in_flight(), 2);
    release.notify_waiters();
    assert_eq!((a.await.unwrap(), b.await.unwrap()), (Ok(1), Ok(2)));

    // Once finished, the next call runs again.
    assert_eq!(flights.run("a".into(), || async { Ok(3) }).await, Ok(3));
    assert_eq!(flights.in_flight(), 0);
}

#[tokio::test]
async fn an_aborted_leader_is_taken_over_by_one_waiter() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let never = Arc::new(Notify::new());
    let leader = spawn_run(&flights, "k", &calls, &never, Ok(1));
    wait_until("the leader runs", || calls.load(Ordering::SeqCst) == 1).await;

    let release = Arc::new(Notify::new());
    let waiters: Vec<_> = (0..10)
        .map(|_| spawn_run(&flights, "k", &calls, &release, Ok(2)))
        .collect();
    wait_until("10 wait for the leader", || flights.waiters("k") == 10).await;

    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    // Exactly one waiter takes over; the other nine wait for it.
    wait_until("one takes over, 9 wait", || {
        calls.load(Ordering::SeqCst) == 2 && flights.waiters("k") == 9
    })
    .await;
    release.notify_one();
    for result in futures_join(waiters).await {
        assert_eq!(result, Ok(2));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(flights.in_flight(), 0);
}

#[tokio::test]
async fn a_leader_dropped_by_select_is_taken_over() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let cancel = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());

    let leading = {
        let (flights, calls, cancel) = (flights.clone(), calls.clone(), cancel.clone());
        tokio::spawn(async move {
            tokio::select! {
                value = flights.run("k".into(), || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<Result<u32, String>>().await
                }) => Some(value),
                () = cancel.notified() => None,
            }
        })
    };
    wait_until("the leader runs", || calls.load(Ordering::SeqCst) == 1).await;
    let waiter = spawn_run(&flights, "k", &calls, &release, Ok(7));
    wait_until("the waiter waits", || flights.waiters("k") == 1).await;

    cancel.notify_one();
    assert_eq!(leading.await.unwrap(), None);
    wait_until("the waiter takes over", || calls.load(Ordering::SeqCst) == 2).await;
    release.notify_one();
    assert_eq!(waiter.await.unwrap(), Ok(7));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_leader_that_panics_is_taken_over() {
    let flights: Flights = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let leader = {
        let (flights, calls, release) = (flights.clone(), calls.clone(), release.clone());
        tokio::spawn(async move {
            flights
                .run("k".into(), || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    panic!("the loader panicked");
                })
                .await
        })
    };
    wait_until("the leader runs", || calls.load(Ordering::SeqCst) == 1).await;
    let done = Arc::new(Notify::new());
    let waiter = spawn_run(&flights, "k", &calls, &done, Ok(5));
    wait_until("the waiter waits", || flights.waiters("k") == 1).await;
    release.notify_one();
    assert!(leader.await.unwrap_err().is_panic());
    wait_until("the waiter takes over", || calls.load(Ordering::SeqCst) == 2).await;
    done.notify_one();
    assert_eq!(waiter.await.unwrap(), Ok(5));
}

#[test]
fn default_and_debug() {
    let flights: SingleFlight<u64, u64> = SingleFlight::default();
    assert_eq!(flights.in_flight(), 0);
    assert_eq!(flights.waiters(&1), 0);
    assert_eq!(format!("{flights:?}"), "SingleFlight { in_flight: 0 }");
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
