//! When ReplicaSets that no longer serve traffic are scaled down (`controllers.md` §2.5, §2.6;
//! `rollout/replicaset.go`, `utils/defaults`).
//!
//! Upstream marks such an RS with a `scale-down-deadline` annotation and scales it to zero on
//! the first reconcile at or after that time. Two cases: the previous stable RS after a full
//! promotion (kept briefly so routers and proxies can drain), and the canary or preview RS
//! after an abort (kept so that it can be inspected, or resumed without a cold start).

use super::spec::{BlueGreenStrategy, CanaryStrategy, DEFAULT_SCALE_DOWN_DELAY, RolloutStrategy};
use super::{CanaryView, RsState};
use crate::controllers::rolling::{self, RsCounts};
use crate::engine::SimTime;

/// How the previous stable RS goes after a full promotion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviousStableScaleDown {
    /// Delay from the promotion (the active Service switch, for blue-green) to the deadline;
    /// 0 scales down at once.
    pub delay: SimTime,
    /// Also wait until the post-promotion analysis is Successful.
    pub after_post_promotion_analysis: bool,
}

/// The scale-down of the previous stable RS (`GetScaleDownDelaySecondsOrDefault` and
/// `scaleDownOldReplicaSetsForBlueGreen`).
///
/// Canary: with traffic routing `scaleDownDelaySeconds` (30 s); under dynamicStableScale the
/// stable already shrank with its traffic, so at once; the basic canary at once, but within
/// maxUnavailable (see [`drain_others_basic`]). Blue-green: `scaleDownDelaySeconds` (30 s); if
/// it is unset and a post-promotion analysis exists, also until that analysis succeeds.
pub fn previous_stable_scale_down(strategy: &RolloutStrategy) -> PreviousStableScaleDown {
    match strategy {
        RolloutStrategy::Canary(c) => canary_previous_stable(c),
        RolloutStrategy::BlueGreen(b) => blue_green_previous_stable(b),
    }
}

fn canary_previous_stable(c: &CanaryStrategy) -> PreviousStableScaleDown {
    let delay = if c.dynamic_stable_scale { 0 } else { c.scale_down_delay() };
    PreviousStableScaleDown { delay, after_post_promotion_analysis: false }
}

fn blue_green_previous_stable(b: &BlueGreenStrategy) -> PreviousStableScaleDown {
    PreviousStableScaleDown {
        delay: b.scale_down_delay.unwrap_or(DEFAULT_SCALE_DOWN_DELAY),
        after_post_promotion_analysis: !b.post_promotion_analysis.is_empty() && b.scale_down_delay.is_none(),
    }
}

/// What happens to the canary (or preview) RS once a rollout is aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortScaleDown {
    /// No delay: the replica arithmetic sizes it (weight 0). The basic canary rolls back under
    /// maxSurge/maxUnavailable; under dynamicStableScale without an explicit delay the canary
    /// shrinks as its traffic drops.
    FollowWeight,
    /// Kept at its size indefinitely (`abortScaleDownDelaySeconds: 0`).
    Keep,
    /// Kept until a deadline `delay` after [`abort_deadline_may_start`] first holds, then
    /// scaled to 0.
    After(SimTime),
}

/// `shouldDelayScaleDownOnAbort` with `GetAbortScaleDownDelaySecondsOrDefault`.
pub fn abort_scale_down(strategy: &RolloutStrategy) -> AbortScaleDown {
    let delay = match strategy {
        RolloutStrategy::Canary(c) if !c.traffic_routing => return AbortScaleDown::FollowWeight,
        RolloutStrategy::Canary(c) => {
            let d = c.abort_scale_down();
            if c.dynamic_stable_scale && !d.explicit {
                return AbortScaleDown::FollowWeight;
            }
            d
        }
        RolloutStrategy::BlueGreen(b) => b.abort_scale_down(),
    };
    delay.delay.map_or(AbortScaleDown::Keep, AbortScaleDown::After)
}

/// Whether the abort deadline may be written now: only once the stable RS has all
/// `spec.replicas` available, so that the canary is never removed while the stable could not
/// yet take its traffic back.
pub fn abort_deadline_may_start(stable: Option<RsState>, replicas: i64) -> bool {
    stable.is_some_and(|s| s.available == replicas)
}

/// Whether an RS with a scale-down deadline goes now. Inclusive: upstream keeps the RS only
/// while the deadline is still after `now` (unlike a pause, which ends strictly after).
pub fn scale_down_due(deadline: SimTime, now: SimTime) -> bool {
    now >= deadline
}

/// `scaleDownOldReplicaSetsForCanary` for the basic canary: drains the other (older) RSs,
/// oldest first, as far as `spec.replicas − maxUnavailable` available pods allow. Counts every
/// available pod of the Rollout; mutates `others_oldest_first` and returns the pods removed.
pub fn drain_others_basic(v: &CanaryView, others_oldest_first: &mut [RsCounts]) -> i64 {
    let (_, unavailable) = v.strategy.fenceposts(v.replicas);
    let own = |rs: Option<RsState>| rs.map_or(0, |rs| rs.available);
    let stable = if v.scales_stable() { own(v.stable) } else { 0 };
    let all_available = own(v.new) + stable + others_oldest_first.iter().map(|rs| rs.available).sum::<i64>();
    rolling::scale_down_old_replica_sets_for_rolling_update(
        all_available,
        v.replicas - unavailable,
        others_oldest_first,
    )
}

