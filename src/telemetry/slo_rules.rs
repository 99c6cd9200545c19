//! The standard SLO alert rule set as a Prometheus Operator `PrometheusRule`: the SRE
//! Workbook's multiwindow, multi-burn-rate alerts (chapter 5, "Alerting on SLOs", table 5-8).
//!
//! Given an SLO (an objective such as 99.9% over a period such as 30d) and the request counter
//! that measures it, [`slo_rules`] builds
//! - one recording rule per window, the error ratio
//!   `sum(rate(METRIC{SEL,ERR}[W])) / sum(rate(METRIC{SEL}[W]))` recorded as
//!   `NAME:error_ratio:rateW` for W in 5m, 30m, 1h, 2h, 6h, 1d and 3d (Prometheus's
//!   `level:metric:operations` convention, the SLO's name as the level);
//! - two alerting rules, `<Name>ErrorBudgetBurnPage` (`severity: page`) and
//!   `<Name>ErrorBudgetBurnTicket` (`severity: ticket`), each firing while the error ratio over
//!   both windows of one of its pairs exceeds `burn rate × budget`, budget = 1 − objective:
//!
//! | severity | long | short | budget spent | burn rate at 30d |
//! |----------|------|-------|--------------|------------------|
//! | page     | 1h   | 5m    | 2%           | 14.4             |
//! | page     | 6h   | 30m   | 5%           | 6                |
//! | ticket   | 1d   | 2h    | 10%          | 3                |
//! | ticket   | 3d   | 6h    | 10%          | 1                |
//!
//! The budget shares are what the Workbook fixes; the burn rate is `share × period / long
//! window`, so a 30d period gives the Workbook's burn rates exactly and another period keeps
//! the same shares of its own budget (28d: 13.44, 5.6, 2.8, 0.933…).
//!
//! [`SloRules::to_yaml`] writes the object by hand, deterministically, with the fields our
//! loader reads: `apiVersion`, `kind`, `metadata.name`, `spec.groups[].name`, `interval`,
//! `rules[]` with `record`/`alert`, `expr`, `for`, `labels` and `annotations`. Every
//! expression is checked against our PromQL subset ([`super::promql::parse`]) before it is
//! returned.

use super::promql;
use crate::engine::{HOUR, MILLISECOND, MINUTE, SECOND, SimTime};
use promql_parser::parser::{self as upstream, Expr};
use std::fmt::Write as _;

const DAY: SimTime = 24 * HOUR;

/// The request counter the rules read unless told otherwise.
pub const DEFAULT_METRIC: &str = "http_requests_total";
/// The matcher that picks failed requests unless told otherwise.
pub const DEFAULT_ERRORS: &str = r#"status=~"5..""#;
/// The longest window the rules use; the SLO period may not be shorter.
pub const LONGEST_WINDOW: SimTime = 3 * DAY;

/// What the rules are generated from.
#[derive(Clone, Debug, PartialEq)]
pub struct SloRuleSpec {
    /// Names the recorded series, the alerts and the PrometheusRule: `[a-z][a-z0-9_-]*`, at
    /// most 63 characters (a `-` is `_` in the recorded series' names, which cannot hold one).
    pub name: String,
    /// The objective as a ratio (99.9% → 0.999), strictly between 0 and 1.
    pub objective: f64,
    /// The SLO period (compliance window), at least [`LONGEST_WINDOW`].
    pub period: SimTime,
    /// The request counter ([`DEFAULT_METRIC`]).
    pub metric: String,
    /// Label matchers picking the service's requests, e.g. `app="myapp"`; may be empty.
    pub selector: String,
    /// Label matchers picking the failed ones among them ([`DEFAULT_ERRORS`]).
    pub errors: String,
    /// The group's `interval`; `None` leaves it to Prometheus's global `evaluation_interval`.
    pub interval: Option<SimTime>,
}

impl SloRuleSpec {
    /// An SLO over every request of [`DEFAULT_METRIC`], errors by [`DEFAULT_ERRORS`].
    pub fn new(name: &str, objective: f64, period: SimTime) -> Self {
        Self {
            name: name.to_string(),
            objective,
            period,
            metric: DEFAULT_METRIC.to_string(),
            selector: String::new(),
            errors: DEFAULT_ERRORS.to_string(),
            interval: None,
        }
    }
}

