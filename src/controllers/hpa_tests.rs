//! Vectors from kubernetes/kubernetes `pkg/controller/podautoscaler`:
//! `replica_calculator_test.go` (`TestReplicaCalc*`, `TestGroupPods`) and
//! `horizontal_test.go` (`TestNormalizeDesiredReplicas`,
//! `TestNormalizeDesiredReplicasWithBehavior`, `TestScalingWithRules`). Each test names its
//! upstream case. The upstream harness's times are reproduced: "now" is a fixed instant,
//! a "cool" pod started 3 min ago and a "hot" one now, the CPU initialisation period is
//! 2 min and the readiness delay 10 s (`defaultTesting*`), the Ready condition changed at
//! the start time, metrics are stamped now with a 1 min window and requests are 1 CPU.

use super::*;

const NOW: SimTime = 10_000 * SECOND;
const MIN: SimTime = 60 * SECOND;

fn timing() -> Timing {
    Timing { now: NOW, cpu_initialization_period: 2 * MIN, initial_readiness_delay: 10 * SECOND }
}

#[derive(Clone, Copy)]
struct P {
    ready: bool,
    hot: bool,
    phase: PodPhase,
    deleting: bool,
    request: i64,
}

const R: P = P { ready: true, hot: false, phase: PodPhase::Running, deleting: false, request: 1000 };
const UNREADY: P = P { ready: false, ..R };
const HOT: P = P { hot: true, ..R };

/// Pods in order; `levels[i]` is pod i's usage, pods past the levels have no metric.
fn pods(spec: &[P], levels: &[i64]) -> Vec<PodSample> {
    spec.iter()
        .enumerate()
        .map(|(i, p)| {
            let start = if p.hot { NOW } else { NOW - 3 * MIN };
            PodSample {
                phase: p.phase,
                deleting: p.deleting,
                request_milli: p.request,
                usage_milli: levels.get(i).copied(),
                start: Some(start),
                ready: Some((p.ready, start)),
                metric_at: NOW,
                metric_window: MIN,
            }
        })
        .collect()
}

fn calc(current: i64, target: i64, spec: &[P], levels: &[i64]) -> (i64, i64) {
    let c = resource_replicas(current, target, DEFAULT_TOLERANCE, &pods(spec, levels), &timing())
        .expect("a replica count");
    (c.replicas, c.utilization)
}

#[test]
fn scale_up() {
    // TestReplicaCalcScaleUp
    assert_eq!(calc(3, 30, &[R, R, R], &[300, 500, 700]), (5, 50));
}

#[test]
fn scale_up_with_unready_or_hot_pods_scales_less() {
    // TestReplicaCalcScaleUpUnreadyLessScale, TestReplicaCalcScaleUpHotCpuLessScale
    assert_eq!(calc(3, 30, &[UNREADY, R, R], &[300, 500, 700]), (4, 60));
    assert_eq!(calc(3, 30, &[HOT, R, R], &[300, 500, 700]), (4, 60));
}

#[test]
fn scale_up_with_unready_pods_may_not_scale() {
    // TestReplicaCalcScaleUpUnreadyNoScale, TestReplicaCalcScaleHotCpuNoScale
    assert_eq!(calc(3, 30, &[R, UNREADY, UNREADY], &[400, 500, 700]), (3, 40));
    let hot_unready = P { ready: false, hot: true, ..R };
    assert_eq!(calc(3, 30, &[R, hot_unready, hot_unready], &[400, 500, 700]), (3, 40));
}

#[test]
fn scale_up_ignores_failed_and_deleted_pods() {
    // TestReplicaCalcScaleUpIgnoresFailedPods, TestReplicaCalcScaleUpIgnoresDeletionPods
    let failed = P { ready: false, phase: PodPhase::Failed, ..R };
    assert_eq!(calc(2, 30, &[R, R, failed, failed], &[500, 700]), (4, 60));
    let deleting = P { ready: false, deleting: true, ..R };
    assert_eq!(calc(2, 30, &[R, R, deleting, deleting], &[500, 700]), (4, 60));
}

