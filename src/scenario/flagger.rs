//! `flagger.app/v1beta1 Canary` and `MetricTemplate`, read leniently: the target, the
//! provider, the deadline and the analysis (the deprecated `canaryAnalysis` key is read as
//! `analysis`). Numbers keep Flagger's meaning of zero as "unset" ([`CanaryAnalysis`]);
//! `webhooks` are read by Flagger but not simulated, and ignored here.
//!
//! Each metric check gets the PromQL Flagger runs (`pkg/metrics/observers`, `render.go`,
//! `providers/prometheus.go`): the builtin `request-success-rate` and `request-duration`
//! queries of the provider's observer (Istio; the HTTP observer for the `kubernetes` provider),
//! a `templateRef`'s MetricTemplate query, or an inline `query`. Templates are rendered as Go's
//! `text/template` does with Flagger's functions (`name`, `namespace`, `target`, `service`,
//! `ingress`, `interval`, and `variables.NAME` from the metric's `templateVariables`), then
//! every run of whitespace becomes one space, as the Prometheus provider sends it.

use super::decode::{
    Fields, read_bool, read_count, read_duration, read_number, read_string, read_string_map, scalar_text,
};
use super::diagnostic::{Pos, Report, did_you_mean, list_all};
use super::manifests::read_metadata;
use super::model::{FlaggerCheck, FlaggerCheckKind};
use super::tree::{Node, Value};
use crate::controllers::flagger::spec::{CanaryAnalysis, CanarySpec, Provider};
use crate::engine::MINUTE;
use crate::telemetry::promql;
use std::collections::BTreeMap;

const INT32_MAX: u64 = i32::MAX as u64;

/// Flagger's default metric `interval` (`MetricInterval`), for the builtin checks.
const DEFAULT_METRIC_INTERVAL: &str = "1m";

pub(crate) struct CanaryDoc {
    pub spec: CanarySpec,
    /// In order; a `templateRef` check's query is filled in by [`resolve_checks`].
    pub checks: Vec<FlaggerCheck>,
    /// The `templateRef` of each check that has one, by check index.
    pub template_refs: Vec<(usize, TemplateRef)>,
    pub name_pos: Pos,
    /// Position of `spec.targetRef.name`.
    pub target_pos: Pos,
    /// What the query templates see.
    pub model: QueryModel,
}

/// Flagger's `MetricTemplateModel`: what a query template may use.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueryModel {
    /// The Canary's name.
    pub name: String,
    pub namespace: String,
    /// `targetRef.name`.
    pub target: String,
    /// `service.name`, else the target.
    pub service: String,
    /// `ingressRef.name`, else the target.
    pub ingress: String,
}

/// A metric's `templateRef` and what its rendering needs.
#[derive(Clone, Debug)]
pub(crate) struct TemplateRef {
    pub name: String,
    /// `templateRef.namespace` (`None`: the Canary's).
    pub namespace: Option<String>,
    pub pos: Pos,
    /// The metric's `interval` as written (Flagger renders a template's `{{ interval }}` empty
    /// when it is unset).
    pub interval: String,
    pub variables: BTreeMap<String, String>,
    /// `spec.analysis.metrics[i]`.
    pub path: String,
}

/// A `flagger.app/v1beta1 MetricTemplate` with a Prometheus provider.
pub(crate) struct MetricTemplateDoc {
    pub name: String,
    /// `metadata.namespace` if written (one without matches any Canary).
    pub namespace: Option<String>,
    pub query: String,
    pub query_pos: Pos,
}

/// The provider types of a MetricTemplate besides `prometheus`, for the error message.
const OTHER_METRIC_PROVIDERS: [&str; 9] = [
    "influxdb",
    "datadog",
    "stackdriver",
    "cloudwatch",
    "newrelic",
    "graphite",
    "dynatrace",
    "keptn",
    "splunk",
];

