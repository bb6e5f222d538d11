//! The built-in catalogue of logic checks (逻辑校验规则目录), kept as data in `catalogue.toml`
//! (one place: id, importance, Chinese message, source and expression of every check).
//!
//! Three kinds of checks share the same metadata ([`Check`]):
//! - **person** checks: rules of the rule language ([`Rule`], `violation_when` form) run over one
//!   person's [`PersonFacts`] on a reference date;
//! - **aggregate** checks: DHIS2-style identities (`births_male + births_female == births`) over
//!   the statistics of an area and period ([`AggregateFacts`]);
//! - **store** checks: set questions a per-person rule cannot answer (duplicate citizen IDs
//!   across persons, areas missing from the area table, households without a head or with two),
//!   answered by a store query ([`StoreQuery`]); the app runs them with this metadata.
//!
//! [`Catalogue::builtin`] parses the data file once (a unit test checks that every entry
//! compiles); [`Catalogue::with_user_rules`] appends the rules of a user's TOML file (parsed by
//! [`super::parse_rules_toml`], so errors carry the file's line and column).

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::compile::{Expr, Scope};
use super::facts::{BirthFacts, MarriageFacts, ParentRole, PersonFacts, RelativeFacts, ResidenceFacts};
use super::rule::{Importance, MissingValueStrategy, Outcome, Rule, RuleDef};
use super::{RuleError, RuleSet};

/// The catalogue's data file (`crates/core/src/rules/catalogue.toml`).
pub const CATALOGUE_TOML: &str = include_str!("catalogue.toml");

/// A set question answered by the store (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreQuery {
    /// Persons whose citizen IDs are the same number (18-digit body; a 15-digit number counts as
    /// its 18-digit upgrade).
    DuplicateCitizenId,
    /// Registered episodes in an area code that is not in the area table, or above village level.
    UnknownArea,
    /// Households with members and no 户主.
    HouseholdWithoutHead,
    /// Households with two or more 户主.
    HouseholdTwoHeads,
}

impl StoreQuery {
    /// Parses the `query` name of the data file.
    pub fn parse(s: &str) -> Option<StoreQuery> {
        Some(match s {
            "duplicate_citizen_id" => StoreQuery::DuplicateCitizenId,
            "unknown_area" => StoreQuery::UnknownArea,
            "household_without_head" => StoreQuery::HouseholdWithoutHead,
            "household_two_heads" => StoreQuery::HouseholdTwoHeads,
            _ => return None,
        })
    }
}

/// What a check runs.
// A catalogue holds a few dozen checks: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CheckBody {
    /// A rule of the rule language (person or aggregate scope).
    Rule(Rule),
    /// A set query of the store.
    Store(StoreQuery),
}

/// A collection of a person listed in full with a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Births as mother.
    Births,
    /// Births as mother or father.
    Children,
    /// Marriages.
    Marriages,
    /// Residence episodes.
    Residences,
    /// Other household members.
    HouseholdMembers,
}

/// One value printed with a violation.
#[derive(Debug, Clone, PartialEq)]
pub enum Show {
    /// `标签=expression`: a person-scope expression, evaluated for the person.
    Value {
        /// Chinese label.
        label: String,
        /// The expression.
        expr: Expr,
    },
    /// A collection listed record by record.
    List(ListKind),
}

/// One check of the catalogue (or a user rule).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Stable id: `P…` person, `S…` store, `A…` aggregate, anything for user rules.
    pub id: String,
    /// snake_case name.
    pub name: String,
    /// Error (counts against the score, exit code 1) or warning.
    pub importance: Importance,
    /// Chinese message.
    pub message_zh: String,
    /// Where the check comes from (law, standard, WIS check item), or `用户规则` for user rules.
    pub source: String,
    /// What runs.
    pub body: CheckBody,
    /// Values printed with a violation (person checks).
    pub show: Vec<Show>,
}

/// A labelled value of a violation (`出生日期`, `1950-03-01`).
pub type ShownValue = (String, String);

impl Check {
    /// Person, aggregate, or `None` for a store check.
    pub fn scope(&self) -> Option<Scope> {
        match &self.body {
            CheckBody::Rule(r) => Some(r.scope),
            CheckBody::Store(_) => None,
        }
    }

