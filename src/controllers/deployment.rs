//! The Kubernetes Deployment controller as a state machine over ReplicaSet views.
//!
//! The simulation world owns pods and ReplicaSets. It calls [`DeploymentController::sync`]
//! with a view of every RS the Deployment owns and applies the returned [`Action`]s in order;
//! the controller never sees a pod. One `sync` is one pass of upstream `syncDeployment`
//! (`controllers.md` §1.3, §1.6, §1.7): `rolloutRolling`, `rolloutRecreate`, or — while
//! paused — `sync`/`scale`. The only state kept between syncs is what upstream keeps in the
//! Deployment object: its spec (template, paused), the Progressing condition and the last
//! status, against which progress is judged.
//!
//! A change of `spec.replicas` ([`DeploymentController::set_replicas`], e.g. by an HPA) is a
//! scaling event (`isScalingEvent`: an active RS's `desired-replicas` annotation differs from
//! `spec.replicas`); that sync runs `sync`/`scale` instead of the rollout, so a rollout in
//! progress is resized proportionally ([`rolling::proportional_sizes`]). The controller keeps
//! the annotations itself: every RS it sizes carries the `replicas` and `replicas + maxSurge`
//! of that sync, so one pair stands for every active RS.
//!
//! Not modelled: revision-history pruning (`cleanupDeployment`; there is no delete action),
//! `minReadySeconds` (availability arrives already judged in the views) and API
//! errors/conflicts.

use super::rolling::{self, RsCounts, StatusCounts};
use super::spec::{DeploymentManifest, DeploymentStrategy};
use crate::engine::{SECOND, SimTime};

/// What the controller may know about one ReplicaSet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaSetView {
    /// The world's id for the RS.
    pub id: u32,
    /// Identity of its pod template (equal templates ⇔ equal ids).
    pub template: u32,
    /// `deployment.kubernetes.io/revision`.
    pub revision: u64,
    /// Creation order (smaller = older).
    pub created: u64,
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.replicas`: non-terminating pods.
    pub replicas: i64,
    pub ready: i64,
    pub available: i64,
    /// All pods that still exist, terminating included (Recreate waits for 0).
    pub pods: i64,
}

impl ReplicaSetView {
    fn counts(&self) -> RsCounts {
        RsCounts { spec: self.spec, available: self.available }
    }
}

/// A write the controller asks the world to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the RS for `template` with `replicas` and that revision. The world assigns the id.
    CreateReplicaSet { template: u32, replicas: i64, revision: u64 },
    /// Set `spec.replicas` of `rs` (was `from`).
    Scale { rs: u32, from: i64, to: i64 },
    /// Set the revision annotation of `rs` (the adopted RS becomes the newest revision).
    SetRevision { rs: u32, revision: u64 },
}

/// Reasons of the Deployment's `Progressing` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// True: the controller created the new RS.
    NewReplicaSetCreated,
    /// True: the new RS already existed when progress was first tracked.
    FoundNewReplicaSet,
    /// True: progress was seen (reported again on every progress).
    ReplicaSetUpdated,
    /// True: the rollout completed.
    NewReplicaSetAvailable,
    /// False: no progress for `progressDeadlineSeconds`.
    ProgressDeadlineExceeded,
    /// Unknown: paused; the deadline is not evaluated.
    DeploymentPaused,
    /// Unknown: resumed; the deadline counts from the resume.
    DeploymentResumed,
}

/// What the world should know after a sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncResult {
    /// When to sync again absent any other change (the progress-deadline check).
    pub requeue_at: Option<SimTime>,
}

/// Why `kubectl rollout undo` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    #[error("you cannot rollback a paused deployment; resume it first")]
    Paused,
    #[error("no rollout history found")]
    NoPreviousRevision,
    #[error("skipped rollback (current template already matches revision {revision})")]
    AlreadyMatches { revision: u64 },
}

/// The Progressing condition: its reason and `lastUpdateTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progressing {
    reason: Condition,
    last_update: SimTime,
}

/// The new RS as one sync sees it: an existing RS, or the one this sync asked to create.
#[derive(Clone, Copy, Debug)]
struct NewRs {
    /// `None` for an RS created in this sync (the world has not assigned its id yet).
    id: Option<u32>,
    counts: RsCounts,
}

/// One Deployment's controller state.
pub struct DeploymentController {
    replicas: i64,
    strategy: DeploymentStrategy,
    /// `progressDeadlineSeconds` as simulated time.
    deadline: Option<SimTime>,
    paused: bool,
    template: u32,
    progressing: Option<Progressing>,
    /// The status written by the last sync: the baseline for "progress".
    last_status: StatusCounts,
    complete: bool,
    /// Scratch, reused across syncs: indices into `rss` of the old RSs, oldest first...
    old: Vec<usize>,
    /// ...their counts, mutated by the rolling arithmetic...
    counts: Vec<RsCounts>,
    /// ...and their specs before a scaling phase, to turn the difference into actions.
    before: Vec<i64>,
    /// The revision a new or adopted RS gets in the current sync (max old revision + 1).
    next_revision: u64,
    /// The `desired-replicas` and `max-replicas` annotations the active RSs carry: the
    /// `replicas` and `replicas + maxSurge` of the last sync.
    annotated: (i64, i64),
}

impl DeploymentController {
    /// A controller for `manifest` whose pod template is `template`.
    pub fn new(manifest: &DeploymentManifest, template: u32) -> Self {
        let mut controller = Self {
            replicas: i64::from(manifest.replicas),
            strategy: manifest.strategy.clone(),
            deadline: manifest.progress_deadline_seconds.map(|s| u64::from(s) * SECOND),
            paused: manifest.paused,
            template,
            progressing: None,
            last_status: StatusCounts::default(),
            complete: false,
            old: Vec::new(),
            counts: Vec::new(),
            before: Vec::new(),
            next_revision: 1,
            annotated: (0, 0),
        };
        controller.annotated = controller.annotations();
        controller
    }

    /// The annotations an RS sized now gets: `replicas` and `replicas + maxSurge`.
    fn annotations(&self) -> (i64, i64) {
        (self.replicas, self.replicas + rolling::max_surge(&self.strategy, self.replicas))
    }

    pub fn template(&self) -> u32 {
        self.template
    }

