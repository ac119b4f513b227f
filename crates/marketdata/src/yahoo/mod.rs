//! The Yahoo Finance provider: the v8 chart API over one pooled reqwest client.
//!
//! Every call is one `GET {base}/v8/finance/chart/{symbol}`; the quote, the metadata and the
//! 52-week highs come from the chart's `meta`, history from its arrays. This client makes
//! exactly one HTTP request per call and maps every answer to a value or a typed
//! [`MarketDataError`]; retries, rate limiting, the circuit breaker, coalescing and caching are
//! the [`Resilient`](crate::Resilient) layer's job.

mod chart;

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use finstage_domain::{Interval, Quote, Symbol};
use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

pub(crate) use chart::excerpt;
use chart::{ParsedChart, chart_error, parse_chart, parse_error, quote_from_meta};

use crate::{Highs, History, HistoryRequest, MarketDataError, Provider, Range, Span, SymbolMeta};

const PROVIDER: &str = "yahoo";

/// Yahoo's public API host.
pub const DEFAULT_BASE_URL: &str = "https://query1.finance.yahoo.com";

/// A current desktop browser's User-Agent: Yahoo refuses clients that do not look like one.
pub const DEFAULT_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// How the Yahoo client connects.
#[derive(Debug, Clone)]
pub struct YahooConfig {
    /// Scheme and host (and optional path prefix) the `/v8/finance/chart/…` paths are appended
    /// to. Tests point it at the mock server.
    pub base_url: String,
    /// The User-Agent header sent with every request.
    pub user_agent: String,
    /// Time allowed to open a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed between two reads of the response (a stalled connection fails after this
    /// long, however long the whole request may take).
    pub read_timeout: Duration,
    /// Time allowed for a whole request, from sending to the last byte of the body.
    pub timeout: Duration,
    /// Idle connections kept per host for reuse.
    pub pool_max_idle_per_host: usize,
}

impl Default for YahooConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
            pool_max_idle_per_host: 64,
        }
    }
}

/// The Yahoo Finance v8 chart client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct YahooProvider {
    client: reqwest::Client,
    chart_base: Url,
}