#[test]
fn scale_down() {
    // TestReplicaCalcScaleDown
    assert_eq!(calc(5, 50, &[R; 5], &[100, 300, 500, 250, 250]), (3, 28));
}

#[test]
fn scale_down_leaves_out_unready_hot_and_pending_pods() {
    // TestReplicaCalcScaleDownIncludeUnreadyPods, ...IgnoreHotCpuPods,
    // ...ExcludeUnscheduledPods
    let levels = [100, 300, 500, 250, 250];
    assert_eq!(calc(5, 50, &[R, R, R, UNREADY, UNREADY], &levels), (2, 30));
    assert_eq!(calc(5, 50, &[R, R, R, HOT, HOT], &levels), (2, 30));
    let pending = P { ready: false, phase: PodPhase::Pending, ..R };
    assert_eq!(calc(5, 50, &[R, pending, pending, pending, pending], &[100]), (1, 10));
}

#[test]
fn scale_down_ignores_failed_and_deleted_pods() {
    // TestReplicaCalcScaleDownIgnoresFailedPods, ...IgnoresDeletionPods
    let levels = [100, 300, 500, 250, 250];
    let failed = P { ready: false, phase: PodPhase::Failed, ..R };
    assert_eq!(calc(5, 50, &[R, R, R, R, R, failed, failed], &levels), (3, 28));
    let deleting = P { ready: false, deleting: true, ..R };
    assert_eq!(calc(5, 50, &[R, R, R, R, R, deleting, deleting], &levels), (3, 28));
}

#[test]
fn tolerance_keeps_the_count() {
    // TestReplicaCalcTolerance
    let spec = [P { request: 900, ..R }, R, P { request: 1100, ..R }];
    assert_eq!(calc(3, 100, &spec, &[1010, 1030, 1020]), (3, 102));
}

#[test]
fn computed_tolerance_boundary() {
    // TestReplicaCalcComputedToleranceAlgImplementation: 10 pods at 150m, requests 300m
    // ±{100, 10, 2, 1, 0}; target int(100·(1/(2·0.9) + 0.01)) = 56 scales to 9, target
    // int(100·(1/(2·0.9) + 0.004)) = 55 stays inside the tolerance.
    let spec: Vec<P> = [400, 200, 310, 290, 302, 298, 301, 299, 300, 300]
        .iter()
        .map(|&request| P { request, ..R })
        .collect();
    let levels = [150; 10];
    let target = |extra: f64| ((1.0 / (2.0 * (1.0 - DEFAULT_TOLERANCE)) + extra) * 100.0) as i64;
    assert_eq!(target(0.01), 56);
    assert_eq!(calc(10, target(0.01), &spec, &levels), (9, 50));
    assert_eq!(calc(10, target(0.004), &spec, &levels), (10, 50));
}

#[test]
fn missing_metrics() {
    // TestReplicaCalcMissingMetrics: on a scale-down the two missing pods count at 100 %.
    assert_eq!(calc(4, 100, &[R; 4], &[400, 95]), (3, 24));
    // TestReplicaCalcMissingMetricsNoChangeEq / ...Gt / ...Lt
    assert_eq!(calc(2, 100, &[R; 2], &[1000]), (2, 100));
    assert_eq!(calc(2, 100, &[R; 2], &[1900]), (2, 190));
    assert_eq!(calc(2, 100, &[R; 2], &[600]), (2, 60));
}

#[test]
fn missing_metrics_with_unready_pods() {
    // TestReplicaCalcMissingMetricsUnreadyChange, ...HotCpuNoChange: the direction flips.
    assert_eq!(calc(3, 50, &[UNREADY, R, R], &[100, 450]), (3, 45));
    assert_eq!(calc(3, 50, &[HOT, R, R], &[100, 450]), (3, 45));
    // TestReplicaCalcMissingMetricsUnreadyScaleUp, ...HotCpuScaleUp
    assert_eq!(calc(3, 50, &[UNREADY, R, R], &[100, 2000]), (4, 200));
    let hot_unready = P { ready: false, hot: true, ..R };
    assert_eq!(calc(3, 50, &[hot_unready, R, R], &[100, 2000]), (4, 200));
    // TestReplicaCalcMissingMetricsUnreadyScaleDown
    assert_eq!(calc(4, 50, &[UNREADY, R, R, R], &[100, 100, 100]), (3, 10));
}

