//! Scoring: Kayenta's `WeightedSumScorer` and `ThresholdScoreClassifier`.
//!
//! - Muted metrics are left out of everything below.
//! - A group's score is `100 × #Pass / (#Pass + #High + #Low + #NodataFailMetric)`; `Nodata`
//!   and `Error` do not count. A group with nothing countable scores 0 but counts as 100 in
//!   the summary.
//! - The summary is `Σ group score × weight / 100`, rounded half-up to 2 decimals. Groups
//!   without a configured weight share `100 − Σ configured weights` equally.
//! - The summary is 0 if a critical metric is not `Pass`, or if ≥ 50 % of the metrics are
//!   `Nodata`.
//! - Verdict: `Pass` at or above the pass threshold, `Marginal` at or above the marginal
//!   one, else `Fail`.

use super::classify::{Classification, MetricResult};

/// A summary is 0 when at least this share of the metrics (in percent) have no data.
pub const NODATA_THRESHOLD_PERCENT: f64 = 50.0;

/// One group's score.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupScore {
    pub name: String,
    /// 0–100; 0 for a group without countable metrics.
    pub score: f64,
    /// No countable metric: the group counts as 100 in the summary.
    pub no_data: bool,
}

/// Why the summary was forced to 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoreFailure {
    /// A critical metric (the first one, in order) was not `Pass`.
    Critical { metric: String },
    /// At least [`NODATA_THRESHOLD_PERCENT`] of the metrics had no data.
    TooManyNodata,
}

/// The weighted-sum score of a set of metric results.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// 0–100, rounded to 2 decimals.
    pub summary: f64,
    /// In order of first appearance among the unmuted results.
    pub groups: Vec<GroupScore>,
    pub failure: Option<ScoreFailure>,
}

/// Scores `results` (muted ones are skipped) with `group_weights` (percent; groups not listed
/// share what is left of 100).
///
/// Panics if the weights are invalid (see [`check_group_weights`]).
pub fn weighted_sum(results: &[MetricResult], group_weights: &[(String, f64)]) -> Score {
    if let Err(problem) = check_group_weights(group_weights) {
        panic!("{problem}");
    }
    let counted: Vec<&MetricResult> = results.iter().filter(|r| !r.muted).collect();
    let groups = group_scores(&counted);
    let critical = counted.iter().find(|r| r.critical && r.classification != Classification::Pass);
    let failure = if let Some(metric) = critical {
        Some(ScoreFailure::Critical { metric: metric.name.clone() })
    } else if too_many_nodata(&counted) {
        Some(ScoreFailure::TooManyNodata)
    } else {
        None
    };
    let summary = if failure.is_some() { 0.0 } else { summary(&groups, group_weights) };
    assert!((0.0..=100.0).contains(&summary), "summary {summary} outside [0, 100]");
    Score { summary, groups, failure }
}

/// Group weights must be finite, not negative, name each group once and total at most 100
/// (Kayenta: "Weights must total 100"; less leaves a share for unlisted groups).
pub fn check_group_weights(group_weights: &[(String, f64)]) -> Result<(), String> {
    for (i, (group, weight)) in group_weights.iter().enumerate() {
        if !weight.is_finite() || *weight < 0.0 {
            return Err(format!("group {group:?} has weight {weight}; weights are percentages ≥ 0"));
        }
        if group_weights[..i].iter().any(|(other, _)| other == group) {
            return Err(format!("group {group:?} is weighted twice"));
        }
    }
    let total: f64 = group_weights.iter().map(|&(_, w)| w).sum();
    if total > 100.0 + 1e-9 {
        return Err(format!("group weights total {total}, more than 100"));
    }
    Ok(())
}

