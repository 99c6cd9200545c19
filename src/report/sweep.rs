//! What `rollsim sweep` writes: `sweep.csv` (tidy: one row per grid point and metric), its
//! JSON form, and the terminal table (one row per grid point, a few key metrics).
//!
//! A sweep's CSV row is the grid point's values followed by exactly the row `rollsim run
//! --format csv` prints for that point ([`super::output::write_summary_csv`]), written by
//! the same code, so the two can be compared byte for byte.

use super::atomic::write_atomically;
use super::csv_guard::FormulaGuard;
use super::output::{SUMMARY_CSV_HEADER, summary_csv_rows};
use super::table::{decimals_for, fit, number, trim_zeros};
use crate::experiment::record::Outcome;
use crate::experiment::stats::{Summary, SummaryTable};
use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

/// What an absent number prints as.
const NONE: &str = "—";
/// Two spaces between columns.
const GAP: usize = 2;
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// One grid point's results: each axis's value as typed, in axis order, and the summary of
/// its replications.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub values: Vec<String>,
    pub summary: SummaryTable,
}

/// Writes the sweep as tidy CSV: a header naming each axis by its path, then
/// [`SUMMARY_CSV_HEADER`]; per grid point in the order given, one row per outcome and per
/// metric, exactly as `rollsim run --format csv` writes them, after the point's values.
pub fn write_sweep_csv<W: Write>(writer: W, axes: &[String], points: &[SweepPoint]) -> io::Result<()> {
    // Sweep values are the user's text: a value such as `=cmd()` must not become a formula.
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(FormulaGuard::new(writer));
    csv.write_record(axes.iter().map(String::as_str).chain(SUMMARY_CSV_HEADER))
        .map_err(super::csv_guard::io_error)?;
    for point in points {
        assert_eq!(point.values.len(), axes.len(), "a value per axis");
        for row in summary_csv_rows(&point.summary) {
            for value in &point.values {
                csv.write_field(value).map_err(super::csv_guard::io_error)?;
            }
            // `serialize` appends the row's fields to the record begun above and ends it.
            csv.serialize(row).map_err(super::csv_guard::io_error)?;
        }
    }
    csv.flush()?;
    Ok(())
}

/// [`write_sweep_csv`] into a string (`rollsim sweep --format csv`).
pub fn sweep_csv_string(axes: &[String], points: &[SweepPoint]) -> String {
    let mut out = Vec::new();
    write_sweep_csv(&mut out, axes, points).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("CSV of UTF-8 strings is UTF-8")
}

/// Writes `sweep.csv` atomically.
pub fn write_sweep_csv_file(path: &Path, axes: &[String], points: &[SweepPoint]) -> io::Result<()> {
    write_atomically(path, |w| write_sweep_csv(w, axes, points))
}

/// The sweep as pretty-printed JSON, without a trailing newline:
/// `{"axes": [PATH, …], "points": [{"values": [VALUE, …], "summary": {…}}, …]}`, each
/// summary shaped as `summary.json` is.
pub fn sweep_json_string(axes: &[String], points: &[SweepPoint]) -> String {
    #[derive(Serialize)]
    struct Point<'a> {
        values: &'a [String],
        summary: &'a SummaryTable,
    }
    #[derive(Serialize)]
    struct Sweep<'a> {
        axes: &'a [String],
        points: Vec<Point<'a>>,
    }
    let points = points.iter().map(|p| Point { values: &p.values, summary: &p.summary }).collect();
    serde_json::to_string_pretty(&Sweep { axes, points }).expect("summaries serialize")
}

/// The metrics the table shows, in order (every metric is in `sweep.csv`).
const TABLE_METRICS: [&str; 4] = ["detected_at_s", "time_to_rollback_s", "bad_requests", "error_budget_pct"];

/// A column of the table: a header, whether it is right-aligned, and its cells.
struct Column {
    header: String,
    right: bool,
    cells: Vec<String>,
}

impl Column {
    fn width(&self) -> usize {
        self.cells.iter().chain([&self.header]).map(|c| c.chars().count()).max().unwrap_or(0)
    }
}

