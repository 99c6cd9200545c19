//! Statistics of replications: per-metric summaries with Student-t confidence intervals,
//! outcome shares with Wilson intervals, and the two-sample tests used to compare the
//! simulator's fidelities.
//!
//! Everything here is pure and deterministic: floats are summed sequentially in index order
//! (never by a parallel reduction), so the same records give byte-identical summaries
//! whatever thread count produced them.

use super::record::{Outcome, RunRecord};
use super::selection::RankSelector;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The 97.5% quantile of the standard normal, for the 95% Wilson interval.
const Z_975: f64 = 1.959_963_984_540_054;

/// Descriptive statistics of one metric over the replications where it was measured.
///
/// * `std_dev` is the sample standard deviation (divisor n − 1); `std_error = std_dev / √n`.
/// * `ci95_low..ci95_high` is the 95% confidence interval of the mean from Student's t with
///   n − 1 degrees of freedom. With n == 1 the spread is unknown: `std_dev` and `std_error`
///   are NaN and the interval degenerates to `[mean, mean]`.
/// * `median` and `p95` are sample quantiles of **type 7** (Hyndman & Fan 1996; the default
///   of R's `quantile`, NumPy's `quantile` and Excel's `PERCENTILE.INC`): linear
///   interpolation between order statistics at h = (n − 1)·p.
///
/// Serialized as `{"n", "mean", "std_dev", "std_error", "ci95": [low, high], "median",
/// "p95", "min", "max"}`; a non-finite number is written `null` (JSON has no NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std_dev: f64,
    pub std_error: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub median: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarizes `values`, or `None` when there is nothing to summarize.
    ///
    /// NaN values are treated as missing measurements (like a blank `runs.csv` cell): they
    /// are skipped and not counted in `n`. Infinite values are kept and propagate.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        // Mean and variance from the values in their given order (not sorted), sequentially.
        let mean = sequential_mean(values.iter().copied().filter(|v| !v.is_nan()), n);
        let mean = mean.clamp(sorted[0], sorted[n - 1]);
        let mut ss = 0.0;
        if n > 1 {
            for v in values.iter().copied().filter(|v| !v.is_nan()) {
                ss += (v - mean) * (v - mean);
            }
        }
        let (median, p95) = (quantile_sorted(&sorted, 0.5), quantile_sorted(&sorted, 0.95));
        Some(Summary::assemble(n, mean, ss, median, p95, sorted[0], sorted[n - 1]))
    }

    /// The summary from its parts: `n ≥ 1` values, their (clamped) mean, the sum of squared
    /// deviations from it (taken in the values' order), the quantiles and the extremes.
    fn assemble(n: usize, mean: f64, ss: f64, median: f64, p95: f64, min: f64, max: f64) -> Summary {
        let (std_dev, std_error, ci95_low, ci95_high) = if n == 1 {
            (f64::NAN, f64::NAN, mean, mean)
        } else {
            let std_dev = (ss / (n - 1) as f64).sqrt();
            let std_error = std_dev / (n as f64).sqrt();
            let half = t_975(n - 1) * std_error;
            (std_dev, std_error, mean - half, mean + half)
        };
        Summary { n, mean, std_dev, std_error, ci95_low, ci95_high, median, p95, min, max }
    }

    /// Half the width of the 95% confidence interval (0 when n == 1).
    pub fn ci95_half_width(&self) -> f64 {
        (self.ci95_high - self.ci95_low) / 2.0
    }
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Summary", 9)?;
        s.serialize_field("n", &self.n)?;
        s.serialize_field("mean", &finite(self.mean))?;
        s.serialize_field("std_dev", &finite(self.std_dev))?;
        s.serialize_field("std_error", &finite(self.std_error))?;
        s.serialize_field("ci95", &[finite(self.ci95_low), finite(self.ci95_high)])?;
        s.serialize_field("median", &finite(self.median))?;
        s.serialize_field("p95", &finite(self.p95))?;
        s.serialize_field("min", &finite(self.min))?;
        s.serialize_field("max", &finite(self.max))?;
        s.end()
    }
}

/// `Some(x)` for a finite `x`, `None` (JSON `null`) for NaN and ±∞.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

///
/// Summed as deviations from the first value, so that equal values give exactly that value
/// (a plain running sum of 100 × 123.1 ends 2e-13 off) and large offsets lose less precision.
fn sequential_mean(mut values: impl Iterator<Item = f64>, n: usize) -> f64 {
    let Some(first) = values.next() else { return f64::NAN };
    let mut sum = 0.0;
    for v in values {
        sum += v - first;
    }
    first + sum / n as f64
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (df ≥ 1).
fn t_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64).expect("df ≥ 1").inverse_cdf(0.975)
}

/// The type-7 sample quantile of already sorted, NaN-free `sorted` at probability
/// `p ∈ [0, 1]`: with h = (n − 1)·p, `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`.
///
/// Panics on an empty slice.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of an empty sample");
    let (lo, frac) = quantile_position(sorted.len(), p);
    interpolate(sorted[lo], sorted.get(lo + 1).copied(), frac)
}

/// Where the type-7 quantile at `p` of `n ≥ 1` sorted values lies: the 0-based rank `⌊h⌋`
/// and the fraction `h − ⌊h⌋` towards the next, with h = (n − 1)·p.
fn quantile_position(n: usize, p: f64) -> (usize, f64) {
    let p = p.clamp(0.0, 1.0);
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    (lo, h - lo as f64)
}

