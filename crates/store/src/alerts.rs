//! Alerts: raised by the live pipeline, adjudicated by people, images read
//! only by assigned users and every read audited [ALR-*, RET-4].

use serde::Serialize;
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::alert::{adjudicate, Adjudication, AlertState, Decision};
use vigil_core::Millis;

use crate::audit::Bound;
use crate::deployments::{from_json, to_json};
use crate::{new_id, Result, Store, StoreError};

/// The most Alerts one page returns.
pub const MAX_ALERTS_PAGE: i64 = 500;

pub(crate) fn alert_key(deployment_id: &str) -> String {
    format!("deployment/{deployment_id}/alerts")
}

/// What the live pipeline hands over when a match crosses the Threshold.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub deployment_id: String,
    pub camera: String,
    pub watchlist_entry_id: String,
    pub score: f64,
    /// When the face first entered the Zone of Recognition.
    pub first_seen: Millis,
    /// Quality measures of the probe, as JSON.
    pub quality: String,
    pub probe_image: Vec<u8>,
    pub candidate_image: Vec<u8>,
    /// The whole frame (downscaled), opened by the Operator on demand. It
    /// is a media row of kind `alert-scene` owned by the Alert, so it is
    /// sealed under the same key and deleted with the Alert's images.
    pub scene_image: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub id: String,
    pub deployment_id: String,
    pub camera: String,
    /// None once deleted under retention.
    pub subject_ref: Option<String>,
    pub blue: bool,
    pub score: f64,
    pub first_seen: Millis,
    pub raised: Millis,
    pub recognition_time_ms: Millis,
    pub state: AlertState,
    pub quality: Option<String>,
    pub deleted: Option<Millis>,
    pub adjudications: Vec<Adjudication>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum AlertImage {
    Probe,
    Candidate,
    Scene,
}

