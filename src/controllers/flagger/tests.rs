//! The analysis loop against the timelines of `controllers.md` §3.3 and §3.7 and the phase
//! sequences of upstream `scheduler_deployment_test.go`.

use super::*;
use crate::engine::{MINUTE, SimTime};
use Action::*;
use Phase::*;
use Readiness::{NotReady, Ready, Stuck};
use Verdict::{Fail as F, NoData, Pass as P};

const V1: u32 = 1;
const V2: u32 = 2;
const V3: u32 = 3;

/// A Canary driven tick by tick, with the canary and primary ready within one tick unless a
/// test says otherwise (the assumption of the §3.7 timeline).
struct Run {
    canary: FlaggerCanary,
    target: u32,
    now: SimTime,
    /// (time, canary weight of the routes) after every tick since the release.
    weights: Vec<(SimTime, u32)>,
}

impl Run {
    /// An initialised Canary over target V1 (the first tick finds the primary ready).
    fn new(spec: CanarySpec) -> Self {
        let mut canary = FlaggerCanary::new(spec);
        let ready = TickInput { target: V1, primary: Ready, canary: Ready, checks: &[] };
        let out = canary.tick(ready);
        let expected_routes: &[Action] =
            if canary.spec().provider == Provider::Istio { &[SetRoutes(Routes::PRIMARY)] } else { &[] };
        assert_eq!(out.actions, [&[CreatePrimary, ScaleCanaryToZero], expected_routes].concat());
        assert_eq!(canary.phase(), Initialized);
        Self { canary, target: V1, now: 0, weights: Vec::new() }
    }

    fn istio(analysis: CanaryAnalysis) -> Self {
        Self::new(CanarySpec { target: "podinfo".into(), analysis, ..Default::default() })
    }

    /// The user applies `target`; this is the detecting tick T0 (expected: Progressing).
    fn release(&mut self, target: u32) -> TickOutput {
        self.target = target;
        self.now += MINUTE;
        let out = self.tick_with(Ready, Ready, &[]);
        assert_eq!(self.canary.phase(), Progressing, "{out:?}");
        out
    }

    /// The next tick, both workloads ready, every check giving `verdict`.
    fn tick(&mut self, verdict: Verdict) -> TickOutput {
        self.now += MINUTE;
        self.tick_with(Ready, Ready, &[verdict])
    }

    fn tick_with(&mut self, primary: Readiness, canary: Readiness, checks: &[Verdict]) -> TickOutput {
        let out = self.canary.tick(TickInput { target: self.target, primary, canary, checks });
        self.check_invariants(&out);
        self.weights.push((self.now, self.canary.routes().canary));
        out
    }

    fn check_invariants(&self, out: &TickOutput) {
        let routes = self.canary.routes();
        assert_eq!(routes.primary + routes.canary, 100, "{routes:?}");
        for a in &out.actions {
            if let SetRoutes(r) = a {
                assert_eq!(*r, routes, "the last route written is the route");
            }
        }
    }

    fn state(&self) -> (Phase, u32, u32, u32) {
        let (s, r) = (self.canary.status(), self.canary.routes());
        (s.phase, r.canary, r.primary, s.failed_checks)
    }

    /// Replays rows of (verdict, phase, canary weight, primary weight, failed checks).
    fn replay(&mut self, rows: &[(Verdict, Phase, u32, u32, u32)]) {
        for (i, &(verdict, phase, canary, primary, failed)) in rows.iter().enumerate() {
            let out = self.tick(verdict);
            assert_eq!(self.state(), (phase, canary, primary, failed), "row {i} (+{}m): {out:?}", i + 1);
        }
    }

    /// Percent-minutes of traffic the canary received: each tick's weight holds until the
    /// next tick.
    fn exposure(&self) -> u64 {
        self.weights.windows(2).map(|w| u64::from(w[0].1) * ((w[1].0 - w[0].0) / MINUTE)).sum()
    }
}

fn analysis(step_weight: u32, max_weight: u32, threshold: u32) -> CanaryAnalysis {
    CanaryAnalysis { step_weight, max_weight, threshold, ..Default::default() }
}

