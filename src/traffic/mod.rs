//! Traffic: Poisson arrivals with a rate pattern, users, a Service spreading requests over
//! its Ready endpoints, per-pod capacity, and each version's errors and latency.
//!
//! Two fidelities with the same meaning. `Request` simulates every request. `Aggregated`
//! cuts time into pieces that never straddle a state change or a second boundary, and draws
//! each piece's counts exactly: the number of arrivals is Poisson, their split over the
//! endpoints multinomial, and each pod's failures binomial per request class. Both count
//! every request exactly once as succeeded, failed or dropped.
//!
//! The traffic knows pods only by id and version; the world tells it which pods are
//! endpoints and which accept connections.

pub mod rate;
pub mod spec;
pub mod version;

pub use rate::Rate;
pub use spec::*;
pub use version::{LatencyModel, RequestClass, VersionModel};

use crate::engine::{SECOND, SimRng, SimTime, to_secs_f64};

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
    /// Dropped because the Service had no Ready endpoint (part of `dropped`).
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
}

struct PodTraffic {
    version: u32,
    first_start: SimTime,
    accepting: bool,
    in_endpoints: bool,
    window: u64,
    window_count: u64,
    inflight: Vec<InFlight>,
}

pub struct TrafficSim {
    fidelity: Fidelity,
    rate: Rate,
    users: u64,
    timeout: SimTime,
    capacity_per_window: u64,
    versions: Vec<VersionModel>,
    /// P(latency > timeout) of each version's base latency (faults aside).
    base_timeout_probability: Vec<f64>,
    new_version: Option<u32>,
    pods: Vec<PodTraffic>,
    endpoints: Vec<u32>,
    rng: SimRng,
    now: SimTime,
    next_arrival: SimTime,
    pub totals: Totals,
    /// Per version, since the world last took it (`take_version_tallies`).
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
            base_timeout_probability: versions
                .iter()
                .map(|v| v.latency.exceed_probability(traffic.timeout))
                .collect(),
            versions,
            new_version: None,
            pods: Vec::new(),
            endpoints: Vec::new(),
            rng,
            now: 0,
            next_arrival: 0,
            totals: Totals::default(),
            per_version: vec![Tally::default(); n_versions],
            per_second: vec![Tally::default(); seconds],
            users_hit: vec![0; users.div_ceil(64) as usize],
        };
        if fidelity == Fidelity::Request {
            sim.next_arrival = sim.draw_arrival_after(0);
        }
        sim
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
            in_endpoints: false,
            window: u64::MAX,
            window_count: 0,
            inflight: Vec::new(),
        });
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn set_first_start(&mut self, pod: u32, at: SimTime) {
        self.pods[pod as usize].first_start = at;
    }

    pub fn set_accepting(&mut self, pod: u32, accepting: bool) {
        self.pods[pod as usize].accepting = accepting;
    }

    /// Adds the pod to, or removes it from, the Service's endpoints.
    pub fn set_endpoint(&mut self, pod: u32, serving: bool) {
        let p = &mut self.pods[pod as usize];
        if p.in_endpoints == serving {
            return;
        }
        p.in_endpoints = serving;
        if serving {
            self.endpoints.push(pod);
        } else if let Some(i) = self.endpoints.iter().position(|&e| e == pod) {
            self.endpoints.remove(i);
        }
    }

    pub fn endpoints(&self) -> &[u32] {
        &self.endpoints
    }

    /// Endpoints of a version right now.
    pub fn endpoints_of(&self, version: u32) -> usize {
        self.endpoints.iter().filter(|&&p| self.pods[p as usize].version == version).count()
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

    /// The pod died (crash or SIGKILL): its requests in flight fail.
    pub fn kill_in_flight(&mut self, pod: u32, now: SimTime) {
        self.advance_to(now);
        let version = self.pods[pod as usize].version;
        match self.fidelity {
            Fidelity::Request => {
                let mut list = std::mem::take(&mut self.pods[pod as usize].inflight);
                for r in list.iter().filter(|r| r.done > now) {
                    self.convert_success_to_failure(version, r.user as u64);
                }
                list.clear();
                self.pods[pod as usize].inflight = list;
            }
            Fidelity::Aggregated => {
                // Poisson arrivals with independent service times leave a Poisson number of
                // requests in flight with mean λ·E[latency] (M/G/∞); λ is the pod's share of
                // the arrival rate if it is an endpoint now.
                let p = &self.pods[pod as usize];
                if !p.in_endpoints || !p.accepting {
                    return;
                }
                let model = &self.versions[version as usize];
                let latency = model.latency_at(now, p.first_start);
                let class = RequestClass { in_user_subset: false, over_load: false };
                let ok = 1.0 - model.error_probability(now, p.first_start, class);
                let lambda = self.rate.at(now) / self.endpoints.len().max(1) as f64;
                let k = self.rng.poisson(lambda * latency.mean_secs() * ok).min(self.totals.succeeded);
                for _ in 0..k {
                    let user = self.rng.below(self.users);
                    self.convert_success_to_failure(version, user);
                }
            }
        }
    }

    fn convert_success_to_failure(&mut self, version: u32, user: u64) {
        assert!(self.totals.succeeded > 0);
        self.totals.succeeded -= 1;
        self.totals.failed += 1;
        self.totals.killed_in_flight += 1;
        self.per_version[version as usize].errors += 1;
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
        let Some(pod) = self.pick_endpoint() else {
            self.totals.dropped += 1;
            self.totals.no_endpoint += 1;
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
            return self.request_failed(version, user, second);
        }
        let window = t / CAPACITY_WINDOW;
        if p.window != window {
            p.window = window;
            p.window_count = 0;
        }
        p.window_count += 1;
        if p.window_count > self.capacity_per_window {
            self.totals.dropped += 1;
            self.totals.over_capacity += 1;
            return self.request_failed(version, user, second);
        }
        let model = &self.versions[version as usize];
        let class = RequestClass {
            in_user_subset: model.user_subset.is_some_and(|f| user < subset_size(f, self.users)),
            over_load: model.overload_above_rps.is_some_and(|a| p.window_count as f64 > a),
        };
        let p_fail = model.error_probability(t, p.first_start, class);
        if self.rng.chance(p_fail) {
            self.totals.failed += 1;
            return self.request_failed(version, user, second);
        }
        let latency = model.latency_at(t, p.first_start);
        let seconds = self.rng.lognormal(latency.mu, latency.sigma);
        let duration = crate::engine::from_secs_f64(seconds);
        if duration > self.timeout {
            self.totals.failed += 1;
            self.totals.timed_out += 1;
            return self.request_failed(version, user, second);
        }
        self.totals.succeeded += 1;
        let p = &mut self.pods[pod as usize];
        if p.inflight.len() >= INFLIGHT_PRUNE_AT {
            p.inflight.retain(|r| r.done > t);
        }
        p.inflight.push(InFlight { done: t + duration, user: user as u32 });
    }

    #[inline]
    fn pick_endpoint(&mut self) -> Option<u32> {
        match self.endpoints.len() {
            0 => None,
            1 => Some(self.endpoints[0]),
            n => Some(self.endpoints[self.rng.below(n as u64) as usize]),
        }
    }

    fn count_error_at(&mut self, second: usize) {
        if let Some(s) = self.per_second.get_mut(second) {
            s.errors += 1;
        }
    }

    fn request_failed(&mut self, version: u32, user: u64, second: usize) {
        self.per_version[version as usize].errors += 1;
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
    /// split uniformly over m endpoints are m independent Poisson streams of a 1/m share
    /// each (the splitting theorem), so each endpoint's count is drawn on its own.
    fn piece(&mut self, a: SimTime, b: SimTime) {
        let expected = self.rate.integral(a, b);
        if expected <= 0.0 {
            return;
        }
        let second = (a / SECOND) as usize;
        let m = self.endpoints.len();
        if m == 0 {
            let n = self.rng.poisson(expected);
            self.totals.requests += n;
            self.totals.dropped += n;
            self.totals.no_endpoint += n;
            if let Some(s) = self.per_second.get_mut(second) {
                s.requests += n;
                s.errors += n;
            }
            return;
        }
        let share = expected / m as f64;
        let mid = a + (b - a) / 2;
        for i in 0..m {
            let n = self.rng.poisson(share);
            if n > 0 {
                self.totals.requests += n;
                if let Some(s) = self.per_second.get_mut(second) {
                    s.requests += n;
                }
                let pod = self.endpoints[i];
                self.serve_batch(pod, n, a, mid, second);
            }
        }
    }

    /// `n` requests reach `pod` during the piece starting at `a`.
    fn serve_batch(&mut self, pod: u32, n: u64, a: SimTime, mid: SimTime, second: usize) {
        let p = &mut self.pods[pod as usize];
        let version = p.version;
        self.per_version[version as usize].requests += n;
        if self.new_version == Some(version) {
            self.totals.new_version_requests += n;
        }
        if !p.accepting {
            self.totals.dropped += n;
            self.totals.refused += n;
            return self.batch_failed(version, n, 0, self.users, second);
        }
        let window = a / CAPACITY_WINDOW;
        if p.window != window {
            p.window = window;
            p.window_count = 0;
        }
        let before = p.window_count;
        p.window_count += n;
        let accepted = n.min(self.capacity_per_window.saturating_sub(before));
        let over = n - accepted;
        let first_start = p.first_start;
        if over > 0 {
            self.totals.dropped += over;
            self.totals.over_capacity += over;
            self.batch_failed(version, over, 0, self.users, second);
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
            match subset {
                Some(k) => {
                    let inside = self.rng.binomial(count, k as f64 / self.users as f64);
                    self.serve_class(
                        version,
                        first_start,
                        mid,
                        inside,
                        RequestClass { in_user_subset: true, over_load },
                        (0, k),
                        second,
                    );
                    self.serve_class(
                        version,
                        first_start,
                        mid,
                        count - inside,
                        RequestClass { in_user_subset: false, over_load },
                        (k, self.users),
                        second,
                    );
                }
                None => self.serve_class(
                    version,
                    first_start,
                    mid,
                    count,
                    RequestClass { in_user_subset: false, over_load },
                    (0, self.users),
                    second,
                ),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn serve_class(
        &mut self,
        version: u32,
        first_start: SimTime,
        at: SimTime,
        n: u64,
        class: RequestClass,
        users: (u64, u64),
        second: usize,
    ) {
        if n == 0 || users.0 >= users.1 {
            return;
        }
        let model = &self.versions[version as usize];
        let p_fail = model.error_probability(at, first_start, class);
        let p_timeout = if model.has_latency_fault() {
            model.latency_at(at, first_start).exceed_probability(self.timeout)
        } else {
            self.base_timeout_probability[version as usize]
        };
        let failed = self.rng.binomial(n, p_fail);
        let timed_out = self.rng.binomial(n - failed, p_timeout);
        self.totals.failed += failed + timed_out;
        self.totals.timed_out += timed_out;
        self.totals.succeeded += n - failed - timed_out;
        self.batch_failed(version, failed + timed_out, users.0, users.1, second);
    }

    fn batch_failed(&mut self, version: u32, k: u64, users_lo: u64, users_hi: u64, second: usize) {
        if k == 0 {
            return;
        }
        self.per_version[version as usize].errors += k;
        if let Some(s) = self.per_second.get_mut(second) {
            s.errors += k;
        }
        if self.new_version == Some(version) {
            for _ in 0..k {
                let user = users_lo + self.rng.below(users_hi - users_lo);
                self.mark_bad(version, user);
            }
        }
    }

    /// Seconds simulated so far.
    pub fn elapsed_secs(&self) -> f64 {
        to_secs_f64(self.now)
    }
}

/// Users `0..subset_size` form the subset a `userErrors` fault hits.
pub fn subset_size(fraction: f64, users: u64) -> u64 {
    ((fraction.clamp(0.0, 1.0) * users as f64).round() as u64).min(users)
}

#[cfg(test)]
mod tests;
