//! The messages Finstage sends, as Telegram HTML: a signal alert ([`signal_alert`]), a digest
//! of many ([`signal_digest`]), the daily report ([`daily_report`]) and a test message
//! ([`test_message`]). Every piece of data goes through [`escape_html`]; every tag opens and
//! closes on one line, so [`split_html`](crate::split_html) can cut long messages between
//! lines.

use std::fmt::Write as _;

use finstage_analysis::report::{DailyReport, Position, SymbolReport};
use finstage_analysis::{Direction, Signal, SignalKind};

use crate::html::escape_html;
use crate::notifier::Message;

/// The kind label of a signal alert.
pub const KIND_SIGNAL: &str = "signal";
/// The kind label of a digest of signals.
pub const KIND_DIGEST: &str = "signal_digest";
/// The kind label of the daily report.
pub const KIND_DAILY_REPORT: &str = "daily_report";
/// The kind label of a test message.
pub const KIND_TEST: &str = "test";

/// A person's name for a kind: `Golden cross (SMA 50 over SMA 200)`, `RSI entered overbought`.
pub fn kind_title(kind: SignalKind) -> String {
    use SignalKind::*;
    match kind {
        MaBreakout { period } => format!("Close broke above SMA {period}"),
        MaBreakdown { period } => format!("Close broke below SMA {period}"),
        GoldenCross { fast, slow } => format!("Golden cross (SMA {fast} over SMA {slow})"),
        DeadCross { fast, slow } => format!("Dead cross (SMA {fast} under SMA {slow})"),
        RsiOverboughtEnter => "RSI entered overbought".into(),
        RsiOverboughtLeave => "RSI left overbought".into(),
        RsiOversoldEnter => "RSI entered oversold".into(),
        RsiOversoldLeave => "RSI left oversold".into(),
        RsiCrossAbove50 => "RSI crossed above 50".into(),
        RsiCrossBelow50 => "RSI crossed below 50".into(),
        BollingerBreakUpper => "Close broke above the upper Bollinger band".into(),
        BollingerBreakLower => "Close broke below the lower Bollinger band".into(),
        BollingerTouchUpper => "Close touched the upper Bollinger band".into(),
        BollingerTouchLower => "Close touched the lower Bollinger band".into(),
        MacdCrossUp => "MACD crossed above its signal line".into(),
        MacdCrossDown => "MACD crossed below its signal line".into(),
        MacdZeroCrossUp => "MACD crossed above zero".into(),
        MacdZeroCrossDown => "MACD crossed below zero".into(),
        StochCrossUpOversold => "Stochastic %K crossed above %D in oversold".into(),
        StochCrossDownOverbought => "Stochastic %K crossed below %D in overbought".into(),
        VolumeSpikeUp => "Volume spike on a rise".into(),
        VolumeSpikeDown => "Volume spike on a fall".into(),
        VolumeDryUp => "Volume dried up".into(),
        PriceRise => "Price rise".into(),
        PriceDrop => "Price drop".into(),
        PriceSurge => "Price surge".into(),
        PricePlunge => "Price plunge".into(),
        NewAllTimeHigh => "New all-time high".into(),
        DropFromHigh => "Drop from the all-time high".into(),
        PrevHighBreak => "Broke above the previous session's high".into(),
        PrevLowBreak => "Broke below the previous session's low".into(),
        other => other.to_string(),
    }
}

/// 🟢 bullish, 🔴 bearish, ⚪ neutral.
fn marker(direction: Direction) -> &'static str {
    match direction {
        Direction::Bullish => "🟢",
        Direction::Bearish => "🔴",
        Direction::Neutral => "⚪",
    }
}

/// A price or indicator value: two decimals from 10 up, four from 1 (FX), six below (small
/// coins).
fn number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let magnitude = value.abs();
    if magnitude >= 10.0 || magnitude == 0.0 {
        format!("{value:.2}")
    } else if magnitude >= 1.0 {
        format!("{value:.4}")
    } else {
        format!("{value:.6}")
    }
}

/// A signed percentage with two decimals: `+3.25%`.
fn percent(value: f64) -> String {
    if value.is_finite() {
        format!("{value:+.2}%")
    } else {
        "n/a".into()
    }
}

