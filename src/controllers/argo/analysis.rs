//! AnalysisRun bookkeeping as pure functions (`controllers.md` §2.8): when each metric is
//! measured next, what its measurements add up to, and what the run as a whole says.
//!
//! Mirrors upstream argoproj/argo-rollouts `analysis/analysis.go` (`generateMetricTasks`,
//! `runMeasurements`' counters, `assessMetricStatus`, `assessMetricFailureInconclusiveOrError`,
//! `assessRunStatus`, `calculateNextReconcileTime`), `utils/analysis/helpers.go` (`IsWorse`,
//! `IsTerminating`) and the `Metric` type's `EffectiveCount`. What one measurement's value means
//! (`successCondition` / `failureCondition`) is [`super::condition`].
//!
//! Upstream keeps counters (`count`, `failed`, `consecutiveError`, …) in the run's status and
//! trims the measurement list to the last 10; here the counters are recomputed from the full
//! list of measurements ([`MetricCounts::tally`]), which is the same thing as long as the
//! caller keeps every measurement.
//!
//! Time comes in as arguments. Upstream compares with the wall clock at each reconcile; a
//! strict "after" (`now > finishedAt + interval`) becomes "at the first microsecond after".
//!
//! Not modelled: `resumeAt` (measurements here finish in the reconcile that starts them, as the
//! Prometheus provider's do), argument resolution, measurement retention, the run's message and
//! its run/dry-run summaries.

use super::steps::AnalysisPhase;
use crate::engine::{SECOND, SimTime};

/// `DefaultConsecutiveErrorLimit`: a metric is `Error` after more than 4 errors in a row.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;
/// `DefaultErrorRetryInterval`: the wait after an `Error` measurement, whatever the interval.
pub const ERROR_RETRY_INTERVAL: SimTime = 10 * SECOND;
/// `DefaultMeasurementHistoryLimit`: measurements upstream keeps per metric (the counters
/// keep counting). For the record; nothing here trims.
pub const MEASUREMENT_HISTORY_LIMIT: usize = 10;
/// `failureLimit: -1` turns the failure limit off (only meaningful with
/// `consecutiveSuccessLimit`).
pub const FAILURE_LIMIT_DISABLED: i64 = -1;

/// One entry of an AnalysisTemplate's `metrics`, the fields that decide scheduling and phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    /// `interval` (`None`: unset — a single measurement unless `count` says otherwise).
    pub interval: Option<SimTime>,
    /// `count` (`None`: unset; `Some(0)` is treated as unset, as upstream's `EffectiveCount` does).
    pub count: Option<i64>,
    /// `initialDelay`, measured from the run's `startedAt` (`None`: unset).
    pub initial_delay: Option<SimTime>,
    /// `failureLimit` (default 0; [`FAILURE_LIMIT_DISABLED`] turns it off).
    pub failure_limit: i64,
    /// `inconclusiveLimit` (default 0).
    pub inconclusive_limit: i64,
    /// `consecutiveErrorLimit` (default [`DEFAULT_CONSECUTIVE_ERROR_LIMIT`]).
    pub consecutive_error_limit: i64,
    /// `consecutiveSuccessLimit` (default 0: not used).
    pub consecutive_success_limit: i64,
    /// The metric matches a `dryRun` rule: measured and assessed, but never decides the run.
    pub dry_run: bool,
}

impl Default for MetricSpec {
    fn default() -> Self {
        Self {
            interval: None,
            count: None,
            initial_delay: None,
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: DEFAULT_CONSECUTIVE_ERROR_LIMIT,
            consecutive_success_limit: 0,
            dry_run: false,
        }
    }
}

impl MetricSpec {
    /// `EffectiveCount`: `count` when set and non-zero; otherwise 1 without an `interval`, and
    /// no bound (runs until the run ends) with one.
    pub fn effective_count(&self) -> Option<i64> {
        match self.count {
            Some(c) if c != 0 => Some(c),
            _ if self.interval.is_none() => Some(1),
            _ => None,
        }
    }

    /// `failureLimit` is in force (not [`FAILURE_LIMIT_DISABLED`]).
    pub fn failure_limit_applies(&self) -> bool {
        self.failure_limit != FAILURE_LIMIT_DISABLED
    }

    /// `consecutiveSuccessLimit` is in force (set above 0).
    pub fn consecutive_success_limit_applies(&self) -> bool {
        self.consecutive_success_limit > 0
    }

