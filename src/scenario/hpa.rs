//! `autoscaling/v2 HorizontalPodAutoscaler` documents: which one runs, and its spec.
//!
//! An HPA runs when `pods.cpuPerRequest` is set and its `scaleTargetRef` is the release's
//! Deployment (a rolling or Recreate release) or Rollout. It is read with autoscaling/v2's
//! defaults: `minReplicas` 1, CPU at 80 % when `metrics` is empty, `behavior` filled in
//! per direction when written (absent, the controller's legacy normalisation applies). Only
//! a `Resource` metric on `cpu` with a `Utilization` target is simulated; other metrics get
//! a note and are left out. Every other HPA keeps the "not simulated" note.

use super::decode::{read_choice, read_count};
use super::diagnostic::Report;
use super::model::{Autoscaling, Scenario, Strategy};
use super::tree::Node;
use crate::controllers::hpa::{
    Behavior, DEFAULT_CPU_UTILIZATION, DEFAULT_SYNC_PERIOD, HpaSpec, Policy, PolicyKind, Rules, SelectPolicy,
};

fn text(n: Option<&Node>) -> Option<String> {
    n.and_then(Node::as_scalar).map(|s| s.text.clone())
}

/// The HPA to run for `scenario`, if any, and the notes about what of it is not simulated.
/// `None` with an error in `report` when the HPA that would run cannot be read.
pub(super) fn resolve(
    report: &mut Report,
    roots: &[&Node],
    scenario: &Scenario,
) -> (Option<Autoscaling>, Vec<String>) {
    let mut notes = Vec::new();
    let Some(cpu_per_request) = scenario.pods.cpu_per_request else { return (None, notes) };
    let target = match &scenario.strategy {
        Strategy::Deployment => ("Deployment", scenario.deployment.name.as_str()),
        Strategy::Rollout(r) => ("Rollout", r.name.as_str()),
        _ => return (None, notes),
    };
    for root in roots {
        if text(root.get("kind")).as_deref() != Some("HorizontalPodAutoscaler") {
            continue;
        }
        let Some(spec) = root.get("spec") else { continue };
        let reference = spec.get("scaleTargetRef");
        let kind = text(reference.and_then(|t| t.get("kind")));
        let name = text(reference.and_then(|t| t.get("name")));
        if (kind.as_deref(), name.as_deref()) != (Some(target.0), Some(target.1)) {
            continue;
        }
        let hpa_name = text(root.get("metadata").and_then(|m| m.get("name"))).unwrap_or_default();
        let object = format!("HorizontalPodAutoscaler/{hpa_name}");
        let Some(spec) = read_spec(report, spec, &object, &mut notes) else { return (None, notes) };
        let autoscaling = Autoscaling {
            object,
            target: format!("{}/{}", target.0, target.1),
            spec,
            cpu_per_request,
            sync_period: DEFAULT_SYNC_PERIOD,
        };
        return (Some(autoscaling), notes);
    }
    (None, notes)
}

const MAX_REPLICAS: u64 = 100_000;

fn read_spec(report: &mut Report, spec: &Node, object: &str, notes: &mut Vec<String>) -> Option<HpaSpec> {
    let count = |report: &mut Report, key: &str| {
        spec.get(key).map(|n| read_count(report, n, &format!("spec.{key}"), MAX_REPLICAS).map(|v| v as i64))
    };
    let min = count(report, "minReplicas").unwrap_or(Some(1));
    let max = match count(report, "maxReplicas") {
        Some(v) => v,
        None => {
            report
                .error(spec.pos, format!("{object}: `spec.maxReplicas` is required"))
                .label("the HPA's upper bound")
                .help("add `maxReplicas: 10` (autoscaling/v2 has no default)");
            None
        }
    };
    let target = read_metrics(report, spec.get("metrics"), object, notes);
    let behavior = match spec.get("behavior") {
        Some(b) => {
            let up = read_rules(report, b.get("scaleUp"), "spec.behavior.scaleUp", Rules::default_up());
            let down =
                read_rules(report, b.get("scaleDown"), "spec.behavior.scaleDown", Rules::default_down());
            Some(up.zip(down).map(|(scale_up, scale_down)| Behavior { scale_up, scale_down }))
        }
        None => None,
    };
    let (min, max, target) = (min?, max?, target?);
    let behavior = match behavior {
        Some(b) => Some(b?),
        None => None,
    };
    if min < 1 || max < min {
        let at = spec.get("maxReplicas").or(spec.get("minReplicas")).map_or(spec.pos, |n| n.pos);
        report
            .error(at, format!("{object}: `minReplicas` {min} and `maxReplicas` {max} do not make a range"))
            .label("expected 1 ≤ minReplicas ≤ maxReplicas")
            .help("scaling to zero (`minReplicas: 0`, alpha HPAScaleToZero) is not simulated");
        return None;
    }
    Some(HpaSpec { min_replicas: min, max_replicas: max, target_utilization: target, behavior })
}

