//! The Prometheus Operator's kinds: `monitoring.coreos.com/v1 PrometheusRule` (rule groups, as
//! Prometheus's `rulefmt` checks them), `ServiceMonitor` and `PodMonitor` (whose endpoint
//! `interval` sets how often the release's pods are scraped), and the assembly of
//! [`Monitoring`] from them and `spec.monitoring`.
//!
//! Rules: each group has a `name` (unique within its PrometheusRule, which the operator turns
//! into one rule file) and an optional `interval` (else `spec.monitoring.evaluationInterval`);
//! each rule is an `alert` or a `record` with an `expr` in the PromQL subset rollsim evaluates,
//! and alerts may have `for`, `keep_firing_for`, `labels` and `annotations` (read, not used).
//! Durations are Prometheus durations (`30s`, `1m`, `1h30m`).

use super::decode::{Fields, read_string, read_string_map, scalar_text};
use super::diagnostic::{Pos, Report, did_you_mean, list_all};
use super::manifests::read_metadata;
use super::model::{AlertingRule, Monitoring, RecordingRule, Rule, RuleGroup};
use super::simulation::MonitoringSpec;
use super::tree::{Node, Value};
use super::units::{self, PROMETHEUS_DURATION_HELP, format_duration};
use crate::engine::SimTime;
use crate::telemetry::promql::{self, PromqlError};
use crate::telemetry::relabel::{Action as RelabelAction, Rule as RelabelRule, RuleSpec};
use crate::telemetry::targets::{MonitorConfig, ScrapeConfig};
use std::collections::BTreeMap;

/// A PrometheusRule, its groups read.
pub(crate) struct PrometheusRuleDoc {
    pub name: String,
    pub groups: Vec<GroupDoc>,
}

pub(crate) struct GroupDoc {
    pub name: String,
    /// `interval` (`None`: unset or 0, the evaluation interval applies).
    pub interval: Option<SimTime>,
    pub rules: Vec<Rule>,
    /// Rules whose `expr` is valid PromQL outside rollsim's subset: skipped with a note when
    /// nothing in the release reads them, else an error ([`assemble`] decides).
    pub skipped: Vec<SkippedRule>,
}

pub(crate) struct SkippedRule {
    /// The alert or the recorded metric.
    pub name: String,
    pub alert: bool,
    /// The `expr` node, the field's name for the message, and why it is outside the subset.
    pub pos: Pos,
    pub what: String,
    pub error: PromqlError,
}

fn read_prometheus_duration(report: &mut Report, node: &Node, what: &str) -> Option<SimTime> {
    let text = scalar_text(report, node, what, "a duration such as `1m`")?;
    match units::parse_prometheus_duration(text) {
        Ok(t) => Some(t),
        Err(reason) => {
            report
                .error(node.pos, format!("`{what}` is not a valid Prometheus duration: `{text}`"))
                .label(reason)
                .help(PROMETHEUS_DURATION_HELP);
            None
        }
    }
}

/// Reports a PromQL error at `pos`; `what` names the field (already quoted).
pub(crate) fn report_promql(report: &mut Report, pos: Pos, what: &str, e: &PromqlError, extra_help: &str) {
    let (message, label) = match e {
        PromqlError::Unsupported { message, .. } => (
            format!("{what} uses PromQL rollsim does not simulate: {message}"),
            "outside the supported subset",
        ),
        PromqlError::Parse(m) | PromqlError::Eval(m) => {
            (format!("{what} is not valid PromQL: {m}"), "Prometheus would reject this query")
        }
        PromqlError::Limit { .. } => {
            (format!("{what} is too large to check: {e}"), "over rollsim's size limits")
        }
    };
    let pos = e.span().and_then(|span| locate(report, pos, span)).unwrap_or(pos);
    let help = format!("{}{extra_help}", promql::SUPPORTED_SUBSET);
    report.error(pos, message).label(label).help(help);
}

