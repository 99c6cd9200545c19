//! A statistical canary judge in the manner of Netflix/Spinnaker Kayenta's
//! `NetflixACAJudge-v1.0`: pure functions from a canary's and a baseline's metric samples to
//! a score and a verdict.
//!
//! Per metric (`classify`): clean the samples (`preprocess`), settle missing or identical
//! data, compare the canary with the baseline by the Mann–Whitney confidence interval of the
//! shift and the Hodges–Lehmann estimate (`mann_whitney`), check the effect size, and flag
//! critical failures. Then (`score`) a weighted sum over metric groups, forced to 0 by a
//! critical failure or by too many metrics without data, and a verdict from two thresholds.
//!
//! The rules and defaults are Kayenta's (spinnaker/kayenta, now in spinnaker/spinnaker under
//! `kayenta/`: `NetflixACAJudge.scala`, `MannWhitneyClassifier.scala`,
//! `WeightedSumScorer.scala`, `MannWhitney.scala`), and the tests carry the numbers of its
//! test suites. No I/O; the only randomness is the noise Kayenta adds to two constant series,
//! drawn from the caller's [`SimRng`].

pub mod classify;
pub mod mann_whitney;
pub mod preprocess;
pub mod score;

#[cfg(test)]
#[rustfmt::skip]
mod vectors;

pub use classify::{
    Classification, Comparison, Direction, EffectMeasure, EffectSize, MannWhitneyClassifier, MetricConfig,
    MetricResult, classify_metric,
};
pub use mann_whitney::{MannWhitneyError, ShiftEstimate, mann_whitney};
pub use preprocess::{NanStrategy, Outliers};
pub use score::{GroupScore, ScoreFailure, Verdict};

use crate::engine::SimRng;

/// A canary configuration: the metrics, how groups are weighted, and the thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeConfig {
    pub metrics: Vec<MetricConfig>,
    /// Percent per group; groups not listed share what is left of 100 equally.
    pub group_weights: Vec<(String, f64)>,
    /// Below this score the canary fails. Default 75 (Spinnaker's suggested start).
    pub marginal: f64,
    /// At or above this score the canary passes. Default 95.
    pub pass: f64,
    /// Fraction of |estimate| the interval must clear. Default 0.25.
    pub tolerance: f64,
    /// Confidence level of the Mann–Whitney interval. Default 0.98.
    pub confidence: f64,
}

impl JudgeConfig {
    /// The metrics with Kayenta's judge defaults and no group weights.
    pub fn new(metrics: Vec<MetricConfig>) -> Self {
        let test = MannWhitneyClassifier::JUDGE;
        Self {
            metrics,
            group_weights: Vec::new(),
            marginal: 75.0,
            pass: 95.0,
            tolerance: test.tolerance,
            confidence: test.confidence,
        }
    }

    /// Whether the configuration can be judged with.
    pub fn validate(&self) -> Result<(), JudgeError> {
        let invalid = |reason: String| Err(JudgeError::InvalidConfig(reason));
        for (i, metric) in self.metrics.iter().enumerate() {
            if self.metrics[..i].iter().any(|m| m.name == metric.name) {
                return invalid(format!("metric {:?} is configured twice", metric.name));
            }
            if let Outliers::Remove { factor, .. } = metric.outliers
                && !(factor > 0.0 && factor.is_finite())
            {
                return invalid(format!("metric {:?} has outlier factor {factor}", metric.name));
            }
        }
        score::check_group_weights(&self.group_weights).or_else(invalid)?;
        if !(0.0 <= self.marginal && self.marginal <= self.pass && self.pass <= 100.0) {
            return invalid(format!("thresholds marginal {} and pass {}", self.marginal, self.pass));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return invalid(format!("tolerance {}", self.tolerance));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return invalid(format!("confidence level {}", self.confidence));
        }
        Ok(())
    }
}

/// Why a judgement could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    #[error("invalid canary configuration: {0}")]
    InvalidConfig(String),
    #[error("data for metric {0:?}, which the configuration does not have")]
    UnknownMetric(String),
    #[error("two data entries for metric {0:?}")]
    DuplicateData(String),
}

