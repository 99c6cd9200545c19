//! Loading: text → documents → (overrides applied to the manifests and the Simulation) →
//! typed, validated [`Scenario`], collecting every problem on the way.

use super::analysis::read_analysis_template;
use super::argo::read_rollout;
use super::diagnostic::{Pos, Report, ScenarioError, Sources, did_you_mean};
use super::flagger::{read_canary, read_metric_template};
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

/// Kinds a release's manifests commonly carry that rollsim does not simulate: documents of
/// these kinds are skipped, whatever their apiVersion, so that example manifests run
/// unchanged. (An HPA is not simulated: replicas stay at `spec.replicas`.) Workload kinds
/// (StatefulSet, DaemonSet, …) stay errors: skipping them would hide a release rollsim cannot
/// simulate.
const IGNORED: &[&str] = &[
    "AuthorizationPolicy",
    "AlertProvider",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "EnvoyFilter",
    "Gateway",
    "HorizontalPodAutoscaler",
    "Ingress",
    "LimitRange",
    "Namespace",
    "NetworkPolicy",
    "PeerAuthentication",
    "PodDisruptionBudget",
    "ResourceQuota",
    "Role",
    "RoleBinding",
    "Secret",
    "ServiceAccount",
    "ServiceEntry",
    "Sidecar",
];

const SUPPORTED_HELP: &str = "supported kinds: apps/v1 Deployment, v1 Service, argoproj.io/v1alpha1 Rollout, \
AnalysisTemplate and ClusterAnalysisTemplate, networking.istio.io/v1 VirtualService and DestinationRule (also \
v1beta1, v1alpha3), flagger.app/v1beta1 Canary and MetricTemplate, monitoring.coreos.com/v1 PrometheusRule, \
ServiceMonitor and PodMonitor, rollsim.dev/v1alpha1 Simulation and CanaryConfig (a Kayenta canary config)";

const SIMULATION_EXAMPLE: &str = "add a document like:
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {name: my-release}
spec:
  duration: 2h
  release: {workload: Deployment/myapp, from: myapp:1.0, at: 5m}
  traffic: {rps: 500}
  versions: {myapp:1.0: {}, myapp:2.0: {}}
  pods: {startup: 20s, capacityRps: 100}
  cluster: {nodes: 4, nodeCapacity: {cpu: \"8\", memory: 32Gi}}
  slo: {objective: 99.9%, window: 30d}";

/// The largest scenario file rollsim reads (16 MiB; the shipped ones are a few kB). A larger
/// file is refused before it is read, so memory stays bounded.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The file's bytes, or an error if it holds more than [`MAX_FILE_BYTES`] (also for a pipe,
/// whose size is not known in advance: at most one byte more is read).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large = |size: String| {
        std::io::Error::other(format!(
            "it is {size}, more than the {} MiB a scenario may be (a scenario is a few kB of YAML)",
            MAX_FILE_BYTES >> 20
        ))
    };
    let file = std::fs::File::open(path)?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > MAX_FILE_BYTES
    {
        return Err(too_large(format!("{} bytes", meta.len())));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large("larger".to_string()));
    }
    Ok(bytes)
}

/// Reads and loads a scenario file. See [`load_str`].
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let bytes = read_bounded(path).map_err(|e| {
        let sources = Sources::new(&name, "", Vec::new());
        let mut d = sources.diagnostic(Pos::default(), format!("cannot read the scenario file: {e}"));
        d.help(
            "check the path; `rollsim validate FILE` takes a YAML file with your manifests and a Simulation",
        );
        ScenarioError { diagnostics: vec![d] }
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&name, &text, overrides),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let prefix = String::from_utf8_lossy(valid);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let sources = Sources::new(&name, &prefix, Vec::new());
            let pos = Pos {
                src: 0,
                line: line as u32,
                col: column as u32,
                end_line: line as u32,
                end_col: column as u32 + 1,
            };
            let mut d = sources.diagnostic(pos, "the scenario file is not valid UTF-8".into());
            d.label("invalid byte here").help("save the file as UTF-8");
            Err(ScenarioError { diagnostics: vec![d] })
        }
    }
}

