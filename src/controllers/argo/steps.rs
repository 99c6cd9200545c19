//! The canary step machine and the router weight (`controllers.md` §2.2, §2.4, §2.5, §2.9).
//!
//! Upstream keeps one integer, `status.currentStepIndex`, and two readers of it: the replica
//! arithmetic (through [`current_set_weight`]) and the traffic router (through
//! [`router_weight`]). The index moves by at most one per reconcile ([`next_step_index`]),
//! and a weight step only completes once the canary has its pods ([`step_completed`]), so
//! the router can trail the replica counts by one step but never lead them.

use super::replicas::{basic_canary_counts, desired_canary_weight_on_abort, traffic_routed_counts};
use super::spec::{CanaryStep, CanaryStrategy, MAX_WEIGHT, SetCanaryScale};
use super::{CanaryStatus, CanaryView, Counts, RsState};
use crate::engine::SimTime;

/// `GetCurrentCanaryStep`: the step at `status.currentStepIndex`, or `None` when there are no
/// steps or all of them are done.
pub fn current_step<'a>(strategy: &'a CanaryStrategy, status: &CanaryStatus) -> Option<&'a CanaryStep> {
    strategy.steps.get(status.step_index)
}

/// `GetCurrentSetWeight`: the last `setWeight` at or before the current step.
///
/// 0 when aborted (all traffic back to stable) or when no setWeight came yet; 100 once every
/// step is done (and with no steps at all: a canary without steps is a plain rolling update).
pub fn current_set_weight(strategy: &CanaryStrategy, status: &CanaryStatus) -> i64 {
    if status.aborted {
        return 0;
    }
    if current_step(strategy, status).is_none() {
        return MAX_WEIGHT;
    }
    last_set_weight(&strategy.steps[..=status.step_index])
}

/// The weight of the last `setWeight` in `steps`, 0 if none.
fn last_set_weight(steps: &[CanaryStep]) -> i64 {
    steps
        .iter()
        .rev()
        .find_map(|s| match *s {
            CanaryStep::SetWeight(w) => Some(w),
            _ => None,
        })
        .unwrap_or(0)
}

/// The last `setWeight` strictly before step `index`: the weight the router keeps while the
/// canary is not yet at the size of the current step (`reconcileTrafficRouting`).
pub fn previous_set_weight(strategy: &CanaryStrategy, index: usize) -> i64 {
    last_set_weight(&strategy.steps[..index.min(strategy.steps.len())])
}

/// `UseSetCanaryScale`: the `setCanaryScale` in force at the current step, if any.
///
/// Only with traffic routing (the basic canary's pod ratio *is* its traffic split). A later
/// `matchTrafficWeight` cancels an earlier scale. On abort the scale is dropped — the canary
/// goes — unless `abortScaleDownDelaySeconds: 0` asked to keep the canary up.
pub fn set_canary_scale_in_effect(
    strategy: &CanaryStrategy,
    status: &CanaryStatus,
) -> Option<SetCanaryScale> {
    if !strategy.traffic_routing {
        return None;
    }
    if status.aborted && strategy.abort_scale_down().delay.is_some() {
        return None;
    }
    current_step(strategy, status)?;
    let scale = strategy.steps[..=status.step_index].iter().rev().find_map(|s| match *s {
        CanaryStep::SetCanaryScale(scale) => Some(scale),
        _ => None,
    })?;
    (scale != SetCanaryScale::MatchTrafficWeight).then_some(scale)
}

/// What sizes the canary: a fixed replica count or a weight (`GetCanaryReplicasOrWeight`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicasOrWeight {
    Replicas(i64),
    Weight(i64),
}

impl ReplicasOrWeight {
    /// The weight; 0 for a fixed count, as upstream (which returns `(replicas, 0)`).
    pub fn weight(self) -> i64 {
        match self {
            Self::Replicas(_) => 0,
            Self::Weight(w) => w,
        }
    }
}

/// `GetCanaryReplicasOrWeight`: 100% when fully promoting or when there is no canary in
/// progress, else the setCanaryScale in force, else the current setWeight.
pub fn canary_replicas_or_weight(strategy: &CanaryStrategy, status: &CanaryStatus) -> ReplicasOrWeight {
    if status.promote_full || status.stable_is_current {
        return ReplicasOrWeight::Weight(MAX_WEIGHT);
    }
    match set_canary_scale_in_effect(strategy, status) {
        Some(SetCanaryScale::Replicas(n)) => ReplicasOrWeight::Replicas(n),
        Some(SetCanaryScale::Weight(w)) => ReplicasOrWeight::Weight(w),
        _ => ReplicasOrWeight::Weight(current_set_weight(strategy, status)),
    }
}

