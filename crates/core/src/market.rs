//! Markets and their regular sessions: which exchange a symbol trades on, in which time zone,
//! and whether it is open at an instant — so that jobs poll equities only while they trade and
//! crypto and FX around the clock.
//!
//! Sessions are the regular ones of each exchange (no pre- or post-market, no lunch breaks);
//! exchange holidays are not modelled: on a holiday a poll finds an unchanged quote and the
//! daily update finds no new bar, which costs a request per symbol and nothing else.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use finstage_domain::{Category, Symbol};
use finstage_tasks::NextSlot;

use crate::CoreError;
use crate::config::{DailyTime, TimeZoneSpec};

/// When a market trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    /// Monday to Friday from `open` to `close`, local time.
    Weekdays {
        /// The session's first minute.
        open: NaiveTime,
        /// Its end (exclusive).
        close: NaiveTime,
    },
    /// From Sunday at `open` to Friday at `close`, local time, with a daily halt from `close`
    /// to `open` (CME futures: 18:00 to 17:00 New York time; FX: 17:00 to 17:00, no halt).
    SundayToFriday {
        /// The daily (and Sunday) opening time.
        open: NaiveTime,
        /// The daily (and Friday) closing time.
        close: NaiveTime,
    },
    /// Always (crypto).
    Always,
}

/// An exchange (or a class of instruments) with its time zone and hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Market {
    /// Its name in the configuration (`us`, `kr`, `crypto`, …).
    pub name: &'static str,
    /// Its time zone.
    pub time_zone: Tz,
    /// Its regular hours.
    pub hours: Hours,
}

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => panic!("a valid time"),
    }
}

const fn weekdays(name: &'static str, time_zone: Tz, open: NaiveTime, close: NaiveTime) -> Market {
    Market {
        name,
        time_zone,
        hours: Hours::Weekdays { open, close },
    }
}

/// Every market Finstage knows, by name.
pub const MARKETS: [Market; 9] = [
    weekdays("us", Tz::America__New_York, hm(9, 30), hm(16, 0)),
    weekdays("kr", Tz::Asia__Seoul, hm(9, 0), hm(15, 30)),
    weekdays("jp", Tz::Asia__Tokyo, hm(9, 0), hm(15, 30)),
    weekdays("hk", Tz::Asia__Hong_Kong, hm(9, 30), hm(16, 0)),
    weekdays("uk", Tz::Europe__London, hm(8, 0), hm(16, 30)),
    weekdays("de", Tz::Europe__Berlin, hm(9, 0), hm(17, 30)),
    Market {
        name: "futures",
        time_zone: Tz::America__New_York,
        hours: Hours::SundayToFriday {
            open: hm(18, 0),
            close: hm(17, 0),
        },
    },
    Market {
        name: "fx",
        time_zone: Tz::America__New_York,
        hours: Hours::SundayToFriday {
            open: hm(17, 0),
            close: hm(17, 0),
        },
    },
    Market {
        name: "crypto",
        time_zone: Tz::UTC,
        hours: Hours::Always,
    },
];

/// Yahoo ticker suffixes and index tickers of the markets other than `us`.
const SUFFIXES: [(&str, &str); 9] = [
    (".KS", "kr"),
    (".KQ", "kr"),
    (".T", "jp"),
    (".HK", "hk"),
    (".L", "uk"),
    (".DE", "de"),
    (".F", "de"),
    ("=X", "fx"),
    ("=F", "futures"),
];
const INDICES: [(&str, &str); 8] = [
    ("^KS11", "kr"),
    ("^KQ11", "kr"),
    ("^N225", "jp"),
    ("^HSI", "hk"),
    ("^FTSE", "uk"),
    ("^GDAXI", "de"),
    ("^VIX", "us"),
    ("^TNX", "us"),
];

impl Market {
    /// The market called `name`.
    pub fn by_name(name: &str) -> Option<Market> {
        MARKETS.iter().copied().find(|m| m.name == name)
    }

