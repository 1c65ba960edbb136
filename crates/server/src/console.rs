//! The web console: server-rendered pages whose scripts are static files
//! that call the JSON API. The pages hold no data the API would not give
//! the same user; every action goes through the API (and so through the
//! same checks).
//!
//! Markup is rendered by `askama` templates (`templates/`), which escape
//! every value for HTML, quotes included; scripts and the stylesheet are
//! served from `/assets/` so the Content-Security-Policy can forbid inline
//! script altogether (see [`crate::headers`]). A page that names a
//! Deployment looks it up before rendering anything.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use vigil_core::access::{self, Action, User};
use vigil_core::deployment::Deployment;
use vigil_store::StoreError;

use crate::AppState;

/// Renders a template, or a plain 500 if it cannot be (it always can: the
/// templates are checked at compile time).
fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("console template: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    title: &'a str,
    element_id: &'a str,
    message: &'a str,
}

/// The page a user sees where the rules refuse them, with the reason.
fn refused(status: StatusCode, reason: &str) -> Response {
    let page = Message {
        title: "Not available",
        element_id: "refused",
        message: reason,
    };
    (status, render(&page)).into_response()
}

fn not_found() -> Response {
    let page = Message {
        title: "Not found",
        element_id: "not-found",
        message: "No such Deployment.",
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    title: &'static str,
}

pub async fn login_page() -> Response {
    render(&Login { title: "Log in" })
}

/// The session's user and CSRF token, or a redirect to the login page.
/// The login page comes back to `path` (this console page) afterwards.
async fn session(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<(User, String), Response> {
    let to_login = || {
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        Redirect::to(&format!("/login?next={next}")).into_response()
    };
    let Ok((_, s)) = state.sessions.from_headers(headers).await else {
        return Err(to_login());
    };
    match state.store.user(&s.user_id).await {
        Ok(u) => Ok((u, s.csrf)),
        Err(_) => Err(to_login()),
    }
}

/// The Deployment named in a console path must exist before anything of
/// the page is rendered: an id is never echoed back unless it is one.
async fn known_deployment(state: &AppState, id: &str) -> Result<Deployment, Response> {
    match state.store.deployment(id).await {
        Ok(d) => Ok(d),
        Err(StoreError::NotFound(_)) => Err(not_found()),
        Err(e) => {
            tracing::error!("console: {e}");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// A page about one Deployment (`/console/deployments/{id}{rest}`): the
/// session, with sign-in leading back here, and the Deployment, 404 unless
/// it exists.
async fn deployment_session(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    rest: &str,
) -> Result<(User, String, Deployment), Response> {
    let (user, csrf) = session(state, headers, &format!("/console/deployments/{id}{rest}")).await?;
    let d = known_deployment(state, id).await?;
    Ok((user, csrf, d))
}

/// A page for a signed-in user: never cached (it carries the CSRF token).
fn app_page(t: &impl Template) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], render(t)).into_response()
}

struct DeploymentRow {
    id: String,
    title: String,
    location: String,
    state: &'static str,
}

/// Every Deployment, by title, for a list or a filter.
async fn deployment_rows(state: &AppState) -> Vec<DeploymentRow> {
    state
        .store
        .deployments()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| DeploymentRow {
            id: d.id,
            title: d.application.title,
            location: d.application.location,
            state: d.state.label(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    user_id: String,
    rank: String,
    may_draft: bool,
    may_administer: bool,
    may_audit: bool,
    deployments: Vec<DeploymentRow>,
}

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let deployments = deployment_rows(&state).await;
    app_page(&Home {
        title: "Deployments",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["home"],
        may_draft: access::check(&user, Action::DraftApplication, &[]).is_ok(),
        may_administer: access::check(&user, Action::ConfigureSystem, &[]).is_ok(),
        may_audit: access::check(&user, Action::ReadAudit, &[]).is_ok(),
        rank: format!("{:?}", user.rank),
        user_id: user.id,
        deployments,
    })
}

struct Field {
    path: &'static str,
    label: &'static str,
    long: bool,
}

/// The Application fields, in Form 1's order.
const APPLICATION_FIELDS: [Field; 15] = [
    field("title", "Title", false),
    field("location", "Location (Zone of Recognition)", false),
    field("legitimate_aim", "Legitimate aim", true),
    field("legal_basis", "Legal basis", true),
    field("necessity", "Necessity", true),
    field("proportionality", "Proportionality", true),
    field("safeguards", "Safeguards", true),
    field("watchlist_composition", "Watchlist composition", true),
    field("resources", "Resources", true),
    field(
        "assessments.community_impact",
        "Community impact assessment",
        true,
    ),
    field(
        "assessments.equality_impact",
        "Equality impact assessment",
        true,
    ),
    field(
        "assessments.data_protection_impact",
        "Data protection impact assessment",
        true,
    ),
    field(
        "assessments.surveillance_camera_self_assessment",
        "Surveillance camera self-assessment",
        true,
    ),
    field(
        "assessments.operational_risk",
        "Operational risk assessment",
        true,
    ),
    field(
        "public_notice",
        "Advance public notice: the purpose published before the Deployment (leave blank where notice would undermine it)",
        true,
    ),
];

const fn field(path: &'static str, label: &'static str, long: bool) -> Field {
    Field { path, label, long }
}

#[derive(Template)]
#[template(path = "new_application.html")]
struct NewApplication {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    fields: &'static [Field],
}

/// `/console/deployments/new`: an Applicant drafts Form 1 Part 1.
pub async fn new_application(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console/deployments/new").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    app_page(&NewApplication {
        title: "New Application",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["application", "new_application"],
        fields: &APPLICATION_FIELDS,
    })
}

/// A page about one Deployment: its id and the page's scripts.
#[derive(Template)]
#[template(path = "deployment.html")]
struct DeploymentPage {
    title: String,
    dep_title: String,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    dep: String,
    fields: &'static [Field],
}

/// `/console/deployments/{id}`: the Deployment: its Application, authority,
/// the steps this user may take, statistics, Cancellation Report and log.
pub async fn deployment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (user, csrf, d) = match deployment_session(&state, &headers, &id, "").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    app_page(&DeploymentPage {
        title: d.application.title.clone(),
        dep_title: d.application.title,
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["application", "deployment"],
        dep: id,
        fields: &APPLICATION_FIELDS,
    })
}

