//! `vigil live`: run Live Facial Recognition headless for one Deployment,
//! and `vigil bench live`: its throughput on this machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use vigil_live::{
    CameraConfig, CameraHealth, CameraSetup, DeploymentLink, LiveRun, Supervisor, SupervisorConfig,
    Watchlist, Zone,
};
use vigil_store::{Store, SystemClock};

use crate::commands;
use crate::governance::DataArgs;
use crate::Global;

#[derive(Args)]
pub struct LiveArgs {
    /// The Deployment to run (it must be Active for frames to be analysed).
    #[arg(long)]
    deployment: String,
    /// A camera: NAME=URL[,fps=10][,size=1280x720][,loop][,realtime][,zone=x:y;x:y;…][,min-ied=50][,max-faces=20].
    /// URL is anything ffmpeg opens: rtsp://, http://, /dev/video0, a file.
    /// A URL with credentials belongs in --camera-file, not on the command
    /// line (which every local user can read).
    #[arg(long = "camera", required_unless_present = "camera_file")]
    cameras: Vec<String>,
    /// Cameras, one NAME=URL[,options] per line (# comments allowed): keep
    /// credentials here, in a file only Vigil's user can read.
    #[arg(long = "camera-file")]
    camera_file: Option<std::path::PathBuf>,
    /// Stop after this many seconds (default: until Ctrl-C or every file ends).
    #[arg(long)]
    duration: Option<u64>,
    /// Print camera health as JSON every N seconds.
    #[arg(long, default_value_t = 5)]
    report_every: u64,
}

