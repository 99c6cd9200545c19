//! Prometheus's relabelling (`relabel_configs`, `metric_relabel_configs`, and the Prometheus
//! Operator's `relabelings` / `metricRelabelings`), as a pure function of a label set.
//!
//! The rules are Prometheus's (model/relabel): the values of `source_labels` (an absent label
//! reads as the empty string) are joined with `separator` (default `;`); `regex` (default
//! `(.*)`) is anchored at both ends; `replacement` (default `$1`) and a `replace`'s
//! `target_label` expand `$1`, `${1}` and named groups as Go's `Regexp.Expand` does (a longest
//! name: `$1x` is the group named `1x`, which does not exist, so it expands to nothing).
//!
//! | action | effect |
//! |---|---|
//! | `replace` (default) | if the regex matches the joined value, set the expanded target label to the expanded replacement; an empty result deletes the label; an invalid label name does nothing |
//! | `keep` / `drop` | drop the whole set unless / if the regex matches |
//! | `keepequal` / `dropequal` | drop unless / if the joined value equals `target_label`'s value |
//! | `hashmod` | set `target_label` to the MD5 of the joined value (its last 8 bytes, big-endian) modulo `modulus` |
//! | `labelmap` | for every label whose name matches, copy its value to the name the replacement gives |
//! | `labeldrop` / `labelkeep` | delete the labels whose names match / do not match |
//! | `lowercase` / `uppercase` | set `target_label` to the joined value in lower / upper case |
//!
//! Rules apply in order; a drop ends the list. Label names are valid when they match
//! `[a-zA-Z_][a-zA-Z0-9_]*`.

use super::promql::Labels;
use regex::Regex;
use std::fmt;

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    /// The action named `s`, case-insensitively as the Prometheus Operator accepts it
    /// (`Replace`, `replace`, `LabelMap`, ...).
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase";
}

/// A rule as written, before it is checked. Absent fields take Prometheus's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSpec {
    pub source_labels: Vec<String>,
    pub separator: Option<String>,
    pub regex: Option<String>,
    pub modulus: Option<u64>,
    pub target_label: Option<String>,
    pub replacement: Option<String>,
    pub action: Option<String>,
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub source_labels: Vec<String>,
    pub separator: String,
    /// The regex as written (unanchored), for messages.
    pub regex_text: String,
    regex: Regex,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
}

/// Why a rule is refused (which field, what is wrong, what would be right).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The field at fault (`action`, `regex`, `target_label`, `modulus`, ...).
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Whether `name` is a valid label name.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a `replace`'s `target_label` is acceptable: a label name in which `$1`, `${1}`,
/// `${name}` may stand for parts (Prometheus's `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`).
pub fn valid_target_template(s: &str) -> bool {
    static_template().is_match(s)
}

fn static_template() -> &'static Regex {
    use std::sync::OnceLock;
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("valid regex"))
}

