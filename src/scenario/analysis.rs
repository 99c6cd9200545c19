//! `argoproj.io/v1alpha1 AnalysisTemplate` and `ClusterAnalysisTemplate`, the analysis
//! references of a Rollout (`steps[].analysis`, `canary.analysis`, `blueGreen.pre-` /
//! `postPromotionAnalysis`), and their resolution into the [`AnalysisRunSpec`]s the Rollout
//! creates.
//!
//! As upstream builds an AnalysisRun (`utils/analysis/helpers.go` `NewAnalysisRunFromTemplates`,
//! `analysis/analysis.go`):
//! - the metrics of the referenced templates are merged, AnalysisTemplates first and then
//!   ClusterAnalysisTemplates, each in reference order; two metrics of one name are an error;
//! - the templates' `args` are merged (one name with two different values is an error), then
//!   the Rollout's `args` give them values (`value`, or `valueFrom.podTemplateHashValue:
//!   Stable|Latest`); an argument left without a value is an error. Rollout args no template
//!   declares are ignored, as upstream ignores them;
//! - `{{args.NAME}}` is substituted into every field of each metric (upstream templates the
//!   whole metric as JSON): the query, the conditions, `count`, the limits, the intervals, the
//!   name. Any other `{{…}}` tag is an error, as upstream's is;
//! - `dryRun[].metricName` (the Rollout's and the templates') are regular expressions, matched
//!   anywhere in a metric's name (Go's `regexp.MatchString`); a rule that matches no metric is
//!   an error, and so are two rules with the same text.
//!
//! A template is checked on its own when it is read (every field that holds no `{{…}}`), and
//! again with the arguments of each reference. The Prometheus and Kayenta providers are
//! simulated; a Kayenta metric names a `rollsim.dev/v1alpha1 CanaryConfig` (see `kayenta.rs`),
//! and `${scope}` in its templates becomes the first scope's `controlScope.scope` and
//! `experimentScope.scope`.

use super::decode::{Fields, read_bool, read_choice, read_count, read_string, scalar_text};
use super::diagnostic::{Pos, Report, did_you_mean, list_all};
use super::kayenta::CanaryConfigDoc;
use super::manifests::read_metadata;
use super::tree::{Node, Value};
use super::units;
use crate::controllers::argo::analysis::{
    AnalysisMetric, AnalysisRunSpec, DEFAULT_CONSECUTIVE_ERROR_LIMIT, KayentaMetric, MetricProvider,
    MetricSpec,
};
use crate::controllers::argo::condition::Condition;
use crate::controllers::argo::spec::pod_template_hash;
use crate::engine::{SECOND, SimTime};
use crate::telemetry::promql::{self, Query};

/// The metric providers Argo Rollouts has besides Prometheus, for the error message.
const OTHER_PROVIDERS: [&str; 11] = [
    "web",
    "job",
    "datadog",
    "newRelic",
    "wavefront",
    "kayenta",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
];

/// A scalar as written: its text and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Text {
    pub text: String,
    pub pos: Pos,
}

fn read_text(report: &mut Report, node: &Node, what: &str) -> Option<Text> {
    let text = scalar_text(report, node, what, "a scalar value")?;
    Some(Text { text: text.to_string(), pos: node.pos })
}

