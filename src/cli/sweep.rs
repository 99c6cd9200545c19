//! `rollsim sweep FILE --grid PATH=V1,V2,… [--grid …]`: one scenario run at every point of
//! a grid of overrides, one row per grid point and metric in `sweep.csv`.
//!
//! Every grid point is a scenario loaded with `--set` and the point's values as overrides
//! (grid values last, so they win), and all points are loaded before anything runs: a bad
//! value anywhere fails at once with exit code 2. Points run one after another, in the
//! order of [`grid_points`] (first axis slowest), each with all its replications in
//! parallel; the same seed at every point gives common random numbers across the grid.

use super::{Failure, Format, stdout_is_terminal, terminal_width};
use crate::experiment::runner::{RunPlan, run_streaming};
use crate::experiment::stats::SummaryTable;
use crate::report::rundir::{MANIFEST_FILE, Shard};
use crate::report::sweepdir::{
    SWEEP_RUNS_FILE, SWEEP_RUNS_PARTIAL_FILE, SweepAxis, SweepManifest, SweepPointInfo, SweepRowsWriter,
    summarize_points,
};
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
    /// The scenario file: your manifests plus one Simulation document (or give them with -f).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub input: super::InputArgs,
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
    /// Run only shard I of N (counting from 0): the contiguous block ⌊I·W/N⌋..⌊(I+1)·W/N⌋
    /// of the sweep's W replications (every point's, point by point) into --out.
    /// `rollsim merge` combines the N shard directories into sweep.csv.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Also draw each metric against the first grid axis as PNG and SVG into DIR/plots/.
    #[arg(long)]
    pub plots: bool,
    /// Also write a self-contained report.html into the output directory (as `rollsim
    /// report DIR` does).
    #[arg(long)]
    pub report: bool,
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
    let input = args.input.scenario(args.file.as_deref())?;
    let scenarios = load_points(&input, &base, &axes, &points)?;
    // Each point is within the work budget alone; the whole sweep must be too (a shard runs
    // part of it, so a sharded sweep is the way to run a larger one).
    if args.shard.is_none() {
        let all: Vec<&scenario::Scenario> = scenarios.iter().collect();
        scenario::check_total_work(&all, &format!("the sweep's {} grid points", scenarios.len()))
            .map_err(|message| Failure { code: 2, message })?;
    }
    let first = &scenarios[0];
    let out_dir =
        args.out.clone().unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", first.name)));
    let sweep_axes: Vec<SweepAxis> = axes
        .iter()
        .map(|a| SweepAxis {
            path: a.path.clone(),
            values: a.values.iter().map(|v| v.value.clone()).collect(),
        })
        .collect();
    let infos = scenarios
        .iter()
        .map(|s| SweepPointInfo {
            scenario: s.name.clone(),
            seed: s.seed,
            replications: s.replications,
            input_hash: format!("{:016x}", s.input_hash),
        })
        .collect();
    let manifest = SweepManifest::new(sweep_axes, infos, args.shard.unwrap_or(Shard::WHOLE));
    // `--shard 0/1` too writes a shard directory, for `rollsim merge`.
    let sharded = args.shard.is_some();
    announce(first, &scenarios, &manifest, sharded, &out_dir);
    let _lock =
        crate::report::outdir::prepare(&out_dir).map_err(|e| Failure { code: e.code, message: e.message })?;
    let io = |what: &str, path: &Path, e: std::io::Error| Failure {
        code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
        message: format!("error: cannot {what} {}: {e}", path.display()),
    };

    // Every replication's row goes to disk as it finishes (a shard's sweep-runs.csv, or a
    // scratch file of an unsharded sweep), and the points are summarized from there.
    let partial = out_dir.join(SWEEP_RUNS_PARTIAL_FILE);
    let mut writer = SweepRowsWriter::create(&partial).map_err(|e| io("create", &partial, e))?;
    if sharded {
        for name in [SWEEP_RUNS_FILE, "sweep.csv"] {
            let path = out_dir.join(name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove", &path, e)),
                _ => {}
            }
        }
        let path = out_dir.join(MANIFEST_FILE);
        manifest.write(&out_dir).map_err(|e| io("write", &path, e))?;
    }
    let plan = RunPlan { threads: args.threads, timeline_of: None, trace_of: None };
    for (k, reps) in manifest.blocks(manifest.range()) {
        let typed: Vec<String> =
            points[k].iter().zip(&axes).map(|(&i, a)| format!("{}={}", a.path, a.values[i].value)).collect();
        let part = if reps.end - reps.start == manifest.points[k].replications {
            String::new()
        } else {
            format!(" (replications {}..{})", reps.start, reps.end)
        };
        eprintln!("rollsim: point {}/{}: {}{part}", k + 1, points.len(), typed.join(" "));
        run_streaming(&scenarios[k], reps, plan, |result| writer.append(k, &result.record))
            .map_err(|e| io("append to", &partial, e))?;
    }
    if sharded {
        let path = out_dir.join(SWEEP_RUNS_FILE);
        writer.finish(Some(&path)).map_err(|e| io("finish", &partial, e))?;
        let range = manifest.range();
        eprintln!(
            "rollsim: shard {} done: replications {}..{} of the sweep's {}; `rollsim merge` combines the {} shard directories",
            manifest.shard,
            range.start,
            range.end,
            manifest.items(),
            manifest.shard.count
        );
        return Ok(());
    }
    writer.finish(None).map_err(|e| io("finish", &partial, e))?;
    let tables = summarize_points(&manifest, &[(partial.clone(), manifest.range())])
        .map_err(|e| io("read", &partial, e))?;
    std::fs::remove_file(&partial).map_err(|e| io("remove", &partial, e))?;
    write_results(&manifest, tables, &out_dir, args.format)?;
    if args.plots {
        super::plot::draw(&out_dir)?;
    }
    if args.report {
        super::report_html::write(&out_dir)?;
    }
    Ok(())
}

