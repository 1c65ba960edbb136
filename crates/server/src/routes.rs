//! Route handlers.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigil_core::access::User;
use vigil_core::alert::Decision;
use vigil_core::camera::CameraCounts;
use vigil_store::alerts::AlertImage;

use crate::error::ErrorBody;
use crate::extract::{ApiJson, ChangingUser, CurrentUser};
use crate::{ApiError, AppState};

#[utoipa::path(post, path = "/api/v1/logout", tag = "session", responses((status = 204, description = "Session ended"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.sessions.for_change(&headers).await?;
    let (token, s) = state.sessions.from_headers(&headers).await?;
    state.sessions.remove(&token).await?;
    state
        .store
        .audit(&s.user_id, "logout", &s.user_id, "")
        .await?;
    let jar = axum_extra::extract::CookieJar::new()
        .add(crate::auth::session_cookie(None, state.secure_cookies));
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, description = "The signed-in user"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// Deployments with their state: where and when, no personal data.
#[utoipa::path(get, path = "/api/v1/deployments", tag = "deployments", responses((status = 200, description = "Deployments: id, state, title, location"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn deployments(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list: Vec<_> = state
        .store
        .deployments()
        .await?
        .into_iter()
        .map(|d| json!({"id": d.id, "state": d.state, "title": d.application.title, "location": d.application.location}))
        .collect();
    Ok(Json(json!(list)))
}

/// A page of the Alert list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertPage {
    /// Only Alerts raised before this one (the last of the previous page).
    before: Option<String>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/deployments/{id}/alerts", tag = "alerts", params(("id" = String, Path, description = "Deployment id"), AlertPage), responses((status = 200, description = "A page of the Deployment's Alerts, newest first (no images)"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn alerts(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    page: Result<axum::extract::Query<AlertPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let axum::extract::Query(page) =
        page.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let list = state
        .store
        .alerts(
            &user,
            &id,
            page.before.as_deref(),
            page.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(json!(list)))
}

#[utoipa::path(get, path = "/api/v1/alerts/{id}/images/{which}", tag = "alerts", params(("id" = String, Path, description = "Alert id"), ("which" = String, Path, description = "probe, candidate (face crops) or scene (the whole frame, outlined)")), responses((status = 200, description = "JPEG; the read is audited", content_type = "image/jpeg"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn alert_image(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, which)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let which = match which.as_str() {
        "probe" => AlertImage::Probe,
        "candidate" => AlertImage::Candidate,
        "scene" => AlertImage::Scene,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "image must be probe, candidate or scene",
            ))
        }
    };
    let bytes = state.store.alert_image(&user, &id, which).await?;
    Ok(jpeg(bytes))
}

/// The CCTV footage around an Alert, for evidence: a user who may see the
/// Alert's images gets an MP4 with the export's audit entry burnt into
/// every frame and its metadata (the entry records who exported it).
#[utoipa::path(get, path = "/api/v1/alerts/{id}/footage", tag = "alerts", params(("id" = String, Path, description = "Alert id")), responses((status = 200, description = "MP4 clip from 15 s before first sight to 15 s after the Alert, watermarked with the audit entry of the export (also in X-Vigil-Audit-Entry)", content_type = "video/mp4"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 404, description = "No footage recorded, or deleted under retention", body = ErrorBody), (status = 503, description = "This server cannot encode clips", body = ErrorBody)))]
pub async fn alert_footage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(clips) = state.clips.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server has no ffmpeg to encode clips",
        ));
    };
    let clip = state.store.alert_clip(&user, &id).await?;
    let seq = clip.audit_seq;
    let text = format!("Vigil evidence export - audit entry {seq}");
    let mp4 = tokio::task::spawn_blocking(move || clips.watermark(&clip.bytes, &text))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding", e))?;
    let name = format!(
        "attachment; filename=\"alert-{}-export-{seq}.mp4\"",
        id.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
    );
    let mut resp = (
        [
            (header::CONTENT_TYPE, "video/mp4".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        mp4,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&seq.to_string()) {
        resp.headers_mut().insert("x-vigil-audit-entry", v);
    }
    Ok(resp)
}

/// An image read from the store: never cached by the browser or a proxy
/// (every read must come back to the server, which audits it).
pub(crate) fn jpeg(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AdjudicationBody {
    decision: Decision,
    #[serde(default)]
    note: String,
}

#[utoipa::path(post, path = "/api/v1/alerts/{id}/adjudications", tag = "alerts", params(("id" = String, Path, description = "Alert id")), request_body = AdjudicationBody, responses((status = 200, description = "The Alert after the decision"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn adjudicate(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<AdjudicationBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if a.note.len() > 4000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "note is over 4000 characters",
        ));
    }
    Ok(Json(json!(
        state
            .store
            .adjudicate(&user, &id, a.decision, &a.note)
            .await?
    )))
}