fn opt_text(report: &mut Report, f: &mut Fields, key: &'static str) -> Option<Option<Text>> {
    match f.opt(key) {
        Some(n) => read_text(report, n, &f.sub(key)).map(Some),
        None => Some(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

/// One metric of a template, as written (its fields are interpreted once the arguments are
/// known).
#[derive(Clone, Debug)]
pub(crate) struct RawMetric {
    /// `spec.metrics[i]`, for messages.
    path: String,
    /// Position of the metric's list item.
    pos: Pos,
    name: Text,
    interval: Option<Text>,
    count: Option<Text>,
    initial_delay: Option<Text>,
    success: Option<Text>,
    failure: Option<Text>,
    failure_limit: Option<Text>,
    inconclusive_limit: Option<Text>,
    consecutive_error_limit: Option<Text>,
    consecutive_success_limit: Option<Text>,
    provider: RawProvider,
}

/// A metric's provider, as written.
#[derive(Clone, Debug)]
enum RawProvider {
    /// `prometheus.query`.
    Prometheus(Text),
    Kayenta(Box<RawKayenta>),
}

/// `provider.kayenta`, as written. Of `scopes`, the first is used; its `start` and `end` are
/// read and ignored: rollsim samples both scopes from the run's start to each measurement (a
/// lookback that grows with the run), as [`crate::controllers::argo::analysis::KayentaMetric`]
/// describes.
#[derive(Clone, Debug)]
struct RawKayenta {
    config: Text,
    pass: Text,
    marginal: Text,
    control: Text,
    experiment: Text,
    /// `controlScope.step` and `experimentScope.step`, in seconds.
    control_step: Text,
    experiment_step: Text,
}

/// `spec.args[]` of a template.
#[derive(Clone, Debug)]
pub(crate) struct TemplateArg {
    pub name: String,
    /// `value` (`None`: the Rollout must give one).
    pub value: Option<String>,
    pub pos: Pos,
}

/// An AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Clone, Debug)]
pub(crate) struct AnalysisTemplateDoc {
    pub name: String,
    pub name_pos: Pos,
    /// `metadata.namespace` if written (a template without one matches any Rollout, as it would
    /// be applied to the Rollout's namespace).
    pub namespace: Option<String>,
    /// A ClusterAnalysisTemplate.
    pub cluster: bool,
    pub args: Vec<TemplateArg>,
    pub metrics: Vec<RawMetric>,
    /// `spec.dryRun[].metricName`.
    pub dry_run: Vec<Text>,
}

impl AnalysisTemplateDoc {
    fn kind(&self) -> &'static str {
        kind_name(self.cluster)
    }
}

fn kind_name(cluster: bool) -> &'static str {
    if cluster { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" }
}

pub(crate) fn read_analysis_template(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
    cluster: bool,
) -> Option<AnalysisTemplateDoc> {
    let namespace_written = root.get("metadata").and_then(|m| m.get("namespace")).is_some();
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(
        report,
        "spec",
        "{metrics: [{name: success-rate, provider: {prometheus: {query: ...}}}]}",
    )?;
    let args = match spec.opt("args") {
        Some(n) => read_template_args(report, n, "spec.args"),
        None => Some(Vec::new()),
    };
    let metrics =
        match spec.req(report, "metrics", "[{name: success-rate, provider: {prometheus: {query: ...}}}]") {
            Some(n) => read_metrics(report, n, "spec.metrics"),
            None => None,
        };
    let dry_run = match spec.opt("dryRun") {
        Some(n) => read_dry_run(report, n, "spec.dryRun"),
        None => Some(Vec::new()),
    };
    let (name, namespace, args, metrics, dry_run) = (name?, namespace?, args?, metrics?, dry_run?);
    let template = AnalysisTemplateDoc {
        name: name.0,
        name_pos: name.1,
        namespace: namespace_written.then_some(namespace),
        cluster,
        args,
        metrics,
        dry_run,
    };
    // Each field that holds no `{{…}}` is checked now, so that a template no Rollout uses is
    // checked too.
    let mut ok = true;
    for metric in &template.metrics {
        ok &= build_metric(report, &template, metric, &Stage::Load).is_some();
    }
    ok.then_some(template)
}

fn read_template_args(report: &mut Report, node: &Node, path: &str) -> Option<Vec<TemplateArg>> {
    let items = list(report, node, path, "a list of `{name, value}` arguments")?;
    let mut args: Vec<TemplateArg> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(report, item, item.pos, &what) else {
            ok = false;
            continue;
        };
        let name_node = f.req(report, "name", "service-name");
        let name = name_node.and_then(|n| read_string(report, n, &f.sub("name")));
        let value = match f.opt("value") {
            Some(n) => read_text(report, n, &f.sub("value")).map(|t| Some(t.text)),
            None => Some(None),
        };
        if let Some(from) = f.child(report, "valueFrom") {
            let source = from.entries().first().map(|(k, _)| (k.key_text().to_string(), k.pos));
            let (source, pos) = source.unwrap_or_else(|| (String::new(), from.at()));
            let help = if source == "podTemplateHashValue" {
                "`podTemplateHashValue` is resolved by the Rollout: give it in the Rollout's analysis \
                 `args` (`{name: ..., valueFrom: {podTemplateHashValue: Latest}}`), and declare only \
                 the name here"
            } else {
                "give the argument a `value` here or in the Rollout's analysis `args`; rollsim does not \
                 read Secrets or field references"
            };
            report
                .error(pos, format!("`{what}.valueFrom.{source}` is not simulated in an AnalysisTemplate"))
                .label("rollsim cannot resolve this argument")
                .help(help);
            ok = false;
        }
        let (Some(name), Some(value), Some(name_node)) = (name, value, name_node) else {
            ok = false;
            continue;
        };
        if let Some(first) = args.iter().find(|a| a.name == name) {
            report
                .error(name_node.pos, format!("argument `{name}` is declared twice"))
                .label("a second argument with this name")
                .help(format!("the first is on line {}; remove one of them", first.pos.line));
            ok = false;
            continue;
        }
        args.push(TemplateArg { name, value, pos: name_node.pos });
    }
    ok.then_some(args)
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

fn read_dry_run(report: &mut Report, node: &Node, path: &str) -> Option<Vec<Text>> {
    let items = list(report, node, path, "a list of `{metricName: REGEX}`")?;
    let mut rules = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(report, item, item.pos, &what) else {
            ok = false;
            continue;
        };
        let rule = f
            .req(report, "metricName", "success-rate")
            .and_then(|n| read_text(report, n, &f.sub("metricName")));
        let Some(rule) = rule else {
            ok = false;
            continue;
        };
        if let Err(e) = promql::regex_search(&rule.text, "") {
            report
                .error(rule.pos, format!("`{what}.metricName` is not a valid regular expression"))
                .label(e)
                .help("Argo matches `metricName` as a regular expression anywhere in each metric's name: `.*` for all, `^latency$` for one");
            ok = false;
            continue;
        }
        rules.push(rule);
    }
    ok.then_some(rules)
}

fn read_metrics(report: &mut Report, node: &Node, path: &str) -> Option<Vec<RawMetric>> {
    let items = list(report, node, path, "a list of metrics")?;
    if items.is_empty() {
        report
            .error(node.pos, format!("`{path}` is empty"))
            .label("no metrics specified")
            .help("Argo rejects an analysis without metrics; add e.g. `{name: success-rate, provider: {prometheus: {query: ...}}}`");
        return None;
    }
    let mut metrics: Vec<RawMetric> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_metric(report, item, &format!("{path}[{i}]")) {
            Some(m) => {
                if let Some(first) = metrics.iter().find(|f| f.name.text == m.name.text) {
                    report
                        .error(m.name.pos, format!("metrics[{i}]: duplicate name '{}'", m.name.text))
                        .label("a second metric with this name")
                        .help(format!(
                            "the first is on line {}; give each metric its own name",
                            first.name.pos.line
                        ));
                    ok = false;
                }
                metrics.push(m);
            }
            None => ok = false,
        }
    }
    ok.then_some(metrics)
}

