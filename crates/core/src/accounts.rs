//! Accounts: what a password must be, who needs a second factor, how long
//! a session lives, and the separation of duties in assignments.

use crate::access::{Role, User};
use crate::Millis;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("a password needs at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("a password must not contain the user name")]
    ContainsName,
    #[error("this password is among the most common ones: choose another")]
    Common,
    #[error("this password is too easy to guess: {0}")]
    Guessable(String),
}

/// Accepts a new password for `user_id` or says why not: long enough, not
/// the name, not on the list of the commonest passwords, and not easy to
/// guess by zxcvbn's estimate (score 3 of 4 or better).
pub fn check_password(user_id: &str, password: &str) -> Result<(), PasswordRejected> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordRejected::TooShort);
    }
    let lower = password.to_lowercase();
    let name = user_id.trim().to_lowercase();
    if name.len() >= 3 && lower.contains(&name) {
        return Err(PasswordRejected::ContainsName);
    }
    if COMMON_PASSWORDS.iter().any(|c| lower.contains(c)) && lower.len() < 20 {
        return Err(PasswordRejected::Common);
    }
    let estimate = zxcvbn::zxcvbn(password, &[user_id, "vigil", "police"]);
    if (estimate.score() as u8) < 3 {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map_or_else(|| "add another word or two".to_string(), |w| w.to_string());
        return Err(PasswordRejected::Guessable(why));
    }
    Ok(())
}

/// The commonest passwords of breach corpora (and their police-flavoured
/// cousins): refused outright, whatever else surrounds them in a short
/// password.
const COMMON_PASSWORDS: [&str; 40] = [
    "password",
    "123456",
    "12345678",
    "qwerty",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "abc123",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "trustno1",
    "superman",
    "batman",
    "passw0rd",
    "p@ssw0rd",
    "qwertyuiop",
    "111111",
    "000000",
    "changeme",
    "secret",
    "starwars",
    "whatever",
    "freedom",
    "policeman",
    "police123",
    "constable",
    "sergeant",
    "inspector",
    "metpolice",
    "scotland",
    "london",
    "summer",
    "winter",
];

/// Whether `user` must give a one-time code at login: everyone who can see
/// biometric images (Operators, Engagement Officers and Watchlist
/// compilers by assignment, Investigators force-wide) and Administrators.
/// `assigned` is every role the user holds on any Deployment.
pub fn needs_second_factor(user: &User, assigned: &[Role]) -> bool {
    user.has(Role::Administrator)
        || user.has(Role::Investigator)
        || assigned.iter().any(|r| {
            matches!(
                r,
                Role::Operator | Role::EngagementOfficer | Role::WatchlistCompiler
            )
        })
}

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends a session this long after its last request.
    pub idle_ms: Millis,
    /// Ends a session this long after login, however busy.
    pub absolute_ms: Millis,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 30 * 60 * 1000,
            absolute_ms: 12 * 3600 * 1000,
        }
    }
}

impl SessionPolicy {
    pub fn is_live(&self, created: Millis, last_seen: Millis, now: Millis) -> bool {
        now < created.saturating_add(self.absolute_ms)
            && now < last_seen.saturating_add(self.idle_ms)
    }
}

/// Separation of duties: an Administrator cannot give themselves a role on
/// a Deployment (another Administrator must), nor disable their own account.
pub fn may_act_on(admin: &User, target_user_id: &str) -> Result<(), String> {
    if admin.id == target_user_id {
        Err(
            "an Administrator cannot do this to their own account: another Administrator must"
                .into(),
        )
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Rank;

    fn user(roles: &[Role]) -> User {
        User {
            id: "u".into(),
            display_name: "U".into(),
            rank: Rank::Constable,
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert_eq!(
            check_password("pc1234", "short"),
            Err(PasswordRejected::TooShort)
        );
        assert_eq!(
            check_password("jsmith", "jsmith-is-great-2026"),
            Err(PasswordRejected::ContainsName)
        );
        assert_eq!(
            check_password("pc1", "Password123!"),
            Err(PasswordRejected::Common)
        );
        assert!(matches!(
            check_password("pc1", "aaaaaaaaaaaaaaa"),
            Err(PasswordRejected::Guessable(_))
        ));
        assert_eq!(check_password("pc1", "orbit-lantern-mossy-quill"), Ok(()));
    }

    #[test]
    fn second_factor_for_everyone_who_sees_faces_and_administrators() {
        assert!(needs_second_factor(&user(&[Role::Administrator]), &[]));
        assert!(needs_second_factor(&user(&[Role::Investigator]), &[]));
        assert!(needs_second_factor(&user(&[]), &[Role::Operator]));
        assert!(needs_second_factor(&user(&[]), &[Role::WatchlistCompiler]));
        assert!(!needs_second_factor(
            &user(&[Role::Applicant]),
            &[Role::Gold]
        ));
        assert!(!needs_second_factor(&user(&[Role::Auditor]), &[]));
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let p = SessionPolicy {
            idle_ms: 10,
            absolute_ms: 100,
        };
        assert!(p.is_live(0, 0, 9));
        assert!(!p.is_live(0, 0, 10));
        assert!(p.is_live(0, 95, 99));
        assert!(!p.is_live(0, 99, 100));
    }
}
