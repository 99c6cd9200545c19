//! A PromQL evaluator over an in-memory store: what alerting rules, recording rules and canary
//! analysis queries of real rule files use (kube-prometheus, Sloth/Pyrra output, Argo and
//! Flagger docs).
//!
//! [`parse`] first refuses, in one pass, an expression too long, too deep or with too many
//! operators ([`check_size`]), so that nothing after it can exhaust the stack or take more
//! than linear time. It then reads it with the `promql-parser` crate and lowers its AST into
//! this module's own, rejecting everything outside the subset with an error that names the
//! construct and where it is ([`PromqlError::span`]). Nothing unsupported is ever evaluated.
//! [`Query::eval_instant`] evaluates an instant query at one simulated instant, as
//! Prometheus's `/api/v1/query?time=…` does. Simulated time counts from the Unix epoch for
//! `time()`, `@` and the date functions.
//!
//! Semantics follow prometheus/prometheus (`promql/engine.go`, `promql/functions.go`,
//! `promql/quantile.go`), with Prometheus 3's left-open windows:
//! - Instant selectors see the latest sample in `(t − 5m, t]` (the default lookback delta);
//!   `offset d` moves `t` back by `d`, `@ T` pins it (`@ start()`/`@ end()`: the query's
//!   instant). Regex matchers are fully anchored.
//! - Range selectors `[d]` and subqueries `[d:s]` exist only as the argument of a function
//!   that takes a range vector, over the window `(t − d, t]`; a subquery evaluates its inner
//!   expression at each multiple of `s` (default 1m, the evaluation interval) in the window.
//! - Functions and arithmetic drop `__name__` (but `last_over_time`, `label_replace`,
//!   `label_join`, `sort`); comparisons without `bool` filter and keep it; with `bool` they
//!   return 0/1 and drop it. Vector matching on all labels but `__name__`, or `on(…)` /
//!   `ignoring(…)`; `group_left(…)`/`group_right(…)` match many to one and copy the listed
//!   labels from the "one" side.
//! - Aggregations: `by` keeps only the listed labels, `without` drops them and `__name__`;
//!   `sum` and `avg` use Kahan–Neumaier summation as Prometheus does, and `avg` switches to an
//!   incremental mean when the sum overflows. `topk`/`bottomk` keep the elements' labels.
//! - `histogram_quantile` over classic `le` buckets, with Prometheus's interpolation, the +Inf
//!   rules, merging of equal bounds, the monotonicity fix and its NaN cases.
//!
//! Not supported (rejected by [`parse`]): `holt_winters`, native histograms and their
//! functions, `or` inside label matchers, `fill` modifiers, string literals outside a
//! function's arguments, staleness markers, and PromQL's annotations (warnings).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{
    self, AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};

use super::rate::{self, RateKind, Sample, Window};
use crate::engine::{MINUTE, SimTime};

mod functions;
use functions::DatePart;

/// A series' label set, including `__name__`.
pub type Labels = BTreeMap<String, String>;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";
/// The label holding a classic histogram bucket's upper bound.
pub const BUCKET_LABEL: &str = "le";
/// Prometheus's default `--query.lookback-delta`.
pub const LOOKBACK_DELTA: SimTime = 5 * MINUTE;

/// Builds a label set from pairs: `labels(&[("__name__", "up"), ("job", "api")])`.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PromqlError {
    /// promql-parser rejected the expression.
    #[error("invalid PromQL: {0}")]
    Parse(String),
    /// Valid PromQL outside the simulator's subset; the message names the construct, and
    /// `span` says where it is in the expression (when the text shows it).
    #[error("{message}")]
    Unsupported { message: String, span: Option<Span> },
    /// Evaluation failed as it would in Prometheus (e.g. duplicate series in a match group).
    #[error("{0}")]
    Eval(String),
    /// Too long, too deep or too many operators ([`MAX_LENGTH`], [`MAX_NESTING`],
    /// [`MAX_OPERATORS`]); `at` is the byte offset where the cap was crossed.
    #[error("{message} (at character {})", at + 1)]
    Limit { at: usize, message: String, span: Option<Span> },
}

/// Where a construct is in an expression: its byte offset, its text, and how many times that
/// text occurs before it (so that a caller holding the expression as written in a YAML file,
/// quotes and line breaks and all, can find the same occurrence there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub at: usize,
    pub token: String,
    pub occurrence: usize,
}

impl Span {
    fn new(expr: &str, at: usize, token: &str) -> Span {
        Span { at, token: token.to_string(), occurrence: expr[..at].matches(token).count() }
    }
}

impl PromqlError {
    /// Where in the expression the problem is, if known.
    pub fn span(&self) -> Option<&Span> {
        match self {
            PromqlError::Unsupported { span, .. } | PromqlError::Limit { span, .. } => span.as_ref(),
            PromqlError::Parse(_) | PromqlError::Eval(_) => None,
        }
    }
}

/// A [`PromqlError::Limit`] at byte `at` of `expr`.
fn limit(expr: &str, at: usize, message: String) -> PromqlError {
    let span =
        expr.get(at..).and_then(|rest| rest.chars().next()).map(|c| Span::new(expr, at, &c.to_string()));
    PromqlError::Limit { at, message, span }
}

