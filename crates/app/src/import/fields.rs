//! Columns of the import files (by Chinese header) and the parsing of one cell into a value.
//!
//! Every parser returns the value or a reason in Chinese with the English in brackets; the
//! caller adds `file:row:column`.

use std::borrow::Cow;

use chrono::NaiveDate;
use renkou_core::area::{AreaCode, AreaLevel};
use renkou_core::citizen_id::CitizenId;
use renkou_core::date::{check_range, parse_user_date};
use renkou_core::register::{MaritalStatus, PolicyClass, Sex, RELATIONSHIPS_TO_HEAD};
use renkou_core::text::{clip, fold_fullwidth, quote};

/// A column the importer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Field {
    Name,
    CitizenId,
    Sex,
    BirthDate,
    Ethnicity,
    Marital,
    Area,
    HouseholdNo,
    Relationship,
    RegisteredFrom,
    SpouseId,
    SpouseName,
    MarriageDate,
    MotherId,
    FatherId,
    BirthOrder,
    Policy,
    EventType,
    Date,
    FlowKind,
}

/// Number of [`Field`] variants (size of a column map).
pub(crate) const N_FIELDS: usize = 20;

impl Field {
    /// Every field, in declaration order (index = `field as usize`).
    #[cfg(test)]
    pub(crate) const ALL: [Field; N_FIELDS] = [
        Field::Name,
        Field::CitizenId,
        Field::Sex,
        Field::BirthDate,
        Field::Ethnicity,
        Field::Marital,
        Field::Area,
        Field::HouseholdNo,
        Field::Relationship,
        Field::RegisteredFrom,
        Field::SpouseId,
        Field::SpouseName,
        Field::MarriageDate,
        Field::MotherId,
        Field::FatherId,
        Field::BirthOrder,
        Field::Policy,
        Field::EventType,
        Field::Date,
        Field::FlowKind,
    ];

    /// The canonical header of the column in a file of `kind`.
    pub(crate) fn header(self, kind: FileKind) -> &'static str {
        match self {
            Field::Name => "姓名",
            Field::CitizenId => "公民身份号码",
            Field::Sex => "性别",
            Field::BirthDate => "出生日期",
            Field::Ethnicity => "民族",
            Field::Marital => "婚姻状况",
            Field::Area => match kind {
                FileKind::Persons => "户籍村/组",
                FileKind::Events => "地区",
            },
            Field::HouseholdNo => "户号",
            Field::Relationship => "与户主关系",
            Field::RegisteredFrom => "户籍登记日期",
            Field::SpouseId => "配偶公民身份号码",
            Field::SpouseName => "配偶姓名",
            Field::MarriageDate => "结婚日期",
            Field::MotherId => "母亲公民身份号码",
            Field::FatherId => "父亲公民身份号码",
            Field::BirthOrder => "孩次",
            Field::Policy => "政策属性",
            Field::EventType => "事件类型",
            Field::Date => "日期",
            Field::FlowKind => "流动类型",
        }
    }

    /// Recognizes a normalized header (see [`normalize_header`]), canonical name or alias.
    pub(crate) fn from_header(h: &str) -> Option<Field> {
        Some(match h {
            "姓名" => Field::Name,
            "公民身份号码" | "身份证号" | "身份证号码" | "公民身份证号码" | "身份号码" => Field::CitizenId,
            "性别" => Field::Sex,
            "出生日期" | "出生年月日" => Field::BirthDate,
            "民族" => Field::Ethnicity,
            "婚姻状况" | "婚姻状态" => Field::Marital,
            "户籍村/组" | "户籍村组" | "村/组" | "村组" | "地区" | "区划代码" | "户籍地区划代码" => Field::Area,
            "户号" => Field::HouseholdNo,
            "与户主关系" => Field::Relationship,
            "户籍登记日期" | "登记日期" => Field::RegisteredFrom,
            "配偶公民身份号码" | "配偶身份证号" | "配偶身份证号码" => Field::SpouseId,
            "配偶姓名" => Field::SpouseName,
            "结婚日期" | "婚姻登记日期" => Field::MarriageDate,
            "母亲公民身份号码" | "母亲身份证号" | "母亲身份证号码" => Field::MotherId,
            "父亲公民身份号码" | "父亲身份证号" | "父亲身份证号码" => Field::FatherId,
            "孩次" => Field::BirthOrder,
            "政策属性" | "政策内外" => Field::Policy,
            "事件类型" | "变动类型" => Field::EventType,
            "日期" | "事件日期" | "变动日期" => Field::Date,
            "流动类型" => Field::FlowKind,
            _ => return None,
        })
    }

    /// True when a file of `kind` uses this column.
    pub(crate) fn used_in(self, kind: FileKind) -> bool {
        match kind {
            FileKind::Persons => !matches!(self, Field::EventType | Field::Date | Field::FlowKind),
            FileKind::Events => matches!(
                self,
                Field::EventType
                    | Field::CitizenId
                    | Field::Date
                    | Field::Area
                    | Field::SpouseId
                    | Field::SpouseName
                    | Field::FlowKind
                    | Field::Name
                    | Field::Sex
                    | Field::BirthDate
                    | Field::Ethnicity
                    | Field::Marital
                    | Field::HouseholdNo
                    | Field::Relationship
            ),
        }
    }

    /// Columns a file of `kind` must have.
    pub(crate) fn required(kind: FileKind) -> &'static [Field] {
        match kind {
            FileKind::Persons => &[Field::Name, Field::CitizenId, Field::Area],
            FileKind::Events => &[Field::EventType, Field::CitizenId, Field::Date],
        }
    }
}

