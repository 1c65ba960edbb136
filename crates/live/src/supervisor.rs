//! Runs the cameras the store says should be running: LFR that follows
//! the Deployment.
//!
//! One supervisor per process (`vigil serve` on the embedded default,
//! `vigil worker` on other machines) looks at the store every
//! [`SupervisorConfig::tick`]: every camera named by an Active or
//! Suspended Deployment is a job. It claims the lease of each job it can
//! take, starts the camera's pipeline, renews the lease with the camera's
//! health, and stops the camera when its Deployment ends, the camera is
//! taken out of the Application or disabled, its settings change (it is
//! restarted with the new ones), or another worker holds the lease. The
//! pipeline's own gate (250 ms poll) pauses analysis on Suspend.
//!
//! Watchlist changes while Active reach the matcher at the next tick:
//! the entry ids are compared and, on a difference, the Watchlist is
//! rebuilt reusing the templates of entries already enrolled.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_core::camera::{Camera, CameraCredentials};
use vigil_store::Store;
use vigil_vision::FaceEngine;

use crate::ingest::CameraConfig;
use crate::pipeline::{CameraSetup, DeploymentLink, Gate, LiveRun, Watchlist};
use crate::zone::Zone;

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// This process's name on the leases (host, pid and a random part).
    pub worker: String,
    /// How long a lease lasts without renewal: a dead worker's cameras
    /// pass to another within this.
    pub lease: Duration,
    /// How often the store is read and leases renewed.
    pub tick: Duration,
    /// Cameras this process runs at most.
    pub max_cameras: usize,
    /// Length of a recorded footage segment (cameras that record).
    pub footage_segment: Duration,
}

impl SupervisorConfig {
    pub fn new(worker: &str) -> Self {
        Self {
            worker: worker.into(),
            lease: Duration::from_secs(10),
            tick: Duration::from_secs(1),
            max_cameras: 16,
            footage_segment: Duration::from_secs(30),
        }
    }
}

/// A name for this process on the leases: host, process id and a random
/// tag (a restarted process with a reused pid is still someone new).
pub fn worker_name() -> String {
    let host = sysinfo::System::host_name().unwrap_or_else(|| "host".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &tag[..12])
}

impl CameraSetup {
    /// The pipeline's settings for a registered camera.
    pub fn registered(camera: &Camera, credentials: Option<CameraCredentials>) -> Self {
        let s = &camera.settings;
        let mut c = CameraConfig::new(&s.name, &s.url);
        c.fps = s.fps;
        c.width = s.width;
        c.height = s.height;
        c.looped = s.looped;
        // A file stands in for a camera: played at the speed it was shot.
        c.realtime = c.is_file();
        c.credentials = credentials;
        Self {
            camera: c,
            zone: Zone {
                polygon: s.zone.clone(),
                min_inter_eye_distance: s.min_inter_eye_distance,
            },
            max_faces: s.max_faces,
            footage: None,
            detection_size: s.detection_size.into(),
        }
    }
}

/// Snapshots for the Zone editor, taken with ffmpeg as the camera's
/// pipeline would open it (credentials on stdin), within 15 s.
pub struct FfmpegSnapshots;

impl vigil_core::camera::CameraSnapshot for FfmpegSnapshots {
    fn snapshot(
        &self,
        camera: &Camera,
        credentials: Option<CameraCredentials>,
    ) -> Result<Vec<u8>, String> {
        CameraSetup::registered(camera, credentials)
            .camera
            .snapshot_jpeg(Duration::from_secs(15))
    }
}

struct Running {
    deployment_id: String,
    camera: Camera,
    run: LiveRun,
}

/// The supervisor thread; stopping it stops and releases its cameras.
pub struct Supervisor(crate::stoppable::Stoppable);