#[utoipa::path(get, path = "/api/v1/public/records", tag = "public", responses((status = 200, description = "Published Deployment records; no personal data")))]
pub async fn public_records(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!(state.store.published_records().await?)))
}

/// How often an open event stream checks that its session still exists.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Alerts of a Deployment pushed as they happen (Server-Sent Events), to
/// users assigned to it. Each event carries the Alert record (no images).
#[utoipa::path(get, path = "/api/v1/deployments/{id}/alerts/events", tag = "alerts", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "Server-Sent Events: one `alert` event per Alert raised or adjudicated", content_type = "text/event-stream"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn alert_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let (token, session) = state.sessions.from_headers(&headers).await?;
    let user = state.store.user(&session.user_id).await?;
    // Checks the assignment now; each event re-checks through the store.
    state.store.alerts(&user, &id, None, 1).await?;
    let rx = state.store.subscribe_alerts();
    // The session is checked before every event and every few seconds
    // between them: logout, expiry or a disabled account ends the stream.
    let tick = tokio::time::interval(SESSION_RECHECK);
    let stream = futures_util::stream::unfold(
        (rx, tick, state, user, id, token),
        |(mut rx, mut tick, state, user, id, token)| async move {
            loop {
                let ev = tokio::select! {
                    ev = rx.recv() => ev,
                    _ = tick.tick() => {
                        if state.sessions.is_live(&token).await {
                            continue;
                        }
                        return None;
                    }
                };
                match ev {
                    // Before anything is sent, not for every event of every
                    // Deployment: the tick covers the quiet times.
                    Ok(ev) if ev.deployment_id == id => {
                        if !state.sessions.is_live(&token).await {
                            return None;
                        }
                        let Ok(alert) = state.store.alert(&user, &ev.alert_id).await else {
                            continue;
                        };
                        let data = serde_json::json!({"kind": ev.kind, "alert": alert}).to_string();
                        let event = Event::default().event("alert").data(data);
                        return Some((Ok(event), (rx, tick, state, user, id, token)));
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        if !state.sessions.is_live(&token).await {
                            return None;
                        }
                        let event = Event::default().event("lagged").data(n.to_string());
                        return Some((Ok(event), (rx, tick, state, user, id, token)));
                    }
                    Err(_) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Prometheus (OpenMetrics text) exposition of every running camera's
/// counters, as its worker last reported them (whichever process runs it):
/// camera names and counts only, no personal data.
#[utoipa::path(get, path = "/metrics", tag = "live", responses((status = 200, description = "OpenMetrics text: counters and the Recognition Time histogram per camera", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let now = state.store.now();
    let cameras: Vec<CameraCounts> = match state.store.camera_leases().await {
        Ok(leases) => leases
            .into_iter()
            .filter(|l| l.lease_until >= now)
            .filter_map(|l| l.health)
            .filter_map(|h| serde_json::from_value(h).ok())
            .collect(),
        Err(e) => {
            tracing::warn!("metrics: {e}");
            Vec::new()
        }
    };
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(crate::metrics::Cameras(cameras)));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!("metrics: {e}");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
