//! Live Facial Recognition run from an empty install, as a force would:
//! `vigil init`, people and a camera made through the API, the whole
//! Deployment workflow through the API, and a real RTSP camera (Debian's
//! GStreamer RTSP server, with credentials) playing a video built from the
//! registry's sample photos. No demo seeding.
//!
//! On SQLite `vigil serve` runs the camera itself; on PostgreSQL a server
//! with `--no-cameras` and two `vigil worker`s share it by lease, and the
//! worker running it is killed to see the other take over.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CAMERA_USER: &str = "camop";
const CAMERA_PASSWORD: &str = "rtsp-Secret-4471";
const SUBJECT: &str = "CUSTODY-OBAMA";
const SECOND_SUBJECT: &str = "CUSTODY-BIDEN";

/// The two tests each run a camera, a server and workers with face
/// analysis: on two cores they run one at a time, so neither starves the
/// other past its time limits.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A child process killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("vigil")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test stream: four registry photos, 2.5 s each with 2 s of empty
/// frame after, letterboxed to 1280x720 and encoded as H.264 at 10 fps,
/// repeated for two and a half minutes.
fn test_video(dir: &Path) -> PathBuf {
    let samples = common::samples();
    let out = dir.join("crowd.mp4");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"]);
    let photos = ["obama_3.jpg", "sunak_1.jpg", "biden_1.jpg", "macron_2.jpg"];
    for p in photos {
        cmd.args(["-loop", "1", "-framerate", "10", "-t", "2.5", "-i"])
            .arg(samples.join(p));
    }
    let scale = "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p";
    let mut filter = String::new();
    for i in 0..photos.len() {
        // Two seconds of empty street between people, so each is a new
        // Recognition Opportunity (track) as passers-by would be.
        filter.push_str(&format!(
            "[{i}:v]{scale},tpad=stop_mode=add:stop_duration=2:color=black[v{i}];"
        ));
    }
    for i in 0..photos.len() {
        filter.push_str(&format!("[v{i}]"));
    }
    filter.push_str(&format!(
        "concat=n={}:v=1:a=0,loop=8:180:0[out]",
        photos.len()
    ));
    let status = cmd
        .args(["-filter_complex", &filter, "-map", "[out]", "-r", "10"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-bf",
            "0",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "building the test video");
    out
}

/// Debian's GStreamer RTSP server on the test video, with Basic auth.
fn rtsp_camera(video: &Path) -> (Proc, String) {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rtsp-test-server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args([&port.to_string(), "/cam"])
        .arg(video)
        .arg(CAMERA_USER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with the GStreamer RTSP server (scripts/setup.sh installs it)");
    writeln!(child.stdin.take().unwrap(), "{CAMERA_PASSWORD}").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "RTSP server did not start");
    (Proc(child), format!("rtsp://127.0.0.1:{port}/cam"))
}

#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

/// One HTTP/1.1 request; (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<&Value>,
) -> (u16, String) {
    let (status, _, body) = http_bytes(port, method, path, s, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One HTTP/1.1 request; (status, head, body bytes).
fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<&Value>,
) -> (u16, String, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = s
        .map(|s| format!("Cookie: {}\r\nX-Vigil-CSRF: {}\r\n", s.cookie, s.csrf))
        .unwrap_or_default();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let rest = out.get(split + 4..).unwrap_or_default();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let rest = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    (status, head, rest)
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..eol]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

fn ok(port: u16, method: &str, path: &str, s: &Session, body: Option<&Value>) -> Value {
    let (st, b) = http(port, method, path, Some(s), body);
    assert!((200..300).contains(&st), "{method} {path}: {st} {b}");
    serde_json::from_str(&b).unwrap_or(Value::Null)
}

/// Logs in for the first time with a one-time password, choosing a new one.
fn first_login(port: u16, user: &str, otp: &str) -> Session {
    // A strong password that does not hold the user name.
    let tag: String = user.bytes().map(|b| format!("{:x}", b % 16)).collect();
    let body = json!({"user": user, "password": otp, "new_password": format!("harbour-violet-lantern-{tag}-77")});
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let b = body.to_string();
    write!(c, "POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let (head, rest) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "login {user}: {out}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l[11..].trim())
        })
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let v: Value = serde_json::from_str(&dechunk_or(rest)).unwrap();
    Session {
        cookie,
        csrf: v["csrf"].as_str().unwrap().into(),
    }
}

