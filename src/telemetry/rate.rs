//! PromQL's `rate`, `increase`, `delta`, `irate` and `idelta` over the samples of one series
//! (float samples only), and the range selector that picks those samples.
//!
//! The rules follow prometheus/prometheus `promql/functions.go` (`extrapolatedRate`,
//! `instantValue`) as of Prometheus 3:
//! - A range selector `[r]` evaluated at `t` selects the samples in **(t − r, t]**: left-open,
//!   right-closed (Prometheus 2 was closed on both sides).
//! - Fewer than two samples give no result.
//! - Counter resets: every drop in value adds the value before the drop.
//! - The increase between the first and the last sample is extrapolated towards each edge of
//!   the window, but only if the gap to that edge is below 1.1 × the average sample
//!   interval; otherwise by half an average interval. For counters, the extrapolation
//!   towards the start stops where the counter would have been zero.
//! - `rate` divides by the range (not by the time the samples cover).
//!
//! Not modelled: native histograms, start timestamps (created timestamps), the `anchored` and
//! `smoothed` selector modifiers, and the annotations (warnings) PromQL attaches.

use crate::engine::{SECOND, SimTime};

/// One scraped value of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: SimTime,
    pub v: f64,
}

impl Sample {
    pub fn new(t: SimTime, v: f64) -> Self {
        Self { t, v }
    }
}

/// Which of the three functions built on `extrapolatedRate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateKind {
    /// `rate()`: a counter's per-second increase, averaged over the range.
    Rate,
    /// `increase()`: a counter's increase over the range.
    Increase,
    /// `delta()`: a gauge's change over the range (no reset handling, no zero cut-off).
    Delta,
}

impl RateKind {
    fn is_counter(self) -> bool {
        matches!(self, RateKind::Rate | RateKind::Increase)
    }
}

/// A range selector's window: `(end − range, end]`. `end` is the evaluation time minus any
/// `offset`; `range` is the selector's duration. The window may begin before t = 0 (a
/// replication's first minutes), which is why it is kept as (end, range) rather than as two
/// instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub end: SimTime,
    pub range: SimTime,
}

impl Window {
    pub fn new(end: SimTime, range: SimTime) -> Self {
        assert!(range > 0, "a range selector needs a positive range");
        Self { end, range }
    }

    /// Whether `t` lies in `(end − range, end]`.
    pub fn contains(&self, t: SimTime) -> bool {
        t <= self.end && t + self.range > self.end
    }

    /// The samples of a time-ordered series that fall in the window.
    pub fn select<'a>(&self, series: &'a [Sample]) -> &'a [Sample] {
        let first = series.partition_point(|s| s.t + self.range <= self.end);
        let last = series.partition_point(|s| s.t <= self.end);
        &series[first..last.max(first)]
    }

    fn range_seconds(&self) -> f64 {
        self.range as f64 / SECOND as f64
    }
}

fn seconds(d: SimTime) -> f64 {
    d as f64 / SECOND as f64
}

