//! Step 1 of the judge: what happens to a metric's samples before they are compared. NaN
//! handling, then (optionally) removal of outliers by Tukey's fences on the interquartile
//! range. Each of the canary and the baseline is cleaned on its own.

/// What to do with NaN samples (a query that returned no value for an interval).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NanStrategy {
    /// Drop them (Kayenta's default). A series left empty is "no data".
    #[default]
    Remove,
    /// Replace them with 0. A metric with no samples at all then passes.
    Replace,
}

/// Whether to remove outliers before the comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Outliers {
    /// Keep every sample (Kayenta's default).
    #[default]
    Keep,
    /// Remove samples outside the IQR fences `Q1 − factor·IQR`, `Q3 + factor·IQR`. With
    /// `reduce_sensitivity` the fences are widened to at least the 1st and 99th percentiles,
    /// which is what Kayenta's judge always does.
    Remove { factor: f64, reduce_sensitivity: bool },
}

/// Kayenta's `outlierFactor` default.
pub const OUTLIER_FACTOR_DEFAULT: f64 = 3.0;

impl Outliers {
    /// `outliers.strategy: remove` as the judge runs it: factor 3, reduced sensitivity.
    pub fn remove() -> Self {
        Outliers::Remove { factor: OUTLIER_FACTOR_DEFAULT, reduce_sensitivity: true }
    }
}

/// The samples after the NaN strategy and the outlier strategy, in their original order.
pub fn preprocess(values: &[f64], nan_strategy: NanStrategy, outliers: Outliers) -> Vec<f64> {
    let cleaned: Vec<f64> = match nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => values.iter().map(|&v| if v.is_nan() { 0.0 } else { v }).collect(),
    };
    assert!(cleaned.iter().all(|v| !v.is_nan()));
    match outliers {
        Outliers::Keep => cleaned,
        Outliers::Remove { factor, reduce_sensitivity } => {
            let flags = iqr_outliers(&cleaned, factor, reduce_sensitivity);
            cleaned.iter().zip(flags).filter(|(_, outlier)| !outlier).map(|(&v, _)| v).collect()
        }
    }
}

