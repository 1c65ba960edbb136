//! The `search` stage: Retrospective and Operator Initiated FR [RFR-1..3,
//! OIF-1], as `live` is the stage of Live FR.
//!
//! Searched media (a still, or a video held in memory) is read into one
//! probe face per person (`media`); each is searched in the reference store
//! through one [`ReferenceBackend`] — this process's memory on the CPU or
//! GPU, or PostgreSQL + pgvector — with one candidate per subject
//! ([`reference::best_subjects`]). `lifecycle` builds the backend from the
//! store at start; `enrol` loads a custody image store in bulk. The server
//! holds a [`Searcher`] as `vigil_core::search::FaceSearch`.

pub mod enrol;
pub mod lifecycle;
pub mod media;
pub mod pgvector;
pub mod reference;

use std::sync::Arc;

use vigil_core::search::{
    Candidate, FaceSearch, SearchError, SearchRequest, SearchedFace, SearchedMedia,
};
use vigil_vision::{DecodeLimits, FaceEngine};

pub use reference::{
    best_subjects, MemoryReference, ReferenceBackend, ReferenceHit, ReferenceIndex,
};

/// A probe face with its candidates.
pub fn searched_face(f: media::ProbeFaceTemplate, hits: Vec<ReferenceHit>) -> SearchedFace {
    SearchedFace {
        crop_jpeg: f.crop_jpeg,
        quality: f.quality,
        verdict: f.verdict,
        candidates: hits
            .into_iter()
            .map(|h| Candidate {
                image_id: h.image_id,
                subject_ref: h.subject_ref,
                score: f64::from(h.score),
            })
            .collect(),
    }
}

/// RFR/OIFR over one face engine and one reference backend.
pub struct Searcher {
    engine: Arc<FaceEngine>,
    limits: DecodeLimits,
    reference: Arc<dyn ReferenceBackend>,
}

impl Searcher {
    pub fn new(
        engine: Arc<FaceEngine>,
        limits: DecodeLimits,
        reference: Arc<dyn ReferenceBackend>,
    ) -> Self {
        Self {
            engine,
            limits,
            reference,
        }
    }

    pub fn reference(&self) -> &Arc<dyn ReferenceBackend> {
        &self.reference
    }

    /// Reads the media on the blocking pool (decoding and detection take
    /// whole cores).
    async fn read(&self, r: SearchRequest) -> Result<media::ProbeMedia, SearchError> {
        let (engine, limits) = (self.engine.clone(), self.limits);
        tokio::task::spawn_blocking(move || {
            media::read_probe_media(
                &engine,
                &r.media,
                &r.content_type,
                limits,
                r.detection_size.into(),
            )
        })
        .await
        .map_err(|e| SearchError::Failed(format!("face engine: {e}")))?
        .map_err(SearchError::Unreadable)
    }
}

#[async_trait::async_trait]
impl FaceSearch for Searcher {
    async fn search(&self, request: SearchRequest) -> Result<SearchedMedia, SearchError> {
        let k = request.k;
        let found = self.read(request).await?;
        let mut faces = Vec::with_capacity(found.faces.len());
        for f in found.faces {
            let hits = best_subjects(self.reference.as_ref(), &f.vector, k)
                .await
                .map_err(|e| SearchError::Failed(e.to_string()))?;
            faces.push(searched_face(f, hits));
        }
        Ok(SearchedMedia {
            media_kind: found.media_kind,
            frames: found.frames,
            faces,
        })
    }
}
