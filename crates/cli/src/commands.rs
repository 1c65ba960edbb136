//! The recognition commands: thin wrappers that read files, call the
//! `vision` and `gallery` stages and print JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::{Rgb, RgbImage};
use serde_json::json;
use vigil_gallery::Gallery;
use vigil_vision::{image_io, DecodeLimits, EngineConfig, Face, FaceEngine, Pack, RuntimeOptions};

use crate::fetch::{self, Cache};
use crate::Global;

pub fn cache(g: &Global) -> Cache {
    Cache {
        root: g
            .cache
            .clone()
            .unwrap_or_else(vigil_vision::engine::default_cache_dir),
    }
}

pub fn runtime(g: &Global) -> RuntimeOptions {
    RuntimeOptions {
        library: cache(g).ort_library(),
        provider: g.provider,
        intra_threads: g
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The engine the global options describe; `with_recogniser` false skips
/// the recogniser.
/// Runs `work(engine, i)` for every `i` in `0..n` on `jobs` threads, each
/// with its own single-threaded engine (ONNX Runtime serialises runs on one
/// session, so parallel work needs a session per thread). The first error
/// stops nothing already running but is returned.
pub fn with_engines<F>(g: &Global, jobs: usize, n: usize, work: F) -> Result<()>
where
    F: Fn(&FaceEngine, usize) -> Result<()> + Sync,
{
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    let mut cfg = engine_config(g, true);
                    cfg.runtime.intra_threads = 1;
                    let engine = FaceEngine::load(&cfg)?;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        work(&engine, i)?;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??;
        }
        Ok(())
    })
}

pub fn engine_config(g: &Global, with_recogniser: bool) -> EngineConfig {
    EngineConfig {
        models_dir: cache(g).models(),
        detector: g.detector.clone(),
        recogniser: with_recogniser.then(|| g.recogniser.clone()),
        runtime: runtime(g),
        gate: g.gate(),
    }
}

/// Loads the engine; `with_recogniser` false skips the recogniser.
pub fn engine(g: &Global, with_recogniser: bool) -> Result<FaceEngine> {
    FaceEngine::load(&engine_config(g, with_recogniser)).context("loading the face engine")
}

pub(crate) fn limits(g: &Global) -> DecodeLimits {
    DecodeLimits {
        max_pixels: g.max_pixels,
    }
}

fn load_image(g: &Global, path: &Path) -> Result<RgbImage> {
    image_io::decode_file(path, limits(g)).with_context(|| format!("{}", path.display()))
}

