//! `scenario.json`: the scenario in brief, saved next to a run's results so that a report
//! drawn later from the directory alone can say what was simulated.

use crate::engine::DurationDist;
use crate::report::write_atomically;
use crate::scenario::Scenario;
use crate::scenario::units::format_duration;
use crate::telemetry::spec::{AlertAction, Rule};
use crate::traffic::spec::{FaultAnchor, FaultKind, RatePattern};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

pub const BRIEF_FILE: &str = "scenario.json";

/// What was simulated, in words a reader of the report understands. Every field is derived
/// from the loaded `Scenario` alone, so the file is byte-identical for the same input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brief {
    pub scenario: String,
    /// Who carries out the release (`Scenario::release_summary`).
    pub strategy: String,
    /// `myapp:1.0 → myapp:2.0 at 05:00`.
    pub release: String,
    pub replicas: u32,
    pub traffic: String,
    pub versions: Vec<VersionBrief>,
    /// One line per alerting rule: its name, `for`, and what its firing does.
    pub alerts: Vec<String>,
    /// Who rolls back by hand after a page, and how soon.
    pub manual_rollback: String,
    pub duration: String,
    pub fidelity: String,
    pub seed: u64,
    pub replications: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionBrief {
    pub image: String,
    /// Requests failing with no fault, as a share.
    pub error_rate: f64,
    pub faults: Vec<String>,
}

