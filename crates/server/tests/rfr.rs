//! RFR/OIFR over the API with the real face engine: real faces (from the
//! `face_recognition` package's test images that setup fetches) planted in
//! a gallery of synthetic templates are found at rank 1; searches without a
//! case reference, by the wrong role, or of another investigator are
//! refused; every search, view, image read and review is audited.

mod common;

use std::process::Command;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::search::{sample, search_fixture, search_state_pgvector};
use common::*;
use serde_json::{json, Value};

const BOUNDARY: &str = "vigil-test-boundary";

fn multipart(fields: &[(&str, &str)], media: Option<(&[u8], &str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((bytes, ct)) = media {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"probe\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn search_req(s: Option<&Session>, body: Vec<u8>) -> Request<Body> {
    let mut r = Request::post("/api/v1/rfr/searches").header(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(s) = s {
        r = r
            .header(header::COOKIE, &s.cookie)
            .header("x-vigil-csrf", &s.csrf);
    }
    r.body(Body::from(body)).unwrap()
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(b)))
}

async fn audit_actions(f: &Fixture) -> Vec<(String, String, String)> {
    let auditor = f.store.user("auditor").await.unwrap();
    f.store
        .audit_entries(&auditor, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_face_planted_among_synthetic_templates_is_found_at_rank_1_and_reviewed() {
    let f = search_fixture(100_000).await;
    let inv = login(&f, "investigator").await;
    let body = multipart(
        &[
            ("case_ref", "OP-KESTREL/2026/114"),
            ("reason", "robbery suspect, CCTV still"),
            ("kind", "rfr"),
            ("k", "10"),
        ],
        Some((&sample("obama_2.jpg"), "image/jpeg")),
    );
    let (st, b, _) = send(&f, search_req(Some(&inv), body)).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let s = json_of(&b);
    assert_eq!(s["case_ref"], "OP-KESTREL/2026/114");
    assert_eq!(s["media_kind"], "image");
    let face = &s["faces"][0];
    let cands = face["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 10);
    assert_eq!(cands[0]["subject_ref"], "CUSTODY-OBAMA", "{face}");
    assert_eq!(cands[0]["rank"], 1);
    let top = cands[0]["score"].as_f64().unwrap();
    let second = cands[1]["score"].as_f64().unwrap();
    assert!(
        top > 0.5 && second < 0.45,
        "mate {top}, best non-mate {second}"
    );
    assert!(face["quality"]["inter_eye_distance"].as_f64().unwrap() > 20.0);
    // The search carries the calibrated Threshold (FMR 1e-5 per comparison):
    // the mate is above it, the best non-mate below.
    let threshold = s["threshold"].as_f64().expect("a calibrated Threshold");
    assert!(
        second < threshold && threshold < top,
        "{second} < {threshold} < {top}"
    );

    let id = s["id"].as_str().unwrap();
    // The candidate's custody image is the one enrolled; the probe is a JPEG crop.
    let (st, img, _) = send(
        &f,
        get(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/1/image"),
            Some(&inv),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(img, sample("obama_1.jpg"));
    let (st, img, _) = send(
        &f,
        get(
            &format!("/api/v1/rfr/searches/{id}/faces/0/probe"),
            Some(&inv),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(&img[..2], &[0xff, 0xd8]);

    // Review: possible match with a note, then read back.
    let (st, b, _) = send(
        &f,
        post(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/1/review"),
            Some(&inv),
            json!({"verdict": "possible_match", "note": "same scar; pursue by other means"})
                .to_string(),
            true,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    // Candidate 2 is below the Threshold: a possible match only with a
    // reason, which the audit log keeps.
    let review2 = |body: serde_json::Value| {
        post(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/2/review"),
            Some(&inv),
            body.to_string(),
            true,
        )
    };
    let (st, b, _) = send(&f, review2(json!({"verdict": "possible_match"}))).await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert!(String::from_utf8_lossy(&b).contains("below the Threshold"));
    let (st, b, _) = send(
        &f,
        review2(json!({"verdict": "possible_match", "below_threshold_reason": "same tattoo as the custody record"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (st, _, _) = send(&f, review2(json!({"verdict": "not_a_match"}))).await;
    assert_eq!(st, StatusCode::OK);
    let (st, b, _) = send(
        &f,
        post(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/2/review"),
            Some(&inv),
            json!({"verdict": "identified"}).to_string(),
            true,
        ),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "no such verdict: {}",
        String::from_utf8_lossy(&b)
    );
    let (_, b, _) = send(&f, get(&format!("/api/v1/rfr/searches/{id}"), Some(&inv))).await;
    let r = json_of(&b);
    assert_eq!(
        r["faces"][0]["candidates"][0]["review"]["verdict"],
        "possible_match"
    );
    assert_eq!(
        r["faces"][0]["candidates"][0]["review"]["by"],
        "investigator"
    );
    assert_eq!(
        r["faces"][0]["candidates"][1]["review"]["verdict"],
        "not_a_match"
    );
    let (_, b, _) = send(&f, get("/api/v1/rfr/searches", Some(&inv))).await;
    assert_eq!(json_of(&b).as_array().unwrap().len(), 1);

    let log = audit_actions(&f).await;
    let has = |action: &str, detail: &str| {
        log.iter()
            .any(|(a, act, d)| a == "investigator" && act == action && d.contains(detail))
    };
    assert!(has("search.run", "case OP-KESTREL/2026/114"), "{log:?}");
    assert!(has("search.view", ""));
    assert!(has("search.candidate.read", "face 0 rank 1"));
    assert!(has("search.probe.read", "face 0"));
    assert!(has("search.review", "possible_match"));
    assert!(has(
        "search.review",
        "rank 2: possible_match below the Threshold, override: same tattoo"
    ));
    assert!(
        !log.iter().any(|(_, _, d)| d.contains("robbery")),
        "the reason is kept with the search, not copied into the audit detail"
    );
}

/// A 4K still whose one face is about 35 px wide: at the detector's own
/// 640x640 it shrinks to 6 px and nobody is found; asked to look at the
/// still's own size, the search finds the face and its mate first. A size
/// outside 64-4096 is refused before anything is analysed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_face_in_a_large_still_is_found_at_its_own_size() {
    let f = search_fixture(1_000).await;
    let inv = login(&f, "investigator").await;
    let portrait = image::load_from_memory(&sample("obama_2.jpg"))
        .unwrap()
        .to_rgb8();
    // obama_2's face is 44 % of the portrait's width: 80 px wide makes
    // it about 35 px, and 6 px at 640x640.
    let scale = 80.0 / portrait.width() as f32;
    let small = image::imageops::resize(
        &portrait,
        (portrait.width() as f32 * scale) as u32,
        (portrait.height() as f32 * scale) as u32,
        image::imageops::FilterType::Triangle,
    );
    let mut still = image::RgbImage::from_pixel(3840, 2160, image::Rgb([110, 120, 115]));
    image::imageops::replace(&mut still, &small, 2400, 900);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&still)
        .unwrap();
    let search = |size: Option<&'static str>| {
        let mut fields = vec![
            ("case_ref", "OP-WREN/2026/7"),
            ("reason", "shop CCTV still, subject far from the camera"),
        ];
        if let Some(s) = size {
            fields.push(("detection_size", s));
        }
        search_req(Some(&inv), multipart(&fields, Some((&jpeg, "image/jpeg"))))
    };
    let (st, b, _) = send(&f, search(None)).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let faces = json_of(&b)["faces"].as_array().map_or(0, Vec::len);
    assert_eq!(faces, 0, "at 640x640 the 35 px face is lost");
    let (st, b, _) = send(&f, search(Some("3840"))).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let s = json_of(&b);
    let face = &s["faces"][0];
    assert_eq!(face["candidates"][0]["subject_ref"], "CUSTODY-OBAMA", "{s}");
    for bad in ["10", "9999", "large"] {
        let (st, b, _) = send(&f, search(Some(bad))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert!(String::from_utf8_lossy(&b).contains("detection_size"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_without_a_case_reference_or_by_other_roles_are_refused() {
    let f = search_fixture(1_000).await;
    let inv = login(&f, "investigator").await;
    let photo = sample("ardern_2.jpg");
    for fields in [
        vec![("reason", "no case")],
        vec![("case_ref", "  "), ("reason", "blank case")],
        vec![("case_ref", "C-1")],
    ] {
        let (st, b, _) = send(
            &f,
            search_req(Some(&inv), multipart(&fields, Some((&photo, "image/jpeg")))),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{fields:?}: {}",
            String::from_utf8_lossy(&b)
        );
        assert!(String::from_utf8_lossy(&b).contains("case reference"));
    }
    // No media, an unknown field, a bad kind.
    let (st, _, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(&[("case_ref", "C-1"), ("reason", "r")], None),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(
                &[("case_ref", "C-1"), ("reason", "r"), ("name", "x")],
                Some((&photo, "image/jpeg")),
            ),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(
                &[("case_ref", "C-1"), ("reason", "r"), ("kind", "lfr")],
                Some((&photo, "image/jpeg")),
            ),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Other roles, and nobody logged in.
    let fields = [("case_ref", "C-2"), ("reason", "r")];
    for who in ["operator", "admin", "auditor", "gold"] {
        let s = login(&f, who).await;
        let (st, _, _) = send(
            &f,
            search_req(Some(&s), multipart(&fields, Some((&photo, "image/jpeg")))),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
        let (st, _, _) = send(&f, get("/api/v1/rfr/searches", Some(&s))).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }
    let (st, _, _) = send(
        &f,
        search_req(None, multipart(&fields, Some((&photo, "image/jpeg")))),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (_, b, _) = send(&f, get("/api/v1/rfr/searches", Some(&inv))).await;
    assert!(
        json_of(&b).as_array().unwrap().is_empty(),
        "refused searches leave no record"
    );
    let refusals = audit_actions(&f)
        .await
        .into_iter()
        .filter(|(_, a, _)| a == "search.refused")
        .count();
    assert_eq!(refusals, 3 + 4, "each refused search is audited");

    // A corrupt upload is a clear error and the server keeps working.
    let (st, b, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(&fields, Some((b"\xff\xd8\xff\xe0 truncated", "image/jpeg"))),
        ),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&b)
    );
    // A photo without a face: recorded, with no faces (failure to acquire).
    let blank = {
        let img = image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let (st, b, _) = send(
        &f,
        search_req(Some(&inv), multipart(&fields, Some((&blank, "image/png")))),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(json_of(&b)["faces"].as_array().unwrap().is_empty());
    let (st, b, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(
                &[("case_ref", "C-3"), ("reason", "r"), ("kind", "oifr")],
                Some((&photo, "image/jpeg")),
            ),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let s = json_of(&b);
    assert_eq!(s["kind"], "oifr");
    assert_eq!(
        s["faces"][0]["candidates"][0]["subject_ref"],
        "CUSTODY-ARDERN"
    );

    // Another investigator cannot read it, nor its images; the refusal is audited.
    let id = s["id"].as_str().unwrap();
    let other = login(&f, "investigator2").await;
    for path in [
        format!("/api/v1/rfr/searches/{id}"),
        format!("/api/v1/rfr/searches/{id}/faces/0/probe"),
        format!("/api/v1/rfr/searches/{id}/faces/0/candidates/1/image"),
    ] {
        let (st, _, _) = send(&f, get(&path, Some(&other))).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
    let (st, _, _) = send(
        &f,
        post(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/1/review"),
            Some(&other),
            json!({"verdict": "not_a_match"}).to_string(),
            true,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(audit_actions(&f)
        .await
        .iter()
        .any(|(a, act, _)| a == "investigator2" && act == "search.view.refused"));
    let (st, _, _) = send(&f, get("/api/v1/rfr/searches/no-such-search", Some(&inv))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_is_sampled_and_one_person_is_searched_once() {
    let f = search_fixture(10_000).await;
    let inv = login(&f, "investigator").await;
    // Four seconds of one still (with slight zoom so frames differ), made by ffmpeg.
    let dir = tempfile::tempdir().unwrap();
    let still = dir.path().join("p.jpg");
    std::fs::write(&still, sample("obama_3.jpg")).unwrap();
    let video = dir.path().join("v.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-i"])
        .arg(&still)
        .args([
            "-t",
            "4",
            "-r",
            "10",
            "-vf",
            "scale=640:-2,zoompan=z='1+0.002*on':d=1:s=640x480",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-movflags",
            "+faststart",
        ])
        .arg(&video)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg");
    let bytes = std::fs::read(&video).unwrap();
    let (st, b, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(
                &[("case_ref", "V-1"), ("reason", "CCTV clip")],
                Some((&bytes, "video/mp4")),
            ),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let s = json_of(&b);
    assert_eq!(s["media_kind"], "video");
    assert!(s["frames"].as_u64().unwrap() >= 6, "{}", s["frames"]);
    let faces = s["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "one person across the frames is one probe");
    assert_eq!(faces[0]["candidates"][0]["subject_ref"], "CUSTODY-OBAMA");
}

/// The same search served from PostgreSQL + pgvector (HNSW) instead of
/// memory: the planted custody image still comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pgvector_backend_serves_the_same_search() {
    let url = std::env::var("VIGIL_TEST_PGVECTOR_URL").expect(
        "VIGIL_TEST_PGVECTOR_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL with pgvector",
    );
    let mut f = fixture().await;
    f.app = vigil_server::router(search_state_pgvector(&f, 5_000, &url).await);
    let inv = login(&f, "investigator").await;
    let (st, b, _) = send(
        &f,
        search_req(
            Some(&inv),
            multipart(
                &[("case_ref", "PG-1"), ("reason", "shared index")],
                Some((&sample("obama_2.jpg"), "image/jpeg")),
            ),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let s = json_of(&b);
    let c = &s["faces"][0]["candidates"];
    assert_eq!(c[0]["subject_ref"], "CUSTODY-OBAMA", "{s}");
    assert!(c[0]["score"].as_f64().unwrap() > 0.5);
    assert_eq!(c.as_array().unwrap().len(), 20);
    let id = s["id"].as_str().unwrap();
    let (st, img, _) = send(
        &f,
        get(
            &format!("/api/v1/rfr/searches/{id}/faces/0/candidates/1/image"),
            Some(&inv),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(img, sample("obama_1.jpg"));
}

/// Entries of the system temporary directory a search could have left.
fn search_leftovers() -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vigil-search"))
        .collect()
}

/// Security finding 2: a damaged MKV made ffmpeg fill its stderr pipe
/// (125 KB of decoder errors here) while the server read only stdout, and
/// the request never returned. Finding 6: the video sat in plaintext in
/// the system temp directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_video_answers_within_seconds_and_leaves_no_file() {
    let f = search_fixture(1_000).await;
    let inv = login(&f, "investigator").await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("t.mkv");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=25:duration=60")
        .args(["-c:v", "mjpeg", "-q:v", "3"])
        .arg(&good)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg");
    let mut bytes = std::fs::read(&good).unwrap();
    for i in (4096..bytes.len()).step_by(700) {
        bytes[i] ^= 0xff;
    }
    let before = search_leftovers();
    let req = search_req(
        Some(&inv),
        multipart(
            &[("case_ref", "V-2"), ("reason", "damaged clip")],
            Some((&bytes, "video/x-matroska")),
        ),
    );
    let answered = tokio::time::timeout(std::time::Duration::from_secs(180), send(&f, req)).await;
    let (st, b, _) = answered.expect("the search must answer, not hang");
    assert!(
        st == StatusCode::OK || st == StatusCode::UNPROCESSABLE_ENTITY,
        "{st} {}",
        String::from_utf8_lossy(&b)
    );
    assert!(
        !String::from_utf8_lossy(&b).contains(&std::env::temp_dir().display().to_string()),
        "no server path in the answer"
    );
    let after = search_leftovers();
    assert!(
        after.iter().all(|n| before.contains(n)),
        "the upload left {after:?} in the temp directory"
    );
}

/// Security finding 6: an HLS playlist sent as `video/mp4` made ffmpeg read
/// a file of the server's. Containers are told by their signature and
/// ffmpeg may open nothing but the upload itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_and_concat_files_are_not_read_as_video() {
    let f = search_fixture(1_000).await;
    let inv = login(&f, "investigator").await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("server-local.mkv");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=5:duration=3")
        .arg(&local)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg");
    let path = local.display().to_string();
    let hls = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\nfile://{path}\n#EXT-X-ENDLIST\n"
    );
    let concat = format!("ffconcat version 1.0\nfile '{path}'\n");
    for (what, body) in [("hls", hls), ("concat", concat)] {
        let (st, b, _) = send(
            &f,
            search_req(
                Some(&inv),
                multipart(
                    &[("case_ref", "V-3"), ("reason", "playlist")],
                    Some((body.as_bytes(), "video/mp4")),
                ),
            ),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            String::from_utf8_lossy(&b)
        );
        assert!(!String::from_utf8_lossy(&b).contains(&path), "{what}");
    }
}

/// Security finding 8: any signed-in role could make the server read a
/// 200 MiB upload before the Investigator check. The role is checked
/// before a byte of the body is read: here the body never finishes, and
/// the refusal still comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_roles_are_refused_before_the_upload_is_read() {
    let f = fixture().await;
    for who in ["operator", "auditor"] {
        let s = login(&f, who).await;
        let first: Result<axum::body::Bytes, std::io::Error> = Ok(axum::body::Bytes::from(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"x\"\r\nContent-Type: video/mp4\r\n\r\n"),
        ));
        use futures_util::StreamExt;
        // One chunk, then nothing, ever.
        let body = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
        let req = Request::post("/api/v1/rfr/searches")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(header::COOKIE, &s.cookie)
            .header("x-vigil-csrf", &s.csrf)
            .body(Body::from_stream(body))
            .unwrap();
        let answered =
            tokio::time::timeout(std::time::Duration::from_secs(20), send(&f, req)).await;
        let (st, _, _) = answered.expect("refused without waiting for the body");
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }
    let refusals = audit_actions(&f)
        .await
        .into_iter()
        .filter(|(_, a, _)| a == "search.refused")
        .count();
    assert_eq!(refusals, 2, "each refusal audited");
}
