//! `--set PATH=VALUE` overrides of the Simulation document.
//!
//! `PATH` is a dotted path from the Simulation document's root, starting with `spec.` or
//! `metadata.`:
//!
//! * `spec.traffic.rps=900`, `spec.release.at=10m`, `spec.rollback.manual=null`
//! * list entries by index: `spec.traffic.pattern.steps[0].rps=900`
//! * keys that contain dots (image names such as `myapp:2.0`) in brackets, quoted:
//!   `spec.versions["myapp:2.0"].errorRate=0.05` (or with single quotes). Unbracketed,
//!   `spec.versions.myapp:2.0.errorRate` also works when the file already defines `myapp:2.0`:
//!   at each mapping the longest run of dotted segments that names an existing key wins.
//!
//! `VALUE` is YAML: a scalar (`900`, `99.5%`, `myapp:2.0`), a flow mapping or list
//! (`{kind: lognormal, median: 20s, p99: 60s}`), or empty/`null` to remove the key (its
//! default applies). Missing intermediate mappings are created; whether the final path is
//! a valid key is checked by the same rules as the file, so an unknown key gets the same
//! did-you-mean error, pointing at `--set`.

use super::diagnostic::{Pos, Report};
use super::tree::{self, Node, Value};

/// One `--set PATH=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl Override {
    /// The override as typed, `PATH=VALUE`: what `--set` diagnostics show and point into.
    pub fn as_typed(&self) -> String {
        format!("{}={}", self.path, self.value)
    }
}

/// Parses `PATH=VALUE` as given to `--set` (the value may be empty, meaning "unset").
pub fn parse_override(s: &str) -> Result<Override, String> {
    let mut quote: Option<char> = None;
    let mut split = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(i) = split else {
        return Err("expected PATH=VALUE, e.g. `spec.traffic.rps=900`".to_string());
    };
    let (path, value) = (&s[..i], &s[i + 1..]);
    parse_path(path).map_err(|(col, msg)| format!("{msg} (at character {col} of the path); {PATH_HELP}"))?;
    Ok(Override { path: path.to_string(), value: value.to_string() })
}

/// One step of a path, with its 1-based character range in the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub step: Step,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A mapping key; `bare` if written without brackets (may join with the next ones).
    Key {
        name: String,
        bare: bool,
    },
    Index(usize),
}

const PATH_HELP: &str = "paths look like `spec.traffic.rps`, `spec.traffic.pattern.steps[0].rps` or `spec.versions[\"myapp:2.0\"].errorRate`";

/// Splits a path into segments; on error, the 1-based column and the reason.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Segment>, (u32, String)> {
    let chars: Vec<char> = path.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    if chars.is_empty() {
        return Err((1, "the path is empty".into()));
    }
    loop {
        let start = i;
        if chars.get(i) == Some(&'[') {
            i += 1;
            let step = match chars.get(i) {
                Some(&q) if q == '"' || q == '\'' => {
                    let from = i + 1;
                    let Some(len) = chars[from..].iter().position(|&c| c == q) else {
                        return Err((start as u32 + 1, format!("unclosed {q} in brackets")));
                    };
                    i = from + len + 1;
                    Step::Key { name: chars[from..from + len].iter().collect(), bare: false }
                }
                _ => {
                    let from = i;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    let digits: String = chars[from..i].iter().collect();
                    match digits.parse::<usize>() {
                        Ok(n) => Step::Index(n),
                        Err(_) => {
                            return Err((
                                start as u32 + 1,
                                "expected an index such as [0] or a quoted key such as [\"myapp:2.0\"]"
                                    .into(),
                            ));
                        }
                    }
                }
            };
            if chars.get(i) != Some(&']') {
                return Err((i as u32 + 1, "expected `]`".into()));
            }
            i += 1;
            out.push(Segment { step, start: start as u32 + 1, end: i as u32 + 1 });
        } else {
            while i < chars.len() && !matches!(chars[i], '.' | '[' | ']') {
                i += 1;
            }
            if i == start {
                return Err((start as u32 + 1, "empty key (two dots in a row, or a leading dot?)".into()));
            }
            let name: String = chars[start..i].iter().collect();
            out.push(Segment {
                step: Step::Key { name, bare: true },
                start: start as u32 + 1,
                end: i as u32 + 1,
            });
        }
        match chars.get(i) {
            None => return Ok(out),
            Some('.') => {
                i += 1;
                if i == chars.len() {
                    return Err((i as u32, "the path ends with `.`".into()));
                }
            }
            Some('[') => {}
            Some(c) => return Err((i as u32 + 1, format!("unexpected `{c}`"))),
        }
    }
}