/// Parses `NAME=URL[,key=value|flag…]`.
pub fn parse_camera(spec: &str) -> Result<CameraSetup> {
    let (name, rest) = spec
        .split_once('=')
        .context("camera must be NAME=URL[,options]")?;
    let mut parts = rest.split(',');
    let url = parts
        .next()
        .filter(|u| !u.is_empty())
        .context("camera URL is empty")?;
    let mut camera = CameraConfig::new(name, url);
    let mut zone = Zone::default();
    let mut max_faces = 20;
    let mut detection_size = vigil_vision::DetectionSize::Letterbox;
    for opt in parts {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k {
            "fps" => camera.fps = v.parse().context("fps")?,
            "size" => {
                let (w, h) = v.split_once('x').context("size must be WxH")?;
                camera.width = w.parse().context("width")?;
                camera.height = h.parse().context("height")?;
            }
            "loop" => camera.looped = true,
            "realtime" => camera.realtime = true,
            "lossless" => camera.lossless = true,
            "zone" => zone.polygon = Zone::parse_polygon(v).map_err(anyhow::Error::msg)?,
            "min-ied" => zone.min_inter_eye_distance = v.parse().context("min-ied")?,
            "max-faces" => max_faces = v.parse().context("max-faces")?,
            "detect-size" => {
                detection_size =
                    vigil_vision::DetectionSize::parse(v).map_err(anyhow::Error::msg)?
            }
            other => bail!("unknown camera option {other:?}"),
        }
    }
    if camera.width == 0
        || camera.height == 0
        || camera.width > 7680
        || camera.height > 4320
        || camera.width % 2 == 1
        || camera.height % 2 == 1
    {
        bail!("camera size must be even and at most 7680x4320");
    }
    if !(0.1..=120.0).contains(&camera.fps) {
        bail!("fps must lie between 0.1 and 120");
    }
    Ok(CameraSetup {
        camera,
        zone,
        max_faces,
        footage: None,
        detection_size,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")
}

fn print_health(h: &[CameraHealth]) {
    for c in h {
        if let Ok(s) = serde_json::to_string(c) {
            println!("{s}");
        }
    }
}

/// Sets a flag on Ctrl-C.
fn interrupt_flag(rt: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

pub fn run(g: &Global, data: &DataArgs, a: &LiveArgs) -> Result<ExitCode> {
    let mut specs = a.cameras.clone();
    if let Some(path) = &a.camera_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        specs.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    let cameras = specs
        .iter()
        .map(|c| {
            parse_camera(c)
                .with_context(|| format!("camera {}", vigil_live::ffmpeg::redact_urls(c)))
        })
        .collect::<Result<Vec<_>>>()?;
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(Store::open_data_dir(
        &data.data_dir,
        data.database_url.as_deref(),
        Arc::new(SystemClock),
    ))?);
    let engine = Arc::new(commands::engine(g, true)?);
    let link = DeploymentLink::new(store, rt.handle().clone(), &a.deployment)?;
    let watchlist = Watchlist::load(&link, &engine)?;
    eprintln!(
        "watchlist: {} subjects enrolled, {} not enrolled",
        watchlist.gallery.subjects(),
        watchlist.not_enrolled.len()
    );
    for n in &watchlist.not_enrolled {
        eprintln!("  entry {} ({}): {}", n.entry, n.subject, n.reason);
    }
    let run = LiveRun::start(engine, link, Arc::new(watchlist), cameras)?;
    let stop = interrupt_flag(&rt);
    let started = Instant::now();
    let mut last_report = Instant::now();
    while !stop.load(Ordering::SeqCst)
        && !run.is_finished()
        && a.duration
            .is_none_or(|d| started.elapsed() < Duration::from_secs(d))
    {
        std::thread::sleep(Duration::from_millis(100));
        if last_report.elapsed() >= Duration::from_secs(a.report_every.max(1)) {
            print_health(&run.health());
            last_report = Instant::now();
        }
    }
    print_health(&run.stop());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct BenchLiveArgs {
    /// Numbers of simultaneous streams to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 4])]
    streams: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Frame size of the synthetic streams.
    #[arg(long, default_value = "1920x1080")]
    size: String,
    /// Frames per second of the streams (and decoded).
    #[arg(long, default_value_t = 25)]
    fps: u32,
    /// The cameras' detection size (`letterbox`, a long side in pixels, or
    /// `native`).
    #[arg(long, default_value = "letterbox")]
    detect_size: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Busy and total CPU time of the whole machine, from /proc/stat: the
/// ffmpeg decoders are separate processes and must count too.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn rss_mib(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with(field))?;
    Some(l.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

pub fn bench(g: &Global, a: &BenchLiveArgs) -> Result<ExitCode> {
    let (w, h) = a.size.split_once('x').context("size WxH")?;
    let (w, h): (u32, u32) = (w.parse()?, h.parse()?);
    let cache = commands::cache(g);
    let rt = runtime()?;
    let engine = Arc::new(commands::engine(g, true)?);
    let media = cache.root.join("bench");
    std::fs::create_dir_all(&media)?;
    let video: PathBuf = media.join(format!("crowd-{w}x{h}-{}.mkv", a.fps));
    if !video.is_file() {
        eprintln!(
            "rendering a {w}x{h} {} fps test stream from the sample faces",
            a.fps
        );
        vigil_live::synth::crowd(
            &engine,
            &crate::seed::crowd_photos(&cache.samples()),
            &media,
            w,
            h,
            a.fps,
        )?;
    }
    let mut rows = Vec::new();
    for &n in &a.streams {
        let data = tempfile_dir(n)?;
        let store =
            Arc::new(rt.block_on(Store::open_data_dir(&data, None, Arc::new(SystemClock)))?);
        let seeded = rt.block_on(crate::seed::seed(&store, &cache.samples(), 0.45))?;
        let link = DeploymentLink::new(store, rt.handle().clone(), &seeded.deployment_id)?;
        let watchlist = Arc::new(Watchlist::load(&link, &engine)?);
        let cams = (0..n)
            .map(|i| {
                parse_camera(&format!(
                    "cam{i}={},size={w}x{h},fps={},realtime,loop,detect-size={}",
                    video.display(),
                    a.fps,
                    a.detect_size
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let (busy0, total0) = machine_cpu();
        let t0 = Instant::now();
        let run = LiveRun::start(engine.clone(), link, watchlist, cams)?;
        std::thread::sleep(Duration::from_secs(a.seconds));
        let health = run.health();
        let wall = t0.elapsed().as_secs_f64();
        let (busy1, total1) = machine_cpu();
        let cpu_percent = 100.0 * (busy1 - busy0) / (total1 - total0).max(1.0);
        let rss = rss_mib("VmRSS:");
        run.stop();
        let _ = std::fs::remove_dir_all(&data);
        let mut rts: Vec<f64> = Vec::new();
        let sum = |f: fn(&CameraHealth) -> u64| health.iter().map(f).sum::<u64>();
        for c in &health {
            rts.extend(c.p50_recognition_time_ms);
        }
        let p95 = health
            .iter()
            .filter_map(|c| c.p95_recognition_time_ms)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let p50 = if rts.is_empty() {
            None
        } else {
            Some(rts.iter().sum::<f64>() / rts.len() as f64)
        };
        rows.push(serde_json::json!({
            "streams": n,
            "size": format!("{w}x{h}"),
            "fps_offered_per_stream": a.fps,
            "frames_in": sum(|c| c.counts.frames_in),
            "processed_fps_per_stream": sum(|c| c.counts.frames_processed) as f64 / wall / n as f64,
            "dropped_fraction": sum(|c| c.counts.frames_dropped) as f64 / sum(|c| c.counts.frames_in).max(1) as f64,
            "faces_per_second": sum(|c| c.counts.faces) as f64 / wall,
            "alerts": sum(|c| c.counts.alerts),
            "passers_by": sum(|c| c.counts.passers_by),
            "p50_recognition_time_ms": p50,
            "p95_recognition_time_ms": p95,
            "cpu_percent_of_machine": cpu_percent,
            "rss_mib": rss,
        }));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "live pipeline, {w}x{h} at {} fps per stream, {} s each, provider {}",
            a.fps,
            a.seconds,
            engine.detector().provider()
        );
        println!(
            "{:>7} {:>14} {:>9} {:>8} {:>7} {:>10} {:>10} {:>6} {:>8}",
            "streams",
            "processed/s/st",
            "dropped",
            "faces/s",
            "alerts",
            "RT p50 ms",
            "RT p95 ms",
            "CPU %",
            "RSS MiB"
        );
        for r in &rows {
            let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:>7} {:>14.1} {:>8.0}% {:>8.1} {:>7} {:>10.0} {:>10.0} {:>6.0} {:>8.0}",
                r["streams"],
                f("processed_fps_per_stream"),
                100.0 * f("dropped_fraction"),
                f("faces_per_second"),
                r["alerts"],
                f("p50_recognition_time_ms"),
                f("p95_recognition_time_ms"),
                f("cpu_percent_of_machine"),
                f("rss_mib")
            );
        }
        println!("(RT p50 is the mean of per-camera medians; CPU is the whole machine's, ffmpeg decoding included)");
    }
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir(n: usize) -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("vigil-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_specs_parse_with_options() {
        let c = parse_camera("north=rtsp://10.0.0.5/stream,fps=8,size=1920x1080,zone=0:0;100:0;100:100,min-ied=60,max-faces=5,detect-size=1920").unwrap();
        assert_eq!(c.camera.name, "north");
        assert_eq!(c.camera.url, "rtsp://10.0.0.5/stream");
        assert_eq!(
            (c.camera.width, c.camera.height, c.camera.fps),
            (1920, 1080, 8.0)
        );
        assert_eq!(c.zone.polygon.len(), 3);
        assert_eq!((c.zone.min_inter_eye_distance, c.max_faces), (60.0, 5));
        assert_eq!(c.detection_size, vigil_vision::DetectionSize::UpTo(1920));
        assert!(parse_camera("n=/v.mp4,detect-size=9").is_err());
        let f = parse_camera("door=clip.mkv,loop,realtime").unwrap();
        assert!(f.camera.looped && f.camera.realtime && f.camera.is_file());
    }

    #[test]
    fn bad_camera_specs_are_clear_errors() {
        for bad in [
            "no-equals-sign",
            "x=",
            "x=a.mkv,size=100",
            "x=a.mkv,size=99999x99999",
            "x=a.mkv,fps=0",
            "x=a.mkv,colour=blue",
            "x=a.mkv,zone=1:2;oops",
        ] {
            assert!(parse_camera(bad).is_err(), "{bad}");
        }
    }
}

#[derive(Args)]
pub struct DemoArgs {
    /// Play the demo footage this many times.
    #[arg(long, default_value_t = 1)]
    passes: u32,
    /// Then serve the web console with the camera looping, until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Port for --serve.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address for --serve (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    workers: WorkerTuning,
}

/// Password of every demo user (printed by the demo; never use outside it).
pub const DEMO_PASSWORD: &str = "vigil-demo";

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Search the reference store in PostgreSQL + pgvector at this URL
    /// (kept up to date from the store at start) instead of in memory.
    #[arg(long, env = "VIGIL_PGVECTOR_URL", hide_env_values = true)]
    pgvector: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Do not ask for a second factor (TOTP) at login. It is asked by
    /// default of Administrators and everyone who can see face images.
    #[arg(long)]
    no_second_factor: bool,
    /// Minutes without a request before a session ends.
    #[arg(long, default_value_t = 30)]
    idle_minutes: u64,
    /// Run no cameras in this process (`vigil worker`s on other machines
    /// run them). By default `vigil serve` runs every camera of every
    /// Active Deployment itself.
    #[arg(long)]
    no_cameras: bool,
    #[command(flatten)]
    workers: WorkerTuning,
}

/// How a process shares cameras with others through the database.
#[derive(Args, Clone)]
pub struct WorkerTuning {
    /// Seconds a camera's lease lasts unrenewed: a dead worker's cameras
    /// pass to another within this.
    #[arg(long, default_value_t = 10)]
    lease_seconds: u64,
    /// Cameras this process runs at most.
    #[arg(long, default_value_t = 16)]
    max_cameras: usize,
    /// Seconds of footage per sealed segment (cameras that record).
    #[arg(long, default_value_t = 30)]
    footage_segment_seconds: u64,
}

impl WorkerTuning {
    fn config(&self) -> SupervisorConfig {
        let mut c = SupervisorConfig::new(&vigil_live::supervisor::worker_name());
        c.lease = Duration::from_secs(self.lease_seconds.clamp(3, 600));
        c.tick = (c.lease / 5).clamp(Duration::from_millis(500), Duration::from_secs(2));
        c.max_cameras = self.max_cameras.max(1);
        c.footage_segment = Duration::from_secs(self.footage_segment_seconds.clamp(2, 600));
        c
    }
}

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    workers: WorkerTuning,
}

/// Starts this process's camera supervisor, when it has a recogniser.
fn supervise(
    store: &Arc<Store>,
    rt: &tokio::runtime::Runtime,
    engine: &Arc<vigil_vision::FaceEngine>,
    tuning: &WorkerTuning,
) -> Result<Option<Supervisor>> {
    if engine.recogniser().is_none() {
        tracing::warn!("no recogniser: this process runs no cameras");
        return Ok(None);
    }
    let config = tuning.config();
    eprintln!(
        "running the cameras of Active Deployments as worker {} (lease {} s)",
        config.worker,
        config.lease.as_secs()
    );
    Ok(Some(Supervisor::start(
        store.clone(),
        rt.handle().clone(),
        engine.clone(),
        config,
    )?))
}

/// `vigil worker`: runs cameras of Active Deployments for a server
/// elsewhere, sharing them with other workers through PostgreSQL.
pub fn worker(g: &Global, data: &DataArgs, a: &WorkerArgs) -> Result<ExitCode> {
    let Some(url) = data.database_url.as_deref() else {
        bail!("vigil worker needs --database-url postgres://… (with SQLite, `vigil serve` runs the cameras itself)");
    };
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        bail!("vigil worker shares cameras through PostgreSQL: give a postgres:// URL");
    }
    // A worker must use the installation's master key; one made up here
    // would seal Alerts nobody could open.
    if std::env::var_os("VIGIL_MASTER_KEY").is_none() && !data.data_dir.join("master.key").is_file()
    {
        bail!("vigil worker needs the installation's master key: set VIGIL_MASTER_KEY (or put master.key in {})", data.data_dir.display());
    }
    let engine = Arc::new(commands::engine(g, true)?);
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(crate::accounts::open_initialised(data))?);
    let supervisor =
        supervise(&store, &rt, &engine, &a.workers)?.context("vigil worker needs a recogniser")?;
    rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    });
    eprintln!("stopping: releasing cameras");
    supervisor.stop();
    Ok(ExitCode::SUCCESS)
}

