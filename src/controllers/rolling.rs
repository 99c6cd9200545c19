//! The replica arithmetic of the Kubernetes Deployment controller, as pure functions.
//!
//! Everything here mirrors `pkg/controller/deployment/rolling.go`, `progress.go` and
//! `util/deployment_util.go` (see `controllers.md` §1.2, §1.3, §1.6): no state, no time source,
//! no pods. `deployment.rs` strings these together into one sync; keeping them apart lets the
//! upstream unit-test vectors be replayed one function at a time.
//!
//! Counts are `i64` (upstream uses `int32`) so that intermediate differences such as
//! `Σ spec − minAvailable − newUnavailable` can go negative without wrapping.

use super::spec::{DeploymentStrategy, IntOrPercent};
use crate::engine::SimTime;

/// Resolves a count-or-percentage against `total` (`intstr.GetValueFromIntOrPercent`).
///
/// Percentages round up for maxSurge and down for maxUnavailable: both roundings err on the
/// side of keeping capacity (more surge pods allowed, fewer pods allowed to be missing).
/// Integer arithmetic gives exactly what Go's `math.Ceil/Floor(p*total/100)` gives, because
/// `p*total` is an exact integer and an exact integral quotient survives the float division.
pub fn value_from_int_or_percent(v: IntOrPercent, total: i64, round_up: bool) -> i64 {
    match v {
        IntOrPercent::Int(n) => n,
        IntOrPercent::Percent(p) => {
            let scaled = p * total;
            if round_up { -(-scaled).div_euclid(100) } else { scaled.div_euclid(100) }
        }
    }
}

/// Resolves maxSurge (rounded up) and maxUnavailable (rounded down) together
/// (`ResolveFenceposts`). Returns `(surge, unavailable)`.
///
/// Validation forbids writing 0/0, but rounding down can still produce it (e.g. 10% of 5);
/// a rollout with neither surge nor unavailability could never move, so upstream then allows
/// one unavailable pod ("surge might not work due to quota").
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    desired: i64,
) -> (i64, i64) {
    let surge = value_from_int_or_percent(max_surge, desired, true);
    let unavailable = value_from_int_or_percent(max_unavailable, desired, false);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

/// How many of `replicas` pods a rolling update may take away (`MaxUnavailable`).
///
/// Clamped to `replicas` (one cannot lose more pods than one wants), and 0 for Recreate or an
/// empty Deployment, which have no availability budget to honour.
pub fn max_unavailable(strategy: &DeploymentStrategy, replicas: i64) -> i64 {
    match strategy {
        DeploymentStrategy::RollingUpdate { max_surge, max_unavailable } if replicas != 0 => {
            resolve_fenceposts(*max_surge, *max_unavailable, replicas).1.min(replicas)
        }
        _ => 0,
    }
}

/// How many pods above `replicas` a rolling update may run (`MaxSurge`); 0 for Recreate.
///
/// Unlike [`max_unavailable`] upstream applies no clamp: a surge larger than `replicas` is legal.
pub fn max_surge(strategy: &DeploymentStrategy, replicas: i64) -> i64 {
    match strategy {
        DeploymentStrategy::RollingUpdate { max_surge, max_unavailable } => {
            resolve_fenceposts(*max_surge, *max_unavailable, replicas).0
        }
        DeploymentStrategy::Recreate => 0,
    }
}

/// The availability floor during a rolling update (`MinAvailable`): `replicas − maxUnavailable`.
/// Recreate has no floor (it deliberately drops to zero).
pub fn min_available(strategy: &DeploymentStrategy, replicas: i64) -> i64 {
    match strategy {
        DeploymentStrategy::RollingUpdate { .. } => replicas - max_unavailable(strategy, replicas),
        DeploymentStrategy::Recreate => 0,
    }
}

/// What the rolling arithmetic needs to know about one ReplicaSet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsCounts {
    /// `spec.replicas`: what the Deployment controller asked for.
    pub spec: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// The size the new ReplicaSet should have now (`NewRSNewReplicas`).
///
/// `all_spec_sum` is Σ `spec.replicas` over every ReplicaSet, the new one included. The new RS
/// grows by whatever room is left under `replicas + maxSurge`, but never beyond `replicas`.
/// maxSurge is resolved directly (rounded up) *without* the 0/0 fencepost fix-up, as upstream.
/// Recreate has already emptied the old RSs when this is asked, so it simply wants `replicas`.
pub fn new_rs_new_replicas(
    strategy: &DeploymentStrategy,
    replicas: i64,
    all_spec_sum: i64,
    new_spec: i64,
) -> i64 {
    let DeploymentStrategy::RollingUpdate { max_surge, .. } = strategy else {
        return replicas;
    };
    let max_total = replicas + value_from_int_or_percent(*max_surge, replicas, true);
    if all_spec_sum >= max_total {
        return new_spec;
    }
    new_spec + (max_total - all_spec_sum).min(replicas - new_spec)
}

/// `reconcileNewReplicaSet`: the size to scale the new RS to, or `None` if it is already right.
///
/// An oversized new RS (the Deployment was scaled down) shrinks straight to `replicas`;
/// otherwise it grows per [`new_rs_new_replicas`].
pub fn reconcile_new_replica_set(
    strategy: &DeploymentStrategy,
    replicas: i64,
    all_spec_sum: i64,
    new_spec: i64,
) -> Option<i64> {
    let target = if new_spec > replicas {
        replicas
    } else {
        new_rs_new_replicas(strategy, replicas, all_spec_sum, new_spec)
    };
    (target != new_spec).then_some(target)
}

/// Outcome of [`cleanup_unhealthy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleanup {
    /// Pods removed from old RSs' `spec.replicas`.
    pub cleaned: i64,
    /// An old RS reported more available pods than its spec (a stale status); upstream's
    /// `cleanupUnhealthyReplicas` errors out there and the sync scales nothing further.
    pub aborted: bool,
}

