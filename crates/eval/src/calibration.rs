//! Calibration: from a target False Alert Rate and a Watchlist size to a
//! Threshold, for one recogniser pack.
//!
//! Live Facial Recognition compares each passer-by with every Watchlist
//! image, so the chance a passer-by raises a false Alert is
//! `1 - (1 - FMR)^N`: the per-comparison rate must shrink as the Watchlist
//! grows. The Threshold for that rate comes from the pack's non-mated score
//! distribution, measured on a labelled set. Where the set is too small to
//! measure the rate directly, the tail is extrapolated from a normal fit and
//! the answer says so: it is an estimate to be checked in the field (Blue
//! Watchlist, MET-1), never presented as a measurement.

use serde::{Deserialize, Serialize};

use crate::scores::{resolvable_rate, Scores};
use crate::EvalError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The recogniser pack the scores came from.
    pub pack: String,
    /// What the labelled set was (identities, images, where from).
    pub source: String,
    pub scores: Scores,
    /// Mean and standard deviation of the non-mated scores.
    pub non_mated_mean: f64,
    pub non_mated_sd: f64,
}

/// How a rate or threshold was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Counted on the labelled set.
    Measured,
    /// Beyond what the set can resolve: from the normal fit to the
    /// non-mated scores.
    Extrapolated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdAdvice {
    pub false_alert_rate: f64,
    pub watchlist_size: usize,
    /// The per-comparison False Match Rate that gives that False Alert Rate.
    pub false_match_rate: f64,
    pub threshold: f64,
    pub method: Method,
    /// Fraction of mated comparisons at or above the threshold on the
    /// labelled set (an estimate of True Recognition for good images).
    pub expected_true_match_rate: Option<f64>,
    pub non_mated_pairs: usize,
    pub mated_pairs: usize,
    /// False when the rate needs a threshold above the highest possible
    /// cosine score (1): this recogniser cannot deliver that False Alert
    /// Rate for that Watchlist size, by this calibration.
    pub attainable: bool,
}

