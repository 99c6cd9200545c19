//! An alert's tuning (`tune.csv` of `rollsim tune`): the probability of detecting the bad
//! version against the probability of a false alarm on a healthy one, per setting, with
//! their Wilson intervals as error bars and the Pareto frontier marked (`tuning-roc`); and
//! the time to detect against the threshold, one line per other setting (`tuning-ttd`).

use super::data::{Table, dir_name};
use super::draw::{Area, GREY, INK, LIGHT_GREY, colour, text, tick};
use plotters::prelude::*;
use std::path::Path;

pub const ROC_SIZE: (u32, u32) = (1200, 720);
pub const TTD_SIZE: (u32, u32) = (1200, 620);

/// A point of the time-to-detect chart: threshold, (mean, CI low, CI high), runs detected.
type Point = (f64, (f64, f64, f64), u64);

/// One row of `tune.csv`.
#[derive(Clone, Debug)]
pub struct Setting {
    /// `(what, value)` as the CSV has them (`threshold`, `for`, `window`, …).
    pub values: Vec<(String, String)>,
    pub detect: (f64, f64, f64),
    pub false_alarm: (f64, f64, f64),
    pub n: u64,
    pub ttd_n: u64,
    /// Mean with its 95% CI.
    pub ttd: Option<(f64, f64, f64)>,
    pub pareto: bool,
    pub recommended: bool,
}

#[derive(Clone, Debug)]
pub struct Tuning {
    what: String,
    pub settings: Vec<Setting>,
}