fn dechunk_or(s: &str) -> String {
    if s.trim_start().starts_with('{') {
        s.to_string()
    } else {
        String::from_utf8_lossy(&dechunk(s.as_bytes())).into_owned()
    }
}

/// A `vigil` process on `data` with these arguments; its stderr goes to
/// `log` (checked for secrets afterwards).
fn vigil(data: &Path, env: &[(&str, &str)], args: &[&str], log: &Path) -> Proc {
    let mut c = Command::new(bin());
    c.arg("--data-dir")
        .arg(data)
        .args(["--provider", "cpu"])
        .args(args);
    c.env("VIGIL_LOG", "info")
        .env_remove("DATABASE_URL")
        .env_remove("VIGIL_MASTER_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    let log = std::fs::File::create(log).unwrap();
    Proc(c.stdout(Stdio::null()).stderr(log).spawn().unwrap())
}

fn run_ok(data: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut c = Command::new(bin());
    c.arg("--data-dir")
        .arg(data)
        .args(["--provider", "cpu"])
        .args(args);
    c.env("VIGIL_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("VIGIL_MASTER_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "vigil {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_listening(port: u16) {
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("vigil serve did not start");
}

/// The reference images: two photos of one subject and one of another,
/// as `vigil enrol --bulk` reads them (DIR/<subject>/...).
fn reference_dir(dir: &Path) -> PathBuf {
    let samples = common::samples();
    let refs = dir.join("custody");
    for (subject, photos) in [
        (SUBJECT, &["obama_1.jpg", "obama_2.jpg"][..]),
        (SECOND_SUBJECT, &["biden_1.jpg"][..]),
    ] {
        std::fs::create_dir_all(refs.join(subject)).unwrap();
        for p in photos {
            std::fs::copy(samples.join(p), refs.join(subject).join(p)).unwrap();
        }
    }
    refs
}

struct Force {
    admin: Session,
    applicant: Session,
    npcc: Session,
    ao: Session,
    silver: Session,
    operator: Session,
    compiler: Session,
}

/// The first Administrator logs in and adds the people of a Deployment.
fn force(port: u16, admin_otp: &str) -> Force {
    let admin = first_login(port, "chief", admin_otp);
    let add = |id: &str, rank: &str, roles: &[&str]| {
        let v = ok(
            port,
            "POST",
            "/api/v1/users",
            &admin,
            Some(
                &json!({"id": id, "display_name": id, "rank": rank, "roles": roles, "reason": "LFR team"}),
            ),
        );
        first_login(port, id, v["one_time_password"].as_str().unwrap())
    };
    Force {
        applicant: add("applicant", "Inspector", &["Applicant"]),
        npcc: add("npcc", "Commander", &[]),
        ao: add("ao", "Superintendent", &["AuthorisingOfficer"]),
        silver: add("silver", "ChiefInspector", &[]),
        operator: add("operator", "Constable", &[]),
        compiler: add("compiler", "Staff", &[]),
        admin,
    }
}

/// Camera registered, Deployment drafted naming it, consulted, authorised,
/// people assigned, Watchlist compiled (one subject), activated.
fn deployment(port: u16, f: &Force, rtsp_url: &str) -> (String, String) {
    let cam = ok(
        port,
        "POST",
        "/api/v1/cameras",
        &f.admin,
        Some(&json!({
        "name": "North gate", "url": rtsp_url, "fps": 5, "width": 1280, "height": 720,
        "min_inter_eye_distance": 20, "max_faces": 10, "record_footage": true,
        "credentials": {"username": CAMERA_USER, "password": CAMERA_PASSWORD}})),
    );
    let cam_id = cam["id"].as_str().unwrap().to_string();
    assert_eq!(cam["has_credentials"], true);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut app = serde_json::to_value(vigil_core::fixtures::complete_application(
        "North gate",
        now,
        now + 3_600_000,
    ))
    .unwrap();
    app["cameras"] = json!([cam_id]);
    let v = ok(
        port,
        "POST",
        "/api/v1/deployments",
        &f.applicant,
        Some(&app),
    );
    let dep = v["deployment"]["id"].as_str().unwrap().to_string();
    let step = |s: &Session, body: Value| {
        ok(
            port,
            "POST",
            &format!("/api/v1/deployments/{dep}/transitions"),
            s,
            Some(&body),
        )
    };
    step(&f.applicant, json!({"action": "submit"}));
    step(
        &f.npcc,
        json!({"action": "consult", "reason": "no concerns"}),
    );
    step(
        &f.ao,
        json!({"action": "authorise", "authority": {"reasoning": "necessary and proportionate", "alternatives_considered": "patrols", "threshold": 0.45}}),
    );
    for (u, r) in [
        ("silver", "Silver"),
        ("operator", "Operator"),
        ("compiler", "WatchlistCompiler"),
    ] {
        ok(
            port,
            "POST",
            &format!("/api/v1/deployments/{dep}/assignments"),
            &f.admin,
            Some(&json!({"user": u, "role": r})),
        );
    }
    add_subject(port, f, &dep, SUBJECT);
    step(&f.silver, json!({"action": "activate"}));
    (dep, cam_id)
}

fn add_subject(port: u16, f: &Force, dep: &str, subject: &str) {
    let refs = ok(
        port,
        "GET",
        &format!("/api/v1/deployments/{dep}/reference-images?q={subject}"),
        &f.compiler,
        None,
    );
    let ids: Vec<Value> = refs["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["image"]["subject_ref"] == subject)
        .map(|r| r["image"]["id"].clone())
        .collect();
    assert!(!ids.is_empty(), "{subject} in the reference store: {refs}");
    ok(
        port,
        "POST",
        &format!("/api/v1/deployments/{dep}/watchlist"),
        &f.compiler,
        Some(
            &json!({"reference_image_ids": ids, "category": "Primary", "reason": "wanted on warrant"}),
        ),
    );
}

/// An Operator's open event stream.
struct Events {
    stream: TcpStream,
    buf: String,
}

impl Events {
    fn open(port: u16, dep: &str, s: &Session) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET /api/v1/deployments/{dep}/alerts/events HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n", s.cookie).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        Self {
            stream,
            buf: String::new(),
        }
    }

    /// Every Alert raised during `d`.
    fn raised_during(&mut self, d: Duration) -> Vec<Value> {
        let until = Instant::now() + d;
        let mut out = Vec::new();
        let mut chunk = [0u8; 8192];
        while Instant::now() < until {
            if let Ok(n) = self.stream.read(&mut chunk) {
                assert!(n > 0, "event stream closed");
                self.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
            while let Some(at) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..at + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    if v["kind"] == "raised" {
                        out.push(v["alert"].clone());
                    }
                }
            }
        }
        out
    }

    /// Waits for a raised Alert of `subject`; returns its record.
    fn alert_for(&mut self, subject: &str, within: Duration) -> Value {
        let until = Instant::now() + within;
        let mut chunk = [0u8; 8192];
        loop {
            while let Some(at) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..at + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if v["kind"] == "raised" && v["alert"]["subject_ref"] == subject {
                    return v["alert"].clone();
                }
            }
            assert!(
                Instant::now() < until,
                "no Alert for {subject} within {within:?}"
            );
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("event stream closed"),
                Ok(n) => self.buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Err(_) => {}
            }
        }
    }
}

