//! Paired comparison of strategies run with common random numbers.
//!
//! `rollsim compare` runs every scenario with one seed, so replication `i` of each draws the
//! same traffic and the same people from its own streams: the differences between two
//! strategies are taken replication by replication (a paired design), which removes the
//! shared noise from the comparison. Each difference is tested with the paired t-test
//! (Student 1908; R's `t.test(paired = TRUE)`, `scipy.stats.ttest_rel`), and the p-values
//! of all the comparisons one table makes are adjusted together by Holm's step-down method
//! (Holm 1979), so that "significant" holds for the table as a whole at the 5% level.
//!
//! Pure and deterministic, like [`super::stats`].

use super::stats::Summary;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The paired difference `a − b` of one metric between two strategies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PairedDifference {
    /// Replications where both measured the metric.
    pub pairs: usize,
    /// The mean difference, with its 95% Student-t interval.
    pub mean: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// The paired t statistic and its two-sided p-value (NaN with fewer than two pairs).
    pub t: f64,
    pub p_value: f64,
}

/// The paired t-test of `a − b` over the indices where both are measured (not NaN).
///
/// With fewer than two pairs, or differences that never vary, the spread is unknown or
/// zero: the interval is the mean itself, and p is 1 for a zero mean, 0 for any other
/// (every replication moved by exactly that amount).
pub fn paired_difference(a: &[f64], b: &[f64]) -> Option<PairedDifference> {
    assert_eq!(a.len(), b.len(), "paired samples have one value per replication each");
    let d: Vec<f64> =
        a.iter().zip(b).filter(|(x, y)| !x.is_nan() && !y.is_nan()).map(|(x, y)| x - y).collect();
    let s = Summary::of(&d)?;
    let degenerate = |mean: f64| PairedDifference {
        pairs: s.n,
        mean,
        ci95_low: mean,
        ci95_high: mean,
        t: if mean == 0.0 { 0.0 } else { mean.signum() * f64::INFINITY },
        p_value: if mean == 0.0 { 1.0 } else { 0.0 },
    };
    if s.n < 2 {
        return Some(PairedDifference { t: f64::NAN, p_value: f64::NAN, ..degenerate(s.mean) });
    }
    if s.std_error == 0.0 {
        return Some(degenerate(s.mean));
    }
    let t = s.mean / s.std_error;
    let dist = StudentsT::new(0.0, 1.0, (s.n - 1) as f64).expect("df ≥ 1");
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    Some(PairedDifference {
        pairs: s.n,
        mean: s.mean,
        ci95_low: s.ci95_low,
        ci95_high: s.ci95_high,
        t,
        p_value,
    })
}

/// Holm's step-down adjustment of p-values, in their given order: the i-th smallest of m is
/// multiplied by m − i + 1, the results made non-decreasing in that order and capped at 1
/// (R's `p.adjust(method = "holm")`). NaN p-values are left NaN and not counted in m.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len()).filter(|&i| !p_values[i].is_nan()).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]).then(i.cmp(&j)));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn the_sleep_data_as_r_gives_them() {
        // R: t.test(extra ~ group, data = sleep, paired = TRUE) (Cushny and Peebles' data):
        // t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58,
        // 95 percent confidence interval -2.4598858 -0.7001142.
        let g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
        let g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
        let d = paired_difference(&g1, &g2).expect("pairs");
        assert_eq!(d.pairs, 10);
        assert!(close(d.mean, -1.58, 1e-12), "{d:?}");
        assert!(close(d.t, -4.0621, 5e-5), "{d:?}");
        assert!(close(d.p_value, 0.002833, 5e-7), "{d:?}");
        assert!(close(d.ci95_low, -2.4598858, 5e-8) && close(d.ci95_high, -0.7001142, 5e-8), "{d:?}");
        // Swapping the two changes only the sign.
        let r = paired_difference(&g2, &g1).expect("pairs");
        assert!(close(r.t, 4.0621, 5e-5) && r.p_value == d.p_value);
    }

    #[test]
    fn only_replications_both_measured_are_pairs() {
        let a = [1.0, f64::NAN, 3.0, 5.0];
        let b = [0.0, 2.0, f64::NAN, 3.0];
        let d = paired_difference(&a, &b).expect("two pairs");
        assert_eq!(d.pairs, 2);
        assert_eq!(d.mean, 1.5);
        assert!(paired_difference(&[f64::NAN], &[1.0]).is_none());
        let one = paired_difference(&[2.0], &[1.0]).expect("one pair");
        assert!(one.p_value.is_nan() && one.mean == 1.0);
    }

    #[test]
    fn constant_differences_are_certain() {
        let same = paired_difference(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).expect("pairs");
        assert_eq!((same.mean, same.p_value, same.t), (0.0, 1.0, 0.0));
        let shifted = paired_difference(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0]).expect("pairs");
        assert_eq!((shifted.mean, shifted.p_value), (1.0, 0.0));
        assert_eq!((shifted.ci95_low, shifted.ci95_high), (1.0, 1.0));
    }

    #[test]
    fn holm_matches_r() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") → 0.03 0.06 0.06 0.02
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!(close(*a, w, 1e-15), "{adj:?}");
        }
        // Capped at 1; NaN stays NaN and does not count.
        let adj = holm(&[0.5, f64::NAN, 0.6]);
        assert_eq!(adj[0], 1.0);
        assert!(adj[1].is_nan());
        assert_eq!(adj[2], 1.0);
        assert!(holm(&[]).is_empty());
    }
}

