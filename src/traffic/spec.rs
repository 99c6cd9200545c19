//! What the traffic is told: the request rate, the Services, and each version's behaviour.

use crate::engine::{DurationDist, SimTime};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fidelity {
    /// Every request is simulated.
    Request,
    /// Per tick, exact Poisson/Binomial/multinomial draws per pod and status.
    Aggregated,
}

impl Fidelity {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Fidelity::Request => "request",
            Fidelity::Aggregated => "aggregated",
        }
    }
}

/// How a pod's latency depends on its load (`pods.latencyModel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LoadLatency {
    /// `fixed` (the default): the version's latency at any load; requests beyond
    /// `capacityRps` in an aligned second are shed with 503.
    #[default]
    Fixed,
    /// `queueing`: an M/M/c queue of `concurrency` workers serving `capacityRps` in total
    /// ([`super::queue`]); the wait is added to the version's latency, nothing is shed, and
    /// a total above the timeout is a 504.
    Queueing { concurrency: u32 },
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
    /// How latency depends on a pod's load (`pods.latencyModel`, `pods.concurrency`).
    pub load_latency: LoadLatency,
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

/// The subset of a `v1 Service` that the simulator reads.
#[derive(Clone, Debug)]
pub struct ServiceManifest {
    pub name: String,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
}

impl ServiceManifest {
    /// Whether the Service's endpoints include pods with these labels in this namespace. A
    /// Service without a selector gets no endpoints from Kubernetes.
    pub fn selects(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.namespace == namespace
            && !self.selector.is_empty()
            && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}
