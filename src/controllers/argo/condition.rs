//! `successCondition` / `failureCondition`: the part of Argo's expression language
//! (expr-lang/expr, as `utils/evaluate/evaluate.go` sets it up) that conditions over a
//! Prometheus result use, parsed once and evaluated per measurement.
//!
//! `result` is what the Prometheus provider hands over: a number for a scalar query, a list of
//! numbers for an instant vector (hence `result[0]`). Supported:
//!
//! - number literals (`0.95`, `1e-3`, `1_000`), `true`, `false`, `result`, parentheses;
//! - `result[i]` (a negative `i` counts from the end, as expr does);
//! - `<` `<=` `>` `>=` `==` `!=`, `&&` / `and`, `||` / `or`, `!` / `not`, `in`, `not in`,
//!   `+` `-` `*` `/` and unary `-`, with expr's precedences;
//! - `len(x)`, `isNaN(x)`, `isInf(x)`, `isNil(x)`, `default(x, d)`, `asInt(x)`, `asFloat(x)`;
//! - `all` / `any` / `none` / `one` `(list, {predicate over #})`.
//!
//! Anything else (strings, member access, `nil`, other functions, ternaries, `%`, `**`, ranges,
//! pipes, array or map literals) is refused at parse time with [`ConditionError::Unsupported`]
//! naming it, and a name other than `result` with [`ConditionError::UnknownName`] (upstream
//! compiles the expression at each measurement, so there every such condition makes every
//! measurement an `Error`).
//!
//! Semantics follow upstream: expr type-checks the expression against the actual `result`
//! before running it, so a type mismatch (`result < 0.5` on a vector, `isNaN(result)` on a
//! vector) is an error even in a branch `&&`/`||` would skip; evaluation short-circuits, so
//! `len(result) == 0 || result[0] < 0.5` is fine on an empty vector. An index out of range is
//! an error. Comparisons with NaN are false (`!=` is true). A non-boolean condition is an error.
//! `default(x, d)` and `isNil(x)` look at `result`, not at `x`, as upstream's do; a Prometheus
//! result is never nil, so `default` returns `result` and `isNil` is false. (Upstream types
//! `default`'s value only at run time, so a mismatch behind it is caught only when reached;
//! here it is always caught. `asInt`/`asFloat` of a list panic at run time upstream; here they
//! are type errors.)

use super::analysis::MeasurementPhase;
use std::fmt;

/// A measurement's value as the Prometheus provider returns it.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A scalar query (or a single number).
    Scalar(f64),
    /// An instant vector: one number per series, possibly none.
    Vector(Vec<f64>),
}

/// Why a condition cannot be used at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionError {
    /// Not an expression (`at` is a byte offset).
    Syntax { at: usize, message: String },
    /// Valid in expr, but not supported here.
    Unsupported { at: usize, what: String },
    /// A name expr would not know (upstream: every measurement errors).
    UnknownName { at: usize, name: String },
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionError::Syntax { at, message } => write!(f, "{message} (at character {})", at + 1),
            ConditionError::Unsupported { at, what } => {
                write!(f, "{what} is not supported in conditions (at character {})", at + 1)
            }
            ConditionError::UnknownName { name, .. } => write!(f, "unknown name {name}"),
        }
    }
}

impl std::error::Error for ConditionError {}

/// Why a condition failed on one result: the measurement is an `Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
}

impl Condition {
    /// Parse `source`. An empty condition is "not given" upstream: use [`Condition::parse_optional`].
    pub fn parse(source: &str) -> Result<Self, ConditionError> {
        let tokens = lex(source)?;
        // The tree is at most as deep as the tokens are many, and evaluating and dropping it
        // recurse over it: a cap on both keeps every step linear and off the stack's end.
        if tokens.len() > MAX_TOKENS {
            return Err(ConditionError::Syntax {
                at: tokens[MAX_TOKENS].0,
                message: format!("the condition is too long: more than {MAX_TOKENS} tokens"),
            });
        }
        let mut p = Parser { tokens, pos: 0, in_predicate: false, depth: 0 };
        let expr = p.expression(0)?;
        let (at, tok) = p.peek();
        if *tok != Tok::Eof {
            return Err(ConditionError::Syntax { at, message: format!("unexpected {}", tok.describe()) });
        }
        Ok(Self { source: source.to_string(), expr })
    }

