//! The live pipeline end to end, on videos this test builds with ffmpeg
//! from real face photos shipped by registry packages: watchlist and
//! non-watchlist people entering, crossing and leaving, several at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use vigil_core::access::{Rank, Role, User};
use vigil_core::deployment::WrittenAuthority;
use vigil_core::fixtures::complete_application;
use vigil_core::watchlist::Category;
use vigil_live::{
    CameraConfig, CameraSetup, DeploymentLink, LiveRun, StreamState, Watchlist, Zone,
};
use vigil_store::{Store, SystemClock};
use vigil_vision::FaceEngine;

fn engine() -> Arc<FaceEngine> {
    vigil_testkit::engine()
}

fn sample(name: &str) -> Vec<u8> {
    vigil_testkit::sample(name)
}

fn user(id: &str, rank: Rank, roles: &[Role]) -> User {
    User {
        id: id.into(),
        display_name: id.into(),
        rank,
        roles: roles.to_vec(),
    }
}

struct World {
    store: Arc<Store>,
    rt: tokio::runtime::Runtime,
    deployment: String,
    obama_entry: String,
    ardern_entry: String,
    silver: User,
    data_dir: tempfile::TempDir,
}

/// A Deployment with a Watchlist of two subjects (Obama from two photos,
/// Ardern from one), authorised at Threshold 0.45 and active.
fn world(activate: bool) -> World {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        rt.block_on(Store::open_data_dir(
            data_dir.path(),
            None,
            Arc::new(SystemClock),
        ))
        .unwrap(),
    );
    let admin = user("admin", Rank::Staff, &[Role::Administrator]);
    let applicant = user("applicant", Rank::Inspector, &[Role::Applicant]);
    let npcc = user("npcc", Rank::Commander, &[]);
    let supt = user("supt", Rank::Superintendent, &[Role::AuthorisingOfficer]);
    let silver = user("silver", Rank::ChiefInspector, &[]);
    let compiler = user("compiler", Rank::Staff, &[]);
    let operator = user("operator", Rank::Constable, &[]);
    let (deployment, obama_entry, ardern_entry) = rt.block_on(async {
        for u in [
            &admin, &applicant, &npcc, &supt, &silver, &compiler, &operator,
        ] {
            store.put_user(u).await.unwrap();
        }
        let app = complete_application("Test Street", 0, i64::MAX / 2);
        let d = store.create_deployment(&applicant, app).await.unwrap();
        store
            .act(&d.id, &applicant, |d, _, now| d.submit(&applicant, now))
            .await
            .unwrap();
        store
            .act(&d.id, &npcc, |d, _, now| d.consult(&npcc, false, "ok", now))
            .await
            .unwrap();
        let wad = WrittenAuthority {
            reasoning: "ok".into(),
            alternatives_considered: "none".into(),
            threshold: 0.45,
            target_false_alert_rate: None,
        };
        store
            .act(&d.id, &supt, |d, _, now| {
                d.authorise(&supt, wad.clone(), now)
            })
            .await
            .unwrap();
        store
            .assign(&admin, &d.id, &silver.id, Role::Silver)
            .await
            .unwrap();
        store
            .assign(&admin, &d.id, &compiler.id, Role::WatchlistCompiler)
            .await
            .unwrap();
        store
            .assign(&admin, &d.id, &operator.id, Role::Operator)
            .await
            .unwrap();
        let o1 = store
            .add_reference_image(&admin, "REF-OBAMA", "custody", &sample("obama_1.jpg"))
            .await
            .unwrap();
        let o2 = store
            .add_reference_image(&admin, "REF-OBAMA", "custody", &sample("obama_2.jpg"))
            .await
            .unwrap();
        let a1 = store
            .add_reference_image(&admin, "REF-ARDERN", "custody", &sample("ardern_1.jpg"))
            .await
            .unwrap();
        let eo = store
            .add_watchlist_entry(
                &compiler,
                &d.id,
                Category::Primary,
                "wanted",
                false,
                &[o1, o2],
            )
            .await
            .unwrap();
        let ea = store
            .add_watchlist_entry(&compiler, &d.id, Category::Primary, "wanted", false, &[a1])
            .await
            .unwrap();
        if activate {
            store
                .act(&d.id, &silver, |d, r, now| d.activate(&silver, r, now))
                .await
                .unwrap();
        }
        (d.id, eo.id, ea.id)
    });
    World {
        store,
        rt,
        deployment,
        obama_entry,
        ardern_entry,
        silver,
        data_dir,
    }
}

