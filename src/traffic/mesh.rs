//! Istio/Envoy weighted routing: how a `VirtualService` route with several weighted
//! destinations divides requests (`controllers.md` §4).
//!
//! Three upstream steps, in the order a request meets them:
//! 1. **Validation** (`istio/istio` `pkg/config/validation`, `validateHTTPRouteDestinations`):
//!    what the API server accepts. Since Istio 1.15 weights are *relative*: only a negative
//!    weight, or a total of 0 over more than one destination, is rejected. Before 1.15 every
//!    weight had to be a percentage and the total exactly 100 ([`validate_weights_pre_1_15`]).
//! 2. **Translation** (Pilot, `route.go`): destinations of weight 0 are dropped when the
//!    route has others; a lone destination gets weight 100; a route left with one
//!    destination becomes a plain cluster (no weighted clusters at all).
//! 3. **Picking** (Envoy `pickCluster`/`pickClusterIndex`): per request,
//!    `selected = random_value % total_weight`, and the destination whose cumulative
//!    interval `[begin, begin + w)` contains it wins. Each request is independent:
//!    destination i with probability `w_i / Σw`; no stickiness, no smoothing.
//!
//! [`WeightedRoute`] is steps 2–3 after step 1; [`WeightedRoute::pick`] is the request
//! fidelity and [`WeightedRoute::split`] the aggregated one (the exact multinomial).

use crate::engine::SimRng;

/// Why a list of destination weights is not a valid route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    /// A route needs at least one destination.
    #[error("route has no destination")]
    Empty,
    /// Istio `validateWeight`: weights are non-negative.
    #[error("weight {weight} of destination {index} < 0")]
    Negative { index: usize, weight: i32 },
    /// Istio: with more than one destination, the weights must not all be 0.
    #[error("total destination weight = 0")]
    ZeroTotal,
    /// Istio < 1.15 `ValidatePercent`: each weight in [0, 100].
    #[error("weight {weight} of destination {index} is not a percentage in [0, 100]")]
    NotPercent { index: usize, weight: i32 },
    /// Istio < 1.15: with more than one destination, the weights sum to exactly 100.
    #[error("total destination weight {total} != 100")]
    SumNot100 { total: i64 },
    /// Envoy refuses weighted clusters whose total does not fit in 32 bits.
    #[error("total destination weight {total} overflows 2^32")]
    Overflow { total: i64 },
}

/// Istio's current rules (1.15 and later, after istio PR #39544): negative weights are
/// rejected, and so is a total of 0 over more than one destination. Any other total is
/// valid, the weights being relative (49 + 50 and 550 + 500 are both fine).
pub fn validate_weights(weights: &[i32]) -> Result<(), WeightError> {
    if weights.is_empty() {
        return Err(WeightError::Empty);
    }
    if let Some((index, &weight)) = weights.iter().enumerate().find(|&(_, &w)| w < 0) {
        return Err(WeightError::Negative { index, weight });
    }
    let total = total_of(weights);
    if weights.len() > 1 && total == 0 {
        return Err(WeightError::ZeroTotal);
    }
    if total > i64::from(u32::MAX) {
        return Err(WeightError::Overflow { total });
    }
    Ok(())
}

/// Istio's rules before 1.15, kept for scenarios that pin an old mesh: every weight a
/// percentage in [0, 100], and a total of exactly 100 when the route has several.
pub fn validate_weights_pre_1_15(weights: &[i32]) -> Result<(), WeightError> {
    if weights.is_empty() {
        return Err(WeightError::Empty);
    }
    if let Some((index, &weight)) = weights.iter().enumerate().find(|&(_, &w)| !(0..=100).contains(&w)) {
        return Err(WeightError::NotPercent { index, weight });
    }
    let total = total_of(weights);
    if weights.len() > 1 && total != 100 {
        return Err(WeightError::SumNot100 { total });
    }
    Ok(())
}

fn total_of(weights: &[i32]) -> i64 {
    weights.iter().map(|&w| i64::from(w)).sum()
}

