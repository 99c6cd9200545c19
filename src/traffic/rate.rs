//! The request rate over time: constant, diurnal (a sinusoid) or steps. Time is measured
//! from the start of the replication.

use super::spec::{RatePattern, Traffic};
use crate::engine::{SimTime, to_secs_f64};
use std::f64::consts::TAU;

/// A rate pattern with its base rate, answering the questions the two fidelities ask.
#[derive(Clone, Debug)]
pub struct Rate {
    base: f64,
    pattern: RatePattern,
}

impl Rate {
    pub fn new(traffic: &Traffic) -> Self {
        let mut pattern = traffic.pattern.clone();
        if let RatePattern::Steps { steps } = &mut pattern {
            steps.sort_by_key(|s| s.at);
        }
        Self { base: traffic.rps.max(0.0), pattern }
    }

    /// Requests per second at time `t`.
    pub fn at(&self, t: SimTime) -> f64 {
        match &self.pattern {
            RatePattern::Constant => self.base,
            RatePattern::Diurnal { trough, peak, period } => {
                let phase = TAU * (t % (*period).max(1)) as f64 / (*period).max(1) as f64;
                trough + (peak - trough) * (1.0 - phase.cos()) / 2.0
            }
            RatePattern::Steps { steps } => {
                steps.iter().rev().find(|s| s.at <= t).map_or(self.base, |s| s.rps)
            }
        }
    }

    /// The expected number of requests in [a, b).
    pub fn integral(&self, a: SimTime, b: SimTime) -> f64 {
        if b <= a {
            return 0.0;
        }
        match &self.pattern {
            RatePattern::Diurnal { trough, peak, period } => {
                // ∫ trough + (peak−trough)(1 − cos(2πt/P))/2 dt
                let p = to_secs_f64((*period).max(1));
                let anti = |t: SimTime| {
                    let x = to_secs_f64(t);
                    (trough + peak) / 2.0 * x - (peak - trough) / 2.0 * p / TAU * (TAU * x / p).sin()
                };
                (anti(b) - anti(a)).max(0.0)
            }
            _ => {
                // Piecewise constant: sum over the pieces between change points.
                let mut total = 0.0;
                let mut t = a;
                while t < b {
                    let end = self.next_change_after(t).min(b);
                    total += self.at(t) * to_secs_f64(end - t);
                    t = end;
                }
                total
            }
        }
    }

    /// The next time after `t` at which a piecewise-constant rate changes (`u64::MAX` if
    /// never); for the diurnal pattern, the end of the current half period (the rate is
    /// monotone between half periods, which bounds it for thinning).
    pub fn next_change_after(&self, t: SimTime) -> SimTime {
        match &self.pattern {
            RatePattern::Constant => SimTime::MAX,
            RatePattern::Diurnal { period, .. } => {
                let half = ((*period) / 2).max(1);
                (t / half + 1) * half
            }
            RatePattern::Steps { steps } => steps.iter().find(|s| s.at > t).map_or(SimTime::MAX, |s| s.at),
        }
    }

    /// An upper bound of the rate on [t, next_change_after(t)).
    pub fn max_until_change(&self, t: SimTime) -> f64 {
        match &self.pattern {
            RatePattern::Diurnal { .. } => {
                let end = self.next_change_after(t);
                self.at(t).max(self.at(end.saturating_sub(1))).max(self.at(end))
            }
            _ => self.at(t),
        }
    }

    /// Whether the rate is constant between change points (no thinning needed).
    pub fn piecewise_constant(&self) -> bool {
        !matches!(self.pattern, RatePattern::Diurnal { .. })
    }

    /// Mean of the diurnal curve, for documentation and tests.
    pub fn diurnal_mean(trough: f64, peak: f64) -> f64 {
        (trough + peak) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{HOUR, MINUTE, SECOND};
    use crate::traffic::spec::RateStep;

    fn rate(pattern: RatePattern) -> Rate {
        Rate::new(&Traffic {
            rps: 500.0,
            pattern,
            users: 1,
            timeout: 30 * SECOND,
            load_latency: Default::default(),
        })
    }

    #[test]
    fn steps_switch_at_their_times() {
        let r = rate(RatePattern::Steps { steps: vec![RateStep { at: 10 * MINUTE, rps: 900.0 }] });
        assert_eq!(r.at(0), 500.0);
        assert_eq!(r.at(10 * MINUTE), 900.0);
        assert_eq!(r.next_change_after(0), 10 * MINUTE);
        let expected = 500.0 * 60.0 + 900.0 * 60.0;
        assert!((r.integral(9 * MINUTE, 11 * MINUTE) - expected).abs() < 1e-6);
    }

    #[test]
    fn diurnal_runs_from_trough_to_peak_and_integrates_to_its_mean() {
        let r = rate(RatePattern::Diurnal { trough: 100.0, peak: 800.0, period: 24 * HOUR });
        assert!((r.at(0) - 100.0).abs() < 1e-9);
        assert!((r.at(12 * HOUR) - 800.0).abs() < 1e-9);
        let day = r.integral(0, 24 * HOUR);
        assert!((day - Rate::diurnal_mean(100.0, 800.0) * 86_400.0).abs() < 1e-3);
        // Numerical check of a partial integral.
        let (a, b) = (3 * HOUR, 5 * HOUR);
        let n = 20_000u64;
        let step = (b - a) / n;
        let riemann: f64 = (0..n).map(|i| r.at(a + i * step + step / 2) * to_secs_f64(step)).sum();
        assert!((r.integral(a, b) - riemann).abs() / riemann < 1e-6);
        assert!(r.max_until_change(HOUR) >= r.at(11 * HOUR + 59 * MINUTE));
    }
}
