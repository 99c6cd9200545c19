//! `rollsim recommend`: strategies ranked by what a release costs the team that runs it.
//!
//! The cost of one release (one replication) is linear in the user's weights:
//!
//! ```text
//! cost = bad_request × bad_requests + user × users_affected
//!      + budget_pct × error_budget_pct + pod_hour × extra_pod_seconds / 3600
//! ```
//!
//! Strategies are ranked by their mean cost (with its 95% interval), and the runner-up is
//! tested against the top choice replication by replication (the runs share their random
//! numbers). Because the cost is linear, how far each weight may move before the top choice
//! changes is exact: for weight j scaled by k, strategy s overtakes the top t where
//! `cost_t + (k − 1)·w_j·m_tj = cost_s + (k − 1)·w_j·m_sj`.

use super::paired::{PairedDifference, paired_difference};
use super::record::RunRecord;
use super::stats::Summary;

/// The price of each kind of harm, in the user's currency.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Weights {
    pub bad_request: f64,
    pub user: f64,
    pub budget_pct: f64,
    pub pod_hour: f64,
}

/// The weight names `--weights` takes, with what each prices.
pub const WEIGHT_NAMES: [(&str, &str); 4] = [
    ("bad_request", "a request the new version failed or dropped"),
    ("user", "a user who met at least one such failure"),
    ("budget_pct", "one percent of the SLO's error budget spent"),
    ("pod_hour", "a pod-hour above the desired replicas (the price of the extra capacity)"),
];

