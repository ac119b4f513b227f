//! Shared helpers: CSV loading, and running any indicator spec through its own typed API.

use std::path::{Path, PathBuf};

use finstage_indicators::{Bars, Candle, Indicator, IndicatorOutput, IndicatorSpec, Ohlcv};

pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

pub(crate) fn golden_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(file)
}

/// Reads `Date,Open,High,Low,Close,Volume[,...]`; bar times are the dates at midnight UTC.
pub(crate) fn load_bars(path: &Path) -> (Vec<String>, Bars) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dates = Vec::new();
    let mut bars = Bars::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        dates.push(f[0].to_string());
        bars.push(Candle::new(num(1), num(2), num(3), num(4), num(5)).at(days_from_civil(f[0]) * 86_400));
    }
    (dates, bars)
}

/// A golden file: dates, and (column name, values) pairs.
pub(crate) fn load_golden(path: &Path) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut columns: Vec<(String, Vec<f64>)> = header[1..].iter().map(|h| (h.to_string(), Vec::new())).collect();
    let mut dates = Vec::new();
    for line in lines {
        let mut fields = line.split(',');
        dates.push(fields.next().unwrap().to_string());
        for (column, field) in columns.iter_mut().zip(fields) {
            column.1.push(field.parse::<f64>().unwrap());
        }
    }
    (dates, columns)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's algorithm).
