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

pub mod audit;
pub mod auth;
pub mod cameras;
pub mod console;
pub mod deployments;
pub mod error;
pub mod extract;
pub mod headers;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod rfr;
pub mod routes;
pub mod serve;
pub mod throttle;
pub mod tls;
pub mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use vigil_core::quality::ReferenceVerdict;
use vigil_store::Store;

pub use auth::{hash_password, Sessions};
pub use error::ApiError;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub sessions: Arc<Sessions>,
    /// Failed-login delays and lockouts.
    pub throttle: Arc<throttle::Throttle>,
    /// argon2 checks, off the request threads.
    pub passwords: Arc<auth::PasswordChecker>,
    /// RFR/OIFR searches analysed at once (each can hold a large upload
    /// and a decoded video).
    pub searches: Arc<tokio::sync::Semaphore>,
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    /// Require a second factor (TOTP) of the accounts that need one. Off in
    /// the library (tests, the demo); `vigil serve` turns it on.
    pub second_factor: bool,
    /// Judges reference images (faces found, inter-eye distance, pose,
    /// sharpness, pass or the reasons it fails); None: no verdicts.
    pub judge: Option<Arc<dyn vigil_core::quality::ReferenceJudge>>,
    quality: Arc<Mutex<HashMap<String, ReferenceVerdict>>>,
    /// The recogniser's calibration: the expected Alert load at a
    /// Threshold, the Threshold advice on the authority form, the search
    /// Threshold (None: not offered).
    pub calibration: Option<Arc<vigil_eval::Calibration>>,
    /// RFR/OIFR: the face engine and the reference store (None: searches
    /// answer 503).
    pub search: Option<Arc<dyn vigil_core::search::FaceSearch>>,
    /// Takes a camera's snapshot for the Zone editor (None: 503).
    pub snapshots: Option<Arc<dyn cameras::CameraSnapshot>>,
    /// Watermarks exported footage (None: exports answer 503).
    pub clips: Option<Arc<dyn vigil_core::camera::ClipWatermark>>,
}

impl AppState {
    pub fn new(store: Arc<Store>, session_ttl: std::time::Duration) -> Self {
        Self {
            store: store.clone(),
            sessions: Arc::new(Sessions::new(
                store.clone(),
                vigil_core::accounts::SessionPolicy {
                    absolute_ms: session_ttl.as_millis() as i64,
                    ..Default::default()
                },
            )),
            throttle: Arc::new(throttle::Throttle::new(throttle::Settings::default())),
            passwords: Arc::new(auth::PasswordChecker::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            searches: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_SEARCHES)),
            secure_cookies: false,
            second_factor: false,
            judge: None,
            quality: Arc::default(),
            calibration: None,
            search: None,
            snapshots: None,
            clips: None,
        }
    }

    /// Lets assigned users export the footage around an Alert.
    pub fn with_clips(mut self, c: Arc<dyn vigil_core::camera::ClipWatermark>) -> Self {
        self.clips = Some(c);
        self
    }

    /// Lets Administrators take camera snapshots for the Zone editor.
    pub fn with_snapshots(mut self, s: Arc<dyn cameras::CameraSnapshot>) -> Self {
        self.snapshots = Some(s);
        self
    }

    /// Serves RFR/OIFR searches.
    pub fn with_search(mut self, search: Arc<dyn vigil_core::search::FaceSearch>) -> Self {
        self.search = Some(search);
        self
    }

    /// Gives quality verdicts on reference images.
    pub fn with_judge(mut self, judge: Arc<dyn vigil_core::quality::ReferenceJudge>) -> Self {
        self.judge = Some(judge);
        self
    }

    /// Offers the expected Alert load and Threshold advice from this
    /// calibration.
    pub fn with_calibration(mut self, c: Arc<vigil_eval::Calibration>) -> Self {
        self.calibration = Some(c);
        self
    }

    /// Replaces the login throttle's settings (tests use short lockouts).
    pub fn with_throttle(mut self, settings: throttle::Settings) -> Self {
        self.throttle = Arc::new(throttle::Throttle::new(settings));
        self
    }

    /// Quality verdicts are cached by reference image id: images in the
    /// reference store never change, and judging one costs a detection.
    fn quality_cache(&self, id: &str) -> Option<ReferenceVerdict> {
        self.quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn remember_quality(&self, id: &str, v: ReferenceVerdict) {
        self.quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), v);
    }
}

/// RFR/OIFR searches analysed at once; more get 503 and try again.
pub const MAX_CONCURRENT_SEARCHES: usize = 2;

