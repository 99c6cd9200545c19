//! The timeline of one replication (the run's `timeline.csv`, replication 0): pods per
//! version (Ready as stacked areas, desired as lines), the traffic share per version (actual
//! as stacked areas, intended as dashed lines), request and error rates, each alert's
//! pending and firing intervals, and markers from that replication's row of `runs.csv`
//! (release start, detection, the new version out of traffic, rolled back, completed) and
//! from its `decisions.csv` when saved (the moment the undo, the abort or Flagger's rollback
//! began).
//! Time is in minutes from the release start.

use super::data::{Table, scenario_name};
use super::draw::{self, Area, Chart2d, FIRING, GREY, INK, LIGHT_GREY, Mark, PENDING, colour, text, tick};
use crate::experiment::record::RunRecord;
use crate::report::rundir::{RUNS_FILE, TIMELINE_FILE, read_runs};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// At most this many points per series: the ticks are averaged into this many buckets.
const MAX_POINTS: usize = 600;
const WIDTH: u32 = 1200;
const TITLE_H: u32 = 44;
const PANEL_H: u32 = 215;
/// The legend column on the right.
const KEY_W: u32 = 290;
/// The `version` of the rows counting requests no endpoint received.
const NO_ENDPOINT: &str = "(no endpoint)";

#[derive(Clone, Debug)]
pub struct VersionSeries {
    pub name: String,
    pub desired: Vec<f64>,
    pub ready: Vec<f64>,
    pub share: Vec<f64>,
    pub intended: Vec<f64>,
    pub rps: Vec<f64>,
    pub errors: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertLevel {
    Pending,
    Firing,
}

/// An alert's evaluation: minutes, and its state when not inactive.
type Evaluation = (f64, Option<AlertLevel>);

#[derive(Clone, Debug)]
pub struct AlertLane {
    /// The alert's name (the last part of `PrometheusRule/NAME/ALERT`).
    pub name: String,
    /// Intervals in minutes with their state; inactive time is not listed.
    pub bands: Vec<(f64, f64, AlertLevel)>,
}

#[derive(Clone, Debug)]
pub struct Timeline {
    scenario: String,
    record: Option<RunRecord>,
    /// Bucket centres, minutes from the release start.
    pub minutes: Vec<f64>,
    pub span: (f64, f64),
    pub versions: Vec<VersionSeries>,
    pub alerts: Vec<AlertLane>,
    /// Whether the file says alert states (files of older runs do not).
    alert_states: bool,
    /// When the rollback began (label, minutes from the release start), from `decisions.csv`.
    pub rollback_start: Option<(String, f64)>,
}

/// One parsed row of a version.
#[derive(Clone, Copy, Default)]
struct Values {
    desired: f64,
    ready: f64,
    share: f64,
    intended: f64,
    rps: f64,
    errors: f64,
}

impl Timeline {
    /// Reads `dir/timeline.csv` (and replication 0 of `dir/runs.csv` when there); `None`
    /// without a timeline or with one that has no rows.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Timeline>> {
        let Some(table) = Table::read(&dir.join(TIMELINE_FILE))? else { return Ok(None) };
        if table.rows.is_empty() {
            return Ok(None);
        }
        let c_time = table.column("time_s")?;
        let c_version = table.column("version")?;
        let cols = [
            table.column("pods_desired")?,
            table.column("pods_ready")?,
            table.column("traffic_share")?,
            table.column("intended_share")?,
            table.column("request_rps")?,
            table.column("error_rps")?,
        ];
        let c_threshold = table.column("alert_threshold").ok();
        let c_state = table.column("alert_state").ok();

