//! The two-sample Mann–Whitney (Wilcoxon rank-sum) confidence interval for a location shift,
//! and the Hodges–Lehmann estimate of that shift, by the normal approximation, as R's
//! `wilcox.test(x, y, conf.int = TRUE)` computes them when it cannot use the exact
//! distribution, and as Kayenta's `MannWhitney` reimplements that.
//!
//! The rules, from Kayenta's `kayenta-mannwhitney` (which follows R's `wilcox.test.R`):
//! - For a candidate shift μ, rank `x − μ` together with `y` (ties get their average rank) and
//!   take `dz = Σ ranks(x − μ) − nₓ(nₓ+1)/2 − nₓn_y/2`, the centred rank-sum statistic.
//! - Its standard deviation with the tie correction is
//!   `σ = √(nₓn_y/12 · [(nₓ+n_y+1) − Σ(t³−t) / ((nₓ+n_y)(nₓ+n_y−1))])`, where t runs over the
//!   sizes of the groups of tied values.
//! - The statistic `f(μ, z) = (dz − 0.5·sign(dz)) / σ − z` (a continuity correction towards 0)
//!   falls as μ grows. The estimate solves `f(μ, 0) = 0`; the confidence interval at level
//!   `c` is `[μ : f(μ, +z) = 0, μ : f(μ, −z) = 0]` with `z = Φ⁻¹(1 − (1 − c)/2)`.
//! - μ is searched in `[min x − max y, max x − min y]`. For the interval, if f is already ≤ 0
//!   at the lower end the bound is that end; if it is still ≥ 0 at the upper end, that end.
//!   Otherwise, and always for the estimate, the root is found with Brent's method as R's
//!   `uniroot` runs it (`zeroin`, absolute tolerance 1e-4, at most 1000 iterations).
//!
//! f is a step function of μ, so "the root" is where it crosses zero, located to about
//! 5e-5: bounds and estimates are accurate to that tolerance, not to the last digit.

use statrs::distribution::{ContinuousCDF, Normal};

/// The Hodges–Lehmann estimate of the shift `x − y` and its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShiftEstimate {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Why no interval could be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MannWhitneyError {
    #[error("a sample is empty")]
    EmptySample,
    #[error("a sample holds a NaN or an infinity")]
    NonFinite,
    /// Both samples are constant, so at the one candidate shift every observation is tied
    /// and σ is 0 (R: "cannot compute confidence interval when all observations are tied").
    #[error("cannot compute a confidence interval when all observations are tied")]
    AllTied,
}

/// Absolute tolerance of the root search (R's `uniroot` default as `wilcox.test` calls it).
const ROOT_TOLERANCE: f64 = 1e-4;
/// Iteration limit of the root search.
const ROOT_ITERATIONS_MAX: u32 = 1000;

/// The shift of `x` (the canary) relative to `y` (the baseline) at confidence level
/// `confidence` (0 < confidence < 1).
pub fn mann_whitney(x: &[f64], y: &[f64], confidence: f64) -> Result<ShiftEstimate, MannWhitneyError> {
    assert!(confidence > 0.0 && confidence < 1.0, "confidence level {confidence} outside (0, 1)");
    let statistic = RankSumStatistic::new(x, y)?;
    let (shift_min, shift_max) = statistic.shift_range();
    let z_half_alpha = standard_normal_quantile((1.0 - confidence) / 2.0);
    assert!(z_half_alpha < 0.0);
    let lower = statistic.interval_bound(-z_half_alpha);
    let upper = statistic.interval_bound(z_half_alpha);
    let f = |shift: f64| statistic.deviation(shift, 0.0);
    let estimate = zeroin(shift_min, shift_max, f(shift_min), f(shift_max), f);
    assert!(estimate.is_finite() && lower.is_finite() && upper.is_finite());
    Ok(ShiftEstimate { estimate, lower, upper })
}

/// Φ⁻¹(p) of the standard normal distribution.
fn standard_normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Both samples sorted, so that ranking `x − μ` with `y` is a merge.
pub(super) struct RankSumStatistic {
    x_sorted: Vec<f64>,
    y_sorted: Vec<f64>,
}

