//! One camera's recognition, frame by frame: faces found, limited to the
//! Zone of Recognition and the Faces-per-frame limit, followed as tracks
//! (one per passer-by), and each Recognition Opportunity judged on the
//! fused template of its best looks against the Watchlist.
//!
//! It knows nothing of ffmpeg or the store: the pipeline feeds it frames
//! and turns its matches into Alerts; an evaluation feeds it rendered
//! footage and counts them. Templates live here only while their track
//! does.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use image::RgbImage;
use vigil_core::opportunity::{Looks, LOOKS_FUSED};
use vigil_gallery::Gallery;
use vigil_vision::{quality, Detection, DetectionSize, FaceEngine, Quality, QualityGate};

use crate::tracker::{Track, Tracker, TrackerConfig};
use crate::zone::Zone;
use crate::LiveError;

/// How one camera's faces are judged.
#[derive(Debug, Clone)]
pub struct MatcherSettings {
    pub zone: Zone,
    /// Faces-per-frame limit (ENG-6): the largest are kept.
    pub max_faces: usize,
    pub detection_size: DetectionSize,
    pub gate: QualityGate,
    /// The Deployment's Threshold.
    pub threshold: f32,
    /// Looks fused per Recognition Opportunity (1: each new best look
    /// judged alone, as before track-level decisions).
    pub looks_fused: usize,
}

impl MatcherSettings {
    pub fn new(zone: Zone, max_faces: usize, gate: QualityGate, threshold: f32) -> Self {
        Self {
            zone,
            max_faces,
            detection_size: DetectionSize::Letterbox,
            gate,
            threshold,
            looks_fused: LOOKS_FUSED,
        }
    }
}

/// A Recognition Opportunity that reached the Threshold for a subject.
#[derive(Debug, Clone)]
pub struct Match {
    pub track: u64,
    /// The Watchlist entry.
    pub subject: String,
    /// The fused template's score.
    pub score: f32,
    /// The face that completed the decision (the Probe Image's crop).
    pub detection: Detection,
    pub quality: Quality,
    pub first_seen: Instant,
}

/// One search of the Watchlist by a Recognition Opportunity's fused looks.
#[derive(Debug, Clone)]
pub struct Decision {
    pub track: u64,
    /// (Watchlist entry, score), best first.
    pub candidates: Vec<(String, f32)>,
}

/// What one frame gave.
#[derive(Debug, Default)]
pub struct FrameOutcome {
    /// Faces analysed (in the Zone, within the limit).
    pub faces: usize,
    pub over_limit: usize,
    /// Tracks that ended as passers-by (seen in at least two frames).
    pub passers_by: u64,
    /// Each search of the Watchlist made: the track and its five best
    /// candidates, above the Threshold or not (for evaluation; the pipeline
    /// drops them with the frame).
    pub decisions: Vec<Decision>,
    pub matches: Vec<Match>,
    /// Every face's box in the frame, in the Zone or not (the scene frame
    /// pixelates all but the alerting one).
    pub all_boxes: Vec<[f32; 4]>,
}

struct TrackState {
    first_seen: Instant,
    looks: Looks,
    alerted: HashSet<String>,
}

pub struct Matcher {
    settings: MatcherSettings,
    tracker: Tracker,
    tracks: HashMap<u64, TrackState>,
}

/// How good a face is for recognition: big, frontal, sharp.
pub fn face_score(q: &Quality) -> f32 {
    q.inter_eye_distance
        * (1.0 - q.yaw_degrees.abs() / 90.0).max(0.0)
        * (q.sharpness / 100.0).min(1.0)
}

impl Matcher {
    pub fn new(settings: MatcherSettings) -> Self {
        Self {
            settings,
            tracker: Tracker::new(TrackerConfig::default()),
            tracks: HashMap::new(),
        }
    }

    pub fn settings(&self) -> &MatcherSettings {
        &self.settings
    }

    /// Ends every open track (the Deployment paused, the stream ended) and
    /// returns how many were passers-by.
    pub fn finish(&mut self) -> u64 {
        let ended = self.tracker.finish();
        ended.iter().map(|t| self.end_track(t)).sum()
    }

    fn end_track(&mut self, t: &Track) -> u64 {
        self.tracks.remove(&t.id);
        u64::from(t.hits >= 2)
    }

    /// Finds, follows and judges the faces of one frame against
    /// `watchlist`. At most one match per (Recognition Opportunity,
    /// subject).
    pub fn process(
        &mut self,
        engine: &FaceEngine,
        watchlist: &Gallery,
        image: &RgbImage,
        captured: Instant,
    ) -> Result<FrameOutcome, LiveError> {
        let mut out = FrameOutcome::default();
        let mut dets = engine
            .detector()
            .detect_sized(image, self.settings.detection_size)?;
        out.all_boxes = dets.iter().map(|d| d.bbox).collect();
        dets.retain(|d| {
            let eyes = [
                (d.landmarks[0][0] + d.landmarks[1][0]) / 2.0,
                (d.landmarks[0][1] + d.landmarks[1][1]) / 2.0,
            ];
            self.settings.zone.contains(eyes)
        });
        let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
        dets.sort_by(|a, b| area(&b.bbox).total_cmp(&area(&a.bbox)));
        if dets.len() > self.settings.max_faces {
            out.over_limit = dets.len() - self.settings.max_faces;
            dets.truncate(self.settings.max_faces);
        }
        out.faces = dets.len();
        let boxes: Vec<[f32; 4]> = dets.iter().map(|d| d.bbox).collect();
        let update = self.tracker.update(&boxes);
        for t in &update.ended {
            out.passers_by += self.end_track(t);
        }
        // Faces worth a template: usable, and a look the track would keep.
        let mut to_embed = Vec::new();
        for (det, &track_id) in dets.into_iter().zip(&update.assigned) {
            let looks_fused = self.settings.looks_fused;
            let state = self.tracks.entry(track_id).or_insert_with(|| TrackState {
                first_seen: captured,
                looks: Looks::new(looks_fused),
                alerted: HashSet::new(),
            });
            let q = quality::measure(image, &det)?;
            if !self.settings.gate.judge(&q).passed {
                continue;
            }
            let score = face_score(&q);
            if state.looks.wants(score) {
                to_embed.push((det, track_id, score, q));
            }
        }
        let Some(rec) = engine.recogniser().filter(|_| !to_embed.is_empty()) else {
            return Ok(out);
        };
        let ds: Vec<Detection> = to_embed.iter().map(|(d, ..)| d.clone()).collect();
        let templates = rec.embed(image, &ds)?;
        for ((detection, track_id, look_quality, quality), template) in
            to_embed.into_iter().zip(templates)
        {
            let Some(state) = self.tracks.get_mut(&track_id) else {
                continue;
            };
            let fused = state
                .looks
                .add(look_quality, template)
                .map_err(|e| LiveError::Watchlist(e.to_string()))?;
            let candidates = watchlist
                .search(&fused, 5)
                .map_err(|e| LiveError::Watchlist(e.to_string()))?;
            out.decisions.push(Decision {
                track: track_id,
                candidates: candidates
                    .iter()
                    .map(|c| (c.subject.clone(), c.score))
                    .collect(),
            });
            for c in candidates
                .into_iter()
                .filter(|c| c.score >= self.settings.threshold)
            {
                if state.alerted.insert(c.subject.clone()) {
                    out.matches.push(Match {
                        track: track_id,
                        subject: c.subject,
                        score: c.score,
                        detection: detection.clone(),
                        quality: quality.clone(),
                        first_seen: state.first_seen,
                    });
                }
            }
        }
        Ok(out)
    }
}
