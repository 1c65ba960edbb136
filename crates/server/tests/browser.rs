//! The console in a real browser (Debian's Chromium, headless, driven over
//! WebDriver by chromedriver): an Operator logs in, sees an Alert arrive by
//! Server-Sent Events with its Probe and Candidate images, adjudicates it
//! from the keyboard, and the audit log records both the image views and
//! the decision.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{ClientBuilder, Locator};
use vigil_server::{router, AppState};
use vigil_store::alerts::NewAlert;

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

use vigil_testkit::sample;

/// A headless Chromium driven by chromedriver; both end with the value.
struct Browser {
    c: fantoccini::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Self {
        Self::start_sized(1280, 900).await
    }

    async fn start_sized(width: u32, height: u32) -> Self {
        install_crypto();
        let port = free_port();
        let driver = Driver(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (Debian chromium-driver; scripts/setup.sh installs it)"),
        );
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        let mut options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", format!("--window-size={width},{height}"),
                     format!("--user-data-dir={}", profile.path().display())]
        });
        // A window narrower than headless Chromium's minimum (500 px) is a
        // phone: emulate its viewport exactly.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true}
            });
        }
        caps.insert("goog:chromeOptions".into(), options);
        for _ in 0..50 {
            if let Ok(c) = ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                return Self {
                    c,
                    _driver: driver,
                    _profile: profile,
                };
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no WebDriver session");
    }

    /// Logs in through the login page (replacing any earlier session).
    async fn log_in(&self, base: &str, user: &str) {
        let c = &self.c;
        c.goto(&format!("{base}/login")).await.unwrap();
        c.find(Locator::Id("user"))
            .await
            .unwrap()
            .send_keys(user)
            .await
            .unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Id("login"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let me = self.wait_for(Locator::Id("me")).await;
        assert_eq!(me.text().await.unwrap(), user);
    }

    async fn wait_for(&self, l: Locator<'_>) -> fantoccini::elements::Element {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.c.wait().at_most(left).for_element(l).await {
                Ok(e) => return e,
                // Asked while the page was navigating (after a form saves,
                // say): look again on the page that loads.
                Err(e)
                    if e.to_string().contains("aborted by navigation")
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{l:?}: {e}"),
            }
        }
    }

    async fn click(&self, id: &str) {
        self.wait_for(Locator::Id(id))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {id}: {e}"));
    }

    async fn type_into(&self, id: &str, text: &str) {
        let el = self.wait_for(Locator::Id(id)).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("VIGIL_SCREENSHOT_DIR") {
            std::fs::write(
                std::path::Path::new(&dir).join(name),
                self.c.screenshot().await.unwrap(),
            )
            .unwrap();
        }
    }
}

async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    base
}

/// The Alert image views in the audit log, as (actor, Alert id, which).
async fn image_views(f: &Fixture) -> Vec<(String, String, String)> {
    let auditor = f.store.user("auditor").await.unwrap();
    f.store
        .audit_entries(&auditor, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "alert.image.view")
        .map(|e| (e.actor, e.target, e.detail))
        .collect()
}

