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
    /// Kayenta's noise for constant series.
    rng: crate::engine::SimRng,
    started_at: SimTime,
    measurements: Vec<Vec<Measurement>>,
    terminate_requested: bool,
}

impl AnalysisRun {
    /// A run started at `now`; `rng` is only drawn by the Kayenta provider.
    pub fn new(spec: AnalysisRunSpec, now: SimTime, rng: crate::engine::SimRng) -> Self {
        let n = spec.metrics.len();
        AnalysisRun {
            spec,
            rng,
            started_at: now,
            measurements: vec![Vec::new(); n],
            terminate_requested: false,
        }
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
            let (value, phase) = match &metric.provider {
                MetricProvider::Prometheus { query } => {
                    let value = match query.eval_instant(store, now) {
                        Ok(Value::Scalar(v)) => Some(MetricValue::Scalar(v)),
                        Ok(Value::Vector(v)) => {
                            Some(MetricValue::Vector(v.into_iter().map(|(_, x)| x).collect()))
                        }
                        Err(_) => None,
                    };
                    let phase = match &value {
                        Some(v) => measurement_phase(v, metric.success.as_ref(), metric.failure.as_ref()),
                        None => MeasurementPhase::Error,
                    };
                    (value, phase)
                }
                MetricProvider::Kayenta(k) => {
                    match kayenta_score(k, store, self.started_at, now, &mut self.rng) {
                        Some(score) => {
                            let phase = if score >= k.pass {
                                MeasurementPhase::Successful
                            } else if score >= k.marginal {
                                MeasurementPhase::Inconclusive
                            } else {
                                MeasurementPhase::Failed
                            };
                            (Some(MetricValue::Scalar(score)), phase)
                        }
                        None => (None, MeasurementPhase::Error),
                    }
                }
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

/// Kayenta's score for the run so far: each metric's experiment and control series sampled
/// every `step` from the run's start to `now` (a query returning several series counts their
/// sum; none, NaN), then judged. `None` when the judgement fails (an invalid configuration).
fn kayenta_score(
    k: &super::analysis::KayentaMetric,
    store: &Store,
    started_at: SimTime,
    now: SimTime,
    rng: &mut crate::engine::SimRng,
) -> Option<f64> {
    let sample = |q: &crate::telemetry::promql::Query, t: SimTime| match q.eval_instant(store, t) {
        Ok(Value::Scalar(v)) => v,
        Ok(Value::Vector(v)) if !v.is_empty() => v.iter().map(|(_, x)| x).sum(),
        _ => f64::NAN,
    };
    let step = k.step.max(1);
    let mut data = Vec::with_capacity(k.queries.len());
    for (metric, (experiment, control)) in k.config.metrics.iter().zip(&k.queries) {
        let (mut canary, mut baseline) = (Vec::new(), Vec::new());
        let mut t = started_at + step;
        while t <= now {
            canary.push(sample(experiment, t));
            baseline.push(sample(control, t));
            t += step;
        }
        data.push((metric.name.clone(), canary, baseline));
    }
    crate::controllers::kayenta::judge(&k.config, &data, rng).ok().map(|r| r.score)
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
        let mut run =
            AnalysisRun::new(run_spec, 0, crate::engine::SimRng::new(1, crate::engine::Stream::Controllers));
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
        let mut run =
            AnalysisRun::new(run_spec, 0, crate::engine::SimRng::new(1, crate::engine::Stream::Controllers));
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
        let mut run =
            AnalysisRun::new(run_spec, 0, crate::engine::SimRng::new(1, crate::engine::Stream::Controllers));
        let mut out = Vec::new();
        run.measure_due(0, &store, &mut out);
        assert_eq!(run.phase(), AnalysisPhase::Running);
        run.terminate();
        assert_eq!(run.phase(), AnalysisPhase::Successful);
        assert_eq!(run.next_measurement_at(), None);
    }

    fn kayenta_run(canary_level: f64) -> (AnalysisRun, Store) {
        use crate::controllers::argo::analysis::KayentaMetric;
        use crate::controllers::kayenta::{Direction, JudgeConfig, MetricConfig};
        let mut store = Store::new();
        let mut rng = crate::engine::SimRng::new(5, crate::engine::Stream::Traffic);
        for (version, level) in [("canary", canary_level), ("baseline", 0.01)] {
            let l = labels(&[("__name__", "error_ratio"), ("version", version)]);
            for i in 0..=60u64 {
                let noise = 0.002 * (rng.uniform() - 0.5);
                store.append(&l, i * MINUTE, level + noise);
            }
        }
        let mut metric = MetricConfig::new("error-ratio", "errors");
        metric.direction = Direction::Increase;
        let k = KayentaMetric {
            config: JudgeConfig::new(vec![metric]),
            queries: vec![(
                parse(r#"error_ratio{version="canary"}"#).unwrap(),
                parse(r#"error_ratio{version="baseline"}"#).unwrap(),
            )],
            step: MINUTE,
            pass: 95.0,
            marginal: 75.0,
        };
        let spec = AnalysisRunSpec {
            templates: vec!["kayenta".into()],
            metrics: vec![AnalysisMetric {
                name: "kayenta".into(),
                spec: MetricSpec { interval: Some(30 * MINUTE), count: Some(1), ..Default::default() },
                success: None,
                failure: None,
                provider: MetricProvider::Kayenta(Box::new(k)),
            }],
        };
        (AnalysisRun::new(spec, 0, crate::engine::SimRng::new(1, crate::engine::Stream::Controllers)), store)
    }

    #[test]
    fn kayenta_scores_a_worse_canary_as_failed_and_an_equal_one_as_successful() {
        for (level, expected, score) in
            [(0.05, MeasurementPhase::Failed, 0.0), (0.01, MeasurementPhase::Successful, 100.0)]
        {
            let (mut run, store) = kayenta_run(level);
            let mut out = Vec::new();
            // With initialDelay 30m the one measurement judges 30 samples of each version.
            run.spec.metrics[0].spec.initial_delay = Some(30 * MINUTE);
            let at = run.next_measurement_at().unwrap();
            assert_eq!(at, 30 * MINUTE);
            run.measure_due(at, &store, &mut out);
            assert_eq!(out[0].phase, expected, "canary at {level}: {:?}", out[0]);
            assert_eq!(out[0].value, MetricValue::Scalar(score));
        }
    }
}