pub(crate) fn read_metric_template(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
) -> Option<MetricTemplateDoc> {
    let namespace_written = root.get("metadata").and_then(|m| m.get("namespace")).is_some();
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(report, "spec", "{provider: {type: prometheus}, query: ...}")?;
    let provider_ok = match spec.req_child(
        report,
        "provider",
        "{type: prometheus, address: http://prometheus:9090}",
    ) {
        Some(mut p) => {
            match p.req(report, "type", "prometheus") {
                Some(n) => {
                    match scalar_text(report, n, "spec.provider.type", "a provider type") {
                        Some("prometheus") => true,
                        Some(other) => {
                            let help = match did_you_mean(other, &["prometheus"]) {
                                Some(guess) => format!("did you mean `{guess}`?"),
                                None => format!(
                                    "rollsim measures checks against its simulated Prometheus: use `type: prometheus` \
                             and a PromQL `query` (Flagger's other providers: {})",
                                    list_all(&OTHER_METRIC_PROVIDERS)
                                ),
                            };
                            report
                        .error(n.pos, format!("MetricTemplate provider `{other}` is not simulated: only `prometheus` is"))
                        .label("rollsim cannot query this provider")
                        .help(help);
                            false
                        }
                        None => false,
                    }
                }
                None => false,
            }
        }
        None => false,
    };
    let query = spec.req(report, "query", "sum(rate(http_requests_total[{{ interval }}]))");
    let query = query.and_then(|n| read_string(report, n, "spec.query").map(|q| (q, n.pos)));
    let (name, namespace, (query, query_pos)) = (name?, namespace?, query?);
    if !provider_ok {
        return None;
    }
    // The template's syntax does not depend on the Canary: check it now.
    let probe = QueryModel::default();
    if let Err(e) = render_query(&query, &probe, "", &Probe) {
        report
            .error(
                query_pos,
                format!(
                    "`spec.query` of MetricTemplate `{}` is not a template Flagger can render: {e}",
                    name.0
                ),
            )
            .label("Go template syntax error")
            .help(TEMPLATE_HELP);
        return None;
    }
    Some(MetricTemplateDoc {
        name: name.0,
        namespace: namespace_written.then_some(namespace),
        query,
        query_pos,
    })
}

const TEMPLATE_HELP: &str = "Flagger's query templates know `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`, \
`{{ ingress }}`, `{{ interval }}` and `{{ variables.NAME }}` (from the metric's `templateVariables`)";

/// Where template variables come from.
trait Variables {
    fn get(&self, name: &str) -> Option<String>;
}

impl Variables for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// Any variable exists (a syntax check).
struct Probe;

impl Variables for Probe {
    fn get(&self, _: &str) -> Option<String> {
        Some(String::new())
    }
}

/// Renders a Flagger query template (Go `text/template` with Flagger's functions, including
/// `{{-` / `-}}` trim markers and `{{/* comments */}}`), then turns every run of whitespace into
/// one space, as Flagger's Prometheus provider does before it sends the query.
fn render_query(
    template: &str,
    model: &QueryModel,
    interval: &str,
    variables: &dyn Variables,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let text = &rest[..open];
        out.push_str(if trim_next { text.trim_start() } else { text });
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("unclosed action: a `{{` without its `}}`".into());
        };
        let mut action = &after[..close];
        if let Some(inner) = action.strip_prefix('-')
            && inner.starts_with(|c: char| c.is_ascii_whitespace())
        {
            out.truncate(out.trim_end().len());
            action = inner;
        }
        trim_next = false;
        if let Some(inner) = action.strip_suffix('-')
            && inner.ends_with(|c: char| c.is_ascii_whitespace())
        {
            trim_next = true;
            action = inner;
        }
        let action = action.trim();
        let value = match action {
            "name" => model.name.clone(),
            "namespace" => model.namespace.clone(),
            "target" => model.target.clone(),
            "service" => model.service.clone(),
            "ingress" => model.ingress.clone(),
            "interval" => interval.to_string(),
            a if a.starts_with("/*") && a.ends_with("*/") => String::new(),
            a => match a.strip_prefix("variables.") {
                Some(var) if !var.is_empty() && var.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                    variables.get(var).ok_or_else(|| {
                        format!("`{{{{ {a} }}}}`: the metric's `templateVariables` has no `{var}` (Flagger would render `<no value>`)")
                    })?
                }
                _ => return Err(format!("`{{{{ {a} }}}}` is not one of Flagger's template functions")),
            },
        };
        out.push_str(&value);
        rest = &after[close + 2..];
    }
    out.push_str(if trim_next { rest.trim_start() } else { rest });
    Ok(collapse_whitespace(&out))
}

