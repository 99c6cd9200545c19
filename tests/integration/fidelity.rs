//! The two fidelities mean the same thing: their outcome distributions agree.

use crate::common::{Params, scenario};
use rollsim::experiment::record::RunRecord;
use rollsim::experiment::runner::{RunPlan, run_all};
use rollsim::experiment::stats::{ks_two_sample, welch_t_test};

const ERRORS: &str = "[{kind: errors, rate: 0.03}, {kind: userErrors, users: 5%, rate: 0.5}]";
/// Crashes with requests in flight, a latency regression that ramps in (timeouts), load
/// above a threshold, and onsets that fall inside seconds.
const DISRUPTIONS: &str = "[{kind: crashAfter, uptime: {kind: lognormal, median: 4m, p99: 8m}}, \
    {kind: latency, p50: 3s, p99: 40s, after: 90s, ramp: 2m}, {kind: overload, aboveRps: 12, rate: 0.3}]";

fn records(fidelity: &'static str, replications: u64, faults: &str) -> Vec<RunRecord> {
    let params = Params {
        fidelity,
        replications,
        rps: 100.0,
        duration: "15m".into(),
        new_faults: faults.into(),
        seed: 2024,
        rollback: "{}",
        ..Params::default()
    };
    run_all(&scenario(&params), RunPlan::default()).into_iter().map(|r| r.record).collect()
}

/// 300 replications per fidelity. With fixed seeds the p-values are fixed numbers; the
/// threshold 0.001 means a true difference in distribution of the KS statistic's size
/// 1.95·sqrt(2/300) ≈ 0.16 or more would be caught, and agreement can only fail by a
/// real disagreement or (at most once in a thousand seeds) by chance.
#[test]
fn request_and_aggregated_agree_in_distribution() {
    agree(ERRORS);
}

#[test]
fn request_and_aggregated_agree_under_crashes_timeouts_and_overload() {
    agree(DISRUPTIONS);
}

type Column = (&'static str, fn(&RunRecord) -> f64);

fn agree(faults: &str) {
    let n = 300;
    let request = records("request", n, faults);
    let aggregated = records("aggregated", n, faults);
    let columns: [Column; 5] = [
        ("failed_requests", |r| r.failed_requests as f64),
        ("dropped_requests", |r| r.dropped_requests as f64),
        ("users_affected", |r| r.users_affected as f64),
        ("bad_requests", |r| r.bad_requests as f64),
        ("requests", |r| r.requests as f64),
    ];
    assert_same_distribution(faults, &request, &aggregated, &columns);
    // The comparison has power: the columns really vary across replications.
    let spread = request.iter().map(|r| r.failed_requests).max().unwrap()
        - request.iter().map(|r| r.failed_requests).min().unwrap();
    assert!(spread > 10);
}

/// KS and Welch tests, column by column, both with p > 0.001.
fn assert_same_distribution(
    label: &str,
    request: &[RunRecord],
    aggregated: &[RunRecord],
    columns: &[Column],
) {
    for (name, f) in columns {
        let a: Vec<f64> = request.iter().map(f).collect();
        let b: Vec<f64> = aggregated.iter().map(f).collect();
        let ks = ks_two_sample(&a, &b);
        let welch = welch_t_test(&a, &b);
        assert!(ks.p_value > 0.001, "{label} {name}: KS D={} p={}", ks.statistic, ks.p_value);
        assert!(welch.p_value > 0.001, "{label} {name}: Welch t={} p={}", welch.statistic, welch.p_value);
    }
}

/// An Argo canary with Istio routing: requests are split between two destinations by weight
/// (Envoy's independent pick per request; the aggregated fidelity's multinomial split), the
/// weights change as the steps advance, and the canary's 5% errors count as bad requests.
/// 300 replications per fidelity, 25 simulated minutes: the release at 5m (the file releases
/// after an hour of Prometheus history), then the 10% step and most of the 50% one.
#[test]
fn request_and_aggregated_agree_for_a_routed_canary() {
    let load = |fidelity: &str| {
        let overrides: Vec<_> = [
            format!("spec.fidelity={fidelity}"),
            "spec.traffic.rps=100".into(),
            "spec.duration=25m".into(),
            "spec.release.at=5m".into(),
            "spec.replications=300".into(),
            "spec.seed=2027".into(),
        ]
        .iter()
        .map(|s| rollsim::scenario::parse_override(s).unwrap())
        .collect();
        let sc = rollsim::scenario::load_file(
            std::path::Path::new("scenarios/same-fault/argo-canary-istio.yaml"),
            &overrides,
        )
        .unwrap();
        run_all(&sc, RunPlan::default()).into_iter().map(|r| r.record).collect::<Vec<_>>()
    };
    let request = load("request");
    let aggregated = load("aggregated");
    let columns: [Column; 5] = [
        ("new_version_requests", |r| r.new_version_requests as f64),
        ("bad_requests", |r| r.bad_requests as f64),
        ("failed_requests", |r| r.failed_requests as f64),
        ("users_affected", |r| r.users_affected as f64),
        ("requests", |r| r.requests as f64),
    ];
    assert_same_distribution("routed canary", &request, &aggregated, &columns);
    // Both send the canary its weight: about 10% of the requests from the 10% step on.
    let share = |v: &[RunRecord]| {
        v.iter().map(|r| r.new_version_requests as f64 / r.requests as f64).sum::<f64>() / v.len() as f64
    };
    assert!((share(&request) - share(&aggregated)).abs() < 0.01);
    assert!(share(&request) > 0.02, "{}", share(&request));
}

/// Latency under load (`pods.latencyModel: queueing`): a rolling update with
/// `maxUnavailable: 25%` at 100 rps over pods of 14 rps capacity and 4 workers each, so a pod
/// runs at ρ ≈ 0.71 with ten endpoints and up to ρ ≈ 0.95 with fewer; the route's 300 ms
/// timeout turns long Erlang-C waits into 504s. The request fidelity draws each request's
/// wait, the aggregated one the exact timeout probability per piece: 300 replications each
/// agree by KS and Welch, and the queue does cost timeouts.
#[test]
fn request_and_aggregated_agree_under_queueing_latency() {
    let run = |fidelity: &'static str| -> Vec<RunRecord> {
        let params = Params {
            fidelity,
            replications: 300,
            rps: 100.0,
            duration: "10m".into(),
            seed: 2025,
            rollback: "{}",
            ..Params::default()
        };
        let text = crate::common::yaml(&params)
            .replace(
                "    capacityRps: 1000\n",
                "    capacityRps: 14\n    latencyModel: queueing\n    concurrency: 4\n",
            )
            .replace("users: 2000}", "users: 2000, timeout: 300ms}");
        let sc = rollsim::scenario::load_str("queueing.yaml", &text, &[]).expect("loads");
        run_all(&sc, RunPlan::default()).into_iter().map(|r| r.record).collect()
    };
    let request = run("request");
    let aggregated = run("aggregated");
    let columns: [Column; 4] = [
        ("failed_requests", |r| r.failed_requests as f64),
        ("users_affected", |r| r.users_affected as f64),
        ("dropped_requests", |r| r.dropped_requests as f64),
        ("requests", |r| r.requests as f64),
    ];
    assert_same_distribution("queueing", &request, &aggregated, &columns);
    let mean = |rs: &[RunRecord]| rs.iter().map(|r| r.failed_requests as f64).sum::<f64>() / rs.len() as f64;
    // 0.1% base errors of ~60 000 requests are ~60; the queue's timeouts add far more.
    assert!(mean(&request) > 200.0, "queueing timeouts: {}", mean(&request));
}
