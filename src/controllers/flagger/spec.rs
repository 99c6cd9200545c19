//! The subset of a `flagger.app/v1beta1 Canary` that the analysis loop reads.
//!
//! Fields hold what the manifest says, with Go's zero value meaning "unset" exactly as in
//! upstream `CanaryAnalysis` (a `threshold` of 0 is unset, not zero); the methods apply
//! Flagger's defaults the way its getters do (`pkg/apis/flagger/v1beta1/canary.go`,
//! `scheduler.go`), so nothing here can drift from one default table to another.

use crate::engine::{SECOND, SimTime};

/// Every route's total: Flagger writes primary/canary pairs summing to 100
/// (`Controller.totalWeight`).
pub const TOTAL_WEIGHT: u32 = 100;
/// `AnalysisInterval`: the analysis interval when unset.
pub const DEFAULT_INTERVAL: SimTime = 60 * SECOND;
/// `GetAnalysisInterval` raises shorter intervals to this.
pub const MIN_INTERVAL: SimTime = 10 * SECOND;
/// `ProgressDeadlineSeconds`: the default deadline of the canary and primary rollouts.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: u32 = 600;
/// Default `canaryReadyThreshold` / `primaryReadyThreshold` (percent of updated replicas).
pub const DEFAULT_READY_THRESHOLD: u32 = 100;
/// Iterations the `kubernetes` provider forces when none are set (Blue/Green only).
pub const KUBERNETES_DEFAULT_ITERATIONS: u32 = 10;

/// `spec.provider`: who routes the traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Provider {
    /// A `VirtualService` with weighted `<app>-primary` / `<app>-canary` destinations.
    #[default]
    Istio,
    /// No mesh (`NopRouter`): the apex Service always selects the primary; Blue/Green only.
    Kubernetes,
}

/// The deployment strategy one tick follows (`advanceCanary`'s dispatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Progressive traffic shifting by `stepWeight`/`stepWeights` up to `maxWeight`.
    Canary,
    /// `match` and `iterations`: matched requests go to the canary for `iterations` ticks.
    ABTesting { iterations: u32 },
    /// `iterations` without `match`: analyse, switch all traffic, promote.
    BlueGreen { iterations: u32 },
}

/// `spec.analysis` as written (0 / empty / `None` = unset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanaryAnalysis {
    /// `interval`, parsed; `None` when unset or unparseable (both mean 60 s upstream).
    pub interval: Option<SimTime>,
    /// `threshold`: failed checks before rollback.
    pub threshold: u32,
    /// `maxWeight` (percent).
    pub max_weight: u32,
    /// `stepWeight` (percent); takes precedence over `stepWeights` when set.
    pub step_weight: u32,
    /// `stepWeights`: the canary weights to visit, in order.
    pub step_weights: Vec<u32>,
    /// `stepWeightPromotion`: primary weight gained per tick while promoting; 0 = all at once.
    pub step_weight_promotion: u32,
    /// `iterations` (A/B testing and Blue/Green).
    pub iterations: u32,
    /// Whether `match` has conditions (A/B testing).
    pub has_match: bool,
    /// `mirror`: shadow traffic to the canary before shifting (canary) or while testing (B/G).
    pub mirror: bool,
    /// `mirrorWeight`: percent of requests mirrored; 0 = Istio's default (all).
    pub mirror_weight: u32,
    /// `canaryReadyThreshold` (percent).
    pub canary_ready_threshold: Option<u32>,
    /// `primaryReadyThreshold` (percent).
    pub primary_ready_threshold: Option<u32>,
}

impl CanaryAnalysis {
    /// `GetAnalysisInterval`: 60 s when unset, never below 10 s.
    pub fn interval(&self) -> SimTime {
        self.interval.map_or(DEFAULT_INTERVAL, |i| i.max(MIN_INTERVAL))
    }

    /// `GetAnalysisThreshold`: 1 when unset.
    pub fn threshold(&self) -> u32 {
        if self.threshold > 0 { self.threshold } else { 1 }
    }

    /// `Controller.maxWeight`: the last of `stepWeights` (at most 100) when they are set,
    /// else `maxWeight`, else 100.
    pub fn max_weight(&self) -> u32 {
        match self.step_weights.last() {
            Some(&last) => last.min(TOTAL_WEIGHT),
            None if self.max_weight > 0 => self.max_weight,
            None => TOTAL_WEIGHT,
        }
    }

    /// The share of requests mirrored while mirroring (Istio's `mirrorPercentage`).
    pub fn mirror_fraction(&self) -> f64 {
        if self.mirror_weight > 0 { f64::from(self.mirror_weight.min(100)) / 100.0 } else { 1.0 }
    }

