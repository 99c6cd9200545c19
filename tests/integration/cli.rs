//! End-to-end tests of the `rollsim` binary.

use crate::common::{Params, yaml};
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn small() -> String {
    yaml(&Params { replications: 6, new_faults: "[{kind: errors, rate: 0.05}]".into(), ..Params::default() })
}

#[test]
fn no_arguments_runs_the_built_in_example() {
    let dir = tempfile::tempdir().unwrap();
    rollsim()
        .current_dir(dir.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("rolling-bad-release")
                .and(predicate::str::contains("time_to_rollback_s")),
        )
        .stderr(predicate::str::contains("built-in example"));
    let out = dir.path().join("output/rolling-bad-release");
    for file in ["runs.csv", "summary.json", "timeline.csv"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
}

#[test]
fn run_writes_runs_summary_and_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", &small());
    let out = dir.path().join("out");
    rollsim().arg("run").arg(&file).arg("--out").arg(&out).assert().success();
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header = lines.next().unwrap();
    for column in [
        "replication",
        "seed",
        "outcome",
        "detected_at_s",
        "mitigated_at_s",
        "rolled_back_at_s",
        "completed_at_s",
        "time_to_rollback_s",
        "requests",
        "failed_requests",
        "new_version_requests",
        "bad_requests",
        "excess_failed_requests",
        "users_affected",
        "error_budget_pct",
        "peak_pods",
        "extra_pod_seconds",
        "overhead_pct",
        "min_ready_pods",
        "dropped_requests",
    ] {
        assert!(header.split(',').any(|h| h == column), "runs.csv lacks {column}: {header}");
    }
    assert_eq!(lines.count(), 6);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["replications"], 6);
    let requests = &summary["metrics"]["requests"];
    assert!(requests["ci95"][0].as_f64().unwrap() <= requests["mean"].as_f64().unwrap());
    assert_eq!(requests["n"], 6);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(
        timeline.lines().next().unwrap().starts_with("time_s,version,pods_desired,pods_ready,traffic_share")
    );
    assert!(timeline.lines().count() > 100);
}

#[test]
fn same_seed_same_bytes_at_any_thread_count_and_seed_changes_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", &small());
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        rollsim().arg("run").arg(&file).arg("--out").arg(&out).args(extra).assert().success();
        std::fs::read(out.join("runs.csv")).unwrap()
    };
    let a = run("a", &["--threads", "1"]);
    let b = run("b", &["--threads", "2"]);
    let c = run("c", &["--seed", "99"]);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn set_overrides_a_simulation_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", &small());
    let out = dir.path().join("o");
    rollsim()
        .args(["run", "--format", "json", "--replications", "3", "--set", "spec.traffic.rps=20"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // 20 requests/s for 30 minutes: 36,000 expected.
    let mean = summary["metrics"]["requests"]["mean"].as_f64().unwrap();
    assert!((mean - 36_000.0).abs() < 1_000.0, "{mean}");
    assert_eq!(summary["replications"], 3);
}

#[test]
fn trace_reads_like_kubernetes_events() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rolling-never-ready.yaml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "never-ready.yaml", &text);
    let out = rollsim().arg("trace").arg(&file).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let scaled = regex_like(&stdout, "Scaled up replica set myapp-", " from 0 to 3");
    assert!(scaled, "{stdout}");
    assert!(stdout.contains("from 10 to 8"));
    assert!(stdout.contains("from 3 to 5"));
    assert!(stdout.contains("ProgressDeadlineExceeded"));
    assert!(!stdout.contains("from 5 to 7"), "the rollout must stall at 5 new pods");
    let csv = rollsim().args(["trace", "--format", "csv"]).arg(&file).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("time_s,object,reason,message"));
    assert!(csv.contains(",Deployment/myapp,ScalingReplicaSet,Scaled up replica set myapp-"));
}

fn regex_like(text: &str, prefix: &str, suffix: &str) -> bool {
    text.lines().any(|l| l.find(prefix).is_some_and(|i| l[i..].contains(suffix)))
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            rollsim().arg("validate").arg(&path).assert().success().stdout(predicate::str::contains("ok"));
            count += 1;
        }
    }
    assert!(count >= 4);
}

/// Each kind of bad input: exit code 2, the file, line and column, and no panic.
#[test]
fn bad_input_names_file_line_and_column() {
    let good = small();
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed YAML", good.replacen("  replicas: 10", "  replicas: [10", 1), "bad.yaml:"),
        ("negative replicas", good.replacen("  replicas: 10", "  replicas: -3", 1), "bad.yaml:5:13"),
        ("percentage above 100", good.replacen("objective: 99.9%", "objective: 199.9%", 1), "bad.yaml:"),
        ("unknown kind", good.replacen("kind: Service", "kind: Ingress", 1), "bad.yaml:"),
        ("bad duration", good.replacen("duration: 30m", "duration: 30 minutes", 1), "bad.yaml:"),
        ("missing field", good.replacen("from: \"web:1\", ", "", 1), "bad.yaml:"),
        (
            "no Service selects the pods",
            good.replacen("  selector: {app: web}", "  selector: {app: other}", 1),
            "bad.yaml:36:23",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, text, location) in cases {
        assert_ne!(text, good, "{what}: the fixture did not change");
        let file = write(dir.path(), "bad.yaml", &text);
        for command in ["validate", "run"] {
            let out = rollsim().arg(command).arg(&file).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} ({command}): {stderr}");
            assert!(stderr.contains(location), "{what} ({command}) lacks {location}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            let line_col = stderr.split("bad.yaml:").nth(1).unwrap_or("");
            assert!(
                line_col.chars().next().is_some_and(|c| c.is_ascii_digit()),
                "{what}: no line number: {stderr}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_bad_input() {
    rollsim()
        .args(["run", "no-such-file.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-file.yaml"));
}
