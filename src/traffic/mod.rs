//! Traffic: Poisson arrivals with a rate pattern, users, a weighted route over destinations
//! (Services or mesh subsets, [`routing`]), each destination spreading its requests over its
//! Ready endpoints, per-pod capacity, and each version's errors and latency.
//!
//! Two fidelities with the same meaning. `Request` simulates every request: the route picks
//! its destination (Envoy's weighted pick, [`mesh::WeightedRoute`]), then one of that
//! destination's endpoints uniformly. `Aggregated` cuts time into pieces that never straddle
//! a state change or a second boundary, and draws each piece's counts exactly: the arrivals
//! are Poisson, split twice by the splitting theorem (an independent Poisson count per
//! destination, then per endpoint of it), and each pod's failures are binomial per request
//! class. Both count every request exactly once as succeeded, failed or dropped.
//!
//! Without a mesh there is one destination, 0, which the default route sends everything to
//! without a random draw; `set_endpoint(pod, serving)` is that destination's endpoint list.
//!
//! The traffic knows pods only by id and version; the world tells it which pods are
//! endpoints and which accept connections.

pub mod mesh;
pub mod queue;
pub mod rate;
pub mod routing;
pub mod spec;
pub mod version;

pub use rate::Rate;
pub use routing::DestinationId;
pub use spec::*;
pub use version::{LatencyModel, RequestClass, VersionModel};

use crate::engine::{SECOND, SimRng, SimTime, to_secs_f64};
use mesh::WeightedRoute;
use routing::Routing;

/// The window of a pod's capacity: at most `capacityRps` requests per aligned second.
pub const CAPACITY_WINDOW: SimTime = SECOND;
/// In-flight lists are pruned of finished requests when they reach this length.
const INFLIGHT_PRUNE_AT: usize = 32;

/// Running totals of one replication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Dropped because their destination had no Ready endpoint (part of `dropped`).
    pub no_endpoint: u64,
    /// Dropped because the pod was over capacity (part of `dropped`).
    pub over_capacity: u64,
    /// Dropped because the pod did not accept connections (part of `dropped`).
    pub refused: u64,
    /// Failed by timing out (part of `failed`).
    pub timed_out: u64,
    /// Failed because the pod died with them in flight (part of `failed`).
    pub killed_in_flight: u64,
    /// Requests routed to a pod of the new version.
    pub new_version_requests: u64,
    /// Failed or dropped at a pod of the new version.
    pub bad_requests: u64,
    /// Users with at least one bad request.
    pub users_affected: u64,
}

/// Requests and failures (failed or dropped) in some interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub errors: u64,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    done: SimTime,
    user: u32,
    destination: DestinationId,
}

struct PodTraffic {
    version: u32,
    first_start: SimTime,
    accepting: bool,
    /// How many destinations of the current route have this pod as an endpoint.
    routed_memberships: u32,
    window: u64,
    window_count: u64,
    /// Requests this pod served successfully (an upper bound on what a kill can fail).
    succeeded: u64,
    /// Requests that reached the pod by outcome, as its metrics count them: served, failed,
    /// shed over capacity, timed out (`telemetry::scrape::STATUS_CODES`).
    status: [u64; 4],
    /// Request fidelity: successful requests that may still be in flight.
    inflight: Vec<InFlight>,
    /// Prune `inflight` of finished requests when it reaches this length.
    prune_at: usize,
    /// Aggregated fidelity: since when the pod receives requests (an endpoint that
    /// accepts), and until when, if it stopped; with its expected arrival rate meanwhile,
    /// summed over its destinations, and that rate per destination.
    receiving_since: Option<SimTime>,
    receiving_until: Option<SimTime>,
    arrival_rate: f64,
    destination_rates: Vec<(DestinationId, f64)>,
}

impl PodTraffic {
    /// An endpoint of a destination the route can pick, accepting connections.
    fn receiving(&self) -> bool {
        self.routed_memberships > 0 && self.accepting
    }

    /// Adds `n` arrivals at time `t` to the pod's capacity window (one aligned second) and
    /// returns how many the window held before them.
    fn count_in_window(&mut self, t: SimTime, n: u64) -> u64 {
        let window = t / CAPACITY_WINDOW;
        if self.window != window {
            self.window = window;
            self.window_count = 0;
        }
        let before = self.window_count;
        self.window_count += n;
        before
    }
}

/// A version and a queue (its wait probability and drain rate, as bits).
type QueueKey = (u32, u64, u64);

