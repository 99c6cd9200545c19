//! `--set PATH=VALUE` overrides of the Simulation document and of the manifests, and the
//! `--grid PATH=V1,V2,…` axes of `rollsim sweep`, which are overrides too.
//!
//! `PATH` is a dotted path. It starts with `spec.` or `metadata.` for the Simulation
//! document, or with `Kind/name.` for the manifest document of that kind and
//! `metadata.name`:
//!
//! * `spec.traffic.rps=900`, `spec.release.at=10m`, `spec.rollback.manual=null`
//! * list entries by index: `spec.traffic.pattern.steps[0].rps=900`
//! * keys that contain dots (image names such as `myapp:2.0`) in brackets, quoted:
//!   `spec.versions["myapp:2.0"].errorRate=0.05` (or with single quotes). Unbracketed,
//!   `spec.versions.myapp:2.0.errorRate` also works when the file already defines `myapp:2.0`:
//!   at each mapping the longest run of dotted segments that names an existing key wins.
//! * manifests: `PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for=5m`,
//!   `Rollout/myapp.spec.strategy.canary.steps[1].pause.duration=2m`; a name with dots is
//!   matched like a key (the longest existing name wins) or written `Kind/["my.name"]`.
//!
//! `VALUE` is YAML: a scalar (`900`, `99.5%`, `myapp:2.0`), a flow mapping or list
//! (`{kind: lognormal, median: 20s, p99: 60s}`), or empty/`null` to remove the key (its
//! default applies). Missing intermediate mappings are created. Whether the final path is
//! a valid key is checked by the same rules as the file, so an unknown Simulation key gets
//! the same did-you-mean error, pointing at `--set`. Manifests are read leniently (fields
//! rollsim does not simulate are ignored), so a manifest override that adds a key the
//! document did not have is noted ([`Applied::notes`]): a typo there would otherwise change
//! nothing silently.
//!
//! Manifest overrides are applied to the documents before they are classified and read;
//! Simulation overrides after. Every value keeps its position in the argument as typed, so
//! a bad value is reported at `--set` (or `--grid`) line 1, at its column.

use super::diagnostic::{Pos, Report, did_you_mean};
use super::tree::{self, Node, Value};

/// The flag diagnostics name for overrides given with `--set`.
pub const SET_FLAG: &str = "--set";
/// The flag diagnostics name for the values of `rollsim sweep --grid`.
pub const GRID_FLAG: &str = "--grid";

/// One override: `--set PATH=VALUE`, one value of a `--grid PATH=V1,V2,…` axis, or a flag
/// such as `--seed` turned into `spec.seed=…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
    /// Where it was typed, for diagnostics.
    pub origin: Origin,
}

/// The argument an override was typed in: diagnostics show `text` as line 1 of a source
/// named `flag`, with `PATH` at its start and the value at `value_start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `--set` or `--grid`.
    pub flag: &'static str,
    /// The whole argument as typed, e.g. `spec.traffic.rps=100,1000`.
    pub text: String,
    /// Where the value starts in `text`, in characters from 0.
    pub value_start: u32,
}

impl Override {
    /// An override as if typed `--set PATH=VALUE`.
    pub fn new(path: impl Into<String>, value: impl Into<String>) -> Override {
        let (path, value) = (path.into(), value.into());
        let origin = Origin {
            flag: SET_FLAG,
            text: format!("{path}={value}"),
            value_start: path.chars().count() as u32 + 1,
        };
        Override { path, value, origin }
    }

    /// The argument as typed: what diagnostics show and point into.
    pub fn as_typed(&self) -> String {
        self.origin.text.clone()
    }
}

/// Parses `PATH=VALUE` as given to `--set` (the value may be empty, meaning "unset").
pub fn parse_override(s: &str) -> Result<Override, String> {
    let (path, value) = split_path(s)?;
    Ok(Override::new(path, value))
}

