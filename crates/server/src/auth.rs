//! Passwords (argon2) and sessions.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use vigil_core::accounts::SessionPolicy;
use vigil_store::Store;

use crate::ApiError;

pub const COOKIE: &str = "vigil_session";
pub const CSRF_HEADER: &str = "x-vigil-csrf";

pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a random password with the same parameters as real ones: an
/// unknown user name is checked against it, so answering "no such user"
/// takes as long as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut b = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hash_password(&hex::encode(b)).unwrap_or_default()
    })
}

/// Checks passwords off the async runtime, a bounded number at a time:
/// argon2 is deliberately slow, and on the request threads eight parallel
/// logins stalled every other request.
pub struct PasswordChecker {
    permits: tokio::sync::Semaphore,
}

impl PasswordChecker {
    pub fn new(parallel: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(parallel.max(1)),
        }
    }

    /// An argon2 hash of a new password, off the request threads.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let internal =
            |e: String| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| internal(e.to_string()))?
            .map_err(internal)
    }

    /// Whether `password` matches `phc`; with no hash (unknown user) the
    /// same work is done against a dummy hash and the answer is false.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || {
            let known = phc.is_some();
            let ok = verify_password(&password, phc.as_deref().unwrap_or_else(|| dummy_hash()));
            known && ok
        })
        .await
        .unwrap_or(false)
    }
}

#[derive(Clone)]
pub struct Session {
    pub user_id: String,
    pub csrf: String,
}

/// Sessions in the store (only a hash of each token is kept), so a restart
/// does not log the van out; each ends after the idle timeout, the
/// absolute timeout, logout, or when the account is disabled or reset.
pub struct Sessions {
    store: Arc<Store>,
    policy: SessionPolicy,
}

pub fn token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Sessions {
    pub fn new(store: Arc<Store>, policy: SessionPolicy) -> Self {
        Self { store, policy }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    pub async fn create(&self, user_id: &str) -> Result<(String, Session), ApiError> {
        let s = Session {
            user_id: user_id.into(),
            csrf: token(),
        };
        let t = token();
        self.store.create_session(user_id, &t, &s.csrf).await?;
        Ok((t, s))
    }

    pub async fn remove(&self, token: &str) -> Result<(), ApiError> {
        Ok(self.store.end_session(token).await?)
    }

    /// Whether `token` is still a live session (an open event stream asks
    /// before each event, so logout, expiry or a disabled account closes it).
    pub async fn is_live(&self, token: &str) -> bool {
        matches!(self.store.session(token, &self.policy).await, Ok(Some(_)))
    }

    /// The session of a request, from its cookie.
    pub async fn from_headers(&self, headers: &HeaderMap) -> Result<(String, Session), ApiError> {
        let token = cookie(headers, COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let s = self
            .store
            .session(&token, &self.policy)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok((
            token,
            Session {
                user_id: s.user_id,
                csrf: s.csrf,
            },
        ))
    }

    /// As [`Sessions::from_headers`], and the CSRF header must match.
    pub async fn for_change(&self, headers: &HeaderMap) -> Result<Session, ApiError> {
        let (_, s) = self.from_headers(headers).await?;
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Constant-time: the comparison must not say how much of a guess
        // was right.
        let same: bool = subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), s.csrf.as_bytes()).into();
        if sent.is_empty() || !same {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-Vigil-CSRF header",
            ));
        }
        Ok(s)
    }
}

/// A cookie of the request, parsed by `axum-extra`'s cookie jar.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_string())
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Strict (no
/// other site's page sends it), `Secure` under TLS; `None` ends it.
pub fn session_cookie(token: Option<&str>, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build((COOKIE, token.unwrap_or_default().to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build();
    if token.is_none() {
        c.make_removal();
    }
    c
}
