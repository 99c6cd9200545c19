//! `rollsim trace --explain`: one replication's event log told as a story in plain English,
//! one line per decision, each with the rule that made it.
//!
//! The narrator reads the very events the plain trace prints ([`TraceEvent`]) and the
//! [`Scenario`] the controllers were built from, and replays the state the log implies (the
//! size of every ReplicaSet, which pods are Ready, when an alert went pending, when someone
//! was paged, how many analysis measurements failed). Arithmetic it shows (maxSurge rounded
//! up, maxUnavailable rounded down, the room under `replicas + maxSurge`, a canary sized to
//! its weight) is computed with the controllers' own functions and printed only when it
//! reproduces the step that the log records; otherwise the line states the rule without
//! numbers. Pod lifecycle steps that are no decision (Scheduled, Pulled, Started,
//! PodNotReady) are left to the plain trace.

use crate::controllers::argo::spec::{CanaryStep, RolloutStrategy};
use crate::controllers::rolling;
use crate::controllers::spec::{DeploymentManifest, DeploymentStrategy, IntOrPercent};
use crate::engine::{DurationDist, SimTime, format_clock};
use crate::experiment::record::TraceEvent;
use crate::scenario::units::format_duration;
use crate::scenario::{Scenario, Strategy};
use crate::telemetry::spec::{AlertAction, AlertingRule, Rule};
use std::collections::{BTreeMap, BTreeSet};

/// The story of one replication's events: one line `t=MM:SS sentence` per decision, in the
/// log's order, each ending in `\n`.
pub fn explain_trace(sc: &Scenario, events: &[TraceEvent]) -> String {
    let mut n = Narrator::new(sc);
    let mut out = String::new();
    for e in events {
        if let Some(sentence) = n.narrate(e) {
            out.push_str("t=");
            out.push_str(&format_clock(e.time));
            out.push(' ');
            out.push_str(&sentence.replace(['\n', '\r'], " "));
            out.push('\n');
        }
    }
    out
}

/// What the log has shown so far.
struct Narrator<'a> {
    sc: &'a Scenario,
    /// `spec.replicas` of every ReplicaSet, by name, as its ScalingReplicaSet lines left it.
    rs_size: BTreeMap<String, i64>,
    /// The workload (`Deployment/myapp`) each ReplicaSet belongs to.
    rs_owner: BTreeMap<String, String>,
    /// The ReplicaSet each workload is rolling towards (set by its first scale-up after a
    /// template change or an undo).
    new_rs: BTreeMap<String, String>,
    /// Workloads whose next scale-up creates or picks their new ReplicaSet.
    expect_new: BTreeSet<String>,
    /// Pods seen starting, crashing or losing readiness that are not Ready (a pod the log
    /// never mentions has been Ready since before the release).
    unready: BTreeSet<String>,
    /// The Rollout aborted and has not been updated or undone since.
    aborted: bool,
    /// The release's template change has been seen.
    released: bool,
    /// A rollback has started.
    rolling_back: bool,
    /// When each alert (object and labels) went pending.
    pending_since: BTreeMap<String, SimTime>,
    /// When the on-call engineer was paged, and by which alert.
    paged: Option<(SimTime, String)>,
    /// The pipeline rolls back (an alert routed to `rollback` was notified).
    pipeline_rollback: Option<SimTime>,
    /// When the release was first detected.
    detected: Option<SimTime>,
    /// The Rollout's current canary step index.
    step: usize,
    /// Measurements so far per (run, metric): (taken, failed, consecutive errors).
    measured: BTreeMap<(String, String), (u32, u32, u32)>,
    /// Flagger's analysis is past its first check (an `Advance` before it is the first step).
    flagger_advances: u32,
}

impl<'a> Narrator<'a> {
    fn new(sc: &'a Scenario) -> Self {
        Narrator {
            sc,
            rs_size: BTreeMap::new(),
            rs_owner: BTreeMap::new(),
            new_rs: BTreeMap::new(),
            expect_new: BTreeSet::new(),
            unready: BTreeSet::new(),
            aborted: false,
            released: false,
            rolling_back: false,
            pending_since: BTreeMap::new(),
            paged: None,
            pipeline_rollback: None,
            detected: None,
            step: 0,
            measured: BTreeMap::new(),
            flagger_advances: 0,
        }
    }

    fn narrate(&mut self, e: &TraceEvent) -> Option<String> {
        let (kind, name) = e.object.split_once('/').unwrap_or((e.object.as_str(), ""));
        let msg = e.message.as_str();
        match (kind, e.reason.as_str()) {
            ("Pod", reason) => self.pod(e.time, name, reason, msg),
            (_, "ScalingReplicaSet") => Some(self.scaling(&e.object, kind, msg)),
            (_, "TemplateChanged") => Some(self.template_changed(&e.object, kind, msg)),
            ("Deployment", "Applied") => {
                self.expect_new.insert(e.object.clone());
                Some(format!("{msg}: the release applies the new version's Deployment next to the old one"))
            }
            (
                "Deployment",
                reason @ ("NewReplicaSetCreated"
                | "FoundNewReplicaSet"
                | "ReplicaSetUpdated"
                | "NewReplicaSetAvailable"),
            ) => Some(self.progressing(&e.object, name, reason)),
            ("Deployment", "DeploymentPaused" | "DeploymentResumed") => Some(format!("{}: {msg}", e.object)),
            (_, "ProgressDeadlineExceeded") => Some(self.deadline(&e.object, name)),
            // Alerts about the old version before the release decide nothing about it.
            ("PrometheusRule", _) if e.time < self.sc.release.at => None,
            ("PrometheusRule", reason) => Some(self.alert(e, reason)),
            ("Alertmanager", "Notified") => Some(self.notified(e.time, msg)),
            ("Simulation", "Detected") => {
                self.detected.get_or_insert(e.time);
                Some(format!(
                    "detection: {msg}; this is the first signal that leads to a rollback (what runs.csv calls detected_at)"
                ))
            }
            ("Simulation", "Mitigated") => Some(match self.detected {
                Some(d) => format!(
                    "{msg}: the bad version is out of the traffic path, {} after detection",
                    human(e.time.saturating_sub(d))
                ),
                None => format!("{msg}: the bad version is out of the traffic path"),
            }),
            (_, "RollbackStarted") => Some(self.rollback_started(e.time, &e.object, kind, msg)),
            (_, "RolledBack") => Some(format!(
                "{msg}: the rollback is complete ({} is the running version)",
                self.sc.release.from_image
            )),
            (_, "RolloutComplete") => Some(self.complete(kind, msg)),
            (_, "TrafficWeight") => Some(self.weight(kind, msg)),
            // The controller's own line after the world's, which names the templates.
            ("Rollout", "AnalysisRunStarted") if msg.ends_with("analysis run started") => None,
            ("Rollout", reason) => Some(self.rollout(e.time, reason, msg)),
            ("Canary", reason) => Some(self.flagger(reason, msg)),
            ("Service", reason) => Some(self.service_switch(reason, msg)),
            _ => Some(format!("{} {}: {msg}", e.object, e.reason)),
        }
    }

