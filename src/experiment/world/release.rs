//! What differs between release strategies: which workloads and destinations exist, what
//! the release and a human rollback do, and when the release counts as complete or rolled
//! back. Each strategy's decisions are its controller's (`controllers::*`); this is the glue
//! that feeds them views and applies their actions.
//!
//! | strategy | workloads | destinations | human rollback |
//! |---|---|---|---|
//! | Deployment | the Deployment | its Service | `kubectl rollout undo` |
//! | Service switch | old, new Deployment | the Service (selector) | selector back |
//! | Istio by hand | old, new Deployment | two subsets, weighted | weight 0, new scaled to 0 |
//! | Argo Rollout | the Rollout | its Service; or stable + canary (Istio); or active | `kubectl argo rollouts abort` |
//! | Flagger | `<target>-primary`, target | primary + canary (Istio); or primary | none: Flagger rolls back itself |

use super::*;
use crate::controllers::argo::rollout::{AbortReason, PauseReason, RolloutPhase, ServiceRole};
use crate::controllers::argo::spec::CanaryStep;
use crate::controllers::flagger::{
    self, FlaggerCanary, Phase as FlaggerPhase, Provider, TickInput, Verdict, WorkloadStatus,
};
use crate::controllers::rolling::max_unavailable;
use crate::controllers::service_switch::{ServiceSwitch, Side, SwitchAction, SwitchEvent, SwitchView};
use crate::controllers::{DeploymentManifest, service_switch::DeploymentStatus};
use crate::engine::DurationDist;
use crate::scenario::{FlaggerCheck, FlaggerCheckKind, MeshStep, Strategy};
use crate::traffic::RequestClass;

/// The state of the release strategy beyond the workloads' controllers.
pub(super) enum Plan {
    Deployment,
    Switch(Box<SwitchPlan>),
    Mesh(Box<MeshPlan>),
    Rollout(Box<RolloutPlan>),
    Flagger(Box<FlaggerPlan>),
}

pub(super) struct SwitchPlan {
    sw: ServiceSwitch,
    object: String,
    requeue_at: Option<SimTime>,
    actions: Vec<SwitchAction>,
    events: Vec<SwitchEvent>,
}

pub(super) struct MeshPlan {
    object: String,
    from_subset: String,
    to_subset: String,
    steps: Vec<MeshStep>,
    /// The next step to apply.
    next: usize,
    /// The first step was applied (the new Deployment became available).
    started: bool,
    /// Every step was applied.
    done: bool,
    rolled_back: bool,
}

pub(super) struct RolloutPlan {
    object: String,
    promote_after: Option<DurationDist>,
    /// The human rolled back a completed rollout with `kubectl argo rollouts undo`.
    undone: bool,
}

pub(super) struct FlaggerPlan {
    canary: FlaggerCanary,
    checks: Vec<FlaggerCheck>,
    object: String,
    routed: bool,
    /// The canary version's behaviour, for the stand-in checks.
    model: VersionModel,
    tallies: Vec<Tally>,
    verdicts: Vec<Verdict>,
    /// Each check's value this tick (`None`: no data, or a custom query).
    values: Vec<Option<f64>>,
    /// Since when the primary (0) and the target (1) have had fewer available pods than
    /// `replicas − maxUnavailable`: the `lastUpdateTime` of their `Available=False,
    /// MinimumReplicasUnavailable` condition.
    unavailable_since: [Option<SimTime>; 2],
}

impl Plan {
    pub(super) fn new(sc: &Scenario) -> Self {
        match &sc.strategy {
            Strategy::Deployment => Plan::Deployment,
            Strategy::ServiceSwitch(r) => Plan::Switch(Box::new(SwitchPlan {
                sw: ServiceSwitch::new(r.config.clone()),
                object: format!("Service/{}", r.service),
                requeue_at: None,
                actions: Vec::new(),
                events: Vec::new(),
            })),
            Strategy::Mesh(r) => Plan::Mesh(Box::new(MeshPlan {
                object: format!("VirtualService/{}", r.virtual_service),
                from_subset: r.from_subset.clone(),
                to_subset: r.to_subset.clone(),
                steps: r.steps.clone(),
                next: 0,
                started: false,
                done: false,
                rolled_back: false,
            })),
            Strategy::Rollout(r) => Plan::Rollout(Box::new(RolloutPlan {
                object: format!("Rollout/{}", r.name),
                promote_after: r.promote_after,
                undone: false,
            })),
            Strategy::Flagger(r) => Plan::Flagger(Box::new(FlaggerPlan {
                canary: FlaggerCanary::new(r.spec.clone()),
                checks: r.checks.clone(),
                object: format!("Canary/{}", r.spec.name),
                // A/B testing routes only requests that match headers or cookies (testers, not
                // users) to the canary: user traffic stays on the primary.
                routed: r.spec.provider == Provider::Istio
                    && !matches!(r.spec.strategy(), flagger::Strategy::ABTesting { .. }),
                model: VersionModel::new(&sc.versions[sc.release.to_image.as_str()], sc.release.at),
                tallies: Vec::new(),
                verdicts: Vec::new(),
                values: Vec::new(),
                unavailable_since: [None; 2],
            })),
        }
    }

