//! The HorizontalPodAutoscaler in the world: every sync period (15 s) it reads each pod of
//! its target's CPU usage, runs [`hpa::resource_replicas`] and [`hpa::Autoscaler::reconcile`],
//! and writes the target's `spec.replicas` (a Deployment then scales its ReplicaSets, in
//! proportion during a rollout; a Rollout sizes stable and canary from it).
//!
//! A pod's CPU usage over the last period is `pods.cpuPerRequest` × the requests it handled
//! in that period (served, failed or timed out; requests shed above capacity cost nothing)
//! ÷ the period. What the metrics API would report is simplified: a pod has a metric once
//! its container has run for a whole period (younger pods are missing), the metric window is
//! the sync period, and a pod that is not Ready counts as never having been ready (its Ready
//! condition changed when it started).

use super::{Ctl, Event, World};
use crate::controllers::hpa::{self, PodPhase, PodSample, Timing};
use crate::engine::{SimTime, to_secs_f64};

/// What the world keeps for the HPA between syncs.
pub(super) struct HpaRun {
    pub state: hpa::Autoscaler,
    /// Requests handled per pod (by pod id) at the last sync.
    pub handled: Vec<u64>,
    pub last_at: SimTime,
    pub samples: Vec<PodSample>,
}

impl HpaRun {
    pub fn new() -> Self {
        HpaRun { state: hpa::Autoscaler::default(), handled: Vec::new(), last_at: 0, samples: Vec::new() }
    }
}

/// The workload an HPA scales: the release's Deployment or Rollout, workload 0.
const TARGET: u32 = 0;

impl World<'_> {
    pub(super) fn schedule_autoscaler(&mut self) {
        let sc = self.sc;
        if let Some(a) = &sc.autoscaling {
            self.hpa = Some(HpaRun::new());
            self.queue.schedule(a.sync_period, Event::HpaSync);
        }
    }

    pub(super) fn hpa_sync(&mut self, now: SimTime) {
        let sc = self.sc;
        let Some(a) = &sc.autoscaling else { return };
        let Some(mut run) = self.hpa.take() else { return };
        let window = now - run.last_at;
        run.samples.clear();
        run.handled.resize(self.cluster.pods.len(), 0);
        for (id, pod) in self.cluster.pods.iter().enumerate() {
            let [served, failed, _shed, timed_out] = self.traffic.pod_status_counts(id as u32);
            let handled = served + failed + timed_out;
            let delta = handled - run.handled[id];
            run.handled[id] = handled;
            if pod.gone || self.rs_owner[pod.rs as usize] != TARGET {
                continue;
            }
            let started = pod.first_started_at.filter(|&t| t <= run.last_at);
            let usage = started.map(|_| {
                let rps = delta as f64 / to_secs_f64(window);
                (a.cpu_per_request * rps).round() as i64
            });
            let start = pod.node.map(|_| pod.bound_at);
            let ready = match (pod.ready, pod.first_started_at) {
                (true, _) => Some((true, pod.ready_since)),
                (false, Some(t)) => Some((false, t)),
                (false, None) => None,
            };
            run.samples.push(PodSample {
                phase: if pod.first_started_at.is_some() { PodPhase::Running } else { PodPhase::Pending },
                deleting: pod.deleting,
                request_milli: self.cluster.templates[pod.template as usize].requests.cpu_millis as i64,
                usage_milli: usage,
                start,
                ready,
                metric_at: now,
                metric_window: window,
            });
        }
        run.last_at = now;
        let current = match &self.workloads[TARGET as usize].ctl {
            Ctl::Deployment(d) => d.replicas(),
            Ctl::Rollout(r) => r.replicas(),
        };
        let timing = Timing::at(now);
        let calc = hpa::resource_replicas(
            current,
            a.spec.target_utilization,
            hpa::DEFAULT_TOLERANCE,
            &run.samples,
            &timing,
        );
        let decision = run.state.reconcile(now, &a.spec, current, calc.ok().map(|c| c.replicas));
        match (decision, calc) {
            (Some(d), _) if d.desired != current => {
                let reason = match (calc, d.limit) {
                    (_, hpa::Limit::TooManyReplicas) if current > a.spec.max_replicas => {
                        "Current number of replicas above Spec.MaxReplicas".to_string()
                    }
                    (_, hpa::Limit::TooFewReplicas) if current < a.spec.min_replicas => {
                        "Current number of replicas below Spec.MinReplicas".to_string()
                    }
                    (Ok(c), limit) => format!(
                        "cpu resource utilization (percentage of request) {} target: {}% of {}% over {} pods, \
                         proposed {}, stabilized {}, {}",
                        if d.desired > current { "above" } else { "below" },
                        c.utilization,
                        a.spec.target_utilization,
                        run.samples.len(),
                        d.proposed,
                        d.stabilized,
                        limit.as_str()
                    ),
                    (Err(_), limit) => limit.as_str().to_string(),
                };
                let message = format!("New size: {}; reason: {reason}", d.desired);
                self.log(now, a.object.clone(), "SuccessfulRescale", message);
                let message = format!("{} replicas {current} -> {}", a.target, d.desired);
                self.log(now, a.object.clone(), "ScaleTarget", message);
                match &mut self.workloads[TARGET as usize].ctl {
                    Ctl::Deployment(dep) => dep.set_replicas(d.desired),
                    Ctl::Rollout(r) => r.set_replicas(d.desired),
                }
                self.request_sync(now);
            }
            (None, Err(e)) => {
                let message = format!("failed to compute the CPU utilization: {e:?}");
                self.log(now, a.object.clone(), "FailedGetResourceMetric", message);
            }
            _ => {}
        }
        self.hpa = Some(run);
        self.queue.schedule(now + a.sync_period, Event::HpaSync);
    }
}
