//! `rollsim tune`: the settings of an alerting rule or of an analysis metric judged against a
//! faulty version and a healthy control.
//!
//! Each setting (an alerting rule's threshold, `for` or window; an analysis metric's
//! `successCondition` threshold or `failureLimit`) runs twice with the same seed: against the
//! scenario's faulty version, and against the same version without its faults. What the
//! tuned detector (the rule, or the analysis metric) does there gives, per setting, the
//! probability that it catches the bad version (`detect`), the probability that it pages or
//! rolls back a healthy release (`false_alarm`), and how long it takes (`time to detect`). A setting is on the **Pareto
//! frontier** when no other detects at least as often, false-alarms at most as often and
//! detects at least as fast, and is strictly better in one. The recommendation for a
//! false-alarm budget is the frontier setting that detects most often among those whose
//! false-alarm rate is within the budget, the faster on a tie.

use super::record::RunRecord;
use super::stats::{Summary, wilson_interval};

/// A share with its 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Share {
    pub count: usize,
    pub n: usize,
    pub share: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

impl Share {
    pub fn of(count: usize, n: usize) -> Share {
        let (ci95_low, ci95_high) = wilson_interval(count, n);
        Share {
            count,
            n,
            share: if n == 0 { f64::NAN } else { count as f64 / n as f64 },
            ci95_low,
            ci95_high,
        }
    }
}

/// One setting's result.
#[derive(Clone, Debug, PartialEq)]
pub struct TunePoint {
    /// The setting, as `(what, value)` pairs (`threshold`, `for`, `window`).
    pub setting: Vec<(String, String)>,
    pub detect: Share,
    pub false_alarm: Share,
    /// Seconds from the release to the detection, over the faulty runs the rule caught.
    pub time_to_detect: Option<Summary>,
    pub pareto: bool,
}

/// What one setting's runs came to: the counts its [`TunePoint`] is computed from, and what a
/// shard of a tune keeps so that a merge computes the very same point.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingResult {
    /// The setting, as `(what, value)` pairs.
    pub setting: Vec<(String, String)>,
    /// Faulty releases run.
    pub faulty: usize,
    /// Seconds from the release to the detection of each faulty release the tuned detector
    /// caught, in replication order.
    pub caught: Vec<f64>,
    /// Healthy releases run.
    pub healthy: usize,
    /// Healthy releases the tuned detector stopped or paged on.
    pub alarms: usize,
}

impl SettingResult {
    /// The setting's figures.
    pub fn point(&self) -> TunePoint {
        TunePoint {
            setting: self.setting.clone(),
            detect: Share::of(self.caught.len(), self.faulty),
            false_alarm: Share::of(self.alarms, self.healthy),
            time_to_detect: Summary::of(&self.caught),
            pareto: false,
        }
    }
}

/// Counts a setting's faulty and healthy runs: a run counts when what detected it is
/// `detector` exactly (`RunRecord::detected_by`, e.g. `alert:HighErrorRate` or
/// `analysis:success-rate`).
pub fn tally(
    setting: Vec<(String, String)>,
    detector: &str,
    faulty: &[RunRecord],
    healthy: &[RunRecord],
) -> SettingResult {
    let by = |r: &&RunRecord| r.detected_by.as_deref() == Some(detector);
    SettingResult {
        setting,
        faulty: faulty.len(),
        caught: faulty.iter().filter(by).filter_map(|r| r.detected_at_s).collect(),
        healthy: healthy.len(),
        alarms: healthy.iter().filter(by).count(),
    }
}

/// A setting's figures from its faulty and healthy runs ([`tally`], then
/// [`SettingResult::point`]).
pub fn judge(
    setting: Vec<(String, String)>,
    detector: &str,
    faulty: &[RunRecord],
    healthy: &[RunRecord],
) -> TunePoint {
    tally(setting, detector, faulty, healthy).point()
}

