//! `argoproj.io/v1alpha1 Rollout`, read leniently like the other manifests: the fields the
//! simulator models are checked and mapped onto [`RolloutSpec`] (Argo's defaults applied by
//! its constructors), every other field is ignored. Upstream's admission rules are
//! [`RolloutSpec::validate`]; a violation is reported at the field it concerns, in upstream's
//! words.
//!
//! Traffic routing: only `trafficRouting.istio` is simulated (a VirtualService, optionally with
//! a DestinationRule in subset mode); any other router is an error.

use super::analysis::{AnalysisRef, AnalysisSite, read_analysis_ref, read_step_index};
use super::decode::{Fields, MAX_REPLICAS, read_bool, read_count, read_replicas, read_string, scalar_text};
use super::diagnostic::{Pos, Report, list_all};
use super::manifests::{
    Template, check_selector, read_int_or_percent, read_int32, read_metadata, read_selector, read_template,
};
use super::model::IntOrPercent;
use super::tree::{Node, Value};
use super::units;
use crate::controllers::argo::spec::{
    BackgroundAnalysis, BlueGreenStrategy, CanaryStep, CanaryStrategy, RolloutSpec, RolloutStrategy,
    SetCanaryScale, SpecError,
};
use crate::engine::{SECOND, SimTime};

const INT32_MAX: u64 = i32::MAX as u64;

/// Routers Argo Rollouts supports besides Istio (`trafficRouting.*`), for the error message.
const OTHER_ROUTERS: [&str; 8] =
    ["nginx", "alb", "smi", "ambassador", "appMesh", "traefik", "apisix", "plugins"];

/// A Rollout plus what the cross-document checks need.
pub(crate) struct RolloutDoc {
    pub name: String,
    pub namespace: String,
    pub name_pos: Pos,
    /// The validated spec, defaults applied.
    pub spec: RolloutSpec,
    /// `spec.template`, or `None` with a `workloadRef`.
    pub template: Option<Template>,
    /// `spec.workloadRef.name` (a Deployment in the same namespace) and its position.
    pub workload_ref: Option<(String, Pos)>,
    pub revision_history_limit: u32,
    /// `trafficRouting.istio`: the VirtualService and (subset mode) the DestinationRule.
    pub virtual_service: Option<(String, Pos)>,
    pub destination_rule: Option<(String, Pos)>,
    /// Every Service the Rollout names (stable, canary, active, preview), with positions.
    pub services: Vec<(String, Pos)>,
    /// The blue-green `activeService` and its position.
    pub active_service: Option<(String, Pos)>,
    /// Every analysis the Rollout runs (steps, background, blue-green gates), in file order.
    pub analyses: Vec<AnalysisRef>,
}

/// Positions of the fields [`RolloutSpec::validate`] may complain about.
#[derive(Default)]
struct SpecPositions {
    replicas: Option<Pos>,
    deadline: Option<Pos>,
    max_surge: Option<Pos>,
    max_unavailable: Option<Pos>,
    scale_down_delay: Option<Pos>,
    dynamic_stable_scale: Option<Pos>,
    steps: Vec<Pos>,
    preview_service: Option<Pos>,
    preview_replica_count: Option<Pos>,
    strategy: Pos,
}

/// A signed whole number (upstream's messages cover negative values).
fn read_int(report: &mut Report, node: &Node, what: &str) -> Option<i64> {
    let text = scalar_text(report, node, what, "a whole number")?;
    match text.parse::<i64>() {
        Ok(n) if n.unsigned_abs() <= INT32_MAX => Some(n),
        _ => {
            report
                .error(node.pos, format!("`{what}` must be a whole number, found {}", node.describe()))
                .label("expected a whole number such as `3`");
            None
        }
    }
}

/// Seconds as an int32 field → simulated time.
fn read_seconds(report: &mut Report, node: &Node, what: &str) -> Option<SimTime> {
    read_count(report, node, what, INT32_MAX).map(|s| s * SECOND)
}

