//! Vigil's domain: the types and rules every other stage shares.
//!
//! This crate does no I/O and reads no clock (callers pass `now`), so every
//! rule in it can be tested exhaustively and reused by the CLI, the server
//! and the live pipeline without drift.

pub mod access;
pub mod accounts;
pub mod alert;
pub mod camera;
pub mod deployment;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod metrics;
pub mod opportunity;
pub mod quality;
pub mod retention;
pub mod search;
pub mod template;
pub mod watchlist;
pub mod workflow;

pub use template::{Template, TemplateError};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;
