//! Loading: text → documents → (overrides applied to the manifests and the Simulation) →
//! typed, validated [`Scenario`], collecting every problem on the way.

use super::analysis::read_analysis_template;
use super::argo::read_rollout;
use super::diagnostic::{Pos, Report, ScenarioError, Sources, did_you_mean};
use super::flagger::{read_canary, read_metric_template};
use super::input::Input;
use super::istio::{ISTIO_VERSIONS, read_destination_rule, read_virtual_service};
use super::kayenta::read_canary_config;
use super::manifests::{read_deployment, read_service};
use super::model::{Monitoring, Release, Scenario, ServiceManifest, Strategy};
use super::overrides::{self, Override};
use super::prometheus::{self, ReleaseTargets, ServiceLabels, read_monitor, read_prometheus_rule};
use super::release::{Manifests, Resolved, place_unnamespaced, resolve};
use super::simulation::{ReleaseSpec, SimulationDoc, read_simulation};
use super::tree::{self, Node};
use std::path::Path;

/// The kinds this version reads, as `(apiVersions, kind)`; the first apiVersion is the
/// preferred one.
const SUPPORTED: [(&[&str], &str); 14] = [
    (&["apps/v1"], "Deployment"),
    (&["v1"], "Service"),
    (&["argoproj.io/v1alpha1"], "Rollout"),
    (&["argoproj.io/v1alpha1"], "AnalysisTemplate"),
    (&["argoproj.io/v1alpha1"], "ClusterAnalysisTemplate"),
    (&ISTIO_VERSIONS, "VirtualService"),
    (&ISTIO_VERSIONS, "DestinationRule"),
    (&["flagger.app/v1beta1"], "Canary"),
    (&["flagger.app/v1beta1"], "MetricTemplate"),
    (&["monitoring.coreos.com/v1"], "PrometheusRule"),
    (&["monitoring.coreos.com/v1"], "ServiceMonitor"),
    (&["monitoring.coreos.com/v1"], "PodMonitor"),
    (&["rollsim.dev/v1alpha1"], "Simulation"),
    (&["rollsim.dev/v1alpha1"], "CanaryConfig"),
];

/// Workload kinds rollsim does not simulate: skipped like every kind it does not read, with
/// a note that says their pods do not run (a release cannot name one).
const WORKLOADS: &[&str] =
    &["StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ReplicationController"];

const SUPPORTED_HELP: &str = "supported kinds: apps/v1 Deployment, v1 Service, argoproj.io/v1alpha1 Rollout, \
AnalysisTemplate and ClusterAnalysisTemplate, networking.istio.io/v1 VirtualService and DestinationRule (also \
v1beta1, v1alpha3), flagger.app/v1beta1 Canary and MetricTemplate, monitoring.coreos.com/v1 PrometheusRule, \
ServiceMonitor and PodMonitor, rollsim.dev/v1alpha1 Simulation and CanaryConfig (a Kayenta canary config)";

/// Reads and loads a scenario file. See [`load_str`].
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let input = Input::read(&[path.to_path_buf()], None)?;
    load_input(&input, overrides)
}

/// Loads a scenario from `text`; `file_name` is what diagnostics call it. `overrides`
/// (`--set PATH=VALUE`, `--grid` values) change the Simulation document or the manifest
/// they name (`Kind/name.…`) before it is read.
///
/// On failure, every problem found is returned (a YAML syntax error stops at the first).
pub fn load_str(file_name: &str, text: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    load_input(&Input::one(file_name, text), overrides)
}

/// Loads a scenario from its files (one, or several read as one stream of documents, in
/// order). See [`load_str`].
pub fn load_input(input: &Input, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let texts: Vec<&str> =
        input.parts.iter().map(|p| p.text.strip_prefix('\u{feff}').unwrap_or(&p.text)).collect();
    let files: Vec<(&str, &str)> =
        input.parts.iter().map(|p| p.name.as_str()).zip(texts.iter().copied()).collect();
    let typed = overrides.iter().map(|o| (o.origin.flag, o.as_typed())).collect();
    let sources = Sources::files(&files, typed);
    let mut report = Report::new(&sources);
    let scenario = load(&texts, input.simulation_from.as_deref(), overrides, &mut report);
    match scenario {
        Some(mut scenario) if !report.has_errors() => {
            scenario.input_hash = input_hash(&texts.join("\0\0"), overrides);
            Ok(scenario)
        }
        _ => {
            if !report.has_errors() {
                // Every path that fails reports why; this is a safety net, not a message users
                // should ever see.
                report.error(Pos::file_start(), "the scenario could not be loaded").label("here");
            }
            let mut diagnostics = report.finish();
            hint_document_end(&files, &mut diagnostics);
            Err(ScenarioError { diagnostics })
        }
    }
}

