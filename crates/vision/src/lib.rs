//! The `vision` stage: images in, faces out.
//!
//! Decoding ([`image_io`]), detection with five landmarks ([`detect`]),
//! quality measures and the quality gate ([`quality`]), alignment
//! ([`align`]) and embedding into templates ([`embed`]), all driven by model
//! packs ([`pack`]) run by ONNX Runtime ([`runtime`]), named in the
//! [`catalogue`] and fetched from the registries by [`fetch`]. It knows nothing about
//! Deployments or Watchlists: it answers "which faces are in this image, and
//! what are their templates?" and nothing else.

pub mod align;
pub mod cache;
pub mod catalogue;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod fetch;
pub mod image_io;
pub mod pack;
pub mod quality;
pub mod runtime;
pub mod tensor;

use std::path::PathBuf;

pub use detect::{Detection, DetectionSize, Detector};
pub use embed::Recogniser;
pub use engine::{
    EngineConfig, Face, FaceEngine, ReferenceVerdict, DEFAULT_DETECTOR, DEFAULT_RECOGNISER,
};
pub use image_io::DecodeLimits;
pub use pack::{Manifest, Pack, PackKind};
pub use quality::{Quality, QualityGate, Verdict};
pub use runtime::{ActiveProvider, Provider, RuntimeOptions};

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("cannot read {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("cannot decode image: {0}")]
    Decode(String),
    #[error("image is {width}x{height} pixels, over the limit of {max_pixels} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("model pack missing at {path}: {reason} (run `vigil models fetch`)")]
    PackMissing { path: PathBuf, reason: String },
    #[error("model pack at {path} is invalid: {reason}")]
    PackInvalid { path: PathBuf, reason: String },
    #[error("inference runtime: {0}")]
    Runtime(String),
    #[error("alignment: {0}")]
    Alignment(String),
    #[error(transparent)]
    Template(#[from] vigil_core::TemplateError),
}