#[cfg(test)]
mod tests {
    use super::super::CanaryStatus;
    use super::*;
    use crate::controllers::spec::IntOrPercent::Int;
    use crate::engine::SECOND;

    fn canary(f: impl FnOnce(&mut CanaryStrategy)) -> RolloutStrategy {
        let mut c = CanaryStrategy::default();
        f(&mut c);
        RolloutStrategy::Canary(c)
    }

    fn blue_green(f: impl FnOnce(&mut BlueGreenStrategy)) -> RolloutStrategy {
        let mut b = BlueGreenStrategy::new("active");
        f(&mut b);
        RolloutStrategy::BlueGreen(b)
    }

    #[test]
    fn previous_stable_scale_down_by_strategy() {
        let at = |delay| PreviousStableScaleDown { delay, after_post_promotion_analysis: false };
        assert_eq!(previous_stable_scale_down(&canary(|_| {})), at(0));
        assert_eq!(previous_stable_scale_down(&canary(|c| c.traffic_routing = true)), at(30 * SECOND));
        let custom = canary(|c| {
            c.traffic_routing = true;
            c.scale_down_delay = Some(5 * SECOND);
        });
        assert_eq!(previous_stable_scale_down(&custom), at(5 * SECOND));
        let dynamic = canary(|c| {
            c.traffic_routing = true;
            c.dynamic_stable_scale = true;
        });
        assert_eq!(previous_stable_scale_down(&dynamic), at(0));
        assert_eq!(previous_stable_scale_down(&blue_green(|_| {})), at(30 * SECOND));
        let long = blue_green(|b| b.scale_down_delay = Some(600 * SECOND));
        assert_eq!(previous_stable_scale_down(&long), at(600 * SECOND));
        let post = blue_green(|b| b.post_promotion_analysis = vec!["smoke".into()]);
        let want = PreviousStableScaleDown { delay: 30 * SECOND, after_post_promotion_analysis: true };
        assert_eq!(previous_stable_scale_down(&post), want);
        let post_with_delay = blue_green(|b| {
            b.post_promotion_analysis = vec!["smoke".into()];
            b.scale_down_delay = Some(10 * SECOND);
        });
        assert_eq!(previous_stable_scale_down(&post_with_delay), at(10 * SECOND));
    }

    #[test]
    fn abort_scale_down_by_strategy() {
        let routed = |f: fn(&mut CanaryStrategy)| {
            canary(|c| {
                c.traffic_routing = true;
                f(c);
            })
        };
        let cases = [
            ("basic canary", canary(|_| {}), AbortScaleDown::FollowWeight),
            ("routed, default", routed(|_| {}), AbortScaleDown::After(30 * SECOND)),
            ("routed, 0 = never", routed(|c| c.abort_scale_down_delay = Some(0)), AbortScaleDown::Keep),
            (
                "routed, 10 s",
                routed(|c| c.abort_scale_down_delay = Some(10 * SECOND)),
                AbortScaleDown::After(10 * SECOND),
            ),
            ("dynamic, unset", routed(|c| c.dynamic_stable_scale = true), AbortScaleDown::FollowWeight),
            (
                "dynamic, explicit",
                routed(|c| {
                    c.dynamic_stable_scale = true;
                    c.abort_scale_down_delay = Some(10 * SECOND);
                }),
                AbortScaleDown::After(10 * SECOND),
            ),
            ("blue-green, default", blue_green(|_| {}), AbortScaleDown::After(30 * SECOND)),
            (
                "blue-green, 0 = never",
                blue_green(|b| b.abort_scale_down_delay = Some(0)),
                AbortScaleDown::Keep,
            ),
        ];
        for (name, strategy, want) in cases {
            assert_eq!(abort_scale_down(&strategy), want, "{name}");
        }
    }

    #[test]
    fn deadlines() {
        assert!(!abort_deadline_may_start(None, 10));
        assert!(!abort_deadline_may_start(Some(RsState::new(10, 9)), 10));
        assert!(abort_deadline_may_start(Some(RsState::new(10, 10)), 10));
        assert!(!scale_down_due(30 * SECOND, 30 * SECOND - 1));
        assert!(scale_down_due(30 * SECOND, 30 * SECOND), "inclusive, unlike pauses");
    }

    #[test]
    fn drain_others_within_max_unavailable() {
        // R=10, maxUnavailable 1 (floor 9 available); older RSs 2/2 and 3/3, oldest first.
        // Canary 3/3 and stable 5 with 3 available: 11 available, so 2 pods may go.
        let strategy = CanaryStrategy { max_surge: Int(0), max_unavailable: Int(1), ..Default::default() };
        let v = CanaryView {
            strategy: &strategy,
            replicas: 10,
            status: CanaryStatus::default(),
            new: Some(RsState::new(3, 3)),
            stable: Some(RsState::new(5, 3)),
            others: &[],
            weights: None,
        };
        let mut others = [RsCounts { spec: 2, available: 2 }, RsCounts { spec: 3, available: 3 }];
        assert_eq!(drain_others_basic(&v, &mut others), 2);
        assert_eq!(others.map(|rs| rs.spec), [0, 3]);
        // Stable 5/5: 13 available, so 4 may go.
        let v = CanaryView { stable: Some(RsState::new(5, 5)), ..v };
        let mut others = [RsCounts { spec: 2, available: 2 }, RsCounts { spec: 3, available: 3 }];
        assert_eq!(drain_others_basic(&v, &mut others), 4);
        assert_eq!(others.map(|rs| rs.spec), [0, 1]);
    }
}
