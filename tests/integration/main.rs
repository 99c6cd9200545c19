//! The integration tests: one binary (it links once). End-to-end tests of the CLI, property
//! tests of whole replications, the agreement of the two fidelities, the shipped strategy
//! scenarios, `rollsim slo-rules`, `rollsim sweep`, `trace --explain`, the terminal, sharded, streamed and resumed runs, and a real Prometheus as the oracle of the PromQL (`oracle`).

mod autoscale;
mod check;
mod cli;
mod common;
mod compare;
mod corpus;
mod deploy;
mod explain;
mod fidelity;
mod fuzz;
mod inputs;
mod oracle;
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