/// A `...` line (YAML's document end, which docs snippets use for "and so on") ends the
/// document above it: the keys before it have no value, the lines after it are another
/// document. Each problem in a document next to such a line says so.
fn hint_document_end(files: &[(&str, &str)], diagnostics: &mut [super::Diagnostic]) {
    for (name, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        let ends: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim_end() == "...").collect();
        let placeholders = lines.iter().any(|l| l.trim() == "..." && l.starts_with([' ', '\t']));
        if ends.is_empty() && !placeholders {
            continue;
        }
        for d in diagnostics.iter_mut().filter(|d| d.file == *name && d.line > 0 && d.line <= lines.len()) {
            let at = d.line - 1;
            if lines[at].trim() == "..." && lines[at].starts_with([' ', '\t']) {
                // Indented, `...` is no document end but the text "...": a docs placeholder.
                let hint = "`...` here is the text \"...\", as docs snippets write for omitted fields: \
                            replace it with the fields it stands for";
                d.help = Some(match d.help.take() {
                    Some(h) => format!("{hint}\n{h}"),
                    None => hint.to_string(),
                });
                continue;
            }
            let next_to = ends.iter().find(|&&end| {
                let (a, b) = if end > at { (at, end) } else { (end, at) };
                end != at && !lines[a + 1..b].iter().any(|l| l.starts_with("---"))
            });
            if let Some(end) = next_to {
                let hint = format!(
                    "line {} is `...`, which ends a YAML document: the keys above it get no value and what \
                     follows is another document. If it stands for omitted lines (as in a docs snippet), \
                     replace it with the fields it leaves out",
                    end + 1
                );
                d.help = Some(match d.help.take() {
                    Some(h) => format!("{hint}\n{h}"),
                    None => hint,
                });
            }
        }
    }
}

/// [`Scenario::input_hash`]: FNV-1a over the text, then each override as `\0PATH=VALUE`.
/// Stable across platforms and releases (unlike std's `DefaultHasher`); it detects
/// mismatched inputs, it is no defence against someone forging one.
pub fn input_hash(text: &str, overrides: &[Override]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    eat(text.as_bytes());
    for o in overrides {
        eat(b"\0");
        eat(o.path.as_bytes());
        eat(b"=");
        eat(o.value.as_bytes());
    }
    hash
}

/// A document, classified.
struct Object<'n> {
    kind: &'static str,
    root: &'n Node,
    kind_pos: Pos,
}

