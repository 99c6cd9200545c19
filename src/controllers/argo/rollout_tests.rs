//! Replays of [`RolloutController`] against a tiny world (`controllers.md` §2).

use super::*;
use crate::controllers::argo::Counts;
use crate::controllers::argo::replicas::basic_canary_counts;
use crate::controllers::argo::spec::CanaryStep::{SetCanaryScale, SetWeight};
use crate::controllers::argo::spec::{self as argo_spec, BackgroundAnalysis};
use crate::controllers::spec::IntOrPercent::Int;
use crate::engine::{HOUR, MINUTE};

const V1: u32 = 1;
const V2: u32 = 2;

/// How pods become available after each reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    /// Every pod that exists is available.
    Batch,
    /// One pending pod of each RS becomes available.
    OneAtATime,
}

/// ReplicaSets whose pods appear on scale-up and vanish on scale-down, plus the Services and
/// the router as the controller last set them.
struct World {
    rss: Vec<ReplicaSetView>,
    model: Model,
    /// Pods of this template never become available.
    never_ready: Option<u32>,
    weights: Option<(i64, i64)>,
}

impl World {
    fn settled(replicas: i64, model: Model) -> Self {
        let rs = ReplicaSetView {
            id: 1,
            template: V1,
            revision: 1,
            created: 1,
            spec: replicas,
            replicas,
            ready: replicas,
            available: replicas,
            pods: replicas,
        };
        World { rss: vec![rs], model, never_ready: None, weights: None }
    }

    fn get(&self, template: u32) -> Option<&ReplicaSetView> {
        self.rss.iter().find(|rs| rs.template == template)
    }

    fn spec(&self, template: u32) -> i64 {
        self.get(template).map_or(0, |rs| rs.spec)
    }

    fn id(&self, template: u32) -> u32 {
        self.get(template).expect("RS exists").id
    }

    fn by_id(&mut self, id: u32) -> &mut ReplicaSetView {
        self.rss.iter_mut().find(|rs| rs.id == id).expect("known RS")
    }

    fn apply(&mut self, actions: &[RolloutAction]) {
        for a in actions {
            match *a {
                RolloutAction::CreateReplicaSet { template, replicas, revision } => {
                    assert!(self.get(template).is_none(), "one RS per template");
                    let n = self.rss.len() as u32 + 1;
                    self.rss.push(ReplicaSetView {
                        id: n,
                        template,
                        revision,
                        created: u64::from(n),
                        spec: replicas,
                        replicas,
                        ready: 0,
                        available: 0,
                        pods: replicas,
                    });
                }
                RolloutAction::Scale { rs, from, to } => {
                    let rs = self.by_id(rs);
                    assert_eq!(rs.spec, from, "scale must start from the current spec");
                    rs.spec = to;
                    rs.replicas = to;
                    rs.pods = to;
                    rs.ready = rs.ready.min(to);
                    rs.available = rs.available.min(to);
                }
                RolloutAction::SetTrafficWeight { canary, stable } => self.weights = Some((canary, stable)),
                _ => {}
            }
        }
    }

    fn converge(&mut self) {
        let never = self.never_ready;
        for rs in self.rss.iter_mut().filter(|rs| Some(rs.template) != never) {
            let target = match self.model {
                Model::Batch => rs.replicas,
                Model::OneAtATime => (rs.available + 1).min(rs.replicas),
            };
            rs.ready = target;
            rs.available = target;
        }
    }
}

/// A controller driven against a [`World`].
struct Run {
    ctrl: RolloutController,
    world: World,
    actions: Vec<RolloutAction>,
    events: Vec<RolloutEvent>,
    now: SimTime,
    requeue: Option<SimTime>,
    replicas: i64,
    /// Traffic routing without dynamicStableScale: the stable RS must never drop below R.
    stable_full: bool,
    routed: bool,
}

impl Run {
    /// A world settled on V1 and a controller that has adopted it as stable.
    fn new(spec: RolloutSpec, model: Model) -> Self {
        let replicas = spec.replicas;
        let (routed, dynamic) =
            spec.canary().map_or((false, false), |c| (c.traffic_routing, c.dynamic_stable_scale));
        let mut run = Run {
            ctrl: RolloutController::new(&spec, V1),
            world: World::settled(replicas, model),
            actions: Vec::new(),
            events: Vec::new(),
            now: 0,
            requeue: None,
            replicas,
            stable_full: routed && !dynamic,
            routed,
        };
        for _ in 0..4 {
            run.step();
        }
        assert_eq!(run.ctrl.phase(), RolloutPhase::Healthy);
        assert_eq!(run.ctrl.stable_template(), Some(V1));
        assert_eq!(run.world.spec(V1), replicas);
        run
    }

    /// One reconcile at `now`; apply its actions; check the invariants.
    fn reconcile(&mut self) -> &[RolloutAction] {
        self.actions.clear();
        self.events.clear();
        let r = self.ctrl.reconcile(self.now, &self.world.rss, &mut self.actions, &mut self.events);
        self.requeue = r.requeue_at;
        if let Some(at) = r.requeue_at {
            assert!(at >= self.now, "requeue in the past");
        }
        self.world.apply(&self.actions);
        self.check_invariants();
        &self.actions
    }

    fn check_invariants(&self) {
        for rs in &self.world.rss {
            assert!(rs.spec >= 0 && rs.replicas >= 0 && rs.available >= 0, "negative counts: {rs:?}");
        }
        for a in &self.actions {
            if let RolloutAction::SetTrafficWeight { canary, stable } = *a {
                assert!(self.routed, "weights only with traffic routing");
                assert_eq!(canary + stable, 100);
                assert!((0..=100).contains(&canary));
            }
        }
        let in_progress = self.ctrl.stable_template().is_some_and(|s| s != self.ctrl.template());
        if self.stable_full && in_progress {
            let stable = self.ctrl.stable_template().unwrap();
            assert!(
                self.world.spec(stable) >= self.replicas,
                "stable RS below R during a routed canary at {}",
                self.now
            );
        }
    }

    /// Reconcile, let pods become available, one second later.
    fn step(&mut self) {
        self.reconcile();
        self.world.converge();
        self.now += SECOND;
    }

    /// Steps until `done` holds (at most `n` steps); panics otherwise.
    fn step_until(&mut self, n: usize, mut done: impl FnMut(&Run) -> bool) {
        for _ in 0..n {
            if done(self) {
                return;
            }
            self.step();
        }
        assert!(done(self), "condition not reached in {n} steps (t = {} s)", self.now / SECOND);
    }

    fn has_event(&self, e: RolloutEvent) -> bool {
        self.events.contains(&e)
    }

    /// Whether the last reconcile started a run of `kind`.
    fn started(&self, kind: AnalysisKind) -> bool {
        self.actions.iter().any(|a| matches!(a, RolloutAction::StartAnalysis { kind: k, .. } if *k == kind))
    }