impl RankSumStatistic {
    pub(super) fn new(x: &[f64], y: &[f64]) -> Result<Self, MannWhitneyError> {
        if x.is_empty() || y.is_empty() {
            return Err(MannWhitneyError::EmptySample);
        }
        if !x.iter().chain(y).all(|v| v.is_finite()) {
            return Err(MannWhitneyError::NonFinite);
        }
        let mut x_sorted = x.to_vec();
        let mut y_sorted = y.to_vec();
        x_sorted.sort_by(f64::total_cmp);
        y_sorted.sort_by(f64::total_cmp);
        let constant = |s: &[f64]| s[0] == s[s.len() - 1];
        if constant(&x_sorted) && constant(&y_sorted) {
            return Err(MannWhitneyError::AllTied);
        }
        Ok(Self { x_sorted, y_sorted })
    }

    /// `[min x − max y, max x − min y]`: every pairwise difference lies in it.
    pub(super) fn shift_range(&self) -> (f64, f64) {
        let (x, y) = (&self.x_sorted, &self.y_sorted);
        (x[0] - y[y.len() - 1], x[x.len() - 1] - y[0])
    }

    /// One bound of the confidence interval: the shift where `f(·, z)` crosses zero, or an end
    /// of the range when it does not cross inside it.
    fn interval_bound(&self, z: f64) -> f64 {
        let (shift_min, shift_max) = self.shift_range();
        let at_min = self.deviation(shift_min, z);
        if at_min <= 0.0 {
            return shift_min;
        }
        let at_max = self.deviation(shift_max, z);
        if at_max >= 0.0 {
            return shift_max;
        }
        zeroin(shift_min, shift_max, at_min, at_max, |shift| self.deviation(shift, z))
    }

