//! Calibration: from a target False Alert Rate and a Watchlist size to a
//! Threshold, for one recogniser pack.
//!
//! Live Facial Recognition compares each passer-by with every Watchlist
//! image, so the chance a passer-by raises a false Alert is
//! `1 - (1 - FMR)^N`: the per-comparison rate must shrink as the Watchlist
//! grows. The Threshold for that rate comes from the pack's non-mated score
//! distribution, measured on labelled sets of thousands of people and
//! shipped with the pack (`models/calibration/`). Rates backed by at least
//! [`MEASURED_EVENTS`] false matches are read from the measurement; below
//! that the generalised Pareto tail ([`crate::tail`]) takes over, and below
//! what the sets can resolve at all the answer says it is extrapolated: an
//! estimate to be checked in the field (Blue Watchlist, MET-1).

use serde::{Deserialize, Serialize};

use crate::fairness::FairnessSummary;
use crate::scores::{resolvable_rate, Scores};
use crate::tail::ParetoTail;
use crate::EvalError;

/// False matches a measured rate must rest on.
pub const MEASURED_EVENTS: f64 = 30.0;

/// The grid rates are tabulated on: scores from -0.2 to 1 in steps of
/// 1/400 (finer than the three decimals a Threshold is set to).
const GRID_FROM: f64 = -0.2;
const GRID_STEP: f64 = 0.0025;
const GRID_LEN: usize = 481;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The recogniser pack the scores came from.
    pub pack: String,
    /// Where the scores came from (sets, identities, images, options), and
    /// how this file was made.
    pub source: String,
    pub non_mated_pairs: usize,
    pub mated_pairs: usize,
    /// Thresholds of the table (the grid).
    pub thresholds: Vec<f64>,
    /// Measured FMR (non-mated scores at or above) at each threshold.
    pub fmr: Vec<f64>,
    /// Measured FNMR (mated scores below) at each threshold.
    pub fnmr: Vec<f64>,
    /// The fitted non-mated tail, for rates under the measured floor.
    pub tail: Option<ParetoTail>,
    /// Worst demographic group against the overall rate, when measured.
    #[serde(default)]
    pub fairness: Option<FairnessSummary>,
    /// How well this method predicted FPIR on identities it was not fitted
    /// on (free-form record from `vigil eval --calibrate`).
    #[serde(default)]
    pub validation: Option<serde_json::Value>,
}

/// How a rate or threshold was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Counted on the labelled sets (at least [`MEASURED_EVENTS`] false
    /// matches behind it).
    Measured,
    /// From the fitted tail, inside the range the sets can resolve.
    Modelled,
    /// From the fitted tail beyond anything the sets can resolve.
    Extrapolated,
}

/// What the worst-off demographic group should expect at a Threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupAdvice {
    pub worst_group: String,
    /// Its FMR over the overall FMR.
    pub ratio: f64,
    /// Its expected False Alert Rate per passer-by at this Watchlist size.
    pub false_alert_rate: f64,
    /// False when the ratio was measured only at lower Thresholds and is
    /// held there (the ratio tends to grow with the Threshold).
    pub measured: bool,
    /// Whether every group stays within 2× of the overall rate here.
    pub within_2x: bool,
    /// The measured range of Thresholds where every group stays within 2×.
    pub within_2x_range: Option<(f64, f64)>,
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
    #[serde(default)]
    pub fairness: Option<GroupAdvice>,
}

/// The per-comparison FMR that gives a per-passer-by false Alert rate
/// `far` against `n` Watchlist images.
pub fn per_comparison_rate(far: f64, n: usize) -> f64 {
    let n = n.max(1) as f64;
    // 1 - (1 - far)^(1/n), computed stably for small rates.
    -(f64::ln_1p(-far) / n).exp_m1()
}

/// The per-passer-by rate from a per-comparison rate: `1 - (1 - fmr)^n`.
pub fn per_passer_by_rate(fmr: f64, n: usize) -> f64 {
    -(f64::ln_1p(-fmr.min(1.0 - 1e-16)) * n.max(1) as f64).exp_m1()
}

fn grid(i: usize) -> f64 {
    GRID_FROM + GRID_STEP * i as f64
}

/// Rate of the tail fit's starting point: at least 2 000 scores above it,
/// and no more than a tenth of all of them.
fn tail_rate(n: usize) -> f64 {
    (2000.0 / n.max(1) as f64).clamp(1e-4, 0.1)
}