    /// `None` for an empty string (the condition is not set), else [`Condition::parse`].
    pub fn parse_optional(source: &str) -> Result<Option<Self>, ConditionError> {
        if source.is_empty() { Ok(None) } else { Self::parse(source).map(Some) }
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The type errors expr's compiler would report for a result of this shape (a scalar when
    /// `vector` is false), without evaluating anything: checkable at load time.
    pub fn check(&self, vector: bool) -> Result<(), EvalError> {
        let result = if vector { Ty::Vec } else { Ty::Num };
        match type_of(&self.expr, result)? {
            Ty::Bool => Ok(()),
            other => Err(EvalError(format!("expected bool, but got {}", other.name()))),
        }
    }

    /// `EvalCondition`: the condition's value for `result`.
    pub fn eval(&self, result: &MetricValue) -> Result<bool, EvalError> {
        self.check(matches!(result, MetricValue::Vector(_)))?;
        match eval(&self.expr, result, None)? {
            Val::Bool(b) => Ok(b),
            // `check` proved the type.
            _ => unreachable!("condition checked to be boolean"),
        }
    }
}

/// `EvaluateResult`: one measurement's phase from its value.
///
/// The success condition is evaluated first, then the failure condition; an error in either is
/// returned at once (the measurement is an `Error`). Then:
/// - neither given → `Successful`;
/// - only success given → `Successful` if true, else `Failed`;
/// - only failure given → `Failed` if true, else `Successful`;
/// - both → `Failed` if failure is true, else `Successful` if success is true, else
///   `Inconclusive`.
pub fn evaluate_result(
    result: &MetricValue,
    success: Option<&Condition>,
    failure: Option<&Condition>,
) -> Result<MeasurementPhase, EvalError> {
    let s = success.map(|c| c.eval(result)).transpose()?;
    let f = failure.map(|c| c.eval(result)).transpose()?;
    let (success, failed) = match (s, f) {
        (None, None) => return Ok(MeasurementPhase::Successful),
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    Ok(if failed {
        MeasurementPhase::Failed
    } else if success {
        MeasurementPhase::Successful
    } else {
        MeasurementPhase::Inconclusive
    })
}

/// [`evaluate_result`] with an error folded into [`MeasurementPhase::Error`].
pub fn measurement_phase(
    result: &MetricValue,
    success: Option<&Condition>,
    failure: Option<&Condition>,
) -> MeasurementPhase {
    evaluate_result(result, success, failure).unwrap_or(MeasurementPhase::Error)
}

/// [`evaluate_result`] straight from the condition strings, as upstream runs it ("" = not
/// given): a condition that does not parse makes the measurement an `Error`.
pub fn evaluate_result_str(
    result: &MetricValue,
    success: &str,
    failure: &str,
) -> Result<MeasurementPhase, EvalError> {
    let parse = |s: &str| Condition::parse_optional(s).map_err(|e| EvalError(e.to_string()));
    let success = parse(success)?;
    let failure = parse(failure)?;
    evaluate_result(result, success.as_ref(), failure.as_ref())
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Hash,
    /// A string literal (refused by the parser, so that errors come in reading order).
    Str,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number {n}"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Hash => "`#`".into(),
            Tok::Str => "a string literal".into(),
            Tok::Eof => "end of condition".into(),
        }
    }
}

/// Operators, longest first so that `<=` wins over `<`.
const OPERATORS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "**", "??", "?.", "..", "<", ">", "!", "+", "-", "*", "/", "%", "^",
    "?", ":", "|", ".", "=", "&",
];

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ConditionError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() {
            let (n, end) = lex_number(src, i)?;
            out.push((start, Tok::Num(n)));
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            out.push((start, Tok::Ident(src[start..i].to_string())));
            continue;
        }
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            out.push((start, t));
            i += 1;
            continue;
        }
        if c == b'#' {
            if bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
                return Err(ConditionError::Unsupported { at: start, what: "a named `#` variable".into() });
            }
            out.push((start, Tok::Hash));
            i += 1;
            continue;
        }
        if matches!(c, b'"' | b'\'' | b'`') {
            // Skip to the closing quote (escapes included); an unclosed string runs to the end.
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            out.push((start, Tok::Str));
            continue;
        }
        if let Some(op) = OPERATORS.iter().find(|op| src[i..].starts_with(**op)) {
            out.push((start, Tok::Op(op)));
            i += op.len();
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(ConditionError::Syntax { at: start, message: format!("unexpected character `{ch}`") });
    }
    out.push((src.len(), Tok::Eof));
    Ok(out)
}

/// A number literal starting at `start`: digits and `_`, an optional fraction (not `..`, a
/// range), an optional exponent.
fn lex_number(src: &str, start: usize) -> Result<(f64, usize), ConditionError> {
    let b = src.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        i
    };
    let mut i = digits(start);
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i = digits(i + 1);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = digits(j);
        }
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return Err(ConditionError::Unsupported { at: start, what: "a number in this notation".into() });
    }
    let text: String = src[start..i].chars().filter(|&c| c != '_').collect();
    text.parse::<f64>().map(|n| (n, i)).map_err(|_| ConditionError::Syntax {
        at: start,
        message: format!("bad number `{}`", &src[start..i]),
    })
}

// ---------------------------------------------------------------------------------------------
// Syntax tree and parser

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Len,
    IsNaN,
    IsInf,
    IsNil,
    Default,
    AsInt,
    AsFloat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quantifier {
    All,
    Any,
    None,
    One,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Num(f64),
    Bool(bool),
    Result,
    /// `#`, the element inside a predicate.
    Elem,
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Plus(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
    Predicate(Quantifier, Box<Expr>, Box<Expr>),
}

/// The most tokens a condition may have (upstream's are a line long).
pub const MAX_TOKENS: usize = 1000;
/// The deepest nesting of parentheses, brackets and operators a condition may have.
pub const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
    in_predicate: bool,
    /// Nested `expression` calls, against stack overflow.
    depth: usize,
}

