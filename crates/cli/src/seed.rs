//! A ready Deployment for the benchmark and the demo: people in every role,
//! an Application authorised and active, and a Watchlist compiled from the
//! sample photos. Synthetic, clearly labelled, never for operational use.

use std::path::Path;

use anyhow::{Context, Result};
use vigil_core::access::{Rank, Role, User};
use vigil_core::deployment::{Application, Assessments, WrittenAuthority};
use vigil_core::watchlist::Category;
use vigil_store::Store;

pub struct Seeded {
    pub deployment_id: String,
}

fn user(id: &str, name: &str, rank: Rank, roles: &[Role]) -> User {
    User {
        id: id.into(),
        display_name: name.into(),
        rank,
        roles: roles.to_vec(),
    }
}

/// The demo force: one user per role.
pub fn demo_users() -> Vec<User> {
    vec![
        user(
            "admin",
            "Demo Administrator",
            Rank::Staff,
            &[Role::Administrator],
        ),
        user(
            "applicant",
            "Demo Applicant (Inspector)",
            Rank::Inspector,
            &[Role::Applicant],
        ),
        user("npcc", "Demo Commander (NPCC)", Rank::Commander, &[]),
        user(
            "ao",
            "Demo Authorising Officer (Superintendent)",
            Rank::Superintendent,
            &[Role::AuthorisingOfficer],
        ),
        user(
            "gold",
            "Demo Gold Commander",
            Rank::ChiefSuperintendent,
            &[],
        ),
        user("silver", "Demo Silver Commander", Rank::ChiefInspector, &[]),
        user("operator", "Demo LFR Operator", Rank::Constable, &[]),
        user(
            "engagement",
            "Demo Engagement Officer",
            Rank::Constable,
            &[],
        ),
        user("compiler", "Demo Watchlist Compiler", Rank::Staff, &[]),
        user(
            "investigator",
            "Demo Investigator",
            Rank::Sergeant,
            &[Role::Investigator],
        ),
        user(
            "auditor",
            "Demo Auditor / DPO",
            Rank::Staff,
            &[Role::Auditor],
        ),
    ]
}

/// Creates the demo Deployment with a Watchlist of two subjects (from
/// `obama_1/2.jpg` and `ardern_1.jpg` in `samples`), Active, at `threshold`.
pub async fn seed(store: &Store, samples: &Path, threshold: f32) -> Result<Seeded> {
    seed_with(store, samples, threshold, None, &[]).await
}

/// The demo's camera: the synthetic crowd video played in a loop at real
/// speed, registered (once) as an Administrator would register a stream.
pub async fn demo_camera(store: &Store, video: &Path) -> Result<String> {
    if let Some(c) = store
        .cameras()
        .await?
        .into_iter()
        .find(|c| c.settings.name == "demo-cam")
    {
        return Ok(c.id);
    }
    for u in demo_users() {
        store.put_user(&u).await?;
    }
    let admin = demo_users()
        .into_iter()
        .find(|u| u.id == "admin")
        .context("demo admin")?;
    let video = std::path::absolute(video)?;
    let mut settings =
        vigil_core::camera::CameraSettings::new("demo-cam", &video.display().to_string());
    settings.looped = true;
    Ok(store.register_camera(&admin, settings, None).await?.id)
}