fn days_from_civil(date: &str) -> i64 {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Values of one output type as columns.
pub(crate) trait ToColumns: IndicatorOutput {
    fn columns(series: Self::Series) -> Vec<Vec<f64>>;
    fn row(self) -> Vec<f64>;
}

impl ToColumns for f64 {
    fn columns(series: Vec<f64>) -> Vec<Vec<f64>> {
        vec![series]
    }
    fn row(self) -> Vec<f64> {
        vec![self]
    }
}

impl ToColumns for finstage_indicators::MacdOutput {
    fn columns(s: finstage_indicators::MacdSeries) -> Vec<Vec<f64>> {
        vec![s.macd, s.signal, s.hist]
    }
    fn row(self) -> Vec<f64> {
        vec![self.macd, self.signal, self.hist]
    }
}

impl ToColumns for finstage_indicators::BBandsOutput {
    fn columns(s: finstage_indicators::BBandsSeries) -> Vec<Vec<f64>> {
        vec![s.upper, s.middle, s.lower]
    }
    fn row(self) -> Vec<f64> {
        vec![self.upper, self.middle, self.lower]
    }
}

impl ToColumns for finstage_indicators::StochOutput {
    fn columns(s: finstage_indicators::StochSeries) -> Vec<Vec<f64>> {
        vec![s.k, s.d]
    }
    fn row(self) -> Vec<f64> {
        vec![self.k, self.d]
    }
}

/// A streaming state of any spec, fed candles, giving a row per update (None while warming up).
pub(crate) type Stream = Box<dyn FnMut(Candle) -> Option<Vec<f64>>>;

fn series_stream<S>(mut state: S) -> Stream
where
    S: Indicator<Input = f64> + 'static,
    S::Output: ToColumns,
{
    Box::new(move |bar: Candle| state.update(bar.close).map(ToColumns::row))
}

fn bar_stream<S>(mut state: S) -> Stream
where
    S: Indicator<Input = Candle> + 'static,
    S::Output: ToColumns,
{
    Box::new(move |bar: Candle| state.update(bar).map(ToColumns::row))
}

/// The spec's typed streaming state, boxed.
pub(crate) fn stream(spec: IndicatorSpec) -> Stream {
    use IndicatorSpec as S;
    match spec {
        S::Sma(i) => series_stream(i.state()),
        S::Ema(i) => series_stream(i.state()),
        S::Wma(i) => series_stream(i.state()),
        S::Dema(i) => series_stream(i.state()),
        S::Tema(i) => series_stream(i.state()),
        S::Rsi(i) => series_stream(i.state()),
        S::Macd(i) => series_stream(i.state()),
        S::BBands(i) => series_stream(i.state()),
        S::StdDev(i) => series_stream(i.state()),
        S::StochRsi(i) => series_stream(i.state()),
        S::Roc(i) => series_stream(i.state()),
        S::Mom(i) => series_stream(i.state()),
        S::Atr(i) => bar_stream(i.state()),
        S::Natr(i) => bar_stream(i.state()),
        S::TRange(i) => bar_stream(i.state()),
        S::Stoch(i) => bar_stream(i.state()),
        S::Adx(i) => bar_stream(i.state()),
        S::PlusDi(i) => bar_stream(i.state()),
        S::MinusDi(i) => bar_stream(i.state()),
        S::Dx(i) => bar_stream(i.state()),
        S::Cci(i) => bar_stream(i.state()),
        S::Mfi(i) => bar_stream(i.state()),
        S::WillR(i) => bar_stream(i.state()),
        S::Obv(i) => bar_stream(i.state()),
        S::Vwap(i) => bar_stream(i.state()),
        other => panic!("no stream for {other}"),
    }
}

/// Runs a typed state over the bars in two `extend` calls split at `split`: the incremental API.
fn extend_in_two<S>(mut state: S, inputs: Vec<S::Input>, split: usize) -> Vec<Vec<f64>>
where
    S: Indicator,
    S::Output: ToColumns,
{
    let mut out = <S::Output as IndicatorOutput>::Series::default();
    let rest = inputs[split..].to_vec();
    state.extend(inputs.into_iter().take(split), &mut out);
    state.extend(rest, &mut out);
    S::Output::columns(out)
}

/// The spec's typed state extended over the bars in two parts, its outputs in column order.
pub(crate) fn extended(spec: IndicatorSpec, bars: &Ohlcv<'_>, split: usize) -> Vec<Vec<f64>> {
    use IndicatorSpec as S;
    let closes = bars.close().to_vec();
    let candles: Vec<Candle> = bars.candles().collect();
    match spec {
        S::Sma(i) => extend_in_two(i.state(), closes, split),
        S::Ema(i) => extend_in_two(i.state(), closes, split),
        S::Wma(i) => extend_in_two(i.state(), closes, split),
        S::Dema(i) => extend_in_two(i.state(), closes, split),
        S::Tema(i) => extend_in_two(i.state(), closes, split),
        S::Rsi(i) => extend_in_two(i.state(), closes, split),
        S::Macd(i) => extend_in_two(i.state(), closes, split),
        S::BBands(i) => extend_in_two(i.state(), closes, split),
        S::StdDev(i) => extend_in_two(i.state(), closes, split),
        S::StochRsi(i) => extend_in_two(i.state(), closes, split),
        S::Roc(i) => extend_in_two(i.state(), closes, split),
        S::Mom(i) => extend_in_two(i.state(), closes, split),
        S::Atr(i) => extend_in_two(i.state(), candles, split),
        S::Natr(i) => extend_in_two(i.state(), candles, split),
        S::TRange(i) => extend_in_two(i.state(), candles, split),
        S::Stoch(i) => extend_in_two(i.state(), candles, split),
        S::Adx(i) => extend_in_two(i.state(), candles, split),
        S::PlusDi(i) => extend_in_two(i.state(), candles, split),
        S::MinusDi(i) => extend_in_two(i.state(), candles, split),
        S::Dx(i) => extend_in_two(i.state(), candles, split),
        S::Cci(i) => extend_in_two(i.state(), candles, split),
        S::Mfi(i) => extend_in_two(i.state(), candles, split),
        S::WillR(i) => extend_in_two(i.state(), candles, split),
        S::Obv(i) => extend_in_two(i.state(), candles, split),
        S::Vwap(i) => extend_in_two(i.state(), candles, split),
        other => panic!("no state for {other}"),
    }
}

/// The spec's typed batch function, its outputs in column order.
pub(crate) fn batch(spec: IndicatorSpec, bars: &Ohlcv<'_>) -> Vec<Vec<f64>> {
    use IndicatorSpec as S;
    let (h, l, c, v) = (bars.high(), bars.low(), bars.close(), bars.volume());
    match spec {
        S::Sma(i) => vec![i.batch(c)],
        S::Ema(i) => vec![i.batch(c)],
        S::Wma(i) => vec![i.batch(c)],
        S::Dema(i) => vec![i.batch(c)],
        S::Tema(i) => vec![i.batch(c)],
        S::Rsi(i) => vec![i.batch(c)],
        S::Macd(i) => <finstage_indicators::MacdOutput as ToColumns>::columns(i.batch(c)),
        S::BBands(i) => <finstage_indicators::BBandsOutput as ToColumns>::columns(i.batch(c)),
        S::StdDev(i) => vec![i.batch(c)],
        S::StochRsi(i) => <finstage_indicators::StochOutput as ToColumns>::columns(i.batch(c)),
        S::Roc(i) => vec![i.batch(c)],
        S::Mom(i) => vec![i.batch(c)],
        S::Atr(i) => vec![i.batch(h, l, c).unwrap()],
        S::Natr(i) => vec![i.batch(h, l, c).unwrap()],
        S::TRange(i) => vec![i.batch(h, l, c).unwrap()],
        S::Stoch(i) => <finstage_indicators::StochOutput as ToColumns>::columns(i.batch(h, l, c).unwrap()),
        S::Adx(i) => vec![i.batch(h, l, c).unwrap()],
        S::PlusDi(i) => vec![i.batch(h, l, c).unwrap()],
        S::MinusDi(i) => vec![i.batch(h, l, c).unwrap()],
        S::Dx(i) => vec![i.batch(h, l, c).unwrap()],
        S::Cci(i) => vec![i.batch(h, l, c).unwrap()],
        S::Mfi(i) => vec![i.batch(h, l, c, v).unwrap()],
        S::WillR(i) => vec![i.batch(h, l, c).unwrap()],
        S::Obv(i) => vec![i.batch(c, v).unwrap()],
        S::Vwap(i) => vec![i.batch(h, l, c, v, bars.time()).unwrap()],
        other => panic!("no batch for {other}"),
    }
}

/// Whether two values are the same bits, NaN included.
pub(crate) fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
