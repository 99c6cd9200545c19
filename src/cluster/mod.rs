//! cluster (in progress)
