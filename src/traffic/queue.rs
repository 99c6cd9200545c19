//! Latency under load (`pods.latencyModel: queueing`): each pod is an M/M/c queue.
//!
//! A pod has `c` = `pods.concurrency` workers, each serving `μ = capacityRps / c` requests a
//! second, so `c·μ = capacityRps`. Requests reach it as a Poisson stream of rate `λ` (its
//! expected share of the route's rate). With offered load `a = λ/μ` and utilisation
//! `ρ = a/c < 1`, a request waits with the Erlang-C probability
//!
//! `C(c, a) = (aᶜ/c! · 1/(1−ρ)) / (Σ_{k<c} aᵏ/k! + aᶜ/c! · 1/(1−ρ))`
//!
//! and, when it waits, for an exponential time of rate `θ = c·μ − λ`, so
//! `P(W > t) = C·e^{−θt}` and `E[W] = C/θ`. Its latency is the version's latency (the
//! service latency, log-normal) plus that wait; a total above the route timeout is a 504.
//! At `ρ ≥ 1` the stationary queue does not exist: the backlog grows without bound and every
//! request is taken to wait past the timeout.
//!
//! Pure functions; `TrafficSim` draws with them.

use super::version::LatencyModel;
use crate::engine::{SimTime, to_secs_f64};

/// The queue a pod's requests meet at one arrival rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Queue {
    /// P(a request waits): Erlang C, or 1 when saturated.
    pub wait_probability: f64,
    /// Rate θ = c·μ − λ of the exponential wait (per second); 0 when saturated.
    pub drain_rate: f64,
}

impl Queue {
    /// The M/M/c queue with `servers` workers, total service rate `capacity` (requests per
    /// second) and arrival rate `lambda`.
    pub fn new(servers: u32, capacity: f64, lambda: f64) -> Self {
        let c = servers.max(1);
        let mu = capacity / f64::from(c);
        if lambda <= 0.0 {
            return Self { wait_probability: 0.0, drain_rate: capacity };
        }
        if lambda >= capacity || mu <= 0.0 {
            return Self { wait_probability: 1.0, drain_rate: 0.0 };
        }
        Self { wait_probability: erlang_c(c, lambda / mu), drain_rate: capacity - lambda }
    }

    /// Whether the queue grows without bound (ρ ≥ 1).
    pub fn saturated(&self) -> bool {
        self.drain_rate <= 0.0
    }

    /// Mean wait in seconds (infinite when saturated).
    pub fn mean_wait(&self) -> f64 {
        if self.saturated() { f64::INFINITY } else { self.wait_probability / self.drain_rate }
    }

    /// P(W > t) for a wait of `t` seconds.
    pub fn wait_exceeds(&self, t: f64) -> f64 {
        if self.saturated() {
            return 1.0;
        }
        self.wait_probability * (-self.drain_rate * t.max(0.0)).exp()
    }

