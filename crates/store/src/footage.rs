//! CCTV footage of Active Deployments (§7.16): segments sealed as they
//! are recorded, an Alert's clip for an assigned user, and the footage
//! key shredded once nothing is left under it.
//!
//! A segment reaches the store as bytes in memory (the recorder reads
//! ffmpeg's stream copy from a pipe), is sealed under the Deployment's
//! footage key and written as one `media` row, so no plaintext footage is
//! ever on disk. The retention sweeper deletes segments at 31 days unless
//! a legal hold on the Deployment keeps them, and destroys the key of an
//! ended Deployment once its last segment has gone.

use serde::Serialize;
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::Millis;

use crate::{Result, Store, StoreError};

/// The data key footage of a Deployment is sealed under.
pub fn footage_key(deployment_id: &str) -> String {
    format!("deployment/{deployment_id}/footage")
}

/// A recorded stretch of one camera.
#[derive(Debug, Clone, Serialize)]
pub struct FootageSegment {
    pub media_id: String,
    pub camera: String,
    pub start: Millis,
    pub end: Millis,
    pub bytes: i64,
}

/// The footage around an Alert, decrypted for export.
pub struct AlertClip {
    /// The audit entry recording the export (its number watermarks the clip).
    pub audit_seq: i64,
    pub camera: String,
    pub start: Millis,
    pub end: Millis,
    /// The segments' stream copies, concatenated in order.
    pub bytes: Vec<u8>,
}

/// Footage kept either side of an Alert in its clip.
pub const CLIP_MARGIN_MS: Millis = 15_000;

/// A clip never holds more than this (about 4 minutes of a 1080p stream).
pub const MAX_CLIP_BYTES: usize = 256 << 20;

impl Store {
    /// Seals and stores one recorded segment of `camera` for an Active
    /// Deployment.
    pub async fn add_footage_segment(
        &self,
        deployment_id: &str,
        camera_id: &str,
        camera: &str,
        start: Millis,
        end: Millis,
        bytes: &[u8],
    ) -> Result<String> {
        let d = self.deployment(deployment_id).await?;
        if !d.may_process_frames(self.now()) {
            return Err(StoreError::Refused(
                "footage is recorded only while the Deployment is Active".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let id = self
            .put_media(
                &mut tx,
                "footage",
                deployment_id,
                &footage_key(deployment_id),
                bytes,
            )
            .await?;
        sqlx::query("INSERT INTO footage_segments (media_id, deployment_id, camera_id, camera, start_ms, end_ms, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id)
            .bind(deployment_id)
            .bind(camera_id)
            .bind(camera)
            .bind(start)
            .bind(end)
            .bind(bytes.len() as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The segments kept for a Deployment, oldest first.
    pub async fn footage_segments(&self, deployment_id: &str) -> Result<Vec<FootageSegment>> {
        let rows = sqlx::query("SELECT media_id, camera, start_ms, end_ms, bytes FROM footage_segments WHERE deployment_id = $1 ORDER BY start_ms")
            .bind(deployment_id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FootageSegment {
                    media_id: r.try_get("media_id")?,
                    camera: r.try_get("camera")?,
                    start: r.try_get("start_ms")?,
                    end: r.try_get("end_ms")?,
                    bytes: r.try_get("bytes")?,
                })
            })
            .collect()
    }

    /// The footage of an Alert's camera from [`CLIP_MARGIN_MS`] before the
    /// person was first seen to as long after the Alert, for a user who may
    /// see the Alert's images. The export is audited first; the entry's
    /// number is returned to watermark the clip.
    pub async fn alert_clip(&self, viewer: &User, alert_id: &str) -> Result<AlertClip> {
        let row = sqlx::query(
            "SELECT deployment_id, camera, first_seen_ms, raised_ms FROM alerts WHERE id = $1",
        )
        .bind(alert_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("alert {alert_id}")))?;
        let deployment_id: String = row.try_get("deployment_id")?;
        let camera: String = row.try_get("camera")?;
        let first_seen: Millis = row.try_get("first_seen_ms")?;
        let raised: Millis = row.try_get("raised_ms")?;
        let assignment = self.assignment(&deployment_id, &viewer.id).await?;
        if let Err(denied) = access::check(viewer, Action::ViewAlertImages, &assignment) {
            self.audit(&viewer.id, "footage.export.denied", alert_id, "")
                .await?;
            return Err(denied.into());
        }
        let (from, to) = (first_seen - CLIP_MARGIN_MS, raised + CLIP_MARGIN_MS);
        let segments = sqlx::query("SELECT media_id, start_ms, end_ms FROM footage_segments WHERE deployment_id = $1 AND camera = $2 AND end_ms >= $3 AND start_ms <= $4 ORDER BY start_ms")
            .bind(&deployment_id)
            .bind(&camera)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        if segments.is_empty() {
            return Err(StoreError::NotFound(
                "footage of this Alert (not recorded, or deleted under retention)".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let first: Millis = segments[0].try_get("start_ms")?;
        let last: Millis = segments[segments.len() - 1].try_get("end_ms")?;
        let seq = self
            .append_audit(
                &mut tx,
                &viewer.id,
                "footage.export",
                alert_id,
                &format!("{camera}, {} segments, {first}..{last} ms", segments.len()),
            )
            .await?;
        let mut bytes = Vec::new();
        for s in &segments {
            let media: String = s.try_get("media_id")?;
            let part = self.get_media(&mut tx, &media).await?;
            if bytes.len() + part.len() > MAX_CLIP_BYTES {
                break;
            }
            bytes.extend_from_slice(&part);
        }
        tx.commit().await?;
        Ok(AlertClip {
            audit_seq: seq,
            camera,
            start: first,
            end: last,
            bytes,
        })
    }
}
