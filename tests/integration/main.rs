//! The integration tests: one binary (it links once). End-to-end tests of the CLI, property
//! tests of whole replications, the agreement of the two fidelities, the shipped strategy
//! scenarios, `rollsim slo-rules`, `rollsim sweep`, `trace --explain`, the terminal, and sharded, streamed and resumed runs.

mod cli;
mod common;
mod compare;
mod deploy;
mod explain;
mod fidelity;
mod fuzz;
mod plot;
mod properties;
mod recommend;
mod report;
mod robustness;
mod shard;
mod slo_rules;
mod strategies;
mod sweep;
mod terminal;
mod tune;
