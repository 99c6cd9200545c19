//! Parsers for the units scenario files use: durations (`1h30m`), ratios and percentages
//! (`99.9%`, `0.999`), Kubernetes quantities (`500m`, `256Mi`, `129e6`) and
//! `IntOrString` counts (`3`, `"25%"`).
//!
//! Every parser returns a short reason on failure ("unknown unit `x`"); the loader adds the
//! position and the help text.

use super::model::IntOrPercent;
use crate::engine::SimTime;

/// What every duration error's help line shows.
pub const DURATION_HELP: &str =
    "durations look like `30s`, `5m`, `1h30m`, `250ms`, `1.5s` or `2d` (units: ns, us, ms, s, m, h, d)";

const NANOS_PER_MICRO: u128 = 1_000;

/// Parses a Go/Kubernetes-style duration (`30s`, `5m`, `1h30m`, `250ms`, `1.5s`, `2d`, `0s`,
/// `0`) into simulated time, rounding to the nearest microsecond.
pub fn parse_duration(text: &str) -> Result<SimTime, String> {
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err("durations cannot be negative".into());
    }
    if rest == "0" {
        return Ok(0);
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut total_nanos: u128 = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let number: String = chars[start..i].iter().collect();
        let unit_start = i;
        while i < chars.len() && !(chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let unit: String = chars[unit_start..i].iter().collect();
        if number.is_empty() {
            return Err(format!("expected a number before `{unit}`"));
        }
        if unit.is_empty() {
            return Err(format!("the number `{number}` has no unit"));
        }
        let unit_nanos: u128 = match unit.as_str() {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            other => return Err(format!("unknown unit `{other}`")),
        };
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number.as_str(), ""),
        };
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(format!("`{number}` is not a number"));
        }
        if whole.len() > 20 || frac.len() > 20 {
            return Err(format!("`{number}` has too many digits"));
        }
        let whole_value: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "bad number")? };
        let frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| "bad number")? };
        let scale = 10u128.pow(frac.len() as u32);
        let nanos = whole_value
            .checked_mul(unit_nanos)
            .and_then(|w| w.checked_add(frac_value * unit_nanos / scale))
            .ok_or("too large")?;
        total_nanos = total_nanos.checked_add(nanos).ok_or("too large")?;
    }
    let micros = (total_nanos + NANOS_PER_MICRO / 2) / NANOS_PER_MICRO;
    u64::try_from(micros).map_err(|_| "too large".to_string())
}

/// What every Prometheus duration error's help line shows.
pub const PROMETHEUS_DURATION_HELP: &str = "Prometheus durations are whole numbers with units from largest to smallest, each at most once: `30s`, `1m`, `1h30m`, `500ms`, `2d`, `1w` (units: ms, s, m, h, d, w, y; no fractions)";

/// Parses a Prometheus duration (`model.ParseDuration`, the syntax of rule `for`, group
/// `interval` and ServiceMonitor `interval`): whole numbers with the units `y` (365d), `w`,
/// `d`, `h`, `m`, `s`, `ms`, in that order and each at most once; `0` alone is zero.
pub fn parse_prometheus_duration(text: &str) -> Result<SimTime, String> {
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut millis: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(match rest.chars().next() {
                Some(c) if c == '.' || c == '-' || c == '+' => {
                    format!("`{c}`: Prometheus durations are whole, non-negative numbers")
                }
                _ => format!("expected a number before `{rest}`"),
            });
        }
        let (number, after) = rest.split_at(digits);
        if after.starts_with('.') {
            return Err(format!("`{number}.`: Prometheus durations are whole numbers"));
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("the number `{number}` has no unit"));
        }
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!("unknown unit `{unit}`"));
        };
        if index < next_unit {
            return Err(format!("unit `{unit}` out of order or repeated (largest unit first, each once)"));
        }
        next_unit = index + 1;
        let value: u128 = number.parse().map_err(|_| "too large".to_string())?;
        millis = value
            .checked_mul(UNITS[index].1)
            .and_then(|v| v.checked_add(millis))
            .ok_or_else(|| "too large".to_string())?;
        rest = after;
    }
    u64::try_from(millis * 1_000).map_err(|_| "too large".to_string())
}