impl Weights {
    /// Parses `bad_request=0.02,user=1,pod_hour=0.1`; names not given weigh 0.
    pub fn parse(text: &str) -> Result<Weights, String> {
        let mut w = Weights::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("`{part}` is not NAME=VALUE"));
            };
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{part}`: the weight must be a number ≥ 0"))?;
            match name.trim() {
                "bad_request" => w.bad_request = value,
                "user" => w.user = value,
                "budget_pct" => w.budget_pct = value,
                "pod_hour" => w.pod_hour = value,
                other => {
                    let names: Vec<&str> = WEIGHT_NAMES.iter().map(|n| n.0).collect();
                    return Err(format!("unknown weight `{other}`; the weights are {}", names.join(", ")));
                }
            }
        }
        if w.values().iter().all(|&v| v == 0.0) {
            return Err("every weight is 0: give at least one a price".into());
        }
        Ok(w)
    }

    fn values(&self) -> [f64; 4] {
        [self.bad_request, self.user, self.budget_pct, self.pod_hour]
    }
}

/// The four measures the weights price, of one replication.
fn measures(r: &RunRecord) -> [f64; 4] {
    [r.bad_requests as f64, r.users_affected as f64, r.error_budget_pct, r.extra_pod_seconds / 3600.0]
}

/// One strategy's place in the ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub label: String,
    /// The mean cost per release, with its interval.
    pub cost: Summary,
    /// The mean of each priced measure, in [`WEIGHT_NAMES`] order.
    pub measures: [f64; 4],
    /// `this − top`, paired by replication (`None` for the top choice).
    pub vs_top: Option<PairedDifference>,
    /// Why it stands where it does, in a few words.
    pub reasons: Vec<String>,
}

/// A change of one weight that would put another strategy on top.
#[derive(Clone, Debug, PartialEq)]
pub struct Flip {
    pub weight: &'static str,
    /// The factor the weight would be multiplied by (below 1: divided).
    pub factor: f64,
    pub new_top: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub weights: Weights,
    pub replications: usize,
    /// Cheapest first.
    pub ranking: Vec<Ranked>,
    /// Per weight, the nearest change (as a factor) that flips the top choice, if any does.
    pub flips: Vec<Flip>,
}

/// Ranks strategies: `runs[k]` holds strategy k's records in replication order (same seed
/// and count for all).
pub fn recommend(labels: &[String], runs: &[Vec<RunRecord>], weights: Weights) -> Recommendation {
    let w = weights.values();
    let costs: Vec<Vec<f64>> = runs
        .iter()
        .map(|records| records.iter().map(|r| measures(r).iter().zip(w).map(|(m, w)| m * w).sum()).collect())
        .collect();
    let means: Vec<[f64; 4]> = runs
        .iter()
        .map(|records| {
            let mut m = [0.0; 4];
            for (j, slot) in m.iter_mut().enumerate() {
                let v: Vec<f64> = records.iter().map(|r| measures(r)[j]).collect();
                *slot = Summary::of(&v).map_or(f64::NAN, |s| s.mean);
            }
            m
        })
        .collect();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    let mean_cost = |k: usize| Summary::of(&costs[k]).map_or(f64::INFINITY, |s| s.mean);
    order.sort_by(|&a, &b| mean_cost(a).total_cmp(&mean_cost(b)));
    let top = order[0];
    let ranking = order
        .iter()
        .map(|&k| Ranked {
            label: labels[k].clone(),
            cost: Summary::of(&costs[k]).expect("replications ran"),
            measures: means[k],
            vs_top: (k != top).then(|| paired_difference(&costs[k], &costs[top])).flatten(),
            reasons: reasons(k, runs, &means),
        })
        .collect();
    // The nearest factor, per weight, at which another strategy's cost meets the top's.
    let mut flips = Vec::new();
    for (j, &(name, _)) in WEIGHT_NAMES.iter().enumerate() {
        if w[j] == 0.0 {
            continue;
        }
        let mut best: Option<(f64, usize)> = None;
        for &s in &order[1..] {
            let gap = mean_cost(s) - mean_cost(top);
            let slope = w[j] * (means[top][j] - means[s][j]);
            if slope == 0.0 || !gap.is_finite() {
                continue;
            }
            let factor = 1.0 + gap / slope;
            if factor > 0.0 && best.is_none_or(|(f, _)| (factor.ln()).abs() < f.ln().abs()) {
                best = Some((factor, s));
            }
        }
        if let Some((factor, s)) = best {
            flips.push(Flip { weight: name, factor, new_top: labels[s].clone() });
        }
    }
    Recommendation { weights, replications: runs.first().map_or(0, Vec::len), ranking, flips }
}

/// What stands out about strategy `k` among the others.
fn reasons(k: usize, runs: &[Vec<RunRecord>], means: &[[f64; 4]]) -> Vec<String> {
    let mut out = Vec::new();
    let mean_of = |k: usize, f: fn(&RunRecord) -> Option<f64>| {
        let v: Vec<f64> = runs[k].iter().map(|r| f(r).unwrap_or(f64::NAN)).collect();
        Summary::of(&v).map(|s| s.mean)
    };
    let best = |f: fn(&RunRecord) -> Option<f64>| {
        let all: Vec<Option<f64>> = (0..runs.len()).map(|s| mean_of(s, f)).collect();
        let mine = all[k]?;
        all.iter().flatten().all(|&o| mine <= o).then_some(mine)
    };
    if runs.len() > 1 {
        if let Some(t) = best(|r| r.time_to_rollback_s) {
            out.push(format!("fastest rollback ({t:.0} s)"));
        }
        if let Some(t) = best(|r| r.detected_at_s) {
            out.push(format!("earliest detection ({t:.0} s)"));
        }
        if means.iter().all(|m| means[k][0] <= m[0]) {
            out.push(format!("fewest bad requests ({:.0})", means[k][0]));
        }
        if means.iter().all(|m| means[k][3] <= m[3]) {
            out.push("least extra capacity".to_owned());
        }
    }
    // Peak pods over the desired replicas: 1 + overhead_pct / 100.
    if let Some(overhead) = mean_of(k, |r| Some(r.overhead_pct)) {
        out.push(format!("{:.1}× pods during the release", 1.0 + overhead / 100.0));
    }
    let selfstop =
        runs[k].iter().filter(|r| r.detected_by.as_deref().is_some_and(|d| !d.starts_with("alert:"))).count();
    if selfstop * 2 > runs[k].len() {
        out.push("stops a bad version without a page".to_owned());
    }
    let false_alarms = mean_of(k, |r| Some(r.false_alarm as f64)).unwrap_or(0.0);
    if false_alarms > 0.0 {
        out.push(format!("{:.0}% false alarms", false_alarms * 100.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::tests::sample_record;

    fn runs(bad: &[u64], extra_pod_s: f64) -> Vec<RunRecord> {
        bad.iter()
            .enumerate()
            .map(|(i, &b)| RunRecord {
                bad_requests: b,
                users_affected: 0,
                error_budget_pct: 0.0,
                extra_pod_seconds: extra_pod_s,
                ..sample_record(i as u64, Outcome::RolledBack)
            })
            .collect()
    }

    #[test]
    fn weights_parse_and_refuse() {
        let w = Weights::parse("bad_request=0.02, pod_hour=0.1").unwrap();
        assert_eq!((w.bad_request, w.pod_hour, w.user), (0.02, 0.1, 0.0));
        assert!(Weights::parse("bad_requests=1").unwrap_err().contains("bad_request, user"));
        assert!(Weights::parse("user=-1").is_err());
        assert!(Weights::parse("user").is_err());
        assert!(Weights::parse("user=0").unwrap_err().contains("every weight is 0"));
    }

    #[test]
    fn the_cheapest_leads_and_the_flip_is_exact() {
        // "cheap-pods": 1000 bad requests, no extra capacity; "safe": 100 bad requests but
        // 3600 extra pod-seconds (1 pod-hour). At 0.01 a bad request and 2 a pod-hour:
        // cheap-pods costs 10, safe 1 + 2 = 3: safe leads. Safe stays on top until a
        // pod-hour costs 9 (1 + 9 = 10): the pod_hour weight may grow 4.5×; and until a bad
        // request costs 2/900 (10/900·... ): the bad_request weight may shrink to 2/9.
        let labels = vec!["cheap-pods".to_owned(), "safe".to_owned()];
        let runs = vec![runs(&[1000, 1000, 1000], 0.0), runs(&[100, 100, 100], 3600.0)];
        let w = Weights { bad_request: 0.01, pod_hour: 2.0, ..Weights::default() };
        let r = recommend(&labels, &runs, w);
        assert_eq!(r.ranking[0].label, "safe");
        assert!((r.ranking[0].cost.mean - 3.0).abs() < 1e-12);
        assert!((r.ranking[1].cost.mean - 10.0).abs() < 1e-12);
        let d = r.ranking[1].vs_top.expect("paired with the top");
        assert!((d.mean - 7.0).abs() < 1e-12);
        let pod = r.flips.iter().find(|f| f.weight == "pod_hour").expect("a pod-hour flip");
        assert!((pod.factor - 4.5).abs() < 1e-12 && pod.new_top == "cheap-pods", "{pod:?}");
        let bad = r.flips.iter().find(|f| f.weight == "bad_request").expect("a bad-request flip");
        // 0.01·k·100 + 2 = 0.01·k·1000 → k = 2/9.
        assert!((bad.factor - 2.0 / 9.0).abs() < 1e-12, "{bad:?}");
        assert!(
            r.ranking[0].reasons.iter().any(|s| s == "fewest bad requests (100)"),
            "{:?}",
            r.ranking[0].reasons
        );
        assert!(r.ranking[1].reasons.iter().any(|s| s == "least extra capacity"));
    }
}
