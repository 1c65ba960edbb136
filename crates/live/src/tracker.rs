//! Following faces across frames so that one passer-by is one Recognition
//! Opportunity (LFR-3).
//!
//! SORT-style association without a motion model: each detection joins the
//! live track whose last box overlaps it most (IoU), greedily from the best
//! overlap down; a detection that joins no track starts one; a track unseen
//! for `max_missed` processed frames ends. At camera frame rates a face
//! moves a fraction of its own width between frames, which is what makes
//! overlap alone reliable.

use vigil_vision::detect::iou;

#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub min_iou: f32,
    pub max_missed: u32,
    /// Tracks seen fewer times than this are detector flicker, not people.
    pub min_hits: u32,
    /// Second chance for a detection that overlaps no track: join the
    /// nearest unmatched track whose centre is within this many box widths.
    /// When the pipeline falls behind and drops frames, a face can move
    /// further than its own width between two analysed frames; without this
    /// one passer-by would split into several Recognition Opportunities.
    pub max_centre_shift: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            min_iou: 0.2,
            max_missed: 5,
            min_hits: 2,
            max_centre_shift: 1.5,
        }
    }
}

/// A track as the tracker sees it: geometry only. What the pipeline keeps
/// per track (templates, alerts) lives beside it, keyed by `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: u64,
    pub bbox: [f32; 4],
    pub hits: u32,
    pub missed: u32,
}

pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

/// What one update did.
#[derive(Debug, Default)]
pub struct Update {
    /// For each detection (by index), the track it now belongs to.
    pub assigned: Vec<u64>,
    /// Tracks that ended, with their hit counts.
    pub ended: Vec<Track>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    pub fn live(&self) -> &[Track] {
        &self.tracks
    }

    pub fn min_hits(&self) -> u32 {
        self.cfg.min_hits
    }

    pub fn update(&mut self, boxes: &[[f32; 4]]) -> Update {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, b) in boxes.iter().enumerate() {
                let o = iou(&t.bbox, b);
                if o >= self.cfg.min_iou {
                    pairs.push((o, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.tracks.len()];
        let mut det_track: Vec<Option<usize>> = vec![None; boxes.len()];
        for (_, ti, di) in pairs {
            if !track_used[ti] && det_track[di].is_none() {
                track_used[ti] = true;
                det_track[di] = Some(ti);
            }
        }
        let centre = |b: &[f32; 4]| [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        let mut near: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self
            .tracks
            .iter()
            .enumerate()
            .filter(|(ti, _)| !track_used[*ti])
        {
            for (di, b) in boxes
                .iter()
                .enumerate()
                .filter(|(di, _)| det_track[*di].is_none())
            {
                let (ct, cd) = (centre(&t.bbox), centre(b));
                let width = (t.bbox[2] - t.bbox[0]).max(b[2] - b[0]).max(1.0);
                let shift = ((ct[0] - cd[0]).powi(2) + (ct[1] - cd[1]).powi(2)).sqrt() / width;
                if shift <= self.cfg.max_centre_shift {
                    near.push((shift, ti, di));
                }
            }
        }
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, ti, di) in near {
            if !track_used[ti] && det_track[di].is_none() {
                track_used[ti] = true;
                det_track[di] = Some(ti);
            }
        }
        for (ti, used) in track_used.iter().enumerate() {
            if !used {
                self.tracks[ti].missed += 1;
            }
        }
        let mut assigned = Vec::with_capacity(boxes.len());
        for (di, b) in boxes.iter().enumerate() {
            let id = match det_track[di] {
                Some(ti) => {
                    let t = &mut self.tracks[ti];
                    t.bbox = *b;
                    t.hits += 1;
                    t.missed = 0;
                    t.id
                }
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.tracks.push(Track {
                        id,
                        bbox: *b,
                        hits: 1,
                        missed: 0,
                    });
                    id
                }
            };
            assigned.push(id);
        }
        let max_missed = self.cfg.max_missed;
        let (ended, live): (Vec<Track>, Vec<Track>) =
            self.tracks.drain(..).partition(|t| t.missed > max_missed);
        self.tracks = live;
        Update { assigned, ended }
    }

    /// Ends every live track (stream over).
    pub fn finish(&mut self) -> Vec<Track> {
        std::mem::take(&mut self.tracks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moving(x: f32) -> [f32; 4] {
        [x, 100.0, x + 100.0, 200.0]
    }

    #[test]
    fn a_moving_face_stays_one_track_and_ends_after_missed_frames() {
        let mut t = Tracker::new(TrackerConfig {
            max_missed: 2,
            ..Default::default()
        });
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(t.update(&[moving(i as f32 * 20.0)]).assigned[0]);
        }
        assert!(ids.iter().all(|&i| i == ids[0]));
        assert!(t.update(&[]).ended.is_empty());
        assert!(t.update(&[]).ended.is_empty());
        let ended = t.update(&[]).ended;
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].hits, 10);
    }

    #[test]
    fn two_faces_keep_their_own_tracks() {
        let mut t = Tracker::new(TrackerConfig::default());
        let a0 = t.update(&[moving(0.0), moving(500.0)]).assigned;
        let a1 = t.update(&[moving(520.0), moving(15.0)]).assigned;
        assert_eq!(a1, vec![a0[1], a0[0]]);
    }

    #[test]
    fn a_fast_face_between_dropped_frames_keeps_its_track() {
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(&[moving(0.0)]).assigned[0];
        // Moved 1.2 box widths: no overlap, but the same person.
        let b = t.update(&[moving(120.0)]).assigned[0];
        assert_eq!(a, b);
    }

    #[test]
    fn a_jump_starts_a_new_track() {
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(&[moving(0.0)]).assigned[0];
        let b = t.update(&[moving(800.0)]).assigned[0];
        assert_ne!(a, b);
        assert_eq!(t.finish().len(), 2);
    }
}
