//! Every pair of a labelled set, scored once, streamed into score lists.
//!
//! No pair index is ever materialised: rows are dealt to threads, each
//! thread scores its rows against every later row and flushes scores in
//! blocks. When a set has more non-mated pairs than asked for, each is kept
//! with the same probability (a seeded Bernoulli draw), so the kept scores
//! are an unbiased sample of the whole; mated pairs and pairs inside a
//! labelling scheme or demographic group are always all kept.

use std::sync::Mutex;

use rand::{Rng, SeedableRng};

use crate::ident::Templates;
use crate::scores::Scores;

/// Labels the pairs are split by.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    /// Group of each row (index into `schemes_of`), if labelled.
    pub group: &'a [Option<u32>],
    /// Which labelling scheme (one CSV) each group belongs to: pairs count
    /// towards a scheme's overall rate when both rows carry its labels.
    pub scheme_of: &'a [u32],
    pub schemes: usize,
    /// Rows whose pairs with each other stay out of the overall scores
    /// (`all`) and count only inside schemes and groups: a set of
    /// "one image per person" that in fact repeats some people unlabelled
    /// (UTKFace) is clean against another set, not against itself.
    pub apart: Option<&'a [bool]>,
    /// Per-row score offsets: a pair scores `dot - (shift[i] + shift[j]) / 2`
    /// (cohort score normalisation).
    pub shift: Option<&'a [f32]>,
}

pub struct PairOptions {
    pub max_non_mated: usize,
    pub seed: u64,
    pub threads: usize,
}

#[derive(Default)]
pub struct PairScores {
    pub all: Scores,
    /// Non-mated pairs in the set (before sampling).
    pub non_mated_total: u64,
    /// Probability each non-mated pair was kept.
    pub keep_rate: f64,
    /// Overall scores per scheme (every pair, never sampled).
    pub schemes: Vec<Scores>,
    /// Scores inside each group.
    pub groups: Vec<Scores>,
    /// The highest-scoring non-mated pairs `(score, row, row)`, highest
    /// first: where labelling errors and duplicate images show up.
    pub top_non_mated: Vec<(f32, usize, usize)>,
}

/// Non-mated pairs kept in [`PairScores::top_non_mated`].
pub const TOP_PAIRS: usize = 40;

fn keep_top(top: &mut Vec<(f32, usize, usize)>, s: f32, i: usize, j: usize) {
    if top.len() < TOP_PAIRS {
        top.push((s, i, j));
    } else if let Some(min) = top.iter_mut().min_by(|a, b| a.0.total_cmp(&b.0)) {
        if s > min.0 {
            *min = (s, i, j);
        }
    }
}

#[derive(Default)]
struct Lists {
    mated: Vec<f32>,
    non: Vec<f32>,
    scheme: Vec<Vec<f32>>,
    group_mated: Vec<Vec<f32>>,
    group_non: Vec<Vec<f32>>,
    top: Vec<(f32, usize, usize)>,
}

impl Lists {
    fn new(schemes: usize, groups: usize) -> Self {
        Self {
            scheme: vec![Vec::new(); schemes],
            group_mated: vec![Vec::new(); groups],
            group_non: vec![Vec::new(); groups],
            ..Default::default()
        }
    }

    fn len(&self) -> usize {
        self.mated.len()
            + self.non.len()
            + self.scheme.iter().map(Vec::len).sum::<usize>()
            + self.group_non.iter().map(Vec::len).sum::<usize>()
            + self.group_mated.iter().map(Vec::len).sum::<usize>()
    }

    fn drain_into(&mut self, to: &mut Lists) {
        to.mated.append(&mut self.mated);
        to.non.append(&mut self.non);
        for (s, i, j) in self.top.drain(..) {
            keep_top(&mut to.top, s, i, j);
        }
        for (a, b) in to.scheme.iter_mut().zip(&mut self.scheme) {
            a.append(b);
        }
        for (a, b) in to.group_mated.iter_mut().zip(&mut self.group_mated) {
            a.append(b);
        }
        for (a, b) in to.group_non.iter_mut().zip(&mut self.group_non) {
            a.append(b);
        }
    }
}

