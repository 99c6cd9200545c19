//! Target labels as a real Prometheus gives them: a pod's discovered `__meta_kubernetes_*`
//! labels, run through the scrape config's `relabel_configs` ([`super::relabel`]), then
//! `instance` defaulted to `__address__` and every `__`-prefixed label removed. A scraped
//! sample gets the target's labels (a clash renames the sample's own to `exported_<name>`, as
//! with `honor_labels: false`), then the `metric_relabel_configs`. Pure functions.
//!
//! Three scrape configs (see [`ScrapeConfig`]):
//!
//! - a ServiceMonitor endpoint, in the order of the Prometheus Operator's generated config:
//!   `namespace`, `service`, `pod`, `container` from discovery; `targetLabels` (Service labels)
//!   and `podTargetLabels` (pod labels) copied when not empty; `job` = the Service's name, or
//!   the value of the Service label `jobLabel` names when set; `endpoint` = the port name; then
//!   the monitor's `relabelings`; `metricRelabelings` on every sample (the order checked
//!   against the operator's golden file pkg/prometheus/testdata/GenerateRelabelConfig.golden;
//!   its `Pod;(.*)` → `pod` rule from the endpoint address and the `Failed|Succeeded` phase
//!   drop change nothing for the running pods simulated here, so they are left out);
//! - a PodMonitor endpoint: the same without `service`, `job` = `<namespace>/<name>` of the
//!   PodMonitor (or its `jobLabel`'s pod label);
//! - without any monitor, the classic `kubernetes-pods` job (Prometheus's example config, which
//!   Flagger's bundled Prometheus uses): `job="kubernetes-pods"`, every pod label by
//!   `labelmap` of `__meta_kubernetes_pod_label_(.+)`, `kubernetes_namespace` and
//!   `kubernetes_pod_name`.

use super::promql::{Labels, METRIC_NAME};
use super::relabel::{Rule, RuleSpec, process};

/// The pod's discovered facts.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub namespace: String,
    pub pod: String,
    /// The pod's IP (see [`pod_ip`]).
    pub ip: String,
    pub port: u16,
    pub port_name: String,
    pub container: String,
    pub pod_labels: Labels,
    /// The Service whose endpoints list the pod (ServiceMonitor only): its name and labels.
    pub service: Option<(String, Labels)>,
}

/// A deterministic pod IP for the pod numbered `id`: `10.244.<id / 250 % 256>.<id % 250 + 2>`
/// (a kind-like pod CIDR; distinct for 64 000 pods).
pub fn pod_ip(id: u32) -> String {
    format!("10.244.{}.{}", (id / 250) % 256, id % 250 + 2)
}

/// Prometheus's sanitising of a Kubernetes label name into part of a label name.
pub fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// How targets are labelled.
#[derive(Clone, Debug)]
pub enum ScrapeConfig {
    /// No monitor: the `kubernetes-pods` job.
    KubernetesPods,
    Monitor(MonitorConfig),
}

/// A ServiceMonitor's or PodMonitor's endpoint, as far as labels go.
#[derive(Clone, Debug, Default)]
pub struct MonitorConfig {
    /// PodMonitor (else ServiceMonitor).
    pub pod_monitor: bool,
    pub name: String,
    pub namespace: String,
    /// The endpoint's index in the monitor (`serviceMonitor/<ns>/<name>/<index>`).
    pub index: usize,
    pub job_label: Option<String>,
    pub target_labels: Vec<String>,
    pub pod_target_labels: Vec<String>,
    pub relabelings: Vec<Rule>,
    pub metric_relabelings: Vec<Rule>,
}

impl ScrapeConfig {
    /// The `job_name` in the generated config.
    pub fn job_name(&self) -> String {
        match self {
            ScrapeConfig::KubernetesPods => "kubernetes-pods".to_string(),
            ScrapeConfig::Monitor(m) => format!(
                "{}/{}/{}/{}",
                if m.pod_monitor { "podMonitor" } else { "serviceMonitor" },
                m.namespace,
                m.name,
                m.index
            ),
        }
    }