/// `pause.duration`: an integer is seconds (also as a string, as Argo's `DurationSeconds`
/// reads it), anything else a Go duration such as `10s`, `1m`, `1h`.
fn read_pause_duration(report: &mut Report, node: &Node, what: &str) -> Option<SimTime> {
    let text = scalar_text(report, node, what, "a duration such as `10` (seconds) or `1m`")?;
    if let Ok(n) = text.parse::<i64>() {
        if n < 0 {
            report
                .error(node.pos, format!("`{what}` must not be negative, found {n}"))
                .label("expected a duration ≥ 0");
            return None;
        }
        return Some(n as u64 * SECOND);
    }
    match units::parse_duration(text) {
        Ok(t) => Some(t),
        Err(reason) => {
            report
                .error(node.pos, format!("`{what}` is not a valid duration: `{text}`"))
                .label(reason)
                .help("Argo reads a number as seconds (`10`) or a duration with a unit (`10s`, `1m`, `1h`)");
            None
        }
    }
}

/// `{templates: [{templateName: x}, ...], args: [...]}` at `site`: the reference, kept in
/// `analyses`, and its template names for the spec.
fn read_analysis(
    report: &mut Report,
    node: &Node,
    what: &str,
    site: AnalysisSite,
    analyses: &mut Vec<AnalysisRef>,
) -> Option<Vec<String>> {
    let f = Fields::new(report, node, node.pos, what)?;
    let r = read_analysis_ref(report, f, site)?;
    let names = r.template_names();
    analyses.push(r);
    Some(names)
}

pub(crate) fn read_rollout(report: &mut Report, root: &Node, kind_pos: Pos) -> Option<RolloutDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec =
        doc.req_child(report, "spec", "{replicas: 5, strategy: {canary: {steps: ...}}, template: ...}")?;
    let mut pos = SpecPositions::default();

    pos.replicas = spec.opt("replicas").map(|n| n.pos);
    let replicas = match spec.opt("replicas") {
        Some(n) => read_replicas(report, n, "spec.replicas").map(|n| n as i64),
        None => Some(crate::controllers::argo::spec::DEFAULT_REPLICAS),
    };
    let min_ready = read_int32(report, &mut spec, "minReadySeconds", 0);
    pos.deadline = spec.opt("progressDeadlineSeconds").or(spec.opt("minReadySeconds")).map(|n| n.pos);
    let deadline = read_int32(report, &mut spec, "progressDeadlineSeconds", 600);
    let deadline_abort = match spec.opt("progressDeadlineAbort") {
        Some(n) => read_bool(report, n, "spec.progressDeadlineAbort"),
        None => Some(false),
    };
    let history = read_int32(report, &mut spec, "revisionHistoryLimit", 10);

    let template_pos = spec.key_pos("template");
    let workload_ref_pos = spec.key_pos("workloadRef");
    let (template, workload_ref) = match (template_pos, workload_ref_pos) {
        (Some(_), Some(ref_pos)) => {
            report
                .error(ref_pos, "template must be empty for workload reference rollout")
                .label("a Rollout has either `template` or `workloadRef`")
                .help("remove `spec.template`, or remove `spec.workloadRef`");
            (None, None)
        }
        (None, Some(_)) => (Some(None), read_workload_ref(report, &mut spec).map(Some)),
        _ => (read_template(report, &mut spec).map(Some), Some(None)),
    };
    let selector = read_selector(report, &mut spec);
    if let Some(Some(t)) = &template {
        check_selector(report, selector, &t.labels);
    }

    let mut strategy =
        spec.req_child(report, "strategy", "{canary: {steps: [{setWeight: 20}, {pause: {}}]}}")?;
    pos.strategy = strategy.at();
    let canary = strategy.child(report, "canary");
    let blue_green = strategy.child(report, "blueGreen");
    let mut routing = Routing::default();
    let rollout_strategy = match (canary, blue_green) {
        (Some(c), None) => read_canary(report, c, &mut pos, &mut routing).map(RolloutStrategy::Canary),
        (None, Some(b)) => read_blue_green(report, b, &mut pos, &mut routing).map(RolloutStrategy::BlueGreen),
        (Some(_), Some(_)) => {
            report
                .error(strategy.at(), "Rollout can only have one strategy: canary or blueGreen")
                .label("both `canary` and `blueGreen` are set")
                .help("keep one of them");
            None
        }
        (None, None) => {
            report
                .error(strategy.at(), "Rollout must have a strategy: `canary` or `blueGreen`")
                .label("expected `canary:` or `blueGreen:` here")
                .help(
                    "for example `strategy: {canary: {steps: [{setWeight: 20}, {pause: {duration: 10}}]}}`",
                );
            None
        }
    };

    let (name, namespace) = (name?, namespace?);
    let spec = RolloutSpec {
        replicas: replicas?,
        strategy: rollout_strategy?,
        min_ready_seconds: min_ready?,
        progress_deadline: u64::from(deadline?) * SECOND,
        progress_deadline_abort: deadline_abort?,
    };
    if let Err(e) = spec.validate() {
        report_spec_error(report, &e, &pos);
        return None;
    }
    Some(RolloutDoc {
        name: name.0,
        namespace,
        name_pos: name.1,
        spec,
        template: template?,
        workload_ref: workload_ref?,
        revision_history_limit: history?,
        virtual_service: routing.virtual_service,
        destination_rule: routing.destination_rule,
        services: routing.services,
        active_service: routing.active_service,
        analyses: routing.analyses,
    })
}