/// Scores every pair of `t` (rows with the same identity are mated).
pub fn score_pairs(t: &Templates, labels: &Labels, opts: &PairOptions) -> PairScores {
    let n = t.len();
    let groups = labels.scheme_of.len();
    // Mated pairs counted first, to know the non-mated total.
    let mut per_id: std::collections::HashMap<u32, u64> = Default::default();
    for &id in t.identity {
        *per_id.entry(id).or_default() += 1;
    }
    let mated_total: u64 = per_id.values().map(|c| c * (c - 1) / 2).sum();
    let all_pairs = (n as u64) * (n as u64).saturating_sub(1) / 2;
    let apart = labels
        .apart
        .map_or(0, |a| a.iter().filter(|&&x| x).count() as u64);
    let non_mated_total = all_pairs - mated_total - apart * apart.saturating_sub(1) / 2;
    let keep_rate = if non_mated_total as f64 > opts.max_non_mated as f64 {
        opts.max_non_mated as f64 / non_mated_total as f64
    } else {
        1.0
    };
    let shared = Mutex::new(Lists::new(labels.schemes, groups));
    let threads = opts.threads.max(1);
    std::thread::scope(|s| {
        for w in 0..threads {
            let shared = &shared;
            s.spawn(move || {
                let mut rng =
                    rand::rngs::StdRng::seed_from_u64(opts.seed ^ ((w as u64 + 1) * 0x9E37_79B9));
                let mut local = Lists::new(labels.schemes, groups);
                let mut top_min = f32::NEG_INFINITY;
                for i in (w..n).step_by(threads) {
                    let a = t.row(i);
                    let (ia, ga) = (t.identity[i], labels.group[i]);
                    for j in i + 1..n {
                        let mut s = crate::ident::dot(a, t.row(j));
                        if let Some(sh) = labels.shift {
                            s -= 0.5 * (sh[i] + sh[j]);
                        }
                        let mated = ia == t.identity[j];
                        let gb = labels.group[j];
                        let same_group = match (ga, gb) {
                            (Some(x), Some(y)) if x == y => Some(x as usize),
                            _ => None,
                        };
                        if mated {
                            local.mated.push(s);
                            if let Some(g) = same_group {
                                local.group_mated[g].push(s);
                            }
                            continue;
                        }
                        if let Some(g) = same_group {
                            local.group_non[g].push(s);
                        }
                        if let (Some(x), Some(y)) = (ga, gb) {
                            let (sx, sy) =
                                (labels.scheme_of[x as usize], labels.scheme_of[y as usize]);
                            if sx == sy {
                                local.scheme[sx as usize].push(s);
                            }
                        }
                        if labels.apart.is_some_and(|ap| ap[i] && ap[j]) {
                            continue;
                        }
                        if local.top.len() < TOP_PAIRS || s > top_min {
                            keep_top(&mut local.top, s, i, j);
                            if local.top.len() == TOP_PAIRS {
                                top_min =
                                    local.top.iter().map(|t| t.0).fold(f32::INFINITY, f32::min);
                            }
                        }
                        if keep_rate < 1.0 && rng.gen::<f64>() >= keep_rate {
                            continue;
                        }
                        local.non.push(s);
                    }
                    if local.len() > 1 << 20 {
                        if let Ok(mut sh) = shared.lock() {
                            local.drain_into(&mut sh);
                        }
                    }
                }
                if let Ok(mut sh) = shared.lock() {
                    local.drain_into(&mut sh);
                }
            });
        }
    });
    let mut l = shared.into_inner().unwrap_or_default();
    l.top.sort_by(|a, b| b.0.total_cmp(&a.0));
    PairScores {
        top_non_mated: std::mem::take(&mut l.top),
        all: Scores::new(l.mated, l.non),
        non_mated_total,
        keep_rate,
        schemes: l
            .scheme
            .into_iter()
            .map(|s| Scores::new(Vec::new(), s))
            .collect(),
        groups: l
            .group_mated
            .into_iter()
            .zip(l.group_non)
            .map(|(m, n)| Scores::new(m, n))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_lands_where_its_labels_say() {
        // Five rows: identities 0,0,1,2,3; groups a,a,a,b,none.
        let data: Vec<f32> = (0..5).flat_map(|i| [1.0f32, i as f32 * 0.1]).collect();
        let identity = [0u32, 0, 1, 2, 3];
        let t = Templates {
            dim: 2,
            data: &data,
            identity: &identity,
        };
        let group = [Some(0u32), Some(0), Some(0), Some(1), None];
        let labels = Labels {
            group: &group,
            scheme_of: &[0, 0],
            schemes: 1,
            apart: None,
            shift: None,
        };
        for threads in [1, 3] {
            let p = score_pairs(
                &t,
                &labels,
                &PairOptions {
                    max_non_mated: 100,
                    seed: 1,
                    threads,
                },
            );
            assert_eq!(p.all.mated.len(), 1);
            assert_eq!(p.all.non_mated.len(), 9);
            assert_eq!(p.non_mated_total, 9);
            // Labelled rows 0..4: 6 pairs, one mated -> 5 non-mated.
            assert_eq!(p.schemes[0].non_mated.len(), 5);
            // Inside group a: rows 0,1,2 -> (0,1) mated, (0,2), (1,2).
            assert_eq!(p.groups[0].mated.len(), 1);
            assert_eq!(p.groups[0].non_mated.len(), 2);
            assert_eq!(p.groups[1].non_mated.len(), 0);
        }
    }

    #[test]
    fn pairs_inside_an_apart_set_count_only_in_its_groups() {
        // Rows 0,1 labelled (identity 0 twice); rows 2,3,4 a single-image
        // set, all in group 0.
        let data: Vec<f32> = (0..5).flat_map(|i| [1.0f32, i as f32]).collect();
        let identity = [0u32, 0, 1, 2, 3];
        let t = Templates {
            dim: 2,
            data: &data,
            identity: &identity,
        };
        let group = [None, None, Some(0u32), Some(0), Some(0)];
        let apart = [false, false, true, true, true];
        let labels = Labels {
            group: &group,
            scheme_of: &[0],
            schemes: 1,
            apart: Some(&apart),
            shift: None,
        };
        let p = score_pairs(
            &t,
            &labels,
            &PairOptions {
                max_non_mated: 100,
                seed: 1,
                threads: 2,
            },
        );
        // 10 pairs: 1 mated, 3 inside the apart set, 6 across.
        assert_eq!(p.all.mated.len(), 1);
        assert_eq!(p.all.non_mated.len(), 6);
        assert_eq!(p.non_mated_total, 6);
        assert_eq!(p.groups[0].non_mated.len(), 3);
        assert_eq!(p.schemes[0].non_mated.len(), 3);
    }

    #[test]
    fn sampling_keeps_about_the_asked_number_and_every_mated_pair() {
        let n = 400;
        let data: Vec<f32> = (0..n).flat_map(|i| [1.0f32, (i % 7) as f32]).collect();
        let identity: Vec<u32> = (0..n as u32).map(|i| i / 2).collect();
        let t = Templates {
            dim: 2,
            data: &data,
            identity: &identity,
        };
        let group = vec![None; n];
        let labels = Labels {
            group: &group,
            scheme_of: &[],
            schemes: 0,
            apart: None,
            shift: None,
        };
        let p = score_pairs(
            &t,
            &labels,
            &PairOptions {
                max_non_mated: 10_000,
                seed: 2,
                threads: 2,
            },
        );
        assert_eq!(p.all.mated.len(), n / 2);
        let kept = p.all.non_mated.len() as f64;
        assert!((kept / 10_000.0 - 1.0).abs() < 0.05, "{kept}");
        assert!(p.keep_rate < 0.2);
    }
}