/// Which samples lie outside the IQR fences (strictly below the lower or above the upper).
/// Quartiles are R's type-7 estimates, as Kayenta computes them.
pub fn iqr_outliers(values: &[f64], factor: f64, reduce_sensitivity: bool) -> Vec<bool> {
    assert!(factor > 0.0, "the IQR factor must be positive");
    assert!(values.iter().all(|v| !v.is_nan()), "remove or replace NaNs before outliers");
    if values.is_empty() {
        return Vec::new();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q1 = percentile_r7_sorted(&sorted, 25.0);
    let q3 = percentile_r7_sorted(&sorted, 75.0);
    let iqr = q3 - q1;
    let (mut lower, mut upper) = (q1 - factor * iqr, q3 + factor * iqr);
    if reduce_sensitivity {
        lower = lower.min(percentile_r7_sorted(&sorted, 1.0));
        upper = upper.max(percentile_r7_sorted(&sorted, 99.0));
    }
    assert!(lower <= upper);
    values.iter().map(|&v| v < lower || v > upper).collect()
}

/// The `p`th percentile (0 < p ≤ 100) by linear interpolation between order statistics (R's
/// type 7, Apache Commons Math's `Percentile` with `R_7`). NaN for no values.
pub fn percentile_r7(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_r7_sorted(&sorted, p)
}

/// [`percentile_r7`] of values already sorted ascending.
fn percentile_r7_sorted(sorted: &[f64], p: f64) -> f64 {
    assert!(p > 0.0 && p <= 100.0, "percentile {p} outside (0, 100]");
    debug_assert!(sorted.is_sorted_by(|a, b| a <= b));
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    // The 1-based position 1 + (n − 1)·q, computed in this order so the interpolation weight
    // has the same last bits as Commons Math's.
    let position = if p == 100.0 { n as f64 } else { 1.0 + (n as f64 - 1.0) * (p / 100.0) };
    if position < 1.0 {
        return sorted[0];
    }
    if position >= n as f64 {
        return sorted[n - 1];
    }
    let whole = position.floor();
    let weight = position - whole;
    let below = sorted[whole as usize - 1];
    let above = sorted[whole as usize];
    below + weight * (above - below)
}

#[cfg(test)]
mod tests {
    use super::super::vectors::*;
    use super::*;

    #[test]
    fn nan_strategies_remove_or_zero() {
        let nan = f64::NAN;
        let keep = Outliers::Keep;
        // TransformSuite "Remove Single NaN", "Remove Multiple NaN", "Replace NANs".
        assert_eq!(preprocess(&[0.0, 1.0, nan, 1.0, 0.0], NanStrategy::Remove, keep), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(preprocess(&[nan, nan, nan], NanStrategy::Remove, keep), Vec::<f64>::new());
        assert_eq!(
            preprocess(&[nan, 10.10, 20.20, 30.30, nan, 40.40], NanStrategy::Replace, keep),
            [0.0, 10.10, 20.20, 30.30, 0.0, 40.40]
        );
    }

    /// StatisticSuite's percentile cases, including two exact equalities.
    #[test]
    fn percentiles_interpolate_like_r_type_7() {
        let halves = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5];
        assert!((percentile_r7(&halves, 5.0) - 0.175).abs() < 1e-4);
        assert_eq!(percentile_r7(&halves, 50.0), 1.75);
        assert_eq!(percentile_r7(&halves, 100.0), 3.5);
        let tenths: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(percentile_r7(&tenths, 50.0), 4.5);
        assert_eq!(percentile_r7(PERCENTILE_NIST, 90.0), 95.19568);
        assert_eq!(percentile_r7(&[1.0], 100.0), 1.0);
        assert_eq!(percentile_r7(PERCENTILE_RATIOS, 25.0), 0.0);
        assert!((percentile_r7(PERCENTILE_RATIOS, 75.0) - 0.0416).abs() < 1e-4);
        assert!(percentile_r7(&[], 50.0).is_nan());
    }

    fn flagged(values: &[f64], factor: f64) -> Vec<usize> {
        let flags = iqr_outliers(values, factor, false);
        flags.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i).collect()
    }

    /// DetectorSuite's IQR cases (factor 1.5, plain fences).
    #[test]
    fn iqr_fences_flag_upstream_outliers() {
        assert_eq!(flagged(&[21.0, 23.0, 24.0, 25.0, 50.0, 29.0, 23.0, 21.0], 1.5), [4]);
        assert_eq!(flagged(&[1.0, 1.0, 1.0, 5.0, -1.0, -1.0, -1.0, -5.0], 1.5), [3, 7]);
        assert_eq!(flagged(&[], 1.5), Vec::<usize>::new());
        assert_eq!(flagged(IQR_NIST, 1.5), [IQR_NIST.len() - 1]);
    }

    /// Hand-computed: 1..=100 has Q1 = 25.75, Q3 = 75.25, so factor 0.1 gives fences
    /// 20.8 and 80.2; the 1st/99th percentiles (1.99, 99.01) widen them to keep 2..=99.
    #[test]
    fn reduced_sensitivity_widens_the_fences_to_p01_and_p99() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let plain = iqr_outliers(&values, 0.1, false);
        assert_eq!(plain.iter().filter(|f| **f).count(), 20 + 20);
        let reduced = iqr_outliers(&values, 0.1, true);
        let kept: Vec<f64> = values.iter().zip(&reduced).filter(|(_, f)| !**f).map(|(v, _)| *v).collect();
        assert_eq!(kept.first(), Some(&2.0));
        assert_eq!(kept.last(), Some(&99.0));
        let removed = preprocess(
            &values,
            NanStrategy::Remove,
            Outliers::Remove { factor: 0.1, reduce_sensitivity: true },
        );
        assert_eq!(removed, kept);
        // TransformSuite "IQR Outlier Removal".
        let data = [21.0, 23.0, 24.0, 25.0, 50.0, 29.0, 23.0, 21.0];
        let cleaned = preprocess(
            &data,
            NanStrategy::Remove,
            Outliers::Remove { factor: 1.5, reduce_sensitivity: false },
        );
        assert_eq!(cleaned, [21.0, 23.0, 24.0, 25.0, 29.0, 23.0, 21.0]);
    }
}
