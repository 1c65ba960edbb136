//! Shared fixtures: a store on each backend, the people of a Deployment,
//! and a Deployment brought to Active with a Watchlist.
#![allow(dead_code)]

use std::sync::Arc;

use sqlx::Connection;
use vigil_core::access::{Rank, Role, User};
use vigil_core::deployment::{Application, Deployment, WrittenAuthority};
use vigil_core::fixtures::complete_application;
use vigil_core::watchlist::Category;
use vigil_store::{ManualClock, MasterKey, Store};

pub const T0: i64 = 1_800_000_000_000;

pub struct World {
    pub name: &'static str,
    /// The database's URL, for a second store on the same database.
    pub url: String,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub _dir: tempfile::TempDir,
}

pub fn user(id: &str, rank: Rank, roles: &[Role]) -> User {
    User {
        id: id.into(),
        display_name: format!("Officer {id}"),
        rank,
        roles: roles.to_vec(),
    }
}

pub struct People {
    pub admin: User,
    pub applicant: User,
    pub npcc: User,
    pub supt: User,
    pub gold: User,
    pub silver: User,
    pub operator: User,
    pub engagement: User,
    pub compiler: User,
    pub other_operator: User,
    pub auditor: User,
    pub investigator: User,
}

pub fn people() -> People {
    People {
        admin: user("admin", Rank::Staff, &[Role::Administrator]),
        applicant: user("applicant", Rank::Inspector, &[Role::Applicant]),
        npcc: user("npcc", Rank::Commander, &[]),
        supt: user("supt", Rank::Superintendent, &[Role::AuthorisingOfficer]),
        gold: user("gold", Rank::ChiefSuperintendent, &[]),
        silver: user("silver", Rank::ChiefInspector, &[]),
        operator: user("operator", Rank::Constable, &[]),
        engagement: user("engagement", Rank::Constable, &[]),
        compiler: user("compiler", Rank::Staff, &[]),
        other_operator: user("other-operator", Rank::Constable, &[]),
        auditor: user("auditor", Rank::Staff, &[Role::Auditor]),
        investigator: user("investigator", Rank::Sergeant, &[Role::Investigator]),
    }
}

/// A store per backend: always SQLite; PostgreSQL at `VIGIL_TEST_PG_URL`
/// (a fresh database per call). `scripts/test.sh` starts a throw-away
/// server and sets it; without it the PostgreSQL half fails loudly.
pub async fn worlds() -> Vec<World> {
    let mut out = vec![world_sqlite().await];
    match std::env::var("VIGIL_TEST_PG_URL") {
        Ok(url) => out.push(world_postgres(&url).await),
        Err(_) => panic!("VIGIL_TEST_PG_URL is not set: run the tests with scripts/test.sh, which starts a throw-away PostgreSQL"),
    }
    out
}

pub async fn world_sqlite() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("vigil.db").display()
    );
    let store = Store::open(&url, MasterKey::generate(), clock.clone())
        .await
        .unwrap();
    World {
        name: "sqlite",
        url,
        store,
        clock,
        _dir: dir,
    }
}

async fn world_postgres(admin_url: &str) -> World {
    let db = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let (path, query) = match admin_url.split_once('?') {
        Some((_, q)) => (
            format!("{}/{db}", base.split('?').next().unwrap()),
            format!("?{q}"),
        ),
        None => (format!("{base}/{db}"), String::new()),
    };
    let url = format!("{path}{query}");
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open(&url, MasterKey::generate(), clock.clone())
        .await
        .unwrap();
    World {
        name: "postgres",
        url,
        store,
        clock,
        _dir: tempfile::tempdir().unwrap(),
    }
}

pub fn application() -> Application {
    complete_application("High Street, Anytown", T0, T0 + 8 * 3_600_000)
}

pub fn authority() -> WrittenAuthority {
    WrittenAuthority {
        reasoning: t("lawful, necessary and proportionate"),
        alternatives_considered: t("patrols"),
        threshold: 0.6,
        target_false_alert_rate: Some(1e-3),
    }
}

