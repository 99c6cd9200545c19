//! Loading tests: the scenario files, defaults, every kind of bad input (with the exact line
//! and column it must point at) and `--set` overrides.

use super::*;
use crate::engine::{HOUR, MILLISECOND, MINUTE, SECOND};
use std::path::Path;

/// A small complete scenario; the line numbers in the error tests refer to it.
const BASE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp
spec:
  replicas: 10
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: myapp}
    spec:
      containers:
        - name: myapp
          image: myapp:2.0
          resources:
            requests: {cpu: 250m, memory: 256Mi}
---
apiVersion: v1
kind: Service
metadata: {name: myapp}
spec:
  selector: {app: myapp}
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {name: t}
spec:
  duration: 2h
  release: {workload: Deployment/myapp, from: myapp:1.0, at: 5m}
  traffic: {rps: 500}
  versions:
    myapp:1.0: {}
    myapp:2.0: {errorRate: 0.001}
  pods:
    startup: 20s
    capacityRps: 100
  cluster:
    nodes: 4
    nodeCapacity: {cpu: \"8\", memory: 32Gi}
  slo: {objective: 99.9%, window: 30d}
";

fn load(text: &str) -> Result<Scenario, ScenarioError> {
    load_str("t.yaml", text, &[])
}

fn load_with(text: &str, sets: &[&str]) -> Result<Scenario, ScenarioError> {
    let overrides: Vec<Override> = sets.iter().map(|s| parse_override(s).unwrap()).collect();
    load_str("t.yaml", text, &overrides)
}

/// `BASE` with `from` replaced by `to` (which must occur exactly once).
fn base_with(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once in BASE");
    BASE.replace(from, to)
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => {
            assert!(!e.diagnostics.is_empty());
            e.diagnostics
        }
    }
}

/// Asserts that `diagnostics` has one at `line:column` whose message contains `message`.
fn assert_diag(diagnostics: &[Diagnostic], line: usize, column: usize, message: &str) {
    let found =
        diagnostics.iter().any(|d| d.line == line && d.column == column && d.message.contains(message));
    let all: Vec<String> =
        diagnostics.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect();
    assert!(found, "no diagnostic at {line}:{column} containing {message:?}; got:\n{}", all.join("\n"));
}

/// Asserts exactly one diagnostic, at `line:column`, containing `message`.
fn check_error(text: &str, line: usize, column: usize, message: &str) -> Diagnostic {
    let diags = errors(text);
    assert_eq!(diags.len(), 1, "expected one diagnostic, got: {diags:#?}");
    assert_diag(&diags, line, column, message);
    diags.into_iter().next().unwrap()
}

fn scenario_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn load_scenario(name: &str) -> Scenario {
    match load_file(&scenario_path(name), &[]) {
        Ok(s) => s,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario files

#[test]
fn example_resolves_every_value() {
    let s = load_scenario("rolling-bad-release.yaml");
    assert_eq!(s.name, "rolling-bad-release");
    assert_eq!(s.seed, 42);
    assert_eq!(s.replications, 200);
    assert_eq!(s.duration, 3 * HOUR);
    assert_eq!(s.fidelity, Fidelity::Aggregated);
    assert_eq!(s.tick, SECOND);
    assert_eq!(s.release.workload, "myapp");
    assert_eq!(s.release.from_image, "myapp:1.0");
    assert_eq!(s.release.to_image, "myapp:2.0");
    assert_eq!(s.release.at, HOUR);
    assert_eq!(s.monitoring.groups.len(), 1);
    assert_eq!(s.monitoring.action_for("MyappErrorBudgetBurnPage"), crate::telemetry::AlertAction::Page);
    assert_eq!(s.monitoring.action_for("MyappErrorBudgetBurnTicket"), crate::telemetry::AlertAction::None);
    assert_eq!(s.traffic.rps, 500.0);
    assert_eq!(s.traffic.pattern, RatePattern::Constant);
    assert_eq!(s.traffic.users, 10_000);
    assert_eq!(s.cluster.nodes, 4);
    assert_eq!(s.cluster.node_cpu_millis, 8_000);
    assert_eq!(s.cluster.node_memory_bytes, 32 << 30);
    assert_eq!(s.slo.objective, 0.999);
    assert_eq!(s.slo.window, 30 * 24 * HOUR);
    assert_eq!(s.pods.startup, DurationDist::LogNormal { median: 20 * SECOND, p99: 60 * SECOND });
    assert_eq!(s.pods.capacity_rps, 100.0);
    assert_eq!(
        s.rollback.manual_after,
        Some(DurationDist::LogNormal { median: 10 * MINUTE, p99: 45 * MINUTE })
    );
    let old = &s.versions["myapp:1.0"];
    assert_eq!(old.error_rate, 0.001);
    assert_eq!(old.latency, Latency { p50: 40 * MILLISECOND, p99: 250 * MILLISECOND });
    assert!(old.faults.is_empty());
    let new = &s.versions["myapp:2.0"];
    assert_eq!(new.latency, Latency { p50: 50 * MILLISECOND, p99: 250 * MILLISECOND });
    assert_eq!(
        new.faults,
        vec![Fault {
            kind: FaultKind::Errors { rate: 0.05 },
            after: 0,
            anchor: FaultAnchor::PodStart,
            ramp: None
        }]
    );
    let d = &s.deployment;
    assert_eq!((d.name.as_str(), d.namespace.as_str(), d.replicas), ("myapp", "default", 10));
    assert_eq!(
        d.strategy,
        DeploymentStrategy::RollingUpdate {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Percent(25)
        }
    );
    assert_eq!(d.image, "myapp:2.0");
    assert_eq!(d.requests, Resources { cpu_millis: 250, memory_bytes: 256 << 20 });
    assert_eq!(d.readiness_probe, Some(Probe { period_seconds: 5, ..Probe::default() }));
    assert_eq!(d.template_labels.get("app").map(String::as_str), Some("myapp"));
    assert_eq!(d.progress_deadline_seconds, Some(600));
    assert_eq!(s.services.len(), 1);
    assert_eq!(s.services[0].name, "myapp");
    assert_eq!(s.services[0].selector.get("app").map(String::as_str), Some("myapp"));
}

#[test]
fn embedded_example_is_the_file() {
    let on_disk = std::fs::read_to_string(scenario_path("rolling-bad-release.yaml")).unwrap();
    assert_eq!(EXAMPLE_YAML, on_disk);
    let s = load_str(EXAMPLE_FILE_NAME, EXAMPLE_YAML, &[]).unwrap();
    assert_eq!(s.seed, 42);
}

#[test]
fn healthy_control() {
    let s = load_scenario("rolling-healthy.yaml");
    assert_eq!(s.release.to_image, "myapp:2.0"); // from the manifest
    assert!(s.versions.values().all(|v| v.faults.is_empty()));
    assert_eq!(s.versions["myapp:2.0"].error_rate, s.versions["myapp:1.0"].error_rate);
    assert!(s.rollback.manual_after.is_some());
}

#[test]
fn never_ready() {
    let s = load_scenario("rolling-never-ready.yaml");
    assert_eq!(s.deployment.progress_deadline_seconds, Some(120));
    assert_eq!(s.deployment.replicas, 10);
    assert_eq!(s.versions["myapp:2.0"].faults[0].kind, FaultKind::CrashAtStart);
    assert!(s.detection.on_progress_deadline);
    assert!(s.rollback.manual_after.is_some());
    assert_eq!(s.duration, HOUR);
}

#[test]
fn recreate() {
    let s = load_scenario("recreate-downtime.yaml");
    assert_eq!(s.deployment.strategy, DeploymentStrategy::Recreate);
    assert!(s.versions["myapp:2.0"].faults.is_empty());
    assert_eq!(s.rollback.manual_after, None);
}

#[test]
fn every_scenario_file_loads_and_stays_small() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let s = load_file(&path, &[]).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        assert!((100..=200).contains(&s.replications), "{}", path.display());
        // Three hours at most: an hour of Prometheus history before the release, two after.
        assert!(s.duration <= 3 * HOUR, "{}", path.display());
        assert!(s.release.at < s.duration);
        count += 1;
    }
    assert!(count >= 4);
}