/// `trimQuery`: every run of whitespace becomes one space (leading and trailing ones too).
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// The builtin query of `kind` as Flagger renders it for `provider` (the Istio observer's, or the
/// HTTP observer's for the `kubernetes` provider), whitespace collapsed. `request-duration` is in
/// milliseconds for Istio and in seconds for the HTTP observer (Flagger multiplies by 1000).
pub(crate) fn builtin_query(
    kind: FlaggerCheckKind,
    provider: Provider,
    namespace: &str,
    target: &str,
    interval: &str,
) -> Option<String> {
    let selector = |metric: &str, extra: &str| match provider {
        Provider::Istio => format!(
            "{metric}{{ reporter=\"destination\", destination_workload_namespace=\"{namespace}\", destination_workload=~\"{target}\"{extra} }}[{interval}]"
        ),
        Provider::Kubernetes => format!(
            "{metric}{{ kubernetes_namespace=\"{namespace}\", kubernetes_pod_name=~\"{target}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\"{extra} }}[{interval}]"
        ),
    };
    let (requests, buckets, not_5xx) = match provider {
        Provider::Istio => {
            ("istio_requests_total", "istio_request_duration_milliseconds_bucket", ", response_code!~\"5.*\"")
        }
        Provider::Kubernetes => (
            "http_request_duration_seconds_count",
            "http_request_duration_seconds_bucket",
            ", status!~\"5.*\"",
        ),
    };
    match kind {
        FlaggerCheckKind::RequestSuccessRate => Some(format!(
            " sum( rate( {} ) ) / sum( rate( {} ) ) * 100",
            selector(requests, not_5xx),
            selector(requests, "")
        )),
        FlaggerCheckKind::RequestDuration => {
            Some(format!(" histogram_quantile( 0.99, sum( rate( {} ) ) by (le) )", selector(buckets, "")))
        }
        FlaggerCheckKind::Custom => None,
    }
}

pub(crate) fn read_canary(report: &mut Report, root: &Node, kind_pos: Pos) -> Option<CanaryDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(
        report,
        "spec",
        "{targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}, analysis: ...}",
    )?;
    let target = read_target(report, &mut spec);
    let provider = match spec.opt("provider") {
        Some(n) => read_provider(report, n),
        None => Some(Provider::Istio),
    };
    let deadline = match spec.opt("progressDeadlineSeconds") {
        Some(n) => read_count(report, n, "spec.progressDeadlineSeconds", INT32_MAX).map(|v| Some(v as u32)),
        None => Some(None),
    };
    let skip = match spec.opt("skipAnalysis") {
        Some(n) => read_bool(report, n, "spec.skipAnalysis"),
        None => Some(false),
    };
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    let service = text(spec.opt("service").and_then(|s| s.get("name")));
    let ingress = text(spec.opt("ingressRef").and_then(|s| s.get("name")));
    let model = match (&name, &namespace, &target) {
        (Some(n), Some(ns), Some(t)) => Some(QueryModel {
            name: n.0.clone(),
            namespace: ns.clone(),
            target: t.0.clone(),
            service: service.unwrap_or_else(|| t.0.clone()),
            ingress: ingress.unwrap_or_else(|| t.0.clone()),
        }),
        _ => None,
    };
    let key = if spec.key_pos("analysis").is_some() { "analysis" } else { "canaryAnalysis" };
    let path = spec.sub(key);
    let analysis = match spec.child(report, key) {
        Some(a) => read_analysis(report, a, &path, model.as_ref(), provider),
        None => Some((CanaryAnalysis::default(), (Vec::new(), Vec::new()))),
    };
    let (name, namespace, target, (analysis, (checks, template_refs))) =
        (name?, namespace?, target?, analysis?);
    Some(CanaryDoc {
        spec: CanarySpec {
            name: name.0,
            namespace,
            target: target.0,
            provider: provider?,
            progress_deadline_seconds: deadline?,
            skip_analysis: skip?,
            analysis,
        },
        checks,
        template_refs,
        name_pos: name.1,
        target_pos: target.1,
        model: model?,
    })
}

