//! What one Recognition Opportunity (one passer-by, one track) is judged
//! on: the fused template of its best few looks, not a single frame.
//!
//! A single frame carries that frame's blur, pose and lighting; the mean of
//! several looks at the same person averages much of it out, so the mate
//! scores higher while a stranger's template stays a stranger's. On lfw-dev
//! (`vigil eval --compare`, docs/accuracy.md) deciding on the mean of the
//! looks seen so far misses fewer Watchlist subjects at the same false
//! positive rate than deciding on any single look.
//!
//! The looks live in memory only, for as long as the track: when it ends
//! without an Alert they go with it (nothing is written anywhere).

use crate::template::{Template, TemplateError};

/// Looks fused per Recognition Opportunity.
pub const LOOKS_FUSED: usize = 3;

/// A look counts towards the fused template only if its quality is at
/// least this share of the best look's: a distant, blurred first sighting
/// should not drag down a sharp close one.
pub const MIN_QUALITY_SHARE: f32 = 0.5;

/// A new look is worth embedding, once the track holds its fill, only if
/// it beats the worst kept look by this factor.
const IMPROVEMENT: f32 = 1.1;

/// The best looks of one Recognition Opportunity, by quality.
#[derive(Debug, Clone)]
pub struct Looks {
    capacity: usize,
    /// (quality, template), best first.
    kept: Vec<(f32, Template)>,
}

impl Default for Looks {
    fn default() -> Self {
        Self::new(LOOKS_FUSED)
    }
}

impl Looks {
    /// Keeps at most `capacity` looks (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            kept: Vec::new(),
        }
    }

    /// Whether a face of this quality would be kept, so is worth the cost
    /// of a template.
    pub fn wants(&self, quality: f32) -> bool {
        if !quality.is_finite() || quality <= 0.0 {
            return false;
        }
        if self.kept.len() < self.capacity {
            return self
                .kept
                .first()
                .is_none_or(|(best, _)| quality >= best * MIN_QUALITY_SHARE);
        }
        self.kept
            .last()
            .is_some_and(|(worst, _)| quality > worst * IMPROVEMENT)
    }

    /// Adds a look (dropping the worst beyond capacity) and returns the
    /// template the Opportunity is now judged on: the normalised mean of the
    /// kept looks within [`MIN_QUALITY_SHARE`] of the best.
    pub fn add(&mut self, quality: f32, template: Template) -> Result<Template, TemplateError> {
        let at = self.kept.partition_point(|(q, _)| *q >= quality);
        self.kept.insert(at, (quality, template));
        self.kept.truncate(self.capacity);
        self.fused()
    }

    /// The template the Opportunity is judged on (see [`Looks::add`]).
    pub fn fused(&self) -> Result<Template, TemplateError> {
        let best = self.kept.first().map_or(0.0, |(q, _)| *q);
        let used: Vec<Template> = self
            .kept
            .iter()
            .filter(|(q, _)| *q >= best * MIN_QUALITY_SHARE)
            .map(|(_, t)| t.clone())
            .collect();
        Template::mean(&used)
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Template {
        Template::from_raw("p", v).unwrap()
    }

    #[test]
    fn the_fused_template_is_the_mean_of_the_best_looks() {
        let mut looks = Looks::new(2);
        let one = looks.add(10.0, t(&[1.0, 0.0])).unwrap();
        assert_eq!(one.vector, vec![1.0, 0.0], "one look is itself");
        let two = looks.add(9.0, t(&[0.0, 1.0])).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((two.vector[0] - h).abs() < 1e-6 && (two.vector[1] - h).abs() < 1e-6);
        // A better third look pushes out the worst (the second).
        let three = looks.add(12.0, t(&[1.0, 0.0])).unwrap();
        assert_eq!(looks.len(), 2);
        assert!((three.vector[0] - 1.0).abs() < 1e-6, "{:?}", three.vector);
    }

    #[test]
    fn a_poor_look_does_not_drag_down_a_good_one() {
        let mut looks = Looks::new(3);
        looks.add(2.0, t(&[0.0, 1.0])).unwrap();
        // Five times better: the poor first look no longer counts.
        let fused = looks.add(10.0, t(&[1.0, 0.0])).unwrap();
        assert_eq!(fused.vector, vec![1.0, 0.0]);
        assert_eq!(looks.len(), 2, "kept, in case nothing better comes");
    }

    #[test]
    fn only_faces_that_would_be_kept_are_wanted() {
        let mut looks = Looks::new(2);
        assert!(looks.wants(5.0));
        assert!(!looks.wants(0.0) && !looks.wants(f32::NAN));
        looks.add(10.0, t(&[1.0, 0.0])).unwrap();
        assert!(!looks.wants(4.0), "under half the best");
        assert!(looks.wants(6.0));
        looks.add(6.0, t(&[0.0, 1.0])).unwrap();
        assert!(!looks.wants(6.5), "full: must beat the worst by 10 %");
        assert!(looks.wants(7.0));
    }

    #[test]
    fn looks_of_different_packs_are_not_fused() {
        let mut looks = Looks::new(3);
        looks.add(1.0, t(&[1.0, 0.0])).unwrap();
        let other = Template::from_raw("q", &[1.0, 0.0]).unwrap();
        assert!(looks.add(1.0, other).is_err());
    }
}
