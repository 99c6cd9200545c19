//! rollsim: a discrete-event simulator of software releases on Kubernetes.
//!
//! Layers, lowest first (a module may use those below it, never above): `engine` →
//! `cluster`, `traffic` → `telemetry` → `controllers` → `scenario` → `experiment` →
//! `report` → `cli`. See ARCHITECTURE.md.

pub mod engine;
pub mod cluster;
pub mod traffic;
pub mod telemetry;
pub mod controllers;
pub mod scenario;
pub mod experiment;
pub mod report;
pub mod cli;
