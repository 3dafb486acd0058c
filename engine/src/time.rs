//! Wall-clock helpers: RFC 5322 dates for Received headers, without a
//! time-zone database (Ringmail writes UTC, "+0000").

use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Returns the current time in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(elapsed) => elapsed.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

/// A calendar date and time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 is Thursday, the weekday of 1970-01-01.
    weekday_from_thursday: u32,
}

impl CivilTime {
    /// Converts seconds since the Unix epoch to a UTC calendar time.
    pub fn from_unix(unix_secs: i64) -> CivilTime {
        let days = unix_secs.div_euclid(86_400);
        let secs_of_day = unix_secs.rem_euclid(86_400) as u32;

        // Days to civil date: the proleptic Gregorian calendar counted in
        // 400-year eras of 146,097 days, with years starting in March so the
        // leap day falls at the end of the year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);

        CivilTime {
            year,
            month,
            day,
            hour: secs_of_day / 3600,
            minute: secs_of_day / 60 % 60,
            second: secs_of_day % 60,
            weekday_from_thursday: days.rem_euclid(7) as u32,
        }
    }

    /// Returns the month's three-letter English abbreviation.
    pub fn month_name(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }
}

/// Formats `unix_secs` as an RFC 5322 date-time in UTC, for example
/// `Fri, 04 Dec 2026 20:10:47 +0000`.
pub fn rfc5322_date(unix_secs: i64) -> String {
    let t = CivilTime::from_unix(unix_secs);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[t.weekday_from_thursday as usize],
        t.day,
        t.month_name(),
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_thursday_first_of_january() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn known_dates_format() {
        // Values checked against `date -u -d @SECS`.
        let cases = [
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_796_415_047, "Fri, 04 Dec 2026 20:10:47 +0000"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
            (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
        ];
        for (secs, expected) in cases {
            assert_eq!(rfc5322_date(secs), expected, "unix {secs}");
        }
    }
}