/// Persons file (人员) or events file (事件), told apart by the 事件类型 column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// 人员: one row per person.
    Persons,
    /// 事件: one row per event (死亡, 迁入, 迁出, 结婚, 离婚, 丧偶, 流入, 流出, 流动结束).
    Events,
}

impl FileKind {
    /// 人员 / 事件.
    pub fn name_zh(self) -> &'static str {
        match self {
            FileKind::Persons => "人员",
            FileKind::Events => "事件",
        }
    }
}

/// Drops whitespace (also the full-width space), a leading BOM and trailing `*`/`＊` marks of
/// required columns: `" 公民身份号码 * "` → `公民身份号码`.
pub(crate) fn normalize_header(h: &str) -> String {
    let s: String = h.chars().filter(|c| !c.is_whitespace() && *c != '\u{feff}').collect();
    s.trim_end_matches(['*', '＊']).replace('（', "(").replace('）', ")").replace('／', "/")
}

/// Excel column letters of a 0-based column index: 0 → `A`, 27 → `AB`.
pub(crate) fn column_letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// One cell's value, as read from CSV (always text) or XLSX (typed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    /// Empty (or only whitespace).
    Empty,
    /// Text, trimmed.
    Text(&'a str),
    /// A number cell (XLSX).
    Number(f64),
    /// A date cell (XLSX).
    Date(NaiveDate),
}

impl<'a> Cell<'a> {
    /// A text cell, trimmed; whitespace-only is [`Cell::Empty`].
    pub(crate) fn text(s: &'a str) -> Cell<'a> {
        let t = s.trim();
        if t.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(t)
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The cell as text with full-width digits, letters and punctuation read as ASCII
    /// ([`fold_fullwidth`]): for IDs, dates and codes, never for names.
    pub(crate) fn as_code(&self) -> Option<Cow<'a, str>> {
        match self.as_text()? {
            Cow::Borrowed(s) => Some(fold_fullwidth(s)),
            Cow::Owned(s) => Some(Cow::Owned(fold_fullwidth(&s).into_owned())),
        }
    }

    /// The cell as text: numbers that are whole are written without a decimal point.
    pub(crate) fn as_text(&self) -> Option<Cow<'a, str>> {
        match *self {
            Cell::Empty => None,
            Cell::Text(s) => Some(Cow::Borrowed(s)),
            Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e18 => Some(Cow::Owned(format!("{}", f as i64))),
            Cell::Number(f) => Some(Cow::Owned(format!("{f}"))),
            Cell::Date(d) => Some(Cow::Owned(d.format("%Y-%m-%d").to_string())),
        }
    }
}

/// Parses a date in the plausible range 1880-01-01 … 2200-12-31 ([`renkou_core::date`]): text in
/// the forms of [`parse_user_date`] (`YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`,
/// `YYYYMMDD`, full-width digits too; a time part is ignored), an Excel date cell, or a number
/// cell holding `YYYYMMDD`. Any other number is refused: a day count like 1980 only becomes a
/// date through the cell's date format, and a cell without one is a typed year or a mistake
/// (1980 would otherwise be read as 1905-06-02).
pub(crate) fn parse_date(c: &Cell) -> Result<Option<NaiveDate>, String> {
    let d = match *c {
        Cell::Empty => return Ok(None),
        Cell::Date(d) => d,
        Cell::Number(f) => {
            let shown = c.as_text().unwrap_or_default();
            if f.fract() == 0.0 && (10_000_101.0..=99_991_231.0).contains(&f) {
                let n = f as u32;
                NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100)
                    .ok_or_else(|| format!("日期 {n} 不是有效日期 (not a real calendar date)"))?
            } else {
                return Err(format!(
                    "日期列中的数字 {} 不是日期 (a number in a date column is not a date); 请填写 YYYY-MM-DD 或把单元格设为日期格式",
                    clip(&shown)
                ));
            }
        }
        Cell::Text(s) => return parse_user_date(s).map(Some).map_err(|e| e.to_string()),
    };
    check_range(d).map(Some).map_err(|e| e.to_string())
}

