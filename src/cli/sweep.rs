//! `rollsim sweep FILE --grid PATH=V1,V2,… [--grid …]`: one scenario run at every point of
//! a grid of overrides, one row per grid point and metric in `sweep.csv`.
//!
//! Every grid point is a scenario loaded with `--set` and the point's values as overrides
//! (grid values last, so they win), and all points are loaded before anything runs: a bad
//! value anywhere fails at once with exit code 2. Points run one after another, in the
//! order of [`grid_points`] (first axis slowest), each with all its replications in
//! parallel; the same seed at every point gives common random numbers across the grid.

use super::{Failure, Format, stdout_is_terminal, terminal_width};
use crate::experiment::runner::{RunPlan, run_all};
use crate::experiment::stats::summarize_runs;
use crate::report::{self, SweepPoint};
use crate::scenario::{self, Diagnostic, GridAxis, Override, Scenario, ScenarioError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The most grid points a sweep runs: a bound against a typo multiplying axes by mistake.
pub const MAX_POINTS: usize = 10_000;

pub const AFTER_HELP: &str = "\
Every grid point runs the same replications with the same seeds (the scenario's seed, or
--seed): common random numbers, so the differences between points come from the grid, not
from different random draws.

Grid paths are --set paths: `spec.…` for the Simulation, `Kind/name.…` for a manifest of
that kind and metadata.name. Values are YAML, separated by commas outside quotes and
brackets (`--grid 'spec.pods.startup={kind: fixed, value: 10s},30s'`).

Examples:
  rollsim sweep scenarios/rolling-bad-release.yaml -n 20 --grid spec.traffic.rps=100,500,1000
  rollsim sweep scenarios/monitoring-fast-rule.yaml -n 50 --grid spec.traffic.rps=100,500 \\
      --grid 'PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for=0s,1m,3m'";

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The scenario file: your manifests plus one Simulation document.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A grid axis: a Simulation or manifest value by its dotted path and the values to try,
    /// e.g. spec.traffic.rps=100,1000 (repeatable; the grid is every combination).
    #[arg(long = "grid", value_name = "PATH=V1,V2,...", required = true)]
    pub grid: Vec<String>,
    /// Override a Simulation or manifest value at every grid point, e.g.
    /// spec.duration=30m (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The scenario seed (overrides spec.seed), the same at every grid point.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of replications per grid point (overrides spec.replications).
    #[arg(long, short = 'n')]
    pub replications: Option<u64>,
    /// Where to write sweep.csv (default: output/<scenario name>-sweep/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the results on standard output (csv: the content of sweep.csv).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Every combination of one value per axis, as value indices, first axis slowest (the
/// order of nested loops over the axes as given). `None` if there would be more than `max`.
pub fn grid_points(lengths: &[usize], max: usize) -> Option<Vec<Vec<usize>>> {
    let total = lengths.iter().try_fold(1usize, |n, &len| n.checked_mul(len)).filter(|&n| n <= max)?;
    let mut points = Vec::with_capacity(total);
    for k in 0..total {
        // Mixed-radix digits of k, the last axis the fastest.
        let mut rest = k;
        let mut point = vec![0; lengths.len()];
        for (slot, &len) in point.iter_mut().zip(lengths).rev() {
            *slot = rest % len;
            rest /= len;
        }
        points.push(point);
    }
    assert_eq!(points.len(), total);
    Some(points)
}

/// Parses every `--grid` argument; a repeated path is an error.
pub fn parse_axes(grid: &[String]) -> Result<Vec<GridAxis>, Failure> {
    let mut axes: Vec<GridAxis> = Vec::with_capacity(grid.len());
    for text in grid {
        let axis = scenario::parse_grid_axis(text)
            .map_err(|m| Failure { code: 2, message: format!("error: --grid {text}: {m}") })?;
        if axes.iter().any(|a| a.path == axis.path) {
            return Err(Failure {
                code: 2,
                message: format!(
                    "error: --grid {text}: `{}` is already an axis; list all its values in one --grid",
                    axis.path
                ),
            });
        }
        axes.push(axis);
    }
    Ok(axes)
}

