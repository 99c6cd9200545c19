//! The subset of an `argoproj.io/v1alpha1 Rollout` that the simulator reads, with Argo's
//! defaults applied (`utils/defaults/defaults.go`, `controllers.md` §2.1).
//!
//! Plain data: the scenario layer maps YAML onto these types. Two fields keep the difference
//! between "unset" and "written" because upstream behaves differently on it:
//! `abortScaleDownDelaySeconds` (an explicit value disables the dynamicStableScale shortcut, and
//! an explicit 0 means "never scale down") and the blue-green `scaleDownDelaySeconds` (unset
//! plus a post-promotion analysis means "wait for the analysis"). Their defaults are resolved by
//! methods, never stored, so the distinction cannot be lost.

use crate::controllers::rolling;
use crate::controllers::spec::IntOrPercent;
use crate::engine::{SECOND, SimTime};

/// `spec.replicas` when unset.
pub const DEFAULT_REPLICAS: i64 = 1;
/// `progressDeadlineSeconds` when unset (600 s).
pub const DEFAULT_PROGRESS_DEADLINE: SimTime = 600 * SECOND;
/// Canary `maxSurge` and `maxUnavailable` when unset ("25%").
pub const DEFAULT_MAX_SURGE: IntOrPercent = IntOrPercent::Percent(25);
pub const DEFAULT_MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Percent(25);
/// `scaleDownDelaySeconds` when unset (blue-green always, canary only with traffic routing).
pub const DEFAULT_SCALE_DOWN_DELAY: SimTime = 30 * SECOND;
/// `abortScaleDownDelaySeconds` when unset (same scope as [`DEFAULT_SCALE_DOWN_DELAY`]).
pub const DEFAULT_ABORT_SCALE_DOWN_DELAY: SimTime = 30 * SECOND;
/// Traffic weights are percentages (`maxTrafficWeight` is not modelled).
pub const MAX_WEIGHT: i64 = 100;

/// A Rollout with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutSpec {
    /// `spec.replicas` (default 1).
    pub replicas: i64,
    pub strategy: RolloutStrategy,
    /// `spec.minReadySeconds` (default 0).
    pub min_ready_seconds: u32,
    /// `spec.progressDeadlineSeconds` (default 600 s).
    pub progress_deadline: SimTime,
    /// `spec.progressDeadlineAbort` (default false): a timed-out rollout also aborts.
    pub progress_deadline_abort: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutStrategy {
    Canary(CanaryStrategy),
    BlueGreen(BlueGreenStrategy),
}

/// `spec.strategy.canary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryStrategy {
    pub steps: Vec<CanaryStep>,
    /// Default 25%. Only the basic (replica-based) canary honours it.
    pub max_surge: IntOrPercent,
    /// Default 25%. Only the basic (replica-based) canary honours it.
    pub max_unavailable: IntOrPercent,
    /// `trafficRouting` is present (which router is the scenario layer's business).
    pub traffic_routing: bool,
    /// `dynamicStableScale` (default false; requires traffic routing).
    pub dynamic_stable_scale: bool,
    /// `stableService` (`None`: not written; no Service selector is switched for it).
    pub stable_service: Option<String>,
    /// `canaryService` (`None`: not written).
    pub canary_service: Option<String>,
    /// `scaleDownDelaySeconds` as written (`None`: unset).
    pub scale_down_delay: Option<SimTime>,
    /// `abortScaleDownDelaySeconds` as written (`None`: unset; `Some(0)`: never scale down).
    pub abort_scale_down_delay: Option<SimTime>,
    /// `minPodsPerReplicaSet` (traffic routing only).
    pub min_pods_per_replica_set: Option<i64>,
    /// `canary.analysis`: a background analysis run from `startingStep` until the rollout
    /// is fully promoted (`None`: none).
    pub background_analysis: Option<BackgroundAnalysis>,
}

/// `canary.analysis` (a `RolloutAnalysisBackground`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackgroundAnalysis {
    /// The template names.
    pub templates: Vec<String>,
    /// `startingStep`: the step index from which the run starts (`None`: with the update).
    pub starting_step: Option<usize>,
}