pub struct TrafficSim {
    fidelity: Fidelity,
    rate: Rate,
    users: u64,
    timeout: SimTime,
    capacity_per_window: u64,
    capacity_rps: f64,
    load_latency: LoadLatency,
    /// The last queueing timeout probability computed: (version, queue), probability.
    queue_cache: std::cell::Cell<Option<(QueueKey, f64)>>,
    versions: Vec<VersionModel>,
    /// P(latency > timeout) of each version's base latency (faults aside).
    base_timeout_probability: Vec<f64>,
    new_version: Option<u32>,
    pods: Vec<PodTraffic>,
    routing: Routing,
    rng: SimRng,
    now: SimTime,
    next_arrival: SimTime,
    pub totals: Totals,
    /// Per version, then one for requests that found no endpoint, since the world last took
    /// them (`take_version_tallies`).
    per_version: Vec<Tally>,
    /// Per second of the replication.
    per_second: Vec<Tally>,
    users_hit: Vec<u64>,
}

impl TrafficSim {
    /// `versions` are indexed by template id; `duration` bounds the per-second series.
    pub fn new(
        fidelity: Fidelity,
        traffic: &Traffic,
        capacity_rps: f64,
        versions: Vec<VersionModel>,
        duration: SimTime,
        rng: SimRng,
    ) -> Self {
        let seconds = (duration / SECOND + 1) as usize;
        let users = traffic.users.max(1);
        let n_versions = versions.len();
        let mut sim = Self {
            fidelity,
            rate: Rate::new(traffic),
            users,
            timeout: traffic.timeout,
            capacity_per_window: capacity_rps.max(0.0).floor() as u64,
            capacity_rps: capacity_rps.max(0.0),
            load_latency: LoadLatency::Fixed,
            queue_cache: std::cell::Cell::new(None),
            base_timeout_probability: versions
                .iter()
                .map(|v| v.latency.exceed_probability(traffic.timeout))
                .collect(),
            versions,
            new_version: None,
            pods: Vec::new(),
            routing: Routing::new(),
            rng,
            now: 0,
            next_arrival: 0,
            totals: Totals::default(),
            // One slot per version, and a last one for requests that found no endpoint.
            per_version: vec![Tally::default(); n_versions + 1],
            per_second: vec![Tally::default(); seconds],
            users_hit: vec![0; users.div_ceil(64) as usize],
        };
        if fidelity == Fidelity::Request {
            sim.next_arrival = sim.draw_arrival_after(0);
        }
        sim
    }

    /// Selects how latency depends on load (default [`LoadLatency::Fixed`]).
    pub fn set_load_latency(&mut self, model: LoadLatency) {
        self.load_latency = model;
    }

    /// The queue `pod` meets when the route carries `total` requests per second: its
    /// expected share, Σ over the route's destinations that have it as an endpoint of the
    /// destination's share over its endpoint count. The same in both fidelities. `None`
    /// under the fixed model.
    fn queue_of(&self, pod: u32, total: f64) -> Option<queue::Queue> {
        let LoadLatency::Queueing { concurrency } = self.load_latency else {
            return None;
        };
        let mut lambda = 0.0;
        for &(d, w) in &self.routing.shares {
            let dest = &self.routing.destinations[d.index()];
            if dest.has(pod) && !dest.endpoints.is_empty() {
                lambda += total * w / dest.endpoints.len() as f64;
            }
        }
        Some(queue::Queue::new(concurrency, self.capacity_rps, lambda))
    }

    /// Which version counts as new for `bad_requests` and `users_affected`.
    pub fn set_new_version(&mut self, version: u32) {
        self.new_version = Some(version);
    }

    pub fn rate(&self) -> &Rate {
        &self.rate
    }