/// Writes `sweep.csv` of the summarized points and prints the results.
pub fn write_results(
    manifest: &SweepManifest,
    tables: Vec<SummaryTable>,
    out_dir: &Path,
    format: Format,
) -> Result<(), Failure> {
    let lengths: Vec<usize> = manifest.axes.iter().map(|a| a.values.len()).collect();
    let points = grid_points(&lengths, usize::MAX).expect("the manifest's grid");
    assert_eq!(points.len(), tables.len(), "a summary per point");
    let results: Vec<SweepPoint> = points
        .iter()
        .zip(tables)
        .map(|(point, summary)| SweepPoint {
            values: point.iter().zip(&manifest.axes).map(|(&i, a)| a.values[i].clone()).collect(),
            summary,
        })
        .collect();
    let paths: Vec<String> = manifest.axes.iter().map(|a| a.path.clone()).collect();
    let path = out_dir.join("sweep.csv");
    report::write_sweep_csv_file(&path, &paths, &results).map_err(|e| Failure {
        code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
        message: format!("error: cannot write {}: {e}", path.display()),
    })?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match format {
        Format::Table => {
            let color = stdout_is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let title = format!(
                "{}: {} grid points × {} replications, seed {} at every point",
                manifest.scenario,
                points.len(),
                manifest.points[0].replications,
                manifest.seed
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
    drop(lock);
    Ok(())
}

/// `rollsim merge` of sweep shards (`rollsim sweep --shard I/N` directories, in any order):
/// checks that they are every shard of one sweep, each once and finished, and writes the
/// unsharded sweep's `sweep.csv` to `out` (default `output/<scenario>-sweep/`), byte for
/// byte, printing the results as `rollsim sweep` does. Refused with exit code 2: a
/// directory that is not a finished sweep shard, shards of different sweeps or counts, a
/// shard missing or given twice.
pub fn merge_shards(dirs: &[PathBuf], out: Option<&Path>, format: Format) -> Result<(), Failure> {
    let bad = super::merge::bad;
    let mut shards: Vec<(PathBuf, SweepManifest)> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let manifest = SweepManifest::read(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                bad(format!("{} is not a shard directory (no {MANIFEST_FILE})", dir.display()))
            }
            _ if !report::sweepdir::is_sweep_dir(dir).unwrap_or(true) => bad(format!(
                "{} holds a shard of `rollsim run`, not of `rollsim sweep`: merge the shards of one command",
                dir.display()
            )),
            _ => bad(format!("{}: {e}", dir.join(MANIFEST_FILE).display())),
        })?;
        let partial = dir.join(SWEEP_RUNS_PARTIAL_FILE).is_file();
        if partial || !dir.join(SWEEP_RUNS_FILE).is_file() {
            let why = if partial {
                format!("sweep shard {} is unfinished: run it again", manifest.shard)
            } else {
                format!("sweep shard {} has no {SWEEP_RUNS_FILE}", manifest.shard)
            };
            return Err(bad(format!("{}: {why}", dir.display())));
        }
        shards.push((dir.clone(), manifest));
    }
    let (first_dir, first) = &shards[0];
    for (dir, m) in &shards[1..] {
        if let Some((field, a, b)) = first.differs_from(m) {
            return Err(bad(format!(
                "{} and {} are shards of different sweeps ({field}: {a} and {b})",
                first_dir.display(),
                dir.display()
            )));
        }
    }
    let cover: Vec<(&Path, Shard)> = shards.iter().map(|(d, m)| (d.as_path(), m.shard)).collect();
    super::merge::check_cover(&cover, "sweep")?;
    shards.sort_by_key(|(_, m)| m.shard.index);
    let manifest = SweepManifest { shard: Shard::WHOLE, ..shards[0].1.clone() };
    let manifest = SweepManifest { item_range: [0, manifest.items()], ..manifest };
    let out_dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", manifest.scenario)));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some((dir, _)) = shards.iter().find(|(dir, _)| same(dir, &out_dir)) {
        return Err(bad(format!("--out {} is one of the shards: give another directory", dir.display())));
    }
    eprintln!(
        "rollsim: merging {} shards of the sweep of {} ({} grid points, {} replications); results go to {}",
        shards.len(),
        manifest.scenario,
        manifest.points.len(),
        manifest.items(),
        out_dir.display()
    );
    let files: Vec<(PathBuf, std::ops::Range<u64>)> =
        shards.iter().map(|(dir, m)| (dir.join(SWEEP_RUNS_FILE), m.range())).collect();
    let tables = summarize_points(&manifest, &files).map_err(|e| bad(e.to_string()))?;
    let _lock =
        crate::report::outdir::prepare(&out_dir).map_err(|e| Failure { code: e.code, message: e.message })?;
    write_results(&manifest, tables, &out_dir, format)
}

/// Loads the scenario at every grid point (`base` overrides, then the point's values).
/// Every problem is reported, each once (a problem of the file or of `--set` is the same at
/// every point), before anything runs. A point needs only to load with its own values: the
/// file alone may lack what the grid gives.
fn load_points(
    input: &scenario::Input,
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
        match scenario::load_input(input, &overrides) {
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
fn announce(
    first: &Scenario,
    scenarios: &[Scenario],
    manifest: &SweepManifest,
    sharded: bool,
    out_dir: &Path,
) {
    let shard = if !sharded {
        String::new()
    } else {
        let range = manifest.range();
        format!(
            "shard {}: replications {}..{} of the {} of a ",
            manifest.shard,
            range.start,
            range.end,
            manifest.items()
        )
    };
    eprintln!(
        "rollsim: {shard}sweep of {} over {} grid points, {} replications each (seed {} at every point, {} fidelity); results go to {}",
        first.name,
        scenarios.len(),
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
