//! `decisions.csv`: the decisions of the replication whose timeline is saved (replication
//! 0), taken from its event log: every event of a controller, an alert, an analysis,
//! Alertmanager, the on-call engineer or the simulation itself — the log without the
//! per-pod and per-ReplicaSet lifecycle lines. Same columns as `rollsim trace --format csv`
//! (`time_s, object, reason, message`, seconds since the replication started), so it is as
//! deterministic and byte-stable as the trace.

use crate::experiment::record::TraceEvent;
use crate::report::{TRACE_HEADER, write_atomically, write_trace_csv};
use std::io;
use std::path::Path;

pub const DECISIONS_FILE: &str = "decisions.csv";

/// Whether an event is a decision (or its reason) rather than a pod's or a ReplicaSet's
/// lifecycle step.
pub fn is_decision(e: &TraceEvent) -> bool {
    !(e.object.starts_with("Pod/") || e.object.starts_with("ReplicaSet/"))
}

/// The decisions among `events`, in order.
pub fn decision_events(events: &[TraceEvent]) -> Vec<TraceEvent> {
    events.iter().filter(|e| is_decision(e)).cloned().collect()
}

/// Writes the decisions among `events` to `path` atomically.
pub fn write_decisions_csv(path: &Path, events: &[TraceEvent]) -> io::Result<()> {
    let decisions = decision_events(events);
    write_atomically(path, |w| write_trace_csv(w, &decisions))
}

/// One row of `decisions.csv` as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub time_s: f64,
    pub object: String,
    pub reason: String,
    pub message: String,
}

/// Reads `decisions.csv`; `Ok(None)` when there is none. A bad row is an error naming the
/// file and its line.
pub fn read_decisions(path: &Path) -> Result<Option<Vec<Decision>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let record = record.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
        let fields: Vec<&str> = record.iter().collect();
        if i == 0 {
            if fields != TRACE_HEADER {
                return Err(format!(
                    "{}:1:1: the header is `{}`; expected `{}`",
                    path.display(),
                    fields.join(","),
                    TRACE_HEADER.join(",")
                ));
            }
            continue;
        }
        let [time, object, reason, message] = fields.as_slice() else {
            return Err(format!(
                "{}:{line}:1: {} fields; expected 4 ({})",
                path.display(),
                fields.len(),
                TRACE_HEADER.join(",")
            ));
        };
        let time_s: f64 = time.parse().ok().filter(|t: &f64| t.is_finite()).ok_or_else(|| {
            format!("{}:{line}:1: time_s `{time}` is not a number of seconds", path.display())
        })?;
        out.push(Decision {
            time_s,
            object: (*object).to_owned(),
            reason: (*reason).to_owned(),
            message: (*message).to_owned(),
        });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(object: &str, reason: &str) -> TraceEvent {
        TraceEvent {
            time: 2_500_000,
            time_s: 2.5,
            object: object.into(),
            reason: reason.into(),
            message: "m, \"q\"".into(),
        }
    }

    #[test]
    fn pods_and_replica_sets_are_left_out_and_the_rest_reads_back() {
        let events = [
            ev("Pod/myapp-1-abc", "Ready"),
            ev("Deployment/myapp", "ScalingReplicaSet"),
            ev("ReplicaSet/myapp-1", "SuccessfulCreate"),
            ev("PrometheusRule/slo", "AlertFiring"),
            ev("Simulation", "Detected"),
        ];
        let kept = decision_events(&events);
        let kept: Vec<&str> = kept.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(kept, ["ScalingReplicaSet", "AlertFiring", "Detected"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DECISIONS_FILE);
        write_decisions_csv(&path, &events).unwrap();
        let back = read_decisions(&path).unwrap().unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[1].object, "PrometheusRule/slo");
        assert_eq!(back[1].message, "m, \"q\"");
        assert_eq!(back[1].time_s, 2.5);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DECISIONS_FILE);
        std::fs::write(
            &path,
            "time_s,object,reason,message\n1.5,Simulation,Detected,x\nsoon,Simulation,Detected,y\n",
        )
        .unwrap();
        let e = read_decisions(&path).unwrap_err();
        assert!(e.ends_with("decisions.csv:3:1: time_s `soon` is not a number of seconds"), "{e}");
        assert_eq!(read_decisions(&dir.path().join("none.csv")).unwrap(), None);
    }
}
