//! Rule evaluation: each PrometheusRule group runs on its own schedule (`interval`, with a
//! per-group phase), evaluating its rules in order at each slot, as Prometheus's rule manager
//! does. A recording rule writes its result into the store at the slot's time, visible to the
//! rules after it; an alerting rule updates one [`AlertState`] per label set of its result.
//! Pending and firing alerts are also written as `ALERTS{alertname, alertstate, …}` series.
//!
//! An evaluation error (e.g. two series with one label set after an aggregation) skips that
//! rule at that slot, as Prometheus logs and moves on.

use super::alert::{AlertState, RuleTiming, Schedule, Transition};
use super::promql::{Labels, METRIC_NAME, Query, Store, Value};
use super::rate::Sample;
use super::spec::{Rule, RuleGroup};
use crate::engine::SimTime;
use std::collections::BTreeMap;

/// One alert state change.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertChange {
    /// Index of the alerting rule among all alerting rules, in file order.
    pub alert: usize,
    /// The alert's labels: the result series' (without `__name__`), the rule's, and
    /// `alertname`.
    pub labels: Labels,
    pub transition: Transition,
    /// The series' value at this evaluation (`NaN` when it is no longer in the result).
    pub value: f64,
}

/// What the engine knows of one alerting rule.
#[derive(Clone, Debug)]
pub struct AlertInfo {
    /// `PrometheusRule/NAME/ALERT`.
    pub object: String,
    pub name: String,
    pub group: usize,
    pub severity: Option<String>,
    /// The compared side and threshold of `LHS op NUMBER`, for the timeline.
    pub threshold: Option<(Query, &'static str, f64)>,
}

struct GroupRun {
    schedule: Schedule,
    next: SimTime,
    /// Per rule of the group: the index among alerting rules (None for a recording rule).
    alert_index: Vec<Option<usize>>,
}

pub struct RuleEngine {
    groups: Vec<RuleGroup>,
    runs: Vec<GroupRun>,
    alerts: Vec<AlertInfo>,
    /// Per alerting rule, its alerts by label set.
    states: Vec<BTreeMap<Labels, AlertState>>,
    alerts_series: bool,
}

impl RuleEngine {
    /// `offsets[g]` is group g's phase; every group first evaluates at its first slot
    /// strictly after `start` (Prometheus starting then).
    pub fn new(groups: &[RuleGroup], offsets: &[SimTime], start: SimTime) -> Self {
        let mut alerts = Vec::new();
        let mut runs = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let schedule = Schedule::new(group.interval, offsets[g] % group.interval);
            let mut alert_index = Vec::new();
            for rule in &group.rules {
                match rule {
                    Rule::Alerting(a) => {
                        alert_index.push(Some(alerts.len()));
                        alerts.push(AlertInfo {
                            object: format!("{}/{}", group.object, a.name),
                            name: a.name.clone(),
                            group: g,
                            severity: a.labels.get("severity").cloned(),
                            threshold: a.expr.threshold(),
                        });
                    }
                    Rule::Recording(_) => alert_index.push(None),
                }
            }
            runs.push(GroupRun { schedule, next: schedule.after(start), alert_index });
        }
        let states = vec![BTreeMap::new(); alerts.len()];
        RuleEngine { groups: groups.to_vec(), runs, alerts, states, alerts_series: true }
    }

    pub fn alerts(&self) -> &[AlertInfo] {
        &self.alerts
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The next evaluation of any group.
    pub fn next_evaluation(&self) -> Option<SimTime> {
        self.runs.iter().map(|r| r.next).min()
    }

    /// Whether group `group` evaluated at `now` (its last slot; call after
    /// [`RuleEngine::evaluate_due`]).
    pub fn evaluated_at(&self, group: usize, now: SimTime) -> bool {
        let r = &self.runs[group];
        r.next == now + r.schedule.interval
    }

    /// Whether any alert of rule `alert` is firing.
    pub fn firing(&self, alert: usize) -> bool {
        self.states[alert].values().any(AlertState::is_firing)
    }

    /// The state of rule `alert`, the most advanced over its label sets: `firing`,
    /// `pending` or `inactive` (as `ALERTS{alertstate}` and the timeline name them).
    pub fn state(&self, alert: usize) -> &'static str {
        if self.firing(alert) {
            "firing"
        } else if self.states[alert].values().any(AlertState::is_pending) {
            "pending"
        } else {
            "inactive"
        }
    }

    /// Evaluates every group due at `now`, appending alert changes to `changes`.
    pub fn evaluate_due(&mut self, now: SimTime, store: &mut Store, changes: &mut Vec<AlertChange>) {
        for g in 0..self.runs.len() {
            if self.runs[g].next != now {
                continue;
            }
            self.runs[g].next = now + self.runs[g].schedule.interval;
            for r in 0..self.groups[g].rules.len() {
                match &self.groups[g].rules[r] {
                    Rule::Recording(rule) => {
                        let Ok(value) = rule.expr.eval_instant(store, now) else { continue };
                        let samples: Vec<(Labels, f64)> = match value {
                            Value::Scalar(v) => vec![(Labels::new(), v)],
                            Value::Vector(v) => v,
                        };
                        for (mut labels, v) in samples {
                            labels.insert(METRIC_NAME.into(), rule.record.clone());
                            for (k, val) in &rule.labels {
                                labels.insert(k.clone(), val.clone());
                            }
                            let id = store.series_id(labels);
                            if store.get(id).samples.last().is_none_or(|s| s.t < now) {
                                store.push(id, Sample::new(now, v));
                            }
                        }
                    }
                    Rule::Alerting(rule) => {
                        let a = self.runs[g].alert_index[r].expect("an alerting rule");
                        let Ok(Value::Vector(result)) = rule.expr.eval_instant(store, now) else { continue };
                        let timing = RuleTiming { for_: rule.for_, keep_firing_for: rule.keep_firing_for };
                        let mut active: BTreeMap<Labels, f64> = BTreeMap::new();
                        for (mut labels, v) in result {
                            labels.remove(METRIC_NAME);
                            for (k, val) in &rule.labels {
                                labels.insert(k.clone(), val.clone());
                            }
                            labels.insert("alertname".into(), rule.name.clone());
                            active.insert(labels, v);
                        }
                        let states = &mut self.states[a];
                        // Alerts no longer in the result, then those in it.
                        let absent: Vec<Labels> =
                            states.keys().filter(|l| !active.contains_key(*l)).cloned().collect();
                        for labels in absent {
                            let state = states.get_mut(&labels).expect("present");
                            let transition = state.eval(now, false, &timing);
                            if *state == AlertState::Inactive {
                                states.remove(&labels);
                            }
                            if transition != Transition::Unchanged {
                                changes.push(AlertChange { alert: a, labels, transition, value: f64::NAN });
                            }
                        }
                        for (labels, v) in active {
                            let state = states.entry(labels.clone()).or_default();
                            let transition = state.eval(now, true, &timing);
                            if transition != Transition::Unchanged {
                                changes.push(AlertChange { alert: a, labels, transition, value: v });
                            }
                        }
                        if self.alerts_series {
                            for (labels, state) in states.iter() {
                                let alertstate = match state {
                                    AlertState::Pending { .. } => "pending",
                                    AlertState::Firing { .. } => "firing",
                                    _ => continue,
                                };
                                let mut l = labels.clone();
                                l.insert(METRIC_NAME.into(), "ALERTS".into());
                                l.insert("alertstate".into(), alertstate.into());
                                let id = store.series_id(l);
                                if store.get(id).samples.last().is_none_or(|s| s.t < now) {
                                    store.push(id, Sample::new(now, 1.0));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