/// Where the string literal or comment that starts at `bytes[i]` (a quote or `#`) ends: the
/// index of its closing quote or of the newline after the comment (or the end). Backslash
/// escapes count in all but raw (backtick) strings.
fn skip_literal(bytes: &[u8], mut i: usize) -> usize {
    let c = bytes[i];
    if c == b'#' {
        while i < bytes.len() && bytes[i] != b'\n' {
            i += 1;
        }
        return i;
    }
    i += 1;
    while i < bytes.len() && bytes[i] != c {
        i += if c != b'`' && bytes[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The first occurrence in `expr`, outside string literals and comments, of `token` as a
/// whole word (for a name) or as is (for a symbol).
fn find_token(expr: &str, token: &str) -> Option<usize> {
    let bytes = expr.as_bytes();
    let word = token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' | b'#' => i = skip_literal(bytes, i),
            _ if expr[i..].starts_with(token) => {
                let end = i + token.len();
                let bounded = !word
                    || ((i == 0 || !is_word(bytes[i - 1])) && (end >= bytes.len() || !is_word(bytes[end])));
                if bounded {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn unsupported<T>(what: impl std::fmt::Display) -> Result<T, PromqlError> {
    Err(PromqlError::Unsupported { message: format!("{what} is not supported"), span: None })
}

/// [`unsupported`], naming the text that shows the construct (its position is found by
/// [`parse`]).
fn unsupported_at<T>(what: impl std::fmt::Display, token: &str) -> Result<T, PromqlError> {
    Err(PromqlError::Unsupported {
        message: format!("{what} is not supported"),
        span: Some(Span { at: usize::MAX, token: token.to_string(), occurrence: 0 }),
    })
}

// ---------------------------------------------------------------------------------------------
// Store

/// One time series: its labels and its samples in strictly increasing time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    /// The index of the latest sample below the one before it (a counter reset), or 0 if
    /// there is none: a window that starts at or after it holds no reset.
    last_reset: usize,
    /// The next series whose labels have the same [`labels_hash`], if any.
    same_hash: Option<SeriesId>,
}

/// Index of a series in a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(usize);

/// A minimal in-memory TSDB: float samples per label set.
#[derive(Clone, Debug, Default)]
pub struct Store {
    series: Vec<Series>,
    /// The first series with each [`labels_hash`]; the rest follow [`Series::same_hash`].
    index: HashMap<u64, SeriesId>,
    /// Per selector (by its matchers' text): how many series were checked and which matched.
    /// Series are only ever added, so a selector's matches are extended, never redone.
    matches: RefCell<HashMap<String, Matched>>,
    /// Per range selector (matchers, range and offset): where each matching series' window
    /// began at the last evaluation, so that the next one, usually a scrape interval later,
    /// steps forward from there instead of searching.
    cursors: RefCell<HashMap<String, Cursors>>,
    /// Per selector and grouping: each matching series' group, so that aggregating compares
    /// no labels and allocates nothing per series.
    groups: RefCell<HashMap<String, Groups>>,
}

/// Where each of a range selector's series' windows began when it was last evaluated.
#[derive(Clone, Debug, Default)]
struct Cursors {
    /// The window's end then.
    end: SimTime,
    /// Per matching series, in the order of [`Matched::ids`]: its first sample in the window.
    first: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
struct Matched {
    checked: usize,
    ids: Vec<usize>,
}

/// The groups of an aggregation over one selector's series.
#[derive(Clone, Debug, Default)]
struct Groups {
    /// The group of each matching series, in the order of [`Matched::ids`].
    of: Vec<u32>,
    /// Each group's labels, in the order the groups were met.
    labels: Vec<Labels>,
    /// Each group's index in `labels`.
    index: BTreeMap<Labels, u32>,
    /// The groups in the order of their labels (the order of the result).
    sorted: Vec<u32>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// The series with these labels, created empty if it does not exist yet.
    pub fn series_id(&mut self, labels: Labels) -> SeriesId {
        self.series_id_with_capacity(labels, 0)
    }

    /// [`Store::series_id`], with room for `capacity` samples if the series is new.
    pub fn series_id_with_capacity(&mut self, labels: Labels, capacity: usize) -> SeriesId {
        let hash = labels_hash(&labels);
        if let Some(id) = self.find(hash, &labels) {
            return id;
        }
        let id = SeriesId(self.series.len());
        let samples = Vec::with_capacity(capacity);
        let same_hash = self.index.insert(hash, id);
        self.series.push(Series { labels, samples, last_reset: 0, same_hash });
        id
    }

    /// The series with `labels`, whose hash is `hash`.
    fn find(&self, hash: u64, labels: &Labels) -> Option<SeriesId> {
        let mut next = self.index.get(&hash).copied();
        while let Some(id) = next {
            let series = &self.series[id.0];
            if series.labels == *labels {
                return Some(id);
            }
            next = series.same_hash;
        }
        None
    }

    /// Appends a sample; samples of one series must come in strictly increasing time order.
    pub fn push(&mut self, id: SeriesId, sample: Sample) {
        let series = &mut self.series[id.0];
        if let Some(last) = series.samples.last() {
            assert!(last.t < sample.t, "samples must be appended in time order");
            if sample.v < last.v {
                series.last_reset = series.samples.len();
            }
        }
        series.samples.push(sample);
    }

    /// Appends `v` at `t` to the series with `labels`, creating it if needed.
    pub fn append(&mut self, labels: &Labels, t: SimTime, v: f64) {
        let id = match self.find(labels_hash(labels), labels) {
            Some(id) => id,
            None => self.series_id(labels.clone()),
        };
        self.push(id, Sample::new(t, v));
    }

    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The series `sel` selects, from the cache, checking only series added since.
    fn selected(&self, sel: &Selector) -> Vec<usize> {
        self.with_selected(sel, <[usize]>::to_vec)
    }

    /// Calls `f` with the series `sel` selects, brought up to date.
    fn with_selected<T>(&self, sel: &Selector, f: impl FnOnce(&[usize]) -> T) -> T {
        let mut cache = self.matches.borrow_mut();
        if !cache.contains_key(&sel.key) {
            cache.insert(sel.key.clone(), Matched::default());
        }
        let m = cache.get_mut(&sel.key).expect("just inserted");
        for (i, s) in self.series.iter().enumerate().skip(m.checked) {
            if matches(&sel.matchers, &s.labels) {
                m.ids.push(i);
            }
        }
        m.checked = self.series.len();
        f(&m.ids)
    }

    pub fn get(&self, id: SeriesId) -> &Series {
        &self.series[id.0]
    }
}

/// FNV-1a over a label set's names and values (each ended by a byte no UTF-8 text holds):
/// cheap, and the same on every run.
fn labels_hash(labels: &Labels) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for &b in k.as_bytes().iter().chain(&[0xff]).chain(v.as_bytes()).chain(&[0xfe]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

// ---------------------------------------------------------------------------------------------
// The supported subset, as our own AST

/// A parsed, checked PromQL expression, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Query {
    source: String,
    root: Box<Node>,
}

#[derive(Clone, Debug)]
struct Selector {
    /// The matchers as text: the key of the store's cache of matching series.
    key: String,
    /// Some matcher pins `__name__` by equality, so the series it selects differ in another
    /// label and stay distinct without their name.
    name_pinned: bool,
    matchers: Vec<Matcher>,
    /// `offset` in microseconds; positive looks back, negative forward.
    offset: i128,
    /// The `@` modifier.
    at: Option<At>,
}

/// The `@` modifier: a fixed instant (microseconds of simulated time, which rollsim counts
/// from the Unix epoch), or the query's own instant (`start()` and `end()` of an instant
/// query are both its evaluation time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Query,
    Time(i128),
}

/// The instants an evaluation needs: `t`, the one being evaluated (a subquery's step inside
/// one), and `query`, the instant query's own (what `@ start()` and `@ end()` mean).
#[derive(Clone, Copy, Debug)]
struct Ctx {
    t: i128,
    query: i128,
}

impl Ctx {
    /// The instant a selector or subquery with this `@` and `offset` reads up to, or None
    /// before t = 0 (where no sample can be).
    fn end(self, at: Option<At>, offset: i128) -> Option<SimTime> {
        let base = match at {
            None => self.t,
            Some(At::Query) => self.query,
            Some(At::Time(t)) => t,
        };
        u64::try_from(base - offset).ok()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeFunc {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    SumOverTime,
    CountOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    LastOverTime,
    PresentOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    AbsentOverTime,
    Changes,
    Resets,
    Deriv,
    PredictLinear,
}

impl RangeFunc {
    fn from_name(name: &str) -> Option<RangeFunc> {
        Some(match name {
            "rate" => RangeFunc::Rate,
            "increase" => RangeFunc::Increase,
            "delta" => RangeFunc::Delta,
            "irate" => RangeFunc::Irate,
            "idelta" => RangeFunc::Idelta,
            "sum_over_time" => RangeFunc::SumOverTime,
            "count_over_time" => RangeFunc::CountOverTime,
            "avg_over_time" => RangeFunc::AvgOverTime,
            "min_over_time" => RangeFunc::MinOverTime,
            "max_over_time" => RangeFunc::MaxOverTime,
            "last_over_time" => RangeFunc::LastOverTime,
            "present_over_time" => RangeFunc::PresentOverTime,
            "stddev_over_time" => RangeFunc::StddevOverTime,
            "stdvar_over_time" => RangeFunc::StdvarOverTime,
            "quantile_over_time" => RangeFunc::QuantileOverTime,
            "absent_over_time" => RangeFunc::AbsentOverTime,
            "changes" => RangeFunc::Changes,
            "resets" => RangeFunc::Resets,
            "deriv" => RangeFunc::Deriv,
            "predict_linear" => RangeFunc::PredictLinear,
            _ => return None,
        })
    }
}

/// Functions of instant vectors and scalars.
#[derive(Clone, Copy, Debug)]
enum Func {
    /// A function of each element's value (the name is dropped).
    Math(fn(f64) -> f64),
    Round,
    Clamp,
    ClampMin,
    ClampMax,
    Vector,
    Scalar,
    Time,
    Timestamp,
    Sort,
    SortDesc,
    Date(functions::DatePart),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    /// The label that gets each value.
    CountValues(String),
}

impl AggOp {
    /// Whether [`Group`] accumulates it (else the aggregation needs all the values).
    fn streams(&self) -> bool {
        matches!(
            self,
            AggOp::Sum
                | AggOp::Avg
                | AggOp::Min
                | AggOp::Max
                | AggOp::Count
                | AggOp::Group
                | AggOp::Stddev
                | AggOp::Stdvar
        )
    }
}

#[derive(Clone, Debug)]
enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
    Atan2,
}

impl BinOp {
    fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// `(value, keep)`: arithmetic always keeps; a comparison keeps the left value if it holds.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            BinOp::Add => (l + r, true),
            BinOp::Sub => (l - r, true),
            BinOp::Mul => (l * r, true),
            BinOp::Div => (l / r, true),
            BinOp::Mod => (l % r, true),
            BinOp::Pow => (l.powf(r), true),
            BinOp::Atan2 => (l.atan2(r), true),
            BinOp::Eq => (l, l == r),
            BinOp::Ne => (l, l != r),
            BinOp::Gt => (l, l > r),
            BinOp::Lt => (l, l < r),
            BinOp::Ge => (l, l >= r),
            BinOp::Le => (l, l <= r),
            BinOp::And | BinOp::Or | BinOp::Unless => unreachable!("set operators have no element value"),
        }
    }
}

/// Which labels identify a match group in a vector-vector operation.
#[derive(Clone, Debug)]
enum Matching {
    /// No modifier: all labels but `__name__`.
    All,
    On(Vec<String>),
    Ignoring(Vec<String>),
}

/// `group_left(…)` / `group_right(…)`: which side has many series per match group, and the
/// labels copied from the other side.
#[derive(Clone, Debug)]
enum Card {
    OneToOne,
    ManyToOne(Vec<String>),
    OneToMany(Vec<String>),
}

#[derive(Clone, Debug)]
struct Binary {
    op: BinOp,
    lhs: Node,
    rhs: Node,
    matching: Matching,
    card: Card,
    return_bool: bool,
}

/// The range vector a range function reads.
#[derive(Clone, Debug)]
enum Matrix {
    /// `selector[range]`; `cursor` keys the store's window cursors: the selector, range,
    /// offset and `@`.
    Select { selector: Selector, cursor: String },
    /// `expr[range:step]`, evaluated at each multiple of `step` in the window.
    Subquery { expr: Box<Node>, step: SimTime, offset: i128, at: Option<At> },
}

#[derive(Clone, Debug)]
enum Node {
    Number(f64),
    Instant(Selector),
    /// `param`: the φ of `quantile_over_time`, the seconds of `predict_linear`. `absent`:
    /// the labels `absent_over_time` gives its one element.
    Range {
        func: RangeFunc,
        matrix: Matrix,
        range: SimTime,
        param: Option<Box<Node>>,
        absent: Labels,
    },
    /// `groups` keys the store's group cache: the selector (when `expr` is a range function
    /// of one) and the grouping.
    Aggregate {
        op: AggOp,
        grouping: Grouping,
        expr: Box<Node>,
        param: Option<Box<Node>>,
        groups: String,
    },
    HistogramQuantile {
        phi: Box<Node>,
        expr: Box<Node>,
    },
    Call {
        func: Func,
        args: Vec<Node>,
    },
    /// `absent(expr)`: `labels` are those of its one element.
    Absent {
        expr: Box<Node>,
        labels: Labels,
    },
    /// `label_replace(expr, dst, replacement, src, regex)`, the regex anchored.
    LabelReplace {
        expr: Box<Node>,
        dst: String,
        replacement: String,
        src: String,
        regex: regex::Regex,
    },
    /// `label_join(expr, dst, separator, src…)`.
    LabelJoin {
        expr: Box<Node>,
        dst: String,
        separator: String,
        src: Vec<String>,
    },
    Negate(Box<Node>),
    Binary(Box<Binary>),
}

/// What [`parse`] accepts, in a sentence (for error messages that reject something else).
pub const SUPPORTED_SUBSET: &str = "rollsim evaluates this subset of PromQL (Prometheus 2.42's float \
functions): numbers, instant and range selectors (`=`, `!=`, `=~`, `!~`, `offset`, `@`), subqueries, arithmetic, \
comparison (`bool`), `and`/`or`/`unless` and `atan2` with `on`/`ignoring` and `group_left`/`group_right`; the \
aggregations sum, avg, min, max, count, group, stddev, stdvar, topk, bottomk, quantile, count_values (`by`/`without`); \
rate, increase, delta, irate, idelta, deriv, predict_linear, changes, resets, the *_over_time functions (sum, count, \
avg, min, max, last, present, stddev, stdvar, quantile, absent), histogram_quantile (classic buckets), absent, \
label_replace, label_join, clamp, clamp_min, clamp_max, abs, ceil, floor, round, sqrt, exp, ln, log2, log10, sgn, \
the trigonometric functions, deg, rad, pi, vector, scalar, time, timestamp, sort, sort_desc and the date functions. \
Not: holt_winters, native-histogram functions, `or` inside braces, `fill`";

/// Whether the regular expression `pattern` matches somewhere in `text` (unanchored, as Go's
/// `regexp.MatchString`); `Err` names an invalid pattern. Uses the regex engine the PromQL
/// parser uses for `=~`.
pub fn regex_search(pattern: &str, text: &str) -> Result<bool, String> {
    use promql_parser::parser::token::T_EQL_REGEX;
    // The pattern alone must be valid (a stray `)` could otherwise pair with the wrapper's).
    Matcher::new_matcher(T_EQL_REGEX, String::new(), pattern.to_string())?;
    let anywhere = format!("(?s:.*)(?:{pattern})(?s:.*)");
    Ok(Matcher::new_matcher(T_EQL_REGEX, String::new(), anywhere)?.is_match(text))
}

/// The longest expression [`parse`] reads, in bytes.
pub const MAX_LENGTH: usize = 64 * 1024;
/// The deepest nesting of `(`, `[` and `{` [`parse`] reads (function calls and aggregations
/// count, as they hold their arguments in parentheses).
pub const MAX_NESTING: usize = 64;
/// The most operators (binary, unary and matcher operators) [`parse`] reads.
pub const MAX_OPERATORS: usize = 256;
/// The longest duration [`parse`] reads in a range, a subquery's step or an `offset`, in
/// seconds: Prometheus holds durations as `time.Duration`, int64 nanoseconds (about 292
/// years), and refuses longer ones. promql-parser panics on a number of seconds beyond
/// `u64::MAX`, and our microsecond clock would wrap long before that.
pub const MAX_DURATION_SECONDS: f64 = 9_223_372_036.0;

/// The number or duration token that starts at byte `start` (a digit, or `.` and a digit),
/// scanned as promql-parser's lexer does, and its length in seconds (infinite when it
/// overflows); the token ends at the returned byte.
fn scan_duration(expr: &str, start: usize) -> (usize, f64) {
    let bytes = expr.as_bytes();
    let mut i = start;
    let run = |mut i: usize, ok: fn(u8) -> bool| {
        while i < bytes.len() && ok(bytes[i]) {
            i += 1;
        }
        i
    };
    if bytes[i] == b'0' && matches!(bytes.get(i + 1), Some(b'x' | b'X')) {
        let end = run(i + 2, |b| b.is_ascii_hexdigit());
        let value = expr[i + 2..end]
            .bytes()
            .fold(0f64, |v, b| v * 16.0 + (b as char).to_digit(16).unwrap_or(0) as f64);
        return (end, value);
    }
    i = run(i, |b| b.is_ascii_digit());
    if bytes.get(i) == Some(&b'.') {
        i = run(i + 1, |b| b.is_ascii_digit());
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = run(j, |b| b.is_ascii_digit());
        }
    }
    let number: f64 = expr[start..i].parse().unwrap_or(0.0);
    let unit = |b: Option<&u8>| -> Option<f64> {
        match b? {
            b's' => Some(1.0),
            b'm' => Some(60.0),
            b'h' => Some(3600.0),
            b'd' => Some(86_400.0),
            b'w' => Some(604_800.0),
            b'y' => Some(31_536_000.0),
            _ => None,
        }
    };
    // A number of seconds, or `1h30m`-style parts.
    let Some(first) = unit(bytes.get(i)) else { return (i, number) };
    let mut total = 0.0;
    let mut value = number;
    let mut factor = first;
    loop {
        i += 1;
        if factor == 60.0 && bytes.get(i) == Some(&b's') {
            factor = 0.001;
            i += 1;
        }
        total += value * factor;
        let next = run(i, |b| b.is_ascii_digit());
        if next == i {
            return (i, total);
        }
        match unit(bytes.get(next)) {
            Some(f) => {
                value = expr[i..next].parse().unwrap_or(0.0);
                factor = f;
                i = next;
            }
            None => return (next, total),
        }
    }
}

/// Refuses, in one pass over the text and before the parser sees it, an expression that is
/// too long, nests too deeply or has too many operators. promql-parser, our lowering and our
/// evaluator all recurse over the tree, whose depth is at most the nesting plus the operator
/// count, so within these caps none of them can exhaust the stack, and all are linear in the
/// size. The error's offset is the byte that crosses the cap.
pub fn check_size(expr: &str) -> Result<(), PromqlError> {
    if expr.len() > MAX_LENGTH {
        return Err(limit(
            expr,
            MAX_LENGTH,
            format!("the expression is {} bytes long; rollsim reads at most {MAX_LENGTH}", expr.len()),
        ));
    }
    let bytes = expr.as_bytes();
    let (mut depth, mut operators, mut i) = (0usize, 0usize, 0usize);
    // The open brackets (a duration is read inside `[`), and whether the last word was
    // `offset` (its duration follows, perhaps after a sign).
    let mut open: Vec<u8> = Vec::new();
    let mut after_offset = false;
    while i < bytes.len() {
        let c = bytes[i];
        let was_after_offset = std::mem::take(&mut after_offset);
        match c {
            c if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                let (end, seconds) = scan_duration(expr, i);
                let is_duration = was_after_offset || open.last() == Some(&b'[');
                // Digits give a finite or infinite value, never NaN.
                if is_duration && seconds > MAX_DURATION_SECONDS {
                    let text = &expr[i..end];
                    return Err(PromqlError::Limit {
                        at: i,
                        message: format!(
                            "the duration `{text}` is longer than the {MAX_DURATION_SECONDS} s (about 292 years) \
                             Prometheus accepts in a range, a step or an offset; write a shorter one such as `1h` or `30d`"
                        ),
                        span: Some(Span::new(expr, i, text)),
                    });
                }
                i = end;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => after_offset = was_after_offset,
            b'+' | b'-' if was_after_offset => {
                operators += 1;
                after_offset = true;
            }
            b'"' | b'\'' | b'`' | b'#' => i = skip_literal(bytes, i),
            b'(' | b'[' | b'{' => {
                depth += 1;
                open.push(c);
                if depth > MAX_NESTING {
                    return Err(limit(
                        expr,
                        i,
                        format!("the expression nests more than {MAX_NESTING} brackets deep"),
                    ));
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                open.pop();
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'~' => {
                // `==`, `!=`, `>=`, `=~`…: one operator.
                if i + 1 < bytes.len() && matches!(bytes[i + 1], b'=' | b'~') {
                    i += 1;
                }
                operators += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric() || matches!(bytes[i + 1], b'_' | b':'))
                {
                    i += 1;
                }
                if matches!(&expr[start..=i], "and" | "or" | "unless" | "atan2") {
                    operators += 1;
                }
                after_offset = expr[start..=i].eq_ignore_ascii_case("offset");
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(limit(expr, i, format!("the expression has more than {MAX_OPERATORS} operators")));
        }
        i += 1;
    }
    Ok(())
}

/// Parses `expr` and checks it against the supported subset.
pub fn parse(expr: &str) -> Result<Query, PromqlError> {
    check_size(expr)?;
    let ast = parser::parse(expr).map_err(|e| {
        // A function the parser does not know (e.g. Prometheus 2's `holt_winters`): name it
        // where it is.
        match e.strip_prefix("unknown function with name '").and_then(|rest| rest.strip_suffix('\'')) {
            Some(name) => PromqlError::Unsupported {
                message: format!("function `{name}` is not supported"),
                span: find_token(expr, name).map(|at| Span::new(expr, at, name)),
            },
            None => PromqlError::Parse(e),
        }
    })?;
    let root = lower(&ast).map_err(|e| match e {
        // Find the construct the lowering named in the text.
        PromqlError::Unsupported { message, span: Some(span) } => {
            let span = find_token(expr, &span.token).map(|at| Span::new(expr, at, &span.token));
            PromqlError::Unsupported { message, span }
        }
        other => other,
    })?;
    Ok(Query { source: expr.to_string(), root: Box::new(root) })
}

fn micros(d: &Duration) -> i128 {
    d.as_micros() as i128
}

fn offset_micros(offset: &Option<Offset>) -> i128 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => micros(d),
        Some(Offset::Neg(d)) => -micros(d),
    }
}

fn at_modifier(at: &Option<AtModifier>) -> Option<At> {
    at.as_ref().map(|at| match at {
        AtModifier::Start | AtModifier::End => At::Query,
        AtModifier::At(t) => At::Time(match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => micros(&d),
            Err(e) => -micros(&e.duration()),
        }),
    })
}

fn selector(vs: &VectorSelector) -> Result<Selector, PromqlError> {
    if !vs.matchers.or_matchers.is_empty() {
        return unsupported_at("`or` inside label matchers", "or");
    }
    let mut matchers = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name {
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    let offset = offset_micros(&vs.offset);
    let at = at_modifier(&vs.at);
    let key =
        matchers.iter().map(|m| format!("{}{}{:?}", m.name, m.op, m.value)).collect::<Vec<_>>().join(",");
    let name_pinned = matchers.iter().any(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal));
    Ok(Selector { key, name_pinned, matchers, offset, at })
}

fn label_list(modifier: &LabelModifier) -> Vec<String> {
    modifier.labels().labels.to_vec()
}

/// The labels `absent(sel)` and `absent_over_time(sel[d])` give their element: those pinned by
/// one `=` matcher each, but the name.
fn absent_labels(sel: &Selector) -> Labels {
    let mut out = Labels::new();
    let mut twice = HashSet::new();
    for m in &sel.matchers {
        if m.name == METRIC_NAME || !matches!(m.op, MatchOp::Equal) {
            continue;
        }
        if out.insert(m.name.clone(), m.value.clone()).is_some() {
            twice.insert(m.name.clone());
        }
    }
    out.retain(|k, _| !twice.contains(k));
    out
}

/// The most steps a subquery may take per evaluation (Prometheus's limit of points per series
/// in a range query).
pub const MAX_SUBQUERY_STEPS: u64 = 11_000;

/// Prometheus's default `evaluation_interval`: a subquery's step when it gives none.
pub const DEFAULT_SUBQUERY_STEP: SimTime = MINUTE;

fn lower_matrix(arg: &Expr, name: &str) -> Result<(Matrix, SimTime, Labels), PromqlError> {
    match arg {
        Expr::MatrixSelector(m) => {
            let range = m.range.as_micros() as SimTime;
            if range == 0 {
                return Err(PromqlError::Parse("a range selector needs a positive range".into()));
            }
            let selector = selector(&m.vs)?;
            let cursor = format!("{}|{range}|{}|{:?}", selector.key, selector.offset, selector.at);
            let absent = absent_labels(&selector);
            Ok((Matrix::Select { selector, cursor }, range, absent))
        }
        Expr::Subquery(sq) => {
            let range = sq.range.as_micros() as SimTime;
            let step = sq.step.map_or(DEFAULT_SUBQUERY_STEP, |d| d.as_micros() as SimTime);
            if range == 0 || step == 0 {
                return Err(PromqlError::Parse("a subquery needs a positive range and step".into()));
            }
            if range / step > MAX_SUBQUERY_STEPS {
                return unsupported(format!(
                    "a subquery of more than {MAX_SUBQUERY_STEPS} steps (a range of {} s in steps of {} s)",
                    range as f64 / crate::engine::SECOND as f64,
                    step as f64 / crate::engine::SECOND as f64
                ));
            }
            let expr = Box::new(lower(&sq.expr)?);
            let matrix =
                Matrix::Subquery { expr, step, offset: offset_micros(&sq.offset), at: at_modifier(&sq.at) };
            Ok((matrix, range, Labels::new()))
        }
        _ => Err(PromqlError::Parse(format!("`{name}` expects a range vector"))),
    }
}

fn string_arg(arg: &Expr, name: &str) -> Result<String, PromqlError> {
    match arg {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        Expr::Paren(p) => string_arg(&p.expr, name),
        _ => Err(PromqlError::Parse(format!("`{name}` expects a string literal here"))),
    }
}

fn label_name_arg(arg: &Expr, name: &str) -> Result<String, PromqlError> {
    let label = string_arg(arg, name)?;
    let mut chars = label.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(PromqlError::Parse(format!("invalid label name {label:?} in `{name}`")));
    }
    Ok(label)
}

fn arity(name: &str, args: &[Box<Expr>], min: usize, max: usize) -> Result<(), PromqlError> {
    if args.len() < min || args.len() > max {
        let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(PromqlError::Parse(format!("`{name}` expects {want} arguments, got {}", args.len())));
    }
    Ok(())
}

fn lower_call(name: &str, args: &[Box<Expr>]) -> Result<Node, PromqlError> {
    if let Some(func) = RangeFunc::from_name(name) {
        let (param, matrix_arg) = match func {
            RangeFunc::QuantileOverTime => {
                arity(name, args, 2, 2)?;
                (Some(Box::new(lower(&args[0])?)), &args[1])
            }
            RangeFunc::PredictLinear => {
                arity(name, args, 2, 2)?;
                (Some(Box::new(lower(&args[1])?)), &args[0])
            }
            _ => {
                arity(name, args, 1, 1)?;
                (None, &args[0])
            }
        };
        let (matrix, range, absent) = lower_matrix(matrix_arg, name)?;
        return Ok(Node::Range { func, matrix, range, param, absent });
    }
    let math = |f: fn(f64) -> f64| Func::Math(f);
    let func = match name {
        "abs" => math(f64::abs),
        "ceil" => math(f64::ceil),
        "floor" => math(f64::floor),
        "exp" => math(f64::exp),
        "ln" => math(f64::ln),
        "log2" => math(f64::log2),
        "log10" => math(f64::log10),
        "sqrt" => math(f64::sqrt),
        "sgn" => math(|v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        "deg" => math(f64::to_degrees),
        "rad" => math(f64::to_radians),
        "sin" => math(f64::sin),
        "cos" => math(f64::cos),
        "tan" => math(f64::tan),
        "asin" => math(f64::asin),
        "acos" => math(f64::acos),
        "atan" => math(f64::atan),
        "sinh" => math(f64::sinh),
        "cosh" => math(f64::cosh),
        "tanh" => math(f64::tanh),
        "asinh" => math(f64::asinh),
        "acosh" => math(f64::acosh),
        "atanh" => math(f64::atanh),
        "pi" => {
            arity(name, args, 0, 0)?;
            return Ok(Node::Number(std::f64::consts::PI));
        }
        "round" => Func::Round,
        "clamp" => Func::Clamp,
        "clamp_min" => Func::ClampMin,
        "clamp_max" => Func::ClampMax,
        "vector" => Func::Vector,
        "scalar" => Func::Scalar,
        "time" => Func::Time,
        "timestamp" => Func::Timestamp,
        "sort" => Func::Sort,
        "sort_desc" => Func::SortDesc,
        "day_of_month" => Func::Date(DatePart::DayOfMonth),
        "day_of_week" => Func::Date(DatePart::DayOfWeek),
        "day_of_year" => Func::Date(DatePart::DayOfYear),
        "days_in_month" => Func::Date(DatePart::DaysInMonth),
        "hour" => Func::Date(DatePart::Hour),
        "minute" => Func::Date(DatePart::Minute),
        "month" => Func::Date(DatePart::Month),
        "year" => Func::Date(DatePart::Year),
        "histogram_quantile" => {
            arity(name, args, 2, 2)?;
            return Ok(Node::HistogramQuantile {
                phi: Box::new(lower(&args[0])?),
                expr: Box::new(lower(&args[1])?),
            });
        }
        "absent" => {
            arity(name, args, 1, 1)?;
            let expr = Box::new(lower(&args[0])?);
            let labels = match expr.as_ref() {
                Node::Instant(sel) => absent_labels(sel),
                _ => Labels::new(),
            };
            return Ok(Node::Absent { expr, labels });
        }
        "label_replace" => {
            arity(name, args, 5, 5)?;
            let pattern = string_arg(&args[4], name)?;
            let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
                PromqlError::Parse(format!("invalid regular expression in `label_replace`: {e}"))
            })?;
            return Ok(Node::LabelReplace {
                expr: Box::new(lower(&args[0])?),
                dst: label_name_arg(&args[1], name)?,
                replacement: string_arg(&args[2], name)?,
                src: string_arg(&args[3], name)?,
                regex,
            });
        }
        "label_join" => {
            if args.len() < 3 {
                return Err(PromqlError::Parse("`label_join` expects at least 3 arguments".into()));
            }
            let src = args[3..].iter().map(|a| string_arg(a, name)).collect::<Result<_, _>>()?;
            return Ok(Node::LabelJoin {
                expr: Box::new(lower(&args[0])?),
                dst: label_name_arg(&args[1], name)?,
                separator: string_arg(&args[2], name)?,
                src,
            });
        }
        other => return unsupported_at(format!("function `{other}`"), other),
    };
    let (min, max) = match func {
        Func::Time => (0, 0),
        Func::Date(_) => (0, 1),
        Func::Round => (1, 2),
        Func::ClampMin | Func::ClampMax => (2, 2),
        Func::Clamp => (3, 3),
        _ => (1, 1),
    };
    arity(name, args, min, max)?;
    let args = args.iter().map(|a| lower(a)).collect::<Result<Vec<_>, _>>()?;
    Ok(Node::Call { func, args })
}

