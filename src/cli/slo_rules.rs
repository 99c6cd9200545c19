//! `rollsim slo-rules`: the SRE Workbook's multiwindow, multi-burn-rate SLO alerts as a
//! `PrometheusRule`, for a scenario or for a real cluster.

use super::Failure;
use crate::report;
use crate::scenario::units::{format_duration, parse_duration, parse_ratio};
use crate::telemetry::slo_rules::{
    BurnRateRow, DEFAULT_ERRORS, DEFAULT_METRIC, SloRuleSpec, SloRulesError, burn_rate_table, decimal,
    percent, slo_rules,
};
use std::io::Write;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "Examples:\n  \
    rollsim slo-rules --name myapp --selector 'app=\"myapp\"' --objective 99.9% --period 30d\n  \
    rollsim slo-rules --name checkout --selector 'service=\"checkout\"' --objective 0.9995 --out checkout-slo.yaml\n\n\
    Recorded series: NAME:error_ratio:rate5m … rate3d. Alerts: <Name>ErrorBudgetBurnPage \
    (1h and 5m above 14.4 × budget, or 6h and 30m above 6 ×) and <Name>ErrorBudgetBurnTicket \
    (1d and 2h above 3 ×, or 3d and 6h above 1 ×), burn rates as at a 30d period.";

#[derive(clap::Args, Debug)]
pub struct SloRulesArgs {
    /// Names the recorded series, the alerts and the PrometheusRule: a-z, 0-9 and _.
    #[arg(long)]
    pub name: String,
    /// The objective: a percentage (99.9%) or a ratio (0.999).
    #[arg(long, default_value = "99.9%")]
    pub objective: String,
    /// The SLO period the error budget is counted over; at least 3d.
    #[arg(long, default_value = "30d")]
    pub period: String,
    /// Label matchers picking the service's requests, e.g. 'app="myapp"' (default: every
    /// series of the metric).
    #[arg(long)]
    pub selector: Option<String>,
    /// The request counter.
    #[arg(long, default_value = DEFAULT_METRIC)]
    pub metric: String,
    /// Label matchers picking the failed requests among them.
    #[arg(long, default_value = DEFAULT_ERRORS)]
    pub errors: String,
    /// The rule group's evaluation interval (default: Prometheus's global one).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Write the PrometheusRule to FILE (atomically) and print the burn-rate table; default:
    /// print the PrometheusRule.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn bad_flag(flag: &str, text: &str, reason: impl std::fmt::Display) -> Failure {
    Failure { code: 2, message: format!("error: --{flag} '{text}': {reason}") }
}

/// `error: --period '1d' is shorter than …`: the flag, what was given, and why not.
fn rejected(args: &SloRulesArgs, e: SloRulesError) -> Failure {
    let given = match e.field {
        "name" => args.name.as_str(),
        "objective" => &args.objective,
        "period" => &args.period,
        "selector" => args.selector.as_deref().unwrap_or(""),
        "metric" => &args.metric,
        "errors" => &args.errors,
        "interval" => args.interval.as_deref().unwrap_or(""),
        _ => "",
    };
    Failure { code: 2, message: format!("error: --{} '{given}' {}", e.field, e.reason) }
}

/// The spec the flags describe.
fn spec(args: &SloRulesArgs) -> Result<SloRuleSpec, Failure> {
    let objective = parse_ratio(&args.objective).map_err(|e| bad_flag("objective", &args.objective, e))?;
    let period = parse_duration(&args.period).map_err(|e| bad_flag("period", &args.period, e))?;
    let interval = match &args.interval {
        Some(text) => Some(parse_duration(text).map_err(|e| bad_flag("interval", text, e))?),
        None => None,
    };
    Ok(SloRuleSpec {
        name: args.name.clone(),
        objective,
        period,
        metric: args.metric.clone(),
        selector: args.selector.clone().unwrap_or_default(),
        errors: args.errors.clone(),
        interval,
    })
}

pub fn run(args: &SloRulesArgs) -> Result<(), Failure> {
    let spec = spec(args)?;
    let rules = slo_rules(&spec).map_err(|e| rejected(args, e))?;
    let rows = burn_rate_table(&spec).map_err(|e| rejected(args, e))?;
    for row in rows.iter().filter(|r| !r.can_fire) {
        eprintln!(
            "rollsim: note: the {} pair {}/{} needs an error ratio above {}: at a {} objective it can never fire",
            row.pair.severity.as_str(),
            format_duration(row.pair.long_window),
            format_duration(row.pair.short_window),
            percent(row.threshold_ratio),
            percent(spec.objective)
        );
    }
    let yaml = rules.to_yaml();
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match &args.out {
        None => lock.write_all(yaml.as_bytes())?,
        Some(path) => {
            report::write_atomically(path, |w| w.write_all(yaml.as_bytes())).map_err(|e| Failure {
                code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
                message: format!("error: cannot write {}: {e}", path.display()),
            })?;
            lock.write_all(render_table(&rows).as_bytes())?;
            eprintln!("rollsim: wrote PrometheusRule {} to {}", rules.object_name, path.display());
        }
    }
    Ok(())
}

/// The window pairs as a plain-text table.
pub fn render_table(rows: &[BurnRateRow]) -> String {
    let header = ["severity", "long", "short", "burn rate", "threshold", "budget spent", "budget gone in"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.pair.severity.as_str().to_string(),
                format_duration(r.pair.long_window),
                format_duration(r.pair.short_window),
                decimal(r.burn_rate),
                percent(r.threshold_ratio),
                percent(r.budget_consumed_ratio),
                format_duration(r.exhausted_after),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| cells.iter().map(|c| c[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |row: &[&str]| {
        let padded: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&header);
    for c in &cells {
        out += &line(&c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_at_99_9_percent_over_30_days() {
        let spec = SloRuleSpec::new("myapp", 0.999, 30 * 24 * crate::engine::HOUR);
        let table = render_table(&burn_rate_table(&spec).unwrap());
        assert_eq!(
            table,
            "severity  long  short  burn rate  threshold  budget spent  budget gone in\n\
             page      1h    5m     14.4       1.44%      2%            2d2h\n\
             page      6h    30m    6          0.6%       5%            5d\n\
             ticket    1d    2h     3          0.3%       10%           10d\n\
             ticket    3d    6h     1          0.1%       10%           30d\n"
        );
    }
}