/// The CPU utilisation target of `spec.metrics` (80 when there are none).
fn read_metrics(
    report: &mut Report,
    metrics: Option<&Node>,
    object: &str,
    notes: &mut Vec<String>,
) -> Option<i64> {
    let Some(list) = metrics.filter(|m| !m.is_null()) else { return Some(DEFAULT_CPU_UTILIZATION) };
    let items: Vec<&Node> = match &list.value {
        super::tree::Value::Seq(items) => items.iter().collect(),
        _ => {
            report
                .error(list.pos, format!("{object}: `spec.metrics` must be a list"))
                .label("expected a list");
            return None;
        }
    };
    let mut target = None;
    for m in items {
        let kind = text(m.get("type")).unwrap_or_default();
        let resource = m.get("resource");
        let name = text(resource.and_then(|r| r.get("name")));
        let t = resource.and_then(|r| r.get("target"));
        let target_type = text(t.and_then(|t| t.get("type")));
        if kind == "Resource"
            && name.as_deref() == Some("cpu")
            && target_type.as_deref() == Some("Utilization")
        {
            let Some(node) = t.and_then(|t| t.get("averageUtilization")) else {
                report
                    .error(m.pos, format!("{object}: a CPU `Utilization` target needs `averageUtilization`"))
                    .help("e.g. `target: {type: Utilization, averageUtilization: 70}`");
                return None;
            };
            let v = read_count(report, node, "target.averageUtilization", 10_000)? as i64;
            if v == 0 {
                report
                    .error(node.pos, "`target.averageUtilization` must be at least 1")
                    .label("expected a percentage > 0");
                return None;
            }
            target = Some(v);
        } else {
            let what = match (kind.as_str(), name) {
                ("Resource", Some(n)) => {
                    format!("a {kind} metric on {n} ({})", target_type.unwrap_or_default())
                }
                _ => format!("a {kind} metric"),
            };
            notes.push(format!(
                "{object}: {what} is not simulated; only CPU utilisation (pods.cpuPerRequest) drives it"
            ));
        }
    }
    match target {
        Some(t) => Some(t),
        None => {
            report
                .error(list.pos, format!("{object}: no CPU utilisation metric to simulate"))
                .label("rollsim simulates `type: Resource`, `name: cpu`, `target.type: Utilization`")
                .help("add that metric, or remove `pods.cpuPerRequest` to leave the HPA unsimulated");
            None
        }
    }
}

/// `HPAScalingRules` with `GenerateHPAScaleUpRules`/`...ScaleDownRules` defaults for what is
/// not written.
fn read_rules(report: &mut Report, node: Option<&Node>, path: &str, default: Rules) -> Option<Rules> {
    let Some(node) = node.filter(|n| !n.is_null()) else { return Some(default) };
    let mut rules = default;
    if let Some(w) = node.get("stabilizationWindowSeconds") {
        rules.stabilization_seconds =
            read_count(report, w, &format!("{path}.stabilizationWindowSeconds"), 3600)? as i64;
    }
    if let Some(s) = node.get("selectPolicy") {
        rules.select =
            match read_choice(report, s, &format!("{path}.selectPolicy"), &["Max", "Min", "Disabled"])? {
                "Min" => SelectPolicy::Min,
                "Disabled" => SelectPolicy::Disabled,
                _ => SelectPolicy::Max,
            };
    }
    if let Some(list) = node.get("policies") {
        let super::tree::Value::Seq(items) = &list.value else {
            report.error(list.pos, format!("`{path}.policies` must be a list")).label("expected a list");
            return None;
        };
        let mut policies = Vec::new();
        for p in items {
            let field = |key: &str| p.get(key);
            let (Some(kind), Some(value), Some(period)) =
                (field("type"), field("value"), field("periodSeconds"))
            else {
                report
                    .error(
                        p.pos,
                        format!("a `{path}.policies` entry needs `type`, `value` and `periodSeconds`"),
                    )
                    .help("e.g. `{type: Pods, value: 4, periodSeconds: 15}`");
                return None;
            };
            let kind = match read_choice(report, kind, "policy type", &["Pods", "Percent"])? {
                "Pods" => PolicyKind::Pods,
                _ => PolicyKind::Percent,
            };
            let value = read_count(report, value, &format!("{path}.policies.value"), 100_000)? as i64;
            let period = read_count(report, period, &format!("{path}.policies.periodSeconds"), 1800)? as i64;
            if value == 0 || period == 0 {
                report
                    .error(p.pos, "a scaling policy's `value` and `periodSeconds` must be at least 1")
                    .label("autoscaling/v2 rejects 0");
                return None;
            }
            policies.push(Policy { kind, value, period_seconds: period });
        }
        rules.policies = policies;
    }
    Some(rules)
}

