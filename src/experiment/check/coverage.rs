//! The detection coverage matrix: a standard set of bad versions, each run against the
//! user's monitoring and strategy with the Monte Carlo runner, and a healthy control.
//!
//! Every fault replaces the new version's behaviour with the old version's plus that one
//! fault (from each pod's start), so the matrix measures the monitoring, not the new
//! version's own fault. All faults and the control run the same replication seeds (common
//! random numbers): their differences are the faults', not the draws'.

use crate::engine::{DurationDist, MINUTE};
use crate::experiment::record::{Outcome, RunRecord};
use crate::experiment::runner::{RunPlan, run_all};
use crate::experiment::stats::{quantile_sorted, wilson_interval};
use crate::scenario::{Fault, FaultAnchor, FaultKind, Latency, Scenario, VersionProfile};
use serde::Serialize;
use std::collections::BTreeMap;

/// The name of the healthy control in the matrix.
pub const CONTROL: &str = "healthy";

/// The standard set's names, in order (see [`standard_fault`]).
pub const STANDARD: &[&str] = &[
    "errors-0.1pct",
    "errors-1pct",
    "errors-5pct",
    "errors-50pct",
    "latency-5x",
    "crash-at-start",
    "crash-after-10m",
    "user-errors-5pct",
    "overload",
];

/// The faults a release must catch unless `--require` says otherwise.
pub const DEFAULT_REQUIRED: &[&str] = &["errors-5pct", "errors-50pct", "crash-at-start"];

/// One bad version of the standard set, for `s`: its fault, or `None` for an unknown name.
pub fn standard_fault(name: &str, s: &Scenario) -> Option<FaultKind> {
    let old = s.versions.get(&s.release.from_image);
    Some(match name {
        "errors-0.1pct" => FaultKind::Errors { rate: 0.001 },
        "errors-1pct" => FaultKind::Errors { rate: 0.01 },
        "errors-5pct" => FaultKind::Errors { rate: 0.05 },
        "errors-50pct" => FaultKind::Errors { rate: 0.5 },
        "latency-5x" => {
            let l = old.map_or(Latency { p50: 50_000, p99: 250_000 }, |v| v.latency);
            FaultKind::Latency { latency: Latency { p50: l.p50 * 5, p99: l.p99 * 5 } }
        }
        "crash-at-start" => FaultKind::CrashAtStart,
        "crash-after-10m" => FaultKind::CrashAfter { uptime: DurationDist::Fixed(10 * MINUTE) },
        "user-errors-5pct" => FaultKind::ErrorsForUsers { fraction: 0.05, rate: 1.0 },
        "overload" => {
            // Fails half the requests above 80% of a pod's fair share at the base rate.
            let replicas = f64::from(s.deployment.replicas.max(1));
            FaultKind::ErrorsAboveLoad { above_rps: 0.8 * s.traffic.rps / replicas, rate: 0.5 }
        }
        _ => return None,
    })
}

/// `s` with the new version behaving as the old one plus `fault` (none: the control).
pub fn with_fault(s: &Scenario, fault: Option<FaultKind>, replications: u64) -> Scenario {
    let mut s = s.clone();
    let base = s.versions.get(&s.release.from_image).cloned().unwrap_or(VersionProfile {
        error_rate: 0.0,
        latency: Latency { p50: 50_000, p99: 250_000 },
        faults: Vec::new(),
    });
    let faults = fault
        .into_iter()
        .map(|kind| Fault { kind, after: 0, anchor: FaultAnchor::PodStart, ramp: None })
        .collect();
    s.versions.insert(s.release.to_image.clone(), VersionProfile { faults, ..base });
    s.replications = replications;
    s
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub fault: String,
    pub replications: u64,
    pub detected: u64,
    pub p_detect: f64,
    /// The 95% Wilson interval of `p_detect`.
    pub p_detect_low: f64,
    pub p_detect_high: f64,
    /// Seconds from the release to the detection, over the detected replications.
    pub time_to_detect_p50_s: Option<f64>,
    pub time_to_detect_p95_s: Option<f64>,
    /// Mean requests failed or dropped by the new version, over all replications.
    pub bad_requests_mean: f64,
    pub users_affected_mean: f64,
    pub rolled_back: u64,
    /// Seconds from the detection until the rollback finished (the old version fully
    /// available, no new pods left), over the replications that rolled back.
    pub time_to_rollback_p50_s: Option<f64>,
    pub time_to_rollback_p95_s: Option<f64>,
    /// Which signal detected it, with how many replications each.
    pub detected_by: BTreeMap<String, u64>,
    /// Most pods at once, in replications that completed and that rolled back.
    #[serde(skip)]
    pub peak_pods_completed: Option<u64>,
    #[serde(skip)]
    pub peak_pods_rolled_back: Option<u64>,
}

impl Row {
    /// The signal that caught the most replications (ties: the first by name).
    pub fn main_signal(&self) -> Option<&str> {
        let most = self.detected_by.values().copied().max()?;
        self.detected_by.iter().find(|&(_, &n)| n == most).map(|(k, _)| k.as_str())
    }
}

