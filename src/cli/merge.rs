//! `rollsim merge DIR… [--out DIR]`: combines the directories of `rollsim run --shard I/N`
//! into the files an unsharded run writes, byte for byte: `runs.csv` (the shards' rows in
//! replication order), `summary.json` (summarized from those rows), `timeline.csv`,
//! `scenario.json` and `decisions.csv` (from the shard holding replication 0, when it has
//! them) and `manifest.json` (shard 0/1).
//!
//! Refused with exit code 2: a directory that is not a finished shard, shards of different
//! runs (scenario, input hash, seed, replications, rollsim version, shard count), a shard
//! missing or given twice.

use super::{Failure, Format, print_summary};
use crate::experiment::record::RunRecord;
use crate::experiment::stats::summarize_runs;
use crate::report::html::{BRIEF_FILE, DECISIONS_FILE};
use crate::report::rundir::{
    MANIFEST_FILE, Manifest, RUNS_FILE, RUNS_PARTIAL_FILE, SUMMARY_FILE, Shard, TIMELINE_FILE, read_runs,
};
use crate::report::{write_atomically, write_runs_csv, write_summary_json};
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "Example:\n  for i in 0 1 2; do rollsim run scenarios/rolling-bad-release.yaml --shard $i/3 --out shards/$i; done\n  rollsim merge shards/0 shards/1 shards/2 --out merged";

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shards' output directories (`rollsim run --shard I/N --out DIR`), in any order.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged results (default: output/<scenario name>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the summary on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// A merge refused (exit code 2); also for the sweep and tune merges.
pub(super) fn bad(message: String) -> Failure {
    Failure { code: 2, message: format!("error: merge: {message}") }
}

/// One finished shard: its directory, manifest and rows.
struct ShardDir {
    dir: PathBuf,
    manifest: Manifest,
    records: Vec<RunRecord>,
}

fn read_shard(dir: &Path) -> Result<ShardDir, Failure> {
    let manifest = Manifest::read(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            bad(format!("{} is not a run directory (no {MANIFEST_FILE})", dir.display()))
        } else {
            bad(format!("{}: {e}", dir.join(MANIFEST_FILE).display()))
        }
    })?;
    let runs = dir.join(RUNS_FILE);
    let partial = dir.join(RUNS_PARTIAL_FILE).is_file();
    if !runs.is_file() || partial {
        let why = if partial {
            format!("shard {} is unfinished: run it again with --resume", manifest.shard)
        } else {
            format!("shard {} has no {RUNS_FILE}", manifest.shard)
        };
        return Err(bad(format!("{}: {why}", dir.display())));
    }
    let records = read_runs(&runs).map_err(|e| bad(format!("{}: {e}", runs.display())))?;
    let range = manifest.range();
    if records.len() as u64 != range.end - range.start {
        return Err(bad(format!(
            "{}: {} rows, but shard {} has replications {}..{}",
            runs.display(),
            records.len(),
            manifest.shard,
            range.start,
            range.end
        )));
    }
    super::stream::check_rows(&records, range.start, &runs.display().to_string()).map_err(bad)?;
    Ok(ShardDir { dir: dir.to_path_buf(), manifest, records })
}

/// Checks that the shards are all of one run and each of its shards exactly once; returns
/// them in shard order.
fn order(mut shards: Vec<ShardDir>) -> Result<Vec<ShardDir>, Failure> {
    let first = &shards[0];
    for s in &shards[1..] {
        if let Some((field, a, b)) = first.manifest.differs_from(&s.manifest) {
            return Err(bad(format!(
                "{} and {} are shards of different runs ({field} {a} and {b})",
                first.dir.display(),
                s.dir.display()
            )));
        }
    }
    let cover: Vec<(&Path, Shard)> = shards.iter().map(|s| (s.dir.as_path(), s.manifest.shard)).collect();
    check_cover(&cover, "run")?;
    shards.sort_by_key(|s| s.manifest.shard.index);
    Ok(shards)
}

