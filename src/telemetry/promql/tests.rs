//! Vectors from prometheus/prometheus `promql/promqltest/testdata/*.test`, loaded in their
//! `load <step>` notation and evaluated with `eval instant at <t>` as upstream does. Each
//! table names its upstream file; only the parts inside the supported subset are carried.

use super::*;
use crate::engine::SECOND;

/// One label set in promqltest notation: `name{k="v", …}`, `{k="v"}` or `name`. Values in
/// the test data contain no commas or escaped quotes.
fn parse_labels(s: &str) -> Labels {
    let s = s.trim();
    let (name, body) = match s.find('{') {
        Some(i) => (&s[..i], &s[i + 1..s.rfind('}').expect("closing brace")]),
        None => (s, ""),
    };
    let mut out = Labels::new();
    if !name.is_empty() {
        out.insert(METRIC_NAME.to_string(), name.to_string());
    }
    for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').expect("k=\"v\"");
        out.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
    }
    out
}

fn parse_number(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "Inf" | "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad number {s:?}")),
    }
}

/// promqltest's values: numbers, `_` (no sample), `a+bxN` / `a-bxN` (N + 1 values from a in
/// steps of b), `axN` (a, N + 1 times) and `_xN`.
fn expand(token: &str) -> Vec<Option<f64>> {
    let Some((base, n)) = token.split_once('x') else {
        return vec![(token != "_").then(|| parse_number(token))];
    };
    let n: usize = n.parse().expect("repeat count");
    if base == "_" {
        return vec![None; n + 1];
    }
    let bytes = base.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (start, step) = match split {
        Some(i) => (parse_number(&base[..i]), parse_number(&base[i..])),
        None => (parse_number(base), 0.0),
    };
    (0..=n).map(|i| Some(start + step * i as f64)).collect()
}

/// A `load <step>` block: one series a line, `labels values…`.
fn load(store: &mut Store, step: SimTime, block: &str) {
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let split = match line.rfind('}') {
            Some(i) => i + 1,
            None => line.find(char::is_whitespace).expect("series and values"),
        };
        let labels = parse_labels(&line[..split]);
        let id = store.series_id(labels);
        let values = line[split..].split_whitespace().flat_map(expand);
        for (i, v) in values.enumerate() {
            if let Some(v) = v {
                store.push(id, Sample::new(i as u64 * step, v));
            }
        }
    }
}

fn store(step: SimTime, block: &str) -> Store {
    let mut s = Store::new();
    load(&mut s, step, block);
    s
}

/// promqltest's comparison: both NaN, or equal within a relative 1e-6 (`defaultEpsilon`).
fn same(a: f64, b: f64) -> bool {
    almost_equal(a, b, 1e-6)
}

/// Checks `eval instant at <at_minutes>m <expr>` against an expected block: a lone number is a
/// scalar; otherwise one `labels value` per line (an empty block is an empty vector).
fn check(store: &Store, file: &str, expr: &str, at: SimTime, expected: &str) {
    let query = parse(expr).unwrap_or_else(|e| panic!("{file}: {expr}: {e}"));
    let got = query.eval_instant(store, at).unwrap_or_else(|e| panic!("{file}: {expr}: {e}"));
    let lines: Vec<&str> = expected.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if let [only] = lines.as_slice()
        && !only.contains(char::is_whitespace)
    {
        let want = parse_number(only);
        let v = got.as_scalar().unwrap_or_else(|| panic!("{file}: {expr}: expected a scalar, got {got:?}"));
        assert!(same(v, want), "{file}: {expr}: {v} != {want}");
        return;
    }
    let mut want: Vec<(Labels, f64)> = lines
        .iter()
        .map(|l| {
            let i = l.rfind(char::is_whitespace).expect("labels value");
            (parse_labels(&l[..i]), parse_number(l[i..].trim()))
        })
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let got = got.as_vector().unwrap_or_else(|| panic!("{file}: {expr}: expected a vector, got {got:?}"));
    let show =
        |v: &[(Labels, f64)]| v.iter().map(|(l, x)| format!("{} {x}", fmt_labels(l))).collect::<Vec<_>>();
    assert_eq!(got.len(), want.len(), "{file}: {expr}:\n got {:?}\nwant {:?}", show(got), show(&want));
    for ((gl, gv), (wl, wv)) in got.iter().zip(&want) {
        assert!(gl == wl && same(*gv, *wv), "{file}: {expr}:\n got {:?}\nwant {:?}", show(got), show(&want));
    }
}

fn minutes(m: u64) -> SimTime {
    m * MINUTE
}

/// operators.test, the first `load 5m` block.
const OPERATORS_LOAD: &str = r#"
    http_requests_total{job="api-server", instance="0", group="production"} 0+10x10
    http_requests_total{job="api-server", instance="1", group="production"} 0+20x10
    http_requests_total{job="api-server", instance="0", group="canary"} 0+30x10
    http_requests_total{job="api-server", instance="1", group="canary"} 0+40x10
    http_requests_total{job="app-server", instance="0", group="production"} 0+50x10
    http_requests_total{job="app-server", instance="1", group="production"} 0+60x10
    http_requests_total{job="app-server", instance="0", group="canary"} 0+70x10
    http_requests_total{job="app-server", instance="1", group="canary"} 0+80x10
    vector_matching_a{l="x"} 0+1x100
    vector_matching_a{l="y"} 0+2x50
    vector_matching_b{l="x"} 0+4x25
"#;

