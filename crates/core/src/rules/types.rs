//! Types of the rule language and the schema of what a rule can read.
//!
//! The schema is data: the fields of a person ([`PERSON_FIELDS`]), of the records in a person's
//! collections ([`record_fields`]), the enum constants ([`ENUM_CONSTANTS`]) and, for aggregate
//! rules, the keys of [`crate::stats::DEFINITIONS`] ([`aggregate_identifiers`]).

use std::fmt;

use crate::stats::{Unit, DEFINITIONS};

/// Kinds of enumerated values (each a register enum of [`crate::register`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnumKind {
    /// [`crate::register::Sex`]: `male`, `female`.
    Sex,
    /// [`crate::register::MaritalStatus`]: `never_married`, `married`, `widowed`, `divorced`, `unstated`.
    MaritalStatus,
    /// [`crate::register::ResidenceKind`]: `registered`, `inflow`, `outflow`.
    ResidenceKind,
    /// [`crate::register::PolicyClass`]: `compliant`, `noncompliant`.
    PolicyClass,
    /// [`crate::register::MarriageEnd`]: `divorce`, `death`.
    MarriageEnd,
    /// The person's role in a birth: `mother`, `father`.
    ParentRole,
}

impl EnumKind {
    /// Chinese name of the kind.
    pub fn name_zh(self) -> &'static str {
        match self {
            EnumKind::Sex => "性别",
            EnumKind::MaritalStatus => "婚姻状况",
            EnumKind::ResidenceKind => "居住类型",
            EnumKind::PolicyClass => "政策属性",
            EnumKind::MarriageEnd => "婚姻终止原因",
            EnumKind::ParentRole => "父母身份",
        }
    }
}

/// Enum constants: (name as written, kind, canonical English name). Chinese aliases map to the
/// same canonical value (`女` is `female`). Canonical names are the register's database codes.
pub const ENUM_CONSTANTS: &[(&str, EnumKind, &str)] = &[
    ("male", EnumKind::Sex, "male"),
    ("男", EnumKind::Sex, "male"),
    ("female", EnumKind::Sex, "female"),
    ("女", EnumKind::Sex, "female"),
    ("never_married", EnumKind::MaritalStatus, "never_married"),
    ("未婚", EnumKind::MaritalStatus, "never_married"),
    ("married", EnumKind::MaritalStatus, "married"),
    ("已婚", EnumKind::MaritalStatus, "married"),
    ("widowed", EnumKind::MaritalStatus, "widowed"),
    ("丧偶", EnumKind::MaritalStatus, "widowed"),
    ("divorced", EnumKind::MaritalStatus, "divorced"),
    ("离婚", EnumKind::MaritalStatus, "divorced"),
    ("unstated", EnumKind::MaritalStatus, "unstated"),
    ("未说明", EnumKind::MaritalStatus, "unstated"),
    ("registered", EnumKind::ResidenceKind, "registered"),
    ("户籍", EnumKind::ResidenceKind, "registered"),
    ("inflow", EnumKind::ResidenceKind, "inflow"),
    ("流入", EnumKind::ResidenceKind, "inflow"),
    ("outflow", EnumKind::ResidenceKind, "outflow"),
    ("流出", EnumKind::ResidenceKind, "outflow"),
    ("compliant", EnumKind::PolicyClass, "compliant"),
    ("政策内", EnumKind::PolicyClass, "compliant"),
    ("noncompliant", EnumKind::PolicyClass, "noncompliant"),
    ("政策外", EnumKind::PolicyClass, "noncompliant"),
    ("divorce", EnumKind::MarriageEnd, "divorce"),
    ("death", EnumKind::MarriageEnd, "death"),
    ("mother", EnumKind::ParentRole, "mother"),
    ("母亲", EnumKind::ParentRole, "mother"),
    ("father", EnumKind::ParentRole, "father"),
    ("父亲", EnumKind::ParentRole, "father"),
];

/// Looks an enum constant up by the name written in a rule.
pub fn enum_constant(name: &str) -> Option<(EnumKind, &'static str)> {
    ENUM_CONSTANTS.iter().find(|(n, _, _)| *n == name).map(|(_, k, c)| (*k, *c))
}

/// Kinds of records in a person's collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Another person seen from this one: a spouse, a household member
    /// ([`crate::rules::RelativeFacts`]); every field may be missing.
    Relative,
    /// A birth where this person is a parent, with the child's facts ([`crate::rules::BirthFacts`]).
    Birth,
    /// A marriage ([`crate::rules::MarriageFacts`]).
    Marriage,
    /// A residence episode ([`crate::rules::ResidenceFacts`]).
    Residence,
}

impl RecordKind {
    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            RecordKind::Relative => "相关人员",
            RecordKind::Birth => "生育",
            RecordKind::Marriage => "婚姻",
            RecordKind::Residence => "居住",
        }
    }
}

