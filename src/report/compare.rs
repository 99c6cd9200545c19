//! Several scenarios side by side: what `rollsim run A.yaml B.yaml …` prints, as a terminal
//! table (one column per scenario), as JSON (an object keyed by scenario) or as tidy CSV.
//!
//! Each scenario is a *column*: a label, distinct among the columns ([`distinct_labels`]),
//! and its [`SummaryTable`]. The number formatting follows the single-scenario table
//! ([`super::render_summary_table`]): the half-width of each mean shows two significant
//! digits, a metric without spread prints its value to six.

use super::table::{decimals_for, fit, number, trim_zeros};
use crate::experiment::stats::{Summary, SummaryTable};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::HashSet;

/// Two spaces between columns.
const GAP: usize = 2;
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";
/// What an absent number prints as.
const NONE: &str = "—";
/// Metric names are first abbreviated to this many characters, as in the single table.
const NAME_FIRST: usize = 16;
/// … and as a last resort to this many.
const NAME_LAST: usize = 6;
/// A scenario header is never abbreviated below this many characters.
const HEADER_MIN: usize = 5;

/// Labels for scenarios named `names`, in order: each name itself, except that a name
/// already taken gets the first free suffix `-2`, `-3`, … . A suffixed label never takes a
/// name that another scenario has in its own right (`a`, `a`, `a-2` → `a`, `a-3`, `a-2`).
pub fn distinct_labels(names: &[&str]) -> Vec<String> {
    let own: HashSet<&str> = names.iter().copied().collect();
    let mut taken: HashSet<String> = HashSet::new();
    let mut labels = Vec::with_capacity(names.len());
    for &name in names {
        let label = if taken.contains(name) {
            (2..)
                .map(|k| format!("{name}-{k}"))
                .find(|l| !taken.contains(l) && !own.contains(l.as_str()))
                .expect("some suffix is free")
        } else {
            name.to_owned()
        };
        taken.insert(label.clone());
        labels.push(label);
    }
    labels
}

/// Renders the scenarios side by side for a terminal `width` columns wide (counted in
/// characters; every line fits, including the header).
///
/// Layout: a header line; then one table with a row per figure and, per scenario, a column
/// headed by its label holding the figure and a narrow `n` column. The rows are the
/// replications and the seed; the outcome shares with their 95% Wilson interval (`n` is the
/// replications); and one row per metric, `mean ± 95% CI half-width` with `n` the
/// replications that measured it. A footnote names the methods, and when a scenario label
/// had to be abbreviated, one more line per abbreviated label gives it in full.
///
/// When the table is too wide it degrades in this order: drop the unit column, abbreviate
/// metric names to 16 characters with `…`, drop the `n` columns, write the share intervals
/// without `%` (`94.0% [89.8, 96.5]`), then in whole percent (`94% [89, 97]`, bounds
/// rounded outwards), abbreviate the scenario labels (keeping their beginning and end,
/// `rolli…lease`, widest first, never narrower than the figures below them), abbreviate
/// metric names to 6 characters; as a last resort lines are cut at `width`, and a final
/// line says so.
///
/// `color` makes the header line ANSI bold and changes nothing else, as in the single table.
pub fn render_compare_table(columns: &[(String, SummaryTable)], width: usize, color: bool) -> String {
    let mut out = String::new();
    let k = columns.len();
    let header = format!("rollsim: {k} scenario{} side by side", if k == 1 { "" } else { "s" });
    let header = fit(&header, width);
    if color {
        out.push_str(&format!("{BOLD}{header}{RESET}\n\n"));
    } else {
        out.push_str(&header);
        out.push_str("\n\n");
    }

    // When the names would have to be abbreviated, names that share a prefix
    // (`same-fault-rolling`, `same-fault-bluegreen`) are shown without it first, so that
    // narrow columns keep what tells them apart.
    let full: Vec<&str> = columns.iter().map(|(l, _)| l.as_str()).collect();
    let mut prefix = "";
    let mut shown = full.clone();
    let mut grid = Grid::new(columns, full.clone());
    let mut layout = grid.layout(width);
    let abbreviated = |layout: &Layout, labels: &[&str]| {
        labels.iter().enumerate().any(|(c, l)| layout.value[c].is_some_and(|w| w < l.chars().count()))
    };
    if abbreviated(&layout, &full) {
        prefix = common_prefix(full.iter().copied());
        if !prefix.is_empty() {
            shown = full.iter().map(|l| &l[prefix.len()..]).collect();
            grid = Grid::new(columns, shown.clone());
            layout = grid.layout(width);
        }
    }
    out.push_str(&grid.line(&layout, None, width));
    out.push('\n');
    for i in 0..grid.rows.len() {
        if grid.breaks.contains(&i) {
            out.push('\n');
        }
        out.push_str(&grid.line(&layout, Some(i), width));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&fit("95% CI: Student t (means), Wilson (shares)", width));
    out.push('\n');
    if !prefix.is_empty() {
        out.push_str(&fit(&format!("columns: names without `{prefix}`"), width));
        out.push('\n');
    }
    for (c, (label, _)) in columns.iter().enumerate() {
        if let Some(w) = layout.value[c]
            && w < shown[c].chars().count()
        {
            out.push_str(&fit(&format!("{} = {label}", abbreviate_middle(shown[c], w)), width));
            out.push('\n');
        }
    }
    if layout.total() > width {
        out.push_str(&fit("(lines cut; --format csv has every figure)", width));
        out.push('\n');
    }
    out
}

