//! Cameras in the store: registered by Administrators with sealed
//! credentials, named by Applications, shared out to workers by leases
//! that one worker holds at a time and that pass on when they lapse; and
//! Alert events that reach every process on PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use vigil_core::camera::{CameraCredentials, CameraSettings};
use vigil_core::fixtures::complete_application;
use vigil_store::cameras::CredentialChange;
use vigil_store::{MasterKey, Store, StoreError, SystemClock};

const SECRET: &str = "Pa55-w0rd-only-in-the-seal";

fn creds() -> CameraCredentials {
    CameraCredentials {
        username: "camop".into(),
        password: SECRET.into(),
    }
}

#[tokio::test]
async fn cameras_are_registered_by_administrators_and_their_credentials_stay_sealed() {
    for w in worlds().await {
        let p = people();
        let s = &w.store;
        let settings = CameraSettings::new("North gate", "rtsp://10.0.0.5:554/s1");
        let refused = s.register_camera(&p.operator, settings.clone(), None).await;
        assert!(matches!(refused, Err(StoreError::Denied(_))), "{}", w.name);
        let in_url = CameraSettings::new("x", "rtsp://camop:pw@10.0.0.5/s");
        assert!(matches!(
            s.register_camera(&p.admin, in_url, None).await,
            Err(StoreError::BadInput(_))
        ));
        let cam = s
            .register_camera(&p.admin, settings.clone(), Some(creds()))
            .await
            .unwrap();
        assert!(cam.has_credentials);
        assert!(matches!(
            s.register_camera(&p.admin, settings.clone(), None).await,
            Err(StoreError::Conflict(_))
        ));
        // Nothing read back carries the password: the listing, the raw
        // column, the audit log.
        let listed = serde_json::to_string(&s.cameras().await.unwrap()).unwrap();
        assert!(!listed.contains(SECRET) && listed.contains("North gate"));
        let raw: Vec<Vec<u8>> = sqlx::query_scalar("SELECT credentials_sealed FROM cameras")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(!raw[0].windows(SECRET.len()).any(|x| x == SECRET.as_bytes()));
        assert_eq!(
            s.camera_credentials("w1", &cam.id).await.unwrap(),
            Some(creds())
        );
        let audit = s.audit_entries(&p.auditor, 0, 1000).await.unwrap();
        let text = serde_json::to_string(&audit).unwrap();
        assert!(text.contains("camera.register") && text.contains("camera.credentials.open"));
        assert!(!text.contains(SECRET), "{}", w.name);
        // Settings change keeps credentials unless told; clearing removes them.
        let mut moved = settings.clone();
        moved.zone = vec![[0.0, 0.0], [1280.0, 0.0], [640.0, 720.0]];
        let c = s
            .update_camera(&p.admin, &cam.id, moved.clone(), CredentialChange::Keep)
            .await
            .unwrap();
        assert!(c.has_credentials && c.settings.zone.len() == 3);
        let c = s
            .update_camera(&p.admin, &cam.id, moved, CredentialChange::Clear)
            .await
            .unwrap();
        assert!(!c.has_credentials);
        assert_eq!(s.camera_credentials("w1", &cam.id).await.unwrap(), None);
        // An Application names only registered cameras.
        let mut app = application();
        app.cameras = vec!["no-such-camera".into()];
        for u in [&p.applicant] {
            s.put_user(u).await.unwrap();
        }
        assert!(matches!(
            s.create_deployment(&p.applicant, app).await,
            Err(StoreError::BadInput(_))
        ));
    }
}

