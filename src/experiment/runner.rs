//! Runs the replications of a scenario in parallel. Each replication draws only from its
//! own streams (seeded by scenario seed and index) and results are collected in index
//! order, so the output is identical for any thread count.
//!
//! [`run_range`] collects every result; [`run_streaming`] hands each to a sink as soon as
//! it and all before it are done, keeping only a bounded window of results in memory.

use super::record::ReplicationResult;
use super::world::{Collect, run_replication};
use crate::scenario::Scenario;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

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

/// How many results, per worker thread, may wait for an earlier one in [`run_streaming`].
const WINDOW_PER_THREAD: u64 = 4;

/// Runs the given replications on `plan.threads` workers (default: rayon's thread count)
/// and calls `sink` with each result **in index order**, as soon as it and every earlier
/// one are done: a reorder buffer of at most `WINDOW_PER_THREAD × threads` results, so
/// memory does not grow with the range. Workers take indices in increasing order and wait
/// while they are a window ahead of the sink, so the smallest unfinished index is always
/// running (no deadlock).
///
/// The first error of `sink` stops the run: workers finish the replication in hand and take
/// no more, and that error is returned. The sink sees exactly the results
/// [`run_range`] would return, in the same order.
pub fn run_streaming<E>(
    scenario: &Scenario,
    range: std::ops::Range<u64>,
    plan: RunPlan,
    mut sink: impl FnMut(ReplicationResult) -> Result<(), E>,
) -> Result<(), E> {
    let threads = plan.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let window = WINDOW_PER_THREAD * threads as u64;
    let next = AtomicU64::new(range.start);
    let stop = AtomicBool::new(false);
    // The next index the sink expects, and the signal that it moved.
    let emitted = (Mutex::new(range.start), Condvar::new());
    let (tx, rx) = mpsc::channel::<(u64, ReplicationResult)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, emitted, end) = (&next, &stop, &emitted, range.end);
            s.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    let mut expected = emitted.0.lock().expect("no worker panics holding it");
                    while i >= *expected + window && !stop.load(Ordering::Relaxed) {
                        expected = emitted.1.wait(expected).expect("no worker panics holding it");
                    }
                    drop(expected);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let collect = Collect {
                        timeline: plan.timeline_of == Some(i),
                        trace: plan.trace_of == Some(i),
                        store: false,
                    };
                    let result = run_replication(scenario, i, collect);
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = range.start;
        let mut outcome = Ok(());
        for (i, result) in &rx {
            assert!(i >= want && !pending.contains_key(&i), "replication {i} delivered twice");
            pending.insert(i, result);
            while let Some(result) = pending.remove(&want) {
                assert_eq!(result.record.replication, want, "results out of order");
                outcome = sink(result);
                want += 1;
                *emitted.0.lock().expect("no worker panics holding it") = want;
                emitted.1.notify_all();
                if outcome.is_err() {
                    break;
                }
            }
            assert!(pending.len() as u64 <= window, "the reorder buffer outgrew its window");
            if outcome.is_err() {
                stop.store(true, Ordering::Relaxed);
                // Wake waiting workers; taking the lock orders the store before their check.
                drop(emitted.0.lock().expect("no worker panics holding it"));
                emitted.1.notify_all();
                break;
            }
        }
        drop(rx);
        if outcome.is_ok() {
            assert_eq!(want, range.end.max(range.start), "every replication reached the sink");
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(replications: u64) -> Scenario {
        let overrides = [
            crate::scenario::Override::new("spec.duration", "20m"),
            crate::scenario::Override::new("spec.release.at", "5m"),
            crate::scenario::Override::new("spec.replications", replications.to_string()),
        ];
        crate::scenario::load_str("example", crate::scenario::EXAMPLE_YAML, &overrides).unwrap()
    }

    #[test]
    fn streaming_gives_the_collected_results_in_order_at_any_thread_count() {
        let s = scenario(9);
        let plan = RunPlan { threads: Some(2), timeline_of: Some(3), trace_of: None };
        let all = run_range(&s, 2..9, plan);
        for threads in [1, 2, 5] {
            let mut seen = Vec::new();
            let plan = RunPlan { threads: Some(threads), ..plan };
            run_streaming(&s, 2..9, plan, |r| {
                seen.push(r);
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!(seen.len(), all.len());
            for (a, b) in seen.iter().zip(&all) {
                assert_eq!(a.record, b.record);
                assert_eq!(a.timeline, b.timeline);
            }
            assert!(!seen[1].timeline.is_empty() && seen[0].timeline.is_empty());
        }
        run_streaming(&s, 4..4, plan, |_| Err("an empty range calls no sink")).unwrap();
    }

    #[test]
    fn a_sink_error_stops_the_run() {
        let s = scenario(40);
        let mut calls = 0;
        let plan = RunPlan { threads: Some(2), ..RunPlan::default() };
        let err = run_streaming(&s, 0..40, plan, |r| {
            calls += 1;
            if r.record.replication == 2 { Err("disk full") } else { Ok(()) }
        });
        assert_eq!(err, Err("disk full"));
        assert_eq!(calls, 3);
    }
}
