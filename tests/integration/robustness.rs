//! Robustness (issue 16): extreme numbers, absurd work, hostile names and output paths, YAML
//! bombs and huge files. Each refusal is bad input (exit 2) naming file:line:col, never a
//! panic (exit 101) or a hang.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    let mut c = Command::cargo_bin("rollsim").expect("the binary is built");
    c.timeout(std::time::Duration::from_secs(60));
    c
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)).unwrap()
}

/// The shipped Flagger/Istio canary with `spec.traffic.rps` set to `rps` (line 172).
fn flagger_at(rps: &str) -> String {
    let text = shipped("flagger-canary.yaml");
    let from = "    rps: 200 ";
    assert!(text.contains(from), "the scenario's rps line moved");
    text.replacen(from, &format!("    rps: {rps} "), 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn an_extreme_rps_is_refused_at_its_line_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for rps in ["1e300", "1e30", "99999999999999999999", "18446744073709551615", "1e10"] {
        let text = flagger_at(rps);
        let file = write(dir.path(), "f.yaml", &text);
        let line = line_of(&text, &format!("rps: {rps}"));
        rollsim()
            .arg("run")
            .arg(&file)
            .args(["-n", "2", "-q", "--out"])
            .arg(dir.path().join("out"))
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(format!("f.yaml:{line}:10"))
                    .and(predicate::str::contains("`spec.traffic.rps` is too large"))
                    .and(predicate::str::contains("≤ 1000000000"))
                    .and(predicate::str::contains("panicked").not()),
            );
    }
    for bad in ["-1", ".nan", ".inf", "-.inf"] {
        let file = write(dir.path(), "f.yaml", &flagger_at(bad));
        rollsim()
            .arg("validate")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("spec.traffic.rps"));
    }
}

#[test]
fn the_largest_rate_runs_quickly_in_aggregated_fidelity() {
    // 10⁹ rps for 1h: every failed request of the new version used to cost one user draw.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.yaml", &flagger_at("1e9"));
    let started = std::time::Instant::now();
    rollsim()
        .arg("run")
        .arg(&file)
        .args(["-n", "1", "-q", "--format", "csv", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .success()
        .stdout(predicate::str::contains("users_affected"));
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
}

#[test]
fn other_numbers_out_of_range_are_refused_with_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped("flagger-canary.yaml");
    let cases: [(&str, &str, &str); 6] = [
        ("  duration: 1h", "  duration: 1000000d", "at most 36500d"),
        ("  replicas: 4\n", "  replicas: 2000000000\n", "expected at most 150000"),
        ("capacityRps: 100", "capacityRps: 1e12", "≤ 1000000000"),
        ("  replications: 200", "  replications: 100000000000", "expected at most 10000000"),
        ("nodes: 3", "nodes: 4000000000", "expected at most 100000"),
        ("errorRate: 0.001", "errorRate: 1e300", "above 1"),
    ];
    for (from, to, says) in cases {
        assert!(base.contains(from), "{from:?} not in the scenario");
        let text = base.replacen(from, to, 1);
        let line = line_of(&text, to.trim_end());
        let file = write(dir.path(), "f.yaml", &text);
        rollsim()
            .arg("validate")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("f.yaml:{line}:")).and(predicate::str::contains(says)));
    }
}

#[test]
fn an_absurd_request_fidelity_scenario_is_refused_up_front_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let text = flagger_at("1e9").replacen("  duration: 1h", "  duration: 365d\n  fidelity: request", 1);
    let line = line_of(&text, "rps: 1e9");
    let file = write(dir.path(), "f.yaml", &text);
    let started = std::time::Instant::now();
    rollsim()
        .arg("run")
        .arg(&file)
        .args(["-q", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("too large to simulate")
                .and(predicate::str::contains("6.31e18 requests"))
                .and(predicate::str::contains(format!("f.yaml:{line}:10")))
                .and(predicate::str::contains("`spec.traffic.rps` drives the estimate")),
        );
    assert!(started.elapsed().as_secs() < 10);
    assert!(!dir.path().join("out").exists(), "nothing is written for a refused scenario");
    // Many replications drive it when the rate is ordinary.
    let text = shipped("flagger-canary.yaml").replacen(
        "  replications: 200",
        "  replications: 5000000\n  fidelity: request",
        1,
    );
    let line = line_of(&text, "replications: 5000000");
    let file = write(dir.path(), "g.yaml", &text);
    rollsim().arg("validate").arg(&file).assert().code(2).stderr(
        predicate::str::contains(format!("g.yaml:{line}:17"))
            .and(predicate::str::contains("`spec.replications` drives the estimate")),
    );
}
