//! The HorizontalPodAutoscaler (autoscaling/v2) as pure functions and a small state machine.
//!
//! Two parts, after upstream `pkg/controller/podautoscaler`:
//! - [`resource_replicas`] is the replica calculator for a `Resource` metric with a
//!   `Utilization` target (`GetResourceReplicas`): pods are grouped ([`group_pod`]) into
//!   ready, unready, missing-metric and ignored; the utilisation is the integer percentage
//!   `100·Σusage / Σrequest` of the pods with a metric, and its ratio to the target gives
//!   `ceil(ratio · ready)` unless the ratio is within the tolerance (0.1). When pods are
//!   unready or lack a metric the ratio is recomputed with unready pods at 0 % (only on a
//!   scale-up), missing pods at 0 % on a scale-up and at `max(100 %, target)` on a
//!   scale-down; the result keeps the current count if that second ratio is within the
//!   tolerance or would reverse the direction.
//! - [`Autoscaler::reconcile`] is one pass of `reconcileAutoscaler` after the metrics: the
//!   clamp of an out-of-range count, then the normalisation. Without `spec.behavior` it is
//!   the legacy one (`normalizeDesiredReplicas`: the highest recommendation of the
//!   downscale stabilisation window, 300 s; scale-up at most `max(2·current, 4)`; min/max).
//!   With `behavior` (`normalizeDesiredReplicasWithBehaviors`): the scale-up window keeps
//!   the lowest and the scale-down window the highest recent recommendation, then the rate
//!   policies (`Pods`/`Percent` over `periodSeconds`, counted from the scale events of the
//!   period, `selectPolicy` Max/Min/Disabled) and min/max.
//!
//! Not modelled here: `Pods`, `Object` and `External` metrics, `AverageValue` targets,
//! container resource metrics and the multi-metric maximum (one CPU utilisation metric is
//! what the simulation feeds), and the conditions/status of the HPA object.

use crate::engine::{SECOND, SimTime};

/// `--horizontal-pod-autoscaler-tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-sync-period`.
pub const DEFAULT_SYNC_PERIOD: SimTime = 15 * SECOND;
/// `--horizontal-pod-autoscaler-downscale-stabilization` (and the default of
/// `behavior.scaleDown.stabilizationWindowSeconds`).
pub const DEFAULT_DOWNSCALE_STABILIZATION: SimTime = 300 * SECOND;
/// `--horizontal-pod-autoscaler-cpu-initialization-period`.
pub const DEFAULT_CPU_INITIALIZATION_PERIOD: SimTime = 300 * SECOND;
/// `--horizontal-pod-autoscaler-initial-readiness-delay`.
pub const DEFAULT_INITIAL_READINESS_DELAY: SimTime = 30 * SECOND;
/// The autoscaling/v2 default metric when `spec.metrics` is empty: CPU at 80 %.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// A pod's phase, as far as the calculator cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Failed,
}

/// What the calculator sees of one pod the HPA's selector matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodSample {
    pub phase: PodPhase,
    /// Has a deletion timestamp (terminating).
    pub deleting: bool,
    /// Sum of the containers' CPU requests, millicores (0 = no request).
    pub request_milli: i64,
    /// The metrics API's usage, millicores; `None` = no metric for the pod.
    pub usage_milli: Option<i64>,
    /// `status.startTime`.
    pub start: Option<SimTime>,
    /// The Ready condition: (status, lastTransitionTime); `None` = no condition yet.
    pub ready: Option<(bool, SimTime)>,
    /// The metric's timestamp (end of its window) and window length.
    pub metric_at: SimTime,
    pub metric_window: SimTime,
}

/// The controller's flags that judge readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub now: SimTime,
    pub cpu_initialization_period: SimTime,
    pub initial_readiness_delay: SimTime,
}

impl Timing {
    pub fn at(now: SimTime) -> Self {
        Timing {
            now,
            cpu_initialization_period: DEFAULT_CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay: DEFAULT_INITIAL_READINESS_DELAY,
        }
    }
}