fn t(s: &str) -> String {
    s.to_string()
}

pub struct Active {
    pub deployment: Deployment,
    /// Primary watchlist entry id and Blue Watchlist entry id.
    pub primary: String,
    pub blue: String,
}

pub const PRIMARY_SUBJECT: &str = "CUSTODY-REF-4471";
pub const BLUE_SUBJECT: &str = "VOLUNTEER-REF-17";

/// Users stored, a Deployment authorised with everyone assigned, a
/// Watchlist compiled from the reference store, and the Deployment active.
pub async fn active_deployment(w: &World, p: &People) -> Active {
    active_deployment_with(w, p, application()).await
}

/// As [`active_deployment`], for this Application.
pub async fn active_deployment_with(w: &World, p: &People, app: Application) -> Active {
    let s = &w.store;
    for u in [
        &p.admin,
        &p.applicant,
        &p.npcc,
        &p.supt,
        &p.gold,
        &p.silver,
        &p.operator,
        &p.engagement,
        &p.compiler,
        &p.other_operator,
        &p.auditor,
        &p.investigator,
    ] {
        s.put_user(u).await.unwrap();
    }
    let d = s.create_deployment(&p.applicant, app).await.unwrap();
    let id = d.id.clone();
    s.act(&id, &p.applicant, |d, _, now| d.submit(&p.applicant, now))
        .await
        .unwrap();
    s.act(&id, &p.npcc, |d, _, now| {
        d.consult(&p.npcc, false, "no concerns", now)
    })
    .await
    .unwrap();
    s.act(&id, &p.supt, |d, _, now| {
        d.authorise(&p.supt, authority(), now)
    })
    .await
    .unwrap();
    for (u, r) in [
        (&p.gold, Role::Gold),
        (&p.silver, Role::Silver),
        (&p.operator, Role::Operator),
        (&p.engagement, Role::EngagementOfficer),
        (&p.compiler, Role::WatchlistCompiler),
    ] {
        s.assign(&p.admin, &id, &u.id, r).await.unwrap();
    }
    let r1 = s
        .add_reference_image(
            &p.admin,
            PRIMARY_SUBJECT,
            "custody",
            b"JPEG custody image of 4471 (front)",
        )
        .await
        .unwrap();
    let r2 = s
        .add_reference_image(
            &p.admin,
            PRIMARY_SUBJECT,
            "custody",
            b"JPEG custody image of 4471 (side)",
        )
        .await
        .unwrap();
    let r3 = s
        .add_reference_image(&p.admin, BLUE_SUBJECT, "volunteer", b"JPEG volunteer 17")
        .await
        .unwrap();
    let primary = s
        .add_watchlist_entry(
            &p.compiler,
            &id,
            Category::Primary,
            "wanted on warrant for robbery",
            false,
            &[r1, r2],
        )
        .await
        .unwrap();
    let blue = s
        .add_watchlist_entry(&p.compiler, &id, Category::Primary, "", true, &[r3])
        .await
        .unwrap();
    let deployment = s
        .act(&id, &p.silver, |d, a, now| d.activate(&p.silver, a, now))
        .await
        .unwrap();
    Active {
        deployment,
        primary: primary.id,
        blue: blue.id,
    }
}

pub fn new_alert(deployment_id: &str, entry: &str, w: &World) -> vigil_store::alerts::NewAlert {
    use vigil_store::Clock;
    vigil_store::alerts::NewAlert {
        deployment_id: deployment_id.into(),
        camera: "cam-north".into(),
        watchlist_entry_id: entry.into(),
        score: 0.71,
        first_seen: w.clock.now() - 400,
        quality: r#"{"inter_eye_distance":72.0}"#.into(),
        probe_image: b"PROBE-PIXELS-of-passer-by".to_vec(),
        candidate_image: b"CANDIDATE-PIXELS-from-watchlist".to_vec(),
        scene_image: None,
    }
}
