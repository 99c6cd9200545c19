//! The Argo Rollouts controller as a state machine over ReplicaSet views (`controllers.md` §2).
//!
//! The world owns pods, ReplicaSets, Services and the router. It calls
//! [`RolloutController::reconcile`] with a view of every RS the Rollout owns and applies the
//! returned [`RolloutAction`]s in order; the controller never sees a pod. The state kept
//! between reconciles is what upstream keeps in the Rollout's status (`currentPodHash`,
//! `stableRS`, `currentStepIndex`, pause conditions, `controllerPause`, `abort`,
//! `promoteFull`, the router weights, the Services' selectors, `scaleUpPreviewCheckPoint`) plus
//! the `scale-down-deadline` annotations, which live on ReplicaSets upstream but are kept here
//! (and reported as actions) because [`ReplicaSetView`] does not carry them.
//!
//! One reconcile follows `rolloutCanary` / `rolloutBlueGreen` (`rollout/canary.go`,
//! `rollout/bluegreen.go`, `rollout/sync.go`):
//!
//! - **Canary.** A template change only resets the status (step 0, or past every step when the
//!   template is the stable one) and requeues. Otherwise: create the new RS if missing (already
//!   at its computed size); drop stale scale-down deadlines; point the stable and canary Services
//!   (traffic routing only); write the router weight ([`steps::router_weight`]); the analysis
//!   runs (a pause or abort they decide skips the scaling); scale the stable RS, else the new RS
//!   (with the abort delay), else the other RSs (at most one of the three per reconcile); add
//!   the pause condition if on a pause step; then
//!   the status: full promotion (all steps done — judged on the index *before* this reconcile —
//!   and the new RS fully available), the abort index, or at most one step completed.
//! - **Blue-green.** A template change creates the new RS and requeues. Then: scale the new RS
//!   (preview size, or full, or the abort delay); scale down old RSs not behind the active
//!   Service once their deadline passed; point the preview Service; the pre-promotion run; once
//!   the new RS is ready, the pre-promotion gate, the promotion pause, the active Service switch
//!   (back to the stable on abort); the post-promotion run; and the stable switch. The previous
//!   active RS gets its deadline when the active Service leaves it.
//! - **Both.** The progress deadline ([`steps::progress_deadline_applies`],
//!   [`steps::rollout_timed_out`]; with `progressDeadlineAbort` it aborts), then the phase.
//!
//! Status changes that upstream persists and then reconciles again on at once (a step
//! completed, a promotion, a template change, an abort by the progress deadline or by an
//! analysis run) ask for a
//! requeue at `now`: the world should reconcile again at the same instant, after applying the
//! actions. Each such chain is finite (at most one step per reconcile). Time-based waits (a
//! timed pause, `autoPromotionSeconds`, a scale-down deadline, the progress
//! deadline) ask for a requeue at the first instant the wait is over. Pod availability changes
//! are the world's cue to reconcile too, as for the Deployment controller.
//!
//! **AnalysisRuns** (`rollout/analysis.go`) are run by the world: the controller asks for one
//! with [`RolloutAction::StartAnalysis`], stops one with [`RolloutAction::TerminateAnalysis`],
//! and learns each run's phase through [`RolloutController::set_analysis_phase`] (then the world
//! reconciles). There is at most one run per [`AnalysisKind`]. A run is reconciled only while the
//! rollout is updating: when aborted, fully promoting, rolling back within a scale-down delay, or
//! once the stable is the current template, every unfinished run is terminated. Otherwise:
//!
//! - a canary `analysis` step's run starts when the step is reached (not while a pause condition
//!   exists) and is terminated when the index leaves the step (`promote`);
//! - the background run starts with the update once the index reaches `startingStep`, and is
//!   terminated when the rollout completes;
//! - the blue-green pre-promotion run starts once the new RS is saturated behind the preview and
//!   gates the promotion pause and the active switch; the post-promotion run starts once the
//!   active Service selects the saturated new RS and gates `stableRS`. Either is terminated when
//!   its condition stops holding (a lost pod), and a terminated run counts as `Successful` (what
//!   upstream's AnalysisRun reports after `terminate`) — so a preview that loses a pod mid-run
//!   passes its gate once it is saturated again, as upstream.
//!
//! Phases: `Successful` completes the step or opens the gate; `Failed` or `Error` aborts
//! ([`AbortReason::Analysis`]); `Inconclusive` adds the `InconclusiveAnalysis` pause condition,
//! which holds all progress (no step completes, no blue-green pause or switch, no old RS scaled
//! down) until `promote` (which clears it; the next reconcile starts a fresh run of the same
//! kind, as upstream's `needsNewAnalysisRun`) or `abort`. A run's phase is reacted to at every
//! reconcile, so a `Failed` background run aborts whatever step the rollout is on.
//!
//! Not modelled: `spec.paused`, experiments, `setHeaderRoute` and `setMirrorRoute`, router weight and target-group verification, `scaleDownDelayRevisionLimit`,
//! `rollbackWindow`, `replicaProgressThreshold`, revision-history pruning (and the revision
//! bump of a re-used RS), Istio's DestinationRule
//! hash switch, and the unhealthy-replica cleanup of old RSs (`cleanupUnhealthyReplicas`).
//! An HPA changes `spec.replicas` through [`RolloutController::set_replicas`]; every reconcile
//! sizes stable and canary from the current value.

use super::bluegreen::{self, BlueGreenStatus};
use super::delays::{self, AbortScaleDown};
use super::spec::{BlueGreenStrategy, CanaryStep, CanaryStrategy, MAX_WEIGHT, RolloutSpec, RolloutStrategy};
use super::steps::{self, AnalysisPhase, AnalysisReaction, StepContext};
use super::{CanaryStatus, CanaryView, RsState, TrafficWeights};
use crate::controllers::deployment::{ReplicaSetView, SyncResult};
use crate::controllers::rolling::RsCounts;
use crate::engine::{SECOND, SimTime};
use std::sync::Arc;

/// A Service the Rollout manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceRole {
    /// Blue-green `activeService`.
    Active,
    /// Blue-green `previewService`.
    Preview,
    /// Canary `stableService` (traffic routing).
    Stable,
    /// Canary `canaryService` (traffic routing).
    Canary,
}

/// Which analysis run: the controller keeps at most one of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysisKind {
    /// A canary `analysis` step, at this step index.
    Step(usize),
    /// Canary background analysis (`canary.analysis`).
    Background,
    /// Blue-green `prePromotionAnalysis`.
    PrePromotion,
    /// Blue-green `postPromotionAnalysis`.
    PostPromotion,
}

/// A write the controller asks the world to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutAction {
    /// Create the RS for `template` with `replicas` and that revision. The world assigns the id.
    CreateReplicaSet { template: u32, replicas: i64, revision: u64 },
    /// Set `spec.replicas` of `rs` (was `from`).
    Scale { rs: u32, from: i64, to: i64 },
    /// Set the router's weights (traffic routing only), in percent; they sum to 100.
    SetTrafficWeight { canary: i64, stable: i64 },
    /// Point `service`'s selector at the pods of `rs`.
    SwitchService { service: ServiceRole, rs: u32 },
    /// Annotate `rs` with a scale-down deadline: it is scaled to 0 at the first reconcile at or
    /// after `at` (the controller keeps the deadline; this is for the world's record and trace).
    SetScaleDownDeadline { rs: u32, at: SimTime },
    /// Remove the scale-down deadline of `rs`.
    ClearScaleDownDeadline { rs: u32 },
    /// Create an AnalysisRun of `kind` from `templates`. It replaces any earlier run of that kind:
    /// phases reported for `kind` from now on are this run's. The world runs it and reports its
    /// phase with [`RolloutController::set_analysis_phase`].
    StartAnalysis { kind: AnalysisKind, templates: Vec<String> },
    /// Terminate the unfinished run of `kind` (`spec.terminate`). The controller counts it as
    /// `Successful` from now on and ignores later reports for `kind` until it starts a new run.
    TerminateAnalysis { kind: AnalysisKind },
}

