//! `rollsim tune FILE --rule NAME --threshold LIST [--for LIST] [--window LIST]`: an
//! alerting rule's settings against the faulty version and a healthy control;
//! `rollsim tune FILE --analysis NAME [--metric M] --success-threshold LIST --failure-limit LIST`:
//! the same for a metric of an AnalysisTemplate (`analysis`). `--shard I/N` runs a block of
//! the settings and `rollsim merge` combines the shards (`shard`).

mod analysis;
pub mod shard;

use super::{Failure, load_input};
use crate::experiment::runner::{RunPlan, run_all};
use crate::experiment::tune::{SettingResult, TunePoint, mark_pareto, recommended, tally};
use crate::report::rundir::Shard;
use crate::report::write_atomically;
use crate::telemetry::spec::Rule;
use shard::{KIND, PART_FILE, TUNE_FILE, TuneManifest};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "Each setting runs twice with the same seed: against the scenario as it is (its new \
version faulty) and against a healthy control (the new version without its faults). Per setting: how often the \
detector catches the bad version (detect), how often it stops or pages on the healthy one (false alarm per \
release), and the time to detect (mean, p50, p95). `pareto` marks the settings no other beats on all three; the \
recommendation is the frontier setting that detects most often within --false-alarm-budget.\n\n\
With --rule, the detector is an alerting rule: --threshold replaces the number the expression compares with; \
--window replaces every range selector's duration; --for the rule's `for`. With --analysis, it is a metric of an \
AnalysisTemplate the Rollout runs (a detection: the metric fails its AnalysisRun and the Rollout aborts): \
--success-threshold replaces the one number of its successCondition (`result[0] >= 0.95`), --failure-limit sets \
its failureLimit.\n\n\
--shard I/N runs only the settings ⌊I·S/N⌋..⌊(I+1)·S/N⌋ of the S settings; `rollsim merge` combines the N \
directories into the files of the unsharded tune, byte for byte.\n\n\
Examples:\n  rollsim tune scenarios/monitoring-high-error-rate.yaml --rule HighErrorRate --threshold 0.02,0.05,0.1 --for 0s,2m,5m\n  \
rollsim tune scenarios/argo-analysis-success-rate.yaml --analysis success-rate --success-threshold 0.8,0.9,0.95 --failure-limit 0,1,2\n  \
for i in 0 1 2; do rollsim tune scenarios/argo-kayenta-canary.yaml --analysis kayenta-errors --failure-limit 0,1 --shard $i/3 --out shards/$i; done; rollsim merge shards/0 shards/1 shards/2 --out merged";

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("detector").required(true).args(["rule", "analysis"])))]
pub struct TuneArgs {
    /// The scenario file; its new version should carry the fault the detector is for (or
    /// give the scenario with -f).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub input: super::InputArgs,
    /// The alerting rule to tune (its `alert:` name).
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
    /// Thresholds to try, comma-separated (the number the rule's expression compares with).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "rule")]
    pub threshold: Vec<f64>,
    /// `for` durations to try, comma-separated.
    #[arg(long = "for", value_name = "LIST", value_delimiter = ',', requires = "rule")]
    pub for_: Vec<String>,
    /// Range-selector windows to try, comma-separated (every `[…]` in the expression).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "rule")]
    pub window: Vec<String>,
    /// The AnalysisTemplate (or ClusterAnalysisTemplate) to tune; the Rollout must run it.
    #[arg(long, value_name = "NAME")]
    pub analysis: Option<String>,
    /// Its metric to tune (needed when it has several).
    #[arg(long, value_name = "NAME", requires = "analysis")]
    pub metric: Option<String>,
    /// Thresholds to try, comma-separated: the one number of the metric's successCondition.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        requires = "analysis",
        allow_negative_numbers = true
    )]
    pub success_threshold: Vec<f64>,
    /// failureLimits to try, comma-separated (failed measurements tolerated; -1: no limit).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        requires = "analysis",
        allow_negative_numbers = true
    )]
    pub failure_limit: Vec<i64>,
    /// The false alarms per release you accept, for the recommendation.
    #[arg(long, default_value_t = 0.05, value_name = "SHARE")]
    pub false_alarm_budget: f64,
    /// Override a Simulation or manifest value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The scenario seed (overrides spec.seed), the same for every setting.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications per setting and version (overrides spec.replications).
    #[arg(long, short = 'n')]
    pub replications: Option<u64>,
    /// Where to write tune.csv (default: output/<scenario name>-tune/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard I of N (counting from 0): the contiguous block of settings
    /// ⌊I·S/N⌋..⌊(I+1)·S/N⌋. `rollsim merge` combines the N shard directories.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Also draw detection against false alarms, and time to detect against the threshold,
    /// as PNG and SVG into DIR/plots/.
    #[arg(long)]
    pub plots: bool,
    /// Also write a self-contained report.html into the output directory (as `rollsim
    /// report DIR` does).
    #[arg(long)]
    pub report: bool,
}

