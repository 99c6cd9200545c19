//! The `rollsim.dev/v1alpha1 Simulation` document, read strictly: every key is known (an
//! unknown one is an error with a did-you-mean), every unit is resolved and every default
//! filled in. Cross-document checks (the workload, the versions) happen in `load`.

use super::budget::{self, Work, WorkKeys};
use super::decode::{
    Fields, MAX_RPS, read_bool, read_choice, read_count, read_cpu, read_dist, read_duration, read_memory,
    read_number, read_positive_duration, read_rate, read_ratio, read_string, read_string_map,
};
use super::diagnostic::{Pos, Report, did_you_mean, list_quoted};
use super::model::*;
use super::tree::{Node, Value};
use super::units::format_duration;
use crate::engine::{MILLISECOND, SECOND, SimTime};
use std::collections::BTreeMap;

/// The Simulation document, resolved; the release is checked against the manifests later.
pub(crate) struct SimulationDoc {
    pub name: String,
    pub seed: u64,
    pub replications: u64,
    pub duration: SimTime,
    pub fidelity: Fidelity,
    pub tick: SimTime,
    pub traffic: Traffic,
    pub versions: BTreeMap<String, VersionProfile>,
    pub pods: PodTiming,
    pub cluster: ClusterSpec,
    pub slo: Slo,
    pub detection: Detection,
    /// `spec.monitoring`; completed with the PrometheusRules and ServiceMonitors in `load`.
    pub monitoring: MonitoringSpec,
    pub rollback: RollbackPolicy,
    pub controller: ControllerTiming,
    /// `spec.variants`: strategy variants for `compare` and `recommend`.
    pub variants: Vec<super::variants::Variant>,
}

/// `spec.monitoring` as written, with the positions the cross-document checks point at.
pub(crate) struct MonitoringSpec {
    /// `scrapeInterval` (default 15s), unless a ServiceMonitor or PodMonitor says otherwise.
    pub scrape_interval: SimTime,
    /// `evaluationInterval` (default 15s): the interval of rule groups without one.
    pub evaluation_interval: SimTime,
    pub scrape_offset: Option<(SimTime, Pos)>,
    pub evaluation_offset: Option<(SimTime, Pos)>,
    pub counters: CounterInit,
    /// `alertmanager.groupWait` (default 30s).
    pub group_wait: SimTime,
    /// `onAlert`, with the position of each `alert` value.
    pub on_alert: Vec<(AlertRoute, Pos)>,
}

/// What could be read of a Simulation: the whole document if it is valid, and the parts the
/// cross-document checks need even if something else is wrong.
pub(crate) struct SimulationRead {
    pub doc: Option<SimulationDoc>,
    pub release: Option<ReleaseSpec>,
    /// The images `spec.versions` defines (even if some of their profiles are invalid).
    pub version_names: Option<Vec<String>>,
}

/// The kinds `spec.release.workload` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    Deployment,
    Service,
    VirtualService,
    Rollout,
    Canary,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 5] = [
        WorkloadKind::Deployment,
        WorkloadKind::Service,
        WorkloadKind::VirtualService,
        WorkloadKind::Rollout,
        WorkloadKind::Canary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::Service => "Service",
            WorkloadKind::VirtualService => "VirtualService",
            WorkloadKind::Rollout => "Rollout",
            WorkloadKind::Canary => "Canary",
        }
    }
}

/// `spec.release.from` / `.to` as written: an image or subset name, or a selector map.
#[derive(Clone, Debug)]
pub(crate) enum SideValue {
    Text(String),
    Map(BTreeMap<String, String>),
}

/// `spec.release` with positions for the cross-document checks.
#[derive(Clone)]
pub(crate) struct ReleaseSpec {
    pub kind: WorkloadKind,
    pub workload: (String, Pos),
    /// Required except for a VirtualService release (checked here).
    pub from: Option<(SideValue, Pos)>,
    pub to: Option<(SideValue, Pos)>,
    pub at: SimTime,
    /// Service only.
    pub switch_at: Option<SimTime>,
    /// Service only.
    pub keep_old_for: Option<SimTime>,
    /// VirtualService only.
    pub steps: Option<Vec<MeshStep>>,
    /// Rollout only (also allowed for a Deployment, which may turn out to be a Rollout's
    /// `workloadRef`; `load` checks that): the value and the key's position.
    pub promote_after: Option<(DurationDist, Pos)>,
    /// Rollout only, like `promote_after`: `release.inconclusive`.
    pub inconclusive: Option<(ManualDecision, Pos)>,
}

/// Which release keys belong to which kinds.
const KIND_KEYS: [(&str, WorkloadKind); 5] = [
    ("switchAt", WorkloadKind::Service),
    ("keepOldFor", WorkloadKind::Service),
    ("steps", WorkloadKind::VirtualService),
    ("promoteAfter", WorkloadKind::Rollout),
    ("inconclusive", WorkloadKind::Rollout),
];

/// Reads optional `key` with `read`, or returns `default`.
fn opt_or<T>(
    report: &mut Report,
    f: &mut Fields,
    key: &'static str,
    default: T,
    read: impl FnOnce(&mut Report, &Node, &str) -> Option<T>,
) -> Option<T> {
    let path = f.sub(key);
    match f.opt(key) {
        Some(node) => read(report, node, &path),
        None => Some(default),
    }
}

/// Reads required `key` with `read`.
fn required<T>(
    report: &mut Report,
    f: &mut Fields,
    key: &'static str,
    example: &str,
    read: impl FnOnce(&mut Report, &Node, &str) -> Option<T>,
) -> Option<T> {
    let path = f.sub(key);
    let node = f.req(report, key, example)?;
    read(report, node, &path)
}

/// A distribution under `key`, or `default`.
fn dist_or(
    report: &mut Report,
    f: &mut Fields,
    key: &'static str,
    default: Option<DurationDist>,
) -> Option<DurationDist> {
    let path = f.sub(key);
    let at = f.key_pos(key);
    match (f.opt(key), default) {
        (Some(node), _) => read_dist(report, node, at.unwrap_or(node.pos), &path),
        (None, Some(d)) => Some(d),
        (None, None) => {
            f.req(report, key, "{kind: lognormal, median: 20s, p99: 60s}");
            None
        }
    }
}