/// Splits `PATH=VALUE` at the first `=` outside quotes and checks the path's syntax.
fn split_path(s: &str) -> Result<(&str, &str), String> {
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
    Ok((path, value))
}

/// One `--grid PATH=V1,V2,…` axis: the path and one override per value, in the order typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridAxis {
    pub path: String,
    pub values: Vec<Override>,
}

/// Parses `PATH=V1,V2,…` as given to `--grid`. Values are split at commas outside quotes
/// and brackets, so a YAML flow value (`{kind: fixed, value: 1m}`, `[a, b]`) is one value.
/// Each value is an override whose diagnostics point into the whole argument.
pub fn parse_grid_axis(s: &str) -> Result<GridAxis, String> {
    let (path, list) = split_path(s).map_err(|m| {
        if m.starts_with("expected PATH=VALUE") {
            "expected PATH=V1,V2,…, e.g. `spec.traffic.rps=100,1000`".to_string()
        } else {
            m
        }
    })?;
    let offset = path.chars().count() + 1;
    let mut values = Vec::new();
    for (start, text) in split_list(list)? {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(format!(
                "value {} is empty; write `null` to remove the key at a grid point",
                values.len() + 1
            ));
        }
        if values.iter().any(|v: &Override| v.value == trimmed) {
            return Err(format!("the value `{trimmed}` is listed twice"));
        }
        let lead = text.chars().count() - text.trim_start().chars().count();
        values.push(Override {
            path: path.to_string(),
            value: trimmed.to_string(),
            origin: Origin {
                flag: GRID_FLAG,
                text: s.to_string(),
                value_start: (offset + start + lead) as u32,
            },
        });
    }
    Ok(GridAxis { path: path.to_string(), values })
}

/// Splits a comma-separated list at the commas outside quotes and brackets; each item with
/// its start in characters.
fn split_list(list: &str) -> Result<Vec<(usize, &str)>, String> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start_byte, mut start_char) = (0i32, None::<char>, 0usize, 0usize);
    for (n, (i, c)) in list.char_indices().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                items.push((start_char, &list[start_byte..i]));
                (start_byte, start_char) = (i + 1, n + 1);
            }
            _ => {}
        }
    }
    if quote.is_some() || depth != 0 {
        return Err("unbalanced quotes or brackets in the values".to_string());
    }
    items.push((start_char, &list[start_byte..]));
    Ok(items)
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

const PATH_HELP: &str = "paths look like `spec.traffic.rps`, `spec.traffic.pattern.steps[0].rps`, `spec.versions[\"myapp:2.0\"].errorRate` or, in a manifest, `PrometheusRule/myapp-alerts.spec.groups[0].rules[0].for`";

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

/// Whether `ov` addresses a manifest document (`Kind/name.…`) rather than the Simulation.
pub(crate) fn targets_manifest(ov: &Override) -> bool {
    match parse_path(&ov.path) {
        Ok(segments) => matches!(&segments[0].step, Step::Key { name, bare: true } if name.contains('/')),
        Err(_) => false,
    }
}

/// What applying the manifest overrides found worth saying.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Keys an override added to a manifest that did not have them (rollsim ignores the
    /// fields it does not read, so a misspelt key would otherwise change nothing unseen).
    pub notes: Vec<String>,
}

/// Applies every override that [`targets_manifest`] to the document it names, in order,
/// reporting problems at the override (`index` in `overrides` is its source).
pub(crate) fn apply_to_manifests(
    roots: &mut [&mut Node],
    overrides: &[Override],
    report: &mut Report,
) -> Applied {
    let mut applied = Applied::default();
    for (index, ov) in overrides.iter().enumerate() {
        if targets_manifest(ov) {
            apply_to_manifest(roots, ov, index, report, &mut applied);
        }
    }
    applied
}

