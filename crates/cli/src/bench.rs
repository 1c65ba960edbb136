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

use crate::context;
use crate::Global;

#[derive(clap::Subcommand)]
pub enum BenchKind {
    /// The live pipeline on 1, 2 and 4 simultaneous synthetic camera streams.
    Live(crate::bench_live::BenchLiveArgs),
    /// Search latency and recall of the large-gallery index (RFR/OIFR).
    Gallery(GalleryBenchArgs),
    /// OIFR end to end: photo bytes in, recorded candidates out, against a
    /// reference store of synthetic templates with the real face planted.
    Oifr(crate::bench_oifr::OifrBenchArgs),
}

#[derive(Args)]
pub struct GalleryBenchArgs {
    /// Gallery sizes (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [100_000usize, 1_000_000])]
    sizes: Vec<usize>,
    /// Searches per size (each with its own planted mate).
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Candidates returned.
    #[arg(long, default_value_t = 50)]
    k: usize,
    /// Candidates the int8 scan keeps for exact re-scoring.
    #[arg(long, default_value_t = 200)]
    rerank: usize,
    /// Rows the binary codes keep for the int8 pass (default: the index's
    /// own choice for the store's size).
    #[arg(long)]
    shortlist: Option<usize>,
    /// Template dimension (128 for SFace).
    #[arg(long, default_value_t = 128)]
    dim: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also time the int8 scan on the GPU (CUDA), when one is present.
    #[arg(long)]
    gpu: bool,
    /// Also load each gallery into PostgreSQL + pgvector at this URL, build
    /// its HNSW index and measure it against the exact search here.
    #[arg(long, value_name = "URL")]
    pgvector: Option<String>,
    /// Make the store from real faces: a template cache written by `vigil
    /// eval` (e.g. on lfw-dev and UTKFace). Each query is a real photo of a
    /// person with two or more, its planted mate another real photo of the
    /// same person; every other row mixes two real templates of other people
    /// with noise, so the store keeps the shape real templates have (they
    /// crowd into a cone, unlike random ones). Holds biometric templates:
    /// keep it with the evaluation sets.
    #[arg(long, value_name = "FILE")]
    real_templates: Option<PathBuf>,
}

/// The flip-averaged template of each image in a `vigil eval` template
/// cache, with who it shows: the folder for `DIR/<identity>/<identity>_NNNN`
/// (LFW's layout), otherwise the file itself (one image per person).
fn real_templates(path: &std::path::Path, dim: usize) -> Result<Vec<(String, Vec<f32>)>> {
    let stored = crate::eval::StoredTemplates::load(path)?;
    let mut out = Vec::new();
    for (key, faces) in stored.images {
        let Some((_, _, flip, _)) = faces.ok().and_then(|f| f.into_iter().next()) else {
            continue;
        };
        anyhow::ensure!(
            flip.len() == dim,
            "{}: templates of {} dimensions, not {dim}",
            path.display(),
            flip.len()
        );
        let file = std::path::Path::new(key.rsplit_once('|').map_or(key.as_str(), |(p, _)| p));
        let name =
            |p: Option<&std::ffi::OsStr>| p.and_then(|s| s.to_str()).unwrap_or("").to_string();
        let (folder, file_name) = (
            name(file.parent().and_then(|p| p.file_name())),
            name(file.file_name()),
        );
        let who = if !folder.is_empty() && file_name.starts_with(&folder) {
            folder
        } else {
            file_name
        };
        out.push((who, flip));
    }
    Ok(out)
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.into_iter().map(|x| x / n).collect()
}

/// What a gallery bench searches for and what fills its store.
struct Workload {
    queries: Vec<Vec<f32>>,
    /// One planted mate per query.
    mates: Vec<Vec<f32>>,
    /// Real templates of people not queried (empty: random fillers).
    bases: Vec<Vec<f32>>,
}