#[test]
fn missing_metric_counts_at_the_target_when_it_is_above_100() {
    // The current upstream fallback `max(100, target)`: at a 200 % target, a missing pod
    // counted at 100 % would turn 1 pod at 20 % + 1 missing into 60 % (scale to 1); at
    // 200 % the two pods average 110 %, 0.55 of the target: ceil(1.1) = 2, no change.
    assert_eq!(calc(2, 200, &[R; 2], &[200]), (2, 20));
}

#[test]
fn errors() {
    // TestReplicaCalcEmptyCPURequest, TestReplicaCalcEmptyMetrics
    let t = timing();
    let no_request = pods(&[P { request: 0, ..R }], &[200]);
    assert_eq!(resource_replicas(1, 100, 0.1, &no_request, &t), Err(CalcError::MissingRequest));
    assert_eq!(
        resource_replicas(4, 100, 0.1, &pods(&[UNREADY; 3], &[1, 2, 3]), &t),
        Err(CalcError::NoMetrics)
    );
    assert_eq!(resource_replicas(4, 100, 0.1, &[], &t), Err(CalcError::NoPods));
}

fn sample(start_ago: SimTime, ready: Option<(bool, SimTime)>, window: SimTime) -> PodSample {
    PodSample {
        phase: PodPhase::Running,
        deleting: false,
        request_milli: 1000,
        usage_milli: Some(1),
        start: Some(NOW - start_ago),
        ready: ready.map(|(s, ago)| (s, NOW - ago)),
        metric_at: NOW,
        metric_window: window,
    }
}

#[test]
fn group_pods() {
    // TestGroupPods
    let t = timing();
    let s = SECOND;
    let no_condition = sample(0, None, MIN);
    assert_eq!(group_pod(&no_condition, &t), Group::Unready);
    let fresh = sample(MIN, Some((true, 30 * s)), 30 * s);
    assert_eq!(group_pod(&fresh, &t), Group::Ready, "fresh metrics during initialisation");
    let stale = sample(MIN, Some((true, 30 * s)), MIN);
    assert_eq!(group_pod(&stale, &t), Group::Unready, "no full window since ready");
    let never = sample(10 * MIN, Some((false, 9 * MIN + 54 * s)), MIN);
    assert_eq!(group_pod(&never, &t), Group::Unready, "never ready after initialisation");
    let was_ready = sample(10 * MIN, Some((false, 9 * MIN)), MIN);
    assert_eq!(group_pod(&was_ready, &t), Group::Ready, "unready after having been ready");
    let boundary = sample(10 * MIN, Some((false, 9 * MIN + 50 * s)), MIN);
    assert_eq!(group_pod(&boundary, &t), Group::Ready, "transition exactly at the delay");
    let ready_after = PodSample { metric_at: NOW - 2 * MIN, ..sample(3 * MIN, Some((true, 3 * MIN)), MIN) };
    assert_eq!(group_pod(&ready_after, &t), Group::Ready, "old metrics after initialisation");
    let missing = PodSample { usage_milli: None, ..sample(3 * MIN, None, MIN) };
    assert_eq!(group_pod(&missing, &t), Group::Missing);
    let pending = PodSample { phase: PodPhase::Pending, usage_milli: None, ..sample(0, None, MIN) };
    assert_eq!(group_pod(&pending, &t), Group::Unready);
    let failed = PodSample { phase: PodPhase::Failed, ..fresh };
    assert_eq!(group_pod(&failed, &t), Group::Ignored);
}

fn recs(list: &[(i64, SimTime)]) -> Vec<Stamped> {
    list.iter().map(|&(value, ago)| Stamped { value, at: NOW - ago }).collect()
}

