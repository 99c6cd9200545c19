//! Configuration validation beyond the API server: settings that are legal but harmful, each
//! with the numbers that show it. Pure: reads the validated [`Scenario`], simulates nothing.

use super::Finding;
use crate::controllers::argo::analysis::AnalysisRunSpec;
use crate::controllers::argo::spec::{CanaryStep, RolloutStrategy};
use crate::controllers::flagger::weights::next_step_weight;
use crate::controllers::{DeploymentStrategy, rolling};
use crate::engine::{DurationDist, SimTime, to_secs_f64};
use crate::scenario::units::{format_duration, parse_prometheus_duration};
use crate::scenario::{AlertAction, RatePattern, Rule, Scenario, Strategy};
use crate::telemetry::AlertingRule;

/// Every finding of the configuration checks, in a fixed order.
pub fn validate(s: &Scenario) -> Vec<Finding> {
    let mut out = Vec::new();
    let steps = canary_steps(s);
    analysis_interval_vs_pause(s, &mut out);
    alert_for_vs_step(s, &steps, &mut out);
    failure_limit_reachable(s, &steps, &mut out);
    windows_vs_canary_life(s, &steps, &mut out);
    unavailable_vs_demand(s, &mut out);
    deadline_vs_pod_start(s, &mut out);
    no_revision_to_undo(s, &mut out);
    out
}

/// The timed steps of a progressive release: each step's duration, `None` for a step that
/// waits for a person (or the last one). Empty for strategies without steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CanarySteps {
    /// (what the step is, for messages; how long it lasts)
    pub steps: Vec<(String, Option<SimTime>)>,
}

impl CanarySteps {
    /// The shortest timed step.
    pub fn shortest(&self) -> Option<(&str, SimTime)> {
        self.steps.iter().filter_map(|(n, d)| d.map(|d| (n.as_str(), d))).min_by_key(|&(_, d)| d)
    }

    /// The canary's life: the sum of its timed steps; `None` when a step waits for a person
    /// (its life then depends on that person) or there are no steps.
    pub fn life(&self) -> Option<SimTime> {
        if self.steps.is_empty() || self.steps.iter().any(|(_, d)| d.is_none()) {
            return None;
        }
        Some(self.steps.iter().filter_map(|(_, d)| *d).sum())
    }
}

/// The steps of the release, from the strategy's own rules.
pub fn canary_steps(s: &Scenario) -> CanarySteps {
    let mut steps = Vec::new();
    match &s.strategy {
        Strategy::Rollout(r) => {
            if let RolloutStrategy::Canary(c) = &r.spec.strategy {
                let mut weight = 0;
                for (i, step) in c.steps.iter().enumerate() {
                    match step {
                        CanaryStep::SetWeight(w) => weight = *w,
                        CanaryStep::Pause { duration } => {
                            steps.push((format!("steps[{i}] (pause at weight {weight})"), *duration))
                        }
                        _ => {}
                    }
                }
            }
        }
        Strategy::Mesh(m) => {
            // The last step holds its weight for good: it is the end of the canary, not a step.
            let n = m.steps.len();
            for (i, step) in m.steps.iter().enumerate().take(n.saturating_sub(1)) {
                steps.push((format!("release.steps[{i}] (weight {})", step.weight), step.hold));
            }
        }
        Strategy::Flagger(f) => {
            let interval = f.spec.analysis.interval();
            for (i, weight) in flagger_weights(s).into_iter().enumerate() {
                steps.push((format!("analysis tick {} (weight {weight})", i + 1), Some(interval)));
            }
        }
        Strategy::Deployment | Strategy::ServiceSwitch(_) => {}
    }
    CanarySteps { steps }
}