/// One entry of `canary.steps`. Upstream validation allows exactly one kind per step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CanaryStep {
    /// `setWeight: w`, a percentage 0..=100.
    SetWeight(i64),
    /// `pause: {duration: d}`; `None` is `pause: {}` (wait for a promote).
    Pause { duration: Option<SimTime> },
    /// `setCanaryScale` (traffic routing only).
    SetCanaryScale(SetCanaryScale),
    /// `analysis` with its template names: a placeholder until AnalysisRuns are simulated.
    Analysis { templates: Vec<String> },
}

/// `setCanaryScale`. Upstream fields combine with this precedence, which the scenario layer
/// applies when mapping: `matchTrafficWeight: true` wins, then `replicas`, then `weight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCanaryScale {
    /// A fixed canary replica count.
    Replicas(i64),
    /// A canary size as a percentage of `spec.replicas`, independent of the traffic weight.
    Weight(i64),
    /// Back to the default: the canary is sized from the traffic weight.
    MatchTrafficWeight,
}

/// `spec.strategy.blueGreen`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlueGreenStrategy {
    pub active_service: String,
    pub preview_service: Option<String>,
    /// `previewReplicaCount`: the new RS's size before promotion (`None`: `spec.replicas`).
    pub preview_replica_count: Option<i64>,
    /// `autoPromotionEnabled` (default true).
    pub auto_promotion_enabled: bool,
    /// `autoPromotionSeconds` (default 0: no timed pause).
    pub auto_promotion_seconds: SimTime,
    /// `scaleDownDelaySeconds` as written (`None`: unset, 30 s unless post-promotion analysis).
    pub scale_down_delay: Option<SimTime>,
    /// `abortScaleDownDelaySeconds` as written (`None`: unset; `Some(0)`: never scale down).
    pub abort_scale_down_delay: Option<SimTime>,
    /// `prePromotionAnalysis` template names (empty: none).
    pub pre_promotion_analysis: Vec<String>,
    /// `postPromotionAnalysis` template names (empty: none).
    pub post_promotion_analysis: Vec<String>,
}

/// How the canary or preview RS is scaled down after an abort
/// (`GetAbortScaleDownDelaySecondsOrDefault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortDelay {
    /// `None`: never (an explicit `abortScaleDownDelaySeconds: 0`); `Some(d)`: after `d`
    /// (`Some(0)`: at once, the basic canary's case).
    pub delay: Option<SimTime>,
    /// The user wrote the field. Upstream only honours a delay under dynamicStableScale then.
    pub explicit: bool,
}

impl RolloutSpec {
    /// A Rollout of `strategy` with every other field at its default.
    pub fn new(strategy: RolloutStrategy) -> Self {
        Self {
            replicas: DEFAULT_REPLICAS,
            strategy,
            min_ready_seconds: 0,
            progress_deadline: DEFAULT_PROGRESS_DEADLINE,
            progress_deadline_abort: false,
        }
    }

    pub fn canary(&self) -> Option<&CanaryStrategy> {
        match &self.strategy {
            RolloutStrategy::Canary(c) => Some(c),
            RolloutStrategy::BlueGreen(_) => None,
        }
    }

    pub fn blue_green(&self) -> Option<&BlueGreenStrategy> {
        match &self.strategy {
            RolloutStrategy::BlueGreen(b) => Some(b),
            RolloutStrategy::Canary(_) => None,
        }
    }

    /// Upstream's admission rules (`pkg/apis/rollouts/validation`) that concern the fields
    /// modelled here. The first violation found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.replicas < 0 {
            return Err(SpecError::NegativeReplicas(self.replicas));
        }
        if self.progress_deadline <= u64::from(self.min_ready_seconds) * SECOND {
            return Err(SpecError::DeadlineNotAboveMinReady);
        }
        match &self.strategy {
            RolloutStrategy::Canary(c) => c.validate(),
            RolloutStrategy::BlueGreen(b) => b.validate(),
        }
    }
}