    /// `ValidateMetric`'s checks on these fields, as upstream words them. Upstream rejects the
    /// whole run (phase `Error`) when any metric fails them.
    pub fn validate(&self) -> Result<(), String> {
        let count = self.count.unwrap_or(0);
        if count > 0 {
            if count < self.failure_limit {
                return Err("count must be >= failureLimit".into());
            }
            if count < self.inconclusive_limit {
                return Err("count must be >= inconclusiveLimit".into());
            }
        }
        if count > 1 && self.interval.is_none() {
            return Err("interval must be specified when count > 1".into());
        }
        if self.failure_limit < FAILURE_LIMIT_DISABLED {
            return Err("failureLimit must be >= -1".into());
        }
        if self.inconclusive_limit < 0 {
            return Err("inconclusiveLimit must be >= 0".into());
        }
        if self.consecutive_error_limit < 0 {
            return Err("consecutiveErrorLimit must be >= 0".into());
        }
        if self.consecutive_success_limit < 0 {
            return Err("consecutiveSuccessLimit must be >= 0".into());
        }
        Ok(())
    }
}

/// Phase of one measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeasurementPhase {
    /// Started, not yet finished (an in-flight measurement).
    Running,
    Successful,
    Failed,
    Inconclusive,
    /// The query or the condition failed to evaluate.
    Error,
}

impl MeasurementPhase {
    /// `Completed()`: every phase but `Running`.
    pub fn completed(self) -> bool {
        self != MeasurementPhase::Running
    }
}

/// One measurement of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    pub phase: MeasurementPhase,
    /// `finishedAt`; `None` while the measurement is in flight.
    pub finished_at: Option<SimTime>,
}

impl Measurement {
    /// A finished measurement.
    pub fn finished(phase: MeasurementPhase, at: SimTime) -> Self {
        debug_assert!(phase.completed(), "a finished measurement has a completed phase");
        Self { phase, finished_at: Some(at) }
    }

    /// A measurement still in flight.
    pub fn in_flight() -> Self {
        Self { phase: MeasurementPhase::Running, finished_at: None }
    }
}

/// The counters of a `MetricResult`, as `runMeasurements` keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricCounts {
    /// Successful + Failed + Inconclusive (errors do not count).
    pub count: i64,
    pub successful: i64,
    pub failed: i64,
    pub inconclusive: i64,
    pub error: i64,
    /// Errors since the last non-error measurement.
    pub consecutive_error: i64,
    /// Successes since the last other measurement (an error breaks the run too).
    pub consecutive_success: i64,
}

impl MetricCounts {
    /// Count the finished measurements, oldest first. In-flight ones count for nothing yet.
    pub fn tally(measurements: &[Measurement]) -> Self {
        let mut c = Self::default();
        for m in measurements {
            match m.phase {
                MeasurementPhase::Running => {}
                MeasurementPhase::Successful => {
                    c.successful += 1;
                    c.count += 1;
                    c.consecutive_error = 0;
                    c.consecutive_success += 1;
                }
                MeasurementPhase::Failed => {
                    c.failed += 1;
                    c.count += 1;
                    c.consecutive_error = 0;
                    c.consecutive_success = 0;
                }
                MeasurementPhase::Inconclusive => {
                    c.inconclusive += 1;
                    c.count += 1;
                    c.consecutive_error = 0;
                    c.consecutive_success = 0;
                }
                MeasurementPhase::Error => {
                    c.error += 1;
                    c.consecutive_error += 1;
                    c.consecutive_success = 0;
                }
            }
        }
        c
    }
}

/// `Completed()` of a metric or run phase.
pub fn completed(phase: AnalysisPhase) -> bool {
    matches!(
        phase,
        AnalysisPhase::Successful
            | AnalysisPhase::Failed
            | AnalysisPhase::Error
            | AnalysisPhase::Inconclusive
    )
}

/// Rank in upstream's `analysisStatusOrder`, best first:
/// Successful, Running, Pending, Inconclusive, Error, Failed.
fn badness(phase: AnalysisPhase) -> u8 {
    match phase {
        AnalysisPhase::Successful => 0,
        AnalysisPhase::Running => 1,
        AnalysisPhase::Pending => 2,
        AnalysisPhase::Inconclusive => 3,
        AnalysisPhase::Error => 4,
        AnalysisPhase::Failed => 5,
    }
}

/// `IsWorse(current, new)`: `new` ranks strictly worse than `current`.
pub fn is_worse(current: AnalysisPhase, new: AnalysisPhase) -> bool {
    badness(new) > badness(current)
}

