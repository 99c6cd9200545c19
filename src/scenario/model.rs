//! The validated scenario: what the simulation reads. Built by `load` from the raw YAML
//! documents; every unit is resolved (times in `SimTime` microseconds, CPU in millicores,
//! memory in bytes, percentages as ratios) and every default is filled in.

pub use crate::cluster::{ClusterSpec, PodTiming, Probe, Resources};
pub use crate::controllers::{ControllerTiming, DeploymentManifest, DeploymentStrategy, IntOrPercent};
pub use crate::engine::{DurationDist, SimTime};
pub use crate::telemetry::{Detection, Slo};
pub use crate::traffic::{
    Fault, FaultAnchor, FaultKind, Fidelity, Latency, RatePattern, RateStep, ServiceManifest, Traffic,
    VersionProfile,
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
    pub rollback: RollbackPolicy,
    pub controller: ControllerTiming,
    /// The Deployment that `release.workload` names.
    pub deployment: DeploymentManifest,
    /// Every Service in the file, in file order.
    pub services: Vec<ServiceManifest>,
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

#[derive(Clone, Copy, Debug)]
pub struct RollbackPolicy {
    /// Time from detection until someone runs `kubectl rollout undo`; `None`: nobody does.
    pub manual_after: Option<DurationDist>,
}