/// The most nodes a cluster may have (Kubernetes documents 5000; rollsim allows more, but each
/// node is simulated).
const MAX_NODES: u64 = 100_000;
/// The most replications a scenario may ask for (`--replications` is checked the same way).
pub(crate) const MAX_REPLICATIONS: u64 = 10_000_000;

fn positive_count(report: &mut Report, node: &Node, what: &str, max: u64) -> Option<u64> {
    let n = read_count(report, node, what, max)?;
    if n == 0 {
        report
            .error(node.pos, format!("`{what}` must be at least 1, found 0"))
            .label("expected a whole number ≥ 1");
        return None;
    }
    Some(n)
}

pub(crate) fn read_simulation(report: &mut Report, root: &Node, kind_pos: Pos) -> SimulationRead {
    let mut parts = SimulationRead { doc: None, release: None, version_names: None };
    parts.doc = read_document(report, root, kind_pos, &mut parts.release);
    parts.version_names = root
        .get("spec")
        .and_then(|spec| spec.get("versions"))
        .and_then(Node::as_map)
        .map(|entries| entries.iter().map(|(k, _)| k.key_text().to_string()).collect());
    parts
}

fn read_document(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
    release_out: &mut Option<ReleaseSpec>,
) -> Option<SimulationDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    doc.opt("apiVersion");
    doc.opt("kind");
    let name = doc.req_child(report, "metadata", "{name: my-release}").and_then(|mut meta| {
        let name = required(report, &mut meta, "name", "my-release", |r, n, p| {
            let name = read_string(r, n, p)?;
            if let Err(why) = super::variants::check_name(&name) {
                r.error(n.pos, format!("`{p}` {why}"))
                    .label("not a usable scenario name")
                    .help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit: the name names the output directory and labels tables, CSV and HTML");
                return None;
            }
            Some(name)
        });
        for key in ["namespace", "labels", "annotations"] {
            meta.opt(key);
        }
        meta.deny_unknown(report);
        name
    });
    let spec = doc.req_child(report, "spec", "{duration: 2h, release: ..., traffic: ..., versions: ...}");
    doc.deny_unknown(report);
    let mut spec = spec?;

    let spec_node = root.get("spec");
    let spec_at = spec.at();
    let seed = opt_or(report, &mut spec, "seed", 1, |r, n, p| read_count(r, n, p, u64::MAX));
    let replications =
        opt_or(report, &mut spec, "replications", 100, |r, n, p| positive_count(r, n, p, MAX_REPLICATIONS));
    let duration = required(report, &mut spec, "duration", "2h", read_positive_duration);
    let duration_node = spec.opt("duration");
    let replications_node = spec.opt("replications");
    let fidelity = opt_or(report, &mut spec, "fidelity", Fidelity::Aggregated, |r, n, p| {
        read_choice(r, n, p, &["aggregated", "request"])
            .map(|c| if c == "request" { Fidelity::Request } else { Fidelity::Aggregated })
    });
    let tick_node = spec.opt("tick");
    let tick = opt_or(report, &mut spec, "tick", SECOND, read_positive_duration);
    let release_at_node = spec.opt("release").and_then(|r| r.get("at"));
    let release = read_release(report, &mut spec);
    let traffic = read_traffic(report, &mut spec);
    let versions = read_versions(report, &mut spec);
    let pods_and_latency = read_pods(report, &mut spec);
    let (pods, traffic) = match (pods_and_latency, traffic) {
        (Some((pods, load_latency)), Some(traffic)) => {
            (Some(pods), Some(Traffic { load_latency, ..traffic }))
        }
        (pods, traffic) => (pods.map(|p| p.0), traffic),
    };
    let cluster = read_cluster(report, &mut spec);
    let slo = read_slo(report, &mut spec);
    let detection = read_detection(report, &mut spec);
    let monitoring = read_monitoring(report, &mut spec);
    let rollback = read_rollback(report, &mut spec);
    let controller = read_controller(report, &mut spec);
    let variants = super::variants::read_variants(report, &mut spec);
    spec.deny_unknown(report);
    release_out.clone_from(&release);

    if let (Some(duration), Some(release), Some(node)) = (duration, &release, release_at_node)
        && release.at >= duration
    {
        report
            .error(node.pos, "`spec.release.at` is not before the end of the simulation")
            .label(format!(
                "the release at {} would never happen in a {} simulation",
                format_duration(release.at),
                format_duration(duration)
            ))
            .help("make `spec.release.at` shorter than `spec.duration`");
    }
    if let (Some(duration), Some(tick), Some(node)) = (duration, tick, tick_node)
        && tick > duration
    {
        report
            .error(node.pos, "`spec.tick` is longer than `spec.duration`")
            .label(format!("{} > {}", format_duration(tick), format_duration(duration)))
            .help("a tick is the aggregation step; typical values are `1s` or `100ms`");
    }
    if let (Some(traffic), Some(duration), Some(tick), Some(replications), Some(fidelity)) =
        (&traffic, duration, tick, replications, fidelity)
    {
        let traffic_node = spec_node.and_then(|s| s.get("traffic"));
        let keys = WorkKeys {
            rps: traffic_node.and_then(|t| t.get("rps").or(t.get("pattern"))).map(|n| n.pos),
            duration: duration_node.map(|n| n.pos),
            replications: replications_node.map(|n| n.pos),
            tick: tick_node.map(|n| n.pos),
            spec: spec_at,
        };
        let work = Work::estimate(traffic, duration, tick, replications);
        budget::check(report, fidelity, traffic, work, &keys);
    }
    release.as_ref()?;
    Some(SimulationDoc {
        name: name?,
        seed: seed?,
        replications: replications?,
        duration: duration?,
        fidelity: fidelity?,
        tick: tick?,
        traffic: traffic?,
        versions: versions?,
        pods: pods?,
        cluster: cluster?,
        slo: slo?,
        detection: detection?,
        monitoring: monitoring?,
        rollback: rollback?,
        controller: controller?,
        variants: variants?,
    })
}

