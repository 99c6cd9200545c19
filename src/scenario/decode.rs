//! Typed reading of [`Node`]s with diagnostics: mappings with known keys, counts, numbers,
//! durations, ratios, distributions. Every reader reports what it found and what it expected,
//! and returns `None` so loading can go on and find the next problem.

use super::diagnostic::{Pos, Report, did_you_mean, list_all, list_quoted};
use super::model::DurationDist;
use super::tree::{Node, Value};
use super::units;
use crate::engine::SimTime;
use std::collections::BTreeMap;

/// A mapping being read: tracks which keys were asked for, so the rest can be reported as
/// unknown (with a did-you-mean) in strict mappings.
pub(crate) struct Fields<'n> {
    entries: &'n [(Node, Node)],
    /// Where to point when a required key is missing: the key that introduced this mapping.
    at: Pos,
    /// Dotted path of this mapping (`spec.traffic`), for messages.
    pub path: String,
    asked: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// Reads `node` as a mapping. A null node reads as an empty mapping.
    pub fn new(report: &mut Report, node: &'n Node, at: Pos, path: impl Into<String>) -> Option<Self> {
        let path = path.into();
        let entries: &'n [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                report
                    .error(node.pos, format!("`{path}` must be a mapping, found {}", node.describe()))
                    .label("expected a mapping of `key: value` pairs");
                return None;
            }
        };
        Some(Fields { entries, at, path, asked: Vec::new() })
    }

    /// Every entry, in file order (for mappings whose keys are open-ended).
    pub fn entries(&self) -> &'n [(Node, Node)] {
        self.entries
    }

    /// Where a missing key is reported: the key that introduced this mapping.
    pub fn at(&self) -> Pos {
        self.at
    }

    /// The dotted path of `key` in this mapping.
    pub fn sub(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    /// "`spec.traffic`", or "the document" at the root.
    fn describe(&self) -> String {
        if self.path.is_empty() { "the document".to_string() } else { format!("`{}`", self.path) }
    }

    fn entry(&mut self, key: &'static str) -> Option<&'n (Node, Node)> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        self.entries.iter().find(|(k, _)| k.key_text() == key)
    }

    /// The value of `key`, or `None` if it is absent or null.
    pub fn opt(&mut self, key: &'static str) -> Option<&'n Node> {
        self.entry(key).map(|(_, v)| v).filter(|v| !v.is_null())
    }

    /// Position of `key` itself, if present.
    pub fn key_pos(&mut self, key: &'static str) -> Option<Pos> {
        self.entry(key).map(|(k, _)| k.pos)
    }

    /// The value of a required `key`; reports it if absent or null.
    pub fn req(&mut self, report: &mut Report, key: &'static str, example: &str) -> Option<&'n Node> {
        match self.entry(key) {
            Some((_, v)) if !v.is_null() => Some(v),
            Some((k, v)) => {
                // A value removed by `--set KEY=` is reported at the override.
                let pos = if v.pos.src != 0 { v.pos } else { k.pos };
                report
                    .error(pos, format!("`{}` has no value", self.sub(key)))
                    .label("a value is required here")
                    .help(format!("for example `{key}: {example}`"));
                None
            }
            None => {
                report
                    .error(self.at, format!("missing required key `{key}` in {}", self.describe()))
                    .label(format!("`{key}` is missing in this mapping"))
                    .help(format!("add `{key}: {example}`"));
                None
            }
        }
    }

    /// An optional nested mapping (absent or null: `None`).
    pub fn child(&mut self, report: &mut Report, key: &'static str) -> Option<Fields<'n>> {
        let (k, v) = self.entry(key)?;
        if v.is_null() {
            return None;
        }
        Fields::new(report, v, k.pos, self.sub(key))
    }

    /// A required nested mapping.
    pub fn req_child(&mut self, report: &mut Report, key: &'static str, example: &str) -> Option<Fields<'n>> {
        let v = self.req(report, key, example)?;
        let at = self.key_pos(key).unwrap_or(v.pos);
        Fields::new(report, v, at, self.sub(key))
    }

    /// Reports every key that was never asked for (strict mappings, e.g. the Simulation).
    pub fn deny_unknown(self, report: &mut Report) {
        for (key, _) in self.entries {
            let name = key.key_text();
            if self.asked.contains(&name) {
                continue;
            }
            let valid = list_all(&self.asked);
            let help = match did_you_mean(name, &self.asked) {
                Some(guess) => format!("did you mean `{guess}`? valid keys here: {valid}"),
                None => format!("valid keys here: {valid}"),
            };
            report
                .error(key.pos, format!("unknown key `{name}` in {}", self.describe()))
                .label("unknown key")
                .help(help);
        }
    }
}

/// The text of a scalar, or a report that it should have been one.
pub(crate) fn scalar_text<'n>(
    report: &mut Report,
    node: &'n Node,
    what: &str,
    expected: &str,
) -> Option<&'n str> {
    match node.as_scalar() {
        Some(s) => Some(&s.text),
        None => {
            report
                .error(node.pos, format!("`{what}` must be {expected}, found {}", node.describe()))
                .label(format!("expected {expected}"));
            None
        }
    }
}

pub(crate) fn read_string(report: &mut Report, node: &Node, what: &str) -> Option<String> {
    scalar_text(report, node, what, "a string").map(str::to_string)
}

/// A whole number ≥ 0 that fits `max`.
pub(crate) fn read_count(report: &mut Report, node: &Node, what: &str, max: u64) -> Option<u64> {
    let text = scalar_text(report, node, what, "a whole number")?;
    match text.parse::<i128>() {
        Ok(n) if n < 0 => {
            report
                .error(node.pos, format!("`{what}` must not be negative, found {n}"))
                .label("expected a whole number ≥ 0");
            None
        }
        Ok(n) if n > i128::from(max) => {
            report
                .error(node.pos, format!("`{what}` is too large, found {n}"))
                .label(format!("expected at most {max}"));
            None
        }
        Ok(n) => Some(n as u64),
        Err(_) => {
            let hint = match units::parse_number(text) {
                Ok(_) => "expected a whole number ≥ 0, without a fraction",
                Err(_) => "expected a whole number ≥ 0",
            };
            report
                .error(node.pos, format!("`{what}` must be a whole number, found {}", node.describe()))
                .label(hint);
            None
        }
    }
}

/// The largest request rate rollsim simulates (a billion requests a second, beyond the
/// busiest services there are): every rate in a scenario (`rps`, pattern rates, `aboveRps`,
/// `capacityRps`) is at most this, so request counts and Poisson means stay exact.
pub(crate) const MAX_RPS: f64 = 1e9;

/// The longest duration a scenario may give (100 years, 36500d): sums of a few simulated
/// times then stay far below the 584 000 years a `u64` of microseconds holds.
pub(crate) const MAX_DURATION: SimTime = 36_500 * 86_400 * 1_000_000;

/// The most replicas one workload may ask for: Kubernetes' documented scale limit of 150 000
/// pods per cluster. rollsim keeps every pod in memory, so a count near `i32::MAX` (valid to
/// the API server) is refused here instead of exhausting memory.
pub(crate) const MAX_REPLICAS: u64 = 150_000;

/// A replica count in 0..=[`MAX_REPLICAS`].
pub(crate) fn read_replicas(report: &mut Report, node: &Node, what: &str) -> Option<u64> {
    let n = read_count(report, node, what, i32::MAX as u64)?;
    if n > MAX_REPLICAS {
        report
            .error(node.pos, format!("`{what}` is too large for the simulator, found {n}"))
            .label(format!("expected at most {MAX_REPLICAS}"))
            .help("Kubernetes supports at most 150000 pods per cluster; rollsim simulates each pod");
        return None;
    }
    Some(n)
}

/// A finite number in `min..=max` (and > `min` when `strict`). Every number a scenario gives
/// is read here, so each has its range checked in one place.
pub(crate) fn read_number(
    report: &mut Report,
    node: &Node,
    what: &str,
    min: f64,
    strict: bool,
    max: f64,
) -> Option<f64> {
    let text = scalar_text(report, node, what, "a number")?;
    let relation = if strict { ">" } else { "≥" };
    let expected = if max < f64::MAX {
        format!("expected a number {relation} {min} and ≤ {max}")
    } else {
        format!("expected a number {relation} {min}")
    };
    match units::parse_number(text) {
        Ok(v) if v < min || (strict && v == min) => {
            report
                .error(node.pos, format!("`{what}` must be {relation} {min}, found {text}"))
                .label(expected);
            None
        }
        Ok(v) if v > max => {
            report
                .error(node.pos, format!("`{what}` is too large: {text} is above the limit {max}"))
                .label(expected);
            None
        }
        Ok(v) => Some(v),
        Err(_) => {
            report
                .error(node.pos, format!("`{what}` must be a number, found {}", node.describe()))
                .label(expected);
            None
        }
    }
}

/// A request rate: a number in 0..=[`MAX_RPS`] (`min` ≥ 0 for rates that must be higher).
pub(crate) fn read_rate(report: &mut Report, node: &Node, what: &str, min: f64) -> Option<f64> {
    read_number(report, node, what, min, false, MAX_RPS)
}

pub(crate) fn read_bool(report: &mut Report, node: &Node, what: &str) -> Option<bool> {
    let text = scalar_text(report, node, what, "`true` or `false`")?;
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        other => {
            report
                .error(node.pos, format!("`{what}` must be `true` or `false`, found `{other}`"))
                .label("expected `true` or `false`");
            None
        }
    }
}

pub(crate) fn read_duration(report: &mut Report, node: &Node, what: &str) -> Option<SimTime> {
    let text = scalar_text(report, node, what, "a duration such as `30s`")?;
    match units::parse_duration(text) {
        Ok(t) if t > MAX_DURATION => {
            report
                .error(node.pos, format!("`{what}` is too long: `{text}`"))
                .label("expected a duration of at most 36500d (100 years)")
                .help("rollsim simulates at most 100 years; shorten the duration");
            None
        }
        Ok(t) => Some(t),
        Err(reason) => {
            let help = if units::parse_number(text).is_ok() {
                format!(
                    "add a unit: `{text}s` for seconds, `{text}ms` for milliseconds; {}",
                    units::DURATION_HELP
                )
            } else {
                units::DURATION_HELP.to_string()
            };
            report
                .error(node.pos, format!("`{what}` is not a valid duration: `{text}`"))
                .label(reason)
                .help(help);
            None
        }
    }
}

/// A duration that must be > 0.
pub(crate) fn read_positive_duration(report: &mut Report, node: &Node, what: &str) -> Option<SimTime> {
    let t = read_duration(report, node, what)?;
    if t == 0 {
        report
            .error(node.pos, format!("`{what}` must be longer than 0s"))
            .label("expected a duration > 0")
            .help(units::DURATION_HELP);
        return None;
    }
    Some(t)
}

/// A probability written as a ratio (`0.05`) or a percentage (`5%`).
pub(crate) fn read_ratio(report: &mut Report, node: &Node, what: &str) -> Option<f64> {
    let text = scalar_text(report, node, what, "a ratio or a percentage")?;
    match units::parse_ratio(text) {
        Ok(r) => Some(r),
        Err(reason) => {
            report
                .error(
                    node.pos,
                    format!(
                        "`{what}` must be a ratio between 0 and 1 or a percentage up to 100%, found `{text}`"
                    ),
                )
                .label(reason)
                .help("write a ratio such as `0.05` or a percentage such as `5%`");
            None
        }
    }
}

/// One of `options`; reports a did-you-mean otherwise.
pub(crate) fn read_choice<'o>(
    report: &mut Report,
    node: &Node,
    what: &str,
    options: &[&'o str],
) -> Option<&'o str> {
    let choices = list_quoted(options);
    let text = scalar_text(report, node, what, &format!("one of {choices}"))?;
    if let Some(found) = options.iter().find(|o| **o == text) {
        return Some(found);
    }
    let help = match did_you_mean(text, options) {
        Some(guess) => format!("did you mean `{guess}`?"),
        None => format!("use one of {choices}"),
    };
    let message = if what.contains(' ') {
        format!("unknown {what} `{text}`")
    } else {
        format!("`{what}` must be one of {choices}, found `{text}`")
    };
    report.error(node.pos, message).label(format!("expected {choices}")).help(help);
    None
}