fn lower(expr: &Expr) -> Result<Node, PromqlError> {
    Ok(match expr {
        Expr::NumberLiteral(n) => Node::Number(n.val),
        Expr::Paren(p) => lower(&p.expr)?,
        Expr::Unary(u) => Node::Negate(Box::new(lower(&u.expr)?)),
        Expr::VectorSelector(vs) => Node::Instant(selector(vs)?),
        Expr::MatrixSelector(_) => {
            return unsupported("a range selector outside of a function that takes a range vector");
        }
        Expr::Subquery(_) => {
            return unsupported("a subquery outside of a function that takes a range vector");
        }
        Expr::StringLiteral(_) => return unsupported("a string literal outside a function's argument"),
        Expr::Extension(_) => return unsupported("an extension expression"),
        Expr::Call(call) => lower_call(call.func.name, &call.args.args)?,
        Expr::Aggregate(agg) => {
            let name = agg.op.to_string().to_lowercase();
            let op = match name.as_str() {
                "sum" => AggOp::Sum,
                "avg" => AggOp::Avg,
                "min" => AggOp::Min,
                "max" => AggOp::Max,
                "count" => AggOp::Count,
                "group" => AggOp::Group,
                "stddev" => AggOp::Stddev,
                "stdvar" => AggOp::Stdvar,
                "topk" => AggOp::Topk,
                "bottomk" => AggOp::Bottomk,
                "quantile" => AggOp::Quantile,
                "count_values" => {
                    let param = agg
                        .param
                        .as_deref()
                        .ok_or_else(|| PromqlError::Parse("`count_values` expects a label name".into()))?;
                    AggOp::CountValues(label_name_arg(param, "count_values")?)
                }
                other => return unsupported_at(format!("aggregation `{other}`"), other),
            };
            let param = match (&op, &agg.param) {
                (AggOp::Topk | AggOp::Bottomk | AggOp::Quantile, Some(p)) => Some(Box::new(lower(p)?)),
                (AggOp::Topk | AggOp::Bottomk | AggOp::Quantile, None) => {
                    return Err(PromqlError::Parse(format!("`{name}` expects a parameter")));
                }
                (AggOp::CountValues(_), _) => None,
                (_, Some(_)) => return Err(PromqlError::Parse(format!("`{name}` takes no parameter"))),
                (_, None) => None,
            };
            let grouping = match &agg.modifier {
                None => Grouping::By(Vec::new()),
                Some(m @ LabelModifier::Include(_)) => Grouping::By(label_list(m)),
                Some(m @ LabelModifier::Exclude(_)) => Grouping::Without(label_list(m)),
            };
            let expr = Box::new(lower(&agg.expr)?);
            let groups = match expr.as_ref() {
                Node::Range { matrix: Matrix::Select { cursor, .. }, .. } => format!("{cursor}|{grouping:?}"),
                _ => String::new(),
            };
            Node::Aggregate { op, grouping, expr, param, groups }
        }
        Expr::Binary(b) => {
            let op = match b.op.to_string().to_lowercase().as_str() {
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Mod,
                "^" => BinOp::Pow,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                ">" => BinOp::Gt,
                "<" => BinOp::Lt,
                ">=" => BinOp::Ge,
                "<=" => BinOp::Le,
                "and" => BinOp::And,
                "or" => BinOp::Or,
                "unless" => BinOp::Unless,
                "atan2" => BinOp::Atan2,
                other => return unsupported_at(format!("operator `{other}`"), other),
            };
            let mut matching = Matching::All;
            let mut card = Card::OneToOne;
            let mut return_bool = false;
            if let Some(m) = &b.modifier {
                card = match &m.card {
                    VectorMatchCardinality::ManyToOne(l) => Card::ManyToOne(l.labels.to_vec()),
                    VectorMatchCardinality::OneToMany(l) => Card::OneToMany(l.labels.to_vec()),
                    VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => Card::OneToOne,
                };
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return unsupported_at("the `fill` modifier", "fill");
                }
                matching = match &m.matching {
                    None => Matching::All,
                    Some(l @ LabelModifier::Include(_)) => Matching::On(label_list(l)),
                    Some(l @ LabelModifier::Exclude(_)) => Matching::Ignoring(label_list(l)),
                };
                return_bool = m.return_bool;
            }
            Node::Binary(Box::new(Binary {
                op,
                lhs: lower(&b.lhs)?,
                rhs: lower(&b.rhs)?,
                matching,
                card,
                return_bool,
            }))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// The result of an instant query. Vectors are sorted by label set.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

impl Value {
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar(v) => Some(*v),
            Value::Vector(_) => None,
        }
    }

    pub fn as_vector(&self) -> Option<&[(Labels, f64)]> {
        match self {
            Value::Vector(v) => Some(v),
            Value::Scalar(_) => None,
        }
    }
}

type Vector = Vec<(Labels, f64)>;

/// Two queries are equal when they were parsed from the same text.
impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Query {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The metric names its selectors read, or `None` when a selector does not pin the name
    /// (`{__name__=~"http_.*"}`, `{job="x"}`).
    pub fn metric_names(&self) -> Option<std::collections::BTreeSet<String>> {
        let mut names = std::collections::BTreeSet::new();
        collect_names(&self.root, &mut names).then_some(names)
    }

    /// For `LHS op NUMBER` (a comparison without `bool` against a number, the usual alert
    /// shape), the left side, the operator and the number: what the alert compares.
    pub fn threshold(&self) -> Option<(Query, &'static str, f64)> {
        let Node::Binary(b) = self.root.as_ref() else { return None };
        let Node::Number(n) = b.rhs else { return None };
        if !b.op.is_comparison() || b.return_bool {
            return None;
        }
        let op = match b.op {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Lt => "<",
            BinOp::Ge => ">=",
            _ => "<=",
        };
        Some((Query { source: self.source.clone(), root: Box::new(b.lhs.clone()) }, op, n))
    }

    /// Whether the query's result is a scalar (a number, or arithmetic on numbers only) rather
    /// than an instant vector. Known from the expression alone, as PromQL is typed.
    pub fn is_scalar(&self) -> bool {
        is_scalar(&self.root)
    }

    /// Evaluates the query at `at`, as a Prometheus instant query.
    pub fn eval_instant(&self, store: &Store, at: SimTime) -> Result<Value, PromqlError> {
        let mut value = eval(&self.root, store, Ctx { t: at as i128, query: at as i128 })?;
        let sorted = matches!(*self.root, Node::Call { func: Func::Sort | Func::SortDesc, .. });
        if let Value::Vector(v) = &mut value
            && !sorted
        {
            v.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(value)
    }
}

fn is_scalar(node: &Node) -> bool {
    match node {
        Node::Number(_) => true,
        Node::Negate(inner) => is_scalar(inner),
        Node::Binary(b) => is_scalar(&b.lhs) && is_scalar(&b.rhs),
        Node::Call { func: Func::Scalar | Func::Time, .. } => true,
        _ => false,
    }
}

/// Adds the names `node`'s selectors pin; false if one does not pin its name.
fn collect_names(node: &Node, names: &mut std::collections::BTreeSet<String>) -> bool {
    let pinned = |sel: &Selector, names: &mut std::collections::BTreeSet<String>| match sel
        .matchers
        .iter()
        .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
    {
        Some(m) => {
            names.insert(m.value.clone());
            true
        }
        None => false,
    };
    let opt = |n: &Option<Box<Node>>, names: &mut _| n.as_ref().is_none_or(|n| collect_names(n, names));
    match node {
        Node::Number(_) => true,
        Node::Instant(sel) => pinned(sel, names),
        Node::Range { matrix, param, .. } => {
            let inner = match matrix {
                Matrix::Select { selector, .. } => pinned(selector, names),
                Matrix::Subquery { expr, .. } => collect_names(expr, names),
            };
            inner && opt(param, names)
        }
        Node::Aggregate { expr, param, .. } => collect_names(expr, names) && opt(param, names),
        Node::Negate(expr)
        | Node::Absent { expr, .. }
        | Node::LabelReplace { expr, .. }
        | Node::LabelJoin { expr, .. } => collect_names(expr, names),
        Node::Call { args, .. } => args.iter().all(|a| collect_names(a, names)),
        Node::HistogramQuantile { phi, expr } => collect_names(phi, names) && collect_names(expr, names),
        Node::Binary(b) => collect_names(&b.lhs, names) && collect_names(&b.rhs, names),
    }
}

fn matches(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.is_match(labels.get(&m.name).map_or("", String::as_str)))
}

fn without_name(mut labels: Labels) -> Labels {
    labels.remove(METRIC_NAME);
    labels
}

/// Prometheus refuses a result with two equal label sets (e.g. after dropping `__name__`).
fn check_unique(v: &Vector) -> Result<(), PromqlError> {
    let mut seen = HashSet::with_capacity(v.len());
    for (labels, _) in v {
        if !seen.insert(labels) {
            return Err(PromqlError::Eval(format!(
                "vector cannot contain metrics with the same labelset {}",
                fmt_labels(labels)
            )));
        }
    }
    Ok(())
}

fn fmt_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn vector(value: Value, what: &str) -> Result<Vector, PromqlError> {
    match value {
        Value::Vector(v) => Ok(v),
        Value::Scalar(_) => Err(PromqlError::Eval(format!("{what} expects an instant vector, got a scalar"))),
    }
}

fn scalar(value: Value, what: &str) -> Result<f64, PromqlError> {
    match value {
        Value::Scalar(v) => Ok(v),
        Value::Vector(_) => Err(PromqlError::Eval(format!("{what} expects a scalar, got an instant vector"))),
    }
}

fn eval_scalar(node: &Option<Box<Node>>, store: &Store, ctx: Ctx, what: &str) -> Result<f64, PromqlError> {
    match node {
        Some(n) => scalar(eval(n, store, ctx)?, what),
        None => Ok(f64::NAN),
    }
}

/// Which range functions keep the metric name (Prometheus 2.42: only `last_over_time`).
fn keeps_name(func: RangeFunc) -> bool {
    func == RangeFunc::LastOverTime
}

fn eval(node: &Node, store: &Store, ctx: Ctx) -> Result<Value, PromqlError> {
    Ok(match node {
        Node::Number(v) => Value::Scalar(*v),
        Node::Instant(sel) => {
            Value::Vector(instant_selector(sel, store, ctx).into_iter().map(|(l, _, v)| (l, v)).collect())
        }
        Node::Range { func: RangeFunc::AbsentOverTime, matrix, range, absent, .. } => {
            let mut any = false;
            for_each_range(matrix, *range, store, ctx, &mut |_, _, _, samples, _| {
                any |= !samples.is_empty()
            })?;
            Value::Vector(if any { Vec::new() } else { vec![(absent.clone(), 1.0)] })
        }
        Node::Range { func, matrix, range, param, .. } => {
            let param = eval_scalar(param, store, ctx, "the function's parameter")?;
            let mut out = Vec::new();
            let name_pinned = match matrix {
                Matrix::Select { selector, .. } => selector.name_pinned,
                Matrix::Subquery { .. } => false,
            };
            for_each_range(matrix, *range, store, ctx, &mut |_, labels, window, samples, no_resets| {
                if let Some(v) = range_fn(*func, samples, window, param, no_resets, ctx.t) {
                    let labels =
                        if keeps_name(*func) { labels.clone() } else { without_name(labels.clone()) };
                    out.push((labels, v));
                }
            })?;
            if !name_pinned || keeps_name(*func) {
                check_unique(&out)?;
            }
            Value::Vector(out)
        }
        Node::Negate(inner) => match eval(inner, store, ctx)? {
            Value::Scalar(v) => Value::Scalar(-v),
            Value::Vector(v) => {
                let out: Vector = v.into_iter().map(|(l, x)| (without_name(l), -x)).collect();
                check_unique(&out)?;
                Value::Vector(out)
            }
        },
        Node::Aggregate { op, grouping, expr, param, groups } => {
            // `sum(rate(x[5m]))`, `sum by (le) (rate(…))`: the common shape. Each series'
            // value goes straight into its group, known by index, without touching its labels.
            if let Node::Range {
                func, matrix: Matrix::Select { selector, cursor }, range, param: fparam, ..
            } = expr.as_ref()
                && selector.name_pinned
                && op.streams()
                && *func != RangeFunc::AbsentOverTime
            {
                let fparam = eval_scalar(fparam, store, ctx, "the function's parameter")?;
                let mut cache = store.groups.borrow_mut();
                if !cache.contains_key(groups) {
                    cache.insert(groups.clone(), Groups::default());
                }
                let g = cache.get_mut(groups).expect("just inserted");
                store.with_selected(selector, |ids| g.extend(grouping, &store.series, &ids[g.of.len()..]));
                let mut acc: Vec<Group> = Vec::with_capacity(g.labels.len());
                acc.resize_with(g.labels.len(), Group::default);
                range_values(selector, cursor, *range, store, ctx, |j, _, window, samples, no_resets| {
                    if let Some(v) = range_fn(*func, samples, window, fparam, no_resets, ctx.t) {
                        acc[g.of[j] as usize].add(op, v);
                    }
                });
                let out = g
                    .sorted
                    .iter()
                    .map(|&k| (k as usize, &acc[k as usize]))
                    .filter(|(_, acc)| acc.count > 0)
                    .map(|(k, acc)| (g.labels[k].clone(), acc.value(op)))
                    .collect();
                return Ok(Value::Vector(out));
            }
            let param = eval_scalar(param, store, ctx, "the aggregation's parameter")?;
            let input = vector(eval(expr, store, ctx)?, "an aggregation")?;
            Value::Vector(aggregate(op, grouping, param, input))
        }
        Node::HistogramQuantile { phi, expr } => {
            let phi = scalar(eval(phi, store, ctx)?, "histogram_quantile's quantile")?;
            let input = vector(eval(expr, store, ctx)?, "histogram_quantile")?;
            Value::Vector(histogram_quantile(phi, input)?)
        }
        Node::Call { func, args } => call(*func, args, store, ctx)?,
        Node::Absent { expr, labels } => {
            let input = vector(eval(expr, store, ctx)?, "absent")?;
            Value::Vector(if input.is_empty() { vec![(labels.clone(), 1.0)] } else { Vec::new() })
        }
        Node::LabelReplace { expr, dst, replacement, src, regex } => {
            let input = vector(eval(expr, store, ctx)?, "label_replace")?;
            let mut out = Vec::with_capacity(input.len());
            for (mut labels, v) in input {
                let value = labels.get(src).map_or("", String::as_str);
                if let Some(caps) = regex.captures(value) {
                    let mut res = String::new();
                    caps.expand(replacement, &mut res);
                    set_label(&mut labels, dst, res);
                }
                out.push((labels, v));
            }
            check_unique(&out)?;
            Value::Vector(out)
        }
        Node::LabelJoin { expr, dst, separator, src } => {
            let input = vector(eval(expr, store, ctx)?, "label_join")?;
            let mut out = Vec::with_capacity(input.len());
            for (mut labels, v) in input {
                let joined = src
                    .iter()
                    .map(|k| labels.get(k).map_or("", String::as_str))
                    .collect::<Vec<_>>()
                    .join(separator);
                set_label(&mut labels, dst, joined);
                out.push((labels, v));
            }
            check_unique(&out)?;
            Value::Vector(out)
        }
        Node::Binary(b) => binary(b, eval(&b.lhs, store, ctx)?, eval(&b.rhs, store, ctx)?)?,
    })
}

/// A function of instant vectors and scalars.
fn call(func: Func, args: &[Node], store: &Store, ctx: Ctx) -> Result<Value, PromqlError> {
    let arg = |i: usize| eval(&args[i], store, ctx);
    let each = |v: Vector, f: &dyn Fn(f64) -> f64| -> Result<Value, PromqlError> {
        let out: Vector = v.into_iter().map(|(l, x)| (without_name(l), f(x))).collect();
        check_unique(&out)?;
        Ok(Value::Vector(out))
    };
    Ok(match func {
        Func::Math(f) => each(vector(arg(0)?, "the function")?, &f)?,
        Func::Round => {
            let v = vector(arg(0)?, "round")?;
            let to_nearest = if args.len() > 1 { scalar(arg(1)?, "round's to_nearest")? } else { 1.0 };
            let inverse = 1.0 / to_nearest;
            each(v, &|x| (x * inverse + 0.5).floor() / inverse)?
        }
        Func::Clamp | Func::ClampMin | Func::ClampMax => {
            let v = vector(arg(0)?, "clamp")?;
            let (lo, hi) = match func {
                Func::Clamp => (scalar(arg(1)?, "clamp's min")?, scalar(arg(2)?, "clamp's max")?),
                Func::ClampMin => (scalar(arg(1)?, "clamp_min's min")?, f64::INFINITY),
                _ => (f64::NEG_INFINITY, scalar(arg(1)?, "clamp_max's max")?),
            };
            if hi < lo {
                return Ok(Value::Vector(Vec::new()));
            }
            each(v, &|x| lo.max(hi.min(x)))?
        }
        Func::Vector => Value::Vector(vec![(Labels::new(), scalar(arg(0)?, "vector")?)]),
        Func::Scalar => {
            let v = vector(arg(0)?, "scalar")?;
            Value::Scalar(if v.len() == 1 { v[0].1 } else { f64::NAN })
        }
        Func::Time => Value::Scalar(functions::seconds(ctx.t)),
        Func::Timestamp => {
            // Of a selector: each sample's own time; of anything else, the evaluation time.
            let out: Vector = match &args[0] {
                Node::Instant(sel) => instant_selector(sel, store, ctx)
                    .into_iter()
                    .map(|(l, t, _)| (without_name(l), functions::seconds(t as i128)))
                    .collect(),
                _ => {
                    let now = functions::seconds(ctx.t);
                    vector(arg(0)?, "timestamp")?.into_iter().map(|(l, _)| (without_name(l), now)).collect()
                }
            };
            check_unique(&out)?;
            Value::Vector(out)
        }
        Func::Sort | Func::SortDesc => {
            let mut v = vector(arg(0)?, "sort")?;
            v.sort_by(|a, b| a.0.cmp(&b.0));
            let desc = matches!(func, Func::SortDesc);
            // NaN first, as Prometheus's value heaps order it.
            v.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ if desc => b.1.partial_cmp(&a.1).expect("no NaN"),
                _ => a.1.partial_cmp(&b.1).expect("no NaN"),
            });
            Value::Vector(v)
        }
        Func::Date(part) => {
            let v = if args.is_empty() {
                vec![(Labels::new(), functions::seconds(ctx.t))]
            } else {
                vector(arg(0)?, "the date function")?
            };
            let out: Vector = v
                .into_iter()
                .filter_map(|(l, x)| functions::date_part(part, x).map(|d| (without_name(l), d)))
                .collect();
            check_unique(&out)?;
            Value::Vector(out)
        }
    })
}

