//! Citizen identity numbers (公民身份号码), GB 11643-1999.
//!
//! Layout of the 18 characters (GB 11643-1999 §4–§8):
//!
//! | positions | meaning |
//! |---|---|
//! | 1–6 | address code (GB/T 2260) of the county where the number was issued |
//! | 7–14 | birth date `YYYYMMDD` |
//! | 15–17 | sequence code; the parity of position 17 gives the sex (odd = male, even = female) |
//! | 18 | check character, ISO 7064:1983 MOD 11-2 (`0`–`9` or `X`) |
//!
//! First-generation 15-digit numbers (`AAAAAAYYMMDDSSS`, century 19, no check character) are
//! upgraded to 18 digits by inserting `19` and computing the check character.
//!
//! The address code is deliberately **not** checked against an area table here: it records the
//! county where the number was issued, and codes are retired and re-used (research notes §1.4).
//! An unknown address code is a warning for the caller ([`crate::area`]), never a rejection.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::register::Sex;

/// Weights W_i = 2^(18−i) mod 11 for positions 1–17 (GB 11643-1999 §8.2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder S mod 11 (GB 11643-1999 §8.2).
const CHECK_CHARS: &[u8; 11] = b"10X98765432";
/// Earliest birth year accepted, the one bound of renkou for birth dates (citizen IDs, and every
/// date of an import: `docs/import-format.md`). GB 11643 numbers were first issued in 1984
/// (15 digits) and 1999 (18 digits); a person born before 1880 would have been over 104 in 1984
/// and cannot be alive now, so such a date is an input error (`1979` typed as `1879`). Without a
/// bound chrono would also accept `0000`–`0999` as years.
pub const MIN_BIRTH_YEAR: i32 = 1880;

/// A valid 18-digit citizen identity number, stored in normalized form (upper-case `X`).
///
/// It can only be built by [`CitizenId::parse`] or [`CitizenId::from_parts`], so holding one
/// means the length, format, birth date and check character are right.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String")]
pub struct CitizenId(String);

/// Which part of a citizen identity number is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    /// Not 18 characters (nor 15 for a legacy number).
    #[error("长度错误: 应为18位(或15位旧号码), 实际{0}位 (length must be 18, or 15 for a legacy number)")]
    Length(usize),
    /// A character that is not a digit, or an `X` anywhere but the last place.
    #[error("格式错误: 第{position}位字符 {found:?} 不是数字 (format: position {position} must be a digit{})",
        if *.position == 18 { " or X" } else { "" })]
    Format { position: usize, found: char },
    /// The birth date part is not a real calendar date, or lies before [`MIN_BIRTH_YEAR`].
    #[error("出生日期错误: {0} 不是有效日期或早于{y}年 (date: not a real calendar date, or before {y})", y = MIN_BIRTH_YEAR)]
    Date(String),
    /// The birth date lies after the reference date ("today").
    #[error("出生日期错误: {birth} 晚于 {today} (date: birth date in the future)")]
    FutureDate { birth: NaiveDate, today: NaiveDate },
    /// The check character does not match (ISO 7064 MOD 11-2).
    #[error("校验码错误: 第18位应为 {expected}, 实际为 {found} (checksum: expected {expected})")]
    Checksum { expected: char, found: char },
}

impl CitizenIdError {
    /// Short machine name of the failing part: `length`, `format`, `date` or `checksum`
    /// (the verdict names of `reference/citizen-ids.toml`).
    pub fn part(&self) -> &'static str {
        match self {
            CitizenIdError::Length(_) => "length",
            CitizenIdError::Format { .. } => "format",
            CitizenIdError::Date(_) | CitizenIdError::FutureDate { .. } => "date",
            CitizenIdError::Checksum { .. } => "checksum",
        }
    }
}

/// Result of parsing: the normalized number and whether the input was a 15-digit legacy number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCitizenId {
    /// The normalized 18-digit number.
    pub id: CitizenId,
    /// True when the input had 15 digits and was upgraded.
    pub legacy_15: bool,
}

/// ISO 7064 MOD 11-2 check character over the first 17 digits.
///
/// `digits17` must be 17 ASCII digits (the caller checks).
pub fn check_char(digits17: &[u8]) -> char {
    debug_assert_eq!(digits17.len(), 17);
    let sum: u32 = digits17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize] as char
}

