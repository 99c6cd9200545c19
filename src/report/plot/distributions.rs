//! Distributions across replications, per strategy: time to detect, time to roll back, bad
//! requests, users affected and overhead, each as box plots (quartiles, whiskers to the
//! furthest value within 1.5 IQR, the values beyond as dots) with the mean and its 95%
//! confidence interval drawn on them.
//!
//! A run directory (`runs.csv`) gives one strategy; a directory whose subdirectories hold a
//! `runs.csv` each (`rollsim compare`, or `rollsim run A B --out DIR`) gives one per
//! subdirectory, in the order of `compare.csv` when there is one, else by name.

use super::BadInput;
use super::data::{Table, dir_name, scenario_name};
use super::draw::{Area, GREY, INK, LIGHT_GREY, colour, text, tick};
use crate::experiment::record::RunRecord;
use crate::experiment::stats::{Summary, quantile_sorted};
use crate::report::rundir::{RUNS_FILE, read_runs};
use plotters::prelude::*;
use std::path::Path;

/// A metric's value in one replication.
type Getter = fn(&RunRecord) -> Option<f64>;

/// The metrics drawn: (`runs.csv` column, axis label, value).
const METRICS: [(&str, &str, Getter); 5] = [
    ("detected_at_s", "time to detect (s)", |r| r.detected_at_s),
    ("time_to_rollback_s", "time to roll back (s)", |r| r.time_to_rollback_s),
    ("bad_requests", "bad requests", |r| Some(r.bad_requests as f64)),
    ("users_affected", "users affected", |r| Some(r.users_affected as f64)),
    ("overhead_pct", "overhead (% pods above replicas)", |r| Some(r.overhead_pct)),
];

const WIDTH: u32 = 1200;
const TITLE_H: u32 = 64;
const PANEL_H: u32 = 250;

/// One strategy's values of one metric.
#[derive(Clone, Debug)]
pub struct Boxed {
    pub summary: Option<Summary>,
    pub q1: f64,
    pub q3: f64,
    pub whisker_low: f64,
    pub whisker_high: f64,
    pub outliers: Vec<f64>,
}

impl Boxed {
    fn of(values: &[f64]) -> Boxed {
        let summary = Summary::of(values);
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Boxed {
                summary,
                q1: 0.0,
                q3: 0.0,
                whisker_low: 0.0,
                whisker_high: 0.0,
                outliers: vec![],
            };
        }
        let (q1, q3) = (quantile_sorted(&sorted, 0.25), quantile_sorted(&sorted, 0.75));
        let (lo_fence, hi_fence) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
        let inside: Vec<f64> = sorted.iter().copied().filter(|v| *v >= lo_fence && *v <= hi_fence).collect();
        let outliers = sorted.iter().copied().filter(|v| *v < lo_fence || *v > hi_fence).collect();
        Boxed {
            summary,
            q1,
            q3,
            whisker_low: inside.first().copied().unwrap_or(q1),
            whisker_high: inside.last().copied().unwrap_or(q3),
            outliers,
        }
    }

    fn low(&self) -> f64 {
        let s = self.summary.map_or(f64::INFINITY, |s| s.ci95_low.min(s.min));
        self.whisker_low.min(s)
    }

    fn high(&self) -> f64 {
        let s = self.summary.map_or(f64::NEG_INFINITY, |s| s.ci95_high.max(s.max));
        self.whisker_high.max(s)
    }
}

#[derive(Clone, Debug)]
pub struct Distributions {
    /// Strategy labels, in order.
    pub labels: Vec<String>,
    /// Replications per strategy.
    pub replications: Vec<usize>,
    /// Per metric, per strategy.
    pub boxes: Vec<Vec<Boxed>>,
    what: String,
}

impl Distributions {
    /// `None` when `dir` holds no `runs.csv` and no subdirectory with one.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Distributions>> {
        let runs = dir.join(RUNS_FILE);
        if runs.is_file() {
            let records = read(&runs)?;
            let label = scenario_name(dir);
            return Ok(Some(Self::of(
                format!("{label}: outcomes across replications"),
                vec![(label, records)],
            )));
        }
        let mut subdirs: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot read the directory {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().join(RUNS_FILE).is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if subdirs.is_empty() {
            return Ok(None);
        }
        subdirs.sort();
        // `rollsim compare` lists its strategies in compare.csv: those, in its order.
        if let Some(table) = Table::read(&dir.join("compare.csv"))? {
            let c = table.column("scenario")?;
            let mut order: Vec<String> = Vec::new();
            for row in &table.rows {
                let s = table.text(row, c).to_owned();
                if subdirs.contains(&s) && !order.contains(&s) {
                    order.push(s);
                }
            }
            // Only its strategies: a directory used again may hold others' results.
            subdirs = order;
        }
        if subdirs.is_empty() {
            return Ok(None);
        }
        let mut strategies = Vec::with_capacity(subdirs.len());
        for s in subdirs {
            let records = read(&dir.join(&s).join(RUNS_FILE))?;
            strategies.push((s, records));
        }
        let what = format!("{}: outcomes across replications, per strategy", dir_name(dir));
        Ok(Some(Self::of(what, strategies)))
    }

    fn of(what: String, strategies: Vec<(String, Vec<RunRecord>)>) -> Distributions {
        let boxes = METRICS
            .iter()
            .map(|(_, _, get)| {
                strategies
                    .iter()
                    .map(|(_, records)| {
                        let values: Vec<f64> = records.iter().filter_map(get).collect();
                        Boxed::of(&values)
                    })
                    .collect()
            })
            .collect();
        Distributions {
            labels: strategies.iter().map(|(l, _)| l.clone()).collect(),
            replications: strategies.iter().map(|(_, r)| r.len()).collect(),
            boxes,
            what,
        }
    }

