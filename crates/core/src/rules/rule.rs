//! Validation rules (DHIS2 semantics) and indicators over the expression language.
//!
//! A rule is written either as DHIS2 writes it, stating what must hold:
//! `left  operator  right` (`births_male + births_female == births`), violated when it does not
//! hold; or, for person checks, as the error it looks for: `violation_when = "death_date <
//! birth_date"`, violated when the condition is true. The predicate form reads best for an office
//! user ("it is an error when …", the same sentence as the Chinese message); the left/right form
//! keeps both values in the report, which aggregate identities need ("左边 335, 右边 336").

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::compile::{Expr, Scope};
use super::eval::{compare_scalars, Env, Scalar};
use super::facts::{AggregateFacts, PersonFacts};
use super::number::Number;
use super::syntax::BinOp;
use super::types::Type;
use super::{RuleError, Span};

/// Importance of a violation (DHIS2 has HIGH/MEDIUM/LOW; the office distinguishes errors, which
/// count against a village's score, from warnings to look at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Importance {
    /// 错误: the register is wrong.
    Error,
    /// 警告: implausible, to be looked at.
    Warning,
}

impl Importance {
    /// 错误 / 警告.
    pub fn name_zh(self) -> &'static str {
        match self {
            Importance::Error => "错误",
            Importance::Warning => "警告",
        }
    }
    /// Parses `error`/`warning`/`错误`/`警告` (DHIS2 `HIGH` → error, `MEDIUM`/`LOW` → warning).
    pub fn parse(s: &str) -> Option<Importance> {
        match s.trim() {
            "error" | "错误" | "HIGH" | "high" => Some(Importance::Error),
            "warning" | "警告" | "MEDIUM" | "LOW" | "medium" | "low" => Some(Importance::Warning),
            _ => None,
        }
    }
}

/// Operator of a left/right rule (DHIS2 `Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// `==` (equal_to).
    Eq,
    /// `!=` (not_equal_to).
    Ne,
    /// `<` (less_than).
    Lt,
    /// `<=` (less_than_or_equal_to).
    Le,
    /// `>` (greater_than).
    Gt,
    /// `>=` (greater_than_or_equal_to).
    Ge,
    /// Both sides have a value, or neither (compulsory_pair). Ignores the missing-value strategy.
    CompulsoryPair,
    /// Never both sides have a value (exclusive_pair). Ignores the missing-value strategy.
    ExclusivePair,
}

impl Operator {
    /// Parses `==`, `!=`, `<`, `<=`, `>`, `>=`, the DHIS2 names (`equal_to`, …,
    /// `compulsory_pair`, `exclusive_pair`) and the pair symbols `&` / `|` DHIS2 exports use.
    pub fn parse(s: &str) -> Option<Operator> {
        Some(match s.trim() {
            "==" | "equal_to" => Operator::Eq,
            "!=" | "not_equal_to" => Operator::Ne,
            "<" | "less_than" => Operator::Lt,
            "<=" | "less_than_or_equal_to" => Operator::Le,
            ">" | "greater_than" => Operator::Gt,
            ">=" | "greater_than_or_equal_to" => Operator::Ge,
            "compulsory_pair" | "&" => Operator::CompulsoryPair,
            "exclusive_pair" | "|" => Operator::ExclusivePair,
            _ => return None,
        })
    }
    /// As written in a rule.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::CompulsoryPair => "compulsory_pair",
            Operator::ExclusivePair => "exclusive_pair",
        }
    }
    fn binop(self) -> Option<BinOp> {
        Some(match self {
            Operator::Eq => BinOp::Eq,
            Operator::Ne => BinOp::Ne,
            Operator::Lt => BinOp::Lt,
            Operator::Le => BinOp::Le,
            Operator::Gt => BinOp::Gt,
            Operator::Ge => BinOp::Ge,
            _ => return None,
        })
    }
}

