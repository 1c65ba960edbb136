//! Legal holds and the retention sweeper [RET-1..3; 000 §7.14–7.16].
//!
//! The sweeper deletes what is due, destroys the data keys that protected
//! it, and writes what it did, and why, to the audit log. It runs on a
//! schedule (`spawn_sweeper`) and on demand (`vigil retention run`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::retention::{DataKind, LegalHold, RetentionPolicy};
use vigil_core::Millis;

use crate::alerts::alert_key;
use crate::audit::Bound;
use crate::watchlists::watchlist_key;
use crate::{new_id, Result, Store, StoreError};

/// What a hold protects: one Alert, or everything of a Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    Alert(String),
    Deployment(String),
    /// An RFR/OIFR search, kept for its case.
    Search(String),
}

impl HoldTarget {
    fn key(&self) -> String {
        match self {
            Self::Alert(id) => format!("alert:{id}"),
            Self::Deployment(id) => format!("deployment:{id}"),
            Self::Search(id) => format!("search:{id}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    pub alerts_deleted: u64,
    pub watchlists_deleted: u64,
    pub keys_destroyed: u64,
    pub footage_deleted: u64,
    pub searches_deleted: u64,
    pub held_back: u64,
    pub deployments_stopped: u64,
}

/// One item the sweeper will delete, and when. Carries no personal data:
/// an Auditor/DPO reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueItem {
    pub kind: DataKind,
    pub target: String,
    /// None while a Watchlist's Deployment has not ended.
    pub due_at: Option<Millis>,
    pub held: bool,
}

impl Store {
    async fn deployment_of_alert(&self, alert_id: &str) -> Result<String> {
        let r = sqlx::query("SELECT deployment_id FROM alerts WHERE id = $1")
            .bind(alert_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {alert_id}")))?;
        Ok(r.try_get("deployment_id")?)
    }

    /// Places a legal hold, suspending deletion with a recorded reason.
    pub async fn place_hold(
        &self,
        who: &User,
        target: HoldTarget,
        reason: &str,
    ) -> Result<LegalHold> {
        let assignment = match &target {
            HoldTarget::Alert(id) => {
                let deployment = self.deployment_of_alert(id).await?;
                self.assignment(&deployment, &who.id).await?
            }
            HoldTarget::Deployment(id) => {
                let deployment = self.deployment(id).await?.id;
                self.assignment(&deployment, &who.id).await?
            }
            HoldTarget::Search(id) => {
                self.search_exists(id).await?;
                Vec::new()
            }
        };
        access::check(who, Action::PlaceLegalHold, &assignment)?;
        if reason.trim().is_empty() {
            return Err(StoreError::BadInput(
                "a legal hold needs a recorded reason".into(),
            ));
        }
        let hold = LegalHold {
            id: new_id(),
            target: target.key(),
            reason: reason.into(),
            placed_by: who.id.clone(),
            placed_at: self.now(),
            released_at: None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO legal_holds (id, target, reason, placed_by, placed_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&hold.id)
            .bind(&hold.target)
            .bind(&hold.reason)
            .bind(&hold.placed_by)
            .bind(hold.placed_at)
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, &who.id, "hold.place", &hold.target, reason)
            .await?;
        tx.commit().await?;
        Ok(hold)
    }

    pub async fn release_hold(&self, who: &User, hold_id: &str, reason: &str) -> Result<()> {
        let r = sqlx::query("SELECT target FROM legal_holds WHERE id = $1 AND released_ms IS NULL")
            .bind(hold_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("active legal hold {hold_id}")))?;
        let target: String = r.try_get("target")?;
        let assignment = match target.split_once(':') {
            Some(("alert", id)) => {
                let deployment = self.deployment_of_alert(id).await?;
                self.assignment(&deployment, &who.id).await?
            }
            Some(("search", _)) => Vec::new(),
            Some((_, id)) => self.assignment(id, &who.id).await?,
            None => return Err(StoreError::Corrupt(format!("hold target {target}"))),
        };
        access::check(who, Action::ReleaseLegalHold, &assignment)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE legal_holds SET released_ms = $1 WHERE id = $2")
            .bind(self.now())
            .bind(hold_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, &who.id, "hold.release", &target, reason)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn held(&self, targets: &[String]) -> Result<bool> {
        for t in targets {
            let n =
                sqlx::query("SELECT id FROM legal_holds WHERE target = $1 AND released_ms IS NULL")
                    .bind(t)
                    .fetch_all(&self.pool)
                    .await?
                    .len();
            if n > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The legal holds in force: what is kept past its retention, and why.
    pub async fn active_holds(&self, viewer: &User) -> Result<Vec<LegalHold>> {
        access::check(viewer, Action::ReadRetention, &[])?;
        sqlx::query("SELECT id, target, reason, placed_by, placed_ms FROM legal_holds WHERE released_ms IS NULL ORDER BY placed_ms")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| {
                Ok(LegalHold {
                    id: r.try_get("id")?,
                    target: r.try_get("target")?,
                    reason: r.try_get("reason")?,
                    placed_by: r.try_get("placed_by")?,
                    placed_at: r.try_get("placed_ms")?,
                    released_at: None,
                })
            })
            .collect()
    }

    /// What is due for deletion, and when.
    pub async fn retention_status(
        &self,
        viewer: &User,
        policy: &RetentionPolicy,
    ) -> Result<Vec<DueItem>> {
        access::check(viewer, Action::ReadRetention, &[])?;
        let mut items = Vec::new();
        for r in sqlx::query("SELECT id, deployment_id, raised_ms FROM alerts WHERE deleted_ms IS NULL ORDER BY raised_ms").fetch_all(&self.pool).await? {
            let id: String = r.try_get("id")?;
            let dep: String = r.try_get("deployment_id")?;
            items.push(DueItem {
                kind: DataKind::Alert,
                due_at: policy.due_at(DataKind::Alert, Some(r.try_get("raised_ms")?)),
                held: self.held(&[format!("alert:{id}"), format!("deployment:{dep}")]).await?,
                target: format!("alert {id}"),
            });
        }
        for r in sqlx::query("SELECT id, ended_ms FROM deployments WHERE watchlist_deleted_ms IS NULL ORDER BY created_ms").fetch_all(&self.pool).await? {
            let id: String = r.try_get("id")?;
            items.push(DueItem {
                kind: DataKind::Watchlist,
                due_at: policy.due_at(DataKind::Watchlist, r.try_get("ended_ms")?),
                held: self.held(&[format!("deployment:{id}")]).await?,
                target: format!("watchlist of deployment {id}"),
            });
        }
        for r in sqlx::query(
            "SELECT id, created_ms FROM searches WHERE deleted_ms IS NULL ORDER BY created_ms",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let id: String = r.try_get("id")?;
            items.push(DueItem {
                kind: DataKind::Search,
                due_at: policy.due_at(DataKind::Search, Some(r.try_get("created_ms")?)),
                held: self.held(&[format!("search:{id}")]).await?,
                target: format!("search {id}"),
            });
        }
        for r in sqlx::query(
            "SELECT id, owner_id, created_ms FROM media WHERE kind = 'footage' ORDER BY created_ms",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let owner: String = r.try_get("owner_id")?;
            items.push(DueItem {
                kind: DataKind::Footage,
                due_at: policy.due_at(DataKind::Footage, Some(r.try_get("created_ms")?)),
                held: self.held(&[format!("deployment:{owner}")]).await?,
                target: format!("footage {}", r.try_get::<String, _>("id")?),
            });
        }
        Ok(items)
    }

    /// Deletes everything that is due under `policy` and not held.
    pub async fn retention_run(
        &self,
        actor: &str,
        policy: &RetentionPolicy,
    ) -> Result<SweepReport> {
        let mut report = SweepReport {
            deployments_stopped: self.tick_deployments().await?.len() as u64,
            ..Default::default()
        };
        let now = self.now();

        // Alerts past their rule: images and every link to the person go;
        // a tombstone (outcome, times, score) stays for the statistics.
        let rows =
            sqlx::query("SELECT id, deployment_id, raised_ms FROM alerts WHERE deleted_ms IS NULL")
                .fetch_all(&self.pool)
                .await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            let dep: String = r.try_get("deployment_id")?;
            if !policy.is_due(DataKind::Alert, Some(r.try_get("raised_ms")?), false, now) {
                continue;
            }
            if self
                .held(&[format!("alert:{id}"), format!("deployment:{dep}")])
                .await?
            {
                report.held_back += 1;
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM media WHERE owner_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE alerts SET subject_ref = NULL, watchlist_entry_id = NULL, quality = NULL, probe_media = NULL, candidate_media = NULL, deleted_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE adjudications SET note = '' WHERE alert_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let seqs: Vec<i64> = sqlx::query("SELECT seq FROM adjudications WHERE alert_id = $1")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("seq"))
                .collect::<std::result::Result<_, _>>()?;
            let mut bound = vec![Bound::Alert(&id)];
            bound.extend(seqs.iter().map(|s| Bound::Adjudication(&id, *s)));
            self.append_audit_bound(
                &mut tx,
                actor,
                "retention.alert.delete",
                &id,
                "Alert personal data past 31 days (000 §7.15)",
                &bound,
            )
            .await?;
            tx.commit().await?;
            report.alerts_deleted += 1;
        }

        // Watchlists 24 hours after their Deployment ended.
        let rows = sqlx::query("SELECT id, ended_ms FROM deployments WHERE ended_ms IS NOT NULL AND watchlist_deleted_ms IS NULL").fetch_all(&self.pool).await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            if !policy.is_due(DataKind::Watchlist, r.try_get("ended_ms")?, false, now) {
                continue;
            }
            if self.held(&[format!("deployment:{id}")]).await? {
                report.held_back += 1;
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let entries = sqlx::query("DELETE FROM watchlist_entries WHERE deployment_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let images = self.destroy_key(&mut tx, &watchlist_key(&id)).await?;
            sqlx::query("UPDATE deployments SET watchlist_deleted_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            self.append_audit_bound(
                &mut tx,
                actor,
                "retention.watchlist.delete",
                &id,
                &format!(
                    "{entries} entries, {images} images; watchlist key destroyed (000 §7.14b)"
                ),
                &[Bound::Deployment(&id)],
            )
            .await?;
            tx.commit().await?;
            report.watchlists_deleted += 1;
            report.keys_destroyed += 1;
        }

        // Once an ended Deployment has no live Alerts, its alert key goes too.
        let rows = sqlx::query("SELECT id FROM deployments WHERE ended_ms IS NOT NULL AND alert_key_destroyed_ms IS NULL").fetch_all(&self.pool).await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            let live = sqlx::query(
                "SELECT id FROM alerts WHERE deployment_id = $1 AND deleted_ms IS NULL",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .len();
            if live > 0 {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            self.destroy_key(&mut tx, &alert_key(&id)).await?;
            sqlx::query("UPDATE deployments SET alert_key_destroyed_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            self.append_audit_bound(
                &mut tx,
                actor,
                "retention.alert_key.destroy",
                &id,
                "no Alert of the Deployment remains",
                &[Bound::Deployment(&id)],
            )
            .await?;
            tx.commit().await?;
            report.keys_destroyed += 1;
        }

        // Footage past 31 days.
        let rows = sqlx::query("SELECT id, owner_id, created_ms FROM media WHERE kind = 'footage'")
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let mid: String = r.try_get("id")?;
            let owner: String = r.try_get("owner_id")?;
            if !policy.is_due(
                DataKind::Footage,
                Some(r.try_get("created_ms")?),
                false,
                now,
            ) {
                continue;
            }
            if self.held(&[format!("deployment:{owner}")]).await? {
                report.held_back += 1;
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM media WHERE id = $1")
                .bind(&mid)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM footage_segments WHERE media_id = $1")
                .bind(&mid)
                .execute(&mut *tx)
                .await?;
            self.append_audit(
                &mut tx,
                actor,
                "retention.footage.delete",
                &mid,
                "footage past 31 days (000 §7.16)",
            )
            .await?;
            tx.commit().await?;
            report.footage_deleted += 1;
        }
        // An ended Deployment with no footage left: its footage key goes,
        // so nothing recorded under it can ever be read again.
        let rows = sqlx::query("SELECT id FROM deployments WHERE ended_ms IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            let key = crate::footage::footage_key(&id);
            let live: Option<Option<i64>> =
                sqlx::query_scalar("SELECT destroyed_ms FROM data_keys WHERE key_id = $1")
                    .bind(&key)
                    .fetch_optional(&self.pool)
                    .await?;
            if !matches!(live, Some(None)) {
                continue;
            }
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM media WHERE key_id = $1")
                .bind(&key)
                .fetch_one(&self.pool)
                .await?;
            if left > 0 {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            self.destroy_key(&mut tx, &key).await?;
            self.append_audit(
                &mut tx,
                actor,
                "retention.footage.key.destroy",
                &id,
                "no footage of the ended Deployment remains",
            )
            .await?;
            tx.commit().await?;
            report.keys_destroyed += 1;
        }
        // RFR/OIFR search results past their rule: probe faces (and the
        // search's key), candidates and reviews go; who searched, when, for
        // which case and why stay, for accountability.
        let rows = sqlx::query("SELECT id, created_ms FROM searches WHERE deleted_ms IS NULL")
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            if !policy.is_due(DataKind::Search, Some(r.try_get("created_ms")?), false, now) {
                continue;
            }
            if self.held(&[format!("search:{id}")]).await? {
                report.held_back += 1;
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let probes = self
                .destroy_key(&mut tx, &crate::searches::search_key(&id))
                .await?;
            let candidates = sqlx::query("DELETE FROM search_candidates WHERE search_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM search_faces WHERE search_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE searches SET deleted_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            self.append_audit(
                &mut tx,
                actor,
                "retention.search.delete",
                &id,
                &format!("{probes} probe images, {candidates} candidates; search key destroyed"),
            )
            .await?;
            tx.commit().await?;
            report.searches_deleted += 1;
            report.keys_destroyed += 1;
        }
        if report.keys_destroyed > 0 {
            self.scrub_after_shredding().await?;
        }
        if report != SweepReport::default() {
            tracing::info!(?report, "retention sweep");
        }
        Ok(report)
    }

    /// Stores footage of a Deployment, encrypted under its own footage key.
    pub async fn add_footage(&self, deployment_id: &str, bytes: &[u8]) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        let key = crate::footage::footage_key(deployment_id);
        let id = self
            .put_media(&mut tx, "footage", deployment_id, &key, bytes)
            .await?;
        self.append_audit(&mut tx, "system", "footage.add", deployment_id, &id)
            .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// Runs the sweeper every `every` until the returned handle is aborted.
pub fn spawn_sweeper(
    store: Arc<Store>,
    policy: RetentionPolicy,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = store.retention_run("retention-sweeper", &policy).await {
                tracing::error!(error = %e, "retention sweep failed; will retry");
            }
        }
    })
}