    /// Whether the last reconcile terminated the run of `kind`.
    fn terminated(&self, kind: AnalysisKind) -> bool {
        self.actions.contains(&RolloutAction::TerminateAnalysis { kind })
    }

    /// The world reports `phase` for the run of `kind`, then reconciles at once.
    fn report(&mut self, kind: AnalysisKind, phase: AnalysisPhase) {
        self.ctrl.set_analysis_phase(kind, phase);
        self.reconcile();
    }

    fn counts(&self) -> (i64, i64) {
        (self.world.spec(V2), self.world.spec(V1))
    }
}

fn canary_spec(replicas: i64, f: impl FnOnce(&mut CanaryStrategy)) -> RolloutSpec {
    let mut c = CanaryStrategy::default();
    f(&mut c);
    let mut spec = RolloutSpec::new(RolloutStrategy::Canary(c));
    spec.replicas = replicas;
    spec.validate().expect("valid spec");
    spec
}

fn pause_for(secs: u64) -> CanaryStep {
    CanaryStep::Pause { duration: Some(secs * SECOND) }
}

const WAIT: CanaryStep = CanaryStep::Pause { duration: None };

/// The basic canary's expected sizes for the controller's state and the world's RSs (a new
/// RS not yet created counts as 0/0, which is what the creating reconcile sizes it from).
fn expected_basic(run: &Run) -> Option<Counts> {
    let spec = run.ctrl.spec.clone();
    let c = spec.canary()?;
    let stable_t = run.ctrl.stable_template()?;
    if run.ctrl.current != Some(V2) || stable_t == V2 {
        return None;
    }
    let new = run.world.get(V2).map_or(RsState::default(), state);
    let stable = run.world.get(stable_t).map(state);
    let view = CanaryView {
        strategy: c,
        replicas: run.replicas,
        status: run.ctrl.canary_status(),
        new: Some(new),
        stable,
        others: &[],
        weights: None,
    };
    Some(basic_canary_counts(&view))
}

/// Checks one reconcile of a basic canary against `CalculateReplicaCountsForBasicCanary`: the
/// created or scaled RS gets exactly its computed size, at most one RS is scaled, the total
/// stays within maxSurge and the available pods within maxUnavailable.
fn check_basic(run: &Run, expected: Option<Counts>, (surge, unavailable): (i64, i64)) {
    let Some(want) = expected else { return };
    let v2 = run.world.id(V2);
    let mut scales = 0;
    for a in &run.actions {
        match *a {
            RolloutAction::CreateReplicaSet { replicas, .. } => assert_eq!(replicas, want.canary, "created"),
            RolloutAction::Scale { rs, to, .. } if rs == v2 => {
                scales += 1;
                assert_eq!(to, want.canary, "canary");
            }
            RolloutAction::Scale { to, .. } => {
                scales += 1;
                assert_eq!(to, want.stable, "stable");
            }
            _ => {}
        }
    }
    assert!(scales <= 1, "one RS per reconcile: {:?}", run.actions);
    let spec: i64 = run.world.rss.iter().map(|rs| rs.spec).sum();
    let available: i64 = run.world.rss.iter().map(|rs| rs.available).sum();
    assert!(spec <= run.replicas + surge, "maxSurge broken at {}", run.now);
    assert!(available >= run.replicas - unavailable, "maxUnavailable broken at {}", run.now);
}

/// Replays R=10, 25%/25%, setWeight 10 / pause 60 s / 25 / pause 60 s / 50 / pause {} / 100
/// to the end. Returns (canary, stable) after each change.
fn replay_basic(model: Model) -> Vec<(i64, i64)> {
    let steps =
        vec![SetWeight(10), pause_for(60), SetWeight(25), pause_for(60), SetWeight(50), WAIT, SetWeight(100)];
    let mut run = Run::new(canary_spec(10, |c| c.steps = steps.clone()), model);
    run.ctrl.set_template(V2);
    let mut trace = Vec::new();
    let mut pauses = Vec::new();
    for _ in 0..200 {
        let before = run.ctrl.step_index();
        let reset = run.ctrl.current != Some(V2);
        let expected = expected_basic(&run);
        run.reconcile();
        let after = run.ctrl.step_index();
        if reset {
            assert_eq!(after, 0, "a new template starts at step 0");
        } else {
            assert!(after == before || after == before + 1, "one step per reconcile: {before} → {after}");
        }
        check_basic(&run, expected, (3, 2));
        if trace.last() != Some(&run.counts()) {
            trace.push(run.counts());
        }
        if run.has_event(RolloutEvent::Paused(PauseReason::CanaryPauseStep)) {
            pauses.push(after);
            match steps[after] {
                CanaryStep::Pause { duration: Some(d) } => {
                    // Exactly at start + d the pause still holds; one microsecond later it ends.
                    let start = run.now;
                    assert_eq!(run.requeue, Some(start + d + 1));
                    run.now = start + d;
                    run.reconcile();
                    assert_eq!(run.ctrl.step_index(), after, "pause ends strictly after its duration");
                    assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
                    run.now = start + d + 1;
                    run.reconcile();
                    assert_eq!(run.ctrl.step_index(), after + 1);
                    assert!(run.has_event(RolloutEvent::StepCompleted { index: after, steps: steps.len() }));
                }
                _ => {
                    // pause: {} waits for promote, however long.
                    let start = run.now;
                    assert_eq!(run.requeue, None, "nothing to wait for but a human");
                    for t in [start + MINUTE, start + HOUR] {
                        run.now = t;
                        run.reconcile();
                        assert_eq!(run.ctrl.step_index(), after);
                        assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
                    }
                    run.ctrl.promote();
                    run.now += SECOND;
                    run.reconcile();
                    assert_eq!(run.ctrl.step_index(), after + 1, "promote ends the pause");
                }
            }
            run.now += SECOND;
            continue;
        }
        run.world.converge();
        run.now += SECOND;
        if run.ctrl.phase() == RolloutPhase::Healthy {
            break;
        }
    }
    assert_eq!(pauses, [1, 3, 5]);
    assert_eq!(run.ctrl.stable_template(), Some(V2));
    assert_eq!(run.ctrl.step_index(), steps.len());
    assert_eq!(run.counts(), (10, 0));
    trace
}

#[test]
fn basic_canary_follows_the_replica_arithmetic_one_step_per_reconcile() {
    // (canary, stable) after each change. The RS is created at its computed size and the stable
    // scaled in the same reconcile; later the stable gives way first (maxSurge 3, floor 8).
    let want = [(0, 10), (1, 9), (1, 8), (3, 8), (3, 5), (5, 5), (5, 3), (10, 3), (10, 0)];
    assert_eq!(replay_basic(Model::Batch), want);
}

#[test]
fn basic_canary_with_pods_ready_one_at_a_time() {
    let trace = replay_basic(Model::OneAtATime);
    assert!(trace.len() > 9, "slower pods, more intermediate sizes: {trace:?}");
}

