//! `spec.variants`: strategy variants one scenario defines, for `rollsim compare` and
//! `rollsim recommend` to run side by side with common random numbers.
//!
//! ```yaml
//! spec:
//!   variants:
//!   - name: surge-25
//!     set: {}                       # the file as written
//!   - name: surge-100
//!     set:
//!       Deployment/myapp.spec.strategy.rollingUpdate.maxSurge: 100%
//!       Deployment/myapp.spec.strategy.rollingUpdate.maxUnavailable: 0
//! ```
//!
//! Each entry of `set` is an override, exactly as `--set PATH=VALUE` would give it: the
//! variant is the scenario loaded with those overrides (before any `--set` typed on the
//! command line, which apply to every variant). The variants' structure and paths are
//! checked here, with positions in the file; whether a value suits its key is checked when
//! the variant is loaded, by the rules of the file itself. Paths may not change the seed or
//! the replication count, which the variants share so that their replications pair up.

use super::decode::{Fields, read_string};
use super::diagnostic::Report;
use super::overrides::{Origin, Override, Step, parse_path};
use super::tree::{Node, Value};

/// The source name a variant's override shows in diagnostics.
pub const VARIANT_FLAG: &str = "spec.variants";

/// One entry of `spec.variants`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// `name`: a label for tables and the output directory.
    pub name: String,
    /// `set`, in file order, as overrides.
    pub overrides: Vec<Override>,
}

/// Reads `spec.variants` (absent: no variants). Problems are reported at their place in
/// the file; `None` if any.
pub(crate) fn read_variants(report: &mut Report, spec: &mut Fields) -> Option<Vec<Variant>> {
    let path = spec.sub("variants");
    let Some(node) = spec.opt("variants") else {
        return Some(Vec::new());
    };
    let Value::Seq(items) = &node.value else {
        if node.is_null() {
            return Some(Vec::new());
        }
        report
            .error(node.pos, format!("`{path}` must be a list of variants, found {}", node.describe()))
            .label("expected a list")
            .help("e.g. `variants: [{name: surge-25, set: {}}, {name: surge-100, set: {Deployment/myapp.spec.strategy.rollingUpdate.maxSurge: 100%}}]`");
        return None;
    };
    let mut variants = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(mut fields) = Fields::new(report, item, item.pos, item_path.clone()) else {
            ok = false;
            continue;
        };
        let name = fields.req(report, "name", "surge-100").and_then(|n| {
            let name = read_string(report, n, &format!("{item_path}.name"))?;
            if let Err(why) = check_name(&name) {
                report
                    .error(n.pos, format!("`{item_path}.name` {why}"))
                    .label("not a usable variant name")
                    .help("use letters, digits, `-`, `_` and `.`: the name labels a table column and names a directory");
                return None;
            }
            if let Some(first) = variants.iter().position(|v: &Variant| v.name == name) {
                report
                    .error(n.pos, format!("the variant name `{name}` is used twice"))
                    .label("a second variant of this name")
                    .help(format!("`{path}[{first}]` has it already; give each variant its own name"));
                return None;
            }
            Some(name)
        });
        let set = fields.req(report, "set", "{Deployment/myapp.spec.replicas: 6}");
        fields.deny_unknown(report);
        let overrides = set.and_then(|set| read_set(report, set, &format!("{item_path}.set")));
        match (name, overrides) {
            (Some(name), Some(overrides)) => variants.push(Variant { name, overrides }),
            _ => ok = false,
        }
    }
    ok.then_some(variants)
}