/// DHIS2 missing-value strategy: when a rule is skipped because values it reads are missing.
///
/// The *items* of a side are the aggregate identifiers it names and, in person rules, the fields
/// it reads outside `where`, `is_null`, `exists` and `coalesce` (which handle missing values
/// themselves). When a side is not skipped, its missing numeric items count as 0 (as DHIS2 does).
/// A result that is still unknown after that (a missing date, a division by zero) skips the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingValueStrategy {
    /// Skip when any item on either side is missing (DHIS2 default).
    #[default]
    SkipIfAnyValueMissing,
    /// Skip when every item of a side is missing.
    SkipIfAllValuesMissing,
    /// Never skip: missing numeric items count as 0.
    NeverSkip,
}

impl MissingValueStrategy {
    /// Parses snake_case or the DHIS2 upper-case name.
    pub fn parse(s: &str) -> Option<MissingValueStrategy> {
        match s.trim() {
            "skip_if_any_value_missing" | "SKIP_IF_ANY_VALUE_MISSING" => Some(MissingValueStrategy::SkipIfAnyValueMissing),
            "skip_if_all_values_missing" | "SKIP_IF_ALL_VALUES_MISSING" => Some(MissingValueStrategy::SkipIfAllValuesMissing),
            "never_skip" | "NEVER_SKIP" => Some(MissingValueStrategy::NeverSkip),
            _ => None,
        }
    }
}

/// A rule as saved: text, before checking (what a TOML file or an edit form holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDef {
    /// Stable id, e.g. `P001`.
    pub id: String,
    /// Chinese message shown for a violation (separate from the expressions).
    pub message_zh: String,
    /// Error or warning.
    pub importance: Importance,
    /// Person or aggregate.
    pub scope: Scope,
    /// Left side (with `operator` and `right`).
    pub left: Option<String>,
    /// Operator text (see [`Operator::parse`]).
    pub operator: Option<String>,
    /// Right side.
    pub right: Option<String>,
    /// The predicate form: a boolean expression that is true for an error.
    pub violation_when: Option<String>,
    /// Missing-value strategy (default: skip if any value is missing).
    #[serde(default)]
    pub missing_value_strategy: MissingValueStrategy,
}

/// The checked body of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleBody {
    /// `left operator right` must hold (DHIS2).
    Compare {
        /// Left side.
        left: Expr,
        /// Operator.
        operator: Operator,
        /// Right side.
        right: Expr,
    },
    /// A violation when the expression is true.
    ViolationWhen(Expr),
}

/// A checked validation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// Chinese message.
    pub message_zh: String,
    /// Error or warning.
    pub importance: Importance,
    /// Person or aggregate.
    pub scope: Scope,
    /// What is checked.
    pub body: RuleBody,
    /// Missing-value strategy.
    pub missing_value_strategy: MissingValueStrategy,
}

/// Why a rule was not decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The missing-value strategy skipped it.
    MissingValues,
    /// A value was still unknown (a missing date, a division by zero).
    Undefined,
}

/// The result of evaluating a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// The rule holds.
    Pass,
    /// The rule is violated; the values of both sides (for `violation_when`: `left` is the
    /// predicate's value, `true`, and `right` is `None`).
    Violation {
        /// Left side value (`None` = missing).
        left: Option<Scalar>,
        /// Right side value.
        right: Option<Scalar>,
    },
    /// Not decided.
    Skipped(SkipReason),
}

fn side(src: &str, scope: Scope) -> Result<Expr, RuleError> {
    let e = Expr::parse(src, scope)?;
    if !e.ty().is_scalar() || matches!(e.ty(), Type::Null) {
        return Err(RuleError::at(src, Span::new(0, 0), format!("规则的一边应为单个值, 实际是{} (a rule side must be a value)", e.ty())));
    }
    Ok(e)
}

