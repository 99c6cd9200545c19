//! One replication of a 1-hour, 1,000 requests/s, 20-pod release, in both fidelities: a
//! rolling update (`request`, `aggregated`) and an Argo Rollouts canary with Istio traffic
//! routing (`canary_request`, `canary_aggregated`: setWeight 10, pause 10m, setWeight 50,
//! pause 10m, setWeight 100), whose routing draws and weight changes the rolling update does
//! not exercise.
//!
//! `canary_monitored_aggregated` is the canary with a full monitoring pipeline (15 s scrapes,
//! three alerting rules over request counters, one background analysis); issue 4's budget
//! is at most 2x the canary without it. `canary_latency_monitored_aggregated` swaps one
//! rule for a p99 latency rule over the histogram buckets, which makes Prometheus scrape and
//! read twelve times as many series.
//!
//! The last line is the speed-up of running the monitored canary's replications on every core
//! against one (issue 5: at least 1.8x on 2 cores).
//!
//! Run with `cargo bench --bench replication`. Targets (issue 2): the aggregated fidelity at
//! least 30× faster than the request fidelity, and the request fidelity at least 5 million
//! requests per second per core, for each case. Divan reports each fidelity's time (and
//! requests per second as its throughput); the ratios are printed at the end from the same
//! run's measurements.

use rollsim::experiment::runner::{RunPlan, run_all};
use rollsim::experiment::world::{Collect, run_replication};
use rollsim::scenario::{Override, Scenario, load_str};
use std::time::Instant;

/// The rolling update.
const SCENARIO: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench}
spec:
  replicas: 20
  selector: {matchLabels: {app: bench}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}
  template:
    metadata: {labels: {app: bench}}
    spec:
      containers:
        - name: app
          image: bench:2
          resources: {requests: {cpu: 250m, memory: 256Mi}}
          readinessProbe: {periodSeconds: 5}
---
apiVersion: v1
kind: Service
metadata: {name: bench}
spec: {selector: {app: bench}}
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {name: bench}
spec:
  seed: 1
  replications: 1
  duration: 1h
  release: {workload: Deployment/bench, from: "bench:1", at: 5m}
  traffic: {rps: 1000, users: 10000}
  versions:
    "bench:1": {errorRate: 0.001}
    "bench:2": {errorRate: 0.001, faults: [{kind: errors, rate: 0.01}]}
  pods: {startup: {kind: lognormal, median: 20s, p99: 60s}, capacityRps: 200}
  cluster: {nodes: 4, nodeCapacity: {cpu: "8", memory: 32Gi}}
  slo: {objective: 99.9%, window: 30d}
"#;

/// The canary: the same pods, traffic and versions as [`SCENARIO`], released by an Argo
/// Rollout whose steps Istio carries out with exact weights (the stable keeps its 20 pods, the
/// canary grows to 2, 10, then 20).
const CANARY_SCENARIO: &str = include_str!("peers/canary.yaml");

