//! The Deployment workflow over HTTP: Applications, authority, the
//! commanders' controls, the Cancellation Report, assignments, and the
//! Watchlist compiled from the reference store.
//!
//! Every handler maps HTTP to a `vigil-core` command and hands it to the
//! store; the `actions` list the API returns (the console's buttons) comes
//! from the same table in core that decides (`vigil_core::workflow`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_core::access::{self, Action, Role, User};
use vigil_core::deployment::{Application, CancellationReport, Deployment, WrittenAuthority};
use vigil_core::metrics;
use vigil_core::quality::ReferenceVerdict;
use vigil_core::watchlist::{expected_false_alerts, Category};
use vigil_core::workflow::{Command, Step, AMEND_APPLICATION, FILE_CANCELLATION_REPORT};

use crate::error::ErrorBody;
use crate::extract::{ApiJson, ChangingUser, CurrentUser};
use crate::{ApiError, AppState};

/// Longest free text accepted in a reason, review or report field.
const MAX_TEXT: usize = 20_000;

fn text_limit(fields: &[&str]) -> Result<(), ApiError> {
    if fields.iter().any(|f| f.len() > MAX_TEXT) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("a text field is over {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

fn application_limits(a: &Application) -> Result<(), ApiError> {
    text_limit(&[
        &a.title,
        &a.location,
        &a.legitimate_aim,
        &a.legal_basis,
        &a.necessity,
        &a.proportionality,
        &a.safeguards,
        &a.watchlist_composition,
        &a.resources,
        &a.assessments.community_impact,
        &a.assessments.equality_impact,
        &a.assessments.data_protection_impact,
        &a.assessments.surveillance_camera_self_assessment,
        &a.assessments.operational_risk,
    ])
}

/// A Deployment with the caller's roles on it and the steps they may take.
async fn view(state: &AppState, user: &User, d: Deployment) -> Result<Value, ApiError> {
    let assignment = state.store.assignment(&d.id, &user.id).await?;
    let steps = d.available(user, &assignment);
    let cancellation_report_due = d.cancellation_report_due();
    let may_file_report = d.may(user, &assignment, &FILE_CANCELLATION_REPORT);
    let assignments: Vec<_> = state
        .store
        .assignments(&d.id)
        .await?
        .into_iter()
        .map(|(u, r)| json!({"user": u, "role": r}))
        .collect();
    // Only someone who may activate now reads the warnings: the Watchlist
    // is not read for every other view (the Operator's page reloads it on
    // each reconnection).
    let activation_warnings = if steps.contains(&Step::Activate) {
        let entries = state.store.watchlist(&d.id).await?;
        let overridden = entries
            .iter()
            .filter(|e| e.quality_override.is_some())
            .count();
        d.activation_warnings(state.store.now(), entries.len(), overridden)
    } else {
        Vec::new()
    };
    Ok(json!({
        "activation_warnings": activation_warnings,
        "deployment": d,
        "your_roles": assignment,
        "actions": steps,
        "may_edit_application": d.may(user, &[], &AMEND_APPLICATION),
        "may_file_cancellation_report": may_file_report,
        "may_compile_watchlist": access::check(user, Action::CompileWatchlist, &assignment).is_ok(),
        "may_view_alerts": access::check(user, Action::ViewAlerts, &assignment).is_ok(),
        // Decisions this user may take on the Deployment's Alerts, with the
        // state each applies to (the Operator view's keys and buttons).
        "decisions": vigil_core::alert::decisions_for(user, &assignment)
            .into_iter()
            .map(|(d, from)| json!({"decision": d, "applies_to": from}))
            .collect::<Vec<_>>(),
        "may_assign": access::check(user, Action::ManageUsers, &[]).is_ok(),
        "cancellation_report_due": cancellation_report_due,
        "assignments": assignments,
    }))
}

/// `POST /api/v1/deployments`: an Applicant drafts an Application.
#[utoipa::path(post, path = "/api/v1/deployments", tag = "deployments", request_body = Application, responses((status = 201, description = "The drafted Deployment"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    ApiJson(app): ApiJson<Application>,
) -> Result<Response, ApiError> {
    application_limits(&app)?;
    let d = state.store.create_deployment(&user, app).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &user, d).await?)).into_response())
}