impl AlertImage {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Store {
    /// Stores an Alert with its images, encrypted under the Deployment's
    /// alert key. Refused unless the Deployment may process frames now.
    pub async fn raise_alert(&self, a: NewAlert) -> Result<AlertRecord> {
        let d = self.deployment(&a.deployment_id).await?;
        let now = self.now();
        if !d.may_process_frames(now) {
            return Err(StoreError::Conflict(format!(
                "no Alerts outside an active Deployment (it is {:?})",
                d.state
            )));
        }
        let entry = self
            .watchlist(&a.deployment_id)
            .await?
            .into_iter()
            .find(|e| e.id == a.watchlist_entry_id)
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "watchlist entry {} of this Deployment",
                    a.watchlist_entry_id
                ))
            })?;
        let id = new_id();
        let key = alert_key(&a.deployment_id);
        let mut tx = self.pool.begin().await?;
        let probe = self
            .put_media(&mut tx, "alert", &id, &key, &a.probe_image)
            .await?;
        let candidate = self
            .put_media(&mut tx, "alert", &id, &key, &a.candidate_image)
            .await?;
        if let Some(scene) = a.scene_image.as_deref().filter(|s| !s.is_empty()) {
            self.put_media(&mut tx, "alert-scene", &id, &key, scene)
                .await?;
        }
        sqlx::query("INSERT INTO alerts (id, deployment_id, camera, watchlist_entry_id, subject_ref, blue, score, first_seen_ms, raised_ms, state, quality, probe_media, candidate_media) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
            .bind(&id)
            .bind(&a.deployment_id)
            .bind(&a.camera)
            .bind(&entry.id)
            .bind(&entry.subject_ref)
            .bind(i64::from(entry.blue))
            .bind(a.score)
            .bind(a.first_seen)
            .bind(now)
            .bind(AlertState::Raised.as_str())
            .bind(&a.quality)
            .bind(&probe)
            .bind(&candidate)
            .execute(&mut *tx)
            .await?;
        self.append_audit_bound(
            &mut tx,
            "system",
            "alert.raise",
            &id,
            &format!(
                "deployment {} camera {} score {:.3}",
                a.deployment_id, a.camera, a.score
            ),
            &[Bound::Alert(&id)],
        )
        .await?;
        tx.commit().await?;
        self.publish(&a.deployment_id, &id, "raised").await;
        self.load_alert(&id).await
    }

    async fn load_alert(&self, id: &str) -> Result<AlertRecord> {
        let mut list = self
            .query_alerts("a.id = $1", |q| q.bind(id.to_string()), 1)
            .await?;
        list.pop()
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
    }

    /// Alerts matching `filter` (SQL over `a`, the alerts table, with its
    /// parameters bound by `bind`), newest first, with their adjudications:
    /// one query, read from the reader pool.
    async fn query_alerts(
        &self,
        filter: &str,
        bind: impl for<'q> FnOnce(
            sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        )
            -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        limit: i64,
    ) -> Result<Vec<AlertRecord>> {
        let sql = format!(
            "SELECT a.id, a.deployment_id, a.camera, a.subject_ref, a.blue, a.score, a.first_seen_ms, a.raised_ms, a.state, a.quality, a.deleted_ms, \
             j.seq AS adj_seq, j.at_ms AS adj_at, j.actor AS adj_actor, j.decision AS adj_decision, j.note AS adj_note \
             FROM (SELECT * FROM alerts a WHERE {filter} ORDER BY a.raised_ms DESC, a.id LIMIT {limit}) a \
             LEFT JOIN adjudications j ON j.alert_id = a.id \
             ORDER BY a.raised_ms DESC, a.id, j.seq"
        );
        let rows = bind(sqlx::query(&sql)).fetch_all(&self.reader).await?;
        let mut out: Vec<AlertRecord> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            if out.last().is_none_or(|a| a.id != id) {
                let state: String = r.try_get("state")?;
                let first_seen: i64 = r.try_get("first_seen_ms")?;
                let raised: i64 = r.try_get("raised_ms")?;
                out.push(AlertRecord {
                    id,
                    deployment_id: r.try_get("deployment_id")?,
                    camera: r.try_get("camera")?,
                    subject_ref: r.try_get("subject_ref")?,
                    blue: r.try_get::<i64, _>("blue")? != 0,
                    score: r.try_get("score")?,
                    first_seen,
                    raised,
                    recognition_time_ms: raised - first_seen,
                    state: AlertState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("alert state {state}")))?,
                    quality: r.try_get("quality")?,
                    deleted: r.try_get("deleted_ms")?,
                    adjudications: Vec::new(),
                });
            }
            if r.try_get::<Option<i64>, _>("adj_seq")?.is_some() {
                let a = out
                    .last_mut()
                    .ok_or_else(|| StoreError::Corrupt("alert row".into()))?;
                a.adjudications.push(Adjudication {
                    at: r.try_get("adj_at")?,
                    actor: r.try_get("adj_actor")?,
                    decision: from_json(&r.try_get::<String, _>("adj_decision")?)?,
                    note: r.try_get("adj_note")?,
                });
            }
        }
        Ok(out)
    }

    /// One Alert, for a user assigned to its Deployment.
    pub async fn alert(&self, viewer: &User, id: &str) -> Result<AlertRecord> {
        let a = self.load_alert(id).await?;
        let assignment = self.assignment(&a.deployment_id, &viewer.id).await?;
        access::check(viewer, Action::ViewAlerts, &assignment)?;
        Ok(a)
    }

    /// A page of a Deployment's Alerts, newest first, for an assigned user:
    /// at most `limit` (capped at [`MAX_ALERTS_PAGE`]), and only those
    /// raised before the Alert `before` when given (the next page).
    pub async fn alerts(
        &self,
        viewer: &User,
        deployment_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AlertRecord>> {
        let assignment = self.assignment(deployment_id, &viewer.id).await?;
        access::check(viewer, Action::ViewAlerts, &assignment)?;
        let limit = limit.clamp(1, MAX_ALERTS_PAGE);
        let dep = deployment_id.to_string();
        match before {
            None => {
                self.query_alerts("a.deployment_id = $1", |q| q.bind(dep), limit)
                    .await
            }
            Some(b) => {
                let cursor = sqlx::query(
                    "SELECT raised_ms FROM alerts WHERE id = $1 AND deployment_id = $2",
                )
                .bind(b)
                .bind(deployment_id)
                .fetch_optional(&self.reader)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("alert {b} of this Deployment")))?;
                let at: i64 = cursor.try_get("raised_ms")?;
                let b = b.to_string();
                self.query_alerts(
                    "a.deployment_id = $1 AND (a.raised_ms < $2 OR (a.raised_ms = $2 AND a.id > $3))",
                    |q| q.bind(dep).bind(at).bind(b),
                    limit,
                )
                .await
            }
        }
    }

    /// The Probe, Candidate or scene image of an Alert. Only users assigned to the
    /// Alert's Deployment may read it, and every attempt — granted or
    /// refused — is written to the audit log before anything is returned.
    pub async fn alert_image(&self, viewer: &User, id: &str, which: AlertImage) -> Result<Vec<u8>> {
        let row = sqlx::query(
            "SELECT deployment_id, probe_media, candidate_media FROM alerts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        let deployment_id: String = row.try_get("deployment_id")?;
        let assignment = self.assignment(&deployment_id, &viewer.id).await?;
        let what = which.as_str();
        if let Err(denied) = access::check(viewer, Action::ViewAlertImages, &assignment) {
            self.audit(&viewer.id, "alert.image.denied", id, what)
                .await?;
            return Err(denied.into());
        }
        let media: Option<String> = match which {
            AlertImage::Probe => row.try_get("probe_media")?,
            AlertImage::Candidate => row.try_get("candidate_media")?,
            AlertImage::Scene => {
                sqlx::query("SELECT id FROM media WHERE owner_id = $1 AND kind = 'alert-scene'")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("id"))
                    .transpose()?
            }
        };
        let media = media.ok_or_else(|| {
            StoreError::NotFound("alert image (not recorded, or deleted under retention)".into())
        })?;
        let mut tx = self.pool.begin().await?;
        self.append_audit(&mut tx, &viewer.id, "alert.image.view", id, what)
            .await?;
        let bytes = self.get_media(&mut tx, &media).await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// Records an Operator's or Engagement Officer's decision.
    pub async fn adjudicate(
        &self,
        who: &User,
        id: &str,
        decision: Decision,
        note: &str,
    ) -> Result<AlertRecord> {
        let current = self.load_alert(id).await?;
        if current.deleted.is_some() {
            return Err(StoreError::Conflict(
                "the Alert has been deleted under retention".into(),
            ));
        }
        let assignment = self.assignment(&current.deployment_id, &who.id).await?;
        let next = adjudicate(current.state, decision, who, &assignment)?;
        let mut tx = self.pool.begin().await?;
        // The state check in the UPDATE makes two racing decisions on one
        // Alert impossible: the second finds the state already moved.
        let n = sqlx::query("UPDATE alerts SET state = $1 WHERE id = $2 AND state = $3")
            .bind(next.as_str())
            .bind(id)
            .bind(current.state.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(
                "the Alert was adjudicated by someone else meanwhile".into(),
            ));
        }
        let seq = current.adjudications.len() as i64;
        sqlx::query("INSERT INTO adjudications (alert_id, seq, at_ms, actor, decision, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(seq)
            .bind(self.now())
            .bind(&who.id)
            .bind(to_json(&decision)?)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        self.append_audit_bound(
            &mut tx,
            &who.id,
            "alert.adjudicate",
            id,
            &format!("{:?} -> {:?}", current.state, next),
            &[Bound::Alert(id), Bound::Adjudication(id, seq)],
        )
        .await?;
        tx.commit().await?;
        self.publish(&current.deployment_id, id, "adjudicated")
            .await;
        self.load_alert(id).await
    }
}
