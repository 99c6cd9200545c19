//! The cluster: nodes with allocatable CPU and memory, pods with their kubelet lifecycle
//! (scheduling, image pull, container start, readiness probe, crash loop, graceful
//! termination) and ReplicaSets that own pods.
//!
//! The cluster advances only through [`PodEvent`]s that it schedules itself into the
//! world's queue, and tells the world what changed through [`Notice`]s. It knows nothing of
//! Deployments, traffic or YAML.

mod pod;
pub mod spec;

pub use pod::{ContainerBehaviour, ContainerState, Onset, Pod, PodEvent, PodStep};
pub use spec::*;

use crate::engine::{EventQueue, SECOND, SimRng, SimTime};

/// Index of a node in [`Cluster::nodes`].
pub type NodeId = u32;
/// Index of a pod in [`Cluster::pods`]; pods are never removed, only marked gone.
pub type PodId = u32;
/// Index of a ReplicaSet in [`Cluster::replica_sets`].
pub type RsId = u32;

/// kube-scheduler's default limit of pods per node (`--max-pods`).
pub const MAX_PODS_PER_NODE: u32 = 110;

/// Something the world must react to (update endpoints, trigger a controller sync, trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The pod fits on no node and stays Pending.
    FailedScheduling {
        pod: PodId,
    },
    Scheduled {
        pod: PodId,
        node: NodeId,
    },
    Pulled {
        pod: PodId,
        cold: bool,
    },
    /// A container started (first start or a restart).
    Started {
        pod: PodId,
    },
    /// Readiness changed (the container's probe, a crash, or deletion).
    ReadyChanged {
        pod: PodId,
        ready: bool,
    },
    /// `minReadySeconds` have passed since the pod became Ready.
    Available {
        pod: PodId,
    },
    /// The container exited; requests in flight on it fail.
    Crashed {
        pod: PodId,
        restarts: u32,
    },
    /// The container will restart after this back-off.
    BackOff {
        pod: PodId,
        delay: SimTime,
    },
    /// The pod got its deletion timestamp: SIGTERM sent, endpoint removal pending.
    Terminating {
        pod: PodId,
    },
    /// The application stopped accepting new connections (SIGTERM with drain, or exit).
    StoppedAccepting {
        pod: PodId,
    },
    /// The application listens: requests routed to it are served.
    Listening {
        pod: PodId,
    },
    /// The grace period ran out before the application exited: SIGKILL, in-flight fail.
    Killed {
        pod: PodId,
    },
    /// The pod is gone and its node resources are free.
    Gone {
        pod: PodId,
    },
}

pub struct Node {
    pub cpu_free_millis: u64,
    pub memory_free_bytes: u64,
    pub pods: u32,
    /// Bit `i` set: the image of template `i` has been pulled on this node.
    images: u64,
}

/// A ReplicaSet: a desired count of pods from one template.
pub struct ReplicaSet {
    pub template: u32,
    pub revision: u64,
    /// Creation order (smaller is older).
    pub created: u64,
    pub spec: i64,
    /// Pods that still exist, terminating ones included.
    pub pods: Vec<PodId>,
}

/// Counts of a ReplicaSet's pods as its status reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsCounts {
    /// Non-terminating pods (`status.replicas`).
    pub replicas: i64,
    pub ready: i64,
    pub available: i64,
    /// Every pod that still exists, terminating ones included.
    pub pods: i64,
}

/// What every lifecycle step needs besides the cluster: the clock, the pods' random stream,
/// the world's queue to schedule follow-up steps into, and the notices for the world.
pub struct Ctx<'a, E> {
    pub now: SimTime,
    pub rng: &'a mut SimRng,
    pub queue: &'a mut EventQueue<E>,
    pub notices: &'a mut Vec<Notice>,
}

/// How each template's pods behave, indexed by template id.
pub struct TemplateSpec {
    pub requests: Resources,
    pub probe: Option<Probe>,
    pub min_ready_seconds: u32,
    pub termination_grace_period_seconds: u32,
    pub behaviour: ContainerBehaviour,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub replica_sets: Vec<ReplicaSet>,
    pub templates: Vec<TemplateSpec>,
    timing: PodTiming,
    /// Pods waiting for room, in creation order.
    unschedulable: Vec<PodId>,
    next_created: u64,
    /// Pods holding node resources now (bound and not gone).
    pub bound_pods: u32,
}

