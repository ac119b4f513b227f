//! CSV import of daily bars: `Date,Open,High,Low,Close,Volume[,Adj Close]`, one transaction per
//! file.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;
use finstage_domain::{Bar, Symbol};

use crate::error::StoreError;
use crate::store::Store;

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// The symbol the bars were stored under.
    pub symbol: Symbol,
    /// Bars read from the file (all of them were written).
    pub bars: u64,
    /// The first and last date in the file, if it had bars.
    pub span: Option<(NaiveDate, NaiveDate)>,
}

/// The columns, by position, of a file's header.
struct Columns {
    date: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: usize,
    adj_close: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, String> {
        let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                format!("the header has no {name:?} column (expected Date,Open,High,Low,Close,Volume[,Adj Close])")
            })
        };
        Ok(Self {
            date: need("Date")?,
            open: need("Open")?,
            high: need("High")?,
            low: need("Low")?,
            close: need("Close")?,
            volume: need("Volume")?,
            adj_close: find("Adj Close")
                .or_else(|| find("Adj_Close"))
                .or_else(|| find("AdjClose")),
        })
    }

    fn bar(&self, record: &csv::StringRecord) -> Result<Bar, String> {
        let field = |index: usize, name: &str| {
            record
                .get(index)
                .map(str::trim)
                .ok_or_else(|| format!("missing {name} (the row has {} fields)", record.len()))
        };
        let price = |index: usize, name: &str| -> Result<f64, String> {
            let text = field(index, name)?;
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{name} {:?} is not a number", shorten(text)))
        };
        let date_text = field(self.date, "Date")?;
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
            .map_err(|_| format!("Date {:?} is not YYYY-MM-DD", shorten(date_text)))?;
        let volume_text = field(self.volume, "Volume")?;
        let volume = parse_volume(volume_text)
            .ok_or_else(|| format!("Volume {:?} is not a whole non-negative number", shorten(volume_text)))?;
        let bar = Bar::new(
            date,
            price(self.open, "Open")?,
            price(self.high, "High")?,
            price(self.low, "Low")?,
            price(self.close, "Close")?,
            volume,
        )
        .map_err(|e| e.to_string())?;
        match self.adj_close {
            Some(index) if !field(index, "Adj Close")?.is_empty() => bar
                .with_adj_close(price(index, "Adj Close")?)
                .map_err(|e| e.to_string()),
            _ => Ok(bar),
        }
    }
}

/// A volume: digits, or a float with nothing after the point (`1234.0`).
fn parse_volume(text: &str) -> Option<u64> {
    if let Ok(v) = text.parse::<u64>() {
        return Some(v);
    }
    let v: f64 = text.parse().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9.2e18).then_some(v as u64)
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Every bar of a CSV text of daily bars (`Date,Open,High,Low,Close,Volume[,Adj Close]`, the
/// columns found by name), or the first problem with its line. `name` is the file's name for
/// error messages. The same parser [`Store::import_csv`] runs; the replay provider's callers use
/// it to play a CSV file back without storing it.
///
/// # Errors
/// [`StoreError::Import`] naming `name` and the line: a bad header, a malformed or invalid row, a
/// date given twice, an unreadable input.
pub fn parse_bars_csv(name: &str, reader: impl Read) -> Result<Vec<Bar>, StoreError> {
    let error = |line: u64, message: String| StoreError::Import {
        file: name.to_owned(),
        line,
        message,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = csv.headers().map_err(|e| error(1, e.to_string()))?.clone();
    let columns = Columns::from_header(&header).map_err(|message| error(1, message))?;
    let mut bars = Vec::new();
    let mut first_line: HashMap<NaiveDate, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(error(e.position().map_or(line, csv::Position::line), e.to_string())),
        }
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let bar = columns.bar(&record).map_err(|message| error(line, message))?;
        let date = bar.time().to_utc().date_naive();
        if let Some(first) = first_line.insert(date, line) {
            return Err(error(line, format!("duplicate date {date} (also on line {first})")));
        }
        bars.push(bar);
    }
    Ok(bars)
}

