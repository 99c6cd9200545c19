//! What pods expose and how Prometheus scrapes it.
//!
//! Every pod's application exports `http_requests_total{status}` and the histogram
//! `http_request_duration_seconds{le, status}` (the Prometheus client's default buckets); its
//! Istio sidecar exports `istio_requests_total{reporter="destination", response_code, …}` and
//! `istio_request_duration_milliseconds{le, …}` (Istio's default buckets). Both count the
//! requests that reached the pod, by outcome:
//!
//! | outcome | `status` / `response_code` | latency recorded |
//! |---|---|---|
//! | served | `200` | the version's latency, given that it is within the timeout |
//! | failed by the application | `500` | the version's latency |
//! | shed over capacity | `503` | 0 |
//! | timed out (the route's timeout) | `504` | the timeout |
//!
//! Requests a pod never saw (no endpoint, connection refused) are in no pod's metrics, as in a
//! real cluster. Counters are cumulative since the container started: a restart resets them
//! (Prometheus's `rate` handles the reset). A target exists from the pod's first container
//! start until the pod is gone; while the container is down its scrapes fail (`up` 0, no
//! samples). Series come into being as [`CounterInit`] says: lazily at the first increment,
//! or as zeros from the container's start.
//!
//! Each target is scraped every `interval` at its own phase (Prometheus spreads targets by a
//! hash of their labels; here a uniform draw on whole seconds, or `scrapeOffset` for all). A
//! scrape samples the counters as they are at that instant. Latency buckets are drawn at the
//! scrape for the requests counted since the previous one: a multinomial split of each
//! status's new requests over the buckets, with the latency distribution averaged over the
//! interval. `_sum` adds the expected latency of those requests (no noise).
//!
//! Only the families some query names are exported ([`Families`]), so an unused histogram
//! costs nothing.

use super::promql::{Labels, METRIC_NAME, Query, SeriesId, Store};
use super::rate::Sample;
use super::spec::CounterInit;
use crate::engine::{SECOND, SimRng, SimTime, to_secs_f64};
use crate::traffic::LatencyModel;
use std::collections::BTreeMap;

/// The outcomes pods count, in the order of [`STATUS_CODES`].
pub const STATUSES: usize = 4;
pub const STATUS_CODES: [&str; STATUSES] = ["200", "500", "503", "504"];
/// Index of each outcome in a pod's counts.
pub const OK: usize = 0;
pub const FAILED: usize = 1;
pub const SHED: usize = 2;
pub const TIMED_OUT: usize = 3;

/// The Prometheus client libraries' default histogram buckets (seconds).
pub const HTTP_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Istio's default `istio_request_duration_milliseconds` buckets.
pub const ISTIO_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];

pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const ISTIO_REQUESTS_TOTAL: &str = "istio_requests_total";
pub const ISTIO_DURATION: &str = "istio_request_duration_milliseconds";

/// Which metric families are exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Families {
    pub http_total: bool,
    pub http_histogram: bool,
    pub istio_total: bool,
    pub istio_histogram: bool,
    pub up: bool,
}

impl Families {
    pub fn all() -> Self {
        Families {
            http_total: true,
            http_histogram: true,
            istio_total: true,
            istio_histogram: true,
            up: true,
        }
    }

    pub fn any(&self) -> bool {
        self.http_total || self.http_histogram || self.istio_total || self.istio_histogram || self.up
    }

    /// The families these queries can read: by metric name, or all of them when a selector
    /// names no metric (a regex on `__name__`).
    pub fn needed_by<'a>(queries: impl IntoIterator<Item = &'a Query>) -> Self {
        let mut f = Families::default();
        for q in queries {
            match q.metric_names() {
                None => return Families::all(),
                Some(names) => {
                    for name in names {
                        f.add(&name);
                    }
                }
            }
        }
        f
    }

    fn add(&mut self, name: &str) {
        let histogram = |base: &str| {
            name.strip_prefix(base).is_some_and(|rest| matches!(rest, "_bucket" | "_sum" | "_count"))
        };
        if name == HTTP_REQUESTS_TOTAL {
            self.http_total = true;
        } else if histogram(HTTP_DURATION) {
            self.http_histogram = true;
        } else if name == ISTIO_REQUESTS_TOTAL {
            self.istio_total = true;
        } else if histogram(ISTIO_DURATION) {
            self.istio_histogram = true;
        } else if name == "up" {
            self.up = true;
        }
    }
}