/// Whether the quantile at `(lo, frac)` needs the value of rank `lo + 1` too.
fn needs_next(n: usize, lo: usize, frac: f64) -> bool {
    lo + 1 < n && frac != 0.0
}

/// The type-7 interpolation between the values of rank `lo` and `lo + 1` (`None` past the
/// end).
fn interpolate(at: f64, next: Option<f64>, frac: f64) -> f64 {
    match next {
        Some(next) if frac != 0.0 => at + frac * (next - at),
        _ => at,
    }
}

/// The 95% Wilson score interval of a proportion `successes / trials` (Wilson 1927).
/// Unlike the normal ("Wald") interval it stays inside [0, 1] and is not degenerate at 0 or
/// `trials` successes, which matters for rare outcomes such as a stalled rollout.
/// Returns `(NaN, NaN)` for zero trials.
pub fn wilson_interval(successes: usize, trials: usize) -> (f64, f64) {
    if trials == 0 {
        return (f64::NAN, f64::NAN);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z_975 * Z_975;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z_975 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 or n successes the bound is exactly 0 or 1; rounding would leave 1e-18.
    let low = if successes == 0 { 0.0 } else { (center - half).max(0.0) };
    let high = if successes == trials { 1.0 } else { (center + half).min(1.0) };
    (low, high)
}

/// A test statistic and its two-sided p-value. NaN when the test is undefined for the data
/// (see each test).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// Welch's unequal-variances t-test of equal means, two-sided (Welch 1947; the default
/// `t.test` of R, `scipy.stats.ttest_ind(equal_var=False)`).
///
/// `statistic = (mean(a) − mean(b)) / √(var(a)/n_a + var(b)/n_b)` with sample variances,
/// and the p-value from Student's t with the Welch–Satterthwaite degrees of freedom.
/// Undefined (both NaN) when either sample has fewer than two values. When both samples are
/// constant the statistic is 0 with p = 1 for equal means, ±∞ with p = 0 otherwise.
/// NaN values in the input are skipped, as in [`Summary::of`].
pub fn welch_t_test(a: &[f64], b: &[f64]) -> TestResult {
    let undefined = TestResult { statistic: f64::NAN, p_value: f64::NAN };
    let (Some(sa), Some(sb)) = (Summary::of(a), Summary::of(b)) else {
        return undefined;
    };
    if sa.n < 2 || sb.n < 2 {
        return undefined;
    }
    let (na, nb) = (sa.n as f64, sb.n as f64);
    let va = sa.std_dev * sa.std_dev / na;
    let vb = sb.std_dev * sb.std_dev / nb;
    let diff = sa.mean - sb.mean;
    let se2 = va + vb;
    if se2 == 0.0 {
        return if diff == 0.0 {
            TestResult { statistic: 0.0, p_value: 1.0 }
        } else {
            TestResult { statistic: diff.signum() * f64::INFINITY, p_value: 0.0 }
        };
    }
    let statistic = diff / se2.sqrt();
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).expect("positive finite df");
    let p_value = (2.0 * t.sf(statistic.abs())).min(1.0);
    TestResult { statistic, p_value }
}

/// The two-sample Kolmogorov–Smirnov test of equal distributions, two-sided.
///
/// `statistic` is D = sup |F_a(x) − F_b(x)| over the empirical CDFs (ties handled exactly:
/// both CDFs step past a shared value together). The p-value is the **asymptotic**
/// Kolmogorov distribution, `Q(λ) = 2 Σ (−1)^(k−1) e^(−2k²λ²)` at
/// λ = √(n_a·n_b/(n_a+n_b))·D — the same as `scipy.stats.kstwobign.sf(λ)` and R's
/// `ks.test(exact = FALSE)` without continuity correction. It is accurate for samples of a
/// few dozen or more, which is what replications give; for tiny samples it is approximate.
/// Undefined (both NaN) when either sample is empty. NaN values are skipped.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> TestResult {
    let sorted = |xs: &[f64]| {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    if a.is_empty() || b.is_empty() {
        return TestResult { statistic: f64::NAN, p_value: f64::NAN };
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        let x = if a[i].total_cmp(&b[j]).is_le() { a[i] } else { b[j] };
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    // Past the end of one sample the gap only shrinks towards 0, so D is found.
    let lambda = (na * nb / (na + nb)).sqrt() * d;
    TestResult { statistic: d, p_value: kolmogorov_sf(lambda) }
}

/// The survival function of the Kolmogorov distribution, P(K > λ).
///
/// Uses the alternating series `2 Σ (−1)^(k−1) e^(−2k²λ²)` for λ ≥ 1.18, where it converges
/// in a few terms, and 1 − the Jacobi-theta form of the CDF,
/// `√(2π)/λ Σ e^(−(2k−1)²π²/(8λ²))`, below, where the alternating series converges slowly.
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() {
        return f64::NAN;
    }
    if lambda <= 0.0 {
        return 1.0;
    }
    let p = if lambda < 1.18 {
        let c = -std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let mut cdf = 0.0;
        for k in 1..=100u32 {
            let m = (2 * k - 1) as f64;
            let term = (c * m * m).exp();
            cdf += term;
            if term < 1e-17 * cdf.max(f64::MIN_POSITIVE) {
                break;
            }
        }
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * cdf
    } else {
        let mut sum = 0.0;
        for k in 1..=100u32 {
            let kf = k as f64;
            let term = (-2.0 * kf * kf * lambda * lambda).exp();
            sum += if k % 2 == 1 { term } else { -term };
            if term < 1e-17 * sum.abs() {
                break;
            }
        }
        2.0 * sum
    };
    p.clamp(0.0, 1.0)
}

