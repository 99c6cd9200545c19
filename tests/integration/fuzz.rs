//! A structured fuzz test in the normal suite (issue 16): the shipped scenarios, mutated
//! (numbers set to extremes, lines dropped or doubled, bytes inserted, the text cut), go
//! through the library's entry points as `validate` and `run` do. Every input must load or be
//! refused (exit 2), and one that loads must simulate without a panic; each case is bounded
//! in time. A fixed seed makes CI run the same cases; `cargo fuzz` (see README) explores.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rollsim::experiment::world::{Collect, run_replication};
use rollsim::scenario::{Override, load_str, parse_override};
use rollsim::traffic::Fidelity;
use std::path::Path;
use std::time::{Duration, Instant};

/// Every shipped scenario's text, read once.
fn corpus() -> &'static [(String, String)] {
    static CORPUS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        files.into_iter().map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap())).collect()
    })
}

/// Numbers that found defects, or that sit at a type's edge.
const EXTREMES: [&str; 16] = [
    "1e300",
    "-1e300",
    "1e30",
    "99999999999999999999",
    "18446744073709551615",
    "4294967296",
    "2147483648",
    "-1",
    "0",
    "1e-300",
    ".nan",
    ".inf",
    "1e9",
    "36500d",
    "0.0000001",
    "\"\"",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// The `n`th number of the text (counting runs of digits outside comments) becomes `to`.
    Number {
        n: usize,
        to: &'static str,
    },
    DropLine(usize),
    DoubleLine(usize),
    Insert {
        at: usize,
        text: &'static str,
    },
    Cut(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), prop::sample::select(EXTREMES.to_vec())).prop_map(|(n, to)| Mutation::Number { n, to }),
        1 => any::<usize>().prop_map(Mutation::DropLine),
        1 => any::<usize>().prop_map(Mutation::DoubleLine),
        1 => (any::<usize>(), prop::sample::select(vec!["&a ", "*a", "[", "{", ": ", "- ", "\t", "\"", "'", "\u{0}", "<<: *a\n", "---\n"]))
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        1 => any::<usize>().prop_map(Mutation::Cut),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match m {
        Mutation::Number { n, to } => {
            // Runs of digits (with `.`/`e`) on the value side of `key: value` lines.
            let mut spots = Vec::new();
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let body = line.split('#').next().unwrap_or("");
                if let Some(colon) = body.find(": ") {
                    let bytes = body.as_bytes();
                    let mut i = colon + 2;
                    while i < bytes.len() {
                        if bytes[i].is_ascii_digit() {
                            let start = i;
                            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                                i += 1;
                            }
                            spots.push((offset + start, offset + i));
                        } else {
                            i += 1;
                        }
                    }
                }
                offset += line.len();
            }
            if spots.is_empty() {
                return text.to_string();
            }
            let (a, b) = spots[n % spots.len()];
            format!("{}{}{}", &text[..a], to, &text[b..])
        }
        Mutation::DropLine(i) => {
            let i = i % lines.len().max(1);
            lines.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect::<Vec<_>>().join("\n")
        }
        Mutation::DoubleLine(_) if lines.is_empty() => String::new(),
        Mutation::DoubleLine(i) => {
            let i = i % lines.len();
            let mut out = lines.clone();
            out.insert(i, lines[i]);
            out.join("\n")
        }
        Mutation::Insert { at, text: t } => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            format!("{}{}{}", &text[..at], t, &text[at..])
        }
        Mutation::Cut(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
    }
}

