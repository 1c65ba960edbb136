//! A real installation from an empty directory, with no demo seeding: the
//! first Administrator logs in with the one-time password, is made to
//! change it and to enrol a second factor, creates people through the API,
//! assigns an Operator, who logs in with password and TOTP; sessions
//! survive a restart; disabling the Operator ends the session and its event
//! stream; failed logins lock the account for a while.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vigil_server::{hash_password, router, AppState};
use vigil_store::{Store, SystemClock};

struct Install {
    dir: tempfile::TempDir,
    app: axum::Router,
    store: Arc<Store>,
}

fn state(store: Arc<Store>) -> AppState {
    let quick = vigil_server::throttle::Policy {
        free: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(2),
    };
    let mut s = AppState::new(store, Duration::from_secs(12 * 3600)).with_throttle(
        vigil_server::throttle::Settings {
            account: quick,
            address: quick,
        },
    );
    s.second_factor = true;
    s
}

async fn open(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(
        Store::open_data_dir(dir, None, Arc::new(SystemClock))
            .await
            .unwrap(),
    )
}

async fn install(first_password: &str) -> Install {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let r = store
        .initialise(
            "chief",
            "Chief Admin",
            &hash_password(first_password).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r, vigil_store::accounts::Initialised::Created);
    // Never a second first Administrator.
    let again = store
        .initialise("intruder", "X", &hash_password("x").unwrap())
        .await
        .unwrap();
    assert_eq!(
        again,
        vigil_store::accounts::Initialised::Already {
            first_admin: "chief".into()
        }
    );
    assert!(store.user("intruder").await.is_err());
    let app = router(state(store.clone()));
    Install { dir, app, store }
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value, Option<String>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Some(r) = retry {
        v["retry_after"] = json!(r);
    }
    (status, v, cookie)
}

