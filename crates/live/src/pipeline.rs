//! The live pipeline: per camera, frames from ingest → the [`Matcher`]
//! (faces → tracks → fused looks → matches) → Alerts in the store, only
//! while the Deployment is Active.
//!
//! Privacy is structural here (LFR-5): a face's crop exists only in local
//! variables of one frame's processing; a track keeps geometry, the
//! templates of its best three looks (in memory) and which subjects it
//! already alerted on. When a track ends without an Alert, all that remains
//! of the person is +1 on the passers-by counter. Only an Alert's Probe
//! crop goes anywhere: to the store, encrypted under the Deployment's key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use image::RgbImage;
use vigil_core::Millis;
use vigil_store::alerts::NewAlert;
use vigil_vision::{image_io, DetectionSize, FaceEngine};

pub use crate::health::{CameraHealth, CameraStats, RT_BUCKETS_MS};
use crate::ingest::{CameraConfig, Stream};
pub use crate::link::{DeploymentLink, Gate};
use crate::matcher::{Matcher, MatcherSettings};
pub use crate::watchlist::{NotEnrolled, SharedWatchlist, Watchlist};
use crate::zone::Zone;
use crate::LiveError;

/// One camera and its recognition settings.
#[derive(Debug, Clone)]
pub struct CameraSetup {
    pub camera: CameraConfig,
    pub zone: Zone,
    /// Faces-per-frame limit (ENG-6): the largest are kept.
    pub max_faces: usize,
    /// Record the camera's footage while the Deployment is Active.
    pub footage: Option<FootageSetup>,
    /// How large the detector sees each frame.
    pub detection_size: DetectionSize,
}

/// Where a camera's footage goes and how it is cut.
#[derive(Debug, Clone)]
pub struct FootageSetup {
    /// The registered camera's id, kept with each segment.
    pub camera_id: String,
    /// Length of a sealed segment.
    pub segment: Duration,
}

