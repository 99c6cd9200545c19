use super::*;
use crate::engine::{DurationDist, EventQueue, MILLISECOND, MINUTE, SimRng, Stream};

fn timing() -> PodTiming {
    PodTiming {
        scheduling: DurationDist::Fixed(SECOND),
        image_pull_cold: DurationDist::Fixed(10 * SECOND),
        image_pull_warm: DurationDist::Fixed(500 * MILLISECOND),
        startup: DurationDist::Fixed(20 * SECOND),
        capacity_rps: 100.0,
        endpoint_removal_delay: SECOND,
        shutdown: DurationDist::Fixed(2 * SECOND),
        refuse_after_sigterm: true,
        cpu_per_request: None,
    }
}

fn template(probe: Option<Probe>, behaviour: ContainerBehaviour) -> TemplateSpec {
    TemplateSpec {
        requests: Resources { cpu_millis: 1000, memory_bytes: 1 << 30 },
        probe,
        min_ready_seconds: 0,
        termination_grace_period_seconds: 30,
        behaviour,
    }
}

struct Harness {
    cluster: Cluster,
    queue: EventQueue<PodEvent>,
    rng: SimRng,
    log: Vec<(SimTime, Notice)>,
}

impl Harness {
    fn new(nodes: u32, templates: Vec<TemplateSpec>) -> Self {
        let spec = ClusterSpec { nodes, node_cpu_millis: 4000, node_memory_bytes: 16 << 30 };
        Self {
            cluster: Cluster::new(&spec, timing(), templates),
            queue: EventQueue::new(),
            rng: SimRng::new(5, Stream::Pods),
            log: Vec::new(),
        }
    }
    fn scale(&mut self, rs: RsId, to: i64) {
        let mut notices = Vec::new();
        let now = self.queue.now();
        let mut cx = Ctx { now, rng: &mut self.rng, queue: &mut self.queue, notices: &mut notices };
        self.cluster.scale(rs, to, &mut cx);
        self.log.extend(notices.into_iter().map(|n| (now, n)));
    }
    fn run_until(&mut self, end: SimTime) {
        while self.queue.peek_time().is_some_and(|t| t <= end) {
            let (now, ev) = self.queue.pop().unwrap();
            let mut notices = Vec::new();
            let mut cx = Ctx { now, rng: &mut self.rng, queue: &mut self.queue, notices: &mut notices };
            self.cluster.handle(ev, &mut cx);
            self.log.extend(notices.into_iter().map(|n| (now, n)));
        }
        self.queue.advance_to(end);
    }
    fn first(&self, f: impl Fn(&Notice) -> bool) -> Option<SimTime> {
        self.log.iter().find(|(_, n)| f(n)).map(|(t, _)| *t)
    }
}

#[test]
fn readiness_follows_the_probe_ticks() {
    // Bind at 1s, cold pull 10s → started at 11s, listening at 31s. Probe period 10s from
    // the start: 11, 21, 31 (listening exactly then: the Listening step was scheduled first
    // … at 31s both fire; Listening was queued earlier, so the 31s probe succeeds).
    let probe = Probe { period_seconds: 10, ..Probe::default() };
    let mut h = Harness::new(1, vec![template(Some(probe), ContainerBehaviour::default())]);
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 1);
    h.run_until(10 * MINUTE);
    assert_eq!(h.first(|n| matches!(n, Notice::Started { .. })), Some(11 * SECOND));
    assert_eq!(h.first(|n| matches!(n, Notice::Listening { .. })), Some(31 * SECOND));
    assert_eq!(h.first(|n| matches!(n, Notice::ReadyChanged { ready: true, .. })), Some(31 * SECOND));
    assert_eq!(h.cluster.rs_counts(rs), RsCounts { replicas: 1, ready: 1, available: 1, pods: 1 });
}

#[test]
fn initial_delay_and_success_threshold_delay_readiness() {
    // Started at 11s, listening at 31s; initialDelay 45s: probes at 11..51 skipped until
    // int(elapsed) >= 45, i.e. the tick at 61s (elapsed 50s) is the first counted; with
    // successThreshold 2 the pod is Ready at the second success, 71s.
    let probe =
        Probe { initial_delay_seconds: 45, period_seconds: 10, success_threshold: 2, ..Probe::default() };
    let mut h = Harness::new(1, vec![template(Some(probe), ContainerBehaviour::default())]);
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 1);
    h.run_until(10 * MINUTE);
    assert_eq!(h.first(|n| matches!(n, Notice::ReadyChanged { ready: true, .. })), Some(71 * SECOND));
}

#[test]
fn no_probe_means_ready_at_container_start() {
    let mut h = Harness::new(1, vec![template(None, ContainerBehaviour::default())]);
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 1);
    h.run_until(MINUTE);
    assert_eq!(h.first(|n| matches!(n, Notice::ReadyChanged { ready: true, .. })), Some(11 * SECOND));
    assert_eq!(h.first(|n| matches!(n, Notice::Listening { .. })), Some(31 * SECOND));
}

