//! The `store` stage: everything Vigil keeps, and the proof of what it
//! deleted.
//!
//! SQL through `sqlx` (SQLite file by default, PostgreSQL by URL; the same
//! code and tests run on both), media encrypted at rest with per-Deployment
//! keys ([`crypto`]), an append-only hash-chained audit log ([`audit`]) and
//! the retention sweeper ([`retention`]). Business rules stay in
//! `vigil-core`: every method that changes state asks `core` whether the
//! user may, then persists the result and its audit entry in one
//! transaction, so a crash can never leave an action done but unaudited.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod cameras;
pub mod crypto;
pub mod deployments;
pub mod footage;
pub mod publish;
pub mod retention;
pub mod searches;
pub mod watchlists;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use vigil_core::access::{Denied, Role, User};
use vigil_core::Millis;

pub use crypto::MasterKey;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Deployment(#[from] vigil_core::deployment::DeploymentError),
    #[error(transparent)]
    Adjudication(#[from] vigil_core::alert::AdjudicationError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("encryption: {0}")]
    Crypto(String),
    /// The request itself is wrong (a missing reason, a malformed name, an
    /// unknown camera): the caller's to fix. HTTP 400.
    #[error("{0}")]
    BadInput(String),
    /// The request clashes with what is stored (a name already taken, a
    /// Deployment in the wrong state, an Alert decided meanwhile). HTTP 409.
    #[error("{0}")]
    Conflict(String),
    /// A rule other than the role check refuses it (separation of duties).
    #[error("{0}")]
    Refused(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where "now" comes from. Tests inject a manual clock to move through
/// 24-hour and 31-day retention windows without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }
}

/// A clock that only moves when told to.
#[derive(Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        Self(AtomicI64::new(start))
    }
    pub fn set(&self, t: Millis) {
        self.0.store(t, Ordering::SeqCst);
    }
    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Something happened to an Alert; carries ids only, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertEvent {
    pub deployment_id: String,
    pub alert_id: String,
    /// `raised` or `adjudicated`.
    pub kind: &'static str,
}

pub struct Store {
    /// The one writer (SQLite) or the shared pool (PostgreSQL).
    pool: AnyPool,
    /// Readers beside the writer: with SQLite in WAL mode they read the
    /// last committed state without waiting for the writer; on PostgreSQL
    /// the same pool as `pool`.
    reader: AnyPool,
    backend: Backend,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    events: tokio::sync::broadcast::Sender<AlertEvent>,
    /// This store's name on the PostgreSQL event channel: its own
    /// notifications come back to it and are not delivered twice.
    origin: String,
    /// Forwards other processes' Alert events (PostgreSQL LISTEN).
    listener: Option<tokio::task::JoinHandle<()>>,
}

/// The PostgreSQL channel Alert events travel on between processes.
const EVENT_CHANNEL: &str = "vigil_alert_events";

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
    }
}

