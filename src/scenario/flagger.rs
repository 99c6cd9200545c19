//! `flagger.app/v1beta1 Canary`, read leniently: the target, the provider, the deadline and
//! the analysis (the deprecated `canaryAnalysis` key is read as `analysis`). Numbers keep
//! Flagger's meaning of zero as "unset" ([`CanaryAnalysis`]); `service` and `webhooks` are
//! read by Flagger but not simulated, and ignored here.

use super::decode::{Fields, read_bool, read_count, read_duration, read_number, read_string, scalar_text};
use super::diagnostic::{Pos, Report, did_you_mean};
use super::manifests::read_metadata;
use super::model::{FlaggerCheck, FlaggerCheckKind};
use super::tree::{Node, Value};
use crate::controllers::flagger::spec::{CanaryAnalysis, CanarySpec, Provider};

const INT32_MAX: u64 = i32::MAX as u64;

pub(crate) struct CanaryDoc {
    pub spec: CanarySpec,
    pub checks: Vec<FlaggerCheck>,
    pub name_pos: Pos,
    /// Position of `spec.targetRef.name`.
    pub target_pos: Pos,
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
    let key = if spec.key_pos("analysis").is_some() { "analysis" } else { "canaryAnalysis" };
    let analysis = match spec.child(report, key) {
        Some(a) => read_analysis(report, a),
        None => Some((CanaryAnalysis::default(), Vec::new())),
    };
    let (name, namespace, target, (analysis, checks)) = (name?, namespace?, target?, analysis?);
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
        name_pos: name.1,
        target_pos: target.1,
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

fn read_analysis(report: &mut Report, mut a: Fields) -> Option<(CanaryAnalysis, Vec<FlaggerCheck>)> {
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
        Some(n) => read_metrics(report, n, &a.sub("metrics")),
        None => Some(Vec::new()),
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

fn read_metrics(report: &mut Report, node: &Node, what: &str) -> Option<Vec<FlaggerCheck>> {
    let Value::Seq(items) = &node.value else {
        report.error(node.pos, format!("`{what}` must be a list, found {}", node.describe())).label(
            "expected a list of metrics such as `[{name: request-success-rate, thresholdRange: {min: 99}}]`",
        );
        return None;
    };
    let mut checks = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_metric(report, item, &format!("{what}[{i}]")) {
            Some(c) => checks.push(c),
            None => ok = false,
        }
    }
    ok.then_some(checks)
}

fn read_metric(report: &mut Report, item: &Node, what: &str) -> Option<FlaggerCheck> {
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
        Some(n) => read_number(report, n, &r.sub(key), f64::MIN, false).map(Some),
        None => Some(None),
    };
    let (min, max) = match f.child(report, "thresholdRange") {
        Some(mut r) => (bound(report, &mut r, "min")?, bound(report, &mut r, "max")?),
        None => match f.opt("threshold") {
            // Legacy `threshold`: a minimum for the success rate, a maximum otherwise.
            Some(n) => {
                let t = read_number(report, n, &f.sub("threshold"), f64::MIN, false)?;
                if kind == FlaggerCheckKind::RequestSuccessRate { (Some(t), None) } else { (None, Some(t)) }
            }
            None => (None, None),
        },
    };
    Some(FlaggerCheck { name, kind, min, max, interval: crate::engine::MINUTE, query: None })
}