fn read_metric(report: &mut Report, item: &Node, path: &str) -> Option<RawMetric> {
    let mut f = Fields::new(report, item, item.pos, path)?;
    let name = f.req(report, "name", "success-rate").and_then(|n| read_text(report, n, &f.sub("name")));
    let interval = opt_text(report, &mut f, "interval");
    let initial_delay = opt_text(report, &mut f, "initialDelay");
    let count = opt_text(report, &mut f, "count");
    let success = opt_text(report, &mut f, "successCondition");
    let failure = opt_text(report, &mut f, "failureCondition");
    let failure_limit = opt_text(report, &mut f, "failureLimit");
    let inconclusive_limit = opt_text(report, &mut f, "inconclusiveLimit");
    let consecutive_error_limit = opt_text(report, &mut f, "consecutiveErrorLimit");
    let consecutive_success_limit = opt_text(report, &mut f, "consecutiveSuccessLimit");
    let provider = f
        .req_child(report, "provider", "{prometheus: {address: http://prometheus:9090, query: ...}}")
        .and_then(|p| read_provider(report, p));
    f.deny_unknown(report);
    Some(RawMetric {
        path: path.to_string(),
        pos: item.pos,
        name: name?,
        interval: interval?,
        count: count?,
        initial_delay: initial_delay?,
        success: success?,
        failure: failure?,
        failure_limit: failure_limit?,
        inconclusive_limit: inconclusive_limit?,
        consecutive_error_limit: consecutive_error_limit?,
        consecutive_success_limit: consecutive_success_limit?,
        provider: provider?,
    })
}

/// `provider: {prometheus: {query}}` or `provider: {kayenta: {...}}`, as written.
fn read_provider(report: &mut Report, mut p: Fields) -> Option<RawProvider> {
    const SIMULATED: [&str; 2] = ["prometheus", "kayenta"];
    for (key, _) in p.entries() {
        let name = key.key_text();
        if SIMULATED.contains(&name) {
            continue;
        }
        let help = match did_you_mean(name, &SIMULATED) {
            Some(guess) => format!("did you mean `{guess}`?"),
            None => format!(
                "rollsim measures metrics against its simulated Prometheus; write `provider: {{prometheus: \
                 {{query: ...}}}}` or `provider: {{kayenta: ...}}` (Argo's other providers: {})",
                list_all(&OTHER_PROVIDERS)
            ),
        };
        report
            .error(
                key.pos,
                format!("metric provider `{name}` is not simulated: only `prometheus` and `kayenta` are"),
            )
            .label("rollsim cannot measure this provider")
            .help(help);
        return None;
    }
    if let Some(mut prom) = p.child(report, "prometheus") {
        for key in ["address", "timeout", "insecure", "headers", "authentication"] {
            prom.opt(key);
        }
        if let Some(pos) = prom.key_pos("rangeQuery") {
            report
                .error(pos, "`provider.prometheus.rangeQuery` is not simulated")
                .label("rollsim runs instant queries only")
                .help("remove `rangeQuery`: the query is then evaluated at each measurement's time");
            return None;
        }
        let query = prom.req(report, "query", "sum(rate(http_requests_total[5m]))");
        let query = query.and_then(|n| read_text(report, n, "provider.prometheus.query"));
        prom.deny_unknown(report);
        return Some(RawProvider::Prometheus(query?));
    }
    if let Some(k) = p.child(report, "kayenta") {
        return read_kayenta(report, k).map(|k| RawProvider::Kayenta(Box::new(k)));
    }
    report
        .error(p.at(), "the metric's `provider` names no provider")
        .label("expected `prometheus:` or `kayenta:` here")
        .help("write `provider: {prometheus: {address: http://prometheus:9090, query: ...}}`");
    None
}

/// `provider.kayenta`: Argo's fields; the accounts and addresses are read and ignored.
fn read_kayenta(report: &mut Report, mut k: Fields) -> Option<RawKayenta> {
    for key in
        ["address", "application", "metricsAccountName", "configurationAccountName", "storageAccountName"]
    {
        k.opt(key);
    }
    let config = k
        .req(report, "canaryConfigName", "my-canary-config")
        .and_then(|n| read_text(report, n, &k.sub("canaryConfigName")));
    let threshold = k.req_child(report, "threshold", "{pass: 90, marginal: 75}").and_then(|mut t| {
        let pass = t.req(report, "pass", "90").and_then(|n| read_text(report, n, &t.sub("pass")));
        let marginal = t.req(report, "marginal", "75").and_then(|n| read_text(report, n, &t.sub("marginal")));
        t.deny_unknown(report);
        Some((pass?, marginal?))
    });
    let scopes_path = k.sub("scopes");
    let example =
        "[{name: default, controlScope: {scope: ..., step: 60}, experimentScope: {scope: ..., step: 60}}]";
    let scope = k.req(report, "scopes", example).and_then(|n| match &n.value {
        Value::Seq(items) if !items.is_empty() => {
            let what = format!("{scopes_path}[0]");
            let mut s = Fields::new(report, &items[0], items[0].pos, what)?;
            s.opt("name");
            let control = s
                .req_child(report, "controlScope", "{scope: ..., step: 60}")
                .and_then(|c| read_scope(report, c));
            let experiment = s
                .req_child(report, "experimentScope", "{scope: ..., step: 60}")
                .and_then(|c| read_scope(report, c));
            s.deny_unknown(report);
            Some((control?, experiment?))
        }
        _ => {
            report
                .error(n.pos, format!("`{scopes_path}` must be a non-empty list, found {}", n.describe()))
                .label("expected the control and experiment scopes")
                .help(format!("write `scopes: {example}`"));
            None
        }
    });
    k.deny_unknown(report);
    let (config, (pass, marginal), ((control, control_step), (experiment, experiment_step))) =
        (config?, threshold?, scope?);
    Some(RawKayenta { config, pass, marginal, control, experiment, control_step, experiment_step })
}

/// `{scope, step, region, start, end}` → (scope, step).
fn read_scope(report: &mut Report, mut s: Fields) -> Option<(Text, Text)> {
    for key in ["region", "start", "end"] {
        s.opt(key);
    }
    let scope = s
        .req(report, "scope", "app=\"myapp\",rollouts-pod-template-hash=\"{{args.stable-hash}}\"")
        .and_then(|n| read_text(report, n, &s.sub("scope")));
    let step = s.req(report, "step", "60").and_then(|n| read_text(report, n, &s.sub("step")));
    s.deny_unknown(report);
    Some((scope?, step?))
}

// ---------------------------------------------------------------------------------------------
// Reading one metric's fields, before (load) or after (resolve) argument substitution

