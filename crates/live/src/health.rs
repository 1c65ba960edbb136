//! One camera's counters and its Recognition Time distribution, for the
//! health it reports through its lease, the console's camera panel and the
//! Prometheus histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;
use vigil_core::camera::CameraCounts;

use crate::ingest::{Stream, StreamState};

/// Counters of one camera's recognition, for health reports and metrics.
#[derive(Default)]
pub struct CameraStats {
    pub frames_processed: AtomicU64,
    pub frames_paused: AtomicU64,
    pub faces: AtomicU64,
    pub faces_over_limit: AtomicU64,
    pub passers_by: AtomicU64,
    pub alerts: AtomicU64,
    pub alert_errors: AtomicU64,
    recognition_times: Mutex<RecognitionTimes>,
}

/// Every Recognition Time of a camera's run in a fixed amount of memory
/// (a camera may run for days): an HDR histogram from 1 ms to an hour at
/// three significant digits, plus the exact sum.
struct RecognitionTimes {
    histogram: Histogram<u64>,
    sum_ms: f64,
}

impl Default for RecognitionTimes {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, RT_HIGHEST_MS, 3)
                .expect("1 ms to an hour at three digits are valid constant bounds"),
            sum_ms: 0.0,
        }
    }
}

/// The longest Recognition Time the histogram tells apart (longer ones
/// count as this).
const RT_HIGHEST_MS: u64 = 60 * 60 * 1000;

impl CameraStats {
    /// Counts one Alert's Recognition Time.
    pub fn record_recognition_time(&self, ms: f64) {
        let mut rt = self
            .recognition_times
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        rt.histogram.saturating_record(ms.round().max(1.0) as u64);
        rt.sum_ms += ms.max(0.0);
    }

    /// The camera's health now: `stream`'s own counters with these.
    pub fn health(&self, stream: &Stream, seconds: f64) -> CameraHealth {
        let (state, last_error) = stream.state();
        let rt = self
            .recognition_times
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let h = &rt.histogram;
        let count = h.len();
        let pick = |q: f64| (count > 0).then(|| h.value_at_quantile(q) as f64);
        let processed = self.frames_processed.load(Ordering::Relaxed);
        CameraHealth {
            counts: CameraCounts {
                camera: stream.config.name.clone(),
                frames_in: stream.stats.frames_in.load(Ordering::Relaxed),
                frames_processed: processed,
                frames_dropped: stream.stats.frames_dropped.load(Ordering::Relaxed),
                reconnects: stream.stats.reconnects.load(Ordering::Relaxed),
                faces: self.faces.load(Ordering::Relaxed),
                passers_by: self.passers_by.load(Ordering::Relaxed),
                alerts: self.alerts.load(Ordering::Relaxed),
                recognition_time_buckets: RT_BUCKETS_MS
                    .iter()
                    .map(|&le| (le, h.count_between(0, le as u64)))
                    .collect(),
                recognition_time_sum_ms: rt.sum_ms,
                recognition_time_count: count,
            },
            state,
            last_error,
            frames_paused: self.frames_paused.load(Ordering::Relaxed),
            faces_over_limit: self.faces_over_limit.load(Ordering::Relaxed),
            processed_fps: processed as f64 / seconds.max(1e-3),
            p50_recognition_time_ms: pick(0.5),
            p95_recognition_time_ms: pick(0.95),
        }
    }
}

/// A camera's health: the counts `/metrics` reads (core's
/// [`CameraCounts`], flattened into the same JSON object) and what the
/// console's camera panel shows besides.
#[derive(Debug, Clone, Serialize)]
pub struct CameraHealth {
    #[serde(flatten)]
    pub counts: CameraCounts,
    pub state: StreamState,
    pub last_error: Option<String>,
    pub frames_paused: u64,
    pub faces_over_limit: u64,
    pub processed_fps: f64,
    pub p50_recognition_time_ms: Option<f64>,
    pub p95_recognition_time_ms: Option<f64>,
}

/// Histogram bounds for Recognition Time: the policy's interest is in
/// seconds (an Operator must see an Alert while the person is still near).
pub const RT_BUCKETS_MS: [f64; 10] = [
    25.0, 50.0, 100.0, 200.0, 350.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognition_times_are_kept_in_bounded_memory_with_their_percentiles() {
        let stats = CameraStats::default();
        {
            let empty = stats.recognition_times.lock().unwrap();
            assert_eq!(
                empty.histogram.count_between(0, 10_000),
                0,
                "no Alert, no counts"
            );
        }
        for ms in 1..=1000 {
            stats.record_recognition_time(f64::from(ms));
        }
        // Far past the histogram's range: counted at its top.
        stats.record_recognition_time(1e9);
        let rt = stats.recognition_times.lock().unwrap();
        let h = &rt.histogram;
        assert_eq!(h.len(), 1001);
        let p50 = h.value_at_quantile(0.5);
        assert!((499..=501).contains(&p50), "{p50}");
        assert!(h.count_between(0, 100) >= 100 && h.count_between(0, 100) <= 101);
        assert!((rt.sum_ms - (500_500.0 + 1e9)).abs() < 1e-3);
    }
}
