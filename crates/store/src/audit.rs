//! The audit log: append-only, keyed, bound to the records it describes,
//! and anchored outside the database by signed checkpoints.
//!
//! * Each entry's MAC (HMAC-SHA256 under a key derived from the master
//!   key, which never enters the database) commits to the previous entry's
//!   MAC and to its own fields. Someone who can write the database but does
//!   not hold the master key cannot change, insert or re-chain entries.
//! * Entries that change a record bind it: the entry carries the SHA-256
//!   of the record's row as it was written (Alerts, adjudications,
//!   Deployments and their log, retention tombstones). `verify` recomputes
//!   every bound row and compares: a row edited, inserted or deleted behind
//!   Vigil's back is reported, as is a truncated log that no longer covers
//!   the records it wrote.
//! * A checkpoint is the head (sequence number and MAC) signed with an
//!   Ed25519 key derived from the master key. An Auditor keeps checkpoints
//!   outside the system; `verify` against one reports a log that was cut
//!   back, rewound or wiped since — even by someone holding the master key,
//!   who could otherwise recompute the whole chain.
//!
//! Entries hold who, what and which record: never biometric data or images.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::Millis;

use crate::{Backend, Result, Store, StoreError, Tx};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const CHAIN_KEY: &str = "vigil audit chain v1";
const CHECKPOINT_KEY: &str = "vigil audit checkpoint v1";
const CHECKPOINT_CONTEXT: &str = "vigil-audit-checkpoint-v1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// The records this entry wrote: `[table, key, sha256 of the row]`.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A record an audit entry vouches for, by table and key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound<'a> {
    Alert(&'a str),
    Adjudication(&'a str, i64),
    Deployment(&'a str),
    DeploymentLog(&'a str, i64),
}

/// A bound table: how its rows are named and which columns are vouched for.
struct Table {
    name: &'static str,
    /// SQL for the row's key as text.
    key: &'static str,
    /// The filter that selects one row by its key's parts.
    by_key: &'static str,
    /// The columns whose values the digest covers.
    columns: &'static [&'static str],
}

const ALERTS: Table = Table {
    name: "alerts",
    key: "id",
    by_key: "WHERE id = $1",
    columns: &[
        "id",
        "deployment_id",
        "camera",
        "watchlist_entry_id",
        "subject_ref",
        "blue",
        "score",
        "first_seen_ms",
        "raised_ms",
        "state",
        "quality",
        "probe_media",
        "candidate_media",
        "deleted_ms",
    ],
};
const ADJUDICATIONS: Table = Table {
    name: "adjudications",
    key: "alert_id || '/' || CAST(seq AS TEXT)",
    by_key: "WHERE alert_id = $1 AND seq = $2",
    columns: &["alert_id", "seq", "at_ms", "actor", "decision", "note"],
};
const DEPLOYMENTS: Table = Table {
    name: "deployments",
    key: "id",
    by_key: "WHERE id = $1",
    // The counters (passers-by, Blue passes) change without an entry each
    // time and are not covered.
    columns: &[
        "id",
        "state",
        "body",
        "ended_ms",
        "urgent_due_ms",
        "watchlist_deleted_ms",
        "alert_key_destroyed_ms",
    ],
};
const DEPLOYMENT_LOG: Table = Table {
    name: "deployment_log",
    key: "deployment_id || '/' || CAST(seq AS TEXT)",
    by_key: "WHERE deployment_id = $1 AND seq = $2",
    columns: &[
        "deployment_id",
        "seq",
        "at_ms",
        "actor",
        "action",
        "from_state",
        "to_state",
        "reason",
    ],
};
const BOUND_TABLES: [&Table; 4] = [&ALERTS, &ADJUDICATIONS, &DEPLOYMENTS, &DEPLOYMENT_LOG];

impl Bound<'_> {
    fn table(&self) -> &'static Table {
        match self {
            Bound::Alert(_) => &ALERTS,
            Bound::Adjudication(..) => &ADJUDICATIONS,
            Bound::Deployment(_) => &DEPLOYMENTS,
            Bound::DeploymentLog(..) => &DEPLOYMENT_LOG,
        }
    }

    fn key(&self) -> String {
        match self {
            Bound::Alert(id) | Bound::Deployment(id) => id.to_string(),
            Bound::Adjudication(id, seq) | Bound::DeploymentLog(id, seq) => format!("{id}/{seq}"),
        }
    }
}

fn select_rows(t: &Table, filter: &str) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("CAST({c} AS TEXT) AS c_{c}"))
        .collect();
    format!(
        "SELECT {} AS row_key, {} FROM {} {filter}",
        t.key,
        cols.join(", "),
        t.name
    )
}