    /// The rule, for rule checks.
    pub fn rule(&self) -> Option<&Rule> {
        match &self.body {
            CheckBody::Rule(r) => Some(r),
            CheckBody::Store(_) => None,
        }
    }

    /// Runs a person check on `p` for `ref_date`; `None` for checks of another kind.
    ///
    /// Errors: a rule whose evaluation fails (arithmetic overflow) — never for the built-in ones.
    pub fn evaluate_person(&self, p: &PersonFacts, ref_date: NaiveDate) -> Option<Result<Outcome, RuleError>> {
        match &self.body {
            CheckBody::Rule(r) if r.scope == Scope::Person => Some(r.evaluate_person(p, ref_date)),
            _ => None,
        }
    }

    /// The values shown with a violation of this check by `p` (its `show` list; for a user rule
    /// without one, nothing: the outcome's sides are shown by the caller).
    pub fn shown_values(&self, p: &PersonFacts, ref_date: NaiveDate) -> Vec<ShownValue> {
        self.show
            .iter()
            .map(|s| match s {
                Show::Value { label, expr } => {
                    let v = match expr.eval_person(p, ref_date) {
                        Ok(Some(v)) => scalar_zh(&v),
                        _ => "(空)".to_string(),
                    };
                    (label.clone(), v)
                }
                Show::List(k) => list_values(*k, p),
            })
            .collect()
    }
}

/// A scalar in Chinese (enum constants by their Chinese names).
pub fn scalar_zh(v: &super::Scalar) -> String {
    match v {
        super::Scalar::Enum(e) => {
            super::ENUM_CONSTANTS.iter().filter(|(n, _, c)| c == e && !n.is_ascii()).map(|(n, _, _)| n.to_string()).next().unwrap_or_else(|| e.to_string())
        }
        v => v.to_string(),
    }
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "?".to_string(), |d| d.to_string())
}

fn birth_zh(b: &BirthFacts) -> String {
    let role = if b.role == ParentRole::Father { "(父)" } else { "" };
    let order = b.birth_order.map_or("孩次?".to_string(), |o| format!("第{o}孩"));
    let policy = b.policy.map_or("政策属性未填", |p| p.name_zh());
    let died = b.death_date.map(|d| format!(", {d}死亡")).unwrap_or_default();
    format!("{}{role} {} {} {order} {policy} [编号{}]{died}", b.name, b.sex.name_zh(), b.birth_date, b.child_id)
}

fn marriage_zh(m: &MarriageFacts) -> String {
    let spouse = relative_zh(&m.spouse);
    let end = match (m.end, m.end_reason) {
        (None, _) => "未结束".to_string(),
        (Some(e), Some(r)) => format!("{e} {}", if r == crate::register::MarriageEnd::Divorce { "离婚" } else { "丧偶" }),
        (Some(e), None) => e.to_string(),
    };
    format!("{} 至 {end}, 配偶 {spouse}", m.start.map_or("结婚日期未填".to_string(), |d| d.to_string()))
}

fn relative_zh(r: &RelativeFacts) -> String {
    let mut s = r.name.clone().unwrap_or_else(|| "(姓名未填)".into());
    if let Some(id) = r.id {
        s.push_str(&format!(" [编号{id}]"));
    }
    if let Some(d) = r.death_date {
        s.push_str(&format!(" {d}死亡"));
    }
    s
}

fn residence_zh(e: &ResidenceFacts) -> String {
    format!("{} {} {} 至 {}", e.kind.name_zh(), e.area, opt_date(e.start), e.end.map_or("今".to_string(), |d| d.to_string()))
}

fn list_values(k: ListKind, p: &PersonFacts) -> ShownValue {
    let (label, items): (&str, Vec<String>) = match k {
        ListKind::Births => ("生育", p.births.iter().filter(|b| b.role == ParentRole::Mother).map(birth_zh).collect()),
        ListKind::Children => ("子女", p.births.iter().map(birth_zh).collect()),
        ListKind::Marriages => ("婚姻", p.marriages.iter().map(marriage_zh).collect()),
        ListKind::Residences => ("居住记录", p.residences.iter().map(residence_zh).collect()),
        ListKind::HouseholdMembers => ("同户成员", p.household_members.iter().map(relative_zh).collect()),
    };
    (label.to_string(), if items.is_empty() { "(无)".to_string() } else { items.join("; ") })
}