        // Versions in order of first appearance; rows by time (in milliseconds, exact for
        // the tick spacings a scenario can have).
        let mut order: Vec<String> = Vec::new();
        let mut by_time: BTreeMap<i64, BTreeMap<usize, Values>> = BTreeMap::new();
        let mut alert_rows: Vec<(String, Vec<Evaluation>)> = Vec::new();
        for row in &table.rows {
            let t = table.required(row, c_time)?;
            let version = table.text(row, c_version);
            let is_alert = version.starts_with("PrometheusRule/")
                || c_threshold.is_some_and(|c| !table.text(row, c).trim().is_empty());
            if is_alert {
                let state = match c_state.map(|c| table.text(row, c).trim()) {
                    Some("pending") => Some(AlertLevel::Pending),
                    Some("firing") => Some(AlertLevel::Firing),
                    Some("inactive") | Some("") | None => None,
                    Some(other) => {
                        return Err(super::data::bad(
                            &table.path,
                            row.0,
                            &format!(
                                "alert_state is `{other}`; write inactive, pending or firing (or leave it blank)"
                            ),
                        ));
                    }
                };
                let name = version.rsplit('/').next().unwrap_or(version).to_owned();
                match alert_rows.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, rows)) => rows.push((t / 60.0, state)),
                    None => alert_rows.push((name, vec![(t / 60.0, state)])),
                }
                continue;
            }
            let index = match order.iter().position(|v| v == version) {
                Some(i) => i,
                None => {
                    order.push(version.to_owned());
                    order.len() - 1
                }
            };
            let mut v = [0.0; 6];
            for (k, c) in cols.iter().enumerate() {
                v[k] = table.number(row, *c)?.unwrap_or(0.0);
            }
            let values =
                Values { desired: v[0], ready: v[1], share: v[2], intended: v[3], rps: v[4], errors: v[5] };
            by_time.entry((t * 1000.0).round() as i64).or_default().insert(index, values);
        }
        if by_time.is_empty() {
            return Ok(None);
        }
        // Requests no endpoint received go last, in grey.
        let mut display: Vec<usize> = (0..order.len()).filter(|&i| order[i] != NO_ENDPOINT).collect();
        display.extend((0..order.len()).filter(|&i| order[i] == NO_ENDPOINT));

        let times: Vec<f64> = by_time.keys().map(|&ms| ms as f64 / 60_000.0).collect();
        let (t0, t1) = (times[0], *times.last().expect("not empty"));
        let buckets = times.len().min(MAX_POINTS);
        let bucket_of = |t: f64| {
            if t1 <= t0 { 0 } else { (((t - t0) / (t1 - t0) * buckets as f64) as usize).min(buckets - 1) }
        };
        let mut sums = vec![vec![Values::default(); buckets]; order.len()];
        let mut counts = vec![0usize; buckets];
        let mut centre = vec![0.0; buckets];
        for (&ms, versions) in &by_time {
            let t = ms as f64 / 60_000.0;
            let b = bucket_of(t);
            counts[b] += 1;
            centre[b] += t;
            for (&v, x) in versions {
                let s = &mut sums[v][b];
                s.desired += x.desired;
                s.ready += x.ready;
                s.share += x.share;
                s.intended += x.intended;
                s.rps += x.rps;
                s.errors += x.errors;
            }
        }
        let filled: Vec<usize> = (0..buckets).filter(|&b| counts[b] > 0).collect();
        let minutes: Vec<f64> = filled.iter().map(|&b| centre[b] / counts[b] as f64).collect();
        let versions = display
            .iter()
            .map(|&v| {
                let get = |f: fn(&Values) -> f64| -> Vec<f64> {
                    filled.iter().map(|&b| f(&sums[v][b]) / counts[b] as f64).collect()
                };
                VersionSeries {
                    name: order[v].clone(),
                    desired: get(|x| x.desired),
                    ready: get(|x| x.ready),
                    share: get(|x| x.share),
                    intended: get(|x| x.intended),
                    rps: get(|x| x.rps),
                    errors: get(|x| x.errors),
                }
            })
            .collect();

        let alert_states = c_state.is_some();
        let alerts = alert_rows
            .into_iter()
            .map(|(name, mut rows)| {
                rows.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut bands: Vec<(f64, f64, AlertLevel)> = Vec::new();
                for (k, &(t, state)) in rows.iter().enumerate() {
                    let Some(level) = state else { continue };
                    let end = rows.get(k + 1).map_or(t1, |r| r.0);
                    match bands.last_mut() {
                        Some(last) if last.2 == level && last.1 == t => last.1 = end,
                        _ => bands.push((t, end, level)),
                    }
                }
                AlertLane { name, bands }
            })
            .collect();

        let record = match read_runs(&dir.join(RUNS_FILE)) {
            Ok(records) => records.into_iter().find(|r| r.replication == 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(super::BadInput(format!("{}: {e}", dir.join(RUNS_FILE).display())).into());
            }
        };
        Ok(Some(Timeline {
            scenario: scenario_name(dir),
            record,
            minutes,
            span: (t0, t1),
            versions,
            alerts,
            alert_states,
            rollback_start: rollback_start(dir)?,
        }))
    }

    pub fn title(&self) -> String {
        let mut t = format!("{}: the timeline of one replication (n = 1: replication 0", self.scenario);
        if let Some(r) = &self.record {
            t.push_str(&format!(", seed {}, outcome {}", r.seed, r.outcome.as_str()));
        }
        t.push(')');
        t
    }

    fn panels(&self) -> usize {
        4 + usize::from(self.alert_states && !self.alerts.is_empty())
    }

    fn alert_panel_height(&self) -> u32 {
        90 + 28 * self.alerts.len() as u32
    }

    pub fn size(&self) -> (u32, u32) {
        let alerts = if self.panels() == 5 { self.alert_panel_height() } else { 0 };
        (WIDTH, TITLE_H + 4 * PANEL_H + alerts)
    }

    /// The markers: (label, minutes, colour).
    fn markers(&self) -> Vec<(String, f64, RGBColor)> {
        let mut m = vec![("release start".to_owned(), 0.0, INK)];
        let Some(r) = &self.record else { return m };
        let min = |s: Option<f64>| s.map(|s| s / 60.0);
        if let Some(t) = min(r.detected_at_s) {
            let by = r.detected_by.as_deref().map_or(String::new(), |b| format!(" by {b}"));
            m.push((format!("detected{by}"), t, draw::PALETTE[3]));
        }
        if let Some((label, t)) = &self.rollback_start {
            m.push((label.clone(), *t, draw::PALETTE[4]));
        }
        if let Some(t) = min(r.mitigated_at_s) {
            m.push(("new version out of traffic".to_owned(), t, draw::PALETTE[5]));
        }
        if let Some(t) = min(r.rolled_back_at_s) {
            m.push(("rolled back".to_owned(), t, draw::PALETTE[0]));
        }
        if let Some(t) = min(r.completed_at_s) {
            m.push(("rollout completed".to_owned(), t, draw::PALETTE[2]));
        }
        m
    }

    fn version_colour(&self, k: usize) -> RGBColor {
        if self.versions[k].name == NO_ENDPOINT { GREY } else { colour(k) }
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, rest) = root.split_vertically(TITLE_H);
        top.draw_text(&self.title(), &text(18), (14, 12))?;
        let mut heights = vec![PANEL_H; 4];
        if self.panels() == 5 {
            heights.push(self.alert_panel_height());
        }
        let mut areas = Vec::new();
        let mut area = rest;
        for h in &heights[..heights.len() - 1] {
            let (a, b) = area.split_vertically(*h);
            areas.push(a);
            area = b;
        }
        areas.push(area);

        // A legend column on the right of every panel, so the time axes line up.
        let (areas, sides): (Vec<_>, Vec<_>) =
            areas.iter().map(|a| a.split_horizontally(WIDTH - KEY_W)).unzip();
        let x = (self.span.0, self.span.1.max(self.span.0 + 1.0 / 60.0));
        let markers = self.markers();
        let mut marker_keys: Vec<(String, Mark)> = markers
            .iter()
            .map(|(name, t, c)| (format!("{name} ({} min)", tick(*t)), Mark::Marker(*c)))
            .collect();
        if !self.alerts.is_empty() {
            marker_keys.push(("an alert firing (shaded)".to_owned(), Mark::Fill(FIRING.mix(0.15))));
        }
        let firing: Vec<(f64, f64)> = self
            .alerts
            .iter()
            .flat_map(|a| a.bands.iter().filter(|b| b.2 == AlertLevel::Firing).map(|b| (b.0, b.1)))
            .collect();

        // 1. Pods: Ready stacked, desired as stacked lines.
        let pods: Vec<usize> =
            (0..self.versions.len()).filter(|&k| self.versions[k].name != NO_ENDPOINT).collect();
        let top_pods = stacked_max(pods.iter().map(|&k| &self.versions[k].ready))
            .max(stacked_max(pods.iter().map(|&k| &self.versions[k].desired)));
        let y = draw::padded(0.0, top_pods, true);
        let mut keys = Vec::new();
        let mut chart =
            panel(&areas[0], "Pods per version: Ready (stacked areas) and desired (lines)", x, y, "pods")?;
        shade(&mut chart, &firing, y)?;
        let mut below = vec![0.0; self.minutes.len()];
        let mut below_desired = vec![0.0; self.minutes.len()];
        for &k in &pods {
            let v = &self.versions[k];
            let c = self.version_colour(k);
            stack(&mut chart, &self.minutes, &mut below, &v.ready, c)?;
            keys.push((format!("{} Ready", v.name), Mark::Fill(c.mix(0.55))));
            let upper: Vec<(f64, f64)> = self
                .minutes
                .iter()
                .zip(&below_desired)
                .zip(&v.desired)
                .map(|((&t, &b), &d)| (t, b + d))
                .collect();
            for (b, d) in below_desired.iter_mut().zip(&v.desired) {
                *b += d;
            }
            chart.draw_series(LineSeries::new(upper, c.stroke_width(2)))?;
            keys.push((format!("{} desired (stacked)", v.name), Mark::Line(c)));
        }
        draw_markers(&mut chart, &markers, y)?;
        draw::key(&sides[0], &keys)?;

        // 2. Traffic share.
        let y = (0.0, 105.0);
        let mut keys = Vec::new();
        let mut chart = panel(
            &areas[1],
            "Traffic share per version: served (stacked areas) and intended by the configuration (dashed)",
            x,
            y,
            "% of requests",
        )?;
        shade(&mut chart, &firing, y)?;
        let mut below = vec![0.0; self.minutes.len()];
        for (k, v) in self.versions.iter().enumerate() {
            let c = self.version_colour(k);
            let pct: Vec<f64> = v.share.iter().map(|s| s * 100.0).collect();
            stack(&mut chart, &self.minutes, &mut below, &pct, c)?;
            keys.push((format!("{} served", v.name), Mark::Fill(c.mix(0.55))));
            if v.name != NO_ENDPOINT {
                let line: Vec<(f64, f64)> =
                    self.minutes.iter().zip(&v.intended).map(|(&t, &s)| (t, s * 100.0)).collect();
                chart.draw_series(DashedLineSeries::new(line, 6, 4, c.stroke_width(2)))?;
                keys.push((format!("{} intended", v.name), Mark::Dashed(c)));
            }
        }
        draw_markers(&mut chart, &markers, y)?;
        draw::key(&sides[1], &keys)?;

        // 3. Requests per second, stacked.
        let y = draw::padded(0.0, stacked_max(self.versions.iter().map(|v| &v.rps)), true);
        let mut keys = Vec::new();
        let mut chart = panel(&areas[2], "Request rate per version (stacked)", x, y, "requests/s")?;
        shade(&mut chart, &firing, y)?;
        let mut below = vec![0.0; self.minutes.len()];
        for (k, v) in self.versions.iter().enumerate() {
            let c = self.version_colour(k);
            stack(&mut chart, &self.minutes, &mut below, &v.rps, c)?;
            keys.push((v.name.clone(), Mark::Fill(c.mix(0.55))));
        }
        draw_markers(&mut chart, &markers, y)?;
        keys.push((String::new(), Mark::Fill(WHITE.mix(0.0))));
        keys.extend(marker_keys);
        draw::key(&sides[2], &keys)?;

        // 4. Errors per second.
        let top_err = self.versions.iter().flat_map(|v| v.errors.iter().copied()).fold(0.0, f64::max);
        let y = draw::padded(0.0, top_err, true);
        let mut keys = Vec::new();
        let mut chart = panel(&areas[3], "Failed and dropped requests per version", x, y, "errors/s")?;
        shade(&mut chart, &firing, y)?;
        for (k, v) in self.versions.iter().enumerate() {
            let c = self.version_colour(k);
            let line: Vec<(f64, f64)> = self.minutes.iter().copied().zip(v.errors.iter().copied()).collect();
            chart.draw_series(LineSeries::new(line, c.stroke_width(2)))?;
            keys.push((v.name.clone(), Mark::Line(c)));
        }
        draw_markers(&mut chart, &markers, y)?;
        draw::key(&sides[3], &keys)?;

        // 5. Alert states.
        if self.panels() == 5 {
            self.draw_alerts(&areas[4], x, &markers)?;
            let keys = [
                ("pending".to_owned(), Mark::Fill(PENDING.mix(0.8))),
                ("firing".to_owned(), Mark::Fill(FIRING.mix(0.8))),
            ];
            draw::key(&sides[4], &keys)?;
        }
        Ok(())
    }

    fn draw_alerts<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        x: (f64, f64),
        markers: &[(String, f64, RGBColor)],
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.alerts.len();
        let names: Vec<String> = self.alerts.iter().map(|a| a.name.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption("Alert states (PrometheusRule alerts, at each evaluation)", text(14))
            .margin(6)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(120)
            .build_cartesian_2d(x.0..x.1, 0.0..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("minutes from the release start")
            .y_desc("alert")
            .label_style(text(12))
            .axis_desc_style(text(13))
            .max_light_lines(0)
            .bold_line_style(LIGHT_GREY.mix(0.6).stroke_width(1))
            .y_labels(0)
            .x_label_formatter(&|v| tick(*v))
            .draw()?;
        draw::categories_y(area, &chart, &names, x.0)?;
        for (j, lane) in self.alerts.iter().enumerate() {
            let (lo, hi) = (j as f64 + 0.15, j as f64 + 0.85);
            chart.draw_series(lane.bands.iter().map(|&(a, b, level)| {
                let c = if level == AlertLevel::Firing { FIRING } else { PENDING };
                Rectangle::new([(a, lo), (b, hi)], c.mix(0.8).filled())
            }))?;
        }
        for (_, t, c) in markers {
            if *t >= x.0 && *t <= x.1 {
                let c = *c;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(*t, 0.0), (*t, n as f64)],
                    c.stroke_width(1),
                )))?;
            }
        }
        Ok(())
    }
}

