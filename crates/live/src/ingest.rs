//! Camera ingest: one `ffmpeg` subprocess per camera writing raw RGB frames
//! to a pipe.
//!
//! ffmpeg speaks every protocol and codec a force will meet (RTSP, HTTP
//! MJPEG/HLS, V4L2 devices, files) and isolates decoder crashes in another
//! process. Frames are scaled and letterboxed by ffmpeg to the camera's
//! configured size, so the frame size is known before the first byte.
//!
//! When processing falls behind, the newest frame wins: the unprocessed one
//! is replaced and counted as dropped (ENG-6). A stream that ends, fails or
//! stalls is reported and reopened with exponential backoff, without
//! disturbing other cameras.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Serialize;

use crate::ffmpeg::{Ffmpeg, Killer};

/// How a camera is read.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub name: String,
    /// Anything ffmpeg opens: `rtsp://…`, `http://…`, `/dev/video0`, a file.
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second to decode (ffmpeg drops the rest at the source).
    pub fps: f32,
    /// Files only: play at real-time speed, as a camera would.
    pub realtime: bool,
    /// Files only: start again at the end.
    pub looped: bool,
    /// Files only: hand over every frame (no newest-wins drops). For tests
    /// and retrospective runs, never for live cameras.
    pub lossless: bool,
    /// A stream with no frame for this long is restarted.
    pub stall_timeout: Duration,
    /// User name and password of a network stream. They reach ffmpeg as an
    /// ffconcat script on its stdin, never in its argv (which every local
    /// user can read in `ps`), and never in a log line or error.
    pub credentials: Option<vigil_core::camera::CameraCredentials>,
}

/// Protocols an ffconcat script on stdin may open: the network streams a
/// camera speaks, nothing from the local disk.
const STREAM_PROTOCOLS: &str = "pipe,rtsp,rtsps,rtp,srtp,tcp,udp,tls,http,https,httpproxy,crypto";

impl CameraConfig {
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            width: 1280,
            height: 720,
            fps: 10.0,
            realtime: false,
            looped: false,
            lossless: false,
            stall_timeout: Duration::from_secs(10),
            credentials: None,
        }
    }

    /// Whether the stream is opened through an ffconcat script on stdin
    /// (a network URL with credentials).
    fn uses_stdin(&self) -> bool {
        self.credentials.is_some() && self.url.contains("://")
    }

    /// The ffconcat script naming the stream with its credentials in.
    fn concat_script(&self) -> Option<String> {
        let c = self.credentials.as_ref().filter(|_| self.uses_stdin())?;
        let url = vigil_core::camera::url_with_credentials(&self.url, c);
        // ffconcat quotes with '…'; a quote inside is written '\''.
        let quoted = url.replace('\'', "'\\''");
        let mut script = format!("ffconcat version 1.0\nfile '{quoted}'\n");
        if self.url.starts_with("rtsp") {
            script.push_str("option rtsp_transport tcp\n");
        }
        Some(script)
    }

    /// Whether the source is a file that ends (rather than a live stream).
    pub fn is_file(&self) -> bool {
        !self.url.contains("://") && !self.url.starts_with("/dev/")
    }

    /// The frame size and letterbox every frame of this camera gets.
    fn scale_filter(&self) -> String {
        let (w, h) = (self.width, self.height);
        format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
        )
    }

    /// One frame as a JPEG, at the camera's frame size (the Zone editor
    /// draws on it in frame pixels). Bounded in time and size.
    pub fn snapshot_jpeg(&self, limit: Duration) -> Result<Vec<u8>, String> {
        let mut args = self.input_args(false);
        args.extend(
            [
                "-an",
                "-frames:v",
                "1",
                "-vf",
                &self.scale_filter(),
                "-f",
                "image2pipe",
                "-c:v",
                "mjpeg",
                "-q:v",
                "4",
                "pipe:1",
            ]
            .map(String::from),
        );
        let mut ffmpeg = self.spawn(&args, Some(limit))?;
        let mut jpeg = Vec::new();
        if let Some(out) = ffmpeg.stdout() {
            // 8K at q 4 is well under 16 MiB.
            let _ = out.take(16 << 20).read_to_end(&mut jpeg);
        }
        let done = ffmpeg.finish();
        if jpeg.len() > 2 && jpeg[..2] == [0xFF, 0xD8] {
            Ok(jpeg)
        } else if done.timed_out {
            Err(format!("no frame within {} s", limit.as_secs()))
        } else {
            Err(done.last_line().map_or_else(
                || "no frame from the camera".into(),
                crate::ffmpeg::redact_urls,
            ))
        }
    }

    /// Starts ffmpeg with `args` and, for a stream with credentials, writes
    /// its ffconcat script to stdin. The concat demuxer reads the script to
    /// the end before it opens the stream, so stdin is closed after it.
    pub(crate) fn spawn(&self, args: &[String], limit: Option<Duration>) -> Result<Ffmpeg, String> {
        let script = self.concat_script();
        let mut ffmpeg = Ffmpeg::spawn(args, limit, |cmd| {
            if script.is_some() {
                cmd.stdin(std::process::Stdio::piped());
            }
        })
        .map_err(|e| format!("cannot start ffmpeg: {e}"))?;
        if let (Some(script), Some(mut stdin)) = (script, ffmpeg.take_stdin()) {
            use std::io::Write;
            let _ = stdin.write_all(script.as_bytes());
        }
        Ok(ffmpeg)
    }

    /// Everything up to and including the input, for a run of ffmpeg.
    pub(crate) fn input_args(&self, for_frames: bool) -> Vec<String> {
        let mut a: Vec<String> = ["-hide_banner", "-loglevel", "error", "-nostdin"]
            .map(String::from)
            .to_vec();
        if self.is_file() {
            // A file opens nothing but files (no playlist that reaches out
            // to the network, no `concat:` of other files).
            a.extend(["-protocol_whitelist".into(), "file".into()]);
        }
        if self.is_file() && for_frames {
            if self.realtime {
                a.push("-re".into());
            }
            if self.looped {
                a.extend(["-stream_loop".into(), "-1".into()]);
            }
        }
        if self.uses_stdin() {
            a.retain(|x| x != "-nostdin");
            a.extend(
                [
                    "-f",
                    "concat",
                    "-safe",
                    "0",
                    "-protocol_whitelist",
                    STREAM_PROTOCOLS,
                    "-i",
                    "pipe:0",
                ]
                .map(String::from),
            );
        } else {
            if self.url.starts_with("rtsp://") {
                a.extend(["-rtsp_transport".into(), "tcp".into()]);
            }
            if self.url.starts_with("/dev/video") {
                a.extend(["-f".into(), "v4l2".into()]);
            }
            a.extend(["-i".into(), self.url.clone()]);
        }
        a
    }

    fn ffmpeg_args(&self) -> Vec<String> {
        let mut a = self.input_args(true);
        a.extend([
            "-an".into(),
            "-vf".into(),
            format!("fps={},{}", self.fps, self.scale_filter()),
            "-f".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            "rgb24".into(),
            "pipe:1".into(),
        ]);
        a
    }
}

