//! The work budget: an estimate, at load, of how much simulating a scenario costs, and the
//! refusal of a scenario that could not finish (365 days at a billion requests a second in
//! request fidelity). The estimate counts what the engine's time is proportional to: every
//! simulated request in `request` fidelity, every tick in `aggregated` fidelity, times the
//! replications. The refusal points at the key that drives the estimate.

use super::diagnostic::{Pos, Report};
use super::units::format_duration;
use crate::engine::SimTime;
use crate::traffic::{Fidelity, RatePattern, Traffic};

/// The most requests (over all replications) a `request`-fidelity scenario may simulate:
/// about 20 hours of one core at the measured ~1.4·10⁷ requests a second.
pub(crate) const MAX_REQUESTS: f64 = 1e12;
/// The most ticks (over all replications) an `aggregated`-fidelity scenario may simulate:
/// about 17 hours of one core at the measured ~1.6·10⁵ ticks a second.
pub(crate) const MAX_TICKS: f64 = 1e10;
/// Measured speeds (one core, `rolling-bad-release.yaml`), for the estimate's time.
const REQUESTS_PER_SECOND: f64 = 1.4e7;
const TICKS_PER_SECOND: f64 = 1.6e5;

/// Where the keys that make up the estimate are, for the refusal.
pub(crate) struct WorkKeys {
    pub rps: Option<Pos>,
    pub duration: Option<Pos>,
    pub replications: Option<Pos>,
    pub tick: Option<Pos>,
    /// Where to point when the key that drives the estimate is not written (a default).
    pub spec: Pos,
}

/// What one scenario costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Work {
    /// Requests per replication (the traffic pattern's integral over the duration).
    pub requests: f64,
    /// Ticks per replication.
    pub ticks: f64,
    pub tick: SimTime,
    pub replications: u64,
}

impl Work {
    pub fn estimate(traffic: &Traffic, duration: SimTime, tick: SimTime, replications: u64) -> Work {
        let secs = duration as f64 / 1e6;
        Work {
            requests: mean_rate(traffic, duration) * secs,
            ticks: duration as f64 / tick.max(1) as f64,
            tick,
            replications,
        }
    }
}

/// The mean request rate over `0..duration`.
fn mean_rate(traffic: &Traffic, duration: SimTime) -> f64 {
    match &traffic.pattern {
        RatePattern::Constant => traffic.rps,
        RatePattern::Diurnal { trough, peak, .. } => (trough + peak) / 2.0,
        RatePattern::Steps { steps } => {
            if duration == 0 {
                return traffic.rps;
            }
            let mut total = 0.0;
            let (mut from, mut rate) = (0, traffic.rps);
            for step in steps {
                let at = step.at.min(duration);
                total += rate * (at.saturating_sub(from)) as f64;
                from = from.max(at);
                rate = step.rps;
            }
            total += rate * duration.saturating_sub(from) as f64;
            total / duration as f64
        }
    }
}

/// Refuses a scenario whose estimated work is above the budget, pointing at the key whose
/// value is furthest above a typical scenario's (500 rps, 2h, 100 replications, 1s ticks).
pub(crate) fn check(report: &mut Report, fidelity: Fidelity, traffic: &Traffic, w: Work, keys: &WorkKeys) {
    let reps = w.replications as f64;
    let (total, limit, unit, speed) = match fidelity {
        Fidelity::Request => (w.requests * reps, MAX_REQUESTS, "requests", REQUESTS_PER_SECOND),
        Fidelity::Aggregated => (w.ticks * reps, MAX_TICKS, "ticks", TICKS_PER_SECOND),
    };
    if total <= limit {
        return;
    }
    let hours = total / speed / 3600.0;
    // How far each key is above a typical value: the largest ratio drives the estimate.
    let duration_ratio = w.ticks / 7200.0;
    let mut candidates = vec![
        (keys.duration, duration_ratio, "spec.duration"),
        (keys.replications, reps / 100.0, "spec.replications"),
    ];
    match fidelity {
        Fidelity::Request => candidates.push((keys.rps, mean_rate(traffic, 1) / 500.0, "spec.traffic.rps")),
        Fidelity::Aggregated => candidates.push((keys.tick, 1.0, "spec.tick")),
    }
    let (at, _, key) = candidates
        .iter()
        .copied()
        .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        .unwrap_or((None, 0.0, "spec"));
    let breakdown = match fidelity {
        Fidelity::Request => {
            format!("{:.3e} requests per replication × {} replications", w.requests, w.replications)
        }
        Fidelity::Aggregated => {
            format!("{:.3e} ticks per replication × {} replications", w.ticks, w.replications)
        }
    };
    let help = match fidelity {
        Fidelity::Request => format!(
            "request fidelity simulates every request; the limit is {limit:.0e} requests over all replications. \
             Lower `{key}`, or use `spec.fidelity: aggregated`, which draws each tick's counts at once"
        ),
        Fidelity::Aggregated => format!(
            "the limit is {limit:.0e} ticks over all replications (a tick of `spec.tick`, {}, is one step \
             of every pod's counts); lower `{key}`, or use a longer `spec.tick`",
            format_duration(w.tick)
        ),
    };
    report
        .error(
            at.unwrap_or(keys.spec),
            format!(
                "this scenario is too large to simulate: about {total:.2e} {unit} ({breakdown}), \
                 about {} on one core",
                human_hours(hours)
            ),
        )
        .label(format!("`{key}` drives the estimate"))
        .help(help);
}

