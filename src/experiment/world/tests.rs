//! Each release strategy end to end in one world: scenarios built from the built-in example
//! with the strategy swapped, checked against what the controllers' rules imply.

use super::*;
use crate::controllers::argo::spec::{
    BlueGreenStrategy, CanaryStep, CanaryStrategy, RolloutSpec, RolloutStrategy,
};
use crate::controllers::flagger::{CanaryAnalysis, CanarySpec, Provider};
use crate::controllers::service_switch::{DeploymentRef, SwitchConfig};
use crate::engine::{DurationDist, MINUTE};
use crate::experiment::record::Outcome;
use crate::scenario::{
    EXAMPLE_FILE_NAME, EXAMPLE_YAML, FlaggerCheck, FlaggerCheckKind, FlaggerRelease, MeshRelease, MeshStep,
    RolloutRelease, ServiceSwitchRelease, Strategy, load_str,
};

const ALL: Collect = Collect { timeline: true, trace: true, store: false };

/// The example (10 replicas, 500 rps, 5% errors from the new version's start, release at
/// 5m, a human undo 10m median after the page), for `hours` of simulated time.
fn example(hours: u64) -> Scenario {
    let mut sc = load_str(EXAMPLE_FILE_NAME, EXAMPLE_YAML, &[]).expect("the example loads");
    sc.duration = hours * 60 * MINUTE;
    // These tests release at 5m, watched by the fast page alone.
    sc.release.at = 5 * MINUTE;
    sc.monitoring.groups = vec![slo_page_rule()];
    sc.monitoring.on_alert.clear();
    sc
}

/// The SRE Workbook's fast page (1h and 5m over 14.4 × 0.1%) on the pods' counters, paging.
fn slo_page_rule() -> crate::scenario::RuleGroup {
    let ratio = |w: &str| {
        format!(
            r#"sum(rate(http_requests_total{{status=~"5.."}}[{w}])) / sum(rate(http_requests_total[{w}]))"#
        )
    };
    let expr = format!("{} > 0.0144 and {} > 0.0144", ratio("1h"), ratio("5m"));
    crate::scenario::RuleGroup {
        object: "PrometheusRule/myapp-slo".into(),
        name: "slo".into(),
        interval: 30 * crate::engine::SECOND,
        rules: vec![crate::scenario::Rule::Alerting(crate::scenario::AlertingRule {
            name: "ErrorBudgetBurn".into(),
            expr: crate::telemetry::promql::parse(&expr).unwrap(),
            for_: 0,
            keep_firing_for: 0,
            labels: [("severity".to_string(), "page".to_string())].into(),
        })],
    }
}

fn healthy(mut sc: Scenario) -> Scenario {
    let to = sc.release.to_image.clone();
    sc.versions.get_mut(&to).unwrap().faults.clear();
    sc
}

fn pair(sc: &Scenario) -> crate::scenario::DeploymentManifest {
    let mut green = sc.deployment.clone();
    green.name = "myapp-green".into();
    green
}

fn switch(mut sc: Scenario) -> Scenario {
    let green = pair(&sc);
    let r = |d: &crate::scenario::DeploymentManifest, sel: &str| DeploymentRef {
        name: d.name.clone(),
        selector: sel.into(),
        replicas: i64::from(d.replicas),
    };
    let config = SwitchConfig::new(r(&sc.deployment, "version=blue"), r(&green, "version=green"));
    sc.strategy = Strategy::ServiceSwitch(ServiceSwitchRelease {
        service: "myapp".into(),
        config,
        new_deployment: green,
    });
    sc
}

fn mesh(mut sc: Scenario, steps: Vec<MeshStep>) -> Scenario {
    let green = pair(&sc);
    sc.strategy = Strategy::Mesh(MeshRelease {
        virtual_service: "myapp".into(),
        from_subset: "v1".into(),
        to_subset: "v2".into(),
        new_deployment: green,
        steps,
    });
    sc
}

fn rollout(mut sc: Scenario, strategy: RolloutStrategy, promote_after: Option<SimTime>) -> Scenario {
    let mut spec = RolloutSpec::new(strategy);
    spec.replicas = i64::from(sc.deployment.replicas);
    sc.strategy = Strategy::Rollout(RolloutRelease {
        name: "myapp".into(),
        spec,
        virtual_service: None,
        promote_after: promote_after.map(DurationDist::Fixed),
        analyses: Default::default(),
    });
    sc
}

