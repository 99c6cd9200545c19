//! The raw layer: YAML text → a tree of [`Node`]s that keeps every scalar's exact text, its
//! quoting and its position.
//!
//! Built from the event stream of `granit-parser` (the YAML parser under serde-saphyr,
//! re-exported by it), so no value is typed before the loader knows what it should be: a
//! plain `1.10` stays the text `1.10`, `"8"` and `8` are both readable as a CPU quantity,
//! and a quoted `"3"` can be told apart from a count. Aliases are expanded (with a size
//! budget against alias bombs), `<<` merge keys are applied and duplicate keys are errors.

use super::diagnostic::{Pos, Report};
use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scalar {
    /// The text after YAML escape processing (quotes removed).
    pub text: String,
    /// A plain (unquoted, untagged-as-string) scalar: `null`, `~` and the empty plain scalar
    /// are null; digits may be read as numbers. Quoted scalars are always strings.
    pub plain: bool,
}

impl Node {
    pub fn scalar(text: impl Into<String>, plain: bool, pos: Pos) -> Node {
        Node { value: Value::Scalar(Scalar { text: text.into(), plain }), pos }
    }

    /// YAML null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) if !self.is_null() => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The text of a scalar key (or "" for anything else).
    pub fn key_text(&self) -> &str {
        match &self.value {
            Value::Scalar(s) => &s.text,
            _ => "",
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.key_text() == key).map(|(_, v)| v)
    }

    /// What a user would call this kind of node, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            _ if self.is_null() => "nothing (null)".into(),
            Value::Scalar(s) => {
                let short: String = s.text.chars().take(40).collect();
                if s.plain && super::units::parse_number(&s.text).is_ok() {
                    format!("the number {short}")
                } else if s.plain && matches!(s.text.as_str(), "true" | "false") {
                    format!("the boolean {short}")
                } else {
                    format!("the string \"{short}\"")
                }
            }
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// What copying the node costs: one per node, plus one per 16 bytes of scalar text (so an
    /// alias of a long string counts by its length, not as one node).
    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar(s) => 1 + s.text.len() / 16,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
        }
    }
}

/// One document of the stream.
#[derive(Clone, Debug)]
pub(crate) struct Document {
    /// `None` for an empty document (e.g. a stray `---` at the end).
    pub root: Option<Node>,
}

/// Most nodes alias expansion may create, against "billion laughs" inputs (a node's text
/// counts one per 16 bytes: at most 16 MB of copied text).
const ALIAS_BUDGET: usize = 1_000_000;

enum Frame {
    Seq { items: Vec<Node>, start: Pos, anchor: usize },
    Map { entries: Vec<(Node, Node)>, key: Option<Node>, start: Pos, anchor: usize },
}

/// Converts a parser span to a 1-based position in source `src`. `col_offset` shifts
/// columns (used for `--set` values, which are parsed on their own).
pub(crate) fn span_pos(span: &Span, src: u32, col_offset: u32) -> Pos {
    let conv = |m: &Marker| (m.line() as u32, m.col() as u32 + 1 + col_offset);
    let (line, col) = conv(&span.start);
    let (end_line, end_col) = conv(&span.end);
    Pos { src, line, col, end_line, end_col }
}

/// Parses a YAML stream. A syntax error is reported and ends parsing (`None`); problems that
/// leave the structure intact (duplicate keys, bad aliases) are reported and parsing goes on.
pub(crate) fn parse_stream(
    text: &str,
    src: u32,
    col_offset: u32,
    report: &mut Report,
) -> Option<Vec<Document>> {
    parse_stream_at(text, src, 0, col_offset, report)
}

/// [`parse_stream`] of a text whose first line is line `line_offset + 1` of its source (one
/// of several files read as one scenario).
pub(crate) fn parse_stream_at(
    text: &str,
    src: u32,
    line_offset: u32,
    col_offset: u32,
    report: &mut Report,
) -> Option<Vec<Document>> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut expanded = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let line = m.line().max(1) as u32 + line_offset;
                let col = m.col() as u32 + 1 + col_offset;
                let pos = Pos { src, line, col, end_line: line, end_col: col + 1 };
                let what = e.info();
                let help = if src == 0 {
                    "check the indentation and the quoting on this line and the ones above it"
                } else {
                    "check the value's brackets and quotes, and quote it for the shell: --set 'spec.traffic.pattern={kind: constant}'"
                };
                report.error(pos, format!("invalid YAML: {what}")).label(what).help(help);
                return None;
            }
        };
        let mut pos = span_pos(&span, src, col_offset);
        pos.line += line_offset;
        pos.end_line += line_offset;
        let node = match event {
            Event::DocumentStart(..) => {
                root = None;
                anchors.clear();
                continue;
            }
            Event::DocumentEnd => {
                docs.push(Document { root: root.take() });
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let as_string = tag.as_ref().is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let plain = style == ScalarStyle::Plain && !as_string;
                let node = Node::scalar(value.into_owned(), plain, pos);
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(target) => {
                    expanded = expanded.saturating_add(target.size());
                    if expanded > ALIAS_BUDGET {
                        report
                            .error(pos, "aliases expand to too many nodes (a YAML alias bomb?)")
                            .label("this alias")
                            .help(format!(
                                "a scenario may expand aliases to at most {ALIAS_BUDGET} nodes (16 MB of text); write the values out, or use fewer aliases"
                            ));
                        return None;
                    }
                    let mut node = target.clone();
                    node.pos = pos;
                    node
                }
                None => {
                    report
                        .error(pos, "alias refers to an anchor that is not defined before it")
                        .label("unknown or recursive anchor");
                    Node::scalar("", true, pos)
                }
            },
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq { items: Vec::new(), start: pos, anchor });
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map { entries: Vec::new(), key: None, start: pos, anchor });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, start, anchor }) => {
                    let node = Node { value: Value::Seq(items), pos: extend(start, pos) };
                    if anchor != 0 {
                        anchors.insert(anchor, node.clone());
                    }
                    node
                }
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { entries, start, anchor, .. }) => {
                    let entries = finish_map(entries, report);
                    let node = Node { value: Value::Map(entries), pos: extend(start, pos) };
                    if anchor != 0 {
                        anchors.insert(anchor, node.clone());
                    }
                    node
                }
                _ => continue,
            },
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Some(docs)
}

