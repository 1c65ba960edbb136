//! Retrospective and Operator Initiated FR over HTTP [RFR-1..3, OIF-1].
//!
//! A search is one multipart upload (the still or video, the case
//! reference, the reason). Faces are found, encoded and searched by the
//! search stage (`vigil_core::search::FaceSearch`, which `vigil-search`
//! implements), and the ranked candidates are recorded with the search; the
//! investigator then reviews each candidate. Every search, view, image read
//! and review is in the audit log.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use vigil_store::searches::{CandidateReview, NewSearch, ProbeFace, ReviewVerdict, SearchKind};

use crate::error::ErrorBody;
use crate::extract::{ApiJson, ChangingUser, CurrentUser};
use crate::routes::jpeg;
use crate::{ApiError, AppState};
use vigil_core::search::{SearchError, SearchRequest};

/// Largest upload for a search: a phone video of a minute or two.
pub const MAX_SEARCH_BYTES: usize = 256 << 20;
/// Candidates per face unless the request asks for fewer or more.
const DEFAULT_K: usize = 20;
const MAX_K: usize = 100;

/// The per-comparison False Match Rate at the search Threshold: a score a
/// different person's face reaches once in 100,000 comparisons. In a store
/// of a million that still leaves about ten unrelated candidates above it
/// per search, which is why a candidate is a lead to review, never an
/// identification; below it a candidate is weaker still.
pub const SEARCH_FALSE_MATCH_RATE: f64 = 1e-5;

/// The calibrated search Threshold of the recogniser in use (the same
/// calibration as the authority form's advice); None without one.
fn search_threshold(state: &AppState) -> Option<f64> {
    let c = state.calibration.as_ref()?;
    c.threshold_for(SEARCH_FALSE_MATCH_RATE, 1)
        .ok()
        .map(|a| a.threshold)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

#[derive(Default)]
struct Upload {
    kind: Option<String>,
    case_ref: String,
    reason: String,
    k: Option<usize>,
    detection_size: Option<u32>,
    media: Option<(axum::body::Bytes, String)>,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, ApiError> {
    let mut u = Upload::default();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("upload over {MAX_SEARCH_BYTES} bytes"),
        )
    };
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(bad(e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_string();
        let content_type = field.content_type().unwrap_or_default().to_string();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(bad(e.body_text())),
        };
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "kind" => u.kind = Some(text()),
            "case_ref" => u.case_ref = text(),
            "reason" => u.reason = text(),
            "k" => {
                u.k = Some(
                    text()
                        .trim()
                        .parse()
                        .map_err(|_| bad("k must be a whole number"))?,
                )
            }
            "detection_size" => {
                let n: u32 = text()
                    .trim()
                    .parse()
                    .map_err(|_| bad("detection_size must be a whole number of pixels"))?;
                if !vigil_core::camera::DETECTION_SIZES.contains(&n) {
                    return Err(bad(format!(
                        "detection_size must lie between {} and {} pixels",
                        vigil_core::camera::DETECTION_SIZES.start(),
                        vigil_core::camera::DETECTION_SIZES.end()
                    )));
                }
                u.detection_size = Some(n);
            }
            "media" => u.media = Some((bytes, content_type)),
            other => return Err(bad(format!("unknown field {other}"))),
        }
    }
    Ok(u)
}

/// `POST /api/v1/rfr/searches` (multipart: `media`, `case_ref`, `reason`,
/// optional `kind` = rfr|oifr, `k` and `detection_size`).
#[utoipa::path(post, path = "/api/v1/rfr/searches", tag = "search",
    request_body(content_type = "multipart/form-data", description = "media (still or video), case_ref, reason, kind (rfr|oifr), k (candidates per face, at most 100), detection_size (optional: the long side in pixels at which faces are looked for, 64-4096; a large photo with small faces needs its own size; default the detector's 640x640)"),
    responses((status = 200, description = "The search record with ranked candidates per face; a lead, never an identification"),
        (status = 400, description = "No case reference, reason or media; unknown field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Investigators only", body = ErrorBody),
        (status = 413, description = "Upload too large", body = ErrorBody),
        (status = 422, description = "The media could not be decoded", body = ErrorBody),
        (status = 503, description = "No face engine or reference index in this server", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    upload: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Who may search is settled before a byte of the upload is read: a
    // user of any other role must not make the server hold 256 MiB.
    if vigil_core::access::check(&user, vigil_core::access::Action::RunSearch, &[]).is_err() {
        state.store.check_search(&user, "", "").await?;
    }
    // A bounded number of searches at once, uploads included.
    let Ok(_permit) = state.searches.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "other searches are running: try again shortly",
        )
        .with_retry_after(5));
    };
    let upload = upload.map_err(|e| bad(e.body_text()))?;
    let u = read_upload(upload).await?;
    state
        .store
        .check_search(&user, &u.case_ref, &u.reason)
        .await?;
    let kind = match u.kind.as_deref().map(str::trim) {
        None | Some("") | Some("rfr") => SearchKind::Rfr,
        Some("oifr") => SearchKind::Oifr,
        Some(other) => return Err(bad(format!("kind must be rfr or oifr, not {other}"))),
    };
    let k = u.k.unwrap_or(DEFAULT_K).clamp(1, MAX_K);
    let (media, content_type) = u.media.ok_or_else(|| bad("no media in the upload"))?;
    let unavailable = |what: &str| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("this server has no {what}"),
        )
    };
    let search = state
        .search
        .clone()
        .ok_or_else(|| unavailable("face engine or reference index"))?;
    let found = search
        .search(SearchRequest {
            media: media.to_vec(),
            content_type,
            detection_size: u.detection_size,
            k,
        })
        .await
        .map_err(|e| match e {
            SearchError::Unreadable(e) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unreadable", e)
            }
            SearchError::Failed(what) => {
                tracing::error!("reference search failed: {what}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "search failed",
                )
            }
        })?;
    let faces = found.faces.into_iter().map(ProbeFace::from).collect();
    let threshold = search_threshold(&state);
    let id = state
        .store
        .record_search(
            &user,
            &NewSearch {
                kind,
                case_ref: u.case_ref,
                reason: u.reason,
                media_kind: found.media_kind,
                frames: found.frames,
                faces,
                threshold,
            },
        )
        .await?;
    let record = state.store.search_record(&user, &id).await?;
    Ok(Json(serde_json::to_value(record).unwrap_or_default()))
}