    /// The market `symbol` of `category` trades on: crypto and FX by category, others by the
    /// ticker's exchange suffix (`005930.KS` is Korea, `7203.T` Tokyo) or index; futures on
    /// the futures market; everything else New York.
    pub fn of(symbol: &Symbol, category: Category) -> Market {
        let name = match category {
            Category::Crypto => "crypto",
            Category::Fx => "fx",
            Category::Future => "futures",
            _ => {
                let ticker = symbol.as_str();
                INDICES
                    .iter()
                    .find(|(index, _)| *index == ticker)
                    .or_else(|| SUFFIXES.iter().find(|(suffix, _)| ticker.ends_with(suffix)))
                    .map_or("us", |(_, market)| market)
            }
        };
        Market::by_name(name).unwrap_or(MARKETS[0])
    }

    /// Whether the market trades at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.time_zone);
        let (day, time) = (local.weekday(), local.time());
        match self.hours {
            Hours::Always => true,
            Hours::Weekdays { open, close } => is_weekday(day) && time >= open && time < close,
            Hours::SundayToFriday { open, close } => match day {
                Weekday::Sat => false,
                Weekday::Sun => time >= open,
                Weekday::Fri => time < close,
                _ => time < close || time >= open,
            },
        }
    }

    /// The trading date a bar closing at or before `now` belongs to: today (local) once the
    /// session has closed, else the previous trading day. Used to tell whether the newest
    /// stored bar is the newest there can be.
    pub fn last_closed_session(&self, now: DateTime<Utc>) -> NaiveDate {
        let local = now.with_timezone(&self.time_zone);
        let mut date = local.date_naive();
        let closed_today = match self.hours {
            Hours::Always => false,
            Hours::Weekdays { close, .. } | Hours::SundayToFriday { close, .. } => local.time() >= close,
        };
        if !closed_today {
            date = date.pred_opt().unwrap_or(date);
        }
        if !matches!(self.hours, Hours::Always) {
            while !is_weekday(date.weekday()) {
                date = date.pred_opt().unwrap_or(date);
            }
        }
        date
    }
}

fn is_weekday(day: Weekday) -> bool {
    !matches!(day, Weekday::Sat | Weekday::Sun)
}

/// A time zone resolved from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// An IANA zone (UTC is one).
    Named(Tz),
    /// A fixed offset.
    Fixed(chrono::FixedOffset),
}

impl Zone {
    /// Resolves a configured zone.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming `key` when an IANA name is unknown.
    pub fn resolve(spec: &TimeZoneSpec, key: &str) -> Result<Zone, CoreError> {
        match spec {
            TimeZoneSpec::Utc => Ok(Zone::Named(Tz::UTC)),
            TimeZoneSpec::Fixed(offset) => Ok(Zone::Fixed(*offset)),
            TimeZoneSpec::Named(name) => name.parse::<Tz>().map(Zone::Named).map_err(|_| CoreError::Config {
                key: key.to_owned(),
                message: format!("{key}: unknown time zone {name:?} (an IANA name such as America/New_York)"),
            }),
        }
    }

    /// The instant of `time` on `date` in this zone: the earlier of two in a repeated hour,
    /// and the first instant after a skipped one (a spring-forward gap).
    fn at(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        fn pick<T: TimeZone>(zone: &T, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
            let mut probe = local;
            // A gap lasts at most a few hours; step through it a quarter hour at a time.
            for _ in 0..16 {
                if let Some(t) = zone.from_local_datetime(&probe).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
                probe += TimeDelta::minutes(15);
            }
            None
        }
        match self {
            Zone::Named(tz) => pick(tz, local),
            Zone::Fixed(offset) => pick(offset, local),
        }
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        match self {
            Zone::Named(tz) => instant.with_timezone(tz).date_naive(),
            Zone::Fixed(offset) => instant.with_timezone(offset).date_naive(),
        }
    }
}

/// A time of day in a time zone, every day or on weekdays only: the calendar of the daily
/// jobs ([`NextSlot`] for the task scheduler), right across daylight-saving changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDaily {
    /// The local time of day.
    pub at: NaiveTime,
    /// The zone.
    pub zone: Zone,
    /// Monday to Friday only.
    pub weekdays_only: bool,
}

