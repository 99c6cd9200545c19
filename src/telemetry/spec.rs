//! What the built-in detector is told: the SLO and the burn-rate rule.

use crate::engine::SimTime;

#[derive(Clone, Copy, Debug)]
pub struct Slo {
    /// As a ratio: 99.9% → 0.999.
    pub objective: f64,
    pub window: SimTime,
}

/// The built-in detector (until the monitoring issue replaces it): the SRE Workbook's
/// multiwindow burn-rate page. Detection when the error ratio over `long_window` AND over
/// `short_window` both exceed `burn_rate × (1 − objective)`, evaluated every
/// `evaluation_interval`; also when the Deployment reports ProgressDeadlineExceeded.
#[derive(Clone, Copy, Debug)]
pub struct Detection {
    pub burn_rate: f64,
    pub long_window: SimTime,
    pub short_window: SimTime,
    pub evaluation_interval: SimTime,
    /// Whether ProgressDeadlineExceeded counts as a detection (default true).
    pub on_progress_deadline: bool,
}