fn read_release(report: &mut Report, spec: &mut Fields) -> Option<ReleaseSpec> {
    let mut r = spec.req_child(report, "release", "{workload: Deployment/myapp, from: myapp:1.0, at: 5m}")?;
    let workload = required(report, &mut r, "workload", "Deployment/myapp", read_workload);
    let kind = workload.as_ref().map(|w| w.0);
    let from = match (r.opt("from"), kind) {
        (Some(node), _) => read_side(report, node, &r.sub("from")).map(Some),
        (None, Some(WorkloadKind::VirtualService) | None) => Some(None),
        (None, Some(WorkloadKind::Service)) => {
            r.req(report, "from", "{version: blue}");
            None
        }
        (None, Some(_)) => {
            r.req(report, "from", "myapp:1.0");
            None
        }
    };
    let to = match r.opt("to") {
        Some(node) => read_side(report, node, &r.sub("to")).map(Some),
        None if kind == Some(WorkloadKind::Service) => {
            r.req(report, "to", "{version: green}");
            None
        }
        None => Some(None),
    };
    let at = required(report, &mut r, "at", "5m", read_duration);
    let mut kind_ok = true;
    for (key, owner) in KIND_KEYS {
        let (Some(pos), Some(kind)) = (r.key_pos(key), kind) else {
            continue;
        };
        // A Deployment may be a Rollout's `workloadRef`; `load` checks that it is one.
        let provisional = kind == WorkloadKind::Deployment && owner == WorkloadKind::Rollout;
        if kind != owner && !provisional {
            report
                .error(pos, format!("`spec.release.{key}` applies only to a `{}` release", owner.name()))
                .label(format!("this release is a `{}` release", kind.name()))
                .help(format!("remove `{key}`, or release a {0}: `workload: {0}/NAME`", owner.name()));
            kind_ok = false;
        }
    }
    let switch_node = r.opt("switchAt");
    let switch_at = opt_or(report, &mut r, "switchAt", None, |rep, n, p| read_duration(rep, n, p).map(Some));
    let keep_old_for =
        opt_or(report, &mut r, "keepOldFor", None, |rep, n, p| read_duration(rep, n, p).map(Some));
    let steps_path = r.sub("steps");
    let steps = match r.opt("steps") {
        Some(node) => read_mesh_steps(report, node, &steps_path).map(Some),
        None => Some(None),
    };
    let promote_pos = r.key_pos("promoteAfter");
    let promote_after = match (r.opt("promoteAfter"), promote_pos) {
        (Some(node), Some(pos)) => {
            read_dist(report, node, pos, &r.sub("promoteAfter")).map(|d| Some((d, pos)))
        }
        _ => Some(None),
    };
    let inconclusive_pos = r.key_pos("inconclusive");
    let inconclusive = match (r.child(report, "inconclusive"), inconclusive_pos) {
        (Some(f), Some(pos)) => read_inconclusive(report, f).map(|d| Some((d, pos))),
        _ => Some(None),
    };
    // The stand-in of the strategies issue: analyses now run their AnalysisTemplates.
    let removed = r.key_pos("analysisDuration");
    if let Some(pos) = removed {
        report
            .error(pos, "`spec.release.analysisDuration` is no longer read")
            .label("analyses are simulated now, not timed")
            .help(
                "remove it: each analysis runs the AnalysisTemplates the Rollout references, measuring \
                 their Prometheus queries against the simulated metrics; add the templates to this file",
            );
    }
    r.deny_unknown(report);
    if let (Some(Some(switch_at)), Some(at), Some(node), true) = (switch_at, at, switch_node, kind_ok)
        && switch_at < at
    {
        report
            .error(node.pos, "`spec.release.switchAt` is before `spec.release.at`")
            .label(format!(
                "the switch at {} would come before the release at {}",
                format_duration(switch_at),
                format_duration(at)
            ))
            .help("both are times since the replication starts; make `switchAt` at least `at`");
        return None;
    }
    let (kind, workload) = workload?;
    if !kind_ok || removed.is_some() {
        return None;
    }
    Some(ReleaseSpec {
        kind,
        workload,
        from: from?,
        to: to?,
        at: at?,
        switch_at: switch_at?,
        keep_old_for: keep_old_for?,
        steps: steps?,
        promote_after: promote_after?,
        inconclusive: inconclusive?,
    })
}

/// `release.inconclusive: {action: promote|abort, after: DIST}`.
fn read_inconclusive(report: &mut Report, mut f: Fields) -> Option<ManualDecision> {
    let action =
        required(report, &mut f, "action", "abort", |r, n, p| read_choice(r, n, p, &["promote", "abort"]));
    let after = dist_or(report, &mut f, "after", None);
    f.deny_unknown(report);
    Some(ManualDecision { promote: action? == "promote", after: after? })
}

/// `from` / `to`: a string, or a `string: string` map (a Service release's selector).
fn read_side(report: &mut Report, node: &Node, what: &str) -> Option<(SideValue, Pos)> {
    if matches!(node.value, Value::Map(_)) {
        return read_string_map(report, node, what).map(|m| (SideValue::Map(m), node.pos));
    }
    read_string(report, node, what).map(|s| (SideValue::Text(s), node.pos))
}