/// The group `groupPods` puts a pod in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Counted with its metric.
    Ready,
    /// Pending, or (CPU) not ready / still warming up: left out, 0 % on a scale-up.
    Unready,
    /// No metric: 0 % on a scale-up, `max(100 %, target)` on a scale-down.
    Missing,
    /// Terminating or failed: left out entirely.
    Ignored,
}

/// `groupPods` for the CPU resource.
pub fn group_pod(p: &PodSample, t: &Timing) -> Group {
    if p.deleting || p.phase == PodPhase::Failed {
        return Group::Ignored;
    }
    if p.phase == PodPhase::Pending {
        return Group::Unready;
    }
    if p.usage_milli.is_none() {
        return Group::Missing;
    }
    let unready = match (p.ready, p.start) {
        (Some((status, transition)), Some(start)) => {
            if start + t.cpu_initialization_period > t.now {
                // Warming up: unready unless Ready and one metric window seen since.
                !status || p.metric_at < transition + p.metric_window
            } else {
                // After the warm-up: unready only if it has never been ready.
                !status && start + t.initial_readiness_delay > transition
            }
        }
        _ => true,
    };
    if unready { Group::Unready } else { Group::Ready }
}

/// Why no replica count could be computed (upstream's errors; the HPA then does not scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalcError {
    /// "no pods returned by selector while calculating replica count"
    NoPods,
    /// "missing request for cpu": a counted pod without a CPU request.
    MissingRequest,
    /// "did not receive metrics for targeted pods (pods might be unready)"
    NoMetrics,
}

/// The calculator's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calculation {
    /// The proposed replica count (before normalisation).
    pub replicas: i64,
    /// The current utilisation, integer percent of the request (status.currentMetrics).
    pub utilization: i64,
    /// The average usage per counted pod, millicores.
    pub average_milli: i64,
}

/// `GetResourceUtilizationRatio`: (ratio, integer utilisation %, average usage).
fn utilization_ratio(entries: &[(i64, i64)], target: i64) -> Option<(f64, i64, i64)> {
    let usage: i64 = entries.iter().map(|e| e.0).sum();
    let requests: i64 = entries.iter().map(|e| e.1).sum();
    if requests == 0 || entries.is_empty() {
        return None;
    }
    let utilization = usage * 100 / requests;
    Some((utilization as f64 / target as f64, utilization, usage / entries.len() as i64))
}

fn within(ratio: f64, tolerance: f64) -> bool {
    (1.0 - ratio).abs() <= tolerance
}

/// `GetResourceReplicas` for a CPU `Utilization` target (percent of the request).
pub fn resource_replicas(
    current: i64,
    target_utilization: i64,
    tolerance: f64,
    pods: &[PodSample],
    t: &Timing,
) -> Result<Calculation, CalcError> {
    if pods.is_empty() {
        return Err(CalcError::NoPods);
    }
    let groups: Vec<Group> = pods.iter().map(|p| group_pod(p, t)).collect();
    // Every matched pod needs a request (`calculatePodRequests` covers them all).
    if pods.iter().any(|p| p.request_milli <= 0) {
        return Err(CalcError::MissingRequest);
    }
    let ready: Vec<(i64, i64)> = pods
        .iter()
        .zip(&groups)
        .filter(|(_, g)| **g == Group::Ready)
        .map(|(p, _)| (p.usage_milli.unwrap_or(0), p.request_milli))
        .collect();
    let Some((ratio, utilization, average_milli)) = utilization_ratio(&ready, target_utilization) else {
        return Err(CalcError::NoMetrics);
    };
    let count = |g: Group| groups.iter().filter(|x| **x == g).count();
    let (unready, missing) = (count(Group::Unready), count(Group::Missing));
    let answer = |replicas| Ok(Calculation { replicas, utilization, average_milli });
    let scale_up_with_unready = unready > 0 && ratio > 1.0;
    if !scale_up_with_unready && missing == 0 {
        if within(ratio, tolerance) {
            return answer(current);
        }
        return answer((ratio * ready.len() as f64).ceil() as i64);
    }
    let mut entries = ready;
    for (p, g) in pods.iter().zip(&groups) {
        match g {
            Group::Missing if ratio < 1.0 => {
                let fallback = target_utilization.max(100);
                entries.push((p.request_milli * fallback / 100, p.request_milli));
            }
            Group::Missing if ratio > 1.0 => entries.push((0, p.request_milli)),
            Group::Unready if scale_up_with_unready => entries.push((0, p.request_milli)),
            _ => {}
        }
    }
    let (new_ratio, _, _) = utilization_ratio(&entries, target_utilization).ok_or(CalcError::NoMetrics)?;
    if within(new_ratio, tolerance) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
        return answer(current);
    }
    let replicas = (new_ratio * entries.len() as f64).ceil() as i64;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return answer(current);
    }
    answer(replicas)
}