// ---------------------------------------------------------------------------------------------
// Defaults

#[test]
fn the_burn_rate_detector_keys_are_gone_with_a_pointer_to_prometheus_rules() {
    let text = BASE.replace("  slo: ", "  detection: {burnRate: 14.4}\n  slo: ");
    assert_ne!(text, BASE);
    let err = load(&text).unwrap_err().to_string();
    assert!(err.contains("`spec.detection.burnRate` belonged to the built-in burn-rate detector"), "{err}");
    assert!(err.contains("rollsim slo-rules"), "{err}");
}

#[test]
fn defaults_are_filled_in() {
    let s = load(BASE).unwrap();
    assert_eq!((s.seed, s.replications, s.fidelity, s.tick), (1, 100, Fidelity::Aggregated, SECOND));
    assert_eq!(s.release.to_image, "myapp:2.0");
    assert_eq!((s.traffic.users, s.traffic.timeout), (10_000, 30 * SECOND));
    assert_eq!(s.pods.startup, DurationDist::Fixed(20 * SECOND));
    assert_eq!(s.pods.scheduling, DurationDist::Fixed(SECOND));
    assert_eq!(s.pods.image_pull_cold, DurationDist::LogNormal { median: 10 * SECOND, p99: 40 * SECOND });
    assert_eq!(s.pods.image_pull_warm, DurationDist::Fixed(500 * MILLISECOND));
    assert_eq!(s.pods.endpoint_removal_delay, SECOND);
    assert_eq!(s.pods.shutdown, DurationDist::Fixed(2 * SECOND));
    assert!(s.pods.refuse_after_sigterm);
    assert!(s.detection.on_progress_deadline);
    let m = &s.monitoring;
    assert_eq!((m.scrape_interval, m.group_wait, m.counters), (15 * SECOND, 30 * SECOND, CounterInit::Lazy));
    assert!(m.groups.is_empty() && m.on_alert.is_empty());
    assert_eq!(s.controller.reconcile_latency, 50 * MILLISECOND);
    assert_eq!(s.controller.endpoint_propagation, 500 * MILLISECOND);
    assert_eq!(s.rollback.manual_after, None);
    let v = &s.versions["myapp:1.0"];
    assert_eq!(v.error_rate, 0.0);
    assert_eq!(v.latency, Latency { p50: 50 * MILLISECOND, p99: 250 * MILLISECOND });
    let d = &s.deployment;
    assert_eq!(d.namespace, "default");
    assert_eq!((d.min_ready_seconds, d.progress_deadline_seconds), (0, Some(600)));
    assert_eq!((d.revision_history_limit, d.paused), (10, false));
    assert_eq!((d.readiness_probe, d.termination_grace_period_seconds), (None, 30));
}

#[test]
fn deployment_defaults_without_strategy_or_replicas() {
    let text = base_with(
        "  replicas: 10\n  strategy:\n    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}\n",
        "",
    );
    let s = load(&text).unwrap();
    assert_eq!(s.deployment.replicas, 1);
    assert_eq!(
        s.deployment.strategy,
        DeploymentStrategy::RollingUpdate {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Percent(25)
        }
    );
}

#[test]
fn deployment_fields() {
    let text = base_with(
        "  replicas: 10\n",
        "  replicas: 3\n  minReadySeconds: 5\n  revisionHistoryLimit: 2\n  paused: true\n",
    )
    .replace("maxSurge: 25%, maxUnavailable: 25%", "maxSurge: 1, maxUnavailable: \"10%\"")
    .replace(
        "          image: myapp:2.0\n",
        "          image: myapp:2.0\n          readinessProbe: {initialDelaySeconds: 3, periodSeconds: 0, failureThreshold: 5, httpGet: {port: 80}}\n",
    )
    .replace("{cpu: 250m, memory: 256Mi}", "{cpu: 0.5, memory: 129e6}")
    .replace("    spec:\n      containers:", "    spec:\n      terminationGracePeriodSeconds: 0\n      containers:");
    let d = load(&text).unwrap().deployment;
    assert_eq!((d.replicas, d.min_ready_seconds, d.revision_history_limit, d.paused), (3, 5, 2, true));
    assert_eq!(
        d.strategy,
        DeploymentStrategy::RollingUpdate {
            max_surge: IntOrPercent::Int(1),
            max_unavailable: IntOrPercent::Percent(10)
        }
    );
    assert_eq!(
        d.readiness_probe,
        Some(Probe {
            initial_delay_seconds: 3,
            period_seconds: 10,
            failure_threshold: 5,
            ..Probe::default()
        })
    );
    assert_eq!(d.requests, Resources { cpu_millis: 500, memory_bytes: 129_000_000 });
    assert_eq!(d.termination_grace_period_seconds, 0);
}

