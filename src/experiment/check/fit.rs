//! Resource fit: the most pods, CPU and memory a strategy holds at once, during the release
//! and during a rollback, against the cluster's allocatable capacity.
//!
//! Two sources, the worse of which counts: the strategy's own replica rules (the fenceposts of
//! `controllers::rolling` and the Rollout's, the sizes of blue-green and canary pairs), and
//! the peaks the simulated replications measured (which also count terminating pods).

use crate::controllers::argo::spec::{CanaryStep, RolloutStrategy};
use crate::controllers::rolling;
use crate::scenario::{Resources, Scenario, Strategy};
use serde::Serialize;

/// The resource fit of one strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fit {
    /// Pods the strategy's rules allow at once during the release.
    pub planned_release_pods: u64,
    /// Pods its rules allow at once during a rollback from any step.
    pub planned_rollback_pods: u64,
    /// Most pods measured at once in replications that completed (`None`: none did).
    pub measured_release_pods: Option<u64>,
    /// Most pods measured at once in replications that rolled back (`None`: none did).
    pub measured_rollback_pods: Option<u64>,
    /// The worst moment: the largest of the above.
    pub peak_pods: u64,
    /// Requests of one pod (the larger of the old and the new version's, per resource).
    pub pod_requests_cpu_millis: u64,
    pub pod_requests_memory_bytes: u64,
    pub peak_cpu_millis: u64,
    pub peak_memory_bytes: u64,
    pub allocatable_cpu_millis: u64,
    pub allocatable_memory_bytes: u64,
    /// Pods of this size the nodes can hold (per node, the smaller of CPU and memory).
    pub pod_slots: u64,
    /// Whether the worst moment fits on the nodes.
    pub fits: bool,
    /// `(slots − peak) / slots × 100`: negative when it does not fit.
    pub headroom_pct: f64,
}

/// The pods the strategy's rules allow at once: (during the release, during a rollback).
pub fn planned_pods(s: &Scenario) -> (u64, u64) {
    let d = &s.deployment;
    let replicas = i64::from(d.replicas);
    let (release, rollback) = match &s.strategy {
        Strategy::Deployment => {
            // `kubectl rollout undo` is another rolling update under the same fenceposts.
            let n = replicas + rolling::max_surge(&d.strategy, replicas);
            (n, n)
        }
        Strategy::ServiceSwitch(r) => {
            let n = replicas + i64::from(r.new_deployment.replicas);
            (n, n)
        }
        Strategy::Mesh(r) => {
            let n = replicas + i64::from(r.new_deployment.replicas);
            (n, n)
        }
        Strategy::Rollout(r) => {
            let replicas = r.spec.replicas;
            match &r.spec.strategy {
                RolloutStrategy::Canary(c) if c.traffic_routing && !c.dynamic_stable_scale => {
                    // The stable stays whole while the canary grows to its largest weight
                    // (and to all of `replicas` at the full promotion).
                    let canary = c
                        .steps
                        .iter()
                        .filter_map(|st| match st {
                            CanaryStep::SetWeight(w) => Some(*w),
                            _ => None,
                        })
                        .chain([100])
                        .max()
                        .unwrap_or(100);
                    let n = replicas + (replicas * canary + 99) / 100;
                    (n, n)
                }
                RolloutStrategy::Canary(c) => {
                    let (surge, _) = c.fenceposts(replicas);
                    let n = replicas + surge;
                    (n, n)
                }
                RolloutStrategy::BlueGreen(_) => (2 * replicas, 2 * replicas),
            }
        }
        // The primary keeps its replicas while the canary (the target) runs as many.
        Strategy::Flagger(_) => (2 * replicas, 2 * replicas),
    };
    (release.max(0) as u64, rollback.max(0) as u64)
}

/// The per-resource maximum of the old and the new version's pod requests.
pub fn pod_requests(s: &Scenario) -> Resources {
    let old = s.deployment.requests;
    let new = match &s.strategy {
        Strategy::ServiceSwitch(r) => r.new_deployment.requests,
        Strategy::Mesh(r) => r.new_deployment.requests,
        _ => old,
    };
    Resources {
        cpu_millis: old.cpu_millis.max(new.cpu_millis),
        memory_bytes: old.memory_bytes.max(new.memory_bytes),
    }
}

/// The fit, given the measured peaks.
pub fn fit(s: &Scenario, measured_release: Option<u64>, measured_rollback: Option<u64>) -> Fit {
    let (planned_release, planned_rollback) = planned_pods(s);
    let peak = [Some(planned_release), Some(planned_rollback), measured_release, measured_rollback]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    let req = pod_requests(s);
    let c = &s.cluster;
    let nodes = u64::from(c.nodes);
    let per_node = |capacity: u64, request: u64| capacity.checked_div(request).unwrap_or(u64::MAX);
    let per_node =
        per_node(c.node_cpu_millis, req.cpu_millis).min(per_node(c.node_memory_bytes, req.memory_bytes));
    let slots = per_node.saturating_mul(nodes);
    let headroom_pct = if slots == u64::MAX {
        100.0
    } else if slots == 0 {
        -100.0
    } else {
        (slots as f64 - peak as f64) / slots as f64 * 100.0
    };
    Fit {
        planned_release_pods: planned_release,
        planned_rollback_pods: planned_rollback,
        measured_release_pods: measured_release,
        measured_rollback_pods: measured_rollback,
        peak_pods: peak,
        pod_requests_cpu_millis: req.cpu_millis,
        pod_requests_memory_bytes: req.memory_bytes,
        peak_cpu_millis: peak * req.cpu_millis,
        peak_memory_bytes: peak * req.memory_bytes,
        allocatable_cpu_millis: nodes * c.node_cpu_millis,
        allocatable_memory_bytes: nodes * c.node_memory_bytes,
        pod_slots: slots,
        fits: peak <= slots,
        headroom_pct,
    }
}
