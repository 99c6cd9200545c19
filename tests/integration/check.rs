//! End-to-end tests of `rollsim check`: a scenario made to pass, and each part made to fail.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

/// The knobs of the test scenario; [`Knobs::ready`] passes every check.
#[derive(Clone)]
struct Knobs {
    pause: &'static str,
    interval: &'static str,
    failure_limit: u32,
    alert_for: &'static str,
    window: &'static str,
    threshold: f64,
    max_unavailable: &'static str,
    deadline: u32,
    nodes: u32,
    cpu: &'static str,
    analysis_threshold: f64,
    rps: u32,
}

impl Knobs {
    fn ready() -> Self {
        Knobs {
            pause: "5m",
            interval: "1m",
            failure_limit: 1,
            alert_for: "1m",
            window: "5m",
            threshold: 0.02,
            max_unavailable: "0",
            deadline: 600,
            nodes: 4,
            cpu: "500m",
            analysis_threshold: 0.02,
            rps: 500,
        }
    }
}

/// An Argo canary by replicas (10 replicas, setWeight 20 and 50 with timed pauses), a
/// background analysis of the service's error ratio, and an error-ratio alert that aborts.
fn scenario(dir: &Path, name: &str, k: &Knobs) -> PathBuf {
    let text = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: myapp
spec:
  replicas: 10
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: myapp}}
  template:
    metadata:
      labels: {{app: myapp}}
    spec:
      containers:
        - name: myapp
          image: myapp:2.0
          resources:
            requests: {{cpu: {cpu}, memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: 8080}}
            periodSeconds: 5
  strategy:
    canary:
      maxSurge: 25%
      maxUnavailable: {max_unavailable}
      analysis:
        templates:
          - templateName: error-ratio
      steps:
        - setWeight: 20
        - pause: {{duration: {pause}}}
        - setWeight: 50
        - pause: {{duration: {pause}}}
        - setWeight: 100
---
apiVersion: v1
kind: Service
metadata:
  name: myapp
