//! Loading simulated monitoring: `spec.monitoring`, PrometheusRules, ServiceMonitors and
//! PodMonitors, and Flagger's check queries and MetricTemplates. Error positions are found by
//! searching the text, as in `tests_release`.

use super::*;
use crate::engine::{MINUTE, SECOND};
use crate::telemetry::promql;

/// A Simulation document with `release` and the given versions, plus `extra` lines under `spec`.
fn simulation(release: &str, versions: &[&str], extra: &str) -> String {
    let versions: String = versions.iter().map(|v| format!("    {v}: {{}}\n")).collect();
    format!(
        "---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {{name: t}}
spec:
  duration: 2h
  release: {release}
  traffic: {{rps: 500}}
  versions:
{versions}  pods: {{startup: 20s, capacityRps: 100}}
  cluster: {{nodes: 4, nodeCapacity: {{cpu: \"8\", memory: 32Gi}}}}
  slo: {{objective: 99.9%, window: 30d}}
{extra}"
    )
}

fn load(text: &str) -> Scenario {
    match load_str("t.yaml", text, &[]) {
        Ok(s) => s,
        Err(e) => panic!("does not load:\n{e}\n---\n{text}"),
    }
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str("t.yaml", text, &[]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.diagnostics,
    }
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`.
fn pos_of(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset =
        text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("`{needle}` #{nth} not in text")).0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// Asserts exactly one diagnostic, at the `nth` occurrence of `at`, containing `message`, with a
/// help line.
fn check_error(text: &str, at: &str, nth: usize, message: &str) -> Diagnostic {
    let diags = errors(text);
    let (line, column) = pos_of(text, at, nth);
    let all: Vec<String> = diags.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect();
    assert_eq!(diags.len(), 1, "expected one diagnostic at {line}:{column}, got:\n{}", all.join("\n"));
    let d = &diags[0];
    assert!(
        (d.line, d.column) == (line, column) && d.message.contains(message),
        "expected {line}:{column} containing {message:?}; got:\n{}",
        all.join("\n")
    );
    assert!(d.help.is_some(), "no help line: {d}");
    d.clone()
}

// ---------------------------------------------------------------------------------------------
// A Deployment release with Prometheus rules

const APP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp
spec:
  replicas: 4
  template:
    metadata:
      labels: {app: myapp}
    spec:
      containers:
        - name: myapp
          image: myapp:2.0
---
apiVersion: v1
kind: Service
metadata:
  name: myapp
  labels: {app: myapp, team: web}
spec:
  selector: {app: myapp}
";

const RULES: &str = "\
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: myapp-slo
spec:
  groups:
  - name: myapp.alerts
    interval: 1m
    rules:
    - alert: HighErrorRate
      expr: sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
      for: 2m
      keep_firing_for: 5m
      labels: {severity: critical}
      annotations: {summary: too many errors}
    - record: job:http_errors:rate5m
      expr: sum by (job) (rate(http_requests_total{status=~\"5..\"}[5m]))
  - name: myapp.latency
    rules:
    - alert: SlowRequests
      expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: other
spec:
  groups:
  - name: myapp.alerts
    rules:
    - alert: Down
      expr: up == 0
";

const RELEASE: &str = "{workload: Deployment/myapp, from: myapp:1.0, at: 5m}";
const VERSIONS: [&str; 2] = ["myapp:1.0", "myapp:2.0"];

fn app(docs: &str, monitoring: &str) -> String {
    format!("{APP}{docs}{}", simulation(RELEASE, &VERSIONS, monitoring))
}

const MONITORING: &str = "  monitoring:
    scrapeInterval: 10s
    evaluationInterval: 30s
    scrapeOffset: 3s
    evaluationOffset: 7s
    counters: zero
    alertmanager: {groupWait: 1m}
    onAlert:
    - {alert: HighErrorRate, action: rollback}
    - {alert: SlowRequests, action: none}
    - {alert: \"*\", action: page}
";

#[test]
fn monitoring_defaults() {
    let s = load(&app("", ""));
    let m = &s.monitoring;
    assert_eq!(m.scrape_interval, 15 * SECOND);
    assert_eq!((m.scrape_offset, m.evaluation_offset), (None, None));
    assert_eq!(m.counters, CounterInit::Lazy);
    assert_eq!(m.group_wait, 30 * SECOND);
    assert!(m.groups.is_empty() && m.on_alert.is_empty());
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn prometheus_rules_and_spec_monitoring() {
    let s = load(&app(RULES, MONITORING));
    let m = &s.monitoring;
    assert_eq!(m.scrape_interval, 10 * SECOND);
    assert_eq!((m.scrape_offset, m.evaluation_offset), (Some(3 * SECOND), Some(7 * SECOND)));
    assert_eq!(m.counters, CounterInit::Zero);
    assert_eq!(m.group_wait, MINUTE);
    let groups: Vec<(&str, &str, SimTime, usize)> =
        m.groups.iter().map(|g| (g.object.as_str(), g.name.as_str(), g.interval, g.rules.len())).collect();
    assert_eq!(
        groups,
        vec![
            ("PrometheusRule/myapp-slo", "myapp.alerts", MINUTE, 2),
            // No `interval`: `spec.monitoring.evaluationInterval`.
            ("PrometheusRule/myapp-slo", "myapp.latency", 30 * SECOND, 1),
            // The same group name in another PrometheusRule (another rule file) is fine.
            ("PrometheusRule/other", "myapp.alerts", 30 * SECOND, 1),
        ]
    );
    let Rule::Alerting(a) = &m.groups[0].rules[0] else { panic!("an alert") };
    assert_eq!(a.name, "HighErrorRate");
    assert_eq!((a.for_, a.keep_firing_for), (2 * MINUTE, 5 * MINUTE));
    assert_eq!(a.labels.get("severity").map(String::as_str), Some("critical"));
    assert!(a.expr.source().starts_with("sum(rate(http_requests_total{status=~\"5..\"}[5m]))"));
    let Rule::Recording(r) = &m.groups[0].rules[1] else { panic!("a recording rule") };
    assert_eq!(r.record, "job:http_errors:rate5m");
    let Rule::Alerting(slow) = &m.groups[1].rules[0] else { panic!("an alert") };
    assert_eq!((slow.for_, slow.keep_firing_for), (0, 0));
    assert_eq!(
        m.on_alert,
        vec![
            AlertRoute { alert: "HighErrorRate".into(), action: AlertAction::Rollback },
            AlertRoute { alert: "SlowRequests".into(), action: AlertAction::None },
            AlertRoute { alert: "*".into(), action: AlertAction::Page },
        ]
    );
    assert_eq!(m.action_for("HighErrorRate"), AlertAction::Rollback);
    assert_eq!(m.action_for("Down"), AlertAction::Page);
}

#[test]
fn unsupported_promql_names_the_construct() {
    let text = app(&RULES.replace("expr: up == 0", "expr: absent(up)"), "");
    let d = check_error(&text, "absent(up)", 0, "function `absent` is not supported");
    assert!(d.message.contains("spec.groups[0].rules[0].expr"), "{d}");
    assert!(d.help.as_deref().unwrap().contains("subset of PromQL"), "{d}");

    let text = app(&RULES.replace("expr: up == 0", "expr: topk(3, up)"), "");
    check_error(&text, "topk(3, up)", 0, "aggregation `topk` is not supported");

    let text = app(&RULES.replace("expr: up == 0", "expr: sum(rate(up[5m]"), "");
    check_error(&text, "sum(rate(up[5m]", 0, "is not valid PromQL");
}

#[test]
fn rule_errors_point_at_the_field() {
    // Group names are unique within one PrometheusRule (one rule file).
    let text = app(&RULES.replace("  - name: myapp.latency", "  - name: myapp.alerts"), "");
    let d = check_error(&text, "myapp.alerts", 1, "groupname: \"myapp.alerts\" is repeated in the same file");
    let first = pos_of(&text, "myapp.alerts", 0).0;
    assert!(d.help.unwrap().contains(&format!("the first is on line {first}")));

    let text = app(&RULES.replace("      for: 2m", "      for: 1.5m"), "");
    check_error(&text, "1.5m", 0, "not a valid Prometheus duration");

    let text = app(&RULES.replace("    interval: 1m", "    interval: 1m30"), "");
    check_error(&text, "1m30", 0, "not a valid Prometheus duration");

    let text = app(&RULES.replace("      expr: sum by (job)", "      for: 1m\n      expr: sum by (job)"), "");
    check_error(&text, "for: 1m", 0, "invalid field 'for' in recording rule");

    let text = app(&RULES.replace("    - alert: Down\n", "    - record: Down\n      alert: Down\n"), "");
    check_error(&text, "Down\n      alert: Down", 0, "only one of 'record' and 'alert' must be set");

    let text = app(&RULES.replace("record: job:http_errors:rate5m", "record: 5xx-rate"), "");
    check_error(&text, "5xx-rate", 0, "invalid recording rule name");

    let text = app(&RULES.replace("      keep_firing_for: 5m", "      keep_firing: 5m"), "");
    let d = check_error(&text, "keep_firing:", 0, "unknown key `keep_firing`");
    assert!(d.help.unwrap().contains("did you mean `keep_firing_for`?"));
}

#[test]
fn on_alert_must_name_an_alert() {
    let text = app(RULES, &MONITORING.replace("alert: SlowRequests", "alert: SlowRequest"));
    let d =
        check_error(&text, "SlowRequest,", 0, "names alert `SlowRequest`, which no PrometheusRule defines");
    assert!(d.help.unwrap().starts_with("did you mean `SlowRequests`?"));

    // Without any PrometheusRule, only `*` can match.
    let text = app(
        "",
        "  monitoring: {onAlert: [{alert: HighErrorRate, action: page}, {alert: \"*\", action: none}]}\n",
    );
    let d = check_error(&text, "HighErrorRate", 0, "which no PrometheusRule defines");
    assert!(d.help.unwrap().contains("add a `monitoring.coreos.com/v1 PrometheusRule`"));

    let text = app(RULES, &MONITORING.replace("action: none", "action: ignore"));
    check_error(&text, "ignore", 0, "must be one of `rollback`, `page` or `none`");
}

#[test]
fn offsets_must_be_shorter_than_their_intervals() {
    let text = app(RULES, &MONITORING.replace("scrapeOffset: 3s", "scrapeOffset: 10s"));
    let d =
        check_error(&text, "10s\n    evaluationOffset", 0, "`spec.monitoring.scrapeOffset` is not shorter");
    assert!(d.label.contains("10s ≥ 10s"), "{}", d.label);

    // The shortest group interval counts (the groups without one use evaluationInterval 30s).
    let text = app(RULES, &MONITORING.replace("evaluationOffset: 7s", "evaluationOffset: 30s"));
    let d = check_error(&text, "30s\n    counters", 0, "`spec.monitoring.evaluationOffset` is not shorter");
    assert!(d.label.contains("30s ≥ 30s"), "{}", d.label);
    let text = app(RULES, &MONITORING.replace("evaluationOffset: 7s", "evaluationOffset: 29s"));
    assert_eq!(load(&text).monitoring.evaluation_offset, Some(29 * SECOND));
}

const SERVICE_MONITOR: &str = "\
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: myapp
spec:
  selector:
    matchLabels: {team: web}
  endpoints:
  - port: http
    interval: 30s
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: batch
spec:
  selector:
    matchLabels: {app: batch}
  podMetricsEndpoints:
  - port: metrics
    interval: 5s
";

#[test]
fn a_service_monitor_of_the_release_sets_the_scrape_interval() {
    let s = load(&app(SERVICE_MONITOR, ""));
    assert_eq!(s.monitoring.scrape_interval, 30 * SECOND);
    assert_eq!(
        s.notes,
        vec!["PodMonitor/batch selects none of the release's pods: not simulated".to_string()]
    );

    // A PodMonitor selects the pods by their template labels.
    let s = load(&app(&SERVICE_MONITOR.replace("{app: batch}", "{app: myapp}"), ""));
    assert_eq!(s.monitoring.scrape_interval, 30 * SECOND, "the first monitor that selects the release wins");
    let only_pods =
        SERVICE_MONITOR.replace("{team: web}", "{team: api}").replace("{app: batch}", "{app: myapp}");
    let s = load(&app(&only_pods, ""));
    assert_eq!(s.monitoring.scrape_interval, 5 * SECOND);
    assert_eq!(
        s.notes,
        vec!["ServiceMonitor/myapp selects no Service of the release's pods: not simulated".to_string()]
    );

    // matchExpressions, and another namespace unless `namespaceSelector` says so.
    let expr = SERVICE_MONITOR.replace(
        "    matchLabels: {team: web}",
        "    matchExpressions: [{key: team, operator: In, values: [web, api]}]",
    );
    assert_eq!(load(&app(&expr, "")).monitoring.scrape_interval, 30 * SECOND);
    let elsewhere =
        SERVICE_MONITOR.replacen("  name: myapp\n", "  name: myapp\n  namespace: monitoring\n", 1);
    assert_eq!(load(&app(&elsewhere, "")).monitoring.scrape_interval, 15 * SECOND);
    let any =
        elsewhere.replacen("spec:\n  selector:", "spec:\n  namespaceSelector: {any: true}\n  selector:", 1);
    assert_eq!(load(&app(&any, "")).monitoring.scrape_interval, 30 * SECOND);

    // The offset is checked against the interval in force.
    let text = app(SERVICE_MONITOR, "  monitoring: {scrapeOffset: 20s}\n");
    assert_eq!(load(&text).monitoring.scrape_offset, Some(20 * SECOND));
    let text = app(SERVICE_MONITOR, "  monitoring: {scrapeOffset: 30s}\n");
    let d = check_error(&text, "30s}", 0, "`spec.monitoring.scrapeOffset` is not shorter");
    assert!(d.label.contains("ServiceMonitor/myapp"), "{}", d.label);

    let text = app(&SERVICE_MONITOR.replace("interval: 30s", "interval: 30"), "");
    check_error(&text, "30\n", 0, "not a valid Prometheus duration");
}

// ---------------------------------------------------------------------------------------------
// Flagger

const CANARY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    name: podinfo-svc
    port: 9898
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
      interval: 1m
    - name: request-duration
      thresholdRange: {max: 500}
      interval: 30s
    - name: latency-by-direction
      templateRef:
        name: latency
        namespace: flagger
      templateVariables:
        direction: inbound
      thresholdRange: {max: 250}
      interval: 2m
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: latency
  namespace: flagger
spec:
  provider:
    type: prometheus
    address: http://prometheus.linkerd-viz:9090
  query: |
    histogram_quantile(
      0.99,
      sum(
        rate(
          response_latency_ms_bucket{
            namespace=\"{{ namespace }}\",
            deployment=~\"{{ target }}\",
            service=\"{{service}}\",
            direction=\"{{ variables.direction }}\"
          }[{{ interval }}]
        )
      ) by (le)
    )
";

const PODINFO_VERSIONS: [&str; 2] =
    ["ghcr.io/stefanprodan/podinfo:6.0.0", "ghcr.io/stefanprodan/podinfo:6.0.1"];
const CANARY_RELEASE: &str = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";

fn canary(text: &str) -> String {
    format!("{text}{}", simulation(CANARY_RELEASE, &PODINFO_VERSIONS, ""))
}

fn checks(s: &Scenario) -> &[FlaggerCheck] {
    match &s.strategy {
        Strategy::Flagger(f) => &f.checks,
        other => panic!("expected Flagger, got {other:?}"),
    }
}

fn source(c: &FlaggerCheck) -> &str {
    c.query.as_ref().expect("a query").source()
}

#[test]
fn flagger_builtin_queries_are_flaggers() {
    let s = load(&canary(CANARY));
    let c = checks(&s);
    // As Flagger's Istio observer renders them and its Prometheus provider sends them.
    assert_eq!(
        source(&c[0]),
        " sum( rate( istio_requests_total{ reporter=\"destination\", destination_workload_namespace=\"test\", \
         destination_workload=~\"podinfo\", response_code!~\"5.*\" }[1m] ) ) / sum( rate( istio_requests_total{ \
         reporter=\"destination\", destination_workload_namespace=\"test\", destination_workload=~\"podinfo\" }[1m] ) ) * 100"
    );
    assert_eq!(
        source(&c[1]),
        " histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{ reporter=\"destination\", \
         destination_workload_namespace=\"test\", destination_workload=~\"podinfo\" }[30s] ) ) by (le) )"
    );
    assert_eq!((c[0].interval, c[1].interval, c[2].interval), (MINUTE, 30 * SECOND, 2 * MINUTE));
    assert!(!c[0].query.as_ref().unwrap().is_scalar());

    // Upstream's test vector: namespace `default` (unset), interval `1m` (the default).
    let text = CANARY.replace("  name: podinfo\n  namespace: test\n", "  name: podinfo\n").replace(
        "      thresholdRange: {min: 99}\n      interval: 1m\n",
        "      thresholdRange: {min: 99}\n",
    );
    let s = load(&canary(&text));
    assert_eq!(
        source(&checks(&s)[0]),
        " sum( rate( istio_requests_total{ reporter=\"destination\", destination_workload_namespace=\"default\", \
         destination_workload=~\"podinfo\", response_code!~\"5.*\" }[1m] ) ) / sum( rate( istio_requests_total{ \
         reporter=\"destination\", destination_workload_namespace=\"default\", destination_workload=~\"podinfo\" }[1m] ) ) * 100"
    );
    assert_eq!(checks(&s)[0].interval, MINUTE);

    // The kubernetes provider's builtins come from the HTTP observer.
    let text = CANARY.replace("  service:\n", "  provider: kubernetes\n  service:\n");
    let s = load(&canary(&text));
    assert_eq!(
        source(&checks(&s)[1]),
        " histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ kubernetes_namespace=\"test\", \
         kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[30s] ) ) by (le) )"
    );
}

#[test]
fn metric_templates_are_rendered_like_flagger() {
    let s = load(&canary(CANARY));
    let c = &checks(&s)[2];
    assert_eq!(c.kind, FlaggerCheckKind::Custom);
    assert_eq!(c.max, Some(250.0));
    assert_eq!(
        source(c),
        "histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace=\"test\", deployment=~\"podinfo\", \
         service=\"podinfo-svc\", direction=\"inbound\" }[2m] ) ) by (le) ) "
    );

    // Trim markers and comments, as Go's text/template has them.
    let text = CANARY.replace(
        "direction=\"{{ variables.direction }}\"",
        "direction=\"{{- /* which way */ -}} {{- variables.direction -}}\"",
    );
    assert_ne!(text, CANARY);
    let s = load(&canary(&text));
    assert!(source(&checks(&s)[2]).contains("direction=\"inbound\" }"), "{}", source(&checks(&s)[2]));

    // An inline `query` runs as written, whitespace collapsed.
    let text = CANARY.replace(
        "      templateRef:\n        name: latency\n        namespace: flagger\n",
        "      query: |\n        sum(up)\n          > 0\n",
    );
    let s = load(&canary(&text));
    assert_eq!(source(&checks(&s)[2]), "sum(up) > 0 ");
}

#[test]
fn metric_template_errors() {
    let text = CANARY.replace("        name: latency\n", "        name: latencyy\n");
    let d = check_error(
        &canary(&text),
        "latencyy",
        0,
        "references MetricTemplate `latencyy`, which is not in this file",
    );
    assert!(d.help.unwrap().starts_with("did you mean `latency`?"));

    // The template is looked up in `templateRef.namespace`, else the Canary's.
    let text = CANARY.replace("        namespace: flagger\n", "");
    let d = check_error(
        &canary(&text),
        "latency\n      templateVariables",
        0,
        "references MetricTemplate `latency`",
    );
    assert!(d.label.contains("namespace `test`"), "{}", d.label);

    let text = CANARY.replace("    type: prometheus", "    type: datadog");
    let d = check_error(
        &canary(&text),
        "datadog",
        0,
        "MetricTemplate provider `datadog` is not simulated: only `prometheus` is",
    );
    assert!(d.help.unwrap().contains("type: prometheus"));

    let text = CANARY.replace("        direction: inbound\n", "        way: inbound\n");
    let d = check_error(&canary(&text), "histogram_quantile(\n      0.99", 0, "cannot be rendered");
    assert!(d.message.contains("has no `direction`"), "{d}");

    let text = CANARY.replace("{{ target }}", "{{ .Target }}");
    check_error(
        &canary(&text),
        "histogram_quantile(\n      0.99",
        0,
        "`{{ .Target }}` is not one of Flagger's template functions",
    );

    // Without `interval`, Flagger renders a template's `{{ interval }}` empty.
    let text = CANARY.replace(
        "      thresholdRange: {max: 250}\n      interval: 2m\n",
        "      thresholdRange: {max: 250}\n",
    );
    let d = check_error(&canary(&text), "histogram_quantile(\n      0.99", 0, "is not valid PromQL");
    assert!(d.help.unwrap().contains("set `interval: 1m` on the metric"));

    let text = CANARY.replace("(le)\n    )\n", "(le)\n    ) or absent(up)\n");
    check_error(&canary(&text), "histogram_quantile(\n      0.99", 0, "function `absent` is not supported");
}

// ---------------------------------------------------------------------------------------------
// The PromQL helpers the readers use

#[test]
fn query_shapes_and_regex_search() {
    let scalar = |q: &str| promql::parse(q).unwrap().is_scalar();
    assert!(scalar("0.25") && scalar("-(1 + 2) * 3"));
    assert!(
        !scalar("up") && !scalar("sum(up)") && !scalar("up * 2") && !scalar("histogram_quantile(0.9, b)")
    );
    assert_eq!(promql::regex_search("lat", "p99-latency"), Ok(true));
    assert_eq!(promql::regex_search("^lat", "p99-latency"), Ok(false));
    assert_eq!(promql::regex_search(".*", ""), Ok(true));
    assert!(promql::regex_search("(lat", "latency").is_err());
}
