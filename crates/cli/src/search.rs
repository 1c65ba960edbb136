//! The host's half of RFR/OIFR: the face engine reading searched media for
//! the server, the reference index built from the store, and bulk
//! enrolment of a custody image store (`vigil enrol --bulk`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use anyhow::{Context, Result};
use vigil_gallery::reference::ReferenceIndex;
use vigil_store::Store;
use vigil_vision::{DecodeLimits, FaceEngine};

use crate::commands::{self, print_line};
use crate::governance::{system_user, DataArgs};
use crate::Global;

/// The server's `probe_faces` hook over this process's face engine.
pub fn probe_hook(engine: Arc<FaceEngine>, limits: DecodeLimits) -> vigil_server::ProbeFacesFn {
    Arc::new(move |bytes: &[u8], content_type: &str, size: Option<u32>| {
        vigil_live::media::read_probe_media(&engine, bytes, content_type, limits, size.into())
    })
}

/// The reference index of `pack`, rebuilt from the store's templates.
pub async fn reference_index(
    store: &Store,
    pack: &str,
    dim: usize,
    try_gpu: bool,
) -> Result<Arc<RwLock<ReferenceIndex>>> {
    let mut index = ReferenceIndex::new(pack, dim);
    let mut skipped = 0usize;
    for t in store.reference_templates(pack).await? {
        if index.add(&t.image_id, &t.subject_ref, &t.vector).is_err() {
            skipped += 1;
        }
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "reference templates of the wrong dimension left out of the index"
        );
    }
    tracing::info!(templates = index.len(), pack, "reference index built");
    if try_gpu {
        match index.enable_gpu() {
            Ok(device) => tracing::info!(device, "reference searches run on the GPU"),
            Err(e) => tracing::info!("reference searches run on the CPU: {e}"),
        }
    }
    Ok(Arc::new(RwLock::new(index)))
}