/// Formats simulated time as the shortest duration [`parse_duration`] reads back:
/// `0s`, `250ms`, `1.5s`, `5m`, `1h30m`, `30d`.
pub fn format_duration(t: SimTime) -> String {
    const S: u64 = 1_000_000;
    if t == 0 {
        return "0s".into();
    }
    if t < S {
        return if t.is_multiple_of(1_000) { format!("{}ms", t / 1_000) } else { format!("{t}us") };
    }
    let mut out = String::new();
    let days = t / (86_400 * S);
    let hours = t / (3_600 * S) % 24;
    let minutes = t / (60 * S) % 60;
    let secs = t / S % 60;
    let sub = t % S;
    if days > 0 {
        out += &format!("{days}d");
    }
    if hours > 0 {
        out += &format!("{hours}h");
    }
    if minutes > 0 {
        out += &format!("{minutes}m");
    }
    if secs > 0 || sub > 0 {
        if sub == 0 {
            out += &format!("{secs}s");
        } else {
            let frac = format!("{sub:06}");
            out += &format!("{secs}.{}s", frac.trim_end_matches('0'));
        }
    }
    out
}

/// Parses a plain decimal number (`500`, `0.25`, `1e3`), rejecting `inf`/`nan`.
pub fn parse_number(text: &str) -> Result<f64, String> {
    let ok_chars = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && text.chars().any(|c| c.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(v) if ok_chars && v.is_finite() => Ok(v),
        _ => Err(format!("`{text}` is not a number")),
    }
}

/// Parses a ratio in [0, 1], written either as a percentage (`99.9%`) or as a ratio
/// (`0.999`).
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    if let Some(number) = text.strip_suffix('%') {
        let number = number.trim_end();
        let p = parse_number(number)?;
        if p < 0.0 {
            return Err("a percentage cannot be negative".into());
        }
        if p > 100.0 {
            return Err(format!("{number}% is above 100%"));
        }
        // `99.9e-2` parses to the double nearest 0.999; `99.9 / 100.0` does not.
        let exact = if number.contains(['e', 'E']) {
            p / 100.0
        } else {
            format!("{number}e-2").parse().unwrap_or(p / 100.0)
        };
        return Ok(exact);
    }
    let r = parse_number(text)?;
    if r < 0.0 {
        return Err("a ratio cannot be negative".into());
    }
    if r > 1.0 {
        return Err(format!("{text} is above 1 (a ratio); a percentage needs a `%` sign: `{text}%`"));
    }
    Ok(r)
}

/// A Kubernetes quantity as an exact decimal: `mantissa × 10^exp10 × 1024^binary`.
struct Quantity {
    mantissa: u128,
    exp10: i32,
    binary: u32,
}

fn parse_quantity(text: &str) -> Result<Quantity, String> {
    let body = text.strip_prefix('+').unwrap_or(text);
    if body.starts_with('-') {
        return Err("quantities cannot be negative".into());
    }
    let number_len = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_len);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(format!("`{text}` is not a quantity"));
    }
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err("too many digits".into());
    }
    let mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| "bad number")? };
    let mut exp10 = -(frac.len() as i32);
    let mut binary = 0;
    match suffix {
        "" => {}
        "Ki" => binary = 1,
        "Mi" => binary = 2,
        "Gi" => binary = 3,
        "Ti" => binary = 4,
        "Pi" => binary = 5,
        "Ei" => binary = 6,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        s if s.starts_with(['e', 'E']) => {
            let exponent: i32 = s[1..]
                .parse()
                .ok()
                .filter(|e: &i32| e.abs() <= 60)
                .ok_or_else(|| format!("unknown suffix `{s}`"))?;
            exp10 += exponent;
        }
        s => return Err(format!("unknown suffix `{s}`")),
    }
    Ok(Quantity { mantissa, exp10, binary })
}

/// `ceil(q × factor)` as an integer, or an error if it does not fit in `u64`.
fn quantity_scaled(q: &Quantity, factor: u128) -> Result<u64, String> {
    let too_large = || "too large".to_string();
    let mut num = q.mantissa.checked_mul(factor).ok_or_else(too_large)?;
    num = num.checked_mul(1024u128.pow(q.binary)).ok_or_else(too_large)?;
    let value = if q.exp10 >= 0 {
        num.checked_mul(10u128.checked_pow(q.exp10 as u32).ok_or_else(too_large)?).ok_or_else(too_large)?
    } else {
        match 10u128.checked_pow((-q.exp10) as u32) {
            Some(div) => num.div_ceil(div),
            None => u128::from(num > 0),
        }
    };
    u64::try_from(value).map_err(|_| too_large())
}

/// CPU quantity (`500m`, `1`, `0.5`, `2`) in millicores, rounded up like Kubernetes'
/// `MilliValue`.
pub fn parse_cpu_millis(text: &str) -> Result<u64, String> {
    quantity_scaled(&parse_quantity(text)?, 1_000)
}

/// Memory quantity (`256Mi`, `1Gi`, `1G`, `128974848`, `129e6`) in bytes, rounded up.
pub fn parse_memory_bytes(text: &str) -> Result<u64, String> {
    quantity_scaled(&parse_quantity(text)?, 1)
}