    /// The generated `relabel_configs`, the monitor's `relabelings` last.
    pub fn relabel_configs(&self) -> Vec<Rule> {
        let rule = |src: &[&str],
                    regex: Option<&str>,
                    target: &str,
                    replacement: Option<&str>,
                    action: Option<&str>| {
            Rule::new(&RuleSpec {
                source_labels: src.iter().map(|s| s.to_string()).collect(),
                regex: regex.map(str::to_string),
                target_label: (!target.is_empty()).then(|| target.to_string()),
                replacement: replacement.map(str::to_string),
                action: action.map(str::to_string),
                ..RuleSpec::default()
            })
            .expect("generated rules are valid")
        };
        match self {
            ScrapeConfig::KubernetesPods => vec![
                rule(&[], Some("__meta_kubernetes_pod_label_(.+)"), "", None, Some("labelmap")),
                rule(&["__meta_kubernetes_namespace"], None, "kubernetes_namespace", None, None),
                rule(&["__meta_kubernetes_pod_name"], None, "kubernetes_pod_name", None, None),
            ],
            ScrapeConfig::Monitor(m) => {
                let mut out = vec![rule(&["job"], None, "__tmp_prometheus_job_name", None, None)];
                out.push(rule(&["__meta_kubernetes_namespace"], None, "namespace", None, None));
                if !m.pod_monitor {
                    out.push(rule(&["__meta_kubernetes_service_name"], None, "service", None, None));
                }
                out.push(rule(&["__meta_kubernetes_pod_name"], None, "pod", None, None));
                out.push(rule(&["__meta_kubernetes_pod_container_name"], None, "container", None, None));
                if !m.pod_monitor {
                    for l in &m.target_labels {
                        let src = format!("__meta_kubernetes_service_label_{}", sanitize(l));
                        out.push(rule(&[&src], Some("(.+)"), &sanitize(l), Some("${1}"), None));
                    }
                }
                for l in &m.pod_target_labels {
                    let src = format!("__meta_kubernetes_pod_label_{}", sanitize(l));
                    out.push(rule(&[&src], Some("(.+)"), &sanitize(l), Some("${1}"), None));
                }
                if m.pod_monitor {
                    let job = format!("{}/{}", m.namespace, m.name);
                    out.push(rule(&[], None, "job", Some(&job), None));
                } else {
                    out.push(rule(&["__meta_kubernetes_service_name"], None, "job", Some("${1}"), None));
                }
                if let Some(j) = &m.job_label {
                    let kind = if m.pod_monitor { "pod" } else { "service" };
                    let src = format!("__meta_kubernetes_{kind}_label_{}", sanitize(j));
                    out.push(rule(&[&src], Some("(.+)"), "job", Some("${1}"), None));
                }
                let port = if m.pod_monitor {
                    "__meta_kubernetes_pod_container_port_name"
                } else {
                    "__meta_kubernetes_endpoint_port_name"
                };
                out.push(rule(&[port], None, "endpoint", None, None));
                out.extend(m.relabelings.iter().cloned());
                out
            }
        }
    }

    fn metric_relabelings(&self) -> &[Rule] {
        match self {
            ScrapeConfig::KubernetesPods => &[],
            ScrapeConfig::Monitor(m) => &m.metric_relabelings,
        }
    }
}

/// The discovered labels of a pod target, before relabelling.
pub fn discovered_labels(d: &Discovered, job_name: &str) -> Labels {
    let mut l = Labels::new();
    let mut set = |k: String, v: &str| {
        l.insert(k, v.to_string());
    };
    set("job".into(), job_name);
    set("__address__".into(), &format!("{}:{}", d.ip, d.port));
    set("__scheme__".into(), "http");
    set("__metrics_path__".into(), "/metrics");
    set("__meta_kubernetes_namespace".into(), &d.namespace);
    set("__meta_kubernetes_pod_name".into(), &d.pod);
    set("__meta_kubernetes_pod_ip".into(), &d.ip);
    set("__meta_kubernetes_pod_container_name".into(), &d.container);
    set("__meta_kubernetes_pod_container_port_name".into(), &d.port_name);
    set("__meta_kubernetes_pod_container_port_number".into(), &d.port.to_string());
    for (k, v) in &d.pod_labels {
        set(format!("__meta_kubernetes_pod_label_{}", sanitize(k)), v);
        set(format!("__meta_kubernetes_pod_labelpresent_{}", sanitize(k)), "true");
    }
    if let Some((name, labels)) = &d.service {
        set("__meta_kubernetes_service_name".into(), name);
        set("__meta_kubernetes_endpoint_port_name".into(), &d.port_name);
        set("__meta_kubernetes_endpoint_address_target_kind".into(), "Pod");
        set("__meta_kubernetes_endpoint_address_target_name".into(), &d.pod);
        set("__meta_kubernetes_endpoint_ready".into(), "true");
        for (k, v) in labels {
            set(format!("__meta_kubernetes_service_label_{}", sanitize(k)), v);
            set(format!("__meta_kubernetes_service_labelpresent_{}", sanitize(k)), "true");
        }
    }
    l
}

/// A target's labels after relabelling, or `None` when the relabelling drops the target.
pub fn target_labels(d: &Discovered, config: &ScrapeConfig) -> Option<Labels> {
    let discovered = discovered_labels(d, &config.job_name());
    let mut l = process(&discovered, &config.relabel_configs())?;
    if !l.contains_key("instance")
        && let Some(a) = l.get("__address__").cloned()
    {
        l.insert("instance".into(), a);
    }
    l.retain(|k, _| !k.starts_with("__"));
    Some(l)
}

/// A scraped sample's labels: its own (`__name__` included) joined with the target's
/// (`honor_labels: false`: an own label the target also has becomes `exported_<name>`), then
/// the config's metric relabelling. `None` when that drops the sample.
pub fn sample_labels(own: &Labels, target: &Labels, config: &ScrapeConfig) -> Option<Labels> {
    let mut l = Labels::new();
    for (k, v) in own {
        if target.contains_key(k) && k != METRIC_NAME {
            let mut name = format!("exported_{k}");
            while own.contains_key(&name) || target.contains_key(&name) {
                name = format!("exported_{name}");
            }
            l.insert(name, v.clone());
        } else {
            l.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in target {
        if !v.is_empty() {
            l.insert(k.clone(), v.clone());
        }
    }
    process(&l, config.metric_relabelings())
}

/// The `up` series' labels: the target's and `__name__="up"` (no metric relabelling).
pub fn up_labels(target: &Labels) -> Labels {
    let mut l = target.clone();
    l.insert(METRIC_NAME.into(), "up".into());
    l
}

#[cfg(test)]
#[path = "targets/tests.rs"]
mod tests;