/// The Rollout's `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutPhase {
    Progressing,
    Paused,
    Healthy,
    Degraded,
}

/// Why the controller paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// A canary `pause` step.
    CanaryPauseStep,
    /// Blue-green, before switching the active Service.
    BlueGreenPause,
    /// An analysis run was `Inconclusive`: held until `promote` or `abort`.
    InconclusiveAnalysis,
}

/// Why the rollout aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// `kubectl argo rollouts abort`.
    User,
    /// The progress deadline passed with `progressDeadlineAbort: true`.
    ProgressDeadline,
    /// An analysis run ended `Failed` or `Error`.
    Analysis { kind: AnalysisKind, phase: AnalysisPhase },
}

/// Something the trace should show, in the order it happened within a reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutEvent {
    /// A new pod template was seen: the status was reset to this step index.
    NewRevision { template: u32, step_index: usize },
    /// Canary step `index` (0-based) completed; `steps` in total.
    StepCompleted { index: usize, steps: usize },
    /// A pause condition was added.
    Paused(PauseReason),
    /// A pause condition was removed (promote, or `autoPromotionSeconds` ran out).
    Resumed(PauseReason),
    /// The router's weights were set.
    TrafficWeight { canary: i64, stable: i64 },
    /// An analysis run started.
    AnalysisStarted(AnalysisKind),
    /// The controller saw the run of this kind `Successful`.
    AnalysisSuccessful(AnalysisKind),
    /// The controller saw the run of this kind `Failed` (it aborts).
    AnalysisFailed(AnalysisKind),
    /// The controller saw the run of this kind end in `Error` (it aborts).
    AnalysisError(AnalysisKind),
    /// The controller saw the run of this kind `Inconclusive` (it pauses).
    AnalysisInconclusive(AnalysisKind),
    /// The controller terminated the unfinished run of this kind.
    AnalysisTerminated(AnalysisKind),
    /// The stable RS is now the current template (`RolloutCompleted`).
    Promoted { template: u32 },
    /// The rollout aborted.
    Aborted(AbortReason),
    /// Progressing=False, `ProgressDeadlineExceeded`.
    ProgressDeadlineExceeded,
    /// `status.phase` changed.
    Phase(RolloutPhase),
}

/// A pause condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pause {
    reason: PauseReason,
    started: SimTime,
}

/// An AnalysisRun the controller created, as far as it knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    kind: AnalysisKind,
    /// The phase last reported (`Pending` until the first report); `Successful` once terminated.
    phase: AnalysisPhase,
    /// Terminated by the controller: later reports are ignored.
    terminated: bool,
    /// The completed phase the controller has reacted to (and told as an event).
    noticed: Option<AnalysisPhase>,
}

impl Run {
    fn unfinished(&self) -> bool {
        !self.terminated && !completed(self.phase)
    }
}

/// `AnalysisPhase.Completed()`.
fn completed(phase: AnalysisPhase) -> bool {
    !matches!(phase, AnalysisPhase::Pending | AnalysisPhase::Running)
}

/// What counts as progress (`RolloutProgressing`): any change of these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ProgressMark {
    updated: i64,
    ready: i64,
    available: i64,
    old: i64,
    step_index: usize,
    stable: Option<u32>,
    active: Option<u32>,
    preview: Option<u32>,
}

/// One Rollout's controller state.
pub struct RolloutController {
    spec: Arc<RolloutSpec>,
    /// `spec.template`.
    template: u32,
    /// `status.currentPodHash`: the template the status was last reset for.
    current: Option<u32>,
    /// `status.stableRS`, as a template.
    stable: Option<u32>,
    step_index: usize,
    aborted: bool,
    /// An abort not yet reported.
    abort_event: Option<AbortReason>,
    promote_full: bool,
    /// The `CanaryPauseStep` or `BlueGreenPause` condition.
    pause: Option<Pause>,
    /// Start of the `InconclusiveAnalysis` pause condition, if present.
    inconclusive: Option<SimTime>,
    controller_pause: bool,
    weights: Option<TrafficWeights>,
    /// The analysis runs of the current update (`status.canary.current*AnalysisRunStatus`,
    /// `status.blueGreen.*PromotionAnalysisRunStatus`), at most one per kind.
    runs: Vec<Run>,
    /// Runs dropped outside a reconcile (retry) or by a template change, whose termination the
    /// next actions must still carry.
    retired: Vec<AnalysisKind>,
    /// Selectors of the managed Services (RS ids).
    services: [Option<u32>; 4],
    checkpoint: bool,
    /// Scale-down deadlines by RS id.
    deadlines: Vec<(u32, SimTime)>,
    /// Blue-green: the previous active RS whose deadline waits for the post-promotion analysis.
    awaiting_post_analysis: Option<u32>,
    /// Blue-green: the active Service selects the new RS (as of the last reconcile).
    active_on_new: bool,
    last_progress: Option<SimTime>,
    mark: Option<ProgressMark>,
    timed_out: bool,
    phase: RolloutPhase,
    /// Scratch of one reconcile: the earliest requeue asked for.
    requeue: Option<SimTime>,
}

/// The RSs of one reconcile, by index into `rss`.
struct Survey {
    new: Option<usize>,
    stable: Option<usize>,
    /// Neither new nor stable, oldest first.
    others: Vec<usize>,
    next_revision: u64,
}

fn state(rs: &ReplicaSetView) -> RsState {
    RsState { spec: rs.spec, replicas: rs.replicas, available: rs.available }
}

fn service_slot(role: ServiceRole) -> usize {
    match role {
        ServiceRole::Active => 0,
        ServiceRole::Preview => 1,
        ServiceRole::Stable => 2,
        ServiceRole::Canary => 3,
    }
}

impl RolloutController {
    /// A controller for `spec` whose pod template is `template`.
    pub fn new(spec: &RolloutSpec, template: u32) -> Self {
        Self {
            spec: Arc::new(spec.clone()),
            template,
            current: None,
            stable: None,
            step_index: 0,
            aborted: false,
            abort_event: None,
            promote_full: false,
            pause: None,
            inconclusive: None,
            controller_pause: false,
            weights: None,
            runs: Vec::new(),
            retired: Vec::new(),
            services: [None; 4],
            checkpoint: false,
            deadlines: Vec::new(),
            awaiting_post_analysis: None,
            active_on_new: false,
            last_progress: None,
            mark: None,
            timed_out: false,
            phase: RolloutPhase::Progressing,
            requeue: None,
        }
    }

    /// `spec.replicas` (what an HPA scales): the next reconcile sizes the stable and canary
    /// ReplicaSets from it, as every reconcile does.
    pub fn set_replicas(&mut self, replicas: i64) {
        if replicas != self.spec.replicas {
            Arc::make_mut(&mut self.spec).replicas = replicas;
        }
    }

