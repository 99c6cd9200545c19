//! One replication: the cluster, the traffic, the workloads' controllers, the release
//! strategy, the built-in detector and the on-call engineer, driven by one event queue.
//!
//! The world is glue: it turns cluster notices into endpoint changes and controller syncs,
//! applies the controllers' actions to the cluster and the router, and measures the release.
//! What differs between strategies (which workloads exist, who moves traffic, what a human
//! rollback does, when a release counts as complete or rolled back) is in [`release`].
//!
//! Workloads are Deployments (each with its own `DeploymentController`) or a Rollout; every
//! ReplicaSet belongs to one workload. Destinations are what a route can pick (a Service, a
//! DestinationRule subset, Flagger's primary and canary); each selects the pods of a workload
//! or of one ReplicaSet, and an endpoint change reaches the traffic after the propagation
//! delay. Route weights (Istio) reach the traffic after the same delay.

mod analysis;
mod autoscale;
mod monitor;
mod release;

use super::record::{Outcome, PodExtremes, ReplicationResult, RunRecord, TimelineRow, TraceEvent};
use crate::cluster::{self, Cluster, ContainerBehaviour, Ctx, Notice, PodEvent, RsId, TemplateSpec};
use crate::controllers::argo::rollout::{RolloutAction, RolloutController, RolloutEvent};
use crate::controllers::deployment::{Action, Condition, DeploymentController, ReplicaSetView};
use crate::engine::rng::replication_seed;
use crate::engine::{EventQueue, SECOND, SimRng, SimTime, Stream, to_secs_f64};
use crate::scenario::units::format_duration;
use crate::scenario::{FaultAnchor, FaultKind, Scenario};
use crate::traffic::mesh::WeightedRoute;
use crate::traffic::routing::DestinationId;
use crate::traffic::{Tally, TrafficSim, VersionModel};
use release::Plan;

/// The template ids of a release: the version running before it and the one it rolls out.
pub const OLD: u32 = 0;
pub const NEW: u32 = 1;

/// The `who` of a requeue for the release strategy rather than a workload.
const PLAN: u8 = u8::MAX;

/// A hard bound on events per replication: a run that needs more is a bug, not a result.
const MAX_EVENTS: u64 = 50_000_000;

/// What to collect besides the record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Collect {
    pub timeline: bool,
    pub trace: bool,
    /// Keep Prometheus's samples (every metric family exported), for `rollsim query`.
    pub store: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Pod(PodEvent),
    /// The controllers sync (a watched change).
    Sync,
    /// A controller's own requeue for this time: workload `who`, or [`PLAN`] for the release
    /// strategy (a Service switch's deadline).
    Requeue {
        who: u8,
        at: SimTime,
    },
    /// An endpoint change reaches destination `dest`'s traffic.
    Endpoint {
        pod: u32,
        dest: u8,
        serving: bool,
    },
    /// A destination's new selector reaches its endpoints.
    Reselect(u8),
    /// New route weights (percent per destination) reach the proxies.
    Route([u8; 2]),
    /// Someone runs `kubectl argo rollouts promote`.
    Promote,
    /// Flagger's analysis loop ticks.
    FlaggerTick,
    /// A manual mesh step's hold is over.
    MeshNext,
    /// The new template is applied.
    Release,
    /// Prometheus scrapes the targets due now.
    Scrape,
    /// Prometheus evaluates the rule groups due now.
    RuleEval,
    /// Alertmanager sends the first notification of alerting rule `n`'s group.
    Notify(u16),
    /// AnalysisRun measurements are due.
    Measure,
    /// Someone runs `kubectl rollout undo`.
    Undo,
    /// The HorizontalPodAutoscaler syncs.
    HpaSync,
    /// A timeline row is due.
    Tick,
    End,
}

impl From<PodEvent> for Event {
    fn from(e: PodEvent) -> Self {
        Event::Pod(e)
    }
}

/// Runs replication `replication` of `scenario`.
pub fn run_replication(scenario: &Scenario, replication: u64, collect: Collect) -> ReplicationResult {
    let mut world = World::new(scenario, replication, collect);
    world.run();
    world.finish()
}

struct World<'s> {
    sc: &'s Scenario,
    replication: u64,
    seed: u64,
    collect: Collect,
    queue: EventQueue<Event>,
    cluster: Cluster,
    traffic: TrafficSim,
    /// Deployments and Rollouts, in the order the strategy created them (0: the one running
    /// the old version before the release).
    workloads: Vec<Workload>,
    /// The workload of each ReplicaSet, by RS id.
    rs_owner: Vec<u32>,
    /// What each destination selects, by destination id.
    dests: Vec<Selector>,
    /// Route weights in percent per destination as last decided (the proxies get them
    /// after the propagation delay).
    weights: [u8; 2],
    plan: Plan,
    monitor: Option<Box<monitor::Monitor>>,
    /// Someone was paged (the human rollback is scheduled).
    paged: bool,
    /// The Rollout's AnalysisRuns, by kind.
    runs: Vec<(crate::controllers::argo::rollout::AnalysisKind, crate::controllers::argo::run::AnalysisRun)>,
    /// The measurement event scheduled, if any.
    measure_at: Option<SimTime>,
    pods_rng: SimRng,
    people_rng: SimRng,
    /// ReplicaSet id for each RS the controller created, in creation order.
    rs_names: Vec<String>,
    sync_pending: bool,
    /// Pods of the new version not marked for deletion.
    active_new_pods: u32,
    /// Pods of the new version that still exist (terminating ones included).
    live_new_pods: u32,
    notices: Vec<Notice>,
    actions: Vec<Action>,
    conditions: Vec<Condition>,
    rollout_actions: Vec<RolloutAction>,
    rollout_events: Vec<RolloutEvent>,
    views: Vec<ReplicaSetView>,
    tallies: Vec<Tally>,
    // Measurements.
    detected_at: Option<SimTime>,
    detected_by: Option<String>,
    undo_at: Option<SimTime>,
    mitigated_at: Option<SimTime>,
    rolled_back_at: Option<SimTime>,
    completed_at: Option<SimTime>,
    timed_out: bool,
    last_accounted: SimTime,
    extra_pod_time: u128,
    peak_pods: u32,
    min_ready_pods: u64,
    extremes: PodExtremes,
    last_tick_requests: u64,
    timeline: Vec<TimelineRow>,
    trace: Vec<TraceEvent>,
    /// The HorizontalPodAutoscaler's state, when one runs.
    hpa: Option<autoscale::HpaRun>,
}

