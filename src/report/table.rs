//! The summary table `rollsim run` prints to the terminal.

use crate::experiment::stats::{Summary, SummaryTable};

/// Two spaces between columns.
const GAP: usize = 2;
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";
/// What an absent number prints as.
const NONE: &str = "—";

/// Renders the summary for a terminal `width` columns wide (counted in characters; every
/// line fits, including the header).
///
/// Layout: a header line (scenario, replications, seed); the outcome shares with their
/// 95% Wilson intervals and counts; one row per metric with its unit, mean ± the 95%
/// confidence half-width, median, p95 and n (the replications that measured it); and a
/// footnote naming the methods. Numbers are right-aligned. Each metric row uses one number
/// of decimals, chosen so the half-width shows two significant digits (the usual rounding
/// of a value to its uncertainty); a metric without spread (one value, or all equal) is
/// printed once per cell to six significant digits.
///
/// When the table is too wide it degrades in this order: drop the unit column (the metric
/// names carry their unit as a suffix: `_s`, `_pct`, `_requests`), abbreviate metric names
/// to 16 characters with `…`, drop n, p95, median, abbreviate names further; as a last
/// resort lines are cut at `width`.
///
/// `color` makes the header line ANSI bold and changes nothing else; the caller decides
/// (stdout is a terminal and `NO_COLOR` is unset).
pub fn render_summary_table(table: &SummaryTable, width: usize, color: bool) -> String {
    let mut out = String::new();

    let title = if table.scenario.is_empty() { "rollsim" } else { &table.scenario };
    let mut header = format!("{title}: {} replications", table.replications);
    if let Some(seed) = table.seed {
        header.push_str(&format!(", seed {seed}"));
    }
    let header = fit(&header, width);
    if color {
        out.push_str(&format!("{BOLD}{header}{RESET}\n\n"));
    } else {
        out.push_str(&header);
        out.push_str("\n\n");
    }

    let outcomes = [
        Column::left("outcome", table.outcomes.iter().map(|o| o.outcome.as_str().to_owned())),
        Column::right("share", table.outcomes.iter().map(|o| percent(o.share))),
        Column::right(
            "95% CI",
            table.outcomes.iter().map(|o| {
                if o.ci95_low.is_finite() && o.ci95_high.is_finite() {
                    format!("[{}, {}]", percent(o.ci95_low), percent(o.ci95_high))
                } else {
                    NONE.to_owned()
                }
            }),
        ),
        Column::right("count", table.outcomes.iter().map(|o| o.count.to_string())),
    ];
    let fits = [Fit::Drop(3), Fit::Drop(2), Fit::Shrink(0, 6)];
    for line in render_grid(&outcomes, &fits, width) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');

    let rows: Vec<[String; 4]> = table.metrics.iter().map(|m| metric_cells(m.summary.as_ref())).collect();
    let metrics = [
        Column::left("metric", table.metrics.iter().map(|m| m.name.to_owned())),
        Column::left("unit", table.metrics.iter().map(|m| m.unit.label().to_owned())),
        Column::right("mean ± 95% CI", rows.iter().map(|r| r[0].clone())),
        Column::right("median", rows.iter().map(|r| r[1].clone())),
        Column::right("p95", rows.iter().map(|r| r[2].clone())),
        Column::right("n", rows.iter().map(|r| r[3].clone())),
    ];
    let fits =
        [Fit::Drop(1), Fit::Shrink(0, 16), Fit::Drop(5), Fit::Drop(4), Fit::Drop(3), Fit::Shrink(0, 6)];
    for line in render_grid(&metrics, &fits, width) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
    let note = "95% CI: Student t (means), Wilson (shares)";
    out.push_str(&fit(note, width));
    out.push('\n');
    out
}

/// `[mean ± half-width, median, p95, n]` of one metric.
pub(super) fn metric_cells(summary: Option<&Summary>) -> [String; 4] {
    let Some(s) = summary else {
        return [NONE.to_owned(), NONE.to_owned(), NONE.to_owned(), "0".to_owned()];
    };
    let hw = s.ci95_half_width();
    let spread = s.n >= 2 && hw.is_finite() && hw > 0.0;
    if !spread {
        // One value (or all equal): print it, to 6 significant digits without trailing zeros.
        let d = decimals_for(s.mean, 6);
        let cell = |x: f64| trim_zeros(number(x, d));
        return [cell(s.mean), cell(s.median), cell(s.p95), s.n.to_string()];
    }
    let d = decimals_for(hw, 2);
    let mean = format!("{} ± {}", number(s.mean, d), number(hw, d));
    [mean, number(s.median, d), number(s.p95, d), s.n.to_string()]
}

