//! Random durations, as scenario files describe them.

use super::time::SimTime;

/// A random duration: fixed, or log-normal from its median and 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DurationDist {
    Fixed(SimTime),
    LogNormal { median: SimTime, p99: SimTime },
}

/// The standard normal quantile at 0.99 (for fitting a log-normal to a median and a p99).
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// Parameters (mu, sigma) of the log-normal with the given median and 99th percentile, in
/// seconds. `p99 == median` gives sigma 0 (a fixed value).
pub fn lognormal_params(median: SimTime, p99: SimTime) -> (f64, f64) {
    let median_s = super::time::to_secs_f64(median.max(1));
    let p99_s = super::time::to_secs_f64(p99.max(median).max(1));
    let mu = median_s.ln();
    (mu, (p99_s.ln() - mu) / Z_99)
}

impl DurationDist {
    /// Draws one duration. A fixed duration draws nothing, so switching a scenario between
    /// fixed and random durations only shifts the stream that asks.
    pub fn sample(&self, rng: &mut super::SimRng) -> SimTime {
        match *self {
            DurationDist::Fixed(t) => t,
            DurationDist::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                super::time::from_secs_f64(rng.lognormal(mu, sigma))
            }
        }
    }

    /// The mean, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            DurationDist::Fixed(t) => super::time::to_secs_f64(t),
            DurationDist::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                (mu + sigma * sigma / 2.0).exp()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SECOND, SimRng, Stream};

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let dist = DurationDist::LogNormal { median: 20 * SECOND, p99: 60 * SECOND };
        let mut rng = SimRng::new(11, Stream::Pods);
        let mut draws: Vec<SimTime> = (0..100_000).map(|_| dist.sample(&mut rng)).collect();
        draws.sort_unstable();
        let median = draws[50_000] as f64 / SECOND as f64;
        let p99 = draws[99_000] as f64 / SECOND as f64;
        // Order statistics of 1e5 draws: the median's sd is about 0.4% of it, the p99's ~1%.
        assert!((median - 20.0).abs() < 0.4, "median {median}");
        assert!((p99 - 60.0).abs() < 2.5, "p99 {p99}");
    }

    #[test]
    fn fixed_draws_nothing() {
        let mut a = SimRng::new(1, Stream::Pods);
        let mut b = SimRng::new(1, Stream::Pods);
        assert_eq!(DurationDist::Fixed(7).sample(&mut a), 7);
        assert_eq!(a.uniform(), b.uniform());
    }
}