    pub fn replicas(&self) -> i64 {
        self.replicas
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The user applies a pod template. Applying the current one is a no-op (no new
    /// generation); a different one makes the rollout incomplete until a sync sees it done.
    pub fn set_template(&mut self, template: u32) {
        if template != self.template {
            self.template = template;
            self.complete = false;
        }
    }

    /// `kubectl scale` (or an HPA): a new `spec.replicas`. The next sync is a scaling event
    /// if any RS is active: `scale` resizes the RSs (proportionally during a rollout).
    pub fn set_replicas(&mut self, replicas: i64) {
        if replicas != self.replicas {
            self.replicas = replicas;
            self.complete = false;
        }
    }

    /// `kubectl rollout pause` / `resume`; the condition changes at the next sync.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// The current Progressing condition reason and its `lastUpdateTime`, if any.
    pub fn progressing(&self) -> Option<(Condition, SimTime)> {
        self.progressing.map(|p| (p.reason, p.last_update))
    }

    /// Whether the Progressing condition currently says ProgressDeadlineExceeded. It stays so
    /// until the rollout progresses again, completes, or a new RS is created.
    pub fn timed_out(&self) -> bool {
        self.reason() == Some(Condition::ProgressDeadlineExceeded)
    }

    /// Whether the last sync saw `DeploymentComplete` for the current template.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// One sync. `rss` are all RSs the Deployment owns, in any order. Actions to apply are
    /// pushed in order, and so are Progressing condition changes.
    pub fn sync(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> SyncResult {
        self.check_paused_conditions(now, conditions);
        let result = if self.paused || self.scaling_event(rss) {
            self.sync_paused(now, rss, actions, conditions)
        } else {
            match self.strategy {
                DeploymentStrategy::RollingUpdate { .. } => {
                    self.rollout_rolling(now, rss, actions, conditions)
                }
                DeploymentStrategy::Recreate => self.rollout_recreate(now, rss, actions, conditions),
            }
        };
        self.annotated = self.annotations();
        result
    }

    /// `isScalingEvent`: an active RS whose desired-replicas annotation is not `replicas`.
    fn scaling_event(&self, rss: &[ReplicaSetView]) -> bool {
        self.annotated.0 != self.replicas && rss.iter().any(|rs| rs.spec > 0)
    }

    /// `kubectl rollout undo` to the previous revision (the second highest among `rss`).
    ///
    /// Rollback is a roll forward: the Deployment gets that RS's template back, and the next
    /// sync adopts the existing RS as the new one, bumping its revision. Returns the template.
    pub fn rollback_undo(&mut self, rss: &[ReplicaSetView]) -> Result<u32, UndoError> {
        let target = previous_revision(rss).ok_or(UndoError::NoPreviousRevision)?;
        if self.paused {
            return Err(UndoError::Paused);
        }
        if target.template == self.template {
            return Err(UndoError::AlreadyMatches { revision: target.revision });
        }
        self.set_template(target.template);
        Ok(target.template)
    }

    /// `rolloutRolling`: adopt or create the new RS, then scale the new RS up *or* the old
    /// ones down (never both in one sync), then judge progress.
    fn rollout_rolling(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> SyncResult {
        let (new_idx, status) = self.survey(rss);
        let new = self.new_replica_set(now, rss, new_idx, actions, conditions);
        let new = new.unwrap_or_else(|| self.create_new(now, actions, conditions));
        if !self.reconcile_new(new, actions) {
            self.reconcile_old(rss, new, actions);
        }
        self.sync_rollout_status(now, status, conditions)
    }

    /// `rolloutRecreate`: old RSs to zero; wait until none of their pods exist; only then
    /// create (or scale) the new RS to the full count in one step.
    fn rollout_recreate(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> SyncResult {
        let (new_idx, status) = self.survey(rss);
        let new = self.new_replica_set(now, rss, new_idx, actions, conditions);
        if self.scale_old_to_zero(rss, actions) || self.old_pods_exist(rss) {
            return self.sync_rollout_status(now, status, conditions);
        }
        match new {
            Some(new) => self.scale_up_for_recreate(new, actions),
            None => _ = self.create_new(now, actions, conditions),
        }
        self.sync_rollout_status(now, status, conditions)
    }

    /// `sync`, run while paused or on a scaling event: no new RS, no progress estimation,
    /// but `scale` runs.
    fn sync_paused(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> SyncResult {
        let (new_idx, status) = self.survey(rss);
        self.new_replica_set(now, rss, new_idx, actions, conditions);
        self.scale(rss, new_idx, actions);
        self.complete = rolling::deployment_complete(self.replicas, status);
        self.last_status = status;
        SyncResult::default()
    }

    /// Finds the new RS, fills the old-RS scratch (oldest first) and computes the status the
    /// sync will write. The status is taken from the views as listed, before any action: an
    /// RS created in this sync contributes nothing yet.
    fn survey(&mut self, rss: &[ReplicaSetView]) -> (Option<usize>, StatusCounts) {
        let new_idx = rss
            .iter()
            .enumerate()
            .filter(|(_, rs)| rs.template == self.template)
            .min_by_key(|(_, rs)| (rs.created, rs.id))
            .map(|(i, _)| i);
        self.old.clear();
        self.old.extend((0..rss.len()).filter(|&i| Some(i) != new_idx));
        self.old.sort_unstable_by_key(|&i| (rss[i].created, rss[i].id));
        self.counts.clear();
        self.counts.extend(self.old.iter().map(|&i| rss[i].counts()));
        self.next_revision = self.old.iter().map(|&i| rss[i].revision).max().unwrap_or(0) + 1;
        (new_idx, observe(rss, new_idx))
    }

    /// `getNewReplicaSet` for an RS that already exists: bring its revision up to date, or —
    /// if progress was never tracked — record that it was found. Upstream returns right after
    /// writing the revision, so FoundNewReplicaSet waits for the next sync in that case.
    fn new_replica_set(
        &mut self,
        now: SimTime,
        rss: &[ReplicaSetView],
        new_idx: Option<usize>,
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> Option<NewRs> {
        let rs = rss[new_idx?];
        let revision = self.next_revision;
        if rs.revision < revision {
            actions.push(Action::SetRevision { rs: rs.id, revision });
        } else if self.deadline.is_some() && self.progressing.is_none() {
            self.set_condition(Condition::FoundNewReplicaSet, now, conditions);
        }
        Some(NewRs { id: Some(rs.id), counts: rs.counts() })
    }

    /// `getNewReplicaSet` with create: the RS starts at `NewRSNewReplicas` computed with itself
    /// at 0, so surge pods are asked for in the same sync that creates it.
    fn create_new(
        &mut self,
        now: SimTime,
        actions: &mut Vec<Action>,
        conditions: &mut Vec<Condition>,
    ) -> NewRs {
        let all_spec: i64 = self.counts.iter().map(|rs| rs.spec).sum();
        let replicas = rolling::new_rs_new_replicas(&self.strategy, self.replicas, all_spec, 0);
        let revision = self.next_revision;
        actions.push(Action::CreateReplicaSet { template: self.template, replicas, revision });
        if self.deadline.is_some() {
            self.set_condition(Condition::NewReplicaSetCreated, now, conditions);
        }
        NewRs { id: None, counts: RsCounts { spec: replicas, available: 0 } }
    }
}

/// Scaling: the rolling update proper and the paused `scale` path.
impl DeploymentController {
    /// `reconcileNewReplicaSet`: returns whether the new RS was scaled (then the sync stops
    /// scaling, so old RSs only shrink once the new RS has reached its current target).
    ///
    /// An RS created in this sync already sits at `NewRSNewReplicas` (it either filled the
    /// surge room or reached `replicas`), so asking again would return the same size.
    fn reconcile_new(&mut self, new: NewRs, actions: &mut Vec<Action>) -> bool {
        let old_spec: i64 = self.counts.iter().map(|rs| rs.spec).sum();
        let all_spec = old_spec + new.counts.spec;
        let target =
            rolling::reconcile_new_replica_set(&self.strategy, self.replicas, all_spec, new.counts.spec);
        let Some(rs) = new.id else {
            debug_assert_eq!(target, None, "a just-created RS is already at its size");
            return false;
        };
        match target {
            Some(to) => {
                actions.push(Action::Scale { rs, from: new.counts.spec, to });
                true
            }
            None => false,
        }
    }

    /// `reconcileOldReplicaSets`, emitting each phase's scale calls in upstream's order:
    /// first the unhealthy-pod cleanup, then the availability-bounded scale-down, each oldest
    /// RS first (one RS may thus be scaled twice in one sync).
    fn reconcile_old(&mut self, rss: &[ReplicaSetView], new: NewRs, actions: &mut Vec<Action>) {
        let budget =
            rolling::old_scale_down_budget(&self.strategy, self.replicas, Some(new.counts), &self.counts);
        let Some(budget) = budget else { return };
        self.snapshot();
        let cleanup = rolling::cleanup_unhealthy(&mut self.counts, budget);
        self.emit_scales(rss, actions);
        if cleanup.aborted {
            return;
        }
        self.snapshot();
        let available = rolling::total_available(Some(new.counts), &self.counts);
        let floor = rolling::min_available(&self.strategy, self.replicas);
        rolling::scale_down_old_replica_sets_for_rolling_update(available, floor, &mut self.counts);
        self.emit_scales(rss, actions);
    }

    fn snapshot(&mut self) {
        self.before.clear();
        self.before.extend(self.counts.iter().map(|rs| rs.spec));
    }

    /// Turns every old RS whose spec changed since [`Self::snapshot`] into a Scale action.
    fn emit_scales(&self, rss: &[ReplicaSetView], actions: &mut Vec<Action>) {
        for ((&i, rs), &from) in self.old.iter().zip(&self.counts).zip(&self.before) {
            if rs.spec != from {
                actions.push(Action::Scale { rs: rss[i].id, from, to: rs.spec });
            }
        }
    }

    /// `scaleDownOldReplicaSetsForRecreate`: every active old RS to 0, oldest first.
    fn scale_old_to_zero(&self, rss: &[ReplicaSetView], actions: &mut Vec<Action>) -> bool {
        let before = actions.len();
        for &i in &self.old {
            if rss[i].spec > 0 {
                actions.push(Action::Scale { rs: rss[i].id, from: rss[i].spec, to: 0 });
            }
        }
        actions.len() > before
    }

    /// `scaleUpNewReplicaSetForRecreate`: an existing (adopted) new RS goes to `replicas` at once.
    fn scale_up_for_recreate(&self, new: NewRs, actions: &mut Vec<Action>) {
        if let Some(rs) = new.id
            && new.counts.spec != self.replicas
        {
            let (from, to) = (new.counts.spec, self.replicas);
            actions.push(Action::Scale { rs, from, to });
        }
    }

    /// `oldPodsRunning`: any old pod still exists, terminating ones included, so that Recreate
    /// never runs two versions at once.
    fn old_pods_exist(&self, rss: &[ReplicaSetView]) -> bool {
        self.old.iter().any(|&i| rss[i].replicas > 0 || rss[i].pods > 0)
    }

    /// `scale` (the paused path): one active RS is sized to `replicas`; a saturated new RS
    /// drains the old ones; otherwise the RSs are proportionally resized to
    /// `replicas + maxSurge`.
    fn scale(&self, rss: &[ReplicaSetView], new_idx: Option<usize>, actions: &mut Vec<Action>) {
        if let Some(i) = self.active_or_latest(rss, new_idx) {
            let rs = rss[i];
            if rs.spec != self.replicas {
                actions.push(Action::Scale { rs: rs.id, from: rs.spec, to: self.replicas });
            }
            return;
        }
        // `IsSaturated`: its desired-replicas annotation is `replicas` too.
        if let Some(i) = new_idx
            && rss[i].spec == self.replicas
            && self.annotated.0 == self.replicas
            && rss[i].available == self.replicas
        {
            for &j in self.old.iter().rev().filter(|&&j| rss[j].spec > 0) {
                actions.push(Action::Scale { rs: rss[j].id, from: rss[j].spec, to: 0 });
            }
            return;
        }
        if matches!(self.strategy, DeploymentStrategy::RollingUpdate { .. }) {
            self.scale_proportionally(rss, actions);
        }
    }

    /// `FindActiveOrLatest`: the only RS with spec > 0; if none is active, the new RS or else
    /// the newest old one; `None` when several are active.
    fn active_or_latest(&self, rss: &[ReplicaSetView], new_idx: Option<usize>) -> Option<usize> {
        let mut active = (0..rss.len()).filter(|&i| rss[i].spec > 0);
        match (active.next(), active.next()) {
            (Some(i), None) => Some(i),
            (Some(_), Some(_)) => None,
            (None, _) => new_idx.or_else(|| self.old.last().copied()),
        }
    }

    /// The proportional part of `scale` ([`rolling::proportional_sizes`]): the RSs' shares of
    /// the change to `replicas + maxSurge`, each from its size and the max-replicas
    /// annotation; Scale actions in upstream's order (largest first).
    fn scale_proportionally(&self, rss: &[ReplicaSetView], actions: &mut Vec<Action>) {
        let views: Vec<rolling::ScaleRs> = rss
            .iter()
            .map(|rs| rolling::ScaleRs {
                spec: rs.spec,
                created: rs.created,
                id: rs.id,
                max_replicas: Some(self.annotated.1),
            })
            .collect();
        let surge = rolling::max_surge(&self.strategy, self.replicas);
        let status_replicas = rss.iter().map(|rs| rs.replicas).sum();
        let sizes = rolling::proportional_sizes(self.replicas, surge, status_replicas, &views);
        let active: i64 = rss.iter().filter(|rs| rs.spec > 0).map(|rs| rs.spec).sum();
        let growing = self.replicas > 0 && self.replicas + surge > active;
        for i in rolling::proportional_order(&views, growing) {
            if sizes[i] != rss[i].spec {
                actions.push(Action::Scale { rs: rss[i].id, from: rss[i].spec, to: sizes[i] });
            }
        }
    }
}

/// The Progressing condition and the progress deadline.
impl DeploymentController {
    fn reason(&self) -> Option<Condition> {
        self.progressing.map(|p| p.reason)
    }

    /// `SetDeploymentCondition`: a condition with the same reason is left alone (its
    /// `lastUpdateTime` included); a new reason is recorded with `lastUpdateTime = now`.
    fn set_condition(&mut self, reason: Condition, now: SimTime, conditions: &mut Vec<Condition>) {
        if self.reason() != Some(reason) {
            self.progressing = Some(Progressing { reason, last_update: now });
            conditions.push(reason);
        }
    }

    /// `checkPausedConditions`: marks pause and resume so that time spent paused never counts
    /// against the deadline (resuming restarts the clock). A timeout is never overwritten.
    fn check_paused_conditions(&mut self, now: SimTime, conditions: &mut Vec<Condition>) {
        let reason = self.reason();
        if self.deadline.is_none() || reason == Some(Condition::ProgressDeadlineExceeded) {
            return;
        }
        if self.paused && reason != Some(Condition::DeploymentPaused) {
            self.set_condition(Condition::DeploymentPaused, now, conditions);
        } else if !self.paused && reason == Some(Condition::DeploymentPaused) {
            self.set_condition(Condition::DeploymentResumed, now, conditions);
        }
    }

    /// `syncRolloutStatus`: judge the status this sync observed against the last one.
    /// Completion wins over progress, progress over the deadline; a finished rollout whose
    /// pods are all updated is not re-judged (a lost pod does not un-complete it).
    fn sync_rollout_status(
        &mut self,
        now: SimTime,
        status: StatusCounts,
        conditions: &mut Vec<Condition>,
    ) -> SyncResult {
        self.complete = rolling::deployment_complete(self.replicas, status);
        let settled =
            status.replicas == status.updated && self.reason() == Some(Condition::NewReplicaSetAvailable);
        if self.deadline.is_some() && !settled {
            if self.complete {
                self.set_condition(Condition::NewReplicaSetAvailable, now, conditions);
            } else if rolling::deployment_progressing(self.last_status, status) {
                self.progressing =
                    Some(Progressing { reason: Condition::ReplicaSetUpdated, last_update: now });
                conditions.push(Condition::ReplicaSetUpdated);
            } else if self.deadline_passed(now) {
                self.set_condition(Condition::ProgressDeadlineExceeded, now, conditions);
            }
        }
        self.last_status = status;
        SyncResult { requeue_at: self.requeue_at() }
    }

    /// `DeploymentTimedOut`: already timed out stays timed out; otherwise strictly later than
    /// `lastUpdateTime + progressDeadlineSeconds`.
    fn deadline_passed(&self, now: SimTime) -> bool {
        match self.progressing {
            None => false,
            Some(p) if p.reason == Condition::ProgressDeadlineExceeded => true,
            Some(p) => rolling::deployment_timed_out(
                self.deadline,
                p.last_update,
                now,
                p.reason == Condition::NewReplicaSetAvailable,
            ),
        }
    }

    /// `requeueStuckDeployment`: an unfinished rollout is looked at again one second after its
    /// deadline, so that a stall is reported even if nothing else happens. Upstream requeues
    /// (rate-limited) right away when less than a second is left; syncing at deadline + 1s is
    /// the first moment that retry chain can report the timeout. A completed rollout
    /// (NewReplicaSetAvailable) is never re-judged, so it needs no requeue.
    fn requeue_at(&self) -> Option<SimTime> {
        let p = self.progressing?;
        let deadline = self.deadline?;
        let finished =
            matches!(p.reason, Condition::ProgressDeadlineExceeded | Condition::NewReplicaSetAvailable);
        (!self.complete && !finished).then(|| p.last_update + deadline + SECOND)
    }
}

/// `calculateStatus`: sums over every RS; `updated` is the new RS's pods.
fn observe(rss: &[ReplicaSetView], new_idx: Option<usize>) -> StatusCounts {
    let mut s = StatusCounts { updated: new_idx.map_or(0, |i| rss[i].replicas), ..StatusCounts::default() };
    for rs in rss {
        s.replicas += rs.replicas;
        s.ready += rs.ready;
        s.available += rs.available;
    }
    s
}

/// kubectl's `deploymentRevision(…, 0)`: the RS with the second highest revision. Equal
/// revisions (which the controller never produces) resolve by the order of `rss`.
fn previous_revision(rss: &[ReplicaSetView]) -> Option<&ReplicaSetView> {
    let mut latest: Option<&ReplicaSetView> = None;
    let mut previous: Option<&ReplicaSetView> = None;
    for rs in rss {
        if latest.map(|r| r.revision) < Some(rs.revision) {
            previous = latest;
            latest = Some(rs);
        } else if previous.map(|r| r.revision) < Some(rs.revision) {
            previous = Some(rs);
        }
    }
    previous
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Resources;
    use crate::controllers::spec::IntOrPercent;
    use Condition::*;
    use IntOrPercent::{Int, Percent};
    use std::collections::BTreeMap;

    const V1: u32 = 1;
    const V2: u32 = 2;
    const V3: u32 = 3;
    const DEADLINE: SimTime = 600 * SECOND;

    fn rolling(max_surge: IntOrPercent, max_unavailable: IntOrPercent) -> DeploymentStrategy {
        DeploymentStrategy::RollingUpdate { max_surge, max_unavailable }
    }

    fn manifest(replicas: u32, strategy: DeploymentStrategy) -> DeploymentManifest {
        DeploymentManifest {
            name: "web".into(),
            namespace: "default".into(),
            replicas,
            strategy,
            min_ready_seconds: 0,
            progress_deadline_seconds: Some(600),
            revision_history_limit: 10,
            paused: false,
            template_labels: BTreeMap::new(),
            image: "app:1".into(),
            requests: Resources::default(),
            container: "app".to_string(),
            readiness_probe: None,
            termination_grace_period_seconds: 30,
        }
    }

    /// How pods become available between syncs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Model {
        /// Every pod that exists is available before the next sync.
        Batch,
        /// Exactly one pending pod of the newest RS becomes available after each sync.
        OneAtATime,
    }

    /// A tiny world: ReplicaSets whose pods appear on scale-up, vanish on scale-down (not-ready
    /// ones first; or linger as terminating when `graceful`) and become available per `model`.
    struct World {
        rss: Vec<ReplicaSetView>,
        model: Model,
        /// Pods of this template never become ready.
        never_ready: Option<u32>,
        graceful: bool,
    }

    impl World {
        /// One RS (template V1, revision 1) with every pod available.
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
            World { rss: vec![rs], model, never_ready: None, graceful: false }
        }

        fn get(&self, template: u32) -> Option<&ReplicaSetView> {
            self.rss.iter().find(|rs| rs.template == template)
        }

        fn spec(&self, template: u32) -> i64 {
            self.get(template).map_or(0, |rs| rs.spec)
        }

        fn available(&self, template: u32) -> i64 {
            self.get(template).map_or(0, |rs| rs.available)
        }

        fn by_id(&mut self, id: u32) -> &mut ReplicaSetView {
            self.rss.iter_mut().find(|rs| rs.id == id).expect("known RS")
        }

        fn total(&self, f: impl Fn(&ReplicaSetView) -> i64) -> i64 {
            self.rss.iter().map(f).sum()
        }

        fn apply(&mut self, actions: &[Action]) {
            for &a in actions {
                match a {
                    Action::CreateReplicaSet { template, replicas, revision } => {
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
                    Action::Scale { rs, from, to } => {
                        let graceful = self.graceful;
                        let rs = self.by_id(rs);
                        assert_eq!(rs.spec, from, "scale must start from the current spec");
                        rs.spec = to;
                        // New pods appear at once; removed ones linger as terminating if graceful.
                        rs.pods += (to - rs.replicas).max(0);
                        if !graceful {
                            rs.pods -= (rs.replicas - to).max(0);
                        }
                        rs.replicas = to;
                        rs.ready = rs.ready.min(to);
                        rs.available = rs.available.min(to);
                    }
                    Action::SetRevision { rs, revision } => self.by_id(rs).revision = revision,
                }
            }
        }

        /// Terminating pods are gone.
        fn finish_termination(&mut self) {
            for rs in &mut self.rss {
                rs.pods = rs.replicas;
            }
        }

        fn converge(&mut self) {
            let never = self.never_ready;
            match self.model {
                Model::Batch => {
                    for rs in self.rss.iter_mut().filter(|rs| Some(rs.template) != never) {
                        rs.ready = rs.replicas;
                        rs.available = rs.replicas;
                    }
                }
                Model::OneAtATime => {
                    let newest = self.rss.iter_mut().max_by_key(|rs| rs.revision).expect("an RS");
                    if Some(newest.template) != never && newest.available < newest.replicas {
                        newest.ready += 1;
                        newest.available += 1;
                    }
                }
            }
        }
    }

    /// A controller driven against a [`World`], one sync per simulated second.
    struct Run {
        ctrl: DeploymentController,
        world: World,
        actions: Vec<Action>,
        conditions: Vec<Condition>,
        now: SimTime,
        max_total: i64,
        /// `replicas − maxUnavailable` while availability is ours to protect.
        floor: Option<i64>,
    }

    impl Run {
        /// A settled world (template V1); warms the controller up with one sync.
        fn new(replicas: u32, strategy: DeploymentStrategy, model: Model) -> Self {
            let m = manifest(replicas, strategy.clone());
            let r = i64::from(replicas);
            let mut run = Run {
                ctrl: DeploymentController::new(&m, V1),
                world: World::settled(r, model),
                actions: Vec::new(),
                conditions: Vec::new(),
                now: 0,
                max_total: r + rolling::max_surge(&strategy, r),
                floor: Some(r - rolling::max_unavailable(&strategy, r)),
            };
            run.step();
            assert_eq!(run.actions, []);
            assert_eq!(run.conditions, [FoundNewReplicaSet, NewReplicaSetAvailable]);
            assert!(run.ctrl.complete());
            run
        }

        fn sync_at(&mut self, now: SimTime) -> SyncResult {
            self.now = now;
            self.actions.clear();
            self.conditions.clear();
            self.ctrl.sync(now, &self.world.rss, &mut self.actions, &mut self.conditions)
        }

        /// Sync one second later, apply the actions, let pods converge; check the invariants
        /// at the worst moment (right after the actions) and after convergence.
        fn step(&mut self) -> SyncResult {
            let result = self.sync_at(self.now + SECOND);
            self.world.apply(&self.actions);
            self.check_invariants();
            self.world.converge();
            self.check_invariants();
            result
        }

        fn check_invariants(&self) {
            let total = self.world.total(|rs| rs.spec);
            assert!(total <= self.max_total, "Σ spec {total} > {} at {}", self.max_total, self.now);
            if let Some(floor) = self.floor {
                let available = self.world.total(|rs| rs.available);
                assert!(available >= floor, "available {available} < {floor} at {}", self.now);
            }
        }

        /// (new spec, old spec) with V2 new and V1 old.
        fn specs(&self) -> (i64, i64) {
            (self.world.spec(V2), self.world.spec(V1))
        }

        fn release(&mut self, template: u32) {
            self.ctrl.set_template(template);
            assert!(!self.ctrl.complete());
        }
    }

    /// Replays a release of V2 and asserts (new spec, old spec) after every sync.
    fn replay(run: &mut Run, rows: &[(i64, i64)]) {
        run.release(V2);
        for (k, &row) in rows.iter().enumerate() {
            run.step();
            assert_eq!(run.specs(), row, "after sync {}", k + 1);
        }
    }

    /// After the last row: one more sync changes nothing and sees the rollout complete.
    fn assert_finishes(run: &mut Run) {
        run.step();
        assert_eq!(run.actions, []);
        assert!(run.ctrl.complete());
        assert_eq!(run.ctrl.progressing().map(|p| p.0), Some(NewReplicaSetAvailable));
    }

    #[test]
    fn trace_10_replicas_25_percent_batch() {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::Batch);
        run.release(V2);
        // (new spec, old spec, total pods, available after pods ready)
        let rows = [(3, 8, 11, 11), (5, 8, 13, 13), (5, 3, 8, 8), (10, 3, 13, 13), (10, 0, 10, 10)];
        for (k, &(new, old, pods, available)) in rows.iter().enumerate() {
            run.step();
            assert_eq!(run.specs(), (new, old), "after sync {}", k + 1);
            assert_eq!(run.world.total(|rs| rs.pods), pods);
            assert_eq!(run.world.total(|rs| rs.available), available);
            if k == 0 {
                let create = Action::CreateReplicaSet { template: V2, replicas: 3, revision: 2 };
                assert_eq!(run.actions, [create, Action::Scale { rs: 1, from: 10, to: 8 }]);
                assert_eq!(run.conditions, [NewReplicaSetCreated]);
            } else {
                assert_eq!(run.actions.len(), 1, "one scale call per sync");
                assert_eq!(run.conditions, [ReplicaSetUpdated]);
            }
        }
        assert_finishes(&mut run);
        assert_eq!(run.conditions, [NewReplicaSetAvailable]);
    }

    #[test]
    fn trace_10_replicas_25_percent_one_pod_at_a_time() {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::OneAtATime);
        run.release(V2);
        // (new spec, old spec, new available, old available, total available)
        let rows = [
            (3, 8, 1, 8, 9),
            (5, 8, 2, 8, 10),
            (5, 6, 3, 6, 9),
            (7, 6, 4, 6, 10),
            (7, 4, 5, 4, 9),
            (9, 4, 6, 4, 10),
            (9, 2, 7, 2, 9),
            (10, 2, 8, 2, 10),
            (10, 0, 9, 0, 9),
            (10, 0, 10, 0, 10),
        ];
        for (k, &(new, old, new_av, old_av, total)) in rows.iter().enumerate() {
            run.step();
            assert_eq!(run.specs(), (new, old), "after sync {}", k + 1);
            let w = &run.world;
            assert_eq!((w.available(V2), w.available(V1)), (new_av, old_av), "sync {}", k + 1);
            assert_eq!(w.total(|rs| rs.available), total);
        }
        assert_eq!(run.actions, [], "sync 10 only waits");
        assert_finishes(&mut run);
    }

    #[test]
    fn trace_10_replicas_new_pods_never_ready() {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::Batch);
        run.world.never_ready = Some(V2);
        replay(&mut run, &[(3, 8), (5, 8)]);
        assert_eq!(run.world.total(|rs| rs.pods), 13);
        assert_eq!(run.world.total(|rs| rs.available), 8);
        for _ in 0..5 {
            run.step();
            assert_eq!(run.actions, [], "13 − 8 − 5 = 0: nothing may move");
            assert_eq!(run.specs(), (5, 8));
        }
    }

    #[test]
    fn trace_5_replicas_surge_1_unavailable_1_batch() {
        let mut run = Run::new(5, rolling(Int(1), Int(1)), Model::Batch);
        run.release(V2);
        let rows = [(1, 4, 5), (2, 4, 6), (2, 2, 4), (4, 2, 6), (4, 0, 4), (5, 0, 5)];
        for (k, &(new, old, total)) in rows.iter().enumerate() {
            run.step();
            assert_eq!(run.specs(), (new, old), "after sync {}", k + 1);
            assert_eq!(run.world.total(|rs| rs.pods), total);
            assert_eq!(run.world.total(|rs| rs.available), total);
        }
        assert_finishes(&mut run);
    }

    #[test]
    fn trace_5_replicas_one_pod_at_a_time() {
        let mut run = Run::new(5, rolling(Int(1), Int(1)), Model::OneAtATime);
        replay(&mut run, &[(1, 4), (2, 4), (2, 2), (4, 2), (4, 1), (5, 1), (5, 0)]);
        // The invariant check in `step` already held availability ≥ 4 throughout.
        assert_finishes(&mut run);
    }

    #[test]
    fn trace_5_replicas_new_pods_never_ready() {
        let mut run = Run::new(5, rolling(Int(1), Int(1)), Model::Batch);
        run.world.never_ready = Some(V2);
        replay(&mut run, &[(1, 4), (2, 4), (2, 4), (2, 4)]);
        assert_eq!(run.world.total(|rs| rs.available), 4);
    }

    #[test]
    fn trace_3_replicas_surge_1_unavailable_0() {
        let mut run = Run::new(3, rolling(Int(1), Int(0)), Model::Batch);
        replay(&mut run, &[(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]);
        assert_finishes(&mut run);
    }

    #[test]
    fn trace_10_replicas_0_surge_10_percent_unavailable_alternates() {
        let mut run = Run::new(10, rolling(Percent(0), Percent(10)), Model::Batch);
        // Sync 2j+1 takes one old pod away, sync 2j+2 adds one new pod: 20 syncs.
        let rows: Vec<(i64, i64)> = (0..20).map(|k| ((k + 1) / 2, 10 - (k + 2) / 2)).collect();
        assert_eq!(rows[0], (0, 9));
        assert_eq!(rows[19], (10, 0));
        replay(&mut run, &rows);
        assert_finishes(&mut run);
    }

    #[test]
    fn trace_1_replica_25_percent() {
        let mut run = Run::new(1, rolling(Percent(25), Percent(25)), Model::Batch);
        replay(&mut run, &[(1, 1), (1, 0)]);
        assert_finishes(&mut run);
    }

    #[test]
    fn rollover_drains_the_unhealthy_middle_revision_first() {
        // rolling.go case 2: a third template while V2 crash-loops at 5 and V1 sits at 8.
        let mut run = Run::new(10, rolling(Int(3), Int(2)), Model::Batch);
        run.world.never_ready = Some(V2);
        replay(&mut run, &[(3, 8), (5, 8)]);
        run.ctrl.set_template(V3);
        run.step();
        let create = Action::CreateReplicaSet { template: V3, replicas: 0, revision: 3 };
        assert_eq!(run.actions, [create, Action::Scale { rs: 2, from: 5, to: 0 }]);
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 3, from: 0, to: 5 }]);
    }

    /// Never-ready V2 from a settled V1 (10 replicas, 25%/25%), stuck at (5, 8) after sync 3.
    fn stuck_run() -> Run {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::Batch);
        run.world.never_ready = Some(V2);
        replay(&mut run, &[(3, 8), (5, 8)]);
        let r = run.step();
        assert_eq!(run.actions, []);
        // Sync 3 (t = 4s) still saw progress: the new RS's pod count went 3 → 5.
        assert_eq!(run.conditions, [ReplicaSetUpdated]);
        assert_eq!(run.ctrl.progressing(), Some((ReplicaSetUpdated, 4 * SECOND)));
        assert_eq!(r.requeue_at, Some(4 * SECOND + DEADLINE + SECOND));
        run
    }