/// Largest request body accepted (JSON bodies are small; uploads belong to
/// dedicated routes with their own limits).
pub const MAX_BODY_BYTES: usize = 1 << 20;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/login", post(login::login))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", axum::routing::patch(users::update))
        .route("/api/v1/users/{id}/disable", post(users::disable))
        .route("/api/v1/users/{id}/enable", post(users::enable))
        .route(
            "/api/v1/users/{id}/reset-password",
            post(users::reset_password),
        )
        .route(
            "/api/v1/users/{id}/reset-second-factor",
            post(users::reset_second_factor),
        )
        .route("/api/v1/logout", post(routes::logout))
        .route("/api/v1/me", get(routes::me))
        .route(
            "/api/v1/deployments",
            get(routes::deployments).post(deployments::create),
        )
        .route("/api/v1/deployments/{id}", get(deployments::get_one))
        .route(
            "/api/v1/deployments/{id}/application",
            put(deployments::update_application),
        )
        .route(
            "/api/v1/deployments/{id}/transitions",
            post(deployments::transition),
        )
        .route("/api/v1/deployments/{id}/stats", get(deployments::stats))
        .route(
            "/api/v1/calibration/threshold",
            get(deployments::threshold_advice),
        )
        .route(
            "/api/v1/deployments/{id}/cancellation-report/draft",
            get(deployments::cancellation_draft),
        )
        .route(
            "/api/v1/deployments/{id}/cancellation-report",
            post(deployments::file_cancellation_report),
        )
        .route(
            "/api/v1/deployments/{id}/assignments",
            post(deployments::assign).delete(deployments::unassign),
        )
        .route(
            "/api/v1/deployments/{id}/reference-images",
            get(deployments::reference_images),
        )
        .route(
            "/api/v1/deployments/{id}/reference-images/{rid}",
            get(deployments::reference_image),
        )
        .route(
            "/api/v1/deployments/{id}/watchlist",
            get(deployments::watchlist).post(deployments::add_entry),
        )
        .route(
            "/api/v1/deployments/{id}/watchlist/{entry}/removal",
            post(deployments::remove_entry),
        )
        .route(
            "/api/v1/deployments/{id}/blue-passes",
            post(deployments::blue_pass),
        )
        .route("/api/v1/deployments/{id}/alerts", get(routes::alerts))
        .route(
            "/api/v1/deployments/{id}/alerts/events",
            get(routes::alert_events),
        )
        .route(
            "/api/v1/alerts/{id}/images/{which}",
            get(routes::alert_image),
        )
        .route("/api/v1/alerts/{id}/footage", get(routes::alert_footage))
        .route(
            "/api/v1/alerts/{id}/adjudications",
            post(routes::adjudicate),
        )
        .route(
            "/api/v1/rfr/searches",
            get(rfr::list)
                .post(rfr::create)
                .layer(DefaultBodyLimit::max(rfr::MAX_SEARCH_BYTES)),
        )
        .route("/api/v1/rfr/searches/{id}", get(rfr::get_one))
        .route(
            "/api/v1/rfr/searches/{id}/faces/{face}/probe",
            get(rfr::probe_image),
        )
        .route(
            "/api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/image",
            get(rfr::candidate_image),
        )
        .route(
            "/api/v1/rfr/searches/{id}/faces/{face}/candidates/{rank}/review",
            post(rfr::review),
        )
        .route("/api/v1/public/records", get(routes::public_records))
        .route("/api/v1/audit", get(audit::entries))
        .route("/api/v1/audit/verify", post(audit::verify))
        .route("/api/v1/audit/checkpoint", post(audit::checkpoint))
        .route("/api/v1/retention", get(audit::retention))
        .route("/console/audit", get(console::audit))
        .route("/api/v1/cameras", get(cameras::list).post(cameras::create))
        .route(
            "/api/v1/cameras/{id}",
            axum::routing::patch(cameras::update),
        )
        .route("/api/v1/cameras/{id}/disable", post(cameras::disable))
        .route("/api/v1/cameras/{id}/enable", post(cameras::enable))
        .route("/api/v1/cameras/{id}/snapshot", get(cameras::snapshot))
        .route(
            "/api/v1/deployments/{id}/cameras",
            get(cameras::of_deployment),
        )
        .route("/console/cameras", get(console::cameras))
        .route("/metrics", get(routes::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .route("/public", get(console::public_page))
        .route("/assets/{name}", get(console::asset))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console") }),
        )
        .route("/login", get(console::login_page))
        .route("/console", get(console::home))
        .route("/console/deployments/new", get(console::new_application))
        .route("/console/search", get(console::search))
        .route("/console/users", get(console::users))
        .route("/console/deployments/{id}", get(console::deployment))
        .route("/console/deployments/{id}/operator", get(console::operator))
        .route(
            "/console/deployments/{id}/watchlist",
            get(console::watchlist),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            headers::Tls(state.secure_cookies),
            headers::security_headers,
        ))
        .with_state(state)
}
