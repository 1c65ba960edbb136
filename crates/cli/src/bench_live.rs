//! `vigil bench live`: Live FR's throughput on this machine, streams of
//! rendered footage through the real pipeline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use vigil_live::{CameraHealth, DeploymentLink, LiveRun, Watchlist};
use vigil_store::{Store, SystemClock};

use crate::context;
use crate::context::runtime;
use crate::Global;

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
/// This process's resident memory now.
fn rss_mib(sys: &mut sysinfo::System) -> Option<f64> {
    let me = sysinfo::get_current_pid().ok()?;
    sys.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[me]), true);
    Some(sys.process(me)?.memory() as f64 / (1024.0 * 1024.0))
}

pub fn bench(g: &Global, a: &BenchLiveArgs) -> Result<ExitCode> {
    let (w, h) = a.size.split_once('x').context("size WxH")?;
    let (w, h): (u32, u32) = (w.parse()?, h.parse()?);
    let cache = context::cache(g);
    let rt = runtime()?;
    let engine = Arc::new(context::engine(g, true)?);
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
                vigil_live::spec::parse_camera(&format!(
                    "cam{i}={},size={w}x{h},fps={},realtime,loop,detect-size={}",
                    video.display(),
                    a.fps,
                    a.detect_size
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The whole machine's CPU over the run (ffmpeg's decoding included).
        let mut sys = sysinfo::System::new();
        sys.refresh_cpu_usage();
        let t0 = Instant::now();
        let run = LiveRun::start(engine.clone(), link, watchlist, cams)?;
        std::thread::sleep(Duration::from_secs(a.seconds));
        let health = run.health();
        let wall = t0.elapsed().as_secs_f64();
        sys.refresh_cpu_usage();
        let cpu_percent = f64::from(sys.global_cpu_usage());
        let rss = rss_mib(&mut sys);
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
