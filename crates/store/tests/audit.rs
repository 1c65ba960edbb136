//! The audit log against someone who can write the database (security
//! finding 3), and deletion that leaves nothing behind in the files
//! (findings 9 and 10). Each tampering runs on its own store and must make
//! `verify` fail saying what was found.

mod common;

use std::sync::Arc;

use common::*;
use sha2::{Digest, Sha256};
use vigil_core::alert::Decision;
use vigil_core::retention::{RetentionPolicy, DAY_MS};
use vigil_store::audit::{Checkpoint, GENESIS};
use vigil_store::{ManualClock, Store};

/// An active Deployment with an adjudicated Alert, a checkpoint, then more
/// activity after it.
async fn prepared(w: &World) -> (Active, String, Checkpoint) {
    let p = people();
    let a = active_deployment(w, &p).await;
    let s = &w.store;
    let id = a.deployment.id.clone();
    let alert = s.raise_alert(new_alert(&id, &a.primary, w)).await.unwrap();
    s.adjudicate(&p.operator, &alert.id, Decision::Engage, "stopped")
        .await
        .unwrap();
    let cp = s.audit_checkpoint("auditor").await.unwrap();
    assert!(cp.signature_valid());
    for _ in 0..3 {
        s.raise_alert(new_alert(&id, &a.primary, w)).await.unwrap();
    }
    let v = s.audit_verify_against(Some(&cp)).await.unwrap();
    assert!(v.ok, "{}: honest store: {v:?}", w.name);
    assert!(v.records_checked > 5);
    (a, alert.id, cp)
}

fn has(v: &vigil_store::audit::Verification, needle: &str) -> bool {
    v.problems.iter().any(|p| p.contains(needle))
}

async fn exec(s: &Store, sql: &str) {
    sqlx::query(sql).execute(s.pool()).await.unwrap();
}

