//! Identification (1:N), which is what LFR does: a probe searched against a
//! gallery of N enrolled people raises an Alert when any score reaches the
//! Threshold.
//!
//! Rates are computed exactly rather than over random galleries: for a probe
//! with `k` of the `M` candidate people scoring at or above `t`, a gallery
//! of `N` people drawn from them contains at least one such person with
//! probability `1 - C(M-k, N) / C(M, N)` (hypergeometric). Averaging that
//! over probes gives FPIR(N, t) for every N and t from one pass of scoring,
//! with no sampling noise beyond the probes themselves.

use serde::Serialize;
use vigil_core::metrics::wilson_interval;

/// Templates of a labelled set: row `i` of `data` (length `dim`) belongs to
/// `identity[i]`.
pub struct Templates<'a> {
    pub dim: usize,
    pub data: &'a [f32],
    pub identity: &'a [u32],
}

impl Templates<'_> {
    pub fn len(&self) -> usize {
        self.identity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    vigil_core::template::dot(a, b)
}

/// How an identity's enrolled images combine into one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The best score over the enrolled images (what the matcher does).
    Max,
    /// The score against the normalised mean of the enrolled templates.
    Mean,
}

/// One probe's search, reduced to what the rates need.
#[derive(Debug, Clone)]
pub struct Search {
    /// The score against the probe's own enrolled identity, for a mated search.
    pub mate: Option<f32>,
    /// The highest scores against other identities, descending (at most
    /// [`TOP`]).
    pub others: Vec<f32>,
    /// How many other identities could be in the gallery.
    pub candidates: usize,
}

/// Scores kept per probe: enough for any gallery where a false positive is
/// not already near certain.
pub const TOP: usize = 64;