#[test]
fn simulation_options() {
    let text = base_with("  traffic: {rps: 500}\n", "  traffic:\n    pattern: {kind: diurnal, trough: 100, peak: 800, period: 24h}\n    timeout: 10s\n")
        .replace("  duration: 2h\n", "  duration: 2h\n  fidelity: request\n  tick: 100ms\n  seed: 18446744073709551615\n")
        .replace(
            "    myapp:2.0: {errorRate: 0.001}\n",
            "    myapp:2.0:
      errorRate: 0.1%
      latency: {p99: 300ms}
      faults:
        - {kind: latency, p50: 200ms, p99: 2s, from: release, after: 1m, ramp: 30s}
        - {kind: crashAfter, uptime: {kind: lognormal, median: 30m, p99: 2h}}
        - {kind: crashAfter, uptime: 10m}
        - {kind: overload, aboveRps: 80, rate: 50%}
        - {kind: userErrors, users: 10%}
        - {kind: userErrors, users: 0.2, rate: 0.5, ramp: 0s}
  detection: {onProgressDeadline: false}
  controller: {reconcileLatency: 10ms, endpointPropagation: 1s}
  rollback:
    manual:
      after: {kind: fixed, value: 15m}
",
        )
        .replace(
            "    startup: 20s\n",
            "    startup: 20s\n    scheduling: 2s\n    imagePull: {cold: 30s}\n    endpointRemovalDelay: 0s\n    shutdown: {kind: lognormal, median: 1s, p99: 5s}\n    drainOnSigterm: false\n",
        );
    let s = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.fidelity, s.tick, s.seed), (Fidelity::Request, 100 * MILLISECOND, u64::MAX));
    assert_eq!(s.traffic.pattern, RatePattern::Diurnal { trough: 100.0, peak: 800.0, period: 24 * HOUR });
    assert_eq!(s.traffic.rps, 100.0); // a diurnal pattern without `rps` starts at its trough
    assert_eq!(s.traffic.timeout, 10 * SECOND);
    let v = &s.versions["myapp:2.0"];
    assert!((v.error_rate - 0.001).abs() < 1e-12);
    assert_eq!(v.latency, Latency { p50: 50 * MILLISECOND, p99: 300 * MILLISECOND });
    let kinds: Vec<&FaultKind> = v.faults.iter().map(|f| &f.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &FaultKind::Latency { latency: Latency { p50: 200 * MILLISECOND, p99: 2 * SECOND } },
            &FaultKind::CrashAfter { uptime: DurationDist::LogNormal { median: 30 * MINUTE, p99: 2 * HOUR } },
            &FaultKind::CrashAfter { uptime: DurationDist::Fixed(10 * MINUTE) },
            &FaultKind::ErrorsAboveLoad { above_rps: 80.0, rate: 0.5 },
            &FaultKind::ErrorsForUsers { fraction: 0.1, rate: 1.0 },
            &FaultKind::ErrorsForUsers { fraction: 0.2, rate: 0.5 },
        ]
    );
    assert_eq!(
        (v.faults[0].anchor, v.faults[0].after, v.faults[0].ramp),
        (FaultAnchor::Release, MINUTE, Some(30 * SECOND))
    );
    assert_eq!((v.faults[1].anchor, v.faults[1].after, v.faults[1].ramp), (FaultAnchor::PodStart, 0, None));
    assert_eq!(v.faults[5].ramp, None);
    assert!(!s.detection.on_progress_deadline);
    assert_eq!(
        (s.controller.reconcile_latency, s.controller.endpoint_propagation),
        (10 * MILLISECOND, SECOND)
    );
    assert_eq!(s.rollback.manual_after, Some(DurationDist::Fixed(15 * MINUTE)));
    assert_eq!(s.pods.scheduling, DurationDist::Fixed(2 * SECOND));
    assert_eq!(s.pods.image_pull_cold, DurationDist::Fixed(30 * SECOND));
    assert_eq!(s.pods.image_pull_warm, DurationDist::Fixed(500 * MILLISECOND));
    assert_eq!(s.pods.endpoint_removal_delay, 0);
    assert_eq!(s.pods.shutdown, DurationDist::LogNormal { median: SECOND, p99: 5 * SECOND });
    assert!(!s.pods.refuse_after_sigterm);
}

#[test]
fn step_patterns_are_sorted() {
    let text = base_with(
        "  traffic: {rps: 500}\n",
        "  traffic:\n    rps: 500\n    pattern:\n      kind: steps\n      steps:\n        - {at: 30m, rps: 100}\n        - {at: 10m, rps: 900}\n",
    );
    let s = load(&text).unwrap();
    assert_eq!(
        s.traffic.pattern,
        RatePattern::Steps {
            steps: vec![RateStep { at: 10 * MINUTE, rps: 900.0 }, RateStep { at: 30 * MINUTE, rps: 100.0 }]
        }
    );
    let dup = text.replace("at: 30m", "at: 10m");
    check_error(&dup, 37, 16, "two steps");
}

