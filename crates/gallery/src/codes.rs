//! A first pass over compact binary codes for stores of millions.
//!
//! The int8 scan reads 128 bytes a template: 1.28 GB a query at 10 million,
//! which two cores cannot stream in under about 100 ms. Here each template
//! also gets a 32-byte code — the signs of its coordinates after two fixed
//! random rotations (randomised Hadamard transforms, seeded, so codes are
//! the same in every process) — and the Hamming distance between codes
//! estimates the angle between templates. A query counts the distances of
//! every code (a quarter of the int8 scan's bytes, one popcount per 8
//! bytes), keeps a shortlist of the closest, and only those are scored in
//! int8 and then exactly in f32 by the flat index that holds the codes.
//! How long the shortlist must be for a given recall is measured by `vigil
//! bench gallery` and tested on a seeded store.

/// Code length in bits: two rotations of a 128-d template.
pub const CODE_BITS: usize = 256;
const WORDS: usize = CODE_BITS / 64;

/// Rounds of sign flips and Hadamard transforms per rotation (three mix a
/// vector as well as a dense random rotation for this purpose).
const ROUNDS: usize = 3;

/// The fixed seeded rotations and every template's code.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    /// Templates are zero-padded to this power of two.
    width: usize,
    /// For each rotation, `ROUNDS` vectors of ±1 sign flips.
    signs: Vec<Vec<Vec<f32>>>,
    codes: Vec<[u64; WORDS]>,
}

/// splitmix64: a fixed, documented generator, so the rotations (and thus
/// every stored code) never depend on a library's choice of algorithm.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// In-place fast Walsh-Hadamard transform (unnormalised: only signs are
/// kept, so scale does not matter).
fn hadamard(v: &mut [f32]) {
    let mut h = 1;
    while h < v.len() {
        for block in v.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*x + *y, *x - *y);
                *x = s;
                *y = d;
            }
        }
        h *= 2;
    }
}