/// What `rollsim run` would do with the text: 2 when it is refused, 0 when it runs. The
/// replication is simulated only when it is cheap (the point is the loader's checks; a valid
/// long scenario is the work budget's business).
fn run(name: &str, text: &str, overrides: &[Override]) -> i32 {
    match load_str(name, text, overrides) {
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "a refusal says why");
            2
        }
        Ok(scenario) => {
            let ticks = scenario.duration / scenario.tick.max(1);
            if scenario.fidelity == Fidelity::Aggregated && ticks <= 20_000 {
                let _ = run_replication(&scenario, 0, Collect::default());
            }
            0
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        rng_seed: RngSeed::Fixed(16),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Mutated shipped scenarios load or are refused, and what loads simulates: no panic, no
    /// hang.
    #[test]
    fn mutated_scenarios_load_or_are_refused_and_never_panic(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (name, text) = &corpus()[file.index(corpus().len())];
        let mut mutated = text.clone();
        for m in &mutations {
            mutated = apply(&mutated, m);
        }
        let started = Instant::now();
        let code = run(name, &mutated, &[]);
        prop_assert!(code == 0 || code == 2);
        prop_assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    /// `--set KEY=VALUE` texts of brackets, quotes and extremes: parsed or refused, and the
    /// scenario they change loads or is refused.
    #[test]
    fn set_overrides_parse_or_are_refused(
        key in prop::sample::select(vec![
            "spec.traffic.rps", "spec.duration", "spec.replications", "spec.tick",
            "spec.versions[\"myapp:2.0\"].errorRate", "spec.traffic.pattern", "spec.pods.capacityRps",
            "Deployment/myapp.spec.replicas", "spec.cluster.nodes", "spec.x[0", "spec..a", "[\"", "Kind/.",
        ]),
        value in prop::sample::select([&EXTREMES[..], &["{kind: steps, steps: [{at: 1m, rps: 1e300}]}", "[", "{", "*a", "&a x", "a: b: c"]].concat()),
    ) {
        let (name, text) = corpus().iter().find(|(n, _)| n.ends_with("rolling-bad-release.yaml")).unwrap();
        let started = Instant::now();
        let code = match parse_override(&format!("{key}={value}")) {
            Err(_) => 2,
            Ok(o) => run(name, text, &[o]),
        };
        prop_assert!(code == 0 || code == 2);
        prop_assert!(started.elapsed() < Duration::from_secs(10));
    }
}

/// The crashers the campaign of issue 16 found, minimised, stay fixed.
#[test]
fn the_crashers_found_stay_fixed() {
    let flagger = &corpus().iter().find(|(n, _)| n.ends_with("flagger-canary.yaml")).unwrap().1;
    for rps in ["1e300", "1e30", "99999999999999999999"] {
        let text = flagger.replacen("    rps: 200 ", &format!("    rps: {rps} "), 1);
        assert_eq!(run("flagger-canary.yaml", &text, &[]), 2, "rps {rps}");
    }
    let analysis = &corpus().iter().find(|(n, _)| n.ends_with("argo-analysis-success-rate.yaml")).unwrap().1;
    let deep = format!("successCondition: \"{}result[0]{} >= 0.95\"", "(".repeat(5000), ")".repeat(5000));
    let text = analysis.replacen("successCondition: result[0] >= 0.95", &deep, 1);
    assert_ne!(&text, analysis);
    assert_eq!(run("argo-analysis-success-rate.yaml", &text, &[]), 2);
}

/// A huge number of seconds in a PromQL range or offset (a rule's `expr`, an AnalysisTemplate
/// query, a Kayenta template, a Flagger MetricTemplate) panicked inside promql-parser; it is
/// refused (exit 2) in every shipped scenario that has a range.
#[test]
fn huge_promql_durations_are_refused_in_every_kind_of_query() {
    let mut refused = Vec::new();
    for (name, text) in corpus() {
        // The first `[5m]`-style range of the file.
        let Some(at) = text.match_indices('[').map(|(i, _)| i).find(|&i| {
            let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
            if text[line_start..i].contains('#') {
                return false;
            }
            let rest = &text.as_bytes()[i + 1..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            digits > 0
                && rest.get(digits).is_some_and(|b| b"smhd".contains(b))
                && rest.get(digits + 1) == Some(&b']')
        }) else {
            continue;
        };
        let end = at + text[at..].find(']').unwrap() + 1;
        for huge in
            ["[1e300]", "[1e30]", "[99999999999999999999]", &format!("{} offset 1e300", &text[at..end])]
        {
            let mutated = format!("{}{huge}{}", &text[..at], &text[end..]);
            assert_eq!(run(name, &mutated, &[]), 2, "{name} with {huge}");
        }
        refused.push(name.rsplit('/').next().unwrap().to_string());
    }
    for kind in [
        "argo-canary-steps.yaml",
        "argo-analysis-success-rate.yaml",
        "argo-kayenta-canary.yaml",
        "flagger-canary.yaml",
    ] {
        assert!(refused.iter().any(|n| n == kind), "{kind} has no range: {refused:?}");
    }
}
