//! `vigil embed`: every face's template, as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::context::{engine, exit, face_json, load_image, print_line};
use crate::Global;

#[derive(Args)]
pub struct EmbedArgs {
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn embed(g: &Global, a: &EmbedArgs) -> Result<ExitCode> {
    let engine = engine(g, true)?;
    let mut failures = 0;
    for path in &a.images {
        match load_image(g, path).and_then(|img| Ok(engine.analyse(&img)?)) {
            Ok(faces) if faces.is_empty() => {
                failures += 1;
                eprintln!("error: {}: no face found", path.display());
                print_line(&json!({"file": path, "error": "no face found", "faces": []}))?;
            }
            Ok(faces) => print_line(&json!({
                "file": path,
                "faces": faces.iter().map(|f| face_json(f, true)).collect::<Vec<_>>(),
            }))?,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
                print_line(&json!({"file": path, "error": format!("{e:#}")}))?;
            }
        }
    }
    Ok(exit(failures))
}