/// `assessMetricFailureInconclusiveOrError`: the three limits, checked in the order failed,
/// inconclusive, consecutive errors; **the last one exceeded wins** (so a metric over both its
/// failure and its inconclusive limit is `Inconclusive`). `None`: no limit exceeded.
pub fn limit_exceeded(spec: &MetricSpec, c: &MetricCounts) -> Option<AnalysisPhase> {
    let mut phase = None;
    if spec.failure_limit_applies() && c.failed > spec.failure_limit {
        phase = Some(AnalysisPhase::Failed);
    }
    if c.inconclusive > spec.inconclusive_limit {
        phase = Some(AnalysisPhase::Inconclusive);
    }
    if c.consecutive_error > spec.consecutive_error_limit {
        phase = Some(AnalysisPhase::Error);
    }
    phase
}

/// `assessMetricStatus`: the metric's phase after its measurements so far.
///
/// - No measurement: `Pending` (a terminating run: `Successful`).
/// - Last measurement in flight: `Running`, terminating or not.
/// - A limit exceeded ([`limit_exceeded`]): that phase.
/// - `consecutiveSuccessLimit` in force and reached: `Successful`.
/// - Count reached: `Successful` — unless `consecutiveSuccessLimit` is in force and was not
///   reached, then `Inconclusive` if the failure limit is in force, `Failed` if it is off.
/// - Otherwise `Running` (a terminating run: `Successful`).
///
/// Upstream never re-assesses a completed metric; the caller stops measuring it (see
/// [`next_measurement_at`]), so recomputing gives the same answer.
pub fn metric_phase(spec: &MetricSpec, measurements: &[Measurement], terminating: bool) -> AnalysisPhase {
    let Some(last) = measurements.last() else {
        return if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Pending };
    };
    if !last.phase.completed() {
        return AnalysisPhase::Running;
    }
    let c = MetricCounts::tally(measurements);
    if let Some(phase) = limit_exceeded(spec, &c) {
        return phase;
    }
    let success_limit = spec.consecutive_success_limit_applies();
    if success_limit && c.consecutive_success >= spec.consecutive_success_limit {
        return AnalysisPhase::Successful;
    }
    if spec.effective_count().is_some_and(|n| c.count >= n) {
        if success_limit {
            // Count exhausted without the required run of successes.
            return if spec.failure_limit_applies() {
                AnalysisPhase::Inconclusive
            } else {
                AnalysisPhase::Failed
            };
        }
        return AnalysisPhase::Successful;
    }
    if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Running }
}

/// When the metric's next measurement is due (`generateMetricTasks`): it is taken at the first
/// reconcile at or after the returned instant. `None`: no further measurement (the metric is
/// complete, its count is reached, or a measurement is in flight).
///
/// - First measurement: at `started_at` (the run's `status.startedAt`), or at
///   `started_at + initialDelay` (inclusive).
/// - Then strictly after `last.finishedAt + interval` — after an `Error`, after
///   `last.finishedAt + 10 s` whatever the interval (also when no interval is set).
///
/// A terminating run takes no new measurements; [`assess_run`] says whether it is.
pub fn next_measurement_at(
    spec: &MetricSpec,
    started_at: SimTime,
    measurements: &[Measurement],
) -> Option<SimTime> {
    let Some(last) = measurements.last() else {
        return Some(started_at + spec.initial_delay.unwrap_or(0));
    };
    if completed(metric_phase(spec, measurements, false)) {
        return None;
    }
    let finished = last.finished_at?;
    let c = MetricCounts::tally(measurements);
    if spec.effective_count().is_some_and(|n| c.count >= n) {
        return None;
    }
    let wait = match (last.phase, spec.interval) {
        (MeasurementPhase::Error, _) | (_, None) => ERROR_RETRY_INTERVAL,
        (_, Some(interval)) => interval,
    };
    Some(finished + wait + 1)
}

/// Whether a measurement is due at `now` ([`next_measurement_at`] has passed).
pub fn measurement_due(
    spec: &MetricSpec,
    started_at: SimTime,
    measurements: &[Measurement],
    now: SimTime,
) -> bool {
    next_measurement_at(spec, started_at, measurements).is_some_and(|t| now >= t)
}

/// `IsTerminating`: termination was requested (`spec.terminate`, e.g. the rollout was fully
/// promoted), or a metric that is not a dry run is `Failed`, `Error` or `Inconclusive`.
pub fn is_terminating(terminate_requested: bool, metrics: &[(MetricSpec, AnalysisPhase)]) -> bool {
    terminate_requested
        || metrics.iter().any(|(spec, phase)| {
            !spec.dry_run
                && matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive)
        })
}

