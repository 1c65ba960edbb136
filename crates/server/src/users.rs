//! `/api/v1/users`: Administrators create people, change their rank and
//! roles, disable and re-enable accounts, and reset passwords and second
//! factors. Every change carries a reason and is audited by the store.
//!
//! A new or reset password is a one-time password made here and shown
//! once, in the answer; the person must choose their own at next login.

use axum::extract::{Path, State};

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_core::access::{Rank, Role, User};

use crate::error::ErrorBody;
use crate::extract::{ApiJson, ChangingUser, CurrentUser};
use crate::{ApiError, AppState};

/// A one-time password: 20 characters from an unambiguous alphabet (about
/// 100 bits), easy to read out over a phone.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut b = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    let chars: Vec<char> = b
        .iter()
        .map(|x| ALPHABET[(*x as usize) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// The login name (letters, digits, '.', '-', '_').
    id: String,
    display_name: String,
    #[schema(value_type = String)]
    rank: Rank,
    /// Force-wide roles (Administrator, Applicant, AuthorisingOfficer,
    /// Investigator, Auditor); Deployment roles come by assignment.
    #[serde(default)]
    roles: Vec<Role>,
    reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChange {
    display_name: Option<String>,
    #[schema(value_type = Option<String>)]
    rank: Option<Rank>,
    roles: Option<Vec<Role>>,
    reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub(crate) reason: String,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, description = "Every account: name, rank, roles, disabled, must change password, second factor enrolled"), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.accounts(&admin).await?)))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser, responses((status = 200, description = "The account and its one-time password (shown once)"), (status = 400, description = "Malformed, or a Deployment role given to an account", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    ApiJson(n): ApiJson<NewUser>,
) -> Result<Json<Value>, ApiError> {
    let otp = one_time_password();
    let phc = state.passwords.hash(otp.clone()).await?;
    let user = User {
        id: n.id.trim().to_string(),
        display_name: n.display_name.trim().to_string(),
        rank: n.rank,
        roles: n.roles,
    };
    let account = state
        .store
        .create_user(&admin, &user, &phc, &n.reason)
        .await?;
    Ok(Json(json!({"account": account, "one_time_password": otp})))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User name")), request_body = UserChange, responses((status = 200, description = "The account after the change"), (status = 400, description = "Malformed or no reason", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own roles", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(c): ApiJson<UserChange>,
) -> Result<Json<Value>, ApiError> {
    let account = state
        .store
        .update_user(
            &admin,
            &id,
            c.display_name.as_deref(),
            c.rank,
            c.roles.as_deref(),
            &c.reason,
        )
        .await?;
    Ok(Json(json!(account)))
}

async fn set_disabled(
    state: AppState,
    admin: User,
    id: String,
    r: Reason,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    let account = state
        .store
        .set_disabled(&admin, &id, disabled, &r.reason)
        .await?;
    Ok(Json(json!(account)))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users", params(("id" = String, Path, description = "User name")), request_body = Reason, responses((status = 200, description = "Disabled; the user's sessions and event streams end at once"), (status = 400, description = "No reason", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own account", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(state, admin, id, b, true).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "users", params(("id" = String, Path, description = "User name")), request_body = Reason, responses((status = 200, description = "Enabled again"), (status = 400, description = "No reason", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own account", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(state, admin, id, b, false).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users", params(("id" = String, Path, description = "User name")), request_body = Reason, responses((status = 200, description = "A new one-time password (shown once); the user's sessions end"), (status = 400, description = "No reason", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own account", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    let otp = one_time_password();
    let phc = state.passwords.hash(otp.clone()).await?;
    state
        .store
        .reset_password(&admin, &id, &phc, &r.reason)
        .await?;
    Ok(Json(json!({"user": id, "one_time_password": otp})))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/reset-second-factor", tag = "users", params(("id" = String, Path, description = "User name")), request_body = Reason, responses((status = 200, description = "The second factor is removed; the user enrols again at next login"), (status = 400, description = "No reason", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Administrators only; not one's own account", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn reset_second_factor(
    State(state): State<AppState>,
    ChangingUser(admin): ChangingUser,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .reset_second_factor(&admin, &id, &r.reason)
        .await?;
    Ok(Json(json!({"user": id, "second_factor_enrolled": false})))
}
