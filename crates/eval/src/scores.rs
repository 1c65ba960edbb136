//! Verification error rates from mated and non-mated scores.

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Mated and non-mated comparison scores, each sorted ascending. Stored as
/// `f32` (the precision the templates have) so that every non-mated pair of
/// a set of 10 000 faces fits in a few hundred megabytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scores {
    pub mated: Vec<f32>,
    pub non_mated: Vec<f32>,
}

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub threshold: f64,
    /// Non-mated comparisons at or above the threshold (false matches).
    pub fmr: f64,
    /// Mated comparisons below the threshold (false non-matches).
    pub fnmr: f64,
}

/// The rate at which a proportion estimated from `n` trials stops meaning
/// anything: below about 3/n, zero observed errors is consistent with the
/// true rate (the "rule of three", 95 %).
pub fn resolvable_rate(n: usize) -> f64 {
    if n == 0 {
        1.0
    } else {
        3.0 / n as f64
    }
}

impl Scores {
    pub fn new(mut mated: Vec<f32>, mut non_mated: Vec<f32>) -> Self {
        mated.retain(|s| s.is_finite());
        non_mated.retain(|s| s.is_finite());
        mated.sort_unstable_by(f32::total_cmp);
        non_mated.sort_unstable_by(f32::total_cmp);
        Self { mated, non_mated }
    }

    fn check(&self) -> Result<(), EvalError> {
        if self.mated.is_empty() {
            return Err(EvalError::Empty("mated"));
        }
        if self.non_mated.is_empty() {
            return Err(EvalError::Empty("non-mated"));
        }
        Ok(())
    }

    /// Fraction of non-mated scores >= t.
    pub fn fmr(&self, t: f64) -> f64 {
        at_or_above(&self.non_mated, t)
    }

    /// Fraction of mated scores < t.
    pub fn fnmr(&self, t: f64) -> f64 {
        1.0 - at_or_above(&self.mated, t)
    }

    pub fn point(&self, t: f64) -> Point {
        Point {
            threshold: t,
            fmr: self.fmr(t),
            fnmr: self.fnmr(t),
        }
    }

    /// The ROC/DET from the loosest threshold to the strictest: a point just
    /// above the k-th highest non-mated score for k on a geometric ladder
    /// (every decade of FMR equally dense, down to one pair), and at mated
    /// score quantiles. A few thousand points, whatever the set's size.
    pub fn curve(&self) -> Result<Vec<Point>, EvalError> {
        self.check()?;
        let mut ts: Vec<f64> = vec![f64::NEG_INFINITY, f64::INFINITY];
        let n = self.non_mated.len();
        let mut k = 0usize;
        while k < n {
            ts.push(next_up(f64::from(self.non_mated[n - 1 - k])));
            k = (k + 1).max((k as f64 * 1.02) as usize);
        }
        let m = self.mated.len();
        let step = (m / 2000).max(1);
        ts.extend(self.mated.iter().step_by(step).map(|&s| f64::from(s)));
        ts.push(next_up(f64::from(self.mated[m - 1])));
        ts.sort_by(f64::total_cmp);
        ts.dedup();
        Ok(ts.into_iter().map(|t| self.point(t)).collect())
    }

    /// Equal Error Rate: where FMR and FNMR cross (linear interpolation
    /// between the two curve points that straddle the crossing).
    pub fn eer(&self) -> Result<Point, EvalError> {
        let curve = self.curve()?;
        let mut prev = curve[0];
        for p in curve {
            if p.fnmr >= p.fmr {
                let d_prev = prev.fmr - prev.fnmr;
                let d = p.fnmr - p.fmr;
                let w = if d_prev + d > 0.0 {
                    d_prev / (d_prev + d)
                } else {
                    0.0
                };
                return Ok(Point {
                    threshold: prev.threshold + w * (p.threshold - prev.threshold),
                    fmr: prev.fmr + w * (p.fmr - prev.fmr),
                    fnmr: prev.fnmr + w * (p.fnmr - prev.fnmr),
                });
            }
            prev = p;
        }
        Ok(prev)
    }