    pub fn title(&self) -> String {
        let n = if self.replications.windows(2).all(|w| w[0] == w[1]) {
            format!("n = {} replications", self.replications.first().copied().unwrap_or(0))
        } else {
            let each: Vec<String> = self.replications.iter().map(usize::to_string).collect();
            format!("n = {} replications", each.join(" / "))
        };
        format!("{} ({n})", self.what)
    }

    pub fn size(&self) -> (u32, u32) {
        (WIDTH, TITLE_H + PANEL_H * METRICS.len() as u32)
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, rest) = root.split_vertically(TITLE_H);
        top.draw_text(&self.title(), &text(18), (14, 10))?;
        top.draw_text(
            "box: quartiles and median; whiskers: furthest values within 1.5 IQR; dots: beyond; ◆ and bar: mean with its 95% CI (Student t); n per metric: replications where it applies",
            &text(12),
            (14, 38),
        )?;
        let areas = rest.split_evenly((METRICS.len(), 1));
        for (m, area) in areas.iter().enumerate() {
            self.draw_metric(area, m)?;
        }
        Ok(())
    }

    fn draw_metric<DB: DrawingBackend>(&self, area: &Area<DB>, m: usize) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (column, label, _) = METRICS[m];
        let boxes = &self.boxes[m];
        let k = self.labels.len();
        let lo = boxes.iter().filter(|b| b.summary.is_some()).map(Boxed::low).fold(f64::INFINITY, f64::min);
        let hi =
            boxes.iter().filter(|b| b.summary.is_some()).map(Boxed::high).fold(f64::NEG_INFINITY, f64::max);
        // Not from zero: the spread is the point; but never below zero for counts and times.
        let (a, b) = super::draw::padded(lo, hi, false);
        let y = (if lo >= 0.0 { a.max(0.0) } else { a }, b);
        // At least four slots, the strategies in the middle, so one box is not a wall.
        let slots = k.max(4);
        let offset = (slots - k) as f64 / 2.0;
        let names: Vec<String> = self
            .labels
            .iter()
            .zip(boxes)
            .map(|(l, b)| format!("{l} (n={})", b.summary.map_or(0, |s| s.n)))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{label}   [{column}]"), text(14))
            .margin(6)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(150)
            .build_cartesian_2d(-0.5 - offset..slots as f64 - 0.5 - offset, y.0..y.1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(label)
            .label_style(text(12))
            .axis_desc_style(text(13))
            .max_light_lines(0)
            .bold_line_style(LIGHT_GREY.stroke_width(1))
            .x_labels(0)
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        super::draw::categories_x(area, &chart, &names, y.0)?;
        let w = 0.18;
        for (i, b) in boxes.iter().enumerate() {
            let x = i as f64;
            let c = colour(i);
            let Some(s) = b.summary else {
                chart.draw_series(std::iter::once(Text::new(
                    "never happened (n=0)".to_owned(),
                    (x - 0.12, (y.0 + y.1) / 2.0),
                    text(12).color(&GREY),
                )))?;
                continue;
            };
            // Whiskers and box.
            chart.draw_series([
                PathElement::new(vec![(x, b.whisker_low), (x, b.q1)], INK.stroke_width(1)),
                PathElement::new(vec![(x, b.q3), (x, b.whisker_high)], INK.stroke_width(1)),
                PathElement::new(
                    vec![(x - w / 2.0, b.whisker_low), (x + w / 2.0, b.whisker_low)],
                    INK.stroke_width(1),
                ),
                PathElement::new(
                    vec![(x - w / 2.0, b.whisker_high), (x + w / 2.0, b.whisker_high)],
                    INK.stroke_width(1),
                ),
            ])?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - w, b.q1), (x + w, b.q3)],
                c.mix(0.35).filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - w, b.q1), (x + w, b.q3)],
                c.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x - w, s.median), (x + w, s.median)],
                c.stroke_width(3),
            )))?;
            chart.draw_series(b.outliers.iter().map(|&v| Circle::new((x, v), 2, GREY.filled())))?;
            // The mean with its confidence interval, beside the box.
            let xm = x + w + 0.08;
            if s.n >= 2 && s.ci95_low.is_finite() && s.ci95_high.is_finite() {
                chart.draw_series([
                    PathElement::new(vec![(xm, s.ci95_low), (xm, s.ci95_high)], INK.stroke_width(2)),
                    PathElement::new(
                        vec![(xm - 0.03, s.ci95_low), (xm + 0.03, s.ci95_low)],
                        INK.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(xm - 0.03, s.ci95_high), (xm + 0.03, s.ci95_high)],
                        INK.stroke_width(2),
                    ),
                ])?;
            }
            chart.draw_series(std::iter::once(Polygon::new(
                diamond(xm, s.mean, 0.025, (y.1 - y.0) * 0.035),
                INK.filled(),
            )))?;
            let ci = if s.n >= 2 && s.ci95_low.is_finite() {
                format!("mean {} ± {}", tick(s.mean), tick((s.ci95_high - s.ci95_low) / 2.0))
            } else {
                format!("mean {}", tick(s.mean))
            };
            chart.draw_series(std::iter::once(Text::new(ci, (xm + 0.05, s.mean), text(11))))?;
        }
        Ok(())
    }
}

fn diamond(x: f64, y: f64, dx: f64, dy: f64) -> Vec<(f64, f64)> {
    vec![(x - dx, y), (x, y + dy), (x + dx, y), (x, y - dy)]
}

fn read(path: &Path) -> anyhow::Result<Vec<RunRecord>> {
    read_runs(path).map_err(|e| BadInput(format!("{}: {e}", path.display())).into())
}
