//! Face quality as rules: what is measured of a face, the gate it must
//! pass to be used, and the verdict with every reason it fails (ENG-5).
//!
//! The face engine (`vigil-vision`) measures; the rules of what is good
//! enough live here, so the server, the live stage and the reference store
//! judge by one gate.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Distance between the eye centres in original image pixels.
    pub inter_eye_distance: f32,
    /// Head turn estimated from the nose's offset from the eyes' midline,
    /// degrees; 0 is frontal, sign gives the side.
    pub yaw_degrees: f32,
    /// In-plane tilt of the eye line, degrees.
    pub roll_degrees: f32,
    /// Variance of the Laplacian of the aligned grey crop; low means blurred.
    pub sharpness: f32,
    /// Mean grey level of the aligned crop, 0-255.
    pub brightness: f32,
    /// Standard deviation of the grey level of the aligned crop.
    pub contrast: f32,
}

/// Minimums and maximums a face must meet to be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityGate {
    pub min_inter_eye_distance: f32,
    pub max_abs_yaw_degrees: f32,
    pub max_abs_roll_degrees: f32,
    pub min_sharpness: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub min_contrast: f32,
}

impl Default for QualityGate {
    /// IED >= 50 px is the policy's figure; the rest are set to refuse only
    /// clearly unusable faces (profile, heavy blur, near-black or blown-out
    /// crops) and are reported for every face so they can be tuned.
    fn default() -> Self {
        Self {
            min_inter_eye_distance: 50.0,
            max_abs_yaw_degrees: 45.0,
            max_abs_roll_degrees: 35.0,
            min_sharpness: 15.0,
            min_brightness: 35.0,
            max_brightness: 225.0,
            min_contrast: 12.0,
        }
    }
}

/// The gate's decision with every reason a face failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub reasons: Vec<String>,
}

impl QualityGate {
    pub fn judge(&self, q: &Quality) -> Verdict {
        let mut reasons = Vec::new();
        if q.inter_eye_distance < self.min_inter_eye_distance {
            reasons.push(format!(
                "inter-eye distance {:.0} px is below {:.0} px",
                q.inter_eye_distance, self.min_inter_eye_distance
            ));
        }
        if q.yaw_degrees.abs() > self.max_abs_yaw_degrees {
            reasons.push(format!("head turned {:.0} degrees", q.yaw_degrees));
        }
        if q.roll_degrees.abs() > self.max_abs_roll_degrees {
            reasons.push(format!("head tilted {:.0} degrees", q.roll_degrees));
        }
        if q.sharpness < self.min_sharpness {
            reasons.push(format!("blurred (sharpness {:.0})", q.sharpness));
        }
        if q.brightness < self.min_brightness {
            reasons.push(format!("too dark (brightness {:.0})", q.brightness));
        }
        if q.brightness > self.max_brightness {
            reasons.push(format!("over-exposed (brightness {:.0})", q.brightness));
        }
        if q.contrast < self.min_contrast {
            reasons.push(format!("too little contrast ({:.0})", q.contrast));
        }
        Verdict {
            passed: reasons.is_empty(),
            reasons,
        }
    }
}

/// Whether an image is fit to enrol as a reference image (WL-2): it must
/// decode, show exactly one face, and that face must pass the gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceVerdict {
    pub passed: bool,
    pub faces: usize,
    pub reasons: Vec<String>,
    /// Of the largest face, when there is one.
    pub quality: Option<Quality>,
}

/// Judges a reference image's bytes. The face engine implements it; the
/// server holds it without linking ONNX Runtime.
pub trait ReferenceJudge: Send + Sync {
    fn judge_reference(&self, image: &[u8]) -> ReferenceVerdict;
}
