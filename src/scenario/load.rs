//! Loading: text → documents → (overrides applied to the Simulation) → typed, validated
//! [`Scenario`], collecting every problem on the way.

use super::diagnostic::{Pos, Report, ScenarioError, Sources, did_you_mean, list_all};
use super::manifests::{DeploymentDoc, read_deployment, read_service};
use super::model::{Release, Scenario, ServiceManifest};
use super::overrides::{self, Override};
use super::simulation::{ReleaseSpec, SimulationDoc, read_simulation};
use super::tree::{self, Node};
use std::path::Path;

/// The kinds this version reads, as `(apiVersion, kind)`.
const SUPPORTED: [(&str, &str); 3] =
    [("apps/v1", "Deployment"), ("v1", "Service"), ("rollsim.dev/v1alpha1", "Simulation")];

const SUPPORTED_HELP: &str =
    "supported kinds: apps/v1 Deployment, v1 Service, rollsim.dev/v1alpha1 Simulation";

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

/// Reads and loads a scenario file. See [`load_str`].
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
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
/// (`--set PATH=VALUE`) change the Simulation document before it is read.
///
/// On failure, every problem found is returned (a YAML syntax error stops at the first).
pub fn load_str(file_name: &str, text: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let sources = Sources::new(file_name, text, overrides.iter().map(Override::as_typed).collect());
    let mut report = Report::new(&sources);
    let scenario = load(text, overrides, &mut report);
    match scenario {
        Some(scenario) if !report.has_errors() => Ok(scenario),
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

/// A document, classified.
struct Object<'n> {
    kind: &'static str,
    root: &'n Node,
    kind_pos: Pos,
}

fn load(text: &str, overrides: &[Override], report: &mut Report) -> Option<Scenario> {
    let docs = tree::parse_stream(text, 0, 0, report)?;
    let roots: Vec<&Node> = docs.iter().filter_map(|d| d.root.as_ref()).filter(|n| !n.is_null()).collect();
    let objects: Vec<Object> = roots.iter().filter_map(|root| classify(report, root)).collect();

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

    let mut deployments: Vec<DeploymentDoc> = Vec::new();
    let mut services: Vec<ServiceManifest> = Vec::new();
    let mut manifests_ok = true;
    for object in &objects {
        match object.kind {
            "Deployment" => match read_deployment(report, object.root, object.kind_pos) {
                Some(d) => deployments.push(d),
                None => manifests_ok = false,
            },
            "Service" => match read_service(report, object.root, object.kind_pos) {
                Some(s) => services.push(s),
                None => manifests_ok = false,
            },
            _ => {}
        }
    }
    let simulation = simulation?;
    // A Deployment that was not read (bad kind, apiVersion or fields) may be the one the
    // release names: then "not in this file" would be noise.
    let all_read = manifests_ok && objects.len() == roots.len();
    let release = match (&simulation.release, &simulation.version_names) {
        (Some(release), Some(versions)) => resolve_release(report, release, versions, &deployments, all_read),
        _ => None,
    };
    let (doc, release) = (simulation.doc?, release?);
    let deployment = deployments.into_iter().find(|d| d.manifest.name == release.workload)?.manifest;
    if !manifests_ok {
        return None;
    }
    if all_read && !services.iter().any(|s| s.selects(&deployment.namespace, &deployment.template_labels)) {
        let labels: Vec<String> =
            deployment.template_labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let pos = simulation.release.as_ref().map_or(Pos::file_start(), |r| r.workload.1);
        report
            .error(pos, format!("no Service selects the pods of Deployment/{}", deployment.name))
            .label("its pods would receive no traffic")
            .help(format!(
                "add a `v1 Service` in namespace `{}` whose `spec.selector` is a subset of the pod labels {{{}}}",
                deployment.namespace,
                labels.join(", ")
            ));
        return None;
    }
    if all_read && !fits_before_release(report, &doc.cluster, &deployment, simulation.release.as_ref()) {
        return None;
    }
    Some(assemble(doc, release, deployment, services))
}

/// The replicas running before the release must fit in the cluster: the simulation starts
/// from that steady state. (Pods that do not fit *during* a release stay Pending, as in
/// Kubernetes; that is a result, not an input error.)
fn fits_before_release(
    report: &mut Report,
    cluster: &super::model::ClusterSpec,
    deployment: &super::model::DeploymentManifest,
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
                "the cluster cannot run the {} replicas of Deployment/{} before the release",
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

/// Checks `apiVersion` and `kind`; reports unsupported documents.
fn classify<'n>(report: &mut Report, root: &'n Node) -> Option<Object<'n>> {
    let Some(entries) = root.as_map() else {
        report
            .error(root.pos, format!("a document must be a Kubernetes object, found {}", root.describe()))
            .label("expected a mapping with `apiVersion` and `kind`")
            .help(SUPPORTED_HELP);
        return None;
    };
    let find = |key: &str| entries.iter().find(|(k, _)| k.key_text() == key);
    let Some((kind_key, kind_node)) = find("kind") else {
        report
            .error(root.pos, "this document has no `kind`")
            .label("expected `kind:` in this document")
            .help(SUPPORTED_HELP);
        return None;
    };
    let kind = kind_node.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
    let api_version = find("apiVersion").and_then(|(_, v)| v.as_scalar()).map(|s| s.text.as_str());
    let known = SUPPORTED.iter().find(|(_, k)| *k == kind);
    let Some((expected_api, kind)) = known else {
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
        return None;
    };
    match (api_version, find("apiVersion")) {
        (Some(api), _) if api == *expected_api => {}
        (Some(api), Some((_, node))) => {
            report
                .error(node.pos, format!("unsupported apiVersion `{api}` for a {kind}"))
                .label(format!("expected `{expected_api}`"))
                .help(SUPPORTED_HELP);
            return None;
        }
        _ => {
            report
                .error(kind_key.pos, format!("this {kind} has no `apiVersion`"))
                .label(format!("add `apiVersion: {expected_api}` to this document"))
                .help(SUPPORTED_HELP);
            return None;
        }
    }
    Some(Object { kind, root, kind_pos: kind_key.pos })
}

