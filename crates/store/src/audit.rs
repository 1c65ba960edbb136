//! The audit log: append-only and hash-chained.
//!
//! Each entry's hash commits to the previous entry's hash and to its own
//! fields, and a one-row head records the last sequence number and hash. A
//! changed entry breaks its own hash; a removed entry breaks the chain (or,
//! at the end, disagrees with the head). Entries hold who, what and which
//! record: never biometric data or images.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::Millis;

use crate::{Backend, Result, Store, Tx};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn entry_hash(
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> String {
    // A JSON array is an unambiguous encoding of the fields.
    let canonical = serde_json::json!([prev, seq, at, actor, action, target, detail]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub entries: i64,
    pub ok: bool,
    /// The first problem found, if any.
    pub problem: Option<String>,
}

impl Store {
    /// Appends an entry inside the caller's transaction, so the action and
    /// its record commit together or not at all.
    pub(crate) async fn append_audit(
        &self,
        tx: &mut Tx<'_>,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<i64> {
        let at = self.now();
        // FOR UPDATE serialises concurrent appends on PostgreSQL; SQLite has
        // one writer at a time and does not know the clause.
        let sql = match self.backend {
            Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        };
        let head = sqlx::query(sql).fetch_one(&mut **tx).await?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let seq = prev_seq + 1;
        let hash = entry_hash(&prev_hash, seq, at, actor, action, target, detail);
        sqlx::query("INSERT INTO audit_log (seq, at_ms, actor, action, target, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(seq)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        Ok(seq)
    }

    /// Records an event that is not part of another write (e.g. a read of
    /// an image, a search).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let seq = self
            .append_audit(&mut tx, actor, action, target, detail)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Entries for an Auditor.
    pub async fn audit_entries(
        &self,
        viewer: &User,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        access::check(viewer, Action::ReadAudit, &[])?;
        let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Recomputes the whole chain.
    pub async fn audit_verify(&self) -> Result<Verification> {
        let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, prev_hash, hash FROM audit_log ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1;
        let fail = |n: i64, p: String| {
            Ok(Verification {
                entries: n,
                ok: false,
                problem: Some(p),
            })
        };
        for row in &rows {
            let e = row_to_entry(row)?;
            if e.seq != expected_seq {
                return fail(
                    rows.len() as i64,
                    format!("entry {expected_seq} is missing (found {} next)", e.seq),
                );
            }
            if e.prev_hash != prev {
                return fail(
                    rows.len() as i64,
                    format!("entry {} does not follow entry {}", e.seq, e.seq - 1),
                );
            }
            let h = entry_hash(
                &e.prev_hash,
                e.seq,
                e.at,
                &e.actor,
                &e.action,
                &e.target,
                &e.detail,
            );
            if h != e.hash {
                return fail(rows.len() as i64, format!("entry {} was altered", e.seq));
            }
            prev = e.hash;
            expected_seq += 1;
        }
        if head_seq != expected_seq - 1 || head_hash != prev {
            return fail(
                rows.len() as i64,
                format!(
                    "the log ends at entry {} but its head records entry {head_seq}",
                    expected_seq - 1
                ),
            );
        }
        Ok(Verification {
            entries: rows.len() as i64,
            ok: true,
            problem: None,
        })
    }
}

fn row_to_entry(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
