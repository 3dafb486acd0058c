//! Date evals after SpamAssassin 4.0.1's Plugin/HeaderEval.pm
//! (`check_for_shifted_date`, `check_outlook_message_id`), with the lenient
//! date parser of Util.pm's `parse_rfc822_date`.
//!
//! `parse_date` reads "day month year", "month day time year" and
//! two-digit-year forms anywhere in a value, then a time and a zone (a
//! numeric offset or one of `ZONES`). It clamps years to 1970..=2037 and
//! out-of-range fields as the Perl does, and returns seconds since the Unix
//! epoch.

use crate::prepare::{HeaderForm, Prepared};

/// Maximum bytes of a header value given to the date parser, because dates
/// are short and a hostile field could be megabytes long.
const DATE_LEN_MAX: usize = 1_024;

/// Maximum Received fields read for their dates. Real mail has a few dozen.
const RECEIVED_MAX: usize = 1_000;

/// Time zone names and their offsets in minutes east of UTC, as Util.pm's
/// `%TZ` lists them.
const ZONES: &[(&str, i64)] = &[
    ("UT", 0),
    ("UTC", 0),
    ("NDT", -150),
    ("AST", -240),
    ("ADT", -180),
    ("NST", -210),
    ("EST", -300),
    ("EDT", -240),
    ("CST", -360),
    ("CDT", -300),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
    ("HST", -600),
    ("AKST", -540),
    ("AKDT", -480),
    ("HADT", -540),
    ("HAST", -600),
    ("GMT", 0),
    ("BST", 60),
    ("IST", 60),
    ("WET", 0),
    ("WEST", 60),
    ("CET", 60),
    ("CEST", 120),
    ("EET", 120),
    ("EEST", 180),
    ("MSK", 180),
    ("MSD", 240),
    ("MET", 60),
    ("MEZ", 60),
    ("MEST", 120),
    ("MESZ", 120),
    ("BRST", -120),
    ("BRT", -180),
    ("AEST", 600),
    ("AEDT", 660),
    ("ACST", 570),
    ("ACDT", 630),
    ("AWST", 480),
    ("NZST", 720),
    ("NZDT", 780),
    ("JST", 540),
    ("KST", 540),
    ("HKT", 480),
    ("SGT", 480),
    ("PHT", 480),
    ("IDT", 180),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses a date as `parse_rfc822_date` does. Returns seconds since the
/// epoch, or `None` when no day, month and year are found.
pub fn parse_date(date: &str) -> Option<i64> {
    let date = &date[..crate::prepare::text::floor_char_boundary(date, DATE_LEN_MAX)];
    let normalized = date.replace(',', " ");
    let mut tokens: Vec<&str> = normalized.split_whitespace().collect();

    let (day, month, year_text) = take_day_month_year(&mut tokens)?;
    let mut year: i64 = year_text.parse().ok()?;
    if year_text.len() == 2 && year < 50 {
        year += 2000;
    } else if year_text.len() != 4 {
        year += 1900;
    }

    let (mut hour, mut minute, mut second) = (0, 0, 0);
    if let Some(at) = tokens.iter().position(|token| parse_time(token).is_some()) {
        (hour, minute, second) = parse_time(tokens.remove(at))?;
    }
    let offset_minutes = take_zone(&mut tokens).unwrap_or(0);

    let (mut day, mut month) = (day, month);
    let days_max = days_in_month(year, month);
    if day > days_max {
        day = 1;
        month += 1;
        if month > 12 {
            month = 1;
            year += 1;
        }
    }
    let year = year.clamp(1970, 2037);
    if day == 0 {
        return None;
    }

    let time = days_from_civil(year, month, day) * 86_400
        + hour.min(23) * 3_600
        + minute.min(59) * 60
        + second.min(59);
    Some((time - offset_minutes * 60).max(0))
}

/// Finds and removes the day, month and year tokens, trying the three
/// forms in the Perl's order. The year is returned as written.
fn take_day_month_year(tokens: &mut Vec<&str>) -> Option<(i64, i64, String)> {
    let digits = |token: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&token.len()) && token.bytes().all(|byte| byte.is_ascii_digit())
    };
    let month = |token: &str| {
        MONTHS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(token))
            .map(|index| index as i64 + 1)
    };

    for at in 0..tokens.len().saturating_sub(2) {
        if digits(tokens[at], 1..=9) && digits(tokens[at + 2], 4..=4) {
            if let Some(month) = month(tokens[at + 1]) {
                let day = tokens[at].parse().ok()?;
                let year = tokens[at + 2].to_string();
                tokens.drain(at..at + 3);
                return Some((day, month, year));
            }
        }
    }
    // The "month day time year" form removes the time too, so it reads as 0:00.
    for at in 0..tokens.len().saturating_sub(3) {
        let is_time = tokens[at + 2].split(':').count() == 3
            && tokens[at + 2].split(':').all(|part| digits(part, 1..=9));
        if digits(tokens[at + 1], 1..=9) && is_time && digits(tokens[at + 3], 4..=4) {
            if let Some(month) = month(tokens[at]) {
                let day = tokens[at + 1].parse().ok()?;
                let year = tokens[at + 3].to_string();
                tokens.drain(at..at + 4);
                return Some((day, month, year));
            }
        }
    }
    for at in 0..tokens.len().saturating_sub(2) {
        if digits(tokens[at], 1..=9) && digits(tokens[at + 2], 2..=3) {
            if let Some(month) = month(tokens[at + 1]) {
                let day = tokens[at].parse().ok()?;
                let year = tokens[at + 2].to_string();
                tokens.drain(at..at + 3);
                return Some((day, month, year));
            }
        }
    }
    None
}