    /// Whether a requeue of the strategy for `at` is the latest one (and so is due).
    pub(super) fn take_requeue(&mut self, at: SimTime) -> bool {
        match self {
            Plan::Switch(p) if p.requeue_at == Some(at) => {
                p.requeue_at = None;
                true
            }
            _ => false,
        }
    }

    /// Whether the on-call engineer rolls back after a detection. Flagger does it itself.
    pub(super) fn human_rolls_back(&self) -> bool {
        !matches!(self, Plan::Flagger(_))
    }
}

/// The manifest of the new version's pods: the `to` Deployment of a pair, else the workload's.
pub(super) fn new_manifest(sc: &Scenario) -> &DeploymentManifest {
    match &sc.strategy {
        Strategy::ServiceSwitch(r) => &r.new_deployment,
        Strategy::Mesh(r) => &r.new_deployment,
        _ => &sc.deployment,
    }
}

impl World<'_> {
    /// Creates the strategy's workloads and destinations; returns the workload that runs the
    /// old version before the release and its replica count.
    pub(super) fn setup(&mut self) -> (u32, i64) {
        let sc = self.sc;
        let dep = &sc.deployment;
        let replicas = i64::from(dep.replicas);
        match &sc.strategy {
            Strategy::Deployment => {
                self.workloads.push(Workload::deployment(&dep.name, DeploymentController::new(dep, OLD)));
                let selects = sc.services.iter().any(|s| s.selects(&dep.namespace, &dep.template_labels));
                self.dests.push(if selects { Selector::Workload(0) } else { Selector::Nothing });
            }
            Strategy::ServiceSwitch(r) => {
                self.workloads.push(Workload::deployment(&dep.name, DeploymentController::new(dep, OLD)));
                let mut new = DeploymentController::new(&r.new_deployment, NEW);
                new.set_replicas(0);
                let mut w = Workload::deployment(&r.new_deployment.name, new);
                w.applied = false;
                self.workloads.push(w);
                self.dests.push(Selector::Workload(0));
            }
            Strategy::Mesh(r) => {
                self.workloads.push(Workload::deployment(&dep.name, DeploymentController::new(dep, OLD)));
                let mut w = Workload::deployment(
                    &r.new_deployment.name,
                    DeploymentController::new(&r.new_deployment, NEW),
                );
                w.applied = false;
                self.workloads.push(w);
                self.dests.extend([Selector::Workload(0), Selector::Workload(1)]);
                self.traffic.add_destination();
            }
            Strategy::Rollout(r) => {
                let ctl = RolloutController::new(&r.spec, OLD);
                self.workloads.push(Workload {
                    name: r.name.clone(),
                    ctl: Ctl::Rollout(Box::new(ctl)),
                    applied: true,
                    requeue_at: None,
                    last_condition: None,
                });
                // The first ReplicaSet (id 0) runs the old version; Argo's Services point at
                // its pod-template hash.
                match r.spec.canary() {
                    Some(c) if c.traffic_routing => {
                        self.dests.extend([Selector::Rs(0), Selector::Rs(0)]);
                        self.traffic.add_destination();
                    }
                    Some(_) => self.dests.push(Selector::Workload(0)),
                    None => self.dests.push(Selector::Rs(0)),
                }
                return (0, r.spec.replicas);
            }
            Strategy::Flagger(r) => {
                let mut primary = dep.clone();
                primary.name = r.spec.primary_name();
                self.workloads
                    .push(Workload::deployment(&primary.name, DeploymentController::new(&primary, OLD)));
                // Flagger scaled the target to zero when it initialised the Canary.
                let mut target = DeploymentController::new(dep, OLD);
                target.set_replicas(0);
                self.workloads.push(Workload::deployment(&dep.name, target));
                self.dests.push(Selector::Workload(0));
                if r.spec.provider == Provider::Istio
                    && !matches!(r.spec.strategy(), flagger::Strategy::ABTesting { .. })
                {
                    self.dests.push(Selector::Workload(1));
                    self.traffic.add_destination();
                }
            }
        }
        (0, replicas)
    }

    /// The release: a new template, a new Deployment, or a Canary target change.
    pub(super) fn release(&mut self, now: SimTime) {
        let (from, to) = (&self.sc.release.from_image, &self.sc.release.to_image);
        match &mut self.plan {
            Plan::Deployment | Plan::Rollout(_) => {
                let message =
                    format!("the {}'s template changes from {from} to {to}", self.workloads[0].kind());
                match &mut self.workloads[0].ctl {
                    Ctl::Deployment(d) => d.set_template(NEW),
                    Ctl::Rollout(r) => r.set_template(NEW),
                }
                self.log(now, self.workloads[0].object(), "TemplateChanged", message);
                self.request_sync(now);
            }
            Plan::Switch(p) => {
                self.workloads[1].applied = true;
                p.sw.start(now, &mut p.events);
                let message = format!("{} is applied with {to}", self.workloads[1].object());
                self.log(now, self.workloads[1].object(), "Applied", message);
                // The switch sizes the new Deployment first; its controller syncs on that.
                self.orchestrate(now);
                self.check_progress(now);
            }
            Plan::Mesh(_) => {
                self.workloads[1].applied = true;
                let message = format!(
                    "{} is applied with {to} and {} replicas; traffic moves once it is available",
                    self.workloads[1].object(),
                    self.workloads[1].dep().replicas()
                );
                self.log(now, self.workloads[1].object(), "Applied", message);
                self.request_sync(now);
            }
            Plan::Flagger(_) => {
                self.workloads[1].dep_mut().set_template(NEW);
                let message = format!("the target's pod template changes from {from} to {to}");
                self.log(now, self.workloads[1].object(), "TemplateChanged", message);
                self.request_sync(now);
            }
        }
    }

    /// What the strategy does after the workloads synced.
    pub(super) fn orchestrate(&mut self, now: SimTime) {
        if let Plan::Flagger(_) = &self.plan {
            self.track_availability(now);
        }
        match &self.plan {
            Plan::Switch(_) => self.reconcile_switch(now),
            // The first step once the new Deployment is fully available.
            Plan::Mesh(p)
                if !p.started
                    && !p.rolled_back
                    && self.workloads[1].applied
                    && self.workloads[1].dep().complete() =>
            {
                if let Plan::Mesh(p) = &mut self.plan {
                    p.started = true;
                }
                self.mesh_next(now);
            }
            _ => {}
        }
    }

    fn deployment_status(&self, w: u32) -> DeploymentStatus {
        DeploymentStatus {
            replicas: self.workloads[w as usize].dep().replicas(),
            available: self.available_of(w),
        }
    }

    /// `status.availableReplicas` of workload `w`: available pods over the RSs it owns.
    fn available_of(&self, w: u32) -> i64 {
        (0..self.cluster.replica_sets.len())
            .filter(|&rs| self.rs_owner[rs] == w)
            .map(|rs| self.cluster.rs_counts(rs as RsId).available)
            .sum()
    }

    fn switch_view(&self) -> SwitchView {
        SwitchView { old: self.deployment_status(0), new: self.deployment_status(1) }
    }

    fn reconcile_switch(&mut self, now: SimTime) {
        let view = self.switch_view();
        let Plan::Switch(p) = &mut self.plan else { return };
        p.actions.clear();
        let result = p.sw.reconcile(now, &view, &mut p.actions, &mut p.events);
        if let Some(at) = result.requeue_at.map(|at| at.max(now))
            && p.requeue_at != Some(at)
        {
            p.requeue_at = Some(at);
            self.queue.schedule(at, Event::Requeue { who: PLAN, at });
        }
        self.apply_switch(now);
    }

    /// Applies the Service switch's pending actions and logs its events.
    fn apply_switch(&mut self, now: SimTime) {
        let Plan::Switch(p) = &mut self.plan else { return };
        let actions = std::mem::take(&mut p.actions);
        let events = std::mem::take(&mut p.events);
        let messages: Vec<(&'static str, String)> = if self.collect.trace {
            events.iter().map(|e| (e.reason(), p.sw.message(e))).collect()
        } else {
            Vec::new()
        };
        let object = p.object.clone();
        for &action in &actions {
            match action {
                SwitchAction::ScaleDeployment { deployment, replicas } => {
                    let w = side_workload(deployment);
                    self.workloads[w as usize].dep_mut().set_replicas(replicas);
                    self.request_sync(now);
                }
                SwitchAction::SwitchSelector { to } => self.select(0, Selector::Workload(side_workload(to))),
            }
        }
        for (reason, message) in messages {
            self.log(now, object.clone(), reason, message);
        }
        if let Plan::Switch(p) = &mut self.plan {
            p.actions = actions;
            p.events = events;
            p.events.clear();
        }
    }

    /// Applies the next manual mesh step and schedules the one after.
    pub(super) fn mesh_next(&mut self, now: SimTime) {
        let Plan::Mesh(p) = &mut self.plan else { return };
        if p.rolled_back || p.next >= p.steps.len() {
            return;
        }
        let step = p.steps[p.next];
        p.next += 1;
        p.done = p.next == p.steps.len();
        let message = format!(
            "canary {}% stable {}% (subset {} {}, subset {} {})",
            step.weight,
            100 - step.weight,
            p.to_subset,
            step.weight,
            p.from_subset,
            100 - step.weight
        );
        let object = p.object.clone();
        if let Some(hold) = step.hold {
            self.queue.schedule_in(hold, Event::MeshNext);
        }
        let weight = step.weight.min(100) as u8;
        self.set_weights([100 - weight, weight]);
        self.log(now, object, "TrafficWeight", message);
        self.check_progress(now);
    }

    /// The on-call engineer's rollback.
    pub(super) fn undo(&mut self, now: SimTime) {
        if self.undo_at.is_some() {
            return;
        }
        match &mut self.plan {
            Plan::Deployment => {
                self.build_views(0);
                match self.workloads[0].dep_mut().rollback_undo(&self.views) {
                    Ok(_) => {
                        self.undo_at = Some(now);
                        self.log(now, self.workloads[0].object(), "RollbackStarted", format!(
                            "kubectl rollout undo: the template goes back to {}; the controller rolls forward to it under the same maxSurge/maxUnavailable",
                            self.sc.release.from_image
                        ));
                        self.request_sync(now);
                    }
                    Err(e) => self.log(
                        now,
                        self.workloads[0].object(),
                        "RollbackSkipped",
                        format!("kubectl rollout undo: {e}"),
                    ),
                }
            }
            Plan::Switch(_) => {
                let view = self.switch_view();
                let Plan::Switch(p) = &mut self.plan else { unreachable!() };
                p.actions.clear();
                match p.sw.rollback(now, &view, &mut p.actions, &mut p.events) {
                    Ok(()) => {
                        self.undo_at = Some(now);
                        self.apply_switch(now);
                    }
                    Err(e) => {
                        let object = p.object.clone();
                        self.log(now, object, "RollbackSkipped", format!("rollback: {e}"));
                    }
                }
            }
            Plan::Mesh(p) => {
                p.rolled_back = true;
                let object = p.object.clone();
                let message =
                    format!("canary 0% stable 100% (subset {} 0, subset {} 100)", p.to_subset, p.from_subset);
                self.undo_at = Some(now);
                self.set_weights([100, 0]);
                self.log(now, object.clone(), "TrafficWeight", message);
                self.workloads[1].dep_mut().set_replicas(0);
                let message = format!(
                    "rollback by hand: all traffic back to {} and {} scaled to 0",
                    self.sc.release.from_image,
                    self.workloads[1].object()
                );
                self.log(now, object, "RollbackStarted", message);
                self.request_sync(now);
            }
            Plan::Rollout(p) => {
                let object = p.object.clone();
                let rollout = self.workloads[0].rollout_mut();
                // While the update runs, abort returns to the stable version; once the new
                // version is the stable one, abort has nothing to return to, and the way back is
                // `undo`: the old template again, through every step (no rollbackWindow).
                let message = if rollout.stable_template() == Some(NEW) {
                    rollout.set_template(OLD);
                    p.undone = true;
                    format!(
                        "kubectl argo rollouts undo: the template goes back to {}; the Rollout runs its strategy again towards it",
                        self.sc.release.from_image
                    )
                } else {
                    rollout.abort();
                    "kubectl argo rollouts abort: traffic and pods go back to the stable version".to_string()
                };
                self.undo_at = Some(now);
                self.log(now, object, "RollbackStarted", message);
                self.request_sync(now);
            }
            Plan::Flagger(_) => {}
        }
    }

    /// `kubectl argo rollouts promote` after an indefinite pause.
    pub(super) fn promote(&mut self, now: SimTime) {
        let Plan::Rollout(p) = &self.plan else { return };
        let object = p.object.clone();
        let rollout = self.workloads[0].rollout_mut();
        if !rollout.paused() || rollout.aborted() {
            return;
        }
        rollout.promote();
        self.log(now, object, "Promoted", "kubectl argo rollouts promote: the pause ends".to_string());
        self.request_sync(now);
    }

    pub(super) fn sync_rollout(&mut self, now: SimTime, w: u32) {
        self.build_views(w);
        let mut actions = std::mem::take(&mut self.rollout_actions);
        let mut events = std::mem::take(&mut self.rollout_events);
        actions.clear();
        events.clear();
        let result =
            self.workloads[w as usize].rollout_mut().reconcile(now, &self.views, &mut actions, &mut events);
        for action in actions.drain(..) {
            self.apply_rollout(now, w, action);
        }
        for &event in &events {
            self.rollout_event(now, w, event);
        }
        self.rollout_actions = actions;
        self.rollout_events = events;
        self.requeue(now, w, result.requeue_at);
    }

    fn apply_rollout(&mut self, now: SimTime, w: u32, action: RolloutAction) {
        let object = self.workloads[w as usize].object();
        match action {
            RolloutAction::CreateReplicaSet { template, replicas, revision } => {
                let rs = self.create_rs(w, template, revision);
                self.scale_rs(now, w, rs, 0, replicas);
            }
            RolloutAction::Scale { rs, from, to } => self.scale_rs(now, w, rs, from, to),
            RolloutAction::SetTrafficWeight { canary, stable } => {
                self.set_weights([stable.clamp(0, 100) as u8, canary.clamp(0, 100) as u8]);
            }
            RolloutAction::SwitchService { service, rs } => {
                let dest = match service {
                    ServiceRole::Active | ServiceRole::Stable => Some(0),
                    ServiceRole::Canary if self.dests.len() > 1 => Some(1),
                    _ => None,
                };
                if let Some(d) = dest {
                    self.select(d, Selector::Rs(rs));
                }
                // The Rollout controller watches the Services it manages: the update is a
                // change it reconciles on.
                self.request_sync(now);
                // The selection above is also how a router's subsets find the pods; only a
                // Service the Rollout names has a selector a user would see switched.
                let named = match (&self.sc.strategy, service) {
                    (Strategy::Rollout(r), ServiceRole::Stable | ServiceRole::Canary) => {
                        r.spec.canary().is_some_and(|c| match service {
                            ServiceRole::Stable => c.stable_service.is_some(),
                            _ => c.canary_service.is_some(),
                        })
                    }
                    _ => true,
                };
                if self.collect.trace && named {
                    let role = match service {
                        ServiceRole::Active => "activeService",
                        ServiceRole::Preview => "previewService",
                        ServiceRole::Stable => "stableService",
                        ServiceRole::Canary => "canaryService",
                    };
                    let message = format!(
                        "Switched selector of the {role} to replica set {}",
                        self.rs_names[rs as usize]
                    );
                    self.log(now, object, "SwitchService", message);
                }
            }
            RolloutAction::SetScaleDownDeadline { rs, at } => {
                if self.collect.trace {
                    let message = format!(
                        "replica set {} will be scaled down at t={}",
                        self.rs_names[rs as usize],
                        format_duration(at)
                    );
                    self.log(now, object, "ScaleDownDelay", message);
                }
            }
            RolloutAction::ClearScaleDownDeadline { .. } => {}
            RolloutAction::StartAnalysis { kind, templates } => {
                if self.collect.trace {
                    let message = format!("{kind:?} analysis ({}) started", templates.join(", "));
                    self.log(now, object, "AnalysisRunStarted", message);
                }
                self.start_analysis(now, w, kind);
            }
            // Traced through `RolloutEvent::AnalysisTerminated`.
            RolloutAction::TerminateAnalysis { kind } => self.terminate_analysis(kind),
        }
    }

    fn rollout_event(&mut self, now: SimTime, w: u32, event: RolloutEvent) {
        let object = self.workloads[w as usize].object();
        let rollout = self.workloads[w as usize].rollout();
        let steps = match &self.sc.strategy {
            Strategy::Rollout(r) => r.spec.canary().map(|c| c.steps.as_slice()).unwrap_or(&[]),
            _ => &[],
        };
        let (reason, message) = match event {
            RolloutEvent::NewRevision { template, step_index } => (
                "RolloutUpdated",
                format!("rollout updated to {} (step {step_index})", self.image_of_template(template)),
            ),
            RolloutEvent::StepCompleted { index, steps: n } => (
                "RolloutStepCompleted",
                format!(
                    "step {}/{n} completed ({})",
                    index + 1,
                    steps.get(index).map_or(String::new(), describe_step)
                ),
            ),
            RolloutEvent::Paused(reason) => {
                let indefinite = match reason {
                    PauseReason::CanaryPauseStep => {
                        matches!(steps.get(rollout.step_index()), Some(CanaryStep::Pause { duration: None }))
                    }
                    PauseReason::BlueGreenPause => match &self.sc.strategy {
                        Strategy::Rollout(r) => {
                            r.spec.blue_green().is_some_and(|b| !b.auto_promotion_enabled)
                        }
                        _ => false,
                    },
                    PauseReason::InconclusiveAnalysis => {
                        self.on_inconclusive_pause();
                        false
                    }
                };
                if indefinite
                    && let Plan::Rollout(p) = &self.plan
                    && let Some(after) = p.promote_after
                {
                    let delay = after.sample(&mut self.people_rng);
                    self.queue.schedule_in(delay, Event::Promote);
                }
                let until = if indefinite { "until someone promotes" } else { "for its duration" };
                ("RolloutPaused", format!("rollout is paused ({reason:?}) {until}"))
            }
            RolloutEvent::Resumed(reason) => ("RolloutResumed", format!("rollout is resumed ({reason:?})")),
            RolloutEvent::TrafficWeight { canary, stable } => {
                ("TrafficWeight", format!("canary {canary}% stable {stable}%"))
            }
            RolloutEvent::AnalysisStarted(kind) => {
                ("AnalysisRunStarted", format!("{kind:?} analysis run started"))
            }
            RolloutEvent::AnalysisSuccessful(kind) => {
                ("AnalysisRunSuccessful", format!("{kind:?} analysis run successful"))
            }
            RolloutEvent::AnalysisFailed(kind) => {
                ("AnalysisRunFailed", format!("{kind:?} analysis run failed"))
            }
            RolloutEvent::AnalysisError(kind) => {
                ("AnalysisRunError", format!("{kind:?} analysis run errored"))
            }
            RolloutEvent::AnalysisInconclusive(kind) => {
                ("AnalysisRunInconclusive", format!("{kind:?} analysis run inconclusive"))
            }
            RolloutEvent::AnalysisTerminated(kind) => {
                ("AnalysisRunTerminated", format!("{kind:?} analysis run terminated"))
            }
            RolloutEvent::Promoted { template } => (
                "RolloutCompleted",
                format!("rollout completed: the stable version is {}", self.image_of_template(template)),
            ),
            RolloutEvent::Aborted(reason) => {
                if matches!(reason, AbortReason::ProgressDeadline | AbortReason::Analysis { .. })
                    && self.undo_at.is_none()
                {
                    self.undo_at = Some(now);
                }
                ("RolloutAborted", format!("rollout aborted ({reason:?}): back to the stable version"))
            }
            RolloutEvent::ProgressDeadlineExceeded => {
                self.timed_out = true;
                if self.sc.detection.on_progress_deadline
                    && self.detected_at.is_none()
                    && now >= self.sc.release.at
                {
                    self.detect(
                        now,
                        "progress_deadline".into(),
                        "the Rollout reports ProgressDeadlineExceeded".to_string(),
                    );
                    self.page(now);
                }
                (
                    "ProgressDeadlineExceeded",
                    "Progressing=False: the rollout made no progress in time".to_string(),
                )
            }
            RolloutEvent::Phase(phase) => ("Phase", format!("phase {phase:?}")),
        };
        if now >= self.sc.release.at || matches!(event, RolloutEvent::TrafficWeight { .. }) {
            self.log(now, object, reason, message);
        }
    }

    /// One run of Flagger's analysis loop, then the next one an interval later.
    pub(super) fn flagger_tick(&mut self, now: SimTime) {
        let primary = self.flagger_status(0);
        let target = self.flagger_status(1);
        let target_template = self.workloads[1].dep().template();
        let first_new_start = self
            .cluster
            .pods
            .iter()
            .filter(|p| p.template == NEW && !p.gone)
            .filter_map(|p| p.first_started_at)
            .min()
            .unwrap_or(now);
        let Plan::Flagger(p) = &mut self.plan else { return };
        let analysis = &p.canary.spec().analysis;
        let deadline = p.canary.spec().progress_deadline();
        let primary = flagger::primary_readiness(&primary, analysis.primary_ready_threshold(), deadline, now);
        let canary = flagger::workload_readiness(&target, analysis.canary_ready_threshold(), deadline, now);
        self.traffic.take_destination_tallies(&mut p.tallies);
        let observed = p.tallies.get(1).copied().unwrap_or_default();
        let mirrored = p.canary.routes().mirrored;
        p.verdicts.clear();
        p.values.clear();
        let store = self.monitor.as_ref().map(|m| &m.prom.store);
        for check in &p.checks {
            let use_observed = p.routed && !mirrored;
            let (verdict, value) = match (&check.query, store) {
                (Some(query), Some(store)) => prometheus_check(check, query, store, now),
                _ => stand_in_check(check, observed, use_observed, &p.model, now, first_new_start),
            };
            p.verdicts.push(verdict);
            p.values.push(value);
        }
        let out = p.canary.tick(TickInput { target: target_template, primary, canary, checks: &p.verdicts });
        let object = p.object.clone();
        let routed = p.routed;
        let interval = p.canary.interval();
        let failed_check = |event: &flagger::Event| match *event {
            flagger::Event::CheckFailed { check, failed_checks, threshold, .. } => {
                let c = &p.checks[check];
                let range = format!(
                    "{}..{}",
                    c.min.map_or(String::new(), |m| m.to_string()),
                    c.max.map_or(String::new(), |m| m.to_string())
                );
                let value = match p.values[check] {
                    Some(v) => format!("{v:.2} outside {range}"),
                    None => "no values found for the query (probably not receiving traffic)".to_string(),
                };
                let how = if c.query.is_some() { "" } else { "; stand-in check, not a Prometheus query" };
                Some(format!("halt advancement: {} {value} ({failed_checks}/{threshold}{how})", c.name))
            }
            _ => None,
        };
        let messages: Vec<String> =
            out.events.iter().map(|e| failed_check(e).unwrap_or_else(|| e.to_string())).collect();
        for action in out.actions {
            match action {
                flagger::Action::CreatePrimary => {}
                flagger::Action::ScaleCanaryToZero => {
                    self.workloads[1].dep_mut().set_replicas(0);
                    self.request_sync(now);
                }
                flagger::Action::ScaleCanaryUp => {
                    let target = self.workloads[1].dep().replicas();
                    let primary = self.workloads[0].dep().replicas();
                    let n = flagger::scale_from_zero_replicas(target, primary, None);
                    self.workloads[1].dep_mut().set_replicas(n);
                    self.request_sync(now);
                }
                flagger::Action::SetRoutes(routes) => {
                    if routed {
                        self.set_weights([routes.primary.min(100) as u8, routes.canary.min(100) as u8]);
                    }
                    let message = if routed {
                        routes.to_string()
                    } else {
                        format!("{routes} (matched requests only; user traffic stays on the primary)")
                    };
                    self.log(now, object.clone(), "TrafficWeight", message);
                }
                flagger::Action::Promote => {
                    let template = self.workloads[1].dep().template();
                    self.workloads[0].dep_mut().set_template(template);
                    self.request_sync(now);
                }
            }
        }
        for (event, message) in out.events.into_iter().zip(messages) {
            if let flagger::Event::RolledBack { .. } = event {
                if self.detected_at.is_none() {
                    self.detect(now, "flagger_analysis".into(), format!("Flagger: {event}"));
                }
                // Before the promotion, a rollback takes the new version away. After it the
                // primary already runs the new template, and Flagger only marks the Canary
                // failed: the release is stuck, not rolled back.
                if self.workloads[0].dep().template() == NEW {
                    self.timed_out = true;
                } else if self.undo_at.is_none() {
                    self.undo_at = Some(now);
                }
            }
            let quiet = matches!(event, flagger::Event::WaitingForPrimary | flagger::Event::WaitingForCanary);
            if now >= self.sc.release.at && !quiet {
                self.log(now, object.clone(), event.reason(), message);
            }
        }
        self.check_progress(now);
        self.queue.schedule_in(interval, Event::FlaggerTick);
    }

    /// Keeps each Flagger workload's `Available` condition: False from the first sync that
    /// sees fewer than `replicas − maxUnavailable` available pods, True again once enough are.
    fn track_availability(&mut self, now: SimTime) {
        let mut short = [false; 2];
        for (w, short) in short.iter_mut().enumerate() {
            let replicas = self.workloads[w].dep().replicas();
            let min_available = replicas - max_unavailable(&self.sc.deployment.strategy, replicas);
            *short = self.available_of(w as u32) < min_available;
        }
        if let Plan::Flagger(p) = &mut self.plan {
            for (since, short) in p.unavailable_since.iter_mut().zip(short) {
                *since = if short { Some(since.unwrap_or(now)) } else { None };
            }
        }
    }

    /// What Flagger's `isDeploymentReady` reads of workload `w`.
    fn flagger_status(&self, w: u32) -> WorkloadStatus {
        let dep = self.workloads[w as usize].dep();
        let mut status = WorkloadStatus {
            spec_replicas: dep.replicas(),
            // The Deployment controller observes a spec change within its reconcile latency
            // (50 ms), well inside an analysis interval (≥ 10 s): taken as observed.
            observed: true,
            has_progressing_condition: true,
            deadline_exceeded: dep.timed_out(),
            unavailable_since: match &self.plan {
                Plan::Flagger(p) => p.unavailable_since[w as usize],
                _ => None,
            },
            ..WorkloadStatus::default()
        };
        for rs in 0..self.cluster.replica_sets.len() {
            if self.rs_owner[rs] != w {
                continue;
            }
            let c = self.cluster.rs_counts(rs as RsId);
            status.replicas += c.replicas;
            status.available += c.available;
            if self.cluster.replica_sets[rs].template == dep.template() {
                status.updated += c.replicas;
            }
        }
        status
    }

    /// Records completion, mitigation and the end of a rollback once they happen.
    pub(super) fn check_progress(&mut self, now: SimTime) {
        if self.completed_at.is_none() && self.undo_at.is_none() && now >= self.sc.release.at {
            let complete = match &self.plan {
                Plan::Deployment => {
                    let d = self.workloads[0].dep();
                    d.template() == NEW && d.complete()
                }
                Plan::Switch(p) => p.sw.switched_at().is_some(),
                Plan::Mesh(p) => p.done,
                Plan::Rollout(_) => {
                    let r = self.workloads[0].rollout();
                    r.stable_template() == Some(NEW) && r.phase() == RolloutPhase::Healthy
                }
                Plan::Flagger(p) => {
                    let primary = self.workloads[0].dep();
                    p.canary.phase() == FlaggerPhase::Succeeded
                        && primary.template() == NEW
                        && primary.complete()
                }
            };
            if complete {
                self.completed_at = Some(now);
                let to = &self.sc.release.to_image;
                let message = match &self.plan {
                    Plan::Deployment | Plan::Rollout(_) => {
                        // The current spec.replicas: an HPA may have changed it.
                        let replicas = match &self.workloads[0].ctl {
                            super::Ctl::Deployment(d) => d.replicas(),
                            super::Ctl::Rollout(r) => r.replicas(),
                        };
                        format!("all {replicas} replicas run {to} and are available")
                    }
                    Plan::Switch(_) => format!("the Service selects {to} only"),
                    Plan::Mesh(_) => {
                        format!("the last step is applied: {to} gets {}%", self.weights[1].min(100))
                    }
                    Plan::Flagger(_) => format!("the primary runs {to} and the canary is scaled to zero"),
                };

                self.log(now, self.release_object(), "RolloutComplete", message);
            }
        }
        // An Argo abort whose abortScaleDownDelaySeconds is 0 keeps the canary pods forever:
        // back when no traffic reaches them.
        let keeps_canary = match &self.sc.strategy {
            Strategy::Rollout(r) => {
                self.workloads[0].rollout().aborted()
                    && r.spec.canary().is_some_and(|c| c.abort_scale_down().delay.is_none())
            }
            _ => false,
        };
        let new_gone = if keeps_canary { self.new_gets_no_traffic() } else { self.live_new_pods == 0 };
        if self.undo_at.is_some() && self.rolled_back_at.is_none() && new_gone {
            let back = match &self.plan {
                Plan::Deployment => {
                    let d = self.workloads[0].dep();
                    d.template() == OLD && d.complete()
                }
                Plan::Switch(p) => p.sw.phase() == crate::controllers::service_switch::Phase::RolledBack,
                Plan::Mesh(_) => self.traffic.endpoints_of(NEW) == 0,
                Plan::Rollout(p) => {
                    let r = self.workloads[0].rollout();
                    let replicas = i64::from(self.sc.deployment.replicas);
                    if p.undone {
                        r.stable_template() == Some(OLD) && r.phase() == RolloutPhase::Healthy
                    } else {
                        r.aborted() && self.stable_available() >= replicas
                    }
                }
                Plan::Flagger(p) => p.canary.phase() == FlaggerPhase::Failed,
            };
            if back {
                self.rolled_back_at = Some(now);
                let message = format!(
                    "{} is fully available again and no {} pods are left",
                    self.sc.release.from_image, self.sc.release.to_image
                );
                self.log(now, self.release_object(), "RolledBack", message);
            }
        }
    }

    /// Available pods of the old version.
    fn stable_available(&self) -> i64 {
        (0..self.cluster.replica_sets.len())
            .filter(|&rs| self.cluster.replica_sets[rs].template == OLD)
            .map(|rs| self.cluster.rs_counts(rs as RsId).available)
            .sum()
    }

    /// The object the release is about, for the trace.
    fn release_object(&self) -> String {
        match &self.plan {
            Plan::Deployment => self.workloads[0].object(),
            Plan::Switch(p) => p.object.clone(),
            Plan::Mesh(p) => p.object.clone(),
            Plan::Rollout(p) => p.object.clone(),
            Plan::Flagger(p) => p.object.clone(),
        }
    }

    /// The share of traffic the configuration intends for the new version (see
    /// `TimelineRow::intended_share`).
    pub(super) fn intended_new_share(&self) -> f64 {
        if let Plan::Rollout(_) = &self.plan {
            let r = self.workloads[0].rollout();
            let w = r.intended_weights();
            // The canary weight goes to the current template, the stable weight to the
            // stable one (the new version itself once promoted).
            let mut share = 0.0;
            if r.template() == NEW {
                share += w.canary as f64 / 100.0;
            }
            if r.stable_template() == Some(NEW) {
                share += w.stable as f64 / 100.0;
            }
            return share.min(1.0);
        }
        // A weighted mix of each destination's share of new-version endpoints.
        let total: f64 = (0..self.dests.len()).map(|d| self.dest_weight(d)).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let mut share = 0.0;
        for d in 0..self.dests.len() {
            let endpoints = self.traffic.destination_endpoints(DestinationId(d as u32));
            if endpoints.is_empty() {
                continue;
            }
            let new = endpoints.iter().filter(|&&p| self.cluster.pods[p as usize].template == NEW).count();
            share += self.dest_weight(d) / total * new as f64 / endpoints.len() as f64;
        }
        share
    }

    fn dest_weight(&self, d: usize) -> f64 {
        if self.dests.len() == 1 { 1.0 } else { f64::from(self.weights[d.min(1)]) }
    }
}