fn canary_steps() -> Vec<CanaryStep> {
    vec![
        CanaryStep::SetWeight(10),
        CanaryStep::Pause { duration: Some(10 * MINUTE) },
        CanaryStep::SetWeight(50),
        CanaryStep::Pause { duration: Some(10 * MINUTE) },
        CanaryStep::SetWeight(100),
    ]
}

fn flagger(mut sc: Scenario) -> Scenario {
    let spec = CanarySpec {
        name: "myapp".into(),
        namespace: "default".into(),
        target: "myapp".into(),
        provider: Provider::Istio,
        progress_deadline_seconds: None,
        skip_analysis: false,
        analysis: CanaryAnalysis {
            interval: Some(MINUTE),
            threshold: 5,
            max_weight: 50,
            step_weight: 10,
            ..CanaryAnalysis::default()
        },
    };
    let checks = vec![FlaggerCheck {
        name: "request-success-rate".into(),
        kind: FlaggerCheckKind::RequestSuccessRate,
        min: Some(99.0),
        max: None,
        interval: MINUTE,
        query: None,
    }];
    sc.strategy = Strategy::Flagger(FlaggerRelease { spec, checks });
    sc
}

fn run(sc: &Scenario, replication: u64) -> ReplicationResult {
    run_replication(sc, replication, ALL)
}

fn rows<'a>(
    r: &'a ReplicationResult,
    object: &'a str,
    reason: &'a str,
) -> impl Iterator<Item = &'a TraceEvent> {
    r.trace.iter().filter(move |e| e.object == object && e.reason == reason)
}

fn secs(t: SimTime) -> f64 {
    to_secs_f64(t)
}

#[test]
fn service_switch_doubles_the_pods_switches_once_available_and_scales_the_old_down() {
    let sc = switch(healthy(example(1)));
    let r = run(&sc, 0);
    assert_eq!(r.record.outcome, Outcome::Completed);
    // Both Deployments at full size at once: 100% overhead at the peak.
    assert_eq!(r.record.peak_pods, 20);
    assert!((r.record.overhead_pct - 100.0).abs() < 1e-9);
    let switched: Vec<_> = rows(&r, "Service/myapp", "SelectorSwitched").collect();
    assert_eq!(switched.len(), 1);
    assert!(switched[0].message.contains("10/10 available"), "{}", switched[0].message);
    // The old Deployment goes to 0 exactly keepOldFor (10m) after the switch.
    let scaled: Vec<_> = rows(&r, "Service/myapp", "ScalingDeployment").collect();
    let down = scaled.iter().find(|e| e.message.contains("myapp to 0")).expect("old scaled down");
    assert!((down.time_s - switched[0].time_s - 600.0).abs() < 1e-6);
    // No request ever reached no endpoint, and after the switch all go to the new version.
    let last = r.timeline.iter().rev().find(|row| row.version == "myapp:2.0").unwrap();
    assert!(last.traffic_share > 0.999 && last.intended_share == 1.0);
    assert_eq!(r.record.dropped_requests, 0);
}

#[test]
fn service_switch_rollback_switches_the_selector_back_at_once() {
    let sc = switch(example(2));
    let r = run(&sc, 1);
    assert_eq!(r.record.detected_by, Some("alert:ErrorBudgetBurn".to_string()));
    let undo = rows(&r, "Service/myapp", "RollbackStarted").next().expect("rolled back by hand");
    // Detection comes ~17 min after the switch, after keepOldFor: the old Deployment must
    // come back first, so mitigation waits for it to be available.
    assert!(undo.message.contains("scaled down"), "{}", undo.message);
    assert_eq!(r.record.outcome, Outcome::RolledBack);
    let back = rows(&r, "Service/myapp", "SelectorSwitched").last().unwrap();
    assert!(back.message.contains("version=blue"));
    assert!(r.record.mitigated_at_s.unwrap() >= back.time_s - secs(sc.release.at));
}

