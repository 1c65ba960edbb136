//! `vigil eval` and `vigil threshold`: what the engine's scores mean in
//! error rates on labelled faces, and the Threshold for a target False
//! Alert Rate.
//!
//! The work is split so that it scales to tens of thousands of images on two
//! cores: faces are analysed in parallel (one single-threaded engine per
//! core) and their templates cached in the report folder; pairs are scored
//! by `vigil_eval::pairs` without materialising an index; identification
//! rates are exact (`vigil_eval::ident`), not drawn from random galleries.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use vigil_eval::calibration::{Calibration, Method};
use vigil_eval::fairness::{self, FairnessRow, FairnessSummary, GroupScores};
use vigil_eval::ident::{self, Combine, Templates};
use vigil_eval::pairs::{self, Labels, PairOptions};
use vigil_eval::Scores;

use crate::context;
use crate::Global;

/// Which face of an image is the labelled person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum FaceChoice {
    /// The face nearest the image centre (how LFW is labelled).
    Centre,
    /// The largest face (by inter-eye distance).
    Largest,
}

/// Which template of a face to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum TemplateKind {
    /// The face's embedding alone.
    Plain,
    /// The mean of the embeddings of the face and its mirror image.
    Flip,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Labelled faces: DIR/<identity>/<image>. Without it, --sample-set.
    dir: Option<PathBuf>,
    /// Use the labelled sample photos from the cache, plus every face of
    /// the Solvay 1927 group photo as a distinct identity.
    #[arg(long)]
    sample_set: bool,
    /// A folder of images of people who each appear once (UTKFace): every
    /// file is its own identity and adds non-mated pairs only.
    #[arg(long)]
    non_mated_dir: Option<PathBuf>,
    /// CSV of labels for per-group rates (fairness reports only; the system
    /// never stores such labels for Watchlist subjects). First column: the
    /// identity (folder name) or, for --non-mated-dir, the file name; the
    /// group is the --group-columns joined. Repeat for several sets: each
    /// CSV is its own scheme with its own overall rate.
    #[arg(long)]
    groups: Vec<PathBuf>,
    /// Columns of the groups CSV that make a group (those present).
    #[arg(long, value_delimiter = ',', default_values_t = ["gender".to_string(), "race".to_string(), "group".to_string()])]
    group_columns: Vec<String>,
    /// Which face of a photo is the labelled one.
    #[arg(long, value_enum, default_value_t = FaceChoice::Centre)]
    face: FaceChoice,
    /// How large the detector sees each photo: `letterbox` (the detector's
    /// own 640x640 input, what searches and enrolment use by default), a
    /// long side in pixels (scaled down, never up), or `native`.
    #[arg(long, default_value = "letterbox", value_parser = vigil_vision::DetectionSize::parse)]
    detect_size: vigil_vision::DetectionSize,
    /// Template to report and calibrate (the engine embeds flip-averaged).
    #[arg(long, value_enum, default_value_t = TemplateKind::Flip)]
    template: TemplateKind,
    /// Use only the first N identities of DIR (sorted by name), for a fixed,
    /// quick sample.
    #[arg(long)]
    limit_identities: Option<usize>,
    /// Use only the first N files of --non-mated-dir (sorted by name).
    #[arg(long)]
    limit_non_mated: Option<usize>,
    /// A file listing image file names (one per line) to leave out, e.g.
    /// the young children of UTKFace, whom no face recogniser tells apart
    /// and no Watchlist should hold (docs/accuracy.md).
    #[arg(long)]
    exclude: Option<PathBuf>,
    /// Parallel analysers (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Report folder.
    #[arg(long, default_value = "eval-report")]
    out: PathBuf,
    /// Where templates are kept between runs, per image (default:
    /// OUT/templates.json). Holds biometric templates of the evaluation
    /// sets: keep it with them, never in the repository.
    #[arg(long)]
    template_cache: Option<PathBuf>,
    /// Operating Thresholds to report rates at (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [0.3, 0.35, 0.4, 0.45, 0.5])]
    thresholds: Vec<f64>,
    /// Gallery sizes for identification (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 10, 100, 1000])]
    gallery_sizes: Vec<usize>,
    /// Most non-mated pairs to keep (each kept with equal probability when
    /// there are more).
    #[arg(long, default_value_t = 40_000_000)]
    max_non_mated: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also fit the calibration on half of the identities and measure, on
    /// the other half, the FPIR and FNIR its Thresholds give.
    #[arg(long)]
    validate: bool,
    /// Also compare plain and flip-averaged templates and several reference
    /// images per subject.
    #[arg(long)]
    compare: bool,
    /// Score fusion, for measurement: a template cache written by `vigil eval`
    /// with another recogniser on the same images (same detector and face
    /// choice). Each pair then scores the sum of both packs' scores, each
    /// divided by its packs' non-mated standard deviation.
    #[arg(long)]
    fuse_with: Option<PathBuf>,
    /// Text put before the calibration's `source` (how it was made).
    #[arg(long)]
    provenance: Option<String>,
    /// Also install the calibration for the recogniser pack (used by
    /// `vigil threshold`, the Watchlist page and the Deployment form) in
    /// place of the shipped one.
    #[arg(long)]
    install: bool,
}

#[derive(Args)]
pub struct ThresholdArgs {
    /// Target False Alert Rate per passer-by (the policy's ceiling: 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    far: f64,
    /// Number of images on the Watchlist.
    #[arg(long)]
    watchlist_size: usize,
    /// Calibration file (default: the recogniser pack's installed one).
    #[arg(long)]
    calibration: Option<PathBuf>,
}

/// Calibrations shipped with the project, computed by `vigil eval` on
/// lfw-dev and UTKFace (see each file's `source`).
pub fn shipped_calibration(pack: &str) -> Option<&'static str> {
    match pack {
        "sface-2021dec" => Some(include_str!(
            "../../../models/calibration/sface-2021dec.json"
        )),
        "sface-2021dec-int8" => Some(include_str!(
            "../../../models/calibration/sface-2021dec-int8.json"
        )),
        "dlib-resnet-v1" => Some(include_str!(
            "../../../models/calibration/dlib-resnet-v1.json"
        )),
        _ => None,
    }
}

/// Where a pack's installed calibration lives.
pub fn calibration_path(g: &Global, pack: &str) -> PathBuf {
    context::cache(g).calibration(pack)
}

/// The recogniser's calibration: the one installed in the cache (`vigil
/// models fetch` puts the shipped one there; `vigil eval --install` a
/// force's own), else the shipped one.
pub fn installed_calibration(g: &Global) -> Option<Calibration> {
    Calibration::load(&calibration_path(g, &g.recogniser))
        .ok()
        .or_else(|| shipped_calibration(&g.recogniser).and_then(|t| Calibration::parse(t).ok()))
}

