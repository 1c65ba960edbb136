//! Accounts in the store: sessions that end when idle, old, disabled or
//! reset; separation of duties in assignments; a compiler's reach ending
//! with the Deployment.

mod common;

use common::*;
use vigil_core::access::Role;
use vigil_core::accounts::SessionPolicy;
use vigil_store::StoreError;

#[tokio::test]
async fn sessions_end_when_idle_old_disabled_or_reset() {
    for w in worlds().await {
        let p = people();
        let _ = active_deployment(&w, &p).await;
        let s = &w.store;
        let policy = SessionPolicy {
            idle_ms: 60_000,
            absolute_ms: 600_000,
        };
        s.create_session("operator", "tok-1", "csrf-1")
            .await
            .unwrap();
        // Only a hash of the token is stored.
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(!stored.iter().any(|t| t == "tok-1"), "{}", w.name);
        assert!(s.session("tok-1", &policy).await.unwrap().is_some());
        // Kept alive by use…
        for _ in 0..5 {
            w.clock.advance(50_000);
            assert!(
                s.session("tok-1", &policy).await.unwrap().is_some(),
                "{}",
                w.name
            );
        }
        // …until idle for a minute.
        w.clock.advance(61_000);
        assert!(
            s.session("tok-1", &policy).await.unwrap().is_none(),
            "{}",
            w.name
        );
        // Absolute: busy or not, gone after ten minutes.
        s.create_session("operator", "tok-2", "c").await.unwrap();
        for _ in 0..12 {
            w.clock.advance(50_000);
            let _ = s.session("tok-2", &policy).await.unwrap();
        }
        assert!(s.session("tok-2", &policy).await.unwrap().is_none());
        // Disabling and a password reset end every session of the user.
        s.create_session("operator", "tok-3", "c").await.unwrap();
        s.set_disabled(&p.admin, "operator", true, "suspended from duty")
            .await
            .unwrap();
        assert!(s.session("tok-3", &policy).await.unwrap().is_none());
        s.set_disabled(&p.admin, "operator", false, "back")
            .await
            .unwrap();
        s.create_session("operator", "tok-4", "c").await.unwrap();
        s.reset_password(&p.admin, "operator", "$argon2id$x", "forgot")
            .await
            .unwrap();
        assert!(s.session("tok-4", &policy).await.unwrap().is_none());
        assert!(
            s.login_record("operator")
                .await
                .unwrap()
                .unwrap()
                .must_change_password
        );
        // Expired sessions are purged.
        s.create_session("silver", "tok-5", "c").await.unwrap();
        w.clock.advance(700_000);
        assert!(s.purge_sessions(&policy).await.unwrap() >= 1);
    }
}

#[tokio::test]
async fn administrators_cannot_assign_or_disable_themselves_and_unassignment_is_logged() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        assert!(matches!(
            s.assign(&p.admin, &id, "admin", Role::Operator).await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            s.set_disabled(&p.admin, "admin", true, "x").await,
            Err(StoreError::Refused(_))
        ));
        assert!(
            s.unassign(&p.admin, &id, "operator", Role::Operator, " ")
                .await
                .is_err(),
            "a reason is required"
        );
        s.unassign(&p.admin, &id, "operator", Role::Operator, "rota change")
            .await
            .unwrap();
        assert!(s.assignment(&id, "operator").await.unwrap().is_empty());
        let d = s.deployment(&id).await.unwrap();
        assert!(d
            .log
            .iter()
            .any(|l| l.action == "unassign" && l.reason.contains("rota change")));
        assert!(matches!(
            s.unassign(&p.admin, &id, "operator", Role::Operator, "again")
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.audit_verify().await.unwrap().ok, "{}", w.name);
    }
}

#[tokio::test]
async fn a_compilers_reach_into_the_reference_store_ends_with_the_deployment() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        assert!(s.reference_images(&p.compiler, &id).await.is_ok());
        s.act(&id, &p.silver, |d, r, now| {
            d.conclude(&p.silver, r, "operation over", now)
        })
        .await
        .unwrap();
        assert!(matches!(
            s.reference_images(&p.compiler, &id).await,
            Err(StoreError::Refused(_))
        ));
        // An Administrator must name a Deployment that exists.
        assert!(matches!(
            s.reference_images(&p.admin, "no-such-deployment").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s
            .assign(&p.admin, &id, "operator", Role::Operator)
            .await
            .is_err());
    }
}

/// Issue 15: the reference store is searched by reference prefix and
/// paged in SQL (a million images cost one page); `%` and `_` in a search
/// are literal, not wildcards.
#[tokio::test]
async fn the_reference_store_is_searched_and_paged() {
    for w in worlds().await {
        let p = people();
        let a = active_deployment(&w, &p).await;
        let s = &w.store;
        let id = a.deployment.id.clone();
        let (_, before) = s
            .reference_images_page(&p.compiler, &id, "", 0, 10)
            .await
            .unwrap();
        for i in 0..30 {
            s.add_reference_image(&p.admin, &format!("PAGE-{i:02}"), "custody", b"jpeg")
                .await
                .unwrap();
        }
        s.add_reference_image(&p.admin, "PAGE%X", "custody", b"jpeg")
            .await
            .unwrap();
        let (all, total) = s
            .reference_images_page(&p.compiler, &id, "", 0, 10)
            .await
            .unwrap();
        assert_eq!((all.len(), total), (10, before + 31), "{}", w.name);
        let (page, total) = s
            .reference_images_page(&p.compiler, &id, "PAGE-", 20, 8)
            .await
            .unwrap();
        assert_eq!(total, 30, "{}", w.name);
        let refs: Vec<_> = page.iter().map(|r| r.subject_ref.as_str()).collect();
        assert_eq!(
            refs,
            [
                "PAGE-20", "PAGE-21", "PAGE-22", "PAGE-23", "PAGE-24", "PAGE-25", "PAGE-26",
                "PAGE-27"
            ],
            "{}",
            w.name
        );
        let (pct, total) = s
            .reference_images_page(&p.compiler, &id, "PAGE%", 0, 50)
            .await
            .unwrap();
        assert_eq!(total, 1, "{}", w.name);
        assert_eq!(pct[0].subject_ref, "PAGE%X");
        assert_eq!(
            s.reference_images_page(&p.compiler, &id, "PAGE_", 0, 50)
                .await
                .unwrap()
                .1,
            0,
            "{}",
            w.name
        );
    }
}
