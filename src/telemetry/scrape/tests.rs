use super::*;
use crate::engine::{MILLISECOND, Stream};
use crate::telemetry::promql::{Value, parse};

fn info() -> TargetInfo {
    TargetInfo {
        pod: "myapp-abc-x1".into(),
        namespace: "default".into(),
        labels: [("app".to_string(), "myapp".to_string())].into(),
        workload: "myapp".into(),
        service: "myapp".into(),
    }
}

fn prom(families: Families, counters: CounterInit) -> Prometheus {
    Prometheus::new(families, counters, 15 * SECOND, Some(0), SimRng::new(7, Stream::Monitoring))
}

fn latency() -> LatencyModel {
    LatencyModel::from_spec(crate::traffic::Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND })
}

fn scrape(p: &mut Prometheus, now: SimTime, counts: [u64; STATUSES]) {
    p.scrape_due(now, |_| PodSnapshot { counts, timeout: 30 * SECOND }, |_, _| (latency(), false));
}

fn eval(p: &Prometheus, expr: &str, at: SimTime) -> Vec<(Labels, f64)> {
    match parse(expr).unwrap().eval_instant(&p.store, at).unwrap() {
        Value::Vector(v) => v,
        Value::Scalar(s) => vec![(Labels::new(), s)],
    }
}

