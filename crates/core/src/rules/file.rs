//! Rules and indicators from a TOML file. No I/O: the caller passes the text.
//!
//! ```toml
//! [[rule]]
//! id = "P001"
//! message_zh = "死亡日期早于出生日期"
//! importance = "error"            # error | warning (错误 | 警告)
//! scope = "person"                # person | aggregate
//! violation_when = "death_date < birth_date"
//!
//! [[rule]]
//! id = "A001"
//! message_zh = "男孩与女孩之和不等于出生人数"
//! importance = "error"
//! scope = "aggregate"
//! left = "births_male + births_female"
//! operator = "=="
//! right = "births"
//! missing_value_strategy = "never_skip"
//!
//! [[indicator]]
//! key = "crude_birth_rate"
//! name_zh = "人口出生率"
//! numerator = "births"
//! denominator = "population_average"
//! factor = 1000
//! precision = 1
//! ```
//! Every error (TOML syntax, unknown key, bad value, expression that does not parse or
//! type-check) has the line and column *in the file*, so an expression error points at the
//! character inside the quoted expression.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::compile::Scope;
use super::rule::{Importance, Indicator, IndicatorDef, MissingValueStrategy, Rule, RuleDef};
use super::{line_col, RuleError};

/// The rules and indicators of one file, all checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    /// Validation rules, in file order.
    pub rules: Vec<Rule>,
    /// Indicators, in file order.
    pub indicators: Vec<Indicator>,
}

type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    indicator: Vec<RawIndicator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: S,
    message_zh: S,
    importance: Option<S>,
    scope: Option<S>,
    left: Option<S>,
    operator: Option<S>,
    right: Option<S>,
    violation_when: Option<S>,
    missing_value_strategy: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    key: S,
    name_zh: S,
    numerator: S,
    denominator: Option<S>,
    factor: Spanned<i64>,
    precision: Spanned<u32>,
}

fn err_at(text: &str, offset: usize, message: String, id: Option<&str>, field: Option<&str>) -> RuleError {
    let (line, column) = line_col(text, offset);
    RuleError { line, column, offset, message, rule_id: id.map(Into::into), field: field.map(Into::into) }
}

/// Maps a byte offset in the decoded value of the TOML string at `span` to a byte offset in the
/// file. Literal strings (`'…'`, `'''…'''`) map one to one; basic strings are decoded here with
/// their escapes so that an offset after `\"` still lands on the right character.
fn file_offset(text: &str, span: &Range<usize>, value: &str, offset: usize) -> usize {
    let raw = &text[span.clone()];
    let (delim, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else {
        (1, false)
    };
    if raw.len() < 2 * delim {
        return span.start;
    }
    let mut start = span.start + delim;
    let mut body = &raw[delim..raw.len() - delim];
    if delim == 3 {
        // A newline right after the opening delimiter is trimmed.
        if let Some(rest) = body.strip_prefix("\r\n") {
            body = rest;
            start += 2;
        } else if let Some(rest) = body.strip_prefix('\n') {
            body = rest;
            start += 1;
        }
    }
    if literal || body == value {
        return start + offset.min(body.len());
    }
    // Decode a basic string, remembering where each decoded byte came from.
    let mut map: Vec<usize> = Vec::with_capacity(value.len() + 1);
    let mut decoded = String::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let raw_at = i;
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = b[i + 1];
            let (out, used): (Option<char>, usize) = match c {
                b'n' => (Some('\n'), 2),
                b't' => (Some('\t'), 2),
                b'r' => (Some('\r'), 2),
                b'b' => (Some('\u{8}'), 2),
                b'f' => (Some('\u{c}'), 2),
                b'"' => (Some('"'), 2),
                b'\\' => (Some('\\'), 2),
                b'u' | b'U' => {
                    let n = if c == b'u' { 4 } else { 8 };
                    let ch = body.get(i + 2..i + 2 + n).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
                    (ch, 2 + n)
                }
                b' ' | b'\t' | b'\n' | b'\r' => {
                    // Line-ending backslash: skip all whitespace.
                    let mut j = i + 1;
                    while j < b.len() && (b[j] as char).is_ascii_whitespace() {
                        j += 1;
                    }
                    (None, j - i)
                }
                _ => (None, 2),
            };
            if let Some(ch) = out {
                for _ in 0..ch.len_utf8() {
                    map.push(start + raw_at);
                }
                decoded.push(ch);
            }
            i += used;
        } else {
            let Some(ch) = body.get(i..).and_then(|r| r.chars().next()) else {
                i += 1;
                continue;
            };
            for k in 0..ch.len_utf8() {
                map.push(start + raw_at + k);
            }
            decoded.push(ch);
            i += ch.len_utf8();
        }
    }
    map.push(start + body.len());
    if decoded != value {
        return span.start;
    }
    map[offset.min(map.len() - 1)]
}

fn relocate(text: &str, s: &S, mut e: RuleError) -> RuleError {
    let off = file_offset(text, &s.span(), s.get_ref(), e.offset);
    let (line, column) = line_col(text, off);
    e.line = line;
    e.column = column;
    e.offset = off;
    e
}

