//! Controllers: the Kubernetes Deployment controller's decisions, as pure state machines over
//! views of ReplicaSets. They never touch pods directly: the world applies their actions.

pub mod argo;
pub mod deployment;
pub mod flagger;
pub mod hpa;
pub mod kayenta;
pub mod rolling;
pub mod service_switch;
pub mod spec;
pub use spec::*;