/// The desired canary/stable sizes of the current step: basic or traffic-routed arithmetic.
pub fn desired_counts(v: &CanaryView) -> Counts {
    if v.strategy.traffic_routing { traffic_routed_counts(v) } else { basic_canary_counts(v) }
}

/// `AtDesiredReplicaCountsForCanary`: has the current step's scaling finished?
///
/// The canary must have exactly its desired pods, all available. The stable must have its
/// desired pods created — not with dynamicStableScale, where it follows the router and is
/// judged there. Without a router, older RSs still serve traffic, so none may be available.
pub fn at_desired_replica_counts(v: &CanaryView) -> bool {
    let desired = desired_counts(v);
    let all_available = |rs: Option<RsState>, n: i64| rs.is_some_and(|rs| rs.spec == n && rs.available == n);
    let all_created = |rs: Option<RsState>, n: i64| rs.is_some_and(|rs| rs.spec == n && rs.replicas == n);
    if !all_available(v.new, desired.canary) {
        return false;
    }
    let routed = v.strategy.traffic_routing;
    if (!routed || !v.strategy.dynamic_stable_scale) && !all_created(v.stable, desired.stable) {
        return false;
    }
    routed || v.others.iter().all(|rs| rs.available == 0)
}

/// Phase of an AnalysisRun, as far as the Rollout reacts to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysisPhase {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

/// What the Rollout does about an analysis (step, background, pre- or post-promotion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysisReaction {
    /// Still running: wait.
    Wait,
    /// Successful: the step (or promotion gate) is passed.
    Proceed,
    /// Failed or Error: abort the rollout.
    Abort,
    /// Inconclusive: pause (reason InconclusiveAnalysis) until a manual promote or abort.
    Pause,
}

/// How a Rollout reacts to an AnalysisRun phase (`controllers.md` §2.2, §2.5).
pub fn analysis_reaction(phase: AnalysisPhase) -> AnalysisReaction {
    match phase {
        AnalysisPhase::Pending | AnalysisPhase::Running => AnalysisReaction::Wait,
        AnalysisPhase::Successful => AnalysisReaction::Proceed,
        AnalysisPhase::Failed | AnalysisPhase::Error => AnalysisReaction::Abort,
        AnalysisPhase::Inconclusive => AnalysisReaction::Pause,
    }
}

/// The state outside the ReplicaSets that step completion reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepContext {
    pub now: SimTime,
    /// `spec.paused` (`kubectl argo rollouts pause`): nothing completes.
    pub paused: bool,
    /// Start of the `CanaryPauseStep` pause condition, if present.
    pub pause_started: Option<SimTime>,
    /// `status.controllerPause`: the controller paused and has not yet seen the resume. It is
    /// true exactly while pause conditions exist, and for the one reconcile after a promote
    /// removed them.
    pub controller_pause: bool,
    /// Phase of the current step's AnalysisRun, if one was created.
    pub analysis: Option<AnalysisPhase>,
    /// `status.canary.weights.verified`; `None` when the router does not verify weights.
    pub weight_verified: Option<bool>,
}

/// `CompletedCanaryPauseStep`.
///
/// Any pause step completes once its condition was removed by a promote while
/// `controllerPause` is still set — a timed one too, before its time. Otherwise a timed pause
/// completes strictly after `start + duration` (Go's `now.After`); it cannot complete before
/// its pause condition exists.
pub fn pause_step_completed(duration: Option<SimTime>, cx: &StepContext) -> bool {
    if cx.controller_pause && cx.pause_started.is_none() {
        return true;
    }
    match (duration, cx.pause_started) {
        (Some(d), Some(start)) => cx.now > start.saturating_add(d),
        _ => false,
    }
}

/// When to reconcile again for a timed pause started at `start`: the first microsecond at
/// which [`pause_step_completed`] holds.
pub fn pause_wake_up(start: SimTime, duration: SimTime) -> SimTime {
    start.saturating_add(duration).saturating_add(1)
}

