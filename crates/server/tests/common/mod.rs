//! Shared fixture: a store with people in every role, an active Deployment
//! with a Watchlist entry and one Alert, and the router over it.
#![allow(dead_code)]

pub mod search;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::Duration;
use tower::ServiceExt;

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
    /// The reference image the Watchlist entry was made from.
    pub reference: String,
    pub store: Arc<Store>,
    pub deployment: String,
    /// The registered camera the Deployment's Application names.
    pub camera: String,
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
        user("gold", Rank::ChiefSuperintendent, &[]),
        user("operator", Rank::Constable, &[]),
        user("engagement", Rank::Constable, &[]),
        user("compiler", Rank::Staff, &[]),
        user("stranger", Rank::Constable, &[]),
        user("auditor", Rank::Staff, &[Role::Auditor]),
        user("investigator", Rank::Sergeant, &[Role::Investigator]),
        user("investigator2", Rank::Constable, &[Role::Investigator]),
    ];
    let hash = hash_password(PASSWORD).unwrap();
    for u in &people {
        store.put_user(u).await.unwrap();
        store.set_password_hash(&u.id, &hash).await.unwrap();
    }
    let p = |id: &str| people.iter().find(|u| u.id == id).unwrap().clone();
    let mut app = complete_application("Station Road", 0, i64::MAX / 2);
    // The Deployment's one camera (its worker's health comes through the
    // store, as from any process).
    let camera = store
        .register_camera(
            &p("admin"),
            vigil_core::camera::CameraSettings::new("north", "rtsp://10.0.0.5/stream1"),
            None,
        )
        .await
        .unwrap();
    app.cameras = vec![camera.id.clone()];
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
        ("gold", Role::Gold),
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
        .add_watchlist_entry(
            &compiler,
            &d.id,
            Category::Primary,
            "wanted",
            false,
            std::slice::from_ref(&r),
        )
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
            scene_image: None,
        })
        .await
        .unwrap();
    let state = AppState::new(store.clone(), Duration::from_secs(3600));
    Fixture {
        app: router(state),
        reference: r,
        store,
        deployment: d.id,
        camera: camera.id,
        alert: a.id,
        _dir: dir,
    }
}

/// Two rustls crypto providers are linked (ring by the server, another by
/// the WebDriver client's defaults): pick one for the process.
pub fn install_crypto() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub async fn send(f: &Fixture, req: Request<Body>) -> (StatusCode, Vec<u8>, Option<String>) {
    let resp = f.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let set_cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes, set_cookie)
}

pub async fn login(f: &Fixture, id: &str) -> Session {
    let req = Request::post("/api/v1/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"user": id, "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let (status, body, cookie) = send(f, req).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let cookie = cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    Session {
        cookie: cookie.split(';').next().unwrap().to_string(),
        csrf: v["csrf"].as_str().unwrap().to_string(),
    }
}

pub fn get(path: &str, s: Option<&Session>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(s) = s {
        r = r.header(header::COOKIE, &s.cookie);
    }
    r.body(Body::empty()).unwrap()
}

pub fn post(path: &str, s: Option<&Session>, body: String, csrf: bool) -> Request<Body> {
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = s {
        r = r.header(header::COOKIE, &s.cookie);
        if csrf {
            r = r.header("x-vigil-csrf", &s.csrf);
        }
    }
    r.body(Body::from(body)).unwrap()
}

pub use vigil_testkit::calibration;
