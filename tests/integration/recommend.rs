//! End-to-end tests of `rollsim recommend`.

use crate::common::{Params, yaml};
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn bad_and_good(dir: &Path) -> (PathBuf, PathBuf) {
    let bad = yaml(&Params {
        replications: 6,
        new_faults: "[{kind: errors, rate: 0.05}]".into(),
        ..Params::default()
    })
    .replacen("metadata: {name: generated}", "metadata: {name: bad}", 1);
    let good = yaml(&Params { replications: 6, ..Params::default() }).replacen(
        "metadata: {name: generated}",
        "metadata: {name: good}",
        1,
    );
    let (b, g) = (dir.join("bad.yaml"), dir.join("good.yaml"));
    std::fs::write(&b, bad).unwrap();
    std::fs::write(&g, good).unwrap();
    (b, g)
}

#[test]
fn recommend_ranks_by_the_weighted_cost_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    let output = rollsim()
        .arg("recommend")
        .args([&bad, &good])
        .args(["--weights", "bad_request=1,pod_hour=0.5", "--response", "2m"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with("cost per release at bad_request 1, pod_hour 0.5 (6 replications each"),
        "{text}"
    );
    let first = text.lines().nth(1).unwrap();
    assert!(first.starts_with("1. good"), "{text}");
    assert!(text.contains("fewest bad requests"), "{text}");
    assert!(text.contains("robustness: good leads unless one price changes:"), "{text}");
    // The same at any thread count.
    let again = rollsim()
        .arg("recommend")
        .args([&bad, &good])
        .args(["--weights", "bad_request=1,pod_hour=0.5", "--response", "2m", "--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
}

#[test]
fn recommend_refuses_bad_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    rollsim().arg("recommend").args([&bad, &good]).args(["--weights", "latency=3"]).assert().code(2).stderr(
        predicate::str::contains("unknown weight `latency`").and(predicate::str::contains("pod_hour")),
    );
    rollsim()
        .arg("recommend")
        .args([&bad, &good])
        .args(["--weights", "user=1", "--response", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--response soon"));
}
