//! `rollsim.dev/v1alpha1 CanaryConfig`: the Kayenta canary configuration an Argo
//! `provider.kayenta` names by `canaryConfigName`. In a real cluster it is stored in Kayenta,
//! not in Kubernetes; here it is one more document, whose `spec` is Kayenta's canary-config
//! JSON written as YAML:
//!
//! - `metrics[]`: `name`, `query: {type: prometheus, customInlineTemplate}` (the PromQL, with
//!   `${scope}` standing for a scope's label matchers; a leading `PromQL:` is dropped),
//!   `groups` (the first is the metric's scoring group), and
//!   `analysisConfigurations.canary`: `direction`, `critical`, `mustHaveData`, `nanStrategy`,
//!   `effectSize` and `outliers`;
//! - `classifier.groupWeights`.
//!
//! Kayenta's bookkeeping fields (`id`, `applications`, `judge`, `configVersion`, …) and
//! `classifier.scoreThresholds` are read and ignored: Argo passes its own `threshold`.

use super::analysis::Text;
use super::decode::{Fields, read_bool, read_choice, read_number, read_string, scalar_text};
use super::diagnostic::{Pos, Report};
use super::manifests::read_metadata;
use super::tree::{Node, Value};
use crate::controllers::kayenta::preprocess::OUTLIER_FACTOR_DEFAULT;
use crate::controllers::kayenta::{
    Direction, EffectMeasure, EffectSize, JudgeConfig, MetricConfig, NanStrategy, Outliers,
};
use crate::telemetry::promql;

/// The one template variable rollsim substitutes.
pub(crate) const SCOPE_VAR: &str = "${scope}";

/// A CanaryConfig document.
#[derive(Clone, Debug)]
pub(crate) struct CanaryConfigDoc {
    pub name: String,
    /// The metrics and group weights; the thresholds are set from the Argo metric.
    pub config: JudgeConfig,
    /// Per metric of `config`, in its order: `customInlineTemplate` without `PromQL:`.
    pub templates: Vec<Text>,
}

const EXAMPLE: &str = "{metrics: [{name: error-ratio, query: {type: prometheus, customInlineTemplate: \
\"sum(rate(http_requests_total{${scope},status=~\\\"5..\\\"}[1m]))\"}, groups: [errors], \
analysisConfigurations: {canary: {direction: increase}}}], classifier: {groupWeights: {errors: 100}}}";

pub(crate) fn read_canary_config(report: &mut Report, root: &Node, kind_pos: Pos) -> Option<CanaryConfigDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, _) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(report, "spec", EXAMPLE)?;
    for key in [
        "id",
        "name",
        "description",
        "configVersion",
        "applications",
        "judge",
        "templates",
        "createdTimestamp",
        "createdTimestampIso",
        "updatedTimestamp",
        "updatedTimestampIso",
    ] {
        spec.opt(key);
    }
    let metrics = match spec.req(report, "metrics", "[{name: error-ratio, query: {...}, groups: [errors]}]") {
        Some(n) => read_metrics(report, n, &spec.sub("metrics")),
        None => None,
    };
    let weights = match spec.child(report, "classifier") {
        Some(c) => read_classifier(report, c),
        None => Some(Vec::new()),
    };
    let spec_pos = spec.at();
    spec.deny_unknown(report);
    let (name, metrics, weights) = (name?, metrics?, weights?);
    let (configs, templates): (Vec<MetricConfig>, Vec<Text>) = metrics.into_iter().unzip();
    let mut config = JudgeConfig::new(configs);
    config.group_weights = weights;
    if let Err(e) = config.validate() {
        report
            .error(spec_pos, format!("CanaryConfig `{}` cannot be judged with: {e}", name.0))
            .label("Kayenta rejects this canary configuration")
            .help("give each metric its own name, group weights that total at most 100, and outlier factors > 0");
        return None;
    }
    Some(CanaryConfigDoc { name: name.0, config, templates })
}