/// A judgement: the score, its verdict, and every metric's result.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeResult {
    /// 0–100, rounded to 2 decimals.
    pub score: f64,
    pub verdict: Verdict,
    /// Why the score was forced to 0, if it was.
    pub failure: Option<ScoreFailure>,
    pub groups: Vec<GroupScore>,
    /// In the order of `config.metrics`.
    pub metrics: Vec<MetricResult>,
}

/// Judges a canary. `data` holds `(metric name, canary samples, baseline samples)`; a
/// configured metric without an entry is judged on empty series (no data). `rng` is drawn
/// from only for metrics whose two series are both constant.
pub fn judge<N, S>(
    config: &JudgeConfig,
    data: &[(N, S, S)],
    rng: &mut SimRng,
) -> Result<JudgeResult, JudgeError>
where
    N: AsRef<str>,
    S: AsRef<[f64]>,
{
    config.validate()?;
    for (i, (name, _, _)) in data.iter().enumerate() {
        let name = name.as_ref();
        if !config.metrics.iter().any(|m| m.name == name) {
            return Err(JudgeError::UnknownMetric(name.to_owned()));
        }
        if data[..i].iter().any(|(other, _, _)| other.as_ref() == name) {
            return Err(JudgeError::DuplicateData(name.to_owned()));
        }
    }
    let classifier = MannWhitneyClassifier { tolerance: config.tolerance, confidence: config.confidence };
    let metrics: Vec<MetricResult> = config
        .metrics
        .iter()
        .map(|metric| {
            let entry = data.iter().find(|(name, _, _)| name.as_ref() == metric.name);
            let (canary, baseline) = entry.map_or((&[][..], &[][..]), |(_, c, b)| (c.as_ref(), b.as_ref()));
            classify_metric(metric, &classifier, canary, baseline, rng)
        })
        .collect();
    let score = score::weighted_sum(&metrics, &config.group_weights);
    let verdict = score::verdict(score.summary, config.marginal, config.pass);
    Ok(JudgeResult { score: score.summary, verdict, failure: score.failure, groups: score.groups, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Stream;

    fn rng() -> SimRng {
        SimRng::new(11, Stream::Controllers)
    }

    /// 30 samples spread over base ± 3.
    fn series(base: f64) -> Vec<f64> {
        (0..30).map(|i| base + f64::from(i % 7) - 3.0).collect()
    }

    type Data = Vec<(String, Vec<f64>, Vec<f64>)>;

    fn same(name: &str) -> (String, Vec<f64>, Vec<f64>) {
        (name.to_owned(), series(100.0), series(100.0))
    }

    fn higher(name: &str) -> (String, Vec<f64>, Vec<f64>) {
        (name.to_owned(), series(150.0), series(100.0))
    }

    fn metrics(names_groups: &[(&str, &str)]) -> Vec<MetricConfig> {
        names_groups.iter().map(|&(name, group)| MetricConfig::new(name, group)).collect()
    }

    #[test]
    fn nine_of_ten_passing_metrics_score_ninety_marginal() {
        let names: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        let config = JudgeConfig::new(names.iter().map(|n| MetricConfig::new(n, "g")).collect());
        let mut data: Data = names.iter().map(|n| same(n)).collect();
        data[3] = higher("m3");
        let result = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!((result.score, result.verdict, result.failure), (90.0, Verdict::Marginal, None));
        assert_eq!(result.metrics[3].classification, Classification::High);
        assert!(
            result
                .metrics
                .iter()
                .enumerate()
                .all(|(i, m)| i == 3 || m.classification == Classification::Pass)
        );
        data[3] = same("m3");
        let clean = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!((clean.score, clean.verdict), (100.0, Verdict::Pass));
    }

    #[test]
    fn a_critical_failure_zeroes_the_score() {
        let mut config = JudgeConfig::new(metrics(&[("errors", "errors"), ("latency", "latency")]));
        config.metrics[0].critical = true;
        config.metrics[0].direction = Direction::Increase;
        let data = vec![higher("errors"), same("latency")];
        let result = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!(result.score, 0.0);
        assert_eq!(result.verdict, Verdict::Fail);
        assert_eq!(result.failure, Some(ScoreFailure::Critical { metric: "errors".into() }));
        // The same increase on a non-critical metric costs its group only.
        config.metrics[0].critical = false;
        let result = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!((result.score, result.failure), (50.0, None));
        // A critical metric that improved is fine.
        config.metrics[0].critical = true;
        let better = vec![("errors".to_owned(), series(50.0), series(100.0)), same("latency")];
        assert_eq!(judge(&config, &better, &mut rng()).unwrap().score, 100.0);
    }

    #[test]
    fn half_the_metrics_without_data_zero_the_score() {
        let config = JudgeConfig::new(metrics(&[("a", "g"), ("b", "g"), ("c", "g"), ("d", "g")]));
        // c and d have no entry at all: judged as empty series.
        let result = judge(&config, &[same("a"), same("b")], &mut rng()).unwrap();
        assert_eq!(result.metrics[2].classification, Classification::Nodata);
        assert_eq!((result.score, result.failure), (0.0, Some(ScoreFailure::TooManyNodata)));
        let empty = ("c".to_owned(), Vec::new(), series(100.0));
        let result = judge(&config, &[same("a"), same("b"), empty, same("d")], &mut rng()).unwrap();
        assert_eq!((result.score, result.verdict), (100.0, Verdict::Pass));
    }

    #[test]
    fn group_weights_and_shares() {
        let mut config = JudgeConfig::new(metrics(&[
            ("p99", "latency"),
            ("p50", "latency"),
            ("5xx", "errors"),
            ("cpu", "saturation"),
        ]));
        let data = vec![higher("p99"), same("p50"), same("5xx"), higher("cpu")];
        // Equal thirds: (50 + 100 + 0) / 3.
        assert_eq!(judge(&config, &data, &mut rng()).unwrap().score, 50.0);
        // Errors weighted 80, the other two share 10 each: 5 + 80 + 0.
        config.group_weights = vec![("errors".into(), 80.0)];
        let result = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!((result.score, result.verdict), (85.0, Verdict::Marginal));
        let names: Vec<&str> = result.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["latency", "errors", "saturation"]);
        // Muting the saturation metric drops its group, so latency alone takes the 20 left:
        // 50 × 0.2 + 100 × 0.8.
        config.metrics[3].muted = true;
        let result = judge(&config, &data, &mut rng()).unwrap();
        assert_eq!(result.score, 90.0);
        assert_eq!(result.groups.len(), 2);
        assert_eq!(result.metrics[3].classification, Classification::High);
    }

    #[test]
    fn data_and_configuration_are_checked() {
        let config = JudgeConfig::new(metrics(&[("a", "g")]));
        let err = judge(&config, &[same("a"), same("zzz")], &mut rng()).unwrap_err();
        assert_eq!(err, JudgeError::UnknownMetric("zzz".into()));
        let err = judge(&config, &[same("a"), same("a")], &mut rng()).unwrap_err();
        assert_eq!(err, JudgeError::DuplicateData("a".into()));
        let broken = [
            JudgeConfig { marginal: 96.0, ..config.clone() },
            JudgeConfig { confidence: 1.0, ..config.clone() },
            JudgeConfig { tolerance: -0.1, ..config.clone() },
            JudgeConfig { group_weights: vec![("g".into(), 101.0)], ..config.clone() },
            JudgeConfig::new(metrics(&[("a", "g"), ("a", "h")])),
        ];
        for config in broken {
            assert!(matches!(config.validate(), Err(JudgeError::InvalidConfig(_))), "{config:?}");
            assert!(judge(&config, &[same("a")], &mut rng()).is_err());
        }
        // Borrowed slices work as well as owned vectors.
        let borrowed: [(&str, &[f64], &[f64]); 1] = [("a", &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0])];
        assert_eq!(judge(&config, &borrowed, &mut rng()).unwrap().score, 100.0);
    }

    #[test]
    fn judging_is_deterministic_per_seed() {
        let config = JudgeConfig::new(metrics(&[("flat", "g"), ("live", "g")]));
        let data = vec![("flat".to_owned(), vec![2.0; 10], vec![1.0; 10]), higher("live")];
        let a = judge(&config, &data, &mut SimRng::new(5, Stream::Controllers)).unwrap();
        let b = judge(&config, &data, &mut SimRng::new(5, Stream::Controllers)).unwrap();
        assert_eq!(a, b);
        assert!(a.metrics[0].comparison.unwrap().noise_added);
        assert!(!a.metrics[1].comparison.unwrap().noise_added);
    }
}