/// Listens on [`EVENT_CHANNEL`] and hands other stores' events to this
/// one's subscribers. `PgListener` reconnects by itself after a dropped
/// connection; events sent meanwhile are missed, which the console covers
/// by reloading the Alert list when its stream reconnects.
async fn forward_events(
    url: String,
    origin: String,
    events: tokio::sync::broadcast::Sender<AlertEvent>,
) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("alert event listener: {e}; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(EVENT_CHANNEL).await {
            tracing::warn!("alert event listener: {e}; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(n.payload()) else {
                        continue;
                    };
                    if v["origin"].as_str() == Some(origin.as_str()) {
                        continue;
                    }
                    let kind = match v["kind"].as_str() {
                        Some("raised") => "raised",
                        Some("adjudicated") => "adjudicated",
                        _ => continue,
                    };
                    let (Some(d), Some(a)) = (v["deployment_id"].as_str(), v["alert_id"].as_str())
                    else {
                        continue;
                    };
                    let _ = events.send(AlertEvent {
                        deployment_id: d.into(),
                        alert_id: a.into(),
                        kind,
                    });
                }
                Err(e) => {
                    tracing::warn!("alert event listener: {e}; reconnecting");
                    break;
                }
            }
        }
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `url`:
    /// `sqlite:///path/vigil.db` or `postgres://...`.
    pub async fn open(url: &str, master: MasterKey, clock: Arc<dyn Clock>) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadInput(format!(
                "unsupported database URL scheme in {}",
                redact(url)
            )));
        };
        // One direct connection first: a corrupt file or an unreachable
        // server fails here at once, instead of the pool retrying until its
        // acquire timeout.
        {
            use sqlx::Connection;
            let mut probe = sqlx::AnyConnection::connect(url).await?;
            let check = if backend == Backend::Sqlite {
                "PRAGMA schema_version"
            } else {
                "SELECT 1"
            };
            probe.execute(check).await?;
            probe.close().await?;
        }
        let options = AnyPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(10))
            // SQLite allows one writer: a single connection serialises
            // writes (including audit-chain appends) without SQLITE_BUSY.
            .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // Every commit reaches the disk before it returns.
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        // Deleted rows are overwritten, not left in free
                        // pages: a destroyed data key or deleted ciphertext
                        // must not survive in the file.
                        conn.execute("PRAGMA secure_delete = ON").await?;
                        // The WAL is cut back after checkpoints, so old
                        // page images do not linger in it either.
                        conn.execute("PRAGMA journal_size_limit = 0").await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(url).await?;
        if backend == Backend::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL").await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
        } else {
            POSTGRES_MIGRATIONS.run(&pool).await?;
        }
        let reader = if backend == Backend::Sqlite {
            AnyPoolOptions::new()
                .acquire_timeout(std::time::Duration::from_secs(10))
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA query_only = ON").await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?
        } else {
            pool.clone()
        };
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let origin = new_id();
        let listener = (backend == Backend::Postgres).then(|| {
            tokio::spawn(forward_events(
                url.to_string(),
                origin.clone(),
                events.clone(),
            ))
        });
        Ok(Self {
            pool,
            reader,
            backend,
            master,
            clock,
            events,
            origin,
            listener,
        })
    }

    /// Opens the store for a data directory: `DATABASE_URL` if given, else
    /// `DIR/vigil.db`; the master key from `VIGIL_MASTER_KEY`, else from
    /// `DIR/master.key` (created, mode 0600, on first use — a demo
    /// convenience; a force supplies the key from its key management).
    pub async fn open_data_dir(
        dir: &Path,
        database_url: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        private_dir(dir)?;
        let key_file = dir.join("master.key");
        let master = match std::env::var("VIGIL_MASTER_KEY") {
            Ok(hex) => MasterKey::from_hex(&hex)?,
            // A database that exists without its key must not get a new
            // one: everything sealed would be unreadable and the audit log
            // would fail verification. (Moved to key management? Supply
            // VIGIL_MASTER_KEY.)
            Err(_)
                if database_url.is_none()
                    && dir.join("vigil.db").is_file()
                    && !key_file.exists() =>
            {
                return Err(StoreError::Crypto(format!(
                    "{} has a database but no master key: set VIGIL_MASTER_KEY (or restore {})",
                    dir.display(),
                    key_file.display()
                )));
            }
            Err(_) => load_or_create_key_file(&key_file)?,
        };
        let url = match database_url {
            Some(u) => u.to_string(),
            None => {
                let db = dir.join("vigil.db");
                // Created 0600 before SQLite opens it (SQLite would make it
                // 0644, and the -wal/-shm files take the database's mode).
                private_file(&db)?;
                format!("sqlite://{}?mode=rwc", db.display())
            }
        };
        Self::open(&url, master, clock).await
    }

    /// Alert events, published after each commit, for pushing to
    /// Operators (Server-Sent Events).
    pub fn subscribe_alerts(&self) -> tokio::sync::broadcast::Receiver<AlertEvent> {
        self.events.subscribe()
    }

    /// Tells this process's subscribers at once and, on PostgreSQL, every
    /// other process's through NOTIFY (ids only, as the event itself).
    pub(crate) async fn publish(&self, deployment_id: &str, alert_id: &str, kind: &'static str) {
        let _ = self.events.send(AlertEvent {
            deployment_id: deployment_id.into(),
            alert_id: alert_id.into(),
            kind,
        });
        if self.backend == Backend::Postgres {
            let payload = serde_json::json!({
                "origin": self.origin,
                "deployment_id": deployment_id,
                "alert_id": alert_id,
                "kind": kind,
            })
            .to_string();
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(EVENT_CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await
            {
                tracing::warn!("alert event not sent to other servers: {e}");
            }
        }
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Creates or replaces a user.
    pub async fn put_user(&self, user: &User) -> Result<()> {
        let roles =
            serde_json::to_string(&user.roles).map_err(|e| StoreError::BadInput(e.to_string()))?;
        let rank =
            serde_json::to_string(&user.rank).map_err(|e| StoreError::BadInput(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO users (id, display_name, rank, roles, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&user.id)
            .bind(&user.display_name)
            .bind(&rank)
            .bind(&roles)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, "system", "user.put", &user.id, &roles)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<User> {
        let row = sqlx::query("SELECT id, display_name, rank, roles FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        user_from_row(&row)
    }

    /// The roles `user_id` is assigned on a Deployment.
    pub async fn assignment(&self, deployment_id: &str, user_id: &str) -> Result<Vec<Role>> {
        let rows =
            sqlx::query("SELECT role FROM assignments WHERE deployment_id = $1 AND user_id = $2")
                .bind(deployment_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("role")?;
                serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Loads or creates the data key `key_id`, unwrapped. Fails once the key
    /// has been destroyed.
    async fn data_key(&self, tx: &mut Tx<'_>, key_id: &str) -> Result<[u8; 32]> {
        let select = "SELECT wrapped, destroyed_ms FROM data_keys WHERE key_id = $1";
        if let Some(r) = sqlx::query(select)
            .bind(key_id)
            .fetch_optional(&mut **tx)
            .await?
        {
            return self.open_data_key(key_id, &r);
        }
        let k = crypto::new_data_key();
        // Two writers may both find no key (on PostgreSQL, parallel bulk
        // enrolment did): the second's insert waits for the first and then
        // does nothing, and it uses the key the first made.
        let inserted = sqlx::query(
            "INSERT INTO data_keys (key_id, wrapped, created_ms) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(self.master.wrap(key_id, &k)?)
        .bind(self.now())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(k);
        }
        let r = sqlx::query(select)
            .bind(key_id)
            .fetch_one(&mut **tx)
            .await?;
        self.open_data_key(key_id, &r)
    }

    fn open_data_key(&self, key_id: &str, r: &sqlx::any::AnyRow) -> Result<[u8; 32]> {
        let destroyed: Option<i64> = r.try_get("destroyed_ms")?;
        let wrapped: Option<Vec<u8>> = r.try_get("wrapped")?;
        match (destroyed, wrapped) {
            (None, Some(w)) => self.master.unwrap(key_id, &w),
            _ => Err(StoreError::Crypto(format!(
                "data key {key_id} has been destroyed"
            ))),
        }
    }

    /// After data keys were destroyed and committed: moves the WAL into the
    /// database (where `secure_delete` has zeroed the freed pages) and cuts
    /// the WAL to nothing, so no copy of a destroyed key or of deleted
    /// ciphertext stays in either file.
    pub(crate) async fn scrub_after_shredding(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_all(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Destroys a data key: every media item sealed with it becomes
    /// unreadable, and the sealed rows are deleted too. The caller runs
    /// [`Store::scrub_after_shredding`] once the transaction commits.
    async fn destroy_key(&self, tx: &mut Tx<'_>, key_id: &str) -> Result<u64> {
        let now = self.now();
        let deleted = sqlx::query("DELETE FROM media WHERE key_id = $1")
            .bind(key_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let updated =
            sqlx::query("UPDATE data_keys SET wrapped = NULL, destroyed_ms = $1 WHERE key_id = $2")
                .bind(now)
                .bind(key_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        if updated == 0 {
            // Never created: record it as destroyed so it cannot be created later.
            sqlx::query("INSERT INTO data_keys (key_id, wrapped, created_ms, destroyed_ms) VALUES ($1, NULL, $2, $2)")
                .bind(key_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Ok(deleted)
    }

    async fn put_media(
        &self,
        tx: &mut Tx<'_>,
        kind: &str,
        owner_id: &str,
        key_id: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let key = self.data_key(tx, key_id).await?;
        let id = new_id();
        let sealed = crypto::seal(&key, id.as_bytes(), bytes)?;
        sqlx::query("INSERT INTO media (id, kind, owner_id, key_id, sealed, created_ms) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(kind)
            .bind(owner_id)
            .bind(key_id)
            .bind(sealed)
            .bind(self.now())
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    async fn get_media(&self, tx: &mut Tx<'_>, media_id: &str) -> Result<Vec<u8>> {
        let row = sqlx::query("SELECT key_id, sealed FROM media WHERE id = $1")
            .bind(media_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::NotFound("image (deleted or never stored)".into()))?;
        let key_id: String = row.try_get("key_id")?;
        let sealed: Vec<u8> = row.try_get("sealed")?;
        let key = self.data_key(tx, &key_id).await?;
        crypto::open(&key, media_id.as_bytes(), &sealed)
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    Ok(User {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        rank: serde_json::from_str(&row.try_get::<String, _>("rank")?).map_err(corrupt)?,
        roles: serde_json::from_str(&row.try_get::<String, _>("roles")?).map_err(corrupt)?,
    })
}

fn load_or_create_key_file(path: &Path) -> Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(hex) => MasterKey::from_hex(&hex),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            let tmp = path.with_extension("tmp");
            // 0600 from the moment it exists, not after the key is in it.
            private_file(&tmp)?;
            std::fs::write(&tmp, key.to_hex())?;
            std::fs::rename(&tmp, path)?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates `dir` (and its parents) if needed and makes it 0700: the data
/// directory holds password hashes, templates and the audit log.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty if it does not exist, and makes it 0600.
fn private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// A URL with any password removed, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI found it: parallel bulk enrolment on a fresh PostgreSQL store
    /// failed with "duplicate key … data_keys_pkey" when two writers both
    /// created the same data key. Here the second transaction asks while
    /// the first holds its new key uncommitted: it waits, then uses that
    /// key instead of failing.
    #[tokio::test]
    async fn two_transactions_creating_one_data_key_share_it() {
        let admin_url = std::env::var("VIGIL_TEST_PG_URL").expect(
            "VIGIL_TEST_PG_URL is not set: run the tests with scripts/test.sh, which starts a throw-away PostgreSQL",
        );
        use sqlx::Connection;
        let db = format!("vigil_unit_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::postgres::PgConnection::connect(&admin_url)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let (path, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
        let url = if query.is_empty() {
            format!("{base}/{db}")
        } else {
            format!("{base}/{db}?{query}")
        };
        let store = Store::open(&url, MasterKey::generate(), Arc::new(SystemClock))
            .await
            .unwrap();
        let mut t1 = store.pool.begin().await.unwrap();
        let mut t2 = store.pool.begin().await.unwrap();
        let k1 = store.data_key(&mut t1, "race").await.unwrap();
        let second = store.data_key(&mut t2, "race");
        let first = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            t1.commit().await.unwrap();
        };
        let (k2, ()) = tokio::join!(second, first);
        assert_eq!(
            k1,
            k2.expect("the second transaction uses the first one's key")
        );
        t2.commit().await.unwrap();
    }
}