/// When a metric is interpreted.
enum Stage<'a> {
    /// On its own: fields with `{{…}}` wait for the arguments.
    Load,
    /// With the arguments of one reference.
    Resolve {
        args: &'a [(String, String)],
        /// "Rollout `x`'s `steps[2].analysis`", for messages.
        context: &'a str,
        /// The CanaryConfigs a `kayenta` provider may name.
        canary_configs: &'a [CanaryConfigDoc],
        /// Every document was read (a missing CanaryConfig is reported only then).
        all_read: bool,
    },
}

/// A field's value: absent, waiting for arguments, or read.
enum V<T> {
    Absent,
    Deferred,
    Value(T),
}

impl<T> V<T> {
    fn value(self) -> Option<T> {
        match self {
            V::Value(t) => Some(t),
            _ => None,
        }
    }

    fn is_deferred(&self) -> bool {
        matches!(self, V::Deferred)
    }
}

/// The `{{…}}` tags of `text`: `(start, end, inner)` byte ranges, or the position of an
/// unterminated `{{`.
fn tags(text: &str) -> Result<Vec<(usize, usize, &str)>, usize> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{") {
        let open = from + open;
        let Some(close) = text[open + 2..].find("}}") else {
            return Err(open);
        };
        let close = open + 2 + close;
        out.push((open, close + 2, &text[open + 2..close]));
        from = close + 2;
    }
    Ok(out)
}

/// `field` with `{{args.NAME}}` substituted; `V::Deferred` at load when it has tags.
fn substitute(report: &mut Report, t: &Text, what: &str, stage: &Stage) -> Option<V<String>> {
    let found = match tags(&t.text) {
        Ok(found) => found,
        Err(_) => {
            report
                .error(t.pos, format!("{what} has a `{{{{` without its `}}}}`"))
                .label("unterminated template tag")
                .help("Argo substitutes `{{args.NAME}}` in metrics; close the tag, e.g. `{{args.service-name}}`");
            return None;
        }
    };
    if found.is_empty() {
        return Some(V::Value(t.text.clone()));
    }
    let mut ok = true;
    for (_, _, inner) in &found {
        if !inner.trim().starts_with("args.") {
            report
                .error(t.pos, format!("{what} uses `{{{{{inner}}}}}`, which Argo cannot resolve"))
                .label("only `{{args.NAME}}` is substituted in an analysis metric")
                .help("declare an argument in the template's `spec.args` and write `{{args.NAME}}`");
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let Stage::Resolve { args, context, .. } = stage else {
        return Some(V::Deferred);
    };
    let mut out = String::new();
    let mut last = 0;
    for (start, end, inner) in found {
        let name = inner.trim().trim_start_matches("args.");
        out.push_str(&t.text[last..start]);
        match args.iter().find(|(n, _)| n == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                let declared: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
                let mut help = format!(
                    "declare it in the template's `spec.args` (`- name: {name}`) and give it a value in the Rollout's analysis `args`"
                );
                if let Some(guess) = did_you_mean(name, &declared) {
                    help = format!("did you mean `{{{{args.{guess}}}}}`? {help}");
                }
                report
                    .error(
                        t.pos,
                        format!("{what} uses argument `{name}`, which no template of {context} declares"),
                    )
                    .label(format!("failed to resolve {{{{{inner}}}}}"))
                    .help(help);
                ok = false;
            }
        }
        last = end;
    }
    out.push_str(&t.text[last..]);
    ok.then_some(V::Value(out))
}

/// A label for a value that came out of substitution.
fn substituted(t: &Text, value: &str, stage: &Stage) -> String {
    match stage {
        Stage::Resolve { context, .. } if value != t.text => {
            format!("`{value}` with the args of {context}")
        }
        _ => format!("`{value}`"),
    }
}

fn field<T>(
    report: &mut Report,
    t: Option<&Text>,
    what: &str,
    stage: &Stage,
    parse: impl FnOnce(&mut Report, &Text, &str, &str) -> Option<T>,
) -> Option<V<T>> {
    let Some(t) = t else { return Some(V::Absent) };
    match substitute(report, t, what, stage)? {
        V::Value(s) => {
            let label = substituted(t, &s, stage);
            parse(report, t, &s, &label).map(V::Value)
        }
        V::Deferred => Some(V::Deferred),
        V::Absent => Some(V::Absent),
    }
}

fn parse_duration(report: &mut Report, t: &Text, value: &str, label: &str, what: &str) -> Option<SimTime> {
    match units::parse_duration(value) {
        Ok(d) => Some(d),
        Err(reason) => {
            report
                .error(t.pos, format!("{what} is not a valid duration: {label}"))
                .label(reason)
                .help(units::DURATION_HELP);
            None
        }
    }
}

/// An `int` or an `IntOrString` holding one (`count: 5`, `count: "5"`, `count: "{{args.n}}"`).
fn parse_int(report: &mut Report, t: &Text, value: &str, label: &str, what: &str, min: i64) -> Option<i64> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= min => Some(n),
        Ok(n) => {
            report
                .error(t.pos, format!("{what} must be at least {min}, found {n}"))
                .label(format!("{label} is below {min}"))
                .help(format!("use a whole number ≥ {min}"));
            None
        }
        Err(_) => {
            report
                .error(t.pos, format!("{what} must be a whole number, found {label}"))
                .label("expected a whole number, or a string holding one")
                .help("write a number (`count: 5`), or a string that is one once the args are substituted (`count: \"{{args.count}}\"` with `value: \"5\"`)");
            None
        }
    }
}

fn parse_query(report: &mut Report, t: &Text, value: &str, label: &str, what: &str) -> Option<Query> {
    match promql::parse(value) {
        Ok(q) => Some(q),
        Err(e) => {
            let extra =
                if value != t.text { format!(" (the query, with its args: {label})") } else { String::new() };
            super::prometheus::report_promql(report, t.pos, what, &e, &extra);
            None
        }
    }
}