/// How many ways a share cell can be written, widest first (see [`share_cell`]).
const SHARE_STYLES: usize = 3;

/// One scenario's cell in a row: the figure, written one way or, for a share, in
/// [`SHARE_STYLES`] ways, widest first; and its `n`.
struct Cell {
    figure: Vec<String>,
    n: String,
}

impl Cell {
    fn plain(figure: String, n: String) -> Self {
        Cell { figure: vec![figure], n }
    }

    /// The figure in share style `style` (a plain figure has one style only).
    fn figure(&self, style: usize) -> &str {
        &self.figure[style.min(self.figure.len() - 1)]
    }
}

/// One row of the grid: the figure's name and unit, and a cell per scenario.
struct Row {
    name: String,
    unit: String,
    cells: Vec<Cell>,
}

/// The rows, and the row indices before which a blank line goes.
struct Grid<'a> {
    labels: Vec<&'a str>,
    rows: Vec<Row>,
    breaks: Vec<usize>,
}

impl<'a> Grid<'a> {
    fn new(columns: &'a [(String, SummaryTable)], labels: Vec<&'a str>) -> Self {
        let tables: Vec<&SummaryTable> = columns.iter().map(|(_, t)| t).collect();
        let mut rows = vec![
            Row {
                name: "replications".into(),
                unit: String::new(),
                cells: tables
                    .iter()
                    .map(|t| Cell::plain(t.replications.to_string(), String::new()))
                    .collect(),
            },
            Row {
                name: "seed".into(),
                unit: String::new(),
                cells: tables
                    .iter()
                    .map(|t| {
                        Cell::plain(t.seed.map_or_else(|| NONE.to_owned(), |s| s.to_string()), String::new())
                    })
                    .collect(),
            },
        ];
        let mut breaks = vec![rows.len()];
        // Every table lists the same outcomes and metrics in the same order (summarize_runs);
        // rows follow the first table and look the others up, so a table that lacks one
        // shows `—` rather than a wrong figure.
        let first = tables.first();
        for o in first.map_or(&[][..], |t| &t.outcomes[..]) {
            let cells = tables
                .iter()
                .map(|t| match t.outcomes.iter().find(|x| x.outcome == o.outcome) {
                    Some(x) => Cell {
                        figure: (0..SHARE_STYLES)
                            .map(|s| share_cell(x.share, x.ci95_low, x.ci95_high, s))
                            .collect(),
                        n: t.replications.to_string(),
                    },
                    None => Cell::plain(NONE.to_owned(), String::new()),
                })
                .collect();
            rows.push(Row { name: o.outcome.as_str().to_owned(), unit: "share".into(), cells });
        }
        breaks.push(rows.len());
        for m in first.map_or(&[][..], |t| &t.metrics[..]) {
            let cells = tables
                .iter()
                .map(|t| match t.metric(m.name) {
                    Some(x) => metric_cell(x.summary.as_ref()),
                    None => Cell::plain(NONE.to_owned(), String::new()),
                })
                .collect();
            rows.push(Row { name: m.name.to_owned(), unit: m.unit.label().to_owned(), cells });
        }
        Grid { labels, rows, breaks }
    }

