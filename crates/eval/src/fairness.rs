//! False matches within demographic groups (policy §10.13–10.14).
//!
//! A false match between two different people of the same group is the
//! case that matters for LFR: a passer-by is compared with Watchlist
//! subjects, and the highest impostor scores come from people who look
//! alike, most often of the same sex and ethnicity. So each group's FMR is
//! measured on pairs inside the group, against the set's overall FMR at the
//! same Threshold. The labels are for measurement only; nothing here is
//! used to treat anyone differently.

use serde::{Deserialize, Serialize};
use vigil_core::metrics::wilson_interval;

use crate::scores::{count_at_or_above, Scores};

/// A group's non-mated (and, where the set has them, mated) scores.
pub struct GroupScores {
    pub group: String,
    pub scores: Scores,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRate {
    pub group: String,
    pub non_mated_pairs: usize,
    pub false_matches: u64,
    pub fmr: f64,
    pub fmr_ci95: Option<(f64, f64)>,
    /// `fmr` over the overall FMR at the same Threshold.
    pub ratio: Option<f64>,
    pub mated_pairs: usize,
    pub fnmr: Option<f64>,
    pub fnmr_ci95: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FairnessRow {
    pub threshold: f64,
    pub overall_fmr: f64,
    pub overall_false_matches: u64,
    pub groups: Vec<GroupRate>,
    /// The group with the highest FMR, and its ratio to the overall rate;
    /// `None` where too few false matches exist to say (under
    /// [`MIN_EVENTS`] overall).
    pub worst: Option<(String, f64)>,
}

/// False matches the overall rate needs before a ratio is taken as
/// measured, and the lowest overall rate at which it is. Both high, because
/// a set of "one image per person" that repeats some people unlabelled
/// (UTKFace does) fills its highest scores with those repeats, all of them
/// inside one group; where genuine false matches are at least 1 in 10 000
/// pairs and number hundreds, the repeats are a minority.
pub const MIN_EVENTS: u64 = 300;
pub const MIN_RATE: f64 = 1e-4;

pub fn rows(overall: &Scores, groups: &[GroupScores], thresholds: &[f64]) -> Vec<FairnessRow> {
    thresholds
        .iter()
        .map(|&t| {
            let n = overall.non_mated.len() as u64;
            let hits = count_at_or_above(&overall.non_mated, t);
            let overall_fmr = if n > 0 { hits as f64 / n as f64 } else { 0.0 };
            let measurable = hits >= MIN_EVENTS && overall_fmr >= MIN_RATE;
            let groups: Vec<GroupRate> = groups
                .iter()
                .map(|g| {
                    let gn = g.scores.non_mated.len() as u64;
                    let gh = count_at_or_above(&g.scores.non_mated, t);
                    let fmr = if gn > 0 { gh as f64 / gn as f64 } else { 0.0 };
                    let m = g.scores.mated.len() as u64;
                    let miss = m - count_at_or_above(&g.scores.mated, t);
                    GroupRate {
                        group: g.group.clone(),
                        non_mated_pairs: gn as usize,
                        false_matches: gh,
                        fmr,
                        fmr_ci95: wilson_interval(gh, gn),
                        ratio: (measurable && gn > 0).then(|| fmr / overall_fmr),
                        mated_pairs: m as usize,
                        fnmr: (m > 0).then(|| miss as f64 / m as f64),
                        fnmr_ci95: wilson_interval(miss, m),
                    }
                })
                .collect();
            let worst = groups
                .iter()
                .filter_map(|g| g.ratio.map(|r| (g.group.clone(), r)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            FairnessRow {
                threshold: t,
                overall_fmr,
                overall_false_matches: hits,
                groups,
                worst,
            }
        })
        .collect()
}

/// The summary a calibration carries: the worst group's ratio on a grid of
/// Thresholds, and the range where it stays within 2× of the overall rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FairnessSummary {
    /// What the groups were (set and labels), for the record.
    pub source: String,
    pub thresholds: Vec<f64>,
    /// Worst group and its ratio at each threshold (`None`: not measurable).
    pub worst: Vec<Option<(String, f64)>>,
    /// Lowest and highest measured Threshold with every group within 2×
    /// of the overall rate (contiguous from the lowest), if any.
    pub within_2x: Option<(f64, f64)>,
    /// The highest Threshold at which a ratio could be measured.
    pub measured_up_to: Option<f64>,
}

impl FairnessSummary {
    pub fn from_rows(source: &str, rows: &[FairnessRow]) -> Self {
        // The first stretch of measured Thresholds with every group within
        // 2x: it starts at the first such row and a ratio above 2 ends it.
        let mut within: Option<(f64, f64)> = None;
        let mut closed = false;
        let mut measured_up_to = None;
        for r in rows {
            let Some((_, ratio)) = &r.worst else { continue };
            measured_up_to = Some(r.threshold);
            match (*ratio <= 2.0, within) {
                (true, None) => within = Some((r.threshold, r.threshold)),
                (true, Some((lo, _))) if !closed => within = Some((lo, r.threshold)),
                (false, Some(_)) => closed = true,
                _ => {}
            }
        }
        Self {
            source: source.into(),
            thresholds: rows.iter().map(|r| r.threshold).collect(),
            worst: rows.iter().map(|r| r.worst.clone()).collect(),
            within_2x: within,
            measured_up_to,
        }
    }

    /// The worst group and its ratio at `t`: measured at the nearest grid
    /// Threshold at or below `t`, or, above the measured range, held at the
    /// last measured ratio (flagged `false`: the ratio tends to grow with
    /// the Threshold, so this is a lower bound).
    pub fn worst_at(&self, t: f64) -> Option<(String, f64, bool)> {
        let mut best: Option<(String, f64, bool)> = None;
        for (th, w) in self.thresholds.iter().zip(&self.worst) {
            if *th > t + 1e-12 {
                break;
            }
            if let Some((g, r)) = w {
                best = Some((g.clone(), *r, true));
            }
        }
        let last = self.measured_up_to?;
        best.map(|(g, r, _)| (g, r, t <= last + 1e-12))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn a_group_with_a_heavier_tail_is_found_worst_and_bounds_the_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut draw = |sd: f64| -> Vec<f32> {
            let d = Normal::new(0.0, sd).unwrap();
            (0..300_000).map(|_| d.sample(&mut rng) as f32).collect()
        };
        let (ga, gb, gc) = (draw(0.10), draw(0.10), draw(0.13));
        let overall = Scores::new(vec![0.9], [ga.clone(), gb.clone(), gc.clone()].concat());
        let groups: Vec<GroupScores> = [("A", ga), ("B", gb), ("C", gc)]
            .into_iter()
            .map(|(g, s)| GroupScores {
                group: g.into(),
                scores: Scores::new(vec![], s),
            })
            .collect();
        let ts: Vec<f64> = (0..=50).map(|i| f64::from(i) * 0.01).collect();
        let rows = rows(&overall, &groups, &ts);
        // C's tail is heavier: it is the worst group, and its ratio grows
        // with the threshold towards 3 (C holds nearly all false matches).
        let r35 = rows
            .iter()
            .find(|r| (r.threshold - 0.35).abs() < 1e-9)
            .unwrap();
        let (g, ratio) = r35.worst.clone().unwrap();
        assert_eq!(g, "C");
        assert!(ratio > 2.0, "{ratio}");
        let s = FairnessSummary::from_rows("synthetic", &rows);
        let (lo, hi) = s.within_2x.unwrap();
        assert_eq!(lo, 0.0);
        // Ratio 2 where P_C = 2 (P_A + P_B + P_C) / 3 ... between 0.1 and 0.3.
        assert!(hi > 0.1 && hi < 0.3, "{s:?}");
        assert!(s.measured_up_to.unwrap() >= 0.35);
        let (g, r, measured) = s.worst_at(0.9).unwrap();
        assert_eq!(g, "C");
        assert!(r > 2.0 && !measured);
        let (_, _, measured) = s.worst_at(0.2).unwrap();
        assert!(measured);
    }
}