/// As [`seed`], recording the False Alert Rate the Threshold came from.
pub async fn seed_with(
    store: &Store,
    samples: &Path,
    threshold: f32,
    target_false_alert_rate: Option<f64>,
    cameras: &[String],
) -> Result<Seeded> {
    let users = demo_users();
    for u in &users {
        store.put_user(u).await?;
    }
    // The demo's seeded people stand in for `vigil init`.
    store.mark_initialised("admin").await?;
    let by = |id: &str| {
        users
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .context("demo user")
    };
    let (admin, applicant, npcc, ao, silver, compiler) = (
        by("admin")?,
        by("applicant")?,
        by("npcc")?,
        by("ao")?,
        by("silver")?,
        by("compiler")?,
    );
    let now = store.now();
    let text = |s: &str| s.to_string();
    let app = Application {
        title: text("DEMO - synthetic footage"),
        location: text("Demo Square (synthetic)"),
        starts_at: now,
        ends_at: now + 8 * 3_600_000,
        legitimate_aim: text("Demonstration of the system on synthetic footage"),
        legal_basis: text("Demonstration only: no real subjects"),
        necessity: text("Demonstration only"),
        proportionality: text("Synthetic footage, sample photos from public packages"),
        safeguards: text("Human adjudication, automatic deletion, audit"),
        watchlist_composition: text("Two sample subjects"),
        resources: text("One camera"),
        assessments: Assessments {
            community_impact: text("n/a (demo)"),
            equality_impact: text("n/a (demo)"),
            data_protection_impact: text("n/a (demo)"),
            surveillance_camera_self_assessment: text("n/a (demo)"),
            operational_risk: text("n/a (demo)"),
        },
        cameras: cameras.to_vec(),
        public_notice: text("To locate people wanted for serious offences (demo)"),
    };
    let d = store.create_deployment(&applicant, app).await?;
    store
        .act(&d.id, &applicant, |d, _, now| d.submit(&applicant, now))
        .await?;
    store
        .act(&d.id, &npcc, |d, _, now| {
            d.consult(&npcc, false, "demo: no concerns", now)
        })
        .await?;
    let wad = WrittenAuthority {
        reasoning: "Demo authority on synthetic footage".into(),
        alternatives_considered: "n/a".into(),
        threshold,
        target_false_alert_rate,
    };
    store
        .act(&d.id, &ao, |d, _, now| d.authorise(&ao, wad.clone(), now))
        .await?;
    for (id, role) in [
        ("gold", Role::Gold),
        ("silver", Role::Silver),
        ("operator", Role::Operator),
        ("engagement", Role::EngagementOfficer),
        ("compiler", Role::WatchlistCompiler),
    ] {
        store.assign(&admin, &d.id, id, role).await?;
    }
    let read = |n: &str| {
        std::fs::read(samples.join(n))
            .with_context(|| format!("sample {n} (run `vigil models fetch`)"))
    };
    let o1 = store
        .add_reference_image(
            &admin,
            "DEMO-SUBJECT-A",
            "sample photo",
            &read("obama_1.jpg")?,
        )
        .await?;
    let o2 = store
        .add_reference_image(
            &admin,
            "DEMO-SUBJECT-A",
            "sample photo",
            &read("obama_2.jpg")?,
        )
        .await?;
    let a1 = store
        .add_reference_image(
            &admin,
            "DEMO-SUBJECT-B",
            "sample photo",
            &read("ardern_1.jpg")?,
        )
        .await?;
    // More of the reference store for the Watchlist page: one usable
    // portrait not on the Watchlist, and a group photo the quality check
    // refuses.
    for (subject, name) in [
        ("DEMO-SUBJECT-C", "macron_1.jpg"),
        ("DEMO-SUBJECT-D", "solvay_1927.jpg"),
    ] {
        store
            .add_reference_image(&admin, subject, "sample photo", &read(name)?)
            .await?;
    }
    store
        .add_watchlist_entry(
            &compiler,
            &d.id,
            Category::Primary,
            "demo subject",
            false,
            &[o1, o2],
        )
        .await?;
    store
        .add_watchlist_entry(
            &compiler,
            &d.id,
            Category::Additional,
            "demo subject",
            false,
            &[a1],
        )
        .await?;
    store
        .act(&d.id, &silver, |d, r, now| d.activate(&silver, r, now))
        .await?;
    Ok(Seeded {
        deployment_id: d.id,
    })
}

/// The five sample portraits the crowd video is made of: the first and
/// fourth show the two Watchlist subjects (in photos not used to enrol).
pub fn crowd_photos(samples: &Path) -> [std::path::PathBuf; 5] {
    [
        "obama_3.jpg",
        "biden_1.jpg",
        "sunak_1.jpg",
        "ardern_2.jpg",
        "macron_2.jpg",
    ]
    .map(|n| samples.join(n))
}
