//! What every chart shares: the two backends (SVG text, PNG bytes), colours, text styles and
//! number formatting.

use super::font;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub type Area<DB> = DrawingArea<DB, Shift>;

/// Okabe and Ito's colour-blind-safe palette (blue, orange, bluish green, vermillion, sky
/// blue, reddish purple, yellow), then black.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

pub const GREY: RGBColor = RGBColor(140, 140, 140);
pub const LIGHT_GREY: RGBColor = RGBColor(225, 225, 225);
pub const INK: RGBColor = RGBColor(30, 30, 30);
/// Alert states: pending (amber) and firing (red).
pub const PENDING: RGBColor = RGBColor(240, 190, 60);
pub const FIRING: RGBColor = RGBColor(200, 30, 30);

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The embedded font at `size` pixels.
pub fn text(size: u32) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&INK)
}

/// Draws onto an SVG document held in memory and returns its text.
pub fn svg<F>(size: (u32, u32), draw: F) -> anyhow::Result<String>
where
    F: for<'a> FnOnce(&Area<SVGBackend<'a>>) -> anyhow::Result<()>,
{
    font::ensure_registered();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// Draws onto an RGB bitmap and returns it encoded as PNG.
pub fn png<F>(size: (u32, u32), draw: F) -> anyhow::Result<Vec<u8>>
where
    F: for<'a> FnOnce(&Area<BitMapBackend<'a>>) -> anyhow::Result<()>,
{
    font::ensure_registered();
    let (w, h) = size;
    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

/// A range around `lo..hi` with a margin, never empty; `floor_zero` keeps 0 as the bottom
/// when every value is non-negative.
pub fn padded(lo: f64, hi: f64, floor_zero: bool) -> (f64, f64) {
    let (mut lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    if floor_zero && lo >= 0.0 {
        lo = 0.0;
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        return (if floor_zero && lo >= 0.0 { 0.0 } else { lo - d }, hi + d);
    }
    let m = (hi - lo) * 0.06;
    (if floor_zero && lo >= 0.0 { 0.0 } else { lo - m }, hi + m)
}

/// A tick label: at most four significant digits, no trailing zeros, thousands as `k`.
pub fn tick(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        return format!("{}M", trim(format!("{:.2}", x / 1e6)));
    }
    if a >= 1e4 {
        return format!("{}k", trim(format!("{:.1}", x / 1e3)));
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    trim(format!("{x:.decimals$}"))
}

fn trim(s: String) -> String {
    if !s.contains('.') {
        return if s == "-0" { "0".into() } else { s };
    }
    let t = s.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" { "0".into() } else { t.to_owned() }
}

/// A chart whose axes are both `f64`.
pub type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Writes category names under the x axis at x = 0, 1, …, centred (in two staggered rows
/// when there are many); `y0` is the bottom of the y range.
pub fn categories_x<DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &Chart2d<'_, DB>,
    names: &[String],
    y0: f64,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let base = area.get_base_pixel();
    let style = text(12).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, name) in names.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y0));
        let down = if names.len() > 4 && i % 2 == 1 { 20 } else { 6 };
        area.draw_text(name, &style, (px - base.0, py - base.1 + down))?;
    }
    Ok(())
}

/// Writes category names left of the y axis at y = 0.5, 1.5, …; `x0` is the left of the x
/// range.
pub fn categories_y<DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &Chart2d<'_, DB>,
    names: &[String],
    x0: f64,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let base = area.get_base_pixel();
    let style = text(12).pos(Pos::new(HPos::Right, VPos::Center));
    for (j, name) in names.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(x0, j as f64 + 0.5));
        area.draw_text(name, &style, (px - base.0 - 8, py - base.1))?;
    }
    Ok(())
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    Fill(RGBAColor),
    Line(RGBColor),
    Dashed(RGBColor),
    Marker(RGBColor),
}

/// Draws a legend beside a chart: one entry per line from the top of `area`.
pub fn key<DB: DrawingBackend>(area: &Area<DB>, entries: &[(String, Mark)]) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    for (i, (label, mark)) in entries.iter().enumerate() {
        if label.is_empty() {
            continue; // a gap between groups
        }
        let y = 40 + 18 * i as i32;
        match *mark {
            Mark::Fill(c) => area.draw(&Rectangle::new([(6, y - 5), (24, y + 5)], c.filled()))?,
            Mark::Line(c) => area.draw(&PathElement::new(vec![(6, y), (24, y)], c.stroke_width(2)))?,
            Mark::Dashed(c) => {
                area.draw(&PathElement::new(vec![(6, y), (12, y)], c.stroke_width(2)))?;
                area.draw(&PathElement::new(vec![(17, y), (24, y)], c.stroke_width(2)))?;
            }
            Mark::Marker(c) => {
                area.draw(&PathElement::new(vec![(15, y - 7), (15, y + 7)], c.stroke_width(2)))?
            }
        }
        area.draw_text(label, &text(12).pos(Pos::new(HPos::Left, VPos::Center)), (30, y))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-0.0001), "0");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(tick(460.1), "460");
        assert_eq!(tick(32670.0), "32.7k");
        assert_eq!(tick(2_500_000.0), "2.5M");
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded(0.0, 0.0, true), (0.0, 1.0));
        // One value: a range around it, or from zero up past it.
        assert_eq!(padded(5.0, 5.0, false), (4.5, 5.5));
        let (lo, hi) = padded(5.0, 5.0, true);
        assert!(lo == 0.0 && hi > 5.0, "{lo}..{hi}");
        let (lo, hi) = padded(10.0, 20.0, false);
        assert!(lo < 10.0 && hi > 20.0);
        assert_eq!(padded(10.0, 20.0, true).0, 0.0);
        assert_eq!(padded(f64::NAN, 1.0, true), (0.0, 1.06));
    }
}
