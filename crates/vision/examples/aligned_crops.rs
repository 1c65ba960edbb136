//! Writes the aligned face crops the recogniser sees, as raw RGB bytes, for
//! calibrating a quantised recogniser's activation ranges
//! (`tools/convert/calibrate_ranges.py`; see `models/sface-2021dec-int8.json`).
//!
//! usage: cargo run --release -p vigil-vision --example aligned_crops -- LIST OUT
//!
//! LIST names one image per line; for each, the face nearest the image
//! centre is aligned as SFace aligns it and appended to OUT (112x112x3 bytes
//! per crop), followed by its mirror image, which the engine also embeds.
//! OUT holds face images: keep it with the evaluation sets, never in the
//! repository.

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [list, out] = args.as_slice() else {
        return Err("usage: aligned_crops LIST OUT".into());
    };
    let engine = vigil_testkit::engine_of("yunet-2023mar", Some("sface-2021dec"));
    let recogniser = engine.recogniser().ok_or("no recogniser")?;
    let mut sink = std::io::BufWriter::new(std::fs::File::create(out)?);
    let (mut written, mut skipped) = (0usize, 0usize);
    for path in std::fs::read_to_string(list)?
        .lines()
        .filter(|l| !l.is_empty())
    {
        let image = image::open(path)?.to_rgb8();
        let (cx, cy) = (image.width() as f32 / 2.0, image.height() as f32 / 2.0);
        let dets = engine.detector().detect(&image)?;
        let centre = dets.iter().min_by(|a, b| {
            let d = |d: &vigil_vision::Detection| {
                let [x1, y1, x2, y2] = d.bbox;
                let (x, y) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
                (x - cx).powi(2) + (y - cy).powi(2)
            };
            d(a).total_cmp(&d(b))
        });
        let Some(det) = centre else {
            skipped += 1;
            continue;
        };
        let crop = recogniser.aligned_crop(&image, det)?;
        sink.write_all(crop.as_raw())?;
        sink.write_all(image::imageops::flip_horizontal(&crop).as_raw())?;
        written += 2;
    }
    sink.flush()?;
    eprintln!("{written} crops written, {skipped} images without a face");
    Ok(())
}