/// `assessRunStatus`: the run's phase from its metrics' phases.
///
/// Metrics still `Pending` or `Running` keep the run `Running`. Once every metric is complete
/// the run takes the worst completed phase of the metrics that are not dry runs (a completed
/// dry-run metric only counts as `Successful`). A terminating run does not wait: it is the worst
/// phase so far, or `Successful` when nothing completed yet.
pub fn run_phase(metrics: &[(MetricSpec, AnalysisPhase)], terminating: bool) -> AnalysisPhase {
    let mut worst: Option<AnalysisPhase> = None;
    let mut all_completed = true;
    for &(spec, phase) in metrics {
        if !completed(phase) {
            all_completed = false;
            continue;
        }
        let counted = if spec.dry_run { AnalysisPhase::Successful } else { phase };
        if worst.is_none_or(|w| is_worse(w, counted)) {
            worst = Some(counted);
        }
    }
    if terminating {
        return worst.unwrap_or(AnalysisPhase::Successful);
    }
    match worst {
        Some(w) if all_completed => w,
        _ => AnalysisPhase::Running,
    }
}

/// Everything one assessment of a run says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAssessment {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// Each metric's phase, in the order given.
    pub metrics: Vec<AnalysisPhase>,
    /// No new measurements are taken (see [`is_terminating`]).
    pub terminating: bool,
}

/// Assess a whole run at one instant: metric phases, whether the run is terminating, the run's
/// phase.
///
/// Upstream reads "terminating" from the phases stored by the *previous* reconcile, so a metric
/// that just failed ends the run one reconcile later — the one its own status write triggers at
/// once. Here both happen at the same instant: the metrics are assessed, the run is terminating
/// if one of them (not a dry run) ended badly, and then every metric is assessed again as
/// terminating (unbounded metrics end `Successful`).
pub fn assess_run(metrics: &[(MetricSpec, &[Measurement])], terminate_requested: bool) -> RunAssessment {
    let assess = |terminating: bool| -> Vec<(MetricSpec, AnalysisPhase)> {
        metrics.iter().map(|&(spec, ms)| (spec, metric_phase(&spec, ms, terminating))).collect()
    };
    let first = assess(terminate_requested);
    let terminating = is_terminating(terminate_requested, &first);
    let phases = if terminating && !terminate_requested { assess(true) } else { first };
    RunAssessment {
        phase: run_phase(&phases, terminating),
        metrics: phases.iter().map(|&(_, p)| p).collect(),
        terminating,
    }
}

/// The earliest instant any metric of a running run is due for a measurement
/// (`calculateNextReconcileTime`, with the strict "after" made explicit). `None` once the run is
/// complete or terminating, or when nothing is scheduled.
pub fn next_run_measurement_at(
    metrics: &[(MetricSpec, &[Measurement])],
    started_at: SimTime,
    terminate_requested: bool,
) -> Option<SimTime> {
    let run = assess_run(metrics, terminate_requested);
    if run.terminating || completed(run.phase) {
        return None;
    }
    metrics.iter().filter_map(|&(spec, ms)| next_measurement_at(&spec, started_at, ms)).min()
}

// ---------------------------------------------------------------------------------------------
// What an AnalysisRun measures: the metrics of its templates, arguments resolved.

/// Where a metric's value comes from.
#[derive(Clone, Debug)]
pub enum MetricProvider {
    /// `provider.prometheus.query`, evaluated as an instant query at the measurement's time.
    Prometheus { query: crate::telemetry::promql::Query },
    /// `provider.kayenta`: a statistical judgement of the canary (experiment scope) against
    /// the baseline (control scope) by [`crate::controllers::kayenta::judge`].
    Kayenta(Box<KayentaMetric>),
}

/// What Argo's Kayenta provider asks Kayenta for: each canary-config metric's query over the
/// experiment and the control scope, sampled every `step` over the run so far (a growing
/// lookback), judged, and scored; the measurement's value is the score, Successful at or above
/// `pass`, Inconclusive at or above `marginal`, else Failed (Argo's `kayenta` provider).
#[derive(Clone, Debug)]
pub struct KayentaMetric {
    pub config: crate::controllers::kayenta::JudgeConfig,
    /// Per metric of `config`, in its order: (experiment query, control query), scopes
    /// substituted.
    pub queries: Vec<(crate::telemetry::promql::Query, crate::telemetry::promql::Query)>,
    /// `scopes[].step`: the spacing of the samples.
    pub step: SimTime,
    /// `threshold.pass` and `threshold.marginal`.
    pub pass: f64,
    pub marginal: f64,
}

/// One metric of an AnalysisRun: its scheduling and phase fields, conditions and provider.
#[derive(Clone, Debug)]
pub struct AnalysisMetric {
    pub name: String,
    pub spec: MetricSpec,
    pub success: Option<super::condition::Condition>,
    pub failure: Option<super::condition::Condition>,
    pub provider: MetricProvider,
}