#[test]
fn manifests_may_carry_unknown_fields_and_empty_documents() {
    let text = format!(
        "---\n# leading comment\n{}---\n",
        BASE.replace("  replicas: 10\n", "  replicas: 10\n  someFutureField: {a: [1, 2]}\n")
            .replace("kind: Service\n", "kind: Service\nstatus: {loadBalancer: {}}\n")
    );
    assert!(load(&text).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Bad input: each points at the right line and column

#[test]
fn malformed_yaml() {
    let text = base_with(
        "  release: {workload: Deployment/myapp, from: myapp:1.0, at: 5m}\n",
        "  release: {workload: Deployment/myapp\n",
    );
    let d = check_error(&text, 31, 10, "invalid YAML");
    assert!(d.to_string().contains("--> t.yaml:31:10"), "{d}");

    let text = base_with("  replicas: 10\n", "  replicas: 10\n   oops: 1\n");
    check_error(&text, 7, 8, "invalid YAML");
}

#[test]
fn missing_required_field() {
    let text = base_with("  duration: 2h\n", "  seed: 3\n");
    let d = check_error(&text, 28, 1, "missing required key `duration` in `spec`");
    assert!(d.help.as_deref().unwrap().contains("duration: 2h"));

    let text = base_with("          image: myapp:2.0\n", "          imagePullPolicy: Always\n");
    check_error(&text, 14, 11, "missing required key `image` in `spec.template.spec.containers[0]`");

    let text = base_with("  slo: {objective: 99.9%, window: 30d}\n", "  slo: {objective: 99.9%, window: }\n");
    check_error(&text, 41, 27, "`spec.slo.window` has no value");
}

#[test]
fn negative_replica_count() {
    let text = base_with("  replicas: 10\n", "  replicas: -3\n");
    let d = check_error(&text, 6, 13, "`spec.replicas` must not be negative, found -3");
    assert_eq!(d.label, "expected a whole number ≥ 0");
    let shown = d.to_string();
    assert!(shown.contains("6 |   replicas: -3\n  |             ^^ expected a whole number ≥ 0"), "{shown}");

    let text = base_with("  replicas: 10\n", "  replicas: 2.5\n");
    check_error(&text, 6, 13, "must be a whole number");
}

#[test]
fn percentage_above_100() {
    let text = base_with("objective: 99.9%", "objective: 100.5%");
    let d = check_error(&text, 41, 20, "`spec.slo.objective` must be a ratio");
    assert!(d.label.contains("above 100%"));

    let text = base_with("objective: 99.9%", "objective: 99.9");
    let d = check_error(&text, 41, 20, "`spec.slo.objective`");
    assert!(d.label.contains("`99.9%`"), "{d}");

    let text = base_with("objective: 99.9%", "objective: 100%");
    check_error(&text, 41, 20, "between 0% and 100%");

    let text = base_with("maxUnavailable: 25%", "maxUnavailable: 150%");
    check_error(&text, 8, 52, "must not be greater than 100%");

    let text = base_with("errorRate: 0.001", "errorRate: 120%");
    check_error(&text, 34, 28, "`spec.versions[\"myapp:2.0\"].errorRate`");
}

#[test]
fn unknown_kind() {
    // Any kind rollsim does not simulate is skipped with a note, a workload's too.
    let text = format!(
        "{BASE}---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db}}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: wp-pv-claim}}\n---\napiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {{name: main}}\n"
    );
    let s = load(&text).unwrap();
    assert_eq!(
        s.notes,
        [
            "StatefulSet/db is not simulated: its pods do not run (rollsim runs Deployments and Argo Rollouts)",
            "PersistentVolumeClaim/wp-pv-claim is not simulated (rollsim skips this kind)",
            "Prometheus/main is not simulated (rollsim skips this kind)",
            super::load::NOTHING_DETECTS,
        ]
    );
    // Another API's kind of a simulated kind's name is another resource: skipped.
    let text =
        format!("{BASE}---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: hello}}\n");
    assert_eq!(
        load(&text).unwrap().notes,
        [
            "Service/hello (apiVersion `serving.knative.dev/v1`) is not simulated: rollsim reads a Service of `v1` only",
            super::load::NOTHING_DETECTS,
        ]
    );

    // A near miss of a simulated kind is refused: the typo would drop the release's object.
    let text = base_with("kind: Deployment", "kind: Deploymnet");
    let d = check_error(&text, 2, 7, "unsupported kind `Deploymnet` (apiVersion `apps/v1`)");
    assert_eq!(
        d.help.as_deref(),
        Some(
            "did you mean `Deployment`? supported kinds: apps/v1 Deployment, v1 Service, argoproj.io/v1alpha1 Rollout, \
             AnalysisTemplate and ClusterAnalysisTemplate, networking.istio.io/v1 VirtualService and \
             DestinationRule (also v1beta1, v1alpha3), flagger.app/v1beta1 Canary and MetricTemplate, \
             monitoring.coreos.com/v1 PrometheusRule, ServiceMonitor and PodMonitor, rollsim.dev/v1alpha1 \
             Simulation and CanaryConfig (a Kayenta canary config)"
        )
    );
    let text = base_with("apiVersion: apps/v1\n", "apiVersion: extensions/v1beta1\n");
    check_error(&text, 1, 13, "unsupported apiVersion `extensions/v1beta1` for a Deployment");

    let text = base_with("kind: Service", "kind: Servise");
    let d = check_error(&text, 20, 7, "unsupported kind `Servise`");
    assert!(d.help.as_deref().unwrap().starts_with("did you mean `Service`?"));

    let text = base_with("apiVersion: apps/v1\n", "apiVersion: apps/v1beta1\n");
    check_error(&text, 1, 13, "unsupported apiVersion `apps/v1beta1` for a Deployment");

    let text = format!("{BASE}---\n- just\n- a list\n");
    check_error(&text, 43, 1, "a document must be a Kubernetes object");

    let text = format!("{BASE}---\napiVersion: v1\nmetadata: {{name: x}}\n");
    check_error(&text, 43, 1, "no `kind`");
}

#[test]
fn bad_durations() {
    let text = base_with("  duration: 2h\n", "  duration: 2hours\n");
    let d = check_error(&text, 29, 13, "`spec.duration` is not a valid duration: `2hours`");
    assert_eq!(d.label, "unknown unit `hours`");
    assert!(d.help.as_deref().unwrap().contains("1h30m"));

    let text = base_with("  duration: 2h\n", "  duration: 120\n");
    let d = check_error(&text, 29, 13, "not a valid duration");
    assert!(d.help.as_deref().unwrap().starts_with("add a unit: `120s`"));

    let text = base_with("at: 5m}", "at: -5m}");
    check_error(&text, 30, 62, "`spec.release.at` is not a valid duration");

    let text = base_with("  duration: 2h\n", "  duration: 0s\n");
    check_error(&text, 29, 13, "`spec.duration` must be longer than 0s");

    let text = base_with("at: 5m}", "at: 3h}");
    check_error(&text, 30, 62, "not before the end of the simulation");
}

#[test]
fn unknown_simulation_keys() {
    let text = base_with("  duration: 2h\n", "  duration: 2h\n  replicaitons: 5\n");
    let d = check_error(&text, 30, 3, "unknown key `replicaitons` in `spec`");
    let help = d.help.unwrap();
    assert!(
        help.starts_with("did you mean `replications`? valid keys here: `seed`, `replications`, `duration`"),
        "{help}"
    );

    let text = base_with("  traffic: {rps: 500}\n", "  traffic: {rps: 500, userz: 3}\n");
    let d = check_error(&text, 31, 23, "unknown key `userz` in `spec.traffic`");
    assert!(d.help.unwrap().starts_with("did you mean `users`?"));

    let text = base_with("metadata: {name: t}", "metadata: {name: t, nmae: u}");
    check_error(&text, 27, 21, "unknown key `nmae` in `metadata`");

    let text = base_with("myapp:2.0: {errorRate: 0.001}", "myapp:2.0: {error_rate: 0.001}");
    let d = check_error(&text, 34, 17, "unknown key `error_rate`");
    assert!(d.help.unwrap().starts_with("did you mean `errorRate`?"));

    let text = base_with("myapp:2.0: {errorRate: 0.001}", "myapp:2.0: {faults: [{kind: errorz, rate: 1%}]}");
    let d = check_error(&text, 34, 33, "unknown fault kind `errorz`");
    assert_eq!(d.help.as_deref(), Some("did you mean `errors`?"));

    let text = base_with("  duration: 2h\n", "  duration: 2h\n  fidelity: aggregate\n");
    let d = check_error(&text, 30, 13, "`spec.fidelity` must be one of `aggregated` or `request`");
    assert_eq!(d.help.as_deref(), Some("did you mean `aggregated`?"));
}

#[test]
fn missing_or_duplicate_simulation() {
    let only_manifests = &BASE[..BASE.find("---\napiVersion: rollsim").unwrap()];
    let d = check_error(only_manifests, 1, 1, "no `rollsim.dev/v1alpha1 Simulation` document");
    assert!(d.help.unwrap().contains("kind: Simulation"));

    let empty = check_error("", 1, 1, "no `rollsim.dev/v1alpha1 Simulation` document");
    assert!(empty.to_string().contains("--> t.yaml:1:1"));

    let sim = &BASE[BASE.find("apiVersion: rollsim").unwrap()..];
    let text = format!("{BASE}---\n{sim}");
    let d = check_error(&text, 44, 1, "a second Simulation document");
    assert!(d.help.unwrap().contains("at t.yaml:26;"));
}

#[test]
fn duplicate_keys() {
    let text = base_with("  duration: 2h\n", "  duration: 2h\n  duration: 3h\n");
    check_error(&text, 30, 3, "duplicate key `duration`");
}

#[test]
fn quantities_and_strategies() {
    let text = base_with("cpu: \"8\"", "cpu: 8 cores");
    let d = check_error(&text, 40, 25, "`spec.cluster.nodeCapacity.cpu` is not a valid CPU quantity");
    assert!(d.label.contains("unknown suffix"));

    let text = base_with("memory: 256Mi", "memory: 256MB");
    check_error(&text, 17, 43, "not a valid memory quantity");

    let text = base_with("maxSurge: 25%, maxUnavailable: 25%", "maxSurge: 0, maxUnavailable: 0%");
    check_error(&text, 8, 50, "`maxUnavailable` may not be 0 when `maxSurge` is 0");

    let text = base_with("maxSurge: 25%", "maxSurge: \"3\"");
    check_error(&text, 8, 31, "must be a whole number ≥ 0 or a percentage");

    let text = base_with("  strategy:\n", "  strategy:\n    type: Recreate\n");
    check_error(&text, 9, 5, "may not be set when `type` is Recreate");

    let text = base_with("  strategy:\n", "  strategy:\n    type: Rolling\n");
    check_error(&text, 8, 11, "`spec.strategy.type` must be one of `RollingUpdate` or `Recreate`");

    let text = base_with("  selector: {app: myapp}\n", "  selector: {app: myapp}\n  ports: 3\n")
        .replace("  replicas: 10\n", "  replicas: 10\n  selector: {matchLabels: {app: other}}\n");
    check_error(&text, 7, 27, "`spec.selector` does not match the template's labels");
}

#[test]
fn release_cross_checks() {
    let text = base_with("from: myapp:1.0", "from: myapp:1.5");
    let d = check_error(
        &text,
        30,
        47,
        "`spec.release.from` names version `myapp:1.5`, which is not defined in `spec.versions`",
    );
    let help = d.help.unwrap();
    assert!(help.contains("defined versions: `myapp:1.0`, `myapp:2.0`"), "{help}");

    let text = base_with("          image: myapp:2.0\n", "          image: myapp:3.0\n");
    check_error(
        &text,
        15,
        18,
        "the Deployment's image `myapp:3.0` (the default for `spec.release.to`) is not defined",
    );

    let text = base_with("workload: Deployment/myapp", "workload: Deployment/myap");
    let d = check_error(&text, 30, 23, "names Deployment `myap`, which is not in this file");
    assert!(d.help.unwrap().starts_with("did you mean `Deployment/myapp`?"));

    let text = base_with("workload: Deployment/myapp", "workload: StatefulSet/myapp");
    check_error(&text, 30, 23, "releasing a `StatefulSet` is not supported yet");

    let text = base_with("workload: Deployment/myapp", "workload: Rollout/myapp");
    check_error(&text, 30, 23, "names Rollout `myapp`, which is not in this file");

    let text = base_with("workload: Deployment/myapp", "workload: myapp");
    check_error(&text, 30, 23, "must be `Deployment/NAME`");

    let text = base_with("from: myapp:1.0", "from: myapp:2.0");
    let d = check_error(&text, 30, 47, "the release changes nothing");
    assert!(d.help.unwrap().contains("line 15"));
}

#[test]
fn distributions() {
    let text = base_with("    startup: 20s\n", "    startup: {kind: lognormal, median: 20s, p99: 10s}\n");
    check_error(&text, 36, 50, "`spec.pods.startup.p99` must be at least the median");

    let text = base_with("    startup: 20s\n", "    startup: {kind: normal, median: 20s}\n");
    let d = check_error(&text, 36, 21, "`spec.pods.startup.kind` must be one of `fixed` or `lognormal`");
    assert_eq!(d.help.as_deref(), Some("did you mean `lognormal`?"));

    let text = base_with("    startup: 20s\n", "    startup: {kind: lognormal, median: 20s}\n");
    check_error(&text, 36, 5, "missing required key `p99` in `spec.pods.startup`");

    let text = base_with("    startup: 20s\n", "");
    check_error(&text, 35, 3, "missing required key `startup` in `spec.pods`");
}

#[test]
fn wrong_types() {
    let text = base_with("  traffic: {rps: 500}\n", "  traffic: {rps: fast}\n");
    check_error(&text, 31, 18, "`spec.traffic.rps` must be a number, found the string \"fast\"");

    let text = base_with("  traffic: {rps: 500}\n", "  traffic: 500\n");
    check_error(&text, 31, 12, "`spec.traffic` must be a mapping, found the number 500");

    let text = base_with("    myapp:1.0: {}\n", "    myapp:1.0: {faults: {kind: crashAtStart}}\n");
    check_error(&text, 33, 25, "`spec.versions[\"myapp:1.0\"].faults` must be a list");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = base_with("  replicas: 10\n", "  replicas: -3\n")
        .replace("  duration: 2h\n", "  duration: 2hours\n")
        .replace("  traffic: {rps: 500}\n", "  traffic: {rps: 500, userz: 3}\n")
        .replace("objective: 99.9%", "objective: 120%")
        .replace("kind: Service", "kind: Servise")
        .replace("from: myapp:1.0", "from: myapp:1.5");
    let diags = errors(&text);
    let positions: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(positions, vec![(6, 13), (20, 7), (29, 13), (30, 47), (31, 23), (41, 20)]);
    let shown = load(&text).unwrap_err().to_string();
    assert!(shown.ends_with("error: could not load `t.yaml`: 6 problems"), "{shown}");
}

#[test]
fn unreadable_file() {
    let err = load_file(Path::new("/nonexistent/scenario.yaml"), &[]).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    let d = &err.diagnostics[0];
    assert_eq!((d.file.as_str(), d.line, d.column), ("/nonexistent/scenario.yaml", 0, 0));
    assert!(d.message.starts_with("cannot read the scenario file"));
}

/// Truncating or deleting lines of a valid file never panics, and every failure is explained
/// at a position.
#[test]
fn damaged_input_never_panics() {
    let text = EXAMPLE_YAML;
    let check = |damaged: &str| {
        if let Err(e) = load(damaged) {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{d}");
            }
            let _ = e.to_string();
        }
    };
    for (i, _) in text.char_indices().step_by(5) {
        check(&text[..i]);
    }
    let lines: Vec<&str> = text.lines().collect();
    for skip in 0..lines.len() {
        let damaged: Vec<&str> =
            lines.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| *l).collect();
        check(&damaged.join("\n"));
        let indented: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == skip { format!(" {l}") } else { l.to_string() })
            .collect();
        check(&indented.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// Overrides

#[test]
fn overrides_change_values() {
    let s = load_with(
        BASE,
        &[
            "spec.traffic.rps=900",
            "spec.seed=7",
            "spec.replications=3",
            "spec.slo.objective=99.5%",
            "spec.versions[\"myapp:2.0\"].errorRate=0.05",
            "spec.versions.myapp:1.0.latency.p99=1s",
            "spec.rollback.manual={after: 10m}",
            "spec.pods.startup={kind: lognormal, median: 20s, p99: 60s}",
            "spec.release.to=myapp:1.0",
            "spec.release.from=myapp:2.0",
            "metadata.name=tuned",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.traffic.rps, s.seed, s.replications), (900.0, 7, 3));
    assert_eq!(s.slo.objective, 0.995);
    assert_eq!(s.versions["myapp:2.0"].error_rate, 0.05);
    assert_eq!(s.versions["myapp:1.0"].latency.p99, SECOND);
    assert_eq!(s.rollback.manual_after, Some(DurationDist::Fixed(10 * MINUTE)));
    assert_eq!(s.pods.startup, DurationDist::LogNormal { median: 20 * SECOND, p99: 60 * SECOND });
    assert_eq!((s.release.from_image.as_str(), s.release.to_image.as_str()), ("myapp:2.0", "myapp:1.0"));
    assert_eq!(s.name, "tuned");
}

#[test]
fn overrides_of_lists_and_removals() {
    let example = EXAMPLE_YAML;
    let s = load_str(
        "ex.yaml",
        example,
        &[
            parse_override("spec.versions[\"myapp:2.0\"].faults[0].rate=0.2").unwrap(),
            parse_override("spec.rollback.manual=").unwrap(),
            parse_override("spec.traffic.pattern={kind: steps, steps: [{at: 10m, rps: 900}]}").unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(s.versions["myapp:2.0"].faults[0].kind, FaultKind::Errors { rate: 0.2 });
    assert_eq!(s.rollback.manual_after, None);
    let s2 = load_str(
        "ex.yaml",
        example,
        &[
            parse_override("spec.traffic.pattern={kind: steps, steps: [{at: 10m, rps: 900}]}").unwrap(),
            parse_override("spec.traffic.pattern.steps[0].rps=1200").unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(
        s2.traffic.pattern,
        RatePattern::Steps { steps: vec![RateStep { at: 10 * MINUTE, rps: 1200.0 }] }
    );
    // --seed and --replications are ordinary overrides.
    let s3 = load_with(BASE, &["spec.seed=99", "spec.replications=10"]).unwrap();
    assert_eq!((s3.seed, s3.replications), (99, 10));
}

fn override_error(sets: &[&str]) -> Vec<Diagnostic> {
    match load_with(BASE, sets) {
        Ok(_) => panic!("expected an error for {sets:?}"),
        Err(e) => e.diagnostics,
    }
}

#[test]
fn overrides_reject_unknown_paths() {
    let d = override_error(&["spec.traffic.rsp=900"]);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column), ("--set", 1, 14));
    assert_eq!(d[0].message, "unknown key `rsp` in `spec.traffic`");
    let help = d[0].help.as_deref().unwrap();
    assert!(
        help.starts_with("did you mean `rps`? valid keys here: `rps`, `pattern`, `users`, `timeout`"),
        "{help}"
    );
    assert!(
        d[0].to_string()
            .contains("--> --set:1:14\n  |\n1 | spec.traffic.rsp=900\n  |              ^^^ unknown key"),
        "{}",
        d[0]
    );

    let d = override_error(&["spec.nonsense.deep.key=1"]);
    assert_eq!((d[0].line, d[0].column), (1, 6));
    assert!(d[0].message.contains("unknown key `nonsense` in `spec`"));

    let d = override_error(&["traffic.rps=900"]);
    assert_eq!((d[0].file.as_str(), d[0].column), ("--set", 1));
    assert!(d[0].help.as_deref().unwrap().contains("did you mean `spec.traffic.rps`?"));

    let d = override_error(&["spec.pods.startup.median=30s"]);
    assert_eq!((d[0].line, d[0].column), (1, 19));
    assert!(d[0].message.contains("`spec.pods.startup` is the string \"20s\""), "{}", d[0]);

    let d = override_error(&["spec.versions.myapp:3.0.errorRate=0.1"]);
    assert!(d[0].help.as_deref().unwrap().contains("spec.versions[\"myapp:3.0\"]"), "{}", d[0]);

    let d = override_error(&["spec.traffic.pattern.steps[0].rps=3"]);
    assert!(d[0].message.contains("cannot index `spec.traffic.pattern.steps`"), "{}", d[0]);
}

#[test]
fn overrides_report_bad_values_at_set() {
    let d = override_error(&["spec.seed=abc"]);
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column), ("--set", 1, 11));
    assert_eq!(d[0].width, 3);
    assert!(d[0].message.contains("`spec.seed` must be a whole number"));

    let d = override_error(&["spec.traffic.rps=900", "spec.duration=2 hours"]);
    assert_eq!((d[0].file.as_str(), d[0].column), ("--set", 15));
    assert_eq!(d[0].source_line.as_deref(), Some("spec.duration=2 hours"));

    let d = override_error(&["spec.traffic.pattern={kind: steps"]);
    assert_eq!(d[0].file, "--set");
    assert!(d[0].message.starts_with("invalid YAML"));

    let d = override_error(&["spec.replications=-1"]);
    assert_eq!(d[0].column, 19);
    assert!(d[0].message.contains("must not be negative"));
}

#[test]
fn file_and_override_errors_are_reported_together() {
    let text = base_with("  replicas: 10\n", "  replicas: -3\n");
    let overrides = [parse_override("spec.seed=x").unwrap()];
    let err = load_str("t.yaml", &text, &overrides).unwrap_err();
    let places: Vec<(&str, usize)> = err.diagnostics.iter().map(|d| (d.file.as_str(), d.line)).collect();
    assert_eq!(places, vec![("t.yaml", 6), ("--set", 1)]);
}

#[test]
fn removing_a_required_value_points_at_set() {
    let d = override_error(&["spec.slo.objective="]);
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column), ("--set", 1, 20));
    assert_eq!(d[0].message, "`spec.slo.objective` has no value");
    let d = override_error(&["spec.versions[\"myapp:2.0\"].faults[2].rate=1"]);
    assert_eq!(d[0].message, "cannot index `spec.versions[\"myapp:2.0\"].faults`: it is not set");
    let d = override_error(&[
        "spec.versions[\"myapp:2.0\"].faults=[{kind: crashAtStart}]",
        "spec.versions[\"myapp:2.0\"].faults[1].after=1m",
    ]);
    assert!(d[0].message.contains("has 1 entry; index 1 is out of range"), "{}", d[0]);
}

