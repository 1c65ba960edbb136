//! Deployments: persisted state machine, log and assignments.

use sqlx::Row;
use vigil_core::access::{self, Action, Role, User};
use vigil_core::deployment::{Application, Deployment, DeploymentError};
use vigil_core::Millis;

use crate::audit::Bound;
use crate::{new_id, Result, Store, StoreError, Tx};

impl Store {
    /// Drafts a new Deployment (Form 1 Part 1).
    pub async fn create_deployment(
        &self,
        applicant: &User,
        application: Application,
    ) -> Result<Deployment> {
        self.check_application_cameras(&application.cameras).await?;
        let d = Deployment::draft(new_id(), applicant, application, self.now())?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO deployments (id, state, body, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)")
            .bind(&d.id)
            .bind(d.state.as_str())
            .bind(to_json(&d)?)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.write_deployment(&mut tx, &d, 0, &applicant.id).await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn deployment(&self, id: &str) -> Result<Deployment> {
        let row = sqlx::query("SELECT body FROM deployments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("deployment {id}")))?;
        from_json(&row.try_get::<String, _>("body")?)
    }

    pub async fn deployments(&self) -> Result<Vec<Deployment>> {
        let rows = sqlx::query("SELECT body FROM deployments ORDER BY created_ms")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| from_json(&r.try_get::<String, _>("body")?))
            .collect()
    }

    /// Applies one action to a Deployment: loads it, looks up `who`'s
    /// assignment on it, lets `vigil-core` check and apply the action, then
    /// saves the new state, its log lines and their audit entries in one
    /// transaction.
    pub async fn act<F>(&self, id: &str, who: &User, action: F) -> Result<Deployment>
    where
        F: FnOnce(&mut Deployment, &[Role], Millis) -> std::result::Result<(), DeploymentError>,
    {
        let assignment = self.assignment(id, &who.id).await?;
        let mut tx = self.pool.begin().await?;
        let mut d = deployment_in(&mut tx, id).await?;
        let logged = d.log.len();
        action(&mut d, &assignment, self.now())?;
        self.write_deployment(&mut tx, &d, logged, &who.id).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Runs the clock on every live Deployment (urgent authorities that
    /// lapsed stop). Returns the ids that changed.
    pub async fn tick_deployments(&self) -> Result<Vec<String>> {
        let now = self.now();
        let rows = sqlx::query(
            "SELECT id FROM deployments WHERE urgent_due_ms IS NOT NULL AND urgent_due_ms <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut changed = Vec::new();
        for r in rows {
            let id: String = r.try_get("id")?;
            let mut tx = self.pool.begin().await?;
            let mut d = deployment_in(&mut tx, &id).await?;
            let logged = d.log.len();
            if d.tick(now) {
                self.write_deployment(&mut tx, &d, logged, "system").await?;
                changed.push(id);
            }
            tx.commit().await?;
        }
        Ok(changed)
    }

    async fn write_deployment(
        &self,
        tx: &mut Tx<'_>,
        d: &Deployment,
        already_logged: usize,
        actor: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE deployments SET state = $1, body = $2, ended_ms = $3, urgent_due_ms = $4, updated_ms = $5 WHERE id = $6")
            .bind(d.state.as_str())
            .bind(to_json(d)?)
            .bind(d.ended_at)
            .bind(d.urgent_confirmation_due)
            .bind(self.now())
            .bind(&d.id)
            .execute(&mut **tx)
            .await?;
        for (i, l) in d.log.iter().enumerate().skip(already_logged) {
            sqlx::query("INSERT INTO deployment_log (deployment_id, seq, at_ms, actor, action, from_state, to_state, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&d.id)
                .bind(i as i64)
                .bind(l.at)
                .bind(&l.actor)
                .bind(&l.action)
                .bind(l.from.as_str())
                .bind(l.to.as_str())
                .bind(&l.reason)
                .execute(&mut **tx)
                .await?;
            let detail = format!("{} -> {}: {}", l.from.as_str(), l.to.as_str(), l.reason);
            self.append_audit_bound(
                tx,
                &l.actor,
                &format!("deployment.{}", l.action.replace(' ', "_")),
                &d.id,
                &detail,
                &[
                    Bound::DeploymentLog(&d.id, i as i64),
                    Bound::Deployment(&d.id),
                ],
            )
            .await?;
        }
        if d.log.len() <= already_logged {
            // A change with no log line (an edited Application) is still
            // vouched for by an entry.
            self.append_audit_bound(
                tx,
                actor,
                "deployment.update",
                &d.id,
                "",
                &[Bound::Deployment(&d.id)],
            )
            .await?;
        }
        Ok(())
    }

    /// Assigns a user to a Deployment in a deployment-scoped role. An
    /// Administrator cannot assign themselves (another must), and the
    /// assignment is noted in the Deployment's log.
    pub async fn assign(
        &self,
        admin: &User,
        deployment_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<()> {
        self.change_assignment(admin, deployment_id, user_id, role, true, "")
            .await
    }

    /// Ends an assignment, with the reason in the Deployment's log.
    pub async fn unassign(
        &self,
        admin: &User,
        deployment_id: &str,
        user_id: &str,
        role: Role,
        reason: &str,
    ) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(StoreError::BadInput(
                "a reason is required to end an assignment".into(),
            ));
        }
        self.change_assignment(admin, deployment_id, user_id, role, false, reason)
            .await
    }

    async fn change_assignment(
        &self,
        admin: &User,
        deployment_id: &str,
        user_id: &str,
        role: Role,
        add: bool,
        reason: &str,
    ) -> Result<()> {
        access::check(admin, Action::ManageUsers, &[])?;
        if !role.is_deployment_scoped() {
            return Err(StoreError::BadInput(format!(
                "{role:?} is a force-wide role, not an assignment"
            )));
        }
        vigil_core::accounts::may_act_on(admin, user_id).map_err(StoreError::Refused)?;
        self.user(user_id).await?;
        let role_s =
            serde_json::to_string(&role).map_err(|e| StoreError::BadInput(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let mut d = deployment_in(&mut tx, deployment_id).await?;
        let removed = sqlx::query(
            "DELETE FROM assignments WHERE deployment_id = $1 AND user_id = $2 AND role = $3",
        )
        .bind(deployment_id)
        .bind(user_id)
        .bind(&role_s)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if add {
            if d.has_ended() {
                return Err(StoreError::Conflict(
                    "the Deployment has ended: nobody can be assigned to it".into(),
                ));
            }
            sqlx::query(
                "INSERT INTO assignments (deployment_id, user_id, role) VALUES ($1, $2, $3)",
            )
            .bind(deployment_id)
            .bind(user_id)
            .bind(&role_s)
            .execute(&mut *tx)
            .await?;
        } else if removed == 0 {
            return Err(StoreError::NotFound(format!(
                "assignment of {user_id} as {role:?}"
            )));
        }
        let logged = d.log.len();
        let (action, text) = if add {
            ("assign", format!("{user_id} as {role:?}"))
        } else {
            (
                "unassign",
                format!("{user_id} no longer {role:?}: {reason}"),
            )
        };
        d.note(self.now(), admin, action, &text);
        self.write_deployment(&mut tx, &d, logged, &admin.id)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Everyone assigned to a Deployment, with their roles there.
    pub async fn assignments(&self, deployment_id: &str) -> Result<Vec<(String, Role)>> {
        let rows = sqlx::query(
            "SELECT user_id, role FROM assignments WHERE deployment_id = $1 ORDER BY user_id, role",
        )
        .bind(deployment_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok((r.try_get("user_id")?, from_json(&role)?))
            })
            .collect()
    }

    /// Adds to a Deployment's counters (from the live pipeline): passers-by
    /// (Recognition Opportunities) and Blue Watchlist passes.
    pub async fn record_passers_by(
        &self,
        deployment_id: &str,
        passers_by: u64,
        blue_passes: u64,
        blue_recognised: u64,
    ) -> Result<()> {
        let n = sqlx::query("UPDATE deployments SET passers_by = passers_by + $1, blue_passes = blue_passes + $2, blue_recognised = blue_recognised + $3 WHERE id = $4")
            .bind(passers_by as i64)
            .bind(blue_passes as i64)
            .bind(blue_recognised as i64)
            .bind(deployment_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("deployment {deployment_id}")));
        }
        Ok(())
    }
}

/// A Deployment as the caller's transaction sees it, to change it there.
async fn deployment_in(tx: &mut Tx<'_>, id: &str) -> Result<Deployment> {
    let row = sqlx::query("SELECT body FROM deployments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("deployment {id}")))?;
    from_json(&row.try_get::<String, _>("body")?)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::BadInput(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Stores a user's password hash (PHC string; the server hashes).
    pub async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(phc)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        self.append_audit(&mut tx, "system", "user.password.set", user_id, "")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(r.try_get("password_hash")?),
            None => Ok(None),
        }
    }
}