/// Where `span` of an expression is in the file, searching the expression's node (which
/// starts at `pos`) for the same occurrence of the construct's text; None if the text there
/// does not show it (escapes, substituted arguments).
fn locate(report: &Report, pos: Pos, span: &promql::Span) -> Option<Pos> {
    if pos.line == 0 || span.token.is_empty() {
        return None;
    }
    let mut left = span.occurrence;
    let last = pos.end_line.max(pos.line);
    for line in pos.line..=last {
        let text = report.sources.line(pos.src, line)?;
        // Columns are 1-based characters; the node starts at `pos.col` on its first line.
        let skip = if line == pos.line { pos.col.saturating_sub(1) as usize } else { 0 };
        let start = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
        let mut from = start;
        while let Some(i) = text[from..].find(&span.token) {
            let at = from + i;
            if left == 0 {
                let col = text[..at].chars().count() as u32 + 1;
                let end_col = col + span.token.chars().count() as u32;
                return Some(Pos { src: pos.src, line, col, end_line: line, end_col });
            }
            left -= 1;
            from = at + span.token.len();
        }
    }
    None
}

fn list<'n>(report: &mut Report, node: &'n Node, path: &str, expected: &str) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            report
                .error(node.pos, format!("`{path}` must be a list, found {}", node.describe()))
                .label(format!("expected {expected}"));
            None
        }
    }
}

pub(crate) fn read_prometheus_rule(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
) -> Option<PrometheusRuleDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, _) = read_metadata(report, &mut doc);
    let owner = format!("PrometheusRule `{}`", name.as_ref().map_or("", |n| n.0.as_str()));
    let mut spec = doc.req_child(report, "spec", "{groups: [{name: myapp, rules: [...]}]}")?;
    let groups = spec.req(report, "groups", "[{name: myapp, rules: [{alert: HighErrorRate, expr: ...}]}]")?;
    let items = list(report, groups, "spec.groups", "a list of rule groups")?;
    let mut out: Vec<(GroupDoc, Pos)> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some((group, pos)) = read_group(report, item, &format!("spec.groups[{i}]"), &owner) else {
            ok = false;
            continue;
        };
        if let Some((_, first)) = out.iter().find(|(g, _)| g.name == group.name) {
            report
                .error(pos, format!("groupname: \"{}\" is repeated in the same file", group.name))
                .label("a second group with this name in this PrometheusRule")
                .help(format!(
                    "the first is on line {}; Prometheus rejects the rule file: rename one of the groups",
                    first.line
                ));
            ok = false;
            continue;
        }
        out.push((group, pos));
    }
    let name = name?.0;
    ok.then(|| PrometheusRuleDoc { name, groups: out.into_iter().map(|(g, _)| g).collect() })
}

const GROUP_KEYS: [&str; 7] =
    ["name", "interval", "rules", "limit", "partial_response_strategy", "query_offset", "labels"];

/// `owner`: "PrometheusRule `name`", for PromQL messages.
fn read_group(report: &mut Report, item: &Node, path: &str, owner: &str) -> Option<(GroupDoc, Pos)> {
    let mut f = Fields::new(report, item, item.pos, path)?;
    for key in GROUP_KEYS {
        f.opt(key);
    }
    let name_node = f.req(report, "name", "myapp.rules");
    let name = name_node.and_then(|n| read_string(report, n, &f.sub("name")));
    if let (Some(""), Some(node)) = (name.as_deref(), name_node) {
        report
            .error(node.pos, "Groupname must not be empty")
            .label("an empty group name")
            .help("name the group, e.g. `name: myapp.rules`");
    }
    let interval = match f.opt("interval") {
        Some(n) => read_prometheus_duration(report, n, &f.sub("interval")).map(|t| (t > 0).then_some(t)),
        None => Some(None),
    };
    let mut skipped = Vec::new();
    let rules = match f.opt("rules") {
        Some(n) => read_rules(report, n, &f.sub("rules"), owner, &mut skipped),
        None => Some(Vec::new()),
    };
    f.deny_unknown(report);
    let (name, name_node) = (name?, name_node?);
    if name.is_empty() {
        return None;
    }
    Some((GroupDoc { name, interval: interval?, rules: rules?, skipped }, name_node.pos))
}