/// `label_replace`'s and `label_join`'s write: an empty value removes the label.
fn set_label(labels: &mut Labels, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_string(), value);
    }
}

/// A range function's value over one series' samples in `window` (None: no element).
/// `no_resets`: the caller knows no sample in the window is below the one before it.
/// `now` is the evaluation instant (`predict_linear` predicts from it, whatever the `@`).
fn range_fn(
    func: RangeFunc,
    samples: &[Sample],
    window: Window,
    param: f64,
    no_resets: bool,
    now: i128,
) -> Option<f64> {
    let kind = match func {
        RangeFunc::Rate => Some(RateKind::Rate),
        RangeFunc::Increase => Some(RateKind::Increase),
        RangeFunc::Delta => Some(RateKind::Delta),
        _ => None,
    };
    if let Some(kind) = kind {
        return if no_resets {
            rate::extrapolated_rate_without_resets(samples, window, kind)
        } else {
            rate::extrapolated_rate(samples, window, kind)
        };
    }
    if samples.is_empty() {
        return None;
    }
    let values = || samples.iter().map(|s| s.v);
    Some(match func {
        RangeFunc::Irate => return rate::irate(samples),
        RangeFunc::Idelta => return rate::idelta(samples),
        RangeFunc::SumOverTime => functions::sum(values()),
        RangeFunc::CountOverTime => samples.len() as f64,
        RangeFunc::AvgOverTime => functions::avg(samples),
        RangeFunc::MinOverTime => functions::extreme(samples, false),
        RangeFunc::MaxOverTime => functions::extreme(samples, true),
        RangeFunc::LastOverTime => samples[samples.len() - 1].v,
        RangeFunc::PresentOverTime => 1.0,
        RangeFunc::StdvarOverTime => functions::variance(values()),
        RangeFunc::StddevOverTime => functions::variance(values()).sqrt(),
        RangeFunc::QuantileOverTime => functions::quantile(param, values().collect()),
        RangeFunc::Changes => functions::changes(samples),
        RangeFunc::Resets => functions::resets(samples),
        RangeFunc::Deriv | RangeFunc::PredictLinear if samples.len() < 2 => return None,
        RangeFunc::Deriv => functions::linear_regression(samples, samples[0].t as i128).0,
        RangeFunc::PredictLinear => {
            let (slope, intercept) = functions::linear_regression(samples, now);
            slope * param + intercept
        }
        RangeFunc::Rate | RangeFunc::Increase | RangeFunc::Delta | RangeFunc::AbsentOverTime => {
            unreachable!("handled above")
        }
    })
}