/// `cleanupUnhealthyReplicas` with its error case made explicit.
///
/// Removes not-available pods from old RSs, oldest first, up to `max_cleanup` in total. This is
/// safe because the ReplicaSet controller deletes not-ready pods first, so it cannot reduce
/// availability; without it, crash-looping old pods could block a rollout forever
/// (kubernetes#16737).
pub fn cleanup_unhealthy(old_oldest_first: &mut [RsCounts], max_cleanup: i64) -> Cleanup {
    let mut cleaned = 0;
    for rs in old_oldest_first.iter_mut() {
        if cleaned >= max_cleanup {
            break;
        }
        if rs.spec == 0 || rs.spec == rs.available {
            continue;
        }
        if rs.available > rs.spec {
            return Cleanup { cleaned, aborted: true };
        }
        let k = (max_cleanup - cleaned).min(rs.spec - rs.available);
        rs.spec -= k;
        cleaned += k;
    }
    Cleanup { cleaned, aborted: false }
}

/// `cleanupUnhealthyReplicas`: see [`cleanup_unhealthy`]; returns the number of pods removed.
pub fn cleanup_unhealthy_replicas(old_oldest_first: &mut [RsCounts], max_cleanup: i64) -> i64 {
    cleanup_unhealthy(old_oldest_first, max_cleanup).cleaned
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: removes old pods, oldest RS first, as far as
/// availability allows.
///
/// `all_available` is Σ `status.availableReplicas` over ALL RSs (new included). The budget is
/// bounded by availability only — it assumes every removed old pod was available, which is the
/// pessimistic (safe) reading. Returns the number of pods removed.
pub fn scale_down_old_replica_sets_for_rolling_update(
    all_available: i64,
    min_available: i64,
    old: &mut [RsCounts],
) -> i64 {
    if all_available <= min_available {
        return 0;
    }
    let budget = all_available - min_available;
    let mut scaled = 0;
    for rs in old.iter_mut() {
        if scaled >= budget {
            break;
        }
        let k = rs.spec.min(budget - scaled);
        rs.spec -= k;
        scaled += k;
    }
    scaled
}

/// How many old pods `reconcileOldReplicaSets` may remove at most (`maxScaledDown`), or `None`
/// when it must not touch the old RSs at all.
///
/// Not-yet-available new pods count against the budget: otherwise a crash-looping new RS would
/// let the old RSs drain below the availability floor.
pub fn old_scale_down_budget(
    strategy: &DeploymentStrategy,
    replicas: i64,
    new: Option<RsCounts>,
    old: &[RsCounts],
) -> Option<i64> {
    let old_spec: i64 = old.iter().map(|rs| rs.spec).sum();
    if old_spec == 0 {
        return None;
    }
    let new = new.unwrap_or(RsCounts { spec: 0, available: 0 });
    let min_available = min_available(strategy, replicas);
    let new_unavailable = new.spec - new.available;
    let budget = old_spec + new.spec - min_available - new_unavailable;
    (budget > 0).then_some(budget)
}

/// Σ `status.availableReplicas` over the new RS (if any) and the old RSs.
pub fn total_available(new: Option<RsCounts>, old: &[RsCounts]) -> i64 {
    new.map_or(0, |rs| rs.available) + old.iter().map(|rs| rs.available).sum::<i64>()
}

/// `reconcileOldReplicaSets`: shrinks the old RSs (given oldest first; inactive ones may be
/// included, they are skipped) and returns how many pods were removed in total.
///
/// Two phases, both oldest first: (a) unhealthy pods within [`old_scale_down_budget`], then
/// (b) available pods down to the availability floor. Phase (b) reads the statuses as they were
/// before phase (a), like upstream, whose RS objects carry the old status after a scale call.
pub fn reconcile_old_replica_sets(
    strategy: &DeploymentStrategy,
    replicas: i64,
    new: Option<RsCounts>,
    old_oldest_first: &mut [RsCounts],
) -> i64 {
    let Some(budget) = old_scale_down_budget(strategy, replicas, new, old_oldest_first) else {
        return 0;
    };
    let cleanup = cleanup_unhealthy(old_oldest_first, budget);
    if cleanup.aborted {
        return cleanup.cleaned;
    }
    let available = total_available(new, old_oldest_first);
    let floor = min_available(strategy, replicas);
    cleanup.cleaned + scale_down_old_replica_sets_for_rolling_update(available, floor, old_oldest_first)
}

/// The part of `DeploymentStatus` that progress and completion are judged on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Σ `status.replicas` (non-terminating pods) over all RSs.
    pub replicas: i64,
    /// `status.replicas` of the new RS.
    pub updated: i64,
    pub ready: i64,
    pub available: i64,
}

