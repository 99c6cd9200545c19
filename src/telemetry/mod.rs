//! Telemetry: what the service's own signals say. For now, one built-in detector: the SRE
//! Workbook's multiwindow burn-rate page over the Service's observed error ratio. The
//! monitoring issue replaces it with scraped counters, PromQL and alerting rules.

pub mod alert;
pub mod promql;
pub mod rate;
pub mod rules;
pub mod scrape;
pub mod spec;
pub use spec::*;

use crate::engine::{SECOND, SimTime};
use crate::traffic::Tally;

/// What the detector saw when it fired.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnRateAlert {
    pub long_ratio: f64,
    pub short_ratio: f64,
    pub threshold: f64,
}

/// Fires when the error ratio over the long window AND over the short window both exceed
/// `burn_rate × (1 − objective)`. Windows cover whole past seconds: at time t it reads the
/// seconds [t − W, t).
///
/// A replication starts in a steady state that has lasted forever, so the part of a window
/// before t = 0 is filled with the steady state's expected traffic (`history`): without it,
/// an hour-long window would judge the first minutes of a run on minutes of data.
pub struct BurnRateDetector {
    threshold: f64,
    long_s: usize,
    short_s: usize,
    /// prefix[i] = totals over seconds [0, i).
    prefix: Vec<(u64, u64)>,
    history: SteadyState,
}

/// Expected traffic per second before the replication started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SteadyState {
    pub requests_per_second: f64,
    pub error_ratio: f64,
}

impl BurnRateDetector {
    pub fn new(slo: &Slo, detection: &Detection, history: SteadyState) -> Self {
        Self {
            history,
            threshold: detection.burn_rate * (1.0 - slo.objective),
            long_s: (detection.long_window / SECOND).max(1) as usize,
            short_s: (detection.short_window / SECOND).max(1) as usize,
            prefix: vec![(0, 0)],
        }
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    fn extend(&mut self, per_second: &[Tally], upto: usize) {
        while self.prefix.len() <= upto.min(per_second.len()) {
            let i = self.prefix.len() - 1;
            let (r, e) = self.prefix[i];
            self.prefix.push((r + per_second[i].requests, e + per_second[i].errors));
        }
    }

    /// The error ratio over the `window_s` whole seconds before `now_s` (None without traffic).
    fn ratio(&self, now_s: usize, window_s: usize) -> Option<f64> {
        let end = now_s.min(self.prefix.len() - 1);
        let start = end.saturating_sub(window_s);
        let before_start = window_s.saturating_sub(end) as f64;
        let past_requests = self.history.requests_per_second * before_start;
        let requests = (self.prefix[end].0 - self.prefix[start].0) as f64 + past_requests;
        let errors =
            (self.prefix[end].1 - self.prefix[start].1) as f64 + past_requests * self.history.error_ratio;
        (requests > 0.0).then(|| errors / requests)
    }

    /// Evaluates the rule at `now` over the per-second series.
    pub fn evaluate(&mut self, per_second: &[Tally], now: SimTime) -> Option<BurnRateAlert> {
        let now_s = (now / SECOND) as usize;
        self.extend(per_second, now_s);
        let long_ratio = self.ratio(now_s, self.long_s)?;
        let short_ratio = self.ratio(now_s, self.short_s)?;
        (long_ratio > self.threshold && short_ratio > self.threshold).then_some(BurnRateAlert {
            long_ratio,
            short_ratio,
            threshold: self.threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{HOUR, MINUTE};

    /// The Workbook's page at a 99.9% SLO: 14.4× over 1h and 5m.
    fn page_rule(history: SteadyState) -> BurnRateDetector {
        let slo = Slo { objective: 0.999, window: 30 * 24 * HOUR };
        let detection = Detection {
            burn_rate: 14.4,
            long_window: HOUR,
            short_window: 5 * MINUTE,
            evaluation_interval: 30 * SECOND,
            on_progress_deadline: true,
        };
        BurnRateDetector::new(&slo, &detection, history)
    }

    fn detector() -> BurnRateDetector {
        page_rule(SteadyState::default())
    }

    /// The Workbook's table 1.2 (fluid model): at a 100% error ratio the 1h/5m rule at 14.4
    /// fires after 0.0144 × 3600 s = 51.84 s; at 10% after 518.4 s. With whole-second windows
    /// the first firing evaluation is the first second past those.
    #[test]
    fn detection_time_matches_the_workbook() {
        for (error_ratio, expected_s) in [(1.0, 52usize), (0.1, 519)] {
            let mut series = vec![Tally { requests: 1000, errors: 0 }; 2 * 3600];
            for s in &mut series[3600..] {
                s.errors = (1000.0 * error_ratio) as u64;
            }
            let mut d = detector();
            let fired = (3600..2 * 3600).find(|&s| d.evaluate(&series, s as u64 * SECOND).is_some()).unwrap();
            assert_eq!(fired - 3600, expected_s, "error ratio {error_ratio}");
        }
    }

    #[test]
    fn the_short_window_resets_quickly_and_no_traffic_never_fires() {
        let mut series = vec![Tally { requests: 1000, errors: 1000 }; 600];
        series.extend(vec![Tally { requests: 1000, errors: 0 }; 600]);
        let mut d = detector();
        assert!(d.evaluate(&series, 600 * SECOND).is_some());
        // 5 minutes after the errors stop, the short window is clean.
        assert!(d.evaluate(&series, 901 * SECOND).is_none());
        let mut quiet = detector();
        assert!(quiet.evaluate(&[Tally::default(); 100], 100 * SECOND).is_none());
    }

    /// With a healthy history, 100% errors from t = 0 need 51.84 s of the hour to fire, as
    /// if the window had been full; without it, the first second would already fire.
    #[test]
    fn history_fills_the_window_before_the_start() {
        let series = vec![Tally { requests: 1000, errors: 1000 }; 120];
        let mut d = page_rule(SteadyState { requests_per_second: 1000.0, error_ratio: 0.0 });
        let fired = (1..120).find(|&s| d.evaluate(&series, s * SECOND).is_some()).unwrap();
        assert_eq!(fired, 52);
        let mut fresh = detector();
        assert!(fresh.evaluate(&series, SECOND).is_some());
    }
}