/// A callback over one series' window: its position, labels, window, samples in the window,
/// and whether it is known to hold no counter reset.
type SeriesWindowFn<'a> = dyn FnMut(usize, &Labels, Window, &[Sample], bool) + 'a;

/// Calls `f` with each series of the range vector `matrix` at `ctx`: its position, labels,
/// window and samples in the window, and whether it is known to hold no counter reset.
fn for_each_range(
    matrix: &Matrix,
    range: SimTime,
    store: &Store,
    ctx: Ctx,
    f: &mut SeriesWindowFn,
) -> Result<(), PromqlError> {
    match matrix {
        Matrix::Select { selector, cursor } => {
            range_values(selector, cursor, range, store, ctx, |j, i, window, samples, no_resets| {
                f(j, &store.series[i].labels, window, samples, no_resets)
            });
        }
        Matrix::Subquery { expr, step, offset, at } => {
            let Some(end) = ctx.end(*at, *offset) else { return Ok(()) };
            let window = Window::new(end, range);
            // The steps: multiples of `step` in the left-open window (end − range, end].
            let start = end as i128 - range as i128;
            let step = *step as i128;
            let mut t = step * start.div_euclid(step);
            if t <= start {
                t += step;
            }
            let mut series: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
            // Steps before t = 0 are evaluated too (their selectors may have an `@`), but
            // only those at or after it can be samples of a series.
            while t <= end as i128 {
                let inner = Ctx { t, query: ctx.query };
                for (labels, v) in vector(eval(expr, store, inner)?, "a subquery")? {
                    series.entry(labels).or_default().push(Sample::new(t.max(0) as SimTime, v));
                }
                t += step;
            }
            for (j, (labels, samples)) in series.iter().enumerate() {
                f(j, labels, window, samples, false);
            }
        }
    }
    Ok(())
}

