//! Loading a custody image store in bulk (`vigil enrol --bulk DIR`): every
//! image under `DIR/<subject>/` into the reference store with its template.
//! Parallel (one worker per job, one shared engine), resumable (images
//! already enrolled are skipped), with a summary of failures to acquire and
//! quality rejects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use vigil_store::Store;
use vigil_vision::{DecodeLimits, FaceEngine};

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("{path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no recogniser loaded")]
    NoRecogniser,
    #[error("store: {0}")]
    Store(#[from] vigil_store::StoreError),
}

/// What enrolling one image came to.
#[derive(Debug)]
pub enum Outcome {
    Enrolled,
    AlreadyEnrolled,
    /// No face found (failure to acquire).
    NoFace,
    /// A face, but not fit to be a reference image; the reasons.
    Rejected(Vec<String>),
    Unreadable(String),
}

impl Outcome {
    fn key(&self) -> &'static str {
        match self {
            Outcome::Enrolled => "enrolled",
            Outcome::AlreadyEnrolled => "already_enrolled",
            Outcome::NoFace => "failed_to_acquire",
            Outcome::Rejected(_) => "quality_rejects",
            Outcome::Unreadable(_) => "unreadable",
        }
    }
}

/// The summary of a bulk enrolment, as `vigil enrol --bulk` prints it.
#[derive(Debug, serde::Serialize)]
pub struct BulkReport {
    pub pack: String,
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Quality rejects by kind of reason (numbers replaced by `N`).
    pub quality_reject_reasons: BTreeMap<String, usize>,
    pub seconds: f64,
    pub enrolled_per_s: f64,
    pub reference_templates: usize,
}

impl BulkReport {
    pub fn count(&self, key: &str) -> usize {
        self.outcomes.get(key).copied().unwrap_or(0)
    }
}

/// The template of an image fit to be a reference image: exactly one face,
/// passing the quality gate.
pub fn reference_template(
    engine: &FaceEngine,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Vec<f32>, Outcome> {
    let image = vigil_vision::image_io::decode(bytes, limits)
        .map_err(|e| Outcome::Unreadable(e.to_string()))?;
    let faces = engine
        .analyse(&image)
        .map_err(|e| Outcome::Unreadable(e.to_string()))?;
    if faces.is_empty() {
        return Err(Outcome::NoFace);
    }
    if faces.len() > 1 {
        return Err(Outcome::Rejected(vec![format!(
            "{} faces; a custody image shows one person",
            faces.len()
        )]));
    }
    let f = &faces[0];
    if !f.verdict.passed {
        return Err(Outcome::Rejected(f.verdict.reasons.clone()));
    }
    f.template
        .as_ref()
        .map(|t| t.vector.clone())
        .ok_or_else(|| Outcome::Unreadable("no recogniser loaded".into()))
}

/// Images under `dir/<subject>/`, sorted (so runs are repeatable).
pub fn reference_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, EnrolError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EnrolError::Folder { path, source }
    };
    let mut out = Vec::new();
    for subject in std::fs::read_dir(dir).map_err(io(dir))? {
        let subject = subject.map_err(io(dir))?;
        if !subject.file_type().map_err(io(dir))?.is_dir() {
            continue;
        }
        let name = subject.file_name().to_string_lossy().into_owned();
        let sdir = subject.path();
        for f in std::fs::read_dir(&sdir).map_err(io(&sdir))? {
            let f = f.map_err(io(&sdir))?;
            if f.file_type().map_err(io(&sdir))?.is_file() {
                out.push((name.clone(), f.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A reason with its numbers replaced by `N` ("inter-eye distance N px is
/// below N px"), so the summary counts kinds of failure.
pub fn reason_kind(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut in_number = false;
    for c in r.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Enrols one image (skipped when already enrolled).
fn enrol_one(
    rt: &tokio::runtime::Handle,
    store: &Store,
    engine: &FaceEngine,
    limits: DecodeLimits,
    pack: &str,
    subject: &str,
    path: &Path,
) -> Outcome {
    let file = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let source = format!("{subject}/{file}");
    if rt
        .block_on(store.reference_enrolled(subject, &source, pack))
        .unwrap_or(false)
    {
        return Outcome::AlreadyEnrolled;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Outcome::Unreadable(e.to_string()),
    };
    match reference_template(engine, &bytes, limits) {
        Ok(v) => {
            let admin = vigil_core::access::system_user();
            match rt.block_on(store.enrol_reference(&admin, subject, &source, &bytes, pack, &v)) {
                Ok(_) => Outcome::Enrolled,
                Err(e) => Outcome::Unreadable(format!("store: {e}")),
            }
        }
        Err(o) => o,
    }
}

/// Enrols every image under `dir/<subject>/` on `jobs` threads; `progress`
/// hears of each image as it is done (with the error of one that could not
/// be read). Call from outside the runtime `rt` drives.
pub fn enrol_bulk(
    rt: &tokio::runtime::Handle,
    store: &Store,
    engine: &FaceEngine,
    limits: DecodeLimits,
    dir: &Path,
    jobs: usize,
    progress: &(dyn Fn(&Path, Option<&str>) + Sync),
) -> Result<BulkReport, EnrolError> {
    let pack = engine
        .recogniser()
        .map(|r| r.id().to_string())
        .ok_or(EnrolError::NoRecogniser)?;
    let queue = Mutex::new(reference_files(dir)?.into_iter());
    let tally: Mutex<BTreeMap<&'static str, usize>> = Mutex::default();
    let reasons: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some((subject, path)) = queue.lock().unwrap_or_else(|p| p.into_inner()).next()
                else {
                    break;
                };
                let outcome = enrol_one(rt, store, engine, limits, &pack, &subject, &path);
                match &outcome {
                    Outcome::Rejected(rs) => {
                        let mut m = reasons.lock().unwrap_or_else(|p| p.into_inner());
                        for r in rs {
                            // Numbers differ per image; the reason's kind is what a summary needs.
                            *m.entry(reason_kind(r)).or_default() += 1;
                        }
                        progress(&path, None);
                    }
                    Outcome::Unreadable(e) => progress(&path, Some(e)),
                    _ => progress(&path, None),
                }
                *tally
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(outcome.key())
                    .or_default() += 1;
            });
        }
    });
    let outcomes = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let seconds = started.elapsed().as_secs_f64();
    let enrolled = outcomes.get("enrolled").copied().unwrap_or(0);
    let reference_templates = rt.block_on(store.reference_templates(&pack))?.len();
    Ok(BulkReport {
        pack,
        outcomes,
        quality_reject_reasons: reasons.into_inner().unwrap_or_else(|p| p.into_inner()),
        seconds,
        enrolled_per_s: enrolled as f64 / seconds.max(1e-9),
        reference_templates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_by_kind() {
        assert_eq!(
            reason_kind("inter-eye distance 31 px is below 50.5 px"),
            "inter-eye distance N px is below N px"
        );
    }
}
