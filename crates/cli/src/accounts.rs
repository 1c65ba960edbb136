//! `vigil init` and `vigil users`: preparing an installation and managing
//! its people from a script. The CLI acts as the built-in `system`
//! Administrator; every change is audited under that name with its reason.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use vigil_core::access::{Rank, Role, User};
use vigil_store::accounts::Initialised;
use vigil_store::Store;

use crate::governance::{open, runtime, system_user, DataArgs};

#[derive(Args)]
pub struct InitArgs {
    /// The first Administrator's user name.
    #[arg(long, default_value = "admin")]
    admin: String,
    /// Their display name.
    #[arg(long, default_value = "First Administrator")]
    display_name: String,
}

#[derive(Subcommand)]
pub enum UsersAction {
    /// Add a person; prints their one-time password once.
    Add {
        name: String,
        #[arg(long)]
        display_name: String,
        /// Staff, Constable, Sergeant, Inspector, ChiefInspector,
        /// Superintendent, ChiefSuperintendent, Commander, …
        #[arg(long, default_value = "Constable")]
        rank: String,
        /// Force-wide roles: Administrator, Applicant, AuthorisingOfficer,
        /// Investigator, Auditor (Deployment roles come by assignment).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Every account as JSON lines (no hashes, no secrets).
    List,
    /// Disable an account; its sessions end at once.
    Disable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// A new one-time password (printed once); the person chooses their own
    /// at next login.
    ResetPassword {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Remove a lost second factor; the person enrols again at next login.
    ResetSecondFactor {
        name: String,
        #[arg(long)]
        reason: String,
    },
}

/// Whether `data` holds an initialised installation; opening nothing that
/// is not there already (a never-initialised directory stays untouched).
pub async fn open_initialised(data: &DataArgs) -> Result<Store> {
    if data.database_url.is_none() && !data.data_dir.join("vigil.db").is_file() {
        bail!(not_initialised(&data.data_dir));
    }
    let store = open(data).await?;
    if store.initialised().await?.is_none() {
        bail!(not_initialised(&data.data_dir));
    }
    Ok(store)
}

fn not_initialised(dir: &Path) -> String {
    format!(
        "{} is not an initialised Vigil installation: run `vigil --data-dir {} init` first (or `vigil demo` for the demo)",
        dir.display(),
        dir.display()
    )
}

fn hash(password: &str) -> Result<String> {
    vigil_server::hash_password(password).map_err(anyhow::Error::msg)
}

/// `vigil init`: data directory 0700, database 0600, migrations, the master
/// key, and the first Administrator with a one-time password.
pub fn init(data: &DataArgs, a: &InitArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(data).await?;
        if let Some(first) = store.initialised().await? {
            println!(
                "{} is already initialised (first Administrator: {first}); nothing changed",
                data.data_dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let (password, shown) = match std::env::var("VIGIL_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (vigil_server::users::one_time_password(), true),
        };
        match store
            .initialise(&a.admin, &a.display_name, &hash(&password)?)
            .await?
        {
            Initialised::Created => {}
            Initialised::Already { first_admin } => {
                println!("already initialised (first Administrator: {first_admin}); nothing changed");
                return Ok(ExitCode::SUCCESS);
            }
        }
        println!("initialised {}", data.data_dir.display());
        if std::env::var("VIGIL_MASTER_KEY").is_err() && data.database_url.is_none() {
            println!(
                "master key: {} (0600; keep a copy off this machine, or supply VIGIL_MASTER_KEY from your key management)",
                data.data_dir.join("master.key").display()
            );
        }
        if shown {
            println!(
                "first Administrator: {}  one-time password: {password}\n(shown only now; it must be changed at first login, with a second factor enrolled)",
                a.admin
            );
        } else {
            println!(
                "first Administrator: {} (password from VIGIL_ADMIN_PASSWORD; it must be changed at first login)",
                a.admin
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .with_context(|| format!("{s:?} is not a {what}"))
}

/// `vigil users …`.
pub fn users(data: &DataArgs, action: &UsersAction) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_initialised(data).await?;
        let admin = system_user();
        match action {
            UsersAction::Add {
                name,
                display_name,
                rank,
                roles,
                reason,
            } => {
                let user = User {
                    id: name.clone(),
                    display_name: display_name.clone(),
                    rank: parse::<Rank>("rank", rank)?,
                    roles: roles
                        .iter()
                        .map(|r| parse::<Role>("role", r))
                        .collect::<Result<_>>()?,
                };
                let otp = vigil_server::users::one_time_password();
                store
                    .create_user(&admin, &user, &hash(&otp)?, reason)
                    .await
                    .with_context(|| format!("adding {name}"))?;
                println!("{name}  one-time password: {otp}  (shown only now; to be changed at first login)");
            }
            UsersAction::List => {
                for a in store.accounts(&admin).await? {
                    println!("{}", serde_json::to_string(&a)?);
                }
            }
            UsersAction::Disable { name, reason } => {
                store
                    .set_disabled(&admin, name, true, reason)
                    .await
                    .with_context(|| format!("disabling {name}"))?;
                println!("{name} disabled; their sessions have ended");
            }
            UsersAction::Enable { name, reason } => {
                store
                    .set_disabled(&admin, name, false, reason)
                    .await
                    .with_context(|| format!("enabling {name}"))?;
                println!("{name} enabled");
            }
            UsersAction::ResetPassword { name, reason } => {
                let otp = vigil_server::users::one_time_password();
                store
                    .reset_password(&admin, name, &hash(&otp)?, reason)
                    .await
                    .with_context(|| format!("resetting the password of {name}"))?;
                println!("{name}  one-time password: {otp}  (shown only now; to be changed at next login)");
            }
            UsersAction::ResetSecondFactor { name, reason } => {
                store
                    .reset_second_factor(&admin, name, reason)
                    .await
                    .with_context(|| format!("resetting the second factor of {name}"))?;
                println!("{name}'s second factor removed; they enrol again at next login");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