/// Applies override `index` (0-based) to the Simulation document `root`, reporting problems
/// at `--set`.
pub(crate) fn apply(root: &mut Node, ov: &Override, index: usize, report: &mut Report) {
    let src = index as u32 + 1;
    let path_len = ov.path.chars().count() as u32;
    let seg_pos = |start: u32, end: u32| Pos { src, line: 1, col: start, end_line: 1, end_col: end };
    let segments = match parse_path(&ov.path) {
        Ok(s) => s,
        Err((col, msg)) => {
            report
                .error(seg_pos(col, col + 1), format!("invalid `--set` path: {msg}"))
                .label("here")
                .help(PATH_HELP);
            return;
        }
    };
    match &segments[0].step {
        Step::Key { name, .. } if name == "spec" || name == "metadata" => {}
        _ => {
            let first = &segments[0];
            report
                .error(
                    seg_pos(first.start, first.end),
                    format!("`--set {}` does not start at the Simulation document", ov.path),
                )
                .label("expected `spec` or `metadata`")
                .help(format!("paths start at the document's root: did you mean `spec.{}`?", ov.path));
            return;
        }
    }
    let Some(value) = parse_value(ov, src, path_len, report) else {
        return;
    };
    let prefix = |end: u32| -> String { ov.path.chars().take(end as usize - 1).collect() };
    // Work on a copy, so a failed override leaves no half-created mappings behind.
    let mut edited = root.clone();
    let mut cur: &mut Node = &mut edited;
    let mut i = 0;
    while i < segments.len() {
        let seg = &segments[i];
        let walked = if i == 0 { String::new() } else { prefix(segments[i - 1].end) };
        match &seg.step {
            Step::Index(n) => {
                let len = match &cur.value {
                    Value::Seq(items) => items.len(),
                    _ => {
                        let what = if cur.is_null() {
                            "not set".to_string()
                        } else {
                            format!("{}, not a list", cur.describe())
                        };
                        report
                            .error(
                                seg_pos(seg.start, seg.end),
                                format!("cannot index `{walked}`: it is {what}"),
                            )
                            .label("not a list")
                            .help(format!("set the whole list instead: --set '{walked}=[...]'"));
                        return;
                    }
                };
                let Value::Seq(items) = &mut cur.value else {
                    return;
                };
                if *n >= len {
                    report
                        .error(
                            seg_pos(seg.start, seg.end),
                            format!(
                                "`{walked}` has {len} {}; index {n} is out of range",
                                if len == 1 { "entry" } else { "entries" }
                            ),
                        )
                        .label(format!("expected an index below {len}"))
                        .help(format!(
                            "indices start at 0; to add entries, set the whole list: --set '{walked}=[...]'"
                        ));
                    return;
                }
                cur = &mut items[*n];
                i += 1;
            }
            Step::Key { .. } => {
                if cur.is_null() {
                    cur.value = Value::Map(Vec::new());
                }
                if !matches!(cur.value, Value::Map(_)) {
                    let what = cur.describe();
                    let help = match cur.value {
                        Value::Seq(_) => {
                            format!("`{walked}` is a list: select an entry with `{walked}[0]`")
                        }
                        _ => format!("set `{walked}` as a whole instead, e.g. --set '{walked}={{...}}'"),
                    };
                    report
                        .error(
                            seg_pos(seg.start, seg.end),
                            format!("cannot set `{}`: `{walked}` is {what}, not a mapping", ov.path),
                        )
                        .label("no keys to select")
                        .help(help);
                    return;
                }
                let Value::Map(entries) = &mut cur.value else {
                    return;
                };
                let (key, used) = match_key(entries, &segments[i..]);
                let last = &segments[i + used - 1];
                let idx = match entries.iter().position(|(k, _)| k.key_text() == key) {
                    Some(idx) => idx,
                    None => {
                        if let (true, Some(Segment { step: Step::Key { name, bare: true }, .. })) =
                            (bare(seg), segments.get(i + 1))
                            && name.chars().all(|c| c.is_ascii_digit())
                        {
                            let joined: String = ov
                                .path
                                .chars()
                                .skip(seg.start as usize - 1)
                                .take_while(|c| *c != '[')
                                .collect();
                            let guess = joined.split('.').take(2).collect::<Vec<_>>().join(".");
                            report
                                .error(
                                    seg_pos(seg.start, segments[i + 1].end),
                                    format!("`{walked}` has no key `{key}` or `{guess}`"),
                                )
                                .label("a key with a dot must be written in brackets")
                                .help(format!("write `{walked}[\"{guess}\"]...`; {PATH_HELP}"));
                            return;
                        }
                        let key_node = Node::scalar(key.clone(), false, seg_pos(seg.start, last.end));
                        let placeholder = Node::scalar("", true, seg_pos(seg.start, last.end));
                        entries.push((key_node, placeholder));
                        entries.len() - 1
                    }
                };
                cur = &mut entries[idx].1;
                i += used;
            }
        }
    }
    *cur = value;
    *root = edited;
}