/// `HPAScalingPolicyType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: i64,
    pub period_seconds: i64,
}

/// `selectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

/// `HPAScalingRules` for one direction, defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub stabilization_seconds: i64,
    pub select: SelectPolicy,
    pub policies: Vec<Policy>,
}

impl Rules {
    /// `GenerateHPAScaleUpRules(nil)`: no window; 4 pods or 100 % per 15 s, the larger.
    pub fn default_up() -> Self {
        Rules {
            stabilization_seconds: 0,
            select: SelectPolicy::Max,
            policies: vec![
                Policy { kind: PolicyKind::Pods, value: 4, period_seconds: 15 },
                Policy { kind: PolicyKind::Percent, value: 100, period_seconds: 15 },
            ],
        }
    }
    /// `GenerateHPAScaleDownRules(nil)`: 300 s window; 100 % per 15 s.
    pub fn default_down() -> Self {
        Rules {
            stabilization_seconds: 300,
            select: SelectPolicy::Max,
            policies: vec![Policy { kind: PolicyKind::Percent, value: 100, period_seconds: 15 }],
        }
    }
}

/// `spec.behavior` with defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior { scale_up: Rules::default_up(), scale_down: Rules::default_down() }
    }
}

/// The parts of an HPA's spec the controller reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpaSpec {
    pub min_replicas: i64,
    pub max_replicas: i64,
    /// CPU `target.averageUtilization`, percent of the request.
    pub target_utilization: i64,
    /// `spec.behavior`; `None` = the legacy normalisation.
    pub behavior: Option<Behavior>,
}

/// One timestamped recommendation or scale event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamped {
    pub value: i64,
    pub at: SimTime,
}

fn after(at: SimTime, cutoff: Option<SimTime>) -> bool {
    // `cutoff` None = before time 0: every sample is after it.
    cutoff.is_none_or(|c| at > c)
}

fn before(at: SimTime, cutoff: Option<SimTime>) -> bool {
    cutoff.is_some_and(|c| at < c)
}

fn cutoff(now: SimTime, seconds: i64) -> Option<SimTime> {
    now.checked_sub(seconds.max(0) as u64 * SECOND)
}

/// `getReplicasChangePerPeriod`: the replicas changed by events newer than `period` s.
pub fn change_in_period(now: SimTime, period_seconds: i64, events: &[Stamped]) -> i64 {
    let c = cutoff(now, period_seconds);
    events.iter().filter(|e| after(e.at, c)).map(|e| e.value).sum()
}

/// `calculateScaleUpLimitWithScalingRules`.
pub fn scale_up_limit(now: SimTime, current: i64, up: &[Stamped], down: &[Stamped], rules: &Rules) -> i64 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i64::MAX, i64::min),
        SelectPolicy::Max => (i64::MIN, i64::max),
    };
    for p in &rules.policies {
        let start = current - change_in_period(now, p.period_seconds, up)
            + change_in_period(now, p.period_seconds, down);
        let proposed = match p.kind {
            PolicyKind::Pods => start + p.value,
            PolicyKind::Percent => (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64,
        };
        result = pick(result, proposed);
    }
    result
}