/// A decoded frame with the time it arrived.
pub struct Frame {
    pub image: RgbImage,
    pub captured: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StreamState {
    Connecting,
    Streaming,
    /// Down; reconnecting after a backoff.
    Down,
    /// A file that ended (not looped).
    Finished,
    Stopped,
}

/// Per-camera counters, shared with whoever reports health.
#[derive(Debug, Default)]
pub struct StreamStats {
    pub frames_in: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub reconnects: AtomicU64,
}

struct Slot {
    frame: Option<Frame>,
    state: StreamState,
    last_error: Option<String>,
}

/// The newest frame of one camera, and the camera's state.
pub struct Stream {
    pub config: CameraConfig,
    slot: Mutex<Slot>,
    ready: Condvar,
    pub stats: StreamStats,
    stop: AtomicBool,
    child: Mutex<Option<Killer>>,
}

impl Stream {
    /// Starts reading the camera on a background thread.
    pub fn start(config: CameraConfig) -> Arc<Self> {
        let s = Arc::new(Self {
            config,
            slot: Mutex::new(Slot {
                frame: None,
                state: StreamState::Connecting,
                last_error: None,
            }),
            ready: Condvar::new(),
            stats: StreamStats::default(),
            stop: AtomicBool::new(false),
            child: Mutex::new(None),
        });
        let reader = s.clone();
        std::thread::Builder::new()
            .name(format!("ingest-{}", s.config.name))
            .spawn(move || reader.run())
            .ok();
        let watchdog = s.clone();
        std::thread::Builder::new()
            .name(format!("watchdog-{}", s.config.name))
            .spawn(move || watchdog.watch())
            .ok();
        s
    }

