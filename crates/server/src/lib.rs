//! The `server` stage: the HTTP API the console and other clients use.
//!
//! Every handler is thin: it authenticates the caller, then asks the store,
//! which asks `vigil-core` whether that user may do that thing on that
//! Deployment. No route carries its own permission logic, so the API can
//! never grant what the rules refuse.
//!
//! Sessions: `POST /api/v1/login` checks an argon2 password hash and sets an
//! HttpOnly, SameSite=Strict session cookie; state-changing requests must
//! also carry the session's CSRF token in `X-Vigil-CSRF`.

pub mod auth;
pub mod console;
pub mod error;
pub mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use vigil_store::Store;

pub use auth::{hash_password, Sessions};
pub use error::ApiError;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub sessions: Arc<Sessions>,
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    /// Health of the cameras of a live pipeline running in this process.
    pub camera_health: Option<Arc<dyn Fn() -> serde_json::Value + Send + Sync>>,
}

/// Largest request body accepted (JSON bodies are small; uploads belong to
/// dedicated routes with their own limits).
pub const MAX_BODY_BYTES: usize = 1 << 20;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/login", post(routes::login))
        .route("/api/v1/logout", post(routes::logout))
        .route("/api/v1/me", get(routes::me))
        .route("/api/v1/deployments", get(routes::deployments))
        .route("/api/v1/deployments/{id}/alerts", get(routes::alerts))
        .route(
            "/api/v1/deployments/{id}/alerts/events",
            get(routes::alert_events),
        )
        .route(
            "/api/v1/alerts/{id}/images/{which}",
            get(routes::alert_image),
        )
        .route(
            "/api/v1/alerts/{id}/adjudications",
            post(routes::adjudicate),
        )
        .route("/api/v1/public/records", get(routes::public_records))
        .route("/api/v1/cameras", get(routes::cameras))
        .route("/metrics", get(routes::metrics))
        .route("/public", get(routes::public_page))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console") }),
        )
        .route("/login", get(console::login_page))
        .route("/console", get(console::home))
        .route("/console/deployments/{id}", get(console::operator))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