/// Five blocks for a strength from 0 to 1: `■■■□□`.
fn bar(strength: f64) -> String {
    let strength = if strength.is_finite() {
        strength.clamp(0.0, 1.0)
    } else {
        0.0
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0..=5
    let filled = (strength * 5.0).round() as usize;
    "■".repeat(filled) + &"□".repeat(5 - filled)
}

/// The values behind a signal as `name value` pairs: `previous_close` reads `previous close`;
/// percentages (`*_pct`) drop the suffix and are signed, except thresholds.
fn values_line(signal: &Signal) -> String {
    signal
        .values
        .iter()
        .map(|(name, value)| {
            let (label, shown) = match name.strip_suffix("_pct") {
                Some(label) if label.starts_with("threshold") => (label, format!("{value:.2}%")),
                Some(label) => (label, percent(value)),
                None => (name, number(value)),
            };
            format!("{} {}", escape_html(&label.replace('_', " ")), escape_html(&shown))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One signal as an alert:
///
/// ```text
/// 🟢 <b>AAPL</b> · Golden cross (SMA 50 over SMA 200)
/// Price 187.62 · 1d bar of 2008-05-16
/// fast 178.20 · slow 177.40
/// Strength ■■□□□ 0.47
/// ```
pub fn signal_alert(signal: &Signal) -> Message {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} <b>{}</b> · {}",
        marker(signal.direction),
        escape_html(signal.symbol.as_str()),
        escape_html(&kind_title(signal.kind))
    );
    let when = match signal.timeframe {
        finstage_analysis::Timeframe::Live => format!("live at {}", signal.time),
        timeframe => format!("{timeframe} bar of {}", signal.time),
    };
    let _ = writeln!(
        text,
        "Price {} · {}",
        escape_html(&number(signal.price)),
        escape_html(&when)
    );
    let values = values_line(signal);
    if !values.is_empty() {
        let _ = writeln!(text, "{values}");
    }
    let _ = write!(text, "Strength {} {:.2}", bar(signal.strength), signal.strength);
    Message::html(KIND_SIGNAL, text)
}

/// Many signals in one message, a line each, under a bold `title`; longer than one Telegram
/// message, it is split between lines when sent.
pub fn signal_digest(title: &str, signals: &[Signal]) -> Message {
    let mut text = format!("<b>{}</b>", escape_html(title));
    if signals.is_empty() {
        text.push_str("\nNo signals.");
    }
    for s in signals {
        let _ = write!(
            text,
            "\n{} <b>{}</b> {} · {} · {}",
            marker(s.direction),
            escape_html(s.symbol.as_str()),
            escape_html(&kind_title(s.kind)),
            escape_html(&number(s.price)),
            escape_html(&s.time.to_string())
        );
    }
    Message::html(KIND_DIGEST, text)
}

fn position(p: Option<Position>) -> &'static str {
    match p {
        Some(Position::Above) => "above",
        Some(Position::Below) => "below",
        None => "n/a",
    }
}

fn symbol_block(text: &mut String, s: &SymbolReport) {
    let change = match (s.close, s.change_pct) {
        (Some(close), Some(pct)) => format!("{} ({})", number(close), percent(pct)),
        (Some(close), None) => number(close),
        _ => "no data".into(),
    };
    let _ = writeln!(
        text,
        "<b>{}</b> {}",
        escape_html(s.symbol.as_str()),
        escape_html(&change)
    );
    if let (Some(high), Some(date), Some(from)) = (s.all_time_high, s.all_time_high_date, s.from_high_pct) {
        let _ = writeln!(
            text,
            "  ATH {} on {} · {} from it",
            escape_html(&number(high)),
            date,
            escape_html(&percent(from))
        );
    }
    let mut snapshot = Vec::new();
    if let Some(rsi) = s.rsi {
        snapshot.push(format!("RSI {rsi:.1}"));
    }
    if let Some(macd) = s.macd {
        snapshot.push(format!("MACD {}", macd.trend));
    }
    if s.sma50.is_some() || s.sma200.is_some() {
        snapshot.push(format!(
            "SMA50 {} · SMA200 {}",
            position(s.vs_sma50),
            position(s.vs_sma200)
        ));
    }
    if !snapshot.is_empty() {
        let _ = writeln!(text, "  {}", escape_html(&snapshot.join(" · ")));
    }
    for line in &s.signals {
        let _ = writeln!(
            text,
            "  {} {} ({:.2})",
            marker(line.direction),
            escape_html(&kind_title(line.kind)),
            line.strength
        );
    }
}

/// The daily report: a block per symbol under its watchlist, then the best and worst kinds by
/// one-week win rate.
pub fn daily_report(report: &DailyReport) -> Message {
    let mut text = String::new();
    let _ = writeln!(text, "<b>📊 Daily report {}</b>", report.date);
    for watchlist in &report.watchlists {
        let _ = writeln!(text, "\n<b>{}</b>", escape_html(&watchlist.name));
        for symbol in &watchlist.symbols {
            symbol_block(&mut text, symbol);
        }
    }
    let ranking = |text: &mut String, title: &str, ranks: &[finstage_analysis::report::KindRank]| {
        if ranks.is_empty() {
            return;
        }
        let _ = writeln!(text, "\n<b>{title}</b>");
        for r in ranks {
            let _ = writeln!(
                text,
                "  {}: {:.0}% of {} won in a week",
                escape_html(&kind_title(r.kind)),
                r.win_rate_1w * 100.0,
                r.measured
            );
        }
    };
    ranking(&mut text, "Best signals (1w win rate)", &report.best_kinds);
    ranking(&mut text, "Worst signals (1w win rate)", &report.worst_kinds);
    let text = text.trim_end().to_owned();
    Message::html(KIND_DAILY_REPORT, text)
}

/// A test message naming where it comes from (an instance name or host).
pub fn test_message(from: &str) -> Message {
    Message::html(
        KIND_TEST,
        format!(
            "✅ <b>Finstage</b> test message from {}\nAlerts will arrive in this chat.",
            escape_html(from)
        ),
    )
}
