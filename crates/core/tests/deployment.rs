//! Every Deployment transition, rank rule and permission, and a property
//! test that no sequence of calls reaches an illegal state — driven through
//! `Deployment::apply`, the path the server takes, and checked against
//! `Deployment::available`, the buttons the console offers.

use proptest::prelude::*;
use vigil_core::access::{Rank, Role, User};
use vigil_core::deployment::*;
use vigil_core::workflow::{Command, Step};

fn user(id: &str, rank: Rank, roles: &[Role]) -> User {
    User {
        id: id.into(),
        display_name: id.into(),
        rank,
        roles: roles.to_vec(),
    }
}

fn applicant() -> User {
    user("applicant", Rank::Sergeant, &[Role::Applicant])
}
fn supt() -> User {
    user("supt", Rank::Superintendent, &[Role::AuthorisingOfficer])
}
fn inspector() -> User {
    user("insp", Rank::Inspector, &[Role::AuthorisingOfficer])
}
fn commander() -> User {
    user("npcc", Rank::Commander, &[])
}
fn silver() -> User {
    user("silver", Rank::ChiefInspector, &[])
}
fn gold() -> User {
    user("gold", Rank::ChiefSuperintendent, &[])
}
const SILVER: &[Role] = &[Role::Silver];
const GOLD: &[Role] = &[Role::Gold];

fn application() -> Application {
    let t = "filled in".to_string();
    Application {
        title: "Town centre, Saturday".into(),
        location: "High Street".into(),
        starts_at: 1_000,
        ends_at: 10_000,
        legitimate_aim: t.clone(),
        legal_basis: t.clone(),
        necessity: t.clone(),
        proportionality: t.clone(),
        safeguards: t.clone(),
        watchlist_composition: t.clone(),
        resources: t.clone(),
        assessments: Assessments {
            community_impact: t.clone(),
            equality_impact: t.clone(),
            data_protection_impact: t.clone(),
            surveillance_camera_self_assessment: t.clone(),
            operational_risk: t,
        },
        cameras: Vec::new(),
        public_notice: String::new(),
    }
}

fn authority() -> WrittenAuthority {
    WrittenAuthority {
        reasoning: "necessary and proportionate because ...".into(),
        alternatives_considered: "patrols; CCTV review".into(),
        threshold: 0.6,
        target_false_alert_rate: Some(1e-3),
    }
}

fn consulted() -> Deployment {
    let mut d = Deployment::draft("d1", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    d.consult(&commander(), false, "no pan-London concerns", 2)
        .unwrap();
    d
}

#[test]
fn full_lifecycle_from_application_to_cancellation_report() {
    let mut d = consulted();
    d.authorise(&supt(), authority(), 3).unwrap();
    assert!(!d.may_process_frames(3));
    d.activate(&silver(), SILVER, 4).unwrap();
    assert!(d.may_process_frames(4));
    d.suspend(&silver(), SILVER, "heavy rain, faces occluded", 5)
        .unwrap();
    assert!(!d.may_process_frames(5));
    d.resume(&silver(), SILVER, "rain stopped", 6).unwrap();
    d.record_gold_review(&gold(), GOLD, "still necessary; 2 engagements so far", 7)
        .unwrap();
    // One record per review: the same words again are refused, and change nothing.
    let before = d.clone();
    assert!(matches!(
        d.record_gold_review(&gold(), GOLD, " still necessary; 2 engagements so far", 7),
        Err(DeploymentError::RepeatedReview)
    ));
    assert_eq!(d, before);
    d.conclude(&gold(), GOLD, "planned end", 8).unwrap();
    assert_eq!(
        d.cancellation_report_due(),
        Some(8 + CANCELLATION_REPORT_DUE_MS)
    );
    let report = CancellationReport {
        circumstances_of_conclusion: "planned end".into(),
        ..Default::default()
    };
    d.file_cancellation_report(&gold(), GOLD, report, 9)
        .unwrap();
    assert_eq!(d.state, DeploymentState::CancellationFiled);
    assert!(d.state.is_final());
    assert_eq!(d.cancellation_report_due(), None);
    let actions: Vec<&str> = d.log.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "draft",
            "submit",
            "consult",
            "authorise",
            "activate",
            "suspend",
            "resume",
            "Gold review",
            "conclude",
            "file cancellation report"
        ]
    );
    assert!(d
        .log
        .iter()
        .all(|l| !l.actor.is_empty() && !l.reason.is_empty()));
}

