//! What the face engine hands the gallery for an RFR/OIFR search.

/// What the face engine found in the searched media.
#[derive(Debug, Clone, Default)]
pub struct ProbeMedia {
    /// `image` or `video`.
    pub media_kind: String,
    pub frames: u32,
    /// One face per person: faces of one person across video frames are
    /// tracked and only the best is kept.
    pub faces: Vec<ProbeFaceTemplate>,
}

#[derive(Debug, Clone)]
pub struct ProbeFaceTemplate {
    pub crop_jpeg: Vec<u8>,
    pub quality: serde_json::Value,
    pub vector: Vec<f32>,
}
