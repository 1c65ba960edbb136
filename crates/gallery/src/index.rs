//! A flat index for large galleries (custody image stores of millions).
//!
//! Templates sit in one contiguous array, so a search is a streaming scan
//! the CPU can prefetch and vectorise, split across cores. Two stores are
//! kept: int8 (128 bytes a template for 128-d) for the scan, and f32 to
//! re-score the best few exactly. With `rerank` a few times `k` the int8
//! scan loses nothing measurable (recall@50 is measured by `vigil bench
//! gallery`), and the scan reads a quarter of the bytes.
//!
//! From [`CODED_FROM`] templates up, a first pass over 32-byte binary codes
//! ([`crate::codes`]) picks the shortlist the int8 scan scores, so a query
//! at 10 million reads a quarter of the int8 scan's bytes again.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use vigil_core::template::dot;

use crate::codes::Codes;

/// Stores of this many templates or more are searched through the binary
/// codes first (below it the int8 scan is fast enough and exact enough).
pub const CODED_FROM: usize = 1_000_000;

/// How many rows the binary first pass keeps. The length a given recall
/// needs grows more slowly than the store (measured by `vigil bench gallery`
/// on isotropic and on real-face stores: 1/32 of the store gave recall@50
/// 0.971 at 1M but 0.997 at 10M), so it is a floor plus a small fraction:
/// 132,500 rows at 1M (recall 0.997), 245,000 at 10M (0.992–0.994, p50 47
/// ms on two cores), and never fewer than 64 times what the int8 pass
/// keeps, nor more than the store.
pub fn shortlist_len(n: usize, keep: usize) -> usize {
    (120_000 + n / 80).max(keep.saturating_mul(64)).min(n)
}

/// Scale from unit-vector components (|x| <= 1) to int8.
const Q: f32 = 127.0;

#[derive(Debug, Clone, Default)]
pub struct FlatIndex {
    dim: usize,
    ids: Vec<u64>,
    f32s: Vec<f32>,
    i8s: Vec<i8>,
    codes: Codes,
}

/// One search hit: the caller's id and the exact cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub score: f32,
}

/// Min-heap entry (the worst of the current best `k` on top).
#[derive(PartialEq)]
struct Worst(f32, u32);
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then_with(|| self.1.cmp(&o.1))
    }
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

fn quantise(v: &[f32]) -> impl Iterator<Item = i8> + '_ {
    v.iter().map(|x| (x * Q).round().clamp(-127.0, 127.0) as i8)
}

/// Best `k` rows of `rows` (a slice starting at row `first`) by `score`.
fn top_k(n: usize, k: usize, first: usize, score: impl Fn(usize) -> f32) -> Vec<Worst> {
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for r in 0..n {
        let s = score(r);
        if heap.len() < k {
            heap.push(Worst(s, (first + r) as u32));
        } else if heap.peek().is_some_and(|w: &Worst| s > w.0) {
            heap.pop();
            heap.push(Worst(s, (first + r) as u32));
        }
    }
    heap.into_vec()
}

