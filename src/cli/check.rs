//! `rollsim check FILE...`: is this release ready? Harmful settings, resource fit and a
//! detection coverage matrix per strategy, a one-line verdict each, and an exit code CI can
//! gate on (0 every check within the thresholds, 1 one is not, 2 bad input).

use super::{Failure, InputArgs, input_label, load_input};
use crate::experiment::check::coverage::{STANDARD, standard_fault};
use crate::experiment::check::{Thresholds, check};
use crate::report::check::{check_json_string, render_check, verdict_line};
use crate::report::write_atomically;
use crate::scenario::Scenario;
use std::io::Write;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "Each strategy (a file, or each of its spec.variants) gets: configuration findings (legal \
settings that hurt, each with its numbers), the resource fit of its worst moment during the release and a rollback, \
and a detection coverage matrix: the standard bad versions (--faults) and a healthy control, each run -n times with \
the same seeds. Exit code 0 when every strategy is within the thresholds, 1 when one is not, 2 for bad input.\n\n\
Standard faults: errors-0.1pct, errors-1pct, errors-5pct, errors-50pct, latency-5x, crash-at-start, crash-after-10m, \
user-errors-5pct, overload.\n\n\
Examples:\n  rollsim check scenarios/argo-analysis-success-rate.yaml\n  \
rollsim check scenarios/same-fault/*.yaml -n 10 --require errors-5pct,crash-at-start --min-headroom 20\n  \
rollsim check my-release.yaml --replications 0   # configuration and resources only, no simulation";

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The scenario files: your manifests plus one Simulation document each (a file that
    /// defines spec.variants stands for its variants).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Override a Simulation or manifest value by its dotted path (repeatable; applies to
    /// every file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The seed every strategy runs with (default: the first file's spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications of each fault and of the control; 0 skips the coverage matrix.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub replications: u64,
    /// The bad versions to run, comma-separated (default: the whole standard set).
    #[arg(long, value_name = "FAULT,...", value_delimiter = ',')]
    pub faults: Option<Vec<String>>,
    /// The faults a strategy must catch, comma-separated.
    #[arg(
        long,
        value_name = "FAULT,...",
        value_delimiter = ',',
        default_value = "errors-5pct,errors-50pct,crash-at-start"
    )]
    pub require: Vec<String>,
    /// The least P(detect) of each required fault.
    #[arg(long, default_value_t = 0.9, value_name = "P")]
    pub min_detect: f64,
    /// The most false alarms allowed: the healthy control's P(detect).
    #[arg(long, default_value_t = 0.05, value_name = "P")]
    pub max_false_alarm: f64,
    /// The least headroom (percent of the cluster's pod slots left free at the worst moment).
    #[arg(long, default_value_t = 0.0, value_name = "PCT")]
    pub min_headroom: f64,
    /// Report configuration findings without failing on them.
    #[arg(long)]
    pub allow_warnings: bool,
    /// Where check.json goes.
    #[arg(long, value_name = "DIR", default_value = "output/check")]
    pub out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print check.json on standard output instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// A strategy to check: its file, its variant, and the scenario.
struct Target {
    file: String,
    variant: Option<String>,
    scenario: Scenario,
}

/// An I/O error of `check` (its `--out`, standard output): exit 2, so that exit 1 means only
/// that a check failed.
fn io_failure(what: &str, path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure { code: 2, message: format!("error: cannot {what} {}: {e}", path.display()) }
}

fn out_failure(e: std::io::Error) -> Failure {
    Failure { code: 2, message: format!("error: cannot write to standard output: {e}") }
}

fn bad(message: String) -> Failure {
    Failure { code: 2, message }
}

/// Loads every file (and variant), all with the first file's seed unless `--seed` says;
/// every bad file is reported before anything runs.
fn load_targets(args: &CheckArgs) -> Result<Vec<Target>, Failure> {
    let inputs = args.input.scenarios(&args.files)?;
    let mut failures = Vec::new();
    let mut targets = Vec::new();
    let mut seed = args.seed;
    for input in &inputs {
        let base = match load_input(input, &args.set, seed, None, &[]) {
            Ok(s) => s,
            Err(f) => {
                failures.push(f.message.trim_end().to_owned());
                continue;
            }
        };
        seed = Some(base.seed);
        let name = input_label(input);
        if base.variants.is_empty() {
            targets.push(Target { file: name, variant: None, scenario: base });
            continue;
        }
        for variant in &base.variants {
            match load_input(input, &args.set, seed, None, &variant.overrides) {
                Ok(s) => targets.push(Target {
                    file: name.clone(),
                    variant: Some(variant.name.clone()),
                    scenario: s,
                }),
                Err(f) => {
                    failures.push(format!("{}\n  (in variant `{}`)", f.message.trim_end(), variant.name))
                }
            }
        }
    }
    if failures.is_empty() { Ok(targets) } else { Err(bad(failures.join("\n"))) }
}