/// Who a target is: its pod's name and labels, and the names its sidecar reports.
#[derive(Clone, Debug, Default)]
pub struct TargetInfo {
    /// `metadata.name` of the pod.
    pub pod: String,
    pub namespace: String,
    /// The pod's labels (its template's, with the pod-template hash).
    pub labels: BTreeMap<String, String>,
    /// The Deployment or Rollout that owns it (Istio's `destination_workload`).
    pub workload: String,
    /// The Service host its traffic arrives for (Istio's `destination_service`).
    pub service: String,
}

/// What the world tells a scrape about one pod.
#[derive(Clone, Copy, Debug)]
pub struct PodSnapshot {
    /// Requests counted by outcome since the pod was created (not reset by restarts).
    pub counts: [u64; STATUSES],
    /// The request timeout (a `504` takes this long).
    pub timeout: SimTime,
}

/// Layout of one status's series within a target.
#[derive(Clone, Copy)]
struct Layout {
    http_total: usize,
    http_buckets: usize,
    http_sum: usize,
    http_count: usize,
    istio_total: usize,
    istio_buckets: usize,
    istio_sum: usize,
    istio_count: usize,
    len: usize,
}

impl Layout {
    fn new() -> Self {
        let http_total = 0;
        let http_buckets = 1;
        let http_sum = http_buckets + HTTP_BUCKETS.len() + 1;
        let http_count = http_sum + 1;
        let istio_total = http_count + 1;
        let istio_buckets = istio_total + 1;
        let istio_sum = istio_buckets + ISTIO_BUCKETS_MS.len() + 1;
        let istio_count = istio_sum + 1;
        Layout {
            http_total,
            http_buckets,
            http_sum,
            http_count,
            istio_total,
            istio_buckets,
            istio_sum,
            istio_count,
            len: istio_count + 1,
        }
    }
}

struct Target {
    info: TargetInfo,
    offset: SimTime,
    /// The next scrape.
    next: SimTime,
    /// The container runs (scrapes succeed).
    running: bool,
    /// The pod's counts when the container last started: exported counters are the counts
    /// since then.
    base: [u64; STATUSES],
    /// Exported counts at the previous successful scrape (since `base`).
    seen: [u64; STATUSES],
    /// When the previous successful scrape was (or the container started).
    last: SimTime,
    /// Per status: cumulative count at or below each bound of [`Prometheus::bounds`].
    cumulative: Vec<[u64; STATUSES]>,
    /// Per status: the latency sum in seconds.
    sum: [f64; STATUSES],
    /// Per status, the series ids in [`Layout`] order, created on first export.
    series: Vec<Option<SeriesId>>,
    up: Option<SeriesId>,
    /// Statuses exported so far since the container started (lazy counters).
    exported: [bool; STATUSES],
    gone: bool,
}

/// The scrape side of a simulated Prometheus: targets, their counters, and the TSDB.
pub struct Prometheus {
    pub store: Store,
    families: Families,
    counters: CounterInit,
    interval: SimTime,
    fixed_offset: Option<SimTime>,
    /// By pod id.
    targets: Vec<Option<Target>>,
    /// The union of the enabled histograms' bucket bounds, in seconds, ascending.
    bounds: Vec<f64>,
    http_index: Vec<usize>,
    istio_index: Vec<usize>,
    layout: Layout,
    rng: SimRng,
    probabilities: Vec<f64>,
    /// When the replication ends: a new series gets room for every scrape until then.
    horizon: SimTime,
    /// The scrape in progress.
    now: SimTime,
}

