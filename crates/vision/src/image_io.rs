//! Decoding untrusted images.
//!
//! Probe photos come from phones, CCTV exports and custody systems. Any of
//! them can be truncated, mislabelled or hostile (a "decompression bomb"
//! that declares 100k x 100k pixels), so the size is checked from the header
//! before a single pixel is allocated, and every failure is an error value,
//! never a panic.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::VisionError;

/// Limits applied to every decoded image.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest accepted width x height. The default (64 Mpx) admits every
    /// real camera and refuses decompression bombs.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 64_000_000,
        }
    }
}

/// Decodes JPEG, PNG, WebP, BMP or PGM/PPM bytes into RGB, applying the EXIF
/// orientation so that faces are upright as the photographer saw them.
pub fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::Decode("the file is empty".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VisionError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(VisionError::Decode(
            "not a supported image format (JPEG, PNG, WebP, BMP, PGM/PPM)".into(),
        ));
    }
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(VisionError::Decode(
            "truncated JPEG (no end-of-image marker after the image data)".into(),
        ));
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4).max(1 << 20));
    let mut reader = reader;
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| VisionError::Decode(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(VisionError::TooLarge {
            width: w,
            height: h,
            max_pixels: limits.max_pixels,
        });
    }
    if pixels == 0 {
        return Err(VisionError::Decode("the image has no pixels".into()));
    }
    let orientation = decoder.orientation().ok();
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| VisionError::Decode(e.to_string()))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image.into_rgb8())
}

/// JPEG decoders fill a truncated scan with grey and report success; a
/// probe image that is partly invented must not be searched as if it were
/// whole. Entropy-coded data stuffs every 0xFF with 0x00, so an end-of-image
/// marker (FF D9) after the last start-of-scan (FF DA) means the data ended
/// where the encoder ended it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(p) => bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Reads and decodes a file, naming it in any error.
pub fn decode_file(path: &std::path::Path, limits: DecodeLimits) -> Result<RgbImage, VisionError> {
    let bytes = std::fs::read(path).map_err(|e| VisionError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    decode(&bytes, limits)
}

/// The face with a quarter of its size around it, as JPEG bytes in memory:
/// what a reviewer is shown beside the candidate. Whether it is ever
/// stored is the caller's decision.
pub fn face_crop_jpeg(frame: &RgbImage, bbox: [f32; 4]) -> Vec<u8> {
    let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
    let x0 = (bbox[0] - w * 0.25).max(0.0) as u32;
    let y0 = (bbox[1] - h * 0.25).max(0.0) as u32;
    let x1 = ((bbox[2] + w * 0.25) as u32).min(frame.width());
    let y1 = ((bbox[3] + h * 0.25) as u32).min(frame.height());
    let crop = image::imageops::crop_imm(
        frame,
        x0,
        y0,
        x1.saturating_sub(x0).max(1),
        y1.saturating_sub(y0).max(1),
    )
    .to_image();
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(crop)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg);
    out
}