fn read_target(report: &mut Report, spec: &mut Fields) -> Option<(String, Pos)> {
    let mut t =
        spec.req_child(report, "targetRef", "{apiVersion: apps/v1, kind: Deployment, name: podinfo}")?;
    if let Some(kind) = t.opt("kind") {
        let text = scalar_text(report, kind, "spec.targetRef.kind", "`Deployment`")?;
        if text != "Deployment" {
            report
                .error(kind.pos, format!("a Canary targeting a `{text}` is not simulated"))
                .label("expected `Deployment`")
                .help("rollsim simulates Flagger Canaries whose `targetRef` is an apps/v1 Deployment");
            return None;
        }
    }
    let name = t.req(report, "name", "podinfo")?;
    Some((read_string(report, name, "spec.targetRef.name")?, name.pos))
}

fn read_provider(report: &mut Report, node: &Node) -> Option<Provider> {
    let text = scalar_text(report, node, "spec.provider", "a provider name")?;
    match text {
        "istio" => Some(Provider::Istio),
        "kubernetes" => Some(Provider::Kubernetes),
        other => {
            let help = match did_you_mean(other, &["istio", "kubernetes"]) {
                Some(guess) => format!("did you mean `{guess}`?"),
                None => "use `provider: istio` (the default) or `provider: kubernetes` (Blue/Green without a mesh)".into(),
            };
            report
                .error(node.pos, format!("Flagger provider `{other}` is not simulated"))
                .label("rollsim simulates the `istio` and `kubernetes` providers")
                .help(help);
            None
        }
    }
}

/// A Flagger count (`int`); 0 means unset.
fn count(report: &mut Report, f: &mut Fields, key: &'static str) -> Option<u32> {
    match f.opt(key) {
        Some(n) => read_count(report, n, &f.sub(key), INT32_MAX).map(|v| v as u32),
        None => Some(0),
    }
}

type Checks = (Vec<FlaggerCheck>, Vec<(usize, TemplateRef)>);

fn read_analysis(
    report: &mut Report,
    mut a: Fields,
    path: &str,
    model: Option<&QueryModel>,
    provider: Option<Provider>,
) -> Option<(CanaryAnalysis, Checks)> {
    let interval = match a.opt("interval") {
        Some(n) => read_duration(report, n, &a.sub("interval")).map(Some),
        None => Some(None),
    };
    let threshold = count(report, &mut a, "threshold");
    let max_weight = count(report, &mut a, "maxWeight");
    let step_weight = count(report, &mut a, "stepWeight");
    let step_weights = match a.opt("stepWeights") {
        Some(n) => read_count_list(report, n, &a.sub("stepWeights")),
        None => Some(Vec::new()),
    };
    let promotion = count(report, &mut a, "stepWeightPromotion");
    let iterations = count(report, &mut a, "iterations");
    let has_match = a.opt("match").map(|n| match &n.value {
        Value::Seq(items) => !items.is_empty(),
        _ => !n.is_null(),
    });
    let mirror = match a.opt("mirror") {
        Some(n) => read_bool(report, n, &a.sub("mirror")),
        None => Some(false),
    };
    let mirror_weight = count(report, &mut a, "mirrorWeight");
    let ready = |report: &mut Report, a: &mut Fields, key: &'static str| match a.opt(key) {
        Some(n) => read_count(report, n, &a.sub(key), INT32_MAX).map(|v| Some(v as u32)),
        None => Some(None),
    };
    let canary_ready = ready(report, &mut a, "canaryReadyThreshold");
    let primary_ready = ready(report, &mut a, "primaryReadyThreshold");
    let checks = match a.opt("metrics") {
        Some(n) => read_metrics(report, n, &format!("{path}.metrics"), model, provider),
        None => Some((Vec::new(), Vec::new())),
    };
    let analysis = CanaryAnalysis {
        interval: interval?,
        threshold: threshold?,
        max_weight: max_weight?,
        step_weight: step_weight?,
        step_weights: step_weights?,
        step_weight_promotion: promotion?,
        iterations: iterations?,
        has_match: has_match.unwrap_or(false),
        mirror: mirror?,
        mirror_weight: mirror_weight?,
        canary_ready_threshold: canary_ready?,
        primary_ready_threshold: primary_ready?,
    };
    Some((analysis, checks?))
}

