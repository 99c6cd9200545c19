//! A version's request behaviour at a moment: error probability by request class, and the
//! latency distribution, with each fault's onset and ramp applied.

use super::spec::{Fault, FaultAnchor, FaultKind, Latency, VersionProfile};
use crate::engine::dist::lognormal_params;
use crate::engine::{SimTime, to_secs_f64};

/// Log-normal latency parameters (of the latency in seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyModel {
    pub mu: f64,
    pub sigma: f64,
}

impl LatencyModel {
    pub fn from_spec(latency: Latency) -> Self {
        let (mu, sigma) = lognormal_params(latency.p50, latency.p99);
        Self { mu, sigma }
    }

    /// P(latency > t).
    pub fn exceed_probability(&self, t: SimTime) -> f64 {
        let x = to_secs_f64(t).max(1e-12).ln();
        if self.sigma <= 0.0 {
            return if self.mu > x { 1.0 } else { 0.0 };
        }
        0.5 * statrs::function::erf::erfc((x - self.mu) / (self.sigma * std::f64::consts::SQRT_2))
    }

    /// E[min(L, u)] in seconds: the mean time a request spends in the first `u` of its
    /// life. For a log-normal, E[L]·Φ((ln u − μ − σ²)/σ) + u·(1 − Φ((ln u − μ)/σ)).
    pub fn expected_min(&self, u: SimTime) -> f64 {
        if u == 0 {
            return 0.0;
        }
        let u_s = to_secs_f64(u);
        if self.sigma <= 0.0 {
            return u_s.min(self.mu.exp());
        }
        let phi = |x: f64| 0.5 * statrs::function::erf::erfc(-x / std::f64::consts::SQRT_2);
        let z = (u_s.ln() - self.mu) / self.sigma;
        self.mean_secs() * phi(z - self.sigma) + u_s * (1.0 - phi(z))
    }

    /// Mean latency in seconds.
    pub fn mean_secs(&self) -> f64 {
        (self.mu + self.sigma * self.sigma / 2.0).exp()
    }
}

#[derive(Clone, Debug)]
struct TimedFault {
    kind: FaultKind,
    /// For a latency fault, its distribution (fitted once, not per request).
    latency_target: Option<LatencyModel>,
    after: SimTime,
    /// `Some(release time)` when measured from the release.
    release_at: Option<SimTime>,
    ramp: Option<SimTime>,
}

impl TimedFault {
    /// 0 before the onset, rising linearly over the ramp, then 1.
    fn strength(&self, now: SimTime, first_start: SimTime) -> f64 {
        let onset = self.release_at.unwrap_or(first_start).saturating_add(self.after);
        if now < onset {
            return 0.0;
        }
        match self.ramp {
            Some(ramp) if ramp > 0 => ((now - onset) as f64 / ramp as f64).min(1.0),
            _ => 1.0,
        }
    }
}

/// The request classes whose error probabilities differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestClass {
    /// The request's user belongs to the subset a `userErrors` fault hits.
    pub in_user_subset: bool,
    /// The request arrived while its pod had already taken more than `aboveRps` requests
    /// in the current second.
    pub over_load: bool,
}

/// One version's behaviour.
#[derive(Clone, Debug)]
pub struct VersionModel {
    pub base_error: f64,
    pub latency: LatencyModel,
    faults: Vec<TimedFault>,
    /// Fraction of users (ids below `fraction × users`) that the first `userErrors` fault hits.
    pub user_subset: Option<f64>,
    /// Per-pod requests per second above which the first `overload` fault applies.
    pub overload_above_rps: Option<f64>,
}

impl VersionModel {
    pub fn new(profile: &VersionProfile, release_at: SimTime) -> Self {
        let faults: Vec<TimedFault> = profile
            .faults
            .iter()
            .map(|f: &Fault| TimedFault {
                kind: f.kind.clone(),
                latency_target: match f.kind {
                    FaultKind::Latency { latency } => Some(LatencyModel::from_spec(latency)),
                    _ => None,
                },
                after: f.after,
                release_at: (f.anchor == FaultAnchor::Release).then_some(release_at),
                ramp: f.ramp,
            })
            .collect();
        let user_subset = faults.iter().find_map(|f| match f.kind {
            FaultKind::ErrorsForUsers { fraction, .. } => Some(fraction),
            _ => None,
        });
        let overload_above_rps = faults.iter().find_map(|f| match f.kind {
            FaultKind::ErrorsAboveLoad { above_rps, .. } => Some(above_rps),
            _ => None,
        });
        Self {
            base_error: profile.error_rate,
            latency: LatencyModel::from_spec(profile.latency),
            faults,
            user_subset,
            overload_above_rps,
        }
    }

    /// Probability that a request of `class`, served at `now` by a pod whose first container
    /// started at `first_start`, fails. Independent causes combine as 1 − Π(1 − pᵢ).
    pub fn error_probability(&self, now: SimTime, first_start: SimTime, class: RequestClass) -> f64 {
        let mut ok = 1.0 - self.base_error;
        let mut user_seen = false;
        let mut load_seen = false;
        for f in &self.faults {
            let p = match f.kind {
                FaultKind::Errors { rate } => rate,
                FaultKind::ErrorsForUsers { rate, .. } if class.in_user_subset && !user_seen => {
                    user_seen = true;
                    rate
                }
                FaultKind::ErrorsAboveLoad { rate, .. } if class.over_load && !load_seen => {
                    load_seen = true;
                    rate
                }
                _ => continue,
            };
            ok *= 1.0 - p * f.strength(now, first_start);
        }
        (1.0 - ok).clamp(0.0, 1.0)
    }

    pub fn has_latency_fault(&self) -> bool {
        self.faults.iter().any(|f| f.latency_target.is_some())
    }