#[derive(Template)]
#[template(path = "watchlist.html")]
struct WatchlistPage {
    title: String,
    dep_title: String,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    dep: String,
}

/// `/console/deployments/{id}/watchlist`: compile the Watchlist from the
/// reference store with a quality verdict per image and the expected
/// Alert load; record Blue Watchlist passes.
pub async fn watchlist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (user, csrf, d) = match deployment_session(&state, &headers, &id, "/watchlist").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    app_page(&WatchlistPage {
        title: format!("Watchlist: {}", d.application.title),
        dep_title: d.application.title,
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["watchlist"],
        dep: id,
    })
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    title: String,
    dep_title: String,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    dep: String,
}

/// The Operator view: live Alert queue, Probe and Candidate side by side,
/// keyboard adjudication, camera health with the False Alert Rate so far.
pub async fn operator(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (user, csrf, d) = match deployment_session(&state, &headers, &id, "/operator").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = state.store.alerts(&user, &id, None, 1).await {
        let status = if matches!(e, StoreError::NotFound(_)) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        return refused(status, &e.to_string());
    }
    app_page(&OperatorPage {
        title: format!("Alerts: {}", d.application.title),
        dep_title: d.application.title,
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["operator"],
        dep: id,
    })
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
}

/// RFR and OIFR: one page an investigator uses at a desk or on a phone
/// (the file input offers the camera on mobile devices).
pub async fn search(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console/search").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = access::check(&user, Action::RunSearch, &[]) {
        return refused(StatusCode::FORBIDDEN, &e.to_string());
    }
    app_page(&SearchPage {
        title: "Face search (RFR / OIFR)",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["search"],
    })
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    ranks: Vec<String>,
    roles: Vec<String>,
}

/// `/console/users`: an Administrator's list of people, with the buttons
/// to add, disable, enable and reset them.
pub async fn users(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console/users").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = access::check(&user, Action::ManageUsers, &[]) {
        return refused(StatusCode::FORBIDDEN, &e.to_string());
    }
    use vigil_core::access::{Rank, Role};
    let ranks = [
        Rank::Staff,
        Rank::Constable,
        Rank::Sergeant,
        Rank::Inspector,
        Rank::ChiefInspector,
        Rank::Superintendent,
        Rank::ChiefSuperintendent,
        Rank::Commander,
        Rank::DeputyAssistantCommissioner,
        Rank::AssistantCommissioner,
        Rank::DeputyCommissioner,
        Rank::Commissioner,
    ];
    let roles = [
        Role::Administrator,
        Role::Applicant,
        Role::AuthorisingOfficer,
        Role::Investigator,
        Role::Auditor,
    ];
    app_page(&UsersPage {
        title: "People",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["users"],
        ranks: ranks.iter().map(|r| format!("{r:?}")).collect(),
        roles: roles.iter().map(|r| format!("{r:?}")).collect(),
    })
}

#[derive(Template)]
#[template(path = "cameras.html")]
struct CamerasPage {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
}