/// The metrics of one AnalysisRun: every template a step, background analysis or blue-green
/// gate names, merged in order (`AnalysisTemplate` and `ClusterAnalysisTemplate`), with
/// `args` substituted into their queries.
#[derive(Clone, Debug, Default)]
pub struct AnalysisRunSpec {
    /// The template names, for the trace (`success-rate`, `latency`).
    pub templates: Vec<String>,
    pub metrics: Vec<AnalysisMetric>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnalysisPhase::{Error, Failed, Inconclusive, Pending, Running, Successful};

    const S: MeasurementPhase = MeasurementPhase::Successful;
    const F: MeasurementPhase = MeasurementPhase::Failed;
    const I: MeasurementPhase = MeasurementPhase::Inconclusive;
    const E: MeasurementPhase = MeasurementPhase::Error;

    /// Finished measurements one second apart, in the given phases.
    fn ms(phases: &[MeasurementPhase]) -> Vec<Measurement> {
        phases.iter().enumerate().map(|(i, &p)| Measurement::finished(p, i as SimTime * SECOND)).collect()
    }

    /// `n` measurements of phase `p`.
    fn rep(p: MeasurementPhase, n: usize) -> Vec<MeasurementPhase> {
        vec![p; n]
    }

    fn interval(secs: u64) -> MetricSpec {
        MetricSpec { interval: Some(secs * SECOND), ..MetricSpec::default() }
    }

    #[test]
    fn effective_count() {
        // EffectiveCount (pkg/apis/rollouts/v1alpha1/analysis_types.go).
        let cases: &[(Option<i64>, Option<u64>, Option<i64>)] = &[
            (None, None, Some(1)),
            (Some(0), None, Some(1)),
            (None, Some(60), None),
            (Some(0), Some(60), None),
            (Some(5), Some(60), Some(5)),
            (Some(1), None, Some(1)),
        ];
        for &(count, iv, want) in cases {
            let spec = MetricSpec { count, interval: iv.map(|s| s * SECOND), ..MetricSpec::default() };
            assert_eq!(spec.effective_count(), want, "count {count:?} interval {iv:?}");
        }
    }

    #[test]
    fn counters() {
        let c = MetricCounts::tally(&ms(&[S, E, E, F, I, S, S, E]));
        assert_eq!(
            c,
            MetricCounts {
                count: 5,
                successful: 3,
                failed: 1,
                inconclusive: 1,
                error: 3,
                consecutive_error: 1,
                consecutive_success: 0,
            }
        );
        let c = MetricCounts::tally(&ms(&[E, S, S]));
        assert_eq!((c.consecutive_error, c.consecutive_success, c.count), (0, 2, 2));
    }

    /// One row: spec, measurements, expected phase when not terminating and when terminating.
    struct Row {
        what: &'static str,
        spec: MetricSpec,
        measurements: Vec<Measurement>,
        running: AnalysisPhase,
        terminating: AnalysisPhase,
    }

    fn check(rows: &[Row]) {
        for r in rows {
            assert_eq!(metric_phase(&r.spec, &r.measurements, false), r.running, "{}", r.what);
            assert_eq!(
                metric_phase(&r.spec, &r.measurements, true),
                r.terminating,
                "{} (terminating)",
                r.what
            );
        }
    }

    #[test]
    fn metric_phase_reference_vectors() {
        // controllers.md §2.8 "Vectors (analysis_test.go)", and the TestAssessMetricStatus*
        // cases of upstream analysis/analysis_test.go they come from.
        let fl = |limit: i64| MetricSpec { failure_limit: limit, ..interval(60) };
        let il = |limit: i64| MetricSpec { inconclusive_limit: limit, ..interval(60) };
        let count10 = MetricSpec { count: Some(10), ..interval(60) };
        let mut in_flight = ms(&[S]);
        in_flight.push(Measurement::in_flight());
        check(&[
            Row {
                what: "no measurements (TestAssessMetricStatusNoMeasurements)",
                spec: MetricSpec::default(),
                measurements: vec![],
                running: Pending,
                terminating: Successful,
            },
            Row {
                what: "in-flight measurement (TestAssessMetricStatusInFlightMeasurement)",
                spec: MetricSpec::default(),
                measurements: in_flight,
                running: Running,
                terminating: Running,
            },
            Row {
                what: "failureLimit 2, failed 3 of 3 (TestAssessMetricStatusFailureLimit)",
                spec: fl(2),
                measurements: ms(&rep(F, 3)),
                running: Failed,
                terminating: Failed,
            },
            Row {
                what: "failureLimit 3, failed 3 of 3",
                spec: fl(3),
                measurements: ms(&rep(F, 3)),
                running: Running,
                terminating: Successful,
            },
            Row {
                what: "inconclusiveLimit 2, inconclusive 3 (TestAssessMetricStatusInconclusiveLimit)",
                spec: il(2),
                measurements: ms(&rep(I, 3)),
                running: Inconclusive,
                terminating: Inconclusive,
            },
            Row {
                what: "inconclusiveLimit 3, inconclusive 3",
                spec: il(3),
                measurements: ms(&rep(I, 3)),
                running: Running,
                terminating: Successful,
            },
            Row {
                what: "5 consecutive errors (TestAssessMetricStatusConsecutiveErrors)",
                spec: interval(60),
                measurements: ms(&rep(E, 5)),
                running: Error,
                terminating: Error,
            },
            Row {
                what: "4 consecutive errors",
                spec: interval(60),
                measurements: ms(&rep(E, 4)),
                running: Running,
                terminating: Successful,
            },
            Row {
                what: "count 10, successful 10 (TestAssessMetricStatusCountReached)",
                spec: count10,
                measurements: ms(&rep(S, 10)),
                running: Successful,
                terminating: Successful,
            },
            Row {
                what: "count 10, successful 5 + inconclusive 5",
                spec: count10,
                measurements: ms(&[rep(S, 5), rep(I, 5)].concat()),
                running: Inconclusive,
                terminating: Inconclusive,
            },
        ]);
    }