spec:
  selector: {{app: myapp}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-ratio
spec:
  metrics:
    - name: error-ratio
      interval: {interval}
      failureLimit: {failure_limit}
      failureCondition: result[0] > {analysis_threshold}
      provider:
        prometheus:
          address: http://prometheus:9090
          query: sum(rate(http_requests_total{{status=~"5.."}}[1m])) / sum(rate(http_requests_total[1m]))
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: myapp
spec:
  groups:
    - name: myapp
      rules:
        - alert: MyappErrors
          expr: sum(rate(http_requests_total{{status=~"5.."}}[{window}])) / sum(rate(http_requests_total[{window}])) > {threshold}
          for: {alert_for}
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {{name: {name}}}
spec:
  seed: 7
  replications: 5
  duration: 1h
  release:
    workload: Rollout/myapp
    from: myapp:1.0
    at: 10m
  traffic:
    rps: {rps}
    users: 5000
  versions:
    myapp:1.0: {{errorRate: 0.001, latency: {{p50: 40ms, p99: 250ms}}}}
    myapp:2.0: {{errorRate: 0.001, latency: {{p50: 40ms, p99: 250ms}}}}
  pods:
    startup: {{kind: lognormal, median: 10s, p99: 30s}}
    capacityRps: 100
  cluster:
    nodes: {nodes}
    nodeCapacity: {{cpu: "4", memory: 16Gi}}
  slo: {{objective: 99.9%, window: 30d}}
  monitoring:
    onAlert:
      - {{alert: MyappErrors, action: rollback}}
"#,
        deadline = k.deadline,
        max_unavailable = k.max_unavailable,
        pause = k.pause,
        interval = k.interval,
        failure_limit = k.failure_limit,
        window = k.window,
        threshold = k.threshold,
        alert_for = k.alert_for,
        rps = k.rps,
        nodes = k.nodes,
        cpu = k.cpu,
        analysis_threshold = k.analysis_threshold,
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `check` on the file with the faults that keep it quick; returns (exit code, stdout,
/// check.json).
fn check(dir: &Path, file: &Path, extra: &[&str]) -> (i32, String, serde_json::Value) {
    let out = dir.join(format!("out-{}", file.file_stem().unwrap().to_string_lossy()));
    let output = rollsim()
        .arg("check")
        .arg(file)
        .args(["-n", "6", "--faults", "errors-1pct,errors-50pct,crash-at-start"])
        .args(["--require", "errors-50pct,crash-at-start"])
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let json = std::fs::read_to_string(out.join("check.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap(), stdout, json)
}

fn checks_failed(json: &serde_json::Value) -> Vec<String> {
    json["strategies"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_ready_release_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "ready", &Knobs::ready());
    let (code, stdout, json) = check(dir.path(), &file, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: no harmful setting found"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("PASS ") && l.contains("ready.yaml")), "{stdout}");
    assert_eq!(json["pass"], true);
    let s = &json["strategies"][0];
    // 10 replicas + maxSurge 25% (3) = 13 pods of 500m on 4 nodes of 4 CPUs (32 slots).
    assert_eq!(s["fit"]["planned_release_pods"], 13);
    assert_eq!(s["fit"]["pod_slots"], 32);
    assert_eq!(s["fit"]["fits"], true);
    let rows = s["coverage"].as_array().unwrap();
    assert_eq!(rows[0]["fault"], "healthy");
    assert_eq!(rows[0]["detected"], 0, "no false alarm in the control");
    let row = |name: &str| rows.iter().find(|r| r["fault"] == name).unwrap();
    assert_eq!(row("errors-50pct")["p_detect"], 1.0);
    // The background analysis sees 50% × 20% = 10% > 2% at its first measurement, long
    // before the alert's 5m window and 1m `for`.
    assert_eq!(row("errors-50pct")["detected_by"], serde_json::json!({"analysis:error-ratio": 6}));
    // 1% on a fifth of the pods is 0.2% of the service: under every threshold.
    assert_eq!(row("errors-1pct")["detected"], 0);
    assert_eq!(s["uncaught"], serde_json::json!(["errors-1pct"]));
    assert!(stdout.contains("nothing catches: errors-1pct"), "{stdout}");
}

#[test]
fn each_harmful_setting_is_found_with_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Knobs, &str, &str)> = vec![
        (
            "interval",
            Knobs { interval: "10m", ..Knobs::ready() },
            "analysis-interval-vs-pause",
            "interval 10m is longer than the pause of steps[1] (5m",
        ),
        (
            "for",
            Knobs { alert_for: "6m", ..Knobs::ready() },
            "alert-for-vs-step",
            "for: 6m is longer than the shortest canary step",
        ),
        (
            "limit",
            Knobs { failure_limit: 20, ..Knobs::ready() },
            "failure-limit-unreachable",
            "fails the run 20m after it starts at the earliest, but the canary is promoted after 10m",
        ),
        (
            "window",
            Knobs { window: "1h", ..Knobs::ready() },
            "window-vs-canary-life",
            "reads a 1h window but the canary lives 10m: the canary's errors fill at most 17% of it",
        ),
        (
            "unavailable",
            Knobs { max_unavailable: "50%", rps: 800, ..Knobs::ready() },
            "unavailable-vs-demand",
            "leaves 5 pod(s) × 100 rps = 500 rps of capacity, below the peak demand of 800 rps",
        ),
        (
            "deadline",
            Knobs { deadline: 30, ..Knobs::ready() },
            "deadline-vs-pod-start",
            "progress deadline 30s is shorter than the slowest pod start",
        ),
    ];
    for (name, knobs, id, text) in cases {
        let file = scenario(dir.path(), name, &knobs);
        let out = dir.path().join(name);
        let output = rollsim().arg("check").arg(&file).args(["-n", "0", "--out"]).arg(&out).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout}");
        assert!(stdout.contains(id) && stdout.contains(text), "{name}: {stdout}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("check.json")).unwrap()).unwrap();
        assert!(checks_failed(&json).contains(&id.to_string()), "{name}: {json}");
        // --allow-warnings reports them and passes.
        rollsim()
            .arg("check")
            .arg(&file)
            .args(["-n", "0", "--allow-warnings", "--out"])
            .arg(&out)
            .assert()
            .code(0);
    }
}

#[test]
fn a_cluster_too_small_for_the_worst_moment_fails() {
    let dir = tempfile::tempdir().unwrap();
    // 2 nodes of 4 CPUs hold 10 pods of 750m: the 10 replicas, not the 13 the canary's
    // maxSurge allows at once (the extra pods stay Pending, so no measured peak exceeds 10).
    let file = scenario(dir.path(), "small", &Knobs { nodes: 2, cpu: "750m", ..Knobs::ready() });
    let (code, stdout, json) = check(dir.path(), &file, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("DOES NOT FIT"), "{stdout}");
    assert!(stdout.contains("the worst moment needs 13 pods, the nodes hold 10"), "{stdout}");
    assert_eq!(json["strategies"][0]["fit"]["fits"], false);
    // 4 nodes: 32 slots. The rules allow 13 pods at once, but the replications measure 15
    // (terminating pods still hold their requests): 53.1% headroom; asking for 70% fails.
    let file = scenario(dir.path(), "tight", &Knobs::ready());
    let (code, stdout, _) = check(dir.path(), &file, &["--min-headroom", "70"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("release 13 planned / 15 measured"), "{stdout}");
    assert!(stdout.contains("headroom 53.1% < 70.0%"), "{stdout}");
}

#[test]
fn coverage_fails_on_a_missed_fault_and_on_false_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "missed", &Knobs::ready());
    let (code, stdout, _) = check(dir.path(), &file, &["--require", "errors-1pct"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("errors-1pct caught in 0% (< 90%)"), "{stdout}");
    // An analysis threshold under the old version's own 0.1% errors: healthy releases abort.
    let file = scenario(dir.path(), "noisy", &Knobs { analysis_threshold: 0.0005, ..Knobs::ready() });
    let (code, stdout, json) = check(dir.path(), &file, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("false alarms in 100% of healthy releases (> 5%)"), "{stdout}");
    assert_eq!(json["strategies"][0]["coverage"][0]["detected_by"]["analysis:error-ratio"], 6, "{json}");
}

#[test]
fn check_json_is_the_same_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "same", &Knobs::ready());
    let read = |threads: &str| {
        let out = dir.path().join(format!("t{threads}"));
        rollsim()
            .arg("check")
            .arg(&file)
            .args([
                "-n",
                "4",
                "--faults",
                "errors-50pct",
                "--require",
                "errors-50pct",
                "--threads",
                threads,
                "--out",
            ])
            .arg(&out)
            .assert()
            .code(0);
        std::fs::read(out.join("check.json")).unwrap()
    };
    assert_eq!(read("1"), read("2"));
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "input", &Knobs::ready());
    rollsim().arg("check").arg(&file).args(["--faults", "errors-7pct"]).assert().code(2).stderr(
        predicate::str::contains("--faults errors-7pct: no such fault")
            .and(predicate::str::contains("errors-5pct")),
    );
    rollsim().arg("check").arg(&file).args(["--min-detect", "1.5"]).assert().code(2);
    rollsim()
        .arg("check")
        .arg(&file)
        .args(["--faults", "errors-50pct", "--require", "crash-at-start"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not among --faults"));
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "apiVersion: rollsim.dev/v1alpha1\nkind: Simulation\nspec: {nope: 1}\n").unwrap();
    rollsim().arg("check").arg(&broken).assert().code(2).stderr(predicate::str::contains("broken.yaml:"));
}

/// An `--out` that cannot be written is an I/O error: exit 2 with the path, never 1 (which
/// means only that a check failed).
#[test]
fn an_unwritable_out_exits_2_not_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "ready", &Knobs::ready());
    // A regular file where the directory should be.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("check");
    let output = rollsim().arg("check").arg(&file).args(["-n", "0", "--out"]).arg(&out).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot create") && stderr.contains("blocker"), "{stderr}");
}