    pub fn replicas(&self) -> i64 {
        self.spec.replicas
    }

    /// The user applies a pod template (a new release, or a rollback to an older one).
    pub fn set_template(&mut self, template: u32) {
        self.template = template;
    }

    /// `kubectl argo rollouts promote`: removes every pause condition; when there is none,
    /// skips the current canary step (an analysis step's run is then terminated). After an
    /// `Inconclusive` pause the next reconcile starts a fresh run of the same kind.
    pub fn promote(&mut self) {
        if self.paused() {
            self.pause = None;
            self.inconclusive = None;
        } else {
            let steps = self.spec.canary().map_or(0, |c| c.steps.len());
            if !self.aborted && self.step_index < steps {
                self.step_index += 1;
            }
        }
    }

    /// `kubectl argo rollouts promote --full`: skip every remaining step, analysis and pause.
    pub fn promote_full(&mut self) {
        self.promote_full = true;
        self.pause = None;
        self.inconclusive = None;
    }

    /// The phase of the run of `kind`, as the world measured it; the world calls this, then
    /// reconciles. Ignored when the controller has no run of `kind` or terminated it (a late
    /// report of a run it no longer follows); a completed phase is final.
    pub fn set_analysis_phase(&mut self, kind: AnalysisKind, phase: AnalysisPhase) {
        if let Some(run) = self.runs.iter_mut().find(|r| r.kind == kind)
            && run.unfinished()
        {
            run.phase = phase;
        }
    }

    /// The phase of the run of `kind` as the controller knows it (`Successful` once it
    /// terminated the run), if it has one.
    pub fn analysis_phase(&self, kind: AnalysisKind) -> Option<AnalysisPhase> {
        self.run(kind).map(|r| r.phase)
    }

    /// `kubectl argo rollouts abort`. Takes effect at the next reconcile.
    pub fn abort(&mut self) {
        if !self.aborted {
            self.aborted = true;
            self.abort_event = Some(AbortReason::User);
        }
    }

    /// `kubectl argo rollouts retry`: clears the abort; the canary starts again at step 0.
    pub fn retry(&mut self) {
        if self.aborted {
            self.clear_run_state();
            self.last_progress = None;
            if self.stable != Some(self.template) {
                self.step_index = 0;
            }
        }
    }

    pub fn template(&self) -> u32 {
        self.template
    }

    /// `status.stableRS`, as a template.
    pub fn stable_template(&self) -> Option<u32> {
        self.stable
    }

    /// `status.currentStepIndex` (the number of steps once all are done).
    pub fn step_index(&self) -> usize {
        self.step_index
    }

    pub fn phase(&self) -> RolloutPhase {
        self.phase
    }

    pub fn aborted(&self) -> bool {
        self.aborted
    }

    /// Whether the Progressing condition says `ProgressDeadlineExceeded`.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether a pause condition is present.
    pub fn paused(&self) -> bool {
        self.pause.is_some() || self.inconclusive.is_some()
    }