/// The canary weights Flagger visits before promotion, one per analysis tick (`iterations`
/// ticks at weight 0 for A/B testing and Blue/Green).
fn flagger_weights(s: &Scenario) -> Vec<u32> {
    let Strategy::Flagger(f) = &s.strategy else { return Vec::new() };
    let a = &f.spec.analysis;
    match f.spec.strategy() {
        crate::controllers::flagger::spec::Strategy::Canary => {
            let max = a.max_weight();
            let mut weights = Vec::new();
            let mut w = 0;
            while w < max && weights.len() < 1000 {
                let step = next_step_weight(a, w);
                if step == 0 {
                    break;
                }
                w = (w + step).min(max);
                weights.push(w);
            }
            weights
        }
        crate::controllers::flagger::spec::Strategy::ABTesting { iterations }
        | crate::controllers::flagger::spec::Strategy::BlueGreen { iterations } => {
            vec![0; iterations as usize]
        }
    }
}

fn secs(t: SimTime) -> String {
    format_duration(t)
}

/// The 99th percentile of a duration (its value when fixed).
pub fn p99(d: &DurationDist) -> SimTime {
    match *d {
        DurationDist::Fixed(t) => t,
        DurationDist::LogNormal { p99, .. } => p99,
    }
}

/// The alerting rules whose firing does something (a rollback or a page).
fn routed_alerts(s: &Scenario) -> Vec<&AlertingRule> {
    let mut out = Vec::new();
    for group in &s.monitoring.groups {
        for rule in &group.rules {
            if let Rule::Alerting(a) = rule
                && s.monitoring.action_for(&a.name) != AlertAction::None
            {
                out.push(a);
            }
        }
    }
    out
}

/// The range windows (`[5m]`, a subquery's range) written in a PromQL text.
fn ranges_in(text: &str) -> Vec<SimTime> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        let range = inside.split(':').next().unwrap_or("").trim();
        if let Ok(t) = parse_prometheus_duration(range) {
            out.push(t);
        }
        rest = &after[close + 1..];
    }
    out
}

