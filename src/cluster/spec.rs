//! What the cluster is told: node sizes, pod resource requests, probes and lifecycle timing.

use crate::engine::{DurationDist, SimTime};

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
    /// CPU a pod uses per request per second, in millicores (`pods.cpuPerRequest`): its CPU
    /// usage is this times the requests it handled (served, failed or timed out; not the
    /// ones shed above capacity). Only a HorizontalPodAutoscaler reads it; `None` leaves an
    /// HPA unsimulated.
    pub cpu_per_request: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub nodes: u32,
    pub node_cpu_millis: u64,
    pub node_memory_bytes: u64,
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