/// A Deployment or a Rollout and its controller.
struct Workload {
    /// `metadata.name`: `myapp`, `myapp-green`, `podinfo-primary`.
    name: String,
    ctl: Ctl,
    /// Synced only once applied: the new Deployment of a pair is applied at the release.
    applied: bool,
    /// The time of the controller's pending requeue, if any.
    requeue_at: Option<SimTime>,
    /// The last Progressing condition reported (Deployments).
    last_condition: Option<Condition>,
}

enum Ctl {
    Deployment(DeploymentController),
    Rollout(Box<RolloutController>),
}

impl Workload {
    fn deployment(name: &str, ctl: DeploymentController) -> Self {
        Workload {
            name: name.to_string(),
            ctl: Ctl::Deployment(ctl),
            applied: true,
            requeue_at: None,
            last_condition: None,
        }
    }

    fn kind(&self) -> &'static str {
        match self.ctl {
            Ctl::Deployment(_) => "Deployment",
            Ctl::Rollout(_) => "Rollout",
        }
    }

    fn object(&self) -> String {
        format!("{}/{}", self.kind(), self.name)
    }

    fn dep(&self) -> &DeploymentController {
        match &self.ctl {
            Ctl::Deployment(d) => d,
            Ctl::Rollout(_) => unreachable!("{} is a Rollout", self.name),
        }
    }

    fn dep_mut(&mut self) -> &mut DeploymentController {
        match &mut self.ctl {
            Ctl::Deployment(d) => d,
            Ctl::Rollout(_) => unreachable!("{} is a Rollout", self.name),
        }
    }

    fn rollout(&self) -> &RolloutController {
        match &self.ctl {
            Ctl::Rollout(r) => r,
            Ctl::Deployment(_) => unreachable!("{} is a Deployment", self.name),
        }
    }

    fn rollout_mut(&mut self) -> &mut RolloutController {
        match &mut self.ctl {
            Ctl::Rollout(r) => r,
            Ctl::Deployment(_) => unreachable!("{} is a Deployment", self.name),
        }
    }
}

/// Which pods a destination's endpoints come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selector {
    /// No pods (a Service that selects none of the simulated pods).
    Nothing,
    /// Every pod of a workload (a Service or subset selecting a Deployment's labels).
    Workload(u32),
    /// The pods of one ReplicaSet (a Service Argo Rollouts points at a pod-template hash).
    Rs(u32),
}

impl<'s> World<'s> {
    fn new(sc: &'s Scenario, replication: u64, collect: Collect) -> Self {
        let seed = replication_seed(sc.seed, replication);
        let images = [&sc.release.from_image, &sc.release.to_image];
        let manifests = [&sc.deployment, release::new_manifest(sc)];
        let templates = images
            .iter()
            .zip(manifests)
            .map(|(image, dep)| TemplateSpec {
                requests: dep.requests,
                probe: dep.readiness_probe,
                min_ready_seconds: dep.min_ready_seconds,
                termination_grace_period_seconds: dep.termination_grace_period_seconds,
                behaviour: container_behaviour(sc, image),
            })
            .collect();
        let versions = images
            .iter()
            .map(|image| VersionModel::new(&sc.versions[image.as_str()], sc.release.at))
            .collect();
        let mut traffic = TrafficSim::new(
            sc.fidelity,
            &sc.traffic,
            sc.pods.capacity_rps,
            versions,
            sc.duration,
            SimRng::new(seed, Stream::Traffic),
        );
        traffic.set_new_version(NEW);
        traffic.set_load_latency(sc.traffic.load_latency);
        let capacity = sc.duration / SECOND;
        let mut world = Self {
            sc,
            replication,
            seed,
            collect,
            queue: EventQueue::with_capacity(1024),
            cluster: Cluster::new(&sc.cluster, sc.pods.clone(), templates),
            traffic,
            workloads: Vec::with_capacity(2),
            rs_owner: Vec::with_capacity(8),
            dests: Vec::with_capacity(2),
            weights: [100, 0],
            plan: Plan::new(sc),
            monitor: monitor::Monitor::new(sc, seed, collect.store).map(Box::new),
            paged: false,
            runs: Vec::new(),
            measure_at: None,
            pods_rng: SimRng::new(seed, Stream::Pods),
            people_rng: SimRng::new(seed, Stream::People),
            rs_names: Vec::new(),
            sync_pending: false,
            active_new_pods: 0,
            live_new_pods: 0,
            notices: Vec::with_capacity(64),
            actions: Vec::with_capacity(8),
            conditions: Vec::with_capacity(4),
            rollout_actions: Vec::with_capacity(8),
            rollout_events: Vec::with_capacity(8),
            views: Vec::with_capacity(8),
            tallies: Vec::with_capacity(2),
            detected_at: None,
            detected_by: None,
            undo_at: None,
            mitigated_at: None,
            rolled_back_at: None,
            completed_at: None,
            timed_out: false,
            last_accounted: 0,
            extra_pod_time: 0,
            peak_pods: 0,
            min_ready_pods: u64::MAX,
            extremes: PodExtremes { max_active: 0, min_available: u64::MAX },
            last_tick_requests: 0,
            timeline: Vec::with_capacity(if collect.timeline { 3 * capacity as usize + 3 } else { 0 }),
            trace: Vec::new(),
            hpa: None,
        };
        world.start();
        world
    }

