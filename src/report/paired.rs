//! `rollsim compare`'s output: strategies side by side with paired differences from the
//! baseline, as a terminal table, as tidy CSV (`compare.csv`) and as JSON (`compare.json`).

use super::compare::common_prefix;
use super::table::{fit, metric_cells};
use crate::experiment::paired::{Cell, Comparison};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Two spaces between columns.
const GAP: &str = "  ";

/// The terminal table: one row per metric, one column per strategy (mean ± 95% CI), `*`
/// where a strategy differs from the baseline (Holm-adjusted paired p < 0.05).
pub fn render_comparison_table(c: &Comparison) -> String {
    let mut out = String::new();
    let base = &c.columns[c.baseline];
    out.push_str(&format!(
        "{} strategies, {} replications each, seed {} (common random numbers: differences are paired by replication)\n",
        c.columns.len(),
        c.replications,
        c.seed
    ));
    if let Some(by) = c.by {
        out.push_str(&format!("columns ordered by {by}, lowest first\n"));
    }
    // Names that share a prefix (`same-fault-rolling`, `same-fault-flagger`) lose it.
    let prefix = common_prefix(c.columns.iter().map(String::as_str));
    if !prefix.is_empty() {
        out.push_str(&format!("columns: names without `{prefix}`\n"));
    }
    let mut grid: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["metric".to_owned(), "unit".to_owned()];
    header.extend(c.columns.iter().enumerate().map(|(k, l)| {
        let l = &l[prefix.len()..];
        if k == c.baseline { format!("{l} (baseline)") } else { l.to_owned() }
    }));
    grid.push(header);
    for row in &c.rows {
        let mut line = vec![row.label.to_owned(), row.unit.label().to_owned()];
        line.extend(row.cells.iter().map(cell_text));
        grid.push(line);
    }
    let widths: Vec<usize> =
        (0..grid[0].len()).map(|j| grid.iter().map(|r| r[j].chars().count()).max().unwrap_or(0)).collect();
    for (i, line) in grid.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let w = widths[j];
                if j < 2 { format!("{:<w$}", fit(s, w)) } else { format!("{s:>w$}") }
            })
            .collect();
        out.push_str(cells.join(GAP).trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + GAP.len() * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "* differs from {base}: paired t-test over the replications both measured, p < 0.05 after Holm's adjustment over the table\n"
    ));
    out
}

fn cell_text(cell: &Cell) -> String {
    let [mean, ..] = metric_cells(cell.summary.as_ref());
    if cell.significant { format!("{mean} *") } else { format!("{mean}  ") }
}

/// The columns of `compare.csv`.
pub const COMPARISON_CSV_HEADER: [&str; 17] = [
    "metric",
    "unit",
    "scenario",
    "baseline",
    "n",
    "mean",
    "ci95_low",
    "ci95_high",
    "median",
    "p95",
    "pairs",
    "diff_mean",
    "diff_ci95_low",
    "diff_ci95_high",
    "p_value",
    "p_holm",
    "significant",
];

/// One row of `compare.csv`, serialized in [`COMPARISON_CSV_HEADER`] order (floats in their
/// shortest round-trip form, as every CSV of rollsim; `None` is an empty cell).
#[derive(Serialize)]
struct CsvRow<'a> {
    metric: &'a str,
    unit: crate::experiment::stats::Unit,
    scenario: &'a str,
    baseline: &'a str,
    n: usize,
    mean: Option<f64>,
    ci95_low: Option<f64>,
    ci95_high: Option<f64>,
    median: Option<f64>,
    p95: Option<f64>,
    pairs: Option<usize>,
    diff_mean: Option<f64>,
    diff_ci95_low: Option<f64>,
    diff_ci95_high: Option<f64>,
    p_value: Option<f64>,
    p_holm: Option<f64>,
    significant: Option<bool>,
}

/// `compare.csv`: one row per metric and strategy (tidy); the baseline's difference cells
/// are empty.
pub fn comparison_csv_string(c: &Comparison) -> String {
    let finite = |x: f64| x.is_finite().then_some(x);
    // Scenario labels are user text: guarded against spreadsheet formulas.
    let mut w = super::csv_guard::in_memory(false);
    w.write_record(COMPARISON_CSV_HEADER).expect("in memory");
    for row in &c.rows {
        for (k, cell) in row.cells.iter().enumerate() {
            let (s, d) = (cell.summary, cell.vs_baseline);
            w.serialize(CsvRow {
                metric: row.metric,
                unit: row.unit,
                scenario: &c.columns[k],
                baseline: &c.columns[c.baseline],
                n: s.map_or(0, |s| s.n),
                mean: s.and_then(|s| finite(s.mean)),
                ci95_low: s.and_then(|s| finite(s.ci95_low)),
                ci95_high: s.and_then(|s| finite(s.ci95_high)),
                median: s.and_then(|s| finite(s.median)),
                p95: s.and_then(|s| finite(s.p95)),
                pairs: d.map(|d| d.pairs),
                diff_mean: d.and_then(|d| finite(d.mean)),
                diff_ci95_low: d.and_then(|d| finite(d.ci95_low)),
                diff_ci95_high: d.and_then(|d| finite(d.ci95_high)),
                p_value: d.and_then(|d| finite(d.p_value)),
                p_holm: finite(cell.p_holm),
                significant: d.map(|_| cell.significant),
            })
            .expect("in memory");
        }
    }
    super::csv_guard::finish(w)
}