fn read_count_list(report: &mut Report, node: &Node, what: &str) -> Option<Vec<u32>> {
    let Value::Seq(items) = &node.value else {
        report
            .error(node.pos, format!("`{what}` must be a list, found {}", node.describe()))
            .label("expected a list such as `[1, 2, 10, 80]`");
        return None;
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| read_count(report, n, &format!("{what}[{i}]"), INT32_MAX).map(|v| v as u32))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

fn read_metrics(
    report: &mut Report,
    node: &Node,
    what: &str,
    model: Option<&QueryModel>,
    provider: Option<Provider>,
) -> Option<Checks> {
    let Value::Seq(items) = &node.value else {
        report.error(node.pos, format!("`{what}` must be a list, found {}", node.describe())).label(
            "expected a list of metrics such as `[{name: request-success-rate, thresholdRange: {min: 99}}]`",
        );
        return None;
    };
    let mut checks = Vec::new();
    let mut refs = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_metric(report, item, &format!("{what}[{i}]"), model, provider) {
            Some((c, r)) => {
                if let Some(r) = r {
                    refs.push((checks.len(), r));
                }
                checks.push(c);
            }
            None => ok = false,
        }
    }
    ok.then_some((checks, refs))
}

fn read_metric(
    report: &mut Report,
    item: &Node,
    what: &str,
    model: Option<&QueryModel>,
    provider: Option<Provider>,
) -> Option<(FlaggerCheck, Option<TemplateRef>)> {
    let mut f = Fields::new(report, item, item.pos, what)?;
    let name = f.req(report, "name", "request-success-rate")?;
    let name = read_string(report, name, &f.sub("name"))?;
    let custom = f.opt("templateRef").is_some() || f.opt("query").is_some();
    let kind = match name.as_str() {
        "request-success-rate" if !custom => FlaggerCheckKind::RequestSuccessRate,
        "request-duration" if !custom => FlaggerCheckKind::RequestDuration,
        _ => FlaggerCheckKind::Custom,
    };
    let bound = |report: &mut Report, r: &mut Fields, key: &'static str| match r.opt(key) {
        Some(n) => read_number(report, n, &r.sub(key), f64::MIN, false, f64::MAX).map(Some),
        None => Some(None),
    };
    let (min, max) = match f.child(report, "thresholdRange") {
        Some(mut r) => (bound(report, &mut r, "min")?, bound(report, &mut r, "max")?),
        None => match f.opt("threshold") {
            // Legacy `threshold`: a minimum for the success rate, a maximum otherwise.
            Some(n) => {
                let t = read_number(report, n, &f.sub("threshold"), f64::MIN, false, f64::MAX)?;
                if kind == FlaggerCheckKind::RequestSuccessRate { (Some(t), None) } else { (None, Some(t)) }
            }
            None => (None, None),
        },
    };
    let interval_node = f.opt("interval");
    let interval = match interval_node {
        Some(n) => read_duration(report, n, &f.sub("interval"))?,
        None => MINUTE,
    };
    let interval_text = interval_node.and_then(Node::as_scalar).map(|s| s.text.clone());
    let template_ref = match f.child(report, "templateRef") {
        Some(mut t) => {
            let name_node = t.req(report, "name", "my-metric")?;
            let name = read_string(report, name_node, &t.sub("name"))?;
            let namespace = match t.opt("namespace") {
                Some(n) => Some(read_string(report, n, &t.sub("namespace"))?),
                None => None,
            };
            let variables = match f.opt("templateVariables") {
                Some(n) => read_string_map(report, n, &f.sub("templateVariables"))?,
                None => BTreeMap::new(),
            };
            Some(TemplateRef {
                name,
                namespace,
                pos: name_node.pos,
                interval: interval_text.clone().unwrap_or_default(),
                variables,
                path: what.to_string(),
            })
        }
        None => None,
    };
    // The builtin checks' queries, and an inline `query` (run as written, whitespace collapsed).
    let query_text = match (kind, f.opt("query"), model, provider) {
        (FlaggerCheckKind::Custom, Some(n), _, _) => {
            Some((collapse_whitespace(&read_string(report, n, &f.sub("query"))?), n.pos, f.sub("query")))
        }
        (FlaggerCheckKind::Custom, None, _, _) | (_, _, None, _) | (_, _, _, None) => None,
        (kind, _, Some(m), Some(p)) => {
            let interval = interval_text.as_deref().unwrap_or(DEFAULT_METRIC_INTERVAL);
            let pos = interval_node.map_or(item.pos, |n| n.pos);
            builtin_query(kind, p, &m.namespace, &m.target, interval).map(|q| (q, pos, f.sub("interval")))
        }
    };
    let query = match query_text {
        Some((text, pos, what)) => match promql::parse(&text) {
            Ok(q) => Some(q),
            Err(e) => {
                let extra = format!(" (the query Flagger runs: `{}`)", text.trim());
                super::prometheus::report_promql(report, pos, &format!("`{what}`"), &e, &extra);
                return None;
            }
        },
        None => None,
    };
    Some((FlaggerCheck { name, kind, min, max, interval, query }, template_ref))
}

