//! Pure helpers of the evaluator: the functions over a range of samples (`*_over_time`,
//! `changes`, `resets`, `deriv`, `predict_linear`), the quantile and deviation arithmetic
//! shared with the aggregations, and the calendar functions. Each follows the function of the
//! same name in prometheus/prometheus `promql/functions.go` (rules and numbers only).

use super::kahan_inc;
use crate::engine::SECOND;
use crate::telemetry::rate::Sample;

/// Prometheus's `quantile` over a list of values: NaN for an empty list or a NaN `q`, −Inf
/// below 0, +Inf above 1, else the linear interpolation at rank `q · (n − 1)` of the sorted
/// values (NaN sorts first, as Go's sort of float64s does).
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).expect("no NaN here"),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Welford's running variance with Kahan-compensated mean and sum of squares, as
/// `stdvar_over_time`: the population variance.
pub fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Prometheus's `linearRegression`: the least-squares slope (per second) and the intercept at
/// `intercept_t`, Kahan-summed; a constant series has slope 0 (NaN for an infinite constant).
pub fn linear_regression(samples: &[Sample], intercept_t: i128) -> (f64, f64) {
    let init = samples[0].v;
    let constant = samples.iter().all(|s| s.v == init);
    if constant {
        return if init.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, init) };
    }
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for s in samples {
        n += 1.0;
        // Prometheus works in milliseconds and divides by 1e3.
        let x = ((s.t as i128 - intercept_t) / 1000) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `sum_over_time`: Kahan-summed; an infinite sum is returned without its compensation.
pub fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in values {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// `avg_over_time`: a Kahan-summed mean that switches to an incremental mean if the sum
/// overflows.
pub fn avg(samples: &[Sample]) -> f64 {
    let (mut sum, mut count) = (samples[0].v, 1.0);
    let (mut mean, mut c, mut incremental) = (0.0, 0.0, false);
    for s in &samples[1..] {
        count += 1.0;
        if !incremental {
            let (new_sum, new_c) = kahan_inc(s.v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(s.v / count, q * mean, q * c);
    }
    if incremental { mean + c } else { sum / count + c / count }
}

/// `min_over_time` (`max` false) or `max_over_time`: a NaN is replaced by any later value.
pub fn extreme(samples: &[Sample], max: bool) -> f64 {
    let mut best = samples[0].v;
    for s in samples {
        let better = if max { s.v > best } else { s.v < best };
        if better || best.is_nan() {
            best = s.v;
        }
    }
    best
}

/// `changes`: how often the value changed (NaN to NaN is no change).
pub fn changes(samples: &[Sample]) -> f64 {
    samples.windows(2).filter(|w| !(w[0].v == w[1].v || (w[0].v.is_nan() && w[1].v.is_nan()))).count() as f64
}

/// `resets`: how often the value fell.
pub fn resets(samples: &[Sample]) -> f64 {
    samples.windows(2).filter(|w| w[1].v < w[0].v).count() as f64
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The calendar functions, of a Unix time in seconds (UTC), as Go's `time` package gives
/// them; `None` for a value that is no time (NaN or infinite).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

pub fn date_part(part: DatePart, seconds: f64) -> Option<f64> {
    if !seconds.is_finite() {
        return None;
    }
    let t = seconds.floor() as i64;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let v = match part {
        DatePart::DayOfMonth => f64::from(d),
        DatePart::DayOfWeek => (days + 4).rem_euclid(7) as f64,
        DatePart::DayOfYear => f64::from(CUMULATIVE[m as usize - 1] + d + u32::from(m > 2 && leap(y))),
        DatePart::DaysInMonth => f64::from(match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }),
        DatePart::Hour => (secs / 3600) as f64,
        DatePart::Minute => (secs % 3600 / 60) as f64,
        DatePart::Month => f64::from(m),
        DatePart::Year => y as f64,
    };
    Some(v)
}

/// A simulated instant in Prometheus's seconds (`time()`, `timestamp`).
pub fn seconds(t: i128) -> f64 {
    // Prometheus keeps milliseconds.
    (t / 1000) as f64 / (SECOND as f64 / 1000.0)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, as `count_values` labels values.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_parts_match_go_time() {
        // 2024-02-29T13:45:10Z = 1709214310 (a Thursday, the 60th day of a leap year).
        let t = 1_709_214_310.0;
        let part = |p| date_part(p, t).unwrap();
        assert_eq!(part(DatePart::Year), 2024.0);
        assert_eq!(part(DatePart::Month), 2.0);
        assert_eq!(part(DatePart::DayOfMonth), 29.0);
        assert_eq!(part(DatePart::DayOfWeek), 4.0);
        assert_eq!(part(DatePart::DayOfYear), 60.0);
        assert_eq!(part(DatePart::DaysInMonth), 29.0);
        assert_eq!(part(DatePart::Hour), 13.0);
        assert_eq!(part(DatePart::Minute), 45.0);
        // The epoch was a Thursday; the day before, a Wednesday of 1969.
        assert_eq!(date_part(DatePart::DayOfWeek, 0.0), Some(4.0));
        assert_eq!(date_part(DatePart::Year, -1.0), Some(1969.0));
        assert_eq!(date_part(DatePart::DayOfYear, -1.0), Some(365.0));
        assert_eq!(date_part(DatePart::Hour, f64::NAN), None);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, vec![3.0, 1.0]), 1.0);
        assert_eq!(quantile(1.0, vec![3.0, 1.0]), 3.0);
        assert_eq!(quantile(0.9, vec![0.0, 10.0]), 9.0);
        assert_eq!(quantile(-1.0, vec![1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, vec![1.0]), f64::INFINITY);
        assert!(quantile(0.5, vec![]).is_nan());
    }

    #[test]
    fn regression_of_a_line_is_exact() {
        let s: Vec<Sample> = (0..10).map(|i| Sample::new(i * 10 * SECOND, 5.0 + 2.0 * i as f64)).collect();
        let (slope, intercept) = linear_regression(&s, 0);
        assert!((slope - 0.2).abs() < 1e-12 && (intercept - 5.0).abs() < 1e-12, "{slope} {intercept}");
        assert_eq!(linear_regression(&[Sample::new(0, 3.0), Sample::new(SECOND, 3.0)], 0), (0.0, 3.0));
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
    }
}
