//! The command line: argument parsing, and the glue from scenario files to reports.
//!
//! Exit codes: 0 success, 1 an I/O or internal failure, 2 bad input (a scenario or an
//! argument that does not parse or validate).

mod check;
mod compare;
mod export;
mod merge;
mod plot;
mod progress;
mod query;
mod recommend;
mod report_html;
pub mod slo_rules;
mod stream;
mod sweep;
mod tune;

use crate::report;
use crate::report::rundir::Shard;
use crate::scenario::{self, Override, Scenario, ScenarioError};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The built-in example, also kept as `scenarios/rolling-bad-release.yaml`.
use crate::scenario::{EXAMPLE_FILE_NAME as EXAMPLE_NAME, EXAMPLE_YAML as EXAMPLE};

#[derive(Parser, Debug)]
#[command(
    name = "rollsim",
    version,
    about = "Simulate Kubernetes releases before you trust them with production",
    long_about = "rollsim replays a release (a Deployment's rolling update, a blue-green Service switch, an Istio canary, an Argo Rollout or a Flagger Canary) over many \
                  seeded replications of a simulated cluster and its traffic, and reports the \
                  blast radius, time to detect, time to roll back and resource overhead.\n\n\
                  With no arguments it runs the built-in example (scenarios/rolling-bad-release.yaml).",
    after_help = "Examples:\n  rollsim run scenarios/rolling-bad-release.yaml --replications 50\n  rollsim run scenarios/same-fault/*.yaml\n  rollsim trace scenarios/argo-canary-istio.yaml\n  rollsim trace scenarios/monitoring-high-error-rate.yaml --explain\n  rollsim completions bash\n  rollsim trace scenarios/rolling-never-ready.yaml\n  rollsim validate my-scenario.yaml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every replication of a scenario; print a summary and write runs.csv,
    /// summary.json and timeline.csv. Given several scenarios, run each and print them side
    /// by side.
    #[command(
        after_help = "Examples:\n  rollsim run scenarios/rolling-bad-release.yaml --replications 50 --set spec.traffic.rps=900\n  rollsim run scenarios/rolling-bad-release.yaml scenarios/rolling-healthy.yaml --out results\n  rollsim run -f k8s/ -f sim.yaml\n  kustomize build . | rollsim run -f - --simulation sim.yaml"
    )]
    Run(RunArgs),
    /// Is the release ready? Harmful settings, resource fit and detection coverage per
    /// strategy, with a verdict and an exit code CI can gate on.
    #[command(after_help = check::AFTER_HELP)]
    Check(check::CheckArgs),
    /// Compare strategies: run each scenario with common random numbers and print every
    /// metric side by side, with paired tests against the first.
    #[command(after_help = compare::AFTER_HELP)]
    Compare(compare::CompareArgs),
    /// Rank strategies by the cost of a release at your prices: bad requests, users
    /// affected, error budget and extra capacity, with your team's response time.
    #[command(after_help = recommend::AFTER_HELP)]
    Recommend(recommend::RecommendArgs),
    /// Tune an alerting rule: each threshold, `for` and window against the faulty version and
    /// a healthy control, with the Pareto frontier and a recommendation.
    #[command(after_help = tune::AFTER_HELP)]
    Tune(tune::TuneArgs),
    /// Print the event log of one replication, as Kubernetes would record it.
    #[command(
        after_help = "Examples:\n  rollsim trace scenarios/rolling-never-ready.yaml --replication 3 --format csv\n  rollsim trace scenarios/monitoring-high-error-rate.yaml --explain"
    )]
    Trace(TraceArgs),
    /// Evaluate a PromQL expression against one replication's simulated Prometheus: what an
    /// alert or an analysis would have seen at that moment.
    #[command(
        after_help = "Examples:\n  rollsim query scenarios/rolling-bad-release.yaml --at 10m 'sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))'\n  rollsim query scenarios/flagger-canary.yaml --at 8m --at 9m 'ALERTS'"
    )]
    Query(query::QueryArgs),
    /// Write one replication's simulated scrape samples as OpenMetrics text, to load into a
    /// real Prometheus (`promtool tsdb create-blocks-from openmetrics`) and Grafana.
    #[command(after_help = export::AFTER_HELP)]
    Export(export::ExportArgs),
    /// Run a scenario at every point of a grid of values (any Simulation or manifest value by
    /// its dotted path) and write one row per grid point and metric to sweep.csv.
    #[command(after_help = sweep::AFTER_HELP)]
    Sweep(sweep::SweepArgs),
    /// Check a scenario file and report every problem with its file, line and column.
    #[command(
        after_help = "Examples:\n  rollsim validate scenarios/recreate-downtime.yaml\n  rollsim validate -f k8s/ --simulation sim.yaml --set spec.traffic.rps=900"
    )]
    Validate(ValidateArgs),
    /// Write the SRE Workbook's SLO alerts (multiwindow, multi-burn-rate) as a PrometheusRule.
    #[command(after_help = slo_rules::AFTER_HELP)]
    SloRules(slo_rules::SloRulesArgs),
    /// Combine the output directories of `rollsim run --shard I/N` into the results of the
    /// unsharded run, byte for byte.
    #[command(after_help = merge::AFTER_HELP)]
    Merge(merge::MergeArgs),
    /// Draw the plots of saved results (a run, compare, tune or sweep directory) again, as PNG
    /// and SVG in DIR/plots/.
    #[command(after_help = plot::AFTER_HELP)]
    Plot(plot::PlotArgs),
    /// Write one self-contained DIR/report.html from a results directory: the scenario, the
    /// summary with its intervals, the plots, the decisions and why, the recommendation.
    #[command(after_help = report_html::AFTER_HELP)]
    Report(report_html::ReportArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_HELP: &str = "Examples:
  rollsim completions bash > ~/.local/share/bash-completion/completions/rollsim
  rollsim completions zsh > ~/.zfunc/_rollsim
  rollsim completions fish > ~/.config/fish/completions/rollsim.fish";

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where a scenario's documents come from, the same for every command that takes a scenario:
/// `-f PATH` (repeatable, as `kubectl apply -f`) and `--simulation FILE`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct InputArgs {
    /// A manifest file, a directory (its *.yaml, *.yml and *.json files, by name) or `-`
    /// (standard input), repeatable: all of them, in the order given, are one scenario.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filename: Vec<PathBuf>,
    /// A file with the Simulation document, for manifests that carry none (added to the -f
    /// files; without -f, to each FILE).
    #[arg(long, value_name = "FILE")]
    pub simulation: Option<PathBuf>,
}

