//! The Deployment object as the controller reads it, with apps/v1 defaults applied.

use crate::cluster::{Probe, Resources};
use crate::engine::SimTime;
use std::collections::BTreeMap;

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
    /// The `name` of that container (empty when the manifest gives none).
    pub container: String,
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
