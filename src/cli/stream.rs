//! `rollsim run` into a run directory: replications stream to `runs.csv.partial` in index
//! order as they finish, `--resume` continues an interrupted run, and `--shard I/N` runs one
//! contiguous block of the replications (see `report::rundir` for the files).
//!
//! The summary is always computed from `runs.csv` as written, so a run, a resumed run and
//! `rollsim merge` of shards summarize the very same numbers.

use super::Failure;
use crate::experiment::runner::{RunPlan, run_streaming};
use crate::experiment::stats::{SummaryTable, summarize_replayed};
use crate::report::html::{BRIEF_FILE, Brief, DECISIONS_FILE, write_decisions_csv};
use crate::report::rundir::{
    MANIFEST_FILE, Manifest, RUNS_FILE, RUNS_PARTIAL_FILE, RunsAppender, SUMMARY_FILE, Shard, TIMELINE_FILE,
    replay_runs,
};
use crate::report::{write_summary_json, write_timeline_csv};
use crate::scenario::Scenario;
use std::path::Path;

/// How `rollsim run` runs one scenario.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    pub shard: Shard,
    /// Continue the run in the output directory instead of starting afresh.
    pub resume: bool,
    /// Draw a progress bar on standard error (see `progress::wanted`).
    pub progress: bool,
}

impl RunOptions {
    pub fn new(threads: Option<usize>) -> RunOptions {
        RunOptions { threads, shard: Shard::WHOLE, resume: false, progress: super::progress::wanted(false) }
    }
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    let code = if crate::report::outdir::user_error(&e) { 2 } else { 1 };
    Failure { code, message: format!("error: cannot {what} {}: {e}", path.display()) }
}

/// Runs the scenario's replications (its shard's, with `--shard`) into `out_dir` and returns
/// their summary. See the module documentation.
pub fn simulate(scenario: &Scenario, out_dir: &Path, options: RunOptions) -> Result<SummaryTable, Failure> {
    let manifest = Manifest::new(
        &scenario.name,
        scenario.input_hash,
        scenario.seed,
        scenario.replications,
        options.shard,
    );
    let range = manifest.range();
    let what = if options.shard == Shard::WHOLE {
        format!("{} replications", scenario.replications)
    } else {
        let (shard, n) = (options.shard, scenario.replications);
        format!("shard {shard}: replications {}..{} of {n}", range.start, range.end)
    };
    eprintln!(
        "rollsim: {what} of {} (seed {}, {} fidelity); results go to {}",
        scenario.name,
        scenario.seed,
        scenario.fidelity.as_str(),
        out_dir.display()
    );
    for note in &scenario.notes {
        eprintln!("rollsim: note: {note}");
    }
    // Before the replications run, so that a bad --out fails at once.
    // Created and locked (another rollsim writing here is refused) for the whole run.
    let _lock =
        crate::report::outdir::prepare(out_dir).map_err(|e| Failure { code: e.code, message: e.message })?;

    // The scenario in brief, for `rollsim report` (the same bytes for every shard).
    let brief = Brief::of(scenario);
    brief.write(out_dir).map_err(|e| io_failure("write", &out_dir.join(BRIEF_FILE), e))?;

    let appender = if options.resume { resume(out_dir, &manifest)? } else { start(out_dir, &manifest)? };
    let done = match &appender {
        Some(a) => a.rows(),
        None => range.end - range.start,
    };
    if let Some(mut appender) = appender {
        let rest = range.start + done..range.end;
        let timeline_of = range.contains(&0).then_some(0);
        // The saved replication's event log gives its decisions (decisions.csv).
        let plan = RunPlan { threads: options.threads, timeline_of, trace_of: timeline_of };
        let partial = out_dir.join(RUNS_PARTIAL_FILE);
        let bar = super::progress::bar(options.progress, range.end - range.start, done);
        run_streaming(scenario, rest, plan, |result| {
            // The timeline first: a row on disk means its timeline is too.
            if Some(result.record.replication) == timeline_of {
                let path = out_dir.join(TIMELINE_FILE);
                write_timeline_csv(&path, &result.timeline).map_err(|e| io_failure("write", &path, e))?;
                let path = out_dir.join(DECISIONS_FILE);
                write_decisions_csv(&path, &result.trace).map_err(|e| io_failure("write", &path, e))?;
            }
            appender.append(&result.record).map_err(|e| io_failure("append to", &partial, e))?;
            bar.inc(1);
            Ok::<(), Failure>(())
        })?;
        bar.finish_and_clear();
        appender.finish().map_err(|e| io_failure("finish", &partial, e))?;
    }
    finish(out_dir, &manifest)
}

