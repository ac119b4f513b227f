//! CSV import: the bundled files go in whole; a malformed file leaves nothing behind.

use std::path::PathBuf;

use chrono::NaiveDate;
use finstage_domain::Symbol;
use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

fn seed(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/seed")
        .join(file)
}

async fn imports_the_bundled_history(backend: Backend) {
    let db = TestDb::new(backend).await;
    let summary = db.store.import_csv(&seed("AAPL.csv"), None).await.unwrap();
    let aapl = Symbol::parse("AAPL").unwrap();
    assert_eq!(summary.symbol, aapl);
    assert_eq!(summary.bars, 3270);
    let first = NaiveDate::from_ymd_opt(2000, 3, 1).unwrap();
    assert_eq!(summary.span.map(|(f, _)| f), Some(first));
    assert_eq!(db.store.daily_bars().count(&aapl).await.unwrap(), 3270);
    let opening = db.store.daily_bars().range(&aapl, first, first).await.unwrap();
    assert_eq!(opening[0].close(), 130.31);
    assert_eq!(opening[0].volume(), 9_616_100);
    // Importing again changes nothing.
    db.store.import_csv(&seed("AAPL.csv"), None).await.unwrap();
    assert_eq!(db.store.daily_bars().count(&aapl).await.unwrap(), 3270);
}

async fn a_malformed_row_keeps_nothing_of_the_file(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ibm = Symbol::parse("IBM").unwrap();
    let good = "Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,100\n";
    db.store
        .import_csv_reader("first.csv", good.as_bytes(), &ibm)
        .await
        .unwrap();
    // Line 3 replaces the bar of 2020-01-02, line 4 is broken: nothing of the file is kept.
    let bad = "Date,Open,High,Low,Close,Volume\n2020-01-03,10,11,9,10.5,100\n2020-01-02,20,21,19,20.5,100\n2020-01-06,10,11,9,oops,100\n";
    let err = db
        .store
        .import_csv_reader("second.csv", bad.as_bytes(), &ibm)
        .await
        .unwrap_err();
    match &err {
        StoreError::Import { file, line, message } => {
            assert_eq!((file.as_str(), *line), ("second.csv", 4));
            assert!(message.contains("Close \"oops\""), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "second.csv:4: Close \"oops\" is not a number");
    let day = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
    let kept = db
        .store
        .daily_bars()
        .range(&ibm, day, day + chrono::Duration::days(10))
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].close(), 10.5, "the first file's bar, untouched");
}

async fn a_missing_file_or_a_nameless_one_is_a_clear_error(backend: Backend) {
    let db = TestDb::new(backend).await;
    let err = db.store.import_csv(&seed("NOPE.csv"), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Import { line: 0, .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("has space.csv");
    std::fs::write(&odd, "Date,Open,High,Low,Close,Volume\n").unwrap();
    let err = db.store.import_csv(&odd, None).await.unwrap_err();
    assert!(err.to_string().contains("file name is not one"), "{err}");
    let named = db
        .store
        .import_csv(&odd, Some(&Symbol::parse("X").unwrap()))
        .await
        .unwrap();
    assert_eq!((named.bars, named.span), (0, None));
}

backend_tests!(
    imports_the_bundled_history,
    a_malformed_row_keeps_nothing_of_the_file,
    a_missing_file_or_a_nameless_one_is_a_clear_error,
);
