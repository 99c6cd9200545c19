//! `rollsim trace --explain`: the narrated replication, checked against golden files.
//!
//! The golden files under `tests/golden/` are the exact stories of fixed-seed shipped
//! scenarios. They change only on purpose: after a deliberate change to the simulator or
//! the narrator, rewrite them with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --release --test integration explain
//! ```
//!
//! and read the diff before committing it.

use assert_cmd::Command;
use std::path::PathBuf;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The story of replication 0 of a shipped scenario (given relative to the repository).
fn explain(file: &str) -> String {
    let output = rollsim().current_dir(root()).args(["trace", file, "--explain"]).output().unwrap();
    assert!(output.status.success(), "{file}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Compares `actual` with `tests/golden/NAME`, or rewrites the file under `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  now:    {:?}\n\
             If the change is intended, rewrite it with UPDATE_GOLDEN=1 and review the diff.",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn rolling_update_with_an_alert_that_pages() {
    let story = explain("scenarios/monitoring-high-error-rate.yaml");
    golden("explain-monitoring-high-error-rate.txt", &story);
    // The rules with the numbers the controllers used.
    for needle in [
        "maxSurge 25% of 10 rounds up to 3, so at most 13 pods may exist; 10 exist, leaving room for 3, so a new ReplicaSet is created with 3 pods",
        "maxUnavailable 25% of 10 rounds down to 2",
        "HighErrorRate has been true for 5m since t=13:19 (for: 5m), it fires",
        "Alertmanager's group_wait of 30s has passed since HighErrorRate fired; the on-call engineer is paged",
        "the on-call engineer, paged at t=18:49 by HighErrorRate, responds",
        "the rollback is complete",
    ] {
        assert!(story.contains(needle), "missing {needle:?}:\n{story}");
    }
}

#[test]
fn argo_canary_rolled_back_by_its_analysis() {
    let story = explain("scenarios/argo-analysis-success-rate.yaml");
    golden("explain-argo-analysis-success-rate.txt", &story);
    for needle in [
        "with trafficRouting the canary gets ceil(10% × 10) = 1 pods for setWeight 10 (step 1 of 5)",
        "successCondition `result[0] >= 0.95`, failureLimit 1",
        "2 failed so far (the run fails when more than failureLimit 1)",
        "the Rollout aborts because its Step(1) analysis ended Failed",
    ] {
        assert!(story.contains(needle), "missing {needle:?}:\n{story}");
    }
}

/// Asserts that every needle is in the story and no false phrase is.
fn check(story: &str, needles: &[&str], never: &[&str]) {
    for needle in needles {
        assert!(story.contains(needle), "missing {needle:?}:\n{story}");
    }
    for phrase in never {
        assert!(!story.contains(phrase), "untrue here: {phrase:?}:\n{story}");
    }
}

#[test]
fn recreate_stops_every_old_pod_first() {
    let story = explain("scenarios/recreate-downtime.yaml");
    golden("explain-recreate-downtime.txt", &story);
    check(
        &story,
        &[
            "Recreate first scales every old ReplicaSet to 0",
            "gives the new ReplicaSet all 10 replicas at once",
        ],
        &["maxSurge", "maxUnavailable"],
    );
}

#[test]
fn service_switch_scales_whole_deployments_without_rolling_arithmetic() {
    let story = explain("scenarios/bluegreen-service-switch.yaml");
    golden("explain-bluegreen-service-switch.txt", &story);
    check(
        &story,
        &[
            "the Service's selector switches at once",
            "scales ReplicaSet myapp-green-w2k9qngq9q down from 3 to 0: the release set the Deployment's replicas to 0",
        ],
        &["maxUnavailable"],
    );
}

#[test]
fn mesh_weights_are_set_by_the_release_steps() {
    let story = explain("scenarios/istio-progressive-canary.yaml");
    golden("explain-istio-progressive-canary.txt", &story);
    check(
        &story,
        &["the release sets the VirtualService's route weights: canary 10% stable 90%"],
        &["maxUnavailable", "Rollout"],
    );
}

#[test]
fn argo_canary_without_a_router_tells_steps_by_their_kind() {
    let story = explain("scenarios/argo-canary-steps.yaml");
    golden("explain-argo-canary-steps.txt", &story);
    check(
        &story,
        &[
            "step 2/7 completed (pause: 5m): its pause duration has passed",
            "step 6/7 completed (pause until promoted): the pause was promoted",
            "for setWeight 10 (step 1 of 7) the canary is to be 10% of the 10 replicas",
        ],
        // A Rollout without stableService/canaryService switches no selector; pauses are
        // not setWeights; the undo starts the steps again, not at the last weight.
        &[
            "canaryService",
            "stableService",
            "pause: 5m): the weight is set",
            "Weight(",
            "setWeight 100 of 10",
        ],
    );
    // After the undo the first step is setWeight 10 again.
    let undo = story.find("kubectl argo rollouts undo").expect("the scenario rolls back");
    assert!(story[undo..].contains("for setWeight 10 (step 1 of 7)"), "{story}");
}

#[test]
fn argo_blue_green_names_its_preview_service() {
    let story = explain("scenarios/argo-bluegreen-manual.yaml");
    golden("explain-argo-bluegreen-manual.txt", &story);
    check(
        &story,
        &[
            "behind the preview Service myapp-preview while myapp-active keeps serving",
            "the preview ReplicaSet is sized to replicas (no previewReplicaCount): 10",
            "the ReplicaSet the active Service no longer selects is scaled down",
        ],
        &["setWeight"],
    );
}

#[test]
fn flagger_runs_no_check_at_weight_zero() {
    let story = explain("scenarios/flagger-canary.yaml");
    golden("explain-flagger-canary.txt", &story);
    check(
        &story,
        &[
            "at weight 0 Flagger runs no checks; its first tick gives the canary its first weight: advance canary weight 10",
        ],
        &["every check passed at this 1m tick, so Flagger advances: advance canary weight 10 "],
    );
}

/// A pod without a readiness probe is not said to pass one, and the container has its
/// manifest's name.
#[test]
fn pods_without_a_probe_are_not_said_to_pass_one() {
    let dir = tempfile_dir();
    let file = dir.join("noprobe.yaml");
    let text = std::fs::read_to_string(root().join("scenarios/rolling-healthy.yaml")).unwrap();
    assert!(text.contains("readinessProbe"), "the fixture has a probe to remove");
    std::fs::write(&file, strip_probe(&text).replace("- name: myapp", "- name: web")).unwrap();
    let plain = rollsim().args(["trace", file.to_str().unwrap()]).output().unwrap();
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let text = String::from_utf8(plain.stdout).unwrap();
    check(
        &text,
        &["Started container web", "there is no readiness probe; the pod is Ready"],
        &["readiness probe succeeded", "container myapp"],
    );
    let story = rollsim().args(["trace", file.to_str().unwrap(), "--explain"]).output().unwrap();
    let story = String::from_utf8(story.stdout).unwrap();
    check(
        &story,
        &["it has no readiness probe, so it is Ready once its container runs"],
        &["its readiness probe ("],
    );
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rollsim-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The YAML without its `readinessProbe:` block (the key and its deeper-indented lines).
fn strip_probe(text: &str) -> String {
    let mut out = String::new();
    let mut skip: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(i) = skip {
            if indent > i || line.trim().is_empty() {
                continue;
            }
            skip = None;
        }
        if line.trim_start().starts_with("readinessProbe:") {
            skip = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every shipped scenario tells a story: a header, then only `t=` lines in time order, and a
/// rolled-back replication says what detected it and that the rollback finished.
#[test]
fn every_shipped_scenario_is_told_line_by_line() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in files {
        let rel = file.strip_prefix(root()).unwrap().to_str().unwrap().to_owned();
        let story = explain(&rel);
        let mut lines = story.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("# ") && header.contains("replication 0"), "{rel}: {header}");
        let body: Vec<&str> = lines.collect();
        assert!(!body.is_empty(), "{rel}: no decisions told");
        for l in &body {
            assert!(l.starts_with("t=") && !l.ends_with(' '), "{rel}: {l:?}");
        }
        if header
            .ends_with("outcome rolled_back; told step by step (pod start-up steps are in the plain trace)")
        {
            assert!(story.contains("the rollback is complete"), "{rel}:\n{story}");
        }
    }
}

#[test]
fn explain_leaves_the_plain_trace_alone_and_cannot_be_csv() {
    let plain =
        rollsim().current_dir(root()).args(["trace", "scenarios/rolling-bad-release.yaml"]).output().unwrap();
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with("TIME "), "{text}");
    assert!(!text.contains("t="), "{text}");
    let both = rollsim()
        .current_dir(root())
        .args(["trace", "scenarios/rolling-bad-release.yaml", "--explain", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
}
