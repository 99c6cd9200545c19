//! `rollsim export FILE --out DIR --format openmetrics`: one replication's simulated scrape
//! samples (every series its simulated Prometheus stored, with their timestamps) as
//! OpenMetrics text, to load into a real Prometheus with
//! `promtool tsdb create-blocks-from openmetrics DIR/metrics.om TSDB`.

use super::{Failure, ScenarioArgs, load};
use crate::experiment::world::{Collect, run_replication};
use crate::report::atomic::write_atomically;
use crate::report::openmetrics;
use crate::scenario::units::format_duration;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "Simulated time 0 is --start (default 2026-01-01T00:00:00Z). Load the export into a \
Prometheus TSDB:\n  promtool tsdb create-blocks-from openmetrics DIR/metrics.om TSDB\n\nExamples:\n  \
rollsim export scenarios/rolling-bad-release.yaml --out export\n  \
rollsim export scenarios/flagger-canary.yaml --out export --replication 3 --start 2026-06-01T12:00:00Z";

/// The file an export writes in its directory.
pub const FILE_NAME: &str = "metrics.om";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// OpenMetrics text with timestamps (`# TYPE` lines, `# EOF`).
    Openmetrics,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The directory to write metrics.om in (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The format of the export.
    #[arg(long, value_enum, default_value = "openmetrics")]
    pub format: ExportFormat,
    /// Which replication.
    #[arg(long, default_value_t = 0)]
    pub replication: u64,
    /// The wall-clock time of simulated time 0: `YYYY-MM-DDTHH:MM:SSZ` (UTC) or Unix seconds.
    #[arg(long, value_name = "TIME", default_value = "2026-01-01T00:00:00Z")]
    pub start: String,
}

pub fn run(args: &ExportArgs) -> Result<(), Failure> {
    let epoch = openmetrics::parse_epoch(&args.start)
        .map_err(|e| Failure { code: 2, message: format!("error: --start {e}") })?;
    let scenario = load(&args.scenario, None)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Failure {
        code: if e.kind() == std::io::ErrorKind::PermissionDenied { 2 } else { 1 },
        message: format!("error: cannot create {}: {e}", args.out.display()),
    })?;
    let collect = Collect { timeline: false, trace: false, store: true };
    let result = run_replication(&scenario, args.replication, collect);
    let store = result.store.unwrap_or_default();
    let path = args.out.join(FILE_NAME);
    let mut summary = openmetrics::Summary::default();
    write_atomically(&path, |out| {
        summary = openmetrics::write(&store, epoch, out)?;
        Ok(())
    })
    .map_err(|e| Failure { code: 1, message: format!("error: writing {}: {e}", path.display()) })?;
    let span = match summary.span {
        Some((a, b)) => format!(", simulated {}..{}", format_duration(a), format_duration(b)),
        None => String::new(),
    };
    eprintln!(
        "wrote {}: {} replication {} (seed {}), {} families, {} series, {} samples{span}, t=0 at {}",
        path.display(),
        scenario.name,
        args.replication,
        result.record.seed,
        summary.families,
        summary.series,
        summary.samples,
        args.start
    );
    Ok(())
}