// ---------------------------------------------------------------------------------------------
// Overrides of manifests (`Kind/name.path`)

/// `BASE` plus a PrometheusRule, and a Service whose name has a dot.
fn with_rule() -> String {
    format!(
        "{BASE}---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {{name: myapp-alerts}}
spec:
  groups:
    - name: g
      rules:
        - alert: HighErrorRate
          expr: sum(rate(http_requests_total{{status=~\"5..\"}}[1m])) / sum(rate(http_requests_total[1m])) > 0.1
          for: 1m
---
apiVersion: v1
kind: Service
metadata: {{name: my.svc}}
spec:
  selector: {{app: other}}
"
    )
}

fn rule_for(s: &Scenario) -> crate::engine::SimTime {
    match &s.monitoring.groups[0].rules[0] {
        crate::telemetry::spec::Rule::Alerting(rule) => rule.for_,
        other => panic!("not an alerting rule: {other:?}"),
    }
}

#[test]
fn overrides_of_manifests_change_the_document_they_name() {
    let s = load_with(&with_rule(), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rule_for(&s), MINUTE);
    assert_eq!(s.deployment.replicas, 10);
    let s = load_with(
        &with_rule(),
        &["PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for=5m", "Deployment/myapp.spec.replicas=6"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rule_for(&s), 5 * MINUTE);
    assert_eq!(s.deployment.replicas, 6);
    assert!(s.notes.iter().all(|n| !n.contains("--set")), "{:?}", s.notes);
    // A name with dots: the longest name that exists, or quoted in brackets.
    for path in ["Service/my.svc.spec.selector.app=myapp", "Service/[\"my.svc\"].spec.selector.app=myapp"] {
        let s = load_with(&with_rule(), &[path]).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            s.services
                .iter()
                .filter(|svc| svc.selector.get("app").map(String::as_str) == Some("myapp"))
                .count(),
            2,
            "{path}"
        );
    }
}

#[test]
fn overrides_of_manifests_report_at_set() {
    let d = load_with(&with_rule(), &["PrometheusRule/myapp-alert.spec.groups[0].rules[0].for=5m"])
        .unwrap_err()
        .diagnostics;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column), ("--set", 1, 1));
    assert_eq!(d[0].width, "PrometheusRule/myapp-alert".len());
    assert!(d[0].message.contains("no document `PrometheusRule/myapp-alert`"), "{}", d[0]);
    let help = d[0].help.as_deref().unwrap();
    assert!(help.starts_with("did you mean `PrometheusRule/myapp-alerts`?"), "{help}");
    assert!(
        help.contains(
            "Deployment/myapp, Service/myapp, Simulation/t, PrometheusRule/myapp-alerts, Service/my.svc"
        ),
        "{help}"
    );

    let d = load_with(&with_rule(), &["Rollout/myapp.spec.replicas=3"]).unwrap_err().diagnostics;
    assert!(d[0].message.contains("no document `Rollout/myapp`"), "{}", d[0]);

    // A bad value is read where the document reads it and reported in the --set text.
    let set = "PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for=5 minutes";
    let d = load_with(&with_rule(), &[set]).unwrap_err().diagnostics;
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column), ("--set", 1, set.find('=').unwrap() + 2));
    assert_eq!(d[0].source_line.as_deref(), Some(set));

    let d = load_with(&with_rule(), &["PrometheusRule/myapp-alerts.spec.groups[3].name=x"])
        .unwrap_err()
        .diagnostics;
    assert!(d[0].message.contains("`PrometheusRule/myapp-alerts.spec.groups` has 1 entry"), "{}", d[0]);

    let d = load_with(&with_rule(), &["Deployment/myapp=3"]).unwrap_err().diagnostics;
    assert!(d[0].message.contains("names a whole document"), "{}", d[0]);
}