#[test]
fn basic_canary_one_pod_at_a_time_matches_the_reference_trace() {
    // controllers.md §2.3: R=10, maxSurge 1, maxUnavailable 0; setWeight 10 then 50.
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(10), WAIT, SetWeight(50), WAIT];
        c.max_surge = Int(1);
        c.max_unavailable = Int(0);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    let mut trace = vec![run.counts()];
    for i in 0..40 {
        if i == 20 {
            assert_eq!(run.ctrl.step_index(), 1);
            assert!(run.ctrl.paused());
            run.ctrl.promote();
        }
        let expected = expected_basic(&run);
        run.step();
        check_basic(&run, expected, (1, 0));
        if trace.last() != Some(&run.counts()) {
            trace.push(run.counts());
        }
    }
    assert_eq!(run.ctrl.step_index(), 3);
    assert!(run.ctrl.paused());
    #[rustfmt::skip]
    let want = [
        (0, 10), (1, 10), (1, 9),
        (2, 9), (2, 8), (3, 8), (3, 7), (4, 7), (4, 6), (5, 6), (5, 5),
    ];
    assert_eq!(trace, want);
}

#[test]
fn routed_canary_sizes_first_then_shifts_weight_then_promotes_and_delays_scale_down() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(20), WAIT];
        c.traffic_routing = true;
    });
    let mut run = Run::new(spec, Model::OneAtATime);
    assert_eq!(run.world.weights, Some((0, 100)));
    run.ctrl.set_template(V2);
    run.step(); // status reset
    run.reconcile();
    assert_eq!(run.actions[0], RolloutAction::CreateReplicaSet { template: V2, replicas: 2, revision: 2 });
    assert_eq!(run.counts(), (2, 10), "canary ceil(20% of 10), stable kept full");
    run.world.converge(); // 1 of 2 canary pods
    run.now += SECOND;
    run.reconcile();
    assert_eq!(run.world.weights, Some((0, 100)), "not before the step's canary pods are available");
    assert_eq!(run.ctrl.step_index(), 0);
    // The second canary pod comes up while three stable pods are down: 7 < floor(80% of 10).
    run.world.converge();
    run.world.by_id(1).available = 7;
    run.now += SECOND;
    run.reconcile();
    assert_eq!(run.world.weights, Some((0, 100)), "the stable cannot absorb 80% yet");
    assert_eq!(run.ctrl.router_weights().map(|w| w.canary), Some(0));
    assert!(!run.actions.iter().any(|a| matches!(a, RolloutAction::SetTrafficWeight { .. })));
    run.world.by_id(1).available = 8;
    run.now += SECOND;
    run.reconcile();
    assert_eq!(run.world.weights, Some((20, 80)));
    assert!(run.has_event(RolloutEvent::TrafficWeight { canary: 20, stable: 80 }));
    run.world.converge();
    run.step_until(10, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 1);
    assert_eq!(run.counts(), (2, 10));
    assert_eq!(run.ctrl.intended_weights(), TrafficWeights { canary: 20, stable: 80 });

    run.ctrl.promote();
    let mut weights = Vec::new();
    let mut promoted_at = None;
    for _ in 0..40 {
        run.step();
        weights.extend(run.events.iter().filter_map(|e| match *e {
            RolloutEvent::TrafficWeight { canary, .. } => Some(canary),
            _ => None,
        }));
        if run.has_event(RolloutEvent::Promoted { template: V2 }) {
            promoted_at = Some(run.now - SECOND);
            assert_eq!(run.world.weights, Some((100, 0)), "weight 100 before promotion");
            break;
        }
        assert!(run.world.spec(V2) <= 10);
    }
    assert!(promoted_at.is_some());
    assert_eq!(weights, [100]);
    // Next reconcile: services to the new RS, routes reset, the previous stable gets its deadline.
    run.reconcile();
    let v1 = run.world.id(V1);
    let v2 = run.world.id(V2);
    let deadline = run.now + 30 * SECOND;
    let want = [
        RolloutAction::SwitchService { service: ServiceRole::Stable, rs: v2 },
        RolloutAction::SetTrafficWeight { canary: 0, stable: 100 },
        RolloutAction::SetScaleDownDeadline { rs: v1, at: deadline },
    ];
    assert_eq!(run.actions, want);
    assert_eq!(run.ctrl.service(ServiceRole::Canary), Some(v2));
    assert_eq!(run.requeue, Some(deadline));
    run.now = deadline - 1;
    run.reconcile();
    assert_eq!(run.world.spec(V1), 10, "kept until scaleDownDelaySeconds");
    run.now = deadline;
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::Scale { rs: v1, from: 10, to: 0 }]);
    run.world.converge();
    run.now += SECOND;
    run.reconcile();
    assert_eq!(run.ctrl.phase(), RolloutPhase::Healthy);
}

/// A routed canary at R=10 paused at 40%, with the given abort delay.
fn routed_at_40(abort_delay: Option<SimTime>) -> Run {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(40), WAIT, SetWeight(80), WAIT];
        c.traffic_routing = true;
        c.abort_scale_down_delay = abort_delay;
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.world.weights, Some((40, 60)));
    assert_eq!(run.counts(), (4, 10));
    run
}

#[test]
fn abort_sends_traffic_back_at_once_and_scales_the_canary_down_after_the_delay() {
    let mut run = routed_at_40(None);
    run.ctrl.abort();
    run.now += SECOND;
    run.reconcile();
    let v1 = run.world.id(V1);
    let v2 = run.world.id(V2);
    let deadline = run.now + 30 * SECOND;
    let want = [
        RolloutAction::SetTrafficWeight { canary: 0, stable: 100 },
        RolloutAction::SetScaleDownDeadline { rs: v2, at: deadline },
    ];
    assert_eq!(run.actions, want, "weight 0 on the next reconcile");
    assert_eq!(run.ctrl.service(ServiceRole::Canary), Some(v2), "the router, not the Service, moves traffic");
    assert_eq!(run.ctrl.service(ServiceRole::Stable), Some(v1));
    assert!(run.has_event(RolloutEvent::Aborted(AbortReason::User)));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert_eq!(run.ctrl.step_index(), 0);
    assert_eq!(run.requeue, Some(deadline));
    run.now = deadline - 1;
    run.reconcile();
    assert_eq!(run.counts(), (4, 10), "canary kept for abortScaleDownDelaySeconds");
    run.now = deadline;
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::Scale { rs: v2, from: 4, to: 0 }]);
    for _ in 0..5 {
        run.step();
    }
    assert_eq!(run.counts(), (0, 10));
    assert!(run.ctrl.aborted());
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);

    // Retry starts again from step 0.
    run.ctrl.retry();
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 1);
    assert_eq!(run.world.weights, Some((40, 60)));
    assert_eq!(run.counts(), (4, 10));
}

#[test]
fn abort_with_zero_delay_keeps_the_canary_forever() {
    let mut run = routed_at_40(Some(0));
    run.ctrl.abort();
    run.step();
    assert_eq!(run.world.weights, Some((0, 100)));
    assert!(!run.actions.iter().any(|a| matches!(a, RolloutAction::SetScaleDownDeadline { .. })));
    assert_eq!(run.requeue, None);
    for t in [MINUTE, HOUR, 10 * HOUR] {
        run.now = t;
        run.step();
        assert_eq!(run.counts(), (4, 10), "kept at {t}");
    }
}