/// A `setCanaryScale` step as written in a Rollout (`setCanaryScale: {weight: 50}`).
pub fn describe_canary_scale(s: &SetCanaryScale) -> String {
    match s {
        SetCanaryScale::Replicas(n) => format!("setCanaryScale replicas {n}"),
        SetCanaryScale::Weight(w) => format!("setCanaryScale weight {w}"),
        SetCanaryScale::MatchTrafficWeight => "setCanaryScale matchTrafficWeight".to_string(),
    }
}

impl Default for CanaryStrategy {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            max_surge: DEFAULT_MAX_SURGE,
            max_unavailable: DEFAULT_MAX_UNAVAILABLE,
            traffic_routing: false,
            dynamic_stable_scale: false,
            stable_service: None,
            canary_service: None,
            scale_down_delay: None,
            abort_scale_down_delay: None,
            min_pods_per_replica_set: None,
            background_analysis: None,
        }
    }
}

impl CanaryStrategy {
    /// `(MaxSurge, MaxUnavailable)` of `utils/replicaset` for `replicas`.
    ///
    /// The Deployment controller's fenceposts (`rolling::resolve_fenceposts`, with its 0/0 → 0/1
    /// fix-up); maxUnavailable is clamped to `replicas` and is 0 for an empty Rollout, which has
    /// no availability to protect.
    pub fn fenceposts(&self, replicas: i64) -> (i64, i64) {
        let (surge, unavailable) =
            rolling::resolve_fenceposts(self.max_surge, self.max_unavailable, replicas);
        let unavailable = if replicas == 0 { 0 } else { unavailable.min(replicas) };
        (surge, unavailable)
    }

    /// `GetScaleDownDelaySecondsOrDefault`: how long the previous stable RS stays up after a
    /// full promotion. Only traffic routing needs the delay (routers and proxies may still send
    /// to the old pods for a while); the basic canary scales it down at once.
    pub fn scale_down_delay(&self) -> SimTime {
        if !self.traffic_routing {
            return 0;
        }
        self.scale_down_delay.unwrap_or(DEFAULT_SCALE_DOWN_DELAY)
    }

    /// `GetAbortScaleDownDelaySecondsOrDefault` for a canary.
    pub fn abort_scale_down(&self) -> AbortDelay {
        if !self.traffic_routing {
            return AbortDelay { delay: Some(0), explicit: false };
        }
        abort_delay(self.abort_scale_down_delay)
    }

    fn validate(&self) -> Result<(), SpecError> {
        if is_zero(self.max_surge) && is_zero(self.max_unavailable) {
            return Err(SpecError::SurgeAndUnavailableZero);
        }
        if !self.traffic_routing && self.scale_down_delay.is_some() {
            return Err(SpecError::ScaleDownDelayWithoutRouting);
        }
        if !self.traffic_routing && self.dynamic_stable_scale {
            return Err(SpecError::DynamicStableScaleWithoutRouting);
        }
        if self.dynamic_stable_scale && self.scale_down_delay.is_some() {
            return Err(SpecError::DynamicStableScaleWithScaleDownDelay);
        }
        self.steps.iter().enumerate().try_for_each(|(i, step)| self.validate_step(i, step))
    }

    fn validate_step(&self, index: usize, step: &CanaryStep) -> Result<(), SpecError> {
        match *step {
            CanaryStep::SetWeight(w) if !(0..=MAX_WEIGHT).contains(&w) => {
                Err(SpecError::SetWeightOutOfRange { index, weight: w })
            }
            CanaryStep::SetCanaryScale(_) if !self.traffic_routing => {
                Err(SpecError::SetCanaryScaleWithoutRouting { index })
            }
            CanaryStep::SetCanaryScale(SetCanaryScale::Replicas(n) | SetCanaryScale::Weight(n)) if n < 0 => {
                Err(SpecError::NegativeCanaryScale { index })
            }
            _ => Ok(()),
        }
    }
}

