//! The validated scenario: what the simulation reads. Built by `load` from the raw YAML
//! documents; every unit is resolved (times in `SimTime` microseconds, CPU in millicores,
//! memory in bytes, percentages as ratios) and every default is filled in.

pub use crate::cluster::{ClusterSpec, PodTiming, Probe, Resources};
pub use crate::controllers::argo::analysis::{AnalysisMetric, AnalysisRunSpec, MetricProvider};
pub use crate::controllers::{ControllerTiming, DeploymentManifest, DeploymentStrategy, IntOrPercent};
pub use crate::engine::{DurationDist, SimTime};
pub use crate::telemetry::promql::Query;
pub use crate::telemetry::{
    AlertAction, AlertRoute, AlertingRule, CounterInit, Detection, Monitoring, RecordingRule, Rule,
    RuleGroup, Slo,
};
pub use crate::traffic::{
    Fault, FaultAnchor, FaultKind, Fidelity, Latency, LoadLatency, RatePattern, RateStep, ServiceManifest,
    Traffic, VersionProfile,
};
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
    /// Row spacing of `timeline.csv` (`spec.tick`, default 1s). (The `aggregated` fidelity
    /// draws its counts per second and per state change, whatever the tick.)
    pub tick: SimTime,
    pub release: Release,
    pub traffic: Traffic,
    /// Image name (`myapp:1.0`) → its behaviour.
    pub versions: BTreeMap<String, VersionProfile>,
    pub pods: PodTiming,
    pub cluster: ClusterSpec,
    pub slo: Slo,
    pub detection: Detection,
    /// Simulated Prometheus: scrape and evaluation timing, the PrometheusRules' groups, and
    /// what each alert triggers.
    pub monitoring: Monitoring,
    pub rollback: RollbackPolicy,
    pub controller: ControllerTiming,
    /// The workload whose pods run the old version before the release (see [`Strategy`]).
    pub deployment: DeploymentManifest,
    /// Which controller carries out the release.
    pub strategy: Strategy,
    /// Every Service in the file, in file order.
    pub services: Vec<ServiceManifest>,
    /// `spec.variants`: the strategy variants this file defines (each one is this file
    /// loaded with its overrides), for `compare` and `recommend`.
    pub variants: Vec<super::variants::Variant>,
    /// What the file holds that the simulation leaves out (a kind it skips, a Deployment no
    /// part of the release), one sentence each, for `validate` and `run` to show.
    pub notes: Vec<String>,
    /// The HorizontalPodAutoscaler the simulation runs, if any (see [`Autoscaling`]).
    pub autoscaling: Option<Autoscaling>,
    /// FNV-1a (64-bit) of the scenario text and the overrides applied to it, in order: two
    /// runs with the same hash simulate the same input. A run directory's manifest carries
    /// it, so `--resume` and `rollsim merge` can refuse results of a different input.
    pub input_hash: u64,
}

/// A HorizontalPodAutoscaler that runs: it targets the release's Deployment (a rolling or
/// Recreate release) or Rollout, and `pods.cpuPerRequest` says what a request costs.
#[derive(Clone, Debug)]
pub struct Autoscaling {
    /// `HorizontalPodAutoscaler/<name>`.
    pub object: String,
    /// `Deployment/<name>` or `Rollout/<name>`.
    pub target: String,
    pub spec: crate::controllers::hpa::HpaSpec,
    /// Millicores per request per second (`pods.cpuPerRequest`).
    pub cpu_per_request: f64,
    /// `--horizontal-pod-autoscaler-sync-period`: 15 s.
    pub sync_period: SimTime,
}

#[derive(Clone, Debug)]
pub struct Release {
    /// Name of the object `release.workload` names (`myapp` of `Deployment/myapp`,
    /// `Service/myapp`, `Rollout/myapp`, …); its kind is given by [`Scenario::strategy`].
    pub workload: String,
    /// Image running before the release.
    pub from_image: String,
    /// Image after the release.
    pub to_image: String,
    /// When the new template is applied (time since the replication starts).
    pub at: SimTime,
}