/// Date of an Excel serial day number (1900 or 1904 epoch; the 1900 leap-year bug honoured).
pub(crate) fn excel_serial_date(f: f64, is_1904: bool) -> Option<NaiveDate> {
    let days = f.floor() as i64;
    let base = if is_1904 {
        NaiveDate::from_ymd_opt(1904, 1, 1)?
    } else if days < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    base.checked_add_signed(chrono::Duration::days(days))
}

/// Parses a citizen identity number; returns it and whether it was a 15-digit legacy number.
pub(crate) fn parse_citizen_id(c: &Cell, today: NaiveDate) -> Result<Option<(CitizenId, bool)>, String> {
    if let Cell::Number(f) = *c {
        if f >= 9.0e15 {
            return Err("身份号码被 Excel 存成了数字, 末几位已丢失; 请把该列设为文本格式后重新填写 (citizen ID stored as a number: digits lost)".into());
        }
    }
    let Some(t) = c.as_code() else { return Ok(None) };
    CitizenId::parse(&t, today).map(|p| Some((p.id, p.legacy_15))).map_err(|e| format!("公民身份号码 {} {e}", clip(&t)))
}

/// The first 17 digits of a citizen ID as a number: a compact, allocation-free key.
pub(crate) fn id_key(id: &CitizenId) -> u64 {
    id.as_str().as_bytes()[..17].iter().fold(0u64, |k, d| k * 10 + u64::from(d - b'0'))
}

/// Parses 男/女 (also 1/2, M/F).
pub(crate) fn parse_sex(c: &Cell) -> Result<Option<Sex>, String> {
    let Some(t) = c.as_code() else { return Ok(None) };
    Sex::parse(&t).map(Some).ok_or_else(|| format!("性别 {} 应为 男 或 女 (sex must be 男 or 女)", quote(&t)))
}

/// Parses a marital status (GB/T 2261.2 code or name); empty = 未说明.
pub(crate) fn parse_marital(c: &Cell) -> Result<MaritalStatus, String> {
    let Some(t) = c.as_code() else {
        return Ok(MaritalStatus::Unstated);
    };
    MaritalStatus::parse(&t)
        .ok_or_else(|| format!("婚姻状况 {} 应为 未婚/已婚/初婚/再婚/复婚/丧偶/离婚/未说明 或代码 10-40、90 (unknown marital status)", quote(&t)))
}

/// Parses an ethnicity: the GB 3304 name; `族` is added when missing (`汉` → `汉族`); empty = 汉族.
pub(crate) fn parse_ethnicity(c: &Cell) -> String {
    match c.as_text() {
        None => "汉族".to_string(),
        Some(t) if t.ends_with('族') || t.ends_with('人') || t.starts_with("其他") || t.contains("外国") || t.contains("未识别") => t.into_owned(),
        Some(t) => format!("{t}族"),
    }
}

/// Parses an area code of a township (9 digits), village (12) or villager group (15).
pub(crate) fn parse_area(c: &Cell) -> Result<Option<AreaCode>, String> {
    let Some(t) = c.as_code() else { return Ok(None) };
    if t.chars().count() > renkou_core::text::MAX_QUOTE {
        return Err(format!("区划代码 {} 过长 (area code too long)", quote(&t)));
    }
    let code = AreaCode::parse(&t).map_err(|e| e.to_string())?;
    if code.level() < AreaLevel::Township {
        return Err(format!("区划代码 {t} 是{}, 应为乡镇(9位)、村(12位)或村民小组(15位) (area must be a township, village or group)", code.level().name_zh()));
    }
    Ok(Some(code))
}

/// Parses a relationship to the household head (one of [`RELATIONSHIPS_TO_HEAD`]).
pub(crate) fn parse_relationship(c: &Cell) -> Result<Option<String>, String> {
    let Some(t) = c.as_text() else { return Ok(None) };
    if RELATIONSHIPS_TO_HEAD.contains(&t.as_ref()) {
        Ok(Some(t.into_owned()))
    } else {
        Err(format!("与户主关系 {} 不在 GB/T 4761 列表中: {} (unknown relationship)", quote(&t), RELATIONSHIPS_TO_HEAD.join("/")))
    }
}

