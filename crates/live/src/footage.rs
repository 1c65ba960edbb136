//! Recording a camera's CCTV footage while its Deployment is Active
//! (§7.16), and the watermarked clip an assigned user exports.
//!
//! ffmpeg copies the camera's stream (no re-encoding) as MPEG-TS to a
//! pipe; the recorder cuts it into segments at 188-byte packet boundaries
//! (any run of whole segments decodes, so a clip can start at any one) and
//! hands each to the store, which seals it under the Deployment's footage
//! key. Nothing is written to disk in the clear. Recording stops when the
//! Deployment is suspended or ends and resumes with it.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::ffmpeg::Ffmpeg;
use crate::ingest::CameraConfig;
use crate::link::{DeploymentLink, Gate};

/// MPEG-TS packet size: segments are cut on multiples of it.
const TS_PACKET: usize = 188;
/// A segment is cut at this size even before its time is up.
const MAX_SEGMENT_BYTES: usize = 64 << 20;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A camera's recorder thread.
pub struct Recorder(crate::stoppable::Stoppable);

impl Recorder {
    pub fn start(
        camera: CameraConfig,
        camera_id: String,
        link: Arc<DeploymentLink>,
        segment: Duration,
    ) -> std::io::Result<Self> {
        crate::stoppable::Stoppable::spawn(format!("footage-{}", camera.name), move |stop| {
            record(&camera, &camera_id, &link, segment, &stop)
        })
        .map(Self)
    }

    pub fn stop(self) {
        self.0.stop();
    }
}

struct Segment {
    bytes: Vec<u8>,
    started: i64,
    opened: Instant,
}

impl Segment {
    fn new() -> Self {
        Self {
            bytes: Vec::new(),
            started: now_ms(),
            opened: Instant::now(),
        }
    }
}

/// Seals the whole packets of `seg` into the store; the partial packet at
/// its end starts the next segment.
fn flush(seg: &mut Segment, camera: &CameraConfig, camera_id: &str, link: &DeploymentLink) {
    let whole = seg.bytes.len() - seg.bytes.len() % TS_PACKET;
    if whole == 0 {
        return;
    }
    let rest = seg.bytes.split_off(whole);
    let end = now_ms();
    let stored = link.block_on(link.store().add_footage_segment(
        &link.deployment_id,
        camera_id,
        &camera.name,
        seg.started,
        end,
        &seg.bytes,
    ));
    if let Err(e) = stored {
        tracing::warn!(camera = %camera.name, error = %e, "footage segment not stored");
    }
    *seg = Segment {
        bytes: rest,
        started: end,
        opened: Instant::now(),
    };
}

fn record(
    camera: &CameraConfig,
    camera_id: &str,
    link: &DeploymentLink,
    segment: Duration,
    stop: &AtomicBool,
) {
    let mut args = camera.input_args(true);
    args.extend(["-map", "0", "-c", "copy", "-f", "mpegts", "pipe:1"].map(String::from));
    while !stop.load(Ordering::SeqCst) {
        match link.gate() {
            Gate::Ended => return,
            Gate::Paused => {
                // Woken by the gate when the Deployment resumes.
                link.wait_while(Gate::Paused, Duration::from_secs(1));
                continue;
            }
            Gate::Active => {}
        }
        let mut ffmpeg = match camera.spawn(&args, None) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(camera = %camera.name, error = %e, "footage recorder");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        let Some(mut out) = ffmpeg.take_stdout() else {
            continue;
        };
        // Read on a thread of its own, so a stalled stream cannot keep the
        // recorder from noticing a Suspend.
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(64);
        let reader = std::thread::spawn(move || loop {
            let mut buf = vec![0u8; TS_PACKET * 512];
            match out.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(buf).is_err() {
                        return;
                    }
                }
            }
        });
        let mut seg = Segment::new();
        loop {
            if stop.load(Ordering::SeqCst) || link.gate() != Gate::Active {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(chunk) => seg.bytes.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if seg.opened.elapsed() >= segment || seg.bytes.len() >= MAX_SEGMENT_BYTES {
                flush(&mut seg, camera, camera_id, link);
            }
        }
        drop(ffmpeg.finish());
        let _ = reader.join();
        while let Ok(chunk) = rx.try_recv() {
            seg.bytes.extend_from_slice(&chunk);
        }
        // What was recorded while Active is kept; the store refuses it once
        // the Deployment is no longer Active, so a Suspend cuts it short.
        flush(&mut seg, camera, camera_id, link);
        if !stop.load(Ordering::SeqCst) && link.gate() == Gate::Active {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Re-encodes an exported clip with its audit entry burnt into every frame
/// and written into its metadata, as fragmented MP4 (playable anywhere).
/// Bounded: 120 s of ffmpeg, 512 MiB of output.
pub fn watermark(ts: &[u8], text: &str) -> Result<Vec<u8>, String> {
    let safe: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " -.#".contains(*c))
        .collect();
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let font = if std::path::Path::new(font).is_file() {
        format!("fontfile={font}:")
    } else {
        String::new()
    };
    let args: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-an",
        "-vf",
        &format!("drawtext={font}text='{safe}':x=12:y=12:fontsize=24:fontcolor=white:box=1:boxcolor=black@0.6"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        &format!("comment={safe}"),
        "-movflags",
        "frag_keyframe+empty_moov",
        "-f",
        "mp4",
        "pipe:1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut ffmpeg = Ffmpeg::spawn(&args, Some(Duration::from_secs(120)), |cmd| {
        cmd.stdin(std::process::Stdio::piped());
    })
    .map_err(|e| format!("cannot start ffmpeg: {e}"))?;
    let stdin = ffmpeg.take_stdin();
    let input = ts.to_vec();
    // Fed on its own thread while the output is read here: either side
    // could otherwise fill its pipe and wait on the other.
    let feeder = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            use std::io::Write;
            let _ = s.write_all(&input);
        }
    });
    let mut mp4 = Vec::new();
    if let Some(out) = ffmpeg.stdout() {
        let _ = out.take(512 << 20).read_to_end(&mut mp4);
    }
    let done = ffmpeg.finish();
    let _ = feeder.join();
    if done.success() && !mp4.is_empty() {
        Ok(mp4)
    } else {
        Err(done
            .last_line()
            .unwrap_or("the clip could not be encoded")
            .to_string())
    }
}

/// The watermarking ffmpeg, for the server's export route.
pub struct FfmpegClips;

impl vigil_core::camera::ClipWatermark for FfmpegClips {
    fn watermark(&self, clip: &[u8], text: &str) -> Result<Vec<u8>, String> {
        watermark(clip, text)
    }
}