/// A spec that cannot make rules: `field` is the [`SloRuleSpec`] field (and the CLI flag);
/// `reason` reads after it ("period is shorter than …") and does not repeat its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct SloRulesError {
    pub field: &'static str,
    pub reason: String,
}

fn invalid<T>(field: &'static str, reason: impl Into<String>) -> Result<T, SloRulesError> {
    Err(SloRulesError { field, reason: reason.into() })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Someone is woken up.
    Page,
    /// Someone looks at it during working hours.
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One row of the Workbook's table 5-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPair {
    pub severity: Severity,
    pub long_window: SimTime,
    /// 1/12 of the long window: resets the alert soon after the errors stop.
    pub short_window: SimTime,
    /// The share of the period's budget spent by the time the long window crosses, in percent.
    pub budget_percent: u32,
}

/// Table 5-8, page pairs first.
pub const WORKBOOK_WINDOWS: [WindowPair; 4] = [
    WindowPair { severity: Severity::Page, long_window: HOUR, short_window: 5 * MINUTE, budget_percent: 2 },
    WindowPair {
        severity: Severity::Page,
        long_window: 6 * HOUR,
        short_window: 30 * MINUTE,
        budget_percent: 5,
    },
    WindowPair { severity: Severity::Ticket, long_window: DAY, short_window: 2 * HOUR, budget_percent: 10 },
    WindowPair {
        severity: Severity::Ticket,
        long_window: 3 * DAY,
        short_window: 6 * HOUR,
        budget_percent: 10,
    },
];

/// Every window a recording rule is needed for, shortest first.
pub const RECORDED_WINDOWS: [SimTime; 7] = [5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY];

/// One window pair of an SLO, for display.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnRateRow {
    pub pair: WindowPair,
    /// `budget share × period / long window`.
    pub burn_rate: f64,
    /// `burn_rate × (1 − objective)`: the error ratio both windows must exceed.
    pub threshold_ratio: f64,
    /// The share of the period's budget spent when the long window crosses (0.02 for 2%).
    pub budget_consumed_ratio: f64,
    /// `period / burn_rate`: how long the budget lasts at this burn rate.
    pub exhausted_after: SimTime,
    /// False when the threshold is 100% or more: even a total outage never fires (e.g. the
    /// 1h page of a 90% SLO).
    pub can_fire: bool,
}

/// One generated `record:` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingRuleText {
    pub record: String,
    pub window: SimTime,
    pub expr: String,
}

/// One generated `alert:` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertingRuleText {
    pub alert: String,
    pub severity: Severity,
    pub expr: String,
    /// `labels`, in output order.
    pub labels: Vec<(String, String)>,
    /// `annotations`, in output order.
    pub annotations: Vec<(String, String)>,
    /// The rows the expression ORs together.
    pub rows: Vec<BurnRateRow>,
}

/// The generated rule set: one PrometheusRule with one group.
#[derive(Clone, Debug, PartialEq)]
pub struct SloRules {
    /// `metadata.name`, and the group's name.
    pub object_name: String,
    pub interval: Option<SimTime>,
    /// The header comment.
    pub comment: Vec<String>,
    pub recording: Vec<RecordingRuleText>,
    pub alerting: Vec<AlertingRuleText>,
}

/// The YAML of the `PrometheusRule` for `spec` (see [`SloRules::to_yaml`]).
pub fn prometheus_rule_yaml(spec: &SloRuleSpec) -> Result<String, SloRulesError> {
    Ok(slo_rules(spec)?.to_yaml())
}

/// The window pairs of `spec`'s alerts, with their burn rates and thresholds.
pub fn burn_rate_table(spec: &SloRuleSpec) -> Result<Vec<BurnRateRow>, SloRulesError> {
    check_objective(spec.objective)?;
    check_period(spec.period)?;
    let budget = budget_ratio(spec.objective);
    Ok(WORKBOOK_WINDOWS.iter().map(|&pair| row(pair, spec.period, budget)).collect())
}