#[test]
fn basic_canary_abort_rolls_back_under_surge_and_unavailability() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(50), WAIT];
        c.max_surge = Int(1);
        c.max_unavailable = Int(1);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(40, |r| r.ctrl.paused());
    assert_eq!(run.counts(), (5, 5));
    run.ctrl.abort();
    let mut trace = vec![run.counts()];
    for _ in 0..30 {
        let expected = expected_basic(&run);
        assert!(expected.is_some(), "canary in progress");
        run.step();
        check_basic(&run, expected, (1, 1));
        if trace.last() != Some(&run.counts()) {
            trace.push(run.counts());
        }
    }
    assert_eq!(trace.last(), Some(&(0, 10)));
    assert_eq!(trace[1], (5, 6), "stable grows first");
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
}

/// A basic canary R=4 whose new pods never become available.
fn stuck(abort: bool) -> Run {
    let mut spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(50), WAIT];
        c.max_surge = Int(1);
        c.max_unavailable = Int(0);
    });
    spec.progress_deadline = 600 * SECOND;
    spec.progress_deadline_abort = abort;
    let mut run = Run::new(spec, Model::Batch);
    run.world.never_ready = Some(V2);
    run.ctrl.set_template(V2);
    for _ in 0..3 {
        run.step();
    }
    assert_eq!(run.counts(), (1, 4));
    run
}

#[test]
fn progress_deadline_degrades_without_aborting() {
    let mut run = stuck(false);
    // The last progress: the reconcile that first saw the new RS's pods.
    let last = run.ctrl.last_progress.unwrap();
    assert_eq!(run.requeue, Some(last + 600 * SECOND + SECOND));
    run.now = last + 600 * SECOND;
    run.reconcile();
    assert!(!run.ctrl.timed_out(), "exactly at the deadline the rollout is still on time");
    run.now = run.requeue.unwrap();
    run.reconcile();
    assert!(run.has_event(RolloutEvent::ProgressDeadlineExceeded));
    assert!(run.ctrl.timed_out());
    assert!(!run.ctrl.aborted());
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    run.now += HOUR;
    run.step();
    assert_eq!(run.counts(), (1, 4), "nothing is rolled back");
    // Progress clears it.
    run.world.never_ready = None;
    run.step();
    run.step();
    assert!(!run.ctrl.timed_out());
    assert_ne!(run.ctrl.phase(), RolloutPhase::Degraded);
}

#[test]
fn progress_deadline_abort_rolls_back() {
    let mut run = stuck(true);
    run.now = run.requeue.unwrap();
    run.reconcile();
    assert!(run.has_event(RolloutEvent::ProgressDeadlineExceeded));
    assert!(run.has_event(RolloutEvent::Aborted(AbortReason::ProgressDeadline)));
    assert!(run.ctrl.aborted());
    run.now += SECOND;
    run.step();
    assert_eq!(run.counts(), (0, 4), "the unavailable canary goes at once");
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert_eq!(run.ctrl.step_index(), 0);
}

#[test]
fn pause_and_analysis_steps_do_not_count_against_the_deadline() {
    let mut spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(25), CanaryStep::Analysis { templates: vec!["success-rate".into()] }, WAIT];
    });
    spec.progress_deadline = 60 * SECOND;
    spec.progress_deadline_abort = true;
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.step_index() == 1);
    run.step();
    let kind = AnalysisKind::Step(1);
    assert!(run.started(kind));
    let want = RolloutAction::StartAnalysis { kind, templates: vec!["success-rate".into()] };
    assert!(run.actions.contains(&want));
    assert_eq!(run.requeue, None, "nothing to wait for but the analysis");
    assert_eq!(run.ctrl.analysis_phase(kind), Some(AnalysisPhase::Pending));
    run.now += 10 * HOUR;
    run.ctrl.set_analysis_phase(kind, AnalysisPhase::Running);
    run.step();
    assert_eq!(run.ctrl.step_index(), 1, "analysis still running");
    assert!(!run.ctrl.aborted() && !run.ctrl.timed_out());
    assert!(!run.started(kind), "one run per step");
    run.report(kind, AnalysisPhase::Successful);
    assert!(run.has_event(RolloutEvent::AnalysisSuccessful(kind)));
    assert!(run.has_event(RolloutEvent::StepCompleted { index: 1, steps: 3 }));
    assert_eq!(run.ctrl.step_index(), 2);
    assert_eq!(run.ctrl.analysis_phase(kind), None, "the step's run is done with");
    run.step();
    run.now += 10 * HOUR;
    run.step();
    assert!(run.ctrl.paused());
    assert!(!run.ctrl.aborted() && !run.ctrl.timed_out());
    run.ctrl.promote_full();
    run.step_until(20, |r| r.ctrl.phase() == RolloutPhase::Healthy);
    assert_eq!(run.counts(), (4, 0));
}

#[test]
fn set_canary_scale_sizes_the_canary_apart_from_the_weight() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetCanaryScale(argo_spec::SetCanaryScale::Replicas(5)), SetWeight(10), WAIT];
        c.traffic_routing = true;
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.counts(), (5, 10));
    assert_eq!(run.world.weights, Some((10, 90)));
}

fn blue_green_spec(replicas: i64, f: impl FnOnce(&mut BlueGreenStrategy)) -> RolloutSpec {
    let mut b = BlueGreenStrategy::new("active");
    b.preview_service = Some("preview".into());
    f(&mut b);
    let mut spec = RolloutSpec::new(RolloutStrategy::BlueGreen(b));
    spec.replicas = replicas;
    spec.validate().expect("valid spec");
    spec
}

#[test]
fn blue_green_manual_promotion_and_delayed_scale_down() {
    let spec = blue_green_spec(3, |b| {
        b.auto_promotion_enabled = false;
        b.scale_down_delay = Some(600 * SECOND);
    });
    let mut run = Run::new(spec, Model::OneAtATime);
    let v1 = run.world.id(V1);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1));
    run.ctrl.set_template(V2);
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::CreateReplicaSet { template: V2, replicas: 3, revision: 2 }]);
    run.world.converge();
    run.now += SECOND;
    run.step_until(20, |r| r.ctrl.paused());
    let v2 = run.world.id(V2);
    assert_eq!(run.counts(), (3, 3), "blue-green doubles capacity");
    assert_eq!(run.world.get(V2).unwrap().available, 3);
    assert_eq!(run.ctrl.service(ServiceRole::Preview), Some(v2));
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
    for t in [HOUR, 5 * HOUR] {
        run.now += t;
        run.step();
        assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1), "active stays until promote");
        assert_eq!(run.ctrl.intended_weights().canary, 0);
    }
    run.ctrl.promote();
    run.reconcile();
    let deadline = run.now + 600 * SECOND;
    let want = [
        RolloutAction::SwitchService { service: ServiceRole::Active, rs: v2 },
        RolloutAction::SetScaleDownDeadline { rs: v1, at: deadline },
    ];
    assert_eq!(run.actions, want);
    assert!(run.has_event(RolloutEvent::Promoted { template: V2 }));
    assert_eq!(run.ctrl.stable_template(), Some(V2));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Healthy);
    assert_eq!(run.requeue, Some(run.now), "a promotion is reconciled again at once");
    run.now += SECOND;
    run.reconcile();
    assert_eq!(run.actions, []);
    assert_eq!(run.requeue, Some(deadline));
    run.now = deadline - 1;
    run.reconcile();
    assert_eq!(run.counts(), (3, 3), "old RS kept for scaleDownDelaySeconds");
    run.now = deadline;
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::Scale { rs: v1, from: 3, to: 0 }]);
}

