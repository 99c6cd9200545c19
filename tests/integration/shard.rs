//! Replications beyond one process (issue 5): `rollsim run --shard I/N` and `rollsim merge`
//! give the unsharded run's bytes, an interrupted run keeps its finished replications and
//! `--resume` completes it to the same bytes, and the Kubernetes Job under `deploy/` runs
//! the shards it says it runs.

use crate::common::{Params, yaml};
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The files of a finished run directory, compared byte for byte.
const FILES: [&str; 4] = ["runs.csv", "summary.json", "timeline.csv", "manifest.json"];

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn scenario_file(dir: &Path, replications: u64) -> PathBuf {
    let text = yaml(&Params {
        replications,
        duration: "20m".into(),
        new_faults: "[{kind: errors, rate: 0.05}]".into(),
        ..Params::default()
    });
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(file: &Path, out: &Path, extra: &[&str]) {
    rollsim()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--set", "spec.traffic.rps=150"])
        .args(extra)
        .assert()
        .success();
}

fn assert_same_files(expected: &Path, actual: &Path) {
    for name in FILES {
        let (e, a) = (std::fs::read(expected.join(name)), std::fs::read(actual.join(name)));
        let e = e.unwrap_or_else(|err| panic!("{}: {err}", expected.join(name).display()));
        let a = a.unwrap_or_else(|err| panic!("{}: {err}", actual.join(name).display()));
        assert!(e == a, "{name} differs between {} and {}", expected.display(), actual.display());
    }
    assert!(!actual.join("runs.csv.partial").exists());
}

#[test]
fn merged_shards_are_byte_identical_to_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), 7);
    let whole = dir.path().join("whole");
    run(&file, &whole, &["--threads", "2"]);
    for count in [1, 2, 3, 5] {
        let mut shards = Vec::new();
        for index in 0..count {
            let out = dir.path().join(format!("n{count}/shard-{index}"));
            run(&file, &out, &["--shard", &format!("{index}/{count}"), "--threads", "1"]);
            shards.push(out);
        }
        shards.reverse(); // any order
        let merged = dir.path().join(format!("n{count}/merged"));
        rollsim().arg("merge").args(&shards).arg("--out").arg(&merged).assert().success();
        assert_same_files(&whole, &merged);
    }
    // A shard holds its block of rows, and only the shard with replication 0 a timeline.
    let runs = std::fs::read_to_string(dir.path().join("n3/shard-1/runs.csv")).unwrap();
    let first: Vec<&str> = runs.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(first, ["2", "3"]);
    assert!(!dir.path().join("n3/shard-1/timeline.csv").exists());
    assert!(!dir.path().join("n3/shard-1/summary.json").exists());
}

fn merge_fails(dirs: &[PathBuf], out: &Path, expected: &str) {
    let output = rollsim().arg("merge").args(dirs).arg("--out").arg(out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn merge_refuses_missing_duplicate_foreign_and_unfinished_shards() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), 4);
    let shard = |name: &str, spec: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["--shard", spec];
        args.extend_from_slice(extra);
        run(&file, &out, &args);
        out
    };
    let a0 = shard("a0", "0/3", &[]);
    let a1 = shard("a1", "1/3", &[]);
    let a2 = shard("a2", "2/3", &[]);
    let other_seed = shard("b2", "2/3", &["--seed", "99"]);
    let other_count = shard("c1", "1/2", &[]);
    let out = dir.path().join("merged");
    merge_fails(&[a0.clone(), a1.clone()], &out, "missing shard 2/3");
    merge_fails(&[a0.clone(), a1.clone(), a1.clone(), a2.clone()], &out, "shard 1/3 is given twice");
    merge_fails(&[a0.clone(), a1.clone(), other_seed], &out, "shards of different runs (seed 7 and 99)");
    merge_fails(&[a0.clone(), other_count], &out, "shards of one run share N");
    merge_fails(&[a0.clone(), dir.path().to_path_buf()], &out, "is not a run directory");
    merge_fails(&[a0.clone(), a1.clone(), a2.clone()], &a1, "is one of the shards");
    // An unfinished shard: its rows still in the partial file.
    std::fs::rename(a2.join("runs.csv"), a2.join("runs.csv.partial")).unwrap();
    merge_fails(
        &[a0.clone(), a1.clone(), a2.clone()],
        &out,
        "shard 2/3 is unfinished: run it again with --resume",
    );
    // A shard whose rows were tampered with.
    std::fs::remove_file(a2.join("runs.csv.partial")).unwrap();
    std::fs::write(a2.join("runs.csv"), "replication\n").unwrap();
    merge_fails(&[a0, a1, a2], &out, "header is not the runs.csv header");
    assert!(!out.exists());
}

