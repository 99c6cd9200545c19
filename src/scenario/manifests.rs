//! The user's Kubernetes manifests (`apps/v1 Deployment`, `v1 Service`), read leniently: the
//! fields the simulator uses are checked like the API server would, every other field is
//! ignored (real manifests carry many). Defaults follow apps/v1 `SetDefaults_Deployment` and
//! core `SetDefaults_Probe`.

use super::decode::{
    Fields, read_bool, read_choice, read_count, read_cpu, read_memory, read_replicas, read_string,
    read_string_map, scalar_text,
};
use super::diagnostic::{Pos, Report};
use super::model::{DeploymentManifest, DeploymentStrategy, IntOrPercent, Probe, Resources, ServiceManifest};
use super::tree::{Node, Value};
use super::units;
use std::collections::BTreeMap;

/// Kubernetes `int32` fields.
const INT32_MAX: u64 = i32::MAX as u64;

/// A Deployment plus the positions cross-document checks point at.
pub(crate) struct DeploymentDoc {
    pub manifest: DeploymentManifest,
    pub name_pos: Pos,
    pub image_pos: Pos,
    /// `metadata.namespace` is written. Without it the manifest goes wherever it is applied
    /// (`kubectl apply -n`, a kustomization's `namespace:`), which
    /// [`place_unnamespaced`](super::release::place_unnamespaced) infers.
    pub namespace_written: bool,
    /// `spec.replicas` is written. Without it, an HPA that targets the Deployment sets the
    /// count (its `minReplicas`, see `load::apply_autoscalers`).
    pub replicas_written: bool,
}

/// `metadata.namespace` is present in the document.
fn namespace_written(root: &Node) -> bool {
    fn entry<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
        node.as_map()?.iter().find(|(k, _)| k.key_text() == key).map(|(_, v)| v)
    }
    entry(root, "metadata").and_then(|meta| entry(meta, "namespace")).is_some()
}

pub(crate) fn read_int32(
    report: &mut Report,
    f: &mut Fields,
    key: &'static str,
    default: u32,
) -> Option<u32> {
    match f.opt(key) {
        Some(node) => read_count(report, node, &f.sub(key), INT32_MAX).map(|n| n as u32),
        None => Some(default),
    }
}

/// `metadata.name` and `metadata.namespace` (default "default").
pub(crate) fn read_metadata(
    report: &mut Report,
    root: &mut Fields,
) -> (Option<(String, Pos)>, Option<String>) {
    let Some(mut meta) = root.req_child(report, "metadata", "{name: myapp}") else {
        return (None, None);
    };
    let name = meta
        .req(report, "name", "myapp")
        .and_then(|n| Some((read_string(report, n, "metadata.name")?, n.pos)));
    let namespace = match meta.opt("namespace") {
        Some(n) => read_string(report, n, "metadata.namespace"),
        None => Some("default".to_string()),
    };
    (name, namespace)
}

pub(crate) fn read_deployment(report: &mut Report, root: &Node, kind_pos: Pos) -> Option<DeploymentDoc> {
    let namespace_written = namespace_written(root);
    let replicas_written = root.get("spec").and_then(|spec| spec.get("replicas")).is_some();
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(report, "spec", "{replicas: 3, template: ...}")?;

    let replicas = match spec.opt("replicas") {
        Some(node) => read_replicas(report, node, &spec.sub("replicas")).map(|n| n as u32),
        None => Some(1),
    };
    let min_ready_seconds = read_int32(report, &mut spec, "minReadySeconds", 0);
    let progress_deadline = read_int32(report, &mut spec, "progressDeadlineSeconds", 600);
    let revision_history_limit = read_int32(report, &mut spec, "revisionHistoryLimit", 10);
    let paused = match spec.opt("paused") {
        Some(n) => read_bool(report, n, "spec.paused"),
        None => Some(false),
    };
    if let (Some(deadline), Some(min_ready)) = (progress_deadline, min_ready_seconds)
        && deadline <= min_ready
    {
        let node = spec.opt("progressDeadlineSeconds").or(spec.opt("minReadySeconds"));
        let pos = node.map_or(Pos::default(), |n| n.pos);
        report
            .error(pos, "`spec.progressDeadlineSeconds` must be greater than `spec.minReadySeconds`")
            .label(format!("{deadline}s is not more than minReadySeconds {min_ready}s"))
            .help("the API server rejects this; raise progressDeadlineSeconds (default 600)");
    }
    let strategy = read_strategy(report, &mut spec);
    let template = read_template(report, &mut spec);
    let selector = read_selector(report, &mut spec);

    let (name, namespace, replicas, strategy, template) =
        (name?, namespace?, replicas?, strategy?, template?);
    check_selector(report, selector, &template.labels);
    Some(DeploymentDoc {
        manifest: DeploymentManifest {
            name: name.0,
            namespace,
            replicas,
            strategy,
            min_ready_seconds: min_ready_seconds?,
            progress_deadline_seconds: Some(progress_deadline?),
            revision_history_limit: revision_history_limit?,
            paused: paused?,
            template_labels: template.labels,
            image: template.image,
            container: template.container,
            requests: template.requests,
            readiness_probe: template.probe,
            termination_grace_period_seconds: template.grace,
        },
        name_pos: name.1,
        image_pos: template.image_pos,
        namespace_written,
        replicas_written,
    })
}

