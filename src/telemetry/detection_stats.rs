//! Exact detection probabilities, to check the simulated alerts against.
//!
//! A canary-scoped error-ratio alert looks at the N requests of its window, N ~ Poisson(μ),
//! each failing independently with probability p, so E | N ~ Binomial(N, p). One evaluation
//! fires when N ≥ n_min (the minimum-request guard) and E / N > T. Its probability
//!
//! q(μ, p, T, n_min) = Σ_{n ≥ max(n_min, 1)} Pois(n; μ) · P[Bin(n, p) > T·n]
//!
//! is computed here to about 1e-15 absolute. Both distributions are walked outward from their
//! mode by the ratio recurrence of neighbouring probabilities (w(mode) = 1) and normalised by
//! the total of the same weights, so no logarithm of a factorial limits the precision at
//! large μ; each side stops when a geometric bound on its remaining mass is below 1e-16 of
//! the total. With no requests the ratio is 0/0, which PromQL compares as false: n = 0 never
//! fires.

/// The share of the total mass each tail may leave out of a sum.
const TAIL_MASS: f64 = 1e-16;

/// The probability that one evaluation of a canary-scoped error-ratio alert fires: see the
/// module documentation. `mu` is the expected number of requests in the window, `p` the
/// error probability of each, `threshold` the ratio the alert compares with `>`, and
/// `n_min` the fewest requests the alert needs.
pub fn canary_fire_probability(mu: f64, p: f64, threshold: f64, n_min: u64) -> f64 {
    assert!((0.0..=1e15).contains(&mu), "the mean number of requests must lie in [0, 1e15]: {mu}");
    assert!((0.0..=1.0).contains(&p), "an error probability lies in [0, 1]: {p}");
    assert!(!threshold.is_nan(), "the threshold is a number");
    if mu == 0.0 {
        return 0.0;
    }
    let first = n_min.max(1);
    let mut fired = 0.0;
    let total = walk_from_mode(
        mu.floor() as u64,
        u64::MAX,
        |n| mu / (n + 1) as f64,
        |n| n as f64 / mu,
        |n, weight| {
            if n >= first {
                fired += weight * binomial_tail(n, p, fewest_errors_above(threshold, n));
            }
        },
    );
    let q = fired / total;
    assert!((0.0..=1.0 + 1e-12).contains(&q), "a probability: {q}");
    q.min(1.0)
}

/// Walks the weights of a unimodal distribution on [0, `last`] outward from its `mode`
/// (weight 1), calling `visit(j, weight)` once for each j visited, and returns the total
/// weight. `up(j)` is w(j + 1)/w(j) and `down(j)` is w(j − 1)/w(j); away from the mode both
/// fall, so the mass past j on either side is at most w(j)·r/(1 − r), and each side stops
/// when that is below `TAIL_MASS` of the total so far.
fn walk_from_mode(
    mode: u64,
    last: u64,
    up: impl Fn(u64) -> f64,
    down: impl Fn(u64) -> f64,
    mut visit: impl FnMut(u64, f64),
) -> f64 {
    assert!(mode <= last);
    let mut total = 1.0;
    visit(mode, 1.0);
    let negligible = |weight: f64, r: f64, total: f64| r < 1.0 && weight * r / (1.0 - r) < TAIL_MASS * total;
    let (mut weight, mut j) = (1.0, mode);
    while j < last {
        let r = up(j);
        if negligible(weight, r, total) {
            break;
        }
        (weight, j) = (weight * r, j + 1);
        total += weight;
        visit(j, weight);
    }
    let (mut weight, mut j) = (1.0, mode);
    while j > 0 {
        let r = down(j);
        if negligible(weight, r, total) {
            break;
        }
        (weight, j) = (weight * r, j - 1);
        total += weight;
        visit(j, weight);
    }
    total
}

/// The fewest errors k out of n > 0 requests with `k / n > threshold`, compared in floating
/// point as PromQL does; n + 1 when none.
fn fewest_errors_above(threshold: f64, n: u64) -> u64 {
    assert!(n > 0);
    let above = |k: u64| k as f64 / n as f64 > threshold;
    if !above(n) {
        return n + 1;
    }
    if above(0) {
        return 0;
    }
    // floor(T·n) + 1 is the answer in exact arithmetic; step over the rounding either way.
    let mut k = ((threshold * n as f64).floor() as u64).saturating_add(1).clamp(1, n);
    while k > 1 && above(k - 1) {
        k -= 1;
    }
    while !above(k) {
        k += 1;
    }
    k
}