/// Marks the points no other point dominates.
pub fn mark_pareto(points: &mut [TunePoint]) {
    let ttd = |p: &TunePoint| p.time_to_detect.map_or(f64::INFINITY, |s| s.mean);
    let dominates = |a: &TunePoint, b: &TunePoint| {
        let no_worse = a.detect.share >= b.detect.share
            && a.false_alarm.share <= b.false_alarm.share
            && ttd(a) <= ttd(b);
        let better =
            a.detect.share > b.detect.share || a.false_alarm.share < b.false_alarm.share || ttd(a) < ttd(b);
        no_worse && better
    };
    let marks: Vec<bool> = points.iter().map(|p| !points.iter().any(|q| dominates(q, p))).collect();
    for (p, m) in points.iter_mut().zip(marks) {
        p.pareto = m;
    }
}

/// The frontier point that detects most often with a false-alarm rate within `budget`
/// (the faster on a tie; the earlier in the list on a full tie).
pub fn recommended(points: &[TunePoint], budget: f64) -> Option<usize> {
    let ttd = |p: &TunePoint| p.time_to_detect.map_or(f64::INFINITY, |s| s.mean);
    let mut best: Option<usize> = None;
    for (i, p) in points.iter().enumerate() {
        if !p.pareto || p.false_alarm.share > budget || p.detect.count == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => {
                let q = &points[b];
                p.detect.share > q.detect.share || (p.detect.share == q.detect.share && ttd(p) < ttd(q))
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::tests::sample_record;

    fn runs(detected: &[Option<f64>], by: &str) -> Vec<RunRecord> {
        detected
            .iter()
            .enumerate()
            .map(|(i, d)| RunRecord {
                detected_by: d.map(|_| by.to_owned()),
                detected_at_s: *d,
                ..sample_record(i as u64, Outcome::RolledBack)
            })
            .collect()
    }

    fn point(name: &str, faulty: &[Option<f64>], healthy: &[Option<f64>]) -> TunePoint {
        judge(
            vec![("threshold".into(), name.into())],
            "alert:HighErrorRate",
            &runs(faulty, "alert:HighErrorRate"),
            &runs(healthy, "alert:HighErrorRate"),
        )
    }

    #[test]
    fn judge_counts_only_the_tuned_rule() {
        let faulty = runs(&[Some(100.0), Some(200.0), None, None], "alert:HighErrorRate");
        let mut healthy = runs(&[Some(50.0), None, None, None], "alert:Other");
        healthy[1].detected_by = Some("alert:HighErrorRate".into());
        healthy[1].detected_at_s = Some(70.0);
        let p = judge(vec![], "alert:HighErrorRate", &faulty, &healthy);
        assert_eq!((p.detect.count, p.detect.n), (2, 4));
        assert_eq!(p.false_alarm.count, 1);
        assert_eq!(p.time_to_detect.expect("caught").mean, 150.0);
    }

    #[test]
    fn the_frontier_and_the_recommendation() {
        // loose: catches all, fast, but 2 false alarms in 4; tight: catches 3 in 4, slower,
        // none false; slow: catches 3 in 4, slower still, none false (dominated by tight).
        let mut points = vec![
            point("loose", &[Some(60.0); 4], &[Some(1.0), Some(1.0), None, None]),
            point("tight", &[Some(120.0), Some(120.0), Some(120.0), None], &[None; 4]),
            point("slow", &[Some(300.0), Some(300.0), Some(300.0), None], &[None; 4]),
        ];
        mark_pareto(&mut points);
        assert_eq!(points.iter().map(|p| p.pareto).collect::<Vec<_>>(), [true, true, false]);
        assert_eq!(recommended(&points, 0.05), Some(1));
        assert_eq!(recommended(&points, 0.5), Some(0));
        let never = vec![point("none", &[None; 4], &[None; 4])];
        assert_eq!(recommended(&never, 1.0), None);
    }
}
