//! `rollsim check`'s terminal report and `check.json`.

use crate::experiment::check::{StrategyCheck, Thresholds};
use serde::Serialize;
use std::fmt::Write;

/// `check.json`: the thresholds and every strategy's checks.
#[derive(Serialize)]
struct CheckJson<'a> {
    pass: bool,
    seed: Option<u64>,
    replications: u64,
    thresholds: &'a Thresholds,
    strategies: &'a [StrategyCheck],
}

/// The JSON document, pretty-printed, ending in a newline.
pub fn check_json_string(
    checks: &[StrategyCheck],
    thresholds: &Thresholds,
    replications: u64,
    seed: Option<u64>,
) -> String {
    let doc =
        CheckJson { pass: checks.iter().all(|c| c.pass), seed, replications, thresholds, strategies: checks };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn pct(p: f64) -> String {
    if p.is_nan() { "-".into() } else { format!("{:.0}%", 100.0 * p) }
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}s"))
}

fn mib(bytes: u64) -> String {
    format!("{:.0}Mi", bytes as f64 / (1024.0 * 1024.0))
}

/// The one-line verdict of a strategy.
pub fn verdict_line(c: &StrategyCheck) -> String {
    let name = match &c.variant {
        Some(v) => format!("{} [variant {v}]", c.file),
        None => c.file.clone(),
    };
    if c.pass {
        format!("PASS {name}: {}", c.strategy)
    } else {
        format!("FAIL {name}: {}: {}", c.strategy, c.failures.join("; "))
    }
}

/// The terminal report of one strategy.
pub fn render_check(c: &StrategyCheck) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {} ({}): {}", c.scenario, c.file, c.strategy);
    let _ = writeln!(out, "configuration:");
    if c.findings.is_empty() {
        let _ = writeln!(out, "  ok: no harmful setting found");
    }
    for f in &c.findings {
        let _ = writeln!(out, "  warning [{}] {}: {}", f.check, f.object, f.message);
    }
    let fit = &c.fit;
    let measured = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let _ = writeln!(out, "resources:");
    let _ = writeln!(
        out,
        "  pods at once: release {} planned / {} measured, rollback {} planned / {} measured",
        fit.planned_release_pods,
        measured(fit.measured_release_pods),
        fit.planned_rollback_pods,
        measured(fit.measured_rollback_pods)
    );
    let slots = if fit.pod_slots == u64::MAX { "unlimited".to_string() } else { fit.pod_slots.to_string() };
    let _ = writeln!(
        out,
        "  worst moment: {} pods, {}m CPU of {}m, {} memory of {}; the nodes hold {slots} such pods: {} (headroom {:.1}%)",
        fit.peak_pods,
        fit.peak_cpu_millis,
        fit.allocatable_cpu_millis,
        mib(fit.peak_memory_bytes),
        mib(fit.allocatable_memory_bytes),
        if fit.fits { "fits" } else { "DOES NOT FIT" },
        fit.headroom_pct
    );
    if !c.coverage.is_empty() {
        let _ = writeln!(out, "detection coverage ({} replications each):", c.coverage[0].replications);
        let _ = writeln!(
            out,
            "  {:<18} {:>8} {:>13} {:>9} {:>9} {:>12} {:>9} {:>9}  detected_by",
            "fault", "P(detect)", "95% CI", "ttd p50", "ttd p95", "bad req", "users", "ttr p50"
        );
        for r in &c.coverage {
            let by: Vec<String> = r.detected_by.iter().map(|(k, n)| format!("{k} ({n})")).collect();
            let _ = writeln!(
                out,
                "  {:<18} {:>8} {:>13} {:>9} {:>9} {:>12.0} {:>9.0} {:>9}  {}",
                r.fault,
                pct(r.p_detect),
                format!("{}–{}", pct(r.p_detect_low), pct(r.p_detect_high)),
                opt_s(r.time_to_detect_p50_s),
                opt_s(r.time_to_detect_p95_s),
                r.bad_requests_mean,
                r.users_affected_mean,
                opt_s(r.time_to_rollback_p50_s),
                if by.is_empty() { "-".to_string() } else { by.join(", ") }
            );
        }
        let _ = writeln!(
            out,
            "  ({} is the healthy control: its P(detect) is the false-alarm rate)",
            crate::experiment::check::coverage::CONTROL
        );
        if c.uncaught.is_empty() {
            let _ = writeln!(out, "  every fault was caught at least once");
        } else {
            let _ = writeln!(out, "  nothing catches: {}", c.uncaught.join(", "));
        }
    }
    let _ = writeln!(out, "verdict: {}", verdict_line(c));
    out
}
