//! The Deployment: from Application to Cancellation Report [000 §7].
//!
//! A Deployment is a state machine whose every transition names who, when
//! and why, and checks both that the transition is legal from the current
//! state and that the person has the rank and role for it. The live
//! pipeline may analyse frames only in [`DeploymentState::Active`]
//! (architecture invariant 2).

use serde::{Deserialize, Serialize};

use crate::access::{self, Action, Denied, User};
use crate::Millis;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
pub enum DeploymentState {
    Draft,
    Submitted,
    /// NPCC consultation done without veto.
    Consulted,
    Authorised,
    Active,
    Suspended,
    Concluded,
    CancellationFiled,
    Refused,
    Vetoed,
    Terminated,
}

impl DeploymentState {
    /// No transition leaves these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::CancellationFiled | Self::Refused | Self::Vetoed | Self::Terminated
        )
    }

    /// States in which the Deployment has ended operationally (the Watchlist
    /// retention clock runs from then).
    pub fn has_ended(self) -> bool {
        matches!(
            self,
            Self::Concluded | Self::CancellationFiled | Self::Terminated
        )
    }

    /// The state as people say it, for pages and published records.
    pub fn label(self) -> &'static str {
        match self {
            Self::Consulted => "Consulted (no veto)",
            Self::CancellationFiled => "Cancellation Report filed",
            s => s.as_str(),
        }
    }

    /// The state's stored name (the variant's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// The assessments attached to an Application [000 §7.6].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessments {
    pub community_impact: String,
    pub equality_impact: String,
    pub data_protection_impact: String,
    pub surveillance_camera_self_assessment: String,
    pub operational_risk: String,
}

/// MPS LFR Form 1, Part 1 [000 §7.6; GOV-1].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub title: String,
    pub location: String,
    /// Planned start and end.
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub legitimate_aim: String,
    pub legal_basis: String,
    pub necessity: String,
    pub proportionality: String,
    pub safeguards: String,
    pub watchlist_composition: String,
    pub resources: String,
    pub assessments: Assessments,
    /// Ids of the registered cameras the Deployment will use (its
    /// location, camera by camera); the Written Authority covers these.
    #[serde(default)]
    pub cameras: Vec<String>,
    /// The purpose published on the public page before the Deployment
    /// (policy §9.4a); empty where prior notice would undermine it.
    #[serde(default)]
    pub public_notice: String,
}

impl Application {
    /// Fields that must be filled before the Application can be submitted.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        for (name, value) in [
            ("title", &self.title),
            ("location", &self.location),
            ("legitimate aim", &self.legitimate_aim),
            ("legal basis", &self.legal_basis),
            ("necessity", &self.necessity),
            ("proportionality", &self.proportionality),
            ("safeguards", &self.safeguards),
            ("watchlist composition", &self.watchlist_composition),
            ("resources", &self.resources),
            (
                "community impact assessment",
                &self.assessments.community_impact,
            ),
            (
                "equality impact assessment",
                &self.assessments.equality_impact,
            ),
            (
                "data protection impact assessment",
                &self.assessments.data_protection_impact,
            ),
            (
                "surveillance camera self-assessment",
                &self.assessments.surveillance_camera_self_assessment,
            ),
            (
                "operational risk assessment",
                &self.assessments.operational_risk,
            ),
        ] {
            if value.trim().is_empty() {
                missing.push(name);
            }
        }
        if self.ends_at <= self.starts_at {
            missing.push("an end after the start");
        }
        missing
    }
}

/// MPS LFR Form 1, Part 2: the Authorising Officer's reasoning [GOV-2].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WrittenAuthority {
    pub reasoning: String,
    pub alternatives_considered: String,
    /// The Threshold the Deployment runs at.
    pub threshold: f32,
    /// The False Alert Rate the Threshold was derived from, if calibrated.
    pub target_false_alert_rate: Option<f64>,
}

/// MPS LFR Form 1, Part 3 [GOV-6].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CancellationReport {
    pub circumstances_of_conclusion: String,
    pub resources_used: String,
    pub issues: String,
    pub alerts: u64,
    pub engagements: u64,
    pub confirmed_true: u64,
    pub confirmed_false: u64,
    pub false_alerts: u64,
    pub arrests: u64,
    pub passers_by: u64,
    pub true_recognition_rate: Option<f64>,
    pub false_alert_rate: Option<f64>,
    pub mean_recognition_time_ms: Option<f64>,
}

/// Why activating now may not do what Silver expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActivationWarning {
    NoCamera,
    EmptyWatchlist,
    /// Entries whose images the face engine judged unsuitable, enrolled on
    /// the compiler's recorded reason: they may be missed.
    EntriesEnrolledByOverride {
        entries: usize,
    },
    BeforeAuthorisedStart {
        starts_at: Millis,
    },
    AfterAuthorisedEnd {
        ends_at: Millis,
    },
}

