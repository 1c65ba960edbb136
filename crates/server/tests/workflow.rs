//! The Deployment workflow, the Watchlist and Blue Watchlist passes over
//! the API: a whole Deployment from draft to filed Cancellation Report, and
//! every new route tried by every role (allowed, forbidden,
//! unauthenticated), plus malformed bodies and TLS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use vigil_core::fixtures::complete_application;
use vigil_core::quality::{ReferenceJudge, ReferenceVerdict};
use vigil_core::watchlist::Category;
use vigil_server::{router, AppState};
use vigil_store::alerts::NewAlert;

use common::*;

const EVERYONE: [&str; 11] = [
    "admin",
    "applicant",
    "npcc",
    "ao",
    "silver",
    "gold",
    "operator",
    "engagement",
    "compiler",
    "stranger",
    "auditor",
];

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(body)))
}

async fn step(f: &Fixture, s: &Session, dep: &str, body: Value) -> (StatusCode, Value) {
    let (st, b, _) = send(
        f,
        post(
            &format!("/api/v1/deployments/{dep}/transitions"),
            Some(s),
            body.to_string(),
            true,
        ),
    )
    .await;
    (st, json_of(&b))
}

#[tokio::test]
async fn a_deployment_from_draft_to_filed_cancellation_report() {
    let f = fixture().await;
    let applicant = login(&f, "applicant").await;
    let mut app = complete_application("Market Square", 1_000, 2_000);
    app.legal_basis = String::new();
    let (st, b, _) = send(
        &f,
        post(
            "/api/v1/deployments",
            Some(&applicant),
            serde_json::to_string(&app).unwrap(),
            true,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let v = json_of(&b);
    let dep = v["deployment"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["deployment"]["state"], "Draft");
    assert_eq!(v["actions"], json!(["submit"]));
    assert_eq!(v["may_edit_application"], true);

    // Incomplete: refused with the missing field named.
    let (st, v) = step(&f, &applicant, &dep, json!({"action": "submit"})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legal basis"),
        "{v}"
    );
    app.legal_basis = "Common law policing powers".into();
    let (st, _, _) = send(
        &f,
        axum::http::Request::put(format!("/api/v1/deployments/{dep}/application"))
            .header("content-type", "application/json")
            .header("cookie", &applicant.cookie)
            .header("x-vigil-csrf", &applicant.csrf)
            .body(axum::body::Body::from(serde_json::to_string(&app).unwrap()))
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = step(&f, &applicant, &dep, json!({"action": "submit"})).await;
    assert_eq!(st, StatusCode::OK);

    // Consultation needs NPCC rank; the Operator is refused.
    let operator = login(&f, "operator").await;
    let (st, _) = step(
        &f,
        &operator,
        &dep,
        json!({"action": "consult", "reason": "x"}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let npcc = login(&f, "npcc").await;
    let (st, v) = step(
        &f,
        &npcc,
        &dep,
        json!({"action": "consult", "reason": "no concerns"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["deployment"]["state"], "Consulted");

    // Authorisation needs the Written Authority.
    let ao = login(&f, "ao").await;
    let (st, _) = step(&f, &ao, &dep, json!({"action": "authorise"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, v) = step(
        &f,
        &ao,
        &dep,
        json!({"action": "authorise", "authority": {"reasoning": "Necessary and proportionate", "alternatives_considered": "Patrols",
               "threshold": 0.45, "target_false_alert_rate": 0.001}}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let t = v["deployment"]["authority"]["threshold"].as_f64().unwrap();
    assert!((t - 0.45).abs() < 1e-6, "{t}");

    // Only an Administrator assigns.
    let admin = login(&f, "admin").await;
    for (u, r) in [("silver", "Silver"), ("gold", "Gold")] {
        let body = json!({"user": u, "role": r}).to_string();
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{dep}/assignments"),
                Some(&ao),
                body.clone(),
                true,
            ),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{dep}/assignments"),
                Some(&admin),
                body,
                true,
            ),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
    }

    let silver = login(&f, "silver").await;
    let gold = login(&f, "gold").await;
    let (st, v) = step(&f, &silver, &dep, json!({"action": "activate"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["actions"],
        json!(["suspend", "terminate", "conclude"]),
        "Silver's buttons while Active"
    );
    let (st, _) = step(
        &f,
        &operator,
        &dep,
        json!({"action": "suspend", "reason": "x"}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = step(&f, &silver, &dep, json!({"action": "suspend"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "a reason is required to suspend");
    for action in ["suspend", "resume"] {
        let (st, _) = step(
            &f,
            &silver,
            &dep,
            json!({"action": action, "reason": "crowd surge"}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{action}");
    }
    let (st, v) = step(
        &f,
        &gold,
        &dep,
        json!({"action": "gold_review", "reason": "reviewed at 14:00"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The same review again (a double click) is not a second record.
    let (st, v) = step(
        &f,
        &gold,
        &dep,
        json!({"action": "gold_review", "reason": "reviewed at 14:00"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(v.to_string().contains("already recorded"), "{v}");
    let (st, v) = step(
        &f,
        &silver,
        &dep,
        json!({"action": "conclude", "reason": "planned end"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["deployment"]["state"], "Concluded");
    assert!(v["cancellation_report_due"].as_i64().is_some());

    // The Cancellation Report: Gold only, pre-filled from the statistics.
    let (st, _, _) = send(
        &f,
        get(
            &format!("/api/v1/deployments/{dep}/cancellation-report/draft"),
            Some(&silver),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, b, _) = send(
        &f,
        get(
            &format!("/api/v1/deployments/{dep}/cancellation-report/draft"),
            Some(&gold),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let mut report = json_of(&b);
    assert_eq!(report["alerts"], 0);
    report["circumstances_of_conclusion"] = json!("Planned end");
    report["arrests"] = json!(2);
    // The counts are the system's: sent ones are ignored.
    report["alerts"] = json!(999);
    report["false_alert_rate"] = json!(0.0);
    let (st, b, _) = send(
        &f,
        post(
            &format!("/api/v1/deployments/{dep}/cancellation-report"),
            Some(&gold),
            report.to_string(),
            true,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v = json_of(&b);
    assert_eq!(v["deployment"]["state"], "CancellationFiled");
    assert_eq!(v["deployment"]["cancellation_report"]["arrests"], 2);
    assert_eq!(v["deployment"]["cancellation_report"]["alerts"], 0);
    assert!(v["deployment"]["cancellation_report"]["false_alert_rate"].is_null());

    // The log names who did what, in order.
    let actors: Vec<(String, String)> = v["deployment"]["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["actor"].as_str().unwrap().to_string(),
                l["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("applicant", "submit"),
        ("npcc", "consult"),
        ("ao", "authorise"),
        ("silver", "activate"),
        ("silver", "suspend"),
        ("silver", "resume"),
        ("silver", "conclude"),
    ] {
        assert!(
            actors
                .iter()
                .any(|(a, s)| a == expected.0 && s == expected.1),
            "{expected:?} not in {actors:?}"
        );
    }
    let audit = f
        .store
        .audit_entries(&f.store.user("auditor").await.unwrap(), 0, 1000)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.target == dep && e.actor == "gold"));
}

#[tokio::test]
async fn malformed_and_unauthenticated_workflow_requests() {
    let f = fixture().await;
    let d = &f.deployment;
    let r = &f.reference;
    for path in [
        format!("/api/v1/deployments/{d}"),
        format!("/api/v1/deployments/{d}/stats"),
        format!("/api/v1/deployments/{d}/watchlist"),
        format!("/api/v1/deployments/{d}/reference-images"),
        format!("/api/v1/deployments/{d}/reference-images/{r}"),
        format!("/api/v1/deployments/{d}/cancellation-report/draft"),
    ] {
        assert_eq!(
            send(&f, get(&path, None)).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    for path in [
        "/api/v1/deployments".to_string(),
        format!("/api/v1/deployments/{d}/transitions"),
        format!("/api/v1/deployments/{d}/watchlist"),
        format!("/api/v1/deployments/{d}/blue-passes"),
        format!("/api/v1/deployments/{d}/assignments"),
        format!("/api/v1/deployments/{d}/cancellation-report"),
    ] {
        assert_eq!(
            send(&f, post(&path, None, "{}".into(), false)).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let silver = login(&f, "silver").await;
    // Without the CSRF header.
    let (st, _, _) = send(
        &f,
        post(
            &format!("/api/v1/deployments/{d}/transitions"),
            Some(&silver),
            json!({"action": "suspend", "reason": "x"}).to_string(),
            false,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for bad in [
        "{".to_string(),
        json!({"action": "explode"}).to_string(),
        json!({"reason": "no action"}).to_string(),
        json!({"action": "suspend", "reason": "x".repeat(20_001)}).to_string(),
    ] {
        let (st, b, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{d}/transitions"),
                Some(&silver),
                bad,
                true,
            ),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
    assert_eq!(
        send(&f, get("/api/v1/deployments/nope", Some(&silver)))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Nothing changed: still Active.
    assert_eq!(
        f.store.deployment(d).await.unwrap().state.as_str(),
        "Active"
    );
}

/// Each read route by each role.
#[tokio::test]
async fn read_routes_by_role() {
    let f = fixture().await;
    let d = &f.deployment;
    let r = &f.reference;
    let table: [(String, &[&str]); 5] = [
        (format!("/api/v1/deployments/{d}"), &EVERYONE),
        (format!("/api/v1/deployments/{d}/stats"), &EVERYONE),
        (
            format!("/api/v1/deployments/{d}/cancellation-report/draft"),
            &["gold"],
        ),
        (
            format!("/api/v1/deployments/{d}/reference-images/{r}"),
            &["compiler", "admin"],
        ),
        (
            format!("/api/v1/deployments/{d}/watchlist"),
            &[
                "silver",
                "gold",
                "operator",
                "engagement",
                "compiler",
                "ao",
                "auditor",
            ],
        ),
    ];
    for who in EVERYONE {
        let s = login(&f, who).await;
        for (path, allowed) in &table {
            let (st, b, _) = send(&f, get(path, Some(&s))).await;
            let expected = if allowed.contains(&who) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                st,
                expected,
                "{who} GET {path}: {}",
                String::from_utf8_lossy(&b)
            );
        }
    }
    // Reading a reference image is audited.
    let audit = f
        .store
        .audit_entries(&f.store.user("auditor").await.unwrap(), 0, 10_000)
        .await
        .unwrap();
    let reads: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "reference.image.read")
        .map(|e| e.actor.as_str())
        .collect();
    assert_eq!(reads, ["admin", "compiler"]);
}

/// Each changing route by each role: only the right people get through.
#[tokio::test]
async fn changing_routes_by_role() {
    let f = fixture().await;
    let d = f.deployment.clone();
    let admin = f.store.user("admin").await.unwrap();
    let r2 = f
        .store
        .add_reference_image(&admin, "VOL-1", "volunteer", b"volunteer jpeg")
        .await
        .unwrap();
    let compiler = f.store.user("compiler").await.unwrap();
    let blue = f
        .store
        .add_watchlist_entry(
            &compiler,
            &d,
            Category::Primary,
            "",
            true,
            std::slice::from_ref(&r2),
        )
        .await
        .unwrap();
    let now = f.store.now();
    // A subject not yet on the Watchlist (one entry per person).
    let admin = f.store.user("admin").await.unwrap();
    let fresh = f
        .store
        .add_reference_image(&admin, "REF-ROLES", "custody", b"reference jpeg")
        .await
        .unwrap();
    for who in EVERYONE {
        let s = login(&f, who).await;
        // Draft an Application.
        let (st, _, _) = send(
            &f,
            post(
                "/api/v1/deployments",
                Some(&s),
                serde_json::to_string(&complete_application("X", 0, 10)).unwrap(),
                true,
            ),
        )
        .await;
        let ok = who == "applicant";
        assert_eq!(st == StatusCode::CREATED, ok, "{who} drafts: {st}");
        assert!(ok || st == StatusCode::FORBIDDEN);
        // Add a Watchlist entry.
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{d}/watchlist"),
                Some(&s),
                json!({"reference_image_ids": [fresh], "category": "Additional", "reason": "wanted"}).to_string(),
                true,
            ),
        )
        .await;
        let ok = who == "compiler";
        assert_eq!(
            st,
            if ok {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            },
            "{who} adds to the Watchlist"
        );
        // Record a Blue Watchlist pass.
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{d}/blue-passes"),
                Some(&s),
                json!({"entry_id": blue.id, "since": now}).to_string(),
                true,
            ),
        )
        .await;
        let ok = ["operator", "silver", "gold"].contains(&who);
        assert_eq!(
            st,
            if ok {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            },
            "{who} records a Blue pass"
        );
        // Assign.
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{d}/assignments"),
                Some(&s),
                json!({"user": "stranger", "role": "EngagementOfficer"}).to_string(),
                true,
            ),
        )
        .await;
        assert_eq!(st == StatusCode::OK, who == "admin", "{who} assigns: {st}");
        // Suspend then resume (the Deployment is Active).
        let (st, _) = step(&f, &s, &d, json!({"action": "suspend", "reason": "test"})).await;
        let ok = ["silver", "gold"].contains(&who);
        assert_eq!(st == StatusCode::OK, ok, "{who} suspends: {st}");
        if ok {
            let (st, _) = step(&f, &s, &d, json!({"action": "resume", "reason": "test"})).await;
            assert_eq!(st, StatusCode::OK);
        }
        // File a Cancellation Report: Gold only, and only once Concluded.
        let (st, _, _) = send(
            &f,
            post(
                &format!("/api/v1/deployments/{d}/cancellation-report"),
                Some(&s),
                serde_json::to_string(&vigil_core::deployment::CancellationReport::default())
                    .unwrap(),
                true,
            ),
        )
        .await;
        let expected = if who == "gold" {
            StatusCode::CONFLICT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(st, expected, "{who} files a report while Active");
    }
    // Three allowed Blue passes, none recognised (no Alert for the volunteer).
    let stats = f.store.deployment_stats(&d).await.unwrap();
    assert_eq!((stats.blue_passes, stats.blue_recognised), (3, 0));
}

#[tokio::test]
async fn blue_watchlist_passes_measure_the_true_recognition_rate() {
    let f = fixture().await;
    let d = f.deployment.clone();
    let admin = f.store.user("admin").await.unwrap();
    let compiler = f.store.user("compiler").await.unwrap();
    let r = f
        .store
        .add_reference_image(&admin, "VOL-1", "volunteer", b"volunteer jpeg")
        .await
        .unwrap();
    let blue = f
        .store
        .add_watchlist_entry(&compiler, &d, Category::Primary, "", true, &[r])
        .await
        .unwrap();
    let operator = login(&f, "operator").await;
    let pass = |since: i64| {
        post(
            &format!("/api/v1/deployments/{d}/blue-passes"),
            Some(&operator),
            json!({"entry_id": blue.id, "since": since}).to_string(),
            true,
        )
    };
    // The volunteer walks past and is recognised.
    let start = f.store.now();
    f.store
        .raise_alert(NewAlert {
            deployment_id: d.clone(),
            camera: "c1".into(),
            watchlist_entry_id: blue.id.clone(),
            score: 0.8,
            first_seen: start,
            quality: "{}".into(),
            probe_image: b"p".to_vec(),
            candidate_image: b"c".to_vec(),
            scene_image: None,
        })
        .await
        .unwrap();
    let (st, b, _) = send(&f, pass(start)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json_of(&b)["recognised"], true);
    // A later pass with no Alert: missed.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, b, _) = send(&f, pass(f.store.now())).await;
    assert_eq!(json_of(&b)["recognised"], false);
    // A pass for a non-Blue entry is refused.
    let plain = f.store.watchlist(&d).await.unwrap()[0].id.clone();
    let (st, _, _) = send(
        &f,
        post(
            &format!("/api/v1/deployments/{d}/blue-passes"),
            Some(&operator),
            json!({"entry_id": plain, "since": 0}).to_string(),
            true,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    let (_, b, _) = send(
        &f,
        get(&format!("/api/v1/deployments/{d}/stats"), Some(&operator)),
    )
    .await;
    let v = json_of(&b);
    assert_eq!(v["stats"]["blue_passes"], 2);
    assert_eq!(v["stats"]["true_recognition_rate"], 0.5);
    let ci = v["true_recognition_rate_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < 0.5 && ci[1].as_f64().unwrap() > 0.5);
    // Volunteers' Alerts are a measurement: not counted as public Alerts.
    assert_eq!(v["stats"]["alerts"], 1);
}

#[tokio::test]
async fn watchlist_shows_quality_verdicts_and_expected_alert_load() {
    let mut f = fixture().await;
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    /// Counts its calls; passes images over 100 bytes.
    struct CountingJudge(Arc<std::sync::atomic::AtomicUsize>);
    impl ReferenceJudge for CountingJudge {
        fn judge_reference(&self, image: &[u8]) -> ReferenceVerdict {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ReferenceVerdict {
                passed: image.len() > 100,
                faces: 1,
                reasons: vec!["too small".into()],
                quality: None,
            }
        }
    }
    let calibration = common::calibration();
    let state = AppState::new(f.store.clone(), Duration::from_secs(60))
        .with_judge(Arc::new(CountingJudge(c)))
        .with_calibration(calibration.clone());
    f.app = router(state);
    let compiler = login(&f, "compiler").await;
    let d = &f.deployment;
    for _ in 0..2 {
        let (st, b, _) = send(
            &f,
            get(
                &format!("/api/v1/deployments/{d}/reference-images"),
                Some(&compiler),
            ),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let v = json_of(&b);
        assert_eq!(v["total"], 1);
        assert_eq!(v["images"][0]["image"]["subject_ref"], "REF-1");
        assert_eq!(v["images"][0]["quality"]["passed"], false);
    }
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "verdicts are cached"
    );
    let (st, b, _) = send(
        &f,
        get(
            &format!("/api/v1/deployments/{d}/watchlist?passers_by=50000"),
            Some(&compiler),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let v = json_of(&b);
    assert_eq!(v["images"], 1);
    assert_eq!(v["threshold"], 0.5);
    let expected = v["expected_load"]["expected_false_alerts"]
        .as_f64()
        .unwrap();
    // One comparison per passer-by at the calibrated rate for 0.5.
    let fmr = calibration.false_match_rate(0.5).0;
    assert!(fmr > 0.0 && fmr < 1e-2, "{fmr}");
    assert!((expected - 50_000.0 * fmr).abs() < 1e-6, "{expected}");
    assert!(!b.windows(5).any(|w| w == b"jpeg "), "no image bytes");

    // A second subject with two images: LFR enrols each entry once (the
    // mean template), so a passer-by meets two comparisons, not three.
    let admin = common::user(
        "admin",
        vigil_core::access::Rank::Staff,
        &[vigil_core::access::Role::Administrator],
    );
    let compiler_user = common::user("compiler", vigil_core::access::Rank::Staff, &[]);
    let mut refs = Vec::new();
    for i in 0..2 {
        refs.push(
            f.store
                .add_reference_image(
                    &admin,
                    "REF-2",
                    "custody",
                    format!("second subject jpeg {i}").as_bytes(),
                )
                .await
                .unwrap(),
        );
    }
    f.store
        .add_watchlist_entry(
            &compiler_user,
            d,
            vigil_core::watchlist::Category::Primary,
            "wanted",
            false,
            &refs,
        )
        .await
        .unwrap();
    let (_, b, _) = send(
        &f,
        get(
            &format!("/api/v1/deployments/{d}/watchlist?passers_by=50000"),
            Some(&compiler),
        ),
    )
    .await;
    let v = json_of(&b);
    assert_eq!(v["images"], 3);
    assert_eq!(v["expected_load"]["comparisons_per_passer_by"], 2);
    let expected = v["expected_load"]["expected_false_alerts"]
        .as_f64()
        .unwrap();
    let two = 50_000.0 * (1.0 - (1.0 - fmr).powi(2));
    assert!((expected - two).abs() < 1e-6, "{expected} vs {two}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_tls_when_given_a_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    install_crypto();
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = f.app.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        vigil_server::tls::serve_tls(app, addr, &cert_path, &key_path, async {
            stopped.await.ok();
        })
        .await
    });
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tcp = None;
    for _ in 0..50 {
        if let Ok(t) = tokio::net::TcpStream::connect(addr).await {
            tcp = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp.unwrap()).await.unwrap();
    tls.write_all(
        b"GET /api/v1/public/records HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.ok();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // Plain HTTP on the TLS port gets no page.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /public HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn threshold_advice_comes_from_the_installed_calibration() {
    let mut f = fixture().await;
    let path = "/api/v1/calibration/threshold?far=0.001&watchlist_size=100";
    let s = login(&f, "ao").await;
    // Without a calibration: a clear 404.
    let (st, b, _) = send(&f, get(path, Some(&s))).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&b));
    let calibration = common::calibration();
    let state = AppState::new(f.store.clone(), Duration::from_secs(60))
        .with_calibration(calibration.clone());
    f.app = router(state);
    let s = login(&f, "ao").await;
    assert_eq!(send(&f, get(path, None)).await.0, StatusCode::UNAUTHORIZED);
    let (st, b, _) = send(&f, get(path, Some(&s))).await;
    assert_eq!(st, StatusCode::OK);
    let t = json_of(&b)["advice"]["threshold"].as_f64().unwrap();
    let want = calibration.threshold_for(0.001, 100).unwrap().threshold;
    assert!((t - want).abs() < 1e-9, "{t} vs {want}");
    assert_eq!(json_of(&b)["pack"], vigil_vision::DEFAULT_RECOGNISER);
    for bad in [
        "/api/v1/calibration/threshold?far=2&watchlist_size=10",
        "/api/v1/calibration/threshold?far=0.001",
        "/api/v1/calibration/threshold?far=x&watchlist_size=10",
    ] {
        assert_eq!(
            send(&f, get(bad, Some(&s))).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}
