use super::*;
use crate::engine::{MILLISECOND, MINUTE, Stream};
use mesh::WeightedRoute;

fn healthy(error_rate: f64) -> VersionProfile {
    VersionProfile {
        error_rate,
        latency: Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND },
        faults: vec![],
    }
}

fn sim(fidelity: Fidelity, rps: f64, capacity: f64, versions: &[VersionProfile], seed: u64) -> TrafficSim {
    let traffic = Traffic {
        rps,
        pattern: RatePattern::Constant,
        users: 1000,
        timeout: 30 * SECOND,
        load_latency: LoadLatency::Fixed,
    };
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

// ---- destinations and weighted routes -------------------------------------------------------

const FIDELITIES: [Fidelity; 2] = [Fidelity::Request, Fidelity::Aggregated];

/// `z` standard errors for the statistical checks below (fixed seeds; a false alarm at this
/// level is below one in a million).
const Z: f64 = 5.0;

fn route(weights: &[(DestinationId, i32)]) -> WeightedRoute<DestinationId> {
    WeightedRoute::new(weights).expect("a valid route")
}

/// A pod of `version` that accepts connections, an endpoint of `destinations`.
fn serving_pod(s: &mut TrafficSim, pod: u32, version: u32, destinations: &[DestinationId]) {
    s.add_pod(pod, version);
    s.set_accepting(pod, true);
    for &d in destinations {
        s.set_destination_endpoint(pod, d, true);
    }
}

fn destination_tallies(s: &mut TrafficSim) -> Vec<Tally> {
    let mut out = Vec::new();
    s.take_destination_tallies(&mut out);
    out
}

fn version_tallies(s: &mut TrafficSim) -> Vec<Tally> {
    let mut out = Vec::new();
    s.take_version_tallies(&mut out);
    out
}

/// |k − n·p| within `Z` binomial standard deviations.
fn assert_binomial(what: &str, k: u64, n: u64, p: f64) {
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    assert!((k as f64 - mean).abs() < Z * sd.max(1.0), "{what}: {k} of {n}, expected {mean} ± {sd}");
}

/// Requests and errors per destination add up to the totals and to the per-version tallies.
fn tallies_add_up(s: &mut TrafficSim) -> (Vec<Tally>, Vec<Tally>) {
    conserved(&s.totals);
    let (d, v) = (destination_tallies(s), version_tallies(s));
    let sum = |ts: &[Tally]| ts.iter().fold((0, 0), |(r, e), t| (r + t.requests, e + t.errors));
    let totals = (s.totals.requests, s.totals.failed + s.totals.dropped);
    assert_eq!(sum(&d), totals, "destination tallies {d:?} vs {:?}", s.totals);
    assert_eq!(sum(&v), totals, "version tallies {v:?} vs {:?}", s.totals);
    (d, v)
}

#[test]
fn the_default_route_and_a_100_0_route_draw_exactly_as_a_single_service() {
    for fidelity in FIDELITIES {
        let run = |configure: &dyn Fn(&mut TrafficSim)| {
            let mut s = sim(fidelity, 400.0, 150.0, &[healthy(0.01), healthy(0.05)], 21);
            s.set_new_version(1);
            for (pod, version) in [(0, 0), (1, 0), (2, 1)] {
                s.add_pod(pod, version);
                s.set_accepting(pod, true);
                s.set_endpoint(pod, true);
            }
            configure(&mut s);
            s.advance_to(30 * SECOND);
            s.kill_in_flight(2, 30 * SECOND);
            s.set_endpoint(0, false);
            s.advance_to(60 * SECOND);
            (s.totals, s.per_second().to_vec())
        };
        let plain = run(&|_| {});
        let canary = run(&|s| {
            let d = s.add_destination();
            s.set_destination_endpoint(2, d, true);
            s.set_route(&route(&[(DestinationId::DEFAULT, 100), (d, 0)]));
        });
        let weighted_one = run(&|s| s.set_route(&route(&[(DestinationId::DEFAULT, 100)])));
        assert_eq!(plain, canary, "{fidelity:?}");
        assert_eq!(plain, weighted_one, "{fidelity:?}");
    }
}

/// A 90/10 route sends Binomial(N, 0.1) of N requests to the canary destination, whatever
/// the endpoint counts (3 stable pods and 1 canary pod would take 25% by endpoint count).
#[test]
fn a_90_10_route_gives_binomial_shares_in_both_fidelities() {
    for fidelity in FIDELITIES {
        let mut s = sim(fidelity, 1000.0, 10_000.0, &[healthy(0.0), healthy(0.0)], 22);
        let (stable, canary) = (DestinationId::DEFAULT, s.add_destination());
        for pod in 0..3 {
            serving_pod(&mut s, pod, 0, &[stable]);
        }
        serving_pod(&mut s, 3, 1, &[canary]);
        s.set_route(&route(&[(stable, 90), (canary, 10)]));
        s.advance_to(60 * SECOND);
        let (d, v) = tallies_add_up(&mut s);
        let n = s.totals.requests;
        assert_binomial(&format!("{fidelity:?} canary"), d[1].requests, n, 0.1);
        assert_eq!(v[1].requests, d[1].requests, "only the canary pod is of version 1");
        assert_eq!(s.totals.dropped + s.totals.failed, 0);
    }
}

#[test]
fn weight_zero_destinations_get_nothing() {
    for fidelity in FIDELITIES {
        let mut s = sim(fidelity, 500.0, 10_000.0, &[healthy(0.0), healthy(0.0), healthy(0.0)], 23);
        let (a, b, c) = (DestinationId::DEFAULT, s.add_destination(), s.add_destination());
        serving_pod(&mut s, 0, 0, &[a]);
        serving_pod(&mut s, 1, 1, &[b]);
        serving_pod(&mut s, 2, 2, &[c]);
        s.set_route(&route(&[(a, 50), (b, 0), (c, 50)]));
        s.advance_to(60 * SECOND);
        let (d, v) = tallies_add_up(&mut s);
        assert_eq!(d[1], Tally::default(), "{fidelity:?}");
        assert_eq!(v[1], Tally::default(), "{fidelity:?}");
        assert_binomial(&format!("{fidelity:?} c"), d[2].requests, s.totals.requests, 0.5);
        // Only pods of routed destinations count as receiving traffic.
        assert_eq!((s.endpoints_of(0), s.endpoints_of(1), s.endpoints_of(2)), (1, 0, 1));
        // Killing the idle pod fails nothing.
        s.kill_in_flight(1, 61 * SECOND);
        assert_eq!(s.totals.killed_in_flight, 0, "{fidelity:?}");
    }
}

#[test]
fn a_destination_without_endpoints_drops_only_its_share() {
    for fidelity in FIDELITIES {
        let mut s = sim(fidelity, 1000.0, 10_000.0, &[healthy(0.0)], 24);
        let (stable, canary) = (DestinationId::DEFAULT, s.add_destination());
        serving_pod(&mut s, 0, 0, &[stable]);
        serving_pod(&mut s, 1, 0, &[stable]);
        s.set_route(&route(&[(stable, 70), (canary, 30)]));
        s.advance_to(60 * SECOND);
        let (d, v) = tallies_add_up(&mut s);
        let n = s.totals.requests;
        assert_binomial(&format!("{fidelity:?} dropped"), s.totals.no_endpoint, n, 0.3);
        assert_eq!(s.totals.dropped, s.totals.no_endpoint);
        assert_eq!(d[1], Tally { requests: s.totals.no_endpoint, errors: s.totals.no_endpoint });
        assert_eq!(d[0], Tally { requests: n - s.totals.no_endpoint, errors: 0 });
        assert_eq!(v[1], d[1], "the no-endpoint slot holds exactly the canary's share");
        assert_eq!(s.totals.succeeded, d[0].requests);
    }
}

/// Pod 0 is an endpoint of both destinations, pod 1 of the second only: with a 50/50 route
/// pod 0 takes 1/2 + 1/4 of the traffic, and its requests in flight at a kill are those of
/// that summed rate.
#[test]
fn a_pod_in_two_destinations_gets_traffic_from_both() {
    for fidelity in FIDELITIES {
        let mut s = sim(fidelity, 1000.0, 10_000.0, &[healthy(0.0), healthy(0.0)], 25);
        let (stable, canary) = (DestinationId::DEFAULT, s.add_destination());
        serving_pod(&mut s, 0, 0, &[stable, canary]);
        serving_pod(&mut s, 1, 1, &[canary]);
        s.set_route(&route(&[(stable, 50), (canary, 50)]));
        assert_eq!(s.endpoints_of(0), 1, "counted once");
        let kills = 20u64;
        for k in 1..=kills {
            s.kill_in_flight(0, k * 10 * SECOND);
        }
        let killed = s.totals.killed_in_flight;
        let (d, v) = tallies_add_up(&mut s);
        let n = s.totals.requests;
        assert_binomial(&format!("{fidelity:?} pod 0"), v[0].requests, n, 0.75);
        assert_binomial(&format!("{fidelity:?} canary"), d[1].requests, n, 0.5);
        // Every error is a kill of pod 0, attributed to one of its two destinations.
        assert_eq!(d[0].errors + d[1].errors, killed);
        assert!(d[0].errors > 0 && d[1].errors > 0, "{fidelity:?} {d:?}");
        let mean_latency =
            LatencyModel::from_spec(Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND }).mean_secs();
        let expected = kills as f64 * 750.0 * mean_latency;
        assert!(
            (killed as f64 - expected).abs() < Z * expected.sqrt(),
            "{fidelity:?} killed {killed} vs {expected}"
        );
    }
}

