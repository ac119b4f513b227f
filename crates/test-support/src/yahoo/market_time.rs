//! Exchange time for the mock: the UTC offset of a trading date, the market's session times, and
//! the Yahoo timestamps derived from them (a daily bar is stamped at its market open).

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeDelta, Weekday};
use finstage_domain::BarTime;

/// How the mock turns trading dates into instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MarketClock {
    zone: Zone,
    open: NaiveTime,
    close: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// America/New_York: UTC−5, or UTC−4 under US daylight saving time.
    NewYork,
    /// One offset for every date, in seconds east of UTC.
    Fixed(i32),
}

/// Seconds east of UTC of New York standard time (EST).
const NEW_YORK_STANDARD: i32 = -5 * 3600;
/// Seconds east of UTC of New York daylight time (EDT).
const NEW_YORK_DAYLIGHT: i32 = -4 * 3600;

impl MarketClock {
    /// New York's rules, or one fixed offset when `gmtoffset` is given; the regular session runs
    /// from `open` to `close`, local time.
    pub(crate) fn new(gmtoffset: Option<i32>, open: NaiveTime, close: NaiveTime) -> Self {
        let zone = gmtoffset.map_or(Zone::NewYork, Zone::Fixed);
        Self { zone, open, close }
    }

    /// The UTC offset (seconds east) in force on `date`.
    pub(crate) fn offset_on(&self, date: NaiveDate) -> i32 {
        match self.zone {
            Zone::Fixed(offset) => offset,
            Zone::NewYork if us_daylight_saving(date) => NEW_YORK_DAYLIGHT,
            Zone::NewYork => NEW_YORK_STANDARD,
        }
    }

    /// The zone's abbreviation on `date`: `EDT`/`EST` for New York, `UTC` or `GMT+h[:mm]` for a
    /// fixed offset.
    pub(crate) fn abbreviation_on(&self, date: NaiveDate) -> String {
        match self.zone {
            Zone::NewYork if us_daylight_saving(date) => "EDT".to_owned(),
            Zone::NewYork => "EST".to_owned(),
            Zone::Fixed(0) => "UTC".to_owned(),
            Zone::Fixed(offset) => {
                let sign = if offset < 0 { '-' } else { '+' };
                let (hours, minutes) = (offset.unsigned_abs() / 3600, offset.unsigned_abs() % 3600 / 60);
                if minutes == 0 {
                    format!("GMT{sign}{hours}")
                } else {
                    format!("GMT{sign}{hours}:{minutes:02}")
                }
            }
        }
    }

    /// Epoch seconds of `time` (local) on `date`.
    pub(crate) fn local_instant(&self, date: NaiveDate, time: NaiveTime) -> i64 {
        date.and_time(time).and_utc().timestamp() - i64::from(self.offset_on(date))
    }

    /// Epoch seconds of the regular session's open on `date`: Yahoo's timestamp of a daily bar.
    pub(crate) fn open_instant(&self, date: NaiveDate) -> i64 {
        self.local_instant(date, self.open)
    }

    /// Epoch seconds of the regular session's close on `date`.
    pub(crate) fn close_instant(&self, date: NaiveDate) -> i64 {
        self.local_instant(date, self.close)
    }

    /// The Yahoo timestamp of a bar: its date's market open, or its own instant.
    pub(crate) fn timestamp(&self, time: BarTime) -> i64 {
        match time {
            BarTime::Date(date) => self.open_instant(date),
            BarTime::Timestamp(ts) => ts.timestamp(),
        }
    }

    /// The exchange's trading date of a bar: its date, or its instant in local time.
    pub(crate) fn local_date(&self, time: BarTime) -> NaiveDate {
        match time {
            BarTime::Date(date) => date,
            BarTime::Timestamp(ts) => {
                let offset = self.offset_on(ts.date_naive());
                (ts + TimeDelta::seconds(i64::from(offset))).date_naive()
            }
        }
    }
}