impl Rule {
    /// Parses and type-checks a saved rule. Errors carry the rule id, the field and the position
    /// inside that field's text.
    pub fn compile(def: &RuleDef) -> Result<Rule, RuleError> {
        let id = def.id.as_str();
        let whole =
            |msg: String, field: &str| RuleError { line: 1, column: 1, offset: 0, message: msg, rule_id: Some(id.to_string()), field: Some(field.to_string()) };
        if def.id.trim().is_empty() {
            return Err(whole("规则编号为空 (empty rule id)".into(), "id"));
        }
        if def.message_zh.trim().is_empty() {
            return Err(whole("规则说明为空 (empty message)".into(), "message_zh"));
        }
        let body = match (&def.violation_when, &def.left, &def.operator, &def.right) {
            (Some(p), None, None, None) => {
                let e = Expr::parse_as(p, def.scope, &Type::Bool).map_err(|e| e.in_rule(id, "violation_when"))?;
                RuleBody::ViolationWhen(e)
            }
            (None, Some(l), Some(op), Some(r)) => {
                let operator = Operator::parse(op).ok_or_else(|| {
                    whole(format!("未知运算符 `{op}` (unknown operator), 可选: ==, !=, <, <=, >, >=, compulsory_pair, exclusive_pair"), "operator")
                })?;
                let left = side(l, def.scope).map_err(|e| e.in_rule(id, "left"))?;
                let right = side(r, def.scope).map_err(|e| e.in_rule(id, "right"))?;
                let (lt, rt) = (left.ty().base().clone(), right.ty().base().clone());
                let numeric = |t: &Type| matches!(t, Type::Int | Type::Number);
                let ok = match operator {
                    Operator::CompulsoryPair | Operator::ExclusivePair => true,
                    Operator::Eq | Operator::Ne => lt == rt || (numeric(&lt) && numeric(&rt)),
                    _ => (numeric(&lt) && numeric(&rt)) || (lt == Type::Date && rt == Type::Date),
                };
                if !ok {
                    let msg = format!("左边是{lt}, 右边是{rt}, 不能用 {} 比较 (sides cannot be compared)", operator.symbol());
                    return Err(RuleError::at(r, Span::new(0, 0), msg).in_rule(id, "right"));
                }
                RuleBody::Compare { left, operator, right }
            }
            _ => {
                return Err(whole(
                    "规则应写 violation_when, 或同时写 left、operator、right (a rule needs violation_when, or left + operator + right)".into(),
                    "violation_when",
                ))
            }
        };
        Ok(Rule {
            id: def.id.clone(),
            message_zh: def.message_zh.clone(),
            importance: def.importance,
            scope: def.scope,
            body,
            missing_value_strategy: def.missing_value_strategy,
        })
    }

    /// Back to its saved form (the text an edit page shows); `Rule::compile(&r.to_def())` gives
    /// `r` again.
    pub fn to_def(&self) -> RuleDef {
        let (left, operator, right, violation_when) = match &self.body {
            RuleBody::Compare { left, operator, right } => {
                (Some(left.source().to_string()), Some(operator.symbol().to_string()), Some(right.source().to_string()), None)
            }
            RuleBody::ViolationWhen(e) => (None, None, None, Some(e.source().to_string())),
        };
        RuleDef {
            id: self.id.clone(),
            message_zh: self.message_zh.clone(),
            importance: self.importance,
            scope: self.scope,
            left,
            operator,
            right,
            violation_when,
            missing_value_strategy: self.missing_value_strategy,
        }
    }

    /// Evaluates a person rule for `person` on `ref_date`.
    pub fn evaluate_person(&self, person: &PersonFacts, ref_date: NaiveDate) -> Result<Outcome, RuleError> {
        if self.scope != Scope::Person {
            return Err(self.scope_error("汇总规则不能用于人员 (aggregate rule used on a person)"));
        }
        self.evaluate(|| Env::person("", person, ref_date))
    }

    /// Evaluates an aggregate rule over the statistics of one area and period.
    pub fn evaluate_aggregate(&self, facts: &AggregateFacts) -> Result<Outcome, RuleError> {
        if self.scope != Scope::Aggregate {
            return Err(self.scope_error("人员规则不能用于汇总数 (person rule used on aggregates)"));
        }
        self.evaluate(|| Env::aggregate("", facts))
    }

    fn scope_error(&self, msg: &str) -> RuleError {
        RuleError { line: 1, column: 1, offset: 0, message: msg.into(), rule_id: Some(self.id.clone()), field: None }
    }