/// The checks: built-in first (in data-file order), then user rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalogue {
    /// Every check.
    pub checks: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: String,
    name: String,
    importance: String,
    message_zh: String,
    source: String,
    scope: String,
    violation_when: Option<String>,
    left: Option<String>,
    operator: Option<String>,
    right: Option<String>,
    missing_value_strategy: Option<String>,
    query: Option<String>,
    #[serde(default)]
    show: Vec<String>,
}

fn whole(id: &str, msg: String) -> RuleError {
    RuleError { line: 1, column: 1, offset: 0, message: msg, rule_id: Some(id.to_string()), field: None }
}

fn parse_show(id: &str, s: &str) -> Result<Show, RuleError> {
    let list = match s.trim() {
        "births" => Some(ListKind::Births),
        "children" => Some(ListKind::Children),
        "marriages" => Some(ListKind::Marriages),
        "residences" => Some(ListKind::Residences),
        "household_members" => Some(ListKind::HouseholdMembers),
        _ => None,
    };
    if let Some(k) = list {
        return Ok(Show::List(k));
    }
    let (label, expr) = s.split_once('=').ok_or_else(|| whole(id, format!("show 项应为 标签=表达式 或集合名: {s:?}")))?;
    let expr = Expr::parse(expr.trim(), Scope::Person).map_err(|e| e.in_rule(id, "show"))?;
    Ok(Show::Value { label: label.trim().to_string(), expr })
}

