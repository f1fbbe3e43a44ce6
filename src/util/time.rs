//! Calendar arithmetic without a date crate: civil dates and day numbers (Howard
//! Hinnant's algorithms), today's UTC date, RFC 3339 times and HTTP dates as Unix seconds.

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    date_of_day(days as i64)
}

/// Now, in Unix seconds.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The current UTC time as RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn now_rfc3339() -> String {
    rfc3339(now_seconds())
}

/// Unix seconds as RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn rfc3339(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of_day(days),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The UTC ISO week (`YYYY-Www`) of a day number since 1970-01-01: weeks start on Monday,
/// and week 1 is the one holding the year's first Thursday.
pub fn iso_week(days: i64) -> String {
    let weekday = (days + 3).rem_euclid(7); // 0 = Monday; 1970-01-01 was a Thursday
    let thursday = days - weekday + 3;
    let year: i64 = date_of_day(thursday)[..4].parse().unwrap_or(1970);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year:04}-W{week:02}")
}

/// Today's day number since 1970-01-01 (UTC).
pub fn today_number() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 86_400) as i64)
}

/// The civil date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub fn date_of_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The day number of a `YYYY-MM-DD` date.
pub fn day_of_date(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// The day number since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time (`2026-11-20T10:00:00Z`, or with an offset) as Unix seconds.
pub fn unix_time(text: &str) -> Option<i64> {
    let (date, rest) = text.trim().split_once(['T', 't', ' '])?;
    let days = day_of_date(date)?;
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let mut parts = clock.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next().unwrap_or("0").parse().ok()?;
    let offset_seconds = match offset.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(&sign) => {
            let (h, m) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
            let value = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            if sign == b'-' {
                -value
            } else {
                value
            }
        }
    };
    Some(days * 86_400 + hours * 3600 + minutes * 60 + seconds as i64 - offset_seconds)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn http_date_to_unix(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month)? as u64 + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let days = u64::try_from(days).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(20_454), "2026-01-01");
        for day in [0, 59, 60, 365, 10_957, 20_454, 30_000] {
            assert_eq!(day_of_date(&date_of_day(day)), Some(day));
        }
        assert_eq!(day_of_date("2026-13-01"), None);
    }

    #[test]
    fn iso_weeks_match_the_calendar() {
        let day = |y, m, d| days_from_civil(y, m, d);
        // 2026-12-01 is a Tuesday in week 49; 2021-01-03 (a Sunday) is still 2020-W53;
        // 2024-12-30 (a Monday) is already 2025-W01.
        assert_eq!(iso_week(day(2026, 12, 1)), "2026-W49");
        assert_eq!(iso_week(day(2021, 1, 3)), "2020-W53");
        assert_eq!(iso_week(day(2021, 1, 4)), "2021-W01");
        assert_eq!(iso_week(day(2024, 12, 30)), "2025-W01");
        assert_eq!(iso_week(day(1970, 1, 1)), "1970-W01");
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(unix_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_time("2026-11-20T10:00:00Z"), Some(1_795_168_800));
        assert_eq!(unix_time("2026-11-20T12:00:00+02:00"), Some(1_795_168_800));
        assert_eq!(unix_time("2026-11-20T10:00:00.123Z"), Some(1_795_168_800));
        assert_eq!(unix_time("yesterday"), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date_to_unix("Sunday"), None);
    }
}