fn f_watchlist_len(port: u16, dep: &str, s: &Session) -> u64 {
    let v = ok(
        port,
        "GET",
        &format!("/api/v1/deployments/{dep}/watchlist"),
        s,
        None,
    );
    v["entries"].as_array().map_or(0, |a| a.len() as u64)
}

fn camera_health(port: u16, dep: &str, s: &Session) -> Value {
    let v = ok(
        port,
        "GET",
        &format!("/api/v1/deployments/{dep}/cameras"),
        s,
        None,
    );
    v["cameras"][0]["health"].clone()
}

fn wait_health(
    port: u16,
    dep: &str,
    s: &Session,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + within;
    loop {
        let h = camera_health(port, dep, s);
        if pred(&h) {
            return h;
        }
        assert!(
            Instant::now() < until,
            "camera health never as expected: {h}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The Operator exports the footage around an Alert: an MP4 whose frames
/// and metadata carry the audit entry of the export, and the entry names
/// the Operator. Segments are sealed as they are recorded, so the export
/// waits for the first one after the Alert.
fn export_clip(port: u16, f: &Force, alert: &str) {
    let path = format!("/api/v1/alerts/{alert}/footage");
    let until = Instant::now() + Duration::from_secs(40);
    // The first segment can be short (the stream was still connecting):
    // export again until the clip holds a few seconds.
    loop {
        let (st, head, mp4) = http_bytes(port, "GET", &path, Some(&f.operator), None);
        if st == 200 {
            assert_eq!(&mp4[4..8], b"ftyp", "an MP4");
            let seq: i64 = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-vigil-audit-entry:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse().ok())
                .expect("the export's audit entry");
            let (comment, duration) = probe(&mp4);
            assert!(comment.contains(&format!("audit entry {seq}")), "{comment}");
            if duration >= 2.0 {
                return;
            }
        } else {
            assert_eq!(st, 404, "{}", String::from_utf8_lossy(&mp4));
        }
        assert!(
            Instant::now() < until,
            "no footage of the Alert of 2 s or more within 40 s"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// An MP4's metadata comment and duration, by ffprobe.
fn probe(mp4: &[u8]) -> (String, f64) {
    let file = std::env::temp_dir().join(format!("vigil-clip-{}.mp4", std::process::id()));
    std::fs::write(&file, mp4).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags=comment",
            "-of",
            "json",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let comment = v["format"]["tags"]["comment"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let duration = v["format"]["duration"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0.0);
    (comment, duration)
}

/// Silver suspends; the camera panel says Suspended, frames keep arriving
/// (counted as paused) and none is analysed. Returns the frames analysed.
fn suspend_and_check(port: u16, f: &Force, dep: &str) -> u64 {
    ok(
        port,
        "POST",
        &format!("/api/v1/deployments/{dep}/transitions"),
        &f.silver,
        Some(&json!({"action": "suspend", "reason": "crowd surge"})),
    );
    let h = wait_health(port, dep, &f.operator, Duration::from_secs(10), |h| {
        h["analysis"] == "Suspended"
    });
    // The camera says how many Watchlist entries it matches (all of them
    // here) and lists none as not live.
    let entries = f_watchlist_len(port, dep, &f.operator);
    assert_eq!(h["watchlist"]["live"].as_u64(), Some(entries), "{h}");
    assert_eq!(h["watchlist"]["not_live"], json!([]), "{h}");
    std::thread::sleep(Duration::from_secs(2));
    let before = camera_health(port, dep, &f.operator)["frames_processed"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let after = camera_health(port, dep, &f.operator);
    assert_eq!(
        after["frames_processed"].as_u64().unwrap(),
        before,
        "frames analysed while Suspended: {h} -> {after}"
    );
    assert!(after["frames_paused"].as_u64().unwrap() > 0, "{after}");
    before
}

/// No API answer, log line or process argument list holds the camera's
/// password.
fn assert_secret_nowhere(port: u16, f: &Force, dep: &str, logs: &[&Path]) {
    for path in [
        "/api/v1/cameras".to_string(),
        format!("/api/v1/deployments/{dep}/cameras"),
        "/metrics".into(),
    ] {
        let (_, b) = http(port, "GET", &path, Some(&f.admin), None);
        assert!(!b.contains(CAMERA_PASSWORD), "{path}: {b}");
    }
    let (_, audit) = http(port, "GET", "/api/v1/cameras", Some(&f.operator), None);
    assert!(
        !audit.contains(CAMERA_PASSWORD) && !audit.contains("rtsp://"),
        "{audit}"
    );
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            !text.contains(CAMERA_PASSWORD),
            "{}: holds the password",
            log.display()
        );
    }
    let ps = Command::new("ps")
        .args(["-eww", "-o", "args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(ps.contains("ffmpeg"), "ffmpeg should be running: {ps}");
    assert!(!ps.contains(CAMERA_PASSWORD), "password on a command line");
}

#[test]
fn lfr_on_sqlite_with_vigil_serve_alone_follows_the_deployment() {
    let _one = exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_camera, rtsp) = rtsp_camera(&test_video(tmp.path()));
    let out = run_ok(&data, &[], &["init", "--admin", "chief"]);
    let otp = out
        .split("one-time password: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    run_ok(
        &data,
        &[],
        &[
            "enrol",
            "--bulk",
            reference_dir(tmp.path()).to_str().unwrap(),
        ],
    );
    let port = free_port();
    let log = tmp.path().join("serve.log");
    let _serve = vigil(
        &data,
        &[],
        &[
            "serve",
            "--no-second-factor",
            "--footage-segment-seconds",
            "3",
            "--port",
            &port.to_string(),
        ],
        &log,
    );
    wait_listening(port);
    let f = force(port, &otp);
    let (dep, _) = deployment(port, &f, &rtsp);
    let mut events = Events::open(port, &dep, &f.operator);
    let a = events.alert_for(SUBJECT, Duration::from_secs(90));
    assert_eq!(a["camera"], "North gate");
    assert_secret_nowhere(port, &f, &dep, &[&log]);
    export_clip(port, &f, a["id"].as_str().unwrap());

    // A subject added while Active reaches the matcher within seconds.
    add_subject(port, &f, &dep, SECOND_SUBJECT);
    events.alert_for(SECOND_SUBJECT, Duration::from_secs(60));

    // A subject removed while Active stops raising Alerts within seconds,
    // while the other still does (the video shows both every 18 s).
    let list = ok(
        port,
        "GET",
        &format!("/api/v1/deployments/{dep}/watchlist"),
        &f.compiler,
        None,
    );
    let entry = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject_ref"] == SUBJECT)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        port,
        "POST",
        &format!("/api/v1/deployments/{dep}/watchlist/{entry}/removal"),
        &f.compiler,
        Some(&json!({"reason": "arrested this morning"})),
    );
    events.raised_during(Duration::from_secs(3));
    let after = events.raised_during(Duration::from_secs(22));
    assert!(
        after.iter().any(|a| a["subject_ref"] == SECOND_SUBJECT),
        "the camera stopped matching"
    );
    assert!(
        !after.iter().any(|a| a["subject_ref"] == SUBJECT),
        "Alert for a removed subject"
    );

    // Suspend: analysis stops within a second, the stream stays up.
    let before = suspend_and_check(port, &f, &dep);
    let step = |s: &Session, body: Value| {
        ok(
            port,
            "POST",
            &format!("/api/v1/deployments/{dep}/transitions"),
            s,
            Some(&body),
        )
    };
    step(
        &f.silver,
        json!({"action": "resume", "reason": "calm again"}),
    );
    wait_health(port, &dep, &f.operator, Duration::from_secs(10), |h| {
        h["analysis"] == "Active" && h["frames_processed"].as_u64().unwrap_or(0) > before
    });

    // Conclude: the camera is stopped and released.
    step(
        &f.silver,
        json!({"action": "conclude", "reason": "event over"}),
    );
    wait_health(port, &dep, &f.operator, Duration::from_secs(15), |h| {
        h["state"] == "Idle"
    });
}

fn pg_database(admin_url: &str) -> String {
    let db = format!("vigil_lfr_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::postgres::PgConnection::connect(admin_url)
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await
            .unwrap();
    });
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, String::new()), |(b, q)| (b, format!("?{q}")));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    format!("{base}/{db}{query}")
}

fn worker_pid(h: &Value) -> Option<u32> {
    h["worker"].as_str()?.split(':').nth(1)?.parse().ok()
}

#[test]
fn lfr_on_postgresql_with_two_workers_survives_losing_one() {
    let _one = exclusive();
    let admin_url = std::env::var("VIGIL_TEST_PG_URL")
        .expect("VIGIL_TEST_PG_URL is not set: run the tests with scripts/test.sh");
    let url = pg_database(&admin_url);
    let key = "7f".repeat(32);
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("VIGIL_MASTER_KEY", key.as_str()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (_camera, rtsp) = rtsp_camera(&test_video(tmp.path()));
    let dir = |n: &str| tmp.path().join(n);
    let out = run_ok(&dir("server"), &env, &["init", "--admin", "chief"]);
    let otp = out
        .split("one-time password: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    run_ok(
        &dir("server"),
        &env,
        &[
            "enrol",
            "--bulk",
            reference_dir(tmp.path()).to_str().unwrap(),
        ],
    );
    let port = free_port();
    let logs = [dir("serve.log"), dir("w1.log"), dir("w2.log")];
    let _serve = vigil(
        &dir("server"),
        &env,
        &[
            "serve",
            "--no-cameras",
            "--no-second-factor",
            "--port",
            &port.to_string(),
        ],
        &logs[0],
    );
    let mut workers = [
        Some(vigil(
            &dir("w1"),
            &env,
            &["worker", "--lease-seconds", "5"],
            &logs[1],
        )),
        Some(vigil(
            &dir("w2"),
            &env,
            &["worker", "--lease-seconds", "5"],
            &logs[2],
        )),
    ];
    wait_listening(port);
    let f = force(port, &otp);
    let (dep, _) = deployment(port, &f, &rtsp);
    let mut events = Events::open(port, &dep, &f.operator);
    events.alert_for(SUBJECT, Duration::from_secs(120));
    let h = wait_health(port, &dep, &f.operator, Duration::from_secs(10), |h| {
        worker_pid(h).is_some()
    });
    let first = worker_pid(&h).unwrap();
    assert_secret_nowhere(
        port,
        &f,
        &dep,
        &logs.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );

    // Kill the worker running the camera: the other takes it over within
    // a lease and the next Alert still reaches the Operator.
    let which = workers
        .iter()
        .position(|w| w.as_ref().is_some_and(|p| p.0.id() == first))
        .expect("the lease names one of the workers");
    let mut dead = workers[which].take().unwrap();
    let _ = dead.0.kill();
    let _ = dead.0.wait();
    let h = wait_health(port, &dep, &f.operator, Duration::from_secs(30), |h| {
        worker_pid(h).is_some_and(|p| p != first) && h["state"] == "Streaming"
    });
    let second = worker_pid(&h).unwrap();
    assert!(workers.iter().flatten().any(|p| p.0.id() == second));
    events.alert_for(SUBJECT, Duration::from_secs(60));

    // Suspend on the server reaches the worker: no frame analysed.
    suspend_and_check(port, &f, &dep);
}