#[test]
fn blue_green_preview_replica_count_scales_up_on_promotion() {
    let spec = blue_green_spec(4, |b| {
        b.auto_promotion_enabled = false;
        b.preview_replica_count = Some(1);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.counts(), (1, 4), "preview runs small");
    run.ctrl.promote();
    let v2 = run.world.id(V2);
    let mut switched_at_full = false;
    for _ in 0..10 {
        run.step();
        if run.actions.contains(&RolloutAction::SwitchService { service: ServiceRole::Active, rs: v2 }) {
            switched_at_full = run.world.get(V2).unwrap().available == 4;
            break;
        }
    }
    assert!(switched_at_full, "active switches once the new RS is scaled up and available");
    assert_eq!(run.world.spec(V2), 4);
    assert_eq!(run.ctrl.stable_template(), Some(V2));
}

#[test]
fn blue_green_auto_promotion_seconds() {
    let spec = blue_green_spec(2, |b| b.auto_promotion_seconds = 30 * SECOND);
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    let start = run.now - SECOND;
    assert_eq!(run.requeue, Some(start + 30 * SECOND + 1));
    run.now = start + 30 * SECOND;
    run.reconcile();
    assert!(run.ctrl.paused(), "strictly after autoPromotionSeconds");
    run.now += 1;
    run.reconcile();
    assert!(!run.ctrl.paused());
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(run.world.id(V2)));
}

#[test]
fn blue_green_abort_before_promotion_scales_the_preview_down() {
    let spec = blue_green_spec(3, |b| b.auto_promotion_enabled = false);
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    run.ctrl.abort();
    run.reconcile();
    let v2 = run.world.id(V2);
    let deadline = run.now + 30 * SECOND;
    assert_eq!(run.actions, [RolloutAction::SetScaleDownDeadline { rs: v2, at: deadline }]);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(run.world.id(V1)));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    run.now = deadline;
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::Scale { rs: v2, from: 3, to: 0 }]);
}

#[test]
fn blue_green_abort_during_post_promotion_analysis_switches_active_back() {
    let spec = blue_green_spec(3, |b| {
        b.scale_down_delay = Some(600 * SECOND);
        b.post_promotion_analysis = vec!["smoke".into()];
    });
    let mut run = Run::new(spec, Model::Batch);
    let (v1, _) = (run.world.id(V1), ());
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.service(ServiceRole::Active) != Some(v1));
    let v2 = run.world.id(V2);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v2));
    assert_eq!(run.ctrl.stable_template(), Some(V1), "stable waits for the post-promotion analysis");
    assert!(run.ctrl.scale_down_deadline(v1).is_some());
    assert!(run.ctrl.analysis_phase(AnalysisKind::PostPromotion).is_some(), "post-promotion run started");
    run.ctrl.abort();
    run.now += SECOND;
    run.reconcile();
    assert!(run.terminated(AnalysisKind::PostPromotion), "an abort terminates the unfinished run");
    assert!(run.has_event(RolloutEvent::AnalysisTerminated(AnalysisKind::PostPromotion)));
    assert!(run.actions.contains(&RolloutAction::SwitchService { service: ServiceRole::Active, rs: v1 }));
    assert!(run.actions.contains(&RolloutAction::ClearScaleDownDeadline { rs: v1 }));
    assert_eq!(run.ctrl.scale_down_deadline(v1), None);
    run.now += HOUR;
    run.step();
    run.step();
    assert_eq!(run.counts(), (0, 3), "the aborted RS goes after abortScaleDownDelaySeconds");
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
}

#[test]
fn reapplying_the_stable_template_fast_tracks_the_rollback() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(40), WAIT, SetWeight(80), WAIT];
        c.traffic_routing = true;
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.world.weights, Some((40, 60)));
    run.ctrl.set_template(V1);
    run.step();
    assert!(run.has_event(RolloutEvent::NewRevision { template: V1, step_index: 4 }), "every step skipped");
    run.step();
    assert_eq!(run.world.weights, Some((0, 100)), "all traffic back at once");
    let v2 = run.world.id(V2);
    let deadline = run.ctrl.scale_down_deadline(v2).expect("the canary RS waits out scaleDownDelaySeconds");
    run.now = deadline;
    run.step();
    run.step();
    assert_eq!(run.counts(), (0, 10));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Healthy);
    assert_eq!(run.ctrl.stable_template(), Some(V1));
}

#[test]
fn dynamic_stable_scale_abort_steps_the_weight_down() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(20), SetWeight(60), WAIT];
        c.traffic_routing = true;
        c.dynamic_stable_scale = true;
    });
    let mut run = Run::new(spec, Model::OneAtATime);
    run.stable_full = false;
    run.ctrl.set_template(V2);
    run.step_until(60, |r| r.ctrl.paused());
    assert_eq!(run.world.weights, Some((60, 40)));
    assert_eq!(run.counts(), (6, 4), "the stable shrank with its traffic");
    run.ctrl.abort();
    let mut weights = Vec::new();
    for _ in 0..30 {
        run.step();
        weights.extend(run.events.iter().filter_map(|e| match *e {
            RolloutEvent::TrafficWeight { canary, .. } => Some(canary),
            _ => None,
        }));
    }
    assert_eq!(weights, [20, 0], "down the setWeight ladder as the stable recovers");
    assert_eq!(run.counts(), (0, 10));
}

#[test]
fn blue_green_rollback_within_the_scale_down_delay_switches_back_without_pausing() {
    let spec = blue_green_spec(3, |b| {
        b.auto_promotion_enabled = false;
        b.scale_down_delay = Some(600 * SECOND);
    });
    let mut run = Run::new(spec, Model::Batch);
    let v1 = run.world.id(V1);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    run.ctrl.promote();
    run.step_until(5, |r| r.ctrl.stable_template() == Some(V2));
    let v2 = run.world.id(V2);
    assert!(run.ctrl.scale_down_deadline(v1).is_some());
    run.step();
    run.ctrl.set_template(V1);
    run.step_until(5, |r| r.ctrl.service(ServiceRole::Active) == Some(v1));
    assert!(!run.has_event(RolloutEvent::Paused(PauseReason::BlueGreenPause)));
    assert_eq!(run.ctrl.scale_down_deadline(v1), None, "the deadline of the RS switched back to is cleared");
    let at = run.ctrl.scale_down_deadline(v2).expect("the RS switched away from waits out the delay");
    assert_eq!(at, run.now - SECOND + 600 * SECOND);
    run.step();
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    assert_eq!(run.counts(), (3, 3));
    run.now = at;
    run.step();
    assert_eq!(run.counts(), (0, 3));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Healthy);
}