pub fn threshold(g: &Global, a: &ThresholdArgs) -> Result<ExitCode> {
    let c = match &a.calibration {
        Some(p) => Calibration::load(p)?,
        None => installed_calibration(g).with_context(|| {
            format!(
                "no calibration for {}: run `vigil eval` on your own labelled set with --install",
                g.recogniser
            )
        })?,
    };
    let advice = c.threshold_for(a.far, a.watchlist_size)?;
    let mut note = match advice.method {
        Method::Measured => "measured on the labelled sets".to_string(),
        Method::Modelled => "from the generalised Pareto tail fitted to the labelled sets' non-mated scores, inside the range they resolve".to_string(),
        Method::Extrapolated => "beyond what the labelled sets can measure: extrapolated from the generalised Pareto tail fitted to their non-mated scores; confirm in the field with a Blue Watchlist".to_string(),
    };
    if let Some(f) = &advice.fairness {
        let _ = write!(
            note,
            "; worst demographic group on the calibration set: {} at {:.1}x the overall false match rate ({}), an expected false alert rate of {:.1e} for that group; {}",
            f.worst_group,
            f.ratio,
            if f.measured { "measured" } else { "the ratio measured at lower Thresholds, so at least this" },
            f.false_alert_rate,
            match f.within_2x_range {
                Some((lo, hi)) if f.within_2x => format!("inside the range {lo:.3}–{hi:.3} where every group stays within 2x"),
                Some((lo, hi)) => format!("outside the range {lo:.3}–{hi:.3} where every group stays within 2x"),
                None => "no measured Threshold keeps every group within 2x".into(),
            }
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "pack": c.pack,
            "calibrated_on": c.source,
            "advice": advice,
            "expected_true_recognition_rate": advice.expected_true_match_rate,
            "note": note,
        }))?
    );
    Ok(ExitCode::SUCCESS)
}

/// One image to analyse.
#[derive(Clone)]
struct Item {
    identity: String,
    path: PathBuf,
    /// Key into the groups CSVs.
    key: String,
    /// Every face is a different person (a group photo).
    all_faces: bool,
}

pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

fn labelled_dir(dir: &Path, limit: Option<usize>) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let ids: Vec<_> = sorted_entries(dir)?
        .into_iter()
        .filter(|e| e.path().is_dir())
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    for id in ids {
        let name = id.file_name().to_string_lossy().into_owned();
        for f in sorted_entries(&id.path())? {
            if f.path().is_file() {
                items.push(Item {
                    identity: name.clone(),
                    path: f.path(),
                    key: name.clone(),
                    all_faces: false,
                });
            }
        }
    }
    if items.is_empty() {
        bail!("{}: expected DIR/<identity>/<image>", dir.display());
    }
    Ok(items)
}

fn flat_dir(dir: &Path, limit: Option<usize>) -> Result<Vec<Item>> {
    let items: Vec<Item> = sorted_entries(dir)?
        .into_iter()
        .filter(|e| e.path().is_file())
        .take(limit.unwrap_or(usize::MAX))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Item {
                identity: format!("single:{name}"),
                path: e.path(),
                key: name,
                all_faces: false,
            }
        })
        .collect();
    if items.is_empty() {
        bail!("{}: no files", dir.display());
    }
    Ok(items)
}

/// key → group, per CSV.
fn read_groups(path: &Path, columns: &[String]) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty groups CSV")?
        .split(',')
        .map(str::trim)
        .collect();
    let picked: Vec<usize> = columns
        .iter()
        .filter_map(|c| header.iter().position(|h| h == c))
        .collect();
    if picked.is_empty() {
        bail!(
            "{}: none of the columns {} in the header",
            path.display(),
            columns.join(",")
        );
    }
    let mut out = BTreeMap::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() < header.len() || cells[0].is_empty() {
            if line.trim().is_empty() {
                continue;
            }
            bail!(
                "{}:{}: expected {} columns",
                path.display(),
                n + 2,
                header.len()
            );
        }
        let group: Vec<&str> = picked.iter().map(|&i| cells[i]).collect();
        out.insert(cells[0].to_string(), group.join(" "));
    }
    Ok(out)
}

/// Templates of one image's chosen face.
#[derive(Serialize, Deserialize, Clone)]
struct Acquired {
    /// Index into the item list.
    item: usize,
    /// For group photos, which face.
    face: usize,
    plain: Vec<f32>,
    flip: Vec<f32>,
    gate_passed: bool,
}

/// What the analysis of the items gave.
struct TemplateCache {
    dim: usize,
    faces: Vec<Acquired>,
    failures: Vec<(usize, String)>,
}

/// One face of a stored image: index, plain and flip templates, gate passed.
pub(crate) type StoredFace = (usize, Vec<f32>, Vec<f32>, bool);

/// Templates kept between runs, per image path, for one engine setting.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct StoredTemplates {
    key: String,
    /// path → faces (face index, plain, flip, gate passed) or a failure.
    pub(crate) images: BTreeMap<String, Result<Vec<StoredFace>, String>>,
}

impl StoredTemplates {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        serde_json::from_str(
            &std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?,
        )
        .with_context(|| {
            format!(
                "{}: not a template cache written by `vigil eval`",
                path.display()
            )
        })
    }
}

impl Item {
    /// The item's key in a template cache.
    fn cache_key(&self) -> String {
        format!("{}|{}", self.path.display(), self.all_faces)
    }
}

/// A path's last component, for the record (never the whole path).
fn file_name(p: &Path) -> String {
    p.file_name().map_or(p.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    })
}

fn cache_key(g: &Global, a: &EvalArgs) -> String {
    let key = format!(
        "v1|{}|{}|{:?}|{}",
        g.recogniser, g.detector, a.face, g.min_ied
    );
    // Caches made before the size was an option stay valid for letterbox.
    match a.detect_size {
        vigil_vision::DetectionSize::Letterbox => key,
        s => format!("{key}|detect {s}"),
    }
}

fn centre_distance(d: &vigil_vision::Detection, w: u32, h: u32) -> f32 {
    let cx = (d.bbox[0] + d.bbox[2]) / 2.0 - w as f32 / 2.0;
    let cy = (d.bbox[1] + d.bbox[3]) / 2.0 - h as f32 / 2.0;
    cx * cx + cy * cy
}

