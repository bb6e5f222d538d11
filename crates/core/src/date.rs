//! The dates users give (command-line flags, web forms, URL queries, import cells): one parser
//! and one plausible range.
//!
//! Every date a user types lies in [`MIN_DATE`] … [`MAX_DATE`] (1880-01-01 … 2200-12-31) or is
//! refused. The lower bound is [`MIN_BIRTH_YEAR`](crate::citizen_id::MIN_BIRTH_YEAR), the same
//! as for the birth date inside a citizen ID (nobody born before 1880 can be alive); the upper
//! bound is far enough for any plan and keeps date arithmetic (a period's end instant, a year
//! back, a month on) away from chrono's limits, so nothing downstream can overflow.

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::text::{fold_fullwidth, quote};

/// The earliest plausible year (the register's [`MIN_BIRTH_YEAR`](crate::citizen_id::MIN_BIRTH_YEAR)).
pub const MIN_YEAR: i32 = crate::citizen_id::MIN_BIRTH_YEAR;

/// The latest plausible year.
pub const MAX_YEAR: i32 = 2200;

/// The earliest date a user may give: 1 January of [`MIN_YEAR`].
pub const MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1) {
    Some(d) => d,
    None => panic!("MIN_YEAR is a valid year"),
};

/// The latest date a user may give: 31 December of [`MAX_YEAR`].
pub const MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31) {
    Some(d) => d,
    None => panic!("MAX_YEAR is a valid year"),
};

/// Why a user's date was refused. The messages are Chinese with the English in brackets; the
/// caller adds the field (`--to: …`, the form field, `file:row:column: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not one of the accepted forms (the input, clipped to 40 characters).
    #[error("日期格式应为 年-月-日 (如 2024-03-01; 也接受 YYYY/M/D、YYYY.M.D、YYYY年M月D日、YYYYMMDD): {} 无法识别 (unrecognized date: use YYYY-MM-DD)", quote(.0))]
    Format(String),
    /// The right form, but no such day (2013-02-30).
    #[error("日期 {} 不是有效日期 (not a real calendar date)", quote(.0))]
    NotACalendarDate(String),
    /// Before [`MIN_DATE`].
    #[error("日期 {0} 早于{MIN_YEAR}年, 疑为录入错误 (date before {MIN_YEAR})")]
    TooEarly(NaiveDate),
    /// After [`MAX_DATE`].
    #[error("日期 {0} 晚于{MAX_YEAR}年, 疑为录入错误 (date after {MAX_YEAR})")]
    TooLate(NaiveDate),
}

/// `d` when it lies in [`MIN_DATE`] … [`MAX_DATE`].
pub fn check_range(d: NaiveDate) -> Result<NaiveDate, DateError> {
    if d < MIN_DATE {
        Err(DateError::TooEarly(d))
    } else if d > MAX_DATE {
        Err(DateError::TooLate(d))
    } else {
        Ok(d)
    }
}

/// True when `d` lies in [`MIN_DATE`] … [`MAX_DATE`].
pub fn in_range(d: NaiveDate) -> bool {
    (MIN_DATE..=MAX_DATE).contains(&d)
}

/// Parses a date a user typed, in the plausible range.
///
/// Accepted: `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`, `YYYYMMDD`, each with a four-digit
/// year, optionally followed by a time after a space or `T` (ignored). Surrounding whitespace is
/// trimmed and full-width digits and punctuation (`２０１３－０７－０５`, from Chinese input methods)
/// are read as ASCII ([`fold_fullwidth`]). A sign or a year of more than four digits
/// (`+262142-12-31`) is a format error, never a panic further on.
pub fn parse_user_date(input: &str) -> Result<NaiveDate, DateError> {
    let folded: Cow<'_, str> = fold_fullwidth(input);
    let s = folded.trim();
    let bad = || DateError::Format(input.trim().to_string());
    let s0 = s.split([' ', 'T']).next().unwrap_or(s);
    let b = s0.as_bytes();
    let (y, m, d) = if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        (s0[..4].parse::<i32>().ok(), s0[4..6].parse::<u32>().ok(), s0[6..].parse::<u32>().ok())
    } else {
        let digits = |p: &&str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|c| c.is_ascii_digit());
        let mut parts = s0.split(['-', '/', '.', '年', '月', '日']);
        let y = parts.next().filter(|p| p.len() == 4 && digits(p, 4)).and_then(|p| p.parse::<i32>().ok());
        let m = parts.next().filter(|p| digits(p, 2)).and_then(|p| p.parse::<u32>().ok());
        let d = parts.next().filter(|p| digits(p, 2)).and_then(|p| p.parse::<u32>().ok());
        // Only `日` (or nothing) may follow the day.
        if parts.any(|p| !p.is_empty()) {
            return Err(bad());
        }
        (y, m, d)
    };
    match (y, m, d) {
        (Some(y), Some(m), Some(d)) => {
            let date = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DateError::NotACalendarDate(input.trim().to_string()))?;
            check_range(date)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn accepted_forms() {
        for s in ["2013-07-05", "2013/7/5", "20130705", "2013.7.5", "2013年7月5日", "2013-07-05 00:00:00", "2013-07-05T08:00", " 2013-07-05 "] {
            assert_eq!(parse_user_date(s), Ok(d(2013, 7, 5)), "{s}");
        }
        assert_eq!(parse_user_date("２０１３－０７－０５"), Ok(d(2013, 7, 5)));
        assert_eq!(parse_user_date("２０１３年７月５日"), Ok(d(2013, 7, 5)));
    }

    #[test]
    fn bounds() {
        assert_eq!(parse_user_date("1880-01-01"), Ok(MIN_DATE));
        assert_eq!(parse_user_date("2200-12-31"), Ok(MAX_DATE));
        assert_eq!(parse_user_date("1879-12-31"), Err(DateError::TooEarly(d(1879, 12, 31))));
        assert_eq!(parse_user_date("2201-01-01"), Err(DateError::TooLate(d(2201, 1, 1))));
        assert_eq!(parse_user_date("9999-12-31"), Err(DateError::TooLate(d(9999, 12, 31))));
        assert_eq!(parse_user_date("9999-12-31").unwrap_err().to_string(), "日期 9999-12-31 晚于2200年, 疑为录入错误 (date after 2200)");
        assert_eq!(MIN_YEAR, crate::citizen_id::MIN_BIRTH_YEAR);
        assert!(in_range(d(2024, 1, 1)) && !in_range(d(2201, 1, 1)));
    }

    #[test]
    fn refused_forms() {
        for s in ["+262142-12-31", "-0001-01-01", "262142-12-31", "13-7-5", "2013-7", "2013-07-05-01", "", "yesterday", "2013-0x-01", "2013-+7-05"] {
            assert!(matches!(parse_user_date(s), Err(DateError::Format(_))), "{s}: {:?}", parse_user_date(s));
        }
        assert_eq!(parse_user_date("2013-02-30"), Err(DateError::NotACalendarDate("2013-02-30".into())));
        let long = "x".repeat(100);
        let msg = parse_user_date(&long).unwrap_err().to_string();
        assert!(msg.contains(&format!("\"{}…\"", "x".repeat(40))), "{msg}");
        assert!(!msg.contains(&"x".repeat(41)), "{msg}");
    }
}