fn read_metrics(report: &mut Report, node: &Node, path: &str) -> Option<Vec<(MetricConfig, Text)>> {
    let items = match &node.value {
        Value::Seq(items) if !items.is_empty() => items,
        _ => {
            report
                .error(node.pos, format!("`{path}` must be a non-empty list, found {}", node.describe()))
                .label("expected the canary metrics")
                .help(format!("write e.g. `spec: {EXAMPLE}`"));
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_metric(report, item, &format!("{path}[{i}]")) {
            Some(m) => out.push(m),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_metric(report: &mut Report, item: &Node, path: &str) -> Option<(MetricConfig, Text)> {
    let mut f = Fields::new(report, item, item.pos, path)?;
    f.opt("scopeName");
    let name = f.req(report, "name", "error-ratio").and_then(|n| read_string(report, n, &f.sub("name")));
    let template = f
        .req_child(
            report,
            "query",
            "{type: prometheus, customInlineTemplate: \"sum(rate(x{${scope}}[1m]))\"}",
        )
        .and_then(|q| read_query(report, q));
    let group = f.req(report, "groups", "[errors]").and_then(|n| read_group(report, n, &f.sub("groups")));
    let canary = match f.child(report, "analysisConfigurations") {
        Some(mut a) => {
            let c = match a.child(report, "canary") {
                Some(c) => read_canary(report, c),
                None => Some(Canary::default()),
            };
            a.deny_unknown(report);
            c
        }
        None => Some(Canary::default()),
    };
    f.deny_unknown(report);
    let (name, template, group, canary) = (name?, template?, group?, canary?);
    let mut m = MetricConfig::new(name, group);
    m.direction = canary.direction;
    m.critical = canary.critical;
    m.must_have_data = canary.must_have_data;
    m.nan_strategy = canary.nan_strategy;
    m.effect_size = canary.effect_size;
    m.outliers = canary.outliers;
    Some((m, template))
}

/// `query`: the inline PromQL template, checked with a stand-in scope.
fn read_query(report: &mut Report, mut q: Fields) -> Option<Text> {
    for key in ["serviceType", "metricName", "labelBindings", "groupByFields", "resourceType", "scopeName"] {
        q.opt(key);
    }
    let kind = q
        .req(report, "type", "prometheus")
        .and_then(|n| read_choice(report, n, &q.sub("type"), &["prometheus"]));
    for key in ["customFilterTemplate", "customFilter"] {
        if let Some(pos) = q.key_pos(key) {
            report
                .error(pos, format!("`{}.{key}` is not simulated", q.path))
                .label("rollsim reads `customInlineTemplate` only")
                .help("write the whole PromQL in `customInlineTemplate`, with `${scope}` where the scope's label matchers go");
            return None;
        }
    }
    let node = q.req(report, "customInlineTemplate", "\"sum(rate(http_requests_total{${scope}}[1m]))\"");
    let what = q.sub("customInlineTemplate");
    let text =
        node.and_then(|n| scalar_text(report, n, &what, "a PromQL template").map(|t| (t.to_string(), n.pos)));
    q.deny_unknown(report);
    let ((text, pos), _) = (text?, kind?);
    let text = text.trim().strip_prefix("PromQL:").unwrap_or(text.trim()).to_string();
    let template = Text { text, pos };
    // Checked now with a stand-in scope, so that a config no Rollout uses is checked too.
    render(report, &template, &what, "rollsim_scope=\"x\"", "")?;
    Some(template)
}

/// The template with `${scope}` replaced by `scope`, parsed. `context` (may be empty) says for
/// which analysis, in messages.
pub(crate) fn render(
    report: &mut Report,
    template: &Text,
    what: &str,
    scope: &str,
    context: &str,
) -> Option<promql::Query> {
    if let Some(start) = template.text.find("${")
        && !template.text[start..].starts_with(SCOPE_VAR)
    {
        let var: String = template.text[start..].chars().take_while(|&c| c != '}').collect();
        report
            .error(template.pos, format!("{what} uses `{var}}}`, which rollsim does not substitute"))
            .label("only `${scope}` is bound")
            .help("write the scope's label matchers as `${scope}`, e.g. `http_requests_total{${scope}}`");
        return None;
    }
    let text = template.text.replace(SCOPE_VAR, scope);
    match promql::parse(&text) {
        Ok(q) => Some(q),
        Err(e) => {
            let extra = if context.is_empty() {
                String::new()
            } else {
                format!(" (the query, with the scope of {context}: `{text}`)")
            };
            super::prometheus::report_promql(report, template.pos, what, &e, &extra);
            None
        }
    }
}

fn read_group(report: &mut Report, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Seq(items) if !items.is_empty() => read_string(report, &items[0], &format!("{path}[0]")),
        _ => {
            report
                .error(node.pos, format!("`{path}` must be a non-empty list, found {}", node.describe()))
                .label("expected the metric's scoring group")
                .help("write `groups: [errors]`; the first group is the one the metric scores in");
            None
        }
    }
}

/// `analysisConfigurations.canary`.
struct Canary {
    direction: Direction,
    critical: bool,
    must_have_data: bool,
    nan_strategy: NanStrategy,
    effect_size: EffectSize,
    outliers: Outliers,
}

impl Default for Canary {
    fn default() -> Self {
        Self {
            direction: Direction::default(),
            critical: false,
            must_have_data: false,
            nan_strategy: NanStrategy::default(),
            effect_size: EffectSize::new(EffectMeasure::default()),
            outliers: Outliers::default(),
        }
    }
}

fn read_canary(report: &mut Report, mut c: Fields) -> Option<Canary> {
    let mut out = Canary::default();
    let mut ok = true;
    if let Some(n) = c.opt("direction") {
        match read_choice(report, n, "canary metric direction", &["increase", "decrease", "either"]) {
            Some("increase") => out.direction = Direction::Increase,
            Some("decrease") => out.direction = Direction::Decrease,
            Some(_) => out.direction = Direction::Either,
            None => ok = false,
        }
    }
    for (key, slot) in [("critical", &mut out.critical), ("mustHaveData", &mut out.must_have_data)] {
        if let Some(n) = c.opt(key) {
            match read_bool(report, n, &c.sub(key)) {
                Some(b) => *slot = b,
                None => ok = false,
            }
        }
    }
    if let Some(n) = c.opt("nanStrategy") {
        match read_choice(report, n, "nanStrategy", &["remove", "replace"]) {
            Some("replace") => out.nan_strategy = NanStrategy::Replace,
            Some(_) => out.nan_strategy = NanStrategy::Remove,
            None => ok = false,
        }
    }
    if let Some(mut e) = c.child(report, "effectSize") {
        let measure = match e.opt("measure") {
            Some(n) => match read_choice(report, n, "effect-size measure", &["meanRatio", "cles"]) {
                Some("cles") => Some(EffectMeasure::Cles),
                Some(_) => Some(EffectMeasure::MeanRatio),
                None => None,
            },
            None => Some(EffectMeasure::MeanRatio),
        };
        match measure {
            Some(measure) => {
                let mut size = EffectSize::new(measure);
                for (key, slot) in [
                    ("allowedIncrease", &mut size.allowed_increase),
                    ("allowedDecrease", &mut size.allowed_decrease),
                    ("criticalIncrease", &mut size.critical_increase),
                    ("criticalDecrease", &mut size.critical_decrease),
                ] {
                    if let Some(n) = e.opt(key) {
                        match read_number(report, n, &e.sub(key), 0.0, false, f64::MAX) {
                            Some(v) => *slot = v,
                            None => ok = false,
                        }
                    }
                }
                out.effect_size = size;
            }
            None => ok = false,
        }
        e.deny_unknown(report);
    }
    if let Some(mut o) = c.child(report, "outliers") {
        let remove = match o.opt("strategy") {
            Some(n) => read_choice(report, n, "outlier strategy", &["keep", "remove"]).map(|s| s == "remove"),
            None => Some(false),
        };
        let factor = match o.opt("outlierFactor") {
            Some(n) => read_number(report, n, &o.sub("outlierFactor"), 0.0, true, f64::MAX),
            None => Some(OUTLIER_FACTOR_DEFAULT),
        };
        match (remove, factor) {
            (Some(true), Some(factor)) => {
                out.outliers = Outliers::Remove { factor, reduce_sensitivity: true }
            }
            (Some(false), Some(_)) => out.outliers = Outliers::Keep,
            _ => ok = false,
        }
        o.deny_unknown(report);
    }
    c.deny_unknown(report);
    ok.then_some(out)
}

/// `classifier: {groupWeights: {GROUP: PERCENT}, scoreThresholds}` → the group weights.
fn read_classifier(report: &mut Report, mut c: Fields) -> Option<Vec<(String, f64)>> {
    c.opt("scoreThresholds");
    let mut weights = Vec::new();
    let mut ok = true;
    if let Some(n) = c.opt("groupWeights") {
        match n.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    match read_number(
                        report,
                        v,
                        &format!("{}.{}", c.sub("groupWeights"), k.key_text()),
                        0.0,
                        false,
                        f64::MAX,
                    ) {
                        Some(w) => weights.push((k.key_text().to_string(), w)),
                        None => ok = false,
                    }
                }
            }
            None if n.is_null() => {}
            None => {
                report
                    .error(
                        n.pos,
                        format!("`{}` must be a mapping, found {}", c.sub("groupWeights"), n.describe()),
                    )
                    .label("expected `GROUP: PERCENT` pairs")
                    .help("write e.g. `groupWeights: {errors: 70, latency: 30}`");
                ok = false;
            }
        }
    }
    c.deny_unknown(report);
    ok.then_some(weights)
}