impl InputArgs {
    /// The scenarios given: each of `files` (a scenario file each), then the `-f` paths as one
    /// more. `--simulation` is added to the `-f` scenario, or, without `-f`, to each file.
    /// Reading fails with every unreadable path.
    pub fn scenarios(&self, files: &[PathBuf]) -> Result<Vec<scenario::Input>, Failure> {
        let mut inputs = Vec::new();
        let mut failures: Vec<ScenarioError> = Vec::new();
        for read in self.read_each(files)? {
            match read {
                Ok(input) => inputs.push(input),
                Err(e) => failures.push(e),
            }
        }
        if failures.is_empty() {
            Ok(inputs)
        } else {
            let diagnostics = failures.into_iter().flat_map(|e| e.diagnostics).collect();
            Err(ScenarioError { diagnostics }.into())
        }
    }

    /// [`scenarios`](Self::scenarios), each read on its own (fails only when none is given).
    pub fn read_each(
        &self,
        files: &[PathBuf],
    ) -> Result<Vec<Result<scenario::Input, ScenarioError>>, Failure> {
        if files.is_empty() && self.filename.is_empty() {
            return Err(Failure {
                code: 2,
                message:
                    "error: no scenario given: name a scenario FILE, or give the manifests with -f PATH \
                          (a file, a directory or - for standard input) and, if they have no Simulation, \
                          --simulation FILE"
                        .into(),
            });
        }
        let with_f = !self.filename.is_empty();
        let groups = files
            .iter()
            .map(|f| (std::slice::from_ref(f), !with_f))
            .chain(with_f.then_some((self.filename.as_slice(), true)));
        Ok(groups
            .map(|(group, simulation)| {
                let simulation = self.simulation.as_deref().filter(|_| simulation);
                scenario::Input::read(group, simulation)
            })
            .collect())
    }