/// Parses `maxSurge`/`maxUnavailable`: a plain whole number or a string `"N%"`.
/// `quoted` says whether the YAML value was a string (Kubernetes rejects `"3"`).
pub fn parse_int_or_percent(text: &str, quoted: bool) -> Result<IntOrPercent, String> {
    if let Some(number) = text.strip_suffix('%') {
        if number.starts_with('-') {
            return Err("a percentage cannot be negative".into());
        }
        return match number.parse::<i64>() {
            Ok(p) if number.chars().all(|c| c.is_ascii_digit()) => Ok(IntOrPercent::Percent(p)),
            _ => Err(format!("`{text}` is not a whole percentage")),
        };
    }
    if quoted {
        return Err(format!("the string \"{text}\" is neither a count nor a percentage"));
    }
    match text.parse::<i64>() {
        Ok(n) if n < 0 => Err("must not be negative".into()),
        Ok(n) => Ok(IntOrPercent::Int(n)),
        Err(_) => Err(format!("`{text}` is neither a whole number nor a percentage")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{HOUR, MILLISECOND, MINUTE, SECOND};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30 * SECOND));
        assert_eq!(parse_duration("5m"), Ok(5 * MINUTE));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MINUTE));
        assert_eq!(parse_duration("250ms"), Ok(250 * MILLISECOND));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000));
        assert_eq!(parse_duration("1.5h"), Ok(90 * MINUTE));
        assert_eq!(parse_duration(".5s"), Ok(500_000));
        assert_eq!(parse_duration("2d"), Ok(48 * HOUR));
        assert_eq!(parse_duration("30d"), Ok(720 * HOUR));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("+3s"), Ok(3 * SECOND));
        assert_eq!(parse_duration("1h2m3s4ms5us"), Ok(HOUR + 2 * MINUTE + 3 * SECOND + 4_005));
        assert_eq!(parse_duration("10µs"), Ok(10));
        assert_eq!(parse_duration("1500ns"), Ok(2)); // rounds to the nearest microsecond
        assert_eq!(parse_duration("1ns"), Ok(0));
    }

    #[test]
    fn bad_durations() {
        assert_eq!(parse_duration("30"), Err("the number `30` has no unit".into()));
        assert_eq!(parse_duration("1h30"), Err("the number `30` has no unit".into()));
        assert_eq!(parse_duration("-5s"), Err("durations cannot be negative".into()));
        assert_eq!(parse_duration("5 min"), Err("unknown unit ` min`".into()));
        assert_eq!(parse_duration("5y"), Err("unknown unit `y`".into()));
        assert_eq!(parse_duration("s"), Err("expected a number before `s`".into()));
        assert_eq!(parse_duration(""), Err("empty duration".into()));
        assert_eq!(parse_duration("1.2.3s"), Err("`1.2.3` is not a number".into()));
        assert_eq!(parse_duration("99999999999999999999d"), Err("too large".into()));
        assert!(parse_duration("5m ").is_err());
    }

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_prometheus_duration("30s"), Ok(30 * SECOND));
        assert_eq!(parse_prometheus_duration("1h30m"), Ok(90 * MINUTE));
        assert_eq!(parse_prometheus_duration("500ms"), Ok(500 * MILLISECOND));
        assert_eq!(parse_prometheus_duration("1m30s500ms"), Ok(90 * SECOND + 500 * MILLISECOND));
        assert_eq!(parse_prometheus_duration("2d"), Ok(48 * HOUR));
        assert_eq!(parse_prometheus_duration("1w"), Ok(7 * 24 * HOUR));
        assert_eq!(parse_prometheus_duration("1y"), Ok(365 * 24 * HOUR));
        assert_eq!(parse_prometheus_duration("0"), Ok(0));
        assert_eq!(parse_prometheus_duration("0s"), Ok(0));
        assert!(parse_prometheus_duration("1.5m").unwrap_err().contains("whole"));
        assert!(parse_prometheus_duration("30m1h").unwrap_err().contains("out of order"));
        assert!(parse_prometheus_duration("1m1m").unwrap_err().contains("repeated"));
        assert!(parse_prometheus_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_prometheus_duration("5us").unwrap_err().contains("unknown unit"));
        assert!(parse_prometheus_duration("").is_err());
        assert!(parse_prometheus_duration("-1m").is_err());
    }

    #[test]
    fn duration_formatting_round_trips() {
        for (t, s) in [
            (0, "0s"),
            (250 * MILLISECOND, "250ms"),
            (1_500_000, "1.5s"),
            (5 * MINUTE, "5m"),
            (90 * MINUTE, "1h30m"),
            (720 * HOUR, "30d"),
            (25 * HOUR + 1, "1d1h0.000001s"),
            (7, "7us"),
        ] {
            assert_eq!(format_duration(t), s);
            assert_eq!(parse_duration(s), Ok(t));
        }
    }

    #[test]
    fn ratios_and_percentages() {
        assert_eq!(parse_ratio("99.9%"), Ok(0.999));
        assert_eq!(parse_ratio("0.999"), Ok(0.999));
        assert_eq!(parse_ratio("100%"), Ok(1.0));
        assert_eq!(parse_ratio("0%"), Ok(0.0));
        assert_eq!(parse_ratio("5%"), Ok(0.05));
        assert_eq!(parse_ratio("1"), Ok(1.0));
        assert_eq!(parse_ratio("0"), Ok(0.0));
        assert!(parse_ratio("100.1%").unwrap_err().contains("above 100%"));
        assert!(parse_ratio("99.9").unwrap_err().contains("`99.9%`"));
        assert!(parse_ratio("-1%").is_err());
        assert!(parse_ratio("-0.1").is_err());
        assert!(parse_ratio("abc").is_err());
        assert!(parse_ratio("nan").is_err());
        assert!(parse_ratio("inf%").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("500"), Ok(500.0));
        assert_eq!(parse_number("1e3"), Ok(1000.0));
        assert_eq!(parse_number("-2.5"), Ok(-2.5));
        assert!(parse_number("infinity").is_err());
        assert!(parse_number("NaN").is_err());
        assert!(parse_number("").is_err());
        assert!(parse_number("1e999").is_err());
    }

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse_cpu_millis("500m"), Ok(500));
        assert_eq!(parse_cpu_millis("1"), Ok(1000));
        assert_eq!(parse_cpu_millis("0.5"), Ok(500));
        assert_eq!(parse_cpu_millis("8"), Ok(8000));
        assert_eq!(parse_cpu_millis("250m"), Ok(250));
        assert_eq!(parse_cpu_millis("0"), Ok(0));
        assert_eq!(parse_cpu_millis("100n"), Ok(1)); // rounds up like MilliValue
        assert_eq!(parse_cpu_millis("1.0001"), Ok(1001));
        assert_eq!(parse_cpu_millis("2k"), Ok(2_000_000));
        assert_eq!(parse_cpu_millis("1e-3"), Ok(1));
        assert!(parse_cpu_millis("-1").is_err());
        assert!(parse_cpu_millis("1 cpu").is_err());
        assert!(parse_cpu_millis("m").is_err());
        assert!(parse_cpu_millis("").is_err());
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_memory_bytes("256Mi"), Ok(256 << 20));
        assert_eq!(parse_memory_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(parse_memory_bytes("32Gi"), Ok(32 << 30));
        assert_eq!(parse_memory_bytes("1G"), Ok(1_000_000_000));
        assert_eq!(parse_memory_bytes("128974848"), Ok(128_974_848));
        assert_eq!(parse_memory_bytes("129e6"), Ok(129_000_000));
        assert_eq!(parse_memory_bytes("129E6"), Ok(129_000_000));
        assert_eq!(parse_memory_bytes("123Mi"), Ok(128_974_848));
        assert_eq!(parse_memory_bytes("1.5Gi"), Ok(1_610_612_736));
        assert_eq!(parse_memory_bytes("1E"), Ok(1_000_000_000_000_000_000));
        assert_eq!(parse_memory_bytes("0.5"), Ok(1)); // rounds up
        assert_eq!(parse_memory_bytes("1k"), Ok(1000));
        assert!(parse_memory_bytes("1K").is_err()); // Kubernetes spells kilo `k`
        assert!(parse_memory_bytes("16Ei").is_err()); // does not fit in u64
        assert!(parse_memory_bytes("1e999").is_err());
        assert!(parse_memory_bytes("1GB").is_err());
        assert!(parse_memory_bytes("-1Gi").is_err());
    }

    #[test]
    fn int_or_percent() {
        assert_eq!(parse_int_or_percent("25%", true), Ok(IntOrPercent::Percent(25)));
        assert_eq!(parse_int_or_percent("25%", false), Ok(IntOrPercent::Percent(25)));
        assert_eq!(parse_int_or_percent("3", false), Ok(IntOrPercent::Int(3)));
        assert_eq!(parse_int_or_percent("0", false), Ok(IntOrPercent::Int(0)));
        assert!(parse_int_or_percent("3", true).is_err());
        assert!(parse_int_or_percent("-1", false).is_err());
        assert!(parse_int_or_percent("-1%", false).is_err());
        assert!(parse_int_or_percent("2.5%", false).is_err());
        assert!(parse_int_or_percent("oops", false).is_err());
    }
}