/// Standard normal upper tail, P(Z >= z).
pub fn upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// z with P(Z >= z) = p, by bisection (monotone, exact to 1e-12).
pub fn upper_tail_inverse(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0_f64, 40.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if upper_tail(mid) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The per-comparison FMR that gives a per-passer-by false Alert rate
/// `far` against `n` Watchlist images.
pub fn per_comparison_rate(far: f64, n: usize) -> f64 {
    let n = n.max(1) as f64;
    // 1 - (1 - far)^(1/n), computed stably for small rates.
    -(f64::ln_1p(-far) / n).exp_m1()
}

impl Calibration {
    pub fn new(pack: &str, source: &str, scores: Scores) -> Result<Self, EvalError> {
        let n = scores.non_mated.len();
        if n < 2 {
            return Err(EvalError::Empty("non-mated"));
        }
        let mean = scores.non_mated.iter().sum::<f64>() / n as f64;
        let var = scores
            .non_mated
            .iter()
            .map(|s| (s - mean).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        Ok(Self {
            pack: pack.into(),
            source: source.into(),
            scores,
            non_mated_mean: mean,
            non_mated_sd: var.sqrt(),
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))
    }

    pub fn save(&self, path: &std::path::Path) -> Result<(), EvalError> {
        let text =
            serde_json::to_string(self).map_err(|e| EvalError::Calibration(e.to_string()))?;
        std::fs::write(path, text)
            .map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))
    }

    fn resolvable(&self) -> f64 {
        resolvable_rate(self.scores.non_mated.len())
    }

    /// The per-comparison False Match Rate at threshold `t`.
    pub fn false_match_rate(&self, t: f64) -> (f64, Method) {
        let measured = self.scores.fmr(t);
        if measured >= self.resolvable() {
            (measured, Method::Measured)
        } else {
            let z = (t - self.non_mated_mean) / self.non_mated_sd;
            (upper_tail(z), Method::Extrapolated)
        }
    }

    /// The Threshold for a per-passer-by False Alert Rate `far` with
    /// `watchlist_size` images.
    pub fn threshold_for(
        &self,
        far: f64,
        watchlist_size: usize,
    ) -> Result<ThresholdAdvice, EvalError> {
        if !(far > 0.0 && far < 1.0) {
            return Err(EvalError::BadRate(far));
        }
        let fmr = per_comparison_rate(far, watchlist_size);
        let (threshold, method) = match self.scores.at_fmr(fmr)? {
            Some(p) => (p.threshold, Method::Measured),
            None => (
                self.non_mated_mean + self.non_mated_sd * upper_tail_inverse(fmr),
                Method::Extrapolated,
            ),
        };
        let attainable = threshold <= 1.0;
        let threshold = threshold.min(1.0);
        Ok(ThresholdAdvice {
            attainable,
            false_alert_rate: far,
            watchlist_size,
            false_match_rate: fmr,
            threshold,
            method,
            expected_true_match_rate: (!self.scores.mated.is_empty())
                .then(|| 1.0 - self.scores.fnmr(threshold)),
            non_mated_pairs: self.scores.non_mated.len(),
            mated_pairs: self.scores.mated.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn known(n: usize) -> Calibration {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let non = Normal::new(0.05, 0.1).unwrap();
        let mated = Normal::new(0.7, 0.08).unwrap();
        let scores = Scores::new(
            (0..n / 10).map(|_| mated.sample(&mut rng)).collect(),
            (0..n).map(|_| non.sample(&mut rng)).collect(),
        );
        Calibration::new("test", "synthetic N(0.05, 0.1)", scores).unwrap()
    }

    #[test]
    fn normal_tail_functions_invert_each_other() {
        assert!((upper_tail(0.0) - 0.5).abs() < 1e-12);
        assert!((upper_tail(3.090_232) - 1e-3).abs() < 1e-8);
        for p in [0.4, 1e-3, 1e-6, 1e-9] {
            assert!((upper_tail(upper_tail_inverse(p)) / p - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn per_comparison_rate_inverts_the_watchlist_rule() {
        let fmr = per_comparison_rate(1e-3, 1000);
        let back = 1.0 - (1.0 - fmr).powf(1000.0);
        assert!((back - 1e-3).abs() < 1e-12);
        assert!((fmr - 1.0005e-6).abs() < 1e-9, "{fmr}");
    }

    #[test]
    fn recovers_a_known_threshold_by_measurement() {
        // FAR 1e-3 against one image: FMR 1e-3, threshold 0.05 + 0.1 * 3.0902.
        let c = known(200_000);
        let a = c.threshold_for(1e-3, 1).unwrap();
        assert_eq!(a.method, Method::Measured);
        assert!((a.threshold - 0.359).abs() < 0.01, "{a:?}");
        assert!(a.expected_true_match_rate.unwrap() > 0.99);
    }

    #[test]
    fn recovers_a_known_threshold_by_extrapolation_and_says_so() {
        // FAR 1e-3 against 1000 images: FMR 1e-6, beyond 20 000 pairs;
        // threshold 0.05 + 0.1 * 4.753 = 0.525.
        let c = known(20_000);
        let a = c.threshold_for(1e-3, 1000).unwrap();
        assert_eq!(a.method, Method::Extrapolated);
        assert!((a.threshold - 0.525).abs() < 0.01, "{a:?}");
        let (fmr, m) = c.false_match_rate(a.threshold);
        assert_eq!(m, Method::Extrapolated);
        assert!((fmr / a.false_match_rate - 1.0).abs() < 0.01);
    }

    #[test]
    fn bigger_watchlists_need_higher_thresholds() {
        let c = known(20_000);
        let t: Vec<f64> = [1, 10, 100, 1000]
            .iter()
            .map(|&n| c.threshold_for(1e-3, n).unwrap().threshold)
            .collect();
        assert!(t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
        assert!(c.threshold_for(0.0, 10).is_err());
        assert!(c.threshold_for(1e-3, 1000).unwrap().attainable);
    }

    #[test]
    fn rates_beyond_a_cosine_of_one_are_unattainable() {
        let scores = Scores::new(
            vec![0.99],
            (0..1000).map(|i| 0.9 + i as f64 * 5e-5).collect(),
        );
        let c = Calibration::new("t", "high impostor scores", scores).unwrap();
        let a = c.threshold_for(1e-3, 10_000).unwrap();
        assert!(!a.attainable);
        assert_eq!(a.threshold, 1.0);
    }
}