/// The table for a terminal `width` columns wide: a title, a legend naming each axis's full
/// path, and one row per grid point with its values, the share rolled back (95% Wilson
/// interval) and [`TABLE_METRICS`] as mean ± 95% CI half-width. Axis columns are headed by
/// the path's last key. Columns that do not fit are left out from the right (`--format csv`
/// has every figure), and lines are cut at `width`. `color` bolds the title.
pub fn render_sweep_table(
    title: &str,
    axes: &[String],
    points: &[SweepPoint],
    width: usize,
    color: bool,
) -> String {
    let mut out = String::new();
    let title = fit(title, width);
    if color {
        out.push_str(&format!("{BOLD}{title}{RESET}\n"));
    } else {
        out.push_str(&title);
        out.push('\n');
    }
    let short: Vec<String> = axes.iter().map(|a| axis_label(a)).collect();
    for (label, path) in short.iter().zip(axes) {
        out.push_str(&fit(&format!("  {label} = {path}"), width));
        out.push('\n');
    }
    out.push('\n');

    let mut columns: Vec<Column> = short
        .iter()
        .enumerate()
        .map(|(i, label)| Column {
            header: label.clone(),
            right: false,
            cells: points.iter().map(|p| p.values[i].clone()).collect(),
        })
        .collect();
    columns.push(Column {
        header: "rolled_back".to_owned(),
        right: true,
        cells: points
            .iter()
            .map(|p| {
                let o = p.summary.outcome(Outcome::RolledBack);
                share_cell(o.share, o.ci95_low, o.ci95_high)
            })
            .collect(),
    });
    for name in TABLE_METRICS {
        columns.push(Column {
            header: name.to_owned(),
            right: true,
            cells: points
                .iter()
                .map(|p| metric_cell(p.summary.metric(name).and_then(|m| m.summary.as_ref())))
                .collect(),
        });
    }
    let total = |columns: &[Column]| -> usize {
        columns.iter().map(Column::width).sum::<usize>() + GAP * columns.len().saturating_sub(1)
    };
    while columns.len() > axes.len() + 1 && total(&columns) > width {
        columns.pop();
    }
    let widths: Vec<usize> = columns.iter().map(Column::width).collect();
    let line = |cell: &dyn Fn(&Column) -> &str| -> String {
        let mut line = String::new();
        for (c, &w) in columns.iter().zip(&widths) {
            if !line.is_empty() {
                line.push_str(&" ".repeat(GAP));
            }
            let text = cell(c);
            let pad = " ".repeat(w - text.chars().count());
            if c.right {
                line.push_str(&pad);
                line.push_str(text);
            } else {
                line.push_str(text);
                line.push_str(&pad);
            }
        }
        fit(line.trim_end(), width)
    };
    out.push_str(&line(&|c| &c.header));
    out.push('\n');
    for r in 0..points.len() {
        out.push_str(&line(&|c| &c.cells[r]));
        out.push('\n');
    }
    out
}

/// The column header of an axis: its path's last key (`spec.traffic.rps` → `rps`,
/// `….rules[0].for` → `for`).
fn axis_label(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().filter(|s| !s.is_empty()).unwrap_or(last);
    last.trim_matches(|c| c == '"' || c == '\'' || c == ']').to_owned()
}

/// `94.0% [89.8, 96.5]`: a share with its interval, in percent.
fn share_cell(share: f64, low: f64, high: f64) -> String {
    if !share.is_finite() {
        return NONE.to_owned();
    }
    let pct = |x: f64| number(x * 100.0, 1);
    if low.is_finite() && high.is_finite() {
        format!("{}% [{}, {}]", pct(share), pct(low), pct(high))
    } else {
        format!("{}%", pct(share))
    }
}

