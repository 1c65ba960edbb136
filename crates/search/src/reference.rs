//! The searchable reference store (custody images) behind one trait,
//! whatever holds it: this process's memory (the CPU or GPU int8 scan) or
//! PostgreSQL + pgvector. Each backend answers with the nearest *images*;
//! turning them into one candidate per subject is written once, here
//! ([`best_subjects`]).
//!
//! The index is a cache: the store's `reference_templates` table is the
//! authoritative copy, and the index is rebuilt from it when the server
//! starts (the `lifecycle` module).

use std::sync::{Arc, Mutex, RwLock};

use vigil_gallery::gpu::{GpuError, GpuScan};
use vigil_gallery::index::FlatIndex;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("template has {got} dimensions, the index {want}")]
    Dimension { got: usize, want: usize },
    /// The backend's own failure (a database error, say).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    #[error("the search thread failed: {0}")]
    Thread(String),
}

/// One reference image's template, as a backend stores it.
#[derive(Debug, Clone)]
pub struct ReferenceRow {
    pub image_id: String,
    pub subject_ref: String,
    pub vector: Vec<f32>,
}

/// What every reference-store backend offers; one set of tests runs on each
/// (`tests/backends.rs`).
#[async_trait::async_trait]
pub trait ReferenceBackend: Send + Sync {
    /// The `n` nearest images, best first, with exact cosine scores.
    async fn nearest(&self, probe: &[f32], n: usize) -> Result<Vec<ReferenceHit>, ReferenceError>;
    /// Adds templates; an image already present is left as it is.
    async fn add(&self, rows: &[ReferenceRow]) -> Result<(), ReferenceError>;
    async fn count(&self) -> Result<usize, ReferenceError>;
    /// The most images one `nearest` call should be asked for (an
    /// approximate index bounds its candidate list).
    fn max_nearest(&self) -> usize {
        usize::MAX
    }
}

/// The best `k` subjects for a probe, each with its best-scoring image: a
/// custody store holds many images of one person, and a reviewer wants `k`
/// different people, not one person `k` times. Asks the backend for more
/// images until `k` subjects are found or the store runs out.
pub async fn best_subjects(
    backend: &dyn ReferenceBackend,
    probe: &[f32],
    k: usize,
) -> Result<Vec<ReferenceHit>, ReferenceError> {
    let mut wanted = k.saturating_mul(4).max(k);
    loop {
        let hits = backend.nearest(probe, wanted).await?;
        let exhausted = hits.len() < wanted || wanted >= backend.max_nearest();
        let out = one_per_subject(hits, k);
        if out.len() == k || exhausted {
            return Ok(out);
        }
        wanted = wanted.saturating_mul(4).min(backend.max_nearest());
    }
}

/// The first image of each subject, in order, up to `k` subjects.
pub fn one_per_subject(hits: Vec<ReferenceHit>, k: usize) -> Vec<ReferenceHit> {
    let mut out: Vec<ReferenceHit> = Vec::with_capacity(k);
    for h in hits {
        if out.len() == k {
            break;
        }
        if out.iter().all(|o| o.subject_ref != h.subject_ref) {
            out.push(h);
        }
    }
    out
}

/// A ranked candidate from the reference store: a lead for a human to
/// review, never an identification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReferenceHit {
    pub image_id: String,
    pub subject_ref: String,
    /// Cosine similarity (exact, after the int8 scan's re-scoring).
    pub score: f32,
}

pub struct ReferenceIndex {
    pack: String,
    index: FlatIndex,
    rows: Vec<(String, String)>,
    /// The int8 scan on a GPU, when enabled and one is present; uploaded
    /// again after enrolments (it answers only for the rows it holds).
    gpu: Option<Mutex<GpuScan>>,
}

impl ReferenceIndex {
    pub fn new(pack: &str, dim: usize) -> Self {
        Self {
            pack: pack.to_string(),
            index: FlatIndex::new(dim),
            rows: Vec::new(),
            gpu: None,
        }
    }

    /// Searches on the GPU from now on (the CPU scan stays the fallback);
    /// returns the device's name, or why there is none.
    pub fn enable_gpu(&mut self) -> Result<String, GpuError> {
        let scan = GpuScan::new(&self.index)?;
        let name = scan.device().to_string();
        self.gpu = Some(Mutex::new(scan));
        Ok(name)
    }

    /// The GPU's answer, when it holds every row (re-uploading once after
    /// enrolments); None sends the search to the CPU.
    fn gpu_search(&self, probe: &[f32], wanted: usize) -> Option<Vec<vigil_gallery::index::Hit>> {
        let mut scan = self.gpu.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
        if scan.len() != self.index.len() {
            *scan = GpuScan::new(&self.index).ok()?;
        }
        scan.search(&self.index, probe, wanted, wanted.max(200))
            .ok()
    }

    pub fn pack(&self) -> &str {
        &self.pack
    }

