//! The files of a run: `runs.csv`, `timeline.csv`, `summary.json`, the trace CSV, and the
//! `--format json|csv` renderings of the summary.
//!
//! CSV conventions (RFC 4180 quoting, `\n` line ends): a header row naming the fields of the
//! record in declaration order; `None` is an empty cell; enums are snake_case
//! (`rolled_back`); floats are written in their shortest round-trip decimal form (the `ryu`
//! algorithm, e.g. `420.5`, `600.0`, `1e-7`, `1e16`), which is deterministic across
//! platforms and reads back to the identical `f64`.

use super::atomic::write_atomically;
use super::csv_guard::FormulaGuard;
use crate::experiment::record::{RunRecord, TimelineRow, TraceEvent};
use crate::experiment::stats::{METRICS, Summary, SummaryTable};
use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

/// The columns of `runs.csv`: the [`RunRecord`] fields in order.
pub const RUNS_HEADER: [&str; 24] = {
    let mut h = [""; 24];
    h[0] = "replication";
    h[1] = "seed";
    h[2] = "outcome";
    h[3] = "detected_by";
    let mut i = 0;
    while i < METRICS.len() {
        h[4 + i] = METRICS[i].0;
        i += 1;
    }
    h
};

/// The columns of `timeline.csv`: the [`TimelineRow`] fields in order.
pub const TIMELINE_HEADER: [&str; 11] = [
    "time_s",
    "version",
    "pods_desired",
    "pods_ready",
    "traffic_share",
    "intended_share",
    "request_rps",
    "error_rps",
    "alert_value",
    "alert_threshold",
    "alert_state",
];

/// The columns of the trace CSV: the serialized [`TraceEvent`] fields.
pub const TRACE_HEADER: [&str; 4] = ["time_s", "object", "reason", "message"];

/// Writes a header (always, even with no rows, so an empty file still names its columns)
/// and one row per record.
fn write_csv<W: Write, T: Serialize>(w: W, header: &[&str], rows: &[T]) -> io::Result<()> {
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(FormulaGuard::new(w));
    csv.write_record(header).map_err(super::csv_guard::io_error)?;
    for row in rows {
        csv.serialize(row).map_err(super::csv_guard::io_error)?;
    }
    csv.flush()?;
    Ok(())
}

/// Writes `runs.csv`: one row per replication, in the order given (the runner's replication
/// order).
pub fn write_runs_csv(path: &Path, records: &[RunRecord]) -> io::Result<()> {
    write_atomically(path, |w| write_csv(w, &RUNS_HEADER, records))
}

/// Writes `timeline.csv` (tidy: one row per version per tick).
pub fn write_timeline_csv(path: &Path, rows: &[TimelineRow]) -> io::Result<()> {
    write_atomically(path, |w| write_csv(w, &TIMELINE_HEADER, rows))
}

/// Writes the event log as CSV with columns `time_s, object, reason, message` to any writer
/// (a file through [`write_atomically`], or stdout for `rollsim trace --format csv`).
pub fn write_trace_csv<W: Write>(writer: W, events: &[TraceEvent]) -> io::Result<()> {
    write_csv(writer, &TRACE_HEADER, events)
}

/// The summary as pretty-printed JSON under the scenario name `scenario_name` (which
/// replaces whatever label the table carries, so an unlabelled table still gives a complete
/// document), without a trailing newline. The shape is documented on [`SummaryTable`].
/// This is `rollsim run --format json` and the content of `summary.json`.
pub fn summary_json_string(table: &SummaryTable, scenario_name: &str) -> String {
    let labelled = SummaryTable { scenario: scenario_name.to_owned(), ..table.clone() };
    serde_json::to_string_pretty(&labelled).expect("summary serializes")
}

/// Writes `summary.json` ([`summary_json_string`] plus a final newline).
pub fn write_summary_json(path: &Path, table: &SummaryTable, scenario_name: &str) -> io::Result<()> {
    let mut text = summary_json_string(table, scenario_name);
    text.push('\n');
    write_atomically(path, |w| w.write_all(text.as_bytes()))
}

