//! Reading a results directory into a [`Doc`]: which command wrote it (by the files it
//! holds), and its sections.

use super::brief::Brief;
use super::decisions::{Decision, read_decisions};
use super::{Block, DECISIONS_FILE, Doc, Section, Table};
use crate::engine::{SECOND, format_clock};
use crate::experiment::paired::compare;
use crate::experiment::recommend::{WEIGHT_NAMES, Weights, recommend};
use crate::experiment::record::RunRecord;
use crate::experiment::stats::{SummaryTable, Unit, summarize_runs};
use crate::report::rundir::{MANIFEST_FILE, Manifest, RUNS_FILE, read_runs};
use std::path::Path;

/// The prices `compare`'s report ranks strategies with (the directory holds no weights of
/// the user's): the example of `rollsim recommend --help`.
pub const DEFAULT_WEIGHTS: Weights =
    Weights { bad_request: 0.05, user: 2.0, budget_pct: 0.0, pod_hour: 0.10 };

/// Rows of the decisions table at most; the rest are counted in a note.
const MAX_DECISIONS: usize = 300;

/// A number for the page: finite values to a precision that suits their size, `—` for
/// none.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_owned();
    }
    let a = x.abs();
    let text = if a == 0.0 {
        "0".to_owned()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 {
        format!("{x:.2}")
    } else if a >= 0.001 {
        format!("{x:.4}")
    } else {
        format!("{x:.2e}")
    };
    if text == "-0" || text == "-0.0" { "0".to_owned() } else { text }
}

fn interval(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", num(lo), num(hi))
}

fn pct(share: f64) -> String {
    if share.is_finite() { format!("{}%", num(share * 100.0)) } else { "—".to_owned() }
}

fn unit_label(u: Unit) -> String {
    match u {
        Unit::Share => "share".to_owned(),
        u => u.label().to_owned(),
    }
}

fn path_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

fn runs_of(dir: &Path) -> Result<Vec<RunRecord>, String> {
    let path = dir.join(RUNS_FILE);
    read_runs(&path).map_err(|e| {
        path_err(&path, format!("{e}; expected the runs.csv that `rollsim run` or `rollsim compare` writes"))
    })
}

/// Reads the results in `dir` into the report's content. The kind of results is told by the
/// files: `compare.json` (compare), `tune.csv` (tune), `sweep.csv` (sweep), `runs.csv` (run).
pub fn load(dir: &Path) -> Result<Doc, String> {
    if !dir.is_dir() {
        return Err(format!(
            "{}: not a directory; give the output directory of `rollsim run`, `compare`, `sweep` or `tune`",
            dir.display()
        ));
    }
    let mut doc = if dir.join("compare.json").is_file() {
        compare_doc(dir)?
    } else if dir.join("tune.csv").is_file() {
        tune_doc(dir)?
    } else if dir.join("sweep.csv").is_file() {
        sweep_doc(dir)?
    } else if dir.join(RUNS_FILE).is_file() {
        run_doc(dir)?
    } else {
        return Err(format!(
            "{}: no results to report on; expected runs.csv (rollsim run), compare.json (rollsim compare), sweep.csv (rollsim sweep) or tune.csv (rollsim tune)",
            dir.display()
        ));
    };
    doc.footer = format!(
        "Written by rollsim {} from the files of the results directory. Means carry Student-t 95% confidence intervals and shares Wilson 95% intervals, with n the replications measured.",
        env!("CARGO_PKG_VERSION")
    );
    Ok(doc)
}

fn section(id: &str, heading: &str, blocks: Vec<Block>) -> Section {
    Section { id: id.to_owned(), heading: heading.to_owned(), blocks }
}