    /// The steady state before the release: the strategy's workloads and destinations, the
    /// old version fully available.
    fn start(&mut self) {
        let (running, replicas) = self.setup();
        let rs = self.create_rs(running, OLD, 1);
        self.on_cluster(0, |cluster, cx| cluster.spawn_running(rs, replicas, cx));
        for pod in 0..self.cluster.pods.len() as u32 {
            let p = &self.cluster.pods[pod as usize];
            if p.ready {
                self.traffic.set_first_start(pod, 0);
                self.traffic.set_accepting(pod, true);
                for d in 0..self.dests.len() {
                    if self.matches(d, pod) {
                        self.traffic.set_destination_endpoint(pod, DestinationId(d as u32), true);
                    }
                }
            }
        }
        self.queue.schedule(0, Event::Sync);
        self.sync_pending = true;
        for pod in 0..self.cluster.pods.len() as u32 {
            if self.cluster.pods[pod as usize].ready {
                self.monitor_started(0, pod, true);
            }
        }
        self.schedule_first_evaluation();
        self.queue.schedule(self.sc.release.at, Event::Release);
        if self.collect.timeline {
            self.queue.schedule(self.sc.tick.max(1), Event::Tick);
        }
        if matches!(self.plan, Plan::Flagger(_)) {
            self.queue.schedule(0, Event::FlaggerTick);
        }
        self.schedule_autoscaler();
        self.queue.schedule(self.sc.duration, Event::End);
    }

    fn create_rs(&mut self, workload: u32, template: u32, revision: u64) -> RsId {
        let rs = self.cluster.create_replica_set(template, revision);
        let image = self.image_of_template(template);
        self.rs_owner.push(workload);
        // A Rollout's ReplicaSets are named by the template hash its pods carry as a label.
        let hash = match self.workloads[workload as usize].ctl {
            Ctl::Rollout(_) => crate::controllers::argo::spec::pod_template_hash(image),
            Ctl::Deployment(_) => {
                name_hash(image.as_bytes(), u64::from(template) + 31 * u64::from(workload), 10)
            }
        };
        self.rs_names.push(format!("{}-{hash}", self.workloads[workload as usize].name));
        rs
    }

    fn register_pod(&mut self, pod: u32) {
        let template = self.cluster.pods[pod as usize].template;
        self.traffic.add_pod(pod, template);
        if template == NEW {
            self.active_new_pods += 1;
            self.live_new_pods += 1;
        }
    }

    fn run(&mut self) {
        let mut events = 0u64;
        while let Some(t) = self.queue.peek_time() {
            events += 1;
            assert!(
                events < MAX_EVENTS,
                "replication {} (seed {}) exceeded {MAX_EVENTS} events",
                self.replication,
                self.seed
            );
            self.traffic.advance_to(t);
            self.account(t);
            let (now, event) = self.queue.pop().expect("peeked");
            if event == Event::End {
                break;
            }
            self.handle(now, event);
            self.observe(now);
        }
    }

    fn handle(&mut self, now: SimTime, event: Event) {
        match event {
            Event::Pod(ev) => self.on_cluster(now, |cluster, cx| cluster.handle(ev, cx)),
            Event::Sync => self.sync(now),
            Event::Requeue { who: PLAN, at } => {
                if self.plan.take_requeue(at) {
                    self.sync(now);
                }
            }
            Event::Requeue { who, at } => {
                // Only the latest requeue counts; earlier ones were superseded by progress.
                let w = &mut self.workloads[who as usize];
                if w.requeue_at == Some(at) {
                    w.requeue_at = None;
                    self.sync(now);
                }
            }
            Event::Endpoint { pod, dest, serving } => {
                let p = &self.cluster.pods[pod as usize];
                let serving =
                    serving && p.ready && !p.deleting && !p.gone && self.matches(dest as usize, pod);
                self.traffic.set_destination_endpoint(pod, DestinationId(u32::from(dest)), serving);
            }
            Event::Reselect(d) => self.reselect(d as usize),
            Event::Route(weights) => self.apply_route(weights),
            Event::Promote => self.promote(now),
            Event::FlaggerTick => self.flagger_tick(now),
            Event::MeshNext => self.mesh_next(now),
            Event::Release => self.release(now),
            Event::Scrape => self.on_scrape(now),
            Event::RuleEval => self.on_rule_eval(now),
            Event::Notify(alert) => self.on_notify(now, alert as usize),
            Event::Measure => self.on_measure(now),
            Event::Undo => self.undo(now),
            Event::HpaSync => self.hpa_sync(now),
            Event::Tick => {
                self.timeline_row(now);
                self.queue.schedule_in(self.sc.tick.max(1), Event::Tick);
            }
            Event::End => unreachable!("End stops the loop"),
        }
    }

