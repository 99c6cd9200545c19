//! Diagnostics: what went wrong, where (file, line, column) and what would be right,
//! rendered in rustc's style.
//!
//! Positions are kept as [`Pos`] (a source id plus a character range) while loading and are
//! resolved against [`Sources`] into a self-contained [`Diagnostic`] (with the offending
//! source line copied in) as soon as a problem is reported.

use std::fmt;

/// One problem in a scenario, pointing at the place that caused it.
///
/// `line` and `column` are 1-based and count characters; both are 0 when the problem has no
/// position (e.g. the file could not be read). Problems in an override have the flag that
/// gave it as `file` (`"--set"`, or `"--grid"` for `rollsim sweep`), `line == 1` and a column
/// inside the argument as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// What was wrong, e.g. "`replicas` must not be negative, found -3".
    pub message: String,
    /// What would be right, e.g. the valid keys or an example.
    pub help: Option<String>,
    /// A short note printed under the caret, e.g. "expected a whole number ≥ 0".
    pub label: String,
    /// The source line the diagnostic points into, if known.
    pub source_line: Option<String>,
    /// How many characters the caret underline spans (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Sets the note under the caret.
    pub fn label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = label.into();
        self
    }

    /// Sets the help line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = if self.line == 0 { 1 } else { digits(self.line) };
        let pad = " ".repeat(gutter);
        if self.line == 0 {
            write!(f, "{pad}--> {}", self.file)?;
        } else {
            write!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        }
        if let (Some(text), true) = (&self.source_line, self.line > 0) {
            write!(f, "\n{pad} |\n{} | {}", self.line, text.trim_end())?;
            // Reproduce tabs so the caret lines up under them.
            let indent: String = text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(self.width.max(1));
            write!(f, "\n{pad} | {indent}{carets}")?;
            if !self.label.is_empty() {
                write!(f, " {}", self.label)?;
            }
        }
        if let Some(help) = &self.help {
            let mut lines = help.lines();
            if let Some(first) = lines.next() {
                write!(f, "\n{pad} = help: {first}")?;
            }
            for line in lines {
                write!(f, "\n{pad}         {line}")?;
            }
        }
        Ok(())
    }
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Everything that made loading a scenario fail: every problem found, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        let n = self.diagnostics.len();
        if n > 1 {
            let file = &self.diagnostics[0].file;
            write!(f, "\n\nerror: could not load `{file}`: {n} problems")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Where a node came from: a source (0 = the scenario file, `k + 1` = the `k`-th override) and
/// a 1-based character range. `line == 0` means "no position".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub src: u32,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

impl Pos {
    /// A zero-width position at the start of the file.
    pub fn file_start() -> Pos {
        Pos { src: 0, line: 1, col: 1, end_line: 1, end_col: 1 }
    }
}

/// The texts diagnostics point into.
///
/// Source 0 is the scenario: one file, or several (`-f DIR -f FILE`) laid end to end, each
/// starting on the line after the previous one's last (plus one spare line for a problem at
/// its very end). A position's line is global; a diagnostic names the file it falls in and
/// the line inside that file.
pub(crate) struct Sources {
    pub file_name: String,
    /// Every file of the scenario, in order: its name and its first global line (1-based).
    files: Vec<(String, u32)>,
    lines: Vec<String>,
    /// Every override, in order: the flag that gave it (`--set`, `--grid`) and the argument
    /// as typed.
    overrides: Vec<(&'static str, String)>,
}

/// The file name used for diagnostics in `--set` overrides.
pub const OVERRIDE_FILE: &str = "--set";

impl Sources {
    pub fn new(file_name: &str, text: &str, overrides: Vec<(&'static str, String)>) -> Sources {
        Sources::files(&[(file_name, text)], overrides)
    }

    /// The sources of a scenario made of several files, in the order given.
    pub fn files(files: &[(&str, &str)], overrides: Vec<(&'static str, String)>) -> Sources {
        let mut lines = Vec::new();
        let mut starts = Vec::with_capacity(files.len());
        for (name, text) in files {
            starts.push((name.to_string(), lines.len() as u32 + 1));
            lines.extend(text.lines().map(str::to_string));
            lines.push(String::new());
        }
        let file_name = files.first().map_or_else(String::new, |(n, _)| n.to_string());
        Sources { file_name, files: starts, lines, overrides }
    }

    /// The line (global) at which the `index`-th file starts, and its text's line offset.
    pub fn line_offset(&self, index: usize) -> u32 {
        self.files.get(index).map_or(0, |(_, first)| first - 1)
    }

    /// The file a global line of source 0 falls in, and the line inside it.
    fn file_of(&self, line: u32) -> (&str, u32) {
        let at = self.files.partition_point(|(_, first)| *first <= line.max(1));
        match at.checked_sub(1).and_then(|i| self.files.get(i)) {
            Some((name, first)) if line > 0 => (name, line - first + 1),
            Some((name, _)) => (name, 0),
            None => (&self.file_name, line),
        }
    }

    fn name(&self, src: u32, line: u32) -> &str {
        match src {
            0 => self.file_of(line).0,
            _ => self.overrides.get(src as usize - 1).map_or(OVERRIDE_FILE, |(flag, _)| flag),
        }
    }

    /// `FILE:LINE` of a position, as messages that point at a second place write it.
    pub fn place(&self, pos: Pos) -> String {
        if pos.src == 0 {
            let (name, line) = self.file_of(pos.line);
            format!("{name}:{line}")
        } else {
            format!("{}:{}", self.name(pos.src, pos.line), pos.line)
        }
    }

    /// Several files make this scenario.
    pub fn several(&self) -> bool {
        self.files.len() > 1
    }

    pub(crate) fn line(&self, src: u32, line: u32) -> Option<&str> {
        if line == 0 {
            return None;
        }
        if src == 0 {
            self.lines.get(line as usize - 1).map(String::as_str)
        } else if line == 1 {
            self.overrides.get(src as usize - 1).map(|(_, text)| text.as_str())
        } else {
            None
        }
    }

    /// Builds a diagnostic for `pos`, copying in the source line.
    pub fn diagnostic(&self, pos: Pos, message: String) -> Diagnostic {
        let source_line = self.line(pos.src, pos.line).map(str::to_string);
        let width = match &source_line {
            Some(text) => {
                let len = text.trim_end().chars().count() as u32;
                let end = if pos.end_line == pos.line && pos.end_col > pos.col {
                    pos.end_col.min(len + 1)
                } else {
                    len + 1
                };
                end.saturating_sub(pos.col).max(1) as usize
            }
            None => 1,
        };
        let line = if pos.src == 0 { self.file_of(pos.line).1 } else { pos.line };
        Diagnostic {
            file: self.name(pos.src, pos.line).to_string(),
            line: line as usize,
            column: if pos.line == 0 { 0 } else { pos.col as usize },
            message,
            help: None,
            label: String::new(),
            source_line,
            width,
        }
    }
}

/// Collects diagnostics while loading.
pub(crate) struct Report<'s> {
    pub sources: &'s Sources,
    pub diagnostics: Vec<(Pos, Diagnostic)>,
}

impl<'s> Report<'s> {
    pub fn new(sources: &'s Sources) -> Self {
        Report { sources, diagnostics: Vec::new() }
    }

    /// Records a problem at `pos`; chain `.label(..)` and `.help(..)` on the result.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) -> &mut Diagnostic {
        let d = self.sources.diagnostic(pos, message.into());
        self.diagnostics.push((pos, d));
        &mut self.diagnostics.last_mut().expect("just pushed").1
    }

    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// The diagnostics in source order (file first, then the overrides), duplicates removed.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|(pos, _)| (pos.src, pos.line, pos.col));
        self.diagnostics.dedup_by(|a, b| a.1 == b.1);
        self.diagnostics.into_iter().map(|(_, d)| d).collect()
    }
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).flat_map(char::to_lowercase).collect()
    };
    let w = norm(word);
    if let Some(exact) = candidates.iter().find(|c| norm(c) == w) {
        return Some(exact);
    }
    let limit = (w.chars().count() / 3).max(1);
    let close = candidates
        .iter()
        .map(|c| (edit_distance(&w, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    // `normal` → `lognormal`, `errorRateFoo` → `errorRate`.
    let part_of = || {
        let contains = |c: &&&str| {
            let n = norm(c);
            w.len() >= 4 && n.len() >= 4 && (n.contains(&w) || w.contains(&n))
        };
        let mut found = candidates.iter().filter(contains);
        match (found.next(), found.next()) {
            (Some(c), None) => Some(*c),
            _ => None,
        }
    };
    close.or_else(part_of)
}

/// The candidate `word` is a misspelling of: the same but for case and separators, or at
/// most one edit in four characters away (`Deploymnet` → `Deployment`). Stricter than
/// [`did_you_mean`]: another word that merely contains a candidate (`Prometheus`,
/// `PrometheusRule`) is not a near miss.
pub(crate) fn near_miss<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).flat_map(char::to_lowercase).collect()
    };
    let w = norm(word);
    let limit = (w.chars().count() / 4).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&w, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// "`a`, `b`, `c`": a listing.