    #[test]
    fn consecutive_success_limit_reference_vectors() {
        // controllers.md §2.8, from upstream analysis_test.go's consecutiveSuccessLimit cases
        // (failureLimit -1 disables the failure limit; both limits together).
        let off = |csl: i64, count: Option<i64>| MetricSpec {
            failure_limit: -1,
            consecutive_success_limit: csl,
            count,
            ..interval(60)
        };
        // `total` measurements ending in `failed` failures then `run` successes; the rest are
        // successes in front, which the failures cut off from the final run.
        let seq = |failed: usize, run: usize, total: usize| -> Vec<Measurement> {
            let filler = total - failed - run;
            assert!(filler == 0 || failed > 0, "filler would join the final run");
            ms(&[rep(S, filler), rep(F, failed), rep(S, run)].concat())
        };
        check(&[
            Row {
                what: "failureLimit -1, CSL 3, consecutive 3",
                spec: off(3, None),
                measurements: seq(2, 3, 5),
                running: Successful,
                terminating: Successful,
            },
            Row {
                what: "failureLimit -1, CSL 5, consecutive 3",
                spec: off(5, None),
                measurements: seq(2, 3, 5),
                running: Running,
                terminating: Successful,
            },
            Row {
                what: "failureLimit -1, CSL 5, count 7 reached, consecutive 3",
                spec: off(5, Some(7)),
                measurements: seq(4, 3, 7),
                running: Failed,
                terminating: Failed,
            },
        ]);
        // failureLimit 4 + CSL 4: (count, failed, consecutive successes) → phase.
        let both = |count: usize, failed: usize, run: usize| -> AnalysisPhase {
            let spec = MetricSpec {
                failure_limit: 4,
                consecutive_success_limit: 4,
                count: Some(10),
                ..interval(60)
            };
            metric_phase(&spec, &seq(failed, run, count), false)
        };
        let table = [
            ((10, 4, 3), Inconclusive),
            ((10, 5, 3), Failed),
            ((10, 4, 4), Successful),
            ((10, 5, 4), Failed),
            ((8, 3, 3), Running),
            ((8, 5, 3), Failed),
            ((8, 3, 4), Successful),
        ];
        for ((count, failed, run), want) in table {
            assert_eq!(both(count, failed, run), want, "count {count}, failed {failed}, consecutive {run}");
        }
    }

    #[test]
    fn limits_last_exceeded_wins() {
        // assessMetricFailureInconclusiveOrError: each later check overwrites the earlier one.
        let spec = interval(60);
        assert_eq!(metric_phase(&spec, &ms(&[F, I]), false), Inconclusive);
        assert_eq!(metric_phase(&spec, &ms(&[F, I, E, E, E, E, E]), false), Error);
        assert_eq!(metric_phase(&spec, &ms(&[F]), false), Failed);
        // failureLimit -1 ignores any number of failures.
        let off = MetricSpec { failure_limit: -1, ..interval(60) };
        assert_eq!(metric_phase(&off, &ms(&rep(F, 50)), false), Running);
        // consecutiveErrorLimit 0: the first error is too many.
        let strict = MetricSpec { consecutive_error_limit: 0, ..interval(60) };
        assert_eq!(metric_phase(&strict, &ms(&[E]), false), Error);
        // An error does not count towards `count`: one measurement without interval, errored.
        assert_eq!(metric_phase(&MetricSpec::default(), &ms(&[E]), false), Running);
        assert_eq!(metric_phase(&MetricSpec::default(), &ms(&[E, S]), false), Successful);
    }