impl Cluster {
    pub fn new(spec: &ClusterSpec, timing: PodTiming, templates: Vec<TemplateSpec>) -> Self {
        assert!(templates.len() <= 64, "at most 64 templates per replication");
        let nodes = (0..spec.nodes)
            .map(|_| Node {
                cpu_free_millis: spec.node_cpu_millis,
                memory_free_bytes: spec.node_memory_bytes,
                pods: 0,
                images: 0,
            })
            .collect();
        Self {
            nodes,
            pods: Vec::new(),
            replica_sets: Vec::new(),
            templates,
            timing,
            unschedulable: Vec::new(),
            next_created: 0,
            bound_pods: 0,
        }
    }

    pub fn timing(&self) -> &PodTiming {
        &self.timing
    }

    /// Creates an empty ReplicaSet (scale it with [`Cluster::scale`]).
    pub fn create_replica_set(&mut self, template: u32, revision: u64) -> RsId {
        let created = self.next_created;
        self.next_created += 1;
        self.replica_sets.push(ReplicaSet { template, revision, created, spec: 0, pods: Vec::new() });
        (self.replica_sets.len() - 1) as RsId
    }

    /// The status counts of a ReplicaSet.
    pub fn rs_counts(&self, rs: RsId) -> RsCounts {
        let mut c = RsCounts::default();
        for &p in &self.replica_sets[rs as usize].pods {
            let pod = &self.pods[p as usize];
            c.pods += 1;
            if pod.deleting {
                continue;
            }
            c.replicas += 1;
            c.ready += i64::from(pod.ready);
            c.available += i64::from(pod.available);
        }
        c
    }

    /// Sets a ReplicaSet's desired count and acts on it at once (the ReplicaSet controller's
    /// latency is folded into the Deployment controller's): creates pods, or deletes the
    /// surplus in the ReplicaSet controller's order.
    pub fn scale<E: From<PodEvent>>(&mut self, rs: RsId, to: i64, cx: &mut Ctx<'_, E>) {
        assert!(to >= 0, "negative replica count");
        self.replica_sets[rs as usize].spec = to;
        let active = self.rs_counts(rs).replicas;
        if to > active {
            for _ in active..to {
                self.create_pod(rs, cx);
            }
        } else if to < active {
            let mut victims = self.replica_sets[rs as usize]
                .pods
                .iter()
                .copied()
                .filter(|&p| !self.pods[p as usize].deleting)
                .collect::<Vec<_>>();
            victims.sort_by(|&a, &b| {
                pod::deletion_order(&self.pods[a as usize], &self.pods[b as usize], cx.now)
            });
            for &p in victims.iter().take((active - to) as usize) {
                self.delete_pod(p, cx);
            }
        }
    }

    /// Creates `n` pods of a ReplicaSet that are already running, Ready and available at
    /// `cx.now` (the steady state before a release), with the image cached on their nodes.
    /// Pods that fit nowhere are left Pending as usual.
    pub fn spawn_running<E: From<PodEvent>>(&mut self, rs: RsId, n: i64, cx: &mut Ctx<'_, E>) {
        let template = self.replica_sets[rs as usize].template;
        let requests = self.templates[template as usize].requests;
        let behaviour = self.templates[template as usize].behaviour;
        self.replica_sets[rs as usize].spec += n;
        for _ in 0..n {
            let Some(node) = self.pick_node(requests) else {
                self.create_pod(rs, cx);
                continue;
            };
            let id = self.pods.len() as PodId;
            let created = self.next_created;
            self.next_created += 1;
            let mut pod = Pod::new(id, rs, template, created, cx.now);
            let n = &mut self.nodes[node as usize];
            n.cpu_free_millis -= requests.cpu_millis;
            n.memory_free_bytes -= requests.memory_bytes;
            n.pods += 1;
            n.images |= 1u64 << template;
            self.bound_pods += 1;
            pod.reserved_node = Some(node);
            pod.node = Some(node);
            pod.container = ContainerState::Running { since: cx.now };
            pod.first_started_at = Some(cx.now);
            pod.listening = true;
            pod.ready = true;
            pod.ready_since = cx.now;
            pod.available = true;
            if let Some(at) = behaviour.crash_at(cx.now, cx.now, cx.rng) {
                cx.queue.schedule(at, pod.event(PodStep::Crash).into());
            }
            self.pods.push(pod);
            self.replica_sets[rs as usize].pods.push(id);
        }
    }