#[derive(Clone, Copy, Debug)]
pub struct RollbackPolicy {
    /// Time from detection until someone runs `kubectl rollout undo`; `None`: nobody does.
    pub manual_after: Option<DurationDist>,
}

pub use crate::controllers::argo::spec::RolloutSpec;
pub use crate::controllers::flagger::spec::CanarySpec;
pub use crate::controllers::service_switch::SwitchConfig;

/// How the release is carried out: which controller (or person) moves pods and traffic from
/// `release.from_image` to `release.to_image`.
///
/// In every variant [`Scenario::deployment`] is the workload whose pods run the *old* version
/// before the release: the Deployment (`Deployment`, `Flagger`: the target, which the primary
/// copies), the `from` Deployment of a pair (`ServiceSwitch`, `Mesh`), or the Rollout's pod
/// template presented as a Deployment (`Rollout`: its replicas, labels, resources, probe).
#[derive(Clone, Debug)]
pub enum Strategy {
    /// `release.workload: Deployment/NAME`: the Deployment controller (RollingUpdate or
    /// Recreate) changes the template.
    Deployment,
    /// `release.workload: Service/NAME`: blue-green by Service selector between two
    /// Deployments.
    ServiceSwitch(ServiceSwitchRelease),
    /// `release.workload: VirtualService/NAME`: an Istio weighted split between two
    /// Deployments, each a DestinationRule subset, set by hand (static or `release.steps`).
    Mesh(MeshRelease),
    /// `release.workload: Rollout/NAME`: the Argo Rollouts controller.
    Rollout(RolloutRelease),
    /// `release.workload: Canary/NAME` (or the Canary's target Deployment): Flagger.
    Flagger(FlaggerRelease),
}

/// Blue-green by Service selector.
#[derive(Clone, Debug)]
pub struct ServiceSwitchRelease {
    /// The Service whose selector switches.
    pub service: String,
    /// Both Deployments (names, selector text, replicas), `switchAt` (absolute time) and
    /// `keepOldFor`.
    pub config: SwitchConfig,
    /// The Deployment the release switches to (`to`); [`Scenario::deployment`] is the `from`
    /// one. Its image is `release.to_image`. It is applied at `release.at` (0 pods before) and
    /// brought up to its manifest's `spec.replicas`.
    pub new_deployment: DeploymentManifest,
}

/// A manual Istio weighted canary between two Deployments.
#[derive(Clone, Debug)]
pub struct MeshRelease {
    /// `metadata.name` of the VirtualService.
    pub virtual_service: String,
    /// The DestinationRule subsets of the old and the new version (for the trace).
    pub from_subset: String,
    pub to_subset: String,
    /// The Deployment behind `to_subset`; [`Scenario::deployment`] is behind `from_subset`.
    pub new_deployment: DeploymentManifest,
    /// The new version's weight over time, in percent of the route's total. Without
    /// `release.steps` this is one step: the VirtualService's own split, held forever.
    pub steps: Vec<MeshStep>,
}

/// One manual step: set the new version's weight, then hold it (`None`: the last step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeshStep {
    /// Percent of traffic to the new version (0..=100); the old version gets the rest.
    pub weight: u32,
    pub hold: Option<SimTime>,
}

/// An Argo Rollout.
#[derive(Clone, Debug)]
pub struct RolloutRelease {
    pub name: String,
    /// The Rollout with Argo's defaults applied (validated).
    pub spec: RolloutSpec,
    /// Canary with `trafficRouting.istio`: the VirtualService it writes (`None`: replica-based
    /// canary, or blue-green).
    pub virtual_service: Option<String>,
    /// `release.promoteAfter`: time from an indefinite pause (a `pause: {}` step, or blue-green
    /// with `autoPromotionEnabled: false`) until someone runs `kubectl argo rollouts promote`.
    /// `None`: nobody promotes.
    pub promote_after: Option<DurationDist>,
    /// The AnalysisRuns the Rollout creates, templates resolved.
    pub analyses: RolloutAnalyses,
}

