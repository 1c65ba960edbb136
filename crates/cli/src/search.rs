//! The host's half of RFR/OIFR: the face engine reading searched media for
//! the server, the reference index built from the store, and bulk
//! enrolment of a custody image store (`vigil enrol --bulk`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use anyhow::{Context, Result};
use image::RgbImage;
use vigil_core::template::dot;
use vigil_gallery::reference::ReferenceIndex;
use vigil_server::rfr::{ProbeFaceTemplate, ProbeMedia};
use vigil_store::Store;
use vigil_vision::{DecodeLimits, Face, FaceEngine};

use crate::commands::{self, print_line};
use crate::governance::{system_user, DataArgs};
use crate::Global;

/// Faces searched from one still (the largest first).
const MAX_FACES_PER_IMAGE: usize = 20;
/// Video: frames sampled per second, and at most this many frames.
const VIDEO_FPS: u32 = 2;
const MAX_VIDEO_FRAMES: u32 = 240;
/// Faces in different frames whose templates agree this well are taken to
/// be one person and searched once (SFace's calibrated Threshold for a
/// False Match Rate of 1 in 1000 is 0.48).
const SAME_PERSON: f32 = 0.48;

/// How good a face is for a search: big, frontal, sharp.
fn face_score(f: &Face) -> f32 {
    let q = &f.quality;
    q.inter_eye_distance * (1.0 - q.yaw_degrees.abs() / 90.0).max(0.0) * (q.sharpness / 100.0).min(1.0)
}

fn probe_face(image: &RgbImage, f: &Face) -> Option<ProbeFaceTemplate> {
    let t = f.template.as_ref()?;
    Some(ProbeFaceTemplate {
        crop_jpeg: vigil_vision::image_io::face_crop_jpeg(image, f.detection.bbox),
        quality: serde_json::json!({
            "inter_eye_distance": f.quality.inter_eye_distance,
            "yaw_degrees": f.quality.yaw_degrees,
            "sharpness": f.quality.sharpness,
            "passed": f.verdict.passed,
            "reasons": f.verdict.reasons,
        }),
        vector: t.vector.clone(),
    })
}

/// Every face of a still, largest first. Faces below the quality gate are
/// still searched (an investigator may have nothing better) but carry the
/// gate's reasons to the reviewer.
fn still(engine: &FaceEngine, bytes: &[u8], limits: DecodeLimits) -> Result<ProbeMedia, String> {
    let image = vigil_vision::image_io::decode(bytes, limits).map_err(|e| e.to_string())?;
    let mut faces = engine.analyse(&image).map_err(|e| e.to_string())?;
    faces.sort_by(|a, b| b.quality.inter_eye_distance.total_cmp(&a.quality.inter_eye_distance));
    Ok(ProbeMedia {
        media_kind: "image".into(),
        frames: 1,
        faces: faces
            .iter()
            .take(MAX_FACES_PER_IMAGE)
            .filter_map(|f| probe_face(&image, f))
            .collect(),
    })
}

/// Reads one binary PPM (P6) image from an ffmpeg `image2pipe` stream.
fn read_ppm(r: &mut impl BufRead) -> Option<RgbImage> {
    let mut fields = Vec::with_capacity(4);
    let mut token = Vec::new();
    while fields.len() < 4 {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).ok()?;
        if b[0].is_ascii_whitespace() {
            if !token.is_empty() {
                fields.push(String::from_utf8(std::mem::take(&mut token)).ok()?);
            }
        } else {
            token.push(b[0]);
        }
    }
    if fields[0] != "P6" || fields[3] != "255" {
        return None;
    }
    let (w, h): (u32, u32) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    let mut px = vec![0u8; (w as usize) * (h as usize) * 3];
    r.read_exact(&mut px).ok()?;
    RgbImage::from_raw(w, h, px)
}

