//! `--set KEY=VALUE` text → the override parser, then the override applied to a scenario.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollsim::scenario::{load_str, parse_override};

const BASE: &str = include_str!("../../scenarios/rolling-healthy.yaml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(o) = parse_override(text) {
        let _ = load_str("rolling-healthy.yaml", BASE, &[o]);
    }
});