#[test]
fn an_override_that_adds_a_manifest_key_is_noted() {
    let s = load_with(&with_rule(), &["Deployment/myapp.spec.replicsa=3"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.deployment.replicas, 10);
    let note = s.notes.iter().find(|n| n.contains("replicsa")).expect("a note");
    assert!(note.contains("`Deployment/myapp.spec` had no `replicsa` (did you mean `replicas`?)"), "{note}");
}

#[test]
fn grid_values_are_overrides_reported_at_grid() {
    let axis = parse_grid_axis("spec.traffic.rps=100, 1000,abc").unwrap();
    assert_eq!(axis.path, "spec.traffic.rps");
    let values: Vec<&str> = axis.values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(values, ["100", "1000", "abc"]);
    let s = load_str("t.yaml", BASE, &axis.values[1..2]).unwrap();
    assert_eq!(s.traffic.rps, 1000.0);
    let d = load_str("t.yaml", BASE, &axis.values[2..]).unwrap_err().diagnostics;
    assert_eq!((d[0].file.as_str(), d[0].line, d[0].column, d[0].width), ("--grid", 1, 28, 3));
    assert_eq!(d[0].source_line.as_deref(), Some("spec.traffic.rps=100, 1000,abc"));
    // A grid over a manifest value.
    let axis = parse_grid_axis("PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for=1m,{x: 1}").unwrap();
    assert_eq!(rule_for(&load_str("t.yaml", &with_rule(), &axis.values[..1]).unwrap()), MINUTE);
    let d = load_str("t.yaml", &with_rule(), &axis.values[1..]).unwrap_err().diagnostics;
    assert_eq!((d[0].file.as_str(), d[0].column), ("--grid", 60));
}

// ---------------------------------------------------------------------------------------------
// spec.variants

/// `BASE` with `variants` (YAML lines at two spaces) appended to its spec; the first of
/// them is on the returned line.
fn with_variants(variants: &str) -> (String, usize) {
    (format!("{BASE}  variants:\n{variants}"), BASE.lines().count() + 2)
}

#[test]
fn variants_are_read_as_overrides_in_file_order() {
    let (text, _) = with_variants(
        "    - name: as-written\n      set: {}\n    - name: bigger\n      set:\n        Deployment/myapp.spec.replicas: 6\n        spec.traffic.rps: 900\n        spec.pods.startup: {kind: lognormal, median: 20s, p99: 60s}\n        spec.versions[\"myapp:2.0\"].errorRate: \"5%\"\n",
    );
    let s = load(&text).expect("loads");
    assert_eq!(s.variants.len(), 2);
    assert_eq!(s.variants[0].name, "as-written");
    assert!(s.variants[0].overrides.is_empty());
    let sets: Vec<String> = s.variants[1].overrides.iter().map(|o| o.as_typed()).collect();
    assert_eq!(
        sets,
        [
            "Deployment/myapp.spec.replicas=6",
            "spec.traffic.rps=900",
            "spec.pods.startup={kind: lognormal, median: 20s, p99: 60s}",
            "spec.versions[\"myapp:2.0\"].errorRate=\"5%\"",
        ]
    );
    // Loading a variant is loading the file with its overrides.
    let bigger = load_str("t.yaml", &text, &s.variants[1].overrides).expect("the variant loads");
    assert_eq!(bigger.deployment.replicas, 6);
    assert_eq!(bigger.traffic.rps, 900.0);
    assert_eq!(bigger.versions["myapp:2.0"].error_rate, 0.05);
    assert_eq!(load(&text).unwrap().deployment.replicas, 10);
}

#[test]
fn bad_variants_are_reported_in_the_file() {
    let (text, line) = with_variants("    - name: a\n      set: {}\n    - name: a\n      set: {}\n");
    check_error(&text, line + 2, 13, "the variant name `a` is used twice");

    let (text, line) = with_variants("    - name: a b\n      set: {}\n");
    check_error(&text, line, 13, "may hold only letters, digits");

    let (text, line) = with_variants("    - name: a\n      set: {spec.seed: 3}\n");
    let d = check_error(&text, line + 1, 13, "`spec.seed` may not be changed by a variant");
    assert!(d.help.unwrap().contains("common random numbers"));

    let (text, line) = with_variants("    - name: a\n      set: {traffic.rps: 3}\n");
    let d = check_error(&text, line + 1, 13, "does not name a value of the Simulation or of a manifest");
    assert!(d.help.unwrap().contains("did you mean `spec.traffic.rps`?"));

    let (text, line) = with_variants("    - name: a\n      set: [spec.traffic.rps=3]\n");
    check_error(&text, line + 1, 12, "must be a mapping of PATH: VALUE");

    let (text, line) = with_variants("    - name: a\n");
    check_error(&text, line, 7, "missing required key `set`");

    let (text, line) = with_variants("    - {name: a, set: {}, sett: {}}\n");
    check_error(&text, line, 26, "unknown key `sett`");

    let (text, line) = with_variants("    name: a\n");
    check_error(&text, line, 5, "must be a list of variants");
}

#[test]
fn a_variant_value_that_does_not_suit_its_key_is_reported_when_the_variant_loads() {
    let (text, _) = with_variants("    - name: fast\n      set: {spec.traffic.rps: lots}\n");
    let s = load(&text).expect("the file itself loads");
    let e = load_str("t.yaml", &text, &s.variants[0].overrides).unwrap_err();
    let d = &e.diagnostics[0];
    assert!(d.message.contains("`spec.traffic.rps` must be a number"), "{d:?}");
    assert_eq!((d.line, d.column), (1, 18), "{d:?}");
    assert!(e.to_string().contains("--> spec.variants:1:18"), "{e}");
}

#[test]
fn a_v1_list_stands_for_its_items() {
    // `kubectl get deploy,svc -o yaml` writes one `v1 List`.
    let manifests = &BASE[..BASE.find("---\napiVersion: rollsim").unwrap()];
    let items: Vec<String> = manifests
        .split("---\n")
        .map(|doc| {
            let indented: Vec<String> = doc.lines().map(|l| format!("    {l}")).collect();
            format!("  - {}\n", indented.join("\n").trim_start())
        })
        .collect();
    let sim = &BASE[BASE.find("apiVersion: rollsim").unwrap()..];
    let text = format!(
        "apiVersion: v1\nkind: List\nmetadata: {{resourceVersion: \"\"}}\nitems:\n{}---\n{sim}",
        items.concat()
    );
    let s = load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.deployment.name, "myapp");
    assert_eq!(s.deployment.replicas, 10);
    assert_eq!(s.services.len(), 1);
}

