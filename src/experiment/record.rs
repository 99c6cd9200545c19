//! What one replication produces: its row of `runs.csv`, its timeline and its event log.

use crate::engine::SimTime;
use serde::{Deserialize, Serialize};

/// How a replication's release ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new version is fully rolled out and available (`DeploymentComplete`).
    Completed,
    /// A rollback finished: the old version fully available, no new pods left.
    RolledBack,
    /// ProgressDeadlineExceeded and nothing rolled back by the end.
    Stalled,
    /// None of the above by the end of the simulated time.
    Running,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::RolledBack => "rolled_back",
            Outcome::Stalled => "stalled",
            Outcome::Running => "running",
        }
    }
}

/// One row of `runs.csv`. Times are seconds from the release start; `None` is written blank.
///
/// Requests are counted exactly once: `requests = succeeded + failed_requests +
/// dropped_requests`. A *failed* request reached a pod that answered with an error (the
/// version's error rate or a fault, a timeout, or killed in flight); a *dropped* request was
/// never served (no Ready endpoint, the pod over capacity, or the pod refusing new work
/// after SIGTERM). Both are failures to the user.
///
/// `runs.csv` reads back into the identical records (floats are written in their shortest
/// round-trip form): `rollsim merge` and `--resume` summarize what they read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub replication: u64,
    pub seed: u64,
    pub outcome: Outcome,
    /// What detected the release and led to its rollback: `alert:NAME` (a PrometheusRule
    /// alert with an action), `analysis:METRIC` (an Argo AnalysisRun), `flagger:CHECK`
    /// (Flagger's checks), `progress_deadline`, or blank.
    pub detected_by: Option<String>,
    pub detected_at_s: Option<f64>,
    /// The new version stops getting traffic (after a rollback).
    pub mitigated_at_s: Option<f64>,
    pub rolled_back_at_s: Option<f64>,
    pub completed_at_s: Option<f64>,
    /// `rolled_back_at_s − detected_at_s`.
    pub time_to_rollback_s: Option<f64>,
    pub requests: u64,
    pub succeeded_requests: u64,
    pub failed_requests: u64,
    pub dropped_requests: u64,
    /// Requests served by a pod of the new version.
    pub new_version_requests: u64,
    /// Failed or dropped on (or by) a pod of the new version.
    pub bad_requests: u64,
    /// Failed plus dropped, minus what the old version's own error rate would have failed
    /// for the same requests (its expectation); negative when the release did better.
    pub excess_failed_requests: f64,
    /// Users who saw at least one failure from the new version.
    pub users_affected: u64,
    /// `excess_failed_requests` as a percentage of the SLO window's error budget at the
    /// simulated mean request rate.
    pub error_budget_pct: f64,
    /// Most pods holding node resources at once, from the release on.
    pub peak_pods: u64,
    /// Pod-seconds above the desired replicas, from the release on.
    pub extra_pod_seconds: f64,
    /// `(peak_pods − replicas) / replicas × 100`.
    pub overhead_pct: f64,
    /// Fewest Ready pods behind the Service at once, from the release on.
    pub min_ready_pods: u64,
    /// 1 if the release was rolled back although the new version has no fault (no injected
    /// fault, and an error rate no higher than the old version's), else 0.
    pub false_alarm: u64,
    /// Alerts that fired from the release on (pending → firing transitions, any rule, any
    /// label set).
    pub alerts_fired: u64,
}

/// One row of `timeline.csv`: the state of one version at one tick (tidy format).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineRow {
    /// Seconds since the release started (negative before it).
    pub time_s: f64,
    pub version: String,
    /// Desired pods (`spec.replicas` of the version's ReplicaSets).
    pub pods_desired: u64,
    /// Pods Ready.
    pub pods_ready: u64,
    /// Share of the tick's requests that this version served (0..=1): the actual share.
    pub traffic_share: f64,
    /// The share the configuration intends for this version at the end of the tick (0..=1):
    /// the router's weights (Istio, Flagger, a traffic-routed Rollout), the `setWeight` of a
    /// replica-based Rollout, the Service selector's side; for a plain Service, the version's
    /// share of the Ready endpoints (what kube-proxy balances over).
    pub intended_share: f64,
    /// Requests per second to this version during the tick.
    pub request_rps: f64,
    /// Failed or dropped requests per second on this version during the tick.
    pub error_rps: f64,
    /// On an alert's row (`version` is `PrometheusRule/NAME/ALERT`, written at each of its
    /// group's evaluations, pod and traffic columns 0): the value the alert compares (the
    /// left side of `… > 0.1`, the largest over its series), blank when the query returned
    /// nothing.
    pub alert_value: Option<f64>,
    /// On an alert's row: the number it is compared with.
    pub alert_threshold: Option<f64>,
    /// On an alert's row: the rule's state after this evaluation, the most advanced over its
    /// label sets: `inactive`, `pending` or `firing`.
    pub alert_state: Option<&'static str>,
}

/// One line of the event log, as Kubernetes would record it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEvent {
    #[serde(skip)]
    pub time: SimTime,
    /// Seconds since the replication started.
    pub time_s: f64,
    /// `Deployment/myapp`, `ReplicaSet/myapp-6d4b`, `Pod/myapp-6d4b-x7k2p`, `Simulation`.
    pub object: String,
    /// `ScalingReplicaSet`, `Ready`, `ProgressDeadlineExceeded`, `Detected`, …
    pub reason: String,
    pub message: String,
}

/// Extremes of the Deployment's pod counts from the release on, as its controller counts
/// them (terminating pods excluded): what the rolling-update guarantees are about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodExtremes {
    /// Most non-terminating pods at once (the controller keeps it ≤ replicas + maxSurge).
    pub max_active: u64,
    /// Fewest available pods at once (kept ≥ replicas − maxUnavailable unless pods fail).
    pub min_available: u64,
}

/// Everything one replication produced.
#[derive(Clone, Debug)]
pub struct ReplicationResult {
    pub record: RunRecord,
    pub extremes: PodExtremes,
    /// Filled only when the runner asks for it (one replication per run).
    pub timeline: Vec<TimelineRow>,
    /// Filled only when the runner asks for it (`rollsim trace`).
    pub trace: Vec<TraceEvent>,
    /// Simulated Prometheus's samples, kept only for `rollsim query`.
    pub store: Option<crate::telemetry::promql::Store>,
}