/// Frames of a video, sampled at [`VIDEO_FPS`], one person searched once:
/// faces from different frames whose templates agree are one track, and
/// the track's best face is the probe.
fn video(engine: &FaceEngine, bytes: &[u8]) -> Result<ProbeMedia, String> {
    // ffmpeg needs to seek in most phone videos (the index is at the end),
    // so the upload goes to a private temporary file, removed on return.
    let dir = tempfile::Builder::new()
        .prefix("vigil-search-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let path = dir.path().join("media");
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&path)
        .args([
            "-vf",
            &format!("fps={VIDEO_FPS},scale='min(1920,iw)':-2"),
            "-frames:v",
            &MAX_VIDEO_FRAMES.to_string(),
            "-f",
            "image2pipe",
            "-vcodec",
            "ppm",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start ffmpeg: {e}"))?;
    let stdout = child.stdout.take().ok_or("no ffmpeg output")?;
    let mut r = BufReader::with_capacity(1 << 20, stdout);
    // (best face so far, its score) per track
    let mut tracks: Vec<(ProbeFaceTemplate, f32)> = Vec::new();
    let mut frames = 0u32;
    while let Some(frame) = read_ppm(&mut r) {
        frames += 1;
        let faces = engine.analyse(&frame).map_err(|e| e.to_string())?;
        for f in &faces {
            let Some(p) = probe_face(&frame, f) else { continue };
            let score = face_score(f);
            let same = tracks
                .iter_mut()
                .map(|t| (dot(&t.0.vector, &p.vector), t))
                .filter(|(s, _)| *s >= SAME_PERSON)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match same {
                Some((_, t)) if score > t.1 => *t = (p, score),
                Some(_) => {}
                None => tracks.push((p, score)),
            }
        }
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if frames == 0 {
        return Err(if status.success() {
            "no frames in the video".into()
        } else {
            format!("not a readable image or video: {}", err.lines().next().unwrap_or("ffmpeg failed"))
        });
    }
    tracks.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ProbeMedia {
        media_kind: "video".into(),
        frames,
        faces: tracks.into_iter().take(MAX_FACES_PER_IMAGE).map(|t| t.0).collect(),
    })
}

fn looks_like_video(bytes: &[u8], content_type: &str) -> bool {
    content_type.starts_with("video/")
        || bytes.get(4..8) == Some(b"ftyp")
        || bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"AVI ")
}

/// The server's `probe_faces` hook over this process's face engine.
pub fn probe_hook(engine: Arc<FaceEngine>, limits: DecodeLimits) -> vigil_server::ProbeFacesFn {
    Arc::new(move |bytes: &[u8], content_type: &str| {
        if looks_like_video(bytes, content_type) {
            video(&engine, bytes)
        } else {
            still(&engine, bytes, limits)
        }
    })
}

/// The reference index of `pack`, rebuilt from the store's templates.
pub async fn reference_index(store: &Store, pack: &str, dim: usize) -> Result<Arc<RwLock<ReferenceIndex>>> {
    let mut index = ReferenceIndex::new(pack, dim);
    let mut skipped = 0usize;
    for t in store.reference_templates(pack).await? {
        if index.add(&t.image_id, &t.subject_ref, &t.vector).is_err() {
            skipped += 1;
        }
    }
    if skipped > 0 {
        tracing::warn!(skipped, "reference templates of the wrong dimension left out of the index");
    }
    tracing::info!(templates = index.len(), pack, "reference index built");
    Ok(Arc::new(RwLock::new(index)))
}

/// Encodes reference images that have no template of the engine's pack
/// (the demo's seeded images; a store moving to a new model), skipping the
/// ones without exactly one usable face. Returns how many were encoded.
pub async fn backfill_templates(store: &Store, engine: &FaceEngine, limits: DecodeLimits) -> Result<usize> {
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
) -> Result<vigil_server::AppState> {
    let Some(r) = engine.recogniser() else {
        return Ok(state);
    };
    let (pack, dim) = (r.id().to_string(), r.dimension());
    let encoded = backfill_templates(store, &engine, limits).await?;
    if encoded > 0 {
        tracing::info!(encoded, "reference images encoded");
    }
    let index = reference_index(store, &pack, dim).await?;
    let mut state = state.with_reference(index);
    state.hooks.probe_faces = Some(probe_hook(engine, limits));
    Ok(state)
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
    let image = vigil_vision::image_io::decode(bytes, limits).map_err(|e| Outcome::Unreadable(e.to_string()))?;
    let faces = engine.analyse(&image).map_err(|e| Outcome::Unreadable(e.to_string()))?;
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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let store = Arc::new(rt.block_on(Store::open_data_dir(
        &data.data_dir,
        data.database_url.as_deref(),
        Arc::new(vigil_store::SystemClock),
    ))?);
    let admin = system_user();
    let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images · {per_sec} · eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let queue = Mutex::new(files.into_iter());
    let tally: Mutex<BTreeMap<&'static str, usize>> = Mutex::default();
    let reasons: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some((subject, path)) = queue.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                    break;
                };
                let file = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                let source = format!("{subject}/{file}");
                let outcome = (|| {
                    if rt.block_on(store.reference_enrolled(&subject, &source, &pack)).unwrap_or(false) {
                        return Outcome::AlreadyEnrolled;
                    }
                    let bytes = match std::fs::read(&path) {
                        Ok(b) => b,
                        Err(e) => return Outcome::Unreadable(e.to_string()),
                    };
                    match judge(&engine, &bytes, limits) {
                        Ok(v) => match rt.block_on(store.enrol_reference(&admin, &subject, &source, &bytes, &pack, &v)) {
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
                            let kind: String = r.chars().filter(|c| !c.is_ascii_digit() && *c != '.').collect();
                            *m.entry(kind).or_default() += 1;
                        }
                        "quality_rejects"
                    }
                    Outcome::Unreadable(e) => {
                        bar.suspend(|| eprintln!("{}: {e}", path.display()));
                        "unreadable"
                    }
                };
                *tally.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
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