/// `steps: [{weight: 10, hold: 10m}, ..., {weight: 100}]`.
fn read_mesh_steps(report: &mut Report, node: &Node, path: &str) -> Option<Vec<MeshStep>> {
    const EXAMPLE: &str = "steps: [{weight: 10, hold: 10m}, {weight: 50, hold: 10m}, {weight: 100}]";
    let items = match &node.value {
        Value::Seq(items) if !items.is_empty() => items,
        _ => {
            let found = if matches!(node.value, Value::Seq(_)) {
                "an empty list".to_string()
            } else {
                node.describe()
            };
            report
                .error(node.pos, format!("`{path}` must be a non-empty list of steps, found {found}"))
                .label("expected a list of `{weight, hold}` steps")
                .help(format!("for example `{EXAMPLE}`"));
            return None;
        }
    };
    let mut steps = Vec::new();
    let mut ok = true;
    let last = items.len() - 1;
    for (i, item) in items.iter().enumerate() {
        let Some(mut f) = Fields::new(report, item, item.pos, format!("{path}[{i}]")) else {
            ok = false;
            continue;
        };
        let weight = required(report, &mut f, "weight", "10", |r, n, p| {
            let w = read_count(r, n, p, u64::MAX)?;
            if w > 100 {
                r.error(n.pos, format!("`{p}` is too large, found {w}"))
                    .label("expected a percentage 0..=100")
                    .help("a step's weight is the percent of traffic the new version gets; use 100 for all of it");
                return None;
            }
            Some(w)
        });
        let hold_pos = f.key_pos("hold");
        let hold = opt_or(report, &mut f, "hold", None, |r, n, p| read_positive_duration(r, n, p).map(Some));
        f.deny_unknown(report);
        match (i == last, hold_pos, &hold) {
            (false, None, _) => {
                report
                    .error(item.pos, format!("`{path}[{i}]` needs a `hold`"))
                    .label("every step but the last holds its weight for a while")
                    .help(format!("add e.g. `hold: 10m`; {EXAMPLE}"));
                ok = false;
            }
            (true, Some(pos), _) => {
                report
                    .error(pos, format!("the last step `{path}[{i}]` must not have a `hold`"))
                    .label("the last weight is kept until the end of the simulation")
                    .help("remove `hold` from the last step");
                ok = false;
            }
            _ => {}
        }
        match (weight, hold) {
            (Some(weight), Some(hold)) => steps.push(MeshStep { weight: weight as u32, hold }),
            _ => ok = false,
        }
    }
    ok.then_some(steps)
}

/// `KIND/NAME` → the kind and the name.
fn read_workload(report: &mut Report, node: &Node, what: &str) -> Option<(WorkloadKind, (String, Pos))> {
    let text = read_string(report, node, what)?;
    let kinds: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.name()).collect();
    let choices = list_quoted(&kinds);
    match text.split_once('/') {
        Some((kind, name)) if !name.is_empty() && !name.contains('/') && !kind.is_empty() => {
            if let Some(k) = WorkloadKind::ALL.iter().find(|k| k.name() == kind) {
                return Some((*k, (name.to_string(), node.pos)));
            }
            let exact = WorkloadKind::ALL.iter().find(|k| {
                let n = k.name();
                kind.eq_ignore_ascii_case(n) || kind.eq_ignore_ascii_case(&format!("{n}s"))
            });
            match exact {
                Some(k) => {
                    report
                        .error(
                            node.pos,
                            format!("`{what}` must name the kind exactly as `{}`, found `{kind}`", k.name()),
                        )
                        .label(format!("expected `{}/NAME`", k.name()))
                        .help(format!("write `workload: {}/{name}`", k.name()));
                }
                None => {
                    let help = match did_you_mean(kind, &kinds) {
                        Some(guess) => format!("did you mean `{guess}`? a release names one of {choices}"),
                        None => format!("write `workload: KIND/NAME` with KIND one of {choices}"),
                    };
                    report
                        .error(node.pos, format!("releasing a `{kind}` is not supported yet"))
                        .label(format!("expected one of {choices}"))
                        .help(help);
                }
            }
            None
        }
        _ => {
            let name = text.trim_matches('/');
            report
                .error(
                    node.pos,
                    format!("`{what}` must be `Deployment/NAME` or another `KIND/NAME`, found `{text}`"),
                )
                .label("expected `Deployment/NAME`")
                .help(format!(
                    "write `workload: Deployment/{}` (or a {} instead of Deployment)",
                    if name.is_empty() { "myapp" } else { name },
                    list_quoted(&kinds[1..])
                ));
            None
        }
    }
}

fn read_traffic(report: &mut Report, spec: &mut Fields) -> Option<Traffic> {
    let mut t = spec.req_child(report, "traffic", "{rps: 500}")?;
    t.key_pos("rps"); // list `rps` first among the valid keys
    let pattern_pos = t.key_pos("pattern");
    // A spike's `factor` multiplies the base rate: peek at it (its errors come from the read below).
    let base = t
        .opt("rps")
        .and_then(|n| n.as_scalar())
        .and_then(|s| super::units::parse_number(&s.text).ok())
        .filter(|r| r.is_finite() && *r >= 0.0);
    let pattern = match t.opt("pattern") {
        Some(node) => read_pattern(report, node, pattern_pos.unwrap_or(node.pos), &t.sub("pattern"), base),
        None => Some(RatePattern::Constant),
    };
    let rps = match (t.opt("rps"), &pattern) {
        (Some(node), _) => read_rate(report, node, &t.sub("rps"), 0.0),
        (None, Some(RatePattern::Diurnal { trough, .. })) => Some(*trough),
        (None, _) => {
            t.req(report, "rps", "500");
            None
        }
    };
    // Users are tracked in a bitset per replication: 10^8 users take 12.5 MB.
    let users = opt_or(report, &mut t, "users", 10_000, |r, n, p| positive_count(r, n, p, 100_000_000));
    let timeout = opt_or(report, &mut t, "timeout", 30 * SECOND, read_positive_duration);
    t.deny_unknown(report);
    Some(Traffic {
        rps: rps?,
        pattern: pattern?,
        users: users?,
        timeout: timeout?,
        load_latency: LoadLatency::Fixed,
    })
}

const PATTERN_HELP: &str = "patterns: `{kind: constant}`, `{kind: diurnal, trough: 100, peak: 800, period: 24h}`, `{kind: steps, steps: [{at: 10m, rps: 900}]}`, `{kind: spike, at: 10m, duration: 2m, factor: 3}`";