/// How a metric is measured, for the terminal table and `summary.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Unit {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "%")]
    Percent,
    #[serde(rename = "requests")]
    Requests,
    #[serde(rename = "users")]
    Users,
    #[serde(rename = "pods")]
    Pods,
    #[serde(rename = "pod_s")]
    PodSeconds,
    /// A 0/1 indicator whose mean is a probability.
    #[serde(rename = "share")]
    Share,
    #[serde(rename = "alerts")]
    Alerts,
}

impl Unit {
    /// The short label printed after numbers.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Percent => "%",
            Unit::Requests => "requests",
            Unit::Users => "users",
            Unit::Pods => "pods",
            Unit::PodSeconds => "pod·s",
            Unit::Share => "",
            Unit::Alerts => "alerts",
        }
    }
}

type Getter = fn(&RunRecord) -> Option<f64>;

/// The numeric columns of `runs.csv`, in column order (everything but `replication`,
/// `seed`, `outcome` and `detected_by`). A test checks this against the serialized header,
/// so a field added to [`RunRecord`] without a line here fails the build's tests.
pub const METRICS: [(&str, Unit, Getter); 20] = [
    ("detected_at_s", Unit::Seconds, |r| r.detected_at_s),
    ("mitigated_at_s", Unit::Seconds, |r| r.mitigated_at_s),
    ("rolled_back_at_s", Unit::Seconds, |r| r.rolled_back_at_s),
    ("completed_at_s", Unit::Seconds, |r| r.completed_at_s),
    ("time_to_rollback_s", Unit::Seconds, |r| r.time_to_rollback_s),
    ("requests", Unit::Requests, |r| Some(r.requests as f64)),
    ("succeeded_requests", Unit::Requests, |r| Some(r.succeeded_requests as f64)),
    ("failed_requests", Unit::Requests, |r| Some(r.failed_requests as f64)),
    ("dropped_requests", Unit::Requests, |r| Some(r.dropped_requests as f64)),
    ("new_version_requests", Unit::Requests, |r| Some(r.new_version_requests as f64)),
    ("bad_requests", Unit::Requests, |r| Some(r.bad_requests as f64)),
    ("excess_failed_requests", Unit::Requests, |r| Some(r.excess_failed_requests)),
    ("users_affected", Unit::Users, |r| Some(r.users_affected as f64)),
    ("error_budget_pct", Unit::Percent, |r| Some(r.error_budget_pct)),
    ("peak_pods", Unit::Pods, |r| Some(r.peak_pods as f64)),
    ("extra_pod_seconds", Unit::PodSeconds, |r| Some(r.extra_pod_seconds)),
    ("overhead_pct", Unit::Percent, |r| Some(r.overhead_pct)),
    ("min_ready_pods", Unit::Pods, |r| Some(r.min_ready_pods as f64)),
    ("false_alarm", Unit::Share, |r| Some(r.false_alarm as f64)),
    ("alerts_fired", Unit::Alerts, |r| Some(r.alerts_fired as f64)),
];

/// Every outcome, in the order summaries list them.
pub const OUTCOMES: [Outcome; 4] =
    [Outcome::Completed, Outcome::RolledBack, Outcome::Stalled, Outcome::Running];

/// The position of `outcome` in [`OUTCOMES`]. An exhaustive match, so a new variant fails
/// to compile here rather than going uncounted.
fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Completed => 0,
        Outcome::RolledBack => 1,
        Outcome::Stalled => 2,
        Outcome::Running => 3,
    }
}

/// How many replications ended with one outcome, their share and its 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutcomeShare {
    pub outcome: Outcome,
    pub count: usize,
    /// `count / replications`; NaN with no replications.
    pub share: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

impl Serialize for OutcomeShare {
    /// `{"count": 188, "share": 0.94, "ci95": [0.898, 0.965]}` (the outcome is the map key
    /// one level up).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("OutcomeShare", 3)?;
        s.serialize_field("count", &self.count)?;
        s.serialize_field("share", &finite(self.share))?;
        s.serialize_field("ci95", &[finite(self.ci95_low), finite(self.ci95_high)])?;
        s.end()
    }
}

/// One metric's summary; `summary` is `None` when no replication measured it.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSummary {
    pub name: &'static str,
    pub unit: Unit,
    pub summary: Option<Summary>,
}

