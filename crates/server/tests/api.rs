//! The API route by route and role by role: allowed, forbidden,
//! unauthenticated; malformed and oversized bodies; CSRF; audited image reads.

mod common;

use std::time::Duration;

use axum::http::{header, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vigil_store::alerts::NewAlert;

use common::*;

#[tokio::test]
async fn every_route_refuses_the_unauthenticated_except_public_ones() {
    let f = fixture().await;
    let a = &f.alert;
    let d = &f.deployment;
    for path in [
        "/api/v1/me".to_string(),
        "/api/v1/deployments".into(),
        format!("/api/v1/deployments/{d}/alerts"),
        format!("/api/v1/alerts/{a}/images/probe"),
    ] {
        let (status, body, _) = send(&f, get(&path, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "unauthenticated");
    }
    let (status, _, _) = send(
        &f,
        post(
            &format!("/api/v1/alerts/{a}/adjudications"),
            None,
            json!({"decision": "Engage"}).to_string(),
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&f, get("/api/v1/public/records", None)).await.0,
        StatusCode::OK
    );
    assert_eq!(send(&f, get("/public", None)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_is_refused_and_audited() {
    let f = fixture().await;
    let req = post(
        "/api/v1/login",
        None,
        json!({"user": "operator", "password": "guess"}).to_string(),
        false,
    );
    assert_eq!(send(&f, req).await.0, StatusCode::UNAUTHORIZED);
    let unknown = post(
        "/api/v1/login",
        None,
        json!({"user": "nobody", "password": "guess"}).to_string(),
        false,
    );
    assert_eq!(send(&f, unknown).await.0, StatusCode::UNAUTHORIZED);
    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 1000).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "login.failed" && e.actor == "operator"));
}

#[tokio::test]
async fn alerts_and_images_by_role() {
    let f = fixture().await;
    let (a, d) = (&f.alert, &f.deployment);
    for (who, list, image) in [
        ("operator", StatusCode::OK, StatusCode::OK),
        ("engagement", StatusCode::OK, StatusCode::OK),
        ("stranger", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
        ("admin", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
        ("auditor", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
        ("silver", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
    ] {
        let s = login(&f, who).await;
        let (st, body, _) = send(
            &f,
            get(&format!("/api/v1/deployments/{d}/alerts"), Some(&s)),
        )
        .await;
        assert_eq!(st, list, "{who} list: {}", String::from_utf8_lossy(&body));
        let (st, body, _) = send(
            &f,
            get(&format!("/api/v1/alerts/{a}/images/probe"), Some(&s)),
        )
        .await;
        assert_eq!(st, image, "{who} image");
        if st == StatusCode::OK {
            assert_eq!(body, b"probe jpeg bytes");
        }
    }
    let s = login(&f, "operator").await;
    assert_eq!(
        send(
            &f,
            get(&format!("/api/v1/alerts/{a}/images/thumbnail"), Some(&s))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &f,
            get("/api/v1/alerts/no-such-alert/images/probe", Some(&s))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 1000).await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "alert.image.view")
            .count(),
        2
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "alert.image.denied")
            .count(),
        4
    );
}

#[tokio::test]
async fn adjudication_needs_the_role_the_csrf_token_and_a_well_formed_body() {
    let f = fixture().await;
    let path = format!("/api/v1/alerts/{}/adjudications", f.alert);
    let engage = json!({"decision": "Engage", "note": "stopped"}).to_string();
    let op = login(&f, "operator").await;
    assert_eq!(
        send(&f, post(&path, Some(&op), engage.clone(), false))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "no CSRF header"
    );
    let eo = login(&f, "engagement").await;
    assert_eq!(
        send(&f, post(&path, Some(&eo), engage.clone(), true))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "engagement officers do not adjudicate"
    );
    assert_eq!(
        send(&f, post(&path, Some(&op), "{not json".into(), true))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            &f,
            post(
                &path,
                Some(&op),
                json!({"decision": "Arrest"}).to_string(),
                true
            )
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (st, body, _) = send(&f, post(&path, Some(&op), engage.clone(), true)).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["state"], "Engaged");
    assert_eq!(
        send(&f, post(&path, Some(&op), engage, true)).await.0,
        StatusCode::CONFLICT,
        "already adjudicated"
    );
    let confirm = json!({"decision": "ConfirmTrue", "note": "confirmed"}).to_string();
    assert_eq!(
        send(&f, post(&path, Some(&eo), confirm, true)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_server_keeps_working() {
    let f = fixture().await;
    let op = login(&f, "operator").await;
    let path = format!("/api/v1/alerts/{}/adjudications", f.alert);
    let huge = json!({"decision": "Engage", "note": "x".repeat(2 << 20)}).to_string();
    assert_eq!(
        send(&f, post(&path, Some(&op), huge, true)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let long = json!({"decision": "Engage", "note": "x".repeat(5000)}).to_string();
    assert_eq!(
        send(&f, post(&path, Some(&op), long, true)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&f, get("/api/v1/me", Some(&op))).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let f = fixture().await;
    let s = login(&f, "operator").await;
    let (st, _, cleared) = send(&f, post("/api/v1/logout", Some(&s), String::new(), true)).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // The browser is told to drop the cookie, with the attributes it was set with.
    let cleared = cleared.expect("a Set-Cookie that clears the session");
    assert!(cleared.starts_with("vigil_session=;"), "{cleared}");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"),
        "{cleared}"
    );
    assert!(
        cleared.contains("SameSite=Strict") && cleared.contains("Path=/"),
        "{cleared}"
    );
    assert_eq!(
        send(&f, get("/api/v1/me", Some(&s))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_public_page_shows_ended_deployments_without_personal_data() {
    let f = fixture().await;
    let silver = f.store.user("silver").await.unwrap();
    f.store
        .act(&f.deployment, &silver, |d, r, now| {
            d.conclude(&silver, r, "end", now)
        })
        .await
        .unwrap();
    let (st, body, _) = send(&f, get("/public", None)).await;
    assert_eq!(st, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("Station Road"));
    for secret in ["REF-1", "operator", "silver", "c1", &f.alert] {
        assert!(!html.contains(secret), "{secret} on the public page");
    }
}

#[tokio::test]
async fn alerts_are_pushed_to_assigned_users_as_they_happen() {
    let f = fixture().await;
    let path = format!("/api/v1/deployments/{}/alerts/events", f.deployment);
    let stranger = login(&f, "stranger").await;
    assert_eq!(
        send(&f, get(&path, Some(&stranger))).await.0,
        StatusCode::FORBIDDEN
    );
    let op = login(&f, "operator").await;
    let resp = f.app.clone().oneshot(get(&path, Some(&op))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    // A new Alert after the operator subscribed.
    let entry = f.store.watchlist(&f.deployment).await.unwrap()[0]
        .id
        .clone();
    let raised = f
        .store
        .raise_alert(NewAlert {
            deployment_id: f.deployment.clone(),
            camera: "c2".into(),
            watchlist_entry_id: entry,
            score: 0.8,
            first_seen: f.store.now() - 50,
            quality: "{}".into(),
            probe_image: b"p".to_vec(),
            candidate_image: b"c".to_vec(),
            scene_image: None,
        })
        .await
        .unwrap();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(&raised.id) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("no event within 10 s")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(text.contains("event: alert"));
    assert!(text.contains("\"kind\":\"raised\""));
    assert!(!text.contains("probe_image"), "no image bytes in events");
}

#[tokio::test]
async fn metrics_expose_camera_counters_without_personal_data() {
    let f = fixture().await;
    // A worker (any process) holds the camera's lease and reports its
    // health through the store; the metrics read it from there.
    assert!(f
        .store
        .claim_camera("w1", &f.camera, &f.deployment, 60_000)
        .await
        .unwrap());
    let health = json!({"camera": "north", "frames_in": 10, "frames_processed": 9, "frames_dropped": 1, "faces": 4, "passers_by": 2, "alerts": 1, "reconnects": 0,
                    "recognition_time_buckets": [[50.0, 1], [100.0, 3]], "recognition_time_sum_ms": 230.0, "recognition_time_count": 3});
    assert!(f
        .store
        .renew_camera("w1", &f.camera, 60_000, Some(&health))
        .await
        .unwrap());
    let (st, body, _) = send(&f, get("/metrics", None)).await;
    assert_eq!(st, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("vigil_frames_dropped_total{camera=\"north\"} 1"),
        "{text}"
    );
    assert!(text.contains("vigil_passers_by_total{camera=\"north\"} 2"));
    assert!(text.contains("# TYPE vigil_recognition_time_seconds histogram"));
    assert!(
        text.contains("vigil_recognition_time_seconds_bucket{le=\"0.1\",camera=\"north\"} 3"),
        "{text}"
    );
    assert!(text.contains("vigil_recognition_time_seconds_count{camera=\"north\"} 3"));
    assert!(text.contains("vigil_recognition_time_seconds_sum{camera=\"north\"} 0.23"));
    assert!(text.contains("vigil_recognition_time_seconds_bucket{le=\"+Inf\",camera=\"north\"} 3"));
    assert!(
        text.ends_with("# EOF\n"),
        "a complete OpenMetrics exposition"
    );
    assert!(!text.contains("REF-1"));
}

/// The OpenAPI document lists every API route of the router (read from its
/// source, so a new route without an annotation fails here) and every
/// schema it refers to.
#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let f = fixture().await;
    let (st, body, _) = send(&f, get("/api/openapi.json", None)).await;
    assert_eq!(st, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let source = include_str!("../src/lib.rs");
    let mut routes = 0;
    for line in source.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("\"/") else {
            continue;
        };
        let path = format!("/{}", rest.split('"').next().unwrap());
        if !(path.starts_with("/api/v1") || path == "/metrics") {
            continue;
        }
        routes += 1;
        assert!(paths.contains_key(&path), "{path} missing from OpenAPI");
    }
    // Routes written on one line: `.route("/api/v1/me", get(...))`.
    for cap in source.split(".route(\"").skip(1) {
        let path = cap.split('"').next().unwrap();
        if path.starts_with("/api/v1") || path == "/metrics" {
            routes += 1;
            assert!(paths.contains_key(path), "{path} missing from OpenAPI");
        }
    }
    assert!(routes >= 22, "{routes}");
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name} referenced but not defined"
        );
    }
    assert!(doc["components"]["schemas"].get("Application").is_some());
}