impl Prometheus {
    pub fn new(
        families: Families,
        counters: CounterInit,
        interval: SimTime,
        fixed_offset: Option<SimTime>,
        rng: SimRng,
    ) -> Self {
        assert!(interval > 0, "a scrape interval must be positive");
        let mut bounds: Vec<f64> = Vec::new();
        if families.http_histogram {
            bounds.extend(HTTP_BUCKETS);
        }
        if families.istio_histogram {
            bounds.extend(ISTIO_BUCKETS_MS.iter().map(|ms| ms / 1000.0));
        }
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let index = |list: &mut dyn Iterator<Item = f64>| -> Vec<usize> {
            list.map(|b| bounds.iter().position(|&x| x == b).unwrap_or(usize::MAX)).collect()
        };
        let http_index =
            if families.http_histogram { index(&mut HTTP_BUCKETS.iter().copied()) } else { vec![] };
        let istio_index = if families.istio_histogram {
            index(&mut ISTIO_BUCKETS_MS.iter().map(|ms| ms / 1000.0))
        } else {
            vec![]
        };
        Prometheus {
            store: Store::new(),
            families,
            counters,
            interval,
            fixed_offset,
            targets: Vec::new(),
            probabilities: Vec::with_capacity(bounds.len() + 1),
            bounds,
            http_index,
            istio_index,
            layout: Layout::new(),
            rng,
            horizon: 0,
            now: 0,
        }
    }

    /// Scrapes end at `end`: each new series reserves room for its samples until then, so
    /// that appending never moves them.
    pub fn with_horizon(mut self, end: SimTime) -> Self {
        self.horizon = end;
        self
    }

    pub fn families(&self) -> Families {
        self.families
    }

    pub fn interval(&self) -> SimTime {
        self.interval
    }

    /// The pod's container started for the first time at `now`: it becomes a target, first
    /// scraped at its next slot.
    pub fn add_target(&mut self, pod: u32, info: TargetInfo, counts: [u64; STATUSES], now: SimTime) {
        let offset = match self.fixed_offset {
            Some(o) => o % self.interval,
            // Whole seconds: the aggregated fidelity counts per second, so a scrape on a
            // second boundary costs no extra draw.
            None => self.rng.below((self.interval / SECOND).max(1)) * SECOND % self.interval,
        };
        let schedule = super::alert::Schedule::new(self.interval, offset);
        let idx = pod as usize;
        if self.targets.len() <= idx {
            self.targets.resize_with(idx + 1, || None);
        }
        self.targets[idx] = Some(Target {
            info,
            offset,
            next: schedule.after(now),
            running: true,
            base: counts,
            seen: [0; STATUSES],
            last: now,
            cumulative: vec![[0; STATUSES]; self.bounds.len()],
            sum: [0.0; STATUSES],
            series: vec![None; STATUSES * self.layout.len],
            up: None,
            exported: [false; STATUSES],
            gone: false,
        });
    }

    /// The container restarted at `now`: its counters start again from zero.
    pub fn restarted(&mut self, pod: u32, counts: [u64; STATUSES], now: SimTime) {
        if let Some(Some(t)) = self.targets.get_mut(pod as usize) {
            t.running = true;
            t.base = counts;
            t.seen = [0; STATUSES];
            t.last = now;
            t.cumulative.iter_mut().for_each(|c| *c = [0; STATUSES]);
            t.sum = [0.0; STATUSES];
            t.exported = [false; STATUSES];
        }
    }

    /// The container exited: scrapes fail until it restarts.
    pub fn stopped(&mut self, pod: u32) {
        if let Some(Some(t)) = self.targets.get_mut(pod as usize) {
            t.running = false;
        }
    }

    /// The pod is gone: it is no longer a target.
    pub fn remove_target(&mut self, pod: u32) {
        if let Some(Some(t)) = self.targets.get_mut(pod as usize) {
            t.gone = true;
        }
    }

    /// The next scrape of any target.
    pub fn next_scrape(&self) -> Option<SimTime> {
        self.targets.iter().flatten().filter(|t| !t.gone).map(|t| t.next).min()
    }

