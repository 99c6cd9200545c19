//! The page: a [`Doc`] and its figures as one HTML file with inline CSS and SVG, readable
//! without JavaScript and making no request of its own.

use super::escape::{esc, svg_element};
use super::{Block, Doc, Figure, Table};
use std::fmt::Write;

const STYLE: &str = "\
:root{color-scheme:light}\
body{margin:0;background:#fff;color:#1b1f24;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px}\
header{background:#17324d;color:#fff;padding:20px 32px}\
header h1{margin:0;font-size:26px}header p{margin:4px 0 0;color:#c9d8e8}\
nav{margin:12px 0 0;font-size:14px}nav a{color:#ffd479;margin-right:16px;text-decoration:none}\
h2{border-bottom:3px solid #2f6f9f;padding-bottom:4px;margin-top:36px;color:#17324d}\
h3{margin:20px 0 6px;color:#2f6f9f}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;background:#f3f7fb;border-left:4px solid #2f6f9f;padding:12px 16px}\
dl.facts dt{font-weight:600}dl.facts dd{margin:0}\
table{border-collapse:collapse;margin:8px 0 4px;font-size:14px;font-variant-numeric:tabular-nums}\
caption{text-align:left;font-weight:600;padding:4px 0;color:#17324d}\
th,td{border:1px solid #c6d3df;padding:4px 10px;vertical-align:top}\
th{background:#dfeaf4;text-align:left}\
tbody tr:nth-child(even){background:#f6f9fc}\
td.num{text-align:right;white-space:nowrap}\
td.hit{background:#fde2e1;font-weight:600}\
p.note{color:#4a5866;font-size:13px;margin:2px 0 14px}\
figure.chart{margin:16px 0;padding:12px;border:1px solid #c6d3df;background:#fff}\
figure.chart svg{max-width:100%;height:auto;display:block}\
figcaption{font-weight:600;color:#17324d;margin-bottom:6px}\
.top{background:#e3f4e4;border-left:4px solid #2e8b3a;padding:10px 16px;font-size:16px}\
footer{color:#4a5866;font-size:12px;margin-top:40px;border-top:1px solid #c6d3df;padding-top:8px}\
";

/// Whether a cell reads as a number (right-aligned): digits with an optional sign, point,
/// exponent, percent sign, interval or `±`.
fn numeric(cell: &str) -> bool {
    let t = cell.trim();
    !t.is_empty()
        && t.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '−')
        && t.chars().all(|c| c.is_ascii_digit() || " .,-+−eE%±–×[]()".contains(c))
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<table>");
    let _ = write!(out, "<caption>{}</caption>", esc(&t.caption));
    out.push_str("<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (i, row) in t.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let mut classes = Vec::new();
            if numeric(cell) {
                classes.push("num");
            }
            if t.highlight.contains(&(i, j)) {
                classes.push("hit");
            }
            if classes.is_empty() {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            } else {
                let _ = write!(out, "<td class=\"{}\">{}</td>", classes.join(" "), esc(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
    if let Some(note) = &t.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
}

fn figures(out: &mut String, figures: &[Figure]) {
    if figures.is_empty() {
        out.push_str(
            "<p class=\"note\">No plots were found for this directory (draw them with <code>--plots</code> or <code>rollsim plot DIR</code>, then report again).</p>\n",
        );
    }
    for (i, f) in figures.iter().enumerate() {
        let _ = write!(
            out,
            "<figure class=\"chart\" id=\"figure-{}\"><figcaption>{}</figcaption>",
            i + 1,
            esc(&f.title)
        );
        match svg_element(&f.svg) {
            Some(svg) => out.push_str(svg),
            None => out.push_str("<p class=\"note\">(this file holds no SVG drawing)</p>"),
        }
        out.push_str("</figure>\n");
    }
}

/// The whole page. Deterministic: the same `doc` and figures give the same bytes.
pub fn render(doc: &Doc, figs: &[Figure]) -> String {
    let mut out = String::with_capacity(16 * 1024 + figs.iter().map(|f| f.svg.len()).sum::<usize>());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&doc.title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = write!(out, "<header><h1>{}</h1><p>{}</p><nav>", esc(&doc.title), esc(&doc.subtitle));
    for s in &doc.sections {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", esc(&s.id), esc(&s.heading));
    }
    out.push_str("</nav></header>\n<main>\n");
    for s in &doc.sections {
        let _ = writeln!(out, "<section id=\"{}\">\n<h2>{}</h2>", esc(&s.id), esc(&s.heading));
        for b in &s.blocks {
            match b {
                Block::Para(text) => {
                    let _ = writeln!(out, "<p>{}</p>", esc(text));
                }
                Block::Note(text) => {
                    let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(text));
                }
                Block::Top(text) => {
                    let _ = writeln!(out, "<p class=\"top\">{}</p>", esc(text));
                }
                Block::Heading(text) => {
                    let _ = writeln!(out, "<h3>{}</h3>", esc(text));
                }
                Block::List(items) => {
                    out.push_str("<ul>");
                    for i in items {
                        let _ = write!(out, "<li>{}</li>", esc(i));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Facts(pairs) => {
                    out.push_str("<dl class=\"facts\">");
                    for (k, v) in pairs {
                        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
                    }
                    out.push_str("</dl>\n");
                }
                Block::Table(t) => table(&mut out, t),
                Block::Figures => figures(&mut out, figs),
            }
        }
        out.push_str("</section>\n");
    }
    let _ = writeln!(out, "<footer>{}</footer>", esc(&doc.footer));
    out.push_str("</main>\n</body>\n</html>\n");
    out
}