/// `calculateScaleDownLimitWithBehaviors`.
pub fn scale_down_limit(now: SimTime, current: i64, up: &[Stamped], down: &[Stamped], rules: &Rules) -> i64 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i64::MIN, i64::max),
        SelectPolicy::Max => (i64::MAX, i64::min),
    };
    for p in &rules.policies {
        let start = current - change_in_period(now, p.period_seconds, up)
            + change_in_period(now, p.period_seconds, down);
        let proposed = match p.kind {
            PolicyKind::Pods => start - p.value,
            PolicyKind::Percent => (start as f64 * (1.0 - p.value as f64 / 100.0)) as i64,
        };
        result = pick(result, proposed);
    }
    result
}

/// Why the normalised count is what it is (the HPA's `ScalingLimited`/`AbleToScale` reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    DesiredWithinRange,
    TooFewReplicas,
    TooManyReplicas,
    ScaleUpLimit,
    ScaleDownLimit,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::DesiredWithinRange => "DesiredWithinRange",
            Limit::TooFewReplicas => "TooFewReplicas",
            Limit::TooManyReplicas => "TooManyReplicas",
            Limit::ScaleUpLimit => "ScaleUpLimit",
            Limit::ScaleDownLimit => "ScaleDownLimit",
        }
    }
}

/// One reconcile's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The replica count before normalisation (the calculator's, or the clamp's).
    pub proposed: i64,
    /// After stabilisation (equal to `proposed` on the clamp paths).
    pub stabilized: i64,
    /// The count to set.
    pub desired: i64,
    pub limit: Limit,
}

/// An HPA's controller state: what upstream keeps per HPA key in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Autoscaler {
    pub recommendations: Vec<Stamped>,
    pub scale_up_events: Vec<Stamped>,
    pub scale_down_events: Vec<Stamped>,
}

