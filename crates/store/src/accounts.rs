//! Accounts of a real installation: the first Administrator, people created
//! and changed by Administrators, disabled accounts, password resets, the
//! second factor, and sessions kept in the store.
//!
//! Every change is audited with who made it and why. Sessions are stored
//! by the SHA-256 of their token (a copy of the database holds no usable
//! token); disabling an account, resetting its password or its second
//! factor ends its sessions at once.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use vigil_core::access::{self, Action, Rank, Role, User};
use vigil_core::accounts::{may_act_on, SessionPolicy};
use vigil_core::Millis;

use crate::{crypto, user_from_row, Result, Store, StoreError};

const TOTP_KEY: &str = "vigil totp secrets v1";

/// A user as an Administrator sees them: no hash, no secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: User,
    pub disabled: Option<Millis>,
    pub must_change_password: bool,
    pub second_factor_enrolled: bool,
    pub created: Millis,
}

/// What login needs to know about an account.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    /// The sealed TOTP secret, and whether it has been confirmed.
    pub totp: Option<(Vec<u8>, bool)>,
    pub totp_last_step: Option<i64>,
}

/// The outcome of `vigil init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initialised {
    /// The first Administrator was created.
    Created,
    /// The installation was already initialised (by this first Administrator).
    Already { first_admin: String },
}

/// A live session.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub user_id: String,
    pub csrf: String,
    pub created: Millis,
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The rule for every reason recorded in the audit log: given, and at
/// most 2000 characters.
pub(crate) fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(StoreError::BadInput(
            "a reason is required (it is recorded in the audit log)".into(),
        ));
    }
    if reason.len() > 2000 {
        return Err(StoreError::BadInput("reason over 2000 characters".into()));
    }
    Ok(())
}

fn valid_user_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok && id != "system" {
        Ok(())
    } else {
        Err(StoreError::BadInput(
            "a user name is 1 to 64 letters, digits, '.', '-' or '_' (and not 'system')".into(),
        ))
    }
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::BadInput(e.to_string()))
}