/// The canary with a full monitoring pipeline: pods scraped every 15 s, three alerting rules
/// (a whole-service error ratio, a canary-only Istio error ratio, the SLO's 1h fast-burn
/// ratio) evaluated every 15 s, and a background analysis measuring the canary's success
/// rate every minute.
const MONITORING: &str = r#"
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: bench}
spec:
  groups:
    - name: bench
      interval: 15s
      rules:
        - alert: HighErrorRate
          expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.1
          for: 5m
          labels: {severity: critical}
        - alert: CanaryErrorRate
          expr: sum(rate(istio_requests_total{reporter="destination",destination_service_name="bench-canary",response_code=~"5.*"}[1m])) / sum(rate(istio_requests_total{reporter="destination",destination_service_name="bench-canary"}[1m])) > 0.05
          for: 1m
        - alert: ErrorBudgetFastBurn
          expr: sum(rate(http_requests_total{status=~"5.."}[1h])) / sum(rate(http_requests_total[1h])) > 14.4 * 0.001
          for: 2m
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  metrics:
    - name: success-rate
      interval: 1m
      failureLimit: 3
      successCondition: len(result) == 0 || result[0] >= 0.95
      provider:
        prometheus:
          query: sum(rate(istio_requests_total{destination_service_name="bench-canary",response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{destination_service_name="bench-canary"}[1m]))
"#;

fn load(name: &str, yaml: &str, fidelity: &str) -> Scenario {
    let set = [Override::new("spec.fidelity", fidelity)];
    load_str(name, yaml, &set).unwrap_or_else(|e| panic!("the bench scenario {name} loads:\n{e}"))
}

fn scenario(fidelity: &str) -> Scenario {
    load("bench.yaml", SCENARIO, fidelity)
}

fn canary_scenario(fidelity: &str) -> Scenario {
    load("bench-canary.yaml", CANARY_SCENARIO, fidelity)
}

/// [`CANARY_SCENARIO`] watched by [`MONITORING`], its Rollout running the analysis in the
/// background.
fn monitored_scenario(fidelity: &str) -> Scenario {
    monitored_with("bench-monitored.yaml", MONITORING, fidelity)
}

/// [`monitored_scenario`] with a p99 latency rule over the histogram instead of the fast burn.
fn latency_monitored_scenario(fidelity: &str) -> Scenario {
    let rules = MONITORING.replace(
        r#"        - alert: ErrorBudgetFastBurn
          expr: sum(rate(http_requests_total{status=~"5.."}[1h])) / sum(rate(http_requests_total[1h])) > 14.4 * 0.001
          for: 2m"#,
        r#"        - alert: HighLatency
          expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 1
          for: 5m"#,
    );
    assert_ne!(rules, MONITORING, "the latency rule replaces the fast burn");
    monitored_with("bench-latency-monitored.yaml", &rules, fidelity)
}

fn monitored_with(name: &str, rules: &str, fidelity: &str) -> Scenario {
    load(name, &monitored_yaml(rules), fidelity)
}

/// [`CANARY_SCENARIO`] with the background analysis, followed by `rules`.
fn monitored_yaml(rules: &str) -> String {
    let yaml = CANARY_SCENARIO.replace(
        "      steps:\n        - setWeight: 10",
        "      analysis: {templates: [{templateName: success-rate}]}\n      steps:\n        - setWeight: 10",
    );
    assert_ne!(yaml, CANARY_SCENARIO, "the background analysis is added");
    format!("{yaml}{rules}")
}

fn requests_of(sc: &Scenario) -> u64 {
    run_replication(sc, 0, Collect::default()).record.requests
}

/// Times replication 0 of `sc`, counting its requests as the throughput.
fn bench_replication(bencher: divan::Bencher, sc: Scenario) {
    let n = requests_of(&sc);
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench(|| run_replication(divan::black_box(&sc), 0, Collect::default()));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn request(bencher: divan::Bencher) {
    bench_replication(bencher, scenario("request"));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn aggregated(bencher: divan::Bencher) {
    bench_replication(bencher, scenario("aggregated"));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn canary_request(bencher: divan::Bencher) {
    bench_replication(bencher, canary_scenario("request"));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn canary_aggregated(bencher: divan::Bencher) {
    bench_replication(bencher, canary_scenario("aggregated"));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn canary_monitored_aggregated(bencher: divan::Bencher) {
    bench_replication(bencher, monitored_scenario("aggregated"));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn canary_latency_monitored_aggregated(bencher: divan::Bencher) {
    bench_replication(bencher, latency_monitored_scenario("aggregated"));
}

/// Median wall time of `runs` replications.
fn median_secs(sc: &Scenario, runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            divan::black_box(run_replication(sc, 0, Collect::default()));
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// Prints the same-run ratio of the two fidelities of one case.
fn print_ratio(case: &str, request: &Scenario, aggregated: &Scenario) {
    let requests = requests_of(request) as f64;
    let t_request = median_secs(request, 5);
    let t_aggregated = median_secs(aggregated, 11);
    println!(
        "ratio, {case} (same run, medians): request {:.3} s ({:.2} M requests/s), aggregated {:.4} s; aggregated is {:.1}x faster",
        t_request,
        requests / t_request / 1e6,
        t_aggregated,
        t_request / t_aggregated
    );
}

/// Median wall time of running all of `sc`'s replications on `threads` threads (`None`:
/// one per core).
fn median_run_all_secs(sc: &Scenario, threads: Option<usize>, runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            divan::black_box(run_all(sc, RunPlan { threads, ..RunPlan::default() }));
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    divan::main();
    println!();
    print_ratio("rolling update", &scenario("request"), &scenario("aggregated"));
    print_ratio("canary (Argo + Istio)", &canary_scenario("request"), &canary_scenario("aggregated"));
    // Issue 4's budget: a full monitoring pipeline costs at most 2x a replication without it.
    let plain = canary_scenario("aggregated");
    let (monitored, latency) = (monitored_scenario("aggregated"), latency_monitored_scenario("aggregated"));
    let t_plain = median_secs(&plain, 11);
    let (t_monitored, t_latency) = (median_secs(&monitored, 11), median_secs(&latency, 11));
    println!(
        "ratio, monitoring (same run, medians, aggregated): without {t_plain:.4} s, with {t_monitored:.4} s; monitoring costs {:.2}x",
        t_monitored / t_plain
    );
    println!(
        "ratio, monitoring with a histogram rule (same run, medians, aggregated): with {t_latency:.4} s; costs {:.2}x",
        t_latency / t_plain
    );
    // Issue 5: replications per second of the monitored canary on every core against one.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let set = [
        Override::new("spec.fidelity", "aggregated"),
        Override::new("spec.replications", (8 * cores).to_string()),
    ];
    let many = load_str("bench-parallel.yaml", &monitored_yaml(MONITORING), &set)
        .expect("the parallel bench scenario loads");
    let (t_one, t_all) = (median_run_all_secs(&many, Some(1), 3), median_run_all_secs(&many, None, 3));
    let n = many.replications as f64;
    println!(
        "ratio, replications in parallel (same run, medians, monitored canary, {} replications): one thread {:.1}/s, {cores} threads {:.1}/s; speed-up {:.2}x",
        many.replications,
        n / t_one,
        n / t_all,
        t_one / t_all
    );
}
