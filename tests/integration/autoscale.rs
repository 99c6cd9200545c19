//! The HorizontalPodAutoscaler end to end: `scenarios/rolling-hpa-step-load.yaml` (300 rps,
//! 900 rps from 29m30s, 300 rps again from 50m; a rolling update at 30m).

use assert_cmd::Command;
use std::path::PathBuf;

const FILE: &str = "scenarios/rolling-hpa-step-load.yaml";

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (time in s, from, to) of every replica change the HPA made in replication `r`, and the
/// whole trace.
fn rescales(r: u32, extra: &[&str]) -> (Vec<(f64, i64, i64)>, String) {
    let out = rollsim()
        .current_dir(root())
        .args(["trace", FILE, "--format", "csv", "--replication", &r.to_string()])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut changes = Vec::new();
    for line in csv.lines() {
        let cols: Vec<&str> = line.splitn(4, ',').collect();
        if cols.len() == 4 && cols[1] == "HorizontalPodAutoscaler/myapp" && cols[2] == "ScaleTarget" {
            let rest = cols[3].strip_prefix("Deployment/myapp replicas ").expect(line);
            let (from, to) = rest.split_once(" -> ").expect(line);
            changes.push((cols[0].parse().unwrap(), from.parse().unwrap(), to.parse().unwrap()));
        }
    }
    (changes, csv)
}

#[test]
fn the_hpa_scales_up_under_load_and_down_after_the_stabilization_window() {
    for r in 0..3 {
        let (changes, csv) = rescales(r, &[]);
        assert!(!changes.is_empty(), "replication {r}: no rescale\n{csv}");
        // Nothing before the load step: 5 pods at 300 rps are at 60 % CPU, the target.
        assert!(changes[0].0 > 1770.0, "replication {r}: {changes:?}");
        // Each change starts from the count the previous one set (the trace is consistent).
        for w in changes.windows(2) {
            assert_eq!(w[0].2, w[1].1, "replication {r}: {changes:?}");
        }
        let peak = changes.iter().map(|c| c.2).max().unwrap();
        // 900 rps at 2.5m per rps is 2250m: 15 pods at 60 % of 250m (14 is inside the 0.1
        // tolerance); never above maxReplicas 20.
        assert!((14..=15).contains(&peak), "replication {r}: {changes:?}");
        // Up only while the load is high; the one step down waits out the 300 s window after
        // the drop at 50m, then goes to the 5 pods 300 rps needs.
        let (ups, downs): (Vec<&(f64, i64, i64)>, Vec<_>) = changes.iter().partition(|c| c.2 > c.1);
        assert!(ups.iter().all(|c| c.0 < 3000.0), "replication {r}: {changes:?}");
        assert_eq!(downs.len(), 1, "replication {r}: {changes:?}");
        let (t, _, to) = *downs[0];
        assert!((3300.0..=3330.0).contains(&t), "replication {r}: scaled down at {t}");
        assert_eq!(to, 5);
        // The Deployment follows: its ReplicaSets are scaled to the HPA's count, and the
        // rollout's completion counts the replicas as they are then.
        assert!(csv.contains("Scaled down replica set myapp-"), "{csv}");
        let complete = csv.lines().find(|l| l.contains("RolloutComplete")).expect("the rollout completes");
        let at: f64 = complete.split(',').next().unwrap().parse().unwrap();
        let replicas_then = changes.iter().rfind(|c| c.0 <= at).map_or(5, |c| c.2);
        assert!(complete.contains(&format!("all {replicas_then} replicas run")), "{complete}");
    }
}

#[test]
fn without_cpu_per_request_the_hpa_is_not_simulated() {
    let (changes, csv) = rescales(0, &["--set", "spec.pods.cpuPerRequest=null"]);
    assert!(changes.is_empty(), "{csv}");
    assert!(!csv.contains("HorizontalPodAutoscaler"), "{csv}");
    let dir = tempfile::tempdir().unwrap();
    let out = rollsim()
        .current_dir(root())
        .args(["run", FILE, "-n", "1", "--set", "spec.pods.cpuPerRequest=null", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("note: HorizontalPodAutoscaler/myapp is not simulated"), "{err}");
}

#[test]
fn a_bad_hpa_is_an_error_with_its_position() {
    let out = rollsim()
        .current_dir(root())
        .args(["trace", FILE, "--set", "HorizontalPodAutoscaler/myapp.spec.maxReplicas=2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not make a range"), "{err}");
    // The position is the value's origin: here the --set that wrote it.
    assert!(err.contains("--> --set:1:48"), "the maxReplicas value: {err}");
}

const ROLLOUT_HPA: &str = "---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: myapp
spec:
  scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: myapp}
  minReplicas: 4
  maxReplicas: 20
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 50}
";

#[test]
fn an_hpa_sizes_an_argo_rollout_and_its_canary_steps_follow() {
    // argo-canary-steps.yaml (10 replicas, setWeight 10/25/50) with an HPA and 900 rps: at
    // 2.5m per rps the 10 pods are at 88 % of a 50 % target, so the HPA asks for
    // ceil(1.76 · 10) = 18 at its first sync, and the canary's share is counted from 18.
    let text = std::fs::read_to_string(root().join("scenarios/argo-canary-steps.yaml")).unwrap();
    let at = text.find("---\napiVersion: rollsim.dev/v1alpha1").expect("the Simulation document");
    let text = format!("{}{ROLLOUT_HPA}{}", &text[..at], &text[at..]).replacen(
        "    capacityRps: 100\n",
        "    capacityRps: 100\n    cpuPerRequest: 2.5\n",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argo-hpa.yaml");
    std::fs::write(&file, text).unwrap();
    let out = rollsim()
        .args(["trace", "--format", "csv", "--set", "spec.traffic.rps=900"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.contains("\n15.0,HorizontalPodAutoscaler/myapp,ScaleTarget,Rollout/myapp replicas 10 -> 18\n"),
        "{csv}"
    );
    // The canary's counts from 18: setWeight 10 → ceil(1.8) = 2, 25 → ceil(4.5) = 5, 50 → 9.
    let scaled: Vec<&str> = csv.lines().filter(|l| l.contains(",Rollout/myapp,ScalingReplicaSet,")).collect();
    let canary =
        |to: u32| scaled.iter().any(|l| l.ends_with(&format!(" to {to}")) && l.contains("Scaled up"));
    assert!(canary(2) && canary(5) && canary(9), "{scaled:#?}");
}