fn parse_rule(text: &str, r: &RawRule) -> Result<Rule, RuleError> {
    let id = r.id.get_ref().as_str();
    let bad = |s: &S, field: &str, msg: String| err_at(text, s.span().start, msg, Some(id), Some(field));
    let importance = match &r.importance {
        None => Importance::Error,
        Some(s) => Importance::parse(s.get_ref())
            .ok_or_else(|| bad(s, "importance", format!("未知重要性 `{}` (unknown importance), 可选: error, warning", s.get_ref())))?,
    };
    let scope = match &r.scope {
        None => Scope::Person,
        Some(s) => match s.get_ref().trim() {
            "person" | "人员" => Scope::Person,
            "aggregate" | "汇总" => Scope::Aggregate,
            other => return Err(bad(s, "scope", format!("未知范围 `{other}` (unknown scope), 可选: person, aggregate"))),
        },
    };
    let missing_value_strategy = match &r.missing_value_strategy {
        None => MissingValueStrategy::default(),
        Some(s) => MissingValueStrategy::parse(s.get_ref()).ok_or_else(|| {
            bad(
                s,
                "missing_value_strategy",
                format!(
                    "未知缺失值策略 `{}` (unknown missing-value strategy), 可选: skip_if_any_value_missing, skip_if_all_values_missing, never_skip",
                    s.get_ref()
                ),
            )
        })?,
    };
    let get = |o: &Option<S>| o.as_ref().map(|s| s.get_ref().clone());
    let def = RuleDef {
        id: id.to_string(),
        message_zh: r.message_zh.get_ref().clone(),
        importance,
        scope,
        left: get(&r.left),
        operator: get(&r.operator),
        right: get(&r.right),
        violation_when: get(&r.violation_when),
        missing_value_strategy,
    };
    Rule::compile(&def).map_err(|e| {
        let field = e.field.clone().unwrap_or_default();
        let source = match field.as_str() {
            "left" => r.left.as_ref(),
            "right" => r.right.as_ref(),
            "violation_when" => r.violation_when.as_ref(),
            "operator" => r.operator.as_ref(),
            "message_zh" => Some(&r.message_zh),
            _ => None,
        };
        match source {
            Some(s) if field != "operator" && field != "message_zh" => relocate(text, s, e),
            Some(s) => {
                let (line, column) = line_col(text, s.span().start);
                RuleError { line, column, offset: s.span().start, ..e }
            }
            None => {
                // A missing field: point at the rule's id.
                let (line, column) = line_col(text, r.id.span().start);
                RuleError { line, column, offset: r.id.span().start, ..e }
            }
        }
    })
}

fn parse_indicator(text: &str, r: &RawIndicator) -> Result<Indicator, RuleError> {
    let def = IndicatorDef {
        key: r.key.get_ref().clone(),
        name_zh: r.name_zh.get_ref().clone(),
        numerator: r.numerator.get_ref().clone(),
        denominator: r.denominator.as_ref().map(|s| s.get_ref().clone()),
        factor: *r.factor.get_ref(),
        precision: *r.precision.get_ref(),
    };
    Indicator::compile(&def).map_err(|e| {
        let at = |start: usize, e: RuleError| {
            let (line, column) = line_col(text, start);
            RuleError { line, column, offset: start, ..e }
        };
        match e.field.as_deref() {
            Some("numerator") => relocate(text, &r.numerator, e),
            Some("denominator") => match &r.denominator {
                Some(d) => relocate(text, d, e),
                None => at(r.key.span().start, e),
            },
            Some("factor") => at(r.factor.span().start, e),
            Some("precision") => at(r.precision.span().start, e),
            _ => at(r.key.span().start, e),
        }
    })
}

/// Parses a rules file (TOML: `[[rule]]` and `[[indicator]]` tables, see the module
/// documentation). All or nothing: when any rule or indicator is refused, returns every error
/// found (one per bad rule), each with its line and column in `text`. Rule ids and indicator
/// keys must be unique in the file.
pub fn parse_rules_toml(text: &str) -> Result<RuleSet, Vec<RuleError>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let off = e.span().map_or(0, |s| s.start);
        vec![err_at(text, off, format!("TOML 格式错误: {} (TOML syntax)", e.message().trim()), None, None)]
    })?;
    let mut set = RuleSet::default();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &raw.rule {
        if !seen.insert(r.id.get_ref().clone()) {
            let msg = format!("规则编号 {} 重复 (duplicate rule id)", r.id.get_ref());
            errors.push(err_at(text, r.id.span().start, msg, Some(r.id.get_ref()), Some("id")));
            continue;
        }
        match parse_rule(text, r) {
            Ok(rule) => set.rules.push(rule),
            Err(e) => errors.push(e),
        }
    }
    let mut keys = std::collections::HashSet::new();
    for r in &raw.indicator {
        if !keys.insert(r.key.get_ref().clone()) {
            let msg = format!("指标 {} 重复 (duplicate indicator key)", r.key.get_ref());
            errors.push(err_at(text, r.key.span().start, msg, Some(r.key.get_ref()), Some("key")));
            continue;
        }
        match parse_indicator(text, r) {
            Ok(i) => set.indicators.push(i),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}
