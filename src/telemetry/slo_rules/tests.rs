use super::*;
use crate::telemetry::promql::{Labels, METRIC_NAME, Store, Value, labels};

const THIRTY_DAYS: SimTime = 30 * DAY;

fn myapp() -> SloRuleSpec {
    SloRuleSpec { selector: r#"app="myapp""#.into(), ..SloRuleSpec::new("myapp", 0.999, THIRTY_DAYS) }
}

#[test]
fn every_expression_parses_with_our_subset() {
    for selector in ["", r#"app="myapp""#, r#"app="myapp", env=~"prod|canary", path!~"/health.*""#] {
        let rules = slo_rules(&SloRuleSpec { selector: selector.into(), ..myapp() }).unwrap();
        assert_eq!(rules.recording.len(), RECORDED_WINDOWS.len());
        assert_eq!(rules.alerting.len(), 2);
        for expr in rules.recording.iter().map(|r| &r.expr).chain(rules.alerting.iter().map(|a| &a.expr)) {
            promql::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        }
    }
}

/// Table 5-8 at 99.9% over 30 days, and the burn-rate arithmetic of §1.1.
#[test]
fn the_workbook_table_at_99_9_percent() {
    let rows = burn_rate_table(&myapp()).unwrap();
    let expected = [
        (Severity::Page, HOUR, 5 * MINUTE, 14.4, 0.0144, 0.02, 50 * HOUR),
        (Severity::Page, 6 * HOUR, 30 * MINUTE, 6.0, 0.006, 0.05, 5 * DAY),
        (Severity::Ticket, DAY, 2 * HOUR, 3.0, 0.003, 0.1, 10 * DAY),
        (Severity::Ticket, 3 * DAY, 6 * HOUR, 1.0, 0.001, 0.1, 30 * DAY),
    ];
    assert_eq!(rows.len(), expected.len());
    for (row, (severity, long, short, burn, threshold, consumed, exhausted)) in rows.iter().zip(expected) {
        assert_eq!((row.pair.severity, row.pair.long_window, row.pair.short_window), (severity, long, short));
        assert_eq!(row.burn_rate, burn);
        assert!((row.threshold_ratio - threshold).abs() < 1e-15, "{row:?}");
        assert_eq!(row.budget_consumed_ratio, consumed);
        assert_eq!(row.exhausted_after, exhausted);
        assert!(row.can_fire);
    }
}

/// Another period keeps the budget shares: burn = share × period / window.
#[test]
fn a_28_day_period_keeps_the_budget_shares() {
    let rows = burn_rate_table(&SloRuleSpec { period: 28 * DAY, ..myapp() }).unwrap();
    let burns: Vec<f64> = rows.iter().map(|r| r.burn_rate).collect();
    assert_eq!(burns, [13.44, 5.6, 2.8, round_significant(28.0 / 30.0)]);
}

/// §1.4: at 90% a total outage burns at most 10× and never trips the 14.4× page.
#[test]
fn a_90_percent_slo_cannot_fire_the_fast_page() {
    let rows = burn_rate_table(&SloRuleSpec { objective: 0.9, ..myapp() }).unwrap();
    let can_fire: Vec<bool> = rows.iter().map(|r| r.can_fire).collect();
    assert_eq!(can_fire, [false, true, true, true]);
}

#[test]
fn recording_rules_and_names() {
    let rules = slo_rules(&myapp()).unwrap();
    let names: Vec<&str> = rules.recording.iter().map(|r| r.record.as_str()).collect();
    assert_eq!(
        names,
        [
            "myapp:error_ratio:rate5m",
            "myapp:error_ratio:rate30m",
            "myapp:error_ratio:rate1h",
            "myapp:error_ratio:rate2h",
            "myapp:error_ratio:rate6h",
            "myapp:error_ratio:rate1d",
            "myapp:error_ratio:rate3d",
        ]
    );
    assert_eq!(
        rules.recording[0].expr,
        r#"sum(rate(http_requests_total{app="myapp",status=~"5.."}[5m])) / sum(rate(http_requests_total{app="myapp"}[5m]))"#
    );
    let bare = slo_rules(&SloRuleSpec::new("my_app", 0.999, THIRTY_DAYS)).unwrap();
    assert_eq!(
        bare.recording[6].expr,
        r#"sum(rate(http_requests_total{status=~"5.."}[3d])) / sum(rate(http_requests_total[3d]))"#
    );
    assert_eq!(bare.object_name, "my-app-slo");
    assert_eq!(bare.alerting[0].alert, "MyAppErrorBudgetBurnPage");
    assert_eq!(bare.alerting[1].alert, "MyAppErrorBudgetBurnTicket");

    // A Kubernetes-style name with hyphens: the series take `_`, the object keeps `-`.
    let hyphens = slo_rules(&SloRuleSpec::new("my-app", 0.999, THIRTY_DAYS)).unwrap();
    assert_eq!(hyphens.recording[0].record, "my_app:error_ratio:rate5m");
    assert_eq!(hyphens.object_name, "my-app-slo");
    assert_eq!(hyphens.alerting[0].alert, "MyAppErrorBudgetBurnPage");
    assert!(hyphens.alerting[0].expr.contains("my_app:error_ratio:rate1h"), "{}", hyphens.alerting[0].expr);
    promql::parse(&hyphens.alerting[0].expr).unwrap();
}

#[test]
fn the_page_expression() {
    let rules = slo_rules(&myapp()).unwrap();
    let page = &rules.alerting[0];
    assert_eq!(page.alert, "MyappErrorBudgetBurnPage");
    assert_eq!(page.severity, Severity::Page);
    assert_eq!(
        page.expr,
        "(\n  myapp:error_ratio:rate1h > (14.4 * 0.001)\nand\n  myapp:error_ratio:rate5m > (14.4 * 0.001)\n)\n\
         or\n\
         (\n  myapp:error_ratio:rate6h > (6 * 0.001)\nand\n  myapp:error_ratio:rate30m > (6 * 0.001)\n)"
    );
    assert_eq!(page.labels, [("severity".to_string(), "page".to_string()), ("slo".into(), "myapp".into())]);
    let ticket = &rules.alerting[1];
    assert!(ticket.expr.contains("myapp:error_ratio:rate1d > (3 * 0.001)"), "{}", ticket.expr);
    assert!(ticket.expr.contains("myapp:error_ratio:rate6h > (1 * 0.001)"), "{}", ticket.expr);
    assert_eq!(ticket.labels[0].1, "ticket");
}

#[test]
fn the_yaml_is_deterministic_and_has_the_loader_fields() {
    let spec = SloRuleSpec { interval: Some(30 * SECOND), ..myapp() };
    let yaml = prometheus_rule_yaml(&spec).unwrap();
    assert_eq!(yaml, prometheus_rule_yaml(&spec).unwrap());
    for line in [
        "apiVersion: monitoring.coreos.com/v1",
        "kind: PrometheusRule",
        "metadata:\n  name: myapp-slo\n",
        "spec:\n  groups:\n    - name: myapp-slo\n      interval: 30s\n      rules:\n        - record: myapp:error_ratio:rate5m\n",
        r#"          expr: 'sum(rate(http_requests_total{app="myapp",status=~"5.."}[5m])) / sum(rate(http_requests_total{app="myapp"}[5m]))'"#,
        "        - alert: MyappErrorBudgetBurnPage\n          expr: |-\n            (\n              myapp:error_ratio:rate1h > (14.4 * 0.001)\n",
        "          for: 0s\n          labels:\n            severity: 'page'\n            slo: 'myapp'\n          annotations:\n            summary: 'myapp: error budget burning fast (2% of the 30d budget in 1h, or 5% in 6h)'\n",
        "        - alert: MyappErrorBudgetBurnTicket\n",
    ] {
        assert!(yaml.contains(line), "missing {line:?} in\n{yaml}");
    }
    assert!(yaml.starts_with("# Generated by `rollsim slo-rules`: SLO 99.9% of http_requests_total{app=\"myapp\"} over 30d, error budget 0.1%.\n"), "{yaml}");
    assert!(!prometheus_rule_yaml(&myapp()).unwrap().contains("interval:"));
    // No tabs, no trailing spaces; a quote in a matcher value is doubled in the YAML.
    assert!(yaml.lines().all(|l| !l.contains('\t') && !l.ends_with(' ')));
    let quoted = prometheus_rule_yaml(&SloRuleSpec { selector: r#"app="it's""#.into(), ..myapp() }).unwrap();
    assert!(quoted.contains(r#"{app="it''s",status=~"5.."}"#), "{quoted}");
}

#[test]
fn bad_input_names_its_field() {
    let field = |spec: SloRuleSpec| slo_rules(&spec).unwrap_err().field;
    assert_eq!(field(SloRuleSpec { objective: 1.0, ..myapp() }), "objective");
    assert_eq!(field(SloRuleSpec { objective: 0.0, ..myapp() }), "objective");
    assert_eq!(field(SloRuleSpec { objective: f64::NAN, ..myapp() }), "objective");
    assert_eq!(field(SloRuleSpec { period: DAY, ..myapp() }), "period");
    assert_eq!(field(SloRuleSpec { name: "My-App".into(), ..myapp() }), "name");
    assert_eq!(field(SloRuleSpec { name: "".into(), ..myapp() }), "name");
    assert_eq!(field(SloRuleSpec { metric: "http-requests".into(), ..myapp() }), "metric");
    assert_eq!(field(SloRuleSpec { selector: "app=myapp".into(), ..myapp() }), "selector");
    assert_eq!(field(SloRuleSpec { selector: r#"app="a"} or vector(1"#.into(), ..myapp() }), "selector");
    assert_eq!(field(SloRuleSpec { selector: "app=\"a\"\n".into(), ..myapp() }), "selector");
    assert_eq!(field(SloRuleSpec { selector: r#"__name__="x""#.into(), ..myapp() }), "selector");
    assert_eq!(field(SloRuleSpec { errors: "".into(), ..myapp() }), "errors");
    assert_eq!(field(SloRuleSpec { interval: Some(0), ..myapp() }), "interval");
    let e = slo_rules(&SloRuleSpec { period: DAY, ..myapp() }).unwrap_err();
    assert_eq!(e.to_string(), "period is shorter than the longest alert window (3d)");
}

// ---------------------------------------------------------------------------------------------
// The rules at work on a hand-built store: counters scraped at a fixed interval, the
// recording rules evaluated (and their results stored) before the alerts, as one group does.

const RPS: f64 = 100.0;

/// `myapp`'s `status="200"` and `status="500"` counters, scraped every `scrape` from 0 to
/// `until`, at `RPS` requests per second of which `error_ratio(t)` fail; plus another app
/// that fails every request, which the selector must leave out.
fn counters(scrape: SimTime, until: SimTime, error_ratio: impl Fn(SimTime) -> f64) -> Store {
    let ok = labels(&[(METRIC_NAME, "http_requests_total"), ("app", "myapp"), ("status", "200")]);
    let failed = labels(&[(METRIC_NAME, "http_requests_total"), ("app", "myapp"), ("status", "500")]);
    let other = labels(&[(METRIC_NAME, "http_requests_total"), ("app", "other"), ("status", "500")]);
    let mut store = Store::new();
    let (mut ok_total, mut failed_total) = (0.0, 0.0);
    let mut t = 0;
    while t <= until {
        store.append(&ok, t, ok_total);
        store.append(&failed, t, failed_total);
        store.append(&other, t, t as f64 / SECOND as f64 * RPS);
        // The next scrape interval (t, t + scrape] runs at the error ratio of its start.
        let requests = RPS * (scrape / SECOND) as f64;
        failed_total += requests * error_ratio(t);
        ok_total += requests * (1.0 - error_ratio(t));
        t += scrape;
    }
    store
}

/// One evaluation of the group at `at`: records every ratio, then returns the firing alerts.
fn evaluate(rules: &SloRules, store: &mut Store, at: SimTime) -> Vec<Severity> {
    for rule in &rules.recording {
        let Value::Vector(v) = promql::parse(&rule.expr).unwrap().eval_instant(store, at).unwrap() else {
            panic!("a ratio is a vector");
        };
        for (mut labels, value) in v {
            assert_eq!(labels, Labels::new(), "sum() keeps no labels");
            labels.insert(METRIC_NAME.into(), rule.record.clone());
            store.append(&labels, at, value);
        }
    }
    let firing =
        |a: &&AlertingRuleText| match promql::parse(&a.expr).unwrap().eval_instant(store, at).unwrap() {
            Value::Vector(v) => !v.is_empty(),
            Value::Scalar(_) => panic!("an alert is a vector"),
        };
    rules.alerting.iter().filter(firing).map(|a| a.severity).collect()
}

/// With 10% errors from `start`, the 1h window reaches 14.4 × 0.1% = 1.44% after
/// 1.44% / 10% × 1h = 518.4 s (the 5m window long before): the page fires at the first
/// 30 s evaluation after that, 540 s, and not at 510 s. The healthy hours before never fire,
/// although another app fails every request.
#[test]
fn the_page_fires_when_the_long_window_crosses_14_4_times_the_budget() {
    let start = 6 * HOUR;
    let mut store = counters(15 * SECOND, start + HOUR, |t| if t >= start { 0.1 } else { 0.0 });
    let rules = slo_rules(&myapp()).unwrap();
    let crossing_s = 0.001 * 14.4 / 0.1 * 3600.0;
    assert!((crossing_s - 518.4_f64).abs() < 1e-9);
    let mut first_fired = None;
    for at in (start - 10 * MINUTE..=start + 20 * MINUTE).step_by(30 * SECOND as usize) {
        let firing = evaluate(&rules, &mut store, at);
        if first_fired.is_none() && firing.contains(&Severity::Page) {
            first_fired = Some(at - start);
        }
        assert!(at > start || firing.is_empty(), "healthy at {at}: {firing:?}");
    }
    assert_eq!(first_fired, Some(540 * SECOND));
}

/// 1% errors burn at 10×: never above the 1h pair's 14.4, and above the 6h pair's 6 only once
/// the 6h window holds 0.6% errors, after 0.6% / 1% × 6h = 3.6 h, although its 30m window
/// (1% > 0.6%) crosses within minutes.
#[test]
fn a_ten_times_burn_does_not_page_for_hours() {
    let start = 6 * HOUR;
    let mut store = counters(15 * SECOND, start + 2 * HOUR, |t| if t >= start { 0.01 } else { 0.0 });
    let rules = slo_rules(&myapp()).unwrap();
    for at in (start..=start + 2 * HOUR).step_by(5 * MINUTE as usize) {
        assert!(!evaluate(&rules, &mut store, at).contains(&Severity::Page), "fired at {at}");
    }
}

/// 100% errors for 10 minutes: the page fires at 60 s (0.0144 × 3600 s = 51.84 s) and resets
/// when the 30m window of the 6h pair has no errors left: at 600 s + 1800 s × (1 − 0.6%) =
/// 2389.2 s, so at the 2400 s evaluation, although the 1h and 6h ratios are still far above
/// their thresholds. `and` is what resets it.
#[test]
fn the_short_windows_reset_the_page() {
    let start = 6 * HOUR;
    let outage = start..start + 10 * MINUTE;
    let mut store = counters(15 * SECOND, start + HOUR, |t| if outage.contains(&t) { 1.0 } else { 0.0 });
    let rules = slo_rules(&myapp()).unwrap();
    let mut paging = Vec::new();
    for at in (start..=start + 45 * MINUTE).step_by(30 * SECOND as usize) {
        if evaluate(&rules, &mut store, at).contains(&Severity::Page) {
            paging.push((at - start) / SECOND);
        }
    }
    assert_eq!(paging.first(), Some(&60));
    assert_eq!(paging.last(), Some(&2370));
    assert_eq!(paging.len(), (2370 - 60) / 30 + 1, "fires without a gap: {paging:?}");
    let long =
        promql::parse("myapp:error_ratio:rate1h").unwrap().eval_instant(&store, start + 40 * MINUTE).unwrap();
    let Value::Vector(long) = long else { panic!() };
    assert!(long[0].1 > 0.0144, "the 1h ratio is still {}", long[0].1);
}

/// The ticket's 1d and 3d windows cross 3 × 0.1% and 1 × 0.1% at a 100% error ratio after
/// 0.3% × 1d = 0.1% × 3d = 259.2 s: with scrapes and evaluations every minute, at 300 s and
/// not at 240 s. Three days of healthy history fill the windows.
#[test]
fn the_ticket_fires_after_259_seconds_of_a_total_outage() {
    let start = 3 * DAY;
    let mut store = counters(MINUTE, start + 10 * MINUTE, |t| if t >= start { 1.0 } else { 0.0 });
    let rules = slo_rules(&myapp()).unwrap();
    assert_eq!(evaluate(&rules, &mut store, start + 240 * SECOND), [Severity::Page]);
    assert_eq!(evaluate(&rules, &mut store, start + 300 * SECOND), [Severity::Page, Severity::Ticket]);
}
