//! Flagger's weight arithmetic: the next step (`nextStepWeight`), one increase of the
//! canary's share (`runCanary`), and one tick of the promotion shift
//! (`runPromotionTrafficShift`), all from `pkg/controller/scheduler.go`.
//!
//! Weights are whole percent. Upstream reads the current weights back from the router each
//! tick and writes new ones; [`Routes`] is that pair plus the mirror flag.

use super::spec::{CanaryAnalysis, TOTAL_WEIGHT};

/// The primary/canary weights of the route Flagger manages and whether the canary gets a
/// mirror of the primary's traffic (its responses discarded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routes {
    pub primary: u32,
    pub canary: u32,
    pub mirrored: bool,
}

impl Routes {
    /// All traffic to the primary: the state after initialisation, rollback and promotion.
    pub const PRIMARY: Routes = Routes { primary: TOTAL_WEIGHT, canary: 0, mirrored: false };
    /// All (matched) traffic to the canary: A/B testing and the Blue/Green switch.
    pub const CANARY: Routes = Routes { primary: 0, canary: TOTAL_WEIGHT, mirrored: false };

    pub const fn new(primary: u32, canary: u32, mirrored: bool) -> Self {
        Self { primary, canary, mirrored }
    }
}

impl std::fmt::Display for Routes {
    /// The trace's `TrafficWeight` message, in the words every controller uses (the
    /// primary is the stable version).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "canary {}% stable {}%", self.canary, self.primary)?;
        if self.mirrored { write!(f, " (mirrored)") } else { Ok(()) }
    }
}

/// `nextStepWeight`: how much the canary's weight grows from `canary_weight`.
///
/// `stepWeight`, when set (or when there are no `stepWeights`), is the step whatever the
/// weight. With `stepWeights` only: the first listed weight from 0, then the difference to
/// the next listed weight, never beyond 100; an unlisted weight steps straight to 100, and
/// at 100 the step is 1 so that the caller still reaches its promotion branch.
pub fn next_step_weight(analysis: &CanaryAnalysis, canary_weight: u32) -> u32 {
    let steps = &analysis.step_weights;
    if analysis.step_weight > 0 || steps.is_empty() {
        return analysis.step_weight;
    }
    let max_step = TOTAL_WEIGHT.saturating_sub(canary_weight);
    if max_step == 0 {
        return 1;
    }
    if canary_weight == 0 {
        return max_step.min(steps[0]);
    }
    // Upstream never looks the last listed weight up: from there it steps to 100, which is
    // harmless because the caller promotes once the weight reaches maxWeight (the last).
    match steps[..steps.len() - 1].iter().position(|&w| w == canary_weight) {
        Some(i) => max_step.min(steps[i + 1].saturating_sub(canary_weight)),
        None => max_step,
    }
}

/// `runCanary`'s increase branch (taken while `canary < maxWeight`): the routes to write.
///
/// With `mirror` at weight 0 there is one extra step: first 100/0 mirrored, then the first
/// real step, unmirrored. Otherwise the step moves from primary to canary; the canary is
/// capped at 100, **not** at `maxWeight`, which is why stepWeight 20 with maxWeight 50
/// visits 60 before promoting.
pub fn increase(analysis: &CanaryAnalysis, routes: Routes) -> Routes {
    let step = next_step_weight(analysis, routes.canary);
    if analysis.mirror && routes.canary == 0 {
        return if routes.mirrored {
            Routes::new(TOTAL_WEIGHT.saturating_sub(step), step, false)
        } else {
            Routes::new(TOTAL_WEIGHT, 0, true)
        };
    }
    Routes::new(
        routes.primary.saturating_sub(step),
        (routes.canary + step).min(TOTAL_WEIGHT),
        routes.mirrored,
    )
}

/// What one Promoting tick does to the routes (`runPromotionTrafficShift`, mesh providers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromotionStep {
    /// Write these routes and stay Promoting.
    Shift(Routes),
    /// Write these routes (all to the primary) and move to Finalising.
    Finish(Routes),
    /// Nothing: a canary already at 0 with a `stepWeightPromotion` never finishes upstream.
    Stalled,
}