fn row_digest(t: &Table, row: &sqlx::any::AnyRow) -> Result<String> {
    let values: Vec<Option<String>> = t
        .columns
        .iter()
        .map(|c| row.try_get::<Option<String>, _>(format!("c_{c}").as_str()))
        .collect::<std::result::Result<_, _>>()?;
    let canonical = serde_json::json!([t.name, values]).to_string();
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub entries: i64,
    pub ok: bool,
    /// The first problem found, if any.
    pub problem: Option<String>,
    /// Every problem found (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<String>,
    /// Bound records checked against the tables.
    pub records_checked: u64,
    /// The checkpoint verified against, if one was given: its sequence number.
    pub checkpoint: Option<i64>,
}

pub const MAX_PROBLEMS: usize = 50;

/// The most entries one page of [`Store::audit_search`] returns.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// What an Auditor filters the log by; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditQuery {
    /// Who (a user id, or `system`).
    pub actor: Option<String>,
    /// An action (`alert.image.view`) or its family (`alert.image`).
    pub action: Option<String>,
    /// The record acted on (an Alert, search, camera or user id).
    pub target: Option<String>,
    /// Entries about this Deployment or any of its Alerts.
    pub deployment: Option<String>,
    /// From this time (ms since the epoch), inclusive.
    pub from_ms: Option<Millis>,
    /// Before this time, exclusive.
    pub to_ms: Option<Millis>,
    /// Entries older than this sequence number (the next page).
    pub before_seq: Option<i64>,
    #[serde(default = "default_page")]
    pub limit: i64,
}

fn default_page() -> i64 {
    100
}

/// A bound parameter of a filter built at run time.
enum Arg {
    Text(String),
    Num(i64),
}

/// Appends ` AND cond` to `sql`, each `?` in it numbered as the next of
/// `args` (where its value is pushed), so placeholders and binds cannot
/// fall out of step.
fn and<const N: usize>(sql: &mut String, args: &mut Vec<Arg>, cond: &str, values: [Arg; N]) {
    sql.push_str(" AND ");
    let mut parts = cond.split('?');
    sql.push_str(parts.next().unwrap_or_default());
    for (part, v) in parts.zip(values) {
        args.push(v);
        sql.push_str(&format!("${}{part}", args.len()));
    }
}

/// A signed statement of the audit log's head, for an Auditor to keep
/// outside the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last entry's sequence number.
    pub seq: i64,
    /// Its MAC (the head of the chain).
    pub head: String,
    /// When the checkpoint was made.
    pub at: Millis,
    /// The installation's checkpoint key (Ed25519, hex).
    pub public_key: String,
    /// Ed25519 over `vigil-audit-checkpoint-v1`, seq, head and at.
    pub signature: String,
}

impl Checkpoint {
    fn message(seq: i64, head: &str, at: Millis) -> String {
        format!("{CHECKPOINT_CONTEXT}\n{seq}\n{head}\n{at}")
    }

    /// Whether the signature is good for the key it names.
    pub fn signature_valid(&self) -> bool {
        let Ok(pk) = hex::decode(&self.public_key) else {
            return false;
        };
        let Ok(pk) = <[u8; 32]>::try_from(pk.as_slice()) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(&pk) else {
            return false;
        };
        let Ok(sig) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
            return false;
        };
        key.verify(
            Self::message(self.seq, &self.head, self.at).as_bytes(),
            &Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

struct Problems {
    list: Vec<String>,
}

impl Problems {
    fn add(&mut self, p: String) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        }
    }
}

impl Store {
    fn chain_mac(&self, fields: &serde_json::Value) -> String {
        let key = self.master.subkey(CHAIN_KEY);
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&key)
            .expect("HMAC takes a key of any length");
        mac.update(fields.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[allow(clippy::too_many_arguments)]
    fn entry_mac(
        &self,
        prev: &str,
        seq: i64,
        at: Millis,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        record: &str,
    ) -> String {
        // A JSON array is an unambiguous encoding of the fields.
        self.chain_mac(&serde_json::json!([
            prev, seq, at, actor, action, target, detail, record
        ]))
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.master.subkey(CHECKPOINT_KEY))
    }

