//! Computes indicators over a CSV of daily bars and prints them as CSV.
//!
//! ```text
//! cargo run --release -p finstage-indicators --example indicators_csv -- \
//!     --input data/seed/AAPL.csv --specs sma:20,rsi:14,macd:12:26:9
//! ```
//!
//! Input: a header `Date,Open,High,Low,Close,Volume` (more columns, such as `Adj Close`, may
//! follow; columns are found by name), then one bar per line, oldest first. Dates are
//! `YYYY-MM-DD`, optionally followed by a UTC time `HH:MM[:SS]` after a space or `T`.
//!
//! Output: `date`, then one column per indicator output named by its full spec, `NaN` through
//! the lookback, every value with full round-trip precision. `--specs all` prints every
//! indicator with default parameters. A bad spec or a malformed row is an error naming the file
//! and line, with exit status 2.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use finstage_indicators::{Bars, Candle, IndicatorSpec, OutputSpec, compute, parse_specs};

const USAGE: &str = "\
Computes technical indicators over a CSV of bars and prints them as CSV.

Usage: indicators_csv --input FILE --specs LIST

Options:
  --input FILE   CSV with header Date,Open,High,Low,Close,Volume (extra columns allowed)
  --specs LIST   comma-separated indicator specs, e.g. sma:20,rsi:14,macd:12:26:9.signal,
                 or `all` for every indicator with its default parameters
  -h, --help     print this help

Specs: sma ema wma dema tema rsi macd bbands stddev atr natr trange stoch stochrsi
       adx plus_di minus_di dx cci mfi willr roc mom obv vwap (parameters after colons)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(error)) => {
            eprintln!("error: writing the output: {error}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Input(String),
    Output(io::Error),
}

fn run() -> Result<(), Failure> {
    let mut input = None;
    let mut specs = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--input" => {
                input = Some(
                    args.next()
                        .ok_or_else(|| Failure::Usage("--input needs a file".into()))?,
                );
            }
            "--specs" => {
                specs = Some(
                    args.next()
                        .ok_or_else(|| Failure::Usage("--specs needs a list".into()))?,
                );
            }
            other => return Err(Failure::Usage(format!("unexpected argument {other:?}"))),
        }
    }
    let input = input.ok_or_else(|| Failure::Usage("--input is required".into()))?;
    let specs = specs.ok_or_else(|| Failure::Usage("--specs is required".into()))?;
    let specs: Vec<OutputSpec> = if specs.trim() == "all" {
        IndicatorSpec::all_defaults().into_iter().map(OutputSpec::all).collect()
    } else {
        parse_specs(&specs).map_err(|e| Failure::Input(format!("--specs: {e}")))?
    };

    let text = std::fs::read_to_string(&input).map_err(|e| Failure::Input(format!("{input}: {e}")))?;
    let (dates, bars) = read_bars(&input, &text).map_err(Failure::Input)?;
    let columns = compute(&specs, &bars.view()).map_err(|e| Failure::Input(e.to_string()))?;

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut line = String::from("date");
    for name in columns.names() {
        line.push(',');
        line.push_str(name);
    }
    writeln!(out, "{line}").map_err(Failure::Output)?;
    let values: Vec<&[f64]> = columns.iter().map(|(_, v)| v).collect();
    for (row, date) in dates.iter().enumerate() {
        line.clear();
        line.push_str(date);
        for column in &values {
            // `{}` prints the shortest string that parses back to the same f64, and `NaN`.
            let _ = write!(line, ",{}", column[row]);
        }
        writeln!(out, "{line}").map_err(Failure::Output)?;
    }
    out.flush().map_err(Failure::Output)
}

/// Reads the bars, naming the file and line of the first problem.
fn read_bars(file: &str, text: &str) -> Result<(Vec<String>, Bars), String> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{file}: empty file, expected a header"))?;
    let header: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            format!("{file}:1: no {name:?} column; the header must name Date,Open,High,Low,Close,Volume")
        })
    };
    let [date, open, high, low, close, volume] = ["date", "open", "high", "low", "close", "volume"].map(column);
    let (date, open, high, low, close, volume) = (date?, open?, high?, low?, close?, volume?);

    let mut dates = Vec::new();
    let mut bars = Bars::new();
    for (index, line) in lines {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(format!(
                "{file}:{number}: {} fields, the header has {}",
                fields.len(),
                header.len()
            ));
        }
        let value = |column: usize| -> Result<f64, String> {
            let text = fields[column];
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{file}:{number}: {}: {text:?} is not a finite number", header[column]))
        };
        let time = parse_time(fields[date]).ok_or_else(|| {
            format!(
                "{file}:{number}: date {:?} is not YYYY-MM-DD[ HH:MM[:SS]]",
                fields[date]
            )
        })?;
        bars.push(Candle::new(value(open)?, value(high)?, value(low)?, value(close)?, value(volume)?).at(time));
        dates.push(fields[date].to_string());
    }
    Ok((dates, bars))
}

/// Seconds since the Unix epoch of `YYYY-MM-DD[( |T)HH:MM[:SS]]`, read as UTC.
fn parse_time(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let seconds = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.trim_end_matches('Z').split(':');
            let hour: i64 = parts.next()?.parse().ok()?;
            let minute: i64 = parts.next()?.parse().ok()?;
            let second: i64 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
            if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 || hour < 0 || minute < 0 || second < 0
            {
                return None;
            }
            hour * 3_600 + minute * 60 + second
        }
    };
    Some(days_from_civil(year, month, day) * 86_400 + seconds)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2000-03-01"), Some(951_868_800));
        assert_eq!(parse_time("2000-03-01 14:30"), Some(951_868_800 + 52_200));
        assert_eq!(parse_time("2000-03-01T14:30:05Z"), Some(951_868_800 + 52_205));
        for bad in [
            "",
            "2000-13-01",
            "2001-02-29",
            "2000-03",
            "03/01/2000",
            "2000-03-01 25:00",
            "2000-03-01-02",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let text = "Date,Open,High,Low,Close,Volume\n2000-01-03,1,2,0.5,1.5,10\n2000-01-04,1,2,x,1.5,10\n";
        assert_eq!(
            read_bars("f.csv", text).unwrap_err(),
            "f.csv:3: low: \"x\" is not a finite number"
        );
        let text = "Date,Open,High,Low,Close,Volume\n2000-01-03,1,2,0.5,1.5\n";
        assert_eq!(
            read_bars("f.csv", text).unwrap_err(),
            "f.csv:2: 5 fields, the header has 6"
        );
        let text = "Date,Open,High,Low,Close\n";
        assert!(
            read_bars("f.csv", text)
                .unwrap_err()
                .starts_with("f.csv:1: no \"volume\" column")
        );
        let text = "Date,Open,High,Low,Close,Volume,Adj Close\r\n2000-01-03,1,2,0.5,1.5,10,1.2\r\n\r\n";
        let (dates, bars) = read_bars("f.csv", text).unwrap();
        assert_eq!((dates.len(), bars.len()), (1, 1));
    }
}
