//! Governance and storage on SQLite and PostgreSQL alike: a Deployment from
//! Application to Cancellation Report, Alerts and their images, retention,
//! legal holds, audit verification and the published record.

mod common;

use common::*;
use vigil_core::alert::{AlertState, Decision};
use vigil_core::deployment::{CancellationReport, DeploymentState};
use vigil_core::retention::{RetentionPolicy, DAY_MS, HOUR_MS};
use vigil_store::alerts::AlertImage;
use vigil_store::retention::HoldTarget;
use vigil_store::StoreError;

#[tokio::test]
async fn full_deployment_from_application_to_cancellation_report() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        assert_eq!(a.deployment.state, DeploymentState::Active, "{}", w.name);

        let alert = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        assert_eq!(alert.subject_ref.as_deref(), Some(PRIMARY_SUBJECT));
        assert_eq!(alert.recognition_time_ms, 400);
        s.adjudicate(
            &p.operator,
            &alert.id,
            Decision::Engage,
            "stopped near the station",
        )
        .await
        .unwrap();
        let done = s
            .adjudicate(
                &p.engagement,
                &alert.id,
                Decision::ConfirmTrue,
                "identity confirmed",
            )
            .await
            .unwrap();
        assert_eq!(done.state, AlertState::ConfirmedTrue);
        assert_eq!(done.adjudications.len(), 2);
        let second = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        s.adjudicate(
            &p.operator,
            &second.id,
            Decision::FalseAlert,
            "clearly not the subject",
        )
        .await
        .unwrap();
        s.record_passers_by(&id, 5_000, 4, 3).await.unwrap();

        s.act(&id, &p.silver, |d, r, now| {
            d.suspend(&p.silver, r, "crowd surge", now)
        })
        .await
        .unwrap();
        let refused = s.raise_alert(new_alert(&id, &a.primary, &w)).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{}: alert while suspended",
            w.name
        );
        s.act(&id, &p.silver, |d, r, now| {
            d.resume(&p.silver, r, "calm", now)
        })
        .await
        .unwrap();
        s.act(&id, &p.gold, |d, r, now| {
            d.record_gold_review(&p.gold, r, "still necessary", now)
        })
        .await
        .unwrap();
        s.act(&id, &p.gold, |d, r, now| {
            d.conclude(&p.gold, r, "planned end", now)
        })
        .await
        .unwrap();

        let mut report = s.draft_cancellation_report(&id).await.unwrap();
        assert_eq!(
            (
                report.alerts,
                report.engagements,
                report.confirmed_true,
                report.false_alerts
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(report.passers_by, 5_000);
        assert_eq!(report.true_recognition_rate, Some(0.75));
        assert_eq!(report.false_alert_rate, Some(1.0 / 5_000.0));
        report.circumstances_of_conclusion = "planned end of operation".into();
        report.arrests = 1;
        let filed = s
            .act(&id, &p.gold, |d, r, now| {
                d.file_cancellation_report(&p.gold, r, report.clone(), now)
            })
            .await
            .unwrap();
        assert_eq!(filed.state, DeploymentState::CancellationFiled);

        let reloaded = s.deployment(&id).await.unwrap();
        assert_eq!(reloaded, filed, "{}: round trip", w.name);
        let actions: Vec<&str> = reloaded.log.iter().map(|l| l.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "draft",
                "submit",
                "consult",
                "authorise",
                // Assignments are noted in the Deployment's log too.
                "assign",
                "assign",
                "assign",
                "assign",
                "assign",
                "activate",
                "suspend",
                "resume",
                "Gold review",
                "conclude",
                "file cancellation report"
            ]
        );
        let v = s.audit_verify().await.unwrap();
        assert!(v.ok, "{}: {:?}", w.name, v);
        let audit = s.audit_entries(&p.auditor, 0, 1000).await.unwrap();
        for a in [
            "deployment.authorise",
            "deployment.activate",
            "alert.raise",
            "alert.adjudicate",
            "deployment.file_cancellation_report",
            "watchlist.add",
        ] {
            assert!(
                audit.iter().any(|e| e.action == a),
                "{}: no {a} in the audit log",
                w.name
            );
        }
    }
}

