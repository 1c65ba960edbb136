//! Face detection: boxes, confidence and five landmarks for every face.
//!
//! Both supported detectors (YuNet, SCRFD) are anchor-free heads on strides
//! 8, 16 and 32; they differ only in output names, anchors per cell and how
//! offsets are encoded, which the pack's [`DetectorDecoding`] selects.
//!
//! SCRFD as shipped takes a fixed 640x640 input, so every image is
//! letterboxed into it. The YuNet pack's input size is free (the converter
//! makes it so), so it can also see an image at its own size: a 1080p frame
//! whose faces are 24 px wide loses most of them when shrunk to 640 px and
//! keeps them at 1920 px; a 250 px photo need not be blown up to 640.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::pack::{DetectorDecoding, Manifest, Pack, PackKind};
use crate::runtime::{self, ActiveProvider, RuntimeOptions};
use crate::tensor::{self, Model};
use crate::VisionError;

/// One detected face in original image coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// `[x1, y1, x2, y2]` in pixels.
    pub bbox: [f32; 4],
    /// Detector confidence in [0, 1].
    pub score: f32,
    /// Image-left eye, image-right eye, nose tip, image-left mouth corner,
    /// image-right mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

const STRIDES: [usize; 3] = [8, 16, 32];

/// How large an image the detector sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DetectionSize {
    /// Scaled up or down to fit the pack's input (640x640), as every
    /// detector supports. A detector with a free input size is given only
    /// the scaled image, padded to a multiple of 32, not the whole square:
    /// the same scale and faces for a third less work on a 16:9 frame.
    #[default]
    Letterbox,
    /// Scaled down (never up) so the long side is at most this many pixels,
    /// then padded to a multiple of 32. A detector with a fixed input falls
    /// back to [`DetectionSize::Letterbox`].
    UpTo(u32),
}

impl DetectionSize {
    /// The smallest and largest long side accepted for [`DetectionSize::UpTo`]
    /// (core's rule for a camera's setting, so a camera, a search and the
    /// command line accept the same sizes).
    pub const RANGE: std::ops::RangeInclusive<u32> = vigil_core::camera::DETECTION_SIZES;

    /// `letterbox`, or a long side in pixels (`native` for 4096: the image's
    /// own size for any camera or photo up to 4K).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "letterbox" | "fixed" => Ok(Self::Letterbox),
            "native" => Ok(Self::UpTo(*Self::RANGE.end())),
            n => match n.parse::<u32>() {
                Ok(v) if Self::RANGE.contains(&v) => Ok(Self::UpTo(v)),
                _ => Err(format!(
                    "detection size {s:?}: expected letterbox, native or a long side of {}-{} pixels",
                    Self::RANGE.start(),
                    Self::RANGE.end()
                )),
            },
        }
    }
}

/// A setting as a camera or a search stores it: unset is the letterbox.
impl From<Option<u32>> for DetectionSize {
    fn from(long_side: Option<u32>) -> Self {
        long_side.map_or(Self::Letterbox, Self::UpTo)
    }
}

impl std::fmt::Display for DetectionSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Letterbox => f.write_str("letterbox"),
            Self::UpTo(n) => write!(f, "{n}"),
        }
    }
}

pub struct Detector {
    manifest: Manifest,
    model: Model,
    provider: ActiveProvider,
    /// Index of each output by name, resolved once at load.
    outputs: Vec<[usize; 4]>,
}

impl Detector {
    pub fn load(pack: &Pack, opts: &RuntimeOptions) -> Result<Self, VisionError> {
        let m = &pack.manifest;
        if m.kind != PackKind::Detector || m.decoding.is_none() {
            return Err(VisionError::PackInvalid {
                path: pack.dir.clone(),
                reason: format!("{} is not a detector pack", m.id),
            });
        }
        let bytes = pack.verified_model_bytes()?;
        let (session, provider) = runtime::session(opts, &bytes, &m.id)?;
        let model = Model::new(session)?;
        let find = |name: String| {
            model
                .output_names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| VisionError::PackInvalid {
                    path: pack.dir.clone(),
                    reason: format!("model has no output {name}"),
                })
        };
        let mut outputs = Vec::new();
        for s in STRIDES {
            outputs.push(match m.decoding {
                Some(DetectorDecoding::Yunet) => [
                    find(format!("cls_{s}"))?,
                    find(format!("obj_{s}"))?,
                    find(format!("bbox_{s}"))?,
                    find(format!("kps_{s}"))?,
                ],
                _ => {
                    let score = find(format!("score_{s}"))?;
                    [
                        score,
                        score,
                        find(format!("bbox_{s}"))?,
                        find(format!("kps_{s}"))?,
                    ]
                }
            });
        }
        Ok(Self {
            manifest: m.clone(),
            model,
            provider,
            outputs,
        })
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn provider(&self) -> ActiveProvider {
        self.provider
    }