/// Summarises one fault's replications.
pub fn row(fault: &str, records: &[RunRecord]) -> Row {
    let n = records.len();
    let detected: Vec<&RunRecord> = records.iter().filter(|r| r.detected_at_s.is_some()).collect();
    let (low, high) = wilson_interval(detected.len(), n);
    let mut ttd: Vec<f64> = detected.iter().filter_map(|r| r.detected_at_s).collect();
    ttd.sort_by(f64::total_cmp);
    let q = |p| (!ttd.is_empty()).then(|| quantile_sorted(&ttd, p));
    let mut ttr: Vec<f64> = records.iter().filter_map(|r| r.time_to_rollback_s).collect();
    ttr.sort_by(f64::total_cmp);
    let qr = |p| (!ttr.is_empty()).then(|| quantile_sorted(&ttr, p));
    let mean = |f: fn(&RunRecord) -> f64| {
        if n == 0 { 0.0 } else { records.iter().map(f).sum::<f64>() / n as f64 }
    };
    let mut by = BTreeMap::new();
    for r in &detected {
        *by.entry(r.detected_by.clone().unwrap_or_else(|| "unknown".into())).or_insert(0) += 1;
    }
    let peak = |o: Outcome| records.iter().filter(|r| r.outcome == o).map(|r| r.peak_pods).max();
    Row {
        fault: fault.to_string(),
        replications: n as u64,
        detected: detected.len() as u64,
        p_detect: if n == 0 { f64::NAN } else { detected.len() as f64 / n as f64 },
        p_detect_low: low,
        p_detect_high: high,
        time_to_detect_p50_s: q(0.5),
        time_to_detect_p95_s: q(0.95),
        bad_requests_mean: mean(|r| r.bad_requests as f64),
        users_affected_mean: mean(|r| r.users_affected as f64),
        rolled_back: records.iter().filter(|r| r.outcome == Outcome::RolledBack).count() as u64,
        time_to_rollback_p50_s: qr(0.5),
        time_to_rollback_p95_s: qr(0.95),
        detected_by: by,
        peak_pods_completed: peak(Outcome::Completed),
        peak_pods_rolled_back: peak(Outcome::RolledBack),
    }
}

/// Runs the control and every named fault, `replications` each, with the scenario's seed.
/// Unknown names are the caller's to refuse (see [`standard_fault`]).
pub fn matrix(s: &Scenario, faults: &[String], replications: u64, threads: Option<usize>) -> Vec<Row> {
    let plan = RunPlan { threads, ..RunPlan::default() };
    let mut rows = Vec::with_capacity(faults.len() + 1);
    let control = with_fault(s, None, replications);
    let records: Vec<RunRecord> = run_all(&control, plan).into_iter().map(|r| r.record).collect();
    rows.push(row(CONTROL, &records));
    for name in faults {
        let Some(kind) = standard_fault(name, s) else { continue };
        let scenario = with_fault(s, Some(kind), replications);
        let records: Vec<RunRecord> = run_all(&scenario, plan).into_iter().map(|r| r.record).collect();
        rows.push(row(name, &records));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(detected_at: Option<f64>, by: Option<&str>, ttr: Option<f64>) -> RunRecord {
        RunRecord {
            replication: 0,
            seed: 0,
            outcome: if ttr.is_some() { Outcome::RolledBack } else { Outcome::Completed },
            detected_by: by.map(str::to_string),
            detected_at_s: detected_at,
            mitigated_at_s: None,
            rolled_back_at_s: None,
            completed_at_s: None,
            time_to_rollback_s: ttr,
            requests: 100,
            succeeded_requests: 90,
            failed_requests: 10,
            dropped_requests: 0,
            new_version_requests: 50,
            bad_requests: 10,
            excess_failed_requests: 9.0,
            users_affected: 4,
            error_budget_pct: 0.0,
            peak_pods: 13,
            extra_pod_seconds: 0.0,
            overhead_pct: 0.0,
            min_ready_pods: 10,
            false_alarm: 0,
            alerts_fired: 0,
        }
    }

    #[test]
    fn a_row_counts_detections_signals_and_times() {
        let records = [
            record(Some(100.0), Some("alert:A"), Some(60.0)),
            record(Some(300.0), Some("analysis:m"), Some(120.0)),
            record(Some(200.0), Some("alert:A"), Some(90.0)),
            record(None, None, None),
        ];
        let r = row("errors-5pct", &records);
        assert_eq!((r.replications, r.detected, r.rolled_back), (4, 3, 3));
        assert_eq!(r.p_detect, 0.75);
        assert_eq!((r.p_detect_low, r.p_detect_high), wilson_interval(3, 4));
        assert_eq!(r.time_to_detect_p50_s, Some(200.0));
        assert_eq!(r.time_to_rollback_p50_s, Some(90.0));
        assert_eq!(r.main_signal(), Some("alert:A"));
        assert_eq!(r.detected_by["analysis:m"], 1);
        assert_eq!(r.bad_requests_mean, 10.0);
        assert_eq!(r.peak_pods_rolled_back, Some(13));
        let none = row("x", &records[3..]);
        assert_eq!((none.detected, none.time_to_detect_p50_s, none.main_signal()), (0, None, None));
    }

    #[test]
    fn every_standard_fault_is_defined_and_the_control_has_none() {
        let s =
            crate::scenario::load_str(crate::scenario::EXAMPLE_FILE_NAME, crate::scenario::EXAMPLE_YAML, &[])
                .unwrap();
        for name in STANDARD {
            let kind = standard_fault(name, &s).unwrap_or_else(|| panic!("{name}"));
            let faulty = with_fault(&s, Some(kind.clone()), 3);
            let v = &faulty.versions[&s.release.to_image];
            assert_eq!(v.faults.len(), 1);
            assert_eq!(v.faults[0].kind, kind);
            assert_eq!(v.error_rate, s.versions[&s.release.from_image].error_rate);
            assert_eq!(faulty.replications, 3);
        }
        assert!(standard_fault("errors-7pct", &s).is_none());
        let control = with_fault(&s, None, 3);
        assert!(control.versions[&s.release.to_image].faults.is_empty());
    }
}
