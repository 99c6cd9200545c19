//! Plots of saved results, drawn with plotters as PNG and SVG: the timeline of one
//! replication (`timeline.csv` and that replication's row of `runs.csv`), the distributions
//! of outcomes across replications (one or several `runs.csv`), an alert's tuning
//! (`tune.csv`) and a sweep (`sweep.csv`).
//!
//! Everything here reads files only, so `rollsim plot DIR` redraws what `--plots` drew.
//! [`charts_for_dir`] gives every chart a directory supports as SVG text (for the HTML
//! report); [`write_plots`] writes the same drawings as `DIR/plots/NAME.png` and
//! `NAME.svg`, atomically. Text is laid out with DejaVu Sans, embedded in the binary
//! ([`font`]), so no system font or library is needed; the output is byte-identical for the
//! same input.

mod data;
mod distributions;
mod draw;
pub mod font;
mod sweep;
mod timeline;
mod tuning;

use super::atomic::write_atomically;
use std::path::{Path, PathBuf};

/// One chart drawn as SVG text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// The file stem under `plots/` (`timeline`, `distributions`, `tuning-roc`, …).
    pub name: String,
    /// What the chart shows, with its replication count.
    pub title: String,
    pub svg: String,
}

/// A directory holds results that do not read (a CSV that does not parse, a column
/// missing), or nothing to plot. `rollsim plot` exits with code 2 on it.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A chart's data, read from files, ready to draw on any backend.
pub(crate) enum Figure {
    Timeline(Box<timeline::Timeline>),
    Distributions(distributions::Distributions),
    Roc(tuning::Tuning),
    TimeToDetect(tuning::Tuning),
    Sweep(sweep::Sweep),
}

impl Figure {
    fn name(&self) -> &'static str {
        match self {
            Figure::Timeline(_) => "timeline",
            Figure::Distributions(_) => "distributions",
            Figure::Roc(_) => "tuning-roc",
            Figure::TimeToDetect(_) => "tuning-ttd",
            Figure::Sweep(_) => "sweep",
        }
    }

    fn title(&self) -> String {
        match self {
            Figure::Timeline(t) => t.title(),
            Figure::Distributions(d) => d.title(),
            Figure::Roc(t) => t.roc_title(),
            Figure::TimeToDetect(t) => t.ttd_title(),
            Figure::Sweep(s) => s.title(),
        }
    }

    fn size(&self) -> (u32, u32) {
        match self {
            Figure::Timeline(t) => t.size(),
            Figure::Distributions(d) => d.size(),
            Figure::Roc(_) => tuning::ROC_SIZE,
            Figure::TimeToDetect(_) => tuning::TTD_SIZE,
            Figure::Sweep(s) => s.size(),
        }
    }

    fn draw<DB: plotters::prelude::DrawingBackend>(
        &self,
        root: &plotters::drawing::DrawingArea<DB, plotters::coord::Shift>,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        match self {
            Figure::Timeline(t) => t.draw(root),
            Figure::Distributions(d) => d.draw(root),
            Figure::Roc(t) => t.draw_roc(root),
            Figure::TimeToDetect(t) => t.draw_ttd(root),
            Figure::Sweep(s) => s.draw(root),
        }
    }

    /// The figure as SVG text.
    fn svg(&self) -> anyhow::Result<String> {
        draw::svg(self.size(), |root| self.draw(root))
    }

    /// The figure as PNG bytes.
    fn png(&self) -> anyhow::Result<Vec<u8>> {
        draw::png(self.size(), |root| self.draw(root))
    }
}

/// Every figure `dir` supports, in a stable order: timeline, distributions, tuning-roc,
/// tuning-ttd, sweep.
pub(crate) fn figures_for_dir(dir: &Path) -> anyhow::Result<Vec<Figure>> {
    if !dir.is_dir() {
        return Err(BadInput(format!("{}: no such directory", dir.display())).into());
    }
    let mut figures = Vec::new();
    if let Some(t) = timeline::Timeline::read(dir)? {
        figures.push(Figure::Timeline(Box::new(t)));
    }
    if let Some(d) = distributions::Distributions::read(dir)? {
        figures.push(Figure::Distributions(d));
    }
    if let Some(t) = tuning::Tuning::read(dir)? {
        let ttd = t.has_threshold_axis();
        figures.push(Figure::Roc(t.clone()));
        if ttd {
            figures.push(Figure::TimeToDetect(t));
        }
    }
    if let Some(s) = sweep::Sweep::read(dir)? {
        figures.push(Figure::Sweep(s));
    }
    Ok(figures)
}

/// Draws every chart `dir` supports (see [`figures_for_dir`]) as SVG text in memory, in a
/// stable order. A directory with nothing to plot gives an empty list; results that do not
/// read are an error ([`BadInput`]).
pub fn charts_for_dir(dir: &Path) -> anyhow::Result<Vec<Chart>> {
    figures_for_dir(dir)?
        .iter()
        .map(|f| Ok(Chart { name: f.name().to_owned(), title: f.title(), svg: f.svg()? }))
        .collect()
}

/// The directory the plots of `dir` go to.
pub fn plots_dir(dir: &Path) -> PathBuf {
    dir.join("plots")
}

/// Draws every chart `dir` supports into `dir/plots/NAME.png` and `NAME.svg` (each file
/// written atomically) and returns the paths written, PNG then SVG per chart. A directory
/// with nothing to plot is a [`BadInput`] error that says what would be plotted.
pub fn write_plots(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let figures = figures_for_dir(dir)?;
    if figures.is_empty() {
        return Err(BadInput(format!(
            "{}: nothing to plot: expected the results of rollsim run (timeline.csv, runs.csv), compare \
             (a runs.csv per strategy), tune (tune.csv) or sweep (sweep.csv)",
            dir.display()
        ))
        .into());
    }
    let out = plots_dir(dir);
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("cannot create the directory {}: {e}", out.display()))?;
    let mut written = Vec::with_capacity(2 * figures.len());
    for figure in &figures {
        let png = figure.png()?;
        let svg = figure.svg()?;
        for (ext, bytes) in [("png", png.as_slice()), ("svg", svg.as_bytes())] {
            let path = out.join(format!("{}.{ext}", figure.name()));
            write_atomically(&path, |w| w.write_all(bytes))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