/// A `string: string` mapping (labels, selectors).
pub(crate) fn read_string_map(
    report: &mut Report,
    node: &Node,
    what: &str,
) -> Option<BTreeMap<String, String>> {
    let Some(entries) = node.as_map() else {
        if node.is_null() {
            return Some(BTreeMap::new());
        }
        report
            .error(node.pos, format!("`{what}` must be a mapping of strings, found {}", node.describe()))
            .label("expected `key: value` pairs");
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, v) in entries {
        let name = format!("{what}.{}", k.key_text());
        match v.as_scalar() {
            Some(s) => {
                out.insert(k.key_text().to_string(), s.text.clone());
            }
            None => {
                ok &= read_string(report, v, &name).is_some();
            }
        }
    }
    ok.then_some(out)
}

pub(crate) const DIST_HELP: &str = "a distribution is a duration (`10s`, fixed), `{kind: fixed, value: 10s}` or `{kind: lognormal, median: 20s, p99: 60s}`";

/// A random duration: a duration string (fixed), `{kind: fixed, value}` or
/// `{kind: lognormal, median, p99}`.
pub(crate) fn read_dist(report: &mut Report, node: &Node, at: Pos, path: &str) -> Option<DurationDist> {
    if node.as_scalar().is_some() {
        return read_duration(report, node, path).map(DurationDist::Fixed);
    }
    if !matches!(node.value, Value::Map(_)) {
        report
            .error(node.pos, format!("`{path}` must be a distribution, found {}", node.describe()))
            .label("expected a duration or a mapping with `kind`")
            .help(DIST_HELP);
        return None;
    }
    let mut f = Fields::new(report, node, at, path)?;
    let kind = f.req(report, "kind", "lognormal")?;
    let kind = read_choice(report, kind, &format!("{path}.kind"), &["fixed", "lognormal"]);
    let dist = match kind {
        Some("fixed") => {
            let value = f.req(report, "value", "10s");
            value.and_then(|v| read_duration(report, v, &format!("{path}.value"))).map(DurationDist::Fixed)
        }
        Some(_) => {
            let median = f.req(report, "median", "20s");
            let median = median.and_then(|v| read_positive_duration(report, v, &format!("{path}.median")));
            let p99_node = f.req(report, "p99", "60s");
            let p99 = p99_node.and_then(|v| read_duration(report, v, &format!("{path}.p99")));
            match (median, p99, p99_node) {
                (Some(median), Some(p99), Some(p99_node)) if p99 < median => {
                    report
                        .error(p99_node.pos, format!("`{path}.p99` must be at least the median"))
                        .label(format!(
                            "{} is shorter than the median {}",
                            units::format_duration(p99),
                            units::format_duration(median)
                        ))
                        .help("the 99th percentile of a distribution cannot be below its median");
                    None
                }
                (Some(median), Some(p99), _) => Some(DurationDist::LogNormal { median, p99 }),
                _ => None,
            }
        }
        None => {
            // Still check the other keys for typos, but accept all the distribution keys.
            for key in ["value", "median", "p99"] {
                f.opt(key);
            }
            None
        }
    };
    f.deny_unknown(report);
    dist
}