/// Parses a birth order 1–20: `2`, `二`, `二孩`, `第二孩`.
pub(crate) fn parse_birth_order(c: &Cell) -> Result<Option<u8>, String> {
    let Some(t) = c.as_code() else { return Ok(None) };
    let s = t.trim_start_matches('第').trim_end_matches(['孩', '胎']);
    let n = s.parse::<u8>().ok().or_else(|| {
        const ZH: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
        ZH.iter().position(|z| *z == s).map(|i| i as u8 + 1)
    });
    match n {
        Some(n @ 1..=20) => Ok(Some(n)),
        _ => Err(format!("孩次 {} 应为 1 到 20 的整数 (birth order must be 1-20)", quote(&t))),
    }
}

/// Parses 政策内/政策外.
pub(crate) fn parse_policy(c: &Cell) -> Result<Option<PolicyClass>, String> {
    let Some(t) = c.as_text() else { return Ok(None) };
    PolicyClass::parse(&t).map(Some).ok_or_else(|| format!("政策属性 {} 应为 政策内 或 政策外 (policy must be 政策内 or 政策外)", quote(&t)))
}

/// The plausible range 1880-01-01 … 2200-12-31 of every date ([`check_range`]; typos such as
/// 0213-05-01 or 2031-05-01 for 2013). [`parse_date`] already applies it.
pub(crate) fn plausible_year(d: NaiveDate) -> Result<NaiveDate, String> {
    check_range(d).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn dates_in_every_accepted_form() {
        for s in ["2013-07-05", "2013/7/5", "20130705", "2013.7.5", "2013年7月5日", "2013-07-05 00:00:00"] {
            assert_eq!(parse_date(&Cell::text(s)).unwrap(), Some(d(2013, 7, 5)), "{s}");
        }
        assert_eq!(parse_date(&Cell::Date(d(2013, 7, 5))).unwrap(), Some(d(2013, 7, 5)));
        assert_eq!(parse_date(&Cell::Number(20130705.0)).unwrap(), Some(d(2013, 7, 5)));
        assert_eq!(parse_date(&Cell::text("２０１３－０７－０５")).unwrap(), Some(d(2013, 7, 5)));
        // A plain number is not a date (an Excel day count only counts in a date-formatted cell).
        for n in [1980.0, 41460.0, 2013.5] {
            assert!(parse_date(&Cell::Number(n)).unwrap_err().starts_with("日期列中的数字"), "{n}");
        }
        assert!(parse_date(&Cell::Date(d(1879, 12, 31))).unwrap_err().contains("早于1880年"));
        assert!(parse_date(&Cell::Number(99991231.0)).unwrap_err().contains("晚于2200年"));
        assert!(parse_date(&Cell::text("2013-02-30")).unwrap_err().contains("不是有效日期"));
        assert!(parse_date(&Cell::text("13-7-5")).is_err());
        assert_eq!(parse_date(&Cell::Empty).unwrap(), None);
    }

    #[test]
    fn headers_are_normalized() {
        assert_eq!(normalize_header(" 公民身份号码 *"), "公民身份号码");
        assert_eq!(normalize_header("\u{feff}姓名＊"), "姓名");
        assert_eq!(Field::from_header(&normalize_header("户籍村／组*")), Some(Field::Area));
    }

    #[test]
    fn field_indices_match_declaration_order() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
    }

    #[test]
    fn column_letters_like_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn small_values() {
        assert_eq!(parse_birth_order(&Cell::text("二孩")).unwrap(), Some(2));
        assert_eq!(parse_birth_order(&Cell::text("3")).unwrap(), Some(3));
        assert!(parse_birth_order(&Cell::text("0")).is_err());
        assert_eq!(parse_ethnicity(&Cell::text("汉")), "汉族");
        assert_eq!(parse_ethnicity(&Cell::text("回族")), "回族");
        assert_eq!(parse_ethnicity(&Cell::Empty), "汉族");
        assert_eq!(parse_sex(&Cell::text("Ｍ")).unwrap(), Some(Sex::Male));
        assert_eq!(parse_marital(&Cell::text("２０")).unwrap(), MaritalStatus::parse("20").unwrap());
        assert!(parse_citizen_id(&Cell::Number(1.301_311_99e17), d(2020, 1, 1)).unwrap_err().contains("数字"));
    }
}