/// `compare.json`: `{"seed", "replications", "baseline", "by", "scenarios": [...],
/// "metrics": {name: {"unit", "label", "scenarios": {label: {summary…, "vs_baseline":
/// {"pairs", "mean", "ci95", "t", "p_value", "p_holm", "significant"} | null}}}}}`; every
/// non-finite number is `null`.
pub fn comparison_json_string(c: &Comparison) -> String {
    let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let mut metrics = Map::new();
    for row in &c.rows {
        let mut per = Map::new();
        for (k, cell) in row.cells.iter().enumerate() {
            let mut v = match cell.summary {
                Some(s) => serde_json::to_value(s).expect("serializable"),
                None => json!({"n": 0}),
            };
            let vs = match cell.vs_baseline {
                Some(d) => json!({
                    "pairs": d.pairs,
                    "mean": num(d.mean),
                    "ci95": [num(d.ci95_low), num(d.ci95_high)],
                    "t": num(d.t),
                    "p_value": num(d.p_value),
                    "p_holm": num(cell.p_holm),
                    "significant": cell.significant,
                }),
                None => Value::Null,
            };
            v.as_object_mut().expect("an object").insert("vs_baseline".into(), vs);
            per.insert(c.columns[k].clone(), v);
        }
        metrics
            .insert(row.metric.to_owned(), json!({"unit": row.unit, "label": row.label, "scenarios": per}));
    }
    let doc = json!({
        "seed": c.seed,
        "replications": c.replications,
        "baseline": c.columns[c.baseline],
        "by": c.by,
        "scenarios": c.columns,
        "metrics": metrics,
    });
    serde_json::to_string_pretty(&doc).expect("serializable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::paired::compare;
    use crate::experiment::record::{Outcome, RunRecord};
    use crate::experiment::stats::tests::sample_record;

    fn records(detect: &[f64], outcome: Outcome) -> Vec<RunRecord> {
        detect
            .iter()
            .enumerate()
            .map(|(i, &d)| RunRecord {
                detected_at_s: Some(d),
                bad_requests: (d * 10.0) as u64,
                ..sample_record(i as u64, outcome)
            })
            .collect()
    }

    fn two() -> Comparison {
        let labels = vec!["rolling".to_owned(), "canary".to_owned()];
        let runs = vec![
            records(&[100.0, 110.0, 120.0, 130.0], Outcome::RolledBack),
            records(&[300.0, 320.0, 310.0, 330.0], Outcome::RolledBack),
        ];
        compare(&labels, &runs, 7, None)
    }

    #[test]
    fn the_table_marks_what_differs_from_the_baseline() {
        let text = render_comparison_table(&two());
        assert!(text.starts_with("2 strategies, 4 replications each, seed 7"), "{text}");
        let detect = text.lines().find(|l| l.starts_with("time to detect")).expect("a row");
        assert!(detect.ends_with('*'), "{detect}");
        let rolled = text.lines().find(|l| l.starts_with("rolled back")).expect("a row");
        assert!(!rolled.contains('*'), "{rolled}");
        assert!(text.contains("rolling (baseline)"));
    }

    #[test]
    fn by_orders_the_columns_and_keeps_the_baseline() {
        let labels = vec!["slow".to_owned(), "fast".to_owned()];
        let runs =
            vec![records(&[300.0, 310.0], Outcome::RolledBack), records(&[100.0, 120.0], Outcome::Completed)];
        let c = compare(&labels, &runs, 1, Some("detected_at_s"));
        assert_eq!(c.columns, ["fast", "slow"]);
        assert_eq!(c.baseline, 1);
        let row = &c.rows[0];
        assert_eq!(row.metric, "detected_at_s");
        let d = row.cells[0].vs_baseline.expect("fast vs slow");
        assert_eq!(d.mean, -195.0);
        assert!(row.cells[1].vs_baseline.is_none());
    }

    #[test]
    fn scenario_labels_are_guarded_against_formulas() {
        let labels = vec!["+SUM(A1)".to_owned(), "@x".to_owned()];
        let runs = vec![records(&[1.0, 2.0], Outcome::RolledBack), records(&[3.0, 4.0], Outcome::RolledBack)];
        let csv = comparison_csv_string(&compare(&labels, &runs, 7, None));
        let row = csv.lines().find(|l| l.starts_with("detected_at_s,s,'@x,")).expect("a guarded row");
        assert!(row.split(',').nth(3) == Some("'+SUM(A1)"), "{row}");
        assert!(!csv.contains(",@x") && !csv.contains(",+SUM"), "{csv}");
    }

    #[test]
    fn csv_rows_are_tidy() {
        let csv = comparison_csv_string(&two());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], COMPARISON_CSV_HEADER.join(","));
        assert_eq!(lines.len(), 1 + 2 * crate::experiment::paired::compared_metrics().len());
        let canary = lines.iter().find(|l| l.starts_with("detected_at_s,s,canary,")).expect("a row");
        let cells: Vec<&str> = canary.split(',').collect();
        assert_eq!(cells[3], "rolling");
        assert_eq!(cells[10], "4");
        assert_eq!(cells[11], "200.0");
        assert!(lines.iter().all(|l| l.split(',').count() == COMPARISON_CSV_HEADER.len()), "{csv}");
        assert_eq!(cells[16], "true");
        let base = lines.iter().find(|l| l.starts_with("detected_at_s,s,rolling,")).expect("a row");
        assert!(base.ends_with(",,,,,,,"), "{base}");
        let json: serde_json::Value = serde_json::from_str(&comparison_json_string(&two())).expect("JSON");
        assert_eq!(json["metrics"]["detected_at_s"]["scenarios"]["canary"]["vs_baseline"]["mean"], 200.0);
        assert_eq!(json["baseline"], "rolling");
    }
}
