//! The Deployment's workflow as one table: each step people take, the
//! permission it needs and the states it may start from [000 §7].
//!
//! [`Deployment`]'s transition methods check against [`Step::rule`], the
//! console's buttons come from [`Deployment::available`], and the server
//! turns a request into a [`Command`] for [`Deployment::apply`]: the rule
//! is written once, so the buttons offered and the steps accepted cannot
//! drift apart.

use serde::{Deserialize, Serialize};

use crate::access::{self, Action, Role, User};
use crate::deployment::{
    Deployment, DeploymentError, DeploymentState, WrittenAuthority,
    DEFAULT_URGENT_CONFIRMATION_WINDOW_MS,
};
use crate::Millis;

/// One step of the workflow, as the console and API clients name it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Submit,
    Consult,
    Veto,
    Refuse,
    Authorise,
    AuthoriseUrgently,
    ConfirmUrgentAuthority,
    StopUrgentAuthority,
    Activate,
    Suspend,
    Resume,
    Terminate,
    Conclude,
    GoldReview,
}

/// What a step needs: the permission, the states it may start from, and
/// its name in the Deployment log and in refusals.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub permission: Action,
    pub from: &'static [DeploymentState],
    pub name: &'static str,
    /// Only while an urgent authority awaits a Superintendent.
    pub needs_unconfirmed_urgent_authority: bool,
}

impl Step {
    pub const ALL: [Step; 14] = [
        Step::Submit,
        Step::Consult,
        Step::Veto,
        Step::Refuse,
        Step::Authorise,
        Step::AuthoriseUrgently,
        Step::ConfirmUrgentAuthority,
        Step::StopUrgentAuthority,
        Step::Activate,
        Step::Suspend,
        Step::Resume,
        Step::Terminate,
        Step::Conclude,
        Step::GoldReview,
    ];

    /// The table.
    pub const fn rule(self) -> Rule {
        use DeploymentState::*;
        let (permission, from, name): (Action, &'static [DeploymentState], &'static str) =
            match self {
                Step::Submit => (Action::SubmitApplication, &[Draft], "submit"),
                Step::Consult => (Action::RecordConsultation, &[Submitted], "consult"),
                Step::Veto => (Action::RecordConsultation, &[Submitted], "veto"),
                Step::Refuse => (Action::Refuse, &[Submitted, Consulted], "refuse"),
                Step::Authorise => (Action::Authorise, &[Consulted], "authorise"),
                Step::AuthoriseUrgently => (
                    Action::AuthoriseUrgent,
                    &[Submitted, Consulted],
                    "authorise urgently",
                ),
                Step::ConfirmUrgentAuthority => (
                    Action::ConfirmUrgentAuthority,
                    &[Authorised, Active, Suspended],
                    "confirm urgent authority",
                ),
                Step::StopUrgentAuthority => (
                    Action::ConfirmUrgentAuthority,
                    &[Authorised, Active, Suspended],
                    "stop urgent authority",
                ),
                Step::Activate => (Action::Activate, &[Authorised], "activate"),
                Step::Suspend => (Action::Suspend, &[Active], "suspend"),
                Step::Resume => (Action::Resume, &[Suspended], "resume"),
                Step::Terminate => (
                    Action::Terminate,
                    &[Authorised, Active, Suspended],
                    "terminate",
                ),
                Step::Conclude => (Action::Conclude, &[Active, Suspended], "conclude"),
                Step::GoldReview => (
                    Action::RecordGoldReview,
                    &[Authorised, Active, Suspended, Concluded],
                    "review",
                ),
            };
        Rule {
            permission,
            from,
            name,
            needs_unconfirmed_urgent_authority: matches!(
                self,
                Step::ConfirmUrgentAuthority | Step::StopUrgentAuthority
            ),
        }
    }
}

/// Amending a Draft Application: not a step of the workflow (it has its own
/// form), but a rule of the same table.
pub const AMEND_APPLICATION: Rule = Rule {
    permission: Action::DraftApplication,
    from: &[DeploymentState::Draft],
    name: "amend",
    needs_unconfirmed_urgent_authority: false,
};

/// Filing the Cancellation Report (its own form, after conclusion).
pub const FILE_CANCELLATION_REPORT: Rule = Rule {
    permission: Action::FileCancellationReport,
    from: &[DeploymentState::Concluded],
    name: "file cancellation report",
    needs_unconfirmed_urgent_authority: false,
};

/// A step with what it carries, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Submit,
    Consult {
        reason: String,
    },
    Veto {
        reason: String,
    },
    Refuse {
        reason: String,
    },
    Authorise(WrittenAuthority),
    AuthoriseUrgently(WrittenAuthority),
    ConfirmUrgentAuthority {
        /// The authority as confirmed, when the Superintendent changes it.
        changed: Option<WrittenAuthority>,
        reason: String,
    },
    StopUrgentAuthority {
        reason: String,
    },
    Activate,
    Suspend {
        reason: String,
    },
    Resume {
        reason: String,
    },
    Terminate {
        reason: String,
    },
    Conclude {
        reason: String,
    },
    GoldReview {
        review: String,
    },
}