/// `Kind/name` of every document, as well as it can be read, with the namespace.
fn document_names(roots: &[&mut Node]) -> Vec<(String, String, Option<String>)> {
    let text = |n: Option<&Node>| n.and_then(Node::as_scalar).map(|s| s.text.clone());
    roots
        .iter()
        .map(|root| {
            let metadata = root.get("metadata");
            (
                text(root.get("kind")).unwrap_or_default(),
                text(metadata.and_then(|m| m.get("name"))).unwrap_or_default(),
                text(metadata.and_then(|m| m.get("namespace"))),
            )
        })
        .collect()
}

fn apply_to_manifest(
    roots: &mut [&mut Node],
    ov: &Override,
    index: usize,
    report: &mut Report,
    applied: &mut Applied,
) {
    let src = index as u32 + 1;
    let seg_pos = |start: u32, end: u32| Pos { src, line: 1, col: start, end_line: 1, end_col: end };
    let Ok(segments) = parse_path(&ov.path) else { return };
    let Step::Key { name: first, .. } = &segments[0].step else { return };
    let (kind, name_start) = first.split_once('/').unwrap_or((first, ""));
    let names = document_names(roots);
    // The name: quoted in brackets after `Kind/`, or the longest run of bare segments that
    // names a document of this kind.
    let (name, used) = match (name_start, segments.get(1)) {
        ("", Some(Segment { step: Step::Key { name, bare: false }, .. })) => (name.clone(), 2),
        _ => {
            let run = segments.iter().take_while(|s| matches!(s.step, Step::Key { bare: true, .. })).count();
            let joined = |len: usize| -> String {
                let parts: Vec<&str> = segments[1..len]
                    .iter()
                    .map(|s| match &s.step {
                        Step::Key { name, .. } => name.as_str(),
                        Step::Index(_) => "",
                    })
                    .collect();
                std::iter::once(name_start).chain(parts).collect::<Vec<_>>().join(".")
            };
            let found =
                (1..=run).rev().find(|&len| names.iter().any(|(k, n, _)| k == kind && *n == joined(len)));
            match found {
                Some(len) => (joined(len), len),
                None => (name_start.to_string(), 1),
            }
        }
    };
    let whole = seg_pos(segments[0].start, segments[used - 1].end);
    let matching: Vec<usize> =
        names.iter().enumerate().filter(|(_, (k, n, _))| k == kind && *n == name).map(|(i, _)| i).collect();
    let target = match matching.as_slice() {
        [i] => *i,
        [] => {
            let all: Vec<String> =
                names.iter().filter(|(k, _, _)| !k.is_empty()).map(|(k, n, _)| format!("{k}/{n}")).collect();
            let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
            let asked = format!("{kind}/{name}");
            let guess = did_you_mean(&asked, &candidates)
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            report
                .error(whole, format!("`{} {}`: no document `{asked}` in this file", ov.origin.flag, ov.path))
                .label("no document of this kind and metadata.name")
                .help(format!("{guess}the documents in this file: {}", all.join(", ")));
            return;
        }
        several => {
            let namespaces: Vec<String> = several
                .iter()
                .map(|&i| names[i].2.clone().unwrap_or_else(|| "(no namespace)".to_string()))
                .collect();
            report
                .error(whole, format!("`{kind}/{name}` names {} documents in this file", several.len()))
                .label("ambiguous")
                .help(format!(
                    "they differ only by namespace ({}); give each a distinct metadata.name to override one",
                    namespaces.join(", ")
                ));
            return;
        }
    };
    if used == segments.len() {
        report
            .error(whole, format!("`{} {}` names a whole document", ov.origin.flag, ov.path))
            .label("expected a path inside it")
            .help(format!("name the field to change, e.g. `{kind}/{name}.spec.replicas`"));
        return;
    }
    let Some(value) = parse_value(ov, src, report) else { return };
    if let Some(added) = set_path(&mut *roots[target], ov, &segments, used, value, src, report) {
        applied.notes.push(format!(
            "{} {}={}: `{}` had no `{}`{}; rollsim ignores manifest fields it does not read",
            ov.origin.flag,
            ov.path,
            ov.value,
            added.parent,
            added.key,
            match did_you_mean(&added.key, &added.siblings.iter().map(String::as_str).collect::<Vec<_>>()) {
                Some(g) => format!(" (did you mean `{g}`?)"),
                None => String::new(),
            }
        ));
    }
}

