//! What a handler takes from a request, checked once: the logged-in user
//! (`CurrentUser`), the logged-in user of a state-changing request whose
//! CSRF token matches (`ChangingUser`), and a JSON body (`ApiJson`). Each
//! rejects with the API's one error body, so no handler repeats the
//! preamble.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::de::DeserializeOwned;
use vigil_core::access::User;

use crate::{ApiError, AppState};

/// The user of a live session (401 without one).
pub struct CurrentUser(pub User);

/// The user of a live session whose request carries the session's CSRF
/// token in `X-Vigil-CSRF` (401 without a session, 403 without the token).
pub struct ChangingUser(pub User);

/// A JSON body; malformed is 400, over the body limit 413.
pub struct ApiJson<T>(pub T);

pub(crate) async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let (_, s) = state.sessions.from_headers(headers).await?;
    Ok(state.store.user(&s.user_id).await?)
}

pub(crate) async fn changing_user(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let s = state.sessions.for_change(headers).await?;
    Ok(state.store.user(&s.user_id).await?)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        current_user(state, &parts.headers).await.map(Self)
    }
}

impl FromRequestParts<AppState> for ChangingUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        changing_user(state, &parts.headers).await.map(Self)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body over {} bytes", crate::MAX_BODY_BYTES),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.body_text(),
            )),
        }
    }
}