/// `DeploymentProgressing`: did anything move forward since the last recorded status?
///
/// Progress is more new pods, fewer old pods, or more ready/available pods. Losing pods is
/// never progress, so a rollout that only churns cannot keep extending its deadline.
pub fn deployment_progressing(prev: StatusCounts, now: StatusCounts) -> bool {
    let old_before = prev.replicas - prev.updated;
    let old_now = now.replicas - now.updated;
    now.updated > prev.updated
        || old_now < old_before
        || now.ready > prev.ready
        || now.available > prev.available
}

/// `DeploymentComplete`: every desired pod is updated and available and no old pod remains.
/// (The `observedGeneration` clause always holds for a status the controller just computed.)
pub fn deployment_complete(desired: i64, s: StatusCounts) -> bool {
    s.updated == desired && s.replicas == desired && s.available == desired
}

/// `DeploymentTimedOut` for a Progressing condition last updated at `last_update`.
///
/// `deadline` is `progressDeadlineSeconds` as simulated time (`None`: no deadline). A rollout
/// that already completed (reason NewReplicaSetAvailable) is never judged again. The comparison
/// is strict, as Go's `Time.Before`: exactly at the deadline the rollout is still on time.
pub fn deployment_timed_out(
    deadline: Option<SimTime>,
    last_update: SimTime,
    now: SimTime,
    reason_is_new_rs_available: bool,
) -> bool {
    match deadline {
        None => false,
        Some(_) if reason_is_new_rs_available => false,
        Some(d) => last_update.saturating_add(d) < now,
    }
}

/// One ReplicaSet as proportional scaling sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleRs {
    /// `spec.replicas`.
    pub spec: i64,
    /// Creation order (smaller = older); ties broken by `id`, as upstream by name.
    pub created: u64,
    pub id: u32,
    /// `deployment.kubernetes.io/max-replicas`: `replicas + maxSurge` when the controller
    /// last sized it; `None` (or 0) = missing.
    pub max_replicas: Option<i64>,
}