fn row(pair: WindowPair, period: SimTime, budget: f64) -> BurnRateRow {
    // One integer product and one division: correctly rounded, so 30d gives exactly 14.4.
    let burn_rate = round_significant(
        (u128::from(pair.budget_percent) * u128::from(period)) as f64
            / (100 * u128::from(pair.long_window)) as f64,
    );
    assert!(burn_rate > 0.0, "a period of at least 3d gives a positive burn rate");
    let threshold_ratio = burn_rate * budget;
    BurnRateRow {
        pair,
        burn_rate,
        threshold_ratio,
        budget_consumed_ratio: f64::from(pair.budget_percent) / 100.0,
        exhausted_after: (period as f64 / burn_rate).round() as SimTime,
        can_fire: threshold_ratio < 1.0,
    }
}

/// The rule set for `spec`, every expression checked by [`promql::parse`].
pub fn slo_rules(spec: &SloRuleSpec) -> Result<SloRules, SloRulesError> {
    check_name(&spec.name)?;
    check_metric(&spec.metric)?;
    let selector = matchers(&spec.metric, &spec.selector, "selector")?;
    let errors = matchers(&spec.metric, &spec.errors, "errors")?;
    if errors.is_empty() {
        return invalid("errors", "must pick the failed requests, e.g. status=~\"5..\"");
    }
    if spec.interval.is_some_and(|i| i == 0 || !i.is_multiple_of(MILLISECOND)) {
        return invalid("interval", "must be a positive whole number of milliseconds");
    }
    let rows = burn_rate_table(spec)?;
    let budget = budget_ratio(spec.objective);

    let all = [selector.as_slice(), errors.as_slice()].concat();
    let recording: Vec<RecordingRuleText> = RECORDED_WINDOWS
        .iter()
        .map(|&window| {
            let w = promql_duration(window);
            let expr = format!(
                "sum(rate({}[{w}])) / sum(rate({}[{w}]))",
                selector_text(&spec.metric, &all),
                selector_text(&spec.metric, &selector),
            );
            RecordingRuleText { record: record_name(&spec.name, window), window, expr }
        })
        .collect();

    let alerting: Vec<AlertingRuleText> = [Severity::Page, Severity::Ticket]
        .into_iter()
        .map(|severity| {
            let rows: Vec<BurnRateRow> =
                rows.iter().copied().filter(|r| r.pair.severity == severity).collect();
            alerting_rule(spec, severity, rows, &selector, &errors)
        })
        .collect();

    for expr in recording.iter().map(|r| &r.expr).chain(alerting.iter().map(|a| &a.expr)) {
        if let Err(e) = promql::parse(expr) {
            return invalid(
                "selector",
                format!("gives an expression outside our PromQL subset: `{expr}`: {e}"),
            );
        }
    }
    let comment = vec![
        format!(
            "Generated by `rollsim slo-rules`: SLO {} of {} over {}, error budget {}.",
            percent(spec.objective),
            selector_text(&spec.metric, &selector),
            promql_duration(spec.period),
            percent(budget)
        ),
        "Multiwindow, multi-burn-rate alerts (SRE Workbook, \"Alerting on SLOs\", table 5-8).".into(),
        "No `for`, as in the Workbook: the short windows already reset an alert soon after a blip.".into(),
    ];
    Ok(SloRules {
        object_name: format!("{}-slo", spec.name.replace('_', "-")),
        interval: spec.interval,
        comment,
        recording,
        alerting,
    })
}

