//! Scenario input as `kubectl apply -f` takes it: `-f FILE -f DIR -f -`, `--simulation FILE`,
//! the same options on every command that takes a scenario, and errors that keep each file's
//! own line and column.

use crate::common::{Params, yaml};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

/// The generated scenario as separate files: `app/10-deployment.yaml`, `app/20-service.yaml`
/// (plus a README the directory read skips) and `sim.yaml`; and the one-file form.
fn split(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let text = yaml(&Params {
        replications: 3,
        new_faults: "[{kind: errors, rate: 0.05}]".into(),
        ..Params::default()
    });
    let docs: Vec<&str> = text.split("---\n").collect();
    assert_eq!(docs.len(), 3);
    let app = dir.join("app");
    std::fs::create_dir(&app).unwrap();
    // Named so that the directory's order (by name) is not the order they were written in.
    std::fs::write(app.join("20-service.yaml"), docs[1]).unwrap();
    std::fs::write(app.join("10-deployment.yaml"), docs[0]).unwrap();
    std::fs::write(app.join("README.md"), "not a manifest: [").unwrap();
    let sim = dir.join("sim.yaml");
    std::fs::write(&sim, docs[2]).unwrap();
    let one = dir.join("one.yaml");
    std::fs::write(&one, &text).unwrap();
    (app, sim, one)
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_directory_and_a_simulation_file_run_as_the_one_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, one) = split(dir.path());
    let run = |args: &[&std::ffi::OsStr], out: &str| {
        let mut cmd = rollsim();
        cmd.arg("run").args(args).args(["--format", "csv", "--out"]).arg(dir.path().join(out));
        stdout_of(&mut cmd)
    };
    let whole = run(&[one.as_os_str()], "one");
    let f = std::ffi::OsStr::new("-f");
    let pieces = run(&[f, app.as_os_str(), f, sim.as_os_str()], "pieces");
    let flag = std::ffi::OsStr::new("--simulation");
    let with_flag = run(&[f, app.as_os_str(), flag, sim.as_os_str()], "flag");
    assert_eq!(whole, pieces);
    assert_eq!(whole, with_flag);
    let runs = |d: &str| std::fs::read(dir.path().join(d).join("runs.csv")).unwrap();
    assert_eq!(runs("one"), runs("pieces"));
}

#[test]
fn standard_input_is_read_once_with_a_simulation_file() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, one) = split(dir.path());
    // `kustomize build` writes the manifests as one stream.
    let manifests = format!(
        "{}---\n{}",
        std::fs::read_to_string(app.join("10-deployment.yaml")).unwrap(),
        std::fs::read_to_string(app.join("20-service.yaml")).unwrap()
    );
    let piped =
        stdout_of(rollsim().args(["validate", "-f", "-", "--simulation"]).arg(&sim).write_stdin(manifests));
    assert!(
        piped.starts_with("<stdin> (+1 more files): ok: Simulation generated releases web:1 → web:2"),
        "{piped}"
    );
    let whole = stdout_of(rollsim().arg("validate").arg(&one));
    assert_eq!(piped.split_once(": ok: ").unwrap().1, whole.split_once(": ok: ").unwrap().1);
}

#[test]
fn errors_name_the_file_they_are_in() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    let service = app.join("20-service.yaml");
    let text = std::fs::read_to_string(&service).unwrap().replace("selector: {app: web}", "selector: [web]");
    std::fs::write(&service, text).unwrap();
    let out = rollsim().args(["validate", "-f"]).arg(&app).arg("--simulation").arg(&sim).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("--> {}:5:13", service.display())), "{stderr}");

    // Without any Simulation: the help writes one for the files' own Deployment.
    let out = rollsim().args(["validate", "-f"]).arg(&app).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no `rollsim.dev/v1alpha1 Simulation` document in these files"), "{stderr}");
    assert!(
        stderr.contains("release: {workload: Deployment/web, from: \"web:previous\", at: 5m}"),
        "{stderr}"
    );

    // A path that is not there, and no scenario at all.
    let out = rollsim().args(["run", "-f"]).arg(dir.path().join("nope")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rollsim().args(["run", "--simulation"]).arg(&sim).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("no scenario given"));
}