impl Calibration {
    /// Tabulates `scores` and fits the tail.
    pub fn fit(pack: &str, source: &str, scores: &Scores) -> Result<Self, EvalError> {
        if scores.non_mated.len() < 2 {
            return Err(EvalError::Empty("non-mated"));
        }
        let thresholds: Vec<f64> = (0..GRID_LEN).map(grid).collect();
        Ok(Self {
            pack: pack.into(),
            source: source.into(),
            non_mated_pairs: scores.non_mated.len(),
            mated_pairs: scores.mated.len(),
            fmr: thresholds.iter().map(|&t| scores.fmr(t)).collect(),
            fnmr: thresholds.iter().map(|&t| scores.fnmr(t)).collect(),
            thresholds,
            tail: ParetoTail::fit(&scores.non_mated, tail_rate(scores.non_mated.len())),
            fairness: None,
            validation: None,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, EvalError> {
        let c: Self =
            serde_json::from_str(text).map_err(|e| EvalError::Calibration(e.to_string()))?;
        if c.thresholds.len() < 2
            || c.fmr.len() != c.thresholds.len()
            || c.fnmr.len() != c.thresholds.len()
        {
            return Err(EvalError::Calibration("table lengths differ".into()));
        }
        Ok(c)
    }

    pub fn save(&self, path: &std::path::Path) -> Result<(), EvalError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| EvalError::Calibration(e.to_string()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| EvalError::Calibration(format!("{}: {e}", path.display())))
    }

    /// The lowest rate counted directly.
    pub fn measured_floor(&self) -> f64 {
        MEASURED_EVENTS / self.non_mated_pairs.max(1) as f64
    }

    /// Linear interpolation of a table column at `t`.
    fn table(&self, column: &[f64], t: f64, log: bool) -> f64 {
        let first = self.thresholds[0];
        let step = self.thresholds[1] - first;
        let x = ((t - first) / step).clamp(0.0, (column.len() - 1) as f64);
        let i = (x.floor() as usize).min(column.len() - 2);
        let w = x - i as f64;
        let (a, b) = (column[i], column[i + 1]);
        if log && a > 0.0 && b > 0.0 {
            (a.ln() * (1.0 - w) + b.ln() * w).exp()
        } else {
            a * (1.0 - w) + b * w
        }
    }

    fn method_for(&self, rate: f64) -> Method {
        if rate >= self.measured_floor() {
            Method::Measured
        } else if rate >= resolvable_rate(self.non_mated_pairs) {
            Method::Modelled
        } else {
            Method::Extrapolated
        }
    }

    /// The per-comparison False Match Rate at threshold `t`.
    pub fn false_match_rate(&self, t: f64) -> (f64, Method) {
        let measured = self.table(&self.fmr, t, true);
        if measured >= self.measured_floor() {
            return (measured, Method::Measured);
        }
        match &self.tail {
            Some(tail) if t >= tail.u => {
                let r = tail.rate(t);
                (r, self.method_for(r).max_modelled())
            }
            // Too few scores for a tail: all that can be said is "at most
            // what the set resolves".
            _ => (
                measured.max(resolvable_rate(self.non_mated_pairs)),
                Method::Extrapolated,
            ),
        }
    }

    /// Fraction of mated comparisons under `t`.
    pub fn false_non_match_rate(&self, t: f64) -> f64 {
        self.table(&self.fnmr, t, false)
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
        let (threshold, method) = if fmr >= self.measured_floor() {
            // The first grid point at or under the rate, interpolated in
            // log rate with the one before it.
            let i = self
                .fmr
                .iter()
                .position(|&r| r <= fmr)
                .unwrap_or(self.fmr.len() - 1);
            let t = if i == 0 {
                self.thresholds[0]
            } else {
                let (a, b) = (self.fmr[i - 1], self.fmr[i]);
                let w = if a > b && b > 0.0 {
                    (a.ln() - fmr.ln()) / (a.ln() - b.ln())
                } else {
                    1.0
                };
                self.thresholds[i - 1] + w * (self.thresholds[i] - self.thresholds[i - 1])
            };
            (t, Method::Measured)
        } else {
            let tail = self.tail.as_ref().ok_or(EvalError::Calibration(format!(
                "{} non-mated pairs are too few to fit the tail this rate needs",
                self.non_mated_pairs
            )))?;
            (tail.quantile(fmr), self.method_for(fmr).max_modelled())
        };
        let attainable = threshold <= 1.0;
        let threshold = threshold.min(1.0);
        let fairness = self.fairness.as_ref().and_then(|f| {
            let (group, ratio, measured) = f.worst_at(threshold)?;
            Some(GroupAdvice {
                worst_group: group,
                ratio,
                false_alert_rate: per_passer_by_rate(fmr * ratio, watchlist_size),
                measured,
                within_2x: f
                    .within_2x
                    .is_some_and(|(lo, hi)| threshold >= lo - 1e-9 && threshold <= hi + 1e-9),
                within_2x_range: f.within_2x,
            })
        });
        Ok(ThresholdAdvice {
            attainable,
            false_alert_rate: far,
            watchlist_size,
            false_match_rate: fmr,
            threshold,
            method,
            expected_true_match_rate: (self.mated_pairs > 0)
                .then(|| 1.0 - self.false_non_match_rate(threshold)),
            non_mated_pairs: self.non_mated_pairs,
            mated_pairs: self.mated_pairs,
            fairness,
        })
    }
}

impl Method {
    /// A rate from the tail is never "measured", even above the floor.
    fn max_modelled(self) -> Self {
        match self {
            Method::Measured => Method::Modelled,
            m => m,
        }
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
            (0..n / 10).map(|_| mated.sample(&mut rng) as f32).collect(),
            (0..n).map(|_| non.sample(&mut rng) as f32).collect(),
        );
        Calibration::fit("test", "synthetic N(0.05, 0.1)", &scores).unwrap()
    }

    #[test]
    fn per_comparison_rate_inverts_the_watchlist_rule() {
        let fmr = per_comparison_rate(1e-3, 1000);
        let back = 1.0 - (1.0 - fmr).powf(1000.0);
        assert!((back - 1e-3).abs() < 1e-12);
        assert!((fmr - 1.0005e-6).abs() < 1e-9, "{fmr}");
        assert!((per_passer_by_rate(fmr, 1000) - 1e-3).abs() < 1e-12);
    }

    #[test]
    fn recovers_a_known_threshold_by_measurement() {
        // FAR 1e-3 against one image: FMR 1e-3, threshold 0.05 + 0.1 * 3.0902.
        let c = known(200_000);
        let a = c.threshold_for(1e-3, 1).unwrap();
        assert_eq!(a.method, Method::Measured);
        assert!((a.threshold - 0.359).abs() < 0.005, "{a:?}");
        assert!(a.expected_true_match_rate.unwrap() > 0.99);
        let (fmr, m) = c.false_match_rate(a.threshold);
        assert_eq!(m, Method::Measured);
        assert!((fmr / 1e-3 - 1.0).abs() < 0.1, "{fmr}");
    }

    #[test]
    fn between_the_measured_floor_and_the_resolvable_rate_the_tail_is_modelled() {
        // FMR 1e-4 from 200 000 pairs (30 events need 1.5e-4): 0.05 + 0.1 * 3.719.
        let c = known(200_000);
        let a = c.threshold_for(1e-3, 10).unwrap();
        assert_eq!(a.method, Method::Modelled);
        assert!((a.threshold - 0.422).abs() < 0.01, "{a:?}");
    }

    #[test]
    fn recovers_a_known_threshold_by_extrapolation_and_says_so() {
        // FAR 1e-3 against 1000 images: FMR 1e-6, beyond 1e6 pairs
        // (3e-6); threshold 0.05 + 0.1 * 4.753 = 0.525. (A normal tail is
        // the slowest to take the Pareto form: see `tail`.)
        let c = known(1_000_000);
        let a = c.threshold_for(1e-3, 1000).unwrap();
        assert_eq!(a.method, Method::Extrapolated);
        assert!((a.threshold - 0.525).abs() < 0.015, "{a:?}");
        let (fmr, m) = c.false_match_rate(a.threshold);
        assert_eq!(m, Method::Extrapolated);
        assert!((fmr / a.false_match_rate - 1.0).abs() < 0.01);
    }

    #[test]
    fn bigger_watchlists_need_higher_thresholds() {
        let c = known(200_000);
        let t: Vec<f64> = [1, 10, 100, 1000, 10_000]
            .iter()
            .map(|&n| c.threshold_for(1e-3, n).unwrap().threshold)
            .collect();
        assert!(t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
        assert!(c.threshold_for(0.0, 10).is_err());
        assert!(c.threshold_for(1e-3, 1000).unwrap().attainable);
    }

    #[test]
    fn a_saved_calibration_reads_back_the_same_advice() {
        let c = known(200_000);
        let dir = std::env::temp_dir().join(format!("vigil-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.json");
        c.save(&p).unwrap();
        let back = Calibration::load(&p).unwrap();
        let (a, b) = (
            c.threshold_for(1e-3, 100).unwrap(),
            back.threshold_for(1e-3, 100).unwrap(),
        );
        assert!((a.threshold - b.threshold).abs() < 1e-9);
        assert!(std::fs::metadata(&p).unwrap().len() < 100_000);
        std::fs::remove_dir_all(dir).unwrap();
        assert!(Calibration::parse("{\"pack\": 1}").is_err());
    }

    #[test]
    fn rates_beyond_a_cosine_of_one_are_unattainable() {
        // An exponential tail (mean 0.3 above 0.5) never ends.
        let n = 10_000;
        let scores = Scores::new(
            vec![0.99],
            (0..n)
                .map(|i| 0.5 + 0.3 * -((i as f32 + 0.5) / n as f32).ln())
                .collect(),
        );
        let c = Calibration::fit("t", "high impostor scores", &scores).unwrap();
        let a = c.threshold_for(1e-3, 10_000).unwrap();
        assert!(!a.attainable);
        assert_eq!(a.threshold, 1.0);
    }
}