/// `GET /api/v1/rfr/searches`: the caller's own searches, newest first.
#[utoipa::path(get, path = "/api/v1/rfr/searches", tag = "search", responses((status = 200, description = "The caller's searches (no candidates, no images)"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Investigators only", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    Ok(Json(state.store.my_searches(&user).await?))
}

/// `GET /api/v1/rfr/searches/{id}`: one search with candidates and reviews.
#[utoipa::path(get, path = "/api/v1/rfr/searches/{id}", tag = "search", params(("id" = String, Path, description = "Search id")), responses((status = 200, description = "The search record; the read is audited"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Only the Investigator who ran it", body = ErrorBody), (status = 404, description = "No such search", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let record = state.store.search_record(&user, &id).await?;
    Ok(Json(serde_json::to_value(record).unwrap_or_default()))
}

/// `GET /api/v1/rfr/searches/{id}/faces/{face}/probe`: the probe face crop.
#[utoipa::path(get, path = "/api/v1/rfr/searches/{id}/faces/{face}/probe", tag = "search", params(("id" = String, Path, description = "Search id"), ("face" = u32, Path, description = "Face number")), responses((status = 200, description = "JPEG; the read is audited", content_type = "image/jpeg"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Only the Investigator who ran it", body = ErrorBody), (status = 404, description = "No such face", body = ErrorBody)))]
pub async fn probe_image(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, face)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    Ok(jpeg(
        state.store.search_probe_image(&user, &id, face).await?,
    ))
}

/// `GET /api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/image`.
#[utoipa::path(get, path = "/api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/image", tag = "search", params(("id" = String, Path, description = "Search id"), ("face" = u32, Path, description = "Face number"), ("rank" = u32, Path, description = "Candidate rank, from 1")), responses((status = 200, description = "The candidate's custody image (JPEG as enrolled); the read is audited", content_type = "image/jpeg"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Only the Investigator who ran it", body = ErrorBody), (status = 404, description = "No such candidate", body = ErrorBody)))]
pub async fn candidate_image(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, face, rank)): Path<(String, u32, u32)>,
) -> Result<Response, ApiError> {
    Ok(jpeg(
        state
            .store
            .search_candidate_image(&user, &id, face, rank)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReviewBody {
    /// possible_match or not_a_match.
    #[schema(value_type = String)]
    verdict: ReviewVerdict,
    #[serde(default)]
    note: String,
    /// Needed to call a candidate below the search's Threshold a possible
    /// match; recorded in the audit log.
    #[serde(default)]
    below_threshold_reason: Option<String>,
}

/// `POST /api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/review`.
#[utoipa::path(post, path = "/api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/review", tag = "search", params(("id" = String, Path, description = "Search id"), ("face" = u32, Path, description = "Face number"), ("rank" = u32, Path, description = "Candidate rank, from 1")), request_body = ReviewBody, responses((status = 200, description = "Recorded (audited)"), (status = 400, description = "Malformed body", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Only the Investigator who ran it", body = ErrorBody), (status = 404, description = "No such candidate", body = ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    Path((id, face, rank)): Path<(String, u32, u32)>,
    ApiJson(r): ApiJson<ReviewBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .review_candidate(
            &user,
            &id,
            face,
            rank,
            &CandidateReview {
                verdict: r.verdict,
                note: &r.note,
                below_threshold_reason: r.below_threshold_reason.as_deref(),
            },
        )
        .await?;
    Ok(Json(serde_json::json!({"ok": true})))
}