/// `true` when US daylight saving time is in force on `date` (a trading day, so the 2 a.m.
/// switch never matters): from the second Sunday of March to the first Sunday of November since
/// 2007, from the first Sunday of April to the last Sunday of October before.
pub(crate) fn us_daylight_saving(date: NaiveDate) -> bool {
    let year = date.year();
    let (start, end) = if year >= 2007 {
        (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
    } else {
        (nth_sunday(year, 4, 1), last_sunday(year, 10))
    };
    match (start, end) {
        (Some(start), Some(end)) => start <= date && date < end,
        _ => false,
    }
}

fn nth_sunday(year: i32, month: u32, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n)
}

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1))?;
    let last_day = first_of_next.pred_opt()?;
    let back = last_day.weekday().num_days_from_sunday();
    last_day.checked_sub_days(chrono::Days::new(u64::from(back)))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn nine_thirty() -> NaiveTime {
        NaiveTime::from_hms_opt(9, 30, 0).unwrap()
    }

    fn four_pm() -> NaiveTime {
        NaiveTime::from_hms_opt(16, 0, 0).unwrap()
    }

    #[test]
    fn daylight_saving_since_2007() {
        // 2013: 10 March to 3 November.
        assert!(!us_daylight_saving(date(2013, 3, 8)));
        assert!(!us_daylight_saving(date(2013, 3, 9)));
        assert!(us_daylight_saving(date(2013, 3, 10)));
        assert!(us_daylight_saving(date(2013, 3, 11)));
        assert!(us_daylight_saving(date(2013, 11, 1)));
        assert!(!us_daylight_saving(date(2013, 11, 3)));
        assert!(!us_daylight_saving(date(2013, 11, 4)));
        // 2026: 8 March to 1 November.
        assert!(us_daylight_saving(date(2026, 10, 5)));
        assert!(!us_daylight_saving(date(2026, 11, 2)));
        assert!(!us_daylight_saving(date(2026, 1, 2)));
    }

    #[test]
    fn daylight_saving_before_2007() {
        // 2006: 2 April to 29 October.
        assert!(!us_daylight_saving(date(2006, 3, 31)));
        assert!(us_daylight_saving(date(2006, 4, 3)));
        assert!(us_daylight_saving(date(2006, 10, 27)));
        assert!(!us_daylight_saving(date(2006, 10, 30)));
        // 2000: 2 April to 29 October.
        assert!(!us_daylight_saving(date(2000, 3, 31)));
        assert!(us_daylight_saving(date(2000, 4, 3)));
        assert!(!us_daylight_saving(date(2000, 10, 30)));
        assert_eq!(last_sunday(2000, 10), Some(date(2000, 10, 29)));
        assert_eq!(last_sunday(2006, 12), Some(date(2006, 12, 31)));
    }

    #[test]
    fn new_york_open_and_close() {
        let clock = MarketClock::new(None, nine_thirty(), four_pm());
        // The real capture's last bar: 2026-10-05 at 13:30 UTC.
        assert_eq!(clock.open_instant(date(2026, 10, 5)), 1_791_207_000);
        assert_eq!(clock.close_instant(date(2026, 10, 5)), 1_791_230_400);
        let winter = Utc.with_ymd_and_hms(2013, 1, 2, 14, 30, 0).unwrap().timestamp();
        assert_eq!(clock.open_instant(date(2013, 1, 2)), winter);
        assert_eq!(clock.offset_on(date(2013, 1, 2)), -18_000);
        assert_eq!(clock.offset_on(date(2013, 7, 2)), -14_400);
        assert_eq!(clock.abbreviation_on(date(2013, 7, 2)), "EDT");
        assert_eq!(clock.abbreviation_on(date(2013, 1, 2)), "EST");
    }

    #[test]
    fn fixed_offset() {
        let clock = MarketClock::new(Some(3600), NaiveTime::from_hms_opt(9, 0, 0).unwrap(), four_pm());
        let expected = Utc.with_ymd_and_hms(2013, 7, 2, 8, 0, 0).unwrap().timestamp();
        assert_eq!(clock.open_instant(date(2013, 7, 2)), expected);
        assert_eq!(clock.abbreviation_on(date(2013, 7, 2)), "GMT+1");
        let india = MarketClock::new(Some(19_800), nine_thirty(), four_pm());
        assert_eq!(india.abbreviation_on(date(2013, 7, 2)), "GMT+5:30");
        assert_eq!(
            MarketClock::new(Some(0), nine_thirty(), four_pm()).abbreviation_on(date(2013, 7, 2)),
            "UTC"
        );
    }

    #[test]
    fn local_dates() {
        let clock = MarketClock::new(None, nine_thirty(), four_pm());
        // 01:00 UTC on 3 July is 21:00 on 2 July in New York.
        let late = Utc.with_ymd_and_hms(2013, 7, 3, 1, 0, 0).unwrap();
        assert_eq!(clock.local_date(BarTime::from(late)), date(2013, 7, 2));
        assert_eq!(clock.local_date(BarTime::from(date(2013, 7, 3))), date(2013, 7, 3));
        assert_eq!(clock.timestamp(BarTime::from(late)), late.timestamp());
    }
}
