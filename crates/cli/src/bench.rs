//! `vigil bench`: how fast the vision stage runs on this machine.
//!
//! Speed is measured here and reported, never asserted in tests: a timing
//! assertion fails on a busy CI runner and proves nothing on a fast one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use serde_json::json;
use vigil_vision::tensor;

use crate::commands;
use crate::Global;

#[derive(clap::Subcommand)]
pub enum BenchKind {
    /// The live pipeline on 1, 2 and 4 simultaneous synthetic camera streams.
    Live(crate::live::BenchLiveArgs),
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    kind: Option<BenchKind>,
    /// Photo to time on (default: a sample portrait from the cache).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Timed runs per measurement.
    #[arg(long, default_value_t = 30)]
    iterations: usize,
    /// Faces per batch for the batched embedding measurement.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

struct Stats {
    median_ms: f64,
    p95_ms: f64,
}

fn time<F: FnMut() -> Result<()>>(iterations: usize, mut f: F) -> Result<Stats> {
    for _ in 0..3 {
        f()?;
    }
    let mut ms = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok(Stats {
        median_ms: pick(0.5),
        p95_ms: pick(0.95),
    })
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Scales and pads the photo to an exact frame size, as a camera would deliver.
fn frame(img: &RgbImage, w: u32, h: u32) -> Result<RgbImage> {
    let (canvas, _) = tensor::letterbox(img, w, h)?;
    Ok(canvas)
}

pub fn run(g: &Global, a: &BenchArgs) -> Result<ExitCode> {
    if let Some(BenchKind::Live(l)) = &a.kind {
        return crate::live::bench(g, l);
    }
    let path = a
        .image
        .clone()
        .unwrap_or_else(|| commands::cache(g).samples().join("obama_1.jpg"));
    let photo =
        vigil_vision::image_io::decode_file(&path, Default::default()).with_context(|| {
            format!(
                "{} (run `vigil models fetch` for the samples)",
                path.display()
            )
        })?;
    let engine = commands::engine(g, true)?;
    let det = engine.detector();
    let rec = engine.recogniser().context("no recogniser")?;
    let threads = commands::runtime(g).intra_threads;

    let mut rows = Vec::new();
    for (w, h) in [(640, 480), (1920, 1080)] {
        let f = frame(&photo, w, h)?;
        let s = time(a.iterations, || {
            det.detect(&f).map(|_| ()).map_err(Into::into)
        })?;
        rows.push((
            format!("detect {w}x{h} ({})", det.id()),
            "ms/frame",
            s.median_ms,
            s.p95_ms,
        ));
    }
    let faces = det.detect(&photo)?;
    let face = faces.first().context("no face in the benchmark photo")?;
    let crop = rec.aligned_crop(&photo, face)?;
    let one = time(a.iterations, || {
        rec.embed_crops(std::slice::from_ref(&crop))
            .map(|_| ())
            .map_err(Into::into)
    })?;
    rows.push((
        format!("embed batch 1 ({})", rec.id()),
        "ms/face",
        one.median_ms,
        one.p95_ms,
    ));
    let crops = vec![crop.clone(); a.batch.max(1)];
    let batched = time(a.iterations, || {
        rec.embed_crops(&crops).map(|_| ()).map_err(Into::into)
    })?;
    let per = a.batch.max(1) as f64;
    rows.push((
        format!("embed batch {} ({})", a.batch, rec.id()),
        "ms/face",
        batched.median_ms / per,
        batched.p95_ms / per,
    ));
    let f1080 = frame(&photo, 1920, 1080)?;
    let full = time(a.iterations, || {
        engine.analyse(&f1080).map(|_| ()).map_err(Into::into)
    })?;
    rows.push((
        "analyse 1920x1080, 1 face (detect+quality+embed)".into(),
        "ms/frame",
        full.median_ms,
        full.p95_ms,
    ));

    let peak = peak_rss_mib();
    let faces_per_s_1 = 1e3 / one.median_ms;
    let faces_per_s_b = 1e3 / (batched.median_ms / per);
    if a.json {
        println!(
            "{}",
            json!({
                "provider": det.provider().to_string(),
                "threads": threads,
                "results": rows.iter().map(|(n, u, m, p)| json!({"name": n, "unit": u, "median": m, "p95": p})).collect::<Vec<_>>(),
                "faces_per_second_batch1": faces_per_s_1,
                "faces_per_second_batched": faces_per_s_b,
                "peak_rss_mib": peak,
            })
        );
    } else {
        println!(
            "provider {} · {} threads · {} timed runs each",
            det.provider(),
            threads,
            a.iterations
        );
        println!("{:<58} {:>10} {:>10}", "measurement", "median", "p95");
        for (n, u, m, p) in &rows {
            println!("{:<58} {:>7.2} {u:<2} {:>7.2}", n, m, p);
        }
        println!(
            "faces/s embedding: {faces_per_s_1:.0} (batch 1), {faces_per_s_b:.0} (batch {})",
            a.batch
        );
        if let Some(p) = peak {
            println!("peak memory: {p:.0} MiB");
        }
    }
    Ok(ExitCode::SUCCESS)
}