fn bare(seg: &Segment) -> bool {
    matches!(seg.step, Step::Key { bare: true, .. })
}

/// The key that `segments` (starting with a key) select in `entries`, and how many segments
/// it used: an exact bracketed key, or the longest run of bare segments joined by dots that
/// names an existing key (else the first segment alone).
fn match_key(entries: &[(Node, Node)], segments: &[Segment]) -> (String, usize) {
    let Step::Key { name, bare } = &segments[0].step else {
        return (String::new(), 1);
    };
    if !bare {
        return (name.clone(), 1);
    }
    let run = segments.iter().take_while(|s| matches!(s.step, Step::Key { bare: true, .. })).count();
    for len in (1..=run).rev() {
        let joined: Vec<&str> = segments[..len]
            .iter()
            .map(|s| match &s.step {
                Step::Key { name, .. } => name.as_str(),
                Step::Index(_) => "",
            })
            .collect();
        let joined = joined.join(".");
        if entries.iter().any(|(k, _)| k.key_text() == joined) {
            return (joined, len);
        }
    }
    (name.clone(), 1)
}

/// Parses the value of an override as one YAML node positioned on the `--set` line.
fn parse_value(ov: &Override, src: u32, path_len: u32, report: &mut Report) -> Option<Node> {
    let col = path_len + 2;
    let value_len = ov.value.chars().count() as u32;
    let whole = Pos { src, line: 1, col, end_line: 1, end_col: col + value_len.max(1) };
    let docs = tree::parse_stream(&ov.value, src, path_len + 1, report)?;
    match docs.len() {
        0 => Some(Node::scalar("", true, whole)),
        1 => Some(
            docs.into_iter().next().and_then(|d| d.root).unwrap_or_else(|| Node::scalar("", true, whole)),
        ),
        _ => {
            report
                .error(whole, "a `--set` value must be a single YAML value")
                .label("contains a `---` document separator")
                .help("quote the value if it is meant as text");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<Step> {
        parse_path(path).unwrap().into_iter().map(|s| s.step).collect()
    }

    fn key(name: &str, bare: bool) -> Step {
        Step::Key { name: name.into(), bare }
    }

    #[test]
    fn paths() {
        assert_eq!(keys("spec.traffic.rps"), vec![key("spec", true), key("traffic", true), key("rps", true)]);
        assert_eq!(
            keys("spec.traffic.pattern.steps[0].rps"),
            vec![
                key("spec", true),
                key("traffic", true),
                key("pattern", true),
                key("steps", true),
                Step::Index(0),
                key("rps", true)
            ]
        );
        assert_eq!(
            keys("spec.versions[\"myapp:2.0\"].errorRate"),
            vec![key("spec", true), key("versions", true), key("myapp:2.0", false), key("errorRate", true)]
        );
        assert_eq!(
            keys("spec.versions['a.b']"),
            vec![key("spec", true), key("versions", true), key("a.b", false)]
        );
        let segs = parse_path("spec.seed").unwrap();
        assert_eq!((segs[1].start, segs[1].end), (6, 10));
    }

    #[test]
    fn bad_paths() {
        assert_eq!(parse_path("").unwrap_err().0, 1);
        assert_eq!(parse_path("spec..rps").unwrap_err().0, 6);
        assert_eq!(parse_path("spec.").unwrap_err().0, 5);
        assert!(parse_path("spec.steps[x]").unwrap_err().1.contains("index"));
        assert!(parse_path("spec.steps[0").is_err());
        assert!(parse_path("spec.versions[\"a").is_err());
        assert!(parse_path("spec.steps[0]x").is_err());
    }

    #[test]
    fn parse_override_splits_at_the_first_equals_sign() {
        assert_eq!(
            parse_override("spec.traffic.rps=900").unwrap(),
            Override { path: "spec.traffic.rps".into(), value: "900".into() }
        );
        assert_eq!(parse_override("metadata.name=a=b").unwrap().value, "a=b");
        assert_eq!(
            parse_override("spec.versions[\"a=b\"].errorRate=1%").unwrap().path,
            "spec.versions[\"a=b\"].errorRate"
        );
        assert_eq!(parse_override("spec.rollback.manual=").unwrap().value, "");
        assert!(parse_override("spec.traffic.rps").unwrap_err().contains("PATH=VALUE"));
        assert!(parse_override("spec..rps=1").is_err());
    }
}