#[test]
fn incomplete_application_cannot_be_submitted() {
    let mut app = application();
    app.necessity.clear();
    app.assessments.data_protection_impact.clear();
    let mut d = Deployment::draft("d", &applicant(), app, 0).unwrap();
    match d.submit(&applicant(), 1) {
        Err(DeploymentError::IncompleteApplication(m)) => {
            assert!(
                m.contains("necessity") && m.contains("data protection impact"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.state, DeploymentState::Draft);
}

#[test]
fn only_applicants_draft() {
    assert!(Deployment::draft("d", &silver(), application(), 0).is_err());
}

#[test]
fn npcc_veto_ends_the_deployment() {
    let mut d = Deployment::draft("d", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    assert!(
        d.consult(&supt(), true, "veto", 2).is_err(),
        "a Superintendent is not NPCC rank"
    );
    d.consult(&commander(), true, "pan-London event clash", 2)
        .unwrap();
    assert_eq!(d.state, DeploymentState::Vetoed);
    assert!(d.authorise(&supt(), authority(), 3).is_err());
    assert!(d
        .authorise_urgently(&inspector(), authority(), 100, 3)
        .is_err());
}

#[test]
fn authorisation_needs_consultation_and_superintendent_rank() {
    let mut d = Deployment::draft("d", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    assert!(matches!(
        d.authorise(&supt(), authority(), 2),
        Err(DeploymentError::IllegalTransition { .. })
    ));
    d.consult(&commander(), false, "ok", 2).unwrap();
    assert!(matches!(
        d.authorise(&inspector(), authority(), 3),
        Err(DeploymentError::Denied(_))
    ));
    let mut bad = authority();
    bad.threshold = 1.5;
    assert!(matches!(
        d.authorise(&supt(), bad, 3),
        Err(DeploymentError::BadThreshold(_))
    ));
    d.authorise(&supt(), authority(), 3).unwrap();
    assert_eq!(d.authorised_by.as_deref(), Some("supt"));
}

#[test]
fn refusal_is_final() {
    let mut d = consulted();
    assert!(d.refuse(&supt(), "", 3).is_err(), "a reason is required");
    d.refuse(&supt(), "not proportionate", 3).unwrap();
    assert_eq!(d.state, DeploymentState::Refused);
    assert!(d.authorise(&supt(), authority(), 4).is_err());
}

#[test]
fn urgent_authority_must_be_confirmed_or_it_stops() {
    let mut d = Deployment::draft("d", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    d.authorise_urgently(&inspector(), authority(), 100, 10)
        .unwrap();
    d.activate(&silver(), SILVER, 20).unwrap();
    assert!(d.may_process_frames(50));
    assert!(
        !d.may_process_frames(110),
        "no frames after the window even before tick"
    );
    assert!(!d.tick(109));
    assert!(d.tick(110));
    assert_eq!(d.state, DeploymentState::Terminated);
    assert_eq!(d.log.last().unwrap().actor, "system");
}

#[test]
fn superintendent_confirms_or_stops_an_urgent_authority() {
    let mut d = Deployment::draft("d", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    d.authorise_urgently(&inspector(), authority(), 100, 10)
        .unwrap();
    assert!(d
        .confirm_urgent_authority(&inspector(), None, "ok", 20)
        .is_err());
    let mut changed = authority();
    changed.threshold = 0.7;
    d.confirm_urgent_authority(
        &supt(),
        Some(changed),
        "confirmed with a stricter Threshold",
        20,
    )
    .unwrap();
    assert_eq!(d.authority.as_ref().unwrap().threshold, 0.7);
    assert!(!d.tick(1_000));
    d.activate(&silver(), SILVER, 1_000).unwrap();
    assert!(d.may_process_frames(10_000));

    let mut e = Deployment::draft("e", &applicant(), application(), 0).unwrap();
    e.submit(&applicant(), 1).unwrap();
    e.authorise_urgently(&inspector(), authority(), 100, 10)
        .unwrap();
    e.stop_urgent_authority(&supt(), "not justified", 20)
        .unwrap();
    assert_eq!(e.state, DeploymentState::Terminated);
}

#[test]
fn activation_after_an_urgent_window_lapsed_is_refused() {
    let mut d = Deployment::draft("d", &applicant(), application(), 0).unwrap();
    d.submit(&applicant(), 1).unwrap();
    d.authorise_urgently(&inspector(), authority(), 100, 10)
        .unwrap();
    assert_eq!(
        d.activate(&silver(), SILVER, 200),
        Err(DeploymentError::UrgentAuthorityUnconfirmed)
    );
}

#[test]
fn silver_needs_assignment_and_operators_cannot_command() {
    let mut d = consulted();
    d.authorise(&supt(), authority(), 3).unwrap();
    assert!(matches!(
        d.activate(&silver(), &[], 4),
        Err(DeploymentError::Denied(_))
    ));
    assert!(matches!(
        d.activate(&silver(), &[Role::Operator], 4),
        Err(DeploymentError::Denied(_))
    ));
    d.activate(&silver(), SILVER, 4).unwrap();
    assert!(matches!(
        d.file_cancellation_report(&silver(), SILVER, CancellationReport::default(), 5),
        Err(DeploymentError::Denied(_))
    ));
    d.terminate(&silver(), SILVER, "public order incident", 5)
        .unwrap();
    assert_eq!(d.ended_at, Some(5));
    assert!(d.resume(&silver(), SILVER, "x", 6).is_err());
}

#[test]
fn cancellation_report_needs_a_concluded_deployment() {
    let mut d = consulted();
    d.authorise(&supt(), authority(), 3).unwrap();
    d.activate(&silver(), SILVER, 4).unwrap();
    let report = CancellationReport {
        circumstances_of_conclusion: "x".into(),
        ..Default::default()
    };
    assert!(matches!(
        d.file_cancellation_report(&gold(), GOLD, report, 5),
        Err(DeploymentError::IllegalTransition { .. })
    ));
}

#[derive(Debug, Clone)]
enum Call {
    Submit,
    Consult(bool),
    Authorise,
    AuthoriseUrgent,
    Confirm,
    StopUrgent,
    Refuse,
    Activate,
    Suspend,
    Resume,
    Terminate,
    Conclude,
    Review,
    File,
    Tick(i64),
    WrongRank,
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::Submit),
        any::<bool>().prop_map(Call::Consult),
        Just(Call::Authorise),
        Just(Call::AuthoriseUrgent),
        Just(Call::Confirm),
        Just(Call::StopUrgent),
        Just(Call::Refuse),
        Just(Call::Activate),
        Just(Call::Suspend),
        Just(Call::Resume),
        Just(Call::Terminate),
        Just(Call::Conclude),
        Just(Call::Review),
        Just(Call::File),
        // Small steps, and now and then past an urgent authority's window.
        prop_oneof![0i64..500, Just(DEFAULT_URGENT_CONFIRMATION_WINDOW_MS)].prop_map(Call::Tick),
        Just(Call::WrongRank),
    ]
}

proptest! {
    #[test]
    fn no_sequence_of_calls_reaches_an_illegal_state(calls in prop::collection::vec(call(), 0..40)) {
        let mut d = Deployment::draft("p", &applicant(), application(), 0).unwrap();
        let mut now = 0i64;
        let mut was_final = false;
        let mut ever_authorised = false;
        for c in calls {
            now += 1;
            let before = d.clone();
            let r = || "r".to_string();
            // A workflow step: (who, their roles here, the command).
            let step: Option<(User, &[Role], Command)> = match c {
                Call::Submit => Some((applicant(), &[], Command::Submit)),
                Call::Consult(true) => Some((commander(), &[], Command::Veto { reason: r() })),
                Call::Consult(false) => Some((commander(), &[], Command::Consult { reason: r() })),
                Call::Authorise => Some((supt(), &[], Command::Authorise(authority()))),
                Call::AuthoriseUrgent => Some((inspector(), &[], Command::AuthoriseUrgently(authority()))),
                Call::Confirm => Some((supt(), &[], Command::ConfirmUrgentAuthority { changed: None, reason: r() })),
                Call::StopUrgent => Some((supt(), &[], Command::StopUrgentAuthority { reason: r() })),
                Call::Refuse => Some((supt(), &[], Command::Refuse { reason: r() })),
                Call::Activate => Some((silver(), SILVER, Command::Activate)),
                Call::Suspend => Some((silver(), SILVER, Command::Suspend { reason: r() })),
                Call::Resume => Some((silver(), SILVER, Command::Resume { reason: r() })),
                Call::Terminate => Some((silver(), SILVER, Command::Terminate { reason: r() })),
                Call::Conclude => Some((silver(), SILVER, Command::Conclude { reason: r() })),
                // A new review each time: a repeated one is refused by rule.
                Call::Review => Some((gold(), GOLD, Command::GoldReview { review: format!("review {now}") })),
                _ => None,
            };
            if let Some((who, roles, command)) = step {
                let s = command.step();
                let offered = d.available(&who, roles).contains(&s);
                let ok = d.apply(&who, roles, command, now).is_ok();
                // What succeeds was offered; what was offered succeeds, but
                // for activation after an urgent window lapsed (a rule of
                // the clock, not of the state).
                prop_assert!(!ok || offered, "{:?} succeeded but was not offered", s);
                if offered && !ok {
                    prop_assert_eq!(s, Step::Activate, "{:?} was offered but refused", s);
                    prop_assert!(d.urgent_confirmation_due.is_some_and(|due| now >= due));
                }
                if !ok {
                    prop_assert_eq!(&d, &before, "a failed call changed the Deployment");
                }
                check_invariants(&d, &before, now, &mut was_final, &mut ever_authorised)?;
                continue;
            }
            let ok = match c {
                Call::Submit | Call::Consult(_) | Call::Authorise | Call::AuthoriseUrgent
                | Call::Confirm | Call::StopUrgent | Call::Refuse | Call::Activate
                | Call::Suspend | Call::Resume | Call::Terminate | Call::Conclude
                | Call::Review => unreachable!("handled as a workflow step"),
                Call::File => d.file_cancellation_report(&gold(), GOLD, CancellationReport { circumstances_of_conclusion: "r".into(), ..Default::default() }, now).is_ok(),
                Call::Tick(dt) => { now += dt; d.tick(now) }
                Call::WrongRank => {
                    // A sergeant AO and an unassigned Silver change nothing.
                    let sgt = user("sgt", Rank::Sergeant, &[Role::AuthorisingOfficer, Role::Silver, Role::Gold]);
                    let r = d.authorise(&sgt, authority(), now).is_err()
                        && d.authorise_urgently(&sgt, authority(), 50, now).is_err()
                        && d.activate(&sgt, &[], now).is_err()
                        && d.terminate(&sgt, &[], "r", now).is_err();
                    prop_assert!(r);
                    prop_assert_eq!(&d, &before);
                    false
                }
            };
            if !ok {
                prop_assert_eq!(&d, &before, "a failed call changed the Deployment");
            }
            check_invariants(&d, &before, now, &mut was_final, &mut ever_authorised)?;
        }
    }
}

#[test]
fn activation_warns_of_no_camera_an_empty_watchlist_and_times_outside_the_authority() {
    let mut d = consulted();
    d.authorise(&supt(), authority(), 3).unwrap();
    let a = d.application.clone();
    let inside = a.starts_at + 1;
    let w = d.activation_warnings(inside, 0, 0);
    assert_eq!(
        w.contains(&ActivationWarning::NoCamera),
        a.cameras.is_empty()
    );
    assert!(w.contains(&ActivationWarning::EmptyWatchlist));
    d.application.cameras = vec!["cam-1".into()];
    assert!(d.activation_warnings(inside, 3, 0).is_empty());
    assert_eq!(
        d.activation_warnings(inside, 3, 2),
        [ActivationWarning::EntriesEnrolledByOverride { entries: 2 }]
    );
    assert_eq!(
        d.activation_warnings(a.starts_at - 1, 3, 0),
        [ActivationWarning::BeforeAuthorisedStart {
            starts_at: a.starts_at
        }]
    );
    assert_eq!(
        d.activation_warnings(a.ends_at + 1, 3, 0),
        [ActivationWarning::AfterAuthorisedEnd { ends_at: a.ends_at }]
    );
}

/// What must hold after every call, whatever it was.
fn check_invariants(
    d: &Deployment,
    before: &Deployment,
    now: i64,
    was_final: &mut bool,
    ever_authorised: &mut bool,
) -> Result<(), TestCaseError> {
    use DeploymentState::*;
    if *was_final {
        prop_assert_eq!(d.state, before.state, "left a final state");
    }
    *was_final = d.state.is_final();
    if matches!(
        d.state,
        Authorised | Active | Suspended | Concluded | CancellationFiled
    ) {
        *ever_authorised = true;
    }
    // Active or beyond only after an authority was recorded.
    if matches!(d.state, Active | Suspended | Concluded | CancellationFiled) {
        prop_assert!(*ever_authorised && d.authority.is_some());
    }
    if d.state.has_ended() {
        prop_assert!(d.ended_at.is_some());
    }
    if d.may_process_frames(now) {
        prop_assert_eq!(d.state, Active);
    }
    if d.state == CancellationFiled {
        prop_assert!(d.cancellation_report.is_some());
    }
    // Every state change is logged with the state it came from.
    if d.state != before.state {
        let last = d.log.last().unwrap();
        prop_assert_eq!(last.from, before.state);
        prop_assert_eq!(last.to, d.state);
    }
    Ok(())
}
