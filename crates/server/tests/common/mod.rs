//! Shared fixture: a store with people in every role, an active Deployment
//! with a Watchlist entry and one Alert, and the router over it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use vigil_core::access::{Rank, Role, User};
use vigil_core::deployment::WrittenAuthority;
use vigil_core::fixtures::complete_application;
use vigil_core::watchlist::Category;
use vigil_server::{hash_password, router, AppState};
use vigil_store::alerts::NewAlert;
use vigil_store::{Store, SystemClock};

pub const PASSWORD: &str = "correct horse";

pub struct Fixture {
    pub app: axum::Router,
    pub store: Arc<Store>,
    pub deployment: String,
    pub alert: String,
    pub _dir: tempfile::TempDir,
}

pub fn user(id: &str, rank: Rank, roles: &[Role]) -> User {
    User {
        id: id.into(),
        display_name: id.into(),
        rank,
        roles: roles.to_vec(),
    }
}

pub async fn fixture() -> Fixture {
    fixture_with_images(
        b"probe jpeg bytes".to_vec(),
        b"candidate jpeg bytes".to_vec(),
    )
    .await
}

pub async fn fixture_with_images(probe: Vec<u8>, candidate: Vec<u8>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open_data_dir(dir.path(), None, Arc::new(SystemClock))
            .await
            .unwrap(),
    );
    let people = [
        user("admin", Rank::Staff, &[Role::Administrator]),
        user("applicant", Rank::Inspector, &[Role::Applicant]),
        user("npcc", Rank::Commander, &[]),
        user("ao", Rank::Superintendent, &[Role::AuthorisingOfficer]),
        user("silver", Rank::ChiefInspector, &[]),
        user("operator", Rank::Constable, &[]),
        user("engagement", Rank::Constable, &[]),
        user("compiler", Rank::Staff, &[]),
        user("stranger", Rank::Constable, &[]),
        user("auditor", Rank::Staff, &[Role::Auditor]),
    ];
    let hash = hash_password(PASSWORD).unwrap();
    for u in &people {
        store.put_user(u).await.unwrap();
        store.set_password_hash(&u.id, &hash).await.unwrap();
    }
    let p = |id: &str| people.iter().find(|u| u.id == id).unwrap().clone();
    let app = complete_application("Station Road", 0, i64::MAX / 2);
    let (applicant, npcc, ao, silver, admin, compiler) = (
        p("applicant"),
        p("npcc"),
        p("ao"),
        p("silver"),
        p("admin"),
        p("compiler"),
    );
    let d = store.create_deployment(&applicant, app).await.unwrap();
    store
        .act(&d.id, &applicant, |d, _, now| d.submit(&applicant, now))
        .await
        .unwrap();
    store
        .act(&d.id, &npcc, |d, _, now| d.consult(&npcc, false, "ok", now))
        .await
        .unwrap();
    let wad = WrittenAuthority {
        reasoning: "ok".into(),
        alternatives_considered: "-".into(),
        threshold: 0.5,
        target_false_alert_rate: None,
    };
    store
        .act(&d.id, &ao, |d, _, now| d.authorise(&ao, wad.clone(), now))
        .await
        .unwrap();
    for (u, r) in [
        ("silver", Role::Silver),
        ("operator", Role::Operator),
        ("engagement", Role::EngagementOfficer),
        ("compiler", Role::WatchlistCompiler),
    ] {
        store.assign(&admin, &d.id, u, r).await.unwrap();
    }
    let r = store
        .add_reference_image(&admin, "REF-1", "custody", b"reference jpeg")
        .await
        .unwrap();
    let e = store
        .add_watchlist_entry(&compiler, &d.id, Category::Primary, "wanted", false, &[r])
        .await
        .unwrap();
    store
        .act(&d.id, &silver, |d, roles, now| {
            d.activate(&silver, roles, now)
        })
        .await
        .unwrap();
    let a = store
        .raise_alert(NewAlert {
            deployment_id: d.id.clone(),
            camera: "c1".into(),
            watchlist_entry_id: e.id,
            score: 0.7,
            first_seen: store.now() - 100,
            quality: "{}".into(),
            probe_image: probe,
            candidate_image: candidate,
        })
        .await
        .unwrap();
    let state = AppState::new(store.clone(), Duration::from_secs(3600));
    Fixture {
        app: router(state),
        store,
        deployment: d.id,
        alert: a.id,
        _dir: dir,
    }
}

/// Two rustls crypto providers are linked (ring by the server, another by
/// the WebDriver client's defaults): pick one for the process.
pub fn install_crypto() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}
