//! The SLO, what counts as a detection besides alerts, and simulated Prometheus's settings.

use crate::engine::SimTime;

#[derive(Clone, Copy, Debug)]
pub struct Slo {
    /// As a ratio: 99.9% → 0.999.
    pub objective: f64,
    pub window: SimTime,
}

/// `spec.detection`: signals that count as a detection besides alerts and analyses.
#[derive(Clone, Copy, Debug)]
pub struct Detection {
    /// Whether ProgressDeadlineExceeded counts as a detection and pages (default true): a
    /// deployment pipeline's `kubectl rollout status` fails on it.
    pub on_progress_deadline: bool,
}

// ---------------------------------------------------------------------------------------------
// Simulated Prometheus: what `spec.monitoring`, ServiceMonitors and PrometheusRules say.

use super::promql::Query;
use std::collections::BTreeMap;

/// How pods' labelled counter series come into being.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterInit {
    /// A series exists from its first increment (what `promhttp` and Envoy do for labelled
    /// counters such as `status="500"`): an error series appears with the first error, and
    /// `rate()` sees it only from its second scrape.
    #[default]
    Lazy,
    /// Every status series (`200`, `500`, `503`, `504`) is exported as 0 from the pod's start.
    Zero,
}

/// What happens when an alert fires (after Alertmanager's `group_wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertAction {
    /// An automated abort or undo, as a deployment pipeline wired to Alertmanager does.
    Rollback,
    /// A page: the on-call engineer rolls back after `rollback.manual.after`.
    Page,
    /// Recorded, nothing else.
    None,
}

/// `spec.monitoring.onAlert[]`: which alert triggers what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRoute {
    /// The alert name (`alert:` of a rule); `*` matches every alert.
    pub alert: String,
    pub action: AlertAction,
}

/// One `alert:` rule of a PrometheusRule group.
#[derive(Clone, Debug)]
pub struct AlertingRule {
    pub name: String,
    pub expr: Query,
    /// `for` (default 0).
    pub for_: SimTime,
    /// `keep_firing_for` (default 0).
    pub keep_firing_for: SimTime,
    /// `labels` (e.g. `severity: critical`).
    pub labels: BTreeMap<String, String>,
}

/// One `record:` rule of a PrometheusRule group.
#[derive(Clone, Debug)]
pub struct RecordingRule {
    /// The new metric name.
    pub record: String,
    pub expr: Query,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

/// One group of a `monitoring.coreos.com/v1 PrometheusRule`; its rules are evaluated in order
/// at each evaluation, as Prometheus does.
#[derive(Clone, Debug)]
pub struct RuleGroup {
    /// `PrometheusRule/NAME`, the object the group came from (for the trace).
    pub object: String,
    /// `spec.groups[].name`.
    pub name: String,
    /// The group's `interval`, else `spec.monitoring.evaluationInterval`.
    pub interval: SimTime,
    pub rules: Vec<Rule>,
}

/// `spec.monitoring` of the Simulation, the ServiceMonitors and the PrometheusRules.
#[derive(Clone, Debug)]
pub struct Monitoring {
    /// How often each pod is scraped: a ServiceMonitor endpoint's `interval` for the Service
    /// that selects the pods, else `spec.monitoring.scrapeInterval` (default 15s).
    pub scrape_interval: SimTime,
    /// `spec.monitoring.scrapeOffset`: every target's phase within the interval; `None`:
    /// drawn per target, uniform as Prometheus's hash spreads them.
    pub scrape_offset: Option<SimTime>,
    /// `spec.monitoring.evaluationOffset`: every group's phase; `None`: drawn per group.
    pub evaluation_offset: Option<SimTime>,
    pub counters: CounterInit,
    /// Alertmanager's route `group_wait` (default 30s): from an alert's first firing to its
    /// notification.
    pub group_wait: SimTime,
    pub groups: Vec<RuleGroup>,
    /// In order; the first route whose `alert` matches decides. Without routes, every alert
    /// pages.
    pub on_alert: Vec<AlertRoute>,
    /// How targets are labelled: the first ServiceMonitor or PodMonitor that selects the
    /// release, else the `kubernetes-pods` job. Read and checked; not yet applied to the
    /// simulated series.
    pub scrape_config: super::targets::ScrapeConfig,
}

impl Monitoring {
    /// What an alert named `alert` triggers.
    pub fn action_for(&self, alert: &str) -> AlertAction {
        if self.on_alert.is_empty() {
            return AlertAction::Page;
        }
        self.on_alert
            .iter()
            .find(|r| r.alert == alert || r.alert == "*")
            .map_or(AlertAction::None, |r| r.action)
    }
}