fn alerting_rule(
    spec: &SloRuleSpec,
    severity: Severity,
    rows: Vec<BurnRateRow>,
    selector: &[String],
    errors: &[String],
) -> AlertingRuleText {
    assert!(!rows.is_empty(), "every severity has window pairs");
    let budget = decimal(budget_ratio(spec.objective));
    let clauses: Vec<String> = rows
        .iter()
        .map(|r| {
            let threshold = format!("({} * {budget})", decimal(r.burn_rate));
            let long = record_name(&spec.name, r.pair.long_window);
            let short = record_name(&spec.name, r.pair.short_window);
            format!("(\n  {long} > {threshold}\nand\n  {short} > {threshold}\n)")
        })
        .collect();
    let spent: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let of_what = if i == 0 {
                format!(" of the {} budget", promql_duration(spec.period))
            } else {
                String::new()
            };
            format!("{}%{of_what} in {}", r.pair.budget_percent, promql_duration(r.pair.long_window))
        })
        .collect();
    let conditions: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "over {} and {} exceeds {} (burn rate {})",
                promql_duration(r.pair.long_window),
                promql_duration(r.pair.short_window),
                percent(r.threshold_ratio),
                decimal(r.burn_rate)
            )
        })
        .collect();
    let speed = match severity {
        Severity::Page => " fast",
        Severity::Ticket => "",
    };
    let summary = format!("{}: error budget burning{speed} ({})", spec.name, spent.join(", or "));
    let description = format!(
        "SLO {} of {} over {}; failed requests are {}. Fires while the error ratio is {}.",
        percent(spec.objective),
        selector_text(&spec.metric, selector),
        promql_duration(spec.period),
        errors.join(","),
        conditions.join(", or ")
    );
    let suffix = match severity {
        Severity::Page => "Page",
        Severity::Ticket => "Ticket",
    };
    AlertingRuleText {
        alert: format!("{}ErrorBudgetBurn{suffix}", camel_case(&spec.name)),
        severity,
        expr: clauses.join("\nor\n"),
        labels: vec![("severity".into(), severity.as_str().into()), ("slo".into(), spec.name.clone())],
        annotations: vec![("summary".into(), summary), ("description".into(), description)],
        rows,
    }
}

/// The recorded error ratio of SLO `name` over `window`: `NAME:error_ratio:rate5m`.
pub fn record_name(name: &str, window: SimTime) -> String {
    // A metric name has no `-`: `my-app` records `my_app:…`.
    format!("{}:error_ratio:rate{}", name.replace('-', "_"), promql_duration(window))
}

impl SloRules {
    /// The `monitoring.coreos.com/v1` `PrometheusRule`, with one group holding the recording
    /// rules and then the alerting rules (a group evaluates its rules in order, so the alerts
    /// read this evaluation's ratios). Strings that come from the user are single-quoted;
    /// expressions are literal blocks.
    pub fn to_yaml(&self) -> String {
        let mut y = String::new();
        for line in &self.comment {
            writeln!(y, "# {line}").unwrap();
        }
        writeln!(y, "apiVersion: monitoring.coreos.com/v1").unwrap();
        writeln!(y, "kind: PrometheusRule").unwrap();
        writeln!(y, "metadata:\n  name: {}", self.object_name).unwrap();
        writeln!(y, "spec:\n  groups:\n    - name: {}", self.object_name).unwrap();
        if let Some(interval) = self.interval {
            writeln!(y, "      interval: {}", promql_duration(interval)).unwrap();
        }
        writeln!(y, "      rules:").unwrap();
        for r in &self.recording {
            writeln!(y, "        - record: {}", r.record).unwrap();
            writeln!(y, "          expr: {}", quoted(&r.expr)).unwrap();
        }
        for a in &self.alerting {
            for r in &a.rows {
                writeln!(
                    y,
                    "        # {} and {} above {} x budget = {}: {}% of the budget spent",
                    promql_duration(r.pair.long_window),
                    promql_duration(r.pair.short_window),
                    decimal(r.burn_rate),
                    percent(r.threshold_ratio),
                    r.pair.budget_percent
                )
                .unwrap();
            }
            writeln!(y, "        - alert: {}", a.alert).unwrap();
            writeln!(y, "          expr: |-").unwrap();
            for line in a.expr.lines() {
                writeln!(y, "            {line}").unwrap();
            }
            // The Workbook's rules have no `for`: the short window already keeps a blip from
            // firing for long, and a `for` would only add to the detection time.
            writeln!(y, "          for: 0s").unwrap();
            writeln!(y, "          labels:").unwrap();
            for (k, v) in &a.labels {
                writeln!(y, "            {k}: {}", quoted(v)).unwrap();
            }
            writeln!(y, "          annotations:").unwrap();
            for (k, v) in &a.annotations {
                writeln!(y, "            {k}: {}", quoted(v)).unwrap();
            }
        }
        y
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

fn check_name(name: &str) -> Result<(), SloRulesError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return invalid("name", "must start with a lowercase letter and hold only a-z, 0-9, - and _");
    }
    if name.len() > 63 {
        return invalid("name", "is longer than 63 characters");
    }
    Ok(())
}