/// §3.7: stepWeight 10, maxWeight 50, interval 1m, threshold 5.
fn timeline_run() -> Run {
    let mut run = Run::istio(analysis(10, 50, 5));
    let out = run.release(V2);
    assert_eq!(out.actions, [ScaleCanaryUp]);
    assert_eq!(run.state(), (Progressing, 0, 100, 0));
    run
}

#[test]
fn timeline_happy_path() {
    let mut run = timeline_run();
    run.replay(&[
        (P, Progressing, 10, 90, 0), // +1m: pre-rollout hooks, no metrics
        (P, Progressing, 20, 80, 0), // +2m: checks at 10%
        (P, Progressing, 30, 70, 0),
        (P, Progressing, 40, 60, 0),
        (P, Progressing, 50, 50, 0), // +5m: checks at 40%
        (P, Promoting, 50, 50, 0),   // +6m: checks at 50%, 50 ≥ maxWeight → copy spec to primary
        (P, Finalising, 0, 100, 0),  // +7m: primary ready → all traffic to primary
        (P, Succeeded, 0, 100, 0),   // +8m: canary scaled to zero
    ]);
    assert_eq!(run.now, 9 * MINUTE, "T0 at 1m, then eight intervals");
    assert_eq!(run.exposure(), 10 + 20 + 30 + 40 + 50 + 50);
}

#[test]
fn timeline_actions_and_events() {
    let mut run = timeline_run();
    let out = run.tick(P);
    assert_eq!(out.actions, [SetRoutes(Routes::new(90, 10, false))]);
    assert!(out.events.contains(&Event::AnalysisStarted));
    for _ in 0..4 {
        run.tick(P);
    }
    let out = run.tick(P);
    assert_eq!(out.actions, [Promote]);
    assert_eq!(run.canary.status().canary_weight, 0, "SetStatusPhase(Promoting) clears the status weight");
    let out = run.tick(P);
    assert_eq!(out.actions, [SetRoutes(Routes::PRIMARY)]);
    assert_eq!(out.events[0], Event::RoutedToPrimary);
    let out = run.tick(P);
    assert_eq!(out.actions, [ScaleCanaryToZero]);
    assert!(out.events.contains(&Event::PromotionCompleted));
    // Nothing more to do until the next revision.
    assert_eq!(run.tick(F), TickOutput::default());
}

#[test]
fn timeline_failing_from_the_first_check() {
    let mut run = timeline_run();
    run.replay(&[
        (F, Progressing, 10, 90, 0), // +1m: pre-rollout hooks only, the metrics are not asked
        (F, Progressing, 10, 90, 1), // +2m: first failed check, weight held
        (F, Progressing, 10, 90, 2),
        (F, Progressing, 10, 90, 3),
        (F, Progressing, 10, 90, 4),
        (F, Progressing, 10, 90, 5), // +6m
    ]);
    let out = run.tick(F); // +7m: threshold reached before any check runs
    assert_eq!(run.state(), (Failed, 0, 100, 0), "the rollback's status write clears failed checks");
    assert_eq!(out.actions, [SetRoutes(Routes::PRIMARY), ScaleCanaryToZero]);
    assert!(out.events.contains(&Event::RolledBack { cause: RollbackCause::FailedChecks, failed_checks: 5 }));
    let (t0, first_failure) = (MINUTE, 3 * MINUTE);
    assert_eq!(run.now, t0 + 7 * MINUTE);
    assert_eq!(run.now - first_failure, 5 * MINUTE, "interval × threshold after the first failed check");
    assert_eq!(run.exposure(), 10 * 6, "10% for six minutes");
}

