//! `vigil search`: the faces of an image against a Watchlist gallery file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use vigil_gallery::Gallery;
use vigil_vision::Face;

use crate::context::{engine, load_image, print_line, template};
use crate::Global;

#[derive(Args)]
pub struct SearchArgs {
    #[arg(long)]
    gallery: PathBuf,
    /// Probe image; every usable face in it is searched.
    image: PathBuf,
    /// Candidates per face.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn search(g: &Global, a: &SearchArgs) -> Result<ExitCode> {
    let gallery = Gallery::load(&a.gallery)?;
    if gallery.entries.is_empty() {
        bail!("gallery {} is empty or missing", a.gallery.display());
    }
    let engine = engine(g, true)?;
    let img = load_image(g, &a.image)?;
    let faces = engine.analyse(&img)?;
    let usable: Vec<&Face> = faces.iter().filter(|f| f.verdict.passed).collect();
    if usable.is_empty() {
        bail!(
            "{}: {} face(s) found, none usable for search",
            a.image.display(),
            faces.len()
        );
    }
    let mut results = Vec::new();
    for f in usable {
        let candidates = gallery.search(template(f)?, a.top)?;
        results
            .push(json!({"box": f.detection.bbox, "quality": f.quality, "candidates": candidates}));
    }
    print_line(&json!({
        "probe": a.image,
        "pack": gallery.pack,
        "note": "candidates are investigative leads for human review, not identifications",
        "faces": results,
    }))?;
    Ok(ExitCode::SUCCESS)
}
