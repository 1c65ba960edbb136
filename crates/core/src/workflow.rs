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
    Application, CancellationReport, Deployment, DeploymentError, DeploymentState, LogEntry,
    WrittenAuthority, DEFAULT_URGENT_CONFIRMATION_WINDOW_MS,
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

type Outcome<T> = std::result::Result<T, DeploymentError>;

/// The transitions, each checked against the table above: who may take
/// the step, from which states, and what it leaves in the log.
impl Deployment {
    pub(crate) fn record(
        &mut self,
        at: Millis,
        who: &User,
        action: &str,
        from: DeploymentState,
        to: DeploymentState,
        reason: &str,
    ) {
        self.log.push(LogEntry {
            at,
            actor: who.id.clone(),
            action: action.into(),
            from,
            to,
            reason: reason.into(),
        });
    }

    /// Whether `who` may take `step` now (permission first, then state),
    /// for steps that do more than one state change.
    fn check_step(&self, who: &User, assignment: &[Role], step: Step) -> Outcome<()> {
        let rule = step.rule();
        access::check(who, rule.permission, assignment)?;
        if !self.allows(step) {
            return Err(DeploymentError::IllegalTransition {
                action: rule.name,
                state: self.state,
            });
        }
        Ok(())
    }

    /// A state change under `rule` (permission, starting states, name in
    /// the log; the workflow's table, [`Step::rule`]) to `to`.
    fn transition(
        &mut self,
        who: &User,
        assignment: &[Role],
        rule: Rule,
        to: DeploymentState,
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        let name = rule.name;
        access::check(who, rule.permission, assignment)?;
        if !rule.from.contains(&self.state) {
            return Err(DeploymentError::IllegalTransition {
                action: name,
                state: self.state,
            });
        }
        if reason.trim().is_empty() {
            return Err(DeploymentError::ReasonRequired(name));
        }
        let prev = self.state;
        self.state = to;
        self.record(now, who, name, prev, to, reason);
        Ok(())
    }

    pub fn update_application(
        &mut self,
        who: &User,
        application: Application,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        self.transition(
            who,
            &[],
            AMEND_APPLICATION,
            Draft,
            "Application amended",
            now,
        )?;
        self.application = application;
        Ok(())
    }

    pub fn submit(&mut self, who: &User, now: Millis) -> Outcome<()> {
        let missing = self.application.missing_fields();
        if !missing.is_empty() && self.state == DeploymentState::Draft {
            access::check(who, Action::SubmitApplication, &[])?;
            return Err(DeploymentError::IncompleteApplication(missing.join(", ")));
        }
        use DeploymentState::*;
        self.transition(
            who,
            &[],
            Step::Submit.rule(),
            Submitted,
            "Application submitted",
            now,
        )
    }

    /// NPCC consultation [000 §7.5]: support or veto.
    pub fn consult(&mut self, who: &User, veto: bool, reason: &str, now: Millis) -> Outcome<()> {
        use DeploymentState::*;
        let (step, to) = if veto {
            (Step::Veto, Vetoed)
        } else {
            (Step::Consult, Consulted)
        };
        self.transition(who, &[], step.rule(), to, reason, now)
    }

    fn set_authority(&mut self, who: &User, authority: WrittenAuthority) -> Outcome<()> {
        if !(0.0..=1.0).contains(&authority.threshold) || authority.threshold.is_nan() {
            return Err(DeploymentError::BadThreshold(authority.threshold));
        }
        if authority.reasoning.trim().is_empty() {
            return Err(DeploymentError::ReasonRequired("authorise"));
        }
        self.authority = Some(authority);
        self.authorised_by = Some(who.id.clone());
        Ok(())
    }

    /// Authorisation by a Superintendent or above, after consultation.
    pub fn authorise(
        &mut self,
        who: &User,
        authority: WrittenAuthority,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        self.check_step(who, &[], Step::Authorise)?;
        let reason = authority.reasoning.clone();
        self.set_authority(who, authority)?;
        self.transition(who, &[], Step::Authorise.rule(), Authorised, &reason, now)
    }

    /// Urgent authorisation by an Inspector or above [000 §7.3–7.4]; a
    /// Superintendent must confirm within `window` or it stops.
    pub fn authorise_urgently(
        &mut self,
        who: &User,
        authority: WrittenAuthority,
        window: Millis,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        self.check_step(who, &[], Step::AuthoriseUrgently)?;
        let reason = authority.reasoning.clone();
        self.set_authority(who, authority)?;
        self.transition(
            who,
            &[],
            Step::AuthoriseUrgently.rule(),
            Authorised,
            &reason,
            now,
        )?;
        self.urgent_confirmation_due = Some(now + window);
        Ok(())
    }

    /// A Superintendent confirms (optionally changing) an urgent authority.
    pub fn confirm_urgent_authority(
        &mut self,
        who: &User,
        changed: Option<WrittenAuthority>,
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        self.check_step(who, &[], Step::ConfirmUrgentAuthority)?;
        if reason.trim().is_empty() {
            return Err(DeploymentError::ReasonRequired("confirm"));
        }
        if let Some(a) = changed {
            self.set_authority(who, a)?;
        }
        self.urgent_confirmation_due = None;
        let s = self.state;
        self.record(now, who, "confirm urgent authority", s, s, reason);
        Ok(())
    }

