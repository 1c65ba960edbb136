//! `vigil demo`: the whole system on this machine — SQLite, the sample
//! footage as a camera, the web console — with seeded users and a
//! Deployment made Active.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use vigil_live::{DeploymentLink, LiveRun, Watchlist};

use crate::context;
use crate::context::runtime;
use crate::governance::DataArgs;
use crate::Global;

use crate::serve::*;

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
/// `vigil demo`: a Deployment seeded in the data directory (once), a
/// synthetic camera stream of five passers-by (two on the Watchlist), Live
/// Facial Recognition over it in real time, the web console to watch and
/// adjudicate it, and face search over the sample reference store.
pub fn demo(g: &Global, data: &DataArgs, a: &DemoArgs) -> Result<ExitCode> {
    let cache = context::cache(g);
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(crate::governance::open(data))?);
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
    let engine = Arc::new(context::engine(g, true)?);
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
        let cam = vigil_live::spec::parse_camera(&format!(
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