/// `runPromotionTrafficShift`: with `stepWeightPromotion` 0, everything back to the primary
/// in one tick; otherwise the primary gains the step (the canary loses it) each tick until
/// the primary holds all the weight.
pub fn promotion_step(step_weight_promotion: u32, routes: Routes) -> PromotionStep {
    if step_weight_promotion == 0 {
        return PromotionStep::Finish(Routes::PRIMARY);
    }
    if routes.canary == 0 {
        return PromotionStep::Stalled;
    }
    let primary = (routes.primary + step_weight_promotion).min(TOTAL_WEIGHT);
    let next = Routes::new(primary, routes.canary.saturating_sub(step_weight_promotion), false);
    if primary == TOTAL_WEIGHT { PromotionStep::Finish(next) } else { PromotionStep::Shift(next) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(step: u32, max: u32) -> CanaryAnalysis {
        CanaryAnalysis { step_weight: step, max_weight: max, ..Default::default() }
    }

    /// The routes `runCanary` writes from 0 until it reaches maxWeight (the tick after the
    /// last one returned promotes).
    fn progression(a: &CanaryAnalysis) -> Vec<Routes> {
        let mut routes = Routes::PRIMARY;
        let mut seen = Vec::new();
        while routes.canary < a.max_weight() {
            assert!(next_step_weight(a, routes.canary) > 0, "no progress from {routes}");
            routes = increase(a, routes);
            seen.push(routes);
            assert!(seen.len() <= 101, "runaway progression");
        }
        seen
    }

    fn canary_weights(a: &CanaryAnalysis) -> Vec<u32> {
        progression(a).iter().map(|r| r.canary).collect()
    }

    #[test]
    fn linear_steps_overshoot_max_weight() {
        // Docs vector: maxWeight 50, stepWeight 20 → 20, 40, 60, then promote.
        assert_eq!(canary_weights(&linear(20, 50)), [20, 40, 60]);
        assert_eq!(canary_weights(&linear(10, 50)), [10, 20, 30, 40, 50]);
        assert_eq!(canary_weights(&linear(100, 0)), [100]);
        assert_eq!(canary_weights(&linear(30, 0)), [30, 60, 90, 100]);
        for r in progression(&linear(20, 50)) {
            assert_eq!(r.primary + r.canary, 100);
            assert!(!r.mirrored);
        }
    }

    #[test]
    fn step_weights_are_visited_in_order() {
        // Docs vector: stepWeights [1, 2, 10, 80] → 1, 2, 10, 80, then promote.
        let a = CanaryAnalysis { step_weights: vec![1, 2, 10, 80], ..Default::default() };
        assert_eq!(a.max_weight(), 80);
        assert_eq!(canary_weights(&a), [1, 2, 10, 80]);
        assert_eq!([0, 1, 2, 10].map(|w| next_step_weight(&a, w)), [1, 1, 8, 70]);
        // The last weight and unlisted weights step to 100; at 100 the step is 1.
        assert_eq!([80, 5, 100].map(|w| next_step_weight(&a, w)), [20, 95, 1]);
        // stepWeight takes precedence over stepWeights (but maxWeight still comes from them).
        let both = CanaryAnalysis { step_weight: 25, step_weights: vec![5, 50], ..Default::default() };
        assert_eq!(canary_weights(&both), [25, 50]);
    }

    #[test]
    fn mirroring_adds_one_mirrored_step_at_zero() {
        // scheduler_deployment_test TestScheduler_DeploymentMirroring: 100/0 mirrored → 90/10.
        let a = CanaryAnalysis { step_weight: 10, max_weight: 30, mirror: true, ..Default::default() };
        assert_eq!(
            progression(&a),
            [
                Routes::new(100, 0, true),
                Routes::new(90, 10, false),
                Routes::new(80, 20, false),
                Routes::new(70, 30, false)
            ]
        );
        assert_eq!(Routes::new(100, 0, true).to_string(), "canary 0% stable 100% (mirrored)");
        assert_eq!(Routes::new(90, 10, false).to_string(), "canary 10% stable 90%");
    }

    #[test]
    fn promotion_shift_with_and_without_step() {
        use PromotionStep::*;
        assert_eq!(promotion_step(0, Routes::new(50, 50, false)), Finish(Routes::PRIMARY));
        // stepWeight 100 + stepWeightPromotion 50: 0/100 → 50/50 → 100/0 (Finalising).
        assert_eq!(promotion_step(50, Routes::CANARY), Shift(Routes::new(50, 50, false)));
        assert_eq!(promotion_step(50, Routes::new(50, 50, false)), Finish(Routes::PRIMARY));
        // From 60/40 (maxWeight 40) with step 30: 90/10, then 100/0.
        assert_eq!(promotion_step(30, Routes::new(60, 40, false)), Shift(Routes::new(90, 10, false)));
        assert_eq!(promotion_step(30, Routes::new(90, 10, false)), Finish(Routes::PRIMARY));
        assert_eq!(promotion_step(30, Routes::PRIMARY), Stalled);
    }
}