    /// The pause conditions present, in the order upstream would list them.
    pub fn pause_reasons(&self) -> impl Iterator<Item = PauseReason> + '_ {
        let inconclusive = self.inconclusive.map(|_| PauseReason::InconclusiveAnalysis);
        self.pause.map(|p| p.reason).into_iter().chain(inconclusive)
    }

    /// The RS a managed Service selects, if any.
    pub fn service(&self, role: ServiceRole) -> Option<u32> {
        self.services[service_slot(role)]
    }

    /// The scale-down deadline of `rs`, if it has one.
    pub fn scale_down_deadline(&self, rs: u32) -> Option<SimTime> {
        self.deadline(rs)
    }

    /// The router's weights as last written (traffic routing only).
    pub fn router_weights(&self) -> Option<TrafficWeights> {
        self.weights
    }

    /// The intended traffic split between the new (canary) and the stable version. With
    /// traffic routing, what the router was told; without, the current `setWeight` — the pods'
    /// actual share may differ (`controllers.md` §2.3). Blue-green: all to whichever RS the
    /// active Service selects (canary = the new RS).
    pub fn intended_weights(&self) -> TrafficWeights {
        let split = |canary: i64| TrafficWeights { canary, stable: MAX_WEIGHT - canary };
        match &self.spec.strategy {
            RolloutStrategy::Canary(c) if c.traffic_routing => self.weights.unwrap_or(split(0)),
            RolloutStrategy::Canary(c) => {
                if self.stable.is_none() || self.stable == Some(self.template) {
                    split(0)
                } else {
                    split(steps::current_set_weight(c, &self.canary_status()))
                }
            }
            RolloutStrategy::BlueGreen(_) => {
                let promoted = self.stable.is_none() || self.stable == Some(self.template);
                split(if !promoted && self.active_on_new { MAX_WEIGHT } else { 0 })
            }
        }
    }

    /// One reconcile. `rss` are all RSs the Rollout owns, in any order. Actions to apply are
    /// pushed in order, and so are events.
    pub fn reconcile(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) -> SyncResult {
        self.requeue = None;
        self.flush_retired(actions, events);
        if let Some(reason) = self.abort_event.take() {
            events.push(RolloutEvent::Aborted(reason));
        }
        if self.aborted {
            // CalculatePauseStatus: an aborted rollout keeps no pause condition.
            self.clear_pause();
        }
        let spec = Arc::clone(&self.spec);
        match &spec.strategy {
            RolloutStrategy::Canary(c) => self.reconcile_canary(now, rss, c, actions, events),
            RolloutStrategy::BlueGreen(b) => self.reconcile_blue_green(now, rss, b, actions, events),
        }
        self.flush_retired(actions, events);
        SyncResult { requeue_at: self.requeue }
    }

    fn requeue_at(&mut self, at: SimTime) {
        self.requeue = Some(self.requeue.map_or(at, |r| r.min(at)));
    }

    fn deadline(&self, rs: u32) -> Option<SimTime> {
        self.deadlines.iter().find(|(id, _)| *id == rs).map(|&(_, at)| at)
    }

    fn set_deadline(&mut self, rs: u32, at: SimTime, actions: &mut Vec<RolloutAction>) {
        self.deadlines.retain(|(id, _)| *id != rs);
        self.deadlines.push((rs, at));
        actions.push(RolloutAction::SetScaleDownDeadline { rs, at });
    }

    fn clear_deadline(&mut self, rs: u32, actions: &mut Vec<RolloutAction>) {
        if self.deadline(rs).is_some() {
            self.deadlines.retain(|(id, _)| *id != rs);
            actions.push(RolloutAction::ClearScaleDownDeadline { rs });
        }
    }

    fn switch_service(&mut self, role: ServiceRole, rs: u32, actions: &mut Vec<RolloutAction>) -> bool {
        let slot = &mut self.services[service_slot(role)];
        if *slot == Some(rs) {
            return false;
        }
        *slot = Some(rs);
        actions.push(RolloutAction::SwitchService { service: role, rs });
        true
    }

    fn survey(&self, rss: &[ReplicaSetView]) -> Survey {
        let find = |template: Option<u32>| {
            let template = template?;
            (0..rss.len())
                .filter(|&i| rss[i].template == template)
                .min_by_key(|&i| (rss[i].created, rss[i].id))
        };
        let new = find(Some(self.template));
        let stable = find(self.stable);
        let mut others: Vec<usize> =
            (0..rss.len()).filter(|&i| Some(i) != new && Some(i) != stable).collect();
        others.sort_unstable_by_key(|&i| (rss[i].created, rss[i].id));
        let next_revision = rss.iter().map(|rs| rs.revision).max().unwrap_or(0) + 1;
        Survey { new, stable, others, next_revision }
    }

    fn clear_pause(&mut self) {
        self.pause = None;
        self.inconclusive = None;
        self.controller_pause = false;
    }

    /// What both a retry and a new template start afresh: no pause, no abort, no deadline,
    /// no analysis run (unfinished ones are terminated with the next actions).
    fn clear_run_state(&mut self) {
        self.clear_pause();
        self.aborted = false;
        self.abort_event = None;
        self.timed_out = false;
        for run in self.runs.drain(..) {
            if run.unfinished() {
                self.retired.push(run.kind);
            }
        }
    }

    /// `resetRolloutStatus` on a new template.
    fn reset_for_template(&mut self, now: SimTime, steps_len: usize, events: &mut Vec<RolloutEvent>) {
        self.current = Some(self.template);
        self.clear_run_state();
        self.promote_full = false;
        self.checkpoint = false;
        self.last_progress = Some(now);
        self.step_index = steps::index_after_template_change(steps_len, self.stable == Some(self.template));
        events.push(RolloutEvent::NewRevision { template: self.template, step_index: self.step_index });
        self.requeue_at(now);
    }

    fn run(&self, kind: AnalysisKind) -> Option<&Run> {
        self.runs.iter().find(|r| r.kind == kind)
    }

    /// Creates a run of `kind`, replacing any earlier one.
    fn start_run(
        &mut self,
        kind: AnalysisKind,
        templates: &[String],
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        self.runs.retain(|r| r.kind != kind);
        self.runs.push(Run { kind, phase: AnalysisPhase::Pending, terminated: false, noticed: None });
        actions.push(RolloutAction::StartAnalysis { kind, templates: templates.to_vec() });
        events.push(RolloutEvent::AnalysisStarted(kind));
    }

    /// `cancelAnalysisRuns` for `kind`: an unfinished run is terminated and from then on counts
    /// as `Successful`; a completed one is left as it is.
    fn terminate_run(
        &mut self,
        kind: AnalysisKind,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        if let Some(run) = self.runs.iter_mut().find(|r| r.kind == kind)
            && run.unfinished()
        {
            run.terminated = true;
            run.phase = AnalysisPhase::Successful;
            actions.push(RolloutAction::TerminateAnalysis { kind });
            events.push(RolloutEvent::AnalysisTerminated(kind));
        }
    }

    /// Terminates the run of `kind` if unfinished and forgets it.
    fn drop_run(
        &mut self,
        kind: AnalysisKind,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        self.terminate_run(kind, actions, events);
        self.runs.retain(|r| r.kind != kind);
    }

    fn drop_all_runs(&mut self, actions: &mut Vec<RolloutAction>, events: &mut Vec<RolloutEvent>) {
        while let Some(run) = self.runs.first() {
            self.drop_run(run.kind, actions, events);
        }
    }

    fn flush_retired(&mut self, actions: &mut Vec<RolloutAction>, events: &mut Vec<RolloutEvent>) {
        for kind in self.retired.drain(..) {
            actions.push(RolloutAction::TerminateAnalysis { kind });
            events.push(RolloutEvent::AnalysisTerminated(kind));
        }
    }

    /// `reconcileAnalysisRuns` skips (and cancels) every run while aborted, fully promoting,
    /// rolling back to an RS within its scale-down delay, on the initial deploy, or once the
    /// stable is the current template (nothing to analyse).
    fn analysis_skipped(&self, rollback_within_delay: bool) -> bool {
        self.aborted
            || self.promote_full
            || rollback_within_delay
            || self.stable.is_none()
            || self.stable == Some(self.template)
    }

    /// `needsNewAnalysisRun`: none yet, or the last one was `Inconclusive` and a promote has
    /// just removed the pause conditions (`controllerPause` still set, no step or blue-green
    /// pause condition).
    fn needs_new_run(&self, kind: AnalysisKind) -> bool {
        match self.run(kind) {
            None => true,
            Some(run) => {
                self.controller_pause && self.pause.is_none() && run.phase == AnalysisPhase::Inconclusive
            }
        }
    }

    /// Starts the run of `kind` if it needs one, else reacts to its phase (`setPauseOrAbort`).
    /// The caller has checked that no `InconclusiveAnalysis` pause is present.
    fn reconcile_run(
        &mut self,
        now: SimTime,
        kind: AnalysisKind,
        templates: &[String],
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        if self.needs_new_run(kind) {
            self.start_run(kind, templates, actions, events);
            return;
        }
        let Some(run) = self.runs.iter_mut().find(|r| r.kind == kind) else { return };
        let phase = run.phase;
        if !completed(phase) {
            return;
        }
        if run.noticed != Some(phase) {
            run.noticed = Some(phase);
            events.push(match phase {
                AnalysisPhase::Failed => RolloutEvent::AnalysisFailed(kind),
                AnalysisPhase::Error => RolloutEvent::AnalysisError(kind),
                AnalysisPhase::Inconclusive => RolloutEvent::AnalysisInconclusive(kind),
                _ => RolloutEvent::AnalysisSuccessful(kind),
            });
        }
        match steps::analysis_reaction(phase) {
            AnalysisReaction::Wait | AnalysisReaction::Proceed => {}
            AnalysisReaction::Pause => {
                self.inconclusive = Some(now);
                events.push(RolloutEvent::Paused(PauseReason::InconclusiveAnalysis));
            }
            AnalysisReaction::Abort => {
                // `AddAbort`: persisted, then reconciled again at once.
                self.aborted = true;
                self.abort_event = None;
                self.clear_pause();
                events.push(RolloutEvent::Aborted(AbortReason::Analysis { kind, phase }));
                self.requeue_at(now);
            }
        }
    }

    fn canary_status(&self) -> CanaryStatus {
        CanaryStatus {
            step_index: self.step_index,
            aborted: self.aborted,
            promote_full: self.promote_full,
            stable_is_current: self.stable.is_none() || self.stable == Some(self.template),
        }
    }
}

/// The new RS as one reconcile sees it: an existing RS, or the one this reconcile created.
#[derive(Clone, Copy, Debug)]
struct NewRs {
    id: Option<u32>,
    state: RsState,
}