/// Parses `h:mm` or `hh:mm`, each with an optional `:ss`.
fn parse_time(token: &str) -> Option<(i64, i64, i64)> {
    let mut parts = token.split(':');
    let hour = parts.next()?;
    let minute = parts.next()?;
    let second = parts.next();
    if parts.next().is_some() || !(1..=2).contains(&hour.len()) || minute.len() != 2 {
        return None;
    }
    if second.is_some_and(|second| second.len() != 2) {
        return None;
    }
    let number = |text: &str| -> Option<i64> {
        text.bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| text.parse().ok())?
    };
    Some((
        number(hour)?,
        number(minute)?,
        second.map_or(Some(0), number)?,
    ))
}

/// Finds and removes the zone: the first `+hhmm` or `-hhmm` token, or else
/// the first word of two to four capitals if it is a known zone name.
fn take_zone(tokens: &mut Vec<&str>) -> Option<i64> {
    let numeric = tokens.iter().position(|token| {
        token.len() == 5
            && matches!(token.as_bytes()[0], b'+' | b'-')
            && token[1..].bytes().all(|byte| byte.is_ascii_digit())
    });
    if let Some(at) = numeric {
        let token = tokens.remove(at);
        let hours: i64 = token[1..3].parse().ok()?;
        let minutes: i64 = token[3..5].parse().ok()?;
        let sign = if token.starts_with('-') { -1 } else { 1 };
        return Some(sign * (hours * 60 + minutes));
    }

    let joined = tokens.join(" ");
    let word = joined
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .find(|word| {
            (2..=4).contains(&word.len()) && word.bytes().all(|byte| byte.is_ascii_uppercase())
        })?;
    ZONES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, offset)| *offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Returns days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Returns the first date of the Resent-Date fields, else of the Date fields.
fn date_header_time(message: &Prepared<'_>) -> Option<i64> {
    for name in ["Resent-Date", "Date"] {
        for value in message.headers().values(name, HeaderForm::Decoded) {
            if let Some(time) = parse_date(&value) {
                return Some(time);
            }
        }
    }
    None
}

/// Returns the dates of the Received fields, newest first, skipping a
/// first field that is a local or fetchmail hop as HeaderEval.pm does.
fn received_times(message: &Prepared<'_>) -> Vec<i64> {
    let mut received: Vec<String> = message
        .headers()
        .values("Received", HeaderForm::Decoded)
        .into_iter()
        .take(RECEIVED_MAX)
        .filter(|value| !value.trim().is_empty())
        .collect();
    if received.is_empty() {
        return Vec::new();
    }

    let first_is_local = |value: &str| {
        let words: Vec<&str> = value.split_whitespace().collect();
        let from_loopback = words.iter().enumerate().any(|(at, word)| {
            *word == "from"
                && (words.get(at + 1) == Some(&"localhost")
                    || words[at + 1..]
                        .iter()
                        .take(3)
                        .any(|next| next.contains("127.0.0.1")))
        });
        from_loopback || value.contains("invoked by uid")
    };
    let local = first_is_local(&received[0]).then(|| received.remove(0));
    let fetchmail = received
        .first()
        .is_some_and(|value| value.contains("by localhost with") && value.contains("(fetchmail-"));
    if fetchmail {
        received.remove(0);
    } else if let Some(local) = local {
        received.insert(0, local);
    }

    received
        .iter()
        .filter_map(|value| received_date(value))
        .collect()
}

