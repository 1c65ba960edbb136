//! The Deployment's Watchlist as a camera matches against it: each entry
//! enrolled once (the mean template of its images), its Candidate Image,
//! and the entries that could not be enrolled, with why.

use std::collections::HashMap;
use std::sync::Arc;

use vigil_gallery::Gallery;
use vigil_vision::{image_io, FaceEngine};

use crate::link::DeploymentLink;
use crate::LiveError;

/// The Deployment's Watchlist, enrolled for matching.
pub struct Watchlist {
    pub gallery: Gallery,
    /// The face of each entry's first usable image, cropped as the Probe is,
    /// shown as the Candidate Image (a face beside a face, not a portrait).
    pub candidate_images: HashMap<String, Vec<u8>>,
    /// Entries that failed to enrol, with the reason (shown to the
    /// compiler and the Operator: no entry is silently unmatched).
    pub not_enrolled: Vec<NotEnrolled>,
    /// Each enrolled entry's template, so a reload after a change enrols
    /// only the entries that are new (and reads only their images).
    templates: HashMap<String, vigil_core::Template>,
}

impl Watchlist {
    /// Reads the Watchlist images from the store (audited) and enrols each
    /// entry once: the best face of its image, or, with several images, the
    /// normalised mean of their templates. On lfw-dev the mean of two
    /// images missed 24 % of people where the best of the two missed 33 %
    /// (N = 800, FPIR 1e-3; docs/accuracy.md), and it keeps one comparison
    /// per entry, which is what the calibration's Watchlist size counts.
    pub fn load(link: &DeploymentLink, engine: &FaceEngine) -> Result<Self, LiveError> {
        Self::load_reusing(link, engine, None)
    }

    /// The entry ids this Watchlist was built from.
    pub fn entry_ids(&self) -> std::collections::BTreeSet<String> {
        self.templates
            .keys()
            .chain(self.not_enrolled.iter().map(|n| &n.entry))
            .cloned()
            .collect()
    }

    /// Like [`Watchlist::load`], but entries already enrolled in
    /// `previous` keep their template and Candidate Image: only added
    /// entries are read and analysed, and removed ones drop out.
    pub fn load_reusing(
        link: &DeploymentLink,
        engine: &FaceEngine,
        previous: Option<&Watchlist>,
    ) -> Result<Self, LiveError> {
        let entries = link.block_on(link.store.watchlist(&link.deployment_id))?;
        let mut gallery = Gallery::new();
        let mut candidate_images = HashMap::new();
        let mut not_enrolled = Vec::new();
        let mut kept = HashMap::new();
        for e in entries {
            let reused = previous.and_then(|p| {
                Some((
                    p.templates.get(&e.id)?.clone(),
                    p.candidate_images.get(&e.id)?.clone(),
                ))
            });
            if let Some(n) = previous
                .filter(|_| reused.is_none())
                .and_then(|p| p.not_enrolled.iter().find(|n| n.entry == e.id))
            {
                not_enrolled.push(n.clone());
                continue;
            }
            let enrolled = match reused {
                Some(r) => Ok(r),
                None => {
                    let images =
                        link.block_on(link.store.watchlist_images("live-pipeline", &e.id))?;
                    enrol_entry(engine, &images, e.quality_override.is_some())?
                }
            };
            match enrolled {
                Ok((t, image)) => {
                    gallery
                        .enrol(&e.id, "watchlist", &t)
                        .map_err(|x| LiveError::Watchlist(x.to_string()))?;
                    candidate_images.insert(e.id.clone(), image);
                    kept.insert(e.id.clone(), t);
                }
                Err(reason) => not_enrolled.push(NotEnrolled {
                    entry: e.id.clone(),
                    subject: e.subject_ref.clone(),
                    reason,
                }),
            }
        }
        Ok(Self {
            gallery,
            candidate_images,
            not_enrolled,
            templates: kept,
        })
    }
}

/// A Watchlist entry the matcher does not hold, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotEnrolled {
    pub entry: String,
    pub subject: String,
    pub reason: String,
}

/// One entry's template (the normalised mean over its images) and its
/// Candidate Image, or why it cannot be enrolled. Each image gives its best
/// face that passes the quality gate; with the compiler's override, its
/// largest face whatever the gate says.
fn enrol_entry(
    engine: &FaceEngine,
    images: &[Vec<u8>],
    overridden: bool,
) -> Result<Result<(vigil_core::Template, Vec<u8>), String>, LiveError> {
    let mut templates = Vec::new();
    let mut crop = None;
    let mut why = "no image could be read".to_string();
    for bytes in images {
        let img = match image_io::decode(bytes, Default::default()) {
            Ok(i) => i,
            Err(e) => {
                why = format!("unreadable image: {e}");
                continue;
            }
        };
        let faces = engine.analyse(&img)?;
        let face = if overridden {
            faces.iter().max_by(|a, b| {
                a.quality
                    .inter_eye_distance
                    .total_cmp(&b.quality.inter_eye_distance)
            })
        } else {
            FaceEngine::best_face(&faces)
        };
        match face {
            Some(f) => {
                if let Some(t) = f.template.as_ref() {
                    templates.push(t.clone());
                    crop.get_or_insert_with(|| image_io::face_crop_jpeg(&img, f.detection.bbox));
                } else {
                    why = "no recogniser loaded".into();
                }
            }
            None if faces.is_empty() => why = "no face found".into(),
            None => {
                why = format!(
                    "no face passes the quality gate ({})",
                    faces[0].verdict.reasons.join("; ")
                )
            }
        }
    }
    Ok(match (vigil_core::Template::mean(&templates), crop) {
        (Ok(t), Some(c)) => Ok((t, c)),
        _ => Err(why),
    })
}

/// The Watchlist a running camera matches against, replaced whole when
/// the Watchlist changes (a frame in progress finishes on the old one).
pub type SharedWatchlist = Arc<std::sync::RwLock<Arc<Watchlist>>>;