fn group_scores(results: &[&MetricResult]) -> Vec<GroupScore> {
    let mut names: Vec<&str> = Vec::new();
    for result in results {
        if !names.contains(&result.group.as_str()) {
            names.push(&result.group);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let labels = results.iter().filter(|r| r.group == name).map(|r| r.classification);
            let (mut pass, mut countable) = (0u32, 0u32);
            for label in labels {
                use Classification::*;
                match label {
                    Pass => (pass, countable) = (pass + 1, countable + 1),
                    High | Low | NodataFailMetric => countable += 1,
                    Nodata | Error => {}
                }
            }
            let no_data = countable == 0;
            let score = if no_data { 0.0 } else { f64::from(pass) / f64::from(countable) * 100.0 };
            GroupScore { name: name.to_owned(), score, no_data }
        })
        .collect()
}

fn too_many_nodata(results: &[&MetricResult]) -> bool {
    let nodata = results.iter().filter(|r| r.classification == Classification::Nodata).count();
    !results.is_empty() && nodata as f64 / results.len() as f64 * 100.0 >= NODATA_THRESHOLD_PERCENT
}

fn summary(groups: &[GroupScore], group_weights: &[(String, f64)]) -> f64 {
    let weight_of = |name: &str| group_weights.iter().find(|(group, _)| group == name).map(|&(_, w)| w);
    let configured: f64 = group_weights.iter().map(|&(_, w)| w).sum();
    let unweighted = groups.iter().filter(|g| weight_of(&g.name).is_none()).count();
    let shared = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let total: f64 = groups
        .iter()
        .map(|g| {
            let effective = if g.no_data { 100.0 } else { g.score };
            effective * (weight_of(&g.name).unwrap_or(shared) / 100.0)
        })
        .sum();
    round_half_up_2(total)
}

/// Rounds to 2 decimals, halves away from zero, on the shortest decimal form of `x` (as
/// Commons Math's `Precision.round(x, 2)` does via `BigDecimal`): 1.005 → 1.01, which
/// `(x * 100).round() / 100` gets wrong because 1.005 is stored as 1.00499….
pub fn round_half_up_2(x: f64) -> f64 {
    assert!(x.is_finite() && x.abs() < 1e15, "cannot round {x}");
    let text = x.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if fraction.len() <= 2 {
        return x;
    }
    let whole: u64 = whole.parse().expect("digits");
    let cents: u64 = fraction[..2].parse().expect("digits");
    let round_up = fraction.as_bytes()[2] >= b'5';
    let cents = whole * 100 + cents + u64::from(round_up);
    (cents as f64 / 100.0).copysign(x)
}

/// The canary's verdict from its score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
}

