//! Footage built from still photographs, for tests, benchmarks and the
//! demo: faces cropped from real photos cross a plain background, rendered
//! by ffmpeg. Nothing here is used on real camera streams.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_vision::{image_io, FaceEngine};

use crate::LiveError;

/// One person crossing the frame.
#[derive(Debug, Clone)]
pub struct Pass {
    /// Face image (PNG/JPEG) to move across.
    pub image: PathBuf,
    /// Seconds into the video when the person enters and leaves.
    pub from: f32,
    pub to: f32,
    /// Top edge, pixels.
    pub y: u32,
    pub left_to_right: bool,
}

/// Crops the largest face of `photo` with a margin and scales it to
/// `width` pixels wide, saving a PNG in `dir`.
pub fn face_crop(
    engine: &FaceEngine,
    photo: &Path,
    dir: &Path,
    width: u32,
) -> Result<PathBuf, LiveError> {
    let img = image_io::decode_file(photo, Default::default())?;
    let dets = engine.detector().detect(&img)?;
    let d = dets
        .iter()
        .max_by(|a, b| (a.bbox[2] - a.bbox[0]).total_cmp(&(b.bbox[2] - b.bbox[0])))
        .ok_or_else(|| LiveError::Synth(format!("no face in {}", photo.display())))?;
    let (w, h) = (d.bbox[2] - d.bbox[0], d.bbox[3] - d.bbox[1]);
    let x0 = (d.bbox[0] - 0.4 * w).max(0.0) as u32;
    let y0 = (d.bbox[1] - 0.4 * h).max(0.0) as u32;
    let x1 = ((d.bbox[2] + 0.4 * w) as u32).min(img.width());
    let y1 = ((d.bbox[3] + 0.4 * h) as u32).min(img.height());
    let crop = image::imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image();
    let height = (crop.height() as f32 * width as f32 / crop.width() as f32) as u32;
    let resized = image::imageops::resize(
        &crop,
        width,
        height.max(1),
        image::imageops::FilterType::Triangle,
    );
    let stem = photo
        .file_stem()
        .map_or_else(|| "face".into(), |s| s.to_string_lossy().into_owned());
    let out = dir.join(format!("{stem}-{width}.png"));
    resized
        .save(&out)
        .map_err(|e| LiveError::Synth(e.to_string()))?;
    Ok(out)
}

/// Renders `passes` over a plain `w`x`h` background at `fps` for
/// `seconds` into `out` (Motion JPEG in Matroska).
pub fn make_video(
    out: &Path,
    w: u32,
    h: u32,
    fps: u32,
    seconds: f32,
    passes: &[Pass],
) -> Result<(), LiveError> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
    ]);
    cmd.arg(format!("color=c=0x506070:s={w}x{h}:r={fps}:d={seconds}"));
    for p in passes {
        cmd.args(["-loop", "1", "-framerate", &fps.to_string(), "-i"])
            .arg(&p.image);
    }
    let mut graph = String::new();
    let mut last = "0:v".to_string();
    for (i, p) in passes.iter().enumerate() {
        let speed = format!("(({w}+overlay_w)/{})", p.to - p.from);
        let x = if p.left_to_right {
            format!("-overlay_w+(t-{})*{speed}", p.from)
        } else {
            format!("{w}-(t-{})*{speed}", p.from)
        };
        let next = format!("v{i}");
        graph.push_str(&format!(
            "[{last}][{}:v]overlay=x='{x}':y={}:enable='between(t,{},{})':shortest=1[{next}];",
            i + 1,
            p.y,
            p.from,
            p.to
        ));
        last = next;
    }
    graph.pop();
    if passes.is_empty() {
        cmd.args(["-map", "0:v"]);
    } else {
        cmd.args(["-filter_complex", &graph, "-map", &format!("[{last}]")]);
    }
    cmd.args(["-t", &seconds.to_string(), "-c:v", "mjpeg", "-q:v", "3"])
        .arg(out);
    let status = cmd
        .status()
        .map_err(|e| LiveError::Synth(format!("cannot run ffmpeg: {e}")))?;
    if !status.success() {
        return Err(LiveError::Synth("ffmpeg could not render the video".into()));
    }
    Ok(())
}

/// The standard crowd: five people over 12 s, two at a time, in a frame of
/// `w`x`h` (faces scaled with the frame). `photos` are five portrait paths;
/// the first and fourth are meant to be Watchlist subjects.
pub fn crowd(
    engine: &FaceEngine,
    photos: &[PathBuf; 5],
    dir: &Path,
    w: u32,
    h: u32,
    fps: u32,
) -> Result<PathBuf, LiveError> {
    let face_w = (230 * w / 1280).max(64);
    let rows = [
        (40 * h / 720),
        (380 * h / 720),
        (40 * h / 720),
        (380 * h / 720),
        (200 * h / 720),
    ];
    let timing = [
        (0.0, 5.0, true),
        (1.0, 6.0, false),
        (5.5, 10.5, false),
        (6.0, 11.0, true),
        (3.0, 8.0, true),
    ];
    let mut passes = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let (from, to, ltr) = timing[i];
        passes.push(Pass {
            image: face_crop(engine, p, dir, face_w)?,
            from,
            to,
            y: rows[i],
            left_to_right: ltr,
        });
    }
    let out = dir.join(format!("crowd-{w}x{h}-{fps}.mkv"));
    make_video(&out, w, h, fps, 12.0, &passes)?;
    Ok(out)
}
