//! Experiments: replications of a scenario, their records and statistics.

pub mod check;
pub mod paired;
pub mod recommend;
pub mod record;
pub mod runner;
pub mod selection;
pub mod stats;
pub mod tune;
pub mod world;