/// `spec.selector.matchLabels`, with the node for positions.
pub(crate) fn read_selector<'n>(
    report: &mut Report,
    spec: &mut Fields<'n>,
) -> Option<(&'n Node, Option<BTreeMap<String, String>>)> {
    spec.child(report, "selector").and_then(|mut s| {
        s.opt("matchLabels").map(|n| (n, read_string_map(report, n, "spec.selector.matchLabels")))
    })
}

/// Every `matchLabels` entry must be a label of the pod template, as the API server checks.
pub(crate) fn check_selector(
    report: &mut Report,
    selector: Option<(&Node, Option<BTreeMap<String, String>>)>,
    labels: &BTreeMap<String, String>,
) {
    let Some((node, Some(match_labels))) = selector else {
        return;
    };
    let missing: Vec<String> = match_labels
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !missing.is_empty() {
        report
            .error(node.pos, "`spec.selector` does not match the template's labels")
            .label(format!("the pod template lacks {}", missing.join(", ")))
            .help("every `matchLabels` entry must also be in `spec.template.metadata.labels`");
    }
}

fn read_strategy(report: &mut Report, spec: &mut Fields) -> Option<DeploymentStrategy> {
    let Some(mut strategy) = spec.child(report, "strategy") else {
        return Some(default_rolling());
    };
    let kind = match strategy.opt("type") {
        Some(n) => read_choice(report, n, "spec.strategy.type", &["RollingUpdate", "Recreate"])?,
        None => "RollingUpdate",
    };
    let rolling_pos = strategy.key_pos("rollingUpdate");
    let rolling = strategy.child(report, "rollingUpdate");
    if kind == "Recreate" {
        if let Some(pos) = rolling_pos {
            report
                .error(pos, "`spec.strategy.rollingUpdate` may not be set when `type` is Recreate")
                .label("only allowed with `type: RollingUpdate`")
                .help("remove `rollingUpdate`, or use `type: RollingUpdate`");
            return None;
        }
        return Some(DeploymentStrategy::Recreate);
    }
    let Some(mut rolling) = rolling else {
        return Some(default_rolling());
    };
    let surge_node = rolling.opt("maxSurge");
    let unavailable_node = rolling.opt("maxUnavailable");
    let max_surge = match surge_node {
        Some(n) => read_int_or_percent(report, n, "spec.strategy.rollingUpdate.maxSurge", false),
        None => Some(IntOrPercent::Percent(25)),
    };
    let max_unavailable = match unavailable_node {
        Some(n) => read_int_or_percent(report, n, "spec.strategy.rollingUpdate.maxUnavailable", true),
        None => Some(IntOrPercent::Percent(25)),
    };
    let (max_surge, max_unavailable) = (max_surge?, max_unavailable?);
    let is_zero = |v: IntOrPercent| matches!(v, IntOrPercent::Int(0) | IntOrPercent::Percent(0));
    if is_zero(max_surge) && is_zero(max_unavailable) {
        let pos = unavailable_node.or(surge_node).map_or(Pos::default(), |n| n.pos);
        report
            .error(pos, "`maxUnavailable` may not be 0 when `maxSurge` is 0")
            .label("the rollout could never replace a pod")
            .help("allow one extra pod (`maxSurge: 1`) or one missing pod (`maxUnavailable: 1`)");
        return None;
    }
    Some(DeploymentStrategy::RollingUpdate { max_surge, max_unavailable })
}

fn default_rolling() -> DeploymentStrategy {
    DeploymentStrategy::RollingUpdate {
        max_surge: IntOrPercent::Percent(25),
        max_unavailable: IntOrPercent::Percent(25),
    }
}

pub(crate) fn read_int_or_percent(
    report: &mut Report,
    node: &Node,
    what: &str,
    at_most_100: bool,
) -> Option<IntOrPercent> {
    let text = scalar_text(report, node, what, "a count or a percentage")?;
    let quoted = node.as_scalar().is_some_and(|s| !s.plain);
    match units::parse_int_or_percent(text, quoted) {
        Ok(IntOrPercent::Percent(p)) if at_most_100 && p > 100 => {
            report
                .error(node.pos, format!("`{what}` must not be greater than 100%, found {p}%"))
                .label("expected a percentage ≤ 100%");
            None
        }
        Ok(v) => Some(v),
        Err(reason) => {
            report
                .error(
                    node.pos,
                    format!("`{what}` must be a whole number ≥ 0 or a percentage, found {}", node.describe()),
                )
                .label(reason)
                .help("write a count such as `1` or a percentage such as `25%`");
            None
        }
    }
}