/// operators.test: `eval instant at 50m` cases (expression, expected).
const OPERATORS_AT_50M: &[(&str, &str)] = &[
    (
        "SUM(http_requests_total) BY (job) - COUNT(http_requests_total) BY (job)",
        r#"{job="api-server"} 996
           {job="app-server"} 2596"#,
    ),
    (
        "2 - SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} -998
           {job="app-server"} -2598"#,
    ),
    (
        r#"-http_requests_total{job="api-server",instance="0",group="production"}"#,
        r#"{job="api-server",instance="0",group="production"} -100"#,
    ),
    (
        r#"+http_requests_total{job="api-server",instance="0",group="production"}"#,
        r#"http_requests_total{job="api-server",instance="0",group="production"} 100"#,
    ),
    (
        "- - - SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} -1000
           {job="app-server"} -2600"#,
    ),
    ("- - - 1", "-1"),
    ("-2^---1*3", "-1.5"),
    ("2/-2^---1*3+2", "-10"),
    (
        "-10^3 * - SUM(http_requests_total) BY (job) ^ -1",
        r#"{job="api-server"} 1
           {job="app-server"} 0.38461538461538464"#,
    ),
    (
        "1000 / SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} 1
           {job="app-server"} 0.38461538461538464"#,
    ),
    (
        "SUM(http_requests_total) BY (job) % 0.3",
        r#"{job="api-server"} 0.1
           {job="app-server"} 0.2"#,
    ),
    (
        "SUM(http_requests_total) BY (job) % 2 ^ 3 ^ 2",
        r#"{job="api-server"} 488
           {job="app-server"} 40"#,
    ),
    (
        "COUNT(http_requests_total) BY (job) ^ COUNT(http_requests_total) BY (job)",
        r#"{job="api-server"} 256
           {job="app-server"} 256"#,
    ),
    (
        "SUM(http_requests_total) BY (job) / 0",
        r#"{job="api-server"} +Inf
           {job="app-server"} +Inf"#,
    ),
    (
        r#"-1 * http_requests_total{group="canary", instance="0", job="api-server"} / 0"#,
        r#"{group="canary", instance="0", job="api-server"} -Inf"#,
    ),
    (
        r#"0 * http_requests_total{group="canary", instance="0", job="api-server"} / 0"#,
        r#"{group="canary", instance="0", job="api-server"} NaN"#,
    ),
    (
        "(SUM((http_requests_total)) BY (job)) + SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} 2000
           {job="app-server"} 5200"#,
    ),
    (
        r#"http_requests_total{job="api-server", group="canary"}"#,
        r#"http_requests_total{group="canary", instance="0", job="api-server"} 300
           http_requests_total{group="canary", instance="1", job="api-server"} 400"#,
    ),
    (
        r#"http_requests_total{job="api-server", group="canary"} + rate(http_requests_total{job="api-server"}[10m]) * 5 * 60"#,
        r#"{group="canary", instance="0", job="api-server"} 330
           {group="canary", instance="1", job="api-server"} 440"#,
    ),
    (
        "rate(http_requests_total[25m]) * 25 * 60",
        r#"{group="canary", instance="0", job="api-server"} 150
           {group="canary", instance="0", job="app-server"} 350
           {group="canary", instance="1", job="api-server"} 200
           {group="canary", instance="1", job="app-server"} 400
           {group="production", instance="0", job="api-server"} 50
           {group="production", instance="0", job="app-server"} 249.99999999999997
           {group="production", instance="1", job="api-server"} 100
           {group="production", instance="1", job="app-server"} 300"#,
    ),
    (
        r#"http_requests_total{group="canary"} and http_requests_total{instance="0"}"#,
        r#"http_requests_total{group="canary", instance="0", job="api-server"} 300
           http_requests_total{group="canary", instance="0", job="app-server"} 700"#,
    ),
    (
        r#"(http_requests_total{group="canary"} + 1) and on(instance) http_requests_total{instance="0", group="production"}"#,
        r#"{group="canary", instance="0", job="api-server"} 301
           {group="canary", instance="0", job="app-server"} 701"#,
    ),
    (
        r#"(http_requests_total{group="canary"} + 1) and ignoring(group, job) http_requests_total{instance="0", group="production"}"#,
        r#"{group="canary", instance="0", job="api-server"} 301
           {group="canary", instance="0", job="app-server"} 701"#,
    ),
    (
        r#"(http_requests_total{group="canary"} + 1) or http_requests_total{instance="1"}"#,
        r#"{group="canary", instance="0", job="api-server"} 301
           {group="canary", instance="0", job="app-server"} 701
           {group="canary", instance="1", job="api-server"} 401
           {group="canary", instance="1", job="app-server"} 801
           http_requests_total{group="production", instance="1", job="api-server"} 200
           http_requests_total{group="production", instance="1", job="app-server"} 600"#,
    ),
    (
        r#"(http_requests_total{group="canary"} + 1) or on(instance) (http_requests_total or cpu_count or vector_matching_a)"#,
        r#"{group="canary", instance="0", job="api-server"} 301
           {group="canary", instance="0", job="app-server"} 701
           {group="canary", instance="1", job="api-server"} 401
           {group="canary", instance="1", job="app-server"} 801
           vector_matching_a{l="x"} 10
           vector_matching_a{l="y"} 20"#,
    ),
    (
        r#"http_requests_total{group="canary"} unless http_requests_total{instance="0"}"#,
        r#"http_requests_total{group="canary", instance="1", job="api-server"} 400
           http_requests_total{group="canary", instance="1", job="app-server"} 800"#,
    ),
    (r#"http_requests_total{group="canary"} unless on(job) http_requests_total{instance="0"}"#, ""),
    (
        r#"http_requests_total{group="canary"} / on(instance,job) http_requests_total{group="production"}"#,
        r#"{instance="0", job="api-server"} 3
           {instance="0", job="app-server"} 1.4
           {instance="1", job="api-server"} 2
           {instance="1", job="app-server"} 1.3333333333333333"#,
    ),
    (
        r#"http_requests_total{group="canary"} / ignoring(group) http_requests_total{group="production"}"#,
        r#"{instance="0", job="api-server"} 3
           {instance="0", job="app-server"} 1.4
           {instance="1", job="api-server"} 2
           {instance="1", job="app-server"} 1.3333333333333333"#,
    ),
    ("SUM(http_requests_total) BY (job) > 1000", r#"{job="app-server"} 2600"#),
    ("1000 < SUM(http_requests_total) BY (job)", r#"{job="app-server"} 2600"#),
    ("SUM(http_requests_total) BY (job) <= 1000", r#"{job="api-server"} 1000"#),
    ("SUM(http_requests_total) BY (job) != 1000", r#"{job="app-server"} 2600"#),
    ("SUM(http_requests_total) BY (job) == 1000", r#"{job="api-server"} 1000"#),
    (
        "SUM(http_requests_total) BY (job) == bool 1000",
        r#"{job="api-server"} 1
           {job="app-server"} 0"#,
    ),
    (
        "SUM(http_requests_total) BY (job) == bool SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} 1
           {job="app-server"} 1"#,
    ),
    (
        "SUM(http_requests_total) BY (job) != bool SUM(http_requests_total) BY (job)",
        r#"{job="api-server"} 0
           {job="app-server"} 0"#,
    ),
    ("0 == bool 1", "0"),
    ("1 == bool 1", "1"),
    (
        r#"http_requests_total{job="api-server", instance="0", group="production"} == bool 100"#,
        r#"{job="api-server", instance="0", group="production"} 1"#,
    ),
];

#[test]
fn upstream_operators() {
    let s = store(5 * MINUTE, OPERATORS_LOAD);
    for (expr, expected) in OPERATORS_AT_50M {
        check(&s, "operators.test", expr, minutes(50), expected);
    }
    // `{job="app-server"} == 80` at 5m: the comparison keeps the name.
    check(
        &s,
        "operators.test",
        r#"{job="app-server"} == 80"#,
        minutes(5),
        r#"http_requests_total{group="canary", instance="1", job="app-server"} 80"#,
    );
}

/// aggregators.test, the first two `load 5m` blocks.
const AGGREGATORS_LOAD: &str = r#"
    http_requests{job="api-server", instance="0", group="production"} 0+10x10
    http_requests{job="api-server", instance="1", group="production"} 0+20x10
    http_requests{job="api-server", instance="0", group="canary"} 0+30x10
    http_requests{job="api-server", instance="1", group="canary"} 0+40x10
    http_requests{job="app-server", instance="0", group="production"} 0+50x10
    http_requests{job="app-server", instance="1", group="production"} 0+60x10
    http_requests{job="app-server", instance="0", group="canary"} 0+70x10
    http_requests{job="app-server", instance="1", group="canary"} 0+80x10
    foo{job="api-server", instance="0", region="europe"} 0+90x10
    foo{job="api-server"} 0+100x10
"#;

const AGGREGATORS_AT_50M: &[(&str, &str)] = &[
    (
        r#"SUM BY (group) (http_requests{job="api-server"})"#,
        r#"{group="canary"} 700
           {group="production"} 300"#,
    ),
    (
        r#"SUM BY (group) (((http_requests{job="api-server"})))"#,
        r#"{group="canary"} 700
           {group="production"} 300"#,
    ),
    (
        r#"avg by (group) (http_requests{job="api-server"})"#,
        r#"{group="canary"} 350
           {group="production"} 150"#,
    ),
    (
        r#"count by (group) (http_requests{job="api-server"})"#,
        r#"{group="canary"} 2
           {group="production"} 2"#,
    ),
    (
        r#"sum without (instance) (http_requests{job="api-server"})"#,
        r#"{group="canary",job="api-server"} 700
           {group="production",job="api-server"} 300"#,
    ),
    (r#"sum by () (http_requests{job="api-server"})"#, "{} 1000"),
    (r#"sum(http_requests{job="api-server"})"#, "{} 1000"),
    (
        r#"sum without () (http_requests{job="api-server",group="production"})"#,
        r#"{group="production",job="api-server",instance="0"} 100
           {group="production",job="api-server",instance="1"} 200"#,
    ),
    (
        r#"sum without (instance) (http_requests{job="api-server"} or foo)"#,
        r#"{group="canary",job="api-server"} 700
           {group="production",job="api-server"} 300
           {region="europe",job="api-server"} 900
           {job="api-server"} 1000"#,
    ),
    (
        "sum(http_requests) by (job) + min(http_requests) by (job) + max(http_requests) by (job) + avg(http_requests) by (job)",
        r#"{job="app-server"} 4550
           {job="api-server"} 1750"#,
    ),
    (r#"sum(sum by (group) (http_requests{job="api-server"})) by (job)"#, "{} 1000"),
    ("SUM(http_requests)", "{} 3600"),
    (
        r#"SUM(http_requests{instance="0"}) BY(job)"#,
        r#"{job="api-server"} 400
           {job="app-server"} 1200"#,
    ),
    (
        "SUM(http_requests) BY (job, nonexistent)",
        r#"{job="api-server"} 1000
           {job="app-server"} 2600"#,
    ),
    (
        "SUM(http_requests) BY (job, group)",
        r#"{group="canary", job="api-server"} 700
           {group="canary", job="app-server"} 1500
           {group="production", job="api-server"} 300
           {group="production", job="app-server"} 1100"#,
    ),
    (
        "AVG(http_requests) BY (job)",
        r#"{job="api-server"} 250
           {job="app-server"} 650"#,
    ),
    (
        "MIN(http_requests) BY (job)",
        r#"{job="api-server"} 100
           {job="app-server"} 500"#,
    ),
    (
        "MAX(http_requests) BY (job)",
        r#"{job="api-server"} 400
           {job="app-server"} 800"#,
    ),
];

#[test]
fn upstream_aggregators() {
    let s = store(5 * MINUTE, AGGREGATORS_LOAD);
    for (expr, expected) in AGGREGATORS_AT_50M {
        check(&s, "aggregators.test", expr, minutes(50), expected);
    }
}

/// aggregators.test, "Tests for min/max": a NaN loses to any number.
#[test]
fn upstream_min_max_with_nan() {
    let s = store(
        5 * MINUTE,
        r#"
        http_requests{job="api-server", instance="0", group="production"} 1
        http_requests{job="api-server", instance="1", group="production"} 2
        http_requests{job="api-server", instance="0", group="canary"} NaN
        http_requests{job="api-server", instance="1", group="canary"} 3
        http_requests{job="api-server", instance="2", group="canary"} 4
        "#,
    );
    let f = "aggregators.test";
    check(&s, f, "max(http_requests)", 0, "{} 4");
    check(&s, f, "min(http_requests)", 0, "{} 1");
    check(&s, f, "max by (group) (http_requests)", 0, "{group=\"production\"} 2\n{group=\"canary\"} 4");
    check(&s, f, "min by (group) (http_requests)", 0, "{group=\"production\"} 1\n{group=\"canary\"} 3");
}

/// functions.test, "Tests for increase()", "Tests for rate()" (offset) and "Tests for
/// delta()", through the query layer.
#[test]
fn upstream_range_functions() {
    let f = "functions.test";
    let s = store(
        5 * MINUTE,
        r#"
        http_requests_total{path="/foo"} 0+10x10
        http_requests_total{path="/bar"} 0+18x5 0+18x5
        http_requests_total{path="/dings"} 10+10x10
        http_requests_total{path="/bumms"} 1+10x10
        calculate_rate_offset_total{x="a"} 0+10x10
        calculate_rate_offset_total{x="b"} 0+20x10
        http_requests{path="/foo"} 0 50 100 150 200
        http_requests{path="/bar"} 200 150 100 50 0
        "#,
    );
    check(
        &s,
        f,
        "increase(http_requests_total[50m])",
        minutes(50),
        r#"{path="/foo"} 100
           {path="/bar"} 160
           {path="/dings"} 100
           {path="/bumms"} 100"#,
    );
    check(
        &s,
        f,
        "increase(http_requests_total[100m])",
        minutes(50),
        r#"{path="/foo"} 100
           {path="/bar"} 162
           {path="/dings"} 105
           {path="/bumms"} 101"#,
    );
    check(
        &s,
        f,
        "rate(calculate_rate_offset_total[10m] offset 5m)",
        minutes(50),
        r#"{x="a"} 0.03333333333333333
           {x="b"} 0.06666666666666667"#,
    );
    check(
        &s,
        f,
        "delta(http_requests[20m])",
        minutes(20),
        r#"{path="/foo"} 200
           {path="/bar"} -200"#,
    );
    check(
        &s,
        f,
        r#"irate(http_requests_total{path=~"/foo|/bar"}[50m])"#,
        minutes(30),
        r#"{path="/foo"} 0.03333333333333333
           {path="/bar"} 0"#,
    );
    check(&s, f, r#"idelta(http_requests{path="/bar"}[20m])"#, minutes(20), r#"{path="/bar"} -50"#);
}

/// histograms.test: the classic (`_bucket`) half of each pair, from the `load 5m` blocks.
const HISTOGRAMS_LOAD: &str = r#"
    testhistogram_bucket{le="0.1", start="positive"} 0+5x10
    testhistogram_bucket{le=".2", start="positive"} 0+7x10
    testhistogram_bucket{le="1e0", start="positive"} 0+11x10
    testhistogram_bucket{le="+Inf", start="positive"} 0+12x10
    testhistogram_bucket{le="-.2", start="negative"} 0+1x10
    testhistogram_bucket{le="-0.1", start="negative"} 0+2x10
    testhistogram_bucket{le="0.3", start="negative"} 0+2x10
    testhistogram_bucket{le="+Inf", start="negative"} 0+3x10
    testhistogram2_bucket{le="0"} 0+0x10
    testhistogram2_bucket{le="2"} 0+1x10
    testhistogram2_bucket{le="4"} 0+2x10
    testhistogram2_bucket{le="6"} 0+3x10
    testhistogram2_bucket{le="+Inf"} 0+3x10
    testhistogram3_bucket{le="0", start="positive"} 0+0x10
    testhistogram3_bucket{le="0.1", start="positive"} 0+5x10
    testhistogram3_bucket{le=".2", start="positive"} 0+7x10
    testhistogram3_bucket{le="1e0", start="positive"} 0+11x10
    testhistogram3_bucket{le="+Inf", start="positive"} 0+11x10
    testhistogram3_sum{start="positive"} 0+33x10
    testhistogram3_count{start="positive"} 0+11x10
    testhistogram3_bucket{le="-.25", start="negative"} 0+0x10
    testhistogram3_bucket{le="-.2", start="negative"} 0+1x10
    testhistogram3_bucket{le="-0.1", start="negative"} 0+2x10
    testhistogram3_bucket{le="0.3", start="negative"} 0+2x10
    testhistogram3_bucket{le="+Inf", start="negative"} 0+2x10
    testhistogram3_sum{start="negative"} 0+8x10
    testhistogram3_count{start="negative"} 0+2x10
    request_duration_seconds_bucket{job="job1", instance="ins1", le="0.1"} 0+1x10
    request_duration_seconds_bucket{job="job1", instance="ins1", le="0.2"} 0+3x10
    request_duration_seconds_bucket{job="job1", instance="ins1", le="+Inf"} 0+4x10
    request_duration_seconds_bucket{job="job1", instance="ins2", le="0.1"} 0+2x10
    request_duration_seconds_bucket{job="job1", instance="ins2", le="0.2"} 0+5x10
    request_duration_seconds_bucket{job="job1", instance="ins2", le="+Inf"} 0+6x10
    request_duration_seconds_bucket{job="job2", instance="ins1", le="0.1"} 0+3x10
    request_duration_seconds_bucket{job="job2", instance="ins1", le="0.2"} 0+4x10
    request_duration_seconds_bucket{job="job2", instance="ins1", le="+Inf"} 0+6x10
    request_duration_seconds_bucket{job="job2", instance="ins2", le="0.1"} 0+4x10
    request_duration_seconds_bucket{job="job2", instance="ins2", le="0.2"} 0+7x10
    request_duration_seconds_bucket{job="job2", instance="ins2", le="+Inf"} 0+9x10
    mixed_bucket{job="job1", instance="ins1", le="0.1"} 0+1x10
    mixed_bucket{job="job1", instance="ins1", le="0.2"} 0+1x10
    mixed_bucket{job="job1", instance="ins1", le="2e-1"} 0+1x10
    mixed_bucket{job="job1", instance="ins1", le="2.0e-1"} 0+1x10
    mixed_bucket{job="job1", instance="ins1", le="+Inf"} 0+4x10
    mixed_bucket{job="job1", instance="ins2", le="+inf"} 0+0x10
    mixed_bucket{job="job1", instance="ins2", le="+Inf"} 0+0x10
    nonmonotonic_bucket{le="0.1"} 0+2x10
    nonmonotonic_bucket{le="1"} 0+1x10
    nonmonotonic_bucket{le="10"} 0+5x10
    nonmonotonic_bucket{le="100"} 0+4x10
    nonmonotonic_bucket{le="1000"} 0+9x10
    nonmonotonic_bucket{le="+Inf"} 0+8x10
    empty_bucket{le="0.1", job="job1", instance="ins1"} 0x10
    empty_bucket{le="0.2", job="job1", instance="ins1"} 0x10
    empty_bucket{le="+Inf", job="job1", instance="ins1"} 0x10
"#;

/// histograms.test (expression, minutes, expected).
const HISTOGRAMS: &[(&str, u64, &str)] = &[
    (
        r#"testhistogram3_bucket{le=".2"} / ignoring(le) testhistogram3_count"#,
        50,
        r#"{start="positive"} 0.6363636363636364"#,
    ),
    (
        r#"rate(testhistogram3_bucket{le=".2"}[10m]) / ignoring(le) rate(testhistogram3_count[10m])"#,
        50,
        r#"{start="positive"} 0.6363636363636364"#,
    ),
    (
        "histogram_quantile(0, testhistogram3_bucket)",
        50,
        "{start=\"positive\"} 0\n{start=\"negative\"} -0.25",
    ),
    (
        "histogram_quantile(0.25, testhistogram3_bucket)",
        50,
        "{start=\"positive\"} 0.055\n{start=\"negative\"} -0.225",
    ),
    (
        "histogram_quantile(0.5, testhistogram3_bucket)",
        50,
        "{start=\"positive\"} 0.125\n{start=\"negative\"} -0.2",
    ),
    (
        "histogram_quantile(0.75, testhistogram3_bucket)",
        50,
        "{start=\"positive\"} 0.45\n{start=\"negative\"} -0.15",
    ),
    ("histogram_quantile(1, testhistogram3_bucket)", 50, "{start=\"positive\"} 1\n{start=\"negative\"} -0.1"),
    (
        "histogram_quantile(-0.1, testhistogram_bucket)",
        50,
        "{start=\"positive\"} -Inf\n{start=\"negative\"} -Inf",
    ),
    (
        "histogram_quantile(1.01, testhistogram_bucket)",
        50,
        "{start=\"positive\"} +Inf\n{start=\"negative\"} +Inf",
    ),
    (
        "histogram_quantile(NaN, testhistogram_bucket)",
        50,
        "{start=\"positive\"} NaN\n{start=\"negative\"} NaN",
    ),
    ("histogram_quantile(0, testhistogram_bucket)", 50, "{start=\"positive\"} 0\n{start=\"negative\"} -0.2"),
    ("histogram_quantile(1, testhistogram_bucket)", 50, "{start=\"positive\"} 1\n{start=\"negative\"} 0.3"),
    (
        "histogram_quantile(0.2, testhistogram_bucket)",
        50,
        "{start=\"positive\"} 0.048\n{start=\"negative\"} -0.2",
    ),
    (
        "histogram_quantile(0.5, testhistogram_bucket)",
        50,
        "{start=\"positive\"} 0.15\n{start=\"negative\"} -0.15",
    ),
    (
        "histogram_quantile(0.8, testhistogram_bucket)",
        50,
        "{start=\"positive\"} 0.72\n{start=\"negative\"} 0.3",
    ),
    (
        "histogram_quantile(0.2, rate(testhistogram_bucket[10m]))",
        50,
        "{start=\"positive\"} 0.048\n{start=\"negative\"} -0.2",
    ),
    (
        "histogram_quantile(0.5, rate(testhistogram_bucket[10m]))",
        50,
        "{start=\"positive\"} 0.15\n{start=\"negative\"} -0.15",
    ),
    (
        "histogram_quantile(0.8, rate(testhistogram_bucket[10m]))",
        50,
        "{start=\"positive\"} 0.72\n{start=\"negative\"} 0.3",
    ),
    ("histogram_quantile(1./6., testhistogram2_bucket)", 7, "{} 1"),
    ("histogram_quantile(0.5, testhistogram2_bucket)", 7, "{} 3"),
    ("histogram_quantile(5./6., testhistogram2_bucket)", 7, "{} 5"),
    ("histogram_quantile(1./6., rate(testhistogram2_bucket[15m]))", 47, "{} 1"),
    ("histogram_quantile(0.5, rate(testhistogram2_bucket[15m]))", 47, "{} 3"),
    ("histogram_quantile(5./6., rate(testhistogram2_bucket[15m]))", 47, "{} 5"),
    ("histogram_quantile(0.3, sum(rate(request_duration_seconds_bucket[10m])) by (le))", 50, "{} 0.075"),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds_bucket[10m])) by (le))",
        50,
        "{} 0.1277777777777778",
    ),
    ("histogram_quantile(0.3, avg(rate(request_duration_seconds_bucket[10m])) by (le))", 50, "{} 0.075"),
    (
        "histogram_quantile(0.5, avg(rate(request_duration_seconds_bucket[10m])) by (le))",
        50,
        "{} 0.12777777777777778",
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds_bucket[10m])) by (le, instance))",
        50,
        "{instance=\"ins1\"} 0.1333333333\n{instance=\"ins2\"} 0.125",
    ),
    (
        "histogram_quantile(0.3, sum(rate(request_duration_seconds_bucket[10m])) by (le, job))",
        50,
        "{job=\"job1\"} 0.1\n{job=\"job2\"} 0.0642857142857143",
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds_bucket[10m])) by (le, job))",
        50,
        "{job=\"job1\"} 0.14\n{job=\"job2\"} 0.1125",
    ),
    (
        "histogram_quantile(0.3, rate(request_duration_seconds_bucket[10m]))",
        50,
        r#"{instance="ins1", job="job1"} 0.11
           {instance="ins2", job="job1"} 0.09
           {instance="ins1", job="job2"} 0.06
           {instance="ins2", job="job2"} 0.0675"#,
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds_bucket[10m])) by (le, job, instance))",
        50,
        r#"{instance="ins1", job="job1"} 0.15
           {instance="ins2", job="job1"} 0.1333333333333333
           {instance="ins1", job="job2"} 0.1
           {instance="ins2", job="job2"} 0.1166666666666667"#,
    ),
    (r#"avg (request_duration_seconds_bucket{le="0.1"})"#, 50, "{} 25"),
    (
        r#"avg (request_duration_seconds_bucket{le="0.2"}) - avg (request_duration_seconds_bucket{le="0.1"})"#,
        50,
        "{} 22.5",
    ),
    ("histogram_quantile(0.01, nonmonotonic_bucket)", 50, "{} 0.0045"),
    ("histogram_quantile(0.5, nonmonotonic_bucket)", 50, "{} 8.5"),
    ("histogram_quantile(0.99, nonmonotonic_bucket)", 50, "{} 979.75"),
    (
        "histogram_quantile(0.5, rate(mixed_bucket[10m]))",
        50,
        "{instance=\"ins1\", job=\"job1\"} 0.15\n{instance=\"ins2\", job=\"job1\"} NaN",
    ),
    (
        "histogram_quantile(0.75, rate(mixed_bucket[10m]))",
        50,
        "{instance=\"ins1\", job=\"job1\"} 0.2\n{instance=\"ins2\", job=\"job1\"} NaN",
    ),
    (
        "histogram_quantile(1, rate(mixed_bucket[10m]))",
        50,
        "{instance=\"ins1\", job=\"job1\"} 0.2\n{instance=\"ins2\", job=\"job1\"} NaN",
    ),
    ("histogram_quantile(0.2, rate(empty_bucket[10m]))", 50, "{instance=\"ins1\", job=\"job1\"} NaN"),
];

