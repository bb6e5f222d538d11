//! The type checker: turns a syntax tree into a typed, resolved expression ([`Expr`]) or refuses
//! it with line, column and reason. Run when a rule is saved, never skipped at run time.

use chrono::NaiveDate;

use super::number::Number;
use super::syntax::{self, Arg, Ast, AstKind, BinOp};
use super::types::{aggregate_identifiers, edit_distance, enum_constant, record_fields, EnumKind, FieldDef, FieldId, RecordKind, Type, PERSON_FIELDS};
use super::{RuleError, Span};

/// Deepest nesting of collections (`count(children where any(marriages where …))` is 2 deep), so
/// that one rule over one person reads at most (records per collection)^3 combinations.
pub const MAX_COLLECTION_DEPTH: usize = 3;

/// What an expression is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One person ([`crate::rules::PersonFacts`]) on a reference date `ref_date`.
    Person,
    /// The statistics of one area and period ([`crate::rules::AggregateFacts`]): identifiers are
    /// the keys of [`crate::stats::DEFINITIONS`].
    Aggregate,
}

/// Functions of the language, with arity and a one-line description (for the editor's help
/// and for "unknown function" errors).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("age", "age(人员或日期, 日期): 周岁 (completed years)"),
    ("days_between", "days_between(a, b): b 减 a 的天数 (days from a to b)"),
    ("count", "count(集合 [as 名] [where 条件]): 记录数"),
    ("exists", "exists(集合 [where 条件]) 或 exists(值): 有无"),
    ("any", "any(集合 where 条件): 至少一条满足"),
    ("all", "all(集合 where 条件): 全部满足 (空集合为真)"),
    ("is_null", "is_null(x): x 缺失"),
    ("coalesce", "coalesce(a, b, …): 第一个非空值"),
    ("if", "if(条件, a, b)"),
    ("min", "min(a, b, …): 最小值 (忽略空值)"),
    ("max", "max(a, b, …): 最大值 (忽略空值)"),
    ("abs", "abs(x): 绝对值"),
    ("round", "round(x, 位数): 四舍五入 (half away from zero)"),
    ("date", "date(\"2014-06-30\"): 日期常量"),
    ("citizen_id_valid", "citizen_id_valid(号码): 公民身份号码有效 (GB 11643)"),
    ("citizen_id_birth_date", "citizen_id_birth_date(号码): 号码中的出生日期"),
    ("citizen_id_sex", "citizen_id_sex(号码): 号码中的性别"),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Null,
    Bool(bool),
    Num(Number),
    Date(NaiveDate),
    Text(String),
    Enum(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Age,
    DaysBetween,
    IsNull,
    ExistsValue,
    Coalesce,
    If,
    Min,
    Max,
    Abs,
    Round(u32),
    CitizenIdValid,
    CitizenIdBirthDate,
    CitizenIdSex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CollFunc {
    Count,
    Exists,
    Any,
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub span: Span,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Const(Const),
    RefDate,
    Root,
    Binding(usize),
    Agg(&'static str),
    Field(Box<Node>, FieldId),
    Neg(Box<Node>),
    Not(Box<Node>),
    Arith(BinOp, Box<Node>, Box<Node>),
    Cmp(BinOp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Between(Box<Node>, Box<Node>, Box<Node>),
    In(Box<Node>, Vec<Node>),
    Call(Func, Vec<Node>),
    Coll { func: CollFunc, source: Box<Node>, filter: Option<Box<Node>> },
}

/// A parsed and type-checked expression, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(crate) source: String,
    pub(crate) scope: Scope,
    pub(crate) node: Node,
}

impl Expr {
    /// Parses and type-checks `source` in `scope`. Errors carry the 1-based line and column in
    /// `source` (see [`RuleError`]).
    pub fn parse(source: &str, scope: Scope) -> Result<Expr, RuleError> {
        let ast = syntax::parse(source)?;
        let mut c = Checker { src: source, scope, bindings: Vec::new() };
        let node = c.check(&ast)?;
        if !node.ty.is_scalar() {
            let hint = if let Type::List(_) = node.ty { "; 集合请用 count/exists/any/all" } else { "" };
            let msg = format!("表达式的结果应为单个值, 实际是{}{hint} (an expression must produce a value)", node.ty);
            return Err(RuleError::at(source, node.span, msg));
        }
        Ok(Expr { source: source.to_string(), scope, node })
    }

    /// Like [`Expr::parse`], and the result must have type `want` (Int is accepted for Number,
    /// and an optional value for its base type).
    pub fn parse_as(source: &str, scope: Scope, want: &Type) -> Result<Expr, RuleError> {
        let e = Expr::parse(source, scope)?;
        let ok = match (want, e.ty().base()) {
            (Type::Number, t) => matches!(t, Type::Int | Type::Number),
            (w, t) => w == t,
        };
        if !ok {
            let msg = format!("表达式应为{want}, 实际是{} (expected {want:?}, found {:?})", e.ty(), e.ty());
            return Err(RuleError::at(source, e.node.span, msg));
        }
        Ok(e)
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The scope it was checked in.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Its type.
    pub fn ty(&self) -> &Type {
        &self.node.ty
    }
}

struct Checker<'s> {
    src: &'s str,
    scope: Scope,
    /// Collection records in scope, outermost first: (alias, kind).
    bindings: Vec<(Option<String>, RecordKind)>,
}

fn b(n: Node) -> Box<Node> {
    Box::new(n)
}

fn list_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn did_you_mean<'a>(name: &str, options: impl Iterator<Item = &'a str>) -> String {
    // Close in spelling, or a prefix of the intended name (`population_avg`).
    let best =
        options.map(|o| (edit_distance(name, o), o)).filter(|(d, o)| *d <= 2 || (name.chars().count() >= 4 && is_subsequence(name, o))).min_by_key(|(d, _)| *d);
    match best {
        Some((_, o)) => format!("; 是否应为 `{o}`? (did you mean `{o}`?)"),
        None => String::new(),
    }
}

/// True when the characters of `short` appear in `long` in order (an abbreviation).
fn is_subsequence(short: &str, long: &str) -> bool {
    let mut it = long.chars();
    short.chars().all(|c| it.any(|l| l == c))
}

/// The type both `a` and `b` can be compared as / unified into, if any.
fn unify(a: &Type, b: &Type) -> Option<Type> {
    let opt = a.is_optional() || b.is_optional();
    let t = match (a.base(), b.base()) {
        (Type::Null, Type::Null) => return Some(Type::Null),
        (Type::Null, t) | (t, Type::Null) => return Some(t.clone().optional()),
        (Type::Int, Type::Int) => Type::Int,
        (Type::Int | Type::Number, Type::Int | Type::Number) => Type::Number,
        (x, y) if x == y => x.clone(),
        _ => return None,
    };
    Some(t.optional_if(opt))
}

impl<'s> Checker<'s> {
    fn err(&self, span: Span, msg: impl Into<String>) -> RuleError {
        RuleError::at(self.src, span, msg)
    }
    fn text(&self, span: Span) -> &'s str {
        &self.src[span.start..span.end]
    }
    fn node(kind: NodeKind, span: Span, ty: Type) -> Node {
        Node { kind, span, ty }
    }

    fn check(&mut self, a: &Ast) -> Result<Node, RuleError> {
        let span = a.span;
        Ok(match &a.kind {
            AstKind::Int(i) => Self::node(NodeKind::Const(Const::Num(Number::int(*i))), span, Type::Int),
            AstKind::Dec(n) => Self::node(NodeKind::Const(Const::Num(*n)), span, Type::Number),
            AstKind::Str(s) => Self::node(NodeKind::Const(Const::Text(s.clone())), span, Type::Text),
            AstKind::Bool(v) => Self::node(NodeKind::Const(Const::Bool(*v)), span, Type::Bool),
            AstKind::Null => Self::node(NodeKind::Const(Const::Null), span, Type::Null),
            AstKind::Ident(name) => self.ident(name, span)?,
            AstKind::Field(obj, name, name_span) => {
                let o = self.check(obj)?;
                self.field(o, name, *name_span, span)?
            }
            AstKind::Neg(x) => {
                let x = self.check(x)?;
                if !x.ty.is_numeric() {
                    return Err(self.err(x.span, format!("负号需要数值, 实际是{} (negation needs a number)", x.ty)));
                }
                let ty = x.ty.clone();
                Self::node(NodeKind::Neg(b(x)), span, ty)
            }
            AstKind::Not(x) => {
                let x = self.check(x)?;
                self.want_bool(&x, "not")?;
                let ty = Type::Bool.optional_if(x.ty.is_optional());
                Self::node(NodeKind::Not(b(x)), span, ty)
            }
            AstKind::Binary(op, l, r) => {
                let l = self.check(l)?;
                let r = self.check(r)?;
                self.binary(*op, l, r, span)?
            }
            AstKind::Between { x, lo, hi, negated } => {
                let x = self.check(x)?;
                let lo = self.check(lo)?;
                let hi = self.check(hi)?;
                for y in [&lo, &hi] {
                    self.ordered(&x, y, "between")?;
                }
                let opt = x.ty.is_optional() || lo.ty.is_optional() || hi.ty.is_optional();
                let n = Self::node(NodeKind::Between(b(x), b(lo), b(hi)), span, Type::Bool.optional_if(opt));
                self.negate_if(n, *negated)?
            }
            AstKind::In { x, items, negated } => {
                let x = self.check(x)?;
                if !x.ty.is_scalar() {
                    return Err(self.err(x.span, format!("in 左边应为单个值, 实际是{} (in needs a single value)", x.ty)));
                }
                let mut nodes = Vec::new();
                for it in items {
                    let n = self.check(it)?;
                    if matches!(n.ty, Type::Null) || unify(&x.ty, &n.ty).is_none() {
                        return Err(self.err(n.span, format!("列表元素是{}, 与左边的{}不一致 (list item type differs)", n.ty, x.ty)));
                    }
                    nodes.push(n);
                }
                let ty = Type::Bool.optional_if(x.ty.is_optional());
                let n = Self::node(NodeKind::In(b(x), nodes), span, ty);
                self.negate_if(n, *negated)?
            }
            AstKind::Call { name, name_span, args } => self.call(name, *name_span, args, span)?,
        })
    }

    fn negate_if(&self, n: Node, negated: bool) -> Result<Node, RuleError> {
        if !negated {
            return Ok(n);
        }
        let (span, ty) = (n.span, n.ty.clone());
        Ok(Self::node(NodeKind::Not(b(n)), span, ty))
    }

    fn want_bool(&self, x: &Node, what: &str) -> Result<(), RuleError> {
        if matches!(x.ty.base(), Type::Bool) {
            Ok(())
        } else {
            Err(self.err(x.span, format!("{what} 需要条件 (布尔值), 实际是{} ({what} needs a boolean)", x.ty)))
        }
    }

    fn ordered(&self, x: &Node, y: &Node, op: &str) -> Result<(), RuleError> {
        let ok = (x.ty.is_numeric() && y.ty.is_numeric()) || (matches!(x.ty.base(), Type::Date) && matches!(y.ty.base(), Type::Date));
        if ok {
            return Ok(());
        }
        let orderable = |t: &Type| t.is_numeric() || matches!(t.base(), Type::Date);
        if !orderable(&x.ty) && !matches!(x.ty, Type::Null) {
            let hint = if let Type::List(_) = x.ty { "; 集合请用 count(…)" } else { "" };
            return Err(self.err(x.span, format!("`{op}` 只能比较数值或日期, 这里是{}{hint} (only numbers or dates can be ordered)", x.ty)));
        }
        if matches!(y.ty, Type::Null) || matches!(x.ty, Type::Null) {
            return Err(self.err(y.span, "不能与 null 比较大小, 请用 is_null(x) (cannot order null; use is_null)"));
        }
        Err(self.err(y.span, format!("`{op}` 两边类型不一致: {} 与 {} (only numbers or dates can be ordered, and both sides alike)", x.ty, y.ty)))
    }

    fn binary(&self, op: BinOp, l: Node, r: Node, span: Span) -> Result<Node, RuleError> {
        let opt = l.ty.is_optional() || r.ty.is_optional();
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                for x in [&l, &r] {
                    if !x.ty.is_numeric() {
                        let hint = if matches!(x.ty.base(), Type::Date) { "; 日期相减请用 days_between(a, b)" } else { "" };
                        return Err(self.err(x.span, format!("`{}` 需要数值, 这里是{}{hint} (arithmetic needs numbers)", op.symbol(), x.ty)));
                    }
                }
                let int = matches!((l.ty.base(), r.ty.base()), (Type::Int, Type::Int)) && op != BinOp::Div;
                let ty = if int { Type::Int } else { Type::Number }.optional_if(opt);
                Ok(Self::node(NodeKind::Arith(op, b(l), b(r)), span, ty))
            }
            BinOp::Eq | BinOp::Ne => {
                for x in [&l, &r] {
                    if matches!(x.ty, Type::Null) {
                        return Err(self.err(x.span, "不能用 == null 判断缺失, 请用 is_null(x) (use is_null(x) to test for a missing value)"));
                    }
                    if !x.ty.is_scalar() {
                        return Err(self.err(x.span, format!("`{}` 不能比较{} (cannot compare a {})", op.symbol(), x.ty, x.ty)));
                    }
                }
                if unify(&l.ty, &r.ty).is_none() {
                    return Err(self.err(r.span, format!("`{}` 两边类型不一致: {} 与 {} (type mismatch)", op.symbol(), l.ty, r.ty)));
                }
                Ok(Self::node(NodeKind::Cmp(op, b(l), b(r)), span, Type::Bool.optional_if(opt)))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.ordered(&l, &r, op.symbol())?;
                Ok(Self::node(NodeKind::Cmp(op, b(l), b(r)), span, Type::Bool.optional_if(opt)))
            }
            BinOp::And | BinOp::Or => {
                self.want_bool(&l, op.symbol())?;
                self.want_bool(&r, op.symbol())?;
                let kind = if op == BinOp::And { NodeKind::And(b(l), b(r)) } else { NodeKind::Or(b(l), b(r)) };
                Ok(Self::node(kind, span, Type::Bool.optional_if(opt)))
            }
        }
    }

    fn ident(&self, name: &str, span: Span) -> Result<Node, RuleError> {
        if self.scope == Scope::Aggregate {
            if let Some((key, ty)) = aggregate_identifiers().find(|(k, _)| *k == name) {
                return Ok(Self::node(NodeKind::Agg(key), span, ty));
            }
            let keys: Vec<&str> = aggregate_identifiers().map(|(k, _)| k).collect();
            let hint = did_you_mean(name, keys.iter().copied());
            return Err(self.err(span, format!("未知指标 `{name}` (unknown statistic){hint}, 可选: {}", list_names(keys.iter().copied()))));
        }
        for (i, (alias, kind)) in self.bindings.iter().enumerate().rev() {
            if alias.as_deref() == Some(name) {
                return Ok(Self::node(NodeKind::Binding(i), span, Type::Record(*kind)));
            }
        }
        for (i, (_, kind)) in self.bindings.iter().enumerate().rev() {
            if let Some(f) = record_fields(*kind).iter().find(|f| f.0 == name) {
                let obj = Self::node(NodeKind::Binding(i), span, Type::Record(*kind));
                return Ok(Self::node(NodeKind::Field(b(obj), f.2), span, (f.1)()));
            }
        }
        if let Some(f) = PERSON_FIELDS.iter().find(|f| f.0 == name) {
            let obj = Self::node(NodeKind::Root, span, Type::Person);
            return Ok(Self::node(NodeKind::Field(b(obj), f.2), span, (f.1)()));
        }
        match name {
            "person" => return Ok(Self::node(NodeKind::Root, span, Type::Person)),
            "ref_date" => return Ok(Self::node(NodeKind::RefDate, span, Type::Date)),
            _ => {}
        }
        if let Some((kind, canon)) = enum_constant(name) {
            return Ok(Self::node(NodeKind::Const(Const::Enum(canon)), span, Type::Enum(kind)));
        }
        let mut options: Vec<&str> = Vec::new();
        for (alias, kind) in self.bindings.iter().rev() {
            options.extend(alias.as_deref());
            options.extend(record_fields(*kind).iter().map(|f| f.0));
        }
        options.extend(["person", "ref_date"]);
        options.extend(PERSON_FIELDS.iter().map(|f| f.0));
        let mut seen = std::collections::HashSet::new();
        options.retain(|o| seen.insert(*o));
        let hint = did_you_mean(name, options.iter().copied().chain(super::types::ENUM_CONSTANTS.iter().map(|c| c.0)));
        Err(self.err(span, format!("未知名称 `{name}` (unknown identifier){hint}, 可选: {}", list_names(options.into_iter()))))
    }

    fn field(&self, obj: Node, name: &str, name_span: Span, span: Span) -> Result<Node, RuleError> {
        let fields: &[FieldDef] = match obj.ty.base() {
            Type::Person => PERSON_FIELDS,
            Type::Record(k) => record_fields(*k),
            Type::List(k) => {
                return Err(self.err(
                    name_span,
                    format!("`{}` 是{}列表, 没有字段; 请用 count/any/all(… where …) (a list has no fields)", self.text(obj.span), k.name_zh()),
                ))
            }
            t => return Err(self.err(name_span, format!("`{}` 是{t}, 没有字段 `{name}` (not a record)", self.text(obj.span)))),
        };
        let Some(f) = fields.iter().find(|f| f.0 == name) else {
            let hint = did_you_mean(name, fields.iter().map(|f| f.0));
            return Err(
                self.err(name_span, format!("未知字段 {}.{name} (unknown field){hint}, 可选: {}", self.text(obj.span), list_names(fields.iter().map(|f| f.0))))
            );
        };
        let ty = (f.1)().optional_if(obj.ty.is_optional());
        Ok(Self::node(NodeKind::Field(b(obj), f.2), span, ty))
    }

    fn arity(&self, name: &str, span: Span, args: &[Arg], min: usize, max: usize) -> Result<(), RuleError> {
        let n = args.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("至少 {min}")
            } else {
                format!("{min}–{max}")
            };
            return Err(self.err(span, format!("函数 {name} 需要 {want} 个参数, 实际 {n} 个 (wrong number of arguments)")));
        }
        Ok(())
    }

    fn plain_args(&mut self, name: &str, args: &[Arg]) -> Result<Vec<Node>, RuleError> {
        args.iter()
            .map(|a| match a {
                Arg::Expr(e) => self.check(e),
                Arg::Where { span, .. } => {
                    Err(self.err(*span, format!("函数 {name} 的参数不能用 as/where, 只有 count/exists/any/all 可以 (where only in collection functions)")))
                }
            })
            .collect()
    }

    fn call(&mut self, name: &str, name_span: Span, args: &[Arg], span: Span) -> Result<Node, RuleError> {
        let node = |f: Func, args: Vec<Node>, ty: Type| Node { kind: NodeKind::Call(f, args), span, ty };
        let person_only = |c: &Self| {
            if c.scope == Scope::Aggregate {
                Err(c.err(name_span, format!("函数 {name} 只能用于人员规则 (person rules only)")))
            } else {
                Ok(())
            }
        };
        match name {
            "count" | "exists" | "any" | "all" => {
                self.arity(name, span, args, 1, 1)?;
                let func = match name {
                    "count" => CollFunc::Count,
                    "exists" => CollFunc::Exists,
                    "any" => CollFunc::Any,
                    _ => CollFunc::All,
                };
                let ty = if func == CollFunc::Count { Type::Int } else { Type::Bool };
                match &args[0] {
                    Arg::Expr(e) => {
                        let x = self.check(e)?;
                        if let Type::List(_) = x.ty {
                            if func == CollFunc::All {
                                return Err(self.err(x.span, "all 需要条件: all(集合 where 条件) (all needs a where clause)"));
                            }
                            return Ok(Node { kind: NodeKind::Coll { func, source: b(x), filter: None }, span, ty });
                        }
                        if func == CollFunc::Exists {
                            return Ok(node(Func::ExistsValue, vec![x], Type::Bool));
                        }
                        Err(self.err(x.span, format!("{name} 需要集合 (如 children), 实际是{} ({name} needs a collection)", x.ty)))
                    }
                    Arg::Where { source, alias, filter, .. } => {
                        let src = self.check(source)?;
                        let Type::List(kind) = src.ty else {
                            return Err(self.err(src.span, format!("where 前应为集合 (如 children), 实际是{} (where needs a collection)", src.ty)));
                        };
                        if self.bindings.len() >= MAX_COLLECTION_DEPTH {
                            return Err(
                                self.err(src.span, format!("集合嵌套超过 {MAX_COLLECTION_DEPTH} 层 (collections nested deeper than {MAX_COLLECTION_DEPTH})"))
                            );
                        }
                        if let Some((a, aspan)) = alias {
                            let taken = PERSON_FIELDS.iter().any(|f| f.0 == a)
                                || ["person", "ref_date"].contains(&a.as_str())
                                || self.bindings.iter().any(|(x, _)| x.as_deref() == Some(a.as_str()));
                            if taken {
                                return Err(self.err(*aspan, format!("名称 `{a}` 已被占用, 请换一个 (name already in use)")));
                            }
                        }
                        self.bindings.push((alias.as_ref().map(|a| a.0.clone()), kind));
                        let f = filter.as_ref().map(|f| self.check(f)).transpose();
                        self.bindings.pop();
                        let f = f?;
                        if let Some(f) = &f {
                            self.want_bool(f, "where")?;
                        }
                        if func == CollFunc::All && f.is_none() {
                            return Err(self.err(src.span, "all 需要条件: all(集合 where 条件) (all needs a where clause)"));
                        }
                        Ok(Node { kind: NodeKind::Coll { func, source: b(src), filter: f.map(b) }, span, ty })
                    }
                }
            }
            "date" => {
                self.arity(name, span, args, 1, 1)?;
                match &args[0] {
                    Arg::Expr(Ast { kind: AstKind::Str(s), span: sspan }) => {
                        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                            .map_err(|_| self.err(*sspan, format!("日期 \"{s}\" 无效, 格式应为 \"YYYY-MM-DD\" (invalid date)")))?;
                        Ok(Node { kind: NodeKind::Const(Const::Date(d)), span, ty: Type::Date })
                    }
                    a => Err(self.err(a.span(), "date 的参数应为日期字符串, 如 date(\"2014-06-30\") (date needs a literal)")),
                }
            }
            "round" => {
                self.arity(name, span, args, 2, 2)?;
                let x = self.plain_args(name, &args[..1])?.remove(0);
                if !x.ty.is_numeric() {
                    return Err(self.err(x.span, format!("round 需要数值, 实际是{} (round needs a number)", x.ty)));
                }
                let digits = match &args[1] {
                    Arg::Expr(Ast { kind: AstKind::Int(d), .. }) if (0..=9).contains(d) => *d as u32,
                    a => return Err(self.err(a.span(), "round 的位数应为 0 到 9 的整数 (digits must be 0..9)")),
                };
                let ty = Type::Number.optional_if(x.ty.is_optional());
                Ok(node(Func::Round(digits), vec![x], ty))
            }
            "age" | "days_between" => {
                self.arity(name, span, args, 2, 2)?;
                if name == "age" {
                    person_only(self)?;
                }
                let a = self.plain_args(name, args)?;
                if name == "age" {
                    let ok = matches!(a[0].ty.base(), Type::Person | Type::Record(RecordKind::Relative) | Type::Record(RecordKind::Birth) | Type::Date);
                    if !ok {
                        return Err(self.err(a[0].span, format!("age 的第1个参数应为人员或出生日期, 实际是{} (age needs a person or a date)", a[0].ty)));
                    }
                } else if !matches!(a[0].ty.base(), Type::Date) {
                    return Err(self.err(a[0].span, format!("days_between 的参数应为日期, 实际是{} (needs dates)", a[0].ty)));
                }
                if !matches!(a[1].ty.base(), Type::Date) {
                    return Err(self.err(a[1].span, format!("{name} 的第2个参数应为日期, 实际是{} (needs a date)", a[1].ty)));
                }
                let opt = a.iter().any(|x| x.ty.is_optional()) || matches!(a[0].ty.base(), Type::Record(RecordKind::Relative));
                let f = if name == "age" { Func::Age } else { Func::DaysBetween };
                Ok(node(f, a, Type::Int.optional_if(opt)))
            }
            "is_null" => {
                self.arity(name, span, args, 1, 1)?;
                let a = self.plain_args(name, args)?;
                Ok(node(Func::IsNull, a, Type::Bool))
            }
            "abs" => {
                self.arity(name, span, args, 1, 1)?;
                let a = self.plain_args(name, args)?;
                if !a[0].ty.is_numeric() {
                    return Err(self.err(a[0].span, format!("abs 需要数值, 实际是{} (abs needs a number)", a[0].ty)));
                }
                let ty = a[0].ty.clone();
                Ok(node(Func::Abs, a, ty))
            }
            "coalesce" | "min" | "max" => {
                self.arity(name, span, args, 2, usize::MAX)?;
                let a = self.plain_args(name, args)?;
                let mut ty = a[0].ty.clone();
                for x in &a[1..] {
                    ty =
                        unify(&ty, &x.ty).ok_or_else(|| self.err(x.span, format!("{name} 的参数类型不一致: {} 与 {} (arguments differ in type)", ty, x.ty)))?;
                }
                if !ty.is_scalar() {
                    return Err(self.err(span, format!("{name} 的参数应为单个值 (needs values)")));
                }
                let all_opt = a.iter().all(|x| x.ty.is_optional());
                let base = ty.base().clone();
                if name != "coalesce" && !matches!(base, Type::Int | Type::Number | Type::Date) {
                    return Err(self.err(span, format!("{name} 需要数值或日期, 实际是{ty} (needs numbers or dates)")));
                }
                let f = match name {
                    "coalesce" => Func::Coalesce,
                    "min" => Func::Min,
                    _ => Func::Max,
                };
                let ty = if matches!(base, Type::Null) { Type::Null } else { base.optional_if(all_opt) };
                Ok(node(f, a, ty))
            }
            "if" => {
                self.arity(name, span, args, 3, 3)?;
                let a = self.plain_args(name, args)?;
                self.want_bool(&a[0], "if")?;
                let ty = unify(&a[1].ty, &a[2].ty)
                    .ok_or_else(|| self.err(a[2].span, format!("if 的两个结果类型不一致: {} 与 {} (branches differ in type)", a[1].ty, a[2].ty)))?;
                let ty = ty.optional_if(a[0].ty.is_optional());
                Ok(node(Func::If, a, ty))
            }
            "citizen_id_valid" | "citizen_id_birth_date" | "citizen_id_sex" => {
                self.arity(name, span, args, 1, 1)?;
                person_only(self)?;
                let a = self.plain_args(name, args)?;
                if !matches!(a[0].ty.base(), Type::Text) {
                    return Err(self.err(a[0].span, format!("{name} 需要文本 (号码), 实际是{} (needs text)", a[0].ty)));
                }
                let (f, ty) = match name {
                    "citizen_id_valid" => (Func::CitizenIdValid, Type::Bool.optional_if(a[0].ty.is_optional())),
                    "citizen_id_birth_date" => (Func::CitizenIdBirthDate, Type::Date.optional()),
                    _ => (Func::CitizenIdSex, Type::Enum(EnumKind::Sex).optional()),
                };
                Ok(node(f, a, ty))
            }
            _ => {
                let hint = did_you_mean(name, FUNCTIONS.iter().map(|f| f.0));
                Err(self.err(name_span, format!("未知函数 `{name}` (unknown function){hint}, 可选: {}", list_names(FUNCTIONS.iter().map(|f| f.0)))))
            }
        }
    }
}