/// Five passers-by over 12 s at 10 fps, 1280x720: two on the Watchlist
/// (photos not used for enrolment), three not; two people in frame at once.
fn crowd_video(engine: &FaceEngine, dir: &Path) -> PathBuf {
    let s = |n: &str| vigil_testkit::cache().sample(n);
    let photos = [
        s("obama_3.jpg"),
        s("biden_1.jpg"),
        s("sunak_1.jpg"),
        s("ardern_2.jpg"),
        s("macron_2.jpg"),
    ];
    vigil_live::synth::crowd(engine, &photos, dir, 1280, 720, 10).unwrap()
}

fn camera(name: &str, url: &Path) -> CameraSetup {
    let mut c = CameraConfig::new(name, &url.to_string_lossy());
    c.lossless = true;
    CameraSetup {
        camera: c,
        zone: Zone::default(),
        max_faces: 10,
        footage: None,
        detection_size: Default::default(),
    }
}

fn start(w: &World, engine: &Arc<FaceEngine>, cams: Vec<CameraSetup>) -> LiveRun {
    let _guard = w.rt.enter();
    let link = DeploymentLink::new(w.store.clone(), w.rt.handle().clone(), &w.deployment).unwrap();
    let watchlist = Arc::new(Watchlist::load(&link, engine).unwrap());
    assert!(watchlist.not_enrolled.is_empty());
    LiveRun::start(engine.clone(), link, watchlist, cams).unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn one_alert_per_watchlist_passer_by_none_for_others_and_no_trace_of_them() {
    let engine = engine();
    let media = tempfile::tempdir().unwrap();
    let video = crowd_video(&engine, media.path());
    let w = world(true);
    let run = start(&w, &engine, vec![camera("north", &video)]);
    assert!(
        run.wait(Duration::from_secs(240)),
        "pipeline did not finish"
    );
    let health = run.stop();
    let h = &health[0];
    println!("{}", serde_json::to_string_pretty(&health).unwrap());
    assert_eq!(h.counts.frames_in, 120);
    assert_eq!(h.counts.frames_processed, 120);
    assert_eq!(h.counts.frames_dropped, 0);

    let (alerts, stats) = w.rt.block_on(async {
        let op = w.store.user("operator").await.unwrap();
        (
            w.store.alerts(&op, &w.deployment, None, 500).await.unwrap(),
            w.store.deployment_stats(&w.deployment).await.unwrap(),
        )
    });
    let mut subjects: Vec<&str> = alerts
        .iter()
        .map(|a| a.subject_ref.as_deref().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["REF-ARDERN", "REF-OBAMA"],
        "exactly one Alert per watchlist passer-by"
    );
    assert_eq!(h.counts.alerts, 2);
    assert_eq!(stats.passers_by, 5, "five Recognition Opportunities");
    assert_eq!(h.counts.passers_by, 5);
    for a in &alerts {
        assert!(a.score >= 0.45);
        assert!(a.recognition_time_ms >= 0);
        assert_eq!(a.camera, "north");
    }
    assert!(h.p95_recognition_time_ms.is_some());
    let _ = (&w.obama_entry, &w.ardern_entry);

    // Nothing of the three others reached the disk: the data directory holds
    // only the database files and the key, and the only sealed media are
    // the reference images, the Watchlist copies and three per Alert
    // (Probe, Candidate and the scene frame with bystanders pixelated).
    let mut names: Vec<String> = files_under(w.data_dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.retain(|n| n != "vigil.db-wal" && n != "vigil.db-shm");
    assert_eq!(names, ["master.key", "vigil.db"]);
    let media_rows: i64 = w.rt.block_on(async {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM media")
            .fetch_one(w.store.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    });
    assert_eq!(media_rows, 3 + 3 + 3 * 2);
    for f in files_under(w.data_dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(4).any(|x| x == b"JFIF"),
            "unencrypted JPEG in {}",
            f.display()
        );
    }
}

#[test]
fn a_suspended_deployment_analyses_no_frames_and_a_concluded_one_stops_the_pipeline() {
    let engine = engine();
    let media = tempfile::tempdir().unwrap();
    let video = crowd_video(&engine, media.path());
    let w = world(false);
    // Authorised but not active: nothing may be analysed.
    let mut cam = camera("gate", &video);
    cam.camera.lossless = false;
    cam.camera.realtime = true;
    cam.camera.looped = true;
    let run = start(&w, &engine, vec![cam]);
    std::thread::sleep(Duration::from_secs(3));
    let h = &run.health()[0];
    assert_eq!(h.counts.frames_processed, 0);
    assert!(h.frames_paused > 0);
    assert_eq!(h.counts.faces, 0);
    // Activate: frames flow into recognition; then conclude: it stops.
    let silver = w.silver.clone();
    w.rt.block_on(w.store.act(&w.deployment, &silver, |d, r, now| {
        d.activate(&silver, r, now)
    }))
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(run.health()[0].counts.frames_processed > 0);
    w.rt.block_on(w.store.act(&w.deployment, &silver, |d, r, now| {
        d.conclude(&silver, r, "end", now)
    }))
    .unwrap();
    assert!(
        run.wait(Duration::from_secs(10)),
        "a concluded Deployment must stop the pipeline"
    );
    let processed = run.health()[0].counts.frames_processed;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(run.health()[0].counts.frames_processed, processed);
    run.stop();
}

fn serve(video: &Path, port: u16) -> Child {
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "quiet",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
        ])
        .arg(video)
        .args(["-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1"])
        .arg(format!("http://127.0.0.1:{port}/cam"))
        .spawn()
        .unwrap()
}

