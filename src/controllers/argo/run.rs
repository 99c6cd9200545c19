//! One AnalysisRun executed against simulated Prometheus: its metrics are measured on their
//! own schedules ([`super::analysis::next_measurement_at`]) with the Prometheus provider's
//! instant query at the measurement's time, each result judged by the metric's conditions
//! ([`super::condition`]), and the run assessed after every measurement
//! ([`super::analysis::assess_run`]).
//!
//! The Prometheus provider turns an instant vector into an array of its values (`result[0]`)
//! and a scalar into a number; a query that fails is an `Error` measurement. A measurement
//! takes no time here (upstream's query latency is not modelled), so a measurement finishes at
//! the instant it starts.

use super::analysis::{
    AnalysisRunSpec, Measurement, MeasurementPhase, MetricProvider, RunAssessment, assess_run,
    next_run_measurement_at,
};
use super::condition::{MetricValue, measurement_phase};
use super::steps::AnalysisPhase;
use crate::engine::SimTime;
use crate::telemetry::promql::{Store, Value};

/// One measurement, for the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementRecord {
    pub metric: usize,
    pub at: SimTime,
    pub value: MetricValue,
    pub phase: MeasurementPhase,
}

pub struct AnalysisRun {
    spec: AnalysisRunSpec,
    started_at: SimTime,
    measurements: Vec<Vec<Measurement>>,
    terminate_requested: bool,
}

impl AnalysisRun {
    pub fn new(spec: AnalysisRunSpec, now: SimTime) -> Self {
        let n = spec.metrics.len();
        AnalysisRun { spec, started_at: now, measurements: vec![Vec::new(); n], terminate_requested: false }
    }

    pub fn spec(&self) -> &AnalysisRunSpec {
        &self.spec
    }

    fn view(&self) -> Vec<(super::analysis::MetricSpec, &[Measurement])> {
        self.spec.metrics.iter().zip(&self.measurements).map(|(m, ms)| (m.spec, ms.as_slice())).collect()
    }

    /// The run's phase and its metrics' phases now.
    pub fn assess(&self) -> RunAssessment {
        assess_run(&self.view(), self.terminate_requested)
    }

    pub fn phase(&self) -> AnalysisPhase {
        self.assess().phase
    }

    /// When a measurement is next due (`None`: the run is over or only waits).
    pub fn next_measurement_at(&self) -> Option<SimTime> {
        next_run_measurement_at(&self.view(), self.started_at, self.terminate_requested)
    }

    /// `spec.terminate`: no more measurements; the run ends (Successful unless a metric
    /// already failed).
    pub fn terminate(&mut self) {
        self.terminate_requested = true;
    }

    /// Takes every measurement due at `now`, in metric order, appending them to `out`.
    pub fn measure_due(&mut self, now: SimTime, store: &Store, out: &mut Vec<MeasurementRecord>) {
        if self.assess().terminating {
            return;
        }
        for i in 0..self.spec.metrics.len() {
            let due = super::analysis::measurement_due(
                &self.spec.metrics[i].spec,
                self.started_at,
                &self.measurements[i],
                now,
            );
            if !due {
                continue;
            }
            let metric = &self.spec.metrics[i];
            let value = match &metric.provider {
                MetricProvider::Prometheus { query } => match query.eval_instant(store, now) {
                    Ok(Value::Scalar(v)) => Some(MetricValue::Scalar(v)),
                    Ok(Value::Vector(v)) => {
                        Some(MetricValue::Vector(v.into_iter().map(|(_, x)| x).collect()))
                    }
                    Err(_) => None,
                },
            };
            let phase = match &value {
                Some(v) => measurement_phase(v, metric.success.as_ref(), metric.failure.as_ref()),
                None => MeasurementPhase::Error,
            };
            self.measurements[i].push(Measurement::finished(phase, now));
            out.push(MeasurementRecord {
                metric: i,
                at: now,
                value: value.unwrap_or(MetricValue::Vector(Vec::new())),
                phase,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::argo::analysis::{AnalysisMetric, MetricSpec};
    use crate::controllers::argo::condition::Condition;
    use crate::engine::{MINUTE, SECOND};
    use crate::telemetry::promql::{labels, parse};

    fn metric(query: &str, success: &str, spec: MetricSpec) -> AnalysisMetric {
        AnalysisMetric {
            name: "success-rate".into(),
            spec,
            success: Some(Condition::parse(success).unwrap()),
            failure: None,
            provider: MetricProvider::Prometheus { query: parse(query).unwrap() },
        }
    }

    fn store_with(values: &[f64]) -> Store {
        let mut s = Store::new();
        let l = labels(&[("__name__", "ratio")]);
        for (i, v) in values.iter().enumerate() {
            s.append(&l, i as u64 * MINUTE, *v);
        }
        s
    }

    #[test]
    fn a_run_measures_on_its_interval_and_fails_past_the_failure_limit() {
        let store = store_with(&[0.99, 0.99, 0.90, 0.90, 0.90, 0.90]);
        let spec =
            MetricSpec { interval: Some(MINUTE), count: Some(5), failure_limit: 1, ..Default::default() };
        let run_spec = AnalysisRunSpec {
            templates: vec!["success-rate".into()],
            metrics: vec![metric("ratio", "result[0] >= 0.95", spec)],
        };
        let mut run = AnalysisRun::new(run_spec, 0);
        let mut out = Vec::new();
        let mut t = 0;
        while let Some(next) = run.next_measurement_at() {
            t = next;
            run.measure_due(t, &store, &mut out);
        }
        let phases: Vec<_> = out.iter().map(|m| m.phase).collect();
        use MeasurementPhase::*;
        // 0 and 1m+1µs see 0.99; 2m+2µs and 3m+3µs see 0.90: the second failure exceeds
        // failureLimit 1.
        assert_eq!(phases, [Successful, Successful, Failed, Failed]);
        assert_eq!(t, 3 * MINUTE + 3);
        assert_eq!(run.phase(), AnalysisPhase::Failed);
        assert_eq!(out[2].value, MetricValue::Vector(vec![0.90]));
    }

    #[test]
    fn an_empty_result_is_an_error_and_five_in_a_row_error_the_run() {
        let store = Store::new();
        let spec = MetricSpec { interval: Some(MINUTE), ..Default::default() };
        let run_spec =
            AnalysisRunSpec { templates: vec![], metrics: vec![metric("ratio", "result[0] >= 0.95", spec)] };
        let mut run = AnalysisRun::new(run_spec, 0);
        let mut out = Vec::new();
        while let Some(next) = run.next_measurement_at() {
            run.measure_due(next, &store, &mut out);
        }
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|m| m.phase == MeasurementPhase::Error));
        // Errors retry after 10 s whatever the interval.
        assert_eq!(out[1].at, 10 * SECOND + 1);
        assert_eq!(run.phase(), AnalysisPhase::Error);
    }

    #[test]
    fn terminating_an_unbounded_run_makes_it_successful() {
        let store = store_with(&[0.99; 10]);
        let spec = MetricSpec { interval: Some(MINUTE), ..Default::default() };
        let run_spec =
            AnalysisRunSpec { templates: vec![], metrics: vec![metric("ratio", "result[0] >= 0.95", spec)] };
        let mut run = AnalysisRun::new(run_spec, 0);
        let mut out = Vec::new();
        run.measure_due(0, &store, &mut out);
        assert_eq!(run.phase(), AnalysisPhase::Running);
        run.terminate();
        assert_eq!(run.phase(), AnalysisPhase::Successful);
        assert_eq!(run.next_measurement_at(), None);
    }
}
