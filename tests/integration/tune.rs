//! End-to-end tests of `rollsim tune`.

use assert_cmd::Command;
use predicates::prelude::*;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

const SCENARIO: &str = "scenarios/monitoring-high-error-rate.yaml";

#[test]
fn tune_judges_each_setting_against_the_fault_and_a_healthy_control() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let output = rollsim()
        .args(["tune", SCENARIO, "--rule", "HighErrorRate", "--threshold", "0.02,0.1", "--for", "0s,5m"])
        .args(["-n", "4", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("HighErrorRate: 4 settings, 4 faulty and 4 healthy releases each"), "{text}");
    assert!(
        text.contains("recommended for at most 5% false alarms per release: threshold 0.02, for 0s"),
        "{text}"
    );
    let csv = std::fs::read_to_string(out.join("tune.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][..3], ["threshold", "for", "detect"]);
    assert_eq!(rows.len(), 5);
    // A `for` of 5m detects exactly 300 s after `for: 0s` (the same draws at every setting),
    // and a higher threshold later still.
    let ttd = |t: &str, f: &str| -> f64 {
        let row = rows.iter().find(|r| r[0] == t && r[1] == f).expect("a row");
        row[10].parse().unwrap()
    };
    assert_eq!(ttd("0.02", "5m") - ttd("0.02", "0s"), 300.0);
    assert!(ttd("0.1", "0s") > ttd("0.02", "0s"));
}

#[test]
fn tune_names_what_is_wrong() {
    rollsim()
        .args(["tune", SCENARIO, "--rule", "NoSuchAlert", "--threshold", "0.1"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--rule NoSuchAlert").and(predicate::str::contains("HighErrorRate")),
        );
    rollsim()
        .args(["tune", SCENARIO, "--rule", "HighErrorRate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("give at least one of --threshold, --for, --window"));
}

const ANALYSIS: &str = "scenarios/argo-analysis-success-rate.yaml";
const KAYENTA: &str = "scenarios/argo-kayenta-canary.yaml";

/// The analysis scenario, shortened to what the analysis step needs.
fn analysis_tune(out: &std::path::Path) -> Command {
    let mut c = rollsim();
    c.args(["tune", ANALYSIS, "--analysis", "success-rate", "--set", "spec.duration=30m", "-n", "3"])
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn tune_judges_an_analysis_success_threshold_and_failure_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let output = analysis_tune(&out)
        .args(["--success-threshold", "0.5,0.95,0.9999", "--failure-limit", "0,3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(
            "success-rate (AnalysisTemplate/success-rate): 6 settings, 3 faulty and 3 healthy releases each"
        ),
        "{text}"
    );
    let csv = std::fs::read_to_string(out.join("tune.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][..3], ["success_threshold", "failure_limit", "detect"]);
    assert_eq!(rows.len(), 7);
    let row = |t: &str, l: &str| rows.iter().find(|r| r[0] == t && r[1] == l).expect("a row").clone();
    // 10% errors: a canary at 0.90 passes `>= 0.5` and fails `>= 0.95`; the healthy canary
    // (0.1% errors) passes 0.95 and fails 0.9999.
    for l in ["0", "3"] {
        assert_eq!((row("0.5", l)[2], row("0.5", l)[5]), ("0.0", "0.0"));
        assert_eq!((row("0.95", l)[2], row("0.95", l)[5]), ("1.0", "0.0"));
        assert_eq!(row("0.9999", l)[5], "1.0");
    }
    // Tolerating 3 failed measurements takes three more one-minute measurements.
    let ttd = |t: &str, l: &str| -> f64 { row(t, l)[10].parse().unwrap() };
    let later = ttd("0.95", "3") - ttd("0.95", "0");
    assert!((170.0..=190.0).contains(&later), "{later}");
    assert!(
        text.contains(
            "recommended for at most 5% false alarms per release: success_threshold 0.95, failure_limit 0"
        ),
        "{text}"
    );
}

#[test]
fn tune_refuses_an_analysis_it_cannot_tune() {
    let dir = tempfile::tempdir().unwrap();
    // A condition with two numbers outside `[…]`: no single threshold.
    let text = std::fs::read_to_string(ANALYSIS).unwrap().replace(
        "successCondition: result[0] >= 0.95",
        "successCondition: len(result) == 0 || result[0] >= 0.95",
    );
    let file = dir.path().join("two-numbers.yaml");
    std::fs::write(&file, text).unwrap();
    let output = rollsim()
        .args(["tune"])
        .arg(&file)
        .args(["--analysis", "success-rate", "--success-threshold", "0.9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(&format!("{}:104:25", file.display())), "{stderr}");
    assert!(stderr.contains("has no single number to replace: it holds 2 numbers (0, 0.95)"), "{stderr}");
    // A Kayenta metric has no condition.
    rollsim()
        .args(["tune", KAYENTA, "--analysis", "kayenta-errors", "--success-threshold", "0.9"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(format!("{KAYENTA}:102:9"))
                .and(predicate::str::contains("judged by Kayenta")),
        );
    rollsim()
        .args(["tune", ANALYSIS, "--analysis", "no-such", "--failure-limit", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--analysis no-such").and(predicate::str::contains("success-rate")));
    rollsim()
        .args(["tune", ANALYSIS, "--analysis", "success-rate", "--failure-limit=-2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--failure-limit -2"));
    rollsim()
        .args(["tune", ANALYSIS, "--analysis", "success-rate", "--threshold", "0.9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--rule"));
}

/// Runs the rule tune of the first test (4 settings) whole or as one shard, into `out`;
/// returns its standard output.
fn rule_tune(out: &std::path::Path, shard: Option<&str>) -> String {
    let mut c = rollsim();
    c.args(["tune", SCENARIO, "--rule", "HighErrorRate", "--threshold", "0.02,0.1", "--for", "0s,5m"])
        .args(["-n", "3", "--out"])
        .arg(out);
    if let Some(s) = shard {
        c.args(["--shard", s]);
    }
    let output = c.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn merge(dirs: &[std::path::PathBuf], out: &std::path::Path) -> std::process::Output {
    rollsim().arg("merge").args(dirs).arg("--out").arg(out).output().unwrap()
}

#[test]
fn tune_shards_merge_into_the_unsharded_tune_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let table = rule_tune(&whole, None);
    // scenario.json is the scenario in brief, for `rollsim report`.
    let files = ["tune.csv", "manifest.json", "scenario.json"];
    let mut names: Vec<String> =
        std::fs::read_dir(&whole).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["manifest.json", "scenario.json", "tune.csv"]);
    // 4 settings: 2 and 3 shards split them, 5 leaves one shard empty.
    for n in [2, 3, 5] {
        let shards: Vec<std::path::PathBuf> = (0..n)
            .map(|i| {
                let d = dir.path().join(format!("n{n}-{i}"));
                let said = rule_tune(&d, Some(&format!("{i}/{n}")));
                assert!(said.contains(&format!("tune shard {i}/{n}")), "{said}");
                assert!(!d.join("tune.csv").exists());
                d
            })
            .collect();
        let merged = dir.path().join(format!("merged-{n}"));
        // Any order of the directories.
        let mut given = shards.clone();
        given.reverse();
        let output = merge(&given, &merged);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8(output.stdout).unwrap(), table, "N = {n}");
        for f in files {
            assert_eq!(
                std::fs::read(merged.join(f)).unwrap(),
                std::fs::read(whole.join(f)).unwrap(),
                "{f}, N = {n}"
            );
        }
    }
    let shard = |i: usize| dir.path().join(format!("n3-{i}"));
    let refused = |dirs: &[std::path::PathBuf], what: &str| {
        let output = merge(dirs, &dir.path().join("refused"));
        assert_eq!(output.status.code(), Some(2), "{what}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(what), "{stderr}");
    };
    refused(&[shard(0), shard(2)], "missing shard 1/3 of the tune");
    refused(&[shard(0), shard(1), shard(1), shard(2)], "shard 1/3 is given twice");
    refused(&[shard(0), shard(1), dir.path().join("n2-1")], "shards of one tune share N");
    refused(std::slice::from_ref(&whole), "run without --shard");
    // Another seed is another tune.
    let other = dir.path().join("other-seed");
    let mut c = rollsim();
    c.args(["tune", SCENARIO, "--rule", "HighErrorRate", "--threshold", "0.02,0.1", "--for", "0s,5m"])
        .args(["-n", "3", "--seed", "7", "--shard", "1/3", "--out"])
        .arg(&other);
    assert!(c.output().unwrap().status.success());
    refused(&[shard(0), other, shard(2)], "shards of different tunes (input_hash differs)");
    // A shard whose results were never written is unfinished.
    std::fs::remove_file(shard(1).join("tune-part.json")).unwrap();
    refused(&[shard(0), shard(1), shard(2)], "tune shard 1/3 is unfinished");
}