/// A CPU quantity in millicores (`250m`, `0.5`, `"8"`).
pub(crate) fn read_cpu(report: &mut Report, node: &Node, what: &str) -> Option<u64> {
    let text = scalar_text(report, node, what, "a CPU quantity such as `250m`")?;
    match units::parse_cpu_millis(text) {
        Ok(v) => Some(v),
        Err(reason) => {
            report
                .error(node.pos, format!("`{what}` is not a valid CPU quantity: `{text}`"))
                .label(reason)
                .help("CPU quantities look like `250m` (millicores), `0.5`, `1` or `\"8\"`");
            None
        }
    }
}

/// A memory quantity in bytes (`256Mi`, `1Gi`, `1G`, `128974848`, `129e6`).
pub(crate) fn read_memory(report: &mut Report, node: &Node, what: &str) -> Option<u64> {
    let text = scalar_text(report, node, what, "a memory quantity such as `256Mi`")?;
    match units::parse_memory_bytes(text) {
        Ok(v) => Some(v),
        Err(reason) => {
            report
                .error(node.pos, format!("`{what}` is not a valid memory quantity: `{text}`"))
                .label(reason)
                .help("memory quantities look like `256Mi`, `1Gi`, `1G`, `128974848` or `129e6` (suffixes: Ki Mi Gi Ti Pi Ei, k M G T P E)");
            None
        }
    }
}