// The comparison `rollsim compare` prints, built from each strategy's records.

use super::record::{Outcome, RunRecord};
use super::stats::{METRICS, Unit};

/// A measure of a release, as a column of `runs.csv` (or the rolled-back indicator).
type Getter = fn(&RunRecord) -> Option<f64>;

/// What `rollsim compare` compares, in table order: `(name, what it means, unit, value)`.
/// `name` is the `runs.csv` column (`rolled_back` is 1 for a replication rolled back).
pub fn compared_metrics() -> Vec<(&'static str, &'static str, Unit, Getter)> {
    let column = |name: &'static str, label: &'static str| {
        let (_, unit, get) = *METRICS.iter().find(|m| m.0 == name).expect("a runs.csv column");
        (name, label, unit, get)
    };
    vec![
        column("detected_at_s", "time to detect"),
        column("time_to_rollback_s", "time to roll back"),
        ("rolled_back", "rolled back", Unit::Share, |r: &RunRecord| {
            Some(if r.outcome == Outcome::RolledBack { 1.0 } else { 0.0 })
        }),
        column("bad_requests", "bad requests"),
        column("users_affected", "users affected"),
        column("error_budget_pct", "error budget used"),
        column("completed_at_s", "rollout duration"),
        column("overhead_pct", "overhead"),
        column("extra_pod_seconds", "extra pod-seconds"),
        column("false_alarm", "false alarms"),
    ]
}

/// One strategy's figure for one metric, and how it differs from the baseline's.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub summary: Option<Summary>,
    /// `this − baseline`, paired by replication (`None` for the baseline itself, or with no
    /// pair).
    pub vs_baseline: Option<PairedDifference>,
    /// The p-value after Holm's adjustment over every comparison in the table.
    pub p_holm: f64,
    /// `p_holm < 0.05`.
    pub significant: bool,
}

/// One row of the comparison: a metric, with one cell per strategy in column order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub cells: Vec<Cell>,
}

/// Strategies side by side, with paired differences from the baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub seed: u64,
    pub replications: usize,
    /// The strategies' labels, in column order.
    pub columns: Vec<String>,
    /// The column every other is compared with.
    pub baseline: usize,
    /// The metric the columns are ordered by (lowest mean first), if any.
    pub by: Option<&'static str>,
    pub rows: Vec<Row>,
}

/// Compares strategies: `runs[k]` holds strategy k's records in replication order, all run
/// with the same seed and count. The baseline is `runs[0]`; `by` (a metric name from
/// [`compared_metrics`]) orders the columns by its mean, lowest first, unmeasured last.
pub fn compare(labels: &[String], runs: &[Vec<RunRecord>], seed: u64, by: Option<&str>) -> Comparison {
    assert_eq!(labels.len(), runs.len());
    let replications = runs.first().map_or(0, Vec::len);
    assert!(runs.iter().all(|r| r.len() == replications), "every strategy ran the same replications");
    let metrics = compared_metrics();
    let values =
        |k: usize, get: Getter| -> Vec<f64> { runs[k].iter().map(|r| get(r).unwrap_or(f64::NAN)).collect() };
    let mut rows: Vec<Row> = metrics
        .iter()
        .map(|&(metric, label, unit, get)| {
            let base = values(0, get);
            let cells = (0..runs.len())
                .map(|k| {
                    let v = values(k, get);
                    let vs_baseline = if k == 0 { None } else { paired_difference(&v, &base) };
                    Cell { summary: Summary::of(&v), vs_baseline, p_holm: f64::NAN, significant: false }
                })
                .collect();
            Row { metric, label, unit, cells }
        })
        .collect();
    // Holm over every (metric, strategy) comparison of the table.
    let p: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.cells.iter().map(|c| c.vs_baseline.map_or(f64::NAN, |d| d.p_value)))
        .collect();
    let adjusted = holm(&p);
    for (cell, p) in rows.iter_mut().flat_map(|r| r.cells.iter_mut()).zip(adjusted) {
        cell.p_holm = p;
        cell.significant = p < 0.05;
    }
    // Column order: by the chosen metric's mean (stable, so ties keep the given order).
    let mut order: Vec<usize> = (0..runs.len()).collect();
    let by = by.and_then(|name| metrics.iter().find(|m| m.0 == name).map(|m| m.0));
    if let Some(name) = by {
        let row = rows.iter().find(|r| r.metric == name).expect("a compared metric");
        let key = |k: usize| row.cells[k].summary.map_or(f64::INFINITY, |s| s.mean);
        order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    }
    for row in &mut rows {
        row.cells = order.iter().map(|&k| row.cells[k].clone()).collect();
    }
    Comparison {
        seed,
        replications,
        columns: order.iter().map(|&k| labels[k].clone()).collect(),
        baseline: order.iter().position(|&k| k == 0).expect("the baseline is a column"),
        by,
        rows,
    }
}
