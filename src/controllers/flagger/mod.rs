//! Flagger (`flagger.app/v1beta1 Canary`): the canary analysis loop as a pure state machine.
//!
//! - [`spec`]: the Canary fields the loop reads, with Flagger's defaults.
//! - [`weights`]: `nextStepWeight`, the canary weight increase and the promotion shift.
//! - [`ready`]: `IsCanaryReady`/`IsPrimaryReady` over a Deployment's status.
//! - [`advance`]: one tick of `advanceCanary` ([`FlaggerCanary::tick`]).
//!
//! The world owns the Deployments, the route and the metrics: it calls `tick` every
//! analysis interval with what it observes and applies the returned actions. Randomness
//! and time stay outside: a tick is a function of the state and its input.

pub mod advance;
pub mod ready;
pub mod spec;
pub mod weights;

pub use advance::{
    Action, Event, FlaggerCanary, Phase, RollbackCause, Status, TickInput, TickOutput, Verdict,
};
pub use ready::{Readiness, WorkloadStatus, primary_readiness, scale_from_zero_replicas, workload_readiness};
pub use spec::{CanaryAnalysis, CanarySpec, Provider, Strategy};
pub use weights::Routes;

#[cfg(test)]
mod tests;