/// Each series `selector` selects, with its samples in the window `range` long that ends at
/// `ctx` (after `offset` and `@`): its position among the selected series, its index in the
/// store, the window, the samples and whether none of them is a counter reset.
fn range_values(
    selector: &Selector,
    cursor_key: &str,
    range: SimTime,
    store: &Store,
    ctx: Ctx,
    mut f: impl FnMut(usize, usize, Window, &[Sample], bool),
) {
    let Some(end) = ctx.end(selector.at, selector.offset) else { return };
    let window = Window::new(end, range);
    let mut cursors = store.cursors.borrow_mut();
    if !cursors.contains_key(cursor_key) {
        cursors.insert(cursor_key.to_string(), Cursors::default());
    }
    let cursors = cursors.get_mut(cursor_key).expect("just inserted");
    let forward = end >= cursors.end;
    cursors.end = end;
    store.with_selected(selector, |ids| {
        cursors.first.resize(ids.len(), 0);
        for (j, &i) in ids.iter().enumerate() {
            let series = &store.series[i];
            let cursor = &mut cursors.first[j];
            if forward && *cursor as usize == series.samples.len() {
                // Every sample lay before the last window, so before this one too: a series
                // that has ended costs no look at its samples.
                continue;
            }
            let (first, last) = window_bounds(&series.samples, window, cursor);
            // The latest reset lies before the window: no sample in it is below the one
            // before, and only the outer two need reading.
            f(j, i, window, &series.samples[first..last], series.last_reset <= first);
        }
    });
}