/// Returns the time of the `day Mon year hh:mm:ss zone` stamp in a
/// Received value.
fn received_date(value: &str) -> Option<i64> {
    let tokens: Vec<&str> = value.split_whitespace().collect();
    for at in 0..tokens.len().saturating_sub(4) {
        let day = tokens[at].trim_start_matches(|c: char| !c.is_ascii_digit());
        let is_stamp = !day.is_empty()
            && day.bytes().all(|byte| byte.is_ascii_digit())
            && tokens[at].len() <= day.len() + 1
            && tokens[at + 1].len() == 3
            && tokens[at + 2].bytes().all(|byte| byte.is_ascii_digit())
            && tokens[at + 3].split(':').count() == 3;
        if is_stamp {
            let stamp = format!(
                "{day} {} {} {} {}",
                tokens[at + 1],
                tokens[at + 2],
                tokens[at + 3],
                tokens[at + 4]
            );
            return parse_date(&stamp);
        }
    }
    None
}

/// Returns the Date time minus the Received time closest to it, in seconds,
/// or 0 when either is missing.
pub fn date_diff_secs(message: &Prepared<'_>) -> i64 {
    let Some(date) = date_header_time(message) else {
        return 0;
    };
    let times = received_times(message);
    let mut diffs: Vec<i64> = times.iter().map(|time| date - time).collect();
    // The Perl drops a last difference of 0 when there are others.
    if diffs.len() > 1 && diffs.last() == Some(&0) {
        diffs.pop();
    }
    diffs.into_iter().min_by_key(|diff| diff.abs()).unwrap_or(0)
}

/// Returns whether the Date is shifted from the Received time by at least
/// `min_hours` and less than `max_hours`. A `None` bound is open.
pub fn shifted(message: &Prepared<'_>, min_hours: Option<f64>, max_hours: Option<f64>) -> bool {
    let diff = message.date_diff_secs(date_diff_secs) as f64;
    min_hours.is_none_or(|min| diff >= 3600.0 * min)
        && max_hours.is_none_or(|max| diff < 3600.0 * max)
}

/// Returns whether an Outlook-style Message-ID's time stamp is far from
/// both the Date and the first Received time.
pub fn outlook_message_id_forged(message: &Prepared<'_>) -> bool {
    // Constants from HeaderEval.pm: Outlook's id counts about 429.5 seconds
    // per unit from an offset, and 250 units of difference are allowed.
    const SCALE: f64 = 0.0023283064365387;
    const OFFSET: f64 = 27111902.8329849;
    const FUDGE: i64 = 250;

    let Some(token) = message
        .headers()
        .values("Message-ID", HeaderForm::Decoded)
        .first()
        .and_then(|id| outlook_time_token(id))
    else {
        return false;
    };
    let expected = |time: i64| (time as f64 * SCALE + OFFSET) as i64;

    let date = message
        .header("Date", HeaderForm::Decoded)
        .and_then(|value| parse_date(&value))
        .unwrap_or(0);
    if (token - expected(date)).abs() < FUDGE {
        return false;
    }
    let received = message
        .headers()
        .values("Received", HeaderForm::Decoded)
        .first()
        .and_then(|value| received_date(value))
        .unwrap_or(0);
    (token - expected(received)).abs() >= FUDGE
}

/// Returns the time token of a Message-ID of the form
/// `<xxxxTTTTTTTT$xxxxxxxx$xxxxxxxx@`, in lower-case hex.
fn outlook_time_token(id: &str) -> Option<i64> {
    let rest = id.strip_prefix('<')?;
    let (local, _) = rest.split_once('@')?;
    let parts: Vec<&str> = local.split('$').collect();
    let is_hex = |text: &str| {
        text.bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    };
    let shape = parts.len() == 3
        && parts[0].len() == 12
        && parts[1].len() == 8
        && parts[2].len() == 8
        && parts.iter().all(|part| is_hex(part));
    if !shape {
        return None;
    }
    i64::from_str_radix(&parts[0][4..], 16).ok()
}
