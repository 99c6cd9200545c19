//! One tick of Flagger's analysis loop (`advanceCanary` in `pkg/controller/scheduler.go`)
//! as a pure state machine.
//!
//! The world schedules a tick when the Canary is first seen and then every
//! [`CanaryAnalysis::interval`](super::spec::CanaryAnalysis::interval); it describes what it
//! observes in a [`TickInput`] and applies the returned [`Action`]s in order. The state kept
//! between ticks is what upstream keeps in the Canary status (phase, canary weight, failed
//! checks, iterations, the last applied spec) and in the `VirtualService` it owns (the
//! routes; only Flagger writes them, so they live here).
//!
//! One tick, in upstream order (`controllers.md` §3.2):
//! 1. Initializing: create the primary, wait for it, scale the canary to zero, route all to
//!    the primary → Initialized.
//! 2. Initialized/Succeeded/Failed with an unchanged target: nothing to do.
//! 3. Primary readiness: wait, or roll back when it is stuck.
//! 4. A new revision outside an analysis: scale the canary up → Progressing; end of tick.
//! 5. A new revision during Progressing/WaitingPromotion: all traffic back to the primary,
//!    status reset; end of tick.
//! 6. Canary readiness: wait (no failed check), or roll back when stuck.
//! 7. `skipAnalysis`: promote at once → Succeeded.
//! 8. Promoting: shift traffic back to the (now updated) primary; Finalising: scale the
//!    canary to zero → Succeeded.
//! 9. Failed checks ≥ threshold: roll back.
//! 10. No traffic at the canary yet: pre-rollout hooks; otherwise the analysis (rollout
//!     hooks, then metrics); a failure counts one failed check and ends the tick.
//! 11. The strategy step: A/B testing, Blue/Green or a canary weight increase / promotion.
//!
//! **Not modelled yet:** webhooks other than through `checks`. Confirm-rollout,
//! confirm-traffic-increase and confirm-promotion gates always approve (so the Waiting and
//! WaitingPromotion phases are never entered), pre-rollout hooks always pass, rollback hooks
//! never fire and post-rollout/event hooks do nothing. Rollout hooks belong at the front of
//! `checks`. Also not modelled: HPAs, `suspend`, session affinity and manual traffic control.

use super::ready::Readiness;
use super::spec::{CanarySpec, Provider, Strategy, TOTAL_WEIGHT};
use super::weights::{self, PromotionStep, Routes};

/// `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Initializing,
    Initialized,
    /// Waiting for confirm-rollout approval (never entered: the gate always approves).
    Waiting,
    Progressing,
    /// Waiting for confirm-promotion approval (never entered: the gate always approves).
    WaitingPromotion,
    Promoting,
    Finalising,
    Succeeded,
    Failed,
}

impl Phase {
    /// Upstream's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Initializing => "Initializing",
            Phase::Initialized => "Initialized",
            Phase::Waiting => "Waiting",
            Phase::Progressing => "Progressing",
            Phase::WaitingPromotion => "WaitingPromotion",
            Phase::Promoting => "Promoting",
            Phase::Finalising => "Finalising",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    /// The phases in which a new revision restarts the analysis instead of starting one.
    fn analysing(self) -> bool {
        matches!(self, Phase::Progressing | Phase::WaitingPromotion)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check this tick: a rollout webhook or a metric against its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The query returned nothing or NaN (`ErrNoValuesFound`, e.g. a canary without
    /// traffic): upstream halts advancement and counts it as a failed check.
    NoData,
}

/// What the world observed when the tick fires.
#[derive(Clone, Copy, Debug)]
pub struct TickInput<'a> {
    /// Identity of the target Deployment's pod template together with its ConfigMaps and
    /// Secrets (upstream hashes them): a value Flagger has not applied yet is a new revision.
    pub target: u32,
    /// `IsPrimaryReady` on `<target>-primary` (see [`super::ready::primary_readiness`]).
    pub primary: Readiness,
    /// `IsCanaryReady` on the target (see [`super::ready::workload_readiness`]).
    pub canary: Readiness,
    /// Verdicts in upstream order (rollout webhooks, builtin metrics, custom metrics), used
    /// only if the tick runs the analysis; the first that is not `Pass` fails the tick.
    pub checks: &'a [Verdict],
}

/// A write the controller asks the world to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create `<target>-primary` as a copy of the target (replicas: the target's if
    /// positive, else 1). Emitted on the first tick only.
    CreatePrimary,
    /// Set the target (canary) Deployment's replicas to 0.
    ScaleCanaryToZero,
    /// Scale the target up from zero (`ScaleFromZero`; the count is
    /// [`super::ready::scale_from_zero_replicas`]).
    ScaleCanaryUp,
    /// Write the route weights (the `VirtualService`); emitted when they change.
    SetRoutes(Routes),
    /// Copy the target's pod template and configs to the primary, which then rolls out.
    Promote,
}

