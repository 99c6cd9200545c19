//! `rollsim report DIR` and `--report`: the self-contained report.html, checked in a real
//! browser (headless Chromium) when one is installed (`.ci/run` installs Debian's
//! `chromium`): every table and every figure of the page must be in the rendered DOM, and
//! the screenshot must not be blank.

use crate::common::bad_and_good;
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn rollsim() -> Command {
    Command::cargo_bin("rollsim").expect("the binary is built")
}

fn ok(cmd: &mut Command) -> String {
    let output = cmd.output().expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stderr).unwrap()
}

/// How many charts `report::plot` draws for `dir`: the figures the report must embed.
fn charts(dir: &Path) -> usize {
    rollsim::report::plot::charts_for_dir(dir).expect("the results plot").len()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Where a Chromium is: `/usr/bin/chromium` (Debian), else the first of the usual names on
/// `PATH`.
fn chromium() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs the browser headless on `page` with `extra` arguments and returns its standard
/// output; kills it after two minutes.
fn headless(browser: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    // Drain both pipes while waiting: a page's DOM is larger than a pipe's buffer, and a
    // browser blocked on a full pipe would never exit.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{} did not finish within 2 minutes", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output =
        std::process::Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    assert!(output.status.success(), "{}: {}", browser.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Renders `page` in the browser and checks the DOM and a screenshot. Skips (with a message)
/// only where no browser is installed.
fn check_in_browser(page: &Path, figures: usize, tables: usize) {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: the browser test of report.html needs Chromium (apt-get install chromium; .ci/run installs it); none was found"
        );
        return;
    };
    let dom = headless(&browser, page, &["--dump-dom".to_owned()]);
    assert_eq!(count(&dom, "<figure class=\"chart\""), figures, "figures in the rendered DOM");
    // Each figure holds its inline SVG, parsed as SVG by the browser.
    let svgs = dom.split("<figure class=\"chart\"").skip(1).filter(|f| f.contains("<svg")).count();
    assert_eq!(svgs, figures, "an <svg> in every figure");
    assert_eq!(count(&dom, "<table>"), tables, "tables in the rendered DOM");
    assert_eq!(count(&dom, "</table>"), tables);

    let shot_dir = tempfile::tempdir().unwrap();
    let shot = shot_dir.path().join("report.png");
    headless(
        &browser,
        page,
        &[format!("--screenshot={}", shot.display()), "--window-size=1280,2000".to_owned()],
    );
    let decoder = png::Decoder::new(std::fs::File::open(&shot).expect("a screenshot"));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = &buf[..info.buffer_size()];
    let mut non_white = 0usize;
    let mut colours = std::collections::BTreeSet::new();
    for px in pixels.chunks_exact(channels) {
        let rgb = [px[0], px[1], px[2]];
        if rgb.iter().any(|&c| c < 235) {
            non_white += 1;
        }
        colours.insert(rgb);
    }
    let share = non_white as f64 / (info.width as f64 * info.height as f64);
    assert!(share > 0.05, "only {:.1}% of the screenshot is not white", share * 100.0);
    assert!(colours.len() >= 16, "only {} distinct colours in the screenshot", colours.len());
}

#[test]
fn a_run_reports_in_a_real_browser_with_every_table_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let stderr = ok(rollsim()
        .args(["run", "scenarios/monitoring-high-error-rate.yaml", "-n", "3", "-q", "--report", "--out"])
        .arg(&out));
    // A run plots its timeline and its distributions.
    let figures = charts(&out);
    assert!(figures >= 2, "{figures} charts");
    assert!(stderr.contains(&format!("report.html ({figures} plots)")), "{stderr}");
    // `run` saved what the report tells: the scenario in brief and the decisions.
    for file in ["scenario.json", "decisions.csv", "report.html"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let decisions = std::fs::read_to_string(out.join("decisions.csv")).unwrap();
    assert!(decisions.starts_with("time_s,object,reason,message\n"), "{decisions}");
    assert!(!decisions.contains(",Pod/"), "pods' lifecycle is left out");
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(count(&html, "<figure class=\"chart\""), figures);
    assert!(html.contains("<svg"), "the charts are inline SVG");
    assert!(!html.contains("<?xml"), "the prolog is stripped");
    // Outcomes, metrics, what detected the releases, the decisions.
    let tables = count(&html, "<table>");
    assert_eq!(tables, 4, "{html}");
    assert!(html.contains("Strategy</dt><dd>Deployment/"), "the scenario in brief");
    assert!(html.contains("95% CI"));
    // Drawn again from the same directory, the page is the same to the byte.
    ok(rollsim().arg("report").arg(&out));
    assert_eq!(std::fs::read_to_string(&page).unwrap(), html);
    check_in_browser(&page, figures, tables);
}

#[test]
fn a_comparison_reports_its_recommendation_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = bad_and_good(dir.path());
    let out = dir.path().join("cmp");
    ok(rollsim().arg("compare").arg(&bad).arg(&good).args(["--report", "--out"]).arg(&out));
    for sub in ["bad", "good"] {
        assert!(out.join(sub).join("scenario.json").is_file());
        assert!(out.join(sub).join("decisions.csv").is_file());
    }
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // The healthy version costs less at any price: it is the recommendation.
    assert!(html.contains("<p class=\"top\">Recommended: good — mean cost"), "{html}");
    assert!(html.contains("bad_request = 0.05"), "the default prices are stated");
    // Ranking, comparison, and per strategy what detected and its decisions.
    let tables = count(&html, "<table>");
    assert_eq!(tables, 2 + 2 * 2, "{html}");
    let figures = charts(&out);
    assert!(figures >= 1, "the strategies' distributions are drawn");
    assert_eq!(count(&html, "<figure class=\"chart\""), figures);
    check_in_browser(&page, figures, tables);
}