    /// Whether the model takes any input size (else only the pack's own).
    pub fn free_size(&self) -> bool {
        matches!(self.model.input_dims.as_slice(), [_, _, h, w] if *h < 0 && *w < 0)
    }

    /// Detects every face in `image` scoring at least the pack's threshold,
    /// letterboxed into the pack's input size.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Detection>, VisionError> {
        self.detect_sized(image, DetectionSize::Letterbox)
    }

    /// Like [`Detector::detect`], at the given size.
    pub fn detect_sized(
        &self,
        image: &RgbImage,
        size: DetectionSize,
    ) -> Result<Vec<Detection>, VisionError> {
        let spec = &self.manifest.input;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let fit = (spec.width as f32 / w).min(spec.height as f32 / h);
        let pad = STRIDES[2] as u32;
        let (canvas, scale) = match size {
            _ if !self.free_size() => tensor::letterbox(image, spec.width, spec.height)?,
            DetectionSize::Letterbox => tensor::scale_and_pad(image, fit, pad)?,
            DetectionSize::UpTo(max_side) => {
                tensor::scale_and_pad(image, (max_side as f32 / w.max(h)).min(1.0), pad)?
            }
        };
        let mut data = Vec::new();
        tensor::push_normalised(&canvas, spec, &mut data);
        let outs = self.model.run(
            tensor::shape_of(spec, 1, canvas.width(), canvas.height()),
            &data,
        )?;
        let threshold = self.manifest.score_threshold.unwrap_or(0.6);
        let mut dets = Vec::new();
        for (level, &stride) in STRIDES.iter().enumerate() {
            let [a, b, bbox, kps] = self.outputs[level];
            let cols = canvas.width() as usize / stride;
            let decoding = self.manifest.decoding.unwrap_or(DetectorDecoding::Yunet);
            decode_level(
                decoding,
                stride,
                cols,
                &outs[a].1,
                &outs[b].1,
                &outs[bbox].1,
                &outs[kps].1,
                threshold,
                &mut dets,
            );
        }
        let mut kept = nms(dets, self.manifest.nms_iou.unwrap_or(0.4));
        let (w, h) = (image.width() as f32, image.height() as f32);
        for d in &mut kept {
            for v in d.bbox.iter_mut() {
                *v /= scale;
            }
            d.bbox = [
                d.bbox[0].clamp(0.0, w),
                d.bbox[1].clamp(0.0, h),
                d.bbox[2].clamp(0.0, w),
                d.bbox[3].clamp(0.0, h),
            ];
            for p in d.landmarks.iter_mut() {
                p[0] /= scale;
                p[1] /= scale;
            }
        }
        kept.retain(|d| d.bbox[2] - d.bbox[0] >= 1.0 && d.bbox[3] - d.bbox[1] >= 1.0);
        Ok(kept)
    }
}

