//! `/api/v1/audit` and `/api/v1/retention`: what an Auditor reads. The log
//! filtered by person, Deployment, action and time; the chain verified
//! (against a checkpoint the Auditor kept, if given); and what is due for
//! deletion when, and what is held and why. Nothing here is biometric:
//! entries name records, never show them.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_core::access::{self, Action};
use vigil_core::retention::{DataKind, LegalHold, RetentionPolicy};
use vigil_core::Millis;
use vigil_store::audit::{AuditEntry, AuditQuery, Checkpoint, Verification};

use crate::error::ErrorBody;
use crate::extract::{ChangingUser, CurrentUser};
use crate::{ApiError, AppState};

/// `GET /api/v1/audit`: entries, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(("actor" = Option<String>, Query, description = "user id"), ("action" = Option<String>, Query, description = "an action or its family, e.g. alert.image"), ("target" = Option<String>, Query, description = "record id"), ("deployment" = Option<String>, Query, description = "entries about this Deployment or its Alerts"), ("from_ms" = Option<i64>, Query, description = "from (ms since epoch)"), ("to_ms" = Option<i64>, Query, description = "before (ms since epoch)"), ("before_seq" = Option<i64>, Query, description = "next page: entries older than this"), ("limit" = Option<i64>, Query, description = "at most 500")), responses((status = 200, description = "Audit entries"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Auditors only", body = ErrorBody)))]
pub async fn entries(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(state.store.audit_search(&user, &q).await?))
}

/// A checkpoint the Auditor kept outside the system, to verify against.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyBody {
    #[schema(value_type = Option<Object>)]
    checkpoint: Option<Checkpoint>,
}

#[derive(Serialize)]
pub struct VerifyAnswer {
    #[serde(flatten)]
    verification: Verification,
    /// The last checkpoint taken in this log (its entry), if any.
    latest_checkpoint: Option<AuditEntry>,
}

/// `POST /api/v1/audit/verify`: recompute the chain and every bound record.
#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit", request_body = VerifyBody, responses((status = 200, description = "The verification, with the latest checkpoint entry"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Auditors only", body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
    b: Result<Json<VerifyBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<VerifyAnswer>, ApiError> {
    access::check(&user, Action::ReadAudit, &[]).map_err(vigil_store::StoreError::from)?;
    let checkpoint = b.ok().and_then(|Json(b)| b.checkpoint);
    if checkpoint.as_ref().is_some_and(|c| !c.signature_valid()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the checkpoint's signature is not valid for the key it names",
        ));
    }
    let verification = state
        .store
        .audit_verify_against(checkpoint.as_ref())
        .await?;
    let latest_checkpoint = latest_checkpoint(&state, &user).await?;
    Ok(Json(VerifyAnswer {
        verification,
        latest_checkpoint,
    }))
}

async fn latest_checkpoint(
    state: &AppState,
    user: &vigil_core::access::User,
) -> Result<Option<AuditEntry>, ApiError> {
    let q = AuditQuery {
        action: Some("audit.checkpoint".into()),
        limit: 1,
        ..Default::default()
    };
    Ok(state.store.audit_search(user, &q).await?.pop())
}

/// `POST /api/v1/audit/checkpoint`: sign the head, for the Auditor to keep.
#[utoipa::path(post, path = "/api/v1/audit/checkpoint", tag = "audit", responses((status = 200, description = "A signed checkpoint (keep it outside the system)"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Auditors only", body = ErrorBody)))]
pub async fn checkpoint(
    State(state): State<AppState>,
    ChangingUser(user): ChangingUser,
) -> Result<Json<Checkpoint>, ApiError> {
    access::check(&user, Action::ReadAudit, &[]).map_err(vigil_store::StoreError::from)?;
    Ok(Json(state.store.audit_checkpoint(&user.id).await?))
}

/// One kind of data under retention.
#[derive(Serialize)]
pub struct KindSummary {
    kind: DataKind,
    /// Records of this kind still held in the system.
    records: usize,
    /// Past their deletion time and not held: the sweeper deletes them next.
    overdue: usize,
    held: usize,
    /// The soonest deletion time among the rest.
    next_due: Option<Millis>,
}

#[derive(Serialize)]
pub struct RetentionAnswer {
    now: Millis,
    policy: RetentionPolicy,
    kinds: Vec<KindSummary>,
    /// The 50 records due soonest (held ones excluded).
    soonest: Vec<vigil_store::retention::DueItem>,
    holds: Vec<LegalHold>,
}

/// `GET /api/v1/retention`: what is due for deletion when, and what is held.
#[utoipa::path(get, path = "/api/v1/retention", tag = "audit", responses((status = 200, description = "Retention state under the default policy"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Auditors and Administrators only", body = ErrorBody)))]
pub async fn retention(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<RetentionAnswer>, ApiError> {
    let policy = RetentionPolicy::default();
    let items = state.store.retention_status(&user, &policy).await?;
    let holds = state.store.active_holds(&user).await?;
    let now = state.store.now();
    let mut kinds: Vec<KindSummary> = Vec::new();
    for i in &items {
        let k = match kinds.iter_mut().find(|k| k.kind == i.kind) {
            Some(k) => k,
            None => {
                kinds.push(KindSummary {
                    kind: i.kind,
                    records: 0,
                    overdue: 0,
                    held: 0,
                    next_due: None,
                });
                kinds.last_mut().expect("just pushed")
            }
        };
        k.records += 1;
        if i.held {
            k.held += 1;
        } else if let Some(due) = i.due_at {
            if due <= now {
                k.overdue += 1;
            } else {
                k.next_due = Some(k.next_due.map_or(due, |n| n.min(due)));
            }
        }
    }
    let mut soonest: Vec<_> = items
        .into_iter()
        .filter(|i| !i.held && i.due_at.is_some())
        .collect();
    soonest.sort_by_key(|i| i.due_at);
    soonest.truncate(50);
    Ok(Json(RetentionAnswer {
        now,
        policy,
        kinds,
        soonest,
        holds,
    }))
}