impl FlatIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            codes: Codes::new(dim),
            ..Default::default()
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The caller's id and the template of row `row` (to copy an index
    /// into another backend).
    pub fn row(&self, row: usize) -> Option<(u64, &[f32])> {
        let id = *self.ids.get(row)?;
        Some((id, &self.f32s[row * self.dim..(row + 1) * self.dim]))
    }

    /// Bytes held per template (both stores, the code and the id).
    pub fn bytes_per_template(&self) -> usize {
        self.dim * 5 + Codes::bytes_per_code() + 8
    }

    /// Adds a unit-length template under the caller's `id`.
    ///
    /// # Panics
    /// If `v` does not have the index's dimension (a programming error:
    /// templates are checked against their pack before they get here).
    pub fn push(&mut self, id: u64, v: &[f32]) {
        assert_eq!(v.len(), self.dim, "template dimension");
        assert!(self.ids.len() < u32::MAX as usize, "index full");
        self.ids.push(id);
        self.f32s.extend_from_slice(v);
        self.i8s.extend(quantise(v));
        self.codes.push(v);
    }

    fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Below ~20k rows a thread costs more than it saves.
        cores.min(self.len() / 20_000).max(1)
    }

    /// Runs `scan` over row ranges on every core and merges the best `k`.
    fn parallel_top_k<F>(&self, k: usize, scan: F) -> Vec<Worst>
    where
        F: Fn(usize, usize) -> Vec<Worst> + Sync,
    {
        let n = self.len();
        let t = self.threads();
        let per = n.div_ceil(t);
        let mut all: Vec<Worst> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..t)
                .map(|i| {
                    let scan = &scan;
                    s.spawn(move || {
                        let start = i * per;
                        let end = ((i + 1) * per).min(n);
                        if start >= end {
                            Vec::new()
                        } else {
                            scan(start, end)
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(k);
        all
    }

    fn hits(&self, rows: Vec<Worst>, q: &[f32]) -> Vec<Hit> {
        let mut hits: Vec<Hit> = rows
            .into_iter()
            .map(|w| {
                let r = w.1 as usize;
                Hit {
                    id: self.ids[r],
                    score: dot(&self.f32s[r * self.dim..(r + 1) * self.dim], q),
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits
    }

    /// The int8 store, row after row (what the GPU scan uploads).
    pub fn i8_rows(&self) -> &[i8] {
        &self.i8s
    }

    /// The query as the int8 scan sees it.
    pub fn quantise_query(q: &[f32]) -> Vec<i8> {
        quantise(q).collect()
    }

    /// Exact f32 re-scoring of `rows` (from any int8 scan), best `k`.
    pub fn rerank_rows(&self, rows: &[u32], q: &[f32], k: usize) -> Vec<Hit> {
        let mut hits = self.hits(rows.iter().map(|&r| Worst(0.0, r)).collect(), q);
        hits.truncate(k);
        hits
    }

    /// Exact search: every template scored in f32.
    pub fn search_exact(&self, q: &[f32], k: usize) -> Vec<Hit> {
        if k == 0 || self.is_empty() || q.len() != self.dim {
            return Vec::new();
        }
        let d = self.dim;
        let rows = self.parallel_top_k(k, |start, end| {
            top_k(end - start, k, start, |r| {
                let row = start + r;
                dot(&self.f32s[row * d..(row + 1) * d], q)
            })
        });
        self.hits(rows, q)
    }

    /// The best `k`: through the binary codes first from [`CODED_FROM`]
    /// templates up, else the int8 scan over every row; then exactly.
    pub fn search(&self, q: &[f32], k: usize, rerank: usize) -> Vec<Hit> {
        if self.len() >= CODED_FROM {
            let keep = rerank.max(k);
            self.search_coded(q, k, rerank, shortlist_len(self.len(), keep))
        } else {
            self.search_int8(q, k, rerank)
        }
    }

    /// The binary codes keep the nearest `shortlist` rows, the int8 scan
    /// the best `rerank` (at least `k`) of those, which are re-scored
    /// exactly; the best `k` are returned.
    pub fn search_coded(&self, q: &[f32], k: usize, rerank: usize, shortlist: usize) -> Vec<Hit> {
        if k == 0 || self.is_empty() || q.len() != self.dim {
            return Vec::new();
        }
        let d = self.dim;
        let rows = self.codes.shortlist(q, shortlist, self.threads());
        let qi: Vec<i8> = quantise(q).collect();
        let keep = rerank.max(k);
        let t = self.threads();
        let per = rows.len().div_ceil(t.max(1)).max(1);
        let mut best: Vec<Worst> = std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(per)
                .map(|chunk| {
                    let qi = &qi;
                    s.spawn(move || {
                        top_k(chunk.len(), keep, 0, |i| {
                            let row = chunk[i] as usize;
                            dot_i8(&self.i8s[row * d..(row + 1) * d], qi) as f32
                        })
                        .into_iter()
                        .map(|w| Worst(w.0, chunk[w.1 as usize]))
                        .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        best.truncate(keep);
        let mut hits = self.hits(best, q);
        hits.truncate(k);
        hits
    }

    /// The int8 scan keeps the best `rerank` (at least `k`), which are then
    /// re-scored exactly; the best `k` of those are returned.
    pub fn search_int8(&self, q: &[f32], k: usize, rerank: usize) -> Vec<Hit> {
        if k == 0 || self.is_empty() || q.len() != self.dim {
            return Vec::new();
        }
        let d = self.dim;
        let qi: Vec<i8> = quantise(q).collect();
        let keep = rerank.max(k);
        let rows = self.parallel_top_k(keep, |start, end| {
            top_k(end - start, keep, start, |r| {
                let row = start + r;
                dot_i8(&self.i8s[row * d..(row + 1) * d], &qi) as f32
            })
        });
        let mut hits = self.hits(rows, q);
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_shortlist_grows_more_slowly_than_the_store() {
        assert_eq!(shortlist_len(1_000_000, 200), 132_500);
        assert_eq!(shortlist_len(10_000_000, 200), 245_000);
        assert_eq!(shortlist_len(50_000, 200), 50_000);
        assert_eq!(shortlist_len(1_000_000, 10_000), 640_000);
    }

    fn unit(rng: &mut impl Rng, d: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn exact_and_int8_search_find_a_planted_mate_first() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let d = 128;
        let mut idx = FlatIndex::new(d);
        for i in 0..50_000u64 {
            idx.push(i, &unit(&mut rng, d));
        }
        let probe = unit(&mut rng, d);
        // A mate at cosine ~0.6 to the probe.
        let noise = unit(&mut rng, d);
        let mate: Vec<f32> = probe
            .iter()
            .zip(&noise)
            .map(|(p, n)| 0.6 * p + 0.8 * n)
            .collect();
        let norm = mate.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mate: Vec<f32> = mate.iter().map(|x| x / norm).collect();
        idx.push(999_999, &mate);
        let exact = idx.search_exact(&probe, 50);
        assert_eq!(exact[0].id, 999_999);
        assert!((exact[0].score - 0.6).abs() < 0.1);
        assert!(exact.windows(2).all(|w| w[0].score >= w[1].score));
        let fast = idx.search(&probe, 50, 200);
        assert_eq!(fast[0].id, 999_999);
        // Recall@50 of the int8 scan with reranking against exact search.
        let found = fast
            .iter()
            .filter(|h| exact.iter().any(|e| e.id == h.id))
            .count();
        assert!(found >= 48, "recall {found}/50");
        assert_eq!(
            fast[0].score, exact[0].score,
            "scores are exact after reranking"
        );
    }

    #[test]
    fn small_and_degenerate_searches() {
        let mut idx = FlatIndex::new(2);
        assert!(idx.search(&[1.0, 0.0], 5, 10).is_empty());
        idx.push(7, &[1.0, 0.0]);
        idx.push(8, &[0.0, 1.0]);
        let h = idx.search(&[0.8, 0.6], 5, 10);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].id, 7);
        assert!(
            idx.search(&[1.0, 0.0, 0.0], 5, 10).is_empty(),
            "wrong dimension"
        );
        assert!(idx.search_exact(&[1.0, 0.0], 0).is_empty());
    }

    /// The first pass over binary codes loses nothing when its shortlist is
    /// long enough: on a seeded isotropic store (the hardest case: the
    /// nearest templates are barely nearer than the rest) with planted
    /// mates, the coded search returns exactly the exact search's top 50.
    #[test]
    fn the_binary_shortlist_returns_the_exact_top_50_on_a_seeded_store() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let d = 128;
        let queries: Vec<Vec<f32>> = (0..6).map(|_| unit(&mut rng, d)).collect();
        let mut idx = FlatIndex::new(d);
        for i in 0..60_000u64 {
            idx.push(i, &unit(&mut rng, d));
        }
        for (qi, q) in queries.iter().enumerate() {
            let noise = unit(&mut rng, d);
            let mate: Vec<f32> = q
                .iter()
                .zip(&noise)
                .map(|(p, z)| 0.6 * p + 0.8 * z)
                .collect();
            let n = mate.iter().map(|x| x * x).sum::<f32>().sqrt();
            let mate: Vec<f32> = mate.iter().map(|x| x / n).collect();
            idx.push(1_000_000 + qi as u64, &mate);
        }
        for (qi, q) in queries.iter().enumerate() {
            let exact: Vec<u64> = idx.search_exact(q, 50).iter().map(|h| h.id).collect();
            let coded = idx.search_coded(q, 50, 200, 15_000);
            let ids: Vec<u64> = coded.iter().map(|h| h.id).collect();
            assert_eq!(ids, exact, "query {qi}");
            assert_eq!(ids[0], 1_000_000 + qi as u64, "the planted mate first");
        }
        // A shortlist longer than the store is the whole store.
        let all = idx.search_coded(&queries[0], 50, 200, 1 << 30);
        assert_eq!(all, idx.search_int8(&queries[0], 50, 200));
    }
}