/// `getReplicaSetFraction`: how many replicas `rs` gains (or loses, negative) when the
/// Deployment's `replicas + maxSurge` becomes `allowed`: `round(spec · allowed / annotated)
/// − spec`, with the annotation missing read as the Deployment's `status.replicas`. Scaling
/// to zero takes the whole RS.
pub fn replica_set_fraction(rs: &ScaleRs, replicas: i64, allowed: i64, status_replicas: i64) -> i64 {
    if replicas == 0 {
        return -rs.spec;
    }
    let annotated = match rs.max_replicas {
        Some(m) if m != 0 => m,
        _ => status_replicas,
    };
    if annotated == 0 {
        return 0;
    }
    // `integer.RoundToInt32`: half away from zero, as Go's math.Round.
    (rs.spec as f64 * allowed as f64 / annotated as f64).round() as i64 - rs.spec
}

/// `GetProportion`: the fraction, bounded by what is still to distribute (`to_add − added`).
pub fn proportion(
    rs: &ScaleRs,
    replicas: i64,
    allowed: i64,
    status_replicas: i64,
    to_add: i64,
    added: i64,
) -> i64 {
    if rs.spec == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, replicas, allowed, status_replicas);
    let left = to_add - added;
    if to_add > 0 { fraction.min(left) } else { fraction.max(left) }
}

/// The active RSs (spec > 0) in the order `scale` sizes them: largest first, ties newest
/// first when growing (`ReplicaSetsBySizeNewer`) and oldest first when shrinking
/// (`ReplicaSetsBySizeOlder`). Indices into `rss`.
pub fn proportional_order(rss: &[ScaleRs], growing: bool) -> Vec<usize> {
    let mut active: Vec<usize> = (0..rss.len()).filter(|&i| rss[i].spec > 0).collect();
    let age = |i: usize| (rss[i].created, rss[i].id);
    if growing {
        active.sort_by_key(|&i| (std::cmp::Reverse(rss[i].spec), std::cmp::Reverse(age(i))));
    } else {
        active.sort_by_key(|&i| (std::cmp::Reverse(rss[i].spec), age(i)));
    }
    active
}

