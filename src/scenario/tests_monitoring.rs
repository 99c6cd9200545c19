//! Loading simulated monitoring: `spec.monitoring`, PrometheusRules, ServiceMonitors and
//! PodMonitors, Argo AnalysisTemplates resolved against a Rollout, and Flagger's check queries
//! and MetricTemplates. Error positions are found by searching the text, as in
//! `tests_release`.

use super::*;
use crate::controllers::argo::spec::pod_template_hash;
use crate::engine::{MINUTE, SECOND};
use crate::telemetry::promql;

use super::tests_release::{check_error, errors, load, pos_of, simulation_with as simulation};

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
    assert_eq!(s.notes, [super::load::NOTHING_DETECTS], "only the note that nothing detects");
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
    // Issue 13: the functions of real rule files load.
    for expr in
        ["absent(up)", "topk(3, up)", "up * on(job) group_left(team) team_info", "max_over_time(up[5m:1m])"]
    {
        load(&app(&RULES.replace("expr: up == 0", &format!("expr: '{expr}'")), ""));
    }
    // What is still outside the subset is named where it is written.
    let text = app(&RULES.replace("expr: up == 0", "expr: 1 + holt_winters(up[5m], 0.5, 0.5)"), "");
    let d = check_error(&text, "holt_winters", 0, "function `holt_winters` is not supported");
    assert!(d.message.contains("spec.groups[0].rules[0].expr"), "{d}");
    assert!(d.help.as_deref().unwrap().contains("subset of PromQL"), "{d}");
    // In a block scalar, on its second line, after a string that holds the same name.
    let block = "expr: |\n        up{job=\"histogram_count\"}\n          + histogram_count(up)";
    let text = app(&RULES.replace("expr: up == 0", block), "");
    check_error(&text, "histogram_count(", 0, "function `histogram_count` is not supported");
    // Too deep: at the bracket that crosses the cap.
    let deep = format!("expr: {}up{}", "(".repeat(70), ")".repeat(70));
    let text = app(&RULES.replace("expr: up == 0", &deep), "");
    let at = format!("{}up", "(".repeat(70 - 64));
    check_error(&text, &at, 0, "nests more than 64 brackets deep");

    let text = app(&RULES.replace("expr: up == 0", "expr: sum(rate(up[5m]"), "");
    check_error(&text, "sum(rate(up[5m]", 0, "is not valid PromQL");
}