impl Serialize for MetricSummary {
    /// `{"unit": "s", "n": .., "mean": .., "std_dev": .., "std_error": .., "ci95": [lo, hi],
    /// "median": .., "p95": .., "min": .., "max": ..}` — the same keys whether or not the
    /// metric was measured (`n` 0 and the rest `null` when not).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.summary;
        let get = |f: fn(&Summary) -> f64| s.as_ref().and_then(|s| finite(f(s)));
        let mut m = serializer.serialize_map(Some(10))?;
        m.serialize_entry("unit", &self.unit)?;
        m.serialize_entry("n", &s.map_or(0, |s| s.n))?;
        m.serialize_entry("mean", &get(|s| s.mean))?;
        m.serialize_entry("std_dev", &get(|s| s.std_dev))?;
        m.serialize_entry("std_error", &get(|s| s.std_error))?;
        m.serialize_entry("ci95", &[get(|s| s.ci95_low), get(|s| s.ci95_high)])?;
        m.serialize_entry("median", &get(|s| s.median))?;
        m.serialize_entry("p95", &get(|s| s.p95))?;
        m.serialize_entry("min", &get(|s| s.min))?;
        m.serialize_entry("max", &get(|s| s.max))?;
        m.end()
    }
}

/// The statistics of a set of replications: what `summary.json` holds and `rollsim run`
/// prints.
///
/// JSON shape (keys in this order; every non-finite number is `null`):
///
/// ```json
/// {
///   "scenario": "bad-release",
///   "seed": 42,
///   "replications": 200,
///   "outcomes": {
///     "completed":   {"count": 12,  "share": 0.06, "ci95": [0.0347, 0.1019]},
///     "rolled_back": {"count": 188, "share": 0.94, "ci95": [0.8981, 0.9653]},
///     "stalled":     {"count": 0,   "share": 0.0,  "ci95": [0.0, 0.0188]},
///     "running":     {"count": 0,   "share": 0.0,  "ci95": [0.0, 0.0188]}
///   },
///   "metrics": {
///     "detected_at_s": {"unit": "s", "n": 188, "mean": 312.4, "std_dev": 28.3,
///                       "std_error": 2.06, "ci95": [308.3, 316.5], "median": 310.0,
///                       "p95": 361.2, "min": 250.1, "max": 402.7},
///     "...": "one entry per numeric runs.csv column, in column order"
///   }
/// }
/// ```
///
/// `seed` is `null` when the table was never labelled with [`SummaryTable::with_scenario`].
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryTable {
    /// The scenario's `metadata.name` (empty until labelled).
    pub scenario: String,
    /// The scenario seed (not a replication's seed).
    pub seed: Option<u64>,
    pub replications: usize,
    /// In [`OUTCOMES`] order.
    pub outcomes: Vec<OutcomeShare>,
    /// In `runs.csv` column order ([`METRICS`]).
    pub metrics: Vec<MetricSummary>,
}

impl SummaryTable {
    /// Labels the table with the scenario it summarizes, for the terminal header and JSON.
    pub fn with_scenario(mut self, name: impl Into<String>, seed: u64) -> Self {
        self.scenario = name.into();
        self.seed = Some(seed);
        self
    }

    /// The summary of the metric named like its `runs.csv` column.
    pub fn metric(&self, name: &str) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The count, share and interval of one outcome.
    pub fn outcome(&self, outcome: Outcome) -> &OutcomeShare {
        &self.outcomes[outcome_index(outcome)]
    }
}

impl Serialize for SummaryTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Outcomes<'a>(&'a [OutcomeShare]);
        impl Serialize for Outcomes<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(Some(self.0.len()))?;
                for o in self.0 {
                    m.serialize_entry(o.outcome.as_str(), o)?;
                }
                m.end()
            }
        }
        struct Metrics<'a>(&'a [MetricSummary]);
        impl Serialize for Metrics<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(Some(self.0.len()))?;
                for metric in self.0 {
                    m.serialize_entry(metric.name, metric)?;
                }
                m.end()
            }
        }
        let mut s = serializer.serialize_struct("SummaryTable", 5)?;
        s.serialize_field("scenario", &self.scenario)?;
        s.serialize_field("seed", &self.seed)?;
        s.serialize_field("replications", &self.replications)?;
        s.serialize_field("outcomes", &Outcomes(&self.outcomes))?;
        s.serialize_field("metrics", &Metrics(&self.metrics))?;
        s.end()
    }
}

/// Summarizes replications: each numeric `runs.csv` column over the replications where it
/// is present (blank cells skipped), and the outcome shares. Records are taken in the given
/// order, which the runner keeps as replication order, so the result is deterministic.
pub fn summarize_runs(records: &[RunRecord]) -> SummaryTable {
    let replications = records.len();
    let mut counts = [0usize; OUTCOMES.len()];
    for r in records {
        counts[outcome_index(r.outcome)] += 1;
    }
    let outcomes = outcome_shares(counts, replications);
    let mut column = Vec::with_capacity(replications);
    let metrics = METRICS
        .iter()
        .map(|&(name, unit, get)| {
            column.clear();
            column.extend(records.iter().filter_map(get));
            MetricSummary { name, unit, summary: Summary::of(&column) }
        })
        .collect();
    SummaryTable { scenario: String::new(), seed: None, replications, outcomes, metrics }
}

/// The share of each outcome among `replications`, with its Wilson interval.
fn outcome_shares(counts: [usize; OUTCOMES.len()], replications: usize) -> Vec<OutcomeShare> {
    OUTCOMES
        .iter()
        .zip(counts)
        .map(|(&outcome, count)| {
            let (ci95_low, ci95_high) = wilson_interval(count, replications);
            let share = if replications == 0 { f64::NAN } else { count as f64 / replications as f64 };
            OutcomeShare { outcome, count, share, ci95_low, ci95_high }
        })
        .collect()
}