fn load(
    texts: &[&str],
    simulation_from: Option<&str>,
    overrides: &[Override],
    report: &mut Report,
) -> Option<Scenario> {
    let mut docs = Vec::new();
    let mut parsed = true;
    for (index, text) in texts.iter().enumerate() {
        let offset = report.sources.line_offset(index);
        match tree::parse_stream_at(text, 0, offset, 0, report) {
            Some(d) => docs.extend(d),
            None => parsed = false,
        }
    }
    if !parsed {
        return None;
    }
    let mut docs = unpack_lists(docs);
    let mut all: Vec<&mut Node> = docs.iter_mut().filter_map(|d| d.root.as_mut()).collect();
    let applied = overrides::apply_to_manifests(&mut all, overrides, report);
    let roots: Vec<&Node> = docs.iter().filter_map(|d| d.root.as_ref()).filter(|n| !n.is_null()).collect();
    let mut ignored = 0;
    let mut skipped = Vec::new();
    let objects: Vec<Object> = roots
        .iter()
        .filter_map(|root| match classify(report, root) {
            Class::Read(object) => Some(object),
            Class::Ignored(note) => {
                ignored += 1;
                skipped.push(note);
                None
            }
            Class::Bad => None,
        })
        .collect();

    let simulations: Vec<&Object> = objects.iter().filter(|o| o.kind == "Simulation").collect();
    let simulation_root = match simulations.as_slice() {
        [] => {
            let (message, label) = match simulation_from {
                Some(file) => (
                    format!("no `rollsim.dev/v1alpha1 Simulation` document in the manifests or in `{file}`"),
                    "`--simulation FILE` gives the Simulation document",
                ),
                None => (
                    format!(
                        "no `rollsim.dev/v1alpha1 Simulation` document in {}",
                        if report.sources.several() { "these files" } else { "this file" }
                    ),
                    "a scenario is your manifests plus one Simulation document",
                ),
            };
            report.error(Pos::file_start(), message).label(label).help(simulation_example(&roots));
            None
        }
        [first, rest @ ..] => {
            for extra in rest {
                let first_at = report.sources.place(first.kind_pos);
                report
                    .error(extra.kind_pos, "a second Simulation document")
                    .label("a scenario has exactly one Simulation")
                    .help(format!(
                        "the first Simulation is at {first_at}; put each scenario in its own file (or drop \
                         `--simulation` when the files carry one)"
                    ));
            }
            let mut root = first.root.clone();
            for (i, ov) in overrides.iter().enumerate() {
                overrides::apply(&mut root, ov, i, report);
            }
            Some((root, first.kind_pos))
        }
    };
    let simulation = simulation_root.as_ref().map(|(root, pos)| read_simulation(report, root, *pos));

    let mut m = Manifests {
        deployments: Vec::new(),
        services: Vec::new(),
        rollouts: Vec::new(),
        virtual_services: Vec::new(),
        destination_rules: Vec::new(),
        canaries: Vec::new(),
        analysis_templates: Vec::new(),
        canary_configs: Vec::new(),
        metric_templates: Vec::new(),
        all_read: false,
    };
    let mut rules = Vec::new();
    let mut monitors = Vec::new();
    let mut manifests_ok = true;
    for object in &objects {
        let (root, pos) = (object.root, object.kind_pos);
        let ok = match object.kind {
            "Deployment" => read_deployment(report, root, pos).map(|d| m.deployments.push(d)).is_some(),
            "Service" => read_service(report, root, pos).map(|s| m.services.push(s)).is_some(),
            "Rollout" => read_rollout(report, root, pos).map(|r| m.rollouts.push(r)).is_some(),
            "VirtualService" => {
                read_virtual_service(report, root, pos).map(|v| m.virtual_services.push(v)).is_some()
            }
            "DestinationRule" => {
                read_destination_rule(report, root, pos).map(|d| m.destination_rules.push(d)).is_some()
            }
            "Canary" => read_canary(report, root, pos).map(|c| m.canaries.push(c)).is_some(),
            "MetricTemplate" => {
                read_metric_template(report, root, pos).map(|t| m.metric_templates.push(t)).is_some()
            }
            "AnalysisTemplate" | "ClusterAnalysisTemplate" => {
                let cluster = object.kind == "ClusterAnalysisTemplate";
                read_analysis_template(report, root, pos, cluster)
                    .map(|t| m.analysis_templates.push(t))
                    .is_some()
            }
            "CanaryConfig" => {
                read_canary_config(report, root, pos).map(|c| m.canary_configs.push(c)).is_some()
            }
            "PrometheusRule" => read_prometheus_rule(report, root, pos).map(|r| rules.push(r)).is_some(),
            "ServiceMonitor" | "PodMonitor" => read_monitor(report, root, pos, object.kind == "PodMonitor")
                .map(|d| monitors.push(d))
                .is_some(),
            _ => true,
        };
        manifests_ok &= ok;
    }
    let simulation = simulation?;
    // An object that was not read (bad kind, apiVersion or fields) may be the one the
    // release names: then "not in this file" would be noise.
    m.all_read = manifests_ok && objects.len() + ignored == roots.len();
    place_unnamespaced(&mut m);
    apply_autoscalers(&roots, &mut m);
    let resolved = match (&simulation.release, &simulation.version_names) {
        (Some(release), Some(versions)) => resolve(report, release, versions, &m),
        _ => None,
    };
    // Monitoring does not depend on the release but for which monitor selects it: its errors
    // are reported whatever became of the release.
    let targets = release_targets(&roots, &m.services, resolved.as_ref());
    let mut monitor_notes = Vec::new();
    let monitoring: Option<Monitoring> = simulation.doc.as_ref().and_then(|doc| {
        prometheus::assemble(
            report,
            &doc.monitoring,
            &rules,
            m.all_read,
            &monitors,
            &targets,
            &mut monitor_notes,
        )
    });
    let (doc, Resolved { release, deployment, strategy }) = (simulation.doc?, resolved?);
    let monitoring = monitoring?;
    if !manifests_ok {
        return None;
    }
    let kind = if matches!(strategy, Strategy::Rollout(_)) { "Rollout" } else { "Deployment" };
    if m.all_read
        && !fits_before_release(report, &doc.cluster, &deployment, kind, simulation.release.as_ref())
    {
        return None;
    }
    let mut notes: Vec<String> = skipped;
    let simulated = simulated_deployments(&strategy, &deployment);
    for d in &m.deployments {
        let name = &d.manifest.name;
        if !simulated.contains(&name.as_str()) {
            let why = match &strategy {
                Strategy::Rollout(_) => {
                    "not simulated: only the Rollout's pods run (a workloadRef Deployment only lends its template)"
                }
                _ => "not part of the release, not simulated",
            };
            notes.push(format!("Deployment/{name}: {why}"));
        }
    }
    notes.extend(monitor_notes);
    notes.extend(applied.notes);
    let unserved = unserved_note(&strategy, &deployment, &m.services);
    let mut scenario = assemble(doc, monitoring, release, deployment, strategy, m.services);
    if let Some(note) = unserved {
        notes.insert(0, note);
        scenario.traffic.rps = 0.0;
        scenario.traffic.pattern = crate::traffic::RatePattern::Constant;
    }
    let (autoscaling, hpa_notes) = super::hpa::resolve(report, &roots, &scenario);
    if let Some(a) = &autoscaling {
        let skipped_note = format!("{} is not simulated", a.object);
        notes.retain(|n| !n.starts_with(&skipped_note));
    }
    notes.extend(hpa_notes);
    if nothing_detects(&scenario) {
        notes.push(NOTHING_DETECTS.to_string());
    }
    scenario.autoscaling = autoscaling;
    scenario.notes = notes;
    Some(scenario)
}

