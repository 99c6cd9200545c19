//! The analysis condition language (Argo's `successCondition`/`failureCondition`): parse,
//! then evaluate against a few results.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollsim::controllers::argo::condition::{MetricValue, evaluate_result_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for result in [MetricValue::Vector(vec![0.97, 1.0]), MetricValue::Scalar(f64::NAN)] {
        let _ = evaluate_result_str(&result, text, "");
        let _ = evaluate_result_str(&result, "", text);
    }
});