/// The type of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// true / false.
    Bool,
    /// An integer (counts, ages, days, birth orders).
    Int,
    /// An exact rational number (rates, averages, results of `/`). `Int` converts to `Number`.
    Number,
    /// A calendar day.
    Date,
    /// Text (names, codes).
    Text,
    /// A value of an enumeration.
    Enum(EnumKind),
    /// The person a person-level rule is about (the only value with collections).
    Person,
    /// One record of a collection, or a spouse.
    Record(RecordKind),
    /// A collection of records: only usable in `count`, `exists`, `any`, `all`.
    List(RecordKind),
    /// A value that may be missing (`null`).
    Optional(Box<Type>),
    /// The literal `null`.
    Null,
}

impl Type {
    /// The type without `Optional`.
    pub fn base(&self) -> &Type {
        match self {
            Type::Optional(t) => t,
            t => t,
        }
    }
    /// True when the value may be missing.
    pub fn is_optional(&self) -> bool {
        matches!(self, Type::Optional(_) | Type::Null)
    }
    /// `Optional<self>` (not nested).
    pub fn optional(self) -> Type {
        match self {
            Type::Optional(_) | Type::Null => self,
            t => Type::Optional(Box::new(t)),
        }
    }
    /// `self`, made optional when `opt`.
    pub fn optional_if(self, opt: bool) -> Type {
        if opt {
            self.optional()
        } else {
            self
        }
    }
    /// Int or Number (possibly optional).
    pub fn is_numeric(&self) -> bool {
        matches!(self.base(), Type::Int | Type::Number)
    }
    /// A value a rule side or a comparison can hold (not a person, record or list).
    pub fn is_scalar(&self) -> bool {
        matches!(self.base(), Type::Bool | Type::Int | Type::Number | Type::Date | Type::Text | Type::Enum(_) | Type::Null)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "布尔"),
            Type::Int => write!(f, "整数"),
            Type::Number => write!(f, "数值"),
            Type::Date => write!(f, "日期"),
            Type::Text => write!(f, "文本"),
            Type::Enum(k) => write!(f, "{}", k.name_zh()),
            Type::Person => write!(f, "人员"),
            Type::Record(k) => write!(f, "{}记录", k.name_zh()),
            Type::List(k) => write!(f, "{}列表", k.name_zh()),
            Type::Optional(t) => write!(f, "可空{t}"),
            Type::Null => write!(f, "null"),
        }
    }
}

/// A field the evaluator can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FieldId {
    // Person.
    PId,
    PCitizenId,
    PName,
    PSex,
    PBirthDate,
    PEthnicity,
    PMaritalStatus,
    PArea,
    PHouseholdNo,
    PRelationshipToHead,
    PDeathDate,
    PSpouse,
    PChildren,
    PBirths,
    PMarriages,
    PResidences,
    PHouseholdMembers,
    // Relative.
    RId,
    RCitizenId,
    RName,
    RSex,
    RBirthDate,
    RDeathDate,
    RRelationshipToHead,
    // Birth (with the child's facts).
    BRole,
    BBirthOrder,
    BPolicy,
    BChildId,
    BCitizenId,
    BName,
    BSex,
    BBirthDate,
    BDeathDate,
    // Marriage.
    MStart,
    MEnd,
    MEndReason,
    MSpouse,
    // Residence.
    EArea,
    EKind,
    EStart,
    EEnd,
}

/// A field of the schema: name, type, id, Chinese description.
pub type FieldDef = (&'static str, fn() -> Type, FieldId, &'static str);

fn t_int() -> Type {
    Type::Int
}
fn t_text() -> Type {
    Type::Text
}
fn t_date() -> Type {
    Type::Date
}
fn t_opt_int() -> Type {
    Type::Int.optional()
}
fn t_opt_text() -> Type {
    Type::Text.optional()
}
fn t_opt_date() -> Type {
    Type::Date.optional()
}
fn t_sex() -> Type {
    Type::Enum(EnumKind::Sex)
}
fn t_opt_sex() -> Type {
    Type::Enum(EnumKind::Sex).optional()
}
fn t_marital() -> Type {
    Type::Enum(EnumKind::MaritalStatus)
}
fn t_role() -> Type {
    Type::Enum(EnumKind::ParentRole)
}
fn t_opt_policy() -> Type {
    Type::Enum(EnumKind::PolicyClass).optional()
}
fn t_opt_end() -> Type {
    Type::Enum(EnumKind::MarriageEnd).optional()
}
fn t_res_kind() -> Type {
    Type::Enum(EnumKind::ResidenceKind)
}
fn t_relative() -> Type {
    Type::Record(RecordKind::Relative)
}
fn t_opt_relative() -> Type {
    Type::Record(RecordKind::Relative).optional()
}
fn t_births() -> Type {
    Type::List(RecordKind::Birth)
}
fn t_marriages() -> Type {
    Type::List(RecordKind::Marriage)
}
fn t_residences() -> Type {
    Type::List(RecordKind::Residence)
}
fn t_relatives() -> Type {
    Type::List(RecordKind::Relative)
}

