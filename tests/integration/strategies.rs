//! End-to-end tests of the shipped strategy scenarios (`scenarios/**/*.yaml`): each one
//! validates and runs; the `same-fault` set prints side by side; the traces show the traffic
//! weights and the selector switch; `timeline.csv` carries the intended share next to the
//! observed one.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every `*.yaml` under `dir`, recursively, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The files of the `same-fault` set, in the order a shell's `*.yaml` lists them.
fn same_fault_files() -> Vec<PathBuf> {
    yaml_files(&scenarios_dir().join("same-fault"))
}

/// The Simulation document of a scenario file's text.
fn simulation_doc(text: &str) -> &str {
    let docs: Vec<&str> = text.split("\n---\n").filter(|d| d.contains("kind: Simulation")).collect();
    assert_eq!(docs.len(), 1, "exactly one Simulation document:\n{text}");
    docs[0]
}

/// `metadata.name` of the Simulation document (written `metadata: {name: NAME}`).
fn simulation_name(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = simulation_doc(&text);
    let start =
        doc.find("metadata: {name: ").unwrap_or_else(|| panic!("{}: no metadata name", path.display()))
            + "metadata: {name: ".len();
    let end = start + doc[start..].find('}').unwrap();
    doc[start..end].trim().to_string()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Reads a CSV file's text into its header and rows of named cells.
fn csv_rows(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header.iter().cloned().zip(r.iter().map(str::to_owned)).collect::<BTreeMap<_, _>>()
        })
        .collect();
    (header, rows)
}

