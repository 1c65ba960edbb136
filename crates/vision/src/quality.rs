//! Face quality (ENG-5): whether a face is good enough to act on.
//!
//! The policy sets a minimum Inter-Eye Distance of 50 pixels for reliable
//! recognition; pose, blur and exposure matter as much in practice. Each
//! measure is reported so an operator or watchlist compiler can see *why* an
//! image was refused, not just that it was.

use image::{GrayImage, RgbImage};

use crate::align;
use crate::detect::Detection;
use crate::VisionError;

/// ArcFace's 112x112 template: quality is measured on this canonical crop so
/// that sharpness and exposure are comparable between large and small faces.
pub const ARCFACE_112: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

pub use vigil_core::quality::{Quality, QualityGate, Verdict};

/// Measures a detected face.
pub fn measure(image: &RgbImage, det: &Detection) -> Result<Quality, VisionError> {
    let lm = &det.landmarks;
    let (le, re, nose) = (lm[0], lm[1], lm[2]);
    let mouth = [(lm[3][0] + lm[4][0]) / 2.0, (lm[3][1] + lm[4][1]) / 2.0];
    let (dx, dy) = (re[0] - le[0], re[1] - le[1]);
    let ied = (dx * dx + dy * dy).sqrt();
    let roll = dy.atan2(dx);
    // Rotate into the eye line's frame; the nose and mouth of a frontal face
    // sit on the perpendicular through the eyes' midpoint.
    let mid = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
    let along = |p: [f32; 2]| (p[0] - mid[0]) * roll.cos() + (p[1] - mid[1]) * roll.sin();
    let offset = if ied > f32::EPSILON {
        (0.7 * along(nose) + 0.3 * along(mouth)) / (ied / 2.0)
    } else {
        0.0
    };
    let yaw = offset.clamp(-1.0, 1.0).asin().to_degrees();

    let crop = align::align(image, lm, &ARCFACE_112, 112, 112)?;
    let grey: GrayImage = image::DynamicImage::ImageRgb8(crop).into_luma8();
    let (brightness, contrast) = mean_std(grey.as_raw());
    Ok(Quality {
        inter_eye_distance: ied,
        yaw_degrees: yaw,
        roll_degrees: roll.to_degrees(),
        sharpness: laplacian_variance(&grey),
        brightness,
        contrast,
    })
}

fn mean_std(values: &[u8]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean as f32, var.sqrt() as f32)
}

/// Variance of the 4-neighbour Laplacian over the central region of the crop
/// (the border of an aligned crop can be black padding).
fn laplacian_variance(grey: &GrayImage) -> f32 {
    let (w, h) = grey.dimensions();
    let (x0, x1, y0, y1) = (w / 8, w - w / 8, h / 8, h - h / 8);
    let px = |x: u32, y: u32| f64::from(grey.get_pixel(x, y).0[0]);
    let mut vals = Vec::with_capacity(((x1 - x0) * (y1 - y0)) as usize);
    for y in y0.max(1)..y1.min(h - 1) {
        for x in x0.max(1)..x1.min(w - 1) {
            vals.push(px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4.0 * px(x, y));
        }
    }
    if vals.is_empty() {
        return 0.0;
    }
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontal(scale: f32) -> Detection {
        Detection {
            bbox: [0.0, 0.0, 112.0 * scale, 112.0 * scale],
            score: 1.0,
            landmarks: ARCFACE_112.map(|p| [p[0] * scale, p[1] * scale]),
        }
    }

    fn noisy(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = ((x * 37 + y * 91) % 200 + 28) as u8;
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn frontal_face_has_small_yaw_and_roll_and_scaled_ied() {
        let q = measure(&noisy(300, 300), &frontal(2.0)).unwrap();
        assert!((q.inter_eye_distance - 70.47).abs() < 0.5, "{q:?}");
        assert!(q.yaw_degrees.abs() < 5.0, "{q:?}");
        assert!(q.roll_degrees.abs() < 1.0, "{q:?}");
    }

    #[test]
    fn turned_face_has_large_yaw() {
        let mut d = frontal(2.0);
        d.landmarks[2][0] += 30.0;
        d.landmarks[3][0] += 25.0;
        d.landmarks[4][0] += 25.0;
        let q = measure(&noisy(300, 300), &d).unwrap();
        assert!(q.yaw_degrees > 30.0, "{q:?}");
    }

    #[test]
    fn flat_grey_is_blurred_and_low_contrast() {
        let flat = RgbImage::from_pixel(300, 300, image::Rgb([128, 128, 128]));
        let q = measure(&flat, &frontal(2.0)).unwrap();
        let v = QualityGate::default().judge(&q);
        assert!(!v.passed);
        assert!(v.reasons.iter().any(|r| r.contains("blurred")), "{v:?}");
        assert!(v.reasons.iter().any(|r| r.contains("contrast")), "{v:?}");
    }

    #[test]
    fn small_face_fails_the_policy_ied() {
        let q = measure(&noisy(300, 300), &frontal(0.5)).unwrap();
        let v = QualityGate::default().judge(&q);
        assert!(v.reasons.iter().any(|r| r.contains("inter-eye")), "{v:?}");
    }

    #[test]
    fn textured_large_frontal_face_passes() {
        let q = measure(&noisy(300, 300), &frontal(2.0)).unwrap();
        let v = QualityGate::default().judge(&q);
        assert!(v.passed, "{v:?} {q:?}");
    }
}