fn panel<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    caption: &str,
    x: (f64, f64),
    y: (f64, f64),
    y_desc: &str,
) -> anyhow::Result<Chart2d<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, text(14))
        .margin(6)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(120)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    chart
        .configure_mesh()
        .x_desc("minutes from the release start")
        .y_desc(y_desc)
        .label_style(text(12))
        .axis_desc_style(text(13))
        .max_light_lines(0)
        .bold_line_style(LIGHT_GREY.mix(0.6).stroke_width(1))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    Ok(chart)
}

/// The largest sum over the series at one point.
fn stacked_max<'a>(series: impl Iterator<Item = &'a Vec<f64>>) -> f64 {
    let mut sum: Vec<f64> = Vec::new();
    for s in series {
        if sum.len() < s.len() {
            sum.resize(s.len(), 0.0);
        }
        for (a, b) in sum.iter_mut().zip(s) {
            *a += b;
        }
    }
    sum.into_iter().fold(0.0, f64::max)
}

/// Draws `values` as an area on top of `below` and raises `below` by them.
fn stack<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart2d<'a, DB>,
    minutes: &[f64],
    below: &mut [f64],
    values: &[f64],
    c: RGBColor,
) -> anyhow::Result<&'b mut plotters::chart::SeriesAnno<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let mut points: Vec<(f64, f64)> =
        minutes.iter().zip(below.iter()).zip(values).map(|((&t, &b), &v)| (t, b + v)).collect();
    let upper = points.clone();
    points.extend(minutes.iter().zip(below.iter()).rev().map(|(&t, &b)| (t, b)));
    for (b, v) in below.iter_mut().zip(values) {
        *b += v;
    }
    chart.draw_series(std::iter::once(Polygon::new(points, c.mix(0.55).filled())))?;
    Ok(chart.draw_series(LineSeries::new(upper, c.stroke_width(1)))?)
}