    #[test]
    fn progress_deadline_fires_strictly_after_and_never_rolls_back() {
        let mut run = stuck_run();
        let r = run.sync_at(5 * SECOND);
        assert_eq!((run.actions.len(), run.conditions.len()), (0, 0));
        assert_eq!(r.requeue_at, Some(605 * SECOND));
        // Exactly at lastUpdate + deadline: still on time.
        let r = run.sync_at(4 * SECOND + DEADLINE);
        assert!(!run.ctrl.timed_out());
        assert_eq!(run.conditions, []);
        assert_eq!(r.requeue_at, Some(605 * SECOND));
        // One microsecond later: reported, once.
        let r = run.sync_at(4 * SECOND + DEADLINE + 1);
        assert!(run.ctrl.timed_out());
        assert_eq!(run.conditions, [ProgressDeadlineExceeded]);
        assert_eq!(r.requeue_at, None);
        for t in [605, 700, 3600] {
            let r = run.sync_at(t * SECOND);
            assert!(run.ctrl.timed_out(), "sticky while nothing progresses");
            assert_eq!((run.actions.len(), run.conditions.len()), (0, 0), "no auto-rollback");
            assert_eq!(r.requeue_at, None);
        }
        assert_eq!(run.ctrl.template(), V2);
        assert_eq!(run.specs(), (5, 8));
    }

