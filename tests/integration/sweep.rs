//! End-to-end tests of `rollsim sweep` (and of `--set` on a manifest, which it shares): the
//! shape of `sweep.csv`, each grid point equal to a plain `rollsim run` of that point, the
//! same bytes at any thread count, and bad grids as exit code 2.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

/// A shipped scenario whose PrometheusRule `for` decides when the alert fires.
fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/monitoring-fast-rule.yaml")
}

const RULE_FOR: &str = "PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for";

/// Few replications of a short run (the release is at 10m): a few seconds per sweep.
const SHORT: [&str; 4] = ["-n", "3", "--set", "spec.duration=20m"];

/// Runs a sweep over rps × the rule's `for` into `out`; returns stdout.
fn sweep(out: &Path, threads: &str, format: &str) -> String {
    let output = rollsim()
        .arg("sweep")
        .arg(scenario())
        .args(SHORT)
        .args(["--grid", "spec.traffic.rps=100,200", "--grid", &format!("{RULE_FOR}=0s,2m")])
        .args(["--threads", threads, "--format", format])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("seed 42 at every point"), "{stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn sweep_csv_has_a_row_per_point_and_metric_equal_to_a_plain_run_of_the_point() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = sweep(&dir.path().join("a"), "2", "csv");
    let csv = std::fs::read_to_string(dir.path().join("a/sweep.csv")).unwrap();
    assert_eq!(stdout, csv, "--format csv prints sweep.csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "spec.traffic.rps,{RULE_FOR},metric,unit,n,mean,std_dev,std_error,ci95_low,ci95_high,median,p95,min,max"
        )
    );
    let rows: Vec<&str> = lines.collect();
    // 4 outcomes and 20 metrics per point; the first axis slowest.
    assert_eq!(rows.len(), 4 * 24);
    let points = [("100", "0s"), ("100", "2m"), ("200", "0s"), ("200", "2m")];
    for (chunk, (rps, hold)) in rows.chunks(24).zip(points) {
        let prefix = format!("{rps},{hold},");
        assert!(chunk.iter().all(|r| r.starts_with(&prefix)), "{prefix}: {chunk:?}");
        let run = rollsim()
            .arg("run")
            .arg(scenario())
            .args(SHORT)
            .args(["--set", &format!("spec.traffic.rps={rps}"), "--set", &format!("{RULE_FOR}={}", hold)])
            .args(["--format", "csv", "--out"])
            .arg(dir.path().join(format!("run-{rps}-{}", hold)))
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let run = String::from_utf8(run.stdout).unwrap();
        let run_rows: Vec<&str> = run.lines().skip(1).collect();
        let sweep_rows: Vec<&str> = chunk.iter().map(|r| r.strip_prefix(&prefix).unwrap()).collect();
        assert_eq!(sweep_rows, run_rows, "grid point {prefix}");
    }
    // The rule's `for` really is applied: the alert fires later with `for: 2m`.
    let detected = |rps: &str, hold: &str| -> f64 {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{rps},{},detected_at_s,", hold)))
            .unwrap_or_else(|| panic!("no detected_at_s row for {rps}, {}", hold));
        row.split(',').nth(5).unwrap().parse().unwrap()
    };
    for rps in ["100", "200"] {
        assert!(detected(rps, "2m") >= detected(rps, "0s") + 100.0, "{rps}");
    }
}

#[test]
fn sweep_gives_the_same_bytes_at_any_thread_count_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = sweep(&dir.path().join("one"), "1", "table");
    let json = sweep(&dir.path().join("two"), "2", "json");
    let one = std::fs::read(dir.path().join("one/sweep.csv")).unwrap();
    let two = std::fs::read(dir.path().join("two/sweep.csv")).unwrap();
    assert_eq!(one, two);
    assert!(table.starts_with("monitoring-fast-rule: 4 grid points × 3 replications, seed 42"), "{table}");
    assert!(table.contains(&format!("for = {RULE_FOR}")), "{table}");
    let header = table.lines().find(|l| l.starts_with("rps")).expect("a header row");
    assert!(header.contains("detected_at_s"), "{header}");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("100 ") || l.starts_with("200 ")).count(),
        4,
        "{table}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["axes"][1], RULE_FOR);
    assert_eq!(v["points"][3]["values"], serde_json::json!(["200", "2m"]));
    assert_eq!(v["points"][3]["summary"]["replications"], 3);
}