/// A pod template: what a Deployment or a Rollout runs.
pub(crate) struct Template {
    pub labels: BTreeMap<String, String>,
    pub image: String,
    pub image_pos: Pos,
    /// The first container's `name` (empty if the manifest has none).
    pub container: String,
    pub requests: Resources,
    pub probe: Option<Probe>,
    pub grace: u32,
}

pub(crate) fn read_template(report: &mut Report, spec: &mut Fields) -> Option<Template> {
    let mut template = spec.req_child(report, "template", "{metadata: {labels: {app: myapp}}, spec: ...}")?;
    let labels = match template.child(report, "metadata") {
        Some(mut meta) => match meta.opt("labels") {
            Some(n) => read_string_map(report, n, "spec.template.metadata.labels"),
            None => Some(Default::default()),
        },
        None => Some(Default::default()),
    };
    let mut pod = template.req_child(report, "spec", "{containers: [{name: app, image: myapp:2.0}]}")?;
    let grace = read_int32(report, &mut pod, "terminationGracePeriodSeconds", 30);
    let containers = pod.req(report, "containers", "[{name: app, image: myapp:2.0}]")?;
    let first = match &containers.value {
        Value::Seq(items) if !items.is_empty() => &items[0],
        Value::Seq(_) => {
            report
                .error(containers.pos, "`spec.template.spec.containers` is empty")
                .label("expected at least one container")
                .help("add `- {name: app, image: myapp:2.0}`");
            return None;
        }
        _ => {
            report
                .error(
                    containers.pos,
                    format!(
                        "`spec.template.spec.containers` must be a list, found {}",
                        containers.describe()
                    ),
                )
                .label("expected a list of containers");
            return None;
        }
    };
    let path = "spec.template.spec.containers[0]";
    let mut c = Fields::new(report, first, first.pos, path)?;
    let image_node = c.req(report, "image", "myapp:2.0");
    let image = image_node.and_then(|n| read_string(report, n, &format!("{path}.image")));
    let container = match c.opt("name") {
        Some(n) => read_string(report, n, &format!("{path}.name")),
        None => Some(String::new()),
    };
    let requests = read_requests(report, &mut c);
    let probe = match c.child(report, "readinessProbe") {
        Some(mut p) => read_probe(report, &mut p).map(Some),
        None => Some(None),
    };
    Some(Template {
        labels: labels?,
        image: image?,
        image_pos: image_node?.pos,
        container: container?,
        requests: requests?,
        probe: probe?,
        grace: grace?,
    })
}

fn read_requests(report: &mut Report, c: &mut Fields) -> Option<Resources> {
    let Some(mut resources) = c.child(report, "resources") else {
        return Some(Resources::default());
    };
    let Some(mut requests) = resources.child(report, "requests") else {
        return Some(Resources::default());
    };
    let cpu = match requests.opt("cpu") {
        Some(n) => read_cpu(report, n, &requests.sub("cpu")),
        None => Some(0),
    };
    let memory = match requests.opt("memory") {
        Some(n) => read_memory(report, n, &requests.sub("memory")),
        None => Some(0),
    };
    Some(Resources { cpu_millis: cpu?, memory_bytes: memory? })
}

/// A readiness probe; 0 (or absent) means the Kubernetes default, as `SetDefaults_Probe` does.
fn read_probe(report: &mut Report, p: &mut Fields) -> Option<Probe> {
    let d = Probe::default();
    let mut field = |key: &'static str, default: u32| -> Option<u32> {
        match read_int32(report, p, key, default)? {
            0 => Some(default),
            v => Some(v),
        }
    };
    let initial_delay_seconds = field("initialDelaySeconds", d.initial_delay_seconds);
    let period_seconds = field("periodSeconds", d.period_seconds);
    let timeout_seconds = field("timeoutSeconds", d.timeout_seconds);
    let success_threshold = field("successThreshold", d.success_threshold);
    let failure_threshold = field("failureThreshold", d.failure_threshold);
    Some(Probe {
        initial_delay_seconds: initial_delay_seconds?,
        period_seconds: period_seconds?,
        timeout_seconds: timeout_seconds?,
        success_threshold: success_threshold?,
        failure_threshold: failure_threshold?,
    })
}

pub(crate) fn read_service(report: &mut Report, root: &Node, kind_pos: Pos) -> Option<ServiceManifest> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let selector = match doc.child(report, "spec") {
        Some(mut spec) => match spec.opt("selector") {
            Some(n) => read_string_map(report, n, "spec.selector"),
            None => Some(Default::default()),
        },
        None => Some(Default::default()),
    };
    Some(ServiceManifest { name: name?.0, namespace: namespace?, selector: selector? })
}