/// The canary strategy.
impl RolloutController {
    fn reconcile_canary(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        c: &CanaryStrategy,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        if self.current != Some(self.template) {
            self.reset_for_template(now, c.steps.len(), events);
            self.finish(now, rss, events);
            return;
        }
        let sv = self.survey(rss);
        let others: Vec<RsState> = sv.others.iter().map(|&i| state(&rss[i])).collect();
        let stable = sv.stable.map(|i| state(&rss[i]));
        let new = match sv.new {
            Some(i) => NewRs { id: Some(rss[i].id), state: state(&rss[i]) },
            None => {
                let view = self.canary_view(c, Some(RsState::default()), stable, &others);
                let replicas = steps::desired_counts(&view).canary;
                actions.push(RolloutAction::CreateReplicaSet {
                    template: self.template,
                    replicas,
                    revision: sv.next_revision,
                });
                NewRs { id: None, state: RsState { spec: replicas, replicas, available: 0 } }
            }
        };
        let stable = if self.stable == Some(self.template) { Some(new.state) } else { stable };
        self.remove_scale_down_deadlines(rss, &sv, new, actions);
        if c.traffic_routing {
            self.reconcile_canary_services(rss, &sv, new, actions);
            // When the stable RS cannot absorb its share the weight is left alone, but (as
            // upstream, whose `reconcileTrafficRouting` just returns) scaling and the steps go on:
            // a dynamicStableScale abort needs the stable to grow before the weight can drop.
            self.reconcile_traffic(c, new, stable, &others, actions, events);
        }
        let status_before = self.canary_status();
        let controller_pause_before = self.controller_pause;
        let pause_before = self.pause;
        // A pause or an abort just decided on a run's phase is persisted before anything is
        // scaled (upstream returns after `HasAddPause`, and scales on the old status otherwise).
        let halted = self.reconcile_canary_analysis(now, c, actions, events);
        if !halted {
            let scaled = self.reconcile_canary_replica_sets(now, rss, c, &sv, new, stable, &others, actions);
            if !scaled {
                self.reconcile_canary_pause(now, c, controller_pause_before, events);
            }
        }
        if let Some(Pause { started, .. }) = self.pause
            && let Some(CanaryStep::Pause { duration: Some(d) }) = steps::current_step(c, &status_before)
            && steps::pause_wake_up(started, *d) > now
        {
            self.requeue_at(steps::pause_wake_up(started, *d));
        }
        let view = self.canary_view(c, Some(new.state), stable, &others);
        let cx = StepContext {
            now,
            // An inconclusive analysis holds every step (`haltProgress`).
            paused: self.inconclusive.is_some(),
            pause_started: pause_before.map(|p| p.started),
            controller_pause: controller_pause_before,
            analysis: self.analysis_phase(AnalysisKind::Step(self.step_index)),
            weight_verified: None,
        };
        self.sync_canary_status(now, c, &view, &cx, events);
        self.finish(now, rss, events);
    }

    /// `reconcileAnalysisRuns` for a canary: the current step's run, then the background run.
    /// Returns whether a run's phase just paused or aborted the rollout.
    fn reconcile_canary_analysis(
        &mut self,
        now: SimTime,
        c: &CanaryStrategy,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) -> bool {
        if self.analysis_skipped(false) {
            self.drop_all_runs(actions, events);
            return false;
        }
        let (had_pause, was_aborted) = (self.inconclusive.is_some(), self.aborted);
        // `reconcileStepBasedAnalysisRun`: a run of another step (the index moved on by a
        // promote) is terminated; the current step's is left alone while any pause condition
        // exists.
        let step = match steps::current_step(c, &self.canary_status()) {
            Some(CanaryStep::Analysis { templates }) => {
                Some((AnalysisKind::Step(self.step_index), templates))
            }
            _ => None,
        };
        let stale: Vec<AnalysisKind> = self
            .runs
            .iter()
            .map(|r| r.kind)
            .filter(|&k| matches!(k, AnalysisKind::Step(_)) && Some(k) != step.map(|s| s.0))
            .collect();
        for kind in stale {
            self.drop_run(kind, actions, events);
        }
        if let Some((kind, templates)) = step
            && !self.paused()
        {
            self.reconcile_run(now, kind, templates, actions, events);
        }
        // `reconcileBackgroundAnalysisRun`.
        let kind = AnalysisKind::Background;
        match &c.background_analysis {
            Some(bg) if !bg.templates.is_empty() => {
                let before_start =
                    bg.starting_step.is_some_and(|s| !c.steps.is_empty() && self.step_index < s);
                if before_start {
                    self.drop_run(kind, actions, events);
                } else if !self.aborted && self.inconclusive.is_none() {
                    self.reconcile_run(now, kind, &bg.templates, actions, events);
                }
            }
            _ => self.drop_run(kind, actions, events),
        }
        (!had_pause && self.inconclusive.is_some()) || (!was_aborted && self.aborted)
    }