impl Workload {
    fn new(a: &GalleryBenchArgs, rng: &mut rand::rngs::StdRng) -> Result<Self> {
        use rand::seq::SliceRandom;
        let Some(path) = &a.real_templates else {
            let queries: Vec<Vec<f32>> = (0..a.queries).map(|_| random_unit(rng, a.dim)).collect();
            // A mate at cosine 0.6, about SFace's weakest real mated score.
            let mates = queries
                .iter()
                .map(|q| {
                    let z = random_unit(rng, a.dim);
                    normalised(q.iter().zip(&z).map(|(p, z)| 0.6 * p + 0.8 * z).collect())
                })
                .collect();
            return Ok(Self {
                queries,
                mates,
                bases: Vec::new(),
            });
        };
        let mut by_person: std::collections::BTreeMap<String, Vec<Vec<f32>>> = Default::default();
        for (who, t) in real_templates(path, a.dim)? {
            by_person.entry(who).or_default().push(t);
        }
        let mut people: Vec<(String, Vec<Vec<f32>>)> = by_person.into_iter().collect();
        people.shuffle(rng);
        let (mut queries, mut mates, mut bases) = (Vec::new(), Vec::new(), Vec::new());
        for (_, mut photos) in people {
            if queries.len() < a.queries && photos.len() >= 2 {
                mates.push(photos.swap_remove(1));
                queries.push(photos.swap_remove(0));
            } else {
                bases.extend(photos);
            }
        }
        anyhow::ensure!(
            queries.len() == a.queries && bases.len() >= 2,
            "{}: not enough people with two photos for {} queries",
            path.display(),
            a.queries
        );
        Ok(Self {
            queries,
            mates,
            bases,
        })
    }

    /// A row that is no query's mate.
    fn filler(&self, rng: &mut rand::rngs::StdRng, dim: usize) -> Vec<f32> {
        use rand::Rng;
        if self.bases.is_empty() {
            return random_unit(rng, dim);
        }
        let a = &self.bases[rng.gen_range(0..self.bases.len())];
        let b = &self.bases[rng.gen_range(0..self.bases.len())];
        let z = random_unit(rng, dim);
        normalised(
            a.iter()
                .zip(b)
                .zip(&z)
                .map(|((a, b), z)| a + 0.7 * b + 0.9 * z)
                .collect(),
        )
    }
}

/// The GPU scan on the same gallery: upload time, latency, and agreement
/// with exact search.
fn gpu_row(
    idx: &vigil_gallery::index::FlatIndex,
    queries: &[Vec<f32>],
    exact: &[Vec<vigil_gallery::index::Hit>],
    a: &GalleryBenchArgs,
) -> Result<serde_json::Value> {
    let t = Instant::now();
    let mut gpu = vigil_gallery::gpu::GpuScan::new(idx)?;
    let upload_s = t.elapsed().as_secs_f64();
    let mut ms = Vec::new();
    let (mut found, mut mate_first) = (0usize, 0usize);
    for (qi, (q, e)) in queries.iter().zip(exact).enumerate() {
        let t = Instant::now();
        let hits = gpu.search(idx, q, a.k, a.rerank)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        found += hits
            .iter()
            .filter(|h| e.iter().any(|x| x.id == h.id))
            .count();
        mate_first += usize::from(hits.first().is_some_and(|h| h.id == u64::MAX - qi as u64));
    }
    ms.sort_by(f64::total_cmp);
    let pick = |p: f64| vigil_core::metrics::percentile(&ms, p).unwrap_or(f64::NAN);
    Ok(json!({
        "device": gpu.device(),
        "upload_s": upload_s,
        "int8_rerank_ms": {"p50": pick(0.5), "p99": pick(0.99)},
        "recall_at_k": found as f64 / (a.k * queries.len()) as f64,
        "planted_mate_rank1": mate_first as f64 / queries.len() as f64,
    }))
}

