//! The `vigil` binary end to end, on real sample photos from the model
//! cache (`scripts/setup.sh` fills it) and on deliberately bad input.

use std::path::{Path, PathBuf};

mod common;

use common::{json_lines, samples, vigil};

#[test]
fn models_list_shows_every_verified_pack_with_provenance() {
    let out = vigil()
        .args(["models", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let packs = json_lines(&out);
    let ids: Vec<&str> = packs.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "dlib-resnet-v1",
            "scrfd-2.5g-kps",
            "sface-2021dec",
            "sface-2021dec-int8",
            "yunet-2023mar"
        ]
    );
    for p in &packs {
        assert_eq!(p["sha256_verified"], true, "{p}");
        assert_eq!(p["provenance"]["registry"], "pypi");
        assert!(!p["licence"].as_str().unwrap().is_empty());
    }
}

#[test]
fn detect_reports_faces_and_draws_them() {
    let dir = tempfile::tempdir().unwrap();
    let drawn = dir.path().join("out.png");
    let out = vigil()
        .arg("detect")
        .arg(samples().join("obama_1.jpg"))
        .arg("--draw")
        .arg(&drawn)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = &json_lines(&out)[0];
    let faces = v["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 5);
    assert!(faces[0]["quality"]["inter_eye_distance"].as_f64().unwrap() > 50.0);
    assert_eq!(faces[0]["usable"], true);
    let img = image::open(&drawn).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (
            v["width"].as_u64().unwrap() as u32,
            v["height"].as_u64().unwrap() as u32
        )
    );
}

#[test]
fn compare_scores_same_person_above_different_person() {
    let s = samples();
    let score = |a: &str, b: &str| {
        let out = vigil()
            .arg("compare")
            .arg(s.join(a))
            .arg(s.join(b))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        json_lines(&out)[0]["score"].as_f64().unwrap()
    };
    let same = score("obama_1.jpg", "obama_3.jpg");
    let different = score("obama_1.jpg", "biden_1.jpg");
    assert!(same > different + 0.2, "same {same} different {different}");
}

#[test]
fn embed_gives_unit_templates_tagged_with_the_pack() {
    let out = vigil()
        .arg("embed")
        .arg(samples().join("ardern_1.jpg"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = &json_lines(&out)[0];
    let face = &v["faces"][0];
    assert_eq!(face["pack"], "sface-2021dec");
    let t: Vec<f64> = face["template"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(t.len(), 128);
    let norm: f64 = t.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3);
}

#[test]
fn enrol_then_search_ranks_the_right_subject_first() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("gallery.json");
    let s = samples();
    for (name, files) in [
        ("subject-obama", vec!["obama_1.jpg", "obama_2.jpg"]),
        ("subject-biden", vec!["biden_1.jpg"]),
        ("subject-ardern", vec!["ardern_1.jpg"]),
        ("subject-sunak", vec!["sunak_1.jpg"]),
    ] {
        let mut c = vigil();
        c.arg("enrol").arg("--gallery").arg(&g).arg(name);
        for f in files {
            c.arg(s.join(f));
        }
        c.assert().success();
    }
    for (probe, expected) in [
        ("obama_3.jpg", "subject-obama"),
        ("obama_4.jpg", "subject-obama"),
        ("ardern_2.jpg", "subject-ardern"),
    ] {
        let out = vigil()
            .arg("search")
            .arg("--gallery")
            .arg(&g)
            .arg(s.join(probe))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v = &json_lines(&out)[0];
        let c = &v["faces"][0]["candidates"];
        assert_eq!(c[0]["subject"], expected, "{probe}: {v}");
        assert_eq!(c[0]["rank"], 1);
        assert_eq!(c.as_array().unwrap().len(), 4);
    }
}

#[test]
fn enrolling_a_face_below_the_policy_ied_fails_and_keeps_the_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("gallery.json");
    let s = samples();
    vigil()
        .arg("enrol")
        .arg("--gallery")
        .arg(&g)
        .arg("a")
        .arg(s.join("ardern_1.jpg"))
        .assert()
        .success();
    let before = std::fs::read(&g).unwrap();
    // macron_1.jpg's face has an inter-eye distance of about 34 px.
    let out = vigil()
        .arg("enrol")
        .arg("--gallery")
        .arg(&g)
        .arg("m")
        .arg(s.join("macron_1.jpg"))
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("inter-eye distance"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(std::fs::read(&g).unwrap(), before);
}

fn bad_inputs(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let s = samples();
    let good = std::fs::read(s.join("obama_1.jpg")).unwrap();
    let corrupt = dir.join("corrupt.jpg");
    std::fs::write(&corrupt, &good[..good.len() / 3]).unwrap();
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.png");
    std::fs::write(&text, b"this is a text file, not a picture").unwrap();
    let huge = dir.join("huge.pgm");
    std::fs::write(&huge, b"P5\n60000 60000\n255\n\x00\x00").unwrap();
    let missing = dir.join("does-not-exist.jpg");
    vec![
        (corrupt, "decode"),
        (empty, "empty"),
        (text, "not a supported image format"),
        (huge, "over the limit"),
        (missing, "cannot read"),
    ]
}

#[test]
fn bad_images_give_clear_errors_not_panics_and_good_ones_still_work() {
    let dir = tempfile::tempdir().unwrap();
    for (path, expected) in bad_inputs(dir.path()) {
        let out = vigil()
            .arg("detect")
            .arg(&path)
            .arg(samples().join("biden_1.jpg"))
            .assert()
            .code(1)
            .get_output()
            .clone();
        let lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), 2);
        let err = lines[0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(err.contains(expected), "{}: {err}", path.display());
        assert_eq!(
            lines[1]["faces"].as_array().unwrap().len(),
            1,
            "the good image after a bad one"
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn a_faceless_image_is_an_error_for_embed_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let wall = dir.path().join("wall.png");
    image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 90])
    })
    .save(&wall)
    .unwrap();
    vigil().arg("embed").arg(&wall).assert().code(1);
    let out = vigil()
        .arg("compare")
        .arg(&wall)
        .arg(samples().join("obama_1.jpg"))
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("no face found"));
}