impl BlueGreenStrategy {
    /// A blue-green strategy switching `active_service`, every other field at its default.
    pub fn new(active_service: impl Into<String>) -> Self {
        Self {
            active_service: active_service.into(),
            preview_service: None,
            preview_replica_count: None,
            auto_promotion_enabled: true,
            auto_promotion_seconds: 0,
            scale_down_delay: None,
            abort_scale_down_delay: None,
            pre_promotion_analysis: Vec::new(),
            post_promotion_analysis: Vec::new(),
        }
    }

    /// `GetAbortScaleDownDelaySecondsOrDefault` for blue-green (applies to the preview RS).
    pub fn abort_scale_down(&self) -> AbortDelay {
        abort_delay(self.abort_scale_down_delay)
    }

    fn validate(&self) -> Result<(), SpecError> {
        if self.preview_service.as_deref() == Some(self.active_service.as_str()) {
            return Err(SpecError::SameActiveAndPreviewService);
        }
        match self.preview_replica_count {
            Some(n) if n < 0 => Err(SpecError::NegativePreviewReplicaCount(n)),
            _ => Ok(()),
        }
    }
}

/// Resolves a written-or-not `abortScaleDownDelaySeconds` for a strategy that has the delay.
fn abort_delay(written: Option<SimTime>) -> AbortDelay {
    match written {
        None => AbortDelay { delay: Some(DEFAULT_ABORT_SCALE_DOWN_DELAY), explicit: false },
        Some(0) => AbortDelay { delay: None, explicit: true },
        Some(d) => AbortDelay { delay: Some(d), explicit: true },
    }
}

fn is_zero(v: IntOrPercent) -> bool {
    matches!(v, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
}

/// A Rollout that upstream's admission would reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("spec.replicas must not be negative (got {0})")]
    NegativeReplicas(i64),
    #[error("progressDeadlineSeconds must be greater than minReadySeconds")]
    DeadlineNotAboveMinReady,
    #[error("MaxSurge and MaxUnavailable both can not be zero")]
    SurgeAndUnavailableZero,
    #[error("Canary scaleDownDelaySeconds can only be used with traffic routing")]
    ScaleDownDelayWithoutRouting,
    #[error("Canary dynamicStableScale can only be used with traffic routing")]
    DynamicStableScaleWithoutRouting,
    #[error("Canary dynamicStableScale cannot be used with scaleDownDelaySeconds")]
    DynamicStableScaleWithScaleDownDelay,
    #[error("steps[{index}]: SetWeight needs to be between 0 and 100 (got {weight})")]
    SetWeightOutOfRange { index: usize, weight: i64 },
    #[error("steps[{index}]: SetCanaryScale requires TrafficRouting to be set")]
    SetCanaryScaleWithoutRouting { index: usize },
    #[error("steps[{index}]: setCanaryScale replicas and weight must not be negative")]
    NegativeCanaryScale { index: usize },
    #[error("activeService and previewService must be different services")]
    SameActiveAndPreviewService,
    #[error("previewReplicaCount must not be negative (got {0})")]
    NegativePreviewReplicaCount(i64),
}