/// Whether `name` occurs in `text` as a whole metric name.
fn mentions(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The longest range an alert reads, through the recording rules it names (to any depth).
pub fn longest_window(s: &Scenario, alert: &AlertingRule) -> Option<SimTime> {
    let recordings: Vec<(&str, &str)> = s
        .monitoring
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter_map(|r| match r {
            Rule::Recording(r) => Some((r.record.as_str(), r.expr.source())),
            Rule::Alerting(_) => None,
        })
        .collect();
    let mut texts = vec![alert.expr.source()];
    let mut seen: Vec<&str> = Vec::new();
    let mut longest: Option<SimTime> = None;
    while let Some(text) = texts.pop() {
        longest = longest.max(ranges_in(text).into_iter().max());
        for &(name, expr) in &recordings {
            if !seen.contains(&name) && mentions(text, name) {
                seen.push(name);
                texts.push(expr);
            }
        }
    }
    longest
}

/// The Rollout's background analysis and the timed steps it covers, or its step analyses.
fn analyses(s: &Scenario) -> Vec<(String, &AnalysisRunSpec)> {
    let Strategy::Rollout(r) = &s.strategy else { return Vec::new() };
    let mut out = Vec::new();
    if let Some((spec, _)) = &r.analyses.background {
        out.push(("background analysis".to_string(), spec));
    }
    for (i, spec) in &r.analyses.steps {
        out.push((format!("steps[{i}].analysis"), spec));
    }
    out
}

/// The timed pauses a background analysis guards (from its starting step on).
fn guarded_pauses(s: &Scenario) -> Vec<(usize, i64, SimTime)> {
    let Strategy::Rollout(r) = &s.strategy else { return Vec::new() };
    let (Some(c), Some((_, start))) = (r.spec.canary(), &r.analyses.background) else { return Vec::new() };
    let start = start.unwrap_or(0);
    let mut weight = 0;
    let mut out = Vec::new();
    for (i, step) in c.steps.iter().enumerate() {
        match step {
            CanaryStep::SetWeight(w) => weight = *w,
            CanaryStep::Pause { duration: Some(d) } if i >= start => out.push((i, weight, *d)),
            _ => {}
        }
    }
    out
}

/// An analysis interval longer than the pause it guards: the step passes with fewer
/// measurements than one per interval (often none at all).
fn analysis_interval_vs_pause(s: &Scenario, out: &mut Vec<Finding>) {
    let Strategy::Rollout(r) = &s.strategy else { return };
    let Some((spec, _)) = &r.analyses.background else { return };
    for (step, weight, pause) in guarded_pauses(s) {
        for m in &spec.metrics {
            let Some(interval) = m.spec.interval else { continue };
            if interval > pause {
                out.push(Finding {
                    check: "analysis-interval-vs-pause",
                    object: format!("Rollout/{} background analysis metric {}", r.name, m.name),
                    message: format!(
                        "interval {} is longer than the pause of steps[{step}] ({}, at weight {weight}): the step can pass with {} measurement(s) of the canary at that weight",
                        secs(interval),
                        secs(pause),
                        pause / interval
                    ),
                    value_s: to_secs_f64(interval),
                    limit_s: to_secs_f64(pause),
                });
            }
        }
    }
}

/// A routed alert whose `for:` is longer than the shortest canary step: it cannot fire
/// before that step is over.
fn alert_for_vs_step(s: &Scenario, steps: &CanarySteps, out: &mut Vec<Finding>) {
    let Some((step, shortest)) = steps.shortest() else { return };
    for a in routed_alerts(s) {
        if a.for_ > shortest {
            out.push(Finding {
                check: "alert-for-vs-step",
                object: format!("alert {}", a.name),
                message: format!(
                    "for: {} is longer than the shortest canary step, {step} ({}): a fault seen only during that step cannot fire the alert before the release moves on",
                    secs(a.for_),
                    secs(shortest)
                ),
                value_s: to_secs_f64(a.for_),
                limit_s: to_secs_f64(shortest),
            });
        }
    }
}

/// A failure limit the analysis cannot reach before the canary is promoted.
fn failure_limit_reachable(s: &Scenario, steps: &CanarySteps, out: &mut Vec<Finding>) {
    for (what, spec) in analyses(s) {
        for m in &spec.metrics {
            if m.spec.failure_limit < 0 {
                continue; // failureLimit disabled: never fails by count
            }
            let needed = m.spec.failure_limit + 1;
            let object = format!("{what} metric {}", m.name);
            if let Some(count) = m.spec.count.filter(|&c| c > 0)
                && count < needed
            {
                out.push(Finding {
                    check: "failure-limit-unreachable",
                    object,
                    message: format!(
                        "failureLimit {} needs {needed} failed measurements but count is {count}: the metric can never fail the run",
                        m.spec.failure_limit
                    ),
                    value_s: needed as f64,
                    limit_s: count as f64,
                });
                continue;
            }
            // A background analysis has until promotion: the canary's life.
            if what == "background analysis" {
                let (Some(interval), Some(life)) = (m.spec.interval, steps.life()) else { continue };
                let to_fail = m.spec.initial_delay.unwrap_or(0) + interval * m.spec.failure_limit as u64;
                if to_fail > life {
                    out.push(Finding {
                        check: "failure-limit-unreachable",
                        object,
                        message: format!(
                            "failureLimit {} at interval {} fails the run {} after it starts at the earliest, but the canary is promoted after {}",
                            m.spec.failure_limit,
                            secs(interval),
                            secs(to_fail),
                            secs(life)
                        ),
                        value_s: to_secs_f64(to_fail),
                        limit_s: to_secs_f64(life),
                    });
                }
            }
        }
    }
    if let Strategy::Flagger(f) = &s.strategy {
        let ticks = flagger_weights(s).len() as u32;
        let threshold = f.spec.analysis.threshold();
        if threshold > ticks && !f.checks.is_empty() {
            out.push(Finding {
                check: "failure-limit-unreachable",
                object: format!("Canary/{}", f.spec.name),
                message: format!(
                    "threshold {threshold} failed checks cannot be reached in the {ticks} analysis tick(s) before promotion"
                ),
                value_s: f64::from(threshold),
                limit_s: f64::from(ticks),
            });
        }
    }
}

/// Routed alerts whose longest window is longer than the canary's life: the canary's errors
/// fill at most that fraction of the window.
fn windows_vs_canary_life(s: &Scenario, steps: &CanarySteps, out: &mut Vec<Finding>) {
    let Some(life) = steps.life() else { return };
    for a in routed_alerts(s) {
        let Some(window) = longest_window(s, a) else { continue };
        if window > life {
            out.push(Finding {
                check: "window-vs-canary-life",
                object: format!("alert {}", a.name),
                message: format!(
                    "reads a {} window but the canary lives {}: the canary's errors fill at most {:.0}% of it",
                    secs(window),
                    secs(life),
                    100.0 * life as f64 / window as f64
                ),
                value_s: to_secs_f64(window),
                limit_s: to_secs_f64(life),
            });
        }
    }
}

/// The highest request rate the traffic pattern reaches.
pub fn peak_rps(s: &Scenario) -> f64 {
    match &s.traffic.pattern {
        RatePattern::Constant => s.traffic.rps,
        RatePattern::Diurnal { peak, trough, .. } => peak.max(*trough),
        RatePattern::Steps { steps } => steps.iter().map(|st| st.rps).fold(s.traffic.rps, f64::max),
    }
}

/// The fewest pods the release's own rules keep available, with the setting that allows it.
fn availability_floor(s: &Scenario) -> Option<(String, i64)> {
    let d = &s.deployment;
    match &s.strategy {
        Strategy::Deployment => {
            let replicas = i64::from(d.replicas);
            match &d.strategy {
                DeploymentStrategy::Recreate => Some((format!("Deployment/{} strategy Recreate", d.name), 0)),
                st => Some((
                    format!(
                        "Deployment/{} maxUnavailable {} of {replicas}",
                        d.name,
                        rolling::max_unavailable(st, replicas)
                    ),
                    rolling::min_available(st, replicas),
                )),
            }
        }
        Strategy::Rollout(r) => match &r.spec.strategy {
            // With traffic routing the stable keeps its replicas (unless dynamicStableScale).
            RolloutStrategy::Canary(c) if !c.traffic_routing || c.dynamic_stable_scale => {
                let (_, unavailable) = c.fenceposts(r.spec.replicas);
                Some((
                    format!("Rollout/{} maxUnavailable {unavailable} of {}", r.name, r.spec.replicas),
                    r.spec.replicas - unavailable,
                ))
            }
            _ => None,
        },
        _ => None,
    }
}

/// maxUnavailable (or Recreate) dropping serving capacity below the peak demand.
fn unavailable_vs_demand(s: &Scenario, out: &mut Vec<Finding>) {
    let Some((what, floor)) = availability_floor(s) else { return };
    let peak = peak_rps(s);
    let capacity = floor.max(0) as f64 * s.pods.capacity_rps;
    if capacity < peak {
        out.push(Finding {
            check: "unavailable-vs-demand",
            object: what,
            message: format!(
                "leaves {floor} pod(s) × {} rps = {} rps of capacity, below the peak demand of {} rps ({} pods needed)",
                s.pods.capacity_rps,
                capacity,
                peak,
                (peak / s.pods.capacity_rps).ceil()
            ),
            value_s: capacity,
            limit_s: peak,
        });
    }
}

/// The slowest pod start (99th percentiles, cold image pull): scheduling, pull, start-up,
/// the readiness probe's first successes and minReadySeconds.
pub fn slowest_pod_start(s: &Scenario, min_ready_seconds: u32) -> SimTime {
    let p = &s.pods;
    let probe = s.deployment.readiness_probe.map_or(0, |pr| {
        use crate::engine::SECOND;
        u64::from(pr.initial_delay_seconds) * SECOND
            + u64::from(pr.period_seconds) * SECOND * u64::from(pr.success_threshold.saturating_sub(1))
    });
    p99(&p.scheduling)
        + p99(&p.image_pull_cold)
        + p99(&p.startup)
        + probe
        + u64::from(min_ready_seconds) * crate::engine::SECOND
}

/// A progress deadline shorter than the slowest pod start: a healthy release can be declared
/// failed (and rolled back, where that is wired).
fn deadline_vs_pod_start(s: &Scenario, out: &mut Vec<Finding>) {
    use crate::engine::SECOND;
    let d = &s.deployment;
    let (what, deadline, min_ready) = match &s.strategy {
        Strategy::Rollout(r) => {
            (format!("Rollout/{}", r.name), Some(r.spec.progress_deadline), r.spec.min_ready_seconds)
        }
        Strategy::Flagger(f) => {
            (format!("Canary/{}", f.spec.name), Some(f.spec.progress_deadline()), d.min_ready_seconds)
        }
        _ => (
            format!("Deployment/{}", d.name),
            d.progress_deadline_seconds.map(|p| u64::from(p) * SECOND),
            d.min_ready_seconds,
        ),
    };
    let Some(deadline) = deadline else { return };
    let slowest = slowest_pod_start(s, min_ready);
    if deadline < slowest {
        out.push(Finding {
            check: "deadline-vs-pod-start",
            object: what,
            message: format!(
                "progress deadline {} is shorter than the slowest pod start, {} (p99 of scheduling, cold image pull and start-up, plus the readiness probe and minReadySeconds)",
                secs(deadline),
                secs(slowest)
            ),
            value_s: to_secs_f64(deadline),
            limit_s: to_secs_f64(slowest),
        });
    }
}

/// `revisionHistoryLimit: 0`: the old ReplicaSet is deleted once the rollout completes, so
/// `kubectl rollout undo` after completion finds no revision to go back to.
fn no_revision_to_undo(s: &Scenario, out: &mut Vec<Finding>) {
    let d = &s.deployment;
    if matches!(s.strategy, Strategy::Deployment) && d.revision_history_limit == 0 {
        out.push(Finding {
            check: "no-revision-to-undo",
            object: format!("Deployment/{} revisionHistoryLimit 0", d.name),
            message: "the old ReplicaSet is deleted once the rollout completes: `kubectl rollout undo` afterwards has no revision to go back to (keep at least 1; the simulation does not prune revisions, so its undo still works)".to_string(),
            value_s: 0.0,
            limit_s: 1.0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_from_selectors_and_subqueries() {
        assert_eq!(
            ranges_in("sum(rate(x[5m])) / sum(rate(x[1h])) + max_over_time(y[30m:1m])"),
            vec![5 * 60_000_000, 3_600_000_000, 30 * 60_000_000]
        );
        assert!(ranges_in("up").is_empty());
    }

    fn example(set: &[&str]) -> Scenario {
        let overrides: Vec<_> = set.iter().map(|o| crate::scenario::parse_override(o).unwrap()).collect();
        crate::scenario::load_str(
            crate::scenario::EXAMPLE_FILE_NAME,
            crate::scenario::EXAMPLE_YAML,
            &overrides,
        )
        .unwrap()
    }

    fn ids(s: &Scenario) -> Vec<&'static str> {
        validate(s).into_iter().map(|f| f.check).collect()
    }

    #[test]
    fn a_rolling_update_is_checked_for_demand_deadline_and_history() {
        let s = example(&[]);
        assert!(!ids(&s).contains(&"no-revision-to-undo"));
        assert!(
            ids(&example(&["Deployment/myapp.spec.revisionHistoryLimit=0"])).contains(&"no-revision-to-undo")
        );
        let deadline = example(&["Deployment/myapp.spec.progressDeadlineSeconds=5"]);
        let f = validate(&deadline).into_iter().find(|f| f.check == "deadline-vs-pod-start").unwrap();
        assert_eq!(f.value_s, 5.0);
        assert_eq!(
            f.limit_s,
            to_secs_f64(slowest_pod_start(&deadline, deadline.deployment.min_ready_seconds))
        );
        // Recreate keeps no pod serving: below any demand.
        let mut recreate = example(&[]);
        recreate.deployment.strategy = DeploymentStrategy::Recreate;
        assert!(ids(&recreate).contains(&"unavailable-vs-demand"), "{:?}", ids(&recreate));
        // Rolling updates have no canary steps: no step or window checks.
        assert!(canary_steps(&s).steps.is_empty());
    }

    #[test]
    fn metric_names_match_whole() {
        assert!(mentions("myapp:error_ratio:rate1h > 0.1", "myapp:error_ratio:rate1h"));
        assert!(!mentions("myapp:error_ratio:rate1h > 0.1", "myapp:error_ratio:rate1"));
        assert!(!mentions("xmyapp:r", "myapp:r"));
    }
}
