//! Output: the files a run writes (`runs.csv`, `timeline.csv`, `summary.json`, traces), the
//! summary table `rollsim run` prints, alone or several scenarios side by side, and what
//! `rollsim sweep` writes (`sweep.csv`, its table).
//!
//! Layer `report`: uses `experiment`, `scenario` and `engine`; never `cli`. Every file is
//! written through [`write_atomically`], so an interrupted run leaves either the previous
//! file or the complete new one, never half of one.

pub mod atomic;
pub mod check;
pub mod compare;
pub mod csv_guard;
pub mod explain;
pub mod html;
pub mod openmetrics;
pub mod outdir;
pub mod output;
pub mod paired;
pub mod plot;
pub mod rundir;
pub mod sweep;
pub mod sweepdir;
pub mod table;
pub mod trace;

pub use atomic::write_atomically;
pub use compare::{
    COMPARE_CSV_HEADER, compare_csv_string, compare_json_string, distinct_labels, render_compare_table,
};
pub use explain::explain_trace;
pub use output::{
    RUNS_HEADER, TIMELINE_HEADER, TRACE_HEADER, summary_csv_string, summary_json_string, write_runs_csv,
    write_summary_csv, write_summary_json, write_timeline_csv, write_trace_csv,
};
pub use sweep::{
    SweepPoint, render_sweep_table, sweep_csv_string, sweep_json_string, write_sweep_csv,
    write_sweep_csv_file,
};
pub use table::render_summary_table;
pub use trace::format_trace_text;