fn brief_blocks(brief: &Brief) -> Vec<Block> {
    let mut facts = vec![
        ("Scenario".to_owned(), brief.scenario.clone()),
        ("Strategy".to_owned(), brief.strategy.clone()),
        ("Release".to_owned(), brief.release.clone()),
        ("Replicas".to_owned(), brief.replicas.to_string()),
        ("Traffic".to_owned(), brief.traffic.clone()),
    ];
    for v in &brief.versions {
        let faults = if v.faults.is_empty() { "no fault".to_owned() } else { v.faults.join("; ") };
        facts.push((
            format!("Version {}", v.image),
            format!("base error rate {}; {faults}", pct(v.error_rate)),
        ));
    }
    facts.push(("Rollback by hand".to_owned(), brief.manual_rollback.clone()));
    facts.push((
        "Simulated time".to_owned(),
        format!("{} per replication, {} fidelity", brief.duration, brief.fidelity),
    ));
    facts.push(("Seed".to_owned(), brief.seed.to_string()));
    facts.push(("Replications".to_owned(), brief.replications.to_string()));
    let mut blocks = vec![Block::Facts(facts)];
    if brief.alerts.is_empty() {
        blocks.push(Block::Note("No alerting rule is simulated.".to_owned()));
    } else {
        blocks.push(Block::Heading("Alerting rules".to_owned()));
        blocks.push(Block::List(brief.alerts.clone()));
    }
    blocks
}

fn read_brief(dir: &Path) -> Result<Option<Brief>, String> {
    Brief::read(dir)
}

/// The outcome shares and every metric of a summary.
fn summary_tables(summary: &SummaryTable, what: &str) -> Vec<Block> {
    let n = summary.replications;
    let outcomes = Table {
        caption: format!("Outcomes of {what} ({n} replications)"),
        header: ["outcome", "count", "share", "95% CI"].map(str::to_owned).to_vec(),
        rows: summary
            .outcomes
            .iter()
            .map(|o| {
                vec![
                    o.outcome.as_str().replace('_', " "),
                    format!("{} of {n}", o.count),
                    pct(o.share),
                    format!("[{}, {}]", pct(o.ci95_low), pct(o.ci95_high)),
                ]
            })
            .collect(),
        highlight: Vec::new(),
        note: Some("Share of replications with each outcome, with its Wilson 95% interval.".to_owned()),
    };
    let metrics = Table {
        caption: format!("Metrics of {what}"),
        header: ["metric", "unit", "n", "mean", "95% CI", "std error", "median", "p95", "min", "max"]
            .map(str::to_owned)
            .to_vec(),
        rows: summary
            .metrics
            .iter()
            .map(|m| {
                let mut row = vec![m.name.to_owned(), unit_label(m.unit)];
                match &m.summary {
                    Some(s) => row.extend([
                        s.n.to_string(),
                        num(s.mean),
                        interval(s.ci95_low, s.ci95_high),
                        num(s.std_error),
                        num(s.median),
                        num(s.p95),
                        num(s.min),
                        num(s.max),
                    ]),
                    None => {
                        row.push("0".to_owned());
                        row.extend(std::iter::repeat_n("—".to_owned(), 7));
                    }
                }
                row
            })
            .collect(),
        highlight: Vec::new(),
        note: Some(format!(
            "Each metric over the replications that measured it (n of {n}); times in seconds from the release start. The mean's 95% interval is Student's t."
        )),
    };
    vec![Block::Table(outcomes), Block::Table(metrics)]
}

/// The saved replication: what ended it, then its decisions in order.
fn decisions_blocks(
    dir: &Path,
    first: Option<&RunRecord>,
    records: &[RunRecord],
) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    // What detected the releases, over every replication.
    let n = records.len();
    let mut by: Vec<(String, usize)> = Vec::new();
    for r in records {
        let key = r.detected_by.clone().unwrap_or_else(|| "nothing (not detected)".to_owned());
        match by.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += 1,
            None => by.push((key, 1)),
        }
    }
    by.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if n > 0 {
        blocks.push(Block::Table(Table {
            caption: format!("What detected the release, over all {n} replications"),
            header: ["detected by", "count", "share", "95% CI"].map(str::to_owned).to_vec(),
            rows: by
                .iter()
                .map(|(k, c)| {
                    let (lo, hi) = crate::experiment::stats::wilson_interval(*c, n);
                    vec![k.clone(), format!("{c} of {n}"), pct(*c as f64 / n as f64), format!("[{}, {}]", pct(lo), pct(hi))]
                })
                .collect(),
            highlight: Vec::new(),
            note: Some("alert:NAME is a PrometheusRule alert with an action, analysis:METRIC an Argo AnalysisRun, flagger:CHECK Flagger's checks, progress_deadline the Deployment's progress deadline. Wilson 95% intervals.".to_owned()),
        }));
    }
    if let Some(r) = first {
        let at = |x: Option<f64>| x.map_or("—".to_owned(), |s| format!("{} s after the release", num(s)));
        blocks.push(Block::Heading(format!("Replication {} (seed {})", r.replication, r.seed)));
        blocks.push(Block::Facts(vec![
            ("Outcome".to_owned(), r.outcome.as_str().replace('_', " ")),
            ("Detected by".to_owned(), r.detected_by.clone().unwrap_or_else(|| "nothing".to_owned())),
            ("Detected".to_owned(), at(r.detected_at_s)),
            ("Mitigated".to_owned(), at(r.mitigated_at_s)),
            ("Rolled back".to_owned(), at(r.rolled_back_at_s)),
            ("Completed".to_owned(), at(r.completed_at_s)),
            ("Bad requests".to_owned(), r.bad_requests.to_string()),
            ("Users affected".to_owned(), r.users_affected.to_string()),
        ]));
    }
    let path = dir.join(DECISIONS_FILE);
    match read_decisions(&path)? {
        None => blocks.push(Block::Note(format!(
            "This directory holds no {DECISIONS_FILE} (rollsim run writes it for the replication whose timeline it saves); `rollsim trace` tells any replication."
        ))),
        Some(decisions) => blocks.push(Block::Table(decisions_table(&decisions))),
    }
    Ok(blocks)
}