/// `/console/cameras`: an Administrator registers cameras, sets their
/// credentials and draws each Zone of Recognition on a snapshot frame.
pub async fn cameras(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console/cameras").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = access::check(&user, Action::ConfigureSystem, &[]) {
        return refused(StatusCode::FORBIDDEN, &e.to_string());
    }
    app_page(&CamerasPage {
        title: "Cameras",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["cameras"],
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    title: &'static str,
    csrf: String,
    user_name: String,
    scripts: &'static [&'static str],
    deployments: Vec<DeploymentRow>,
    actions: &'static [(&'static str, &'static str)],
}

/// The actions an Auditor filters by most, by family.
const AUDIT_ACTIONS: [(&str, &str); 10] = [
    ("alert.image", "Alert images opened or refused"),
    ("alert.adjudicate", "Adjudications"),
    ("alert.raise", "Alerts raised"),
    ("footage.export", "Footage exported"),
    ("search", "Face searches"),
    ("deployment", "Deployment steps"),
    ("watchlist", "Watchlist changes"),
    ("camera", "Cameras"),
    ("user", "People and accounts"),
    ("login", "Logins"),
];

/// `/console/audit`: the Auditor's page (log, chain, retention).
pub async fn audit(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf) = match session(&state, &headers, "/console/audit").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = access::check(&user, Action::ReadAudit, &[]) {
        return refused(StatusCode::FORBIDDEN, &e.to_string());
    }
    let deployments = deployment_rows(&state).await;
    app_page(&AuditPage {
        title: "Audit",
        csrf,
        user_name: user.display_name.clone(),
        scripts: &["audit"],
        deployments,
        actions: &AUDIT_ACTIONS,
    })
}

#[derive(Template)]
#[template(path = "public.html")]
struct PublicPage {
    title: &'static str,
    records: Vec<PublicRow>,
    notices: Vec<NoticeRow>,
}

struct PublicRow {
    location: String,
    when: String,
    outcome: String,
    alerts: u64,
    false_alerts: u64,
    engagements: u64,
    arrests: String,
    false_alert_rate: String,
}

struct NoticeRow {
    location: String,
    when: String,
    purpose: String,
    under_way: bool,
}

/// A time as people read it, in UTC (the page says so).
fn human(ms: vigil_core::Millis) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short] [day padding:none] [month repr:long] [year], [hour]:[minute]"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_else(|| "-".into())
}

/// The span of a Deployment: one date when it starts and ends the same day.
fn span(start: vigil_core::Millis, end: vigil_core::Millis) -> String {
    let (a, b) = (human(start), human(end));
    match (a.split_once(", "), b.split_once(", ")) {
        (Some((da, ta)), Some((db, tb))) if da == db => format!("{da}, {ta} to {tb}"),
        _ => format!("{a} to {b}"),
    }
}

/// The public page: Deployments notified in advance, and the records of
/// those that have ended. No login, no personal data.
pub async fn public_page(State(state): State<AppState>) -> Result<Response, crate::ApiError> {
    let records = state
        .store
        .published_records()
        .await?
        .into_iter()
        .map(|r| PublicRow {
            when: span(r.planned_start, r.planned_end),
            location: r.location,
            outcome: r.outcome,
            alerts: r.alerts,
            false_alerts: r.false_alerts,
            engagements: r.engagements,
            arrests: r
                .arrests
                .map_or_else(|| "not yet reported".into(), |a| a.to_string()),
            false_alert_rate: r
                .false_alert_rate
                .map_or_else(|| "-".into(), |f| format!("{:.3} %", 100.0 * f)),
        })
        .collect();
    let notices = state
        .store
        .upcoming_notices()
        .await?
        .into_iter()
        .map(|n| NoticeRow {
            when: span(n.planned_start, n.planned_end),
            location: n.location,
            purpose: n.purpose,
            under_way: n.under_way,
        })
        .collect();
    Ok(render(&PublicPage {
        title: "Live Facial Recognition deployments",
        records,
        notices,
    }))
}

/// The console's scripts and stylesheet, compiled into the binary.
const ASSETS: [(&str, &str); 13] = [
    ("audit.js", include_str!("../assets/audit.js")),
    ("cameras.js", include_str!("../assets/cameras.js")),
    ("users.js", include_str!("../assets/users.js")),
    ("console.css", include_str!("../assets/console.css")),
    ("common.js", include_str!("../assets/common.js")),
    ("login.js", include_str!("../assets/login.js")),
    ("home.js", include_str!("../assets/home.js")),
    ("application.js", include_str!("../assets/application.js")),
    (
        "new_application.js",
        include_str!("../assets/new_application.js"),
    ),
    ("deployment.js", include_str!("../assets/deployment.js")),
    ("watchlist.js", include_str!("../assets/watchlist.js")),
    ("operator.js", include_str!("../assets/operator.js")),
    ("search.js", include_str!("../assets/search.js")),
];

/// `/assets/{name}`: a script or the stylesheet.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, body)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *body,
    )
        .into_response()
}