/// `reconcileCanaryPause`: should this reconcile add the `CanaryPauseStep` condition (with
/// start time `now`)? Only on a pause step, not while the user paused the Rollout, and not
/// when the condition is gone because a promote just removed it.
pub fn pause_condition_to_add(strategy: &CanaryStrategy, status: &CanaryStatus, cx: &StepContext) -> bool {
    let on_pause = matches!(current_step(strategy, status), Some(CanaryStep::Pause { .. }));
    on_pause && !cx.paused && !status.aborted && cx.pause_started.is_none() && !cx.controller_pause
}

/// `completedCurrentCanaryStep`.
///
/// A weight step needs its sizes reached (and the weight verified, where the router can
/// tell); a setCanaryScale step needs its sizes; an analysis step needs a Successful run; a
/// pause step see [`pause_step_completed`]. Nothing completes while the user paused the Rollout.
pub fn step_completed(v: &CanaryView, cx: &StepContext) -> bool {
    if cx.paused {
        return false;
    }
    match current_step(v.strategy, &v.status) {
        None => false,
        Some(CanaryStep::Pause { duration }) => pause_step_completed(*duration, cx),
        Some(CanaryStep::SetCanaryScale(_)) => at_desired_replica_counts(v),
        Some(CanaryStep::SetWeight(_)) => at_desired_replica_counts(v) && cx.weight_verified != Some(false),
        Some(CanaryStep::Analysis { .. }) => cx.analysis == Some(AnalysisPhase::Successful),
    }
}

/// `syncRolloutStatusCanary`: `status.currentStepIndex` after this reconcile.
///
/// A full promotion jumps past the last step. An abort goes back to step 0 — or past the end
/// when the stable is the current template anyway. Otherwise at most one step completes per
/// reconcile, so even a run of instantly-complete steps costs one reconcile each.
pub fn next_step_index(v: &CanaryView, cx: &StepContext) -> usize {
    let len = v.strategy.steps.len();
    let index = v.status.step_index;
    assert!(index <= len, "step index {index} beyond {len} steps");
    if v.status.promote_full && len > 0 {
        return len;
    }
    if v.status.aborted {
        return if len == 0 {
            index
        } else if v.status.stable_is_current {
            len
        } else {
            0
        };
    }
    if step_completed(v, cx) { index + 1 } else { index }
}

/// The step index after the pod template changed (`resetRolloutStatus`): back to step 0, or
/// past every step when the new template is the stable one ("fast-track rollback": going back
/// to what is already running needs no canary).
pub fn index_after_template_change(steps_len: usize, template_is_stable: bool) -> usize {
    if template_is_stable { steps_len } else { 0 }
}

/// `checkReplicasAvailable` on the stable RS: can it serve the `100 − canary_weight` share?
///
/// The stable must have `floor((100 − w)·R/100)` available pods before the router may send it
/// that share; the canary is never checked (its size is the step's own gate).
pub fn stable_can_absorb(replicas: i64, stable_available: i64, canary_weight: i64) -> bool {
    stable_available >= (MAX_WEIGHT - canary_weight) * replicas / MAX_WEIGHT
}

/// `calculateDesiredWeightOnAbortOrStableRollback`: the router weight while aborted.
///
/// Without dynamicStableScale the stable was kept full, so all traffic goes back at once (0).
/// With it, the weight steps down the setWeight ladder ([`desired_canary_weight_on_abort`]) and
/// never rises again (the minimum with the weight in force), so that a flapping stable pod
/// cannot push traffic back to the canary. Once the stable is fully available the weight is 0,
/// whatever the canary still runs (argo-rollouts#4841: a minPodsPerReplicaSet floor on the
/// canary otherwise held the weight up forever). An empty Rollout has nothing to balance.
pub fn abort_router_weight(v: &CanaryView) -> i64 {
    if !v.strategy.dynamic_stable_scale || v.replicas == 0 {
        return 0;
    }
    if v.stable.is_none_or(|s| s.available >= v.replicas) {
        return 0;
    }
    let desired = desired_canary_weight_on_abort(v);
    v.weights.map_or(desired, |w| desired.min(w.canary))
}

/// The router weight of one reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterWeight {
    /// The canary weight `reconcileTrafficRouting` computed.
    pub desired: i64,
    /// Whether it is written. When the stable cannot absorb its share ([`stable_can_absorb`])
    /// the reconcile stops and the router keeps its current weight.
    pub apply: bool,
}

