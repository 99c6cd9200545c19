//! `rollsim check`: readiness of a release before it happens. Configuration that is legal
//! but harmful ([`config`]), resource fit during the release and a rollback ([`fit`]), and a
//! detection coverage matrix of standard bad versions against the user's monitoring
//! ([`coverage`]), combined into one verdict per strategy ([`verdict`]).

pub mod config;
pub mod coverage;
pub mod fit;

use serde::Serialize;

/// One harmful setting, with the number that shows it and the limit it crosses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The check's id (`alert-for-vs-step`, …).
    pub check: &'static str,
    /// The object and field at fault.
    pub object: String,
    pub message: String,
    /// The setting's value and the limit it crosses (seconds, or a count, or rps).
    pub value_s: f64,
    pub limit_s: f64,
}

/// The thresholds a strategy must meet (`rollsim check`'s flags).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    /// Each required fault's P(detect) must be at least this.
    pub min_detect: f64,
    /// The healthy control's detection rate (false alarms) must be at most this.
    pub max_false_alarm: f64,
    /// The worst moment must leave at least this much of the pod slots free (percent).
    pub min_headroom_pct: f64,
    /// The faults that must be caught.
    pub required: Vec<String>,
    /// Whether a configuration finding fails the check.
    pub fail_on_config: bool,
}

/// Everything checked about one strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyCheck {
    /// The scenario file, and the variant (`spec.variants`) when it is one.
    pub file: String,
    pub variant: Option<String>,
    pub scenario: String,
    pub strategy: String,
    pub findings: Vec<Finding>,
    pub fit: fit::Fit,
    /// The control first, then each fault; empty when the coverage matrix was skipped.
    pub coverage: Vec<coverage::Row>,
    /// Faults that no replication detected.
    pub uncaught: Vec<String>,
    pub pass: bool,
    /// Why it fails (empty when it passes).
    pub failures: Vec<String>,
}

/// Checks `s` (simulating the coverage matrix with `replications` each unless 0).
pub fn check(
    s: &crate::scenario::Scenario,
    faults: &[String],
    replications: u64,
    threads: Option<usize>,
    thresholds: &Thresholds,
) -> StrategyCheck {
    let findings = config::validate(s);
    let rows =
        if replications == 0 { Vec::new() } else { coverage::matrix(s, faults, replications, threads) };
    let measured_release = rows.iter().filter_map(|r| r.peak_pods_completed).max();
    let measured_rollback = rows.iter().filter_map(|r| r.peak_pods_rolled_back).max();
    let fit = fit::fit(s, measured_release, measured_rollback);
    let uncaught = rows.iter().skip(1).filter(|r| r.detected == 0).map(|r| r.fault.clone()).collect();
    let failures = verdict(&findings, &fit, &rows, thresholds);
    StrategyCheck {
        file: String::new(),
        variant: None,
        scenario: s.name.clone(),
        strategy: s.release_summary(),
        findings,
        fit,
        coverage: rows,
        uncaught,
        pass: failures.is_empty(),
        failures,
    }
}

/// The reasons a strategy fails the thresholds, one sentence each (empty: it passes).
pub fn verdict(findings: &[Finding], fit: &fit::Fit, rows: &[coverage::Row], t: &Thresholds) -> Vec<String> {
    let mut out = Vec::new();
    if t.fail_on_config && !findings.is_empty() {
        let mut ids: Vec<&str> = findings.iter().map(|f| f.check).collect();
        ids.dedup();
        out.push(format!("configuration: {}", ids.join(", ")));
    }
    if !fit.fits {
        out.push(format!("the worst moment needs {} pods, the nodes hold {}", fit.peak_pods, fit.pod_slots));
    } else if fit.headroom_pct < t.min_headroom_pct {
        out.push(format!("headroom {:.1}% < {:.1}%", fit.headroom_pct, t.min_headroom_pct));
    }
    if let Some(control) = rows.first().filter(|r| r.fault == coverage::CONTROL)
        && control.p_detect > t.max_false_alarm
    {
        out.push(format!(
            "false alarms in {:.0}% of healthy releases (> {:.0}%)",
            100.0 * control.p_detect,
            100.0 * t.max_false_alarm
        ));
    }
    for required in &t.required {
        if let Some(r) = rows.iter().find(|r| &r.fault == required)
            && r.p_detect < t.min_detect
        {
            out.push(format!(
                "{} caught in {:.0}% (< {:.0}%)",
                r.fault,
                100.0 * r.p_detect,
                100.0 * t.min_detect
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds() -> Thresholds {
        Thresholds {
            min_detect: 0.9,
            max_false_alarm: 0.05,
            min_headroom_pct: 10.0,
            required: vec!["errors-5pct".into()],
            fail_on_config: true,
        }
    }

    fn row(fault: &str, detected: u64, n: u64) -> coverage::Row {
        coverage::Row {
            fault: fault.into(),
            replications: n,
            detected,
            p_detect: detected as f64 / n as f64,
            p_detect_low: 0.0,
            p_detect_high: 1.0,
            time_to_detect_p50_s: None,
            time_to_detect_p95_s: None,
            bad_requests_mean: 0.0,
            users_affected_mean: 0.0,
            rolled_back: 0,
            time_to_rollback_p50_s: None,
            time_to_rollback_p95_s: None,
            detected_by: Default::default(),
            peak_pods_completed: None,
            peak_pods_rolled_back: None,
        }
    }

    fn fit(peak: u64, slots: u64) -> fit::Fit {
        fit::Fit {
            planned_release_pods: peak,
            planned_rollback_pods: peak,
            measured_release_pods: None,
            measured_rollback_pods: None,
            peak_pods: peak,
            pod_requests_cpu_millis: 0,
            pod_requests_memory_bytes: 0,
            peak_cpu_millis: 0,
            peak_memory_bytes: 0,
            allocatable_cpu_millis: 0,
            allocatable_memory_bytes: 0,
            pod_slots: slots,
            fits: peak <= slots,
            headroom_pct: (slots as f64 - peak as f64) / slots as f64 * 100.0,
        }
    }

    #[test]
    fn each_threshold_fails_on_its_own() {
        let t = thresholds();
        let good = [row(coverage::CONTROL, 0, 20), row("errors-5pct", 19, 20)];
        assert!(verdict(&[], &fit(10, 20), &good, &t).is_empty());
        // 9 of 10 slots: 10% headroom is exactly enough; 10 of 10 is not.
        assert!(verdict(&[], &fit(9, 10), &good, &t).is_empty());
        assert_eq!(verdict(&[], &fit(10, 10), &good, &t), ["headroom 0.0% < 10.0%"]);
        assert_eq!(
            verdict(&[], &fit(11, 10), &good, &t),
            ["the worst moment needs 11 pods, the nodes hold 10"]
        );
        let alarms = [row(coverage::CONTROL, 2, 20), row("errors-5pct", 19, 20)];
        assert_eq!(verdict(&[], &fit(10, 20), &alarms, &t).len(), 1);
        let missed = [row(coverage::CONTROL, 1, 20), row("errors-5pct", 17, 20)];
        assert_eq!(verdict(&[], &fit(10, 20), &missed, &t), ["errors-5pct caught in 85% (< 90%)"]);
        let finding =
            Finding { check: "x", object: "o".into(), message: "m".into(), value_s: 2.0, limit_s: 1.0 };
        assert_eq!(verdict(std::slice::from_ref(&finding), &fit(10, 20), &good, &t).len(), 1);
        let lenient = Thresholds { fail_on_config: false, ..t };
        assert!(verdict(&[finding], &fit(10, 20), &good, &lenient).is_empty());
    }
}
