//! A sweep (`sweep.csv` of `rollsim sweep`): each key metric against the first grid axis,
//! with its 95% confidence interval (a Wilson interval for the rolled-back share), one line
//! per combination of the other axes.

use super::data::{Table, dir_name};
use super::draw::{Area, GREY, LIGHT_GREY, colour, text, tick};
use plotters::prelude::*;
use std::path::Path;

/// The metrics drawn: (`metric` in sweep.csv, axis label, scale).
const METRICS: [(&str, &str, f64); 5] = [
    ("outcome.rolled_back", "rolled back (% of replications)", 100.0),
    ("detected_at_s", "time to detect (s)", 1.0),
    ("time_to_rollback_s", "time to roll back (s)", 1.0),
    ("bad_requests", "bad requests", 1.0),
    ("error_budget_pct", "error budget used (%)", 1.0),
];

const SIZE: (u32, u32) = (1200, 980);

/// One grid point's value of one metric: mean, CI low, CI high, n.
type Cell = Option<(f64, f64, f64, u64)>;

#[derive(Clone, Debug)]
pub struct Sweep {
    what: String,
    pub axes: Vec<String>,
    /// The first axis' values, in order.
    pub xs: Vec<String>,
    /// One line per combination of the other axes: its label and, per metric, per x, the cell.
    pub lines: Vec<(String, Vec<Vec<Cell>>)>,
    replications: u64,
}