    fn evaluate<'a>(&'a self, new_env: impl Fn() -> Env<'a>) -> Result<Outcome, RuleError> {
        use MissingValueStrategy::*;
        let strategy = self.missing_value_strategy;
        let tag = |e: RuleError, f: &str| e.in_rule(&self.id, f);
        match &self.body {
            RuleBody::ViolationWhen(e) => {
                let mut env = new_env();
                env.zero_missing = strategy != SkipIfAnyValueMissing;
                let v = e.eval_in(&mut env).map_err(|e| tag(e, "violation_when"))?;
                if skip(strategy, env.seen, env.missing) {
                    return Ok(Outcome::Skipped(SkipReason::MissingValues));
                }
                Ok(match v {
                    Some(Scalar::Bool(true)) => Outcome::Violation { left: v, right: None },
                    Some(_) => Outcome::Pass,
                    None => Outcome::Skipped(SkipReason::Undefined),
                })
            }
            RuleBody::Compare { left, operator, right } => {
                let pair = matches!(operator, Operator::CompulsoryPair | Operator::ExclusivePair);
                let mut le = new_env();
                le.zero_missing = !pair && strategy != SkipIfAnyValueMissing;
                let l = left.eval_in(&mut le).map_err(|e| tag(e, "left"))?;
                let mut re = new_env();
                re.zero_missing = le.zero_missing;
                let r = right.eval_in(&mut re).map_err(|e| tag(e, "right"))?;
                if pair {
                    let (lp, rp) = (l.is_some(), r.is_some());
                    let violated = if *operator == Operator::CompulsoryPair { lp != rp } else { lp && rp };
                    return Ok(if violated { Outcome::Violation { left: l, right: r } } else { Outcome::Pass });
                }
                let skipped = match strategy {
                    SkipIfAnyValueMissing => le.missing > 0 || re.missing > 0,
                    SkipIfAllValuesMissing => skip(strategy, le.seen, le.missing) || skip(strategy, re.seen, re.missing),
                    NeverSkip => false,
                };
                if skipped {
                    return Ok(Outcome::Skipped(SkipReason::MissingValues));
                }
                let (Some(lv), Some(rv)) = (&l, &r) else { return Ok(Outcome::Skipped(SkipReason::Undefined)) };
                let op = operator.binop().expect("not a pair operator");
                Ok(match compare_scalars(op, lv, rv) {
                    Some(true) => Outcome::Pass,
                    Some(false) => Outcome::Violation { left: l, right: r },
                    None => Outcome::Skipped(SkipReason::Undefined),
                })
            }
        }
    }
}

fn skip(strategy: MissingValueStrategy, seen: u32, missing: u32) -> bool {
    match strategy {
        MissingValueStrategy::SkipIfAnyValueMissing => missing > 0,
        MissingValueStrategy::SkipIfAllValuesMissing => seen > 0 && missing == seen,
        MissingValueStrategy::NeverSkip => false,
    }
}

/// An indicator as saved (text), as DHIS2 defines one: `numerator / denominator × factor`,
/// rounded to `precision` decimals for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorDef {
    /// snake_case key.
    pub key: String,
    /// Chinese name.
    pub name_zh: String,
    /// Numerator, an aggregate expression.
    pub numerator: String,
    /// Denominator, an aggregate expression (`None` for a total).
    pub denominator: Option<String>,
    /// 1 (number), 100 (percent), 1000 (per mille), 100000 …
    pub factor: i64,
    /// Decimals printed.
    pub precision: u32,
}

/// A built-in indicator definition (static text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinIndicator {
    /// Key (same as in [`crate::stats::DEFINITIONS`]).
    pub key: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
    /// Numerator expression.
    pub numerator: &'static str,
    /// Denominator expression.
    pub denominator: Option<&'static str>,
    /// Factor.
    pub factor: i64,
    /// Decimals.
    pub precision: u32,
}

impl BuiltinIndicator {
    /// As an [`IndicatorDef`].
    pub fn def(&self) -> IndicatorDef {
        IndicatorDef {
            key: self.key.into(),
            name_zh: self.name_zh.into(),
            numerator: self.numerator.into(),
            denominator: self.denominator.map(Into::into),
            factor: self.factor,
            precision: self.precision,
        }
    }
}