/// The note of a scenario in which no signal can find a bad version.
pub(crate) const NOTHING_DETECTS: &str = "nothing in this scenario can detect a bad version: no PrometheusRule alert is routed to an action, no Argo analysis runs and no Flagger check is set, so a bad release runs to the end unnoticed; add a PrometheusRule alert (with `spec.monitoring.onAlert` to page or roll back), an Argo `analysis` step, or Flagger `analysis.metrics`";

/// No alert acts, no Rollout analysis runs and no Flagger check is set.
fn nothing_detects(sc: &Scenario) -> bool {
    use crate::telemetry::spec::{AlertAction, Rule};
    let alert_acts = sc.monitoring.groups.iter().flat_map(|g| &g.rules).any(|r| match r {
        Rule::Alerting(a) => sc.monitoring.action_for(&a.name) != AlertAction::None,
        _ => false,
    });
    let analysis = match &sc.strategy {
        Strategy::Rollout(r) => {
            let a = &r.analyses;
            !a.steps.is_empty()
                || a.background.is_some()
                || a.pre_promotion.is_some()
                || a.post_promotion.is_some()
        }
        Strategy::Flagger(f) => !f.checks.is_empty(),
        _ => false,
    };
    !alert_acts && !analysis
}

/// The release's pods (the workloads it runs) and the Services in the file, marked when they
/// select those pods: what a ServiceMonitor or PodMonitor must select to scrape the release.
fn release_targets<'a>(
    roots: &[&Node],
    services: &[ServiceManifest],
    resolved: Option<&'a Resolved>,
) -> ReleaseTargets<'a> {
    let mut pods = Vec::new();
    if let Some(r) = resolved {
        pods.push((r.deployment.namespace.as_str(), &r.deployment.template_labels));
        match &r.strategy {
            Strategy::ServiceSwitch(s) => {
                pods.push((s.new_deployment.namespace.as_str(), &s.new_deployment.template_labels))
            }
            Strategy::Mesh(s) => {
                pods.push((s.new_deployment.namespace.as_str(), &s.new_deployment.template_labels))
            }
            _ => {}
        }
    }
    let services = prometheus::service_labels(roots)
        .into_iter()
        .map(|(name, namespace, labels)| {
            let selects_release = services
                .iter()
                .filter(|s| s.name == name && s.namespace == namespace)
                .any(|s| pods.iter().any(|(ns, l)| s.selects(ns, l)));
            ServiceLabels { namespace, labels, selects_release }
        })
        .collect();
    ReleaseTargets { pods, services }
}