    fn canary_view<'a>(
        &self,
        c: &'a CanaryStrategy,
        new: Option<RsState>,
        stable: Option<RsState>,
        others: &'a [RsState],
    ) -> CanaryView<'a> {
        CanaryView {
            strategy: c,
            replicas: self.spec.replicas,
            status: self.canary_status(),
            new,
            stable,
            others,
            weights: self.weights,
        }
    }

    /// `removeScaleDownDeadlines`: the new RS keeps its deadline only while an abort delays its
    /// scale-down; the stable RS never keeps one (we moved back to it within its delay).
    fn remove_scale_down_deadlines(
        &mut self,
        rss: &[ReplicaSetView],
        sv: &Survey,
        new: NewRs,
        actions: &mut Vec<RolloutAction>,
    ) {
        if let Some(id) = new.id
            && !self.delays_abort_scale_down()
        {
            self.clear_deadline(id, actions);
        }
        if let Some(i) = sv.stable {
            self.clear_deadline(rss[i].id, actions);
        }
    }

    /// `shouldDelayScaleDownOnAbort`.
    fn delays_abort_scale_down(&self) -> bool {
        self.aborted
            && self.stable.is_some()
            && self.stable != Some(self.template)
            && matches!(delays::abort_scale_down(&self.spec.strategy), AbortScaleDown::After(_))
    }

    /// `reconcileStableAndCanaryService` (traffic routing): the stable Service selects the
    /// stable RS, the canary Service the new RS — also while aborted, the router having taken
    /// the traffic away (`ensureSVCTargets`). A selector only moves to an RS with at least one
    /// available pod, so that a Service never points at nothing.
    fn reconcile_canary_services(
        &mut self,
        rss: &[ReplicaSetView],
        sv: &Survey,
        new: NewRs,
        actions: &mut Vec<RolloutAction>,
    ) {
        let new_rs = new.id.map(|id| (id, new.state.available));
        let stable = match (sv.stable, self.stable == Some(self.template)) {
            (_, true) => new_rs,
            (Some(i), false) => Some((rss[i].id, rss[i].available)),
            (None, false) => None,
        };
        for (role, target) in [(ServiceRole::Stable, stable), (ServiceRole::Canary, new_rs)] {
            if let Some((id, available)) = target
                && available > 0
            {
                self.switch_service(role, id, actions);
            }
        }
    }

    /// `reconcileTrafficRouting`: writes the router weight unless the stable RS cannot absorb
    /// its share ([`steps::stable_can_absorb`]).
    fn reconcile_traffic(
        &mut self,
        c: &CanaryStrategy,
        new: NewRs,
        stable: Option<RsState>,
        others: &[RsState],
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        let view = self.canary_view(c, Some(new.state), stable, others);
        let w = steps::router_weight(&view);
        if !w.apply || self.weights.is_some_and(|cur| cur.canary == w.desired) {
            return;
        }
        let (canary, stable) = (w.desired, MAX_WEIGHT - w.desired);
        self.weights = Some(TrafficWeights { canary, stable });
        actions.push(RolloutAction::SetTrafficWeight { canary, stable });
        events.push(RolloutEvent::TrafficWeight { canary, stable });
    }

    /// `reconcileCanaryReplicaSets`: the stable RS, else the new RS, else the others. Returns
    /// whether anything was scaled.
    #[allow(clippy::too_many_arguments)]
    fn reconcile_canary_replica_sets(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        c: &CanaryStrategy,
        sv: &Survey,
        new: NewRs,
        stable: Option<RsState>,
        others: &[RsState],
        actions: &mut Vec<RolloutAction>,
    ) -> bool {
        let view = self.canary_view(c, Some(new.state), stable, others);
        let desired = steps::desired_counts(&view);
        if view.scales_stable()
            && let Some(i) = sv.stable
            && rss[i].spec != desired.stable
        {
            actions.push(RolloutAction::Scale { rs: rss[i].id, from: rss[i].spec, to: desired.stable });
            return true;
        }
        if let Some(id) = new.id {
            let target =
                self.new_rs_target_on_abort(now, id, new.state.spec, desired.canary, stable, actions);
            if target != new.state.spec {
                actions.push(RolloutAction::Scale { rs: id, from: new.state.spec, to: target });
                return true;
            }
        }
        if c.traffic_routing {
            self.scale_down_others_routed(now, rss, c, sv, actions)
        } else {
            scale_down_others_basic(rss, sv, &view, actions)
        }
    }

    /// The new (canary or preview) RS's size: `desired`, except while aborted with an abort delay
    /// (`reconcileNewReplicaSet`, `shouldDelayScaleDownOnAbort`): kept at its size until a
    /// deadline `abortScaleDownDelaySeconds` ahead, written once the stable RS is fully
    /// available, then 0; kept forever with `abortScaleDownDelaySeconds: 0`.
    fn new_rs_target_on_abort(
        &mut self,
        now: SimTime,
        id: u32,
        spec: i64,
        desired: i64,
        stable: Option<RsState>,
        actions: &mut Vec<RolloutAction>,
    ) -> i64 {
        let stable_elsewhere = self.stable.is_some() && self.stable != Some(self.template);
        if !self.aborted || !stable_elsewhere {
            return desired;
        }
        match delays::abort_scale_down(&self.spec.strategy) {
            AbortScaleDown::FollowWeight => desired,
            AbortScaleDown::Keep => spec,
            AbortScaleDown::After(delay) => match self.deadline(id) {
                Some(at) if delays::scale_down_due(at, now) => 0,
                Some(at) => {
                    self.requeue_at(at);
                    spec
                }
                None => {
                    if spec > 0 && delays::abort_deadline_may_start(stable, self.spec.replicas) {
                        let at = now.saturating_add(delay);
                        self.set_deadline(id, at, actions);
                        self.requeue_at(at);
                    }
                    spec
                }
            },
        }
    }

    /// `scaleDownOldReplicaSetsForCanary` with traffic routing: every other RS is kept until
    /// its scale-down deadline (written on first sight, `scaleDownDelaySeconds` ahead), then
    /// scaled to 0, newest first, within `available − (replicas − maxUnavailable)`.
    fn scale_down_others_routed(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        c: &CanaryStrategy,
        sv: &Survey,
        actions: &mut Vec<RolloutAction>,
    ) -> bool {
        let (_, unavailable) = c.fenceposts(self.spec.replicas);
        let available: i64 = rss.iter().map(|rs| rs.available).sum();
        let mut budget = available - (self.spec.replicas - unavailable);
        let delay = delays::previous_stable_scale_down(&self.spec.strategy).delay;
        let mut scaled = false;
        for &i in sv.others.iter().rev() {
            let rs = &rss[i];
            if rs.spec == 0 {
                continue;
            }
            let due = match self.deadline(rs.id) {
                _ if delay == 0 => true,
                Some(at) if delays::scale_down_due(at, now) => true,
                Some(at) => {
                    self.requeue_at(at);
                    false
                }
                None => {
                    let at = now.saturating_add(delay);
                    self.set_deadline(rs.id, at, actions);
                    self.requeue_at(at);
                    false
                }
            };
            if due && budget > 0 {
                actions.push(RolloutAction::Scale { rs: rs.id, from: rs.spec, to: 0 });
                budget -= rs.spec;
                scaled = true;
            }
        }
        scaled
    }

    /// `reconcileCanaryPause`: adds the pause condition on a pause step.
    fn reconcile_canary_pause(
        &mut self,
        now: SimTime,
        c: &CanaryStrategy,
        controller_pause: bool,
        events: &mut Vec<RolloutEvent>,
    ) {
        if self.promote_full {
            return;
        }
        let cx = StepContext {
            pause_started: self.pause.map(|p| p.started),
            controller_pause,
            ..StepContext::default()
        };
        if steps::pause_condition_to_add(c, &self.canary_status(), &cx) {
            self.pause = Some(Pause { reason: PauseReason::CanaryPauseStep, started: now });
            events.push(RolloutEvent::Paused(PauseReason::CanaryPauseStep));
        }
    }

    /// `syncRolloutStatusCanary`: full promotion, the abort index, or one step.
    fn sync_canary_status(
        &mut self,
        now: SimTime,
        c: &CanaryStrategy,
        view: &CanaryView,
        cx: &StepContext,
        events: &mut Vec<RolloutEvent>,
    ) {
        let len = c.steps.len();
        if self.promote_full {
            self.clear_pause();
            self.aborted = false;
            self.step_index = len;
        }
        let new_full = view.new.is_some_and(|rs| rs.available == self.spec.replicas);
        let all_done = len == 0 || self.step_index == len;
        if self.stable.is_none() || (!self.aborted && new_full && (self.promote_full || all_done)) {
            self.promote_stable(now, len, events);
            return;
        }
        if self.aborted {
            self.step_index = steps::next_step_index(view, cx);
            self.controller_pause = false;
            return;
        }
        if steps::step_completed(view, cx) {
            // `currentStepAnalysisRunStatus = nil`: the step's run is done with (Successful).
            let done = AnalysisKind::Step(self.step_index);
            self.runs.retain(|r| r.kind != done);
            self.step_index += 1;
            if self.pause.is_some_and(|p| p.reason == PauseReason::CanaryPauseStep) {
                self.pause = None;
            }
            events.push(RolloutEvent::StepCompleted { index: self.step_index - 1, steps: len });
            self.requeue_at(now);
        }
        self.controller_pause = self.paused();
    }

    /// `promoteStable`.
    fn promote_stable(&mut self, now: SimTime, steps_len: usize, events: &mut Vec<RolloutEvent>) {
        self.clear_pause();
        self.aborted = false;
        self.promote_full = false;
        self.checkpoint = false;
        self.step_index = steps_len;
        if self.stable != Some(self.template) {
            self.stable = Some(self.template);
            events.push(RolloutEvent::Promoted { template: self.template });
            self.requeue_at(now);
        }
    }
}

/// `scaleDownOldReplicaSetsForCanary` without traffic routing: the other RSs serve traffic, so
/// they are drained at once, within maxUnavailable ([`delays::drain_others_basic`]).
fn scale_down_others_basic(
    rss: &[ReplicaSetView],
    sv: &Survey,
    view: &CanaryView,
    actions: &mut Vec<RolloutAction>,
) -> bool {
    let mut counts: Vec<RsCounts> =
        sv.others.iter().map(|&i| RsCounts { spec: rss[i].spec, available: rss[i].available }).collect();
    if counts.iter().all(|rs| rs.spec == 0) {
        return false;
    }
    delays::drain_others_basic(view, &mut counts);
    let mut scaled = false;
    for (&i, rs) in sv.others.iter().zip(&counts) {
        if rs.spec != rss[i].spec {
            actions.push(RolloutAction::Scale { rs: rss[i].id, from: rss[i].spec, to: rs.spec });
            scaled = true;
        }
    }
    scaled
}

