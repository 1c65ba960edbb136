//! `vigil models fetch` and `vigil models list`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::json;
use vigil_vision::cache::Cache;
use vigil_vision::{catalogue, fetch, Pack};

use crate::context::{cache, print_line};
use crate::Global;

pub fn models_fetch(g: &Global) -> Result<ExitCode> {
    let c = cache(g);
    let packs = fetch::fetch_all(&c)?;
    for recipe in catalogue::PACKS {
        install_shipped_calibration(&c, recipe.id)?;
    }
    eprintln!(
        "{} packs ready in {}; ONNX Runtime at {}",
        packs.len(),
        c.models().display(),
        c.ort_library().display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn models_list(g: &Global) -> Result<ExitCode> {
    let c = cache(g);
    let packs = Pack::list(&c.models())?;
    if packs.is_empty() {
        bail!(
            "no model packs in {}; run `vigil models fetch`",
            c.models().display()
        );
    }
    for p in packs {
        let m = &p.manifest;
        let verified = p.verified_model_bytes().is_ok();
        print_line(&json!({
            "id": m.id,
            "kind": m.kind,
            "default": m.id == vigil_vision::DEFAULT_DETECTOR || m.id == vigil_vision::DEFAULT_RECOGNISER,
            "description": m.description,
            "licence": m.licence,
            "provenance": m.provenance,
            "model_sha256": m.model_sha256,
            "sha256_verified": verified,
            "input": format!("{}x{} {:?} {:?}", m.input.width, m.input.height, m.input.colour, m.input.layout),
            "dimension": m.dimension,
            "reference_threshold": m.reference_threshold,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Marks a calibration as the one shipped with the project (in its `source`).
pub const SHIPPED: &str = "Shipped with Vigil";

/// Puts the pack's shipped calibration in place, unless a force has
/// installed its own (`vigil eval --install`), which is kept. A file that no
/// longer parses (an older format) is replaced.
fn install_shipped_calibration(cache: &Cache, pack: &str) -> Result<()> {
    let Some(text) = crate::eval::shipped_calibration(pack) else {
        return Ok(());
    };
    let dest = cache.calibration(pack);
    if let Ok(existing) = vigil_eval::Calibration::load(&dest) {
        if !existing.source.contains(SHIPPED) {
            eprintln!(
                "calibration for {pack}: keeping the one installed by `vigil eval --install` ({})",
                dest.display()
            );
            return Ok(());
        }
    }
    vigil_eval::Calibration::parse(text).context("the shipped calibration")?;
    Ok(fetch::write_atomic(&dest, text.as_bytes())?)
}
