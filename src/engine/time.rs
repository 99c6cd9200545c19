//! Simulated time: an integer count of microseconds since the start of a replication.
//!
//! Integer time keeps event order independent of floating-point rounding and makes ties
//! explicit: two
//! events at the same microsecond are ordered by the queue's insertion sequence.

/// Microseconds since the replication started (t = 0).
pub type SimTime = u64;

pub const MICROSECOND: SimTime = 1;
pub const MILLISECOND: SimTime = 1_000;
pub const SECOND: SimTime = 1_000_000;
pub const MINUTE: SimTime = 60 * SECOND;
pub const HOUR: SimTime = 60 * MINUTE;

/// Converts seconds to simulated time, rounding to the nearest microsecond.
/// Negative and NaN inputs become 0; values beyond the range saturate.
pub fn from_secs_f64(seconds: f64) -> SimTime {
    if seconds.is_nan() || seconds <= 0.0 {
        return 0;
    }
    let micros = (seconds * SECOND as f64).round();
    if micros >= u64::MAX as f64 { u64::MAX } else { micros as u64 }
}

/// Converts simulated time to seconds.
pub fn to_secs_f64(t: SimTime) -> f64 {
    t as f64 / SECOND as f64
}

/// Formats a time as `mm:ss` (or `h:mm:ss` past an hour), for traces and tables.
pub fn format_clock(t: SimTime) -> String {
    let total = t / SECOND;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m:02}:{s:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_and_clamp() {
        assert_eq!(from_secs_f64(1.5), 1_500_000);
        assert_eq!(from_secs_f64(-3.0), 0);
        assert_eq!(from_secs_f64(f64::NAN), 0);
        assert_eq!(from_secs_f64(0.0000004), 0);
        assert_eq!(from_secs_f64(0.0000006), 1);
        assert_eq!(to_secs_f64(2 * MINUTE), 120.0);
    }

    #[test]
    fn clock_format() {
        assert_eq!(format_clock(5 * MINUTE), "05:00");
        assert_eq!(format_clock(HOUR + 61 * SECOND), "1:01:01");
    }
}
