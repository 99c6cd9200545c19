//! The event log as text, laid out like `kubectl get events`.

use crate::engine::format_clock;
use crate::experiment::record::TraceEvent;

/// Three spaces between columns, as kubectl prints them.
const GAP: &str = "   ";

/// Formats events as aligned columns `TIME  OBJECT  REASON  MESSAGE`, one line per event
/// in the given order, each line ending in `\n`.
///
/// `TIME` is the event's simulated time since the replication started, as `mm:ss` (or
/// `h:mm:ss` past an hour, from [`format_clock`]); columns are padded to their widest cell
/// (counted in characters) and the message is last and unpadded. Line breaks inside a
/// message become spaces so every event stays on one line. With no events only the header
/// is printed.
pub fn format_trace_text(events: &[TraceEvent]) -> String {
    let rows: Vec<[String; 4]> = events
        .iter()
        .map(|e| {
            [
                format_clock(e.time),
                e.object.clone(),
                e.reason.clone(),
                e.message.replace("\r\n", " ").replace(['\n', '\r'], " "),
            ]
        })
        .collect();
    let header = ["TIME", "OBJECT", "REASON", "MESSAGE"].map(str::to_owned);
    let mut widths = [0usize; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (cell, w) in row.iter().zip(widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            out.push_str(GAP);
        }
        out.push_str(&row[3]);
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{HOUR, MILLISECOND, SECOND};

    fn event(time: u64, object: &str, reason: &str, message: &str) -> TraceEvent {
        TraceEvent {
            time,
            time_s: time as f64 / SECOND as f64,
            object: object.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn aligned_like_kubectl() {
        let events = [
            event(0, "Deployment/myapp", "ScalingReplicaSet", "Scaled up replica set myapp-6d4b to 1"),
            event(12 * SECOND + 900 * MILLISECOND, "Pod/myapp-6d4b-x7k2p", "Ready", "Pod is Ready"),
            event(HOUR + 61 * SECOND, "Simulation", "Detected", "burn rate 14.4× over 5m\nand 1h"),
        ];
        let text = format_trace_text(&events);
        let expected = "\
TIME      OBJECT                 REASON              MESSAGE
00:00     Deployment/myapp       ScalingReplicaSet   Scaled up replica set myapp-6d4b to 1
00:12     Pod/myapp-6d4b-x7k2p   Ready               Pod is Ready
1:01:01   Simulation             Detected            burn rate 14.4× over 5m and 1h
";
        assert_eq!(text, expected);
    }

    #[test]
    fn empty_log_is_just_the_header() {
        assert_eq!(format_trace_text(&[]), "TIME   OBJECT   REASON   MESSAGE\n");
    }

    #[test]
    fn empty_message_leaves_no_trailing_spaces() {
        let text = format_trace_text(&[event(5 * SECOND, "Simulation", "Started", "")]);
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
        assert_eq!(text.lines().nth(1), Some("00:05   Simulation   Started"));
    }
}