    #[test]
    fn scheduling() {
        let t0 = 1_000 * SECOND;
        let spec = interval(60);
        // First measurement at the start; with initialDelay, at start + delay (inclusive).
        assert_eq!(next_measurement_at(&spec, t0, &[]), Some(t0));
        let delayed = MetricSpec { initial_delay: Some(20 * SECOND), ..spec };
        assert_eq!(next_measurement_at(&delayed, t0, &[]), Some(t0 + 20 * SECOND));
        // TestGenerateMetricTasksHonorInitialDelay: started 10 s ago → wait; 20 s ago → measure.
        assert!(!measurement_due(&delayed, t0, &[], t0 + 10 * SECOND));
        assert!(measurement_due(&delayed, t0, &[], t0 + 20 * SECOND));
        // TestGenerateMetricTasksInterval: interval 60 s, last finished 50 s ago → no; 61 s → yes.
        let last = [Measurement::finished(S, t0)];
        assert!(!measurement_due(&spec, t0, &last, t0 + 50 * SECOND));
        assert!(measurement_due(&spec, t0, &last, t0 + 61 * SECOND));
        // Strictly after finishedAt + interval.
        assert_eq!(next_measurement_at(&spec, t0, &last), Some(t0 + 60 * SECOND + 1));
        assert!(!measurement_due(&spec, t0, &last, t0 + 60 * SECOND));
        // After an Error: 10 s, whatever the interval (TestGenerateMetricTasksError).
        let errored = [Measurement::finished(E, t0)];
        assert_eq!(next_measurement_at(&spec, t0, &errored), Some(t0 + 10 * SECOND + 1));
        assert_eq!(next_measurement_at(&interval(5), t0, &errored), Some(t0 + 10 * SECOND + 1));
        // No interval, no count: one measurement (TestGenerateMetricTasksNoIntervalOrCount) …
        assert_eq!(next_measurement_at(&MetricSpec::default(), t0, &last), None);
        // … but an errored one is retried after 10 s.
        assert_eq!(next_measurement_at(&MetricSpec::default(), t0, &errored), Some(t0 + 10 * SECOND + 1));
        // In flight: nothing new (TestGenerateMetricTasksIncomplete resumes, never starts anew).
        assert_eq!(next_measurement_at(&spec, t0, &[Measurement::in_flight()]), None);
        // Count reached or metric complete: nothing.
        let two = MetricSpec { count: Some(2), ..spec };
        assert_eq!(next_measurement_at(&two, t0, &ms(&[S, S])), None);
        assert_eq!(next_measurement_at(&spec, t0, &ms(&[F])), None, "failed metric");
    }

    #[test]
    fn next_reconcile_reference_vector() {
        // controllers.md §2.8: interval 60 s, last finished 30 s ago → requeue in 30 s; a second
        // metric with initialDelay 40 s in a run started 30 s ago → in 10 s.
        let started = 0;
        let now = 30 * SECOND;
        let a = interval(60);
        let a_ms = [Measurement::finished(S, now - 30 * SECOND)];
        let mut b = interval(60);
        b.initial_delay = Some(40 * SECOND);
        let one: &[(MetricSpec, &[Measurement])] = &[(a, &a_ms)];
        assert_eq!(next_run_measurement_at(one, started, false), Some(now + 30 * SECOND + 1));
        let both: &[(MetricSpec, &[Measurement])] = &[(a, &a_ms), (b, &[])];
        assert_eq!(next_run_measurement_at(both, started, false), Some(now + 10 * SECOND));
        // Terminated: nothing more.
        assert_eq!(next_run_measurement_at(both, started, true), None);
    }