/// The samples of `samples` in `window`, as `first..last`: what [`Window::select`] picks,
/// found by stepping `cursor` (the window's first sample at the last evaluation) forward
/// when the window moved forward by a few samples, and by searching otherwise.
fn window_bounds(samples: &[Sample], window: Window, cursor: &mut u32) -> (usize, usize) {
    let before = |s: &Sample| s.t + window.range <= window.end;
    let mut first = *cursor as usize;
    if first > samples.len() || (first > 0 && !before(&samples[first - 1])) {
        first = samples.partition_point(before);
    } else {
        let mut steps = 0;
        while first < samples.len() && before(&samples[first]) {
            first += 1;
            steps += 1;
            if steps == 4 {
                first += samples[first..].partition_point(before);
                break;
            }
        }
    }
    *cursor = first as u32;
    let last = match samples.last() {
        Some(s) if s.t <= window.end => samples.len(),
        _ => samples.partition_point(|s| s.t <= window.end),
    };
    (first, last.max(first))
}

/// A series' group key once a range function has dropped its name.
fn group_labels_unnamed(grouping: &Grouping, labels: &Labels) -> Labels {
    match grouping {
        Grouping::By(keep) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != METRIC_NAME && keep.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Grouping::Without(_) => group_labels(grouping, labels),
    }
}

/// Each selected series' latest sample in the lookback window: its labels, time and value.
fn instant_selector(sel: &Selector, store: &Store, ctx: Ctx) -> Vec<(Labels, SimTime, f64)> {
    let Some(t) = ctx.end(sel.at, sel.offset) else {
        return Vec::new();
    };
    let window = Window::new(t, LOOKBACK_DELTA);
    store
        .selected(sel)
        .into_iter()
        .map(|i| &store.series[i])
        .filter_map(|s| window.select(&s.samples).last().map(|last| (s.labels.clone(), last.t, last.v)))
        .collect()
}