/// One setting: its `(what, value)` pairs and the overrides that make it.
pub(crate) struct Setting {
    pub pairs: Vec<(String, String)>,
    pub set: Vec<String>,
}

/// What a tune runs: the settings, and which `detected_by` counts as a detection.
pub(crate) struct Plan {
    pub title: String,
    pub detector: String,
    pub settings: Vec<Setting>,
}

fn bad(message: String) -> Failure {
    Failure { code: 2, message: format!("error: {message}") }
}

/// A manifest document's override prefix: `Kind/name`, or `Kind/["name"]` for a name with dots.
fn quoted_doc(kind: &str, name: &str) -> String {
    if name.contains('.') { format!("{kind}/[\"{name}\"]") } else { format!("{kind}/{name}") }
}

fn default_out(scenario: &str) -> PathBuf {
    PathBuf::from("output").join(format!("{scenario}-tune"))
}

/// `expr` with every range selector's duration replaced by `window` (quoted text left alone).
fn with_window(expr: &str, window: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '[') => {
                out.push('[');
                out.push_str(window);
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                }
                out.push(']');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// `expr` comparing with `threshold` instead of its number.
fn with_threshold(expr: &str, threshold: f64) -> Result<String, String> {
    use promql_parser::parser::{self, Expr};
    crate::telemetry::promql::check_size(expr).map_err(|e| e.to_string())?;
    let parsed = parser::parse(expr).map_err(|e| e.to_string())?;
    let Expr::Binary(b) = &parsed else {
        return Err(format!("`{expr}` is not a comparison with a number"));
    };
    let is_number = matches!(b.rhs.as_ref(), Expr::NumberLiteral(_));
    let op = b.op.to_string();
    let comparison = ["==", "!=", ">", "<", ">=", "<="].contains(&op.as_str());
    if !is_number || !comparison || b.modifier.as_ref().is_some_and(|m| m.return_bool) {
        return Err(format!(
            "`{expr}` does not compare with a plain number (write the threshold as a number to tune it)"
        ));
    }
    Ok(format!("{} {op} {threshold}", b.lhs))
}