#[test]
fn timeline_failing_from_30_percent() {
    let mut run = timeline_run();
    run.replay(&[
        (P, Progressing, 10, 90, 0),
        (P, Progressing, 20, 80, 0),
        (P, Progressing, 30, 70, 0), // +3m
        (F, Progressing, 30, 70, 1), // +4m: checks at 30% fail
        (F, Progressing, 30, 70, 2),
        (F, Progressing, 30, 70, 3),
        (F, Progressing, 30, 70, 4),
        (F, Progressing, 30, 70, 5), // +8m
        (F, Failed, 0, 100, 0),      // +9m: rollback
    ]);
    assert_eq!(run.exposure(), 10 + 20 + 30 * 6, "30% for six minutes");
}

#[test]
fn intermittent_failures_accumulate() {
    let mut run = timeline_run();
    run.replay(&[
        (P, Progressing, 10, 90, 0),
        (F, Progressing, 10, 90, 1),
        (P, Progressing, 20, 80, 1), // a pass advances but never resets the count
        (F, Progressing, 20, 80, 2),
        (P, Progressing, 30, 70, 2),
        (NoData, Progressing, 30, 70, 3), // no values found counts as a failure
        (P, Progressing, 40, 60, 3),
        (F, Progressing, 40, 60, 4),
        (P, Progressing, 50, 50, 4),
        (F, Progressing, 50, 50, 5), // the promotion is held by the failure...
        (P, Failed, 0, 100, 0),      // ...and the next tick rolls back although checks pass
    ]);
}

#[test]
fn the_first_failing_check_is_reported() {
    let mut run = timeline_run();
    run.tick(P);
    let out = run.tick_with(Ready, Ready, &[P, NoData, F]);
    let failed = Event::CheckFailed { check: 1, verdict: NoData, failed_checks: 1, threshold: 5 };
    assert_eq!(out.events, [failed]);
    assert_eq!(failed.to_string(), "halt advancement: check 1 no values found (1/5)");
}

#[test]
fn default_threshold_rolls_back_after_one_failed_check() {
    let mut run = Run::istio(analysis(10, 50, 0));
    run.release(V2);
    run.replay(&[(P, Progressing, 10, 90, 0), (F, Progressing, 10, 90, 1), (P, Failed, 0, 100, 0)]);
}

#[test]
fn a_canary_not_ready_counts_no_failed_check() {
    let mut run = timeline_run();
    for _ in 0..3 {
        let out = run.tick_with(Ready, NotReady, &[F]);
        assert_eq!(out.events, [Event::WaitingForCanary]);
        assert_eq!(out.actions, []);
        assert_eq!(run.state(), (Progressing, 0, 100, 0));
    }
    run.replay(&[(P, Progressing, 10, 90, 0), (P, Progressing, 20, 80, 0)]);
    run.tick_with(Ready, NotReady, &[F]);
    assert_eq!(run.state(), (Progressing, 20, 80, 0), "mid-analysis too");
}

#[test]
fn a_stuck_canary_rolls_back_at_once() {
    let mut run = timeline_run();
    run.tick(P);
    let out = run.tick_with(Ready, Stuck, &[P]);
    assert_eq!(run.state(), (Failed, 0, 100, 0));
    assert_eq!(out.events[0], Event::RolledBack { cause: RollbackCause::CanaryStuck, failed_checks: 0 });
    assert_eq!(out.actions, [SetRoutes(Routes::PRIMARY), ScaleCanaryToZero]);
}

#[test]
fn promotion_waits_for_the_primary_rollout() {
    let mut run = Run::istio(analysis(50, 50, 1));
    run.release(V2);
    run.replay(&[(P, Progressing, 50, 50, 0), (P, Promoting, 50, 50, 0)]);
    for _ in 0..3 {
        let out = run.tick_with(NotReady, Ready, &[P]);
        assert_eq!(out.events, [Event::WaitingForPrimary]);
        assert_eq!(run.state(), (Promoting, 50, 50, 0), "traffic stays split while the primary rolls");
    }
    run.replay(&[(P, Finalising, 0, 100, 0), (P, Succeeded, 0, 100, 0)]);
}

#[test]
fn a_stuck_primary_rolls_back() {
    let mut run = timeline_run();
    run.tick(P);
    let out = run.tick_with(Stuck, Ready, &[P]);
    assert_eq!(run.state(), (Failed, 0, 100, 0));
    assert_eq!(out.events[0], Event::RolledBack { cause: RollbackCause::PrimaryStuck, failed_checks: 0 });
}