#[test]
fn lazy_error_series_appear_with_the_first_error_and_rate_needs_two_samples() {
    let f = Families { http_total: true, ..Default::default() };
    let mut p = prom(f, CounterInit::Lazy);
    p.add_target(0, info(), [0; 4], 0);
    assert_eq!(p.next_scrape(), Some(15 * SECOND));
    scrape(&mut p, 15 * SECOND, [100, 0, 0, 0]);
    scrape(&mut p, 30 * SECOND, [200, 3, 0, 0]);
    // The 500 series exists from the second scrape only, with its first increments in it.
    let errors = eval(&p, r#"http_requests_total{status="500"}"#, 30 * SECOND);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1, 3.0);
    assert!(eval(&p, r#"http_requests_total{status="500"}"#, 20 * SECOND).is_empty());
    // One sample: no rate yet.
    assert!(eval(&p, r#"rate(http_requests_total{status="500"}[1m])"#, 30 * SECOND).is_empty());
    scrape(&mut p, 45 * SECOND, [300, 6, 0, 0]);
    let r = eval(&p, r#"rate(http_requests_total{status="500"}[1m])"#, 45 * SECOND);
    assert_eq!(r.len(), 1);
    assert!(r[0].1 > 0.0);
    // The series carries the pod's labels.
    let labels = &errors[0].0;
    assert_eq!(labels.get("app").map(String::as_str), Some("myapp"));
    assert_eq!(labels.get("pod").map(String::as_str), Some("myapp-abc-x1"));
    assert_eq!(labels.get("namespace").map(String::as_str), Some("default"));
}

#[test]
fn zero_initialised_counters_export_every_status_from_the_start() {
    let f = Families { http_total: true, istio_total: true, ..Default::default() };
    let mut p = prom(f, CounterInit::Zero);
    p.add_target(0, info(), [0; 4], 0);
    scrape(&mut p, 15 * SECOND, [10, 0, 0, 0]);
    assert_eq!(eval(&p, "http_requests_total", 15 * SECOND).len(), 4);
    let istio = eval(&p, r#"istio_requests_total{reporter="destination",response_code="500"}"#, 15 * SECOND);
    assert_eq!(istio.len(), 1);
    assert_eq!(istio[0].1, 0.0);
    assert_eq!(istio[0].0.get("destination_workload").map(String::as_str), Some("myapp"));
    assert_eq!(
        istio[0].0.get("destination_service").map(String::as_str),
        Some("myapp.default.svc.cluster.local")
    );
}

#[test]
fn a_restart_resets_the_counters_and_a_down_container_is_not_scraped() {
    let f = Families { http_total: true, up: true, ..Default::default() };
    let mut p = prom(f, CounterInit::Lazy);
    p.add_target(0, info(), [0; 4], 0);
    scrape(&mut p, 15 * SECOND, [100, 0, 0, 0]);
    p.stopped(0);
    scrape(&mut p, 30 * SECOND, [150, 0, 0, 0]);
    assert_eq!(eval(&p, "up", 30 * SECOND)[0].1, 0.0);
    // The sample at 30s is missing: the lookback still shows 100 from 15s.
    assert_eq!(eval(&p, r#"http_requests_total{status="200"}"#, 30 * SECOND)[0].1, 100.0);
    p.restarted(0, [150, 0, 0, 0], 35 * SECOND);
    scrape(&mut p, 45 * SECOND, [170, 0, 0, 0]);
    assert_eq!(eval(&p, r#"http_requests_total{status="200"}"#, 45 * SECOND)[0].1, 20.0);
    assert_eq!(eval(&p, "up", 45 * SECOND)[0].1, 1.0);
    // increase() sees the reset: 100 before it, 20 after.
    let inc = eval(&p, r#"increase(http_requests_total{status="200"}[31s])"#, 45 * SECOND);
    assert!(inc[0].1 > 20.0, "{inc:?}");
    p.remove_target(0);
    assert_eq!(p.next_scrape(), None);
}

#[test]
fn histogram_buckets_are_cumulative_and_follow_the_latency_distribution() {
    let f = Families { http_histogram: true, istio_histogram: true, ..Default::default() };
    let mut p = prom(f, CounterInit::Lazy);
    p.add_target(0, info(), [0; 4], 0);
    let n = 200_000u64;
    scrape(&mut p, 15 * SECOND, [n, 0, 0, 0]);
    let buckets = eval(&p, r#"http_request_duration_seconds_bucket{status="200"}"#, 15 * SECOND);
    assert_eq!(buckets.len(), HTTP_BUCKETS.len() + 1);
    let mut by_le: Vec<(f64, f64)> =
        buckets.iter().map(|(l, v)| (l["le"].parse::<f64>().unwrap_or(f64::INFINITY), *v)).collect();
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(by_le.last().unwrap().1, n as f64);
    for w in by_le.windows(2) {
        assert!(w[0].1 <= w[1].1, "cumulative: {by_le:?}");
    }
    // Each bucket's share is binomial around the log-normal CDF: within 5 standard errors.
    let m = latency();
    for &(le, count) in &by_le[..by_le.len() - 1] {
        let expected = lognormal_cdf(&m, le);
        let se = (expected * (1.0 - expected) / n as f64).sqrt().max(1e-9);
        let share = count / n as f64;
        assert!((share - expected).abs() < 5.0 * se + 1e-12, "le {le}: {share} vs {expected}");
    }
    // Istio's histogram counts the same requests in milliseconds.
    let istio = eval(&p, r#"istio_request_duration_milliseconds_bucket{le="100"}"#, 15 * SECOND);
    let http = eval(&p, r#"http_request_duration_seconds_bucket{le="0.1"}"#, 15 * SECOND);
    assert_eq!(istio[0].1, http[0].1);
    let sum = eval(&p, r#"http_request_duration_seconds_sum"#, 15 * SECOND)[0].1;
    assert!((sum / n as f64 - m.mean_secs()).abs() < 0.01 * m.mean_secs(), "{sum}");
    // p99 from the buckets lands in the right bucket (250ms lies in (0.1, 0.25]).
    let q = eval(
        &p,
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))",
        15 * SECOND,
    );
    assert!(q.is_empty(), "one sample gives no rate");
}

#[test]
fn timeouts_and_shed_requests_land_at_the_timeout_and_at_zero() {
    let f = Families { http_histogram: true, ..Default::default() };
    let mut p = prom(f, CounterInit::Lazy);
    p.add_target(0, info(), [0; 4], 0);
    scrape(&mut p, 15 * SECOND, [0, 0, 10, 5]);
    let at = |expr: &str| eval(&p, expr, 15 * SECOND)[0].1;
    assert_eq!(at(r#"http_request_duration_seconds_bucket{status="503",le="0.005"}"#), 10.0);
    assert_eq!(at(r#"http_request_duration_seconds_bucket{status="504",le="10"}"#), 0.0);
    assert_eq!(at(r#"http_request_duration_seconds_bucket{status="504",le="+Inf"}"#), 5.0);
    assert_eq!(at(r#"http_request_duration_seconds_sum{status="504"}"#), 150.0);
}

#[test]
fn only_named_families_are_needed() {
    let q = [parse("sum(rate(http_requests_total[5m]))").unwrap()];
    assert_eq!(Families::needed_by(&q), Families { http_total: true, ..Default::default() });
    let q = [parse(
        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket[1m])))",
    )
    .unwrap()];
    assert_eq!(Families::needed_by(&q), Families { istio_histogram: true, ..Default::default() });
    let q = [parse(r#"{__name__=~"http.*"}"#).unwrap()];
    assert_eq!(Families::needed_by(&q), Families::all());
    assert_eq!(fmt_bound(3_600_000.0), "3.6e+06");
    assert_eq!(fmt_bound(300_000.0), "300000");
    assert_eq!(fmt_bound(0.005), "0.005");
    assert_eq!(fmt_bound(1.0), "1");
}

#[test]
fn targets_spread_over_whole_second_phases() {
    let f = Families { http_total: true, ..Default::default() };
    let mut p = Prometheus::new(f, CounterInit::Lazy, 15 * SECOND, None, SimRng::new(3, Stream::Monitoring));
    let mut phases = std::collections::BTreeSet::new();
    for pod in 0..40 {
        p.add_target(pod, info(), [0; 4], 0);
        let t = p.targets[pod as usize].as_ref().unwrap();
        assert_eq!(t.offset % SECOND, 0);
        assert!(t.offset < 15 * SECOND);
        phases.insert(t.offset);
    }
    assert!(phases.len() > 8, "{phases:?}");
}