#[test]
fn search_against_a_missing_gallery_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    vigil()
        .arg("search")
        .arg("--gallery")
        .arg(dir.path().join("nope.json"))
        .arg(samples().join("obama_1.jpg"))
        .assert()
        .failure();
}

/// `vigil enrol --bulk`: a custody store laid out as DIR/<subject>/, with
/// the failures a real one has; a second run resumes and enrols nothing
/// twice.
#[test]
fn bulk_enrolment_summarises_failures_and_resumes() {
    let src = samples();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("custody");
    let data = dir.path().join("data");
    let put = |subject: &str, name: &str, bytes: &[u8]| {
        std::fs::create_dir_all(store.join(subject)).unwrap();
        std::fs::write(store.join(subject).join(name), bytes).unwrap();
    };
    let read = |n: &str| std::fs::read(src.join(n)).unwrap();
    put("C-OBAMA", "obama_1.jpg", &read("obama_1.jpg"));
    put("C-OBAMA", "obama_2.jpg", &read("obama_2.jpg"));
    put("C-ARDERN", "ardern_1.jpg", &read("ardern_1.jpg"));
    put("C-GROUP", "solvay.jpg", &read("solvay_1927.jpg"));
    put(
        "C-BROKEN",
        "broken.jpg",
        b"\xff\xd8\xff\xe0 not really a jpeg",
    );
    let blank = {
        let img = image::RgbImage::from_pixel(200, 200, image::Rgb([128, 128, 128]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    put("C-BLANK", "wall.png", &blank);
    let run = || {
        let out = vigil()
            .arg("--data-dir")
            .arg(&data)
            .args(["enrol", "--bulk"])
            .arg(&store)
            .assert()
            .code(1) // the unreadable file
            .get_output()
            .clone();
        assert!(String::from_utf8_lossy(&out.stderr).contains("broken.jpg"));
        json_lines(&out.stdout).remove(0)
    };
    let first = run();
    let o = &first["outcomes"];
    assert_eq!(o["enrolled"], 3, "{first}");
    assert_eq!(o["failed_to_acquire"], 1, "{first}");
    assert_eq!(o["quality_rejects"], 1, "{first}");
    assert_eq!(o["unreadable"], 1, "{first}");
    assert!(first["quality_reject_reasons"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.contains("faces")));
    assert_eq!(first["reference_templates"], 3);
    let second = run();
    assert_eq!(second["outcomes"]["already_enrolled"], 3, "{second}");
    assert!(second["outcomes"]["enrolled"].is_null(), "{second}");
    assert_eq!(second["reference_templates"], 3);
}
