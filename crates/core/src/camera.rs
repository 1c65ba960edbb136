//! A registered camera and the rules its settings must meet.
//!
//! An Administrator registers a force's cameras once; an Application then
//! names the ones a Deployment will use (its location, §7.3) and the
//! Written Authority covers exactly those. Credentials are not part of this
//! type: the store seals them under the master key and hands them only to
//! the process that opens the stream, so no API answer, log line or
//! command line can carry them.

use serde::{Deserialize, Serialize};

/// What an Administrator sets for a camera (everything but credentials).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraSettings {
    /// Shown to Operators and written on every Alert.
    pub name: String,
    /// `rtsp://`, `rtsps://`, `http(s)://`, `/dev/videoN` or a file's absolute path,
    /// with no user name or password in it (those go in the credentials).
    pub url: String,
    /// Frames per second analysed (the source may offer more).
    #[serde(default = "default_fps")]
    pub fps: f32,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
    /// The Zone of Recognition, in frame pixels; empty: the whole frame.
    #[serde(default)]
    pub zone: Vec<[f32; 2]>,
    /// Faces with a smaller inter-eye distance (pixels) are not analysed.
    #[serde(default = "default_min_ied")]
    pub min_inter_eye_distance: f32,
    /// Faces analysed per frame at most (the largest are kept).
    #[serde(default = "default_max_faces")]
    pub max_faces: usize,
    /// Record the CCTV footage of Active Deployments (§7.16).
    #[serde(default)]
    pub record_footage: bool,
    /// Files only: start again at the end (test and demo footage).
    #[serde(default)]
    pub looped: bool,
    /// The long side, in pixels, at which the face detector sees each
    /// frame (scaled down, never up). Unset: the detector's own 640x640
    /// input. Faces under about 40 px in a 1080p frame are lost at 640 and
    /// found at 1920, for two to three times the detection cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_size: Option<u32>,
}

/// The range of [`CameraSettings::detection_size`].
pub const DETECTION_SIZES: std::ops::RangeInclusive<u32> = 64..=4096;

fn default_fps() -> f32 {
    10.0
}
fn default_width() -> u32 {
    1280
}
fn default_height() -> u32 {
    720
}
fn default_min_ied() -> f32 {
    50.0
}
fn default_max_faces() -> usize {
    20
}

/// A registered camera as every part of Vigil sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub id: String,
    #[serde(flatten)]
    pub settings: CameraSettings,
    /// Whether credentials are stored (never what they are).
    pub has_credentials: bool,
    pub disabled: bool,
}

/// The frame a camera is read at: 0.1 to 60 frames per second, an even
/// size from 64x64 up to 7680x4320 (8K).
pub fn check_frame(width: u32, height: u32, fps: f32) -> Result<(), CameraError> {
    if !(0.1..=60.0).contains(&fps) {
        return Err(CameraError("fps must lie between 0.1 and 60".into()));
    }
    if width < 64
        || height < 64
        || width > 7680
        || height > 4320
        || width % 2 == 1
        || height % 2 == 1
    {
        return Err(CameraError(
            "the frame size must be even, from 64x64 up to 7680x4320".into(),
        ));
    }
    Ok(())
}

/// A camera's counters as its worker reports them through its lease
/// (whichever process runs it) and `/metrics` exposes them: counts and the
/// Recognition Time distribution, no personal data. Missing fields read as
/// zero, so an older worker's report still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CameraCounts {
    pub camera: String,
    pub frames_in: u64,
    pub frames_processed: u64,
    pub frames_dropped: u64,
    pub faces: u64,
    pub passers_by: u64,
    pub alerts: u64,
    pub reconnects: u64,
    /// Recognition Times as a cumulative histogram: `(upper bound ms,
    /// Alerts at or under it)`, bounds rising.
    pub recognition_time_buckets: Vec<(f64, u64)>,
    pub recognition_time_sum_ms: f64,
    pub recognition_time_count: u64,
}

/// Burns an export's audit reference into a clip of recorded footage
/// (every frame and the metadata), so a copy that leaves the system names
/// the audit entry that recorded who exported it.
pub trait ClipWatermark: Send + Sync {
    fn watermark(&self, clip: &[u8], text: &str) -> Result<Vec<u8>, String>;
}

/// A user name and password for a stream.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for CameraCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CameraCredentials(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CameraError(pub String);

/// Takes one frame of a camera now, as a JPEG at the camera's frame size,
/// for drawing its Zone of Recognition. The live stage implements it with
/// ffmpeg; the server holds it without linking ffmpeg.
pub trait CameraSnapshot: Send + Sync {
    fn snapshot(
        &self,
        camera: &Camera,
        credentials: Option<CameraCredentials>,
    ) -> Result<Vec<u8>, String>;
}

const SCHEMES: [&str; 4] = ["rtsp://", "rtsps://", "http://", "https://"];

