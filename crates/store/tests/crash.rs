//! Killing the process in the middle of writing loses no committed Alert
//! (SQLite in WAL mode with synchronous commits, every write in a
//! transaction).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use vigil_store::{ManualClock, MasterKey, Store};

const KEY: &str = "7f3c1d5e9a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d";

async fn open(dir: &std::path::Path) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("vigil.db").display());
    Store::open(
        &url,
        MasterKey::from_hex(KEY).unwrap(),
        Arc::new(ManualClock::new(T0)),
    )
    .await
    .unwrap()
}

/// The writer: run by `killed_writer_loses_no_committed_alert` in a child
/// process, never on its own.
#[test]
#[ignore = "run as a child process by killed_writer_loses_no_committed_alert"]
fn crash_child_writer() {
    let Ok(dir) = std::env::var("VIGIL_CRASH_DIR") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = std::path::PathBuf::from(dir);
        let store = open(&dir).await;
        let clock = Arc::new(ManualClock::new(T0));
        let w = World {
            name: "sqlite",
            url: format!("sqlite://{}", dir.join("vigil.db").display()),
            store,
            clock,
            _dir: tempfile::tempdir().unwrap(),
        };
        let p = people();
        let a = active_deployment(&w, &p).await;
        println!("DEPLOYMENT {}", a.deployment.id);
        loop {
            let alert = w
                .store
                .raise_alert(new_alert(&a.deployment.id, &a.primary, &w))
                .await
                .unwrap();
            // Printed only after the commit returned.
            println!("COMMITTED {}", alert.id);
        }
    });
}

#[tokio::test]
async fn killed_writer_loses_no_committed_alert() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "crash_child_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIGIL_CRASH_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut committed = Vec::new();
    let mut deployment = String::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        // libtest may print its "test ... " prefix on the same line.
        if let Some((_, id)) = line.split_once("COMMITTED ") {
            committed.push(id.trim().to_string());
        } else if let Some((_, id)) = line.split_once("DEPLOYMENT ") {
            deployment = id.trim().to_string();
        }
        if committed.len() >= 40 {
            // SIGKILL: no destructor, no flush, mid-transaction.
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(committed.len(), 40);

    let store = open(dir.path()).await;
    let p = people();
    let stored = store
        .alerts(&p.operator, &deployment, None, 500)
        .await
        .unwrap();
    for id in &committed {
        assert!(
            stored.iter().any(|a| &a.id == id),
            "committed alert {id} lost"
        );
    }
    for a in stored.iter().take(5) {
        assert!(store
            .alert_image(&p.operator, &a.id, vigil_store::alerts::AlertImage::Probe)
            .await
            .is_ok());
    }
    let v = store.audit_verify().await.unwrap();
    assert!(v.ok, "{v:?}");
    use sqlx::Row;
    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(check, "ok");
}
