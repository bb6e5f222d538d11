//! Lexer and Pratt parser of the rule language (grammar in [`crate::rules`]).
//!
//! Produces an untyped syntax tree ([`Ast`]) whose every node carries its byte span in the
//! source, so that the type checker can report line and column.

use super::number::Number;
use super::{RuleError, Span};

/// Deepest nesting of parentheses, calls and operators the parser accepts (a guard against
/// pathological input, far above what a rule needs).
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i128),
    Dec(Number),
    Str(String),
    Ident(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Int(i) => format!("数字 {i}"),
            Tok::Dec(n) => format!("数字 {n}"),
            Tok::Str(s) => format!("字符串 \"{s}\""),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::EqEq => "`==`".into(),
            Tok::NotEq => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Eof => "表达式结尾 (end of expression)".into(),
        }
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Ident(s) if s == w)
    }
}

/// Reserved words: never identifiers.
pub const KEYWORDS: &[&str] = &["and", "or", "not", "in", "between", "where", "as", "true", "false", "null"];

pub(crate) fn lex(src: &str) -> Result<Vec<(Tok, Span)>, RuleError> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut it = src.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        if c == '#' {
            while let Some(&(_, c)) = it.peek() {
                if c == '\n' {
                    break;
                }
                it.next();
            }
            continue;
        }
        let one = |t: Tok| (t, Span::new(i, i + c.len_utf8()));
        let next_is = |b: u8| bytes.get(i + 1) == Some(&b);
        match c {
            '(' => {
                it.next();
                out.push(one(Tok::LParen));
            }
            ')' => {
                it.next();
                out.push(one(Tok::RParen));
            }
            '[' => {
                it.next();
                out.push(one(Tok::LBracket));
            }
            ']' => {
                it.next();
                out.push(one(Tok::RBracket));
            }
            ',' => {
                it.next();
                out.push(one(Tok::Comma));
            }
            '.' => {
                it.next();
                out.push(one(Tok::Dot));
            }
            '+' => {
                it.next();
                out.push(one(Tok::Plus));
            }
            '-' => {
                it.next();
                out.push(one(Tok::Minus));
            }
            '*' => {
                it.next();
                out.push(one(Tok::Star));
            }
            '/' => {
                it.next();
                out.push(one(Tok::Slash));
            }
            '=' | '!' | '<' | '>' => {
                it.next();
                let two = next_is(b'=');
                if two {
                    it.next();
                }
                let span = Span::new(i, i + if two { 2 } else { 1 });
                let tok = match (c, two) {
                    ('=', true) => Tok::EqEq,
                    ('!', true) => Tok::NotEq,
                    ('<', true) => Tok::Le,
                    ('>', true) => Tok::Ge,
                    ('<', false) => Tok::Lt,
                    ('>', false) => Tok::Gt,
                    ('=', false) => return Err(RuleError::at(src, span, "单个等号 `=` 无效, 比较相等请用 `==` (use == to compare)")),
                    _ => return Err(RuleError::at(src, span, "`!` 无效, 取反请用 `not`, 不等请用 `!=` (use `not` or `!=`)")),
                };
                out.push((tok, span));
            }
            '"' | '\'' => {
                it.next();
                let quote = c;
                let mut s = String::new();
                let mut closed = false;
                while let Some((j, c)) = it.next() {
                    if c == quote {
                        closed = true;
                        out.push((Tok::Str(std::mem::take(&mut s)), Span::new(i, j + 1)));
                        break;
                    }
                    if c == '\\' {
                        match it.next() {
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, 't')) => s.push('\t'),
                            Some((_, c @ ('\\' | '"' | '\''))) => s.push(c),
                            Some((k, c)) => return Err(RuleError::at(src, Span::new(j, k + c.len_utf8()), format!("未知转义 \\{c} (unknown escape)"))),
                            None => break,
                        }
                    } else {
                        s.push(c);
                    }
                }
                if !closed {
                    return Err(RuleError::at(src, Span::new(i, i + 1), "字符串没有结束引号 (unterminated string)"));
                }
            }
            c if c.is_ascii_digit() => {
                let mut end = i;
                let mut dot = false;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_ascii_digit() {
                        end = j + 1;
                        it.next();
                    } else if c == '.' && !dot && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
                        dot = true;
                        end = j + 1;
                        it.next();
                    } else {
                        break;
                    }
                }
                let text = &src[i..end];
                let span = Span::new(i, end);
                if let Some(&(j, c)) = it.peek() {
                    if c.is_alphabetic() || c == '_' {
                        return Err(RuleError::at(src, Span::new(i, j + c.len_utf8()), format!("数字后不能紧跟字母 `{c}` (letter after number)")));
                    }
                }
                let tok = if dot {
                    Tok::Dec(Number::parse_decimal(text).ok_or_else(|| RuleError::at(src, span, "数字太大 (number too large)"))?)
                } else {
                    Tok::Int(text.parse().map_err(|_| RuleError::at(src, span, "数字太大 (number too large)"))?)
                };
                out.push((tok, span));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = i;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        end = j + c.len_utf8();
                        it.next();
                    } else {
                        break;
                    }
                }
                out.push((Tok::Ident(src[i..end].to_string()), Span::new(i, end)));
            }
            _ => {
                let span = Span::new(i, i + c.len_utf8());
                let hint = match c {
                    '（' => "全角括号 `（`, 请改为半角 `(` (full-width parenthesis)".to_string(),
                    '）' => "全角括号 `）`, 请改为半角 `)` (full-width parenthesis)".to_string(),
                    '，' => "全角逗号 `，`, 请改为半角 `,` (full-width comma)".to_string(),
                    '“' | '”' => "中文引号, 请改为半角 `\"` (full-width quotation mark)".to_string(),
                    '＝' => "全角等号, 请用 `==` (full-width equals sign)".to_string(),
                    '&' | '|' => format!("`{c}` 无效, 请用 and / or (use and / or)"),
                    _ => format!("无法识别的字符 `{c}` (unexpected character)"),
                };
                return Err(RuleError::at(src, span, hint));
            }
        }
    }
    out.push((Tok::Eof, Span::new(src.len(), src.len())));
    Ok(out)
}

