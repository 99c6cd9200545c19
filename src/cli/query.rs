//! `rollsim query FILE --at DURATION 'EXPR'`: what an alert or an analysis would have seen.
//! Runs one replication with every metric family exported and evaluates a PromQL instant
//! query against its simulated Prometheus at the given instants.

use super::{Failure, ScenarioArgs, load};
use crate::experiment::world::{Collect, run_replication};
use crate::scenario::units::{format_duration, parse_duration};
use crate::telemetry::promql::{self, METRIC_NAME, Value};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The PromQL expression (Prometheus 2.42's float PromQL: selectors with offset and @,
    /// subqueries, every aggregation, the range and instant functions real rule files use;
    /// not holt_winters or native histograms; README "Monitoring" lists it).
    /// With -f, the only argument: `rollsim query -f DIR 'EXPR'`.
    #[arg(value_name = "EXPR")]
    pub expr: Option<String>,
    /// When to evaluate, as time since the replication started (`12m`, `1h5m30s`; the
    /// release happens at `spec.release.at`). Repeatable.
    #[arg(long = "at", value_name = "DURATION", required = true)]
    pub at: Vec<String>,
    /// Which replication.
    #[arg(long, default_value_t = 0)]
    pub replication: u64,
}

pub fn query(args: &QueryArgs) -> Result<(), Failure> {
    // `query FILE EXPR`, or `query -f PATH… EXPR`: then the one argument is the expression.
    let (scenario_args, expr) = match (&args.scenario.file, &args.expr) {
        (Some(_), Some(expr)) => (args.scenario.clone(), expr.clone()),
        (Some(only), None) if !args.scenario.input.filename.is_empty() => {
            (ScenarioArgs { file: None, ..args.scenario.clone() }, only.display().to_string())
        }
        _ => {
            return Err(Failure {
                code: 2,
                message: "error: give the scenario and the expression: `rollsim query FILE 'EXPR'` or \
                          `rollsim query -f PATH 'EXPR'`"
                    .into(),
            });
        }
    };
    let scenario = load(&scenario_args, None)?;
    let query = promql::parse(&expr).map_err(|e| Failure {
        code: 2,
        message: format!(
            "error: the query `{expr}`: {e}\n  help: see `rollsim query --help` for the supported subset"
        ),
    })?;
    let mut instants = Vec::new();
    for at in &args.at {
        let t =
            parse_duration(at).map_err(|e| Failure { code: 2, message: format!("error: --at {at}: {e}") })?;
        if t > scenario.duration {
            return Err(Failure {
                code: 2,
                message: format!(
                    "error: --at {at} is after the end of the replication ({})",
                    format_duration(scenario.duration)
                ),
            });
        }
        instants.push(t);
    }
    let collect = Collect { timeline: false, trace: false, store: true };
    let result = run_replication(&scenario, args.replication, collect);
    let store = result.store.unwrap_or_default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "# {} replication {} (seed {}), release at {}: {}",
        scenario.name,
        args.replication,
        result.record.seed,
        format_duration(scenario.release.at),
        expr
    )?;
    for t in instants {
        let value =
            query.eval_instant(&store, t).map_err(|e| Failure { code: 1, message: format!("error: {e}") })?;
        writeln!(out, "t={}", format_duration(t))?;
        match value {
            Value::Scalar(v) => writeln!(out, "  scalar {}", fmt(v))?,
            Value::Vector(v) if v.is_empty() => writeln!(out, "  (no series)")?,
            Value::Vector(v) => {
                for (labels, x) in v {
                    let name = labels.get(METRIC_NAME).cloned().unwrap_or_default();
                    let rest: Vec<String> = labels
                        .iter()
                        .filter(|(k, _)| k.as_str() != METRIC_NAME)
                        .map(|(k, v)| format!("{k}={v:?}"))
                        .collect();
                    writeln!(out, "  {name}{{{}}} {}", rest.join(", "), fmt(x))?;
                }
            }
        }
    }
    Ok(())
}

/// Prometheus's number formatting: NaN, +Inf, or the shortest round-trip decimal.
fn fmt(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}