impl Store {
    /// Imports a CSV file of daily bars (`Date,Open,High,Low,Close,Volume[,Adj Close]`, the
    /// columns found by name) into `daily_bars`, under `symbol` or, when `None`, the file's stem
    /// (`data/seed/AAPL.csv` → `AAPL`). The whole file is read and checked first, then written
    /// in one transaction: a malformed row is an error naming the file and its line, and nothing
    /// of that file is kept. Existing bars of the same dates are replaced.
    ///
    /// # Errors
    /// [`StoreError::Import`] for an unreadable file, a bad header, a malformed or invalid row
    /// or a date given twice; [`StoreError::Query`] when writing fails (nothing is kept).
    pub async fn import_csv(&self, path: &Path, symbol: Option<&Symbol>) -> Result<ImportSummary, StoreError> {
        let name = path.display().to_string();
        let symbol = match symbol {
            Some(symbol) => *symbol,
            None => {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                Symbol::parse(stem).map_err(|e| StoreError::Import {
                    file: name.clone(),
                    line: 0,
                    message: format!("no symbol given and the file name is not one: {e}"),
                })?
            }
        };
        let file = std::fs::File::open(path).map_err(|e| StoreError::Import {
            file: name.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        // Parsing is CPU work on a file: off the async threads.
        let bars = tokio::task::spawn_blocking({
            let name = name.clone();
            move || parse_bars_csv(&name, std::io::BufReader::new(file))
        })
        .await
        .map_err(|e| StoreError::Import {
            file: name.clone(),
            line: 0,
            message: e.to_string(),
        })??;
        self.import_bars(symbol, bars).await
    }

    /// [`Store::import_csv`] from any reader; `name` names it in errors.
    ///
    /// # Errors
    /// As [`Store::import_csv`].
    pub async fn import_csv_reader(
        &self,
        name: &str,
        reader: impl Read,
        symbol: &Symbol,
    ) -> Result<ImportSummary, StoreError> {
        let bars = parse_bars_csv(name, reader)?;
        self.import_bars(*symbol, bars).await
    }

    async fn import_bars(&self, symbol: Symbol, bars: Vec<Bar>) -> Result<ImportSummary, StoreError> {
        let span = bars.iter().map(|b| b.time().to_utc().date_naive()).fold(
            None,
            |span: Option<(NaiveDate, NaiveDate)>, d| {
                Some(span.map_or((d, d), |(first, last)| (first.min(d), last.max(d))))
            },
        );
        if !bars.is_empty() {
            self.transaction(async |tx| tx.daily_bars().upsert(&symbol, &bars).await)
                .await?;
        }
        Ok(ImportSummary {
            symbol,
            bars: bars.len() as u64,
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<Bar>, StoreError> {
        parse_bars_csv("t.csv", text.as_bytes())
    }

    fn line_of(result: Result<Vec<Bar>, StoreError>) -> (u64, String) {
        match result {
            Err(StoreError::Import { file, line, message }) => {
                assert_eq!(file, "t.csv");
                (line, message)
            }
            other => panic!("expected an import error, got {other:?}"),
        }
    }

    #[test]
    fn reads_quandl_files_with_and_without_adjusted_close() {
        let bars = parse_text(
            "Date,Open,High,Low,Close,Volume,Adj Close\n2000-03-01,118.56,132.06,118.5,130.31,9616100,4.18\n\
             2000-03-02,127.0,127.94,120.69,122.0,2779100.0,\n",
        )
        .unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].adj_close(), Some(4.18));
        assert_eq!(bars[1].adj_close(), None);
        assert_eq!(bars[1].volume(), 2_779_100);
        let plain = parse_text("date,open,high,low,close,volume\n2001-01-02,1,2,0.5,1.5,10\n\n").unwrap();
        assert_eq!(plain.len(), 1);
    }

    #[test]
    fn errors_name_the_line() {
        let header = "Date,Open,High,Low,Close,Volume\n";
        let ok = "2020-01-02,1,2,0.5,1.5,10\n";
        let cases = [
            (
                format!("{header}{ok}2020-01-03,1,x,0.5,1.5,10\n"),
                3,
                "High \"x\" is not a number",
            ),
            (
                format!("{header}{ok}{ok}"),
                3,
                "duplicate date 2020-01-02 (also on line 2)",
            ),
            (format!("{header}2020-13-01,1,2,0.5,1.5,10\n"), 2, "Date \"2020-13-01\""),
            (format!("{header}{ok}2020-01-03,1,2,0.5,1.5,-4\n"), 3, "Volume \"-4\""),
            (format!("{header}2020-01-03,1,2,3,1.5,4\n"), 2, "low"),
            (format!("{header}2020-01-03,1,2\n"), 2, "(the row has 3 fields)"),
            (format!("{header}2020-01-03,NaN,2,0.5,1.5,4\n"), 2, "Open \"NaN\""),
            ("Day,Open,High,Low,Close,Volume\n".to_owned(), 1, "no \"Date\" column"),
        ];
        for (text, line, needle) in cases {
            let (got_line, message) = line_of(parse_text(&text));
            assert_eq!(got_line, line, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn volumes_must_be_whole() {
        assert_eq!(parse_volume("12"), Some(12));
        assert_eq!(parse_volume("12.0"), Some(12));
        assert_eq!(parse_volume("12.5"), None);
        assert_eq!(parse_volume("-1"), None);
        assert_eq!(parse_volume("1e30"), None);
        assert_eq!(parse_volume(""), None);
    }
}
