//! Every chart kind drawn from files written by the report layer's own writers, checked as
//! decoded PNG (size, content) and as SVG (size, labels), and for byte-identical output.

use super::*;
use crate::experiment::record::{Outcome, RunRecord, TimelineRow};
use crate::experiment::stats::summarize_runs;
use crate::experiment::stats::tests::sample_record;
use crate::report::{SweepPoint, write_runs_csv, write_sweep_csv_file, write_timeline_csv};
use std::collections::BTreeSet;

fn row(t: f64, version: &str, desired: u64, ready: u64, share: f64, rps: f64, errors: f64) -> TimelineRow {
    TimelineRow {
        time_s: t,
        version: version.into(),
        pods_desired: desired,
        pods_ready: ready,
        traffic_share: share,
        intended_share: share,
        request_rps: rps,
        error_rps: errors,
        alert_value: None,
        alert_threshold: None,
        alert_state: None,
    }
}

/// A rolling update of 4 pods from v1 to v2 from t = 0 to 400 s, an alert pending at 300 s
/// and firing from 360 s, over 1,000 ticks (more than one point per pixel).
fn timeline_rows() -> Vec<TimelineRow> {
    let mut rows = Vec::new();
    for k in 0..1000 {
        let t = f64::from(k) - 300.0;
        let new = ((t / 100.0).floor().clamp(0.0, 4.0)) as u64;
        let share = new as f64 / 4.0;
        rows.push(row(
            t,
            "myapp:1.0",
            4 - new,
            4 - new,
            1.0 - share,
            500.0 * (1.0 - share),
            0.5 * (1.0 - share),
        ));
        rows.push(row(t, "myapp:2.0", new, new, share, 500.0 * share, 25.0 * share));
        if k % 30 == 0 {
            let state = if t >= 360.0 {
                "firing"
            } else if t >= 300.0 {
                "pending"
            } else {
                "inactive"
            };
            rows.push(TimelineRow {
                alert_value: Some(0.05 * share),
                alert_threshold: Some(0.01),
                alert_state: Some(state),
                ..row(t, "PrometheusRule/myapp-alerts/HighErrorRate", 0, 0, 0.0, 0.0, 0.0)
            });
        }
    }
    rows
}

fn records(n: u64) -> Vec<RunRecord> {
    (0..n)
        .map(|i| {
            let mut r = sample_record(i, if i % 4 == 3 { Outcome::Completed } else { Outcome::RolledBack });
            if let Some(d) = r.detected_at_s.as_mut() {
                *d += (i * 37 % 50) as f64;
            }
            r.bad_requests += i * i * 13 % 700;
            r.users_affected += i * 7 % 90;
            r.overhead_pct += (i % 5) as f64;
            r
        })
        .collect()
}

fn run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_timeline_csv(&dir.path().join("timeline.csv"), &timeline_rows()).unwrap();
    write_runs_csv(&dir.path().join("runs.csv"), &records(40)).unwrap();
    dir
}

const TUNE_CSV: &str = "\
threshold,for,detect,detect_ci95_low,detect_ci95_high,false_alarm,false_alarm_ci95_low,false_alarm_ci95_high,n,ttd_n,ttd_mean,ttd_ci95_low,ttd_ci95_high,ttd_p50,ttd_p95,pareto,recommended
0.0015,0s,1.0,0.963,1.0,0.83,0.74,0.89,100,100,53.0,51.0,55.0,54.0,65.0,true,false
0.0015,2m,1.0,0.963,1.0,0.0,0.0,0.037,100,100,174.0,172.0,176.0,174.0,185.0,false,false
0.003,0s,1.0,0.963,1.0,0.0,0.0,0.037,100,100,58.0,56.0,60.0,58.0,70.0,true,true
0.003,2m,0.95,0.89,0.98,0.0,0.0,0.037,100,95,178.0,175.0,181.0,178.0,190.0,false,false
0.02,0s,0.6,0.5,0.69,0.0,0.0,0.037,100,60,86.0,80.0,92.0,86.0,98.0,false,false
0.02,2m,0.0,0.0,0.037,0.0,0.0,0.037,100,0,,,,,,false,false
";

fn tune_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tune.csv"), TUNE_CSV).unwrap();
    dir
}

fn sweep_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let axes = vec!["spec.traffic.rps".to_owned(), "PrometheusRule/a.spec.groups[0].rules[0].for".to_owned()];
    let mut points = Vec::new();
    for (i, rps) in ["100", "500"].iter().enumerate() {
        for (j, f) in ["0s", "1m", "3m"].iter().enumerate() {
            let mut rs = records(20);
            for r in &mut rs {
                if let Some(d) = r.detected_at_s.as_mut() {
                    *d += 60.0 * j as f64 + 5.0 * i as f64;
                }
                r.bad_requests *= 1 + i as u64 * 4;
            }
            points.push(SweepPoint {
                values: vec![rps.to_string(), f.to_string()],
                summary: summarize_runs(&rs),
            });
        }
    }
    write_sweep_csv_file(&dir.path().join("sweep.csv"), &axes, &points).unwrap();
    dir
}

