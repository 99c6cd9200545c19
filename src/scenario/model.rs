//! The validated scenario: what the simulation reads. Built by `load` from the raw YAML
//! documents; every unit is resolved (times in `SimTime` microseconds, CPU in millicores,
//! memory in bytes, percentages as ratios) and every default is filled in.

use crate::engine::SimTime;
use std::collections::BTreeMap;

/// One scenario: the user's manifests plus the Simulation document.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `metadata.name` of the Simulation document.
    pub name: String,
    pub seed: u64,
    pub replications: u64,
    /// Simulated time per replication.
    pub duration: SimTime,
    pub fidelity: Fidelity,
    /// Length of one tick: the aggregation step of the `aggregated` fidelity and the row
    /// spacing of `timeline.csv` (`spec.tick`, default 1s).
    pub tick: SimTime,
    pub release: Release,
    pub traffic: Traffic,
    /// Image name (`myapp:1.0`) → its behaviour.
    pub versions: BTreeMap<String, VersionProfile>,
    pub pods: PodTiming,
    pub cluster: ClusterSpec,
    pub slo: Slo,
    pub detection: Detection,
    pub rollback: RollbackPolicy,
    pub controller: ControllerTiming,
    /// The Deployment that `release.workload` names.
    pub deployment: DeploymentManifest,
    /// Every Service in the file, in file order.
    pub services: Vec<ServiceManifest>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fidelity {
    /// Every request is simulated.
    Request,
    /// Per tick, exact Poisson/Binomial/multinomial draws per pod and status.
    Aggregated,
}

#[derive(Clone, Debug)]
pub struct Release {
    /// Name of the Deployment whose template changes (from `Deployment/NAME`).
    pub workload: String,
    /// Image running before the release.
    pub from_image: String,
    /// Image after the release.
    pub to_image: String,
    /// When the new template is applied (time since the replication starts).
    pub at: SimTime,
}