/// HTTPS: with both set, the server speaks only TLS (rustls) and marks its
/// cookies `Secure`.
#[derive(Args, Clone, Default)]
pub struct TlsArgs {
    /// PEM certificate chain.
    #[arg(long, env = "VIGIL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "VIGIL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// The face engine's verdict on a reference image, as the Watchlist page
/// shows it: one face, good enough to enrol, or why not.
/// The server's state over `store`, with the face engine judging
/// reference images (when there is one) and the recogniser's installed
/// calibration (when there is one) for the expected Alert load and the
/// Threshold advice.
fn app_state(
    g: &Global,
    store: Arc<Store>,
    engine: Option<Arc<vigil_vision::FaceEngine>>,
) -> vigil_server::AppState {
    let mut state = vigil_server::AppState::new(store, Duration::from_secs(12 * 3600))
        .with_snapshots(Arc::new(vigil_live::supervisor::FfmpegSnapshots))
        .with_clips(Arc::new(vigil_live::footage::FfmpegClips));
    if let Some(engine) = engine {
        state = state.with_judge(engine);
    }
    match crate::eval::installed_calibration(g) {
        Some(c) => state.with_calibration(Arc::new(c)),
        None => {
            tracing::warn!("no calibration for {}: expected Alert load and Threshold suggestions are off (run `vigil eval --sample-set --install`)", g.recogniser);
            state
        }
    }
}

/// Plugs the search stage into the server: the reference store (encoding
/// any image without a template first) in memory, on the GPU or in pgvector.
async fn with_search(
    g: &Global,
    state: vigil_server::AppState,
    store: &Store,
    engine: Arc<vigil_vision::FaceEngine>,
    pgvector: Option<&str>,
) -> Result<vigil_server::AppState> {
    let choice = vigil_search::lifecycle::BackendChoice {
        try_gpu: g.provider != vigil_vision::Provider::Cpu,
        pgvector: pgvector.map(str::to_string),
    };
    Ok(
        match vigil_search::lifecycle::open_searcher(store, engine, commands::limits(g), &choice)
            .await?
        {
            Some(searcher) => state.with_search(Arc::new(searcher)),
            None => state,
        },
    )
}

async fn serve_until_interrupt(
    mut state: vigil_server::AppState,
    bind: &str,
    port: u16,
    tls: &TlsArgs,
) -> Result<()> {
    let store = state.store.clone();
    let sessions = state.sessions.policy();
    let purge_store = store.clone();
    let purger = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(300));
        loop {
            every.tick().await;
            if let Err(e) = purge_store.purge_sessions(&sessions).await {
                tracing::warn!("purging expired sessions: {e}");
            }
        }
    });
    let sweeper = vigil_store::retention::spawn_sweeper(
        store,
        vigil_core::retention::RetentionPolicy::default(),
        Duration::from_secs(300),
    );
    let interrupted = async {
        tokio::signal::ctrl_c().await.ok();
    };
    if let (Some(cert), Some(key)) = (&tls.tls_cert, &tls.tls_key) {
        state.secure_cookies = true;
        let addr = tokio::net::lookup_host((bind, port))
            .await?
            .next()
            .with_context(|| format!("no address for {bind}"))?;
        vigil_server::tls::serve_tls(vigil_server::router(state), addr, cert, key, interrupted)
            .await
            .with_context(|| format!("serving HTTPS on {bind}:{port}"))?;
    } else {
        let listener = tokio::net::TcpListener::bind((bind, port))
            .await
            .with_context(|| format!("listening on {bind}:{port}"))?;
        vigil_server::serve::serve(
            listener,
            vigil_server::router(state),
            None,
            vigil_server::serve::Limits::default(),
            interrupted,
        )
        .await?;
    }
    sweeper.abort();
    purger.abort();
    Ok(())
}