fn parse_condition(report: &mut Report, t: &Text, value: &str, label: &str, what: &str) -> Option<Condition> {
    match Condition::parse(value) {
        Ok(c) => Some(c),
        Err(e) => {
            report
                .error(t.pos, format!("{what} is not a condition rollsim can evaluate: {e}"))
                .label(format!("in {label}"))
                .help(
                    "conditions are expressions over `result`, e.g. `result[0] >= 0.95` for a vector query or \
                     `result < 0.5` for a scalar one; supported: numbers, `result`, `result[i]`, comparisons, \
                     `&&` `||` `!`, arithmetic, `len`, `isNaN`, `isInf`, `all`/`any`/`none`/`one`",
                );
            None
        }
    }
}

/// Reads one metric: at load, checks what it can; at resolve, the metric itself.
fn build_metric(
    report: &mut Report,
    template: &AnalysisTemplateDoc,
    m: &RawMetric,
    stage: &Stage,
) -> Option<Option<AnalysisMetric>> {
    let at = |key: &str| format!("`{}.{key}` of {}", m.path, template_ref(template));
    let name = field(report, Some(&m.name), &at("name"), stage, |_, _, v, _| Some(v.to_string()));
    let interval = field(report, m.interval.as_ref(), &at("interval"), stage, |r, t, v, l| {
        parse_duration(r, t, v, l, &at("interval"))
    });
    let initial_delay = field(report, m.initial_delay.as_ref(), &at("initialDelay"), stage, |r, t, v, l| {
        parse_duration(r, t, v, l, &at("initialDelay"))
    });
    let count = field(report, m.count.as_ref(), &at("count"), stage, |r, t, v, l| {
        parse_int(r, t, v, l, &at("count"), 0)
    });
    let limit = |report: &mut Report, t: Option<&Text>, key: &str, min: i64| {
        field(report, t, &at(key), stage, |r, t, v, l| parse_int(r, t, v, l, &at(key), min))
    };
    let failure_limit = limit(report, m.failure_limit.as_ref(), "failureLimit", i64::MIN);
    let inconclusive_limit = limit(report, m.inconclusive_limit.as_ref(), "inconclusiveLimit", i64::MIN);
    let error_limit = limit(report, m.consecutive_error_limit.as_ref(), "consecutiveErrorLimit", i64::MIN);
    let success_limit =
        limit(report, m.consecutive_success_limit.as_ref(), "consecutiveSuccessLimit", i64::MIN);
    let provider = match &m.provider {
        RawProvider::Prometheus(q) => {
            match field(report, Some(q), &at("provider.prometheus.query"), stage, |r, t, v, l| {
                parse_query(r, t, v, l, &at("provider.prometheus.query"))
            }) {
                Some(V::Value(query)) => Some(V::Value(MetricProvider::Prometheus { query })),
                Some(V::Deferred) => Some(V::Deferred),
                Some(V::Absent) => Some(V::Absent),
                None => None,
            }
        }
        RawProvider::Kayenta(k) => build_kayenta(report, k, &at, stage),
    };
    let condition = |report: &mut Report, t: Option<&Text>, key: &str| {
        field(report, t, &at(key), stage, |r, t, v, l| parse_condition(r, t, v, l, &at(key)))
    };
    let success = condition(report, m.success.as_ref(), "successCondition");
    let failure = condition(report, m.failure.as_ref(), "failureCondition");

    let (name, interval, initial_delay, count) = (name?, interval?, initial_delay?, count?);
    let (failure_limit, inconclusive_limit, error_limit, success_limit) =
        (failure_limit?, inconclusive_limit?, error_limit?, success_limit?);
    let (provider, success, failure) = (provider?, success?, failure?);

    // The result's shape is known from the query: a number for a scalar, a list otherwise.
    let mut ok = true;
    if let V::Value(MetricProvider::Prometheus { query: q }) = &provider {
        for (key, cond, text) in
            [("successCondition", &success, &m.success), ("failureCondition", &failure, &m.failure)]
        {
            if let (V::Value(c), Some(t)) = (cond, text)
                && let Err(e) = c.check(!q.is_scalar())
            {
                let shape = if q.is_scalar() {
                    "the query is a scalar, so `result` is a number"
                } else {
                    "the query returns an instant vector, so `result` is a list (`result[0]`)"
                };
                report
                    .error(t.pos, format!("{} cannot be evaluated on this query's result: {e}", at(key)))
                    .label(shape)
                    .help(if q.is_scalar() {
                        "compare `result` itself, e.g. `result < 0.05`"
                    } else {
                        "index the vector, e.g. `result[0] >= 0.95`, or test `len(result) == 0 || result[0] >= 0.95`"
                    });
                ok = false;
            }
        }
    }
    let deferred = interval.is_deferred()
        || count.is_deferred()
        || failure_limit.is_deferred()
        || inconclusive_limit.is_deferred()
        || error_limit.is_deferred()
        || success_limit.is_deferred();
    let spec = MetricSpec {
        interval: interval.value(),
        count: count.value(),
        initial_delay: initial_delay.value(),
        failure_limit: failure_limit.value().unwrap_or(0),
        inconclusive_limit: inconclusive_limit.value().unwrap_or(0),
        consecutive_error_limit: error_limit.value().unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT),
        consecutive_success_limit: success_limit.value().unwrap_or(0),
        dry_run: false,
    };
    if !deferred && let Err(e) = spec.validate() {
        report
            .error(m.pos, format!("invalid metric `{}` of {}: {e}", m.name.text, template_ref(template)))
            .label("Argo rejects this AnalysisRun (phase Error)")
            .help("see the metric's `count`, `interval`, `failureLimit` and `inconclusiveLimit`");
        ok = false;
    }
    if !ok {
        return None;
    }
    if matches!(stage, Stage::Load) {
        return Some(None);
    }
    let (Some(name), Some(provider)) = (name.value(), provider.value()) else {
        return None;
    };
    Some(Some(AnalysisMetric { name, spec, success: success.value(), failure: failure.value(), provider }))
}

