//! End-to-end tests of `--plots` and `rollsim plot DIR`.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

/// Width and height of a PNG file, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn svg_size(text: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let at = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        text[at..].split('"').next().unwrap().parse().unwrap()
    };
    (attr("width"), attr("height"))
}

#[test]
fn run_with_plots_draws_the_timeline_and_distributions_and_plot_redraws_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    rollsim()
        .args(["run", "scenarios/monitoring-high-error-rate.yaml", "-n", "6", "--plots", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("timeline.png, timeline.svg, distributions.png, distributions.svg"));
    // The timeline says each alert evaluation's state.
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(timeline.lines().next().unwrap().ends_with(",alert_value,alert_threshold,alert_state"));
    assert!(timeline.lines().any(|l| l.contains("HighErrorRate") && l.ends_with(",firing")));
    let plots = out.join("plots");
    let mut first = Vec::new();
    for name in ["timeline", "distributions"] {
        let (w, h) = png_size(&plots.join(format!("{name}.png")));
        assert!(w >= 1000 && h >= 800, "{name}: {w}×{h}");
        let svg = std::fs::read_to_string(plots.join(format!("{name}.svg"))).unwrap();
        assert_eq!(svg_size(&svg), (w, h), "{name}: the PNG and the SVG have one size");
        first.push((std::fs::read(plots.join(format!("{name}.png"))).unwrap(), svg));
    }
    assert!(first[0].1.contains("HighErrorRate") && first[0].1.contains("minutes from the release start"));
    assert!(first[1].1.contains("n = 6 replications") && first[1].1.contains("time to detect (s)"));

    // `rollsim plot` draws the very same files again from what was saved.
    std::fs::remove_dir_all(&plots).unwrap();
    rollsim().arg("plot").arg(&out).assert().success();
    for (k, name) in ["timeline", "distributions"].iter().enumerate() {
        assert_eq!(std::fs::read(plots.join(format!("{name}.png"))).unwrap(), first[k].0, "{name}.png");
        assert_eq!(
            std::fs::read_to_string(plots.join(format!("{name}.svg"))).unwrap(),
            first[k].1,
            "{name}.svg"
        );
    }
}

#[test]
fn compare_with_plots_draws_the_strategies_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    rollsim()
        .args(["compare", "scenarios/same-fault/rolling.yaml", "scenarios/same-fault/flagger.yaml"])
        .args(["-n", "4", "--plots", "--out"])
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("plots/distributions.svg")).unwrap();
    let (rolling, flagger) =
        (svg.find("same-fault-rolling (n=").unwrap(), svg.find("same-fault-flagger (n=").unwrap());
    assert!(rolling < flagger, "the first file's strategy comes first");
    assert!(out.join("plots/distributions.png").is_file());
}

#[test]
fn plot_refuses_a_directory_with_nothing_to_plot_and_broken_results() {
    let dir = tempfile::tempdir().unwrap();
    rollsim()
        .arg("plot")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to plot").and(predicate::str::contains("tune.csv")));
    rollsim()
        .arg("plot")
        .arg(dir.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing: no such directory"));
    std::fs::write(
        dir.path().join("sweep.csv"),
        "spec.traffic.rps,metric,unit,n,mean,ci95_low,ci95_high\n100,detected_at_s,s,5,soon,,\n",
    )
    .unwrap();
    rollsim()
        .arg("plot")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sweep.csv:2:5: `mean` is `soon`, not a number"));
    assert!(!dir.path().join("plots").exists(), "nothing is written for broken results");
}
