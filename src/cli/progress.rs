//! The progress bar of `rollsim run` on standard error: replications done, their rate and
//! the time left. Drawn only when standard error is a terminal and `--quiet` is not given,
//! so it never reaches a log or a pipe (and never any output file).

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;

/// Whether a run shows a progress bar.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar over the `total − done` replications to run now (`done`: those a resumed run found
/// finished, named in the bar so that the rate and the time left count only this run), or a
/// hidden bar that draws nothing.
pub fn bar(show: bool, total: u64, done: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{wide_bar} {pos}/{len} replications{msg}  {rate}  {elapsed} elapsed, {eta} left",
    )
    .expect("a valid progress template")
    .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1}/s", state.per_sec());
    });
    let bar = ProgressBar::new(total.saturating_sub(done)).with_style(style);
    if done > 0 {
        bar.set_message(format!(" (and {done} done before)"));
    }
    bar
}