#[test]
fn a_stream_that_dies_is_reconnected_and_a_broken_camera_does_not_disturb_another() {
    let engine = engine();
    let media = tempfile::tempdir().unwrap();
    let video = crowd_video(&engine, media.path());
    let w = world(true);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = serve(&video, port);
    std::thread::sleep(Duration::from_millis(700));
    let mut live = CameraConfig::new("http-cam", &format!("http://127.0.0.1:{port}/cam"));
    live.stall_timeout = Duration::from_secs(3);
    let broken = CameraConfig::new("broken", "/nonexistent/camera.mkv");
    let run = start(
        &w,
        &engine,
        vec![
            CameraSetup {
                camera: live,
                zone: Zone::default(),
                max_faces: 10,
                footage: None,
                detection_size: Default::default(),
            },
            CameraSetup {
                camera: broken,
                zone: Zone::default(),
                max_faces: 10,
                footage: None,
                detection_size: Default::default(),
            },
            camera("file", &video),
        ],
    );
    std::thread::sleep(Duration::from_secs(4));
    let before = run.health();
    assert!(before[0].counts.frames_in > 5, "{:?}", before[0]);
    // The stream dies...
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let down = &run.health()[0];
    assert_ne!(down.state, StreamState::Streaming, "{down:?}");
    // ...and comes back.
    let mut server = serve(&video, port);
    let mut recovered = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let h = &run.health()[0];
        if h.state == StreamState::Streaming && h.counts.frames_in > down.counts.frames_in + 5 {
            recovered = true;
            break;
        }
    }
    let after = run.health();
    assert!(recovered, "stream did not come back: {:?}", after[0]);
    assert!(after[0].counts.reconnects >= 1);
    // The broken camera is reported, retried, and harmed nothing else.
    assert_eq!(after[1].counts.frames_in, 0);
    assert!(
        matches!(after[1].state, StreamState::Down | StreamState::Connecting),
        "{:?}",
        after[1]
    );
    assert!(after[1].last_error.is_some());
    assert!(after[1].counts.reconnects >= 1);
    for _ in 0..400 {
        if run.health()[2].state == StreamState::Finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let final_health = run.stop();
    server.kill().ok();
    server.wait().ok();
    assert_eq!(
        final_health[2].counts.frames_processed, 120,
        "{:?}",
        final_health[2]
    );
    assert!(final_health[2].counts.alerts >= 2);
}

