//! The int8 scan of a [`FlatIndex`] on an NVIDIA GPU.
//!
//! The int8 store is uploaded once; each search runs one kernel
//! (`cuda/scan.cu`, shipped as PTX that the driver compiles for the GPU in
//! hand) that scores every template and returns those above a threshold.
//! The threshold adapts so that at least the `rerank` best come back, and
//! those are re-scored exactly in f32 on the host — the same answer as
//! [`FlatIndex::search`], faster. Without a CUDA driver or device,
//! [`GpuScan::new`] says so and callers stay on the CPU.

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};

use crate::index::{FlatIndex, Hit};

const PTX: &str = include_str!("../cuda/scan.ptx");
/// Most rows one search may bring back before the threshold is raised.
const CAP: usize = 1 << 16;
/// int8 scores are cosine × 127².
const UNIT: f32 = 127.0 * 127.0;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no CUDA driver on this machine")]
    NoDriver,
    #[error("CUDA: {0}")]
    Cuda(#[from] cudarc::driver::DriverError),
    #[error("the GPU scan needs a template dimension divisible by 4, not {0}")]
    Dimension(usize),
}

pub struct GpuScan {
    stream: Arc<CudaStream>,
    kernel: CudaFunction,
    gallery: CudaSlice<i8>,
    query: CudaSlice<i8>,
    count: CudaSlice<u32>,
    rows: CudaSlice<u32>,
    scores: CudaSlice<i32>,
    n: usize,
    dim: usize,
    /// Where the last search found its `rerank`-th row, as a start.
    threshold: f32,
    device: String,
}

impl GpuScan {
    /// Uploads `index`'s int8 store to GPU 0.
    pub fn new(index: &FlatIndex) -> Result<Self, GpuError> {
        // Loading is lazy in cudarc and panics without the library: ask first.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(GpuError::NoDriver);
        }
        if !index.dim().is_multiple_of(4) {
            return Err(GpuError::Dimension(index.dim()));
        }
        let ctx = CudaContext::new(0)?;
        let device = ctx.name()?;
        let stream = ctx.default_stream();
        let module = ctx.load_module(cudarc::nvrtc::Ptx::from_src(PTX))?;
        let kernel = module.load_function("score_select")?;
        let gallery = if index.is_empty() {
            stream.alloc_zeros::<i8>(4)?
        } else {
            stream.clone_htod(index.i8_rows())?
        };
        Ok(Self {
            query: stream.alloc_zeros::<i8>(index.dim())?,
            count: stream.alloc_zeros::<u32>(1)?,
            rows: stream.alloc_zeros::<u32>(CAP)?,
            scores: stream.alloc_zeros::<i32>(CAP)?,
            stream,
            kernel,
            gallery,
            n: index.len(),
            dim: index.dim(),
            threshold: 0.25,
            device,
        })
    }

    /// Templates uploaded.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The GPU's name, for logs and benchmark reports.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Rows whose int8 score passes `t` (cosine units): (row, score).
    fn above(&mut self, t: f32) -> Result<(usize, Vec<(u32, i32)>), GpuError> {
        self.stream.memset_zeros(&mut self.count)?;
        let threads = self.n as u64 * 32;
        let cfg = LaunchConfig {
            grid_dim: (threads.div_ceil(256) as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let (n, words, cap) = (self.n as u32, (self.dim / 4) as u32, CAP as u32);
        let threshold = (t * UNIT).floor() as i32;
        let mut launch = self.stream.launch_builder(&self.kernel);
        launch
            .arg(&self.gallery)
            .arg(&self.query)
            .arg(&n)
            .arg(&words)
            .arg(&threshold)
            .arg(&mut self.count)
            .arg(&mut self.rows)
            .arg(&mut self.scores)
            .arg(&cap);
        // SAFETY: the arguments match `score_select`'s parameters in
        // cuda/scan.cu, and every buffer is as large as the kernel indexes.
        unsafe { launch.launch(cfg) }?;
        let found = self.stream.clone_dtoh(&self.count)?[0] as usize;
        if found == 0 || found > CAP {
            return Ok((found, Vec::new()));
        }
        let rows = self.stream.clone_dtoh(&self.rows.slice(..found))?;
        let scores = self.stream.clone_dtoh(&self.scores.slice(..found))?;
        Ok((found, rows.into_iter().zip(scores).collect()))
    }

    /// As [`FlatIndex::search`] (same `index` as uploaded).
    pub fn search(
        &mut self,
        index: &FlatIndex,
        q: &[f32],
        k: usize,
        rerank: usize,
    ) -> Result<Vec<Hit>, GpuError> {
        if k == 0 || self.n == 0 || q.len() != self.dim {
            return Ok(Vec::new());
        }
        let keep = rerank.max(k).min(self.n);
        self.stream
            .memcpy_htod(&FlatIndex::quantise_query(q), &mut self.query)?;
        let (mut lo, mut hi) = (-1.01f32, 1.01f32); // every row passes lo, none passes hi
        let mut t = self.threshold.clamp(lo, hi);
        let mut found = Vec::new();
        for _ in 0..40 {
            let (n, rows) = self.above(t)?;
            if n < keep {
                hi = t;
                t = if t - lo > 0.1 {
                    t - 0.1
                } else {
                    (t + lo) / 2.0
                };
            } else if n > CAP {
                lo = t;
                t = if hi - t > 0.1 {
                    t + 0.1
                } else {
                    (t + hi) / 2.0
                };
            } else {
                found = rows;
                break;
            }
            if hi - lo < 1.0 / UNIT {
                break;
            }
        }
        if found.len() < keep {
            // Ties at one int8 score wider than CAP: the CPU scan is exact.
            return Ok(index.search(q, k, rerank));
        }
        found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(keep);
        if let Some(last) = found.last() {
            self.threshold = last.1 as f32 / UNIT - 0.02;
        }
        let rows: Vec<u32> = found.iter().map(|r| r.0).collect();
        Ok(index.rerank_rows(&rows, q, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Runs where a CUDA GPU is present (the lent GPU machine); elsewhere it
    /// checks that the absence is reported as an error, not a panic.
    #[test]
    fn gpu_scan_returns_what_the_cpu_scan_returns() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let d = 128;
        let unit = |rng: &mut rand::rngs::StdRng| {
            let v: Vec<f32> = (0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let mut idx = FlatIndex::new(d);
        for i in 0..200_000u64 {
            idx.push(i, &unit(&mut rng));
        }
        let mut gpu = match GpuScan::new(&idx) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("no GPU scan here ({e}); the CPU scan serves");
                return;
            }
        };
        eprintln!("GPU scan on {}", gpu.device());
        for _ in 0..20 {
            let q = unit(&mut rng);
            let cpu = idx.search(&q, 50, 200);
            let g = gpu.search(&idx, &q, 50, 200).unwrap();
            assert_eq!(g.len(), 50);
            let same = g
                .iter()
                .filter(|h| cpu.iter().any(|c| c.id == h.id))
                .count();
            assert!(same >= 49, "{same}/50 in common");
            assert_eq!(g[0].score, cpu[0].score);
        }
    }
}
