//! The OpenAPI document, generated from the handlers' annotations, served
//! at `/api/openapi.json` so clients and auditors can see every route, what
//! it takes and how it fails.

use axum::Json;
use utoipa::OpenApi;

use crate::{audit, deployments, error, rfr, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Accountable facial recognition. Every route checks the caller's role and Deployment assignment; changes need the session's X-Vigil-CSRF header."
    ),
    paths(
        crate::login::login,
        crate::users::list,
        crate::users::create,
        crate::users::update,
        crate::users::disable,
        crate::users::enable,
        crate::users::reset_password,
        crate::users::reset_second_factor,
        routes::logout,
        routes::me,
        routes::deployments,
        routes::alerts,
        routes::alert_events,
        routes::alert_image,
        routes::alert_footage,
        routes::adjudicate,
        routes::public_records,
        crate::cameras::list,
        crate::cameras::create,
        crate::cameras::update,
        crate::cameras::disable,
        crate::cameras::enable,
        crate::cameras::snapshot,
        crate::cameras::of_deployment,
        routes::metrics,
        deployments::create,
        deployments::get_one,
        deployments::update_application,
        deployments::transition,
        deployments::stats,
        deployments::cancellation_draft,
        deployments::file_cancellation_report,
        deployments::assign,
        deployments::unassign,
        deployments::reference_images,
        deployments::reference_image,
        deployments::watchlist,
        deployments::add_entry,
        deployments::remove_entry,
        deployments::blue_pass,
        deployments::threshold_advice,
        rfr::create,
        rfr::list,
        rfr::get_one,
        rfr::probe_image,
        rfr::candidate_image,
        rfr::review,
        audit::entries,
        audit::verify,
        audit::checkpoint,
        audit::retention,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
