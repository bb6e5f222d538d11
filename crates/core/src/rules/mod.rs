//! The rule language (逻辑校验规则语言): one expression language for validation rules,
//! indicators and (later) benefit eligibility, parsed and type-checked when a rule is saved.
//!
//! # The language
//!
//! ```text
//! expr     := expr "or" expr | expr "and" expr | "not" expr
//!           | sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?     -- never chained
//!           | sum "not"? "between" sum "and" sum                     -- inclusive
//!           | sum "not"? "in" "[" expr ("," expr)* "]"
//! sum      := sum ("+" | "-") term | term
//! term     := term ("*" | "/") unary | unary
//! unary    := "-" unary | postfix
//! postfix  := primary ("." name)*
//! primary  := integer | decimal | "string" | 'string' | true | false | null
//!           | name | name "(" (arg ("," arg)*)? ")" | "(" expr ")"
//! arg      := expr | expr ("as" name)? ("where" expr)?               -- collection functions only
//! ```
//! Precedence from loose to tight: `or`, `and`, `not`, comparisons / `between` / `in`, `+ -`,
//! `* /`, unary `-`, `.`. `#` starts a comment to the end of the line. Names are Unicode
//! identifiers (the enum constants have Chinese aliases: `性别 == 女` is not valid but
//! `sex == 女` is).
//!
//! **Names.** In a person rule a bare name is looked up in this order: an `as` alias, a field of
//! the innermost `where` record (then of outer ones), a field of the person ([`PERSON_FIELDS`]:
//! `sex`, `birth_date`, `marital_status`, `death_date`, `spouse`, `children`, `births`,
//! `marriages`, `residences`, `household_members`, …), `person`, `ref_date` (the reference date the
//! rule is run for), an enum constant ([`ENUM_CONSTANTS`]: `female`, `married`, `inflow`,
//! `compliant`, `divorce`, `mother`, …). In an aggregate rule the names are the snake_case keys of
//! [`crate::stats::DEFINITIONS`] (`births`, `births_male`, `population_average`,
//! `crude_death_rate`, …).
//!
//! **Collections** are only read through `count`, `exists`, `any`, `all`:
//! `count(children where birth_order >= 2)`, `any(marriages as m where age(person, m.start) < 20)`.
//! At most [`MAX_COLLECTION_DEPTH`] collections nest, so one rule over one person is bounded by
//! (records per collection)^3; the language has no loops, recursion, assignment or I/O, so rules
//! never change data.
//!
//! **Functions** ([`FUNCTIONS`]): `age(person_or_date, date)` (completed years,
//! [`crate::period::age_in_completed_years`]), `days_between(a, b)`, `count`, `exists`, `any`,
//! `all`, `is_null`, `coalesce`, `if`, `min`, `max` (ignore missing values), `abs`,
//! `round(x, digits)` (half away from zero), `date("2014-06-30")`, and the GB 11643 helpers
//! `citizen_id_valid`, `citizen_id_birth_date`, `citizen_id_sex`.
//!
//! **Types** ([`Type`]): Bool, Int, Number (exact rational, [`Number`]), Date, Text, Enum(kind),
//! Person, Record, List, Optional. Int converts to Number; `/` always gives a Number; a field that
//! may be missing is Optional and makes the expressions over it Optional (missing propagates,
//! see [`eval`]). Comparing a date with a number, an enum of one kind with another
//! (`sex == married`), using `== null` instead of `is_null`, an unknown name, field or function,
//! or the wrong number of arguments is refused with the line and column ([`RuleError`]).
//!
//! # Rules and indicators
//! [`Rule`]: DHIS2 validation rules (left side, operator, right side, importance, missing-value
//! strategy) and a `violation_when` predicate form for person checks. [`Indicator`]: numerator,
//! denominator, factor, precision, as DHIS2 indicators. [`parse_rules_toml`] loads both from a
//! TOML file with errors located in the file.

pub mod catalogue;
mod compile;
pub mod eval;
mod facts;
mod file;
mod number;
mod rule;
mod syntax;
mod types;

pub use compile::{Expr, Scope, FUNCTIONS, MAX_COLLECTION_DEPTH};
pub use eval::Scalar;
pub use facts::{AggregateFacts, BirthFacts, MarriageFacts, ParentRole, PersonFacts, RelativeFacts, ResidenceFacts};
pub use file::{parse_rules_toml, RuleSet};
pub use number::{ArithError, Number};
pub use rule::{Importance, Indicator, IndicatorDef, MissingValueStrategy, Operator, Outcome, Rule, RuleBody, RuleDef, SkipReason, BUILTIN_INDICATORS};
pub use syntax::{KEYWORDS, MAX_NESTING};
pub use types::{aggregate_identifiers, enum_constant, record_fields, EnumKind, FieldId, RecordKind, Type, ENUM_CONSTANTS, PERSON_FIELDS};

use std::fmt;

/// A byte range `[start, end)` in a rule's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// `[start, end)`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// From the start of `self` to the end of `o`.
    pub fn to(self, o: Span) -> Span {
        Span { start: self.start.min(o.start), end: self.end.max(o.end) }
    }
}

/// 1-based line and column (in characters, so a Chinese character is one column) of byte
/// `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(src.len());
    let before = &src[..src.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Why a rule, an expression or a rules file was refused: where (1-based line and column over
/// the whole text given, in characters) and why (Chinese, with the English in brackets).
///
/// Displays as `第2行第15列: 未知字段 person.sexx (unknown field), 可选: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters).
    pub column: u32,
    /// Byte offset in the text the position refers to.
    pub offset: usize,
    /// The reason.
    pub message: String,
    /// The rule or indicator the error belongs to, when known.
    pub rule_id: Option<String>,
    /// The field of the rule (`left`, `right`, `violation_when`, `numerator`, …), when known.
    pub field: Option<String>,
}

impl RuleError {
    /// An error at `span` of `src`.
    pub fn at(src: &str, span: Span, message: impl Into<String>) -> RuleError {
        let (line, column) = line_col(src, span.start);
        RuleError { line, column, offset: span.start, message: message.into(), rule_id: None, field: None }
    }

    /// The same error, tagged with the rule id and field.
    pub fn in_rule(mut self, rule_id: &str, field: &str) -> RuleError {
        self.rule_id = Some(rule_id.to_string());
        self.field = Some(field.to_string());
        self
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第{}行第{}列: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for RuleError {}