impl Sweep {
    /// Reads `dir/sweep.csv`; `None` without one or with no rows.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Sweep>> {
        let Some(t) = Table::read(&dir.join("sweep.csv"))? else { return Ok(None) };
        if t.rows.is_empty() {
            return Ok(None);
        }
        let metric = t.column("metric")?;
        if metric == 0 {
            return Err(super::data::bad(&t.path, 1, "sweep.csv has no grid axis before `metric`"));
        }
        let axes: Vec<String> = t.header[..metric].to_vec();
        let (mean, lo, hi, n) =
            (t.column("mean")?, t.column("ci95_low")?, t.column("ci95_high")?, t.column("n")?);
        let mut xs: Vec<String> = Vec::new();
        let mut lines: Vec<(String, Vec<Vec<Cell>>)> = Vec::new();
        let mut replications = 0;
        for row in &t.rows {
            let name = t.text(row, metric);
            let x = t.text(row, 0).to_owned();
            if !xs.contains(&x) {
                xs.push(x.clone());
            }
            let others: Vec<String> =
                (1..metric).map(|i| format!("{} = {}", short(&axes[i]), t.text(row, i))).collect();
            let label = if others.is_empty() { "mean".to_owned() } else { others.join(", ") };
            if !lines.iter().any(|(l, _)| *l == label) {
                lines.push((label.clone(), vec![Vec::new(); METRICS.len()]));
            }
            if name == "outcome.rolled_back" {
                replications = t.required(row, n)? as u64;
            }
            let Some(m) = METRICS.iter().position(|(k, _, _)| *k == name) else { continue };
            let scale = METRICS[m].2;
            let cell = match t.number(row, mean)? {
                Some(v) => Some((
                    v * scale,
                    t.number(row, lo)?.unwrap_or(v) * scale,
                    t.number(row, hi)?.unwrap_or(v) * scale,
                    t.required(row, n)? as u64,
                )),
                None => None,
            };
            let xi = xs.iter().position(|v| *v == x).expect("pushed above");
            let cells = &mut lines.iter_mut().find(|(l, _)| *l == label).expect("pushed above").1[m];
            if cells.len() <= xi {
                cells.resize(xi + 1, None);
            }
            cells[xi] = cell;
        }
        Ok(Some(Sweep { what: dir_name(dir), axes, xs, lines, replications }))
    }

    pub fn title(&self) -> String {
        let points = self.xs.len() * self.lines.len();
        format!(
            "{}: sweep over {} ({points} grid points, n = {} replications each, common random numbers)",
            self.what,
            short(&self.axes[0]),
            self.replications
        )
    }

    pub fn size(&self) -> (u32, u32) {
        SIZE
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, rest) = root.split_vertically(64);
        top.draw_text(&self.title(), &text(17), (14, 10))?;
        let axes: Vec<String> = self.axes.iter().map(|a| format!("{} = {a}", short(a))).collect();
        top.draw_text(
            &format!("points: mean; bars: 95% CI; axes: {}", axes.join("; ")),
            &text(12),
            (14, 38),
        )?;
        let panels = rest.split_evenly((3, 2));
        for (m, area) in panels.iter().enumerate().take(METRICS.len()) {
            self.draw_metric(area, m)?;
        }
        // The sixth cell holds the legend.
        let key = &panels[METRICS.len()];
        key.draw_text("lines:", &text(13), (20, 20))?;
        for (g, (label, _)) in self.lines.iter().enumerate().take(12) {
            let y = 44 + 20 * g as i32;
            key.draw(&Rectangle::new([(20, y - 4), (40, y + 4)], colour(g).filled()))?;
            key.draw_text(label, &text(12), (48, y - 7))?;
        }
        Ok(())
    }

    fn draw_metric<DB: DrawingBackend>(&self, area: &Area<DB>, m: usize) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (_, label, _) = METRICS[m];
        let k = self.xs.len();
        let cells = self.lines.iter().flat_map(|(_, c)| c[m].iter().flatten());
        let (lo, hi) = cells.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| (a.min(c.1), b.max(c.2)));
        let y = super::draw::padded(lo, hi, true);
        let mut chart = ChartBuilder::on(area)
            .caption(label, text(14))
            .margin(8)
            .margin_right(20)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..k as f64 - 0.5, y.0..y.1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(short(&self.axes[0]))
            .y_desc(label)
            .label_style(text(12))
            .axis_desc_style(text(13))
            .max_light_lines(0)
            .bold_line_style(LIGHT_GREY.stroke_width(1))
            .x_labels(0)
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        super::draw::categories_x(area, &chart, &self.xs, y.0)?;
        let lines = self.lines.len();
        for (g, (_, cells)) in self.lines.iter().enumerate() {
            let c = colour(g);
            // Lines side by side, so that equal values do not hide each other's bars.
            let shift = if lines > 1 { (g as f64 / (lines - 1) as f64 - 0.5) * 0.3 } else { 0.0 };
            let points: Vec<(f64, f64)> =
                cells[m].iter().enumerate().filter_map(|(i, c)| c.map(|c| (i as f64 + shift, c.0))).collect();
            chart.draw_series(LineSeries::new(points, c.stroke_width(2)).point_size(3))?;
            for (i, cell) in cells[m].iter().enumerate() {
                let Some((_, lo, hi, _)) = cell else { continue };
                let x = i as f64 + shift;
                chart.draw_series([
                    PathElement::new(vec![(x, *lo), (x, *hi)], c.stroke_width(1)),
                    PathElement::new(vec![(x - 0.02, *lo), (x + 0.02, *lo)], c.stroke_width(1)),
                    PathElement::new(vec![(x - 0.02, *hi), (x + 0.02, *hi)], c.stroke_width(1)),
                ])?;
            }
        }
        if self.lines.iter().all(|(_, c)| c[m].iter().all(Option::is_none)) {
            chart.draw_series(std::iter::once(Text::new(
                "never happened at any grid point".to_owned(),
                (-0.3, (y.0 + y.1) / 2.0),
                text(12).color(&GREY),
            )))?;
        }
        Ok(())
    }
}

/// An axis path shortened to its last part (`spec.traffic.rps` → `rps`), as the sweep's
/// table names it.
fn short(path: &str) -> String {
    let last = path.rsplit(['.', '/']).next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    if last.is_empty() { path.to_owned() } else { last.to_owned() }
}