/// `Pass` if `score ≥ pass`, `Marginal` if `score ≥ marginal`, else `Fail`.
pub fn verdict(score: f64, marginal: f64, pass: f64) -> Verdict {
    assert!(marginal <= pass, "marginal threshold {marginal} above pass threshold {pass}");
    if score >= pass {
        Verdict::Pass
    } else if score >= marginal {
        Verdict::Marginal
    } else {
        Verdict::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Classification::*;

    fn metric(group: &str, classification: Classification) -> MetricResult {
        MetricResult {
            name: format!("{group}-{classification:?}"),
            group: group.to_owned(),
            classification,
            critical: false,
            muted: false,
            comparison: None,
        }
    }

    fn critical(mut result: MetricResult) -> MetricResult {
        result.critical = true;
        result
    }

    fn weights(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|&(g, w)| (g.to_owned(), w)).collect()
    }

    fn summary_of(results: &[MetricResult], pairs: &[(&str, f64)]) -> f64 {
        weighted_sum(results, &weights(pairs)).summary
    }

    /// ScorerSuite, case by case.
    #[test]
    fn upstream_scorer_suite() {
        let g = "test-group";
        assert_eq!(summary_of(&[metric(g, Pass)], &[]), 100.0);
        assert_eq!(summary_of(&[metric(g, High)], &[]), 0.0);
        assert_eq!(summary_of(&[metric(g, Pass), metric(g, High)], &[]), 50.0);
        assert_eq!(summary_of(&[metric(g, Pass), metric(g, High), metric(g, Low)], &[]), 33.33);
        let two_groups = [metric("group-1", Pass), metric("group-1", Pass), metric("group-2", High)];
        assert_eq!(summary_of(&two_groups, &[("group-1", 75.0), ("group-2", 25.0)]), 75.0);
        let equal = [metric("group-1", Pass), metric("group-1", High), metric("group-2", High)];
        assert_eq!(summary_of(&equal, &[("group-1", 50.0), ("group-2", 50.0)]), 25.0);
        let with_nodata = [metric("group-1", Pass), metric("group-1", Nodata), metric("group-2", High)];
        assert_eq!(summary_of(&with_nodata, &[("group-1", 50.0), ("group-2", 50.0)]), 50.0);
        assert_eq!(summary_of(&[metric(g, Pass), critical(metric(g, High))], &[]), 0.0);
        assert_eq!(summary_of(&[metric(g, Low), critical(metric(g, Pass))], &[]), 50.0);
        assert_eq!(summary_of(&[metric(g, Pass), critical(metric(g, Nodata))], &[]), 0.0);
        let unequal =
            [metric("group1", High), metric("group1", Low), metric("group1", Pass), metric("group2", High)];
        assert_eq!(summary_of(&unequal, &[("group1", 15.0), ("group2", 85.0)]), 5.0);
    }

    /// ScorerSuite's no-data cases: a group of only Nodata scores 0 but counts as 100.
    #[test]
    fn upstream_nodata_groups() {
        let alone = weighted_sum(&[metric("nodata", Nodata)], &[]);
        assert_eq!(alone.groups, [GroupScore { name: "nodata".into(), score: 0.0, no_data: true }]);
        assert_eq!((alone.summary, alone.failure), (0.0, Some(ScoreFailure::TooManyNodata)));
        let mixed =
            weighted_sum(&[metric("pass", Pass), metric("pass", Pass), metric("nodata", Nodata)], &[]);
        let mut scores: Vec<f64> = mixed.groups.iter().map(|g| g.score).collect();
        scores.sort_by(f64::total_cmp);
        assert_eq!(scores, [0.0, 100.0]);
        assert_eq!((mixed.summary, mixed.failure), (100.0, None));
    }

    /// spinnaker.io's judge page: "if 9 of 10 metrics are classified as 'Pass', the score
    /// is 90%".
    #[test]
    fn nine_of_ten_pass_scores_ninety() {
        let mut results = vec![metric("g", Pass); 9];
        results.push(metric("g", High));
        assert_eq!(summary_of(&results, &[]), 90.0);
        // NodataFailMetric counts against the group like High; Nodata and Error do not count.
        results[9] = metric("g", NodataFailMetric);
        assert_eq!(summary_of(&results, &[]), 90.0);
        results[9] = metric("g", Nodata);
        assert_eq!(summary_of(&results, &[]), 100.0);
        results[9] = metric("g", Error);
        assert_eq!(summary_of(&results, &[]), 100.0);
    }

    /// Half the metrics without data zeroes the score; just under half does not.
    #[test]
    fn half_nodata_zeroes_the_score() {
        let half = [metric("a", Pass), metric("b", Nodata)];
        assert_eq!(weighted_sum(&half, &[]).failure, Some(ScoreFailure::TooManyNodata));
        let third = [metric("a", Pass), metric("a", Pass), metric("b", Nodata)];
        assert_eq!(summary_of(&third, &[]), 100.0);
        let mut five_of_ten = vec![metric("a", Pass); 5];
        five_of_ten.extend(vec![metric("a", Nodata); 5]);
        assert_eq!(summary_of(&five_of_ten, &[]), 0.0);
        five_of_ten[9] = metric("a", Pass);
        assert_eq!(summary_of(&five_of_ten, &[]), 100.0);
    }

    /// Groups without a weight share the rest equally: latency 50, the other two 25 each.
    #[test]
    fn unweighted_groups_share_the_remainder() {
        let results = [
            metric("latency", Pass),
            metric("latency", High),
            metric("errors", Pass),
            metric("saturation", High),
        ];
        // 50 × 50/100 + 100 × 25/100 + 0 × 25/100.
        assert_eq!(summary_of(&results, &[("latency", 50.0)]), 50.0);
        // Equal shares of 100 without weights: (50 + 100 + 0) / 3.
        assert_eq!(summary_of(&results, &[]), 50.0);
        // A configured weight for an absent group still takes its share.
        assert_eq!(summary_of(&results, &[("latency", 40.0), ("absent", 30.0)]), 20.0 + 15.0);
        // The rounding of a third.
        assert_eq!(summary_of(&results[..3], &[]), 75.0);
        assert_eq!(summary_of(&[metric("a", Pass), metric("b", Pass), metric("c", High)], &[]), 66.67);
    }

    #[test]
    fn muted_metrics_do_not_count() {
        let mut muted = critical(metric("g", High));
        muted.muted = true;
        let mut silent_nodata = metric("h", Nodata);
        silent_nodata.muted = true;
        let score = weighted_sum(&[metric("g", Pass), muted, silent_nodata.clone(), silent_nodata], &[]);
        assert_eq!((score.summary, score.failure), (100.0, None));
        assert_eq!(score.groups.len(), 1);
    }

    #[test]
    fn critical_failures_name_the_first_metric() {
        let results = [metric("a", Pass), critical(metric("b", Low)), critical(metric("c", High))];
        let score = weighted_sum(&results, &[]);
        assert_eq!(score.failure, Some(ScoreFailure::Critical { metric: "b-Low".into() }));
        assert_eq!(score.summary, 0.0);
    }

    #[test]
    fn weights_are_checked() {
        assert!(check_group_weights(&weights(&[("a", 60.0), ("b", 40.0)])).is_ok());
        assert!(check_group_weights(&weights(&[("a", 60.0), ("b", 41.0)])).is_err());
        assert!(check_group_weights(&weights(&[("a", -1.0)])).is_err());
        assert!(check_group_weights(&weights(&[("a", f64::NAN)])).is_err());
        assert!(check_group_weights(&weights(&[("a", 10.0), ("a", 10.0)])).is_err());
    }

    #[test]
    fn rounding_is_half_up_on_the_decimal_form() {
        assert_eq!(round_half_up_2(33.333333333333336), 33.33);
        assert_eq!(round_half_up_2(66.66666666666667), 66.67);
        assert_eq!(round_half_up_2(1.005), 1.01);
        assert_eq!(round_half_up_2(2.675), 2.68);
        assert_eq!(round_half_up_2(-2.675), -2.68);
        assert_eq!(round_half_up_2(5.625), 5.63);
        assert_eq!(round_half_up_2(0.004999), 0.0);
        assert_eq!(round_half_up_2(99.995), 100.0);
        assert_eq!(round_half_up_2(42.0), 42.0);
        assert_eq!(round_half_up_2(1e-7), 0.0);
    }

    /// The Spinnaker starting thresholds: marginal 75, pass 95, both inclusive.
    #[test]
    fn verdict_thresholds() {
        assert_eq!(verdict(100.0, 75.0, 95.0), Verdict::Pass);
        assert_eq!(verdict(95.0, 75.0, 95.0), Verdict::Pass);
        assert_eq!(verdict(94.99, 75.0, 95.0), Verdict::Marginal);
        assert_eq!(verdict(90.0, 75.0, 95.0), Verdict::Marginal);
        assert_eq!(verdict(75.0, 75.0, 95.0), Verdict::Marginal);
        assert_eq!(verdict(74.99, 75.0, 95.0), Verdict::Fail);
        assert_eq!(verdict(0.0, 75.0, 95.0), Verdict::Fail);
    }
}
