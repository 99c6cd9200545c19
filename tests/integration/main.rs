//! The integration tests: one binary (it links once). End-to-end tests of the CLI, property
//! tests of whole replications, the agreement of the two fidelities, and the shipped strategy
//! scenarios.

mod cli;
mod common;
mod fidelity;
mod properties;
mod strategies;