    /// Scrapes every target due at `now`. `snapshot(pod)` gives the pod's counts;
    /// `latency(pod, t)` its latency distribution at `t` and whether that changes over time.
    pub fn scrape_due(
        &mut self,
        now: SimTime,
        mut snapshot: impl FnMut(u32) -> PodSnapshot,
        mut latency: impl FnMut(u32, SimTime) -> (LatencyModel, bool),
    ) {
        self.now = now;
        for pod in 0..self.targets.len() {
            let due = matches!(&self.targets[pod], Some(t) if !t.gone && t.next == now);
            if !due {
                continue;
            }
            let snap = snapshot(pod as u32);
            self.scrape_one(pod, now, snap, &mut latency);
            if let Some(t) = &mut self.targets[pod] {
                t.next = now + self.interval;
                debug_assert_eq!(t.next % self.interval, t.offset % self.interval);
            }
        }
    }

    fn scrape_one(
        &mut self,
        pod: usize,
        now: SimTime,
        snap: PodSnapshot,
        latency: &mut impl FnMut(u32, SimTime) -> (LatencyModel, bool),
    ) {
        let mut target = self.targets[pod].take().expect("a due target");
        if self.families.up {
            let id = *target.up.get_or_insert_with(|| {
                let mut l = self.base_labels(&target.info);
                l.insert(METRIC_NAME.into(), "up".into());
                self.store.series_id(l)
            });
            self.store.push(id, Sample::new(now, if target.running { 1.0 } else { 0.0 }));
        }
        if target.running {
            let mut counts = [0u64; STATUSES];
            for (s, c) in counts.iter_mut().enumerate() {
                *c = snap.counts[s] - target.base[s];
            }
            if !self.bounds.is_empty() {
                self.draw_latencies(&mut target, pod as u32, now, counts, snap.timeout, latency);
            }
            for (s, &count) in counts.iter().enumerate() {
                let show = count > 0 || target.exported[s] || self.counters == CounterInit::Zero;
                if show {
                    target.exported[s] = true;
                    self.export(&mut target, s, count, now);
                }
            }
            target.seen = counts;
            target.last = now;
        }
        self.targets[pod] = Some(target);
    }

    /// Splits each status's requests since the last scrape over the latency buckets.
    fn draw_latencies(
        &mut self,
        t: &mut Target,
        pod: u32,
        now: SimTime,
        counts: [u64; STATUSES],
        timeout: SimTime,
        latency: &mut impl FnMut(u32, SimTime) -> (LatencyModel, bool),
    ) {
        let new: [u64; STATUSES] = std::array::from_fn(|s| counts[s] - t.seen[s]);
        if new.iter().all(|&n| n == 0) {
            return;
        }
        let timeout_s = to_secs_f64(timeout);
        let k = self.bounds.len();
        // The CDF at each bound for served (≤ timeout) and failed requests, averaged over
        // the interval, and the matching mean latencies.
        let (mut cdf_ok, mut cdf_all) = (vec![0.0; k], vec![0.0; k]);
        let (mut mean_ok, mut mean_all) = (0.0, 0.0);
        let (first, changing) = latency(pod, t.last + (now - t.last) / 2);
        let points = if changing { 8 } else { 1 };
        for i in 0..points {
            let model = if points == 1 {
                first
            } else {
                let at = t.last + (now - t.last) * (2 * i + 1) / (2 * points);
                latency(pod, at).0
            };
            let g_t = 1.0 - model.exceed_probability(timeout);
            let g_timeout = lognormal_cdf(&model, timeout_s);
            for (j, &b) in self.bounds.iter().enumerate() {
                let g = lognormal_cdf(&model, b);
                cdf_all[j] += g / points as f64;
                let below = if b < timeout_s { g } else { g_timeout };
                let ok = if g_t > 0.0 { below / g_t } else { 1.0 };
                cdf_ok[j] += ok.min(1.0) / points as f64;
            }
            mean_all += model.mean_secs() / points as f64;
            let partial = partial_mean(&model, timeout_s);
            mean_ok += if g_t > 0.0 { partial / g_t } else { timeout_s } / points as f64;
        }
        for (s, &n) in new.iter().enumerate() {
            if n == 0 {
                continue;
            }
            self.probabilities.clear();
            let mut prev = 0.0;
            for j in 0..k {
                let c = match s {
                    OK => cdf_ok[j],
                    FAILED => cdf_all[j],
                    SHED => 1.0,
                    _ => {
                        if self.bounds[j] >= timeout_s {
                            1.0
                        } else {
                            0.0
                        }
                    }
                };
                let c = c.max(prev).min(1.0);
                self.probabilities.push(c - prev);
                prev = c;
            }
            // A multinomial over the buckets (the rest above the last bound), by sequential
            // binomials.
            let (mut left, mut mass) = (n, 1.0);
            let mut running = 0u64;
            for j in 0..k {
                let p = self.probabilities[j];
                let x = if left == 0 || p <= 0.0 {
                    0
                } else if p >= mass {
                    left
                } else {
                    self.rng.binomial(left, (p / mass).min(1.0))
                };
                left -= x;
                mass = (mass - p).max(0.0);
                running += x;
                t.cumulative[j][s] += running;
                // `cumulative[j]` holds the count at or below bound j: add this draw's
                // running total (all requests in buckets 0..=j).
            }
            t.sum[s] += n as f64
                * match s {
                    OK => mean_ok,
                    FAILED => mean_all,
                    SHED => 0.0,
                    _ => timeout_s,
                };
        }
    }