fn human_hours(hours: f64) -> String {
    if hours >= 24.0 * 365.0 {
        format!("{:.3} years", hours / (24.0 * 365.0))
    } else if hours >= 48.0 {
        format!("{:.0} days", hours / 24.0)
    } else {
        format!("{hours:.0} hours")
    }
}

/// Checks the work of scenarios run together (a sweep's grid points, a file's variants, the
/// strategies of `compare`) against the budget one scenario has: each scenario is within it
/// alone (checked at load), but their sum must be too. The share of the budget of each is
/// its requests over [`MAX_REQUESTS`] (request fidelity) or ticks over [`MAX_TICKS`];
/// `what` names the set in the message (e.g. "the sweep's 40 grid points").
pub fn check_total(scenarios: &[&super::Scenario], what: &str) -> Result<(), String> {
    let mut share = 0.0;
    let mut hours = 0.0;
    for s in scenarios {
        let w = Work::estimate(&s.traffic, s.duration, s.tick, s.replications);
        let reps = w.replications as f64;
        let (total, limit, speed) = match s.fidelity {
            Fidelity::Request => (w.requests * reps, MAX_REQUESTS, REQUESTS_PER_SECOND),
            Fidelity::Aggregated => (w.ticks * reps, MAX_TICKS, TICKS_PER_SECOND),
        };
        share += total / limit;
        hours += total / speed / 3600.0;
    }
    if share <= 1.0 {
        return Ok(());
    }
    Err(format!(
        "error: {what} together are too large to simulate: {:.0}% of the work budget \
         ({MAX_REQUESTS:.0e} requests in request fidelity or {MAX_TICKS:.0e} ticks in aggregated \
         fidelity, over all runs), about {} on one core\n  help: run fewer points or variants, \
         or fewer replications (-n)",
        share * 100.0,
        human_hours(hours)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(rps: f64, pattern: RatePattern) -> Traffic {
        Traffic { rps, pattern, users: 100, timeout: 30_000_000, load_latency: Default::default() }
    }

    #[test]
    fn the_mean_rate_integrates_steps_and_averages_a_diurnal() {
        let hour = 3_600_000_000;
        let steps = RatePattern::Steps {
            steps: vec![
                crate::traffic::RateStep { at: hour, rps: 300.0 },
                crate::traffic::RateStep { at: 5 * hour, rps: 1.0 },
            ],
        };
        // 100 for 1h, 300 for the next 1h of a 2h run.
        assert_eq!(mean_rate(&traffic(100.0, steps), 2 * hour), 200.0);
        let diurnal = RatePattern::Diurnal { trough: 100.0, peak: 300.0, period: hour };
        assert_eq!(mean_rate(&traffic(0.0, diurnal), hour), 200.0);
        let w = Work::estimate(&traffic(500.0, RatePattern::Constant), 2 * hour, 1_000_000, 10);
        assert_eq!(w.requests, 500.0 * 7200.0);
        assert_eq!(w.ticks, 7200.0);
    }

    /// Scenarios within the budget alone are refused together when their sum is not.
    #[test]
    fn the_total_of_scenarios_run_together_is_budgeted() {
        let text = include_str!("../../scenarios/rolling-healthy.yaml");
        let load = |reps: u64| {
            let set = [
                super::super::Override::new("spec.fidelity", "aggregated"),
                super::super::Override::new("spec.replications", reps.to_string()),
            ];
            super::super::load_str("rolling-healthy.yaml", text, &set).unwrap()
        };
        let one = load(1);
        let ticks = one.duration as f64 / one.tick as f64;
        // 60% of the budget each: one alone fits, two do not.
        let s = load((0.6 * MAX_TICKS / ticks).ceil() as u64);
        assert!(check_total(&[&s], "one").is_ok());
        let e = check_total(&[&s, &s], "the sweep's 2 grid points").unwrap_err();
        assert!(e.contains("the sweep's 2 grid points together are too large") && e.contains("120%"), "{e}");
        assert!(check_total(&[&s, &one], "two").is_ok());
    }
}
