//! Steps 1–4 of the judge for one metric: clean the samples, settle the cases without a test
//! (no data, identical data), compare the canary with the baseline by the Mann–Whitney
//! interval and an effect size, and flag critical failures. The rules are those of Kayenta's
//! `MannWhitneyClassifier` as `NetflixACAJudge-v1.0` runs it:
//!
//! 1. NaN strategy, then the outlier strategy, on each series (see `preprocess`).
//! 2. An empty series is `Nodata` under `Remove` (`NodataFailMetric` if the metric must have
//!    data and is not critical), and `Pass` under `Replace`. Identical sorted series, or a
//!    single distinct value across both, `Pass`.
//! 3. If each series is constant, Gaussian noise of standard deviation `value × 1e-5` is added
//!    to each (the canary's first) so ranks are not all tied. Then, with the Hodges–Lehmann
//!    estimate `e` and its interval `[l, u]` for canary − baseline: `High` if the direction
//!    allows an increase, `l > tolerance·|e|` and the effect size (when defined) is at least
//!    `allowed_increase`; `Low` if it allows a decrease, `u < −tolerance·|e|` and the effect
//!    size (when defined) is at most `allowed_decrease`; otherwise `Pass`.
//! 4. A critical metric classified `High` with an effect size of at least `critical_increase`
//!    (or `Low` with at most `critical_decrease`, or undefined) is a critical failure; so is a
//!    critical metric without data.

use super::mann_whitney::{ShiftEstimate, mann_whitney};
use super::preprocess::{NanStrategy, Outliers, preprocess};
use crate::engine::SimRng;

/// Which change of the metric is bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Only an increase fails (latency, errors).
    Increase,
    /// Only a decrease fails (throughput, success rate).
    Decrease,
    /// Either fails (Kayenta's default).
    #[default]
    Either,
}

impl Direction {
    fn allows_high(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }

    fn allows_low(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// How the size of a difference is measured once the test has found one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline), undefined (NaN) when either mean is 0 (the default).
    #[default]
    MeanRatio,
    /// The common-language effect size: P(canary sample > baseline sample), ties counting
    /// half (Vargha and Delaney's A).
    Cles,
}

impl EffectMeasure {
    /// The value meaning "no effect", which is also every threshold's default.
    pub fn neutral(self) -> f64 {
        match self {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        }
    }

    /// The effect of `canary` relative to `baseline` (both non-empty).
    pub fn measure(self, baseline: &[f64], canary: &[f64]) -> f64 {
        match self {
            EffectMeasure::MeanRatio => mean_ratio(baseline, canary),
            EffectMeasure::Cles => cles(baseline, canary),
        }
    }
}

/// Effect-size thresholds of one metric (Kayenta's `effectSize` block). A `High` needs an
/// effect of at least `allowed_increase`, a `Low` at most `allowed_decrease`; the critical
/// pair decides whether such a result fails the whole canary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EffectSize {
    pub allowed_increase: f64,
    pub allowed_decrease: f64,
    pub critical_increase: f64,
    pub critical_decrease: f64,
    pub measure: EffectMeasure,
}

impl EffectSize {
    /// Every threshold at the measure's neutral value (1.0 for the mean ratio, 0.5 for CLES),
    /// Kayenta's defaults. The Kayenta docs' example is 1.1 / 0.9 allowed and 5.0 / 0.5
    /// critical.
    pub fn new(measure: EffectMeasure) -> Self {
        let neutral = measure.neutral();
        Self {
            allowed_increase: neutral,
            allowed_decrease: neutral,
            critical_increase: neutral,
            critical_decrease: neutral,
            measure,
        }
    }
}

impl Default for EffectSize {
    fn default() -> Self {
        Self::new(EffectMeasure::MeanRatio)
    }
}