fn read_workload_ref(report: &mut Report, spec: &mut Fields) -> Option<(String, Pos)> {
    let mut r =
        spec.req_child(report, "workloadRef", "{apiVersion: apps/v1, kind: Deployment, name: myapp}")?;
    if let Some(kind) = r.opt("kind") {
        let text = scalar_text(report, kind, "spec.workloadRef.kind", "`Deployment`")?;
        if text != "Deployment" {
            report
                .error(kind.pos, format!("a `workloadRef` to a `{text}` is not supported"))
                .label("expected `Deployment`")
                .help("rollsim simulates Rollouts whose workloadRef names an apps/v1 Deployment");
            return None;
        }
    }
    let name = r.req(report, "name", "myapp")?;
    Some((read_string(report, name, "spec.workloadRef.name")?, name.pos))
}

/// What the strategy names outside the Rollout.
#[derive(Default)]
struct Routing {
    virtual_service: Option<(String, Pos)>,
    destination_rule: Option<(String, Pos)>,
    services: Vec<(String, Pos)>,
    active_service: Option<(String, Pos)>,
    analyses: Vec<AnalysisRef>,
}

fn opt_service(
    report: &mut Report,
    f: &mut Fields,
    key: &'static str,
    routing: &mut Routing,
) -> Option<Option<String>> {
    match f.opt(key) {
        Some(n) => {
            let name = read_string(report, n, &f.sub(key))?;
            routing.services.push((name.clone(), n.pos));
            Some(Some(name))
        }
        None => Some(None),
    }
}

fn opt_seconds(report: &mut Report, f: &mut Fields, key: &'static str) -> Option<Option<SimTime>> {
    match f.opt(key) {
        Some(n) => read_seconds(report, n, &f.sub(key)).map(Some),
        None => Some(None),
    }
}

