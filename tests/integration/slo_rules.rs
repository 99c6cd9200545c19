//! End-to-end tests of `rollsim slo-rules`.

use assert_cmd::Command;
use predicates::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

/// The fields our loader reads from a PrometheusRule.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Spec {
    groups: Vec<Group>,
}

#[derive(Debug, Deserialize)]
struct Group {
    name: String,
    interval: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn parse(yaml: &str) -> PrometheusRule {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

#[test]
fn slo_rules_prints_a_prometheus_rule_our_promql_reads() {
    let out = rollsim()
        .args(["slo-rules", "--name", "myapp", "--selector", r#"app="myapp""#, "--objective", "99.9%"])
        .args(["--period", "30d", "--interval", "30s"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let yaml = String::from_utf8(out).unwrap();
    let rule = parse(&yaml);
    assert_eq!(
        (rule.api_version.as_str(), rule.kind.as_str()),
        ("monitoring.coreos.com/v1", "PrometheusRule")
    );
    assert_eq!(rule.metadata.name, "myapp-slo");
    let [group] = rule.spec.groups.as_slice() else { panic!("one group") };
    assert_eq!(group.name, "myapp-slo");
    assert_eq!(group.interval.as_deref(), Some("30s"));
    let records: Vec<&str> = group.rules.iter().filter_map(|r| r.record.as_deref()).collect();
    assert_eq!(records.len(), 7);
    assert_eq!(records[0], "myapp:error_ratio:rate5m");
    let alerts: Vec<&Rule> = group.rules.iter().filter(|r| r.alert.is_some()).collect();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].alert.as_deref(), Some("MyappErrorBudgetBurnPage"));
    assert_eq!(alerts[0].labels["severity"], "page");
    assert_eq!(alerts[1].labels["severity"], "ticket");
    assert_eq!(alerts[0].for_.as_deref(), Some("0s"));
    assert!(alerts[0].annotations["summary"].contains("2% of the 30d budget in 1h"));
    assert!(alerts[0].expr.contains("myapp:error_ratio:rate1h > (14.4 * 0.001)"), "{}", alerts[0].expr);
    for r in &group.rules {
        rollsim::telemetry::promql::parse(&r.expr).unwrap_or_else(|e| panic!("{}: {e}", r.expr));
    }
}

#[test]
fn slo_rules_writes_the_file_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slo.yaml");
    rollsim()
        .args(["slo-rules", "--name", "checkout", "--objective", "0.999", "--out"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("page      1h    5m     14.4       1.44%      2%"))
        .stderr(predicate::str::contains("wrote PrometheusRule checkout-slo"));
    let rule = parse(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(rule.spec.groups[0].rules.len(), 9);
    assert!(rule.spec.groups[0].interval.is_none());
    // Nothing but the file is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// An `--out` the user must fix (here a file stands where its directory should be) is bad
/// input, exit 2 with the path, as for every command that writes.
#[test]
fn slo_rules_out_under_a_file_is_bad_input_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "x").unwrap();
    let path = dir.path().join("blocker").join("slo.yaml");
    rollsim()
        .args(["slo-rules", "--name", "checkout", "--objective", "0.999", "--out"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(path.display().to_string()));
}

#[test]
fn slo_rules_rejects_bad_input_with_exit_code_2() {
    for (flag, value, says) in [
        ("--objective", "100%", "error: --objective '100%' must lie strictly between 0 and 1"),
        ("--objective", "99.9x", "error: --objective '99.9x': `99.9x` is not a number"),
        ("--period", "1d", "error: --period '1d' is shorter than the longest alert window (3d)"),
        ("--selector", "app=myapp", "error: --selector 'app=myapp' is not a list of label matchers"),
        ("--errors", "", "error: --errors '' must pick the failed requests"),
        ("--interval", "0s", "error: --interval '0s' must be a positive whole number"),
    ] {
        let mut cmd = rollsim();
        cmd.args(["slo-rules", "--name", "myapp", flag, value]);
        cmd.assert().code(2).stdout("").stderr(predicate::str::contains(says));
    }
    rollsim()
        .args(["slo-rules", "--name", "My-App"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error: --name 'My-App' must start with a lowercase letter"));
    rollsim().args(["slo-rules"]).assert().code(2).stderr(predicate::str::contains("--name <NAME>"));
}

#[test]
fn slo_rules_notes_a_pair_that_cannot_fire_and_has_an_example() {
    rollsim()
        .args(["slo-rules", "--name", "batch", "--objective", "90%"])
        .assert()
        .success()
        .stderr(predicate::str::contains("page pair 1h/5m needs an error ratio above 144%"));
    rollsim().args(["slo-rules", "--help"]).assert().success().stdout(
        predicate::str::contains("Examples:").and(predicate::str::contains("rollsim slo-rules --name myapp")),
    );
}

#[test]
fn slo_rules_takes_a_name_with_hyphens() {
    let out = Command::cargo_bin("rollsim")
        .unwrap()
        .args(["slo-rules", "--name", "my-app", "--selector", r#"app="my-app""#, "--objective", "99.9%"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("  name: my-app-slo\n"), "{yaml}");
    assert!(yaml.contains("record: my_app:error_ratio:rate5m"), "{yaml}");
    assert!(yaml.contains("alert: MyAppErrorBudgetBurnPage"), "{yaml}");
    let out =
        Command::cargo_bin("rollsim").unwrap().args(["slo-rules", "--name", "My App"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