/// The rates of DESIGN.md §Definitions as expressions (NBS definitions; the average population is
/// `(population_start + population_end) / 2`). Evaluating them gives the same values as
/// [`crate::stats::Figures::compute`].
pub const BUILTIN_INDICATORS: &[BuiltinIndicator] = &[
    BuiltinIndicator {
        key: "crude_birth_rate",
        name_zh: "人口出生率",
        numerator: "births",
        denominator: Some("population_average"),
        factor: 1000,
        precision: 1,
    },
    BuiltinIndicator {
        key: "crude_death_rate", name_zh: "死亡率", numerator: "deaths", denominator: Some("population_average"), factor: 1000, precision: 2
    },
    BuiltinIndicator {
        key: "natural_growth_rate",
        name_zh: "人口自然增长率",
        numerator: "births - deaths",
        denominator: Some("population_average"),
        factor: 1000,
        precision: 2,
    },
    BuiltinIndicator {
        key: "sex_ratio_at_birth",
        name_zh: "出生人口性别比",
        numerator: "births_male",
        denominator: Some("births_female"),
        factor: 100,
        precision: 1,
    },
    BuiltinIndicator {
        key: "policy_compliance_rate",
        name_zh: "符合政策生育率",
        numerator: "births_policy_compliant",
        denominator: Some("births"),
        factor: 100,
        precision: 2,
    },
];

/// A checked indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// Key.
    pub key: String,
    /// Chinese name.
    pub name_zh: String,
    /// Numerator.
    pub numerator: Expr,
    /// Denominator.
    pub denominator: Option<Expr>,
    /// Factor (> 0).
    pub factor: i64,
    /// Decimals printed.
    pub precision: u32,
}

impl Indicator {
    /// Parses and type-checks an indicator (both expressions numeric, aggregate scope).
    pub fn compile(def: &IndicatorDef) -> Result<Indicator, RuleError> {
        let id = def.key.as_str();
        let whole =
            |msg: &str, field: &str| RuleError { line: 1, column: 1, offset: 0, message: msg.into(), rule_id: Some(id.into()), field: Some(field.into()) };
        if def.factor <= 0 {
            return Err(whole("系数应为正整数, 如 1、100、1000 (factor must be positive)", "factor"));
        }
        if def.precision > 9 {
            return Err(whole("小数位数应为 0 到 9 (precision must be 0..9)", "precision"));
        }
        let numerator = Expr::parse_as(&def.numerator, Scope::Aggregate, &Type::Number).map_err(|e| e.in_rule(id, "numerator"))?;
        let denominator =
            def.denominator.as_deref().map(|d| Expr::parse_as(d, Scope::Aggregate, &Type::Number).map_err(|e| e.in_rule(id, "denominator"))).transpose()?;
        Ok(Indicator { key: def.key.clone(), name_zh: def.name_zh.clone(), numerator, denominator, factor: def.factor, precision: def.precision })
    }

    /// The exact value `numerator / denominator × factor`; `None` when a value it reads is
    /// missing or the denominator is 0 (undefined, not zero).
    pub fn value(&self, facts: &AggregateFacts) -> Result<Option<Number>, RuleError> {
        let num = |e: &Expr| -> Result<Option<Number>, RuleError> {
            let mut env = Env::aggregate("", facts);
            let v = e.eval_in(&mut env).map_err(|x| x.in_rule(&self.key, "numerator"))?;
            Ok(match v {
                Some(Scalar::Number(n)) if env.missing == 0 => Some(n),
                _ => None,
            })
        };
        let Some(n) = num(&self.numerator)? else { return Ok(None) };
        let d = match &self.denominator {
            Some(d) => match num(d)? {
                Some(d) => d,
                None => return Ok(None),
            },
            None => Number::ONE,
        };
        let overflow =
            || RuleError {
                line: 1, column: 1, offset: 0, message: "数值超出范围 (arithmetic overflow)".into(), rule_id: Some(self.key.clone()), field: None
            };
        match n.checked_mul(Number::int(i128::from(self.factor))).and_then(|x| x.checked_div(d)) {
            Ok(v) => Ok(Some(v)),
            Err(super::number::ArithError::DivisionByZero) => Ok(None),
            Err(super::number::ArithError::Overflow) => Err(overflow()),
        }
    }

    /// The value rounded for display at `precision` (half away from zero), e.g. `"5.88"`.
    pub fn rounded(&self, facts: &AggregateFacts) -> Result<Option<String>, RuleError> {
        Ok(self.value(facts)?.map(|v| v.rounded(self.precision)))
    }
}
