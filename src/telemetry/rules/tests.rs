use super::*;
use crate::engine::{MINUTE, SECOND};
use crate::telemetry::promql::{labels, parse};
use crate::telemetry::spec::{AlertingRule, RecordingRule};

fn group(rules: Vec<Rule>) -> RuleGroup {
    RuleGroup { object: "PrometheusRule/myapp".into(), name: "myapp".into(), interval: MINUTE, rules }
}

fn alert(name: &str, expr: &str, for_: SimTime, keep: SimTime) -> Rule {
    Rule::Alerting(AlertingRule {
        name: name.into(),
        expr: parse(expr).unwrap(),
        for_,
        keep_firing_for: keep,
        labels: [("severity".to_string(), "critical".to_string())].into(),
    })
}

/// `TestKeepFiringFor` (alerting.md §4.3 / controllers.md §5.3): for 1m, keep 1m, 1m samples
/// 75 85 70 70 10 10 …, `> 50`: pending at 0, firing 1m–4m (4m kept), resolved at 5m.
#[test]
fn keep_firing_for_vector() {
    let mut store = Store::new();
    let l = labels(&[("__name__", "http_requests_total"), ("instance", "0")]);
    for (i, v) in [75.0, 85.0, 70.0, 70.0, 10.0, 10.0, 10.0].iter().enumerate() {
        store.append(&l, i as u64 * MINUTE, *v);
    }
    let groups = [group(vec![alert("HTTPRequestRateHigh", "http_requests_total > 50", MINUTE, MINUTE)])];
    // Offset 0 and started just before t = 0: evaluations at 0, 1m, 2m, …
    let mut engine = RuleEngine { ..RuleEngine::new(&groups, &[0], 0) };
    engine.runs[0].next = 0;
    let mut seen = Vec::new();
    for i in 0..7 {
        let mut changes = Vec::new();
        engine.evaluate_due(i * MINUTE, &mut store, &mut changes);
        seen.push((i, changes.iter().map(|c| c.transition).collect::<Vec<_>>(), engine.firing(0)));
    }
    use Transition::*;
    assert_eq!(seen[0], (0, vec![Pending], false));
    assert_eq!(seen[1], (1, vec![Fired], true));
    assert_eq!(seen[2], (2, vec![], true));
    assert_eq!(seen[3], (3, vec![], true));
    assert_eq!(seen[4], (4, vec![KeptFiring], true));
    assert_eq!(seen[5], (5, vec![Resolved], false));
    // ALERTS carries the firing state at 1m.
    let q = parse(r#"ALERTS{alertstate="firing"}"#).unwrap();
    let v = q.eval_instant(&store, MINUTE).unwrap();
    assert_eq!(v.as_vector().unwrap().len(), 1);
    assert_eq!(v.as_vector().unwrap()[0].0["alertname"], "HTTPRequestRateHigh");
    assert_eq!(v.as_vector().unwrap()[0].0["severity"], "critical");
}

#[test]
fn recording_rules_feed_later_rules_in_the_same_evaluation() {
    let mut store = Store::new();
    for (code, per_s) in [("200", 9.0), ("500", 1.0)] {
        let l = labels(&[("__name__", "http_requests_total"), ("status", code)]);
        for i in 0..=20u64 {
            store.append(&l, i * 15 * SECOND, per_s * (i * 15) as f64);
        }
    }
    let groups = [group(vec![
        Rule::Recording(RecordingRule {
            record: "job:error_ratio:rate1m".into(),
            expr: parse(
                r#"sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))"#,
            )
            .unwrap(),
            labels: Default::default(),
        }),
        alert("HighErrorRate", "job:error_ratio:rate1m > 0.05", 0, 0),
    ])];
    let mut engine = RuleEngine::new(&groups, &[0], 0);
    assert_eq!(engine.next_evaluation(), Some(MINUTE));
    let mut changes = Vec::new();
    engine.evaluate_due(MINUTE, &mut store, &mut changes);
    // `for: 0`: pending and firing in the same evaluation, reported as one firing.
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].transition, Transition::Fired);
    assert!((changes[0].value - 0.1).abs() < 1e-9);
    let recorded = parse("job:error_ratio:rate1m").unwrap().eval_instant(&store, MINUTE).unwrap();
    assert!((recorded.as_vector().unwrap()[0].1 - 0.1).abs() < 1e-9);
    assert_eq!(engine.next_evaluation(), Some(2 * MINUTE));
    let info = &engine.alerts()[0];
    assert_eq!(info.object, "PrometheusRule/myapp/HighErrorRate");
    assert_eq!(info.threshold.as_ref().map(|t| (t.1, t.2)), Some((">", 0.05)));
}

#[test]
fn a_pending_alert_whose_condition_goes_away_is_dropped() {
    let mut store = Store::new();
    let l = labels(&[("__name__", "x")]);
    for (i, v) in [1.0, 0.0, 1.0].iter().enumerate() {
        store.append(&l, i as u64 * MINUTE, *v);
    }
    let groups = [group(vec![alert("X", "x > 0.5", 5 * MINUTE, 0)])];
    let mut engine = RuleEngine::new(&groups, &[0], 0);
    engine.runs[0].next = 0;
    let mut changes = Vec::new();
    for i in 0..3 {
        engine.evaluate_due(i * MINUTE, &mut store, &mut changes);
    }
    let t: Vec<_> = changes.iter().map(|c| c.transition).collect();
    assert_eq!(t, [Transition::Pending, Transition::PendingDropped, Transition::Pending]);
}
