//! Experiments: replications of a scenario, their records and statistics.

pub mod record;
pub mod runner;
pub mod stats;
pub mod world;
