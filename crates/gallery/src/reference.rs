//! The searchable reference store: custody-image templates in a
//! [`FlatIndex`], each row remembered as (image, subject).
//!
//! The index is a cache: the store's `reference_templates` table is the
//! authoritative copy, and the index is rebuilt from it when the server
//! starts and extended as images are enrolled.

use std::sync::Mutex;

use crate::gpu::{GpuError, GpuScan};
use crate::index::FlatIndex;

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
    fn gpu_search(&self, probe: &[f32], wanted: usize) -> Option<Vec<crate::index::Hit>> {
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
    pub fn add(&mut self, image_id: &str, subject_ref: &str, vector: &[f32]) -> Result<(), String> {
        if vector.len() != self.index.dim() {
            return Err(format!(
                "template has {} dimensions, the index {}",
                vector.len(),
                self.index.dim()
            ));
        }
        self.index.push(self.rows.len() as u64, vector);
        self.rows
            .push((image_id.to_string(), subject_ref.to_string()));
        Ok(())
    }

    /// The best `k` subjects for a probe, each with its best-scoring image:
    /// a custody store holds many images of one person, and a reviewer
    /// wants `k` different people, not one person `k` times.
    pub fn search(&self, probe: &[f32], k: usize) -> Vec<ReferenceHit> {
        if probe.len() != self.index.dim() {
            return Vec::new();
        }
        let mut wanted = k.saturating_mul(4).max(k);
        loop {
            let hits = self
                .gpu_search(probe, wanted)
                .unwrap_or_else(|| self.index.search(probe, wanted, wanted.max(200)));
            let exhausted = hits.len() < wanted;
            let mut out: Vec<ReferenceHit> = Vec::with_capacity(k);
            for h in hits {
                let (image_id, subject_ref) = &self.rows[h.id as usize];
                if out.iter().any(|o| &o.subject_ref == subject_ref) {
                    continue;
                }
                out.push(ReferenceHit {
                    image_id: image_id.clone(),
                    subject_ref: subject_ref.clone(),
                    score: h.score,
                });
                if out.len() == k {
                    return out;
                }
            }
            if exhausted {
                return out;
            }
            wanted = wanted.saturating_mul(4);
        }
    }
}

/// What every reference-store backend offers, so one set of tests runs on
/// each: the in-memory [`ReferenceIndex`] and pgvector.
#[allow(async_fn_in_trait)]
pub trait ReferenceBackend {
    async fn add(
        &mut self,
        image_id: &str,
        subject_ref: &str,
        vector: &[f32],
    ) -> Result<(), String>;
    async fn search(&self, probe: &[f32], k: usize) -> Result<Vec<ReferenceHit>, String>;
    async fn count(&self) -> Result<usize, String>;
}

impl ReferenceBackend for ReferenceIndex {
    async fn add(
        &mut self,
        image_id: &str,
        subject_ref: &str,
        vector: &[f32],
    ) -> Result<(), String> {
        ReferenceIndex::add(self, image_id, subject_ref, vector)
    }

    async fn search(&self, probe: &[f32], k: usize) -> Result<Vec<ReferenceHit>, String> {
        if probe.len() != self.dim() {
            return Err(format!(
                "template has {} dimensions, the index {}",
                probe.len(),
                self.dim()
            ));
        }
        Ok(ReferenceIndex::search(self, probe, k))
    }

    async fn count(&self) -> Result<usize, String> {
        Ok(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_candidate_per_subject_best_image_first() {
        let mut r = ReferenceIndex::new("p", 2);
        r.add("a1", "A", &[1.0, 0.0]).unwrap();
        r.add("a2", "A", &[0.9, 0.436]).unwrap();
        r.add("b1", "B", &[0.0, 1.0]).unwrap();
        assert!(r.add("x", "X", &[1.0]).is_err());
        let hits = r.search(&[1.0, 0.0], 5);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].image_id, "a1");
        assert_eq!(hits[1].subject_ref, "B");
        assert_eq!(r.search(&[1.0, 0.0], 1).len(), 1);
        assert!(r.search(&[1.0], 1).is_empty());
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
            let (a, b) = (cpu.search(q, 20), gpu.search(q, 20));
            assert_eq!(a, b);
        }
        assert_eq!(
            gpu.search(&late, 1)[0].subject_ref,
            "LATE",
            "enrolled after the upload"
        );
    }
}