impl YahooProvider {
    /// A client for `config`: one connection pool, rustls with the ring provider (installed as
    /// the process default if none is), the configured timeouts and User-Agent.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] when the base URL is not an absolute `http`/`https` URL, or
    /// the HTTP client cannot be built.
    pub fn new(config: &YahooConfig) -> Result<Self, MarketDataError> {
        let mut base = Url::parse(&config.base_url)
            .map_err(|e| MarketDataError::Config(format!("yahoo base_url {:?}: {e}", config.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(MarketDataError::Config(format!(
                "yahoo base_url {:?}: expected an http:// or https:// URL",
                config.base_url
            )));
        }
        base.path_segments_mut()
            .map_err(|()| MarketDataError::Config("yahoo base_url cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(["v8", "finance", "chart"]);
        // reqwest is built without a bundled crypto provider; ring is ours. A provider some
        // other part of the process installed first is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .build()
            .map_err(|e| MarketDataError::Config(format!("yahoo HTTP client: {e}")))?;
        Ok(Self {
            client,
            chart_base: base,
        })
    }

    /// Parses a v8 chart body (as Yahoo sends it with HTTP 200) into a validated history: the
    /// same code the client runs on every response. Useful on saved responses.
    ///
    /// # Errors
    /// [`MarketDataError::Malformed`] for a body that is not chart JSON or has inconsistent
    /// arrays, [`MarketDataError::NotFound`]/[`MarketDataError::InvalidRange`] for a
    /// `chart.error`, [`MarketDataError::NoData`] for a chart without a result.
    pub fn parse_chart(body: &[u8], symbol: Symbol, interval: Interval) -> Result<History, MarketDataError> {
        parse_chart(body, symbol, interval).map(|parsed| parsed.history)
    }

    fn chart_url(&self, symbol: Symbol) -> Url {
        // Everything but unreserved characters is percent-encoded, as a browser sends it:
        // `^GSPC` becomes `%5EGSPC`, `CL=F` becomes `CL%3DF`.
        let mut encoded = String::with_capacity(symbol.as_str().len() * 3);
        for byte in symbol.as_str().bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        let mut url = self.chart_base.clone();
        let path = format!("{}/{encoded}", url.path());
        url.set_path(&path);
        url
    }

    /// One GET of the chart endpoint; the body of a 200, or the typed error of anything else.
    async fn get_chart(
        &self,
        endpoint: &'static str,
        symbol: Symbol,
        query: &[(&str, String)],
    ) -> Result<Bytes, MarketDataError> {
        let started = Instant::now();
        let outcome = self.send(endpoint, symbol, query).await;
        let status: &str = match &outcome {
            Ok(_) => "200",
            Err(MarketDataError::Status { status, .. }) => status_label(*status),
            Err(MarketDataError::NotFound { .. }) => "404",
            Err(MarketDataError::InvalidRange { .. }) => "422",
            Err(MarketDataError::RateLimited { .. }) => "429",
            Err(e) => e.kind(),
        };
        metrics::counter!("finstage_upstream_requests_total", "provider" => PROVIDER, "endpoint" => endpoint, "status" => status)
            .increment(1);
        metrics::histogram!("finstage_upstream_request_duration_seconds", "provider" => PROVIDER, "endpoint" => endpoint)
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn send(
        &self,
        endpoint: &'static str,
        symbol: Symbol,
        query: &[(&str, String)],
    ) -> Result<Bytes, MarketDataError> {
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                MarketDataError::Timeout {
                    provider: PROVIDER,
                    endpoint,
                }
            } else {
                MarketDataError::Connect {
                    provider: PROVIDER,
                    message: excerpt(&e.without_url().to_string()),
                }
            }
        };
        let response = self
            .client
            .get(self.chart_url(symbol))
            .query(query)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let retry_after = retry_after(response.headers(), DateTime::<Utc>::from(std::time::SystemTime::now()));
        // A body cut short (Content-Length not met, connection reset) fails here: a transport
        // error, retryable.
        let body = response.bytes().await.map_err(transport)?;
        match status {
            StatusCode::OK => Ok(body),
            StatusCode::TOO_MANY_REQUESTS => Err(MarketDataError::RateLimited {
                provider: PROVIDER,
                retry_after,
            }),
            StatusCode::NOT_FOUND => Err(parse_error(&body).map_or(
                MarketDataError::NotFound {
                    provider: PROVIDER,
                    symbol,
                },
                |e| {
                    match chart_error(e, symbol) {
                        // A 404 whose error code is unusual is still an unknown symbol.
                        MarketDataError::Malformed { .. } => MarketDataError::NotFound {
                            provider: PROVIDER,
                            symbol,
                        },
                        typed => typed,
                    }
                },
            )),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => Err(MarketDataError::InvalidRange {
                provider: PROVIDER,
                symbol,
                message: parse_error(&body)
                    .and_then(|e| e.description)
                    .map_or_else(|| excerpt(&String::from_utf8_lossy(&body)), |d| excerpt(&d)),
            }),
            other => Err(MarketDataError::Status {
                provider: PROVIDER,
                endpoint,
                status: other.as_u16(),
                excerpt: excerpt(&String::from_utf8_lossy(&body)),
            }),
        }
    }

    async fn chart(
        &self,
        endpoint: &'static str,
        symbol: Symbol,
        interval: Interval,
        span: Span,
        events: bool,
    ) -> Result<ParsedChart, MarketDataError> {
        let mut query = vec![("interval", yahoo_interval(interval).to_owned())];
        match span {
            Span::Range(range) => query.push(("range", range.as_str().to_owned())),
            Span::Between { from, to } => {
                query.push(("period1", from.timestamp().to_string()));
                query.push(("period2", to.timestamp().to_string()));
            }
        }
        if events {
            query.push(("events", "div|split".to_owned()));
        }
        query.push(("includeAdjustedClose", "true".to_owned()));
        let body = self.get_chart(endpoint, symbol, &query).await?;
        let parsed = parse_chart(&body, symbol, interval);
        if let Ok(parsed) = &parsed
            && parsed.history.skipped > 0
        {
            metrics::counter!("finstage_upstream_rows_skipped_total", "provider" => PROVIDER)
                .increment(parsed.history.skipped as u64);
            tracing::debug!(%symbol, skipped = parsed.history.skipped, "rows without a valid bar left out");
        }
        parsed
    }
}

/// Yahoo names the hour `60m`.
fn yahoo_interval(interval: Interval) -> &'static str {
    match interval {
        Interval::H1 => "60m",
        other => other.as_str(),
    }
}

fn status_label(status: u16) -> &'static str {
    match status {
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        400..=499 => "4xx",
        501 | 505..=599 => "5xx",
        _ => "other",
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

impl Provider for YahooProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>> {
        Box::pin(async move {
            let parsed = self
                .chart("quote", symbol, Interval::D1, Span::Range(Range::D1), false)
                .await?;
            quote_from_meta(&parsed.meta, symbol)
        })
    }

    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>> {
        Box::pin(async move {
            let parsed = self
                .chart(
                    "history",
                    request.symbol,
                    request.interval,
                    request.span,
                    request.events,
                )
                .await?;
            if parsed.history.bars.is_empty() {
                return Err(MarketDataError::NoData {
                    provider: PROVIDER,
                    symbol: request.symbol,
                });
            }
            Ok(parsed.history)
        })
    }

    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>> {
        Box::pin(async move {
            let parsed = self
                .chart("metadata", symbol, Interval::D1, Span::Range(Range::D1), false)
                .await?;
            Ok(parsed.history.meta)
        })
    }

    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>> {
        Box::pin(async move {
            // Monthly bars over the whole history: the all-time high in one small response,
            // and the meta's 52-week range with it.
            let parsed = self
                .chart("highs", symbol, Interval::Mo1, Span::Range(Range::Max), false)
                .await?;
            let all_time_high = parsed
                .history
                .bars
                .iter()
                .max_by(|a, b| a.high().total_cmp(&b.high()))
                .map(|bar| (bar.high(), bar.time().to_utc().date_naive()));
            let valid = |x: Option<f64>| x.filter(|x| x.is_finite() && *x > 0.0);
            let highs = Highs {
                symbol,
                fifty_two_week_high: valid(parsed.meta.fifty_two_week_high),
                fifty_two_week_low: valid(parsed.meta.fifty_two_week_low),
                all_time_high,
            };
            if highs.fifty_two_week_high.is_none() && highs.all_time_high.is_none() {
                return Err(MarketDataError::NoData {
                    provider: PROVIDER,
                    symbol,
                });
            }
            Ok(highs)
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Sun, 22 Nov 2026 10:00:30 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn symbols_are_percent_encoded_into_the_path() {
        let yahoo = YahooProvider::new(&YahooConfig {
            base_url: "http://127.0.0.1:1/prefix/".to_owned(),
            ..YahooConfig::default()
        })
        .unwrap();
        let url = yahoo.chart_url(Symbol::parse("^GSPC").unwrap());
        assert_eq!(url.as_str(), "http://127.0.0.1:1/prefix/v8/finance/chart/%5EGSPC");
        let url = yahoo.chart_url(Symbol::parse("CL=F").unwrap());
        assert_eq!(url.as_str(), "http://127.0.0.1:1/prefix/v8/finance/chart/CL%3DF");
        let url = yahoo.chart_url(Symbol::parse("BRK.B").unwrap());
        assert_eq!(url.as_str(), "http://127.0.0.1:1/prefix/v8/finance/chart/BRK.B");
    }

    #[test]
    fn the_default_https_client_builds_and_bad_urls_are_refused() {
        assert!(YahooProvider::new(&YahooConfig::default()).is_ok());
        for bad in ["", "ftp://example.com", "not a url", "mailto:x@example.com"] {
            let config = YahooConfig {
                base_url: bad.to_owned(),
                ..YahooConfig::default()
            };
            assert!(
                matches!(YahooProvider::new(&config), Err(MarketDataError::Config(_))),
                "{bad}"
            );
        }
    }
}