/// A fresh start: a new partial file (replacing any earlier one), an earlier run's
/// `runs.csv` and `summary.json` removed, then the manifest.
fn start(out_dir: &Path, manifest: &Manifest) -> Result<Option<RunsAppender>, Failure> {
    if let Ok(earlier) = Manifest::read(out_dir)
        && let Ok((appender, _)) = RunsAppender::resume(out_dir)
        && appender.rows() > 0
        && earlier.differs_from(manifest).is_none()
        && earlier.shard == manifest.shard
    {
        eprintln!(
            "rollsim: starting afresh; {} finished replications of an interrupted run of this scenario in {} are discarded (--resume continues it)",
            appender.rows(),
            out_dir.display()
        );
    }
    let partial = out_dir.join(RUNS_PARTIAL_FILE);
    let appender = RunsAppender::create(out_dir).map_err(|e| io_failure("create", &partial, e))?;
    // An earlier run's finished files go before the new manifest is written, so that no
    // manifest ever sits next to another run's rows.
    for name in [RUNS_FILE, SUMMARY_FILE] {
        let path = out_dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_failure("remove", &path, e)),
            _ => {}
        }
    }
    let path = out_dir.join(MANIFEST_FILE);
    manifest.write(out_dir).map_err(|e| io_failure("write", &path, e))?;
    Ok(Some(appender))
}

/// `--resume`: continues the partial file if the directory holds this run; `None` when the
/// run had already finished (only the summary is rewritten). A directory without a run
/// starts afresh; one holding another run is refused (exit 2).
fn resume(out_dir: &Path, manifest: &Manifest) -> Result<Option<RunsAppender>, Failure> {
    let bad = |message: String| Failure { code: 2, message: format!("error: --resume: {message}") };
    let earlier = match Manifest::read(out_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("rollsim: --resume: no run to continue in {}; starting afresh", out_dir.display());
            return start(out_dir, manifest);
        }
        Err(e) => return Err(bad(format!("{}: {e}", out_dir.join(MANIFEST_FILE).display()))),
    };
    if let Some((field, there, here)) = earlier.differs_from(manifest) {
        return Err(bad(format!(
            "{} holds another run ({field} {there}, but this run's is {here}); run without --resume to replace it, or give another --out",
            out_dir.display()
        )));
    }
    if earlier.shard != manifest.shard {
        return Err(bad(format!(
            "{} holds shard {}, not {}; run without --resume to replace it, or give another --out",
            out_dir.display(),
            earlier.shard,
            manifest.shard
        )));
    }
    let range = manifest.range();
    match RunsAppender::resume(out_dir) {
        Ok((appender, records)) => {
            check_rows(&records, range.start, "runs.csv.partial").map_err(bad)?;
            if appender.rows() > range.end - range.start {
                return Err(bad(format!("{RUNS_PARTIAL_FILE} has more rows than the run has replications")));
            }
            eprintln!(
                "rollsim: resuming: {} of {} replications already done",
                appender.rows(),
                range.end - range.start
            );
            Ok(Some(appender))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && out_dir.join(RUNS_FILE).is_file() => {
            eprintln!("rollsim: --resume: the run in {} had finished", out_dir.display());
            Ok(None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("rollsim: --resume: no rows to continue in {}; starting afresh", out_dir.display());
            start(out_dir, manifest)
        }
        Err(e) => Err(bad(format!("{}: {e}", out_dir.join(RUNS_PARTIAL_FILE).display()))),
    }
}

/// Checks that rows are the replications `first, first + 1, …` in order.
pub fn check_rows(
    records: &[crate::experiment::record::RunRecord],
    first: u64,
    file: &str,
) -> Result<(), String> {
    for (k, r) in records.iter().enumerate() {
        let expected = first + k as u64;
        if r.replication != expected {
            return Err(format!(
                "{file}: row {} is replication {}, expected {expected}",
                k + 1,
                r.replication
            ));
        }
    }
    Ok(())
}

/// Summarizes the finished `runs.csv` and writes `summary.json` (only for a whole run: a
/// shard's summary is printed, and `rollsim merge` writes the run's). The file is read row
/// by row, a few times over (`summarize_replayed`), so memory does not grow with the run.
fn finish(out_dir: &Path, manifest: &Manifest) -> Result<SummaryTable, Failure> {
    let path = out_dir.join(RUNS_FILE);
    let range = manifest.range();
    let mut misplaced = None;
    let mut rows = 0u64;
    replay_runs(&path, |r| {
        let expected = range.start + rows;
        if misplaced.is_none() && r.replication != expected {
            misplaced = Some(format!(
                "{RUNS_FILE}: row {} is replication {}, expected {expected}",
                rows + 1,
                r.replication
            ));
        }
        rows += 1;
    })
    .map_err(|e| io_failure("read", &path, e))?;
    if rows != range.end - range.start {
        return Err(Failure {
            code: 2,
            message: format!(
                "error: {} has {rows} rows, but the run has {} replications",
                path.display(),
                range.end - range.start
            ),
        });
    }
    if let Some(m) = misplaced {
        return Err(Failure { code: 2, message: format!("error: {m}") });
    }
    let summary = summarize_replayed(|see| replay_runs(&path, |r| see(r)).map(|_| ()))
        .map_err(|e| io_failure("read", &path, e))?
        .with_scenario(&manifest.scenario, manifest.seed);
    if manifest.shard != Shard::WHOLE {
        return Ok(summary);
    }
    let path = out_dir.join(SUMMARY_FILE);
    write_summary_json(&path, &summary, &manifest.scenario).map_err(|e| io_failure("write", &path, e))?;
    Ok(summary)
}