#[test]
fn upstream_histograms() {
    let s = store(5 * MINUTE, HISTOGRAMS_LOAD);
    for (expr, at, expected) in HISTOGRAMS {
        check(&s, "histograms.test", expr, minutes(*at), expected);
    }
    // histograms.test, issue 9910: two histograms that differ only by name collide once the
    // name is dropped (upstream loads request_duration_seconds2_bucket for this).
    let mut dup = store(5 * MINUTE, HISTOGRAMS_LOAD);
    load(
        &mut dup,
        5 * MINUTE,
        r#"
        request_duration_seconds2_bucket{job="job1", instance="ins1", le="0.1"} 0+1x10
        request_duration_seconds2_bucket{job="job1", instance="ins1", le="0.2"} 0+3x10
        request_duration_seconds2_bucket{job="job1", instance="ins1", le="+Inf"} 0+4x10
        "#,
    );
    let q = parse(r#"histogram_quantile(0.99, {__name__=~"request_duration_seconds\\d*_bucket"})"#).unwrap();
    let err = q.eval_instant(&dup, minutes(50)).unwrap_err();
    assert!(err.to_string().contains("same labelset"), "{err}");

    // histograms.test, "Histogram with constant buckets" (`load 1m`): zero rates, NaN.
    let s = store(
        MINUTE,
        r#"
        const_histogram_bucket{le="0.0"} 1 1 1 1 1
        const_histogram_bucket{le="1.0"} 1 1 1 1 1
        const_histogram_bucket{le="2.0"} 1 1 1 1 1
        const_histogram_bucket{le="+Inf"} 1 1 1 1 1
        "#,
    );
    check(
        &s,
        "histograms.test",
        "histogram_quantile(1.0, sum by (le) (rate(const_histogram_bucket[5m])))",
        minutes(5),
        "{} NaN",
    );
}

#[test]
fn bucket_quantile_edge_cases() {
    // No +Inf bucket: NaN. A lone +Inf bucket: NaN.
    assert!(bucket_quantile(0.5, vec![(1.0, 1.0), (2.0, 2.0)]).is_nan());
    assert!(bucket_quantile(0.5, vec![(f64::INFINITY, 5.0)]).is_nan());
    // A rank in the +Inf bucket returns the highest finite bound.
    assert_eq!(bucket_quantile(0.99, vec![(1.0, 1.0), (f64::INFINITY, 10.0)]), 1.0);
    // Differences below the 1e-12 tolerance are noise, not a bucket of their own.
    let q = bucket_quantile(0.5, vec![(1.0, 10.0), (2.0, 10.0 + 1e-14), (f64::INFINITY, 20.0)]);
    assert!((q - 1.0).abs() < 1e-9, "{q}");
}

#[test]
fn instant_selectors_look_back_five_minutes_and_regexes_are_anchored() {
    let mut s = Store::new();
    let up = labels(&[("__name__", "up"), ("job", "api")]);
    s.append(&up, 10 * SECOND, 1.0);
    s.append(&up, 70 * SECOND, 2.0);
    let eval = |expr: &str, at: SimTime| parse(expr).unwrap().eval_instant(&s, at).unwrap();
    assert_eq!(eval("up", 70 * SECOND), Value::Vector(vec![(up.clone(), 2.0)]));
    assert_eq!(eval("up", 60 * SECOND), Value::Vector(vec![(up.clone(), 1.0)]));
    // (t − 5m, t]: the sample at 70 s is gone at exactly 370 s.
    assert_eq!(eval("up", 369 * SECOND), Value::Vector(vec![(up.clone(), 2.0)]));
    assert_eq!(eval("up", 370 * SECOND), Value::Vector(vec![]));
    assert_eq!(eval("up", 5 * SECOND), Value::Vector(vec![]));
    assert_eq!(eval("up offset 1m", 70 * SECOND), Value::Vector(vec![(up.clone(), 1.0)]));
    assert_eq!(eval("up offset 10m", 70 * SECOND), Value::Vector(vec![]));
    assert_eq!(eval("up offset -1m", 10 * SECOND), Value::Vector(vec![(up.clone(), 2.0)]));
    assert_eq!(eval(r#"up{job=~"ap"}"#, 70 * SECOND), Value::Vector(vec![]));
    assert_eq!(eval(r#"up{job=~"ap."}"#, 70 * SECOND), Value::Vector(vec![(up.clone(), 2.0)]));
    assert_eq!(eval(r#"up{job!~"a.*"}"#, 70 * SECOND), Value::Vector(vec![]));
    assert_eq!(eval(r#"up{job!="api"}"#, 70 * SECOND), Value::Vector(vec![]));
    // A missing label matches the empty string.
    assert_eq!(eval(r#"up{zone=""}"#, 70 * SECOND), Value::Vector(vec![(up.clone(), 2.0)]));
    assert_eq!(eval("2 * 3", 0), Value::Scalar(6.0));
}

/// The error-ratio alert of reference/crates.md §4, end to end.
#[test]
fn an_error_ratio_alert_expression() {
    let mut s = Store::new();
    let ok = labels(&[("__name__", "http_requests_total"), ("status", "200")]);
    let err = labels(&[("__name__", "http_requests_total"), ("status", "500")]);
    for i in 0..=40u64 {
        s.append(&ok, i * 15 * SECOND, 80.0 * i as f64);
        s.append(&err, i * 15 * SECOND, 20.0 * i as f64);
    }
    let q = parse(
        r#"sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.1"#,
    )
    .unwrap();
    let v = q.eval_instant(&s, 10 * MINUTE).unwrap();
    let v = v.as_vector().unwrap();
    assert_eq!(v.len(), 1);
    assert!(v[0].0.is_empty() && (v[0].1 - 0.2).abs() < 1e-12, "{v:?}");
    let q = parse(
        r#"sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.3"#,
    )
    .unwrap();
    assert_eq!(q.eval_instant(&s, 10 * MINUTE).unwrap(), Value::Vector(vec![]));
}

/// avg over values whose sum overflows stays finite (Prometheus's incremental mean); sum
/// overflows to +Inf.
#[test]
fn avg_survives_an_overflowing_sum() {
    let mut s = Store::new();
    for i in 0..4 {
        s.append(&labels(&[("__name__", "big"), ("i", &i.to_string())]), 0, f64::MAX / 2.0);
    }
    let eval = |expr: &str| parse(expr).unwrap().eval_instant(&s, 0).unwrap().as_vector().unwrap()[0].1;
    assert_eq!(eval("sum(big)"), f64::INFINITY);
    let avg = eval("avg(big)");
    assert!((avg / (f64::MAX / 2.0) - 1.0).abs() < 1e-12, "{avg}");
}

#[test]
fn matching_errors_follow_prometheus() {
    let s = store(5 * MINUTE, OPERATORS_LOAD);
    let err = |expr: &str| parse(expr).unwrap().eval_instant(&s, minutes(50)).unwrap_err().to_string();
    assert!(err("http_requests_total / on(job) http_requests_total").contains("found duplicate series"));
    assert!(
        err(r#"http_requests_total / on(job) sum by (job) (http_requests_total)"#)
            .contains("multiple matches for labels")
    );
    // Dropping the name makes two series identical.
    assert!(
        err(r#"rate({__name__=~"vector_matching_a|vector_matching_b", l="x"}[10m])"#)
            .contains("same labelset")
    );
}

#[test]
fn unsupported_constructs_are_named() {
    let cases = [
        ("histogram_count(foo)", "function `histogram_count` is not supported"),
        ("histogram_fraction(0, 1, foo)", "function `histogram_fraction` is not supported"),
        ("foo[5m]", "a range selector outside of"),
        ("foo[5m:1m]", "a subquery outside of"),
        ("rate(foo[1d:1s])", "a subquery of more than 11000 steps"),
        (r#"foo{a="b" or c="d"}"#, "`or` inside label matchers is not supported"),
        (r#""text""#, "a string literal outside a function's argument is not supported"),
    ];
    for (expr, want) in cases {
        match parse(expr) {
            Err(e @ PromqlError::Unsupported { .. }) => {
                assert!(e.to_string().contains(want), "{expr}: {e}")
            }
            other => panic!("{expr}: expected an unsupported error containing {want:?}, got {other:?}"),
        }
    }
    assert!(matches!(parse("sum(rate(x[5m]) > 0.1"), Err(PromqlError::Parse(_))));
    assert!(matches!(parse("rate(foo[0s])"), Err(PromqlError::Parse(_))));
}

#[test]
fn the_load_notation_expands_as_promqltest_does() {
    assert_eq!(expand("0+10x2"), vec![Some(0.0), Some(10.0), Some(20.0)]);
    assert_eq!(expand("5-2x2"), vec![Some(5.0), Some(3.0), Some(1.0)]);
    assert_eq!(expand("1e-1+1x1"), vec![Some(0.1), Some(1.1)]);
    assert_eq!(expand("0x2"), vec![Some(0.0); 3]);
    assert_eq!(expand("_x1"), vec![None, None]);
    assert_eq!(expand("_"), vec![None]);
    assert!(expand("NaN")[0].unwrap().is_nan());
}

/// Counters that start and end at different times, skip scrapes and reset, on a 15 s grid.
fn random_counters(rng: &mut crate::engine::SimRng) -> Store {
    let mut store = Store::new();
    for s in 0..12 {
        let labels = parse_labels(&format!(r#"x{{g="{}", s="{s}"}}"#, s % 3));
        let id = store.series_id(labels);
        let start = rng.below(40);
        let end = 240 - rng.below(2) * rng.below(160);
        let mut v = 0.0;
        for i in start..end {
            if rng.below(10) == 0 {
                continue; // a missed scrape
            }
            v = if rng.below(60) == 0 { rng.below(5) as f64 } else { v + rng.below(100) as f64 };
            store.push(id, Sample::new(i * 15 * SECOND, v));
        }
    }
    store
}

#[test]
fn window_cursors_pick_what_a_search_picks() {
    let mut rng = crate::engine::SimRng::new(7, crate::engine::Stream::Monitoring);
    let store = random_counters(&mut rng);
    for series in store.series() {
        let mut cursor = 0;
        let mut at = 0;
        for _ in 0..400 {
            // Mostly one step forward, as rules evaluate; sometimes a jump either way.
            at = match rng.below(10) {
                0 => rng.below(62 * MINUTE),
                1 => at + rng.below(20 * MINUTE),
                _ => at + 15 * SECOND,
            };
            let range = [MINUTE, 5 * MINUTE, 30 * MINUTE][rng.below(3) as usize];
            let window = Window::new(at, range);
            let (first, last) = window_bounds(&series.samples, window, &mut cursor);
            assert_eq!(
                &series.samples[first..last],
                window.select(&series.samples),
                "at {at}, range {range}"
            );
        }
    }
}

#[test]
fn a_store_reused_across_evaluations_answers_as_a_fresh_one() {
    // The store caches matches, group keys and window cursors between evaluations; the
    // fast path also skips the reset scan when a series' last reset lies before its window.
    // Neither may change a single bit of any answer, at any sequence of evaluation times.
    let exprs = [
        "sum by (g) (rate(x[5m]))",
        "sum(increase(x[1m]))",
        "avg without (s) (rate(x[5m] offset 2m))",
        "rate(x[30m])",
        "max by (g) (irate(x[5m]))",
        "count(delta(x[2m]))",
    ];
    let mut rng = crate::engine::SimRng::new(11, crate::engine::Stream::Monitoring);
    let store = random_counters(&mut rng);
    let fresh = || {
        let mut s = Store::new();
        for series in store.series() {
            let id = s.series_id(series.labels.clone());
            for &sample in &series.samples {
                s.push(id, sample);
            }
        }
        s
    };
    let queries: Vec<Query> = exprs.iter().map(|e| parse(e).expect("parses")).collect();
    let mut at = 0;
    for step in 0..300 {
        at = if step % 25 == 24 { rng.below(61 * MINUTE) } else { at + 15 * SECOND };
        for q in &queries {
            let reused = q.eval_instant(&store, at).expect("evaluates");
            let once = q.eval_instant(&fresh(), at).expect("evaluates");
            let bits = |v: &Value| match v {
                Value::Scalar(x) => vec![(Labels::new(), x.to_bits())],
                Value::Vector(v) => v.iter().map(|(l, x)| (l.clone(), x.to_bits())).collect(),
            };
            assert_eq!(bits(&reused), bits(&once), "{} at {at}", q.source());
        }
        // And `rate` per series is the full scan of the selected samples, resets and all.
        let Value::Vector(rates) = queries[3].eval_instant(&store, at).expect("evaluates") else {
            panic!("a vector")
        };
        let window = Window::new(at, 30 * MINUTE);
        let scanned: Vec<(Labels, u64)> = store
            .series()
            .iter()
            .filter_map(|s| {
                let v = rate::extrapolated_rate(window.select(&s.samples), window, RateKind::Rate)?;
                Some((without_name(s.labels.clone()), v.to_bits()))
            })
            .collect();
        let mut scanned = scanned;
        scanned.sort();
        let got: Vec<(Labels, u64)> = rates.iter().map(|(l, v)| (l.clone(), v.to_bits())).collect();
        assert_eq!(got, scanned, "rate(x[30m]) at {at}");
    }
}

#[test]
fn series_whose_label_hashes_collide_stay_apart() {
    let mut store = Store::new();
    let (a, b) = (parse_labels(r#"x{s="a"}"#), parse_labels(r#"x{s="b"}"#));
    let id_a = store.series_id(a.clone());
    let id_b = store.series_id(b.clone());
    assert_ne!(id_a, id_b);
    // Make b's hash lead to a first, as a collision would.
    store.index.insert(labels_hash(&b), id_a);
    store.series[id_a.0].same_hash = Some(id_b);
    assert_eq!(store.series_id(b.clone()), id_b);
    assert_eq!(store.series_id(a.clone()), id_a);
    store.append(&b, SECOND, 1.0);
    assert_eq!(store.get(id_b).samples, vec![Sample::new(SECOND, 1.0)]);
    assert!(store.get(id_a).samples.is_empty());
    // A label set on neither chain is not found there.
    let c = parse_labels(r#"x{s="c"}"#);
    assert_eq!(store.find(labels_hash(&b), &c), None);
    assert_eq!(store.series().len(), 2);
}

/// Issue 16: ~150 nested parentheses overflowed the stack and a `1+1+…` chain of thousands
/// of terms hung. The caps refuse both in one pass before the parser runs; everything within
/// them parses, lowers and evaluates on a test thread's 2 MiB stack.
#[test]
fn expressions_beyond_the_size_caps_are_refused_up_front() {
    let mut store = Store::new();
    store.append(&labels(&[(METRIC_NAME, "up"), ("job", "a")]), 0, 1.0);
    let eval = |q: &str| parse(q).unwrap_or_else(|e| panic!("{e}")).eval_instant(&store, 0).unwrap();
    // At the caps: the deepest nesting around the longest chain.
    let chain = vec!["up"; MAX_OPERATORS - 1].join(" + ");
    let worst = format!("{}sum({chain}){}", "(".repeat(MAX_NESTING - 1), ")".repeat(MAX_NESTING - 1));
    let Value::Vector(v) = eval(&worst) else { panic!("a vector") };
    assert_eq!(v, vec![(Labels::new(), (MAX_OPERATORS - 1) as f64)]);
    let negations = format!("{}1", "-".repeat(MAX_OPERATORS));
    assert_eq!(eval(&negations), Value::Scalar(1.0));
    // One past them, and far past them: a Limit error at the byte that crossed the cap, fast.
    let started = std::time::Instant::now();
    for n in [MAX_NESTING + 1, 150, 30_000] {
        let deep = format!("{}1{}", "(".repeat(n), ")".repeat(n));
        match parse(&deep) {
            Err(PromqlError::Limit { at, message, .. }) => {
                assert_eq!(at, MAX_NESTING, "{message}");
                assert!(message.contains("nests more than 64 brackets deep"), "{message}");
            }
            other => panic!("{n} parentheses: {other:?}"),
        }
    }
    for n in [MAX_OPERATORS + 2, 3_000, 30_000] {
        let long = vec!["1"; n].join("+");
        match parse(&long) {
            // The 257th `+` is at byte 2 * 257 - 1.
            Err(PromqlError::Limit { at, message, .. }) => {
                assert_eq!(at, 2 * (MAX_OPERATORS + 1) - 1, "{message}");
                assert!(message.contains("more than 256 operators"), "{message}");
            }
            other => panic!("{n} terms: {other:?}"),
        }
    }
    let huge = format!("up{{a=\"{}\"}}", "x".repeat(MAX_LENGTH));
    assert!(matches!(parse(&huge), Err(PromqlError::Limit { at: MAX_LENGTH, .. })));
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    // Brackets, operators and `#` inside strings and comments do not count.
    let quoted = format!("up{{job=\"{}\"}} # {}", "(+".repeat(200), "(".repeat(200));
    assert!(parse(&quoted).is_ok());
    // The error says where.
    let e = parse(&format!("{}1{}", "(".repeat(70), ")".repeat(70))).unwrap_err();
    assert_eq!(e.to_string(), "the expression nests more than 64 brackets deep (at character 65)");
}

/// A duration in promqltest's notation (`50m`, `5m59s`, `1000s`, `0s`).
fn test_duration(s: &str) -> SimTime {
    if s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).parse::<f64>() == Ok(0.0) {
        return 0;
    }
    promql_parser::util::parse_duration(s).unwrap_or_else(|e| panic!("duration {s:?}: {e}")).as_micros()
        as SimTime
}

/// Runs a file in promqltest's notation: `load <step>` blocks (float samples), `clear`, and
/// `eval instant at <t> <expr>` (`eval_ordered` too) followed by the expected result, one
/// `labels value` a line (none: an empty vector). `expect …` lines are annotations, which
/// rollsim does not produce, and are skipped. Returns how many evaluations it checked.
fn run_promqltest(file: &str, text: &str) -> usize {
    let mut store = Store::new();
    let mut checked = 0;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let indented = |l: &str| l.starts_with([' ', '\t']) && !l.trim().is_empty();
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut block = Vec::new();
        while i < lines.len() && indented(lines[i]) {
            let l = lines[i].trim();
            if !l.starts_with("expect ") && !l.starts_with('#') {
                block.push(l);
            }
            i += 1;
        }
        if line == "clear" {
            store = Store::new();
        } else if let Some(step) = line.strip_prefix("load ") {
            load(&mut store, test_duration(step.trim()), &block.join("\n"));
        } else if let Some(rest) =
            line.strip_prefix("eval instant at ").or(line.strip_prefix("eval_ordered instant at "))
        {
            let (at, expr) = rest.split_once(' ').expect("eval instant at <t> <expr>");
            check(&store, file, expr, test_duration(at), &block.join("\n"));
            checked += 1;
        } else {
            panic!("{file}: unknown command {line:?}");
        }
    }
    checked
}

#[test]
fn upstream_vectors() {
    let n = run_promqltest("upstream.test", include_str!("testdata/upstream.test"));
    assert!(n >= 90, "{n} evaluations");
}

/// Issue 13: an unsupported construct is named where it is, not at the start of the query.
#[test]
fn unsupported_constructs_are_located() {
    let cases = [
        ("sum(rate(x[5m])) / histogram_count(y)", "histogram_count", 19),
        (r#"up{job="histogram_count"} + histogram_count(y)"#, "histogram_count", 28),
        (r#"foo{a="b" or c="d"}"#, "or", 10),
        ("1 + holt_winters(x[5m], 0.5, 0.5)", "holt_winters", 4),
    ];
    for (expr, token, at) in cases {
        let e = parse(expr).unwrap_err();
        let span = e.span().unwrap_or_else(|| panic!("{expr}: {e} has no span"));
        assert_eq!((span.token.as_str(), span.at), (token, at), "{expr}");
        assert_eq!(span.occurrence, expr[..at].matches(token).count());
    }
    let deep = format!("up + {}1{}", "(".repeat(70), ")".repeat(70));
    let e = parse(&deep).unwrap_err();
    let span = e.span().unwrap();
    assert_eq!((span.token.as_str(), span.at, span.occurrence), ("(", 5 + 64, 64));
    assert_eq!(parse("sum(").unwrap_err().span(), None);
}

/// Issue 16 leftover: a huge number of seconds in a range, a subquery step or an offset made
/// promql-parser panic (`Duration::from_secs_f64`); the pre-scan refuses it, naming it.
#[test]
fn durations_beyond_prometheus_limit_are_refused_before_the_parser() {
    for (expr, token) in [
        ("rate(x[1e300])", "1e300"),
        ("rate(x[1e30])", "1e30"),
        ("x offset 1e300", "1e300"),
        ("x OFFSET -1e300", "1e300"),
        ("x offset\n  99999999999999999999", "99999999999999999999"),
        ("rate(x[0xFFFFFFFFFFFFFFFF])", "0xFFFFFFFFFFFFFFFF"),
        ("max_over_time(rate(x[5m])[1h:1e300])", "1e300"),
        ("sum(rate(x[5m])) / sum(rate(x[4294967295y]))", "4294967295y"),
        ("rate(x[300000y])", "300000y"),
    ] {
        match parse(expr) {
            Err(e @ PromqlError::Limit { .. }) => {
                let span = e.span().unwrap();
                assert_eq!(span.token, token, "{expr}");
                assert_eq!(&expr[span.at..span.at + token.len()], token, "{expr}");
                assert!(e.to_string().contains("292 years"), "{e}");
            }
            other => panic!("{expr}: {other:?}"),
        }
    }
    // Within the limit, and numbers outside durations, parse as before.
    for ok in [
        "rate(x[9223372036])",
        "rate(x[1h30m])",
        "rate(x[5m] offset 1w)",
        "x offset -5m",
        "max_over_time(rate(x[5m])[1h:30s])",
        "x > 1e300",
        "rate(x[290y])",
        "rate(x[1.5])",
    ] {
        parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // One past the limit.
    assert!(matches!(parse("rate(x[9223372037])"), Err(PromqlError::Limit { at: 7, .. })));
}