fn read_pattern(
    report: &mut Report,
    node: &Node,
    at: Pos,
    path: &str,
    base: Option<f64>,
) -> Option<RatePattern> {
    let kinds = ["constant", "diurnal", "steps", "spike"];
    if node.as_scalar().is_some() {
        return match read_choice(report, node, &format!("{path} kind"), &kinds)? {
            "constant" => Some(RatePattern::Constant),
            other => {
                report
                    .error(node.pos, format!("a `{other}` pattern needs parameters"))
                    .label("write it as a mapping")
                    .help(PATTERN_HELP);
                None
            }
        };
    }
    let mut f = Fields::new(report, node, at, path)?;
    let kind =
        required(report, &mut f, "kind", "constant", |r, n, _| read_choice(r, n, "pattern kind", &kinds));
    let pattern = match kind {
        Some("constant") => Some(RatePattern::Constant),
        Some("diurnal") => {
            let trough_node = f.opt("trough");
            let trough = required(report, &mut f, "trough", "100", |r, n, p| read_rate(r, n, p, 0.0));
            let peak = required(report, &mut f, "peak", "800", |r, n, p| read_rate(r, n, p, 0.0));
            let period = required(report, &mut f, "period", "24h", read_positive_duration);
            match (trough, peak, period) {
                (Some(trough), Some(peak), Some(_)) if trough > peak => {
                    report
                        .error(
                            trough_node.map_or(at, |n| n.pos),
                            format!("`{path}.trough` is above the peak"),
                        )
                        .label(format!("{trough} > peak {peak}"))
                        .help("the trough is the lowest rate and the peak the highest");
                    None
                }
                (Some(trough), Some(peak), Some(period)) => {
                    Some(RatePattern::Diurnal { trough, peak, period })
                }
                _ => None,
            }
        }
        Some("spike") => {
            // `rps` during [at, at + duration), the base rate otherwise: two steps.
            let start = required(report, &mut f, "at", "10m", read_duration);
            let length = required(report, &mut f, "duration", "2m", read_positive_duration);
            let factor_node = f.opt("factor");
            let rps_node = f.opt("rps");
            let factor = opt_or(report, &mut f, "factor", None, |r, n, p| {
                read_number(r, n, p, 0.0, false, MAX_RPS).map(Some)
            });
            let rps = opt_or(report, &mut f, "rps", None, |r, n, p| read_rate(r, n, p, 0.0).map(Some));
            let peak = match (factor?, rps?, base) {
                (Some(_), Some(_), _) => {
                    report
                        .error(
                            rps_node.map_or(at, |n| n.pos),
                            format!("`{path}` gives both `factor` and `rps`"),
                        )
                        .label("one of them")
                        .help("`factor: 3` multiplies `traffic.rps`; `rps: 900` sets the spike's rate");
                    None
                }
                (None, None, _) => {
                    report
                        .error(at, format!("`{path}` needs `factor` or `rps`"))
                        .label("a spike without a height")
                        .help("add `factor: 3` (times `traffic.rps`) or `rps: 900`");
                    None
                }
                (None, Some(r), _) => Some(r),
                (Some(k), None, Some(b)) if k * b <= MAX_RPS => Some(k * b),
                (Some(k), None, Some(b)) => {
                    report
                        .error(
                            factor_node.map_or(at, |n| n.pos),
                            format!("`{path}.factor` makes the rate too large"),
                        )
                        .label(format!("{k} × {b} rps is above {MAX_RPS}"))
                        .help("use a smaller factor, or `rps`");
                    None
                }
                // No readable base rate: `traffic.rps` reports its own error.
                (Some(_), None, None) => None,
            };
            match (start?, length?, peak?, base) {
                (start, length, peak, Some(b)) => Some(RatePattern::Steps {
                    steps: vec![
                        RateStep { at: start, rps: peak },
                        RateStep { at: start.saturating_add(length), rps: b },
                    ],
                }),
                (_, _, _, None) => None,
            }
        }
        Some(_) => {
            let steps_path = f.sub("steps");
            required(report, &mut f, "steps", "[{at: 10m, rps: 900}]", |r, n, _| {
                read_steps(r, n, &steps_path)
            })
            .map(|steps| RatePattern::Steps { steps })
        }
        None => {
            for key in ["trough", "peak", "period", "steps", "at", "duration", "factor", "rps"] {
                f.opt(key);
            }
            None
        }
    };
    f.deny_unknown(report);
    pattern
}

fn read_steps(report: &mut Report, node: &Node, path: &str) -> Option<Vec<RateStep>> {
    let items = match &node.value {
        Value::Seq(items) if !items.is_empty() => items,
        Value::Seq(_) => {
            report
                .error(node.pos, format!("`{path}` is empty"))
                .label("expected at least one step")
                .help(PATTERN_HELP);
            return None;
        }
        _ => {
            report
                .error(node.pos, format!("`{path}` must be a list, found {}", node.describe()))
                .label("expected a list of `{at, rps}` steps")
                .help(PATTERN_HELP);
            return None;
        }
    };
    let mut steps: Vec<(RateStep, Pos)> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some(mut f) = Fields::new(report, item, item.pos, format!("{path}[{i}]")) else {
            ok = false;
            continue;
        };
        let at_node = f.opt("at");
        let at = required(report, &mut f, "at", "10m", read_duration);
        let rps = required(report, &mut f, "rps", "900", |r, n, p| read_rate(r, n, p, 0.0));
        f.deny_unknown(report);
        match (at, rps) {
            (Some(at), Some(rps)) => steps.push((RateStep { at, rps }, at_node.map_or(item.pos, |n| n.pos))),
            _ => ok = false,
        }
    }
    steps.sort_by_key(|(s, _)| s.at);
    for pair in steps.windows(2) {
        if pair[0].0.at == pair[1].0.at {
            let (first, second) = (pair[0].1, pair[1].1);
            let (first, second) = if first <= second { (first, second) } else { (second, first) };
            report
                .error(second, format!("two steps of `{path}` are at {}", format_duration(pair[1].0.at)))
                .label("same `at` as another step")
                .help(format!("the other step is on line {}; give each step its own time", first.line));
            ok = false;
        }
    }
    ok.then(|| steps.into_iter().map(|(s, _)| s).collect())
}