/// The decisions, alert and analysis lines marked.
fn decisions_table(decisions: &[Decision]) -> Table {
    let shown = &decisions[..decisions.len().min(MAX_DECISIONS)];
    let mut highlight = Vec::new();
    let rows = shown
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if matches!(
                d.reason.as_str(),
                "AlertFiring"
                    | "Notified"
                    | "Detected"
                    | "RollbackStarted"
                    | "AnalysisMeasurement"
                    | "Mitigated"
                    | "RolledBack"
            ) {
                highlight.push((i, 2));
            }
            let micros = (d.time_s * SECOND as f64).round().max(0.0) as u64;
            vec![format_clock(micros), d.object.clone(), d.reason.clone(), d.message.clone()]
        })
        .collect();
    let mut note = "Time since the replication started (mm:ss), as `rollsim trace` prints it; pods' and ReplicaSets' own lifecycle lines are left out. Marked: what detected the release and what it set in motion.".to_owned();
    if decisions.len() > shown.len() {
        note.push_str(&format!(
            " The first {} of {} decisions are shown; decisions.csv holds them all.",
            shown.len(),
            decisions.len()
        ));
    }
    Table {
        caption: "Decisions of the saved replication, and why".to_owned(),
        header: ["time", "object", "reason", "message"].map(str::to_owned).to_vec(),
        rows,
        highlight,
        note: Some(note),
    }
}

fn plots_section() -> Section {
    section("plots", "Plots", vec![Block::Figures])
}

fn run_doc(dir: &Path) -> Result<Doc, String> {
    let manifest = match Manifest::read(dir) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(path_err(&dir.join(MANIFEST_FILE), e)),
    };
    let records = runs_of(dir)?;
    let brief = read_brief(dir)?;
    let name = brief
        .as_ref()
        .map(|b| b.scenario.clone())
        .or_else(|| manifest.as_ref().map(|m| m.scenario.clone()))
        .unwrap_or_else(|| "rollsim run".to_owned());
    let mut summary = summarize_runs(&records);
    if let Some(m) = &manifest {
        summary = summary.with_scenario(&m.scenario, m.seed);
    }
    let mut scenario_blocks = match &brief {
        Some(b) => brief_blocks(b),
        None => vec![Block::Note(format!(
            "This directory holds no {} (written by rollsim run); only what manifest.json says is known.",
            super::BRIEF_FILE
        ))],
    };
    if let Some(m) = &manifest {
        let mut facts = vec![
            ("Run".to_owned(), format!("{} replications of {}, seed {}", m.replications, m.scenario, m.seed)),
            ("Input hash".to_owned(), m.input_hash.clone()),
            ("rollsim".to_owned(), m.rollsim_version.clone()),
        ];
        if m.shard.count > 1 {
            facts.push((
                "Shard".to_owned(),
                format!("{} (replications {}..{})", m.shard, m.replication_range[0], m.replication_range[1]),
            ));
        }
        scenario_blocks.push(Block::Facts(facts));
    }
    let first = records.iter().find(|r| r.replication == 0);
    let subtitle = match &brief {
        Some(b) => format!("{} · {} replications · seed {}", b.strategy, records.len(), b.seed),
        None => format!("{} replications", records.len()),
    };
    Ok(Doc {
        title: format!("rollsim report: {name}"),
        subtitle,
        sections: vec![
            section("scenario", "Scenario", scenario_blocks),
            section("summary", "Summary", summary_tables(&summary, &name)),
            plots_section(),
            section("decisions", "Decisions and why", decisions_blocks(dir, first, &records)?),
        ],
        footer: String::new(),
    })
}