    /// Runs a cluster operation, then reacts to what the cluster reported: new pods get
    /// their traffic slots first, then each notice is handled in order.
    fn on_cluster(&mut self, now: SimTime, op: impl FnOnce(&mut Cluster, &mut Ctx<'_, Event>)) {
        let mut notices = std::mem::take(&mut self.notices);
        notices.clear();
        let mut cx = Ctx { now, rng: &mut self.pods_rng, queue: &mut self.queue, notices: &mut notices };
        op(&mut self.cluster, &mut cx);
        if let Some(last) = self.cluster.pods.len().checked_sub(1) {
            self.register_pod_if_new(last as u32);
        }
        for &notice in &notices {
            self.handle_notice(now, notice);
        }
        notices.clear();
        self.notices = notices;
    }

    /// Whether destination `d` selects `pod` (its selector now, whatever the pod's state).
    fn matches(&self, d: usize, pod: u32) -> bool {
        let rs = self.cluster.pods[pod as usize].rs;
        match self.dests[d] {
            Selector::Nothing => false,
            Selector::Workload(w) => self.rs_owner[rs as usize] == w,
            Selector::Rs(r) => rs == r,
        }
    }

    /// Points destination `d` at other pods. Like the endpoints controller, which rewrites a
    /// Service's Endpoints in one update, the whole change reaches the traffic at once after
    /// the propagation delay.
    fn select(&mut self, d: usize, selector: Selector) {
        if self.dests[d] != selector {
            self.dests[d] = selector;
            self.queue.schedule_in(self.sc.controller.endpoint_propagation, Event::Reselect(d as u8));
        }
    }

    /// Destination `d`'s endpoints become the Ready, non-terminating pods its selector picks.
    fn reselect(&mut self, d: usize) {
        for pod in 0..self.cluster.pods.len() as u32 {
            let p = &self.cluster.pods[pod as usize];
            let serving = p.ready && !p.deleting && !p.gone && self.matches(d, pod);
            self.traffic.set_destination_endpoint(pod, DestinationId(d as u32), serving);
        }
    }

    /// New route weights (percent of destination 0 and 1): intended at once, applied by the
    /// proxies after the propagation delay.
    fn set_weights(&mut self, weights: [u8; 2]) {
        if self.weights != weights {
            self.weights = weights;
            self.queue.schedule_in(self.sc.controller.endpoint_propagation, Event::Route(weights));
        }
    }

    fn apply_route(&mut self, weights: [u8; 2]) {
        let entries = [(DestinationId(0), i32::from(weights[0])), (DestinationId(1), i32::from(weights[1]))];
        let route = WeightedRoute::new(&entries[..self.dests.len().min(2)]).expect("weights sum to 100");
        self.traffic.set_route(&route);
    }

    fn handle_notice(&mut self, now: SimTime, notice: Notice) {
        let propagation = self.sc.controller.endpoint_propagation;
        match notice {
            Notice::FailedScheduling { .. } | Notice::Scheduled { .. } | Notice::Pulled { .. } => {}
            Notice::BackOff { .. } => {}
            Notice::Started { pod } => {
                let p = &self.cluster.pods[pod as usize];
                let first = p.first_started_at == Some(now) && p.restarts == 0;
                if first {
                    self.traffic.set_first_start(pod, now);
                }
                self.monitor_started(now, pod, first);
            }
            Notice::Listening { pod } => self.traffic.set_accepting(pod, true),
            Notice::StoppedAccepting { pod } => self.traffic.set_accepting(pod, false),
            Notice::ReadyChanged { pod, ready } => {
                // A deleted pod leaves the endpoints through the Terminating path below, after
                // the endpoint controller's delay, not through its readiness.
                if !self.cluster.pods[pod as usize].deleting {
                    for d in 0..self.dests.len() {
                        if self.matches(d, pod) {
                            self.queue.schedule_in(
                                propagation,
                                Event::Endpoint { pod, dest: d as u8, serving: ready },
                            );
                        }
                    }
                }
                self.request_sync(now);
            }
            Notice::Available { .. } => self.request_sync(now),
            Notice::Crashed { pod, .. } | Notice::Killed { pod } => {
                self.traffic.kill_in_flight(pod, now);
                self.monitor_stopped(pod);
            }
            Notice::Terminating { pod } => {
                if self.cluster.pods[pod as usize].template == NEW {
                    self.active_new_pods -= 1;
                }
                let delay = self.sc.pods.endpoint_removal_delay + propagation;
                for d in 0..self.dests.len() {
                    if self.matches(d, pod)
                        || self.traffic.destination_endpoints(DestinationId(d as u32)).contains(&pod)
                    {
                        self.queue.schedule_in(delay, Event::Endpoint { pod, dest: d as u8, serving: false });
                    }
                }
                self.request_sync(now);
            }
            Notice::Gone { pod } => {
                if self.cluster.pods[pod as usize].template == NEW {
                    self.live_new_pods -= 1;
                }
                // The process is gone, but the endpoint stays until the Terminating path
                // removes it: requests routed there meanwhile are refused.
                self.traffic.set_accepting(pod, false);
                self.monitor_gone(pod);
                self.request_sync(now);
            }
        }
        if self.collect.trace {
            self.trace_notice(now, notice);
        }
    }

    /// The event-log line of a notice (only when a trace is being collected).
    fn trace_notice(&mut self, now: SimTime, notice: Notice) {
        let (pod, reason, message) = match notice {
            Notice::FailedScheduling { pod } => {
                (pod, "FailedScheduling", "0/N nodes are available: insufficient cpu or memory".to_string())
            }
            Notice::Scheduled { pod, node } => {
                (pod, "Scheduled", format!("Successfully assigned to node-{node}"))
            }
            Notice::Pulled { pod, cold } => {
                let image = self.image_of(pod);
                let message = if cold {
                    format!("Successfully pulled image \"{image}\"")
                } else {
                    format!("Container image \"{image}\" already present on machine")
                };
                (pod, "Pulled", message)
            }
            Notice::Started { pod } => {
                let message = match self.manifest_of(pod).container.as_str() {
                    "" => "Started container".to_string(),
                    name => format!("Started container {name}"),
                };
                (pod, "Started", message)
            }
            Notice::ReadyChanged { pod, ready: true } => {
                let message = if self.manifest_of(pod).readiness_probe.is_some() {
                    "readiness probe succeeded; the pod is Ready"
                } else {
                    "the container runs and there is no readiness probe; the pod is Ready"
                };
                (pod, "PodReady", message.to_string())
            }
            Notice::ReadyChanged { pod, ready: false } => {
                (pod, "PodNotReady", "the pod is not Ready".to_string())
            }
            Notice::Crashed { pod, restarts } => (
                pod,
                "Crashed",
                format!("container app exited (restart count {restarts}); requests in flight fail"),
            ),
            Notice::BackOff { pod, delay } => (
                pod,
                "BackOff",
                format!("Back-off {} restarting failed container app", format_duration(delay)),
            ),
            Notice::Terminating { pod } => (pod, "Killing", "Stopping container app (SIGTERM)".to_string()),
            Notice::Killed { pod } => {
                (pod, "Killed", "grace period exceeded: SIGKILL; requests in flight fail".to_string())
            }
            Notice::Listening { .. } | Notice::StoppedAccepting { .. } | Notice::Available { .. } => return,
            Notice::Gone { .. } => return,
        };
        self.log_pod(now, pod, reason, message);
    }

    fn register_pod_if_new(&mut self, pod: u32) {
        while self.traffic.pod_count() <= pod as usize {
            let next = self.traffic.pod_count() as u32;
            self.register_pod(next);
        }
    }

    fn request_sync(&mut self, now: SimTime) {
        if !self.sync_pending {
            self.sync_pending = true;
            self.queue.schedule(now + self.sc.controller.reconcile_latency, Event::Sync);
        }
    }

    /// The views of the ReplicaSets workload `w` owns.
    fn build_views(&mut self, w: u32) {
        self.views.clear();
        for (id, rs) in self.cluster.replica_sets.iter().enumerate() {
            if self.rs_owner[id] != w {
                continue;
            }
            let c = self.cluster.rs_counts(id as RsId);
            self.views.push(ReplicaSetView {
                id: id as u32,
                template: rs.template,
                revision: rs.revision,
                created: rs.created,
                spec: rs.spec,
                replicas: c.replicas,
                ready: c.ready,
                available: c.available,
                pods: c.pods,
            });
        }
    }

    /// Every applied workload's controller syncs, then the release strategy looks.
    fn sync(&mut self, now: SimTime) {
        self.sync_pending = false;
        for w in 0..self.workloads.len() as u32 {
            if self.workloads[w as usize].applied {
                match self.workloads[w as usize].ctl {
                    Ctl::Deployment(_) => self.sync_deployment(now, w),
                    Ctl::Rollout(_) => self.sync_rollout(now, w),
                }
            }
        }
        self.orchestrate(now);
        self.check_progress(now);
    }

    fn sync_deployment(&mut self, now: SimTime, w: u32) {
        self.build_views(w);
        self.actions.clear();
        self.conditions.clear();
        let result = self.workloads[w as usize].dep_mut().sync(
            now,
            &self.views,
            &mut self.actions,
            &mut self.conditions,
        );
        let actions = std::mem::take(&mut self.actions);
        for &action in &actions {
            self.apply(now, w, action);
        }
        self.actions = actions;
        let conditions = std::mem::take(&mut self.conditions);
        for &condition in &conditions {
            self.condition(now, w, condition);
        }
        self.conditions = conditions;
        self.requeue(now, w, result.requeue_at);
    }

    fn requeue(&mut self, now: SimTime, w: u32, at: Option<SimTime>) {
        let workload = &mut self.workloads[w as usize];
        if let Some(at) = at.map(|at| at.max(now))
            && workload.requeue_at != Some(at)
        {
            workload.requeue_at = Some(at);
            self.queue.schedule(at, Event::Requeue { who: w as u8, at });
        }
    }

    fn apply(&mut self, now: SimTime, w: u32, action: Action) {
        let (rs, from, to) = match action {
            Action::CreateReplicaSet { template, replicas, revision } => {
                (self.create_rs(w, template, revision), 0, replicas)
            }
            Action::Scale { rs, from, to } => (rs, from, to),
            Action::SetRevision { rs, revision } => {
                self.cluster.replica_sets[rs as usize].revision = revision;
                return;
            }
        };
        self.scale_rs(now, w, rs, from, to);
    }

    fn scale_rs(&mut self, now: SimTime, w: u32, rs: RsId, from: i64, to: i64) {
        if self.collect.trace && from != to {
            let verb = if to > from { "up" } else { "down" };
            let message =
                format!("Scaled {verb} replica set {} from {from} to {to}", self.rs_names[rs as usize]);
            self.log(now, self.workloads[w as usize].object(), "ScalingReplicaSet", message);
        }
        self.on_cluster(now, |cluster, cx| cluster.scale(rs, to, cx));
        // The ReplicaSet's status (its pod count) changes with the scale: the controllers
        // watch ReplicaSets, so that change triggers a sync (and counts as progress) like any
        // pod change does.
        self.request_sync(now);
    }

    fn condition(&mut self, now: SimTime, w: u32, condition: Condition) {
        // Like `kubectl describe`, show the Progressing condition when its reason changes (the
        // controller refreshes ReplicaSetUpdated on every bit of progress), from the release on.
        let last = self.workloads[w as usize].last_condition;
        if self.collect.trace && last != Some(condition) && now >= self.sc.release.at {
            self.trace_condition(now, w, condition);
        }
        self.workloads[w as usize].last_condition = Some(condition);
        if condition == Condition::ProgressDeadlineExceeded {
            self.timed_out = true;
            if self.sc.detection.on_progress_deadline
                && self.detected_at.is_none()
                && now >= self.sc.release.at
            {
                let kind = self.workloads[w as usize].kind();
                self.detect(
                    now,
                    "progress_deadline".into(),
                    format!("the {kind} reports ProgressDeadlineExceeded"),
                );
                self.page(now);
            }
        }
    }

    /// The event-log line of a Progressing condition (only when a trace is being collected).
    fn trace_condition(&mut self, now: SimTime, w: u32, condition: Condition) {
        let deadline = self.sc.deployment.progress_deadline_seconds.unwrap_or(0);
        let (reason, message) = match condition {
            Condition::NewReplicaSetCreated => {
                ("NewReplicaSetCreated", "Progressing=True: created new replica set".to_string())
            }
            Condition::FoundNewReplicaSet => {
                ("FoundNewReplicaSet", "Progressing=True: found new replica set".to_string())
            }
            Condition::ReplicaSetUpdated => {
                ("ReplicaSetUpdated", "Progressing=True: replica set is progressing".to_string())
            }
            Condition::NewReplicaSetAvailable => (
                "NewReplicaSetAvailable",
                "Progressing=True: replica set has successfully progressed".to_string(),
            ),
            Condition::DeploymentPaused => {
                ("DeploymentPaused", "Progressing=Unknown: the Deployment is paused".to_string())
            }
            Condition::DeploymentResumed => {
                ("DeploymentResumed", "Progressing=Unknown: the Deployment is resumed".to_string())
            }
            Condition::ProgressDeadlineExceeded => (
                "ProgressDeadlineExceeded",
                format!(
                    "Progressing=False: replica set has not made progress for {deadline}s (progressDeadlineSeconds); the controller reports it and does not roll back"
                ),
            ),
        };
        self.log(now, self.workloads[w as usize].object(), reason, message);
    }

    /// The first signal that leads to a rollback: an alert with an action, a failed analysis,
    /// Flagger's checks, or ProgressDeadlineExceeded.
    fn detect(&mut self, now: SimTime, by: String, why: String) {
        self.detected_at = Some(now);
        self.detected_by = Some(by);
        self.log(now, "Simulation".to_string(), "Detected", why);
    }

    /// The on-call engineer is paged: they roll back after `rollback.manual.after`.
    fn page(&mut self, _now: SimTime) {
        if let Some(after) = self.sc.rollback.manual_after
            && self.plan.human_rolls_back()
            && self.undo_at.is_none()
            && !self.paged
        {
            self.paged = true;
            let delay = after.sample(&mut self.people_rng);
            self.queue.schedule_in(delay, Event::Undo);
        }
    }

    /// After every event: mitigation and the running minimum of Ready endpoints.
    fn observe(&mut self, now: SimTime) {
        if now < self.sc.release.at {
            return;
        }
        if self.undo_at.is_some() && self.mitigated_at.is_none() && self.new_gets_no_traffic() {
            self.mitigated_at = Some(now);
            self.log(
                now,
                "Simulation".to_string(),
                "Mitigated",
                format!("no {} pod receives traffic any more", self.sc.release.to_image),
            );
        }
        if self.undo_at.is_some() && self.rolled_back_at.is_none() {
            self.check_progress(now);
        }
        self.min_ready_pods = self.min_ready_pods.min(self.routed_endpoints() as u64);
        self.peak_pods = self.peak_pods.max(self.cluster.bound_pods);
        let (mut active, mut available) = (0u64, 0u64);
        for rs in 0..self.cluster.replica_sets.len() {
            let c = self.cluster.rs_counts(rs as RsId);
            active += c.replicas as u64;
            available += c.available as u64;
        }
        self.extremes.max_active = self.extremes.max_active.max(active);
        self.extremes.min_available = self.extremes.min_available.min(available);
    }

    /// Whether no request can reach a pod of the new version any more: none is an endpoint of
    /// a destination the route picks, and none that is not terminating is selected by one
    /// (it could become an endpoint again).
    fn new_gets_no_traffic(&self) -> bool {
        if self.traffic.endpoints_of(NEW) > 0 {
            return false;
        }
        !(0..self.cluster.pods.len() as u32).any(|pod| {
            let p = &self.cluster.pods[pod as usize];
            p.template == NEW
                && !p.deleting
                && !p.gone
                && (0..self.dests.len()).any(|d| self.dest_routed(d) && self.matches(d, pod))
        })
    }

    /// Whether the route the proxies apply now can pick destination `d` (the only one, or one
    /// with weight; intended weights not yet propagated do not count).
    fn dest_routed(&self, d: usize) -> bool {
        self.traffic.route().destinations().any(|x| x.index() == d)
    }

    /// Endpoints of the destinations the route can pick (destination 0 alone without a
    /// mesh).
    fn routed_endpoints(&self) -> usize {
        let mut n = 0;
        for d in 0..self.dests.len() {
            if self.dest_routed(d) {
                n += self.traffic.destination_endpoints(DestinationId(d as u32)).len();
            }
        }
        n
    }

    /// Integrates pods above the desired count from the release on.
    fn account(&mut self, t: SimTime) {
        let from = self.last_accounted.max(self.sc.release.at);
        if t > from {
            // With an HPA the baseline is the replica count it currently wants: capacity it
            // adds for load is not the release's overhead.
            let baseline = match (&self.hpa, &self.workloads[0].ctl) {
                (Some(_), Ctl::Deployment(d)) => d.replicas().max(0) as u64,
                (Some(_), Ctl::Rollout(r)) => r.replicas().max(0) as u64,
                (None, _) => u64::from(self.sc.deployment.replicas),
            };
            let extra = u64::from(self.cluster.bound_pods).saturating_sub(baseline);
            self.extra_pod_time += u128::from(extra) * u128::from(t - from);
        }
        self.last_accounted = t;
    }

    fn timeline_row(&mut self, now: SimTime) {
        self.traffic.advance_to(now);
        let mut tallies = std::mem::take(&mut self.tallies);
        self.traffic.take_version_tallies(&mut tallies);
        let tick_s = to_secs_f64(self.sc.tick.max(1));
        let requests = self.traffic.totals.requests - self.last_tick_requests;
        self.last_tick_requests = self.traffic.totals.requests;
        let time_s = (i128::from(now) - i128::from(self.sc.release.at)) as f64 / SECOND as f64;
        let intended_new = self.intended_new_share();
        let (versions, none) = tallies.split_at(tallies.len() - 1);
        for (template, tally) in versions.iter().enumerate() {
            let template = template as u32;
            let desired: i64 =
                self.cluster.replica_sets.iter().filter(|rs| rs.template == template).map(|rs| rs.spec).sum();
            let ready =
                self.cluster.pods.iter().filter(|p| p.template == template && p.ready && !p.deleting).count();
            let row = timeline_row(time_s, self.image_of_template(template), *tally, requests, tick_s);
            self.timeline.push(TimelineRow {
                pods_desired: desired.max(0) as u64,
                pods_ready: ready as u64,
                intended_share: if template == NEW { intended_new } else { 1.0 - intended_new },
                ..row
            });
        }
        // Requests that found no Ready endpoint belong to no version, but they are part of
        // the traffic: with this row the shares of a tick add up to 1.
        self.timeline.push(timeline_row(time_s, NO_ENDPOINT, none[0], requests, tick_s));
        self.tallies = tallies;
    }
    fn finish(mut self) -> ReplicationResult {
        let end = self.sc.duration;
        self.traffic.advance_to(end);
        self.account(end);
        if self.collect.timeline && self.last_tick_requests < self.traffic.totals.requests {
            // The last (possibly partial) tick, so that the timeline covers every request.
            self.timeline_row(end);
        }
        let sc = self.sc;
        let t = self.traffic.totals;
        // Differences in integer microseconds first, so equal times give equal seconds.
        let rel = |x: Option<SimTime>| {
            x.map(|x| (i128::from(x) - i128::from(sc.release.at)) as f64 / SECOND as f64)
        };
        let base_error = sc.versions[sc.release.from_image.as_str()].error_rate;
        let excess = (t.failed + t.dropped) as f64 - t.requests as f64 * base_error;
        let mean_rps = t.requests as f64 / to_secs_f64(sc.duration).max(1e-9);
        let budget = (1.0 - sc.slo.objective) * mean_rps * to_secs_f64(sc.slo.window);
        let replicas = f64::from(sc.deployment.replicas.max(1));
        let outcome = if self.rolled_back_at.is_some() {
            Outcome::RolledBack
        } else if self.undo_at.is_some() {
            Outcome::Running
        } else if self.completed_at.is_some() {
            Outcome::Completed
        } else if self.timed_out {
            Outcome::Stalled
        } else {
            Outcome::Running
        };
        let record = RunRecord {
            replication: self.replication,
            seed: self.seed,
            outcome,
            detected_by: self.detected_by.clone(),
            detected_at_s: rel(self.detected_at),
            mitigated_at_s: rel(self.mitigated_at),
            rolled_back_at_s: rel(self.rolled_back_at),
            completed_at_s: rel(self.completed_at),
            // From detection, or from the rollback's start if a controller began it before
            // anything was detected (an Argo progressDeadlineAbort without that detection).
            time_to_rollback_s: match (self.rolled_back_at, self.detected_at, self.undo_at) {
                (Some(r), Some(d), u) => Some(to_secs_f64(r - d.min(u.unwrap_or(d)))),
                (Some(r), None, Some(u)) => Some(to_secs_f64(r - u)),
                _ => None,
            },
            requests: t.requests,
            succeeded_requests: t.succeeded,
            failed_requests: t.failed,
            dropped_requests: t.dropped,
            new_version_requests: t.new_version_requests,
            bad_requests: t.bad_requests,
            excess_failed_requests: excess,
            users_affected: t.users_affected,
            error_budget_pct: if budget > 0.0 { excess / budget * 100.0 } else { 0.0 },
            peak_pods: u64::from(self.peak_pods),
            extra_pod_seconds: self.extra_pod_time as f64 / SECOND as f64,
            overhead_pct: (f64::from(self.peak_pods) - replicas) / replicas * 100.0,
            min_ready_pods: if self.min_ready_pods == u64::MAX { 0 } else { self.min_ready_pods },
            false_alarm: u64::from(self.undo_at.is_some() && fault_free(sc)),
            alerts_fired: self.monitor.as_ref().map_or(0, |m| m.alerts_fired),
        };
        let store = if self.collect.store { self.monitor.take().map(|m| m.prom.store) } else { None };
        ReplicationResult {
            record,
            extremes: self.extremes,
            timeline: self.timeline,
            trace: self.trace,
            store,
        }
    }

    // ---- trace helpers ----------------------------------------------------------------

    fn image_of(&self, pod: u32) -> &str {
        self.image_of_template(self.cluster.pods[pod as usize].template)
    }

    /// The manifest a pod's template comes from.
    fn manifest_of(&self, pod: u32) -> &'s crate::controllers::spec::DeploymentManifest {
        if self.cluster.pods[pod as usize].template == OLD {
            &self.sc.deployment
        } else {
            release::new_manifest(self.sc)
        }
    }

