//! `rollsim tune FILE --analysis NAME [--metric M] --success-threshold LIST --failure-limit LIST`:
//! the settings of one metric of an AnalysisTemplate, as overrides of that template.
//!
//! The success threshold is the one number of the metric's `successCondition`
//! (`result[0] >= 0.95`); numbers inside `[…]` are indices, not thresholds. A condition with
//! no such number, or with more than one, is refused at its line and column, and so is a
//! Kayenta metric (it has no condition: its judge's score decides).

use super::{Plan, Setting, TuneArgs, bad, quoted_doc};
use crate::cli::Failure;
use crate::controllers::argo::condition::Condition;
use crate::scenario::locate::{AnalysisSources, MetricField};
use crate::scenario::{Scenario, Strategy};

/// The templates the scenario's Rollout runs (any step, background or blue-green gate).
fn used_templates(base: &Scenario) -> Vec<String> {
    let Strategy::Rollout(rollout) = &base.strategy else {
        return Vec::new();
    };
    let a = &rollout.analyses;
    let mut runs: Vec<_> = a.steps.values().collect();
    runs.extend(a.background.as_ref().map(|(r, _)| r));
    runs.extend(a.pre_promotion.iter());
    runs.extend(a.post_promotion.iter());
    runs.into_iter().flat_map(|r| r.templates.iter().cloned()).collect()
}

/// The byte ranges of the numbers of `condition` outside `[…]` (a unary minus included),
/// and whether it holds a `{{…}}` tag.
fn threshold_numbers(condition: &str) -> (Vec<std::ops::Range<usize>>, bool) {
    let bytes = condition.as_bytes();
    let mut spans = Vec::new();
    let (mut depth, mut i) = (0usize, 0usize);
    let tagged = condition.contains("{{");
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'#';
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    i += 1;
                }
            }
            _ => {}
        }
        let starts_number =
            b.is_ascii_digit() || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if starts_number && !(i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b'.')) {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_' || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if depth == 0 {
                // A unary minus belongs to the number: `> -0.5` becomes `> 0.25`, not `> -0.25`'s
                // negation.
                let before = condition[..start].trim_end();
                let mut first = start;
                if let Some(rest) = before.strip_suffix('-') {
                    let prior = rest.trim_end().bytes().last();
                    if !prior.is_some_and(|p| ident(p) || p == b')' || p == b']') {
                        first = rest.len();
                    }
                }
                spans.push(first..i);
            }
            continue;
        }
        i += 1;
    }
    (spans, tagged)
}

/// `condition` with its one threshold number replaced by `threshold`.
pub(super) fn with_success_threshold(condition: &str, threshold: f64) -> Result<String, String> {
    let (spans, tagged) = threshold_numbers(condition);
    match spans.as_slice() {
        [one] => {
            let text = format!("{}{threshold}{}", &condition[..one.start], &condition[one.end..]);
            Condition::parse(&text).map_err(|e| format!("`{text}` does not parse: {e}"))?;
            Ok(text)
        }
        [] if tagged => Err("it holds no number, only an argument (`{{args.…}}`)".into()),
        [] => Err("it holds no number".into()),
        many => {
            let numbers: Vec<&str> = many.iter().map(|s| condition[s.clone()].trim()).collect();
            Err(format!("it holds {} numbers ({})", many.len(), numbers.join(", ")))
        }
    }
}