fn read_rules(
    report: &mut Report,
    node: &Node,
    path: &str,
    owner: &str,
    skipped: &mut Vec<SkippedRule>,
) -> Option<Vec<Rule>> {
    let items = list(report, node, path, "a list of rules")?;
    let mut rules = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_rule(report, item, &format!("{path}[{i}]"), owner, skipped) {
            Some(Some(r)) => rules.push(r),
            Some(None) => {}
            None => ok = false,
        }
    }
    ok.then_some(rules)
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `Some(None)`: the rule is valid but its `expr` is outside the subset; it is in `skipped`.
fn read_rule(
    report: &mut Report,
    item: &Node,
    path: &str,
    owner: &str,
    skipped: &mut Vec<SkippedRule>,
) -> Option<Option<Rule>> {
    let mut f = Fields::new(report, item, item.pos, path)?;
    let alert = f.opt("alert");
    let record = f.opt("record");
    let expr = f.req(report, "expr", "sum(rate(http_requests_total{code=~\"5..\"}[5m])) > 1");
    let for_node = f.opt("for");
    let keep_node = f.opt("keep_firing_for");
    let labels = match f.opt("labels") {
        Some(n) => read_string_map(report, n, &f.sub("labels")),
        None => Some(BTreeMap::new()),
    };
    let annotations_pos = f.key_pos("annotations");
    if let Some(n) = f.opt("annotations") {
        read_string_map(report, n, &f.sub("annotations"));
    }
    let for_pos = f.key_pos("for");
    let keep_pos = f.key_pos("keep_firing_for");
    let (alert_path, record_path, expr_path) = (f.sub("alert"), f.sub("record"), f.sub("expr"));
    let (for_path, keep_path) = (f.sub("for"), f.sub("keep_firing_for"));
    f.deny_unknown(report);

    let mut ok = true;
    let kind = match (alert, record) {
        (Some(_), Some(r)) => {
            report
                .error(r.pos, "only one of 'record' and 'alert' must be set")
                .label("this rule has both")
                .help("split it into an alerting rule and a recording rule");
            return None;
        }
        (None, None) => {
            report
                .error(item.pos, "one of 'record' or 'alert' must be set")
                .label("a rule is an alert or a recording")
                .help("add `alert: HighErrorRate` (an alerting rule) or `record: job:errors:rate5m` (a recording rule)");
            return None;
        }
        (Some(a), None) => Ok(read_string(report, a, &alert_path)),
        (None, Some(r)) => Err((read_string(report, r, &record_path), r.pos)),
    };
    if let Some(labels) = &labels {
        for name in labels.keys() {
            if !valid_label_name(name) {
                report
                    .error(item.pos, format!("invalid label name: {name}"))
                    .label(format!("in `{path}.labels`"))
                    .help("label names are letters, digits and `_`, not starting with a digit");
                ok = false;
            }
        }
    }
    let mut deferred = None;
    let expr = expr.and_then(|n| {
        let text = scalar_text(report, n, &expr_path, "a PromQL expression")?;
        match promql::parse(text) {
            Ok(q) => Some(q),
            Err(e) => {
                let what = format!("`{expr_path}` of {owner}");
                if matches!(e, PromqlError::Unsupported { .. }) {
                    deferred = Some((n.pos, what, e));
                } else {
                    report_promql(report, n.pos, &what, &e, "");
                }
                None
            }
        }
    });
    let mut skip = |name: &str, alert: bool, ok: bool| -> Option<Option<Rule>> {
        let (pos, what, error) = deferred.take()?;
        ok.then(|| skipped.push(SkippedRule { name: name.to_string(), alert, pos, what, error }));
        Some(None)
    };
    match kind {
        Ok(name) => {
            let for_ = match for_node {
                Some(n) => read_prometheus_duration(report, n, &for_path),
                None => Some(0),
            };
            let keep = match keep_node {
                Some(n) => read_prometheus_duration(report, n, &keep_path),
                None => Some(0),
            };
            if matches!(name.as_deref(), Some("")) {
                report
                    .error(alert.map_or(item.pos, |n| n.pos), "alert name must not be empty")
                    .label("an empty alert name")
                    .help("name the alert, e.g. `alert: HighErrorRate`");
                ok = false;
            }
            let (name, for_, keep, labels) = (name?, for_?, keep?, labels?);
            if let Some(skipped) = skip(&name, true, ok) {
                return ok.then_some(skipped);
            }
            let rule = AlertingRule { name, expr: expr?, for_, keep_firing_for: keep, labels };
            ok.then_some(Some(Rule::Alerting(rule)))
        }
        Err((record, record_pos)) => {
            for (key, pos) in
                [("for", for_pos), ("keep_firing_for", keep_pos), ("annotations", annotations_pos)]
            {
                if let Some(pos) = pos {
                    report
                        .error(pos, format!("invalid field '{key}' in recording rule"))
                        .label("only alerting rules have this field")
                        .help(format!("remove `{key}`, or make the rule an alert (`alert: NAME`)"));
                    ok = false;
                }
            }
            let record = record?;
            if !valid_metric_name(&record) {
                report
                    .error(record_pos, format!("invalid recording rule name: {record}"))
                    .label("not a valid metric name")
                    .help("metric names are letters, digits, `_` and `:`, not starting with a digit, e.g. `job:http_errors:rate5m`");
                ok = false;
            }
            let labels = labels?;
            if let Some(skipped) = skip(&record, false, ok) {
                return ok.then_some(skipped);
            }
            let rule = RecordingRule { record, expr: expr?, labels };
            ok.then_some(Some(Rule::Recording(rule)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ServiceMonitor and PodMonitor

/// A label selector (`matchLabels` and `matchExpressions`).
#[derive(Clone, Debug, Default)]
pub(crate) struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    /// `(key, operator, values)`, operators `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| match op.as_str() {
                "In" => labels.get(k).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(k).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(k),
                _ => !labels.contains_key(k),
            })
    }
}

/// Which namespaces a monitor looks in.
#[derive(Clone, Debug)]
pub(crate) enum Namespaces {
    /// Its own (the default).
    Own,
    Any,
    Names(Vec<String>),
}

/// A ServiceMonitor (selects Services) or PodMonitor (selects pods).
pub(crate) struct MonitorDoc {
    /// `ServiceMonitor/name` or `PodMonitor/name`.
    pub object: String,
    pub pods: bool,
    pub namespace: String,
    pub namespaces: Namespaces,
    pub selector: LabelSelector,
    /// The first endpoint's `interval` (`None`: the scrape interval applies).
    pub interval: Option<SimTime>,
    /// The labels its first endpoint gives targets: `jobLabel`, `targetLabels`,
    /// `podTargetLabels`, the endpoint's `relabelings` and `metricRelabelings`, checked.
    pub labels: MonitorConfig,
}

impl MonitorDoc {
    fn in_namespace(&self, namespace: &str) -> bool {
        match &self.namespaces {
            Namespaces::Own => self.namespace == namespace,
            Namespaces::Any => true,
            Namespaces::Names(names) => names.iter().any(|n| n == namespace),
        }
    }
}

pub(crate) fn read_monitor(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
    pods: bool,
) -> Option<MonitorDoc> {
    let kind = if pods { "PodMonitor" } else { "ServiceMonitor" };
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(
        report,
        "spec",
        "{selector: {matchLabels: {app: myapp}}, endpoints: [{port: http, interval: 15s}]}",
    )?;
    let selector = match spec.child(report, "selector") {
        Some(s) => read_selector(report, s),
        None => Some(LabelSelector::default()),
    };
    let namespaces = match spec.child(report, "namespaceSelector") {
        Some(mut ns) => {
            let any = ns.opt("any").and_then(Node::as_scalar).is_some_and(|s| s.text == "true");
            match ns.opt("matchNames") {
                _ if any => Some(Namespaces::Any),
                Some(n) => list(report, n, &ns.sub("matchNames"), "a list of namespaces").and_then(|items| {
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            read_string(report, n, &format!("spec.namespaceSelector.matchNames[{i}]"))
                        })
                        .collect::<Option<Vec<_>>>()
                        .map(Namespaces::Names)
                }),
                None => Some(Namespaces::Own),
            }
        }
        None => Some(Namespaces::Own),
    };
    let key = if pods { "podMetricsEndpoints" } else { "endpoints" };
    let interval = match spec.opt(key) {
        Some(n) => read_endpoint_interval(report, n, &spec.sub(key)),
        None => Some(None),
    };
    let job_label = match spec.opt("jobLabel") {
        Some(n) => read_string(report, n, &spec.sub("jobLabel")).map(Some),
        None => Some(None),
    };
    let string_list = |report: &mut Report, spec: &mut Fields, key: &'static str| -> Option<Vec<String>> {
        let Some(n) = spec.opt(key) else { return Some(Vec::new()) };
        let path = spec.sub(key);
        let items = list(report, n, &path, "a list of label names")?;
        items.iter().enumerate().map(|(i, n)| read_string(report, n, &format!("{path}[{i}]"))).collect()
    };
    let target_labels = if pods { Some(Vec::new()) } else { string_list(report, &mut spec, "targetLabels") };
    let pod_target_labels = string_list(report, &mut spec, "podTargetLabels");
    let rules = match spec.opt(key) {
        Some(n) => read_endpoint_relabelings(report, n, &spec.sub(key)),
        None => Some((Vec::new(), Vec::new())),
    };
    let (name, namespace) = (name?, namespace?);
    let (relabelings, metric_relabelings) = rules?;
    let labels = MonitorConfig {
        pod_monitor: pods,
        name: name.0.clone(),
        namespace: namespace.clone(),
        index: 0,
        job_label: job_label?,
        target_labels: target_labels?,
        pod_target_labels: pod_target_labels?,
        relabelings,
        metric_relabelings,
    };
    Some(MonitorDoc {
        object: format!("{kind}/{}", name.0),
        pods,
        namespace,
        namespaces: namespaces?,
        selector: selector?,
        interval: interval?,
        labels,
    })
}