impl LocalDaily {
    /// The calendar of a configured daily time.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming `key` for an unknown time zone.
    pub fn from_config(daily: &DailyTime, key: &str, weekdays_only: bool) -> Result<Self, CoreError> {
        Ok(LocalDaily {
            at: daily.at,
            zone: Zone::resolve(&daily.time_zone, &format!("{key}.time_zone"))?,
            weekdays_only,
        })
    }
}

impl NextSlot for LocalDaily {
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut date = self.zone.local_date(after).pred_opt()?;
        // Eight days always hold the next slot (weekends skipped included).
        for _ in 0..9 {
            let eligible = !self.weekdays_only || is_weekday(date.weekday());
            if eligible
                && let Some(slot) = self.zone.at(date, self.at)
                && slot > after
            {
                return Some(slot);
            }
            date = date.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    #[test]
    fn symbols_find_their_markets() {
        let cases = [
            ("AAPL", Category::Stock, "us"),
            ("^GSPC", Category::Index, "us"),
            ("005930.KS", Category::Stock, "kr"),
            ("^KS11", Category::Index, "kr"),
            ("7203.T", Category::Stock, "jp"),
            ("^N225", Category::Index, "jp"),
            ("VOD.L", Category::Stock, "uk"),
            ("GC=F", Category::Future, "futures"),
            ("EURUSD=X", Category::Fx, "fx"),
            ("BTC-USD", Category::Crypto, "crypto"),
        ];
        for (ticker, category, market) in cases {
            assert_eq!(Market::of(&sym(ticker), category).name, market, "{ticker}");
        }
    }

    #[test]
    fn new_york_opens_at_half_past_nine_local_time_in_winter_and_summer() {
        let us = Market::by_name("us").unwrap();
        // Winter (EST, UTC-5): 09:30 local = 14:30 UTC.
        assert!(!us.is_open(utc(2026, 1, 6, 14, 29)));
        assert!(us.is_open(utc(2026, 1, 6, 14, 30)));
        assert!(us.is_open(utc(2026, 1, 6, 20, 59)));
        assert!(!us.is_open(utc(2026, 1, 6, 21, 0)));
        // Summer (EDT, UTC-4): 09:30 local = 13:30 UTC.
        assert!(us.is_open(utc(2026, 7, 7, 13, 30)));
        assert!(!us.is_open(utc(2026, 7, 7, 20, 0)));
        // Saturday and Sunday are closed all day.
        assert!(!us.is_open(utc(2026, 7, 11, 15, 0)));
        assert!(!us.is_open(utc(2026, 7, 12, 15, 0)));
    }

    #[test]
    fn seoul_trades_while_new_york_sleeps() {
        let kr = Market::by_name("kr").unwrap();
        // Tuesday 10:00 in Seoul is Tuesday 01:00 UTC.
        assert!(kr.is_open(utc(2026, 3, 3, 1, 0)));
        assert!(!Market::by_name("us").unwrap().is_open(utc(2026, 3, 3, 1, 0)));
        // Monday 08:59 in Seoul is Sunday 23:59 UTC: closed.
        assert!(!kr.is_open(utc(2026, 3, 1, 23, 59)));
    }

    #[test]
    fn crypto_never_closes_and_fx_closes_for_the_weekend() {
        let crypto = Market::by_name("crypto").unwrap();
        let fx = Market::by_name("fx").unwrap();
        let saturday = utc(2026, 7, 11, 12, 0);
        assert!(crypto.is_open(saturday));
        assert!(!fx.is_open(saturday));
        // FX opens Sunday 17:00 New York (21:00 UTC in summer) and closes Friday 17:00.
        assert!(!fx.is_open(utc(2026, 7, 12, 20, 59)));
        assert!(fx.is_open(utc(2026, 7, 12, 21, 0)));
        assert!(fx.is_open(utc(2026, 7, 15, 3, 0)), "Wednesday night");
        assert!(fx.is_open(utc(2026, 7, 17, 20, 59)));
        assert!(!fx.is_open(utc(2026, 7, 17, 21, 0)));
        // Futures halt daily from 17:00 to 18:00 New York.
        let futures = Market::by_name("futures").unwrap();
        assert!(!futures.is_open(utc(2026, 7, 14, 21, 30)));
        assert!(futures.is_open(utc(2026, 7, 14, 22, 0)));
    }

    #[test]
    fn the_last_closed_session_skips_weekends_and_waits_for_the_close() {
        let us = Market::by_name("us").unwrap();
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // Tuesday before the close: Monday's session; after the close: Tuesday's.
        assert_eq!(us.last_closed_session(utc(2026, 7, 14, 15, 0)), date(2026, 7, 13));
        assert_eq!(us.last_closed_session(utc(2026, 7, 14, 20, 30)), date(2026, 7, 14));
        // Monday morning and all weekend: Friday's.
        assert_eq!(us.last_closed_session(utc(2026, 7, 13, 12, 0)), date(2026, 7, 10));
        assert_eq!(us.last_closed_session(utc(2026, 7, 12, 12, 0)), date(2026, 7, 10));
        assert_eq!(
            Market::by_name("crypto")
                .unwrap()
                .last_closed_session(utc(2026, 7, 12, 12, 0)),
            date(2026, 7, 11)
        );
    }

    #[test]
    fn a_local_daily_time_follows_daylight_saving() {
        let daily = LocalDaily {
            at: hm(16, 30),
            zone: Zone::Named(Tz::America__New_York),
            weekdays_only: true,
        };
        // 16:30 New York is 21:30 UTC in winter and 20:30 UTC in summer.
        assert_eq!(daily.next_after(utc(2026, 1, 6, 12, 0)), Some(utc(2026, 1, 6, 21, 30)));
        assert_eq!(daily.next_after(utc(2026, 7, 7, 12, 0)), Some(utc(2026, 7, 7, 20, 30)));
        // Strictly after: at the slot itself, the next weekday's.
        assert_eq!(daily.next_after(utc(2026, 7, 7, 20, 30)), Some(utc(2026, 7, 8, 20, 30)));
        // Friday evening → Monday.
        assert_eq!(
            daily.next_after(utc(2026, 7, 10, 21, 0)),
            Some(utc(2026, 7, 13, 20, 30))
        );
        // Across the spring change (8 March 2026): Friday EST, Monday EDT.
        assert_eq!(daily.next_after(utc(2026, 3, 6, 22, 0)), Some(utc(2026, 3, 9, 20, 30)));
        // Every day when not weekdays only.
        let every_day = LocalDaily {
            weekdays_only: false,
            ..daily
        };
        assert_eq!(
            every_day.next_after(utc(2026, 7, 10, 21, 0)),
            Some(utc(2026, 7, 11, 20, 30))
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_fires_after_the_gap() {
        // 02:30 does not exist in New York on 8 March 2026 (02:00 → 03:00 EDT).
        let daily = LocalDaily {
            at: hm(2, 30),
            zone: Zone::Named(Tz::America__New_York),
            weekdays_only: false,
        };
        assert_eq!(daily.next_after(utc(2026, 3, 8, 5, 0)), Some(utc(2026, 3, 8, 7, 0)));
        // A fixed offset has no gaps.
        let tokyo = LocalDaily {
            at: hm(9, 0),
            zone: Zone::Fixed(chrono::FixedOffset::east_opt(9 * 3600).unwrap()),
            weekdays_only: false,
        };
        assert_eq!(tokyo.next_after(utc(2026, 3, 8, 0, 0)), Some(utc(2026, 3, 9, 0, 0)));
    }

    #[test]
    fn unknown_zone_names_are_named_in_the_error() {
        let err = Zone::resolve(
            &TimeZoneSpec::Named("Mars/Olympus".into()),
            "scheduler.daily_report.time_zone",
        )
        .unwrap_err();
        assert!(err.to_string().contains("scheduler.daily_report.time_zone"), "{err}");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