    /// The installation's checkpoint verification key (hex), to publish.
    pub fn audit_public_key(&self) -> String {
        hex::encode(self.signing_key().verifying_key().to_bytes())
    }

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
        self.append_audit_bound(tx, actor, action, target, detail, &[])
            .await
    }

    /// As [`Store::append_audit`], vouching for `records` as they now stand
    /// in the transaction (call it after writing them).
    pub(crate) async fn append_audit_bound(
        &self,
        tx: &mut Tx<'_>,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        records: &[Bound<'_>],
    ) -> Result<i64> {
        let mut bound = Vec::with_capacity(records.len());
        for r in records {
            let t = r.table();
            let key = r.key();
            let sql = select_rows(t, t.by_key);
            let q = match r {
                Bound::Alert(id) | Bound::Deployment(id) => sqlx::query(&sql).bind(id.to_string()),
                Bound::Adjudication(id, seq) | Bound::DeploymentLog(id, seq) => {
                    sqlx::query(&sql).bind(id.to_string()).bind(*seq)
                }
            };
            let row = q
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("{} {key}", t.name)))?;
            bound.push(serde_json::json!([t.name, key, row_digest(t, &row)?]));
        }
        let record = serde_json::Value::Array(bound).to_string();
        let at = self.now();
        // FOR UPDATE serialises concurrent appends on PostgreSQL; SQLite has
        // one writer at a time and does not know the clause.
        let sql = match self.backend {
            Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        };
        let head = sqlx::query(sql)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the audit head is missing".into()))?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let seq = prev_seq + 1;
        let hash = self.entry_mac(&prev_hash, seq, at, actor, action, target, detail, &record);
        sqlx::query("INSERT INTO audit_log (seq, at_ms, actor, action, target, detail, record, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(seq)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .bind(&record)
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
        let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, record, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Entries for an Auditor matching `q`, newest first: who did what to
    /// which record, when (e.g. who opened which Alert's images). Paged by
    /// sequence number, so it works the same on a log of millions.
    pub async fn audit_search(&self, viewer: &User, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        access::check(viewer, Action::ReadAudit, &[])?;
        let mut sql = String::from("SELECT seq, at_ms, actor, action, target, detail, record, prev_hash, hash FROM audit_log WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        let text = |v: &str| Arg::Text(v.to_string());
        if let Some(a) = q.actor.as_deref().filter(|a| !a.is_empty()) {
            and(&mut sql, &mut args, "actor = ?", [text(a)]);
        }
        if let Some(a) = q.action.as_deref().filter(|a| !a.is_empty()) {
            // An action or a family of them: `alert.image` matches
            // `alert.image.view` and `alert.image.denied`.
            let family = format!("{a}.%");
            and(
                &mut sql,
                &mut args,
                "(action = ? OR action LIKE ?)",
                [text(a), text(&family)],
            );
        }
        if let Some(t) = q.target.as_deref().filter(|t| !t.is_empty()) {
            and(&mut sql, &mut args, "target = ?", [text(t)]);
        }
        if let Some(d) = q.deployment.as_deref().filter(|d| !d.is_empty()) {
            and(
                &mut sql,
                &mut args,
                "(target = ? OR target IN (SELECT id FROM alerts WHERE deployment_id = ?))",
                [text(d), text(d)],
            );
        }
        if let Some(f) = q.from_ms {
            and(&mut sql, &mut args, "at_ms >= ?", [Arg::Num(f)]);
        }
        if let Some(t) = q.to_ms {
            and(&mut sql, &mut args, "at_ms < ?", [Arg::Num(t)]);
        }
        if let Some(b) = q.before_seq {
            and(&mut sql, &mut args, "seq < ?", [Arg::Num(b)]);
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", args.len() + 1));
        let mut query = sqlx::query(&sql);
        for a in args {
            query = match a {
                Arg::Text(t) => query.bind(t),
                Arg::Num(n) => query.bind(n),
            };
        }
        let rows = query
            .bind(q.limit.clamp(1, MAX_AUDIT_PAGE))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Signs the present head, after recording that a checkpoint was taken
    /// (so the checkpoint covers its own entry).
    pub async fn audit_checkpoint(&self, actor: &str) -> Result<Checkpoint> {
        let mut tx = self.pool.begin().await?;
        self.append_audit(&mut tx, actor, "audit.checkpoint", "-", "")
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let (seq, hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let at = self.now();
        let signature = self
            .signing_key()
            .sign(Checkpoint::message(seq, &hash, at).as_bytes());
        Ok(Checkpoint {
            seq,
            head: hash,
            at,
            public_key: self.audit_public_key(),
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Recomputes the whole chain and cross-checks every bound record.
    pub async fn audit_verify(&self) -> Result<Verification> {
        self.audit_verify_against(None).await
    }

    /// As [`Store::audit_verify`], and the log must still hold the entry a
    /// checkpoint recorded, unchanged.
    pub async fn audit_verify_against(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Verification> {
        let mut problems = Problems { list: Vec::new() };
        let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, record, prev_hash, hash FROM audit_log ORDER BY seq")
            .fetch_all(&self.reader)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.reader)
            .await?;
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1;
        let mut chain_ok = true;
        // (table, key) → (digest, seq) of the latest entry vouching for it.
        let mut bound: HashMap<(String, String), (String, i64)> = HashMap::new();
        let mut macs: HashMap<i64, String> = HashMap::new();
        for row in &rows {
            let e = row_to_entry(row)?;
            if chain_ok {
                if e.seq != expected_seq {
                    problems.add(format!(
                        "entry {expected_seq} is missing (found {} next)",
                        e.seq
                    ));
                    chain_ok = false;
                } else if e.prev_hash != prev {
                    problems.add(format!(
                        "entry {} does not follow entry {}",
                        e.seq,
                        e.seq - 1
                    ));
                    chain_ok = false;
                } else if self.entry_mac(
                    &e.prev_hash,
                    e.seq,
                    e.at,
                    &e.actor,
                    &e.action,
                    &e.target,
                    &e.detail,
                    &e.record,
                ) != e.hash
                {
                    problems.add(format!(
                        "entry {} was altered (or written without the master key)",
                        e.seq
                    ));
                    chain_ok = false;
                }
            }
            if let Ok(serde_json::Value::Array(list)) =
                serde_json::from_str::<serde_json::Value>(&e.record)
            {
                for b in list {
                    if let (Some(t), Some(k), Some(d)) =
                        (b[0].as_str(), b[1].as_str(), b[2].as_str())
                    {
                        bound.insert((t.to_string(), k.to_string()), (d.to_string(), e.seq));
                    }
                }
            } else {
                problems.add(format!("entry {} has an unreadable record binding", e.seq));
            }
            macs.insert(e.seq, e.hash.clone());
            prev = e.hash;
            expected_seq += 1;
        }
        let last = expected_seq - 1;
        match head {
            None => problems.add("the audit head is missing".into()),
            Some(h) => {
                let (head_seq, head_hash): (i64, String) = (h.try_get("seq")?, h.try_get("hash")?);
                if chain_ok && (head_seq != last || head_hash != prev) {
                    problems.add(format!(
                        "the log ends at entry {last} but its head records entry {head_seq}"
                    ));
                }
            }
        }
        let mut records_checked = 0u64;
        for t in BOUND_TABLES {
            let rows = sqlx::query(&select_rows(t, ""))
                .fetch_all(&self.reader)
                .await?;
            for row in &rows {
                records_checked += 1;
                let key: String = row.try_get("row_key")?;
                let digest = row_digest(t, row)?;
                match bound.remove(&(t.name.to_string(), key.clone())) {
                    None => problems.add(format!(
                        "{} {key} has no audit entry (written outside Vigil, or its entries were removed)",
                        t.name
                    )),
                    Some((d, seq)) if d != digest => problems.add(format!(
                        "{} {key} differs from what audit entry {seq} recorded (changed outside Vigil)",
                        t.name
                    )),
                    Some(_) => {}
                }
            }
        }
        let mut gone: Vec<_> = bound
            .into_iter()
            .filter(|((t, _), _)| BOUND_TABLES.iter().any(|b| b.name == t))
            .collect();
        gone.sort_by_key(|(_, (_, seq))| *seq);
        for ((t, k), (_, seq)) in gone {
            problems.add(format!(
                "{t} {k} was removed (audit entry {seq} recorded it)"
            ));
        }
        if let Some(cp) = checkpoint {
            if !cp.signature_valid() {
                problems.add("the checkpoint's signature is not valid".into());
            } else if cp.public_key != self.audit_public_key() {
                problems.add("the checkpoint was signed by another installation's key".into());
            }
            match macs.get(&cp.seq) {
                None if last < cp.seq => problems.add(format!(
                    "the log ends at entry {last} but the checkpoint of {} records entry {}: entries were removed (truncated, rewound or wiped)",
                    cp.at, cp.seq
                )),
                None => problems.add(format!(
                    "entry {} of the checkpoint is missing from the log",
                    cp.seq
                )),
                Some(h) if *h != cp.head => problems.add(format!(
                    "entry {} differs from the checkpoint: the log up to it was rewritten",
                    cp.seq
                )),
                Some(_) => {}
            }
        }
        Ok(Verification {
            entries: rows.len() as i64,
            ok: problems.list.is_empty(),
            problem: problems.list.first().cloned(),
            problems: problems.list,
            records_checked,
            checkpoint: checkpoint.map(|c| c.seq),
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
        record: row.try_get("record")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