fn compare_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (k, name) in ["rolling", "bluegreen", "flagger"].iter().enumerate() {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        let mut rs = records(30);
        for r in &mut rs {
            r.bad_requests /= 1 + k as u64 * 3;
            r.overhead_pct += 40.0 * k as f64;
        }
        write_runs_csv(&sub.join("runs.csv"), &rs).unwrap();
    }
    // compare.csv's order (not the names' order) is the strategies' order.
    std::fs::write(dir.path().join("compare.csv"), "scenario,metric\nrolling,x\nbluegreen,x\nflagger,x\n")
        .unwrap();
    dir
}

/// Decodes a PNG and returns (width, height, share of non-white pixels, distinct colours).
fn decode(bytes: &[u8]) -> (u32, u32, f64, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    let ink = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    let colours: BTreeSet<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, ink as f64 / pixels.len() as f64, colours.len())
}

/// Checks one figure as PNG and SVG; `labels` must appear as SVG text.
fn check(figure: &Figure, labels: &[&str]) {
    let (w, h) = figure.size();
    let (pw, ph, ink, colours) = decode(&figure.png().unwrap());
    assert_eq!((pw, ph), (w, h), "{}", figure.name());
    assert!(ink > 0.04 && ink < 0.9, "{}: {ink} of the pixels drawn", figure.name());
    assert!(colours >= 8, "{}: {colours} colours", figure.name());
    let svg = figure.svg().unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
    assert!(svg.contains(&format!("width=\"{w}\" height=\"{h}\"")), "{}", &svg[..200]);
    assert!(svg.contains("font-family=\"sans-serif\""));
    for label in labels {
        assert!(svg.contains(label), "{}: no {label:?} in the SVG", figure.name());
    }
}

#[test]
fn run_dir_gives_a_timeline_and_distributions() {
    let dir = run_dir();
    let figures = figures_for_dir(dir.path()).unwrap();
    let names: Vec<&str> = figures.iter().map(Figure::name).collect();
    assert_eq!(names, ["timeline", "distributions"]);
    check(
        &figures[0],
        &[
            "minutes from the release start",
            "Pods per version",
            "myapp:2.0 Ready",
            "myapp:1.0 desired",
            "% of requests",
            "requests/s",
            "errors/s",
            "HighErrorRate",
            "pending",
            "firing",
            "release start (0 min)",
            "detected by alert:HighErrorRate",
            "n = 1: replication 0",
        ],
    );
    check(
        &figures[1],
        &[
            "time to detect (s)",
            "time to roll back (s)",
            "bad requests",
            "users affected",
            "n = 40 replications",
            "mean ",
        ],
    );
}

#[test]
fn timeline_bands_follow_the_alert_states() {
    let dir = run_dir();
    let Some(t) = timeline::Timeline::read(dir.path()).unwrap() else { panic!("a timeline") };
    assert_eq!(t.versions.len(), 2);
    assert!(t.minutes.len() <= 600 && t.minutes.len() > 300, "{}", t.minutes.len());
    assert_eq!(t.span, (-5.0, 699.0 / 60.0));
    // The last version's Ready pods reach 4 (averaged buckets keep the plateau).
    assert_eq!(t.versions[1].ready.last().copied(), Some(4.0));
    let lane = &t.alerts[0];
    assert_eq!(lane.name, "HighErrorRate");
    // Evaluations every 30 s: pending from 300 s, firing from 360 s to the end.
    assert_eq!(
        lane.bands,
        vec![(5.0, 6.0, timeline::AlertLevel::Pending), (6.0, 699.0 / 60.0, timeline::AlertLevel::Firing)]
    );
}

#[test]
fn compare_dir_gives_distributions_in_compare_order() {
    let dir = compare_dir();
    let figures = figures_for_dir(dir.path()).unwrap();
    assert_eq!(figures.len(), 1);
    let Figure::Distributions(d) = &figures[0] else { panic!("distributions") };
    assert_eq!(d.labels, ["rolling", "bluegreen", "flagger"]);
    assert_eq!(d.replications, [30, 30, 30]);
    // Overhead: each strategy's mean is its records' mean.
    let means: Vec<f64> = d.boxes[4].iter().map(|b| b.summary.unwrap().mean).collect();
    assert!(means[0] < means[1] && means[1] < means[2], "{means:?}");
    check(&figures[0], &["rolling (n=30)", "flagger (n=", "overhead", "per strategy"]);
}

#[test]
fn tune_dir_gives_the_frontier_and_time_to_detect() {
    let dir = tune_dir();
    let figures = figures_for_dir(dir.path()).unwrap();
    let names: Vec<&str> = figures.iter().map(Figure::name).collect();
    assert_eq!(names, ["tuning-roc", "tuning-ttd"]);
    check(
        &figures[0],
        &[
            "false alarms per healthy release (%)",
            "bad releases detected (%)",
            "Pareto frontier",
            "threshold 0.003, for 0s: 100% / 0% ← recommended",
            "n = 100 faulty and 100 healthy",
        ],
    );
    check(
        &figures[1],
        &["threshold (the number", "time to detect (s)", "for 0s (n detected ≥ 60)", "for 2m"],
    );
}