/// Why Flagger rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollbackCause {
    /// Failed checks reached the threshold.
    FailedChecks,
    /// The primary Deployment exceeded its progress deadline.
    PrimaryStuck,
    /// The canary Deployment exceeded its progress deadline.
    CanaryStuck,
}

/// Something worth a line in the trace (`reason`, then the message by `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    PhaseChanged {
        from: Phase,
        to: Phase,
    },
    /// A new revision outside an analysis: the canary is scaled up.
    NewRevision,
    /// A new revision during the analysis: it starts over.
    RevisionRestarted,
    WaitingForPrimary,
    WaitingForCanary,
    /// Weight 0 and no iterations yet: pre-rollout hooks instead of metrics.
    AnalysisStarted,
    /// Check number `check` (index into `checks`) did not pass.
    CheckFailed {
        check: usize,
        verdict: Verdict,
        failed_checks: u32,
        threshold: u32,
    },
    WeightAdvanced(Routes),
    IterationAdvanced {
        iteration: u32,
        of: u32,
    },
    /// Blue/Green: all traffic to the canary before promotion.
    RoutedToCanary,
    /// The canary's template is copied to the primary.
    Promoted,
    /// Promoting with `stepWeightPromotion`: the primary's share grows.
    PrimaryWeightAdvanced(Routes),
    RoutedToPrimary,
    PromotionCompleted,
    /// `skipAnalysis`: promoted without analysis.
    AnalysisSkipped,
    RolledBack {
        cause: RollbackCause,
        failed_checks: u32,
    },
}

impl Event {
    /// A short reason for the trace's `reason` column.
    pub fn reason(&self) -> &'static str {
        match self {
            Event::PhaseChanged { .. } => "Phase",
            Event::NewRevision | Event::RevisionRestarted => "NewRevision",
            Event::WaitingForPrimary | Event::WaitingForCanary => "Waiting",
            Event::AnalysisStarted => "AnalysisStarted",
            Event::CheckFailed { .. } => "CheckFailed",
            Event::WeightAdvanced(_) | Event::PrimaryWeightAdvanced(_) => "Advance",
            Event::IterationAdvanced { .. } => "Iteration",
            Event::RoutedToCanary | Event::RoutedToPrimary => "Route",
            Event::Promoted | Event::PromotionCompleted | Event::AnalysisSkipped => "Promotion",
            Event::RolledBack { .. } => "Rollback",
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::PhaseChanged { from, to } => write!(f, "{from} -> {to}"),
            Event::NewRevision => write!(f, "new revision detected, scaling up the canary"),
            Event::RevisionRestarted => write!(f, "new revision detected, restarting the analysis"),
            Event::WaitingForPrimary => write!(f, "primary not ready"),
            Event::WaitingForCanary => write!(f, "canary not ready"),
            Event::AnalysisStarted => write!(f, "starting canary analysis"),
            Event::CheckFailed { check, verdict, failed_checks, threshold } => {
                let why = if *verdict == Verdict::NoData { "no values found" } else { "failed" };
                write!(f, "halt advancement: check {check} {why} ({failed_checks}/{threshold})")
            }
            Event::WeightAdvanced(r) => write!(f, "advance canary weight {}", r.canary),
            Event::IterationAdvanced { iteration, of } => write!(f, "advance iteration {iteration}/{of}"),
            Event::RoutedToCanary => write!(f, "routing all traffic to canary"),
            Event::Promoted => write!(f, "copying canary template to primary"),
            Event::PrimaryWeightAdvanced(r) => write!(f, "advance primary weight {}", r.primary),
            Event::RoutedToPrimary => write!(f, "routing all traffic to primary"),
            Event::PromotionCompleted => write!(f, "promotion completed, scaling down canary"),
            Event::AnalysisSkipped => write!(f, "analysis skipped, promotion completed"),
            Event::RolledBack { cause, failed_checks } => match cause {
                RollbackCause::FailedChecks => write!(f, "rolling back: {failed_checks} failed checks"),
                RollbackCause::PrimaryStuck => write!(f, "rolling back: primary progress deadline exceeded"),
                RollbackCause::CanaryStuck => write!(f, "rolling back: canary progress deadline exceeded"),
            },
        }
    }
}

/// What one tick asks for, in order, and what it reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickOutput {
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
}