/// `GET /api/v1/deployments/{id}`: the Application, authority, state and
/// log. Operational documents, readable by any signed-in officer; they hold
/// no images and no subject references.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "The Deployment, the caller's roles and the steps they may take"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 404, description = "No such Deployment", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = state.store.deployment(&id).await?;
    Ok(Json(view(&state, &user, d).await?))
}

/// `PUT /api/v1/deployments/{id}/application`: edit a Draft.
#[utoipa::path(put, path = "/api/v1/deployments/{id}/application", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), request_body = Application, responses((status = 200, description = "The Deployment"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn update_application(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(app): ApiJson<Application>,
) -> Result<Json<Value>, ApiError> {
    application_limits(&app)?;
    state.store.check_application_cameras(&app.cameras).await?;
    let u = user.clone();
    let d = state
        .store
        .act(&id, &user, move |d, _, now| {
            d.update_application(&u, app, now)
        })
        .await?;
    Ok(Json(view(&state, &user, d).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TransitionBody {
    action: Step,
    #[serde(default)]
    reason: String,
    /// The Written Authority, for `authorise`, `authorise_urgently` and
    /// (optionally changed) `confirm_urgent_authority`.
    authority: Option<WrittenAuthority>,
}

/// `POST /api/v1/deployments/{id}/transitions`: one workflow step.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/transitions", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), request_body = TransitionBody, responses((status = 200, description = "The Deployment after the step"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn transition(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(t): ApiJson<TransitionBody>,
) -> Result<Json<Value>, ApiError> {
    text_limit(&[&t.reason])?;
    if let Some(a) = &t.authority {
        text_limit(&[&a.reasoning, &a.alternatives_considered])?;
    }
    let command = Command::new(t.action, t.reason, t.authority)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    let u = user.clone();
    let d = state
        .store
        .act(&id, &user, move |d, roles, now| {
            d.apply(&u, roles, command, now)
        })
        .await?;
    Ok(Json(view(&state, &user, d).await?))
}

/// `GET /api/v1/deployments/{id}/stats`: counts and rates so far (no
/// personal data), for the camera panel and the Cancellation Report.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/stats", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "Counts, FAR, TRR with its 95 % interval, Recognition Time"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = state.store.deployment_stats(&id).await?;
    let trr_ci = metrics::wilson_interval(s.blue_recognised, s.blue_passes);
    let false_alerts = s.false_alerts + s.confirmed_false;
    let warning = metrics::far_exceeds_warning(false_alerts, s.passers_by);
    let far_ci = metrics::wilson_interval(false_alerts, s.passers_by);
    Ok(Json(json!({
        "stats": s,
        "true_recognition_rate_ci95": trr_ci,
        "false_alert_rate_ci95": far_ci,
        "false_alert_rate_warning": warning,
        "false_alert_rate_warning_level": metrics::FAR_WARNING,
    })))
}

/// `GET /api/v1/deployments/{id}/cancellation-report/draft`: the report
/// pre-filled with the Deployment's statistics, for its Gold Commander.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/cancellation-report/draft", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "Cancellation Report pre-filled with the statistics", body = CancellationReport), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn cancellation_draft(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<CancellationReport>, ApiError> {
    let assignment = state.store.assignment(&id, &user.id).await?;
    access::check(&user, Action::FileCancellationReport, &assignment)
        .map_err(vigil_store::StoreError::from)?;
    Ok(Json(state.store.draft_cancellation_report(&id).await?))
}