    /// `f(μ, z) = (dz − 0.5·sign(dz)) / σ − z` for the shift μ = `shift`.
    pub(super) fn deviation(&self, shift: f64, z: f64) -> f64 {
        let (rank_sum_x, tie_term) = self.rank_sum_and_ties(shift);
        let nx = self.x_sorted.len() as f64;
        let ny = self.y_sorted.len() as f64;
        let dz = rank_sum_x - nx * (nx + 1.0) / 2.0 - nx * ny / 2.0;
        let correction = if dz > 0.0 {
            0.5
        } else if dz < 0.0 {
            -0.5
        } else {
            0.0
        };
        let n = nx + ny;
        let sigma = (nx * ny / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        // Ruled out by `new`: only two constant samples can be all tied at some shift.
        assert!(sigma > 0.0, "all observations tied at shift {shift}");
        (dz - correction) / sigma - z
    }

    /// The sum of the (average) ranks of `x − shift` among `x − shift` and `y`, and
    /// `Σ (t³ − t)` over the groups of tied values. Ranks are halves, so the sums are exact.
    fn rank_sum_and_ties(&self, shift: f64) -> (f64, f64) {
        let (x, y) = (&self.x_sorted, &self.y_sorted);
        let (mut i, mut j) = (0, 0);
        let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
        let mut ranked = 0usize;
        while i < x.len() || j < y.len() {
            let next_x = x.get(i).map(|v| v - shift);
            let value = match (next_x, y.get(j)) {
                (Some(a), Some(&b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(&b)) => b,
                (None, None) => unreachable!(),
            };
            let from_x = x[i..].iter().take_while(|&&v| v - shift == value).count();
            let from_y = y[j..].iter().take_while(|&&v| v == value).count();
            let tied = from_x + from_y;
            assert!(tied > 0, "the merge must advance");
            // Positions ranked+1 ..= ranked+tied share their mean rank.
            let rank = ranked as f64 + (tied as f64 + 1.0) / 2.0;
            rank_sum_x += from_x as f64 * rank;
            let t = tied as f64;
            tie_term += t * t * t - t;
            (i, j, ranked) = (i + from_x, j + from_y, ranked + tied);
        }
        assert_eq!(ranked, x.len() + y.len());
        (rank_sum_x, tie_term)
    }
}

/// Brent's root finder in the form of R's `zeroin` (Brent 1973, as in netlib's `zeroin.c`):
/// the root of `f` in `[a, b]` given `f(a)` and `f(b)`, to [`ROOT_TOLERANCE`]. It keeps `b` as
/// the best estimate and `c` on the other side of the root, and at each step takes an inverse
/// quadratic (or secant) step when that lands well inside the bracket, else bisects.
pub(super) fn zeroin(a: f64, b: f64, fa: f64, fb: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    let (mut c, mut fc) = (a, fa);
    if fa == 0.0 {
        return a;
    }
    if fb == 0.0 {
        return b;
    }
    for _ in 0..=ROOT_ITERATIONS_MAX {
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // Make b the point with the smaller |f|.
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tol_act = 2.0 * f64::EPSILON * b.abs() + ROOT_TOLERANCE / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return b;
        }
        if prev_step.abs() >= tol_act
            && fa.abs() > fb.abs()
            && let Some(step) = interpolation_step(a, b, c, fa, fb, fc, prev_step, tol_act)
        {
            new_step = step;
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        (a, fa) = (b, fb);
        b += new_step;
        fb = f(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            (c, fc) = (a, fa);
        }
    }
    b
}

/// The secant (two distinct points) or inverse quadratic step from b, if it stays within
/// three quarters of the way to c and is less than half the previous step.
#[allow(clippy::too_many_arguments)]
fn interpolation_step(
    a: f64,
    b: f64,
    c: f64,
    fa: f64,
    fb: f64,
    fc: f64,
    prev_step: f64,
    tol_act: f64,
) -> Option<f64> {
    let cb = c - b;
    let (mut p, mut q);
    if a == c {
        let t1 = fb / fa;
        p = cb * t1;
        q = 1.0 - t1;
    } else {
        let qa = fa / fc;
        let t1 = fb / fc;
        let t2 = fb / fa;
        p = t2 * (cb * qa * (qa - t1) - (b - a) * (t1 - 1.0));
        q = (qa - 1.0) * (t1 - 1.0) * (t2 - 1.0);
    }
    if p > 0.0 {
        q = -q;
    } else {
        p = -p;
    }
    let inside = p < 0.75 * cb * q - (tol_act * q).abs() / 2.0;
    let shrinking = p < (prev_step * q / 2.0).abs();
    (inside && shrinking).then(|| p / q)
}

#[cfg(test)]
mod tests {
    use super::super::vectors::*;
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    /// MannWhitneySuite "Tie out with R Version": R's wilcox.test at 95 %.
    #[test]
    fn ties_out_with_r_on_latency_samples() {
        let r = mann_whitney(R_TIE_OUT_EXPERIMENT, R_TIE_OUT_CONTROL, 0.95).unwrap();
        assert!(close(r.lower, -0.500002521696696, 1e-6), "{r:?}");
        assert!(close(r.upper, -3.486287505871302E-5, 1e-6), "{r:?}");
        assert!(close(r.estimate, -0.4999393907180323, 1e-4), "{r:?}");
    }

    /// MannWhitneySuite "Tie out with R Version (Large)": R's wilcox.test at 98 %.
    #[test]
    fn ties_out_with_r_on_large_tied_samples() {
        let r = mann_whitney(R_TIE_OUT_LARGE_EXPERIMENT, R_TIE_OUT_LARGE_CONTROL, 0.98).unwrap();
        assert!(close(r.lower, -0.4999173250549087, 1e-6), "{r:?}");
        assert!(close(r.upper, -6.912685789769486E-6, 1e-6), "{r:?}");
        assert!(close(r.estimate, -3.45044082729315E-5, 1e-4), "{r:?}");
    }

    /// MannWhitneySuite "Intermediate Values / Variables": R's values of the search range, of
    /// f at its ends, and of the roots zeroin finds from the full range at 95 %.
    #[test]
    fn intermediate_values_match_r() {
        let (x, y) = (ZERO_HEAVY_EXPERIMENT, ZERO_HEAVY_CONTROL);
        let s = RankSumStatistic::new(x, y).unwrap();
        let (lo, hi) = s.shift_range();
        assert!(close(lo, -3.124999999999986, 1e-6) && close(hi, 5.555555555555557, 1e-6));
        let z = -standard_normal_quantile(0.025);
        assert!(close(z, 1.9599639845400536, 1e-6));
        let checks = [
            (s.deviation(lo, z), 17.090968923762254),
            (s.deviation(hi, z), -20.997687930433106),
            (s.deviation(lo, -z), 21.01089689284236),
            (s.deviation(hi, -z), -17.077759961353),
        ];
        for (actual, expected) in checks {
            assert!(close(actual, expected, 1e-6), "{actual} vs {expected}");
        }
        let root = |z: f64| zeroin(lo, hi, s.deviation(lo, z), s.deviation(hi, z), |m| s.deviation(m, z));
        assert!(close(root(z), 3.521755377702165E-5, 1e-6), "{}", root(z));
        assert!(close(root(-z), 2.02456461662334E-5, 1e-6), "{}", root(-z));
        assert!(close(root(0.0), 2.6279243045155653E-5, 1e-6), "{}", root(0.0));
    }

    /// Four against four, no ties: dz at a shift μ between pairwise differences is
    /// #(differences > μ) − 8, σ = √(16/12 · 9) = √12, and the statistic is a step function.
    #[test]
    fn statistic_matches_a_hand_count() {
        let s = RankSumStatistic::new(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.shift_range(), (6.0, 39.0));
        let sigma = 12f64.sqrt();
        // Differences are 6..=9, 16..=19, 26..=29, 36..=39; 8 of them exceed 22.5: dz = 0.
        assert_eq!(s.deviation(22.5, 0.0), 0.0);
        // 12 exceed 12.5: dz = 4, corrected to 3.5.
        assert!(close(s.deviation(12.5, 0.0), 3.5 / sigma, 1e-15));
        // At μ = 6 the smallest difference ties: dz = 7.5 and one tie pair (t = 2).
        let sigma_tied = (16.0 / 12.0 * (9.0 - 6.0 / 56.0f64)).sqrt();
        assert!(close(s.deviation(6.0, 0.0), 7.0 / sigma_tied, 1e-15));
    }

    /// The same samples through the whole interval: the estimate is the median of the 16
    /// pairwise differences (22.5 = (19 + 26)/2; f is exactly 0 on (19, 26) and the first
    /// bisection lands on 22.5), and each 95 % bound is where f jumps across ±1.96, at the
    /// extreme differences 6 and 39: at μ = 6 the tied statistic is 7/σ' = 2.03, just above
    /// it 6.5/σ = 1.88. MannWhitneySuite asserted [6, 39] and 22.5 when it used Commons
    /// Math's solver; zeroin lands within its tolerance of the jumps.
    #[test]
    fn separated_samples_give_the_median_difference() {
        let r = mann_whitney(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
        assert!(close(r.estimate, 22.5, 1e-12), "{r:?}");
        assert!(close(r.lower, 6.0, ROOT_TOLERANCE), "{r:?}");
        assert!(close(r.upper, 39.0, ROOT_TOLERANCE), "{r:?}");
    }

    #[test]
    fn the_interval_brackets_the_estimate_and_narrows_with_confidence() {
        let wide = mann_whitney(AROUND_20_A, AROUND_10_B, 0.99).unwrap();
        let narrow = mann_whitney(AROUND_20_A, AROUND_10_B, 0.80).unwrap();
        for r in [wide, narrow] {
            assert!(r.lower < r.estimate && r.estimate < r.upper, "{r:?}");
        }
        assert!(wide.lower < narrow.lower && narrow.upper < wide.upper);
        // The canary sits about 10 above the baseline.
        assert!(close(wide.estimate, 10.0, 1.5), "{wide:?}");
        // Swapping the samples mirrors the interval.
        let mirrored = mann_whitney(AROUND_10_B, AROUND_20_A, 0.99).unwrap();
        assert!(close(mirrored.lower, -wide.upper, 1e-3) && close(mirrored.upper, -wide.lower, 1e-3));
    }

    #[test]
    fn degenerate_samples_are_errors() {
        assert_eq!(mann_whitney(&[], &[1.0], 0.95), Err(MannWhitneyError::EmptySample));
        assert_eq!(mann_whitney(&[1.0, f64::INFINITY], &[1.0], 0.95), Err(MannWhitneyError::NonFinite));
        assert_eq!(mann_whitney(&[2.0, 2.0], &[1.0, 1.0, 1.0], 0.95), Err(MannWhitneyError::AllTied));
        // One constant sample is fine: the other one breaks the ties.
        assert!(mann_whitney(&[2.0, 2.0], &[1.0, 1.5], 0.95).is_ok());
    }

    #[test]
    fn zeroin_finds_smooth_roots_to_its_tolerance() {
        let root = zeroin(0.0, 2.0, -2.0, 2.0, |v| v * v - 2.0);
        assert!(close(root, std::f64::consts::SQRT_2, ROOT_TOLERANCE), "{root}");
        assert_eq!(zeroin(1.0, 3.0, 0.0, 5.0, |_| unreachable!()), 1.0);
    }
}