/// Every way a request can end, across destinations: failures, timeouts, capacity drops,
/// refused connections, a destination without endpoints, kills in flight and a route change.
#[test]
fn requests_are_conserved_across_destinations() {
    let mut slow = healthy(0.05);
    slow.latency = Latency { p50: 500 * MILLISECOND, p99: 20 * SECOND };
    for fidelity in FIDELITIES {
        let mut s = sim(fidelity, 800.0, 150.0, &[healthy(0.01), slow.clone()], 26);
        s.set_new_version(1);
        let (stable, canary, empty) = (DestinationId::DEFAULT, s.add_destination(), s.add_destination());
        serving_pod(&mut s, 0, 0, &[stable]);
        serving_pod(&mut s, 1, 0, &[stable, canary]);
        serving_pod(&mut s, 2, 1, &[canary]);
        s.add_pod(3, 1);
        s.set_destination_endpoint(3, canary, true); // never accepts: refused
        s.set_route(&route(&[(stable, 60), (canary, 30), (empty, 10)]));
        s.advance_to(20 * SECOND);
        s.kill_in_flight(2, 20 * SECOND);
        s.set_destination_endpoint(2, canary, false);
        s.set_route(&route(&[(stable, 20), (canary, 80)]));
        s.advance_to(40 * SECOND);
        s.kill_in_flight(1, 40 * SECOND);
        let t = s.totals;
        let (d, _) = tallies_add_up(&mut s);
        for (what, count) in [
            ("failed", t.failed),
            ("timed out", t.timed_out),
            ("over capacity", t.over_capacity),
            ("refused", t.refused),
            ("no endpoint", t.no_endpoint),
            ("killed", t.killed_in_flight),
        ] {
            assert!(count > 0, "{fidelity:?}: no request {what} {t:?}");
        }
        assert_eq!(d[2].requests, t.no_endpoint);
    }
}

/// The two fidelities split the same traffic the same way (a two-sample test on the
/// canary's share).
#[test]
fn the_fidelities_agree_on_the_split() {
    let share = |fidelity| {
        let mut s = sim(fidelity, 2000.0, 10_000.0, &[healthy(0.0)], 27);
        let (stable, canary) = (DestinationId::DEFAULT, s.add_destination());
        for pod in 0..4 {
            serving_pod(&mut s, pod, 0, &[if pod < 2 { stable } else { canary }]);
        }
        s.set_route(&route(&[(stable, 75), (canary, 25)]));
        s.advance_to(120 * SECOND);
        let (d, _) = tallies_add_up(&mut s);
        (d[1].requests as f64, s.totals.requests as f64)
    };
    let ((k1, n1), (k2, n2)) = (share(Fidelity::Request), share(Fidelity::Aggregated));
    let pooled = (k1 + k2) / (n1 + n2);
    let sd = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    assert!((k1 / n1 - k2 / n2).abs() < Z * sd, "request {} vs aggregated {}", k1 / n1, k2 / n2);
    assert!((pooled - 0.25).abs() < Z * (0.25 * 0.75 / (n1 + n2)).sqrt(), "{pooled}");
}