/// The `rollouts-pod-template-hash` label of a Rollout's ReplicaSet whose pods run `image`:
/// ten characters from Kubernetes' safe alphabet, a stable function of the image. (Upstream
/// hashes the whole pod template; a release here changes only the image, so the image decides.)
/// AnalysisTemplate arguments with `valueFrom.podTemplateHashValue` resolve to it, and the
/// simulated pods carry it as a label.
pub fn pod_template_hash(image: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in image.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|_| {
            h ^= h >> 29;
            h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ALPHABET[(h >> 40) as usize % ALPHABET.len()] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntOrPercent::{Int, Percent};

    fn canary(f: impl FnOnce(&mut CanaryStrategy)) -> RolloutSpec {
        let mut c = CanaryStrategy::default();
        f(&mut c);
        RolloutSpec::new(RolloutStrategy::Canary(c))
    }

    #[test]
    fn defaults_match_defaults_go() {
        let spec = canary(|_| {});
        assert_eq!(spec.replicas, 1);
        assert_eq!(spec.progress_deadline, 600 * SECOND);
        assert!(!spec.progress_deadline_abort);
        let c = spec.canary().unwrap();
        assert_eq!((c.max_surge, c.max_unavailable), (Percent(25), Percent(25)));
        let bg = BlueGreenStrategy::new("active");
        assert!(bg.auto_promotion_enabled);
        assert_eq!(bg.auto_promotion_seconds, 0);
        assert_eq!(bg.abort_scale_down(), AbortDelay { delay: Some(30 * SECOND), explicit: false });
    }

    #[test]
    fn fenceposts_round_and_clamp() {
        // (surge, unavailable, replicas) → (MaxSurge, MaxUnavailable)
        let cases = [
            (Percent(25), Percent(25), 10, (3, 2)),
            (Percent(0), Percent(0), 10, (0, 1)),
            (Int(0), Int(20), 10, (0, 10)),
            (Int(1), Int(1), 0, (1, 0)),
            (Percent(20), Int(0), 10, (2, 0)),
        ];
        for (surge, unav, replicas, want) in cases {
            let c = CanaryStrategy { max_surge: surge, max_unavailable: unav, ..Default::default() };
            assert_eq!(c.fenceposts(replicas), want, "{surge:?}/{unav:?} of {replicas}");
        }
    }

    #[test]
    fn scale_down_delays_resolve_by_scope() {
        let basic = CanaryStrategy::default();
        assert_eq!(basic.scale_down_delay(), 0);
        assert_eq!(basic.abort_scale_down(), AbortDelay { delay: Some(0), explicit: false });
        let routed = CanaryStrategy { traffic_routing: true, ..Default::default() };
        assert_eq!(routed.scale_down_delay(), 30 * SECOND);
        assert_eq!(routed.abort_scale_down(), AbortDelay { delay: Some(30 * SECOND), explicit: false });
        let never = CanaryStrategy { abort_scale_down_delay: Some(0), ..routed.clone() };
        assert_eq!(never.abort_scale_down(), AbortDelay { delay: None, explicit: true });
        let ten = CanaryStrategy { abort_scale_down_delay: Some(10 * SECOND), ..routed };
        assert_eq!(ten.abort_scale_down(), AbortDelay { delay: Some(10 * SECOND), explicit: true });
    }

    #[test]
    fn validation_follows_upstream_messages() {
        let check = |spec: RolloutSpec, want: Option<SpecError>| {
            assert_eq!(spec.validate().err(), want, "{spec:?}");
        };
        check(canary(|_| {}), None);
        check(
            canary(|c| (c.max_surge, c.max_unavailable) = (Int(0), Percent(0))),
            Some(SpecError::SurgeAndUnavailableZero),
        );
        check(canary(|c| c.dynamic_stable_scale = true), Some(SpecError::DynamicStableScaleWithoutRouting));
        check(canary(|c| c.scale_down_delay = Some(SECOND)), Some(SpecError::ScaleDownDelayWithoutRouting));
        check(
            canary(|c| {
                c.traffic_routing = true;
                c.dynamic_stable_scale = true;
                c.scale_down_delay = Some(SECOND);
            }),
            Some(SpecError::DynamicStableScaleWithScaleDownDelay),
        );
        check(
            canary(|c| c.steps = vec![CanaryStep::SetWeight(10), CanaryStep::SetWeight(101)]),
            Some(SpecError::SetWeightOutOfRange { index: 1, weight: 101 }),
        );
        check(
            canary(|c| c.steps = vec![CanaryStep::SetCanaryScale(SetCanaryScale::Replicas(1))]),
            Some(SpecError::SetCanaryScaleWithoutRouting { index: 0 }),
        );
        let mut deadline = canary(|_| {});
        deadline.min_ready_seconds = 600;
        check(deadline, Some(SpecError::DeadlineNotAboveMinReady));
        let mut bg = BlueGreenStrategy::new("svc");
        bg.preview_service = Some("svc".into());
        check(RolloutSpec::new(RolloutStrategy::BlueGreen(bg)), Some(SpecError::SameActiveAndPreviewService));
    }
}