/// Binary operators of the syntax tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

/// A function argument: a plain expression, or a collection with an optional alias and filter
/// (`children as c where c.birth_order >= 2`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Expr(Ast),
    Where { source: Ast, alias: Option<(String, Span)>, filter: Option<Box<Ast>>, span: Span },
}

impl Arg {
    pub(crate) fn span(&self) -> Span {
        match self {
            Arg::Expr(a) => a.span,
            Arg::Where { span, .. } => *span,
        }
    }
}

/// A node of the untyped syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub kind: AstKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AstKind {
    Int(i128),
    Dec(Number),
    Str(String),
    Bool(bool),
    Null,
    Ident(String),
    Field(Box<Ast>, String, Span),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    Between { x: Box<Ast>, lo: Box<Ast>, hi: Box<Ast>, negated: bool },
    In { x: Box<Ast>, items: Vec<Ast>, negated: bool },
    Call { name: String, name_span: Span, args: Vec<Arg> },
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
}

/// Parses a whole expression (the entire `src`).
pub(crate) fn parse(src: &str) -> Result<Ast, RuleError> {
    let toks = lex(src)?;
    if toks.len() == 1 {
        return Err(RuleError::at(src, Span::new(0, 0), "表达式为空 (empty expression)"));
    }
    let mut p = Parser { src, toks, pos: 0, depth: 0 };
    let ast = p.expr(0)?;
    let (t, span) = p.peek();
    if *t != Tok::Eof {
        let msg = format!("多余的 {} (unexpected token after the end of the expression)", t.describe());
        return Err(RuleError::at(src, span, msg));
    }
    Ok(ast)
}