    /// The widest figure of scenario `c` in share style `style`.
    fn widest_figure(&self, c: usize, style: usize) -> usize {
        self.rows.iter().map(|r| r.cells[c].figure(style).chars().count()).max().unwrap_or(0)
    }

    /// The column widths for `width`, after the degradations of [`render_compare_table`].
    fn layout(&self, width: usize) -> Layout {
        let chars = |s: &str| s.chars().count();
        let k = self.labels.len();
        let widest =
            |f: &dyn Fn(&Row) -> usize, header: usize| self.rows.iter().map(f).max().unwrap_or(0).max(header);
        let value = |c: usize, style: usize| Some(self.widest_figure(c, style).max(chars(self.labels[c])));
        let mut l = Layout {
            name: Some(widest(&|r| chars(&r.name), chars("metric"))),
            unit: Some(widest(&|r| chars(&r.unit), chars("unit"))),
            value: (0..k).map(|c| value(c, 0)).collect(),
            n: (0..k).map(|c| Some(widest(&|r| chars(&r.cells[c].n), 1))).collect(),
            style: 0,
        };
        let shrink_name = |l: &mut Layout, min: usize| {
            let excess = l.total().saturating_sub(width);
            if let Some(w) = l.name {
                l.name = Some(w.saturating_sub(excess).max(min).min(w));
            }
        };
        if l.total() > width {
            l.unit = None;
        }
        if l.total() > width {
            shrink_name(&mut l, NAME_FIRST);
        }
        if l.total() > width {
            l.n.iter_mut().for_each(|n| *n = None);
        }
        for style in 1..SHARE_STYLES {
            if l.total() > width {
                l.style = style;
                l.value = (0..k).map(|c| value(c, style)).collect();
            }
        }
        // Abbreviate the labels one character at a time, widest first, down to the figures.
        let floor: Vec<usize> = (0..k)
            .map(|c| self.widest_figure(c, l.style).max(HEADER_MIN.min(chars(self.labels[c]))))
            .collect();
        while l.total() > width {
            let candidate = (0..k)
                .filter(|&c| l.value[c].is_some_and(|w| w > floor[c]))
                .max_by_key(|&c| (l.value[c], std::cmp::Reverse(c)));
            let Some(c) = candidate else { break };
            l.value[c] = l.value[c].map(|w| w - 1);
        }
        if l.total() > width {
            shrink_name(&mut l, NAME_LAST);
        }
        l
    }