/// Applies override `index` (0-based) to the Simulation document `root`, reporting problems
/// at the override. Overrides that [`targets_manifest`] are not for it and are skipped.
pub(crate) fn apply(root: &mut Node, ov: &Override, index: usize, report: &mut Report) {
    if targets_manifest(ov) {
        return;
    }
    let src = index as u32 + 1;
    let flag = ov.origin.flag;
    let seg_pos = |start: u32, end: u32| Pos { src, line: 1, col: start, end_line: 1, end_col: end };
    let segments = match parse_path(&ov.path) {
        Ok(s) => s,
        Err((col, msg)) => {
            report
                .error(seg_pos(col, col + 1), format!("invalid `{flag}` path: {msg}"))
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
                    format!("`{flag} {}` does not start at the Simulation document or a manifest", ov.path),
                )
                .label("expected `spec`, `metadata` or `Kind/name`")
                .help(format!(
                    "paths start at the Simulation's root (did you mean `spec.{}`?) or at a manifest, e.g. `Deployment/myapp.spec.replicas`",
                    ov.path
                ));
            return;
        }
    }
    let Some(value) = parse_value(ov, src, report) else {
        return;
    };
    // The Simulation is read strictly: an added key that is not valid is an error there.
    let _ = set_path(root, ov, &segments, 0, value, src, report);
}

/// A key an override added to a mapping that did not have it.
struct Added {
    /// The path to the mapping, e.g. `Deployment/myapp.spec`.
    parent: String,
    key: String,
    /// The keys the mapping already had.
    siblings: Vec<String>,
}

