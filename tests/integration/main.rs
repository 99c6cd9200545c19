//! The integration tests: one binary (it links once). End-to-end tests of the CLI, property
//! tests of whole replications, and the agreement of the two fidelities.

mod cli;
mod common;
mod fidelity;
mod properties;