fn exit(failures: usize) -> ExitCode {
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(crate) fn print_line(value: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

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

#[derive(Args)]
pub struct DetectArgs {
    /// Images to search for faces.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Draw boxes and landmarks of the (single) image into this PNG.
    #[arg(long)]
    draw: Option<PathBuf>,
}

fn face_json(f: &Face, with_template: bool) -> serde_json::Value {
    let mut v = json!({
        "box": f.detection.bbox,
        "score": f.detection.score,
        "landmarks": f.detection.landmarks,
        "quality": f.quality,
        "usable": f.verdict.passed,
        "quality_issues": f.verdict.reasons,
    });
    if let (true, Some(t)) = (with_template, &f.template) {
        v["pack"] = json!(t.pack);
        v["template"] = json!(t.vector);
    }
    v
}

pub fn detect(g: &Global, a: &DetectArgs) -> Result<ExitCode> {
    if a.draw.is_some() && a.images.len() != 1 {
        bail!("--draw takes exactly one image");
    }
    let engine = engine(g, false)?;
    let mut failures = 0;
    for path in &a.images {
        let result = load_image(g, path).and_then(|img| {
            let faces = engine.analyse(&img)?;
            if let Some(out) = &a.draw {
                draw(&img, &faces)
                    .save(out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            Ok((img.dimensions(), faces))
        });
        match result {
            Ok(((w, h), faces)) => print_line(&json!({
                "file": path,
                "width": w,
                "height": h,
                "detector": engine.detector().id(),
                "faces": faces.iter().map(|f| face_json(f, false)).collect::<Vec<_>>(),
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

/// Draws boxes (green usable, amber not) and landmarks.
fn draw(img: &RgbImage, faces: &[Face]) -> RgbImage {
    use imageproc::drawing::{draw_filled_circle_mut, draw_hollow_rect_mut};
    use imageproc::rect::Rect;
    let mut out = img.clone();
    let thick = (img.width().max(img.height()) / 400).max(1) as i32;
    for f in faces {
        let [x1, y1, x2, y2] = f.detection.bbox;
        let colour = if f.verdict.passed {
            Rgb([0, 220, 0])
        } else {
            Rgb([255, 176, 0])
        };
        for t in 0..thick {
            let w = (x2 - x1) as u32 + 2 * t as u32;
            let h = (y2 - y1) as u32 + 2 * t as u32;
            if w > 0 && h > 0 {
                draw_hollow_rect_mut(
                    &mut out,
                    Rect::at(x1 as i32 - t, y1 as i32 - t).of_size(w, h),
                    colour,
                );
            }
        }
        for (i, p) in f.detection.landmarks.iter().enumerate() {
            let c = [
                Rgb([255, 0, 0]),
                Rgb([0, 0, 255]),
                Rgb([255, 255, 0]),
                Rgb([255, 0, 255]),
                Rgb([0, 255, 255]),
            ][i];
            draw_filled_circle_mut(&mut out, (p[0] as i32, p[1] as i32), thick + 1, c);
        }
    }
    out
}

#[derive(Args)]
pub struct CompareArgs {
    a: PathBuf,
    b: PathBuf,
}

/// The main (largest usable) face of an image, or an error saying why none.
fn main_face(g: &Global, engine: &FaceEngine, path: &Path) -> Result<Face> {
    let img = load_image(g, path)?;
    let faces = engine
        .analyse(&img)
        .with_context(|| format!("{}", path.display()))?;
    if faces.is_empty() {
        bail!("{}: no face found", path.display());
    }
    match FaceEngine::best_face(&faces) {
        Some(f) => Ok(f.clone()),
        None => bail!(
            "{}: {} face(s) found, none usable: {}",
            path.display(),
            faces.len(),
            faces[0].verdict.reasons.join("; ")
        ),
    }
}

fn template(f: &Face) -> Result<&vigil_core::Template> {
    f.template
        .as_ref()
        .context("no template (recogniser not loaded)")
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

#[derive(Args)]
pub struct EnrolArgs {
    /// Gallery file (created if missing).
    #[arg(long, required_unless_present = "bulk")]
    gallery: Option<PathBuf>,
    /// Bulk enrolment into the reference store (RFR/OIFR): every image
    /// under DIR/<subject reference>/; resumable.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["gallery", "name", "images"])]
    pub bulk: Option<PathBuf>,
    /// Parallel workers for --bulk.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Subject reference.
    #[arg(required_unless_present = "bulk")]
    name: Option<String>,
    /// Images of the subject; the largest usable face of each is enrolled.
    #[arg(required_unless_present = "bulk")]
    images: Vec<PathBuf>,
}

pub fn enrol(g: &Global, a: &EnrolArgs) -> Result<ExitCode> {
    let engine = engine(g, true)?;
    let (Some(gallery_path), Some(name)) = (&a.gallery, &a.name) else {
        anyhow::bail!("a gallery file and a subject reference are needed");
    };
    let mut gallery = Gallery::load(gallery_path)?;
    let mut failures = 0;
    let mut enrolled = 0;
    for path in &a.images {
        let result = main_face(g, &engine, path).and_then(|f| {
            let source = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            Ok(gallery.enrol(name, &source, template(&f)?)?)
        });
        match result {
            Ok(()) => enrolled += 1,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if enrolled > 0 {
        gallery.save(gallery_path)?;
    }
    print_line(&json!({
        "gallery": gallery_path,
        "subject": name,
        "enrolled": enrolled,
        "failed": failures,
        "gallery_subjects": gallery.subjects(),
        "gallery_templates": gallery.entries.len(),
    }))?;
    Ok(exit(failures))
}

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