/// `rollsim trace FILE --format csv` for replication 0: its rows.
fn trace_rows(file: &Path) -> Vec<BTreeMap<String, String>> {
    let out = rollsim().args(["trace", "--format", "csv"]).arg(file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "trace {}: {stderr}", file.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let (header, rows) = csv_rows(&text);
    assert_eq!(header, ["time_s", "object", "reason", "message"], "{text}");
    rows
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    let cell = row.get(column).unwrap_or_else(|| panic!("no {column} in {row:?}"));
    cell.parse().unwrap_or_else(|_| panic!("{column} = {cell:?} is not a number"))
}

/// The shipped strategy scenarios; a missing one is a failure, not a smaller loop.
const SHIPPED: [&str; 22] = [
    "recreate-downtime.yaml",
    "rolling-bad-release.yaml",
    "rolling-healthy.yaml",
    "rolling-never-ready.yaml",
    "rolling-surge-1.yaml",
    "rolling-hpa-step-load.yaml",
    "rolling-peak-queueing.yaml",
    "bluegreen-service-switch.yaml",
    "bluegreen-tight-cluster.yaml",
    "istio-canary-90-10.yaml",
    "istio-progressive-canary.yaml",
    "argo-canary-steps.yaml",
    "argo-canary-istio.yaml",
    "argo-bluegreen-manual.yaml",
    "flagger-canary.yaml",
    "same-fault/rolling.yaml",
    "same-fault/bluegreen.yaml",
    "same-fault/istio-canary.yaml",
    "same-fault/argo-canary.yaml",
    "same-fault/argo-canary-istio.yaml",
    "same-fault/argo-bluegreen.yaml",
    "same-fault/flagger.yaml",
];

#[test]
fn every_strategy_scenario_is_shipped() {
    let dir = scenarios_dir();
    let found: Vec<PathBuf> = yaml_files(&dir);
    for name in SHIPPED {
        assert!(found.contains(&dir.join(name)), "scenarios/{name} is missing");
    }
    assert!(dir.join("same-fault/README.md").is_file(), "scenarios/same-fault/README.md is missing");
}

#[test]
fn every_shipped_scenario_validates() {
    let files = yaml_files(&scenarios_dir());
    assert!(files.len() >= SHIPPED.len(), "{files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let out = rollsim().arg("validate").arg(file).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains(": ok") {
            failures.push(format!(
                "{} (exit {:?}):\n{}{}",
                file.display(),
                out.status.code(),
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios do not validate:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_shipped_scenario_runs_and_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for file in yaml_files(&scenarios_dir()) {
        let out_dir = dir.path().join(file_name(&file));
        let out = rollsim()
            .arg("run")
            .arg(&file)
            .args(["--set", "spec.replications=4", "--format", "json", "--out"])
            .arg(&out_dir)
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(format!("{}: {}", file.display(), String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let runs = std::fs::read_to_string(out_dir.join("runs.csv")).unwrap();
        let (header, rows) = csv_rows(&runs);
        assert!(header.iter().any(|h| h == "outcome"), "{}: {runs}", file.display());
        assert_eq!(rows.len(), 4, "{}: 4 replications", file.display());
        for row in &rows {
            assert!(number(row, "requests") > 0.0, "{}: {row:?}", file.display());
        }
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["replications"], 4, "{}", file.display());
        assert_eq!(summary["scenario"].as_str(), Some(simulation_name(&file).as_str()), "{}", file.display());
        let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stdout, summary, "{}: --format json prints summary.json", file.display());
        let timeline = std::fs::read_to_string(out_dir.join("timeline.csv")).unwrap();
        assert!(
            timeline.lines().count() > 100,
            "{}: timeline.csv has {} lines",
            file.display(),
            timeline.lines().count()
        );
    }
    assert!(failures.is_empty(), "{} scenarios do not run:\n{}", failures.len(), failures.join("\n"));
}

/// The `same-fault` files differ only in their manifests, their name and their release: the
/// Simulation documents are otherwise identical, so the comparison is of strategies alone.
#[test]
fn same_fault_scenarios_share_everything_but_the_release() {
    let files = same_fault_files();
    assert_eq!(files.len(), 7, "{files:?}");
    let rest = |path: &Path| -> String {
        let text = std::fs::read_to_string(path).unwrap();
        let doc = simulation_doc(&text);
        let mut out = Vec::new();
        let mut in_release = false;
        for line in doc.lines() {
            if line.starts_with("metadata:") {
                continue;
            }
            if line == "  release:" {
                in_release = true;
                continue;
            }
            if in_release && line.starts_with("    ") {
                continue;
            }
            in_release = false;
            out.push(line);
        }
        out.join("\n")
    };
    let first = rest(&files[0]);
    assert!(first.contains("errors, rate: 0.05") && first.contains("replications: 100"), "{first}");
    for file in &files[1..] {
        assert_eq!(
            rest(file),
            first,
            "{} differs from {} outside its release",
            file.display(),
            files[0].display()
        );
    }
    let names: Vec<String> = files.iter().map(|f| simulation_name(f)).collect();
    for (file, name) in files.iter().zip(&names) {
        let stem = file.file_stem().unwrap().to_string_lossy();
        assert_eq!(*name, format!("same-fault-{stem}"), "{}", file.display());
    }
}

#[test]
fn same_fault_set_prints_one_column_per_scenario() {
    let files = same_fault_files();
    let names: Vec<String> = files.iter().map(|f| simulation_name(f)).collect();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    let output = rollsim()
        .env("COLUMNS", "1000")
        .arg("run")
        .args(&files)
        .args(["--set", "spec.replications=4", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with(&format!("rollsim: {} scenarios side by side\n", files.len())), "{stdout}");
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("metric ")).collect();
    assert_eq!(headers.len(), 1, "one table:\n{stdout}");
    let mut expected = vec!["metric".to_string(), "unit".to_string()];
    for name in &names {
        expected.push(name.clone());
        expected.push("n".to_string());
    }
    let header: Vec<String> = headers[0].split_whitespace().map(str::to_owned).collect();
    assert_eq!(header, expected, "{stdout}");
    let replications = stdout.lines().find(|l| l.starts_with("replications")).unwrap();
    assert_eq!(replications.split_whitespace().filter(|c| *c == "4").count(), files.len(), "{stdout}");
    for name in &names {
        for file in ["runs.csv", "summary.json", "timeline.csv"] {
            assert!(out_dir.join(name).join(file).is_file(), "{name}/{file} missing");
        }
    }
}

#[test]
fn argo_canary_with_istio_traces_exact_weights() {
    let rows = trace_rows(&scenarios_dir().join("argo-canary-istio.yaml"));
    let weights: Vec<(f64, &str)> = rows
        .iter()
        .filter(|r| r["reason"] == "TrafficWeight")
        .map(|r| (number(r, "time_s"), r["message"].as_str()))
        .collect();
    let at = |canary: u32| -> f64 {
        let (c, s) = (format!("canary {canary}%"), format!("stable {}%", 100 - canary));
        weights
            .iter()
            .find(|(_, m)| m.contains(&c) && m.contains(&s))
            .unwrap_or_else(|| panic!("no TrafficWeight `{c} {s}` in {weights:?}"))
            .0
    };
    let (ten, quarter, half) = (at(10), at(25), at(50));
    // The weights follow the steps, after the release at 5m, the pauses of 5m in between.
    assert!(300.0 <= ten && ten < quarter && quarter < half, "{weights:?}");
    assert!(quarter - ten >= 300.0 && half - quarter >= 300.0, "5m pauses: {weights:?}");
}

#[test]
fn service_switch_traces_the_selector_switch_and_back() {
    let rows = trace_rows(&scenarios_dir().join("bluegreen-service-switch.yaml"));
    let switches: Vec<(f64, &str)> = rows
        .iter()
        .filter(|r| r["reason"] == "SelectorSwitched")
        .map(|r| (number(r, "time_s"), r["message"].as_str()))
        .collect();
    let to_green = switches
        .iter()
        .find(|(_, m)| m.contains("green"))
        .unwrap_or_else(|| panic!("no switch to green in {switches:?}"));
    assert!(to_green.0 > 300.0, "the switch follows the release at 5m: {switches:?}");
    // myapp:2.0 is bad: the SLO page and the human switch the selector back.
    assert!(rows.iter().any(|r| r["reason"] == "Detected"), "{rows:?}");
    let back = switches.iter().find(|(t, m)| *t > to_green.0 && m.contains("blue"));
    assert!(back.is_some(), "no switch back to blue after {to_green:?}: {switches:?}");
}

/// `timeline.csv` of the new version: rows as maps.
fn new_version_timeline(file: &str, dir: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let out_dir = dir.join(file);
    let out = rollsim()
        .arg("run")
        .arg(scenarios_dir().join(file))
        .args(["--set", "spec.replications=1", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(out_dir.join("timeline.csv")).unwrap();
    let (header, rows) = csv_rows(&text);
    let rows: Vec<_> = rows.into_iter().filter(|r| r["version"] == "myapp:2.0").collect();
    assert!(!rows.is_empty(), "{file}: no myapp:2.0 rows");
    (header, rows)
}

/// Median `traffic_share` over the ticks whose `intended_share` is `intended`.
fn median_share_at(rows: &[BTreeMap<String, String>], intended: f64) -> f64 {
    let mut shares: Vec<f64> = rows
        .iter()
        .filter(|r| (number(r, "intended_share") - intended).abs() < 1e-6)
        .map(|r| number(r, "traffic_share"))
        .collect();
    assert!(
        shares.len() >= 60,
        "fewer than a minute of ticks at intended share {intended}: {}",
        shares.len()
    );
    shares.sort_by(f64::total_cmp);
    shares[shares.len() / 2]
}

#[test]
fn timeline_has_the_intended_share_next_to_the_traffic_share() {
    let dir = tempfile::tempdir().unwrap();
    let (header, routed) = new_version_timeline("argo-canary-istio.yaml", dir.path());
    let position =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name}: {header:?}"));
    let (traffic, intended) = (position("traffic_share"), position("intended_share"));
    assert_eq!(traffic.abs_diff(intended), 1, "intended_share next to traffic_share: {header:?}");
    // With Istio the router splits requests: the observed share is the intended one.
    for weight in [0.10, 0.25, 0.50] {
        let median = median_share_at(&routed, weight);
        assert!((median - weight).abs() < 0.02, "Istio at {weight}: median traffic_share {median}");
    }
    // Without a router the share is the canary's share of the ready pods: setWeight 25 on
    // 10 replicas runs 3 canary pods next to 8 stable ones, 3/11 ≈ 27%.
    let (_, basic) = new_version_timeline("argo-canary-steps.yaml", dir.path());
    let median = median_share_at(&basic, 0.25);
    assert!(
        (median - 3.0 / 11.0).abs() < 0.015,
        "basic canary at setWeight 25: median traffic_share {median}"
    );
}

/// Blue-green on a cluster without room for both copies: the overhead is capped by the
/// cluster, and the trace says why.
#[test]
fn tight_cluster_leaves_green_pods_pending() {
    let file = scenarios_dir().join("bluegreen-tight-cluster.yaml");
    let rows = trace_rows(&file);
    let pending = rows.iter().filter(|r| r["reason"] == "FailedScheduling").count();
    assert!(pending >= 8, "8 green pods fit nowhere; FailedScheduling rows: {pending}");
    let dir = tempfile::tempdir().unwrap();
    let out = rollsim()
        .arg("run")
        .arg(&file)
        .args(["--set", "spec.replications=4", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, runs) = csv_rows(&std::fs::read_to_string(dir.path().join("runs.csv")).unwrap());
    for run in &runs {
        assert_eq!(number(run, "peak_pods"), 12.0, "10 blue + the 2 green pods that fit: {run:?}");
        assert!((number(run, "overhead_pct") - 20.0).abs() < 1e-9, "{run:?}");
    }
}

/// Flagger's analysis, not a human, stops the bad canary.
#[test]
fn flagger_rolls_the_bad_canary_back_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = rollsim()
        .arg("run")
        .arg(scenarios_dir().join("flagger-canary.yaml"))
        .args(["--set", "spec.replications=4", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, runs) = csv_rows(&std::fs::read_to_string(dir.path().join("runs.csv")).unwrap());
    assert_eq!(runs.len(), 4);
    for run in &runs {
        assert_eq!(run["outcome"], "rolled_back", "{run:?}");
        assert_ne!(run["detected_by"], "burn_rate", "10% x 5% errors is below the page: {run:?}");
        // Five failed one-minute checks after the canary takes traffic: back within ~10 minutes.
        let back = number(run, "rolled_back_at_s");
        assert!((240.0..=900.0).contains(&back), "rolled back at {back} s: {run:?}");
    }
}

/// The docs examples under `scenarios/docs/`, each with the project whose docs it mirrors.
const DOCS_EXAMPLES: [(&str, &str); 5] = [
    ("argo-rollouts-basic.yaml", "Argo Rollouts"),
    ("argo-rollouts-istio-subset.yaml", "Argo Rollouts"),
    ("argo-rollouts-bluegreen.yaml", "Argo Rollouts"),
    ("flagger-podinfo-istio.yaml", "Flagger"),
    ("istio-bookinfo-reviews-90-10.yaml", "Istio"),
];

/// Each docs example is shipped, says in its header which docs page it mirrors (written in
/// that shape, not copied), what it teaches and what a run measured, and ends with its one
/// Simulation document after the manifests.
#[test]
fn docs_examples_are_shipped_with_their_header_and_the_simulation_last() {
    let dir = scenarios_dir().join("docs");
    let found = yaml_files(&dir);
    for (name, project) in DOCS_EXAMPLES {
        let path = dir.join(name);
        assert!(found.contains(&path), "scenarios/docs/{name} is missing");
        let text = std::fs::read_to_string(&path).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(header.starts_with(&format!("{name}: {project} ")), "{name}: what it mirrors: {header}");
        for needle in
            ["Written in the shape of", "not a copy", "What it teaches:", "measured: 50 replications"]
        {
            assert!(header.contains(needle), "{name}: no `{needle}` in its header: {header}");
        }
        simulation_doc(&text);
        let last = text.trim_end().rsplit("\n---\n").next().unwrap();
        assert!(last.contains("kind: Simulation"), "{name}: the Simulation document is not last");
        let before = &text[..text.len() - last.len()];
        assert!(before.contains("\n---\n"), "{name}: no manifests before the Simulation");
    }
}

/// `rollsim run` of a docs example with 4 replications: its `runs.csv` rows.
fn docs_runs(name: &str, dir: &Path) -> Vec<BTreeMap<String, String>> {
    let out_dir = dir.join(name);
    let out = rollsim()
        .arg("run")
        .arg(scenarios_dir().join("docs").join(name))
        .args(["--set", "spec.replications=4", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let (_, rows) = csv_rows(&std::fs::read_to_string(out_dir.join("runs.csv")).unwrap());
    assert_eq!(rows.len(), 4, "{name}: 4 replications");
    rows
}

/// What each docs example is there to show, as the runs and the trace tell it.
#[test]
fn docs_examples_tell_their_story() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["argo-rollouts-basic.yaml", "argo-rollouts-bluegreen.yaml"] {
        for run in docs_runs(name, dir.path()) {
            assert_eq!(run["outcome"], "completed", "{name}: {run:?}");
            assert_eq!(run["detected_by"], "", "{name}: a healthy release pages nobody: {run:?}");
            if name == "argo-rollouts-bluegreen.yaml" {
                assert_eq!(number(&run, "peak_pods"), 4.0, "2 blue + 2 green: {run:?}");
            }
        }
    }
    for run in docs_runs("flagger-podinfo-istio.yaml", dir.path()) {
        assert_eq!(run["outcome"], "rolled_back", "{run:?}");
        assert_eq!(run["detected_by"], "flagger_analysis", "{run:?}");
    }
    for run in docs_runs("istio-bookinfo-reviews-90-10.yaml", dir.path()) {
        assert_eq!(run["detected_by"], "", "{run:?}");
        let share = number(&run, "new_version_requests") / number(&run, "requests");
        assert!((0.08..=0.12).contains(&share), "reviews v2 gets about 10%: {share} in {run:?}");
    }
    let rows = trace_rows(&scenarios_dir().join("docs/argo-rollouts-istio-subset.yaml"));
    assert!(
        rows.iter()
            .any(|r| r["reason"] == "TrafficWeight" && r["message"].starts_with("canary 10% stable 90%")),
        "no TrafficWeight `canary 10% stable 90%`: {rows:?}"
    );
}

/// `rolling-peak-queueing.yaml` teaches what its header says: under the queueing model the
/// `maxUnavailable` rollout costs more than the fixed model shows, and a surge-only rollout
/// (never below ten serving pods) costs less. 30 replications each, the means compared.
#[test]
fn peak_rollout_pays_for_queueing_latency() {
    use rollsim::scenario::{load_file, parse_override};
    let mean_excess = |sets: &[&str]| {
        let overrides: Vec<_> = sets.iter().map(|s| parse_override(s).unwrap()).collect();
        let mut sc = load_file(&scenarios_dir().join("rolling-peak-queueing.yaml"), &overrides).unwrap();
        sc.replications = 30;
        let runs = rollsim::experiment::runner::run_all(&sc, rollsim::experiment::runner::RunPlan::default());
        runs.iter().map(|r| r.record.excess_failed_requests).sum::<f64>() / runs.len() as f64
    };
    let queueing = mean_excess(&[]);
    let fixed = mean_excess(&["spec.pods.latencyModel=fixed", "spec.pods.concurrency=null"]);
    let surge = mean_excess(&[
        "Deployment/myapp.spec.strategy.rollingUpdate.maxSurge=25%",
        "Deployment/myapp.spec.strategy.rollingUpdate.maxUnavailable=0",
    ]);
    assert!(queueing > 1.5 * fixed, "queueing {queueing}, fixed {fixed}");
    assert!(surge < 0.5 * queueing, "surge {surge}, queueing {queueing}");
}