/// The first endpoint's `relabelings` and `metricRelabelings` (the endpoint whose `interval`
/// is read is the first too).
fn read_endpoint_relabelings(
    report: &mut Report,
    node: &Node,
    path: &str,
) -> Option<(Vec<RelabelRule>, Vec<RelabelRule>)> {
    let Value::Seq(items) = &node.value else {
        return Some((Vec::new(), Vec::new())); // reported by read_endpoint_interval
    };
    let Some(first) = items.first() else { return Some((Vec::new(), Vec::new())) };
    let mut ep = Fields::new(report, first, first.pos, format!("{path}[0]"))?;
    let relabelings = match ep.opt("relabelings") {
        Some(n) => read_relabel_rules(report, n, &ep.sub("relabelings")),
        None => Some(Vec::new()),
    };
    let metric = match ep.opt("metricRelabelings") {
        Some(n) => read_relabel_rules(report, n, &ep.sub("metricRelabelings")),
        None => Some(Vec::new()),
    };
    Some((relabelings?, metric?))
}

/// A list of the Prometheus Operator's `RelabelConfig`s (`sourceLabels`, `separator`, `regex`,
/// `modulus`, `targetLabel`, `replacement`, `action`), checked as Prometheus checks them.
pub(crate) fn read_relabel_rules(report: &mut Report, node: &Node, path: &str) -> Option<Vec<RelabelRule>> {
    let items = list(report, node, path, "a list of relabelling rules")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(report, item, item.pos, at.clone()) else {
            ok = false;
            continue;
        };
        let mut spec = RuleSpec::default();
        let mut pos_of = BTreeMap::new();
        if let Some(n) = f.opt("sourceLabels") {
            pos_of.insert("source_labels", n.pos);
            match list(report, n, &f.sub("sourceLabels"), "a list of label names") {
                Some(names) => {
                    for (j, n) in names.iter().enumerate() {
                        match read_string(report, n, &format!("{}[{j}]", f.sub("sourceLabels"))) {
                            Some(s) => spec.source_labels.push(s),
                            None => ok = false,
                        }
                    }
                }
                None => ok = false,
            }
        }
        let mut text = |report: &mut Report, f: &mut Fields, key: &'static str, field: &'static str| {
            let n = f.opt(key)?;
            pos_of.insert(field, n.pos);
            read_string(report, n, &f.sub(key))
        };
        spec.separator = text(report, &mut f, "separator", "separator");
        spec.regex = text(report, &mut f, "regex", "regex");
        spec.target_label = text(report, &mut f, "targetLabel", "target_label");
        spec.replacement = text(report, &mut f, "replacement", "replacement");
        spec.action = text(report, &mut f, "action", "action");
        if let Some(n) = f.opt("modulus") {
            pos_of.insert("modulus", n.pos);
            match super::decode::read_number(report, n, &f.sub("modulus"), 1.0, false, u64::MAX as f64) {
                Some(m) if m.fract() == 0.0 => spec.modulus = Some(m as u64),
                Some(_) => {
                    report
                        .error(n.pos, format!("`{}` must be a whole number", f.sub("modulus")))
                        .label("expected e.g. `modulus: 8`");
                    ok = false;
                }
                None => ok = false,
            }
        }
        match RelabelRule::new(&spec) {
            Ok(r) => out.push(r),
            Err(e) => {
                let pos = pos_of.get(e.field).copied().unwrap_or(item.pos);
                let key = match e.field {
                    "target_label" => "targetLabel",
                    "source_labels" => "sourceLabels",
                    other => other,
                };
                report
                    .error(pos, format!("`{at}.{key}`: {}", e.message))
                    .label("Prometheus refuses this relabelling rule")
                    .help(format!("actions: {}", RelabelAction::NAMES));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn read_selector(report: &mut Report, mut s: Fields) -> Option<LabelSelector> {
    let match_labels = match s.opt("matchLabels") {
        Some(n) => read_string_map(report, n, &s.sub("matchLabels")),
        None => Some(BTreeMap::new()),
    };
    let expressions = match s.opt("matchExpressions") {
        Some(n) => {
            let path = s.sub("matchExpressions");
            list(report, n, &path, "a list of `{key, operator, values}`").and_then(|items| {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let mut e = Fields::new(report, item, item.pos, format!("{path}[{i}]"))?;
                    let key_node = e.req(report, "key", "app")?;
                    let key = read_string(report, key_node, &e.sub("key"))?;
                    let op_node = e.req(report, "operator", "In")?;
                    let op = super::decode::read_choice(
                        report,
                        op_node,
                        &e.sub("operator"),
                        &["In", "NotIn", "Exists", "DoesNotExist"],
                    )?;
                    let values = match e.opt("values") {
                        Some(v) => list(report, v, &e.sub("values"), "a list of label values")?
                            .iter()
                            .map(|v| read_string(report, v, &e.sub("values")))
                            .collect::<Option<Vec<_>>>()?,
                        None => Vec::new(),
                    };
                    out.push((key, op.to_string(), values));
                }
                Some(out)
            })
        }
        None => Some(Vec::new()),
    };
    Some(LabelSelector { match_labels: match_labels?, expressions: expressions? })
}

fn read_endpoint_interval(report: &mut Report, node: &Node, path: &str) -> Option<Option<SimTime>> {
    let items = list(report, node, path, "a list of endpoints")?;
    for (i, item) in items.iter().enumerate() {
        let Some(n) = item.get("interval") else { continue };
        if n.is_null() {
            continue;
        }
        let what = format!("{path}[{i}].interval");
        let t = read_prometheus_duration(report, n, &what)?;
        if t == 0 {
            report
                .error(n.pos, format!("`{what}` must be longer than 0s"))
                .label("a target scraped every 0s is never scraped")
                .help("use e.g. `interval: 15s`, or leave it out for the scrape interval");
            return None;
        }
        return Some(Some(t));
    }
    Some(None)
}

// ---------------------------------------------------------------------------------------------
// Assembly

/// A Service in the file, with its metadata labels.
pub(crate) struct ServiceLabels {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// The Service selects the release's pods.
    pub selects_release: bool,
}

/// The Services of the file with their `metadata.labels`, read leniently from the documents.
pub(crate) fn service_labels(roots: &[&Node]) -> Vec<(String, String, BTreeMap<String, String>)> {
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    roots
        .iter()
        .filter(|r| text(r.get("kind")).as_deref() == Some("Service"))
        .filter_map(|r| {
            let meta = r.get("metadata")?;
            let name = text(meta.get("name"))?;
            let namespace = text(meta.get("namespace")).unwrap_or_else(|| "default".into());
            let labels = meta
                .get("labels")
                .and_then(Node::as_map)
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|(k, v)| Some((k.key_text().to_string(), v.as_scalar()?.text.clone())))
                        .collect()
                })
                .unwrap_or_default();
            Some((name, namespace, labels))
        })
        .collect()
}