pub(crate) fn list_all(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// "`a`, `b` or `c`": a choice.
pub(crate) fn list_quoted(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let text = format!("{}  replicas: -3\n", "#\n".repeat(11));
        let sources = Sources::new("scenarios/bad.yaml", &text, vec![]);
        let pos = Pos { src: 0, line: 12, col: 13, end_line: 12, end_col: 15 };
        let mut d = sources.diagnostic(pos, "`replicas` must not be negative, found -3".into());
        d.label("expected a whole number ≥ 0").help("write a count such as `3`");
        let expected = "\
error: `replicas` must not be negative, found -3
  --> scenarios/bad.yaml:12:13
   |
12 |   replicas: -3
   |             ^^ expected a whole number ≥ 0
   = help: write a count such as `3`";
        assert_eq!(d.to_string(), expected);
    }

    #[test]
    fn renders_without_position() {
        let sources = Sources::new("missing.yaml", "", vec![]);
        let pos = Pos::default();
        let d = sources.diagnostic(pos, "cannot read".into());
        assert_eq!(d.to_string(), "error: cannot read\n --> missing.yaml");
        assert_eq!((d.line, d.column), (0, 0));
    }

    #[test]
    fn override_positions_use_set() {
        let sources = Sources::new("f.yaml", "", vec![("--set", "spec.seed=abc".into())]);
        let pos = Pos { src: 1, line: 1, col: 11, end_line: 1, end_col: 14 };
        let d = sources.diagnostic(pos, "bad".into());
        assert_eq!(d.file, "--set");
        assert_eq!(d.width, 3);
        assert!(d.to_string().contains("1 | spec.seed=abc\n  |           ^^^"), "{d}");
    }

    #[test]
    fn suggestions() {
        let keys = ["seed", "replications", "duration", "errorRate"];
        assert_eq!(did_you_mean("replicaitons", &keys), Some("replications"));
        assert_eq!(did_you_mean("error_rate", &keys), Some("errorRate"));
        assert_eq!(did_you_mean("sede", &keys), Some("seed"));
        assert_eq!(did_you_mean("banana", &keys), None);
        assert_eq!(did_you_mean("normal", &["fixed", "lognormal"]), Some("lognormal"));
        assert_eq!(did_you_mean("rate", &["errorRate", "rate"]), Some("rate"));
        assert_eq!(list_quoted(&["a", "b", "c"]), "`a`, `b` or `c`");
    }

    #[test]
    fn near_misses_are_typos_not_other_words() {
        let kinds = ["Deployment", "Service", "PrometheusRule", "Rollout", "Canary"];
        assert_eq!(near_miss("Deploymnet", &kinds), Some("Deployment"));
        assert_eq!(near_miss("deployment", &kinds), Some("Deployment"));
        assert_eq!(near_miss("Servise", &kinds), Some("Service"));
        assert_eq!(near_miss("Rollouts", &kinds), Some("Rollout"));
        for other in
            ["Prometheus", "PersistentVolumeClaim", "ServiceAccount", "Secret", "Role", "Pod", "ConfigMap"]
        {
            assert_eq!(near_miss(other, &kinds), None, "{other}");
        }
    }

    #[test]
    fn several_files_keep_their_own_lines() {
        let sources = Sources::files(&[("a.yaml", "x: 1\ny: 2\n"), ("dir/b.yaml", "z: 3\n")], vec![]);
        assert_eq!(sources.line_offset(1), 3);
        let pos = Pos { src: 0, line: 4, col: 4, end_line: 4, end_col: 5 };
        let d = sources.diagnostic(pos, "bad".into());
        assert_eq!((d.file.as_str(), d.line, d.column), ("dir/b.yaml", 1, 4));
        assert_eq!(d.source_line.as_deref(), Some("z: 3"));
        assert_eq!(sources.place(Pos { line: 2, ..pos }), "a.yaml:2");
    }
}
