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
        ("misspelt kind", good.replacen("kind: Service", "kind: Servcie", 1), "bad.yaml:"),
        ("bad duration", good.replacen("duration: 30m", "duration: 30 minutes", 1), "bad.yaml:"),
        ("missing field", good.replacen("from: \"web:1\", ", "", 1), "bad.yaml:"),
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

/// Two scenario files: `bad` (the faulty version of [`small`]) and `good` (no fault).
fn two_scenarios(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let bad = small().replacen("metadata: {name: generated}", "metadata: {name: bad}", 1);
    let good = yaml(&Params { replications: 4, ..Params::default() }).replacen(
        "metadata: {name: generated}",
        "metadata: {name: good}",
        1,
    );
    assert!(bad.contains("name: bad") && good.contains("name: good"));
    (write(dir, "bad.yaml", &bad), write(dir, "good.yaml", &good))
}

#[test]
fn several_files_print_one_table_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = two_scenarios(dir.path());
    let out = dir.path().join("results");
    let output = rollsim()
        .env("COLUMNS", "120")
        .arg("run")
        .arg(&bad)
        .arg(&good)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("rollsim: 2 scenarios side by side\n"), "{stdout}");
    // One table: one header row, naming both scenarios in the order given.
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("metric ")).collect();
    assert_eq!(headers.len(), 1, "{stdout}");
    let header: Vec<&str> = headers[0].split_whitespace().collect();
    assert_eq!(header, ["metric", "unit", "bad", "n", "good", "n"], "{stdout}");
    let row = |name: &str| -> Vec<String> {
        let line =
            stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name}:\n{stdout}"));
        line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
    };
    assert_eq!(row("replications"), ["replications", "6", "4"]);
    assert_eq!(row("requests")[3], "6", "{stdout}");
    assert_eq!(row("requests")[5], "4", "{stdout}");
    assert!(row("requests")[2].contains(" ± "), "{stdout}");
    assert!(row("completed ")[2].contains('[') && row("completed ")[2].contains('%'), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 120));
    // Each scenario's files in its own directory under --out.
    for name in ["bad", "good"] {
        for file in ["runs.csv", "summary.json", "timeline.csv"] {
            assert!(out.join(name).join(file).is_file(), "{name}/{file} missing");
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("good/summary.json")).unwrap()).unwrap();
    assert_eq!((summary["scenario"].as_str(), summary["replications"].as_u64()), (Some("good"), Some(4)));
    // Without --out, under output/<name>/; the flags apply to every file.
    rollsim()
        .current_dir(dir.path())
        .args(["run", "bad.yaml", "good.yaml", "--replications", "2", "--seed", "3", "--threads", "1"])
        .args(["--set", "spec.traffic.rps=50"])
        .assert()
        .success();
    for name in ["bad", "good"] {
        let runs = std::fs::read_to_string(dir.path().join("output").join(name).join("runs.csv")).unwrap();
        assert_eq!(runs.lines().count(), 3, "{name}: header and 2 replications");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("output").join(name).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(summary["seed"], 3);
    }
}

#[test]
fn several_files_as_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = two_scenarios(dir.path());
    let json = rollsim()
        .args(["run", "--format", "json"])
        .arg(&bad)
        .arg(&good)
        .arg("--out")
        .arg(dir.path().join("j"))
        .output()
        .unwrap();
    assert!(json.status.success());
    let stdout = String::from_utf8(json.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2);
    assert!(stdout.find("\"bad\"").unwrap() < stdout.find("\"good\"").unwrap(), "in the order given");
    for (name, n) in [("bad", 6), ("good", 4)] {
        // Each value is that scenario's summary.json.
        let file: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("j").join(name).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v[name], file, "{name}");
        assert_eq!(v[name]["replications"], n);
        assert_eq!(v[name]["metrics"]["requests"]["n"], n);
    }

    let csv = rollsim()
        .args(["run", "--format", "csv"])
        .arg(&bad)
        .arg(&good)
        .arg("--out")
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert!(csv.status.success());
    let stdout = String::from_utf8(csv.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("scenario,metric,unit,n,mean,ci95_low,ci95_high,median,p95"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 9), "{stdout}");
    for (name, n) in [("bad", "6"), ("good", "4")] {
        let mine: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == name).collect();
        assert_eq!(mine.len(), 4 + 20, "{name}: 4 outcomes and 20 metrics");
        assert_eq!(mine[0][1..4], ["outcome.completed", "share", n]);
        let requests = mine.iter().find(|r| r[1] == "requests").unwrap();
        assert_eq!(requests[2..4], ["requests", n]);
        let (mean, low, high): (f64, f64, f64) =
            (requests[4].parse().unwrap(), requests[5].parse().unwrap(), requests[6].parse().unwrap());
        assert!(low <= mean && mean <= high, "{requests:?}");
    }
}