    /// The one scenario given: `file` (if any) and the `-f` paths, read as one.
    pub fn scenario(&self, file: Option<&Path>) -> Result<scenario::Input, Failure> {
        let mut paths: Vec<PathBuf> = file.map(Path::to_path_buf).into_iter().collect();
        paths.extend(self.filename.iter().cloned());
        let only = InputArgs { filename: paths, simulation: self.simulation.clone() };
        let mut inputs = only.scenarios(&[])?;
        Ok(inputs.remove(0))
    }
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct ScenarioArgs {
    /// The scenario file: your manifests plus one Simulation document (or give them with -f).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Override a Simulation or manifest value by its dotted path, e.g. spec.traffic.rps=900
    /// or Deployment/myapp.spec.replicas=6 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The scenario seed (overrides spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl ScenarioArgs {
    /// Reads the scenario's files (once: standard input cannot be read again).
    pub fn read(&self) -> Result<scenario::Input, Failure> {
        self.input.scenario(self.file.as_deref())
    }
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario files: your manifests plus one Simulation document each. Several files
    /// run one after another and print side by side, one column per scenario (the -f files
    /// are one more scenario).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Override a Simulation or manifest value by its dotted path, e.g. spec.traffic.rps=900
    /// or Deployment/myapp.spec.replicas=6 (repeatable; applies to every file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The scenario seed (overrides spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of replications (overrides spec.replications).
    #[arg(long, short = 'n')]
    pub replications: Option<u64>,
    /// Where to write the results (default: output/<scenario name>/; with several files,
    /// DIR/<scenario name>/ for each).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the summary on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard I of N (counting from 0): the contiguous block of replications
    /// ⌊I·R/N⌋..⌊(I+1)·R/N⌋. `rollsim merge` combines the N shard directories.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Continue an interrupted run in the output directory: keep its finished replications
    /// and run the rest (the same file and options are required).
    #[arg(long)]
    pub resume: bool,
    /// Draw no progress bar (there is none anyway when standard error is not a terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also draw the plots (timeline, distributions) as PNG and SVG into DIR/plots/.
    #[arg(long)]
    pub plots: bool,
    /// Also write a self-contained report.html into each output directory (as `rollsim
    /// report DIR` does).
    #[arg(long)]
    pub report: bool,
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Which replication to tell.
    #[arg(long, default_value_t = 0)]
    pub replication: u64,
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
    /// Tell the replication as a story in plain English: one line per decision, each with
    /// the rule that made it (instead of the event log).
    #[arg(long, conflicts_with = "format")]
    pub explain: bool,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Text,
    Csv,
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure { code: 2, message: e.to_string() }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        // The user's to fix (a full disk, no permission, read-only): bad input, exit 2.
        Failure {
            code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
            message: format!("error: {e}"),
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(()) => 0,
        Err(f) if f.message.contains("Broken pipe") => 0,
        Err(f) => {
            eprintln!("{}", f.message.trim_end());
            f.code
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        None => {
            let scenario = scenario::load_str(EXAMPLE_NAME, EXAMPLE, &[])?;
            eprintln!(
                "rollsim: no command given; running the built-in example ({EXAMPLE_NAME}). See `rollsim --help`."
            );
            run(&scenario, None, Format::Table, stream::RunOptions::new(None), false)
        }
        Some(Command::Run(args)) => run_command(&args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Recommend(args)) => recommend::run(&args),
        Some(Command::Tune(args)) => tune::run(&args),
        Some(Command::Trace(args)) => trace(&args),
        Some(Command::Query(args)) => query::query(&args),
        Some(Command::Export(args)) => export::run(&args),
        Some(Command::SloRules(args)) => slo_rules::run(&args),
        Some(Command::Sweep(args)) => sweep::sweep(&args),
        Some(Command::Merge(args)) => merge::merge(&args),
        Some(Command::Plot(args)) => plot::run(&args),
        Some(Command::Report(args)) => report_html::run(&args),
        Some(Command::Completions(args)) => {
            let mut out = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "rollsim",
                &mut out,
            );
            std::io::stdout().lock().write_all(&out)?;
            Ok(())
        }
        Some(Command::Validate(args)) => validate(&args.scenario),
    }
}

/// `rollsim validate`: loads the scenario (with its `--set` and `--seed`), prints what it
/// releases and its notes, then loads each of its variants.
fn validate(args: &ScenarioArgs) -> Result<(), Failure> {
    let input = args.read()?;
    let scenario = load_input(&input, &args.set, args.seed, None, &[])?;
    println!(
        "{}: ok: Simulation {} releases {} → {} by {} ({} replications of {})",
        input_label(&input),
        scenario.name,
        scenario.release.from_image,
        scenario.release.to_image,
        scenario.release_summary(),
        scenario.replications,
        scenario::units::format_duration(scenario.duration)
    );
    for note in &scenario.notes {
        println!("  note: {note}");
    }
    let mut failures = Vec::new();
    for variant in &scenario.variants {
        match load_input(&input, &args.set, args.seed, None, &variant.overrides) {
            Ok(v) => println!("  variant {}: {}", variant.name, v.release_summary()),
            Err(e) => failures.push(format!("{}  (in variant `{}`)", e.message.trim_end(), variant.name)),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(Failure { code: 2, message: failures.join("\n") }) }
}

/// How messages name a scenario: its file, or its first file and how many more.
pub(crate) fn input_label(input: &scenario::Input) -> String {
    match input.parts.len() {
        0 | 1 => input.label().to_string(),
        n => format!("{} (+{} more files)", input.label(), n - 1),
    }
}

fn load(args: &ScenarioArgs, replications: Option<u64>) -> Result<Scenario, Failure> {
    load_input(&args.read()?, &args.set, args.seed, replications, &[])
}

/// Loads `input` with `first` applied before the command line's overrides (a variant's
/// `set`), then `--set`, `--seed` and the replications.
fn load_input(
    input: &scenario::Input,
    set: &[String],
    seed: Option<u64>,
    replications: Option<u64>,
    first: &[Override],
) -> Result<Scenario, Failure> {
    let mut overrides = first.to_vec();
    for s in set {
        overrides.push(
            scenario::parse_override(s)
                .map_err(|m| Failure { code: 2, message: format!("error: --set {s}: {m}") })?,
        );
    }
    if let Some(seed) = seed {
        overrides.push(Override::new("spec.seed", seed.to_string()));
    }
    if let Some(n) = replications {
        overrides.push(Override::new("spec.replications", n.to_string()));
    }
    Ok(scenario::load_input(input, &overrides)?)
}

/// `rollsim run FILE…`: one file as [`run`]; several loaded first (every bad file reported
/// before anything runs), then run one after another and printed side by side.
fn run_command(args: &RunArgs) -> Result<(), Failure> {
    let mut inputs = Vec::new();
    let mut scenarios = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    for read in args.input.read_each(&args.files)? {
        let input = match read {
            Ok(input) => input,
            Err(e) => {
                failures.push(e.into());
                continue;
            }
        };
        match load_input(&input, &args.set, args.seed, args.replications, &[]) {
            Ok(s) => scenarios.push(s),
            // A bad --set fails every file alike: say it once.
            Err(f) if failures.iter().any(|g| g.message == f.message) => {}
            Err(f) => failures.push(f),
        }
        inputs.push(input);
    }
    if failures.len() == 1 {
        return Err(failures.remove(0));
    }
    if !failures.is_empty() {
        let code = failures.iter().map(|f| f.code).max().unwrap_or(1);
        let message: Vec<&str> = failures.iter().map(|f| f.message.trim_end()).collect();
        return Err(Failure { code, message: message.join("\n") });
    }
    let options = stream::RunOptions {
        threads: args.threads,
        shard: args.shard.unwrap_or(Shard::WHOLE),
        resume: args.resume,
        progress: progress::wanted(args.quiet),
    };
    if let [scenario] = scenarios.as_slice() {
        let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&scenario.name));
        run(scenario, Some(&out_dir), args.format, options, args.report)?;
        return plots_if(args.plots, args.shard.is_some(), &out_dir);
    }

    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    let labels = report::distinct_labels(&names);
    let base = args.out.clone().unwrap_or_else(|| PathBuf::from("output"));
    for ((input, name), label) in inputs.iter().zip(&names).zip(&labels) {
        if label != name {
            eprintln!(
                "rollsim: {}: another scenario is also named {name}; this one is {label} (results go to {})",
                input_label(input),
                base.join(label).display()
            );
        }
    }
    let mut columns = Vec::with_capacity(scenarios.len());
    for (scenario, label) in scenarios.iter().zip(labels) {
        let summary = stream::simulate(scenario, &base.join(&label), options)?;
        if args.report && options.shard == Shard::WHOLE {
            report_html::write(&base.join(&label))?;
        }
        columns.push((label, summary));
    }
    let dirs: Vec<PathBuf> = columns.iter().map(|(label, _)| base.join(label)).collect();
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match args.format {
        Format::Table => {
            let color = stdout_is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let table = report::render_compare_table(&columns, terminal_width(), color);
            lock.write_all(table.as_bytes())?;
        }
        Format::Json => {
            lock.write_all(report::compare_json_string(&columns).as_bytes())?;
            lock.write_all(b"\n")?;
        }
        Format::Csv => lock.write_all(report::compare_csv_string(&columns).as_bytes())?,
    }
    drop(lock);
    for dir in &dirs {
        plots_if(args.plots, args.shard.is_some(), dir)?;
    }
    Ok(())
}