    /// `GetAnalysisCanaryReadyThreshold`: percent of updated canary replicas that must be
    /// available (default 100).
    pub fn canary_ready_threshold(&self) -> u32 {
        self.canary_ready_threshold.unwrap_or(DEFAULT_READY_THRESHOLD)
    }

    /// `GetAnalysisPrimaryReadyThreshold` (default 100).
    pub fn primary_ready_threshold(&self) -> u32 {
        self.primary_ready_threshold.unwrap_or(DEFAULT_READY_THRESHOLD)
    }

    /// The strategy of a tick. The `kubernetes` provider cannot split traffic, so upstream
    /// drops `match` and sets `iterations: 10` when it is unset, at the moment of dispatch.
    pub fn strategy(&self, provider: Provider) -> Strategy {
        let (has_match, iterations) = match provider {
            Provider::Istio => (self.has_match, self.iterations),
            Provider::Kubernetes if self.iterations < 1 => (false, KUBERNETES_DEFAULT_ITERATIONS),
            Provider::Kubernetes => (false, self.iterations),
        };
        match (has_match, iterations) {
            (true, n) if n > 0 => Strategy::ABTesting { iterations: n },
            (_, n) if n > 0 => Strategy::BlueGreen { iterations: n },
            _ => Strategy::Canary,
        }
    }
}

/// The Canary object as the controller reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanarySpec {
    pub name: String,
    pub namespace: String,
    /// `targetRef.name`: the Deployment under test; the primary is `<target>-primary`.
    pub target: String,
    pub provider: Provider,
    /// `progressDeadlineSeconds`.
    pub progress_deadline_seconds: Option<u32>,
    /// `skipAnalysis`: promote on the first tick after the canary is ready.
    pub skip_analysis: bool,
    pub analysis: CanaryAnalysis,
}

impl CanarySpec {
    /// `GetProgressDeadlineSeconds` as simulated time (default 600 s).
    pub fn progress_deadline(&self) -> SimTime {
        u64::from(self.progress_deadline_seconds.unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)) * SECOND
    }

    /// The primary Deployment's name.
    pub fn primary_name(&self) -> String {
        format!("{}-primary", self.target)
    }

    /// The strategy of this Canary's ticks.
    pub fn strategy(&self) -> Strategy {
        self.analysis.strategy(self.provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_upstream_getters() {
        let a = CanaryAnalysis::default();
        assert_eq!(a.interval(), 60 * SECOND);
        assert_eq!(a.threshold(), 1);
        assert_eq!(a.max_weight(), 100);
        assert_eq!(a.canary_ready_threshold(), 100);
        assert_eq!(a.primary_ready_threshold(), 100);
        assert_eq!(a.mirror_fraction(), 1.0);
        assert_eq!(CanarySpec::default().progress_deadline(), 600 * SECOND);
        assert_eq!(a.strategy(Provider::Istio), Strategy::Canary);
    }

    #[test]
    fn interval_is_clamped_to_ten_seconds() {
        let with = |s: u64| CanaryAnalysis { interval: Some(s * SECOND), ..Default::default() }.interval();
        assert_eq!(with(0), 10 * SECOND);
        assert_eq!(with(5), 10 * SECOND);
        assert_eq!(with(10), 10 * SECOND);
        assert_eq!(with(30), 30 * SECOND);
    }

    #[test]
    fn max_weight_prefers_step_weights() {
        let a = CanaryAnalysis { max_weight: 50, ..Default::default() };
        assert_eq!(a.max_weight(), 50);
        let a = CanaryAnalysis { max_weight: 50, step_weights: vec![1, 2, 10, 80], ..Default::default() };
        assert_eq!(a.max_weight(), 80);
        let a = CanaryAnalysis { step_weights: vec![10, 120], ..Default::default() };
        assert_eq!(a.max_weight(), 100);
    }

    #[test]
    fn strategy_by_match_iterations_and_provider() {
        let ab = CanaryAnalysis { has_match: true, iterations: 10, ..Default::default() };
        assert_eq!(ab.strategy(Provider::Istio), Strategy::ABTesting { iterations: 10 });
        assert_eq!(ab.strategy(Provider::Kubernetes), Strategy::BlueGreen { iterations: 10 });
        let bg = CanaryAnalysis { iterations: 3, ..Default::default() };
        assert_eq!(bg.strategy(Provider::Istio), Strategy::BlueGreen { iterations: 3 });
        let match_only = CanaryAnalysis { has_match: true, ..Default::default() };
        assert_eq!(match_only.strategy(Provider::Istio), Strategy::Canary);
        let canary = CanaryAnalysis { step_weight: 10, ..Default::default() };
        assert_eq!(canary.strategy(Provider::Kubernetes), Strategy::BlueGreen { iterations: 10 });
    }
}