/// Checks that shards of one `what` (run, sweep or tune), each a directory and its `I/N`,
/// share N and hold every shard 0/N … N−1/N exactly once.
pub(super) fn check_cover(shards: &[(&Path, Shard)], what: &str) -> Result<(), Failure> {
    let (first_dir, first) = shards[0];
    if let Some((dir, shard)) = shards.iter().find(|(_, s)| s.count != first.count) {
        return Err(bad(format!(
            "{} is shard {first} but {} is shard {shard}: shards of one {what} share N",
            first_dir.display(),
            dir.display()
        )));
    }
    let mut sorted = shards.to_vec();
    sorted.sort_by_key(|(_, s)| s.index);
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].1 == pair[1].1) {
        return Err(bad(format!(
            "shard {} is given twice ({} and {})",
            pair[0].1,
            pair[0].0.display(),
            pair[1].0.display()
        )));
    }
    let count = first.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !shards.iter().any(|(_, s)| s.index == *i))
        .map(|index| Shard { index, count }.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "missing shard {} of the {what} (every shard 0/{count} … {}/{count} is needed)",
            missing.join(", "),
            count - 1
        )));
    }
    Ok(())
}

pub fn merge(args: &MergeArgs) -> Result<(), Failure> {
    // Shards of `rollsim sweep --shard` say so in their manifest.
    if crate::report::sweepdir::is_sweep_dir(&args.dirs[0]).unwrap_or(false) {
        return super::sweep::merge_shards(&args.dirs, args.out.as_deref(), args.format);
    }
    // Shards of `rollsim tune --shard` say so in their manifest.
    if args.dirs.first().is_some_and(|d| super::tune::shard::is_tune_dir(d)) {
        return super::tune::shard::merge(&args.dirs, args.out.as_deref());
    }
    let mut shards = Vec::with_capacity(args.dirs.len());
    for dir in &args.dirs {
        shards.push(read_shard(dir)?);
    }
    let shards = order(shards)?;
    let first = &shards[0].manifest;
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&first.scenario));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(s) = shards.iter().find(|s| same(&s.dir, &out_dir)) {
        return Err(bad(format!("--out {} is one of the shards: give another directory", s.dir.display())));
    }
    let manifest = Manifest::new(&first.scenario, 0, first.seed, first.replications, Shard::WHOLE);
    let manifest = Manifest {
        input_hash: first.input_hash.clone(),
        rollsim_version: first.rollsim_version.clone(),
        ..manifest
    };
    let timeline = match shards.iter().find(|s| s.manifest.range().contains(&0)) {
        Some(s) => {
            let path = s.dir.join(TIMELINE_FILE);
            Some(std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?)
        }
        None => None,
    };
    // What `rollsim report` reads besides the rows, from the shard that ran replication 0.
    let report_files: Vec<(&str, Vec<u8>)> = match shards.iter().find(|s| s.manifest.range().contains(&0)) {
        Some(s) => [BRIEF_FILE, DECISIONS_FILE]
            .into_iter()
            .filter_map(|f| std::fs::read(s.dir.join(f)).ok().map(|bytes| (f, bytes)))
            .collect(),
        None => Vec::new(),
    };
    eprintln!(
        "rollsim: merging {} shards of {} ({} replications, seed {}); results go to {}",
        shards.len(),
        manifest.scenario,
        manifest.replications,
        manifest.seed,
        out_dir.display()
    );
    let records: Vec<RunRecord> = shards.into_iter().flat_map(|s| s.records).collect();
    assert_eq!(records.len() as u64, manifest.replications, "the shards cover the run");
    let summary = summarize_runs(&records).with_scenario(&manifest.scenario, manifest.seed);

    let _lock =
        crate::report::outdir::prepare(&out_dir).map_err(|e| Failure { code: e.code, message: e.message })?;
    let written = |path: PathBuf, result: std::io::Result<()>| {
        result.map_err(|e| Failure {
            code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
            message: format!("error: cannot write {}: {e}", path.display()),
        })
    };
    let path = out_dir.join(RUNS_FILE);
    written(path.clone(), write_runs_csv(&path, &records))?;
    let path = out_dir.join(SUMMARY_FILE);
    written(path.clone(), write_summary_json(&path, &summary, &manifest.scenario))?;
    if let Some(bytes) = timeline {
        let path = out_dir.join(TIMELINE_FILE);
        written(path.clone(), write_atomically(&path, |w| w.write_all(&bytes)))?;
    }
    for (name, bytes) in &report_files {
        let path = out_dir.join(name);
        written(path.clone(), write_atomically(&path, |w| w.write_all(bytes)))?;
    }
    written(out_dir.join(MANIFEST_FILE), manifest.write(&out_dir))?;
    print_summary(&summary, &manifest.scenario, args.format)
}