#[tokio::test]
async fn one_worker_holds_a_camera_and_another_takes_it_when_the_lease_lapses() {
    for w in worlds().await {
        let p = people();
        let s = &w.store;
        let cam = s
            .register_camera(
                &p.admin,
                CameraSettings::new("South", "rtsp://10.0.0.6/s"),
                None,
            )
            .await
            .unwrap();
        let idle = s
            .register_camera(
                &p.admin,
                CameraSettings::new("Spare", "rtsp://10.0.0.7/s"),
                None,
            )
            .await
            .unwrap();
        let mut app = complete_application("High Street", T0, T0 + 8 * 3_600_000);
        app.cameras = vec![cam.id.clone()];
        let a = active_deployment_with(&w, &p, app).await;
        let d = a.deployment.id.clone();
        let jobs = s.camera_jobs().await.unwrap();
        assert_eq!(jobs.len(), 1, "{}: only the named camera", w.name);
        assert_eq!(
            (jobs[0].camera.id.as_str(), jobs[0].deployment_id.as_str()),
            (cam.id.as_str(), d.as_str())
        );
        assert!(!jobs.iter().any(|j| j.camera.id == idle.id));

        assert!(s.claim_camera("w1", &cam.id, &d, 10_000).await.unwrap());
        assert!(
            !s.claim_camera("w2", &cam.id, &d, 10_000).await.unwrap(),
            "{}",
            w.name
        );
        w.clock.advance(8_000);
        assert!(s.renew_camera("w1", &cam.id, 10_000, None).await.unwrap());
        w.clock.advance(8_000);
        assert!(
            !s.claim_camera("w2", &cam.id, &d, 10_000).await.unwrap(),
            "renewed: still w1's"
        );
        // w1 stops renewing (killed): after the lease, w2 takes over and w1
        // learns at its next renewal that it must stop.
        w.clock.advance(10_001);
        assert!(
            s.claim_camera("w2", &cam.id, &d, 10_000).await.unwrap(),
            "{}",
            w.name
        );
        assert!(!s.renew_camera("w1", &cam.id, 10_000, None).await.unwrap());
        let leases = s.camera_leases().await.unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].worker, "w2");

        // Many workers racing for a free camera: exactly one wins.
        s.release_camera("w2", &cam.id).await.unwrap();
        let store = Arc::new(
            Store::open(&w.url, MasterKey::generate(), w.clock.clone())
                .await
                .unwrap(),
        );
        let mut racers = Vec::new();
        for i in 0..8 {
            let (store, cam, d) = (store.clone(), cam.id.clone(), d.clone());
            racers.push(tokio::spawn(async move {
                store
                    .claim_camera(&format!("r{i}"), &cam, &d, 10_000)
                    .await
                    .unwrap()
            }));
        }
        let mut won = 0;
        for r in racers {
            won += usize::from(r.await.unwrap());
        }
        assert_eq!(won, 1, "{}", w.name);

        // Suspended keeps the job (analysis pauses in the pipeline);
        // disabling the camera or ending the Deployment removes it.
        s.act(&d, &p.silver, |d, r, now| {
            d.suspend(&p.silver, r, "crowd too dense", now)
        })
        .await
        .unwrap();
        assert_eq!(s.camera_jobs().await.unwrap().len(), 1);
        s.set_camera_disabled(&p.admin, &cam.id, true, "lens broken")
            .await
            .unwrap();
        assert!(s.camera_jobs().await.unwrap().is_empty());
        s.set_camera_disabled(&p.admin, &cam.id, false, "repaired")
            .await
            .unwrap();
        s.act(&d, &p.gold, |d, r, now| {
            d.terminate(&p.gold, r, "done", now)
        })
        .await
        .unwrap();
        assert!(s.camera_jobs().await.unwrap().is_empty(), "{}", w.name);
    }
}

/// Two servers on one PostgreSQL database: an Alert raised through one
/// reaches the other's subscribers (LISTEN/NOTIFY), once.
#[tokio::test]
async fn alert_events_reach_every_process_on_postgresql() {
    for w in worlds().await {
        if w.name != "postgres" {
            continue;
        }
        let p = people();
        let a = active_deployment(&w, &p).await;
        let other = Store::open(&w.url, MasterKey::generate(), Arc::new(SystemClock))
            .await
            .unwrap();
        let mut rx = other.subscribe_alerts();
        let mut own = w.store.subscribe_alerts();
        // The listener connects in the background.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let alert = w
            .store
            .raise_alert(new_alert(&a.deployment.id, &a.primary, &w))
            .await
            .unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no event from the other process within 10 s")
            .unwrap();
        assert_eq!(
            (ev.alert_id.as_str(), ev.kind),
            (alert.id.as_str(), "raised")
        );
        let mine = tokio::time::timeout(Duration::from_secs(2), own.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mine.alert_id, alert.id);
        // Its own notification comes back to the raising store but is not
        // delivered a second time.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(own.try_recv().is_err());
    }
}

