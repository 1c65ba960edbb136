//! `vigil compare`: the similarity of the main faces of two images.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::context::{engine, main_face, print_line, template};
use crate::Global;

#[derive(Args)]
pub struct CompareArgs {
    a: PathBuf,
    b: PathBuf,
}

pub fn compare(g: &Global, a: &CompareArgs) -> Result<ExitCode> {
    let engine = engine(g, true)?;
    let fa = main_face(g, &engine, &a.a)?;
    let fb = main_face(g, &engine, &a.b)?;
    let score = template(&fa)?.similarity(template(&fb)?)?;
    let manifest = engine.recogniser().map(|r| r.manifest().clone());
    let reference = manifest.and_then(|m| m.reference_threshold);
    print_line(&json!({
        "a": a.a, "b": a.b,
        "pack": engine.recogniser().map(|r| r.id()),
        "score": score,
        "reference_threshold": reference,
        "above_reference_threshold": reference.map(|t| score >= t),
    }))?;
    Ok(ExitCode::SUCCESS)
}
