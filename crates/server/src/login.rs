//! Logging in: password, a forced change of a one-time password, and the
//! second factor (TOTP, RFC 6238), with the throttle in front of it all.
//!
//! Each step answers with a code the console acts on, and nothing is
//! committed until every step has passed: a login that must change its
//! password and enrol a second factor sends `new_password` and the first
//! code together, and both are recorded in one go.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigil_store::accounts::LoginRecord;

use crate::error::ErrorBody;
use crate::extract::ApiJson;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    user: String,
    password: String,
    /// Required when the password is a one-time one (first login, reset).
    #[serde(default)]
    new_password: Option<String>,
    /// The six-digit code of the user's authenticator app, when the
    /// account needs a second factor (also the first code at enrolment).
    #[serde(default)]
    totp: Option<String>,
}

/// The authenticator for a user's secret: six digits, 30 s steps, SHA-1
/// (what every authenticator app supports).
fn authenticator(secret: Vec<u8>, user: &str) -> Result<totp_rs::TOTP, ApiError> {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("Vigil".into()),
        user.replace(':', "_"),
    )
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The 30 s step `code` belongs to (the current one or one either side),
/// if it is right.
fn matching_step(totp: &totp_rs::TOTP, code: &str) -> Option<i64> {
    let now = unix_now();
    [now.saturating_sub(30), now, now + 30]
        .into_iter()
        .find_map(|t| {
            let expected = totp.generate(t);
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.trim().as_bytes()).into();
            same.then_some((t / 30) as i64)
        })
}

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_credentials",
        "wrong user or password",
    )
}

/// A fresh secret offered for enrolment: the secret as text and an
/// `otpauth://` URL as a QR code (SVG) for the authenticator app.
async fn enrolment(state: &AppState, user: &str) -> Result<ApiError, ApiError> {
    let mut secret = vec![0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    state.store.offer_totp(user, &secret).await?;
    let totp = authenticator(secret, user)?;
    let url = totp.get_url();
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    Ok(ApiError::new(
        StatusCode::FORBIDDEN,
        "totp_enrolment_required",
        "this account needs a second factor: add the secret to an authenticator app and send its first code",
    )
    .with_details(json!({
        "enrolment": {"secret": totp.get_secret_base32(), "otpauth_url": url, "qr_svg": svg}
    })))
}

#[utoipa::path(post, path = "/api/v1/login", tag = "session", request_body = Login, responses(
    (status = 200, description = "Session cookie set; body has the user and the CSRF token"),
    (status = 400, description = "The new password is refused (too short, common, guessable)", body = ErrorBody),
    (status = 401, description = "Wrong user or password (bad_credentials), a code is needed (totp_required) or wrong (bad_totp)", body = ErrorBody),
    (status = 403, description = "The account is disabled, must change its password (password_change_required) or enrol a second factor (totp_enrolment_required, with the secret and QR code)", body = ErrorBody),
    (status = 429, description = "Too many failed attempts for this account or address: try again after Retry-After seconds", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    ApiJson(l): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let address = crate::serve::peer(&extensions).map(|a| a.ip());
    if let Some(wait) = state.throttle.wait(&l.user, address) {
        return Err(too_many(wait));
    }
    // Unknown users are checked against a dummy hash: the same work, the
    // same answer, the same time as a wrong password.
    let record = state.store.login_record(&l.user).await?;
    let phc = record.as_ref().and_then(|r| r.password_hash.clone());
    let password_ok = state.passwords.verify(l.password.clone(), phc).await;
    let record = match (password_ok, record) {
        (true, Some(r)) => r,
        (_, known) => {
            fail(&state, &l.user, address, known.is_some()).await?;
            return Err(refused());
        }
    };
    if record.disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled: ask an Administrator",
        ));
    }
    let new_hash = if record.must_change_password {
        let Some(new) = l.new_password.as_deref() else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "this password was given to you once: choose your own (send new_password)",
            ));
        };
        if new == l.password {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "weak_password",
                "the new password must differ from the one-time password",
            ));
        }
        vigil_core::accounts::check_password(&l.user, new)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "weak_password", e.to_string()))?;
        Some(state.passwords.hash(new.to_string()).await?)
    } else {
        None
    };
    second_factor(&state, &l, &record, address).await?;
    if let Some(h) = new_hash {
        state.store.change_own_password(&record.user.id, &h).await?;
    }
    state.throttle.succeeded(&l.user);
    let user = record.user;
    let (token, session) = state.sessions.create(&user.id).await?;
    state.store.audit(&user.id, "login", &user.id, "").await?;
    let jar = axum_extra::extract::CookieJar::new().add(crate::auth::session_cookie(
        Some(&token),
        state.secure_cookies,
    ));
    Ok((jar, Json(json!({"user": user, "csrf": session.csrf}))).into_response())
}

/// The second factor, where the account needs one: a right, unused code,
/// or the enrolment of a new secret.
async fn second_factor(
    state: &AppState,
    l: &Login,
    record: &LoginRecord,
    address: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    if !state.second_factor {
        return Ok(());
    }
    let assigned = state.store.assigned_roles(&record.user.id).await?;
    if !vigil_core::accounts::needs_second_factor(&record.user, &assigned) {
        return Ok(());
    }
    let (sealed, enrolled) = match &record.totp {
        Some((s, enrolled)) => (s.clone(), *enrolled),
        None => return Err(enrolment(state, &record.user.id).await?),
    };
    let Some(code) = l.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
        if enrolled {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "enter the code from your authenticator app",
            ));
        }
        return Err(enrolment(state, &record.user.id).await?);
    };
    let secret = state.store.open_totp(&record.user.id, &sealed)?;
    let totp = authenticator(secret, &record.user.id)?;
    let step =
        matching_step(&totp, code).filter(|s| record.totp_last_step.is_none_or(|last| *s > last));
    let Some(step) = step else {
        fail(state, &l.user, address, true).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_totp",
            "wrong or already used code",
        ));
    };
    state
        .store
        .use_totp_step(&record.user.id, step, !enrolled)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_totp",
                "wrong or already used code",
            )
        })?;
    Ok(())
}

/// Counts a failure: audits it for a known account, and each lockout once.
async fn fail(
    state: &AppState,
    user: &str,
    address: Option<std::net::IpAddr>,
    known: bool,
) -> Result<(), ApiError> {
    for lockout in state.throttle.failed(user, address) {
        if let crate::throttle::Lockout::Started(what) = lockout {
            state
                .store
                .audit("system", "login.locked", &what, "")
                .await?;
        }
    }
    if known {
        state.store.audit(user, "login.failed", user, "").await?;
    }
    Ok(())
}

/// 429 with the seconds to wait.
fn too_many(wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed logins: try again in {secs} s"),
    )
    .with_retry_after(secs)
}