/// A Deployment or a Rollout (a canary without traffic routing) that no Service selects, as
/// many upstream examples are: simulated, but its pods get no requests, so none are sent
/// (`spec.traffic` is not used); the rollout mechanics (pods, readiness, steps, deadlines)
/// still run. The note says so.
fn unserved_note(
    strategy: &Strategy,
    deployment: &super::model::DeploymentManifest,
    services: &[ServiceManifest],
) -> Option<String> {
    let kind = match strategy {
        Strategy::Deployment => "Deployment",
        Strategy::Rollout(r) if r.spec.canary().is_some_and(|c| !c.traffic_routing) => "Rollout",
        _ => return None,
    };
    if services.iter().any(|s| s.selects(&deployment.namespace, &deployment.template_labels)) {
        return None;
    }
    let labels: Vec<String> = deployment.template_labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    Some(format!(
        "no Service selects the pods of {kind}/{}: its pods get no traffic, so no requests are simulated \
         (the rollout itself still runs); to send `spec.traffic` to them, add a `v1 Service` in namespace \
         `{}` whose `spec.selector` is a subset of {{{}}}",
        deployment.name,
        deployment.namespace,
        labels.join(", ")
    ))
}

/// The Deployments whose pods the strategy runs.
fn simulated_deployments<'a>(
    strategy: &'a Strategy,
    deployment: &'a super::model::DeploymentManifest,
) -> Vec<&'a str> {
    match strategy {
        Strategy::Deployment | Strategy::Flagger(_) => vec![deployment.name.as_str()],
        Strategy::ServiceSwitch(r) => vec![deployment.name.as_str(), r.new_deployment.name.as_str()],
        Strategy::Mesh(r) => vec![deployment.name.as_str(), r.new_deployment.name.as_str()],
        Strategy::Rollout(_) => Vec::new(),
    }
}

/// `Kind/name` of a document, as well as it can be read.
fn describe_object(root: &Node) -> String {
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    let kind = text(root.get("kind")).unwrap_or_default();
    match text(root.get("metadata").and_then(|m| m.get("name"))) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    }
}

/// A HorizontalPodAutoscaler is not simulated (replicas stay fixed), but a Deployment that
/// leaves `spec.replicas` to one (as the Flagger tutorial's podinfo does) runs its
/// `minReplicas` (default 1): what the HPA keeps at least, and what Flagger scales a canary
/// to from zero. An HPA that cannot be read is skipped like any kind rollsim does not
/// simulate.
fn apply_autoscalers(roots: &[&Node], m: &mut Manifests) {
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    for root in roots {
        if text(root.get("kind")).as_deref() != Some("HorizontalPodAutoscaler") {
            continue;
        }
        let target = root.get("spec").and_then(|s| s.get("scaleTargetRef"));
        if text(target.and_then(|t| t.get("kind"))).as_deref() != Some("Deployment") {
            continue;
        }
        let Some(name) = text(target.and_then(|t| t.get("name"))) else { continue };
        let namespace = text(root.get("metadata").and_then(|md| md.get("namespace")));
        let min = match text(root.get("spec").and_then(|s| s.get("minReplicas"))) {
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => continue,
            },
            None => 1,
        };
        for d in &mut m.deployments {
            let same_namespace = namespace.as_deref().is_none_or(|ns| ns == d.manifest.namespace);
            if !d.replicas_written && d.manifest.name == name && same_namespace {
                d.manifest.replicas = min;
            }
        }
    }
}

/// The replicas running before the release must fit in the cluster: the simulation starts
/// from that steady state. (Pods that do not fit *during* a release stay Pending, as in
/// Kubernetes; that is a result, not an input error.)
fn fits_before_release(
    report: &mut Report,
    cluster: &super::model::ClusterSpec,
    deployment: &super::model::DeploymentManifest,
    kind: &str,
    release: Option<&ReleaseSpec>,
) -> bool {
    let per_node = |free: u64, request: u64| free.checked_div(request).unwrap_or(u64::MAX);
    let requests = deployment.requests;
    let fit_per_node = per_node(cluster.node_cpu_millis, requests.cpu_millis)
        .min(per_node(cluster.node_memory_bytes, requests.memory_bytes))
        .min(u64::from(crate::cluster::MAX_PODS_PER_NODE));
    let fit = fit_per_node.saturating_mul(u64::from(cluster.nodes));
    if fit >= u64::from(deployment.replicas) {
        return true;
    }
    let pos = release.map_or(Pos::file_start(), |r| r.workload.1);
    report
        .error(
            pos,
            format!(
                "the cluster cannot run the {} replicas of {kind}/{} before the release",
                deployment.replicas, deployment.name
            ),
        )
        .label(format!("{} nodes fit {fit} of these pods ({fit_per_node} per node)", cluster.nodes))
        .help(format!(
            "each pod requests {}m CPU and {} MiB; add nodes or room per node (`spec.cluster`), or lower \
             the container's `resources.requests`",
            requests.cpu_millis,
            requests.memory_bytes / (1 << 20)
        ));
    false
}

