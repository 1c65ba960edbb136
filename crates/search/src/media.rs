//! Reading the media of an RFR/OIFR search: every face of a still, or
//! one probe per person from a video's sampled frames.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use image::RgbImage;
use vigil_core::quality::{Quality, Verdict};
use vigil_core::template::dot;
use vigil_live::ffmpeg::Ffmpeg;
use vigil_vision::{DecodeLimits, DetectionSize, Face, FaceEngine};

/// What the face engine found in the searched media.
#[derive(Debug, Clone, Default)]
pub struct ProbeMedia {
    /// `image` or `video`.
    pub media_kind: String,
    pub frames: u32,
    /// One face per person: faces of one person across video frames are
    /// tracked and only the best is kept.
    pub faces: Vec<ProbeFaceTemplate>,
}

/// A face to search: its crop for the reviewer, its quality and template.
#[derive(Debug, Clone)]
pub struct ProbeFaceTemplate {
    pub crop_jpeg: Vec<u8>,
    pub quality: Quality,
    pub verdict: Verdict,
    pub vector: Vec<f32>,
}

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
        quality: f.quality.clone(),
        verdict: f.verdict.clone(),
        vector: t.vector.clone(),
    })
}

/// Every face of a still, largest first. Faces below the quality gate are
/// still searched (an investigator may have nothing better) but carry the
/// gate's reasons to the reviewer.
fn still(
    engine: &FaceEngine,
    bytes: &[u8],
    limits: DecodeLimits,
    size: DetectionSize,
) -> Result<ProbeMedia, String> {
    let image = vigil_vision::image_io::decode(bytes, limits).map_err(|e| e.to_string())?;
    let mut faces = engine
        .analyse_sized(&image, size)
        .map_err(|e| e.to_string())?;
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

/// Reads the next binary PPM image of an ffmpeg `image2pipe` stream (none
/// at the end of the stream or on a damaged one).
fn read_ppm(r: &mut impl BufRead) -> Option<RgbImage> {
    let decoder = image::codecs::pnm::PnmDecoder::new(r).ok()?;
    image::DynamicImage::from_decoder(decoder)
        .ok()
        .map(image::DynamicImage::into_rgb8)
}

/// The longest a video may take to read and analyse; ffmpeg is killed
/// after it and the search answers that the video could not be read.
const VIDEO_LIMIT: Duration = Duration::from_secs(120);

/// The descriptor the upload is handed to ffmpeg on.
#[cfg(target_os = "linux")]
const MEDIA_FD: i32 = 3;

/// The upload in an anonymous in-memory file (`memfd`): ffmpeg can seek in
/// it (most phone videos keep their index at the end), and no copy of the
/// video ever sits on a disk or in a shared temporary directory, whatever
/// happens to the process.
#[cfg(target_os = "linux")]
fn memory_file(bytes: &[u8]) -> Result<std::fs::File, String> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns
    // a new descriptor that we own, or -1.
    let fd = unsafe { libc::memfd_create(c"vigil-search".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "cannot hold the video in memory: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(bytes)
        .map_err(|e| format!("cannot hold the video in memory: {e}"))?;
    Ok(f)
}

/// Frames of a video, sampled at [`VIDEO_FPS`], one person searched once:
/// faces from different frames whose templates agree are one track, and
/// the track's best face is the probe.
///
/// ffmpeg reads only the container the bytes are (`-f`, chosen from their
/// signature, never from what the client says), only through the `file`
/// protocol and only from the in-memory upload: a playlist or concat file
/// naming other files or URLs is refused before it is opened.
#[cfg(target_os = "linux")]
fn video(
    engine: &FaceEngine,
    bytes: &[u8],
    container: &str,
    size: DetectionSize,
) -> Result<ProbeMedia, String> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let media = memory_file(bytes)?;
    let fd = media.as_raw_fd();
    let input = format!("file:/dev/fd/{MEDIA_FD}");
    let filter = format!("fps={VIDEO_FPS},scale='min(1920,iw)':-2");
    let frames_max = MAX_VIDEO_FRAMES.to_string();
    let args: Vec<String> = [
        "-hide_banner",
        "-v",
        "error",
        "-nostdin",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        container,
        "-f",
        container,
        "-i",
        &input,
        "-vf",
        &filter,
        "-frames:v",
        &frames_max,
        "-f",
        "image2pipe",
        "-vcodec",
        "ppm",
        "pipe:1",
    ]
    .map(String::from)
    .to_vec();
    let mut ffmpeg = Ffmpeg::spawn(&args, Some(VIDEO_LIMIT), |cmd| {
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made (dup2, fcntl), on descriptors this process owns.
        unsafe {
            cmd.pre_exec(move || {
                if fd == MEDIA_FD {
                    // Already in place: just let it survive exec.
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, MEDIA_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    })
    .map_err(|e| format!("cannot start ffmpeg: {e}"))?;
    let stdout = ffmpeg.stdout().ok_or("no ffmpeg output")?;
    let mut r = BufReader::with_capacity(1 << 20, stdout);
    // (best face so far, its score) per track
    let mut tracks: Vec<(ProbeFaceTemplate, f32)> = Vec::new();
    let mut frames = 0u32;
    let mut analysis = Ok(());
    while let Some(frame) = read_ppm(&mut r) {
        frames += 1;
        let faces = match engine.analyse_sized(&frame, size) {
            Ok(f) => f,
            Err(e) => {
                analysis = Err(e.to_string());
                break;
            }
        };
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
    drop(r);
    let done = if analysis.is_ok() {
        ffmpeg.wait()
    } else {
        ffmpeg.finish()
    };
    drop(media);
    analysis?;
    if done.timed_out {
        return Err(format!(
            "the video took over {} s to read: send a shorter clip",
            VIDEO_LIMIT.as_secs()
        ));
    }
    if frames == 0 {
        return Err(if done.success() {
            "no frames in the video".into()
        } else {
            // ffmpeg's words, which name only the descriptor, never a path.
            format!(
                "not a readable video: {}",
                done.last_line().unwrap_or("ffmpeg failed")
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

#[cfg(not(target_os = "linux"))]
fn video(_: &FaceEngine, _: &[u8], _: &str, _: DetectionSize) -> Result<ProbeMedia, String> {
    Err("video searches need Linux (the upload is read from memory)".into())
}

/// The ffmpeg demuxer for a video upload, told by the container's own
/// signature: MP4/MOV (`ftyp`), Matroska/WebM (EBML), AVI (RIFF) and
/// MPEG-TS (sync bytes). Anything else is not read as a video.
pub fn video_container(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8) == Some(b"ftyp") {
        Some("mov")
    } else if bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        Some("matroska")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"AVI ") {
        Some("avi")
    } else if bytes.len() >= 377 && bytes[0] == 0x47 && bytes[188] == 0x47 && bytes[376] == 0x47 {
        Some("mpegts")
    } else {
        None
    }
}

/// The faces to search in `bytes` (a still or a video, told apart by the
/// container's signature; a client's content type never makes bytes a
/// video), or why they can't be read.
pub fn read_probe_media(
    engine: &FaceEngine,
    bytes: &[u8],
    content_type: &str,
    limits: DecodeLimits,
    size: DetectionSize,
) -> Result<ProbeMedia, String> {
    match video_container(bytes) {
        Some(container) => video(engine, bytes, container, size),
        None if content_type.starts_with("video/") => {
            Err("not a video this server reads: send MP4/MOV, Matroska/WebM, AVI or MPEG-TS".into())
        }
        None => still(engine, bytes, limits, size),
    }
}
