//! `/api/v1/cameras`: Administrators register a force's cameras; every
//! signed-in user sees their names and live health; a Deployment's page
//! shows the cameras its Application names.
//!
//! Credentials go in and never come out: no answer carries them (only
//! `has_credentials`), the store seals them, and the worker that opens
//! the stream hands them to ffmpeg on a pipe.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_core::access::{self, Action, Role};
use vigil_core::camera::{Camera, CameraCredentials, CameraSettings};
use vigil_store::cameras::{CameraLease, CredentialChange};

use crate::error::ErrorBody;
use crate::extract::{ApiJson, ChangingUser, CurrentUser};
use crate::users::Reason;
use crate::{ApiError, AppState};

pub use vigil_core::camera::CameraSnapshot;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    username: String,
    password: String,
}

impl From<Credentials> for CameraCredentials {
    fn from(c: Credentials) -> Self {
        Self {
            username: c.username,
            password: c.password,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCamera {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    settings: CameraSettings,
    /// User name and password of the stream, if it needs them.
    credentials: Option<Credentials>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CameraChange {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    settings: CameraSettings,
    /// New credentials; absent keeps the stored ones.
    credentials: Option<Credentials>,
    /// Remove the stored credentials.
    #[serde(default)]
    clear_credentials: bool,
}

/// Health of a camera from its lease: live while the lease runs, and
/// "NoWorker" once it has lapsed (its worker died or lost the database).
fn health(lease: Option<&CameraLease>, now: i64) -> Value {
    match lease {
        None => json!({"state": "Idle"}),
        Some(l) if l.lease_until < now => {
            json!({"state": "NoWorker", "worker": l.worker, "last_report": l.updated, "deployment_id": l.deployment_id})
        }
        Some(l) => {
            let mut h = l
                .health
                .clone()
                .unwrap_or_else(|| json!({"state": "Starting"}));
            h["worker"] = json!(l.worker);
            h["deployment_id"] = json!(l.deployment_id);
            h["last_report"] = json!(l.updated);
            h
        }
    }
}

/// A camera as `user` may see it: Administrators get its settings, others
/// its name, Zone size and health.
fn shown(c: &Camera, admin: bool, leases: &[CameraLease], now: i64) -> Value {
    let lease = leases.iter().find(|l| l.camera_id == c.id);
    let mut v = if admin {
        json!(c)
    } else {
        json!({"id": c.id, "name": c.settings.name, "disabled": c.disabled})
    };
    v["health"] = health(lease, now);
    v
}

#[utoipa::path(get, path = "/api/v1/cameras", tag = "cameras", responses((status = 200, description = "Registered cameras with live health (settings for Administrators only; never credentials)"), (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Value>, ApiError> {
    let admin = access::check(&user, Action::ConfigureSystem, &[]).is_ok();
    let leases = state.store.camera_leases().await?;
    let now = state.store.now();
    let list: Vec<Value> = state
        .store
        .cameras()
        .await?
        .iter()
        .map(|c| shown(c, admin, &leases, now))
        .collect();
    Ok(Json(json!(list)))
}

#[utoipa::path(post, path = "/api/v1/cameras", tag = "cameras", request_body = NewCamera, responses((status = 200, description = "The registered camera"), (status = 400, description = "A setting is out of range, or credentials are in the URL", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    ApiJson(n): ApiJson<NewCamera>,
) -> Result<Json<Value>, ApiError> {
    let c = state
        .store
        .register_camera(&admin, n.settings, n.credentials.map(Into::into))
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(patch, path = "/api/v1/cameras/{id}", tag = "cameras", params(("id" = String, Path, description = "Camera id")), request_body = CameraChange, responses((status = 200, description = "The camera after the change"), (status = 400, description = "A setting is out of range", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody), (status = 404, description = "No such camera", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(ch): ApiJson<CameraChange>,
) -> Result<Json<Value>, ApiError> {
    let change = match (ch.credentials, ch.clear_credentials) {
        (Some(_), true) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "give new credentials or clear them, not both",
            ))
        }
        (Some(c), false) => CredentialChange::Set(c.into()),
        (None, true) => CredentialChange::Clear,
        (None, false) => CredentialChange::Keep,
    };
    let c = state
        .store
        .update_camera(&admin, &id, ch.settings, change)
        .await?;
    Ok(Json(json!(c)))
}

async fn set_disabled(
    state: AppState,
    admin: vigil_core::access::User,
    id: String,
    r: Reason,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    let c = state
        .store
        .set_camera_disabled(&admin, &id, disabled, &r.reason)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(post, path = "/api/v1/cameras/{id}/disable", tag = "cameras", params(("id" = String, Path, description = "Camera id")), request_body = Reason, responses((status = 200, description = "The camera, out of service"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(state, admin, id, b, true).await
}

#[utoipa::path(post, path = "/api/v1/cameras/{id}/enable", tag = "cameras", params(("id" = String, Path, description = "Camera id")), request_body = Reason, responses((status = 200, description = "The camera, back in service"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(state, admin, id, b, false).await
}

/// One frame of the camera now, for the Zone editor. It may show members
/// of the public, so only Administrators get it, it is never cached, and
/// each one taken is audited.
#[utoipa::path(get, path = "/api/v1/cameras/{id}/snapshot", tag = "cameras", params(("id" = String, Path, description = "Camera id")), responses((status = 200, description = "A JPEG frame; audited", content_type = "image/jpeg"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody), (status = 502, description = "The camera gave no frame", body = ErrorBody), (status = 503, description = "This server cannot open streams", body = ErrorBody)))]
pub async fn snapshot(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::check(&admin, Action::ConfigureSystem, &[]).map_err(vigil_store::StoreError::from)?;
    let Some(taker) = state.snapshots.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server has no ffmpeg to take snapshots",
        ));
    };
    let camera = state.store.camera(&id).await?;
    let credentials = if camera.has_credentials {
        state
            .store
            .camera_credentials(&format!("server:{}", admin.id), &id)
            .await?
    } else {
        None
    };
    state
        .store
        .audit(
            &admin.id,
            "camera.snapshot",
            &id,
            "one frame for the Zone editor",
        )
        .await?;
    let jpeg = tokio::task::spawn_blocking(move || taker.snapshot(&camera, credentials))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "camera", e))?;
    Ok(crate::routes::jpeg(jpeg))
}

/// The cameras a Deployment's Application names, with live health.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/cameras", tag = "cameras", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "The Deployment's cameras: name, health (state, fps, drops, reconnects, last error, analysis Active or Suspended)"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 404, description = "No such Deployment", body = ErrorBody)))]
pub async fn of_deployment(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = state.store.deployment(&id).await?;
    let admin = access::check(&user, Action::ConfigureSystem, &[]).is_ok();
    let leases = state.store.camera_leases().await?;
    let leases: Vec<CameraLease> = leases
        .into_iter()
        .filter(|l| l.deployment_id == id)
        .collect();
    let now = state.store.now();
    let cameras = state.store.cameras().await?;
    let list: Vec<Value> = d
        .application
        .cameras
        .iter()
        .filter_map(|cid| cameras.iter().find(|c| &c.id == cid))
        .map(|c| shown(c, admin, &leases, now))
        .collect();
    Ok(Json(json!({"deployment_state": d.state, "cameras": list})))
}

/// Used by the console: whether `roles` include managing cameras.
pub fn may_manage(user: &vigil_core::access::User) -> bool {
    user.has(Role::Administrator)
}
