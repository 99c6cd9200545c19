//! The terminal side of the CLI: shell completions, an example in every `--help`, and
//! tables laid out for the terminal's width but never cut when piped.

use crate::common::{Params, yaml};
use assert_cmd::Command;
use clap::CommandFactory;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn subcommands() -> Vec<String> {
    rollsim::cli::Cli::command().get_subcommands().map(|c| c.get_name().to_owned()).collect()
}

#[test]
fn bash_completions_name_every_subcommand() {
    let output = rollsim().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(script.contains("complete -F") && script.contains("rollsim"), "{script}");
    let names = subcommands();
    assert!(names.len() >= 11, "{names:?}");
    for name in names {
        assert!(script.contains(&name), "bash completions lack {name}");
    }
    // The trace flag of this helper is completed too.
    assert!(script.contains("--explain"));
}

#[test]
fn completions_for_every_shell_and_a_bad_shell_is_bad_input() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = rollsim().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains("sweep") && script.contains("replications"), "{shell}: {script}");
    }
    let output = rollsim().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("possible values"));
}

#[test]
fn every_help_has_an_example() {
    let top = rollsim().arg("--help").output().unwrap();
    assert!(String::from_utf8(top.stdout).unwrap().contains("Example"));
    for name in subcommands() {
        let output = rollsim().args([name.as_str(), "--help"]).output().unwrap();
        assert!(output.status.success(), "{name}");
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("Example"), "`rollsim {name} --help` has no example:\n{help}");
        assert!(help.contains("  rollsim "), "`rollsim {name} --help` example is no command:\n{help}");
    }
}

/// Piped, a table is laid out as on an unlimited terminal; `COLUMNS` narrows it.
#[test]
fn piped_tables_are_never_cut_and_columns_narrows_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, name) in
        ["a-scenario-with-a-rather-long-name", "another-scenario-with-a-long-name"].iter().enumerate()
    {
        let text = yaml(&Params { replications: 3, seed: 3 + i as u64, ..Params::default() });
        let text = text.replace("{name: generated}", &format!("{{name: {name}}}"));
        let path = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let run = |columns: Option<&str>| {
        let mut cmd = rollsim();
        cmd.env_remove("COLUMNS").arg("run").args(&files).arg("--out").arg(dir.path().join("out")).arg("-q");
        if let Some(c) = columns {
            cmd.env("COLUMNS", c);
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let piped = run(None);
    assert!(piped.contains("a-scenario-with-a-rather-long-name"), "{piped}");
    assert!(!piped.contains('…') && !piped.contains("lines cut"), "{piped}");
    assert_eq!(piped, run(Some("100000")));
    let narrow = run(Some("60"));
    assert!(narrow.lines().all(|l| l.chars().count() <= 60), "{narrow}");
    assert_ne!(narrow, piped);
}