#[test]
fn a_static_mesh_split_sends_the_new_subset_its_weight() {
    let sc = mesh(healthy(example(1)), vec![MeshStep { weight: 10, hold: None }]);
    let r = run(&sc, 2);
    assert_eq!(r.record.outcome, Outcome::Completed);
    let weights: Vec<_> = rows(&r, "VirtualService/myapp", "TrafficWeight").collect();
    assert_eq!(weights.len(), 1);
    assert!(weights[0].message.starts_with("canary 10% stable 90%"));
    // Requests to the new version after the split: Binomial(n, 0.1), checked within 5 sigma.
    let applied = weights[0].time_s - secs(sc.release.at) + 1.0;
    let (mut n, mut new) = (0.0, 0.0);
    for row in r.timeline.iter().filter(|row| row.time_s > applied) {
        n += row.request_rps;
        if row.version == "myapp:2.0" {
            new += row.request_rps;
            assert!((row.intended_share - 0.1).abs() < 1e-12);
        }
    }
    let p = new / n;
    let sigma = (0.1 * 0.9 / n).sqrt();
    assert!((p - 0.1).abs() < 5.0 * sigma, "share {p} over {n} requests");
}

#[test]
fn manual_mesh_steps_hold_then_advance_and_a_rollback_takes_the_weight_away() {
    let steps = vec![
        MeshStep { weight: 10, hold: Some(10 * MINUTE) },
        MeshStep { weight: 50, hold: Some(10 * MINUTE) },
        MeshStep { weight: 100, hold: None },
    ];
    let sc = mesh(healthy(example(1)), steps.clone());
    let r = run(&sc, 3);
    let w: Vec<_> = rows(&r, "VirtualService/myapp", "TrafficWeight").collect();
    assert_eq!(w.len(), 3);
    assert!((w[1].time_s - w[0].time_s - 600.0).abs() < 1e-6);
    assert!((w[2].time_s - w[1].time_s - 600.0).abs() < 1e-6);
    assert_eq!(r.record.outcome, Outcome::Completed);

    let bad = mesh(example(2), steps);
    let r = run(&bad, 3);
    let back = rows(&r, "VirtualService/myapp", "TrafficWeight").last().unwrap();
    assert!(back.message.starts_with("canary 0% stable 100%"), "{}", back.message);
    assert_eq!(r.record.outcome, Outcome::RolledBack);
    // Mitigation follows the undo by the proxies' propagation delay.
    let undo = rows(&r, "VirtualService/myapp", "RollbackStarted").next().unwrap();
    let mitigated = r.record.mitigated_at_s.unwrap() + secs(bad.release.at);
    assert!(mitigated - undo.time_s <= secs(bad.controller.endpoint_propagation) + 1e-6);
}

#[test]
fn a_routed_argo_canary_writes_each_weight_once_its_pods_are_available_and_promotes() {
    let canary = CanaryStrategy { steps: canary_steps(), traffic_routing: true, ..CanaryStrategy::default() };
    let sc = rollout(healthy(example(1)), RolloutStrategy::Canary(canary), None);
    let r = run(&sc, 4);
    let w: Vec<String> = rows(&r, "Rollout/myapp", "TrafficWeight").map(|e| e.message.clone()).collect();
    assert!(w.contains(&"canary 10% stable 90%".to_string()), "{w:?}");
    assert!(w.contains(&"canary 50% stable 50%".to_string()), "{w:?}");
    assert_eq!(r.record.outcome, Outcome::Completed);
    // Stable kept full while the canary is ceil(10% of 10) = 1 pod: 11 pods at 10%.
    let at_10 =
        r.timeline.iter().find(|row| row.version == "myapp:2.0" && row.intended_share == 0.1).unwrap();
    assert_eq!(at_10.pods_desired, 1);
}

#[test]
fn a_basic_argo_canary_reports_intended_and_actual_share() {
    let canary = CanaryStrategy { steps: canary_steps(), ..CanaryStrategy::default() };
    let sc = rollout(healthy(example(1)), RolloutStrategy::Canary(canary), None);
    let r = run(&sc, 5);
    assert_eq!(r.record.outcome, Outcome::Completed);
    // At setWeight 10 of 10 replicas: 1 canary pod and 9 stable, so the actual share is the
    // endpoint share 1/10 while setWeight says 10%.
    let rows_10: Vec<_> =
        r.timeline.iter().filter(|row| row.version == "myapp:2.0" && row.intended_share == 0.1).collect();
    assert!(rows_10.len() > 300);
    let actual: f64 = rows_10.iter().map(|row| row.traffic_share).sum::<f64>() / rows_10.len() as f64;
    assert!((actual - 0.1).abs() < 0.02, "{actual}");
}