/// Analyses every item in parallel: one engine with one inference thread
/// per job.
fn acquire(g: &Global, a: &EvalArgs, items: &[Item]) -> Result<TemplateCache> {
    let key = cache_key(g, a);
    let cache_file = a
        .template_cache
        .clone()
        .unwrap_or_else(|| a.out.join("templates.json"));
    let mut stored: StoredTemplates = StoredTemplates::load(&cache_file)
        .ok()
        .filter(|s| s.key == key)
        .unwrap_or_else(|| StoredTemplates {
            key: key.clone(),
            ..Default::default()
        });
    let todo: Vec<usize> = (0..items.len())
        .filter(|&i| !stored.images.contains_key(&items[i].cache_key()))
        .collect();
    if todo.len() < items.len() {
        eprintln!(
            "{} of {} images' templates reused from {}",
            items.len() - todo.len(),
            items.len(),
            cache_file.display()
        );
    }
    let jobs = a.jobs.unwrap_or_else(threads).max(1);
    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix("analysing");
    let faces = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    let limits = context::limits(g);
    context::with_engines(g, jobs, todo.len(), |engine, t| {
        let i = todo[t];
        let rec = engine.recogniser().context("recogniser loaded")?;
        let it = &items[i];
        bar.inc(1);
        let fail = |reason: String| {
            if let Ok(mut f) = failures.lock() {
                f.push((i, reason));
            }
        };
        let img = match vigil_vision::image_io::decode_file(&it.path, limits) {
            Ok(img) => img,
            Err(e) => {
                fail(e.to_string());
                return Ok(());
            }
        };
        let dets = engine.detector().detect_sized(&img, a.detect_size)?;
        let qualities = dets
            .iter()
            .map(|d| vigil_vision::quality::measure(&img, d))
            .collect::<Result<Vec<_>, _>>()?;
        let chosen: Vec<usize> = if it.all_faces {
            (0..dets.len()).collect()
        } else {
            let pick = match a.face {
                FaceChoice::Centre => (0..dets.len()).min_by(|&x, &y| {
                    centre_distance(&dets[x], img.width(), img.height())
                        .total_cmp(&centre_distance(&dets[y], img.width(), img.height()))
                }),
                FaceChoice::Largest => (0..dets.len()).max_by(|&x, &y| {
                    qualities[x]
                        .inter_eye_distance
                        .total_cmp(&qualities[y].inter_eye_distance)
                }),
            };
            pick.into_iter().collect()
        };
        if chosen.is_empty() {
            fail("no face found".into());
            return Ok(());
        }
        let crops = chosen
            .iter()
            .map(|&k| rec.aligned_crop(&img, &dets[k]))
            .collect::<Result<Vec<_>, _>>()?;
        for (&k, (plain, flip)) in chosen.iter().zip(rec.embed_with_mirror(&crops)?) {
            let acq = Acquired {
                item: i,
                face: k,
                plain: plain.vector,
                flip: flip.vector,
                gate_passed: engine.gate().judge(&qualities[k]).passed,
            };
            if let Ok(mut f) = faces.lock() {
                f.push(acq);
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let new_faces = faces.into_inner().unwrap_or_default();
    for (i, reason) in failures.into_inner().unwrap_or_default() {
        stored.images.insert(items[i].cache_key(), Err(reason));
    }
    for f in new_faces {
        let e = stored
            .images
            .entry(items[f.item].cache_key())
            .or_insert_with(|| Ok(Vec::new()));
        if let Ok(v) = e {
            v.push((f.face, f.plain, f.flip, f.gate_passed));
        }
    }
    if !todo.is_empty() {
        std::fs::write(&cache_file, serde_json::to_string(&stored)?)
            .with_context(|| format!("{}", cache_file.display()))?;
    }
    let mut c = TemplateCache {
        dim: 0,
        faces: Vec::new(),
        failures: Vec::new(),
    };
    for (i, it) in items.iter().enumerate() {
        match stored.images.get(&it.cache_key()) {
            Some(Ok(faces)) => {
                let mut faces = faces.clone();
                faces.sort_by_key(|f| f.0);
                for (face, plain, flip, gate_passed) in faces {
                    c.dim = plain.len();
                    c.faces.push(Acquired {
                        item: i,
                        face,
                        plain,
                        flip,
                        gate_passed,
                    });
                }
            }
            Some(Err(reason)) => c.failures.push((i, reason.clone())),
            None => c.failures.push((i, "not analysed".into())),
        }
    }
    Ok(c)
}

/// Spread of non-mated scores of a template list, from seeded random pairs.
fn score_sd(faces: &[Acquired], flip: bool) -> f32 {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let n = faces.len();
    let v = |i: usize| {
        if flip {
            &faces[i].flip
        } else {
            &faces[i].plain
        }
    };
    let scores: Vec<f32> = (0..200_000)
        .filter_map(|_| {
            let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..n));
            (i != j).then(|| ident::dot(v(i), v(j)))
        })
        .collect();
    let m = scores.iter().sum::<f32>() / scores.len().max(1) as f32;
    (scores.iter().map(|s| (s - m) * (s - m)).sum::<f32>() / scores.len().max(1) as f32).sqrt()
}

/// Appends another recogniser's templates to each face, each pack's part
/// scaled by 1/sqrt(sd) so that a dot product is the sum of the two
/// packs' scores in units of their non-mated spread.
fn fuse(c: &mut TemplateCache, items: &[Item], other: &Path) -> Result<()> {
    let stored = StoredTemplates::load(other)?;
    let mut theirs: Vec<Option<Acquired>> = Vec::with_capacity(c.faces.len());
    for f in &c.faces {
        let found = match stored.images.get(&items[f.item].cache_key()) {
            Some(Ok(faces)) => faces.iter().find(|x| x.0 == f.face).map(|x| Acquired {
                item: f.item,
                face: f.face,
                plain: x.1.clone(),
                flip: x.2.clone(),
                gate_passed: x.3,
            }),
            _ => None,
        };
        theirs.push(found);
    }
    let keep: Vec<bool> = theirs.iter().map(Option::is_some).collect();
    let mut ours: Vec<Acquired> = std::mem::take(&mut c.faces);
    let other_faces: Vec<Acquired> = theirs.into_iter().flatten().collect();
    let mut k = keep.iter();
    ours.retain(|_| *k.next().unwrap_or(&false));
    for flip in [false, true] {
        let (s1, s2) = (score_sd(&ours, flip), score_sd(&other_faces, flip));
        for (a, b) in ours.iter_mut().zip(&other_faces) {
            let (va, vb) = if flip {
                (&mut a.flip, &b.flip)
            } else {
                (&mut a.plain, &b.plain)
            };
            va.iter_mut().for_each(|x| *x /= s1.sqrt());
            va.extend(vb.iter().map(|x| x / s2.sqrt()));
        }
    }
    c.dim = ours.first().map_or(0, |f| f.plain.len());
    c.faces = ours;
    Ok(())
}

/// Stable half of the identities: the fitting part of a validation split.
/// Salted, because lfw-dev itself is one half of LFW by an unsalted hash.
fn in_fitting_part(identity: &str) -> bool {
    Sha256::digest(format!("vigil-validation-split:{identity}").as_bytes())[0] & 1 == 0
}

/// The rows the rates are computed on.
struct Rows {
    dim: usize,
    plain: Vec<f32>,
    flip: Vec<f32>,
    identity: Vec<u32>,
    names: Vec<String>,
    group: Vec<Option<u32>>,
    /// Whether the row comes from the labelled folder (mated pairs possible).
    labelled: Vec<bool>,
    /// The item each row came from.
    item: Vec<usize>,
    gate_failures: usize,
}

impl Rows {
    fn data(&self, kind: TemplateKind) -> &[f32] {
        match kind {
            TemplateKind::Plain => &self.plain,
            TemplateKind::Flip => &self.flip,
        }
    }

    fn templates(&self, kind: TemplateKind) -> Templates<'_> {
        Templates {
            dim: self.dim,
            data: self.data(kind),
            identity: &self.identity,
        }
    }

    fn empty(dim: usize, names: Vec<String>) -> Rows {
        Rows {
            dim,
            plain: Vec::new(),
            flip: Vec::new(),
            identity: Vec::new(),
            names,
            group: Vec::new(),
            labelled: Vec::new(),
            item: Vec::new(),
            gate_failures: 0,
        }
    }

    /// Distinct people, of the labelled folder only or of every row.
    fn people(&self, labelled_only: bool) -> usize {
        let mut v: Vec<u32> = (0..self.identity.len())
            .filter(|&i| !labelled_only || self.labelled[i])
            .map(|i| self.identity[i])
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    }

    /// The rows in `keep`, as a new set.
    fn subset(&self, keep: &[bool]) -> Rows {
        let mut r = Rows::empty(self.dim, self.names.clone());
        for i in (0..self.identity.len()).filter(|&i| keep[i]) {
            r.item.push(self.item[i]);
            r.plain
                .extend_from_slice(&self.plain[i * self.dim..(i + 1) * self.dim]);
            r.flip
                .extend_from_slice(&self.flip[i * self.dim..(i + 1) * self.dim]);
            r.identity.push(self.identity[i]);
            r.group.push(self.group[i]);
            r.labelled.push(self.labelled[i]);
        }
        r
    }
}

struct GroupNames {
    names: Vec<String>,
    scheme_of: Vec<u32>,
    schemes: Vec<String>,
}

impl GroupNames {
    /// The scores of every group of scheme `s`.
    fn groups_of(&self, s: usize, ps: &pairs::PairScores) -> Vec<GroupScores> {
        (0..self.names.len())
            .filter(|&k| self.scheme_of[k] as usize == s)
            .map(|k| GroupScores {
                group: self.names[k].clone(),
                scores: ps.groups[k].clone(),
            })
            .collect()
    }
}

fn build_rows(
    items: &[Item],
    cache: &TemplateCache,
    labelled_count: usize,
    csvs: &[(String, BTreeMap<String, String>)],
) -> (Rows, GroupNames) {
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut gn = GroupNames {
        names: Vec::new(),
        scheme_of: Vec::new(),
        schemes: csvs.iter().map(|(n, _)| n.clone()).collect(),
    };
    let mut group_ids: BTreeMap<(usize, String), u32> = BTreeMap::new();
    let mut rows = Rows::empty(cache.dim, Vec::new());
    for f in &cache.faces {
        rows.item.push(f.item);
        let it = &items[f.item];
        let identity = if it.all_faces {
            format!("{}#{}", it.identity, f.face)
        } else {
            it.identity.clone()
        };
        let next = ids.len() as u32;
        let id = *ids.entry(identity).or_insert(next);
        let group = csvs.iter().enumerate().find_map(|(s, (_, m))| {
            m.get(&it.key).map(|g| {
                let next = group_ids.len() as u32;
                *group_ids.entry((s, g.clone())).or_insert_with(|| {
                    gn.names.push(g.clone());
                    gn.scheme_of.push(s as u32);
                    next
                })
            })
        });
        rows.plain.extend_from_slice(&f.plain);
        rows.flip.extend_from_slice(&f.flip);
        rows.identity.push(id);
        rows.group.push(group);
        rows.labelled.push(f.item < labelled_count);
        rows.gate_failures += usize::from(!f.gate_passed);
    }
    let mut names = vec![String::new(); ids.len()];
    for (n, i) in ids {
        names[i as usize] = n;
    }
    rows.names = names;
    (rows, gn)
}

pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn tar_at_fmr(scores: &Scores) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for fmr in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6] {
        let p = scores.at_fmr(fmr)?;
        out.push(json!({
            "fmr": fmr,
            "threshold": p.map(|p| p.threshold),
            "tar": p.map(|p| 1.0 - p.fnmr),
            "note": if p.is_none() { format!("not measurable: {} non-mated pairs resolve rates down to about {:.1e}", scores.non_mated.len(), vigil_eval::scores::resolvable_rate(scores.non_mated.len())) } else { String::new() },
        }));
    }
    Ok(out)
}