    /// The times in (a, b) where a fault of a pod that first started at `first_start`
    /// begins or ends its ramp: between them every probability is a smooth function of time
    /// (constant, or linear in each fault's strength). Writes them sorted into `out` and
    /// returns how many there are (at most `out.len()`).
    pub fn breakpoints(&self, first_start: SimTime, a: SimTime, b: SimTime, out: &mut [SimTime]) -> usize {
        let mut n = 0;
        for f in &self.faults {
            let onset = f.release_at.unwrap_or(first_start).saturating_add(f.after);
            let end = onset.saturating_add(f.ramp.unwrap_or(0));
            for t in [onset, end] {
                if t > a && t < b && n < out.len() && !out[..n].contains(&t) {
                    out[n] = t;
                    n += 1;
                }
            }
        }
        out[..n].sort_unstable();
        n
    }

    /// The latency distribution at `now`: a latency fault blends from the base profile to
    /// its own in log space as its ramp rises.
    pub fn latency_at(&self, now: SimTime, first_start: SimTime) -> LatencyModel {
        let mut model = self.latency;
        for f in &self.faults {
            if let Some(target) = f.latency_target {
                let s = f.strength(now, first_start);
                if s > 0.0 {
                    model = LatencyModel {
                        mu: model.mu + s * (target.mu - model.mu),
                        sigma: model.sigma + s * (target.sigma - model.sigma),
                    };
                }
            }
        }
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MILLISECOND, MINUTE, SECOND};

    fn profile(faults: Vec<Fault>) -> VersionProfile {
        VersionProfile {
            error_rate: 0.001,
            latency: Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND },
            faults,
        }
    }
    const PLAIN: RequestClass = RequestClass { in_user_subset: false, over_load: false };

    #[test]
    fn errors_start_at_onset_and_ramp() {
        let fault = Fault {
            kind: FaultKind::Errors { rate: 0.1 },
            after: MINUTE,
            anchor: FaultAnchor::PodStart,
            ramp: Some(2 * MINUTE),
        };
        let v = VersionModel::new(&profile(vec![fault]), 0);
        let start = 10 * SECOND;
        assert!((v.error_probability(start + 30 * SECOND, start, PLAIN) - 0.001).abs() < 1e-12);
        // Half way up the ramp: 1 − 0.999 × 0.95.
        let half = v.error_probability(start + 2 * MINUTE, start, PLAIN);
        assert!((half - (1.0 - 0.999 * 0.95)).abs() < 1e-12, "{half}");
        let full = v.error_probability(start + 10 * MINUTE, start, PLAIN);
        assert!((full - (1.0 - 0.999 * 0.9)).abs() < 1e-12);
    }

    #[test]
    fn release_anchored_fault_ignores_pod_start() {
        let fault = Fault {
            kind: FaultKind::Errors { rate: 1.0 },
            after: MINUTE,
            anchor: FaultAnchor::Release,
            ramp: None,
        };
        let v = VersionModel::new(&profile(vec![fault]), 5 * MINUTE);
        assert!(v.error_probability(6 * MINUTE - 1, 0, PLAIN) < 0.01);
        assert_eq!(v.error_probability(6 * MINUTE, 6 * MINUTE - 1, PLAIN), 1.0);
    }

    #[test]
    fn class_faults_hit_only_their_class() {
        let faults = vec![
            Fault {
                kind: FaultKind::ErrorsForUsers { fraction: 0.1, rate: 0.5 },
                after: 0,
                anchor: FaultAnchor::PodStart,
                ramp: None,
            },
            Fault {
                kind: FaultKind::ErrorsAboveLoad { above_rps: 80.0, rate: 0.2 },
                after: 0,
                anchor: FaultAnchor::PodStart,
                ramp: None,
            },
        ];
        let v = VersionModel::new(&profile(faults), 0);
        assert_eq!(v.user_subset, Some(0.1));
        assert_eq!(v.overload_above_rps, Some(80.0));
        let p = |u, o| v.error_probability(SECOND, 0, RequestClass { in_user_subset: u, over_load: o });
        assert!((p(false, false) - 0.001).abs() < 1e-12);
        assert!((p(true, false) - (1.0 - 0.999 * 0.5)).abs() < 1e-12);
        assert!((p(false, true) - (1.0 - 0.999 * 0.8)).abs() < 1e-12);
        assert!((p(true, true) - (1.0 - 0.999 * 0.5 * 0.8)).abs() < 1e-12);
    }

    #[test]
    fn expected_min_matches_a_numerical_integral() {
        let m = LatencyModel::from_spec(Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND });
        // E[min(L, u)] = ∫₀ᵘ P(L > x) dx.
        for u_ms in [10u64, 40, 100, 1000] {
            let steps = 1_000u64;
            let dx = u_ms * MILLISECOND / steps;
            let integral: f64 =
                (0..steps).map(|i| m.exceed_probability(i * dx + dx / 2) * to_secs_f64(dx)).sum();
            let closed = m.expected_min(u_ms * MILLISECOND);
            assert!((closed - integral).abs() < 1e-6, "u={u_ms}ms: {closed} vs {integral}");
        }
        assert!((m.expected_min(3600 * SECOND) - m.mean_secs()).abs() < 1e-9);
        assert_eq!(m.expected_min(0), 0.0);
    }

    #[test]
    fn latency_tail_probability_matches_its_percentiles() {
        let m = LatencyModel::from_spec(Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND });
        assert!((m.exceed_probability(40 * MILLISECOND) - 0.5).abs() < 1e-9);
        assert!((m.exceed_probability(250 * MILLISECOND) - 0.01).abs() < 1e-6);
    }
}
