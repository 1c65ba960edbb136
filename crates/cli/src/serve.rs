//! `vigil serve` (the API and console, and the cameras unless told not
//! to) and `vigil worker` (the cameras only): the process that hosts the
//! server plugs in the stages it does not link — the face engine's
//! verdicts, the calibration, the search stage, ffmpeg snapshots and clips.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use vigil_live::{Supervisor, SupervisorConfig};
use vigil_store::Store;

use crate::context;
use crate::context::runtime;
use crate::governance::DataArgs;
use crate::Global;

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
pub(crate) fn supervise(
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
    let engine = Arc::new(context::engine(g, true)?);
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
pub(crate) fn app_state(
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
pub(crate) async fn with_search(
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
        match vigil_search::lifecycle::open_searcher(store, engine, context::limits(g), &choice)
            .await?
        {
            Some(searcher) => state.with_search(Arc::new(searcher)),
            None => state,
        },
    )
}

pub(crate) async fn serve_until_interrupt(
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

pub(crate) fn scheme(tls: &TlsArgs) -> &'static str {
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
    let engine = match context::engine(g, true).or_else(|_| context::engine(g, false)) {
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