fn read_canary(
    report: &mut Report,
    mut c: Fields,
    pos: &mut SpecPositions,
    routing: &mut Routing,
) -> Option<CanaryStrategy> {
    let mut out = CanaryStrategy::default();
    pos.max_surge = c.opt("maxSurge").map(|n| n.pos);
    pos.max_unavailable = c.opt("maxUnavailable").map(|n| n.pos);
    let max_surge = match c.opt("maxSurge") {
        Some(n) => read_int_or_percent(report, n, &c.sub("maxSurge"), false),
        None => Some(out.max_surge),
    };
    let max_unavailable = match c.opt("maxUnavailable") {
        Some(n) => read_int_or_percent(report, n, &c.sub("maxUnavailable"), true),
        None => Some(out.max_unavailable),
    };
    pos.dynamic_stable_scale = c.opt("dynamicStableScale").map(|n| n.pos);
    let dynamic = match c.opt("dynamicStableScale") {
        Some(n) => read_bool(report, n, &c.sub("dynamicStableScale")),
        None => Some(false),
    };
    pos.scale_down_delay = c.opt("scaleDownDelaySeconds").map(|n| n.pos);
    let scale_down = opt_seconds(report, &mut c, "scaleDownDelaySeconds");
    let abort_scale_down = opt_seconds(report, &mut c, "abortScaleDownDelaySeconds");
    let min_pods = match c.opt("minPodsPerReplicaSet") {
        Some(n) => read_count(report, n, &c.sub("minPodsPerReplicaSet"), INT32_MAX).map(|n| Some(n as i64)),
        None => Some(None),
    };
    let stable = opt_service(report, &mut c, "stableService", routing);
    let canary_service = opt_service(report, &mut c, "canaryService", routing);
    let traffic = match c.child(report, "trafficRouting") {
        Some(t) => read_traffic_routing(report, t, routing).map(|()| true),
        None => Some(false),
    };
    // Header and mirror route steps are dropped: `kept[i]` is the simulated index of the i-th
    // written step (or of the next simulated one).
    let mut kept = Vec::new();
    let steps = match c.opt("steps") {
        Some(n) => read_steps(report, n, &c.sub("steps"), &mut pos.steps, &mut kept, &mut routing.analyses),
        None => Some(Vec::new()),
    };
    let simulated_steps = steps.as_ref().map_or(0, Vec::len);
    let background = match c.opt("analysis") {
        Some(n) => {
            read_background(report, n, &c.sub("analysis"), &kept, simulated_steps, &mut routing.analyses)
                .map(Some)
        }
        None => Some(None),
    };
    out.stable_service = stable?;
    out.canary_service = canary_service?;
    out.max_surge = max_surge?;
    out.max_unavailable = max_unavailable?;
    out.dynamic_stable_scale = dynamic?;
    out.scale_down_delay = scale_down?;
    out.abort_scale_down_delay = abort_scale_down?;
    out.min_pods_per_replica_set = min_pods?;
    out.traffic_routing = traffic?;
    out.steps = steps?;
    out.background_analysis = background?;
    Some(out)
}

/// `canary.analysis`: a background analysis from `startingStep` (an index into the written
/// steps, mapped onto the simulated ones).
fn read_background(
    report: &mut Report,
    node: &Node,
    path: &str,
    kept: &[usize],
    simulated_steps: usize,
    analyses: &mut Vec<AnalysisRef>,
) -> Option<BackgroundAnalysis> {
    let mut f = Fields::new(report, node, node.pos, path)?;
    let starting_step = match f.opt("startingStep") {
        Some(n) => {
            let written = read_step_index(report, n, &f.sub("startingStep"))? as usize;
            Some(kept.get(written).copied().unwrap_or(simulated_steps))
        }
        None => None,
    };
    let r = read_analysis_ref(report, f, AnalysisSite::Background(starting_step))?;
    let templates = r.template_names();
    analyses.push(r);
    Some(BackgroundAnalysis { templates, starting_step })
}