#[test]
fn blue_green_analyses_gate_the_switch_and_the_old_rs_scale_down() {
    // Pre-promotion analysis gates the active switch; with scaleDownDelaySeconds unset, the
    // previous RS waits for the post-promotion analysis, then 30 s.
    let spec = blue_green_spec(2, |b| {
        b.pre_promotion_analysis = vec!["pre".into()];
        b.post_promotion_analysis = vec!["post".into()];
    });
    let mut run = Run::new(spec, Model::Batch);
    let v1 = run.world.id(V1);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::PrePromotion));
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1));
    for phase in [AnalysisPhase::Pending, AnalysisPhase::Running] {
        run.now += HOUR;
        run.report(AnalysisKind::PrePromotion, phase);
        assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1), "waits for the pre-promotion analysis");
        assert!(!run.started(AnalysisKind::PrePromotion), "one run");
    }
    run.now += SECOND;
    run.report(AnalysisKind::PrePromotion, AnalysisPhase::Successful);
    let v2 = run.world.id(V2);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v2));
    assert!(run.has_event(RolloutEvent::AnalysisSuccessful(AnalysisKind::PrePromotion)));
    assert!(run.started(AnalysisKind::PostPromotion));
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    assert_eq!(run.ctrl.intended_weights().canary, 100);
    run.now += HOUR;
    run.report(AnalysisKind::PostPromotion, AnalysisPhase::Running);
    assert_eq!(run.ctrl.scale_down_deadline(v1), None, "no deadline before the analysis succeeded");
    assert_eq!(run.ctrl.stable_template(), Some(V1), "stable waits for the post-promotion analysis");
    assert_eq!(run.counts(), (2, 2));
    run.now += SECOND;
    run.report(AnalysisKind::PostPromotion, AnalysisPhase::Successful);
    assert!(run.has_event(RolloutEvent::AnalysisSuccessful(AnalysisKind::PostPromotion)));
    assert_eq!(run.ctrl.stable_template(), Some(V2));
    let at = run.ctrl.scale_down_deadline(v1).expect("deadline once the analysis succeeded");
    assert_eq!(at, run.now + 30 * SECOND);
    run.now += SECOND;
    run.reconcile();
    assert!(
        !run.actions.iter().any(|a| matches!(a, RolloutAction::TerminateAnalysis { .. })),
        "completed runs need no termination"
    );
    assert_eq!(run.ctrl.analysis_phase(AnalysisKind::PostPromotion), None);
    run.now = at;
    run.step();
    assert_eq!(run.counts(), (2, 0));
}

fn analysis_step(template: &str) -> CanaryStep {
    CanaryStep::Analysis { templates: vec![template.into()] }
}

/// A routed canary R=10 (setWeight 20, analysis, setWeight 50, pause {}) whose step analysis
/// has just started at step 1.
fn routed_at_analysis() -> Run {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(20), analysis_step("success-rate"), SetWeight(50), WAIT];
        c.traffic_routing = true;
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::Step(1)));
    assert_eq!(run.ctrl.step_index(), 1);
    assert_eq!(run.world.weights, Some((20, 80)));
    assert_eq!(run.counts(), (2, 10));
    run
}

const STEP1: AnalysisKind = AnalysisKind::Step(1);

#[test]
fn successful_step_analysis_completes_the_step() {
    let mut run = routed_at_analysis();
    run.now += MINUTE;
    run.report(STEP1, AnalysisPhase::Running);
    assert_eq!(run.ctrl.step_index(), 1);
    assert_eq!(run.ctrl.phase(), RolloutPhase::Progressing);
    run.now += MINUTE;
    run.report(STEP1, AnalysisPhase::Successful);
    assert!(run.has_event(RolloutEvent::AnalysisSuccessful(STEP1)));
    assert!(run.has_event(RolloutEvent::StepCompleted { index: 1, steps: 4 }));
    assert!(!run.terminated(STEP1), "a completed run needs no termination");
    run.world.converge();
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 3);
    assert_eq!(run.world.weights, Some((50, 50)));
    assert_eq!(run.counts(), (5, 10));
    // A late report about the finished run changes nothing.
    run.report(STEP1, AnalysisPhase::Failed);
    assert!(!run.ctrl.aborted());
}

#[test]
fn failed_step_analysis_aborts_and_scales_the_canary_down_after_the_delay() {
    let mut run = routed_at_analysis();
    run.now += MINUTE;
    run.report(STEP1, AnalysisPhase::Failed);
    let reason = AbortReason::Analysis { kind: STEP1, phase: AnalysisPhase::Failed };
    assert!(run.has_event(RolloutEvent::AnalysisFailed(STEP1)));
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    assert!(run.ctrl.aborted());
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert_eq!(run.ctrl.step_index(), 0);
    assert_eq!(run.requeue, Some(run.now), "the abort is reconciled again at once");
    run.reconcile();
    let v2 = run.world.id(V2);
    let deadline = run.now + 30 * SECOND;
    assert!(run.actions.contains(&RolloutAction::SetTrafficWeight { canary: 0, stable: 100 }));
    assert!(run.actions.contains(&RolloutAction::SetScaleDownDeadline { rs: v2, at: deadline }));
    assert!(!run.terminated(STEP1), "the failed run is complete");
    run.now = deadline - 1;
    run.reconcile();
    assert_eq!(run.counts(), (2, 10), "canary kept for abortScaleDownDelaySeconds");
    run.now = deadline;
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::Scale { rs: v2, from: 2, to: 0 }]);
    run.now += HOUR;
    run.step();
    run.step();
    assert_eq!(run.counts(), (0, 10));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert!(!run.started(STEP1) && run.ctrl.analysis_phase(STEP1).is_none(), "no analysis while aborted");

    // Retry runs the analysis again, afresh.
    run.ctrl.retry();
    run.step_until(20, |r| r.started(STEP1));
    assert_eq!(run.ctrl.analysis_phase(STEP1), Some(AnalysisPhase::Pending));
}

#[test]
fn error_in_a_basic_canary_step_analysis_aborts_back_to_stable() {
    let spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(50), analysis_step("errors"), WAIT];
        c.max_surge = Int(1);
        c.max_unavailable = Int(0);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(30, |r| r.ctrl.analysis_phase(STEP1).is_some());
    assert_eq!(run.counts(), (2, 2));
    run.report(STEP1, AnalysisPhase::Error);
    assert!(run.has_event(RolloutEvent::AnalysisError(STEP1)));
    let reason = AbortReason::Analysis { kind: STEP1, phase: AnalysisPhase::Error };
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    run.now += SECOND;
    for _ in 0..20 {
        let expected = expected_basic(&run);
        run.step();
        check_basic(&run, expected, (1, 0));
    }
    assert_eq!(run.counts(), (0, 4), "a basic canary rolls back at once, within maxSurge");
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
}