/// Sets the node at `segments[from..]` (under `root`) to `value`, creating missing mappings.
/// On a problem, reports it and leaves `root` unchanged. Returns the first key it added.
fn set_path(
    root: &mut Node,
    ov: &Override,
    segments: &[Segment],
    from: usize,
    value: Node,
    src: u32,
    report: &mut Report,
) -> Option<Added> {
    let seg_pos = |start: u32, end: u32| Pos { src, line: 1, col: start, end_line: 1, end_col: end };
    let prefix = |end: u32| -> String { ov.path.chars().take(end as usize - 1).collect() };
    let mut added: Option<Added> = None;
    // Work on a copy, so a failed override leaves no half-created mappings behind.
    let mut edited = root.clone();
    let mut cur: &mut Node = &mut edited;
    let mut i = from;
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
                            .help(format!("set the whole list instead: {} '{walked}=[...]'", ov.origin.flag));
                        return None;
                    }
                };
                let Value::Seq(items) = &mut cur.value else {
                    return None;
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
                            "indices start at 0; to add entries, set the whole list: {} '{walked}=[...]'",
                            ov.origin.flag
                        ));
                    return None;
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
                        _ => format!(
                            "set `{walked}` as a whole instead, e.g. {} '{walked}={{...}}'",
                            ov.origin.flag
                        ),
                    };
                    report
                        .error(
                            seg_pos(seg.start, seg.end),
                            format!("cannot set `{}`: `{walked}` is {what}, not a mapping", ov.path),
                        )
                        .label("no keys to select")
                        .help(help);
                    return None;
                }
                let Value::Map(entries) = &mut cur.value else {
                    return None;
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
                            return None;
                        }
                        if added.is_none() {
                            let siblings = entries.iter().map(|(k, _)| k.key_text().to_string()).collect();
                            added = Some(Added { parent: walked.clone(), key: key.clone(), siblings });
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
    added
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

/// Parses the value of an override as one YAML node positioned in the argument as typed.
fn parse_value(ov: &Override, src: u32, report: &mut Report) -> Option<Node> {
    let col = ov.origin.value_start + 1;
    let value_len = ov.value.chars().count() as u32;
    let whole = Pos { src, line: 1, col, end_line: 1, end_col: col + value_len.max(1) };
    let docs = tree::parse_stream(&ov.value, src, ov.origin.value_start, report)?;
    match docs.len() {
        0 => Some(Node::scalar("", true, whole)),
        1 => Some(
            docs.into_iter().next().and_then(|d| d.root).unwrap_or_else(|| Node::scalar("", true, whole)),
        ),
        _ => {
            report
                .error(whole, format!("a `{}` value must be a single YAML value", ov.origin.flag))
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
        assert_eq!(parse_override("spec.traffic.rps=900").unwrap(), Override::new("spec.traffic.rps", "900"));
        assert_eq!(parse_override("metadata.name=a=b").unwrap().value, "a=b");
        assert_eq!(
            parse_override("spec.versions[\"a=b\"].errorRate=1%").unwrap().path,
            "spec.versions[\"a=b\"].errorRate"
        );
        assert_eq!(parse_override("spec.rollback.manual=").unwrap().value, "");
        assert!(parse_override("spec.traffic.rps").unwrap_err().contains("PATH=VALUE"));
        assert!(parse_override("spec..rps=1").is_err());
    }

    #[test]
    fn grid_axes_split_at_top_level_commas() {
        let axis = parse_grid_axis("spec.traffic.rps=100,1000").unwrap();
        assert_eq!(axis.path, "spec.traffic.rps");
        let values: Vec<(&str, u32)> =
            axis.values.iter().map(|v| (v.value.as_str(), v.origin.value_start)).collect();
        assert_eq!(values, [("100", 17), ("1000", 21)]);
        assert!(
            axis.values
                .iter()
                .all(|v| v.origin.flag == GRID_FLAG && v.origin.text == "spec.traffic.rps=100,1000")
        );
        assert!(axis.values.iter().all(|v| v.path == "spec.traffic.rps"));

        let axis = parse_grid_axis("spec.pods.startup={kind: fixed, value: 10s}, 30s,'a,b',[1, 2]").unwrap();
        let values: Vec<&str> = axis.values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(values, ["{kind: fixed, value: 10s}", "30s", "'a,b'", "[1, 2]"]);
        // The value after ", " starts after the space.
        assert_eq!(
            axis.values[1].origin.value_start,
            "spec.pods.startup={kind: fixed, value: 10s}, ".len() as u32
        );

        let axis = parse_grid_axis("PrometheusRule/a.spec.groups[0].rules[0].for=1m").unwrap();
        assert_eq!(axis.values.len(), 1);
        assert!(targets_manifest(&axis.values[0]));
        assert!(!targets_manifest(&Override::new("spec.seed", "1")));
        assert!(!targets_manifest(&Override::new("spec.versions[\"a/b\"].errorRate", "1")));
    }

    #[test]
    fn bad_grid_axes() {
        assert!(parse_grid_axis("spec.traffic.rps").unwrap_err().contains("PATH=V1,V2"));
        assert!(parse_grid_axis("spec.traffic.rps=").unwrap_err().contains("value 1 is empty"));
        assert!(parse_grid_axis("spec.traffic.rps=1,,2").unwrap_err().contains("value 2 is empty"));
        assert!(parse_grid_axis("spec.traffic.rps=1,2,1").unwrap_err().contains("`1` is listed twice"));
        assert!(parse_grid_axis("spec.x={a: 1").unwrap_err().contains("unbalanced"));
        assert!(parse_grid_axis("spec..x=1").unwrap_err().contains("empty key"));
    }

    #[test]
    fn set_overrides_point_at_their_value() {
        let ov = parse_override("spec.seed=7").unwrap();
        assert_eq!(ov.origin, Origin { flag: SET_FLAG, text: "spec.seed=7".into(), value_start: 10 });
        assert_eq!(ov.as_typed(), "spec.seed=7");
    }
}