fn read_traffic_routing(report: &mut Report, mut t: Fields, routing: &mut Routing) -> Option<()> {
    // Not routers: header/mirror routes (steps that complete at once) and the weight scale.
    t.opt("managedRoutes");
    t.opt("maxTrafficWeight");
    let istio = t.child(report, "istio");
    let mut ok = true;
    for (key, _) in t.entries() {
        let router = key.key_text();
        if matches!(router, "istio" | "managedRoutes" | "maxTrafficWeight") {
            continue;
        }
        report
            .error(key.pos, format!("`trafficRouting.{router}` is not simulated: only Istio traffic routing is"))
            .label("rollsim routes traffic through an Istio VirtualService only")
            .help(format!(
                "use `trafficRouting: {{istio: {{virtualService: {{name: myapp-vsvc}}}}}}` with a VirtualService \
                 in this file, or remove `trafficRouting` for a replica-based canary (other routers: {})",
                list_all(&OTHER_ROUTERS)
            ));
        ok = false;
    }
    if !ok {
        return None;
    }
    let Some(mut istio) = istio else {
        report
            .error(t.at(), "`trafficRouting` names no router")
            .label("expected `istio:` here")
            .help("write `trafficRouting: {istio: {virtualService: {name: myapp-vsvc}}}`");
        return None;
    };
    let single = istio.child(report, "virtualService");
    let list = istio.opt("virtualServices");
    let vs = match (single, list) {
        (Some(mut v), _) => {
            let n = v.req(report, "name", "myapp-vsvc")?;
            (read_string(report, n, &v.sub("name"))?, n.pos)
        }
        (None, Some(list)) => {
            let first = match &list.value {
                Value::Seq(items) if !items.is_empty() => &items[0],
                _ => {
                    report
                        .error(list.pos, "`trafficRouting.istio.virtualServices` must be a non-empty list")
                        .label("expected `[{name: myapp-vsvc}]`");
                    return None;
                }
            };
            let mut v = Fields::new(report, first, first.pos, "trafficRouting.istio.virtualServices[0]")?;
            let n = v.req(report, "name", "myapp-vsvc")?;
            (read_string(report, n, &v.sub("name"))?, n.pos)
        }
        (None, None) => {
            report
                .error(istio.at(), "`trafficRouting.istio` names no VirtualService")
                .label("expected `virtualService: {name: ...}`")
                .help("write `istio: {virtualService: {name: myapp-vsvc}}`, naming a VirtualService in this file");
            return None;
        }
    };
    routing.virtual_service = Some(vs);
    if let Some(mut dr) = istio.child(report, "destinationRule") {
        let n = dr.req(report, "name", "myapp-destrule")?;
        routing.destination_rule = Some((read_string(report, n, &dr.sub("name"))?, n.pos));
    }
    Some(())
}

/// The step kinds Argo knows; `setHeaderRoute` and `setMirrorRoute` complete at once and are
/// dropped, `experiment` and `plugin` are not simulated.
const STEP_KINDS: [&str; 8] = [
    "setWeight",
    "pause",
    "setCanaryScale",
    "analysis",
    "experiment",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
];

fn read_steps(
    report: &mut Report,
    node: &Node,
    path: &str,
    positions: &mut Vec<Pos>,
    kept: &mut Vec<usize>,
    analyses: &mut Vec<AnalysisRef>,
) -> Option<Vec<CanaryStep>> {
    let Value::Seq(items) = &node.value else {
        report
            .error(node.pos, format!("`{path}` must be a list, found {}", node.describe()))
            .label("expected a list such as `[{setWeight: 20}, {pause: {}}]`");
        return None;
    };
    let mut steps = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        kept.push(steps.len());
        let what = format!("{path}[{i}]");
        let Some(entries) = item.as_map() else {
            report
                .error(item.pos, format!("`{what}` must be a mapping, found {}", item.describe()))
                .label("expected e.g. `setWeight: 20` or `pause: {duration: 10}`");
            ok = false;
            continue;
        };
        let known: Vec<&(Node, Node)> =
            entries.iter().filter(|(k, _)| STEP_KINDS.contains(&k.key_text())).collect();
        let (key, value) = match known.as_slice() {
            [one] => (&one.0, &one.1),
            [] => {
                report
                    .error(item.pos, "Step must have one of the following set: experiment, setWeight, setCanaryScale or pause")
                    .label("no step kind here")
                    .help(format!("step kinds: {}", list_all(&STEP_KINDS)));
                ok = false;
                continue;
            }
            [_, second, ..] => {
                report
                    .error(second.0.pos, "Step must have only one of the following set: experiment, setWeight, setCanaryScale or pause")
                    .label("a second step kind in the same step")
                    .help("split it into two list entries");
                ok = false;
                continue;
            }
        };
        let sub = format!("{what}.{}", key.key_text());
        let step = match key.key_text() {
            "setWeight" => read_int(report, value, &sub).map(CanaryStep::SetWeight),
            "pause" => read_pause(report, value, &sub),
            "setCanaryScale" => read_set_canary_scale(report, value, &sub),
            "analysis" => read_analysis(report, value, &sub, AnalysisSite::Step(steps.len()), analyses)
                .map(|templates| CanaryStep::Analysis { templates }),
            "setHeaderRoute" | "setMirrorRoute" => continue,
            other => {
                report
                    .error(key.pos, format!("`{other}` steps are not simulated"))
                    .label("rollsim cannot run this step")
                    .help("simulated steps: `setWeight`, `pause`, `setCanaryScale`, `analysis` (header and mirror routes are skipped)");
                None
            }
        };
        match step {
            Some(step) => {
                steps.push(step);
                positions.push(value.pos);
            }
            None => ok = false,
        }
    }
    ok.then_some(steps)
}

