//! The simulation core: integer simulated time, the event queue and the seeded RNG streams.
//!
//! Knows nothing of Kubernetes, requests or YAML. Everything above it schedules typed events
//! into an [`EventQueue`] and draws randomness from a [`SimRng`] stream.

pub mod dist;
pub mod queue;
pub mod rng;
pub mod time;

pub use dist::DurationDist;
pub use queue::EventQueue;
pub use rng::{SimRng, Stream};
pub use time::{HOUR, MILLISECOND, MINUTE, SECOND, SimTime, format_clock, from_secs_f64, to_secs_f64};