#[tokio::test]
async fn truncating_the_tail_and_rewinding_the_head_is_caught() {
    for w in worlds().await {
        let (_, _, cp) = prepared(&w).await;
        let s = &w.store;
        let keep = cp.seq - 4;
        exec(s, &format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
        exec(
            s,
            &format!("UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep}) WHERE id = 1"),
        )
        .await;
        let v = s.audit_verify().await.unwrap();
        assert!(!v.ok, "{}: {v:?}", w.name);
        assert!(
            has(&v, "has no audit entry"),
            "records outlive their entries: {v:?}"
        );
        let v = s.audit_verify_against(Some(&cp)).await.unwrap();
        assert!(has(&v, "entries were removed"), "{}: {v:?}", w.name);
    }
}

#[tokio::test]
async fn deleting_entries_and_recomputing_the_chain_without_the_key_is_caught() {
    for w in worlds().await {
        let (_, _, _) = prepared(&w).await;
        let s = &w.store;
        // Remove entry 4 and re-chain everything after it the way the old,
        // unkeyed chain was computed (SHA-256 of the fields).
        exec(s, "DELETE FROM audit_log WHERE seq = 4").await;
        let rows: Vec<(i64, i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT seq, at_ms, actor, action, target, detail, record FROM audit_log WHERE seq > 4 ORDER BY seq",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        let mut prev: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 3")
            .fetch_one(s.pool())
            .await
            .unwrap();
        for (seq, at, actor, action, target, detail, record) in rows {
            let new_seq = seq - 1;
            let h = hex::encode(Sha256::digest(
                serde_json::json!([prev, new_seq, at, actor, action, target, detail, record])
                    .to_string()
                    .as_bytes(),
            ));
            sqlx::query("UPDATE audit_log SET seq = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
                .bind(new_seq)
                .bind(&prev)
                .bind(&h)
                .bind(seq)
                .execute(s.pool())
                .await
                .unwrap();
            prev = h;
        }
        exec(
            s,
            &format!("UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_log), hash = '{prev}' WHERE id = 1"),
        )
        .await;
        let v = s.audit_verify().await.unwrap();
        assert!(has(&v, "entry 4 was altered"), "{}: {v:?}", w.name);
    }
}

#[tokio::test]
async fn a_wiped_log_is_caught_with_or_without_a_checkpoint() {
    for w in worlds().await {
        let (_, _, cp) = prepared(&w).await;
        let s = &w.store;
        exec(s, "DELETE FROM audit_log").await;
        exec(
            s,
            &format!("UPDATE audit_head SET seq = 0, hash = '{GENESIS}' WHERE id = 1"),
        )
        .await;
        let v = s.audit_verify().await.unwrap();
        assert!(!v.ok && v.entries == 0, "{}: {v:?}", w.name);
        assert!(has(&v, "alerts"), "{v:?}");
        let v = s.audit_verify_against(Some(&cp)).await.unwrap();
        assert!(has(&v, "wiped"), "{v:?}");
        // And with the head row itself gone: a verdict, not a crash.
        exec(s, "DELETE FROM audit_head").await;
        let v = s.audit_verify().await.unwrap();
        assert!(has(&v, "audit head is missing"), "{v:?}");
    }
}

#[tokio::test]
async fn records_changed_behind_the_log_are_caught() {
    for w in worlds().await {
        let (a, alert, _) = prepared(&w).await;
        let s = &w.store;
        let dep = a.deployment.id.clone();
        let cases: [(&str, String, &str); 6] = [
            (
                "alert state",
                format!("UPDATE alerts SET state = 'FalseAlert' WHERE id = '{alert}'"),
                "alerts",
            ),
            (
                "alert subject",
                format!("UPDATE alerts SET subject_ref = 'SOMEONE-ELSE' WHERE id = '{alert}'"),
                "alerts",
            ),
            (
                "adjudication",
                format!("UPDATE adjudications SET note = 'no one stopped' WHERE alert_id = '{alert}'"),
                "adjudications",
            ),
            (
                "deployment log",
                format!("UPDATE deployment_log SET reason = 'nothing to see' WHERE deployment_id = '{dep}' AND seq = 0"),
                "deployment_log",
            ),
            (
                "adjudication removed",
                format!("DELETE FROM adjudications WHERE alert_id = '{alert}'"),
                "was removed",
            ),
            (
                "forged alert",
                format!("INSERT INTO alerts (id, deployment_id, camera, blue, score, first_seen_ms, raised_ms, state) SELECT 'forged', deployment_id, camera, blue, score, first_seen_ms, raised_ms, state FROM alerts WHERE id = '{alert}'"),
                "alerts forged has no audit entry",
            ),
        ];
        for (what, sql, needle) in cases {
            // Each on a fresh store: one tampering at a time.
            let w2 = if w.name == "sqlite" {
                world_sqlite().await
            } else {
                worlds().await.pop().unwrap()
            };
            let (a2, alert2, _) = prepared(&w2).await;
            let sql = sql
                .replace(&alert, &alert2)
                .replace(&dep, &a2.deployment.id);
            exec(&w2.store, &sql).await;
            let v = w2.store.audit_verify().await.unwrap();
            assert!(!v.ok && has(&v, needle), "{} {what}: {v:?}", w.name);
        }
        let _ = s;
    }
}

#[tokio::test]
async fn checkpoints_from_elsewhere_or_altered_are_refused() {
    let w = world_sqlite().await;
    let (_, _, cp) = prepared(&w).await;
    let other = world_sqlite().await;
    let (_, _, foreign) = prepared(&other).await;
    let v = w.store.audit_verify_against(Some(&foreign)).await.unwrap();
    assert!(has(&v, "another installation"), "{v:?}");
    let mut forged = cp.clone();
    forged.seq -= 1;
    assert!(!forged.signature_valid());
    let v = w.store.audit_verify_against(Some(&forged)).await.unwrap();
    assert!(has(&v, "signature is not valid"), "{v:?}");
}

/// A store on a data directory (the way `vigil` opens one), with a clock
/// the test moves.
async fn data_dir_store() -> (tempfile::TempDir, Store, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open_data_dir(&data, None, clock.clone())
        .await
        .unwrap();
    (dir, store, clock)
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, store, clock) = data_dir_store().await;
    let w = World {
        name: "sqlite",
        url: format!("sqlite://{}", dir.path().join("data/vigil.db").display()),
        store,
        clock,
        _dir: tempfile::tempdir().unwrap(),
    };
    let _ = active_deployment(&w, &people()).await;
    let data = dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for f in ["vigil.db", "vigil.db-wal", "master.key"] {
        let p = data.join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    assert!(data.join("vigil.db-wal").exists(), "WAL mode");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Finding 9: after a retention run the "destroyed" data keys were still in
/// the database file (and the WAL) and the deleted ciphertext stayed in
/// free pages. Scan the raw files for both.
#[tokio::test]
async fn shredded_keys_and_deleted_ciphertext_leave_no_bytes_in_the_files() {
    let (dir, store, clock) = data_dir_store().await;
    let w = World {
        name: "sqlite",
        url: format!("sqlite://{}", dir.path().join("data/vigil.db").display()),
        store,
        clock,
        _dir: tempfile::tempdir().unwrap(),
    };
    let p = people();
    let a = active_deployment(&w, &p).await;
    let s = &w.store;
    let id = a.deployment.id.clone();
    s.raise_alert(new_alert(&id, &a.primary, &w)).await.unwrap();
    let keys: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT wrapped FROM data_keys WHERE wrapped IS NOT NULL AND key_id LIKE 'deployment/%'",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM media")
        .fetch_all(s.pool())
        .await
        .unwrap();
    assert!(keys.len() >= 2 && !sealed.is_empty());
    s.act(&id, &p.silver, |d, r, now| {
        d.terminate(&p.silver, r, "done", now)
    })
    .await
    .unwrap();
    w.clock.advance(32 * DAY_MS);
    let r = s
        .retention_run("test", &RetentionPolicy::default())
        .await
        .unwrap();
    assert_eq!(r.keys_destroyed, 2, "{r:?}");
    let remaining: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM media")
        .fetch_all(s.pool())
        .await
        .unwrap();
    let data = dir.path().join("data");
    let mut files = Vec::new();
    for f in ["vigil.db", "vigil.db-wal"] {
        if let Ok(b) = std::fs::read(data.join(f)) {
            files.push((f, b));
        }
    }
    for k in &keys {
        for (f, b) in &files {
            assert!(!contains(b, k), "a destroyed data key is still in {f}");
        }
    }
    for c in sealed.iter().filter(|c| !remaining.contains(c)) {
        for (f, b) in &files {
            assert!(!contains(b, c), "deleted ciphertext is still in {f}");
        }
    }
    assert!(s.audit_verify().await.unwrap().ok);
}