#[tokio::test]
async fn wrong_roles_are_refused_and_nothing_changes() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        // The operator of another Deployment, the administrator and the
        // auditor hold no assignment here.
        for u in [&p.other_operator, &p.admin, &p.auditor] {
            assert!(matches!(
                s.act(&id, u, |d, r, now| d.suspend(u, r, "x", now)).await,
                Err(StoreError::Deployment(_))
            ));
        }
        assert!(matches!(
            s.audit_entries(&p.operator, 0, 10).await,
            Err(StoreError::Denied(_))
        ));
        assert!(matches!(
            s.assign(
                &p.gold,
                &id,
                &p.other_operator.id,
                vigil_core::access::Role::Operator
            )
            .await,
            Err(StoreError::Denied(_))
        ));
        assert!(matches!(
            s.add_reference_image(&p.operator, "X", "custody", b"img")
                .await,
            Err(StoreError::Denied(_))
        ));
        assert_eq!(
            s.deployment(&id).await.unwrap().state,
            DeploymentState::Active
        );
    }
}

#[tokio::test]
async fn alert_images_are_encrypted_and_only_assigned_users_read_them_with_an_audit_entry() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let alert = s
            .raise_alert(new_alert(&a.deployment.id, &a.primary, &w))
            .await
            .unwrap();

        let probe = s
            .alert_image(&p.operator, &alert.id, AlertImage::Probe)
            .await
            .unwrap();
        assert_eq!(probe, b"PROBE-PIXELS-of-passer-by");
        let cand = s
            .alert_image(&p.engagement, &alert.id, AlertImage::Candidate)
            .await
            .unwrap();
        assert_eq!(cand, b"CANDIDATE-PIXELS-from-watchlist");
        for u in [&p.other_operator, &p.admin, &p.auditor, &p.gold] {
            assert!(
                matches!(
                    s.alert_image(u, &alert.id, AlertImage::Probe).await,
                    Err(StoreError::Denied(_))
                ),
                "{}: {}",
                w.name,
                u.id
            );
        }
        let audit = s.audit_entries(&p.auditor, 0, 1000).await.unwrap();
        let views: Vec<_> = audit
            .iter()
            .filter(|e| e.action == "alert.image.view" && e.target == alert.id)
            .collect();
        assert_eq!(views.len(), 2, "{}", w.name);
        assert!(
            views.iter().any(|e| e.actor == "operator")
                && views.iter().any(|e| e.actor == "engagement")
        );
        let denied = audit
            .iter()
            .filter(|e| e.action == "alert.image.denied")
            .count();
        assert_eq!(denied, 4, "{}", w.name);

        // At rest the bytes are sealed: no plaintext in the media table.
        use sqlx::Row;
        let rows = sqlx::query("SELECT sealed FROM media")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(!rows.is_empty());
        for r in rows {
            let sealed: Vec<u8> = r.try_get("sealed").unwrap();
            assert!(
                !sealed.windows(5).any(|x| x == b"PIXEL" || x == b"JPEG "),
                "{}: plaintext at rest",
                w.name
            );
        }
    }
}

#[tokio::test]
async fn watchlist_is_deleted_24_hours_after_conclusion_and_its_key_destroyed() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        let policy = RetentionPolicy::default();
        assert_eq!(
            s.watchlist_images("system", &a.primary)
                .await
                .unwrap()
                .len(),
            2
        );
        s.retention_run("test", &policy).await.unwrap();
        assert_eq!(
            s.watchlist(&id).await.unwrap().len(),
            2,
            "{}: nothing due while active",
            w.name
        );

        s.act(&id, &p.silver, |d, r, now| {
            d.conclude(&p.silver, r, "done", now)
        })
        .await
        .unwrap();
        w.clock.advance(24 * HOUR_MS - 1);
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!(r.watchlists_deleted, 0);
        assert_eq!(s.watchlist(&id).await.unwrap().len(), 2);

        w.clock.advance(1);
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!(r.watchlists_deleted, 1, "{}", w.name);
        assert!(s.watchlist(&id).await.unwrap().is_empty());
        assert!(
            s.watchlist_images("system", &a.primary).await.is_err(),
            "{}: images readable after deletion",
            w.name
        );
        let audit = s.audit_entries(&p.auditor, 0, 1000).await.unwrap();
        let entry = audit
            .iter()
            .find(|e| e.action == "retention.watchlist.delete")
            .expect("deletion audited");
        assert!(
            entry.detail.contains("2 entries") && entry.detail.contains("3 images"),
            "{}",
            entry.detail
        );
        assert!(s.audit_verify().await.unwrap().ok);
        // The reference store itself is untouched.
        use sqlx::Row;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM reference_images")
            .fetch_one(s.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(n, 3);
    }
}

