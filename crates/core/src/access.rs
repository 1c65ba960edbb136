//! Users, ranks, roles and the one permission check used everywhere.
//!
//! Some roles are held force-wide (an Authorising Officer, an Investigator);
//! others only mean something for a particular Deployment (its Gold and
//! Silver Commanders, its Operators). A deployment-scoped permission is
//! therefore granted by an *assignment* to that Deployment, never by the
//! role alone: an Operator of one Deployment cannot see another's Alerts
//! (RET-4).

use serde::{Deserialize, Serialize};

/// Police ranks in order of seniority. NPCC rank is Commander and above
/// [000 §7.5 footnote].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rank {
    /// Police staff (no warranted rank).
    Staff,
    Constable,
    Sergeant,
    Inspector,
    ChiefInspector,
    Superintendent,
    ChiefSuperintendent,
    Commander,
    DeputyAssistantCommissioner,
    AssistantCommissioner,
    DeputyCommissioner,
    Commissioner,
}

impl Rank {
    pub fn is_npcc(self) -> bool {
        self >= Rank::Commander
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Administrator,
    WatchlistCompiler,
    Applicant,
    AuthorisingOfficer,
    Gold,
    Silver,
    Operator,
    EngagementOfficer,
    Investigator,
    Auditor,
}

impl Role {
    /// Roles that are only ever held for a particular Deployment.
    pub fn is_deployment_scoped(self) -> bool {
        matches!(
            self,
            Role::Gold
                | Role::Silver
                | Role::Operator
                | Role::EngagementOfficer
                | Role::WatchlistCompiler
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub rank: Rank,
    /// Force-wide roles. Deployment-scoped roles come from assignments.
    pub roles: Vec<Role>,
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Everything a user may try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::VariantArray)]
pub enum Action {
    ManageUsers,
    ConfigureSystem,
    DraftApplication,
    SubmitApplication,
    RecordConsultation,
    Authorise,
    AuthoriseUrgent,
    ConfirmUrgentAuthority,
    Refuse,
    Activate,
    Suspend,
    Resume,
    Terminate,
    Conclude,
    RecordGoldReview,
    FileCancellationReport,
    CompileWatchlist,
    ManageReferenceStore,
    ViewAlerts,
    ViewAlertImages,
    AdjudicateAlert,
    RecordEngagementOutcome,
    PlaceLegalHold,
    ReleaseLegalHold,
    ReadAudit,
    ReadRetention,
    RunRetention,
    RunSearch,
    ReadPublished,
    /// Read a Deployment's Watchlist entries (references, not images) and
    /// its expected Alert load.
    ViewWatchlist,
    /// Record that a Blue Watchlist volunteer walked past the cameras.
    RecordBluePass,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{user} may not {action:?}: {reason}")]
pub struct Denied {
    pub user: String,
    pub action: Action,
    pub reason: String,
}

/// Who may do what. `assignment` lists the roles the user is assigned on
/// the Deployment the action concerns (empty when it concerns none).
pub fn check(user: &User, action: Action, assignment: &[Role]) -> Result<(), Denied> {
    use Action::*;
    let deny = |reason: &str| {
        Err(Denied {
            user: user.id.clone(),
            action,
            reason: reason.to_string(),
        })
    };
    let global = |role: Role| user.has(role);
    let assigned = |role: Role| assignment.contains(&role);
    match action {
        ReadPublished => Ok(()),
        ManageUsers | ConfigureSystem | ManageReferenceStore => {
            if global(Role::Administrator) {
                Ok(())
            } else {
                deny("Administrators only")
            }
        }
        DraftApplication | SubmitApplication => {
            if global(Role::Applicant) {
                Ok(())
            } else {
                deny("Applicants only")
            }
        }
        RecordConsultation => {
            if user.rank.is_npcc() {
                Ok(())
            } else {
                deny("consultation needs an officer of NPCC rank (Commander or above)")
            }
        }
        Authorise | ConfirmUrgentAuthority | Refuse => {
            if !global(Role::AuthorisingOfficer) {
                deny("Authorising Officers only")
            } else if action != Refuse && user.rank < Rank::Superintendent {
                deny("authorisation needs the rank of Superintendent or above")
            } else if user.rank < Rank::Inspector {
                deny("an Authorising Officer must be Inspector or above")
            } else {
                Ok(())
            }
        }
        AuthoriseUrgent => {
            if !global(Role::AuthorisingOfficer) {
                deny("Authorising Officers only")
            } else if user.rank < Rank::Inspector {
                deny("urgent authorisation needs the rank of Inspector or above")
            } else {
                Ok(())
            }
        }
        Activate | Suspend | Resume | Terminate | Conclude => {
            if assigned(Role::Silver) || assigned(Role::Gold) {
                Ok(())
            } else {
                deny("only this Deployment's Silver or Gold Commander")
            }
        }
        RecordGoldReview | FileCancellationReport => {
            if assigned(Role::Gold) {
                Ok(())
            } else {
                deny("only this Deployment's Gold Commander")
            }
        }
        CompileWatchlist => {
            if assigned(Role::WatchlistCompiler) {
                Ok(())
            } else {
                deny("only a Watchlist compiler assigned to this Deployment")
            }
        }
        ViewAlerts | ViewAlertImages | RecordEngagementOutcome => {
            if assigned(Role::Operator) || assigned(Role::EngagementOfficer) {
                Ok(())
            } else {
                deny("only Operators and Engagement Officers assigned to this Deployment")
            }
        }
        AdjudicateAlert => {
            if assigned(Role::Operator) {
                Ok(())
            } else {
                deny("only Operators assigned to this Deployment")
            }
        }
        PlaceLegalHold | ReleaseLegalHold => {
            if global(Role::Investigator) || assigned(Role::Gold) {
                Ok(())
            } else {
                deny("only Investigators or the Deployment's Gold Commander")
            }
        }
        ReadAudit => {
            if global(Role::Auditor) {
                Ok(())
            } else {
                deny("Auditors only")
            }
        }
        ReadRetention | RunRetention => {
            if global(Role::Auditor) || global(Role::Administrator) {
                Ok(())
            } else {
                deny("Auditors and Administrators only")
            }
        }
        ViewWatchlist => {
            if !assignment.is_empty() || global(Role::AuthorisingOfficer) || global(Role::Auditor) {
                Ok(())
            } else {
                deny("only people assigned to this Deployment, Authorising Officers and Auditors")
            }
        }
        RecordBluePass => {
            if assigned(Role::Operator) || assigned(Role::Silver) || assigned(Role::Gold) {
                Ok(())
            } else {
                deny("only this Deployment's Operators and Commanders")
            }
        }
        RunSearch => {
            if global(Role::Investigator) {
                Ok(())
            } else {
                deny("Investigators only")
            }
        }
    }
}

/// The built-in user the command line and the background services act as
/// (Administrator and Auditor): whoever holds the data directory and the
/// master key holds the data, and what they do is audited under this name.
pub fn system_user() -> User {
    User {
        id: "system".into(),
        display_name: "Vigil system (CLI)".into(),
        rank: Rank::Staff,
        roles: vec![Role::Administrator, Role::Auditor],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rank: Rank, roles: &[Role]) -> User {
        User {
            id: "u".into(),
            display_name: "U".into(),
            rank,
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn superintendent_ao_authorises_but_inspector_only_urgently() {
        let supt = user(Rank::Superintendent, &[Role::AuthorisingOfficer]);
        let insp = user(Rank::Inspector, &[Role::AuthorisingOfficer]);
        assert!(check(&supt, Action::Authorise, &[]).is_ok());
        assert!(check(&supt, Action::ConfirmUrgentAuthority, &[]).is_ok());
        assert!(check(&insp, Action::Authorise, &[]).is_err());
        assert!(check(&insp, Action::ConfirmUrgentAuthority, &[]).is_err());
        assert!(check(&insp, Action::AuthoriseUrgent, &[]).is_ok());
        let sgt = user(Rank::Sergeant, &[Role::AuthorisingOfficer]);
        assert!(check(&sgt, Action::AuthoriseUrgent, &[]).is_err());
        assert!(check(&sgt, Action::Refuse, &[]).is_err());
    }

    #[test]
    fn rank_without_the_ao_role_cannot_authorise() {
        let commander = user(Rank::Commander, &[]);
        assert!(check(&commander, Action::Authorise, &[]).is_err());
        assert!(check(&commander, Action::RecordConsultation, &[]).is_ok());
        let supt = user(Rank::ChiefSuperintendent, &[Role::AuthorisingOfficer]);
        assert!(check(&supt, Action::RecordConsultation, &[]).is_err());
    }

    #[test]
    fn deployment_roles_come_only_from_assignment() {
        // Holding "Operator" force-wide grants nothing on a Deployment.
        let op = user(Rank::Constable, &[Role::Operator]);
        assert!(check(&op, Action::ViewAlertImages, &[]).is_err());
        assert!(check(&op, Action::ViewAlertImages, &[Role::Operator]).is_ok());
        assert!(check(&op, Action::AdjudicateAlert, &[Role::EngagementOfficer]).is_err());
        assert!(check(&op, Action::AdjudicateAlert, &[Role::Operator]).is_ok());
        assert!(check(&op, Action::Suspend, &[Role::Operator]).is_err());
        assert!(check(&op, Action::Suspend, &[Role::Silver]).is_ok());
        assert!(check(&op, Action::FileCancellationReport, &[Role::Silver]).is_err());
        assert!(check(&op, Action::FileCancellationReport, &[Role::Gold]).is_ok());
    }

    #[test]
    fn administrators_and_auditors_never_see_alert_images_unassigned() {
        let admin = user(Rank::Staff, &[Role::Administrator, Role::Auditor]);
        assert!(check(&admin, Action::ViewAlertImages, &[]).is_err());
        assert!(check(&admin, Action::ViewAlerts, &[]).is_err());
        assert!(check(&admin, Action::ReadAudit, &[]).is_ok());
        assert!(check(&admin, Action::ManageUsers, &[]).is_ok());
    }

    #[test]
    fn everyone_reads_published_records_and_only_investigators_search() {
        let nobody = user(Rank::Staff, &[]);
        assert!(check(&nobody, Action::ReadPublished, &[]).is_ok());
        assert!(check(&nobody, Action::RunSearch, &[]).is_err());
        assert!(check(
            &user(Rank::Constable, &[Role::Investigator]),
            Action::RunSearch,
            &[]
        )
        .is_ok());
    }

    #[test]
    fn every_action_is_denied_to_a_user_with_no_roles_except_public_ones() {
        use strum::VariantArray;
        let nobody = user(Rank::Constable, &[]);
        // Every action, so one added later is covered without listing it.
        for &a in Action::VARIANTS {
            let allowed = check(&nobody, a, &[]).is_ok();
            assert_eq!(allowed, a == Action::ReadPublished, "{a:?}");
        }
    }
}