/// `--plots`: draws the plots of `dir` when asked to (not for one shard: its plots would be
/// of part of the run).
fn plots_if(wanted: bool, shard: bool, dir: &Path) -> Result<(), Failure> {
    match (wanted, shard) {
        (false, _) => Ok(()),
        (true, true) => {
            eprintln!("rollsim: --plots: a shard draws no plots; run `rollsim plot` on the merged directory");
            Ok(())
        }
        (true, false) => plot::draw(dir),
    }
}

/// Runs one scenario, writes its files to `out` (or `output/<scenario name>/`) and prints
/// its summary.
fn run(
    scenario: &Scenario,
    out: Option<&Path>,
    format: Format,
    options: stream::RunOptions,
    with_report: bool,
) -> Result<(), Failure> {
    let out_dir = out.map(Path::to_path_buf).unwrap_or_else(|| Path::new("output").join(&scenario.name));
    let summary = stream::simulate(scenario, &out_dir, options)?;
    // A shard's directory holds part of a run: its report comes after `rollsim merge`.
    if with_report {
        if options.shard == Shard::WHOLE {
            report_html::write(&out_dir)?;
        } else {
            eprintln!("rollsim: --report: a shard holds part of the run; report on the merged directory");
        }
    }
    print_summary(&summary, &scenario.name, format)
}