/// pgvector on the same gallery: load rate, HNSW build time, search
/// latency, recall@k against `exact` and the planted mates at rank 1.
fn pgvector_row(
    url: &str,
    idx: &vigil_gallery::index::FlatIndex,
    queries: &[Vec<f32>],
    exact: &[Vec<vigil_gallery::index::Hit>],
    a: &GalleryBenchArgs,
) -> Result<serde_json::Value> {
    use vigil_search::pgvector::PgVectorIndex;
    let rt = crate::context::runtime()?;
    rt.block_on(async {
        let pack = format!("bench_{}", rand::random::<u32>());
        let pg = PgVectorIndex::connect(url, &pack, a.dim).await?;
        let t = Instant::now();
        let mut batch = Vec::with_capacity(10_000);
        for r in 0..idx.len() {
            let (id, v) = idx.row(r).context("row")?;
            batch.push((id.to_string(), id.to_string(), v.to_vec()));
            if batch.len() == 10_000 || r + 1 == idx.len() {
                pg.add_batch(&batch).await?;
                batch.clear();
            }
        }
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        pg.build_hnsw(16, 64).await?;
        let build_s = t.elapsed().as_secs_f64();
        let mut ms = Vec::new();
        let (mut found, mut mate_first) = (0usize, 0usize);
        for (qi, (q, e)) in queries.iter().zip(exact).enumerate() {
            let t = Instant::now();
            let hits = vigil_search::best_subjects(&pg, q, a.k).await?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            found += hits
                .iter()
                .filter(|h| e.iter().any(|x| x.id.to_string() == h.image_id))
                .count();
            mate_first += usize::from(
                hits.first()
                    .is_some_and(|h| h.image_id == (u64::MAX - qi as u64).to_string()),
            );
        }
        pg.drop_table().await?;
        ms.sort_by(f64::total_cmp);
        let pick = |p: f64| vigil_core::metrics::percentile(&ms, p).unwrap_or(f64::NAN);
        anyhow::Ok(json!({
            "load_per_s": idx.len() as f64 / load_s,
            "hnsw_build_s": build_s,
            "hnsw": {"m": 16, "ef_construction": 64, "ef_search": (8 * a.k).clamp(40, 1000)},
            "search_ms": {"p50": pick(0.5), "p99": pick(0.99)},
            "recall_at_k": found as f64 / (a.k * queries.len()) as f64,
            "planted_mate_rank1": mate_first as f64 / queries.len() as f64,
        }))
    })
}

