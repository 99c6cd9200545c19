//! The Argo Rollouts controller's decisions, as pure functions (`controllers.md` §2).
//!
//! Everything here mirrors upstream argoproj/argo-rollouts — `utils/replicaset/canary.go`,
//! `utils/replicaset/replicaset.go`, `rollout/canary.go`, `rollout/trafficrouting.go`,
//! `rollout/pause.go`, `rollout/bluegreen.go`, `utils/defaults/defaults.go` — one function per
//! upstream function, so that upstream's unit-test vectors replay one at a time:
//!
//! - [`spec`]: the Rollout as the controller reads it, with Argo's defaults.
//! - [`replicas`]: canary and stable sizes (basic, traffic-routed, dynamicStableScale, abort).
//! - [`steps`]: the step machine, the router weight and its sequencing, the progress deadline.
//! - [`bluegreen`]: preview sizing, the promotion pause and auto-promotion.
//! - [`delays`]: when the previous stable RS, or an aborted canary/preview RS, is scaled down.
//!
//! No time source, no randomness, no I/O: time comes in as `now`, state as views. The
//! controller state machine that strings these together lives elsewhere.
//!
//! Counts are `i64` (upstream: `int32`) so that differences may go negative without wrapping.

pub mod analysis;
pub mod bluegreen;
pub mod condition;
pub mod delays;
pub mod replicas;
pub mod rollout;
pub mod run;
pub mod spec;
pub mod steps;

use super::rolling::RsCounts;
use spec::CanaryStrategy;

/// What the arithmetic may know about one ReplicaSet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsState {
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.replicas`: pods created and not terminating.
    pub replicas: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

impl RsState {
    /// An RS whose pods all exist (`status.replicas == spec`), `available` of them available.
    pub fn new(spec: i64, available: i64) -> Self {
        Self { spec, replicas: spec, available }
    }

    pub fn counts(&self) -> RsCounts {
        RsCounts { spec: self.spec, available: self.available }
    }
}

/// Desired sizes of the canary (new) and stable ReplicaSets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub canary: i64,
    pub stable: i64,
}

/// The router's weights as last written (`status.canary.weights`), in percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficWeights {
    pub canary: i64,
    pub stable: i64,
}

/// The part of `Rollout.status` the canary decisions read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CanaryStatus {
    /// `status.currentStepIndex`; `steps.len()` once every step is done.
    pub step_index: usize,
    /// `status.abort`.
    pub aborted: bool,
    /// `status.promoteFull` (`kubectl argo rollouts promote --full`).
    pub promote_full: bool,
    /// No canary in progress: `status.stableRS` is empty or equals `status.currentPodHash`.
    /// Then the new RS *is* the stable RS and is simply scaled to `spec.replicas`.
    pub stable_is_current: bool,
}

/// Everything one canary decision reads: upstream's `rolloutContext`, reduced to numbers.
#[derive(Clone, Copy, Debug)]
pub struct CanaryView<'a> {
    pub strategy: &'a CanaryStrategy,
    /// `spec.replicas`.
    pub replicas: i64,
    pub status: CanaryStatus,
    /// The RS of the current pod template, if created.
    pub new: Option<RsState>,
    /// The RS named by `status.stableRS`, if any. When it is the new RS itself (see
    /// [`CanaryStatus::stable_is_current`]) pass the same state in both fields.
    pub stable: Option<RsState>,
    /// Every other RS of the Rollout (older revisions).
    pub others: &'a [RsState],
    /// `status.canary.weights` (traffic routing only; `None` before the first write).
    pub weights: Option<TrafficWeights>,
}

impl CanaryView<'_> {
    /// `CheckStableRSExists`: is there a stable RS distinct from the new one to scale?
    pub fn scales_stable(&self) -> bool {
        self.stable.is_some() && !(self.new.is_some() && self.status.stable_is_current)
    }
}