#[test]
fn every_scenario_command_takes_the_same_input_options() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    let with_input = |cmd: &mut Command| {
        cmd.arg("-f").arg(&app).arg("--simulation").arg(&sim);
    };
    let mut trace = rollsim();
    trace.arg("trace");
    with_input(&mut trace);
    assert!(stdout_of(&mut trace).starts_with("# generated replication 0"));

    let mut query = rollsim();
    query.arg("query");
    with_input(&mut query);
    query.args(["--at", "5m", "sum(up)"]);
    assert!(stdout_of(&mut query).contains("t=5m"));

    let mut sweep = rollsim();
    sweep.arg("sweep");
    with_input(&mut sweep);
    sweep
        .args(["--grid", "spec.traffic.rps=100,200", "-n", "1", "--format", "csv", "--out"])
        .arg(dir.path().join("sweep"));
    assert!(stdout_of(&mut sweep).contains("spec.traffic.rps"));

    // compare: a scenario file and the -f scenario, quietly.
    let one = dir.path().join("one.yaml");
    let mut compare = rollsim();
    compare.arg("compare").arg(&one);
    with_input(&mut compare);
    compare.args(["-n", "2", "--quiet", "--format", "csv", "--out"]).arg(dir.path().join("compare"));
    let out = compare.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("rollsim: comparing"), "{stderr}");
}

#[test]
fn validate_takes_set() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, one) = split(dir.path());
    let out = stdout_of(rollsim().arg("validate").arg(&one).args(["--set", "spec.replications=17"]));
    assert!(out.contains("(17 replications of 30m)"), "{out}");
    let out = rollsim().arg("validate").arg(&one).args(["--set", "spec.replications=-1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--> --set:1:"));
}

#[test]
fn a_deployment_no_service_selects_runs_its_rollout_without_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    std::fs::remove_file(app.join("20-service.yaml")).unwrap();
    let out_dir = dir.path().join("out");
    let out = rollsim()
        .arg("run")
        .arg("-f")
        .arg(&app)
        .arg("--simulation")
        .arg(&sim)
        .args(["--format", "json", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: no Service selects the pods of Deployment/web: its pods get no traffic"),
        "{stderr}"
    );
    let runs = std::fs::read_to_string(out_dir.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col =
        |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name}: {header:?}"));
    let (requests, outcome) = (col("requests"), col("outcome"));
    for line in lines {
        let row: Vec<&str> = line.split(',').collect();
        assert_eq!(row[requests], "0", "{line}");
        // The rolling update still runs to its end.
        assert_eq!(row[outcome], "completed", "{line}");
    }
}

#[test]
fn other_kinds_are_noted_and_a_near_miss_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    std::fs::write(
        app.join("30-extra.yaml"),
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n---\napiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: main}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    .unwrap();
    let out = stdout_of(rollsim().args(["validate", "-f"]).arg(&app).arg("--simulation").arg(&sim));
    for note in [
        "note: PersistentVolumeClaim/data is not simulated (rollsim skips this kind)",
        "note: Prometheus/main is not simulated (rollsim skips this kind)",
        "note: Widget/w is not simulated (rollsim skips this kind)",
    ] {
        assert!(out.contains(note), "{note}: {out}");
    }
    let deployment = app.join("10-deployment.yaml");
    let text =
        std::fs::read_to_string(&deployment).unwrap().replacen("kind: Deployment", "kind: Deploymnet", 1);
    std::fs::write(&deployment, text).unwrap();
    let out = rollsim().args(["validate", "-f"]).arg(&app).arg("--simulation").arg(&sim).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("unsupported kind `Deploymnet`"), "{stderr}");
    assert!(stderr.contains(&format!("--> {}:2:7", deployment.display())), "{stderr}");
    assert!(stderr.contains("did you mean `Deployment`?"), "{stderr}");
}

#[test]
fn the_same_deployment_in_two_directories_says_where_both_are() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(app.join("10-deployment.yaml"), old.join("deployment.yaml")).unwrap();
    let out = rollsim()
        .args(["validate", "-f"])
        .arg(&app)
        .arg("-f")
        .arg(&old)
        .arg("--simulation")
        .arg(&sim)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("`spec.release.workload` is ambiguous: 2 Deployments are named `web`"),
        "{stderr}"
    );
    let both = format!(
        "they are at {}:3 and {}:3;",
        app.join("10-deployment.yaml").display(),
        old.join("deployment.yaml").display()
    );
    assert!(stderr.contains(&both), "{both}: {stderr}");
    assert!(stderr.contains("leave the other out of the files given (`-f`), or rename it"), "{stderr}");
}

#[test]
fn a_document_end_line_from_a_docs_snippet_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (app, sim, _) = split(dir.path());
    let service = app.join("20-service.yaml");
    let text = std::fs::read_to_string(&service).unwrap().replacen("spec:\n", "spec:\n...\n", 1);
    std::fs::write(&service, text).unwrap();
    let out = rollsim().args(["validate", "-f"]).arg(&app).arg("--simulation").arg(&sim).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 5 is `...`, which ends a YAML document"), "{stderr}");
    assert!(stderr.contains(&service.display().to_string()), "{stderr}");
}