/// One metric of a canary configuration (Kayenta's `analysisConfigurations.canary` block).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricConfig {
    pub name: String,
    /// The scoring group.
    pub group: String,
    /// Default: `Either`.
    pub direction: Direction,
    /// A critical failure sets the score to 0. Default: false.
    pub critical: bool,
    /// Missing data counts as a failure of this metric. Default: false.
    pub must_have_data: bool,
    /// Default: `Remove`.
    pub nan_strategy: NanStrategy,
    /// Default: `Keep`.
    pub outliers: Outliers,
    /// Default: mean ratio, all thresholds 1.0.
    pub effect_size: EffectSize,
    /// Classified and reported, but left out of the score. Default: false.
    pub muted: bool,
}

impl MetricConfig {
    /// A metric with Kayenta's defaults.
    pub fn new(name: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            group: group.into(),
            direction: Direction::default(),
            critical: false,
            must_have_data: false,
            nan_strategy: NanStrategy::default(),
            outliers: Outliers::default(),
            effect_size: EffectSize::default(),
            muted: false,
        }
    }
}

/// The test's two parameters, shared by all metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitneyClassifier {
    /// A shift counts only if its interval clears `tolerance × |estimate|`.
    pub tolerance: f64,
    /// Confidence level of the interval.
    pub confidence: f64,
}

impl MannWhitneyClassifier {
    /// What `NetflixACAJudge-v1.0` uses: tolerance 0.25, confidence 0.98.
    pub const JUDGE: Self = Self { tolerance: 0.25, confidence: 0.98 };
}

/// A metric's label (Kayenta's `MetricClassificationLabel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    Pass,
    High,
    Low,
    /// No data; does not count in its group's score.
    Nodata,
    /// No data for a metric that must have data; counts as a failure in its group.
    NodataFailMetric,
    /// The comparison could not be computed (here: a sample held an infinity). Kayenta
    /// labels a metric whose classification threw `Error`; it counts nowhere in the score.
    Error,
}

/// What the test found, when it ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Shift of the canary relative to the baseline, with its interval.
    pub shift: ShiftEstimate,
    /// The configured effect measure (NaN when undefined).
    pub effect_size: f64,
    /// mean(canary) / mean(baseline), reported whatever the measure (NaN when undefined).
    pub mean_ratio: f64,
    /// Whether noise was added because both series were constant.
    pub noise_added: bool,
}

/// One metric's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricResult {
    pub name: String,
    pub group: String,
    pub classification: Classification,
    /// A critical failure: the canary's score is 0 if this is set and the label is not Pass.
    pub critical: bool,
    pub muted: bool,
    /// Absent when the metric was settled without a test (no data, identical data).
    pub comparison: Option<Comparison>,
}

/// Relative amplitude of the noise added to constant series.
const NOISE_SCALE: f64 = 1e-5;

/// Classifies one metric from its raw canary and baseline samples. `rng` is drawn from only
/// when both cleaned series are constant.
pub fn classify_metric(
    metric: &MetricConfig,
    classifier: &MannWhitneyClassifier,
    canary: &[f64],
    baseline: &[f64],
    rng: &mut SimRng,
) -> MetricResult {
    assert!(classifier.tolerance >= 0.0, "tolerance must not be negative");
    let canary = preprocess(canary, metric.nan_strategy, metric.outliers);
    let baseline = preprocess(baseline, metric.nan_strategy, metric.outliers);
    let result = |classification, critical, comparison| MetricResult {
        name: metric.name.clone(),
        group: metric.group.clone(),
        classification,
        critical,
        muted: metric.muted,
        comparison,
    };
    if canary.is_empty() || baseline.is_empty() {
        return result(
            no_data_label(metric),
            metric.critical && metric.nan_strategy == NanStrategy::Remove,
            None,
        );
    }
    if same_values(&canary, &baseline) {
        return result(Classification::Pass, false, None);
    }
    let Some(comparison) = compare(metric, classifier, &canary, &baseline, rng) else {
        return result(Classification::Error, false, None);
    };
    let label = label(metric, classifier, &comparison);
    let critical = metric.critical && is_critical(&metric.effect_size, label, comparison.effect_size);
    result(label, critical, Some(comparison))
}