/// Decimals that show `sig` significant digits of `x`, between 0 and 6.
pub(super) fn decimals_for(x: f64, sig: i32) -> usize {
    if !x.is_finite() || x == 0.0 {
        return 0;
    }
    let magnitude = x.abs().log10().floor() as i32;
    (sig - 1 - magnitude).clamp(0, 6) as usize
}

/// `x` with `decimals` decimals; never `-0`; `—` when not finite.
pub(super) fn number(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return NONE.to_owned();
    }
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => s,
    }
}

/// `600.250` → `600.25`, `30.000` → `30`.
pub(super) fn trim_zeros(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

/// A share in [0, 1] as a percentage with one decimal.
fn percent(share: f64) -> String {
    if share.is_finite() { format!("{}%", number(share * 100.0, 1)) } else { NONE.to_owned() }
}

/// Cuts `s` to `width` characters, marking a cut with `…`.
pub(super) fn fit(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len <= width {
        s.to_owned()
    } else if width == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

struct Column {
    header: &'static str,
    right: bool,
    cells: Vec<String>,
}

impl Column {
    fn left(header: &'static str, cells: impl Iterator<Item = String>) -> Self {
        Self { header, right: false, cells: cells.collect() }
    }
    fn right(header: &'static str, cells: impl Iterator<Item = String>) -> Self {
        Self { header, right: true, cells: cells.collect() }
    }
    fn natural_width(&self) -> usize {
        self.cells.iter().map(|c| c.chars().count()).chain([self.header.chars().count()]).max().unwrap_or(0)
    }
}

/// One step of making a grid narrower.
#[derive(Clone, Copy)]
enum Fit {
    /// Remove the column with this index.
    Drop(usize),
    /// Narrow the column with this index as far as needed, but not below the given width.
    Shrink(usize, usize),
}

/// Lays out columns under a header row, applying `fits` in order until the grid is at most
/// `width` wide, then cutting any line still too long.
fn render_grid(columns: &[Column], fits: &[Fit], width: usize) -> Vec<String> {
    let mut widths: Vec<Option<usize>> = columns.iter().map(|c| Some(c.natural_width())).collect();
    let total = |widths: &[Option<usize>]| {
        let shown: Vec<usize> = widths.iter().flatten().copied().collect();
        shown.iter().sum::<usize>() + GAP * shown.len().saturating_sub(1)
    };
    for &f in fits {
        let excess = total(&widths).saturating_sub(width);
        if excess == 0 {
            break;
        }
        match f {
            Fit::Drop(i) => widths[i] = None,
            Fit::Shrink(i, min) => {
                if let Some(w) = widths[i] {
                    widths[i] = Some(w.saturating_sub(excess).max(min).min(w));
                }
            }
        }
    }
    let rows = columns.first().map_or(0, |c| c.cells.len());
    let line = |cell: &dyn Fn(&Column) -> &str| {
        let mut line = String::new();
        for (c, w) in columns.iter().zip(&widths) {
            let Some(w) = *w else { continue };
            if !line.is_empty() {
                line.extend(std::iter::repeat_n(' ', GAP));
            }
            let text = fit(cell(c), w);
            let pad = w - text.chars().count();
            if c.right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&text);
            } else {
                line.push_str(&text);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        fit(line.trim_end(), width)
    };
    let mut lines = vec![line(&|c| c.header)];
    for r in 0..rows {
        lines.push(line(&|c| &c.cells[r]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::summarize_runs;
    use crate::experiment::stats::tests::sample_record;

    /// 7 rolled back (detected at 300, 310, …, 360 s), 3 completed.
    fn table() -> SummaryTable {
        let records: Vec<_> = (0..10)
            .map(|i| sample_record(i, if i < 7 { Outcome::RolledBack } else { Outcome::Completed }))
            .collect();
        summarize_runs(&records).with_scenario("bad-release", 42)
    }

    fn row<'a>(text: &'a str, name: &str) -> &'a str {
        text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row in\n{text}"))
    }

    fn assert_fits(text: &str, width: usize) {
        for l in text.lines() {
            assert!(l.chars().count() <= width, "line wider than {width}: {l:?}\n{text}");
        }
    }

    #[test]
    fn width_80_has_every_column_and_number() {
        let text = render_summary_table(&table(), 80, false);
        assert_fits(&text, 80);
        assert_eq!(text.lines().next(), Some("bad-release: 10 replications, seed 42"));
        let header = row(&text, "metric");
        for col in ["unit", "mean ± 95% CI", "median", "p95", "n"] {
            assert!(header.contains(col), "{header}");
        }
        // detected_at_s over 300..=360 step 10: mean 330, sd 21.60, t(6) 2.447 → ± 19.98,
        // shown to 2 significant digits; type-7 p95 = 350 + 0.7·10 = 357.
        let det = row(&text, "detected_at_s");
        let cells: Vec<&str> = det.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        assert_eq!(cells, ["detected_at_s", "s", "330 ± 20", "330", "357", "7"]);
        // Constant metric: no ± and no spurious decimals.
        let cells = |name| -> Vec<String> {
            row(&text, name).split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
        };
        assert_eq!(cells("peak_pods"), ["peak_pods", "pods", "13", "13", "13", "10"]);
        assert_eq!(cells("completed_at_s"), ["completed_at_s", "s", "600.25", "600.25", "600.25", "3"]);
        assert_eq!(cells("extra_pod_seconds")[2], "1234.5");
        // requests 100000..=100009: mean 100004.5 ± 2.17 (t(9) = 2.262, sd 3.028).
        assert_eq!(cells("requests")[2..], ["100004.5 ± 2.2", "100004.5", "100008.6", "10"]);
        // Outcome shares with Wilson intervals: 7/10 → [39.7%, 89.2%].
        let rb = row(&text, "rolled_back");
        let cells: Vec<&str> = rb.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        assert_eq!(cells, ["rolled_back", "70.0%", "[39.7%, 89.2%]", "7"]);
        assert!(row(&text, "stalled").contains("[0.0%, 27.8%]"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn width_60_keeps_means_and_fits() {
        let text = render_summary_table(&table(), 60, false);
        assert_fits(&text, 60);
        assert!(row(&text, "detected_at_s").contains("330 ± 20"));
        assert!(row(&text, "error_budget_pct").contains("17.0 ± 2.2"), "{text}");
        assert!(row(&text, "rolled_back").contains("[39.7%, 89.2%]"));
        // The unit column goes first (names carry the unit).
        assert!(!row(&text, "metric").contains("unit"));
    }

    #[test]
    fn every_width_fits() {
        let t = table();
        for width in 0..=140 {
            let text = render_summary_table(&t, width, false);
            assert_fits(&text, width);
            // Some of the mean column survives down to very narrow terminals.
            if width >= 40 {
                assert!(text.contains("330 ± 20"), "width {width}:\n{text}");
            }
        }
    }

    #[test]
    fn color_only_bolds_the_header() {
        let text = render_summary_table(&table(), 80, true);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("\x1b[1mbad-release: 10 replications, seed 42\x1b[0m"));
        assert!(lines.all(|l| !l.contains('\x1b')));
        let plain = render_summary_table(&table(), 80, false);
        assert_eq!(text.replace(BOLD, "").replace(RESET, ""), plain);
    }

    #[test]
    fn unmeasured_metrics_and_no_replications() {
        let text = render_summary_table(&summarize_runs(&[]), 80, false);
        assert!(text.starts_with("rollsim: 0 replications\n"));
        let det = row(&text, "detected_at_s");
        assert!(det.contains('—') && det.ends_with(" 0"), "{det}");
        assert!(row(&text, "completed").contains('—'));
    }

    #[test]
    fn number_formatting() {
        assert_eq!(decimals_for(19.98, 2), 0);
        assert_eq!(decimals_for(4.1, 2), 1);
        assert_eq!(decimals_for(0.0123, 2), 3);
        assert_eq!(decimals_for(1e-12, 2), 6);
        assert_eq!(decimals_for(123_456.0, 4), 0);
        assert_eq!(number(-0.01, 1), "0.0");
        assert_eq!(number(-1.25, 1), "-1.2");
        assert_eq!(number(f64::NAN, 1), "—");
        assert_eq!(percent(0.9398), "94.0%");
        assert_eq!(trim_zeros(number(600.25, 3)), "600.25");
        assert_eq!(trim_zeros(number(30.0, 4)), "30");
        assert_eq!(trim_zeros(number(300.0, 0)), "300");
    }
}