#[derive(Clone, Debug)]
pub struct Traffic {
    /// Base request rate (requests per second); the pattern may override it.
    pub rps: f64,
    pub pattern: RatePattern,
    /// Number of simulated users; each request belongs to one, uniformly.
    pub users: u64,
    /// Requests slower than this fail with 504 (`traffic.timeout`, default 30s).
    pub timeout: SimTime,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RatePattern {
    /// `rps` at all times.
    Constant,
    /// A sinusoid between `trough` and `peak` with the given period; the trough is at t = 0.
    Diurnal { trough: f64, peak: f64, period: SimTime },
    /// `rps` until the first step, then each step's rate from its time on (sorted by `at`).
    Steps { steps: Vec<RateStep> },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStep {
    pub at: SimTime,
    pub rps: f64,
}

#[derive(Clone, Debug)]
pub struct VersionProfile {
    /// Probability that a request fails (500) with no fault active.
    pub error_rate: f64,
    pub latency: Latency,
    pub faults: Vec<Fault>,
}

/// Log-normal request latency fitted to a median and a 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub p50: SimTime,
    pub p99: SimTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Onset: this long after `anchor`.
    pub after: SimTime,
    pub anchor: FaultAnchor,
    /// If set, the fault's strength rises linearly from 0 to full over this long after onset.
    pub ramp: Option<SimTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAnchor {
    /// Measured from the pod's container start (the default).
    PodStart,
    /// Measured from the release (`release.at`).
    Release,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// `{kind: errors, rate: 0.05}`: an extra error probability per request.
    Errors { rate: f64 },
    /// `{kind: latency, p50: 200ms, p99: 2s}`: the latency profile is replaced.
    Latency { latency: Latency },
    /// `{kind: crashAtStart}`: the container exits right after starting; never Ready.
    CrashAtStart,
    /// `{kind: crashAfter, uptime: 30m}`: the container is killed (OOM-style) after this
    /// much uptime, drawn per container start.
    CrashAfter { uptime: DurationDist },
    /// `{kind: overload, aboveRps: 80, rate: 0.5}`: requests fail with `rate` while the pod
    /// receives more than `aboveRps`.
    ErrorsAboveLoad { above_rps: f64, rate: f64 },
    /// `{kind: userErrors, users: 0.1, rate: 1.0}`: only this fraction of users (the same
    /// users throughout a replication) see errors with `rate`.
    ErrorsForUsers { fraction: f64, rate: f64 },
}

/// A random duration: fixed, or log-normal from its median and 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DurationDist {
    Fixed(SimTime),
    LogNormal { median: SimTime, p99: SimTime },
}

/// How long the steps of a pod's life take.
#[derive(Clone, Debug)]
pub struct PodTiming {
    /// Scheduling latency once a node has room (`pods.scheduling`, default fixed 1s).
    pub scheduling: DurationDist,
    /// Image pull on a node that has never pulled the image (`pods.imagePull.cold`, default
    /// log-normal median 10s, p99 40s).
    pub image_pull_cold: DurationDist,
    /// Image pull on a node that has the image (`pods.imagePull.warm`, default fixed 500ms).
    pub image_pull_warm: DurationDist,
    /// Container start until the process listens (`pods.startup`).
    pub startup: DurationDist,
    /// Requests per second one pod serves; load beyond this fails with 503.
    pub capacity_rps: f64,
    /// After deletion, how long until the pod leaves the Service's endpoints
    /// (`pods.endpointRemovalDelay`, default 1s).
    pub endpoint_removal_delay: SimTime,
    /// How long the application takes to drain and exit after SIGTERM
    /// (`pods.shutdown`, default fixed 2s). If longer than the grace period, SIGKILL
    /// cuts it short and requests in flight fail.
    pub shutdown: DurationDist,
    /// Whether the application stops accepting new requests on SIGTERM
    /// (`pods.drainOnSigterm`, default true: it finishes in-flight requests and refuses new
    /// ones; a request routed to it after SIGTERM fails).
    pub refuse_after_sigterm: bool,
}

#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub nodes: u32,
    pub node_cpu_millis: u64,
    pub node_memory_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct Slo {
    /// As a ratio: 99.9% → 0.999.
    pub objective: f64,
    pub window: SimTime,
}

/// The built-in detector (until the monitoring issue replaces it): the SRE Workbook's
/// multiwindow burn-rate page. Detection when the error ratio over `long_window` AND over
/// `short_window` both exceed `burn_rate × (1 − objective)`, evaluated every
/// `evaluation_interval`; also when the Deployment reports ProgressDeadlineExceeded.
#[derive(Clone, Copy, Debug)]
pub struct Detection {
    pub burn_rate: f64,
    pub long_window: SimTime,
    pub short_window: SimTime,
    pub evaluation_interval: SimTime,
    /// Whether ProgressDeadlineExceeded counts as a detection (default true).
    pub on_progress_deadline: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct RollbackPolicy {
    /// Time from detection until someone runs `kubectl rollout undo`; `None`: nobody does.
    pub manual_after: Option<DurationDist>,
}

#[derive(Clone, Copy, Debug)]
pub struct ControllerTiming {
    /// Delay between a watched change and the controller's sync (`controller.reconcileLatency`,
    /// default 50ms).
    pub reconcile_latency: SimTime,
    /// Delay before an endpoint change reaches the traffic (`controller.endpointPropagation`,
    /// default 500ms).
    pub endpoint_propagation: SimTime,
}

/// The subset of an `apps/v1 Deployment` that the simulator reads, with defaults applied.
#[derive(Clone, Debug)]
pub struct DeploymentManifest {
    pub name: String,
    pub namespace: String,
    pub replicas: u32,
    pub strategy: DeploymentStrategy,
    pub min_ready_seconds: u32,
    /// `None` only if the manifest sets it to something meaning "no deadline" (never, today:
    /// apps/v1 defaults it to 600).
    pub progress_deadline_seconds: Option<u32>,
    pub revision_history_limit: u32,
    pub paused: bool,
    /// Labels of the pod template (without the image).
    pub template_labels: BTreeMap<String, String>,
    /// The image of the (first) container as written in the manifest.
    pub image: String,
    pub requests: Resources,
    pub readiness_probe: Option<Probe>,
    pub termination_grace_period_seconds: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeploymentStrategy {
    RollingUpdate { max_surge: IntOrPercent, max_unavailable: IntOrPercent },
    Recreate,
}

/// Kubernetes' `IntOrString` as used by maxSurge/maxUnavailable: a count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i64),
    /// Whole percent, as written before the `%`.
    Percent(i64),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// A readiness probe; defaults from `SetDefaults_Probe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            initial_delay_seconds: 0,
            period_seconds: 10,
            timeout_seconds: 1,
            success_threshold: 1,
            failure_threshold: 3,
        }
    }
}

/// The subset of a `v1 Service` that the simulator reads.
#[derive(Clone, Debug)]
pub struct ServiceManifest {
    pub name: String,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
}