#[test]
fn inconclusive_step_analysis_pauses_until_promote_which_runs_it_again() {
    let mut run = routed_at_analysis();
    run.report(STEP1, AnalysisPhase::Inconclusive);
    assert!(run.has_event(RolloutEvent::AnalysisInconclusive(STEP1)));
    assert!(run.has_event(RolloutEvent::Paused(PauseReason::InconclusiveAnalysis)));
    assert_eq!(run.ctrl.pause_reasons().collect::<Vec<_>>(), [PauseReason::InconclusiveAnalysis]);
    assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
    assert!(!run.ctrl.aborted());
    for t in [MINUTE, HOUR, 10 * HOUR] {
        run.now += t;
        run.step();
        assert_eq!(run.ctrl.step_index(), 1, "held at {t}");
        assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
        assert!(!run.started(STEP1), "no new run while paused");
        assert!(!run.ctrl.timed_out());
    }
    assert_eq!(run.world.weights, Some((20, 80)));

    // Promote clears the pause; upstream's needsNewAnalysisRun then starts a fresh run.
    run.ctrl.promote();
    run.reconcile();
    assert!(run.started(STEP1));
    assert_eq!(run.ctrl.analysis_phase(STEP1), Some(AnalysisPhase::Pending));
    assert_eq!(run.ctrl.step_index(), 1);
    assert!(!run.ctrl.paused());
    run.now += MINUTE;
    run.report(STEP1, AnalysisPhase::Successful);
    assert!(run.has_event(RolloutEvent::StepCompleted { index: 1, steps: 4 }));
}

#[test]
fn promote_while_a_step_analysis_runs_skips_the_step_and_terminates_the_run() {
    let mut run = routed_at_analysis();
    run.report(STEP1, AnalysisPhase::Running);
    run.ctrl.promote();
    run.reconcile();
    assert!(run.terminated(STEP1));
    assert!(run.has_event(RolloutEvent::AnalysisTerminated(STEP1)));
    assert_eq!(run.ctrl.analysis_phase(STEP1), None);
    assert_eq!(run.ctrl.step_index(), 2);
    // The terminated run's late report is ignored.
    run.report(STEP1, AnalysisPhase::Failed);
    assert!(!run.ctrl.aborted());
}

#[test]
fn inconclusive_step_analysis_then_abort_rolls_back() {
    let mut run = routed_at_analysis();
    run.report(STEP1, AnalysisPhase::Inconclusive);
    assert!(run.ctrl.paused());
    run.ctrl.abort();
    run.now += SECOND;
    run.reconcile();
    assert!(run.has_event(RolloutEvent::Aborted(AbortReason::User)));
    assert!(!run.ctrl.paused(), "an aborted rollout keeps no pause condition");
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert_eq!(run.world.weights, Some((0, 100)));
}

fn background(starting_step: Option<usize>) -> Option<BackgroundAnalysis> {
    Some(BackgroundAnalysis { templates: vec!["error-rate".into()], starting_step })
}

const BG: AnalysisKind = AnalysisKind::Background;

#[test]
fn background_analysis_starts_at_its_starting_step_and_is_terminated_on_completion() {
    let spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(25), WAIT, SetWeight(50), WAIT];
        c.background_analysis = background(Some(2));
    });
    let mut run = Run::new(spec, Model::Batch);
    assert_eq!(run.ctrl.analysis_phase(BG), None, "nothing to analyse while the stable runs alone");
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 1);
    assert_eq!(run.ctrl.analysis_phase(BG), None, "not before startingStep");
    run.ctrl.promote();
    let mut starts = 0;
    let mut started_at_index = None;
    for _ in 0..30 {
        run.step();
        if run.started(BG) {
            starts += 1;
            started_at_index.get_or_insert(run.ctrl.step_index());
            run.ctrl.set_analysis_phase(BG, AnalysisPhase::Running);
        }
        if run.ctrl.paused() {
            break;
        }
    }
    assert_eq!(starts, 1);
    assert_eq!(started_at_index, Some(2));
    assert_eq!(run.ctrl.step_index(), 3);
    assert_eq!(run.ctrl.analysis_phase(BG), Some(AnalysisPhase::Running), "runs through the pause");
    run.ctrl.promote();
    run.step_until(30, |r| r.has_event(RolloutEvent::Promoted { template: V2 }));
    assert!(!run.terminated(BG), "terminated once the stable is the new template");
    run.reconcile();
    assert_eq!(run.actions, [RolloutAction::TerminateAnalysis { kind: BG }]);
    assert!(run.has_event(RolloutEvent::AnalysisTerminated(BG)));
    assert_eq!(run.ctrl.analysis_phase(BG), None);
    run.step_until(10, |r| r.ctrl.phase() == RolloutPhase::Healthy);
    assert_eq!(run.counts(), (4, 0));
    assert!(!run.started(BG));
}

#[test]
fn background_analysis_without_starting_step_starts_with_the_update() {
    let spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(25), WAIT];
        c.background_analysis = background(None);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.reconcile(); // status reset
    assert!(!run.started(BG));
    run.reconcile();
    assert!(run.started(BG), "with the new RS, at step 0");
    assert_eq!(run.ctrl.step_index(), 0);
    let want = RolloutAction::StartAnalysis { kind: BG, templates: vec!["error-rate".into()] };
    assert!(run.actions.contains(&want));
    // A full promotion terminates it.
    run.ctrl.promote_full();
    run.reconcile();
    assert!(run.terminated(BG));
}

#[test]
fn failed_background_analysis_aborts_during_a_pause_step() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(20), pause_for(600), SetWeight(60), WAIT];
        c.traffic_routing = true;
        c.background_analysis = background(None);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.pause_reasons().collect::<Vec<_>>(), [PauseReason::CanaryPauseStep]);
    run.report(BG, AnalysisPhase::Running);
    run.now += MINUTE;
    run.report(BG, AnalysisPhase::Failed);
    assert!(run.has_event(RolloutEvent::AnalysisFailed(BG)));
    let reason = AbortReason::Analysis { kind: BG, phase: AnalysisPhase::Failed };
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    assert!(!run.ctrl.paused());
    run.reconcile();
    assert_eq!(run.world.weights, Some((0, 100)));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
    assert_eq!(run.ctrl.step_index(), 0);
}

