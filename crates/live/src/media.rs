//! Reading the media of an RFR/OIFR search: every face of a still, or
//! one probe per person from a video's sampled frames.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use image::RgbImage;
use vigil_core::template::dot;
use vigil_gallery::probe::{ProbeFaceTemplate, ProbeMedia};
use vigil_vision::{DecodeLimits, Face, FaceEngine};

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
    q.inter_eye_distance
        * (1.0 - q.yaw_degrees.abs() / 90.0).max(0.0)
        * (q.sharpness / 100.0).min(1.0)
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
    faces.sort_by(|a, b| {
        b.quality
            .inter_eye_distance
            .total_cmp(&a.quality.inter_eye_distance)
    });
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
            let Some(p) = probe_face(&frame, f) else {
                continue;
            };
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
            format!(
                "not a readable image or video: {}",
                err.lines().next().unwrap_or("ffmpeg failed")
            )
        });
    }
    tracks.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ProbeMedia {
        media_kind: "video".into(),
        frames,
        faces: tracks
            .into_iter()
            .take(MAX_FACES_PER_IMAGE)
            .map(|t| t.0)
            .collect(),
    })
}

fn looks_like_video(bytes: &[u8], content_type: &str) -> bool {
    content_type.starts_with("video/")
        || bytes.get(4..8) == Some(b"ftyp")
        || bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"AVI ")
}

/// The faces to search in `bytes` (a still or a video, told apart by the
/// content type or the container's signature), or why they can't be read.
pub fn read_probe_media(
    engine: &FaceEngine,
    bytes: &[u8],
    content_type: &str,
    limits: DecodeLimits,
) -> Result<ProbeMedia, String> {
    if looks_like_video(bytes, content_type) {
        video(engine, bytes)
    } else {
        still(engine, bytes, limits)
    }
}