/// Step 2 for an empty series.
fn no_data_label(metric: &MetricConfig) -> Classification {
    match metric.nan_strategy {
        NanStrategy::Replace => Classification::Pass,
        NanStrategy::Remove if metric.must_have_data && !metric.critical => Classification::NodataFailMetric,
        NanStrategy::Remove => Classification::Nodata,
    }
}

/// Step 2's "nothing to test": the same multiset of values, or one value overall.
fn same_values(canary: &[f64], baseline: &[f64]) -> bool {
    let sorted = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    if sorted(canary) == sorted(baseline) {
        return true;
    }
    let first = canary[0];
    canary.iter().chain(baseline).all(|&v| v == first)
}

/// Step 3's measurements, or None when the interval cannot be computed.
fn compare(
    metric: &MetricConfig,
    classifier: &MannWhitneyClassifier,
    canary: &[f64],
    baseline: &[f64],
    rng: &mut SimRng,
) -> Option<Comparison> {
    let constant = |s: &[f64]| s.iter().all(|&v| v == s[0]);
    let noise_added = constant(canary) && constant(baseline);
    let (canary, baseline) = if noise_added {
        let canary = with_noise(canary, rng);
        (canary, with_noise(baseline, rng))
    } else {
        (canary.to_vec(), baseline.to_vec())
    };
    let shift = mann_whitney(&canary, &baseline, classifier.confidence).ok()?;
    Some(Comparison {
        shift,
        effect_size: metric.effect_size.measure.measure(&baseline, &canary),
        mean_ratio: mean_ratio(&baseline, &canary),
        noise_added,
    })
}

/// A constant series plus Gaussian noise of standard deviation `value × 1e-5` (none for 0).
fn with_noise(constant: &[f64], rng: &mut SimRng) -> Vec<f64> {
    let sd = constant[0] * NOISE_SCALE;
    constant.iter().map(|&v| v + sd * rng.standard_normal()).collect()
}

/// Step 3's label.
fn label(
    metric: &MetricConfig,
    classifier: &MannWhitneyClassifier,
    comparison: &Comparison,
) -> Classification {
    let bound = classifier.tolerance * comparison.shift.estimate.abs();
    let effect = comparison.effect_size;
    let thresholds = &metric.effect_size;
    let high = metric.direction.allows_high()
        && comparison.shift.lower > bound
        && (effect.is_nan() || effect >= thresholds.allowed_increase);
    let low = metric.direction.allows_low()
        && comparison.shift.upper < -bound
        && (effect.is_nan() || effect <= thresholds.allowed_decrease);
    if high {
        Classification::High
    } else if low {
        Classification::Low
    } else {
        Classification::Pass
    }
}

/// Step 4 for a critical metric that was tested.
fn is_critical(thresholds: &EffectSize, label: Classification, effect: f64) -> bool {
    match label {
        Classification::High => effect.is_nan() || effect >= thresholds.critical_increase,
        Classification::Low => effect.is_nan() || effect <= thresholds.critical_decrease,
        _ => false,
    }
}

/// mean(canary) / mean(baseline); NaN if either mean is 0.
pub fn mean_ratio(baseline: &[f64], canary: &[f64]) -> f64 {
    let (baseline_mean, canary_mean) = (mean(baseline), mean(canary));
    if baseline_mean == 0.0 || canary_mean == 0.0 { f64::NAN } else { canary_mean / baseline_mean }
}

/// The arithmetic mean with one correction pass (Commons Math's `StatUtils.mean`).
fn mean(values: &[f64]) -> f64 {
    assert!(!values.is_empty());
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    let correction: f64 = values.iter().map(|v| v - first).sum();
    first + correction / n
}