#[test]
fn an_argo_blue_green_waits_for_the_promotion_and_keeps_the_old_pods_for_the_delay() {
    let mut bg = BlueGreenStrategy::new("myapp");
    bg.auto_promotion_enabled = false;
    bg.scale_down_delay = Some(10 * MINUTE);
    let sc = rollout(healthy(example(1)), RolloutStrategy::BlueGreen(bg), Some(5 * MINUTE));
    let r = run(&sc, 6);
    assert_eq!(r.record.outcome, Outcome::Completed);
    assert_eq!(r.record.peak_pods, 20);
    let promoted = rows(&r, "Rollout/myapp", "Promoted").next().expect("promoted by hand");
    let paused = rows(&r, "Rollout/myapp", "RolloutPaused").next().unwrap();
    assert!((promoted.time_s - paused.time_s - 300.0).abs() < 1e-6);
    let switch = rows(&r, "Rollout/myapp", "SwitchService").find(|e| e.time_s >= promoted.time_s).unwrap();
    assert!(switch.message.contains("activeService"));
    // The old RS is scaled down scaleDownDelaySeconds after the switch.
    let down = rows(&r, "Rollout/myapp", "ScalingReplicaSet")
        .find(|e| e.time_s > switch.time_s && e.message.contains("to 0"))
        .unwrap();
    assert!((down.time_s - switch.time_s - 600.0).abs() < 1.0, "{} {}", down.time_s, switch.time_s);
}

#[test]
fn an_aborted_argo_canary_goes_back_to_stable() {
    let canary = CanaryStrategy { steps: canary_steps(), traffic_routing: true, ..CanaryStrategy::default() };
    let mut sc = rollout(example(2), RolloutStrategy::Canary(canary), None);
    // A long pause at 50% so that the page comes while the canary runs.
    if let Strategy::Rollout(r) = &mut sc.strategy
        && let RolloutStrategy::Canary(c) = &mut r.spec.strategy
    {
        c.steps[3] = CanaryStep::Pause { duration: None };
    }
    let r = run(&sc, 7);
    assert_eq!(r.record.detected_by, Some("alert:ErrorBudgetBurn".to_string()));
    assert_eq!(r.record.outcome, Outcome::RolledBack, "{:?}", r.record);
    let aborted = rows(&r, "Rollout/myapp", "RolloutAborted").next().unwrap();
    let zero = rows(&r, "Rollout/myapp", "TrafficWeight").last().unwrap();
    assert_eq!(zero.message, "canary 0% stable 100%");
    assert!(zero.time_s >= aborted.time_s);
}

#[test]
fn flagger_rolls_a_failing_canary_back_after_threshold_failed_checks() {
    let sc = flagger(example(1));
    let r = run(&sc, 8);
    assert_eq!(r.record.detected_by, Some("flagger_analysis".to_string()), "{:?}", r.record);
    let weights: Vec<_> = rows(&r, "Canary/myapp", "TrafficWeight").map(|e| e.message.clone()).collect();
    assert!(weights.iter().any(|m| m == "canary 10% stable 90%"), "{weights:?}");
    assert!(weights.iter().all(|m| m != "canary 20% stable 80%"), "{weights:?}");
    let failed = rows(&r, "Canary/myapp", "CheckFailed").count();
    assert_eq!(failed, 5);
    // Five failed checks, one per interval, then the rollback at the next tick (§3.7).
    let first = rows(&r, "Canary/myapp", "CheckFailed").next().unwrap().time_s;
    let back = rows(&r, "Canary/myapp", "Rollback").next().unwrap().time_s;
    assert!((back - first - 300.0).abs() < 1e-6);
    assert_eq!(r.record.outcome, Outcome::RolledBack);
}

#[test]
fn flagger_promotes_a_healthy_canary_in_the_reference_number_of_ticks() {
    let sc = flagger(healthy(example(1)));
    let r = run(&sc, 9);
    assert_eq!(r.record.outcome, Outcome::Completed, "{:?}", r.trace);
    // Initialisation routes everything to the primary at t = 0; the release is at 5m.
    let first = rows(&r, "Canary/myapp", "TrafficWeight").next().unwrap();
    assert_eq!((first.time_s, first.message.as_str()), (0.0, "canary 0% stable 100%"));
    let weights: Vec<_> = rows(&r, "Canary/myapp", "TrafficWeight")
        .filter(|e| e.time_s > 300.0)
        .map(|e| e.message.clone())
        .collect();
    let expected = ["canary 10% stable 90%", "canary 20% stable 80%", "canary 30% stable 70%"];
    assert_eq!(&weights[..3], &expected);
    assert_eq!(weights.last().unwrap(), "canary 0% stable 100%");
}