/// A name that becomes a directory under `--out` and a CSV cell and HTML text: letters,
/// digits, `-`, `_` and `.`, starting with a letter or digit (so no `/`, `..`, NUL, no option-
/// like `-x` and no spreadsheet formula `=…`, `+…`, `-…`, `@…`), at most 253 bytes.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > 253 {
        return Err("is longer than 253 characters");
    }
    if name.starts_with('.') {
        return Err("starts with a dot");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err("may hold only letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

/// Reads one variant's `set` mapping into overrides (an empty or null mapping is the file
/// as written).
fn read_set(report: &mut Report, set: &Node, what: &str) -> Option<Vec<Override>> {
    let entries: &[(Node, Node)] = match &set.value {
        Value::Map(entries) => entries,
        _ if set.is_null() => &[],
        _ => {
            report
                .error(
                    set.pos,
                    format!("`{what}` must be a mapping of PATH: VALUE, found {}", set.describe()),
                )
                .label("expected `PATH: VALUE` pairs")
                .help("e.g. `set: {Deployment/myapp.spec.replicas: 6, spec.traffic.rps: 900}`");
            return None;
        }
    };
    let mut overrides = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (key, value) in entries {
        let path = key.key_text().to_string();
        match check_path(&path) {
            Ok(()) => {
                let value = flow_text(value, true);
                let value_start = path.chars().count() as u32 + 1;
                let origin = Origin { flag: VARIANT_FLAG, text: format!("{path}={value}"), value_start };
                overrides.push(Override { path, value, origin });
            }
            Err((label, help)) => {
                report
                    .error(key.pos, format!("`{what}`: `{path}` {label}"))
                    .label("not an override path")
                    .help(help);
                ok = false;
            }
        }
    }
    ok.then_some(overrides)
}

/// Checks that `path` parses, starts at the Simulation or a manifest, and leaves the
/// shared numbers alone; on failure, what is wrong and what would be right.
fn check_path(path: &str) -> Result<(), (String, String)> {
    let segments = parse_path(path).map_err(|(col, msg)| {
        (
            format!("is not a valid path: {msg} (at character {col})"),
            "paths look like `spec.traffic.rps`, `spec.versions[\"myapp:2.0\"].errorRate` or `Deployment/myapp.spec.replicas`"
                .to_string(),
        )
    })?;
    let keys: Vec<&str> = segments
        .iter()
        .map(|s| match &s.step {
            Step::Key { name, .. } => name.as_str(),
            Step::Index(_) => "",
        })
        .collect();
    match keys.as_slice() {
        ["spec", "seed" | "replications" | "variants", ..] => Err((
            "may not be changed by a variant".to_string(),
            "variants share the seed and the replication count, so that replication i of each meets the same \
             traffic and faults (common random numbers); set them once in the Simulation, or with --seed and -n"
                .to_string(),
        )),
        ["spec" | "metadata", _, ..] => Ok(()),
        [first, ..] if first.contains('/') && keys.len() > 1 => Ok(()),
        _ => Err((
            "does not name a value of the Simulation or of a manifest".to_string(),
            format!(
                "paths start at the Simulation's root (`spec.…`) or at a manifest (`Kind/name.…`); did you mean `spec.{path}`?"
            ),
        )),
    }
}

/// `node` as one line of YAML that parses back to it: plain scalars as written (so numbers
/// stay numbers), quoted ones double-quoted, mappings and lists in flow style.
fn flow_text(node: &Node, top: bool) -> String {
    match &node.value {
        Value::Scalar(s) if s.plain && (top || is_flow_safe(&s.text)) => s.text.clone(),
        Value::Scalar(s) => quoted(&s.text),
        Value::Seq(items) => {
            let items: Vec<String> = items.iter().map(|n| flow_text(n, false)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", flow_text(k, false), flow_text(v, false)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A plain scalar that means the same inside a flow collection.
fn is_flow_safe(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(['\n', ',', '[', ']', '{', '}', '#', '"', '\''])
        && !text.contains(": ")
        && !text.ends_with(':')
        && !text.starts_with(['&', '*', '!', '|', '>', '%', '@', '`', '?', '-', ' '])
        && !text.ends_with(' ')
        || text.parse::<f64>().is_ok()
}

/// A YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::diagnostic::Sources;
    use crate::scenario::tree;

    fn parse(text: &str) -> Node {
        let sources = Sources::new("t.yaml", text, Vec::new());
        let mut report = Report::new(&sources);
        let docs = tree::parse_stream(text, 0, 0, &mut report).expect("valid YAML");
        docs.into_iter().next().and_then(|d| d.root).expect("one document")
    }

    /// Strips positions, which differ between the file and the one-line text.
    fn shape(node: &Node) -> String {
        match &node.value {
            Value::Scalar(s) => format!("{}{:?}", if s.plain { "plain" } else { "str" }, s.text),
            Value::Seq(items) => format!("[{}]", items.iter().map(shape).collect::<Vec<_>>().join(",")),
            Value::Map(e) => {
                format!(
                    "{{{}}}",
                    e.iter().map(|(k, v)| format!("{}={}", shape(k), shape(v))).collect::<Vec<_>>().join(",")
                )
            }
        }
    }

    #[test]
    fn flow_text_parses_back_to_the_same_value() {
        for text in [
            "900",
            "99.5%",
            "myapp:2.0",
            "\"quoted, with comma\"",
            "'it''s'",
            "null",
            "{kind: lognormal, median: 20s, p99: 60s}",
            "kind: fixed\nvalue: 1m\n",
            "- setWeight: 20\n- pause: {duration: 5m}\n- pause: {}\n",
            "[a, \"b, c\", {x: \"y: z\"}, -1.5, '#tag']",
            "\"line\\nbreak \\\"q\\\" back\\\\slash\"",
        ] {
            let node = parse(text);
            let line = flow_text(&node, true);
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(shape(&parse(&line)), shape(&node), "{text:?} → {line:?}");
        }
    }

    #[test]
    fn paths_must_name_a_value_and_leave_the_shared_numbers_alone() {
        assert!(check_path("spec.traffic.rps").is_ok());
        assert!(check_path("Deployment/myapp.spec.strategy.rollingUpdate.maxSurge").is_ok());
        assert!(check_path("spec.versions[\"myapp:2.0\"].errorRate").is_ok());
        for bad in [
            "spec.seed",
            "spec.replications",
            "spec.variants[0].name",
            "traffic.rps",
            "spec",
            "Deployment/myapp",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("spec.traffic..rps").unwrap_err().0.contains("not a valid path"));
    }

    #[test]
    fn names_label_columns_and_directories() {
        assert!(check_name("surge-100").is_ok());
        assert!(check_name("v1.2_b").is_ok());
        for bad in ["", ".hidden", "a b", "a/b", "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