/// The proportional branch of `scale` (`sync.go`): the active RSs (spec > 0) of a rolling
/// update share the change from Σ spec to `replicas + maxSurge` (0 when `replicas` is 0) in
/// proportion to their size, largest first (ties: newest first when growing, oldest first
/// when shrinking); the rounding leftover goes to the first, never below 0. Returns the new
/// size of every RS of `rss`, in its order (inactive ones unchanged).
pub fn proportional_sizes(replicas: i64, max_surge: i64, status_replicas: i64, rss: &[ScaleRs]) -> Vec<i64> {
    let mut sizes: Vec<i64> = rss.iter().map(|rs| rs.spec).collect();
    let allowed = if replicas > 0 { replicas + max_surge } else { 0 };
    let to_add = allowed - rss.iter().filter(|rs| rs.spec > 0).map(|rs| rs.spec).sum::<i64>();
    if to_add == 0 {
        return sizes;
    }
    let active = proportional_order(rss, to_add > 0);
    let mut added = 0;
    for &i in &active {
        let p = proportion(&rss[i], replicas, allowed, status_replicas, to_add, added);
        sizes[i] += p;
        added += p;
    }
    if let Some(&first) = active.first() {
        sizes[first] = (sizes[first] + to_add - added).max(0);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use IntOrPercent::{Int, Percent};

    fn rolling(max_surge: IntOrPercent, max_unavailable: IntOrPercent) -> DeploymentStrategy {
        DeploymentStrategy::RollingUpdate { max_surge, max_unavailable }
    }

    fn rs(spec: i64, available: i64) -> RsCounts {
        RsCounts { spec, available }
    }

    #[test]
    fn value_from_int_or_percent_rounds_as_asked() {
        // (value, total, round_up, expected)
        let cases = [
            (Percent(25), 10, true, 3),
            (Percent(25), 10, false, 2),
            (Percent(25), 1, true, 1),
            (Percent(25), 1, false, 0),
            (Percent(39), 10, true, 4),
            (Percent(39), 10, false, 3),
            (Percent(50), 10, true, 5),
            (Percent(50), 10, false, 5),
            (Percent(100), 5, false, 5),
            (Percent(0), 10, true, 0),
            (Percent(10), 5, false, 0),
            (Int(7), 10, true, 7),
            (Int(7), 10, false, 7),
        ];
        for (v, total, up, want) in cases {
            assert_eq!(value_from_int_or_percent(v, total, up), want, "{v:?} of {total}, up={up}");
        }
    }

    #[test]
    fn resolve_fenceposts_vectors() {
        // TestResolveFenceposts (the "oops"/"urg" error cases cannot be expressed: the scenario
        // loader rejects them before an IntOrPercent exists).
        let cases = [
            (Percent(0), Percent(0), 0, (0, 1)),
            (Percent(39), Percent(39), 10, (4, 3)),
            (Int(0), Int(0), 10, (0, 1)),
            (Percent(25), Percent(25), 10, (3, 2)),
            (Percent(25), Percent(25), 1, (1, 0)),
            (Percent(0), Percent(10), 10, (0, 1)),
        ];
        for (surge, unav, desired, want) in cases {
            assert_eq!(resolve_fenceposts(surge, unav, desired), want, "{surge:?}/{unav:?}/{desired}");
        }
    }

    #[test]
    fn max_unavailable_vectors() {
        // TestMaxUnavailable: (replicas, maxUnavailable) with maxSurge 0.
        let cases = [
            (10, Int(5), 5),
            (10, Int(10), 10),
            (5, Int(10), 5),
            (0, Int(10), 0),
            (10, Percent(50), 5),
            (10, Percent(100), 10),
            (5, Percent(100), 5),
        ];
        for (replicas, unav, want) in cases {
            assert_eq!(max_unavailable(&rolling(Int(0), unav), replicas), want, "{replicas}/{unav:?}");
        }
        assert_eq!(max_unavailable(&DeploymentStrategy::Recreate, 10), 0);
    }

    #[test]
    fn max_surge_vectors() {
        // Argo utils/replicaset TestMaxSurge; BlueGreen's 0 corresponds to Recreate here.
        assert_eq!(max_surge(&rolling(Int(5), Int(0)), 10), 5);
        assert_eq!(max_surge(&rolling(Percent(50), Int(0)), 10), 5);
        assert_eq!(max_surge(&DeploymentStrategy::Recreate, 10), 0);
        // No clamp on surge, unlike maxUnavailable.
        assert_eq!(max_surge(&rolling(Int(20), Int(0)), 10), 20);
    }

    #[test]
    fn min_available_is_replicas_minus_max_unavailable() {
        assert_eq!(min_available(&rolling(Percent(25), Percent(25)), 10), 8);
        assert_eq!(min_available(&rolling(Int(0), Int(0)), 10), 9);
        assert_eq!(min_available(&rolling(Int(1), Int(0)), 3), 3);
        assert_eq!(min_available(&DeploymentStrategy::Recreate, 10), 0);
    }

    #[test]
    fn new_rs_new_replicas_vectors() {
        // TestNewRSNewReplicas: one other RS with spec 5.
        let other = 5;
        let check = |strategy: DeploymentStrategy, replicas, new_spec, want| {
            let all = other + new_spec;
            let got = new_rs_new_replicas(&strategy, replicas, all, new_spec);
            assert_eq!(got, want, "{strategy:?} replicas {replicas} new {new_spec}");
        };
        check(rolling(Int(1), Int(0)), 1, 5, 5);
        check(rolling(Int(10), Int(0)), 6, 2, 6);
        check(DeploymentStrategy::Recreate, 3, 1, 3);
    }

    #[test]
    fn reconcile_new_replica_set_vectors() {
        // TestDeploymentController_reconcileNewReplicaSet: (replicas, maxSurge, old, new) → scale
        // target, one old RS, maxUnavailable 0.
        let cases = [
            (10, 0, 10, 0, None),
            (10, 2, 10, 0, Some(2)),
            (10, 2, 5, 0, Some(7)),
            (10, 2, 10, 2, None),
            (10, 2, 2, 11, Some(10)),
        ];
        for (replicas, surge, old, new, want) in cases {
            let strategy = rolling(Int(surge), Int(0));
            let got = reconcile_new_replica_set(&strategy, replicas, old + new, new);
            assert_eq!(got, want, "replicas {replicas} surge {surge} old {old} new {new}");
        }
    }

    #[test]
    fn reconcile_old_replica_sets_vectors() {
        // TestDeploymentController_reconcileOldReplicaSets, maxSurge 0:
        // (replicas, maxUnavailable, old spec, new spec, old available, new available) → old spec.
        let cases = [
            (10, 0, 10, 0, 10, 0, 9),
            (10, 2, 10, 0, 10, 0, 8),
            (10, 2, 10, 0, 8, 0, 8),
            (10, 2, 10, 0, 9, 0, 8),
            (10, 2, 8, 2, 8, 0, 8),
        ];
        for (replicas, unav, old_spec, new_spec, old_av, new_av, want) in cases {
            let strategy = rolling(Int(0), Int(unav));
            let mut old = [rs(old_spec, old_av)];
            let removed =
                reconcile_old_replica_sets(&strategy, replicas, Some(rs(new_spec, new_av)), &mut old);
            assert_eq!(old[0].spec, want, "case {replicas}/{unav}/{old_spec}/{new_spec}/{old_av}");
            assert_eq!(removed, old_spec - want);
        }
    }

    #[test]
    fn reconcile_old_splits_cleanup_and_scale_down() {
        // (10, unav 2, ready 9): one unhealthy pod cleaned, then one available pod scaled down.
        let strategy = rolling(Int(0), Int(2));
        let mut old = [rs(10, 9)];
        let budget = old_scale_down_budget(&strategy, 10, Some(rs(0, 0)), &old);
        assert_eq!(budget, Some(2));
        assert_eq!(cleanup_unhealthy(&mut old, 2), Cleanup { cleaned: 1, aborted: false });
        assert_eq!(scale_down_old_replica_sets_for_rolling_update(9, 8, &mut old), 1);
        assert_eq!(old[0].spec, 8);
    }

    #[test]
    fn cleanup_unhealthy_replicas_vectors() {
        // TestDeploymentController_cleanupUnhealthyReplicas: old RS spec 10.
        let cases = [(8, 1, 1), (8, 3, 2), (8, 0, 0), (10, 3, 0)];
        for (available, max_cleanup, want) in cases {
            let mut old = [rs(10, available)];
            assert_eq!(cleanup_unhealthy_replicas(&mut old, max_cleanup), want);
            assert_eq!(old[0].spec, 10 - want);
        }
    }

    #[test]
    fn cleanup_walks_oldest_first_and_skips_inactive() {
        let mut old = [rs(0, 0), rs(4, 1), rs(5, 0)];
        assert_eq!(cleanup_unhealthy_replicas(&mut old, 5), 5);
        assert_eq!(old, [rs(0, 0), rs(1, 1), rs(3, 0)]);
    }

    #[test]
    fn cleanup_stops_at_a_stale_status_like_upstream_error() {
        let mut old = [rs(4, 3), rs(2, 5), rs(5, 0)];
        let out = cleanup_unhealthy(&mut old, 10);
        assert_eq!(out, Cleanup { cleaned: 1, aborted: true });
        assert_eq!(old, [rs(3, 3), rs(2, 5), rs(5, 0)]);
        // ...and reconcile then skips phase (b) entirely.
        let strategy = rolling(Int(0), Int(2));
        let mut old = [rs(4, 3), rs(2, 5), rs(5, 0)];
        assert_eq!(reconcile_old_replica_sets(&strategy, 10, None, &mut old), 1);
    }

    #[test]
    fn scale_down_old_replica_sets_for_rolling_update_vectors() {
        // TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate, old RS only:
        // (replicas, maxUnavailable, old available) → old spec after.
        let cases = [(10, 0, 10, 9), (10, 2, 10, 8), (10, 2, 8, 10), (10, 2, 1, 10)];
        for (replicas, unav, available, want) in cases {
            let floor = min_available(&rolling(Int(0), Int(unav)), replicas);
            let mut old = [rs(10, available)];
            let removed = scale_down_old_replica_sets_for_rolling_update(available, floor, &mut old);
            assert_eq!(old[0].spec, want, "{replicas}/{unav}/{available}");
            assert_eq!(removed, 10 - want);
        }
    }

    #[test]
    fn scale_down_walks_oldest_first() {
        let mut old = [rs(2, 2), rs(0, 0), rs(6, 6)];
        assert_eq!(scale_down_old_replica_sets_for_rolling_update(13, 8, &mut old), 5);
        assert_eq!(old, [rs(0, 2), rs(0, 0), rs(3, 6)]);
    }

    /// The worked example in rolling.go's comment: 10 replicas, maxSurge 3, maxUnavailable 2.
    #[test]
    fn rolling_go_inline_example() {
        let s = rolling(Int(3), Int(2));
        // Template change: new RS created at NewRSNewReplicas with itself at 0.
        let created = new_rs_new_replicas(&s, 10, 10, 0);
        assert_eq!(created, 3);
        let mut old = [rs(10, 10)];
        assert_eq!(reconcile_old_replica_sets(&s, 10, Some(rs(created, 0)), &mut old), 2);
        assert_eq!(old[0].spec, 8);
        // Next sync: new 3 → 5.
        assert_eq!(reconcile_new_replica_set(&s, 10, 8 + 3, 3), Some(5));
        // New pods crash-loop: 13 − 8 − 5 = 0, nothing moves even after a node failure.
        let mut old = [rs(8, 7)];
        assert_eq!(old_scale_down_budget(&s, 10, Some(rs(5, 0)), &old), None);
        assert_eq!(reconcile_old_replica_sets(&s, 10, Some(rs(5, 0)), &mut old), 0);
        assert_eq!(reconcile_new_replica_set(&s, 10, 13, 5), None);
        // `rollout undo`: the good RS (8, 7 available) is new again; the bad RS (5/0) is old.
        assert_eq!(reconcile_new_replica_set(&s, 10, 13, 8), None);
        let mut bad = [rs(5, 0)];
        assert_eq!(old_scale_down_budget(&s, 10, Some(rs(8, 7)), &bad), Some(4));
        assert_eq!(reconcile_old_replica_sets(&s, 10, Some(rs(8, 7)), &mut bad), 4);
        assert_eq!(bad[0].spec, 1);
        // Total is 9, so the good RS may now grow to 10.
        assert_eq!(reconcile_new_replica_set(&s, 10, 8 + 1, 8), Some(10));
    }

    /// Case 2 of the same comment: a roll-over instead of an undo.
    #[test]
    fn rolling_go_rollover_example() {
        let s = rolling(Int(3), Int(2));
        assert_eq!(new_rs_new_replicas(&s, 10, 13, 0), 0);
        let mut old = [rs(8, 8), rs(5, 0)];
        assert_eq!(old_scale_down_budget(&s, 10, Some(rs(0, 0)), &old), Some(5));
        assert_eq!(reconcile_old_replica_sets(&s, 10, Some(rs(0, 0)), &mut old), 5);
        assert_eq!(old, [rs(8, 8), rs(0, 0)]);
        assert_eq!(reconcile_new_replica_set(&s, 10, 8, 0), Some(5));
    }

    #[test]
    fn deployment_progressing_vectors() {
        // TestDeploymentProgressing: (replicas, updated, ready, available) before → after.
        let st = |replicas, updated, ready, available| StatusCounts { replicas, updated, ready, available };
        let cases = [
            (st(10, 4, 4, 4), st(10, 6, 4, 4), true),
            (st(10, 4, 4, 4), st(10, 4, 4, 4), false),
            (st(10, 4, 6, 6), st(8, 4, 6, 6), true),
            (st(10, 7, 3, 3), st(10, 6, 3, 3), false),
            (st(10, 4, 7, 7), st(8, 8, 5, 5), true),
            (st(10, 10, 9, 8), st(10, 10, 10, 8), true),
            (st(10, 10, 10, 9), st(10, 10, 10, 10), true),
        ];
        for (prev, now, want) in cases {
            assert_eq!(deployment_progressing(prev, now), want, "{prev:?} → {now:?}");
        }
    }

    #[test]
    fn deployment_timed_out_vectors() {
        // TestDeploymentTimedOut: deadline 10s, now 00:01:20.
        let now = 80 * SECOND;
        let deadline = Some(10 * SECOND);
        assert!(!deployment_timed_out(None, 69 * SECOND, now, false));
        assert!(deployment_timed_out(deadline, 69 * SECOND, now, false));
        assert!(!deployment_timed_out(deadline, 71 * SECOND, now, false));
        assert!(!deployment_timed_out(deadline, 69 * SECOND, now, true));
        // Strict: exactly at the deadline is not late, one microsecond after is.
        assert!(!deployment_timed_out(deadline, 70 * SECOND, now, false));
        assert!(deployment_timed_out(deadline, 70 * SECOND - 1, now, false));
    }

    #[test]
    fn deployment_complete_vectors() {
        // DeploymentComplete: (desired, current, updated, available).
        let cases = [
            (5, 5, 5, 4, false),
            (5, 5, 5, 3, false),
            (5, 5, 5, 5, true),
            (5, 5, 4, 5, false),
            (1, 2, 1, 1, false),
            (1, 1, 1, 0, false),
        ];
        for (desired, replicas, updated, available, want) in cases {
            let s = StatusCounts { replicas, updated, ready: available, available };
            assert_eq!(deployment_complete(desired, s), want, "{desired}/{replicas}/{updated}/{available}");
        }
    }

    /// RSs listed newest first, as upstream's `newRS` then `oldRSs`; all annotated with the
    /// old Deployment's `replicas + maxSurge`.
    fn scale_case(old_max: i64, specs: &[i64]) -> Vec<ScaleRs> {
        let n = specs.len() as u64;
        specs
            .iter()
            .enumerate()
            .map(|(i, &spec)| ScaleRs {
                spec,
                created: n - i as u64,
                id: i as u32,
                max_replicas: Some(old_max),
            })
            .collect()
    }

    #[test]
    fn proportional_scaling_vectors() {
        // sync_test.go TestScale, the proportional branch: (name, old replicas + surge, new
        // replicas, new surge, sizes newest first, expected sizes).
        type Case = (&'static str, i64, i64, i64, &'static [i64], &'static [i64]);
        let cases: [Case; 10] = [
            ("proportional scaling: 5 -> 10", 5, 10, 0, &[2, 3], &[4, 6]),
            ("proportional scaling: 5 -> 3", 5, 3, 0, &[2, 3], &[1, 2]),
            ("proportional scaling: 9 -> 4", 9, 4, 0, &[8, 1], &[4, 0]),
            ("proportional scaling: 7 -> 10", 7, 10, 0, &[2, 3, 2], &[3, 4, 3]),
            ("proportional scaling: 13 -> 8", 13, 8, 0, &[2, 8, 3], &[1, 5, 2]),
            ("leftover distribution: 3 -> 4", 3, 4, 0, &[1, 1, 1], &[2, 1, 1]),
            ("leftover distribution: 3 -> 2", 3, 2, 0, &[1, 1, 1], &[1, 1, 0]),
            ("proportional scaling (no new rs): 4 -> 5", 4, 5, 0, &[2, 2], &[3, 2]),
            ("proportional scaling: 6 -> 0", 6, 0, 0, &[3, 2, 1], &[0, 0, 0]),
            ("deployment with surge pods", 12, 20, 2, &[6, 6], &[11, 11]),
        ];
        for (name, old_max, replicas, surge, specs, want) in cases {
            let rss = scale_case(old_max, specs);
            assert_eq!(proportional_sizes(replicas, surge, 0, &rss), want, "{name}");
        }
        // "change both surge and size": 10+3 -> 50+6.
        assert_eq!(proportional_sizes(50, 6, 0, &scale_case(13, &[5, 8])), [22, 34]);
        // "change both size and template": no new RS, 10 -> 14.
        assert_eq!(proportional_sizes(14, 0, 0, &scale_case(10, &[7, 3])), [10, 4]);
        // "saturated but broken new replica set does not affect old pods": 2 + 1 surge = 3
        // already running, nothing to distribute.
        assert_eq!(proportional_sizes(2, 1, 0, &scale_case(3, &[2, 1])), [2, 1]);
    }

    #[test]
    fn fraction_without_annotation_uses_status_replicas() {
        // getReplicaSetFraction falls back to the Deployment's status.replicas.
        let rs = ScaleRs { spec: 4, created: 1, id: 1, max_replicas: None };
        assert_eq!(replica_set_fraction(&rs, 10, 12, 8), 2, "round(4·12/8) − 4");
        assert_eq!(replica_set_fraction(&ScaleRs { max_replicas: Some(0), ..rs }, 10, 12, 8), 2);
        assert_eq!(replica_set_fraction(&rs, 0, 0, 8), -4, "to zero: the whole RS");
        // Rounding half away from zero: 3·5/2 = 7.5 → 8.
        let half = ScaleRs { spec: 3, created: 1, id: 1, max_replicas: Some(2) };
        assert_eq!(replica_set_fraction(&half, 5, 5, 0), 5);
        // The proportion never exceeds what is left to add or remove.
        assert_eq!(proportion(&rs, 10, 12, 8, 1, 0), 1);
        assert_eq!(proportion(&rs, 10, 4, 8, -1, 0), -1);
        assert_eq!(proportion(&ScaleRs { spec: 0, ..rs }, 10, 12, 8, 5, 0), 0);
    }
}
