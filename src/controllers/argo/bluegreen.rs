//! Blue-green decisions (`rollout/bluegreen.go`, `utils/replicaset`, `controllers.md` §2.7).
//!
//! The sequence: the new RS is created and the preview Service points at it; it is scaled to
//! `previewReplicaCount` (or `spec.replicas`); once fully available the pre-promotion analysis
//! runs; then the rollout pauses if asked to; on resume the new RS grows to `spec.replicas`,
//! the active Service switches, the post-promotion analysis runs, and the old RS goes after
//! `scaleDownDelaySeconds`. The stable RS always stays at `spec.replicas`.

use super::RsState;
use super::spec::BlueGreenStrategy;
use crate::engine::SimTime;

/// The part of `Rollout.status` (and Services) that blue-green sizing reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlueGreenStatus {
    /// The active Service selects no RS yet, or already selects the new RS.
    pub active_is_none_or_new: bool,
    /// `status.promoteFull`.
    pub promote_full: bool,
    /// `status.currentPodHash` already names the new RS (false in the reconcile that first
    /// sees a template change).
    pub new_is_current: bool,
    /// `spec.paused`, or any pause condition present.
    pub paused: bool,
    /// `status.blueGreen.scaleUpPreviewCheckPoint` (see [`scale_up_preview_checkpoint`]).
    pub scale_up_preview_checkpoint: bool,
}

/// `NewRSNewReplicas` for blue-green: the size the new RS should have now.
///
/// Without `previewReplicaCount` always `spec.replicas` (blue-green doubles capacity). With it,
/// the preview runs small until promotion: full size once the active Service points at the new
/// RS, on a full promotion, or once resumed past the scale-up checkpoint.
pub fn new_rs_new_replicas(spec: &BlueGreenStrategy, replicas: i64, st: &BlueGreenStatus) -> i64 {
    let Some(preview) = spec.preview_replica_count else {
        return replicas;
    };
    if st.active_is_none_or_new || st.promote_full {
        return replicas;
    }
    if !st.new_is_current {
        return preview;
    }
    if !st.paused && st.scale_up_preview_checkpoint { replicas } else { preview }
}

/// `ReadyForPause`: the new RS has exactly the pods it should, all available. Only then does
/// pre-promotion analysis start and the promotion pause begin.
pub fn ready_for_pause(new: RsState, desired: i64) -> bool {
    new.spec == desired && new.available == desired
}

/// `calculateScaleUpPreviewCheckPoint`: a one-way trip wire, set once the preview pods are all
/// available and the pre-promotion analysis and pause are both behind. The caller resets it
/// (to false) on a template change and on full promotion.
pub fn scale_up_preview_checkpoint(
    spec: &BlueGreenStrategy,
    previous: bool,
    gates_passed: bool,
    new_available: i64,
) -> bool {
    match spec.preview_replica_count {
        None => false,
        Some(_) if previous => true,
        Some(preview) => gates_passed && new_available == preview,
    }
}

/// Whether the rollout pauses before switching the active Service: when auto-promotion is
/// disabled (a manual gate) or delayed by `autoPromotionSeconds`.
pub fn pauses_before_promotion(spec: &BlueGreenStrategy) -> bool {
    !spec.auto_promotion_enabled || spec.auto_promotion_seconds > 0
}

/// Whether the `BlueGreenPause` that started at `pause_started` has run out
/// (`CompletedBlueGreenPause`): strictly after `start + autoPromotionSeconds`.
///
/// Only with auto-promotion enabled: with `autoPromotionEnabled: false` the rollout waits for a
/// manual promote even if `autoPromotionSeconds` is set (argo-rollouts#2000).
pub fn auto_promotion_due(spec: &BlueGreenStrategy, pause_started: SimTime, now: SimTime) -> bool {
    spec.auto_promotion_enabled
        && spec.auto_promotion_seconds > 0
        && now > pause_started.saturating_add(spec.auto_promotion_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;

    #[test]
    fn new_rs_new_replicas_with_preview_replica_count() {
        // TestNewRSNewReplicasWitPreviewReplicaCount: previewReplicaCount 1, replicas 10.
        let mut spec = BlueGreenStrategy::new("active");
        spec.preview_replica_count = Some(1);
        let base = BlueGreenStatus { new_is_current: true, ..Default::default() };
        let cases = [
            ("no active RS", BlueGreenStatus { active_is_none_or_new: true, ..base }, 10),
            (
                "active is the new RS",
                BlueGreenStatus { active_is_none_or_new: true, new_is_current: false, ..base },
                10,
            ),
            ("currentPodHash mismatch: a new update", BlueGreenStatus { new_is_current: false, ..base }, 1),
            (
                "checkpoint passed, not paused",
                BlueGreenStatus { scale_up_preview_checkpoint: true, ..base },
                10,
            ),
            (
                "checkpoint passed but paused",
                BlueGreenStatus { scale_up_preview_checkpoint: true, paused: true, ..base },
                1,
            ),
            ("otherwise", base, 1),
            ("promoteFull", BlueGreenStatus { promote_full: true, new_is_current: false, ..base }, 10),
        ];
        for (name, st, want) in cases {
            assert_eq!(new_rs_new_replicas(&spec, 10, &st), want, "{name}");
        }
        spec.preview_replica_count = None;
        assert_eq!(new_rs_new_replicas(&spec, 10, &BlueGreenStatus::default()), 10, "no previewReplicaCount");
    }

    #[test]
    fn ready_for_pause_needs_every_pod_available() {
        assert!(ready_for_pause(RsState::new(3, 3), 3));
        assert!(!ready_for_pause(RsState::new(3, 2), 3));
        assert!(!ready_for_pause(RsState::new(10, 10), 3));
    }

    #[test]
    fn checkpoint_trips_once_after_the_gates() {
        let mut spec = BlueGreenStrategy::new("active");
        assert!(!scale_up_preview_checkpoint(&spec, true, true, 1), "feature unused");
        spec.preview_replica_count = Some(2);
        assert!(!scale_up_preview_checkpoint(&spec, false, false, 2), "still paused or analysing");
        assert!(!scale_up_preview_checkpoint(&spec, false, true, 1), "preview not all available");
        assert!(scale_up_preview_checkpoint(&spec, false, true, 2));
        assert!(scale_up_preview_checkpoint(&spec, true, false, 0), "stays tripped");
    }

    #[test]
    fn promotion_pause_and_auto_promotion() {
        let mut spec = BlueGreenStrategy::new("active");
        assert!(!pauses_before_promotion(&spec), "defaults promote at once");
        spec.auto_promotion_seconds = 30 * SECOND;
        assert!(pauses_before_promotion(&spec));
        assert!(!auto_promotion_due(&spec, 100 * SECOND, 130 * SECOND), "strict");
        assert!(auto_promotion_due(&spec, 100 * SECOND, 130 * SECOND + 1));
        spec.auto_promotion_enabled = false;
        assert!(pauses_before_promotion(&spec));
        assert!(!auto_promotion_due(&spec, 100 * SECOND, 1_000 * SECOND), "manual gate (#2000)");
        spec.auto_promotion_seconds = 0;
        assert!(pauses_before_promotion(&spec));
    }
}