/// `rate`, `increase` or `delta` of one series over `window`, from its samples in that window
/// (in time order, as [`Window::select`] returns them). `None` with fewer than two samples.
pub fn extrapolated_rate(samples: &[Sample], window: Window, kind: RateKind) -> Option<f64> {
    let (first, last) = match samples {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let mut result = last.v - first.v;
    if kind.is_counter() {
        for w in samples.windows(2) {
            if w[1].v < w[0].v {
                result += w[0].v;
            }
        }
    }
    Some(extrapolate(first, last, samples.len(), result, window, kind))
}

/// [`extrapolated_rate`] of samples the caller knows hold no counter reset (no value below
/// the one before it): only the outer two samples are read. The result is the same, bit for
/// bit, as the scan would give.
pub fn extrapolated_rate_without_resets(samples: &[Sample], window: Window, kind: RateKind) -> Option<f64> {
    let (first, last) = match samples {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    debug_assert!(
        !kind.is_counter() || !samples.windows(2).any(|w| w[1].v < w[0].v),
        "the caller promised no counter reset"
    );
    Some(extrapolate(first, last, samples.len(), last.v - first.v, window, kind))
}

/// The extrapolation step of `extrapolatedRate`: `result` is the (reset-corrected) change
/// from `first` to `last`, over `n` samples in the window.
fn extrapolate(first: Sample, last: Sample, n: usize, result: f64, window: Window, kind: RateKind) -> f64 {
    debug_assert!(first.t < last.t, "samples must be in strictly increasing time order");
    assert!(
        window.contains(first.t) && window.contains(last.t),
        "samples must lie in the window (end − range, end]"
    );

    // Gaps between the outer samples and the window's edges, and the span the samples cover.
    let mut to_start = seconds(first.t + window.range - window.end);
    let mut to_end = seconds(window.end - last.t);
    let sampled = seconds(last.t - first.t);
    let average_interval = sampled / (n - 1) as f64;

    // A gap up to 10% longer than the average interval is extrapolated all the way to the
    // edge; a longer one means the series starts (or ends) inside the window, so only half
    // an average interval is added. The comparison is `>=`.
    let threshold = average_interval * 1.1;
    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    // A counter cannot have been negative: with a positive increase and a non-negative first
    // value, extrapolate at most back to where the counter would have been zero.
    if kind.is_counter() && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }

    let mut factor = (sampled + to_start + to_end) / sampled;
    if kind == RateKind::Rate {
        factor /= window.range_seconds();
    }
    result * factor
}

/// `irate`: the per-second increase between the last two samples. After a counter reset
/// (the last value below the one before) the increase is the last value itself. `None` with
/// fewer than two samples or when the last two share a timestamp.
pub fn irate(samples: &[Sample]) -> Option<f64> {
    instant_value(samples, true)
}

/// `idelta`: the difference between the last two samples (no reset handling).
pub fn idelta(samples: &[Sample]) -> Option<f64> {
    instant_value(samples, false)
}

fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    let [.., previous, last] = samples else {
        return None;
    };
    if last.t == previous.t {
        return None;
    }
    assert!(previous.t < last.t, "samples must be in time order");
    // Only a strict drop is a reset: a NaN on either side is not one, and gives NaN.
    let value = if is_rate && last.v < previous.v { last.v } else { last.v - previous.v };
    Some(if is_rate { value / seconds(last.t - previous.t) } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MINUTE;
    use proptest::prelude::*;

    /// A series in promqltest's `load <step>` notation: `values[i]` at `i × step`.
    fn load(step: SimTime, values: &[f64]) -> Vec<Sample> {
        values.iter().enumerate().map(|(i, &v)| Sample::new(i as u64 * step, v)).collect()
    }

    /// promqltest's `a+bxN`: a, a+b, …, a+N·b.
    fn series(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..=n).map(|i| start + step * i as f64).collect()
    }

    fn eval(series: &[Sample], at: SimTime, range: SimTime, kind: RateKind) -> Option<f64> {
        let window = Window::new(at, range);
        extrapolated_rate(window.select(series), window, kind)
    }

    fn eval_offset(
        series: &[Sample],
        at: SimTime,
        range: SimTime,
        offset: SimTime,
        kind: RateKind,
    ) -> Option<f64> {
        let window = Window::new(at - offset, range);
        extrapolated_rate(window.select(series), window, kind)
    }

    fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
        let actual = actual.unwrap_or_else(|| panic!("{what}: no result, expected {expected}"));
        let tolerance = 1e-12 * expected.abs().max(1.0);
        assert!((actual - expected).abs() <= tolerance, "{what}: {actual} != {expected}");
    }

    #[test]
    fn the_window_is_left_open_and_right_closed() {
        let s = load(5 * MINUTE, &[0.0, 1.0, 2.0, 3.0]);
        let w = Window::new(15 * MINUTE, 10 * MINUTE);
        assert_eq!(w.select(&s), &s[2..4]);
        assert!(!w.contains(5 * MINUTE) && w.contains(5 * MINUTE + 1) && w.contains(15 * MINUTE));
        // Before t = 0 the window simply starts at the first sample.
        assert_eq!(Window::new(5 * MINUTE, 20 * MINUTE).select(&s), &s[0..2]);
        assert!(Window::new(0, MINUTE).contains(0));
        // Past the series, or between two samples: empty.
        assert!(Window::new(40 * MINUTE, 10 * MINUTE).select(&s).is_empty());
        assert!(Window::new(7 * MINUTE, MINUTE).select(&s).is_empty());
    }

    /// prometheus/prometheus `promql/promqltest/testdata/functions.test`, "Tests for
    /// increase()": `load 5m` with four series, evaluated at 50m over [50m] and [100m]. The
    /// [100m] column exercises the zero cut-off: /dings would reach 0 at −5m, beyond the
    /// half-interval (−2m30s), so it extrapolates by 2m30s (105); /bumms would reach 0 at −30s,
    /// so it extrapolates by 30s only (101). Also alerting.md §5.2.
    #[test]
    fn upstream_increase_vectors() {
        let mut bar = series(0.0, 18.0, 5);
        bar.extend(series(0.0, 18.0, 5));
        let cases = [
            ("/foo", series(0.0, 10.0, 10), 100.0, 100.0),
            ("/bar", bar, 160.0, 162.0),
            ("/dings", series(10.0, 10.0, 10), 100.0, 105.0),
            ("/bumms", series(1.0, 10.0, 10), 100.0, 101.0),
        ];
        for (path, values, over_50m, over_100m) in cases {
            let s = load(5 * MINUTE, &values);
            assert_close(eval(&s, 50 * MINUTE, 50 * MINUTE, RateKind::Increase), over_50m, path);
            assert_close(eval(&s, 50 * MINUTE, 100 * MINUTE, RateKind::Increase), over_100m, path);
        }
    }

    /// functions.test, "Test for increase() with counter reset": 3 → 2 is read as a reset to 0
    /// and a climb to 2, so `0 1 2 3 2 3 4` gains 7 over [30m] at 30m.
    #[test]
    fn upstream_increase_with_a_reset() {
        let s = load(5 * MINUTE, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
        assert_close(eval(&s, 30 * MINUTE, 30 * MINUTE, RateKind::Increase), 7.0, "reset");
    }

    /// functions.test, "Tests for rate()".
    #[test]
    fn upstream_rate_vectors() {
        // testcounter_reset_middle_total 0+27x4 0+27x5: rate[50m] at 50m = 0.08.
        let mut middle = series(0.0, 27.0, 4);
        middle.extend(series(0.0, 27.0, 5));
        let s = load(5 * MINUTE, &middle);
        assert_close(eval(&s, 50 * MINUTE, 50 * MINUTE, RateKind::Rate), 0.08, "reset middle");

        // testcounter_reset_end_total 0+10x9 0 10: [5m] at 50m holds one sample (no result);
        // [6m] holds 90 → 0, a reset that exactly cancels: 0.
        let mut end = series(0.0, 10.0, 9);
        end.extend([0.0, 10.0]);
        let s = load(5 * MINUTE, &end);
        assert_eq!(eval(&s, 50 * MINUTE, 5 * MINUTE, RateKind::Rate), None);
        assert_close(eval(&s, 50 * MINUTE, 6 * MINUTE, RateKind::Rate), 0.0, "reset end");

        // calculate_rate_window_total 0+80x10: rate[50m] at 50m.
        let s = load(5 * MINUTE, &series(0.0, 80.0, 10));
        assert_close(eval(&s, 50 * MINUTE, 50 * MINUTE, RateKind::Rate), 0.266_666_666_666_666_66, "window");

        // calculate_rate_offset_total{x="a"} 0+10x10 and {x="b"} 0+20x10:
        // rate(…[10m] offset 5m) at 50m.
        for (step, expected) in [(10.0, 0.033_333_333_333_333_33), (20.0, 0.066_666_666_666_666_67)] {
            let s = load(5 * MINUTE, &series(0.0, step, 10));
            let got = eval_offset(&s, 50 * MINUTE, 10 * MINUTE, 5 * MINUTE, RateKind::Rate);
            assert_close(got, expected, "offset");
        }
    }

    /// functions.test, the zero cut-off: `load 4m`, testcounter_zero_cutoff_total starting at
    /// 0, 60, …, 300 and climbing 240 per sample. At 10m over [20m] the window starts at −10m,
    /// beyond the 1.1 × 4m threshold, so the start is extrapolated by at most 2m, and less where
    /// the counter would reach zero sooner. At 50m the series has ended at 40m: half an
    /// interval at the end. Also alerting.md §5.2.
    #[test]
    fn upstream_zero_cutoff_vectors() {
        let at_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
        for (i, expected_10m) in at_10m.into_iter().enumerate() {
            let s = load(4 * MINUTE, &series(60.0 * i as f64, 240.0, 10));
            let what = format!("start={i}m");
            assert_close(eval(&s, 10 * MINUTE, 20 * MINUTE, RateKind::Rate), expected_10m, &what);
            assert_close(eval(&s, 50 * MINUTE, 20 * MINUTE, RateKind::Rate), 0.6, &what);
        }
    }

    /// functions.test, "Tests for delta()": a gauge, no reset handling, no zero cut-off.
    #[test]
    fn upstream_delta_vectors() {
        let up = load(5 * MINUTE, &[0.0, 50.0, 100.0, 150.0, 200.0]);
        let down = load(5 * MINUTE, &[200.0, 150.0, 100.0, 50.0, 0.0]);
        assert_close(eval(&up, 20 * MINUTE, 20 * MINUTE, RateKind::Delta), 200.0, "/foo");
        assert_close(eval(&down, 20 * MINUTE, 20 * MINUTE, RateKind::Delta), -200.0, "/bar");
        // The same falling series read as a counter is three resets.
        assert!(eval(&down, 20 * MINUTE, 20 * MINUTE, RateKind::Increase).unwrap() > 0.0);
    }

    /// functions.test, "Tests for irate()" and "Tests for idelta()", float series.
    #[test]
    fn upstream_irate_and_idelta_vectors() {
        let foo = load(5 * MINUTE, &series(0.0, 10.0, 10));
        let mut bar = series(0.0, 10.0, 5);
        bar.extend(series(0.0, 10.0, 5));
        let bar = load(5 * MINUTE, &bar);
        let w50 = Window::new(50 * MINUTE, 50 * MINUTE);
        assert_close(irate(w50.select(&foo)), 0.033_333_333_333_333_33, "irate /foo at 50m");
        assert_close(irate(w50.select(&bar)), 0.033_333_333_333_333_33, "irate /bar at 50m");
        // At 30m /bar has just reset 50 → 0: irate takes the new value, 0, over 5m.
        let w30 = Window::new(30 * MINUTE, 50 * MINUTE);
        assert_close(irate(w30.select(&foo)), 0.033_333_333_333_333_33, "irate /foo at 30m");
        assert_close(irate(w30.select(&bar)), 0.0, "irate /bar at 30m");

        // http_requests_nan 1 NaN NaN 5 11 over [15m1s]: NaN until the last two are numbers.
        let nan = load(5 * MINUTE, &[1.0, f64::NAN, f64::NAN, 5.0, 11.0]);
        let range = 15 * MINUTE + SECOND;
        assert_eq!(irate(Window::new(0, range).select(&nan)), None);
        for at in [5, 10, 15] {
            assert!(irate(Window::new(at * MINUTE, range).select(&nan)).unwrap().is_nan(), "irate at {at}m");
            assert!(
                idelta(Window::new(at * MINUTE, range).select(&nan)).unwrap().is_nan(),
                "idelta at {at}m"
            );
        }
        assert_close(irate(Window::new(20 * MINUTE, range).select(&nan)), 0.02, "irate nan at 20m");
        assert_close(idelta(Window::new(20 * MINUTE, range).select(&nan)), 6.0, "idelta nan at 20m");

        let w20 = Window::new(20 * MINUTE, 20 * MINUTE);
        let foo = load(5 * MINUTE, &[0.0, 50.0, 100.0, 150.0]);
        let bar = load(5 * MINUTE, &[0.0, 50.0, 100.0, 50.0]);
        assert_close(idelta(w20.select(&foo)), 50.0, "idelta /foo");
        assert_close(idelta(w20.select(&bar)), -50.0, "idelta /bar");
        assert_eq!(idelta(&foo[..1]), None);
    }

    /// alerting.md §4.5: a fresh series (a new canary pod) has no rate until its second
    /// scrape.
    #[test]
    fn one_sample_gives_no_rate() {
        let s = [Sample::new(15 * SECOND, 3.0)];
        for kind in [RateKind::Rate, RateKind::Increase, RateKind::Delta] {
            assert_eq!(eval(&s, MINUTE, MINUTE, kind), None);
        }
        assert_eq!(irate(&s), None);
        let s = [Sample::new(15 * SECOND, 3.0), Sample::new(30 * SECOND, 4.0)];
        assert!(eval(&s, MINUTE, MINUTE, RateKind::Rate).is_some());
    }

    /// alerting.md §5.2: a 10 req/s counter scraped every 15 s gives `rate[1m]` = 10.0 at any
    /// alignment, here checked for every whole-second phase.
    #[test]
    fn a_steady_counter_reads_its_rate_at_any_alignment() {
        for phase in 0..15 {
            let s: Vec<_> = (0..40)
                .map(|i| {
                    let t = (phase + 15 * i) * SECOND;
                    Sample::new(t, 1e6 + 10.0 * t as f64 / SECOND as f64)
                })
                .collect();
            for at in [5 * MINUTE, 5 * MINUTE + 7 * SECOND] {
                assert_close(eval(&s, at, MINUTE, RateKind::Rate), 10.0, &format!("phase {phase}s"));
            }
        }
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(4),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// A counter: non-negative increments scraped at `step` from `phase`, starting at `base`.
    fn counter(phase: SimTime, step: SimTime, base: f64, increments: &[f64]) -> Vec<Sample> {
        let mut v = base;
        increments
            .iter()
            .enumerate()
            .map(|(i, d)| {
                v += d;
                Sample::new(phase + i as u64 * step, v)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(config())]

        /// `rate` is `increase` over the range in seconds, whatever the samples.
        #[test]
        fn rate_is_increase_over_the_range(
            increments in proptest::collection::vec(0.0f64..100.0, 2..40),
            base in 0.0f64..1000.0,
            phase in 0u64..30,
            range_s in 30u64..900,
            at_s in 0u64..1200,
        ) {
            let s = counter(phase * SECOND, 15 * SECOND, base, &increments);
            let (at, range) = (at_s * SECOND, range_s * SECOND);
            let rate = eval(&s, at, range, RateKind::Rate);
            let increase = eval(&s, at, range, RateKind::Increase);
            prop_assert_eq!(rate.is_some(), increase.is_some());
            if let (Some(r), Some(i)) = (rate, increase) {
                prop_assert!((r * range_s as f64 - i).abs() <= 1e-9 * i.abs().max(1.0));
            }
        }

        /// Extrapolation only widens: a counter's increase is at least the raw increase
        /// between its first and last samples, and less than what 1.1 average intervals on
        /// each side would add.
        #[test]
        fn extrapolation_is_bounded(
            increments in proptest::collection::vec(0.0f64..100.0, 2..40),
            base in 0.0f64..1000.0,
            range_s in 30u64..900,
            at_s in 0u64..1200,
        ) {
            let s = counter(0, 15 * SECOND, base, &increments);
            let window = Window::new(at_s * SECOND, range_s * SECOND);
            let selected = window.select(&s);
            if let Some(increase) = extrapolated_rate(selected, window, RateKind::Increase) {
                let raw = selected[selected.len() - 1].v - selected[0].v;
                let sampled = seconds(selected[selected.len() - 1].t - selected[0].t);
                let average = sampled / (selected.len() - 1) as f64;
                prop_assert!(increase >= raw - 1e-9);
                prop_assert!(increase <= raw * (sampled + 2.2 * average) / sampled + 1e-9);
            }
        }

        /// A counter reset changes nothing: the series restarting from zero after index `at`
        /// gives the same increase as the uninterrupted one.
        #[test]
        fn a_reset_is_invisible_to_increase(
            increments in proptest::collection::vec(1.0f64..100.0, 3..40),
            base in 0.0f64..1000.0,
            cut in 1usize..39,
            range_s in 60u64..900,
            at_s in 0u64..1200,
        ) {
            let smooth = counter(0, 15 * SECOND, base, &increments);
            let cut = cut.min(smooth.len() - 1);
            let before = smooth[cut - 1].v;
            // The restarted counter must read below the value before the restart.
            prop_assume!(smooth[cut].v - before < before);
            let reset: Vec<_> = smooth
                .iter()
                .enumerate()
                .map(|(i, s)| if i >= cut { Sample::new(s.t, s.v - before) } else { *s })
                .collect();
            let window = Window::new(at_s * SECOND, range_s * SECOND);
            let selected = window.select(&smooth);
            // Only meaningful when the reset lies inside the window.
            prop_assume!(selected.len() >= 2 && window.contains(smooth[cut - 1].t) && window.contains(smooth[cut].t));
            let a = extrapolated_rate(selected, window, RateKind::Increase).unwrap();
            let b = extrapolated_rate(window.select(&reset), window, RateKind::Increase).unwrap();
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{} != {}", a, b);
        }

        /// The window helper agrees with `contains` on every sample.
        #[test]
        fn select_picks_exactly_the_samples_in_the_window(
            times in proptest::collection::btree_set(0u64..10_000, 0..50),
            end in 0u64..11_000,
            range in 1u64..5_000,
        ) {
            let s: Vec<_> = times.iter().map(|&t| Sample::new(t, 0.0)).collect();
            let w = Window::new(end, range);
            let picked: Vec<_> = w.select(&s).iter().map(|s| s.t).collect();
            let expected: Vec<_> = times.iter().copied().filter(|&t| w.contains(t)).collect();
            prop_assert_eq!(picked, expected);
        }
    }
}
