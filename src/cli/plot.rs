//! `rollsim plot DIR`: draws the plots of saved results again, and `--plots` on `run`,
//! `compare`, `sweep` and `tune`: the same drawing right after the results are written.

use super::Failure;
use crate::report::plot::{BadInput, write_plots};
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "DIR is the output directory of rollsim run (timeline.csv and runs.csv: the timeline of \
replication 0 and the distributions across replications), compare (a runs.csv per strategy: distributions side by \
side), tune (tune.csv: detection against false alarms, and time to detect against the threshold) or sweep \
(sweep.csv: each metric against the first grid axis). PNG and SVG files go to DIR/plots/.\n\n\
Examples:\n  rollsim run scenarios/rolling-bad-release.yaml -n 50 --out results --plots\n  rollsim plot results";

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// A directory of saved results.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Draws every plot `dir` supports into `dir/plots/` and lists the files on standard error.
pub fn draw(dir: &Path) -> Result<(), Failure> {
    match write_plots(dir) {
        Ok(files) => {
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            eprintln!(
                "rollsim: plots in {}: {}",
                crate::report::plot::plots_dir(dir).display(),
                names.join(", ")
            );
            Ok(())
        }
        Err(e) => {
            let code = if e.downcast_ref::<BadInput>().is_some() { 2 } else { 1 };
            Err(Failure { code, message: format!("error: plot: {e:#}") })
        }
    }
}

pub fn run(args: &PlotArgs) -> Result<(), Failure> {
    draw(&args.dir)
}
