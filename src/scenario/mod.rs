//! Scenario files: the user's manifests plus one Simulation document, loaded and validated.
//!
//! A scenario is one multi-document YAML file (or several read as one, [`Input`]): the
//! user's Kubernetes manifests, unchanged
//! (`apps/v1 Deployment`, `v1 Service`, `argoproj.io/v1alpha1 Rollout`, `AnalysisTemplate` and
//! `ClusterAnalysisTemplate`, `networking.istio.io` `VirtualService` and `DestinationRule`,
//! `flagger.app/v1beta1 Canary` and `MetricTemplate`, `monitoring.coreos.com/v1 PrometheusRule`,
//! `ServiceMonitor` and `PodMonitor`; fields the simulator does not read are ignored, and
//! documents of any other kind are skipped with a note), plus
//! exactly one `rollsim.dev/v1alpha1 Simulation` document (read strictly: unknown keys are
//! errors). [`load_file`] / [`load_str`] turn it into the validated [`Scenario`] of
//! [`model`], with every unit resolved and every default filled in.
//!
//! The layers, as in the style guide's Raw → validated split:
//! * `tree`: YAML → a tree of nodes that keep each scalar's text, quoting and position;
//! * `overrides`: `--set PATH=VALUE` (and `--grid`) edits of the Simulation's tree and of the
//!   manifests' (`Kind/name.path`);
//! * `decode`, `manifests`, `argo`, `analysis`, `istio`, `flagger`, `prometheus`, `simulation`:
//!   typed, checked reading of the trees;
//! * `load`: documents and kinds; `release`: `spec.release` resolved against the manifests
//!   into the [`Strategy`] (cross-document checks: workload, Services, subsets, versions,
//!   AnalysisTemplates, MetricTemplates); `prometheus::assemble`: the [`Monitoring`] of the
//!   Simulation, the PrometheusRules and the ServiceMonitors;
//! * `diagnostic`: rustc-style errors with file, line, column, caret and help;
//! * `units`: durations, ratios/percentages and Kubernetes quantities.
//!
//! Bad input never panics; every problem that can be found is reported at once, each
//! pointing at the offending value.

mod analysis;
mod argo;
mod budget;
mod decode;
mod diagnostic;
mod flagger;
mod hpa;
mod input;
mod istio;
mod kayenta;
mod load;
pub mod locate;
mod manifests;
pub mod model;
mod overrides;
mod prometheus;
mod release;
mod simulation;
mod tree;
pub mod units;
mod variants;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_monitoring;
#[cfg(test)]
mod tests_release;

pub use budget::check_total as check_total_work;
pub use diagnostic::{Diagnostic, OVERRIDE_FILE, ScenarioError};
pub use input::{Input, Part, STDIN_NAME, directory_files};
pub use load::{load_file, load_input, load_str};
pub use model::*;
pub use overrides::{GRID_FLAG, GridAxis, Origin, Override, SET_FLAG, parse_grid_axis, parse_override};
pub use variants::{VARIANT_FLAG, Variant};

/// The built-in example scenario (`scenarios/rolling-bad-release.yaml`).
pub const EXAMPLE_YAML: &str = include_str!("../../scenarios/rolling-bad-release.yaml");

/// The file name diagnostics use for [`EXAMPLE_YAML`].
pub const EXAMPLE_FILE_NAME: &str = "scenarios/rolling-bad-release.yaml";