/// §3.3 / `TestScheduler_DeploymentBlueGreenAnalysisPhases` (iterations 1): detect,
/// advance, route to canary, Promoting, Finalising, Succeeded — six ticks.
#[test]
fn blue_green_one_iteration() {
    let mut run = Run::istio(CanaryAnalysis { iterations: 1, ..Default::default() });
    run.release(V2); // tick 1: detect
    let out = run.tick(P); // tick 2: pre-rollout, iteration 1, no traffic yet
    assert_eq!(out.events, [Event::AnalysisStarted, Event::IterationAdvanced { iteration: 1, of: 1 }]);
    assert_eq!(run.canary.status().iterations, 1);
    run.replay(&[
        (P, Progressing, 100, 0, 0), // tick 3: analysis passes, all traffic to canary
        (P, Promoting, 100, 0, 0),   // tick 4
        (P, Finalising, 0, 100, 0),  // tick 5
        (P, Succeeded, 0, 100, 0),   // tick 6
    ]);
}

#[test]
fn blue_green_analysis_counts_failures_without_traffic() {
    let mut run = Run::istio(CanaryAnalysis { iterations: 3, threshold: 2, ..Default::default() });
    run.release(V2);
    run.replay(&[
        (P, Progressing, 0, 100, 0), // iteration 1 (pre-rollout)
        (F, Progressing, 0, 100, 1), // iterations > 0: the analysis runs against the canary
        (F, Progressing, 0, 100, 2),
        (P, Failed, 0, 100, 0),
    ]);
}

#[test]
fn blue_green_with_mirroring_mirrors_until_the_switch() {
    let mut run = Run::istio(CanaryAnalysis { iterations: 2, mirror: true, ..Default::default() });
    run.release(V2);
    let out = run.tick(P);
    assert_eq!(out.actions, [SetRoutes(Routes::new(100, 0, true))]);
    run.tick(P);
    assert_eq!(run.canary.routes(), Routes::new(100, 0, true));
    assert_eq!(run.canary.status().iterations, 2);
    let out = run.tick(P);
    assert_eq!(out.actions, [SetRoutes(Routes::CANARY)], "mirroring stops at the switch");
    run.replay(&[(P, Promoting, 100, 0, 0), (P, Finalising, 0, 100, 0), (P, Succeeded, 0, 100, 0)]);
}

/// §3.3 / upstream analysis-phases test: stepWeight 100, stepWeightPromotion 50:
/// weight 0 → 100 → Promoting(100) → Promoting(50) → Finalising(0) → Succeeded.
#[test]
fn canary_with_step_weight_promotion() {
    let mut run =
        Run::istio(CanaryAnalysis { step_weight: 100, step_weight_promotion: 50, ..Default::default() });
    run.release(V2);
    run.replay(&[
        (P, Progressing, 100, 0, 0),
        (P, Promoting, 100, 0, 0),
        (P, Promoting, 50, 50, 0),
        (P, Finalising, 0, 100, 0),
        (P, Succeeded, 0, 100, 0),
    ]);
}

#[test]
fn promotion_shift_survives_failing_checks() {
    // Once Promoting, checks are no longer run: a failing verdict changes nothing.
    let mut run =
        Run::istio(CanaryAnalysis { step_weight: 100, step_weight_promotion: 50, ..Default::default() });
    run.release(V2);
    run.replay(&[
        (P, Progressing, 100, 0, 0),
        (P, Promoting, 100, 0, 0),
        (F, Promoting, 50, 50, 0),
        (F, Finalising, 0, 100, 0),
        (F, Succeeded, 0, 100, 0),
    ]);
    assert_eq!(run.canary.status().canary_weight, 0);
}

