//! `rollsim recommend FILE... --weights ...`: strategies ranked by a cost the user weighs.

use super::Failure;
use crate::experiment::recommend::{Recommendation, WEIGHT_NAMES, Weights, recommend};
use crate::experiment::runner::{RunPlan, run_all};
use crate::report;
use std::io::Write;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "The cost of a release is the sum of its harms at the prices --weights gives \
(names not given cost 0):\n  bad_request  a request the new version failed or dropped\n  user         a user who met at least one \
such failure\n  budget_pct   one percent of the SLO's error budget spent\n  pod_hour     a pod-hour above the desired \
replicas\n\nEvery scenario runs with the same seed and replications (common random numbers), so the runner-up \
is compared with the top choice replication by replication. The team's capacity enters through --response \
(the median time from a page to the rollback; p99 4.5× that) or --unattended (nobody rolls back by hand).\n\n\
Examples:\n  rollsim recommend scenarios/same-fault/*.yaml --weights bad_request=0.05,user=2,pod_hour=0.10\n  \
rollsim recommend scenarios/same-fault/rolling.yaml scenarios/same-fault/flagger.yaml --weights user=1 --unattended";

#[derive(clap::Args, Debug)]
pub struct RecommendArgs {
    /// The scenario files, one strategy each (a file that defines spec.variants stands for
    /// its variants).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub input: super::InputArgs,
    /// Prices: bad_request=X,user=X,budget_pct=X,pod_hour=X.
    #[arg(long, value_name = "NAME=PRICE,...", required = true)]
    pub weights: String,
    /// The median time from a page to the rollback (a log-normal with p99 4.5× it), for every
    /// scenario: e.g. 5m for a team at its desks, 45m at night.
    #[arg(long, value_name = "DURATION", conflicts_with = "unattended")]
    pub response: Option<String>,
    /// Nobody rolls back by hand: only what the strategy does by itself stops a bad version.
    #[arg(long)]
    pub unattended: bool,
    /// Override a Simulation value by its dotted path (repeatable; applies to every file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The seed every scenario runs with (default: the first file's spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications of each scenario (default: the first file's spec.replications).
    #[arg(long, short = 'n')]
    pub replications: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: &RecommendArgs) -> Result<(), Failure> {
    let weights = Weights::parse(&args.weights)
        .map_err(|m| Failure { code: 2, message: format!("error: --weights {}: {m}", args.weights) })?;
    let mut set = args.set.clone();
    if let Some(median) = &args.response {
        let d = crate::scenario::units::parse_duration(median)
            .map_err(|m| Failure { code: 2, message: format!("error: --response {median}: {m}") })?;
        let p99 = crate::scenario::units::format_duration(d * 9 / 2);
        set.push(format!("spec.rollback.manual.after={{kind: lognormal, median: {median}, p99: {p99}}}"));
    }
    if args.unattended {
        set.push("spec.rollback.manual=null".to_owned());
    }
    let inputs = args.input.scenarios(&args.files)?;
    let scenarios = super::compare::load_sharing_numbers(&inputs, &set, args.seed, args.replications)?;
    let (seed, replications) = (scenarios[0].seed, scenarios[0].replications);
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    let labels = report::distinct_labels(&names);
    eprintln!(
        "rollsim: ranking {} strategies, {replications} replications each, seed {seed} (common random numbers)",
        scenarios.len()
    );
    let runs: Vec<Vec<_>> = scenarios
        .iter()
        .map(|s| {
            let plan = RunPlan { threads: args.threads, ..RunPlan::default() };
            run_all(s, plan).into_iter().map(|r| r.record).collect()
        })
        .collect();
    let rec = recommend(&labels, &runs, weights);
    std::io::stdout().lock().write_all(render(&rec).as_bytes())?;
    Ok(())
}

/// The ranking, one line of reasons per strategy, and how robust the top choice is.
pub fn render(rec: &Recommendation) -> String {
    let mut out = String::new();
    let w = &rec.weights;
    let prices: Vec<String> = WEIGHT_NAMES
        .iter()
        .zip([w.bad_request, w.user, w.budget_pct, w.pod_hour])
        .filter(|(_, v)| *v > 0.0)
        .map(|((n, _), v)| format!("{n} {v}"))
        .collect();
    out.push_str(&format!(
        "cost per release at {} ({} replications each; mean ± 95% CI)\n",
        prices.join(", "),
        rec.replications
    ));
    let width = rec.ranking.iter().map(|r| r.label.chars().count()).max().unwrap_or(0);
    for (i, r) in rec.ranking.iter().enumerate() {
        let versus = match r.vs_top {
            Some(d) if d.p_value < 0.05 => {
                format!("  (+{} over the top, paired)", money(d.mean, (d.ci95_high - d.ci95_low) / 2.0))
            }
            Some(d) => format!("  (+{:.2} over the top: not significant, p = {:.2})", d.mean, d.p_value),
            None => String::new(),
        };
        out.push_str(&format!(
            "{}. {:<width$}  {}{versus}\n   {}\n",
            i + 1,
            r.label,
            money(r.cost.mean, r.cost.ci95_half_width()),
            r.reasons.join(", ")
        ));
    }
    if let Some(top) = rec.ranking.first() {
        out.push_str(&format!("robustness: {} leads unless one price changes:\n", top.label));
        let given = WEIGHT_NAMES.iter().zip([w.bad_request, w.user, w.budget_pct, w.pod_hour]);
        for ((name, _), _) in given.filter(|(_, v)| *v > 0.0) {
            match rec.flips.iter().find(|f| f.weight == *name) {
                Some(f) if f.factor >= 1.0 => {
                    out.push_str(&format!("  {name} {:.3}× higher puts {} on top\n", f.factor, f.new_top))
                }
                Some(f) => out.push_str(&format!(
                    "  {name} {:.3}× lower puts {} on top\n",
                    1.0 / f.factor,
                    f.new_top
                )),
                None => out.push_str(&format!("  no value of {name} alone changes the top choice\n")),
            }
        }
    }
    out
}

/// A cost to two significant digits of its interval's half-width (the value alone without
/// spread).
fn money(x: f64, half_width: f64) -> String {
    if !(half_width > 0.0 && half_width.is_finite()) {
        // No spread: the value alone.
        let d = if x.abs() >= 100.0 { 0 } else { 2 };
        return format!("{x:.d$}");
    }
    let d = (1 - half_width.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.d$} ± {half_width:.d$}")
}