/// Runs `js` (an expression) until it returns `want`, for up to 15 s.
async fn until(c: &fantoccini::Client, js: &str, want: serde_json::Value) {
    let mut got = serde_json::Value::Null;
    for _ in 0..150 {
        got = c.execute(&format!("return {js}"), vec![]).await.unwrap();
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{js}: {got} (wanted {want})");
}

/// The van console under time pressure: the queue shows text only, so the
/// audit records the faces an Operator actually opened; a new Alert cues
/// (flash, sound, a line for screen readers) without moving what the
/// Operator is deciding; a decision waits 5 s and can be undone; the scene
/// frame comes on demand; a camera down or Suspended is a banner; the
/// False Alert Rate warning waits for evidence (Wilson lower bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_sees_an_alert_arrive_and_adjudicates_it_from_the_keyboard() {
    let f = fixture_with_images(sample("obama_3.jpg"), sample("obama_1.jpg")).await;
    let base = serve(AppState::new(f.store.clone(), Duration::from_secs(600))).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "operator").await;
    // A worker (any process) runs the camera and reports its health
    // through its lease, as `vigil worker` does every second.
    assert!(f
        .store
        .claim_camera("van-1:4242:ab", &f.camera, &f.deployment, 60_000)
        .await
        .unwrap());
    let report = |state: &str, analysis: &str| {
        serde_json::json!({"camera": "north", "state": state, "analysis": analysis,
            "processed_fps": 9.5, "frames_in": 123, "frames_processed": 120, "frames_dropped": 3,
            "frames_paused": 0, "reconnects": 1, "faces": 2, "passers_by": 1, "alerts": 1,
            "p95_recognition_time_ms": 180.0, "last_error": if state == "Streaming" { None } else { Some("connection refused") },
            "watchlist": {"live": 1, "not_live": [{"entry": "e-9", "subject": "REF-9", "reason": "no face found"}]}})
    };
    let renew = |state: &'static str, analysis: &'static str| {
        let f = &f;
        async move {
            f.store
                .renew_camera(
                    "van-1:4242:ab",
                    &f.camera,
                    60_000,
                    Some(&report(state, analysis)),
                )
                .await
                .unwrap()
        }
    };
    renew("Streaming", "Active").await;

    c.goto(&format!(
        "{base}/console/deployments/{}/operator",
        f.deployment
    ))
    .await
    .unwrap();
    // The live camera panel, refreshed without a reload; no banner while
    // the camera streams.
    b.wait_for(Locator::XPath(
        "//tr[@data-camera='north']/td[@class='cam-state' and .='Streaming']",
    ))
    .await;
    b.wait_for(Locator::Css("body[data-live='1']")).await;
    until(c, "document.getElementById('banner').hidden", true.into()).await;
    // Which Watchlist entries the camera matches, and which not and why.
    let line = b
        .wait_for(Locator::Css(".watchlist-live"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        line.contains("1 entry live") && line.contains("REF-9 (no face found)"),
        "{line}"
    );
    b.wait_for(Locator::Id(&format!("a-{}", f.alert))).await;
    // The heading names the Deployment by its title.
    let h1 = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let title = f
        .store
        .deployment(&f.deployment)
        .await
        .unwrap()
        .application
        .title;
    assert_eq!(h1, format!("Alerts: {title}"));
    // Nothing is open, so no face was fetched.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(image_views(&f).await.is_empty(), "faces fetched unasked");
    assert_eq!(
        c.find_all(Locator::Css("#queue img")).await.unwrap().len(),
        0,
        "the queue holds no images"
    );

    // The Operator opens the Alert: its two face crops load, side by side.
    c.find(Locator::Id(&format!("a-{}", f.alert)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "['probe-img','candidate-img'].every(i=>document.getElementById(i).naturalWidth>0)",
        true.into(),
    )
    .await;
    let info = c
        .find(Locator::Id("info"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let camera = f
        .store
        .alert(&f.store.user("operator").await.unwrap(), &f.alert)
        .await
        .unwrap()
        .camera;
    assert!(
        info.contains("passed the Threshold 0.500") && info.contains(&format!("Camera {camera}")),
        "{info}"
    );
    let views = image_views(&f).await;
    let mut opened: Vec<_> = views.iter().map(|v| v.2.as_str()).collect();
    opened.sort();
    assert_eq!(opened, ["candidate", "probe"], "{views:?}");
    assert!(views.iter().all(|v| v.0 == "operator" && v.1 == f.alert));

    // A new Alert arrives (with its scene frame): a cue, an announcement,
    // and the Operator's open Alert stays open.
    let entry = f.store.watchlist(&f.deployment).await.unwrap()[0]
        .id
        .clone();
    let raise = |score: f64| {
        let (f, entry) = (&f, entry.clone());
        async move {
            f.store
                .raise_alert(NewAlert {
                    deployment_id: f.deployment.clone(),
                    camera: "north".into(),
                    watchlist_entry_id: entry,
                    score,
                    first_seen: f.store.now() - 120,
                    quality: "{}".into(),
                    probe_image: sample("obama_4.jpg"),
                    candidate_image: sample("obama_1.jpg"),
                    scene_image: Some(sample("solvay_1927.jpg")),
                })
                .await
                .unwrap()
        }
    };
    let new = raise(0.77).await;
    b.wait_for(Locator::Id(&format!("a-{}", new.id))).await;
    until(c, "document.body.dataset.cues", "1".into()).await;
    let announced = c
        .find(Locator::Css("#announce[aria-live='assertive']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        announced.contains("New Alert") && announced.contains("north"),
        "{announced}"
    );
    until(
        c,
        "document.querySelector('#queue-box').classList.contains('flash')",
        true.into(),
    )
    .await;
    b.screenshot("console-operator.png").await;
    until(
        c,
        "document.getElementById('open').dataset.id",
        f.alert.as_str().into(),
    )
    .await;
    // Pending Alerts come first, newest on top.
    let order = c
        .execute(
            "return [...document.querySelectorAll('#queue .card')].map(c=>c.dataset.id)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(order, serde_json::json!([new.id, f.alert]));

    let body = c.find(Locator::Css("body")).await.unwrap();
    // "f" on it waits 5 s and "u" takes it back: nothing is recorded.
    body.send_keys("f").await.unwrap();
    b.wait_for(Locator::XPath(
        "//div[@id='pending' and contains(., 'False Alert in')]",
    ))
    .await;
    body.send_keys("u").await.unwrap();
    until(
        c,
        "document.getElementById('pending').textContent",
        "".into(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let operator = f.store.user("operator").await.unwrap();
    let old = f.store.alert(&operator, &f.alert).await.unwrap();
    assert_eq!(
        old.state,
        vigil_core::alert::AlertState::Raised,
        "undone decision was recorded"
    );
    // The new Alert's faces were never fetched: it was never opened.
    assert!(!image_views(&f).await.iter().any(|v| v.1 == new.id));

    // Mouse: open the new Alert; an Operator gets buttons for their
    // decisions only; the scene frame on demand ("s"); "e" engages it.
    c.find(Locator::Id(&format!("a-{}", new.id)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "document.getElementById('open').dataset.id",
        new.id.as_str().into(),
    )
    .await;
    let buttons = c
        .execute(
            "return [...document.querySelectorAll('#decide button.decision')].map(b=>b.dataset.decision)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(buttons, serde_json::json!(["FalseAlert", "Engage"]));
    let keys = c
        .find(Locator::Id("keys-help"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        keys.contains("f False Alert") && keys.contains("e Engage"),
        "{keys}"
    );
    body.send_keys("s").await.unwrap();
    until(
        c,
        "document.getElementById('scene-img').naturalWidth>0",
        true.into(),
    )
    .await;
    assert!(image_views(&f)
        .await
        .iter()
        .any(|v| v.1 == new.id && v.2 == "scene" && v.0 == "operator"));
    c.find(Locator::Css("#decide button[data-decision='Engage']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "document.getElementById('open-state')?.textContent",
        "Engaged".into(),
    )
    .await;
    // Engaged still awaits its outcome: not dimmed.
    until(
        c,
        &format!(
            "document.getElementById('a-{}').classList.contains('decided')",
            new.id
        ),
        false.into(),
    )
    .await;

    // A camera down is a banner at the top; so is Suspended.
    renew("Reconnecting", "Active").await;
    until(
        c,
        "document.getElementById('banner').dataset.kind",
        "camera-down".into(),
    )
    .await;
    let banner = c
        .find(Locator::Id("banner"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        banner.contains("north") && banner.contains("connection refused"),
        "{banner}"
    );
    let silver = f.store.user("silver").await.unwrap();
    f.store
        .act(&f.deployment, &silver, |d, roles, now| {
            d.suspend(&silver, roles, "crowd surge", now)
        })
        .await
        .unwrap();
    until(
        c,
        "document.getElementById('banner').dataset.kind",
        "suspended".into(),
    )
    .await;
    let banner = c
        .find(Locator::Id("banner"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(banner.starts_with("Suspended"), "{banner}");
    f.store
        .act(&f.deployment, &silver, |d, roles, now| {
            d.resume(&silver, roles, "crowd eased", now)
        })
        .await
        .unwrap();
    renew("Streaming", "Active").await;
    until(c, "document.getElementById('banner').hidden", true.into()).await;

    // The False Alert Rate warning waits for evidence: one False Alert
    // among 300 passers-by (0.33 %, but a 95 % interval reaching down to
    // 0.06 %) is not yet; two are (lower end 0.18 %).
    f.store
        .record_passers_by(&f.deployment, 300, 0, 0)
        .await
        .unwrap();
    f.store
        .adjudicate(
            &operator,
            &f.alert,
            vigil_core::alert::Decision::FalseAlert,
            "",
        )
        .await
        .unwrap();
    b.wait_for(Locator::XPath(
        "//div[@id='rates' and contains(., '300 passers-by')]",
    ))
    .await;
    // A decided Alert is dimmed and goes below the pending ones.
    until(
        c,
        &format!(
            "document.getElementById('a-{}').classList.contains('decided')",
            f.alert
        ),
        true.into(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        c.find(Locator::Css("#far-warning"))
            .await
            .unwrap()
            .attr("hidden")
            .await
            .unwrap()
            .is_some(),
        "warned on one False Alert"
    );
    let third = raise(0.6).await;
    f.store
        .adjudicate(
            &operator,
            &third.id,
            vigil_core::alert::Decision::FalseAlert,
            "",
        )
        .await
        .unwrap();
    let warning = b.wait_for(Locator::Css("#far-warning:not([hidden])")).await;
    let text = warning.text().await.unwrap();
    assert!(
        text.contains("above 1 in 1000") && text.contains("95 % CI"),
        "{text}"
    );

    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 1000).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "alert.adjudicate" && e.actor == "operator" && e.target == new.id));
    // The third Alert was never opened: no view of it.
    assert!(!image_views(&f).await.iter().any(|v| v.1 == third.id));

    // An Engagement Officer is shown only the keys they may use: no False
    // Alert, no Engage (those are the Operator's).
    b.log_in(&base, "engagement").await;
    c.goto(&format!(
        "{base}/console/deployments/{}/operator",
        f.deployment
    ))
    .await
    .unwrap();
    b.wait_for(Locator::Css("body[data-live='1']")).await;
    let keys = c
        .find(Locator::Id("keys-help"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        keys.contains("t Confirmed True")
            && !keys.contains("False Alert")
            && !keys.contains("Engage"),
        "{keys}"
    );
}

/// The face engine (detection only) from the model cache judging
/// reference images for the Watchlist page, and the installed calibration,
/// as `vigil serve` plugs them in.
fn with_engine(state: AppState) -> AppState {
    state
        .with_judge(std::sync::Arc::new(vigil_testkit::detector()))
        .with_calibration(common::calibration())
}

async fn wait_state(b: &Browser, state: &str) {
    b.wait_for(Locator::Css(&format!("body[data-state='{state}']")))
        .await;
}

/// Applicant, NPCC officer, Authorising Officer, Administrator, Watchlist
/// compiler and Silver each do their part of a Deployment in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commanders_run_a_deployment_and_compile_its_watchlist_in_the_console() {
    let f = fixture().await;
    let admin = f.store.user("admin").await.unwrap();
    for (subject, file) in [
        ("REF-PORTRAIT", "obama_1.jpg"),
        ("REF-GROUP", "solvay_1927.jpg"),
    ] {
        f.store
            .add_reference_image(&admin, subject, "custody", &sample(file))
            .await
            .unwrap();
    }
    let base = serve(with_engine(AppState::new(
        f.store.clone(),
        Duration::from_secs(600),
    )))
    .await;
    let b = Browser::start().await;
    let c = &b.c;

    // The Applicant drafts and submits.
    b.log_in(&base, "applicant").await;
    b.click("new-application").await;
    b.wait_for(Locator::Id("app")).await;
    c.execute(
        "for (const el of document.getElementById('app').elements) {
           if (!el.name) continue;
           if (el.type === 'datetime-local') el.value = el.name === 'starts_at' ? '2030-05-01T10:00' : '2030-05-01T18:00';
           else el.value = 'Filled in for ' + el.name;
         }
         document.querySelector('[name=title]').value = 'Cup final';",
        vec![],
    )
    .await
    .unwrap();
    b.click("save").await;
    wait_state(&b, "Draft").await;
    let dep = c
        .execute("return document.getElementById('dep').textContent", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    // The page is headed by the Deployment's title, not its id.
    let h1 = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(h1, "Cup final");
    // Submit records no reason, so its panel asks for none (nothing typed
    // is dropped).
    b.click("do-submit").await;
    assert!(c
        .find(Locator::Id("reason-box"))
        .await
        .unwrap()
        .attr("hidden")
        .await
        .unwrap()
        .is_some());
    b.click("step-go").await;
    wait_state(&b, "Submitted").await;

    // The NPCC officer records the consultation.
    b.log_in(&base, "npcc").await;
    c.goto(&format!("{base}/console/deployments/{dep}"))
        .await
        .unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    b.click("do-consult").await;
    b.type_into("reason", "No concerns from the NPCC lead")
        .await;
    b.click("step-go").await;
    wait_state(&b, "Consulted").await;
    // The state as people say it.
    let shown = c
        .find(Locator::Id("state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, "Consulted (no veto)");

    // The Authorising Officer writes the authority.
    b.log_in(&base, "ao").await;
    c.goto(&format!("{base}/console/deployments/{dep}"))
        .await
        .unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    // The form opens at the calibrated suggestion (FAR 1e-3, 100 entries),
    // with the worst demographic group's expected rate beside it.
    b.wait_for(Locator::XPath(
        "//span[@id='advice' and contains(., 'per-comparison FMR') and contains(., 'Worst demographic group')]",
    ))
    .await;
    let opened: f32 = c
        .execute(
            "return document.getElementById('wa-threshold').value",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let shipped = common::calibration()
        .threshold_for(1e-3, 100)
        .unwrap()
        .threshold as f32;
    assert!((opened - shipped).abs() < 1e-3, "{opened} vs {shipped}");
    b.type_into("wa-reasoning", "Necessary for the final; proportionate")
        .await;
    b.type_into("wa-alternatives", "More patrols").await;
    b.type_into("wa-far", "0.001").await;
    b.type_into("wa-size", "100").await;
    b.click("suggest").await;
    b.wait_for(Locator::XPath(
        "//span[@id='advice' and contains(., 'per-comparison FMR')]",
    ))
    .await;
    let suggested: f32 = c
        .execute(
            "return document.getElementById('wa-threshold').value",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    b.click("do-authorise").await;
    b.click("step-go").await;
    wait_state(&b, "Authorised").await;

    // The Administrator assigns Silver and the compiler.
    b.log_in(&base, "admin").await;
    c.goto(&format!("{base}/console/deployments/{dep}"))
        .await
        .unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    for (user, role) in [("silver", "Silver"), ("compiler", "WatchlistCompiler")] {
        // Picked from the list of people, not typed.
        b.wait_for(Locator::Css(&format!("#as-user option[value='{user}']")))
            .await;
        c.find(Locator::Id("as-user"))
            .await
            .unwrap()
            .select_by_value(user)
            .await
            .unwrap();
        c.execute(
            "document.getElementById('as-role').value = arguments[0]",
            vec![serde_json::json!(role)],
        )
        .await
        .unwrap();
        b.click("assign").await;
        b.wait_for(Locator::XPath(&format!(
            "//div[@id='assignments' and contains(., '{user} as {role}')]"
        )))
        .await;
    }

    // The compiler sees each reference image's verdict and adds one.
    b.log_in(&base, "compiler").await;
    c.goto(&format!("{base}/console/deployments/{dep}/watchlist"))
        .await
        .unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    let refs = f.store.reference_images(&admin, &dep).await.unwrap();
    let id_of = |s: &str| refs.iter().find(|r| r.subject_ref == s).unwrap().id.clone();
    let portrait = b
        .wait_for(Locator::Css(&format!(
            ".ref[data-id='{}']",
            id_of("REF-PORTRAIT")
        )))
        .await;
    assert!(portrait.text().await.unwrap().contains("usable"));
    let group = b
        .wait_for(Locator::Css(&format!(
            ".ref[data-id='{}']",
            id_of("REF-GROUP")
        )))
        .await;
    let verdict = group.text().await.unwrap();
    assert!(
        verdict.contains("unsuitable") && verdict.contains("one person"),
        "{verdict}"
    );
    b.wait_for(Locator::Css(&format!(
        "input.pick[value='{}']",
        id_of("REF-PORTRAIT")
    )))
    .await
    .click()
    .await
    .unwrap();
    b.type_into("why", "Wanted on warrant").await;
    b.click("add").await;
    b.wait_for(Locator::XPath(
        "//tbody[@id='entries']/tr[contains(., 'REF-PORTRAIT')]",
    ))
    .await;
    // The same person twice is refused.
    b.wait_for(Locator::Css(&format!(
        "input.pick[value='{}']",
        id_of("REF-PORTRAIT")
    )))
    .await
    .click()
    .await
    .unwrap();
    b.click("add").await;
    b.wait_for(Locator::XPath(
        "//p[@id='msg' and contains(., 'already on this Watchlist')]",
    ))
    .await;
    c.execute(
        "document.querySelectorAll('input.pick').forEach(c=>c.checked=false)",
        vec![],
    )
    .await
    .unwrap();
    // The reference store is searched by reference (and paged).
    b.type_into("ref-q", "REF-G").await;
    b.click("ref-go").await;
    until(
        c,
        "[...document.querySelectorAll('#refs .ref b')].map(b=>b.textContent).join(',')",
        "REF-GROUP".into(),
    )
    .await;
    let count = c
        .find(Locator::Id("ref-count"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count, "1–1 of 1");
    // An unsuitable image is refused until the compiler gives a reason;
    // then it is enrolled, with the override shown and recorded.
    b.wait_for(Locator::Css(&format!(
        "input.pick[value='{}']",
        id_of("REF-GROUP")
    )))
    .await
    .click()
    .await
    .unwrap();
    b.click("add").await;
    b.wait_for(Locator::Css("#override-box:not([hidden])"))
        .await;
    b.type_into("override", "the only image held of this person")
        .await;
    b.click("add").await;
    b.wait_for(Locator::XPath(
        "//tbody[@id='entries']/tr[contains(., 'REF-GROUP') and contains(., 'enrolled by override')]",
    ))
    .await;
    b.screenshot("console-watchlist.png").await;

    // Silver activates.
    b.log_in(&base, "silver").await;
    c.goto(&format!("{base}/console/deployments/{dep}"))
        .await
        .unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    // Activation warns: no camera named, and before the authorised start.
    b.click("do-activate").await;
    let warnings = b
        .wait_for(Locator::Css("#step-warnings:not([hidden])"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        warnings.contains("No camera is named") && warnings.contains("before the authorised start"),
        "{warnings}"
    );
    let go = c
        .find(Locator::Id("step-go"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(go, "Activate despite the warnings");
    b.click("step-go").await;
    wait_state(&b, "Active").await;
    // Terminate cannot be undone: its button waits for a confirmation.
    b.click("do-terminate").await;
    b.type_into("reason", "testing the confirmation").await;
    let go = c.find(Locator::Id("step-go")).await.unwrap();
    assert!(
        !go.is_enabled().await.unwrap(),
        "terminate without confirming"
    );
    b.click("step-cancel").await;
    b.screenshot("console-deployment.png").await;

    let d = f.store.deployment(&dep).await.unwrap();
    assert_eq!(d.application.title, "Cup final");
    let wad = d.authority.as_ref().unwrap();
    assert!((wad.threshold - suggested).abs() < 1e-6);
    assert!(suggested > 0.3 && suggested <= 1.0, "{suggested}");
    assert_eq!(wad.target_false_alert_rate, Some(0.001));
    let actors: Vec<_> = d.log.iter().map(|l| l.actor.as_str()).collect();
    assert_eq!(
        actors,
        [
            "applicant",
            "applicant",
            "npcc",
            "ao",
            "admin",
            "admin",
            "silver"
        ],
        "the assignments are in the log too: {:?}",
        d.log
    );
    let wl = f.store.watchlist(&dep).await.unwrap();
    assert_eq!(wl.len(), 2);
    assert_eq!(wl[0].subject_ref, "REF-PORTRAIT");
    assert_eq!(wl[0].quality_override, None);
    assert_eq!(
        wl[1].quality_override.as_deref(),
        Some("the only image held of this person")
    );
}

/// An Operator of one Deployment cannot open another Deployment's Alert
/// image, by link or by page, and the attempt is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_another_deployment_cannot_open_an_alert_image() {
    let f = fixture_with_images(sample("obama_3.jpg"), sample("obama_1.jpg")).await;
    let (applicant, npcc, admin) = (
        f.store.user("applicant").await.unwrap(),
        f.store.user("npcc").await.unwrap(),
        f.store.user("admin").await.unwrap(),
    );
    // A second Deployment, with "stranger" as its Operator.
    let other = f
        .store
        .create_deployment(
            &applicant,
            vigil_core::fixtures::complete_application("Elsewhere", 0, i64::MAX / 2),
        )
        .await
        .unwrap();
    f.store
        .act(&other.id, &applicant, |d, _, now| d.submit(&applicant, now))
        .await
        .unwrap();
    f.store
        .act(&other.id, &npcc, |d, _, now| {
            d.consult(&npcc, false, "ok", now)
        })
        .await
        .unwrap();
    f.store
        .assign(
            &admin,
            &other.id,
            "stranger",
            vigil_core::access::Role::Operator,
        )
        .await
        .unwrap();
    let base = serve(AppState::new(f.store.clone(), Duration::from_secs(600))).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "stranger").await;

    c.goto(&format!("{base}/api/v1/alerts/{}/images/probe", f.alert))
        .await
        .unwrap();
    let body = b.wait_for(Locator::Css("body")).await.text().await.unwrap();
    assert!(body.contains("forbidden"), "{body}");
    assert!(!body.contains("JFIF"));
    // The image as the page would load it: not decodable (no bytes).
    let width = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; const i = new Image();
             i.onload = () => done(i.naturalWidth); i.onerror = () => done(-1);
             i.src = arguments[0];",
            vec![serde_json::json!(format!(
                "/api/v1/alerts/{}/images/candidate",
                f.alert
            ))],
        )
        .await
        .unwrap();
    assert_eq!(width, serde_json::json!(-1));
    c.goto(&format!(
        "{base}/console/deployments/{}/operator",
        f.deployment
    ))
    .await
    .unwrap();
    b.wait_for(Locator::Id("refused")).await;
    assert!(
        c.find(Locator::Css("img")).await.is_err(),
        "no images on the refusal page"
    );

    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 1000).await.unwrap();
    let denied: Vec<_> = log
        .iter()
        .filter(|e| e.action == "alert.image.denied" && e.actor == "stranger")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(denied, ["probe", "candidate"]);
    assert!(!log
        .iter()
        .any(|e| e.action == "alert.image.view" && e.actor == "stranger"));
}

/// An Investigator on the search page: uploads a photo with a case
/// reference and reason, sees the planted custody image ranked first, and
/// records a review; an Operator is refused the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigator_searches_a_photo_and_reviews_the_first_candidate() {
    let f = fixture().await;
    let base = serve(common::search::search_state(&f, 10_000).await).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "investigator").await;
    c.goto(&format!("{base}/console/search")).await.unwrap();
    b.type_into("case_ref", "OP-HERON/2026/7").await;
    b.type_into("reason", "street robbery; victim's phone photo")
        .await;
    b.wait_for(Locator::Id("media"))
        .await
        .send_keys(
            &common::search::sample_path("obama_2.jpg")
                .display()
                .to_string(),
        )
        .await
        .unwrap();
    b.click("go").await;
    let first = b.wait_for(Locator::Css(".cand[data-rank='1']")).await;
    let subject = first.find(Locator::Css(".subject")).await.unwrap();
    assert_eq!(subject.text().await.unwrap(), "CUSTODY-OBAMA");
    first
        .find(Locator::Css(".note"))
        .await
        .unwrap()
        .send_keys("same ear shape; check custody record")
        .await
        .unwrap();
    first
        .find(Locator::Css(".possible"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//div[@data-rank='1']/div[@class='verdict'][text()='possible match']",
        ))
        .await
        .unwrap();
    // Rank 2 is below the search's Threshold: "possible match" first asks
    // why, and the reason goes to the audit log.
    let second = b.wait_for(Locator::Css(".cand.below[data-rank='2']")).await;
    second
        .find(Locator::Css(".possible"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let why = second.find(Locator::Css(".why")).await.unwrap();
    assert!(why.is_displayed().await.unwrap());
    why.send_keys("same scar above the left eye").await.unwrap();
    second
        .find(Locator::Css(".possible"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//div[@data-rank='2']/div[@class='verdict'][text()='possible match']",
        ))
        .await
        .unwrap();
    let threshold = c
        .find(Locator::Id("threshold"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(threshold.starts_with("Threshold 0."), "{threshold}");
    // The search is listed under "My searches".
    b.wait_for(Locator::XPath(
        "//ul[@id='mine']/li/a[text()='OP-HERON/2026/7']",
    ))
    .await;
    b.screenshot("console-search.png").await;
    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 10_000).await.unwrap();
    assert!(log.iter().any(|e| e.action == "search.review"
        && e.detail
            .contains("rank 2: possible_match below the Threshold, override: same scar")));
    for action in [
        "search.run",
        "search.probe.read",
        "search.candidate.read",
        "search.review",
    ] {
        assert!(
            log.iter()
                .any(|e| e.actor == "investigator" && e.action == action),
            "{action}"
        );
    }

    b.log_in(&base, "operator").await;
    c.goto(&format!("{base}/console/search")).await.unwrap();
    b.wait_for(Locator::Id("refused")).await;
}

/// Security finding 1: a crafted Deployment id in the Watchlist page's URL
/// ran script with no click and adjudicated an Alert with the page's CSRF
/// token. In Chromium now: the crafted URL is a 404 that runs nothing, and
/// markup stored in a Deployment's title is shown as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_markup_stays_inert_in_the_browser() {
    let f = fixture().await;
    let applicant = f.store.user("applicant").await.unwrap();
    let mut app = vigil_core::fixtures::complete_application("x", 0, i64::MAX / 2);
    app.title = "<img src=x onerror=\"window.__xss='stored'\">Night market".into();
    f.store.create_deployment(&applicant, app).await.unwrap();
    let base = serve(AppState::new(f.store.clone(), Duration::from_secs(600))).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "operator").await;
    let xss = || async {
        c.execute(
            "return window.__xss === undefined ? null : String(window.__xss)",
            vec![],
        )
        .await
        .unwrap()
    };
    assert_eq!(
        xss().await,
        serde_json::Value::Null,
        "the home page ran injected script"
    );
    let shown = c
        .find(Locator::Css("tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains("<img src=x"),
        "the title is shown as text: {shown}"
    );
    c.goto(&format!(
        "{base}/console/deployments/x'%20tabindex%3D1%20autofocus%20onfocus%3D'window.__xss%3D%22reflected%22/watchlist"
    ))
    .await
    .unwrap();
    b.wait_for(Locator::Id("not-found")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        xss().await,
        serde_json::Value::Null,
        "the crafted URL ran script"
    );
    // The Alert the old payload adjudicated is still Raised.
    let op = f.store.user("operator").await.unwrap();
    let a = f.store.alert(&op, &f.alert).await.unwrap();
    assert_eq!(a.state, vigil_core::alert::AlertState::Raised);
}

/// Issue 13: the Administrator adds a person on the People page (the
/// one-time password is shown once), disables another with a reason, and
/// picks people for a Deployment from a list; the new person's first login
/// makes them choose their own password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_manages_people_and_picks_assignments_from_a_list() {
    let f = fixture().await;
    let base = serve(AppState::new(f.store.clone(), Duration::from_secs(600))).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "admin").await;
    c.goto(&format!("{base}/console/users")).await.unwrap();
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    b.wait_for(Locator::Css("#accounts tr[data-id='stranger']"))
        .await;
    b.type_into("nu-id", "pc-new").await;
    b.type_into("nu-name", "PC New").await;
    c.find(Locator::Id("nu-rank"))
        .await
        .unwrap()
        .select_by_value("Constable")
        .await
        .unwrap();
    b.type_into("nu-reason", "joined the team").await;
    b.click("nu-add").await;
    b.wait_for(Locator::Css("#otp-box:not([hidden])")).await;
    let otp = c
        .find(Locator::Id("otp"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(otp.len(), 23, "{otp}");
    b.wait_for(Locator::Css("#accounts tr[data-id='pc-new']"))
        .await;
    // Change the new person's rank, with a reason.
    c.find(Locator::Css("#accounts tr[data-id='pc-new'] button.edit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(Locator::Css("#edit-box:not([hidden])")).await;
    c.find(Locator::Id("ed-rank"))
        .await
        .unwrap()
        .select_by_value("Sergeant")
        .await
        .unwrap();
    b.type_into("ed-reason", "promoted").await;
    b.click("ed-save").await;
    b.wait_for(Locator::XPath(
        "//tr[@data-id='pc-new' and contains(., 'Sergeant')]",
    ))
    .await;
    assert_eq!(
        f.store.user("pc-new").await.unwrap().rank,
        vigil_core::access::Rank::Sergeant
    );
    // Disable the stranger, with a reason typed into the prompt.
    c.find(Locator::Css(
        "#accounts tr[data-id='stranger'] button.disable",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.send_alert_text("left the force").await.unwrap();
    c.accept_alert().await.unwrap();
    b.wait_for(Locator::Css(
        "#accounts tr[data-id='stranger'] button.enable",
    ))
    .await;
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    b.screenshot("console-users.png").await;
    let auditor = f.store.user("auditor").await.unwrap();
    let audit = f.store.audit_entries(&auditor, 0, 10_000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "user.disable"
        && e.target == "stranger"
        && e.detail == "left the force"));

    // The Deployment page offers people from a list (the new one too).
    c.goto(&format!("{base}/console/deployments/{}", f.deployment))
        .await
        .unwrap();
    b.wait_for(Locator::Css("#as-user option[value='pc-new']"))
        .await;
    c.find(Locator::Id("as-user"))
        .await
        .unwrap()
        .select_by_value("pc-new")
        .await
        .unwrap();
    c.execute(
        "document.getElementById('as-role').value = 'EngagementOfficer'",
        vec![],
    )
    .await
    .unwrap();
    b.click("assign").await;
    b.wait_for(Locator::XPath(
        "//div[@id='assignments' and contains(., 'pc-new as EngagementOfficer')]",
    ))
    .await;
    b.screenshot("console-assignments.png").await;

    // The new person's first login: the one-time password, then their own.
    c.goto(&format!("{base}/login")).await.unwrap();
    b.type_into("user", "pc-new").await;
    b.type_into("password", &otp).await;
    b.click("login").await;
    b.wait_for(Locator::Css("#np-box:not([hidden])")).await;
    b.type_into("new-password", "tundra-velvet-orchard-18")
        .await;
    b.type_into("new-password2", "tundra-velvet-orchard-18")
        .await;
    b.click("login").await;
    let me = b.wait_for(Locator::Id("me")).await;
    assert_eq!(me.text().await.unwrap(), "pc-new");
    let who = c
        .find(Locator::Id("who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(who, "PC New", "the header names who is logged in");
}

/// Issue 13: an Investigator (who sees face images) enrols a second factor
/// in the console at first login: the QR code (SVG) and the secret are
/// shown, the authenticator's code logs them in, and the next login asks
/// for a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_is_enrolled_on_the_login_page() {
    let f = fixture().await;
    let mut state = AppState::new(f.store.clone(), Duration::from_secs(600));
    state.second_factor = true;
    let base = serve(state).await;
    let b = Browser::start().await;
    let c = &b.c;
    c.goto(&format!("{base}/login")).await.unwrap();
    b.type_into("user", "investigator").await;
    b.type_into("password", PASSWORD).await;
    b.click("login").await;
    b.wait_for(Locator::Css("body[data-enrol='1']")).await;
    b.wait_for(Locator::Css("#qr svg")).await;
    let secret = c
        .find(Locator::Id("totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    b.screenshot("console-enrol.png").await;
    let code = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret).to_bytes().unwrap(),
        Some("Vigil".into()),
        "investigator".into(),
    )
    .unwrap()
    .generate_current()
    .unwrap();
    b.type_into("totp", &code).await;
    b.click("login").await;
    let me = b.wait_for(Locator::Id("me")).await;
    assert_eq!(me.text().await.unwrap(), "investigator");
    let auditor = f.store.user("auditor").await.unwrap();
    let audit = f.store.audit_entries(&auditor, 0, 10_000).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "user.totp.enrol" && e.target == "investigator"));
    // Logged out, the next login asks for a code (and the used one fails).
    b.click("logout-top").await;
    b.wait_for(Locator::Id("login")).await;
    b.type_into("user", "investigator").await;
    b.type_into("password", PASSWORD).await;
    b.click("login").await;
    b.wait_for(Locator::Css("#totp-box:not([hidden])")).await;
    b.type_into("totp", &code).await;
    b.click("login").await;
    let err = b.wait_for(Locator::Css("#err:not([hidden])")).await;
    assert!(
        err.text().await.unwrap().contains("code"),
        "a used code is refused"
    );
}

/// The Administrator registers a camera, takes a snapshot of it and draws
/// its Zone of Recognition with three clicks; the store keeps the polygon
/// in frame pixels, and no password is ever shown back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_registers_a_camera_and_draws_its_zone_on_a_snapshot() {
    let f = fixture().await;
    let state = AppState::new(f.store.clone(), Duration::from_secs(600))
        .with_snapshots(std::sync::Arc::new(vigil_live::supervisor::FfmpegSnapshots));
    let base = serve(state).await;
    let b = Browser::start().await;
    let c = &b.c;
    b.log_in(&base, "admin").await;
    b.click("cameras").await;
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    let source = vigil_testkit::cache().sample("solvay_1927.jpg");
    b.type_into("cam-name", "Town hall steps").await;
    b.type_into("cam-url", &source.display().to_string()).await;
    b.type_into("cam-user", "camop").await;
    b.type_into("cam-pass", "Secret-in-the-seal-9").await;
    b.type_into("cam-size", "1280x720").await;
    b.click("cam-save").await;
    let row = "//tr[contains(., 'Town hall steps') and contains(., 'credentials stored')]";
    b.wait_for(Locator::XPath(row)).await;
    c.find(Locator::XPath(&format!(
        "{row}//button[contains(@class,'edit')]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    b.click("zone-snapshot").await;
    b.wait_for(Locator::Css("#zone-canvas[data-snapshot='1']"))
        .await;
    b.screenshot("camera-zone.png").await;
    // Three clicks on the canvas, at 10 %/10 %, 90 %/10 % and 50 %/90 %
    // of its width and height on screen.
    let size = c
        .execute(
            "const c=document.getElementById('zone-canvas');c.scrollIntoView({block:'center'});const r=c.getBoundingClientRect();return [r.width,r.height]",
            vec![],
        )
        .await
        .unwrap();
    let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    let canvas = c.find(Locator::Id("zone-canvas")).await.unwrap();
    use fantoccini::actions::InputSource;
    for (fx, fy) in [(0.1, 0.1), (0.9, 0.1), (0.5, 0.9)] {
        let (x, y) = ((fx * w).round(), (fy * h).round());
        let actions = fantoccini::actions::MouseActions::new("mouse".into())
            .then(fantoccini::actions::PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: None,
                x: x - (w / 2.0).floor(),
                y: y - (h / 2.0).floor(),
            })
            .then(fantoccini::actions::PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(fantoccini::actions::PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        c.perform_actions(actions).await.unwrap();
    }
    b.wait_for(Locator::XPath("//span[@id='zone-points' and .='3 points']"))
        .await;
    b.click("cam-save").await;
    b.wait_for(Locator::XPath(
        "//tr[contains(., 'Town hall steps') and contains(., '3 points')]",
    ))
    .await;
    let cams = f.store.cameras().await.unwrap();
    let cam = cams
        .iter()
        .find(|c| c.settings.name == "Town hall steps")
        .unwrap();
    assert!(cam.has_credentials, "credentials kept when not retyped");
    let zone = &cam.settings.zone;
    assert_eq!(zone.len(), 3, "{zone:?}");
    // In frame pixels: the same fractions of 1280x720.
    for (got, want) in zone
        .iter()
        .zip([[128.0, 72.0], [1152.0, 72.0], [640.0, 648.0]])
    {
        assert!(
            (got[0] - want[0]).abs() <= 6.0 && (got[1] - want[1]).abs() <= 6.0,
            "{zone:?}"
        );
    }
    let page = c.source().await.unwrap();
    assert!(!page.contains("Secret-in-the-seal-9"));
    let audit = f
        .store
        .audit_entries(&f.store.user("auditor").await.unwrap(), 0, 10_000)
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    for a in ["camera.register", "camera.snapshot", "camera.update"] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
}

/// Issue 15, Auditor: a login for the audit page comes back to it; the log
/// filtered by person and action shows exactly who opened which Alert
/// image; the chain verifies, also against a checkpoint the Auditor took
/// and kept; retention shows what is due and what is held and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_filters_the_log_verifies_the_chain_and_reads_retention() {
    let f = fixture_with_images(sample("obama_3.jpg"), sample("obama_1.jpg")).await;
    let (operator, gold) = (
        f.store.user("operator").await.unwrap(),
        f.store.user("gold").await.unwrap(),
    );
    // The Operator opens the probe; a stranger is refused the candidate.
    f.store
        .alert_image(&operator, &f.alert, vigil_store::alerts::AlertImage::Probe)
        .await
        .unwrap();
    let stranger = f.store.user("stranger").await.unwrap();
    assert!(f
        .store
        .alert_image(
            &stranger,
            &f.alert,
            vigil_store::alerts::AlertImage::Candidate
        )
        .await
        .is_err());
    f.store
        .place_hold(
            &gold,
            vigil_store::retention::HoldTarget::Alert(f.alert.clone()),
            "complaint IOPC/2026/31 under investigation",
        )
        .await
        .unwrap();
    let base = serve(AppState::new(f.store.clone(), Duration::from_secs(600))).await;
    let b = Browser::start().await;
    let c = &b.c;

    // Asked for the audit page before logging in: back there afterwards.
    c.goto(&format!("{base}/console/audit")).await.unwrap();
    b.wait_for(Locator::Id("user")).await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("next=%2Fconsole%2Faudit"));
    b.type_into("user", "auditor").await;
    b.type_into("password", PASSWORD).await;
    b.click("login").await;
    b.wait_for(Locator::Css("body[data-ready='1']")).await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/audit"));

    // Person + action family: only the operator's view of the probe.
    b.type_into("f-actor", "operator").await;
    c.find(Locator::Id("f-action"))
        .await
        .unwrap()
        .select_by_value("alert.image")
        .await
        .unwrap();
    b.click("f-go").await;
    until(
        c,
        "[...document.querySelectorAll('#entries tr')].map(r=>r.dataset.actor+' '+r.dataset.action).join(';')",
        "operator alert.image.view".into(),
    )
    .await;
    // The stranger's refusal, filtered by the Deployment of the Alert.
    b.type_into("f-actor", "stranger").await;
    c.find(Locator::Id("f-deployment"))
        .await
        .unwrap()
        .select_by_value(&f.deployment)
        .await
        .unwrap();
    b.click("f-go").await;
    until(
        c,
        "[...document.querySelectorAll('#entries tr')].map(r=>r.dataset.action).join(';')",
        "alert.image.denied".into(),
    )
    .await;
    let rows = c
        .find(Locator::Id("entries"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rows.contains(&f.alert) && !rows.contains("JFIF"), "{rows}");

    // Chain: intact; a checkpoint taken, kept, and verified against.
    b.click("verify").await;
    let verdict = b
        .wait_for(Locator::Id("chain-result"))
        .await
        .text()
        .await
        .unwrap();
    assert!(verdict.starts_with("Intact"), "{verdict}");
    b.click("take").await;
    b.wait_for(Locator::Css("#new-checkpoint:not([hidden])"))
        .await;
    let kept = c
        .execute(
            "return document.getElementById('new-checkpoint').textContent",
            vec![],
        )
        .await
        .unwrap();
    c.execute(
        "document.getElementById('kept').value = arguments[0]",
        vec![kept.clone()],
    )
    .await
    .unwrap();
    b.click("verify").await;
    b.wait_for(Locator::XPath(
        "//p[@id='chain-result' and contains(., 'against your checkpoint')]",
    ))
    .await;
    b.wait_for(Locator::XPath(
        "//div[@id='verdict' and contains(., 'Latest checkpoint: entry')]",
    ))
    .await;
    // Retention: the Alert is kept and held, with the reason.
    b.wait_for(Locator::Css("#retention tr[data-kind='Alert']"))
        .await;
    let hold = b
        .wait_for(Locator::Css("#retention tr.hold"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        hold.contains("IOPC/2026/31") && hold.contains("gold"),
        "{hold}"
    );
    b.screenshot("console-audit.png").await;

    // Nobody but an Auditor has the page.
    b.log_in(&base, "operator").await;
    c.goto(&format!("{base}/console/audit")).await.unwrap();
    b.wait_for(Locator::Id("refused")).await;
    // A login never follows a `next` off this console.
    c.goto(&format!("{base}/login?next=//evil.example/console"))
        .await
        .unwrap();
    b.type_into("user", "operator").await;
    b.type_into("password", PASSWORD).await;
    b.click("login").await;
    b.wait_for(Locator::Id("me")).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/console");
}

/// Every control a person can reach is named for a screen reader, each
/// page has one h1, and the Operator's Alerts are announced.
async fn check_accessible(c: &fantoccini::Client, page: &str) {
    let v = c
        .execute(
            "const named = el => el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label');
             const unnamed = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(el => !named(el)).map(el => el.id || el.name || el.outerHTML.slice(0, 60));
             const buttons = [...document.querySelectorAll('button')].filter(b => !b.textContent.trim() && !b.getAttribute('aria-label') && b.id !== 'step-go').map(b => b.id);
             return {h1: document.querySelectorAll('h1').length, unnamed, buttons, lang: document.documentElement.lang};",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(v["h1"], 1, "{page}: {v}");
    assert_eq!(
        v["unnamed"],
        serde_json::json!([]),
        "{page}: unlabelled controls"
    );
    assert_eq!(
        v["buttons"],
        serde_json::json!([]),
        "{page}: buttons without a name"
    );
    assert_eq!(v["lang"], "en", "{page}");
}

/// Issue 15, phone and accessibility: the search and public pages fit a
/// 390 px phone (no sideways scrolling, tap targets of 44 px), and every
/// console page passes the accessibility checks above; the public page
/// shows human dates, the False Alert Rate and Deployments notified in
/// advance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_pages_fit_and_every_page_is_labelled() {
    let f = fixture_with_images(sample("obama_3.jpg"), sample("obama_1.jpg")).await;
    let (applicant, npcc, ao, gold) = (
        f.store.user("applicant").await.unwrap(),
        f.store.user("npcc").await.unwrap(),
        f.store.user("ao").await.unwrap(),
        f.store.user("gold").await.unwrap(),
    );
    // One Deployment notified in advance (authorised, not yet running) ...
    let mut app = vigil_core::fixtures::complete_application(
        "Brixton Road",
        f.store.now() + 86_400_000,
        f.store.now() + 2 * 86_400_000,
    );
    app.public_notice = "To locate people wanted for violent offences".into();
    let next = f.store.create_deployment(&applicant, app).await.unwrap();
    f.store
        .act(&next.id, &applicant, |d, _, now| d.submit(&applicant, now))
        .await
        .unwrap();
    f.store
        .act(&next.id, &npcc, |d, _, now| {
            d.consult(&npcc, false, "ok", now)
        })
        .await
        .unwrap();
    let wad = vigil_core::deployment::WrittenAuthority {
        reasoning: "ok".into(),
        alternatives_considered: "-".into(),
        threshold: 0.5,
        target_false_alert_rate: None,
    };
    f.store
        .act(&next.id, &ao, |d, _, now| {
            d.authorise(&ao, wad.clone(), now)
        })
        .await
        .unwrap();
    // ... and the fixture's, concluded and published, with passers-by.
    f.store
        .record_passers_by(&f.deployment, 4000, 0, 0)
        .await
        .unwrap();
    f.store
        .act(&f.deployment, &gold, |d, roles, now| {
            d.conclude(&gold, roles, "planned end", now)
        })
        .await
        .unwrap();

    let base = serve(common::search::search_state(&f, 1_000).await).await;
    let phone = Browser::start_sized(390, 844).await;
    let c = &phone.c;
    c.goto(&format!("{base}/public")).await.unwrap();
    let text = phone
        .wait_for(Locator::Css("main"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Brixton Road") && text.contains("violent offences"),
        "{text}"
    );
    assert!(
        text.contains("Station Road") && text.contains("False Alert Rate"),
        "{text}"
    );
    assert!(
        !text.contains("ms since epoch") && !text.contains("CancellationFiled"),
        "{text}"
    );
    // A human date (e.g. "Thu 1 January 1970, 00:00"), not a number.
    assert!(text.contains(", 00:00") || text.contains(":"), "{text}");
    let viewport = c.execute("return window.innerWidth", vec![]).await.unwrap();
    assert_eq!(viewport, 390, "the phone's viewport");
    fits(c, "public").await;
    check_accessible(c, "public").await;
    phone.screenshot("phone-public.png").await;

    phone.log_in(&base, "investigator").await;
    c.goto(&format!("{base}/console/search")).await.unwrap();
    phone.type_into("case_ref", "OP-WREN/2026/2").await;
    phone
        .type_into("reason", "phone photo from the victim")
        .await;
    phone
        .wait_for(Locator::Id("media"))
        .await
        .send_keys(
            &common::search::sample_path("obama_2.jpg")
                .display()
                .to_string(),
        )
        .await
        .unwrap();
    phone.click("go").await;
    phone.wait_for(Locator::Css(".cand[data-rank='1']")).await;
    phone.wait_for(Locator::Id("threshold")).await;
    fits(c, "search").await;
    check_accessible(c, "search").await;
    // Probe and first candidate side by side on the phone.
    let side = c
        .execute(
            "const p = document.querySelector('.face .probe').getBoundingClientRect(), q = document.querySelector('.cand').getBoundingClientRect();
             return Math.abs(p.top - q.top) < 5 && q.left > p.left;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(side, true);
    phone.screenshot("phone-search.png").await;
    drop(phone);

    // Every console page, each as the person who uses it.
    let b = Browser::start().await;
    let c = &b.c;
    for (user, path) in [
        ("operator", "/console".to_string()),
        ("silver", format!("/console/deployments/{}", next.id)),
        (
            "compiler",
            format!("/console/deployments/{}/watchlist", next.id),
        ),
        (
            "operator",
            format!("/console/deployments/{}/operator", f.deployment),
        ),
        ("admin", "/console/users".to_string()),
        ("admin", "/console/cameras".to_string()),
        ("applicant", "/console/deployments/new".to_string()),
        ("auditor", "/console/audit".to_string()),
        ("investigator", "/console/search".to_string()),
    ] {
        b.log_in(&base, user).await;
        c.goto(&format!("{base}{path}")).await.unwrap();
        b.wait_for(Locator::Css("main")).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        check_accessible(c, &path).await;
    }
    c.goto(&format!("{base}/login")).await.unwrap();
    check_accessible(c, "/login").await;
}

/// No sideways scrolling, and every button and field is a 44 px target.
async fn fits(c: &fantoccini::Client, page: &str) {
    let v = c
        .execute(
            "const small = [...document.querySelectorAll('button, input:not([type=checkbox]):not([type=file]), select, a.button')]
               .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44).map(e => e.id || e.className || e.textContent);
             return {width: document.documentElement.scrollWidth, viewport: window.innerWidth, small};",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        v["width"].as_u64() <= v["viewport"].as_u64(),
        "{page}: wider than the phone: {v}"
    );
    assert_eq!(
        v["small"],
        serde_json::json!([]),
        "{page}: tap targets under 44 px"
    );
}