fn json_err(path: &Path, e: serde_json::Error) -> String {
    format!("{}:{}:{}: {e}", path.display(), e.line(), e.column())
}

fn compare_doc(dir: &Path) -> Result<Doc, String> {
    let path = dir.join("compare.json");
    let text = std::fs::read_to_string(&path).map_err(|e| path_err(&path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| json_err(&path, e))?;
    let bad = |what: &str| {
        format!("{}:1:1: {what}; expected the compare.json that `rollsim compare` writes", path.display())
    };
    let columns: Vec<String> = json["scenarios"]
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| bad("no list of `scenarios`"))?;
    let baseline = json["baseline"].as_str().ok_or_else(|| bad("no `baseline`"))?.to_owned();
    let seed = json["seed"].as_u64().ok_or_else(|| bad("no `seed`"))?;
    let by = json["by"].as_str().map(str::to_owned);
    if !columns.contains(&baseline) {
        return Err(bad(&format!("the baseline `{baseline}` is not among the scenarios")));
    }
    // The baseline first, the others in column order: `compare` orders them again by `by`.
    let mut labels = vec![baseline.clone()];
    labels.extend(columns.iter().filter(|c| **c != baseline).cloned());
    let mut runs = Vec::with_capacity(labels.len());
    for l in &labels {
        if l.contains(['/', '\\']) || l == ".." {
            return Err(bad(&format!("`{l}` is not a strategy directory's name")));
        }
        runs.push(runs_of(&dir.join(l))?);
    }
    let n = runs[0].len();
    if let Some((l, r)) = labels.iter().zip(&runs).find(|(_, r)| r.len() != n) {
        return Err(format!(
            "{}: {} replications, but {} has {n}; the strategies of a comparison run the same replications",
            dir.join(l).join(RUNS_FILE).display(),
            r.len(),
            labels[0]
        ));
    }
    let comparison = compare(&labels, &runs, seed, by.as_deref());
    let rec = recommend(&labels, &runs, DEFAULT_WEIGHTS);

    // Scenario: each strategy in brief.
    let mut scenario_blocks = vec![Block::Para(format!(
        "{} strategies, {n} replications each, all with seed {seed}: replication i of each meets the same arrivals, users and people (common random numbers). The baseline is {baseline}.",
        labels.len()
    ))];
    for l in &comparison.columns {
        scenario_blocks.push(Block::Heading(l.clone()));
        match read_brief(&dir.join(l))? {
            Some(b) => scenario_blocks.extend(brief_blocks(&b)),
            None => scenario_blocks.push(Block::Note(format!(
                "{l}/{} is missing: no details of this scenario were saved.",
                super::BRIEF_FILE
            ))),
        }
    }

    // The comparison table: one row per metric, one column per strategy.
    let mut header = vec!["metric".to_owned(), "unit".to_owned()];
    header.extend(comparison.columns.iter().cloned());
    let mut highlight = Vec::new();
    let rows = comparison
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut cells = vec![row.label.to_owned(), unit_label(row.unit)];
            for (k, c) in row.cells.iter().enumerate() {
                let mut text = match &c.summary {
                    Some(s) => format!("{} {} n={}", num(s.mean), interval(s.ci95_low, s.ci95_high), s.n),
                    None => "— n=0".to_owned(),
                };
                if let Some(d) = &c.vs_baseline {
                    text.push_str(&format!(
                        "; Δ {} {}, p(Holm) {}",
                        num(d.mean),
                        interval(d.ci95_low, d.ci95_high),
                        num(c.p_holm)
                    ));
                    if c.significant {
                        text.push_str(" *");
                        highlight.push((i, k + 2));
                    }
                }
                cells.push(text);
            }
            cells
        })
        .collect();
    let table = Table {
        caption: format!("Strategies side by side ({n} replications each)"),
        header,
        rows,
        highlight,
        note: Some(format!(
            "Mean with its Student-t 95% interval and n measured; Δ is the paired difference from the baseline {baseline} with its 95% interval, and p its paired t-test adjusted over the table (Holm). * and the mark: significant at 5%.{}",
            by.as_ref().map(|b| format!(" Columns ordered by {b}.")).unwrap_or_default()
        )),
    };

    // The recommendation at the stated prices.
    let w = &rec.weights;
    let prices: Vec<String> = WEIGHT_NAMES
        .iter()
        .zip([w.bad_request, w.user, w.budget_pct, w.pod_hour])
        .map(|((name, what), v)| format!("{name} = {v} ({what})"))
        .collect();
    let mut rec_blocks = Vec::new();
    if let Some(top) = rec.ranking.first() {
        rec_blocks.push(Block::Top(format!(
            "Recommended: {} — mean cost {} {} per release at the prices below ({} replications).",
            top.label,
            num(top.cost.mean),
            interval(top.cost.ci95_low, top.cost.ci95_high),
            rec.replications
        )));
    }
    rec_blocks.push(Block::Para(
        "The directory holds no prices of yours, so the strategies are ranked at these default prices (rollsim recommend --weights ranks them at yours):".to_owned(),
    ));
    rec_blocks.push(Block::List(prices));
    rec_blocks.push(Block::Table(Table {
        caption: "Ranking by mean cost per release".to_owned(),
        header: ["rank", "strategy", "cost", "95% CI", "n", "vs the top (paired)", "why"].map(str::to_owned).to_vec(),
        rows: rec
            .ranking
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let vs = match &r.vs_top {
                    Some(d) => format!("+{} {}, p {}", num(d.mean), interval(d.ci95_low, d.ci95_high), num(d.p_value)),
                    None => "—".to_owned(),
                };
                vec![
                    (i + 1).to_string(),
                    r.label.clone(),
                    num(r.cost.mean),
                    interval(r.cost.ci95_low, r.cost.ci95_high),
                    r.cost.n.to_string(),
                    vs,
                    r.reasons.join(", "),
                ]
            })
            .collect(),
        highlight: vec![(0, 1)],
        note: Some("Cost = bad_request × bad requests + user × users affected + budget_pct × error budget % + pod_hour × extra pod-hours, per replication; mean with its Student-t 95% interval.".to_owned()),
    }));
    if let Some(top) = rec.ranking.first() {
        let mut lines = Vec::new();
        for ((name, _), v) in WEIGHT_NAMES.iter().zip([w.bad_request, w.user, w.budget_pct, w.pod_hour]) {
            if v <= 0.0 {
                continue;
            }
            lines.push(match rec.flips.iter().find(|f| f.weight == *name) {
                Some(f) if f.factor >= 1.0 => {
                    format!("{name} {}× higher puts {} on top", num(f.factor), f.new_top)
                }
                Some(f) => format!("{name} {}× lower puts {} on top", num(1.0 / f.factor), f.new_top),
                None => format!("no value of {name} alone changes the top choice"),
            });
        }
        rec_blocks.push(Block::Para(format!("How robust the choice of {} is:", top.label)));
        rec_blocks.push(Block::List(lines));
    }

    let mut sections = vec![
        section("scenario", "Scenario", scenario_blocks),
        section("recommendation", "Recommendation", rec_blocks),
        section("summary", "Summary", vec![Block::Table(table)]),
        plots_section(),
    ];
    // Decisions: per strategy, what detected its releases.
    let mut decision_blocks = Vec::new();
    for l in &comparison.columns {
        let k = labels.iter().position(|x| x == l).expect("a label");
        decision_blocks.push(Block::Heading(l.clone()));
        let first = runs[k].iter().find(|r| r.replication == 0);
        decision_blocks.extend(decisions_blocks(&dir.join(l), first, &runs[k])?);
    }
    sections.push(section("decisions", "Decisions and why", decision_blocks));
    Ok(Doc {
        title: format!("rollsim report: comparison of {}", comparison.columns.join(", ")),
        subtitle: format!("{} strategies · {n} replications each · seed {seed}", labels.len()),
        sections,
        footer: String::new(),
    })
}

