//! traffic (in progress)