/// P[Bin(n, p) ≥ k], as the share of the weights at k and above.
fn binomial_tail(n: u64, p: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p == 0.0 {
        return 0.0;
    }
    if p == 1.0 {
        return 1.0;
    }
    let odds = p / (1.0 - p);
    let mode = (((n + 1) as f64 * p).floor() as u64).min(n);
    let mut above = 0.0;
    let total = walk_from_mode(
        mode,
        n,
        |j| (n - j) as f64 / (j + 1) as f64 * odds,
        |j| j as f64 / ((n - j + 1) as f64 * odds),
        |j, weight| {
            if j >= k {
                above += weight;
            }
        },
    );
    above / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimRng, Stream};
    use statrs::function::factorial::ln_factorial;

    fn poisson_pmf(n: u64, mu: f64) -> f64 {
        (-mu + n as f64 * mu.ln() - ln_factorial(n)).exp()
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    /// The tail against a plain sum of the probability mass function.
    #[test]
    fn binomial_tails_match_direct_sums() {
        for (n, p) in [(1, 0.3_f64), (7, 0.01), (20, 0.5), (50, 0.9), (300, 0.02)] {
            let pmf = |j: u64| {
                (ln_factorial(n) - ln_factorial(j) - ln_factorial(n - j)).exp()
                    * p.powi(j as i32)
                    * (1.0 - p).powi((n - j) as i32)
            };
            for k in 0..=n + 1 {
                let direct: f64 = (k..=n).map(pmf).sum();
                let tail = binomial_tail(n, p, k);
                assert!(close(tail, direct, 1e-13), "n {n} p {p} k {k}: {tail} vs {direct}");
            }
        }
    }

    #[test]
    fn fewest_errors_compares_the_ratio_strictly() {
        assert_eq!(fewest_errors_above(0.5, 2), 2, "1/2 is not above 0.5");
        assert_eq!(fewest_errors_above(0.5, 3), 2);
        assert_eq!(fewest_errors_above(0.05, 20), 2, "1/20 is not above 0.05");
        assert_eq!(fewest_errors_above(0.05, 19), 1);
        assert_eq!(fewest_errors_above(0.0, 5), 1);
        assert_eq!(fewest_errors_above(-0.1, 5), 0);
        assert_eq!(fewest_errors_above(1.0, 5), 6);
        for n in 1..2000 {
            for threshold in [0.001, 0.01, 0.05, 0.1, 1.0 / 3.0] {
                let k = fewest_errors_above(threshold, n);
                assert!(k > n || k as f64 / n as f64 > threshold);
                assert!(k == 0 || (k - 1) as f64 / n as f64 <= threshold);
            }
        }
    }

    /// With T = 0 one error fires: q = P[at least one error] = 1 − e^(−μp) (thinning), less
    /// the windows the guard skips.
    #[test]
    fn one_error_crosses_a_zero_threshold() {
        for (mu, p) in [(0.5, 0.2), (3.0, 0.01), (40.0, 0.05)] {
            let q = canary_fire_probability(mu, p, 0.0, 0);
            assert!(close(q, 1.0 - (-mu * p).exp(), 1e-15), "μ {mu} p {p}: {q}");
            let guarded = canary_fire_probability(mu, p, 0.0, 2);
            let skipped = mu * (-mu).exp() * p;
            assert!(close(guarded, 1.0 - (-mu * p).exp() - skipped, 1e-15), "μ {mu} p {p}: {guarded}");
        }
    }

    /// μ = 0.1, p = 0.1, T = 0.5: one request fires with one error, two need two, three need
    /// two, four need three; the terms past n = 5 weigh below 1e-10.
    #[test]
    fn a_hand_computed_small_window() {
        let (mu, p) = (0.1_f64, 0.1_f64);
        let q = 1.0 - p;
        let pois = |n: i32| (-mu).exp() * mu.powi(n) / (1..=n).product::<i32>() as f64;
        let expected = pois(1) * p
            + pois(2) * p * p
            + pois(3) * (3.0 * p * p * q + p.powi(3))
            + pois(4) * (4.0 * p.powi(3) * q + p.powi(4))
            + pois(5) * (10.0 * p.powi(3) * q * q + 5.0 * p.powi(4) * q + p.powi(5));
        let got = canary_fire_probability(mu, p, 0.5, 0);
        assert!(close(got, expected, 1e-10), "{got} vs {expected}");
        // The guard drops the one-request windows.
        assert!(close(canary_fire_probability(mu, p, 0.5, 2), expected - pois(1) * p, 1e-10));
    }

    #[test]
    fn limiting_cases() {
        for mu in [0.0, 0.3, 5.0, 250.0, 1e5] {
            assert_eq!(canary_fire_probability(mu, 0.0, 0.05, 0), 0.0);
            // p = 1: every window with a request fires, T < 1.
            let cdf4 = (0..5).map(|n| poisson_pmf(n, mu)).sum::<f64>();
            for (n_min, expected) in [(0, 1.0 - (-mu).exp()), (1, 1.0 - (-mu).exp()), (5, 1.0 - cdf4)] {
                let expected = if mu == 0.0 { 0.0 } else { expected };
                let got = canary_fire_probability(mu, 1.0, 0.05, n_min);
                assert!(close(got, expected, 1e-14), "μ {mu} n_min {n_min}: {got} vs {expected}");
            }
            // A ratio never exceeds 1.
            assert_eq!(canary_fire_probability(mu, 1.0, 1.0, 0), 0.0);
        }
    }

    /// Against a Monte Carlo of the same process drawn with the simulator's own generator.
    #[test]
    fn agrees_with_a_monte_carlo() {
        const TRIALS: u32 = 200_000;
        let mut rng = SimRng::new(20_261_126, Stream::Traffic);
        for (mu, p, threshold, n_min) in
            [(3.0, 0.02, 0.05, 0), (20.0, 0.05, 0.05, 0), (200.0, 0.06, 0.05, 20), (60.0, 0.01, 0.05, 20)]
        {
            let mut fired = 0u32;
            for _ in 0..TRIALS {
                let n = rng.poisson(mu);
                let errors = rng.binomial(n, p);
                if n >= n_min.max(1) && errors as f64 / n as f64 > threshold {
                    fired += 1;
                }
            }
            let q = canary_fire_probability(mu, p, threshold, n_min);
            let estimate = f64::from(fired) / f64::from(TRIALS);
            let standard_error = (q * (1.0 - q) / f64::from(TRIALS)).sqrt();
            assert!(
                (estimate - q).abs() <= 4.0 * standard_error,
                "μ {mu} p {p} T {threshold} n_min {n_min}: exact {q}, Monte Carlo {estimate} ± {standard_error}"
            );
        }
    }
}
