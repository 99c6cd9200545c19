//! Scenario text shared by the tests.

use rollsim::scenario::{Scenario, load_str};

/// Parameters of a generated rolling-update scenario.
#[derive(Clone, Debug)]
pub struct Params {
    pub replicas: u32,
    pub max_surge: String,
    pub max_unavailable: String,
    pub probe_period_s: u32,
    pub startup: String,
    pub rps: f64,
    pub duration: String,
    pub fidelity: &'static str,
    pub new_faults: String,
    pub seed: u64,
    pub replications: u64,
    pub strategy: &'static str,
    pub min_ready_seconds: u32,
    /// The Simulation's `rollback` section.
    pub rollback: &'static str,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            replicas: 10,
            max_surge: "25%".into(),
            max_unavailable: "25%".into(),
            probe_period_s: 5,
            startup: "10s".into(),
            rps: 200.0,
            duration: "30m".into(),
            fidelity: "aggregated",
            new_faults: "[]".into(),
            seed: 7,
            replications: 4,
            strategy: "RollingUpdate",
            min_ready_seconds: 0,
            rollback: "{manual: {after: 2m}}",
        }
    }
}

pub fn yaml(p: &Params) -> String {
    let strategy = if p.strategy == "Recreate" {
        "    type: Recreate".to_string()
    } else {
        format!(
            "    type: RollingUpdate\n    rollingUpdate: {{maxSurge: {}, maxUnavailable: {}}}",
            quote(&p.max_surge),
            quote(&p.max_unavailable)
        )
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: {replicas}
  minReadySeconds: {min_ready}
  progressDeadlineSeconds: 600
  selector: {{matchLabels: {{app: web}}}}
  strategy:
{strategy}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: app
          image: web:2
          resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}
          readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: {period}}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: rollsim.dev/v1alpha1
kind: Simulation
metadata: {{name: generated}}
spec:
  seed: {seed}
  replications: {replications}
  duration: {duration}
  fidelity: {fidelity}
  release: {{workload: Deployment/web, from: "web:1", at: 2m}}
  traffic: {{rps: {rps}, pattern: {{kind: constant}}, users: 2000}}
  versions:
    "web:1": {{errorRate: 0.001}}
    "web:2": {{errorRate: 0.001, faults: {faults}}}
  pods:
    startup: {startup}
    capacityRps: 1000
  cluster: {{nodes: 4, nodeCapacity: {{cpu: "16", memory: 64Gi}}}}
  slo: {{objective: 99.9%, window: 30d}}
  rollback: {rollback}
"#,
        replicas = p.replicas,
        min_ready = p.min_ready_seconds,
        strategy = strategy,
        period = p.probe_period_s,
        seed = p.seed,
        replications = p.replications,
        duration = p.duration,
        fidelity = p.fidelity,
        rps = p.rps,
        faults = p.new_faults,
        startup = p.startup,
        rollback = p.rollback,
    )
}

fn quote(v: &str) -> String {
    if v.ends_with('%') { format!("\"{v}\"") } else { v.to_string() }
}

pub fn scenario(p: &Params) -> Scenario {
    let text = yaml(p);
    match load_str("generated.yaml", &text, &[]) {
        Ok(s) => s,
        Err(e) => panic!("generated scenario does not load:\n{e}\n{text}"),
    }
}

/// Two scenario files in `dir`: `bad.yaml` (a version failing 5% of requests, 6
/// replications) and `good.yaml` (no fault, 4 replications: commands that run several
/// files with the first one's count run it 6 times too).
pub fn bad_and_good(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let bad = yaml(&Params {
        replications: 6,
        new_faults: "[{kind: errors, rate: 0.05}]".into(),
        ..Params::default()
    })
    .replacen("metadata: {name: generated}", "metadata: {name: bad}", 1);
    let good = yaml(&Params { replications: 4, ..Params::default() }).replacen(
        "metadata: {name: generated}",
        "metadata: {name: good}",
        1,
    );
    let (b, g) = (dir.join("bad.yaml"), dir.join("good.yaml"));
    std::fs::write(&b, bad).unwrap();
    std::fs::write(&g, good).unwrap();
    (b, g)
}
