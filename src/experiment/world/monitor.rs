//! Simulated monitoring in the world: pods become scrape targets when their container first
//! starts, Prometheus scrapes them and evaluates the PrometheusRules' groups on their own
//! schedules, and a firing alert reaches Alertmanager, which notifies after `group_wait`.
//! What a notification triggers (an automated rollback, a page, nothing) is
//! `spec.monitoring.onAlert`.

use super::*;
use crate::controllers::argo::spec::pod_template_hash;
use crate::scenario::{AlertAction, Rule, Strategy};
use crate::telemetry::alert::Transition;
use crate::telemetry::promql::Query;
use crate::telemetry::rules::{AlertChange, RuleEngine};
use crate::telemetry::scrape::{Families, PodSnapshot, Prometheus, TargetInfo};

pub(super) struct Monitor {
    pub(super) prom: Prometheus,
    pub(super) rules: RuleEngine,
    changes: Vec<AlertChange>,
    /// The scrape event scheduled, if any.
    scrape_at: Option<SimTime>,
    /// Per alerting rule: Alertmanager was told (its group's first notification is set).
    notified: Vec<bool>,
    /// Firing transitions, over all alerts.
    pub(super) alerts_fired: u64,
}

/// Every query the scenario's monitoring and analyses run.
pub(super) fn scenario_queries(sc: &Scenario) -> Vec<&Query> {
    let mut out = Vec::new();
    for g in &sc.monitoring.groups {
        for r in &g.rules {
            out.push(match r {
                Rule::Alerting(a) => &a.expr,
                Rule::Recording(r) => &r.expr,
            });
        }
    }
    match &sc.strategy {
        Strategy::Rollout(r) => {
            let a = &r.analyses;
            let runs = a
                .steps
                .values()
                .chain(a.background.as_ref().map(|(run, _)| run))
                .chain(a.pre_promotion.as_ref())
                .chain(a.post_promotion.as_ref());
            for run in runs {
                for m in &run.metrics {
                    match &m.provider {
                        crate::scenario::MetricProvider::Prometheus { query } => out.push(query),
                        crate::scenario::MetricProvider::Kayenta(k) => {
                            for (e, c) in &k.queries {
                                out.extend([e, c]);
                            }
                        }
                    }
                }
            }
        }
        Strategy::Flagger(r) => out.extend(r.checks.iter().filter_map(|c| c.query.as_ref())),
        _ => {}
    }
    out
}

impl Monitor {
    pub(super) fn new(sc: &Scenario, seed: u64, all_families: bool) -> Option<Self> {
        let families = if all_families { Families::all() } else { Families::needed_by(scenario_queries(sc)) };
        if !families.any() && sc.monitoring.groups.is_empty() {
            return None;
        }
        let m = &sc.monitoring;
        let mut rng = SimRng::new(seed, Stream::Monitoring);
        let offsets: Vec<SimTime> = m
            .groups
            .iter()
            .map(|g| match m.evaluation_offset {
                Some(o) => o % g.interval,
                // Whole seconds, like the scrapes (a uniform phase, alerting.md §4.2).
                None => rng.below((g.interval / SECOND).max(1)) * SECOND % g.interval,
            })
            .collect();
        let rules = RuleEngine::new(&m.groups, &offsets, 0);
        let n_alerts = rules.alerts().len();
        let prom = Prometheus::new(families, m.counters, m.scrape_interval, m.scrape_offset, rng)
            .with_horizon(sc.duration);
        Some(Monitor {
            prom,
            rules,
            changes: Vec::new(),
            scrape_at: None,
            notified: vec![false; n_alerts],
            alerts_fired: 0,
        })
    }
}

