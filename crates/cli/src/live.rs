//! `vigil live`: run Live Facial Recognition headless for one Deployment.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use vigil_live::{CameraHealth, DeploymentLink, LiveRun, Watchlist};

use crate::context;
use crate::context::runtime;
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
fn print_health(h: &[CameraHealth]) {
    for c in h {
        if let Ok(s) = serde_json::to_string(c) {
            println!("{s}");
        }
    }
}

/// Sets a flag on Ctrl-C.
pub(crate) fn interrupt_flag(rt: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
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
            vigil_live::spec::parse_camera(c)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("camera {}", vigil_live::ffmpeg::redact_urls(c)))
        })
        .collect::<Result<Vec<_>>>()?;
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(crate::governance::open(data))?);
    let engine = Arc::new(context::engine(g, true)?);
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