#[test]
fn the_default_output_directory_is_named_after_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    rollsim()
        .current_dir(dir.path())
        .arg("sweep")
        .arg(scenario())
        .args(["-n", "2", "--set", "spec.duration=12m", "--grid", "spec.traffic.rps=50"])
        .assert()
        .success();
    let csv =
        std::fs::read_to_string(dir.path().join("output/monitoring-fast-rule-sweep/sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 24);
}

/// Bad grids, values and paths: exit code 2, a message pointing at the argument, nothing
/// run and nothing written.
#[test]
fn bad_grids_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--grid", "spec.traffic.rps=100,abc"], &["--> --grid:1:22", "spec.traffic.rps=100,abc", "^^^"]),
        (&["--grid", "spec.traffic.rps"], &["error: --grid spec.traffic.rps: expected PATH=V1,V2"]),
        (&["--grid", "spec.traffic.rps=100,,200"], &["value 2 is empty"]),
        (&["--grid", "spec.traffic.rps=1", "--grid", "spec.traffic.rps=2"], &["already an axis"]),
        (&["--grid", "spec.trafic.rps=1,2"], &["--> --grid:1:6", "did you mean `traffic`?"]),
        (
            &["--grid", "PrometheusRule/myapp.spec.groups[0].rules[0].for=1m,2m"],
            &["no document `PrometheusRule/myapp`", "PrometheusRule/myapp-alerts"],
        ),
        (&["--grid", &format!("{RULE_FOR}=1m,2 minutes")], &["--> --grid:1:60"]),
    ];
    for (args, expected) in cases {
        let out = dir.path().join("out");
        let output =
            rollsim().arg("sweep").arg(scenario()).args(args).arg("--out").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: lacks {e:?}:\n{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: wrote {}", out.display());
    }
    // A missing file is bad input too, said once.
    let output = rollsim().args(["sweep", "no-such-file.yaml", "--grid", "spec.seed=1,2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("no-such-file.yaml").count(), 1, "{stderr}");
    // --grid is required.
    let output = rollsim().arg("sweep").arg(scenario()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// A value the file lacks can come from the grid: each point needs only to load with its own
/// values.
#[test]
fn the_grid_may_give_what_the_file_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario()).unwrap();
    assert_eq!(text.matches("    rps: 500\n").count(), 1);
    let file = dir.path().join("no-rps.yaml");
    std::fs::write(&file, text.replace("    rps: 500\n", "    users: 10000\n")).unwrap();
    let no_grid = rollsim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(no_grid.status.code(), Some(2));
    let out = dir.path().join("out");
    rollsim()
        .arg("sweep")
        .arg(&file)
        .args(["-n", "2", "--set", "spec.duration=12m", "--grid", "spec.traffic.rps=50,60", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(out.join("sweep.csv")).unwrap().lines().count(), 1 + 2 * 24);
}

/// A cheap scenario for the sharded sweeps: a faulty rolling update over 20 minutes.
fn shard_scenario(dir: &Path) -> PathBuf {
    let text = crate::common::yaml(&crate::common::Params {
        replications: 3,
        duration: "20m".into(),
        new_faults: "[{kind: errors, rate: 0.05}]".into(),
        ..crate::common::Params::default()
    });
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `rollsim sweep` of `file` over a grid with uneven replications per point (1, 4, 1, 4:
/// a point's replications may straddle shards), with `extra` arguments; returns stdout.
fn shard_sweep(file: &Path, out: &Path, extra: &[&str]) -> Vec<u8> {
    let output = rollsim()
        .arg("sweep")
        .arg(file)
        .args(["--grid", "spec.traffic.rps=100,150", "--grid", "spec.replications=1,4"])
        .args(["--format", "csv", "--threads", "2"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn merge_output(dirs: &[PathBuf], out: &Path) -> std::process::Output {
    rollsim().arg("merge").args(dirs).arg("--out").arg(out).args(["--format", "csv"]).output().unwrap()
}

#[test]
fn merged_sweep_shards_are_byte_identical_to_the_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let file = shard_scenario(dir.path());
    let whole = dir.path().join("whole");
    let stdout = shard_sweep(&file, &whole, &[]);
    let expected = std::fs::read(whole.join("sweep.csv")).unwrap();
    assert_eq!(stdout, expected);
    // The unsharded sweep leaves sweep.csv only (its rows went through a scratch file).
    let names: Vec<String> =
        std::fs::read_dir(&whole).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["sweep.csv"]);
    // 10 replications in all: 1, 2, 3, 4 shards, and more shards than points or replications.
    for count in [1, 2, 3, 4, 13] {
        let mut shards = Vec::new();
        for index in 0..count {
            let out = dir.path().join(format!("n{count}/shard-{index}"));
            let printed = shard_sweep(&file, &out, &["--shard", &format!("{index}/{count}")]);
            assert!(printed.is_empty(), "a shard prints no results");
            assert!(out.join("sweep-runs.csv").is_file() && !out.join("sweep.csv").exists());
            shards.push(out);
        }
        shards.reverse(); // any order
        let merged = dir.path().join(format!("n{count}/merged"));
        let output = merge_output(&shards, &merged);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(std::fs::read(merged.join("sweep.csv")).unwrap() == expected, "{count} shards differ");
        assert_eq!(output.stdout, expected);
    }
    // Shard 1/3 holds items 3..6: point 1 (4 replications) from its replication 2 on, then
    // point 2's only one.
    let rows = std::fs::read_to_string(dir.path().join("n3/shard-1/sweep-runs.csv")).unwrap();
    let ids: Vec<String> =
        rows.lines().skip(1).map(|l| l.split(',').take(2).collect::<Vec<_>>().join(":")).collect();
    assert_eq!(ids, ["1:2", "1:3", "2:0"].map(String::from));
}

#[test]
fn sweep_merge_refuses_missing_duplicate_foreign_and_unfinished_shards() {
    let dir = tempfile::tempdir().unwrap();
    let file = shard_scenario(dir.path());
    let shard = |name: &str, spec: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["--shard", spec];
        args.extend_from_slice(extra);
        shard_sweep(&file, &out, &args);
        out
    };
    let a0 = shard("a0", "0/3", &[]);
    let a1 = shard("a1", "1/3", &[]);
    let a2 = shard("a2", "2/3", &[]);
    let other_seed = shard("b2", "2/3", &["--seed", "99"]);
    let other_count = shard("c1", "1/2", &[]);
    let run_shard = dir.path().join("run-shard");
    rollsim().arg("run").arg(&file).args(["--shard", "1/3", "--out"]).arg(&run_shard).assert().success();
    let out = dir.path().join("merged");
    let fails = |dirs: &[PathBuf], out: &Path, expected: &str| {
        let output = merge_output(dirs, out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    fails(&[a0.clone(), a1.clone()], &out, "missing shard 2/3");
    fails(&[a0.clone(), a1.clone(), a1.clone(), a2.clone()], &out, "shard 1/3 is given twice");
    fails(&[a0.clone(), a1.clone(), other_seed], &out, "shards of different sweeps (seed: 7 and 99)");
    fails(&[a0.clone(), other_count], &out, "shards of one sweep share N");
    fails(&[a0.clone(), run_shard], &out, "holds a shard of `rollsim run`, not of `rollsim sweep`");
    fails(&[a0.clone(), dir.path().to_path_buf()], &out, "is not a shard directory");
    fails(&[a0.clone(), a1.clone(), a2.clone()], &a1, "is one of the shards");
    std::fs::rename(a2.join("sweep-runs.csv"), a2.join("sweep-runs.csv.partial")).unwrap();
    fails(&[a0.clone(), a1.clone(), a2.clone()], &out, "sweep shard 2/3 is unfinished");
    // A shard whose rows were tampered with: one row dropped.
    std::fs::remove_file(a2.join("sweep-runs.csv.partial")).unwrap();
    shard("a2", "2/3", &[]);
    let text = std::fs::read_to_string(a2.join("sweep-runs.csv")).unwrap();
    let cut: Vec<&str> = text.lines().take(text.lines().count() - 1).collect();
    std::fs::write(a2.join("sweep-runs.csv"), cut.join("\n") + "\n").unwrap();
    fails(&[a0, a1, a2], &out, "rows, but the shard has 4 items");
    assert!(!out.exists());
}