/// Footage: sealed segments (no plaintext in the database), recorded only
/// while Active, an Alert's clip for an assigned user only (audited either
/// way), deleted at 31 days unless held, and the footage key shredded once
/// an ended Deployment has none left.
#[tokio::test]
async fn footage_is_sealed_clipped_for_the_assigned_and_shredded_after_31_days() {
    use vigil_core::retention::RetentionPolicy;
    use vigil_store::retention::HoldTarget;
    const DAY: i64 = 86_400_000;
    for w in worlds().await {
        let p = people();
        let s = &w.store;
        let a = active_deployment(&w, &p).await;
        let d = a.deployment.id.clone();
        let alert = s.raise_alert(new_alert(&d, &a.primary, &w)).await.unwrap();
        let camera = alert.camera.clone();
        let marker = b"PLAINTEXT-MPEG-TS-PACKETS".repeat(40);
        let t = s.now();
        for (from, to) in [(t - 20_000, t - 5_000), (t - 5_000, t + 10_000)] {
            s.add_footage_segment(&d, "cam-1", &camera, from, to, &marker)
                .await
                .unwrap();
        }
        let sealed: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed FROM media WHERE kind = 'footage'")
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert_eq!(sealed.len(), 2);
        assert!(sealed
            .iter()
            .all(|b| !b.windows(25).any(|x| x == &marker[..25])));
        // An assigned Operator exports the clip; another Deployment's may not.
        let clip = s.alert_clip(&p.operator, &alert.id).await.unwrap();
        assert_eq!(clip.bytes.len(), 2 * marker.len(), "{}", w.name);
        assert!(s.alert_clip(&p.other_operator, &alert.id).await.is_err());
        let audit = s.audit_entries(&p.auditor, 0, 10_000).await.unwrap();
        let export = audit.iter().find(|e| e.action == "footage.export").unwrap();
        assert_eq!(export.seq, clip.audit_seq);
        assert_eq!(export.actor, "operator");
        assert!(audit.iter().any(|e| e.action == "footage.export.denied"));
        // Suspended: nothing more is recorded.
        s.act(&d, &p.silver, |d, r, now| {
            d.suspend(&p.silver, r, "surge", now)
        })
        .await
        .unwrap();
        assert!(s
            .add_footage_segment(&d, "cam-1", &camera, t, t + 1, b"x")
            .await
            .is_err());
        // A hold keeps footage past 31 days; released, it goes.
        let hold = s
            .place_hold(
                &p.investigator,
                HoldTarget::Deployment(d.clone()),
                "complaint CMP-9",
            )
            .await
            .unwrap();
        w.clock.advance(32 * DAY);
        let policy = RetentionPolicy::default();
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!(r.footage_deleted, 0, "{}: {r:?}", w.name);
        assert_eq!(s.footage_segments(&d).await.unwrap().len(), 2);
        s.release_hold(&p.investigator, &hold.id, "closed")
            .await
            .unwrap();
        let r = s.retention_run("test", &policy).await.unwrap();
        assert_eq!(r.footage_deleted, 2, "{}: {r:?}", w.name);
        assert!(s.footage_segments(&d).await.unwrap().is_empty());
        assert!(s.alert_clip(&p.operator, &alert.id).await.is_err());
        // The Deployment ends: its footage key is destroyed.
        s.act(&d, &p.gold, |d, r, now| {
            d.terminate(&p.gold, r, "done", now)
        })
        .await
        .unwrap();
        s.retention_run("test", &policy).await.unwrap();
        let destroyed: Option<i64> =
            sqlx::query_scalar("SELECT destroyed_ms FROM data_keys WHERE key_id = $1")
                .bind(format!("deployment/{d}/footage"))
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert!(destroyed.is_some(), "{}: footage key not destroyed", w.name);
    }
}
