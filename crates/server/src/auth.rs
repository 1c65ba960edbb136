//! Passwords (argon2) and sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use rand::RngCore;

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
    expires: Instant,
}

/// Sessions in memory: a restart logs everyone out, which for a van's
/// console is the safe default.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

fn token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    pub fn create(&self, user_id: &str) -> (String, Session) {
        let s = Session {
            user_id: user_id.into(),
            csrf: token(),
            expires: Instant::now() + self.ttl,
        };
        let t = token();
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(t.clone(), s.clone());
        (t, s)
    }

    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Whether `token` is still a live session (an open event stream asks
    /// before each event, so logout or expiry closes it).
    pub fn is_live(&self, token: &str) -> bool {
        self.get(token).is_some()
    }

    fn get(&self, token: &str) -> Option<Session> {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                m.remove(token);
                None
            }
            None => None,
        }
    }

    /// The session of a request, from its cookie.
    pub fn from_headers(&self, headers: &HeaderMap) -> Result<(String, Session), ApiError> {
        let token = cookie(headers, COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let s = self.get(&token).ok_or_else(ApiError::unauthenticated)?;
        Ok((token, s))
    }

    /// As [`Sessions::from_headers`], and the CSRF header must match.
    pub fn for_change(&self, headers: &HeaderMap) -> Result<Session, ApiError> {
        let (_, s) = self.from_headers(headers)?;
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

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}
