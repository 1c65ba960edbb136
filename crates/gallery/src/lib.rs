//! The `gallery` stage: templates in, ranked matches out.
//!
//! A gallery holds enrolled templates of one model pack, grouped by subject.
//! Search is exact (every template scored) with a vectorised dot product,
//! which is both the fastest and the only lossless choice for watchlist-sized
//! galleries. Results are ranked candidates for a human to review, never an
//! identification.

pub mod codes;
pub mod gpu;
pub mod index;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_core::template::dot;
use vigil_core::{Template, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("cannot read gallery {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write gallery {path}: {reason}")]
    Write { path: String, reason: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("subject reference must not be empty")]
    EmptySubject,
}

/// One enrolled template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The subject's reference (never a name of a protected characteristic).
    pub subject: String,
    /// Where the image came from (file name), for the reviewer.
    pub source: String,
    pub vector: Vec<f32>,
}

/// A ranked candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub rank: usize,
    pub subject: String,
    /// Best cosine similarity over the subject's templates.
    pub score: f32,
    /// The image that gave the best score.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gallery {
    /// Pack of every template here; set by the first enrolment.
    pub pack: Option<String>,
    pub entries: Vec<Entry>,
}

impl Default for Gallery {
    fn default() -> Self {
        Self::new()
    }
}

impl Gallery {
    pub fn new() -> Self {
        Self {
            pack: None,
            entries: Vec::new(),
        }
    }

    /// Loads a gallery file; a missing file is an empty gallery.
    pub fn load(path: &Path) -> Result<Self, GalleryError> {
        let err = |reason: String| GalleryError::Read {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new()),
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// Saves atomically (write then rename) so a crash never leaves a
    /// half-written gallery in place of a good one.
    pub fn save(&self, path: &Path) -> Result<(), GalleryError> {
        let err = |reason: String| GalleryError::Write {
            path: path.display().to_string(),
            reason,
        };
        let json = serde_json::to_vec(self).map_err(|e| err(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    pub fn subjects(&self) -> usize {
        let mut s: Vec<&str> = self.entries.iter().map(|e| e.subject.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    }

    /// Adds a template for `subject`, refusing templates of another pack or
    /// dimension than those already enrolled.
    pub fn enrol(
        &mut self,
        subject: &str,
        source: &str,
        template: &Template,
    ) -> Result<(), GalleryError> {
        if subject.trim().is_empty() {
            return Err(GalleryError::EmptySubject);
        }
        if let Some(first) = self.entries.first() {
            let existing = Template {
                pack: self.pack.clone().unwrap_or_default(),
                vector: first.vector.clone(),
            };
            existing.check_comparable(template)?;
        }
        self.pack = Some(template.pack.clone());
        self.entries.push(Entry {
            subject: subject.to_string(),
            source: source.to_string(),
            vector: template.vector.clone(),
        });
        Ok(())
    }

    /// The `k` best subjects for `probe`, best first, one row per subject.
    pub fn search(&self, probe: &Template, k: usize) -> Result<Vec<Candidate>, GalleryError> {
        if let (Some(pack), Some(first)) = (&self.pack, self.entries.first()) {
            Template {
                pack: pack.clone(),
                vector: first.vector.clone(),
            }
            .check_comparable(probe)?;
        }
        let mut best: HashMap<&str, (f32, &str)> = HashMap::new();
        for e in &self.entries {
            let s = dot(&e.vector, &probe.vector);
            let slot = best
                .entry(e.subject.as_str())
                .or_insert((f32::NEG_INFINITY, ""));
            if s > slot.0 {
                *slot = (s, e.source.as_str());
            }
        }
        let mut ranked: Vec<(&str, f32, &str)> =
            best.into_iter().map(|(k, (s, src))| (k, s, src)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        Ok(ranked
            .into_iter()
            .take(k)
            .enumerate()
            .map(|(i, (subject, score, source))| Candidate {
                rank: i + 1,
                subject: subject.to_string(),
                score,
                source: source.to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pack: &str, v: &[f32]) -> Template {
        Template::from_raw(pack, v).unwrap()
    }

    #[test]
    fn ranks_subjects_by_their_best_template() {
        let mut g = Gallery::new();
        g.enrol("alice", "a1.jpg", &t("p", &[1.0, 0.0, 0.0]))
            .unwrap();
        g.enrol("alice", "a2.jpg", &t("p", &[0.0, 1.0, 0.0]))
            .unwrap();
        g.enrol("bob", "b1.jpg", &t("p", &[0.7, 0.7, 0.1])).unwrap();
        let r = g.search(&t("p", &[0.0, 1.0, 0.05]), 5).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].rank, r[0].subject.as_str(), r[0].source.as_str()),
            (1, "alice", "a2.jpg")
        );
        assert_eq!(r[1].subject, "bob");
        assert!(r[0].score > r[1].score);
        assert_eq!(g.subjects(), 2);
    }

    #[test]
    fn top_k_truncates() {
        let mut g = Gallery::new();
        for i in 0..10 {
            g.enrol(&format!("s{i}"), "x", &t("p", &[1.0, i as f32]))
                .unwrap();
        }
        assert_eq!(g.search(&t("p", &[1.0, 0.0]), 3).unwrap().len(), 3);
    }

    #[test]
    fn refuses_mixed_packs_on_enrol_and_search() {
        let mut g = Gallery::new();
        g.enrol("a", "x", &t("sface", &[1.0, 0.0])).unwrap();
        assert!(matches!(
            g.enrol("b", "y", &t("dlib", &[1.0, 0.0])),
            Err(GalleryError::Template(TemplateError::PackMismatch(..)))
        ));
        assert!(g.search(&t("dlib", &[1.0, 0.0]), 1).is_err());
    }

    #[test]
    fn empty_subject_is_refused() {
        assert!(matches!(
            Gallery::new().enrol("  ", "x", &t("p", &[1.0])),
            Err(GalleryError::EmptySubject)
        ));
    }

    #[test]
    fn save_and_load_round_trip_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.json");
        assert_eq!(Gallery::load(&path).unwrap(), Gallery::new());
        let mut g = Gallery::new();
        g.enrol("a", "x.jpg", &t("p", &[0.6, 0.8])).unwrap();
        g.save(&path).unwrap();
        assert_eq!(Gallery::load(&path).unwrap(), g);
    }

    #[test]
    fn corrupt_gallery_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            Gallery::load(&path),
            Err(GalleryError::Read { .. })
        ));
    }
}