fn login_req(body: Value) -> Request<Body> {
    Request::post("/api/v1/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

struct Who {
    cookie: String,
    csrf: String,
}

fn req(method: &str, path: &str, who: &Who, body: Option<Value>) -> Request<Body> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &who.cookie)
        .header("x-vigil-csrf", &who.csrf);
    if body.is_some() {
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap()
}

fn code_for(secret_base32: &str, user: &str, at: u64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("Vigil".into()),
        user.into(),
    )
    .unwrap()
    .generate(at)
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The whole first login of an account with a one-time password and a
/// second factor to enrol. Returns the session.
async fn first_login(app: &axum::Router, user: &str, otp: &str, new: &str) -> Who {
    let (st, v, _) = call(app, login_req(json!({"user": user, "password": otp}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "password_change_required");
    let (st, v, _) = call(
        app,
        login_req(json!({"user": user, "password": otp, "new_password": "password1234"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "weak_password");
    let (st, v, _) = call(
        app,
        login_req(json!({"user": user, "password": otp, "new_password": new})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "totp_enrolment_required");
    let secret = v["enrolment"]["secret"].as_str().unwrap().to_string();
    assert!(v["enrolment"]["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(v["enrolment"]["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let wrong = if code_for(&secret, user, now_s()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (st, v, _) = call(
        app,
        login_req(json!({"user": user, "password": otp, "new_password": new, "totp": wrong})),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["error"]["code"], "bad_totp");
    let code = code_for(&secret, user, now_s());
    let (st, v, cookie) = call(
        app,
        login_req(json!({"user": user, "password": otp, "new_password": new, "totp": code})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The one-time password no longer works; the code cannot be replayed.
    let (st, _, _) = call(app, login_req(json!({"user": user, "password": otp}))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v2, _) = call(
        app,
        login_req(json!({"user": user, "password": new, "totp": code})),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "a used code is refused: {v2}");
    Who {
        cookie: cookie.unwrap(),
        csrf: v["csrf"].as_str().unwrap().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_an_empty_directory_to_an_operator_with_a_second_factor() {
    let i = install("first-otp-abcde").await;
    let app = &i.app;
    let admin = first_login(app, "chief", "first-otp-abcde", "harbour-violet-lantern-77").await;

    // People through the API, with reasons; a duplicate name is refused.
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"id": "pc-ahmed", "display_name": "PC Ahmed", "rank": "Constable", "roles": [], "reason": "joined the LFR team"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let op_otp = v["one_time_password"].as_str().unwrap().to_string();
    assert_eq!(v["account"]["must_change_password"], true);
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"id": "insp-lee", "display_name": "Insp Lee", "rank": "Inspector", "roles": ["Applicant"], "reason": "applies for Deployments"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let applicant_otp = v["one_time_password"].as_str().unwrap().to_string();
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"id": "pc-ahmed", "display_name": "Again", "rank": "Constable", "reason": "x"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, _, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"id": "x", "display_name": "X", "rank": "Constable", "roles": ["Operator"], "reason": "x"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "Operator is an assignment");

    // The Applicant (no face images: no second factor) drafts a Deployment.
    let (st, v, _) = call(
        app,
        login_req(json!({"user": "insp-lee", "password": applicant_otp, "new_password": "quiet-meadow-copper-41"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let applicant = Who {
        cookie: call(
            app,
            login_req(json!({"user": "insp-lee", "password": "quiet-meadow-copper-41"})),
        )
        .await
        .2
        .unwrap(),
        csrf: String::new(),
    };
    let (_, me, _) = call(app, req("GET", "/api/v1/me", &applicant, None)).await;
    assert_eq!(me["id"], "insp-lee");
    let applicant_user = i.store.user("insp-lee").await.unwrap();
    let d = i
        .store
        .create_deployment(
            &applicant_user,
            vigil_core::fixtures::complete_application("Station Road", 0, i64::MAX / 2),
        )
        .await
        .unwrap();

    // Assignments: picked by the Administrator, never to themselves.
    let assign = |user: &str, role: &str| {
        req(
            "POST",
            &format!("/api/v1/deployments/{}/assignments", d.id),
            &admin,
            Some(json!({"user": user, "role": role})),
        )
    };
    let (st, v, _) = call(app, assign("chief", "Operator")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no self-assignment: {v}");
    let (st, v, _) = call(app, assign("pc-ahmed", "Operator")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v, _) = call(app, assign("insp-lee", "Silver")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v, _) = call(
        app,
        req(
            "DELETE",
            &format!("/api/v1/deployments/{}/assignments", d.id),
            &admin,
            Some(json!({"user": "insp-lee", "role": "Silver", "reason": "moved to another operation"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let log = i.store.deployment(&d.id).await.unwrap().log;
    assert!(log
        .iter()
        .any(|l| l.action == "assign" && l.reason.contains("pc-ahmed")));
    assert!(log
        .iter()
        .any(|l| l.action == "unassign" && l.reason.contains("moved to another operation")));

    // The Operator: password change and TOTP enrolment at first login.
    let op = first_login(app, "pc-ahmed", &op_otp, "granite-sparrow-window-90").await;
    let (st, me, _) = call(app, req("GET", "/api/v1/me", &op, None)).await;
    assert_eq!((st, me["id"].as_str()), (StatusCode::OK, Some("pc-ahmed")));

    // A restart: a new server over the same directory keeps both sessions.
    let store2 = open(i.dir.path()).await;
    let app2 = router(state(store2.clone()));
    for (who, id) in [(&admin, "chief"), (&op, "pc-ahmed")] {
        let (st, me, _) = call(&app2, req("GET", "/api/v1/me", who, None)).await;
        assert_eq!((st, me["id"].as_str()), (StatusCode::OK, Some(id)));
    }

    // Disabling the Operator ends the session and its open event stream.
    let resp = app2
        .clone()
        .oneshot(req(
            "GET",
            &format!("/api/v1/deployments/{}/alerts/events", d.id),
            &op,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.into_body();
    let (st, v, _) = call(
        &app2,
        req(
            "POST",
            "/api/v1/users/pc-ahmed/disable",
            &admin,
            Some(json!({"reason": "left the force"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["disabled"].is_i64());
    let (st, _, _) = call(&app2, req("GET", "/api/v1/me", &op, None)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while stream.frame().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream must end");
    let (st, v, _) = call(
        &app2,
        login_req(json!({"user": "pc-ahmed", "password": "granite-sparrow-window-90"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "account_disabled");
    // An Administrator cannot disable themselves; others are audited with the reason.
    let (st, _, _) = call(
        &app2,
        req(
            "POST",
            "/api/v1/users/chief/disable",
            &admin,
            Some(json!({"reason": "x"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let auditor = vigil_core::access::User {
        id: "a".into(),
        display_name: "A".into(),
        rank: vigil_core::access::Rank::Staff,
        roles: vec![vigil_core::access::Role::Auditor],
    };
    let audit = store2.audit_entries(&auditor, 0, 10_000).await.unwrap();
    for (action, detail) in [
        ("user.create", "joined the LFR team"),
        ("user.disable", "left the force"),
        ("user.totp.enrol", ""),
        ("user.password.change", ""),
        ("install.init", "first Administrator"),
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.detail.contains(detail)),
            "{action} audited"
        );
    }
    assert!(store2.audit_verify().await.unwrap().ok);

    // Others may not manage people.
    let (st, _, _) = call(&app2, req("GET", "/api/v1/users", &applicant, None)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Twenty wrong passwords lock the account for a while (429 with
    // Retry-After); the right password works again afterwards.
    let mut locked = 0;
    for _ in 0..20 {
        let (st, v, _) = call(
            &app2,
            login_req(json!({"user": "insp-lee", "password": "not-it"})),
        )
        .await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            locked += 1;
            assert!(v["retry_after"].as_str().unwrap().parse::<u64>().unwrap() >= 1);
        }
    }
    assert!(locked >= 10, "{locked}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (st, v, _) = call(
        &app2,
        login_req(json!({"user": "insp-lee", "password": "quiet-meadow-copper-41"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// An Administrator resets a lost password and second factor: the old
/// sessions end and the next login enrols afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_end_sessions_and_force_a_fresh_start() {
    let i = install("first-otp-fghij").await;
    let app = &i.app;
    let admin = first_login(app, "chief", "first-otp-fghij", "harbour-violet-lantern-78").await;
    let (_, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"id": "det-khan", "display_name": "DC Khan", "rank": "Constable", "roles": ["Investigator"], "reason": "case team"})),
        ),
    )
    .await;
    let otp = v["one_time_password"].as_str().unwrap().to_string();
    let inv = first_login(app, "det-khan", &otp, "pebble-orchid-canyon-35").await;
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users/det-khan/reset-password",
            &admin,
            Some(json!({"reason": "forgot it"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let otp2 = v["one_time_password"].as_str().unwrap().to_string();
    let (st, _, _) = call(app, req("GET", "/api/v1/me", &inv, None)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "reset ends the session");
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users/det-khan/reset-second-factor",
            &admin,
            Some(json!({"reason": "lost phone"})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v, _) = call(
        app,
        req(
            "POST",
            "/api/v1/users/det-khan/disable",
            &admin,
            Some(json!({"reason": ""})),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "a reason is required: {v}");
    // Next login: new password, and a new enrolment (the old secret is gone).
    let (st, v, _) = call(
        app,
        login_req(
            json!({"user": "det-khan", "password": otp2, "new_password": "saddle-lemon-frost-62"}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "totp_enrolment_required");
    let (st, v, _) = call(app, req("GET", "/api/v1/users", &admin, None)).await;
    assert_eq!(st, StatusCode::OK);
    let khan = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "det-khan")
        .unwrap()
        .clone();
    assert_eq!(khan["second_factor_enrolled"], false);
    assert_eq!(khan["must_change_password"], true);
    assert!(khan.get("password_hash").is_none());
}
