//! One pod: its state, its lifecycle steps, and the ReplicaSet controller's deletion order.

use super::{NodeId, PodId, RsId};
use crate::engine::{DurationDist, MINUTE, SECOND, SimRng, SimTime};
use std::cmp::Ordering;

/// kubelet's container restart back-off: 10 s, doubling, at most 5 min (`backOffPeriod`,
/// `MaxContainerBackOff`).
pub const BACKOFF_INITIAL: SimTime = 10 * SECOND;
pub const BACKOFF_MAX: SimTime = 5 * MINUTE;
/// A container that ran this long without exiting has its back-off forgotten (the kubelet's
/// back-off entries expire after twice the maximum).
pub const BACKOFF_RESET_AFTER: SimTime = 2 * BACKOFF_MAX;
/// How long a container with a crash-at-start fault runs before it exits.
pub const CRASH_AT_START_EXIT: SimTime = SECOND;

/// A lifecycle step of one pod, scheduled by the cluster into the world's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodEvent {
    pub pod: PodId,
    /// The pod's epoch when the step was scheduled; a mismatch makes the step stale.
    pub epoch: u32,
    pub step: PodStep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodStep {
    /// The scheduler's binding lands: the kubelet starts pulling the image.
    Bind,
    /// The image is on the node: the container starts.
    Pulled,
    /// The application listens.
    Listening,
    /// A readiness probe runs.
    Probe,
    /// `minReadySeconds` after becoming Ready.
    MinReady,
    /// The container exits on its own (a crash or an OOM kill).
    Crash,
    /// The back-off has passed: the container starts again.
    Restart,
    /// The application exited after SIGTERM.
    Exited,
    /// The grace period is over: SIGKILL.
    Kill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Not started yet (waiting for a node, binding or pulling).
    Creating,
    Running {
        since: SimTime,
    },
    /// Exited; waiting out the CrashLoopBackOff delay.
    BackOff,
    Terminated,
}

/// When a fault begins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Onset {
    pub after: SimTime,
    /// Measured from the release (an absolute time) instead of the pod's first start.
    pub release_at: Option<SimTime>,
}

impl Onset {
    pub fn time(&self, first_start: SimTime) -> SimTime {
        self.release_at.unwrap_or(first_start).saturating_add(self.after)
    }
}

/// How a template's container misbehaves, from its version's faults.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerBehaviour {
    /// Containers started at or after the onset exit right after starting.
    pub crash_at_start: Option<Onset>,
    /// Containers are killed after an uptime drawn per start, not before the onset.
    pub crash_after: Option<(DurationDist, Onset)>,
}

impl ContainerBehaviour {
    pub fn crash_at_start_active(&self, now: SimTime, first_start: SimTime) -> bool {
        self.crash_at_start.is_some_and(|o| now >= o.time(first_start))
    }

    /// When a container started `now` will exit on its own, if it will.
    pub fn crash_at(&self, now: SimTime, first_start: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        if self.crash_at_start_active(now, first_start) {
            return Some(now + CRASH_AT_START_EXIT);
        }
        let (uptime, onset) = self.crash_after?;
        Some((now + uptime.sample(rng)).max(onset.time(first_start)))
    }
}

pub struct Pod {
    pub id: PodId,
    pub rs: RsId,
    pub template: u32,
    /// Creation order across all objects (smaller is older).
    pub created: u64,
    pub created_at: SimTime,
    /// The node reserved by the scheduler (resources held from this moment).
    pub reserved_node: Option<NodeId>,
    /// The node the pod is bound to (`spec.nodeName`), set when the binding lands.
    pub node: Option<NodeId>,
    pub bound_at: SimTime,
    pub pull_cold: bool,
    pub container: ContainerState,
    pub first_started_at: Option<SimTime>,
    pub listening: bool,
    pub ready: bool,
    pub ready_since: SimTime,
    pub available: bool,
    pub deleting: bool,
    /// When the deletion timestamp was set.
    pub deleted_at: SimTime,
    pub gone: bool,
    pub restarts: u32,
    backoff: SimTime,
    /// Consecutive successful readiness probes of the current container.
    pub probe_successes: u32,
    pub epoch: u32,
}

impl Pod {
    pub fn new(id: PodId, rs: RsId, template: u32, created: u64, now: SimTime) -> Self {
        Self {
            id,
            rs,
            template,
            created,
            created_at: now,
            reserved_node: None,
            node: None,
            bound_at: 0,
            pull_cold: false,
            container: ContainerState::Creating,
            first_started_at: None,
            listening: false,
            ready: false,
            ready_since: 0,
            available: false,
            deleting: false,
            deleted_at: 0,
            gone: false,
            restarts: 0,
            backoff: 0,
            probe_successes: 0,
            epoch: 0,
        }
    }

    pub fn event(&self, step: PodStep) -> PodEvent {
        PodEvent { pod: self.id, epoch: self.epoch, step }
    }

    /// Pod phase as the ReplicaSet controller ranks it: Pending until a container ran.
    pub fn is_running_phase(&self) -> bool {
        self.first_started_at.is_some()
    }

    /// The delay before restarting a container that exited at `now` after starting at
    /// `since`: the first restart is immediate, then 10 s, 20 s, … up to 5 min; a container
    /// that ran for `BACKOFF_RESET_AFTER` starts over.
    pub fn next_backoff(&mut self, now: SimTime, since: SimTime) -> SimTime {
        if now.saturating_sub(since) >= BACKOFF_RESET_AFTER {
            self.backoff = 0;
        }
        let delay = self.backoff;
        self.backoff = if self.backoff == 0 { BACKOFF_INITIAL } else { (self.backoff * 2).min(BACKOFF_MAX) };
        delay
    }
}

/// The ReplicaSet controller's order for choosing pods to delete (`ActivePods` Less): the
/// first in this order goes first. Unassigned before assigned; Pending before Running;
/// not Ready before Ready; Ready for less time before more; more restarts before fewer;
/// newer before older.
pub fn deletion_order(a: &Pod, b: &Pod, _now: SimTime) -> Ordering {
    let assigned = |p: &Pod| p.node.is_some();
    assigned(a)
        .cmp(&assigned(b))
        .then_with(|| a.is_running_phase().cmp(&b.is_running_phase()))
        .then_with(|| a.ready.cmp(&b.ready))
        .then_with(|| if a.ready && b.ready { b.ready_since.cmp(&a.ready_since) } else { Ordering::Equal })
        .then_with(|| b.restarts.cmp(&a.restarts))
        .then_with(|| b.created.cmp(&a.created))
}