/// Shades the intervals an alert was firing.
fn shade<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    firing: &[(f64, f64)],
    y: (f64, f64),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(
        firing.iter().map(|&(a, b)| Rectangle::new([(a, y.0), (b, y.1)], FIRING.mix(0.12).filled())),
    )?;
    Ok(())
}

/// Vertical lines at the markers.
fn draw_markers<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    markers: &[(String, f64, RGBColor)],
    y: (f64, f64),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    for (_, t, c) in markers.iter().filter(|m| m.1 >= x0 && m.1 <= x1) {
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(*t, y.0), (*t, y.1)], c.stroke_width(2))))?;
    }
    Ok(())
}

/// The first rollback of replication 0 in `dir/decisions.csv` (a `kubectl rollout undo` or
/// other human rollback, an Argo abort, Flagger's rollback), in minutes from the release (the
/// first `TemplateChanged`); `None` without the file or without a rollback.
fn rollback_start(dir: &Path) -> anyhow::Result<Option<(String, f64)>> {
    let path = dir.join(crate::report::html::decisions::DECISIONS_FILE);
    let Some(rows) = crate::report::html::decisions::read_decisions(&path).map_err(super::BadInput)? else {
        return Ok(None);
    };
    let Some(release) = rows.iter().find(|d| d.reason == "TemplateChanged") else { return Ok(None) };
    let start = rows.iter().find_map(|d| {
        let label = match d.reason.as_str() {
            "RollbackStarted" => "rollback started",
            "RolloutAborted" => "rollout aborted",
            "Rollback" => "Flagger rolls back",
            _ => return None,
        };
        Some((label.to_owned(), (d.time_s - release.time_s) / 60.0))
    });
    Ok(start)
}