fn never_ready(mut sc: Scenario) -> Scenario {
    let to = sc.release.to_image.clone();
    let v = sc.versions.get_mut(&to).unwrap();
    v.faults = vec![crate::scenario::Fault {
        kind: crate::scenario::FaultKind::CrashAtStart,
        after: 0,
        anchor: crate::scenario::FaultAnchor::PodStart,
        ramp: None,
    }];
    sc
}

#[test]
fn an_argo_canary_past_its_progress_deadline_aborts_itself_with_progress_deadline_abort() {
    let canary = CanaryStrategy { steps: canary_steps(), traffic_routing: true, ..CanaryStrategy::default() };
    let mut sc = rollout(never_ready(example(1)), RolloutStrategy::Canary(canary), None);
    if let Strategy::Rollout(r) = &mut sc.strategy {
        r.spec.progress_deadline = 5 * MINUTE;
        r.spec.progress_deadline_abort = true;
    }
    let r = run(&sc, 10);
    assert_eq!(r.record.detected_by, Some("progress_deadline".to_string()), "{:?}", r.record);
    let deadline = rows(&r, "Rollout/myapp", "ProgressDeadlineExceeded").next().unwrap();
    let aborted = rows(&r, "Rollout/myapp", "RolloutAborted").next().unwrap();
    assert_eq!(deadline.time_s, aborted.time_s);
    assert!(aborted.message.contains("ProgressDeadline"), "{}", aborted.message);
    // The canary never got weight (its pod was never available), and it is gone after the
    // abort delay: rolled back with no human.
    assert!(rows(&r, "Rollout/myapp", "TrafficWeight").all(|e| e.message == "canary 0% stable 100%"));
    assert_eq!(r.record.outcome, Outcome::RolledBack);
    assert_eq!(r.record.bad_requests, 0);
}

#[test]
fn flagger_blue_green_by_kubernetes_keeps_users_on_the_primary_until_promotion() {
    let mut sc = flagger(healthy(example(1)));
    if let Strategy::Flagger(f) = &mut sc.strategy {
        f.spec.provider = Provider::Kubernetes;
        f.spec.analysis.iterations = 3;
    }
    let r = run(&sc, 11);
    assert_eq!(r.record.outcome, Outcome::Completed, "{:?}", r.record);
    let iterations = rows(&r, "Canary/myapp", "Iteration").count();
    assert_eq!(iterations, 3);
    let promoted = rows(&r, "Canary/myapp", "Promotion").next().unwrap().time_s;
    // No user request reached the new version before the primary was promoted to it.
    let before: f64 = r
        .timeline
        .iter()
        .filter(|row| row.version == "myapp:2.0" && row.time_s + secs(sc.release.at) < promoted)
        .map(|row| row.request_rps)
        .sum();
    assert_eq!(before, 0.0);
    assert!(r.record.new_version_requests > 0);
}

#[test]
fn flagger_ab_testing_sends_no_user_traffic_to_the_canary() {
    let mut sc = flagger(example(1));
    if let Strategy::Flagger(f) = &mut sc.strategy {
        f.spec.analysis.iterations = 5;
        f.spec.analysis.has_match = true;
    }
    let r = run(&sc, 12);
    // The checks are a stand-in from the canary's true error rate (5% > 1%): rolled back
    // after `threshold` failed checks, with no user ever on the canary.
    assert_eq!(r.record.detected_by, Some("flagger_analysis".to_string()));
    assert_eq!(r.record.new_version_requests, 0);
    assert!(rows(&r, "Canary/myapp", "TrafficWeight").any(|e| e.message.contains("matched requests only")));
}

