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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use image::RgbImage;
use serde::Serialize;
use vigil_core::Millis;
use vigil_gallery::Gallery;
use vigil_store::alerts::NewAlert;
use vigil_store::Store;
use vigil_vision::{image_io, DetectionSize, FaceEngine};

use crate::ingest::{CameraConfig, Stream, StreamState};
use crate::matcher::{Matcher, MatcherSettings};
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

/// Whether the Deployment lets frames be analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Gate {
    Active,
    Paused,
    Ended,
}

/// The pipeline's connection to its Deployment in the store.
pub struct DeploymentLink {
    store: Arc<Store>,
    runtime: tokio::runtime::Handle,
    pub deployment_id: String,
    gate: AtomicU8,
    pending_passers: AtomicU64,
}

impl DeploymentLink {
    pub fn new(
        store: Arc<Store>,
        runtime: tokio::runtime::Handle,
        deployment_id: &str,
    ) -> Result<Arc<Self>, LiveError> {
        let link = Arc::new(Self {
            store,
            runtime,
            deployment_id: deployment_id.into(),
            gate: AtomicU8::new(1),
            pending_passers: AtomicU64::new(0),
        });
        link.refresh()?;
        Ok(link)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Reads the Deployment's state from the store.
    pub fn refresh(&self) -> Result<Gate, LiveError> {
        let d = self.block_on(self.store.deployment(&self.deployment_id))?;
        let gate = if d.may_process_frames(self.store.now()) {
            Gate::Active
        } else if d.state.has_ended() || d.state.is_final() {
            Gate::Ended
        } else {
            Gate::Paused
        };
        self.gate.store(gate as u8, Ordering::SeqCst);
        Ok(gate)
    }

    pub fn gate(&self) -> Gate {
        match self.gate.load(Ordering::SeqCst) {
            0 => Gate::Active,
            1 => Gate::Paused,
            _ => Gate::Ended,
        }
    }

    fn add_passers(&self, n: u64) {
        self.pending_passers.fetch_add(n, Ordering::SeqCst);
    }

    /// Writes the passers-by counted since the last flush.
    pub fn flush(&self) -> Result<(), LiveError> {
        let n = self.pending_passers.swap(0, Ordering::SeqCst);
        if n > 0 {
            if let Err(e) =
                self.block_on(self.store.record_passers_by(&self.deployment_id, n, 0, 0))
            {
                self.pending_passers.fetch_add(n, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// The Deployment's Watchlist, enrolled for matching.
pub struct Watchlist {
    pub gallery: Gallery,
    /// The face of each entry's first usable image, cropped as the Probe is,
    /// shown as the Candidate Image (a face beside a face, not a portrait).
    pub candidate_images: HashMap<String, Vec<u8>>,
    /// Entries that failed to enrol, with the reason (shown to the
    /// compiler and the Operator: no entry is silently unmatched).
    pub not_enrolled: Vec<NotEnrolled>,
    /// Each enrolled entry's template, so a reload after a change enrols
    /// only the entries that are new (and reads only their images).
    templates: HashMap<String, vigil_core::Template>,
}

impl Watchlist {
    /// Reads the Watchlist images from the store (audited) and enrols each
    /// entry once: the best face of its image, or, with several images, the
    /// normalised mean of their templates. On lfw-dev the mean of two
    /// images missed 24 % of people where the best of the two missed 33 %
    /// (N = 800, FPIR 1e-3; docs/accuracy.md), and it keeps one comparison
    /// per entry, which is what the calibration's Watchlist size counts.
    pub fn load(link: &DeploymentLink, engine: &FaceEngine) -> Result<Self, LiveError> {
        Self::load_reusing(link, engine, None)
    }

    /// The entry ids this Watchlist was built from.
    pub fn entry_ids(&self) -> std::collections::BTreeSet<String> {
        self.templates
            .keys()
            .chain(self.not_enrolled.iter().map(|n| &n.entry))
            .cloned()
            .collect()
    }

    /// Like [`Watchlist::load`], but entries already enrolled in
    /// `previous` keep their template and Candidate Image: only added
    /// entries are read and analysed, and removed ones drop out.
    pub fn load_reusing(
        link: &DeploymentLink,
        engine: &FaceEngine,
        previous: Option<&Watchlist>,
    ) -> Result<Self, LiveError> {
        let entries = link.block_on(link.store.watchlist(&link.deployment_id))?;
        let mut gallery = Gallery::new();
        let mut candidate_images = HashMap::new();
        let mut not_enrolled = Vec::new();
        let mut kept = HashMap::new();
        for e in entries {
            let reused = previous.and_then(|p| {
                Some((
                    p.templates.get(&e.id)?.clone(),
                    p.candidate_images.get(&e.id)?.clone(),
                ))
            });
            if let Some(n) = previous
                .filter(|_| reused.is_none())
                .and_then(|p| p.not_enrolled.iter().find(|n| n.entry == e.id))
            {
                not_enrolled.push(n.clone());
                continue;
            }
            let enrolled = match reused {
                Some(r) => Ok(r),
                None => {
                    let images =
                        link.block_on(link.store.watchlist_images("live-pipeline", &e.id))?;
                    enrol_entry(engine, &images, e.quality_override.is_some())?
                }
            };
            match enrolled {
                Ok((t, image)) => {
                    gallery
                        .enrol(&e.id, "watchlist", &t)
                        .map_err(|x| LiveError::Watchlist(x.to_string()))?;
                    candidate_images.insert(e.id.clone(), image);
                    kept.insert(e.id.clone(), t);
                }
                Err(reason) => not_enrolled.push(NotEnrolled {
                    entry: e.id.clone(),
                    subject: e.subject_ref.clone(),
                    reason,
                }),
            }
        }
        Ok(Self {
            gallery,
            candidate_images,
            not_enrolled,
            templates: kept,
        })
    }
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

/// A Watchlist entry the matcher does not hold, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotEnrolled {
    pub entry: String,
    pub subject: String,
    pub reason: String,
}

/// One entry's template (the normalised mean over its images) and its
/// Candidate Image, or why it cannot be enrolled. Each image gives its best
/// face that passes the quality gate; with the compiler's override, its
/// largest face whatever the gate says.
fn enrol_entry(
    engine: &FaceEngine,
    images: &[Vec<u8>],
    overridden: bool,
) -> Result<Result<(vigil_core::Template, Vec<u8>), String>, LiveError> {
    let mut templates = Vec::new();
    let mut crop = None;
    let mut why = "no image could be read".to_string();
    for bytes in images {
        let img = match image_io::decode(bytes, Default::default()) {
            Ok(i) => i,
            Err(e) => {
                why = format!("unreadable image: {e}");
                continue;
            }
        };
        let faces = engine.analyse(&img)?;
        let face = if overridden {
            faces.iter().max_by(|a, b| {
                a.quality
                    .inter_eye_distance
                    .total_cmp(&b.quality.inter_eye_distance)
            })
        } else {
            FaceEngine::best_face(&faces)
        };
        match face {
            Some(f) => {
                if let Some(t) = f.template.as_ref() {
                    templates.push(t.clone());
                    crop.get_or_insert_with(|| image_io::face_crop_jpeg(&img, f.detection.bbox));
                } else {
                    why = "no recogniser loaded".into();
                }
            }
            None if faces.is_empty() => why = "no face found".into(),
            None => {
                why = format!(
                    "no face passes the quality gate ({})",
                    faces[0].verdict.reasons.join("; ")
                )
            }
        }
    }
    Ok(match (vigil_core::Template::mean(&templates), crop) {
        (Ok(t), Some(c)) => Ok((t, c)),
        _ => Err(why),
    })
}

/// The Watchlist a running camera matches against, replaced whole when
/// the Watchlist changes (a frame in progress finishes on the old one).
pub type SharedWatchlist = Arc<std::sync::RwLock<Arc<Watchlist>>>;

/// Counters of one camera's recognition, for health reports and metrics.
#[derive(Debug, Default)]
pub struct CameraStats {
    pub frames_processed: AtomicU64,
    pub frames_paused: AtomicU64,
    pub faces: AtomicU64,
    pub faces_over_limit: AtomicU64,
    pub passers_by: AtomicU64,
    pub alerts: AtomicU64,
    pub alert_errors: AtomicU64,
    pub recognition_times_ms: Mutex<Vec<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraHealth {
    pub camera: String,
    pub state: StreamState,
    pub last_error: Option<String>,
    pub frames_in: u64,
    pub frames_processed: u64,
    pub frames_dropped: u64,
    pub frames_paused: u64,
    pub reconnects: u64,
    pub faces: u64,
    pub faces_over_limit: u64,
    pub passers_by: u64,
    pub alerts: u64,
    pub processed_fps: f64,
    pub p50_recognition_time_ms: Option<f64>,
    pub p95_recognition_time_ms: Option<f64>,
    /// Recognition Times as a cumulative histogram: `(upper bound ms,
    /// Alerts at or under it)` for each of [`RT_BUCKETS_MS`].
    pub recognition_time_buckets: Vec<(f64, u64)>,
    pub recognition_time_sum_ms: f64,
    pub recognition_time_count: u64,
}

/// Histogram bounds for Recognition Time: the policy's interest is in
/// seconds (an Operator must see an Alert while the person is still near).
pub const RT_BUCKETS_MS: [f64; 10] = [
    25.0, 50.0, 100.0, 200.0, 350.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

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
                    let rt = (a.raised - first_seen).max(0) as f64;
                    self.stats
                        .recognition_times_ms
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(rt);
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
                        poll_link.gate.store(Gate::Paused as u8, Ordering::SeqCst);
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
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.cameras
            .iter()
            .map(|(s, st)| {
                let (state, last_error) = s.state();
                let mut rts = st
                    .recognition_times_ms
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                rts.sort_by(f64::total_cmp);
                let pick = |q: f64| vigil_core::metrics::percentile(&rts, q);
                let processed = st.frames_processed.load(Ordering::Relaxed);
                CameraHealth {
                    camera: s.config.name.clone(),
                    state,
                    last_error,
                    frames_in: s.stats.frames_in.load(Ordering::Relaxed),
                    frames_processed: processed,
                    frames_dropped: s.stats.frames_dropped.load(Ordering::Relaxed),
                    frames_paused: st.frames_paused.load(Ordering::Relaxed),
                    reconnects: s.stats.reconnects.load(Ordering::Relaxed),
                    faces: st.faces.load(Ordering::Relaxed),
                    faces_over_limit: st.faces_over_limit.load(Ordering::Relaxed),
                    passers_by: st.passers_by.load(Ordering::Relaxed),
                    alerts: st.alerts.load(Ordering::Relaxed),
                    processed_fps: processed as f64 / secs,
                    p50_recognition_time_ms: pick(0.5),
                    p95_recognition_time_ms: pick(0.95),
                    recognition_time_buckets: RT_BUCKETS_MS
                        .iter()
                        .map(|&le| (le, rts.partition_point(|&t| t <= le) as u64))
                        .collect(),
                    recognition_time_sum_ms: rts.iter().sum(),
                    recognition_time_count: rts.len() as u64,
                }
            })
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
