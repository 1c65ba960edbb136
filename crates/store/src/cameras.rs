//! Registered cameras, their sealed credentials, and the leases by which
//! workers share them out.
//!
//! A camera job is a camera named by the Application of a Deployment that
//! is Active or Suspended (Suspended keeps the stream open so Resume is
//! instant; the gate in the live pipeline stops analysis). A worker runs a
//! job only while it holds the camera's lease row: it claims a row that is
//! free or whose lease ran out, renews it every few seconds with the
//! camera's health, and stops the camera as soon as a renewal finds the
//! row taken. The claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE`,
//! atomic on SQLite and PostgreSQL alike, so two workers never both hold
//! a camera; a dead worker's cameras pass to another within one lease.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::camera::{Camera, CameraCredentials, CameraSettings};
use vigil_core::deployment::DeploymentState;
use vigil_core::Millis;

use crate::{crypto, new_id, Result, Store, StoreError};

const CREDENTIALS_KEY: &str = "vigil camera credentials v1";

/// What an update does to a camera's stored credentials.
#[derive(Debug, Clone)]
pub enum CredentialChange {
    Keep,
    Set(CameraCredentials),
    Clear,
}

/// A camera due to run for a Deployment.
#[derive(Debug, Clone)]
pub struct CameraJob {
    pub deployment_id: String,
    pub camera: Camera,
}

/// Who runs a camera, until when, and its last reported health.
#[derive(Debug, Clone, Serialize)]
pub struct CameraLease {
    pub camera_id: String,
    pub deployment_id: String,
    pub worker: String,
    pub lease_until: Millis,
    /// The live pipeline's health report (counts and states only).
    pub health: Option<serde_json::Value>,
    pub updated: Millis,
}

fn invalid(e: vigil_core::camera::CameraError) -> StoreError {
    StoreError::BadInput(e.0)
}

fn camera_from_row(row: &AnyRow) -> Result<Camera> {
    let settings: String = row.try_get("settings")?;
    let settings: CameraSettings =
        serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sealed: Option<Vec<u8>> = row.try_get("credentials_sealed")?;
    let disabled: Option<i64> = row.try_get("disabled_ms")?;
    Ok(Camera {
        id: row.try_get("id")?,
        settings,
        has_credentials: sealed.is_some(),
        disabled: disabled.is_some(),
    })
}

const CAMERA_COLUMNS: &str = "id, settings, credentials_sealed, disabled_ms";

impl Store {
    fn seal_credentials(&self, camera_id: &str, c: &CameraCredentials) -> Result<Vec<u8>> {
        let key = self.master.subkey(CREDENTIALS_KEY);
        let plain = serde_json::to_vec(c).map_err(|e| StoreError::BadInput(e.to_string()))?;
        crypto::seal(&key, camera_id.as_bytes(), &plain)
    }