#[test]
fn legacy_stabilization() {
    // TestNormalizeDesiredReplicas: (log, prenormalized, stabilized, log length)
    type Case = (&'static [(i64, SimTime)], i64, i64, usize);
    let cases: [Case; 5] = [
        (&[], 5, 5, 1),
        (&[(4, 2 * MIN), (5, MIN)], 3, 5, 3),
        (&[(1, 2 * MIN), (2, MIN)], 3, 3, 3),
        (&[(10, 10 * MIN), (9, 9 * MIN)], 3, 3, 2),
        (&[(10, 10 * MIN), (4, MIN), (5, 2 * MIN), (9, 9 * MIN)], 3, 5, 4),
    ];
    for (log, pre, want, len) in cases {
        let mut a = Autoscaler { recommendations: recs(log), ..Default::default() };
        assert_eq!(a.stabilize_legacy(NOW, 5 * MIN, pre), want, "{log:?} {pre}");
        assert_eq!(a.recommendations.len(), len, "{log:?} {pre}");
    }
}

#[test]
fn behavior_stabilization() {
    // TestNormalizeDesiredReplicasWithBehavior:
    // (log, current, prenormalized, stabilized, stored values or [], up window, down window)
    type Case = (&'static [(i64, SimTime)], i64, i64, i64, &'static [i64], i64, i64);
    let cases: [Case; 11] = [
        (&[], 100, 5, 5, &[5], 0, 0),
        (&[(4, 2 * MIN), (5, MIN)], 100, 3, 5, &[4, 5, 3], 0, 180),
        (&[(4, 2 * MIN), (5, MIN)], 1, 7, 4, &[4, 5, 7], 300, 0),
        (&[(1, 2 * MIN), (2, MIN)], 100, 3, 3, &[1, 2, 3], 300, 0),
        (&[(4, 2 * MIN), (5, MIN)], 1, 3, 3, &[4, 5, 3], 0, 300),
        (&[(10, 10 * MIN), (9, 9 * MIN)], 100, 3, 3, &[10, 3], 0, 0),
        (&[(10, 10 * MIN), (9, 9 * MIN)], 1, 100, 100, &[10, 100], 0, 0),
        (&[(10, 10 * MIN), (4, MIN), (5, 2 * MIN), (9, 9 * MIN)], 100, 3, 5, &[10, 4, 5, 3], 0, 180),
        (&[(10, 100 * MIN), (6, MIN), (5, 2 * MIN), (9, 3 * MIN)], 1, 100, 5, &[100, 6, 5, 9], 300, 0),
        (&[(2, 100 * MIN), (3, 3 * MIN)], 2, 1, 2, &[], 300, 300),
        (&[(2, 100 * MIN), (1, 3 * MIN)], 2, 3, 2, &[], 300, 300),
    ];
    for (log, current, pre, want, stored, up, down) in cases {
        let b = Behavior {
            scale_up: Rules { stabilization_seconds: up, ..Rules::default_up() },
            scale_down: Rules { stabilization_seconds: down, ..Rules::default_down() },
        };
        let mut a = Autoscaler { recommendations: recs(log), ..Default::default() };
        assert_eq!(a.stabilize(NOW, current, pre, &b), want, "{log:?} {current} {pre}");
        if !stored.is_empty() {
            let got: Vec<i64> = a.recommendations.iter().map(|r| r.value).collect();
            assert_eq!(got, stored, "{log:?} {current} {pre}");
        }
    }
}

/// upstream `generateScalingRules(pods, podsPeriod, percent, percentPeriod, window)`.
fn rules(pods: i64, pods_period: i64, percent: i64, percent_period: i64, window: i64) -> Rules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(Policy { kind: PolicyKind::Pods, value: pods, period_seconds: pods_period });
    }
    if percent != 0 {
        let p = Policy { kind: PolicyKind::Percent, value: percent, period_seconds: percent_period };
        policies.push(p);
    }
    Rules { stabilization_seconds: window, select: SelectPolicy::Max, policies }
}

/// upstream `generateEventsUniformDistribution([1, 5, 9], 120)`: 100, 60 and 20 s ago.
fn events_1_5_9() -> Vec<Stamped> {
    recs(&[(1, 100 * SECOND), (5, 60 * SECOND), (9, 20 * SECOND)])
}