/// Loads a scenario from `text`; `file_name` is what diagnostics call it. `overrides`
/// (`--set PATH=VALUE`, `--grid` values) change the Simulation document or the manifest
/// they name (`Kind/name.…`) before it is read.
///
/// On failure, every problem found is returned (a YAML syntax error stops at the first).
pub fn load_str(file_name: &str, text: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let typed = overrides.iter().map(|o| (o.origin.flag, o.as_typed())).collect();
    let sources = Sources::new(file_name, text, typed);
    let mut report = Report::new(&sources);
    let scenario = load(text, overrides, &mut report);
    match scenario {
        Some(mut scenario) if !report.has_errors() => {
            scenario.input_hash = input_hash(text, overrides);
            Ok(scenario)
        }
        _ => {
            if !report.has_errors() {
                // Every path that fails reports why; this is a safety net, not a message users
                // should ever see.
                report.error(Pos::file_start(), "the scenario could not be loaded").label("here");
            }
            Err(ScenarioError { diagnostics: report.finish() })
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

fn load(text: &str, overrides: &[Override], report: &mut Report) -> Option<Scenario> {
    let mut docs = tree::parse_stream(text, 0, 0, report)?;
    let mut all: Vec<&mut Node> = docs.iter_mut().filter_map(|d| d.root.as_mut()).collect();
    let applied = overrides::apply_to_manifests(&mut all, overrides, report);
    let roots: Vec<&Node> = docs.iter().filter_map(|d| d.root.as_ref()).filter(|n| !n.is_null()).collect();
    let mut ignored = 0;
    let mut skipped = Vec::new();
    let objects: Vec<Object> = roots
        .iter()
        .filter_map(|root| match classify(report, root) {
            Class::Read(object) => Some(object),
            Class::Ignored => {
                ignored += 1;
                skipped.push(describe_object(root));
                None
            }
            Class::Bad => None,
        })
        .collect();

    let simulations: Vec<&Object> = objects.iter().filter(|o| o.kind == "Simulation").collect();
    let simulation_root = match simulations.as_slice() {
        [] => {
            report
                .error(Pos::file_start(), "no `rollsim.dev/v1alpha1 Simulation` document in this file")
                .label("a scenario is your manifests plus one Simulation document")
                .help(SIMULATION_EXAMPLE);
            None
        }
        [first, rest @ ..] => {
            for extra in rest {
                report
                    .error(extra.kind_pos, "a second Simulation document")
                    .label("a scenario has exactly one Simulation")
                    .help(format!(
                        "the first Simulation is on line {}; put each scenario in its own file",
                        first.kind_pos.line
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
    let mut notes: Vec<String> = skipped
        .into_iter()
        .map(|object| {
            if object.starts_with("HorizontalPodAutoscaler/") {
                format!(
                    "{object} is not simulated: replicas stay fixed (a Deployment that leaves them to it runs its minReplicas)"
                )
            } else {
                format!("{object} is not simulated (rollsim skips this kind)")
            }
        })
        .collect();
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
    let mut scenario = assemble(doc, monitoring, release, deployment, strategy, m.services);
    scenario.notes = notes;
    Some(scenario)
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
    /// A kind rollsim does not simulate and skips ([`IGNORED`]).
    Ignored,
    /// Reported.
    Bad,
}

/// Checks `apiVersion` and `kind`; reports unsupported documents.
fn classify<'n>(report: &mut Report, root: &'n Node) -> Class<'n> {
    match classify_supported(report, root) {
        Ok(object) => Class::Read(object),
        Err(true) => Class::Ignored,
        Err(false) => Class::Bad,
    }
}

/// `Err(true)`: a kind in [`IGNORED`]; `Err(false)`: reported.
fn classify_supported<'n>(report: &mut Report, root: &'n Node) -> Result<Object<'n>, bool> {
    let Some(entries) = root.as_map() else {
        report
            .error(root.pos, format!("a document must be a Kubernetes object, found {}", root.describe()))
            .label("expected a mapping with `apiVersion` and `kind`")
            .help(SUPPORTED_HELP);
        return Err(false);
    };
    let find = |key: &str| entries.iter().find(|(k, _)| k.key_text() == key);
    let Some((kind_key, kind_node)) = find("kind") else {
        report
            .error(root.pos, "this document has no `kind`")
            .label("expected `kind:` in this document")
            .help(SUPPORTED_HELP);
        return Err(false);
    };
    let kind = kind_node.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
    let api_version = find("apiVersion").and_then(|(_, v)| v.as_scalar()).map(|s| s.text.as_str());
    let known = SUPPORTED.iter().find(|(_, k)| *k == kind);
    if known.is_none() && IGNORED.contains(&kind) {
        return Err(true);
    }
    let Some((apis, kind)) = known else {
        let kinds: Vec<&str> = SUPPORTED.iter().map(|(_, k)| *k).collect();
        let mut help = SUPPORTED_HELP.to_string();
        if let Some(guess) = did_you_mean(kind, &kinds) {
            help = format!("did you mean `{guess}`? {help}");
        }
        let message = match api_version {
            Some(api) => format!("unsupported kind `{kind}` (apiVersion `{api}`)"),
            None => format!("unsupported kind `{kind}`"),
        };
        report.error(kind_node.pos, message).label("not supported by this version of rollsim").help(help);
        return Err(false);
    };
    let expected_api = apis[0];
    match (api_version, find("apiVersion")) {
        (Some(api), _) if apis.contains(&api) => {}
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
            return Err(false);
        }
        _ => {
            report
                .error(kind_key.pos, format!("this {kind} has no `apiVersion`"))
                .label(format!("add `apiVersion: {expected_api}` to this document"))
                .help(SUPPORTED_HELP);
            return Err(false);
        }
    }
    Ok(Object { kind, root, kind_pos: kind_key.pos })
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
        input_hash: 0,
    }
}