#[test]
fn scenarios_with_the_same_name_get_distinct_columns_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", &small());
    let out = dir.path().join("o");
    let output = rollsim()
        .env("COLUMNS", "120")
        .arg("run")
        .arg(&file)
        .arg(&file)
        .args(["--replications", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let header = stdout.lines().find(|l| l.starts_with("metric ")).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["metric", "unit", "generated", "n", "generated-2", "n"]
    );
    assert!(stderr.contains("generated-2"), "{stderr}");
    for name in ["generated", "generated-2"] {
        assert!(out.join(name).join("runs.csv").is_file(), "{name}");
    }
    // Same scenario, same seed: the same replications.
    assert_eq!(
        std::fs::read(out.join("generated/runs.csv")).unwrap(),
        std::fs::read(out.join("generated-2/runs.csv")).unwrap()
    );
}

#[test]
fn one_file_prints_the_single_summary_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", &small());
    let out = dir.path().join("o");
    let output =
        rollsim().env("COLUMNS", "100").arg("run").arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("generated: 6 replications, seed 7\n\noutcome "), "{stdout}");
    assert!(!stdout.contains("side by side"));
    let header = stdout.lines().find(|l| l.starts_with("metric ")).unwrap();
    assert_eq!(header.split("  ").filter(|c| !c.trim().is_empty()).count(), 6, "{header}");
    // --out names the directory itself, not a parent.
    assert!(out.join("runs.csv").is_file());
    assert!(!out.join("generated").exists());
    // The JSON is the summary itself, not keyed by scenario.
    let json =
        rollsim().args(["run", "--format", "json"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["scenario"], "generated");
    assert_eq!(
        v,
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(out.join("summary.json")).unwrap()
        )
        .unwrap()
    );
    let csv = rollsim().args(["run", "--format", "csv"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("metric,unit,n,mean,std_dev,"), "{csv}");
}

#[test]
fn a_bad_file_among_several_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, _) = two_scenarios(dir.path());
    let broken = write(dir.path(), "broken.yaml", &small().replacen("  replicas: 10", "  replicas: -3", 1));
    let output = rollsim()
        .current_dir(dir.path())
        .arg("run")
        .arg(&bad)
        .arg(&broken)
        .arg("missing.yaml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("broken.yaml:5:13") && stderr.contains("missing.yaml"), "{stderr}");
    assert!(!dir.path().join("output").exists(), "nothing ran");
    // A bad --set is reported once, not once per file.
    let output = rollsim().arg("run").arg(&bad).arg(&broken).args(["--set", "bogus"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.matches("--set bogus").count(), 1, "{stderr}");
}

#[test]
fn validate_notes_what_is_not_simulated() {
    let out =
        rollsim().args(["validate", "scenarios/docs/istio-bookinfo-reviews-90-10.yaml"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("by VirtualService/reviews (Istio split by hand: subset v1 → v2"), "{stdout}");
    assert!(
        stdout.contains("note: Deployment/reviews-v3: not part of the release, not simulated"),
        "{stdout}"
    );
    assert!(stdout.contains("note: ServiceAccount/bookinfo-reviews is not simulated"), "{stdout}");
}

#[test]
fn an_out_that_is_a_file_is_named_in_the_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results");
    std::fs::write(&file, "not a directory").unwrap();
    let out = rollsim()
        .args(["run", "scenarios/rolling-healthy.yaml", "--replications", "1", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a file in the way is the user's to fix");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("cannot create the output directory {}", file.display())), "{stderr}");
    assert!(stderr.contains("give --out a directory"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

/// Issue 16: ~150 nested parentheses overflowed the stack and a long `1+1+…` chain hung, in
/// `validate`, `run` and `query`. Both are refused at the expression with exit 2, at once.
#[test]
fn huge_promql_is_refused_at_its_position_not_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/monitoring-high-error-rate.yaml"),
    )
    .unwrap();
    let original = r#"expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.1"#;
    assert!(base.contains(original));
    let good = write(dir.path(), "good.yaml", &base);
    rollsim()
        .args([
            "query",
            good.to_str().unwrap(),
            "--at",
            "1m",
            &format!("{}1{}", "(".repeat(150), ")".repeat(150)),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nests more than 64 brackets deep"));
    let deep = format!("expr: '{}up{}'", "(".repeat(150), ")".repeat(150));
    let long = format!("expr: '{}'", vec!["1"; 20_000].join("+"));
    for (name, expr, message, column) in [
        ("deep.yaml", deep, "nests more than 64 brackets deep", 18 + 64),
        ("long.yaml", long, "has more than 256 operators", 18 + 2 * 257 - 1),
    ] {
        let file = write(dir.path(), name, &base.replace(original, &expr));
        let started = std::time::Instant::now();
        for extra in [vec!["validate"], vec!["run", "--out", dir.path().join("out").to_str().unwrap()]] {
            rollsim().args(&extra[..1]).arg(&file).args(&extra[1..]).assert().code(2).stderr(
                predicate::str::contains(message)
                    .and(predicate::str::contains(format!("{name}:84:{column}"))),
            );
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }
}