#[test]
fn max_weight_overshoot_in_the_loop() {
    let mut run = Run::istio(analysis(20, 50, 1));
    run.release(V2);
    run.replay(&[
        (P, Progressing, 20, 80, 0),
        (P, Progressing, 40, 60, 0),
        (P, Progressing, 60, 40, 0), // 40 < 50: one more step, capped at 100, not at 50
        (P, Promoting, 60, 40, 0),
    ]);
}

#[test]
fn step_weights_in_the_loop() {
    let mut run = Run::istio(CanaryAnalysis { step_weights: vec![1, 2, 10, 80], ..Default::default() });
    run.release(V2);
    run.replay(&[
        (P, Progressing, 1, 99, 0),
        (P, Progressing, 2, 98, 0),
        (P, Progressing, 10, 90, 0),
        (P, Progressing, 80, 20, 0),
        (P, Promoting, 80, 20, 0),
    ]);
}

/// `TestScheduler_DeploymentMirroring`: 100/0 mirrored, then 90/10 unmirrored.
#[test]
fn canary_mirroring_runs_the_analysis_on_the_mirrored_step() {
    let mut run =
        Run::istio(CanaryAnalysis { step_weight: 10, mirror: true, threshold: 5, ..Default::default() });
    run.release(V2);
    run.tick(F); // pre-rollout: nothing reaches the canary yet, so no metrics
    assert_eq!((run.canary.routes(), run.canary.status().failed_checks), (Routes::new(100, 0, true), 0));
    run.tick(F); // mirrored traffic reaches the canary: the analysis runs
    assert_eq!((run.canary.routes(), run.canary.status().failed_checks), (Routes::new(100, 0, true), 1));
    run.tick(P);
    assert_eq!(run.canary.routes(), Routes::new(90, 10, false));
}

/// `TestScheduler_DeploymentABTesting` (iterations 10): matched traffic to the canary for
/// ten ticks, then promote.
#[test]
fn ab_testing_routes_matched_traffic_for_n_iterations() {
    let mut run = Run::istio(CanaryAnalysis { iterations: 10, has_match: true, ..Default::default() });
    run.release(V2);
    let out = run.tick(P);
    assert_eq!(out.actions, [SetRoutes(Routes::CANARY)]);
    for i in 2..=10 {
        let out = run.tick(P);
        assert_eq!(out.actions, [], "the route is written once");
        assert_eq!(run.canary.status().iterations, i);
        assert_eq!(run.state(), (Progressing, 100, 0, 0));
    }
    run.replay(&[(P, Promoting, 100, 0, 0), (P, Finalising, 0, 100, 0), (P, Succeeded, 0, 100, 0)]);
}

#[test]
fn a_new_revision_mid_analysis_restarts_it() {
    let mut run = timeline_run();
    run.replay(&[(P, Progressing, 10, 90, 0), (F, Progressing, 10, 90, 1), (P, Progressing, 20, 80, 1)]);
    run.target = V3;
    let out = run.tick(F);
    assert_eq!(out.events[0], Event::RevisionRestarted);
    assert_eq!(out.actions, [SetRoutes(Routes::PRIMARY)], "no scaling: the user's apply updates the canary");
    assert_eq!(run.state(), (Progressing, 0, 100, 0));
    run.replay(&[(F, Progressing, 10, 90, 0), (F, Progressing, 10, 90, 1)]);
}

#[test]
fn a_failed_canary_analyses_the_next_revision() {
    let mut run = Run::istio(analysis(10, 50, 1));
    run.release(V2);
    run.replay(&[(P, Progressing, 10, 90, 0), (F, Progressing, 10, 90, 1), (P, Failed, 0, 100, 0)]);
    assert_eq!(run.tick(P), TickOutput::default(), "the failed revision is not retried");
    let out = run.release(V3);
    assert_eq!(out.actions, [ScaleCanaryUp]);
}

