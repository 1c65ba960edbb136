//! One error body for every route: `{"error": {"code": …, "message": …}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use vigil_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
    /// Fields added beside `error` (e.g. a second-factor enrolment).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::Denied(_) => (StatusCode::FORBIDDEN, "forbidden"),
            StoreError::Adjudication(vigil_core::alert::AdjudicationError::Denied(_)) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            StoreError::Deployment(vigil_core::deployment::DeploymentError::Denied(_)) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Refused(_) => (StatusCode::FORBIDDEN, "forbidden"),
            StoreError::BadInput(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            StoreError::Conflict(_) | StoreError::Deployment(_) | StoreError::Adjudication(_) => {
                (StatusCode::CONFLICT, "conflict")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
            return Self::new(status, code, "internal error");
        }
        Self::new(status, code, e.to_string())
    }
}

/// The body of every error response (documented for the OpenAPI file).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: unauthenticated, forbidden, csrf,
    /// bad_request, too_large, not_found, conflict, too_many_attempts,
    /// unreadable, unavailable, busy, timeout, internal.
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        if let (Some(serde_json::Value::Object(extra)), Some(b)) =
            (self.details, body.as_object_mut())
        {
            b.extend(extra);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}