/// A CSV file as header and rows; errors name the file and line. Every row has the header's
/// width: the csv reader is not flexible, so a row of another width is such an error.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let bytes = std::fs::read(path).map_err(|e| path_err(path, e))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        if i == 0 {
            header = fields;
        } else {
            rows.push(fields);
        }
    }
    if header.is_empty() {
        return Err(format!("{}:1:1: the file is empty; expected a header line", path.display()));
    }
    Ok((header, rows))
}

fn column(path: &Path, header: &[String], name: &str, writer: &str) -> Result<usize, String> {
    header.iter().position(|h| h == name).ok_or_else(|| {
        format!("{}:1:1: no column `{name}`; expected the file that `{writer}` writes", path.display())
    })
}

fn cell_f64(path: &Path, row: usize, col: usize, text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Ok(f64::NAN);
    }
    text.parse().map_err(|_| format!("{}:{}:{}: `{text}` is not a number", path.display(), row + 2, col + 1))
}

fn tune_doc(dir: &Path) -> Result<Doc, String> {
    let path = dir.join("tune.csv");
    let (header, rows) = read_csv(&path)?;
    let writer = "rollsim tune";
    let c = |name: &str| column(&path, &header, name, writer);
    let first_stat = c("detect")?;
    let cols = [
        c("detect")?,
        c("detect_ci95_low")?,
        c("detect_ci95_high")?,
        c("false_alarm")?,
        c("false_alarm_ci95_low")?,
        c("false_alarm_ci95_high")?,
        c("n")?,
        c("ttd_n")?,
        c("ttd_mean")?,
        c("ttd_ci95_low")?,
        c("ttd_ci95_high")?,
        c("ttd_p50")?,
        c("ttd_p95")?,
        c("pareto")?,
        c("recommended")?,
    ];
    let keys = &header[..first_stat];
    let mut table_rows = Vec::new();
    let mut highlight = Vec::new();
    let mut pick = None;
    let mut n_all = None;
    for (i, row) in rows.iter().enumerate() {
        let f = |k: usize| cell_f64(&path, i, cols[k], &row[cols[k]]);
        let setting: Vec<String> = keys.iter().zip(row).map(|(k, v)| format!("{k} {v}")).collect();
        let setting = if setting.is_empty() { "as in the file".to_owned() } else { setting.join(", ") };
        let yes = |k: usize| matches!(row[cols[k]].as_str(), "true" | "1" | "yes");
        if yes(14) {
            pick = Some(setting.clone());
            highlight.push((i, 0));
        }
        n_all = Some(row[cols[6]].clone());
        table_rows.push(vec![
            setting,
            format!("{} [{}, {}]", pct(f(0)?), pct(f(1)?), pct(f(2)?)),
            format!("{} [{}, {}]", pct(f(3)?), pct(f(4)?), pct(f(5)?)),
            row[cols[6]].clone(),
            format!("{} s {}", num(f(8)?), interval(f(9)?, f(10)?)),
            row[cols[7]].clone(),
            format!("{} s", num(f(11)?)),
            format!("{} s", num(f(12)?)),
            match (yes(13), yes(14)) {
                (_, true) => "Pareto, recommended".to_owned(),
                (true, false) => "Pareto".to_owned(),
                _ => String::new(),
            },
        ]);
    }
    let mut blocks = Vec::new();
    blocks.push(match &pick {
        Some(s) => Block::Top(format!("Recommended setting: {s}.")),
        None => Block::Top("No setting detected the fault within the false-alarm budget.".to_owned()),
    });
    blocks.push(Block::Table(Table {
        caption: format!("Each setting of the alerting rule against the faulty version and a healthy control ({} settings)", rows.len()),
        header: ["setting", "detected", "false alarms", "n", "time to detect (mean, 95% CI)", "detections", "p50", "p95", ""]
            .map(str::to_owned)
            .to_vec(),
        rows: table_rows,
        highlight,
        note: Some(format!(
            "Shares with Wilson 95% intervals over n = {} faulty and as many healthy releases per setting; the time to detect over the releases it detected (its own n), with the Student-t 95% interval of the mean.",
            n_all.unwrap_or_else(|| "0".to_owned())
        )),
    }));
    let mut scenario_blocks = match read_brief(dir)? {
        Some(b) => brief_blocks(&b),
        None => Vec::new(),
    };
    scenario_blocks.insert(0, Block::Para(
        "rollsim tune ran every setting twice with the same seed: against the scenario's faulty new version (what detection means) and against the same release without its faults (what a false alarm means).".to_owned(),
    ));
    Ok(Doc {
        title: "rollsim report: alert tuning".to_owned(),
        subtitle: format!("{} settings", rows.len()),
        sections: vec![
            section("scenario", "Scenario", scenario_blocks),
            section("summary", "Settings", blocks),
            plots_section(),
        ],
        footer: String::new(),
    })
}