/// [`summarize_runs`] of records that are read again rather than held: each call of
/// `replay` must hand its argument the same records in the same order (a pass over
/// `runs.csv`, say). The result is bit for bit what [`summarize_runs`] gives for those
/// records, in memory that does not grow with their number: counts, extremes and means in
/// the first pass, the spread in the second, and the exact medians and 95th percentiles by
/// [`RankSelector`]s in the second and, for a metric with many values near a quantile, a few
/// more (at most 10 passes in all). An error of `replay` stops it and is returned.
pub fn summarize_replayed<E>(
    mut replay: impl FnMut(&mut dyn FnMut(&RunRecord)) -> Result<(), E>,
) -> Result<SummaryTable, E> {
    /// One metric's running figures.
    struct Column {
        n: usize,
        first: f64,
        /// Σ (v − first) over the values after the first, in order (as `sequential_mean`).
        offsets: f64,
        min: f64,
        max: f64,
        mean: f64,
        ss: f64,
        /// The ranks the quantiles need, each with its selector.
        ranks: Vec<(usize, RankSelector)>,
    }
    let value = |get: Getter, r: &RunRecord| get(r).filter(|v| !v.is_nan());
    let mut replications = 0;
    let mut counts = [0usize; OUTCOMES.len()];
    let mut columns: Vec<Column> = METRICS
        .iter()
        .map(|_| Column {
            n: 0,
            first: f64::NAN,
            offsets: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            ss: 0.0,
            ranks: Vec::new(),
        })
        .collect();
    replay(&mut |r| {
        replications += 1;
        counts[outcome_index(r.outcome)] += 1;
        for (c, &(_, _, get)) in columns.iter_mut().zip(&METRICS) {
            let Some(v) = value(get, r) else { continue };
            if c.n == 0 {
                (c.first, c.min, c.max) = (v, v, v);
            } else {
                c.offsets += v - c.first;
                if v.total_cmp(&c.min).is_lt() {
                    c.min = v;
                }
                if v.total_cmp(&c.max).is_gt() {
                    c.max = v;
                }
            }
            c.n += 1;
        }
    })?;
    for c in columns.iter_mut().filter(|c| c.n > 0) {
        c.mean = (c.first + c.offsets / c.n as f64).clamp(c.min, c.max);
        for p in [0.5, 0.95] {
            let (lo, frac) = quantile_position(c.n, p);
            let next = needs_next(c.n, lo, frac).then_some(lo + 1);
            for rank in std::iter::once(lo).chain(next) {
                if !c.ranks.iter().any(|(r, _)| *r == rank) {
                    c.ranks.push((rank, RankSelector::new(rank as u64, c.min, c.max)));
                }
            }
        }
    }
    let mut first_pass = true;
    loop {
        replay(&mut |r| {
            for (c, &(_, _, get)) in columns.iter_mut().zip(&METRICS) {
                let Some(v) = value(get, r) else { continue };
                if first_pass && c.n > 1 {
                    c.ss += (v - c.mean) * (v - c.mean);
                }
                for (_, s) in &mut c.ranks {
                    s.see(v);
                }
            }
        })?;
        first_pass = false;
        let mut done = true;
        for (_, s) in columns.iter_mut().flat_map(|c| &mut c.ranks) {
            done &= s.end_pass();
        }
        if done {
            break;
        }
    }
    let metrics = METRICS
        .iter()
        .zip(&columns)
        .map(|(&(name, unit, _), c)| {
            let summary = (c.n > 0).then(|| {
                let at = |rank: usize| c.ranks.iter().find(|(r, _)| *r == rank).and_then(|(_, s)| s.answer());
                let quantile = |p: f64| {
                    let (lo, frac) = quantile_position(c.n, p);
                    let next = if needs_next(c.n, lo, frac) { at(lo + 1) } else { None };
                    interpolate(at(lo).expect("every rank is selected"), next, frac)
                };
                Summary::assemble(c.n, c.mean, c.ss, quantile(0.5), quantile(0.95), c.min, c.max)
            });
            MetricSummary { name, unit, summary }
        })
        .collect();
    let outcomes = outcome_shares(counts, replications);
    Ok(SummaryTable { scenario: String::new(), seed: None, replications, outcomes, metrics })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    macro_rules! assert_close {
        ($a:expr, $e:expr, $rel:expr) => {{
            let (a, e): (f64, f64) = ($a, $e);
            assert!(close(a, e, $rel), "{} = {a:e}, expected {e:e}", stringify!($a));
        }};
    }

    // Reference values computed independently with Python 3 + NumPy 2.4 / SciPy 1.17:
    //   v = [3.2, 1.5, 4.8, 2.2, 9.1, 5.5, 0.7, 6.3, 2.9, 4.0, 7.7]
    //   v.mean(), v.std(ddof=1), stats.sem(v)
    //   stats.t.interval(0.95, len(v)-1, loc=v.mean(), scale=stats.sem(v))
    //   np.quantile(v, [0.5, 0.95], method='linear')   # type 7
    const V: [f64; 11] = [3.2, 1.5, 4.8, 2.2, 9.1, 5.5, 0.7, 6.3, 2.9, 4.0, 7.7];

    #[test]
    fn equal_values_have_exactly_that_mean_and_no_spread() {
        let s = Summary::of(&[123.1; 100]).unwrap();
        assert_eq!(s.mean, 123.1);
        assert_eq!(s.std_dev, 0.0);
        assert_eq!((s.ci95_low, s.ci95_high), (123.1, 123.1));
    }

    #[test]
    fn summary_matches_scipy() {
        let s = Summary::of(&V).unwrap();
        assert_eq!(s.n, 11);
        assert_close!(s.mean, 4.354_545_454_545_454_5, 1e-14);
        assert_close!(s.std_dev, 2.621_588_692_515_908_6, 1e-13);
        assert_close!(s.std_error, 0.790_438_731_610_333, 1e-13);
        assert_close!(s.ci95_low, 2.593_338_206_529_720_6, 1e-11);
        assert_close!(s.ci95_high, 6.115_752_702_561_188, 1e-11);
        assert_close!(s.median, 4.0, 1e-15);
        assert_close!(s.p95, 8.4, 1e-14);
        assert_eq!((s.min, s.max), (0.7, 9.1));
    }

    #[test]
    fn t_quantiles_match_scipy() {
        // stats.t.ppf(0.975, df) for df in [1, 2, 5, 10, 30, 1000]
        let expected = [
            (1, 12.706_204_736_174_694),
            (2, 4.302_652_729_749_462),
            (5, 2.570_581_835_636_314_6),
            (10, 2.228_138_851_986_274),
            (30, 2.042_272_456_301_237_8),
            (1000, 1.962_339_080_826_408_3),
        ];
        for (df, t) in expected {
            assert_close!(t_975(df), t, 1e-10);
        }
    }

    #[test]
    fn type7_quantiles_small_samples() {
        // np.quantile([5.0], 0.95) == 5.0; np.quantile([1.0, 2.0], 0.95) == 1.95
        assert_eq!(quantile_sorted(&[5.0], 0.95), 5.0);
        assert_close!(quantile_sorted(&[1.0, 2.0], 0.95), 1.95, 1e-15);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 1.0), 3.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 0.0), 1.0);
    }

    #[test]
    fn summary_edge_cases() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
        let one = Summary::of(&[7.5]).unwrap();
        assert_eq!((one.n, one.mean, one.ci95_low, one.ci95_high), (1, 7.5, 7.5, 7.5));
        assert_eq!((one.median, one.p95, one.min, one.max), (7.5, 7.5, 7.5, 7.5));
        assert!(one.std_dev.is_nan() && one.std_error.is_nan());
        assert_eq!(one.ci95_half_width(), 0.0);
        // NaN is a missing value: the same summary as without it.
        let with_nan = Summary::of(&[1.0, f64::NAN, 3.0]).unwrap();
        assert_eq!(with_nan, Summary::of(&[1.0, 3.0]).unwrap());
        assert_eq!(with_nan.n, 2);
        // Constant sample: zero-width interval, not NaN.
        let flat = Summary::of(&[2.0; 5]).unwrap();
        assert_eq!((flat.std_dev, flat.ci95_low, flat.ci95_high), (0.0, 2.0, 2.0));
    }

    #[test]
    fn summary_json_never_contains_nan() {
        let one = Summary::of(&[7.5]).unwrap();
        let json = serde_json::to_value(one).unwrap();
        assert_eq!(json["std_dev"], serde_json::Value::Null);
        assert_eq!(json["std_error"], serde_json::Value::Null);
        assert_eq!(json["ci95"], serde_json::json!([7.5, 7.5]));
        assert_eq!(json["n"], 1);
        let inf = Summary::of(&[1.0, f64::INFINITY]).unwrap();
        let text = serde_json::to_string(&inf).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        assert!(text.contains(r#""max":null"#), "{text}");
    }

    #[test]
    fn wilson_matches_scipy() {
        // stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method='wilson')
        let cases = [
            (188, 200, 0.898_068_307_042_337_2, 0.965_347_805_745_668_1),
            (0, 200, 0.0, 0.018_845_326_377_266_575),
            (200, 200, 0.981_154_673_622_733_5, 1.0),
            (3, 10, 0.107_791_267_406_301_02, 0.603_221_852_538_854_6),
        ];
        for (k, n, lo, hi) in cases {
            let (l, h) = wilson_interval(k, n);
            assert!((l - lo).abs() < 1e-12 && (h - hi).abs() < 1e-12, "{k}/{n}: [{l}, {h}]");
        }
        let (l, h) = wilson_interval(0, 0);
        assert!(l.is_nan() && h.is_nan());
    }

    #[test]
    fn welch_matches_scipy() {
        // stats.ttest_ind(a, b, equal_var=False) -> statistic 3.5687403570681475,
        // pvalue 0.0035416416059115144 (df 12.72103886335079)
        let a = [12.1, 14.3, 11.8, 15.2, 13.9, 12.7, 16.4, 14.8];
        let b = [10.2, 11.9, 12.5, 9.8, 11.1, 13.0, 10.7];
        let r = welch_t_test(&a, &b);
        assert_close!(r.statistic, 3.568_740_357_068_147_5, 1e-12);
        assert_close!(r.p_value, 0.003_541_641_605_911_514_4, 1e-8);
        // Antisymmetric in its arguments.
        let r2 = welch_t_test(&b, &a);
        assert_eq!((r2.statistic, r2.p_value), (-r.statistic, r.p_value));
        // a = [(i*0.37) % 5 for i in range(60)], b = [((i*0.53) % 5) + 0.4 for i in range(45)]
        // -> statistic -1.0848257300530137, pvalue 0.28070382777264374
        let (a, b) = generated_samples();
        let r = welch_t_test(&a, &b);
        assert_close!(r.statistic, -1.084_825_730_053_013_7, 1e-12);
        assert_close!(r.p_value, 0.280_703_827_772_643_74, 1e-8);
    }

    #[test]
    fn welch_degenerate_inputs() {
        let r = welch_t_test(&[1.0], &[1.0, 2.0]);
        assert!(r.statistic.is_nan() && r.p_value.is_nan());
        assert_eq!(welch_t_test(&[2.0; 4], &[2.0; 3]), TestResult { statistic: 0.0, p_value: 1.0 });
        let r = welch_t_test(&[3.0; 4], &[2.0; 3]);
        assert_eq!((r.statistic, r.p_value), (f64::INFINITY, 0.0));
    }

    fn generated_samples() -> (Vec<f64>, Vec<f64>) {
        let a = (0..60).map(|i| (i as f64 * 0.37) % 5.0).collect();
        let b = (0..45).map(|i| (i as f64 * 0.53) % 5.0 + 0.4).collect();
        (a, b)
    }

    #[test]
    fn kolmogorov_sf_matches_scipy() {
        // stats.kstwobign.sf(lam); the points straddle the 1.18 switch between the series.
        let expected = [
            (0.1, 1.0),
            (0.3, 0.999_990_694_198_665_5),
            (0.5, 0.963_945_243_664_875_1),
            (0.8, 0.544_142_411_574_198_1),
            (1.0, 0.269_999_671_677_354_56),
            (1.18, 0.123_453_809_429_765_7),
            (1.2, 0.112_249_666_670_724_97),
            (1.5, 0.022_217_962_616_525_127),
            (2.0, 0.000_670_925_255_779_695_3),
            (3.0, 3.045_995_948_942_526e-8),
        ];
        for (lam, p) in expected {
            assert_close!(kolmogorov_sf(lam), p, 1e-9);
        }
        assert_eq!(kolmogorov_sf(0.0), 1.0);
    }

    #[test]
    fn ks_matches_scipy() {
        // stats.ks_2samp(a, b).statistic, and kstwobign.sf(sqrt(m*n/(m+n)) * D) for the p-value
        // (scipy's own method='asymp' uses a finite-n distribution, so it is not the reference).
        let a = [12.1, 14.3, 11.8, 15.2, 13.9, 12.7, 16.4, 14.8];
        let b = [10.2, 11.9, 12.5, 9.8, 11.1, 13.0, 10.7];
        let r = ks_two_sample(&a, &b);
        assert_close!(r.statistic, 0.625, 1e-15);
        assert_close!(r.p_value, 0.108_210_382_575_395_75, 1e-9);
        // Ties within and across samples.
        let c = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 8.0];
        let d = [2.0, 3.0, 3.0, 5.0, 6.0, 6.5, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0];
        let r = ks_two_sample(&c, &d);
        assert_close!(r.statistic, 0.5, 1e-15);
        assert_close!(r.p_value, 0.130_758_224_118_881_3, 1e-9);
        let (a, b) = generated_samples();
        let r = ks_two_sample(&a, &b);
        assert_close!(r.statistic, 0.111_111_111_111_111_1, 1e-12);
        assert_close!(r.p_value, 0.908_692_009_250_021_2, 1e-9);
        // Identical samples: D = 0, p = 1. Disjoint: D = 1.
        assert_eq!(ks_two_sample(&a, &a), TestResult { statistic: 0.0, p_value: 1.0 });
        assert_eq!(ks_two_sample(&[1.0, 2.0], &[3.0, 4.0]).statistic, 1.0);
        assert!(ks_two_sample(&[], &[1.0]).p_value.is_nan());
    }

    /// A record with every field set, for tests here and in `report`.
    pub(crate) fn sample_record(replication: u64, outcome: Outcome) -> RunRecord {
        let x = replication as f64;
        RunRecord {
            replication,
            seed: 1000 + replication,
            outcome,
            detected_by: if outcome == Outcome::RolledBack {
                Some("alert:HighErrorRate".into())
            } else {
                None
            },
            detected_at_s: (outcome == Outcome::RolledBack).then_some(300.0 + 10.0 * x),
            mitigated_at_s: (outcome == Outcome::RolledBack).then_some(330.0 + 10.0 * x),
            rolled_back_at_s: (outcome == Outcome::RolledBack).then_some(420.5 + 10.0 * x),
            completed_at_s: (outcome == Outcome::Completed).then_some(600.25),
            time_to_rollback_s: (outcome == Outcome::RolledBack).then_some(120.5),
            requests: 100_000 + replication,
            succeeded_requests: 99_000,
            failed_requests: 900 + replication,
            dropped_requests: 100,
            new_version_requests: 20_000,
            bad_requests: 950,
            excess_failed_requests: 850.5 + x,
            users_affected: 300,
            error_budget_pct: 12.5 + x,
            peak_pods: 13,
            extra_pod_seconds: 1234.5,
            overhead_pct: 30.0,
            min_ready_pods: 9,
            false_alarm: 0,
            alerts_fired: u64::from(outcome == Outcome::RolledBack),
        }
    }

    #[test]
    fn metrics_follow_runs_csv_columns() {
        let mut w = csv::Writer::from_writer(vec![]);
        w.serialize(sample_record(0, Outcome::Completed)).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let numeric: Vec<&str> = header
            .into_iter()
            .filter(|c| !matches!(*c, "replication" | "seed" | "outcome" | "detected_by"))
            .collect();
        let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
        assert_eq!(names, numeric);
    }

    /// `summarize_replayed` over `records` held in memory, counting the passes.
    fn replayed(records: &[RunRecord]) -> (SummaryTable, usize) {
        let mut passes = 0;
        let table = summarize_replayed(|see| {
            passes += 1;
            records.iter().for_each(&mut *see);
            Ok::<(), ()>(())
        })
        .unwrap();
        (table, passes)
    }

    /// A record whose metrics come from `x` (spread), `k` (few distinct values, many ties)
    /// and `pick` (which fields are blank, the outcome).
    fn varied_record(replication: u64, x: f64, k: u32, pick: u8) -> RunRecord {
        let outcome = OUTCOMES[usize::from(pick % 4)];
        let mut r = sample_record(replication, outcome);
        r.detected_at_s = (pick & 4 != 0).then_some(x.abs());
        r.time_to_rollback_s = (pick & 8 != 0).then_some(f64::from(k) * 15.0);
        r.excess_failed_requests = if pick & 16 != 0 { -0.0 } else { x };
        r.error_budget_pct = x * 1e-3 + f64::from(k);
        r.bad_requests = u64::from(k);
        r.false_alarm = u64::from(k % 2);
        r.extra_pod_seconds = if pick & 32 != 0 { f64::NAN } else { x * x };
        r
    }

    #[test]
    fn replayed_summary_is_bit_for_bit_the_sorted_one() {
        for n in [0, 1, 2, 3, 20, 1_023, 1_024, 1_025, 5_000, 12_345] {
            let records: Vec<RunRecord> = (0..n)
                .map(|i| {
                    let x = ((i * 2_654_435_761) % 100_003) as f64 / 7.0 - 5_000.0;
                    varied_record(i, x, (i % 7) as u32, (i * 31 % 64) as u8)
                })
                .collect();
            let (table, passes) = replayed(&records);
            assert_eq!(format!("{table:?}"), format!("{:?}", summarize_runs(&records)), "n = {n}");
            assert!(passes <= 10, "{passes} passes for n = {n}");
            assert_eq!(
                serde_json::to_string(&table).unwrap(),
                serde_json::to_string(&summarize_runs(&records)).unwrap()
            );
        }
    }

    #[test]
    fn replay_errors_stop_the_summary() {
        let mut calls = 0;
        let e = summarize_replayed(|_| {
            calls += 1;
            Err::<(), &str>("unreadable")
        });
        assert_eq!(e.unwrap_err(), "unreadable");
        assert_eq!(calls, 1);
    }

    proptest::proptest! {
        #[test]
        fn replayed_summary_equals_summarize_runs(
            rows in proptest::collection::vec(
                (proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
                 0u32..5, proptest::prelude::any::<u8>()),
                0..3_000,
            ),
        ) {
            let records: Vec<RunRecord> = rows
                .iter()
                .enumerate()
                .map(|(i, &(x, k, pick))| varied_record(i as u64, x, k, pick))
                .collect();
            let (table, _) = replayed(&records);
            proptest::prop_assert_eq!(format!("{table:?}"), format!("{:?}", summarize_runs(&records)));
        }
    }

    #[test]
    fn summarize_runs_counts_and_skips_blanks() {
        let records: Vec<RunRecord> = (0..10)
            .map(|i| sample_record(i, if i < 7 { Outcome::RolledBack } else { Outcome::Completed }))
            .collect();
        let t = summarize_runs(&records).with_scenario("bad-release", 42);
        assert_eq!((t.replications, t.seed, t.scenario.as_str()), (10, Some(42), "bad-release"));
        let rb = t.outcome(Outcome::RolledBack);
        assert_eq!((rb.count, rb.share), (7, 0.7));
        assert_eq!((rb.ci95_low, rb.ci95_high), wilson_interval(7, 10));
        assert_eq!(t.outcome(Outcome::Completed).count, 3);
        assert_eq!(t.outcome(Outcome::Stalled).count, 0);
        assert_eq!(t.outcomes.iter().map(|o| o.count).sum::<usize>(), 10);
        // detected_at_s only on the 7 rolled-back replications: 300, 310, …, 360.
        let det = t.metric("detected_at_s").unwrap().summary.unwrap();
        assert_eq!((det.n, det.mean, det.min, det.max, det.median), (7, 330.0, 300.0, 360.0, 330.0));
        let comp = t.metric("completed_at_s").unwrap().summary.unwrap();
        assert_eq!((comp.n, comp.mean), (3, 600.25));
        let req = t.metric("requests").unwrap().summary.unwrap();
        assert_eq!((req.n, req.mean), (10, 100_004.5));
        assert_eq!(t.metrics.len(), METRICS.len());
        // Nobody stalled, so no metric is missing here, but an empty run set has none at all.
        let empty = summarize_runs(&[]);
        assert!(empty.metrics.iter().all(|m| m.summary.is_none()));
        assert!(empty.outcomes.iter().all(|o| o.count == 0 && o.share.is_nan()));
        let json = serde_json::to_string(&empty).unwrap();
        assert!(!json.contains("NaN"), "{json}");
    }
}