fn read_pause(report: &mut Report, node: &Node, what: &str) -> Option<CanaryStep> {
    let mut f = Fields::new(report, node, node.pos, what)?;
    let duration = match f.opt("duration") {
        Some(n) => Some(read_pause_duration(report, n, &f.sub("duration"))?),
        None => None,
    };
    Some(CanaryStep::Pause { duration })
}

fn read_set_canary_scale(report: &mut Report, node: &Node, what: &str) -> Option<CanaryStep> {
    let mut f = Fields::new(report, node, node.pos, what)?;
    let matching = match f.opt("matchTrafficWeight") {
        Some(n) => read_bool(report, n, &f.sub("matchTrafficWeight"))?,
        None => false,
    };
    let replicas = match f.opt("replicas") {
        Some(n) => {
            let r = read_int(report, n, &f.sub("replicas"))?;
            if r > MAX_REPLICAS as i64 {
                report
                    .error(
                        n.pos,
                        format!("`{}` is too large for the simulator, found {r}", f.sub("replicas")),
                    )
                    .label(format!("expected at most {MAX_REPLICAS}"))
                    .help("Kubernetes supports at most 150000 pods per cluster; rollsim simulates each pod");
                return None;
            }
            Some(r)
        }
        None => None,
    };
    let weight = match f.opt("weight") {
        Some(n) => Some(read_int(report, n, &f.sub("weight"))?),
        None => None,
    };
    // Upstream's precedence: matchTrafficWeight, then replicas, then weight.
    let scale = match (matching, replicas, weight) {
        (true, _, _) | (false, None, None) => SetCanaryScale::MatchTrafficWeight,
        (false, Some(r), _) => SetCanaryScale::Replicas(r),
        (false, None, Some(w)) => SetCanaryScale::Weight(w),
    };
    Some(CanaryStep::SetCanaryScale(scale))
}

fn read_blue_green(
    report: &mut Report,
    mut b: Fields,
    pos: &mut SpecPositions,
    routing: &mut Routing,
) -> Option<BlueGreenStrategy> {
    let active = match b.opt("activeService") {
        Some(n) => {
            let name = read_string(report, n, &b.sub("activeService"));
            if let Some(name) = &name {
                routing.services.push((name.clone(), n.pos));
                routing.active_service = Some((name.clone(), n.pos));
            }
            name
        }
        None => {
            report
                .error(b.at(), "This rollout uses the blueGreen strategy and requires an active service")
                .label("`activeService` is missing")
                .help("add `activeService: myapp-active`, naming a Service in this file that selects the Rollout's pods");
            None
        }
    };
    pos.preview_service = b.opt("previewService").map(|n| n.pos);
    let preview = opt_service(report, &mut b, "previewService", routing);
    pos.preview_replica_count = b.opt("previewReplicaCount").map(|n| n.pos);
    let preview_count = match b.opt("previewReplicaCount") {
        Some(n) => read_int(report, n, &b.sub("previewReplicaCount")).map(Some),
        None => Some(None),
    };
    let auto = match b.opt("autoPromotionEnabled") {
        Some(n) => read_bool(report, n, &b.sub("autoPromotionEnabled")),
        None => Some(true),
    };
    let auto_seconds = opt_seconds(report, &mut b, "autoPromotionSeconds");
    let scale_down = opt_seconds(report, &mut b, "scaleDownDelaySeconds");
    let abort_scale_down = opt_seconds(report, &mut b, "abortScaleDownDelaySeconds");
    let pre = match b.opt("prePromotionAnalysis") {
        Some(n) => read_analysis(
            report,
            n,
            &b.sub("prePromotionAnalysis"),
            AnalysisSite::PrePromotion,
            &mut routing.analyses,
        ),
        None => Some(Vec::new()),
    };
    let post = match b.opt("postPromotionAnalysis") {
        Some(n) => read_analysis(
            report,
            n,
            &b.sub("postPromotionAnalysis"),
            AnalysisSite::PostPromotion,
            &mut routing.analyses,
        ),
        None => Some(Vec::new()),
    };
    let mut out = BlueGreenStrategy::new(active?);
    out.preview_service = preview?;
    out.preview_replica_count = preview_count?;
    out.auto_promotion_enabled = auto?;
    out.auto_promotion_seconds = auto_seconds?.unwrap_or(0);
    out.scale_down_delay = scale_down?;
    out.abort_scale_down_delay = abort_scale_down?;
    out.pre_promotion_analysis = pre?;
    out.post_promotion_analysis = post?;
    Some(out)
}

