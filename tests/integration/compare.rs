//! End-to-end tests of `rollsim compare`.

use crate::common::bad_and_good;
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn compare(files: &[&Path], out: &Path, extra: &[&str]) -> String {
    let output =
        rollsim().arg("compare").args(files).arg("--out").arg(out).args(extra).output().expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn compare_prints_the_strategies_side_by_side_and_writes_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    let out = dir.path().join("cmp");
    let table = compare(&[&bad, &good], &out, &["--seed", "99"]);
    assert!(table.starts_with("2 strategies, 6 replications each, seed 99"), "{table}");
    assert!(table.contains("bad (baseline)") && table.contains("good"), "{table}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("metric,unit,scenario,baseline,n,mean,"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 2 * 10);
    // The healthy version fails only its base rate: far fewer bad requests than the faulty
    // one, replication by replication.
    let good_bad = lines.iter().find(|l| l.starts_with("bad_requests,requests,good,")).expect("a row");
    let cells: Vec<&str> = good_bad.split(',').collect();
    assert_eq!(cells[10], "6", "{good_bad}");
    assert!(cells[11].parse::<f64>().unwrap() < 0.0, "{good_bad}");
    assert_eq!(cells[16], "true", "{good_bad}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["baseline"], "bad");
    assert_eq!(json["replications"], 6);
    assert_eq!(json["metrics"]["bad_requests"]["scenarios"]["good"]["n"], 6);
    // Both ran 6 replications with seed 99, exactly as `run` does them.
    for (file, name) in [(&good, "good"), (&bad, "bad")] {
        let alone = dir.path().join(format!("alone-{name}"));
        rollsim()
            .args(["run", "--seed", "99", "-n", "6", "--format", "csv", "--out"])
            .arg(&alone)
            .arg(file)
            .assert()
            .success();
        let a = std::fs::read(alone.join("runs.csv")).unwrap();
        let c = std::fs::read(out.join(name).join("runs.csv")).unwrap();
        assert_eq!(a, c, "{name}: compare's runs.csv is run's");
    }
}

#[test]
fn compare_gives_the_same_bytes_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    let (one, three) = (dir.path().join("one"), dir.path().join("three"));
    let a = compare(&[&bad, &good], &one, &["--threads", "1", "--format", "csv"]);
    let b = compare(&[&bad, &good], &three, &["--threads", "3", "--format", "csv"]);
    assert_eq!(a, b);
    for file in ["compare.csv", "compare.json"] {
        assert_eq!(
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(three.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn a_strategy_against_itself_differs_in_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, _) = bad_and_good(dir.path());
    let out = dir.path().join("cmp");
    let table = compare(&[&bad, &bad], &out, &["--by", "bad_requests"]);
    assert!(!table.lines().any(|l| l.ends_with('*')), "{table}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    for line in csv.lines().filter(|l| l.contains(",bad-2,")) {
        let cells: Vec<&str> = line.split(',').collect();
        assert!(cells[11].is_empty() || cells[11] == "0.0", "{line}");
        assert!(cells[16].is_empty() || cells[16] == "false", "{line}");
    }
}

#[test]
fn compare_refuses_an_unknown_metric_and_a_single_file() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    rollsim()
        .arg("compare")
        .args([&bad, &good])
        .args(["--by", "latency"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--by latency").and(predicate::str::contains("bad_requests")));
    rollsim().arg("compare").arg(&bad).assert().code(2);
}

fn repo_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

#[test]
fn one_file_compares_the_variants_it_defines_each_exactly_as_the_file_with_its_values_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_file("scenarios/rolling-variants.yaml");
    let out = dir.path().join("cmp");
    let table = compare(&[&file], &out, &["-n", "4", "--seed", "7"]);
    assert!(table.starts_with("4 strategies, 4 replications each, seed 7"), "{table}");
    let header = table.lines().nth(1).unwrap();
    for label in ["surge-25 (baseline)", "surge-100", "one-at-a-time", "recreate"] {
        assert!(header.contains(label), "{header}");
    }
    // A variant's replications are the file's with the variant's values set, row for row.
    let run = dir.path().join("run");
    rollsim()
        .arg("run")
        .arg(&file)
        .args(["-n", "4", "--seed", "7", "--quiet", "--out"])
        .arg(&run)
        .args(["--set", "Deployment/myapp.spec.strategy.rollingUpdate.maxSurge=100%"])
        .args(["--set", "Deployment/myapp.spec.strategy.rollingUpdate.maxUnavailable=0"])
        .assert()
        .success();
    let from_compare = std::fs::read_to_string(out.join("surge-100").join("runs.csv")).unwrap();
    let from_run = std::fs::read_to_string(run.join("runs.csv")).unwrap();
    assert_eq!(from_compare, from_run);
    // …and not the same as another variant's: the values took effect.
    let recreate = std::fs::read_to_string(out.join("recreate").join("runs.csv")).unwrap();
    assert_ne!(recreate, from_run);
}

#[test]
fn one_file_without_variants_is_refused_with_a_pointer_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, _) = bad_and_good(dir.path());
    rollsim().arg("compare").arg(&bad).assert().code(2).stderr(
        predicate::str::contains("defines one strategy only").and(predicate::str::contains("spec.variants")),
    );
}

#[test]
fn a_bad_variant_is_reported_by_validate_and_compare_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_file("scenarios/rolling-variants.yaml"))
        .unwrap()
        .replace("maxUnavailable: 0\n", "maxUnavailable: -1\n");
    let file = dir.path().join("v.yaml");
    std::fs::write(&file, text).unwrap();
    rollsim().arg("validate").arg(&file).assert().code(2).stderr(
        predicate::str::contains("in variant `surge-100`")
            .and(predicate::str::contains("--> spec.variants:1:")),
    );
    let out = dir.path().join("cmp");
    rollsim()
        .arg("compare")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("in variant `surge-100`"));
    assert!(!out.exists(), "nothing ran");
}