#[test]
fn sweep_dir_gives_metrics_against_the_first_axis() {
    let dir = sweep_dir();
    let figures = figures_for_dir(dir.path()).unwrap();
    assert_eq!(figures.len(), 1);
    let Figure::Sweep(s) = &figures[0] else { panic!("a sweep") };
    assert_eq!(s.xs, ["100", "500"]);
    let labels: Vec<&str> = s.lines.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["for = 0s", "for = 1m", "for = 3m"]);
    check(
        &figures[0],
        &["sweep over rps", "time to detect (s)", "rolled back (% of replications)", "for = 3m", "n = 20"],
    );
}

#[test]
fn drawings_are_byte_identical() {
    for dir in [run_dir(), compare_dir(), tune_dir(), sweep_dir()] {
        let a = charts_for_dir(dir.path()).unwrap();
        let b = charts_for_dir(dir.path()).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        for f in figures_for_dir(dir.path()).unwrap() {
            assert_eq!(f.png().unwrap(), f.png().unwrap(), "{}", f.name());
        }
    }
}

#[test]
fn charts_for_dir_gives_named_titled_svg() {
    let charts = charts_for_dir(run_dir().path()).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["timeline", "distributions"]);
    assert!(charts[1].title.contains("n = 40 replications"), "{}", charts[1].title);
    assert!(charts.iter().all(|c| c.svg.starts_with("<svg") && c.svg.trim_end().ends_with("</svg>")));
    // Nothing to plot: no charts (the HTML report leaves the section out).
    let empty = tempfile::tempdir().unwrap();
    assert!(charts_for_dir(empty.path()).unwrap().is_empty());
}

#[test]
fn write_plots_writes_png_and_svg_and_refuses_an_empty_dir() {
    let dir = tune_dir();
    let written = write_plots(dir.path()).unwrap();
    let names: Vec<String> =
        written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["tuning-roc.png", "tuning-roc.svg", "tuning-ttd.png", "tuning-ttd.svg"]);
    for p in &written {
        assert_eq!(p.parent().unwrap(), plots_dir(dir.path()));
    }
    let svg = std::fs::read_to_string(&written[1]).unwrap();
    assert_eq!(svg, charts_for_dir(dir.path()).unwrap()[0].svg);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(plots_dir(dir.path())).unwrap().count(), 4);

    let empty = tempfile::tempdir().unwrap();
    let e = write_plots(empty.path()).unwrap_err();
    assert!(e.downcast_ref::<BadInput>().is_some());
    assert!(e.to_string().contains("nothing to plot"), "{e}");
    let e = write_plots(&empty.path().join("missing")).unwrap_err();
    assert!(e.to_string().ends_with("missing: no such directory"), "{e}");
}

#[test]
fn broken_results_are_bad_input_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tune.csv"), TUNE_CSV.replace("0.83,", "lots,")).unwrap();
    let e = charts_for_dir(dir.path()).unwrap_err();
    assert!(e.downcast_ref::<BadInput>().is_some());
    assert!(e.to_string().contains("tune.csv:2:6: `false_alarm` is `lots`, not a number"), "{e}");

    let dir = run_dir();
    let text = std::fs::read_to_string(dir.path().join("timeline.csv")).unwrap();
    std::fs::write(dir.path().join("timeline.csv"), text.replacen(",firing", ",burning", 1)).unwrap();
    let e = charts_for_dir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("alert_state is `burning`; write inactive, pending or firing"), "{e}");
}

#[test]
fn the_rollback_start_is_marked_from_the_saved_decisions() {
    let dir = run_dir();
    let t = timeline::Timeline::read(dir.path()).unwrap().expect("a timeline");
    assert_eq!(t.rollback_start, None, "no decisions.csv, no marker");
    std::fs::write(
        dir.path().join("decisions.csv"),
        "time_s,object,reason,message\n\
         600.0,Deployment/myapp,TemplateChanged,the template changes\n\
         1290.0,Deployment/myapp,RollbackStarted,kubectl rollout undo\n\
         1400.0,Rollout/myapp,RolloutAborted,a later one is not the start\n",
    )
    .unwrap();
    let t = timeline::Timeline::read(dir.path()).unwrap().expect("a timeline");
    assert_eq!(t.rollback_start, Some(("rollback started".to_owned(), 11.5)));
    let svg = charts_for_dir(dir.path()).unwrap().remove(0).svg;
    assert!(svg.contains("rollback started (11.5 min)"), "the marker is in the legend");
    std::fs::write(dir.path().join("decisions.csv"), "time_s,object\n").unwrap();
    let e = timeline::Timeline::read(dir.path()).unwrap_err();
    assert!(e.is::<BadInput>() && e.to_string().contains("decisions.csv:1:1"), "{e}");
}