fn side_workload(side: Side) -> u32 {
    match side {
        Side::Old => 0,
        Side::New => 1,
    }
}

fn describe_step(step: &CanaryStep) -> String {
    match step {
        CanaryStep::SetWeight(w) => format!("setWeight: {w}"),
        CanaryStep::Pause { duration: Some(d) } => format!("pause: {}", format_duration(*d)),
        CanaryStep::Pause { duration: None } => "pause until promoted".to_string(),
        CanaryStep::SetCanaryScale(s) => crate::controllers::argo::spec::describe_canary_scale(s),
        CanaryStep::Analysis { templates } => format!("analysis: {}", templates.join(", ")),
    }
}

/// A Flagger metric check's verdict, a stand-in until metrics are simulated: the success rate
/// is the canary's observed share of good responses since the last tick (routed traffic),
/// or its version's true error probability (mirrored or unrouted canary, as a load tester
/// would see it); the duration is the version's true p99 latency. Custom queries pass.
/// One Flagger metric check as Flagger runs it: the query at `now`; one series with a number
/// is the value (`request-duration` truncated to whole milliseconds); no series, or NaN, is
/// "no values found", and several series are an error, both failed checks (controllers.md
/// §3.5).
fn prometheus_check(
    check: &FlaggerCheck,
    query: &crate::telemetry::promql::Query,
    store: &crate::telemetry::promql::Store,
    now: SimTime,
) -> (Verdict, Option<f64>) {
    use crate::telemetry::promql::Value;
    let value = match query.eval_instant(store, now) {
        Ok(Value::Scalar(v)) => v,
        Ok(Value::Vector(v)) if v.len() == 1 => v[0].1,
        Ok(Value::Vector(v)) if v.is_empty() => return (Verdict::NoData, None),
        _ => return (Verdict::Fail, None),
    };
    if value.is_nan() {
        return (Verdict::NoData, None);
    }
    let value = if check.kind == FlaggerCheckKind::RequestDuration { value.trunc() } else { value };
    let below = check.min.is_some_and(|min| value < min);
    let above = check.max.is_some_and(|max| value > max);
    (if below || above { Verdict::Fail } else { Verdict::Pass }, Some(value))
}

fn stand_in_check(
    check: &FlaggerCheck,
    observed: Tally,
    use_observed: bool,
    model: &VersionModel,
    now: SimTime,
    first_start: SimTime,
) -> (Verdict, Option<f64>) {
    let value = match check.kind {
        FlaggerCheckKind::RequestSuccessRate if use_observed => {
            if observed.requests == 0 {
                return (Verdict::NoData, None);
            }
            100.0 * (1.0 - observed.errors as f64 / observed.requests as f64)
        }
        FlaggerCheckKind::RequestSuccessRate => {
            let class = RequestClass { in_user_subset: false, over_load: false };
            100.0 * (1.0 - model.error_probability(now, first_start, class))
        }
        FlaggerCheckKind::RequestDuration => {
            let l = model.latency_at(now, first_start);
            // p99 of the log-normal, truncated to whole milliseconds as Flagger does.
            (1000.0 * (l.mu + 2.326_347_874_040_841 * l.sigma).exp()).trunc()
        }
        FlaggerCheckKind::Custom => return (Verdict::Pass, None),
    };
    let below = check.min.is_some_and(|min| value < min);
    let above = check.max.is_some_and(|max| value > max);
    (if below || above { Verdict::Fail } else { Verdict::Pass }, Some(value))
}
