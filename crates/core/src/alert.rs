//! Alerts and their Adjudication [000 §3.1; ALR-*].
//!
//! An Operator adjudicates every Alert: a False Alert (decided without
//! Engagement), or an Engagement, whose outcome (Confirmed True or
//! Confirmed False) is then recorded. The system never acts on a match by
//! itself.

use serde::{Deserialize, Serialize};

use crate::access::{self, Action, Denied, Role, User};
use crate::Millis;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
pub enum AlertState {
    Raised,
    FalseAlert,
    Engaged,
    ConfirmedTrue,
    ConfirmedFalse,
}

impl AlertState {
    /// The state's stored name (the variant's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::FalseAlert | Self::ConfirmedTrue | Self::ConfirmedFalse
        )
    }
}

/// What an Operator or Engagement Officer decides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    FalseAlert,
    Engage,
    ConfirmTrue,
    ConfirmFalse,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdjudicationError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("cannot record {decision:?} on an Alert that is {state:?}")]
    Illegal {
        decision: Decision,
        state: AlertState,
    },
}

/// The state a decision applies to and the state it leads to.
pub fn transition(decision: Decision) -> (AlertState, AlertState) {
    match decision {
        Decision::FalseAlert => (AlertState::Raised, AlertState::FalseAlert),
        Decision::Engage => (AlertState::Raised, AlertState::Engaged),
        Decision::ConfirmTrue => (AlertState::Engaged, AlertState::ConfirmedTrue),
        Decision::ConfirmFalse => (AlertState::Engaged, AlertState::ConfirmedFalse),
    }
}

/// The decisions `who` (with this assignment) may take on some Alert of
/// the Deployment, each with the state it applies to: what the console
/// offers as keys and buttons.
pub fn decisions_for(who: &User, assignment: &[Role]) -> Vec<(Decision, AlertState)> {
    [
        Decision::FalseAlert,
        Decision::Engage,
        Decision::ConfirmTrue,
        Decision::ConfirmFalse,
    ]
    .into_iter()
    .filter_map(|d| {
        let (from, _) = transition(d);
        adjudicate(from, d, who, assignment).ok().map(|_| (d, from))
    })
    .collect()
}

/// The state an Alert moves to, if `who` (with `assignment` on the Alert's
/// Deployment) may take `decision` now: the one rule for the store and
/// the console.
pub fn adjudicate(
    state: AlertState,
    decision: Decision,
    who: &User,
    assignment: &[Role],
) -> Result<AlertState, AdjudicationError> {
    let (from, to) = transition(decision);
    let action = match decision {
        Decision::FalseAlert | Decision::Engage => Action::AdjudicateAlert,
        Decision::ConfirmTrue | Decision::ConfirmFalse => Action::RecordEngagementOutcome,
    };
    access::check(who, action, assignment)?;
    if state != from {
        return Err(AdjudicationError::Illegal { decision, state });
    }
    Ok(to)
}

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjudication {
    pub at: Millis,
    pub actor: String,
    pub decision: Decision,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_stored_name() {
        use strum::VariantArray;
        for s in AlertState::VARIANTS {
            assert_eq!(AlertState::parse(s.as_str()), Some(*s));
            assert_eq!(s.as_str(), format!("{s:?}"), "stored as the variant's name");
        }
        assert_eq!(AlertState::parse("raised"), None, "names are exact");
    }
    use crate::access::Rank;

    fn u() -> User {
        User {
            id: "op".into(),
            display_name: "Op".into(),
            rank: Rank::Constable,
            roles: vec![],
        }
    }

    #[test]
    fn each_role_is_offered_exactly_the_decisions_it_may_take() {
        use AlertState::{Engaged, Raised};
        assert_eq!(
            decisions_for(&u(), &[Role::Operator]),
            vec![
                (Decision::FalseAlert, Raised),
                (Decision::Engage, Raised),
                (Decision::ConfirmTrue, Engaged),
                (Decision::ConfirmFalse, Engaged)
            ]
        );
        assert_eq!(
            decisions_for(&u(), &[Role::EngagementOfficer]),
            vec![
                (Decision::ConfirmTrue, Engaged),
                (Decision::ConfirmFalse, Engaged)
            ]
        );
        assert!(decisions_for(&u(), &[Role::Silver]).is_empty());
    }

    #[test]
    fn operator_decides_false_alert_or_engagement() {
        let op = [Role::Operator];
        assert_eq!(
            adjudicate(AlertState::Raised, Decision::FalseAlert, &u(), &op),
            Ok(AlertState::FalseAlert)
        );
        assert_eq!(
            adjudicate(AlertState::Raised, Decision::Engage, &u(), &op),
            Ok(AlertState::Engaged)
        );
    }

    #[test]
    fn engagement_officer_records_outcome_but_cannot_adjudicate() {
        let eo = [Role::EngagementOfficer];
        assert_eq!(
            adjudicate(AlertState::Engaged, Decision::ConfirmTrue, &u(), &eo),
            Ok(AlertState::ConfirmedTrue)
        );
        assert_eq!(
            adjudicate(AlertState::Engaged, Decision::ConfirmFalse, &u(), &eo),
            Ok(AlertState::ConfirmedFalse)
        );
        assert!(matches!(
            adjudicate(AlertState::Raised, Decision::Engage, &u(), &eo),
            Err(AdjudicationError::Denied(_))
        ));
    }

    #[test]
    fn illegal_sequences_are_refused() {
        let op = [Role::Operator];
        assert!(adjudicate(AlertState::Raised, Decision::ConfirmTrue, &u(), &op).is_err());
        assert!(adjudicate(AlertState::FalseAlert, Decision::Engage, &u(), &op).is_err());
        assert!(adjudicate(AlertState::ConfirmedTrue, Decision::ConfirmFalse, &u(), &op).is_err());
    }

    #[test]
    fn unassigned_users_cannot_adjudicate() {
        assert!(matches!(
            adjudicate(AlertState::Raised, Decision::Engage, &u(), &[]),
            Err(AdjudicationError::Denied(_))
        ));
        assert!(matches!(
            adjudicate(AlertState::Raised, Decision::Engage, &u(), &[Role::Gold]),
            Err(AdjudicationError::Denied(_))
        ));
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            AlertState::Raised,
            AlertState::FalseAlert,
            AlertState::Engaged,
            AlertState::ConfirmedTrue,
            AlertState::ConfirmedFalse,
        ] {
            assert_eq!(AlertState::parse(s.as_str()), Some(s));
        }
    }
}