/// The blue-green strategy.
impl RolloutController {
    fn reconcile_blue_green(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        b: &BlueGreenStrategy,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        let sv = self.survey(rss);
        let template_changed = self.current != Some(self.template);
        if template_changed {
            self.reset_for_template(now, 0, events);
        }
        let Some(new_idx) = sv.new else {
            let replicas =
                bluegreen::new_rs_new_replicas(b, self.spec.replicas, &self.bg_status(None, false));
            actions.push(RolloutAction::CreateReplicaSet {
                template: self.template,
                replicas,
                revision: sv.next_revision,
            });
            self.requeue_at(now);
            self.finish(now, rss, events);
            return;
        };
        if template_changed {
            self.finish(now, rss, events);
            return;
        }
        let new = rss[new_idx];
        let stable = sv.stable.map(|i| state(&rss[i]));
        let controller_pause_before = self.controller_pause;
        // A rollback to an RS still waiting out its scale-down delay skips analysis and pause.
        let fast_rollback = self.deadline(new.id).is_some();
        let desired =
            bluegreen::new_rs_new_replicas(b, self.spec.replicas, &self.bg_status(Some(new.id), true));
        let target = self.new_rs_target_on_abort(now, new.id, new.spec, desired, stable, actions);
        let mut busy = false;
        if target != new.spec {
            actions.push(RolloutAction::Scale { rs: new.id, from: new.spec, to: target });
            busy = true;
        }
        busy |= self.scale_down_old_blue_green(now, rss, &sv, actions);
        if b.preview_service.is_some() {
            busy |= self.switch_service(ServiceRole::Preview, new.id, actions);
        }
        let saturated = target == new.spec && bluegreen::ready_for_pause(state(&new), desired);
        let skip_analysis = self.analysis_skipped(fast_rollback);
        if skip_analysis {
            self.drop_all_runs(actions, events);
        } else {
            self.reconcile_pre_promotion_analysis(now, b, new.id, saturated, actions, events);
        }
        let mut gates_passed = false;
        if !busy && saturated {
            gates_passed = self.blue_green_gates(now, b, controller_pause_before, fast_rollback, events);
        }
        if gates_passed || (self.aborted && !busy) {
            self.reconcile_active(now, b, rss, &sv, new.id, actions);
        }
        if let Some(active) = self.service(ServiceRole::Active) {
            // The RS behind the active Service is never scaled down (a rollback within the
            // scale-down delay, or an abort switching back, cancels its deadline).
            self.clear_deadline(active, actions);
            if self.aborted && self.awaiting_post_analysis == Some(active) {
                self.awaiting_post_analysis = None;
            }
        }
        if !skip_analysis && !self.aborted {
            self.reconcile_post_promotion_analysis(now, b, &new, target, actions, events);
        }
        self.sync_blue_green_status(now, b, &new, gates_passed, fast_rollback, actions, events);
        self.finish(now, rss, events);
    }

    fn bg_status(&self, new_id: Option<u32>, new_is_current: bool) -> BlueGreenStatus {
        let active = self.service(ServiceRole::Active);
        BlueGreenStatus {
            active_is_none_or_new: active.is_none() || (new_id.is_some() && active == new_id),
            promote_full: self.promote_full,
            new_is_current,
            paused: self.paused(),
            scale_up_preview_checkpoint: self.checkpoint,
        }
    }

    /// `scaleDownOldReplicaSetsForBlueGreen` over the old RSs the active Service does not select:
    /// kept until their deadline, then 0; without a deadline, 0 at once (they serve nothing).
    fn scale_down_old_blue_green(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        sv: &Survey,
        actions: &mut Vec<RolloutAction>,
    ) -> bool {
        if self.inconclusive.is_some() {
            // Nothing is scaled down while an inconclusive analysis holds the rollout.
            return false;
        }
        let active = self.service(ServiceRole::Active);
        let mut scaled = false;
        let old = sv.others.iter().chain(sv.stable.iter()).copied();
        let old: Vec<usize> = old.filter(|&i| Some(i) != sv.new).collect();
        for i in old.into_iter().rev() {
            let rs = &rss[i];
            if rs.spec == 0 || Some(rs.id) == active || Some(rs.id) == self.awaiting_post_analysis {
                continue;
            }
            match self.deadline(rs.id) {
                Some(at) if !delays::scale_down_due(at, now) => {
                    self.requeue_at(at);
                    continue;
                }
                _ => {}
            }
            actions.push(RolloutAction::Scale { rs: rs.id, from: rs.spec, to: 0 });
            scaled = true;
        }
        scaled
    }

    /// `reconcilePrePromotionAnalysisRun`: the run exists while the new RS is saturated behind
    /// the preview, before the switch; when that stops holding it is terminated (and counts as
    /// `Successful`).
    fn reconcile_pre_promotion_analysis(
        &mut self,
        now: SimTime,
        b: &BlueGreenStrategy,
        new_id: u32,
        saturated: bool,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        let kind = AnalysisKind::PrePromotion;
        if b.pre_promotion_analysis.is_empty() {
            self.drop_run(kind, actions, events);
            return;
        }
        let active = self.service(ServiceRole::Active);
        if active.is_none() || active == Some(new_id) || !saturated {
            self.terminate_run(kind, actions, events);
        } else if self.inconclusive.is_none() {
            self.reconcile_run(now, kind, &b.pre_promotion_analysis, actions, events);
        }
    }

    /// `completedPrePromotionAnalysis`, where the run is required.
    fn pre_promotion_passed(&self, b: &BlueGreenStrategy) -> bool {
        b.pre_promotion_analysis.is_empty()
            || self.analysis_phase(AnalysisKind::PrePromotion) == Some(AnalysisPhase::Successful)
    }

    /// The pre-promotion gate and the promotion pause. Returns whether both are behind.
    fn blue_green_gates(
        &mut self,
        now: SimTime,
        b: &BlueGreenStrategy,
        controller_pause: bool,
        fast_rollback: bool,
        events: &mut Vec<RolloutEvent>,
    ) -> bool {
        if self.aborted || self.inconclusive.is_some() {
            return false;
        }
        let active = self.service(ServiceRole::Active);
        let before_switch = active.is_some() && self.stable != Some(self.template);
        if before_switch && !self.promote_full && !fast_rollback && !self.pre_promotion_passed(b) {
            return false;
        }
        if !before_switch || self.promote_full || fast_rollback || !bluegreen::pauses_before_promotion(b) {
            return true;
        }
        match self.pause {
            None if !controller_pause && !self.checkpoint => {
                self.pause = Some(Pause { reason: PauseReason::BlueGreenPause, started: now });
                events.push(RolloutEvent::Paused(PauseReason::BlueGreenPause));
                self.wake_for_auto_promotion(b, now);
                false
            }
            None => true,
            Some(p) if bluegreen::auto_promotion_due(b, p.started, now) => {
                self.pause = None;
                events.push(RolloutEvent::Resumed(PauseReason::BlueGreenPause));
                true
            }
            Some(p) => {
                self.wake_for_auto_promotion(b, p.started);
                false
            }
        }
    }

    fn wake_for_auto_promotion(&mut self, b: &BlueGreenStrategy, started: SimTime) {
        if b.auto_promotion_enabled && b.auto_promotion_seconds > 0 {
            self.requeue_at(steps::pause_wake_up(started, b.auto_promotion_seconds));
        }
    }