#[test]
fn a_controller_rollback_before_any_detection_measures_from_its_start() {
    // progressDeadlineAbort with detection on the deadline turned off: the rollback ends
    // before the page, and its time is measured from the abort.
    let canary = CanaryStrategy { steps: canary_steps(), traffic_routing: true, ..CanaryStrategy::default() };
    let mut sc = rollout(never_ready(example(1)), RolloutStrategy::Canary(canary), None);
    sc.detection.on_progress_deadline = false;
    if let Strategy::Rollout(r) = &mut sc.strategy {
        r.spec.progress_deadline = 2 * MINUTE;
        r.spec.progress_deadline_abort = true;
    }
    let r = run(&sc, 13);
    assert_eq!(r.record.outcome, Outcome::RolledBack);
    let aborted = rows(&r, "Rollout/myapp", "RolloutAborted").next().unwrap().time_s;
    let back = r.record.rolled_back_at_s.unwrap() + secs(sc.release.at);
    assert!((r.record.time_to_rollback_s.unwrap() - (back - aborted)).abs() < 1e-6);
}

#[test]
fn an_argo_abort_that_keeps_the_canary_is_back_once_no_traffic_reaches_it() {
    let canary = CanaryStrategy {
        steps: canary_steps(),
        traffic_routing: true,
        abort_scale_down_delay: Some(0),
        ..CanaryStrategy::default()
    };
    let mut sc = rollout(example(2), RolloutStrategy::Canary(canary), None);
    if let Strategy::Rollout(r) = &mut sc.strategy
        && let RolloutStrategy::Canary(c) = &mut r.spec.strategy
    {
        c.steps[3] = CanaryStep::Pause { duration: None };
    }
    let r = run(&sc, 7);
    assert_eq!(r.record.outcome, Outcome::RolledBack, "{:?}", r.record);
    // abortScaleDownDelaySeconds: 0 keeps the canary pods: they are never scaled down.
    assert!(rows(&r, "Rollout/myapp", "ScalingReplicaSet").all(|e| !e.message.contains("to 0")));
    assert!(r.record.rolled_back_at_s.unwrap() >= r.record.mitigated_at_s.unwrap());
}

#[test]
fn flagger_failing_after_the_promotion_is_stalled_not_rolled_back() {
    // The new pods crash a while after the release: the canary passes its checks, the
    // primary gets the new template, and its rollout never completes.
    let mut sc = flagger(example(1));
    let to = sc.release.to_image.clone();
    sc.versions.get_mut(&to).unwrap().faults = vec![crate::scenario::Fault {
        kind: crate::scenario::FaultKind::CrashAtStart,
        after: 2 * MINUTE + 10 * SECOND,
        anchor: crate::scenario::FaultAnchor::Release,
        ramp: None,
    }];
    if let Strategy::Flagger(f) = &mut sc.strategy {
        f.spec.analysis.step_weight = 50;
        f.checks.clear();
    }
    let r = run(&sc, 14);
    assert!(rows(&r, "Canary/myapp", "Promotion").next().is_some(), "promoted");
    assert_eq!(r.record.outcome, Outcome::Stalled, "{:?}", r.record);
    assert_eq!(r.record.completed_at_s, None);
    assert_eq!(r.record.rolled_back_at_s, None);
}

#[test]
fn flagger_skip_analysis_completes_only_when_the_primary_runs_the_new_version() {
    let mut sc = flagger(healthy(example(1)));
    if let Strategy::Flagger(f) = &mut sc.strategy {
        f.spec.skip_analysis = true;
    }
    let r = run(&sc, 15);
    assert_eq!(r.record.outcome, Outcome::Completed);
    let succeeded = rows(&r, "Canary/myapp", "Promotion").next().unwrap().time_s;
    let primary_done = rows(&r, "Deployment/myapp-primary", "NewReplicaSetAvailable").last().unwrap().time_s;
    let completed = r.record.completed_at_s.unwrap() + secs(sc.release.at);
    assert!(completed >= primary_done && completed > succeeded, "{completed} {primary_done} {succeeded}");
}