    /// P(S + W > timeout) for a service latency S of `service` independent of the wait W:
    /// P(S > T) + C·E[e^{−θ(T−S)}; S ≤ T], the expectation by Simpson's rule over the
    /// standard normal behind S (ln S = μ + σZ) on [−10, z_T], 512 intervals.
    pub fn timeout_probability(&self, service: &LatencyModel, timeout: SimTime) -> f64 {
        let p_service = service.exceed_probability(timeout);
        if self.saturated() {
            return 1.0;
        }
        if self.wait_probability <= 0.0 {
            return p_service;
        }
        let t = to_secs_f64(timeout);
        let theta = self.drain_rate;
        if service.sigma <= 0.0 {
            let s = service.mu.exp();
            return if s > t { 1.0 } else { self.wait_exceeds(t - s) };
        }
        let z_t = (t.max(1e-12).ln() - service.mu) / service.sigma;
        let lo = -10.0;
        if z_t <= lo {
            return p_service;
        }
        let f = |z: f64| {
            let s = (service.mu + service.sigma * z).exp().min(t);
            (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * (-theta * (t - s)).exp()
        };
        let n = 512;
        let h = (z_t - lo) / n as f64;
        let mut sum = f(lo) + f(z_t);
        for i in 1..n {
            sum += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        (p_service + self.wait_probability * sum * h / 3.0).min(1.0)
    }
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with `c` servers and
/// offered load `a` = λ/μ (< c), from the Erlang-B recursion B(k) = a·B(k−1)/(k + a·B(k−1))
/// and C = B / (1 − ρ(1 − B)), which stays finite for any `c`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    let rho = a / f64::from(c);
    if rho >= 1.0 {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b / (1.0 - rho * (1.0 - b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MILLISECOND, SECOND};
    use crate::traffic::Latency;

    /// Σ_{k<c} aᵏ/k! and aᶜ/c! directly: the textbook formula, for small c.
    fn erlang_c_direct(c: u32, a: f64) -> f64 {
        let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
        let sum: f64 = (0..c).map(|k| a.powi(k as i32) / fact(k)).sum();
        let top = a.powi(c as i32) / fact(c) / (1.0 - a / f64::from(c));
        top / (sum + top)
    }

    #[test]
    fn erlang_c_textbook_values() {
        // M/M/1: C = ρ.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // M/M/2 at a = 1: C = 1/3; M/M/3 at a = 2: C = 4/9.
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((erlang_c(3, 2.0) - 4.0 / 9.0).abs() < 1e-12);
        // The call-centre table value: 10 agents, 8 Erlangs: C ≈ 0.4092.
        assert!((erlang_c(10, 8.0) - 0.4092).abs() < 5e-4, "{}", erlang_c(10, 8.0));
        for (c, a) in [(4, 3.5), (7, 2.0), (12, 11.0), (20, 15.5)] {
            assert!((erlang_c(c, a) - erlang_c_direct(c, a)).abs() < 1e-10, "c={c} a={a}");
        }
        // Large c stays finite and between 0 and 1; a = 0 never waits; ρ ≥ 1 always waits.
        let big = erlang_c(2000, 1990.0);
        assert!(big > 0.0 && big < 1.0, "{big}");
        assert_eq!(erlang_c(4, 0.0), 0.0);
        assert_eq!(erlang_c(4, 4.0), 1.0);
    }

    #[test]
    fn queue_wait_moments() {
        // M/M/1 with capacity 100 rps at λ = 80: C = 0.8, θ = 20/s, E[W] = 40 ms.
        let q = Queue::new(1, 100.0, 80.0);
        assert!((q.wait_probability - 0.8).abs() < 1e-12);
        assert!((q.mean_wait() - 0.04).abs() < 1e-12);
        assert!((q.wait_exceeds(0.1) - 0.8 * (-2.0f64).exp()).abs() < 1e-12);
        // More workers at the same capacity and load wait less often.
        assert!(Queue::new(8, 100.0, 80.0).wait_probability < q.wait_probability);
        assert!(Queue::new(1, 100.0, 100.0).saturated());
        assert_eq!(Queue::new(1, 100.0, 0.0).wait_probability, 0.0);
    }

    #[test]
    fn timeout_probability_matches_monte_carlo() {
        let service = LatencyModel::from_spec(Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND });
        let q = Queue::new(4, 100.0, 95.0);
        let timeout = SECOND / 2;
        let p = q.timeout_probability(&service, timeout);
        let mut rng = crate::engine::SimRng::new(7, crate::engine::Stream::Traffic);
        let n = 200_000;
        let mut over = 0;
        for _ in 0..n {
            let s = rng.lognormal(service.mu, service.sigma);
            let w = if rng.chance(q.wait_probability) { rng.exponential(1.0 / q.drain_rate) } else { 0.0 };
            if s + w > 0.5 {
                over += 1;
            }
        }
        let mc = over as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((mc - p).abs() < 5.0 * se + 1e-4, "numeric {p}, simulated {mc}");
        // No load: only the service latency can time out.
        let idle = Queue::new(4, 100.0, 0.0);
        assert_eq!(idle.timeout_probability(&service, timeout), service.exceed_probability(timeout));
        assert_eq!(Queue::new(4, 100.0, 120.0).timeout_probability(&service, timeout), 1.0);
    }
}
