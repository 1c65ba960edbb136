//! Vigil's domain: the types and rules every other stage shares.
//!
//! This crate does no I/O, so every rule in it can be tested exhaustively and
//! reused by the CLI, the server and the live pipeline without drift.

pub mod template;

pub use template::{Template, TemplateError};