    fn image_of_template(&self, template: u32) -> &'s str {
        if template == OLD { &self.sc.release.from_image } else { &self.sc.release.to_image }
    }

    fn log_pod(&mut self, now: SimTime, pod: u32, reason: &str, message: String) {
        if !self.collect.trace {
            return;
        }
        let rs = self.cluster.pods[pod as usize].rs;
        let object =
            format!("Pod/{}-{}", self.rs_names[rs as usize], name_hash(&pod.to_le_bytes(), self.seed, 5));
        self.push_trace(now, object, reason, message);
    }

    fn log(&mut self, now: SimTime, object: String, reason: &str, message: String) {
        if self.collect.trace {
            self.push_trace(now, object, reason, message);
        }
    }

    fn push_trace(&mut self, now: SimTime, object: String, reason: &str, message: String) {
        self.trace.push(TraceEvent {
            time: now,
            time_s: to_secs_f64(now),
            object,
            reason: reason.to_string(),
            message,
        });
    }
}

/// Whether the new version is as good as the old: no injected fault and an error rate no
/// higher. Rolling such a version back is a false alarm.
fn fault_free(sc: &Scenario) -> bool {
    let (old, new) =
        (&sc.versions[sc.release.from_image.as_str()], &sc.versions[sc.release.to_image.as_str()]);
    new.faults.is_empty() && new.error_rate <= old.error_rate
}

