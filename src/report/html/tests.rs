//! The page as a whole: self-contained, escaped, and holding every table and figure.

use super::*;
use crate::experiment::record::Outcome;
use crate::experiment::stats::tests::sample_record;

fn doc_with(text: &str) -> Doc {
    Doc {
        title: format!("title {text}"),
        subtitle: text.to_owned(),
        sections: vec![Section {
            id: "summary".into(),
            heading: text.to_owned(),
            blocks: vec![
                Block::Para(text.to_owned()),
                Block::Facts(vec![(text.to_owned(), text.to_owned())]),
                Block::List(vec![text.to_owned()]),
                Block::Table(Table {
                    caption: text.to_owned(),
                    header: vec![text.to_owned()],
                    rows: vec![vec![text.to_owned()]],
                    highlight: vec![(0, 0)],
                    note: Some(text.to_owned()),
                }),
                Block::Figures,
            ],
        }],
        footer: text.to_owned(),
    }
}

#[test]
fn text_is_escaped_everywhere() {
    let evil = r#"<script>alert("x")</script> & 'q'"#;
    let html = render(&doc_with(evil), &[Figure { title: evil.to_owned(), svg: "<svg></svg>".into() }]);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains(evil));
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;";
    // title, subtitle, nav, heading, para, dt, dd, li, caption, th, td, note, figcaption, footer
    assert_eq!(html.matches(escaped).count(), 15, "{html}");
}

/// No attribute or CSS of the page may load anything: no URL scheme, no `src`, no
/// `@import` or `url(`, no script.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for banned in
        ["http:", "https:", "//cdn", "src=", "<script", "<link", "@import", "url(", "<iframe", "<img"]
    {
        assert!(!lower.contains(banned), "the page holds `{banned}`");
    }
}

#[test]
fn a_run_directory_reports_every_table_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = vec![sample_record(0, Outcome::RolledBack), sample_record(1, Outcome::Completed)];
    records[0].detected_by = Some("alert:HighErrorRate".into());
    crate::report::write_runs_csv(&dir.path().join("runs.csv"), &records).unwrap();
    let events = [crate::experiment::record::TraceEvent {
        time: 0,
        time_s: 61.0,
        object: "PrometheusRule/slo".into(),
        reason: "AlertFiring".into(),
        message: "HighErrorRate fires (value 0.12 > 0.05)".into(),
    }];
    write_decisions_csv(&dir.path().join(DECISIONS_FILE), &events).unwrap();
    let doc = load(dir.path()).unwrap();
    // Outcomes, metrics, what detected, the saved replication's decisions.
    assert_eq!(doc.tables().count(), 4);
    let svg = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"><rect width=\"4\" height=\"4\" fill=\"#123456\"/></svg>";
    let figures = [Figure { title: "timeline".into(), svg: svg.into() }];
    let html = render(&doc, &figures);
    assert!(html.contains("HighErrorRate fires (value 0.12 &gt; 0.05)"));
    assert!(html.contains("01:01"), "the decision's time as mm:ss");
    assert!(!html.contains("<?xml") && !html.contains("<!DOCTYPE svg"));
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 1);
    assert_eq!(html.matches("<table>").count(), 4);
    // The SVG namespace is an identifier, not a request; nothing else names a URL.
    assert_self_contained(&html.replace("xmlns=\"http://www.w3.org/2000/svg\"", ""));
    // Determinism: the same directory gives the same bytes.
    assert_eq!(render(&load(dir.path()).unwrap(), &figures), html);
}

#[test]
fn a_directory_without_results_is_refused_with_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(e.contains("no results to report on; expected runs.csv"), "{e}");
    let e = load(&dir.path().join("missing")).unwrap_err();
    assert!(e.contains("not a directory"), "{e}");
    std::fs::write(dir.path().join("tune.csv"), "threshold,detect\n0.1,0.5\n").unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(e.contains("tune.csv:1:1: no column `detect_ci95_low`"), "{e}");
}

#[test]
fn numbers_read_at_a_sensible_precision() {
    use load::num;
    assert_eq!(num(12345.6), "12346");
    assert_eq!(num(42.25), "42.2");
    assert_eq!(num(4.256), "4.26");
    assert_eq!(num(0.01234), "0.0123");
    assert_eq!(num(0.0), "0");
    assert_eq!(num(f64::NAN), "—");
}

#[test]
fn a_row_of_another_width_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let header = "spec.traffic.rps,metric,unit,n,mean,ci95_low,ci95_high";
    let text = format!("{header}\n100,bad_requests,requests,20,5,4,6\n500,bad_requests,requests,20\n");
    std::fs::write(dir.path().join("sweep.csv"), text).unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(e.contains("sweep.csv:3:"), "{e}");
}
