//! One replication's simulated Prometheus as OpenMetrics text, for
//! `promtool tsdb create-blocks-from openmetrics FILE DIR` (and so for a real Prometheus and
//! Grafana over a simulated release).
//!
//! Pure: a [`Store`] and an epoch in, text out. Every series the store holds is written with
//! its labels as they are and every sample with its timestamp: the epoch plus the integer
//! simulated time, in seconds with millisecond precision (the simulator's microseconds are
//! truncated to the millisecond, a TSDB's resolution; scrapes fall on whole seconds).
//!
//! Families: a name ending `_bucket` (with an `le` label), `_sum` or `_count` whose stem has
//! `_bucket` series is a `histogram` named by the stem; a name ending `_total` is a
//! `counter` named without the suffix (unless another family has that name); everything else
//! (`up`, `ALERTS`, recorded series) is `unknown`. The type changes nothing a query sees in
//! Prometheus 2.42; it is there for tools that read it. Families come in name order, series in
//! label order, each series' samples together and in time order (a backfill needs nothing
//! more), and the text ends with `# EOF`.

use crate::engine::{MILLISECOND, SimTime};
use crate::telemetry::promql::{BUCKET_LABEL, Labels, METRIC_NAME, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// The default epoch: simulated time 0 is 2026-01-01T00:00:00Z, in Unix milliseconds.
pub const DEFAULT_EPOCH_MS: i64 = 1_767_225_600_000;

/// The OpenMetrics type of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
    Unknown,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
            Kind::Unknown => "unknown",
        }
    }
}

/// What an export holds: for a summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub families: usize,
    pub series: usize,
    pub samples: usize,
    /// The first and last sample's simulated time, if there is any sample.
    pub span: Option<(SimTime, SimTime)>,
}

/// Each metric name's family and type.
pub fn families(names: &BTreeSet<&str>) -> BTreeMap<String, (String, Kind)> {
    let mut out = BTreeMap::new();
    let histogram_stem = |name: &str| -> Option<String> {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(stem) = name.strip_suffix(suffix)
                && !stem.is_empty()
                && names.contains(format!("{stem}_bucket").as_str())
            {
                return Some(stem.to_string());
            }
        }
        None
    };
    for &name in names {
        let family = if let Some(stem) = histogram_stem(name) {
            (stem, Kind::Histogram)
        } else if let Some(stem) = name.strip_suffix("_total")
            && !stem.is_empty()
            && !names.contains(stem)
            && histogram_stem(&format!("{stem}_bucket")).is_none()
        {
            (stem.to_string(), Kind::Counter)
        } else {
            (name.to_string(), Kind::Unknown)
        };
        out.insert(name.to_string(), family);
    }
    out
}

/// A family's series: their labels and index in the store.
type Members<'a> = Vec<(&'a Labels, usize)>;

/// Writes the store as OpenMetrics text, simulated time 0 at `epoch_ms` (Unix milliseconds).
pub fn write(store: &Store, epoch_ms: i64, out: &mut dyn Write) -> io::Result<Summary> {
    let names: BTreeSet<&str> =
        store.series().iter().map(|s| s.labels.get(METRIC_NAME).map_or("", String::as_str)).collect();
    let kinds = families(&names);
    // family -> (kind, [(labels, series index)]) in label order.
    let mut by_family: BTreeMap<&str, (Kind, Members)> = BTreeMap::new();
    for (i, s) in store.series().iter().enumerate() {
        if s.samples.is_empty() {
            continue;
        }
        let name = s.labels.get(METRIC_NAME).map_or("", String::as_str);
        let (family, kind) = &kinds[name];
        by_family.entry(family.as_str()).or_insert_with(|| (*kind, Vec::new())).1.push((&s.labels, i));
    }
    let mut summary = Summary::default();
    let mut line = String::new();
    for (family, (kind, mut series)) in by_family {
        series.sort_by(|a, b| {
            // Histograms: a label set's buckets (by le), then _count, then _sum.
            key(a.0).cmp(&key(b.0)).then_with(|| a.0.cmp(b.0))
        });
        writeln!(out, "# TYPE {family} {}", kind.as_str())?;
        summary.families += 1;
        for (labels, i) in series {
            summary.series += 1;
            let name = labels.get(METRIC_NAME).map_or("", String::as_str);
            let mut head = String::from(name);
            let rest: Vec<(&String, &String)> = labels.iter().filter(|(k, _)| *k != METRIC_NAME).collect();
            if !rest.is_empty() {
                head.push('{');
                for (n, (k, v)) in rest.iter().enumerate() {
                    if n > 0 {
                        head.push(',');
                    }
                    let _ = write!(head, "{k}=\"{}\"", escape(v));
                }
                head.push('}');
            }
            for sample in &store.series()[i].samples {
                line.clear();
                let _ = write!(line, "{head} {} {}", value(sample.v), timestamp(epoch_ms, sample.t));
                writeln!(out, "{line}")?;
                summary.samples += 1;
                summary.span = Some(match summary.span {
                    None => (sample.t, sample.t),
                    Some((a, b)) => (a.min(sample.t), b.max(sample.t)),
                });
            }
        }
    }
    writeln!(out, "# EOF")?;
    Ok(summary)
}

/// Orders a family's series: by their labels other than the name and `le`, then by the name
/// and `le` as a number.
fn key(labels: &Labels) -> (Vec<(&str, &str)>, &str, u64) {
    let rest = labels
        .iter()
        .filter(|(k, _)| *k != METRIC_NAME && *k != BUCKET_LABEL)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name = labels.get(METRIC_NAME).map_or("", String::as_str);
    let le = labels.get(BUCKET_LABEL).and_then(|v| v.parse::<f64>().ok()).map_or(0, order_key);
    (rest, name, le)
}