    fn create_pod<E: From<PodEvent>>(&mut self, rs: RsId, cx: &mut Ctx<'_, E>) {
        let id = self.pods.len() as PodId;
        let created = self.next_created;
        self.next_created += 1;
        let template = self.replica_sets[rs as usize].template;
        self.pods.push(Pod::new(id, rs, template, created, cx.now));
        self.replica_sets[rs as usize].pods.push(id);
        if !self.try_schedule(id, cx) {
            self.unschedulable.push(id);
            cx.notices.push(Notice::FailedScheduling { pod: id });
        }
    }

    /// Picks the node with the most free CPU (then memory) share that fits the pod, as
    /// kube-scheduler's LeastAllocated scoring does; ties go to the lowest index.
    fn pick_node(&self, requests: Resources) -> Option<NodeId> {
        let mut best: Option<(NodeId, u128)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.cpu_free_millis < requests.cpu_millis
                || n.memory_free_bytes < requests.memory_bytes
                || n.pods >= MAX_PODS_PER_NODE
            {
                continue;
            }
            let score = (n.cpu_free_millis as u128) << 64 | n.memory_free_bytes as u128;
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i as NodeId, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Reserves a node for the pod and schedules its binding; false if nothing fits.
    fn try_schedule<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) -> bool {
        let template = self.pods[id as usize].template as usize;
        let requests = self.templates[template].requests;
        let Some(node) = self.pick_node(requests) else { return false };
        let n = &mut self.nodes[node as usize];
        n.cpu_free_millis -= requests.cpu_millis;
        n.memory_free_bytes -= requests.memory_bytes;
        n.pods += 1;
        self.bound_pods += 1;
        let pod = &mut self.pods[id as usize];
        pod.reserved_node = Some(node);
        let delay = self.timing.scheduling.sample(cx.rng);
        cx.queue.schedule_in(delay, pod.event(PodStep::Bind).into());
        true
    }