impl Catalogue {
    /// Parses a catalogue data file (the format of `catalogue.toml`). Errors: the first entry that
    /// does not parse or type-check, with its id.
    pub fn parse(text: &str) -> Result<Catalogue, RuleError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let off = e.span().map_or(0, |s| s.start);
            let (line, column) = super::line_col(text, off);
            RuleError { line, column, offset: off, message: format!("TOML 格式错误: {}", e.message()), rule_id: None, field: None }
        })?;
        let mut checks = Vec::with_capacity(raw.check.len());
        for r in raw.check {
            let id = r.id.as_str();
            if checks.iter().any(|c: &Check| c.id == r.id) {
                return Err(whole(id, "规则编号重复 (duplicate id)".into()));
            }
            let importance = Importance::parse(&r.importance).ok_or_else(|| whole(id, format!("未知重要性 {}", r.importance)))?;
            let body = match r.scope.as_str() {
                "store" => {
                    let q = r.query.as_deref().and_then(StoreQuery::parse).ok_or_else(|| whole(id, format!("未知的集合查询 {:?}", r.query)))?;
                    CheckBody::Store(q)
                }
                "person" | "aggregate" => {
                    let scope = if r.scope == "person" { Scope::Person } else { Scope::Aggregate };
                    let missing_value_strategy = match &r.missing_value_strategy {
                        None => MissingValueStrategy::default(),
                        Some(s) => MissingValueStrategy::parse(s).ok_or_else(|| whole(id, format!("未知缺失值策略 {s}")))?,
                    };
                    let def = RuleDef {
                        id: r.id.clone(),
                        message_zh: r.message_zh.clone(),
                        importance,
                        scope,
                        left: r.left.clone(),
                        operator: r.operator.clone(),
                        right: r.right.clone(),
                        violation_when: r.violation_when.clone(),
                        missing_value_strategy,
                    };
                    CheckBody::Rule(Rule::compile(&def)?)
                }
                other => return Err(whole(id, format!("未知范围 {other}"))),
            };
            let show = r.show.iter().map(|s| parse_show(id, s)).collect::<Result<Vec<_>, _>>()?;
            checks.push(Check { id: r.id, name: r.name, importance, message_zh: r.message_zh, source: r.source, body, show });
        }
        Ok(Catalogue { checks })
    }

    /// The built-in catalogue (parsed once from [`CATALOGUE_TOML`]).
    pub fn builtin() -> &'static Catalogue {
        static C: OnceLock<Catalogue> = OnceLock::new();
        C.get_or_init(|| Catalogue::parse(CATALOGUE_TOML).expect("the built-in catalogue compiles (tested)"))
    }

    /// The built-in checks and the rules of a user file (see [`super::parse_rules_toml`]).
    /// Errors: a user rule whose id is already a built-in id (line 1 column 1 of the file would
    /// be wrong, so the error names the id).
    pub fn with_user_rules(user: &RuleSet) -> Result<Catalogue, RuleError> {
        let mut c = Catalogue::builtin().clone();
        for r in &user.rules {
            if c.get(&r.id).is_some() {
                return Err(whole(&r.id, format!("规则编号 {} 与内置规则重复 (id clashes with a built-in check)", r.id)));
            }
            c.checks.push(Check {
                id: r.id.clone(),
                name: r.id.clone(),
                importance: r.importance,
                message_zh: r.message_zh.clone(),
                source: "用户规则".into(),
                body: CheckBody::Rule(r.clone()),
                show: Vec::new(),
            });
        }
        Ok(c)
    }

    /// The check with this id.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Checks of one scope (`None` = store checks).
    pub fn of_scope(&self, scope: Option<Scope>) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(move |c| c.scope() == scope)
    }

    /// Runs every person check on `p`: the violated checks, in catalogue order, with the outcome.
    /// Errors: the first rule whose evaluation fails (overflow).
    pub fn check_person(&self, p: &PersonFacts, ref_date: NaiveDate) -> Result<Vec<(&Check, Outcome)>, RuleError> {
        let mut out = Vec::new();
        for c in self.of_scope(Some(Scope::Person)) {
            if let Some(r) = c.evaluate_person(p, ref_date) {
                let o = r?;
                if matches!(o, Outcome::Violation { .. }) {
                    out.push((c, o));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};
    use crate::rules::AggregateFacts;
    use crate::rules::Number;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    const REF: &str = "2014-06-30";

    fn id(addr: &str, birth: &str, seq: u16) -> String {
        crate::citizen_id::CitizenId::from_parts(addr, d(birth), seq).unwrap().as_str().to_string()
    }

    /// A plausible registered woman: born 1980-05-01, married 2004, valid ID, in a household.
    fn woman() -> PersonFacts {
        let mut p = PersonFacts::new(1, "王秀英", Sex::Female, d("1980-05-01"));
        p.citizen_id = Some(id("130131", "1980-05-01", 2));
        p.marital_status = MaritalStatus::Married;
        p.area = Some("130131200201".into());
        p.household_no = Some("1301312002010001".into());
        p.relationship_to_head = Some("配偶".into());
        p.residences.push(ResidenceFacts { area: "130131200201".into(), kind: ResidenceKind::Registered, start: Some(d("2004-03-01")), end: None });
        p.marriages.push(MarriageFacts {
            start: Some(d("2004-03-01")),
            end: None,
            end_reason: None,
            spouse: RelativeFacts { id: Some(2), name: Some("李强".into()), sex: Some(Sex::Male), birth_date: Some(d("1978-02-02")), ..Default::default() },
        });
        p
    }

    fn birth(child_id: i64, date: &str, order: u8, role: ParentRole) -> BirthFacts {
        BirthFacts {
            role,
            birth_order: Some(order),
            policy: Some(PolicyClass::Compliant),
            child_id,
            citizen_id: None,
            name: format!("孩子{child_id}"),
            sex: Sex::Male,
            birth_date: d(date),
            death_date: None,
        }
    }

    fn man() -> PersonFacts {
        let mut p = PersonFacts::new(2, "李强", Sex::Male, d("1978-02-02"));
        p.citizen_id = Some(id("130131", "1978-02-02", 1));
        p.marital_status = MaritalStatus::Married;
        p.household_no = Some("1301312002010001".into());
        p.relationship_to_head = Some("户主".into());
        p.residences.push(ResidenceFacts { area: "130131200201".into(), kind: ResidenceKind::Registered, start: None, end: None });
        p.marriages.push(MarriageFacts {
            start: Some(d("2004-03-01")),
            end: None,
            end_reason: None,
            spouse: RelativeFacts { id: Some(1), name: Some("王秀英".into()), sex: Some(Sex::Female), ..Default::default() },
        });
        p
    }

    /// For each person check: (a failing person, a passing person). The passing one is the
    /// failing one with the error corrected, so each test shows exactly what the check reads.
    fn cases(check_id: &str) -> (PersonFacts, PersonFacts) {
        let ok = woman();
        let mut bad = woman();
        let mut good = woman();
        match check_id {
            "P001" => {
                bad.citizen_id = Some("130131198005010023".into()); // wrong check character
                good.citizen_id = ok.citizen_id.clone();
            }
            "P002" => bad.citizen_id = Some(id("130131", "1981-05-01", 2)),
            "P003" => bad.citizen_id = Some(id("130131", "1980-05-01", 3)),
            "P004" => {
                bad.citizen_id = None;
                good.citizen_id = None;
                good.birth_date = d("2000-01-01"); // 14 on the reference date
                good.marriages.clear();
                good.marital_status = MaritalStatus::NeverMarried;
            }
            "P005" => {
                bad.death_date = Some(d("1912-03-01"));
                good.death_date = Some(d("2012-03-01"));
            }
            "P006" => {
                bad.death_date = Some(d("2015-01-01"));
                good.death_date = Some(d("2014-01-01"));
            }
            "P007" => {
                bad.birth_date = d("2015-01-01");
                bad.citizen_id = None;
            }
            "P008" => {
                bad.births.push(birth(10, "1994-04-30", 1, ParentRole::Mother)); // 13 years 364 days
                good.births.push(birth(10, "1994-05-01", 1, ParentRole::Mother));
                // 14 exactly
            }
            "P009" => {
                bad.birth_date = d("1955-05-01");
                bad.citizen_id = None;
                bad.births.push(birth(10, "2011-05-01", 1, ParentRole::Mother)); // 56
                good.birth_date = d("1955-05-01");
                good.citizen_id = None;
                good.births.push(birth(10, "2011-04-30", 1, ParentRole::Mother));
                // 55
            }
            "P010" => {
                let mut b = man();
                b.births.push(birth(10, "1994-01-01", 1, ParentRole::Father)); // 15
                let mut g = man();
                g.births.push(birth(10, "1994-02-02", 1, ParentRole::Father)); // 16
                return (b, g);
            }
            "P011" => {
                let mut b = man();
                b.death_date = Some(d("2012-01-01"));
                b.residences[0].end = Some(d("2012-01-01"));
                b.births.push(birth(10, "2012-10-28", 1, ParentRole::Father)); // 301 days
                let mut g = b.clone();
                g.births[0].birth_date = d("2012-10-27"); // 300 days
                return (b, g);
            }
            "P012" => {
                bad.death_date = Some(d("2012-01-01"));
                bad.births.push(birth(10, "2012-01-02", 1, ParentRole::Mother));
                good.death_date = Some(d("2012-01-01"));
                good.births.push(birth(10, "2012-01-01", 1, ParentRole::Mother));
            }
            "P013" => {
                bad.births.push(birth(10, "2005-01-01", 1, ParentRole::Mother));
                bad.births.push(birth(11, "2005-06-29", 2, ParentRole::Mother)); // 179 days
                                                                                 // Twins on the same day are fine.
                good.births.push(birth(10, "2005-01-01", 1, ParentRole::Mother));
                good.births.push(birth(11, "2005-01-01", 2, ParentRole::Mother));
                good.births.push(birth(12, "2005-06-30", 3, ParentRole::Mother));
                // 180 days
            }
            "P014" => {
                bad.births.push(birth(10, "2012-01-01", 2, ParentRole::Mother)); // no earlier child
                good.births.push(birth(10, "2005-01-01", 1, ParentRole::Mother));
                good.births.push(birth(11, "2012-01-01", 2, ParentRole::Mother));
                good.births.push(birth(12, "2012-01-01", 3, ParentRole::Mother));
                // twins: 2 and 3
            }
            "P015" => {
                bad.births.push(BirthFacts { birth_order: None, ..birth(10, "2012-01-01", 1, ParentRole::Mother) });
                good.births.push(birth(10, "2012-01-01", 1, ParentRole::Mother));
            }
            "P016" => {
                bad.births.push(BirthFacts { policy: None, ..birth(10, "2012-01-01", 1, ParentRole::Mother) });
                // Before the 2002 law a missing classification is not asked for.
                good.births.push(BirthFacts { policy: None, ..birth(10, "2001-01-01", 1, ParentRole::Mother) });
            }
            "P017" => {
                bad.births.push(birth(10, "1980-05-01", 1, ParentRole::Mother));
                good.births.push(birth(10, "2005-05-01", 1, ParentRole::Mother));
            }
            "P018" => {
                bad.marriages[0].start = Some(d("2000-04-30")); // 19 (woman, after 1981: 20)
                good.marriages[0].start = Some(d("2000-05-01")); // 20
                                                                 // Before 1981 the 1950 law's 18 applied.
                let mut old = woman();
                old.birth_date = d("1960-05-01");
                old.citizen_id = None;
                old.marriages[0].start = Some(d("1978-05-01"));
                assert!(pass(&old, check_id), "18-year-old bride in 1978 was of legal age");
                old.marriages[0].start = Some(d("1978-04-30"));
                assert!(!pass(&old, check_id), "17-year-old bride in 1978 was not");
                // Before the 1950 law: 16 for women.
                old.birth_date = d("1931-05-01");
                old.marriages[0].start = Some(d("1947-05-01"));
                assert!(pass(&old, check_id), "16-year-old bride in 1947");
            }
            "P019" => {
                bad.marriages.push(MarriageFacts { start: Some(d("2010-01-01")), ..ok.marriages[0].clone() });
                good.marriages[0].end = Some(d("2009-01-01"));
                good.marriages[0].end_reason = Some(MarriageEnd::Divorce);
                good.marriages.push(MarriageFacts { start: Some(d("2010-01-01")), ..ok.marriages[0].clone() });
            }
            "P020" => bad.marriages[0].spouse.sex = Some(Sex::Female),
            "P021" => {
                bad.marriages[0].end = Some(d("2004-02-28"));
                good.marriages[0].end = Some(d("2004-03-01"));
            }
            "P022" => {
                bad.death_date = Some(d("2004-02-01"));
                good.death_date = Some(d("2004-03-01"));
                good.residences[0].end = Some(d("2004-03-01"));
            }
            "P023" => {
                bad.marriages[0].spouse.death_date = Some(d("2013-01-01"));
                good.marriages[0].spouse.death_date = Some(d("2013-01-01"));
                good.marriages[0].end = Some(d("2013-01-01"));
                good.marriages[0].end_reason = Some(MarriageEnd::Death);
                good.marital_status = MaritalStatus::Widowed;
            }
            "P024" => {
                bad.residences.push(ResidenceFacts { area: "130131200202".into(), kind: ResidenceKind::Registered, start: Some(d("2010-01-01")), end: None });
                // Moved from one village to another on the same day: no overlap.
                good.residences[0].end = Some(d("2010-01-01"));
                good.residences.push(ResidenceFacts { area: "130131200202".into(), kind: ResidenceKind::Registered, start: Some(d("2010-01-01")), end: None });
                good.residences.push(ResidenceFacts { area: "130131200202".into(), kind: ResidenceKind::Outflow, start: Some(d("2011-01-01")), end: None });
            }
            "P025" => {
                bad.residences[0].end = Some(d("2004-02-01"));
                good.residences[0].end = Some(d("2004-03-01"));
            }
            "P026" => {
                bad.residences[0].start = Some(d("1980-04-30"));
                good.residences[0].start = Some(d("1980-05-01"));
            }
            "P027" => {
                bad.death_date = Some(d("2013-01-01"));
                good.death_date = Some(d("2013-01-01"));
                good.residences[0].end = Some(d("2013-01-01"));
            }
            "P028" => {
                bad.marital_status = MaritalStatus::Unstated;
                bad.marriages.clear();
                good.marital_status = MaritalStatus::Unstated;
                good.marriages.clear();
                good.residences[0].kind = ResidenceKind::Inflow; // not a registered resident
            }
            "P029" => bad.marital_status = MaritalStatus::NeverMarried,
            "P030" => {
                bad.marriages[0].end = Some(d("2010-01-01"));
                bad.marriages[0].end_reason = Some(MarriageEnd::Divorce);
                good.marriages[0].end = Some(d("2010-01-01"));
                good.marriages[0].end_reason = Some(MarriageEnd::Divorce);
                good.marital_status = MaritalStatus::Divorced;
            }
            "P031" => bad.marriages[0].start = None,
            "P032" => bad.marital_status = MaritalStatus::Widowed,
            "P033" => {
                bad.birth_date = d("2000-01-01");
                bad.citizen_id = None;
                bad.marriages.clear();
                good.birth_date = d("2000-01-01");
                good.citizen_id = None;
                good.marriages.clear();
                good.marital_status = MaritalStatus::NeverMarried;
            }
            "P034" => bad.household_no = None,
            other => panic!("no test case for person check {other}"),
        }
        (bad, good)
    }

    fn outcome(p: &PersonFacts, check_id: &str) -> Outcome {
        Catalogue::builtin().get(check_id).unwrap().evaluate_person(p, d(REF)).unwrap().unwrap()
    }

    fn pass(p: &PersonFacts, check_id: &str) -> bool {
        !matches!(outcome(p, check_id), Outcome::Violation { .. })
    }

    #[test]
    fn builtin_catalogue_compiles_with_at_least_30_checks() {
        let c = Catalogue::parse(CATALOGUE_TOML).unwrap();
        assert!(c.checks.len() >= 30, "{}", c.checks.len());
        assert_eq!(c.of_scope(Some(Scope::Person)).count(), 34);
        assert_eq!(c.of_scope(None).count(), 4);
        assert_eq!(c.of_scope(Some(Scope::Aggregate)).count(), 6);
        for ch in &c.checks {
            assert!(!ch.message_zh.is_empty() && !ch.source.is_empty(), "{}", ch.id);
            assert!(ch.message_zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{} message is Chinese", ch.id);
        }
    }

    #[test]
    fn the_plausible_persons_pass_every_person_check() {
        let mut w = woman();
        w.births.push(birth(10, "2005-06-01", 1, ParentRole::Mother));
        w.births.push(birth(11, "2009-06-01", 2, ParentRole::Mother));
        assert_eq!(Catalogue::builtin().check_person(&w, d(REF)).unwrap().iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), Vec::<&str>::new());
        assert!(Catalogue::builtin().check_person(&man(), d(REF)).unwrap().is_empty());
    }

    #[test]
    fn every_person_check_has_a_failing_and_a_passing_case() {
        for ch in Catalogue::builtin().of_scope(Some(Scope::Person)) {
            let (bad, good) = cases(&ch.id);
            assert!(matches!(outcome(&bad, &ch.id), Outcome::Violation { .. }), "{} should fail: {:?}", ch.id, outcome(&bad, &ch.id));
            assert!(pass(&good, &ch.id), "{} should pass: {:?}", ch.id, outcome(&good, &ch.id));
            // The whole catalogue run finds it too.
            let hits: Vec<String> = Catalogue::builtin().check_person(&bad, d(REF)).unwrap().iter().map(|(c, _)| c.id.clone()).collect();
            assert!(hits.contains(&ch.id), "{}: {hits:?}", ch.id);
        }
    }

    #[test]
    fn shown_values_name_the_values() {
        let (bad, _) = cases("P002");
        let v = Catalogue::builtin().get("P002").unwrap().shown_values(&bad, d(REF));
        assert_eq!(v, vec![("号码中的出生日期".to_string(), "1981-05-01".to_string()), ("登记的出生日期".to_string(), "1980-05-01".to_string())]);
        let (bad, _) = cases("P014");
        let v = Catalogue::builtin().get("P014").unwrap().shown_values(&bad, d(REF));
        assert_eq!(v, vec![("生育".to_string(), "孩子10 男 2012-01-01 第2孩 政策内 [编号10]".to_string())]);
        let (bad, _) = cases("P029");
        let v = Catalogue::builtin().get("P029").unwrap().shown_values(&bad, d(REF));
        assert_eq!(v[0], ("婚姻状况".to_string(), "未婚".to_string()));
        assert_eq!(v[1].1, "2004-03-01 至 未结束, 配偶 李强 [编号2]");
    }

    fn agg(pairs: &[(&str, i64)]) -> AggregateFacts {
        AggregateFacts::from_values(pairs.iter().map(|(k, v)| (*k, Number::int(i128::from(*v)))))
    }

    #[test]
    fn every_aggregate_check_has_a_failing_and_a_passing_case() {
        type Counts<'a> = &'a [(&'a str, i64)];
        let cases: &[(&str, Counts, Counts)] = &[
            ("A001", &[("births", 336), ("births_male", 167), ("births_female", 168)], &[("births", 336), ("births_male", 167), ("births_female", 169)]),
            (
                "A002",
                &[("births", 336), ("births_policy_compliant", 286), ("births_policy_noncompliant", 49)],
                &[("births", 336), ("births_policy_compliant", 286), ("births_policy_noncompliant", 50)],
            ),
            (
                "A003",
                &[("floating_inflow", 503), ("floating_outflow", 1805), ("floating_total", 2307)],
                &[("floating_inflow", 503), ("floating_outflow", 1805), ("floating_total", 2308)],
            ),
            (
                "A004",
                &[("women_of_childbearing_age", 700), ("married_women_of_childbearing_age", 701)],
                &[("women_of_childbearing_age", 700), ("married_women_of_childbearing_age", 520)],
            ),
            ("A005", &[("women_of_childbearing_age", 700), ("population_end", 600)], &[("women_of_childbearing_age", 700), ("population_end", 3000)]),
            (
                "A006",
                // average = (3022 + 3032) / 2 = 3027
                &[("population_start", 3022), ("population_end", 3032), ("population_average", 3028)],
                &[("population_start", 3022), ("population_end", 3032), ("population_average", 3027)],
            ),
        ];
        let agg_checks: Vec<&str> = Catalogue::builtin().of_scope(Some(Scope::Aggregate)).map(|c| c.id.as_str()).collect();
        assert_eq!(agg_checks, cases.iter().map(|c| c.0).collect::<Vec<_>>());
        for (id, bad, good) in cases {
            let r = Catalogue::builtin().get(id).unwrap().rule().unwrap();
            assert!(matches!(r.evaluate_aggregate(&agg(bad)).unwrap(), Outcome::Violation { .. }), "{id}");
            assert_eq!(r.evaluate_aggregate(&agg(good)).unwrap(), Outcome::Pass, "{id}");
        }
        // A002 on a typed report without the unknown count: missing counts as 0.
        let r = Catalogue::builtin().get("A002").unwrap().rule().unwrap();
        match r.evaluate_aggregate(&agg(&[("births", 336), ("births_policy_compliant", 286), ("births_policy_noncompliant", 49)])).unwrap() {
            Outcome::Violation { left, right } => {
                assert_eq!(left.unwrap().to_string(), "335");
                assert_eq!(right.unwrap().to_string(), "336");
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn store_checks_name_their_queries() {
        let q: Vec<StoreQuery> = Catalogue::builtin()
            .of_scope(None)
            .map(|c| match c.body {
                CheckBody::Store(q) => q,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(q, vec![StoreQuery::DuplicateCitizenId, StoreQuery::UnknownArea, StoreQuery::HouseholdWithoutHead, StoreQuery::HouseholdTwoHeads]);
    }

    #[test]
    fn user_rules_are_appended_and_may_not_reuse_builtin_ids() {
        let rs = crate::rules::parse_rules_toml(
            "[[rule]]\nid = \"U001\"\nmessage_zh = \"育龄妇女没有婚姻记录\"\nimportance = \"warning\"\nviolation_when = \"sex == female and age(person, ref_date) between 25 and 49 and count(marriages) == 0\"\n",
        )
        .unwrap();
        let c = Catalogue::with_user_rules(&rs).unwrap();
        assert_eq!(c.checks.len(), Catalogue::builtin().checks.len() + 1);
        let mut w = woman();
        w.marriages.clear();
        w.marital_status = MaritalStatus::NeverMarried;
        let hits: Vec<&str> = c.check_person(&w, d(REF)).unwrap().iter().map(|(c, _)| c.id.as_str()).collect();
        assert_eq!(hits, vec!["U001"]);
        let clash = crate::rules::parse_rules_toml("[[rule]]\nid = \"P001\"\nmessage_zh = \"x\"\nviolation_when = \"false\"\n").unwrap();
        assert!(Catalogue::with_user_rules(&clash).unwrap_err().message.contains("P001"));
    }

    #[test]
    fn a_bad_catalogue_entry_is_refused_with_its_id() {
        let text = "[[check]]\nid = \"X1\"\nname = \"x\"\nimportance = \"error\"\nmessage_zh = \"错\"\nsource = \"s\"\nscope = \"person\"\nviolation_when = \"sexx == male\"\n";
        let e = Catalogue::parse(text).unwrap_err();
        assert_eq!(e.rule_id.as_deref(), Some("X1"));
        assert!(e.message.contains("sexx"), "{e}");
    }
}