    /// `reconcileActiveService`: the active Service selects the new RS once it is saturated, or
    /// the stable RS again after an abort. The RS it leaves gets its scale-down deadline.
    fn reconcile_active(
        &mut self,
        now: SimTime,
        b: &BlueGreenStrategy,
        rss: &[ReplicaSetView],
        sv: &Survey,
        new_id: u32,
        actions: &mut Vec<RolloutAction>,
    ) {
        let target = if self.aborted {
            match sv.stable {
                Some(i) if self.stable != Some(self.template) => rss[i].id,
                _ => return,
            }
        } else {
            let new = rss.iter().find(|rs| rs.id == new_id).expect("new RS in view");
            let r = self.spec.replicas;
            if new.spec != r || new.available != r {
                return;
            }
            new_id
        };
        let previous = self.service(ServiceRole::Active);
        if !self.switch_service(ServiceRole::Active, target, actions) {
            return;
        }
        let Some(prev) = previous else { return };
        let prev_spec = rss.iter().find(|rs| rs.id == prev).map_or(0, |rs| rs.spec);
        if prev_spec == 0 || (prev == new_id && self.aborted) {
            return;
        }
        let policy = delays::previous_stable_scale_down(&self.spec.strategy);
        if policy.after_post_promotion_analysis && !self.aborted && !b.post_promotion_analysis.is_empty() {
            self.awaiting_post_analysis = Some(prev);
        } else {
            let at = now.saturating_add(policy.delay);
            self.set_deadline(prev, at, actions);
            self.requeue_at(at);
        }
    }

    /// `reconcilePostPromotionAnalysisRun`: the run exists while the active Service selects the
    /// saturated new RS; when that stops holding it is terminated (and counts as `Successful`).
    /// Once it is `Successful` the previous active RS, held for it, gets its deadline.
    fn reconcile_post_promotion_analysis(
        &mut self,
        now: SimTime,
        b: &BlueGreenStrategy,
        new: &ReplicaSetView,
        target: i64,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        let kind = AnalysisKind::PostPromotion;
        if b.post_promotion_analysis.is_empty() {
            self.drop_run(kind, actions, events);
            return;
        }
        let r = self.spec.replicas;
        let saturated = target == new.spec && new.spec == r && new.available == r;
        if self.service(ServiceRole::Active) != Some(new.id) || !saturated {
            self.terminate_run(kind, actions, events);
        } else if self.inconclusive.is_none() {
            self.reconcile_run(now, kind, &b.post_promotion_analysis, actions, events);
        }
        if self.analysis_phase(kind) == Some(AnalysisPhase::Successful)
            && let Some(prev) = self.awaiting_post_analysis.take()
        {
            let at = now.saturating_add(delays::previous_stable_scale_down(&self.spec.strategy).delay);
            self.set_deadline(prev, at, actions);
            self.requeue_at(at);
        }
    }

    /// `syncRolloutStatusBlueGreen`: the preview checkpoint, the pause flag, the stable switch.
    #[allow(clippy::too_many_arguments)]
    fn sync_blue_green_status(
        &mut self,
        now: SimTime,
        b: &BlueGreenStrategy,
        new: &ReplicaSetView,
        gates_passed: bool,
        fast_rollback: bool,
        actions: &mut Vec<RolloutAction>,
        events: &mut Vec<RolloutEvent>,
    ) {
        let active = self.service(ServiceRole::Active);
        self.active_on_new = active == Some(new.id);
        self.checkpoint = if active == Some(new.id) {
            false
        } else {
            bluegreen::scale_up_preview_checkpoint(b, self.checkpoint, gates_passed, new.available)
        };
        let post_ok = b.post_promotion_analysis.is_empty()
            || self.promote_full
            || fast_rollback
            || self.analysis_phase(AnalysisKind::PostPromotion) == Some(AnalysisPhase::Successful);
        if self.stable.is_none() || (active == Some(new.id) && !self.aborted && post_ok) {
            self.promote_stable(now, 0, events);
            if let Some(prev) = self.awaiting_post_analysis.take() {
                // Promoted without the analysis (`promote --full`): the delay starts now.
                let delay = delays::previous_stable_scale_down(&self.spec.strategy).delay;
                let at = now.saturating_add(delay);
                self.set_deadline(prev, at, actions);
                self.requeue_at(at);
            }
        }
        self.controller_pause = self.paused();
    }
}

/// Progress deadline and phase.
impl RolloutController {
    fn finish(&mut self, now: SimTime, rss: &[ReplicaSetView], events: &mut Vec<RolloutEvent>) {
        let spec = Arc::clone(&self.spec);
        let canary = spec.canary();
        let new = rss.iter().filter(|rs| rs.template == self.template).min_by_key(|rs| (rs.created, rs.id));
        let r = self.spec.replicas;
        let healthy = self.current == Some(self.template)
            && self.stable == Some(self.template)
            && new.is_some_and(|rs| rs.spec == r && rs.available == r)
            && (canary.is_some() || self.service(ServiceRole::Active) == new.map(|rs| rs.id));
        self.progress_deadline(now, rss, new, canary, healthy, events);
        let phase = if self.aborted || self.timed_out {
            RolloutPhase::Degraded
        } else if self.paused() {
            RolloutPhase::Paused
        } else if healthy {
            RolloutPhase::Healthy
        } else {
            RolloutPhase::Progressing
        };
        if phase != self.phase {
            self.phase = phase;
            events.push(RolloutEvent::Phase(phase));
        }
    }

    fn progress_deadline(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        new: Option<&ReplicaSetView>,
        canary: Option<&CanaryStrategy>,
        healthy: bool,
        events: &mut Vec<RolloutEvent>,
    ) {
        let new_id = new.map(|rs| rs.id);
        let mark = ProgressMark {
            updated: new.map_or(0, |rs| rs.replicas),
            ready: rss.iter().map(|rs| rs.ready).sum(),
            available: rss.iter().map(|rs| rs.available).sum(),
            old: rss.iter().filter(|rs| Some(rs.id) != new_id).map(|rs| rs.replicas).sum(),
            step_index: self.step_index,
            stable: self.stable,
            active: self.service(ServiceRole::Active),
            preview: self.service(ServiceRole::Preview),
        };
        if self.mark != Some(mark) || self.last_progress.is_none() {
            self.mark = Some(mark);
            self.last_progress = Some(now);
            self.timed_out = false;
        }
        let current = canary.and_then(|c| steps::current_step(c, &self.canary_status()));
        let awaiting =
            rss.iter().any(|rs| rs.spec > 0 && Some(rs.id) != new_id && self.deadline(rs.id).is_some());
        let applies = !healthy
            && !self.timed_out
            && steps::progress_deadline_applies(current, self.paused(), self.aborted, awaiting);
        let Some(last) = self.last_progress else { return };
        if !applies {
            return;
        }
        if steps::rollout_timed_out(self.spec.progress_deadline, last, now) {
            self.timed_out = true;
            events.push(RolloutEvent::ProgressDeadlineExceeded);
            if self.spec.progress_deadline_abort {
                self.aborted = true;
                self.abort_event = None;
                self.clear_pause();
                events.push(RolloutEvent::Aborted(AbortReason::ProgressDeadline));
                self.requeue_at(now);
            }
        } else {
            self.requeue_at(last.saturating_add(self.spec.progress_deadline).saturating_add(SECOND));
        }
    }
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
