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