    /// Marks a pod for deletion: SIGTERM cx.now, exit after the app's shutdown or the grace
    /// period, whichever is first.
    pub fn delete_pod<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let grace = SECOND
            * u64::from(
                self.templates[self.pods[id as usize].template as usize].termination_grace_period_seconds,
            );
        let refuse = self.timing.refuse_after_sigterm;
        let pod = &mut self.pods[id as usize];
        assert!(!pod.deleting && !pod.gone, "pod deleted twice");
        pod.deleting = true;
        pod.deleted_at = cx.now;
        pod.epoch += 1;
        cx.notices.push(Notice::Terminating { pod: id });
        if pod.ready {
            pod.ready = false;
            pod.available = false;
            cx.notices.push(Notice::ReadyChanged { pod: id, ready: false });
        }
        if pod.reserved_node.is_none() {
            // Never got room: it simply disappears.
            self.unschedulable.retain(|&p| p != id);
            self.finish_gone(id, cx.notices);
            return;
        }
        if !matches!(pod.container, ContainerState::Running { .. }) {
            // Nothing runs yet (binding, pulling, backing off): the kubelet removes it at once.
            self.release_node(id, cx);
            return;
        }
        if refuse && pod.listening {
            pod.listening = false;
            cx.notices.push(Notice::StoppedAccepting { pod: id });
        }
        let shutdown = self.timing.shutdown.sample(cx.rng);
        let pod = &mut self.pods[id as usize];
        if shutdown <= grace {
            cx.queue.schedule_in(shutdown, pod.event(PodStep::Exited).into());
        } else {
            cx.queue.schedule_in(grace, pod.event(PodStep::Kill).into());
        }
    }

    fn finish_gone(&mut self, id: PodId, notices: &mut Vec<Notice>) {
        let pod = &mut self.pods[id as usize];
        pod.gone = true;
        pod.listening = false;
        pod.container = ContainerState::Terminated;
        let rs = &mut self.replica_sets[pod.rs as usize];
        rs.pods.retain(|&p| p != id);
        notices.push(Notice::Gone { pod: id });
    }

    /// Frees the pod's node resources, marks it gone, and schedules waiting pods that cx.now fit.
    fn release_node<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let template = self.pods[id as usize].template as usize;
        let requests = self.templates[template].requests;
        if let Some(node) = self.pods[id as usize].reserved_node {
            let n = &mut self.nodes[node as usize];
            n.cpu_free_millis += requests.cpu_millis;
            n.memory_free_bytes += requests.memory_bytes;
            n.pods -= 1;
            self.bound_pods -= 1;
        }
        self.finish_gone(id, cx.notices);
        let mut i = 0;
        while i < self.unschedulable.len() {
            let waiting = self.unschedulable[i];
            if self.try_schedule(waiting, cx) {
                self.unschedulable.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Advances one pod by one lifecycle step. Stale steps (from before a restart or a
    /// deletion) are ignored.
    pub fn handle<E: From<PodEvent>>(&mut self, ev: PodEvent, cx: &mut Ctx<'_, E>) {
        let pod = &self.pods[ev.pod as usize];
        if pod.gone || pod.epoch != ev.epoch {
            return;
        }
        match ev.step {
            PodStep::Bind => self.bind(ev.pod, cx),
            PodStep::Pulled => self.start_container(ev.pod, cx),
            PodStep::Listening => {
                let pod = &mut self.pods[ev.pod as usize];
                if !pod.deleting {
                    pod.listening = true;
                    cx.notices.push(Notice::Listening { pod: ev.pod });
                }
            }
            PodStep::Probe => self.probe(ev.pod, cx),
            PodStep::MinReady => {
                let pod = &mut self.pods[ev.pod as usize];
                if pod.ready && !pod.available {
                    pod.available = true;
                    cx.notices.push(Notice::Available { pod: ev.pod });
                }
            }
            PodStep::Crash => self.crash(ev.pod, cx),
            PodStep::Restart => self.start_container(ev.pod, cx),
            PodStep::Exited => self.release_node(ev.pod, cx),
            PodStep::Kill => {
                cx.notices.push(Notice::Killed { pod: ev.pod });
                self.release_node(ev.pod, cx);
            }
        }
    }

    fn bind<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let pod = &mut self.pods[id as usize];
        let node = pod.reserved_node.expect("bound pods have a node");
        pod.node = Some(node);
        pod.bound_at = cx.now;
        cx.notices.push(Notice::Scheduled { pod: id, node });
        let bit = 1u64 << pod.template;
        let cold = self.nodes[node as usize].images & bit == 0;
        let pull = if cold {
            self.timing.image_pull_cold.sample(cx.rng)
        } else {
            self.timing.image_pull_warm.sample(cx.rng)
        };
        // The image is on the node once this pull ends; a second pull that starts before
        // then is also cold (the kubelet does not share in-progress pulls across pods).
        let pod = &mut self.pods[id as usize];
        pod.pull_cold = cold;
        cx.queue.schedule_in(pull, pod.event(PodStep::Pulled).into());
    }

    fn start_container<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let template = self.pods[id as usize].template as usize;
        if let Some(node) = self.pods[id as usize].node
            && self.pods[id as usize].container == ContainerState::Creating
        {
            self.nodes[node as usize].images |= 1u64 << template;
            cx.notices.push(Notice::Pulled { pod: id, cold: self.pods[id as usize].pull_cold });
        }
        let spec = &self.templates[template];
        let probe = spec.probe;
        let behaviour = spec.behaviour;
        let startup = self.timing.startup;
        let pod = &mut self.pods[id as usize];
        pod.container = ContainerState::Running { since: cx.now };
        if pod.first_started_at.is_none() {
            pod.first_started_at = Some(cx.now);
        }
        pod.probe_successes = 0;
        cx.notices.push(Notice::Started { pod: id });
        let first_start = pod.first_started_at.unwrap_or(cx.now);
        if let Some(at) = behaviour.crash_at(cx.now, first_start, cx.rng) {
            cx.queue.schedule(at.max(cx.now), pod.event(PodStep::Crash).into());
        }
        if !behaviour.crash_at_start_active(cx.now, first_start) {
            let listen_in = startup.sample(cx.rng);
            cx.queue.schedule_in(listen_in, pod.event(PodStep::Listening).into());
        }
        match probe {
            // The kubelet probes a freshly started container at once (UpdatePodStatus
            // triggers a manual probe), then on every period.
            Some(_) => cx.queue.schedule(cx.now, pod.event(PodStep::Probe).into()),
            // No readiness probe: Ready as soon as the container runs, listening or not.
            None => self.set_ready(id, true, cx),
        }
    }

    fn probe<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let template = self.pods[id as usize].template as usize;
        let probe = self.templates[template].probe.expect("probe ticks need a probe");
        let pod = &mut self.pods[id as usize];
        let ContainerState::Running { since } = pod.container else { return };
        if pod.deleting {
            return;
        }
        let period = SECOND * u64::from(probe.period_seconds.max(1));
        // kubelet skips the probe while int(seconds since container start) < initialDelay.
        if (cx.now - since) / SECOND < u64::from(probe.initial_delay_seconds) {
            cx.queue.schedule_in(period, pod.event(PodStep::Probe).into());
            return;
        }
        // A probe succeeds once the application listens. Readiness is only ever gained here:
        // a running application never fails its probe in this model (a Ready pod loses
        // readiness through a crash or deletion, which the kubelet reports at once), so
        // `failureThreshold` has nothing to count and probing stops once the pod is Ready; it
        // resumes with the next container start.
        if !pod.listening {
            pod.probe_successes = 0;
            cx.queue.schedule_in(period, pod.event(PodStep::Probe).into());
            return;
        }
        pod.probe_successes += 1;
        if pod.probe_successes >= probe.success_threshold.max(1) {
            self.set_ready(id, true, cx);
        } else {
            cx.queue.schedule_in(period, pod.event(PodStep::Probe).into());
        }
    }

    fn set_ready<E: From<PodEvent>>(&mut self, id: PodId, ready: bool, cx: &mut Ctx<'_, E>) {
        let min_ready =
            SECOND * u64::from(self.templates[self.pods[id as usize].template as usize].min_ready_seconds);
        let pod = &mut self.pods[id as usize];
        if pod.ready == ready {
            return;
        }
        pod.ready = ready;
        cx.notices.push(Notice::ReadyChanged { pod: id, ready });
        if ready {
            pod.ready_since = cx.now;
            if min_ready == 0 {
                pod.available = true;
                cx.notices.push(Notice::Available { pod: id });
            } else {
                cx.queue.schedule_in(min_ready, pod.event(PodStep::MinReady).into());
            }
        } else {
            pod.available = false;
        }
    }

    fn crash<E: From<PodEvent>>(&mut self, id: PodId, cx: &mut Ctx<'_, E>) {
        let pod = &mut self.pods[id as usize];
        let ContainerState::Running { since } = pod.container else { return };
        pod.restarts += 1;
        pod.epoch += 1;
        let was_listening = pod.listening;
        pod.listening = false;
        pod.container = ContainerState::BackOff;
        let delay = pod.next_backoff(cx.now, since);
        cx.notices.push(Notice::Crashed { pod: id, restarts: pod.restarts });
        if was_listening {
            cx.notices.push(Notice::StoppedAccepting { pod: id });
        }
        // Deletion bumps the epoch, so a crash is never seen on a terminating pod.
        assert!(!pod.deleting);
        cx.notices.push(Notice::BackOff { pod: id, delay });
        cx.queue.schedule_in(delay, pod.event(PodStep::Restart).into());
        self.set_ready(id, false, cx);
    }

    /// Pods of a ReplicaSet that hold node resources.
    pub fn pods_of(&self, rs: RsId) -> &[PodId] {
        &self.replica_sets[rs as usize].pods
    }
}

#[cfg(test)]
mod tests;