/// A total order on floats that sorts as the numbers do.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// A label value with `\`, `"` and newlines escaped.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A sample value: `NaN`, `+Inf`, `-Inf`, or the shortest decimal that reads back exactly.
pub fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:?}")
    }
}

/// Unix seconds with three decimals: `epoch_ms` plus `t` truncated to the millisecond.
pub fn timestamp(epoch_ms: i64, t: SimTime) -> String {
    let ms = epoch_ms + i64::try_from(t / MILLISECOND).unwrap_or(i64::MAX - epoch_ms);
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// Parses `--start`: `YYYY-MM-DDTHH:MM:SSZ` (UTC) or Unix seconds, to Unix milliseconds.
pub fn parse_epoch(text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return secs.checked_mul(1000).ok_or_else(|| format!("`{text}` is out of range"));
    }
    let bad = || format!("`{text}` is not a time; give `YYYY-MM-DDTHH:MM:SSZ` (UTC) or Unix seconds");
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
        || !(b[19] == b'Z' || b[19] == b'z')
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let s = &text[r];
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<i64>().map_err(|_| bad()) } else { Err(bad()) }
    };
    let (y, mo, d, h, mi, s) =
        (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in[(mo - 1) as usize] || h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    Ok((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;
    use crate::telemetry::promql::labels;

    fn text(store: &Store, epoch: i64) -> String {
        let mut out = Vec::new();
        write(store, epoch, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn epoch_parses_utc_and_unix_seconds() {
        assert_eq!(parse_epoch("2026-01-01T00:00:00Z"), Ok(DEFAULT_EPOCH_MS));
        assert_eq!(parse_epoch("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_epoch("2000-02-29T12:30:15Z"), Ok(951_827_415_000));
        assert_eq!(parse_epoch("1767225600"), Ok(DEFAULT_EPOCH_MS));
        for bad in ["2026-02-29T00:00:00Z", "2026-01-01 00:00:00", "2026-13-01T00:00:00Z", "soon"] {
            assert!(parse_epoch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        assert_eq!(timestamp(DEFAULT_EPOCH_MS, 0), "1767225600.000");
        assert_eq!(timestamp(DEFAULT_EPOCH_MS, 15 * SECOND + 7 * MILLISECOND + 999), "1767225615.007");
        assert_eq!(timestamp(0, 1500 * MILLISECOND), "1.500");
    }

    #[test]
    fn values_read_back_exactly() {
        for v in [0.1, 1.0 / 3.0, 1e-300, 12345678.9, -0.0, 1e21] {
            assert_eq!(value(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v}");
        }
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn families_counters_histograms_and_the_rest() {
        let mut store = Store::new();
        for (le, v) in [("+Inf", 4.0), ("0.5", 3.0), ("0.1", 1.0)] {
            store.append(&labels(&[("__name__", "lat_bucket"), ("le", le), ("pod", "a")]), SECOND, v);
        }
        store.append(&labels(&[("__name__", "lat_count"), ("pod", "a")]), SECOND, 4.0);
        store.append(&labels(&[("__name__", "lat_sum"), ("pod", "a")]), SECOND, 1.25);
        store.append(&labels(&[("__name__", "req_total"), ("code", "200")]), 0, 1.0);
        store.append(&labels(&[("__name__", "req_total"), ("code", "200")]), 2 * SECOND, 3.0);
        store.append(&labels(&[("__name__", "req_total"), ("code", "a\"b\\c\nd")]), 0, 7.0);
        store.append(&labels(&[("__name__", "up"), ("pod", "a")]), 0, 1.0);
        // A series without samples is not written.
        store.series_id(labels(&[("__name__", "never")]));
        let got = text(&store, 0);
        let want = "# TYPE lat histogram\n\
            lat_bucket{le=\"0.1\",pod=\"a\"} 1.0 1.000\n\
            lat_bucket{le=\"0.5\",pod=\"a\"} 3.0 1.000\n\
            lat_bucket{le=\"+Inf\",pod=\"a\"} 4.0 1.000\n\
            lat_count{pod=\"a\"} 4.0 1.000\n\
            lat_sum{pod=\"a\"} 1.25 1.000\n\
            # TYPE req counter\n\
            req_total{code=\"200\"} 1.0 0.000\n\
            req_total{code=\"200\"} 3.0 2.000\n\
            req_total{code=\"a\\\"b\\\\c\\nd\"} 7.0 0.000\n\
            # TYPE up unknown\n\
            up{pod=\"a\"} 1.0 0.000\n\
            # EOF\n";
        assert_eq!(got, want);
        let mut sink = Vec::new();
        let summary = write(&store, 0, &mut sink).unwrap();
        assert_eq!(summary, Summary { families: 3, series: 8, samples: 9, span: Some((0, 2 * SECOND)) });
    }

    #[test]
    fn a_total_whose_stem_is_taken_stays_unknown() {
        let names: BTreeSet<&str> = ["x", "x_total", "y_count"].into_iter().collect();
        let f = families(&names);
        assert_eq!(f["x_total"], ("x_total".to_string(), Kind::Unknown));
        assert_eq!(f["x"], ("x".to_string(), Kind::Unknown));
        // A _count without buckets is no histogram.
        assert_eq!(f["y_count"], ("y_count".to_string(), Kind::Unknown));
    }
}
