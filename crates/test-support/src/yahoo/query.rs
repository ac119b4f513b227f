//! Routing and query parsing for the mock Yahoo server: `/v8/finance/chart/{symbol}` with
//! `interval`, `range` or `period1`/`period2`, `events` and `includeAdjustedClose`.

use std::fmt::Write as _;

use finstage_domain::Interval;

/// The path prefix of Yahoo's chart endpoint.
pub(crate) const CHART_PREFIX: &str = "/v8/finance/chart/";

/// The ranges the mock accepts, in Yahoo's order (also sent as `validRanges`).
pub(crate) const VALID_RANGES: [&str; 11] = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"];

/// The intervals the mock accepts, as named in its 422 message.
const VALID_INTERVALS: &str = "[1m, 5m, 15m, 60m, 1h, 1d, 1wk, 1mo]";

/// The symbol of a chart path, percent-decoded and upper-cased, or `None` for any other path.
pub(crate) fn chart_symbol(path: &str) -> Option<String> {
    let segment = path.strip_prefix(CHART_PREFIX)?;
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    let symbol = percent_decode(segment, false);
    if symbol.is_empty() {
        return None;
    }
    Some(symbol.to_ascii_uppercase())
}

/// How far back a request reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// The last `n` trading dates held.
    Days(u32),
    /// Trading dates after the newest one minus `n` calendar months.
    Months(u32),
    /// Trading dates in the newest one's calendar year.
    Ytd,
    /// Everything held.
    Max,
    /// Bars whose Yahoo timestamp `t` satisfies `start <= t < end` (`None`: unbounded).
    Period {
        /// `period1`, inclusive.
        start: Option<i64>,
        /// `period2`, exclusive.
        end: Option<i64>,
    },
}

/// A parsed chart query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChartQuery {
    /// The bar interval.
    pub(crate) interval: Interval,
    /// The interval as the request spelled it (`60m` stays `60m`), sent back as `dataGranularity`.
    pub(crate) interval_text: String,
    /// The requested window.
    pub(crate) window: Window,
    /// The `range` parameter as given, or `""` for a period request (sent back as `range`).
    pub(crate) range_text: String,
    /// `events` asked for dividends.
    pub(crate) dividends: bool,
    /// `events` asked for splits.
    pub(crate) splits: bool,
    /// `adjclose` is sent (daily and longer intervals, unless `includeAdjustedClose=false`).
    pub(crate) adjclose: bool,
}

impl ChartQuery {
    /// Parses a raw query string (`None`: no query at all).
    ///
    /// Defaults: `interval=1d`, `range=1d`. `period1`/`period2` win over `range` when either
    /// is present.
    ///
    /// # Errors
    /// Yahoo's 422 description for an unknown interval or range, a period that is not an integer,
    /// or `period1 > period2`.
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, String> {
        let params = parse_params(query.unwrap_or(""));
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };

        let interval_text = get("interval").unwrap_or("1d").to_owned();
        let interval: Interval = interval_text.parse().map_err(|_| {
            format!("Invalid input - interval={interval_text} is not supported. Valid intervals: {VALID_INTERVALS}")
        })?;

        let period = |name: &str| -> Result<Option<i64>, String> {
            get(name)
                .map(|text| {
                    text.parse::<i64>()
                        .map_err(|_| format!("Invalid input - {name}={text} is not a valid epoch second"))
                })
                .transpose()
        };
        let (start, end) = (period("period1")?, period("period2")?);
        let (window, range_text) = if start.is_some() || end.is_some() {
            if let (Some(s), Some(e)) = (start, end)
                && s > e
            {
                return Err(format!(
                    "Invalid input - start date cannot be after end date. startDate = {s}, endDate = {e}"
                ));
            }
            (Window::Period { start, end }, String::new())
        } else {
            let text = get("range").unwrap_or("1d");
            let window = parse_range(text).ok_or_else(|| {
                format!(
                    "Invalid input - range={text} is not supported. Valid ranges: [{}]",
                    VALID_RANGES.join(", ")
                )
            })?;
            (window, text.to_owned())
        };

        let events = get("events").unwrap_or("");
        let wants = |names: &[&str]| events.split(['|', ',']).any(|event| names.contains(&event.trim()));
        let dividends = wants(&["div", "divs", "dividends"]);
        let splits = wants(&["split", "splits"]);
        let adjclose = !interval.is_intraday() && get("includeAdjustedClose") != Some("false");

        Ok(Self {
            interval,
            interval_text,
            window,
            range_text,
            dividends,
            splits,
            adjclose,
        })
    }
}

fn parse_range(text: &str) -> Option<Window> {
    Some(match text {
        "1d" => Window::Days(1),
        "5d" => Window::Days(5),
        "1mo" => Window::Months(1),
        "3mo" => Window::Months(3),
        "6mo" => Window::Months(6),
        "1y" => Window::Months(12),
        "2y" => Window::Months(24),
        "5y" => Window::Months(60),
        "10y" => Window::Months(120),
        "ytd" => Window::Ytd,
        "max" => Window::Max,
        _ => return None,
    })
}