/// The scene frame an Operator may open beside an Alert, downscaled so its
/// longer side is at most `max_side` (a 1080p frame is ~150 kB at 1280),
/// with the alerting face outlined so the Operator finds the person fast.
/// Every other detected face (`others`) is pixelated before the frame
/// leaves memory: the people who raised no Alert are not kept
/// recognisable with it (a face the detector missed is not covered).
pub fn scene_jpeg(frame: &RgbImage, bbox: [f32; 4], others: &[[f32; 4]], max_side: u32) -> Vec<u8> {
    let mut img = frame.clone();
    let (w, h) = (img.width(), img.height());
    for o in others {
        pixelate(&mut img, *o);
    }
    let stroke = (w.max(h) / 400).max(2);
    let x0 = (bbox[0].max(0.0) as u32).min(w.saturating_sub(1));
    let y0 = (bbox[1].max(0.0) as u32).min(h.saturating_sub(1));
    let x1 = (bbox[2].max(0.0) as u32).min(w.saturating_sub(1));
    let y1 = (bbox[3].max(0.0) as u32).min(h.saturating_sub(1));
    let yellow = image::Rgb([255, 200, 0]);
    for t in 0..stroke {
        for x in x0..=x1 {
            for y in [y0.saturating_add(t).min(y1), y1.saturating_sub(t).max(y0)] {
                img.put_pixel(x, y, yellow);
            }
        }
        for y in y0..=y1 {
            for x in [x0.saturating_add(t).min(x1), x1.saturating_sub(t).max(x0)] {
                img.put_pixel(x, y, yellow);
            }
        }
    }
    let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
    let img = if scale < 1.0 {
        image::imageops::resize(
            &img,
            ((w as f32 * scale).round() as u32).max(1),
            ((h as f32 * scale).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let mut out = Vec::new();
    let _ =
        DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg);
    out
}

/// Replaces a box (grown by a fifth) with blocks of its mean colour, six
/// blocks across: no face can be recognised in it.
fn pixelate(img: &mut RgbImage, b: [f32; 4]) {
    let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x0, y0) = (
        clamp(b[0] - bw * 0.2, img.width()),
        clamp(b[1] - bh * 0.2, img.height()),
    );
    let (x1, y1) = (
        clamp(b[2] + bw * 0.2, img.width()),
        clamp(b[3] + bh * 0.2, img.height()),
    );
    let block = ((x1.saturating_sub(x0)).max(y1.saturating_sub(y0)) / 6).max(1);
    let mut by = y0;
    while by < y1 {
        let mut bx = x0;
        while bx < x1 {
            let (ex, ey) = ((bx + block).min(x1), (by + block).min(y1));
            let mut sum = [0u64; 3];
            let n = u64::from((ex - bx) * (ey - by)).max(1);
            for y in by..ey {
                for x in bx..ex {
                    let p = img.get_pixel(x, y);
                    for c in 0..3 {
                        sum[c] += u64::from(p[c]);
                    }
                }
            }
            let mean = image::Rgb(sum.map(|v| (v / n) as u8));
            for y in by..ey {
                for x in bx..ex {
                    img.put_pixel(x, y, mean);
                }
            }
            bx = ex;
        }
        by = (by + block).min(y1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_is_downscaled_and_outlines_the_face() {
        let frame = RgbImage::from_pixel(1920, 1080, image::Rgb([0, 0, 0]));
        let jpeg = scene_jpeg(&frame, [100.0, 100.0, 300.0, 300.0], &[], 1280);
        let img = decode(&jpeg, Default::default()).unwrap();
        assert_eq!((img.width(), img.height()), (1280, 720));
        // The outline's top edge, scaled by 2/3: bright, where the frame is black.
        let p = img.get_pixel(133, 67);
        assert!(p[0] > 150 && p[1] > 100, "{p:?}");
        assert!(img.get_pixel(600, 600)[0] < 30);
        // A box partly outside the frame is clipped, never a panic.
        scene_jpeg(
            &frame,
            [-50.0, 1000.0, 5000.0, 4000.0],
            &[[1900.0, 1070.0, 2500.0, 1500.0]],
            640,
        );
    }

    #[test]
    fn other_faces_in_the_scene_are_pixelated() {
        // A fine checkerboard where a bystander's face is: after, each
        // block is one flat colour, so the detail is gone.
        let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([0, 0, 0]));
        for y in 200..320 {
            for x in 400..520 {
                let v = if (x + y) % 2 == 0 { 255 } else { 0 };
                frame.put_pixel(x, y, image::Rgb([v, v, v]));
            }
        }
        let mut blurred = frame.clone();
        pixelate(&mut blurred, [400.0, 200.0, 520.0, 320.0]);
        let (a, b) = (blurred.get_pixel(430, 230), blurred.get_pixel(431, 230));
        assert_eq!(a, b, "one block, one colour");
        assert!(
            a[0] > 60 && a[0] < 200,
            "the mean of the checkerboard: {a:?}"
        );
        // The alerting face's box is left as it was.
        let jpeg = scene_jpeg(
            &frame,
            [10.0, 10.0, 100.0, 100.0],
            &[[400.0, 200.0, 520.0, 320.0]],
            640,
        );
        let out = decode(&jpeg, Default::default()).unwrap();
        let spread = (430..440)
            .map(|x| out.get_pixel(x, 230)[0])
            .fold((255u8, 0u8), |(lo, hi), v| (lo.min(v), hi.max(v)));
        assert!(spread.1 - spread.0 < 40, "detail survived: {spread:?}");
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_a_png() {
        let img = decode(&png(7, 5), DecodeLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (7, 5));
        assert_eq!(img.get_pixel(3, 3).0, [10, 20, 30]);
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(matches!(
            decode(&[], DecodeLimits::default()),
            Err(VisionError::Decode(_))
        ));
    }

    #[test]
    fn text_is_not_an_image() {
        let err = decode(b"hello, this is not a picture", DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, VisionError::Decode(_)), "{err}");
    }

    #[test]
    fn truncated_png_is_an_error() {
        let bytes = png(64, 64);
        let err = decode(&bytes[..bytes.len() / 2], DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, VisionError::Decode(_)), "{err}");
    }

    #[test]
    fn truncated_jpeg_is_an_error() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 3, y as u8 * 3, 7]));
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        assert!(decode(&jpeg, DecodeLimits::default()).is_ok());
        let err = decode(&jpeg[..jpeg.len() * 2 / 3], DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().contains("truncated JPEG"), "{err}");
    }

    #[test]
    fn oversized_image_is_refused_before_decoding() {
        let err = decode(&png(300, 200), DecodeLimits { max_pixels: 10_000 }).unwrap_err();
        assert!(
            matches!(
                err,
                VisionError::TooLarge {
                    width: 300,
                    height: 200,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn header_claiming_huge_dimensions_is_refused() {
        // A PGM header that declares 100000 x 100000 pixels with almost no data.
        let bomb = b"P5\n100000 100000\n255\n\x00\x00\x00".to_vec();
        let err = decode(&bomb, DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, VisionError::TooLarge { .. }), "{err}");
    }
}
