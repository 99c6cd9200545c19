//! Blue-green by Service selector: two Deployments and a Service whose selector names one.
//!
//! This is the docs' hand-made blue-green, not a controller that exists upstream: two
//! Deployments (`app-blue`, `app-green`), each run by its own Deployment controller, and a
//! Service whose selector (`version: blue`) picks one of them. A release
//! (`release.workload: Service/myapp`, `from: {version: blue}`, `to: {version: green}`) is what
//! a release engineer or a pipeline does by hand:
//!
//! 1. [`ServiceSwitch::start`]; the first [`ServiceSwitch::reconcile`] brings the new
//!    Deployment up to its replicas if it has fewer (usually from 0).
//! 2. The selector switches once the new Deployment is fully available — `spec.replicas` at
//!    its configured count and `status.availableReplicas` at least that, as the Deployment
//!    reports it — or, if the Simulation names `switchAt`, at exactly that time.
//! 3. The old Deployment is kept at full size for `keepOldFor` (instant rollback), then scaled
//!    to 0, at exactly switch + `keepOldFor`.
//! 4. [`ServiceSwitch::rollback`] switches the selector back at once while the old Deployment
//!    is still up; once it is scaled down, rollback scales it up again and switches when it is
//!    fully available. Either way the new Deployment then goes back to the size it had before
//!    the release (0 if the release scaled it up).
//!
//! Like the other controllers it is a pure state machine: it sees [`SwitchView`]s (each
//! Deployment's `spec.replicas` and `status.availableReplicas`), pushes [`SwitchAction`]s for
//! the world to apply in order and [`SwitchEvent`]s for the trace, and knows no clock but the
//! `now` arguments. It never scales the Deployment the Service selects to 0 (an `assert!`).
//! One `ServiceSwitch` is one release and ends in Done or RolledBack; the next release is a
//! new one whose `old` is this one's `new`.
//!
//! Not modelled: the endpoint propagation of a selector change and connection draining (the
//! world's), a selector change that is not a whole swap (both sides selected at once), and
//! partial failures of the `kubectl` calls.

use super::deployment::SyncResult;
use crate::engine::{MINUTE, SimTime};

/// How long the old Deployment is kept after the switch when the Simulation does not say
/// (`keepOldFor`). This is rollsim's default, not Kubernetes': nothing upstream scales the old
/// Deployment down in this pattern; ten minutes is a common runbook choice.
pub const DEFAULT_KEEP_OLD_FOR: SimTime = 10 * MINUTE;

/// One side of the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The Deployment the selector names before the release (`from`).
    Old,
    /// The Deployment the release switches to (`to`).
    New,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Old => Side::New,
            Side::New => Side::Old,
        }
    }
}

/// One Deployment of the pair, as the release names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentRef {
    /// `metadata.name` (`app-green`), for the trace.
    pub name: String,
    /// The selector value that picks it, as written for the trace (`version=green`).
    pub selector: String,
    /// Its manifest's `spec.replicas`: the size it is brought up to. Must be positive.
    pub replicas: i64,
}

/// The release as the Simulation describes it, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchConfig {
    /// The Deployment the Service selects before the release.
    pub old: DeploymentRef,
    /// The Deployment it switches to.
    pub new: DeploymentRef,
    /// `switchAt` as absolute simulated time: switch at exactly this time, whether or not the
    /// new Deployment is available by then (a scheduled cutover). `None`: switch as soon as
    /// the new Deployment is fully available.
    pub switch_at: Option<SimTime>,
    /// `keepOldFor`: from the switch until the old Deployment is scaled to 0
    /// ([`DEFAULT_KEEP_OLD_FOR`] unless the Simulation says).
    pub keep_old_for: SimTime,
}

impl SwitchConfig {
    /// A release from `old` to `new`, switching on availability, keeping the old Deployment
    /// for [`DEFAULT_KEEP_OLD_FOR`].
    pub fn new(old: DeploymentRef, new: DeploymentRef) -> Self {
        SwitchConfig { old, new, switch_at: None, keep_old_for: DEFAULT_KEEP_OLD_FOR }
    }

    pub fn side(&self, side: Side) -> &DeploymentRef {
        match side {
            Side::Old => &self.old,
            Side::New => &self.new,
        }
    }
}

/// What the release may know about one Deployment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeploymentStatus {
    /// `spec.replicas`.
    pub replicas: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

impl DeploymentStatus {
    /// Fully available at `desired`: the Deployment wants at least `desired` pods and has at
    /// least as many available as it wants. A Deployment still at `spec.replicas: 0` (a view
    /// older than the scale-up) is never fully available for a positive `desired`.
    pub fn fully_available(self, desired: i64) -> bool {
        self.replicas >= desired && self.available >= self.replicas
    }
}

