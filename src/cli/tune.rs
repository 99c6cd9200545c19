//! `rollsim tune FILE --rule NAME --threshold LIST [--for LIST] [--window LIST]`: an
//! alerting rule's settings against the faulty version and a healthy control.

use super::{Failure, ScenarioArgs, load};
use crate::experiment::runner::{RunPlan, run_all};
use crate::experiment::tune::{TunePoint, judge, mark_pareto, recommended};
use crate::report::write_atomically;
use crate::telemetry::spec::Rule;
use std::io::Write;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "Each setting runs twice with the same seed: against the scenario as it is (its new \
version faulty) and against a healthy control (the new version without its faults). Per setting: how often the \
rule catches the bad version (detect), how often it alarms on the healthy one (false alarm per release), and the \
time to detect (mean, p50, p95). `pareto` marks the settings no other beats on all three; the recommendation is \
the frontier setting that detects most often within --false-alarm-budget. --threshold replaces the number the \
expression compares with; --window replaces every range selector's duration; --for the rule's `for`.\n\n\
Example:\n  rollsim tune scenarios/monitoring-high-error-rate.yaml --rule HighErrorRate --threshold 0.02,0.05,0.1 --for 0s,2m,5m";

#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// The scenario file; its new version should carry the fault the rule is for.
    pub file: PathBuf,
    /// The alerting rule to tune (its `alert:` name).
    #[arg(long, value_name = "NAME")]
    pub rule: String,
    /// Thresholds to try, comma-separated (the number the expression compares with).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub threshold: Vec<f64>,
    /// `for` durations to try, comma-separated.
    #[arg(long = "for", value_name = "LIST", value_delimiter = ',')]
    pub for_: Vec<String>,
    /// Range-selector windows to try, comma-separated (every `[…]` in the expression).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub window: Vec<String>,
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
}

fn bad(message: String) -> Failure {
    Failure { code: 2, message: format!("error: {message}") }
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

pub fn run(args: &TuneArgs) -> Result<(), Failure> {
    if args.threshold.is_empty() && args.for_.is_empty() && args.window.is_empty() {
        return Err(bad("give at least one of --threshold, --for, --window".into()));
    }
    if !(0.0..=1.0).contains(&args.false_alarm_budget) {
        return Err(bad(format!(
            "--false-alarm-budget {}: a share between 0 and 1",
            args.false_alarm_budget
        )));
    }
    let base = load(
        &ScenarioArgs { file: args.file.clone(), set: args.set.clone(), seed: args.seed },
        args.replications,
    )?;
    // Where the rule is: PrometheusRule/NAME, its group's index there, the rule's index.
    let mut found = None;
    for (i, group) in base.monitoring.groups.iter().enumerate() {
        let g = base.monitoring.groups[..i].iter().filter(|o| o.object == group.object).count();
        for (r, rule) in group.rules.iter().enumerate() {
            if let Rule::Alerting(a) = rule
                && a.name == args.rule
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
            args.rule,
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    };
    let (kind, name) = object.split_once('/').expect("Kind/name");
    let doc = if name.contains('.') { format!("{kind}/[\"{name}\"]") } else { object.clone() };
    let rule_path = format!("{doc}.spec.groups[{g}].rules[{r}]");
    let options =
        |v: &[String]| if v.is_empty() { vec![None] } else { v.iter().cloned().map(Some).collect() };
    let thresholds: Vec<Option<f64>> = if args.threshold.is_empty() {
        vec![None]
    } else {
        args.threshold.iter().copied().map(Some).collect()
    };
    let (fors, windows) = (options(&args.for_), options(&args.window));
    let healthy_set = format!("spec.versions[\"{}\"].faults=[]", base.release.to_image);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("output").join(format!("{}-tune", base.name)));
    std::fs::create_dir_all(&out).map_err(|e| Failure {
        code: 1,
        message: format!("error: cannot create the output directory {}: {e}", out.display()),
    })?;
    let mut points: Vec<TunePoint> = Vec::new();
    let total = thresholds.len() * fors.len() * windows.len();
    for t in &thresholds {
        for f in &fors {
            for w in &windows {
                let mut e = expr.clone();
                if let Some(w) = w {
                    e = with_window(&e, w);
                }
                if let Some(t) = t {
                    e = with_threshold(&e, *t)
                        .map_err(|m| bad(format!("--threshold: rule {}: {m}", args.rule)))?;
                }
                let mut set = args.set.clone();
                let quoted = serde_json::to_string(&e).expect("a string");
                set.push(format!("{rule_path}.expr={quoted}"));
                if let Some(f) = f {
                    set.push(format!("{rule_path}.for={f}"));
                }
                let mut setting = Vec::new();
                if let Some(t) = t {
                    setting.push(("threshold".to_owned(), t.to_string()));
                }
                if let Some(f) = f {
                    setting.push(("for".to_owned(), f.clone()));
                }
                if let Some(w) = w {
                    setting.push(("window".to_owned(), w.clone()));
                }
                let label: Vec<String> = setting.iter().map(|(k, v)| format!("{k} {v}")).collect();
                eprintln!("rollsim: setting {}/{total}: {}", points.len() + 1, label.join(", "));
                let scenario_args =
                    |set: Vec<String>| ScenarioArgs { file: args.file.clone(), set, seed: Some(base.seed) };
                let faulty = load(&scenario_args(set.clone()), Some(base.replications))?;
                let mut healthy_args = set;
                healthy_args.push(healthy_set.clone());
                let healthy = load(&scenario_args(healthy_args), Some(base.replications))?;
                let plan = RunPlan { threads: args.threads, ..RunPlan::default() };
                let records = |s| run_all(s, plan).into_iter().map(|r| r.record).collect::<Vec<_>>();
                points.push(judge(setting, &args.rule, &records(&faulty), &records(&healthy)));
            }
        }
    }
    mark_pareto(&mut points);
    let pick = recommended(&points, args.false_alarm_budget);
    let csv = tune_csv(&points, pick);
    write_atomically(&out.join("tune.csv"), |w| w.write_all(csv.as_bytes()))?;
    let text = render(&args.rule, base.replications, &points, pick, args.false_alarm_budget);
    std::io::stdout().lock().write_all(text.as_bytes())?;
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
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
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
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8")
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
}