/// The columns of [`write_summary_csv`].
pub const SUMMARY_CSV_HEADER: [&str; 12] = [
    "metric",
    "unit",
    "n",
    "mean",
    "std_dev",
    "std_error",
    "ci95_low",
    "ci95_high",
    "median",
    "p95",
    "min",
    "max",
];

/// One row of [`write_summary_csv`]; `None` is a blank cell and floats are formatted like
/// every other CSV here. `rollsim sweep` writes the same rows after its grid columns.
#[derive(Serialize)]
pub(crate) struct SummaryCsvRow<'a> {
    metric: String,
    unit: &'a str,
    n: usize,
    mean: Option<f64>,
    std_dev: Option<f64>,
    std_error: Option<f64>,
    ci95_low: Option<f64>,
    ci95_high: Option<f64>,
    median: Option<f64>,
    p95: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

/// The rows of [`write_summary_csv`], in order: first one row per outcome, then one per
/// metric.
pub(crate) fn summary_csv_rows(table: &SummaryTable) -> Vec<SummaryCsvRow<'_>> {
    let num = |x: f64| x.is_finite().then_some(x);
    let mut rows = Vec::with_capacity(table.outcomes.len() + table.metrics.len());
    for o in &table.outcomes {
        rows.push(SummaryCsvRow {
            metric: format!("outcome.{}", o.outcome.as_str()),
            unit: "share",
            n: table.replications,
            mean: num(o.share),
            std_dev: None,
            std_error: None,
            ci95_low: num(o.ci95_low),
            ci95_high: num(o.ci95_high),
            median: None,
            p95: None,
            min: None,
            max: None,
        });
    }
    for m in &table.metrics {
        let s = m.summary;
        let get = |f: fn(&Summary) -> f64| s.as_ref().and_then(|s| num(f(s)));
        rows.push(SummaryCsvRow {
            metric: m.name.to_owned(),
            unit: m.unit.label(),
            n: s.map_or(0, |s| s.n),
            mean: get(|s| s.mean),
            std_dev: get(|s| s.std_dev),
            std_error: get(|s| s.std_error),
            ci95_low: get(|s| s.ci95_low),
            ci95_high: get(|s| s.ci95_high),
            median: get(|s| s.median),
            p95: get(|s| s.p95),
            min: get(|s| s.min),
            max: get(|s| s.max),
        });
    }
    rows
}

/// The summary as one CSV table (`rollsim run --format csv`), columns
/// [`SUMMARY_CSV_HEADER`]. First one row per outcome, named `outcome.<name>` with unit
/// `share`: `n` is the replications, `mean` the share and `ci95_*` its Wilson interval (the
/// other cells blank). Then one row per metric in `runs.csv` column order. Non-finite and
/// missing numbers are blank cells.
pub fn write_summary_csv<W: Write>(writer: W, table: &SummaryTable) -> io::Result<()> {
    write_csv(writer, &SUMMARY_CSV_HEADER, &summary_csv_rows(table))
}