    #[test]
    fn undo_after_stuck_rollout_follows_rolling_go_example() {
        // 10 replicas, maxSurge 3, maxUnavailable 2; V2 crash-loops.
        let mut run = Run::new(10, rolling(Int(3), Int(2)), Model::Batch);
        run.world.never_ready = Some(V2);
        replay(&mut run, &[(3, 8), (5, 8), (5, 8)]);
        // A node failure makes one V1 pod unavailable: not ours to protect any more.
        run.floor = None;
        let v1 = run.world.rss.iter_mut().find(|rs| rs.template == V1).expect("V1");
        (v1.ready, v1.available) = (7, 7);
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Ok(V1));
        assert_eq!(run.ctrl.template(), V1);
        run.step();
        // V1 is adopted as the new RS (revision 3); 13 − 8 − 1 = 4 bad pods cleaned up.
        let set_revision = Action::SetRevision { rs: 1, revision: 3 };
        assert_eq!(run.actions, [set_revision, Action::Scale { rs: 2, from: 5, to: 1 }]);
        assert_eq!(run.world.total(|rs| rs.spec), 9);
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 8, to: 10 }]);
    }

    #[test]
    fn undo_refusals() {
        let mut run = Run::new(3, rolling(Int(1), Int(0)), Model::Batch);
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Err(UndoError::NoPreviousRevision));
        // A release not yet synced has no RS of its own: still no history to go back to.
        run.ctrl.set_template(V2);
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Err(UndoError::NoPreviousRevision));
        run.step();
        // Revisions {1, 2}; the user re-applies V1 by hand: undo's target already matches.
        run.ctrl.set_template(V1);
        let refused = run.ctrl.rollback_undo(&run.world.rss);
        assert_eq!(refused, Err(UndoError::AlreadyMatches { revision: 1 }));
        run.ctrl.set_template(V2);
        run.ctrl.set_paused(true);
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Err(UndoError::Paused));
        assert_eq!(run.ctrl.template(), V2);
    }

    #[test]
    fn undo_twice_renumbers_revisions() {
        // A user transcript: revisions {1, 2} → undo → {2, 3} → undo → {3, 4}.
        let mut run = Run::new(3, rolling(Int(1), Int(0)), Model::Batch);
        replay(&mut run, &[(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]);
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Ok(V1));
        run.step();
        assert_eq!(run.actions[0], Action::SetRevision { rs: 1, revision: 3 });
        let revisions = |w: &World| (w.get(V1).map(|r| r.revision), w.get(V2).map(|r| r.revision));
        assert_eq!(revisions(&run.world), (Some(3), Some(2)));
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Ok(V2));
        run.step();
        assert_eq!(revisions(&run.world), (Some(3), Some(4)));
    }

    #[test]
    fn recreate_never_runs_old_and_new_pods_together() {
        let mut run = Run::new(3, DeploymentStrategy::Recreate, Model::Batch);
        run.floor = None;
        run.world.graceful = true;
        run.release(V2);
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 3, to: 0 }]);
        assert_eq!(run.conditions, []);
        // Old pods are terminating (status.replicas 0, but pods exist): keep waiting.
        for _ in 0..3 {
            run.step();
            assert_eq!(run.actions, []);
            assert_eq!(run.world.get(V1).map(|rs| rs.pods), Some(3));
        }
        run.world.finish_termination();
        run.step();
        let create = Action::CreateReplicaSet { template: V2, replicas: 3, revision: 2 };
        assert_eq!(run.actions, [create]);
        assert_eq!(run.conditions, [NewReplicaSetCreated]);
        assert_finishes(&mut run);
        assert_eq!(run.world.total(|rs| rs.available), 3);
    }

    #[test]
    fn recreate_undo_scales_the_adopted_rs_in_one_step() {
        let mut run = Run::new(4, DeploymentStrategy::Recreate, Model::Batch);
        run.floor = None;
        run.release(V2);
        run.step();
        run.step();
        assert_eq!(run.specs(), (4, 0));
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Ok(V1));
        run.step();
        let set_revision = Action::SetRevision { rs: 1, revision: 3 };
        assert_eq!(run.actions, [set_revision, Action::Scale { rs: 2, from: 4, to: 0 }]);
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 0, to: 4 }]);
    }

    #[test]
    fn paused_deployment_scales_but_neither_rolls_out_nor_times_out() {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::Batch);
        replay(&mut run, &[(3, 8)]);
        run.ctrl.set_paused(true);
        run.step();
        // `scale`: 11 of 13 allowed pods; the leftover goes to the largest RS (the old one).
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 8, to: 10 }]);
        assert_eq!(run.conditions, [DeploymentPaused]);
        // A template change while paused creates nothing, and hours pass without a timeout.
        run.ctrl.set_template(V3);
        for t in [10, 1000, 7200] {
            let r = run.sync_at(t * SECOND);
            assert_eq!((run.actions.len(), run.conditions.len()), (0, 0));
            assert_eq!(r.requeue_at, None);
        }
        assert_eq!(run.ctrl.rollback_undo(&run.world.rss), Err(UndoError::Paused));
        // Resume: the deadline clock restarts, and the roll-over to V3 begins.
        run.ctrl.set_paused(false);
        let r = run.sync_at(7201 * SECOND);
        assert_eq!(run.conditions, [DeploymentResumed, NewReplicaSetCreated]);
        assert_eq!(run.ctrl.progressing(), Some((NewReplicaSetCreated, 7201 * SECOND)));
        assert_eq!(r.requeue_at, Some(7201 * SECOND + DEADLINE + SECOND));
        let create = Action::CreateReplicaSet { template: V3, replicas: 0, revision: 3 };
        assert_eq!(run.actions[0], create);
    }

    #[test]
    fn a_replica_change_during_a_rollout_scales_the_replica_sets_proportionally() {
        let mut run = Run::new(10, rolling(Percent(25), Percent(25)), Model::Batch);
        replay(&mut run, &[(3, 8)]);
        // 10 → 20 (HPA or kubectl scale): a scaling event. 25 allowed, 11 running, 14 to add;
        // shares from max-replicas 13: old round(8·25/13) − 8 = 7, new round(3·25/13) − 3 = 3,
        // the leftover 4 to the largest (old) RS. Sized largest first.
        run.ctrl.set_replicas(20);
        run.max_total = 25;
        // The new floor of 15 holds once the added pods exist (they are not available at once).
        run.floor = None;
        run.step();
        run.floor = Some(15);
        assert_eq!(
            run.actions,
            [Action::Scale { rs: 1, from: 8, to: 19 }, Action::Scale { rs: 2, from: 3, to: 6 }]
        );
        assert!(run.conditions.is_empty(), "sync/scale does not judge progress");
        // The next sync is the rollout again, at the new size (25 running, all available, floor
        // 15: the old RS sheds 10), and it finishes.
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 19, to: 9 }]);
        for _ in 0..20 {
            if run.actions.is_empty() {
                break;
            }
            run.step();
        }
        assert!(run.ctrl.complete());
        assert_eq!(run.specs(), (20, 0));
    }

    #[test]
    fn a_replica_change_with_one_active_rs_sizes_it_directly() {
        let mut run = Run::new(4, rolling(Int(1), Int(0)), Model::Batch);
        run.ctrl.set_replicas(7);
        run.max_total = 8;
        run.step();
        assert_eq!(run.actions, [Action::Scale { rs: 1, from: 4, to: 7 }]);
        run.step();
        assert_eq!(run.actions, [], "no second scaling event");
    }

    #[test]
    fn paused_single_rs_is_sized_to_replicas_and_saturated_new_rs_drains_old() {
        let m = manifest(4, rolling(Int(1), Int(0)));
        let mut ctrl = DeploymentController::new(&m, V1);
        ctrl.set_paused(true);
        let mut w = World::settled(4, Model::Batch);
        w.rss[0].spec = 2;
        let (mut actions, mut conditions) = (Vec::new(), Vec::new());
        ctrl.sync(0, &w.rss, &mut actions, &mut conditions);
        assert_eq!(actions, [Action::Scale { rs: 1, from: 2, to: 4 }]);
        assert_eq!(conditions, [DeploymentPaused]);
        // A fully available new RS next to a still-active old one: the old one goes to 0.
        w.rss[0].spec = 4;
        let mut v2 = w.rss[0];
        (v2.id, v2.template, v2.revision, v2.created) = (2, V2, 2, 2);
        w.rss.push(v2);
        ctrl.set_template(V2);
        actions.clear();
        ctrl.sync(SECOND, &w.rss, &mut actions, &mut conditions);
        assert_eq!(actions, [Action::Scale { rs: 1, from: 4, to: 0 }]);
    }

    #[test]
    fn adopting_an_unannotated_rs_sets_its_revision_before_reporting_it_found() {
        let m = manifest(2, rolling(Int(1), Int(0)));
        let mut ctrl = DeploymentController::new(&m, V1);
        let mut w = World::settled(2, Model::Batch);
        w.rss[0].revision = 0;
        let (mut actions, mut conditions) = (Vec::new(), Vec::new());
        ctrl.sync(0, &w.rss, &mut actions, &mut conditions);
        assert_eq!(actions, [Action::SetRevision { rs: 1, revision: 1 }]);
        assert_eq!(conditions, [NewReplicaSetAvailable]);
        assert!(ctrl.complete());
    }

    #[test]
    fn the_oldest_rs_with_the_template_is_the_new_one() {
        // kubernetes#40415: two RSs with the current template; the oldest is "new", the other
        // is an old RS like any other (and its revision counts for max + 1).
        let m = manifest(4, rolling(Int(1), Int(0)));
        let mut ctrl = DeploymentController::new(&m, V1);
        let mut w = World::settled(4, Model::Batch);
        let mut twin = w.rss[0];
        (twin.id, twin.revision, twin.created) = (2, 2, 2);
        (twin.spec, twin.replicas, twin.ready, twin.available, twin.pods) = (0, 0, 0, 0, 0);
        w.rss.insert(0, twin);
        let (mut actions, mut conditions) = (Vec::new(), Vec::new());
        ctrl.sync(0, &w.rss, &mut actions, &mut conditions);
        assert_eq!(actions, [Action::SetRevision { rs: 1, revision: 3 }]);
    }

    #[test]
    fn fresh_deployment_creates_its_first_rs_at_full_size() {
        let m = manifest(4, rolling(Percent(25), Percent(25)));
        let mut ctrl = DeploymentController::new(&m, V1);
        let mut w = World { rss: Vec::new(), model: Model::Batch, never_ready: None, graceful: false };
        let (mut actions, mut conditions) = (Vec::new(), Vec::new());
        let r = ctrl.sync(0, &w.rss, &mut actions, &mut conditions);
        let create = Action::CreateReplicaSet { template: V1, replicas: 4, revision: 1 };
        assert_eq!(actions, [create]);
        assert_eq!(conditions, [NewReplicaSetCreated]);
        assert_eq!(r.requeue_at, Some(DEADLINE + SECOND));
        w.apply(&actions);
        w.converge();
        conditions.clear();
        actions.clear();
        ctrl.sync(SECOND, &w.rss, &mut actions, &mut conditions);
        assert_eq!((actions.len(), conditions.as_slice()), (0, [NewReplicaSetAvailable].as_slice()));
    }

    #[test]
    fn no_progress_deadline_means_no_conditions_and_no_requeue() {
        let mut m = manifest(10, rolling(Percent(25), Percent(25)));
        m.progress_deadline_seconds = None;
        let mut ctrl = DeploymentController::new(&m, V1);
        let mut w = World::settled(10, Model::Batch);
        w.never_ready = Some(V2);
        ctrl.set_template(V2);
        let (mut actions, mut conditions) = (Vec::new(), Vec::new());
        for t in [1, 2, 3, 10_000] {
            actions.clear();
            let r = ctrl.sync(t * SECOND, &w.rss, &mut actions, &mut conditions);
            w.apply(&actions);
            w.converge();
            assert_eq!(r.requeue_at, None);
        }
        assert_eq!(conditions, []);
        assert!(!ctrl.timed_out());
        assert_eq!((w.spec(V2), w.spec(V1)), (5, 8));
    }
}