fn check_metric(metric: &str) -> Result<(), SloRulesError> {
    let mut chars = metric.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return invalid("metric", "is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
    }
    Ok(())
}

fn check_objective(objective: f64) -> Result<(), SloRulesError> {
    if !(objective > 0.0 && objective < 1.0) {
        return invalid("objective", "must lie strictly between 0 and 1 (0% and 100%)");
    }
    if budget_ratio(objective) <= 0.0 {
        return invalid("objective", "leaves no error budget");
    }
    Ok(())
}

fn check_period(period: SimTime) -> Result<(), SloRulesError> {
    if period < LONGEST_WINDOW {
        return invalid(
            "period",
            format!("is shorter than the longest alert window ({})", promql_duration(LONGEST_WINDOW)),
        );
    }
    if !period.is_multiple_of(SECOND) {
        return invalid("period", "must be a whole number of seconds");
    }
    Ok(())
}

/// The label matchers in `text` (`app="myapp", env=~"prod|canary"`), each rendered
/// canonically by promql-parser; empty text gives none.
fn matchers(metric: &str, text: &str, field: &'static str) -> Result<Vec<String>, SloRulesError> {
    if text.chars().any(char::is_control) {
        return invalid(field, "must be one line");
    }
    let text = text.trim().trim_start_matches('{').trim_end_matches('}').trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let expr = upstream::parse(&format!("{metric}{{{text}}}"))
        .map_err(|e| SloRulesError { field, reason: format!("is not a list of label matchers: {e}") })?;
    let Expr::VectorSelector(vs) = expr else {
        return invalid(field, "is not a list of label matchers");
    };
    if vs.offset.is_some() || vs.at.is_some() || !vs.matchers.or_matchers.is_empty() {
        return invalid(field, "is not a plain list of label matchers");
    }
    if vs.matchers.matchers.iter().any(|m| m.name == promql::METRIC_NAME) {
        return invalid(field, "names the metric, which has its own field");
    }
    Ok(vs.matchers.matchers.iter().map(ToString::to_string).collect())
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// `1 − objective`, cleaned of the subtraction's rounding (1 − 0.999 is 0.0010000000000000009
/// in binary; the budget is 0.001).
fn budget_ratio(objective: f64) -> f64 {
    round_significant(1.0 - objective)
}

/// `x` rounded to 12 significant digits.
fn round_significant(x: f64) -> f64 {
    format!("{x:.11e}").parse().expect("a formatted float parses")
}

/// The shortest decimal that reads back as `x` after rounding to 12 significant digits:
/// `0.001`, `14.4`, `6`.
pub fn decimal(x: f64) -> String {
    format!("{}", round_significant(x))
}

/// A ratio as a percentage, as [`decimal`] writes it: `1.44%`.
pub fn percent(ratio: f64) -> String {
    format!("{}%", decimal(ratio * 100.0))
}

/// A duration in PromQL's notation, in its largest whole unit: `5m`, `1h`, `3d`, `30s`.
fn promql_duration(t: SimTime) -> String {
    assert!(t > 0 && t.is_multiple_of(MILLISECOND), "durations here are whole milliseconds");
    let (unit, size) = [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", MILLISECOND)]
        .into_iter()
        .find(|(_, size)| t.is_multiple_of(*size))
        .expect("a whole number of milliseconds");
    format!("{}{unit}", t / size)
}

fn selector_text(metric: &str, selector: &[String]) -> String {
    if selector.is_empty() { metric.to_string() } else { format!("{metric}{{{}}}", selector.join(",")) }
}

/// `my_app` → `MyApp`.
fn camel_case(name: &str) -> String {
    name.split(['_', '-'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A YAML single-quoted scalar: nothing is escaped but `'` itself, doubled.
fn quoted(text: &str) -> String {
    assert!(!text.chars().any(char::is_control), "quoted scalars here are one line");
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests;