/// `reconcileTrafficRouting`: which canary weight the router should carry now.
///
/// In order: fully promoted → 0 (routes reset; the stable *is* the new RS); aborted →
/// [`abort_router_weight`]; no available canary pod → 0; full promotion → the weight in force
/// (dynamicStableScale: what the canary's available pods can carry); canary not yet at the
/// current step's size → the *previous* setWeight; within the steps → the current setWeight;
/// past the last step → 100 until promotion.
pub fn router_weight(v: &CanaryView) -> RouterWeight {
    let desired = router_desired_weight(v);
    let apply = v.stable.is_none_or(|s| stable_can_absorb(v.replicas, s.available, desired));
    RouterWeight { desired, apply }
}

fn router_desired_weight(v: &CanaryView) -> i64 {
    let st = &v.status;
    let new_available = v.new.map_or(0, |rs| rs.available);
    if st.stable_is_current {
        0
    } else if st.aborted {
        abort_router_weight(v)
    } else if new_available == 0 {
        0
    } else if st.promote_full {
        if v.strategy.dynamic_stable_scale && v.replicas > 0 {
            MAX_WEIGHT * new_available / v.replicas
        } else {
            v.weights.map_or(0, |w| w.canary)
        }
    } else if v.strategy.steps.is_empty() {
        0
    } else if !at_desired_replica_counts(&CanaryView { weights: None, ..*v }) {
        previous_set_weight(v.strategy, st.step_index)
    } else if st.step_index < v.strategy.steps.len() {
        current_set_weight(v.strategy, st)
    } else {
        MAX_WEIGHT
    }
}

/// Whether the progress deadline is evaluated at all (`controllers.md` §2.9).
///
/// Not while waiting is the point: on a pause or analysis step, while the Rollout is paused,
/// while aborted (Progressing reason RolloutAborted), or while older RSs wait out a
/// scale-down deadline.
pub fn progress_deadline_applies(
    current: Option<&CanaryStep>,
    paused: bool,
    aborted: bool,
    awaiting_scale_down: bool,
) -> bool {
    let waiting_step = matches!(current, Some(CanaryStep::Pause { .. } | CanaryStep::Analysis { .. }));
    !(waiting_step || paused || aborted || awaiting_scale_down)
}

/// `RolloutTimedOut`: no progress since `last_update` for longer than `deadline` (strict:
/// exactly at the deadline the rollout is still on time).
pub fn rollout_timed_out(deadline: SimTime, last_update: SimTime, now: SimTime) -> bool {
    last_update.saturating_add(deadline) < now
}

#[cfg(test)]
mod tests {
    use super::super::TrafficWeights;
    use super::*;
    use crate::controllers::spec::IntOrPercent::Int;
    use crate::engine::SECOND;
    use CanaryStep::{Analysis, Pause, SetWeight};

    fn pause(secs: Option<u64>) -> CanaryStep {
        Pause { duration: secs.map(|s| s * SECOND) }
    }

    fn strategy(steps: Vec<CanaryStep>) -> CanaryStrategy {
        CanaryStrategy { steps, ..Default::default() }
    }

    fn at(step_index: usize) -> CanaryStatus {
        CanaryStatus { step_index, ..Default::default() }
    }

    #[test]
    fn current_set_weight_walks_back_to_the_last_set_weight() {
        let s = strategy(vec![pause(None), SetWeight(10), pause(Some(60)), SetWeight(50), pause(None)]);
        // (index, aborted) → weight
        let cases =
            [(0, false, 0), (1, false, 10), (2, false, 10), (3, false, 50), (4, false, 50), (5, false, 100)];
        for (index, aborted, want) in cases {
            let st = CanaryStatus { step_index: index, aborted, ..Default::default() };
            assert_eq!(current_set_weight(&s, &st), want, "index {index}");
        }
        for index in 0..=5 {
            let st = CanaryStatus { step_index: index, aborted: true, ..Default::default() };
            assert_eq!(current_set_weight(&s, &st), 0, "aborted at {index}");
        }
        assert_eq!(current_set_weight(&strategy(vec![]), &at(0)), 100, "no steps: a rolling update");
    }

    #[test]
    fn previous_set_weight_excludes_the_current_step() {
        let s = strategy(vec![SetWeight(10), pause(None), SetWeight(50), pause(None)]);
        let cases = [(0, 0), (1, 10), (2, 10), (3, 50), (4, 50)];
        for (index, want) in cases {
            assert_eq!(previous_set_weight(&s, index), want, "index {index}");
        }
    }