    /// A Superintendent directs that an urgent Deployment must stop.
    pub fn stop_urgent_authority(&mut self, who: &User, reason: &str, now: Millis) -> Outcome<()> {
        use DeploymentState::*;
        self.check_step(who, &[], Step::StopUrgentAuthority)?;
        self.transition(
            who,
            &[],
            Step::StopUrgentAuthority.rule(),
            Terminated,
            reason,
            now,
        )?;
        self.urgent_confirmation_due = None;
        self.ended_at = Some(now);
        Ok(())
    }

    /// The clock: an urgent authority left unconfirmed past its window stops
    /// the Deployment. Returns whether anything changed.
    pub fn tick(&mut self, now: Millis) -> bool {
        use DeploymentState::*;
        match self.urgent_confirmation_due {
            Some(due) if now >= due && matches!(self.state, Authorised | Active | Suspended) => {
                let prev = self.state;
                self.state = Terminated;
                self.urgent_confirmation_due = None;
                self.ended_at = Some(now);
                self.log.push(LogEntry {
                    at: now,
                    actor: "system".into(),
                    action: "urgent authority lapsed".into(),
                    from: prev,
                    to: Terminated,
                    reason: "urgent authority was not confirmed by a Superintendent in time".into(),
                });
                true
            }
            _ => false,
        }
    }

    pub fn refuse(&mut self, who: &User, reason: &str, now: Millis) -> Outcome<()> {
        use DeploymentState::*;
        self.transition(who, &[], Step::Refuse.rule(), Refused, reason, now)
    }

    pub fn activate(&mut self, who: &User, assignment: &[Role], now: Millis) -> Outcome<()> {
        use DeploymentState::*;
        access::check(who, Action::Activate, assignment)?;
        if self.state == Authorised && self.urgent_confirmation_due.is_some_and(|due| now >= due) {
            return Err(DeploymentError::UrgentAuthorityUnconfirmed);
        }
        self.transition(
            who,
            assignment,
            Step::Activate.rule(),
            Active,
            "Deployment started",
            now,
        )
    }

    pub fn suspend(
        &mut self,
        who: &User,
        assignment: &[Role],
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        self.transition(
            who,
            assignment,
            Step::Suspend.rule(),
            Suspended,
            reason,
            now,
        )
    }

    pub fn resume(
        &mut self,
        who: &User,
        assignment: &[Role],
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        self.transition(who, assignment, Step::Resume.rule(), Active, reason, now)
    }

    pub fn terminate(
        &mut self,
        who: &User,
        assignment: &[Role],
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        self.end(
            who,
            assignment,
            Step::Terminate,
            DeploymentState::Terminated,
            reason,
            now,
        )
    }

    pub fn conclude(
        &mut self,
        who: &User,
        assignment: &[Role],
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        self.end(
            who,
            assignment,
            Step::Conclude,
            DeploymentState::Concluded,
            reason,
            now,
        )
    }

    /// Terminating and concluding both end the Deployment: the state
    /// change, then the time it ended (shown in the published record).
    fn end(
        &mut self,
        who: &User,
        assignment: &[Role],
        step: Step,
        to: DeploymentState,
        reason: &str,
        now: Millis,
    ) -> Outcome<()> {
        self.transition(who, assignment, step.rule(), to, reason, now)?;
        self.ended_at = Some(now);
        Ok(())
    }

    pub fn record_gold_review(
        &mut self,
        who: &User,
        assignment: &[Role],
        review: &str,
        now: Millis,
    ) -> Outcome<()> {
        access::check(who, Action::RecordGoldReview, assignment)?;
        if review.trim().is_empty() {
            return Err(DeploymentError::ReasonRequired("record a Gold review"));
        }
        self.check_step(who, assignment, Step::GoldReview)?;
        // One record per review: the same words again from the same Gold
        // (a double click, a resent form) are not a second review.
        let last = self
            .gold_reviews
            .iter()
            .rev()
            .find(|(_, by, _)| *by == who.id);
        if last.is_some_and(|(_, _, text)| text.trim() == review.trim()) {
            return Err(DeploymentError::RepeatedReview);
        }
        self.gold_reviews.push((now, who.id.clone(), review.into()));
        let s = self.state;
        self.record(now, who, "Gold review", s, s, review);
        Ok(())
    }

    pub fn file_cancellation_report(
        &mut self,
        who: &User,
        assignment: &[Role],
        report: CancellationReport,
        now: Millis,
    ) -> Outcome<()> {
        use DeploymentState::*;
        access::check(who, Action::FileCancellationReport, assignment)?;
        if report.circumstances_of_conclusion.trim().is_empty() {
            return Err(DeploymentError::ReasonRequired(
                "file a Cancellation Report",
            ));
        }
        self.transition(
            who,
            assignment,
            FILE_CANCELLATION_REPORT,
            CancellationFiled,
            "Cancellation Report filed",
            now,
        )?;
        self.cancellation_report = Some(report);
        Ok(())
    }
}
