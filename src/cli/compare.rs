//! `rollsim compare FILE... [--by METRIC]`: strategies side by side, with common random
//! numbers and paired tests against the first file.

use super::{Failure, Format, InputArgs, input_label, load_input};
use crate::experiment::paired::{compare, compared_metrics};
use crate::experiment::runner::{RunPlan, run_all};
use crate::report::{self, html, write_atomically};
use crate::scenario::Input;
use crate::scenario::Scenario;
use std::io::Write;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "Every scenario runs with the same seed (--seed, else the first file's) and the same number \
of replications, so replication i of each meets the same arrivals, users and people: common random numbers. Each \
strategy is compared with the first file's, replication by replication (a paired t-test), and the p-values of the \
whole table are adjusted together (Holm); `*` marks a difference significant at 5%. Shares (rolled back, false \
alarms) are compared as 0/1 values the same way.\n\n\
Metrics for --by: detected_at_s, time_to_rollback_s, rolled_back, bad_requests, users_affected, error_budget_pct, \
completed_at_s, overhead_pct, extra_pod_seconds, false_alarm.\n\n\
Examples:\n  rollsim compare scenarios/same-fault/rolling.yaml scenarios/same-fault/bluegreen.yaml scenarios/same-fault/flagger.yaml\n  \
rollsim compare scenarios/same-fault/*.yaml --by bad_requests --replications 50 --out results";

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The scenario files, one strategy each (a file that defines spec.variants stands for
    /// its variants); the first is the baseline the others are tested against.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Order the columns by this metric's mean, lowest first (the baseline stays the first
    /// file).
    #[arg(long, value_name = "METRIC")]
    pub by: Option<String>,
    /// Override a Simulation value by its dotted path (repeatable; applies to every file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The seed every scenario runs with (default: the first file's spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications of each scenario (default: the first file's spec.replications).
    #[arg(long, short = 'n')]
    pub replications: Option<u64>,
    /// Where to write compare.csv, compare.json and each scenario's runs.csv (default:
    /// output/compare/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the comparison on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also draw the distributions of every strategy side by side as PNG and SVG into
    /// DIR/plots/.
    #[arg(long)]
    pub plots: bool,
    /// Also write a self-contained report.html into the output directory (as `rollsim
    /// report DIR` does).
    #[arg(long)]
    pub report: bool,
    /// Print no progress on standard error (the line per strategy as it runs), as `run
    /// --quiet` draws no progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Loads `files` so that they share their random numbers: the first fixes the seed (unless
/// `seed` does) and the replication count (unless `replications` does) for all. A file
/// that defines `spec.variants` stands for its variants, one strategy each, named after the
/// variant (after `FILE-NAME.VARIANT` when several files are given). Every bad file and
/// variant is reported before any runs; fewer than two strategies in all is refused.
pub(super) fn load_sharing_numbers(
    inputs: &[Input],
    set: &[String],
    seed: Option<u64>,
    replications: Option<u64>,
) -> Result<Vec<Scenario>, Failure> {
    let first = load_input(&inputs[0], set, seed, replications, &[])?;
    let (seed, replications) = (first.seed, first.replications);
    let mut bases = vec![(&inputs[0], first)];
    let mut failures = Vec::new();
    for input in &inputs[1..] {
        match load_input(input, set, Some(seed), Some(replications), &[]) {
            Ok(s) => bases.push((input, s)),
            Err(f) => failures.push(f.message.trim_end().to_owned()),
        }
    }
    let several = inputs.len() > 1;
    let mut scenarios = Vec::new();
    for (input, base) in bases {
        if base.variants.is_empty() {
            scenarios.push(base);
            continue;
        }
        for variant in &base.variants {
            match load_input(input, set, Some(seed), Some(replications), &variant.overrides) {
                Ok(mut s) => {
                    s.name = if several {
                        format!("{}.{}", base.name, variant.name)
                    } else {
                        variant.name.clone()
                    };
                    scenarios.push(s);
                }
                Err(f) => failures.push(format!(
                    "{}\n  (in variant `{}` of {})",
                    f.message.trim_end(),
                    variant.name,
                    input_label(input)
                )),
            }
        }
    }
    if !failures.is_empty() {
        return Err(Failure { code: 2, message: failures.join("\n") });
    }
    if scenarios.len() < 2 {
        return Err(Failure {
            code: 2,
            message: format!(
                "error: {} defines one strategy only; give two or more scenario files, or define the \
                 strategies to compare under spec.variants (each a name and the values it sets), e.g.\n  \
                 variants:\n  - name: surge-25\n    set: {{}}\n  - name: surge-100\n    set: \
                 {{Deployment/myapp.spec.strategy.rollingUpdate.maxSurge: 100%}}",
                input_label(&inputs[0])
            ),
        });
    }
    // Each strategy is within the work budget alone; together they must be too.
    let all: Vec<&Scenario> = scenarios.iter().collect();
    crate::scenario::check_total_work(&all, &format!("the {} strategies", scenarios.len()))
        .map_err(|message| Failure { code: 2, message })?;
    Ok(scenarios)
}

pub fn run(args: &CompareArgs) -> Result<(), Failure> {
    if let Some(by) = &args.by
        && !compared_metrics().iter().any(|m| m.0 == by)
    {
        let names: Vec<&str> = compared_metrics().iter().map(|m| m.0).collect();
        return Err(Failure {
            code: 2,
            message: format!("error: --by {by}: not a compared metric; use one of {}", names.join(", ")),
        });
    }
    let inputs = args.input.scenarios(&args.files)?;
    let scenarios = load_sharing_numbers(&inputs, &args.set, args.seed, args.replications)?;
    let (seed, replications) = (scenarios[0].seed, scenarios[0].replications);
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    let labels = report::distinct_labels(&names);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("output").join("compare"));
    let _lock =
        crate::report::outdir::prepare(&out).map_err(|e| Failure { code: e.code, message: e.message })?;
    let say = |line: String| {
        if !args.quiet {
            eprintln!("{line}");
        }
    };
    say(format!(
        "rollsim: comparing {} strategies, {replications} replications each, seed {seed} (common random numbers); results go to {}",
        scenarios.len(),
        out.display()
    ));
    let mut runs = Vec::with_capacity(scenarios.len());
    for (scenario, label) in scenarios.iter().zip(&labels) {
        say(format!("rollsim: {label}: {}", scenario.release_summary()));
        // Replication 0's event log gives the decisions the report tells.
        let plan = RunPlan { threads: args.threads, trace_of: Some(0), ..RunPlan::default() };
        let results = run_all(scenario, plan);
        let dir = out.join(label);
        std::fs::create_dir_all(&dir).map_err(|e| Failure {
            code: 1,
            message: format!("error: cannot create the output directory {}: {e}", dir.display()),
        })?;
        if let Some(first) = results.first() {
            html::write_decisions_csv(&dir.join(html::DECISIONS_FILE), &first.trace)?;
        }
        html::Brief::of(scenario).write(&dir)?;
        let records: Vec<_> = results.into_iter().map(|r| r.record).collect();
        report::write_runs_csv(&dir.join("runs.csv"), &records)?;
        runs.push(records);
    }
    let comparison = compare(&labels, &runs, seed, args.by.as_deref());
    let csv = report::paired::comparison_csv_string(&comparison);
    let json = report::paired::comparison_json_string(&comparison);
    write_atomically(&out.join("compare.csv"), |w| w.write_all(csv.as_bytes()))?;
    write_atomically(&out.join("compare.json"), |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")
    })?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match args.format {
        Format::Table => lock.write_all(report::paired::render_comparison_table(&comparison).as_bytes())?,
        Format::Json => {
            lock.write_all(json.as_bytes())?;
            lock.write_all(b"\n")?;
        }
        Format::Csv => lock.write_all(csv.as_bytes())?,
    }
    drop(lock);
    if args.plots {
        super::plot::draw(&out)?;
    }
    if args.report {
        super::report_html::write(&out)?;
    }
    Ok(())
}