    #[test]
    fn worse_order() {
        // analysisStatusOrder (utils/analysis/helpers.go), best to worst.
        let order = [Successful, Running, Pending, Inconclusive, Error, Failed];
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                assert_eq!(is_worse(a, b), j > i, "{a:?} → {b:?}");
            }
        }
    }

    #[test]
    fn run_phase_vectors() {
        let m = MetricSpec::default();
        let dry = MetricSpec { dry_run: true, ..m };
        // TestAssessRunStatus (controllers.md §2.8): one metric still running → Running; the
        // worst of the completed ones otherwise.
        assert_eq!(run_phase(&[(m, Successful), (m, Running)], false), Running);
        assert_eq!(run_phase(&[(m, Successful), (m, Failed)], false), Failed);
        assert_eq!(run_phase(&[(m, Inconclusive), (m, Error)], false), Error);
        assert_eq!(run_phase(&[(m, Inconclusive), (m, Successful)], false), Inconclusive);
        // A metric not started yet keeps the run running.
        assert_eq!(run_phase(&[(m, Successful), (m, Pending)], false), Running);
        assert_eq!(run_phase(&[], false), Running);
        // Dry-run metrics never decide (TestAssessRunStatusWithDryRun* cases).
        assert_eq!(run_phase(&[(m, Successful), (dry, Failed)], false), Successful);
        assert_eq!(run_phase(&[(dry, Failed)], false), Successful);
        assert_eq!(run_phase(&[(dry, Failed), (m, Running)], false), Running);
        // Terminating: the worst so far, or Successful when nothing completed
        // (TestAssessRunStatusErrorMessageFromProvider-style terminations).
        assert_eq!(run_phase(&[(m, Running), (m, Failed)], true), Failed);
        assert_eq!(run_phase(&[(m, Running), (m, Pending)], true), Successful);
        // IsTerminating ignores dry-run failures.
        assert!(is_terminating(false, &[(m, Inconclusive)]));
        assert!(is_terminating(false, &[(m, Error)]));
        assert!(!is_terminating(false, &[(dry, Failed), (m, Running)]));
        assert!(is_terminating(true, &[]));
    }

    #[test]
    fn assess_run_terminates_at_once() {
        // newTerminatingRun (analysis_test.go): a metric that runs forever and one that ended
        // badly. The run ends with the bad phase; the unbounded metric ends Successful.
        let forever = interval(60);
        let once = MetricSpec::default();
        let good = ms(&[S]);
        for (bad, want) in [(F, Failed), (I, Inconclusive)] {
            let bad_ms = ms(&[bad]);
            let run = assess_run(&[(forever, &good), (once, &bad_ms)], false);
            assert_eq!(run.phase, want);
            assert_eq!(run.metrics, vec![Successful, want]);
            assert!(run.terminating);
        }
        let errors = ms(&rep(E, 5));
        let run = assess_run(&[(forever, &good), (once, &errors)], false);
        assert_eq!((run.phase, run.metrics[0]), (Error, Successful));
        // A dry-run failure does not end the run.
        let dry_once = MetricSpec { dry_run: true, ..once };
        let failed = ms(&[F]);
        let run = assess_run(&[(forever, &good), (dry_once, &failed)], false);
        assert_eq!((run.phase, run.terminating), (Running, false));
        assert_eq!(run.metrics, vec![Running, Failed]);
        // Terminate requested (background analysis after full promotion): Successful unless a
        // limit is already exceeded.
        let run = assess_run(&[(forever, &good)], true);
        assert_eq!(run.phase, Successful);
        let no_measurement: &[Measurement] = &[];
        assert_eq!(assess_run(&[(forever, no_measurement)], true).phase, Successful);
        let fl = MetricSpec { failure_limit: 1, ..forever };
        let two_failed = ms(&[F, F]);
        assert_eq!(assess_run(&[(fl, &two_failed)], true).phase, Failed);
        // In flight while terminating: the run still ends with what completed.
        let mut flying = ms(&[S]);
        flying.push(Measurement::in_flight());
        let run = assess_run(&[(forever, &flying), (once, &failed)], false);
        assert_eq!((run.phase, run.metrics[0]), (Failed, Running));
        // Everything completed normally: the worst phase.
        let count2 = MetricSpec { count: Some(2), ..forever };
        let ok = ms(&[S, S]);
        let run = assess_run(&[(count2, &ok), (once, &good)], false);
        assert_eq!((run.phase, run.terminating), (Successful, false));
    }

    #[test]
    fn validation() {
        // ValidateMetric (utils/analysis/helpers.go / analysis.go).
        let ok = MetricSpec { count: Some(5), failure_limit: 3, ..interval(60) };
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            (
                MetricSpec { count: Some(2), failure_limit: 3, ..interval(60) },
                "count must be >= failureLimit",
            ),
            (
                MetricSpec { count: Some(2), inconclusive_limit: 3, ..interval(60) },
                "count must be >= inconclusiveLimit",
            ),
            (
                MetricSpec { count: Some(2), ..MetricSpec::default() },
                "interval must be specified when count > 1",
            ),
            (MetricSpec { failure_limit: -2, ..interval(60) }, "failureLimit must be >= -1"),
            (MetricSpec { inconclusive_limit: -1, ..interval(60) }, "inconclusiveLimit must be >= 0"),
            (
                MetricSpec { consecutive_error_limit: -1, ..interval(60) },
                "consecutiveErrorLimit must be >= 0",
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(spec.validate(), Err(want.to_string()));
        }
        assert_eq!(MetricSpec { failure_limit: -1, ..interval(60) }.validate(), Ok(()));
    }
}