/// Encodes reference images that have no template of the engine's pack
/// (the demo's seeded images; a store moving to a new model), skipping the
/// ones without exactly one usable face. Returns how many were encoded.
pub async fn backfill_templates(
    store: &Store,
    engine: &FaceEngine,
    limits: DecodeLimits,
) -> Result<usize> {
    let Some(pack) = engine.recogniser().map(|r| r.id().to_string()) else {
        return Ok(0);
    };
    let admin = system_user();
    let mut n = 0;
    for (id, bytes) in store.untemplated_references(&admin, &pack).await? {
        if let Ok(v) = judge(engine, &bytes, limits) {
            store.set_reference_template(&admin, &id, &pack, &v).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// The server state's search half: the engine's `probe_faces` hook and the
/// reference index built from the store (after encoding any reference
/// image without a template).
pub async fn enable_search(
    state: vigil_server::AppState,
    store: &Store,
    engine: Arc<FaceEngine>,
    limits: DecodeLimits,
    try_gpu: bool,
    pgvector: Option<&str>,
) -> Result<vigil_server::AppState> {
    let Some(r) = engine.recogniser() else {
        return Ok(state);
    };
    let (pack, dim) = (r.id().to_string(), r.dimension());
    let encoded = backfill_templates(store, &engine, limits).await?;
    if encoded > 0 {
        tracing::info!(encoded, "reference images encoded");
    }
    let mut state = match pgvector {
        Some(url) => state.with_pgvector(Arc::new(pgvector_index(store, url, &pack, dim).await?)),
        None => state.with_reference(reference_index(store, &pack, dim, try_gpu).await?),
    };
    state.hooks.probe_faces = Some(probe_hook(engine, limits));
    Ok(state)
}

/// The reference store in PostgreSQL + pgvector at `url`, brought up to
/// date from the store (the authoritative copy; rows already there are
/// left alone, so a restart loads only what is new) and given its HNSW
/// index.
pub async fn pgvector_index(
    store: &Store,
    url: &str,
    pack: &str,
    dim: usize,
) -> Result<vigil_gallery::pgvector::PgVectorIndex> {
    let pg = vigil_gallery::pgvector::PgVectorIndex::connect(url, pack, dim)
        .await
        .with_context(|| format!("pgvector at {}", vigil_store::redact(url)))?;
    let templates = store.reference_templates(pack).await?;
    for chunk in templates.chunks(5_000) {
        let rows: Vec<(String, String, Vec<f32>)> = chunk
            .iter()
            .filter(|t| t.vector.len() == dim)
            .map(|t| (t.image_id.clone(), t.subject_ref.clone(), t.vector.clone()))
            .collect();
        pg.add_batch(&rows).await?;
    }
    pg.build_hnsw(16, 64).await?;
    tracing::info!(
        templates = pg.count().await?,
        pack,
        "pgvector reference index ready"
    );
    Ok(pg)
}

/// What enrolling one image came to.
enum Outcome {
    Enrolled,
    AlreadyEnrolled,
    /// No face found (failure to acquire).
    NoFace,
    /// A face, but not fit to be a reference image; the reasons.
    Rejected(Vec<String>),
    Unreadable(String),
}

/// Images under `dir/<subject>/`, sorted (so runs are repeatable).
fn reference_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for subject in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let subject = subject?;
        if !subject.file_type()?.is_dir() {
            continue;
        }
        let name = subject.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(subject.path())? {
            let f = f?;
            if f.file_type()?.is_file() {
                out.push((name.clone(), f.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn judge(engine: &FaceEngine, bytes: &[u8], limits: DecodeLimits) -> Result<Vec<f32>, Outcome> {
    let image = vigil_vision::image_io::decode(bytes, limits)
        .map_err(|e| Outcome::Unreadable(e.to_string()))?;
    let faces = engine
        .analyse(&image)
        .map_err(|e| Outcome::Unreadable(e.to_string()))?;
    if faces.is_empty() {
        return Err(Outcome::NoFace);
    }
    if faces.len() > 1 {
        return Err(Outcome::Rejected(vec![format!(
            "{} faces; a custody image shows one person",
            faces.len()
        )]));
    }
    let f = &faces[0];
    if !f.verdict.passed {
        return Err(Outcome::Rejected(f.verdict.reasons.clone()));
    }
    f.template
        .as_ref()
        .map(|t| t.vector.clone())
        .ok_or_else(|| Outcome::Unreadable("no recogniser loaded".into()))
}

/// A reason with its numbers replaced by `N` ("inter-eye distance N px is
/// below N px"), so the summary counts kinds of failure.
fn reason_kind(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut in_number = false;
    for c in r.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// `vigil enrol --bulk DIR`: every image under `DIR/<subject>/` into the
/// reference store with its template. Parallel (one worker per job, one
/// shared engine), resumable (images already enrolled are skipped), with a
/// summary of failures to acquire and quality rejects.
pub fn enrol_bulk(g: &Global, data: &DataArgs, dir: &Path, jobs: usize) -> Result<ExitCode> {
    let engine = Arc::new(commands::engine(g, true)?);
    let pack = engine
        .recogniser()
        .map(|r| r.id().to_string())
        .context("no recogniser")?;
    let limits = commands::limits(g);
    let files = reference_files(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = Arc::new(rt.block_on(Store::open_data_dir(
        &data.data_dir,
        data.database_url.as_deref(),
        Arc::new(vigil_store::SystemClock),
    ))?);
    let admin = system_user();
    let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images · {per_sec} · eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let queue = Mutex::new(files.into_iter());
    let tally: Mutex<BTreeMap<&'static str, usize>> = Mutex::default();
    let reasons: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some((subject, path)) = queue.lock().unwrap_or_else(|p| p.into_inner()).next()
                else {
                    break;
                };
                let file = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                let source = format!("{subject}/{file}");
                let outcome = (|| {
                    if rt
                        .block_on(store.reference_enrolled(&subject, &source, &pack))
                        .unwrap_or(false)
                    {
                        return Outcome::AlreadyEnrolled;
                    }
                    let bytes = match std::fs::read(&path) {
                        Ok(b) => b,
                        Err(e) => return Outcome::Unreadable(e.to_string()),
                    };
                    match judge(&engine, &bytes, limits) {
                        Ok(v) => match rt.block_on(
                            store.enrol_reference(&admin, &subject, &source, &bytes, &pack, &v),
                        ) {
                            Ok(_) => Outcome::Enrolled,
                            Err(e) => Outcome::Unreadable(format!("store: {e}")),
                        },
                        Err(o) => o,
                    }
                })();
                let key = match outcome {
                    Outcome::Enrolled => "enrolled",
                    Outcome::AlreadyEnrolled => "already_enrolled",
                    Outcome::NoFace => "failed_to_acquire",
                    Outcome::Rejected(rs) => {
                        let mut m = reasons.lock().unwrap_or_else(|p| p.into_inner());
                        for r in rs {
                            // Numbers differ per image; the reason's kind is what a summary needs.
                            let kind = reason_kind(&r);
                            *m.entry(kind).or_default() += 1;
                        }
                        "quality_rejects"
                    }
                    Outcome::Unreadable(e) => {
                        bar.suspend(|| eprintln!("{}: {e}", path.display()));
                        "unreadable"
                    }
                };
                *tally
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(key)
                    .or_default() += 1;
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let tally = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let enrolled = tally.get("enrolled").copied().unwrap_or(0);
    let secs = started.elapsed().as_secs_f64();
    let total = rt.block_on(store.reference_templates(&pack))?.len();
    print_line(&serde_json::json!({
        "pack": pack,
        "outcomes": tally,
        "quality_reject_reasons": reasons.into_inner().unwrap_or_else(|p| p.into_inner()),
        "seconds": secs,
        "enrolled_per_s": enrolled as f64 / secs.max(1e-9),
        "reference_templates": total,
    }))?;
    Ok(if tally.get("unreadable").copied().unwrap_or(0) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(clap::Args)]
pub struct OifrBenchArgs {
    /// Synthetic templates in the reference store.
    #[arg(long, default_value_t = 1_000_000)]
    size: usize,
    /// Searches timed.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Probe photo (default: the sample obama_2.jpg; obama_1.jpg is enrolled).
    #[arg(long)]
    image: Option<PathBuf>,
}

/// `vigil bench oifr`: what an officer waits for, less the network: decode,
/// detect, quality, embed, search, and the audited record of the search in
/// a SQLite store (probe crop sealed, candidates written, audit appended).
pub fn bench_oifr(g: &Global, a: &OifrBenchArgs) -> Result<ExitCode> {
    use rand::{Rng, SeedableRng};
    use vigil_store::searches::{NewSearch, SearchKind};
    let engine = commands::engine(g, true)?;
    let r = engine.recogniser().context("no recogniser")?;
    let (pack, dim) = (r.id().to_string(), r.dimension());
    let limits = commands::limits(g);
    let samples = commands::cache(g).samples();
    let enrolled = std::fs::read(samples.join("obama_1.jpg"))
        .context("sample photos (run `vigil models fetch`)")?;
    let probe = match &a.image {
        Some(p) => std::fs::read(p).with_context(|| format!("{}", p.display()))?,
        None => std::fs::read(samples.join("obama_2.jpg"))?,
    };
    let mut index = ReferenceIndex::new(&pack, dim);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let t = Instant::now();
    for i in 0..a.size {
        let v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = v.iter().map(|x| x / n).collect();
        index
            .add(&format!("syn-{i}"), &format!("SYN-{i}"), &v)
            .map_err(anyhow::Error::msg)?;
        if i == a.size / 2 {
            let v = judge(&engine, &enrolled, limits)
                .map_err(|_| anyhow::anyhow!("sample not enrollable"))?;
            index
                .add("planted", "PLANTED", &v)
                .map_err(anyhow::Error::msg)?;
        }
    }
    let build_s = t.elapsed().as_secs_f64();
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = rt.block_on(Store::open_data_dir(
        dir.path(),
        None,
        Arc::new(vigil_store::SystemClock),
    ))?;
    let investigator = vigil_core::access::User {
        id: "bench-investigator".into(),
        display_name: "bench".into(),
        rank: vigil_core::access::Rank::Constable,
        roles: vec![vigil_core::access::Role::Investigator],
    };
    rt.block_on(store.put_user(&investigator))?;
    let (mut total, mut faces_ms, mut search_ms, mut record_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rank1 = 0;
    for _ in 0..a.iterations.max(1) {
        let t0 = Instant::now();
        let media = vigil_live::media::read_probe_media(
            &engine,
            &probe,
            "image/jpeg",
            limits,
            Default::default(),
        )
        .map_err(anyhow::Error::msg)?;
        let t1 = Instant::now();
        let faces = vigil_server::rfr::search_faces(&index, media.faces, 20);
        let t2 = Instant::now();
        rank1 += usize::from(
            faces
                .first()
                .and_then(|f| f.candidates.first())
                .is_some_and(|c| c.subject_ref == "PLANTED"),
        );
        rt.block_on(store.record_search(
            &investigator,
            &NewSearch {
                kind: SearchKind::Oifr,
                case_ref: "BENCH".into(),
                reason: "benchmark".into(),
                media_kind: media.media_kind,
                frames: media.frames,
                faces,
                threshold: None,
            },
        ))?;
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        faces_ms.push(ms(t0, t1));
        search_ms.push(ms(t1, t2));
        record_ms.push(ms(t2, t3));
        total.push(ms(t0, t3));
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let pick = |p: f64| vigil_core::metrics::percentile(v, p).unwrap_or(f64::NAN);
        serde_json::json!({"p50": pick(0.5), "p99": pick(0.99)})
    };
    print_line(&serde_json::json!({
        "reference_templates": index.len(),
        "index_build_s": build_s,
        "iterations": total.len(),
        "end_to_end_ms": stats(&mut total),
        "faces_ms": stats(&mut faces_ms),
        "search_ms": stats(&mut search_ms),
        "record_ms": stats(&mut record_ms),
        "planted_rank1": rank1 as f64 / a.iterations.max(1) as f64,
        "peak_rss_mib": crate::bench::peak_rss_mib(),
    }))?;
    Ok(ExitCode::SUCCESS)
}