/// alerting.md §4 / controllers.md §5.3: the time from a step change in the error ratio to
/// the alert firing is the scrape delay, the window fill, the wait for the next evaluation
/// and `for`; so it lies within one scrape interval and one evaluation interval of the fluid
/// crossing plus `for`.
#[test]
fn alert_timing_for_a_step_change_matches_the_formula() {
    use crate::scenario::{Fault, FaultAnchor, FaultKind, RuleGroup};
    let mut sc = healthy(example(1));
    let to = sc.release.to_image.clone();
    let onset = 20 * MINUTE;
    let (e, p0, threshold) = (0.5, 0.001, 0.1);
    sc.versions.get_mut(&to).unwrap().faults.push(Fault {
        kind: FaultKind::Errors { rate: e },
        after: onset,
        anchor: FaultAnchor::Release,
        ramp: None,
    });
    let (window, for_) = (5 * MINUTE, 5 * MINUTE);
    let (scrape, eval) = (15 * crate::engine::SECOND, 30 * crate::engine::SECOND);
    sc.monitoring.scrape_interval = scrape;
    sc.monitoring.groups = vec![RuleGroup {
        object: "PrometheusRule/myapp".into(),
        name: "myapp".into(),
        interval: eval,
        rules: vec![crate::scenario::Rule::Alerting(crate::scenario::AlertingRule {
            name: "HighErrorRate".into(),
            expr: crate::telemetry::promql::parse(
                r#"sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.1"#,
            )
            .unwrap(),
            for_,
            keep_firing_for: 0,
            labels: Default::default(),
        })],
    }];
    // The error ratio over the window after the step (version error rate p0, fault e on
    // top): p0 + (1 − p0)·e·f for the share f of the window past the onset.
    let p1 = p0 + (1.0 - p0) * e;
    let fill = (threshold - p0) / (p1 - p0) * crate::engine::to_secs_f64(window);
    let base = crate::engine::to_secs_f64(onset + for_) + fill;
    let (s, v) = (crate::engine::to_secs_f64(scrape), crate::engine::to_secs_f64(eval));
    for replication in 0..40 {
        let r = run_replication(&sc, replication, Collect::default());
        let fired = r.record.detected_at_s.expect("the alert fires");
        assert_eq!(r.record.detected_by.as_deref(), Some("alert:HighErrorRate"));
        let late = fired - base;
        assert!(late >= -s && late <= s + v, "replication {replication}: fired {fired} s, formula {base} s");
    }
}

/// alerting.md §5: one evaluation of a canary-only error-ratio rule fires with probability
/// Σₙ Pois(n; μ)·P[Bin(n, p) > T·n]. With every target scraped at the same phase and
/// zero-initialised counters, the ratio of two `increase`s over one window is the ratio of the
/// counts between its first and last sample (the extrapolation factors cancel), so μ is the
/// canary's request rate times the sampled span, W − scrape interval. Windows a minute apart
/// are disjoint, so their evaluations are independent draws.
#[test]
fn a_canary_only_ratio_fires_as_often_as_the_exact_poisson_binomial_sum() {
    use crate::telemetry::detection_stats::canary_fire_probability;
    use crate::telemetry::promql::{Value, parse};
    let mut sc = healthy(mesh(example(2), vec![MeshStep { weight: 10, hold: None }]));
    let to = sc.release.to_image.clone();
    let p = 0.05;
    sc.versions.get_mut(&to).unwrap().error_rate = p;
    sc.monitoring.groups.clear();
    sc.monitoring.counters = crate::scenario::CounterInit::Zero;
    sc.monitoring.scrape_offset = Some(0);
    let threshold = 0.055;
    let query = parse(
        r#"sum(increase(http_requests_total{pod=~"myapp-green-.*",status=~"5.."}[1m])) / sum(increase(http_requests_total{pod=~"myapp-green-.*"}[1m])) > 0.055"#,
    )
    .unwrap();
    let collect = Collect { timeline: false, trace: false, store: true };
    let (mut fired, mut n) = (0u64, 0u64);
    for replication in 0..8 {
        let r = run_replication(&sc, replication, collect);
        let store = r.store.expect("kept");
        // From 15 minutes after the release (the canary long since serving), every minute.
        let mut t = sc.release.at + 15 * MINUTE;
        while t + MINUTE <= sc.duration {
            if let Value::Vector(v) = query.eval_instant(&store, t).unwrap() {
                fired += u64::from(!v.is_empty());
            }
            n += 1;
            t += MINUTE;
        }
    }
    let rps = crate::traffic::Rate::new(&sc.traffic).at(0);
    let mu = 0.1 * rps * 45.0;
    let q = canary_fire_probability(mu, p, threshold, 1);
    let share = fired as f64 / n as f64;
    let se = (q * (1.0 - q) / n as f64).sqrt();
    assert!(q > 0.05 && q < 0.5, "a probability a test can tell: {q}");
    assert!((share - q).abs() < 4.0 * se, "fired {fired} of {n} ({share:.4}), exact {q:.4} ± {se:.4}");
}
