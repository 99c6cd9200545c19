//! A statistical canary judge in the manner of Netflix/Spinnaker Kayenta's
//! `NetflixACAJudge-v1.0`: pure functions from a canary's and a baseline's metric samples to
//! a score and a verdict.

pub mod classify;
pub mod mann_whitney;
pub mod preprocess;
pub mod score;

#[cfg(test)]
#[rustfmt::skip]
mod vectors;