#[test]
fn scaling_with_rules() {
    // TestScalingWithRules: (up events, min, max, up rules, down rules, current, desired,
    // expected, reason); `None` rules are the defaults.
    type Case = (bool, i64, i64, Option<Rules>, Option<Rules>, i64, i64, i64, Limit);
    use Limit::*;
    let cases: Vec<Case> = vec![
        (false, 3, 8, None, None, 5, 7, 7, DesiredWithinRange),
        (false, 2, 8, None, None, 3, 1, 2, TooFewReplicas),
        (false, 0, 10, None, None, 1, 0, 0, DesiredWithinRange),
        (false, 1, 10, None, None, 20, 1000, 10, TooManyReplicas),
        (false, 100, 150, None, None, 100, 1000, 150, TooManyReplicas),
        (false, 1, 2000, Some(rules(0, 0, 1, 60, 0)), None, 3, 1000, 4, ScaleUpLimit),
        (false, 3, 2000, None, Some(rules(20, 60, 0, 0, 0)), 1000, 3, 980, ScaleDownLimit),
        (false, 1, 1000, None, None, 10, 50, 20, ScaleUpLimit),
        (false, 1, 1000, Some(rules(100, 60, 100, 60, 0)), None, 10, 500, 110, ScaleUpLimit),
        (false, 1, 1000, Some(rules(2, 60, 100, 60, 0)), None, 10, 500, 20, ScaleUpLimit),
        (false, 1, 1000, Some(rules(100, 60, 0, 0, 0)), None, 10, 50, 50, DesiredWithinRange),
        (false, 1, 1000, Some(rules(10000, 60, 0, 0, 0)), None, 10, 50, 50, DesiredWithinRange),
        (false, 1, 1000, Some(rules(30, 60, 0, 0, 0)), None, 10, 50, 40, ScaleUpLimit),
        (false, 1, 1000, Some(rules(0, 0, 200, 60, 0)), None, 10, 50, 30, ScaleUpLimit),
        (false, 1, 1000, None, Some(rules(20, 60, 1, 60, 300)), 100, 2, 80, ScaleDownLimit),
        (false, 1, 1000, None, Some(rules(2, 60, 1, 60, 300)), 100, 2, 98, ScaleDownLimit),
        (false, 1, 1000, None, Some(rules(100, 60, 0, 0, 300)), 10, 0, 1, TooFewReplicas),
        (false, 5, 1000, None, Some(rules(0, 0, 100, 60, 300)), 10, 2, 5, TooFewReplicas),
        (false, 1, 1000, None, Some(rules(5, 60, 0, 0, 300)), 10, 2, 5, ScaleDownLimit),
        (false, 1, 1000, None, Some(rules(0, 0, 50, 60, 300)), 10, 5, 5, DesiredWithinRange),
        (true, 1, 200, Some(rules(300, 60, 0, 0, 0)), None, 100, 500, 200, TooManyReplicas),
        (true, 1, 200, Some(rules(0, 0, 10000, 60, 0)), None, 100, 500, 200, TooManyReplicas),
        (true, 1, 1000, Some(rules(5, 120, 0, 0, 0)), None, 100, 500, 100, ScaleUpLimit),
        (true, 1, 1000, Some(rules(150, 120, 0, 0, 0)), None, 100, 500, 235, ScaleUpLimit),
    ];
    for (i, (events, min, max, up, down, current, desired, want, why)) in cases.into_iter().enumerate() {
        let b = Behavior {
            scale_up: up.unwrap_or_else(Rules::default_up),
            scale_down: down.unwrap_or_else(Rules::default_down),
        };
        let spec = HpaSpec {
            min_replicas: min,
            max_replicas: max,
            target_utilization: 50,
            behavior: Some(b.clone()),
        };
        let a = Autoscaler {
            scale_up_events: if events { events_1_5_9() } else { vec![] },
            ..Default::default()
        };
        assert_eq!(a.behavior_rate(NOW, current, desired, &spec, &b), (want, why), "case {i}");
    }
}