    fn base_labels(&self, info: &TargetInfo) -> Labels {
        let mut l: Labels = info.labels.clone();
        l.insert("namespace".into(), info.namespace.clone());
        l.insert("pod".into(), info.pod.clone());
        l
    }

    fn istio_labels(&self, info: &TargetInfo, status: usize) -> Labels {
        let mut l = Labels::new();
        l.insert("reporter".into(), "destination".into());
        l.insert("destination_workload".into(), info.workload.clone());
        l.insert("destination_workload_namespace".into(), info.namespace.clone());
        l.insert(
            "destination_service".into(),
            format!("{}.{}.svc.cluster.local", info.service, info.namespace),
        );
        l.insert("destination_service_name".into(), info.service.clone());
        l.insert("destination_service_namespace".into(), info.namespace.clone());
        if let Some(app) = info.labels.get("app") {
            l.insert("destination_app".into(), app.clone());
        }
        if let Some(v) = info.labels.get("version") {
            l.insert("destination_version".into(), v.clone());
        }
        l.insert("response_code".into(), STATUS_CODES[status].into());
        l.insert("namespace".into(), info.namespace.clone());
        l.insert("pod".into(), info.pod.clone());
        l
    }

    fn series(
        &mut self,
        t: &mut Target,
        status: usize,
        slot: usize,
        make: impl FnOnce(&Self) -> Labels,
    ) -> SeriesId {
        let i = status * self.layout.len + slot;
        match t.series[i] {
            Some(id) => id,
            None => {
                let capacity = (self.horizon.saturating_sub(self.now) / self.interval) as usize + 1;
                let id = self.store.series_id_with_capacity(make(self), capacity);
                t.series[i] = Some(id);
                id
            }
        }
    }