    #[test]
    fn canary_replicas_or_weight_precedence() {
        use SetCanaryScale::{MatchTrafficWeight, Replicas, Weight};
        let routed = |steps| CanaryStrategy { steps, traffic_routing: true, ..Default::default() };
        let st = |i| at(i);
        let cases = [
            (
                routed(vec![SetWeight(20), CanaryStep::SetCanaryScale(Replicas(3))]),
                st(1),
                ReplicasOrWeight::Replicas(3),
            ),
            (
                routed(vec![CanaryStep::SetCanaryScale(Weight(50)), SetWeight(20)]),
                st(1),
                ReplicasOrWeight::Weight(50),
            ),
            (
                routed(vec![
                    CanaryStep::SetCanaryScale(Weight(50)),
                    CanaryStep::SetCanaryScale(MatchTrafficWeight),
                    SetWeight(20),
                ]),
                st(2),
                ReplicasOrWeight::Weight(20),
            ),
            // Past the last step no scale is in force.
            (
                routed(vec![SetWeight(20), CanaryStep::SetCanaryScale(Replicas(3))]),
                st(2),
                ReplicasOrWeight::Weight(100),
            ),
            // Without a router setCanaryScale means nothing.
            (
                strategy(vec![SetWeight(20), CanaryStep::SetCanaryScale(Replicas(3))]),
                st(1),
                ReplicasOrWeight::Weight(20),
            ),
            (
                routed(vec![SetWeight(20), CanaryStep::SetCanaryScale(Replicas(3))]),
                CanaryStatus { step_index: 1, promote_full: true, ..Default::default() },
                ReplicasOrWeight::Weight(100),
            ),
            (
                routed(vec![SetWeight(20)]),
                CanaryStatus { stable_is_current: true, ..Default::default() },
                ReplicasOrWeight::Weight(100),
            ),
        ];
        for (s, status, want) in cases {
            assert_eq!(
                canary_replicas_or_weight(&s, &status),
                want,
                "{:?} at {}",
                s.steps,
                status.step_index
            );
        }
    }

    #[test]
    fn timed_pause_completes_strictly_after_its_duration() {
        let cx = |now, started| StepContext { now, pause_started: started, ..Default::default() };
        let d = Some(30 * SECOND);
        assert!(!pause_step_completed(d, &cx(100 * SECOND, None)), "no condition yet");
        assert!(!pause_step_completed(d, &cx(110 * SECOND, Some(80 * SECOND))), "exactly at start + d");
        assert!(pause_step_completed(d, &cx(110 * SECOND + 1, Some(80 * SECOND))));
        assert_eq!(pause_wake_up(80 * SECOND, 30 * SECOND), 110 * SECOND + 1);
        let promoted = StepContext { now: 90 * SECOND, controller_pause: true, ..Default::default() };
        assert!(pause_step_completed(d, &promoted), "a promote ends a timed pause early");
    }

    #[test]
    fn indefinite_pause_completes_on_promote() {
        let cx = |started, controller_pause| StepContext {
            pause_started: started,
            controller_pause,
            ..Default::default()
        };
        assert!(!pause_step_completed(None, &cx(None, false)), "not yet paused");
        assert!(!pause_step_completed(None, &cx(Some(0), true)), "paused");
        assert!(pause_step_completed(None, &cx(None, true)), "promote removed the condition");
    }

    #[test]
    fn pause_condition_is_added_once_on_a_pause_step() {
        let s = strategy(vec![SetWeight(10), pause(None)]);
        let cx = |started, controller_pause, paused| StepContext {
            pause_started: started,
            controller_pause,
            paused,
            ..Default::default()
        };
        assert!(!pause_condition_to_add(&s, &at(0), &cx(None, false, false)), "not a pause step");
        assert!(pause_condition_to_add(&s, &at(1), &cx(None, false, false)));
        assert!(!pause_condition_to_add(&s, &at(1), &cx(Some(0), true, false)), "already paused");
        assert!(!pause_condition_to_add(&s, &at(1), &cx(None, true, false)), "just promoted");
        assert!(!pause_condition_to_add(&s, &at(1), &cx(None, false, true)), "user pause");
    }

