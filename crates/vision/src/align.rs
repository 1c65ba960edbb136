//! Face alignment: the similarity transform that puts a face's five
//! landmarks where the recogniser was trained to see them.
//!
//! Recognisers are trained on crops aligned to a fixed template; feeding them
//! unaligned boxes costs accuracy for nothing. The transform is the
//! least-squares similarity (rotation, uniform scale, translation) of
//! Umeyama (1991), which for two dimensions has a closed form and needs no
//! SVD.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{warp_into, Border, Interpolation, Projection};

use crate::VisionError;

/// A 2x3 affine matrix `[a, -b, tx; b, a, ty]` mapping image points to crop points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares similarity taking `src` points onto `dst` points.
    pub fn estimate(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<Self> {
        let n = src.len() as f64;
        let mean = |p: &[[f32; 2]; 5]| {
            let (sx, sy) = p.iter().fold((0.0f64, 0.0f64), |(x, y), q| {
                (x + f64::from(q[0]), y + f64::from(q[1]))
            });
            (sx / n, sy / n)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut num_a, mut num_b, mut den) = (0.0f64, 0.0f64, 0.0f64);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy) = (f64::from(s[0]) - msx, f64::from(s[1]) - msy);
            let (dx, dy) = (f64::from(d[0]) - mdx, f64::from(d[1]) - mdy);
            num_a += sx * dx + sy * dy;
            num_b += sx * dy - sy * dx;
            den += sx * sx + sy * sy;
        }
        if den <= f64::EPSILON {
            return None;
        }
        let a = num_a / den;
        let b = num_b / den;
        let tx = mdx - (a * msx - b * msy);
        let ty = mdy - (b * msx + a * msy);
        Some(Self {
            a: a as f32,
            b: b as f32,
            tx: tx as f32,
            ty: ty as f32,
        })
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    fn matrix(&self) -> [f32; 9] {
        [
            self.a, -self.b, self.tx, self.b, self.a, self.ty, 0.0, 0.0, 1.0,
        ]
    }
}

/// Warps `image` so that `landmarks` land on `template`, into a
/// `width` x `height` crop (bilinear, black outside the image).
pub fn align(
    image: &RgbImage,
    landmarks: &[[f32; 2]; 5],
    template: &[[f32; 2]; 5],
    width: u32,
    height: u32,
) -> Result<RgbImage, VisionError> {
    let t = Similarity::estimate(landmarks, template)
        .ok_or_else(|| VisionError::Alignment("landmarks are degenerate".into()))?;
    let projection = Projection::from_matrix(t.matrix())
        .ok_or_else(|| VisionError::Alignment("alignment transform is not invertible".into()))?;
    let mut out = RgbImage::new(width, height);
    warp_into(
        image,
        projection,
        Interpolation::Bilinear,
        Border::Constant(Rgb([0, 0, 0])),
        &mut out,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCFACE: [[f32; 2]; 5] = [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ];

    #[test]
    fn recovers_a_known_similarity() {
        let truth = Similarity {
            a: 0.8 * 30f32.to_radians().cos(),
            b: 0.8 * 30f32.to_radians().sin(),
            tx: 12.0,
            ty: -7.0,
        };
        let src = ARCFACE;
        let dst = src.map(|p| truth.apply(p));
        let est = Similarity::estimate(&src, &dst).unwrap();
        for (x, y) in [
            (est.a, truth.a),
            (est.b, truth.b),
            (est.tx, truth.tx),
            (est.ty, truth.ty),
        ] {
            assert!((x - y).abs() < 1e-3, "{est:?} vs {truth:?}");
        }
    }

    #[test]
    fn degenerate_landmarks_are_refused() {
        let same = [[10.0, 10.0]; 5];
        assert!(Similarity::estimate(&same, &ARCFACE).is_none());
    }

    #[test]
    fn warp_moves_a_bright_pixel_to_its_template_place() {
        // A white dot at the first landmark of a face that is the template
        // scaled by 2 must land near the template's first point.
        let mut img = RgbImage::new(300, 300);
        let face = ARCFACE.map(|p| [p[0] * 2.0 + 20.0, p[1] * 2.0 + 10.0]);
        for dy in -2i32..=2 {
            for dx in -2i32..=2 {
                let x = (face[0][0] as i32 + dx) as u32;
                let y = (face[0][1] as i32 + dy) as u32;
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let crop = align(&img, &face, &ARCFACE, 112, 112).unwrap();
        let p = crop.get_pixel(ARCFACE[0][0].round() as u32, ARCFACE[0][1].round() as u32);
        assert!(p.0[0] > 128, "pixel at template point is {:?}", p.0);
        assert_eq!(crop.get_pixel(5, 5).0, [0, 0, 0]);
    }
}