#[test]
fn rules_nothing_reads_are_skipped_with_a_note() {
    // `Down` is outside the subset; onAlert routes only HighErrorRate and SlowRequests, so
    // nothing reads `Down`: it is skipped with a note, and the rest loads.
    let rules = RULES.replace("expr: up == 0", "expr: holt_winters(up[5m], 0.5, 0.5) < 1");
    let routes = "  monitoring:\n    onAlert:\n    - {alert: HighErrorRate, action: rollback}\n    - {alert: SlowRequests, action: none}\n";
    let s = load(&app(&rules, routes));
    assert_eq!(s.monitoring.groups.iter().map(|g| g.rules.len()).sum::<usize>(), 3);
    let note = s.notes.iter().find(|n| n.contains("`Down`")).unwrap_or_else(|| panic!("{:?}", s.notes));
    assert!(
        note.starts_with(
            "PrometheusRule/other: alert `Down` is skipped: function `holt_winters` is not supported"
        ),
        "{note}"
    );
    // Routed to an action (or paged, without onAlert), it is read: an error at the construct.
    let routes = "  monitoring:\n    onAlert:\n    - {alert: \"*\", action: page}\n";
    let d = check_error(&app(&rules, routes), "holt_winters", 0, "function `holt_winters` is not supported");
    assert!(d.help.as_deref().unwrap().contains("cannot be skipped"), "{d}");
    check_error(&app(&rules, ""), "holt_winters", 0, "function `holt_winters` is not supported");
    // A recording rule whose metric nothing names is skipped; one that is named is read.
    let record = "    - record: myapp:smooth\n      expr: holt_winters(up[5m], 0.5, 0.5)\n";
    let rules_rec = RULES.replace("    - alert: Down\n", &format!("{record}    - alert: Down\n"));
    let s = load(&app(&rules_rec, ""));
    assert!(s.notes.iter().any(|n| n.contains("recording rule `myapp:smooth` is skipped")), "{:?}", s.notes);
    let read = rules_rec.replace("expr: up == 0", "expr: myapp:smooth < 1");
    check_error(&app(&read, ""), "holt_winters", 0, "function `holt_winters` is not supported");
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
        vec![
            "PodMonitor/batch selects none of the release's pods: not simulated".to_string(),
            super::load::NOTHING_DETECTS.to_string()
        ]
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
        vec![
            "ServiceMonitor/myapp selects no Service of the release's pods: not simulated".to_string(),
            super::load::NOTHING_DETECTS.to_string()
        ]
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

#[test]
fn a_service_monitor_s_label_settings_are_read_and_checked() {
    use crate::telemetry::targets::ScrapeConfig;
    // Without a monitor: the kubernetes-pods job.
    assert!(matches!(load(&app("", "")).monitoring.scrape_config, ScrapeConfig::KubernetesPods));
    let labelled = SERVICE_MONITOR.replace(
        "  endpoints:\n  - port: http\n    interval: 30s\n",
        "  jobLabel: team\n  targetLabels: [team]\n  podTargetLabels: [app]\n  endpoints:\n  - port: http\n    interval: 30s\n    relabelings:\n    - {sourceLabels: [__meta_kubernetes_pod_node_name], targetLabel: node}\n    - {action: LabelDrop, regex: container}\n    metricRelabelings:\n    - {sourceLabels: [__name__], regex: 'go_.*', action: drop}\n",
    );
    let s = load(&app(&labelled, ""));
    let ScrapeConfig::Monitor(m) = &s.monitoring.scrape_config else { panic!("a monitor's config") };
    assert_eq!((m.name.as_str(), m.pod_monitor), ("myapp", false));
    assert_eq!(m.job_label.as_deref(), Some("team"));
    assert_eq!(
        (m.target_labels.clone(), m.pod_target_labels.clone()),
        (vec!["team".to_string()], vec!["app".to_string()])
    );
    assert_eq!((m.relabelings.len(), m.metric_relabelings.len()), (2, 1));
    assert!(
        s.notes.iter().any(|n| n.starts_with("ServiceMonitor/myapp: `jobLabel`") && n.contains("not carry")),
        "{:?}",
        s.notes
    );

    // A rule Prometheus refuses is an error at its field.
    let bad = labelled.replace("action: LabelDrop", "action: relabel");
    let d = check_error(&app(&bad, ""), "relabel,", 0, "unknown relabel action \"relabel\"");
    assert!(d.help.as_deref().unwrap_or("").contains("labelmap"), "{:?}", d.help);
    let bad = labelled.replace("targetLabel: node}", "targetLabel: 0node}");
    check_error(&app(&bad, ""), "0node", 0, "is not a valid target label");
    let bad = labelled.replace("regex: container", "regex: '(container'");
    check_error(&app(&bad, ""), "'(container'", 0, "not a valid regular expression");
}

// ---------------------------------------------------------------------------------------------
// Argo Rollouts analyses

const ROLLOUT: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: guestbook
spec:
  replicas: 5
  selector:
    matchLabels: {app: guestbook}
  template:
    metadata:
      labels: {app: guestbook}
    spec:
      containers:
      - name: guestbook
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      analysis:
        templates:
        - templateName: success-rate
        startingStep: 2
        args:
        - name: service-name
          value: guestbook-svc.default.svc.cluster.local
      steps:
      - setWeight: 20
      - setHeaderRoute: {name: header}
      - pause: {duration: 10m}
      - setWeight: 40
      - analysis:
          templates:
          - templateName: success-rate
          - templateName: latency
            clusterScope: true
          - templateName: canary-only
          args:
          - name: service-name
            value: guestbook-svc.default.svc.cluster.local
          - name: canary-hash
            valueFrom:
              podTemplateHashValue: Latest
          - name: stable-hash
            valueFrom:
              podTemplateHashValue: Stable
          dryRun:
          - metricName: ^lat
---
apiVersion: v1
kind: Service
metadata:
  name: guestbook-svc
spec:
  selector: {app: guestbook}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  - name: count
    value: \"5\"
  metrics:
  - name: success-rate
    interval: 1m
    count: \"{{args.count}}\"
    initialDelay: 30s
    successCondition: result[0] >= 0.95
    failureCondition: result[0] < 0.90
    failureLimit: 2
    inconclusiveLimit: 1
    consecutiveErrorLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: |
          sum(irate(istio_requests_total{reporter=\"source\",destination_service=~\"{{args.service-name}}\",response_code!~\"5.*\"}[5m])) /
          sum(irate(istio_requests_total{reporter=\"source\",destination_service=~\"{{args.service-name}}\"}[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata:
  name: latency
spec:
  metrics:
  - name: latency-p99
    successCondition: result < 0.5
    provider:
      prometheus:
        query: 0.25
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: canary-only
spec:
  args:
  - name: canary-hash
  - name: stable-hash
  metrics:
  - name: canary-errors
    interval: 30s
    count: 4
    consecutiveSuccessLimit: 2
    failureLimit: -1
    failureCondition: result[0] > 0.01
    provider:
      prometheus:
        query: sum(rate(http_requests_total{rollouts_pod_template_hash=\"{{args.canary-hash}}\",status=~\"5..\"}[1m])) / sum(rate(http_requests_total{rollouts_pod_template_hash!=\"{{ args.stable-hash }}\"}[1m]))
";

const DEMO_VERSIONS: [&str; 2] = ["argoproj/rollouts-demo:blue", "argoproj/rollouts-demo:yellow"];
const ROLLOUT_RELEASE: &str = "{workload: Rollout/guestbook, from: argoproj/rollouts-demo:yellow, at: 5m, inconclusive: {action: promote, after: 15m}}";

fn rollout(docs: &str) -> String {
    format!("{ROLLOUT}{docs}{}", simulation(ROLLOUT_RELEASE, &DEMO_VERSIONS, ""))
}

fn rollout_of(s: &Scenario) -> &RolloutRelease {
    match &s.strategy {
        Strategy::Rollout(r) => r,
        other => panic!("expected a Rollout, got {other:?}"),
    }
}

fn query(m: &AnalysisMetric) -> &str {
    match &m.provider {
        MetricProvider::Prometheus { query } => query.source(),
        MetricProvider::Kayenta(_) => panic!("a Prometheus metric"),
    }
}

#[test]
fn analysis_templates_resolve_into_runs() {
    let s = load(&rollout(""));
    let r = rollout_of(&s);
    let a = &r.analyses;
    // The header-route step is not simulated: the analysis step is index 3, and the background
    // analysis from written step 2 starts at simulated step 1.
    assert_eq!(a.steps.keys().copied().collect::<Vec<_>>(), vec![3]);
    let (background, from) = a.background.as_ref().expect("a background analysis");
    assert_eq!(*from, Some(1));
    let bg = r.spec.canary().unwrap().background_analysis.as_ref().unwrap();
    assert_eq!((bg.templates.clone(), bg.starting_step), (vec!["success-rate".to_string()], Some(1)));
    assert_eq!(background.templates, vec!["success-rate".to_string()]);

    let m = &background.metrics[0];
    assert_eq!(m.name, "success-rate");
    assert_eq!(m.spec.interval, Some(MINUTE));
    assert_eq!(m.spec.count, Some(5), "`count` from the template's default argument");
    assert_eq!(m.spec.initial_delay, Some(30 * SECOND));
    assert_eq!((m.spec.failure_limit, m.spec.inconclusive_limit, m.spec.consecutive_error_limit), (2, 1, 3));
    assert_eq!(m.spec.consecutive_success_limit, 0);
    assert!(!m.spec.dry_run);
    assert_eq!(m.success.as_ref().unwrap().source(), "result[0] >= 0.95");
    assert_eq!(m.failure.as_ref().unwrap().source(), "result[0] < 0.90");
    assert!(
        query(m).contains("destination_service=~\"guestbook-svc.default.svc.cluster.local\""),
        "{}",
        query(m)
    );
    assert!(!query(m).contains("{{"));

    // Several templates: AnalysisTemplates first, then the ClusterAnalysisTemplate.
    let step = &a.steps[&3];
    assert_eq!(step.templates, vec!["success-rate", "latency", "canary-only"]);
    let names: Vec<&str> = step.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["success-rate", "canary-errors", "latency-p99"]);
    let canary = &step.metrics[1];
    let latest = pod_template_hash("argoproj/rollouts-demo:blue");
    let stable = pod_template_hash("argoproj/rollouts-demo:yellow");
    assert_ne!(latest, stable);
    assert!(query(canary).contains(&format!("rollouts_pod_template_hash=\"{latest}\"")), "{}", query(canary));
    assert!(
        query(canary).contains(&format!("rollouts_pod_template_hash!=\"{stable}\"")),
        "{}",
        query(canary)
    );
    assert_eq!(
        (canary.spec.count, canary.spec.failure_limit, canary.spec.consecutive_success_limit),
        (Some(4), -1, 2)
    );
    assert!(canary.success.is_none());
    // `dryRun` rules are regular expressions matched anywhere in the name.
    assert!(step.metrics[2].spec.dry_run && !step.metrics[0].spec.dry_run && !canary.spec.dry_run);
    assert_eq!(step.metrics[2].spec.interval, None);

    let decision = a.on_inconclusive.expect("release.inconclusive");
    assert!(decision.promote);
    assert_eq!(decision.after, DurationDist::Fixed(15 * MINUTE));
}

#[test]
fn dry_run_rules_match_anywhere_and_must_match() {
    let text = rollout("").replace("metricName: ^lat", "metricName: errors");
    let s = load(&text);
    let step = &rollout_of(&s).analyses.steps[&3];
    assert!(step.metrics[1].spec.dry_run, "`errors` matches `canary-errors` unanchored");

    let text = rollout("").replace("metricName: ^lat", "metricName: ^errors");
    let d = check_error(&text, "^errors", 0, "dryRun[0]: Rule didn't match any metric name(s)");
    assert!(d.help.unwrap().contains("`canary-errors`"));

    let text = rollout("").replace("metricName: ^lat", "metricName: \"(lat\"");
    check_error(&text, "\"(lat\"", 0, "not a valid regular expression");
}

#[test]
fn a_missing_template_is_an_error_with_a_suggestion() {
    let text = rollout("").replace("- templateName: canary-only", "- templateName: canary-onyl");
    let d = check_error(
        &text,
        "canary-onyl",
        0,
        "references AnalysisTemplate `canary-onyl`, which is not in this file",
    );
    assert!(d.message.starts_with("Rollout `guestbook`"), "{d}");
    assert!(d.help.unwrap().starts_with("did you mean `canary-only`?"));

    // A ClusterAnalysisTemplate needs `clusterScope: true`.
    let text = rollout("").replace("            clusterScope: true\n", "");
    let d =
        check_error(&text, "latency\n          - templateName", 0, "references AnalysisTemplate `latency`");
    assert!(d.help.unwrap().contains("add `clusterScope: true`"));
}

#[test]
fn every_argument_needs_a_value() {
    let text = rollout("").replace(
        "          - name: canary-hash\n            valueFrom:\n              podTemplateHashValue: Latest\n",
        "",
    );
    // Reported at the step's first template reference.
    let d = check_error(
        &text,
        "success-rate",
        1,
        "argument `canary-hash` of AnalysisTemplate `canary-only` has no value",
    );
    assert!(d.help.unwrap().contains("{name: canary-hash, value: ...}"));

    // The background analysis gives no `service-name`.
    let text = rollout("").replacen(
        "        args:\n        - name: service-name\n          value: guestbook-svc.default.svc.cluster.local\n",
        "",
        1,
    );
    check_error(
        &text,
        "success-rate",
        0,
        "argument `service-name` of AnalysisTemplate `success-rate` has no value",
    );

    // A tag naming no declared argument.
    let text = rollout("").replace("{{ args.stable-hash }}", "{{args.stable}}");
    let d = check_error(
        &text,
        "sum(rate(http_requests_total{rollouts",
        0,
        "uses argument `stable`, which no template",
    );
    assert!(d.help.unwrap().starts_with("did you mean `{{args.stable-hash}}`?"));

    // An argument value that is not a count.
    let text = rollout("").replace("value: \"5\"", "value: five");
    // Both references of the template get the bad value: one diagnostic each, at the field.
    let diags = errors(&text);
    let at = pos_of(&text, "\"{{args.count}}\"", 0);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    for (d, reference) in diags.iter().zip(["canary.steps[4].analysis", "canary.analysis"]) {
        assert_eq!((d.line, d.column), at);
        assert!(d.help.is_some(), "{d}");
        assert!(d.message.starts_with("`spec.metrics[0].count` of AnalysisTemplate `success-rate` must be a whole number, found `five` with the args of"), "{d}");
        assert!(d.message.ends_with(&format!("`spec.strategy.{reference}`")), "{d}");
    }

    // Only `podTemplateHashValue` and `value` are simulated.
    let text = rollout("").replace("podTemplateHashValue: Stable", "fieldRef: {fieldPath: metadata.name}");
    check_error(&text, "fieldRef", 0, "is not simulated");
}

#[test]
fn bad_conditions_are_reported_at_the_condition() {
    let text = rollout("").replace("successCondition: result[0] >= 0.95", "successCondition: result[0] >= ");
    let d = check_error(&text, "result[0] >= \n", 0, "is not a condition rollsim can evaluate");
    assert!(d.message.contains("spec.metrics[0].successCondition"), "{d}");

    let text =
        rollout("").replace("successCondition: result[0] >= 0.95", "successCondition: result.value > 1");
    check_error(&text, "result.value", 0, "is not a condition rollsim can evaluate");

    // The shape of the result is known from the query: a vector here…
    let text = rollout("").replace("failureCondition: result[0] < 0.90", "failureCondition: result < 0.90");
    let d = check_error(&text, "result < 0.90", 0, "cannot be evaluated on this query's result");
    assert!(d.label.contains("instant vector"), "{}", d.label);
    // …and a scalar for a number.
    let text = rollout("").replace("successCondition: result < 0.5", "successCondition: result[0] < 0.5");
    let d = check_error(&text, "result[0] < 0.5", 0, "cannot be evaluated on this query's result");
    assert!(d.label.contains("scalar"), "{}", d.label);
}

#[test]
fn only_the_prometheus_provider_is_simulated() {
    let text = rollout("").replace(
        "      prometheus:\n        query: 0.25\n",
        "      datadog:\n        query: avg:latency{*}\n",
    );
    let d = check_error(
        &text,
        "datadog",
        0,
        "metric provider `datadog` is not simulated: only `prometheus` and `kayenta` are",
    );
    assert!(d.help.unwrap().contains("provider: {prometheus:"));

    let text =
        rollout("").replace("        query: 0.25\n", "        query: 0.25\n        rangeQuery: {step: 1m}\n");
    check_error(&text, "rangeQuery", 0, "`provider.prometheus.rangeQuery` is not simulated");

    let text = rollout("").replace("query: 0.25", "query: 1 + holt_winters(up[5m], 0.5, 0.5)");
    let d = check_error(&text, "holt_winters", 0, "function `holt_winters` is not supported");
    assert!(d.message.contains("ClusterAnalysisTemplate `latency`"), "{d}");
}

#[test]
fn merged_templates_follow_upstream() {
    // Two metrics of one name across the templates of a run.
    let text = rollout("").replace("  - name: canary-errors", "  - name: success-rate");
    check_error(&text, "success-rate", 1, "two metrics have the same name 'success-rate'");

    // Upstream's metric validation, in its words.
    let text = rollout("").replace("    failureLimit: 2\n", "    failureLimit: 7\n");
    let d = check_error(&text, "name: success-rate\n    interval", 0, "count must be >= failureLimit");
    assert!(d.message.contains("invalid metric `success-rate`"), "{d}");
    let text = rollout("").replace("    count: 4\n", "    count: 4\n    inconclusiveLimit: -1\n");
    check_error(&text, "name: canary-errors", 0, "inconclusiveLimit must be >= 0");
}

#[test]
fn blue_green_gates_and_release_keys() {
    let bg = ROLLOUT.replace(
        "    canary:\n      analysis:\n        templates:\n        - templateName: success-rate\n        startingStep: 2\n",
        "    blueGreen:\n      activeService: guestbook-svc\n      autoPromotionEnabled: false\n      prePromotionAnalysis:\n        templates:\n        - templateName: latency\n          clusterScope: true\n      postPromotionAnalysis:\n        templates:\n        - templateName: success-rate\n",
    );
    let cut = bg.find("      steps:").unwrap();
    let end = bg.find("---\napiVersion: v1\nkind: Service").unwrap();
    let bg = format!("{}{}", &bg[..cut], &bg[end..]);
    let s = load(&format!("{bg}{}", simulation(ROLLOUT_RELEASE, &DEMO_VERSIONS, "")));
    let a = &rollout_of(&s).analyses;
    assert_eq!(a.pre_promotion.as_ref().unwrap().metrics[0].name, "latency-p99");
    let post = a.post_promotion.as_ref().unwrap();
    assert!(query(&post.metrics[0]).contains("guestbook-svc.default.svc.cluster.local"));
    assert!(a.steps.is_empty() && a.background.is_none());

    // `analysisDuration`, the stand-in, is gone.
    let text = format!(
        "{ROLLOUT}{}",
        simulation(
            "{workload: Rollout/guestbook, from: argoproj/rollouts-demo:yellow, at: 5m, analysisDuration: 2m}",
            &DEMO_VERSIONS,
            ""
        )
    );
    let d = check_error(&text, "analysisDuration", 0, "`spec.release.analysisDuration` is no longer read");
    assert!(d.help.unwrap().contains("AnalysisTemplates"));

    let text = rollout("").replace("action: promote", "action: retry");
    check_error(&text, "retry", 0, "must be one of `promote` or `abort`");
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

    let text = CANARY.replace("(le)\n    )\n", "(le)\n    ) or holt_winters(up[5m], 0.5, 0.5)\n");
    check_error(&canary(&text), "holt_winters", 0, "function `holt_winters` is not supported");
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

// ---------------------------------------------------------------------------------------------
// Argo's Kayenta provider and the CanaryConfig it names

const KAYENTA: &str = "---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: kayenta
spec:
  args:
  - name: stable-hash
  - name: canary-hash
  metrics:
  - name: canary-judge
    interval: 5m
    count: 1
    provider:
      kayenta:
        address: http://kayenta.example:8090
        application: guestbook
        canaryConfigName: guestbook-errors
        metricsAccountName: prometheus
        configurationAccountName: in-memory
        storageAccountName: in-memory
        threshold: {pass: 90, marginal: 75}
        scopes:
        - name: default
          controlScope:
            scope: app=\"guestbook\",rollouts_pod_template_hash=\"{{args.stable-hash}}\"
            step: 30
            start: \"2026-01-01T00:00:00Z\"
            end: \"2026-01-01T00:10:00Z\"
          experimentScope:
            scope: app=\"guestbook\",rollouts_pod_template_hash=\"{{args.canary-hash}}\"
            step: 30
---
apiVersion: rollsim.dev/v1alpha1
kind: CanaryConfig
metadata:
  name: guestbook-errors
spec:
  name: guestbook-errors
  applications: [guestbook]
  judge: {name: NetflixACAJudge-v1.0, judgeConfigurations: {}}
  metrics:
  - name: error-ratio
    query:
      type: prometheus
      serviceType: prometheus
      customInlineTemplate: \"PromQL:sum(rate(http_requests_total{${scope},status=~\\\"5..\\\"}[1m])) / sum(rate(http_requests_total{${scope}}[1m]))\"
    groups: [errors]
    analysisConfigurations:
      canary:
        direction: increase
        critical: true
        nanStrategy: replace
        effectSize: {allowedIncrease: 1.1, criticalIncrease: 2}
        outliers: {strategy: remove, outlierFactor: 2}
  classifier:
    groupWeights: {errors: 100}
";

fn kayenta_rollout() -> String {
    let text = rollout(KAYENTA);
    text.replacen(
        "          - templateName: canary-only\n",
        "          - templateName: canary-only\n          - templateName: kayenta\n",
        1,
    )
}

#[test]
fn a_kayenta_provider_loads_its_canary_config() {
    use crate::controllers::kayenta::{Direction, NanStrategy, Outliers};
    let s = load(&kayenta_rollout());
    let run = &rollout_of(&s).analyses.steps[&3];
    let m = run.metrics.iter().find(|m| m.name == "canary-judge").expect("the kayenta metric");
    let MetricProvider::Kayenta(k) = &m.provider else { panic!("a Kayenta metric: {m:?}") };
    assert_eq!((k.pass, k.marginal, k.step), (90.0, 75.0, 30 * SECOND));
    assert_eq!((k.config.pass, k.config.marginal), (90.0, 75.0));
    assert_eq!(k.config.group_weights, vec![("errors".to_string(), 100.0)]);
    let metric = &k.config.metrics[0];
    assert_eq!((metric.name.as_str(), metric.group.as_str()), ("error-ratio", "errors"));
    assert_eq!(metric.direction, Direction::Increase);
    assert!(metric.critical && !metric.must_have_data);
    assert_eq!(metric.nan_strategy, NanStrategy::Replace);
    assert_eq!(metric.effect_size.allowed_increase, 1.1);
    assert_eq!(metric.effect_size.critical_increase, 2.0);
    assert!(matches!(metric.outliers, Outliers::Remove { factor, .. } if factor == 2.0));
    let (stable, canary) = (pod_template_hash(DEMO_VERSIONS[1]), pod_template_hash(DEMO_VERSIONS[0]));
    let (experiment, control) = &k.queries[0];
    let scope = |hash: &str| format!("app=\"guestbook\",rollouts_pod_template_hash=\"{hash}\"");
    let expected = |hash: &str| {
        format!(
            "sum(rate(http_requests_total{{{},status=~\"5..\"}}[1m])) / sum(rate(http_requests_total{{{}}}[1m]))",
            scope(hash),
            scope(hash)
        )
    };
    assert_eq!(experiment.source(), expected(&canary));
    assert_eq!(control.source(), expected(&stable));
}

#[test]
fn kayenta_errors_point_at_the_field() {
    // A canaryConfigName no CanaryConfig has.
    let text =
        kayenta_rollout().replace("canaryConfigName: guestbook-errors", "canaryConfigName: guestbook-error");
    let d = check_error(
        &text,
        "guestbook-error\n",
        0,
        "names CanaryConfig `guestbook-error`, which is not in this file",
    );
    assert!(d.help.unwrap().contains("did you mean `guestbook-errors`?"));

    // PromQL the simulator cannot parse, at the template.
    let full = kayenta_rollout();
    let at = full.find("customInlineTemplate").expect("a template");
    let text = format!("{}{}", &full[..at], full[at..].replacen("[1m])) / sum", "[1m]) / sum", 1));
    check_error(&text, "\"PromQL:", 0, "customInlineTemplate");

    // An unknown direction.
    let text = kayenta_rollout().replace("direction: increase", "direction: increasing");
    let d = check_error(&text, "increasing", 0, "increasing");
    assert!(d.help.unwrap().contains("did you mean `increase`?"));
}
