//! Alerts: raised by the live pipeline, adjudicated by people, images read
//! only by assigned users and every read audited [ALR-*, RET-4].

use serde::Serialize;
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::alert::{adjudicate, Adjudication, AlertState, Decision};
use vigil_core::Millis;

use crate::deployments::{from_json, to_json};
use crate::{new_id, Result, Store, StoreError};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertImage {
    Probe,
    Candidate,
}

impl Store {
    /// Stores an Alert with its images, encrypted under the Deployment's
    /// alert key. Refused unless the Deployment may process frames now.
    pub async fn raise_alert(&self, a: NewAlert) -> Result<AlertRecord> {
        let d = self.deployment(&a.deployment_id).await?;
        let now = self.now();
        if !d.may_process_frames(now) {
            return Err(StoreError::Invalid(format!(
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
        self.append_audit(
            &mut tx,
            "system",
            "alert.raise",
            &id,
            &format!(
                "deployment {} camera {} score {:.3}",
                a.deployment_id, a.camera, a.score
            ),
        )
        .await?;
        tx.commit().await?;
        self.publish(&a.deployment_id, &id, "raised");
        self.load_alert(&id).await
    }

    async fn load_alert(&self, id: &str) -> Result<AlertRecord> {
        let r = sqlx::query("SELECT id, deployment_id, camera, subject_ref, blue, score, first_seen_ms, raised_ms, state, quality, deleted_ms FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        let adj = sqlx::query("SELECT at_ms, actor, decision, note FROM adjudications WHERE alert_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let state: String = r.try_get("state")?;
        let first_seen: i64 = r.try_get("first_seen_ms")?;
        let raised: i64 = r.try_get("raised_ms")?;
        Ok(AlertRecord {
            id: r.try_get("id")?,
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
            adjudications: adj
                .iter()
                .map(|a| {
                    Ok(Adjudication {
                        at: a.try_get("at_ms")?,
                        actor: a.try_get("actor")?,
                        decision: from_json(&a.try_get::<String, _>("decision")?)?,
                        note: a.try_get("note")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        })
    }

    /// One Alert, for a user assigned to its Deployment.
    pub async fn alert(&self, viewer: &User, id: &str) -> Result<AlertRecord> {
        let a = self.load_alert(id).await?;
        let assignment = self.assignment(&a.deployment_id, &viewer.id).await?;
        access::check(viewer, Action::ViewAlerts, &assignment)?;
        Ok(a)
    }

    /// A Deployment's Alerts, newest first, for an assigned user.
    pub async fn alerts(&self, viewer: &User, deployment_id: &str) -> Result<Vec<AlertRecord>> {
        let assignment = self.assignment(deployment_id, &viewer.id).await?;
        access::check(viewer, Action::ViewAlerts, &assignment)?;
        let rows = sqlx::query(
            "SELECT id FROM alerts WHERE deployment_id = $1 ORDER BY raised_ms DESC, id",
        )
        .bind(deployment_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.load_alert(&r.try_get::<String, _>("id")?).await?);
        }
        Ok(out)
    }

    /// The Probe or Candidate image of an Alert. Only users assigned to the
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
        let what = match which {
            AlertImage::Probe => "probe",
            AlertImage::Candidate => "candidate",
        };
        if let Err(denied) = access::check(viewer, Action::ViewAlertImages, &assignment) {
            self.audit(&viewer.id, "alert.image.denied", id, what)
                .await?;
            return Err(denied.into());
        }
        let media: Option<String> = row.try_get(match which {
            AlertImage::Probe => "probe_media",
            AlertImage::Candidate => "candidate_media",
        })?;
        let media = media
            .ok_or_else(|| StoreError::NotFound("alert image (deleted under retention)".into()))?;
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
            return Err(StoreError::Invalid(
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
            return Err(StoreError::Invalid(
                "the Alert was adjudicated by someone else meanwhile".into(),
            ));
        }
        sqlx::query("INSERT INTO adjudications (alert_id, seq, at_ms, actor, decision, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(current.adjudications.len() as i64)
            .bind(self.now())
            .bind(&who.id)
            .bind(to_json(&decision)?)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &who.id,
            "alert.adjudicate",
            id,
            &format!("{:?} -> {:?}", current.state, next),
        )
        .await?;
        tx.commit().await?;
        self.publish(&current.deployment_id, id, "adjudicated");
        self.load_alert(id).await
    }
}