impl CameraSettings {
    /// Settings with the defaults a force would start from.
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            fps: default_fps(),
            width: default_width(),
            height: default_height(),
            zone: Vec::new(),
            min_inter_eye_distance: default_min_ied(),
            max_faces: default_max_faces(),
            record_footage: false,
            looped: false,
            detection_size: None,
        }
    }

    /// Checks every field; the first problem found is the error.
    pub fn validate(&self) -> Result<(), CameraError> {
        let bad = |m: String| Err(CameraError(m));
        let name = self.name.trim();
        if name.is_empty() || name.len() > 80 {
            return bad("a camera needs a name of at most 80 characters".into());
        }
        if name.chars().any(|c| c.is_control()) {
            return bad("a camera name has no control characters".into());
        }
        let url = self.url.trim();
        if url.is_empty() || url.len() > 2000 || url.chars().any(|c| c.is_control()) {
            return bad("the stream URL is empty, too long or has control characters".into());
        }
        let network = url.contains("://");
        if network && !SCHEMES.iter().any(|s| url.starts_with(s)) {
            return bad(format!(
                "the stream URL must start with one of {}",
                SCHEMES.join(", ")
            ));
        }
        if network && has_userinfo(url) {
            return bad(
                "put the user name and password in the camera's credentials, not in its URL \
                 (URLs are shown and logged; credentials are sealed)"
                    .into(),
            );
        }
        // A file or device is named by its absolute path: anything else
        // (`concat:`, `pipe:`, `-i`, a relative path) would be read by ffmpeg
        // as a protocol, an option or somebody else's file.
        if !network && !url.starts_with('/') {
            return bad("a file or device is given by its absolute path (/…)".into());
        }
        check_frame(self.width, self.height, self.fps)?;
        if !self.zone.is_empty() {
            if self.zone.len() < 3 || self.zone.len() > 64 {
                return bad("a Zone of Recognition has 3 to 64 points".into());
            }
            let (w, h) = (self.width as f32, self.height as f32);
            if self
                .zone
                .iter()
                .any(|[x, y]| !(0.0..=w).contains(x) || !(0.0..=h).contains(y))
            {
                return bad(format!(
                    "every Zone point must lie inside the {}x{} frame",
                    self.width, self.height
                ));
            }
        }
        if !(10.0..=1000.0).contains(&self.min_inter_eye_distance) {
            return bad(
                "the minimum inter-eye distance must lie between 10 and 1000 pixels".into(),
            );
        }
        if self.max_faces == 0 || self.max_faces > 200 {
            return bad("the Faces-per-frame limit must lie between 1 and 200".into());
        }
        if let Some(n) = self.detection_size {
            if !DETECTION_SIZES.contains(&n) {
                return bad(format!(
                    "the detection size must lie between {} and {} pixels",
                    DETECTION_SIZES.start(),
                    DETECTION_SIZES.end()
                ));
            }
        }
        Ok(())
    }
}

impl CameraCredentials {
    pub fn validate(&self) -> Result<(), CameraError> {
        let ok = |s: &str| s.len() <= 256 && !s.chars().any(|c| c.is_control());
        if self.username.is_empty() || !ok(&self.username) || !ok(&self.password) {
            return Err(CameraError(
                "credentials need a user name; neither part may exceed 256 characters or hold control characters".into(),
            ));
        }
        Ok(())
    }
}

/// Whether a network URL carries `user[:password]@` before its host.
fn has_userinfo(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

/// The URL with credentials put in, percent-encoded, for the one process
/// that opens the stream (it reaches ffmpeg on a pipe, never argv).
pub fn url_with_credentials(url: &str, c: &CameraCredentials) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    format!(
        "{scheme}://{}:{}@{rest}",
        percent(&c.username),
        percent(&c.password)
    )
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_settings_pass_and_each_bad_field_is_named() {
        let good = CameraSettings::new("North gate", "rtsp://10.0.0.5:554/stream1");
        assert!(good.validate().is_ok());
        type Mutation = Box<dyn Fn(&mut CameraSettings)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|c| c.name = " ".into()), "name"),
            (
                Box::new(|c| c.url = "rtsp://admin:pw@10.0.0.5/s".into()),
                "credentials",
            ),
            (Box::new(|c| c.url = "gopher://x/y".into()), "start with"),
            (Box::new(|c| c.url = "-i evil".into()), "absolute"),
            (
                Box::new(|c| c.url = "concat:/etc/a|/etc/b".into()),
                "absolute",
            ),
            (Box::new(|c| c.url = "clips/door.mkv".into()), "absolute"),
            (Box::new(|c| c.fps = 0.0), "fps"),
            (Box::new(|c| c.width = 1281), "even"),
            (
                Box::new(|c| c.zone = vec![[0.0, 0.0], [10.0, 10.0]]),
                "3 to 64",
            ),
            (
                Box::new(|c| c.zone = vec![[0.0, 0.0], [5000.0, 0.0], [0.0, 10.0]]),
                "inside",
            ),
            (Box::new(|c| c.min_inter_eye_distance = 1.0), "inter-eye"),
            (Box::new(|c| c.max_faces = 0), "Faces-per-frame"),
            (Box::new(|c| c.detection_size = Some(32)), "detection size"),
            (
                Box::new(|c| c.detection_size = Some(10_000)),
                "detection size",
            ),
        ];
        for (mutate, expect) in cases {
            let mut c = good.clone();
            mutate(&mut c);
            let e = c.validate().expect_err(expect);
            assert!(e.0.contains(expect), "{expect}: {}", e.0);
        }
        // A path with an @ in it is not userinfo.
        let mut p = good.clone();
        p.url = "rtsp://10.0.0.5/live@main".into();
        assert!(p.validate().is_ok());
        p.detection_size = Some(1920);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn credentials_are_percent_encoded_into_the_url_and_never_debug_printed() {
        let c = CameraCredentials {
            username: "cam op".into(),
            password: "p@ss:w/rd".into(),
        };
        assert_eq!(
            url_with_credentials("rtsp://10.0.0.5:554/s", &c),
            "rtsp://cam%20op:p%40ss%3Aw%2Frd@10.0.0.5:554/s"
        );
        assert!(!format!("{c:?}").contains("ss"));
        assert_eq!(url_with_credentials("/dev/video0", &c), "/dev/video0");
    }
}