pub(super) fn plan(
    args: &TuneArgs,
    input: &crate::scenario::Input,
    base: &Scenario,
    name: &str,
) -> Result<Plan, Failure> {
    // The scenario's files, each with its own positions; the template is in one of them.
    let mut all = Vec::with_capacity(input.parts.len());
    for part in &input.parts {
        all.push(AnalysisSources::read(&part.name, &part.text)?);
    }
    let Some((sources, template)) = all.iter().find_map(|s| s.template(name).map(|t| (s, t))) else {
        let names: Vec<&str> = all.iter().flat_map(|s| s.templates.iter().map(|t| t.name.as_str())).collect();
        return Err(bad(format!(
            "--analysis {name}: no AnalysisTemplate or ClusterAnalysisTemplate has that name; the scenario's are: {}",
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    };
    if !used_templates(base).iter().any(|t| t == name) {
        return Err(sources
            .error_at_template(
                template,
                format!("the scenario's release never runs the {} `{name}`", template.kind),
                "no Rollout analysis names this template",
                "tune a template that a Rollout step, background analysis or blue-green gate references",
            )
            .into());
    }
    let metric = match (&args.metric, template.metrics.as_slice()) {
        (Some(m), metrics) => metrics.iter().find(|x| &x.name == m).ok_or_else(|| {
            let names: Vec<&str> = metrics.iter().map(|x| x.name.as_str()).collect();
            bad(format!(
                "--metric {m}: {} `{name}` has no such metric; its metrics are: {}",
                template.kind,
                names.join(", ")
            ))
        })?,
        (None, [one]) => one,
        (None, metrics) => {
            let names: Vec<&str> = metrics.iter().map(|x| x.name.as_str()).collect();
            return Err(bad(format!(
                "--analysis {name} has {} metrics ({}): say which with --metric",
                metrics.len(),
                names.join(", ")
            )));
        }
    };
    let mut conditions: Vec<Option<(f64, String)>> = vec![None];
    if !args.success_threshold.is_empty() {
        if metric.kayenta {
            return Err(sources
                .error_at_metric(
                    metric,
                    MetricField::Provider,
                    format!("metric `{}` is judged by Kayenta: it has no successCondition to tune", metric.name),
                    "the judge's score decides this metric",
                    "tune its --failure-limit here, or the CanaryConfig and the score thresholds with `rollsim sweep --grid`",
                )
                .into());
        }
        let Some(condition) = &metric.success_condition else {
            return Err(sources
                .error_at_metric(
                    metric,
                    MetricField::Metric,
                    format!("metric `{}` has no successCondition to tune", metric.name),
                    "no successCondition here",
                    "write the condition with the threshold as a number, e.g. `successCondition: result[0] >= 0.95`",
                )
                .into());
        };
        conditions.clear();
        for t in &args.success_threshold {
            let replaced = with_success_threshold(condition, *t).map_err(|why| {
                sources.error_at_metric(
                    metric,
                    MetricField::SuccessCondition,
                    format!("--success-threshold: the successCondition `{condition}` has no single number to replace: {why}"),
                    "the threshold to tune",
                    "write the condition with exactly one number outside `[…]`, e.g. `result[0] >= 0.95`",
                )
            })?;
            conditions.push(Some((*t, replaced)));
        }
    }
    let mut limits: Vec<Option<i64>> = vec![None];
    if !args.failure_limit.is_empty() {
        if let Some(l) = args.failure_limit.iter().find(|l| **l < -1) {
            return Err(bad(format!(
                "--failure-limit {l}: a count of failed measurements the metric tolerates, 0 or more (or -1: no limit)"
            )));
        }
        limits = args.failure_limit.iter().copied().map(Some).collect();
    }
    let path = format!("{}.spec.metrics[{}]", quoted_doc(template.kind, &template.name), metric.index);
    let mut settings = Vec::new();
    for c in &conditions {
        for l in &limits {
            let (mut pairs, mut set) = (Vec::new(), Vec::new());
            if let Some((t, text)) = c {
                pairs.push(("success_threshold".to_owned(), t.to_string()));
                set.push(format!(
                    "{path}.successCondition={}",
                    serde_json::to_string(text).expect("a string")
                ));
            }
            if let Some(l) = l {
                pairs.push(("failure_limit".to_owned(), l.to_string()));
                set.push(format!("{path}.failureLimit={l}"));
            }
            settings.push(Setting { pairs, set });
        }
    }
    Ok(Plan {
        title: format!("{} ({}/{name})", metric.name, template.kind),
        detector: format!("analysis:{}", metric.name),
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_number_outside_indices_is_the_threshold() {
        assert_eq!(with_success_threshold("result[0] >= 0.95", 0.99).unwrap(), "result[0] >= 0.99");
        assert_eq!(with_success_threshold("result >= 1e-3", 0.5).unwrap(), "result >= 0.5");
        assert_eq!(
            with_success_threshold("isNaN(result[0]) || result[0] >= .9", 1.0).unwrap(),
            "isNaN(result[0]) || result[0] >= 1"
        );
        assert_eq!(with_success_threshold("result[-1] > -0.5", 0.25).unwrap(), "result[-1] > 0.25");
        assert!(with_success_threshold("result[0] - 2 > x", 3.0).is_err());
        assert_eq!(with_success_threshold("result[0]-2 < 0", 3.0).unwrap_err(), "it holds 2 numbers (2, 0)");
        assert_eq!(
            with_success_threshold("len(result) == 0 || result[0] < 0.5", 0.1).unwrap_err(),
            "it holds 2 numbers (0, 0.5)"
        );
        assert_eq!(
            with_success_threshold("result[0] >= {{args.min}}", 0.1).unwrap_err(),
            "it holds no number, only an argument (`{{args.…}}`)"
        );
        assert_eq!(with_success_threshold("all(result, {# > 0.9})", 0.8).unwrap(), "all(result, {# > 0.8})");
    }
}