/// What [`classify`] made of a document.
enum Class<'n> {
    /// A kind rollsim reads.
    Read(Object<'n>),
    /// A kind rollsim does not simulate, skipped with this note.
    Ignored(String),
    /// Reported.
    Bad,
}

/// The note for a document rollsim skips.
fn skipped_note(root: &Node, kind: &str, other_api: Option<(&str, &[&str])>) -> String {
    let object = describe_object(root);
    if let Some((api, apis)) = other_api {
        return format!(
            "{object} (apiVersion `{api}`) is not simulated: rollsim reads a {kind} of {} only",
            super::diagnostic::list_quoted(apis)
        );
    }
    if kind == "HorizontalPodAutoscaler" {
        format!(
            "{object} is not simulated: replicas stay fixed (a Deployment that leaves them to it runs its minReplicas)"
        )
    } else if WORKLOADS.contains(&kind) {
        format!("{object} is not simulated: its pods do not run (rollsim runs Deployments and Argo Rollouts)")
    } else {
        format!("{object} is not simulated (rollsim skips this kind)")
    }
}

/// Checks `apiVersion` and `kind`; reports unsupported documents.
fn classify<'n>(report: &mut Report, root: &'n Node) -> Class<'n> {
    let Some(entries) = root.as_map() else {
        report
            .error(root.pos, format!("a document must be a Kubernetes object, found {}", root.describe()))
            .label("expected a mapping with `apiVersion` and `kind`")
            .help(SUPPORTED_HELP);
        return Class::Bad;
    };
    let find = |key: &str| entries.iter().find(|(k, _)| k.key_text() == key);
    let Some((kind_key, kind_node)) = find("kind") else {
        report
            .error(root.pos, "this document has no `kind`")
            .label("expected `kind:` in this document")
            .help(SUPPORTED_HELP);
        return Class::Bad;
    };
    let kind = kind_node.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
    let api_version = find("apiVersion").and_then(|(_, v)| v.as_scalar()).map(|s| s.text.as_str());
    let known = SUPPORTED.iter().find(|(_, k)| *k == kind);
    let Some((apis, kind)) = known else {
        // Any kind rollsim does not simulate is skipped, but for a near miss of one it does:
        // a typo would otherwise drop the object the release needs.
        let kinds: Vec<&str> = SUPPORTED.iter().map(|(_, k)| *k).collect();
        let Some(guess) = super::diagnostic::near_miss(kind, &kinds) else {
            return Class::Ignored(skipped_note(root, kind, None));
        };
        let message = match api_version {
            Some(api) => format!("unsupported kind `{kind}` (apiVersion `{api}`)"),
            None => format!("unsupported kind `{kind}`"),
        };
        report
            .error(kind_node.pos, message)
            .label("not a kind rollsim reads, and close to one it does")
            .help(format!("did you mean `{guess}`? {SUPPORTED_HELP}"));
        return Class::Bad;
    };
    let expected_api = apis[0];
    match (api_version, find("apiVersion")) {
        (Some(api), _) if apis.contains(&api) => {}
        (Some(api), _) if !same_api_group(kind, api, apis) => {
            // Another API's kind of the same name (a Knative `Service`): not this one.
            return Class::Ignored(skipped_note(root, kind, Some((api, apis))));
        }
        (Some(api), Some((_, node))) => {
            let expected = super::diagnostic::list_quoted(apis);
            let help = match did_you_mean(api, apis) {
                Some(guess) => format!("did you mean `{guess}`? {SUPPORTED_HELP}"),
                None => SUPPORTED_HELP.to_string(),
            };
            report
                .error(node.pos, format!("unsupported apiVersion `{api}` for a {kind}"))
                .label(format!("expected {expected}"))
                .help(help);
            return Class::Bad;
        }
        _ => {
            report
                .error(kind_key.pos, format!("this {kind} has no `apiVersion`"))
                .label(format!("add `apiVersion: {expected_api}` to this document"))
                .help(SUPPORTED_HELP);
            return Class::Bad;
        }
    }
    Class::Read(Object { kind, root, kind_pos: kind_key.pos })
}