fn rule_plan(args: &TuneArgs, base: &crate::scenario::Scenario, rule: &str) -> Result<Plan, Failure> {
    if args.threshold.is_empty() && args.for_.is_empty() && args.window.is_empty() {
        return Err(bad("give at least one of --threshold, --for, --window".into()));
    }
    // Where the rule is: PrometheusRule/NAME, its group's index there, the rule's index.
    let mut found = None;
    for (i, group) in base.monitoring.groups.iter().enumerate() {
        let g = base.monitoring.groups[..i].iter().filter(|o| o.object == group.object).count();
        for (r, x) in group.rules.iter().enumerate() {
            if let Rule::Alerting(a) = x
                && a.name == rule
            {
                found = Some((group.object.clone(), g, r, a.expr.source().to_owned()));
            }
        }
    }
    let Some((object, g, r, expr)) = found else {
        let names: Vec<String> = base
            .monitoring
            .groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter_map(|r| match r {
                Rule::Alerting(a) => Some(a.name.clone()),
                Rule::Recording(_) => None,
            })
            .collect();
        return Err(bad(format!(
            "--rule {}: no alerting rule has that name; the scenario's are: {}",
            rule,
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    };
    let (kind, name) = object.split_once('/').expect("Kind/name");
    let rule_path = format!("{}.spec.groups[{g}].rules[{r}]", quoted_doc(kind, name));
    let options =
        |v: &[String]| if v.is_empty() { vec![None] } else { v.iter().cloned().map(Some).collect() };
    let thresholds: Vec<Option<f64>> = if args.threshold.is_empty() {
        vec![None]
    } else {
        args.threshold.iter().copied().map(Some).collect()
    };
    let (fors, windows) = (options(&args.for_), options(&args.window));
    let mut settings = Vec::new();
    for t in &thresholds {
        for f in &fors {
            for w in &windows {
                let mut e = expr.clone();
                if let Some(w) = w {
                    e = with_window(&e, w);
                }
                if let Some(t) = t {
                    e = with_threshold(&e, *t).map_err(|m| bad(format!("--threshold: rule {rule}: {m}")))?;
                }
                let mut set = Vec::new();
                let quoted = serde_json::to_string(&e).expect("a string");
                set.push(format!("{rule_path}.expr={quoted}"));
                if let Some(f) = f {
                    set.push(format!("{rule_path}.for={f}"));
                }
                let mut pairs = Vec::new();
                if let Some(t) = t {
                    pairs.push(("threshold".to_owned(), t.to_string()));
                }
                if let Some(f) = f {
                    pairs.push(("for".to_owned(), f.clone()));
                }
                if let Some(w) = w {
                    pairs.push(("window".to_owned(), w.clone()));
                }
                settings.push(Setting { pairs, set });
            }
        }
    }
    Ok(Plan { title: rule.to_owned(), detector: format!("alert:{rule}"), settings })
}

/// Removes what an earlier tune left in `dir` (creating it if needed), so that the directory
/// never mixes two tunes' files.
fn prepare_out(dir: &Path) -> Result<crate::report::outdir::OutLock, Failure> {
    let lock =
        crate::report::outdir::prepare(dir).map_err(|e| Failure { code: e.code, message: e.message })?;
    for stale in [TUNE_FILE, PART_FILE] {
        match std::fs::remove_file(dir.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Failure {
                    code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
                    message: format!("error: cannot remove {}: {e}", dir.join(stale).display()),
                });
            }
            _ => {}
        }
    }
    Ok(lock)
}

/// Writes a whole tune's `tune.csv` and manifest and prints its table (the tune itself and
/// `rollsim merge` of its shards both end here).
fn finish(out: &Path, manifest: &TuneManifest, results: &[SettingResult]) -> Result<(), Failure> {
    let mut points: Vec<TunePoint> = results.iter().map(SettingResult::point).collect();
    mark_pareto(&mut points);
    let budget = manifest.budget();
    let pick = recommended(&points, budget);
    let csv = tune_csv(&points, pick);
    let written = |path: PathBuf, r: std::io::Result<()>| {
        r.map_err(|e| Failure {
            code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
            message: format!("error: cannot write {}: {e}", path.display()),
        })
    };
    let path = out.join(TUNE_FILE);
    written(path.clone(), write_atomically(&path, |w| w.write_all(csv.as_bytes())))?;
    written(out.join(crate::report::rundir::MANIFEST_FILE), manifest.write(out))?;
    let text = render(&manifest.title, manifest.replications, &points, pick, budget);
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

pub fn run(args: &TuneArgs) -> Result<(), Failure> {
    if !(0.0..=1.0).contains(&args.false_alarm_budget) {
        return Err(bad(format!(
            "--false-alarm-budget {}: a share between 0 and 1",
            args.false_alarm_budget
        )));
    }
    let input = args.input.scenario(args.file.as_deref())?;
    let base = load_input(&input, &args.set, args.seed, args.replications, &[])?;
    let rule_flags = !(args.threshold.is_empty() && args.for_.is_empty() && args.window.is_empty());
    let analysis_flags =
        !(args.success_threshold.is_empty() && args.failure_limit.is_empty()) || args.metric.is_some();
    if args.rule.is_none() && rule_flags {
        return Err(bad(
            "--threshold, --for and --window tune a --rule; an --analysis takes --success-threshold and --failure-limit"
                .into(),
        ));
    }
    if args.analysis.is_none() && analysis_flags {
        return Err(bad(
            "--metric, --success-threshold and --failure-limit tune an --analysis; a --rule takes --threshold, --for and --window"
                .into(),
        ));
    }
    let plan = match (&args.rule, &args.analysis) {
        (Some(rule), _) => rule_plan(args, &base, rule)?,
        (None, Some(name)) => {
            if args.success_threshold.is_empty() && args.failure_limit.is_empty() {
                return Err(bad("give at least one of --success-threshold, --failure-limit".into()));
            }
            analysis::plan(args, &input, &base, name)?
        }
        (None, None) => return Err(bad("give --rule NAME or --analysis NAME".into())),
    };
    let healthy_set = format!("spec.versions[\"{}\"].faults=[]", base.release.to_image);
    // Every setting loads (faulty and healthy) before anything runs.
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let total = plan.settings.len();
    let range = shard.range(total as u64);
    let range = range.start as usize..range.end as usize;
    let mut loaded = Vec::new();
    for (i, s) in plan.settings.iter().enumerate() {
        let mut set = args.set.clone();
        set.extend(s.set.iter().cloned());
        let faulty = load_input(&input, &set, Some(base.seed), Some(base.replications), &[])?;
        set.push(healthy_set.clone());
        let healthy = load_input(&input, &set, Some(base.seed), Some(base.replications), &[])?;
        if range.contains(&i) {
            loaded.push((faulty, healthy));
        }
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&base.name));
    let manifest = TuneManifest {
        kind: KIND.to_owned(),
        rollsim_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: base.name.clone(),
        input_hash: format!("{:016x}", base.input_hash),
        seed: base.seed,
        replications: base.replications,
        title: plan.title.clone(),
        detector: plan.detector.clone(),
        false_alarm_budget: format!("{:?}", args.false_alarm_budget),
        settings: plan.settings.iter().map(|s| s.pairs.clone()).collect(),
        shard,
        setting_range: [range.start as u64, range.end as u64],
    };
    let _lock = prepare_out(&out)?;
    manifest.write(&out)?;
    // The scenario as the file gives it, for the report (which says the rule varies).
    crate::report::html::Brief::of(&base).write(&out)?;
    let mut results = Vec::with_capacity(loaded.len());
    for (i, (faulty, healthy)) in range.clone().zip(&loaded) {
        let label: Vec<String> = plan.settings[i].pairs.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("rollsim: setting {}/{total}: {}", i + 1, label.join(", "));
        let run = RunPlan { threads: args.threads, ..RunPlan::default() };
        let records = |s| run_all(s, run).into_iter().map(|r| r.record).collect::<Vec<_>>();
        let pairs = plan.settings[i].pairs.clone();
        results.push(tally(pairs, &plan.detector, &records(faulty), &records(healthy)));
    }
    if args.shard.is_none() {
        finish(&out, &manifest, &results)?;
        if args.plots {
            super::plot::draw(&out)?;
        }
        if args.report {
            super::report_html::write(&out)?;
        }
        return Ok(());
    }
    shard::write_part(&out, range.start, &results).map_err(|e| Failure {
        code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
        message: format!("error: cannot write {}: {e}", out.join(PART_FILE).display()),
    })?;
    println!(
        "{}: tune shard {shard}, settings {}..{} of {total}, written to {}; `rollsim merge` the {} shard directories",
        plan.title,
        range.start,
        range.end,
        out.display(),
        shard.count
    );
    Ok(())
}

fn render(rule: &str, replications: u64, points: &[TunePoint], pick: Option<usize>, budget: f64) -> String {
    let mut out = format!(
        "{rule}: {} settings, {replications} faulty and {replications} healthy releases each (shares with 95% Wilson intervals)\n",
        points.len()
    );
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let mut rows = vec![[
        "setting".to_owned(),
        "detect".to_owned(),
        "false alarm".to_owned(),
        "detect mean".to_owned(),
        "p50".to_owned(),
        "p95".to_owned(),
        String::new(),
    ]];
    for (i, p) in points.iter().enumerate() {
        let setting: Vec<String> = p.setting.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let (mean, p50, p95) = match p.time_to_detect {
            Some(s) => (format!("{:.0} s", s.mean), format!("{:.0} s", s.median), format!("{:.0} s", s.p95)),
            None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        let mark = match (pick == Some(i), p.pareto) {
            (true, _) => "pareto, recommended",
            (false, true) => "pareto",
            _ => "",
        };
        rows.push([
            setting.join(", "),
            format!("{} [{}, {}]", pct(p.detect.share), pct(p.detect.ci95_low), pct(p.detect.ci95_high)),
            format!(
                "{} [{}, {}]",
                pct(p.false_alarm.share),
                pct(p.false_alarm.ci95_low),
                pct(p.false_alarm.ci95_high)
            ),
            mean,
            p50,
            p95,
            mark.to_owned(),
        ]);
    }
    let widths: Vec<usize> =
        (0..7).map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0)).collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if j == 0 || j == 6 {
                    format!("{c:<w$}", w = widths[j])
                } else {
                    format!("{c:>w$}", w = widths[j])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    match pick {
        Some(i) => {
            let setting: Vec<String> = points[i].setting.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!(
                "recommended for at most {} false alarms per release: {}\n",
                pct(budget),
                setting.join(", ")
            ));
        }
        None => {
            out.push_str(&format!("no setting detects within {} false alarms per release\n", pct(budget)))
        }
    }
    out
}

