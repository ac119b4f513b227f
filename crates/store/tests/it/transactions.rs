//! The transaction helper: commit on `Ok`; roll back on `Err`, on panic and on cancellation,
//! and the pool keeps working after each.

use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

async fn count(db: &TestDb) -> u64 {
    db.store.conn().await.unwrap().count_rows("alert_log").await.unwrap()
}

const INSERT: &str = "INSERT INTO alert_log (dedupe_key, sent_at) VALUES ('k', '2026-01-02 03:04:05')";

async fn commits_on_ok(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.store
        .transaction(async |tx| {
            tx.execute_batch(INSERT).await?;
            tx.execute_batch(INSERT).await
        })
        .await
        .unwrap();
    assert_eq!(count(&db).await, 2);
}

async fn rolls_back_on_err(backend: Backend) {
    let db = TestDb::new(backend).await;
    let result: Result<(), StoreError> = db
        .store
        .transaction(async |tx| {
            tx.execute_batch(INSERT).await?;
            Err(StoreError::InvalidInput("the caller changed its mind".into()))
        })
        .await;
    assert!(matches!(result, Err(StoreError::InvalidInput(_))));
    assert_eq!(count(&db).await, 0);
}

async fn rolls_back_on_panic(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.clone();
    let task = tokio::spawn(async move {
        store
            .transaction(async |tx| -> Result<(), StoreError> {
                tx.execute_batch(INSERT).await?;
                panic!("a bug inside the transaction");
            })
            .await
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(count(&db).await, 0);
    // The pool still serves transactions.
    db.store
        .transaction(async |tx| tx.execute_batch(INSERT).await)
        .await
        .unwrap();
    assert_eq!(count(&db).await, 1);
}

async fn rolls_back_on_cancellation(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.clone();
    let (inserted_tx, inserted_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        store
            .transaction(async |tx| -> Result<(), StoreError> {
                tx.execute_batch(INSERT).await?;
                let _ = inserted_tx.send(());
                // Never finishes: the task is aborted here, mid-transaction.
                std::future::pending::<()>().await;
                Ok(())
            })
            .await
    });
    inserted_rx.await.expect("the insert ran");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(count(&db).await, 0);
    db.store
        .transaction(async |tx| tx.execute_batch(INSERT).await)
        .await
        .unwrap();
    assert_eq!(count(&db).await, 1);
}

async fn nested_transactions_are_savepoints(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.store
        .transaction(async |tx| {
            tx.execute_batch(INSERT).await?;
            let inner: Result<(), StoreError> = tx
                .transaction(async |inner| {
                    inner.execute_batch(INSERT).await?;
                    Err(StoreError::InvalidInput("inner fails".into()))
                })
                .await;
            assert!(inner.is_err());
            Ok::<(), StoreError>(())
        })
        .await
        .unwrap();
    assert_eq!(count(&db).await, 1, "the outer insert stays, the savepoint's is gone");
}

backend_tests!(
    commits_on_ok,
    rolls_back_on_err,
    rolls_back_on_panic,
    rolls_back_on_cancellation,
    nested_transactions_are_savepoints,
);