impl Tuning {
    /// Reads `dir/tune.csv`; `None` without one or with no rows.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Tuning>> {
        let Some(t) = Table::read(&dir.join("tune.csv"))? else { return Ok(None) };
        if t.rows.is_empty() {
            return Ok(None);
        }
        let detect = t.column("detect")?;
        let keys: Vec<String> = t.header[..detect].to_vec();
        let col = |name: &str| t.column(name);
        let (dl, dh) = (col("detect_ci95_low")?, col("detect_ci95_high")?);
        let (fa, fl, fh) = (col("false_alarm")?, col("false_alarm_ci95_low")?, col("false_alarm_ci95_high")?);
        let (n, ttd_n) = (col("n")?, col("ttd_n")?);
        let (tm, tl, th) = (col("ttd_mean")?, col("ttd_ci95_low")?, col("ttd_ci95_high")?);
        let (pareto, recommended) = (col("pareto")?, col("recommended")?);
        let mut settings = Vec::with_capacity(t.rows.len());
        for row in &t.rows {
            let values =
                keys.iter().enumerate().map(|(i, k)| (k.clone(), t.text(row, i).to_owned())).collect();
            let ttd = match t.number(row, tm)? {
                Some(m) => Some((m, t.number(row, tl)?.unwrap_or(m), t.number(row, th)?.unwrap_or(m))),
                None => None,
            };
            settings.push(Setting {
                values,
                detect: (t.required(row, detect)?, t.required(row, dl)?, t.required(row, dh)?),
                false_alarm: (t.required(row, fa)?, t.required(row, fl)?, t.required(row, fh)?),
                n: t.required(row, n)? as u64,
                ttd_n: t.required(row, ttd_n)? as u64,
                ttd,
                pareto: t.boolean(row, pareto)?,
                recommended: t.boolean(row, recommended)?,
            });
        }
        Ok(Some(Tuning { what: dir_name(dir), settings }))
    }

    /// Whether the settings vary a numeric `threshold` (for the time-to-detect chart).
    pub fn has_threshold_axis(&self) -> bool {
        self.settings.iter().all(|s| self.threshold(s).is_some())
            && self.settings.iter().any(|s| s.ttd.is_some())
    }

    fn threshold(&self, s: &Setting) -> Option<f64> {
        s.values.iter().find(|(k, _)| k == "threshold").and_then(|(_, v)| v.parse().ok())
    }

    fn n(&self) -> u64 {
        self.settings.first().map_or(0, |s| s.n)
    }

    pub fn roc_title(&self) -> String {
        format!(
            "{}: detection against false alarms per setting (n = {} faulty and {} healthy releases each)",
            self.what,
            self.n(),
            self.n()
        )
    }

    pub fn ttd_title(&self) -> String {
        format!(
            "{}: time to detect against the threshold (n = {} faulty releases per setting)",
            self.what,
            self.n()
        )
    }

    fn label(s: &Setting) -> String {
        let parts: Vec<String> = s.values.iter().map(|(k, v)| format!("{k} {v}")).collect();
        if parts.is_empty() { "as written".to_owned() } else { parts.join(", ") }
    }

    pub fn draw_roc<DB: DrawingBackend>(&self, root: &Area<DB>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, rest) = root.split_vertically(40);
        top.draw_text(&self.roc_title(), &text(17), (14, 12))?;
        let (plot, key) = rest.split_horizontally(760);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-2.0..102.0, -2.0..102.0)?;
        chart
            .configure_mesh()
            .x_desc("false alarms per healthy release (%), 95% Wilson interval")
            .y_desc("bad releases detected (%), 95% Wilson interval")
            .label_style(text(12))
            .axis_desc_style(text(13))
            .max_light_lines(0)
            .bold_line_style(LIGHT_GREY.stroke_width(1))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        // The chance line: a rule no better than a coin with these odds.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (100.0, 100.0)],
            GREY.stroke_width(1),
        )))?;
        // The Pareto frontier, by false alarm.
        let mut front: Vec<(f64, f64)> = self
            .settings
            .iter()
            .filter(|s| s.pareto)
            .map(|s| (s.false_alarm.0 * 100.0, s.detect.0 * 100.0))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        if !front.is_empty() {
            chart
                .draw_series(LineSeries::new(front, colour(3).stroke_width(2)))?
                .label("Pareto frontier")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(3).stroke_width(2)));
        }
        for s in &self.settings {
            let (x, y) = (s.false_alarm.0 * 100.0, s.detect.0 * 100.0);
            let c = if s.pareto { colour(3) } else { GREY };
            chart.draw_series([
                PathElement::new(
                    vec![(s.false_alarm.1 * 100.0, y), (s.false_alarm.2 * 100.0, y)],
                    c.stroke_width(1),
                ),
                PathElement::new(vec![(x, s.detect.1 * 100.0), (x, s.detect.2 * 100.0)], c.stroke_width(1)),
            ])?;
        }
        chart
            .draw_series(self.settings.iter().filter(|s| !s.pareto).map(|s| {
                Circle::new((s.false_alarm.0 * 100.0, s.detect.0 * 100.0), 5, GREY.stroke_width(2))
            }))?
            .label("dominated setting")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, GREY.stroke_width(2)));
        chart
            .draw_series(
                self.settings.iter().filter(|s| s.pareto).map(|s| {
                    Circle::new((s.false_alarm.0 * 100.0, s.detect.0 * 100.0), 5, colour(3).filled())
                }),
            )?
            .label("Pareto setting")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, colour(3).filled()));
        chart
            .draw_series(self.settings.iter().filter(|s| s.recommended).map(|s| {
                Circle::new((s.false_alarm.0 * 100.0, s.detect.0 * 100.0), 10, INK.stroke_width(2))
            }))?
            .label("recommended")
            .legend(|(x, y)| Circle::new((x + 8, y), 7, INK.stroke_width(2)));
        // Numbers beside the points; the key on the right says which setting each is.
        chart.draw_series(self.settings.iter().enumerate().map(|(i, s)| {
            Text::new(
                format!("{}", i + 1),
                (s.false_alarm.0 * 100.0 + 1.2, s.detect.0 * 100.0 - 1.5 - 2.5 * (i % 3) as f64),
                text(11),
            )
        }))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .label_font(text(12))
            .draw()?;
        let line: i32 = 17;
        key.draw_text("settings (detect / false alarm):", &text(13), (10, 14))?;
        let max_lines = ((ROC_SIZE.1 as i32 - 80) / line) as usize - 2;
        for (i, s) in self.settings.iter().enumerate().take(max_lines) {
            let mark = match (s.recommended, s.pareto) {
                (true, _) => " ← recommended",
                (false, true) => " (Pareto)",
                _ => "",
            };
            let row = format!(
                "{}. {}: {}% / {}%{mark}",
                i + 1,
                Self::label(s),
                tick(s.detect.0 * 100.0),
                tick(s.false_alarm.0 * 100.0)
            );
            let style = if s.pareto { text(12) } else { text(12).color(&GREY) };
            key.draw_text(&row, &style, (10, 36 + line * i as i32))?;
        }
        if self.settings.len() > max_lines {
            let more = format!("… and {} more (see tune.csv)", self.settings.len() - max_lines);
            key.draw_text(&more, &text(12), (10, 36 + line * max_lines as i32))?;
        }
        Ok(())
    }

    pub fn draw_ttd<DB: DrawingBackend>(&self, root: &Area<DB>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, rest) = root.split_vertically(40);
        top.draw_text(&self.ttd_title(), &text(17), (14, 12))?;
        // One line per combination of the other settings.
        let mut groups: Vec<(String, Vec<Point>)> = Vec::new();
        for s in &self.settings {
            let (Some(t), Some(ttd)) = (self.threshold(s), s.ttd) else { continue };
            let others: Vec<String> =
                s.values.iter().filter(|(k, _)| k != "threshold").map(|(k, v)| format!("{k} {v}")).collect();
            let name = if others.is_empty() { "mean time to detect".to_owned() } else { others.join(", ") };
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some((_, points)) => points.push((t, ttd, s.ttd_n)),
                None => groups.push((name, vec![(t, ttd, s.ttd_n)])),
            }
        }
        for (_, points) in &mut groups {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let all = groups.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (t, (_, lo, hi), _) in all {
            x0 = x0.min(*t);
            x1 = x1.max(*t);
            y0 = y0.min(*lo);
            y1 = y1.max(*hi);
        }
        let x = super::draw::padded(x0, x1, false);
        let y = super::draw::padded(y0, y1, true);
        let mut chart = ChartBuilder::on(&rest)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        chart
            .configure_mesh()
            .x_desc("threshold (the number the alert's expression compares with)")
            .y_desc("time to detect (s): mean, 95% CI")
            .label_style(text(12))
            .axis_desc_style(text(13))
            .max_light_lines(0)
            .bold_line_style(LIGHT_GREY.stroke_width(1))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        let dx = (x.1 - x.0) * 0.006;
        for (g, (name, points)) in groups.iter().enumerate() {
            let c = colour(g);
            let min_n = points.iter().map(|p| p.2).min().unwrap_or(0);
            chart
                .draw_series(
                    LineSeries::new(points.iter().map(|p| (p.0, p.1.0)), c.stroke_width(2)).point_size(4),
                )?
                .label(format!("{name} (n detected ≥ {min_n})"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            for &(t, (_, lo, hi), _) in points {
                chart.draw_series([
                    PathElement::new(vec![(t, lo), (t, hi)], c.stroke_width(1)),
                    PathElement::new(vec![(t - dx, lo), (t + dx, lo)], c.stroke_width(1)),
                    PathElement::new(vec![(t - dx, hi), (t + dx, hi)], c.stroke_width(1)),
                ])?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .label_font(text(12))
            .draw()?;
        Ok(())
    }
}
