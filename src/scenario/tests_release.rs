//! Loading the release kinds: Argo Rollouts, Istio VirtualService/DestinationRule, Flagger
//! Canaries and Service switches, from the upstream docs' examples as release engineers copy
//! them, and the errors they produce (positions found by searching the text, so the fixtures
//! can be edited freely).

use super::*;
use crate::controllers::argo::spec::{CanaryStep, SetCanaryScale};
use crate::controllers::flagger::spec::Provider;
use crate::controllers::service_switch::DEFAULT_KEEP_OLD_FOR;
use crate::engine::{HOUR, MINUTE, SECOND};

/// A Simulation document with `release` (a YAML flow mapping) and the given versions.
fn simulation(release: &str, versions: &[&str]) -> String {
    simulation_with(release, versions, "")
}

/// [`simulation`] plus `extra` lines under `spec`.
pub(super) fn simulation_with(release: &str, versions: &[&str], extra: &str) -> String {
    let versions: String = versions.iter().map(|v| format!("    {v}: {{}}\n")).collect();
    format!(
        "---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {{name: t}}
spec:
  duration: 2h
  release: {release}
  traffic: {{rps: 500}}
  versions:
{versions}  pods: {{startup: 20s, capacityRps: 100}}
  cluster: {{nodes: 4, nodeCapacity: {{cpu: \"8\", memory: 32Gi}}}}
  slo: {{objective: 99.9%, window: 30d}}
{extra}"
    )
}

pub(super) fn load(text: &str) -> Scenario {
    match load_str("t.yaml", text, &[]) {
        Ok(s) => s,
        Err(e) => panic!("does not load:\n{e}\n---\n{text}"),
    }
}

pub(super) fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str("t.yaml", text, &[]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.diagnostics,
    }
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`.
pub(super) fn pos_of(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset =
        text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("`{needle}` #{nth} not in text")).0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// Asserts exactly one diagnostic, at the `nth` occurrence of `at`, containing `message`.
pub(super) fn check_error(text: &str, at: &str, nth: usize, message: &str) -> Diagnostic {
    let diags = errors(text);
    let (line, column) = pos_of(text, at, nth);
    let all: Vec<String> = diags.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect();
    assert_eq!(diags.len(), 1, "expected one diagnostic at {line}:{column}, got:\n{}", all.join("\n"));
    let d = &diags[0];
    assert!(
        (d.line, d.column) == (line, column) && d.message.contains(message),
        "expected {line}:{column} containing {message:?}; got:\n{}",
        all.join("\n")
    );
    assert!(d.help.is_some(), "no help line: {d}");
    assert!(d.to_string().contains(&format!("--> t.yaml:{line}:{column}")), "{d}");
    d.clone()
}

// ---------------------------------------------------------------------------------------------
// Argo Rollouts

/// The Argo Rollouts getting-started `rollouts-demo` (basic canary), as in the docs.
const ROLLOUTS_DEMO: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollouts-demo
spec:
  replicas: 5
  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 40
      - pause: {duration: 10}
      - setWeight: 60
      - pause: {duration: 10}
      - setWeight: 80
      - pause: {duration: 10}
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: rollouts-demo
  template:
    metadata:
      labels:
        app: rollouts-demo
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        resources:
          requests:
            memory: 32Mi
            cpu: 5m
---
apiVersion: v1
kind: Service
metadata:
  name: rollouts-demo
spec:
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: rollouts-demo
";

const DEMO_VERSIONS: [&str; 2] = ["argoproj/rollouts-demo:blue", "argoproj/rollouts-demo:yellow"];

fn rollouts_demo(release: &str) -> String {
    format!("{ROLLOUTS_DEMO}{}", simulation(release, &DEMO_VERSIONS))
}

fn rollout_of(s: &Scenario) -> &RolloutRelease {
    match &s.strategy {
        Strategy::Rollout(r) => r,
        other => panic!("expected a Rollout, got {other:?}"),
    }
}

#[test]
fn rollouts_demo_canary() {
    let text = rollouts_demo(
        "{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:blue, to: argoproj/rollouts-demo:yellow, \
         at: 5m, promoteAfter: {kind: lognormal, median: 10m, p99: 1h}}",
    );
    let s = load(&text);
    let r = rollout_of(&s);
    assert_eq!(r.name, "rollouts-demo");
    assert_eq!(r.virtual_service, None);
    assert_eq!(r.promote_after, Some(DurationDist::LogNormal { median: 10 * MINUTE, p99: HOUR }));
    assert!(r.analyses.steps.is_empty() && r.analyses.background.is_none());
    assert_eq!(r.spec.replicas, 5);
    assert_eq!(r.spec.progress_deadline, 600 * SECOND);
    let c = r.spec.canary().unwrap();
    assert_eq!((c.max_surge, c.max_unavailable), (IntOrPercent::Percent(25), IntOrPercent::Percent(25)));
    assert!(!c.traffic_routing);
    let pause = |s: u64| CanaryStep::Pause { duration: Some(s * SECOND) };
    assert_eq!(
        c.steps,
        vec![
            CanaryStep::SetWeight(20),
            CanaryStep::Pause { duration: None },
            CanaryStep::SetWeight(40),
            pause(10),
            CanaryStep::SetWeight(60),
            pause(10),
            CanaryStep::SetWeight(80),
            pause(10),
        ]
    );
    // The Rollout's pod template, presented as a Deployment.
    let d = &s.deployment;
    assert_eq!((d.name.as_str(), d.namespace.as_str(), d.replicas), ("rollouts-demo", "default", 5));
    assert_eq!(d.image, "argoproj/rollouts-demo:blue");
    assert_eq!(d.requests, Resources { cpu_millis: 5, memory_bytes: 32 << 20 });
    assert_eq!(d.revision_history_limit, 2);
    assert_eq!(d.progress_deadline_seconds, Some(600));
    assert_eq!(d.template_labels.get("app").map(String::as_str), Some("rollouts-demo"));
    assert_eq!(s.release.workload, "rollouts-demo");
    assert_eq!(s.release.from_image, "argoproj/rollouts-demo:blue");
    assert_eq!(s.release.to_image, "argoproj/rollouts-demo:yellow");
}

#[test]
fn pause_durations_as_argo_reads_them() {
    let cases =
        [("10", 10 * SECOND), ("\"10\"", 10 * SECOND), ("10s", 10 * SECOND), ("1m", MINUTE), ("1h", HOUR)];
    for (written, want) in cases {
        let release = "{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}";
        let text =
            rollouts_demo(release).replace("- pause: {}", &format!("- pause: {{duration: {written}}}"));
        let s = load(&text);
        let steps = &rollout_of(&s).spec.canary().unwrap().steps;
        assert_eq!(steps[1], CanaryStep::Pause { duration: Some(want) }, "{written}");
    }
}

#[test]
fn release_to_defaults_to_the_rollout_image() {
    let text =
        rollouts_demo("{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}");
    let s = load(&text);
    assert_eq!(s.release.to_image, "argoproj/rollouts-demo:blue");
    assert_eq!(rollout_of(&s).promote_after, None);
}

/// The Argo docs' blue-green example with manual promotion and a long scale-down delay.
const BLUE_GREEN: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollout-bluegreen
spec:
  replicas: 2
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: rollout-bluegreen
  template:
    metadata:
      labels:
        app: rollout-bluegreen
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        imagePullPolicy: Always
        ports:
        - containerPort: 8080
  strategy:
    blueGreen:
      activeService: rollout-bluegreen-active
      previewService: rollout-bluegreen-preview
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 600
      prePromotionAnalysis:
        templates:
        - templateName: smoke-tests
---
kind: Service
apiVersion: v1
metadata:
  name: rollout-bluegreen-active
spec:
  selector:
    app: rollout-bluegreen
  ports:
  - protocol: TCP
    port: 80
    targetPort: 8080
---
kind: Service
apiVersion: v1
metadata:
  name: rollout-bluegreen-preview
spec:
  selector:
    app: rollout-bluegreen
  ports:
  - protocol: TCP
    port: 80
    targetPort: 8080
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke-tests
spec:
  metrics:
  - name: error-ratio
    successCondition: result[0] < 0.01
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: sum(rate(http_requests_total{status=~\"5..\"}[1m])) / sum(rate(http_requests_total[1m]))
";

fn blue_green(release: &str) -> String {
    format!("{BLUE_GREEN}{}", simulation(release, &DEMO_VERSIONS))
}

const BG_RELEASE: &str =
    "{workload: Rollout/rollout-bluegreen, from: argoproj/rollouts-demo:yellow, at: 5m, promoteAfter: 10m}";

#[test]
fn blue_green_rollout() {
    let s = load(&blue_green(BG_RELEASE));
    let r = rollout_of(&s);
    let b = r.spec.blue_green().unwrap();
    assert_eq!(b.active_service, "rollout-bluegreen-active");
    assert_eq!(b.preview_service.as_deref(), Some("rollout-bluegreen-preview"));
    assert!(!b.auto_promotion_enabled);
    assert_eq!(b.auto_promotion_seconds, 0);
    assert_eq!(b.scale_down_delay, Some(600 * SECOND));
    assert_eq!(b.abort_scale_down_delay, None);
    assert_eq!(b.preview_replica_count, None);
    assert_eq!(b.pre_promotion_analysis, vec!["smoke-tests".to_string()]);
    assert!(b.post_promotion_analysis.is_empty());
    assert_eq!(r.promote_after, Some(DurationDist::Fixed(10 * MINUTE)));
    let pre = r.analyses.pre_promotion.as_ref().expect("the prePromotionAnalysis run");
    assert_eq!(pre.templates, vec!["smoke-tests".to_string()]);
    assert_eq!(pre.metrics[0].name, "error-ratio");
    assert!(r.analyses.post_promotion.is_none());
    assert_eq!(r.virtual_service, None);
    assert_eq!(s.deployment.replicas, 2);
}

#[test]
fn blue_green_needs_its_active_service() {
    let text = blue_green(BG_RELEASE).replace("      activeService: rollout-bluegreen-active\n", "");
    let d = check_error(&text, "blueGreen:", 0, "requires an active service");
    assert!(d.help.unwrap().contains("activeService"));

    let text = blue_green(BG_RELEASE)
        .replace("activeService: rollout-bluegreen-active", "activeService: rollout-bluegreen-live");
    let d = check_error(
        &text,
        "rollout-bluegreen-live",
        0,
        "names Service `rollout-bluegreen-live`, which is not in this file",
    );
    assert!(d.message.starts_with("Rollout `rollout-bluegreen`"), "{d}");

    let text =
        blue_green(BG_RELEASE).replacen("    app: rollout-bluegreen\n  ports", "    app: other\n  ports", 1);
    check_error(
        &text,
        "rollout-bluegreen-active",
        0,
        "does not select the pods of Rollout `rollout-bluegreen`",
    );
}

/// The Argo docs' Istio subset-level traffic splitting: a Rollout, its VirtualService and
/// DestinationRule.
const ISTIO_ROLLOUT: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollouts-demo
spec:
  replicas: 4
  selector:
    matchLabels:
      app: rollouts-demo
  template:
    metadata:
      labels:
        app: rollouts-demo
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      trafficRouting:
        istio:
          virtualService:
            name: rollouts-demo-vsvc
            routes:
            - primary
          destinationRule:
            name: rollouts-demo-destrule
            canarySubsetName: canary
            stableSubsetName: stable
      steps:
      - setWeight: 5
      - pause: {duration: \"1m\"}
      - setCanaryScale: {replicas: 3, weight: 50}
      - setCanaryScale: {weight: 50}
      - setCanaryScale: {matchTrafficWeight: true, replicas: 2}
      - analysis:
          templates:
          - templateName: success-rate
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: rollouts-demo-vsvc
spec:
  gateways:
  - rollouts-demo-gateway
  hosts:
  - rollouts-demo-vsvc.local
  http:
  - name: primary
    route:
    - destination:
        host: rollouts-demo
        subset: stable
      weight: 100
    - destination:
        host: rollouts-demo
        subset: canary
      weight: 0
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: rollouts-demo-destrule
spec:
  host: rollouts-demo
  subsets:
  - name: canary
    labels:
      app: rollouts-demo
  - name: stable
    labels:
      app: rollouts-demo
---
apiVersion: v1
kind: Service
metadata:
  name: rollouts-demo
spec:
  selector:
    app: rollouts-demo
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  metrics:
  - name: success-rate
    interval: 1m
    count: 3
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: sum(rate(istio_requests_total{response_code!~\"5.*\"}[1m])) / sum(rate(istio_requests_total[1m]))
";

fn istio_rollout(release: &str) -> String {
    format!("{ISTIO_ROLLOUT}{}", simulation(release, &DEMO_VERSIONS))
}

const ISTIO_RELEASE: &str = "{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}";

#[test]
fn istio_routed_rollout() {
    let s = load(&istio_rollout(ISTIO_RELEASE));
    let r = rollout_of(&s);
    assert_eq!(r.virtual_service.as_deref(), Some("rollouts-demo-vsvc"));
    let c = r.spec.canary().unwrap();
    assert!(c.traffic_routing);
    assert_eq!(c.scale_down_delay(), 30 * SECOND);
    assert_eq!(
        c.steps,
        vec![
            CanaryStep::SetWeight(5),
            CanaryStep::Pause { duration: Some(MINUTE) },
            CanaryStep::SetCanaryScale(SetCanaryScale::Replicas(3)),
            CanaryStep::SetCanaryScale(SetCanaryScale::Weight(50)),
            CanaryStep::SetCanaryScale(SetCanaryScale::MatchTrafficWeight),
            CanaryStep::Analysis { templates: vec!["success-rate".into()] },
        ]
    );
    let run = &r.analyses.steps[&5];
    assert_eq!(run.metrics.len(), 1);
    assert_eq!(run.metrics[0].spec.count, Some(3));
    // `virtualServices[0]` works as well.
    let text = istio_rollout(ISTIO_RELEASE)
        .replace(
            "          virtualService:\n            name: rollouts-demo-vsvc\n",
            "          virtualServices:\n          - name: rollouts-demo-vsvc\n",
        )
        .replace("            routes:\n            - primary\n", "");
    assert_eq!(rollout_of(&load(&text)).virtual_service.as_deref(), Some("rollouts-demo-vsvc"));
}

#[test]
fn only_istio_traffic_routing_is_simulated() {
    let text = istio_rollout(ISTIO_RELEASE).replace(
        "        istio:\n          virtualService:",
        "        nginx:\n          stableIngress: demo\n        istioo:\n          virtualService:",
    );
    let diags = errors(&text);
    let nginx = diags.iter().find(|d| d.message.contains("trafficRouting.nginx")).expect("nginx error");
    assert_eq!((nginx.line, nginx.column), pos_of(&text, "nginx:", 0));
    assert!(nginx.message.contains("only Istio traffic routing is"), "{nginx}");
    assert!(nginx.help.as_deref().unwrap().contains("istio"));

    let text = istio_rollout(ISTIO_RELEASE).replace("        istio:\n", "        smi:\n");
    check_error(&text, "smi:", 0, "`trafficRouting.smi` is not simulated: only Istio traffic routing is");

    let text = istio_rollout(ISTIO_RELEASE).replace(
        "name: rollouts-demo-vsvc\n            routes",
        "name: rollouts-demo-vs\n            routes",
    );
    check_error(
        &text,
        "rollouts-demo-vs\n",
        0,
        "routes through VirtualService `rollouts-demo-vs`, which is not in this file",
    );
}

#[test]
fn rollout_admission_errors_point_at_the_field() {
    let text =
        rollouts_demo("{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}")
            .replace("- setWeight: 60", "- setWeight: 150");
    let d = check_error(
        &text,
        "150",
        0,
        "invalid Rollout: steps[4]: SetWeight needs to be between 0 and 100 (got 150)",
    );
    assert_eq!(d.help.as_deref(), Some("a weight is a percentage: 0 to 100"));

    let text =
        rollouts_demo("{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}")
            .replace("      steps:\n", "      dynamicStableScale: true\n      steps:\n");
    check_error(&text, "true", 0, "Canary dynamicStableScale can only be used with traffic routing");

    let text =
        rollouts_demo("{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}")
            .replace("      steps:\n", "      maxSurge: 0\n      maxUnavailable: 0\n      steps:\n");
    check_error(&text, "0\n      steps", 0, "MaxSurge and MaxUnavailable both can not be zero");

    let text =
        rollouts_demo("{workload: Rollout/rollouts-demo, from: argoproj/rollouts-demo:yellow, at: 5m}")
            .replace("      - setWeight: 20\n", "      - setCanaryScale: {replicas: 1}\n");
    check_error(&text, "{replicas: 1}", 0, "SetCanaryScale requires TrafficRouting to be set");

    let text = blue_green(BG_RELEASE)
        .replace("previewService: rollout-bluegreen-preview", "previewService: rollout-bluegreen-active");
    check_error(
        &text,
        "rollout-bluegreen-active",
        1,
        "activeService and previewService must be different services",
    );
}

#[test]
fn rollout_with_a_workload_ref() {
    let text = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: rollout-ref-deployment}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: rollout-demo}}}}
  template:
    metadata: {{labels: {{app: rollout-demo}}}}
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        resources: {{requests: {{cpu: 100m}}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: rollout-ref-deployment}}
spec:
  replicas: 5
  selector: {{matchLabels: {{app: rollout-demo}}}}
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: rollout-ref-deployment
  strategy:
    canary:
      steps: [{{setWeight: 20}}, {{pause: {{duration: 10s}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: rollout-demo}}
spec: {{selector: {{app: rollout-demo}}}}
{}",
        simulation(
            "{workload: Rollout/rollout-ref-deployment, from: argoproj/rollouts-demo:yellow, at: 5m}",
            &DEMO_VERSIONS
        )
    );
    let s = load(&text);
    let r = rollout_of(&s);
    assert_eq!(r.spec.replicas, 5);
    assert_eq!(s.deployment.replicas, 5);
    assert_eq!(s.deployment.requests.cpu_millis, 100);
    assert_eq!(s.release.to_image, "argoproj/rollouts-demo:blue");
    // Releasing the Deployment itself is releasing the Rollout that references it.
    let text = text.replace(
        "workload: Rollout/rollout-ref-deployment",
        "workload: Deployment/rollout-ref-deployment, promoteAfter: 5m",
    );
    let s = load(&text);
    assert_eq!(rollout_of(&s).promote_after, Some(DurationDist::Fixed(5 * MINUTE)));
    assert_eq!(s.release.workload, "rollout-ref-deployment");
}

// ---------------------------------------------------------------------------------------------
// Istio, by hand

/// Bookinfo's `reviews`: two versions, a DestinationRule with a subset each, a 90/10 split.
const REVIEWS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  labels: {app: reviews, version: v1}
spec:
  replicas: 3
  selector:
    matchLabels: {app: reviews, version: v1}
  template:
    metadata:
      labels: {app: reviews, version: v1}
    spec:
      serviceAccountName: bookinfo-reviews
      containers:
      - name: reviews
        image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.1
        ports:
        - containerPort: 9080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v2
  labels: {app: reviews, version: v2}
spec:
  replicas: 3
  selector:
    matchLabels: {app: reviews, version: v2}
  template:
    metadata:
      labels: {app: reviews, version: v2}
    spec:
      serviceAccountName: bookinfo-reviews
      containers:
      - name: reviews
        image: docker.io/istio/examples-bookinfo-reviews-v2:1.20.1
        ports:
        - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews, service: reviews}
spec:
  ports:
  - port: 9080
    name: http
  selector:
    app: reviews
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination:
        host: reviews
        subset: v2
      weight: 10
";

const REVIEWS_VERSIONS: [&str; 2] = [
    "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
    "docker.io/istio/examples-bookinfo-reviews-v2:1.20.1",
];

fn reviews(release: &str) -> String {
    format!("{REVIEWS}{}", simulation(release, &REVIEWS_VERSIONS))
}

fn mesh_of(s: &Scenario) -> &MeshRelease {
    match &s.strategy {
        Strategy::Mesh(m) => m,
        other => panic!("expected a mesh release, got {other:?}"),
    }
}

#[test]
fn istio_90_10_split() {
    let s = load(&reviews("{workload: VirtualService/reviews, at: 5m}"));
    let m = mesh_of(&s);
    assert_eq!(m.virtual_service, "reviews");
    assert_eq!((m.from_subset.as_str(), m.to_subset.as_str()), ("v1", "v2"));
    assert_eq!(m.steps, vec![MeshStep { weight: 10, hold: None }]);
    assert_eq!(s.deployment.name, "reviews-v1");
    assert_eq!(m.new_deployment.name, "reviews-v2");
    assert_eq!(s.release.from_image, REVIEWS_VERSIONS[0]);
    assert_eq!(s.release.to_image, REVIEWS_VERSIONS[1]);
    assert_eq!(s.release.workload, "reviews");

    // Explicit subsets, reversed, and manual steps.
    let s = load(&reviews(
        "{workload: VirtualService/reviews, from: v2, to: v1, at: 5m, steps: [{weight: 10, hold: 10m}, {weight: 50, hold: 10m}, {weight: 100}]}",
    ));
    let m = mesh_of(&s);
    assert_eq!((m.from_subset.as_str(), m.to_subset.as_str()), ("v2", "v1"));
    assert_eq!(s.deployment.name, "reviews-v2");
    assert_eq!(
        m.steps,
        vec![
            MeshStep { weight: 10, hold: Some(10 * MINUTE) },
            MeshStep { weight: 50, hold: Some(10 * MINUTE) },
            MeshStep { weight: 100, hold: None },
        ]
    );

    // Other apiVersions and host spellings.
    let text = reviews("{workload: VirtualService/reviews, at: 5m}")
        .replace("networking.istio.io/v1\n", "networking.istio.io/v1beta1\n")
        .replace("host: reviews\n        subset", "host: reviews.default.svc.cluster.local\n        subset");
    assert_eq!(mesh_of(&load(&text)).steps[0].weight, 10);
}

#[test]
fn istio_weights_follow_current_validation() {
    // Relative weights: 50 of 99 is 51%.
    let text = reviews("{workload: VirtualService/reviews, at: 5m}")
        .replace("weight: 90", "weight: 49")
        .replace("weight: 10", "weight: 50");
    assert_eq!(mesh_of(&load(&text)).steps, vec![MeshStep { weight: 51, hold: None }]);

    let text = reviews("{workload: VirtualService/reviews, at: 5m}").replace("weight: 10", "weight: -10");
    let d = check_error(&text, "-10", 0, "weight -10 of destination 1 < 0");
    assert!(d.message.contains("`spec.http[0].route`"), "{d}");

    let text = reviews("{workload: VirtualService/reviews, at: 5m}")
        .replace("weight: 90", "weight: 0")
        .replace("weight: 10", "weight: 0");
    check_error(&text, "route:", 0, "total destination weight = 0");

    let text = reviews("{workload: VirtualService/reviews, at: 5m}").replace(
        "networking.istio.io/v1\nkind: VirtualService",
        "networking.istio.io/v1beta\nkind: VirtualService",
    );
    let d = check_error(
        &text,
        "networking.istio.io/v1beta",
        0,
        "unsupported apiVersion `networking.istio.io/v1beta` for a VirtualService",
    );
    assert!(d.help.unwrap().starts_with("did you mean `networking.istio.io/v1beta1`?"));
}

#[test]
fn istio_release_errors() {
    // A subset whose labels select no Deployment.
    let text = reviews("{workload: VirtualService/reviews, at: 5m}")
        .replace("      version: v2\n", "      version: v3\n");
    let d = check_error(&text, "v2\n      weight: 10", 0, "subset `v2`");
    assert!(d.message.contains("matches no Deployment"), "{d}");
    assert!(d.label.contains("version=v3"), "{}", d.label);

    let text = reviews("{workload: VirtualService/reviews, from: v3, at: 5m}");
    let d = check_error(&text, "v3", 0, "names subset `v3`, which is not a destination of the route");
    assert!(d.help.unwrap().contains("`v1`, `v2`"));

    let text = reviews("{workload: VirtualService/reviews, at: 5m, steps: [{weight: 10}, {weight: 100}]}");
    check_error(&text, "{weight: 10}", 0, "`spec.release.steps[0]` needs a `hold`");

    let text = reviews("{workload: VirtualService/reviews, at: 5m, steps: [{weight: 100, hold: 5m}]}");
    check_error(&text, "hold", 0, "the last step `spec.release.steps[0]` must not have a `hold`");

    let text = reviews("{workload: VirtualService/reviews, at: 5m, steps: [{weight: 120}]}");
    check_error(&text, "120", 0, "`spec.release.steps[0].weight` is too large");
}

// ---------------------------------------------------------------------------------------------
// Flagger

/// Flagger's Istio tutorial: the podinfo Deployment and its Canary, as in the docs.
const PODINFO: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports:
        - containerPort: 9898
          name: http
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  autoscalerRef:
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    name: podinfo
  service:
    port: 9898
    targetPort: 9898
    gateways:
    - public-gateway.istio-system.svc.cluster.local
    hosts:
    - app.example.com
    trafficPolicy:
      tls:
        mode: DISABLE
    retries:
      attempts: 3
      perTryTimeout: 1s
      retryOn: \"gateway-error,connect-failure,refused-stream\"
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 30s
    webhooks:
      - name: acceptance-test
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 30s
        metadata:
          type: bash
          cmd: \"curl -sd 'test' http://podinfo-canary:9898/token | grep token\"
      - name: load-test
        url: http://flagger-loadtester.test/
        timeout: 5s
        metadata:
          cmd: \"hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/\"
";

const PODINFO_VERSIONS: [&str; 2] =
    ["ghcr.io/stefanprodan/podinfo:6.0.0", "ghcr.io/stefanprodan/podinfo:6.0.1"];

fn podinfo(release: &str) -> String {
    format!("{PODINFO}{}", simulation(release, &PODINFO_VERSIONS))
}

fn flagger_of(s: &Scenario) -> &FlaggerRelease {
    match &s.strategy {
        Strategy::Flagger(f) => f,
        other => panic!("expected Flagger, got {other:?}"),
    }
}

#[test]
fn flagger_podinfo() {
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let s = load(&podinfo(release));
    let f = flagger_of(&s);
    assert_eq!(
        (f.spec.name.as_str(), f.spec.namespace.as_str(), f.spec.target.as_str()),
        ("podinfo", "test", "podinfo")
    );
    assert_eq!(f.spec.provider, Provider::Istio);
    assert_eq!(f.spec.progress_deadline_seconds, Some(60));
    assert!(!f.spec.skip_analysis);
    let a = &f.spec.analysis;
    assert_eq!(a.interval, Some(MINUTE));
    assert_eq!((a.threshold, a.max_weight, a.step_weight), (5, 50, 10));
    assert_eq!((a.iterations, a.step_weight_promotion, a.mirror_weight), (0, 0, 0));
    assert!(!a.has_match && !a.mirror);
    let checks: Vec<_> =
        f.checks.iter().map(|c| (c.name.as_str(), c.kind, c.min, c.max, c.interval)).collect();
    assert_eq!(
        checks,
        vec![
            ("request-success-rate", FlaggerCheckKind::RequestSuccessRate, Some(99.0), None, MINUTE),
            ("request-duration", FlaggerCheckKind::RequestDuration, None, Some(500.0), 30 * SECOND),
        ]
    );
    assert!(f.checks.iter().all(|c| c.query.is_some()));
    assert_eq!(s.deployment.name, "podinfo");
    assert_eq!(s.release.to_image, "ghcr.io/stefanprodan/podinfo:6.0.0");

    // Changing the target Deployment is a Flagger release too.
    let s =
        load(&podinfo("{workload: Deployment/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}"));
    assert_eq!(flagger_of(&s).spec.analysis.max_weight, 50);
    assert_eq!(s.services.len(), 0);
}

/// A MetricTemplate as in Flagger's docs.
const ERROR_RATE_TEMPLATE: &str = "\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: error-rate
  namespace: istio-system
spec:
  provider:
    type: prometheus
    address: http://prometheus.istio-system:9090
  query: |
    100 - sum(
        rate(
            istio_requests_total{
              reporter=\"destination\",
              destination_workload_namespace=\"{{ namespace }}\",
              destination_workload=\"{{ target }}\",
              response_code!~\"5.*\"
            }[{{ interval }}]
        )
    )
    /
    sum(
        rate(
            istio_requests_total{
              reporter=\"destination\",
              destination_workload_namespace=\"{{ namespace }}\",
              destination_workload=\"{{ target }}\"
            }[{{ interval }}]
        )
    ) * 100
---
";

#[test]
fn flagger_variants() {
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    // The deprecated `canaryAnalysis`, A/B testing with `match`, legacy thresholds, custom checks.
    let text = podinfo(release)
        .replace("  analysis:\n", "  canaryAnalysis:\n")
        .replace("    stepWeight: 10\n", "    iterations: 10\n    match:\n    - headers: {x-canary: {exact: insider}}\n    stepWeights: [1, 2, 10, 80]\n    canaryReadyThreshold: 50\n")
        .replace("      thresholdRange:\n        min: 99\n", "      threshold: 99\n")
        .replace("    - name: request-duration\n", "    - name: error-rate\n      templateRef: {name: error-rate, namespace: istio-system}\n      thresholdRange: {max: 1}\n      interval: 1m\n    - name: request-duration\n");
    let text = format!("{ERROR_RATE_TEMPLATE}{text}");
    let s = load(&text);
    let f = flagger_of(&s);
    let a = &f.spec.analysis;
    assert!(a.has_match);
    assert_eq!(a.iterations, 10);
    assert_eq!(a.step_weights, vec![1, 2, 10, 80]);
    assert_eq!(a.canary_ready_threshold, Some(50));
    assert_eq!(f.checks[0].min, Some(99.0));
    assert_eq!(f.checks[1].kind, FlaggerCheckKind::Custom);
    assert_eq!(f.checks[1].max, Some(1.0));
    let query = f.checks[1].query.as_ref().unwrap().source();
    assert!(
        query.starts_with("100 - sum( rate( istio_requests_total{ reporter=\"destination\", "),
        "{query}"
    );
    assert!(query.contains("destination_workload=\"podinfo\" }[1m]"), "{query}");

    let text = podinfo(release)
        .replace("  progressDeadlineSeconds: 60\n", "  progressDeadlineSeconds: 60\n  provider: linkerd\n");
    check_error(&text, "linkerd", 0, "Flagger provider `linkerd` is not simulated");

    let text = podinfo(release).replace("  progressDeadlineSeconds: 60\n", "  provider: kubernetes\n");
    let s = load(&text);
    assert_eq!(flagger_of(&s).spec.provider, Provider::Kubernetes);
    assert_eq!(flagger_of(&s).spec.progress_deadline_seconds, None);

    let text = podinfo(release).replace(
        "    name: podinfo\n  progressDeadlineSeconds",
        "    name: podinfo-api\n  progressDeadlineSeconds",
    );
    check_error(
        &text,
        "podinfo-api",
        0,
        "Canary `podinfo` targets Deployment `podinfo-api`, which is not in this file",
    );
}

// ---------------------------------------------------------------------------------------------
// Service switch

const BLUE_GREEN_SERVICE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: myapp-blue}
spec:
  replicas: 4
  template:
    metadata: {labels: {app: myapp, version: blue}}
    spec:
      containers: [{name: app, image: myapp:1.0}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: myapp-green}
spec:
  replicas: 6
  template:
    metadata: {labels: {app: myapp, version: green}}
    spec:
      containers: [{name: app, image: myapp:2.0}]
---
apiVersion: v1
kind: Service
metadata: {name: myapp}
spec:
  selector: {app: myapp, version: blue}
";

fn service_switch(release: &str) -> String {
    format!("{BLUE_GREEN_SERVICE}{}", simulation(release, &["myapp:1.0", "myapp:2.0"]))
}

#[test]
fn service_blue_green() {
    let s = load(&service_switch(
        "{workload: Service/myapp, from: {version: blue}, to: {version: green}, at: 5m, switchAt: 12m, keepOldFor: 5m}",
    ));
    let Strategy::ServiceSwitch(sw) = &s.strategy else { panic!("{:?}", s.strategy) };
    assert_eq!(sw.service, "myapp");
    assert_eq!(
        (sw.config.old.name.as_str(), sw.config.old.selector.as_str(), sw.config.old.replicas),
        ("myapp-blue", "version=blue", 4)
    );
    assert_eq!(
        (sw.config.new.name.as_str(), sw.config.new.selector.as_str(), sw.config.new.replicas),
        ("myapp-green", "version=green", 6)
    );
    assert_eq!(sw.config.switch_at, Some(12 * MINUTE));
    assert_eq!(sw.config.keep_old_for, 5 * MINUTE);
    assert_eq!(s.deployment.name, "myapp-blue");
    assert_eq!(sw.new_deployment.name, "myapp-green");
    assert_eq!((s.release.from_image.as_str(), s.release.to_image.as_str()), ("myapp:1.0", "myapp:2.0"));

    let s = load(&service_switch(
        "{workload: Service/myapp, from: {version: blue}, to: {version: green}, at: 5m}",
    ));
    let Strategy::ServiceSwitch(sw) = &s.strategy else { panic!() };
    assert_eq!((sw.config.switch_at, sw.config.keep_old_for), (None, DEFAULT_KEEP_OLD_FOR));
}

#[test]
fn service_switch_errors() {
    let text = service_switch("{workload: Service/myapp, from: myapp:1.0, to: {version: green}, at: 5m}");
    let d = check_error(
        &text,
        "myapp:1.0, to",
        0,
        "`spec.release.from` of a `Service` release must be a selector map",
    );
    assert!(d.help.unwrap().contains("{version: blue}"));

    let text =
        service_switch("{workload: Service/myapp, from: {version: blue}, to: {version: purple}, at: 5m}");
    check_error(&text, "{version: purple}", 0, "matches no Deployment");

    let text = service_switch(
        "{workload: Service/myapp, from: {version: blue}, to: {version: green}, at: 5m, switchAt: 2m}",
    );
    check_error(&text, "2m}", 0, "`spec.release.switchAt` is before `spec.release.at`");

    let text =
        service_switch("{workload: Service/myapp, from: {version: blue}, to: {version: green}, at: 5m}")
            .replace("  replicas: 6\n", "  replicas: 0\n");
    check_error(&text, "myapp-green}", 0, "Deployment `myapp-green` has 0 replicas");
}

#[test]
fn release_keys_belong_to_one_kind() {
    let base = "{workload: Service/myapp, from: {version: blue}, to: {version: green}, at: 5m, inconclusive: {action: abort, after: 10m}}";
    let d = check_error(
        &service_switch(base),
        "inconclusive",
        0,
        "`spec.release.inconclusive` applies only to a `Rollout` release",
    );
    assert_eq!(d.label, "this release is a `Service` release");

    let text = reviews("{workload: VirtualService/reviews, at: 5m, keepOldFor: 5m}");
    check_error(&text, "keepOldFor", 0, "applies only to a `Service` release");

    let text = podinfo(
        "{workload: Deployment/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m, steps: [{weight: 100}]}",
    );
    check_error(&text, "steps", 0, "`spec.release.steps` applies only to a `VirtualService` release");

    // A plain Deployment is not a Rollout.
    let text = reviews(
        "{workload: Deployment/reviews-v1, from: docker.io/istio/examples-bookinfo-reviews-v2:1.20.1, at: 5m, promoteAfter: 5m}",
    );
    let d = check_error(&text, "promoteAfter", 0, "applies only to a `Rollout` release");
    assert!(d.label.contains("not a Rollout's `workloadRef`"), "{}", d.label);
}

#[test]
fn a_deployment_release_is_unchanged() {
    let s = load(&reviews(
        "{workload: Deployment/reviews-v1, from: docker.io/istio/examples-bookinfo-reviews-v2:1.20.1, at: 5m}",
    ));
    assert!(matches!(s.strategy, Strategy::Deployment));
    assert_eq!(s.deployment.name, "reviews-v1");
}

#[test]
fn a_deployment_managed_by_flagger_and_argo_is_an_error() {
    let rollout = "---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: podinfo-rollout, namespace: test}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  strategy: {canary: {steps: [{setWeight: 50}]}}
";
    let release = "{workload: Deployment/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let text = format!("{PODINFO}{rollout}{}", simulation(release, &PODINFO_VERSIONS));
    let d = check_error(&text, "Deployment/podinfo", 0, "Deployment `podinfo` is managed twice");
    assert!(
        d.label.contains("Canary `podinfo`") && d.label.contains("Rollout `podinfo-rollout`"),
        "{}",
        d.label
    );
}

#[test]
fn blue_green_may_not_fit_at_its_peak() {
    // 8 pods of 4 CPUs fill the 4 × 8-CPU nodes before the release; the preview pods of the
    // release stay Pending, which is a result, not an input error.
    let text = blue_green(BG_RELEASE).replace("  replicas: 2\n", "  replicas: 8\n").replace(
        "        imagePullPolicy: Always\n",
        "        imagePullPolicy: Always\n        resources: {requests: {cpu: \"4\"}}\n",
    );
    assert_eq!(load(&text).deployment.replicas, 8);
    let text = text.replace("  replicas: 8\n", "  replicas: 9\n");
    check_error(
        &text,
        "Rollout/rollout-bluegreen",
        0,
        "the cluster cannot run the 9 replicas of Rollout/rollout-bluegreen",
    );
}

/// Documents a release's manifests commonly carry that rollsim does not simulate.
const NOT_SIMULATED: &str = "\
---
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: podinfo
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  minReplicas: 2
  maxReplicas: 4
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bookinfo-reviews
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: public-gateway
spec:
  selector:
    istio: ingressgateway
";

#[test]
fn kinds_rollsim_does_not_simulate_are_skipped() {
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let text = format!("{PODINFO}{NOT_SIMULATED}{}", simulation(release, &PODINFO_VERSIONS));
    let s = load(&text);
    // The HPA is not simulated: the replicas stay the Deployment's.
    assert_eq!(s.deployment.replicas, 2);
    assert_eq!(flagger_of(&s).spec.target, "podinfo");

    // A skipped document is not a document that failed to load: cross-document errors are
    // still reported.
    let release = "{workload: Canary/podinfoo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let text = format!("{PODINFO}{NOT_SIMULATED}{}", simulation(release, &PODINFO_VERSIONS));
    check_error(&text, "Canary/podinfoo", 0, "names Canary `podinfoo`, which is not in this file");

    // A workload kind is skipped with a note that its pods do not run.
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let text = format!(
        "{PODINFO}---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db}}\n{}",
        simulation(release, &PODINFO_VERSIONS)
    );
    let s = load(&text);
    assert!(
        s.notes.iter().any(|n| n.starts_with("StatefulSet/db is not simulated: its pods do not run")),
        "{:?}",
        s.notes
    );
}

#[test]
fn a_deployment_without_a_namespace_goes_where_its_canary_is() {
    // Flagger's kustomize/podinfo: the Deployment names no namespace (the kustomization and
    // the Canary say `test`).
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let without = PODINFO.replacen("  name: podinfo\n  namespace: test\n", "  name: podinfo\n", 1);
    assert_ne!(without, PODINFO);
    let s = load(&format!("{without}{}", simulation(release, &PODINFO_VERSIONS)));
    assert_eq!((s.deployment.name.as_str(), s.deployment.namespace.as_str()), ("podinfo", "test"));
    // Releasing the Deployment itself finds the Canary that manages it.
    let text = format!(
        "{without}{}",
        simulation(
            "{workload: Deployment/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}",
            &PODINFO_VERSIONS
        )
    );
    assert_eq!(flagger_of(&load(&text)).spec.namespace, "test");

    // A namespace that is written is never moved.
    let prod = PODINFO.replacen("  namespace: test\n", "  namespace: prod\n", 1);
    let text = format!("{prod}{}", simulation(release, &PODINFO_VERSIONS));
    check_error(
        &text,
        "podinfo\n  progressDeadlineSeconds",
        0,
        "targets Deployment `podinfo`, which is not in this file",
    );
}

#[test]
fn an_hpa_sizes_a_deployment_that_leaves_its_replicas_to_it() {
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let hpa = NOT_SIMULATED.replace("minReplicas: 2", "minReplicas: 3");
    // `spec.replicas` written: the HPA is not simulated, the written count stays.
    let written = format!("{PODINFO}{hpa}{}", simulation(release, &PODINFO_VERSIONS));
    assert_eq!(load(&written).deployment.replicas, 2);
    // Left to the HPA: its minReplicas.
    let unwritten = PODINFO.replacen("  replicas: 2\n", "", 1);
    assert_ne!(unwritten, PODINFO);
    let text = format!("{unwritten}{hpa}{}", simulation(release, &PODINFO_VERSIONS));
    assert_eq!(load(&text).deployment.replicas, 3);
    // No HPA: the apps/v1 default of 1.
    let text = format!("{unwritten}{}", simulation(release, &PODINFO_VERSIONS));
    assert_eq!(load(&text).deployment.replicas, 1);
}

#[test]
fn what_the_simulation_leaves_out_is_noted() {
    let release = "{workload: Canary/podinfo, from: ghcr.io/stefanprodan/podinfo:6.0.1, at: 5m}";
    let text = format!("{PODINFO}{NOT_SIMULATED}{}", simulation(release, &PODINFO_VERSIONS));
    let notes = load(&text).notes;
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].starts_with("HorizontalPodAutoscaler/podinfo is not simulated: replicas stay fixed"));
    assert_eq!(notes[1], "ServiceAccount/bookinfo-reviews is not simulated (rollsim skips this kind)");
    assert_eq!(notes[2], "Gateway/public-gateway is not simulated (rollsim skips this kind)");
    // Nothing to note for a file that is all simulated.
    let text = format!("{PODINFO}{}", simulation(release, &PODINFO_VERSIONS));
    assert!(load(&text).notes.is_empty());
}