/// Fields of the person (`person.sex`, or bare `sex` in a person rule).
pub const PERSON_FIELDS: &[FieldDef] = &[
    ("id", t_int, FieldId::PId, "人员编号"),
    ("citizen_id", t_opt_text, FieldId::PCitizenId, "公民身份号码 (as recorded, may be invalid)"),
    ("name", t_text, FieldId::PName, "姓名"),
    ("sex", t_sex, FieldId::PSex, "性别"),
    ("birth_date", t_date, FieldId::PBirthDate, "出生日期"),
    ("ethnicity", t_opt_text, FieldId::PEthnicity, "民族"),
    ("marital_status", t_marital, FieldId::PMaritalStatus, "登记的婚姻状况"),
    ("area", t_opt_text, FieldId::PArea, "户籍所在区划代码"),
    ("household_no", t_opt_text, FieldId::PHouseholdNo, "户号"),
    ("relationship_to_head", t_opt_text, FieldId::PRelationshipToHead, "与户主关系"),
    ("death_date", t_opt_date, FieldId::PDeathDate, "死亡日期"),
    ("spouse", t_opt_relative, FieldId::PSpouse, "参考日期的配偶"),
    ("children", t_births, FieldId::PChildren, "子女 (births as mother or father)"),
    ("births", t_births, FieldId::PBirths, "作为母亲的生育"),
    ("marriages", t_marriages, FieldId::PMarriages, "婚姻"),
    ("residences", t_residences, FieldId::PResidences, "居住/户籍记录"),
    ("household_members", t_relatives, FieldId::PHouseholdMembers, "同户其他成员"),
];

const RELATIVE_FIELDS: &[FieldDef] = &[
    ("id", t_opt_int, FieldId::RId, "人员编号 (不在册时为空)"),
    ("citizen_id", t_opt_text, FieldId::RCitizenId, "公民身份号码"),
    ("name", t_opt_text, FieldId::RName, "姓名"),
    ("sex", t_opt_sex, FieldId::RSex, "性别"),
    ("birth_date", t_opt_date, FieldId::RBirthDate, "出生日期"),
    ("death_date", t_opt_date, FieldId::RDeathDate, "死亡日期"),
    ("relationship_to_head", t_opt_text, FieldId::RRelationshipToHead, "与户主关系"),
];

const BIRTH_FIELDS: &[FieldDef] = &[
    ("role", t_role, FieldId::BRole, "本人在此次生育中的身份 (mother/father)"),
    ("birth_order", t_opt_int, FieldId::BBirthOrder, "孩次"),
    ("policy", t_opt_policy, FieldId::BPolicy, "政策属性"),
    ("id", t_int, FieldId::BChildId, "子女人员编号"),
    ("citizen_id", t_opt_text, FieldId::BCitizenId, "子女公民身份号码"),
    ("name", t_text, FieldId::BName, "子女姓名"),
    ("sex", t_sex, FieldId::BSex, "子女性别"),
    ("birth_date", t_date, FieldId::BBirthDate, "出生日期"),
    ("death_date", t_opt_date, FieldId::BDeathDate, "子女死亡日期"),
];

const MARRIAGE_FIELDS: &[FieldDef] = &[
    ("start", t_opt_date, FieldId::MStart, "结婚日期"),
    ("end", t_opt_date, FieldId::MEnd, "婚姻终止日期"),
    ("end_reason", t_opt_end, FieldId::MEndReason, "终止原因"),
    ("spouse", t_relative, FieldId::MSpouse, "配偶"),
];

const RESIDENCE_FIELDS: &[FieldDef] = &[
    ("area", t_text, FieldId::EArea, "区划代码"),
    ("kind", t_res_kind, FieldId::EKind, "类型 (registered/inflow/outflow)"),
    ("start", t_opt_date, FieldId::EStart, "开始日期 (迁入/出生)"),
    ("end", t_opt_date, FieldId::EEnd, "结束日期 (迁出/死亡)"),
];

/// The fields of a record kind.
pub fn record_fields(kind: RecordKind) -> &'static [FieldDef] {
    match kind {
        RecordKind::Relative => RELATIVE_FIELDS,
        RecordKind::Birth => BIRTH_FIELDS,
        RecordKind::Marriage => MARRIAGE_FIELDS,
        RecordKind::Residence => RESIDENCE_FIELDS,
    }
}

/// The identifiers of an aggregate rule: every key of [`crate::stats::DEFINITIONS`] with its
/// type (`Int` for counts printed without decimals, `Number` for averages and rates).
pub fn aggregate_identifiers() -> impl Iterator<Item = (&'static str, Type)> {
    DEFINITIONS.iter().map(|d| {
        let t = if d.unit == Unit::Persons && d.precision == 0 { Type::Int } else { Type::Number };
        (d.key, t)
    })
}

/// Levenshtein distance over chars (for "did you mean").
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}
