//! Scenario files: the user's manifests plus one Simulation document, loaded and validated.

pub mod model;
pub use model::*;