    pub fn state(&self) -> (StreamState, Option<String>) {
        let slot = self.lock();
        (slot.state, slot.last_error.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: StreamState, error: Option<String>) {
        let mut slot = self.lock();
        slot.state = state;
        if let Some(e) = error {
            // Whatever produced it, a camera's error never carries the
            // credentials of its URL (it is shown to every role).
            slot.last_error = Some(crate::ffmpeg::redact_urls(&e));
        }
        drop(slot);
        self.ready.notify_all();
    }

    /// Waits up to `timeout` for a frame newer than the last one taken.
    /// Returns None on timeout or once the stream has finished or stopped
    /// and holds no frame.
    pub fn next_frame(&self, timeout: Duration) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.lock();
        loop {
            if let Some(f) = slot.frame.take() {
                drop(slot);
                self.ready.notify_all();
                return Some(f);
            }
            if matches!(slot.state, StreamState::Finished | StreamState::Stopped) {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            slot = self
                .ready
                .wait_timeout(slot, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Whether the stream has ended for good (finished file or stopped).
    pub fn is_over(&self) -> bool {
        let slot = self.lock();
        matches!(slot.state, StreamState::Finished | StreamState::Stopped) && slot.frame.is_none()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.kill_child();
        self.set_state(StreamState::Stopped, None);
    }

    fn kill_child(&self) {
        if let Some(k) = self
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            k.kill();
        }
    }

    fn publish(&self, frame: Frame) {
        let mut slot = self.lock();
        if self.config.lossless {
            while slot.frame.is_some() && !self.stop.load(Ordering::SeqCst) {
                slot = self
                    .ready
                    .wait_timeout(slot, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        } else if slot.frame.is_some() {
            self.stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
        }
        slot.frame = Some(frame);
        slot.state = StreamState::Streaming;
        drop(slot);
        self.ready.notify_all();
    }

    fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        while !self.stop.load(Ordering::SeqCst) {
            self.set_state(StreamState::Connecting, None);
            let outcome = self.read_once();
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            match outcome {
                Ok(true) => {
                    // Frames flowed: the next failure starts a fresh backoff.
                    backoff = Duration::from_millis(500);
                }
                Ok(false) => {}
                Err(e) => self.set_state(StreamState::Down, Some(e)),
            }
            if self.config.is_file() && !self.config.looped && self.lock().last_error.is_none() {
                self.set_state(StreamState::Finished, None);
                return;
            }
            let (state, _) = self.state();
            if state != StreamState::Down {
                self.set_state(StreamState::Down, Some("stream ended".into()));
            }
            tracing::warn!(camera = %self.config.name, backoff_ms = backoff.as_millis() as u64, "camera stream down; reconnecting");
            self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
            let until = Instant::now() + backoff;
            while Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        self.set_state(StreamState::Stopped, None);
    }

    /// Runs ffmpeg until its stream ends. Ok(true) if any frame arrived.
    /// ffmpeg's stderr is drained as it runs (a chatty stream cannot stall
    /// the pipe) and its last lines, credentials redacted, become the
    /// camera's error.
    fn read_once(&self) -> Result<bool, String> {
        let mut ffmpeg = self.config.spawn(&self.config.ffmpeg_args(), None)?;
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(ffmpeg.killer());
        let (w, h) = (self.config.width, self.config.height);
        let size = (w * h * 3) as usize;
        let mut got_any = false;
        if let Some(stdout) = ffmpeg.stdout() {
            loop {
                let mut buf = vec![0u8; size];
                if stdout.read_exact(&mut buf).is_err() {
                    break;
                }
                got_any = true;
                self.lock().last_error = None;
                self.stats.frames_in.fetch_add(1, Ordering::Relaxed);
                let Some(image) = RgbImage::from_raw(w, h, buf) else {
                    break;
                };
                self.publish(Frame {
                    image,
                    captured: Instant::now(),
                });
            }
        }
        self.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        let done = ffmpeg.finish();
        let last = done.last_line().unwrap_or("").to_string();
        match done.status {
            Some(s) if s.success() && got_any => Ok(true),
            _ if got_any && self.config.is_file() => Ok(true),
            _ if got_any => Err(format!(
                "stream interrupted{}",
                if last.is_empty() {
                    String::new()
                } else {
                    format!(": {last}")
                }
            )),
            _ => Err(if last.is_empty() {
                "no frames from the source".into()
            } else {
                last
            }),
        }
    }

    /// Kills ffmpeg when no frame has arrived for the stall timeout, so
    /// `run` reconnects.
    fn watch(self: Arc<Self>) {
        let mut last_count = 0;
        let mut last_change = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(250));
            let n = self.stats.frames_in.load(Ordering::Relaxed);
            let (state, _) = self.state();
            // A stream that never delivers its first frame is as stuck as
            // one that stops: both are restarted.
            let waiting = matches!(state, StreamState::Streaming | StreamState::Connecting);
            if n != last_count || !waiting || self.config.lossless {
                last_count = n;
                last_change = Instant::now();
            } else if last_change.elapsed() > self.config.stall_timeout {
                tracing::warn!(camera = %self.config.name, "camera stalled; restarting");
                self.lock().last_error = Some(if state == StreamState::Connecting {
                    "no frame since connecting".into()
                } else {
                    "stalled".into()
                });
                self.kill_child();
                last_change = Instant::now();
            }
            if matches!(state, StreamState::Finished | StreamState::Stopped) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Security finding 4: an unreachable camera's error held its URL with
    /// the password, and that error is served to every role.
    #[test]
    fn a_failing_camera_reports_its_error_without_credentials() {
        if std::process::Command::new("ffmpeg")
            .arg("-version")
            .output()
            .is_err()
        {
            eprintln!("skipped: no ffmpeg");
            return;
        }
        for url in [
            "rtsp://user:s3cr3tRTSP@127.0.0.1:9/x",
            "http://user:s3cr3tHTTP@127.0.0.1:9/x",
        ] {
            let s = Stream::start(CameraConfig::new("door", url));
            let deadline = Instant::now() + Duration::from_secs(20);
            let error = loop {
                if let (StreamState::Down, Some(e)) = s.state() {
                    break e;
                }
                assert!(Instant::now() < deadline, "{url}: never reported down");
                std::thread::sleep(Duration::from_millis(50));
            };
            s.stop();
            assert!(!error.contains("s3cr3t"), "{url}: {error}");
            assert!(!error.contains("user:"), "{url}: {error}");
        }
    }
}