impl CitizenId {
    /// Parses and validates an 18-digit number, or upgrades a 15-digit legacy number.
    ///
    /// `today` is the reference date for the "not in the future" check (the core has no clock).
    /// Surrounding whitespace is ignored; a lower-case `x` is accepted and normalized to `X`;
    /// full-width digits and `Ｘ` are read as ASCII ([`crate::text::fold_fullwidth`]).
    ///
    /// Errors name the failing part: [`CitizenIdError::Length`], [`CitizenIdError::Format`],
    /// [`CitizenIdError::Date`] / [`CitizenIdError::FutureDate`], [`CitizenIdError::Checksum`].
    pub fn parse(input: &str, today: NaiveDate) -> Result<ParsedCitizenId, CitizenIdError> {
        // Full-width digits and Ｘ from Chinese input methods read as ASCII.
        let folded = crate::text::fold_fullwidth(input);
        let s = folded.trim();
        let chars: Vec<char> = s.chars().collect();
        match chars.len() {
            18 => {
                for (i, &c) in chars.iter().enumerate() {
                    let ok = c.is_ascii_digit() || (i == 17 && (c == 'X' || c == 'x'));
                    if !ok {
                        return Err(CitizenIdError::Format { position: i + 1, found: c });
                    }
                }
                let bytes = s.as_bytes();
                let birth = Self::date_of(&s[6..14])?;
                if birth > today {
                    return Err(CitizenIdError::FutureDate { birth, today });
                }
                let expected = check_char(&bytes[..17]);
                let found = chars[17].to_ascii_uppercase();
                if expected != found {
                    return Err(CitizenIdError::Checksum { expected, found });
                }
                Ok(ParsedCitizenId { id: CitizenId(s.to_ascii_uppercase()), legacy_15: false })
            }
            15 => {
                if let Some((i, &c)) = chars.iter().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
                    return Err(CitizenIdError::Format { position: i + 1, found: c });
                }
                let mut first17 = String::with_capacity(18);
                first17.push_str(&s[..6]);
                first17.push_str("19");
                first17.push_str(&s[6..]);
                let birth = Self::date_of(&first17[6..14])?;
                if birth > today {
                    return Err(CitizenIdError::FutureDate { birth, today });
                }
                first17.push(check_char(first17.as_bytes()));
                Ok(ParsedCitizenId { id: CitizenId(first17), legacy_15: true })
            }
            n => Err(CitizenIdError::Length(n)),
        }
    }

    /// Builds a valid number from its parts: a 6-digit address code, a birth date (years
    /// [`MIN_BIRTH_YEAR`]–9999) and a sequence number 0–999 (odd = male). Returns `None` if the address code
    /// is not 6 digits or the sequence is out of range.
    pub fn from_parts(address: &str, birth: NaiveDate, sequence: u16) -> Option<CitizenId> {
        use chrono::Datelike;
        if address.len() != 6 || !address.bytes().all(|b| b.is_ascii_digit()) || sequence > 999 {
            return None;
        }
        if !(MIN_BIRTH_YEAR..=9999).contains(&birth.year()) {
            return None;
        }
        let mut s = format!("{address}{}{sequence:03}", birth.format("%Y%m%d"));
        let c = check_char(s.as_bytes());
        s.push(c);
        Some(CitizenId(s))
    }

    fn date_of(yyyymmdd: &str) -> Result<NaiveDate, CitizenIdError> {
        use chrono::Datelike;
        NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d").ok().filter(|d| d.year() >= MIN_BIRTH_YEAR).ok_or_else(|| CitizenIdError::Date(yyyymmdd.to_string()))
    }

    /// The normalized 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit address code (positions 1–6).
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    /// The birth date encoded in positions 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated at construction")
    }

    /// The 3-digit sequence code (positions 15–17).
    pub fn sequence(&self) -> u16 {
        self.0[14..17].parse().expect("validated at construction")
    }

    /// Sex from the parity of position 17: odd = male, even = female (GB 11643-1999 §6.3).
    pub fn sex(&self) -> Sex {
        if self.sequence() % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Masked display form (see [`mask`]).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks an identity number for display in lists, keeping the first 6 and last 4 characters
/// (`130131********0010`), the common practice under GB/T 35273-2020 (no national pattern is
/// mandated). Works on any text: shorter than 10 characters is masked whole.
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CitizenId> for String {
    fn from(c: CitizenId) -> String {
        c.0
    }
}