/// A step that needs the Written Authority was asked for without one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this step needs the Written Authority (reasoning, alternatives, threshold)")]
pub struct AuthorityMissing;

impl Command {
    /// The command for `step` from a request's parts.
    pub fn new(
        step: Step,
        reason: String,
        authority: Option<WrittenAuthority>,
    ) -> Result<Self, AuthorityMissing> {
        Ok(match step {
            Step::Submit => Command::Submit,
            Step::Consult => Command::Consult { reason },
            Step::Veto => Command::Veto { reason },
            Step::Refuse => Command::Refuse { reason },
            Step::Authorise => Command::Authorise(authority.ok_or(AuthorityMissing)?),
            Step::AuthoriseUrgently => {
                Command::AuthoriseUrgently(authority.ok_or(AuthorityMissing)?)
            }
            Step::ConfirmUrgentAuthority => Command::ConfirmUrgentAuthority {
                changed: authority,
                reason,
            },
            Step::StopUrgentAuthority => Command::StopUrgentAuthority { reason },
            Step::Activate => Command::Activate,
            Step::Suspend => Command::Suspend { reason },
            Step::Resume => Command::Resume { reason },
            Step::Terminate => Command::Terminate { reason },
            Step::Conclude => Command::Conclude { reason },
            Step::GoldReview => Command::GoldReview { review: reason },
        })
    }

    pub fn step(&self) -> Step {
        match self {
            Command::Submit => Step::Submit,
            Command::Consult { .. } => Step::Consult,
            Command::Veto { .. } => Step::Veto,
            Command::Refuse { .. } => Step::Refuse,
            Command::Authorise(_) => Step::Authorise,
            Command::AuthoriseUrgently(_) => Step::AuthoriseUrgently,
            Command::ConfirmUrgentAuthority { .. } => Step::ConfirmUrgentAuthority,
            Command::StopUrgentAuthority { .. } => Step::StopUrgentAuthority,
            Command::Activate => Step::Activate,
            Command::Suspend { .. } => Step::Suspend,
            Command::Resume { .. } => Step::Resume,
            Command::Terminate { .. } => Step::Terminate,
            Command::Conclude { .. } => Step::Conclude,
            Command::GoldReview { .. } => Step::GoldReview,
        }
    }
}

impl Deployment {
    /// Whether the Deployment's present state lets `rule` start (whoever
    /// asks).
    pub fn in_state_for(&self, rule: &Rule) -> bool {
        rule.from.contains(&self.state)
            && (!rule.needs_unconfirmed_urgent_authority || self.urgent_confirmation_due.is_some())
    }

    /// Whether `step` may start from the present state (whoever asks).
    pub fn allows(&self, step: Step) -> bool {
        self.in_state_for(&step.rule())
    }

    /// Whether `who`, with `roles` on this Deployment, may act under `rule`
    /// now.
    pub fn may(&self, who: &User, roles: &[Role], rule: &Rule) -> bool {
        self.in_state_for(rule) && access::check(who, rule.permission, roles).is_ok()
    }

    /// The steps `who`, with `roles` on this Deployment, may take now.
    pub fn available(&self, who: &User, roles: &[Role]) -> Vec<Step> {
        Step::ALL
            .into_iter()
            .filter(|s| self.may(who, roles, &s.rule()))
            .collect()
    }

    /// Applies one workflow step: the one entry the server uses.
    pub fn apply(
        &mut self,
        who: &User,
        roles: &[Role],
        command: Command,
        now: Millis,
    ) -> Result<(), DeploymentError> {
        match command {
            Command::Submit => self.submit(who, now),
            Command::Consult { reason } => self.consult(who, false, &reason, now),
            Command::Veto { reason } => self.consult(who, true, &reason, now),
            Command::Refuse { reason } => self.refuse(who, &reason, now),
            Command::Authorise(a) => self.authorise(who, a, now),
            Command::AuthoriseUrgently(a) => {
                self.authorise_urgently(who, a, DEFAULT_URGENT_CONFIRMATION_WINDOW_MS, now)
            }
            Command::ConfirmUrgentAuthority { changed, reason } => {
                self.confirm_urgent_authority(who, changed, &reason, now)
            }
            Command::StopUrgentAuthority { reason } => {
                self.stop_urgent_authority(who, &reason, now)
            }
            Command::Activate => self.activate(who, roles, now),
            Command::Suspend { reason } => self.suspend(who, roles, &reason, now),
            Command::Resume { reason } => self.resume(who, roles, &reason, now),
            Command::Terminate { reason } => self.terminate(who, roles, &reason, now),
            Command::Conclude { reason } => self.conclude(who, roles, &reason, now),
            Command::GoldReview { review } => self.record_gold_review(who, roles, &review, now),
        }
    }
}
