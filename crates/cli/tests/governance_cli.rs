//! `vigil audit`, `vigil retention` and `vigil deployment` on a data
//! directory written by the store, as an operator of the system would run
//! them.

use std::sync::Arc;

use assert_cmd::Command;
use vigil_core::access::{Rank, Role, User};
use vigil_core::fixtures::complete_application;
use vigil_store::{Store, SystemClock};

fn vigil(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.arg("--data-dir")
        .arg(dir)
        .env("VIGIL_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("VIGIL_MASTER_KEY");
    c
}

async fn populate(dir: &std::path::Path) {
    let store = Store::open_data_dir(dir, None, Arc::new(SystemClock))
        .await
        .unwrap();
    let applicant = User {
        id: "app".into(),
        display_name: "A".into(),
        rank: Rank::Sergeant,
        roles: vec![Role::Applicant],
    };
    store.put_user(&applicant).await.unwrap();
    let app = complete_application("Market Square", 0, 1);
    let d = store.create_deployment(&applicant, app).await.unwrap();
    store
        .act(&d.id, &applicant, |d, _, now| d.submit(&applicant, now))
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_verify_passes_then_fails_after_a_row_is_changed() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    assert!(dir.path().join("master.key").is_file());
    let out = vigil(dir.path())
        .args(["audit", "verify"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["entries"].as_i64().unwrap() >= 3);

    let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = vigil(dir.path())
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["problem"].as_str().unwrap().contains("entry 2"));
}

#[tokio::test]
async fn retention_status_and_run_and_deployment_list_work_on_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let out = vigil(dir.path())
        .args(["retention", "status"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("\"Watchlist\"") && text.contains("\"due_at\":null"),
        "{text}"
    );
    let out = vigil(dir.path())
        .args(["retention", "run"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["alerts_deleted"], 0);
    let out = vigil(dir.path())
        .args(["deployment", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("Submitted"));
    vigil(dir.path())
        .args(["deployment", "published"])
        .assert()
        .success();
}

#[test]
fn a_corrupt_database_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vigil.db"), b"this is not a database").unwrap();
    std::fs::write(dir.path().join("master.key"), "00".repeat(32)).unwrap();
    let out = vigil(dir.path())
        .args(["audit", "verify"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("opening the store"), "{err}");
    assert!(!err.contains("panicked"));
}

/// `vigil audit checkpoint` signs the head; a log wiped since (head reset
/// to genesis, every entry gone) fails `verify --checkpoint` even though
/// the chain itself is trivially consistent.
#[tokio::test]
async fn a_checkpoint_kept_elsewhere_exposes_a_wiped_log() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let elsewhere = tempfile::tempdir().unwrap();
    let cp = elsewhere.path().join("checkpoint.json");
    vigil(dir.path())
        .args(["audit", "checkpoint", "--out"])
        .arg(&cp)
        .assert()
        .success();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    assert!(saved["seq"].as_i64().unwrap() >= 3 && saved["signature"].is_string());
    vigil(dir.path())
        .args(["audit", "verify", "--checkpoint"])
        .arg(&cp)
        .assert()
        .success();

    let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for sql in [
        "DELETE FROM audit_log",
        "UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        // Hide the records the entries vouched for, too.
        "DELETE FROM deployment_log",
        "DELETE FROM deployments",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let out = vigil(dir.path())
        .args(["audit", "verify", "--checkpoint"])
        .arg(&cp)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], false);
    let problems = v["problems"].to_string();
    assert!(problems.contains("wiped"), "{problems}");
}