/// The container misbehaviour that a version's faults imply.
fn container_behaviour(sc: &Scenario, image: &str) -> ContainerBehaviour {
    let mut behaviour = ContainerBehaviour::default();
    for fault in &sc.versions[image].faults {
        let onset = cluster::Onset {
            after: fault.after,
            release_at: (fault.anchor == FaultAnchor::Release).then_some(sc.release.at),
        };
        match &fault.kind {
            FaultKind::CrashAtStart => behaviour.crash_at_start = Some(onset),
            FaultKind::CrashAfter { uptime } => behaviour.crash_after = Some((*uptime, onset)),
            _ => {}
        }
    }
    behaviour
}

/// The `version` of the timeline rows that count requests no endpoint received.
pub const NO_ENDPOINT: &str = "(no endpoint)";

fn timeline_row(time_s: f64, version: &str, tally: Tally, requests: u64, tick_s: f64) -> TimelineRow {
    TimelineRow {
        time_s,
        version: version.to_string(),
        pods_desired: 0,
        pods_ready: 0,
        traffic_share: if requests > 0 { tally.requests as f64 / requests as f64 } else { 0.0 },
        intended_share: 0.0,
        request_rps: tally.requests as f64 / tick_s,
        error_rps: tally.errors as f64 / tick_s,
        alert_value: None,
        alert_threshold: None,
        alert_state: None,
    }
}

/// A deterministic name suffix in the alphabet Kubernetes uses for generated names.
fn name_hash(bytes: &[u8], salt: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..len)
        .map(|_| {
            h ^= h >> 29;
            h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ALPHABET[(h >> 40) as usize % ALPHABET.len()] as char
        })
        .collect()
}

#[cfg(test)]
mod tests;