impl Autoscaler {
    /// `stabilizeRecommendation` (no behavior): the highest recommendation of the window.
    pub fn stabilize_legacy(&mut self, now: SimTime, window: SimTime, desired: i64) -> i64 {
        let c = now.checked_sub(window);
        let mut max = desired;
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if before(r.at, c) {
                old = Some(i);
            } else if r.value > max {
                max = r.value;
            }
        }
        self.record(old, desired, now);
        max
    }

    fn record(&mut self, old: Option<usize>, value: i64, now: SimTime) {
        let s = Stamped { value, at: now };
        match old {
            Some(i) => self.recommendations[i] = s,
            None => self.recommendations.push(s),
        }
    }

    /// `stabilizeRecommendationWithBehaviors`.
    pub fn stabilize(&mut self, now: SimTime, current: i64, desired: i64, b: &Behavior) -> i64 {
        let up_cut = cutoff(now, b.scale_up.stabilization_seconds);
        let down_cut = cutoff(now, b.scale_down.stabilization_seconds);
        let (mut up, mut down) = (desired, desired);
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if after(r.at, up_cut) {
                up = up.min(r.value);
            }
            if after(r.at, down_cut) {
                down = down.max(r.value);
            }
            if before(r.at, up_cut) && before(r.at, down_cut) {
                old = Some(i);
            }
        }
        self.record(old, desired, now);
        current.max(up).min(down)
    }

    /// `storeScaleEvent` (only with a behavior): events older than the direction's
    /// longest policy period are replaced, as upstream marks and reuses them.
    fn store_event(&mut self, now: SimTime, b: &Behavior, prev: i64, new: i64) {
        let (events, rules, change) = if new > prev {
            (&mut self.scale_up_events, &b.scale_up, new - prev)
        } else {
            (&mut self.scale_down_events, &b.scale_down, prev - new)
        };
        let longest = rules.policies.iter().map(|p| p.period_seconds).max().unwrap_or(0);
        let c = cutoff(now, longest);
        let s = Stamped { value: change, at: now };
        match events.iter().position(|e| !after(e.at, c)) {
            Some(i) => events[i] = s,
            None => events.push(s),
        }
    }

    /// One `reconcileAutoscaler` after the metrics. `spec_replicas` is the target's
    /// `spec.replicas` (upstream's currentReplicas); `metric` the calculator's proposal, or
    /// `None` when it failed (then nothing changes). Returns `None` when autoscaling is
    /// off (the target scaled to 0 with `minReplicas` > 0) or the metric failed.
    pub fn reconcile(
        &mut self,
        now: SimTime,
        spec: &HpaSpec,
        spec_replicas: i64,
        metric: Option<i64>,
    ) -> Option<Decision> {
        let current = spec_replicas;
        if current == 0 && spec.min_replicas != 0 {
            return None;
        }
        let clamp = |desired, limit| Decision { proposed: desired, stabilized: desired, desired, limit };
        let decision = if current > spec.max_replicas {
            clamp(spec.max_replicas, Limit::TooManyReplicas)
        } else if current < spec.min_replicas {
            clamp(spec.min_replicas, Limit::TooFewReplicas)
        } else {
            let proposed = metric?.max(0);
            match &spec.behavior {
                None => {
                    let stabilized = self.stabilize_legacy(now, DEFAULT_DOWNSCALE_STABILIZATION, proposed);
                    let (desired, limit) = legacy_rules(current, stabilized, spec);
                    Decision { proposed, stabilized, desired, limit }
                }
                Some(b) => {
                    let stabilized = self.stabilize(now, current, proposed, b);
                    let (desired, limit) = self.behavior_rate(now, current, stabilized, spec, b);
                    Decision { proposed, stabilized, desired, limit }
                }
            }
        };
        if decision.desired != current
            && let Some(b) = &spec.behavior
        {
            self.store_event(now, b, current, decision.desired);
        }
        Some(decision)
    }

    /// `convertDesiredReplicasWithBehaviorRate`.
    pub fn behavior_rate(
        &self,
        now: SimTime,
        current: i64,
        desired: i64,
        spec: &HpaSpec,
        b: &Behavior,
    ) -> (i64, Limit) {
        let (up, down) = (&self.scale_up_events, &self.scale_down_events);
        if desired > current {
            let limit = scale_up_limit(now, current, up, down, &b.scale_up).max(current);
            let (max, why) = if spec.max_replicas > limit {
                (limit, Limit::ScaleUpLimit)
            } else {
                (spec.max_replicas, Limit::TooManyReplicas)
            };
            if desired > max {
                return (max, why);
            }
        } else if desired < current {
            let limit = scale_down_limit(now, current, up, down, &b.scale_down).min(current);
            let (min, why) = if spec.min_replicas < limit {
                (limit, Limit::ScaleDownLimit)
            } else {
                (spec.min_replicas, Limit::TooFewReplicas)
            };
            if desired < min {
                return (min, why);
            }
        }
        (desired, Limit::DesiredWithinRange)
    }
}

/// `convertDesiredReplicasWithRules` (no behavior): scale-up at most `max(2·current, 4)`.
pub fn legacy_rules(current: i64, desired: i64, spec: &HpaSpec) -> (i64, Limit) {
    let up_limit = (2 * current).max(4);
    let (max, why) = if spec.max_replicas > up_limit {
        (up_limit, Limit::ScaleUpLimit)
    } else {
        (spec.max_replicas, Limit::TooManyReplicas)
    };
    if desired < spec.min_replicas {
        (spec.min_replicas, Limit::TooFewReplicas)
    } else if desired > max {
        (max, why)
    } else {
        (desired, Limit::DesiredWithinRange)
    }
}

#[cfg(test)]
#[path = "hpa_tests.rs"]
mod tests;
