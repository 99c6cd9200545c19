//! traffic (in progress)

pub mod spec;
pub use spec::*;