/// `rollsim sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), Failure> {
    let mut base = Vec::new();
    for s in &args.set {
        base.push(
            scenario::parse_override(s)
                .map_err(|m| Failure { code: 2, message: format!("error: --set {s}: {m}") })?,
        );
    }
    if let Some(seed) = args.seed {
        base.push(Override::new("spec.seed", seed.to_string()));
    }
    if let Some(n) = args.replications {
        base.push(Override::new("spec.replications", n.to_string()));
    }
    let axes = parse_axes(&args.grid)?;
    let lengths: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let Some(points) = grid_points(&lengths, MAX_POINTS) else {
        let sizes: Vec<String> = lengths.iter().map(usize::to_string).collect();
        return Err(Failure {
            code: 2,
            message: format!(
                "error: the grid has {} points, more than {MAX_POINTS}; run it as several sweeps",
                sizes.join(" × ")
            ),
        });
    };
    let scenarios = load_points(&args.file, &base, &axes, &points)?;
    let first = &scenarios[0];
    let out_dir =
        args.out.clone().unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", first.name)));
    announce(first, &scenarios, points.len(), &out_dir);
    std::fs::create_dir_all(&out_dir).map_err(|e| Failure {
        code: 1,
        message: format!("error: cannot create the output directory {}: {e}", out_dir.display()),
    })?;

    let plan = RunPlan { threads: args.threads, timeline_of: None, trace_of: None };
    let mut results = Vec::with_capacity(points.len());
    for (k, (point, scenario)) in points.iter().zip(&scenarios).enumerate() {
        let values: Vec<String> = point.iter().zip(&axes).map(|(&i, a)| a.values[i].value.clone()).collect();
        let typed: Vec<String> = values.iter().zip(&axes).map(|(v, a)| format!("{}={v}", a.path)).collect();
        eprintln!("rollsim: point {}/{}: {}", k + 1, points.len(), typed.join(" "));
        let records: Vec<_> = run_all(scenario, plan).into_iter().map(|r| r.record).collect();
        let summary = summarize_runs(&records).with_scenario(&scenario.name, scenario.seed);
        results.push(SweepPoint { values, summary });
    }

    let paths: Vec<String> = axes.iter().map(|a| a.path.clone()).collect();
    let path = out_dir.join("sweep.csv");
    report::write_sweep_csv_file(&path, &paths, &results)
        .map_err(|e| Failure { code: 1, message: format!("error: cannot write {}: {e}", path.display()) })?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match args.format {
        Format::Table => {
            let color = stdout_is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let title = format!(
                "{}: {} grid points × {} replications, seed {} at every point",
                first.name,
                points.len(),
                first.replications,
                first.seed
            );
            let table = report::render_sweep_table(&title, &paths, &results, terminal_width(), color);
            lock.write_all(table.as_bytes())?;
        }
        Format::Json => {
            lock.write_all(report::sweep_json_string(&paths, &results).as_bytes())?;
            lock.write_all(b"\n")?;
        }
        Format::Csv => lock.write_all(report::sweep_csv_string(&paths, &results).as_bytes())?,
    }
    Ok(())
}

/// Loads the scenario at every grid point (`base` overrides, then the point's values).
/// Every problem is reported, each once (a problem of the file or of `--set` is the same at
/// every point), before anything runs. A point needs only to load with its own values: the
/// file alone may lack what the grid gives.
fn load_points(
    file: &Path,
    base: &[Override],
    axes: &[GridAxis],
    points: &[Vec<usize>],
) -> Result<Vec<Scenario>, Failure> {
    let mut scenarios = Vec::with_capacity(points.len());
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut failed = 0;
    for point in points {
        let mut overrides = base.to_vec();
        overrides.extend(point.iter().zip(axes).map(|(&i, a)| a.values[i].clone()));
        match scenario::load_file(file, &overrides) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                failed += 1;
                for d in e.diagnostics {
                    if !diagnostics.contains(&d) {
                        diagnostics.push(d);
                    }
                }
            }
        }
    }
    if diagnostics.is_empty() {
        assert_eq!(scenarios.len(), points.len(), "every point loaded");
        return Ok(scenarios);
    }
    let mut message = ScenarioError { diagnostics }.to_string();
    if failed < points.len() {
        message.push_str(&format!("\n\nerror: {failed} of {} grid points do not load", points.len()));
    }
    Err(Failure { code: 2, message })
}

/// Says on stderr what is about to run, with the notes of every point (each once).
fn announce(first: &Scenario, scenarios: &[Scenario], points: usize, out_dir: &Path) {
    eprintln!(
        "rollsim: sweep of {} over {points} grid points, {} replications each (seed {} at every point, {} fidelity); results go to {}",
        first.name,
        first.replications,
        first.seed,
        first.fidelity.as_str(),
        out_dir.display()
    );
    let mut said: Vec<&str> = Vec::new();
    for note in scenarios.iter().flat_map(|s| &s.notes) {
        if !said.contains(&note.as_str()) {
            eprintln!("rollsim: note: {note}");
            said.push(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_run_the_first_axis_slowest() {
        let points = grid_points(&[2, 3], 100).unwrap();
        assert_eq!(points, vec![vec![0, 0], vec![0, 1], vec![0, 2], vec![1, 0], vec![1, 1], vec![1, 2]]);
        assert_eq!(grid_points(&[3], 100).unwrap(), vec![vec![0], vec![1], vec![2]]);
        let three = grid_points(&[2, 2, 2], 100).unwrap();
        assert_eq!(three[1], vec![0, 0, 1]);
        assert_eq!(three[4], vec![1, 0, 0]);
        assert_eq!(three.len(), 8);
    }

    #[test]
    fn grid_points_are_bounded() {
        assert_eq!(grid_points(&[100, 100], 10_000).map(|p| p.len()), Some(10_000));
        assert_eq!(grid_points(&[100, 101], 10_000), None);
        assert_eq!(grid_points(&[usize::MAX, 2], usize::MAX), None);
    }

    #[test]
    fn axes_parse_and_repeat_is_an_error() {
        let axes = parse_axes(&["spec.traffic.rps=100,1000".into(), "spec.seed=1".into()]).unwrap();
        assert_eq!(axes.len(), 2);
        assert_eq!(axes[0].values.len(), 2);
        let e = parse_axes(&["spec.seed=1".into(), "spec.seed=2".into()]).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("already an axis"), "{}", e.message);
        let e = parse_axes(&["spec.traffic.rps".into()]).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("PATH=V1,V2"), "{}", e.message);
    }
}
