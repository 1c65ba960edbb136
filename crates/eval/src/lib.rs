//! The `eval` stage: what a Threshold means in error rates.
//!
//! Everything here works on similarity scores (higher = more alike) and is
//! free of I/O and models, so the maths can be tested on synthetic score
//! distributions with known answers; `vigil eval` feeds it real faces.
//!
//! Vocabulary follows ISO/IEC 19795-1 and NIST FRVT: a *mated* pair shows
//! one person twice, a *non-mated* pair two people. FMR/FNMR are per
//! comparison (verification); FPIR/FNIR are per search against a gallery
//! of N (identification, which is what Live Facial Recognition does).

pub mod calibration;
pub mod fairness;
pub mod ident;
pub mod pairs;
pub mod scores;
pub mod tail;

pub use calibration::Calibration;
pub use scores::Scores;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no {0} scores: the labelled set needs at least two identities and one identity with two usable images")]
    Empty(&'static str),
    #[error("calibration file: {0}")]
    Calibration(String),
    #[error("target rate must lie in (0, 1), got {0}")]
    BadRate(f64),
}
