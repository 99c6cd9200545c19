//! Whether the canary or primary Deployment is ready for the analysis to go on
//! (`pkg/canary/deployment_ready.go`: `IsCanaryReady`, `IsPrimaryReady`,
//! `isDeploymentReady`). The world computes a [`Readiness`] from its Deployment status and
//! passes it to the tick.

use crate::engine::SimTime;

/// The readiness verdict, with upstream's retriable/non-retriable distinction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Still rolling out (retriable): the tick ends without counting a failed check.
    NotReady,
    /// Stuck past the progress deadline (non-retriable): Flagger rolls back.
    Stuck,
}

/// The parts of a Deployment's status `isDeploymentReady` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadStatus {
    /// `spec.replicas`.
    pub spec_replicas: i64,
    /// `status.replicas`.
    pub replicas: i64,
    /// `status.updatedReplicas`.
    pub updated: i64,
    /// `status.availableReplicas`.
    pub available: i64,
    /// `generation <= status.observedGeneration`: the controller has seen the latest spec.
    pub observed: bool,
    /// Whether the Deployment has a `Progressing` condition at all.
    pub has_progressing_condition: bool,
    /// `Progressing` is False with reason `ProgressDeadlineExceeded`.
    pub deadline_exceeded: bool,
    /// `lastUpdateTime` of an `Available=False/MinimumReplicasUnavailable` condition.
    pub unavailable_since: Option<SimTime>,
}

/// `isDeploymentReady`. Waiting is retriable unless the Deployment has been short of its
/// minimum availability for longer than Flagger's `progress_deadline` (strictly, as
/// `from.Add(deadline).Before(now)`); the Deployment's own `ProgressDeadlineExceeded` is
/// never retriable. The threshold is computed in `float32` and truncated, as upstream does.
pub fn workload_readiness(
    w: &WorkloadStatus,
    ready_threshold_percent: u32,
    progress_deadline: SimTime,
    now: SimTime,
) -> Readiness {
    if !w.observed {
        return Readiness::NotReady;
    }
    let stuck = w.has_progressing_condition
        && w.unavailable_since.is_some_and(|from| from.saturating_add(progress_deadline) < now);
    let waiting = if stuck { Readiness::Stuck } else { Readiness::NotReady };
    if w.has_progressing_condition && w.deadline_exceeded {
        Readiness::Stuck
    } else if w.updated < w.spec_replicas
        || w.replicas > w.updated
        || w.available < ready_threshold_replicas(w.updated, ready_threshold_percent)
    {
        waiting
    } else {
        Readiness::Ready
    }
}

/// `IsPrimaryReady`: also halts (retriably) while the primary is scaled to zero.
pub fn primary_readiness(
    w: &WorkloadStatus,
    ready_threshold_percent: u32,
    progress_deadline: SimTime,
    now: SimTime,
) -> Readiness {
    match workload_readiness(w, ready_threshold_percent, progress_deadline, now) {
        Readiness::Ready if w.spec_replicas == 0 => Readiness::NotReady,
        r => r,
    }
}

/// `int32(float32(updated) * float32(threshold)/100)`: the available replicas required.
pub fn ready_threshold_replicas(updated: i64, ready_threshold_percent: u32) -> i64 {
    let ratio = ready_threshold_percent as f32 / 100.0;
    (updated as f32 * ratio) as i64
}

/// `ScaleFromZero`: the canary's own `spec.replicas` if positive; else, without an HPA, the
/// primary's if positive; else (an HPA) its `minReplicas` if above 1; else 1.
pub fn scale_from_zero_replicas(target: i64, primary: i64, hpa_min_replicas: Option<i64>) -> i64 {
    if target > 0 {
        return target;
    }
    match hpa_min_replicas {
        None if primary > 0 => primary,
        Some(min) if min > 1 => min,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use Readiness::*;

    const DEADLINE: SimTime = 600 * SECOND;

    fn status(spec: i64, replicas: i64, updated: i64, available: i64) -> WorkloadStatus {
        WorkloadStatus {
            spec_replicas: spec,
            replicas,
            updated,
            available,
            observed: true,
            has_progressing_condition: true,
            ..Default::default()
        }
    }

    #[test]
    fn rollout_in_progress_is_retriable() {
        let now = 1000 * SECOND;
        assert_eq!(workload_readiness(&status(3, 3, 3, 3), 100, DEADLINE, now), Ready);
        assert_eq!(workload_readiness(&status(3, 3, 2, 3), 100, DEADLINE, now), NotReady);
        assert_eq!(workload_readiness(&status(3, 4, 3, 3), 100, DEADLINE, now), NotReady);
        assert_eq!(workload_readiness(&status(3, 3, 3, 2), 100, DEADLINE, now), NotReady);
        let unobserved = WorkloadStatus { observed: false, ..status(3, 3, 3, 3) };
        assert_eq!(workload_readiness(&unobserved, 100, DEADLINE, now), NotReady);
    }

    #[test]
    fn ready_threshold_truncates_in_float32() {
        // 3 updated at 50% need int32(1.5) = 1 available; 10 at 70% need 7.
        assert_eq!(ready_threshold_replicas(3, 50), 1);
        assert_eq!(ready_threshold_replicas(10, 70), 7);
        assert_eq!(ready_threshold_replicas(10, 100), 10);
        assert_eq!(ready_threshold_replicas(7, 0), 0);
        assert_eq!(workload_readiness(&status(3, 3, 3, 1), 50, DEADLINE, 0), Ready);
    }

    #[test]
    fn stuck_past_the_deadline_is_not_retriable() {
        let since = 100 * SECOND;
        let w = WorkloadStatus { unavailable_since: Some(since), ..status(3, 3, 3, 1) };
        assert_eq!(workload_readiness(&w, 100, DEADLINE, since + DEADLINE), NotReady);
        assert_eq!(workload_readiness(&w, 100, DEADLINE, since + DEADLINE + 1), Stuck);
        // Ready wins over an old MinimumReplicasUnavailable condition.
        assert_eq!(workload_readiness(&w, 50, DEADLINE, since + DEADLINE + 1), Ready);
        let exceeded = WorkloadStatus { deadline_exceeded: true, ..status(3, 3, 3, 3) };
        assert_eq!(workload_readiness(&exceeded, 100, DEADLINE, 0), Stuck);
    }

    #[test]
    fn primary_scaled_to_zero_halts() {
        assert_eq!(workload_readiness(&status(0, 0, 0, 0), 100, DEADLINE, 0), Ready);
        assert_eq!(primary_readiness(&status(0, 0, 0, 0), 100, DEADLINE, 0), NotReady);
    }

    #[test]
    fn scale_from_zero_prefers_own_replicas_then_primary_then_hpa() {
        assert_eq!(scale_from_zero_replicas(3, 5, None), 3);
        assert_eq!(scale_from_zero_replicas(0, 5, None), 5);
        assert_eq!(scale_from_zero_replicas(0, 0, None), 1);
        assert_eq!(scale_from_zero_replicas(0, 5, Some(2)), 2);
        assert_eq!(scale_from_zero_replicas(0, 5, Some(0)), 1);
    }
}