fn dist(d: &DurationDist) -> String {
    match *d {
        DurationDist::Fixed(t) => format_duration(t),
        DurationDist::LogNormal { median, p99 } => {
            format!("a log-normal time (median {}, p99 {})", format_duration(median), format_duration(p99))
        }
    }
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    let text = format!("{p:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// One fault in words: `errors 5% from 2m after the pod's start`.
pub fn describe_fault(kind: &FaultKind, after: u64, anchor: FaultAnchor, ramp: Option<u64>) -> String {
    let what = match kind {
        FaultKind::Errors { rate } => format!("errors {}", percent(*rate)),
        FaultKind::Latency { latency } => {
            format!("latency p50 {}, p99 {}", format_duration(latency.p50), format_duration(latency.p99))
        }
        FaultKind::CrashAtStart => "crash at start (never Ready)".to_owned(),
        FaultKind::CrashAfter { uptime } => format!("crash after an uptime of {}", dist(uptime)),
        FaultKind::ErrorsAboveLoad { above_rps, rate } => {
            format!("errors {} while a pod gets more than {above_rps} rps", percent(*rate))
        }
        FaultKind::ErrorsForUsers { fraction, rate } => {
            format!("errors {} for {} of the users", percent(*rate), percent(*fraction))
        }
    };
    let from = match (anchor, after) {
        (FaultAnchor::PodStart, 0) => "from the pod's start".to_owned(),
        (FaultAnchor::Release, 0) => "from the release".to_owned(),
        (FaultAnchor::PodStart, t) => format!("from {} after the pod's start", format_duration(t)),
        (FaultAnchor::Release, t) => format!("from {} after the release", format_duration(t)),
    };
    let ramp = ramp.map(|r| format!(", ramping up over {}", format_duration(r))).unwrap_or_default();
    format!("{what} {from}{ramp}")
}

impl Brief {
    pub fn of(s: &Scenario) -> Brief {
        let traffic = {
            let t = &s.traffic;
            let pattern = match &t.pattern {
                RatePattern::Constant => format!("{} rps constant", t.rps),
                RatePattern::Diurnal { trough, peak, period } => {
                    format!("diurnal {trough}–{peak} rps over {}", format_duration(*period))
                }
                RatePattern::Steps { steps } => {
                    let parts: Vec<String> =
                        steps.iter().map(|p| format!("{} rps at {}", p.rps, format_duration(p.at))).collect();
                    format!("{} rps, then {}", t.rps, parts.join(", "))
                }
            };
            format!("{pattern}, {} users", t.users)
        };
        let versions = s
            .versions
            .iter()
            .map(|(image, v)| VersionBrief {
                image: image.clone(),
                error_rate: v.error_rate,
                faults: v.faults.iter().map(|f| describe_fault(&f.kind, f.after, f.anchor, f.ramp)).collect(),
            })
            .collect();
        let mut alerts = Vec::new();
        for group in &s.monitoring.groups {
            for rule in &group.rules {
                if let Rule::Alerting(a) = rule {
                    let action = match s.monitoring.action_for(&a.name) {
                        AlertAction::Rollback => "rolls back automatically",
                        AlertAction::Page => "pages the on-call engineer",
                        AlertAction::None => "is recorded only",
                    };
                    let for_ = if a.for_ > 0 {
                        format!(" (for {})", format_duration(a.for_))
                    } else {
                        String::new()
                    };
                    alerts.push(format!(
                        "{} in {}: {}{for_}; firing {action}",
                        a.name,
                        group.object,
                        a.expr.source()
                    ));
                }
            }
        }
        let manual_rollback = match &s.rollback.manual_after {
            Some(d) => format!("the on-call engineer rolls back {} after a page", dist(d)),
            None => "nobody rolls back by hand".to_owned(),
        };
        Brief {
            scenario: s.name.clone(),
            strategy: s.release_summary(),
            release: format!(
                "{} → {} at {}",
                s.release.from_image,
                s.release.to_image,
                format_duration(s.release.at)
            ),
            replicas: s.deployment.replicas,
            traffic,
            versions,
            alerts,
            manual_rollback,
            duration: format_duration(s.duration),
            fidelity: s.fidelity.as_str().to_owned(),
            seed: s.seed,
            replications: s.replications,
        }
    }

    pub fn json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a brief serializes");
        text.push('\n');
        text
    }

    /// Writes `DIR/scenario.json` atomically.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let text = self.json();
        write_atomically(&dir.join(BRIEF_FILE), |w| w.write_all(text.as_bytes()))
    }

    /// Reads `DIR/scenario.json`; `Ok(None)` when the directory has none.
    pub fn read(dir: &Path) -> Result<Option<Brief>, String> {
        let path = dir.join(BRIEF_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            format!(
                "{}:{}:{}: {e}; expected the scenario in brief that `rollsim run` writes (delete the file to report without it)",
                path.display(),
                e.line(),
                e.column()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{EXAMPLE_FILE_NAME, EXAMPLE_YAML, load_str};

    #[test]
    fn the_example_in_brief() {
        let s = load_str(EXAMPLE_FILE_NAME, EXAMPLE_YAML, &[]).unwrap();
        let b = Brief::of(&s);
        assert_eq!(b.scenario, s.name);
        assert_eq!(b.replicas, s.deployment.replicas);
        assert!(b.strategy.starts_with("Deployment/"), "{}", b.strategy);
        assert!(b.release.contains(" → "), "{}", b.release);
        assert!(b.traffic.contains("rps"), "{}", b.traffic);
        // The example's new version has a fault; it is told in words.
        assert!(b.versions.iter().any(|v| !v.faults.is_empty()), "{b:?}");
        let back: Brief = serde_json::from_str(&b.json()).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn faults_in_words() {
        assert_eq!(
            describe_fault(&FaultKind::Errors { rate: 0.05 }, 120 * 1_000_000, FaultAnchor::PodStart, None),
            "errors 5% from 2m after the pod's start"
        );
        assert_eq!(
            describe_fault(&FaultKind::CrashAtStart, 0, FaultAnchor::Release, Some(60 * 1_000_000)),
            "crash at start (never Ready) from the release, ramping up over 1m"
        );
    }

    #[test]
    fn a_bad_file_is_named_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(BRIEF_FILE), "{\n  \"scenario\": 3\n}\n").unwrap();
        let e = Brief::read(dir.path()).unwrap_err();
        assert!(e.contains("scenario.json:2:"), "{e}");
        assert!(Brief::read(tempfile::tempdir().unwrap().path()).unwrap().is_none());
    }
}