/// `mean ± half-width` with the half-width to two significant digits, as in the run
/// table; one value (or all equal) alone to six significant digits; `—` if never measured.
fn metric_cell(summary: Option<&Summary>) -> String {
    let Some(s) = summary else { return NONE.to_owned() };
    let hw = s.ci95_half_width();
    if s.n >= 2 && hw.is_finite() && hw > 0.0 {
        let d = decimals_for(hw, 2);
        format!("{} ± {}", number(s.mean, d), number(hw, d))
    } else {
        trim_zeros(number(s.mean, decimals_for(s.mean, 6)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::summarize_runs;
    use crate::experiment::stats::tests::sample_record;
    use crate::report::summary_csv_string;

    fn points() -> (Vec<String>, Vec<SweepPoint>) {
        let axes =
            vec!["spec.traffic.rps".to_owned(), "PrometheusRule/a.spec.groups[0].rules[0].for".to_owned()];
        let mut points = Vec::new();
        for (i, (rps, hold)) in [("100", "1m"), ("100", "5m"), ("1000", "1m")].into_iter().enumerate() {
            let records: Vec<_> = (0..4 + i as u64)
                .map(|k| sample_record(k, if k < 3 { Outcome::RolledBack } else { Outcome::Completed }))
                .collect();
            points.push(SweepPoint {
                values: vec![rps.to_owned(), hold.to_owned()],
                summary: summarize_runs(&records),
            });
        }
        (axes, points)
    }

    #[test]
    fn csv_rows_are_the_run_rows_after_the_grid_values() {
        let (axes, points) = points();
        let text = sweep_csv_string(&axes, &points);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!(
                "spec.traffic.rps,PrometheusRule/a.spec.groups[0].rules[0].for,{}",
                SUMMARY_CSV_HEADER.join(",")
            )
        );
        let rows: Vec<&str> = lines.collect();
        let per_point = summary_csv_string(&points[0].summary).lines().count() - 1;
        assert_eq!(per_point, 4 + 20);
        assert_eq!(rows.len(), 3 * per_point);
        for (p, chunk) in points.iter().zip(rows.chunks(per_point)) {
            let run = summary_csv_string(&p.summary);
            let prefix = format!("{},{},", p.values[0], p.values[1]);
            for (sweep_row, run_row) in chunk.iter().zip(run.lines().skip(1)) {
                assert_eq!(sweep_row.strip_prefix(&prefix), Some(run_row));
            }
        }
    }

    #[test]
    fn csv_quotes_values_with_commas() {
        let (mut axes, mut points) = points();
        axes.truncate(1);
        points.truncate(1);
        points[0].values = vec!["{kind: fixed, value: 1m}".to_owned()];
        let text = sweep_csv_string(&axes, &points);
        assert!(text.lines().nth(1).unwrap().starts_with("\"{kind: fixed, value: 1m}\",outcome."), "{text}");
    }

    #[test]
    fn json_has_axes_and_a_summary_per_point() {
        let (axes, points) = points();
        let v: serde_json::Value = serde_json::from_str(&sweep_json_string(&axes, &points)).unwrap();
        assert_eq!(v["axes"][1], "PrometheusRule/a.spec.groups[0].rules[0].for");
        assert_eq!(v["points"].as_array().unwrap().len(), 3);
        assert_eq!(v["points"][2]["values"][0], "1000");
        assert_eq!(v["points"][2]["summary"]["replications"], 6);
    }

    #[test]
    fn table_has_a_row_per_point_and_fits() {
        let (axes, points) = points();
        for width in [40, 80, 140] {
            let text = render_sweep_table("t: sweep", &axes, &points, width, false);
            assert!(text.lines().all(|l| l.chars().count() <= width), "{text}");
            assert!(text.contains("  for = PrometheusRule/a.spec"), "{text}");
            let header = text.lines().find(|l| l.starts_with("rps")).unwrap();
            assert!(header.contains("for"), "{header}");
            assert_eq!(text.lines().filter(|l| l.starts_with("100 ") || l.starts_with("1000")).count(), 3);
        }
        let wide = render_sweep_table("t", &axes, &points, 200, false);
        for name in TABLE_METRICS {
            assert!(wide.contains(name), "{wide}");
        }
        assert!(wide.contains("75.0% ["), "{wide}");
    }

    #[test]
    fn axis_labels() {
        assert_eq!(axis_label("spec.traffic.rps"), "rps");
        assert_eq!(axis_label("PrometheusRule/a.spec.groups[0].rules[0].for"), "for");
        assert_eq!(axis_label("spec.versions[\"myapp:2.0\"].errorRate"), "errorRate");
        assert_eq!(axis_label("spec.traffic.pattern.steps[0]"), "steps");
    }
}