    pub fn dim(&self) -> usize {
        self.index.dim()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds one template; one of another dimension is refused (it came from
    /// another model pack and its scores would mean nothing here).
    pub fn add(
        &mut self,
        image_id: &str,
        subject_ref: &str,
        vector: &[f32],
    ) -> Result<(), ReferenceError> {
        if vector.len() != self.index.dim() {
            return Err(ReferenceError::Dimension {
                got: vector.len(),
                want: self.index.dim(),
            });
        }
        self.index.push(self.rows.len() as u64, vector);
        self.rows
            .push((image_id.to_string(), subject_ref.to_string()));
        Ok(())
    }

    /// The `n` nearest images, best first (the GPU's scan when it holds
    /// every row, else the CPU's); exact scores after the int8 scan.
    pub fn nearest(&self, probe: &[f32], n: usize) -> Result<Vec<ReferenceHit>, ReferenceError> {
        if probe.len() != self.index.dim() {
            return Err(ReferenceError::Dimension {
                got: probe.len(),
                want: self.index.dim(),
            });
        }
        let hits = self
            .gpu_search(probe, n)
            .unwrap_or_else(|| self.index.search(probe, n, n.max(200)));
        Ok(hits
            .into_iter()
            .map(|h| {
                let (image_id, subject_ref) = &self.rows[h.id as usize];
                ReferenceHit {
                    image_id: image_id.clone(),
                    subject_ref: subject_ref.clone(),
                    score: h.score,
                }
            })
            .collect())
    }
}

/// The in-memory index as a backend: scans run on the blocking pool, so a
/// search of millions never stalls the server's request threads.
#[derive(Clone)]
pub struct MemoryReference(pub Arc<RwLock<ReferenceIndex>>);

impl MemoryReference {
    pub fn new(index: ReferenceIndex) -> Self {
        Self(Arc::new(RwLock::new(index)))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ReferenceIndex> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl ReferenceBackend for MemoryReference {
    async fn nearest(&self, probe: &[f32], n: usize) -> Result<Vec<ReferenceHit>, ReferenceError> {
        let (me, probe) = (self.clone(), probe.to_vec());
        tokio::task::spawn_blocking(move || me.read().nearest(&probe, n))
            .await
            .map_err(|e| ReferenceError::Thread(e.to_string()))?
    }

    async fn add(&self, rows: &[ReferenceRow]) -> Result<(), ReferenceError> {
        let mut index = self.0.write().unwrap_or_else(|p| p.into_inner());
        for r in rows {
            index.add(&r.image_id, &r.subject_ref, &r.vector)?;
        }
        Ok(())
    }

    async fn count(&self) -> Result<usize, ReferenceError> {
        Ok(self.read().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_candidate_per_subject_best_image_first() {
        let mut r = ReferenceIndex::new("p", 2);
        r.add("a1", "A", &[1.0, 0.0]).unwrap();
        r.add("a2", "A", &[0.9, 0.436]).unwrap();
        r.add("b1", "B", &[0.0, 1.0]).unwrap();
        assert!(r.add("x", "X", &[1.0]).is_err());
        let r = MemoryReference::new(r);
        let hits = best_subjects(&r, &[1.0, 0.0], 5).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].image_id, "a1");
        assert_eq!(hits[1].subject_ref, "B");
        assert_eq!(best_subjects(&r, &[1.0, 0.0], 1).await.unwrap().len(), 1);
        assert!(best_subjects(&r, &[1.0], 1).await.is_err());
    }

    /// Where a GPU is present (the lent H100), the reference index answers
    /// from it exactly as from the CPU, also after an enrolment.
    #[test]
    fn gpu_and_cpu_reference_searches_agree() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut unit = || {
            let v: Vec<f32> = (0..128).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let mut cpu = ReferenceIndex::new("p", 128);
        let mut gpu = ReferenceIndex::new("p", 128);
        for i in 0..50_000 {
            let v = unit();
            cpu.add(&format!("i{i}"), &format!("S{}", i / 3), &v)
                .unwrap();
            gpu.add(&format!("i{i}"), &format!("S{}", i / 3), &v)
                .unwrap();
        }
        if let Err(e) = gpu.enable_gpu() {
            eprintln!("no GPU here ({e}); the CPU path is tested elsewhere");
            return;
        }
        let probe = unit();
        let late = unit();
        for (r, v) in [(&mut cpu, &late), (&mut gpu, &late)] {
            r.add("late", "LATE", v).unwrap();
        }
        for q in [&probe, &late] {
            let (a, b) = (cpu.nearest(q, 20).unwrap(), gpu.nearest(q, 20).unwrap());
            assert_eq!(a, b);
        }
        assert_eq!(
            gpu.nearest(&late, 1).unwrap()[0].subject_ref,
            "LATE",
            "enrolled after the upload"
        );
    }
}