#[test]
fn select_policy_min_and_disabled() {
    // TestCalculateScaleDownLimitWithBehaviors-style: 5 replicas, 2 pods or 50 % per 60 s.
    let mut r = rules(2, 60, 50, 60, 300);
    r.select = SelectPolicy::Min;
    assert_eq!(scale_down_limit(NOW, 5, &[], &[], &r), 3, "Min: the smaller change");
    r.select = SelectPolicy::Max;
    assert_eq!(scale_down_limit(NOW, 5, &[], &[], &r), 2, "Max: the larger change");
    r.select = SelectPolicy::Disabled;
    assert_eq!(scale_down_limit(NOW, 5, &[], &[], &r), 5);
    assert_eq!(scale_up_limit(NOW, 5, &[], &[], &r), 5);
    let mut up = rules(2, 60, 50, 60, 0);
    up.select = SelectPolicy::Min;
    assert_eq!(scale_up_limit(NOW, 5, &[], &[], &up), 7, "min(5+2, ceil(7.5))");
}

#[test]
fn change_in_period_counts_events_strictly_inside() {
    let e = events_1_5_9();
    assert_eq!(change_in_period(NOW, 60, &e), 9, "the event exactly 60 s ago is out");
    assert_eq!(change_in_period(NOW, 120, &e), 15);
}

fn legacy(min: i64, max: i64, target: i64) -> HpaSpec {
    HpaSpec { min_replicas: min, max_replicas: max, target_utilization: target, behavior: None }
}

#[test]
fn reconcile_clamps_and_legacy_rules() {
    let mut a = Autoscaler::default();
    // Out of range: clamped before any metric is read.
    let d = a.reconcile(NOW, &legacy(2, 6, 50), 8, None).unwrap();
    assert_eq!((d.desired, d.limit), (6, Limit::TooManyReplicas));
    let d = a.reconcile(NOW, &legacy(2, 6, 50), 1, None).unwrap();
    assert_eq!((d.desired, d.limit), (2, Limit::TooFewReplicas));
    // Scaled to zero by hand with minReplicas > 0: autoscaling is off.
    assert_eq!(a.reconcile(NOW, &legacy(2, 6, 50), 0, Some(3)), None);
    // A failed metric: no decision.
    assert_eq!(a.reconcile(NOW, &legacy(2, 6, 50), 3, None), None);
    // Legacy scale-up cap max(2·current, 4).
    assert_eq!(legacy_rules(3, 100, &legacy(1, 100, 10)), (6, Limit::ScaleUpLimit));
    assert_eq!(legacy_rules(1, 100, &legacy(1, 100, 10)), (4, Limit::ScaleUpLimit));
    assert_eq!(legacy_rules(10, 100, &legacy(1, 20, 10)), (20, Limit::TooManyReplicas));
}

#[test]
fn default_behavior_scales_down_only_after_the_window() {
    // With the default behavior a drop in load is followed 300 s later, not before.
    let spec = HpaSpec {
        min_replicas: 1,
        max_replicas: 10,
        target_utilization: 50,
        behavior: Some(Behavior::default()),
    };
    let mut a = Autoscaler::default();
    let d = a.reconcile(0, &spec, 2, Some(8)).unwrap();
    assert_eq!(d.desired, 6, "4 pods or 100 % per 15 s: max(2+4, 4) = 6");
    let d = a.reconcile(15 * SECOND, &spec, 6, Some(8)).unwrap();
    assert_eq!(d.desired, 8);
    let mut t = 30 * SECOND;
    while t <= 300 * SECOND {
        let d = a.reconcile(t, &spec, 8, Some(2)).unwrap();
        assert_eq!(d.desired, 8, "at {t}: inside the window the 8 of 15 s is remembered");
        t += 15 * SECOND;
    }
    let d = a.reconcile(315 * SECOND, &spec, 8, Some(2)).unwrap();
    assert_eq!(d.desired, 2, "the recommendation of 8 is now more than 300 s old");
}