/// `status` of the Canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub phase: Phase,
    /// `status.canaryWeight` (0 once Promoting, even while the routes still split).
    pub canary_weight: u32,
    /// Cumulative for the analysis; reset only when an analysis starts or restarts (and
    /// by the status write of a rollback).
    pub failed_checks: u32,
    pub iterations: u32,
}

/// One Canary's controller state.
#[derive(Clone, Debug)]
pub struct FlaggerCanary {
    spec: CanarySpec,
    status: Status,
    /// The routes last written (Istio); ignored for the `kubernetes` provider.
    routes: Routes,
    /// `status.lastAppliedSpec`: the target revision Flagger last recorded.
    last_applied: Option<u32>,
    primary_created: bool,
}

impl FlaggerCanary {
    /// A Canary just applied: phase Initializing, nothing created yet.
    pub fn new(spec: CanarySpec) -> Self {
        let status = Status { phase: Phase::Initializing, canary_weight: 0, failed_checks: 0, iterations: 0 };
        Self { spec, status, routes: Routes::PRIMARY, last_applied: None, primary_created: false }
    }

    pub fn spec(&self) -> &CanarySpec {
        &self.spec
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn phase(&self) -> Phase {
        self.status.phase
    }

    /// Time between ticks (`GetAnalysisInterval`).
    pub fn interval(&self) -> crate::engine::SimTime {
        self.spec.analysis.interval()
    }

    /// The routes as the router reports them (`GetRoutes`). The `kubernetes` provider's
    /// `NopRouter` reports all traffic at the canary once an iteration has run.
    pub fn routes(&self) -> Routes {
        match self.spec.provider {
            Provider::Istio => self.routes,
            Provider::Kubernetes if self.status.iterations > 0 => Routes::CANARY,
            Provider::Kubernetes => Routes::PRIMARY,
        }
    }

    /// One run of `advanceCanary`.
    pub fn tick(&mut self, input: TickInput<'_>) -> TickOutput {
        let mut out = TickOutput::default();
        self.advance(&input, &mut out);
        out
    }

    /// Steps 1–7 of the module docs; each early return ends the tick, as upstream's do.
    fn advance(&mut self, input: &TickInput<'_>, out: &mut TickOutput) {
        if self.status.phase == Phase::Initializing && !self.initialize(input, out) {
            return;
        }
        if !self.should_advance(input.target) {
            return;
        }
        if !self.spec.skip_analysis && !self.primary_ready(input, out) {
            return;
        }
        if !self.in_analysis() {
            return self.start(input.target, out);
        }
        if self.status.phase.analysing() && self.last_applied != Some(input.target) {
            return self.restart(input.target, out);
        }
        if !self.canary_ready(input, out) {
            return;
        }
        if self.spec.skip_analysis {
            return self.skip_analysis(out);
        }
        self.analyse(input, out);
    }

    /// Steps 8–11: promotion phases, the threshold, the checks and the strategy step.
    fn analyse(&mut self, input: &TickInput<'_>, out: &mut TickOutput) {
        match self.status.phase {
            Phase::Promoting => return self.promotion_shift(out),
            Phase::Finalising => return self.finalise(out),
            _ => {}
        }
        if self.status.phase.analysing() && self.status.failed_checks >= self.spec.analysis.threshold() {
            return self.rollback(RollbackCause::FailedChecks, input.target, out);
        }
        if !self.run_checks(input.checks, out) {
            return;
        }
        match self.spec.strategy() {
            Strategy::ABTesting { iterations } => self.run_ab(iterations, out),
            Strategy::BlueGreen { iterations } => self.run_blue_green(iterations, out),
            Strategy::Canary => self.run_canary(out),
        }
    }

    /// `Initialize` + `setPhaseInitialized`: the primary must be ready (unless analysis is
    /// skipped) before the canary is scaled to zero and the route written. A stuck primary
    /// is waited on like a slow one here.
    fn initialize(&mut self, input: &TickInput<'_>, out: &mut TickOutput) -> bool {
        if !self.primary_created {
            self.primary_created = true;
            out.actions.push(Action::CreatePrimary);
        }
        if !self.spec.skip_analysis && input.primary != Readiness::Ready {
            out.events.push(Event::WaitingForPrimary);
            return false;
        }
        out.actions.push(Action::ScaleCanaryToZero);
        if self.spec.provider == Provider::Istio {
            self.routes = Routes::PRIMARY;
            out.actions.push(Action::SetRoutes(Routes::PRIMARY));
        }
        self.sync_status(Phase::Initialized, input.target, out);
        true
    }

    /// `shouldAdvance`: always during an analysis or promotion; otherwise only for a new
    /// revision. In Failed, upstream first records the current revision as applied and then
    /// compares against the value it read before, so a revision seen in a tick that ends
    /// early (a primary not ready) is never seen again.
    fn should_advance(&mut self, target: u32) -> bool {
        use Phase::*;
        match self.status.phase {
            Progressing | Waiting | WaitingPromotion | Promoting | Finalising => true,
            Failed => self.last_applied.replace(target) != Some(target),
            Initializing | Initialized | Succeeded => self.last_applied != Some(target),
        }
    }

    /// `IsPrimaryReady`: wait, or roll back when stuck.
    fn primary_ready(&mut self, input: &TickInput<'_>, out: &mut TickOutput) -> bool {
        match input.primary {
            Readiness::Ready => true,
            Readiness::NotReady => {
                out.events.push(Event::WaitingForPrimary);
                false
            }
            Readiness::Stuck => {
                self.rollback(RollbackCause::PrimaryStuck, input.target, out);
                false
            }
        }
    }

    /// `IsCanaryReady`: not ready ends the tick without a failed check; stuck rolls back.
    fn canary_ready(&mut self, input: &TickInput<'_>, out: &mut TickOutput) -> bool {
        match input.canary {
            Readiness::Ready => true,
            Readiness::NotReady => {
                out.events.push(Event::WaitingForCanary);
                false
            }
            Readiness::Stuck => {
                self.rollback(RollbackCause::CanaryStuck, input.target, out);
                false
            }
        }
    }

    /// `checkCanaryStatus` lets these phases through; the others start an analysis.
    fn in_analysis(&self) -> bool {
        use Phase::*;
        matches!(self.status.phase, Progressing | WaitingPromotion | Promoting | Finalising)
    }

    /// A new revision: (confirm-rollout approves) scale the canary up, status Progressing.
    fn start(&mut self, target: u32, out: &mut TickOutput) {
        out.events.push(Event::NewRevision);
        out.actions.push(Action::ScaleCanaryUp);
        self.sync_status(Phase::Progressing, target, out);
    }

    /// A new revision mid-analysis: all traffic back to the primary and a fresh status.
    fn restart(&mut self, target: u32, out: &mut TickOutput) {
        out.events.push(Event::RevisionRestarted);
        self.set_routes(Routes::PRIMARY, out);
        self.sync_status(Phase::Progressing, target, out);
    }

    /// `shouldSkipAnalysis`: all traffic to the primary, promote, canary to zero, done.
    fn skip_analysis(&mut self, out: &mut TickOutput) {
        self.set_routes(Routes::PRIMARY, out);
        out.actions.push(Action::Promote);
        out.actions.push(Action::ScaleCanaryToZero);
        self.set_phase(Phase::Succeeded, out);
        out.events.push(Event::AnalysisSkipped);
    }

    /// `runPromotionTrafficShift`. The primary was already told to roll out; this tick
    /// only runs once it is ready (step 3), so traffic moves back to an updated primary.
    fn promotion_shift(&mut self, out: &mut TickOutput) {
        if self.spec.provider == Provider::Kubernetes {
            return self.set_phase(Phase::Finalising, out);
        }
        match weights::promotion_step(self.spec.analysis.step_weight_promotion, self.routes()) {
            PromotionStep::Finish(routes) => {
                self.set_routes(routes, out);
                out.events.push(Event::RoutedToPrimary);
                self.set_phase(Phase::Finalising, out);
            }
            PromotionStep::Shift(routes) => {
                self.set_routes(routes, out);
                self.status.canary_weight = routes.canary;
                out.events.push(Event::PrimaryWeightAdvanced(routes));
            }
            PromotionStep::Stalled => {}
        }
    }

    /// Finalising: the canary is scaled to zero and the release has succeeded.
    fn finalise(&mut self, out: &mut TickOutput) {
        out.actions.push(Action::ScaleCanaryToZero);
        self.set_phase(Phase::Succeeded, out);
        out.events.push(Event::PromotionCompleted);
    }

    /// `rollback`: all traffic to the primary, canary to zero, status Failed. The status
    /// write replaces the whole status, so failed checks read 0 afterwards; the event keeps
    /// the count that caused it.
    fn rollback(&mut self, cause: RollbackCause, target: u32, out: &mut TickOutput) {
        out.events.push(Event::RolledBack { cause, failed_checks: self.status.failed_checks });
        self.set_routes(Routes::PRIMARY, out);
        out.actions.push(Action::ScaleCanaryToZero);
        self.sync_status(Phase::Failed, target, out);
    }

    /// Pre-rollout hooks while nothing reaches the canary (weight 0, no iteration, no
    /// mirror); the analysis otherwise. A failure counts one failed check.
    fn run_checks(&mut self, checks: &[Verdict], out: &mut TickOutput) -> bool {
        let routes = self.routes();
        let mirrored = self.spec.analysis.mirror && routes.mirrored;
        if routes.canary == 0 && self.status.iterations == 0 && !mirrored {
            out.events.push(Event::AnalysisStarted);
            return true;
        }
        let Some((check, &verdict)) = checks.iter().enumerate().find(|&(_, &v)| v != Verdict::Pass) else {
            return true;
        };
        self.status.failed_checks += 1;
        let (failed_checks, threshold) = (self.status.failed_checks, self.spec.analysis.threshold());
        out.events.push(Event::CheckFailed { check, verdict, failed_checks, threshold });
        false
    }

    /// `runCanary`: raise the canary's weight while it is below maxWeight, else promote.
    /// (Confirm-traffic-increase and confirm-promotion gates approve.)
    fn run_canary(&mut self, out: &mut TickOutput) {
        let analysis = &self.spec.analysis;
        let routes = self.routes();
        if weights::next_step_weight(analysis, routes.canary) == 0 {
            return;
        }
        if routes.canary >= analysis.max_weight() {
            return self.promote(out);
        }
        let next = weights::increase(analysis, routes);
        self.set_routes(next, out);
        self.status.canary_weight = next.canary;
        out.events.push(Event::WeightAdvanced(next));
    }

    /// `runAB`: matched traffic to the canary for `n` successful ticks, then promote.
    fn run_ab(&mut self, n: u32, out: &mut TickOutput) {
        if n > self.status.iterations {
            self.set_routes(Routes::CANARY, out);
            self.next_iteration(n, out);
        } else if n == self.status.iterations {
            self.promote(out);
        }
    }

    /// `runBlueGreen`: `n` successful ticks (mirroring all traffic if `mirror`), then all
    /// traffic to the canary for one more tick, then promote.
    fn run_blue_green(&mut self, n: u32, out: &mut TickOutput) {
        let mesh = self.spec.provider != Provider::Kubernetes;
        if n > self.status.iterations {
            if mesh && self.spec.analysis.mirror && !self.routes().mirrored {
                self.set_routes(Routes::new(TOTAL_WEIGHT, 0, true), out);
            }
            self.next_iteration(n, out);
        } else if n == self.status.iterations {
            if mesh {
                self.set_routes(Routes::CANARY, out);
                out.events.push(Event::RoutedToCanary);
            }
            self.status.iterations += 1;
        } else {
            self.promote(out);
        }
    }

    fn next_iteration(&mut self, n: u32, out: &mut TickOutput) {
        self.status.iterations += 1;
        out.events.push(Event::IterationAdvanced { iteration: self.status.iterations, of: n });
    }

    /// Copy the canary to the primary and move to Promoting; the routes stay as they are
    /// until the primary is ready again.
    fn promote(&mut self, out: &mut TickOutput) {
        out.actions.push(Action::Promote);
        out.events.push(Event::Promoted);
        self.set_phase(Phase::Promoting, out);
    }

    /// `SetRoutes`, reported when the weights change (the `NopRouter` writes nothing).
    fn set_routes(&mut self, routes: Routes, out: &mut TickOutput) {
        if self.spec.provider == Provider::Istio && self.routes != routes {
            self.routes = routes;
            out.actions.push(Action::SetRoutes(routes));
        }
    }

    /// `SetStatusPhase`: leaving the Progressing/Waiting phases clears the status weight and
    /// iterations (WaitingPromotion keeps `iterations − 1`).
    fn set_phase(&mut self, phase: Phase, out: &mut TickOutput) {
        if !matches!(phase, Phase::Progressing | Phase::Waiting) {
            self.status.canary_weight = 0;
            self.status.iterations = match phase {
                Phase::WaitingPromotion => self.spec.analysis.iterations.saturating_sub(1),
                _ => 0,
            };
        }
        self.change_phase(phase, out);
    }

    /// `SyncStatus` with a fresh status: weight, failed checks and iterations 0, and the
    /// current target recorded as applied.
    fn sync_status(&mut self, phase: Phase, target: u32, out: &mut TickOutput) {
        self.status.canary_weight = 0;
        self.status.failed_checks = 0;
        self.status.iterations = 0;
        self.last_applied = Some(target);
        self.change_phase(phase, out);
    }

    fn change_phase(&mut self, to: Phase, out: &mut TickOutput) {
        let from = std::mem::replace(&mut self.status.phase, to);
        if from != to {
            out.events.push(Event::PhaseChanged { from, to });
        }
    }
}