/// FNIR where the measured FPIR is `target`, at gallery size `n`.
fn fnir_at_fpir(searches: &[ident::Search], n: usize, target: f64) -> serde_json::Value {
    let t = ident::threshold_for_fpir(searches, n, target);
    let (fnir, mated) = ident::fnir(searches, n, t);
    let (fpir, non) = ident::fpir(searches, n, t);
    json!({"gallery_size": n, "target_fpir": target, "threshold": t, "fpir": fpir, "fnir": fnir, "mated_searches": mated, "non_mated_searches": non})
}

pub fn eval(g: &Global, a: &EvalArgs) -> Result<ExitCode> {
    let cache = context::cache(g);
    let mut items = Vec::new();
    let mut source = Vec::new();
    match (&a.dir, a.sample_set) {
        (Some(d), false) => {
            items = labelled_dir(d, a.limit_identities)?;
            source.push(format!(
                "labelled folder {}{}",
                file_name(d),
                a.limit_identities
                    .map_or(String::new(), |n| format!(" (first {n} identities)"))
            ));
        }
        (None, true) => {
            let samples = cache.samples();
            let ids: BTreeMap<String, Option<String>> = serde_json::from_str(
                &std::fs::read_to_string(samples.join("identities.json"))
                    .context("sample identities (run `vigil models fetch`)")?,
            )?;
            for (file, id) in ids {
                if let Some(identity) = id {
                    items.push(Item {
                        key: identity.clone(),
                        identity,
                        path: samples.join(file),
                        all_faces: false,
                    });
                }
            }
            items.push(Item {
                identity: "solvay".into(),
                key: "solvay".into(),
                path: samples.join("solvay_1927.jpg"),
                all_faces: true,
            });
            source.push("registry sample photos (face_recognition 1.3.0 and others, labelled in identities.json) plus each face of the Solvay 1927 photo as its own identity".to_string());
        }
        (None, false) if a.non_mated_dir.is_some() => {}
        _ => bail!("give a labelled DIR or --sample-set (not both)"),
    }
    let mut labelled_count = items.len();
    if let Some(d) = &a.non_mated_dir {
        let mut flat = flat_dir(d, a.limit_non_mated)?;
        if let Some(x) = &a.exclude {
            let text = std::fs::read_to_string(x).with_context(|| format!("{}", x.display()))?;
            let names: std::collections::HashSet<&str> = text.lines().map(str::trim).collect();
            let before = flat.len();
            flat.retain(|it| !names.contains(it.key.as_str()));
            source.push(format!(
                "{} images left out as listed in {}",
                before - flat.len(),
                file_name(x)
            ));
        }
        source.push(format!(
            "{} single images from {} (non-mated pairs only)",
            flat.len(),
            file_name(d),
        ));
        items.extend(flat);
    }
    // Byte-identical files are one photograph, whatever their labels say
    // (UTKFace holds about a hundred such copies): keep the first.
    {
        let mut seen = std::collections::HashSet::new();
        let mut dropped = 0usize;
        let mut kept = Vec::with_capacity(items.len());
        let labelled_before = labelled_count;
        for (i, it) in items.into_iter().enumerate() {
            let digest = std::fs::read(&it.path)
                .map(|b| Sha256::digest(&b).to_vec())
                .ok();
            if digest.is_some_and(|d| !seen.insert(d)) {
                dropped += 1;
                if i < labelled_before {
                    labelled_count -= 1;
                }
                continue;
            }
            kept.push(it);
        }
        items = kept;
        if dropped > 0 {
            source.push(format!(
                "{dropped} byte-identical copies of other images left out"
            ));
        }
    }
    let csvs: Vec<(String, BTreeMap<String, String>)> = a
        .groups
        .iter()
        .map(|p| Ok((file_name(p), read_groups(p, &a.group_columns)?)))
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;

    let mut acquired = acquire(g, a, &items)?;
    if let Some(other) = &a.fuse_with {
        fuse(&mut acquired, &items, other)?;
        source.push(format!(
            "score fusion with the templates in {}",
            file_name(other)
        ));
    }
    let fta: Vec<serde_json::Value> = acquired
        .failures
        .iter()
        .map(|(i, reason)| json!({"image": items[*i].path, "identity": items[*i].identity, "reason": reason}))
        .collect();
    let (rows, gnames) = build_rows(&items, &acquired, labelled_count, &csvs);
    if rows.identity.is_empty() {
        bail!("no face was found in any image");
    }
    let options = format!(
        "detector {} at {}, face nearest the {}, {} templates, minimum inter-eye distance {} px (not enforced for evaluation; {} faces under the gate kept)",
        g.detector,
        match a.detect_size {
            vigil_vision::DetectionSize::Letterbox => "640x640 letterbox".to_string(),
            vigil_vision::DetectionSize::UpTo(n) => format!("up to {n} px, own size"),
        },
        match a.face {
            FaceChoice::Centre => "image centre",
            FaceChoice::Largest => "largest (by eye distance)",
        },
        match a.template {
            TemplateKind::Plain => "plain",
            TemplateKind::Flip => "flip-averaged",
        },
        g.min_ied,
        rows.gate_failures
    );
    let source = format!("{}; {options}", source.join(" + "));

    // Every pair, once.
    let spinner = ProgressBar::new_spinner();
    spinner.set_message("scoring pairs");
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let apart: Vec<bool> = rows.labelled.iter().map(|l| !l).collect();
    let labels = Labels {
        group: &rows.group,
        scheme_of: &gnames.scheme_of,
        schemes: gnames.schemes.len(),
        apart: Some(&apart),
        shift: None,
    };
    let popts = PairOptions {
        max_non_mated: a.max_non_mated,
        seed: a.seed,
        threads: threads(),
    };
    let ps = pairs::score_pairs(&rows.templates(a.template), &labels, &popts);
    spinner.finish_and_clear();
    let scores = &ps.all;
    if scores.mated.is_empty() {
        bail!("no identity has two usable images: no mated pairs to measure");
    }
    let curve = scores.curve()?;
    let eer = scores.eer()?;
    // The calibration is fitted on the comparisons LFR makes (every image
    // against one enrolled image of each labelled person), not on all pairs.
    let all_rows: Vec<usize> = (0..rows.identity.len()).collect();
    let comparisons_all = ident::comparison_scores(
        &rows.templates(a.template),
        &all_rows,
        Some(&rows.labelled),
        threads(),
    );
    let mut calibration = Calibration::fit(
        &g.recogniser,
        &format!(
            "{}{source}; fitted on {} mated and {} non-mated comparisons of every image with one enrolled image of each person of the labelled folder",
            a.provenance.as_ref().map_or(String::new(), |p| format!("{p}: ")),
            comparisons_all.mated.len(),
            comparisons_all.non_mated.len()
        ),
        &comparisons_all,
    )?;

    // Fairness, per scheme (one per CSV), on a grid of Thresholds spaced
    // by the scheme's overall FMR (a quarter decade apart, from 1e-1 down
    // to what it resolves), so the grid suits any pack's score range.
    let mut fairness_reports = Vec::new();
    let mut fairness_rows_for_plot: Vec<FairnessRow> = Vec::new();
    for (s, scheme) in gnames.schemes.iter().enumerate() {
        let groups = gnames.groups_of(s, &ps);
        let overall = &ps.schemes[s];
        let mut grid: Vec<f64> = (4..=24)
            .filter_map(|k| overall.non_mated_threshold(10f64.powf(-f64::from(k) / 4.0)))
            .filter(|t| t.is_finite())
            .collect();
        grid.dedup();
        let rows_grid = fairness::rows(overall, &groups, &grid);
        let summary = FairnessSummary::from_rows(
            &format!("{scheme}: FMR between different people of the same group over the FMR of all non-mated pairs labelled in it"),
            &rows_grid,
        );
        let at_ops = fairness::rows(overall, &groups, &a.thresholds);
        if groups.len() > fairness_rows_for_plot.first().map_or(0, |r| r.groups.len()) {
            fairness_rows_for_plot = rows_grid.clone();
            calibration.fairness = Some(summary.clone());
        }
        fairness_reports.push(json!({
            "scheme": scheme,
            "overall_non_mated_pairs": overall.non_mated.len(),
            "at_thresholds": at_ops,
            "summary": summary,
        }));
    }

    // Identification: every image a probe against one enrolled image per
    // other person.
    // The labelled folder's people are the gallery; the single-image set's
    // are passers-by only.
    let searches = ident::searches(
        &rows.templates(a.template),
        &all_rows,
        1,
        1,
        Combine::Max,
        Some(&rows.labelled),
    );
    let mut identification = Vec::new();
    for &t in &a.thresholds {
        let (fmr, _) = calibration.false_match_rate(t);
        for &n in &a.gallery_sizes {
            identification.push(ident::identification(&searches, n, t, fmr));
        }
    }
    let at_fpir: Vec<_> = a
        .gallery_sizes
        .iter()
        .map(|&n| fnir_at_fpir(&searches, n, 1e-3))
        .collect();

    // Validation: fit on half the identities, measure on the other half.
    let validation = if a.validate {
        Some(validate(g, &rows, a.template, &source)?)
    } else {
        None
    };
    if let Some(v) = &validation {
        calibration.validation = Some(v.clone());
    }
    let comparisons = if a.compare {
        let mut c = compare(&rows, &popts)?;
        c["cohort_normalisation"] = mitigation(&rows, &gnames, a, &labels, &popts, &ps)?;
        Some(c)
    } else {
        None
    };

    let advice: Vec<_> = [1usize, 10, 100, 1000, 10_000]
        .iter()
        .filter_map(|&n| calibration.threshold_for(1e-3, n).ok())
        .collect();
    let identities = rows.names.len();
    let report = json!({
        "pack": g.recogniser,
        "detector": g.detector,
        "source": source,
        "images": items.len(),
        "templates": rows.identity.len(),
        "identities": identities,
        "failures_to_acquire": fta,
        "quality_gate_failures_kept": rows.gate_failures,
        "mated_pairs": scores.mated.len(),
        "non_mated_pairs": scores.non_mated.len(),
        "non_mated_pairs_in_set": ps.non_mated_total,
        "non_mated_sampled": ps.keep_rate < 1.0,
        "lowest_mated_score": scores.mated.first(),
        "highest_non_mated_score": scores.non_mated.last(),
        "eer": eer,
        "highest_non_mated_pairs": ps.top_non_mated.iter().map(|&(s, i, j)| json!({
            "score": s,
            "a": items[rows.item[i]].path,
            "b": items[rows.item[j]].path,
        })).collect::<Vec<_>>(),
        "tar_at_fmr": tar_at_fmr(scores)?,
        "at_thresholds": a.thresholds.iter().map(|&t| scores.point(t)).collect::<Vec<_>>(),
        "identification": identification,
        "fnir_at_fpir_1e-3": at_fpir,
        "fairness": fairness_reports,
        "tail": calibration.tail,
        "threshold_for_far_1e-3": advice,
        "validation": validation,
        "comparisons": comparisons,
    });
    std::fs::write(
        a.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    write_csvs(
        &a.out,
        scores,
        &curve,
        &identification,
        &fairness_rows_for_plot,
    )?;
    crate::plots::draw_all(
        &a.out,
        scores,
        &curve,
        &identification,
        &fairness_rows_for_plot,
    )?;
    write_html(&a.out, &report)?;
    calibration.save(&a.out.join("calibration.json"))?;
    if a.install {
        let dest = calibration_path(g, &g.recogniser);
        calibration.save(&dest)?;
        eprintln!("calibration installed at {}", dest.display());
    }
    println!(
        "{} templates of {identities} identities ({} failures to acquire); {} mated / {} non-mated pairs; EER {:.4} at {:.3}; report in {}",
        rows.identity.len(),
        fta.len(),
        scores.mated.len(),
        scores.non_mated.len(),
        eer.fmr,
        eer.threshold,
        a.out.join("index.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Fits a calibration on the fitting half's comparisons and checks, on the
/// other half's identities, what FPIR and FNIR its Thresholds give for a
/// False Alert Rate of 1e-3.
fn validate(
    g: &Global,
    rows: &Rows,
    kind: TemplateKind,
    source: &str,
) -> Result<serde_json::Value> {
    let part: Vec<bool> = rows
        .identity
        .iter()
        .map(|&i| in_fitting_part(&rows.names[i as usize]))
        .collect();
    let fit = rows.subset(&part);
    let fit_members: Vec<usize> = (0..fit.identity.len()).collect();
    let fit_scores = ident::comparison_scores(
        &fit.templates(kind),
        &fit_members,
        Some(&fit.labelled),
        threads(),
    );
    let fitted = Calibration::fit(&g.recogniser, source, &fit_scores)?;
    let test_keep: Vec<bool> = part.iter().map(|p| !p).collect();
    let test = rows.subset(&test_keep);
    let members: Vec<usize> = (0..test.identity.len()).collect();
    let searches = ident::searches(
        &test.templates(kind),
        &members,
        1,
        1,
        Combine::Max,
        Some(&test.labelled),
    );
    let people = test.people(true);
    let mut table = Vec::new();
    for n in [10usize, 100, 1000, 5000, 10_000] {
        if n + 1 > people {
            table.push(json!({"gallery_size": n, "note": format!("the test half's labelled folder has {people} people: too few for this gallery")}));
            continue;
        }
        let advice = fitted.threshold_for(1e-3, n)?;
        let r = ident::identification(&searches, n, advice.threshold, advice.false_match_rate);
        let best = fnir_at_fpir(&searches, n, 1e-3);
        let mut predicted = Vec::new();
        for far in [1e-1, 1e-2, 3e-3, 1e-3, 3e-4] {
            let t = fitted.threshold_for(far, n)?.threshold;
            let (fmr, method) = fitted.false_match_rate(t);
            let (measured, _) = ident::fpir(&searches, n, t);
            predicted.push(json!({"threshold": t, "predicted_fpir": vigil_eval::calibration::per_passer_by_rate(fmr, n), "method": method, "measured_fpir": measured}));
        }
        table.push(json!({
            "gallery_size": n,
            "target_fpir": 1e-3,
            "threshold": advice.threshold,
            "method": advice.method,
            "measured_fpir": r.fpir,
            "measured_fpir_ci95": r.fpir_ci95,
            "fpir_over_target": r.fpir.map(|f| f / 1e-3),
            "measured_fnir": r.fnir,
            "best_fnir_at_target": best["fnir"],
            "threshold_at_target": best["threshold"],
            "mated_searches": r.mated_searches,
            "non_mated_searches": r.non_mated_searches,
            "predicted_against_measured": predicted,
        }));
    }
    Ok(json!({
        "method": "identities split in two by sha256(\"vigil-validation-split:\" + name); the calibration fitted on one half's comparisons; FPIR/FNIR measured exactly (hypergeometric over galleries) on the other half's images (the labelled folder's people enrolled, one image each; everyone, including the single-image set, searched as a probe)",
        "fit_non_mated_comparisons": fitted.non_mated_pairs,
        "fit_mated_comparisons": fitted.mated_pairs,
        "test_people": people,
        "test_images": test.identity.len(),
        "rows": table,
    }))
}

/// Plain against flip-averaged templates, and one against several
/// reference images per subject, on the labelled folder's identities.
fn compare(rows: &Rows, popts: &PairOptions) -> Result<serde_json::Value> {
    let labelled = rows.subset(&rows.labelled);
    let none = vec![None; labelled.identity.len()];
    let labels = Labels {
        group: &none,
        scheme_of: &[],
        schemes: 0,
        apart: None,
        shift: None,
    };
    let people = labelled.people(false);
    let n = 800.min(people.saturating_sub(1)).max(1);
    let members: Vec<usize> = (0..labelled.identity.len()).collect();
    let mut variants = Vec::new();
    for kind in [TemplateKind::Plain, TemplateKind::Flip] {
        let ps = pairs::score_pairs(&labelled.templates(kind), &labels, popts);
        let s1 = ident::searches(
            &labelled.templates(kind),
            &members,
            1,
            2,
            Combine::Max,
            None,
        );
        let s2max = ident::searches(
            &labelled.templates(kind),
            &members,
            2,
            2,
            Combine::Max,
            None,
        );
        let s2mean = ident::searches(
            &labelled.templates(kind),
            &members,
            2,
            2,
            Combine::Mean,
            None,
        );
        variants.push(json!({
            "template": kind,
            "eer": ps.all.eer()?,
            "tar_at_fmr": tar_at_fmr(&ps.all)?,
            "identification_fpir_1e-3": {
                "gallery_size": n,
                "note": "mated probes: each person's third image on (so all three rows use the same probes)",
                "one_reference": fnir_at_fpir(&s1, n, 1e-3),
                "two_references_best_of": fnir_at_fpir(&s2max, n, 1e-3),
                "two_references_mean_template": fnir_at_fpir(&s2mean, n, 1e-3),
            },
            "identification_fpir_1e-3_all_probes": fnir_at_fpir(
                &ident::searches(&labelled.templates(kind), &members, 1, 1, Combine::Max, None),
                n,
                1e-3,
            ),
            "track_proxy": track_proxy(&labelled, kind, n),
            "track_fusion": track_fusion(&labelled, kind, n),
        }));
    }
    Ok(json!({"people": people, "images": labelled.identity.len(), "variants": variants}))
}

/// A stand-in for track-level decisions in LFR: a probe made of two looks
/// at a person (the mean template of two different photos) against one
/// (the first of them), with the same gallery (each person's first image)
/// and the same people probed (those with three or more images). Two
/// photos differ more than two frames of one walk past a camera, so this
/// bounds what fusing a Recognition Opportunity's faces could give.
fn track_proxy(labelled: &Rows, kind: TemplateKind, n: usize) -> serde_json::Value {
    let data = labelled.data(kind);
    let dim = labelled.dim;
    let mut by_id: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &id) in labelled.identity.iter().enumerate() {
        by_id.entry(id).or_default().push(i);
    }
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let build = |two_looks: bool| -> (Vec<f32>, Vec<u32>) {
        let (mut d, mut ids) = (Vec::new(), Vec::new());
        // Enrolled images first, so each person's first row is enrolled.
        for (&id, imgs) in &by_id {
            d.extend_from_slice(row(imgs[0]));
            ids.push(id);
        }
        for (&id, imgs) in &by_id {
            if imgs.len() < 3 {
                continue;
            }
            if two_looks {
                d.extend(vigil_core::template::unit_mean([
                    row(imgs[1]),
                    row(imgs[2]),
                ]));
            } else {
                d.extend_from_slice(row(imgs[1]));
            }
            ids.push(id);
        }
        (d, ids)
    };
    let mut out = serde_json::Map::new();
    for (name, two) in [("one_look", false), ("two_looks_mean", true)] {
        let (d, ids) = build(two);
        // Rows grouped by identity with the enrolled one first.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| (ids[i], i));
        let t = Templates {
            dim,
            data: &d,
            identity: &ids,
        };
        let s = ident::searches(&t, &order, 1, 1, Combine::Max, None);
        out.insert(name.into(), fnir_at_fpir(&s, n, 1e-3));
    }
    serde_json::Value::Object(out)
}

/// Track-level decisions as the live pipeline makes them: people with four
/// or more images have their first enrolled and their next three shown as
/// one Recognition Opportunity's looks, in order. Each rule is compared at
/// its own Threshold for FPIR 1e-3 (FNIR), and at the one-look Threshold
/// (what the calibration assumes: how far its FPIR moves).
fn track_fusion(labelled: &Rows, kind: TemplateKind, n: usize) -> serde_json::Value {
    let data = labelled.data(kind);
    let t = Templates {
        dim: labelled.dim,
        data,
        identity: &labelled.identity,
    };
    let mut by_id: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &id) in labelled.identity.iter().enumerate() {
        by_id.entry(id).or_default().push(i);
    }
    let gallery: Vec<(u32, usize)> = by_id.iter().map(|(&id, imgs)| (id, imgs[0])).collect();
    let tracks: Vec<(u32, Vec<usize>)> = by_id
        .iter()
        .filter(|(_, imgs)| imgs.len() >= 4)
        .map(|(&id, imgs)| (id, imgs[1..4].to_vec()))
        .collect();
    let n = n.min(gallery.len().saturating_sub(1)).max(1);
    let one = ident::track_searches(&t, &gallery, &tracks, ident::TrackRule::OneLook);
    let one_t = ident::threshold_for_fpir(&one, n, 1e-3);
    let mut out = serde_json::Map::new();
    out.insert("tracks".into(), json!(tracks.len()));
    out.insert("looks_per_track".into(), json!(3));
    for rule in [
        ident::TrackRule::OneLook,
        ident::TrackRule::AnyLook,
        ident::TrackRule::Fused,
        ident::TrackRule::FusedOnce,
    ] {
        let s = ident::track_searches(&t, &gallery, &tracks, rule);
        let (fpir, _) = ident::fpir(&s, n, one_t);
        let (fnir, _) = ident::fnir(&s, n, one_t);
        let mut row = fnir_at_fpir(&s, n, 1e-3);
        row["at_one_look_threshold"] = json!({"threshold": one_t, "fpir": fpir, "fnir": fnir});
        out.insert(
            serde_json::to_value(rule)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            row,
        );
    }
    serde_json::Value::Object(out)
}

/// Cohort score normalisation, before and after: TAR at FMR, and each
/// scheme's worst group at the Thresholds that give the same overall FMR.
fn mitigation(
    rows: &Rows,
    gnames: &GroupNames,
    a: &EvalArgs,
    labels: &Labels,
    popts: &PairOptions,
    raw: &pairs::PairScores,
) -> Result<serde_json::Value> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let mut cohort: Vec<usize> = (0..rows.identity.len()).collect();
    cohort.shuffle(&mut rng);
    cohort.truncate(1000);
    let k = 10;
    let shift = ident::cohort_offsets(&rows.templates(a.template), &cohort, k);
    let normed_labels = Labels {
        shift: Some(&shift),
        ..*labels
    };
    let normed = pairs::score_pairs(&rows.templates(a.template), &normed_labels, popts);
    let side = |ps: &pairs::PairScores| -> Result<serde_json::Value> {
        let mut schemes = Vec::new();
        for (si, scheme) in gnames.schemes.iter().enumerate() {
            let groups = gnames.groups_of(si, ps);
            let mut at = Vec::new();
            for target in [1e-3, 1e-4] {
                let overall = &ps.schemes[si];
                if let Some(t) = overall.non_mated_threshold(target) {
                    let r = fairness::rows(overall, &groups, &[t]);
                    at.push(json!({"overall_fmr": target, "threshold": t, "worst": r[0].worst}));
                }
            }
            schemes.push(json!({"scheme": scheme, "at_overall_fmr": at}));
        }
        Ok(json!({"tar_at_fmr": tar_at_fmr(&ps.all)?, "fairness": schemes}))
    };
    Ok(json!({
        "method": format!("score minus the mean of the two faces' offsets; offset = mean of a face's {k} highest scores against a cohort of 1000 images drawn at random from the whole set (no labels used), centred"),
        "before": side(raw)?,
        "after": side(&normed)?,
    }))
}

fn write_csvs(
    out: &Path,
    scores: &Scores,
    curve: &[vigil_eval::scores::Point],
    identification: &[ident::IdentResult],
    fairness: &[FairnessRow],
) -> Result<()> {
    // A histogram (bins of 0.005), not every pair: a set of 10 000 faces
    // has 50 million of them.
    let mut s = String::from("score_from,mated,non_mated\n");
    let bins = 300usize;
    let bin = |v: f32| {
        (((f64::from(v) + 0.5) / 1.5 * bins as f64)
            .floor()
            .clamp(0.0, (bins - 1) as f64)) as usize
    };
    let (mut m, mut n) = (vec![0u64; bins], vec![0u64; bins]);
    scores.mated.iter().for_each(|&v| m[bin(v)] += 1);
    scores.non_mated.iter().for_each(|&v| n[bin(v)] += 1);
    for i in 0..bins {
        writeln!(
            s,
            "{:.3},{},{}",
            -0.5 + 1.5 * i as f64 / bins as f64,
            m[i],
            n[i]
        )?;
    }
    std::fs::write(out.join("histogram.csv"), s)?;
    let mut s = String::from("threshold,fmr,fnmr\n");
    for p in curve {
        writeln!(s, "{:.6},{:.10},{:.8}", p.threshold, p.fmr, p.fnmr)?;
    }
    std::fs::write(out.join("roc.csv"), s)?;
    let mut s = String::from(
        "threshold,gallery_size,mated_searches,non_mated_searches,fnir,fpir,fpir_predicted\n",
    );
    for r in identification {
        writeln!(
            s,
            "{},{},{},{},{},{},{:.8}",
            r.threshold,
            r.gallery_size,
            r.mated_searches,
            r.non_mated_searches,
            r.fnir.map_or(String::new(), |v| format!("{v:.6}")),
            r.fpir.map_or(String::new(), |v| format!("{v:.8}")),
            r.fpir_predicted
        )?;
    }
    std::fs::write(out.join("identification.csv"), s)?;
    if !fairness.is_empty() {
        let mut s = String::from(
            "threshold,group,non_mated_pairs,false_matches,fmr,fmr_lo,fmr_hi,ratio,overall_fmr\n",
        );
        for r in fairness {
            for gr in &r.groups {
                let (lo, hi) = gr.fmr_ci95.unwrap_or((f64::NAN, f64::NAN));
                let (mlo, mhi) = gr.fnmr_ci95.unwrap_or((f64::NAN, f64::NAN));
                writeln!(
                    s,
                    "{:.3},{},{},{},{:.3e},{:.3e},{:.3e},{},{:.3e},{},{},{:.4},{:.4}",
                    r.threshold,
                    gr.group,
                    gr.non_mated_pairs,
                    gr.false_matches,
                    gr.fmr,
                    lo,
                    hi,
                    gr.ratio.map_or(String::new(), |v| format!("{v:.2}")),
                    r.overall_fmr,
                    gr.mated_pairs,
                    gr.fnmr.map_or(String::new(), |v| format!("{v:.4}")),
                    mlo,
                    mhi
                )?;
            }
        }
        std::fs::write(out.join("fairness.csv"), s)?;
    }
    Ok(())
}

fn write_html(out: &Path, report: &serde_json::Value) -> Result<()> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let num = |v: &serde_json::Value, p: usize| {
        v.as_f64().map_or("-".to_string(), |x| {
            if x != 0.0 && x.abs() < 1e-3 {
                format!("{x:.2e}")
            } else {
                format!("{x:.p$}")
            }
        })
    };
    let mut tar = String::new();
    for r in report["tar_at_fmr"].as_array().into_iter().flatten() {
        writeln!(
            tar,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r["fmr"],
            num(&r["threshold"], 4),
            num(&r["tar"], 4),
            esc(r["note"].as_str().unwrap_or(""))
        )?;
    }
    let mut fair = String::new();
    for scheme in report["fairness"].as_array().into_iter().flatten() {
        writeln!(fair, "<h3>{}</h3><table><tr><th>Threshold</th><th>overall FMR</th><th>group</th><th>FMR inside group (95 % CI)</th><th>ratio</th><th>FNMR</th></tr>", esc(scheme["scheme"].as_str().unwrap_or("")))?;
        for row in scheme["at_thresholds"].as_array().into_iter().flatten() {
            for gr in row["groups"].as_array().into_iter().flatten() {
                let ci = &gr["fmr_ci95"];
                writeln!(
                    fair,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({}–{})</td><td>{}</td><td>{}</td></tr>",
                    num(&row["threshold"], 2),
                    num(&row["overall_fmr"], 5),
                    esc(gr["group"].as_str().unwrap_or("")),
                    num(&gr["fmr"], 5),
                    num(&ci[0], 5),
                    num(&ci[1], 5),
                    num(&gr["ratio"], 2),
                    num(&gr["fnmr"], 4),
                )?;
            }
        }
        let s = &scheme["summary"];
        writeln!(
            fair,
            "</table><p>Every group within 2× of the overall rate for Thresholds {}; ratios measurable up to {}.</p>",
            s["within_2x"].as_array().map_or("— (none)".into(), |v| format!("{}–{}", num(&v[0], 2), num(&v[1], 2))),
            num(&s["measured_up_to"], 2)
        )?;
    }
    let mut val = String::new();
    if let Some(rows) = report["validation"]["rows"].as_array() {
        val.push_str("<h2>Calibration validated on unseen identities</h2><table><tr><th>N</th><th>Threshold (FAR 1e-3)</th><th>how</th><th>measured FPIR</th><th>FNIR</th><th>best FNIR at FPIR 1e-3</th></tr>");
        for r in rows {
            writeln!(
                val,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r["gallery_size"],
                num(&r["threshold"], 3),
                esc(r["method"]
                    .as_str()
                    .unwrap_or(r["note"].as_str().unwrap_or(""))),
                num(&r["measured_fpir"], 5),
                num(&r["measured_fnir"], 4),
                num(&r["best_fnir_at_target"], 4),
            )?;
        }
        val.push_str("</table>");
    }
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Vigil evaluation</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:auto}}td,th{{padding:.2em .6em;border-bottom:1px solid #ddd}}img{{max-width:48%}}</style>\
         <h1>Evaluation of {pack}</h1><p>{src}</p><p>{templates} templates, {ids} identities, {m} mated and {n} non-mated pairs. \
         Failures to acquire: {fta}. EER {eer:.4} at threshold {eert:.3}.</p>\
         <h2>TAR at FMR</h2><table><tr><th>FMR</th><th>Threshold</th><th>TAR</th><th></th></tr>{tar}</table>\
         {val}\
         <p><img src=roc.png alt=ROC> <img src=det.png alt=DET> <img src=hist.png alt='score histograms'> <img src=fpir.png alt='FPIR against gallery size'> {fimg}</p>\
         <h2>Demographic groups</h2>{fair}\
         <p>Numbers: <a href=report.json>report.json</a>, <a href=roc.csv>roc.csv</a>, <a href=identification.csv>identification.csv</a>, <a href=histogram.csv>histogram.csv</a>; \
         calibration: <a href=calibration.json>calibration.json</a>.</p></html>",
        pack = esc(report["pack"].as_str().unwrap_or("")),
        src = esc(report["source"].as_str().unwrap_or("")),
        templates = report["templates"],
        ids = report["identities"],
        m = report["mated_pairs"],
        n = report["non_mated_pairs"],
        fta = report["failures_to_acquire"].as_array().map_or(0, |v| v.len()),
        eer = report["eer"]["fmr"].as_f64().unwrap_or(f64::NAN),
        eert = report["eer"]["threshold"].as_f64().unwrap_or(f64::NAN),
        fimg = if fair.is_empty() { "" } else { "<img src=fairness.png alt='FMR ratio per group'>" },
        fair = if fair.is_empty() { "<p>No group labels given (--groups).</p>".to_string() } else { fair },
    );
    std::fs::write(out.join("index.html"), html)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validation_split_halves_identities_independently_of_lfws_own_split() {
        // lfw-dev is the half of LFW whose unsalted sha256(name) starts with
        // an even byte; the validation split must cut across it.
        let names: Vec<String> = (0..4000).map(|i| format!("Person_{i}")).collect();
        let dev: Vec<&String> = names
            .iter()
            .filter(|n| Sha256::digest(n.as_bytes())[0] & 1 == 0)
            .collect();
        let fit = dev.iter().filter(|n| in_fitting_part(n)).count() as f64;
        let share = fit / dev.len() as f64;
        assert!((share - 0.5).abs() < 0.05, "{share}");
        // Deterministic: the same name always lands in the same half.
        assert_eq!(in_fitting_part("AJ_Cook"), in_fitting_part("AJ_Cook"));
    }

    #[test]
    fn groups_csvs_join_the_chosen_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(
            &p,
            "file,age,gender,race\na.jpg,30,F,Indian\nb.jpg,40,M,White\n",
        )
        .unwrap();
        let m = read_groups(&p, &["gender".into(), "race".into()]).unwrap();
        assert_eq!(m["a.jpg"], "F Indian");
        assert!(read_groups(&p, &["colour".into()]).is_err());
        std::fs::write(&p, "file,gender\na.jpg\n").unwrap();
        assert!(read_groups(&p, &["gender".into()]).is_err());
    }
}
