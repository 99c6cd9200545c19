//! rollsim: a discrete-event simulator of software releases on Kubernetes.
//!
//! Layers, lowest first (a module may use those below it, never above): `engine` →
//! `cluster`, `traffic` → `telemetry` → `controllers` → `scenario` → `experiment` →
//! `report` → `cli`. See ARCHITECTURE.md.

pub mod cli;
pub mod cluster;
pub mod controllers;
pub mod engine;
pub mod experiment;
pub mod report;
pub mod scenario;
pub mod telemetry;
pub mod traffic;