/// `api` is a version of the API group rollsim reads `kind` from (or, for a Deployment, the
/// old `extensions` group): a version rollsim cannot read, refused. Another group's kind of
/// the same name is another resource.
fn same_api_group(kind: &str, api: &str, apis: &[&str]) -> bool {
    let group = |a: &str| a.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    let g = group(api);
    apis.iter().any(|a| group(a) == g) || (kind == "Deployment" && g == "extensions")
}

/// Documents of `kind: List` (what `kubectl get -o yaml` writes) stand for their `items`.
fn unpack_lists(docs: Vec<tree::Document>) -> Vec<tree::Document> {
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let is_list = doc.root.as_ref().is_some_and(|r| {
            r.get("kind").and_then(Node::as_scalar).is_some_and(|k| k.text == "List")
                && matches!(r.get("items").map(|i| &i.value), Some(tree::Value::Seq(_)))
        });
        match doc.root {
            Some(Node { value: tree::Value::Map(entries), .. }) if is_list => {
                for (key, items) in entries {
                    if key.key_text() == "items"
                        && let tree::Value::Seq(items) = items.value
                    {
                        out.extend(items.into_iter().map(|item| tree::Document { root: Some(item) }));
                    }
                }
            }
            root => out.push(tree::Document { root }),
        }
    }
    out
}

/// The help of a scenario without a Simulation: a Simulation for the file's own workload
/// (its first Rollout or Deployment), or for an example one.
fn simulation_example(roots: &[&Node]) -> String {
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    let workload = ["Rollout", "Deployment"].iter().find_map(|wanted| {
        roots.iter().find_map(|root| {
            if text(root.get("kind")).as_deref() != Some(*wanted) {
                return None;
            }
            let name = text(root.get("metadata").and_then(|m| m.get("name")))?;
            let containers = root.get("spec")?.get("template")?.get("spec")?.get("containers")?;
            let image = match &containers.value {
                tree::Value::Seq(items) => text(items.first().and_then(|c| c.get("image"))),
                _ => None,
            };
            Some((*wanted, name, image.unwrap_or_else(|| "myapp:1.0".to_string())))
        })
    });
    // The manifest's image is the version released to; `from` is the one running before.
    let (kind, name, to) = workload.unwrap_or(("Deployment", "myapp".to_string(), "myapp:2.0".to_string()));
    let repository =
        to.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map_or(to.as_str(), |(r, _)| r);
    let from = format!("{repository}:previous");
    let quote =
        |s: &str| if s.contains([':', '/', '{', '}', ',']) { format!("\"{s}\"") } else { s.to_string() };
    format!(
        "add a document like this one (or put it in its own file and pass `--simulation FILE`):
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {{name: {name}-release}}
spec:
  duration: 2h
  release: {{workload: {kind}/{name}, from: {}, at: 5m}}
  traffic: {{rps: 500}}
  versions: {{{}: {{}}, {}: {{}}}}
  pods: {{startup: 20s, capacityRps: 100}}
  cluster: {{nodes: 4, nodeCapacity: {{cpu: \"8\", memory: 32Gi}}}}
  slo: {{objective: 99.9%, window: 30d}}",
        quote(&from),
        quote(&from),
        quote(&to)
    )
}

fn assemble(
    sim: SimulationDoc,
    monitoring: Monitoring,
    release: Release,
    deployment: super::model::DeploymentManifest,
    strategy: Strategy,
    services: Vec<ServiceManifest>,
) -> Scenario {
    Scenario {
        name: sim.name,
        seed: sim.seed,
        replications: sim.replications,
        duration: sim.duration,
        fidelity: sim.fidelity,
        tick: sim.tick,
        release,
        traffic: sim.traffic,
        versions: sim.versions,
        pods: sim.pods,
        cluster: sim.cluster,
        slo: sim.slo,
        detection: sim.detection,
        monitoring,
        rollback: sim.rollback,
        controller: sim.controller,
        variants: sim.variants,
        deployment,
        strategy,
        services,
        notes: Vec::new(),
        autoscaling: None,
        input_hash: 0,
    }
}
