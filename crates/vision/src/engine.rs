//! The whole stage in one call: image in, faces out.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use vigil_core::Template;

use crate::detect::{Detection, DetectionSize, Detector};
use crate::embed::Recogniser;
use crate::pack::Pack;
use crate::quality::{self, Quality, QualityGate, Verdict};
use crate::runtime::RuntimeOptions;
use crate::{DecodeLimits, VisionError};

/// A face as the rest of the system sees it. Lives in memory only: whether
/// it is ever written anywhere is the caller's decision (and for LFR
/// non-matches, the answer is never).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Face {
    #[serde(flatten)]
    pub detection: Detection,
    pub quality: Quality,
    pub verdict: Verdict,
    /// Present when a recogniser was loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
}

pub use vigil_core::quality::ReferenceVerdict;

/// Which packs to load and how.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub models_dir: PathBuf,
    pub detector: String,
    /// `None` for detection only.
    pub recogniser: Option<String>,
    pub runtime: RuntimeOptions,
    pub gate: QualityGate,
}

pub const DEFAULT_DETECTOR: &str = "yunet-2023mar";
pub const DEFAULT_RECOGNISER: &str = "sface-2021dec";

pub struct FaceEngine {
    detector: Detector,
    recogniser: Option<Recogniser>,
    gate: QualityGate,
}

impl FaceEngine {
    pub fn load(cfg: &EngineConfig) -> Result<Self, VisionError> {
        let detector = Detector::load(&Pack::find(&cfg.models_dir, &cfg.detector)?, &cfg.runtime)?;
        let recogniser = match &cfg.recogniser {
            Some(id) => Some(Recogniser::load(
                &Pack::find(&cfg.models_dir, id)?,
                &cfg.runtime,
            )?),
            None => None,
        };
        Ok(Self {
            detector,
            recogniser,
            gate: cfg.gate.clone(),
        })
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    pub fn recogniser(&self) -> Option<&Recogniser> {
        self.recogniser.as_ref()
    }

    pub fn gate(&self) -> &QualityGate {
        &self.gate
    }

    /// Detects, measures and (with a recogniser) embeds every face.
    pub fn analyse(&self, image: &RgbImage) -> Result<Vec<Face>, VisionError> {
        self.analyse_sized(image, DetectionSize::Letterbox)
    }

    /// Like [`FaceEngine::analyse`], with the detector seeing the image at
    /// `size` (small faces in a large photo need its own size).
    pub fn analyse_sized(
        &self,
        image: &RgbImage,
        size: DetectionSize,
    ) -> Result<Vec<Face>, VisionError> {
        let dets = self.detector.detect_sized(image, size)?;
        let templates = match &self.recogniser {
            Some(r) if !dets.is_empty() => r.embed(image, &dets)?.into_iter().map(Some).collect(),
            _ => vec![None; dets.len()],
        };
        dets.into_iter()
            .zip(templates)
            .map(|(detection, template)| {
                let quality = quality::measure(image, &detection)?;
                let verdict = self.gate.judge(&quality);
                Ok(Face {
                    detection,
                    quality,
                    verdict,
                    template,
                })
            })
            .collect()
    }

    /// Whether an image is fit to enrol as a reference image (WL-2): it must
    /// decode, show exactly one face, and that face must pass the gate.
    /// Every reason it fails is given, for the compiler to act on.
    pub fn judge_reference(&self, bytes: &[u8], limits: DecodeLimits) -> ReferenceVerdict {
        let refuse = |reason: String| ReferenceVerdict {
            passed: false,
            faces: 0,
            reasons: vec![reason],
            quality: None,
        };
        let image = match crate::image_io::decode(bytes, limits) {
            Ok(i) => i,
            Err(e) => return refuse(e.to_string()),
        };
        let faces = match self.analyse(&image) {
            Ok(f) => f,
            Err(e) => return refuse(e.to_string()),
        };
        let Some(face) = faces.iter().max_by(|a, b| {
            a.quality
                .inter_eye_distance
                .total_cmp(&b.quality.inter_eye_distance)
        }) else {
            return refuse("no face found".into());
        };
        let mut reasons = face.verdict.reasons.clone();
        if faces.len() > 1 {
            reasons.push(format!(
                "{} faces in the image; a reference image must show one person",
                faces.len()
            ));
        }
        ReferenceVerdict {
            passed: reasons.is_empty(),
            faces: faces.len(),
            reasons,
            quality: Some(face.quality.clone()),
        }
    }

    /// The face to use from a photo that should show one person: the
    /// largest that passes the quality gate.
    pub fn best_face(faces: &[Face]) -> Option<&Face> {
        faces.iter().filter(|f| f.verdict.passed).max_by(|a, b| {
            a.quality
                .inter_eye_distance
                .total_cmp(&b.quality.inter_eye_distance)
        })
    }
}

/// Default models directory: `$VIGIL_MODELS`, else `$XDG_CACHE_HOME/vigil/models`,
/// else `~/.cache/vigil/models`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("vigil")
}

impl vigil_core::quality::ReferenceJudge for FaceEngine {
    fn judge_reference(&self, image: &[u8]) -> ReferenceVerdict {
        FaceEngine::judge_reference(self, image, DecodeLimits::default())
    }
}