/// A collection's position: from its start marker to its end.
fn extend(start: Pos, end: Pos) -> Pos {
    Pos { end_line: end.end_line, end_col: end.end_col, ..start }
}

/// Applies `<<` merge keys, rejects non-scalar and duplicate keys.
fn finish_map(entries: Vec<(Node, Node)>, report: &mut Report) -> Vec<(Node, Node)> {
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries {
        let Value::Scalar(k) = &key.value else {
            report
                .error(key.pos, "mapping keys must be plain strings")
                .label("a list or mapping used as a key");
            continue;
        };
        if k.plain && k.text == "<<" {
            let sources = match &value.value {
                Value::Map(_) => vec![value],
                Value::Seq(items) => items.clone(),
                Value::Scalar(_) => vec![value],
            };
            for source in sources {
                match source.value {
                    Value::Map(inner) => merged.extend(inner),
                    _ => {
                        report
                            .error(source.pos, "a `<<` merge key needs a mapping (or a list of them)")
                            .label(format!("found {}", source.describe()));
                    }
                }
            }
            continue;
        }
        if let Some((first, _)) = out.iter().find(|(f, _)| f.key_text() == k.text) {
            let first_line = first.pos.line;
            report
                .error(key.pos, format!("duplicate key `{}`", k.text))
                .label("defined again here")
                .help(format!("the first `{}` is on line {first_line}; remove one of them", k.text));
            continue;
        }
        out.push((key, value));
    }
    for (key, value) in merged {
        if !out.iter().any(|(k, _)| k.key_text() == key.key_text()) {
            out.push((key, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::diagnostic::Sources;

    fn parse(text: &str) -> (Option<Vec<Document>>, Vec<crate::scenario::Diagnostic>) {
        let sources = Sources::new("t.yaml", text, vec![]);
        let mut report = Report::new(&sources);
        let docs = parse_stream(text, 0, 0, &mut report);
        (docs, report.finish())
    }

    #[test]
    fn keeps_text_quoting_and_positions() {
        let (docs, diags) = parse("a: 1.10\nb: \"8\"\nc:\n  - x\n---\n---\nd: ~\n");
        assert!(diags.is_empty());
        let docs = docs.unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].root.as_ref().is_none_or(Node::is_null));
        let root = docs[0].root.as_ref().unwrap();
        let a = root.get("a").unwrap();
        assert_eq!(a.as_scalar().unwrap().text, "1.10");
        assert_eq!((a.pos.line, a.pos.col, a.pos.end_col), (1, 4, 8));
        let b = root.get("b").unwrap().as_scalar().unwrap();
        assert_eq!((b.text.as_str(), b.plain), ("8", false));
        assert!(docs[2].root.as_ref().unwrap().get("d").unwrap().is_null());
    }

    #[test]
    fn aliases_and_merge_keys() {
        let (docs, diags) = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nz: *b\n");
        assert!(diags.is_empty(), "{diags:?}");
        let root = docs.unwrap()[0].root.clone().unwrap();
        let other = root.get("other").unwrap();
        assert_eq!(other.get("x").unwrap().key_text(), "1");
        assert_eq!(other.get("y").unwrap().key_text(), "3");
        assert_eq!(root.get("z").unwrap().pos.line, 5);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (_, diags) = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].line, diags[0].column), (3, 1));
        assert!(diags[0].message.contains("duplicate key `a`"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (docs, diags) = parse("spec:\n  replicas: 3\n   strategy: x\n");
        assert!(docs.is_none());
        assert_eq!((diags[0].line, diags[0].column), (3, 12));
        assert!(diags[0].message.starts_with("invalid YAML"));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            text += &format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            );
        }
        let (docs, diags) = parse(&text);
        assert!(docs.is_none());
        assert!(diags[0].message.contains("too many nodes"));
    }
}