/// Prints a summary on standard output in the chosen format.
fn print_summary(
    summary: &crate::experiment::stats::SummaryTable,
    scenario_name: &str,
    format: Format,
) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match format {
        Format::Table => {
            let tty = stdout_is_terminal();
            let color = tty && std::env::var_os("NO_COLOR").is_none();
            let width = terminal_width();
            let table = report::render_summary_table(summary, width, color);
            lock.write_all(table.as_bytes())?;
        }
        Format::Json => {
            lock.write_all(report::summary_json_string(summary, scenario_name).as_bytes())?;
            lock.write_all(b"\n")?;
        }
        Format::Csv => lock.write_all(report::summary_csv_string(summary).as_bytes())?,
    }
    Ok(())
}

fn trace(args: &TraceArgs) -> Result<(), Failure> {
    let scenario = load(&args.scenario, None)?;
    let collect = crate::experiment::world::Collect { timeline: false, trace: true, store: false };
    let result = crate::experiment::world::run_replication(&scenario, args.replication, collect);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if args.explain {
        writeln!(
            lock,
            "# {} replication {} (seed {}): outcome {}; told step by step (pod start-up steps are in the plain trace)",
            scenario.name,
            args.replication,
            result.record.seed,
            result.record.outcome.as_str()
        )?;
        lock.write_all(report::explain_trace(&scenario, &result.trace).as_bytes())?;
        return Ok(());
    }
    match args.format {
        TraceFormat::Text => {
            writeln!(
                lock,
                "# {} replication {} (seed {}): outcome {}",
                scenario.name,
                args.replication,
                result.record.seed,
                result.record.outcome.as_str()
            )?;
            lock.write_all(report::format_trace_text(&result.trace).as_bytes())?;
        }
        TraceFormat::Csv => report::write_trace_csv(&mut lock, &result.trace)?,
    }
    Ok(())
}

fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Wide enough that nothing is ever cut: the width of piped output.
const UNLIMITED_WIDTH: usize = 1 << 16;

/// The width tables are laid out for: `COLUMNS` when it is set (40 or more), else the
/// terminal's width when standard output is a terminal, else no limit (piped output is never
/// cut).
fn terminal_width() -> usize {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok());
    table_width(columns, stdout_is_terminal(), || {
        terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
    })
}

/// [`terminal_width`] from its inputs: `COLUMNS`, whether stdout is a terminal, its size.
fn table_width(columns: Option<usize>, tty: bool, size: impl FnOnce() -> Option<usize>) -> usize {
    match columns.filter(|&w| w >= 40) {
        Some(w) => w,
        None if tty => size().unwrap_or(100).max(40),
        None => UNLIMITED_WIDTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_wins_then_the_terminal_then_no_limit() {
        let no_size = || -> Option<usize> { panic!("the terminal is not asked when COLUMNS is set") };
        assert_eq!(table_width(Some(72), true, no_size), 72);
        assert_eq!(table_width(Some(72), false, no_size), 72);
        // Too narrow a COLUMNS is ignored like an unset one.
        assert_eq!(table_width(Some(10), true, || Some(90)), 90);
        assert_eq!(table_width(None, true, || Some(132)), 132);
        assert_eq!(table_width(None, true, || None), 100);
        assert_eq!(table_width(None, true, || Some(20)), 40);
        assert_eq!(table_width(None, false, || Some(90)), UNLIMITED_WIDTH);
    }
}