impl World<'_> {
    /// Who pod `pod` is to Prometheus.
    fn target_info(&self, pod: u32) -> TargetInfo {
        let sc = self.sc;
        let p = &self.cluster.pods[pod as usize];
        let w = self.rs_owner[p.rs as usize] as usize;
        let workload = &self.workloads[w];
        let manifest = if w == 0 { &sc.deployment } else { release::new_manifest(sc) };
        let mut labels = manifest.template_labels.clone();
        let image = self.image_of_template(p.template);
        let selecting: Vec<&str> = sc
            .services
            .iter()
            .filter(|s| s.selects(&manifest.namespace, &labels))
            .map(|s| s.name.as_str())
            .collect();
        let mut service = selecting.first().map_or_else(|| workload.name.clone(), |s| s.to_string());
        match &sc.strategy {
            Strategy::Rollout(_) => {
                labels.insert("rollouts-pod-template-hash".into(), pod_template_hash(image));
                // Argo's stable and canary Services share the selector (Argo adds the hash):
                // the canary's pods are reached through the canary Service.
                let canary = p.template == NEW;
                if let Some(s) = selecting.iter().find(|s| s.contains("canary") == canary) {
                    service = s.to_string();
                }
            }
            Strategy::Flagger(r) => {
                // Flagger's primary runs a copy of the target whose selector labels carry the
                // `-primary` suffix; its Services are `<target>-primary` and `<target>-canary`.
                if w == 0 {
                    for v in labels.values_mut() {
                        if *v == r.spec.target {
                            *v = r.spec.primary_name();
                        }
                    }
                    service = r.spec.primary_name();
                } else {
                    service = format!("{}-canary", r.spec.target);
                }
            }
            _ => {}
        }
        let pod_name =
            format!("{}-{}", self.rs_names[p.rs as usize], name_hash(&pod.to_le_bytes(), self.seed, 5));
        // Kubernetes label names become Prometheus label names as the usual `labelmap`
        // relabelling leaves them: every character outside [a-zA-Z0-9_] becomes `_`.
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect(), v))
            .collect();
        TargetInfo {
            pod: pod_name,
            namespace: manifest.namespace.clone(),
            labels,
            workload: workload.name.clone(),
            service,
        }
    }

    /// A container started: a new target, or a restart that resets its counters.
    pub(super) fn monitor_started(&mut self, now: SimTime, pod: u32, first: bool) {
        if self.monitor.is_none() {
            return;
        }
        let counts = self.traffic.pod_status_counts(pod);
        let info = if first { Some(self.target_info(pod)) } else { None };
        let m = self.monitor.as_mut().expect("checked");
        match info {
            Some(info) => m.prom.add_target(pod, info, counts, now),
            None => m.prom.restarted(pod, counts, now),
        }
        self.schedule_scrape();
    }

    pub(super) fn monitor_stopped(&mut self, pod: u32) {
        if let Some(m) = &mut self.monitor {
            m.prom.stopped(pod);
        }
    }

    pub(super) fn monitor_gone(&mut self, pod: u32) {
        if let Some(m) = &mut self.monitor {
            m.prom.remove_target(pod);
        }
    }

    /// Makes sure the next scrape is scheduled.
    pub(super) fn schedule_scrape(&mut self) {
        let Some(m) = &mut self.monitor else { return };
        let Some(next) = m.prom.next_scrape() else { return };
        if m.scrape_at.is_none_or(|at| next < at) {
            m.scrape_at = Some(next);
            self.queue.schedule(next, Event::Scrape);
        }
    }

    pub(super) fn on_scrape(&mut self, now: SimTime) {
        let Some(m) = &mut self.monitor else { return };
        if m.scrape_at != Some(now) {
            return; // superseded by an earlier one
        }
        m.scrape_at = None;
        let traffic = &self.traffic;
        let timeout = traffic.timeout();
        m.prom.scrape_due(
            now,
            |pod| PodSnapshot { counts: traffic.pod_status_counts(pod), timeout },
            |pod, t| traffic.pod_latency(pod, t),
        );
        self.schedule_scrape();
    }

    /// The first rule evaluation, if there are rules.
    pub(super) fn schedule_first_evaluation(&mut self) {
        if let Some(next) = self.monitor.as_ref().and_then(|m| m.rules.next_evaluation()) {
            self.queue.schedule(next, Event::RuleEval);
        }
    }

    pub(super) fn on_rule_eval(&mut self, now: SimTime) {
        let Some(m) = &mut self.monitor else { return };
        if m.rules.next_evaluation() != Some(now) {
            return;
        }
        let mut changes = std::mem::take(&mut m.changes);
        changes.clear();
        m.rules.evaluate_due(now, &mut m.prom.store, &mut changes);
        if self.collect.timeline {
            let time_s = (i128::from(now) - i128::from(self.sc.release.at)) as f64 / SECOND as f64;
            for (alert, info) in m.rules.alerts().iter().enumerate() {
                // Only the alerts of the groups that just evaluated.
                let Some((lhs, _, threshold)) = &info.threshold else { continue };
                if !m.rules.evaluated_at(info.group, now) {
                    continue;
                }
                let value = match lhs.eval_instant(&m.prom.store, now) {
                    Ok(crate::telemetry::promql::Value::Scalar(x)) => x,
                    Ok(crate::telemetry::promql::Value::Vector(v)) => {
                        v.iter().map(|(_, x)| *x).fold(f64::NAN, f64::max)
                    }
                    Err(_) => f64::NAN,
                };
                self.timeline.push(TimelineRow {
                    time_s,
                    version: info.object.clone(),
                    pods_desired: 0,
                    pods_ready: 0,
                    traffic_share: 0.0,
                    intended_share: 0.0,
                    request_rps: 0.0,
                    error_rps: 0.0,
                    alert_value: (!value.is_nan()).then_some(value),
                    alert_threshold: Some(*threshold),
                    alert_state: Some(m.rules.state(alert)),
                });
            }
        }
        if let Some(next) = m.rules.next_evaluation() {
            self.queue.schedule(next, Event::RuleEval);
        }
        for change in &changes {
            self.on_alert_change(now, change);
        }
        if let Some(m) = &mut self.monitor {
            m.changes = changes;
        }
    }

    fn on_alert_change(&mut self, now: SimTime, change: &AlertChange) {
        let m = self.monitor.as_mut().expect("monitoring");
        let info = &m.rules.alerts()[change.alert];
        let (object, name) = (info.object.clone(), info.name.clone());
        let value = change.value;
        let (reason, message) = match change.transition {
            Transition::Pending => {
                ("AlertPending", format!("{name} is pending (value {})", fmt_value(value)))
            }
            Transition::Fired => {
                m.alerts_fired += u64::from(now >= self.sc.release.at);
                ("AlertFiring", format!("{name} fires (value {})", fmt_value(value)))
            }
            Transition::Resolved => ("AlertResolved", format!("{name} is resolved")),
            Transition::PendingDropped => {
                ("AlertInactive", format!("{name} is no longer pending: its condition went away"))
            }
            Transition::KeptFiring => ("AlertKeptFiring", format!("{name} keeps firing (keep_firing_for)")),
            Transition::Unfired => ("AlertPending", format!("{name} is pending again")),
            Transition::Forgotten | Transition::Unchanged => return,
        };
        if self.collect.trace {
            let labels: Vec<String> = change
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname")
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let message =
                if labels.is_empty() { message } else { format!("{message} {{{}}}", labels.join(", ")) };
            self.log(now, object, reason, message);
        }
        if change.transition != Transition::Fired {
            return;
        }
        let action = self.sc.monitoring.action_for(&name);
        // Alerts about the old version before the release start nothing: the question is
        // what the release's alerts lead to.
        if action == AlertAction::None || now < self.sc.release.at {
            return;
        }
        if self.detected_at.is_none() {
            self.detect(
                now,
                format!("alert:{name}"),
                format!("alert {name} fires (value {})", fmt_value(value)),
            );
        }
        let m = self.monitor.as_mut().expect("monitoring");
        if !m.notified[change.alert] {
            m.notified[change.alert] = true;
            let at = crate::telemetry::alert::first_notification(now, now, self.sc.monitoring.group_wait);
            self.queue.schedule(at, Event::Notify(change.alert as u16));
        }
    }

    /// Alertmanager notifies: the alert's action runs.
    pub(super) fn on_notify(&mut self, now: SimTime, alert: usize) {
        let Some(m) = &self.monitor else { return };
        let name = m.rules.alerts()[alert].name.clone();
        let action = self.sc.monitoring.action_for(&name);
        match action {
            AlertAction::None => {}
            AlertAction::Page => {
                self.log(
                    now,
                    "Alertmanager".to_string(),
                    "Notified",
                    format!(
                        "{name}: group_wait {} has passed; the on-call engineer is paged",
                        format_duration(self.sc.monitoring.group_wait)
                    ),
                );
                self.page(now);
            }
            AlertAction::Rollback => {
                self.log(
                    now,
                    "Alertmanager".to_string(),
                    "Notified",
                    format!(
                        "{name}: group_wait {} has passed; the pipeline rolls back",
                        format_duration(self.sc.monitoring.group_wait)
                    ),
                );
                if now >= self.sc.release.at {
                    self.undo(now);
                }
            }
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() { "none".to_string() } else { format!("{v:.4}") }
}