#[test]
fn crash_at_start_loops_with_kubelet_backoff() {
    let crash = ContainerBehaviour {
        crash_at_start: Some(pod::Onset { after: 0, release_at: None }),
        crash_after: None,
    };
    let mut h = Harness::new(1, vec![template(Some(Probe::default()), crash)]);
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 1);
    h.run_until(30 * MINUTE);
    let delays: Vec<SimTime> = h
        .log
        .iter()
        .filter_map(|(_, n)| if let Notice::BackOff { delay, .. } = n { Some(*delay / SECOND) } else { None })
        .collect();
    assert_eq!(&delays[..8], &[0, 10, 20, 40, 80, 160, 300, 300]);
    assert!(h.first(|n| matches!(n, Notice::ReadyChanged { ready: true, .. })).is_none());
    assert_eq!(h.cluster.rs_counts(rs).ready, 0);
}

#[test]
fn a_pod_that_fits_nowhere_waits_for_room() {
    // One node with 4 CPUs; each pod asks for 1 CPU: the fifth waits until one goes.
    let mut h = Harness::new(1, vec![template(None, ContainerBehaviour::default())]);
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 5);
    assert_eq!(h.log.iter().filter(|(_, n)| matches!(n, Notice::FailedScheduling { .. })).count(), 1);
    h.run_until(MINUTE);
    assert_eq!(h.cluster.rs_counts(rs).ready, 4);
    h.scale(rs, 4); // deletes the Pending pod first: unscheduled before scheduled
    let gone = h
        .log
        .iter()
        .filter_map(|(_, n)| if let Notice::Gone { pod } = n { Some(*pod) } else { None })
        .collect::<Vec<_>>();
    assert_eq!(gone, vec![4]);
    assert_eq!(h.cluster.bound_pods, 4);
    // Make room from another ReplicaSet-less angle: scale down to 3, the waiting list is empty.
    h.scale(rs, 3);
    h.run_until(2 * MINUTE);
    assert_eq!(h.cluster.bound_pods, 3);
}

#[test]
fn pending_pod_binds_when_room_frees() {
    let mut h = Harness::new(
        1,
        vec![template(None, ContainerBehaviour::default()), template(None, ContainerBehaviour::default())],
    );
    let old = h.cluster.create_replica_set(0, 1);
    let new = h.cluster.create_replica_set(1, 2);
    h.scale(old, 4);
    h.run_until(MINUTE);
    h.scale(new, 1); // no room
    assert_eq!(h.cluster.rs_counts(new).ready, 0);
    h.scale(old, 3); // SIGTERM; exits after 2 s of shutdown
    h.run_until(MINUTE + 2 * SECOND);
    assert_eq!(h.first(|n| matches!(n, Notice::Gone { .. })), Some(MINUTE + 2 * SECOND));
    h.run_until(3 * MINUTE);
    assert_eq!(h.cluster.rs_counts(new).ready, 1);
    // Node image cache: template 1 pulled cold once.
    assert!(h.log.iter().any(|(_, n)| matches!(n, Notice::Pulled { cold: true, pod: 4 })));
}

#[test]
fn deletion_prefers_unready_then_least_recently_ready_then_newest() {
    let mut a = Pod::new(0, 0, 0, 0, 0);
    let mut b = Pod::new(1, 0, 0, 1, 0);
    for p in [&mut a, &mut b] {
        p.node = Some(0);
        p.first_started_at = Some(0);
    }
    a.ready = true;
    a.ready_since = 5;
    b.ready = false;
    assert_eq!(pod::deletion_order(&b, &a, 0), std::cmp::Ordering::Less);
    b.ready = true;
    b.ready_since = 9; // ready for less time: goes first
    assert_eq!(pod::deletion_order(&b, &a, 0), std::cmp::Ordering::Less);
    b.ready_since = 5;
    a.restarts = 2; // more restarts goes first
    assert_eq!(pod::deletion_order(&a, &b, 0), std::cmp::Ordering::Less);
    a.restarts = 0; // all equal: newer (b) first
    assert_eq!(pod::deletion_order(&b, &a, 0), std::cmp::Ordering::Less);
    let unassigned = Pod::new(2, 0, 0, 0, 0);
    assert_eq!(pod::deletion_order(&unassigned, &a, 0), std::cmp::Ordering::Less);
}

#[test]
fn grace_period_cuts_a_slow_shutdown() {
    let mut h = Harness::new(
        1,
        vec![TemplateSpec {
            termination_grace_period_seconds: 1,
            ..template(None, ContainerBehaviour::default())
        }],
    );
    let rs = h.cluster.create_replica_set(0, 1);
    h.scale(rs, 1);
    h.run_until(MINUTE);
    h.scale(rs, 0);
    h.run_until(2 * MINUTE);
    assert_eq!(h.first(|n| matches!(n, Notice::Killed { .. })), Some(MINUTE + SECOND));
    assert_eq!(h.cluster.bound_pods, 0);
}
