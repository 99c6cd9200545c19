//! A real Prometheus as the oracle of rollsim's PromQL. `rollsim export` writes a shipped
//! scenario's replication as OpenMetrics; `promtool tsdb create-blocks-from openmetrics`
//! backfills it; Debian's `prometheus` (2.42; `.ci/run` installs it) serves that TSDB on
//! 127.0.0.1; and for every generated expression at every evaluation time its
//! `/api/v1/query` must give the same series and values (1e-9 relative) as rollsim's own
//! evaluation of the same replication. Skipped, with the reason printed, when
//! /usr/bin/prometheus or /usr/bin/promtool is missing.
//!
//! Evaluation times fall half a second after a whole second, between the scrapes (which are
//! on whole seconds): rollsim follows Prometheus 3's left-open windows `(t-d, t]` and
//! lookback, where 2.42 closes them at the start; no sample sits on a window's start, so both
//! agree, and the test says where it would not.

use assert_cmd::Command;
use rollsim::engine::{MILLISECOND, SECOND, SimTime};
use rollsim::experiment::world::{Collect, run_replication};
use rollsim::report::openmetrics::DEFAULT_EPOCH_MS;
use rollsim::telemetry::promql::{self, Labels, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
const SCENARIO: &str = "scenarios/monitoring-high-error-rate.yaml";

/// Kills the Prometheus process however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An HTTP/1.0 GET on 127.0.0.1: the status and the body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

fn encode(q: &str) -> String {
    let mut s = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn number(v: &serde_json::Value) -> f64 {
    match v.as_str().expect("a value is a string") {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().expect("a number"),
    }
}

/// Prometheus's answer: a scalar, or a vector as label set -> value.
#[derive(Debug)]
enum Answer {
    Scalar(f64),
    Vector(BTreeMap<Labels, f64>),
}

fn prometheus_query(port: u16, expr: &str, at: &str) -> Answer {
    let (status, body) = get(port, &format!("/api/v1/query?query={}&time={at}", encode(expr))).unwrap();
    assert_eq!(status, 200, "{expr} at {at}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let data = &json["data"];
    match data["resultType"].as_str().unwrap() {
        "scalar" => Answer::Scalar(number(&data["result"][1])),
        "vector" => Answer::Vector(
            data["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let labels: Labels = r["metric"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    (labels, number(&r["value"][1]))
                })
                .collect(),
        ),
        other => panic!("{expr}: result type {other}"),
    }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || ((a - b).abs() <= 1e-9 * a.abs().max(b.abs()) && a.is_finite() && b.is_finite())
}

/// Why two answers differ, or None. `topk` and `bottomk` pick among equal values in an order
/// PromQL leaves open: when their series differ, the values must still be the same.
fn differ(expr: &str, ours: &Value, theirs: &Answer) -> Option<String> {
    if (expr.starts_with("topk(") || expr.starts_with("bottomk("))
        && let (Value::Vector(v), Answer::Vector(w)) = (ours, theirs)
    {
        let mut a: Vec<f64> = v.iter().map(|(_, x)| *x).collect();
        let mut b: Vec<f64> = w.values().copied().collect();
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        if a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| same(*x, *y)) {
            return None;
        }
    }
    match (ours, theirs) {
        (Value::Scalar(a), Answer::Scalar(b)) => (!same(*a, *b)).then(|| format!("scalar {a} vs {b}")),
        (Value::Vector(v), Answer::Vector(w)) => {
            let ours: BTreeMap<&Labels, f64> = v.iter().map(|(l, x)| (l, *x)).collect();
            if ours.len() != w.len() || ours.keys().zip(w.keys()).any(|(a, b)| *a != b) {
                let only_ours: Vec<_> = ours.keys().filter(|l| !w.contains_key(**l)).take(2).collect();
                let only_theirs: Vec<_> = w.keys().filter(|l| !ours.contains_key(l)).take(2).collect();
                return Some(format!(
                    "{} series vs {}; only rollsim: {only_ours:?}; only Prometheus: {only_theirs:?}",
                    ours.len(),
                    w.len()
                ));
            }
            for ((l, a), b) in ours.iter().zip(w.values()) {
                if !same(*a, *b) {
                    return Some(format!("{l:?}: {a} vs {b}"));
                }
            }
            None
        }
        (a, b) => Some(format!("types differ: {a:?} vs {b:?}")),
    }
}

/// The generated expressions: selectors, range functions over windows shorter and longer
/// than the data, aggregations, joins, histograms and the instant functions.
fn expressions() -> Vec<String> {
    generated()
}

/// The counter families whose `rate`/`increase` Prometheus 2.42 extrapolates differently.
const COUNTERS: [&str; 4] = [
    "http_requests_total",
    "istio_requests_total",
    "http_request_duration_seconds",
    "istio_request_duration_milliseconds",
];

/// The known divergence: Prometheus 2.42 limits a counter's extrapolation towards the
/// window's start by where it would reach zero *before* comparing the gap with 1.1 average
/// intervals; Prometheus 3 (and rollsim) replaces a long gap by half an interval first and
/// then applies the zero limit. They differ when a series starts inside the window and its
/// first value lies between those two bounds. True if some series of `metric` (a name prefix)
/// has a window ending at `t` of length `w` where the two orders differ.
fn extrapolation_differs(
    store: &rollsim::telemetry::promql::Store,
    metric: &str,
    w: SimTime,
    t: SimTime,
) -> bool {
    let secs = |d: SimTime| d as f64 / SECOND as f64;
    store.series().iter().any(|s| {
        let name = s.labels.get("__name__").map_or("", String::as_str);
        if !name.starts_with(metric) {
            return false;
        }
        let win: Vec<_> = s.samples.iter().filter(|x| x.t + w > t && x.t <= t).collect();
        let (Some(first), Some(last)) = (win.first(), win.last()) else { return false };
        if win.len() < 2 {
            return false;
        }
        let mut result = last.v - first.v;
        for p in win.windows(2) {
            if p[1].v < p[0].v {
                result += p[0].v;
            }
        }
        let to_start = secs(first.t + w) - secs(t);
        let sampled = secs(last.t - first.t);
        let avg = sampled / (win.len() - 1) as f64;
        let thr = avg * 1.1;
        if !(result > 0.0 && first.v >= 0.0) {
            return false;
        }
        let to_zero = sampled * (first.v / result);
        let old = {
            let d = to_start.min(to_zero);
            if d >= thr { avg / 2.0 } else { d }
        };
        let new = (if to_start >= thr { avg / 2.0 } else { to_start }).min(to_zero);
        (old - new).abs() > 1e-12 * old.abs().max(1.0)
    })
}

/// Whether a disagreement of `expr` at `t` is the known extrapolation divergence: the
/// expression extrapolates a counter family (`rate`/`increase`, directly, in an aggregation,
/// a join or a subquery) over a window where [`extrapolation_differs`].
fn known(store: &rollsim::telemetry::promql::Store, expr: &str, t: SimTime) -> bool {
    if !(expr.contains("rate(") || expr.contains("increase(")) || expr.contains("irate(") {
        return false;
    }
    let windows: Vec<SimTime> = expr
        .split('[')
        .skip(1)
        .filter_map(|r| r.split([']', ':']).next())
        .filter_map(|d| rollsim::scenario::units::parse_duration(d).ok())
        .collect();
    // A subquery `[10m:1m]` evaluates its inner range at each minute of its range.
    let inner_times: Vec<SimTime> = if expr.contains(":1m]") {
        (0..10)
            .filter_map(|k| (t / rollsim::engine::MINUTE).checked_sub(k))
            .map(|m| m * rollsim::engine::MINUTE)
            .collect()
    } else {
        vec![t]
    };
    COUNTERS.iter().filter(|m| expr.contains(*m)).any(|m| {
        windows.iter().any(|&w| {
            inner_times.iter().any(|&ti| {
                extrapolation_differs(store, m, w, ti)
                    // A subquery's steps are whole minutes, not half a second past one: a
                    // sample on an inner window's start is in 2.42's closed window only.
                    || (ti != t && on_window_start(store, m, w, ti))
            })
        })
    })
}

/// Whether some series of `metric` has a sample exactly at `t - w`.
fn on_window_start(store: &rollsim::telemetry::promql::Store, metric: &str, w: SimTime, t: SimTime) -> bool {
    let Some(start) = t.checked_sub(w) else { return false };
    store.series().iter().any(|s| {
        s.labels.get("__name__").is_some_and(|n| n.starts_with(metric))
            && s.samples.binary_search_by_key(&start, |x| x.t).is_ok()
    })
}

fn generated() -> Vec<String> {
    let mut out = Vec::new();
    let counters = [
        "http_requests_total",
        "http_requests_total{status=~\"5..\"}",
        "istio_requests_total{reporter=\"destination\",response_code=\"200\"}",
    ];
    let gauges = ["up", "ALERTS"];
    // The data is an hour long: 2h is longer than all of it.
    let windows = ["30s", "1m", "5m", "17m", "2h"];
    for c in counters {
        out.push(c.to_string());
        out.push(format!("{c} offset 5m"));
        for w in windows {
            for f in ["rate", "increase", "irate", "resets", "changes", "delta", "idelta"] {
                out.push(format!("{f}({c}[{w}])"));
            }
        }
        for w in ["1m", "5m"] {
            for agg in ["sum", "avg", "max", "min", "count"] {
                out.push(format!("{agg} by (status, response_code) (rate({c}[{w}]))"));
            }
            out.push(format!("sum without (pod) (increase({c}[{w}]))"));
            out.push(format!("topk(3, rate({c}[{w}]))"));
            out.push(format!("bottomk(2, rate({c}[{w}]))"));
            out.push(format!("stddev(rate({c}[{w}]))"));
            out.push(format!("quantile(0.9, rate({c}[{w}]))"));
        }
    }
    for g in gauges {
        out.push(g.to_string());
        for w in ["1m", "10m", "2h"] {
            for f in [
                "avg_over_time",
                "max_over_time",
                "min_over_time",
                "sum_over_time",
                "count_over_time",
                "last_over_time",
                "present_over_time",
                "stddev_over_time",
            ] {
                out.push(format!("{f}({g}[{w}])"));
            }
            out.push(format!("quantile_over_time(0.75, {g}[{w}])"));
        }
        out.push(format!("absent({g})"));
        out.push(format!("count({g})"));
        out.push(format!("group by (pod) ({g})"));
    }
    for w in ["1m", "5m", "30m"] {
        out.push(format!(
            "sum(rate(http_requests_total{{status=~\"5..\"}}[{w}])) / sum(rate(http_requests_total[{w}]))"
        ));
        for q in ["0.5", "0.9", "0.99"] {
            out.push(format!(
                "histogram_quantile({q}, sum by (le) (rate(http_request_duration_seconds_bucket[{w}])))"
            ));
            out.push(format!(
                "histogram_quantile({q}, sum by (le, pod) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\"}}[{w}])))"
            ));
        }
        out.push(format!(
            "sum by (pod) (rate(http_request_duration_seconds_sum[{w}])) / sum by (pod) (rate(http_request_duration_seconds_count[{w}]))"
        ));
        out.push(format!("rate(http_requests_total[{w}]) * on (pod) group_left up"));
        out.push(format!("sum by (pod) (rate(http_requests_total[{w}])) and on (pod) up == 1"));
        out.push(format!("sum by (pod) (rate(http_requests_total[{w}])) unless on (pod) up == 0"));
        out.push(format!(
            "sum by (pod) (rate(http_requests_total{{status=\"500\"}}[{w}])) or sum by (pod) (rate(http_requests_total[{w}])) * 0"
        ));
        out.push(format!("rate(http_requests_total[{w}]) > bool 1"));
        out.push(format!("max_over_time(rate(http_requests_total{{status=\"200\"}}[{w}])[10m:1m])"));
    }
    out.extend(
        [
            "absent(nonexistent_metric)",
            "absent(up{pod=\"none\"})",
            "label_replace(up, \"replica\", \"$1\", \"pod\", \".*-([a-z0-9]+)\")",
            "label_replace(up, \"x\", \"y\", \"nothere\", \"\")",
            "clamp(rate(http_requests_total[5m]), 1, 5)",
            "clamp_min(rate(http_requests_total[5m]), 2)",
            "clamp_max(rate(http_requests_total[5m]), 2)",
            "abs(-rate(http_requests_total[5m]))",
            "ceil(rate(http_requests_total[5m]))",
            "floor(rate(http_requests_total[5m]))",
            "round(rate(http_requests_total[5m]), 0.5)",
            "sqrt(rate(http_requests_total[5m]))",
            "ln(rate(http_requests_total[5m]) + 1)",
            "scalar(sum(up))",
            "vector(1)",
            "sum(up) + 1",
            "count_values(\"v\", up)",
            "sort_desc(sum by (status) (increase(http_requests_total[10m])))",
            "up == bool 1",
            "1 - avg(up)",
            "sum by (status) (rate(http_requests_total[5m])) / ignoring (status) group_left sum(rate(http_requests_total[5m]))",
        ]
        .map(String::from),
    );
    out
}

/// What one comparison found.
struct Outcome {
    expressions: usize,
    times: usize,
    evaluations: usize,
    /// Disagreements that are the known extrapolation divergence ([`known`]).
    known: usize,
    failures: Vec<(String, String)>,
}

/// Exports replication 0 of [`SCENARIO`] with `set` applied, serves it from a real
/// Prometheus and compares every expression at every evaluation time; None if the tools are
/// missing.
fn compare(set: &[&str]) -> Option<Outcome> {
    for tool in [PROMETHEUS, PROMTOOL] {
        if !Path::new(tool).is_file() {
            eprintln!("skipped: {tool} is missing (Debian's `prometheus` package; .ci/run installs it)");
            return None;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let mut cmd = Command::cargo_bin("rollsim").unwrap();
    cmd.args(["export", SCENARIO, "--out"]).arg(&export).args(["--format", "openmetrics"]);
    for s in set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tsdb = dir.path().join("tsdb");
    let out = std::process::Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(export.join("metrics.om"))
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "scrape_configs: []\n").unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let server = Server(
        std::process::Command::new(PROMETHEUS)
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    loop {
        if matches!(get(port, "/-/ready"), Ok((200, _))) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let overrides: Vec<_> = set.iter().map(|s| rollsim::scenario::parse_override(s).unwrap()).collect();
    let scenario = rollsim::scenario::load_file(Path::new(SCENARIO), &overrides).unwrap();
    let result = run_replication(&scenario, 0, Collect { timeline: false, trace: false, store: true });
    let store = result.store.unwrap();
    // Half a second past a whole second: between the scrapes (module docs).
    let times: Vec<SimTime> = (0..)
        .map(|k: u64| 10 * SECOND + k * 137 * SECOND + 500 * MILLISECOND)
        .take_while(|t| *t < scenario.duration)
        .collect();
    let exprs = expressions();
    let mut failures = Vec::new();
    let mut evaluations = 0;
    let mut known_count = 0;
    for expr in &exprs {
        let query = promql::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        for &t in &times {
            let ms = DEFAULT_EPOCH_MS + (t / MILLISECOND) as i64;
            let at = format!("{}.{:03}", ms / 1000, ms % 1000);
            let ours = query.eval_instant(&store, t).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let theirs = prometheus_query(port, expr, &at);
            evaluations += 1;
            if let Some(why) = differ(expr, &ours, &theirs) {
                if known(&store, expr, t) {
                    known_count += 1;
                    continue;
                }
                failures.push((expr.clone(), format!("at t={}s: {why}", t as f64 / SECOND as f64)));
            }
        }
    }
    drop(server);
    Some(Outcome { expressions: exprs.len(), times: times.len(), evaluations, known: known_count, failures })
}

fn print(what: &str, o: &Outcome) {
    eprintln!(
        "oracle ({what}): {} expressions at {} evaluation times ({} evaluations) against Prometheus 2.42: {} disagreements, and {} evaluations differ only by the known \
         divergence (2.42 limits a counter's extrapolation to zero before the 1.1-interval test; \
         rollsim follows Prometheus 3, which tests first); evaluation times are 0.5 s past the \
         whole-second scrapes, where 2.42's closed window start and Prometheus 3's open one agree",
        o.expressions,
        o.times,
        o.evaluations,
        o.failures.len(),
        o.known
    );
    let mut seen = std::collections::BTreeSet::new();
    for (expr, why) in &o.failures {
        if seen.insert(expr) && seen.len() <= 30 {
            eprintln!("  {expr} {why}");
        }
    }
}

#[test]
fn real_prometheus_agrees_with_rollsim_query() {
    let Some(o) = compare(&["spec.monitoring.counters=zero"]) else { return };
    print("counters exported as 0 from the start", &o);
    assert!(o.expressions >= 200, "{} expressions", o.expressions);
    assert!(o.failures.is_empty(), "{} disagreements with Prometheus", o.failures.len());
}

/// The scenario as shipped (labelled counters appear lazily at their first increment): more
/// series start inside windows, so more evaluations meet the known divergence; nothing else
/// may differ.
#[test]
fn real_prometheus_agrees_with_rollsim_query_lazy_counters() {
    let Some(o) = compare(&[]) else { return };
    print("counters created at their first increment", &o);
    assert!(o.expressions >= 200, "{} expressions", o.expressions);
    assert!(o.failures.is_empty(), "{} disagreements with Prometheus", o.failures.len());
}

/// `rollsim export` without a Prometheus: the file, its shape and its summary line; a bad
/// `--start` is bad input (exit 2) and writes nothing.
#[test]
fn export_writes_openmetrics_and_refuses_a_bad_start() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("new/export");
    let out = Command::cargo_bin("rollsim")
        .unwrap()
        .args([
            "export",
            "scenarios/flagger-builtin-checks.yaml",
            "--replication",
            "1",
            "--start",
            "1000",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("replication 1") && stderr.contains("series"), "{stderr}");
    let text = std::fs::read_to_string(out_dir.join("metrics.om")).unwrap();
    assert!(text.ends_with("\n# EOF\n"));
    assert!(text.contains("# TYPE up unknown\n"), "no up family");
    // Every sample line has a value and a timestamp at or after --start.
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!samples.is_empty());
    for line in &samples {
        let ts: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((1000.0..1000.0 + 3600.0).contains(&ts), "{line}");
    }
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);

    let bad = dir.path().join("bad");
    let out = Command::cargo_bin("rollsim")
        .unwrap()
        .args(["export", "scenarios/flagger-builtin-checks.yaml", "--start", "yesterday", "--out"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start `yesterday` is not a time"));
    assert!(!bad.exists());
}

/// The alert timeline against `promtool test rules`: the shipped scenario's rule, its input
/// series as the simulated Prometheus scraped them, and for each minute the alerts rollsim
/// had firing (its `ALERTS{alertstate="firing"}` at that evaluation) as `exp_alerts`.
///
/// promtool's notation puts every input series on one grid from t = 0 and evaluates a group
/// on whole multiples of its interval: the series are written on a 1 s grid with `_xN` gaps,
/// the scrapes get one phase (`scrapeOffset: 7s`) so that no sample sits on a 5m window's
/// start (where 2.42's closed windows and rollsim's left-open ones differ), and the group
/// evaluates at multiples of 15 s (`evaluationOffset: 0s`) as promtool's does. promtool
/// checks firing alerts only, so pending is checked through the firing time it leads to
/// (`for`). The scenario's rule has no `keep_firing_for`; that is not checked here.
#[test]
fn promtool_test_rules_agrees_with_the_alert_timeline() {
    if !Path::new(PROMTOOL).is_file() {
        eprintln!("skipped: {PROMTOOL} is missing (Debian's `prometheus` package; .ci/run installs it)");
        return;
    }
    const EXPR: &str =
        "sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) > 0.1";
    let text = std::fs::read_to_string(SCENARIO).unwrap();
    assert!(text.contains(EXPR) && text.contains("for: 5m"), "the scenario's rule changed");
    let set = ["spec.monitoring.scrapeOffset=7s", "spec.monitoring.evaluationOffset=0s"];
    let overrides: Vec<_> = set.iter().map(|s| rollsim::scenario::parse_override(s).unwrap()).collect();
    let scenario = rollsim::scenario::load_file(Path::new(SCENARIO), &overrides).unwrap();
    let result = run_replication(&scenario, 0, Collect { timeline: false, trace: false, store: true });
    let store = result.store.unwrap();

    let mut tests = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 15s\ntests:\n  - interval: 1s\n    input_series:\n",
    );
    let mut inputs = 0;
    for s in store.series() {
        if s.labels.get("__name__").map(String::as_str) != Some("http_requests_total") || s.samples.is_empty()
        {
            continue;
        }
        inputs += 1;
        let labels: Vec<String> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}=\\\"{v}\\\""))
            .collect();
        let mut values = String::new();
        let mut next = 0u64; // the next grid second to write
        for x in &s.samples {
            assert_eq!(x.t % SECOND, 0, "scrapes on whole seconds");
            let sec = x.t / SECOND;
            if sec > next {
                values.push_str(&format!("_x{} ", sec - next));
            }
            values.push_str(&format!("{} ", x.v));
            next = sec + 1;
        }
        tests.push_str(&format!(
            "      - series: \"http_requests_total{{{}}}\"\n        values: \"{}\"\n",
            labels.join(","),
            values.trim_end()
        ));
    }
    tests.push_str("    alert_rule_test:\n");
    let firing_at = |t: SimTime| -> bool {
        store.series().iter().any(|s| {
            s.labels.get("__name__").map(String::as_str) == Some("ALERTS")
                && s.labels.get("alertstate").map(String::as_str) == Some("firing")
                && s.samples.iter().any(|x| x.t == t)
        })
    };
    let (mut firing, mut quiet) = (0, 0);
    for m in 1..(scenario.duration / rollsim::engine::MINUTE) {
        let t = m * rollsim::engine::MINUTE;
        tests.push_str(&format!("      - eval_time: {m}m\n        alertname: HighErrorRate\n"));
        if firing_at(t) {
            firing += 1;
            tests.push_str(
                "        exp_alerts:\n          - exp_labels: {severity: critical}\n            \
                 exp_annotations: {summary: \"More than 10% of myapp's requests fail\"}\n",
            );
        } else {
            quiet += 1;
            tests.push_str("        exp_alerts: []\n");
        }
    }
    assert!(firing > 0 && quiet > 0, "the timeline must have both: {firing} firing, {quiet} quiet minutes");
    let rules = format!(
        "groups:\n  - name: myapp\n    interval: 15s\n    rules:\n      - alert: HighErrorRate\n        \
         expr: '{EXPR}'\n        for: 5m\n        labels: {{severity: critical}}\n        \
         annotations: {{summary: \"More than 10% of myapp's requests fail\"}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(dir.path().join("tests.yml"), &tests).unwrap();
    let out = std::process::Command::new(PROMTOOL)
        .current_dir(dir.path())
        .args(["test", "rules", "tests.yml"])
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "promtool test rules: {inputs} input series, {firing} minutes firing and {quiet} quiet: {}",
        if out.status.success() { "agrees" } else { "DISAGREES" }
    );
    assert!(out.status.success(), "{}", &report[..report.len().min(6000)]);
}