/// Ends every session of `id` inside the caller's transaction.
async fn end_sessions(tx: &mut crate::Tx<'_>, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// What every change an Administrator makes to someone's account needs:
    /// the role, a reason, another person's account, and that it exists.
    async fn check_change_of_another(&self, admin: &User, id: &str, reason: &str) -> Result<()> {
        access::check(admin, Action::ManageUsers, &[])?;
        check_reason(reason)?;
        may_act_on(admin, id).map_err(StoreError::Refused)?;
        self.user(id).await?;
        Ok(())
    }

    /// Whether `vigil init` has run on this store (the demo's seeding
    /// counts).
    pub async fn initialised(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT first_admin FROM installation WHERE id = 1")
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.try_get("first_admin")).transpose()?)
    }

    /// Creates the first Administrator, who must change the password at
    /// first login. Never creates a second one: run again, it changes
    /// nothing and says who the first was.
    pub async fn initialise(
        &self,
        admin_id: &str,
        display_name: &str,
        phc: &str,
    ) -> Result<Initialised> {
        valid_user_id(admin_id)?;
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT first_admin FROM installation WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = existing {
            return Ok(Initialised::Already {
                first_admin: r.try_get("first_admin")?,
            });
        }
        let now = self.now();
        let taken = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(admin_id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "user {admin_id} already exists"
            )));
        }
        sqlx::query("INSERT INTO users (id, display_name, rank, roles, password_hash, created_ms, must_change_password) VALUES ($1, $2, $3, $4, $5, $6, 1)")
            .bind(admin_id)
            .bind(display_name)
            .bind(json(&Rank::Staff)?)
            .bind(json(&vec![Role::Administrator])?)
            .bind(phc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO installation (id, initialised_ms, first_admin) VALUES (1, $1, $2)",
        )
        .bind(now)
        .bind(admin_id)
        .execute(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            "system",
            "install.init",
            admin_id,
            "first Administrator",
        )
        .await?;
        tx.commit().await?;
        Ok(Initialised::Created)
    }

    /// Records that an installation was set up by other means (the demo's
    /// seeded users), so `vigil serve` accepts it.
    pub async fn mark_initialised(&self, first_admin: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT id FROM installation WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_none() {
            sqlx::query(
                "INSERT INTO installation (id, initialised_ms, first_admin) VALUES (1, $1, $2)",
            )
            .bind(self.now())
            .bind(first_admin)
            .execute(&mut *tx)
            .await?;
            self.append_audit(&mut tx, "system", "install.init", first_admin, "seeded")
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An Administrator creates a user, who must set their own password at
    /// first login (`phc` is the hash of a one-time password).
    pub async fn create_user(
        &self,
        admin: &User,
        user: &User,
        phc: &str,
        reason: &str,
    ) -> Result<Account> {
        access::check(admin, Action::ManageUsers, &[])?;
        valid_user_id(&user.id)?;
        check_reason(reason)?;
        if user.roles.iter().any(|r| r.is_deployment_scoped()) {
            return Err(StoreError::BadInput(
                "Gold, Silver, Operator, Engagement Officer and Watchlist compiler are given by assignment to a Deployment, not to the account".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(&user.id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "user {} already exists",
                user.id
            )));
        }
        sqlx::query("INSERT INTO users (id, display_name, rank, roles, password_hash, created_ms, must_change_password) VALUES ($1, $2, $3, $4, $5, $6, 1)")
            .bind(&user.id)
            .bind(&user.display_name)
            .bind(json(&user.rank)?)
            .bind(json(&user.roles)?)
            .bind(phc)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &admin.id,
            "user.create",
            &user.id,
            &format!("{:?} {:?}: {reason}", user.rank, user.roles),
        )
        .await?;
        tx.commit().await?;
        self.account(admin, &user.id).await
    }

    /// An Administrator changes a user's display name, rank or roles.
    pub async fn update_user(
        &self,
        admin: &User,
        id: &str,
        display_name: Option<&str>,
        rank: Option<Rank>,
        roles: Option<&[Role]>,
        reason: &str,
    ) -> Result<Account> {
        access::check(admin, Action::ManageUsers, &[])?;
        check_reason(reason)?;
        let current = self.user(id).await?;
        if roles.is_some_and(|r| r.iter().any(|r| r.is_deployment_scoped())) {
            return Err(StoreError::BadInput(
                "deployment roles are given by assignment, not to the account".into(),
            ));
        }
        if roles.is_some() {
            may_act_on(admin, id).map_err(StoreError::Refused)?;
        }
        let next = User {
            id: current.id.clone(),
            display_name: display_name.map_or(current.display_name.clone(), str::to_string),
            rank: rank.unwrap_or(current.rank),
            roles: roles.map_or(current.roles.clone(), <[Role]>::to_vec),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET display_name = $1, rank = $2, roles = $3 WHERE id = $4")
            .bind(&next.display_name)
            .bind(json(&next.rank)?)
            .bind(json(&next.roles)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &admin.id,
            "user.update",
            id,
            &format!(
                "{:?} {:?} -> {:?} {:?}: {reason}",
                current.rank, current.roles, next.rank, next.roles
            ),
        )
        .await?;
        tx.commit().await?;
        self.account(admin, id).await
    }

    /// Disables or re-enables an account. Disabling ends its sessions at
    /// once; nobody disables their own.
    pub async fn set_disabled(
        &self,
        admin: &User,
        id: &str,
        disabled: bool,
        reason: &str,
    ) -> Result<Account> {
        self.check_change_of_another(admin, id, reason).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET disabled_ms = $1 WHERE id = $2")
            .bind(disabled.then(|| self.now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            end_sessions(&mut tx, id).await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.append_audit(&mut tx, &admin.id, action, id, reason)
            .await?;
        tx.commit().await?;
        self.account(admin, id).await
    }

    /// Resets a password to a one-time one (`phc`): the user must set a new
    /// one at next login, and their sessions end.
    pub async fn reset_password(
        &self,
        admin: &User,
        id: &str,
        phc: &str,
        reason: &str,
    ) -> Result<()> {
        self.check_change_of_another(admin, id, reason).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 1 WHERE id = $2")
            .bind(phc)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        end_sessions(&mut tx, id).await?;
        self.append_audit(&mut tx, &admin.id, "user.password.reset", id, reason)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a user's second factor (a lost phone): they enrol again at
    /// next login; their sessions end.
    pub async fn reset_second_factor(&self, admin: &User, id: &str, reason: &str) -> Result<()> {
        self.check_change_of_another(admin, id, reason).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET totp_sealed = NULL, totp_enrolled_ms = NULL, totp_last_step = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        end_sessions(&mut tx, id).await?;
        self.append_audit(&mut tx, &admin.id, "user.totp.reset", id, reason)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every account, for an Administrator.
    pub async fn accounts(&self, admin: &User) -> Result<Vec<Account>> {
        access::check(admin, Action::ManageUsers, &[])?;
        let rows = sqlx::query("SELECT id, display_name, rank, roles, disabled_ms, must_change_password, totp_enrolled_ms, created_ms FROM users ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn account(&self, admin: &User, id: &str) -> Result<Account> {
        access::check(admin, Action::ManageUsers, &[])?;
        let row = sqlx::query("SELECT id, display_name, rank, roles, disabled_ms, must_change_password, totp_enrolled_ms, created_ms FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        account_from_row(&row)
    }

    /// What a login checks, or None for an unknown name.
    pub async fn login_record(&self, id: &str) -> Result<Option<LoginRecord>> {
        let Some(row) = sqlx::query("SELECT id, display_name, rank, roles, password_hash, disabled_ms, must_change_password, totp_sealed, totp_enrolled_ms, totp_last_step FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let sealed: Option<Vec<u8>> = row.try_get("totp_sealed")?;
        let enrolled: Option<i64> = row.try_get("totp_enrolled_ms")?;
        Ok(Some(LoginRecord {
            user: user_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
            disabled: row.try_get::<Option<i64>, _>("disabled_ms")?.is_some(),
            must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
            totp: sealed.map(|s| (s, enrolled.is_some())),
            totp_last_step: row.try_get("totp_last_step")?,
        }))
    }

    /// The user changed their own password (at first login or after a
    /// reset).
    pub async fn change_own_password(&self, id: &str, phc: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
            .bind(phc)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, id, "user.password.change", id, "")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Seals and stores a TOTP secret offered for enrolment (not yet
    /// confirmed: it replaces any earlier unconfirmed one).
    pub async fn offer_totp(&self, id: &str, secret: &[u8]) -> Result<()> {
        let key = self.master.subkey(TOTP_KEY);
        let sealed = crypto::seal(&key, id.as_bytes(), secret)?;
        let n = sqlx::query("UPDATE users SET totp_sealed = $1, totp_enrolled_ms = NULL WHERE id = $2 AND totp_enrolled_ms IS NULL")
            .bind(sealed)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "a second factor is already enrolled".into(),
            ));
        }
        Ok(())
    }

    /// Opens a sealed TOTP secret of `id`.
    pub fn open_totp(&self, id: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let key = self.master.subkey(TOTP_KEY);
        crypto::open(&key, id.as_bytes(), sealed)
    }

    /// Records a one-time code's time step as used (a code works once), and
    /// confirms the enrolment if it was pending.
    pub async fn use_totp_step(&self, id: &str, step: i64, confirm: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // The step must be newer than the last used: a replayed code fails.
        let n = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
            .bind(step)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict("this code was used already".into()));
        }
        if confirm {
            sqlx::query("UPDATE users SET totp_enrolled_ms = $1 WHERE id = $2")
                .bind(self.now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            self.append_audit(&mut tx, id, "user.totp.enrol", id, "")
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every role `user_id` holds on any Deployment that has not ended.
    pub async fn assigned_roles(&self, user_id: &str) -> Result<Vec<Role>> {
        let rows = sqlx::query("SELECT a.role FROM assignments a JOIN deployments d ON d.id = a.deployment_id WHERE a.user_id = $1 AND d.ended_ms IS NULL")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("role")?;
                serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    // --- sessions ---

    pub async fn create_session(&self, user_id: &str, token: &str, csrf: &str) -> Result<()> {
        let now = self.now();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf, created_ms, last_seen_ms) VALUES ($1, $2, $3, $4, $4)")
            .bind(token_hash(token))
            .bind(user_id)
            .bind(csrf)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The live session of `token`, touched (its idle clock restarted, at
    /// most once every 30 s to spare the writer); an expired one is
    /// deleted. A disabled account has no live session.
    pub async fn session(
        &self,
        token: &str,
        policy: &SessionPolicy,
    ) -> Result<Option<StoredSession>> {
        let hash = token_hash(token);
        let row = sqlx::query("SELECT s.user_id, s.csrf, s.created_ms, s.last_seen_ms, u.disabled_ms FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1")
            .bind(&hash)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = self.now();
        let created: i64 = row.try_get("created_ms")?;
        let last_seen: i64 = row.try_get("last_seen_ms")?;
        let disabled: Option<i64> = row.try_get("disabled_ms")?;
        if disabled.is_some() || !policy.is_live(created, last_seen, now) {
            self.end_session(token).await?;
            return Ok(None);
        }
        if now - last_seen > 30_000 {
            sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(StoredSession {
            user_id: row.try_get("user_id")?,
            csrf: row.try_get("csrf")?,
            created,
        }))
    }

    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes every expired session (the sweeper calls it).
    pub async fn purge_sessions(&self, policy: &SessionPolicy) -> Result<u64> {
        let now = self.now();
        Ok(
            sqlx::query("DELETE FROM sessions WHERE created_ms <= $1 OR last_seen_ms <= $2")
                .bind(now - policy.absolute_ms)
                .bind(now - policy.idle_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account> {
    Ok(Account {
        user: user_from_row(row)?,
        disabled: row.try_get("disabled_ms")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        second_factor_enrolled: row.try_get::<Option<i64>, _>("totp_enrolled_ms")?.is_some(),
        created: row.try_get("created_ms")?,
    })
}