#[tokio::test]
async fn alerts_past_31_days_are_gone_and_unreadable_but_held_ones_are_kept() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        let policy = RetentionPolicy::default();
        let old = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        let held = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        s.adjudicate(
            &p.operator,
            &old.id,
            Decision::FalseAlert,
            "not him; name was on his badge",
        )
        .await
        .unwrap();
        let hold = s
            .place_hold(
                &p.investigator,
                HoldTarget::Alert(held.id.clone()),
                "complaint CMP-22 under investigation",
            )
            .await
            .unwrap();
        assert!(s
            .place_hold(&p.operator, HoldTarget::Alert(held.id.clone()), "x")
            .await
            .is_err());
        w.clock.advance(10 * DAY_MS);
        let young = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();

        w.clock.advance(21 * DAY_MS);
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!((r.alerts_deleted, r.held_back), (1, 1), "{}: {r:?}", w.name);
        let gone = s.alert(&p.operator, &old.id).await.unwrap();
        assert!(gone.deleted.is_some() && gone.subject_ref.is_none() && gone.quality.is_none());
        assert_eq!(
            gone.state,
            AlertState::FalseAlert,
            "the outcome stays for the statistics"
        );
        assert!(
            gone.adjudications.iter().all(|a| a.note.is_empty()),
            "notes may name people"
        );
        assert!(matches!(
            s.alert_image(&p.operator, &old.id, AlertImage::Probe).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(
            s.alert_image(&p.operator, &held.id, AlertImage::Probe)
                .await
                .is_ok(),
            "held Alert kept"
        );
        assert!(
            s.alert_image(&p.operator, &young.id, AlertImage::Probe)
                .await
                .is_ok(),
            "young Alert kept"
        );
        let status = s.retention_status(&p.auditor, &policy).await.unwrap();
        assert!(status
            .iter()
            .any(|i| i.target == format!("alert {}", held.id) && i.held));

        s.release_hold(&p.investigator, &hold.id, "complaint closed")
            .await
            .unwrap();
        w.clock.advance(10 * DAY_MS);
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!(r.alerts_deleted, 2, "{}: {r:?}", w.name);
        assert!(s.audit_verify().await.unwrap().ok);
    }
}

#[tokio::test]
async fn ended_deployment_with_no_live_alerts_loses_its_alert_key() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        let alert = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        s.act(&id, &p.silver, |d, r, now| {
            d.terminate(&p.silver, r, "disorder", now)
        })
        .await
        .unwrap();
        w.clock.advance(32 * DAY_MS);
        let r = s
            .retention_run("test", &RetentionPolicy::default())
            .await
            .unwrap();
        assert_eq!(r.alerts_deleted, 1);
        assert_eq!(
            r.keys_destroyed, 2,
            "{}: watchlist and alert keys: {r:?}",
            w.name
        );
        assert!(s
            .alert_image(&p.operator, &alert.id, AlertImage::Probe)
            .await
            .is_err());
        let audit = s.audit_entries(&p.auditor, 0, 1000).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "retention.alert_key.destroy" && e.target == id));
    }
}

#[tokio::test]
async fn urgent_authority_lapses_when_the_sweeper_runs() {
    for w in worlds().await {
        let p = people();
        let s = &w.store;
        for u in [&p.applicant, &p.admin] {
            s.put_user(u).await.unwrap();
        }
        let insp = user(
            "insp",
            vigil_core::access::Rank::Inspector,
            &[vigil_core::access::Role::AuthorisingOfficer],
        );
        s.put_user(&insp).await.unwrap();
        let d = s
            .create_deployment(&p.applicant, application())
            .await
            .unwrap();
        s.act(&d.id, &p.applicant, |d, _, now| d.submit(&p.applicant, now))
            .await
            .unwrap();
        s.act(&d.id, &insp, |d, _, now| {
            d.authorise_urgently(&insp, authority(), 2 * HOUR_MS, now)
        })
        .await
        .unwrap();
        w.clock.advance(2 * HOUR_MS);
        let r = s
            .retention_run("test", &RetentionPolicy::default())
            .await
            .unwrap();
        assert_eq!(r.deployments_stopped, 1, "{}", w.name);
        assert_eq!(
            s.deployment(&d.id).await.unwrap().state,
            DeploymentState::Terminated
        );
    }
}

