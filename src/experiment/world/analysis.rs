//! Argo AnalysisRuns in the world: the Rollout asks for a run (a canary step's analysis, the
//! background analysis, a blue-green gate); the world measures it against simulated
//! Prometheus on its metrics' schedules and reports each completed phase back to the Rollout,
//! which continues, pauses (Inconclusive) or aborts (Failed, Error).

use super::*;
use crate::controllers::argo::analysis::AnalysisRunSpec;
use crate::controllers::argo::condition::MetricValue;
use crate::controllers::argo::rollout::AnalysisKind;
use crate::controllers::argo::run::{AnalysisRun, MeasurementRecord};
use crate::controllers::argo::steps::AnalysisPhase;
use crate::scenario::Strategy;

impl World<'_> {
    fn run_spec(&self, kind: AnalysisKind) -> Option<AnalysisRunSpec> {
        let Strategy::Rollout(r) = &self.sc.strategy else { return None };
        let a = &r.analyses;
        match kind {
            AnalysisKind::Step(i) => a.steps.get(&i).cloned(),
            AnalysisKind::Background => a.background.as_ref().map(|(run, _)| run.clone()),
            AnalysisKind::PrePromotion => a.pre_promotion.clone(),
            AnalysisKind::PostPromotion => a.post_promotion.clone(),
        }
    }

    /// The Rollout created an AnalysisRun of `kind`.
    pub(super) fn start_analysis(&mut self, now: SimTime, w: u32, kind: AnalysisKind) {
        self.runs.retain(|(k, _)| *k != kind);
        let spec = self.run_spec(kind).unwrap_or_default();
        // Each run draws from its own stream, seeded by the replication and the run's start.
        let rng = SimRng::new(self.seed ^ now.rotate_left(17), Stream::Controllers);
        self.runs.push((kind, AnalysisRun::new(spec, now, rng)));
        // The first measurements are due at once (or after initialDelay).
        self.schedule_measurement(w);
    }

    /// The Rollout terminated a run: no more measurements.
    pub(super) fn terminate_analysis(&mut self, kind: AnalysisKind) {
        if let Some((_, run)) = self.runs.iter_mut().find(|(k, _)| *k == kind) {
            run.terminate();
        }
    }

    fn schedule_measurement(&mut self, _w: u32) {
        let next = self.runs.iter().filter_map(|(_, r)| r.next_measurement_at()).min();
        if let Some(next) = next
            && self.measure_at.is_none_or(|at| next < at)
        {
            self.measure_at = Some(next);
            self.queue.schedule(next, Event::Measure);
        }
    }

    /// Takes the measurements due now and reports completed runs to the Rollout.
    pub(super) fn on_measure(&mut self, now: SimTime) {
        if self.measure_at != Some(now) {
            return;
        }
        self.measure_at = None;
        let mut records: Vec<MeasurementRecord> = Vec::new();
        let mut reports = Vec::new();
        for (kind, run) in &mut self.runs {
            let before = run.phase();
            if crate::controllers::argo::analysis::completed(before) {
                continue;
            }
            records.clear();
            match &self.monitor {
                Some(m) => run.measure_due(now, &m.prom.store, &mut records),
                None => run.measure_due(now, &crate::telemetry::promql::Store::new(), &mut records),
            }
            let assessment = run.assess();
            let mut lines = Vec::new();
            for rec in &records {
                let metric = &run.spec().metrics[rec.metric];
                lines.push(format!(
                    "{kind:?} analysis: {} = {} → {:?}",
                    metric.name,
                    fmt_metric_value(&rec.value),
                    rec.phase
                ));
            }
            let failed_metric = assessment
                .metrics
                .iter()
                .position(|p| matches!(p, AnalysisPhase::Failed | AnalysisPhase::Error))
                .map(|i| run.spec().metrics[i].name.clone());
            reports.push((*kind, assessment.phase, lines, failed_metric));
        }
        let object = self.workloads[0].object();
        for (kind, phase, lines, failed_metric) in reports {
            for line in lines {
                self.log(now, object.clone(), "AnalysisMeasurement", line);
            }
            if crate::controllers::argo::analysis::completed(phase) {
                if matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error)
                    && self.detected_at.is_none()
                    && now >= self.sc.release.at
                {
                    let metric = failed_metric.unwrap_or_else(|| "run".into());
                    self.detect(
                        now,
                        format!("analysis:{metric}"),
                        format!("the {kind:?} AnalysisRun is {phase:?} (metric {metric})"),
                    );
                }
                self.workloads[0].rollout_mut().set_analysis_phase(kind, phase);
                self.request_sync(now);
            }
        }
        self.schedule_measurement(0);
    }

    /// Someone decides on an Inconclusive analysis (`release.inconclusive`).
    pub(super) fn on_inconclusive_pause(&mut self) {
        let Strategy::Rollout(r) = &self.sc.strategy else { return };
        if let Some(d) = r.analyses.on_inconclusive {
            let delay = d.after.sample(&mut self.people_rng);
            self.queue.schedule_in(delay, if d.promote { Event::Promote } else { Event::Undo });
        }
    }
}

fn fmt_metric_value(v: &MetricValue) -> String {
    match v {
        MetricValue::Scalar(x) => format!("{x:.4}"),
        MetricValue::Vector(xs) => {
            let inner: Vec<String> = xs.iter().map(|x| format!("{x:.4}")).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}