#[cfg(test)]
mod tests {
    use super::super::tests_release::{check_error, errors, load, pos_of};
    use crate::controllers::hpa::{PolicyKind, SelectPolicy};

    const SHIPPED: &str = include_str!("../../scenarios/rolling-hpa-step-load.yaml");

    #[test]
    fn the_shipped_hpa_runs_with_its_defaults() {
        let s = load(SHIPPED);
        let a = s.autoscaling.expect("the HPA runs");
        assert_eq!(
            (a.object.as_str(), a.target.as_str()),
            ("HorizontalPodAutoscaler/myapp", "Deployment/myapp")
        );
        assert_eq!((a.spec.min_replicas, a.spec.max_replicas, a.spec.target_utilization), (4, 20, 60));
        assert_eq!(a.spec.behavior, None, "no behavior: the legacy normalisation");
        assert_eq!(a.cpu_per_request, 2.5);
        assert!(s.notes.iter().all(|n| !n.contains("HorizontalPodAutoscaler")), "{:?}", s.notes);
        // Without pods.cpuPerRequest it is skipped and noted, as before.
        let off = load(&SHIPPED.replace("    cpuPerRequest: 2.5\n", ""));
        assert!(off.autoscaling.is_none());
        assert!(
            off.notes[0].starts_with("HorizontalPodAutoscaler/myapp is not simulated"),
            "{:?}",
            off.notes
        );
    }

    #[test]
    fn behavior_and_other_metrics() {
        let text = SHIPPED.replace(
            "        target: {type: Utilization, averageUtilization: 60}\n",
            "        target: {type: Utilization, averageUtilization: 60}\n    \
             - type: Pods\n      pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 50}}\n  \
             behavior:\n    scaleDown:\n      selectPolicy: Min\n      \
             policies: [{type: Pods, value: 1, periodSeconds: 60}]\n    \
             scaleUp: {stabilizationWindowSeconds: 30}\n",
        );
        let s = load(&text);
        let b = s.autoscaling.unwrap().spec.behavior.expect("behavior written");
        assert_eq!(b.scale_down.stabilization_seconds, 300, "the default window");
        assert_eq!(b.scale_down.select, SelectPolicy::Min);
        assert_eq!(b.scale_down.policies.len(), 1);
        assert_eq!(b.scale_down.policies[0].kind, PolicyKind::Pods);
        assert_eq!(b.scale_up.stabilization_seconds, 30);
        assert_eq!(b.scale_up.policies.len(), 2, "the default scale-up policies");
        assert!(s.notes.iter().any(|n| n.contains("a Pods metric is not simulated")), "{:?}", s.notes);
    }

    #[test]
    fn bad_hpas_are_errors_at_the_value() {
        let text = SHIPPED.replace("averageUtilization: 60", "averageUtilization: sixty");
        let d = errors(&text);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].column), pos_of(&text, "sixty", 0));
        assert!(d[0].message.contains("`target.averageUtilization` must be a whole number"), "{}", d[0]);
        let text = SHIPPED
            .replace("      resource:\n        name: cpu\n", "      resource:\n        name: memory\n");
        check_error(&text, "- type: Resource", 0, "no CPU utilisation metric to simulate");
        let text = SHIPPED.replace("  maxReplicas: 20\n", "  maxReplicas: 2\n");
        check_error(&text, "2\n  metrics", 0, "do not make a range");
    }
}