    /// One line: the header (`row` None) or a row. Names and units left-aligned, figures
    /// right-aligned; scenario labels abbreviated in the middle, anything else cut at its
    /// end; the line cut at `width`.
    fn line(&self, l: &Layout, row: Option<usize>, width: usize) -> String {
        let mut cells: Vec<(String, usize, bool)> = Vec::new();
        let row = row.map(|i| &self.rows[i]);
        if let Some(w) = l.name {
            cells.push((fit(row.map_or("metric", |r| &r.name), w), w, false));
        }
        if let Some(w) = l.unit {
            cells.push((fit(row.map_or("unit", |r| &r.unit), w), w, false));
        }
        for c in 0..self.labels.len() {
            if let Some(w) = l.value[c] {
                let text = match row {
                    None => abbreviate_middle(self.labels[c], w),
                    Some(r) => fit(r.cells[c].figure(l.style), w),
                };
                cells.push((text, w, true));
            }
            if let Some(w) = l.n[c] {
                cells.push((fit(row.map_or("n", |r| &r.cells[c].n), w), w, true));
            }
        }
        let mut line = String::new();
        for (i, (text, w, right)) in cells.iter().enumerate() {
            if i > 0 {
                line.extend(std::iter::repeat_n(' ', GAP));
            }
            let pad = w - text.chars().count();
            if *right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            } else {
                line.push_str(text);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        fit(line.trim_end(), width)
    }
}

/// Column widths, `None` for a dropped column, and the share style in use.
struct Layout {
    name: Option<usize>,
    unit: Option<usize>,
    value: Vec<Option<usize>>,
    n: Vec<Option<usize>>,
    style: usize,
}

impl Layout {
    fn total(&self) -> usize {
        let mut shown = vec![self.name, self.unit];
        for (value, n) in self.value.iter().zip(&self.n) {
            shown.push(*value);
            shown.push(*n);
        }
        let shown: Vec<usize> = shown.into_iter().flatten().collect();
        shown.iter().sum::<usize>() + GAP * shown.len().saturating_sub(1)
    }
}

/// A share with its interval in style 0 `94.0% [89.8%, 96.5%]`, 1 `94.0% [89.8, 96.5]` or
/// 2 `94% [89, 97]` (bounds rounded outwards); the share alone without an interval; `—`
/// without replications.
fn share_cell(share: f64, low: f64, high: f64, style: usize) -> String {
    if !share.is_finite() {
        return NONE.to_owned();
    }
    let pct = |x: f64| x * 100.0;
    let share_text = format!("{}%", number(pct(share), if style < 2 { 1 } else { 0 }));
    if !(low.is_finite() && high.is_finite()) {
        return share_text;
    }
    let (low, high) = match style {
        0 => (format!("{}%", number(pct(low), 1)), format!("{}%", number(pct(high), 1))),
        1 => (number(pct(low), 1), number(pct(high), 1)),
        // Whole percent, rounded outwards so the interval never narrows.
        _ => (number(pct(low).floor(), 0), number(pct(high).ceil(), 0)),
    };
    format!("{share_text} [{low}, {high}]")
}

/// `(mean ± half-width, n)` of one metric, formatted as in the single table.
fn metric_cell(summary: Option<&Summary>) -> Cell {
    let Some(s) = summary else {
        return Cell::plain(NONE.to_owned(), "0".to_owned());
    };
    let hw = s.ci95_half_width();
    let figure = if s.n >= 2 && hw.is_finite() && hw > 0.0 {
        let d = decimals_for(hw, 2);
        format!("{} ± {}", number(s.mean, d), number(hw, d))
    } else {
        // One value (or all equal): print it, to 6 significant digits without trailing zeros.
        trim_zeros(number(s.mean, decimals_for(s.mean, 6)))
    };
    Cell::plain(figure, s.n.to_string())
}

/// The longest prefix, ending in `-` or `_`, that every one of two or more names has and
/// that leaves each of them non-empty; `""` if there is none.
pub(super) fn common_prefix<'a>(names: impl Iterator<Item = &'a str> + Clone) -> &'a str {
    let mut names_iter = names.clone();
    let (Some(first), Some(_)) = (names_iter.next(), names_iter.next()) else { return "" };
    let mut end = 0;
    for (i, c) in first.char_indices() {
        if c != '-' && c != '_' {
            continue;
        }
        let candidate = &first[..=i];
        if names.clone().all(|n| n.starts_with(candidate) && n.len() > candidate.len()) {
            end = i + 1;
        } else {
            break;
        }
    }
    &first[..end]
}

/// Cuts `s` to `width` characters by replacing its middle with `…`, so that names that
/// share a prefix (`rolling-bad-release`, `rolling-healthy`) stay apart: `rolli…lease`.
fn abbreviate_middle(s: &str, width: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= width {
        return s.to_owned();
    }
    if width < 3 {
        return fit(s, width);
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut t: String = chars[..head].iter().collect();
    t.push('…');
    t.extend(&chars[chars.len() - tail..]);
    t
}

/// The scenarios as one pretty-printed JSON object keyed by label, in the given order,
/// each value the scenario's summary exactly as its `summary.json` holds it (the shape
/// documented on [`SummaryTable`]); no trailing newline. `rollsim run --format json` with
/// several files.
pub fn compare_json_string(columns: &[(String, SummaryTable)]) -> String {
    struct ByLabel<'a>(&'a [(String, SummaryTable)]);
    impl Serialize for ByLabel<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut m = serializer.serialize_map(Some(self.0.len()))?;
            for (label, table) in self.0 {
                m.serialize_entry(label, table)?;
            }
            m.end()
        }
    }
    serde_json::to_string_pretty(&ByLabel(columns)).expect("summaries serialize")
}

