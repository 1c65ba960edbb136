//! `vigil models fetch` and `vigil models list`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use vigil_vision::Pack;

use crate::context::{cache, print_line};
use crate::fetch;
use crate::Global;

pub fn models_fetch(g: &Global) -> Result<ExitCode> {
    let c = cache(g);
    let packs = fetch::fetch_all(&c)?;
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