/// `POST /api/v1/deployments/{id}/cancellation-report`: Gold files it.
/// Gold's part of the Cancellation Report: commentary and arrests.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CancellationCommentary {
    circumstances_of_conclusion: String,
    #[serde(default)]
    resources_used: String,
    #[serde(default)]
    issues: String,
    #[serde(default)]
    arrests: u64,
}

#[utoipa::path(post, path = "/api/v1/deployments/{id}/cancellation-report", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), request_body = CancellationCommentary, responses((status = 200, description = "The Deployment, CancellationFiled"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn file_cancellation_report(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(given): ApiJson<CancellationCommentary>,
) -> Result<Json<Value>, ApiError> {
    text_limit(&[
        &given.circumstances_of_conclusion,
        &given.resources_used,
        &given.issues,
    ])?;
    // The statistics are the system's, counted now: Gold writes the
    // commentary and the arrests (which the system cannot know); any
    // counts in the body are ignored.
    let r = CancellationReport {
        circumstances_of_conclusion: given.circumstances_of_conclusion,
        resources_used: given.resources_used,
        issues: given.issues,
        arrests: given.arrests,
        ..state.store.draft_cancellation_report(&id).await?
    };
    let u = user.clone();
    let d = state
        .store
        .act(&id, &user, move |d, roles, now| {
            d.file_cancellation_report(&u, roles, r, now)
        })
        .await?;
    Ok(Json(view(&state, &user, d).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AssignmentBody {
    user: String,
    role: Role,
}

/// `POST /api/v1/deployments/{id}/assignments`: an Administrator assigns
/// an officer to a deployment-scoped role.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/assignments", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), request_body = AssignmentBody, responses((status = 200, description = "The Deployment with its assignments"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<AssignmentBody>,
) -> Result<Json<Value>, ApiError> {
    state.store.assign(&user, &id, &a.user, a.role).await?;
    let d = state.store.deployment(&id).await?;
    Ok(Json(view(&state, &user, d).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnassignmentBody {
    user: String,
    role: Role,
    /// Why the assignment ends (recorded in the Deployment's log).
    reason: String,
}

/// `DELETE /api/v1/deployments/{id}/assignments`: an Administrator ends an
/// assignment; the reason goes into the Deployment's log.
#[utoipa::path(delete, path = "/api/v1/deployments/{id}/assignments", tag = "deployments", params(("id" = String, Path, description = "Deployment id")), request_body = UnassignmentBody, responses((status = 200, description = "The Deployment with its assignments"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own assignment", body = ErrorBody), (status = 404, description = "No such assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "No reason given", body = ErrorBody)))]
pub async fn unassign(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<UnassignmentBody>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .unassign(&user, &id, &a.user, a.role, &a.reason)
        .await?;
    let d = state.store.deployment(&id).await?;
    Ok(Json(view(&state, &user, d).await?))
}

/// `GET /api/v1/deployments/{id}/reference-images`: the reference store
/// for a Watchlist compiler, each image with its quality verdict.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/reference-images", tag = "watchlist", params(("id" = String, Path, description = "Deployment id")), responses((status = 200, description = "Reference images with a quality verdict each"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn reference_images(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<ReferencePageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (list, total) = state
        .store
        .reference_images_page(&user, &id, q.q.trim(), q.offset, q.limit)
        .await?;
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let verdict = judge_reference(&state, &user, &id, &r.id).await?;
        out.push(json!({"image": r, "quality": verdict}));
    }
    Ok(Json(
        json!({"total": total, "offset": q.offset, "images": out}),
    ))
}

/// One page of the reference store, by subject reference prefix.
#[derive(Deserialize)]
pub struct ReferencePageQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: i64,
    #[serde(default = "reference_page")]
    limit: i64,
}

fn reference_page() -> i64 {
    24
}

/// The face engine's verdict on a reference image (None without an
/// engine), cached by image id: reference images never change.
async fn judge_reference(
    state: &AppState,
    user: &User,
    deployment: &str,
    image_id: &str,
) -> Result<Option<ReferenceVerdict>, ApiError> {
    let Some(judge) = state.judge.clone() else {
        return Ok(None);
    };
    if let Some(v) = state.quality_cache(image_id) {
        return Ok(Some(v));
    }
    // Reading the pixels to judge them is a read of biometric data:
    // audited like any other.
    let bytes = state
        .store
        .reference_image(user, deployment, image_id)
        .await?;
    let v = tokio::task::spawn_blocking(move || judge.judge_reference(&bytes))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    state.remember_quality(image_id, v.clone());
    Ok(Some(v))
}

/// `GET /api/v1/deployments/{id}/reference-images/{rid}`: one image, for
/// the compiler to look at. Audited.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/reference-images/{rid}", tag = "watchlist", params(("id" = String, Path, description = "Deployment id"), ("rid" = String, Path, description = "Reference image id")), responses((status = 200, description = "JPEG; the read is audited", content_type = "image/jpeg"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn reference_image(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let bytes = state.store.reference_image(&user, &id, &rid).await?;
    Ok(crate::routes::jpeg(bytes))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LoadQuery {
    /// Expected passers-by (Recognition Opportunities) for the Deployment.
    passers_by: Option<u64>,
}

/// `GET /api/v1/deployments/{id}/watchlist`: the entries (references, not
/// images) and the expected false Alert load at the Deployment's Threshold
/// (WL-4): each passer-by is compared with every Watchlist entry that has
/// an image (one mean template per entry).
#[utoipa::path(get, path = "/api/v1/deployments/{id}/watchlist", tag = "watchlist", params(("id" = String, Path, description = "Deployment id"), LoadQuery), responses((status = 200, description = "Entries and the expected false Alert load"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody)))]
pub async fn watchlist(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<LoadQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries = state.store.watchlist_for(&user, &id).await?;
    let (images, comparisons) = state.store.watchlist_counts(&id).await?;
    let d = state.store.deployment(&id).await?;
    let passers_by = q.passers_by.unwrap_or(10_000);
    let threshold = d.authority.as_ref().map(|a| a.threshold);
    let fmr = match (threshold, &state.calibration) {
        (Some(t), Some(c)) => Some(c.false_match_rate(f64::from(t)).0),
        _ => None,
    };
    let load = fmr.map(|fmr| {
        json!({
            "false_match_rate_per_comparison": fmr,
            "comparisons_per_passer_by": comparisons,
            "expected_false_alerts_per_passer_by": expected_false_alerts(comparisons, 1, fmr),
            "expected_false_alerts": expected_false_alerts(comparisons, passers_by, fmr),
        })
    });
    Ok(Json(json!({
        "entries": entries,
        "images": images,
        "threshold": threshold,
        "passers_by": passers_by,
        "expected_load": load,
        "blue_entries": entries.iter().filter(|e| e.blue).count(),
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EntryBody {
    reference_image_ids: Vec<String>,
    category: Category,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    blue: bool,
    /// Why images the face engine judged unsuitable are enrolled anyway
    /// (recorded); without it such an entry is refused.
    #[serde(default)]
    quality_override: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RemovalBody {
    reason: String,
}

/// `POST /api/v1/deployments/{id}/watchlist/{entry}/removal`: a compiler
/// takes a subject off the Watchlist, with a reason; running cameras stop
/// matching it within seconds.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/watchlist/{entry}/removal", tag = "watchlist", params(("id" = String, Path, description = "Deployment id"), ("entry" = String, Path, description = "Watchlist entry id")), request_body = RemovalBody, responses((status = 204, description = "Removed, with its images"), (status = 400, description = "No reason given", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn remove_entry(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path((id, entry)): Path<(String, String)>,
    ApiJson(r): ApiJson<RemovalBody>,
) -> Result<Response, ApiError> {
    state
        .store
        .remove_watchlist_entry(&user, &id, &entry, &r.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/deployments/{id}/watchlist`: a compiler adds a subject.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/watchlist", tag = "watchlist", params(("id" = String, Path, description = "Deployment id")), request_body = EntryBody, responses((status = 201, description = "The new entry"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn add_entry(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(e): ApiJson<EntryBody>,
) -> Result<Response, ApiError> {
    text_limit(&[&e.reason])?;
    if e.reference_image_ids.len() > 50 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "at most 50 images per entry",
        ));
    }
    // No entry silently unmatched: an image the engine judges unsuitable
    // (it would not enrol) is refused unless the compiler overrides with a
    // reason, and then it is enrolled with the override.
    let mut unsuitable = Vec::new();
    for rid in &e.reference_image_ids {
        if let Some(v) = judge_reference(&state, &user, &id, rid).await? {
            if !v.passed {
                unsuitable.push(v.reasons.join("; "));
            }
        }
    }
    let quality_override = e
        .quality_override
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    if !unsuitable.is_empty() && quality_override.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsuitable_image",
            format!(
                "the face engine judges this image unsuitable ({}): it would not raise Alerts reliably; give a reason to enrol it anyway",
                unsuitable.join(" / ")
            ),
        ));
    }
    let entry = state
        .store
        .add_watchlist_entry_overriding(
            &user,
            &id,
            vigil_store::watchlists::NewEntry {
                category: e.category,
                reason: &e.reason,
                blue: e.blue,
                reference_image_ids: &e.reference_image_ids,
                quality_override: quality_override.filter(|_| !unsuitable.is_empty()),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(entry))).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BluePassBody {
    entry_id: String,
    /// When the volunteer started walking past (ms since the epoch); the
    /// pass counts as recognised if an Alert for them was raised since.
    since: i64,
}

/// `POST /api/v1/deployments/{id}/blue-passes`: a Blue Watchlist volunteer
/// walked past the cameras (WL-5).
#[utoipa::path(post, path = "/api/v1/deployments/{id}/blue-passes", tag = "watchlist", params(("id" = String, Path, description = "Deployment id")), request_body = BluePassBody, responses((status = 200, description = "Whether the volunteer was recognised"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not permitted for this role or assignment", body = ErrorBody), (status = 400, description = "Malformed body", body = ErrorBody), (status = 409, description = "Not possible in the present state", body = ErrorBody)))]
pub async fn blue_pass(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<BluePassBody>,
) -> Result<Json<Value>, ApiError> {
    let pass = state
        .store
        .record_blue_pass(&user, &id, &p.entry_id, p.since)
        .await?;
    Ok(Json(json!(pass)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AdviceQuery {
    /// Target False Alert Rate per passer-by (e.g. 0.001).
    far: f64,
    /// Images on the Watchlist.
    watchlist_size: usize,
}

/// `GET /api/v1/calibration/threshold`: the Threshold the recogniser's
/// calibration gives for a target False Alert Rate and Watchlist size, for
/// the Authorising Officer's form (the chosen FAR goes into the Written
/// Authority).
#[utoipa::path(get, path = "/api/v1/calibration/threshold", tag = "deployments", params(AdviceQuery), responses((status = 200, description = "Threshold, per-comparison FMR, whether measured or extrapolated, expected true match rate"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 404, description = "No calibration for the recogniser in use", body = ErrorBody), (status = 400, description = "Rate outside (0, 1)", body = ErrorBody)))]
pub async fn threshold_advice(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    Query(q): Query<AdviceQuery>,
) -> Result<Json<Value>, ApiError> {
    if !(q.far > 0.0 && q.far < 1.0) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "far must lie between 0 and 1",
        ));
    }
    let advice = state
        .calibration
        .as_ref()
        .and_then(|c| {
            let advice = c.threshold_for(q.far, q.watchlist_size.max(1)).ok()?;
            Some(json!({"pack": c.pack, "calibrated_on": c.source, "advice": advice}))
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no calibration for the recogniser in use (run `vigil eval --install`)",
            )
        })?;
    Ok(Json(advice))
}
