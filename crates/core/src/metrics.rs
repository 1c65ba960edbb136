//! Deployment metrics [000 §13; MET-1, MET-2].

/// True Recognition Rate: Blue Watchlist passes recognised / passes made.
pub fn true_recognition_rate(recognised: u64, passes: u64) -> Option<f64> {
    (passes > 0).then(|| recognised as f64 / passes as f64)
}

/// False Alert Rate: false alerts / passers-by (the number of Recognition
/// Opportunities), as the policy defines it.
pub fn false_alert_rate(false_alerts: u64, passers_by: u64) -> Option<f64> {
    (passers_by > 0).then(|| false_alerts as f64 / passers_by as f64)
}

/// The policy's warning level: more than 1 false alert in 1000 passers-by.
pub const FAR_WARNING: f64 = 1.0 / 1000.0;

/// Whether the evidence says the False Alert Rate is above the warning
/// level: the lower end of its 95 % Wilson interval is, not merely the
/// point estimate. One False Alert among a few hundred passers-by is an
/// estimate of 1/300 but no evidence yet; Silver is told when it is.
pub fn far_exceeds_warning(false_alerts: u64, passers_by: u64) -> bool {
    wilson_interval(false_alerts, passers_by).is_some_and(|(lo, _)| lo > FAR_WARNING)
}

/// The `q` quantile (0 to 1) of values sorted ascending, by nearest rank:
/// the smallest value with at least a share `q` of the values at or under
/// it. The one formula for every percentile Vigil reports (health, stats,
/// benchmarks), so one set of timings never gives two p95s.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Mean and 95th percentile (nearest rank) of Recognition Times in ms.
pub fn recognition_time_summary(times_ms: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = times_ms.to_vec();
    v.sort_by(f64::total_cmp);
    let p95 = percentile(&v, 0.95)?;
    Some((v.iter().sum::<f64>() / v.len() as f64, p95))
}

/// Wilson score interval (95 %) for a proportion, for TRR from a small
/// number of Blue Watchlist passes.
pub fn wilson_interval(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let n = trials as f64;
    let p = successes as f64 / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(true_recognition_rate(9, 10), Some(0.9));
        assert_eq!(true_recognition_rate(0, 0), None);
        assert_eq!(false_alert_rate(1, 4000), Some(0.00025));
        assert!(!far_exceeds_warning(1, 1000));
        // Point estimate 2/1000 is above 1/1000, but not yet the evidence.
        assert!(!far_exceeds_warning(2, 1000));
        assert!(!far_exceeds_warning(2, 1500));
        // 10 in 1500: the interval's lower end (3.6e-3) is above it.
        assert!(far_exceeds_warning(10, 1500));
        assert!(far_exceeds_warning(1, 100));
        assert!(!far_exceeds_warning(5, 0));
    }

    #[test]
    fn recognition_time_mean_and_p95() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let (mean, p95) = recognition_time_summary(&v).unwrap();
        assert!((mean - 50.5).abs() < 1e-9);
        assert_eq!(p95, 95.0);
        assert_eq!(recognition_time_summary(&[]), None);
        assert_eq!(recognition_time_summary(&[7.0]), Some((7.0, 7.0)));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(5.0));
        assert_eq!(percentile(&v, 0.95), Some(10.0));
        assert_eq!(percentile(&v, 0.9), Some(9.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(10.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn wilson_interval_contains_the_estimate_and_narrows_with_n() {
        let (lo, hi) = wilson_interval(9, 10).unwrap();
        assert!(lo < 0.9 && 0.9 < hi && hi <= 1.0);
        let (lo2, hi2) = wilson_interval(900, 1000).unwrap();
        assert!(hi2 - lo2 < hi - lo);
        // Known value: 9/10 -> (0.5958, 0.9821)
        assert!(
            (lo - 0.5958).abs() < 1e-3 && (hi - 0.9821).abs() < 1e-3,
            "{lo} {hi}"
        );
    }
}
