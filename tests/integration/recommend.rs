//! End-to-end tests of `rollsim recommend`.

use crate::common::bad_and_good;
use assert_cmd::Command;
use predicates::prelude::*;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
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