/// One line of the Deployment log [GOV-5].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub from: DeploymentState,
    pub to: DeploymentState,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("cannot {action} a Deployment that is {state:?}")]
    IllegalTransition {
        action: &'static str,
        state: DeploymentState,
    },
    #[error("a reason must be given to {0}")]
    ReasonRequired(&'static str),
    #[error("the Application is incomplete: missing {0}")]
    IncompleteApplication(String),
    #[error("the urgent authority must be confirmed by a Superintendent before the Deployment can be activated")]
    UrgentAuthorityUnconfirmed,
    #[error("the Threshold must lie between 0 and 1, got {0}")]
    BadThreshold(f32),
    #[error(
        "this review is already recorded (the same words, by you, last time): write what is new"
    )]
    RepeatedReview,
}

/// How long an urgent (Inspector) authority may run before a
/// Superintendent confirms it; past this it stops automatically.
pub const DEFAULT_URGENT_CONFIRMATION_WINDOW_MS: Millis = 2 * 60 * 60 * 1000;

/// Cancellation Reports are due within 31 days of conclusion [000 §7.13].
pub const CANCELLATION_REPORT_DUE_MS: Millis = 31 * 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub state: DeploymentState,
    pub application: Application,
    pub authority: Option<WrittenAuthority>,
    pub authorised_by: Option<String>,
    /// Set while an urgent authority awaits a Superintendent's confirmation.
    pub urgent_confirmation_due: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub cancellation_report: Option<CancellationReport>,
    pub gold_reviews: Vec<(Millis, String, String)>,
    pub log: Vec<LogEntry>,
}

type Result<T> = std::result::Result<T, DeploymentError>;

impl Deployment {
    pub fn draft(
        id: impl Into<String>,
        applicant: &User,
        application: Application,
        now: Millis,
    ) -> Result<Self> {
        access::check(applicant, Action::DraftApplication, &[])?;
        let mut d = Self {
            id: id.into(),
            state: DeploymentState::Draft,
            application,
            authority: None,
            authorised_by: None,
            urgent_confirmation_due: None,
            ended_at: None,
            cancellation_report: None,
            gold_reviews: Vec::new(),
            log: Vec::new(),
        };
        d.record(
            now,
            applicant,
            "draft",
            DeploymentState::Draft,
            DeploymentState::Draft,
            "Application drafted",
        );
        Ok(d)
    }

    /// What Silver should know before activating: a Deployment that will
    /// compare no faces, or one outside the times the authority covers.
    /// Warnings, not refusals: an urgent change of plan is Silver's call,
    /// and it is recorded.
    pub fn activation_warnings(
        &self,
        now: Millis,
        watchlist_entries: usize,
        overridden_entries: usize,
    ) -> Vec<ActivationWarning> {
        let a = &self.application;
        let mut w = Vec::new();
        if a.cameras.is_empty() {
            w.push(ActivationWarning::NoCamera);
        }
        if watchlist_entries == 0 {
            w.push(ActivationWarning::EmptyWatchlist);
        }
        if overridden_entries > 0 {
            w.push(ActivationWarning::EntriesEnrolledByOverride {
                entries: overridden_entries,
            });
        }
        if now < a.starts_at {
            w.push(ActivationWarning::BeforeAuthorisedStart {
                starts_at: a.starts_at,
            });
        } else if now > a.ends_at {
            w.push(ActivationWarning::AfterAuthorisedEnd { ends_at: a.ends_at });
        }
        w
    }

    /// Whether frames may be analysed now (LFR-6).
    pub fn may_process_frames(&self, now: Millis) -> bool {
        self.state == DeploymentState::Active
            && self.urgent_confirmation_due.is_none_or(|due| now < due)
    }

    /// Notes something done to the Deployment that is not a change of
    /// state (an assignment, an unassignment) in its log.
    pub fn note(&mut self, at: Millis, who: &User, action: &str, reason: &str) {
        let state = self.state;
        self.record(at, who, action, state, state, reason);
    }

    /// Whether the Deployment is over (Concluded, Terminated, Refused,
    /// Vetoed): nobody works on it any more.
    pub fn has_ended(&self) -> bool {
        self.ended_at.is_some()
            || matches!(
                self.state,
                DeploymentState::Refused | DeploymentState::Vetoed
            )
    }

    /// When the Cancellation Report is due, if one is owed.
    pub fn cancellation_report_due(&self) -> Option<Millis> {
        match (self.state, self.ended_at) {
            (DeploymentState::Concluded, Some(t)) => Some(t + CANCELLATION_REPORT_DUE_MS),
            _ => None,
        }
    }
}

#[cfg(test)]
mod state_names {
    use super::DeploymentState;
    use strum::VariantArray;

    #[test]
    fn every_state_round_trips_through_its_stored_name() {
        for s in DeploymentState::VARIANTS {
            assert_eq!(DeploymentState::parse(s.as_str()), Some(*s));
            assert_eq!(s.as_str(), format!("{s:?}"), "stored as the variant's name");
        }
        assert_eq!(DeploymentState::parse("active"), None, "names are exact");
    }
}