    /// A basic canary at R=10, maxSurge 1, maxUnavailable 0 with the given RSs.
    fn basic_view<'a>(
        s: &'a CanaryStrategy,
        status: CanaryStatus,
        new: (i64, i64),
        stable: (i64, i64),
    ) -> CanaryView<'a> {
        CanaryView {
            strategy: s,
            replicas: 10,
            status,
            new: Some(RsState::new(new.0, new.1)),
            stable: Some(RsState::new(stable.0, stable.1)),
            others: &[],
            weights: None,
        }
    }

    #[test]
    fn at_desired_replica_counts_basic() {
        let s = CanaryStrategy {
            steps: vec![SetWeight(10)],
            max_surge: Int(1),
            max_unavailable: Int(0),
            ..Default::default()
        };
        // (canary spec/available, stable spec/available) → done?
        let cases = [
            ((1, 1), (9, 9), true),
            ((1, 0), (9, 9), false),
            ((1, 1), (10, 10), false),
            ((0, 0), (10, 10), false),
        ];
        for (new, stable, want) in cases {
            assert_eq!(
                at_desired_replica_counts(&basic_view(&s, at(0), new, stable)),
                want,
                "{new:?} {stable:?}"
            );
        }
        // An older RS with available pods still serves traffic.
        let older = [RsState::new(0, 1)];
        let v = CanaryView { others: &older, ..basic_view(&s, at(0), (1, 1), (9, 9)) };
        assert!(!at_desired_replica_counts(&v));
        // The stable must have its pods created (status.replicas), not necessarily available.
        let v = CanaryView { stable: Some(RsState { spec: 9, replicas: 9, available: 7 }), others: &[], ..v };
        assert!(at_desired_replica_counts(&v));
        let v = CanaryView { stable: Some(RsState { spec: 9, replicas: 10, available: 9 }), ..v };
        assert!(!at_desired_replica_counts(&v), "a pod still terminating");
    }

    fn routed_view<'a>(
        s: &'a CanaryStrategy,
        status: CanaryStatus,
        new: (i64, i64),
        stable: (i64, i64),
    ) -> CanaryView<'a> {
        CanaryView { weights: None, ..basic_view(s, status, new, stable) }
    }

    #[test]
    fn at_desired_replica_counts_routed_ignores_older_rss_and_dynamic_stable() {
        let mut s =
            CanaryStrategy { steps: vec![SetWeight(30)], traffic_routing: true, ..Default::default() };
        let older = [RsState::new(2, 2)];
        let v = CanaryView { others: &older, ..routed_view(&s, at(0), (3, 3), (10, 10)) };
        assert!(at_desired_replica_counts(&v), "a router keeps older RSs out of traffic");
        assert!(!at_desired_replica_counts(&routed_view(&s, at(0), (3, 3), (7, 7))), "stable must stay full");
        s.dynamic_stable_scale = true;
        assert!(
            at_desired_replica_counts(&routed_view(&s, at(0), (3, 3), (10, 4))),
            "stable judged by the router"
        );
    }

    #[test]
    fn step_completion_by_kind() {
        let s = CanaryStrategy {
            steps: vec![SetWeight(10), pause(Some(60)), Analysis { templates: vec!["success-rate".into()] }],
            max_surge: Int(1),
            max_unavailable: Int(0),
            ..Default::default()
        };
        let done = |index, new, stable, cx: StepContext| {
            step_completed(&basic_view(&s, at(index), new, stable), &cx)
        };
        let cx = StepContext::default();
        assert!(done(0, (1, 1), (9, 9), cx));
        assert!(!done(0, (1, 1), (9, 9), StepContext { paused: true, ..cx }), "user pause");
        assert!(!done(0, (1, 1), (9, 9), StepContext { weight_verified: Some(false), ..cx }));
        assert!(done(0, (1, 1), (9, 9), StepContext { weight_verified: Some(true), ..cx }));
        assert!(!done(0, (1, 0), (9, 9), cx), "canary pod not available");
        let paused = StepContext { now: 61 * SECOND, pause_started: Some(0), ..cx };
        assert!(done(1, (1, 1), (9, 9), paused));
        assert!(!done(1, (1, 1), (9, 9), StepContext { now: 60 * SECOND, ..paused }));
        let phases = [
            (AnalysisPhase::Running, false),
            (AnalysisPhase::Successful, true),
            (AnalysisPhase::Failed, false),
            (AnalysisPhase::Inconclusive, false),
        ];
        for (phase, want) in phases {
            assert_eq!(
                done(2, (1, 1), (9, 9), StepContext { analysis: Some(phase), ..cx }),
                want,
                "{phase:?}"
            );
        }
        assert!(!done(2, (1, 1), (9, 9), cx), "no AnalysisRun yet");
        assert!(!done(3, (10, 10), (0, 0), cx), "past the last step nothing completes");
    }

    #[test]
    fn one_step_per_reconcile() {
        // Steps that are all complete at once still take one reconcile each.
        let s = CanaryStrategy {
            steps: vec![SetWeight(10), SetWeight(10), SetWeight(10)],
            max_surge: Int(1),
            max_unavailable: Int(0),
            ..Default::default()
        };
        let mut status = at(0);
        let mut seen = Vec::new();
        for _ in 0..5 {
            status.step_index =
                next_step_index(&basic_view(&s, status, (1, 1), (9, 9)), &StepContext::default());
            seen.push(status.step_index);
        }
        assert_eq!(seen, [1, 2, 3, 3, 3]);
    }

    #[test]
    fn abort_and_full_promotion_move_the_index() {
        let s = strategy(vec![SetWeight(10), pause(None), SetWeight(50)]);
        let cx = StepContext::default();
        let idx = |status| next_step_index(&basic_view(&s, status, (1, 1), (9, 9)), &cx);
        assert_eq!(idx(CanaryStatus { step_index: 2, aborted: true, ..Default::default() }), 0);
        let stable =
            CanaryStatus { step_index: 2, aborted: true, stable_is_current: true, ..Default::default() };
        assert_eq!(idx(stable), 3);
        assert_eq!(idx(CanaryStatus { step_index: 1, promote_full: true, ..Default::default() }), 3);
        assert_eq!(index_after_template_change(3, false), 0);
        assert_eq!(index_after_template_change(3, true), 3, "fast-track rollback");
    }

    #[test]
    fn stable_can_absorb_uses_the_floor() {
        // checkReplicasAvailable: stable needs floor((100 − w)·R/100) available.
        let cases = [
            (10, 9, 10, true),
            (10, 8, 10, false),
            (10, 9, 5, true),
            (10, 10, 0, true),
            (10, 9, 0, false),
            (10, 0, 100, true),
            (5, 2, 50, true),
        ];
        for (replicas, available, weight, want) in cases {
            assert_eq!(
                stable_can_absorb(replicas, available, weight),
                want,
                "R={replicas} avail={available} w={weight}"
            );
        }
    }

    /// A routed rollout at R=10 with steps 10 / pause / 50 / pause.
    fn routed() -> CanaryStrategy {
        CanaryStrategy {
            steps: vec![SetWeight(10), pause(None), SetWeight(50), pause(None)],
            traffic_routing: true,
            ..Default::default()
        }
    }

    #[test]
    fn router_keeps_the_previous_weight_until_the_canary_is_sized() {
        let s = routed();
        let w = |index, new, stable| router_weight(&routed_view(&s, at(index), new, stable));
        let set = |desired| RouterWeight { desired, apply: true };
        assert_eq!(w(0, (0, 0), (10, 10)), set(0), "no canary pod: weight 0");
        assert_eq!(w(0, (1, 0), (10, 10)), set(0), "created, not available");
        assert_eq!(w(0, (1, 1), (10, 10)), set(10));
        assert_eq!(w(1, (1, 1), (10, 10)), set(10), "pause keeps the weight");
        assert_eq!(w(2, (5, 3), (10, 10)), set(10), "scaling for 50%: still the previous 10%");
        assert_eq!(w(2, (5, 5), (10, 10)), set(50));
        assert_eq!(w(4, (10, 7), (10, 10)), set(50), "past the steps, canary not yet full");
        assert_eq!(w(4, (10, 10), (10, 10)), set(100), "all steps done: 100 until promotion");
        let promoted = CanaryStatus { stable_is_current: true, ..at(4) };
        assert_eq!(router_weight(&routed_view(&s, promoted, (10, 10), (10, 10))), set(0));
    }

    #[test]
    fn router_weight_waits_for_the_stable_to_absorb_its_share() {
        // TestCheckReplicaSetAvailable in spirit: the weight only moves if the stable can serve
        // floor((100 − w)·R/100) pods' worth of traffic.
        let s = routed();
        let got = router_weight(&routed_view(&s, at(0), (1, 1), (10, 8)));
        assert_eq!(got, RouterWeight { desired: 10, apply: false });
        let got = router_weight(&routed_view(&s, at(0), (1, 1), (10, 9)));
        assert_eq!(got, RouterWeight { desired: 10, apply: true });
    }

    #[test]
    fn abort_sends_everything_back_at_once_without_dynamic_scale() {
        let s = routed();
        let status = CanaryStatus { step_index: 0, aborted: true, ..Default::default() };
        let v = CanaryView {
            weights: Some(TrafficWeights { canary: 50, stable: 50 }),
            ..routed_view(&s, status, (5, 5), (10, 10))
        };
        assert_eq!(router_weight(&v), RouterWeight { desired: 0, apply: true });
    }

    #[test]
    fn dynamic_abort_steps_the_weight_down_as_the_stable_recovers() {
        let s = CanaryStrategy { dynamic_stable_scale: true, ..routed() };
        let aborted = CanaryStatus { aborted: true, ..Default::default() };
        let v = |new, stable, current| CanaryView {
            weights: Some(TrafficWeights { canary: current, stable: 100 - current }),
            ..routed_view(&s, aborted, new, stable)
        };
        // Aborted at 50%: canary 5/5, stable 5/5. Next lower rung is 10%, which needs 9 stable.
        assert_eq!(router_weight(&v((5, 5), (5, 5), 50)), RouterWeight { desired: 10, apply: false });
        assert_eq!(router_weight(&v((5, 5), (9, 9), 50)), RouterWeight { desired: 10, apply: true });
        // At 10% the canary shrinks to 1; with the stable full the weight goes to 0.
        assert_eq!(router_weight(&v((1, 1), (10, 10), 10)), RouterWeight { desired: 0, apply: true });
        // Never rises again: a stable pod lost while at 10% does not bring back 50%.
        assert_eq!(router_weight(&v((5, 5), (4, 4), 10)), RouterWeight { desired: 10, apply: false });
        // minPodsPerReplicaSet does not hold the weight up once the stable is full (#4841).
        let floored = CanaryStrategy { min_pods_per_replica_set: Some(3), ..s.clone() };
        let v = CanaryView {
            weights: Some(TrafficWeights { canary: 10, stable: 90 }),
            ..routed_view(&floored, aborted, (3, 3), (10, 10))
        };
        assert_eq!(router_weight(&v), RouterWeight { desired: 0, apply: true });
    }

    #[test]
    fn promote_full_keeps_the_weight_or_follows_canary_pods() {
        let s = routed();
        let status = CanaryStatus { promote_full: true, ..at(1) };
        let v = CanaryView {
            weights: Some(TrafficWeights { canary: 10, stable: 90 }),
            ..routed_view(&s, status, (10, 4), (10, 10))
        };
        assert_eq!(router_weight(&v).desired, 10);
        let dynamic = CanaryStrategy { dynamic_stable_scale: true, ..routed() };
        let v = CanaryView { strategy: &dynamic, ..v };
        assert_eq!(router_weight(&v).desired, 40);
    }

    #[test]
    fn progress_deadline_scope_and_strictness() {
        let weight = SetWeight(10);
        let wait = pause(None);
        let analysis = Analysis { templates: vec![] };
        assert!(progress_deadline_applies(Some(&weight), false, false, false));
        assert!(progress_deadline_applies(None, false, false, false));
        assert!(!progress_deadline_applies(Some(&wait), false, false, false));
        assert!(!progress_deadline_applies(Some(&analysis), false, false, false));
        assert!(!progress_deadline_applies(Some(&weight), true, false, false));
        assert!(!progress_deadline_applies(Some(&weight), false, true, false));
        assert!(!progress_deadline_applies(Some(&weight), false, false, true));
        let d = 600 * SECOND;
        assert!(!rollout_timed_out(d, 0, d));
        assert!(rollout_timed_out(d, 0, d + 1));
    }

    #[test]
    fn analysis_reactions() {
        use AnalysisPhase::*;
        let cases = [
            (Pending, AnalysisReaction::Wait),
            (Running, AnalysisReaction::Wait),
            (Successful, AnalysisReaction::Proceed),
            (Failed, AnalysisReaction::Abort),
            (Error, AnalysisReaction::Abort),
            (Inconclusive, AnalysisReaction::Pause),
        ];
        for (phase, want) in cases {
            assert_eq!(analysis_reaction(phase), want, "{phase:?}");
        }
    }
}