#[test]
fn a_document_end_line_is_explained() {
    // A docs snippet's `...` for "and so on" ends the document: `spec` has no value.
    let text = BASE.replacen("spec:\n  replicas: 10\n", "spec:\n...\n  replicas: 10\n", 1);
    let diags = errors(&text);
    assert!(!diags.is_empty());
    let help = diags[0].help.as_deref().unwrap_or_default();
    assert!(help.starts_with("line 6 is `...`, which ends a YAML document"), "{diags:#?}");

    // Indented, it is the text "...": a placeholder.
    let text = BASE.replacen(
        "  strategy:\n    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}\n",
        "  strategy:\n    ...\n",
        1,
    );
    let diags = errors(&text);
    assert!(!diags.is_empty());
    let d = diags.iter().find(|d| d.line == 8).unwrap_or_else(|| panic!("{diags:#?}"));
    assert!(d.help.as_deref().unwrap_or_default().starts_with("`...` here is the text"), "{d}");

    // A problem on the spare line after a file's end is no trouble.
    let text = format!("{}...\n", &BASE[..BASE.find("---\napiVersion: rollsim").unwrap()]);
    assert!(!errors(&text).is_empty());
}

#[test]
fn the_missing_simulation_help_names_the_files_workload() {
    let manifests = &BASE[..BASE.find("---\napiVersion: rollsim").unwrap()];
    let d = check_error(manifests, 1, 1, "no `rollsim.dev/v1alpha1 Simulation` document");
    let help = d.help.unwrap();
    assert!(
        help.contains("release: {workload: Deployment/myapp, from: \"myapp:previous\", at: 5m}"),
        "{help}"
    );
    assert!(help.contains("versions: {\"myapp:previous\": {}, \"myapp:2.0\": {}}"), "{help}");
    assert!(help.contains("--simulation FILE"), "{help}");
}