/// A validated route as Envoy holds it: the destinations Pilot kept, each with the end of
/// its cumulative interval. `D` names a destination (a subset, a Service, a version id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedRoute<D> {
    /// Kept destinations in route order, each with the (exclusive) end of its interval.
    clusters: Vec<(D, u64)>,
    /// Σ kept weights; 0 marks a plain cluster (one destination, no draw).
    total: u64,
}

impl<D: Copy> WeightedRoute<D> {
    /// Validates `destinations` (current Istio rules) and translates them as Pilot does.
    pub fn new(destinations: &[(D, i32)]) -> Result<Self, WeightError> {
        let weights: Vec<i32> = destinations.iter().map(|&(_, w)| w).collect();
        validate_weights(&weights)?;
        Ok(Self::translate(destinations))
    }

    /// Pilot's translation of an already validated route: drop weight-0 destinations when
    /// there are others; one destination left is a plain cluster that takes everything.
    fn translate(destinations: &[(D, i32)]) -> Self {
        if destinations.len() == 1 {
            return Self::plain(destinations[0].0);
        }
        let kept: Vec<(D, u64)> = destinations
            .iter()
            .filter(|&&(_, w)| w > 0)
            .map(|&(d, w)| (d, u64::try_from(w).expect("validated non-negative")))
            .collect();
        if kept.len() == 1 {
            return Self::plain(kept[0].0);
        }
        let mut end = 0;
        let clusters = kept
            .into_iter()
            .map(|(d, w)| {
                end += w;
                (d, end)
            })
            .collect();
        Self { clusters, total: end }
    }

    /// A route to one destination: Envoy routes to the cluster directly, drawing nothing.
    pub fn plain(destination: D) -> Self {
        Self { clusters: vec![(destination, 0)], total: 0 }
    }