/// Refuses a fault name outside the standard set, naming the set.
fn known(names: &[String], flag: &str, any: &Scenario) -> Result<(), Failure> {
    for n in names {
        if standard_fault(n, any).is_none() {
            return Err(bad(format!(
                "error: {flag} {n}: no such fault; the standard set is {}",
                STANDARD.join(", ")
            )));
        }
    }
    Ok(())
}

fn probability(p: f64, flag: &str) -> Result<(), Failure> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(bad(format!("error: {flag} {p}: a probability is between 0 and 1 (e.g. 0.9)")))
    }
}

pub fn run(args: &CheckArgs) -> Result<(), Failure> {
    probability(args.min_detect, "--min-detect")?;
    probability(args.max_false_alarm, "--max-false-alarm")?;
    if !args.min_headroom.is_finite() || args.min_headroom > 100.0 {
        return Err(bad(format!(
            "error: --min-headroom {}: a percentage up to 100 (e.g. 20)",
            args.min_headroom
        )));
    }
    let targets = load_targets(args)?;
    let faults: Vec<String> =
        args.faults.clone().unwrap_or_else(|| STANDARD.iter().map(|s| s.to_string()).collect());
    known(&faults, "--faults", &targets[0].scenario)?;
    known(&args.require, "--require", &targets[0].scenario)?;
    if args.replications > 0
        && let Some(r) = args.require.iter().find(|r| !faults.contains(r))
    {
        return Err(bad(format!(
            "error: --require {r}: the fault is not among --faults, so it is never run"
        )));
    }
    let thresholds = Thresholds {
        min_detect: args.min_detect,
        max_false_alarm: args.max_false_alarm,
        min_headroom_pct: args.min_headroom,
        required: if args.replications == 0 { Vec::new() } else { args.require.clone() },
        fail_on_config: !args.allow_warnings,
    };
    let mut checks = Vec::with_capacity(targets.len());
    let stdout = std::io::stdout();
    for t in &targets {
        let mut c = check(&t.scenario, &faults, args.replications, args.threads, &thresholds);
        c.file = t.file.clone();
        c.variant = t.variant.clone();
        if !args.json {
            let mut lock = stdout.lock();
            lock.write_all(render_check(&c).as_bytes()).map_err(out_failure)?;
            lock.write_all(b"\n").map_err(out_failure)?;
        }
        checks.push(c);
    }
    let json =
        check_json_string(&checks, &thresholds, args.replications, targets.first().map(|t| t.scenario.seed));
    std::fs::create_dir_all(&args.out).map_err(|e| io_failure("create", &args.out, e))?;
    let path = args.out.join("check.json");
    write_atomically(&path, |w| w.write_all(json.as_bytes())).map_err(|e| io_failure("write", &path, e))?;
    let mut lock = stdout.lock();
    if args.json {
        lock.write_all(json.as_bytes()).map_err(out_failure)?;
    } else {
        for c in &checks {
            writeln!(lock, "{}", verdict_line(c)).map_err(out_failure)?;
        }
        writeln!(lock, "wrote {}", path.display()).map_err(out_failure)?;
    }
    if checks.iter().all(|c| c.pass) {
        Ok(())
    } else {
        let failed = checks.iter().filter(|c| !c.pass).count();
        Err(Failure {
            code: 1,
            message: format!("rollsim check: {failed} of {} strategies fail", checks.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::experiment::check::coverage::{DEFAULT_REQUIRED, STANDARD};

    #[test]
    fn the_default_requirements_are_the_documented_ones_and_standard() {
        let cli = <super::super::Cli as clap::Parser>::parse_from(["rollsim", "check", "x.yaml"]);
        let Some(super::super::Command::Check(args)) = cli.command else { panic!("not check") };
        assert_eq!(args.require, DEFAULT_REQUIRED);
        assert!(DEFAULT_REQUIRED.iter().all(|r| STANDARD.contains(r)));
        assert_eq!(args.replications, 20);
    }
}
