use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod() -> Discovered {
    Discovered {
        namespace: "shop".into(),
        pod: "web-7f9c-abcde".into(),
        ip: pod_ip(3),
        port: 8080,
        port_name: "http".into(),
        container: "app".into(),
        pod_labels: labels(&[("app", "web"), ("pod-template-hash", "7f9c"), ("team", "payments")]),
        service: Some(("web-svc".into(), labels(&[("app", "web"), ("tier", "front")]))),
    }
}

fn monitor(pod_monitor: bool) -> MonitorConfig {
    MonitorConfig {
        pod_monitor,
        name: "web".into(),
        namespace: "monitoring".into(),
        ..MonitorConfig::default()
    }
}

fn rule(spec: RuleSpec) -> Rule {
    Rule::new(&spec).unwrap()
}

#[test]
fn pod_ips_are_distinct_and_stable() {
    assert_eq!(pod_ip(0), "10.244.0.2");
    assert_eq!(pod_ip(249), "10.244.0.251");
    assert_eq!(pod_ip(250), "10.244.1.2");
    let all: std::collections::BTreeSet<String> = (0..5000).map(pod_ip).collect();
    assert_eq!(all.len(), 5000);
}

#[test]
fn service_monitor_labels_as_the_operator_generates() {
    let t = target_labels(&pod(), &ScrapeConfig::Monitor(monitor(false))).unwrap();
    assert_eq!(
        t,
        labels(&[
            ("container", "app"),
            ("endpoint", "http"),
            ("instance", "10.244.0.5:8080"),
            ("job", "web-svc"),
            ("namespace", "shop"),
            ("pod", "web-7f9c-abcde"),
            ("service", "web-svc"),
        ])
    );
}

#[test]
fn service_monitor_job_label_and_target_labels() {
    let mut m = monitor(false);
    m.job_label = Some("tier".into());
    m.target_labels = vec!["tier".into(), "absent".into()];
    m.pod_target_labels = vec!["team".into(), "pod-template-hash".into()];
    let t = target_labels(&pod(), &ScrapeConfig::Monitor(m.clone())).unwrap();
    assert_eq!(t.get("job").map(String::as_str), Some("front"));
    assert_eq!(t.get("tier").map(String::as_str), Some("front"));
    assert_eq!(t.get("team").map(String::as_str), Some("payments"));
    assert_eq!(t.get("pod_template_hash").map(String::as_str), Some("7f9c"));
    assert!(!t.contains_key("absent"));
    // A jobLabel naming a label the Service does not have leaves job as the Service name.
    m.job_label = Some("nope".into());
    let t = target_labels(&pod(), &ScrapeConfig::Monitor(m)).unwrap();
    assert_eq!(t.get("job").map(String::as_str), Some("web-svc"));
}

#[test]
fn pod_monitor_job_is_namespace_slash_name() {
    let mut d = pod();
    d.service = None;
    let t = target_labels(&d, &ScrapeConfig::Monitor(monitor(true))).unwrap();
    assert_eq!(t.get("job").map(String::as_str), Some("monitoring/web"));
    assert_eq!(t.get("endpoint").map(String::as_str), Some("http"));
    assert!(!t.contains_key("service"));
}

#[test]
fn relabelings_run_after_the_generated_rules() {
    let mut m = monitor(false);
    // Overrides the generated job, reads a discovered meta label, and keeps only app=web pods.
    m.relabelings = vec![
        rule(RuleSpec {
            source_labels: vec!["__meta_kubernetes_pod_label_app".into()],
            regex: Some("web".into()),
            action: Some("keep".into()),
            ..RuleSpec::default()
        }),
        rule(RuleSpec {
            source_labels: vec!["job".into()],
            target_label: Some("job".into()),
            replacement: Some("shop/$1".into()),
            ..RuleSpec::default()
        }),
        rule(RuleSpec {
            regex: Some("container|endpoint".into()),
            action: Some("labeldrop".into()),
            ..RuleSpec::default()
        }),
    ];
    let config = ScrapeConfig::Monitor(m);
    let t = target_labels(&pod(), &config).unwrap();
    assert_eq!(t.get("job").map(String::as_str), Some("shop/web-svc"));
    assert!(!t.contains_key("container") && !t.contains_key("endpoint"));
    let mut other = pod();
    other.pod_labels.insert("app".into(), "db".into());
    assert_eq!(target_labels(&other, &config), None);
}

#[test]
fn kubernetes_pods_default_job() {
    let mut d = pod();
    d.service = None;
    let t = target_labels(&d, &ScrapeConfig::KubernetesPods).unwrap();
    assert_eq!(
        t,
        labels(&[
            ("app", "web"),
            ("instance", "10.244.0.5:8080"),
            ("job", "kubernetes-pods"),
            ("kubernetes_namespace", "shop"),
            ("kubernetes_pod_name", "web-7f9c-abcde"),
            ("pod_template_hash", "7f9c"),
            ("team", "payments"),
        ])
    );
}

#[test]
fn sample_clashes_become_exported_and_metric_relabelings_apply() {
    let mut m = monitor(false);
    m.metric_relabelings = vec![rule(RuleSpec {
        source_labels: vec!["__name__".into(), "status".into()],
        regex: Some("http_requests_total;5..".into()),
        action: Some("drop".into()),
        ..RuleSpec::default()
    })];
    let config = ScrapeConfig::Monitor(m);
    let t = target_labels(&pod(), &config).unwrap();
    let own = labels(&[("__name__", "http_requests_total"), ("status", "200"), ("pod", "inner")]);
    let s = sample_labels(&own, &t, &config).unwrap();
    assert_eq!(s.get("exported_pod").map(String::as_str), Some("inner"));
    assert_eq!(s.get("pod").map(String::as_str), Some("web-7f9c-abcde"));
    assert_eq!(s.get("job").map(String::as_str), Some("web-svc"));
    let bad = labels(&[("__name__", "http_requests_total"), ("status", "503")]);
    assert_eq!(sample_labels(&bad, &t, &config), None);
    let up = up_labels(&t);
    assert_eq!(up.get("__name__").map(String::as_str), Some("up"));
    assert_eq!(up.len(), t.len() + 1);
}
