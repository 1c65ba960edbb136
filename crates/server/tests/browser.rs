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

fn sample(name: &str) -> Vec<u8> {
    let p = vigil_vision::engine::default_cache_dir()
        .join("samples")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_sees_an_alert_arrive_and_adjudicates_it_from_the_keyboard() {
    install_crypto();
    let f = fixture_with_images(sample("obama_3.jpg"), sample("obama_1.jpg")).await;
    let state = AppState::new(f.store.clone(), Duration::from_secs(600));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });

    let port = free_port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver; scripts/setup.sh installs it)"),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("WebDriver session");

    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("user"))
        .await
        .unwrap()
        .send_keys("operator")
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
    let me = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("me"))
        .await
        .unwrap();
    assert_eq!(me.text().await.unwrap(), "operator");

    c.goto(&format!(
        "{base}/console/deployments/{}/operator",
        f.deployment
    ))
    .await
    .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(&format!("a-{}", f.alert)))
        .await
        .unwrap();

    // Wait until the page's event stream is connected, then a new Alert.
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("body[data-live='1']"))
        .await
        .unwrap();
    let entry = f.store.watchlist(&f.deployment).await.unwrap()[0]
        .id
        .clone();
    let new = f
        .store
        .raise_alert(NewAlert {
            deployment_id: f.deployment.clone(),
            camera: "north".into(),
            watchlist_entry_id: entry,
            score: 0.77,
            first_seen: f.store.now() - 120,
            quality: "{}".into(),
            probe_image: sample("obama_4.jpg"),
            candidate_image: sample("obama_1.jpg"),
        })
        .await
        .unwrap();
    let card = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(&format!("a-{}", new.id)))
        .await
        .unwrap();
    assert!(card.text().await.unwrap().contains("Raised"));
    // Its images load (naturalWidth > 0 only for a decoded image).
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!(
            "//div[@id='a-{}']/img[@alt='Candidate' and @src]",
            new.id
        )))
        .await
        .unwrap();
    for _ in 0..50 {
        let w = c
            .execute(
                &format!(
                    "return [...document.querySelectorAll('#a-{} img')].map(i=>i.naturalWidth)",
                    new.id
                ),
                vec![],
            )
            .await
            .unwrap();
        if w.as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x.as_u64().unwrap_or(0) > 0))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Ok(dir) = std::env::var("VIGIL_SCREENSHOT_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join("console-operator.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    // The newest card is selected: "e" engages.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("e")
        .await
        .unwrap();
    let mut state = String::new();
    for _ in 0..50 {
        // Read in one script: the card re-renders as events arrive.
        let js = format!(
            "return document.querySelector('#a-{} .state')?.textContent ?? ''",
            new.id
        );
        state = c
            .execute(&js, vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state == "Engaged" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "Engaged");
    c.close().await.unwrap();

    let auditor = f.store.user("auditor").await.unwrap();
    let log = f.store.audit_entries(&auditor, 0, 1000).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "alert.adjudicate" && e.actor == "operator" && e.target == new.id));
    let views: Vec<_> = log
        .iter()
        .filter(|e| e.action == "alert.image.view" && e.target == new.id)
        .collect();
    assert!(
        views.len() >= 2 && views.iter().all(|e| e.actor == "operator"),
        "{views:?}"
    );
}