impl Codes {
    /// Rotations for templates of `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        let width = dim.max(1).next_power_of_two();
        let rotations = CODE_BITS.div_ceil(width);
        let mut state = 0x5649_4749_4c00_0001u64; // "VIGIL", 1
        let signs = (0..rotations)
            .map(|_| {
                (0..ROUNDS)
                    .map(|_| {
                        (0..width)
                            .map(|_| {
                                if splitmix(&mut state) & 1 == 0 {
                                    1.0
                                } else {
                                    -1.0
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Self {
            width,
            signs,
            codes: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Bytes a code takes.
    pub fn bytes_per_code() -> usize {
        WORDS * 8
    }

    /// The code of one template.
    pub fn encode(&self, v: &[f32]) -> [u64; WORDS] {
        let mut code = [0u64; WORDS];
        let mut bit = 0;
        let mut buf = vec![0f32; self.width];
        for rotation in &self.signs {
            buf.fill(0.0);
            buf[..v.len().min(self.width)].copy_from_slice(&v[..v.len().min(self.width)]);
            for flips in rotation {
                for (x, s) in buf.iter_mut().zip(flips) {
                    *x *= s;
                }
                hadamard(&mut buf);
            }
            for x in &buf {
                if bit == CODE_BITS {
                    break;
                }
                if *x >= 0.0 {
                    code[bit / 64] |= 1 << (bit % 64);
                }
                bit += 1;
            }
        }
        code
    }

    /// Adds a template's code (rows in the order of the index's rows).
    pub fn push(&mut self, v: &[f32]) {
        let c = self.encode(v);
        self.codes.push(c);
    }

    /// The `keep` rows whose codes are nearest the query's (ties at the
    /// cut broken by row order), scanned on `threads` threads.
    pub fn shortlist(&self, query: &[f32], keep: usize, threads: usize) -> Vec<u32> {
        let n = self.codes.len();
        if keep >= n {
            return (0..n as u32).collect();
        }
        let q = self.encode(query);
        let t = threads.clamp(1, n.max(1));
        let per = n.div_ceil(t);
        // First pass: every distance (u16) and a histogram per thread.
        let parts: Vec<(Vec<u16>, Vec<u32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..t)
                .map(|i| {
                    let codes = &self.codes[(i * per).min(n)..((i + 1) * per).min(n)];
                    s.spawn(move || {
                        let mut hist = vec![0u32; CODE_BITS + 1];
                        let dist: Vec<u16> = codes
                            .iter()
                            .map(|c| {
                                let d: u32 =
                                    c.iter().zip(&q).map(|(a, b)| (a ^ b).count_ones()).sum();
                                hist[d as usize] += 1;
                                d as u16
                            })
                            .collect();
                        (dist, hist)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        // The cut: the smallest distance at which `keep` rows are reached.
        let mut total = vec![0u32; CODE_BITS + 1];
        for (_, h) in &parts {
            for (t, x) in total.iter_mut().zip(h) {
                *t += x;
            }
        }
        let (mut cut, mut below) = (0usize, 0usize);
        while cut <= CODE_BITS && below + total[cut] as usize <= keep {
            below += total[cut] as usize;
            cut += 1;
        }
        // Everything under the cut, then rows at the cut up to `keep`.
        let mut at_cut = keep - below;
        let mut out = Vec::with_capacity(keep);
        for (i, (dist, _)) in parts.iter().enumerate() {
            for (r, &d) in dist.iter().enumerate() {
                let d = d as usize;
                if d < cut || (d == cut && at_cut > 0) {
                    if d == cut {
                        at_cut -= 1;
                    }
                    out.push((i * per + r) as u32);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: &mut u64, d: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..d)
            .map(|_| (splitmix(seed) >> 11) as f32 / (1u64 << 53) as f32 - 0.5)
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_hadamard_transform_is_its_own_inverse_up_to_scale() {
        let mut v: Vec<f32> = (0..8).map(|i| i as f32 - 3.0).collect();
        let orig = v.clone();
        hadamard(&mut v);
        hadamard(&mut v);
        for (a, b) in v.iter().zip(&orig) {
            assert!((a / 8.0 - b).abs() < 1e-5);
        }
    }

    #[test]
    fn codes_are_fixed_and_hamming_distance_follows_the_angle() {
        let c = Codes::new(128);
        let mut seed = 3;
        let a = unit(&mut seed, 128);
        assert_eq!(c.encode(&a), Codes::new(128).encode(&a), "seeded rotations");
        let ham = |x: &[u64; WORDS], y: &[u64; WORDS]| -> u32 {
            x.iter().zip(y).map(|(p, q)| (p ^ q).count_ones()).sum()
        };
        let neg: Vec<f32> = a.iter().map(|x| -x).collect();
        assert_eq!(ham(&c.encode(&a), &c.encode(&a)), 0);
        // Opposite vectors differ in (almost) every bit (exact zeros aside).
        assert!(ham(&c.encode(&a), &c.encode(&neg)) > 250);
        // A near copy is nearer than an unrelated template.
        let b = unit(&mut seed, 128);
        let near: Vec<f32> = a.iter().zip(&b).map(|(x, y)| 0.9 * x + 0.1 * y).collect();
        assert!(ham(&c.encode(&a), &c.encode(&near)) < ham(&c.encode(&a), &c.encode(&b)));
    }

    #[test]
    fn the_shortlist_keeps_exactly_the_nearest_codes() {
        let mut c = Codes::new(128);
        let mut seed = 9;
        let rows: Vec<Vec<f32>> = (0..5000).map(|_| unit(&mut seed, 128)).collect();
        for r in &rows {
            c.push(r);
        }
        let q = unit(&mut seed, 128);
        let qc = c.encode(&q);
        let dist = |r: usize| -> u32 {
            c.codes[r]
                .iter()
                .zip(&qc)
                .map(|(a, b)| (a ^ b).count_ones())
                .sum()
        };
        for threads in [1, 3] {
            let s = c.shortlist(&q, 100, threads);
            assert_eq!(s.len(), 100);
            let worst_in = s.iter().map(|&r| dist(r as usize)).max().unwrap();
            let best_out = (0..rows.len())
                .filter(|r| !s.contains(&(*r as u32)))
                .map(dist)
                .min()
                .unwrap();
            assert!(worst_in <= best_out, "{worst_in} > {best_out}");
        }
        assert_eq!(c.shortlist(&q, 10_000, 2).len(), 5000);
    }
}