/// The faces of a frame other than the alerting one (the same box, or one
/// overlapping it by more than half).
fn others(all: &[[f32; 4]], own: [f32; 4]) -> Vec<[f32; 4]> {
    let area = |b: [f32; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    all.iter()
        .copied()
        .filter(|b| {
            let i = [
                b[0].max(own[0]),
                b[1].max(own[1]),
                b[2].min(own[2]),
                b[3].min(own[3]),
            ];
            let inter = area(i);
            inter / (area(*b) + area(own) - inter).max(1e-6) <= 0.5
        })
        .collect()
}

struct Worker {
    setup: CameraSetup,
    stream: Arc<Stream>,
    stats: Arc<CameraStats>,
    engine: Arc<FaceEngine>,
    watchlist: SharedWatchlist,
    link: Arc<DeploymentLink>,
    matcher: Matcher,
    stop: Arc<AtomicBool>,
}

fn wall_ms(at: Instant) -> Millis {
    let now_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now_wall - at.elapsed().as_millis() as i64
}

impl Worker {
    fn run(mut self) {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            match self.link.gate() {
                Gate::Ended => break,
                Gate::Paused => {
                    // Frames keep arriving (so the stream stays healthy) but
                    // none is analysed; open tracks end unrecognised.
                    let ended = self.matcher.finish();
                    self.count_passers(ended);
                    if self.stream.next_frame(Duration::from_millis(200)).is_some() {
                        self.stats.frames_paused.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                Gate::Active => {}
            }
            let Some(frame) = self.stream.next_frame(Duration::from_millis(200)) else {
                if self.stream.is_over() {
                    break;
                }
                continue;
            };
            if let Err(e) = self.process(&frame.image, frame.captured) {
                tracing::error!(camera = %self.setup.camera.name, error = %e, "frame processing failed");
            }
            self.stats.frames_processed.fetch_add(1, Ordering::Relaxed);
        }
        let ended = self.matcher.finish();
        self.count_passers(ended);
    }

    fn count_passers(&self, n: u64) {
        if n > 0 {
            self.stats.passers_by.fetch_add(n, Ordering::Relaxed);
            self.link.add_passers(n);
        }
    }

    fn process(&mut self, image: &RgbImage, captured: Instant) -> Result<(), LiveError> {
        let watchlist = self
            .watchlist
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let out = self
            .matcher
            .process(&self.engine, &watchlist.gallery, image, captured)?;
        self.stats
            .faces
            .fetch_add(out.faces as u64, Ordering::Relaxed);
        self.stats
            .faces_over_limit
            .fetch_add(out.over_limit as u64, Ordering::Relaxed);
        self.count_passers(out.passers_by);
        for m in out.matches {
            let first_seen = wall_ms(m.first_seen);
            let alert = NewAlert {
                deployment_id: self.link.deployment_id.clone(),
                camera: self.setup.camera.name.clone(),
                watchlist_entry_id: m.subject.clone(),
                score: f64::from(m.score),
                first_seen,
                quality: serde_json::to_string(&m.quality).unwrap_or_default(),
                probe_image: image_io::face_crop_jpeg(image, m.detection.bbox),
                candidate_image: watchlist
                    .candidate_images
                    .get(&m.subject)
                    .cloned()
                    .unwrap_or_default(),
                scene_image: Some(image_io::scene_jpeg(
                    image,
                    m.detection.bbox,
                    &others(&out.all_boxes, m.detection.bbox),
                    1280,
                )),
            };
            match self.link.block_on(self.link.store.raise_alert(alert)) {
                Ok(a) => {
                    self.stats.alerts.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .record_recognition_time((a.raised - first_seen).max(0) as f64);
                    tracing::info!(camera = %self.setup.camera.name, alert = %a.id, score = m.score, "Alert raised");
                }
                Err(e) => {
                    self.stats.alert_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(camera = %self.setup.camera.name, error = %e, "Alert could not be stored");
                }
            }
        }
        Ok(())
    }
}

/// A running LFR session over several cameras.
pub struct LiveRun {
    cameras: Vec<(Arc<Stream>, Arc<CameraStats>)>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    link: Arc<DeploymentLink>,
    poller: Option<JoinHandle<()>>,
    started: Instant,
    watchlist: SharedWatchlist,
    recorders: Vec<crate::footage::Recorder>,
}

impl LiveRun {
    /// Starts ingest and recognition on every camera.
    pub fn start(
        engine: Arc<FaceEngine>,
        link: Arc<DeploymentLink>,
        watchlist: Arc<Watchlist>,
        cameras: Vec<CameraSetup>,
    ) -> Result<Self, LiveError> {
        let d = link.block_on(link.store.deployment(&link.deployment_id))?;
        let threshold = d.authority.as_ref().map(|a| a.threshold).ok_or_else(|| {
            LiveError::Watchlist("the Deployment has no Written Authority (no Threshold)".into())
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut run = Self {
            cameras: Vec::new(),
            workers: Vec::new(),
            stop: stop.clone(),
            link: link.clone(),
            poller: None,
            started: Instant::now(),
            watchlist: Arc::new(std::sync::RwLock::new(watchlist)),
            recorders: Vec::new(),
        };
        for setup in cameras {
            if let Some(f) = &setup.footage {
                run.recorders.push(
                    crate::footage::Recorder::start(
                        setup.camera.clone(),
                        f.camera_id.clone(),
                        link.clone(),
                        f.segment,
                    )
                    .map_err(|e| LiveError::Watchlist(e.to_string()))?,
                );
            }
            let stream = Stream::start(setup.camera.clone());
            let stats = Arc::new(CameraStats::default());
            let mut gate = engine.gate().clone();
            gate.min_inter_eye_distance = setup.zone.min_inter_eye_distance;
            let mut settings =
                MatcherSettings::new(setup.zone.clone(), setup.max_faces, gate, threshold);
            settings.detection_size = setup.detection_size;
            let worker = Worker {
                setup: setup.clone(),
                stream: stream.clone(),
                stats: stats.clone(),
                engine: engine.clone(),
                watchlist: run.watchlist.clone(),
                link: link.clone(),
                matcher: Matcher::new(settings),
                stop: stop.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("lfr-{}", setup.camera.name))
                .spawn(move || worker.run())
                .map_err(|e| LiveError::Watchlist(e.to_string()))?;
            run.cameras.push((stream, stats));
            run.workers.push(handle);
        }
        let poll_link = link.clone();
        let poll_stop = stop.clone();
        run.poller = std::thread::Builder::new()
            .name("lfr-deployment-gate".into())
            .spawn(move || {
                while !poll_stop.load(Ordering::SeqCst) {
                    if let Err(e) = poll_link.refresh() {
                        tracing::error!(error = %e, "cannot read the Deployment state; pausing");
                        poll_link.pause();
                    }
                    let _ = poll_link.flush();
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
            .ok();
        Ok(run)
    }

    /// The Watchlist now matched against.
    pub fn watchlist(&self) -> Arc<Watchlist> {
        self.watchlist
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Matches every camera's next frames against `watchlist` (entries
    /// added or removed while the Deployment is Active).
    pub fn replace_watchlist(&self, watchlist: Arc<Watchlist>) {
        *self.watchlist.write().unwrap_or_else(|p| p.into_inner()) = watchlist;
    }

    pub fn link(&self) -> Arc<DeploymentLink> {
        self.link.clone()
    }

    /// The Deployment's gate as the cameras see it.
    pub fn gate(&self) -> Gate {
        self.link.gate()
    }

    pub fn health(&self) -> Vec<CameraHealth> {
        let secs = self.started.elapsed().as_secs_f64();
        self.cameras
            .iter()
            .map(|(stream, stats)| stats.health(stream, secs))
            .collect()
    }

    /// Whether every camera's worker has finished (files ended, or the
    /// Deployment ended).
    pub fn is_finished(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Waits until every worker has finished or `timeout` passes.
    pub fn wait(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.is_finished() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.is_finished()
    }

    /// Stops everything, flushes counters and returns the final health.
    pub fn stop(mut self) -> Vec<CameraHealth> {
        self.stop.store(true, Ordering::SeqCst);
        for (s, _) in &self.cameras {
            s.stop();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        for r in self.recorders.drain(..) {
            r.stop();
        }
        if let Some(p) = self.poller.take() {
            let _ = p.join();
        }
        let _ = self.link.flush();
        self.health()
    }
}

#[cfg(test)]
mod tests {
    use super::others;

    #[test]
    fn the_alerting_face_is_not_among_the_others() {
        let own = [100.0, 100.0, 200.0, 200.0];
        let near = [105.0, 102.0, 203.0, 201.0];
        let far = [400.0, 100.0, 500.0, 200.0];
        let touching = [150.0, 100.0, 250.0, 200.0];
        assert_eq!(
            others(&[own, near, far, touching], own),
            vec![far, touching],
            "the same face (IoU > 0.5) is left out, everyone else pixelated"
        );
    }
}