/// `application/x-www-form-urlencoded` pairs, decoded (`+` is a space), in order.
pub(crate) fn parse_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (a malformed escape is kept as is), and `+` as a space when asked.
/// Bytes that do not form UTF-8 become U+FFFD.
pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high << 4) | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (`^` becomes `%5E`).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_paths() {
        assert_eq!(chart_symbol("/v8/finance/chart/AAPL").as_deref(), Some("AAPL"));
        assert_eq!(chart_symbol("/v8/finance/chart/%5ESOX").as_deref(), Some("^SOX"));
        assert_eq!(chart_symbol("/v8/finance/chart/%5esox").as_deref(), Some("^SOX"));
        assert_eq!(chart_symbol("/v8/finance/chart/brk-b").as_deref(), Some("BRK-B"));
        assert_eq!(chart_symbol("/v8/finance/chart/ES%3DF").as_deref(), Some("ES=F"));
        assert_eq!(chart_symbol("/v8/finance/chart/"), None);
        assert_eq!(chart_symbol("/v8/finance/chart/AAPL/"), None);
        assert_eq!(chart_symbol("/v7/finance/chart/AAPL"), None);
        assert_eq!(chart_symbol("/v8/finance/chart"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("div%7Csplit", true), "div|split");
        assert_eq!(percent_decode("a+b%20c", true), "a b c");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%4", false), "%4");
        assert_eq!(percent_decode("%zz%41", false), "%zzA");
        assert_eq!(percent_decode("%E2%82%AC", false), "\u{20ac}");
        assert_eq!(percent_decode("%FF", false), "\u{fffd}");
        assert_eq!(percent_encode("^SOX"), "%5ESOX");
        assert_eq!(percent_encode("ES=F"), "ES%3DF");
        assert_eq!(percent_encode("M&M.NS"), "M%26M.NS");
        assert_eq!(percent_decode(&percent_encode("^A b&c=d/e"), false), "^A b&c=d/e");
    }

    #[test]
    fn query_defaults_and_ranges() {
        let q = ChartQuery::parse(None).unwrap();
        assert_eq!(
            (q.interval, q.window, q.range_text.as_str()),
            (Interval::D1, Window::Days(1), "1d")
        );
        assert!(q.adjclose && !q.dividends && !q.splits);

        let q = ChartQuery::parse(Some("interval=60m&range=10y&events=div%7Csplit")).unwrap();
        assert_eq!((q.interval, q.interval_text.as_str()), (Interval::H1, "60m"));
        assert_eq!(q.window, Window::Months(120));
        assert!(q.dividends && q.splits && !q.adjclose, "no adjclose for intraday");

        let q = ChartQuery::parse(Some("range=ytd&events=div&includeAdjustedClose=false")).unwrap();
        assert_eq!(q.window, Window::Ytd);
        assert!(q.dividends && !q.splits && !q.adjclose);

        for (text, window) in [
            ("5d", Window::Days(5)),
            ("1y", Window::Months(12)),
            ("max", Window::Max),
        ] {
            assert_eq!(
                ChartQuery::parse(Some(&format!("range={text}"))).unwrap().window,
                window
            );
        }
    }

    #[test]
    fn periods_win_over_ranges() {
        let q = ChartQuery::parse(Some("range=1mo&period1=100&period2=200&interval=1wk")).unwrap();
        assert_eq!(
            q.window,
            Window::Period {
                start: Some(100),
                end: Some(200)
            }
        );
        assert_eq!(q.range_text, "");
        let q = ChartQuery::parse(Some("period1=-5")).unwrap();
        assert_eq!(
            q.window,
            Window::Period {
                start: Some(-5),
                end: None
            }
        );
    }

    #[test]
    fn errors_are_yahoo_descriptions() {
        assert_eq!(
            ChartQuery::parse(Some("interval=2h")).unwrap_err(),
            "Invalid input - interval=2h is not supported. Valid intervals: [1m, 5m, 15m, 60m, 1h, 1d, 1wk, 1mo]"
        );
        assert_eq!(
            ChartQuery::parse(Some("range=7d")).unwrap_err(),
            "Invalid input - range=7d is not supported. Valid ranges: [1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd, max]"
        );
        assert_eq!(
            ChartQuery::parse(Some("period1=abc")).unwrap_err(),
            "Invalid input - period1=abc is not a valid epoch second"
        );
        assert!(
            ChartQuery::parse(Some("period1=300&period2=200"))
                .unwrap_err()
                .contains("start date cannot be after end date")
        );
        assert!(
            ChartQuery::parse(Some("interval=1M")).is_err(),
            "case-sensitive, like Yahoo"
        );
    }
}
