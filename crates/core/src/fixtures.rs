//! Complete example records for tests in other crates (feature `fixtures`):
//! one place that knows every field an Application must fill.

use crate::deployment::{Application, Assessments};
use crate::Millis;

/// An Application with every Form 1 Part 1 field and assessment filled,
/// at `location`, planned from `starts_at` to `ends_at`.
pub fn complete_application(location: &str, starts_at: Millis, ends_at: Millis) -> Application {
    let filled = |s: &str| s.to_string();
    Application {
        title: filled("Test operation"),
        location: location.into(),
        starts_at,
        ends_at,
        legitimate_aim: filled("locate people wanted for serious offences"),
        legal_basis: filled("common law policing powers; DPA 2018 s.35"),
        necessity: filled("intelligence case in annex"),
        proportionality: filled("limited hours, signage"),
        safeguards: filled("human adjudication; deletion"),
        watchlist_composition: filled("wanted on warrant"),
        resources: filled("van, 6 officers"),
        assessments: Assessments {
            community_impact: filled("done"),
            equality_impact: filled("done"),
            data_protection_impact: filled("done"),
            surveillance_camera_self_assessment: filled("done"),
            operational_risk: filled("done"),
        },
        cameras: Vec::new(),
        public_notice: String::new(),
    }
}