#[test]
fn several_files_load_as_one_scenario() {
    let cut = BASE.find("---\napiVersion: v1").unwrap();
    let sim_at = BASE.find("---\napiVersion: rollsim").unwrap();
    let input = Input {
        parts: vec![
            Part { name: "app/deployment.yaml".into(), text: BASE[..cut].into() },
            Part { name: "app/service.yaml".into(), text: BASE[cut + 4..sim_at].into() },
            Part { name: "sim.yaml".into(), text: BASE[sim_at + 4..].into() },
        ],
        simulation_from: Some("sim.yaml".into()),
    };
    let s = load_input(&input, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.services.len(), 1);
    let one = load(BASE).unwrap();
    assert_eq!(
        (&s.deployment.name, s.deployment.replicas, &s.deployment.image),
        (&one.deployment.name, one.deployment.replicas, &one.deployment.image)
    );

    // Each error names its own file and line.
    let mut bad = input.clone();
    bad.parts[1].text = bad.parts[1].text.replace("selector: {app: myapp}", "selector: [app]");
    let e = load_input(&bad, &[]).unwrap_err();
    assert_eq!((e.diagnostics[0].file.as_str(), e.diagnostics[0].line), ("app/service.yaml", 5), "{e}");
    let mut bad = input.clone();
    bad.parts[2].text = bad.parts[2].text.replace("duration: 2h", "duration: [2h");
    let e = load_input(&bad, &[]).unwrap_err();
    assert_eq!(e.diagnostics[0].file, "sim.yaml", "{e}");

    // The same Deployment in two files: the error says where both are.
    let mut twice = input.clone();
    twice.parts.insert(1, Part { name: "copy/deployment.yaml".into(), text: BASE[..cut].into() });
    let e = load_input(&twice, &[]).unwrap_err();
    let d = e.diagnostics.iter().find(|d| d.message.contains("ambiguous")).unwrap_or_else(|| panic!("{e}"));
    assert_eq!(d.file, "sim.yaml");
    let help = d.help.as_deref().unwrap();
    assert!(help.starts_with("they are at app/deployment.yaml:4 and copy/deployment.yaml:4;"), "{help}");

    // Without a Simulation anywhere, `--simulation` is named.
    let mut none = input.clone();
    none.parts.pop();
    let e = load_input(&none, &[]).unwrap_err();
    assert!(e.diagnostics[0].message.contains("in the manifests or in `sim.yaml`"), "{e}");
}

#[test]
fn a_workload_no_service_selects_is_simulated_without_traffic() {
    let text = base_with("  selector: {app: myapp}\n---", "  selector: {app: other}\n---");
    let s = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.traffic.rps, 0.0);
    assert!(
        s.notes[0].starts_with("no Service selects the pods of Deployment/myapp: its pods get no traffic"),
        "{:?}",
        s.notes
    );
    assert!(s.notes[0].ends_with("whose `spec.selector` is a subset of {app: myapp}"), "{:?}", s.notes);
    // With a Service that selects it, traffic is as written and there is no note.
    let s = load(BASE).unwrap();
    assert_eq!(s.traffic.rps, 500.0);
    assert_eq!(s.notes, [super::load::NOTHING_DETECTS], "only the note that nothing detects");
}

#[test]
fn spike_pattern_and_queueing_latency_keys() {
    let spiked = |pattern: &str| load_with(BASE, &[&format!("spec.traffic.pattern={pattern}")]);
    let s = spiked("{kind: spike, at: 10m, duration: 2m, factor: 3}").unwrap();
    assert_eq!(
        s.traffic.pattern,
        RatePattern::Steps {
            steps: vec![RateStep { at: 10 * MINUTE, rps: 1500.0 }, RateStep { at: 12 * MINUTE, rps: 500.0 }]
        }
    );
    let s = spiked("{kind: spike, at: 1m, duration: 30s, rps: 900}").unwrap();
    assert_eq!(
        s.traffic.pattern,
        RatePattern::Steps {
            steps: vec![RateStep { at: MINUTE, rps: 900.0 }, RateStep { at: 90 * SECOND, rps: 500.0 }]
        }
    );
    let both = spiked("{kind: spike, at: 1m, duration: 30s, rps: 900, factor: 2}").unwrap_err().to_string();
    assert!(both.contains("both `factor` and `rps`"), "{both}");
    let none = spiked("{kind: spike, at: 1m, duration: 30s}").unwrap_err().to_string();
    assert!(none.contains("needs `factor` or `rps`"), "{none}");
    // The default latency model is fixed; queueing reads the concurrency (default 1).
    assert_eq!(load_with(BASE, &[]).unwrap().traffic.load_latency, LoadLatency::Fixed);
    let q = load_with(BASE, &["spec.pods.latencyModel=queueing", "spec.pods.concurrency=8"]).unwrap();
    assert_eq!(q.traffic.load_latency, LoadLatency::Queueing { concurrency: 8 });
    let q1 = load_with(BASE, &["spec.pods.latencyModel=queueing"]).unwrap();
    assert_eq!(q1.traffic.load_latency, LoadLatency::Queueing { concurrency: 1 });
    let stray = load_with(BASE, &["spec.pods.concurrency=8"]).unwrap_err().to_string();
    assert!(stray.contains("only by the queueing latency model"), "{stray}");
    let bad = load_with(BASE, &["spec.pods.latencyModel=mm1"]).unwrap_err().to_string();
    assert!(bad.contains("latencyModel"), "{bad}");
}
