//! Periods, reference instants and age in completed years.
//!
//! A period is a closed range of calendar days `[first, last]`. Stocks are counted at instants:
//! `population_start` at 00:00 of `first`, `population_end` at 24:00 of `last` (= 00:00 of the
//! next day). Events (births, deaths, moves) happen *during* a day, so a person who moved in on
//! day `d` is resident at 00:00 of `d + 1` but not at 00:00 of `d`, and a person who died or moved
//! out on day `d` is still counted at 00:00 of `d` (see [`crate::register::ResidenceEpisode`]).
//! With these conventions the balance holds exactly:
//! `population_end = population_start + births − deaths + moves_in − moves_out`.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::date::{check_range, DateError};

/// A statistical period: every day from `first` to `last`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day (the start instant is 00:00 of this day).
    pub first: NaiveDate,
    /// Last day (the end instant is 24:00 of this day).
    pub last: NaiveDate,
}

/// Why two dates do not make a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The last day is before the first.
    #[error("期间结束日期 {last} 早于开始日期 {first} (period ends before it starts)")]
    Reversed {
        /// The first day given.
        first: NaiveDate,
        /// The last day given.
        last: NaiveDate,
    },
    /// The first day lies outside [`MIN_DATE`](crate::date::MIN_DATE) … [`MAX_DATE`](crate::date::MAX_DATE).
    #[error("期间开始日期 (period start): {0}")]
    First(DateError),
    /// The last day lies outside the plausible range.
    #[error("期间结束日期 (period end): {0}")]
    Last(DateError),
}

impl Period {
    /// A period from `first` to `last` inclusive. Errors when `last < first` or when a day lies
    /// outside the plausible range [`crate::date::MIN_DATE`] … [`crate::date::MAX_DATE`] (so
    /// [`Period::end_instant`] and [`Period::year_before`] never leave chrono's range).
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Period, PeriodError> {
        check_range(first).map_err(PeriodError::First)?;
        check_range(last).map_err(PeriodError::Last)?;
        if last < first {
            return Err(PeriodError::Reversed { first, last });
        }
        Ok(Period { first, last })
    }

    /// Number of days in the period (a one-day period has 1).
    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// The day whose 00:00 is the end instant (24:00 of `last`).
    pub fn end_instant(&self) -> NaiveDate {
        self.last.checked_add_days(Days::new(1)).expect("date in range")
    }

    /// The period of the same length one year earlier (for "same period last year" comparisons;
    /// 29 February maps to 28 February).
    pub fn year_before(&self) -> Period {
        Period { first: years_before(self.first, 1), last: years_before(self.last, 1) }
    }

    /// True when `d` is one of the period's days.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

/// Age in completed years (周岁) on day `on` of a person born on `birth`.
///
/// A person born on 29 February completes a year on 1 March in common years. Returns a negative
/// number when `on` is before `birth`.
pub fn age_in_completed_years(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The same calendar day `n` years before `d`; 29 February becomes 28 February in a common year.
pub fn years_before(d: NaiveDate, n: u32) -> NaiveDate {
    let y = d.year() - n as i32;
    NaiveDate::from_ymd_opt(y, d.month(), d.day()).or_else(|| NaiveDate::from_ymd_opt(y, d.month(), d.day() - 1)).expect("valid date")
}

/// Birth dates of people aged `min_age..=max_age` in completed years on day `on`, as the
/// half-open range `(after, up_to]`: a person qualifies iff `after < birth && birth <= up_to`.
///
/// This is how the store turns "women aged 15–49 on D" into an index-friendly comparison, with
/// the same answers as [`age_in_completed_years`] (a property test pins this).
pub fn birth_dates_for_ages(on: NaiveDate, min_age: u32, max_age: u32) -> (NaiveDate, NaiveDate) {
    (years_before(on, max_age + 1), years_before(on, min_age))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn completed_years() {
        assert_eq!(age_in_completed_years(d("1999-06-30"), d("2014-06-30")), 15);
        assert_eq!(age_in_completed_years(d("1999-07-01"), d("2014-06-30")), 14);
        assert_eq!(age_in_completed_years(d("2000-02-29"), d("2015-02-28")), 14);
        assert_eq!(age_in_completed_years(d("2000-02-29"), d("2015-03-01")), 15);
    }

    #[test]
    fn period_instants() {
        let p = Period::new(d("2013-07-01"), d("2014-06-30")).unwrap();
        assert_eq!(p.days(), 365);
        assert_eq!(p.end_instant(), d("2014-07-01"));
        assert!(Period::new(d("2014-07-01"), d("2014-06-30")).is_err());
        assert_eq!(p.year_before(), Period::new(d("2012-07-01"), d("2013-06-30")).unwrap());
    }

    #[test]
    fn periods_stay_in_the_plausible_range() {
        let max = NaiveDate::MAX;
        assert!(matches!(Period::new(d("2013-07-01"), max), Err(PeriodError::Last(DateError::TooLate(_)))));
        assert!(matches!(Period::new(d("1879-12-31"), d("2014-06-30")), Err(PeriodError::First(DateError::TooEarly(_)))));
        assert_eq!(
            Period::new(d("2013-07-01"), d("9999-12-31")).unwrap_err().to_string(),
            "期间结束日期 (period end): 日期 9999-12-31 晚于2200年, 疑为录入错误 (date after 2200)"
        );
        let widest = Period::new(d("1880-01-01"), d("2200-12-31")).unwrap();
        assert_eq!(widest.end_instant(), d("2201-01-01"));
        assert_eq!(widest.year_before().first, d("1879-01-01"));
    }

    proptest! {
        #[test]
        fn birth_date_bounds_agree_with_age(
            b in 0i64..40_000, o in 0i64..40_000, min in 0u32..60, span in 0u32..40
        ) {
            let base = d("1900-01-01");
            let birth = base + chrono::Days::new(b as u64);
            let on = base + chrono::Days::new(o as u64);
            let max = min + span;
            let (after, up_to) = birth_dates_for_ages(on, min, max);
            let age = age_in_completed_years(birth, on);
            let by_age = age >= min as i32 && age <= max as i32;
            prop_assert_eq!(by_age, after < birth && birth <= up_to);
        }
    }
}