#[allow(clippy::too_many_arguments)]
fn decode_level(
    decoding: DetectorDecoding,
    stride: usize,
    cols: usize,
    a: &[f32],
    b: &[f32],
    bbox: &[f32],
    kps: &[f32],
    threshold: f32,
    out: &mut Vec<Detection>,
) {
    let s = stride as f32;
    let anchors = match decoding {
        DetectorDecoding::Yunet => 1,
        DetectorDecoding::Scrfd => 2,
    };
    let n = a.len().min(bbox.len() / 4).min(kps.len() / 10);
    for i in 0..n {
        let score = match decoding {
            DetectorDecoding::Yunet => (a[i].clamp(0.0, 1.0) * b[i].clamp(0.0, 1.0)).sqrt(),
            DetectorDecoding::Scrfd => a[i],
        };
        if score < threshold || !score.is_finite() {
            continue;
        }
        let cell = i / anchors;
        let (col, row) = ((cell % cols) as f32, (cell / cols) as f32);
        let r = &bbox[i * 4..i * 4 + 4];
        let k = &kps[i * 10..i * 10 + 10];
        let (bb, lm) = match decoding {
            DetectorDecoding::Yunet => {
                let (cx, cy) = ((col + r[0]) * s, (row + r[1]) * s);
                let (w, h) = (r[2].exp() * s, r[3].exp() * s);
                let lm = std::array::from_fn(|j| [(col + k[2 * j]) * s, (row + k[2 * j + 1]) * s]);
                ([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], lm)
            }
            DetectorDecoding::Scrfd => {
                let (cx, cy) = (col * s, row * s);
                let lm = std::array::from_fn(|j| [cx + k[2 * j] * s, cy + k[2 * j + 1] * s]);
                (
                    [cx - r[0] * s, cy - r[1] * s, cx + r[2] * s, cy + r[3] * s],
                    lm,
                )
            }
        };
        if bb.iter().all(|v| v.is_finite()) {
            out.push(Detection {
                bbox: bb,
                score,
                landmarks: lm,
            });
        }
    }
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Greedy non-maximum suppression, highest score first.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    dets.sort_by(|x, y| y.score.total_cmp(&x.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if kept.iter().all(|k| iou(&k.bbox, &d.bbox) <= iou_threshold) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(b: [f32; 4], score: f32) -> Detection {
        Detection {
            bbox: b,
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn detection_sizes_parse_and_refuse_nonsense() {
        assert_eq!(
            DetectionSize::parse("letterbox"),
            Ok(DetectionSize::Letterbox)
        );
        assert_eq!(DetectionSize::parse("1920"), Ok(DetectionSize::UpTo(1920)));
        assert_eq!(
            DetectionSize::parse("native"),
            Ok(DetectionSize::UpTo(4096))
        );
        for bad in ["0", "63", "100000", "-5", "big", ""] {
            assert!(DetectionSize::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(DetectionSize::UpTo(960).to_string(), "960");
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]) - 1.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 30.0, 30.0]), 0.0);
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = nms(
            vec![
                det([0.0, 0.0, 10.0, 10.0], 0.7),
                det([1.0, 1.0, 11.0, 11.0], 0.9),
                det([50.0, 50.0, 60.0, 60.0], 0.8),
            ],
            0.4,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }

    #[test]
    fn yunet_decoding_places_box_and_landmarks_in_its_cell() {
        // One cell (col 2, row 1) at stride 8 on a 4-column grid.
        let cols = 4;
        let idx = cols + 2;
        let n = 8;
        let mut cls = vec![0.0; n];
        let mut obj = vec![0.0; n];
        cls[idx] = 0.81;
        obj[idx] = 1.0;
        let mut bbox = vec![0.0; n * 4];
        bbox[idx * 4..idx * 4 + 4].copy_from_slice(&[0.5, 0.5, 0.0, 0.0]);
        let mut kps = vec![0.0; n * 10];
        kps[idx * 10] = 0.25;
        let mut out = Vec::new();
        decode_level(
            DetectorDecoding::Yunet,
            8,
            cols,
            &cls,
            &obj,
            &bbox,
            &kps,
            0.5,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // centre (2.5*8, 1.5*8) = (20, 12), size exp(0)*8 = 8
        assert_eq!(d.bbox, [16.0, 8.0, 24.0, 16.0]);
        assert_eq!(d.landmarks[0], [18.0, 8.0]);
    }

    #[test]
    fn scrfd_decoding_uses_two_anchors_per_cell() {
        let cols = 2;
        // anchor 3 -> cell 1 -> col 1, row 0; centre (8, 0) at stride 8
        let mut score = vec![0.0; 8];
        score[3] = 0.9;
        let mut bbox = vec![0.0; 32];
        bbox[12..16].copy_from_slice(&[1.0, 0.0, 1.0, 2.0]);
        let kps = vec![0.0; 80];
        let mut out = Vec::new();
        decode_level(
            DetectorDecoding::Scrfd,
            8,
            cols,
            &score,
            &score,
            &bbox,
            &kps,
            0.5,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bbox, [0.0, 0.0, 16.0, 16.0]);
        assert_eq!(out[0].landmarks[4], [8.0, 0.0]);
    }
}