impl Supervisor {
    pub fn start(
        store: Arc<Store>,
        runtime: tokio::runtime::Handle,
        engine: Arc<FaceEngine>,
        config: SupervisorConfig,
    ) -> std::io::Result<Self> {
        crate::stoppable::Stoppable::spawn("lfr-supervisor".into(), move |s| {
            let mut state = State {
                store,
                runtime,
                engine,
                config,
                running: HashMap::new(),
                watchlists: HashMap::new(),
            };
            while !s.load(Ordering::SeqCst) {
                let began = Instant::now();
                if let Err(e) = state.tick() {
                    tracing::error!(error = %e, "camera supervisor");
                }
                while began.elapsed() < state.config.tick && !s.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            state.stop_all();
        })
        .map(Self)
    }

    /// Stops every camera and gives their leases back.
    pub fn stop(self) {
        self.0.stop();
    }
}

struct State {
    store: Arc<Store>,
    runtime: tokio::runtime::Handle,
    engine: Arc<FaceEngine>,
    config: SupervisorConfig,
    /// By camera id.
    running: HashMap<String, Running>,
    /// By Deployment id: the Watchlist its cameras share.
    watchlists: HashMap<String, Arc<Watchlist>>,
}

impl State {
    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    fn tick(&mut self) -> Result<(), crate::LiveError> {
        let jobs = self.runtime.block_on(self.store.camera_jobs())?;
        // Stop what should no longer run, renew the rest.
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            let due = jobs.iter().find(|j| j.camera.id == id);
            let keep = self.running.get(&id).is_some_and(|r| {
                due.is_some_and(|j| j.deployment_id == r.deployment_id && j.camera == r.camera)
                    && r.run.gate() != Gate::Ended
            });
            if !keep {
                self.stop_camera(&id, true);
                continue;
            }
            let Some(r) = self.running.get(&id) else {
                continue;
            };
            let health = health_json(r, self.watchlists.get(&r.deployment_id).map(|w| &**w));
            let renewed = self.runtime.block_on(self.store.renew_camera(
                &self.config.worker,
                &id,
                self.lease_ms(),
                Some(&health),
            ));
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(camera = %r.camera.settings.name, "lease taken by another worker; stopping the camera");
                    self.stop_camera(&id, false);
                }
                Err(e) => {
                    // Cannot prove the lease is still ours: stop rather
                    // than risk two workers on one camera.
                    tracing::error!(camera = %r.camera.settings.name, error = %e, "lease not renewed; stopping the camera");
                    self.stop_camera(&id, false);
                }
            }
        }
        self.refresh_watchlists()?;
        // Start what should run and can be claimed.
        for job in &jobs {
            if self.running.contains_key(&job.camera.id)
                || self.running.len() >= self.config.max_cameras
            {
                continue;
            }
            let claimed = self.runtime.block_on(self.store.claim_camera(
                &self.config.worker,
                &job.camera.id,
                &job.deployment_id,
                self.lease_ms(),
            ))?;
            if !claimed {
                continue;
            }
            if let Err(e) = self.start_camera(&job.deployment_id, &job.camera) {
                tracing::error!(camera = %job.camera.settings.name, error = %e, "camera not started");
                let _ = self.runtime.block_on(
                    self.store
                        .release_camera(&self.config.worker, &job.camera.id),
                );
            }
        }
        // Watchlists no camera uses any more are dropped.
        let used: std::collections::HashSet<&String> =
            self.running.values().map(|r| &r.deployment_id).collect();
        self.watchlists.retain(|d, _| used.contains(d));
        Ok(())
    }

    fn start_camera(
        &mut self,
        deployment_id: &str,
        camera: &Camera,
    ) -> Result<(), crate::LiveError> {
        let link = DeploymentLink::new(self.store.clone(), self.runtime.clone(), deployment_id)?;
        let watchlist = match self.watchlists.get(deployment_id) {
            Some(w) => w.clone(),
            None => {
                let w = Arc::new(Watchlist::load(&link, &self.engine)?);
                self.watchlists.insert(deployment_id.into(), w.clone());
                w
            }
        };
        let credentials = if camera.has_credentials {
            self.runtime.block_on(
                self.store
                    .camera_credentials(&self.config.worker, &camera.id),
            )?
        } else {
            None
        };
        let mut setup = CameraSetup::registered(camera, credentials);
        if camera.settings.record_footage {
            setup.footage = Some(crate::pipeline::FootageSetup {
                camera_id: camera.id.clone(),
                segment: self.config.footage_segment,
            });
        }
        let run = LiveRun::start(self.engine.clone(), link, watchlist, vec![setup])?;
        tracing::info!(camera = %camera.settings.name, deployment = %deployment_id, "camera started");
        self.running.insert(
            camera.id.clone(),
            Running {
                deployment_id: deployment_id.into(),
                camera: camera.clone(),
                run,
            },
        );
        Ok(())
    }

    fn stop_camera(&mut self, id: &str, release: bool) {
        if let Some(r) = self.running.remove(id) {
            r.run.stop();
            tracing::info!(camera = %r.camera.settings.name, "camera stopped");
        }
        if release {
            if let Err(e) = self
                .runtime
                .block_on(self.store.release_camera(&self.config.worker, id))
            {
                tracing::warn!(error = %e, "lease not released (it will expire)");
            }
        }
    }

    /// Rebuilds a Deployment's Watchlist when its entries changed and hands
    /// it to that Deployment's running cameras.
    fn refresh_watchlists(&mut self) -> Result<(), crate::LiveError> {
        let deployments: Vec<String> = self.watchlists.keys().cloned().collect();
        for d in deployments {
            let Some(current) = self.watchlists.get(&d).cloned() else {
                continue;
            };
            let entries = self.runtime.block_on(self.store.watchlist(&d))?;
            let ids: std::collections::BTreeSet<String> =
                entries.into_iter().map(|e| e.id).collect();
            if ids == current.entry_ids() {
                continue;
            }
            let Some(link) = self
                .running
                .values()
                .find(|r| r.deployment_id == d)
                .map(|r| r.run.link())
            else {
                continue;
            };
            let fresh = Arc::new(Watchlist::load_reusing(
                &link,
                &self.engine,
                Some(&current),
            )?);
            tracing::info!(deployment = %d, subjects = fresh.gallery.subjects(), "Watchlist changed; matcher updated");
            for r in self.running.values().filter(|r| r.deployment_id == d) {
                r.run.replace_watchlist(fresh.clone());
            }
            self.watchlists.insert(d, fresh);
        }
        Ok(())
    }

    fn stop_all(&mut self) {
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            self.stop_camera(&id, true);
        }
    }
}

/// A camera's health as the console shows it: the pipeline's counts,
/// whether analysis is paused by the Deployment (Suspended), and how many
/// Watchlist entries it is matching (and which not, and why).
fn health_json(r: &Running, watchlist: Option<&Watchlist>) -> serde_json::Value {
    let mut v = r
        .run
        .health()
        .into_iter()
        .next()
        .and_then(|h| serde_json::to_value(h).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    v["analysis"] = serde_json::json!(match r.run.gate() {
        Gate::Active => "Active",
        Gate::Paused => "Suspended",
        Gate::Ended => "Ended",
    });
    if let Some(w) = watchlist {
        v["watchlist"] = serde_json::json!({
            "live": w.gallery.subjects(),
            "not_live": w.not_enrolled,
        });
    }
    v
}
