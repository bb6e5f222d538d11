//! The evaluator: reads [`PersonFacts`] or [`AggregateFacts`], never writes.
//!
//! Missing values are `null` and propagate through arithmetic and comparisons; `and`/`or`/`not`
//! use three-valued (Kleene) logic (`false and null` is `false`, `true or null` is `true`). A
//! record whose `where` condition is unknown does not match. Division by zero gives `null` (a rate
//! over nothing is undefined, not zero). The evaluator also counts the value *items* it reads
//! (aggregate identifiers and person fields outside `where`, `is_null`, `exists` and `coalesce`)
//! and how many were missing, for the DHIS2 missing-value strategies of [`crate::rules::Rule`].

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::compile::{CollFunc, Const, Expr, Func, Node, NodeKind, Scope};
use super::facts::{AggregateFacts, BirthFacts, MarriageFacts, ParentRole, PersonFacts, RelativeFacts, ResidenceFacts};
use super::number::{ArithError, Number};
use super::syntax::BinOp;
use super::types::{FieldId, Type};
use super::RuleError;
use crate::citizen_id::CitizenId;
use crate::period::age_in_completed_years;
use crate::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};

/// A value an expression produces (a missing value is `None` around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Scalar {
    /// true / false.
    Bool(bool),
    /// An exact number.
    #[serde(serialize_with = "ser_number")]
    Number(Number),
    /// A day.
    Date(NaiveDate),
    /// Text.
    Text(String),
    /// An enum constant, by its canonical English name (`female`).
    Enum(&'static str),
}