fn random_unit(rng: &mut impl rand::Rng, d: usize) -> Vec<f32> {
    normalised((0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
}

/// Synthetic, seeded galleries with one planted mate (cosine 0.6, about
/// SFace's weakest real mated score) per query: latency of exact and int8
/// search, recall@k of int8 against exact, and whether the mate ranks first.
fn gallery(a: &GalleryBenchArgs) -> Result<ExitCode> {
    use rand::SeedableRng;
    use vigil_gallery::index::FlatIndex;
    let mut rows = Vec::new();
    for &n in &a.sizes {
        let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
        let work = Workload::new(a, &mut rng)?;
        let queries = work.queries.clone();
        let mut idx = FlatIndex::new(a.dim);
        let t = Instant::now();
        let planted_every = (n / a.queries.max(1)).max(1);
        let mut planted = 0usize;
        for i in 0..n {
            if i % planted_every == 0 && planted < queries.len() {
                idx.push(u64::MAX - planted as u64, &work.mates[planted]);
                planted += 1;
            } else {
                idx.push(i as u64, &work.filler(&mut rng, a.dim));
            }
        }
        let build_s = t.elapsed().as_secs_f64();
        let lat = |f: &dyn Fn(&[f32]) -> Vec<vigil_gallery::index::Hit>| {
            let mut ms = Vec::new();
            let mut out = Vec::new();
            for q in &queries {
                let t = Instant::now();
                out.push(f(q));
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            ms.sort_by(f64::total_cmp);
            let pick = |p: f64| vigil_core::metrics::percentile(&ms, p).unwrap_or(f64::NAN);
            (pick(0.5), pick(0.99), out)
        };
        let (e50, e99, exact) = lat(&|q| idx.search_exact(q, a.k));
        let (i50, i99, fast) = lat(&|q| idx.search_int8(q, a.k, a.rerank));
        let shortlist = a
            .shortlist
            .unwrap_or_else(|| vigil_gallery::index::shortlist_len(n, a.rerank.max(a.k)));
        let (c50, c99, coded) = lat(&|q| idx.search_coded(q, a.k, a.rerank, shortlist));
        // Recall@k against exact search, and how often the planted mate
        // ranks first.
        let agreement = |got: &[Vec<vigil_gallery::index::Hit>]| {
            let (mut found, mut mate_first) = (0usize, 0usize);
            for (qi, (e, f)) in exact.iter().zip(got).enumerate() {
                found += f.iter().filter(|h| e.iter().any(|x| x.id == h.id)).count();
                mate_first += usize::from(f.first().is_some_and(|h| h.id == u64::MAX - qi as u64));
            }
            (
                found as f64 / (a.k * queries.len()) as f64,
                mate_first as f64 / queries.len() as f64,
            )
        };
        let (recall, mate_rank1) = agreement(&fast);
        let (coded_recall, coded_mate_rank1) = agreement(&coded);
        let gpu = if a.gpu {
            Some(gpu_row(&idx, &queries, &exact, a)?)
        } else {
            None
        };
        let pgvector = match &a.pgvector {
            Some(url) => Some(pgvector_row(url, &idx, &queries, &exact, a)?),
            None => None,
        };
        let row = json!({
            "store": if a.real_templates.is_some() { "real faces" } else { "isotropic random" },
            "pgvector": pgvector,
            "gpu": gpu,
            "templates": n,
            "dim": a.dim,
            "exact_f32_ms": {"p50": e50, "p99": e99},
            "int8_rerank_ms": {"p50": i50, "p99": i99},
            "recall_at_k": recall,
            "binary_codes": {
                "ms": {"p50": c50, "p99": c99},
                "shortlist": shortlist,
                "recall_at_k": coded_recall,
                "planted_mate_rank1": coded_mate_rank1,
            },
            "default_path": if n >= vigil_gallery::index::CODED_FROM { "binary codes" } else { "int8 scan" },
            "k": a.k,
            "rerank": a.rerank,
            "planted_mate_rank1": mate_rank1,
            "bytes_per_template": idx.bytes_per_template(),
            "insert_per_s": n as f64 / build_s,
            "peak_rss_mib": context::peak_rss_mib(),
        });
        println!("{row}");
        rows.push(row);
        drop(idx);
    }
    Ok(ExitCode::SUCCESS)
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
    let pick = |q: f64| vigil_core::metrics::percentile(&ms, q).unwrap_or(f64::NAN);
    Ok(Stats {
        median_ms: pick(0.5),
        p95_ms: pick(0.95),
    })
}

/// Scales and pads the photo to an exact frame size, as a camera would deliver.
fn frame(img: &RgbImage, w: u32, h: u32) -> Result<RgbImage> {
    let (canvas, _) = tensor::letterbox(img, w, h)?;
    Ok(canvas)
}

pub fn run(g: &Global, a: &BenchArgs) -> Result<ExitCode> {
    match &a.kind {
        Some(BenchKind::Live(l)) => return crate::bench_live::bench(g, l),
        Some(BenchKind::Gallery(b)) => return gallery(b),
        Some(BenchKind::Oifr(b)) => return crate::bench_oifr::bench_oifr(g, b),
        None => {}
    }
    let path = a
        .image
        .clone()
        .unwrap_or_else(|| context::cache(g).samples().join("obama_1.jpg"));
    let photo =
        vigil_vision::image_io::decode_file(&path, Default::default()).with_context(|| {
            format!(
                "{} (run `vigil models fetch` for the samples)",
                path.display()
            )
        })?;
    let engine = context::engine(g, true)?;
    let det = engine.detector();
    let rec = engine.recogniser().context("no recogniser")?;
    let threads = context::onnx_runtime(g).intra_threads;

    let mut rows = Vec::new();
    use vigil_vision::DetectionSize;
    // The detector at its 640x640 letterbox, and (where its input size is
    // free) at the frame's own size, and a 250 px photo at its own size.
    let mut sizes = vec![
        (640, 480, DetectionSize::Letterbox),
        (1920, 1080, DetectionSize::Letterbox),
    ];
    if det.free_size() {
        sizes.extend([
            (1920, 1080, DetectionSize::UpTo(640)),
            (1920, 1080, DetectionSize::UpTo(1920)),
            (250, 250, DetectionSize::Letterbox),
            (250, 250, DetectionSize::UpTo(640)),
        ]);
    }
    for (w, h, size) in sizes {
        let f = frame(&photo, w, h)?;
        let s = time(a.iterations, || {
            det.detect_sized(&f, size).map(|_| ()).map_err(Into::into)
        })?;
        rows.push((
            format!("detect {w}x{h} at {size} ({})", det.id()),
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

    let peak = context::peak_rss_mib();
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
