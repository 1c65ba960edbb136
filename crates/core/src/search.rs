//! RFR/OIFR as the server sees it: media in, each face's ranked candidates
//! out. The search stage (`vigil-search`) implements [`FaceSearch`] with
//! the face engine and a reference backend; the server holds it as a trait
//! object and stays free of ONNX Runtime, ffmpeg and the index.

use serde::{Deserialize, Serialize};

use crate::quality::{Quality, Verdict};

/// What an investigator or officer submitted.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub media: Vec<u8>,
    /// As the client declared it; never trusted to make bytes a video.
    pub content_type: String,
    /// The long side, in pixels, at which faces are looked for (`None`:
    /// the detector's own 640x640).
    pub detection_size: Option<u32>,
    /// Candidates wanted per face.
    pub k: usize,
}

/// A ranked candidate: a lead for a human to review, never an
/// identification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub image_id: String,
    pub subject_ref: String,
    /// Cosine similarity, exact.
    pub score: f64,
}

/// One face found in the media, with its candidates (one per subject, best
/// first).
#[derive(Debug, Clone)]
pub struct SearchedFace {
    pub crop_jpeg: Vec<u8>,
    pub quality: Quality,
    /// Faces below the gate are still searched (an investigator may have
    /// nothing better) but carry the reasons to the reviewer.
    pub verdict: Verdict,
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone)]
pub struct SearchedMedia {
    /// `image` or `video`.
    pub media_kind: String,
    /// Frames analysed (1 for a still).
    pub frames: u32,
    pub faces: Vec<SearchedFace>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The media could not be read (the client's fault: 422).
    #[error("{0}")]
    Unreadable(String),
    /// The reference backend failed (the server's fault: 500).
    #[error("reference search failed: {0}")]
    Failed(String),
}

/// Finds the faces of searched media and each one's best candidates.
#[async_trait::async_trait]
pub trait FaceSearch: Send + Sync {
    async fn search(&self, request: SearchRequest) -> Result<SearchedMedia, SearchError>;
}