/// Both Deployments, as the world sees them at the reconcile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchView {
    pub old: DeploymentStatus,
    pub new: DeploymentStatus,
}

impl SwitchView {
    pub fn side(&self, side: Side) -> DeploymentStatus {
        match side {
            Side::Old => self.old,
            Side::New => self.new,
        }
    }
}

/// A write the release asks the world to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchAction {
    /// Set `spec.replicas` of that Deployment (its own controller then rolls it).
    ScaleDeployment { deployment: Side, replicas: i64 },
    /// Point the Service's selector at that Deployment.
    SwitchSelector { to: Side },
}

/// Where the release stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started: the selector names the old Deployment and nothing is asked.
    Pending,
    /// The new Deployment is coming up; the selector still names the old one.
    Deploying,
    /// The selector names the new Deployment; the old one is kept for `keepOldFor`.
    Switched,
    /// The old Deployment is scaled to 0: the release is over.
    Done,
    /// Rollback after the old Deployment was scaled down: it is coming back up.
    RollingBack,
    /// The selector names the old Deployment again (or never left it).
    RolledBack,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Deploying => "Deploying",
            Phase::Switched => "Switched",
            Phase::Done => "Done",
            Phase::RollingBack => "RollingBack",
            Phase::RolledBack => "RolledBack",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something worth a line in the trace: `reason` from [`SwitchEvent::reason`], the message
/// from [`ServiceSwitch::message`] (which knows the names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchEvent {
    PhaseChanged {
        from: Phase,
        to: Phase,
    },
    /// A [`SwitchAction::ScaleDeployment`] was asked for.
    ScaledDeployment {
        deployment: Side,
        replicas: i64,
    },
    /// The selector now names `to`; `available` (by the view) of its configured `replicas` were
    /// available at the switch (fewer only with an early `switchAt`).
    SelectorSwitched {
        to: Side,
        available: i64,
        replicas: i64,
    },
    /// Rollback requested. `old_up`: the old Deployment was never scaled down, so the selector
    /// goes back at once; otherwise it is scaled up first.
    RollbackStarted {
        old_up: bool,
    },
}

impl SwitchEvent {
    /// A short reason for the trace's `reason` column.
    pub fn reason(&self) -> &'static str {
        match self {
            SwitchEvent::PhaseChanged { .. } => "Phase",
            SwitchEvent::ScaledDeployment { .. } => "ScalingDeployment",
            SwitchEvent::SelectorSwitched { .. } => "SelectorSwitched",
            SwitchEvent::RollbackStarted { .. } => "RollbackStarted",
        }
    }
}

/// Why [`ServiceSwitch::rollback`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    #[error("the release has not started")]
    NotStarted,
    #[error("the release is already rolling back or rolled back")]
    AlreadyRolledBack,
}

/// One blue-green release by Service selector.
#[derive(Clone, Debug)]
pub struct ServiceSwitch {
    config: SwitchConfig,
    phase: Phase,
    selector: Side,
    started_at: Option<SimTime>,
    /// `spec.replicas` of the new Deployment before this release scaled it up (`None`: the
    /// release did not scale it). Rollback restores it.
    new_restore: Option<i64>,
    /// The last switch to the new Deployment.
    switched_at: Option<SimTime>,
    /// When the selector went back to the old Deployment (or the release was abandoned before
    /// switching).
    rolled_back_at: Option<SimTime>,
}

impl ServiceSwitch {
    /// A release not started yet: phase Pending, the selector on the old Deployment.
    pub fn new(config: SwitchConfig) -> Self {
        assert!(config.old.replicas > 0, "{} needs replicas > 0", config.old.name);
        assert!(config.new.replicas > 0, "{} needs replicas > 0", config.new.name);
        ServiceSwitch {
            config,
            phase: Phase::Pending,
            selector: Side::Old,
            started_at: None,
            new_restore: None,
            switched_at: None,
            rolled_back_at: None,
        }
    }