/// Unary operator precedences (expr's parser): `!`/`not` 50, `-`/`+` 90.
const NOT_PRECEDENCE: u8 = 50;
const SIGN_PRECEDENCE: u8 = 90;

impl Parser {
    fn peek(&self) -> (usize, &Tok) {
        let (at, t) = &self.tokens[self.pos];
        (*at, t)
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tokens[(self.pos + k).min(self.tokens.len() - 1)].1
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, want: Tok) -> Result<(), ConditionError> {
        let (at, tok) = self.next();
        if tok == want {
            Ok(())
        } else {
            Err(ConditionError::Syntax {
                at,
                message: format!("expected {}, found {}", want.describe(), tok.describe()),
            })
        }
    }

    /// The binary operator at the cursor: (operator, precedence, tokens it spans).
    fn binary_op(&self) -> Result<Option<(BinOp, u8, usize)>, ConditionError> {
        let (at, tok) = self.peek();
        let unsupported = |what: &str| Err(ConditionError::Unsupported { at, what: what.to_string() });
        Ok(Some(match tok {
            Tok::Op("||") => (BinOp::Or, 10, 1),
            Tok::Op("&&") => (BinOp::And, 15, 1),
            Tok::Op("==") => (BinOp::Eq, 20, 1),
            Tok::Op("!=") => (BinOp::Ne, 20, 1),
            Tok::Op("<") => (BinOp::Lt, 20, 1),
            Tok::Op("<=") => (BinOp::Le, 20, 1),
            Tok::Op(">") => (BinOp::Gt, 20, 1),
            Tok::Op(">=") => (BinOp::Ge, 20, 1),
            Tok::Op("+") => (BinOp::Add, 30, 1),
            Tok::Op("-") => (BinOp::Sub, 30, 1),
            Tok::Op("*") => (BinOp::Mul, 60, 1),
            Tok::Op("/") => (BinOp::Div, 60, 1),
            Tok::Op("%") => return unsupported("the `%` operator"),
            Tok::Op("**") | Tok::Op("^") => return unsupported("the power operator"),
            Tok::Op("..") => return unsupported("a range `..`"),
            Tok::Op("??") => return unsupported("the `??` operator"),
            Tok::Op("?") => return unsupported("the conditional `? :`"),
            Tok::Op("|") => return unsupported("a pipe `|`"),
            Tok::Ident(w) => match w.as_str() {
                "or" => (BinOp::Or, 10, 1),
                "and" => (BinOp::And, 15, 1),
                "in" => (BinOp::In, 20, 1),
                "not" if *self.peek_at(1) == Tok::Ident("in".into()) => (BinOp::NotIn, 20, 2),
                "matches" | "contains" | "startsWith" | "endsWith" => {
                    return unsupported(&format!("the `{w}` operator"));
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }

    /// Precedence climbing: binary operators binding at least as tightly as `min`.
    fn expression(&mut self, min: u8) -> Result<Expr, ConditionError> {
        if self.depth >= MAX_DEPTH {
            let (at, _) = self.peek();
            return Err(ConditionError::Syntax {
                at,
                message: format!("the condition is nested too deeply: more than {MAX_DEPTH} levels"),
            });
        }
        self.depth += 1;
        let e = self.expression_inner(min);
        self.depth -= 1;
        e
    }

    fn expression_inner(&mut self, min: u8) -> Result<Expr, ConditionError> {
        let mut left = self.unary()?;
        while let Some((op, prec, width)) = self.binary_op()? {
            if prec < min {
                break;
            }
            for _ in 0..width {
                self.next();
            }
            let right = self.expression(prec + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ConditionError> {
        let (_, tok) = self.peek();
        match tok {
            Tok::Op("!") => {
                self.next();
                Ok(Expr::Not(Box::new(self.expression(NOT_PRECEDENCE)?)))
            }
            Tok::Ident(w) if w == "not" => {
                self.next();
                Ok(Expr::Not(Box::new(self.expression(NOT_PRECEDENCE)?)))
            }
            Tok::Op("-") => {
                self.next();
                Ok(Expr::Neg(Box::new(self.expression(SIGN_PRECEDENCE)?)))
            }
            Tok::Op("+") => {
                self.next();
                Ok(Expr::Plus(Box::new(self.expression(SIGN_PRECEDENCE)?)))
            }
            _ => {
                let primary = self.primary()?;
                self.postfix(primary)
            }
        }
    }

    fn postfix(&mut self, mut e: Expr) -> Result<Expr, ConditionError> {
        loop {
            let (at, tok) = self.peek();
            match tok {
                Tok::LBracket => {
                    self.next();
                    if matches!(self.peek().1, Tok::Op(":")) {
                        return Err(ConditionError::Unsupported { at, what: "a slice `[:]`".into() });
                    }
                    let index = self.expression(0)?;
                    if matches!(self.peek().1, Tok::Op(":")) {
                        return Err(ConditionError::Unsupported { at, what: "a slice `[:]`".into() });
                    }
                    self.expect(Tok::RBracket)?;
                    e = Expr::Index(Box::new(e), Box::new(index));
                }
                Tok::Op(".") | Tok::Op("?.") => {
                    return Err(ConditionError::Unsupported { at, what: "member access `.`".into() });
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ConditionError> {
        let (at, tok) = self.next();
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::LParen => {
                let e = self.expression(0)?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Tok::Hash if self.in_predicate => Ok(Expr::Elem),
            Tok::Hash => Err(ConditionError::Syntax { at, message: "`#` outside a predicate".into() }),
            Tok::LBracket => Err(ConditionError::Unsupported { at, what: "an array literal".into() }),
            Tok::LBrace => Err(ConditionError::Unsupported { at, what: "a map literal".into() }),
            Tok::Str => Err(ConditionError::Unsupported { at, what: "a string literal".into() }),
            Tok::Ident(name) => self.identifier(at, name),
            other => Err(ConditionError::Syntax { at, message: format!("unexpected {}", other.describe()) }),
        }
    }

    fn identifier(&mut self, at: usize, name: String) -> Result<Expr, ConditionError> {
        let call = *self.peek().1 == Tok::LParen;
        match name.as_str() {
            "true" => return Ok(Expr::Bool(true)),
            "false" => return Ok(Expr::Bool(false)),
            "result" if !call => return Ok(Expr::Result),
            "nil" => return Err(ConditionError::Unsupported { at, what: "`nil`".into() }),
            _ => {}
        }
        if !call {
            return Err(ConditionError::UnknownName { at, name });
        }
        let func = match name.as_str() {
            "len" => Func::Len,
            "isNaN" => Func::IsNaN,
            "isInf" => Func::IsInf,
            "isNil" => Func::IsNil,
            "default" => Func::Default,
            "asInt" => Func::AsInt,
            "asFloat" => Func::AsFloat,
            "all" | "any" | "none" | "one" => {
                let q = match name.as_str() {
                    "all" => Quantifier::All,
                    "any" => Quantifier::Any,
                    "none" => Quantifier::None,
                    _ => Quantifier::One,
                };
                return self.predicate(q);
            }
            _ => return Err(ConditionError::Unsupported { at, what: format!("the function `{name}`") }),
        };
        self.next(); // `(`
        let mut args = Vec::new();
        if *self.peek().1 != Tok::RParen {
            loop {
                args.push(self.expression(0)?);
                if *self.peek().1 == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen)?;
        let arity = if func == Func::Default { 2 } else { 1 };
        if args.len() != arity {
            return Err(ConditionError::Syntax {
                at,
                message: format!("{name} expects {arity} argument(s), got {}", args.len()),
            });
        }
        Ok(Expr::Call(func, args))
    }

    /// `all(list, {predicate})` and friends; the braces may be left out.
    fn predicate(&mut self, q: Quantifier) -> Result<Expr, ConditionError> {
        self.next(); // `(`
        if self.in_predicate {
            let at = self.peek().0;
            return Err(ConditionError::Unsupported { at, what: "a predicate inside a predicate".into() });
        }
        let list = self.expression(0)?;
        self.expect(Tok::Comma)?;
        let braced = *self.peek().1 == Tok::LBrace;
        if braced {
            self.next();
        }
        self.in_predicate = true;
        let body = self.expression(0);
        self.in_predicate = false;
        let body = body?;
        if braced {
            self.expect(Tok::RBrace)?;
        }
        self.expect(Tok::RParen)?;
        Ok(Expr::Predicate(q, Box::new(list), Box::new(body)))
    }
}

// ---------------------------------------------------------------------------------------------
// Types (what expr's checker sees) and evaluation

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Num,
    Bool,
    Vec,
}

impl Ty {
    /// Go's name for it, as expr's messages print it.
    fn name(self) -> &'static str {
        match self {
            Ty::Num => "float64",
            Ty::Bool => "bool",
            Ty::Vec => "[]float64",
        }
    }
}

fn mismatched(op: &str, l: Ty, r: Ty) -> EvalError {
    EvalError(format!("invalid operation: {op} (mismatched types {} and {})", l.name(), r.name()))
}

fn type_of(e: &Expr, result: Ty) -> Result<Ty, EvalError> {
    Ok(match e {
        Expr::Num(_) | Expr::Elem => Ty::Num,
        Expr::Bool(_) => Ty::Bool,
        Expr::Result => result,
        Expr::Index(base, index) => {
            let b = type_of(base, result)?;
            let i = type_of(index, result)?;
            if b != Ty::Vec {
                return Err(EvalError(format!("cannot index {}", b.name())));
            }
            if i != Ty::Num {
                return Err(EvalError(format!("non-integer index (type {})", i.name())));
            }
            if let Expr::Num(n) = **index
                && n.fract() != 0.0
            {
                return Err(EvalError(format!("non-integer index {n}")));
            }
            Ty::Num
        }
        Expr::Not(x) => match type_of(x, result)? {
            Ty::Bool => Ty::Bool,
            t => return Err(EvalError(format!("invalid operation: ! (mismatched type {})", t.name()))),
        },
        Expr::Neg(x) | Expr::Plus(x) => match type_of(x, result)? {
            Ty::Num => Ty::Num,
            t => return Err(EvalError(format!("invalid operation: - (mismatched type {})", t.name()))),
        },
        Expr::Binary(op, l, r) => {
            let (lt, rt) = (type_of(l, result)?, type_of(r, result)?);
            let ok = match op {
                BinOp::Or | BinOp::And => lt == Ty::Bool && rt == Ty::Bool,
                BinOp::Eq | BinOp::Ne => lt == rt,
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => lt == Ty::Num && rt == Ty::Num,
                BinOp::In | BinOp::NotIn => lt == Ty::Num && rt == Ty::Vec,
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => lt == Ty::Num && rt == Ty::Num,
            };
            if !ok {
                return Err(mismatched(op.symbol(), lt, rt));
            }
            match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => Ty::Num,
                _ => Ty::Bool,
            }
        }
        Expr::Call(f, args) => {
            let tys = args.iter().map(|a| type_of(a, result)).collect::<Result<Vec<_>, _>>()?;
            let arg = tys[0];
            match f {
                Func::Len if arg == Ty::Vec => Ty::Num,
                Func::Len => {
                    return Err(EvalError(format!("invalid argument for len (type {})", arg.name())));
                }
                Func::IsNaN | Func::IsInf if arg == Ty::Num => Ty::Bool,
                Func::IsNaN | Func::IsInf => {
                    let name = if *f == Func::IsNaN { "isNaN" } else { "isInf" };
                    return Err(EvalError(format!(
                        "cannot use {} as argument (type float64) to call {name}",
                        arg.name()
                    )));
                }
                Func::IsNil => Ty::Bool,
                // Upstream's `default` hands back `result` itself whenever it is not nil.
                Func::Default => result,
                Func::AsInt | Func::AsFloat if arg == Ty::Num => Ty::Num,
                Func::AsInt | Func::AsFloat => {
                    let name = if *f == Func::AsInt { "asInt" } else { "asFloat" };
                    return Err(EvalError(format!("{name}() not supported on {}", arg.name())));
                }
            }
        }
        Expr::Predicate(_, list, body) => {
            let lt = type_of(list, result)?;
            if lt != Ty::Vec {
                return Err(EvalError(format!("builtin needs an array, not {}", lt.name())));
            }
            let bt = type_of(body, result)?;
            if bt != Ty::Bool {
                return Err(EvalError(format!("predicate should return boolean (got {})", bt.name())));
            }
            Ty::Bool
        }
    })
}

#[derive(Clone, Copy, Debug)]
enum Val<'a> {
    Num(f64),
    Bool(bool),
    Vec(&'a [f64]),
}

impl Val<'_> {
    fn num(self) -> f64 {
        match self {
            Val::Num(n) => n,
            _ => unreachable!("type-checked: number"),
        }
    }

    fn bool(self) -> bool {
        match self {
            Val::Bool(b) => b,
            _ => unreachable!("type-checked: bool"),
        }
    }
}

fn result_val(result: &MetricValue) -> Val<'_> {
    match result {
        MetricValue::Scalar(x) => Val::Num(*x),
        MetricValue::Vector(v) => Val::Vec(v),
    }
}

fn vec_of(v: Val<'_>) -> &[f64] {
    match v {
        Val::Vec(xs) => xs,
        other => unreachable!("type-checked: a list expected, got {other:?}"),
    }
}

/// Go's `int64(x)` on amd64: truncation, and the minimum for NaN, infinities and overflow.
fn go_int64(x: f64) -> f64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if x.is_finite() && x.trunc() > -LIMIT - 1.0 && x.trunc() < LIMIT { x.trunc() } else { -LIMIT }
}

fn eval<'a>(e: &Expr, result: &'a MetricValue, elem: Option<f64>) -> Result<Val<'a>, EvalError> {
    Ok(match e {
        Expr::Num(n) => Val::Num(*n),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Result => result_val(result),
        Expr::Elem => Val::Num(elem.expect("`#` is only parsed inside a predicate")),
        Expr::Index(base, index) => {
            let xs = vec_of(eval(base, result, elem)?);
            let i = eval(index, result, elem)?.num();
            if i.fract() != 0.0 || !i.is_finite() {
                return Err(EvalError(format!("non-integer index {i}")));
            }
            let len = xs.len() as f64;
            let at = if i < 0.0 { i + len } else { i };
            if at < 0.0 || at >= len {
                return Err(EvalError(format!("index out of range: {i} (array length is {})", xs.len())));
            }
            Val::Num(xs[at as usize])
        }
        Expr::Not(x) => Val::Bool(!eval(x, result, elem)?.bool()),
        Expr::Neg(x) => Val::Num(-eval(x, result, elem)?.num()),
        Expr::Plus(x) => Val::Num(eval(x, result, elem)?.num()),
        Expr::Binary(op, l, r) => {
            let lv = eval(l, result, elem)?;
            match op {
                BinOp::Or if lv.bool() => return Ok(Val::Bool(true)),
                BinOp::And if !lv.bool() => return Ok(Val::Bool(false)),
                BinOp::Or | BinOp::And => return eval(r, result, elem),
                _ => {}
            }
            let rv = eval(r, result, elem)?;
            match op {
                BinOp::Eq | BinOp::Ne => {
                    let eq = match (lv, rv) {
                        (Val::Num(a), Val::Num(b)) => a == b,
                        (Val::Bool(a), Val::Bool(b)) => a == b,
                        (Val::Vec(a), Val::Vec(b)) => a == b,
                        _ => unreachable!("type-checked: same types"),
                    };
                    Val::Bool(if *op == BinOp::Eq { eq } else { !eq })
                }
                BinOp::Lt => Val::Bool(lv.num() < rv.num()),
                BinOp::Le => Val::Bool(lv.num() <= rv.num()),
                BinOp::Gt => Val::Bool(lv.num() > rv.num()),
                BinOp::Ge => Val::Bool(lv.num() >= rv.num()),
                BinOp::In => Val::Bool(vec_of(rv).contains(&lv.num())),
                BinOp::NotIn => Val::Bool(!vec_of(rv).contains(&lv.num())),
                BinOp::Add => Val::Num(lv.num() + rv.num()),
                BinOp::Sub => Val::Num(lv.num() - rv.num()),
                BinOp::Mul => Val::Num(lv.num() * rv.num()),
                BinOp::Div => Val::Num(lv.num() / rv.num()),
                BinOp::Or | BinOp::And => unreachable!("handled above"),
            }
        }
        Expr::Call(f, args) => {
            // expr evaluates every argument before the call.
            let vals = args.iter().map(|a| eval(a, result, elem)).collect::<Result<Vec<_>, _>>()?;
            match f {
                Func::Len => Val::Num(vec_of(vals[0]).len() as f64),
                Func::IsNaN => Val::Bool(vals[0].num().is_nan()),
                Func::IsInf => Val::Bool(vals[0].num().is_infinite()),
                Func::IsNil => Val::Bool(false),
                Func::Default => result_val(result),
                Func::AsInt => Val::Num(go_int64(vals[0].num())),
                Func::AsFloat => Val::Num(vals[0].num()),
            }
        }
        Expr::Predicate(q, list, body) => {
            let xs = vec_of(eval(list, result, elem)?);
            let mut hits = 0usize;
            for &x in xs {
                let hit = eval(body, result, Some(x))?.bool();
                hits += usize::from(hit);
                // Stop as soon as the answer is known, as expr's loops do.
                match q {
                    Quantifier::All if !hit => return Ok(Val::Bool(false)),
                    Quantifier::Any if hit => return Ok(Val::Bool(true)),
                    Quantifier::None if hit => return Ok(Val::Bool(false)),
                    _ => {}
                }
            }
            Val::Bool(match q {
                Quantifier::All | Quantifier::None => true,
                Quantifier::Any => false,
                Quantifier::One => hits == 1,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MeasurementPhase::{Error, Failed, Inconclusive, Successful};

    fn scalar(x: f64) -> MetricValue {
        MetricValue::Scalar(x)
    }

    fn vector(xs: &[f64]) -> MetricValue {
        MetricValue::Vector(xs.to_vec())
    }

    fn eval_str(cond: &str, result: &MetricValue) -> Result<bool, String> {
        let c = Condition::parse(cond).map_err(|e| e.to_string())?;
        c.eval(result).map_err(|e| e.to_string())
    }

    /// `evaluate_result_str` folded to a phase.
    fn phase(result: &MetricValue, success: &str, failure: &str) -> MeasurementPhase {
        evaluate_result_str(result, success, failure).unwrap_or(Error)
    }

    #[test]
    fn evaluate_result_upstream() {
        // utils/evaluate/evaluate_test.go: TestEvaluateResult* (their `result` is `true`, which
        // none of these conditions reads).
        let r = scalar(1.0);
        let cases = [
            ("true", "false", Successful),    // TestEvaluateResultWithSuccess
            ("true", "true", Failed),         // TestEvaluateResultWithFailure
            ("false", "false", Inconclusive), // TestEvaluateResultInconclusive
            ("", "false", Successful),        // TestEvaluateResultNoSuccessConditionAndNotFailing
            ("false", "", Failed),            // TestEvaluateResultNoFailureConditionAndNotSuccessful
            ("", "", Successful),             // TestEvaluateResultNoFailureConditionAndNoSuccessCondition
            ("a == true", "true", Error),     // TestEvaluateResultWithErrorOnSuccessCondition
            ("true", "a == true", Error),     // TestEvaluateResultWithErrorOnFailureCondition
        ];
        for (success, failure, want) in cases {
            assert_eq!(phase(&r, success, failure), want, "success {success:?}, failure {failure:?}");
        }
        // Only a failure condition, true: Failed. Only success, true: Successful.
        assert_eq!(phase(&r, "", "true"), Failed);
        assert_eq!(phase(&r, "true", ""), Successful);
        // The success condition is evaluated first: its error wins over a failure's error.
        assert_eq!(
            evaluate_result_str(&r, "x > 1", "y > 1").unwrap_err().0,
            "unknown name x",
            "success evaluated first"
        );
    }

    #[test]
    fn eval_condition_upstream() {
        // utils/evaluate/evaluate_test.go, the cases whose `result` a Prometheus query can give.
        type Case = (&'static str, MetricValue, Result<bool, &'static str>);
        let cases: Vec<Case> = vec![
            // TestErrorWithNonBoolReturn ("int" there: expr keeps integer literals apart).
            ("1", scalar(1.0), Err("expected bool, but got float64")),
            // TestErrorWithInvalidReference
            ("invalidVariable", scalar(1.0), Err("unknown name invalidVariable")),
            // TestEvaluateInOperator
            ("2 in result", vector(&[2.0, 2.0]), Ok(true)),
            // TestEvaluateFloat64
            ("result > 1", scalar(5.0), Ok(true)),
            // TestEvaluateArray, with the list at `result` (member access is not supported)
            ("all(result, {# > 1})", vector(&[2.0, 2.0]), Ok(true)),
            // TestEvaluateAsInt
            ("asInt(result) == 1", scalar(1.0), Ok(true)),
            ("asInt(result) == 1", scalar(1.123), Ok(true)),
            // TestEvaluateAsFloat
            ("asFloat(result) == 1.1", scalar(1.1), Ok(true)),
            ("asFloat(result) == 1", scalar(1.0), Ok(true)),
            ("asFloat(result) >= 1", scalar(1.0), Ok(true)),
            // TestEvaluateInvalidStruct: an error either way.
            (
                "result.Name() == 'hi'",
                scalar(1.0),
                Err("member access `.` is not supported in conditions (at character 7)"),
            ),
            // TestEvaluateAsFloatError (second row): a string on one side.
            (
                "asFloat(result) == \"1.1\"",
                scalar(1.1),
                Err("a string literal is not supported in conditions (at character 20)"),
            ),
            // TestIsInf
            ("isInf(result)", scalar(f64::INFINITY), Ok(true)),
            ("isInf(result)", scalar(f64::NEG_INFINITY), Ok(true)),
            ("isInf(result)", scalar(0.0), Ok(false)),
            // TestDefaultFunc / TestIsNil: a Prometheus result is never nil.
            ("default(result, 0) == 1", scalar(1.0), Ok(true)),
            ("isNil(result)", scalar(1.0), Ok(false)),
            ("isNil(result)", vector(&[]), Ok(false)),
        ];
        for (cond, result, want) in cases {
            assert_eq!(eval_str(cond, &result), want.map_err(String::from), "{cond} on {result:?}");
        }
    }

    #[test]
    fn reference_and_docs_vectors() {
        // controllers.md §2.8 and docs/features/analysis.md ("Handling Metric Results").
        let nan = scalar(f64::NAN);
        let inf = scalar(f64::INFINITY);
        let empty = vector(&[]);
        let cases: &[(&MetricValue, &str, &str, MeasurementPhase)] = &[
            // §2.8: an expression error (`result[0]` on an empty vector) is an Error.
            (&empty, "result[0] >= 0.95", "", Error),
            // docs, NaN: successful, inconclusive, failed.
            (&nan, "isNaN(result) || result >= 0.95", "", Successful),
            (&nan, "result >= 0.95", "result < 0.95", Inconclusive),
            (&nan, "result >= 0.95", "", Failed),
            // docs, +Inf: successful, failed.
            (&inf, "result >= 0.95", "", Successful),
            (&inf, "", "isInf(result)", Failed),
            // docs, empty array: successful, failed.
            (&empty, "len(result) == 0 || result[0] >= 0.95", "", Successful),
            (&empty, "len(result) > 0 && result[0] >= 0.95", "", Failed),
            // docs, Datadog: `default(result, 0) < 0.05`.
            (&scalar(0.01), "default(result, 0) < 0.05", "", Successful),
            (&scalar(0.5), "default(result, 0) < 0.05", "", Failed),
        ];
        for &(result, success, failure, want) in cases {
            assert_eq!(phase(result, success, failure), want, "{result:?}: {success:?} / {failure:?}");
        }
        assert_eq!(
            eval_str("result[0] >= 0.95", &empty),
            Err("index out of range: 0 (array length is 0)".into())
        );
    }

    #[test]
    fn prometheus_shapes() {
        let v = vector(&[0.02, 0.07]);
        let cases: &[(&str, Result<bool, &str>)] = &[
            ("result[0] < 0.05", Ok(true)),
            ("result[1] < 0.05", Ok(false)),
            ("result[-1] > 0.05", Ok(true)),
            ("result[2] < 0.05", Err("index out of range: 2 (array length is 2)")),
            ("len(result) == 2", Ok(true)),
            ("all(result, {# < 0.05})", Ok(false)),
            ("any(result, {# < 0.05})", Ok(true)),
            ("none(result, {# > 0.1})", Ok(true)),
            ("one(result, # > 0.05)", Ok(true)),
            ("0.07 in result && 0.5 not in result", Ok(true)),
            ("isNaN(result[0])", Ok(false)),
            // A vector where a number is needed: a type error, even behind `||`.
            ("result < 0.05", Err("invalid operation: < (mismatched types []float64 and float64)")),
            ("true || result < 0.05", Err("invalid operation: < (mismatched types []float64 and float64)")),
            ("isNaN(result)", Err("cannot use []float64 as argument (type float64) to call isNaN")),
            ("result[0.5] > 0", Err("non-integer index 0.5")),
        ];
        for &(cond, want) in cases {
            assert_eq!(eval_str(cond, &v), want.map_err(String::from), "{cond}");
        }
        // A number where a list is needed.
        assert_eq!(eval_str("result[0] > 1", &scalar(2.0)), Err("cannot index float64".into()));
        assert_eq!(
            eval_str("len(result) > 0", &scalar(2.0)),
            Err("invalid argument for len (type float64)".into())
        );
    }

    #[test]
    fn operators_and_precedence() {
        let r = scalar(0.5);
        let cases: &[(&str, bool)] = &[
            ("result >= 0.5 && result <= 0.5", true),
            ("result > 0.9 || result < 0.1 || result == 0.5", true),
            ("!(result > 0.9)", true),
            ("not (result > 0.9)", true),
            ("result > 0.9 or result < 0.9 and false", false),
            ("true || false && false", true),
            ("(true || false) && false", false),
            ("!true == false", true),
            ("-result < 0", true),
            ("result * 100 >= 50", true),
            ("1 + 2 * 3 == 7", true),
            ("10 - 4 - 3 == 3", true),
            ("7 / 2 == 3.5", true),
            ("1e-3 < 0.01 && 1_000 == 1000", true),
            ("result != 0.4", true),
            ("1 == 1.0", true),
        ];
        for &(cond, want) in cases {
            assert_eq!(eval_str(cond, &r), Ok(want), "{cond}");
        }
        // NaN: every comparison false, `!=` true.
        let nan = scalar(f64::NAN);
        for cond in ["result < 1", "result >= 1", "result == result"] {
            assert_eq!(eval_str(cond, &nan), Ok(false), "{cond}");
        }
        assert_eq!(eval_str("result != result", &nan), Ok(true));
        assert_eq!(eval_str("asInt(result) < 0", &nan), Ok(true), "Go's int64(NaN) on amd64");
    }

    #[test]
    fn unsupported_and_syntax_errors() {
        let unsupported: &[(&str, &str)] = &[
            ("result % 2 == 0", "the `%` operator"),
            ("result ** 2 > 1", "the power operator"),
            ("result > 0 ? true : false", "the conditional `? :`"),
            ("result ?? 0", "the `??` operator"),
            ("sum(result) > 1", "the function `sum`"),
            ("max(result) > 1", "the function `max`"),
            ("result.value > 1", "member access `.`"),
            ("result == nil", "`nil`"),
            ("result[0:1] == result", "a slice `[:]`"),
            ("[1, 2] == result", "an array literal"),
            ("result == 'x'", "a string literal"),
            ("1..3 == result", "a range `..`"),
            ("result matches 'x'", "the `matches` operator"),
            ("result | len() > 0", "a pipe `|`"),
        ];
        for &(cond, what) in unsupported {
            match Condition::parse(cond) {
                Err(ConditionError::Unsupported { what: w, .. }) => assert_eq!(w, what, "{cond}"),
                other => panic!("{cond}: expected unsupported {what}, got {other:?}"),
            }
        }
        let syntax =
            ["", "result >", "(result > 1", "result > 1)", "len()", "default(result)", "# > 1", "result @ 1"];
        for cond in syntax {
            assert!(
                matches!(Condition::parse(cond), Err(ConditionError::Syntax { .. })),
                "{cond:?}: {:?}",
                Condition::parse(cond)
            );
        }
        assert_eq!(
            Condition::parse("rsult[0] < 1"),
            Err(ConditionError::UnknownName { at: 0, name: "rsult".into() })
        );
        assert_eq!(Condition::parse_optional(""), Ok(None));
        // Messages name the problem and where it is.
        assert_eq!(
            Condition::parse("avg(result) < 1").unwrap_err().to_string(),
            "the function `avg` is not supported in conditions (at character 1)"
        );
    }

    #[test]
    fn load_time_check() {
        let c = Condition::parse("result[0] < 0.05").unwrap();
        assert_eq!(c.check(true), Ok(()));
        assert!(c.check(false).is_err());
        let c = Condition::parse("result < 0.05").unwrap();
        assert_eq!(c.check(false), Ok(()));
        assert!(c.check(true).is_err());
        assert_eq!(c.source(), "result < 0.05");
        assert_eq!(
            Condition::parse("result[0]").unwrap().check(true),
            Err(EvalError("expected bool, but got float64".into()))
        );
    }

    #[test]
    fn deep_nesting_and_long_chains_are_refused_not_a_stack_overflow() {
        let deep = format!("{}result[0]{} >= 0.95", "(".repeat(300), ")".repeat(300));
        let e = Condition::parse(&deep).unwrap_err().to_string();
        assert!(e.contains("nested too deeply"), "{e}");
        let huge = format!("{}result[0]{} >= 0.95", "(".repeat(100_000), ")".repeat(100_000));
        assert!(Condition::parse(&huge).is_err());
        let nested_ok = format!("{}result[0]{} >= 0.95", "(".repeat(30), ")".repeat(30));
        assert!(Condition::parse(&nested_ok).is_ok());
        let chain = vec!["1"; 5000].join("+") + " >= 0.95";
        let e = Condition::parse(&chain).unwrap_err().to_string();
        assert!(e.contains("more than 1000 tokens"), "{e}");
        let negations = "!".repeat(10_000) + "true";
        assert!(Condition::parse(&negations).is_err());
    }
}
