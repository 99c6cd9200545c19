use super::*;
use crate::engine::{MILLISECOND, MINUTE, Stream};

fn healthy(error_rate: f64) -> VersionProfile {
    VersionProfile {
        error_rate,
        latency: Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND },
        faults: vec![],
    }
}

fn sim(fidelity: Fidelity, rps: f64, capacity: f64, versions: &[VersionProfile], seed: u64) -> TrafficSim {
    let traffic = Traffic { rps, pattern: RatePattern::Constant, users: 1000, timeout: 30 * SECOND };
    let models = versions.iter().map(|v| VersionModel::new(v, 0)).collect();
    TrafficSim::new(fidelity, &traffic, capacity, models, 10 * MINUTE, SimRng::new(seed, Stream::Traffic))
}

fn conserved(t: &Totals) {
    assert_eq!(t.requests, t.succeeded + t.failed + t.dropped, "{t:?}");
    assert_eq!(t.dropped, t.no_endpoint + t.over_capacity + t.refused);
}

#[test]
fn without_endpoints_everything_is_dropped() {
    for fidelity in [Fidelity::Request, Fidelity::Aggregated] {
        let mut s = sim(fidelity, 100.0, 100.0, &[healthy(0.0)], 1);
        s.advance_to(60 * SECOND);
        conserved(&s.totals);
        assert_eq!(s.totals.no_endpoint, s.totals.requests);
        // Poisson(6000): within 5 sd.
        assert!((s.totals.requests as f64 - 6000.0).abs() < 5.0 * 6000f64.sqrt());
    }
}

#[test]
fn capacity_caps_each_pod_per_second() {
    for fidelity in [Fidelity::Request, Fidelity::Aggregated] {
        let mut s = sim(fidelity, 300.0, 100.0, &[healthy(0.0)], 2);
        s.add_pod(0, 0);
        s.set_accepting(0, true);
        s.set_endpoint(0, true);
        s.advance_to(60 * SECOND);
        conserved(&s.totals);
        assert!(s.totals.succeeded <= 6000, "{:?}", s.totals);
        assert!(s.totals.succeeded >= 5900);
        assert!(s.totals.over_capacity > 10_000);
    }
}

#[test]
fn refused_and_new_version_attribution() {
    for fidelity in [Fidelity::Request, Fidelity::Aggregated] {
        let mut s = sim(fidelity, 200.0, 1000.0, &[healthy(0.0), healthy(0.0)], 3);
        s.set_new_version(1);
        for (pod, version) in [(0, 0), (1, 1)] {
            s.add_pod(pod, version);
            s.set_endpoint(pod, true);
        }
        s.set_accepting(0, true); // pod 1 (new) refuses connections: every request to it fails
        s.advance_to(60 * SECOND);
        conserved(&s.totals);
        assert_eq!(s.totals.refused, s.totals.new_version_requests);
        assert_eq!(s.totals.bad_requests, s.totals.refused);
        assert_eq!(s.totals.failed, 0);
        // Half of 12000 requests: binomial sd ~55.
        assert!((s.totals.new_version_requests as f64 - 6000.0).abs() < 400.0);
        // Roughly 1 − e^{−6} of 1000 users were hit at least once.
        assert!(s.totals.users_affected > 990, "{}", s.totals.users_affected);
    }
}

#[test]
fn user_fault_hits_only_its_users() {
    let mut faulty = healthy(0.0);
    faulty.faults.push(Fault {
        kind: FaultKind::ErrorsForUsers { fraction: 0.1, rate: 1.0 },
        after: 0,
        anchor: FaultAnchor::PodStart,
        ramp: None,
    });
    for fidelity in [Fidelity::Request, Fidelity::Aggregated] {
        let mut s = sim(fidelity, 500.0, 1000.0, &[faulty.clone()], 4);
        s.set_new_version(0);
        s.add_pod(0, 0);
        s.set_accepting(0, true);
        s.set_endpoint(0, true);
        s.advance_to(120 * SECOND);
        conserved(&s.totals);
        assert_eq!(s.totals.users_affected, 100, "{fidelity:?}");
        let share = s.totals.failed as f64 / s.totals.requests as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
    }
}

#[test]
fn killed_pod_fails_its_requests_in_flight() {
    for fidelity in [Fidelity::Request, Fidelity::Aggregated] {
        // 1000 rps at mean latency ~0.058 s: about 58 in flight.
        let mut s = sim(fidelity, 1000.0, 10_000.0, &[healthy(0.0)], 5);
        s.add_pod(0, 0);
        s.set_accepting(0, true);
        s.set_endpoint(0, true);
        let mut killed = 0;
        for k in 1..=20u64 {
            s.kill_in_flight(0, k * 10 * SECOND);
            killed = s.totals.killed_in_flight;
        }
        conserved(&s.totals);
        let expected = 20.0
            * 1000.0
            * LatencyModel::from_spec(Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND }).mean_secs();
        assert!(
            (killed as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{fidelity:?} {killed} vs {expected}"
        );
    }
}