/// Enrols the first `enrol` images (of `members`, in order) of each
/// identity that `enrollable` allows (all when `None`); mated probes are
/// each enrolled identity's images from position `probe_from` on (so that
/// strategies with different `enrol` can be compared on the same probes);
/// every image is also a non-mated probe against the other enrolled
/// identities. Keeping a set out of the gallery (`enrollable` false) makes
/// its people passers-by only, as in LFR.
pub fn searches(
    t: &Templates,
    members: &[usize],
    enrol: usize,
    probe_from: usize,
    combine: Combine,
    enrollable: Option<&[bool]>,
) -> Vec<Search> {
    let enrol = enrol.max(1);
    let mut by_id: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for &i in members {
        by_id.entry(t.identity[i]).or_default().push(i);
    }
    // Gallery entries: (identity, templates to compare with).
    let gallery: Vec<(u32, Vec<Vec<f32>>)> = by_id
        .iter()
        .filter(|(_, imgs)| enrollable.is_none_or(|e| imgs.iter().any(|&i| e[i])))
        .map(|(&id, imgs)| {
            let refs: Vec<Vec<f32>> = imgs
                .iter()
                .take(enrol)
                .map(|&i| t.row(i).to_vec())
                .collect();
            let refs = match combine {
                Combine::Max => refs,
                Combine::Mean => vec![vigil_core::template::unit_mean(
                    refs.iter().map(Vec::as_slice),
                )],
            };
            (id, refs)
        })
        .collect();
    let score = |probe: &[f32], refs: &[Vec<f32>]| -> f32 {
        refs.iter()
            .map(|r| dot(probe, r))
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let mut out = Vec::new();
    for (id, imgs) in &by_id {
        for (pos, &p) in imgs.iter().enumerate() {
            let probe = t.row(p);
            let mut others: Vec<f32> = gallery
                .iter()
                .filter(|(g, _)| g != id)
                .map(|(_, refs)| score(probe, refs))
                .collect();
            let candidates = others.len();
            others.sort_unstable_by(|a, b| b.total_cmp(a));
            others.truncate(TOP);
            // Non-mated search: every image, its own identity left out.
            out.push(Search {
                mate: None,
                others: others.clone(),
                candidates,
            });
            let own = gallery
                .iter()
                .find(|(g, _)| g == id)
                .map(|(_, refs)| score(probe, refs));
            if pos >= probe_from.max(enrol) && own.is_some() {
                out.push(Search {
                    mate: own,
                    others,
                    candidates,
                });
            }
        }
    }
    out
}

/// The comparisons LFR makes, as score lists: every image of `members`
/// against the first enrollable image of every enrolled identity — mated
/// when it is the same identity (and not the enrolled image itself),
/// non-mated otherwise. Unlike all pairs of a set, each person counts once
/// on the gallery side, so people with hundreds of images (LFW has them)
/// do not dominate the rate. This is what a calibration is fitted on.
pub fn comparison_scores(
    t: &Templates,
    members: &[usize],
    enrollable: Option<&[bool]>,
    threads: usize,
) -> crate::Scores {
    let mut first: std::collections::BTreeMap<u32, usize> = Default::default();
    for &i in members {
        if enrollable.is_none_or(|e| e[i]) {
            first.entry(t.identity[i]).or_insert(i);
        }
    }
    let gallery: Vec<(u32, usize)> = first.into_iter().collect();
    let threads = threads.max(1);
    let parts: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let gallery = &gallery;
                s.spawn(move || {
                    let (mut mated, mut non) = (Vec::new(), Vec::new());
                    for &p in members.iter().skip(w).step_by(threads) {
                        let row = t.row(p);
                        for &(id, g) in gallery {
                            if g == p {
                                continue;
                            }
                            let sc = dot(row, t.row(g));
                            if id == t.identity[p] {
                                mated.push(sc);
                            } else {
                                non.push(sc);
                            }
                        }
                    }
                    (mated, non)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let (mut mated, mut non) = (Vec::new(), Vec::new());
    for (m, n) in parts {
        mated.extend(m);
        non.extend(n);
    }
    crate::Scores::new(mated, non)
}

/// Cohort score normalisation: for each row, the mean of its `k` highest
/// scores against a cohort of rows (other identities only). A face that
/// resembles many people — as faces of a group the recogniser separates
/// poorly do — gets a large offset; subtracting the mean offset of the two
/// faces of a pair ((`Labels::shift` in `pairs`)) lowers exactly those
/// scores, using no label of anyone. Offsets are centred (mean zero) so
/// Thresholds stay comparable.
pub fn cohort_offsets(t: &Templates, cohort: &[usize], k: usize) -> Vec<f32> {
    let mut out: Vec<f32> = (0..t.len())
        .map(|i| {
            let row = t.row(i);
            let mut s: Vec<f32> = cohort
                .iter()
                .filter(|&&c| c != i && t.identity[c] != t.identity[i])
                .map(|&c| dot(row, t.row(c)))
                .collect();
            let k = k.min(s.len()).max(1);
            s.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            s[..k].iter().sum::<f32>() / k as f32
        })
        .collect();
    let mean = out.iter().sum::<f32>() / out.len().max(1) as f32;
    out.iter_mut().for_each(|x| *x -= mean);
    out
}

/// ln C(a, b).
fn ln_choose(a: f64, b: f64) -> f64 {
    libm::lgamma(a + 1.0) - libm::lgamma(b + 1.0) - libm::lgamma(a - b + 1.0)
}

/// Probability that a gallery of `n` drawn from `m` candidates, `k` of them
/// "hits", holds at least one hit.
pub fn any_hit(m: usize, k: usize, n: usize) -> f64 {
    if k == 0 || n == 0 {
        return 0.0;
    }
    if n > m - k.min(m) {
        return 1.0;
    }
    let (m, k, n) = (m as f64, k as f64, n as f64);
    1.0 - (ln_choose(m - k, n) - ln_choose(m, n)).exp()
}

fn count_at_or_above(desc: &[f32], t: f64) -> usize {
    desc.partition_point(|&s| f64::from(s) >= t)
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentResult {
    pub gallery_size: usize,
    pub threshold: f64,
    pub mated_searches: usize,
    pub non_mated_searches: usize,
    pub fnir: Option<f64>,
    pub fpir: Option<f64>,
    pub fpir_ci95: Option<(f64, f64)>,
    /// `1 - (1 - FMR(t))^N` from the calibration.
    pub fpir_predicted: f64,
}

/// FPIR over the non-mated searches at gallery size `n`.
pub fn fpir(searches: &[Search], n: usize, t: f64) -> (f64, usize) {
    let mut sum = 0.0;
    let mut count = 0usize;
    for s in searches.iter().filter(|s| s.mate.is_none()) {
        if s.candidates < n {
            continue;
        }
        sum += any_hit(s.candidates, count_at_or_above(&s.others, t), n);
        count += 1;
    }
    (
        if count > 0 {
            sum / count as f64
        } else {
            f64::NAN
        },
        count,
    )
}

/// FNIR over the mated searches at gallery size `n` (the mate plus `n - 1`
/// others): a miss when the mate scores under `t` or another person
/// outscores it.
pub fn fnir(searches: &[Search], n: usize, t: f64) -> (f64, usize) {
    let mut sum = 0.0;
    let mut count = 0usize;
    for s in searches {
        let Some(mate) = s.mate else { continue };
        if s.candidates + 1 < n {
            continue;
        }
        count += 1;
        if f64::from(mate) < t {
            sum += 1.0;
        } else {
            let above = s.others.partition_point(|&o| o > mate);
            sum += any_hit(s.candidates, above, n - 1);
        }
    }
    (
        if count > 0 {
            sum / count as f64
        } else {
            f64::NAN
        },
        count,
    )
}

/// The lowest threshold whose FPIR at `n` is at most `target` (bisection:
/// FPIR falls as the threshold rises).
pub fn threshold_for_fpir(searches: &[Search], n: usize, target: f64) -> f64 {
    // Bounds from the scores themselves: fused or unnormalised scores are
    // not confined to [-1, 1].
    let (mut lo, mut hi) = searches
        .iter()
        .flat_map(|s| s.others.iter().chain(s.mate.iter()))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(f64::from(x)), hi.max(f64::from(x)))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return f64::INFINITY;
    }
    lo -= 1e-6;
    hi = super::scores::next_up(hi);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if fpir(searches, n, mid).0 > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

pub fn identification(
    searches: &[Search],
    n: usize,
    threshold: f64,
    fmr_at_threshold: f64,
) -> IdentResult {
    let (fp, non) = fpir(searches, n, threshold);
    let (fnr, mated) = fnir(searches, n, threshold);
    IdentResult {
        gallery_size: n,
        threshold,
        mated_searches: mated,
        non_mated_searches: non,
        fnir: (mated > 0).then_some(fnr),
        fpir: (non > 0).then_some(fp),
        fpir_ci95: (non > 0)
            .then(|| wilson_interval((fp * non as f64).round() as u64, non as u64))
            .flatten(),
        fpir_predicted: 1.0 - (1.0 - fmr_at_threshold).powf(n as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_any_hit_matches_counting() {
        // 5 candidates, 2 hits, galleries of 2: C(3,2)/C(5,2) = 3/10 miss both.
        assert!((any_hit(5, 2, 2) - 0.7).abs() < 1e-12);
        assert_eq!(any_hit(5, 0, 3), 0.0);
        assert_eq!(any_hit(5, 4, 2), 1.0);
        // One hit among m: n/m.
        assert!((any_hit(1000, 1, 10) - 0.01).abs() < 1e-12);
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn rates_on_a_tiny_set_agree_with_hand_counts() {
        // Identity 0 has two images close together; 1 and 2 are far apart,
        // but 2 resembles 0 a little.
        let rows = [
            unit(&[1.0, 0.0, 0.0]),
            unit(&[0.9, 0.1, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.5, 0.0, 0.8]),
        ];
        let data: Vec<f32> = rows.concat();
        let identity = [0u32, 0, 1, 2];
        let t = Templates {
            dim: 3,
            data: &data,
            identity: &identity,
        };
        let s = searches(&t, &[0, 1, 2, 3], 1, 1, Combine::Max, None);
        assert_eq!(s.iter().filter(|s| s.mate.is_some()).count(), 1);
        assert_eq!(s.iter().filter(|s| s.mate.is_none()).count(), 4);
        // At 0.5, images 0 and 1 against identity 2 (0.530, 0.527) and
        // image 3 against identity 0 (0.530) cross: three probes each see
        // 1 hit of 2 candidates, a gallery of 1 holds it half the time, so
        // FPIR = 3 * 0.5 / 4.
        let (fp, n) = fpir(&s, 1, 0.5);
        assert_eq!(n, 4);
        assert!((fp - 0.375).abs() < 1e-9, "{fp}");
        // A gallery of both other people always holds the hit.
        assert!((fpir(&s, 2, 0.5).0 - 0.75).abs() < 1e-9);
        // The mate (0.99) beats everyone: no miss until the threshold passes it.
        assert_eq!(fnir(&s, 3, 0.5).0, 0.0);
        assert_eq!(fnir(&s, 3, 0.999).0, 1.0);
        let t99 = threshold_for_fpir(&s, 1, 0.0);
        assert!(t99 > 0.529 && t99 < 0.531, "{t99}");

        // With identity 2 kept out of the gallery, image 3 is a passer-by
        // against identities 0 and 1 only.
        let e = [true, true, true, false];
        let s = searches(&t, &[0, 1, 2, 3], 1, 1, Combine::Max, Some(&e));
        assert!(s.iter().all(|x| x.candidates <= 2));
        let passer_by = s.iter().filter(|x| x.candidates == 2).count();
        assert_eq!(passer_by, 1, "only image 3 sees both enrolled people");

        // Comparisons: identity 0 enrolled by image 0, 1 by image 2. Image 1
        // is mated with image 0; 0-2, 1-2, 2-0, 3-0, 3-2 are non-mated.
        let c = comparison_scores(&t, &[0, 1, 2, 3], Some(&e), 2);
        assert_eq!(c.mated.len(), 1);
        assert_eq!(c.non_mated.len(), 5);
    }
}

/// How a Recognition Opportunity's looks become a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackRule {
    /// Its first look alone.
    OneLook,
    /// Any single look reaching the Threshold (each look searched alone).
    AnyLook,
    /// Each time a look arrives, the fused template of the looks so far
    /// (`vigil_core::opportunity::Looks`, what the live pipeline does).
    Fused,
    /// One decision, on the fused template of all the looks (as if the
    /// Alert waited for the track to end).
    FusedOnce,
}

/// Searches by Recognition Opportunities instead of single images: each
/// track (an identity and the rows of its looks, in arrival order) is
/// searched against a gallery of one row per identity, under `rule`.
/// Every track is a non-mated search against the others; a track whose
/// identity is enrolled is also a mated search. The score against an
/// identity is the best over the track's decisions.
pub fn track_searches(
    t: &Templates,
    gallery: &[(u32, usize)],
    tracks: &[(u32, Vec<usize>)],
    rule: TrackRule,
) -> Vec<Search> {
    let mut out = Vec::new();
    for (id, looks) in tracks {
        let probes: Vec<Vec<f32>> = match rule {
            TrackRule::OneLook => looks
                .first()
                .map(|&i| t.row(i).to_vec())
                .into_iter()
                .collect(),
            TrackRule::AnyLook => looks.iter().map(|&i| t.row(i).to_vec()).collect(),
            TrackRule::Fused | TrackRule::FusedOnce => {
                // The template judged after each look, as the live matcher
                // fuses them.
                let mut fused = vigil_core::opportunity::Looks::default();
                let mut each: Vec<Vec<f32>> = looks
                    .iter()
                    .filter_map(|&i| {
                        let look = vigil_core::Template::from_raw("eval", t.row(i)).ok()?;
                        fused.add(1.0, look).ok().map(|f| f.vector)
                    })
                    .collect();
                if rule == TrackRule::FusedOnce {
                    each.drain(..each.len().saturating_sub(1));
                }
                each
            }
        };
        if probes.is_empty() {
            continue;
        }
        let score = |g: usize| {
            probes
                .iter()
                .map(|p| dot(p, t.row(g)))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        let mut others: Vec<f32> = gallery
            .iter()
            .filter(|(g, _)| g != id)
            .map(|&(_, g)| score(g))
            .collect();
        let candidates = others.len();
        others.sort_unstable_by(|a, b| b.total_cmp(a));
        others.truncate(TOP);
        let mate = gallery
            .iter()
            .find(|(g, _)| g == id)
            .map(|&(_, g)| score(g));
        out.push(Search {
            mate: None,
            others: others.clone(),
            candidates,
        });
        if mate.is_some() {
            out.push(Search {
                mate,
                others,
                candidates,
            });
        }
    }
    out
}

#[cfg(test)]
mod track_tests {
    use super::*;

    #[test]
    fn fused_looks_find_a_mate_that_no_single_look_reaches() {
        // Identity 1 enrolled at [1, 0, 0]; its two looks each lean away
        // in opposite directions, so each alone scores 0.6 but their mean
        // points straight at the reference.
        let data = vec![
            1.0, 0.0, 0.0, // 0: identity 1, enrolled
            0.0, 1.0, 0.0, // 1: identity 2, enrolled
            0.6, 0.8, 0.0, // 2: identity 1, look 1
            0.6, -0.8, 0.0, // 3: identity 1, look 2
        ];
        let identity = [1, 2, 1, 1];
        let t = Templates {
            dim: 3,
            data: &data,
            identity: &identity,
        };
        let gallery = [(1, 0), (2, 1)];
        let tracks = [(1, vec![2, 3])];
        let mate = |rule| {
            track_searches(&t, &gallery, &tracks, rule)
                .iter()
                .find_map(|s| s.mate)
                .unwrap()
        };
        assert!((mate(TrackRule::OneLook) - 0.6).abs() < 1e-6);
        assert!((mate(TrackRule::AnyLook) - 0.6).abs() < 1e-6);
        assert!((mate(TrackRule::Fused) - 1.0).abs() < 1e-6);
        assert!((mate(TrackRule::FusedOnce) - 1.0).abs() < 1e-6);
        // The non-mated side: the best look against identity 2 (0.8) is
        // what any-look decides on; the fused template scores 0.8 then 0.
        let non = |rule| {
            track_searches(&t, &gallery, &tracks, rule)
                .iter()
                .find(|s| s.mate.is_none())
                .unwrap()
                .others[0]
        };
        assert!((non(TrackRule::AnyLook) - 0.8).abs() < 1e-6);
        assert!(
            (non(TrackRule::Fused) - 0.8).abs() < 1e-6,
            "its first decision"
        );
        assert!(non(TrackRule::FusedOnce).abs() < 1e-6, "only the last");
    }
}