/// Kahan–Neumaier summation step, as Prometheus's `kahanSumInc`.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn group_labels(grouping: &Grouping, labels: &Labels) -> Labels {
    match grouping {
        Grouping::By(keep) => {
            labels.iter().filter(|(k, _)| keep.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        Grouping::Without(drop) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != METRIC_NAME && !drop.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[derive(Clone, Debug, Default)]
struct Group {
    sum: f64,
    c: f64,
    count: usize,
    min: f64,
    max: f64,
    /// `avg` after its Kahan sum overflowed: the running mean and its compensation.
    mean: Option<(f64, f64)>,
    /// `stddev`/`stdvar`: Welford's running mean and sum of squared deviations.
    w_mean: f64,
    w_m2: f64,
}

impl Group {
    /// Adds one element's value, as Prometheus's aggregation does, in input order.
    fn add(&mut self, op: &AggOp, v: f64) {
        if self.count == 0 {
            *self = Group { sum: v, c: 0.0, count: 1, min: v, max: v, mean: None, w_mean: v, w_m2: 0.0 };
            return;
        }
        self.count += 1;
        let n = self.count as f64;
        if matches!(op, AggOp::Stddev | AggOp::Stdvar) {
            let delta = v - self.w_mean;
            self.w_mean += delta / n;
            self.w_m2 += delta * (v - self.w_mean);
        }
        if *op == AggOp::Avg {
            // Prometheus's `avg`: a Kahan sum until it overflows, then an incremental mean
            // (which cannot overflow for finite inputs).
            if self.mean.is_none() {
                let (sum, c) = kahan_inc(v, self.sum, self.c);
                if sum.is_infinite() {
                    self.mean = Some((self.sum / (n - 1.0), self.c / (n - 1.0)));
                } else {
                    (self.sum, self.c) = (sum, c);
                }
            }
            if let Some((mean, c)) = self.mean {
                let q = (n - 1.0) / n;
                self.mean = Some(kahan_inc(v / n, q * mean, q * c));
            }
        } else {
            (self.sum, self.c) = kahan_inc(v, self.sum, self.c);
        }
        // A NaN is replaced by any later number.
        if self.max < v || self.max.is_nan() {
            self.max = v;
        }
        if self.min > v || self.min.is_nan() {
            self.min = v;
        }
    }

    fn value(&self, op: &AggOp) -> f64 {
        let n = self.count as f64;
        match op {
            AggOp::Group => 1.0,
            AggOp::Stdvar => self.w_m2 / n,
            AggOp::Stddev => (self.w_m2 / n).sqrt(),
            AggOp::Sum => self.sum + self.c,
            AggOp::Avg => match self.mean {
                Some((mean, c)) => mean + c,
                None => self.sum / n + self.c / n,
            },
            AggOp::Min => self.min,
            AggOp::Max => self.max,
            AggOp::Count => n,
            AggOp::Topk | AggOp::Bottomk | AggOp::Quantile | AggOp::CountValues(_) => {
                unreachable!("not a streaming aggregation")
            }
        }
    }
}

impl Groups {
    /// Puts the newly matched series `ids` in their groups (new groups are added, and the
    /// order of all is updated).
    fn extend(&mut self, grouping: &Grouping, series: &[Series], ids: &[usize]) {
        if ids.is_empty() {
            return;
        }
        for &i in ids {
            let key = group_labels_unnamed(grouping, &series[i].labels);
            let k = match self.index.get(&key) {
                Some(&k) => k,
                None => {
                    let k = self.labels.len() as u32;
                    self.index.insert(key.clone(), k);
                    self.labels.push(key);
                    k
                }
            };
            self.of.push(k);
        }
        self.sorted = (0..self.labels.len() as u32).collect();
        self.sorted.sort_by(|&a, &b| self.labels[a as usize].cmp(&self.labels[b as usize]));
    }
}

/// An aggregation over `input`; `param` is `k` of `topk`/`bottomk` and φ of `quantile`.
fn aggregate(op: &AggOp, grouping: &Grouping, param: f64, input: Vector) -> Vector {
    if op.streams() {
        let mut groups: BTreeMap<Labels, Group> = BTreeMap::new();
        for (labels, v) in input {
            groups.entry(group_labels(grouping, &labels)).or_default().add(op, v);
        }
        return groups.into_iter().map(|(labels, g)| (labels, g.value(op))).collect();
    }
    if let AggOp::CountValues(label) = op {
        // Each element gets its value as `label` first, which joins the grouping (and may
        // overwrite a label of the series), as Prometheus does; then it is a `count`.
        let grouping = match grouping {
            Grouping::By(keep) => Grouping::By(keep.iter().cloned().chain([label.clone()]).collect()),
            Grouping::Without(drop) => {
                Grouping::Without(drop.iter().filter(|k| *k != label).cloned().collect())
            }
        };
        let input = input
            .into_iter()
            .map(|(mut labels, v)| {
                labels.insert(label.clone(), functions::format_value(v));
                (labels, v)
            })
            .collect();
        return aggregate(&AggOp::Count, &grouping, param, input);
    }
    // Each group's elements, in input order.
    let mut groups: BTreeMap<Labels, Vector> = BTreeMap::new();
    for (labels, v) in input {
        groups.entry(group_labels(grouping, &labels)).or_default().push((labels, v));
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        match op {
            AggOp::Quantile => {
                out.push((key, functions::quantile(param, members.iter().map(|m| m.1).collect())))
            }
            AggOp::Topk | AggOp::Bottomk => {
                // k is truncated to an integer; below 1 selects nothing. NaN ranks last.
                if param.is_nan() || param < 1.0 {
                    continue;
                }
                let k = (param.min(members.len() as f64)) as usize;
                let top = matches!(op, AggOp::Topk);
                let mut ranked = members;
                ranked.sort_by(|a, b| {
                    let order = match (a.1.is_nan(), b.1.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if top => b.1.partial_cmp(&a.1).expect("no NaN"),
                        _ => a.1.partial_cmp(&b.1).expect("no NaN"),
                    };
                    order.then_with(|| a.0.cmp(&b.0))
                });
                out.extend(ranked.into_iter().take(k));
            }
            _ => unreachable!("streaming aggregations are handled above"),
        }
    }
    out
}

/// Prometheus's `smallDeltaTolerance`.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Prometheus's `almost.Equal`: relative difference below `epsilon`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// `histogram_quantile` over classic buckets: series are grouped by their labels without `le`
/// (the name included); series without a parseable `le` are ignored. The results drop
/// `__name__`, so two histograms that differ only by name are an error, as upstream.
fn histogram_quantile(phi: f64, input: Vector) -> Result<Vector, PromqlError> {
    let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    for (mut labels, v) in input {
        let Some(upper) = labels.remove(BUCKET_LABEL).and_then(|le| le.parse::<f64>().ok()) else {
            continue;
        };
        groups.entry(labels).or_default().push((upper, v));
    }
    let out: Vector = groups
        .into_iter()
        .map(|(labels, buckets)| (without_name(labels), bucket_quantile(phi, buckets)))
        .collect();
    check_unique(&out)?;
    Ok(out)
}

/// Prometheus's `BucketQuantile`: buckets are `(upper bound, cumulative count)`.
pub fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    match buckets.last() {
        Some(&(upper, _)) if upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // Equal upper bounds (`0.2` and `2e-1`) are one bucket.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (upper, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    let mut buckets = merged;
    // Ignore floating-point noise between neighbours, then remove any decrease.
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) || curr < prev {
            b.1 = prev;
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = buckets.len();
    let b = buckets[..n - 1].partition_point(|bucket| bucket.1 < rank);
    if b == n - 1 {
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let bucket_end = buckets[b].0;
    let mut count = buckets[b].1;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

fn signature(matching: &Matching, labels: &Labels) -> Labels {
    let keep = |k: &String| match matching {
        Matching::All => k != METRIC_NAME,
        Matching::On(on) => on.contains(k),
        Matching::Ignoring(ignored) => k != METRIC_NAME && !ignored.contains(k),
    };
    labels.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn binary(b: &Binary, lhs: Value, rhs: Value) -> Result<Value, PromqlError> {
    let op = b.op;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            if op.is_set() {
                return Err(PromqlError::Eval("set operators need instant vectors on both sides".into()));
            }
            let (v, keep) = op.apply(l, r);
            if op.is_comparison() && !b.return_bool {
                return Err(PromqlError::Eval(
                    "comparisons between scalars must use the `bool` modifier".into(),
                ));
            }
            Ok(Value::Scalar(if op.is_comparison() { f64::from(u8::from(keep)) } else { v }))
        }
        (Value::Vector(v), Value::Scalar(s)) => vector_scalar(b, v, s, false),
        (Value::Scalar(s), Value::Vector(v)) => vector_scalar(b, v, s, true),
        (Value::Vector(l), Value::Vector(r)) => {
            if op.is_set() {
                Ok(Value::Vector(set_operation(op, &b.matching, l, r)))
            } else {
                vector_vector(b, l, r).map(Value::Vector)
            }
        }
    }
}

/// `swapped`: the scalar is on the left.
fn vector_scalar(b: &Binary, v: Vector, s: f64, swapped: bool) -> Result<Value, PromqlError> {
    if b.op.is_set() {
        return Err(PromqlError::Eval("set operators need instant vectors on both sides".into()));
    }
    let mut out = Vec::with_capacity(v.len());
    for (labels, x) in v {
        let (l, r) = if swapped { (s, x) } else { (x, s) };
        let (mut value, mut keep) = b.op.apply(l, r);
        // A comparison always returns the vector's value, whichever side it is on.
        if b.op.is_comparison() {
            value = x;
        }
        if b.return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            let labels = if !b.op.is_comparison() || b.return_bool { without_name(labels) } else { labels };
            out.push((labels, value));
        }
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn vector_vector(b: &Binary, lhs: Vector, rhs: Vector) -> Result<Vector, PromqlError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    // The "one" side is indexed by signature; with `group_right` that is the left side.
    let (many, one, swapped, include) = match &b.card {
        Card::OneToOne => (lhs, rhs, false, None),
        Card::ManyToOne(include) => (lhs, rhs, false, Some(include)),
        Card::OneToMany(include) => (rhs, lhs, true, Some(include)),
    };
    let mut index: HashMap<Labels, (Labels, f64)> = HashMap::with_capacity(one.len());
    for (labels, v) in one {
        let sig = signature(&b.matching, &labels);
        if let Some((other, _)) = index.get(&sig) {
            let side = if swapped { "left" } else { "right" };
            return Err(PromqlError::Eval(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: \
                 [{}, {}]; many-to-many matching not allowed: matching labels must be unique on one side",
                fmt_labels(&sig),
                fmt_labels(&labels),
                fmt_labels(other)
            )));
        }
        index.insert(sig, (labels, v));
    }
    let mut matched: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for (labels, x) in many {
        let sig = signature(&b.matching, &labels);
        let Some((one_labels, y)) = index.get(&sig) else {
            continue;
        };
        let (l, r) = if swapped { (*y, x) } else { (x, *y) };
        let (mut value, mut keep) = b.op.apply(l, r);
        if b.return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if !keep {
            continue;
        }
        let mut metric = labels;
        if !b.op.is_comparison() || b.return_bool {
            metric.remove(METRIC_NAME);
        }
        match include {
            None => match &b.matching {
                Matching::All => {}
                Matching::On(on) => metric.retain(|k, _| on.contains(k)),
                Matching::Ignoring(ignored) => metric.retain(|k, _| !ignored.contains(k)),
            },
            Some(include) => {
                for k in include {
                    match one_labels.get(k) {
                        Some(v) if !v.is_empty() => {
                            metric.insert(k.clone(), v.clone());
                        }
                        _ => {
                            metric.remove(k);
                        }
                    }
                }
            }
        }
        let unique = match include {
            None => matched.insert(sig),
            Some(_) => matched.insert(metric.clone()),
        };
        if !unique {
            return Err(PromqlError::Eval(match include {
                None => "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                    .into(),
                Some(_) => "multiple matches for labels: grouping labels must ensure unique matches".into(),
            }));
        }
        out.push((metric, value));
    }
    Ok(out)
}

fn set_operation(op: BinOp, matching: &Matching, lhs: Vector, rhs: Vector) -> Vector {
    let right: HashSet<Labels> = rhs.iter().map(|(l, _)| signature(matching, l)).collect();
    match op {
        BinOp::And => lhs.into_iter().filter(|(l, _)| right.contains(&signature(matching, l))).collect(),
        BinOp::Unless => lhs.into_iter().filter(|(l, _)| !right.contains(&signature(matching, l))).collect(),
        BinOp::Or => {
            let left: HashSet<Labels> = lhs.iter().map(|(l, _)| signature(matching, l)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|(l, _)| !left.contains(&signature(matching, l))));
            out
        }
        _ => unreachable!("not a set operator"),
    }
}

#[cfg(test)]
mod tests;
