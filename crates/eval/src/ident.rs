//! Identification as Live Facial Recognition sees it: a probe is searched
//! against a gallery of N enrolled people; an Alert is raised when the best
//! score reaches the Threshold.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use vigil_core::metrics::wilson_interval;

/// One usable face of a labelled set.
#[derive(Debug, Clone)]
pub struct Sample {
    pub identity: String,
    /// Unit-length template.
    pub template: Vec<f32>,
    /// Group label of the identity, for fairness reports only.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentResult {
    pub gallery_size: usize,
    pub threshold: f64,
    /// Random galleries drawn (seeded) and averaged over.
    pub draws: usize,
    pub mated_searches: usize,
    pub non_mated_searches: usize,
    /// Mated searches where the right person was not the top candidate at
    /// or above the Threshold (1 - True Recognition Rate).
    pub fnir: Option<f64>,
    /// Non-mated searches with any candidate at or above the Threshold
    /// (false Alerts per passer-by not on the Watchlist).
    pub fpir: Option<f64>,
    pub fpir_ci95: Option<(f64, f64)>,
    /// The rule of thumb FPIR ~ 1 - (1 - FMR)^N with the measured FMR.
    pub fpir_predicted: f64,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// Searches with galleries of `n` identities (one image each, drawn at
/// random `draws` times with `seed`): mated probes are the other images of
/// enrolled identities, non-mated probes every image of the others.
pub fn identification(
    samples: &[Sample],
    n: usize,
    threshold: f64,
    fmr_at_threshold: f64,
    draws: usize,
    seed: u64,
) -> IdentResult {
    let mut identities: Vec<&str> = samples.iter().map(|s| s.identity.as_str()).collect();
    identities.sort_unstable();
    identities.dedup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut mated, mut mated_miss, mut non, mut non_hit) = (0usize, 0usize, 0usize, 0usize);
    let n = n.min(identities.len().saturating_sub(1)).max(1);
    for _ in 0..draws {
        let mut ids = identities.clone();
        ids.shuffle(&mut rng);
        let enrolled: Vec<&str> = ids[..n].to_vec();
        // The gallery image of each enrolled identity: a random one of theirs.
        let mut gallery: Vec<(&str, usize)> = Vec::with_capacity(n);
        for id in &enrolled {
            let mut own: Vec<usize> = (0..samples.len())
                .filter(|&i| samples[i].identity == *id)
                .collect();
            own.shuffle(&mut rng);
            gallery.push((id, own[0]));
        }
        for (i, probe) in samples.iter().enumerate() {
            if gallery.iter().any(|&(_, g)| g == i) {
                continue;
            }
            let best = gallery
                .iter()
                .map(|&(id, g)| (id, dot(&probe.template, &samples[g].template)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((top, score)) = best else { continue };
            if enrolled.contains(&probe.identity.as_str()) {
                mated += 1;
                if !(top == probe.identity && score >= threshold) {
                    mated_miss += 1;
                }
            } else {
                non += 1;
                if score >= threshold {
                    non_hit += 1;
                }
            }
        }
    }
    IdentResult {
        gallery_size: n,
        threshold,
        draws,
        mated_searches: mated,
        non_mated_searches: non,
        fnir: (mated > 0).then(|| mated_miss as f64 / mated as f64),
        fpir: (non > 0).then(|| non_hit as f64 / non as f64),
        fpir_ci95: wilson_interval(non_hit as u64, non as u64),
        fpir_predicted: 1.0 - (1.0 - fmr_at_threshold).powf(n as f64),
    }
}

/// Error rates of one demographic group at the operating Threshold.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRates {
    pub group: String,
    pub mated_pairs: usize,
    pub non_mated_pairs: usize,
    pub fnmr: Option<f64>,
    pub fnmr_ci95: Option<(f64, f64)>,
    pub fmr: Option<f64>,
    pub fmr_ci95: Option<(f64, f64)>,
}

/// One scored pair with the groups of its two faces.
#[derive(Debug, Clone)]
pub struct Pair {
    pub score: f64,
    pub mated: bool,
    pub groups: (Option<String>, Option<String>),
}

/// Per-group FMR (non-mated pairs within the group, as NIST's demographic
/// reports count them) and FNMR, with 95 % Wilson intervals.
pub fn group_rates(pairs: &[Pair], threshold: f64) -> Vec<GroupRates> {
    let mut groups: Vec<&str> = pairs
        .iter()
        .filter_map(|p| match &p.groups {
            (Some(a), Some(b)) if a == b => Some(a.as_str()),
            _ => None,
        })
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
        .into_iter()
        .map(|g| {
            let inside = pairs
                .iter()
                .filter(|p| p.groups.0.as_deref() == Some(g) && p.groups.1.as_deref() == Some(g));
            let (mut m, mut m_miss, mut nm, mut nm_hit) = (0u64, 0u64, 0u64, 0u64);
            for p in inside {
                if p.mated {
                    m += 1;
                    m_miss += u64::from(p.score < threshold);
                } else {
                    nm += 1;
                    nm_hit += u64::from(p.score >= threshold);
                }
            }
            GroupRates {
                group: g.to_string(),
                mated_pairs: m as usize,
                non_mated_pairs: nm as usize,
                fnmr: (m > 0).then(|| m_miss as f64 / m as f64),
                fnmr_ci95: wilson_interval(m_miss, m),
                fmr: (nm > 0).then(|| nm_hit as f64 / nm as f64),
                fmr_ci95: wilson_interval(nm_hit, nm),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> Vec<f32> {
        vec![angle.cos(), angle.sin()]
    }

    #[test]
    fn identification_counts_misses_and_false_alerts() {
        // Three identities far apart on the circle, two images each, close.
        let mut s = Vec::new();
        for (k, id) in ["a", "b", "c"].iter().enumerate() {
            for d in [0.0, 0.05] {
                s.push(Sample {
                    identity: id.to_string(),
                    template: unit(k as f32 * 2.0 + d),
                    group: None,
                });
            }
        }
        let r = identification(&s, 2, 0.9, 0.0, 20, 1);
        assert_eq!(r.fnir, Some(0.0));
        assert_eq!(r.fpir, Some(0.0));
        assert_eq!(r.mated_searches, 2 * 20);
        assert_eq!(r.non_mated_searches, 2 * 20);
        // A threshold of -1 raises an Alert for everyone.
        let r = identification(&s, 2, -1.0, 1.0, 5, 1);
        assert_eq!(r.fpir, Some(1.0));
    }

    #[test]
    fn group_rates_use_pairs_within_each_group() {
        let g = |a: &str, b: &str| (Some(a.to_string()), Some(b.to_string()));
        let pairs = vec![
            Pair {
                score: 0.9,
                mated: true,
                groups: g("x", "x"),
            },
            Pair {
                score: 0.2,
                mated: true,
                groups: g("x", "x"),
            },
            Pair {
                score: 0.6,
                mated: false,
                groups: g("x", "x"),
            },
            Pair {
                score: 0.1,
                mated: false,
                groups: g("y", "y"),
            },
            Pair {
                score: 0.9,
                mated: false,
                groups: g("x", "y"),
            },
        ];
        let r = group_rates(&pairs, 0.5);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fnmr, Some(0.5));
        assert_eq!(r[0].fmr, Some(1.0));
        assert_eq!(r[1].fmr, Some(0.0));
        assert_eq!(r[1].fnmr, None);
    }
}