/// Upstream quirk: in Failed, the new revision is recorded before the primary check, so a
/// tick that waits for the primary loses it.
#[test]
fn a_revision_seen_while_failed_and_primary_not_ready_is_lost() {
    let mut run = Run::istio(analysis(10, 50, 1));
    run.release(V2);
    run.replay(&[(P, Progressing, 10, 90, 0), (F, Progressing, 10, 90, 1), (P, Failed, 0, 100, 0)]);
    run.target = V3;
    let out = run.tick_with(NotReady, Ready, &[]);
    assert_eq!(out.events, [Event::WaitingForPrimary]);
    assert_eq!(run.tick(P), TickOutput::default());
    assert_eq!(run.canary.phase(), Failed);
}

#[test]
fn a_release_waits_for_the_primary() {
    let mut run = timeline_run();
    run.replay(&[(P, Progressing, 10, 90, 0), (P, Progressing, 20, 80, 0)]);
    run.replay(&[(P, Progressing, 30, 70, 0), (P, Progressing, 40, 60, 0), (P, Progressing, 50, 50, 0)]);
    run.replay(&[(P, Promoting, 50, 50, 0), (P, Finalising, 0, 100, 0), (P, Succeeded, 0, 100, 0)]);
    run.target = V3;
    let out = run.tick_with(NotReady, Ready, &[]);
    assert_eq!((out.events.as_slice(), run.canary.phase()), (&[Event::WaitingForPrimary][..], Succeeded));
    let out = run.tick_with(Ready, Ready, &[]);
    assert_eq!(out.actions, [ScaleCanaryUp], "from Succeeded the revision is still new");
}

#[test]
fn initialisation_waits_for_the_primary() {
    let mut canary = FlaggerCanary::new(CanarySpec::default());
    let input = |primary| TickInput { target: V1, primary, canary: Ready, checks: &[] };
    let out = canary.tick(input(NotReady));
    assert_eq!((out.actions, out.events), (vec![CreatePrimary], vec![Event::WaitingForPrimary]));
    assert_eq!(canary.phase(), Initializing);
    let out = canary.tick(input(Ready));
    assert_eq!(out.actions, [ScaleCanaryToZero, SetRoutes(Routes::PRIMARY)]);
    assert_eq!(out.events, [Event::PhaseChanged { from: Initializing, to: Initialized }]);
    assert_eq!(canary.tick(input(Ready)), TickOutput::default());
}

#[test]
fn skip_analysis_promotes_on_the_first_ready_tick() {
    let spec = CanarySpec { skip_analysis: true, analysis: analysis(10, 50, 5), ..Default::default() };
    let mut run = Run::new(spec);
    run.release(V2);
    let out = run.tick_with(NotReady, NotReady, &[F]);
    assert_eq!(out.events, [Event::WaitingForCanary], "the primary is not checked, the canary is");
    let out = run.tick_with(NotReady, Ready, &[F]);
    assert_eq!(out.actions, [Promote, ScaleCanaryToZero]);
    assert_eq!(run.state(), (Succeeded, 0, 100, 0));
}

/// The `kubernetes` provider: Blue/Green with 10 iterations, no route writes, and
/// promotion straight to Finalising.
#[test]
fn kubernetes_provider_is_blue_green_without_routes() {
    let spec =
        CanarySpec { provider: Provider::Kubernetes, analysis: analysis(10, 50, 2), ..Default::default() };
    let mut run = Run::new(spec);
    run.release(V2);
    let mut phases = Vec::new();
    for _ in 0..14 {
        let out = run.tick(P);
        assert!(!out.actions.iter().any(|a| matches!(a, SetRoutes(_))), "{out:?}");
        phases.push(run.canary.phase());
    }
    let mut expected = vec![Progressing; 11];
    expected.extend([Promoting, Finalising, Succeeded]);
    assert_eq!(phases, expected);
}

#[test]
fn routes_display_as_trace_messages() {
    assert_eq!(Routes::new(90, 10, false).to_string(), "canary 10% stable 90%");
    let e = Event::RolledBack { cause: RollbackCause::FailedChecks, failed_checks: 5 };
    assert_eq!((e.reason(), e.to_string()), ("Rollback", "rolling back: 5 failed checks".to_string()));
    let e = Event::PhaseChanged { from: Initialized, to: Progressing };
    assert_eq!(e.to_string(), "Initialized -> Progressing");
}
