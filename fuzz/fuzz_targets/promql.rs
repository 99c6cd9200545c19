//! The PromQL parser and evaluator: the size pre-scan, parsing, and an instant evaluation at a
//! few times over a small store (two counters with a reset, a histogram's buckets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollsim::engine::SECOND;
use rollsim::telemetry::promql::{Store, labels, parse};

fn store() -> Store {
    let mut s = Store::new();
    for (pod, code) in [("a", "200"), ("b", "500")] {
        let l = labels(&[("__name__", "http_requests_total"), ("pod", pod), ("status", code)]);
        for i in 0..40u64 {
            // A counter that resets half-way.
            let v = if i < 20 { i as f64 * 3.0 } else { (i - 20) as f64 };
            s.append(&l, i * 15 * SECOND, v);
        }
    }
    for le in ["0.1", "0.5", "+Inf"] {
        let l = labels(&[("__name__", "http_request_duration_seconds_bucket"), ("le", le)]);
        for i in 0..40u64 {
            s.append(&l, i * 15 * SECOND, i as f64 * le.len() as f64);
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(query) = parse(text) else { return };
    let s = store();
    for t in [0, 5 * 60 * SECOND, 10 * 60 * SECOND] {
        let _ = query.eval_instant(&s, t);
    }
});