fn scheme(tls: &TlsArgs) -> &'static str {
    if tls.tls_cert.is_some() {
        "https"
    } else {
        "http"
    }
}

/// `vigil serve`: the API and console over the data directory. The face
/// engine (detection only) judges reference images when its packs are
/// installed; without them the console still runs, without verdicts.
pub fn serve(g: &Global, data: &DataArgs, a: &ServeArgs) -> Result<ExitCode> {
    // With a recogniser the server also answers RFR/OIFR searches; with
    // detection only it still judges reference images.
    let engine = match commands::engine(g, true).or_else(|_| commands::engine(g, false)) {
        Ok(e) => Some(Arc::new(e)),
        Err(e) => {
            tracing::warn!("no face engine (no quality verdicts, no searches): {e:#}");
            None
        }
    };
    let rt = runtime()?;
    rt.block_on(async {
        let store = Arc::new(crate::accounts::open_initialised(data).await?);
        let mut state = app_state(g, store.clone(), engine.clone());
        state.second_factor = !a.no_second_factor;
        state.sessions = Arc::new(vigil_server::Sessions::new(
            store.clone(),
            vigil_core::accounts::SessionPolicy {
                idle_ms: (a.idle_minutes.max(1) * 60_000) as i64,
                ..Default::default()
            },
        ));
        if let Some(engine) = engine.clone() {
            state = with_search(g, state, &store, engine, a.pgvector.as_deref()).await?;
        }
        eprintln!(
            "Vigil console at {}://{}:{}/console (Ctrl-C to stop)",
            scheme(&a.tls),
            a.bind,
            a.port
        );
        Ok::<_, anyhow::Error>((state, store))
    })
    .and_then(|(state, store)| {
        let supervisor = match (&engine, a.no_cameras) {
            (Some(engine), false) => supervise(&store, &rt, engine, &a.workers)?,
            _ => None,
        };
        let served = rt.block_on(serve_until_interrupt(state, &a.bind, a.port, &a.tls));
        if let Some(s) = supervisor {
            s.stop();
        }
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `vigil demo`: a Deployment seeded in the data directory (once), a
/// synthetic camera stream of five passers-by (two on the Watchlist), Live
/// Facial Recognition over it in real time, then what an Operator and an
/// Auditor would see. The web console joins this with issue 5.
pub fn demo(g: &Global, data: &DataArgs, a: &DemoArgs) -> Result<ExitCode> {
    let cache = commands::cache(g);
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(Store::open_data_dir(
        &data.data_dir,
        data.database_url.as_deref(),
        Arc::new(SystemClock),
    ))?);
    let existing = rt.block_on(store.deployments())?;
    // The Threshold for the policy's False Alert Rate ceiling (1 in 1000)
    // with the demo Watchlist's three images, from the installed
    // calibration; 0.45 (the sample set's safe margin) without one.
    let (threshold, far) =
        match crate::eval::installed_calibration(g).and_then(|c| c.threshold_for(1e-3, 3).ok()) {
            Some(a) => (a.threshold as f32, Some(1e-3)),
            None => (0.45, None),
        };
    let media = cache.root.join("bench");
    std::fs::create_dir_all(&media)?;
    let video = media.join("crowd-1280x720-10.mkv");
    let deployment_id = match existing
        .iter()
        .find(|d| d.state == vigil_core::deployment::DeploymentState::Active)
    {
        Some(d) => d.id.clone(),
        None => {
            // The demo camera is registered like any other (a looped file
            // standing in for a stream), and the Application names it.
            let camera = rt.block_on(crate::seed::demo_camera(&store, &video))?;
            rt.block_on(crate::seed::seed_with(
                &store,
                &cache.samples(),
                threshold,
                far,
                &[camera],
            ))?
            .deployment_id
        }
    };
    let threshold = rt
        .block_on(store.deployment(&deployment_id))?
        .authority
        .map_or(threshold, |a| a.threshold);
    println!(
        "data directory {}; Deployment {deployment_id} (Active, Threshold {threshold:.3}{})",
        data.data_dir.display(),
        far.map_or(String::new(), |f| format!(
            ", calibrated for a False Alert Rate of {f}"
        ))
    );
    let engine = Arc::new(commands::engine(g, true)?);
    if !video.is_file() {
        vigil_live::synth::crowd(
            &engine,
            &crate::seed::crowd_photos(&cache.samples()),
            &media,
            1280,
            720,
            10,
        )?;
    }
    let link = DeploymentLink::new(store.clone(), rt.handle().clone(), &deployment_id)?;
    let watchlist = Arc::new(Watchlist::load(&link, &engine)?);
    println!(
        "watchlist: {} subjects enrolled; camera 'demo-cam' plays {} pass(es) of 12 s in real time",
        watchlist.gallery.subjects(),
        a.passes
    );
    for pass in 0..a.passes.max(1) {
        let cam = parse_camera(&format!(
            "demo-cam={},size=1280x720,fps=10,realtime",
            video.display()
        ))?;
        let run = LiveRun::start(engine.clone(), link.clone(), watchlist.clone(), vec![cam])?;
        run.wait(Duration::from_secs(60));
        let h = run.stop();
        println!("pass {}: {}", pass + 1, serde_json::to_string(&h[0])?);
    }
    let operator = rt.block_on(store.user("operator"))?;
    println!("\nAlerts as the Operator sees them (Probe and Candidate images are encrypted; each view is audited):");
    for al in rt.block_on(store.alerts(
        &operator,
        &deployment_id,
        None,
        vigil_store::alerts::MAX_ALERTS_PAGE,
    ))? {
        println!(
            "  {}  {}  score {:.3}  RT {} ms  camera {}  state {:?}",
            al.id,
            al.subject_ref.as_deref().unwrap_or("(deleted)"),
            al.score,
            al.recognition_time_ms,
            al.camera,
            al.state
        );
    }
    let stats = rt.block_on(store.deployment_stats(&deployment_id))?;
    println!(
        "\nDeployment statistics: {}",
        serde_json::to_string(&stats)?
    );
    let v = rt.block_on(store.audit_verify())?;
    println!("audit log: {} entries, chain intact: {}", v.entries, v.ok);
    if !a.serve {
        println!(
            "\nNext: `vigil --data-dir {} audit list`, `… retention status`, `… deployment list`, or `vigil demo --serve`.",
            data.data_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let hash = vigil_server::hash_password(DEMO_PASSWORD).map_err(anyhow::Error::msg)?;
    for u in crate::seed::demo_users() {
        rt.block_on(store.set_password_hash(&u.id, &hash))?;
    }
    drop((link, watchlist));
    // The Deployment's cameras run as in `vigil serve`: the supervisor
    // starts them because the Deployment is Active, and stops them when it
    // is suspended or ends.
    let supervisor = supervise(&store, &rt, &engine, &a.workers)?;
    println!(
        "\nWeb console: {}://{}:{}/console/deployments/{deployment_id}/operator",
        scheme(&a.tls),
        a.bind,
        a.port
    );
    println!(
        "Face search (RFR/OIFR) over the sample reference store: {}://{}:{}/console/search as investigator",
        scheme(&a.tls),
        a.bind,
        a.port
    );
    println!("Log in as operator, engagement, gold, silver, investigator, auditor, ... with password {DEMO_PASSWORD:?}; Ctrl-C to stop.");
    let state = rt.block_on(with_search(
        g,
        app_state(g, store.clone(), Some(engine.clone())),
        &store,
        engine,
        None,
    ))?;
    let served = rt.block_on(serve_until_interrupt(state, &a.bind, a.port, &a.tls));
    if let Some(s) = supervisor {
        s.stop();
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