fn ser_number<S: serde::Serializer>(n: &Number, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&n.to_string())
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{}", if *b { "是" } else { "否" }),
            Scalar::Number(n) => write!(f, "{n}"),
            Scalar::Date(d) => write!(f, "{d}"),
            Scalar::Text(t) => write!(f, "{t}"),
            Scalar::Enum(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ListVal<'a> {
    Births(&'a [BirthFacts], bool),
    Marriages(&'a [MarriageFacts]),
    Residences(&'a [ResidenceFacts]),
    Relatives(&'a [RelativeFacts]),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Date(NaiveDate),
    Text(&'a str),
    Enum(&'static str),
    Person(&'a PersonFacts),
    Relative(&'a RelativeFacts),
    Birth(&'a BirthFacts),
    Marriage(&'a MarriageFacts),
    Residence(&'a ResidenceFacts),
    List(ListVal<'a>),
}

impl<'a> Val<'a> {
    fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
    fn to_scalar(self) -> Option<Scalar> {
        Some(match self {
            Val::Bool(b) => Scalar::Bool(b),
            Val::Num(n) => Scalar::Number(n),
            Val::Date(d) => Scalar::Date(d),
            Val::Text(t) => Scalar::Text(t.to_string()),
            Val::Enum(e) => Scalar::Enum(e),
            _ => return None,
        })
    }
}

fn opt<'a, T>(v: Option<T>, f: impl FnOnce(T) -> Val<'a>) -> Val<'a> {
    v.map_or(Val::Null, f)
}

fn sex_name(s: Sex) -> &'static str {
    match s {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}
fn marital_name(m: MaritalStatus) -> &'static str {
    match m {
        MaritalStatus::NeverMarried => "never_married",
        MaritalStatus::Married => "married",
        MaritalStatus::Widowed => "widowed",
        MaritalStatus::Divorced => "divorced",
        MaritalStatus::Unstated => "unstated",
    }
}
fn residence_name(k: ResidenceKind) -> &'static str {
    k.code()
}
fn policy_name(p: PolicyClass) -> &'static str {
    p.code()
}
fn end_name(e: MarriageEnd) -> &'static str {
    e.code()
}
fn role_name(r: ParentRole) -> &'static str {
    match r {
        ParentRole::Mother => "mother",
        ParentRole::Father => "father",
    }
}

/// Evaluation state: the facts, the records bound by `where`, and the missing-value counters.
pub(crate) struct Env<'a> {
    pub src: &'a str,
    pub person: Option<&'a PersonFacts>,
    pub ref_date: Option<NaiveDate>,
    pub agg: Option<&'a AggregateFacts>,
    bindings: Vec<Val<'a>>,
    /// Replace missing numeric items by 0 (DHIS2: when a rule side is not skipped).
    pub zero_missing: bool,
    /// Value items read (outside guards and `where`).
    pub seen: u32,
    /// Of which missing.
    pub missing: u32,
    guard: u32,
}

impl<'a> Env<'a> {
    pub fn person(src: &'a str, p: &'a PersonFacts, ref_date: NaiveDate) -> Env<'a> {
        Env { src, person: Some(p), ref_date: Some(ref_date), agg: None, bindings: Vec::new(), zero_missing: false, seen: 0, missing: 0, guard: 0 }
    }
    pub fn aggregate(src: &'a str, a: &'a AggregateFacts) -> Env<'a> {
        Env { src, person: None, ref_date: None, agg: Some(a), bindings: Vec::new(), zero_missing: false, seen: 0, missing: 0, guard: 0 }
    }
    fn counting(&self) -> bool {
        self.guard == 0 && self.bindings.is_empty()
    }

    /// Counts an item and substitutes 0 for a missing numeric one when asked.
    fn item(&mut self, v: Val<'a>, ty: &Type) -> Val<'a> {
        if !self.counting() {
            return v;
        }
        self.seen += 1;
        if v.is_null() {
            self.missing += 1;
            if self.zero_missing && ty.is_numeric() {
                return Val::Num(Number::ZERO);
            }
        }
        v
    }

    fn arith(&self, r: Result<Number, ArithError>, node: &Node) -> Result<Val<'a>, RuleError> {
        match r {
            Ok(n) => Ok(Val::Num(n)),
            Err(ArithError::DivisionByZero) => Ok(Val::Null),
            Err(ArithError::Overflow) => Err(RuleError::at(self.src, node.span, "数值超出范围 (arithmetic overflow)")),
        }
    }

    fn field(&self, v: Val<'a>, f: FieldId) -> Val<'a> {
        use FieldId::*;
        match (v, f) {
            (Val::Person(p), f) => match f {
                PId => Val::Num(p.id.into()),
                PCitizenId => opt(p.citizen_id.as_deref(), Val::Text),
                PName => Val::Text(&p.name),
                PSex => Val::Enum(sex_name(p.sex)),
                PBirthDate => Val::Date(p.birth_date),
                PEthnicity => opt(p.ethnicity.as_deref(), Val::Text),
                PMaritalStatus => Val::Enum(marital_name(p.marital_status)),
                PArea => opt(p.area.as_deref(), Val::Text),
                PHouseholdNo => opt(p.household_no.as_deref(), Val::Text),
                PRelationshipToHead => opt(p.relationship_to_head.as_deref(), Val::Text),
                PDeathDate => opt(p.death_date, Val::Date),
                PSpouse => opt(self.ref_date.and_then(|d| p.spouse_on(d)), Val::Relative),
                PChildren => Val::List(ListVal::Births(&p.births, false)),
                PBirths => Val::List(ListVal::Births(&p.births, true)),
                PMarriages => Val::List(ListVal::Marriages(&p.marriages)),
                PResidences => Val::List(ListVal::Residences(&p.residences)),
                PHouseholdMembers => Val::List(ListVal::Relatives(&p.household_members)),
                _ => Val::Null,
            },
            (Val::Relative(r), f) => match f {
                RId => opt(r.id, |i| Val::Num(i.into())),
                RCitizenId => opt(r.citizen_id.as_deref(), Val::Text),
                RName => opt(r.name.as_deref(), Val::Text),
                RSex => opt(r.sex, |s| Val::Enum(sex_name(s))),
                RBirthDate => opt(r.birth_date, Val::Date),
                RDeathDate => opt(r.death_date, Val::Date),
                RRelationshipToHead => opt(r.relationship_to_head.as_deref(), Val::Text),
                _ => Val::Null,
            },
            (Val::Birth(b), f) => match f {
                BRole => Val::Enum(role_name(b.role)),
                BBirthOrder => opt(b.birth_order, |o| Val::Num(Number::int(i128::from(o)))),
                BPolicy => opt(b.policy, |p| Val::Enum(policy_name(p))),
                BChildId => Val::Num(b.child_id.into()),
                BCitizenId => opt(b.citizen_id.as_deref(), Val::Text),
                BName => Val::Text(&b.name),
                BSex => Val::Enum(sex_name(b.sex)),
                BBirthDate => Val::Date(b.birth_date),
                BDeathDate => opt(b.death_date, Val::Date),
                _ => Val::Null,
            },
            (Val::Marriage(m), f) => match f {
                MStart => opt(m.start, Val::Date),
                MEnd => opt(m.end, Val::Date),
                MEndReason => opt(m.end_reason, |e| Val::Enum(end_name(e))),
                MSpouse => Val::Relative(&m.spouse),
                _ => Val::Null,
            },
            (Val::Residence(e), f) => match f {
                EArea => Val::Text(&e.area),
                EKind => Val::Enum(residence_name(e.kind)),
                EStart => opt(e.start, Val::Date),
                EEnd => opt(e.end, Val::Date),
                _ => Val::Null,
            },
            _ => Val::Null,
        }
    }

    /// Number of slots of a list, and the record in slot `i` (`None` for a slot the list skips:
    /// a birth as father in `births`). No allocation.
    fn len(l: ListVal<'a>) -> usize {
        match l {
            ListVal::Births(bs, _) => bs.len(),
            ListVal::Marriages(ms) => ms.len(),
            ListVal::Residences(rs) => rs.len(),
            ListVal::Relatives(rs) => rs.len(),
        }
    }
    fn slot(l: ListVal<'a>, i: usize) -> Option<Val<'a>> {
        match l {
            ListVal::Births(bs, mother_only) => {
                let b = &bs[i];
                (!mother_only || b.role == ParentRole::Mother).then_some(Val::Birth(b))
            }
            ListVal::Marriages(ms) => Some(Val::Marriage(&ms[i])),
            ListVal::Residences(rs) => Some(Val::Residence(&rs[i])),
            ListVal::Relatives(rs) => Some(Val::Relative(&rs[i])),
        }
    }

    fn guarded(&mut self, n: &'a Node) -> Result<Val<'a>, RuleError> {
        self.guard += 1;
        let r = self.eval(n);
        self.guard -= 1;
        r
    }

    pub fn eval(&mut self, n: &'a Node) -> Result<Val<'a>, RuleError> {
        Ok(match &n.kind {
            NodeKind::Const(c) => match c {
                Const::Null => Val::Null,
                Const::Bool(b) => Val::Bool(*b),
                Const::Num(x) => Val::Num(*x),
                Const::Date(d) => Val::Date(*d),
                Const::Text(t) => Val::Text(t),
                Const::Enum(e) => Val::Enum(e),
            },
            NodeKind::RefDate => opt(self.ref_date, Val::Date),
            NodeKind::Root => opt(self.person, Val::Person),
            NodeKind::Binding(i) => self.bindings.get(*i).copied().unwrap_or(Val::Null),
            NodeKind::Agg(key) => {
                let v = opt(self.agg.and_then(|a| a.get(key)), Val::Num);
                self.item(v, &n.ty)
            }
            NodeKind::Field(obj, f) => {
                let o = self.eval(obj)?;
                let v = self.field(o, *f);
                if n.ty.is_scalar() {
                    self.item(v, &n.ty)
                } else {
                    v
                }
            }
            NodeKind::Neg(x) => match self.eval(x)? {
                Val::Num(v) => self.arith(v.checked_neg(), n)?,
                _ => Val::Null,
            },
            NodeKind::Not(x) => match self.eval(x)? {
                Val::Bool(v) => Val::Bool(!v),
                _ => Val::Null,
            },
            NodeKind::Arith(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                match (l, r) {
                    (Val::Num(a), Val::Num(b)) => self.arith(
                        match op {
                            BinOp::Add => a.checked_add(b),
                            BinOp::Sub => a.checked_sub(b),
                            BinOp::Mul => a.checked_mul(b),
                            _ => a.checked_div(b),
                        },
                        n,
                    )?,
                    _ => Val::Null,
                }
            }
            NodeKind::Cmp(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                opt(compare(*op, l, r), Val::Bool)
            }
            NodeKind::And(l, r) => {
                let l = self.eval(l)?;
                if let Val::Bool(false) = l {
                    return Ok(Val::Bool(false));
                }
                match (l, self.eval(r)?) {
                    (_, Val::Bool(false)) => Val::Bool(false),
                    (Val::Bool(true), Val::Bool(true)) => Val::Bool(true),
                    _ => Val::Null,
                }
            }
            NodeKind::Or(l, r) => {
                let l = self.eval(l)?;
                if let Val::Bool(true) = l {
                    return Ok(Val::Bool(true));
                }
                match (l, self.eval(r)?) {
                    (_, Val::Bool(true)) => Val::Bool(true),
                    (Val::Bool(false), Val::Bool(false)) => Val::Bool(false),
                    _ => Val::Null,
                }
            }
            NodeKind::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.eval(x)?, self.eval(lo)?, self.eval(hi)?);
                match (compare(BinOp::Ge, x, lo), compare(BinOp::Le, x, hi)) {
                    (Some(a), Some(b)) => Val::Bool(a && b),
                    _ => Val::Null,
                }
            }
            NodeKind::In(x, items) => {
                let x = self.eval(x)?;
                if x.is_null() {
                    return Ok(Val::Null);
                }
                let mut unknown = false;
                for it in items {
                    match compare(BinOp::Eq, x, self.eval(it)?) {
                        Some(true) => return Ok(Val::Bool(true)),
                        Some(false) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    Val::Null
                } else {
                    Val::Bool(false)
                }
            }
            NodeKind::Coll { func, source, filter } => {
                let Val::List(l) = self.eval(source)? else { return Ok(Val::Null) };
                let mut count: i128 = 0;
                let mut total: i128 = 0;
                for rec in (0..Self::len(l)).filter_map(|i| Self::slot(l, i)) {
                    total += 1;
                    let hit = match filter {
                        None => true,
                        Some(f) => {
                            self.bindings.push(rec);
                            let r = self.eval(f);
                            self.bindings.pop();
                            matches!(r?, Val::Bool(true))
                        }
                    };
                    if hit {
                        count += 1;
                        if matches!(func, CollFunc::Exists | CollFunc::Any) {
                            break;
                        }
                    } else if *func == CollFunc::All {
                        break;
                    }
                }
                match func {
                    CollFunc::Count => Val::Num(Number::int(count)),
                    CollFunc::Exists | CollFunc::Any => Val::Bool(count > 0),
                    CollFunc::All => Val::Bool(count == total),
                }
            }
            NodeKind::Call(f, args) => self.call(*f, args, n)?,
        })
    }

    fn call(&mut self, f: Func, args: &'a [Node], n: &'a Node) -> Result<Val<'a>, RuleError> {
        Ok(match f {
            Func::IsNull => Val::Bool(self.guarded(&args[0])?.is_null()),
            Func::ExistsValue => Val::Bool(!self.guarded(&args[0])?.is_null()),
            Func::Coalesce => {
                for a in args {
                    let v = self.guarded(a)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Val::Null
            }
            Func::If => match self.eval(&args[0])? {
                Val::Bool(true) => self.eval(&args[1])?,
                Val::Bool(false) => self.eval(&args[2])?,
                _ => Val::Null,
            },
            Func::Min | Func::Max => {
                let mut best = Val::Null;
                for a in args {
                    let v = self.eval(a)?;
                    if v.is_null() {
                        continue;
                    }
                    let better = best.is_null() || compare(if f == Func::Min { BinOp::Lt } else { BinOp::Gt }, v, best) == Some(true);
                    if better {
                        best = v;
                    }
                }
                best
            }
            Func::Abs => match self.eval(&args[0])? {
                Val::Num(x) => self.arith(x.abs(), n)?,
                _ => Val::Null,
            },
            Func::Round(d) => match self.eval(&args[0])? {
                Val::Num(x) => self.arith(x.round(d), n)?,
                _ => Val::Null,
            },
            Func::Age => {
                let birth = match self.eval(&args[0])? {
                    Val::Person(p) => Some(p.birth_date),
                    Val::Relative(r) => r.birth_date,
                    Val::Birth(b) => Some(b.birth_date),
                    Val::Date(d) => Some(d),
                    _ => None,
                };
                match (birth, self.eval(&args[1])?) {
                    (Some(b), Val::Date(on)) => Val::Num(Number::int(i128::from(age_in_completed_years(b, on)))),
                    _ => Val::Null,
                }
            }
            Func::DaysBetween => match (self.eval(&args[0])?, self.eval(&args[1])?) {
                (Val::Date(a), Val::Date(b)) => Val::Num(Number::int(i128::from((b - a).num_days()))),
                _ => Val::Null,
            },
            Func::CitizenIdValid | Func::CitizenIdBirthDate | Func::CitizenIdSex => {
                let Val::Text(t) = self.eval(&args[0])? else { return Ok(Val::Null) };
                let today = self.ref_date.unwrap_or(NaiveDate::MAX);
                let parsed = CitizenId::parse(t, today).ok();
                match f {
                    Func::CitizenIdValid => Val::Bool(parsed.is_some()),
                    Func::CitizenIdBirthDate => opt(parsed, |p| Val::Date(p.id.birth_date())),
                    _ => opt(parsed, |p| Val::Enum(sex_name(p.id.sex()))),
                }
            }
        })
    }
}

/// Compares two values; `None` when either is missing.
fn compare(op: BinOp, l: Val<'_>, r: Val<'_>) -> Option<bool> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Val::Num(a), Val::Num(b)) => Some(a.cmp(&b)),
        (Val::Date(a), Val::Date(b)) => Some(a.cmp(&b)),
        (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
        (Val::Enum(a), Val::Enum(b)) => Some(if a == b { Ordering::Equal } else { Ordering::Less }),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    };
    let o = ord?;
    Some(match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        BinOp::Ge => o != Ordering::Less,
        _ => return None,
    })
}

pub(crate) fn compare_scalars(op: BinOp, l: &Scalar, r: &Scalar) -> Option<bool> {
    let v = |s: &Scalar| -> Val<'static> {
        match s {
            Scalar::Bool(b) => Val::Bool(*b),
            Scalar::Number(n) => Val::Num(*n),
            Scalar::Date(d) => Val::Date(*d),
            Scalar::Text(_) => Val::Null,
            Scalar::Enum(e) => Val::Enum(e),
        }
    };
    match (l, r) {
        (Scalar::Text(a), Scalar::Text(b)) => compare(op, Val::Text(a), Val::Text(b)),
        _ => compare(op, v(l), v(r)),
    }
}

impl Expr {
    /// Evaluates a person-level expression for `person` on `ref_date`. `Ok(None)` is a missing
    /// value. Errors only on arithmetic overflow, or when the expression is an aggregate one.
    pub fn eval_person(&self, person: &PersonFacts, ref_date: NaiveDate) -> Result<Option<Scalar>, RuleError> {
        if self.scope != Scope::Person {
            return Err(RuleError::at(&self.source, self.node.span, "这是汇总表达式, 不能用于人员 (aggregate expression used on a person)"));
        }
        let mut env = Env::person(&self.source, person, ref_date);
        Ok(env.eval(&self.node)?.to_scalar())
    }

    /// Evaluates an aggregate expression over the statistics of one area and period.
    pub fn eval_aggregate(&self, facts: &AggregateFacts) -> Result<Option<Scalar>, RuleError> {
        if self.scope != Scope::Aggregate {
            return Err(RuleError::at(&self.source, self.node.span, "这是人员表达式, 不能用于汇总数 (person expression used on aggregates)"));
        }
        let mut env = Env::aggregate(&self.source, facts);
        Ok(env.eval(&self.node)?.to_scalar())
    }

    /// Evaluates in a prepared environment (the rule evaluator uses this to read the
    /// missing-value counters).
    pub(crate) fn eval_in<'a>(&'a self, env: &mut Env<'a>) -> Result<Option<Scalar>, RuleError> {
        env.src = &self.source;
        Ok(env.eval(&self.node)?.to_scalar())
    }
}