fn tune_csv(points: &[TunePoint], pick: Option<usize>) -> String {
    // Setting values are user text: guarded against spreadsheet formulas.
    let mut w = crate::report::csv_guard::in_memory(true);
    let keys: Vec<String> =
        points.first().map(|p| p.setting.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let mut header = keys.clone();
    header.extend(
        [
            "detect",
            "detect_ci95_low",
            "detect_ci95_high",
            "false_alarm",
            "false_alarm_ci95_low",
            "false_alarm_ci95_high",
            "n",
            "ttd_n",
            "ttd_mean",
            "ttd_ci95_low",
            "ttd_ci95_high",
            "ttd_p50",
            "ttd_p95",
            "pareto",
            "recommended",
        ]
        .map(str::to_owned),
    );
    w.write_record(&header).expect("in memory");
    let f = |x: f64| if x.is_finite() { format!("{x:?}") } else { String::new() };
    for (i, p) in points.iter().enumerate() {
        let mut row: Vec<String> = p.setting.iter().map(|(_, v)| v.clone()).collect();
        let t = p.time_to_detect;
        let tg = |g: fn(&crate::experiment::stats::Summary) -> f64| t.map_or(String::new(), |s| f(g(&s)));
        row.extend([
            f(p.detect.share),
            f(p.detect.ci95_low),
            f(p.detect.ci95_high),
            f(p.false_alarm.share),
            f(p.false_alarm.ci95_low),
            f(p.false_alarm.ci95_high),
            p.detect.n.to_string(),
            t.map_or(0, |s| s.n).to_string(),
            tg(|s| s.mean),
            tg(|s| s.ci95_low),
            tg(|s| s.ci95_high),
            tg(|s| s.median),
            tg(|s| s.p95),
            p.pareto.to_string(),
            (pick == Some(i)).to_string(),
        ]);
        w.write_record(&row).expect("in memory");
    }
    crate::report::csv_guard::finish(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_thresholds_are_replaced_in_the_text() {
        let e = r#"sum(rate(x{s=~"5.."}[5m])) / sum(rate(x[5m])) > 0.1"#;
        assert_eq!(with_window(e, "2m"), r#"sum(rate(x{s=~"5.."}[2m])) / sum(rate(x[2m])) > 0.1"#);
        assert_eq!(with_window(r#"x{a="[5m]"}[1m]"#, "3m"), r#"x{a="[5m]"}[3m]"#);
        let t = with_threshold(e, 0.05).unwrap();
        assert!(t.ends_with("> 0.05"), "{t}");
        assert_eq!(crate::telemetry::promql::parse(&t).unwrap().threshold().unwrap().2, 0.05);
        assert!(with_threshold("sum(rate(x[5m])) > bool 1", 2.0).is_err());
        assert!(with_threshold("sum(rate(x[5m])) > (14.4 * 0.001)", 2.0).is_err());
    }

    /// Issue 16: setting values are user text; a cell a spreadsheet would run is defused.
    #[test]
    fn tune_csv_cells_are_guarded_against_formulas() {
        let share =
            crate::experiment::tune::Share { count: 1, n: 2, share: 0.5, ci95_low: 0.1, ci95_high: 0.9 };
        let point = |v: &str| TunePoint {
            setting: vec![("threshold".to_owned(), v.to_owned())],
            detect: share,
            false_alarm: share,
            time_to_detect: None,
            pareto: true,
        };
        let text = tune_csv(&[point("=HYPERLINK(\"x\")"), point("-0.5"), point("@A1")], Some(1));
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert!(rows[0].starts_with("\"'=HYPERLINK(\"\"x\"\")\","), "{text}");
        assert!(rows[1].starts_with("-0.5,0.5,"), "{text}");
        assert!(rows[2].starts_with("'@A1,"), "{text}");
        assert!(rows[1].ends_with(",true,true"), "{text}");
    }
}
