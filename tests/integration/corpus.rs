//! The upstream-shaped manifests of tests/corpus/: each loads with nothing added but its
//! Simulation (`--simulation`), and says in notes what it leaves out.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn corpus(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    (dir.join(name), dir.join(format!("{name}.simulation.yaml")))
}

/// `validate -f NAME/ --simulation NAME.simulation.yaml`: the summary line and the notes.
fn validate(name: &str) -> (String, Vec<String>) {
    let (dir, sim) = corpus(name);
    let out = Command::cargo_bin("rollsim")
        .unwrap()
        .args(["validate", "-f"])
        .arg(&dir)
        .arg("--simulation")
        .arg(&sim)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{name}: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    let summary = lines.next().unwrap_or_default().to_string();
    let notes = lines.filter_map(|l| l.trim().strip_prefix("note: ")).map(str::to_string).collect();
    (summary, notes)
}

/// The load-time warning of a scenario in which nothing can find a bad version.
const NOTHING_DETECTS: &str = "nothing in this scenario can detect a bad version: no PrometheusRule alert is routed to an action, no Argo analysis runs and no Flagger check is set";

/// The notes without the last one, which must be the warning that nothing detects, given once.
fn undetected(mut notes: Vec<String>) -> Vec<String> {
    let last = notes.pop().unwrap_or_default();
    assert!(last.starts_with(NOTHING_DETECTS) && last.contains("add a PrometheusRule alert"), "{last:?}");
    assert!(!notes.iter().any(|n| n.starts_with(NOTHING_DETECTS)), "warned twice: {notes:?}");
    notes
}

const NO_SERVICE: &str =
    "its pods get no traffic, so no requests are simulated (the rollout itself still runs)";

#[test]
fn the_kubernetes_docs_nginx_deployment_runs_without_a_service() {
    let (summary, notes) = validate("k8s-nginx-deployment");
    let notes = undetected(notes);
    assert!(summary.contains("by Deployment/nginx-deployment (rolling update)"), "{summary}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(&format!(
            "no Service selects the pods of Deployment/nginx-deployment: {NO_SERVICE}"
        ))
    );
}

#[test]
fn the_wordpress_mysql_recreate_example_skips_its_claim_and_secret() {
    let (summary, notes) = validate("k8s-wordpress-mysql");
    let notes = undetected(notes);
    assert!(summary.contains("by Deployment/wordpress-mysql (Recreate)"), "{summary}");
    assert_eq!(
        notes,
        [
            "PersistentVolumeClaim/mysql-pv-claim is not simulated (rollsim skips this kind)",
            "Secret/mysql-pass is not simulated (rollsim skips this kind)",
        ]
    );
}

#[test]
fn the_argo_rollouts_canary_example_runs_without_a_service() {
    let (summary, notes) = validate("argo-rollout-canary");
    assert!(summary.contains("by Rollout/rollout-canary (Argo Rollouts canary"), "{summary}");
    assert!(
        notes.iter().any(|n| n
            .starts_with(&format!("no Service selects the pods of Rollout/rollout-canary: {NO_SERVICE}"))),
        "{notes:?}"
    );
}

#[test]
fn kubectl_get_output_is_read_as_its_items() {
    let (summary, notes) = validate("kubectl-get-list");
    let notes = undetected(notes);
    assert!(
        summary.contains("registry.example.com/web:1.3.2 → registry.example.com/web:1.4.0 by Deployment/web"),
        "{summary}"
    );
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn a_prometheus_operator_setup_skips_the_prometheus_and_its_rbac() {
    let (_, notes) = validate("prometheus-operator");
    let notes = undetected(notes);
    assert_eq!(
        notes,
        [
            "ServiceAccount/prometheus is not simulated (rollsim skips this kind)",
            "ClusterRole/prometheus is not simulated (rollsim skips this kind)",
            "Prometheus/prometheus is not simulated (rollsim skips this kind)",
        ]
    );
}

#[test]
fn the_flagger_podinfo_tutorial_in_its_files() {
    // deployment.yaml, hpa.yaml and canary.yaml as the tutorial applies them (read by name:
    // the Canary first).
    let (summary, notes) = validate("flagger-podinfo");
    assert!(
        summary.starts_with(&format!(
            "{}/canary.yaml (+3 more files): ok:",
            corpus("flagger-podinfo").0.display()
        )),
        "{summary}"
    );
    assert!(summary.contains("by Canary/podinfo (Flagger, target Deployment/podinfo)"), "{summary}");
    assert_eq!(
        notes,
        [
            "HorizontalPodAutoscaler/podinfo is not simulated: replicas stay fixed (a Deployment that leaves them to it runs its minReplicas)"
        ]
    );
}

#[test]
fn corpus_scenarios_run() {
    for name in ["k8s-wordpress-mysql", "argo-rollout-canary"] {
        let (dir, sim) = corpus(name);
        let out_dir = tempfile::tempdir().unwrap();
        let out = Command::cargo_bin("rollsim")
            .unwrap()
            .args(["run", "-n", "2", "--format", "csv", "-f"])
            .arg(&dir)
            .arg("--simulation")
            .arg(&sim)
            .arg("--out")
            .arg(out_dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let csv = String::from_utf8(out.stdout).unwrap();
        assert!(csv.contains("outcome.completed,share,2,"), "{name}: {csv}");
    }
}

/// A scenario with an alert that pages does not warn; one with nothing that detects warns once.
#[test]
fn the_nothing_detects_warning_is_given_only_when_true() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let notes = |file: &str| {
        let out =
            Command::cargo_bin("rollsim").unwrap().arg("validate").arg(root.join(file)).output().unwrap();
        assert!(out.status.success(), "{file}");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        all.matches(NOTHING_DETECTS).count()
    };
    assert_eq!(notes("scenarios/monitoring-high-error-rate.yaml"), 0);
    assert_eq!(notes("scenarios/argo-analysis-success-rate.yaml"), 0);
    assert_eq!(notes("scenarios/flagger-canary.yaml"), 0);
    assert_eq!(notes("scenarios/rolling-hpa-step-load.yaml"), 1);
}