/// `provider.kayenta` with the arguments substituted, against the CanaryConfig it names.
fn build_kayenta(
    report: &mut Report,
    k: &RawKayenta,
    at: &dyn Fn(&str) -> String,
    stage: &Stage,
) -> Option<V<MetricProvider>> {
    let text = |report: &mut Report, t: &Text, key: &str| {
        field(report, Some(t), &at(key), stage, |_, _, v, _| Some(v.to_string()))
    };
    let number = |report: &mut Report, t: &Text, key: &str, min: i64| {
        field(report, Some(t), &at(key), stage, |r, t, v, l| parse_int(r, t, v, l, &at(key), min))
    };
    let config = text(report, &k.config, "provider.kayenta.canaryConfigName");
    let pass = number(report, &k.pass, "provider.kayenta.threshold.pass", 0);
    let marginal = number(report, &k.marginal, "provider.kayenta.threshold.marginal", 0);
    let control = text(report, &k.control, "provider.kayenta.scopes[0].controlScope.scope");
    let experiment = text(report, &k.experiment, "provider.kayenta.scopes[0].experimentScope.scope");
    let control_step = number(report, &k.control_step, "provider.kayenta.scopes[0].controlScope.step", 1);
    let experiment_step =
        number(report, &k.experiment_step, "provider.kayenta.scopes[0].experimentScope.step", 1);
    let (config, pass, marginal, control, experiment, control_step, experiment_step) =
        (config?, pass?, marginal?, control?, experiment?, control_step?, experiment_step?);
    let mut ok = true;
    if let (V::Value(p), V::Value(m)) = (&pass, &marginal)
        && !(m <= p && *p <= 100)
    {
        report
            .error(
                k.marginal.pos,
                format!(
                    "{}: marginal {m} and pass {p} are not 0 ≤ marginal ≤ pass ≤ 100",
                    at("provider.kayenta.threshold")
                ),
            )
            .label("Kayenta scores from 0 to 100")
            .help("e.g. `threshold: {pass: 90, marginal: 75}`");
        ok = false;
    }
    if let (V::Value(c), V::Value(e)) = (&control_step, &experiment_step)
        && c != e
    {
        report
            .error(
                k.experiment_step.pos,
                format!(
                    "{}: the control step is {c}s and the experiment step {e}s",
                    at("provider.kayenta.scopes[0]")
                ),
            )
            .label("rollsim samples both scopes with one step")
            .help("give `controlScope.step` and `experimentScope.step` the same number of seconds");
        ok = false;
    }
    if !ok {
        return None;
    }
    let Stage::Resolve { context, canary_configs, all_read, .. } = stage else {
        return Some(V::Deferred);
    };
    let (
        V::Value(config),
        V::Value(pass),
        V::Value(marginal),
        V::Value(control),
        V::Value(experiment),
        V::Value(step),
    ) = (config, pass, marginal, control, experiment, experiment_step)
    else {
        return None;
    };
    let Some(doc) = canary_configs.iter().find(|c| c.name == config) else {
        if !*all_read {
            return None;
        }
        let names: Vec<&str> = canary_configs.iter().map(|c| c.name.as_str()).collect();
        let help = match (names.as_slice(), did_you_mean(&config, &names)) {
            ([], _) => {
                "this file has no CanaryConfig: add a `rollsim.dev/v1alpha1 CanaryConfig` document with \
                        `spec.metrics` in Kayenta's canary-config format"
                    .to_string()
            }
            (_, Some(guess)) => {
                format!("did you mean `{guess}`? CanaryConfigs in this file: {}", list_all(&names))
            }
            _ => format!("CanaryConfigs in this file: {}", list_all(&names)),
        };
        report
            .error(
                k.config.pos,
                format!(
                    "{} names CanaryConfig `{config}`, which is not in this file",
                    at("provider.kayenta.canaryConfigName")
                ),
            )
            .label("no CanaryConfig with this name")
            .help(help);
        return None;
    };
    let mut queries = Vec::new();
    for (metric, template) in doc.config.metrics.iter().zip(&doc.templates) {
        let what =
            format!("`customInlineTemplate` of metric `{}` of CanaryConfig `{}`", metric.name, doc.name);
        let e = super::kayenta::render(report, template, &what, &experiment, context);
        let c = super::kayenta::render(report, template, &what, &control, context);
        match (e, c) {
            (Some(e), Some(c)) => queries.push((e, c)),
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let mut judge = doc.config.clone();
    (judge.pass, judge.marginal) = (pass as f64, marginal as f64);
    Some(V::Value(MetricProvider::Kayenta(Box::new(KayentaMetric {
        config: judge,
        queries,
        step: step as SimTime * SECOND,
        pass: pass as f64,
        marginal: marginal as f64,
    }))))
}

/// "AnalysisTemplate `success-rate`".
fn template_ref(t: &AnalysisTemplateDoc) -> String {
    format!("{} `{}`", t.kind(), t.name)
}

// ---------------------------------------------------------------------------------------------
// The Rollout's references

/// Where a Rollout runs an analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnalysisSite {
    /// `steps[i].analysis`, `i` counted in the simulated steps.
    Step(usize),
    /// `canary.analysis`, from the simulated step index given.
    Background(Option<usize>),
    PrePromotion,
    PostPromotion,
}

/// One `templates[]` entry.
#[derive(Clone, Debug)]
pub(crate) struct TemplateRef {
    pub name: String,
    /// `clusterScope: true`: a ClusterAnalysisTemplate.
    pub cluster: bool,
    pub pos: Pos,
}

/// Where a Rollout argument's value comes from.
#[derive(Clone, Debug)]
pub(crate) enum ArgSource {
    Value(String),
    /// `valueFrom.podTemplateHashValue`: `Latest` (the new pods) or `Stable`.
    PodTemplateHash {
        latest: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct RolloutArg {
    pub name: String,
    pub source: ArgSource,
}

/// An analysis a Rollout runs: `{templates, args, dryRun}`.
#[derive(Clone, Debug)]
pub(crate) struct AnalysisRef {
    pub site: AnalysisSite,
    /// `strategy.canary.steps[3].analysis`, for messages.
    pub path: String,
    pub templates: Vec<TemplateRef>,
    pub args: Vec<RolloutArg>,
    pub dry_run: Vec<Text>,
}

impl AnalysisRef {
    pub fn template_names(&self) -> Vec<String> {
        self.templates.iter().map(|t| t.name.clone()).collect()
    }
}

/// Reads `{templates: [{templateName, clusterScope}], args: [...], dryRun: [...]}`.
pub(crate) fn read_analysis_ref(
    report: &mut Report,
    mut f: Fields,
    site: AnalysisSite,
) -> Option<AnalysisRef> {
    let path = f.path.clone();
    let templates = match f.opt("templates") {
        Some(n) => read_template_refs(report, n, &f.sub("templates")),
        None => Some(Vec::new()),
    };
    if matches!(&templates, Some(t) if t.is_empty()) {
        report
            .error(f.at(), format!("`{path}` names no AnalysisTemplate"))
            .label("an analysis without templates has no metrics")
            .help("add `templates: [{templateName: success-rate}]`, naming an AnalysisTemplate in this file");
        return None;
    }
    let args = match f.opt("args") {
        Some(n) => read_rollout_args(report, n, &f.sub("args")),
        None => Some(Vec::new()),
    };
    let dry_run = match f.opt("dryRun") {
        Some(n) => read_dry_run(report, n, &f.sub("dryRun")),
        None => Some(Vec::new()),
    };
    Some(AnalysisRef { site, path, templates: templates?, args: args?, dry_run: dry_run? })
}

fn read_template_refs(report: &mut Report, node: &Node, path: &str) -> Option<Vec<TemplateRef>> {
    let items = list(report, node, path, "a list of `{templateName: NAME}`")?;
    let mut refs = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("{path}[{i}]");
        let Some(mut t) = Fields::new(report, item, item.pos, &what) else {
            ok = false;
            continue;
        };
        let name_node = t.req(report, "templateName", "success-rate");
        let name = name_node.and_then(|n| read_string(report, n, &t.sub("templateName")));
        let cluster = match t.opt("clusterScope") {
            Some(n) => read_bool(report, n, &t.sub("clusterScope")),
            None => Some(false),
        };
        match (name, cluster, name_node) {
            (Some(name), Some(cluster), Some(n)) => refs.push(TemplateRef { name, cluster, pos: n.pos }),
            _ => ok = false,
        }
    }
    ok.then_some(refs)
}

fn read_rollout_args(report: &mut Report, node: &Node, path: &str) -> Option<Vec<RolloutArg>> {
    let items = list(report, node, path, "a list of `{name, value}` arguments")?;
    let mut args = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(report, item, item.pos, &what) else {
            ok = false;
            continue;
        };
        let name = f.req(report, "name", "service-name").and_then(|n| read_string(report, n, &f.sub("name")));
        let value = f.opt("value");
        let from = f.child(report, "valueFrom");
        let source = match (value, from) {
            (Some(v), None) => read_text(report, v, &f.sub("value")).map(|t| ArgSource::Value(t.text)),
            (None, Some(from)) => read_value_from(report, from),
            (Some(_), Some(from)) => {
                report
                    .error(from.at(), format!("`{what}` has both `value` and `valueFrom`"))
                    .label("an argument takes its value from one of them")
                    .help("remove one of them");
                None
            }
            (None, None) => {
                report
                    .error(item.pos, format!("`{what}` has no value"))
                    .label("expected `value` or `valueFrom`")
                    .help("write `{name: service-name, value: myapp}` or `{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}`");
                None
            }
        };
        match (name, source) {
            (Some(name), Some(source)) => args.push(RolloutArg { name, source }),
            _ => ok = false,
        }
    }
    ok.then_some(args)
}

fn read_value_from(report: &mut Report, mut from: Fields) -> Option<ArgSource> {
    if let Some(n) = from.opt("podTemplateHashValue") {
        let which = read_choice(report, n, &from.sub("podTemplateHashValue"), &["Stable", "Latest"])?;
        return Some(ArgSource::PodTemplateHash { latest: which == "Latest" });
    }
    let (source, pos) =
        from.entries().first().map_or((String::new(), from.at()), |(k, _)| (k.key_text().to_string(), k.pos));
    report
        .error(pos, format!("`{}.{source}` is not simulated", from.path))
        .label("rollsim resolves `value` and `valueFrom.podTemplateHashValue` only")
        .help("write the value itself (`value: myapp`), or `valueFrom: {podTemplateHashValue: Stable}` / `Latest`");
    None
}

// ---------------------------------------------------------------------------------------------
// Resolution

/// What a reference is resolved against.
pub(crate) struct RolloutContext<'a> {
    /// `Rollout \`name\``.
    pub owner: &'a str,
    pub namespace: &'a str,
    /// Images before and after the release: the `Stable` and `Latest` pod-template hashes.
    pub from_image: &'a str,
    pub to_image: &'a str,
    /// Every document was read (missing-template errors are reported only then).
    pub all_read: bool,
}

