//! Scenario bytes → what `rollsim validate` does (and one short replication of what loads).
//! Seed corpus: `fuzz/corpus/scenario/` (the shipped scenarios; see README).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollsim::experiment::world::{Collect, run_replication};
use rollsim::scenario::load_str;
use rollsim::traffic::Fidelity;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(scenario) = load_str("fuzz.yaml", text, &[]) {
        // Only cheap replications: the loader is the target, the work budget bounds the rest.
        if scenario.fidelity == Fidelity::Aggregated && scenario.duration / scenario.tick.max(1) <= 5_000 {
            let _ = run_replication(&scenario, 0, Collect::default());
        }
    }
});