    /// The destinations Envoy can pick, in route order.
    pub fn destinations(&self) -> impl ExactSizeIterator<Item = D> + '_ {
        self.clusters.iter().map(|&(d, _)| d)
    }

    /// Σ of the kept weights, or `None` for a plain cluster.
    pub fn total_weight(&self) -> Option<u64> {
        (self.total > 0).then_some(self.total)
    }

    /// The probability that a request goes to the `i`-th kept destination.
    pub fn share(&self, i: usize) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        let begin = if i == 0 { 0 } else { self.clusters[i - 1].1 };
        (self.clusters[i].1 - begin) as f64 / self.total as f64
    }

    /// Envoy's `pickCluster` for a given `random_value`: `random_value % total` falls in
    /// exactly one interval `[begin, end)`.
    pub fn pick_with(&self, random_value: u64) -> D {
        if self.total == 0 {
            return self.clusters[0].0;
        }
        let selected = random_value % self.total;
        let i = self.clusters.partition_point(|&(_, end)| end <= selected);
        self.clusters[i].0
    }

    /// One request's destination. A plain cluster draws nothing (Envoy never calls the
    /// weighted picker for it), so a 100/0 route leaves the traffic stream untouched.
    pub fn pick(&self, rng: &mut SimRng) -> D {
        if self.total == 0 {
            return self.clusters[0].0;
        }
        // `below(total)` is uniform on [0, total): the distribution of Envoy's
        // `random_value % total` for a uniform 64-bit `random_value`.
        self.pick_with(rng.below(self.total))
    }

    /// How `n` independent requests divide, drawn exactly: a multinomial over the kept
    /// destinations by sequential binomials (the i-th takes Binomial(remaining,
    /// w_i / remaining weight)). `out[i]` is the count of the i-th destination.
    pub fn split(&self, n: u64, rng: &mut SimRng, out: &mut Vec<u64>) {
        out.clear();
        if self.total == 0 {
            out.push(n);
            return;
        }
        let (mut remaining, mut begin) = (n, 0u64);
        let last = self.clusters.len() - 1;
        for (i, &(_, end)) in self.clusters.iter().enumerate() {
            let k = if i == last {
                remaining
            } else {
                rng.binomial(remaining, (end - begin) as f64 / (self.total - begin) as f64)
            };
            out.push(k);
            remaining -= k;
            begin = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Stream;
    use crate::engine::rng::testing::{CHI2_CRITICAL_0_001, chi_square_binomial};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Dest {
        Stable,
        Canary,
        Other,
    }
    use Dest::*;

    #[test]
    fn current_validation_accepts_relative_weights() {
        assert_eq!(validate_weights(&[90, 10]), Ok(()));
        assert_eq!(validate_weights(&[49, 50]), Ok(()));
        assert_eq!(validate_weights(&[550, 500]), Ok(()));
        assert_eq!(validate_weights(&[0]), Ok(()));
        assert_eq!(validate_weights(&[100, 0]), Ok(()));
        assert_eq!(validate_weights(&[-1, 101]), Err(WeightError::Negative { index: 0, weight: -1 }));
        assert_eq!(validate_weights(&[0, 0]), Err(WeightError::ZeroTotal));
        assert_eq!(validate_weights(&[]), Err(WeightError::Empty));
        assert_eq!(
            validate_weights(&[i32::MAX, i32::MAX, 2]),
            Err(WeightError::Overflow { total: 2 * i64::from(i32::MAX) + 2 })
        );
    }

    #[test]
    fn pre_1_15_validation_wants_percentages_summing_to_100() {
        assert_eq!(validate_weights_pre_1_15(&[90, 10]), Ok(()));
        assert_eq!(validate_weights_pre_1_15(&[30]), Ok(()));
        assert_eq!(validate_weights_pre_1_15(&[49, 50]), Err(WeightError::SumNot100 { total: 99 }));
        assert_eq!(
            validate_weights_pre_1_15(&[550, 500]),
            Err(WeightError::NotPercent { index: 0, weight: 550 })
        );
        assert_eq!(validate_weights_pre_1_15(&[0, 0]), Err(WeightError::SumNot100 { total: 0 }));
    }

    #[test]
    fn intervals_are_cumulative_and_half_open() {
        let r = WeightedRoute::new(&[(Stable, 90), (Canary, 10)]).unwrap();
        assert_eq!(r.total_weight(), Some(100));
        let picks: Vec<Dest> = [0, 89, 90, 99, 100, 189, 190, u64::MAX].map(|v| r.pick_with(v)).to_vec();
        // u64::MAX % 100 = 15.
        assert_eq!(picks, [Stable, Stable, Canary, Canary, Stable, Stable, Canary, Stable]);

        let r = WeightedRoute::new(&[(Stable, 49), (Canary, 50), (Other, 1)]).unwrap();
        assert_eq!(r.total_weight(), Some(100));
        let picks: Vec<Dest> = [48, 49, 98, 99].map(|v| r.pick_with(v)).to_vec();
        assert_eq!(picks, [Stable, Canary, Canary, Other]);

        let r = WeightedRoute::new(&[(Stable, 550), (Canary, 500)]).unwrap();
        assert_eq!(r.total_weight(), Some(1050));
        assert_eq!([549, 550, 1049, 1050].map(|v| r.pick_with(v)), [Stable, Canary, Canary, Stable]);
        assert!((r.share(1) - 500.0 / 1050.0).abs() < 1e-15);
    }

    #[test]
    fn weight_zero_destinations_are_dropped() {
        let r = WeightedRoute::new(&[(Stable, 0), (Canary, 30), (Other, 70)]).unwrap();
        assert_eq!(r.destinations().collect::<Vec<_>>(), [Canary, Other]);
        assert_eq!(r.total_weight(), Some(100));
        assert_eq!([0, 29, 30, 99].map(|v| r.pick_with(v)), [Canary, Canary, Other, Other]);

        // 100/0 leaves one destination: a plain cluster, and no random draw at all.
        let r = WeightedRoute::new(&[(Stable, 100), (Canary, 0)]).unwrap();
        assert_eq!(r, WeightedRoute::plain(Stable));
        let mut rng = SimRng::new(1, Stream::Traffic);
        let mut twin = SimRng::new(1, Stream::Traffic);
        assert_eq!(r.pick(&mut rng), Stable);
        assert_eq!(rng.below(1 << 40), twin.below(1 << 40), "a plain cluster must not draw");
    }

    #[test]
    fn a_single_destination_takes_everything_whatever_its_weight() {
        for w in [0, 30, 100, 1000] {
            let r = WeightedRoute::new(&[(Canary, w)]).unwrap();
            assert_eq!(r.total_weight(), None, "weight {w}");
            assert_eq!(r.share(0), 1.0);
            assert_eq!(r.pick_with(12345), Canary);
            let mut out = Vec::new();
            r.split(77, &mut SimRng::new(3, Stream::Traffic), &mut out);
            assert_eq!(out, [77]);
        }
    }

    #[test]
    fn invalid_routes_are_refused() {
        assert_eq!(WeightedRoute::new(&[(Stable, 0), (Canary, 0)]), Err(WeightError::ZeroTotal));
        assert_eq!(
            WeightedRoute::new(&[(Stable, 110), (Canary, -10)]),
            Err(WeightError::Negative { index: 1, weight: -10 })
        );
    }

    /// `z` standard errors: with a handful of tests at this level a false alarm is below
    /// one in a million runs, and the seeds are fixed anyway.
    const Z: f64 = 5.0;

    #[test]
    fn a_90_10_route_sends_binomially_many_requests_to_the_canary() {
        let r = WeightedRoute::new(&[(Stable, 90), (Canary, 10)]).unwrap();
        let n: u64 = 1_000_000;
        let (mean, sd) = (n as f64 * 0.1, (n as f64 * 0.1 * 0.9).sqrt());

        let mut rng = SimRng::new(42, Stream::Traffic);
        let per_request = (0..n).filter(|_| r.pick(&mut rng) == Canary).count() as f64;
        assert!((per_request - mean).abs() < Z * sd, "per request: {per_request} vs {mean} ± {sd}");

        let mut out = Vec::new();
        r.split(n, &mut rng, &mut out);
        assert_eq!(out.iter().sum::<u64>(), n);
        let aggregated = out[1] as f64;
        assert!((aggregated - mean).abs() < Z * sd, "aggregated: {aggregated} vs {mean} ± {sd}");
    }

    /// Both fidelities against the exact Binomial(50, 0.1) distribution of the canary's
    /// count, by a chi-square test over cells pooled to expect ≥ 5 draws each (critical
    /// values of chi-square at 0.001).
    #[test]
    fn both_fidelities_match_the_binomial_distribution() {
        let r = WeightedRoute::new(&[(Stable, 90), (Canary, 10)]).unwrap();
        let (n, p, draws) = (50u64, 0.1f64, 20_000usize);
        let mut rng = SimRng::new(7, Stream::Traffic);
        let mut out = Vec::new();
        let mut per_request = vec![0u64; n as usize + 1];
        let mut aggregated = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            per_request[(0..n).filter(|_| r.pick(&mut rng) == Canary).count()] += 1;
            r.split(n, &mut rng, &mut out);
            aggregated[out[1] as usize] += 1;
        }
        for (name, counts) in [("per request", &per_request), ("aggregated", &aggregated)] {
            let (chi2, df) = chi_square_binomial(counts, n, p, draws as f64);
            let critical = CHI2_CRITICAL_0_001[df - 1];
            assert!(chi2 < critical, "{name}: chi2 {chi2} with {df} degrees of freedom");
        }
    }

    #[test]
    fn three_way_split_has_multinomial_marginals() {
        let r = WeightedRoute::new(&[(Stable, 5), (Canary, 3), (Other, 2)]).unwrap();
        let (n, reps) = (1_000u64, 4_000u64);
        let mut rng = SimRng::new(11, Stream::Traffic);
        let mut out = Vec::new();
        let mut sums = [0u64; 3];
        for _ in 0..reps {
            r.split(n, &mut rng, &mut out);
            assert_eq!(out.iter().sum::<u64>(), n);
            for (s, &k) in sums.iter_mut().zip(&out) {
                *s += k;
            }
        }
        for (i, &share) in [0.5, 0.3, 0.2].iter().enumerate() {
            let total = (n * reps) as f64;
            let sd = (total * share * (1.0 - share)).sqrt();
            let got = sums[i] as f64;
            assert!((got - total * share).abs() < Z * sd, "destination {i}: {got} vs {}", total * share);
            assert!((r.share(i) - share).abs() < 1e-15);
        }
    }
}
