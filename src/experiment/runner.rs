//! Runs the replications of a scenario in parallel. Each replication draws only from its
//! own streams (seeded by scenario seed and index) and results are collected in index
//! order, so the output is identical for any thread count.

use super::record::ReplicationResult;
use super::world::{Collect, run_replication};
use crate::scenario::Scenario;
use rayon::prelude::*;

/// Which replications, and what to collect from them.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunPlan {
    /// Worker threads (`None`: rayon's default, one per core).
    pub threads: Option<usize>,
    /// The replication whose timeline is kept.
    pub timeline_of: Option<u64>,
    /// The replication whose event log is kept.
    pub trace_of: Option<u64>,
}

/// Runs replications `0..scenario.replications`, in index order.
pub fn run_all(scenario: &Scenario, plan: RunPlan) -> Vec<ReplicationResult> {
    run_range(scenario, 0..scenario.replications, plan)
}

/// Runs the given replications; the result is in the range's order.
pub fn run_range(scenario: &Scenario, range: std::ops::Range<u64>, plan: RunPlan) -> Vec<ReplicationResult> {
    let work = || {
        range
            .clone()
            .into_par_iter()
            .map(|i| {
                let collect = Collect {
                    timeline: plan.timeline_of == Some(i),
                    trace: plan.trace_of == Some(i),
                    store: false,
                };
                run_replication(scenario, i, collect)
            })
            .collect::<Vec<_>>()
    };
    match plan.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .expect("a thread pool")
            .install(work),
        None => work(),
    }
}