/// Issue 15: no Watchlist entry is silently unmatched. An entry whose image
/// has no face the quality gate passes (a portrait shrunk to 160 px, inter-
/// eye distance far under 50 px) is listed as not enrolled with the reason;
/// the same image entered with the compiler's override is enrolled, and
/// every Candidate Image is a face crop, not the whole photo.
#[test]
fn an_unsuitable_entry_is_not_enrolled_with_its_reason_and_enrols_by_override() {
    let w = world(false);
    let engine = engine();
    let admin = user("admin", Rank::Staff, &[Role::Administrator]);
    let compiler = user("compiler", Rank::Staff, &[]);
    let small = {
        let img =
            vigil_vision::image_io::decode(&sample("obama_1.jpg"), Default::default()).unwrap();
        let small = image::imageops::resize(
            &img,
            160,
            160 * img.height() / img.width(),
            image::imageops::FilterType::Triangle,
        );
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(small)
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        out
    };
    let group = small;
    let (plain, overridden) = w.rt.block_on(async {
        let g1 = w
            .store
            .add_reference_image(&admin, "REF-GROUP", "custody", &group)
            .await
            .unwrap();
        let g2 = w
            .store
            .add_reference_image(&admin, "REF-GROUP-2", "custody", &group)
            .await
            .unwrap();
        let plain = w
            .store
            .add_watchlist_entry(&compiler, &w.deployment, Category::Primary, "wanted", false, std::slice::from_ref(&g1))
            .await
            .unwrap();
        // One entry per person.
        assert!(matches!(
            w.store
                .add_watchlist_entry(&compiler, &w.deployment, Category::Primary, "again", false, &[g1])
                .await,
            Err(vigil_store::StoreError::Conflict(m)) if m.contains("already on this Watchlist")
        ));
        let overridden = w
            .store
            .add_watchlist_entry_overriding(
                &compiler,
                &w.deployment,
                vigil_store::watchlists::NewEntry {
                    category: Category::Primary,
                    reason: "wanted",
                    blue: false,
                    reference_image_ids: &[g2],
                    quality_override: Some("the only image held; front row, second from left"),
                },
            )
            .await
            .unwrap();
        (plain, overridden)
    });
    let _guard = w.rt.enter();
    let link = DeploymentLink::new(w.store.clone(), w.rt.handle().clone(), &w.deployment).unwrap();
    let watchlist = Watchlist::load(&link, &engine).unwrap();
    assert_eq!(
        watchlist.not_enrolled.len(),
        1,
        "{:?}",
        watchlist.not_enrolled
    );
    let n = &watchlist.not_enrolled[0];
    assert_eq!(
        (n.entry.as_str(), n.subject.as_str()),
        (plain.id.as_str(), "REF-GROUP")
    );
    assert!(n.reason.contains("quality gate"), "{}", n.reason);
    assert_eq!(
        watchlist.gallery.subjects(),
        3,
        "Obama, Ardern and the override"
    );
    let crop = &watchlist.candidate_images[&overridden.id];
    let img = vigil_vision::image_io::decode(crop, Default::default()).unwrap();
    assert!(
        img.width() < 400 && img.height() < 400,
        "a face crop, not the group photo"
    );
    for e in [&w.obama_entry, &w.ardern_entry] {
        let c = vigil_vision::image_io::decode(&watchlist.candidate_images[e], Default::default())
            .unwrap();
        let whole =
            vigil_vision::image_io::decode(&sample("obama_1.jpg"), Default::default()).unwrap();
        assert!(c.width() < whole.width(), "candidate {e} is cropped");
    }
    // The audit log records the override with its reason.
    let auditor = user("auditor", Rank::Staff, &[Role::Auditor]);
    w.rt.block_on(w.store.put_user(&auditor)).unwrap();
    let log =
        w.rt.block_on(w.store.audit_entries(&auditor, 0, 10_000))
            .unwrap();
    assert!(log.iter().any(|e| e.action == "watchlist.add"
        && e.detail
            .contains("enrolled by override: the only image held")));
}