    /// Registers a camera (Administrators). The audit entry names the camera,
    /// never its credentials.
    pub async fn register_camera(
        &self,
        admin: &User,
        settings: CameraSettings,
        credentials: Option<CameraCredentials>,
    ) -> Result<Camera> {
        access::check(admin, Action::ConfigureSystem, &[])?;
        settings.validate().map_err(invalid)?;
        if let Some(c) = &credentials {
            c.validate().map_err(invalid)?;
        }
        let id = new_id();
        let sealed = credentials
            .as_ref()
            .map(|c| self.seal_credentials(&id, c))
            .transpose()?;
        let json =
            serde_json::to_string(&settings).map_err(|e| StoreError::BadInput(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT id FROM cameras WHERE name = $1")
            .bind(settings.name.trim())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a camera named {:?} is already registered",
                settings.name.trim()
            )));
        }
        sqlx::query("INSERT INTO cameras (id, name, settings, credentials_sealed, disabled_ms, created_ms, updated_ms) VALUES ($1, $2, $3, $4, NULL, $5, $5)")
            .bind(&id)
            .bind(settings.name.trim())
            .bind(&json)
            .bind(sealed)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, &admin.id, "camera.register", &id, &settings.name)
            .await?;
        tx.commit().await?;
        self.camera(&id).await
    }

    /// Changes a camera's settings and, if asked, its credentials.
    pub async fn update_camera(
        &self,
        admin: &User,
        id: &str,
        settings: CameraSettings,
        credentials: CredentialChange,
    ) -> Result<Camera> {
        access::check(admin, Action::ConfigureSystem, &[])?;
        settings.validate().map_err(invalid)?;
        let current = self.camera(id).await?;
        let json =
            serde_json::to_string(&settings).map_err(|e| StoreError::BadInput(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let clash = sqlx::query("SELECT id FROM cameras WHERE name = $1 AND id <> $2")
            .bind(settings.name.trim())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if clash.is_some() {
            return Err(StoreError::Conflict(format!(
                "a camera named {:?} is already registered",
                settings.name.trim()
            )));
        }
        sqlx::query("UPDATE cameras SET name = $1, settings = $2, updated_ms = $3 WHERE id = $4")
            .bind(settings.name.trim())
            .bind(&json)
            .bind(self.now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let what = match &credentials {
            CredentialChange::Keep => "settings",
            CredentialChange::Set(c) => {
                c.validate().map_err(invalid)?;
                let sealed = self.seal_credentials(id, c)?;
                sqlx::query("UPDATE cameras SET credentials_sealed = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                "settings and credentials"
            }
            CredentialChange::Clear => {
                sqlx::query("UPDATE cameras SET credentials_sealed = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                "settings; credentials removed"
            }
        };
        self.append_audit(
            &mut tx,
            &admin.id,
            "camera.update",
            id,
            &format!("{} ({what})", current.settings.name),
        )
        .await?;
        tx.commit().await?;
        self.camera(id).await
    }

    /// Takes a camera out of service (or back): a disabled camera is not
    /// run for any Deployment.
    pub async fn set_camera_disabled(
        &self,
        admin: &User,
        id: &str,
        disabled: bool,
        reason: &str,
    ) -> Result<Camera> {
        access::check(admin, Action::ConfigureSystem, &[])?;
        crate::accounts::check_reason(reason)?;
        self.camera(id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE cameras SET disabled_ms = $1, updated_ms = $2 WHERE id = $3")
            .bind(disabled.then(|| self.now()))
            .bind(self.now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let action = if disabled {
            "camera.disable"
        } else {
            "camera.enable"
        };
        self.append_audit(&mut tx, &admin.id, action, id, reason.trim())
            .await?;
        tx.commit().await?;
        self.camera(id).await
    }

    pub async fn camera(&self, id: &str) -> Result<Camera> {
        let row = sqlx::query(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))?;
        camera_from_row(&row)
    }

    pub async fn cameras(&self) -> Result<Vec<Camera>> {
        sqlx::query(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras ORDER BY name"
        ))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(camera_from_row)
        .collect()
    }

    /// The credentials of a camera, for the worker about to open its
    /// stream; each opening is audited under the worker's name.
    pub async fn camera_credentials(
        &self,
        worker: &str,
        id: &str,
    ) -> Result<Option<CameraCredentials>> {
        let row = sqlx::query("SELECT credentials_sealed FROM cameras WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))?;
        let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>("credentials_sealed")? else {
            return Ok(None);
        };
        let key = self.master.subkey(CREDENTIALS_KEY);
        let plain = crypto::open(&key, id.as_bytes(), &sealed)?;
        let c = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.audit(
            &format!("worker:{worker}"),
            "camera.credentials.open",
            id,
            "",
        )
        .await?;
        Ok(Some(c))
    }

    /// An Application may name only registered cameras, each once.
    pub async fn check_application_cameras(&self, ids: &[String]) -> Result<()> {
        if ids.len() > 64 {
            return Err(StoreError::BadInput(
                "an Application names at most 64 cameras".into(),
            ));
        }
        let known = self.cameras().await?;
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(StoreError::BadInput(format!("camera {id} is named twice")));
            }
            if !known.iter().any(|c| &c.id == id) {
                return Err(StoreError::BadInput(format!(
                    "camera {id} is not registered"
                )));
            }
        }
        Ok(())
    }

    /// Every camera that should be running now, with its Deployment.
    pub async fn camera_jobs(&self) -> Result<Vec<CameraJob>> {
        let cameras = self.cameras().await?;
        let mut jobs = Vec::new();
        for d in self.deployments().await? {
            if !matches!(
                d.state,
                DeploymentState::Active | DeploymentState::Suspended
            ) {
                continue;
            }
            for id in &d.application.cameras {
                if let Some(c) = cameras.iter().find(|c| &c.id == id && !c.disabled) {
                    jobs.push(CameraJob {
                        deployment_id: d.id.clone(),
                        camera: c.clone(),
                    });
                }
            }
        }
        Ok(jobs)
    }

    /// Takes the camera's lease for `worker` if it is free, expired or
    /// already this worker's. True when `worker` now holds it.
    pub async fn claim_camera(
        &self,
        worker: &str,
        camera_id: &str,
        deployment_id: &str,
        lease_ms: Millis,
    ) -> Result<bool> {
        let now = self.now();
        let n = sqlx::query(
            "INSERT INTO camera_leases (camera_id, deployment_id, worker, lease_until_ms, health, updated_ms) \
             VALUES ($1, $2, $3, $4, NULL, $5) \
             ON CONFLICT (camera_id) DO UPDATE SET deployment_id = excluded.deployment_id, \
               worker = excluded.worker, lease_until_ms = excluded.lease_until_ms, \
               health = NULL, updated_ms = excluded.updated_ms \
             WHERE camera_leases.lease_until_ms < $5 OR camera_leases.worker = $3",
        )
        .bind(camera_id)
        .bind(deployment_id)
        .bind(worker)
        .bind(now + lease_ms)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Extends a lease held by `worker` and records the camera's health.
    /// False when the lease is no longer this worker's: stop the camera.
    pub async fn renew_camera(
        &self,
        worker: &str,
        camera_id: &str,
        lease_ms: Millis,
        health: Option<&serde_json::Value>,
    ) -> Result<bool> {
        let now = self.now();
        let health = health.map(|h| h.to_string());
        let n = sqlx::query("UPDATE camera_leases SET lease_until_ms = $1, health = $2, updated_ms = $3 WHERE camera_id = $4 AND worker = $5")
            .bind(now + lease_ms)
            .bind(health)
            .bind(now)
            .bind(camera_id)
            .bind(worker)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives a camera back (its job ended or the worker is stopping).
    pub async fn release_camera(&self, worker: &str, camera_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM camera_leases WHERE camera_id = $1 AND worker = $2")
            .bind(camera_id)
            .bind(worker)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every lease, live or expired, with the health last reported.
    pub async fn camera_leases(&self) -> Result<Vec<CameraLease>> {
        let rows = sqlx::query("SELECT camera_id, deployment_id, worker, lease_until_ms, health, updated_ms FROM camera_leases ORDER BY camera_id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                let health: Option<String> = r.try_get("health")?;
                Ok(CameraLease {
                    camera_id: r.try_get("camera_id")?,
                    deployment_id: r.try_get("deployment_id")?,
                    worker: r.try_get("worker")?,
                    lease_until: r.try_get("lease_until_ms")?,
                    health: health.and_then(|h| serde_json::from_str(&h).ok()),
                    updated: r.try_get("updated_ms")?,
                })
            })
            .collect()
    }
}