    pub fn config(&self) -> &SwitchConfig {
        &self.config
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Which Deployment the Service selects now (after the actions pushed so far are applied).
    pub fn selector(&self) -> Side {
        self.selector
    }

    pub fn started_at(&self) -> Option<SimTime> {
        self.started_at
    }

    /// When the selector last switched to the new Deployment.
    pub fn switched_at(&self) -> Option<SimTime> {
        self.switched_at
    }

    /// When the rollback finished (the selector back on the old Deployment).
    pub fn rolled_back_at(&self) -> Option<SimTime> {
        self.rolled_back_at
    }

    /// The release begins (Pending → Deploying). The world reconciles right after, at the same
    /// `now`, which brings the new Deployment up.
    pub fn start(&mut self, now: SimTime, events: &mut Vec<SwitchEvent>) {
        assert_eq!(self.phase, Phase::Pending, "a release starts once");
        self.started_at = Some(now);
        self.set_phase(Phase::Deploying, events);
    }

    /// One look at both Deployments. Actions to apply are pushed in order (a switch always
    /// before the scale-down it allows), and so are events. `requeue_at`: reconcile again then
    /// even if no Deployment changes (the `switchAt` or `keepOldFor` deadline); otherwise the
    /// release waits for a Deployment status change.
    pub fn reconcile(
        &mut self,
        now: SimTime,
        view: &SwitchView,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) -> SyncResult {
        if self.phase == Phase::Deploying {
            self.deploy(now, view, actions, events);
        }
        if self.phase == Phase::Switched {
            self.keep_old(now, actions, events);
        }
        if self.phase == Phase::RollingBack && view.old.fully_available(self.config.old.replicas) {
            self.switch_back(now, view, actions, events);
        }
        SyncResult { requeue_at: self.requeue_at() }
    }

    /// Roll back to the old Deployment. While it is still up (Deploying, Switched) the
    /// selector goes back at once, in this call; once it is scaled down (Done) it is scaled up
    /// here and the selector switches in the first reconcile that sees it fully available.
    pub fn rollback(
        &mut self,
        now: SimTime,
        view: &SwitchView,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) -> Result<(), RollbackError> {
        match self.phase {
            Phase::Pending => Err(RollbackError::NotStarted),
            Phase::RollingBack | Phase::RolledBack => Err(RollbackError::AlreadyRolledBack),
            Phase::Deploying | Phase::Switched => {
                events.push(SwitchEvent::RollbackStarted { old_up: true });
                self.switch_back(now, view, actions, events);
                Ok(())
            }
            Phase::Done => {
                events.push(SwitchEvent::RollbackStarted { old_up: false });
                self.scale(Side::Old, self.config.old.replicas, actions, events);
                self.set_phase(Phase::RollingBack, events);
                Ok(())
            }
        }
    }

    /// The trace message of `event`, with this release's names.
    pub fn message(&self, event: &SwitchEvent) -> String {
        match *event {
            SwitchEvent::PhaseChanged { from, to } => format!("{from} -> {to}"),
            SwitchEvent::ScaledDeployment { deployment, replicas } => {
                format!("Scaled deployment {} to {replicas}", self.config.side(deployment).name)
            }
            SwitchEvent::SelectorSwitched { to, available, replicas } => {
                let d = self.config.side(to);
                format!("selector {} ({} {available}/{replicas} available)", d.selector, d.name)
            }
            SwitchEvent::RollbackStarted { old_up } => {
                let old = &self.config.old;
                if old_up {
                    format!("rolling back to {}: {} is up, switching at once", old.selector, old.name)
                } else {
                    format!(
                        "rolling back to {}: {} was scaled down, switching once it is available",
                        old.selector, old.name
                    )
                }
            }
        }
    }

    /// Deploying: bring the new Deployment up, then switch when it is due.
    fn deploy(
        &mut self,
        now: SimTime,
        view: &SwitchView,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) {
        let desired = self.config.new.replicas;
        if self.new_restore.is_none() && view.new.replicas < desired {
            self.new_restore = Some(view.new.replicas);
            self.scale(Side::New, desired, actions, events);
        }
        let due = match self.config.switch_at {
            None => view.new.fully_available(desired),
            Some(at) => now >= at,
        };
        if due {
            self.switch(Side::New, view, actions, events);
            self.switched_at = Some(now);
            self.set_phase(Phase::Switched, events);
        }
    }

    /// Switched: the old Deployment goes to 0 at exactly switch + `keepOldFor`.
    fn keep_old(&mut self, now: SimTime, actions: &mut Vec<SwitchAction>, events: &mut Vec<SwitchEvent>) {
        if now >= self.keep_old_until() {
            self.scale(Side::Old, 0, actions, events);
            self.set_phase(Phase::Done, events);
        }
    }

    /// The selector back to the old Deployment (if it left), then the new one back to its size
    /// before the release.
    fn switch_back(
        &mut self,
        now: SimTime,
        view: &SwitchView,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) {
        if self.selector != Side::Old {
            self.switch(Side::Old, view, actions, events);
        }
        if let Some(replicas) = self.new_restore.take() {
            self.scale(Side::New, replicas, actions, events);
        }
        self.rolled_back_at = Some(now);
        self.set_phase(Phase::RolledBack, events);
    }

    fn keep_old_until(&self) -> SimTime {
        self.switched_at.expect("switched") + self.config.keep_old_for
    }

    fn requeue_at(&self) -> Option<SimTime> {
        match self.phase {
            // Not yet switched (or `deploy` would have): `at` is still ahead.
            Phase::Deploying => self.config.switch_at,
            Phase::Switched => Some(self.keep_old_until()),
            Phase::Pending | Phase::Done | Phase::RollingBack | Phase::RolledBack => None,
        }
    }

    fn switch(
        &mut self,
        to: Side,
        view: &SwitchView,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) {
        let available = view.side(to).available;
        let replicas = self.config.side(to).replicas;
        self.selector = to;
        actions.push(SwitchAction::SwitchSelector { to });
        events.push(SwitchEvent::SelectorSwitched { to, available, replicas });
    }

    fn scale(
        &self,
        deployment: Side,
        replicas: i64,
        actions: &mut Vec<SwitchAction>,
        events: &mut Vec<SwitchEvent>,
    ) {
        assert!(
            replicas > 0 || deployment != self.selector,
            "would scale {} to 0 while the Service selects it",
            self.config.side(deployment).name
        );
        actions.push(SwitchAction::ScaleDeployment { deployment, replicas });
        events.push(SwitchEvent::ScaledDeployment { deployment, replicas });
    }

    fn set_phase(&mut self, to: Phase, events: &mut Vec<SwitchEvent>) {
        if to != self.phase {
            events.push(SwitchEvent::PhaseChanged { from: self.phase, to });
            self.phase = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use Side::{New, Old};
    use SwitchAction::{ScaleDeployment, SwitchSelector};

    const N: i64 = 3;
    /// From a pod's creation until it is available (the first pod of a scale-up)...
    const DELAY: SimTime = 20 * SECOND;
    /// ...and between the pods of one scale-up.
    const STAGGER: SimTime = 5 * SECOND;
    const RELEASE: SimTime = 60 * SECOND;

    fn deployment(name: &str, version: &str, replicas: i64) -> DeploymentRef {
        DeploymentRef { name: name.into(), selector: format!("version={version}"), replicas }
    }

    fn config(replicas: i64) -> SwitchConfig {
        SwitchConfig::new(
            deployment("app-blue", "blue", replicas),
            deployment("app-green", "green", replicas),
        )
    }

    /// One Deployment of the tiny world: `spec.replicas` is the number of pods; a scale-up's
    /// pod k is available `DELAY + k·STAGGER` after it; a scale-down removes the newest pods
    /// at once.
    #[derive(Clone, Debug, Default)]
    struct Dep {
        available_at: Vec<SimTime>,
    }

    impl Dep {
        fn settled(replicas: i64) -> Self {
            Dep { available_at: vec![0; replicas as usize] }
        }

        fn status(&self, now: SimTime) -> DeploymentStatus {
            let available = self.available_at.iter().filter(|&&t| t <= now).count();
            DeploymentStatus { replicas: self.available_at.len() as i64, available: available as i64 }
        }

        fn scale(&mut self, now: SimTime, to: i64) {
            let to = to as usize;
            let from = self.available_at.len();
            self.available_at.truncate(to);
            self.available_at.extend((0..to.saturating_sub(from) as u64).map(|k| now + DELAY + k * STAGGER));
        }

        fn next_change(&self, now: SimTime) -> Option<SimTime> {
            self.available_at.iter().copied().filter(|&t| t > now).min()
        }
    }

    /// Two Deployments and the Service's selector.
    struct World {
        old: Dep,
        new: Dep,
        selector: Side,
    }

    impl World {
        fn view(&self, now: SimTime) -> SwitchView {
            SwitchView { old: self.old.status(now), new: self.new.status(now) }
        }

        fn apply(&mut self, now: SimTime, action: SwitchAction) {
            match action {
                ScaleDeployment { deployment: Old, replicas } => self.old.scale(now, replicas),
                ScaleDeployment { deployment: New, replicas } => self.new.scale(now, replicas),
                SwitchSelector { to } => self.selector = to,
            }
        }
    }

    /// A release driven against a [`World`], reconciled when a pod becomes available or the
    /// release asks to be requeued, as the simulation world does.
    struct Run {
        sw: ServiceSwitch,
        world: World,
        actions: Vec<SwitchAction>,
        events: Vec<SwitchEvent>,
        /// Every event with its time and trace columns, for the trace test.
        trace: Vec<(SimTime, &'static str, String)>,
        /// Every applied action with its time.
        log: Vec<(SimTime, SwitchAction)>,
        now: SimTime,
        requeue: Option<SimTime>,
    }

    impl Run {
        /// Blue at `config.old.replicas` and serving, green at 0; nothing started.
        fn new(config: SwitchConfig) -> Self {
            let old = Dep::settled(config.old.replicas);
            Run {
                sw: ServiceSwitch::new(config),
                world: World { old, new: Dep::default(), selector: Old },
                actions: Vec::new(),
                events: Vec::new(),
                trace: Vec::new(),
                log: Vec::new(),
                now: 0,
                requeue: None,
            }
        }

        /// Starts the release at `RELEASE` and reconciles at once.
        fn release(config: SwitchConfig) -> Self {
            let mut run = Run::new(config);
            run.now = RELEASE;
            run.sw.start(RELEASE, &mut run.events);
            assert_eq!(
                run.events,
                [SwitchEvent::PhaseChanged { from: Phase::Pending, to: Phase::Deploying }]
            );
            run.record();
            run.reconcile_at(RELEASE);
            run
        }

        /// One reconcile at `now`. A second reconcile with the same view must emit nothing and
        /// ask the same requeue; then the actions are applied in order.
        fn reconcile_at(&mut self, now: SimTime) -> SyncResult {
            assert!(now >= self.now, "time runs forward");
            self.now = now;
            self.actions.clear();
            self.events.clear();
            let view = self.world.view(now);
            let result = self.sw.reconcile(now, &view, &mut self.actions, &mut self.events);
            let (mut actions, mut events) = (Vec::new(), Vec::new());
            let again = self.sw.reconcile(now, &view, &mut actions, &mut events);
            assert_eq!((actions, events), (vec![], vec![]), "a second reconcile at {now} emitted");
            assert_eq!(again, result);
            self.apply();
            self.requeue = result.requeue_at;
            result
        }

        fn rollback_at(&mut self, now: SimTime) -> Result<(), RollbackError> {
            assert!(now >= self.now, "time runs forward");
            self.now = now;
            self.actions.clear();
            self.events.clear();
            let view = self.world.view(now);
            let result = self.sw.rollback(now, &view, &mut self.actions, &mut self.events);
            self.apply();
            // The world reconciles after any change; the release keeps no requeue of its own.
            self.requeue = None;
            result
        }

        /// Applies the actions in order. No action may scale the Deployment that the Service
        /// selects at that moment to 0; afterwards the world's selector is the release's.
        fn apply(&mut self) {
            for &action in &self.actions {
                if let ScaleDeployment { deployment, replicas: 0 } = action {
                    assert_ne!(
                        deployment, self.world.selector,
                        "scaled the selected side to 0 at {}",
                        self.now
                    );
                }
                self.world.apply(self.now, action);
                self.log.push((self.now, action));
            }
            assert_eq!(self.world.selector, self.sw.selector());
            self.record();
        }

        fn record(&mut self) {
            for e in &self.events {
                self.trace.push((self.now, e.reason(), self.sw.message(e)));
            }
        }

        /// Reconciles at every pod change and requeue up to and including `end`.
        fn run_until(&mut self, end: SimTime) {
            loop {
                let pods = [self.world.old.next_change(self.now), self.world.new.next_change(self.now)];
                let next = pods.into_iter().chain([self.requeue.filter(|&t| t > self.now)]).flatten().min();
                match next {
                    Some(t) if t <= end => _ = self.reconcile_at(t),
                    _ => break,
                }
            }
            self.now = self.now.max(end);
        }

        /// The applied actions from `since` on.
        fn log_since(&self, since: SimTime) -> Vec<(SimTime, SwitchAction)> {
            self.log.iter().copied().filter(|&(t, _)| t >= since).collect()
        }
    }

    /// When the new Deployment's pod `N − 1` of the release's scale-up becomes available.
    fn fully_available_after(scaled_at: SimTime, replicas: i64) -> SimTime {
        scaled_at + DELAY + (replicas as u64 - 1) * STAGGER
    }

    /// A release switched on availability, with its switch time.
    fn switched(config: SwitchConfig) -> (Run, SimTime) {
        let replicas = config.new.replicas;
        let mut run = Run::release(config);
        let at = fully_available_after(RELEASE, replicas);
        run.run_until(at);
        assert_eq!(run.sw.phase(), Phase::Switched);
        assert_eq!(run.sw.switched_at(), Some(at));
        (run, at)
    }

    #[test]
    fn fully_available_means_every_wanted_pod_and_never_a_stale_zero() {
        let status = |replicas, available| DeploymentStatus { replicas, available };
        assert!(status(3, 3).fully_available(3));
        assert!(status(100, 100).fully_available(100));
        assert!(!status(100, 99).fully_available(100), "99% is not fully available");
        assert!(!status(0, 0).fully_available(3), "a view from before the scale-up");
        assert!(!status(2, 2).fully_available(3));
        // A Deployment kept larger than the release asks counts when all of it is available.
        assert!(status(4, 4).fully_available(3));
        assert!(!status(4, 3).fully_available(3));
    }

    #[test]
    fn release_scales_the_new_deployment_up_then_switches_exactly_when_fully_available() {
        let mut run = Run::release(config(100));
        assert_eq!(run.actions, [ScaleDeployment { deployment: New, replicas: 100 }]);
        assert_eq!(run.requeue, None, "nothing to wait for but the Deployment");
        let last = fully_available_after(RELEASE, 100);
        // 99 of 100: still on blue, and nothing was asked since the scale-up.
        run.run_until(last - 1);
        assert_eq!(run.world.view(run.now).new, DeploymentStatus { replicas: 100, available: 99 });
        assert_eq!((run.sw.phase(), run.sw.selector()), (Phase::Deploying, Old));
        assert_eq!(run.log, [(RELEASE, ScaleDeployment { deployment: New, replicas: 100 })]);
        run.run_until(last);
        assert_eq!(run.log_since(RELEASE + 1), [(last, SwitchSelector { to: New })]);
        assert_eq!(
            (run.sw.phase(), run.sw.selector(), run.sw.switched_at()),
            (Phase::Switched, New, Some(last))
        );
        let switched = SwitchEvent::SelectorSwitched { to: New, available: 100, replicas: 100 };
        let phase = SwitchEvent::PhaseChanged { from: Phase::Deploying, to: Phase::Switched };
        assert_eq!(run.events, [switched, phase]);
    }

    #[test]
    fn switch_at_later_than_availability_waits_for_it() {
        let at = RELEASE + 10 * MINUTE;
        let mut run = Run::release(SwitchConfig { switch_at: Some(at), ..config(N) });
        assert_eq!(run.requeue, Some(at));
        run.run_until(fully_available_after(RELEASE, N));
        assert!(run.world.view(run.now).new.fully_available(N));
        assert_eq!((run.sw.phase(), run.sw.selector(), run.requeue), (Phase::Deploying, Old, Some(at)));
        let r = run.reconcile_at(at - 1);
        assert_eq!((run.actions.as_slice(), r.requeue_at), ([].as_slice(), Some(at)));
        run.run_until(at);
        assert_eq!(run.log_since(RELEASE + 1), [(at, SwitchSelector { to: New })]);
        assert_eq!(run.sw.switched_at(), Some(at));
        assert_eq!(run.requeue, Some(at + DEFAULT_KEEP_OLD_FOR), "next: the keepOldFor deadline");
    }

    #[test]
    fn switch_at_before_availability_is_a_scheduled_cutover_and_says_so() {
        let at = RELEASE + DELAY + STAGGER / 2;
        let mut run = Run::release(SwitchConfig { switch_at: Some(at), ..config(N) });
        run.run_until(at);
        assert_eq!(run.log_since(RELEASE + 1), [(at, SwitchSelector { to: New })]);
        assert!(run.events.contains(&SwitchEvent::SelectorSwitched { to: New, available: 1, replicas: N }));
        assert_eq!(
            run.trace.iter().find(|e| e.1 == "SelectorSwitched").map(|e| e.2.as_str()),
            Some("selector version=green (app-green 1/3 available)")
        );
    }

    #[test]
    fn switch_at_already_past_at_the_release_switches_in_the_first_reconcile() {
        let run = Run::release(SwitchConfig { switch_at: Some(RELEASE - SECOND), ..config(N) });
        let scale = ScaleDeployment { deployment: New, replicas: N };
        assert_eq!(run.actions, [scale, SwitchSelector { to: New }]);
        assert!(run.events.contains(&SwitchEvent::SelectorSwitched { to: New, available: 0, replicas: N }));
    }

    #[test]
    fn old_is_scaled_down_at_exactly_switch_plus_keep_old_for() {
        assert_eq!(DEFAULT_KEEP_OLD_FOR, 10 * MINUTE);
        let (mut run, at) = switched(config(N));
        let deadline = at + DEFAULT_KEEP_OLD_FOR;
        assert_eq!(run.requeue, Some(deadline));
        let r = run.reconcile_at(deadline - 1);
        assert_eq!((run.actions.as_slice(), r.requeue_at), ([].as_slice(), Some(deadline)));
        assert_eq!(run.world.view(run.now).old, DeploymentStatus { replicas: N, available: N });
        run.run_until(deadline + 3600 * SECOND);
        assert_eq!(run.log_since(at + 1), [(deadline, ScaleDeployment { deployment: Old, replicas: 0 })]);
        assert_eq!((run.sw.phase(), run.sw.selector(), run.requeue), (Phase::Done, New, None));
        assert_eq!(run.world.view(run.now).old, DeploymentStatus::default());
    }

    #[test]
    fn a_custom_keep_old_for_counts_from_the_switch() {
        let keep = 90 * SECOND;
        let (mut run, at) = switched(SwitchConfig { keep_old_for: keep, ..config(N) });
        run.run_until(at + keep);
        assert_eq!(run.log_since(at + 1), [(at + keep, ScaleDeployment { deployment: Old, replicas: 0 })]);
    }

    #[test]
    fn keep_old_for_zero_switches_before_it_scales_down() {
        let mut run = Run::release(SwitchConfig { keep_old_for: 0, ..config(N) });
        let at = fully_available_after(RELEASE, N);
        run.run_until(at);
        // The order matters: `apply` checked that blue was no longer selected when it went to 0.
        let scale_down = ScaleDeployment { deployment: Old, replicas: 0 };
        assert_eq!(run.actions, [SwitchSelector { to: New }, scale_down]);
        assert_eq!(run.sw.phase(), Phase::Done);
    }

    #[test]
    fn rollback_before_scale_down_switches_back_at_once() {
        let (mut run, at) = switched(config(N));
        let when = at + 2 * MINUTE;
        run.run_until(when);
        assert_eq!(run.rollback_at(when), Ok(()));
        // Same `now`: the selector is back on blue and green goes back to 0 after it.
        let scale_down = ScaleDeployment { deployment: New, replicas: 0 };
        assert_eq!(run.log_since(at + 1), [(when, SwitchSelector { to: Old }), (when, scale_down)]);
        assert_eq!((run.sw.phase(), run.sw.selector()), (Phase::RolledBack, Old));
        assert_eq!(run.sw.rolled_back_at(), Some(when));
        let events = [
            SwitchEvent::RollbackStarted { old_up: true },
            SwitchEvent::SelectorSwitched { to: Old, available: N, replicas: N },
            SwitchEvent::ScaledDeployment { deployment: New, replicas: 0 },
            SwitchEvent::PhaseChanged { from: Phase::Switched, to: Phase::RolledBack },
        ];
        assert_eq!(run.events, events);
        // The keepOldFor deadline is gone with the Switched phase: blue stays.
        run.run_until(when + 3600 * SECOND);
        assert_eq!(run.log_since(when + 1), []);
        assert_eq!(run.world.view(run.now).old, DeploymentStatus { replicas: N, available: N });
    }

    #[test]
    fn rollback_after_scale_down_scales_up_and_switches_when_available() {
        let (mut run, at) = switched(config(N));
        let done = at + DEFAULT_KEEP_OLD_FOR;
        run.run_until(done);
        assert_eq!(run.sw.phase(), Phase::Done);
        let when = done + MINUTE;
        assert_eq!(run.rollback_at(when), Ok(()));
        assert_eq!(run.actions, [ScaleDeployment { deployment: Old, replicas: N }]);
        assert_eq!((run.sw.phase(), run.sw.selector()), (Phase::RollingBack, New));
        let events = [
            SwitchEvent::RollbackStarted { old_up: false },
            SwitchEvent::ScaledDeployment { deployment: Old, replicas: N },
            SwitchEvent::PhaseChanged { from: Phase::Done, to: Phase::RollingBack },
        ];
        assert_eq!(run.events, events);
        // The world reconciles after the change: blue is not available yet (a stale or a fresh
        // view alike), so green keeps serving.
        run.reconcile_at(when);
        assert_eq!(run.actions, []);
        let back = fully_available_after(when, N);
        run.run_until(back - 1);
        assert_eq!((run.sw.selector(), run.world.view(run.now).old.available), (New, N - 1));
        run.run_until(back);
        let scale_down = ScaleDeployment { deployment: New, replicas: 0 };
        assert_eq!(run.log_since(when + 1), [(back, SwitchSelector { to: Old }), (back, scale_down)]);
        assert_eq!(
            (run.sw.phase(), run.sw.selector(), run.sw.rolled_back_at()),
            (Phase::RolledBack, Old, Some(back))
        );
    }

    #[test]
    fn rollback_while_deploying_abandons_the_new_deployment() {
        let mut run = Run::release(config(N));
        let when = RELEASE + DELAY + STAGGER;
        run.run_until(when);
        assert_eq!(run.rollback_at(when), Ok(()));
        // The selector never left blue: no switch, green back to 0.
        assert_eq!(run.actions, [ScaleDeployment { deployment: New, replicas: 0 }]);
        assert_eq!((run.sw.phase(), run.sw.selector()), (Phase::RolledBack, Old));
        assert_eq!(run.sw.switched_at(), None);
        run.run_until(when + 3600 * SECOND);
        assert_eq!(run.log_since(when + 1), []);
    }

    #[test]
    fn a_target_already_up_is_switched_to_unscaled_and_left_up_on_rollback() {
        let mut run = Run::new(config(N));
        run.world.new = Dep::settled(N);
        run.sw.start(RELEASE, &mut run.events);
        run.reconcile_at(RELEASE);
        assert_eq!(run.actions, [SwitchSelector { to: New }]);
        assert_eq!(run.rollback_at(RELEASE + SECOND), Ok(()));
        assert_eq!(run.actions, [SwitchSelector { to: Old }]);
        assert_eq!(run.world.view(run.now).new, DeploymentStatus { replicas: N, available: N });
    }

    #[test]
    fn rollback_refusals() {
        let mut run = Run::new(config(N));
        assert_eq!(run.rollback_at(0), Err(RollbackError::NotStarted));
        assert_eq!(run.actions, []);
        let (mut run, at) = switched(config(N));
        assert_eq!(run.rollback_at(at + SECOND), Ok(()));
        assert_eq!(run.rollback_at(at + 2 * SECOND), Err(RollbackError::AlreadyRolledBack));
        assert_eq!((run.actions.as_slice(), run.events.as_slice()), ([].as_slice(), [].as_slice()));
        // Rolling back (blue still coming up) refuses a second request too.
        let (mut run, at) = switched(SwitchConfig { keep_old_for: MINUTE, ..config(N) });
        run.run_until(at + MINUTE);
        assert_eq!(run.rollback_at(at + MINUTE), Ok(()));
        assert_eq!(run.sw.phase(), Phase::RollingBack);
        assert_eq!(run.rollback_at(at + MINUTE), Err(RollbackError::AlreadyRolledBack));
    }

    #[test]
    fn reconciling_twice_with_the_same_view_emits_nothing_in_any_phase() {
        // `Run::reconcile_at` checks this at every reconcile; this run visits every phase.
        let (mut run, at) = switched(SwitchConfig { keep_old_for: MINUTE, ..config(N) });
        run.reconcile_at(at);
        run.run_until(at + MINUTE);
        assert_eq!(run.sw.phase(), Phase::Done);
        run.reconcile_at(at + MINUTE);
        run.rollback_at(at + 2 * MINUTE).expect("rollback");
        for _ in 0..3 {
            run.reconcile_at(at + 2 * MINUTE);
            assert_eq!((run.sw.phase(), run.actions.as_slice()), (Phase::RollingBack, [].as_slice()));
        }
        run.run_until(at + 10 * MINUTE);
        assert_eq!(run.sw.phase(), Phase::RolledBack);
        run.reconcile_at(at + 10 * MINUTE);
        assert_eq!(run.actions, []);
        // Before the start, too: nothing at all.
        let mut run = Run::new(config(N));
        assert_eq!(run.reconcile_at(0), SyncResult::default());
        assert_eq!((run.actions.as_slice(), run.sw.phase()), ([].as_slice(), Phase::Pending));
    }

    #[test]
    fn trace_of_a_release_and_a_late_rollback() {
        let (mut run, at) = switched(SwitchConfig { keep_old_for: MINUTE, ..config(N) });
        run.run_until(at + MINUTE);
        run.rollback_at(at + 2 * MINUTE).expect("rollback");
        run.run_until(at + 10 * MINUTE);
        let s = |t: SimTime| t / SECOND;
        let trace: Vec<(u64, &str, &str)> =
            run.trace.iter().map(|(t, r, m)| (s(*t), *r, m.as_str())).collect();
        let (a, b, back) = (s(at), s(at + 2 * MINUTE), s(fully_available_after(at + 2 * MINUTE, N)));
        assert_eq!(
            trace,
            [
                (60, "Phase", "Pending -> Deploying"),
                (60, "ScalingDeployment", "Scaled deployment app-green to 3"),
                (a, "SelectorSwitched", "selector version=green (app-green 3/3 available)"),
                (a, "Phase", "Deploying -> Switched"),
                (a + 60, "ScalingDeployment", "Scaled deployment app-blue to 0"),
                (a + 60, "Phase", "Switched -> Done"),
                (
                    b,
                    "RollbackStarted",
                    "rolling back to version=blue: app-blue was scaled down, switching once it is available"
                ),
                (b, "ScalingDeployment", "Scaled deployment app-blue to 3"),
                (b, "Phase", "Done -> RollingBack"),
                (back, "SelectorSwitched", "selector version=blue (app-blue 3/3 available)"),
                (back, "ScalingDeployment", "Scaled deployment app-green to 0"),
                (back, "Phase", "RollingBack -> RolledBack"),
            ]
        );
    }
}