    /// Registers a pod (ids must arrive in order 0, 1, 2, …).
    pub fn add_pod(&mut self, pod: u32, version: u32) {
        assert_eq!(pod as usize, self.pods.len(), "pods are registered in id order");
        self.pods.push(PodTraffic {
            version,
            first_start: 0,
            accepting: false,
            routed_memberships: 0,
            window: u64::MAX,
            window_count: 0,
            succeeded: 0,
            status: [0; 4],
            inflight: Vec::new(),
            prune_at: INFLIGHT_PRUNE_AT,
            receiving_since: None,
            receiving_until: None,
            arrival_rate: 0.0,
            destination_rates: Vec::new(),
        });
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn set_first_start(&mut self, pod: u32, at: SimTime) {
        self.pods[pod as usize].first_start = at;
    }

    pub fn set_accepting(&mut self, pod: u32, accepting: bool) {
        let was = self.pods[pod as usize].receiving();
        self.pods[pod as usize].accepting = accepting;
        self.note_receiving(pod, was);
    }

    /// Records when a pod starts or stops receiving requests.
    fn note_receiving(&mut self, pod: u32, was: bool) {
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        match (was, p.receiving()) {
            (false, true) => {
                p.receiving_since = Some(now);
                p.receiving_until = None;
            }
            (true, false) => p.receiving_until = Some(now),
            _ => {}
        }
    }

    /// Adds the pod to, or removes it from, the endpoints of destination 0 (the Service of a
    /// scenario without a mesh).
    pub fn set_endpoint(&mut self, pod: u32, serving: bool) {
        self.set_destination_endpoint(pod, DestinationId::DEFAULT, serving);
    }

    /// Adds the pod to, or removes it from, the endpoints of `destination`. A pod may be an
    /// endpoint of several destinations (a stable and a canary Service that both select it).
    /// Like every state change, it applies from the traffic's current time (`advance_to`).
    pub fn set_destination_endpoint(&mut self, pod: u32, destination: DestinationId, serving: bool) {
        let dest = &mut self.routing.destinations[destination.index()];
        if !dest.set(pod, serving) || !dest.routed {
            return;
        }
        let was = self.pods[pod as usize].receiving();
        let p = &mut self.pods[pod as usize];
        if serving {
            p.routed_memberships += 1;
        } else {
            p.routed_memberships -= 1;
        }
        self.note_receiving(pod, was);
    }

    /// A new destination with no endpoints; the route sends it nothing until `set_route`
    /// names it.
    pub fn add_destination(&mut self) -> DestinationId {
        self.routing.add()
    }

    pub fn destination_count(&self) -> usize {
        self.routing.destinations.len()
    }

    /// Routes requests by `route` from the traffic's current time on. The default route
    /// sends everything to destination 0 and draws nothing.
    pub fn set_route(&mut self, route: &WeightedRoute<DestinationId>) {
        self.routing.set_route(route);
        for pod in 0..self.pods.len() as u32 {
            let was = self.pods[pod as usize].receiving();
            self.pods[pod as usize].routed_memberships = self.routing.routed_memberships(pod);
            self.note_receiving(pod, was);
        }
    }

    pub fn route(&self) -> &WeightedRoute<DestinationId> {
        &self.routing.route
    }

    /// The endpoints of destination 0.
    pub fn endpoints(&self) -> &[u32] {
        self.destination_endpoints(DestinationId::DEFAULT)
    }

    pub fn destination_endpoints(&self, destination: DestinationId) -> &[u32] {
        &self.routing.destinations[destination.index()].endpoints
    }

    /// Pods of a version that are endpoints of a destination the route can pick right now,
    /// each counted once however many such destinations it serves.
    pub fn endpoints_of(&self, version: u32) -> usize {
        let r = &self.routing;
        let mut count = 0;
        for (i, &(d, _)) in r.shares.iter().enumerate() {
            count += r.destinations[d.index()]
                .endpoints
                .iter()
                .filter(|&&p| self.pods[p as usize].version == version && !r.in_earlier_routed(i, p))
                .count();
        }
        count
    }

    pub fn per_second(&self) -> &[Tally] {
        &self.per_second
    }

    /// The per-version tallies since the last call, reset to zero.
    pub fn take_version_tallies(&mut self, out: &mut Vec<Tally>) {
        out.clear();
        out.extend_from_slice(&self.per_version);
        self.per_version.iter_mut().for_each(|t| *t = Tally::default());
    }

    /// Per destination (indexed by `DestinationId`), the requests routed to it and those of
    /// them that failed or were dropped, since the last call, reset to zero. They add up to
    /// the per-version tallies (with the no-endpoint slot) of the same interval.
    pub fn take_destination_tallies(&mut self, out: &mut Vec<Tally>) {
        out.clear();
        out.extend(self.routing.destinations.iter_mut().map(|d| std::mem::take(&mut d.tally)));
    }

    /// Requests that reached `pod` by outcome (served, failed, shed, timed out).
    pub fn pod_status_counts(&self, pod: u32) -> [u64; 4] {
        self.pods[pod as usize].status
    }

    /// The latency distribution of `pod`'s version at `t`, and whether it changes over time
    /// (a latency fault).
    pub fn pod_latency(&self, pod: u32, t: SimTime) -> (LatencyModel, bool) {
        let p = &self.pods[pod as usize];
        let model = &self.versions[p.version as usize];
        (model.latency_at(t, p.first_start), model.has_latency_fault())
    }

    /// The request timeout.
    pub fn timeout(&self) -> SimTime {
        self.timeout
    }

    /// The pod died (crash or SIGKILL): its requests in flight fail.
    pub fn kill_in_flight(&mut self, pod: u32, now: SimTime) {
        self.advance_to(now);
        let version = self.pods[pod as usize].version;
        match self.fidelity {
            Fidelity::Request => {
                let mut list = std::mem::take(&mut self.pods[pod as usize].inflight);
                for r in list.iter().filter(|r| r.done > now) {
                    self.pods[pod as usize].succeeded -= 1;
                    self.convert_success_to_failure(version, r.destination, r.user as u64);
                }
                list.clear();
                self.pods[pod as usize].inflight = list;
            }
            Fidelity::Aggregated => {
                // Poisson arrivals at rate λ with independent latencies L leave a Poisson
                // number of requests in flight at time t (M/G/∞). Only successes count (a
                // failure or a timeout was already counted as such), so a request that arrived
                // u ago is a success still in flight with probability P(u < L ≤ T) for the
                // timeout T. If the pod received requests from s to e (e = t while it still
                // does), the mean is λ ∫ P(u < L ≤ T) du over u in [t − e, t − s].
                let p = &self.pods[pod as usize];
                let Some(since) = p.receiving_since else { return };
                let until = p.receiving_until.unwrap_or(now).min(now);
                let latency = self.versions[version as usize].latency_at(now, p.first_start);
                let lambda = self.successful_arrival_rate(pod, now);
                let (young, old) = ((now - until).min(self.timeout), (now - since).min(self.timeout));
                let exposure = latency.expected_min(old)
                    - latency.expected_min(young)
                    - latency.exceed_probability(self.timeout) * to_secs_f64(old - young);
                let k = self.rng.poisson(lambda * exposure.max(0.0)).min(p.succeeded);
                self.pods[pod as usize].succeeded -= k;
                if k == 0 {
                    return;
                }
                // Each killed request came from one of the pod's destinations, in proportion
                // to their arrival rates (a multinomial; no draw when it had one).
                let rates = std::mem::take(&mut self.pods[pod as usize].destination_rates);
                let mut split = [(DestinationId::DEFAULT, k)];
                let mut several = Vec::new();
                let counts: &[(DestinationId, u64)] = match rates.len() {
                    0 => &split,
                    1 => {
                        split[0].0 = rates[0].0;
                        &split
                    }
                    _ => {
                        let (mut left, mut weight) = (k, rates.iter().map(|&(_, r)| r).sum::<f64>());
                        for (i, &(d, r)) in rates.iter().enumerate() {
                            let n = if i + 1 == rates.len() {
                                left
                            } else {
                                self.rng.binomial(left, if weight > 0.0 { r / weight } else { 0.0 })
                            };
                            several.push((d, n));
                            (left, weight) = (left - n, weight - r);
                        }
                        &several
                    }
                };
                for &(destination, n) in counts {
                    for _ in 0..n {
                        let user = self.rng.below(self.users);
                        self.convert_success_to_failure(version, destination, user);
                    }
                }
                self.pods[pod as usize].destination_rates = rates;
            }
        }
    }

    /// The rate (per second) at which requests reaching `pod` are accepted and do not fail
    /// at once: arrivals are Poisson per aligned second, the capacity keeps the first `cap`
    /// of a second, an `overload` fault hits those past its threshold, and a `userErrors`
    /// fault hits its share of users.
    fn successful_arrival_rate(&self, pod: u32, now: SimTime) -> f64 {
        let p = &self.pods[pod as usize];
        let model = &self.versions[version_of(p)];
        let lambda = p.arrival_rate;
        let cap = self.capacity_per_window;
        let threshold = model.overload_above_rps.map_or(cap, |a| (a.max(0.0).floor() as u64).min(cap));
        let under = expected_min_poisson(lambda, threshold);
        let over = expected_min_poisson(lambda, cap) - under;
        let subset = model.user_subset.map_or(0.0, |f| subset_size(f, self.users) as f64 / self.users as f64);
        let ok = |in_user_subset, over_load| {
            1.0 - model.error_probability(now, p.first_start, RequestClass { in_user_subset, over_load })
        };
        let mut rate = 0.0;
        for (share, over_load) in [(under, false), (over, true)] {
            rate += share * (subset * ok(true, over_load) + (1.0 - subset) * ok(false, over_load));
        }
        rate
    }

    fn convert_success_to_failure(&mut self, version: u32, destination: DestinationId, user: u64) {
        assert!(self.totals.succeeded > 0);
        self.totals.succeeded -= 1;
        self.totals.failed += 1;
        self.totals.killed_in_flight += 1;
        self.per_version[version as usize].errors += 1;
        self.routing.destinations[destination.index()].tally.errors += 1;
        let second = (self.now / SECOND) as usize;
        if let Some(s) = self.per_second.get_mut(second) {
            s.errors += 1;
        }
        self.mark_bad(version, user);
    }

    fn mark_bad(&mut self, version: u32, user: u64) {
        if self.new_version != Some(version) {
            return;
        }
        self.totals.bad_requests += 1;
        let (word, bit) = ((user / 64) as usize, 1u64 << (user % 64));
        if self.users_hit[word] & bit == 0 {
            self.users_hit[word] |= bit;
            self.totals.users_affected += 1;
        }
    }

    /// Simulates the requests that arrive in [now, t).
    pub fn advance_to(&mut self, t: SimTime) {
        if t <= self.now {
            return;
        }
        match self.fidelity {
            Fidelity::Request => self.advance_requests(t),
            Fidelity::Aggregated => self.advance_aggregated(t),
        }
        self.now = t;
    }

    // ---- request fidelity -------------------------------------------------------------

    /// The first arrival strictly after `t` (thinning against the rate's bound between its
    /// change points; exact for any pattern).
    fn draw_arrival_after(&mut self, mut t: SimTime) -> SimTime {
        loop {
            let change = self.rate.next_change_after(t);
            let bound = self.rate.max_until_change(t);
            if bound <= 0.0 {
                if change == SimTime::MAX {
                    return SimTime::MAX;
                }
                t = change;
                continue;
            }
            let gap = crate::engine::from_secs_f64(self.rng.exponential(1.0 / bound)).max(1);
            let next = t.saturating_add(gap);
            if next >= change {
                // Memoryless: restart the draw at the change point.
                t = change;
                continue;
            }
            t = next;
            if self.rate.piecewise_constant() || self.rng.chance(self.rate.at(t) / bound) {
                return t;
            }
        }
    }

    fn advance_requests(&mut self, end: SimTime) {
        while self.next_arrival < end {
            let t = self.next_arrival;
            self.now = t;
            self.one_request(t);
            self.next_arrival = self.draw_arrival_after(t);
        }
    }

    fn one_request(&mut self, t: SimTime) {
        let user = self.rng.below(self.users);
        self.totals.requests += 1;
        let second = (t / SECOND) as usize;
        if let Some(s) = self.per_second.get_mut(second) {
            s.requests += 1;
        }
        let destination = self.routing.pick(&mut self.rng);
        let Some(pod) = self.pick_endpoint(destination) else {
            self.totals.dropped += 1;
            self.totals.no_endpoint += 1;
            let none = self.per_version.len() - 1;
            self.per_version[none].requests += 1;
            self.per_version[none].errors += 1;
            self.routing.destinations[destination.index()].tally.errors += 1;
            self.count_error_at(second);
            return;
        };
        let p = &mut self.pods[pod as usize];
        let version = p.version;
        self.per_version[version as usize].requests += 1;
        if self.new_version == Some(version) {
            self.totals.new_version_requests += 1;
        }
        if !p.accepting {
            self.totals.dropped += 1;
            self.totals.refused += 1;
            return self.request_failed(version, destination, user, second);
        }
        let shed = self.load_latency == LoadLatency::Fixed;
        if p.count_in_window(t, 1) >= self.capacity_per_window && shed {
            p.status[2] += 1;
            self.totals.dropped += 1;
            self.totals.over_capacity += 1;
            return self.request_failed(version, destination, user, second);
        }
        let model = &self.versions[version as usize];
        let class = RequestClass {
            in_user_subset: model.user_subset.is_some_and(|f| user < subset_size(f, self.users)),
            over_load: model.overload_above_rps.is_some_and(|a| p.window_count as f64 > a.floor()),
        };
        let p_fail = model.error_probability(t, p.first_start, class);
        if self.rng.chance(p_fail) {
            self.pods[pod as usize].status[1] += 1;
            self.totals.failed += 1;
            return self.request_failed(version, destination, user, second);
        }
        let latency = model.latency_at(t, p.first_start);
        let mut seconds = self.rng.lognormal(latency.mu, latency.sigma);
        if let Some(q) = self.queue_of(pod, self.rate.at(t)) {
            if q.saturated() {
                seconds = f64::INFINITY;
            } else if self.rng.chance(q.wait_probability) {
                seconds += self.rng.exponential(1.0 / q.drain_rate);
            }
        }
        // An infinite wait (a saturated queue) becomes the largest time: a timeout.
        let duration = crate::engine::from_secs_f64(seconds);
        if duration > self.timeout {
            self.pods[pod as usize].status[3] += 1;
            self.totals.failed += 1;
            self.totals.timed_out += 1;
            return self.request_failed(version, destination, user, second);
        }
        self.totals.succeeded += 1;
        let p = &mut self.pods[pod as usize];
        p.succeeded += 1;
        p.status[0] += 1;
        if p.inflight.len() >= p.prune_at {
            p.inflight.retain(|r| r.done > t);
            // Amortised: prune again only when the live list has doubled.
            p.prune_at = (2 * p.inflight.len()).max(INFLIGHT_PRUNE_AT);
        }
        p.inflight.push(InFlight { done: t + duration, user: user as u32, destination });
    }

    /// Counts a request routed to `destination` and picks one of its endpoints uniformly
    /// (no draw when it has one).
    #[inline]
    fn pick_endpoint(&mut self, destination: DestinationId) -> Option<u32> {
        let dest = &mut self.routing.destinations[destination.index()];
        dest.tally.requests += 1;
        let endpoints = &dest.endpoints;
        match endpoints.len() {
            0 => None,
            1 => Some(endpoints[0]),
            n => Some(endpoints[self.rng.below(n as u64) as usize]),
        }
    }

    fn count_error_at(&mut self, second: usize) {
        if let Some(s) = self.per_second.get_mut(second) {
            s.errors += 1;
        }
    }

    fn request_failed(&mut self, version: u32, destination: DestinationId, user: u64, second: usize) {
        self.per_version[version as usize].errors += 1;
        self.routing.destinations[destination.index()].tally.errors += 1;
        self.count_error_at(second);
        self.mark_bad(version, user);
    }

    // ---- aggregated fidelity ----------------------------------------------------------

    fn advance_aggregated(&mut self, end: SimTime) {
        let mut a = self.now;
        while a < end {
            let b = ((a / SECOND + 1) * SECOND).min(end);
            self.piece(a, b);
            a = b;
        }
    }

    /// Arrivals in [a, b), a piece inside one second with no state change. Poisson arrivals
    /// that each go to destination d with probability w_d / Σw are independent Poisson
    /// streams of those shares (the splitting theorem), and a destination's stream spread
    /// uniformly over its m endpoints is m independent Poisson streams of a 1/m share each;
    /// so each endpoint's count of each destination is drawn on its own, exactly. With the
    /// default route (one destination, share 1) these are the same draws as a single split.
    fn piece(&mut self, a: SimTime, b: SimTime) {
        let expected = self.rate.integral(a, b);
        if expected <= 0.0 {
            return;
        }
        let second = (a / SECOND) as usize;
        let span_secs = to_secs_f64(b - a);
        // The pods' arrival rates are summed afresh over the destinations that route to
        // them; a pod that no longer receives keeps the rate it had (for `kill_in_flight`).
        // With one destination each pod is met once, and reset there.
        let single = self.routing.single.is_some();
        if !single {
            for &(d, _) in &self.routing.shares {
                for &pod in &self.routing.destinations[d.index()].endpoints {
                    let p = &mut self.pods[pod as usize];
                    p.arrival_rate = 0.0;
                    p.destination_rates.clear();
                }
            }
        }
        for i in 0..self.routing.shares.len() {
            let (destination, weight) = self.routing.shares[i];
            let expected = expected * weight;
            let m = self.routing.destinations[destination.index()].endpoints.len();
            if m == 0 {
                let n = self.rng.poisson(expected);
                self.totals.requests += n;
                self.totals.dropped += n;
                self.totals.no_endpoint += n;
                let none = self.per_version.len() - 1;
                self.per_version[none].requests += n;
                self.per_version[none].errors += n;
                let tally = &mut self.routing.destinations[destination.index()].tally;
                tally.requests += n;
                tally.errors += n;
                if let Some(s) = self.per_second.get_mut(second) {
                    s.requests += n;
                    s.errors += n;
                }
                continue;
            }
            let share = expected / m as f64;
            let rate = share / span_secs;
            for j in 0..m {
                let pod = self.routing.destinations[destination.index()].endpoints[j];
                let p = &mut self.pods[pod as usize];
                if single {
                    p.arrival_rate = rate;
                    p.destination_rates.clear();
                } else {
                    p.arrival_rate += rate;
                }
                p.destination_rates.push((destination, rate));
                let n = self.rng.poisson(share);
                if n > 0 {
                    self.totals.requests += n;
                    self.routing.destinations[destination.index()].tally.requests += n;
                    if let Some(s) = self.per_second.get_mut(second) {
                        s.requests += n;
                    }
                    self.serve_batch(pod, destination, n, (a, b), second);
                }
            }
        }
    }

    /// `n` requests reach `pod` during the piece `span`.
    fn serve_batch(
        &mut self,
        pod: u32,
        destination: DestinationId,
        n: u64,
        span: (SimTime, SimTime),
        second: usize,
    ) {
        let p = &mut self.pods[pod as usize];
        let version = p.version;
        self.per_version[version as usize].requests += n;
        if self.new_version == Some(version) {
            self.totals.new_version_requests += n;
        }
        if !p.accepting {
            self.totals.dropped += n;
            self.totals.refused += n;
            return self.batch_failed(version, destination, n, (0, self.users), second);
        }
        let before = p.count_in_window(span.0, n);
        let accepted = match self.load_latency {
            LoadLatency::Fixed => n.min(self.capacity_per_window.saturating_sub(before)),
            LoadLatency::Queueing { .. } => n,
        };
        let over = n - accepted;
        if over > 0 {
            p.status[2] += over;
            self.totals.dropped += over;
            self.totals.over_capacity += over;
            self.batch_failed(version, destination, over, (0, self.users), second);
        }
        if accepted == 0 {
            return;
        }
        // Split the accepted requests by class: arrival index in the second above the
        // overload threshold, and user in the faulty subset. Class sizes are exact.
        let model = &self.versions[version as usize];
        let (n_under, n_over) = match model.overload_above_rps {
            Some(above) => {
                let threshold = above.max(0.0).floor() as u64;
                let over_load = (before + accepted).saturating_sub(threshold.max(before)).min(accepted);
                (accepted - over_load, over_load)
            }
            None => (accepted, 0),
        };
        let subset = model.user_subset.map(|f| subset_size(f, self.users));
        for (count, over_load) in [(n_under, false), (n_over, true)] {
            if count == 0 {
                continue;
            }
            let (inside, k) = match subset {
                Some(k) => (self.rng.binomial(count, k as f64 / self.users as f64), k),
                None => (0, 0),
            };
            let class = |in_user_subset| RequestClass { in_user_subset, over_load };
            let at = (pod, destination, span);
            self.serve_class(at, inside, class(true), (0, k), second);
            self.serve_class(at, count - inside, class(false), (k, self.users), second);
        }
    }

    /// `n` accepted requests of one class at `pod` during `span`: each fails, times out or
    /// succeeds. A request's time is uniform in the piece, so its outcome probabilities are
    /// the averages over the piece, taken exactly across fault onsets and ramp ends.
    fn serve_class(
        &mut self,
        (pod, destination, span): (u32, DestinationId, (SimTime, SimTime)),
        n: u64,
        class: RequestClass,
        users: (u64, u64),
        second: usize,
    ) {
        if n == 0 || users.0 >= users.1 {
            return;
        }
        let p = &self.pods[pod as usize];
        let (version, first_start) = (p.version, p.first_start);
        let queue = self.queue_of(pod, self.rate.integral(span.0, span.1) / to_secs_f64(span.1 - span.0));
        let (p_fail, p_timeout) = self.outcome_probabilities(version, first_start, span, class, queue);
        let failed = self.rng.binomial(n, p_fail);
        let rest = 1.0 - p_fail;
        let timed_out =
            if rest > 0.0 { self.rng.binomial(n - failed, (p_timeout / rest).min(1.0)) } else { 0 };
        let succeeded = n - failed - timed_out;
        self.totals.failed += failed + timed_out;
        self.totals.timed_out += timed_out;
        self.totals.succeeded += succeeded;
        let status = &mut self.pods[pod as usize].status;
        status[0] += succeeded;
        status[1] += failed;
        status[3] += timed_out;
        self.pods[pod as usize].succeeded += succeeded;
        self.batch_failed(version, destination, failed + timed_out, users, second);
    }

    /// (P(fail), P(not failed and timed out)) for a request at a uniform time in `span`.
    fn outcome_probabilities(
        &self,
        version: u32,
        first_start: SimTime,
        span: (SimTime, SimTime),
        class: RequestClass,
        queue: Option<queue::Queue>,
    ) -> (f64, f64) {
        let model = &self.versions[version as usize];
        let base_timeout = match queue {
            None => self.base_timeout_probability[version as usize],
            Some(q) if !model.has_latency_fault() => {
                let key = (version, q.wait_probability.to_bits(), q.drain_rate.to_bits());
                match self.queue_cache.get() {
                    Some((k, p)) if k == key => p,
                    _ => {
                        let p = q.timeout_probability(&model.latency, self.timeout);
                        self.queue_cache.set(Some((key, p)));
                        p
                    }
                }
            }
            Some(_) => 0.0,
        };
        let at = |t: SimTime| {
            let fail = model.error_probability(t, first_start, class);
            let timeout = match queue {
                Some(q) if model.has_latency_fault() => {
                    q.timeout_probability(&model.latency_at(t, first_start), self.timeout)
                }
                None if model.has_latency_fault() => {
                    model.latency_at(t, first_start).exceed_probability(self.timeout)
                }
                _ => base_timeout,
            };
            (fail, (1.0 - fail) * timeout)
        };
        let (a, b) = span;
        let mut cuts = [0; 16];
        let k = model.breakpoints(first_start, a, b, &mut cuts);
        if k == 0 {
            return at(a + (b - a) / 2);
        }
        // Between breakpoints each probability is smooth; weigh each stretch's midpoint.
        let (mut fail, mut timeout, mut from) = (0.0, 0.0, a);
        for &to in cuts[..k].iter().chain(std::iter::once(&b)) {
            let w = (to - from) as f64 / (b - a) as f64;
            let (f, t) = at(from + (to - from) / 2);
            fail += w * f;
            timeout += w * t;
            from = to;
        }
        (fail, timeout)
    }

    fn batch_failed(
        &mut self,
        version: u32,
        destination: DestinationId,
        k: u64,
        (users_lo, users_hi): (u64, u64),
        second: usize,
    ) {
        if k == 0 {
            return;
        }
        self.per_version[version as usize].errors += k;
        self.routing.destinations[destination.index()].tally.errors += k;
        if let Some(s) = self.per_second.get_mut(second) {
            s.errors += k;
        }
        if self.new_version == Some(version) {
            let range = users_hi - users_lo;
            if k / 64 >= range {
                // With k ≥ 64n draws among n users, each user is missed with probability
                // (1 − 1/n)^k < e^−64 ≈ 1.6·10⁻²⁸: every one is hit. Marking them at once keeps
                // the work bounded by the users, not by the requests (10⁹ rps would otherwise
                // cost one draw per failed request).
                self.totals.bad_requests += k;
                self.mark_all_bad(users_lo, users_hi);
                return;
            }
            for _ in 0..k {
                let user = users_lo + self.rng.below(range);
                self.mark_bad(version, user);
            }
        }
    }

    /// Marks every user in `lo..hi` as affected (a word at a time).
    fn mark_all_bad(&mut self, lo: u64, hi: u64) {
        let mut user = lo;
        while user < hi {
            let (word, bit) = ((user / 64) as usize, user % 64);
            let span = (64 - bit).min(hi - user);
            let mask = if span == 64 { u64::MAX } else { ((1u64 << span) - 1) << bit };
            let new = mask & !self.users_hit[word];
            self.users_hit[word] |= mask;
            self.totals.users_affected += u64::from(new.count_ones());
            user += span;
        }
    }
}

fn version_of(p: &PodTraffic) -> usize {
    p.version as usize
}

/// E[min(N, a)] for N ~ Poisson(λ): Σ_{j<a} P(N > j).
pub fn expected_min_poisson(lambda: f64, a: u64) -> f64 {
    if lambda <= 0.0 || a == 0 {
        return 0.0;
    }
    // Each pmf term from logs: a recursion from e^{−λ} would underflow for λ > 700.
    let ln_lambda = lambda.ln();
    let pmf =
        |j: u64| (-lambda + j as f64 * ln_lambda - statrs::function::gamma::ln_gamma(j as f64 + 1.0)).exp();
    let mut cdf = 0.0;
    let mut sum = 0.0;
    for j in 0..a {
        cdf += pmf(j);
        let tail = (1.0 - cdf).max(0.0);
        if tail < 1e-15 && j as f64 > lambda {
            break;
        }
        sum += tail;
    }
    sum
}

/// Users `0..subset_size` form the subset a `userErrors` fault hits.
pub fn subset_size(fraction: f64, users: u64) -> u64 {
    ((fraction.clamp(0.0, 1.0) * users as f64).round() as u64).min(users)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod poisson_tests {
    use super::expected_min_poisson;

    #[test]
    fn expected_min_of_poisson() {
        // E[min(N, 1)] = P(N ≥ 1) = 1 − e^{−λ}.
        assert!((expected_min_poisson(2.0, 1) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        // A cap far above the mean leaves the mean; far below, the cap.
        assert!((expected_min_poisson(10.0, 1000) - 10.0).abs() < 1e-9);
        assert!((expected_min_poisson(1000.0, 2000) - 1000.0).abs() < 1e-6);
        assert!((expected_min_poisson(1000.0, 100) - 100.0).abs() < 1e-9);
        // E[min(N, λ)] for λ = 1000 is about λ − σ/√(2π) = 1000 − 12.6.
        let at_mean = expected_min_poisson(1000.0, 1000);
        assert!(
            (at_mean - (1000.0 - 1000f64.sqrt() / (2.0 * std::f64::consts::PI).sqrt())).abs() < 0.5,
            "{at_mean}"
        );
        assert_eq!(expected_min_poisson(0.0, 10), 0.0);
    }
}