#[test]
fn error_in_background_analysis_aborts_mid_step_and_terminates_the_step_run() {
    let spec = canary_spec(10, |c| {
        c.steps = vec![SetWeight(20), analysis_step("smoke"), WAIT];
        c.traffic_routing = true;
        c.background_analysis = background(None);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(STEP1));
    run.report(BG, AnalysisPhase::Error);
    let reason = AbortReason::Analysis { kind: BG, phase: AnalysisPhase::Error };
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    run.reconcile();
    assert!(run.terminated(STEP1), "the step's unfinished run goes with the abort");
    assert!(!run.terminated(BG), "the errored run is complete");
    assert_eq!(run.world.weights, Some((0, 100)));
}

#[test]
fn inconclusive_background_analysis_holds_the_steps_until_promote() {
    let spec = canary_spec(4, |c| {
        c.steps = vec![SetWeight(25), SetWeight(50), SetWeight(75), WAIT];
        c.background_analysis = background(None);
    });
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(5, |r| r.ctrl.analysis_phase(BG).is_some());
    run.report(BG, AnalysisPhase::Inconclusive);
    assert!(run.has_event(RolloutEvent::Paused(PauseReason::InconclusiveAnalysis)));
    let index = run.ctrl.step_index();
    for _ in 0..20 {
        run.now += MINUTE;
        run.step();
        assert_eq!(run.ctrl.step_index(), index, "no step completes");
        assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
    }
    run.ctrl.promote();
    run.reconcile();
    assert!(run.started(BG), "a fresh background run after the promote");
    run.world.converge();
    run.now += SECOND;
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 3);
    assert_eq!(run.ctrl.pause_reasons().collect::<Vec<_>>(), [PauseReason::CanaryPauseStep]);
}

#[test]
fn blue_green_pre_promotion_failure_aborts_before_the_switch() {
    let spec = blue_green_spec(3, |b| b.pre_promotion_analysis = vec!["smoke".into()]);
    let mut run = Run::new(spec, Model::Batch);
    let v1 = run.world.id(V1);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::PrePromotion));
    let v2 = run.world.id(V2);
    assert_eq!(run.counts(), (3, 3));
    run.now += MINUTE;
    run.report(AnalysisKind::PrePromotion, AnalysisPhase::Failed);
    let reason = AbortReason::Analysis { kind: AnalysisKind::PrePromotion, phase: AnalysisPhase::Failed };
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    assert!(run.has_event(RolloutEvent::AnalysisFailed(AnalysisKind::PrePromotion)));
    let mut switched = false;
    let mut deadline = None;
    for _ in 0..5 {
        run.reconcile();
        switched |=
            run.actions.contains(&RolloutAction::SwitchService { service: ServiceRole::Active, rs: v2 });
        deadline = deadline.or(run.ctrl.scale_down_deadline(v2));
        run.now += SECOND;
    }
    assert!(!switched, "the active Service never left the stable");
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1));
    let deadline = deadline.expect("the preview waits out abortScaleDownDelaySeconds");
    run.now = deadline;
    run.step();
    assert_eq!(run.counts(), (0, 3));
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
}

#[test]
fn blue_green_post_promotion_failure_switches_active_back_to_the_stable() {
    let spec = blue_green_spec(3, |b| {
        b.scale_down_delay = Some(600 * SECOND);
        b.post_promotion_analysis = vec!["smoke".into()];
    });
    let mut run = Run::new(spec, Model::Batch);
    let v1 = run.world.id(V1);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::PostPromotion));
    let v2 = run.world.id(V2);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v2));
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    run.now += MINUTE;
    run.report(AnalysisKind::PostPromotion, AnalysisPhase::Failed);
    let reason = AbortReason::Analysis { kind: AnalysisKind::PostPromotion, phase: AnalysisPhase::Failed };
    assert!(run.has_event(RolloutEvent::Aborted(reason)));
    assert_eq!(run.requeue, Some(run.now));
    run.reconcile();
    assert!(run.actions.contains(&RolloutAction::SwitchService { service: ServiceRole::Active, rs: v1 }));
    assert!(run.actions.contains(&RolloutAction::ClearScaleDownDeadline { rs: v1 }));
    assert_eq!(run.ctrl.intended_weights().canary, 0);
    run.now += HOUR;
    run.step();
    run.step();
    assert_eq!(run.counts(), (0, 3), "the new RS goes after abortScaleDownDelaySeconds");
    assert_eq!(run.ctrl.stable_template(), Some(V1));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Degraded);
}

#[test]
fn blue_green_inconclusive_pre_promotion_holds_until_promote_runs_it_again() {
    let spec = blue_green_spec(2, |b| b.pre_promotion_analysis = vec!["smoke".into()]);
    let mut run = Run::new(spec, Model::Batch);
    let v1 = run.world.id(V1);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::PrePromotion));
    run.report(AnalysisKind::PrePromotion, AnalysisPhase::Inconclusive);
    assert!(run.has_event(RolloutEvent::Paused(PauseReason::InconclusiveAnalysis)));
    run.now += HOUR;
    run.step();
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1));
    assert_eq!(run.ctrl.phase(), RolloutPhase::Paused);
    run.ctrl.promote();
    run.reconcile();
    assert!(run.started(AnalysisKind::PrePromotion));
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v1), "the fresh run gates the switch");
    run.report(AnalysisKind::PrePromotion, AnalysisPhase::Successful);
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(run.world.id(V2)));
}

#[test]
fn blue_green_pre_promotion_run_terminated_by_a_lost_pod_counts_as_successful() {
    // Upstream cancels the pre-promotion run once the preview is no longer saturated, and a
    // terminated AnalysisRun ends Successful: the gate opens when the pod is back.
    let spec = blue_green_spec(3, |b| b.pre_promotion_analysis = vec!["smoke".into()]);
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.started(AnalysisKind::PrePromotion));
    run.report(AnalysisKind::PrePromotion, AnalysisPhase::Running);
    let v2 = run.world.id(V2);
    run.world.by_id(v2).available = 2;
    run.now += SECOND;
    run.reconcile();
    assert!(run.terminated(AnalysisKind::PrePromotion));
    assert_eq!(run.ctrl.analysis_phase(AnalysisKind::PrePromotion), Some(AnalysisPhase::Successful));
    run.world.converge();
    run.now += SECOND;
    run.reconcile();
    assert!(!run.started(AnalysisKind::PrePromotion), "no new run");
    assert_eq!(run.ctrl.service(ServiceRole::Active), Some(v2));
}

#[test]
fn promote_ends_a_timed_pause_early() {
    let spec = canary_spec(4, |c| c.steps = vec![SetWeight(25), pause_for(600), SetWeight(50), WAIT]);
    let mut run = Run::new(spec, Model::Batch);
    run.ctrl.set_template(V2);
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 1);
    run.now += 10 * SECOND;
    run.ctrl.promote();
    run.reconcile();
    assert!(run.has_event(RolloutEvent::StepCompleted { index: 1, steps: 4 }));
    assert_eq!(run.ctrl.step_index(), 2);
    run.world.converge();
    run.now += SECOND;
    run.step_until(20, |r| r.ctrl.paused());
    assert_eq!(run.ctrl.step_index(), 3, "the timed pause was not started over");
}