    // ---- Deployments and ReplicaSets -------------------------------------------------

    /// The manifest behind a Deployment object, if the scenario has one by that name.
    fn manifest(&self, object: &str) -> Option<&'a DeploymentManifest> {
        let name = object.strip_prefix("Deployment/")?;
        let sc = self.sc;
        let extra = match &sc.strategy {
            Strategy::ServiceSwitch(s) => Some(&s.new_deployment),
            Strategy::Mesh(m) => Some(&m.new_deployment),
            _ => None,
        };
        std::iter::once(&sc.deployment).chain(extra).find(|d| d.name == name)
    }

    fn template_changed(&mut self, object: &str, kind: &str, msg: &str) -> String {
        self.expect_new.insert(object.to_string());
        self.released = true;
        // The ReplicaSet that ran before the release, by its size until the log names it.
        if !self.rs_owner.values().any(|o| o == object) {
            let before = match (&self.sc.strategy, kind) {
                (Strategy::Rollout(r), "Rollout") => Some(r.spec.replicas),
                (Strategy::Deployment, _) => self.manifest(object).map(|d| i64::from(d.replicas)),
                _ => None,
            };
            if let Some(n) = before {
                self.rs_owner.insert(OLD_RS.to_string(), object.to_string());
                self.rs_size.insert(OLD_RS.to_string(), n);
            }
        }
        if kind == "Rollout" {
            self.step = 0;
            self.aborted = false;
            return match self.rollout_strategy() {
                Some(RolloutStrategy::Canary(c)) => format!(
                    "{msg}; Argo Rollouts starts the canary at step 1 of {} ({})",
                    c.steps.len(),
                    describe_steps(&c.steps)
                ),
                Some(RolloutStrategy::BlueGreen(b)) => format!(
                    "{msg}; Argo Rollouts brings up a preview ReplicaSet of {} pods{} while {} keeps serving",
                    b.preview_replica_count.unwrap_or(self.replicas()),
                    match &b.preview_service {
                        Some(p) => format!(" behind the preview Service {p}"),
                        None => " (no previewService: nothing sends it traffic before promotion)".to_string(),
                    },
                    b.active_service
                ),
                None => msg.to_string(),
            };
        }
        if let Strategy::Flagger(f) = &self.sc.strategy {
            return format!(
                "{msg}; Flagger notices the new revision of {} and will test it as the canary while {} serves",
                f.spec.target,
                f.spec.primary_name()
            );
        }
        match self.manifest(object).map(|d| (d, &d.strategy)) {
            Some((d, s @ DeploymentStrategy::RollingUpdate { max_surge, max_unavailable })) => {
                let r = i64::from(d.replicas);
                format!(
                    "{msg}; the Deployment controller rolls it out with RollingUpdate: maxSurge {} of {r} rounds up to {}, maxUnavailable {} of {r} rounds down to {}, so at most {} pods exist and at least {} stay available",
                    int_or_percent(*max_surge),
                    rolling::max_surge(s, r),
                    int_or_percent(*max_unavailable),
                    rolling::max_unavailable(s, r),
                    r + rolling::max_surge(s, r),
                    rolling::min_available(s, r)
                )
            }
            Some((_, DeploymentStrategy::Recreate)) => format!(
                "{msg}; the Deployment's strategy is Recreate: every old pod is stopped before any new one starts"
            ),
            None => msg.to_string(),
        }
    }

    fn scaling(&mut self, object: &str, kind: &str, msg: &str) -> String {
        let Some((rs, from, to)) = parse_scaling(msg) else {
            return format!("{object}: {msg}");
        };
        // The sizes before this step, over the workload's ReplicaSets.
        let total_before: i64 = self
            .rs_owner
            .iter()
            .filter(|(_, o)| o.as_str() == object)
            .map(|(r, _)| self.rs_size.get(r).copied().unwrap_or(0))
            .sum();
        if !self.rs_owner.contains_key(&rs)
            && to < from
            && self.rs_owner.get(OLD_RS).is_some_and(|o| o == object)
            && self.rs_size.get(OLD_RS) == Some(&from)
        {
            // The log names the ReplicaSet that ran before the release.
            self.rs_owner.remove(OLD_RS);
            self.rs_size.remove(OLD_RS);
        }
        self.rs_owner.insert(rs.clone(), object.to_string());
        if to > from && self.expect_new.remove(object) {
            self.new_rs.insert(object.to_string(), rs.clone());
        }
        let is_new = self.new_rs.get(object) == Some(&rs);
        let new_spec_before = self.new_rs.get(object).and_then(|n| self.rs_size.get(n)).copied().unwrap_or(0);
        let new_ready = self.new_rs.get(object).map_or(0, |n| self.ready_in(n));
        self.rs_size.insert(rs.clone(), to);
        let verb = if to > from { "up" } else { "down" };
        let head = format!("{object} scales ReplicaSet {rs} {verb} from {from} to {to}");
        let role = if is_new { "new" } else { "old" };

        if kind == "Rollout" {
            return format!("{head}: {}", self.rollout_sizing(is_new, to));
        }
        if let Strategy::Flagger(f) = &self.sc.strategy
            && object.strip_prefix("Deployment/") == Some(f.spec.target.as_str())
            && to == 0
        {
            return format!(
                "{head}: Flagger keeps the canary Deployment {} at 0 pods outside an analysis",
                f.spec.target
            );
        }
        let Some(d) = self.manifest(object) else {
            return format!("{head} ({role} ReplicaSet)");
        };
        if matches!(self.sc.strategy, Strategy::ServiceSwitch(_) | Strategy::Mesh(_)) && to < from {
            // The release scaled the whole Deployment down (its spec.replicas); no rolling
            // update is under way, so maxUnavailable plays no part.
            return format!(
                "{head}: the release set the Deployment's replicas to {to}, so its ReplicaSet follows at once"
            );
        }
        let r = i64::from(d.replicas);
        let s = &d.strategy;
        match s {
            DeploymentStrategy::Recreate if is_new => format!(
                "{head}: Recreate waits until no old pod is left, then gives the new ReplicaSet all {r} replicas at once"
            ),
            DeploymentStrategy::Recreate => {
                format!(
                    "{head}: Recreate first scales every old ReplicaSet to 0, so the app has no pods until the new ones are Ready"
                )
            }
            DeploymentStrategy::RollingUpdate { max_surge, .. } if is_new && to > from => {
                let surge = rolling::max_surge(s, r);
                let max_total = r + surge;
                let want = rolling::new_rs_new_replicas(s, r, total_before, from);
                let rule = format!(
                    "maxSurge {} of {r} rounds up to {surge}, so at most {max_total} pods may exist",
                    int_or_percent(*max_surge)
                );
                if want == to {
                    let room = max_total - total_before;
                    let created =
                        if from == 0 { ", so a new ReplicaSet is created with" } else { ", so it grows to" };
                    if room >= r - from {
                        format!(
                            "{head}: {rule}; {total_before} exist and only {} more are wanted{created} {to} pods",
                            r - from
                        )
                    } else {
                        format!(
                            "{head}: {rule}; {total_before} exist, leaving room for {room}{created} {to} pods"
                        )
                    }
                } else {
                    format!("{head}: the new ReplicaSet grows within {rule}")
                }
            }
            DeploymentStrategy::RollingUpdate { max_unavailable, .. } if !is_new && to < from => {
                let unavailable = rolling::max_unavailable(s, r);
                let min_avail = r - unavailable;
                let rule = format!(
                    "maxUnavailable {} of {r} rounds down to {unavailable}, so at least {min_avail} pods must stay available",
                    int_or_percent(*max_unavailable)
                );
                let new_unavailable = new_spec_before - new_ready;
                let budget = total_before - min_avail - new_unavailable;
                let exact = d.min_ready_seconds == 0 && (budget == from - to || (to == 0 && budget >= from));
                if exact {
                    format!(
                        "{head}: {rule}; of {total_before} pods {new_unavailable} new ones are not yet available, so {total_before} − {min_avail} − {new_unavailable} = {budget} old ones may go"
                    )
                } else {
                    format!("{head}: {rule}, counting the new pods that are available")
                }
            }
            _ if to == 0 => format!("{head}: its Deployment no longer wants these pods"),
            _ => format!("{head} ({role} ReplicaSet, towards {r} replicas)"),
        }
    }

    /// Why a Rollout's ReplicaSet has the size it has now.
    fn rollout_sizing(&self, is_new: bool, to: i64) -> String {
        let r = self.replicas();
        if self.aborted && is_new && to == 0 {
            return "after the abort's scale-down delay the canary ReplicaSet goes to 0".to_string();
        }
        if self.aborted && !is_new && matches!(self.rollout_strategy(), Some(RolloutStrategy::Canary(_))) {
            return format!(
                "after the abort the stable ReplicaSet is brought back towards all {r} replicas ({to} now)"
            );
        }
        match self.rollout_strategy() {
            Some(RolloutStrategy::Canary(c)) => {
                // Past the last step the Rollout promotes the canary fully: 100%, whatever
                // the last setWeight said.
                let done = self.step >= c.steps.len();
                let w = if done { 100 } else { current_weight(&c.steps, self.step) };
                let why = if done {
                    "every step is done, so the Rollout promotes the canary to 100%".to_string()
                } else {
                    format!("setWeight {w} (step {} of {})", self.step + 1, c.steps.len())
                };
                let role = if is_new { "canary" } else { "stable" };
                if c.traffic_routing {
                    let want = (w * r + 99) / 100;
                    if is_new && want == to {
                        format!("with trafficRouting the canary gets ceil({w}% × {r}) = {to} pods for {why}")
                    } else if !is_new && to == r {
                        format!(
                            "the stable ReplicaSet keeps all {r} pods while the router shifts the traffic"
                        )
                    } else {
                        format!("the {role} ReplicaSet follows the Rollout's {why} and the router's weights")
                    }
                } else {
                    format!(
                        "without a traffic router the weight is a share of pods: for {why} the canary is to be {w}% of the {r} replicas and the stable the rest, reached within maxSurge {} and maxUnavailable {}",
                        int_or_percent(c.max_surge),
                        int_or_percent(c.max_unavailable)
                    )
                }
            }
            Some(RolloutStrategy::BlueGreen(b)) => {
                if to == 0 {
                    "the ReplicaSet the active Service no longer selects is scaled down once its scaleDownDelaySeconds is over".to_string()
                } else if is_new && self.rs_size.values().filter(|&&n| n > 0).count() <= 1 {
                    format!("the ReplicaSet the active Service selects grows to replicas: {r}")
                } else if is_new {
                    format!(
                        "the preview ReplicaSet is sized to {}: {}",
                        match b.preview_replica_count {
                            Some(_) => "previewReplicaCount",
                            None => "replicas (no previewReplicaCount)",
                        },
                        b.preview_replica_count.unwrap_or(r)
                    )
                } else {
                    format!("the active ReplicaSet is sized to replicas: {r}")
                }
            }
            None => String::new(),
        }
    }

    fn progressing(&self, object: &str, name: &str, reason: &str) -> String {
        let deadline = self
            .manifest(object)
            .and_then(|d| d.progress_deadline_seconds)
            .map(|s| {
                format!("; progressDeadlineSeconds {s}: the deadline restarts with every bit of progress")
            })
            .unwrap_or_default();
        match reason {
            "NewReplicaSetCreated" => {
                format!(
                    "{object} reports Progressing=True (NewReplicaSetCreated): it created a new ReplicaSet{deadline}"
                )
            }
            "FoundNewReplicaSet" => {
                format!(
                    "{object} reports Progressing=True (FoundNewReplicaSet): a ReplicaSet with this template exists already{deadline}"
                )
            }
            "ReplicaSetUpdated" => format!(
                "{object} reports Progressing=True (ReplicaSetUpdated): the update is moving{deadline}"
            ),
            _ => {
                let r = self.manifest(object).map_or(String::new(), |d| format!("all {} ", d.replicas));
                format!(
                    "{object} reports Progressing=True (NewReplicaSetAvailable): {r}pods of the new ReplicaSet of {name} are updated and available"
                )
            }
        }
    }

    fn deadline(&self, object: &str, _name: &str) -> String {
        let secs = match (&self.sc.strategy, object.split_once('/').map(|p| p.0)) {
            (Strategy::Rollout(r), Some("Rollout")) => r.spec.progress_deadline / crate::engine::SECOND,
            _ => u64::from(self.sc.deployment.progress_deadline_seconds.unwrap_or(0)),
        };
        let then = if self.sc.detection.on_progress_deadline {
            "the pipeline's `kubectl rollout status` fails on it (spec.detection.onProgressDeadline)"
        } else {
            "nothing acts on it (spec.detection.onProgressDeadline is false)"
        };
        format!(
            "{object} has made no progress for {secs}s (progressDeadlineSeconds: {secs}): Progressing=False, ProgressDeadlineExceeded; Kubernetes only reports it and does not roll back, and {then}"
        )
    }

    fn complete(&self, kind: &str, msg: &str) -> String {
        match kind {
            "Service" => format!("{msg}: the switch is complete"),
            "VirtualService" => format!("{msg}: the manual canary has reached its last step"),
            _ => format!("{msg}: the release is complete (updated = available = desired replicas)"),
        }
    }

    // ---- Pods ------------------------------------------------------------------------

    /// Ready pods of a ReplicaSet: its size less the pods known not to be Ready.
    fn ready_in(&self, rs: &str) -> i64 {
        let size = self.rs_size.get(rs).copied().unwrap_or(0);
        (size - self.unready.iter().filter(|p| pod_rs(p) == rs).count() as i64).max(0)
    }

    fn pod(&mut self, _now: SimTime, name: &str, reason: &str, msg: &str) -> Option<String> {
        let rs = pod_rs(name).to_string();
        let timing = &self.sc.pods;
        match reason {
            "Scheduled" | "Pulled" | "Started" => {
                self.unready.insert(name.to_string());
                None
            }
            "PodReady" => {
                self.unready.remove(name);
                let manifest =
                    self.rs_owner.get(&rs).and_then(|o| self.manifest(o)).unwrap_or(&self.sc.deployment);
                let probe = match manifest.readiness_probe {
                    Some(p) => format!(
                        "its readiness probe (initialDelaySeconds {}, periodSeconds {}, successThreshold {}) succeeded",
                        p.initial_delay_seconds, p.period_seconds, p.success_threshold
                    ),
                    None => "it has no readiness probe, so it is Ready once its container runs".to_string(),
                };
                let count = match self.rs_size.get(&rs) {
                    Some(s) => format!("; {} of {s} pods of {rs} are Ready", self.ready_in(&rs)),
                    None => String::new(),
                };
                Some(format!("Pod {name} is Ready: {probe}, so it joins the Service's endpoints{count}"))
            }
            "PodNotReady" => {
                self.unready.insert(name.to_string());
                None
            }
            "Killing" => {
                let was_unready = self.unready.remove(name);
                let grace = self.sc.deployment.termination_grace_period_seconds;
                Some(format!(
                    "Pod {name} is deleted by the scale-down{}: SIGTERM; it leaves the endpoints after {} (endpointRemovalDelay), SIGKILL after terminationGracePeriodSeconds {grace}s",
                    if was_unready { " (it was not Ready yet)" } else { "" },
                    format_duration(timing.endpoint_removal_delay)
                ))
            }
            "Crashed" => {
                self.unready.insert(name.to_string());
                Some(format!("Pod {name}: {msg}; the pod is no longer Ready and leaves the endpoints"))
            }
            "BackOff" => Some(format!(
                "Pod {name}: {msg} (CrashLoopBackOff: the first restart is immediate, then 10s doubling per restart up to 5m)"
            )),
            "FailedScheduling" => {
                let req = &self.sc.deployment.requests;
                Some(format!(
                    "Pod {name} cannot be scheduled: no node has {}m CPU and {} MiB free for its requests; it stays Pending until a pod leaves",
                    req.cpu_millis,
                    req.memory_bytes / (1024 * 1024)
                ))
            }
            _ => None,
        }
    }

    // ---- Monitoring --------------------------------------------------------------------

    fn rule(&self, name: &str) -> Option<(&'a AlertingRule, SimTime)> {
        self.sc.monitoring.groups.iter().find_map(|g| {
            g.rules.iter().find_map(|r| match r {
                Rule::Alerting(a) if a.name == name => Some((a, g.interval)),
                _ => None,
            })
        })
    }

    fn alert(&mut self, e: &TraceEvent, reason: &str) -> String {
        let msg = e.message.as_str();
        let name = msg.split_whitespace().next().unwrap_or("").trim_end_matches(':').to_string();
        let labels = msg.find(" {").map_or("", |i| &msg[i + 1..]);
        let key = format!("{}{labels}", e.object);
        let value = between(msg, "(value ", ")").unwrap_or("none").to_string();
        let rule = self.rule(&name);
        let condition = rule
            .and_then(|(a, _)| a.expr.threshold())
            .map(|(_, op, n)| format!("value {value} {op} {}", trim_float(n)))
            .unwrap_or_else(|| format!("value {value}"));
        let every = rule.map_or(String::new(), |(_, i)| format!(", evaluated every {}", format_duration(i)));
        let for_ = rule.map_or(0, |(a, _)| a.for_);
        match reason {
            "AlertPending" => {
                self.pending_since.insert(key, e.time);
                format!(
                    "{name}'s condition holds ({condition}{every}): it is pending and must stay true for {} (for: {}) to fire",
                    format_duration(for_),
                    format_duration(for_)
                )
            }
            "AlertFiring" => {
                let since = self.pending_since.remove(&key);
                let action = match self.sc.monitoring.action_for(&name) {
                    AlertAction::Page => format!(
                        "onAlert: page, so Alertmanager notifies after group_wait {}",
                        format_duration(self.sc.monitoring.group_wait)
                    ),
                    AlertAction::Rollback => format!(
                        "onAlert: rollback, so after group_wait {} the pipeline rolls back",
                        format_duration(self.sc.monitoring.group_wait)
                    ),
                    AlertAction::None => "no onAlert route acts on it".to_string(),
                };
                let before = if e.time < self.sc.release.at {
                    " (before the release, so it starts nothing)"
                } else {
                    ""
                };
                match since {
                    Some(t) if for_ > 0 => format!(
                        "{name} has been true for {} since t={} (for: {}), it fires ({condition}); {action}{before}",
                        human(e.time - t),
                        format_clock(t),
                        format_duration(for_)
                    ),
                    _ => format!(
                        "{name}'s condition holds ({condition}{every}) and the rule has no for, so it fires at once; {action}{before}"
                    ),
                }
            }
            "AlertResolved" => {
                let keep = rule.map_or(0, |(a, _)| a.keep_firing_for);
                let keep = if keep > 0 {
                    format!(" and keep_firing_for {} has run out", format_duration(keep))
                } else {
                    String::new()
                };
                format!("{name}'s condition no longer holds{keep}: the alert resolves")
            }
            "AlertInactive" => {
                self.pending_since.remove(&key);
                format!(
                    "{name}'s condition went away before its for: {} was up; it goes back to inactive",
                    format_duration(for_)
                )
            }
            _ => format!("{}: {msg}", e.object),
        }
    }

    fn notified(&mut self, now: SimTime, msg: &str) -> String {
        let alert = msg.split(':').next().unwrap_or("").to_string();
        let wait = format_duration(self.sc.monitoring.group_wait);
        if msg.contains("paged") {
            self.paged.get_or_insert((now, alert.clone()));
            let human = match self.sc.rollback.manual_after {
                Some(d) => format!("they roll back after {} (rollback.manual.after)", describe_dist(d)),
                None => "nobody is set to roll back (no rollback.manual.after)".to_string(),
            };
            format!(
                "Alertmanager's group_wait of {wait} has passed since {alert} fired; the on-call engineer is paged, and {human}"
            )
        } else {
            self.pipeline_rollback.get_or_insert(now);
            format!(
                "Alertmanager's group_wait of {wait} has passed since {alert} fired; the pipeline wired to it rolls back at once"
            )
        }
    }

    fn rollback_started(&mut self, now: SimTime, object: &str, kind: &str, msg: &str) -> String {
        self.expect_new.insert(object.to_string());
        if kind == "Rollout" {
            // The undo is a new template: the canary steps start again from the first.
            self.step = 0;
        }
        self.aborted = false;
        self.rolling_back = true;
        let who = match (self.paged.as_ref(), self.pipeline_rollback) {
            (_, Some(_)) => "the pipeline acts on the notification".to_string(),
            (Some((t, alert)), None) => format!(
                "the on-call engineer, paged at t={} by {alert}, responds {} later",
                format_clock(*t),
                human(now - t)
            ),
            (None, None) => "someone rolls back".to_string(),
        };
        let rule = match kind {
            "Deployment" => {
                let d = self.manifest(object);
                match d.map(|d| &d.strategy) {
                    Some(DeploymentStrategy::Recreate) => {
                        " (Recreate again: all pods of the bad version go first)".to_string()
                    }
                    Some(_) => {
                        " (the old ReplicaSet becomes the new one; the same maxSurge/maxUnavailable apply)"
                            .to_string()
                    }
                    None => String::new(),
                }
            }
            _ => String::new(),
        };
        format!("{who}: {msg}{rule}")
    }

    fn weight(&self, kind: &str, msg: &str) -> String {
        match kind {
            "VirtualService" => {
                format!("the release sets the VirtualService's route weights: {msg} (release.steps, by hand)")
            }
            "Canary" => format!("Flagger writes the router's weights: {msg}"),
            _ => {
                let canary = between(msg, "canary ", "%").and_then(|w| w.parse::<i64>().ok());
                let why = match self.rollout_strategy() {
                    Some(RolloutStrategy::Canary(c))
                        if self.released
                            && !self.aborted
                            && canary == Some(current_weight(&c.steps, self.step)) =>
                    {
                        format!(
                            " (setWeight {} of step {} of {})",
                            current_weight(&c.steps, self.step),
                            (self.step + 1).min(c.steps.len().max(1)),
                            c.steps.len()
                        )
                    }
                    _ if self.aborted => " (the abort sends all traffic back to stable)".to_string(),
                    _ => String::new(),
                };
                format!("the Rollout writes the traffic router's weights: {msg}{why}")
            }
        }
    }

    // ---- Argo Rollouts -------------------------------------------------------------------

    fn rollout_strategy(&self) -> Option<&'a RolloutStrategy> {
        match &self.sc.strategy {
            Strategy::Rollout(r) => Some(&r.spec.strategy),
            _ => None,
        }
    }

    fn replicas(&self) -> i64 {
        match &self.sc.strategy {
            Strategy::Rollout(r) => r.spec.replicas,
            _ => i64::from(self.sc.deployment.replicas),
        }
    }

    fn rollout(&mut self, now: SimTime, reason: &str, msg: &str) -> String {
        let Strategy::Rollout(ro) = &self.sc.strategy else { return format!("Rollout {reason}: {msg}") };
        let steps: &[CanaryStep] = match &ro.spec.strategy {
            RolloutStrategy::Canary(c) => &c.steps,
            RolloutStrategy::BlueGreen(_) => &[],
        };
        match reason {
            "RolloutUpdated" => format!("the Rollout's status follows the new template: {msg}"),
            "Phase" => format!("the Rollout's phase becomes {}", msg.trim_start_matches("phase ")),
            "RolloutStepCompleted" => {
                if let Some(k) = between(msg, "step ", "/").and_then(|k| k.parse::<usize>().ok()) {
                    self.step = k;
                }
                let next = match steps.get(self.step) {
                    Some(s) => {
                        format!("; next is step {} of {}: {}", self.step + 1, steps.len(), describe_step(s))
                    }
                    None => "; that was the last step".to_string(),
                };
                let done = self.step.checked_sub(1).and_then(|i| steps.get(i));
                let condition = match done {
                    Some(CanaryStep::SetWeight(_)) => "the weight is set and the canary pods are available",
                    Some(CanaryStep::Pause { duration: Some(_) }) => "its pause duration has passed",
                    Some(CanaryStep::Pause { duration: None }) => "the pause was promoted",
                    Some(CanaryStep::SetCanaryScale(_)) => "the canary ReplicaSet has its requested size",
                    Some(CanaryStep::Analysis { .. }) => "its AnalysisRun ended Successful",
                    None => "its condition is met",
                };
                format!("{msg}: {condition}{next}")
            }
            "RolloutPaused" => match steps.get(self.step) {
                Some(CanaryStep::Pause { duration: Some(d) }) => {
                    format!(
                        "step {} is pause: {{duration: {}}}; the Rollout waits that long",
                        self.step + 1,
                        format_duration(*d)
                    )
                }
                _ => {
                    let who = match ro.promote_after {
                        Some(d) => {
                            format!("someone promotes after {} (release.promoteAfter)", describe_dist(d))
                        }
                        None => "nobody is set to promote (no release.promoteAfter)".to_string(),
                    };
                    format!("{msg}: an indefinite pause waits for `kubectl argo rollouts promote`; {who}")
                }
            },
            "Promoted" => format!("{msg} (release.promoteAfter)"),
            "AnalysisRunStarted" => {
                let kind = msg.split_whitespace().next().unwrap_or("");
                let spec = match kind {
                    "Background" => ro.analyses.background.as_ref().map(|b| &b.0),
                    "PrePromotion" => ro.analyses.pre_promotion.as_ref(),
                    "PostPromotion" => ro.analyses.post_promotion.as_ref(),
                    k => between(k, "Step(", ")")
                        .and_then(|i| i.parse().ok())
                        .and_then(|i: usize| ro.analyses.steps.get(&i)),
                };
                for key in self.measured.keys().filter(|(r, _)| r == kind).cloned().collect::<Vec<_>>() {
                    self.measured.remove(&key);
                }
                let metrics: Vec<String> = spec
                    .map(|s| {
                        s.metrics
                            .iter()
                            .map(|m| {
                                let every = m.spec.interval.map_or("once".to_string(), |i| format!("every {}", format_duration(i)));
                                let count = m.spec.count.map_or(String::new(), |c| format!(", count {c}"));
                                let cond = m.success.as_ref().map_or(String::new(), |c| format!(", successCondition `{}`", c.source()));
                                let fail = m.failure.as_ref().map_or(String::new(), |c| format!(", failureCondition `{}`", c.source()));
                                format!(
                                    "{} {every}{count}{cond}{fail}, failureLimit {}, consecutiveErrorLimit {}",
                                    m.name, m.spec.failure_limit, m.spec.consecutive_error_limit
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                format!("{msg}: an AnalysisRun measures {}", metrics.join("; "))
            }
            "AnalysisMeasurement" => {
                let kind = msg.split_whitespace().next().unwrap_or("").to_string();
                let metric = between(msg, "analysis: ", " = ").unwrap_or("").to_string();
                let phase = msg.rsplit("→ ").next().unwrap_or("").trim().to_string();
                let limits = self.metric_limits(&kind, &metric);
                let entry = self.measured.entry((kind, metric.clone())).or_default();
                entry.0 += 1;
                match phase.as_str() {
                    "Failed" => {
                        entry.1 += 1;
                        entry.2 = 0;
                    }
                    "Error" => entry.2 += 1,
                    _ => entry.2 = 0,
                }
                let (taken, failed, errors) = *entry;
                let why = match phase.as_str() {
                    "Error" => "an empty or unusable result is an Error".to_string(),
                    "Failed" => "the successCondition is false (or the failureCondition true)".to_string(),
                    "Successful" => "the successCondition holds".to_string(),
                    _ => "neither condition decides".to_string(),
                };
                let limits = match limits {
                    Some((fl, el)) => format!(
                        "; {failed} failed so far (the run fails when more than failureLimit {fl}), {errors} consecutive errors (consecutiveErrorLimit {el})"
                    ),
                    None => String::new(),
                };
                format!(
                    "measurement {taken} of {metric}: {} → {phase}: {why}{limits}",
                    between(msg, " = ", " → ").unwrap_or("")
                )
            }
            "AnalysisRunFailed" => {
                let kind = msg.split_whitespace().next().unwrap_or("");
                let tally: Vec<String> = self
                    .measured
                    .iter()
                    .filter(|((k, _), _)| k == kind)
                    .map(|((_, m), (t, f, er))| {
                        format!("{m}: {t} measured, {f} failed, {er} consecutive errors")
                    })
                    .collect();
                format!("{msg} ({}): a failed analysis aborts the Rollout", tally.join("; "))
            }
            "AnalysisRunSuccessful" => {
                format!("{msg}: every measurement was taken within its limits, so the Rollout goes on")
            }
            "RolloutAborted" => {
                self.aborted = true;
                let why = between(msg, "kind: ", " }")
                    .map(|k| {
                        format!(
                            "its {} analysis ended {}",
                            k.split(',').next().unwrap_or(k),
                            between(msg, "phase: ", " }").unwrap_or("")
                        )
                    })
                    .unwrap_or_else(|| msg.to_string());
                format!(
                    "the Rollout aborts because {why}: all traffic goes back to the stable ReplicaSet, and the canary is scaled down after abortScaleDownDelaySeconds"
                )
            }
            "ScaleDownDelay" => format!(
                "{msg} (scaleDownDelaySeconds: the old pods stay briefly so clients can move off them)"
            ),
            "SwitchService" => format!(
                "{msg} (the Rollout adds the ReplicaSet's pod-template-hash to the Service's selector)"
            ),
            "RolloutCompleted" => format!("{msg}: every step is done and the new ReplicaSet is stable"),
            _ => {
                let _ = now;
                format!("Rollout {reason}: {msg}")
            }
        }
    }

    fn metric_limits(&self, kind: &str, metric: &str) -> Option<(i64, i64)> {
        let Strategy::Rollout(ro) = &self.sc.strategy else { return None };
        let a = &ro.analyses;
        let spec = match kind {
            "Background" => a.background.as_ref().map(|b| &b.0),
            "PrePromotion" => a.pre_promotion.as_ref(),
            "PostPromotion" => a.post_promotion.as_ref(),
            k => between(k, "Step(", ")").and_then(|i| i.parse().ok()).and_then(|i: usize| a.steps.get(&i)),
        }?;
        let m = spec.metrics.iter().find(|m| m.name == metric)?;
        Some((m.spec.failure_limit, m.spec.consecutive_error_limit))
    }

    // ---- Flagger ----------------------------------------------------------------------

    fn flagger(&mut self, reason: &str, msg: &str) -> String {
        let Strategy::Flagger(f) = &self.sc.strategy else { return format!("Canary {reason}: {msg}") };
        let a = &f.spec.analysis;
        let interval = format_duration(a.interval());
        match reason {
            "NewRevision" => {
                format!("Flagger: {msg} (the canary Deployment {} gets the new template)", f.spec.target)
            }
            "Phase" => format!("the Canary's phase goes {msg}"),
            "AnalysisStarted" => {
                let steps = if a.step_weights.is_empty() || a.step_weight > 0 {
                    format!("stepWeight {}% up to maxWeight {}%", a.step_weight, a.max_weight())
                } else {
                    format!("stepWeights {:?}", a.step_weights)
                };
                let checks: Vec<&str> = f.checks.iter().map(|c| c.name.as_str()).collect();
                format!(
                    "Flagger starts the canary analysis: every {interval} (analysis.interval) it runs its checks ({}); while they pass the canary weight moves by {steps}; {} failed checks (threshold) roll back",
                    checks.join(", "),
                    a.threshold()
                )
            }
            "Advance" => {
                self.flagger_advances += 1;
                let head = if self.flagger_advances == 1 {
                    "at weight 0 Flagger runs no checks; its first tick gives the canary its first weight"
                        .to_string()
                } else {
                    format!("every check passed at this {interval} tick, so Flagger advances")
                };
                format!(
                    "{head}: {msg} ({})",
                    if a.step_weight > 0 {
                        format!("stepWeight {}%", a.step_weight)
                    } else {
                        "the next of stepWeights".to_string()
                    }
                )
            }
            "CheckFailed" => {
                let tally = msg.rsplit('(').next().unwrap_or("").trim_end_matches(')');
                format!(
                    "{msg}: the check is outside its range, so the weight stays; that is failed check {tally} of threshold {}",
                    a.threshold()
                )
            }
            "Rollback" => format!(
                "{msg} (threshold {}): Flagger routes all traffic back to {} and scales the canary to 0",
                a.threshold(),
                f.spec.primary_name()
            ),
            "Promotion" => format!(
                "Flagger: {msg} (the canary reached maxWeight {}% with its checks passing)",
                a.max_weight()
            ),
            _ => format!("Canary {reason}: {msg}"),
        }
    }

    // ---- Blue-green by Service selector ---------------------------------------------------

    fn service_switch(&self, reason: &str, msg: &str) -> String {
        match reason {
            "Phase" => format!("the blue-green switch goes {msg}"),
            "ScalingDeployment" if msg.ends_with(" to 0") => {
                format!("{msg}: the Deployment the Service no longer selects is scaled down")
            }
            "ScalingDeployment" => {
                format!("{msg}: the new Deployment comes up to its replicas before any traffic moves")
            }
            "SelectorSwitched" if self.rolling_back => {
                format!(
                    "the rollback switches the Service's selector back: {msg}; new connections go to the old version at once"
                )
            }
            "SelectorSwitched" => format!(
                "every new pod is available, so the Service's selector switches at once: {msg}; the old Deployment stays for an instant rollback"
            ),
            _ => format!("Service {reason}: {msg}"),
        }
    }
}

/// The name under which the ReplicaSet that ran before the release is counted until the
/// log names it.
const OLD_RS: &str = "(before the release)";

/// A duration for people: whole seconds from a minute on.
fn human(t: SimTime) -> String {
    let s = crate::engine::SECOND;
    format_duration(if t >= 60 * s { (t + s / 2) / s * s } else { t })
}

/// `Scaled up replica set NAME from A to B`.
fn parse_scaling(msg: &str) -> Option<(String, i64, i64)> {
    let rest = msg.split_once("replica set ")?.1;
    let (rs, nums) = rest.split_once(" from ")?;
    let (a, b) = nums.split_once(" to ")?;
    Some((rs.to_string(), a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The ReplicaSet of a pod named `RS-xxxxx`.
fn pod_rs(pod: &str) -> &str {
    pod.rsplit_once('-').map_or(pod, |(rs, _)| rs)
}

/// The text between `start` and the next `end`.
fn between<'m>(s: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn int_or_percent(v: IntOrPercent) -> String {
    match v {
        IntOrPercent::Int(n) => n.to_string(),
        IntOrPercent::Percent(p) => format!("{p}%"),
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x}");
    if s.len() > 12 { format!("{x:.6}") } else { s }
}

fn describe_dist(d: DurationDist) -> String {
    match d {
        DurationDist::Fixed(t) => format_duration(t),
        DurationDist::LogNormal { median, p99 } => {
            format!("a log-normal time (median {}, p99 {})", format_duration(median), format_duration(p99))
        }
    }
}

/// The weight in force at step `i`: the last `setWeight` at or before it.
fn current_weight(steps: &[CanaryStep], i: usize) -> i64 {
    steps
        .iter()
        .take(i + 1)
        .filter_map(|s| match s {
            CanaryStep::SetWeight(w) => Some(*w),
            _ => None,
        })
        .next_back()
        .unwrap_or(0)
}

fn describe_step(s: &CanaryStep) -> String {
    match s {
        CanaryStep::SetWeight(w) => format!("setWeight {w}"),
        CanaryStep::Pause { duration: Some(d) } => format!("pause {}", format_duration(*d)),
        CanaryStep::Pause { duration: None } => "pause until promoted".to_string(),
        CanaryStep::SetCanaryScale(s) => crate::controllers::argo::spec::describe_canary_scale(s),
        CanaryStep::Analysis { templates } => format!("analysis {}", templates.join(", ")),
    }
}

fn describe_steps(steps: &[CanaryStep]) -> String {
    steps.iter().map(describe_step).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use crate::scenario::{EXAMPLE_FILE_NAME, EXAMPLE_YAML, load_str};

    fn event(time_s: u64, object: &str, reason: &str, message: &str) -> TraceEvent {
        TraceEvent {
            time: time_s * SECOND,
            time_s: time_s as f64,
            object: object.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn message_parts() {
        assert_eq!(
            parse_scaling("Scaled up replica set myapp-6d4b from 3 to 5"),
            Some(("myapp-6d4b".to_string(), 3, 5))
        );
        assert_eq!(parse_scaling("Scaled deployment myapp-green to 3"), None);
        assert_eq!(pod_rs("myapp-6d4b-x7k2p"), "myapp-6d4b");
        assert_eq!(between("HighErrorRate fires (value 0.1987) {x}", "(value ", ")"), Some("0.1987"));
        assert_eq!(human(7 * 60 * SECOND + 46 * SECOND + 123_119), "7m46s");
        assert_eq!(human(550 * crate::engine::MILLISECOND), "550ms");
        let steps =
            [CanaryStep::SetWeight(10), CanaryStep::Pause { duration: None }, CanaryStep::SetWeight(50)];
        assert_eq!(current_weight(&steps, 0), 10);
        assert_eq!(current_weight(&steps, 1), 10);
        assert_eq!(current_weight(&steps, 2), 50);
    }

    /// The example's Deployment: 10 replicas, maxSurge 25%, maxUnavailable 25%.
    #[test]
    fn rolling_steps_show_the_controllers_arithmetic_only_when_it_reproduces_the_step() {
        let sc = load_str(EXAMPLE_FILE_NAME, EXAMPLE_YAML, &[]).unwrap();
        assert_eq!(sc.deployment.replicas, 10);
        let at = sc.release.at / SECOND;
        let d = format!("Deployment/{}", sc.deployment.name);
        let events = [
            event(at, &d, "TemplateChanged", "the Deployment's template changes"),
            event(at, &d, "ScalingReplicaSet", "Scaled up replica set app-new from 0 to 3"),
            event(at, "Pod/app-new-aaaaa", "Scheduled", "Successfully assigned to node-1"),
            event(at, "Pod/app-new-bbbbb", "Scheduled", "Successfully assigned to node-2"),
            event(at, "Pod/app-new-ccccc", "Scheduled", "Successfully assigned to node-3"),
            event(at, &d, "ScalingReplicaSet", "Scaled down replica set app-old from 10 to 8"),
            event(at, &d, "ScalingReplicaSet", "Scaled up replica set app-new from 3 to 5"),
            event(at + 1, "Pod/app-new-ddddd", "Scheduled", "Successfully assigned to node-1"),
            event(at + 1, "Pod/app-new-eeeee", "Scheduled", "Successfully assigned to node-2"),
            event(at + 9, "Pod/app-new-aaaaa", "PodReady", "readiness probe succeeded; the pod is Ready"),
            // 13 pods, 8 must stay available, 5 − 1 new ones are not: 1 may go. A log that
            // says otherwise gets the rule, not made-up numbers.
            event(at + 9, &d, "ScalingReplicaSet", "Scaled down replica set app-old from 8 to 6"),
        ];
        let story = explain_trace(&sc, &events);
        let lines: Vec<&str> = story.lines().collect();
        assert_eq!(lines.len(), 6, "{story}");
        assert!(lines[0].contains("maxSurge 25% of 10 rounds up to 3"), "{story}");
        assert!(
            lines[1].ends_with("10 exist, leaving room for 3, so a new ReplicaSet is created with 3 pods"),
            "{story}"
        );
        assert!(
            lines[2]
                .ends_with("of 13 pods 3 new ones are not yet available, so 13 − 8 − 3 = 2 old ones may go"),
            "{story}"
        );
        assert!(lines[3].ends_with("11 exist, leaving room for 2, so it grows to 5 pods"), "{story}");
        assert!(lines[4].contains("1 of 5 pods of app-new are Ready"), "{story}");
        assert!(
            lines[5].ends_with(
                "so at least 8 pods must stay available, counting the new pods that are available"
            ),
            "{story}"
        );
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with(&format!("t={}", format_clock(sc.release.at))) || l.starts_with("t="))
        );
    }

    #[test]
    fn an_alert_is_told_with_its_for_and_what_it_triggers() {
        let text = include_str!("../../scenarios/monitoring-high-error-rate.yaml");
        let sc = load_str("monitoring-high-error-rate.yaml", text, &[]).unwrap();
        let Some((group, rule)) = sc.monitoring.groups.iter().find_map(|g| {
            g.rules.iter().find_map(|r| match r {
                Rule::Alerting(a) if a.for_ > 0 => Some((g, a)),
                _ => None,
            })
        }) else {
            panic!("the example has an alert with a for");
        };
        let at = sc.release.at / SECOND;
        let object = format!("{}/{}", group.object, rule.name);
        let for_s = rule.for_ / SECOND;
        let events = [
            event(at - 60, &object, "AlertPending", &format!("{} is pending (value 0.5)", rule.name)),
            event(at + 60, &object, "AlertPending", &format!("{} is pending (value 0.5)", rule.name)),
            event(at + 60 + for_s, &object, "AlertFiring", &format!("{} fires (value 0.5)", rule.name)),
        ];
        let story = explain_trace(&sc, &events);
        let lines: Vec<&str> = story.lines().collect();
        assert_eq!(lines.len(), 2, "an alert before the release is left out: {story}");
        let f = format_duration(rule.for_);
        assert!(lines[0].contains(&format!("must stay true for {f} (for: {f}) to fire")), "{story}");
        assert!(lines[1].contains(&format!("{} has been true for {f} since t=", rule.name)), "{story}");
    }
}
