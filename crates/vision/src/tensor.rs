//! Pixels to input tensors, and running a session.
//!
//! One place knows about colour order, layout and normalisation, driven by
//! the pack's [`InputSpec`], so detectors and recognisers cannot disagree on
//! how an image becomes numbers.

use std::sync::Mutex;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use crate::pack::{ColourOrder, InputSpec, Layout};
use crate::VisionError;

/// Appends one image (already the model's input size) to `out` as a
/// normalised tensor slice in the model's colour order and layout.
pub fn push_normalised(image: &RgbImage, spec: &InputSpec, out: &mut Vec<f32>) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let order: [usize; 3] = match spec.colour {
        ColourOrder::Rgb => [0, 1, 2],
        ColourOrder::Bgr => [2, 1, 0],
    };
    let scale = spec.std.map(|s| 1.0 / s);
    let raw = image.as_raw();
    let start = out.len();
    out.resize(start + 3 * w * h, 0.0);
    let dst = &mut out[start..];
    match spec.layout {
        Layout::Nchw => {
            for (c, &src_c) in order.iter().enumerate() {
                let plane = &mut dst[c * w * h..(c + 1) * w * h];
                let (m, s) = (spec.mean[c], scale[c]);
                for (i, v) in plane.iter_mut().enumerate() {
                    *v = (f32::from(raw[i * 3 + src_c]) - m) * s;
                }
            }
        }
        Layout::Nhwc => {
            for i in 0..w * h {
                for (c, &src_c) in order.iter().enumerate() {
                    dst[i * 3 + c] = (f32::from(raw[i * 3 + src_c]) - spec.mean[c]) * scale[c];
                }
            }
        }
    }
}

/// Tensor shape for a batch of `n` images.
pub fn shape(spec: &InputSpec, n: usize) -> [usize; 4] {
    shape_of(spec, n, spec.width, spec.height)
}

/// Tensor shape for a batch of `n` images of `width` x `height` (a model
/// with a free input size).
pub fn shape_of(spec: &InputSpec, n: usize, width: u32, height: u32) -> [usize; 4] {
    let (w, h) = (width as usize, height as usize);
    match spec.layout {
        Layout::Nchw => [n, 3, h, w],
        Layout::Nhwc => [n, h, w, 3],
    }
}

/// Scales an image by `scale` and pastes it at the top-left of a black
/// canvas whose sides are the next multiples of `multiple`. Returns the
/// canvas and the scale from original to canvas pixels.
pub fn scale_and_pad(
    image: &RgbImage,
    scale: f32,
    multiple: u32,
) -> Result<(RgbImage, f32), VisionError> {
    let (w, h) = image.dimensions();
    let nw = ((w as f32 * scale).round() as u32).max(1);
    let nh = ((h as f32 * scale).round() as u32).max(1);
    let up = |v: u32| v.div_ceil(multiple) * multiple;
    let (cw, ch) = (up(nw), up(nh));
    let resized = resize(image, nw, nh)?;
    if (nw, nh) == (cw, ch) {
        return Ok((resized, scale));
    }
    let mut canvas = RgbImage::new(cw, ch);
    image::imageops::replace(&mut canvas, &resized, 0, 0);
    Ok((canvas, scale))
}

/// Resizes keeping the aspect ratio and pastes at the top-left of a
/// `width` x `height` black canvas. Returns the canvas and the scale from
/// original to canvas pixels.
pub fn letterbox(
    image: &RgbImage,
    width: u32,
    height: u32,
) -> Result<(RgbImage, f32), VisionError> {
    let (w, h) = image.dimensions();
    let scale = (width as f32 / w as f32).min(height as f32 / h as f32);
    let nw = ((w as f32 * scale).round() as u32).clamp(1, width);
    let nh = ((h as f32 * scale).round() as u32).clamp(1, height);
    let resized = resize(image, nw, nh)?;
    let mut canvas = RgbImage::new(width, height);
    image::imageops::replace(&mut canvas, &resized, 0, 0);
    Ok((canvas, scale))
}

/// SIMD bilinear resize (fast_image_resize), the hot path for 1080p frames.
pub fn resize(image: &RgbImage, width: u32, height: u32) -> Result<RgbImage, VisionError> {
    if image.dimensions() == (width, height) {
        return Ok(image.clone());
    }
    let src = fast_image_resize::images::ImageRef::new(
        image.width(),
        image.height(),
        image.as_raw(),
        PixelType::U8x3,
    )
    .map_err(|e| VisionError::Runtime(format!("resize: {e}")))?;
    let mut dst = Image::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        )
        .map_err(|e| VisionError::Runtime(format!("resize: {e}")))?;
    RgbImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| VisionError::Runtime("resize produced a wrong-sized buffer".into()))
}

/// One model output: its shape and values, flattened.
pub type Output = (Vec<usize>, Vec<f32>);

/// A session shared between threads. ONNX Runtime sessions are thread-safe
/// for `Run`, but `ort` asks for `&mut` access, so a mutex serialises runs
/// on one session; the live pipeline gives each worker its own engine.
pub struct Model {
    pub session: Mutex<Session>,
    pub input_name: String,
    /// The first input's dimensions; a free (symbolic) one is negative.
    pub input_dims: Vec<i64>,
    pub output_names: Vec<String>,
}

impl Model {
    pub fn new(session: Session) -> Result<Self, VisionError> {
        let input_name = session
            .inputs()
            .first()
            .map(|i| i.name().to_string())
            .ok_or_else(|| VisionError::Runtime("model has no inputs".into()))?;
        let input_dims = session
            .inputs()
            .first()
            .and_then(|i| i.dtype().tensor_shape())
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let output_names = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        Ok(Self {
            session: Mutex::new(session),
            input_name,
            input_dims,
            output_names,
        })
    }

    /// Runs the model on one input tensor and returns every output as a flat
    /// vector with its shape, in the model's output order.
    pub fn run(&self, shape: [usize; 4], data: &[f32]) -> Result<Vec<Output>, VisionError> {
        let err = |e: ort::Error| VisionError::Runtime(format!("inference: {e}"));
        let input = TensorRef::from_array_view((shape, data)).map_err(err)?;
        let mut session = self.session.lock().map_err(|_| {
            VisionError::Runtime("inference session poisoned by an earlier panic".into())
        })?;
        let outputs = session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(err)?;
        let mut result = Vec::with_capacity(self.output_names.len());
        for name in &self.output_names {
            let (shape, data) = outputs[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            let dims = shape.iter().map(|&d| d.max(0) as usize).collect();
            result.push((dims, data.to_vec()));
        }
        Ok(result)
    }
}