#[test]
fn report_of_a_directory_without_results_exits_2_and_says_what_it_expected() {
    let dir = tempfile::tempdir().unwrap();
    rollsim()
        .arg("report")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no results to report on; expected runs.csv (rollsim run)"));
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("runs.csv"), "replication,seed\n0,zero\n").unwrap();
    let assert = rollsim().arg("report").arg(&bad).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("runs.csv"), "{stderr}");
    assert!(!bad.join("report.html").exists());
}

#[test]
fn the_saved_decisions_and_brief_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let out = dir.path().join(format!("t{threads}"));
        ok(rollsim()
            .args([
                "run",
                "scenarios/monitoring-high-error-rate.yaml",
                "-n",
                "3",
                "-q",
                "--threads",
                threads,
                "--out",
            ])
            .arg(&out));
        out
    };
    let (one, two) = (run("1"), run("2"));
    for file in ["decisions.csv", "scenario.json", "runs.csv"] {
        assert_eq!(std::fs::read(one.join(file)).unwrap(), std::fs::read(two.join(file)).unwrap(), "{file}");
    }
    let decisions = std::fs::read_to_string(one.join("decisions.csv")).unwrap();
    assert!(decisions.contains("AlertFiring"), "the alert that fired is among the decisions:\n{decisions}");
}

#[test]
fn sweep_and_tune_report_their_tables_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("sweep");
    ok(rollsim()
        .args(["sweep", "scenarios/monitoring-high-error-rate.yaml", "-n", "2", "--set", "spec.duration=15m"])
        .args(["--grid", "spec.traffic.rps=100,300", "--report", "--out"])
        .arg(&sweep));
    let html = std::fs::read_to_string(sweep.join("report.html")).unwrap();
    assert_eq!(count(&html, "<table>"), 1, "{html}");
    // One row per grid point, each figure with its interval and n.
    assert!(html.contains("<th scope=\"col\">spec.traffic.rps</th>"), "{html}");
    assert!(html.contains(">100</td>") && html.contains(">300</td>"), "{html}");
    assert!(html.contains(" n=2</td>"), "{html}");

    let tune = dir.path().join("tune");
    ok(rollsim()
        .args(["tune", "scenarios/monitoring-high-error-rate.yaml", "--rule", "HighErrorRate"])
        .args(["--threshold", "0.02,0.1", "-n", "3", "--set", "spec.duration=30m", "--report", "--out"])
        .arg(&tune));
    let html = std::fs::read_to_string(tune.join("report.html")).unwrap();
    assert_eq!(count(&html, "<table>"), 1, "{html}");
    // Both detect every faulty release without a false alarm; the lower threshold sooner.
    assert!(html.contains("<td class=\"hit\">threshold 0.02</td>"), "{html}");
    assert!(html.contains("<td>threshold 0.1</td>"), "{html}");
    assert!(html.contains("<p class=\"top\">Recommended setting: threshold 0.02.</p>"), "{html}");
    assert!(html.contains("Strategy</dt><dd>Deployment/myapp"), "the scenario in brief");
}

#[test]
fn merged_shards_report_like_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "scenarios/monitoring-high-error-rate.yaml";
    let whole = dir.path().join("whole");
    ok(rollsim().args(["run", scenario, "-n", "4", "-q", "--out"]).arg(&whole));
    let mut shards = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("shard{i}"));
        let stderr = ok(rollsim()
            .args(["run", scenario, "-n", "4", "-q", "--report", "--shard", &format!("{i}/2"), "--out"])
            .arg(&out));
        assert!(stderr.contains("--report: a shard holds part of the run"), "{stderr}");
        assert!(!out.join("report.html").exists());
        shards.push(out);
    }
    let merged = dir.path().join("merged");
    ok(rollsim().arg("merge").args(&shards).arg("--out").arg(&merged));
    ok(rollsim().arg("report").arg(&merged));
    ok(rollsim().arg("report").arg(&whole));
    for file in ["scenario.json", "decisions.csv", "report.html"] {
        assert_eq!(
            std::fs::read(merged.join(file)).unwrap(),
            std::fs::read(whole.join(file)).unwrap(),
            "{file}"
        );
    }
}
