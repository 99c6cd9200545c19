//! Where the metrics of a scenario file's AnalysisTemplates are written, for a tool that
//! edits them by override (`rollsim tune --analysis`) and must point at the text it refuses.
//!
//! Reads only the documents of kind `AnalysisTemplate` and `ClusterAnalysisTemplate`, and only
//! what a metric is called, its `successCondition` and whether its provider is Kayenta. The
//! file is assumed to have loaded (a document it cannot make sense of is skipped here).

use super::diagnostic::{Diagnostic, Pos, ScenarioError, Sources};
use super::tree::{self, Node, Value};

/// One metric of a template, as written.
#[derive(Clone, Debug)]
pub struct MetricSource {
    /// Its index in `spec.metrics`.
    pub index: usize,
    /// `name`, as written (may hold `{{args.…}}`).
    pub name: String,
    /// `successCondition`, as written (`None`: not given).
    pub success_condition: Option<String>,
    /// `failureLimit`, as written.
    pub failure_limit: Option<String>,
    /// The provider is `kayenta`.
    pub kayenta: bool,
    pos: Pos,
    success_pos: Option<Pos>,
    provider_pos: Option<Pos>,
}

/// An AnalysisTemplate or ClusterAnalysisTemplate, as written.
#[derive(Clone, Debug)]
pub struct TemplateSource {
    /// `AnalysisTemplate` or `ClusterAnalysisTemplate`.
    pub kind: &'static str,
    pub name: String,
    pub metrics: Vec<MetricSource>,
    pos: Pos,
}

/// Which part of a metric a message points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricField {
    /// The metric's list item.
    Metric,
    /// Its `successCondition` (the item when there is none).
    SuccessCondition,
    /// Its `provider` (the item when there is none).
    Provider,
}

/// The analysis templates of one scenario file, with the text to point into.
pub struct AnalysisSources {
    sources: Sources,
    pub templates: Vec<TemplateSource>,
}

impl AnalysisSources {
    /// Reads the templates of `text` (`file_name` is what messages call it).
    pub fn read(file_name: &str, text: &str) -> Result<AnalysisSources, ScenarioError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let sources = Sources::new(file_name, text, Vec::new());
        let mut report = super::diagnostic::Report::new(&sources);
        let docs = tree::parse_stream(text, 0, 0, &mut report);
        let diagnostics = report.finish();
        let Some(docs) = docs.filter(|_| diagnostics.is_empty()) else {
            return Err(ScenarioError { diagnostics });
        };
        let templates = docs.iter().filter_map(|d| d.root.as_ref()).filter_map(template).collect();
        Ok(AnalysisSources { sources, templates })
    }

    /// The template of this name (an AnalysisTemplate before a ClusterAnalysisTemplate).
    pub fn template(&self, name: &str) -> Option<&TemplateSource> {
        let mut named: Vec<&TemplateSource> = self.templates.iter().filter(|t| t.name == name).collect();
        named.sort_by_key(|t| t.kind != "AnalysisTemplate");
        named.first().copied()
    }

    /// A message at `field` of `metric`, with a label under it and a help line.
    pub fn error_at_metric(
        &self,
        metric: &MetricSource,
        field: MetricField,
        message: String,
        label: &str,
        help: &str,
    ) -> ScenarioError {
        let pos = match field {
            MetricField::Metric => metric.pos,
            MetricField::SuccessCondition => metric.success_pos.unwrap_or(metric.pos),
            MetricField::Provider => metric.provider_pos.unwrap_or(metric.pos),
        };
        self.error(pos, message, label, help)
    }

    /// A message at the template's `metadata.name`.
    pub fn error_at_template(
        &self,
        template: &TemplateSource,
        message: String,
        label: &str,
        help: &str,
    ) -> ScenarioError {
        self.error(template.pos, message, label, help)
    }

    fn error(&self, pos: Pos, message: String, label: &str, help: &str) -> ScenarioError {
        let mut d: Diagnostic = self.sources.diagnostic(pos, message);
        d.label(label).help(help);
        ScenarioError { diagnostics: vec![d] }
    }
}

fn scalar(node: &Node) -> Option<String> {
    node.as_scalar().map(|s| s.text.clone())
}

fn template(root: &Node) -> Option<TemplateSource> {
    let kind = match root.get("kind").and_then(scalar).as_deref() {
        Some("AnalysisTemplate") => "AnalysisTemplate",
        Some("ClusterAnalysisTemplate") => "ClusterAnalysisTemplate",
        _ => return None,
    };
    let name_node = root.get("metadata")?.get("name")?;
    let name = scalar(name_node)?;
    let metrics = match root.get("spec").and_then(|s| s.get("metrics")).map(|m| &m.value) {
        Some(Value::Seq(items)) => items.iter().enumerate().filter_map(|(i, m)| metric(i, m)).collect(),
        _ => Vec::new(),
    };
    Some(TemplateSource { kind, name, metrics, pos: name_node.pos })
}

fn metric(index: usize, node: &Node) -> Option<MetricSource> {
    let name = scalar(node.get("name")?)?;
    let success = node.get("successCondition").filter(|n| !n.is_null());
    let provider = node.get("provider");
    Some(MetricSource {
        index,
        name,
        success_condition: success.and_then(scalar),
        failure_limit: node.get("failureLimit").and_then(scalar),
        kayenta: provider.and_then(|p| p.get("kayenta")).is_some(),
        pos: node.pos,
        success_pos: success.map(|n| n.pos),
        provider_pos: provider.map(|n| n.pos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r"apiVersion: v1
kind: Service
metadata: {name: x}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: rate
spec:
  metrics:
    - name: ok
      successCondition: result[0] >= 0.95
      provider: {prometheus: {query: up}}
    - name: judge
      failureLimit: 1
      provider:
        kayenta: {}
";

    #[test]
    fn finds_the_metrics_and_points_at_their_fields() {
        let file = AnalysisSources::read("f.yaml", TEXT).unwrap();
        assert_eq!(file.templates.len(), 1);
        let t = file.template("rate").unwrap();
        assert_eq!(t.kind, "AnalysisTemplate");
        let names: Vec<&str> = t.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ok", "judge"]);
        assert_eq!(t.metrics[0].success_condition.as_deref(), Some("result[0] >= 0.95"));
        assert!(!t.metrics[0].kayenta && t.metrics[1].kayenta);
        assert_eq!(t.metrics[1].failure_limit.as_deref(), Some("1"));
        let e = file.error_at_metric(&t.metrics[0], MetricField::SuccessCondition, "m".into(), "l", "h");
        let d = &e.diagnostics[0];
        assert_eq!((d.file.as_str(), d.line, d.column), ("f.yaml", 12, 25));
        let e = file.error_at_metric(&t.metrics[1], MetricField::Provider, "m".into(), "l", "h");
        assert_eq!(e.diagnostics[0].line, 17);
        assert!(file.template("other").is_none());
    }
}
