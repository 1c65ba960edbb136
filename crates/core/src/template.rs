//! Face templates and the one way to compare them.
//!
//! A template is only meaningful next to the model that produced it: two
//! packs embed faces into unrelated spaces, so a score between them would be
//! a number without meaning. Every template therefore carries its pack id and
//! [`Template::similarity`] refuses to compare across packs (architecture
//! invariant 6).

use serde::{Deserialize, Serialize};

/// An L2-normalised face embedding, tagged with the model pack that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Identifier of the recogniser pack, e.g. `sface-2021dec`.
    pub pack: String,
    /// Unit-length embedding vector.
    pub vector: Vec<f32>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("templates come from different model packs ({0} vs {1}); they cannot be compared")]
    PackMismatch(String, String),
    #[error("templates have different dimensions ({0} vs {1})")]
    DimensionMismatch(usize, usize),
    #[error("a template must have at least one finite, non-zero component")]
    Degenerate,
}

impl Template {
    /// Builds a template from a raw embedding, normalising it to unit length.
    ///
    /// Normalising here, once, means every comparison downstream is a plain
    /// dot product (cosine similarity), which is what the gallery's SIMD
    /// search relies on.
    pub fn from_raw(pack: impl Into<String>, raw: &[f32]) -> Result<Self, TemplateError> {
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return Err(TemplateError::Degenerate);
        }
        Ok(Self {
            pack: pack.into(),
            vector: raw.iter().map(|v| v / norm).collect(),
        })
    }

    /// One template from several of the same pack — a subject's images, or
    /// a face and its mirror image: the normalised sum. A single template
    /// is returned unchanged.
    pub fn mean(templates: &[Template]) -> Result<Self, TemplateError> {
        let first = templates.first().ok_or(TemplateError::Degenerate)?;
        if templates.len() == 1 {
            return Ok(first.clone());
        }
        for t in &templates[1..] {
            first.check_comparable(t)?;
        }
        Self::from_raw(
            first.pack.clone(),
            &sum(templates.iter().map(|t| t.vector.as_slice())),
        )
    }

    /// Cosine similarity in [-1, 1]; higher means more alike.
    pub fn similarity(&self, other: &Template) -> Result<f32, TemplateError> {
        self.check_comparable(other)?;
        Ok(dot(&self.vector, &other.vector))
    }

    /// Fails unless `other` comes from the same pack with the same dimension.
    pub fn check_comparable(&self, other: &Template) -> Result<(), TemplateError> {
        if self.pack != other.pack {
            return Err(TemplateError::PackMismatch(
                self.pack.clone(),
                other.pack.clone(),
            ));
        }
        if self.vector.len() != other.vector.len() {
            return Err(TemplateError::DimensionMismatch(
                self.vector.len(),
                other.vector.len(),
            ));
        }
        Ok(())
    }
}

/// The unit-length mean direction of equal-length vectors (all zeros when
/// there are none or they cancel out): what [`Template::mean`] computes, for
/// callers that hold bare vectors.
pub fn unit_mean<'a>(rows: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut v = sum(rows);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn sum<'a>(rows: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for r in rows {
        if sum.is_empty() {
            sum = vec![0.0; r.len()];
        }
        for (a, b) in sum.iter_mut().zip(r) {
            *a += b;
        }
    }
    sum
}

/// Dot product written so the compiler vectorises it (independent lanes).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0.0f32; LANES];
    let chunks_a = a.chunks_exact(LANES);
    let chunks_b = b.chunks_exact(LANES);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_templates_make_one_normalised_mean() {
        assert_eq!(Template::mean(&[]), Err(TemplateError::Degenerate));
        let a = Template::from_raw("p", &[1.0, 0.0]).unwrap();
        let b = Template::from_raw("p", &[0.0, 1.0]).unwrap();
        assert_eq!(
            Template::mean(std::slice::from_ref(&a)).unwrap().vector,
            a.vector
        );
        let m = Template::mean(&[a.clone(), b.clone()]).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((m.vector[0] - h).abs() < 1e-6 && (m.vector[1] - h).abs() < 1e-6);
        // Closer to each image than the images are to each other.
        assert!(m.similarity(&a).unwrap() > a.similarity(&b).unwrap());
        let other = Template::from_raw("q", &[1.0, 0.0]).unwrap();
        assert!(Template::mean(&[a.clone(), other]).is_err());
        let u = unit_mean([a.vector.as_slice(), b.vector.as_slice()]);
        assert!(u.iter().zip(&m.vector).all(|(x, y)| (x - y).abs() < 1e-6));
    }

    #[test]
    fn normalises_to_unit_length() {
        let t = Template::from_raw("p", &[3.0, 4.0]).unwrap();
        assert!((t.vector[0] - 0.6).abs() < 1e-6);
        assert!((t.vector[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn identical_templates_score_one_and_opposite_minus_one() {
        let a = Template::from_raw("p", &[1.0, 2.0, 3.0]).unwrap();
        let b = Template::from_raw("p", &[-1.0, -2.0, -3.0]).unwrap();
        assert!((a.similarity(&a).unwrap() - 1.0).abs() < 1e-6);
        assert!((a.similarity(&b).unwrap() + 1.0).abs() < 1e-6);
    }

    #[test]
    fn refuses_to_compare_across_packs() {
        let a = Template::from_raw("sface", &[1.0, 0.0]).unwrap();
        let b = Template::from_raw("dlib", &[1.0, 0.0]).unwrap();
        assert_eq!(
            a.similarity(&b),
            Err(TemplateError::PackMismatch("sface".into(), "dlib".into()))
        );
    }

    #[test]
    fn refuses_different_dimensions() {
        let a = Template::from_raw("p", &[1.0, 0.0]).unwrap();
        let b = Template::from_raw("p", &[1.0, 0.0, 0.0]).unwrap();
        assert_eq!(
            a.similarity(&b),
            Err(TemplateError::DimensionMismatch(2, 3))
        );
    }

    #[test]
    fn rejects_zero_and_nan_embeddings() {
        assert_eq!(
            Template::from_raw("p", &[0.0, 0.0]),
            Err(TemplateError::Degenerate)
        );
        assert_eq!(
            Template::from_raw("p", &[f32::NAN, 1.0]),
            Err(TemplateError::Degenerate)
        );
    }

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.01).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