    /// The lowest threshold whose measured FMR is <= `target`, with the
    /// True Accept Rate (1 - FNMR) there. `None` when the set holds too few
    /// non-mated pairs to measure that rate (see [`resolvable_rate`]).
    pub fn at_fmr(&self, target: f64) -> Result<Option<Point>, EvalError> {
        self.check()?;
        Ok(self.non_mated_threshold(target).map(|t| self.point(t)))
    }

    /// The lowest threshold whose non-mated rate is at most `target`, from
    /// the non-mated scores alone (no mated scores needed); `None` below what
    /// they resolve.
    pub fn non_mated_threshold(&self, target: f64) -> Option<f64> {
        let n = self.non_mated.len();
        if n == 0 || target < resolvable_rate(n) {
            return None;
        }
        // Allowed false matches: floor(target * n). The threshold sits just
        // above the (allowed+1)-th highest non-mated score.
        let allowed = (target * n as f64).floor() as usize;
        Some(if allowed >= n {
            f64::NEG_INFINITY
        } else {
            next_up(f64::from(self.non_mated[n - 1 - allowed]))
        })
    }
}

fn at_or_above(sorted: &[f32], t: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    count_at_or_above(sorted, t) as f64 / sorted.len() as f64
}

/// How many of the ascending `sorted` scores are `>= t`.
pub fn count_at_or_above(sorted: &[f32], t: f64) -> u64 {
    (sorted.len() - sorted.partition_point(|&s| f64::from(s) < t)) as u64
}

/// The smallest f64 greater than `x`.
pub fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn synthetic(n: usize) -> Scores {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mated = Normal::new(0.7, 0.1).unwrap();
        let non = Normal::new(0.0, 0.1).unwrap();
        Scores::new(
            (0..n).map(|_| mated.sample(&mut rng) as f32).collect(),
            (0..n * 10).map(|_| non.sample(&mut rng) as f32).collect(),
        )
    }

    #[test]
    fn eer_of_two_symmetric_normals_is_at_their_midpoint() {
        // N(0.7, 0.1) vs N(0, 0.1): crossing at 0.35, EER = Phi(-3.5) = 2.3e-4.
        let s = synthetic(200_000);
        let e = s.eer().unwrap();
        assert!((e.threshold - 0.35).abs() < 0.01, "{e:?}");
        assert!((e.fmr - 2.33e-4).abs() < 1e-4, "{e:?}");
    }

    #[test]
    fn threshold_at_fmr_recovers_the_normal_quantile() {
        // FMR 1e-3 on N(0, 0.1): threshold = 0.1 * 3.0902 = 0.309.
        let s = synthetic(100_000);
        let p = s.at_fmr(1e-3).unwrap().unwrap();
        assert!((p.threshold - 0.309).abs() < 0.01, "{p:?}");
        assert!(p.fmr <= 1e-3);
        // TAR there: P(N(0.7, 0.1) >= 0.309) = Phi(3.91) ~ 0.99995.
        assert!(p.fnmr < 1e-3, "{p:?}");
    }

    #[test]
    fn rates_too_small_for_the_set_are_refused_not_guessed() {
        let s = Scores::new(
            vec![0.9, 0.8],
            (0..100).map(|i| i as f32 / 1000.0).collect(),
        );
        assert!(s.at_fmr(1e-3).unwrap().is_none());
        assert!(s.at_fmr(0.05).unwrap().is_some());
    }

    #[test]
    fn fmr_and_fnmr_count_ties_as_matches() {
        let s = Scores::new(vec![0.5, 0.6], vec![0.5, 0.1]);
        assert_eq!(s.fmr(0.5), 0.5);
        assert_eq!(s.fmr(0.5000001), 0.0);
        assert_eq!(s.fnmr(0.5), 0.0);
        assert_eq!(s.fnmr(0.55), 0.5);
    }
}