/// The columns of [`compare_csv_string`].
pub const COMPARE_CSV_HEADER: [&str; 9] =
    ["scenario", "metric", "unit", "n", "mean", "ci95_low", "ci95_high", "median", "p95"];

/// The scenarios as tidy CSV (`rollsim run --format csv` with several files), columns
/// [`COMPARE_CSV_HEADER`]: per scenario in the given order, one row per outcome
/// (`outcome.<name>`, unit `share`, `n` the replications, `mean` the share, `ci95_*` its
/// Wilson interval, median and p95 blank), then one row per metric in `runs.csv` column
/// order. Missing and non-finite numbers are blank; floats are written as in every other
/// CSV of rollsim (shortest round-trip form).
pub fn compare_csv_string(columns: &[(String, SummaryTable)]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        scenario: &'a str,
        metric: String,
        unit: &'a str,
        n: usize,
        mean: Option<f64>,
        ci95_low: Option<f64>,
        ci95_high: Option<f64>,
        median: Option<f64>,
        p95: Option<f64>,
    }
    let num = |x: f64| x.is_finite().then_some(x);
    // Scenario labels are user text: guarded against spreadsheet formulas.
    let mut csv = super::csv_guard::in_memory(false);
    let mut write = || -> csv::Result<()> {
        csv.write_record(COMPARE_CSV_HEADER)?;
        for (label, table) in columns {
            for o in &table.outcomes {
                csv.serialize(Row {
                    scenario: label,
                    metric: format!("outcome.{}", o.outcome.as_str()),
                    unit: "share",
                    n: table.replications,
                    mean: num(o.share),
                    ci95_low: num(o.ci95_low),
                    ci95_high: num(o.ci95_high),
                    median: None,
                    p95: None,
                })?;
            }
            for m in &table.metrics {
                let get = |f: fn(&Summary) -> f64| m.summary.as_ref().and_then(|s| num(f(s)));
                csv.serialize(Row {
                    scenario: label,
                    metric: m.name.to_owned(),
                    unit: m.unit.label(),
                    n: m.summary.map_or(0, |s| s.n),
                    mean: get(|s| s.mean),
                    ci95_low: get(|s| s.ci95_low),
                    ci95_high: get(|s| s.ci95_high),
                    median: get(|s| s.median),
                    p95: get(|s| s.p95),
                })?;
            }
        }
        csv.flush()?;
        Ok(())
    };
    write().expect("writing to memory cannot fail");
    super::csv_guard::finish(csv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::summarize_runs;
    use crate::experiment::stats::tests::sample_record;

    /// `rolling-bad-release`: 7 rolled back (detected at 300, 310, …, 360 s), 3 completed.
    /// `rolling-healthy`: 5 completed.
    fn columns() -> Vec<(String, SummaryTable)> {
        let bad: Vec<_> = (0..10)
            .map(|i| sample_record(i, if i < 7 { Outcome::RolledBack } else { Outcome::Completed }))
            .collect();
        let healthy: Vec<_> = (0..5).map(|i| sample_record(i, Outcome::Completed)).collect();
        vec![
            ("rolling-bad-release".to_owned(), summarize_runs(&bad).with_scenario("rolling-bad-release", 42)),
            ("rolling-healthy".to_owned(), summarize_runs(&healthy).with_scenario("rolling-healthy", 7)),
        ]
    }

    fn row<'a>(text: &'a str, name: &str) -> &'a str {
        text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row in\n{text}"))
    }

    /// The cells of a row, split at runs of two or more spaces.
    fn cells(line: &str) -> Vec<&str> {
        line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect()
    }

    fn assert_fits(text: &str, width: usize) {
        for l in text.lines() {
            assert!(l.chars().count() <= width, "line wider than {width}: {l:?}\n{text}");
        }
    }

    #[test]
    fn width_120_has_every_column_and_number() {
        let text = render_compare_table(&columns(), 120, false);
        assert_fits(&text, 120);
        assert_eq!(text.lines().next(), Some("rollsim: 2 scenarios side by side"));
        assert_eq!(
            cells(row(&text, "metric")),
            ["metric", "unit", "rolling-bad-release", "n", "rolling-healthy", "n"]
        );
        assert_eq!(cells(row(&text, "replications")), ["replications", "10", "5"]);
        assert_eq!(cells(row(&text, "seed")), ["seed", "42", "7"]);
        // Outcome shares with their Wilson intervals: 7/10 → [39.7%, 89.2%]; 0/5 → [0, 43.4%].
        assert_eq!(
            cells(row(&text, "rolled_back")),
            ["rolled_back", "share", "70.0% [39.7%, 89.2%]", "10", "0.0% [0.0%, 43.4%]", "5"]
        );
        assert_eq!(
            cells(row(&text, "completed ")),
            ["completed", "share", "30.0% [10.8%, 60.3%]", "10", "100.0% [56.6%, 100.0%]", "5"]
        );
        // detected_at_s over 300..=360 step 10: 330 ± 20 (as in the single table); the
        // healthy scenario never detected anything.
        assert_eq!(cells(row(&text, "detected_at_s")), ["detected_at_s", "s", "330 ± 20", "7", "—", "0"]);
        // requests 100000..=100009: 100004.5 ± 2.2; 100000..=100004: mean 100002 ± 1.96 → ± 2.0.
        assert_eq!(
            cells(row(&text, "requests")),
            ["requests", "requests", "100004.5 ± 2.2", "10", "100002.0 ± 2.0", "5"]
        );
        // Constant metrics print once, without ±.
        assert_eq!(cells(row(&text, "peak_pods")), ["peak_pods", "pods", "13", "10", "13", "5"]);
        assert!(text.contains("95% CI: Student t (means), Wilson (shares)"));
        assert!(!text.contains(" = "), "nothing abbreviated at 120:\n{text}");
        assert!(!text.contains('\x1b'));
        // A blank line before the outcomes and before the metrics.
        let lines: Vec<&str> = text.lines().collect();
        let at = |name: &str| lines.iter().position(|l| l.starts_with(name)).unwrap();
        assert_eq!(lines[at("completed ") - 1], "");
        assert_eq!(lines[at("detected_at_s") - 1], "");
    }

    #[test]
    fn width_80_drops_the_units_and_keeps_every_figure() {
        let text = render_compare_table(&columns(), 80, false);
        assert_fits(&text, 80);
        let header = cells(row(&text, "metric"));
        assert_eq!(header, ["metric", "rolling-bad-release", "n", "rolling-healthy", "n"], "{text}");
        assert_eq!(cells(row(&text, "detected_at_s")), ["detected_at_s", "330 ± 20", "7", "—", "0"]);
        assert_eq!(
            cells(row(&text, "rolled_back")),
            ["rolled_back", "70.0% [39.7%, 89.2%]", "10", "0.0% [0.0%, 43.4%]", "5"]
        );
        // Metric names are whole (22 characters fit).
        assert!(row(&text, "excess_failed_requests ").contains("855.0 ± 2.2"), "{text}");
        assert!(row(&text, "error_budget_pct").contains("17.0 ± 2.2"), "{text}");
        assert!(!text.contains("(lines cut"));
    }

    #[test]
    fn width_60_abbreviates_and_keeps_the_means() {
        let text = render_compare_table(&columns(), 60, false);
        assert_fits(&text, 60);
        assert!(row(&text, "detected_at_s").contains("330 ± 20"), "{text}");
        assert!(row(&text, "error_budget_pct").contains("17.0 ± 2.2"), "{text}");
        assert!(row(&text, "requests").contains("100004.5 ± 2.2"), "{text}");
        // Shares keep their interval, in a shorter form.
        let rb = cells(row(&text, "rolled_back"));
        assert!(rb[1].starts_with("70.0% [39.7") || rb[1] == "70% [39, 90]", "{text}");
        // Both scenarios still have a column, told apart by their header.
        let header = cells(row(&text, "metric"));
        assert_eq!(header.len(), 3, "{text}");
        assert_ne!(header[1], header[2]);
        assert!(!text.contains("(lines cut"), "{text}");
    }

    #[test]
    fn every_width_fits_with_one_to_four_scenarios() {
        let base = columns();
        for k in 1..=4 {
            let cols: Vec<_> =
                (0..k).map(|i| (format!("{}-{i}", base[i % 2].0), base[i % 2].1.clone())).collect();
            for width in 0..=160 {
                let text = render_compare_table(&cols, width, false);
                assert_fits(&text, width);
                if width >= 16 + (k * 16) {
                    assert!(text.contains("330 ± 20"), "{k} scenarios, width {width}:\n{text}");
                    assert!(!text.contains("(lines cut"), "{k} scenarios, width {width}:\n{text}");
                }
            }
        }
    }

    #[test]
    fn abbreviated_labels_stay_apart_and_are_spelled_out() {
        let mut cols = columns();
        // Names with no common prefix to leave out.
        cols[1].0 = "recreate-healthy".into();
        // Narrow enough that the labels must be abbreviated.
        let text = render_compare_table(&cols, 44, false);
        assert_fits(&text, 44);
        let header = cells(row(&text, "metric"));
        assert!(
            header[1].contains('…') && header[1].starts_with("rol") && header[1].ends_with('e'),
            "{text}"
        );
        assert_ne!(header[1], header[2]);
        assert!(text.lines().any(|l| l == format!("{} = rolling-bad-release", header[1])), "{text}");
    }

    #[test]
    fn color_only_bolds_the_header() {
        let text = render_compare_table(&columns(), 80, true);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("\x1b[1mrollsim: 2 scenarios side by side\x1b[0m"));
        assert!(lines.all(|l| !l.contains('\x1b')));
        assert_eq!(text.replace(BOLD, "").replace(RESET, ""), render_compare_table(&columns(), 80, false));
    }

    #[test]
    fn unmeasured_scenarios_and_no_scenarios() {
        let cols = vec![("empty".to_owned(), summarize_runs(&[])), columns().remove(0)];
        let text = render_compare_table(&cols, 120, false);
        assert_eq!(cells(row(&text, "seed")), ["seed", "—", "42"]);
        assert_eq!(cells(row(&text, "stalled")), ["stalled", "share", "—", "0", "0.0% [0.0%, 27.8%]", "10"]);
        assert_eq!(cells(row(&text, "detected_at_s")), ["detected_at_s", "s", "—", "0", "330 ± 20", "7"]);
        let none = render_compare_table(&[], 80, false);
        assert!(none.starts_with("rollsim: 0 scenarios side by side\n"), "{none}");
    }

    #[test]
    fn labels_are_distinct() {
        assert_eq!(distinct_labels(&["a", "b"]), ["a", "b"]);
        assert_eq!(distinct_labels(&["a", "a", "a"]), ["a", "a-2", "a-3"]);
        // A suffix never takes a name another scenario has in its own right.
        assert_eq!(distinct_labels(&["a", "a", "a-2"]), ["a", "a-3", "a-2"]);
        assert_eq!(distinct_labels(&[]), Vec::<String>::new());
    }

    #[test]
    fn a_common_prefix_is_left_out_of_the_column_headers() {
        assert_eq!(common_prefix(["same-fault-rolling", "same-fault-bluegreen"].into_iter()), "same-fault-");
        assert_eq!(common_prefix(["rolling-bad-release", "rolling-healthy"].into_iter()), "rolling-");
        assert_eq!(common_prefix(["a-b", "a-b"].into_iter().take(1)), "");
        assert_eq!(common_prefix(["x-1", "x-1-y"].into_iter()), "x-");
        assert_eq!(common_prefix(["rolling", "recreate"].into_iter()), "");
        let mut cols = columns();
        cols[0].0 = "same-fault-rolling".into();
        cols[1].0 = "same-fault-bluegreen".into();
        // Wide enough for the full names: they stay.
        let text = render_compare_table(&cols, 200, false);
        assert!(text.lines().nth(2).unwrap().contains("same-fault-bluegreen"), "{text}");
        // Too narrow for them: the shared prefix goes first.
        let text = render_compare_table(&cols, 40, false);
        assert_fits(&text, 40);
        let header = cells(row(&text, "metric"));
        assert_eq!(&header[1..], ["rolling", "bluegreen"], "{text}");
        assert!(text.contains("columns: names without `same-fault-`"), "{text}");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(abbreviate_middle("rolling-bad-release", 12), "rollin…lease");
        assert_eq!(abbreviate_middle("rolling-healthy", 12), "rollin…althy");
        assert_eq!(abbreviate_middle("short", 12), "short");
        assert_eq!(abbreviate_middle("abcdef", 2), "a…");
        assert_eq!(abbreviate_middle("abcdef", 0), "");
        assert_eq!(share_cell(0.94, 0.8981, 0.9653, 0), "94.0% [89.8%, 96.5%]");
        assert_eq!(share_cell(0.94, 0.8981, 0.9653, 1), "94.0% [89.8, 96.5]");
        assert_eq!(share_cell(0.94, 0.8981, 0.9653, 2), "94% [89, 97]");
        assert_eq!(share_cell(f64::NAN, f64::NAN, f64::NAN, 0), "—");
    }

    #[test]
    fn json_is_keyed_by_label_with_each_summary_json() {
        let cols = columns();
        let text = compare_json_string(&cols);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 2);
        // In the given order.
        assert!(
            text.find("\"rolling-bad-release\": {").unwrap() < text.find("\"rolling-healthy\": {").unwrap()
        );
        for (label, table) in &cols {
            let alone: serde_json::Value =
                serde_json::from_str(&super::super::summary_json_string(table, &table.scenario)).unwrap();
            assert_eq!(obj[label.as_str()], alone, "{label}");
        }
        assert_eq!(v["rolling-healthy"]["replications"], 5);
        assert_eq!(v["rolling-bad-release"]["metrics"]["detected_at_s"]["n"], 7);
    }

    #[test]
    fn scenario_labels_are_guarded_against_formulas() {
        let mut cols = columns();
        cols[0].0 = "=cmd|' /C calc'!A0".to_owned();
        let text = compare_csv_string(&cols);
        assert!(text.lines().nth(1).unwrap().starts_with("'=cmd|' /C calc'!A0,outcome."), "{text}");
        assert!(!text.lines().any(|l| l.starts_with('=') || l.starts_with("\"=")), "{text}");
    }

    #[test]
    fn csv_is_tidy() {
        let text = compare_csv_string(&columns());
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("scenario,metric,unit,n,mean,ci95_low,ci95_high,median,p95"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        // Per scenario: 4 outcomes and 20 metrics.
        assert_eq!(rows.len(), 2 * (4 + 20));
        assert!(rows.iter().all(|r| r.len() == 9));
        assert_eq!(rows.iter().filter(|r| r[0] == "rolling-healthy").count(), 24);
        let find = |s: &str, m: &str| rows.iter().find(|r| r[0] == s && r[1] == m).unwrap().clone();
        let rb = find("rolling-bad-release", "outcome.rolled_back");
        assert_eq!(rb[2..4], ["share", "10"]);
        assert_eq!(rb[4], "0.7");
        assert!(rb[7].is_empty() && rb[8].is_empty());
        let det = find("rolling-bad-release", "detected_at_s");
        assert_eq!(det[2..5], ["s", "7", "330.0"]);
        assert_eq!(det[7..], ["330.0", "357.0"]);
        let none = find("rolling-healthy", "detected_at_s");
        assert_eq!(none[2..], ["s", "0", "", "", "", "", ""]);
    }
}
