//! `vigil detect`: faces, landmarks and quality of images, as JSON, with an
//! optional annotated copy.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::{Rgb, RgbImage};
use serde_json::json;
use vigil_vision::Face;

use crate::context::{engine, exit, face_json, load_image, print_line};
use crate::Global;

#[derive(Args)]
pub struct DetectArgs {
    /// Images to search for faces.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Draw boxes and landmarks of the (single) image into this PNG.
    #[arg(long)]
    draw: Option<PathBuf>,
}

pub fn detect(g: &Global, a: &DetectArgs) -> Result<ExitCode> {
    if a.draw.is_some() && a.images.len() != 1 {
        bail!("--draw takes exactly one image");
    }
    let engine = engine(g, false)?;
    let mut failures = 0;
    for path in &a.images {
        let result = load_image(g, path).and_then(|img| {
            let faces = engine.analyse(&img)?;
            if let Some(out) = &a.draw {
                draw(&img, &faces)
                    .save(out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            Ok((img.dimensions(), faces))
        });
        match result {
            Ok(((w, h), faces)) => print_line(&json!({
                "file": path,
                "width": w,
                "height": h,
                "detector": engine.detector().id(),
                "faces": faces.iter().map(|f| face_json(f, false)).collect::<Vec<_>>(),
            }))?,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
                print_line(&json!({"file": path, "error": format!("{e:#}")}))?;
            }
        }
    }
    Ok(exit(failures))
}

/// Draws boxes (green usable, amber not) and landmarks.
fn draw(img: &RgbImage, faces: &[Face]) -> RgbImage {
    use imageproc::drawing::{draw_filled_circle_mut, draw_hollow_rect_mut};
    use imageproc::rect::Rect;
    let mut out = img.clone();
    let thick = (img.width().max(img.height()) / 400).max(1) as i32;
    for f in faces {
        let [x1, y1, x2, y2] = f.detection.bbox;
        let colour = if f.verdict.passed {
            Rgb([0, 220, 0])
        } else {
            Rgb([255, 176, 0])
        };
        for t in 0..thick {
            let w = (x2 - x1) as u32 + 2 * t as u32;
            let h = (y2 - y1) as u32 + 2 * t as u32;
            if w > 0 && h > 0 {
                draw_hollow_rect_mut(
                    &mut out,
                    Rect::at(x1 as i32 - t, y1 as i32 - t).of_size(w, h),
                    colour,
                );
            }
        }
        for (i, p) in f.detection.landmarks.iter().enumerate() {
            let c = [
                Rgb([255, 0, 0]),
                Rgb([0, 0, 255]),
                Rgb([255, 255, 0]),
                Rgb([255, 0, 255]),
                Rgb([0, 255, 255]),
            ][i];
            draw_filled_circle_mut(&mut out, (p[0] as i32, p[1] as i32), thick + 1, c);
        }
    }
    out
}
