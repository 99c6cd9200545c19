//! `rollsim report DIR` and the `--report` flag of `run`, `compare`, `sweep` and `tune`:
//! one self-contained `DIR/report.html` (see `report::html`).

use super::Failure;
use crate::report::html::{self, Figure, ReportError};
use crate::report::plot;
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "The page holds the scenario in brief, the summary (every figure with its 95% interval \
and n), the plots (as `rollsim plot DIR` draws them, inline SVG), the decisions of the saved replication and why they were taken, and \
for a comparison the recommended strategy (at default prices the page states). It needs no network and no \
JavaScript: open it in any browser, or mail it.\n\n\
Examples:\n  rollsim run scenarios/rolling-bad-release.yaml --out results/rolling && rollsim report results/rolling\n  \
rollsim compare scenarios/same-fault/*.yaml --out results/cmp --report";

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A results directory written by `rollsim run`, `compare`, `sweep` or `tune`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The figures to embed: every chart `report::plot` draws for `dir`, as SVG text.
fn figures(dir: &Path) -> Result<Vec<Figure>, Failure> {
    let charts = plot::charts_for_dir(dir).map_err(|e| {
        let code = if e.is::<plot::BadInput>() { 2 } else { 1 };
        Failure { code, message: format!("error: cannot draw the plots of {}: {e:#}", dir.display()) }
    })?;
    Ok(charts.into_iter().map(|c| Figure { title: c.title, svg: c.svg }).collect())
}

/// Writes `DIR/report.html` and says where on standard error.
pub fn write(dir: &Path) -> Result<(), Failure> {
    let figures = figures(dir)?;
    match html::write_report(dir, &figures) {
        Ok(path) => {
            let plots = if figures.len() == 1 { "plot" } else { "plots" };
            eprintln!("rollsim: wrote {} ({} {plots})", path.display(), figures.len());
            Ok(())
        }
        Err(ReportError::Input(m)) => Err(Failure { code: 2, message: format!("error: {m}") }),
        Err(ReportError::Io(m)) => Err(Failure { code: 1, message: format!("error: {m}") }),
    }
}

pub fn run(args: &ReportArgs) -> Result<(), Failure> {
    write(&args.dir)
}