/// The AnalysisRuns a Rollout can create, each with its templates' metrics merged and `args`
/// substituted.
#[derive(Clone, Debug, Default)]
pub struct RolloutAnalyses {
    /// `steps[i].analysis`, by canary step index.
    pub steps: BTreeMap<usize, AnalysisRunSpec>,
    /// `strategy.canary.analysis`: runs in the background from `startingStep` (None: from
    /// the start of the update) until the rollout is fully promoted.
    pub background: Option<(AnalysisRunSpec, Option<usize>)>,
    /// `strategy.blueGreen.prePromotionAnalysis`.
    pub pre_promotion: Option<AnalysisRunSpec>,
    /// `strategy.blueGreen.postPromotionAnalysis`.
    pub post_promotion: Option<AnalysisRunSpec>,
    /// `release.inconclusive`: what someone does when a run ends Inconclusive and the Rollout
    /// pauses (`None`: nobody; it stays paused).
    pub on_inconclusive: Option<ManualDecision>,
}

/// A person's decision on an Inconclusive analysis: `promote` or `abort`, after a while.
#[derive(Clone, Copy, Debug)]
pub struct ManualDecision {
    pub promote: bool,
    pub after: DurationDist,
}

/// A Flagger Canary.
#[derive(Clone, Debug)]
pub struct FlaggerRelease {
    pub spec: CanarySpec,
    /// `analysis.metrics`, in order. A stand-in until metrics are simulated: each check compares
    /// the canary version's true behaviour at the tick with its threshold range.
    pub checks: Vec<FlaggerCheck>,
}

/// One `analysis.metrics` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct FlaggerCheck {
    pub name: String,
    pub kind: FlaggerCheckKind,
    /// `thresholdRange.min` / `.max` (the legacy `threshold` maps to `min` for the success
    /// rate and to `max` otherwise).
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The metric's `interval` (default 1m), the range of the builtin queries.
    pub interval: SimTime,
    /// The PromQL Flagger runs: the builtin query with the Canary's namespace, target and
    /// interval (Istio's; for the `kubernetes` provider the HTTP observer's, whose
    /// `request-duration` is in seconds and which Flagger multiplies by 1000), the
    /// MetricTemplate's `query` rendered with them, or an inline `query`; each with its whitespace
    /// collapsed as Flagger sends it. `None` only in scenarios built by hand.
    pub query: Option<Query>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlaggerCheckKind {
    /// Builtin `request-success-rate`: percent of non-5xx responses (0..=100).
    RequestSuccessRate,
    /// Builtin `request-duration`: p99 latency in milliseconds.
    RequestDuration,
    /// A custom query or MetricTemplate: cannot be evaluated until monitoring lands; passes.
    Custom,
}

impl Scenario {
    /// The object the release acts on and how, in a few words
    /// (`Rollout/myapp (Argo Rollouts canary, Istio VirtualService myapp)`).
    pub fn release_summary(&self) -> String {
        let d = &self.deployment;
        match &self.strategy {
            Strategy::Deployment => {
                let how = match d.strategy {
                    DeploymentStrategy::RollingUpdate { .. } => "rolling update",
                    DeploymentStrategy::Recreate => "Recreate",
                };
                format!("Deployment/{} ({how})", d.name)
            }
            Strategy::ServiceSwitch(r) => format!(
                "Service/{} (blue-green by selector: {} → {})",
                r.service, r.config.old.name, r.config.new.name
            ),
            Strategy::Mesh(r) => format!(
                "VirtualService/{} (Istio split by hand: subset {} → {}, {} step{})",
                r.virtual_service,
                r.from_subset,
                r.to_subset,
                r.steps.len(),
                if r.steps.len() == 1 { "" } else { "s" }
            ),
            Strategy::Rollout(r) => {
                let how = match (&r.spec.strategy, &r.virtual_service) {
                    (crate::controllers::argo::spec::RolloutStrategy::BlueGreen(_), _) => {
                        "Argo Rollouts blue-green".to_string()
                    }
                    (_, Some(vs)) => format!("Argo Rollouts canary, Istio VirtualService {vs}"),
                    (_, None) => "Argo Rollouts canary by replicas".to_string(),
                };
                format!("Rollout/{} ({how})", r.name)
            }
            Strategy::Flagger(r) => {
                format!("Canary/{} (Flagger, target Deployment/{})", r.spec.name, r.spec.target)
            }
        }
    }
}