impl Rule {
    /// Checks a rule as Prometheus's config loader does.
    pub fn new(spec: &RuleSpec) -> Result<Rule, RuleError> {
        let action = match &spec.action {
            None => Action::Replace,
            Some(a) => Action::parse(a).ok_or_else(|| RuleError {
                field: "action",
                message: format!("unknown relabel action {a:?}; expected one of {}", Action::NAMES),
            })?,
        };
        let regex_text = spec.regex.clone().unwrap_or_else(|| "(.*)".to_string());
        let regex = Regex::new(&format!("^(?:{regex_text})$")).map_err(|e| RuleError {
            field: "regex",
            message: format!("{regex_text:?} is not a valid regular expression ({e})"),
        })?;
        let target_label = spec.target_label.clone().unwrap_or_default();
        let modulus = spec.modulus.unwrap_or(0);
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target_label.is_empty() {
            return Err(RuleError {
                field: "target_label",
                message: format!("relabel action {action:?} requires a target label"),
            });
        }
        match action {
            Action::Replace if !valid_target_template(&target_label) => {
                return Err(RuleError {
                    field: "target_label",
                    message: format!(
                        "{target_label:?} is not a valid target label for replace; expected a label name, \
                         parts of which may be $1 or ${{1}}"
                    ),
                });
            }
            Action::HashMod
            | Action::Lowercase
            | Action::Uppercase
            | Action::KeepEqual
            | Action::DropEqual
                if !valid_label_name(&target_label) =>
            {
                return Err(RuleError {
                    field: "target_label",
                    message: format!(
                        "{target_label:?} is not a valid label name; expected [a-zA-Z_][a-zA-Z0-9_]*"
                    ),
                });
            }
            _ => {}
        }
        if action == Action::HashMod && modulus == 0 {
            return Err(RuleError {
                field: "modulus",
                message: "hashmod requires a modulus of at least 1".to_string(),
            });
        }
        let label_only = matches!(action, Action::LabelDrop | Action::LabelKeep);
        if label_only
            && (!spec.source_labels.is_empty()
                || spec.target_label.as_deref().is_some_and(|t| !t.is_empty())
                || spec.modulus.is_some_and(|m| m != 0)
                || spec.separator.as_deref().is_some_and(|s| s != ";")
                || spec.replacement.as_deref().is_some_and(|r| r != "$1"))
        {
            return Err(RuleError {
                field: "action",
                message: format!(
                    "{action:?} takes only a regex (no source labels, target label, modulus, separator or replacement)"
                ),
            });
        }
        Ok(Rule {
            source_labels: spec.source_labels.clone(),
            separator: spec.separator.clone().unwrap_or_else(|| ";".to_string()),
            regex_text,
            regex,
            modulus,
            target_label,
            replacement: spec.replacement.clone().unwrap_or_else(|| "$1".to_string()),
            action,
        })
    }

    fn joined(&self, labels: &Labels) -> String {
        let mut out = String::new();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.separator);
            }
            if let Some(v) = labels.get(name) {
                out.push_str(v);
            }
        }
        out
    }

    /// Applies this rule; `false` when it drops the set.
    pub fn apply(&self, labels: &mut Labels) -> bool {
        let value = self.joined(labels);
        match self.action {
            Action::Drop => return !self.regex.is_match(&value),
            Action::Keep => return self.regex.is_match(&value),
            Action::DropEqual => {
                return labels.get(&self.target_label).map(String::as_str).unwrap_or("") != value;
            }
            Action::KeepEqual => {
                return labels.get(&self.target_label).map(String::as_str).unwrap_or("") == value;
            }
            Action::Replace => {
                let Some(caps) = self.regex.captures(&value) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !valid_label_name(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(&self.replacement, &mut res);
                if res.is_empty() {
                    labels.remove(&target);
                } else {
                    labels.insert(target, res);
                }
            }
            Action::Lowercase => {
                labels.insert(self.target_label.clone(), value.to_lowercase());
            }
            Action::Uppercase => {
                labels.insert(self.target_label.clone(), value.to_uppercase());
            }
            Action::HashMod => {
                let digest = md5(value.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..]);
                let m = u64::from_be_bytes(tail) % self.modulus;
                labels.insert(self.target_label.clone(), m.to_string());
            }
            Action::LabelMap => {
                let mut add = Vec::new();
                for (name, v) in labels.iter() {
                    if let Some(caps) = self.regex.captures(name) {
                        let mut res = String::new();
                        caps.expand(&self.replacement, &mut res);
                        add.push((res, v.clone()));
                    }
                }
                for (k, v) in add {
                    labels.insert(k, v);
                }
            }
            Action::LabelDrop => labels.retain(|name, _| !self.regex.is_match(name)),
            Action::LabelKeep => labels.retain(|name, _| self.regex.is_match(name)),
        }
        true
    }
}

/// Applies `rules` in order to `labels`: the relabelled set, or `None` when a rule drops it.
pub fn process(labels: &Labels, rules: &[Rule]) -> Option<Labels> {
    let mut out = labels.clone();
    for rule in rules {
        if !rule.apply(&mut out) {
            return None;
        }
    }
    Some(out)
}

/// MD5 (RFC 1321), for `hashmod`.
pub fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15,
        21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ];
    let mut a0: u32 = 0x67452301;
    let mut b0: u32 = 0xefcdab89;
    let mut c0: u32 = 0x98badcfe;
    let mut d0: u32 = 0x10325476;
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..].copy_from_slice(&d0.to_le_bytes());
    out
}

#[cfg(test)]
#[path = "relabel/tests.rs"]
mod tests;