/// The common-language effect size: the share of (canary, baseline) pairs in which the
/// canary sample is larger, ties counting half. 0.5 means no effect.
pub fn cles(baseline: &[f64], canary: &[f64]) -> f64 {
    assert!(!baseline.is_empty() && !canary.is_empty());
    let mut sorted = baseline.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Twice the Mann–Whitney U of the canary: every count is an integer, so this is exact.
    let twice_u: f64 = canary
        .iter()
        .map(|&v| {
            let below = sorted.partition_point(|&b| b < v);
            let up_to = sorted.partition_point(|&b| b <= v);
            (2 * below + (up_to - below)) as f64
        })
        .sum();
    twice_u / (2.0 * baseline.len() as f64 * canary.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::super::vectors::*;
    use super::*;
    use crate::engine::Stream;
    use Classification::*;

    /// The parameters of Kayenta's `ClassifierSuite` for most cases.
    const SUITE: MannWhitneyClassifier = MannWhitneyClassifier { tolerance: 0.10, confidence: 0.95 };
    /// Its CLES cases.
    const SUITE_CLES: MannWhitneyClassifier = MannWhitneyClassifier { tolerance: 0.20, confidence: 0.98 };

    fn rng() -> SimRng {
        SimRng::new(7, Stream::Controllers)
    }

    fn run(
        classifier: MannWhitneyClassifier,
        canary: &[f64],
        baseline: &[f64],
        configure: impl FnOnce(&mut MetricConfig),
    ) -> MetricResult {
        let mut metric = MetricConfig::new("m", "g");
        configure(&mut metric);
        classify_metric(&metric, &classifier, canary, baseline, &mut rng())
    }

    fn label_of(canary: &[f64], baseline: &[f64], direction: Direction) -> Classification {
        run(SUITE, canary, baseline, |m| m.direction = direction).classification
    }

    /// `(allowed_decrease, allowed_increase)`, in the order of upstream's tuples.
    fn allowed(m: &mut MetricConfig, decrease: f64, increase: f64) {
        (m.effect_size.allowed_decrease, m.effect_size.allowed_increase) = (decrease, increase);
    }

    fn critical(m: &mut MetricConfig, decrease: f64, increase: f64) {
        m.critical = true;
        (m.effect_size.critical_decrease, m.effect_size.critical_increase) = (decrease, increase);
    }

    /// `ClassifierSuite`'s copy of the zero-heavy canary, one zero longer than the
    /// Mann–Whitney suite's.
    fn zero_heavy_experiment() -> Vec<f64> {
        [ZERO_HEAVY_EXPERIMENT, &[0.0]].concat()
    }

    const SMALL: [f64; 5] = [1.0, 2.2, 1.1, 2.5, 3.0];
    const LARGE: [f64; 5] = [20.0, 22.0, 21.0, 25.0, 30.0];

    #[test]
    fn upstream_pass_high_low_by_direction() {
        assert_eq!(label_of(AROUND_10_A, AROUND_10_B, Direction::Either), Pass);
        assert_eq!(label_of(AROUND_20_A, AROUND_10_B, Direction::Either), High);
        assert_eq!(label_of(AROUND_10_A, AROUND_20_B, Direction::Either), Low);
        assert_eq!(label_of(AROUND_10_A, AROUND_20_B, Direction::Increase), Pass);
        assert_eq!(label_of(AROUND_20_A, AROUND_10_B, Direction::Decrease), Pass);
        assert_eq!(label_of(AROUND_20_A, AROUND_10_B, Direction::Increase), High);
        assert_eq!(label_of(AROUND_10_A, AROUND_20_B, Direction::Decrease), Low);
        let large = run(SUITE, &zero_heavy_experiment(), ZERO_HEAVY_CONTROL, |_| {});
        assert_eq!((large.classification, large.critical), (High, false));
    }

    #[test]
    fn upstream_mean_ratio_thresholds() {
        assert_eq!(run(SUITE, &LARGE, &SMALL, |m| allowed(m, 0.8, 1.2)).classification, High);
        let low = run(SUITE, AROUND_10_A, AROUND_20_B, |m| {
            m.direction = Direction::Decrease;
            allowed(m, 0.8, 1.2);
        });
        assert_eq!(low.classification, Low);
        // The shift is significant, but the ratio (≈ 0.57) is above the allowed 0.5.
        let canary = [10.0, 12.2, 10.1, 12.5, 23.0];
        assert_eq!(run(SUITE, &canary, &LARGE, |m| allowed(m, 0.5, 1.0)).classification, Pass);
        let zeros = run(SUITE, &zero_heavy_experiment(), ZERO_HEAVY_CONTROL, |m| allowed(m, 1.0, 5.0));
        assert_eq!(zeros.classification, Pass);
    }

    #[test]
    fn upstream_cles_thresholds() {
        let cles = |m: &mut MetricConfig, decrease, increase| {
            m.effect_size = EffectSize::new(EffectMeasure::Cles);
            allowed(m, decrease, increase);
        };
        let pass = run(SUITE_CLES, CLES_PASS_EXPERIMENT, CLES_PASS_CONTROL, |m| cles(m, 0.5, 0.8));
        assert_eq!(pass.classification, Pass);
        let high = run(SUITE_CLES, CLES_HIGH_EXPERIMENT, CLES_HIGH_CONTROL, |m| cles(m, 0.2, 0.8));
        assert_eq!(high.classification, High);
        let low = run(SUITE_CLES, CLES_LOW_EXPERIMENT, CLES_LOW_CONTROL, |m| cles(m, 0.2, 0.8));
        assert_eq!(low.classification, Low);
    }

    #[test]
    fn upstream_critical_thresholds() {
        let outcome = |r: MetricResult| (r.classification, r.critical);
        assert_eq!(outcome(run(SUITE, &LARGE, &SMALL, |m| critical(m, 1.0, 1.2))), (High, true));
        let low = run(SUITE, &[2.0, 2.0, 2.0, 2.0, 3.0], &[10.0, 20.2, 10.1, 20.5, 30.0], |m| {
            critical(m, 1.2, 1.0)
        });
        assert_eq!(outcome(low), (Low, true));
        // The ratio is 23.6 / 1.96 ≈ 12.0: High, but short of a critical 13.
        let below = run(SUITE, &LARGE, &SMALL, |m| {
            allowed(m, 1.0, 5.0);
            critical(m, 1.0, 13.0);
        });
        assert_eq!(outcome(below), (High, false));
        let not_high = run(SUITE, &LARGE, &SMALL, |m| {
            allowed(m, 1.0, 13.0);
            critical(m, 1.0, 15.0);
        });
        assert_eq!(outcome(not_high), (Pass, false));
        assert_eq!(outcome(run(SUITE, &LARGE, &SMALL, |m| m.critical = true)), (High, true));
    }

    #[test]
    fn upstream_ties_and_identical_data_pass() {
        assert_eq!(label_of(&[1.0, 1.0, 1.0], &[1.0, 1.0], Direction::Decrease), Pass);
        assert_eq!(
            label_of(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 4.0, 3.0, 2.0, 1.0], Direction::Decrease),
            Pass
        );
        assert_eq!(label_of(&[0.0, 1.0, 1.0, 1.0, 1.0], &[1.0; 5], Direction::Decrease), Pass);
        assert_eq!(label_of(&[1.0, 1.0, 1.0, 1.0, 10.0], &[1.0; 5], Direction::Either), Pass);
    }

    /// Two constant series get noise, so the test can still find the shift.
    #[test]
    fn upstream_constant_series_are_compared_with_noise() {
        let tens = run(SUITE, &[10.0; 5], &[1.0; 5], |_| {});
        assert_eq!(tens.classification, High);
        assert!(tens.comparison.unwrap().noise_added);
        let over_zero = run(SUITE, &[10.0; 5], &[0.0; 5], |_| {});
        assert_eq!(over_zero.classification, High);
        assert!(over_zero.comparison.unwrap().mean_ratio.is_nan());
        let zeros = run(SUITE, &[0.0; 5], &[0.0; 5], |m| allowed(m, 0.8, 1.2));
        assert_eq!((zeros.classification, zeros.comparison), (Pass, None));
    }

    /// A zero mean makes the ratio undefined, and an undefined effect never vetoes a label.
    #[test]
    fn upstream_zero_means() {
        let busy = [54.9, 54.5, 55.1, 55.6, 57.4];
        let high = run(SUITE, &busy, &[0.0; 5], |m| allowed(m, 0.8, 1.2));
        assert_eq!(high.classification, High);
        assert!(high.comparison.unwrap().mean_ratio.is_nan());
        let low = run(SUITE, &[0.0; 5], &busy, |m| allowed(m, 0.8, 1.2));
        assert_eq!(low.classification, Low);
        let rates = [0.05000000074505806, 0.05000000074505806, 0.01666666753590107, 0.01666666753590107];
        let rates = [&rates[..], &[0.01666666753590107, 0.05000000074505806, 0.03333333507180214]].concat();
        let rates = [&rates[..], &[0.05000000260770321, 0.05000000260770321, 0.13333333656191826]].concat();
        let result = run(SUITE, &rates, &[0.0; 10], |m| {
            m.nan_strategy = NanStrategy::Replace;
            critical(m, 0.8, 1.2);
        });
        assert_eq!((result.classification, result.critical), (High, true));
    }

    #[test]
    fn upstream_missing_data() {
        let some = [1.0, 2.0, 3.0, 4.0, 5.0];
        let missing = run(SUITE, &[], &some, |m| m.direction = Direction::Decrease);
        assert_eq!((missing.classification, missing.critical), (Nodata, false));
        let critical = run(SUITE, &[], &some, |m| m.critical = true);
        assert_eq!((critical.classification, critical.critical), (Nodata, true));
        let replaced = run(SUITE, &[], &some, |m| m.nan_strategy = NanStrategy::Replace);
        assert_eq!((replaced.classification, replaced.critical), (Pass, false));
        let required = run(SUITE, &some, &[], |m| m.must_have_data = true);
        assert_eq!((required.classification, required.critical), (NodataFailMetric, false));
        // Required and critical: the critical flag wins, as a critical Nodata.
        let both = run(SUITE, &some, &[], |m| (m.must_have_data, m.critical) = (true, true));
        assert_eq!((both.classification, both.critical), (Nodata, true));
    }

    /// NaNs are dropped by default (all-NaN is no data); replaced by 0 they are data.
    #[test]
    fn nan_samples_follow_the_strategy() {
        let nans = [f64::NAN; 6];
        let some = [4.0, 5.0, 6.0, 5.0, 4.0, 6.0];
        assert_eq!(run(MannWhitneyClassifier::JUDGE, &nans, &some, |_| {}).classification, Nodata);
        let replaced =
            run(MannWhitneyClassifier::JUDGE, &nans, &some, |m| m.nan_strategy = NanStrategy::Replace);
        assert_eq!(replaced.classification, Low);
        let infinite = run(MannWhitneyClassifier::JUDGE, &[f64::INFINITY, 1.0], &some, |_| {});
        assert_eq!((infinite.classification, infinite.critical), (Error, false));
    }

    fn latency(base_ms: f64) -> Vec<f64> {
        (0..30).map(|i| base_ms + f64::from(i % 7) - 3.0).collect()
    }

    /// The judge's own parameters on hand-made latency series.
    #[test]
    fn judge_parameters_on_clear_cases() {
        let judge = MannWhitneyClassifier::JUDGE;
        let increase = |m: &mut MetricConfig| m.direction = Direction::Increase;
        let slower = run(judge, &latency(150.0), &latency(100.0), increase);
        assert_eq!(slower.classification, High);
        let shift = slower.comparison.unwrap().shift;
        assert!((shift.estimate - 50.0).abs() < 1e-3, "{shift:?}");
        assert!((slower.comparison.unwrap().mean_ratio - 1.5).abs() < 0.01);
        assert_eq!(run(judge, &latency(100.0), &latency(100.0), increase).classification, Pass);
        assert_eq!(run(judge, &latency(50.0), &latency(100.0), increase).classification, Pass);
        assert_eq!(run(judge, &latency(50.0), &latency(100.0), |_| {}).classification, Low);
    }

    /// Step 3's rule on a made-up interval: significant (0 ∉ [2, 18]) but, at the judge's
    /// tolerance, not clear of 0.25 × 10; at 0.1 it is.
    #[test]
    fn the_interval_must_clear_a_fraction_of_the_estimate() {
        let shift = ShiftEstimate { estimate: 10.0, lower: 2.0, upper: 18.0 };
        let comparison = Comparison { shift, effect_size: 1.5, mean_ratio: 1.5, noise_added: false };
        let metric = MetricConfig::new("m", "g");
        assert_eq!(label(&metric, &MannWhitneyClassifier::JUDGE, &comparison), Pass);
        assert_eq!(
            label(
                &metric,
                &MannWhitneyClassifier { tolerance: 0.1, ..MannWhitneyClassifier::JUDGE },
                &comparison
            ),
            High
        );
        let down = ShiftEstimate { estimate: -10.0, lower: -18.0, upper: -3.0 };
        let comparison = Comparison { shift: down, effect_size: 0.5, ..comparison };
        assert_eq!(label(&metric, &MannWhitneyClassifier::JUDGE, &comparison), Low);
        // An effect inside the allowed band vetoes the label.
        let mut lenient = metric.clone();
        lenient.effect_size.allowed_decrease = 0.4;
        assert_eq!(label(&lenient, &MannWhitneyClassifier::JUDGE, &comparison), Pass);
    }

    #[test]
    fn noise_is_reproducible_from_the_seed() {
        let metric = MetricConfig::new("m", "g");
        let judge = MannWhitneyClassifier::JUDGE;
        let a =
            classify_metric(&metric, &judge, &[3.0; 8], &[2.0; 8], &mut SimRng::new(1, Stream::Controllers));
        let b =
            classify_metric(&metric, &judge, &[3.0; 8], &[2.0; 8], &mut SimRng::new(1, Stream::Controllers));
        let c =
            classify_metric(&metric, &judge, &[3.0; 8], &[2.0; 8], &mut SimRng::new(2, Stream::Controllers));
        assert_eq!(a, b);
        assert_ne!(a.comparison.unwrap().shift, c.comparison.unwrap().shift);
        assert_eq!(a.classification, High);
    }

    /// StatisticSuite's effect-size cases.
    #[test]
    fn upstream_effect_sizes() {
        assert_eq!(mean_ratio(&[1.0; 5], &[1.0; 5]), 1.0);
        assert_eq!(mean_ratio(&[1.0; 5], &[10.0; 5]), 10.0);
        assert_eq!(mean_ratio(&[100.0; 5], &[10.0; 5]), 0.1);
        assert!(mean_ratio(&[0.0; 5], &[10.0; 5]).is_nan());
        let ramp = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(cles(&ramp, &ramp), 0.5);
        assert_eq!(cles(CLES_NO_OVERLAP_CONTROL, CLES_NO_OVERLAP_EXPERIMENT), 0.0);
        assert!((cles(CLES_771_CONTROL, CLES_771_EXPERIMENT) - 0.771).abs() < 0.001);
        assert_eq!(cles(CLES_012_CONTROL, CLES_012_EXPERIMENT), 0.12);
        // Hand count with ties: 3 vs {1, 3, 5} scores 1 + 0.5 + 0.
        assert_eq!(cles(&[1.0, 3.0, 5.0], &[3.0]), 0.5);
        assert_eq!(cles(&[1.0, 3.0, 5.0], &[4.0, 6.0]), (2.0 + 3.0) / 6.0);
    }
}