/// Fills in the query of every `templateRef` check from its MetricTemplate.
pub(crate) fn resolve_checks(
    report: &mut Report,
    c: &CanaryDoc,
    templates: &[MetricTemplateDoc],
    all_read: bool,
) -> Option<Vec<FlaggerCheck>> {
    let mut checks = c.checks.clone();
    let mut ok = true;
    for (index, r) in &c.template_refs {
        let namespace = r.namespace.as_deref().unwrap_or(&c.spec.namespace);
        let fits = |t: &&MetricTemplateDoc| t.namespace.as_deref().is_none_or(|ns| ns == namespace);
        let Some(t) = templates.iter().filter(fits).find(|t| t.name == r.name) else {
            if all_read {
                let names: Vec<&str> = templates.iter().filter(fits).map(|t| t.name.as_str()).collect();
                let help = match (names.as_slice(), did_you_mean(&r.name, &names)) {
                    ([], _) => format!(
                        "this file has no MetricTemplate in namespace `{namespace}`: add the `flagger.app/v1beta1 MetricTemplate` as another `---` document"
                    ),
                    (_, Some(guess)) => {
                        format!("did you mean `{guess}`? MetricTemplates in this file: {}", list_all(&names))
                    }
                    _ => format!("MetricTemplates in this file: {}", list_all(&names)),
                };
                report
                    .error(
                        r.pos,
                        format!(
                            "Canary `{}` references MetricTemplate `{}`, which is not in this file",
                            c.spec.name, r.name
                        ),
                    )
                    .label(format!("no MetricTemplate with this name in namespace `{namespace}`"))
                    .help(help);
            }
            ok = false;
            continue;
        };
        let rendered = match render_query(&t.query, &c.model, &r.interval, &r.variables) {
            Ok(q) => q,
            Err(e) => {
                report
                    .error(
                        t.query_pos,
                        format!(
                            "MetricTemplate `{}` cannot be rendered for `{}` of Canary `{}`: {e}",
                            t.name, r.path, c.spec.name
                        ),
                    )
                    .label("Flagger's rendering fails, and so does every check")
                    .help(format!("add the variable to the metric's `templateVariables`; {TEMPLATE_HELP}"));
                ok = false;
                continue;
            }
        };
        match promql::parse(&rendered) {
            Ok(q) => checks[*index].query = Some(q),
            Err(e) => {
                let mut extra = format!(
                    " (rendered for `{}` of Canary `{}`: `{}`)",
                    r.path,
                    c.spec.name,
                    rendered.trim()
                );
                if r.interval.is_empty() && t.query.contains("interval") {
                    extra += "; the metric has no `interval`, and Flagger renders a MetricTemplate's `{{ interval }}` empty (the 1m default applies to the builtin checks only): set `interval: 1m` on the metric";
                }
                let what = format!("`spec.query` of MetricTemplate `{}`", t.name);
                super::prometheus::report_promql(report, t.query_pos, &what, &e, &extra);
                ok = false;
            }
        }
    }
    ok.then_some(checks)
}
