//! Watchlists [000 §10; WL-*].

use serde::{Deserialize, Serialize};

/// Primary or Additional Watchlist Category [000 §10.2].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Category {
    Primary,
    Additional,
}

/// One subject on a Deployment's Watchlist. There is deliberately no field
/// for protected characteristics (WL-3); the subject is identified by the
/// force's own reference, not by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistEntry {
    pub id: String,
    pub deployment_id: String,
    pub subject_ref: String,
    pub category: Category,
    pub reason: String,
    /// Where the images come from (e.g. custody record system).
    pub source: String,
    /// A Blue Watchlist volunteer, for measuring TRR (WL-5).
    pub blue: bool,
    /// The compiler's reason for enrolling an image the face engine judged
    /// unsuitable (None: it passed, or no engine judged it).
    #[serde(default)]
    pub quality_override: Option<String>,
}

impl WatchlistEntry {
    pub fn validate(&self) -> Result<(), String> {
        if self.subject_ref.trim().is_empty() {
            return Err("a subject reference is required".into());
        }
        if self.reason.trim().is_empty() && !self.blue {
            return Err("a reason for inclusion is required".into());
        }
        if self.source.trim().is_empty() {
            return Err("the image source is required".into());
        }
        Ok(())
    }
}

/// Expected False Alerts for a Deployment (WL-4): with a per-comparison
/// false match rate `fmr`, each passer-by is compared with every Watchlist
/// image, so false alerts grow with the Watchlist's size.
pub fn expected_false_alerts(watchlist_images: usize, passers_by: u64, fmr: f64) -> f64 {
    let per_passer = 1.0 - (1.0 - fmr).powf(watchlist_images as f64);
    per_passer * passers_by as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_false_alerts_grow_with_watchlist_size() {
        let small = expected_false_alerts(100, 10_000, 1e-6);
        let large = expected_false_alerts(10_000, 10_000, 1e-6);
        assert!((small - 1.0).abs() < 0.01, "{small}");
        assert!(large > 90.0 && large < 100.0, "{large}");
    }

    #[test]
    fn entries_need_reference_reason_and_source() {
        let mut e = WatchlistEntry {
            id: "e".into(),
            deployment_id: "d".into(),
            subject_ref: "CR-1".into(),
            category: Category::Primary,
            reason: "wanted on warrant".into(),
            source: "custody".into(),
            blue: false,
            quality_override: None,
        };
        assert!(e.validate().is_ok());
        e.reason.clear();
        assert!(e.validate().is_err());
        e.blue = true;
        assert!(e.validate().is_ok());
        e.subject_ref = " ".into();
        assert!(e.validate().is_err());
    }
}