/// Resolves `spec.release` against the Deployments and the versions.
fn resolve_release(
    report: &mut Report,
    release: &ReleaseSpec,
    versions: &[String],
    deployments: &[DeploymentDoc],
    manifests_ok: bool,
) -> Option<Release> {
    let defined: Vec<&str> = versions.iter().map(String::as_str).collect();
    let mut check_version = |image: &str, pos: Pos, message: String| -> bool {
        if versions.iter().any(|v| v == image) {
            return true;
        }
        let mut help = if defined.is_empty() {
            "`spec.versions` is empty".to_string()
        } else {
            format!("defined versions: {}", list_all(&defined))
        };
        if let Some(guess) = did_you_mean(image, &defined) {
            help = format!("did you mean `{guess}`? {help}");
        }
        help += &format!("\nadd it under `spec.versions`, e.g. `{image}: {{errorRate: 0.001}}`");
        report.error(pos, message).label("no such version").help(help);
        false
    };
    let (from, from_pos) = &release.from;
    let not_defined = |key: &str, image: &str| {
        format!("`spec.release.{key}` names version `{image}`, which is not defined in `spec.versions`")
    };
    let from_ok = check_version(from, *from_pos, not_defined("from", from));
    let explicit_to_ok = match &release.to {
        Some((to, pos)) => check_version(to, *pos, not_defined("to", to)),
        None => true,
    };
    let (workload, workload_pos) = &release.workload;
    let matches: Vec<&DeploymentDoc> = deployments.iter().filter(|d| &d.manifest.name == workload).collect();
    let deployment = match matches.as_slice() {
        [one] => *one,
        [] => {
            // A Deployment that failed to load was already reported; do not add noise.
            if manifests_ok {
                let names: Vec<&str> = deployments.iter().map(|d| d.manifest.name.as_str()).collect();
                let help = match (names.as_slice(), did_you_mean(workload, &names)) {
                    ([], _) => {
                        "this file has no Deployment: add your Deployment manifest as another `---` document"
                            .to_string()
                    }
                    (_, Some(guess)) => format!(
                        "did you mean `Deployment/{guess}`? Deployments in this file: {}",
                        list_all(&names)
                    ),
                    _ => format!("Deployments in this file: {}", list_all(&names)),
                };
                report
                    .error(
                        *workload_pos,
                        format!(
                            "`spec.release.workload` names Deployment `{workload}`, which is not in this file"
                        ),
                    )
                    .label("no Deployment with this name")
                    .help(help);
            }
            return None;
        }
        [first, second, ..] => {
            report
                .error(
                    *workload_pos,
                    format!(
                        "`spec.release.workload` is ambiguous: {} Deployments are named `{workload}`",
                        matches.len()
                    ),
                )
                .label("matches more than one Deployment")
                .help(format!(
                    "they are on lines {} and {}; a scenario simulates one Deployment, remove the others",
                    first.name_pos.line, second.name_pos.line
                ));
            return None;
        }
    };
    let (to, to_ok) = match &release.to {
        Some((to, _)) => (to.clone(), explicit_to_ok),
        None => {
            let image = &deployment.manifest.image;
            let message = format!(
                "the Deployment's image `{image}` (the default for `spec.release.to`) is not defined in `spec.versions`"
            );
            let ok = check_version(image, deployment.image_pos, message);
            (image.clone(), ok)
        }
    };
    if !(from_ok && to_ok) {
        return None;
    }
    if *from == to {
        let help = if release.to.is_some() {
            "set `spec.release.to` to the new image".to_string()
        } else {
            format!(
                "`spec.release.to` defaults to the Deployment's image, `{to}` (line {}): put the new image in the manifest, or set `spec.release.to`",
                deployment.image_pos.line
            )
        };
        report
            .error(*from_pos, format!("the release changes nothing: from and to are both `{from}`"))
            .label("same image as the release target")
            .help(help);
        return None;
    }
    Some(Release { workload: workload.clone(), from_image: from.clone(), to_image: to, at: release.at })
}

fn assemble(
    sim: SimulationDoc,
    release: Release,
    deployment: super::model::DeploymentManifest,
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
        rollback: sim.rollback,
        controller: sim.controller,
        deployment,
        strategy: super::model::Strategy::Deployment,
        services,
    }
}