/// Finds the template a reference names.
fn find_template<'t>(
    report: &mut Report,
    templates: &'t [AnalysisTemplateDoc],
    r: &TemplateRef,
    ctx: &RolloutContext,
) -> Option<&'t AnalysisTemplateDoc> {
    let fits = |t: &&AnalysisTemplateDoc| {
        t.cluster == r.cluster && (t.cluster || t.namespace.as_deref().is_none_or(|ns| ns == ctx.namespace))
    };
    if let Some(t) = templates.iter().filter(fits).find(|t| t.name == r.name) {
        return Some(t);
    }
    if !ctx.all_read {
        return None;
    }
    let kind = kind_name(r.cluster);
    let names: Vec<&str> = templates.iter().filter(fits).map(|t| t.name.as_str()).collect();
    let other = templates.iter().find(|t| t.name == r.name && t.cluster != r.cluster);
    let help = if let Some(other) = other {
        if other.cluster {
            format!(
                "`{}` is a ClusterAnalysisTemplate (line {}): add `clusterScope: true` to this reference",
                r.name, other.name_pos.line
            )
        } else {
            format!(
                "`{}` is an AnalysisTemplate (line {}): remove `clusterScope: true`",
                r.name, other.name_pos.line
            )
        }
    } else {
        match (names.as_slice(), did_you_mean(&r.name, &names)) {
            ([], _) => format!(
                "this file has no {kind} in namespace `{}`: add the `argoproj.io/v1alpha1 {kind}` as another `---` document",
                ctx.namespace
            ),
            (_, Some(guess)) => format!("did you mean `{guess}`? {kind}s in this file: {}", list_all(&names)),
            _ => format!("{kind}s in this file: {}", list_all(&names)),
        }
    };
    report
        .error(r.pos, format!("{} references {kind} `{}`, which is not in this file", ctx.owner, r.name))
        .label(format!("no {kind} with this name"))
        .help(help);
    None
}

