//! What every command builds, in one place: the model cache, ONNX Runtime's
//! options, face engines, decoding limits, the async runtime, and the
//! JSON lines commands print.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use serde_json::json;
use vigil_vision::{image_io, DecodeLimits, EngineConfig, Face, FaceEngine, RuntimeOptions};

use crate::Global;
use vigil_vision::cache::Cache;

/// The async runtime a command's store and server run on (two workers:
/// the store and the HTTP server wait more than they compute; inference
/// runs on its own threads).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn cache(g: &Global) -> Cache {
    g.cache.clone().map_or_else(Cache::default, Cache::at)
}

/// ONNX Runtime: the library in the cache, the provider and threads asked for.
pub fn onnx_runtime(g: &Global) -> RuntimeOptions {
    RuntimeOptions {
        library: cache(g).ort_library(),
        provider: g.provider,
        intra_threads: g
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

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
        runtime: onnx_runtime(g),
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

pub(crate) fn load_image(g: &Global, path: &Path) -> Result<RgbImage> {
    image_io::decode_file(path, limits(g)).with_context(|| format!("{}", path.display()))
}

pub(crate) fn exit(failures: usize) -> ExitCode {
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

/// The main (largest usable) face of an image, or an error saying why none.
pub(crate) fn main_face(g: &Global, engine: &FaceEngine, path: &Path) -> Result<Face> {
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

pub(crate) fn template(f: &Face) -> Result<&vigil_core::Template> {
    f.template
        .as_ref()
        .context("no template (recogniser not loaded)")
}

pub(crate) fn face_json(f: &Face, with_template: bool) -> serde_json::Value {
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

/// Peak resident memory of this process (`getrusage`; Linux counts it in
/// KiB).
pub fn peak_rss_mib() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointer it is given,
    // which points at space for exactly one.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    // SAFETY: zeroed is a valid rusage, and getrusage filled it on success.
    let usage = unsafe { usage.assume_init() };
    ok.then(|| usage.ru_maxrss as f64 / 1024.0)
}