/// The metrics a sweep's table shows per grid point (`sweep.csv` holds all).
const SWEEP_METRICS: [&str; 6] = [
    "outcome.rolled_back",
    "detected_at_s",
    "time_to_rollback_s",
    "bad_requests",
    "users_affected",
    "overhead_pct",
];

/// A grid point's values, and its shown metrics as `(name, text)`.
type GridPoint = (Vec<String>, Vec<(String, String)>);

fn sweep_doc(dir: &Path) -> Result<Doc, String> {
    let path = dir.join("sweep.csv");
    let (header, rows) = read_csv(&path)?;
    let writer = "rollsim sweep";
    let c = |name: &str| column(&path, &header, name, writer);
    let (metric, unit, n, mean, lo, hi) =
        (c("metric")?, c("unit")?, c("n")?, c("mean")?, c("ci95_low")?, c("ci95_high")?);
    let axes = &header[..metric];
    // Grid points in file order, each with its metrics.
    let mut points: Vec<GridPoint> = Vec::new();
    let mut units: Vec<(String, String)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let key = row[..metric].to_vec();
        if points.last().is_none_or(|p| p.0 != key) {
            points.push((key, Vec::new()));
        }
        let name = row[metric].clone();
        if !SWEEP_METRICS.contains(&name.as_str()) {
            continue;
        }
        if !units.iter().any(|u| u.0 == name) {
            units.push((name.clone(), row[unit].clone()));
        }
        let m = cell_f64(&path, i, mean, &row[mean])?;
        let (l, h) = (cell_f64(&path, i, lo, &row[lo])?, cell_f64(&path, i, hi, &row[hi])?);
        let text = if !m.is_finite() {
            format!("— n={}", row[n])
        } else if row[unit] == "share" {
            format!("{} [{}, {}] n={}", pct(m), pct(l), pct(h), row[n])
        } else {
            format!("{} {} n={}", num(m), interval(l, h), row[n])
        };
        points.last_mut().expect("a point").1.push((name, text));
    }
    let shown: Vec<&str> =
        SWEEP_METRICS.iter().copied().filter(|m| units.iter().any(|u| u.0 == *m)).collect();
    let mut table_header: Vec<String> = axes.to_vec();
    for m in &shown {
        let u = &units.iter().find(|u| u.0 == *m).expect("seen").1;
        let label = m.to_string();
        table_header.push(if u == "share" || u.is_empty() { label } else { format!("{label} ({u})") });
    }
    let table_rows = points
        .iter()
        .map(|(key, metrics)| {
            let mut row = key.clone();
            for m in &shown {
                row.push(metrics.iter().find(|x| x.0 == *m).map_or("—".to_owned(), |x| x.1.clone()));
            }
            row
        })
        .collect();
    let mut scenario_blocks = match read_brief(dir)? {
        Some(b) => brief_blocks(&b),
        None => Vec::new(),
    };
    scenario_blocks.insert(0, Block::Para(format!(
        "rollsim sweep ran the scenario at {} grid points over {} with the same seed at every point (common random numbers).",
        points.len(),
        if axes.is_empty() { "no axis".to_owned() } else { axes.join(", ") }
    )));
    Ok(Doc {
        title: "rollsim report: sweep".to_owned(),
        subtitle: format!("{} grid points", points.len()),
        sections: vec![
            section("scenario", "Scenario", scenario_blocks),
            section(
                "summary",
                "Summary",
                vec![Block::Table(Table {
                    caption: "Key metrics at each grid point".to_owned(),
                    header: table_header,
                    rows: table_rows,
                    highlight: Vec::new(),
                    note: Some("Mean with its Student-t 95% interval (shares: Wilson) and the replications n that measured it; sweep.csv holds every metric.".to_owned()),
                })],
            ),
            plots_section(),
        ],
        footer: String::new(),
    })
}