// Binding powers (higher binds tighter).
const BP_OR: u8 = 1;
const BP_AND: u8 = 2;
const BP_NOT: u8 = 3;
const BP_CMP: u8 = 4;
const BP_ADD: u8 = 5;
const BP_MUL: u8 = 6;
const BP_NEG: u8 = 7;
const BP_DOT: u8 = 8;

impl<'s> Parser<'s> {
    fn peek(&self) -> (&Tok, Span) {
        let (t, s) = &self.toks[self.pos];
        (t, *s)
    }
    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].0
    }
    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn err(&self, span: Span, msg: impl Into<String>) -> RuleError {
        RuleError::at(self.src, span, msg)
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<Span, RuleError> {
        let (t, span) = self.peek();
        if *t == want {
            Ok(self.bump().1)
        } else {
            Err(self.err(span, format!("此处应为 {what}, 却是 {} (expected {what})", t.describe())))
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Ast, RuleError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let span = self.peek().1;
            return Err(self.err(span, format!("表达式嵌套超过 {MAX_NESTING} 层 (expression nested too deeply)")));
        }
        let r = self.expr_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Ast, RuleError> {
        let mut lhs = self.prefix()?;
        let mut after_cmp = false;
        loop {
            let (t, op_span) = self.peek();
            let t = t.clone();
            // Postfix field access.
            if t == Tok::Dot {
                if BP_DOT < min_bp {
                    break;
                }
                self.bump();
                let (nt, nspan) = self.bump();
                let Tok::Ident(name) = nt else {
                    return Err(self.err(nspan, format!("`.` 后应为字段名, 却是 {} (expected a field name)", nt.describe())));
                };
                let span = lhs.span.to(nspan);
                lhs = Ast { kind: AstKind::Field(Box::new(lhs), name, nspan), span };
                continue;
            }
            let bin = match &t {
                Tok::Plus => Some((BinOp::Add, BP_ADD)),
                Tok::Minus => Some((BinOp::Sub, BP_ADD)),
                Tok::Star => Some((BinOp::Mul, BP_MUL)),
                Tok::Slash => Some((BinOp::Div, BP_MUL)),
                Tok::EqEq => Some((BinOp::Eq, BP_CMP)),
                Tok::NotEq => Some((BinOp::Ne, BP_CMP)),
                Tok::Lt => Some((BinOp::Lt, BP_CMP)),
                Tok::Le => Some((BinOp::Le, BP_CMP)),
                Tok::Gt => Some((BinOp::Gt, BP_CMP)),
                Tok::Ge => Some((BinOp::Ge, BP_CMP)),
                Tok::Ident(w) if w == "and" => Some((BinOp::And, BP_AND)),
                Tok::Ident(w) if w == "or" => Some((BinOp::Or, BP_OR)),
                _ => None,
            };
            let is_between = t.is_word("between") || (t.is_word("not") && self.peek2().is_word("between"));
            let is_in = t.is_word("in") || (t.is_word("not") && self.peek2().is_word("in"));
            let bp = match bin {
                Some((_, bp)) => bp,
                None if is_between || is_in => BP_CMP,
                None => break,
            };
            if bp < min_bp {
                break;
            }
            if bp == BP_CMP && after_cmp {
                return Err(self.err(op_span, "比较不能连写, 请用 and 连接或用 between (comparisons cannot be chained)"));
            }
            self.bump();
            if let Some((op, bp)) = bin {
                let rhs = self.expr(bp + 1)?;
                let span = lhs.span.to(rhs.span);
                lhs = Ast { kind: AstKind::Binary(op, Box::new(lhs), Box::new(rhs)), span };
            } else {
                let negated = t.is_word("not");
                if negated {
                    self.bump();
                }
                if is_between {
                    let lo = self.expr(BP_CMP + 1)?;
                    let (at, aspan) = self.peek();
                    if !at.is_word("and") {
                        let msg = format!("between 之后应为 `下限 and 上限`, 缺少 and, 却是 {} (expected `and` in between)", at.describe());
                        return Err(self.err(aspan, msg));
                    }
                    self.bump();
                    let hi = self.expr(BP_CMP + 1)?;
                    let span = lhs.span.to(hi.span);
                    lhs = Ast { kind: AstKind::Between { x: Box::new(lhs), lo: Box::new(lo), hi: Box::new(hi), negated }, span };
                } else {
                    self.expect(Tok::LBracket, "`[` (in 之后是列表, 如 in [1, 2]; a list after in)")?;
                    let mut items = Vec::new();
                    if self.peek().0 != &Tok::RBracket {
                        loop {
                            items.push(self.expr(0)?);
                            if self.peek().0 == &Tok::Comma {
                                self.bump();
                            } else {
                                break;
                            }
                        }
                    }
                    let end = self.expect(Tok::RBracket, "`]` 或 `,`")?;
                    let span = lhs.span.to(end);
                    lhs = Ast { kind: AstKind::In { x: Box::new(lhs), items, negated }, span };
                }
            }
            after_cmp = bp == BP_CMP;
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Ast, RuleError> {
        let (t, span) = self.bump();
        let kind = match t {
            Tok::Int(i) => AstKind::Int(i),
            Tok::Dec(n) => AstKind::Dec(n),
            Tok::Str(s) => AstKind::Str(s),
            Tok::Minus => {
                let e = self.expr(BP_NEG)?;
                let span = span.to(e.span);
                return Ok(Ast { kind: AstKind::Neg(Box::new(e)), span });
            }
            Tok::LParen => {
                let e = self.expr(0)?;
                let end = self.expect(Tok::RParen, "`)`")?;
                return Ok(Ast { kind: e.kind, span: span.to(end) });
            }
            Tok::Ident(w) => match w.as_str() {
                "true" => AstKind::Bool(true),
                "false" => AstKind::Bool(false),
                "null" => AstKind::Null,
                "not" => {
                    let e = self.expr(BP_NOT)?;
                    let span = span.to(e.span);
                    return Ok(Ast { kind: AstKind::Not(Box::new(e)), span });
                }
                k if KEYWORDS.contains(&k) => {
                    return Err(self.err(span, format!("此处不能用关键字 `{k}` (unexpected keyword)")));
                }
                _ => {
                    if self.peek().0 == &Tok::LParen {
                        self.bump();
                        let args = self.args()?;
                        let end = self.expect(Tok::RParen, "`)` 或 `,`")?;
                        return Ok(Ast { kind: AstKind::Call { name: w, name_span: span, args }, span: span.to(end) });
                    }
                    AstKind::Ident(w)
                }
            },
            other => {
                return Err(self.err(span, format!("此处应为值、名称或 `(`, 却是 {} (expected an operand)", other.describe())));
            }
        };
        Ok(Ast { kind, span })
    }

    fn args(&mut self) -> Result<Vec<Arg>, RuleError> {
        let mut args = Vec::new();
        if self.peek().0 == &Tok::RParen {
            return Ok(args);
        }
        loop {
            let e = self.expr(0)?;
            let (t, _) = self.peek();
            if t.is_word("as") || t.is_word("where") {
                let mut alias = None;
                let mut span = e.span;
                if t.is_word("as") {
                    self.bump();
                    let (nt, nspan) = self.bump();
                    match nt {
                        Tok::Ident(n) if !KEYWORDS.contains(&n.as_str()) => alias = Some((n, nspan)),
                        other => return Err(self.err(nspan, format!("as 之后应为名称, 却是 {} (expected a name after as)", other.describe()))),
                    }
                    span = span.to(nspan);
                }
                let mut filter = None;
                if self.peek().0.is_word("where") {
                    self.bump();
                    let f = self.expr(0)?;
                    span = span.to(f.span);
                    filter = Some(Box::new(f));
                }
                args.push(Arg::Where { source: e, alias, filter, span });
            } else {
                args.push(Arg::Expr(e));
            }
            if self.peek().0 == &Tok::Comma {
                self.bump();
            } else {
                return Ok(args);
            }
        }
    }
}
