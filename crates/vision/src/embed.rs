//! Face recognition: aligned crops in, templates out.

use image::RgbImage;
use vigil_core::Template;

use crate::align;
use crate::detect::Detection;
use crate::pack::{Manifest, Pack, PackKind};
use crate::runtime::{self, ActiveProvider, RuntimeOptions};
use crate::tensor::{self, Model};
use crate::VisionError;

pub struct Recogniser {
    manifest: Manifest,
    template: [[f32; 2]; 5],
    dimension: usize,
    model: Model,
    provider: ActiveProvider,
    flip_average: bool,
}

impl Recogniser {
    pub fn load(pack: &Pack, opts: &RuntimeOptions) -> Result<Self, VisionError> {
        let m = &pack.manifest;
        let invalid = |reason: &str| VisionError::PackInvalid {
            path: pack.dir.clone(),
            reason: format!("{}: {reason}", m.id),
        };
        if m.kind != PackKind::Recogniser {
            return Err(invalid("not a recogniser pack"));
        }
        let template = m
            .alignment_template
            .ok_or_else(|| invalid("no alignment template"))?;
        let dimension = m
            .dimension
            .ok_or_else(|| invalid("no template dimension"))?;
        let bytes = pack.verified_model_bytes()?;
        let (session, provider) = runtime::session(opts, &bytes, &m.id)?;
        Ok(Self {
            manifest: m.clone(),
            template,
            dimension,
            model: Model::new(session)?,
            provider,
            flip_average: true,
        })
    }

    /// Whether [`Recogniser::embed`] averages each face with its mirror
    /// image (on by default: measured on lfw-dev, docs/accuracy.md; the
    /// shipped calibrations are of such templates).
    pub fn with_flip_average(mut self, on: bool) -> Self {
        self.flip_average = on;
        self
    }

    pub fn flip_average(&self) -> bool {
        self.flip_average
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// Length of the templates this recogniser makes.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn provider(&self) -> ActiveProvider {
        self.provider
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The aligned crop the model sees for a face.
    pub fn aligned_crop(&self, image: &RgbImage, det: &Detection) -> Result<RgbImage, VisionError> {
        let spec = &self.manifest.input;
        align::align(
            image,
            &det.landmarks,
            &self.template,
            spec.width,
            spec.height,
        )
    }

    /// Embeds aligned crops. Runs them as one batch where the model allows
    /// it, one by one otherwise.
    pub fn embed_crops(&self, crops: &[RgbImage]) -> Result<Vec<Template>, VisionError> {
        let spec = &self.manifest.input;
        let batch = if spec.dynamic_batch {
            crops.len().max(1)
        } else {
            1
        };
        let mut templates = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(batch) {
            let mut data =
                Vec::with_capacity(chunk.len() * 3 * (spec.width * spec.height) as usize);
            for crop in chunk {
                tensor::push_normalised(crop, spec, &mut data);
            }
            let outs = self.model.run(tensor::shape(spec, chunk.len()), &data)?;
            let (_, flat) = outs
                .first()
                .ok_or_else(|| VisionError::Runtime("recogniser returned nothing".into()))?;
            if flat.len() != chunk.len() * self.dimension {
                return Err(VisionError::Runtime(format!(
                    "recogniser returned {} values for {} faces of dimension {}",
                    flat.len(),
                    chunk.len(),
                    self.dimension
                )));
            }
            for row in flat.chunks_exact(self.dimension) {
                templates.push(Template::from_raw(&self.manifest.id, row)?);
            }
        }
        Ok(templates)
    }

    /// Embeds each crop and its mirror image in one batch: per face, the
    /// plain template and the flip-averaged one (their mean).
    pub fn embed_with_mirror(
        &self,
        crops: &[RgbImage],
    ) -> Result<Vec<(Template, Template)>, VisionError> {
        let mut both = Vec::with_capacity(crops.len() * 2);
        for c in crops {
            both.push(c.clone());
            both.push(image::imageops::flip_horizontal(c));
        }
        let t = self.embed_crops(&both)?;
        t.chunks_exact(2)
            .map(|p| Ok((p[0].clone(), Template::mean(p)?)))
            .collect()
    }

    /// Embeds aligned crops as the product does: each averaged with its
    /// mirror image when flip averaging is on (the two run in one batch).
    pub fn embed_faces(&self, crops: &[RgbImage]) -> Result<Vec<Template>, VisionError> {
        if !self.flip_average {
            return self.embed_crops(crops);
        }
        Ok(self
            .embed_with_mirror(crops)?
            .into_iter()
            .map(|(_, flip)| flip)
            .collect())
    }

    /// Aligns and embeds every detection of one image.
    pub fn embed(
        &self,
        image: &RgbImage,
        dets: &[Detection],
    ) -> Result<Vec<Template>, VisionError> {
        let crops = dets
            .iter()
            .map(|d| self.aligned_crop(image, d))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_faces(&crops)
    }
}
