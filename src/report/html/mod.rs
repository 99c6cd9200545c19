//! `report.html`: one self-contained page per results directory (inline CSS and SVG, no
//! script, no request of its own) that tells what was simulated, the summary with every
//! figure's interval and replication count, the plots, the decisions of the saved
//! replication and why they were taken, and for `compare` the recommendation.
//!
//! Layer `report`: reads what `run`, `compare`, `sweep` and `tune` wrote ([`load`]), builds a
//! [`Doc`] of sections, and renders it with the figures it is given ([`render`]). It never
//! runs a simulation and never uses `cli`. The figures are the caller's (the CLI draws them
//! with `report::plot::charts_for_dir`), so `html` does not depend on the plotting code.
//!
//! ```text
//! DIR ──load──▶ Doc (sections: facts, tables, notes) ─┐
//!                                     &[Figure] ──────┴─render──▶ report.html (atomic)
//! ```

pub mod brief;
pub mod decisions;
pub mod escape;
mod load;
mod render;

pub use brief::{BRIEF_FILE, Brief};
pub use decisions::{DECISIONS_FILE, decision_events, write_decisions_csv};
pub use load::{DEFAULT_WEIGHTS, load};
pub use render::render;

use std::path::{Path, PathBuf};

pub const REPORT_FILE: &str = "report.html";

/// A chart to embed: its title and its SVG document (any XML prolog is dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub title: String,
    pub svg: String,
}

/// A table: every cell is text, escaped when rendered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Cells `(row, column)` to mark (a recommended setting, a fired alert).
    pub highlight: Vec<(usize, usize)>,
    /// What the numbers are (interval, n), under the table.
    pub note: Option<String>,
}

/// One piece of a section.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Para(String),
    Note(String),
    /// The headline (the recommended strategy or setting).
    Top(String),
    Heading(String),
    List(Vec<String>),
    Facts(Vec<(String, String)>),
    Table(Table),
    /// Where the figures go.
    Figures,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The fragment id (`summary`, `plots`, …).
    pub id: String,
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// The report's content before it becomes HTML.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
    pub footer: String,
}

impl Doc {
    /// Every table of the report, in page order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.sections.iter().flat_map(|s| &s.blocks).filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
    }
}

/// Reads `dir`, renders the report with `figures` and writes `DIR/report.html` atomically;
/// returns its path. A directory that holds no results (or a damaged file) is an `Err` with
/// a message naming the file; the CLI exits 2 on it.
pub fn write_report(dir: &Path, figures: &[Figure]) -> Result<PathBuf, ReportError> {
    let doc = load(dir).map_err(ReportError::Input)?;
    let html = render(&doc, figures);
    let path = dir.join(REPORT_FILE);
    write_atomically(&path, |w| w.write_all(html.as_bytes()))
        .map_err(|e| ReportError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

use super::write_atomically;

/// Why no report was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportError {
    /// The directory's content: nothing to report on, or a file that does not parse.
    Input(String),
    Io(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Input(m) | ReportError::Io(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests;