#[test]
fn bad_shard_arguments_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), 2);
    for bad in ["3/3", "1/0", "one/two"] {
        let output = rollsim().arg("run").arg(&file).args(["--shard", bad]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--shard"), "{stderr}");
    }
}

/// Rows of the partial runs file (header excluded), counting only whole lines.
fn rows_on_disk(out: &Path) -> usize {
    let text = std::fs::read(out.join("runs.csv.partial")).unwrap_or_default();
    text.iter().filter(|&&b| b == b'\n').count().saturating_sub(1)
}

/// Starts a run, waits until `rows` replications are on disk, stops it with `signal`
/// (`None`: SIGKILL) and checks the run did not finish.
fn interrupted_run(file: &Path, out: &Path, replications: u64, rows: usize, signal: Option<&str>) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rollsim"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--set", "spec.traffic.rps=150", "--threads", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows_on_disk(out) < rows {
        assert!(Instant::now() < deadline, "no progress on disk");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was interrupted");
        std::thread::sleep(Duration::from_millis(5));
    }
    match signal {
        None => child.kill().unwrap(),
        Some(signal) => {
            let status = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status();
            assert!(status.unwrap().success());
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "interrupted runs do not succeed");
    let kept = rows_on_disk(out);
    assert!(kept >= rows && (kept as u64) < replications, "{kept} rows kept of {replications}");
    assert!(!out.join("runs.csv").exists() && !out.join("summary.json").exists());
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let replications = 1000;
    let file = scenario_file(dir.path(), replications);
    let whole = dir.path().join("whole");
    run(&file, &whole, &["--threads", "2"]);

    for (name, signal) in [("killed", None), ("interrupted", Some("-INT"))] {
        let out = dir.path().join(name);
        interrupted_run(&file, &out, replications, 5, signal);
        let kept = rows_on_disk(&out);
        let output = rollsim()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .args(["--set", "spec.traffic.rps=150", "--resume", "--threads", "1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("resuming: {kept} of {replications} replications already done")),
            "{stderr}"
        );
        assert_same_files(&whole, &out);
        // Resuming a finished run repeats nothing and changes nothing.
        run(&file, &out, &["--resume"]);
        assert_same_files(&whole, &out);
    }
}

#[test]
fn resume_refuses_another_runs_directory_and_a_torn_row_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), 5);
    let whole = dir.path().join("whole");
    run(&file, &whole, &[]);
    let out = dir.path().join("out");
    run(&file, &out, &["--seed", "8"]);
    let output = rollsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--set", "spec.traffic.rps=150", "--resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // A partial file next to runs.csv: a run started afresh there and not done.
    std::fs::write(out.join("runs.csv.partial"), "").unwrap();
    merge_fails(std::slice::from_ref(&out), &dir.path().join("m"), "shard 0/1 is unfinished");
    assert!(stderr.contains("holds another run (seed 8, but this run's is 7)"), "{stderr}");

    // A power loss mid-row: the partial file ends in half a line. Resume drops it and
    // redoes that replication.
    let out = dir.path().join("torn");
    run(&file, &out, &[]);
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let cut: usize = runs.lines().take(3).map(|l| l.len() + 1).sum::<usize>() + 10;
    std::fs::write(out.join("runs.csv.partial"), &runs[..cut]).unwrap();
    std::fs::remove_file(out.join("runs.csv")).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    let output = rollsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--set", "spec.traffic.rps=150", "--resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("resuming: 2 of 5 replications already done"), "{stderr}");
    assert_same_files(&whole, &out);
}

#[test]
fn no_progress_bar_off_a_terminal_or_with_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), 3);
    for extra in [&[][..], &["--quiet"][..]] {
        let out = dir.path().join("out");
        let output = rollsim().arg("run").arg(&file).arg("--out").arg(&out).args(extra).output().unwrap();
        assert!(output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!stderr.contains('\r') && !stderr.contains('\x1b'), "{stderr:?}");
        assert!(!stderr.contains("elapsed"), "{stderr}");
    }
}
