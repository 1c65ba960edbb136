//! Commands over the governance store: audit verification, retention, and
//! published records.
//!
//! The CLI acts as the system itself: whoever holds the data directory and
//! its master key holds the data, so these commands run as a built-in
//! `system` user with the Administrator and Auditor roles, and every action
//! they take is audited under that name.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use vigil_core::retention::RetentionPolicy;
use vigil_store::{Store, SystemClock};

#[derive(Args, Clone)]
pub struct DataArgs {
    /// Where Vigil keeps its data (SQLite database, demo master key).
    #[arg(
        long,
        env = "VIGIL_DATA_DIR",
        default_value = "vigil-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL instead of SQLite, e.g. postgres://user@host/vigil.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Recompute the keyed chain and cross-check every record it vouches
    /// for; with --checkpoint, also that the log still holds the entry the
    /// checkpoint signed. Non-zero exit on any problem.
    Verify {
        /// A checkpoint file from `vigil audit checkpoint`, kept elsewhere.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Sign the log's present head (Ed25519, key derived from the master
    /// key) and write it to FILE, for an Auditor to keep outside the system.
    Checkpoint {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print audit entries as JSON lines.
    List {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum RetentionAction {
    /// Delete everything that is due now (and, with --every, keep doing so).
    Run {
        /// Run on a schedule, e.g. every 300 seconds, until stopped.
        #[arg(long)]
        every: Option<u64>,
    },
    /// Show what is due for deletion and when.
    Status,
}

#[derive(Subcommand)]
pub enum DeploymentAction {
    /// List Deployments with their state.
    List,
    /// The published record of every ended Deployment (no personal data).
    Published,
}

pub use vigil_core::access::system_user;

pub(crate) use crate::context::runtime;

pub(crate) async fn open(d: &DataArgs) -> Result<Store> {
    Store::open_data_dir(
        &d.data_dir,
        d.database_url.as_deref(),
        Arc::new(SystemClock),
    )
    .await
    .with_context(|| format!("opening the store in {}", d.data_dir.display()))
}

pub fn audit(d: &DataArgs, action: &AuditAction) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(d).await?;
        match action {
            AuditAction::Verify { checkpoint } => {
                let cp = match checkpoint {
                    Some(path) => {
                        let text = std::fs::read_to_string(path)
                            .with_context(|| format!("reading {}", path.display()))?;
                        Some(
                            serde_json::from_str::<vigil_store::audit::Checkpoint>(&text)
                                .with_context(|| {
                                    format!("{} is not a checkpoint", path.display())
                                })?,
                        )
                    }
                    None => None,
                };
                let v = store.audit_verify_against(cp.as_ref()).await?;
                println!("{}", serde_json::to_string(&v)?);
                Ok(if v.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            AuditAction::Checkpoint { out } => {
                let cp = store.audit_checkpoint("system").await?;
                std::fs::write(out, serde_json::to_string_pretty(&cp)? + "\n")
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("{}", serde_json::to_string(&cp)?);
                Ok(ExitCode::SUCCESS)
            }
            AuditAction::List { after, limit } => {
                for e in store.audit_entries(&system_user(), *after, *limit).await? {
                    println!("{}", serde_json::to_string(&e)?);
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

pub fn retention(d: &DataArgs, action: &RetentionAction) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(d).await?;
        let policy = RetentionPolicy::default();
        match action {
            RetentionAction::Run { every: None } => {
                let r = store.retention_run("system", &policy).await?;
                println!("{}", serde_json::to_string(&r)?);
            }
            RetentionAction::Run { every: Some(secs) } => {
                let store = Arc::new(store);
                let handle = vigil_store::retention::spawn_sweeper(
                    store,
                    policy,
                    Duration::from_secs((*secs).max(1)),
                );
                eprintln!("retention sweeper running every {secs} s; Ctrl-C to stop");
                tokio::signal::ctrl_c().await.ok();
                handle.abort();
            }
            RetentionAction::Status => {
                for item in store.retention_status(&system_user(), &policy).await? {
                    println!("{}", serde_json::to_string(&item)?);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn deployment(d: &DataArgs, action: &DeploymentAction) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(d).await?;
        match action {
            DeploymentAction::List => {
                for dep in store.deployments().await? {
                    println!(
                        "{}",
                        serde_json::json!({"id": dep.id, "state": dep.state, "title": dep.application.title, "location": dep.application.location})
                    );
                }
            }
            DeploymentAction::Published => {
                for r in store.published_records().await? {
                    println!("{}", serde_json::to_string(&r)?);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