/// Resolves one analysis reference into the run it creates.
pub(crate) fn resolve_analysis(
    report: &mut Report,
    r: &AnalysisRef,
    templates: &[AnalysisTemplateDoc],
    canary_configs: &[CanaryConfigDoc],
    ctx: &RolloutContext,
) -> Option<AnalysisRunSpec> {
    let first_pos = r.templates[0].pos;
    let mut found: Vec<&AnalysisTemplateDoc> = Vec::new();
    let mut ok = true;
    for t in &r.templates {
        match find_template(report, templates, t, ctx) {
            Some(doc) => found.push(doc),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    // Upstream flattens AnalysisTemplates first, then ClusterAnalysisTemplates.
    let ordered: Vec<&AnalysisTemplateDoc> =
        found.iter().filter(|t| !t.cluster).chain(found.iter().filter(|t| t.cluster)).copied().collect();
    let context = format!("{}'s `{}`", ctx.owner, r.path);

    // Arguments: the templates' (merged), then the Rollout's values.
    let mut merged: Vec<(String, Option<String>, &AnalysisTemplateDoc)> = Vec::new();
    for t in &ordered {
        for a in &t.args {
            match merged.iter_mut().find(|(n, _, _)| *n == a.name) {
                Some((_, prev, _)) => match (&prev, &a.value) {
                    (Some(p), Some(v)) if p != v => {
                        report
                            .error(first_pos, format!("Argument `{}` specified multiple times with different values: '{p}', '{v}'", a.name))
                            .label(format!("the templates of {context} disagree"))
                            .help("give the argument one default value, or none and a value in the Rollout's `args`");
                        ok = false;
                    }
                    (None, _) => *prev = a.value.clone(),
                    _ => {}
                },
                None => merged.push((a.name.clone(), a.value.clone(), t)),
            }
        }
    }
    for arg in &r.args {
        if let Some((_, value, _)) = merged.iter_mut().find(|(n, _, _)| *n == arg.name) {
            *value = Some(match &arg.source {
                ArgSource::Value(v) => v.clone(),
                ArgSource::PodTemplateHash { latest: true } => pod_template_hash(ctx.to_image),
                ArgSource::PodTemplateHash { latest: false } => pod_template_hash(ctx.from_image),
            });
        }
    }
    let mut args: Vec<(String, String)> = Vec::new();
    for (name, value, t) in &merged {
        match value {
            Some(v) => args.push((name.clone(), v.clone())),
            None => {
                report
                    .error(first_pos, format!("argument `{name}` of {} has no value in {context}", template_ref(t)))
                    .label(format!("args.{name} was not resolved"))
                    .help(format!(
                        "add `args: [{{name: {name}, value: ...}}]` to `{}` (or `valueFrom: {{podTemplateHashValue: Latest}}`), or a default `value` to the template's `spec.args`",
                        r.path
                    ));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }

    let stage = Stage::Resolve { args: &args, context: &context, canary_configs, all_read: ctx.all_read };
    let mut metrics: Vec<(AnalysisMetric, Pos)> = Vec::new();
    for t in &ordered {
        for m in &t.metrics {
            match build_metric(report, t, m, &stage) {
                Some(Some(metric)) => {
                    if metrics.iter().any(|(prev, _)| prev.name == metric.name) {
                        report
                            .error(first_pos, format!("two metrics have the same name '{}'", metric.name))
                            .label(format!("the templates of {context} both define it"))
                            .help("rename one of the metrics, or reference only one of the templates");
                        ok = false;
                    }
                    metrics.push((metric, m.name.pos));
                }
                _ => ok = false,
            }
        }
    }
    // Dry-run rules: the Rollout's, then the templates'.
    let rules: Vec<&Text> = r.dry_run.iter().chain(ordered.iter().flat_map(|t| t.dry_run.iter())).collect();
    for (i, rule) in rules.iter().enumerate() {
        if rules[..i].iter().any(|p| p.text == rule.text) {
            report
                .error(rule.pos, format!("two Dry-Run metric rules have the same name '{}'", rule.text))
                .label(format!("a second rule with this text in {context}"))
                .help("remove one of the rules");
            ok = false;
            continue;
        }
        let mut matched = false;
        for (metric, _) in &mut metrics {
            if promql::regex_search(&rule.text, &metric.name).unwrap_or(false) {
                metric.spec.dry_run = true;
                matched = true;
            }
        }
        if !matched {
            let names: Vec<&str> = metrics.iter().map(|(m, _)| m.name.as_str()).collect();
            report
                .error(rule.pos, format!("dryRun[{i}]: Rule didn't match any metric name(s)"))
                .label(format!("no metric of {context} matches `{}`", rule.text))
                .help(format!(
                    "`metricName` is a regular expression matched against the metric names: {}",
                    list_all(&names)
                ));
            ok = false;
        }
    }
    ok.then(|| AnalysisRunSpec {
        templates: r.template_names(),
        metrics: metrics.into_iter().map(|(m, _)| m).collect(),
    })
}

/// Reads a count that may be written as a plain number (for `startingStep`).
pub(crate) fn read_step_index(report: &mut Report, node: &Node, what: &str) -> Option<u64> {
    read_count(report, node, what, i32::MAX as u64)
}
