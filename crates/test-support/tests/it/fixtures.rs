//! The fixtures: seed histories, the CSV loader and its errors.

use finstage_domain::{BarTime, DomainError};
use finstage_test_support::fixtures::{
    FixtureError, SEED_SYMBOLS, load_bars_csv, read_bars_csv, seed_bars, seed_csv_path,
};

use crate::helpers::date;

#[test]
fn seed_histories_load_whole_and_sorted() {
    for symbol in SEED_SYMBOLS {
        let bars = seed_bars(symbol);
        assert_eq!(bars.len(), 3_270, "{symbol}");
        assert_eq!(bars[0].time(), BarTime::Date(date(2000, 3, 1)), "{symbol}");
        assert_eq!(bars[3_269].time(), BarTime::Date(date(2013, 3, 1)), "{symbol}");
        assert!(bars.windows(2).all(|w| w[0].time() < w[1].time()), "{symbol}");
        assert!(bars.iter().all(|b| b.adj_close().is_some()), "{symbol}");
    }
    // The first AAPL row: 2000-03-01,118.56,132.06,118.5,130.31,9616100,4.186662803811
    let first = seed_bars("aapl")[0];
    assert_eq!(
        (first.open(), first.high(), first.low(), first.close(), first.volume()),
        (118.56, 132.06, 118.5, 130.31, 9_616_100)
    );
    assert_eq!(first.adj_close(), Some(4.186_662_803_811));
    assert!(seed_csv_path("ibm").ends_with("data/seed/IBM.csv"));
}

#[test]
fn csv_without_adj_close_and_with_float_volumes() {
    let text = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100.0\n2020-01-03, 1.5 ,2,1,2,0\n";
    let bars = read_bars_csv(text.as_bytes()).unwrap();
    assert_eq!(bars.len(), 2);
    assert_eq!(bars[0].volume(), 100);
    assert_eq!(bars[1].open(), 1.5);
    assert_eq!(bars[0].adj_close(), None);
    // Columns by name, in any order; an empty Adj Close is none.
    let text = "Close,Date,Adj Close,Volume,Low,High,Open\n1.5,2020-01-02,,7,0.5,2,1\n";
    let bars = read_bars_csv(text.as_bytes()).unwrap();
    assert_eq!((bars[0].close(), bars[0].volume(), bars[0].adj_close()), (1.5, 7, None));
}

#[test]
fn csv_errors_name_the_line() {
    let header = "Date,Open,High,Low,Close,Volume,Adj Close\n";
    let good = "2020-01-02,1,2,0.5,1.5,100,1.4\n";
    type Check = fn(&FixtureError) -> bool;
    let cases: [(&str, u64, Check); 5] = [
        ("2020-01-03,1,0.5,2,1,100,1\n", 3, |e| {
            matches!(
                e,
                FixtureError::InvalidBar {
                    source: DomainError::InvalidBar(_),
                    ..
                }
            )
        }),
        ("2020-01-03,0,2,0.5,1,100,1\n", 3, |e| {
            matches!(e, FixtureError::InvalidBar { .. })
        }),
        (
            "2020-01-03,1,2,0.5,1,-5,1\n",
            3,
            |e| matches!(e, FixtureError::InvalidVolume { volume, .. } if *volume == -5.0),
        ),
        ("2020-13-03,1,2,0.5,1,5,1\n", 3, |e| {
            matches!(e, FixtureError::Csv { .. })
        }),
        ("2020-01-03,1,2,0.5\n", 3, |e| matches!(e, FixtureError::Csv { .. })),
    ];
    for (row, line, is_expected) in cases {
        let text = format!("{header}{good}{row}");
        let error = read_bars_csv(text.as_bytes()).unwrap_err();
        assert!(is_expected(&error), "{row}: {error:?}");
        assert!(
            error.to_string().starts_with(&format!("CSV line {line}:")),
            "{row}: {error}"
        );
    }
}

#[test]
fn a_missing_file_names_its_path() {
    let error = load_bars_csv("/nonexistent/finstage/none.csv").unwrap_err();
    assert!(matches!(error, FixtureError::Open { .. }));
    assert!(error.to_string().contains("/nonexistent/finstage/none.csv"), "{error}");
}