/// Reports a [`SpecError`] at the field it concerns, in upstream's words.
fn report_spec_error(report: &mut Report, e: &SpecError, pos: &SpecPositions) {
    let at = |p: Option<Pos>| p.unwrap_or(pos.strategy);
    let step = |index: usize| pos.steps.get(index).copied().unwrap_or(pos.strategy);
    let (p, help) = match e {
        SpecError::NegativeReplicas(_) => (at(pos.replicas), "set `spec.replicas` to 0 or more"),
        SpecError::DeadlineNotAboveMinReady => {
            (at(pos.deadline), "raise `progressDeadlineSeconds` (default 600) above `minReadySeconds`")
        }
        SpecError::SurgeAndUnavailableZero => (
            at(pos.max_unavailable.or(pos.max_surge)),
            "allow one extra pod (`maxSurge: 1`) or one missing pod (`maxUnavailable: 1`)",
        ),
        SpecError::ScaleDownDelayWithoutRouting => (
            at(pos.scale_down_delay),
            "remove `scaleDownDelaySeconds`, or add `trafficRouting: {istio: ...}`",
        ),
        SpecError::DynamicStableScaleWithoutRouting => (
            at(pos.dynamic_stable_scale),
            "remove `dynamicStableScale`, or add `trafficRouting: {istio: ...}`",
        ),
        SpecError::DynamicStableScaleWithScaleDownDelay => {
            (at(pos.dynamic_stable_scale), "remove `scaleDownDelaySeconds` or `dynamicStableScale`")
        }
        SpecError::SetWeightOutOfRange { index, .. } => (step(*index), "a weight is a percentage: 0 to 100"),
        SpecError::SetCanaryScaleWithoutRouting { index } => {
            (step(*index), "remove the `setCanaryScale` step, or add `trafficRouting: {istio: ...}`")
        }
        SpecError::NegativeCanaryScale { index } => (step(*index), "use a count or percentage ≥ 0"),
        SpecError::SameActiveAndPreviewService => {
            (at(pos.preview_service), "name a second Service as `previewService`, or remove it")
        }
        SpecError::NegativePreviewReplicaCount(_) => (at(pos.preview_replica_count), "use a count ≥ 0"),
    };
    report.error(p, format!("invalid Rollout: {e}")).label("Argo Rollouts rejects this Rollout").help(help);
}

/// The canary's `maxSurge`/`maxUnavailable` (25%/25% for blue-green).
pub(crate) fn surge_and_unavailable(spec: &RolloutSpec) -> (IntOrPercent, IntOrPercent) {
    match spec.canary() {
        Some(c) => (c.max_surge, c.max_unavailable),
        None => (IntOrPercent::Percent(25), IntOrPercent::Percent(25)),
    }
}