#[tokio::test]
async fn audit_verify_passes_then_fails_after_tampering_or_removal() {
    for w in worlds().await {
        let p = people();
        let _a = active_deployment(&w, &p).await;
        let s = &w.store;
        let v = s.audit_verify().await.unwrap();
        assert!(v.ok && v.entries > 10, "{}: {v:?}", w.name);

        sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 5")
            .execute(s.pool())
            .await
            .unwrap();
        let v = s.audit_verify().await.unwrap();
        assert!(
            !v.ok
                && v.problem
                    .as_deref()
                    .unwrap()
                    .contains("entry 5 was altered"),
            "{}: {v:?}",
            w.name
        );

        let w2 = world_sqlite().await;
        let _ = active_deployment(&w2, &p).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 3")
            .execute(w2.store.pool())
            .await
            .unwrap();
        let v = w2.store.audit_verify().await.unwrap();
        assert!(
            !v.ok && v.problem.as_deref().unwrap().contains("missing"),
            "{v:?}"
        );

        let w3 = world_sqlite().await;
        let _ = active_deployment(&w3, &p).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
            .execute(w3.store.pool())
            .await
            .unwrap();
        let v = w3.store.audit_verify().await.unwrap();
        assert!(!v.ok, "removing the last entry is detected: {v:?}");
    }
}

#[tokio::test]
async fn published_record_contains_no_personal_data() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        let al = s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
        s.adjudicate(&p.operator, &al.id, Decision::Engage, "spoke to Mr Example")
            .await
            .unwrap();
        s.adjudicate(&p.engagement, &al.id, Decision::ConfirmTrue, "arrested")
            .await
            .unwrap();
        s.raise_alert(new_alert(&id, &a.blue, &w)).await.unwrap();
        assert!(s.published_record(&id).await.is_err(), "not before the end");
        s.act(&id, &p.gold, |d, r, now| d.conclude(&p.gold, r, "end", now))
            .await
            .unwrap();
        let report = CancellationReport {
            circumstances_of_conclusion: "end".into(),
            arrests: 1,
            ..Default::default()
        };
        s.act(&id, &p.gold, |d, r, now| {
            d.file_cancellation_report(&p.gold, r, report.clone(), now)
        })
        .await
        .unwrap();

        let rec = s.published_record(&id).await.unwrap();
        assert_eq!(
            (rec.alerts, rec.engagements, rec.arrests),
            (1, 1, Some(1)),
            "Blue Watchlist passes are not public Alerts"
        );
        assert_eq!(rec.location, "High Street, Anytown");
        let json = serde_json::to_string(&s.published_records().await.unwrap()).unwrap();
        let forbidden = [
            PRIMARY_SUBJECT,
            BLUE_SUBJECT,
            "Mr Example",
            "robbery",
            "PIXELS",
            "cam-north",
            "Officer",
            "operator",
            "gold",
            &al.id,
            &a.primary,
        ];
        for f in forbidden {
            assert!(
                !json.contains(f),
                "{}: published record contains {f:?}: {json}",
                w.name
            );
        }
    }
}

#[tokio::test]
async fn racing_adjudications_cannot_both_win() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let al = s
            .raise_alert(new_alert(&a.deployment.id, &a.primary, &w))
            .await
            .unwrap();
        let (x, y) = tokio::join!(
            s.adjudicate(&p.operator, &al.id, Decision::FalseAlert, "a"),
            s.adjudicate(&p.operator, &al.id, Decision::Engage, "b")
        );
        assert!(
            x.is_ok() != y.is_ok(),
            "{}: exactly one decision wins",
            w.name
        );
        assert_eq!(
            s.alert(&p.operator, &al.id)
                .await
                .unwrap()
                .adjudications
                .len(),
            1
        );
    }
}