/// [`write_summary_csv`] into a string (`rollsim run --format csv`).
pub fn summary_csv_string(table: &SummaryTable) -> String {
    let mut out = Vec::new();
    write_summary_csv(&mut out, table).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("CSV of UTF-8 strings is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::summarize_runs;
    use crate::experiment::stats::tests::sample_record;
    use serde_json::Value;

    /// The header serde derives from a record, to check the constant headers against.
    fn serde_header<T: Serialize>(row: &T) -> Vec<String> {
        let mut w = csv::Writer::from_writer(vec![]);
        w.serialize(row).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        text.lines().next().unwrap().split(',').map(str::to_owned).collect()
    }

    fn timeline_row() -> TimelineRow {
        TimelineRow {
            time_s: -1.5,
            version: "myapp:2.0".into(),
            pods_desired: 3,
            pods_ready: 2,
            traffic_share: 0.25,
            intended_share: 0.5,
            request_rps: 100.0,
            error_rps: 0.1,
            alert_value: None,
            alert_threshold: None,
            alert_state: None,
        }
    }

    fn trace_event() -> TraceEvent {
        TraceEvent {
            time: 75 * SECOND,
            time_s: 75.0,
            object: "Deployment/myapp".into(),
            reason: "ScalingReplicaSet".into(),
            message: "Scaled up replica set myapp-6d4b to 1, \"new\"".into(),
        }
    }

    #[test]
    fn headers_match_record_fields() {
        assert_eq!(serde_header(&sample_record(0, Outcome::Completed)), RUNS_HEADER);
        assert_eq!(serde_header(&timeline_row()), TIMELINE_HEADER);
        assert_eq!(serde_header(&trace_event()), TRACE_HEADER);
    }

    #[test]
    fn runs_csv_header_order_blank_cells_and_floats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let records = [sample_record(0, Outcome::Completed), sample_record(1, Outcome::RolledBack)];
        write_runs_csv(&path, &records).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(
            "replication,seed,outcome,detected_by,detected_at_s,mitigated_at_s,rolled_back_at_s,\
             completed_at_s,time_to_rollback_s,requests,"
        ));
        assert!(lines[0].ends_with(",overhead_pct,min_ready_pods,false_alarm,alerts_fired"));
        // Completed: no detection, so detected_by … rolled_back_at_s are blank; 600.25 kept.
        assert_eq!(
            lines[1],
            "0,1000,completed,,,,,600.25,,100000,99000,900,100,20000,950,850.5,300,12.5,13,1234.5,30.0,9,0,0"
        );
        assert!(lines[2].starts_with("1,1001,rolled_back,alert:HighErrorRate,310.0,340.0,430.5,,120.5,"));
        // Every row has as many cells as the header.
        for l in &lines {
            assert_eq!(l.split(',').count(), RUNS_HEADER.len(), "{l}");
        }
    }

    #[test]
    fn empty_files_still_have_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        write_timeline_csv(&path, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TIMELINE_HEADER.join(",") + "\n");
        write_runs_csv(&path, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), RUNS_HEADER.join(",") + "\n");
    }

    #[test]
    fn timeline_and_trace_csv_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        write_timeline_csv(&path, &[timeline_row()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().nth(1), Some("-1.5,myapp:2.0,3,2,0.25,0.5,100.0,0.1,,,"));

        let mut out = Vec::new();
        write_trace_csv(&mut out, &[trace_event()]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "time_s,object,reason,message\n\
             75.0,Deployment/myapp,ScalingReplicaSet,\"Scaled up replica set myapp-6d4b to 1, \"\"new\"\"\"\n"
        );
    }

    #[test]
    fn summary_json_round_trip_shape() {
        let records: Vec<_> = (0..10)
            .map(|i| sample_record(i, if i < 7 { Outcome::RolledBack } else { Outcome::Completed }))
            .collect();
        let table = summarize_runs(&records).with_scenario("ignored", 42);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_summary_json(&path, &table, "bad-release").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("NaN") && text.ends_with("}\n"));
        let v: Value = serde_json::from_str(&text).unwrap();

        let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected_top = vec!["metrics", "outcomes", "replications", "scenario", "seed"];
        expected_top.sort();
        let mut top_sorted = top.clone();
        top_sorted.sort();
        assert_eq!(top_sorted, expected_top);
        assert_eq!(v["scenario"], "bad-release");
        assert_eq!(v["seed"], 42);
        assert_eq!(v["replications"], 10);

        let outcomes = v["outcomes"].as_object().unwrap();
        assert_eq!(outcomes.len(), 4);
        assert_eq!(v["outcomes"]["rolled_back"]["count"], 7);
        assert_eq!(v["outcomes"]["rolled_back"]["share"], 0.7);
        let ci = v["outcomes"]["rolled_back"]["ci95"].as_array().unwrap();
        let rb = table.outcome(Outcome::RolledBack);
        assert_eq!((ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap()), (rb.ci95_low, rb.ci95_high));

        // Metrics appear in runs.csv column order in the text (serde_json's Value sorts keys,
        // so check positions in the raw text).
        let positions: Vec<usize> =
            METRICS.iter().map(|m| text.find(&format!("\"{}\": {{", m.0)).unwrap()).collect();
        assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");

        // Each metric's numbers come back. serde_json (without its `float_roundtrip`
        // feature) may parse a float 1 ulp off, so compare to 1e-15 here and check the
        // written text is the exact shortest round-trip form below.
        let same = |j: &Value, x: f64| (j.as_f64().unwrap() - x).abs() <= 1e-15 * x.abs();
        for m in &table.metrics {
            let j = &v["metrics"][m.name];
            let s = m.summary.unwrap();
            assert_eq!(j["n"], s.n);
            assert_eq!(j["unit"], serde_json::to_value(m.unit).unwrap());
            assert!(same(&j["mean"], s.mean), "{}", m.name);
            assert!(same(&j["std_dev"], s.std_dev), "{}", m.name);
            assert!(same(&j["std_error"], s.std_error), "{}", m.name);
            assert!(same(&j["median"], s.median) && same(&j["p95"], s.p95), "{}", m.name);
            assert!(same(&j["min"], s.min) && same(&j["max"], s.max), "{}", m.name);
            assert!(same(&j["ci95"][0], s.ci95_low) && same(&j["ci95"][1], s.ci95_high));
            let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 10, "{keys:?}");
        }
        let sd = table.metric("failed_requests").unwrap().summary.unwrap().std_dev;
        let key = "\"std_dev\": ";
        let at = text.find("\"failed_requests\": {").unwrap();
        let start = at + text[at..].find(key).unwrap() + key.len();
        let len = text[start..].find(',').unwrap();
        assert_eq!(text[start..start + len].parse::<f64>().unwrap(), sd);
        assert_eq!(v["metrics"]["detected_at_s"]["unit"], "s");
        assert_eq!(v["metrics"]["detected_at_s"]["n"], 7);
        assert_eq!(v["metrics"]["error_budget_pct"]["unit"], "%");
    }

    #[test]
    fn unmeasured_metric_is_nulls_with_n_zero() {
        // All completed: no replication detected anything.
        let records: Vec<_> = (0..3).map(|i| sample_record(i, Outcome::Completed)).collect();
        let v: Value = serde_json::from_str(&summary_json_string(&summarize_runs(&records), "x")).unwrap();
        let d = &v["metrics"]["detected_at_s"];
        assert_eq!(d["n"], 0);
        assert_eq!(d["mean"], Value::Null);
        assert_eq!(d["ci95"], serde_json::json!([null, null]));
        assert_eq!(v["seed"], Value::Null);
        assert_eq!(v["outcomes"]["stalled"]["ci95"][0], 0.0);
    }

    #[test]
    fn summary_csv_rows() {
        let records: Vec<_> = (0..4).map(|i| sample_record(i, Outcome::Completed)).collect();
        let text = summary_csv_string(&summarize_runs(&records));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], SUMMARY_CSV_HEADER.join(","));
        assert_eq!(lines.len(), 1 + 4 + METRICS.len());
        assert!(lines[1].starts_with("outcome.completed,share,4,1.0,,,0.5101"), "{}", lines[1]);
        assert_eq!(lines[5], "detected_at_s,s,0,,,,,,,,,");
        assert!(lines.iter().any(|l| l.starts_with("completed_at_s,s,4,600.25,0.0,0.0,600.25,600.25,")));
        for l in &lines {
            assert_eq!(l.split(',').count(), SUMMARY_CSV_HEADER.len(), "{l}");
        }
    }
}