    fn export(&mut self, t: &mut Target, s: usize, count: u64, now: SimTime) {
        let lay = self.layout;
        let http = |this: &Self, info: &TargetInfo, name: &str| {
            let mut l = this.base_labels(info);
            l.insert("status".into(), STATUS_CODES[s].into());
            l.insert(METRIC_NAME.into(), name.into());
            l
        };
        let istio = |this: &Self, info: &TargetInfo, name: &str| {
            let mut l = this.istio_labels(info, s);
            l.insert(METRIC_NAME.into(), name.into());
            l
        };
        let info = std::mem::take(&mut t.info);
        let c = count as f64;
        if self.families.http_total {
            let id = self.series(t, s, lay.http_total, |me| http(me, &info, HTTP_REQUESTS_TOTAL));
            self.store.push(id, Sample::new(now, c));
        }
        if self.families.istio_total {
            let id = self.series(t, s, lay.istio_total, |me| istio(me, &info, ISTIO_REQUESTS_TOTAL));
            self.store.push(id, Sample::new(now, c));
        }
        if self.families.http_histogram {
            for (i, &b) in HTTP_BUCKETS.iter().enumerate() {
                let v = t.cumulative[self.http_index[i]][s] as f64;
                let id = self.series(t, s, lay.http_buckets + i, |me| {
                    let mut l = http(me, &info, &format!("{HTTP_DURATION}_bucket"));
                    l.insert("le".into(), fmt_bound(b));
                    l
                });
                self.store.push(id, Sample::new(now, v));
            }
            let inf = lay.http_buckets + HTTP_BUCKETS.len();
            let id = self.series(t, s, inf, |me| {
                let mut l = http(me, &info, &format!("{HTTP_DURATION}_bucket"));
                l.insert("le".into(), "+Inf".into());
                l
            });
            self.store.push(id, Sample::new(now, c));
            let id = self.series(t, s, lay.http_sum, |me| http(me, &info, &format!("{HTTP_DURATION}_sum")));
            self.store.push(id, Sample::new(now, t.sum[s]));
            let id =
                self.series(t, s, lay.http_count, |me| http(me, &info, &format!("{HTTP_DURATION}_count")));
            self.store.push(id, Sample::new(now, c));
        }
        if self.families.istio_histogram {
            for (i, &b) in ISTIO_BUCKETS_MS.iter().enumerate() {
                let v = t.cumulative[self.istio_index[i]][s] as f64;
                let id = self.series(t, s, lay.istio_buckets + i, |me| {
                    let mut l = istio(me, &info, &format!("{ISTIO_DURATION}_bucket"));
                    l.insert("le".into(), fmt_bound(b));
                    l
                });
                self.store.push(id, Sample::new(now, v));
            }
            let inf = lay.istio_buckets + ISTIO_BUCKETS_MS.len();
            let id = self.series(t, s, inf, |me| {
                let mut l = istio(me, &info, &format!("{ISTIO_DURATION}_bucket"));
                l.insert("le".into(), "+Inf".into());
                l
            });
            self.store.push(id, Sample::new(now, c));
            let id =
                self.series(t, s, lay.istio_sum, |me| istio(me, &info, &format!("{ISTIO_DURATION}_sum")));
            self.store.push(id, Sample::new(now, t.sum[s] * 1000.0));
            let id =
                self.series(t, s, lay.istio_count, |me| istio(me, &info, &format!("{ISTIO_DURATION}_count")));
            self.store.push(id, Sample::new(now, c));
        }
        t.info = info;
    }
}

/// A bucket bound as Prometheus formats `le` (`0.005`, `1`, `2.5`, `3.6e+06`).
fn fmt_bound(b: f64) -> String {
    if b >= 1e6 {
        // Go's strconv.FormatFloat(b, 'g', -1, 64) switches to an exponent at 1e21 for 'f',
        // but client_golang formats `le` with 'g'-style shortest form: 3.6e+06.
        let exp = b.log10().floor() as i32;
        let mant = b / 10f64.powi(exp);
        format!("{mant}e+{exp:02}")
    } else {
        format!("{b}")
    }
}

/// P(L ≤ x seconds).
fn lognormal_cdf(m: &LatencyModel, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if m.sigma <= 0.0 {
        return if m.mu.exp() <= x { 1.0 } else { 0.0 };
    }
    0.5 * statrs::function::erf::erfc(-(x.ln() - m.mu) / (m.sigma * std::f64::consts::SQRT_2))
}

/// E[L · 1{L ≤ x}] in seconds.
fn partial_mean(m: &LatencyModel, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if m.sigma <= 0.0 {
        let l = m.mu.exp();
        return if l <= x { l } else { 0.0 };
    }
    let z = (x.ln() - m.mu - m.sigma * m.sigma) / m.sigma;
    m.mean_secs() * 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests;
