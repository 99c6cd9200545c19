//! Telemetry: what the service's own signals say, as a Prometheus would see them. Pods
//! export counters and histograms ([`scrape`]); Prometheus scrapes them into a [`promql::Store`],
//! evaluates PromQL ([`promql`], with [`rate`]'s extrapolation) and its rule groups
//! ([`rules`], with [`alert`]'s state machine and Alertmanager timing).

pub mod alert;
pub mod detection_stats;
pub mod promql;
pub mod rate;
pub mod relabel;
pub mod rules;
pub mod scrape;
pub mod slo_rules;
pub mod spec;
pub mod targets;
pub use spec::*;