/// What the release runs: its pods' namespace and labels, and the Services that select them.
pub(crate) struct ReleaseTargets<'a> {
    pub pods: Vec<(&'a str, &'a BTreeMap<String, String>)>,
    pub services: Vec<ServiceLabels>,
}

/// Whether something in the release reads a rule outside the subset: an alert that
/// `onAlert` gives an action (every alert pages without `onAlert`), or a recording rule whose
/// metric name appears anywhere else in the scenario file (a conservative test: its readers
/// may be alerts, analyses or Flagger checks).
fn rule_is_read(report: &Report, spec: &MonitoringSpec, rule: &SkippedRule) -> bool {
    if rule.alert {
        if spec.on_alert.is_empty() {
            return true;
        }
        return spec
            .on_alert
            .iter()
            .find(|(r, _)| r.alert == rule.name || r.alert == "*")
            .is_some_and(|(r, _)| r.action != crate::telemetry::spec::AlertAction::None);
    }
    let mut uses = 0;
    let mut line = 1;
    while let Some(text) = report.sources.line(0, line) {
        uses += text.matches(rule.name.as_str()).count();
        line += 1;
    }
    uses > 1
}

/// Builds [`Monitoring`]: groups (with the evaluation interval as default), the scrape interval
/// of the monitor that selects the release, the offsets checked against their intervals, and
/// `onAlert` checked against the alerts. Notes each monitor that selects nothing of the release.
pub(crate) fn assemble(
    report: &mut Report,
    spec: &MonitoringSpec,
    rules: &[PrometheusRuleDoc],
    rules_read: bool,
    monitors: &[MonitorDoc],
    targets: &ReleaseTargets,
    notes: &mut Vec<String>,
) -> Option<Monitoring> {
    let mut scrape_interval = spec.scrape_interval;
    let mut scrape_from = "`spec.monitoring.scrapeInterval`".to_string();
    let mut chosen = false;
    let mut scrape_config = None;
    for m in monitors {
        let selects = if m.pods {
            targets.pods.iter().any(|(ns, labels)| m.in_namespace(ns) && m.selector.matches(labels))
        } else {
            targets
                .services
                .iter()
                .any(|s| s.selects_release && m.in_namespace(&s.namespace) && m.selector.matches(&s.labels))
        };
        if !selects {
            let what = if m.pods { "none of the release's pods" } else { "no Service of the release's pods" };
            notes.push(format!("{} selects {what}: not simulated", m.object));
            continue;
        }
        if let (Some(interval), false) = (m.interval, chosen) {
            scrape_interval = interval;
            scrape_from = format!("{}'s endpoint `interval`", m.object);
            chosen = true;
        }
        if scrape_config.is_none() {
            scrape_config = Some(ScrapeConfig::Monitor(m.labels.clone()));
            let l = &m.labels;
            if l.job_label.is_some()
                || !l.target_labels.is_empty()
                || !l.pod_target_labels.is_empty()
                || !l.relabelings.is_empty()
                || !l.metric_relabelings.is_empty()
            {
                notes.push(format!(
                    "{}: `jobLabel`, `targetLabels`, `podTargetLabels`, `relabelings` and `metricRelabelings` are \
                     read and checked, but the simulated series do not carry the target labels yet \
                     (they have the pod's labels, `namespace` and `pod`)",
                    m.object
                ));
            }
        }
    }
    let mut ok = true;
    if let Some((offset, pos)) = spec.scrape_offset
        && offset >= scrape_interval
    {
        report
            .error(pos, "`spec.monitoring.scrapeOffset` is not shorter than the scrape interval")
            .label(format!("{} ≥ {} ({scrape_from})", format_duration(offset), format_duration(scrape_interval)))
            .help("the offset is each target's phase within the scrape interval: use a value from 0s up to just below the interval");
        ok = false;
    }
    let mut groups = Vec::new();
    for r in rules {
        for g in &r.groups {
            for skipped in &g.skipped {
                if rule_is_read(report, spec, skipped) {
                    let extra = if skipped.alert {
                        " (the rule cannot be skipped: `spec.monitoring.onAlert` gives the alert an action)"
                    } else {
                        " (the rule cannot be skipped: its metric is named elsewhere in the file)"
                    };
                    report_promql(report, skipped.pos, &skipped.what, &skipped.error, extra);
                    ok = false;
                } else {
                    let (kind, why) = if skipped.alert {
                        ("alert", "`spec.monitoring.onAlert` gives it no action")
                    } else {
                        ("recording rule", "nothing else in the file names its metric")
                    };
                    notes.push(format!(
                        "PrometheusRule/{}: {kind} `{}` is skipped: {} ({why}, so nothing in the release reads it)",
                        r.name, skipped.name, skipped.error
                    ));
                }
            }
            groups.push(RuleGroup {
                object: format!("PrometheusRule/{}", r.name),
                name: g.name.clone(),
                interval: g.interval.unwrap_or(spec.evaluation_interval),
                rules: g.rules.clone(),
            });
        }
    }
    if let Some((offset, pos)) = spec.evaluation_offset {
        let shortest = groups
            .iter()
            .map(|g| (g.interval, format!("group `{}` of {}", g.name, g.object)))
            .chain(std::iter::once((
                spec.evaluation_interval,
                "`spec.monitoring.evaluationInterval`".to_string(),
            )))
            .min_by_key(|(t, _)| *t);
        if let Some((interval, from)) = shortest
            && offset >= interval
        {
            report
                .error(pos, "`spec.monitoring.evaluationOffset` is not shorter than the evaluation interval")
                .label(format!("{} ≥ {} ({from})", format_duration(offset), format_duration(interval)))
                .help("the offset is every group's phase within its interval: use a value below the shortest group interval");
            ok = false;
        }
    }
    let alerts: Vec<&str> = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| match r {
            Rule::Alerting(a) => Some(a.name.as_str()),
            Rule::Recording(_) => None,
        })
        .chain(
            rules
                .iter()
                .flat_map(|r| &r.groups)
                .flat_map(|g| &g.skipped)
                .filter(|s| s.alert)
                .map(|s| s.name.as_str()),
        )
        .collect();
    if rules_read {
        for (route, pos) in &spec.on_alert {
            if route.alert == "*" || alerts.contains(&route.alert.as_str()) {
                continue;
            }
            let mut unique = alerts.clone();
            unique.dedup();
            let help = match (unique.as_slice(), did_you_mean(&route.alert, &unique)) {
                ([], _) => "no PrometheusRule in this file defines an alert: add a `monitoring.coreos.com/v1 PrometheusRule` \
                            with `alert: NAME` rules, or use `alert: \"*\"`"
                    .to_string(),
                (_, Some(guess)) => format!("did you mean `{guess}`? alerts in this file: {}", list_all(&unique)),
                _ => format!("alerts in this file: {} (or `*` for every alert)", list_all(&unique)),
            };
            report
                .error(
                    *pos,
                    format!(
                        "`spec.monitoring.onAlert` names alert `{}`, which no PrometheusRule defines",
                        route.alert
                    ),
                )
                .label("no alerting rule with this name")
                .help(help);
            ok = false;
        }
    }
    ok.then(|| Monitoring {
        scrape_interval,
        scrape_offset: spec.scrape_offset.map(|(t, _)| t),
        evaluation_offset: spec.evaluation_offset.map(|(t, _)| t),
        counters: spec.counters,
        group_wait: spec.group_wait,
        groups,
        on_alert: spec.on_alert.iter().map(|(r, _)| r.clone()).collect(),
        scrape_config: scrape_config.unwrap_or(ScrapeConfig::KubernetesPods),
    })
}