fn read_versions(report: &mut Report, spec: &mut Fields) -> Option<BTreeMap<String, VersionProfile>> {
    let node =
        spec.req(report, "versions", "{myapp:1.0: {errorRate: 0.001}, myapp:2.0: {errorRate: 0.001}}")?;
    let Some(entries) = node.as_map() else {
        report
            .error(
                node.pos,
                format!(
                    "`spec.versions` must be a mapping from image to behaviour, found {}",
                    node.describe()
                ),
            )
            .label("expected `IMAGE: {errorRate: ..., latency: ...}` entries")
            .help("for example `versions: {myapp:1.0: {errorRate: 0.001}}`");
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in entries {
        let image = key.key_text();
        if image.is_empty() {
            report.error(key.pos, "a version needs an image name").label("expected e.g. `myapp:1.0`");
            ok = false;
            continue;
        }
        match read_version(report, value, key.pos, &format!("spec.versions[\"{image}\"]")) {
            Some(profile) => {
                out.insert(image.to_string(), profile);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_version(report: &mut Report, node: &Node, at: Pos, path: &str) -> Option<VersionProfile> {
    let mut f = Fields::new(report, node, at, path)?;
    let error_rate = opt_or(report, &mut f, "errorRate", 0.0, read_ratio);
    let default_latency = Latency { p50: 50 * MILLISECOND, p99: 250 * MILLISECOND };
    let latency = match f.child(report, "latency") {
        Some(mut l) => {
            let latency = read_latency(report, &mut l, Some(default_latency));
            l.deny_unknown(report);
            latency
        }
        None => Some(default_latency),
    };
    let faults = match f.opt("faults") {
        Some(list) => read_faults(report, list, &f.sub("faults")),
        None => Some(Vec::new()),
    };
    f.deny_unknown(report);
    Some(VersionProfile { error_rate: error_rate?, latency: latency?, faults: faults? })
}

/// `p50` and `p99`, each defaulting to `defaults` (if given), with p99 ≥ p50.
fn read_latency(report: &mut Report, f: &mut Fields, defaults: Option<Latency>) -> Option<Latency> {
    let p50 = match defaults {
        Some(d) => opt_or(report, f, "p50", d.p50, read_positive_duration),
        None => required(report, f, "p50", "200ms", read_positive_duration),
    };
    let p99_node = f.opt("p99");
    let p99 = match defaults {
        Some(d) => opt_or(report, f, "p99", d.p99, read_positive_duration),
        None => required(report, f, "p99", "2s", read_positive_duration),
    };
    let (p50, p99) = (p50?, p99?);
    if p99 < p50 {
        let pos = p99_node.or(f.opt("p50")).map_or(Pos::default(), |n| n.pos);
        report
            .error(pos, format!("`{}` must be at least `p50`", f.sub("p99")))
            .label(format!("p99 {} is below p50 {}", format_duration(p99), format_duration(p50)))
            .help("the 99th percentile of a latency cannot be below its median");
        return None;
    }
    Some(Latency { p50, p99 })
}

fn read_faults(report: &mut Report, node: &Node, path: &str) -> Option<Vec<Fault>> {
    let Value::Seq(items) = &node.value else {
        report
            .error(node.pos, format!("`{path}` must be a list, found {}", node.describe()))
            .label("expected a list of faults")
            .help("for example `faults: [{kind: errors, rate: 0.05}]`");
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_fault(report, item, &format!("{path}[{i}]")) {
            Some(fault) => out.push(fault),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

const FAULT_KINDS: [&str; 6] = ["errors", "latency", "crashAtStart", "crashAfter", "overload", "userErrors"];

fn read_fault(report: &mut Report, node: &Node, path: &str) -> Option<Fault> {
    let mut f = Fields::new(report, node, node.pos, path)?;
    let kind =
        required(report, &mut f, "kind", "errors", |r, n, _| read_choice(r, n, "fault kind", &FAULT_KINDS));
    let rate = |report: &mut Report, f: &mut Fields| required(report, f, "rate", "0.05", read_ratio);
    let kind = match kind {
        Some("errors") => rate(report, &mut f).map(|rate| FaultKind::Errors { rate }),
        Some("latency") => read_latency(report, &mut f, None).map(|latency| FaultKind::Latency { latency }),
        Some("crashAtStart") => Some(FaultKind::CrashAtStart),
        Some("crashAfter") => {
            dist_or(report, &mut f, "uptime", None).map(|uptime| FaultKind::CrashAfter { uptime })
        }
        Some("overload") => {
            let above = required(report, &mut f, "aboveRps", "80", |r, n, p| read_rate(r, n, p, 0.0));
            let rate = rate(report, &mut f);
            above.zip(rate).map(|(above_rps, rate)| FaultKind::ErrorsAboveLoad { above_rps, rate })
        }
        Some(_) => {
            let users = required(report, &mut f, "users", "10%", read_ratio);
            let rate = opt_or(report, &mut f, "rate", 1.0, read_ratio);
            users.zip(rate).map(|(fraction, rate)| FaultKind::ErrorsForUsers { fraction, rate })
        }
        None => {
            for key in ["rate", "p50", "p99", "uptime", "aboveRps", "users"] {
                f.opt(key);
            }
            None
        }
    };
    let after = opt_or(report, &mut f, "after", 0, read_duration);
    let anchor = opt_or(report, &mut f, "from", FaultAnchor::PodStart, |r, n, p| {
        read_choice(r, n, p, &["podStart", "release"])
            .map(|c| if c == "release" { FaultAnchor::Release } else { FaultAnchor::PodStart })
    });
    let ramp =
        opt_or(report, &mut f, "ramp", None, |r, n, p| read_duration(r, n, p).map(|t| (t > 0).then_some(t)));
    f.deny_unknown(report);
    Some(Fault { kind: kind?, after: after?, anchor: anchor?, ramp: ramp? })
}

/// The most workers `pods.concurrency` may give one pod (the Erlang-C recursion is linear in it).
const MAX_CONCURRENCY: u64 = 100_000;

fn read_pods(report: &mut Report, spec: &mut Fields) -> Option<(PodTiming, LoadLatency)> {
    let mut p = spec.req_child(report, "pods", "{startup: 20s, capacityRps: 100}")?;
    let scheduling = dist_or(report, &mut p, "scheduling", Some(DurationDist::Fixed(SECOND)));
    let cold_default = DurationDist::LogNormal { median: 10 * SECOND, p99: 40 * SECOND };
    let warm_default = DurationDist::Fixed(500 * MILLISECOND);
    let image_pull = match p.child(report, "imagePull") {
        Some(mut pull) => {
            let cold = dist_or(report, &mut pull, "cold", Some(cold_default));
            let warm = dist_or(report, &mut pull, "warm", Some(warm_default));
            pull.deny_unknown(report);
            cold.zip(warm)
        }
        None => Some((cold_default, warm_default)),
    };
    let startup = dist_or(report, &mut p, "startup", None);
    // Capacity is counted per aligned second, so a pod must take at least one request a second.
    let capacity = required(report, &mut p, "capacityRps", "100", |r, n, w| read_rate(r, n, w, 1.0));
    let removal = opt_or(report, &mut p, "endpointRemovalDelay", SECOND, read_duration);
    let shutdown = dist_or(report, &mut p, "shutdown", Some(DurationDist::Fixed(2 * SECOND)));
    let drain = opt_or(report, &mut p, "drainOnSigterm", true, read_bool);
    // Millicores per request per second, for a HorizontalPodAutoscaler's CPU utilisation.
    let cpu = opt_or(report, &mut p, "cpuPerRequest", None, |r, n, w| {
        read_number(r, n, w, 0.0, true, 1e6).map(Some)
    });
    // Latency under load: `fixed` (the default) or an M/M/c `queueing` model.
    let model = opt_or(report, &mut p, "latencyModel", "fixed", |r, n, w| {
        read_choice(r, n, w, &["fixed", "queueing"])
    });
    let concurrency_node = p.opt("concurrency");
    let concurrency = opt_or(report, &mut p, "concurrency", None, |r, n, w| {
        positive_count(r, n, w, MAX_CONCURRENCY).map(|c| Some(c as u32))
    });
    let load_latency = match (model?, concurrency?) {
        ("queueing", c) => LoadLatency::Queueing { concurrency: c.unwrap_or(1) },
        (_, Some(_)) => {
            let at = concurrency_node.map(|n| n.pos)?;
            report
                .error(at, "`pods.concurrency` is read only by the queueing latency model".to_string())
                .label("no queue under `latencyModel: fixed`")
                .help("add `latencyModel: queueing`, or remove `concurrency`");
            return None;
        }
        _ => LoadLatency::Fixed,
    };
    p.deny_unknown(report);
    let (image_pull_cold, image_pull_warm) = image_pull?;
    Some((
        PodTiming {
            scheduling: scheduling?,
            image_pull_cold,
            image_pull_warm,
            startup: startup?,
            capacity_rps: capacity?,
            endpoint_removal_delay: removal?,
            shutdown: shutdown?,
            refuse_after_sigterm: drain?,
            cpu_per_request: cpu?,
        },
        load_latency,
    ))
}

fn read_cluster(report: &mut Report, spec: &mut Fields) -> Option<ClusterSpec> {
    let mut c = spec.req_child(report, "cluster", "{nodes: 4, nodeCapacity: {cpu: \"8\", memory: 32Gi}}")?;
    let nodes = required(report, &mut c, "nodes", "4", |r, n, p| positive_count(r, n, p, MAX_NODES));
    let capacity = c.req_child(report, "nodeCapacity", "{cpu: \"8\", memory: 32Gi}").and_then(|mut cap| {
        let cpu = required(report, &mut cap, "cpu", "\"8\"", |r, n, p| {
            let v = read_cpu(r, n, p)?;
            nonzero(r, n, p, v)
        });
        let memory = required(report, &mut cap, "memory", "32Gi", |r, n, p| {
            let v = read_memory(r, n, p)?;
            nonzero(r, n, p, v)
        });
        cap.deny_unknown(report);
        cpu.zip(memory)
    });
    c.deny_unknown(report);
    let (node_cpu_millis, node_memory_bytes) = capacity?;
    Some(ClusterSpec { nodes: nodes? as u32, node_cpu_millis, node_memory_bytes })
}

fn nonzero(report: &mut Report, node: &Node, what: &str, value: u64) -> Option<u64> {
    if value == 0 {
        report
            .error(node.pos, format!("`{what}` must be more than 0"))
            .label("a node with no capacity can run no pod");
        return None;
    }
    Some(value)
}

fn read_slo(report: &mut Report, spec: &mut Fields) -> Option<Slo> {
    let mut s = spec.req_child(report, "slo", "{objective: 99.9%, window: 30d}")?;
    let objective = required(report, &mut s, "objective", "99.9%", |r, n, p| {
        let objective = read_ratio(r, n, p)?;
        if objective >= 1.0 || objective <= 0.0 {
            r.error(n.pos, format!("`{p}` must be between 0% and 100%, exclusive"))
                .label(if objective >= 1.0 {
                    "an objective of 100% leaves no error budget"
                } else {
                    "an objective of 0% allows every request to fail"
                })
                .help("typical objectives are `99.9%`, `99.5%` or `99%`");
            return None;
        }
        Some(objective)
    });
    let window = required(report, &mut s, "window", "30d", read_positive_duration);
    s.deny_unknown(report);
    Some(Slo { objective: objective?, window: window? })
}

fn read_detection(report: &mut Report, spec: &mut Fields) -> Option<Detection> {
    let Some(mut d) = spec.child(report, "detection") else {
        return Some(Detection { on_progress_deadline: true });
    };
    // The built-in burn-rate detector's keys: detection now comes from PrometheusRules.
    for key in ["burnRate", "longWindow", "shortWindow", "evaluationInterval"] {
        if let Some(n) = d.opt(key) {
            report
                .error(n.pos, format!("`spec.detection.{key}` belonged to the built-in burn-rate detector, which is gone"))
                .label("alerts now come from PrometheusRule documents evaluated by simulated Prometheus")
                .help("add a PrometheusRule; `rollsim slo-rules --name NAME --selector 'app=\"NAME\"'` writes the SRE Workbook's multiwindow burn-rate rules");
        }
    }
    let on_deadline = opt_or(report, &mut d, "onProgressDeadline", true, read_bool);
    for key in ["burnRate", "longWindow", "shortWindow", "evaluationInterval"] {
        d.opt(key);
    }
    d.deny_unknown(report);
    Some(Detection { on_progress_deadline: on_deadline? })
}

const ALERT_ACTIONS: [&str; 3] = ["rollback", "page", "none"];

fn read_monitoring(report: &mut Report, spec: &mut Fields) -> Option<MonitoringSpec> {
    let mut out = MonitoringSpec {
        scrape_interval: 15 * SECOND,
        evaluation_interval: 15 * SECOND,
        scrape_offset: None,
        evaluation_offset: None,
        counters: CounterInit::Lazy,
        group_wait: 30 * SECOND,
        on_alert: Vec::new(),
    };
    let Some(mut m) = spec.child(report, "monitoring") else {
        return Some(out);
    };
    let scrape = opt_or(report, &mut m, "scrapeInterval", out.scrape_interval, read_positive_duration);
    let evaluation =
        opt_or(report, &mut m, "evaluationInterval", out.evaluation_interval, read_positive_duration);
    let offset = |report: &mut Report, m: &mut Fields, key: &'static str| match m.opt(key) {
        Some(n) => read_duration(report, n, &m.sub(key)).map(|t| Some((t, n.pos))),
        None => Some(None),
    };
    let scrape_offset = offset(report, &mut m, "scrapeOffset");
    let evaluation_offset = offset(report, &mut m, "evaluationOffset");
    let counters = opt_or(report, &mut m, "counters", CounterInit::Lazy, |r, n, p| {
        read_choice(r, n, p, &["lazy", "zero"])
            .map(|c| if c == "zero" { CounterInit::Zero } else { CounterInit::Lazy })
    });
    let group_wait = match m.child(report, "alertmanager") {
        Some(mut a) => {
            let wait = opt_or(report, &mut a, "groupWait", out.group_wait, read_duration);
            a.deny_unknown(report);
            wait
        }
        None => Some(out.group_wait),
    };
    let on_alert = match m.opt("onAlert") {
        Some(node) => read_alert_routes(report, node, &m.sub("onAlert")),
        None => Some(Vec::new()),
    };
    m.deny_unknown(report);
    out.scrape_interval = scrape?;
    out.evaluation_interval = evaluation?;
    out.scrape_offset = scrape_offset?;
    out.evaluation_offset = evaluation_offset?;
    out.counters = counters?;
    out.group_wait = group_wait?;
    out.on_alert = on_alert?;
    Some(out)
}

/// `onAlert: [{alert: HighErrorRate, action: rollback}, {alert: "*", action: page}]`.
fn read_alert_routes(report: &mut Report, node: &Node, path: &str) -> Option<Vec<(AlertRoute, Pos)>> {
    let Value::Seq(items) = &node.value else {
        report
            .error(node.pos, format!("`{path}` must be a list, found {}", node.describe()))
            .label("expected a list of `{alert, action}` routes")
            .help("for example `onAlert: [{alert: HighErrorRate, action: rollback}, {alert: \"*\", action: page}]`");
        return None;
    };
    let mut routes = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some(mut f) = Fields::new(report, item, item.pos, format!("{path}[{i}]")) else {
            ok = false;
            continue;
        };
        let alert_node = f.opt("alert");
        let alert = required(report, &mut f, "alert", "HighErrorRate", read_string);
        let action =
            required(report, &mut f, "action", "rollback", |r, n, p| read_choice(r, n, p, &ALERT_ACTIONS));
        f.deny_unknown(report);
        let action = match action {
            Some("rollback") => Some(AlertAction::Rollback),
            Some("page") => Some(AlertAction::Page),
            Some(_) => Some(AlertAction::None),
            None => None,
        };
        match (alert, action, alert_node) {
            (Some(alert), Some(action), Some(n)) => routes.push((AlertRoute { alert, action }, n.pos)),
            _ => ok = false,
        }
    }
    ok.then_some(routes)
}

fn read_rollback(report: &mut Report, spec: &mut Fields) -> Option<RollbackPolicy> {
    let Some(mut r) = spec.child(report, "rollback") else {
        return Some(RollbackPolicy { manual_after: None });
    };
    let manual = match r.child(report, "manual") {
        Some(mut m) => {
            let after = dist_or(report, &mut m, "after", None);
            m.deny_unknown(report);
            after.map(Some)
        }
        None => Some(None),
    };
    r.deny_unknown(report);
    Some(RollbackPolicy { manual_after: manual? })
}

fn read_controller(report: &mut Report, spec: &mut Fields) -> Option<ControllerTiming> {
    let Some(mut c) = spec.child(report, "controller") else {
        return Some(ControllerTiming {
            reconcile_latency: 50 * MILLISECOND,
            endpoint_propagation: 500 * MILLISECOND,
        });
    };
    let reconcile = opt_or(report, &mut c, "reconcileLatency", 50 * MILLISECOND, read_duration);
    let propagation = opt_or(report, &mut c, "endpointPropagation", 500 * MILLISECOND, read_duration);
    c.deny_unknown(report);
    Some(ControllerTiming { reconcile_latency: reconcile?, endpoint_propagation: propagation? })
}
