//! The notification log: inserts with generated ids, updates, lists by status oldest first,
//! and an unknown status read back.

use finstage_store::{Backend, NotificationStatus, StoreError};

use crate::support::{TestDb, backend_tests};

async fn insert_update_and_list(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut ids = Vec::new();
    for (channel, status) in [
        ("telegram", NotificationStatus::Pending),
        ("email", NotificationStatus::Sent),
        ("telegram", NotificationStatus::Pending),
        ("webhook", NotificationStatus::Failed),
        ("telegram", NotificationStatus::Pending),
    ] {
        let error = (status == NotificationStatus::Failed).then_some("HTTP 500");
        ids.push(
            db.store
                .notifications()
                .insert(channel, status, 0, error)
                .await
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let pending = db
        .store
        .notifications()
        .by_status(NotificationStatus::Pending, 10)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|n| n.id).collect::<Vec<_>>(),
        [ids[0], ids[2], ids[4]]
    );
    assert!(
        pending
            .iter()
            .all(|n| n.channel == "telegram" && n.attempts == 0 && n.error.is_none())
    );
    assert!(pending.iter().all(|n| n.created_at == n.updated_at));
    let failed = db
        .store
        .notifications()
        .by_status(NotificationStatus::Failed, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].id, failed[0].channel.as_str(), failed[0].error.as_deref()),
        (ids[3], "webhook", Some("HTTP 500"))
    );
    let first_two = db
        .store
        .notifications()
        .by_status(NotificationStatus::Pending, 2)
        .await
        .unwrap();
    assert_eq!(first_two, pending[..2]);

    // A retry that fails, then gives up.
    assert!(
        db.store
            .notifications()
            .update(ids[2], NotificationStatus::Failed, 3, Some("429 Too Many Requests"))
            .await
            .unwrap()
    );
    let failed = db
        .store
        .notifications()
        .by_status(NotificationStatus::Failed, 10)
        .await
        .unwrap();
    assert_eq!(
        failed.iter().map(|n| n.id).collect::<Vec<_>>(),
        [ids[2], ids[3]],
        "by creation"
    );
    let retried = &failed[0];
    assert_eq!(
        (retried.attempts, retried.error.as_deref()),
        (3, Some("429 Too Many Requests"))
    );
    assert!(retried.updated_at >= retried.created_at);
    assert_eq!(
        db.store.notifications().get(ids[2]).await.unwrap().as_ref(),
        Some(retried)
    );
    // An update with the same values still finds the row; an unknown id does not.
    assert!(
        db.store
            .notifications()
            .update(ids[2], NotificationStatus::Failed, 3, Some("429 Too Many Requests"))
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .notifications()
            .update(i64::MAX, NotificationStatus::Sent, 1, None)
            .await
            .unwrap()
    );
    assert_eq!(db.store.notifications().get(i64::MAX).await.unwrap(), None);
    // Clearing the error.
    db.store
        .notifications()
        .update(ids[2], NotificationStatus::Sent, 4, None)
        .await
        .unwrap();
    let sent = db
        .store
        .notifications()
        .by_status(NotificationStatus::Sent, 10)
        .await
        .unwrap();
    assert_eq!(
        sent.iter().map(|n| (n.id, n.error.clone())).collect::<Vec<_>>(),
        [(ids[1], None), (ids[2], None)]
    );
}

async fn long_errors_are_cut_and_bad_input_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let long = "é".repeat(5_000);
    let id = db
        .store
        .notifications()
        .insert("telegram", NotificationStatus::Failed, 1, Some(&long))
        .await
        .unwrap();
    let stored = db
        .store
        .notifications()
        .by_status(NotificationStatus::Failed, 1)
        .await
        .unwrap();
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].error.as_deref(), Some("é".repeat(4_000).as_str()));

    for channel in ["", &"c".repeat(33)] {
        assert!(matches!(
            db.store
                .notifications()
                .insert(channel, NotificationStatus::Pending, 0, None)
                .await,
            Err(StoreError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        db.store
            .notifications()
            .insert("x", NotificationStatus::Pending, u32::MAX, None)
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        db.store
            .notifications()
            .update(id, NotificationStatus::Pending, u32::MAX, None)
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("notification_log")
            .await
            .unwrap(),
        1
    );
}

async fn an_unknown_status_is_an_invalid_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let id = db
        .store
        .notifications()
        .insert("telegram", NotificationStatus::Pending, 0, None)
        .await
        .unwrap();
    let mut conn = db.store.conn().await.unwrap();
    conn.execute_batch(&format!(
        "UPDATE notification_log SET status = 'queued', channel = 'x' WHERE id = {id}"
    ))
    .await
    .unwrap();
    conn.execute_batch(
        "INSERT INTO notification_log (channel, status, attempts, created_at, updated_at) \
         VALUES ('x', 'pending', -1, '2026-01-02 03:04:05', '2026-01-02 03:04:05')",
    )
    .await
    .unwrap();
    // A status the enum does not know, read back, is reported.
    let err = conn.notifications().get(id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidRow {
                table: "notification_log",
                ..
            }
        ),
        "{err}"
    );
    // Listing by status only ever sees the three known texts...
    for status in [NotificationStatus::Sent, NotificationStatus::Failed] {
        assert!(conn.notifications().by_status(status, 10).await.unwrap().is_empty());
    }
    // ...and a row that breaks another rule (negative attempts) is reported, not skipped.
    assert!(matches!(
        conn.notifications().by_status(NotificationStatus::Pending, 10).await,
        Err(StoreError::InvalidRow {
            table: "notification_log",
            ..
        })
    ));
    assert_eq!("queued".parse::<NotificationStatus>().ok(), None);
    assert_eq!(
        "sent".parse::<NotificationStatus>().ok(),
        Some(NotificationStatus::Sent)
    );
    assert_eq!(NotificationStatus::Failed.to_string(), "failed");
}

async fn deliveries_record_recipient_kind_and_excerpt(backend: Backend) {
    let db = TestDb::new(backend).await;
    let long = "ü".repeat(150);
    let id = db
        .store
        .notifications()
        .insert_delivery(
            "telegram",
            Some("-1001234567890"),
            Some("daily_report"),
            Some(&long),
            NotificationStatus::Pending,
        )
        .await
        .unwrap();
    let stored = db.store.notifications().get(id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.recipient.as_deref(),
            stored.kind.as_deref(),
            stored.excerpt.as_deref(),
            stored.attempts,
            stored.status
        ),
        (
            Some("-1001234567890"),
            Some("daily_report"),
            Some("ü".repeat(100).as_str()),
            0,
            NotificationStatus::Pending
        )
    );
    // The older insert leaves the details empty.
    let plain = db
        .store
        .notifications()
        .insert("telegram", NotificationStatus::Sent, 1, None)
        .await
        .unwrap();
    let plain = db.store.notifications().get(plain).await.unwrap().unwrap();
    assert_eq!((plain.recipient, plain.kind, plain.excerpt), (None, None, None));
    for (recipient, kind) in [
        (Some(""), None),
        (Some(&*"9".repeat(65)), None),
        (None, Some(&*"k".repeat(33))),
    ] {
        assert!(matches!(
            db.store
                .notifications()
                .insert_delivery("telegram", recipient, kind, None, NotificationStatus::Pending)
                .await,
            Err(StoreError::InvalidInput(_))
        ));
    }
}

backend_tests!(
    insert_update_and_list,
    deliveries_record_recipient_kind_and_excerpt,
    long_errors_are_cut_and_bad_input_refused,
    an_unknown_status_is_an_invalid_row,
);
